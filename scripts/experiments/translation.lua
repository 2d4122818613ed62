-- translation.lua: sequence-to-sequence translation with an LSTM encoder-decoder and
-- attention (loom.seq2seq): SCAN commands to action sequences (Lake & Baroni 2018), number
-- words (task=numbers: French to English through ICU, datasets/numbers.lua), Bible verses
-- English -> Spanish in subword units (task=bible: datasets/bible.lua, sentencepiece) or any
-- pair file; reports exact match, accuracy by target length, BLEU and chrF (against a
-- word-for-word dictionary baseline for the Bible), sample translations and an attention
-- heatmap. Not the model (lua/loom/seq2seq.lua) nor the metrics (loom.metrics).
--
--   loom run scripts/experiments/translation.lua                      SCAN simple split
--   loom run scripts/experiments/translation.lua split=length attention=none
--   loom run scripts/experiments/translation.lua task=numbers target_lang=digits
--   loom run scripts/experiments/translation.lua task=bible quick=true  (loom data fetch bible)
--   loom run scripts/experiments/translation.lua train=a.tsv test=b.tsv beam=5 units=subwords
local loom = require "loom"
local s2s = require "loom.seq2seq"
local plot = require "loom.runs.plot"


local SCAN_SPLITS = {
  simple = {"simple_split/tasks_train_simple.txt", "simple_split/tasks_test_simple.txt"},
  length = {"length_split/tasks_train_length.txt", "length_split/tasks_test_length.txt"},
  addprim_jump = {"add_prim_split/tasks_train_addprim_jump.txt", "add_prim_split/tasks_test_addprim_jump.txt"},
  addprim_turn_left = {"add_prim_split/tasks_train_addprim_turn_left.txt",
    "add_prim_split/tasks_test_addprim_turn_left.txt"},
}

-- ---- data ----

local function read(path)
  local pairs_, err = s2s.read_pairs(path)
  if not pairs_ then error("cannot read pairs: " .. err, 0) end
  return pairs_
end

-- Every k-th item, deterministic, so quick runs see the whole range of lengths.
local function thin(list, limit)
  if limit <= 0 or #list <= limit then return list end
  local out, step = {}, #list / limit
  for i = 1, limit do out[i] = list[math.floor((i - 1) * step) + 1] end
  return out
end

-- The Bible's verses as raw text pairs (datasets/bible.lua; `loom data fetch bible` makes
-- them): validation and test are whole books. Segmented into subwords before training.
local function bible_data(p)
  local bible = dofile(loom.data.generator("bible.lua"))
  local sets = bible.load(loom.data.require("bible"))
  local function pairs_of(list, limit)
    local out = {}
    for i, v in ipairs(list) do out[i] = {ref = v.ref, src_text = v.en, tgt_text = v.es} end
    return thin(out, limit)
  end
  return {train = pairs_of(sets.train, p.max_train > 0 and p.max_train or (p.quick and 3000 or 0)),
    val = pairs_of(sets.valid, p.quick and 100 or 0),
    test = pairs_of(sets.test, p.max_test > 0 and p.max_test or (p.quick and 200 or 0)),
    source = string.format("%s -> %s, test books %s", bible.SOURCE.title, bible.TARGET.title,
      table.concat(bible.TEST_BOOKS, ", "))}
end

