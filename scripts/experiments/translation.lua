-- translation.lua: sequence-to-sequence translation with an LSTM encoder-decoder and
-- attention (loom.seq2seq): SCAN commands to action sequences (Lake & Baroni 2018), number
-- words (task=numbers: French to English through ICU, datasets/numbers.lua) or any pair file; reports exact match, accuracy by target length, sample translations and an
-- attention heatmap. Not the model (lua/loom/seq2seq.lua) nor the metrics (loom.metrics).
--
--   loom run scripts/experiments/translation.lua                      SCAN simple split
--   loom run scripts/experiments/translation.lua split=length attention=none
--   loom run scripts/experiments/translation.lua task=numbers target_lang=digits
--   loom run scripts/experiments/translation.lua train=a.tsv test=b.tsv beam=5
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

local function load_data(p)
  local train_path, test_path
  if p.train ~= "" or p.test ~= "" then
    if p.train == "" or p.test == "" then error("give both train=FILE and test=FILE", 0) end
    train_path, test_path = p.train, p.test
  elseif p.task == "numbers" then
    local numbers = dofile(loom.data.generator("numbers.lua"))
    local train, test = numbers.generate{source = p.source_lang, target = p.target_lang, chars = p.chars,
      train = p.quick and math.min(p.numbers_train, 4000) or p.numbers_train, test = p.numbers_test,
      max = p.max_number, seed = p.seed}
    local val = {}
    for i = #train - math.max(#train // 20, 1) + 1, #train do val[#val + 1] = train[i] end
    for _ = 1, #val do train[#train] = nil end
    return {train = train, val = val, test = thin(test, p.quick and 500 or 0),
      source = string.format("ICU spell-out %s -> %s, numbers 1..%d", p.source_lang, p.target_lang, p.max_number)}
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
    error("task must be scan or numbers (or give train=FILE test=FILE), got '" .. p.task .. "'", 0)
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

local function vocabularies(train)
  local src, tgt = {}, {}
  for i, pr in ipairs(train) do src[i], tgt[i] = pr.src, pr.tgt end
  return s2s.vocab(src), s2s.vocab(tgt)
end

-- ---- training ----

