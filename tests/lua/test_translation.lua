-- test_translation.lua: the translation experiment end to end on a tiny pair file (a few
-- seconds) and on SCAN's quick setting's data path, and plot.heatmap. Not an accuracy
-- benchmark: measured numbers are in docs/translation.md.
local plot = require "loom.runs.plot"

local loom = require "loom"
local run, dir, bin, script = dofile(TEST_DIR .. "/experiment_helpers.lua").cli("translation.lua")
local model_path, trained_exact -- the first test's model, for the tests of a trained model

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
  model_path, trained_exact = out:match("model%s+(%S+%.safetensors)"), exact
  check(model_path and io.open(model_path), "the result names the saved model:\n%s", out)
end)

-- The script run directly: stdout, stderr and the exit code of `loom translation.lua ARGS`.
local function direct(args, stdin)
  local err = dir .. "/stderr.txt"
  local p = io.popen(string.format("cd '%s' && %s '%s' '%s' %s 2>'%s'", dir, stdin and ("printf '" .. stdin .. "' |") or "",
    bin, script, args, err))
  local out = p:read("a")
  local ok, _, code = p:close()
  local f = io.open(err)
  local e = f:read("a")
  f:close()
  return out, e, ok and 0 or code
end

test("a trained model on new text: translate (run directly or translate=), test= with checkpoint=", function()
  if not model_path then skip("needs the model of the first test") end
  write(dir .. "/new.txt", "a b c\n\nd a\nb b b b\n")
  local out, err, code = direct(string.format("translate new.txt --checkpoint '%s'", model_path))
  equal(code, 0, "exit status\n" .. err)
  equal(err, "", "nothing on stderr")
  local lines = {}
  for line in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  equal(#lines, 4, "one line per input line:\n" .. out)
  equal(lines[2], "", "a blank line stays blank")
  for _, i in ipairs{1, 3, 4} do check(lines[i]:match("^[A-D][A-D ]*$"), "an output of the target vocabulary: '%s'", lines[i]) end
  local piped = direct(string.format("translate - --checkpoint '%s' --beam 3", model_path), "d a\\n")
  check(piped:match("^[A-D][A-D ]*\n$"), "standard input, beam 3: %s", piped)
  local ran, rcode = run(string.format("translate=new.txt checkpoint=%s", model_path))
  equal(rcode, 0, "translate= exit status\n" .. ran)
  check(ran:find(out, 1, true), "loom run translate= prints the same lines:\n%s", ran)
  -- test= with checkpoint=: the pair file scored by the saved model alone, as the training run did
  local scored, scode = run(string.format("test=test.tsv checkpoint=%s", model_path))
  equal(scode, 0, "test= exit status\n" .. scored)
  equal(tonumber(scored:match("test_exact%s+(%S+)")), trained_exact, "the training run's exact match:\n" .. scored)
  -- errors
  local _, uerr, ucode = direct("translate new.txt")
  equal(ucode, 2, "no --checkpoint")
  check(uerr:find("usage: loom scripts/experiments/translation.lua translate", 1, true), "usage:\n%s", uerr)
  _, err, code = direct("translate new.txt --checkpoint nope.safetensors")
  equal(code, 1, "a missing model")
  equal(err, "translation: nope.safetensors: cannot open: No such file or directory\n", "one line")
  _, err = direct(string.format("translate new.txt --checkpoint '%s' --beam 0", model_path))
  equal(err, "translation: --beam must be an integer >= 1, got 0\n", "bad beam")
  _, err = direct(string.format("translate missing.txt --checkpoint '%s'", model_path))
  equal(err, "translation: cannot open missing.txt: No such file or directory\n", "a missing input")
  -- a seq2seq model saved by other code has no record of how its text was tokenised
  local m, sv, tv = require("loom.seq2seq").load(model_path)
  assert(m:save(dir .. "/bare.safetensors", sv, tv))
  _, err, code = direct("translate new.txt --checkpoint bare.safetensors")
  equal(code, 1, "a seq2seq model without translation.lua's record")
  equal(err, "translation: bare.safetensors is not a model saved by translation.lua\n", "one line")
  assert(loom.save(dir .. "/other.safetensors", {w = loom.zeros(1, 1)}))
  _, err = direct("translate new.txt --checkpoint other.safetensors")
  check(err:find("not a loom seq2seq model", 1, true), "a foreign file: %s", err)
  out = run("translate=new.txt")
  check(out:find("translate=FILE needs checkpoint=PATH", 1, true), "translate= alone:\n%s", out)
  out, code = run("checkpoint=" .. model_path)
  check(code ~= 0 and out:find("failed: checkpoint= needs translate=FILE or test=FILE\n", 1, true),
    "checkpoint= alone, one line:\n%s", out)
  out, code = run("task=numbers numbers_train=2000 numbers_test=50 max_number=999")
  check(code ~= 0 and out:find("numbers_train + numbers_test (2050) must not exceed max_number (999)", 1, true)
    and not out:find("traceback", 1, true), "too few numbers, one line:\n%s", out)
end)

test("attention=none, reverse_source and beam run; bad options are errors", function()
  local out, code = run(string.format("train=%s/train.txt test=%s/test.tsv epochs=1 hidden=8 embed=4 attention=none reverse_source=true beam=3",
    dir, dir))
  equal(code, 0, "exit status\n" .. out)
  check(out:find("beam 3 decoding", 1, true), "beam decoding reported:\n%s", out)
  -- the checkpoint keeps its decoding: test= with it decodes with beam 3 unless told otherwise
  local saved = out:match("model%s+(%S+%.safetensors)")
  out = run(string.format("test=%s/test.tsv checkpoint=%s", dir, saved))
  check(out:find("beam 3 decoding", 1, true), "the saved beam:\n%s", out)
  out = run(string.format("test=%s/test.tsv checkpoint=%s beam=1", dir, saved))
  check(out:find("greedy decoding", 1, true), "a given beam wins:\n%s", out)
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
  -- the saved model translates through the run's sentencepiece models beside it
  local saved = out:match("model%s+(%S+%.safetensors)")
  local text, err, status = direct(string.format("translate - --checkpoint '%s'", saved), "a b c\\nd\\n")
  equal(status, 0, "subword translate\n" .. err)
  check(text:match("^[^\n]*\n[^\n]*\n$"), "two lines of detokenised text: %s", text)
  os.rename(saved:gsub("model%.safetensors$", "src.model"), dir .. "/moved.model")
  _, err = direct(string.format("translate - --checkpoint '%s'", saved), "a\\n")
  check(err:find("needs the run's src.model beside it", 1, true), "without its sentencepiece model: %s", err)
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