local function load_data(p)
  local train_path, test_path
  if p.train ~= "" or p.test ~= "" then
    if p.train == "" or p.test == "" then
      error("give both train=FILE and test=FILE (or test=FILE with checkpoint=PATH to score a trained model)", 0)
    end
    train_path, test_path = p.train, p.test
  elseif p.task == "numbers" then
    local numbers = dofile(loom.data.generator("numbers.lua"))
    if p.numbers_train + p.numbers_test > p.max_number then
      error(string.format("numbers_train + numbers_test (%d) must not exceed max_number (%d): train and test"
        .. " numbers are distinct", p.numbers_train + p.numbers_test, p.max_number), 0)
    end
    local train, test = numbers.generate{source = p.source_lang, target = p.target_lang, chars = p.chars,
      train = p.quick and math.min(p.numbers_train, 4000) or p.numbers_train, test = p.numbers_test,
      max = p.max_number, seed = p.seed}
    local val = {}
    for i = #train - math.max(#train // 20, 1) + 1, #train do val[#val + 1] = train[i] end
    for _ = 1, #val do train[#train] = nil end
    return {train = train, val = val, test = thin(test, p.quick and 500 or 0), tokens = "numbers",
      source = string.format("ICU spell-out %s -> %s, numbers 1..%d", p.source_lang, p.target_lang, p.max_number)}
  elseif p.task == "bible" then
    return bible_data(p)
  elseif p.task == "scan" then
    local files = SCAN_SPLITS[p.split]
    if not files then error("split must be simple, length, addprim_jump or addprim_turn_left, got '" .. p.split .. "'", 0) end
    local scan, missing = loom.data.path("scan")
    if not scan then
      print("translation: " .. missing .. "; using the number-words task (generated) instead")
      p.task = "numbers"
      return load_data(p)
    end
    train_path, test_path = scan .. "/" .. files[1], scan .. "/" .. files[2]
  else
    error("task must be scan, numbers or bible (or give train=FILE test=FILE), got '" .. p.task .. "'", 0)
  end
  local train, test = read(train_path), read(test_path)
  -- A validation slice (every 20th training pair) drives the learning-rate decay.
  local fit, val = {}, {}
  for i, pr in ipairs(train) do
    if i % 20 == 0 then val[#val + 1] = pr else fit[#fit + 1] = pr end
  end
  local max_train = p.max_train > 0 and p.max_train or (p.quick and 2000 or 0)
  local max_test = p.max_test > 0 and p.max_test or (p.quick and 500 or 0)
  return {train = thin(fit, max_train), val = thin(val, p.quick and 200 or 1000),
    test = thin(test, max_test), source = train_path}
end

-- Subword units: a sentencepiece model per language, trained on the training side and kept
-- with the run; pairs keep their text, and data.detok turns output pieces back into text.
local function subwords(p, run, data)
  local sentencepiece = loom.text.sentencepiece
  local models = {}
  for _, side in ipairs{"src", "tgt"} do
    local texts = {}
    for i, pr in ipairs(data.train) do
      pr[side .. "_text"] = pr[side .. "_text"] or table.concat(pr[side], " ")
      texts[i] = pr[side .. "_text"]
    end
    run:artifact(side .. ".vocab")
    local prefix = run:artifact(side .. ".model"):gsub("%.model$", "")
    local sp = assert(sentencepiece.load(sentencepiece.train{model_prefix = prefix, sentences = texts,
      vocab_size = p.quick and math.min(p.vocab_size, 1000) or p.vocab_size, hard_vocab_limit = false,
      character_coverage = 1,
      num_threads = 2}))
    for _, set in ipairs{data.train, data.val, data.test} do
      for _, pr in ipairs(set) do
        pr[side .. "_text"] = pr[side .. "_text"] or table.concat(pr[side], " ")
        pr[side] = sp:encode(pr[side .. "_text"])
      end
    end
    models[side] = sp
  end
  -- Training skips the few verses longer than max_pieces on either side (memory and time).
  local kept = {}
  for _, pr in ipairs(data.train) do
    if #pr.src <= p.max_pieces and #pr.tgt <= p.max_pieces then kept[#kept + 1] = pr end
  end
  data.train = kept
  data.detok = function(pieces) return models.tgt:decode(pieces) end
  data.tokens = "subwords"
end

local function text_of(data, pr, side)
  if side == "hyp" then return data.detok and data.detok(pr) or table.concat(pr, " ") end
  return pr[side .. "_text"] or table.concat(pr[side], " ")
end

-- BLEU of the model's outputs on a set (the validation score of subword runs).
local function bleu_of(data, set, hyps)
  local h, r = {}, {}
  for k, pr in ipairs(set) do h[k], r[k] = text_of(data, hyps[k], "hyp"), text_of(data, pr, "tgt") end
  return loom.metrics.bleu(h, {r})
end

local function vocabularies(train)
  local src, tgt = {}, {}
  for i, pr in ipairs(train) do src[i], tgt[i] = pr.src, pr.tgt end
  return s2s.vocab(src), s2s.vocab(tgt)
end

-- ---- training ----

-- What translate= and test= with checkpoint= need besides the model: how text becomes
-- tokens and the decoding settings (strings, kept in the checkpoint's metadata).
local DECODING = {beam = "integer", max_len = "integer", max_len_ratio = "number", length_penalty = "number",
  replace_unk = "boolean"}

local function saved_settings(p, data, epoch)
  local meta = {epoch = tostring(epoch), task = p.task, tokens = data.tokens or "words", chars = tostring(p.chars)}
  for k in pairs(DECODING) do meta[k] = tostring(p[k]) end
  return meta
end

-- The decoding settings a checkpoint's run used (from seq2seq.load's meta), as params.
local function saved_decoding(meta)
  local out = {}
  for k, kind in pairs(DECODING) do
    local v = meta[k]
    if kind == "boolean" then out[k] = v == "true"
    elseif kind == "integer" then out[k] = math.tointeger(tonumber(v))
    else out[k] = tonumber(v) end
  end
  return out
end

local function train(p, run, data, sv, tv)
  local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = p.embed,
    hidden = p.hidden, layers = p.layers, bidirectional = p.bidirectional,
    attention = p.attention, input_feeding = p.input_feeding, dropout = p.dropout}
  print(string.format("model: %s attention%s, %d parameters", p.attention,
    model.feed and " with input feeding" or "", model:num_parameters()))
  local opt = loom.optim.adam(model:parameters(), {lr = p.lr})
  local batches = s2s.batches(data.train, sv, tv, p.batch, {reverse_source = p.reverse_source})
  local eval_opts = {reverse_source = p.reverse_source, max_len = p.max_len, max_len_ratio = p.max_len_ratio > 0 and p.max_len_ratio or nil}
  local epochs = p.quick and math.min(p.epochs, 4) or p.epochs
  local val_batches = s2s.batches(data.val, sv, tv, 64, {reverse_source = p.reverse_source})
  local best, best_loss, step = -1, math.huge, 0
  local best_state
  for epoch = 1, epochs do
    local t0 = os.clock()
    local loss = s2s.train_epoch(model, batches, opt, {clip = p.clip, label_smoothing = p.label_smoothing,
      sampling = p.sampling, order = loom.permutation(#batches), on_step = function(i, n, l)
        step = step + 1
        if i % 50 == 0 then run:log{step = step, loss = l} end
        run:progress((epoch - 1) * n + i, epochs * n)
      end})
    local val_loss = s2s.mean_loss(model, val_batches)
    local ev = s2s.evaluate(model, data.val, sv, tv, eval_opts)
    local val = data.detok and bleu_of(data, data.val, ev.hyps) or ev.exact
    local name = data.detok and "val_bleu" or "val_exact"
    run:log{step = step, train_loss = loss, val_loss = val_loss, [name] = val, lr = opt.lr}
    print(string.format("epoch %d: train loss %.4f, validation loss %.4f, %s %.4f, lr %.2g (%.1fs)",
      epoch, loss, val_loss, data.detok and "BLEU" or "exact match", val, opt.lr, os.clock() - t0))
    if val >= best then
      best, best_state = val, model:state_dict()
      assert(model:save(run:artifact("model.safetensors"), sv, tv, {reverse_source = p.reverse_source,
        meta = saved_settings(p, data, epoch)}))
    end
    -- Decay on plateau of the validation loss (OpenNMT's start_decay rule).
    if val_loss >= best_loss and p.decay < 1 then opt.lr = opt.lr * p.decay end
    best_loss = math.min(best_loss, val_loss)
  end
  model:load_state_dict(best_state)
  return model, best
end

-- ---- reporting ----

-- Exact match by target length (a plot) and, for number words, by digits.
local function by_length(p, run, data, ev, result)
  local lengths = {}
  for n in pairs(ev.by_length) do lengths[#lengths + 1] = n end
  table.sort(lengths)
  print(string.format("%14s %8s %10s", "target length", "pairs", "exact"))
  local xs, ys = {}, {}
  for _, n in ipairs(lengths) do
    local g = ev.by_length[n]
    print(string.format("%14d %8d %10.4f", n, g.total, g.right / g.total))
    run:log{step = n, exact_by_target_length = g.right / g.total}
    xs[#xs + 1], ys[#ys + 1] = n, g.right / g.total
  end
  if plot.available() and #xs > 0 then
    result.plot = run:plot{file = "exact_by_length.png", title = "exact match by target length",
      xlabel = "target length", ylabel = "exact match", series = {{title = p.attention, x = xs, y = ys}}}
  end
  if not (data.test[1] and data.test[1].n) then return end
  local by_digits = {}
  for k, pr in ipairs(data.test) do
    local d = #tostring(pr.n)
    by_digits[d] = by_digits[d] or {0, 0}
    by_digits[d][2] = by_digits[d][2] + 1
    if table.concat(ev.hyps[k], " ") == table.concat(pr.tgt, " ") then by_digits[d][1] = by_digits[d][1] + 1 end
  end
  print(string.format("\n%14s %8s %10s", "digits", "numbers", "exact"))
  for d = 1, #tostring(p.max_number) do
    local g = by_digits[d]
    if g then
      print(string.format("%14d %8d %10.4f", d, g[2], g[1] / g[2]))
      run:log{step = d, exact_by_digits = g[1] / g[2]}
    end
  end
end

-- The word-for-word baseline (FreeDict English-Spanish) on the test set, when installed.
local function baseline(data, refs, result)
  local words, err = loom.dictionary.read()
  if not words then
    print("baseline: " .. err)
    return
  end
  local hyps = {}
  for k, pr in ipairs(data.test) do hyps[k] = loom.dictionary.translate(words, pr.src_text) end
  result.baseline_bleu = loom.metrics.bleu(hyps, {refs})
  result.baseline_chrf = loom.metrics.chrf(hyps, {refs})
  print(string.format("baseline (word for word, FreeDict eng-spa): BLEU %.2f, chrF %.2f",
    result.baseline_bleu, result.baseline_chrf))
  return hyps
end

local function samples(data, ev, hyps, refs, base)
  print("\nsample translations (source => output | reference):")
  for i = 1, math.min(5, #data.test) do
    local k = math.floor((i - 1) * #data.test / 5) + 1
    local pr = data.test[k]
    print(string.format("  %s %s%s\n      => %s\n       | %s", hyps[k] == refs[k] and "ok  " or "MISS",
      pr.ref and (pr.ref .. ": ") or "", text_of(data, pr, "src"), hyps[k], refs[k]))
    if base then print("  word for word: " .. base[k]) end
  end
end

local function heatmap(p, run, model, data, sv, tv)
  local example = data.test[1]
  local out, rows = model:attention_map(example.src, sv, {max_len = p.max_len, reverse_source = p.reverse_source})
  local ylabels = tv:decode(out)
  ylabels[#ylabels + 1] = "</s>"
  return run:heatmap{file = "attention.png", values = rows, xlabels = example.src,
    ylabels = ylabels, counts = false, xlabel = "source", ylabel = "output",
    title = "attention (" .. p.attention .. ")", size = {900, math.max(400, 22 * #rows + 150)}}
end

local function report(p, run, model, data, sv, tv)
  local ev = s2s.evaluate(model, data.test, sv, tv, {beam = p.beam, reverse_source = p.reverse_source,
    max_len = p.max_len, max_len_ratio = p.max_len_ratio > 0 and p.max_len_ratio or nil, length_penalty = p.length_penalty,
    replace_unk = p.replace_unk})
  print(string.format("\ntest exact match: %.4f (%d pairs, %s decoding)", ev.exact, #data.test,
    p.beam > 1 and ("beam " .. p.beam) or "greedy"))
  local hyps, refs = {}, {}
  for k, pr in ipairs(data.test) do hyps[k], refs[k] = text_of(data, ev.hyps[k], "hyp"), text_of(data, pr, "tgt") end
  local bleu, bleu_details = loom.metrics.bleu(hyps, {refs})
  local chrf = loom.metrics.chrf(hyps, {refs})
  print(string.format("test BLEU %.2f, chrF %.2f (%s)", bleu, chrf, bleu_details.signature))
  local test_batches = s2s.batches(data.test, sv, tv, 64, {reverse_source = p.reverse_source})
  local ppl = math.exp(s2s.mean_loss(model, test_batches))
  print(string.format("test perplexity %.4f (teacher forcing)", ppl))
  local result = {test_exact = ev.exact, test_pairs = #data.test, test_bleu = bleu, test_chrf = chrf, test_ppl = ppl}
  local base = p.task == "bible" and baseline(data, refs, result)
  if not data.detok then by_length(p, run, data, ev, result) end
  samples(data, ev, hyps, refs, base)
  if model.attn and plot.available() then result.attention_plot = heatmap(p, run, model, data, sv, tv) end
  return result
end

-- ---- a trained model on new text (translate=, test= with checkpoint=) ----

-- A run's model with its text codec: words (whitespace), number words (hyphens split, or
-- characters) or the run's sentencepiece models (src.model and tgt.model beside the
-- checkpoint, where the run saved them).
-- seq2seq.load once per run: adjust reads a checkpoint's decoding settings and leaves what it
-- loaded here for run() to take (the translate command loads afresh).
local adjusted = {}

local function load_checkpoint(path)
  local got = adjusted[path] or table.pack(s2s.load(path))
  adjusted[path] = nil
  return table.unpack(got, 1, got.n)
end

local function load_translator(path)
  local model, sv, tv, info = load_checkpoint(path)
  if not model then error("translation: " .. sv:gsub("^seq2seq%.load: ", ""), 0) end
  local meta = info.meta
  if not meta.tokens then error("translation: " .. path .. " is not a model saved by translation.lua", 0) end
  local t = {model = model, sv = sv, tv = tv, reverse_source = info.reverse_source, meta = meta}
  if meta.tokens == "numbers" then
    local numbers, chars = dofile(loom.data.generator("numbers.lua")), meta.chars == "true"
    t.encode = function(line) return numbers.tokens(line, chars) end
    t.encode_tgt, t.text = t.encode, function(tokens) return numbers.text(tokens, chars) end
  elseif meta.tokens == "subwords" then
    local dir = path:match("^(.*)/[^/]*$") or "."
    local sp = {}
    for _, side in ipairs{"src", "tgt"} do
      local m, err = loom.text.sentencepiece.load(dir .. "/" .. side .. ".model")
      if not m then
        error(string.format("translation: %s needs the run's %s.model beside it (%s)", path, side, err), 0)
      end
      sp[side] = m
    end
    t.encode = function(line) return sp.src:encode(line) end
    t.encode_tgt, t.text = function(line) return sp.tgt:encode(line) end, function(pieces) return sp.tgt:decode(pieces) end
    t.detok = t.text
  else
    t.encode, t.encode_tgt = loom.text.tokenize, loom.text.tokenize
    t.text = function(tokens) return table.concat(tokens, " ") end
  end
  return t
end

-- The lines of a file ("-": standard input), without their line ends.
local function lines_of(path)
  local f, why = io.stdin, nil
  if path ~= "-" then f, why = io.open(path) end
  if not f then error("translation: cannot open " .. why, 0) end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line:gsub("\r$", "") end
  if f ~= io.stdin then f:close() end
  return lines
end

-- translate=: the output text of each line, in order ("" for a blank line).
local function translate_lines(t, p, lines)
  local sources, at = {}, {}
  for i, line in ipairs(lines) do
    local tokens = t.encode(line)
    if #tokens > 0 then sources[#sources + 1], at[#sources + 1] = tokens, i end
  end
  local outputs = {}
  for i = 1, #lines do outputs[i] = "" end
  local decoded = t.model:translate(sources, t.sv, t.tv, {beam = p.beam, reverse_source = t.reverse_source,
    max_len = p.max_len > 0 and p.max_len or nil, max_len_ratio = p.max_len_ratio > 0 and p.max_len_ratio or nil,
    length_penalty = p.length_penalty, replace_unk = p.replace_unk})
  for k, tokens in ipairs(decoded) do outputs[at[k]] = t.text(tokens) end
  return outputs
end

-- test= with checkpoint=: a pair file read through the model's own codec, as a test set.
local function checkpoint_test_data(t, path)
  local data = {test = {}, tokens = t.meta.tokens, detok = t.detok, source = path}
  for k, pr in ipairs(read(path)) do
    local src, tgt = table.concat(pr.src, " "), table.concat(pr.tgt, " ")
    data.test[k] = {src = t.encode(src), tgt = t.encode_tgt(tgt), src_text = src, tgt_text = tgt}
  end
  return data
end

-- Defaults of their own for a task (docs/translation.md measures them); every param given
-- still wins. The Bible is a real language pair: a larger model, bigger batches and beam
-- search.
local TASK_DEFAULTS = {
  bible = {embed = 256, hidden = 256, bidirectional = true, batch = 64, lr = 0.003, epochs = 5,
    label_smoothing = 0.1, beam = 5},
}

-- The task whose defaults apply: none for pair files.
local function defaults_task(p)
  if p.train ~= "" then return nil end
  return p.task
end

local experiment = loom.experiment{
  name = "translation",
  description = "LSTM encoder-decoder with attention on SCAN or any pair file: exact match, by target length",
  params = {
    seed = 42,
    task = {"scan", "scan (loom data fetch scan; numbers when absent), numbers (ICU number words) or bible (loom data fetch bible)"},
    split = {"simple", "SCAN split: simple, length, addprim_jump, addprim_turn_left"},
    train = {"", "a pair file to train on (SCAN 'IN: ... OUT: ...' lines or source<TAB>target)"},
    test = {"", "the pair file to test on (with train=, or with checkpoint= to score a trained model)"},
    attention = {"general", "none, dot, general, concat (Luong) or bahdanau"},
    input_feeding = {true, "feed the previous attentional vector into the decoder (Luong)"},
    reverse_source = {false, "read the source backwards (Sutskever et al.)"},
    bidirectional = {false, "a bidirectional encoder (bible: true)"},
    layers = {1, "LSTM layers of the encoder and the decoder"},
    embed = {64, "embedding size of each side (bible: 256)"},
    hidden = {128, "LSTM hidden units (bible: 256)"},
    batch = {16, "sentence pairs per training batch (bible: 64)"},
    lr = {0.002, "Adam's learning rate (bible: 0.003)"},
    epochs = {10, "passes over the training pairs (bible: 5)"},
    clip = {5.0, "gradient norm clipping"},
    decay = {0.5, "learning-rate factor when the validation loss stops improving"},
    label_smoothing = {0.0, "label smoothing of the target distribution (bible: 0.1)"},
    dropout = {0.0, "dropout on the embeddings and the decoder's outputs while training"},
    sampling = {0.0, "fraction of batches whose decoder reads its own greedy outputs (0: teacher forcing)"},
    beam = {1, "beam size (1: greedy decoding; bible: 5)"},
    length_penalty = {0.0, "GNMT length penalty alpha of the beam search (0: none)"},
    max_len = {0, "the longest output decoded (0: 60 tokens, or 300 pieces for bible)"},
    max_len_ratio = {0, "outputs at most this many times the source's length (0: no limit; bible: 2)"},
    units = {"auto", "words, or subwords (sentencepiece); auto: subwords for bible, words otherwise"},
    vocab_size = {4000, "subwords: sentencepiece vocabulary of each language (at most 1000 when quick)"},
    max_pieces = {120, "subwords: training skips pairs longer than this on either side"},
    replace_unk = {false, "replace <unk> outputs by the source word of largest attention"},
    translate = {"", "a file of sentences (one per line; - for standard input) to translate with checkpoint="},
    checkpoint = {"", "the model.safetensors of an earlier run, for translate= or test= (without train=)"},
    max_train = {0, "at most this many training pairs (0: all, or 2000 when quick)"},
    max_test = {0, "at most this many test pairs (0: all, or 500 when quick)"},
    quick = {false, "the demo setting: small model, 4 epochs, subsets"},
    threads = {1, "BLAS threads (decoder steps are small products: 1 is fastest)"},
    source_lang = {"fr", "numbers task: ICU locale of the source words"},
    target_lang = {"en", "numbers task: ICU locale of the target words"},
    chars = {false, "numbers task: characters instead of words as tokens"},
    numbers_train = {20000, "numbers task: training pairs"},
    numbers_test = {2000, "numbers task: test pairs (numbers never seen in training)"},
    max_number = {999999, "numbers task: the largest number"},
  },
  adjust = function(p, given)
    if p.checkpoint ~= "" then
      -- A trained model decodes as its run did (beam, lengths) unless told otherwise; a
      -- file that does not load is left to run() to name.
      local loaded = table.pack(s2s.load(p.checkpoint))
      adjusted[p.checkpoint] = loaded
      local info = loaded[4]
      for k, v in pairs(info and saved_decoding(info.meta) or {}) do
        if not given[k] then p[k] = v end
      end
      return
    end
    for k, v in pairs(TASK_DEFAULTS[defaults_task(p)] or {}) do
      if not given[k] then p[k] = v end
    end
  end,
  run = function(p, run)
    -- Decoder steps are small products (batch x hidden): one BLAS thread is faster.
    loom.threads(p.threads)
    if p.translate ~= "" or (p.checkpoint ~= "" and p.train == "") then
      if p.checkpoint == "" then error("translate=FILE needs checkpoint=PATH (the model.safetensors of a run)", 0) end
      local t = load_translator(p.checkpoint)
      if p.translate ~= "" then
        local outputs = translate_lines(t, p, lines_of(p.translate))
        for _, line in ipairs(outputs) do print(line) end
        return {translated = #outputs}
      end
      if p.test == "" then error("checkpoint= needs translate=FILE or test=FILE", 0) end
      local data = checkpoint_test_data(t, p.test)
      print(string.format("data: %s; %d test pairs; model %s (epoch %s)", p.test, #data.test, p.checkpoint,
        t.meta.epoch or "?"))
      p.reverse_source, p.attention = t.reverse_source, t.model:config().attention
      return report(p, run, t.model, data, t.sv, t.tv)
    end
    if p.quick then p.hidden, p.embed = math.min(p.hidden, 64), math.min(p.embed, 32) end
    local data = load_data(p)
    if p.max_len == 0 then p.max_len = p.task == "bible" and 300 or 60 end
    if p.task == "bible" and p.max_len_ratio == 0 then p.max_len_ratio = 2 end
    if p.units == "subwords" or (p.units == "auto" and p.task == "bible") then
      subwords(p, run, data)
    elseif p.units ~= "words" and p.units ~= "auto" then
      error("units must be words, subwords or auto, got '" .. p.units .. "'", 0)
    end
    local sv, tv = vocabularies(data.train)
    print(string.format("data: %s; %d train, %d validation, %d test pairs; vocabularies %d / %d",
      data.source, #data.train, #data.val, #data.test, sv:size(), tv:size()))
    local model, best_val = train(p, run, data, sv, tv)
    local result = report(p, run, model, data, sv, tv)
    result[data.detok and "best_val_bleu" or "best_val_exact"] = best_val
    result.model = run:artifact("model.safetensors")
    return result
  end,
}

-- Run directly, the script is a translator whose standard output holds one line per input line:
--   loom scripts/experiments/translation.lua translate FILE|- --checkpoint PATH [--beam K]
require("loom.experiment").command("translate", {
  usage = "usage: loom scripts/experiments/translation.lua translate FILE|- --checkpoint MODEL.safetensors [--beam K]",
  options = {"checkpoint", "beam"}, required = {"checkpoint"}, prefix = "",
  run = function(input, opts)
    local beam = opts.beam and math.tointeger(tonumber(opts.beam))
    if opts.beam and not (beam and beam >= 1) then error("translation: --beam must be an integer >= 1, got " .. opts.beam, 0) end
    local t = load_translator(opts.checkpoint)
    local p = saved_decoding(t.meta)
    p.beam, p.max_len = beam or p.beam or 1, p.max_len or 0
    p.max_len_ratio, p.length_penalty = p.max_len_ratio or 0, p.length_penalty or 0
    p.replace_unk = p.replace_unk and p.beam == 1 -- the saved run's choice, for greedy decoding
    for _, line in ipairs(translate_lines(t, p, lines_of(input))) do io.stdout:write(line, "\n") end
  end,
})

return experiment
