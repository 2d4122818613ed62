-- test_translation.lua: the translation experiment end to end on a tiny pair file (a few
-- seconds) and on SCAN's quick setting's data path, and plot.heatmap. Not an accuracy
-- benchmark: measured numbers are in docs/translation.md.
local plot = require "loom.runs.plot"

local run, dir, bin, script = dofile(TEST_DIR .. "/experiment_helpers.lua").cli("translation.lua")

local function write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

-- Reverse a word sequence, upper-cased: learnable in a few epochs by an attention model.
local function pair_file(path, n, tab)
  local words, lines = {"a", "b", "c", "d"}, {}
  for i = 1, n do
    local src, tgt = {}, {}
    for j = 1, 1 + i % 4 do src[j] = words[1 + (i * 7 + j * 3) % 4] end
    for j = #src, 1, -1 do tgt[#tgt + 1] = src[j]:upper() end
    lines[i] = tab and (table.concat(src, " ") .. "\t" .. table.concat(tgt, " "))
      or ("IN: " .. table.concat(src, " ") .. " OUT: " .. table.concat(tgt, " "))
  end
  write(path, table.concat(lines, "\n") .. "\n")
end

test("train=FILE test=FILE: trains, prints exact match by target length, samples, heatmap", function()
  pair_file(dir .. "/train.txt", 400, false)
  pair_file(dir .. "/test.tsv", 40, true)
  local out, code = run(string.format("train=%s/train.txt test=%s/test.tsv epochs=12 hidden=32 embed=16 attention=dot lr=0.01",
    dir, dir))
  equal(code, 0, "exit status\n" .. out)
  check(out:find("test exact match: ", 1, true), "exact match printed:\n%s", out)
  check(out:find("target length", 1, true), "table by target length")
  check(out:find("test perplexity [%d.]+"), "perplexity:\n%s", out)
  check(out:find("test BLEU [%d.]+, chrF [%d.]+ %(nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp"), "BLEU and chrF:\n%s", out)
  check(out:find("sample translations", 1, true), "samples")
  local exact = tonumber(out:match("test_exact%s+(%S+)"))
  check(exact and exact > 0.5, "the toy reversal is learnt (exact %s):\n%s", tostring(exact), out)
  local heat = out:match("attention_plot%s+(%S+)")
  if plot.available() then
    check(heat and io.open(heat), "the heatmap PNG exists:\n%s", out)
  end
end)

test("attention=none, reverse_source and beam run; bad options are errors", function()
  local out, code = run(string.format("train=%s/train.txt test=%s/test.tsv epochs=1 hidden=8 embed=4 attention=none reverse_source=true beam=3",
    dir, dir))
  equal(code, 0, "exit status\n" .. out)
  check(out:find("beam 3 decoding", 1, true), "beam decoding reported:\n%s", out)
  out, code = run("split=nosuch")
  check(code ~= 0 and out:find("split must be simple, length, addprim_jump or addprim_turn_left, got 'nosuch'", 1, true),
    "unknown split:\n%s", out)
  out, code = run("train=" .. dir .. "/train.txt")
  check(code ~= 0 and out:find("give both train=FILE and test=FILE", 1, true), "half a pair:\n%s", out)
end)

test("the SCAN data the quick setting reads is where the script looks", function()
  local f = assert(io.open(data_dir("scan") .. "/simple_split/tasks_train_simple.txt"))
  local first = f:read("l")
  f:close()
  check(first:match("^IN: .+ OUT: .+$"), "SCAN line format: %s", first)
end)

test("plot.heatmap: PNG of a matrix with labels; ragged rows are an error", function()
  if not plot.available() then skip("gnuplot not installed") end
  local path = dir .. "/heat.png"
  local ok, err = plot.heatmap{output = path, values = {{0.1, 0.9}, {0.6, 0.4}}, xlabels = {"jump", "twice"},
    ylabels = {"I_JUMP", "I_JUMP"}, title = "attention"}
  check(ok, "drawn: %s", tostring(err))
  local f = assert(io.open(path, "rb"))
  equal(f:read(4), "\137PNG", "a PNG file")
  f:close()
  local bad, msg = plot.heatmap{values = {{1, 2}, {3}}}
  equal(bad, nil, "ragged")
  equal(msg, "heatmap: row 2 has 1 values, row 1 has 2", "message")
  local none, msg2 = plot.heatmap{values = {}}
  equal(none, nil, "empty")
  equal(msg2, "heatmap: values must be a non-empty table of rows", "message")
end)

test("units=subwords: sentencepiece models per side, detokenised BLEU; task=bible without its data", function()
  pair_file(dir .. "/train.txt", 400, false)
  pair_file(dir .. "/test.tsv", 40, true)
  local out, code = run(string.format("train=%s/train.txt test=%s/test.tsv units=subwords vocab_size=12 epochs=1 hidden=8 embed=4",
    dir, dir))
  equal(code, 0, "exit status\n" .. out)
  check(out:find("test BLEU [%d.]+, chrF [%d.]+"), "BLEU and chrF:\n%s", out)
  check(out:find("epoch 1: .* BLEU [%d.]+"), "validation BLEU:\n%s", out)
  out, code = run("units=letters")
  check(code ~= 0 and out:find("units must be words, subwords or auto, got 'letters'", 1, true), "bad units:\n%s", out)
  out, code = (function()
    local p = io.popen(string.format("cd '%s' && LOOM_DATA='%s/empty' LOOM_DB='%s/runs.db' '%s' run --quiet '%s' task=bible 2>&1",
      dir, dir, dir, bin, script))
    local text = p:read("a")
    local ok, _, c = p:close()
    return text, ok and 0 or c
  end)()
  check(code ~= 0 and out:find("dataset 'bible' (", 1, true) and out:find("run `loom data fetch bible`", 1, true),
    "missing Bible data names the command:\n%s", out)
end)

test("task=bible takes the Bible's own defaults; every param given still wins", function()
  local experiment = require "loom.experiment"
  local e = assert(experiment.load(script))
  local p = assert(experiment.resolve(e, {"task=bible"}))
  equal(string.format("%d %d %s %d %g %d %g %d", p.embed, p.hidden, tostring(p.bidirectional), p.batch, p.lr,
    p.epochs, p.label_smoothing, p.beam), "256 256 true 64 0.003 5 0.1 5", "the setting docs/translation.md measures")
  p = assert(experiment.resolve(e, {"task=bible", "hidden=96", "beam=1", "bidirectional=false"}))
  equal(string.format("%d %d %s", p.hidden, p.beam, tostring(p.bidirectional)), "96 1 false", "given params")
  equal(p.embed, 256, "the rest still the Bible's")
  p = assert(experiment.resolve(e, {"task=numbers"}))
  equal(string.format("%d %d %s %d", p.embed, p.hidden, tostring(p.bidirectional), p.beam), "64 128 false 1",
    "other tasks keep the small model")
end)
