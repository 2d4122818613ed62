-- test_agreement.lua: the agreement experiment end to end on the synthetic grammar (tiny:
-- a few seconds), then its inspection mode on the saved model. Not an accuracy benchmark:
-- the real-data results are in the README and docs/agreement.md.
local loom = require "loom"

local bin = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
local script = PROJECT_DIR .. "/scripts/experiments/agreement.lua"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p '" .. dir .. "'")

local function run(args)
  local cmd = string.format("cd '%s' && LOOM_DB='%s/runs.db' '%s' run --quiet '%s' %s 2>&1", dir, dir,
    bin, script, args)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local model_path

test("trains on synthetic sentences, reports by attractors, saves the best model", function()
  local out, code = run("data=synthetic quick=true max_train=800 epochs=2 hidden=16 embed=16")
  equal(code, 0, "exit status\n" .. out)
  check(out:find("1 attractor", 1, true), "the table has a row per attractor count:\n%s", out)
  check(out:find("P(plural verb)", 1, true), "word-by-word section printed")
  model_path = out:match("model%s+(%S+best%.safetensors)")
  check(model_path, "the result names the checkpoint:\n%s", out)
  local tensors, meta = loom.load(model_path)
  check(tensors, "the checkpoint loads: %s", tostring(meta))
  check(tensors["rnn.weight_ih_l0"], "LSTM weights under PyTorch names")
  equal(tensors["rnn.weight_ih_l0"]:rows(), 64, "4H rows (gates i, f, g, o)")
  local vocab = loom.text.vocab_from_string(meta.vocab)
  equal(vocab.itos[1], "<pad>", "the vocabulary travels with the model")
end)

test("predict mode prints one VBZ/VBP per prefix and explains each word", function()
  if not model_path then skip("needs the model of the previous test") end
  local prefixes = dir .. "/prefixes.txt"
  local f = assert(io.open(prefixes, "w"))
  f:write("the keys to the cabinet\nthe key near the cabinets\n\nVBZ\tthe dog\n")
  f:close()
  local out, code = run(string.format("predict='%s' model='%s'", prefixes, model_path))
  equal(code, 0, "exit status\n" .. out)
  local labels = {}
  for label in out:gmatch("\n?(VB[ZP])\n") do labels[#labels + 1] = label end
  equal(#labels, 3, "one label per non-empty line (a leading VBZ<TAB> is dropped)\n" .. out)
  check(out:find("P(plural)", 1, true), "word-by-word probabilities")
  -- |c| and the forget gate come from the fused layer: they equal a cell stepped by hand
  local tensors, meta = loom.load(model_path)
  local vocab = loom.text.vocab_from_string(meta.vocab)
  local H = tensors["rnn.weight_hh_l0"]:cols()
  local cell = loom.nn.LSTMCell(tensors["rnn.weight_ih_l0"]:cols(), H)
  cell:load_state_dict{weight_ih = tensors["rnn.weight_ih_l0"], weight_hh = tensors["rnn.weight_hh_l0"],
    bias_ih = tensors["rnn.bias_ih_l0"], bias_hh = tensors["rnn.bias_hh_l0"]}
  local words = loom.text.tokenize("the keys to the cabinet")
  local h, c
  for _, id in ipairs(vocab:encode(words)) do
    h, c = cell:forward(tensors["embed.weight"]:row(id), {h = h, c = c})
    h, c = h:copy(), c:copy()
  end
  local forget = cell:gates():slice(1, 1, H + 1, 2 * H):mean()
  local want = string.format("cabinet%%s+P%%(plural%%) %%S+%%s+|h| %%S+%%s+|c|%%s+%s%%s+forget %s",
    string.format("%.3f", c:norm()):gsub("%.", "%%."), string.format("%.3f", forget):gsub("%.", "%%."))
  check(out:find(want), "the last word's |c| %.3f and forget %.3f in:\n%s", c:norm(), forget, out)
end)

test("an unknown cell is an error naming the valid ones", function()
  local out, code = run("data=synthetic quick=true max_train=50 epochs=1 cell=lstmx")
  check(code ~= 0, "fails")
  check(out:find("param cell must be lstm, gru or rnn, got 'lstmx'", 1, true), "message:\n%s", out)
end)

test("a missing model is an error that says what to give", function()
  local out, code = run("predict=/nonexistent")
  check(code ~= 0, "fails")
  check(out:find("predict=FILE needs model=PATH", 1, true), "message:\n%s", out)
end)

os.execute("rm -rf '" .. dir .. "'")