local function train(p, run, data, sv, tv)
  local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = p.embed,
    hidden = p.hidden, layers = p.layers, bidirectional = p.bidirectional,
    attention = p.attention, input_feeding = p.input_feeding}
  print(string.format("model: %s attention%s, %d parameters", p.attention,
    model.feed and " with input feeding" or "", model:num_parameters()))
  local opt = loom.optim.adam(model:parameters(), {lr = p.lr})
  local batches = s2s.batches(data.train, sv, tv, p.batch, {reverse_source = p.reverse_source})
  local eval_opts = {reverse_source = p.reverse_source, max_len = p.max_len}
  local epochs = p.quick and math.min(p.epochs, 4) or p.epochs
  local val_batches = s2s.batches(data.val, sv, tv, 64, {reverse_source = p.reverse_source})
  local best, best_loss, step = -1, math.huge, 0
  local best_state
  for epoch = 1, epochs do
    local t0 = os.clock()
    local loss = s2s.train_epoch(model, batches, opt, {clip = p.clip, label_smoothing = p.label_smoothing,
      order = loom.permutation(#batches), on_step = function(i, n, l)
        step = step + 1
        if i % 50 == 0 then run:log{step = step, loss = l} end
        run:progress((epoch - 1) * n + i, epochs * n)
      end})
    local val_loss = s2s.mean_loss(model, val_batches)
    local val = s2s.evaluate(model, data.val, sv, tv, eval_opts).exact
    run:log{step = step, train_loss = loss, val_loss = val_loss, val_exact = val, lr = opt.lr}
    print(string.format("epoch %d: train loss %.4f, validation loss %.4f, exact match %.4f, lr %.2g (%.1fs)",
      epoch, loss, val_loss, val, opt.lr, os.clock() - t0))
    if val >= best then best, best_state = val, model:state_dict() end
    -- Decay on plateau of the validation loss (OpenNMT's start_decay rule).
    if val_loss >= best_loss and p.decay < 1 then opt.lr = opt.lr * p.decay end
    best_loss = math.min(best_loss, val_loss)
  end
  model:load_state_dict(best_state)
  return model, best
end

-- ---- reporting ----

local function report(p, run, model, data, sv, tv)
  local ev = s2s.evaluate(model, data.test, sv, tv, {beam = p.beam, reverse_source = p.reverse_source,
    max_len = p.max_len, length_penalty = p.length_penalty, replace_unk = p.replace_unk})
  print(string.format("\ntest exact match: %.4f (%d pairs, %s decoding)", ev.exact, #data.test,
    p.beam > 1 and ("beam " .. p.beam) or "greedy"))
  local hyp_text, ref_text = {}, {}
  for k, pr in ipairs(data.test) do
    hyp_text[k], ref_text[k] = table.concat(ev.hyps[k], " "), table.concat(pr.tgt, " ")
  end
  local bleu, bleu_details = loom.metrics.bleu(hyp_text, {ref_text})
  local chrf = loom.metrics.chrf(hyp_text, {ref_text})
  print(string.format("test BLEU %.2f, chrF %.2f (%s)", bleu, chrf, bleu_details.signature))
  local test_batches = s2s.batches(data.test, sv, tv, 64, {reverse_source = p.reverse_source})
  local ppl = math.exp(s2s.mean_loss(model, test_batches))
  print(string.format("test perplexity %.4f (teacher forcing)", ppl))
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
  if data.test[1] and data.test[1].n then
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
  print("\nsample translations (source => output | reference):")
  for i = 1, math.min(5, #data.test) do
    local k = math.floor((i - 1) * #data.test / 5) + 1
    local pr = data.test[k]
    local ok = table.concat(ev.hyps[k], " ") == table.concat(pr.tgt, " ")
    print(string.format("  %s %s\n      => %s\n       | %s", ok and "ok  " or "MISS", table.concat(pr.src, " "),
      table.concat(ev.hyps[k], " "), table.concat(pr.tgt, " ")))
  end
  local result = {test_exact = ev.exact, test_pairs = #data.test, test_bleu = bleu, test_chrf = chrf, test_ppl = ppl}
  if plot.available() and #xs > 0 then
    result.plot = run:plot{file = "exact_by_length.png", title = "exact match by target length",
      xlabel = "target length", ylabel = "exact match", series = {{title = p.attention, x = xs, y = ys}}}
  end
  if model.attn and plot.available() then
    local example = data.test[1]
    local out, rows = model:attention_map(example.src, sv, {max_len = p.max_len, reverse_source = p.reverse_source})
    local ylabels = tv:decode(out)
    ylabels[#ylabels + 1] = "</s>"
    result.attention_plot = run:heatmap{file = "attention.png", values = rows, xlabels = example.src,
      ylabels = ylabels, counts = false, xlabel = "source", ylabel = "output",
      title = "attention (" .. p.attention .. ")", size = {900, math.max(400, 22 * #rows + 150)}}
  end
  return result
end

return loom.experiment{
  name = "translation",
  description = "LSTM encoder-decoder with attention on SCAN or any pair file: exact match, by target length",
  params = {
    seed = 42,
    task = {"scan", "scan (loom data fetch scan; numbers when absent) or numbers (ICU number words)"},
    split = {"simple", "SCAN split: simple, length, addprim_jump, addprim_turn_left"},
    train = {"", "a pair file to train on (SCAN 'IN: ... OUT: ...' lines or source<TAB>target)"},
    test = {"", "the pair file to test on (with train=)"},
    attention = {"general", "none, dot, general, concat (Luong) or bahdanau"},
    input_feeding = {true, "feed the previous attentional vector into the decoder (Luong)"},
    reverse_source = {false, "read the source backwards (Sutskever et al.)"},
    bidirectional = {false, "a bidirectional encoder"},
    layers = {1, "LSTM layers of the encoder and the decoder"},
    embed = {64, "embedding size of each side"},
    hidden = {128, "LSTM hidden units"},
    batch = {16, "sentence pairs per training batch"},
    lr = {0.002, "Adam's learning rate"},
    epochs = {10, "passes over the training pairs"},
    clip = {5.0, "gradient norm clipping"},
    decay = {0.5, "learning-rate factor when the validation loss stops improving"},
    label_smoothing = {0.0, "label smoothing of the target distribution"},
    beam = {1, "beam size (1: greedy decoding)"},
    length_penalty = {0.0, "GNMT length penalty alpha of the beam search (0: none)"},
    max_len = {60, "the longest output decoded"},
    replace_unk = {false, "replace <unk> outputs by the source word of largest attention"},
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
  run = function(p, run)
    -- Decoder steps are small products (batch x hidden): one BLAS thread is faster.
    loom.threads(p.threads)
    if p.quick then p.hidden, p.embed = math.min(p.hidden, 64), math.min(p.embed, 32) end
    local data = load_data(p)
    local sv, tv = vocabularies(data.train)
    print(string.format("data: %s; %d train, %d validation, %d test pairs; vocabularies %d / %d",
      data.source, #data.train, #data.val, #data.test, sv:size(), tv:size()))
    local model, best_val = train(p, run, data, sv, tv)
    local result = report(p, run, model, data, sv, tv)
    result.best_val_exact = best_val
    return result
  end,
}
