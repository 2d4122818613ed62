-- agreement.lua: subject-verb number prediction (Linzen, Dupoux & Goldberg 2016): an
-- Embedding -> LSTM (or GRU, RNN) -> Linear on the final state predicts whether the next
-- verb is singular (VBZ) or plural (VBP) from the sentence prefix. Words are seen by form
-- too (unknown-word classes, suffix embeddings), training mixes the Linzen lines with
-- generated constructions, and the report adds an unseen-noun stress test and a suite of
-- constructions from held-out words. With predict=FILE and model=CHECKPOINT (or run
-- directly: `loom agreement.lua predict FILE --model PATH [--probe]`) it labels prefixes.
-- Not the data: loom.agreement (real files and split) and datasets/agreement.lua (grammar).
local loom = require "loom"
local nn, optim = loom.nn, loom.optim
local text = require "loom.text"
local agreement = require "loom.agreement"


local CELLS = {lstm = nn.LSTM, gru = nn.GRU, rnn = nn.RNN}

-- ---- the model ----

-- features: "word" (an embedding per word, one <unk>), "classes" (unknown words get a
-- class by shape and suffix, loom.text.word_class) or "suffix" (classes, plus embeddings
-- of each word's last 1, 2 and 3 letters summed into its vector).
local FEATURES = {word = true, classes = true, suffix = true}

local function build_model(p, vocab_size, suffix_size)
  local cell = CELLS[p.cell]
  if not cell then error("param cell must be lstm, gru or rnn, got '" .. p.cell .. "'") end
  if not FEATURES[p.features] then
    error("param features must be word, classes or suffix, got '" .. p.features .. "'")
  end
  return {
    embed = nn.Embedding(vocab_size, p.embed):to(p.dtype),
    suffix = p.features == "suffix" and nn.Embedding(suffix_size, p.embed, {padding_idx = 1}):to(p.dtype) or nil,
    drop_in = nn.Dropout(p.dropout),
    rnn = cell(p.embed, p.hidden):to(p.dtype),
    drop_out = nn.Dropout(p.dropout),
    out = nn.Linear(p.hidden, 2):to(p.dtype),
  }
end

local MODULE_NAMES = {"embed", "suffix", "drop_in", "rnn", "drop_out", "out"}

local function model_modules(m)
  local list = {m.embed}
  if m.suffix then list[2] = m.suffix end
  for _, mod in ipairs({m.drop_in, m.rnn, m.drop_out, m.out}) do list[#list + 1] = mod end
  return list
end

local function model_parameters(m)
  local params = {}
  for _, mod in ipairs(model_modules(m)) do
    for _, q in ipairs(mod:parameters()) do params[#params + 1] = q end
  end
  return params
end

-- Word vectors (TB x embed) for ids X (T x B) and suffix ids S (3T x B): the word's
-- embedding plus its three suffix embeddings.
local function embed_words(m, X, S)
  local E = m.embed:forward(X)
  if m.suffix then
    local n = E:rows()
    local SE = m.suffix:forward(S)
    E = E:copy()
    for k = 0, SE:rows() // n - 1 do E:add_(SE:slice(k * n + 1, (k + 1) * n, 1, SE:cols())) end
  end
  return E
end

-- Word dropout: each word id of a training batch becomes its class id with probability p,
-- so the classes (what unseen words get) are trained on all words, not only rare ones.
local function drop_words(X, C, p)
  if p <= 0 then return X end
  local Xd = X:copy()
  for t = 1, X:rows() do
    for b = 1, X:cols() do
      if math.random() < p then Xd:set(t, b, C:get(t, b)) end
    end
  end
  return Xd
end

-- Logits (B x 2) for a batch; keeps what backward needs in the modules.
local function forward(m, batch, word_dropout)
  batch.Xw = (word_dropout and batch.C) and drop_words(batch.X, batch.C, word_dropout) or batch.X
  batch.E = embed_words(m, batch.Xw, batch.S)
  batch.Ed = m.drop_in:forward(batch.E)
  local _, h = m.rnn:forward(batch.Ed, {lengths = batch.lengths, batch = #batch.lengths})
  batch.h = h
  batch.hd = m.drop_out:forward(h)
  return m.out:forward(batch.hd)
end

local function backward(m, batch, dlogits)
  local dhd = m.out:backward(batch.hd, dlogits)
  local dh = m.drop_out:backward(batch.h, dhd)
  local dEd = m.rnn:backward(nil, {dh_T = dh})
  local dE = m.drop_in:backward(batch.E, dEd)
  m.embed:backward(batch.Xw, dE, false)
  if m.suffix then
    local parts = {}
    for k = 1, batch.S:rows() // batch.X:rows() do parts[k] = dE end
    m.suffix:backward(batch.S, loom.vcat(parts), false)
  end
end

local function set_mode(m, training)
  for _, mod in ipairs(model_modules(m)) do
    if training then mod:train() else mod:eval() end
  end
end

-- Accuracy (fraction) over batches; with `by` a function of an example, also per group.
local function evaluate(m, batches)
  set_mode(m, false)
  local right, total = 0, 0
  for _, batch in ipairs(batches) do
    local logits = forward(m, batch)
    local pred = logits:argmax(2)
    for b = 1, #batch.lengths do
      if pred:get(b, 1) == batch.labels:get(b, 1) then right = right + 1 end
    end
    total = total + #batch.lengths
  end
  set_mode(m, true)
  return total > 0 and right / total or 0 / 0, total
end

-- ---- data ----

local function grammar_module() return dofile(loom.data.generator("agreement.lua")) end

local function load_data(p)
  if p.data ~= "synthetic" then
    local dir = p.data ~= "" and p.data or loom.data.require("linzen-agreement")
    local sets, err = agreement.load_linzen(dir)
    if sets then return sets, dir end
    error("cannot load the agreement data: " .. err, 0)
  end
  local grammar = grammar_module()
  local n = p.quick and 3000 or 40000
  return agreement.synthetic(grammar, {train = n, val = n // 10, test = n // 10,
    test_per_k = n // 20, max_attractors = 2}), "synthetic grammar"
end

-- Keep a subset of a list, deterministically (every k-th), for quick runs.
local function thin(list, limit)
  if limit <= 0 or #list <= limit then return list end
  local out, step = {}, #list / limit
  for i = 1, limit do out[i] = list[math.floor((i - 1) * step) + 1] end
  return out
end

-- Ids, class ids (for word dropout) and suffix ids of each example.
local function encode(list, vocab, suffixes)
  for _, ex in ipairs(list) do
    ex.ids = vocab:encode(ex.words)
    if vocab.classes then ex.cls = vocab:class_ids(ex.words) end
    if suffixes then ex.suf = suffixes:suffix_ids(ex.words) end
  end
  return list
end

local function make_batches(list, size, vocab)
  local batches = text.batches(list, size, vocab.pad)
  for _, b in ipairs(batches) do
    if b.examples[1].cls then b.C = text.batch_matrix(b, "cls", vocab.pad) end
    if b.examples[1].suf then b.S = text.batch_matrix(b, "suf", 1) end
  end
  return batches
end

-- The constructions of param `constructions`: "all", or names joined by "+".
local function construction_list(p, grammar)
  if p.constructions == "all" then return grammar.construction_names end
  local names = {}
  for name in p.constructions:gmatch("[^+%s]+") do
    if not grammar.constructions[name] then
      error(string.format("param constructions: unknown construction '%s' (known: %s)", name,
        table.concat(grammar.construction_names, ", ")), 0)
    end
    names[#names + 1] = name
  end
  return names
end

-- The training mix: Linzen lines (a share `fill_placeholders` of them with their tags
-- replaced by real words) and `generated` x as many sentences from the construction
-- grammar's training words; validation gets the same mix.
local function add_generated(p, sets, lexicon)
  local grammar = grammar_module()
  local rand = loom.random_int
  for _, split in ipairs({"train", "val"}) do
    local list = sets[split]
    if p.fill_placeholders > 0 then
      for i, ex in ipairs(list) do
        if math.random() < p.fill_placeholders then list[i] = agreement.fill_placeholders(ex, lexicon.train, rand) end
      end
    end
    local n = math.floor(#list * p.generated + 0.5)
    for _, ex in ipairs(agreement.examples(grammar.construct(n, lexicon.train,
      {intro = true, open = p.open_words, constructions = construction_list(p, grammar)}, rand))) do
      list[#list + 1] = ex
    end
  end
end

-- ---- training ----

local function save_model(path, model, vocab, suffixes, p)
  local tensors = {}
  for _, prefix in ipairs(MODULE_NAMES) do
    local mod = model[prefix]
    for name, value in pairs(mod and mod:state_dict() or {}) do tensors[prefix .. "." .. name] = value end
  end
  loom.save(path, tensors, {vocab = vocab:serialize(), cell = p.cell, hidden = tostring(p.hidden),
    embed = tostring(p.embed), features = p.features,
    suffixes = suffixes and suffixes:serialize() or nil})
end

local function train(p, run)
  local sets, source = load_data(p)
  local limit = p.max_train > 0 and p.max_train or (p.quick and 16000 or 0)
  sets.train = thin(sets.train, limit)
  sets.val = thin(sets.val, p.quick and 1000 or 0)
  for k, list in pairs(sets.test) do sets.test[k] = thin(list, p.quick and 1000 or 0) end
  local lexicon = grammar_module().lexicon()
  add_generated(p, sets, lexicon)
  local words, train_words = {}, {}
  for i, ex in ipairs(sets.train) do
    words[i] = ex.words
    for _, w in ipairs(ex.words) do train_words[w] = true end
  end
  local vocab = text.vocab(words, {min_count = p.min_count, unk_classes = p.features ~= "word"})
  local suffixes = p.features == "suffix" and text.suffix_vocab(words, {n = 3, min_count = p.min_count}) or nil
  print(string.format("data: %s; %d train, %d validation (generated x%g); vocabulary %d (min_count %d), features %s%s",
    source, #sets.train, #sets.val, p.generated, vocab:size(), p.min_count, p.features,
    suffixes and string.format(" (%d suffixes)", suffixes:size()) or ""))
  encode(sets.train, vocab, suffixes)
  -- Lines of the mixed file are the natural distribution the mixed test set comes from,
  -- and the fewest; oversample_mixed = k shows each of them k times an epoch.
  local n = #sets.train -- after the vocabulary, so its counts see each line once
  for i = 1, n do
    local ex = sets.train[i]
    if ex.origin == "mixed" then
      for _ = 2, p.oversample_mixed do sets.train[#sets.train + 1] = ex end
    end
  end
  encode(sets.val, vocab, suffixes)
  for _, list in pairs(sets.test) do encode(list, vocab, suffixes) end

  local model = build_model(p, vocab:size(), suffixes and suffixes:size())
  local params = model_parameters(model)
  local opt = optim.adam(params, {lr = p.lr})
  local loss_fn = nn.CrossEntropyLoss()
  local train_batches = make_batches(sets.train, p.batch, vocab)
  local val_batches = make_batches(sets.val, 256, vocab)
  local best_path = run:artifact("best.safetensors")
  local epochs = p.quick and math.min(p.epochs, 3) or p.epochs
  local word_dropout = p.features ~= "word" and p.word_dropout or nil
  -- cosine: the learning rate falls from lr towards 0 over the epochs, one step an epoch
  if p.lr_schedule ~= "constant" and p.lr_schedule ~= "cosine" then
    error("param lr_schedule must be constant or cosine, got '" .. p.lr_schedule .. "'", 0)
  end
  local sched = p.lr_schedule == "cosine" and optim.cosine_lr(opt, {t_max = epochs}) or nil
  local best, since_best, step = -1, 0, 0
  for epoch = 1, epochs do
    local cpu0 = os.clock()
    local order = loom.permutation(#train_batches)
    local total_loss = 0
    for i, bi in ipairs(order) do
      local batch = train_batches[bi]
      opt:zero_grad()
      local logits = forward(model, batch, word_dropout)
      local loss = loss_fn:forward(logits, batch.labels)
      backward(model, batch, loss_fn:backward(logits, batch.labels))
      optim.clip_grad_norm(params, p.clip)
      opt:step()
      total_loss = total_loss + loss
      step = step + 1
      if i % 50 == 0 then run:log{step = step, loss = total_loss / i} end
      run:progress((epoch - 1) * #order + i, epochs * #order)
    end
    if sched then sched:step() end
    local val_acc = evaluate(model, val_batches)
    run:log{step = step, val_acc = val_acc, train_loss = total_loss / #order}
    print(string.format("epoch %d: train loss %.4f, validation accuracy %.4f (%.0f s of CPU)", epoch,
      total_loss / #order, val_acc, os.clock() - cpu0))
    if val_acc > best then
      best, since_best = val_acc, 0
      save_model(best_path, model, vocab, suffixes, p)
    else
      since_best = since_best + 1
      if since_best >= p.patience then
        print(string.format("early stop: no improvement for %d epochs", p.patience))
        break
      end
    end
  end
  return model, vocab, sets, best_path, best, lexicon, train_words
end

local function load_model(path)
  local tensors, meta = loom.load(path)
  if not tensors then error("cannot load model: " .. meta, 0) end
  local vocab = text.vocab_from_string(meta.vocab)
  local suffixes = meta.suffixes and text.vocab_from_string(meta.suffixes) or nil
  local p = {cell = meta.cell, hidden = tonumber(meta.hidden), embed = tonumber(meta.embed),
    features = meta.features or "word", dropout = 0,
    dtype = tensors["out.weight"] and tensors["out.weight"]:dtype() or "float64"} -- as trained
  local model = build_model(p, vocab:size(), suffixes and suffixes:size())
  for _, prefix in ipairs(MODULE_NAMES) do
    local mod = model[prefix]
    local part = {}
    for name, value in pairs(tensors) do
      local rest = name:match("^" .. prefix .. "%.(.+)$")
      if rest then part[rest] = value end
    end
    if mod then mod:load_state_dict(part, {strict = true}) end
  end
  model.vocab, model.suffixes = vocab, suffixes
  return model, vocab, p
end

-- ---- reporting ----

local function majority(list)
  local sing = 0
  for _, ex in ipairs(list) do if ex.label == 1 then sing = sing + 1 end end
  return math.max(sing, #list - sing) / math.max(#list, 1)
end

local function report(model, vocab, sets, run, p)
  local rows, result = {}, {}
  local order = {"mixed", 1, 2, 3, 4, 5}
  print(string.format("\n%-22s %8s %10s %10s %10s", "test set", "lines", "accuracy", "error %", "majority"))
  for _, k in ipairs(order) do
    local list = sets.test[k]
    if list and #list > 0 then
      local acc = evaluate(model, make_batches(list, 256, vocab))
      local name = k == "mixed" and "val file, test lines" or (k .. " attractor" .. (k > 1 and "s" or ""))
      print(string.format("%-22s %8d %10.4f %10.2f %10.4f", name, #list, acc, 100 * (1 - acc), majority(list)))
      result[k == "mixed" and "test_acc" or ("acc_attr" .. k)] = acc
      rows[#rows + 1] = {k, acc}
      if k ~= "mixed" then run:log{step = k, test_acc_by_attractors = acc} end
    end
  end
  result.majority = majority(sets.test.mixed)
  local xs, ys, base = {}, {}, {}
  for k = 1, 5 do
    if result["acc_attr" .. k] then
      xs[#xs + 1], ys[#ys + 1] = k, result["acc_attr" .. k]
      base[#base + 1] = majority(sets.test[k])
    end
  end
  if #xs > 0 then
    result.plot = run:plot{file = "accuracy_by_attractors.png", title = "agreement: " .. p.cell,
      xlabel = "attractors", ylabel = "test accuracy",
      series = {{title = p.cell, x = xs, y = ys}, {title = "majority class", x = xs, y = base}}}
  end
  return result
end

-- Right and total per group (group(ex) -> key) after predicting every example of list.
local function accuracy_by(model, list, vocab, group)
  encode(list, vocab, model.suffixes)
  set_mode(model, false)
  local tally = {}
  for _, batch in ipairs(make_batches(list, 256, vocab)) do
    local pred = forward(model, batch):argmax(2)
    for b, ex in ipairs(batch.examples) do
      for _, key in ipairs({"all", group(ex)}) do
        local t = tally[key] or {right = 0, total = 0}
        tally[key] = t
        t.total = t.total + 1
        if pred:get(b, 1) == ex.label then t.right = t.right + 1 end
      end
    end
  end
  set_mode(model, true)
  return tally
end

local function pct(t) return t and t.total > 0 and t.right / t.total or 0 / 0 end

-- A fixed random source for the test suites, so every run is scored on the same sentences.
local function suite_rand(seed)
  local state = seed
  return function(n)
    state = (state * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (state >> 33) % n + 1
  end
end

-- The unseen-noun stress test: Linzen test lines whose subject (and then every noun after
-- it) is replaced by a held-out noun of the same number that no training line contains.
local function stress_report(model, vocab, sets, lexicon, train_words, result)
  local replacements = {}
  for _, kind in ipairs({"animate", "inanimate", "open_nouns"}) do
    for _, e in ipairs(lexicon.test[kind]) do
      if not e[3] and not train_words[e[1]] and not train_words[e[2]] then replacements[#replacements + 1] = e end
    end
  end
  local lines = {}
  for _, k in ipairs({"mixed", 1, 2, 3, 4, 5}) do
    for _, ex in ipairs(sets.test[k] or {}) do lines[#lines + 1] = ex end
  end
  local st = agreement.stress_test(lines, agreement.noun_numbers(lexicon), replacements, suite_rand(7))
  print(string.format("\nunseen-noun stress test (%d test lines with a found subject; %d held-out nouns)",
    #st.original, #replacements))
  print(string.format("%-28s %10s %10s %10s", "lines", "accuracy", "singular", "plural"))
  -- The placeholder mismatch: the same lines with their part-of-speech tags replaced by
  -- held-out real words, as natural text would have them.
  local rand = suite_rand(9)
  st.filled = {}
  for i, ex in ipairs(st.original) do st.filled[i] = agreement.fill_placeholders(ex, lexicon.test, rand) end
  local names = {original = "unmodified", subject = "subject replaced", all = "subject and later nouns",
    filled = "tags -> held-out words"}
  for _, key in ipairs({"original", "subject", "all", "filled"}) do
    local t = accuracy_by(model, st[key], vocab, function(ex) return ex.number == 1 and "sing" or "plur" end)
    print(string.format("%-28s %10.4f %10.4f %10.4f", names[key], pct(t.all), pct(t.sing), pct(t.plur)))
    result["stress_" .. key] = pct(t.all)
  end
end

-- The construction suite: Marvin & Linzen's constructions from words no generated
-- training sentence uses, one accuracy per construction and animacy of the head noun.
-- split "test" (the test words, result cons_*) or "val" (the validation words, result
-- val_cons_min and val_cons_mean: what settings are chosen on).
local function suite_report(model, vocab, lexicon, p, result, split)
  local grammar = grammar_module()
  local test = split == "test"
  local rand = suite_rand(test and 11 or 13)
  print(string.format("\nconstruction suite (%s nouns and verbs, %d sentences each)",
    test and "held-out test" or "validation", p.suite_size))
  print(string.format("%-24s %10s %10s", "construction", "animate", "inanimate"))
  local worst, sum, n = 1, 0, 0
  for _, name in ipairs(grammar.construction_names) do
    local accs = {}
    for _, anim in ipairs({true, false}) do
      local list = agreement.examples(grammar.construct(p.suite_size, lexicon[split],
        {constructions = {name}, animate = anim}, rand))
      local acc = pct(accuracy_by(model, list, vocab, function() return "all" end).all)
      accs[#accs + 1] = acc
      if test then result[string.format("cons_%s_%s", name, anim and "anim" or "inan")] = acc end
      worst, sum, n = math.min(worst, acc), sum + acc, n + 1
    end
    print(string.format("%-24s %10.4f %10.4f", name, accs[1], accs[2]))
  end
  result[test and "cons_min" or "val_cons_min"] = worst
  if not test then result.val_cons_mean = sum / n end
end

-- Validation accuracy by origin: the lines of the mixed file, of the attractor files, and
-- the generated sentences (training words): where the pooled validation accuracy, which
-- the attractor lines and generated sentences dominate, hides a weak part.
local function val_report(model, vocab, sets, result)
  local t = accuracy_by(model, sets.val, vocab, function(ex)
    return ex.origin == "mixed" and "mixed" or ex.origin == "generated" and "generated" or "attractors"
  end)
  print(string.format("\nvalidation by origin: mixed file %.4f (%d), attractor files %.4f (%d), generated %.4f (%d)",
    pct(t.mixed), t.mixed and t.mixed.total or 0, pct(t.attractors), t.attractors and t.attractors.total or 0,
    pct(t.generated), t.generated and t.generated.total or 0))
  result.val_mixed, result.val_attractors, result.val_generated = pct(t.mixed), pct(t.attractors), pct(t.generated)
end

-- Word by word: the probability of a plural verb after each word, and for an LSTM the cell
-- state's norm and the mean forget gate, all read from the fused layer after one forward (its
-- cell_states() and gates per step: nothing is re-run cell by cell).
local function explain(model, vocab, line)
  local words = text.tokenize_words(line)
  local ids = vocab:encode(words)
  local X = loom.zeros(#ids, 1)
  for t, id in ipairs(ids) do X:set(t, 1, id) end
  local S = model.suffixes and text.batch_matrix({X = X, examples = {{suf = model.suffixes:suffix_ids(words)}}}, "suf")
  set_mode(model, false)
  local E = embed_words(model, X, S)
  local out = model.rnn:forward(E, {lengths = {#ids}, batch = 1})
  local logits = model.out:forward(out)
  local cfg = model.rnn:config()
  local cells = cfg.kind == "LSTM" and model.rnn:cell_states() or nil
  local H = cfg.hidden_size
  local steps = {}
  for t = 1, #ids do
    -- Softmax over two classes is the logistic function of the logit difference.
    local p_plural = 1 / (1 + math.exp(logits:get(t, 1) - logits:get(t, 2)))
    local known = (vocab.stoi[words[t]] or vocab.stoi[words[t]:lower()]) ~= nil
    local step = {word = words[t], known = known, class = not known and vocab.itos[ids[t]] or nil, p_plural = p_plural,
      h_norm = out:row(t):norm()}
    if cells then
      step.c_norm = cells:row(t):norm()
      step.forget = model.rnn:gates(t):slice(1, 1, H + 1, 2 * H):mean() -- gates i | f | g | o
    end
    steps[t] = step
  end
  set_mode(model, true)
  return steps
end

-- The probe report of one prefix on stderr: P(plural) after every word.
local function probe_report(line, steps)
  local last = steps[#steps].p_plural
  io.stderr:write(string.format("# %s  (P(plural) = %.3f)\n", line, last))
  for _, s in ipairs(steps) do
    local cell_text = s.c_norm and string.format("  |c| %6.3f  forget %.3f", s.c_norm, s.forget) or ""
    io.stderr:write(string.format("#   %-14s P(plural) %.3f  |h| %.3f%s%s\n", s.word, s.p_plural,
      s.h_norm, cell_text, s.known and "" or ("  (unknown word" .. (s.class and ", " .. s.class or "") .. ")")))
  end
end

-- One label (VBZ or VBP) per non-empty line of the file ("-": standard input) on stdout,
-- nothing else there; a leading "VBZ<TAB>"/"VBP<TAB>" is dropped; with probe, the
-- word-by-word report goes to stderr.
local function predict_lines(model_path, input, probe)
  local model, vocab = load_model(model_path)
  local f, why = io.stdin, nil
  if input ~= "-" then f, why = io.open(input) end
  if not f then error("predict: cannot open " .. why, 0) end
  local n = 0
  for line in f:lines() do
    line = line:gsub("^VB[ZP]\t", ""):gsub("\r$", "")
    if line:match("%S") then
      n = n + 1
      local steps = explain(model, vocab, line)
      io.stdout:write(steps[#steps].p_plural >= 0.5 and "VBP" or "VBZ", "\n")
      if probe then probe_report(line, steps) end
    end
  end
  if f ~= io.stdin then f:close() end
  io.stdout:flush()
  return n
end

local function predict(p)
  if p.model == "" then error("predict=FILE needs model=PATH (a best.safetensors of a run)") end
  return {predicted = predict_lines(p.model, p.predict, p.probe)}
end

local experiment = loom.experiment{
  name = "agreement",
  description = "subject-verb number prediction with an LSTM, GRU or RNN, by attractors",
  params = {
    seed = 42,
    cell = {"lstm", "recurrent cell: lstm, gru or rnn"},
    hidden = {100, "hidden units of the recurrent layer"},
    embed = {50, "word embedding size"},
    epochs = {10, "passes over the training lines (early stopping may end sooner)"},
    dropout = {0.2, "dropout on the embeddings and on the final state"},
    oversample_mixed = {2, "each training line of the mixed file (numpred.val, natural text) is seen this many times an epoch"},
    batch = {32, "sentences per mini-batch"},
    lr = {0.002, "Adam's learning rate"},
    lr_schedule = {"cosine", "constant, or cosine: the learning rate falls from lr towards 0 over the epochs"},
    clip = {5.0, "gradient norm clipping threshold"},
    min_count = {2, "words seen fewer times become <unk> (or their shape/suffix class)"},
    patience = {2, "epochs without a better validation accuracy before stopping"},
    max_train = {0, "at most this many training lines (0: all, quick 16000)"},
    quick = {false, "the demo setting: 16000 training lines, thinned test sets"},
    data = {"", "the Linzen et al. data folder (empty: the bundled copy; synthetic: the generated grammar)"},
    predict = {"", "a file of sentence prefixes to classify with model= instead of training"},
    model = {"", "the best.safetensors of an earlier run, for predict="},
    probe = {false, "with predict=: P(plural) word by word on standard error"},
    threads = {1, "OpenBLAS threads (the products are small: one wastes the least)"},
    features = {"suffix", "word form: word (ids only), classes (unknown words by shape and suffix), suffix (classes plus last-1-2-3-letter embeddings)"},
    word_dropout = {0.1, "probability a training word is replaced by its unknown-word class"},
    generated = {1, "generated grammar sentences mixed in per Linzen training line"},
    constructions = {"all", "the generated constructions: all, or names joined by + (datasets/agreement.lua)"},
    open_words = {0.3, "share of the generated sentences' noun and verb slots filled from the word list, not the hand lists"},
    fill_placeholders = {0.5, "share of training POS placeholders replaced by real words of that kind"},
    suite_size = {200, "sentences per construction and animacy in the construction suite"},
    dtype = {"float64", "float32 trains in single precision (faster); float64 is the reference"},
  },
  run = function(p, run)
    -- Matrices here are small (batch 32, hidden 50): one BLAS thread does as much work as
    -- two, and spinning threads on a shared machine cost 2.5 times the CPU time.
    loom.threads(p.threads)
    if p.predict ~= "" then return predict(p) end
    local model, vocab, sets, best_path, best_val, lexicon, train_words = train(p, run)
    local best_model = load_model(best_path)
    local result = report(best_model, vocab, sets, run, p)
    stress_report(best_model, vocab, sets, lexicon, train_words, result)
    val_report(best_model, vocab, sets, result)
    suite_report(best_model, vocab, lexicon, p, result, "val")
    suite_report(best_model, vocab, lexicon, p, result, "test")
    result.best_val_acc = best_val
    result.model = best_path
    local demo = {"the keys to the cabinet", "the key to the cabinets",
      "the authors that the senator admires"}
    print("\nword by word (P(plural verb) after each word):")
    for _, line in ipairs(demo) do
      local steps = explain(best_model, vocab, line)
      local parts = {}
      for _, s in ipairs(steps) do parts[#parts + 1] = string.format("%s %.2f", s.word, s.p_plural) end
      print("  " .. table.concat(parts, "  "))
    end
    return result
  end,
}

-- Run directly, the script is a predictor whose standard output holds the labels alone:
--   loom scripts/experiments/agreement.lua predict PREFIXES|- --model PATH [--probe]
require("loom.experiment").command("predict", {
  usage = "usage: loom scripts/experiments/agreement.lua predict FILE|- --model PATH [--probe]",
  options = {"model"}, flags = {"probe"}, required = {"model"}, prefix = "agreement: ",
  run = function(input, opts) predict_lines(opts.model, input, opts.probe) end,
})

return experiment
