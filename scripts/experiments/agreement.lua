-- agreement.lua: subject-verb number prediction (Linzen, Dupoux & Goldberg 2016): an
-- Embedding -> LSTM (or GRU, RNN) -> Linear on the final state predicts whether the next
-- verb is singular (VBZ) or plural (VBP) from the sentence prefix; test accuracy is
-- reported by number of attractors. With predict=FILE and model=CHECKPOINT it loads a
-- trained model and explains its predictions word by word instead of training.
-- Not the data: loom.agreement (real files and split) and datasets/agreement.lua (grammar).
local loom = require "loom"
local nn, optim = loom.nn, loom.optim
local text = require "loom.text"
local agreement = require "loom.agreement"


local CELLS = {lstm = nn.LSTM, gru = nn.GRU, rnn = nn.RNN}

-- ---- the model ----

local function build_model(p, vocab_size)
  local cell = CELLS[p.cell]
  if not cell then error("param cell must be lstm, gru or rnn, got '" .. p.cell .. "'") end
  return {
    embed = nn.Embedding(vocab_size, p.embed),
    drop_in = nn.Dropout(p.dropout),
    rnn = cell(p.embed, p.hidden),
    drop_out = nn.Dropout(p.dropout),
    out = nn.Linear(p.hidden, 2),
  }
end

local function model_modules(m) return {m.embed, m.drop_in, m.rnn, m.drop_out, m.out} end

