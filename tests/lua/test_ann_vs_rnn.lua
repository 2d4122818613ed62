-- test_ann_vs_rnn.lua: the claim of scripts/experiments/ann_vs_rnn.lua on a small seed-fixed
-- setting: trained on parity of lengths 1..L, the RNN and the LSTM stay right on lengths up to
-- 4L and the MLP over a window of L bits falls to chance there, though it fits the lengths it saw.
local E = dofile(TEST_DIR .. "/experiment_helpers.lua")

test("recurrent models carry parity past the training lengths, the windowed MLP does not", function()
  local r, lines, dir = E.run("ann_vs_rnn.lua", {quick = true, L = 8, steps = 1000, eval = 100})
  local w = E.png_size(dir .. "/accuracy_by_length.png")
  E.cleanup(dir)
  for _, m in ipairs{"RNN", "LSTM", "MLP"} do
    check(r["seen_" .. m] > 0.95, "%s on trained lengths: %g", m, r["seen_" .. m])
  end
  check(r.unseen_RNN > 0.9 and r.unseen_LSTM > 0.9, "unseen lengths: RNN %g, LSTM %g", r.unseen_RNN, r.unseen_LSTM)
  check(r.unseen_MLP < 0.65, "the MLP at chance on unseen lengths: %g", r.unseen_MLP)
  local conclusion = E.line(lines, "=> on lengths 9..32, longer than any seen in training:")
  check(conclusion and conclusion:find("RNN and LSTM carry the parity through their loop; MLP does not.", 1, true),
    "conclusion: %s", tostring(conclusion))
  if require("loom.runs.plot").available() then check(w == 900, "the accuracy plot is drawn (width %s)", tostring(w)) end
end)

test("the MLP's window: right-aligned +-1 bits, zeros before a short sequence, the first bits dropped past W", function()
  -- 2 sequences of 3 steps, time-major: sequence 1 is 1 0 1, sequence 2 is 0 0 1
  local X = require("loom").matrix{{0, 1}, {1, 0}, {1, 0}, {1, 0}, {0, 1}, {0, 1}}
  local e = assert(require("loom.experiment").load(PROJECT_DIR .. "/scripts/experiments/ann_vs_rnn.lua"))
  local window = e.window
  check(window, "the experiment exposes window for tests")
  check(window(X, 3, 2, 4):allclose(require("loom").matrix{{0, 1, -1, 1}, {0, -1, -1, 1}}, 0, 0), "W > T pads on the left")
  check(window(X, 3, 2, 2):allclose(require("loom").matrix{{-1, 1}, {-1, 1}}, 0, 0), "W < T keeps the last W bits")
end)

test("the demo tour runs ann_vs_rnn", function()
  local f = assert(io.open(PROJECT_DIR .. "/scripts/demo.sh"))
  local text = f:read("a")
  f:close()
  check(text:match("for experiment in [^;\n]*ann_vs_rnn"), "ann_vs_rnn in demo.sh's tour")
end)