local function model_parameters(m)
  local params = {}
  for _, mod in ipairs(model_modules(m)) do
    for _, q in ipairs(mod:parameters()) do params[#params + 1] = q end
  end
  return params
end

-- Logits (B x 2) for a batch; keeps what backward needs in the modules.
local function forward(m, batch)
  batch.E = m.embed:forward(batch.X)
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
  m.embed:backward(batch.X, dE, false)
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

local function load_data(p)
  if p.data ~= "synthetic" then
    local dir = p.data ~= "" and p.data or loom.data.require("linzen-agreement")
    local sets, err = agreement.load_linzen(dir)
    if sets then return sets, dir end
    error("cannot load the agreement data: " .. err, 0)
  end
  local grammar = dofile(loom.data.generator("agreement.lua"))
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

local function encode(list, vocab)
  for _, ex in ipairs(list) do ex.ids = vocab:encode(ex.words) end
  return list
end

-- ---- training ----

local function train(p, run)
  local sets, source = load_data(p)
  local limit = p.max_train > 0 and p.max_train or (p.quick and 16000 or 0)
  sets.train = thin(sets.train, limit)
  sets.val = thin(sets.val, p.quick and 1000 or 0)
  for k, list in pairs(sets.test) do sets.test[k] = thin(list, p.quick and 1000 or 0) end
  local words = {}
  for i, ex in ipairs(sets.train) do words[i] = ex.words end
  local vocab = text.vocab(words, {min_count = p.min_count})
  print(string.format("data: %s; %d train, %d validation; vocabulary %d (min_count %d)",
    source, #sets.train, #sets.val, vocab:size(), p.min_count))
  encode(sets.train, vocab)
  -- Lines of the mixed file are the natural distribution the mixed test set comes from,
  -- and the fewest; oversample_mixed = k shows each of them k times an epoch.
  local n = #sets.train -- after the vocabulary, so its counts see each line once
  for i = 1, n do
    local ex = sets.train[i]
    if ex.origin == "mixed" then
      for _ = 2, p.oversample_mixed do sets.train[#sets.train + 1] = ex end
    end
  end
  encode(sets.val, vocab)
  for _, list in pairs(sets.test) do encode(list, vocab) end

  local model = build_model(p, vocab:size())
  local params = model_parameters(model)
  local opt = optim.adam(params, {lr = p.lr})
  local loss_fn = nn.CrossEntropyLoss()
  local train_batches = text.batches(sets.train, p.batch, vocab.pad)
  local val_batches = text.batches(sets.val, 256, vocab.pad)
  local best_path = run:artifact("best.safetensors")
  local epochs = p.quick and math.min(p.epochs, 3) or p.epochs
  local best, since_best, step = -1, 0, 0
  for epoch = 1, epochs do
    local order = loom.permutation(#train_batches)
    local total_loss = 0
    for i, bi in ipairs(order) do
      local batch = train_batches[bi]
      opt:zero_grad()
      local logits = forward(model, batch)
      local loss = loss_fn:forward(logits, batch.labels)
      backward(model, batch, loss_fn:backward(logits, batch.labels))
      optim.clip_grad_norm(params, p.clip)
      opt:step()
      total_loss = total_loss + loss
      step = step + 1
      if i % 50 == 0 then run:log{step = step, loss = total_loss / i} end
      run:progress((epoch - 1) * #order + i, epochs * #order)
    end
    local val_acc = evaluate(model, val_batches)
    run:log{step = step, val_acc = val_acc, train_loss = total_loss / #order}
    print(string.format("epoch %d: train loss %.4f, validation accuracy %.4f", epoch,
      total_loss / #order, val_acc))
    if val_acc > best then
      best, since_best = val_acc, 0
      local tensors = {}
      for prefix, mod in pairs(model) do
        for name, value in pairs(mod:state_dict()) do tensors[prefix .. "." .. name] = value end
      end
      loom.save(best_path, tensors, {vocab = vocab:serialize(), cell = p.cell,
        hidden = tostring(p.hidden), embed = tostring(p.embed)})
    else
      since_best = since_best + 1
      if since_best >= p.patience then
        print(string.format("early stop: no improvement for %d epochs", p.patience))
        break
      end
    end
  end
  return model, vocab, sets, best_path, best
end

local function load_model(path)
  local tensors, meta = loom.load(path)
  if not tensors then error("cannot load model: " .. meta) end
  local vocab = text.vocab_from_string(meta.vocab)
  local p = {cell = meta.cell, hidden = tonumber(meta.hidden), embed = tonumber(meta.embed)}
  local model = build_model(p, vocab:size())
  for prefix, mod in pairs(model) do
    local part = {}
    for name, value in pairs(tensors) do
      local rest = name:match("^" .. prefix .. "%.(.+)$")
      if rest then part[rest] = value end
    end
    mod:load_state_dict(part, {strict = true})
  end
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
      local acc = evaluate(model, text.batches(list, 256, vocab.pad))
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

-- Word by word: the probability of a plural verb after each word, and for an LSTM the cell
-- state's norm and the mean forget gate, all read from the fused layer after one forward (its
-- cell_states() and gates per step: nothing is re-run cell by cell).
local function explain(model, vocab, line)
  local words = text.tokenize(line)
  local ids = vocab:encode(words)
  local X = loom.zeros(#ids, 1)
  for t, id in ipairs(ids) do X:set(t, 1, id) end
  set_mode(model, false)
  local E = model.embed:forward(X)
  local out = model.rnn:forward(E, {lengths = {#ids}, batch = 1})
  local logits = model.out:forward(out)
  local cfg = model.rnn:config()
  local cells = cfg.kind == "LSTM" and model.rnn:cell_states() or nil
  local H = cfg.hidden_size
  local steps = {}
  for t = 1, #ids do
    -- Softmax over two classes is the logistic function of the logit difference.
    local p_plural = 1 / (1 + math.exp(logits:get(t, 1) - logits:get(t, 2)))
    local step = {word = words[t], known = ids[t] ~= vocab.unk, p_plural = p_plural,
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

local function predict(p)
  if p.model == "" then error("predict=FILE needs model=PATH (a best.safetensors of a run)") end
  local model, vocab = load_model(p.model)
  local f = assert(io.open(p.predict))
  local n = 0
  for line in f:lines() do
    line = line:gsub("^VB[ZP]\t", "")
    if line:match("%S") then
      n = n + 1
      local steps = explain(model, vocab, line)
      local last = steps[#steps].p_plural
      print(last >= 0.5 and "VBP" or "VBZ")
      if p.verbose then
        io.stderr:write(string.format("# %s  (P(plural) = %.3f)\n", line, last))
        for _, s in ipairs(steps) do
          local cell_text = s.c_norm and string.format("  |c| %6.3f  forget %.3f", s.c_norm, s.forget) or ""
          io.stderr:write(string.format("#   %-14s P(plural) %.3f  |h| %.3f%s%s\n", s.word, s.p_plural,
            s.h_norm, cell_text, s.known and "" or "  (unknown word)"))
        end
      end
    end
  end
  f:close()
  return {predicted = n}
end

return loom.experiment{
  name = "agreement",
  description = "subject-verb number prediction with an LSTM, GRU or RNN, by attractors",
  params = {
    seed = 42, cell = "lstm", hidden = 50, embed = 50, epochs = 10, dropout = 0.2, oversample_mixed = 1, batch = 32, lr = 0.002,
    clip = 5.0, min_count = 2, patience = 2, max_train = 0, quick = false, data = "",
    predict = "", model = "", verbose = true,
  },
  run = function(p, run)
    if p.predict ~= "" then return predict(p) end
    local model, vocab, sets, best_path, best_val = train(p, run)
    local best_model = load_model(best_path)
    local result = report(best_model, vocab, sets, run, p)
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
