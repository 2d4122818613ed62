-- speech.lua: spoken digit recognition, the course's RNN application: Kaldi MFCC (+ deltas,
-- per-utterance CMVN) sequences -> LSTM -> Linear on the final states (or the mean of all
-- states), trained with Adam. FSDD with its official split (takes 0-4 test) when present,
-- else synthetic espeak-ng digits generated once into a cache folder.
--   loom run scripts/experiments/speech.lua                 (full: FSDD, ~97-99% test accuracy)
--   loom run scripts/experiments/speech.lua quick=true      (the demo setting, under a minute)
-- Not a speech recogniser for continuous speech: one word per file, ten classes.
local loom = require "loom"
local nn, audio, seq = loom.nn, loom.audio, loom.seq

local RATE = 8000
-- Where synthetic digits are generated once (outside the project: never commit datasets).
local CACHE = (os.getenv("XDG_CACHE_HOME") or ((os.getenv("HOME") or ".") .. "/.cache"))
  .. "/loom/spoken_digits"

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- {path, digit, speaker, take} for every {digit}_{speaker}_{take}.wav in dir, sorted by name.
local function list_recordings(dir)
  local items = {}
  local pipe = io.popen("ls -1 " .. shell_quote(dir) .. " 2>/dev/null")
  for name in pipe:lines() do
    local digit, speaker, take = name:match("^(%d)_(.+)_(%d+)%.wav$")
    if digit then
      items[#items + 1] = {path = dir .. "/" .. name, digit = tonumber(digit), speaker = speaker,
        take = tonumber(take)}
    end
  end
  pipe:close()
  table.sort(items, function(a, b) return a.path < b.path end)
  return items
end

-- FSDD when p.data holds it, else the synthetic set (generated into p.cache on first use).
local function recordings(p)
  -- The default is FSDD from loom's dataset cache (`loom data fetch fsdd`).
  local missing
  if p.data == "" and not p.synthetic then
    local fsdd
    fsdd, missing = loom.data.path("fsdd")
    p.data = fsdd and (fsdd .. "/recordings") or ""
  end
  local items = p.data ~= "" and list_recordings(p.data) or {}
  if #items > 0 and not p.synthetic then return items, "fsdd" end
  if p.data ~= "" and not p.synthetic then
    error("speech: no {digit}_{speaker}_{take}.wav recordings in " .. p.data, 0)
  end
  local digits = dofile(loom.data.generator("spoken_digits.lua"))
  local want = p.speakers * 10 * p.takes
  local dir = string.format("%s/s%d-t%d-seed%d", p.cache, p.speakers, p.takes, p.seed)
  if missing then print("speech: " .. missing .. "; using synthetic digits spoken by espeak-ng") end
  items = list_recordings(dir)
  if #items < want then
    print(string.format("speech: generating %d synthetic digits with espeak-ng into %s", want, dir))
    digits.generate{out = dir, speakers = p.speakers, takes = p.takes, seed = p.seed}
    items = list_recordings(dir)
  end
  return items, "synthetic"
end

-- The feature sequence of one file: T x 13 MFCC, x3 with deltas, normalised per utterance.
local function features(path, p)
  local x = assert(audio.load(path, {rate = RATE}))
  local f = audio.mfcc(x, RATE)
  if f:rows() == 0 then return nil end
  if p.deltas then f = audio.deltas(f, 2) end
  if p.cmvn then f = audio.cmvn(f) end
  return f
end

-- The pooled representation (B x D) of a batch and a function mapping its gradient back
-- to lstm:backward's arguments.
local function pooling(p, lstm_out, h_T, lengths, layers, dirs, hidden)
  local B = #lengths
  if p.pool == "mean" then
    -- mean over each sequence's own steps as one product: P (B x T*B) * out
    local T = lstm_out:rows() // B
    local P = loom.zeros(B, T * B)
    for b = 1, B do
      for t = 1, lengths[b] do P:set(b, (t - 1) * B + b, 1 / lengths[b]) end
    end
    return P * lstm_out, function(dpooled) return P:t() * dpooled, nil end
  end
  -- the last layer's final state of each direction, side by side
  local parts = {}
  for d = 1, dirs do
    local r0 = ((layers - 1) * dirs + (d - 1)) * B
    parts[d] = h_T:slice(r0 + 1, r0 + B, 1, hidden)
  end
  local pooled = dirs == 1 and parts[1]:copy() or loom.hcat(parts)
  return pooled, function(dpooled)
    local dh = loom.zeros(layers * dirs * B, hidden)
    for d = 1, dirs do
      local r0 = ((layers - 1) * dirs + (d - 1)) * B
      dh:slice(r0 + 1, r0 + B, 1, hidden):copy_(dpooled:slice(1, B, (d - 1) * hidden + 1, d * hidden))
    end
    return nil, dh
  end
end

local function targets_of(labels, idx)
  local y = loom.zeros(#idx, 1)
  for k, i in ipairs(idx) do y:set(k, 1, labels[i]) end
  return y
end

-- Predicted classes (1..10) of every sequence in feats.
local function predict(model, feats, batch)
  model.lstm:eval()
  local predictions = {}
  local order = {}
  for i = 1, #feats do order[i] = i end
  table.sort(order, function(a, b) return feats[a]:rows() < feats[b]:rows() end)
  for s = 1, #order, batch do
    local idx = table.move(order, s, math.min(s + batch - 1, #order), 1, {})
    local X, lengths = seq.batch(feats, idx)
    local logits = model.forward(X, lengths)
    local best = logits:argmax(2)
    for k, i in ipairs(idx) do predictions[i] = math.tointeger(best:get(k, 1)) end
  end
  model.lstm:train()
  return predictions
end

local function accuracy(predictions, labels)
  local right = 0
  for i = 1, #labels do if predictions[i] == labels[i] then right = right + 1 end end
  return right / #labels
end

local function confusion_text(C)
  local lines = {"true\\pred " .. string.rep("%4d", 10):format(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)}
  for d = 0, 9 do
    local row = {}
    for e = 0, 9 do row[#row + 1] = string.format("%4d", C[d][e]) end
    lines[#lines + 1] = string.format("%9d %s", d, table.concat(row))
  end
  return table.concat(lines, "\n")
end

-- The demo setting (quick), the pooling check and the BLAS threads.
local function settings(p)
  if p.quick then
    -- the demo setting: fewer epochs, a smaller network, a smaller synthetic set
    p.epochs, p.hidden, p.speakers, p.takes = math.min(p.epochs, 6), math.min(p.hidden, 32), 8, 8
  end
  loom.threads(p.threads)
  if p.pool ~= "last" and p.pool ~= "mean" then error("speech: pool must be 'last' or 'mean'") end
end

-- Features of every recording, split into training and test sets: the official split (takes
-- 0-4 test), or every take of the held-out speakers as the test set (speaker-independent).
local function load_split(p)
  local t0 = os.time()
  local items, source = recordings(p)
  local held_out = {}
  for name in p.holdout:gmatch("[^,%s]+") do held_out[name] = true end
  local train, test = {feats = {}, labels = {}, items = {}}, {feats = {}, labels = {}, items = {}}
  for _, item in ipairs(items) do
    local set = item.take <= 4 and test or train
    if next(held_out) then set = held_out[item.speaker] and test or train end
    local f = features(item.path, p)
    if f then
      set.feats[#set.feats + 1] = f
      set.labels[#set.labels + 1] = item.digit + 1
      set.items[#set.items + 1] = item
    end
  end
  if #test.feats == 0 or #train.feats == 0 then
    error(string.format("speech: %d training and %d test utterances (does holdout name speakers of the data?)",
      #train.feats, #test.feats))
  end
  print(string.format("speech: %s, %d training and %d test utterances, %d features per frame (%.0f s)",
    source, #train.feats, #test.feats, train.feats[1]:cols(), os.difftime(os.time(), t0)))
  return train, test, source
end

-- LSTM (optionally bidirectional) -> pooling -> Linear over 10 digits, with Adam and a cosine
-- schedule. model.forward(X, lengths) -> logits; model.step(X, lengths, y) -> loss, hits.
local function build_model(p, F)
  local dirs = p.bidirectional and 2 or 1
  local lstm = nn.LSTM(F, p.hidden, {layers = p.layers, bidirectional = p.bidirectional})
  local head = nn.Linear(p.hidden * dirs, 10)
  local loss = nn.CrossEntropyLoss()
  local params = {}
  for _, m in ipairs{lstm, head} do
    for _, q in ipairs(m:parameters()) do params[#params + 1] = q end
  end
  local opt = loom.optim.adam(params, {lr = p.lr})
  local model = {lstm = lstm, schedule = loom.optim.cosine_lr(opt, {t_max = p.epochs, eta_min = p.lr / 20})}
  function model.forward(X, lengths)
    local out, h_T = lstm:forward(X, {lengths = lengths})
    return head:forward((pooling(p, out, h_T, lengths, p.layers, dirs, p.hidden)))
  end
  function model.step(X, lengths, y)
    opt:zero_grad()
    local out, h_T = lstm:forward(X, {lengths = lengths})
    local pooled, back = pooling(p, out, h_T, lengths, p.layers, dirs, p.hidden)
    local logits = head:forward(pooled)
    local value = loss:forward(logits, y)
    local best, hits = logits:argmax(2), 0
    for k = 1, y:rows() do if best:get(k, 1) == y:get(k, 1) then hits = hits + 1 end end
    local dout, dh_T = back(head:backward(pooled, loss:backward(logits, y)))
    lstm:backward(dout, {dh_T = dh_T, input_grad = false})
    loom.optim.clip_grad_norm(params, p.clip)
    opt:step()
    return value, hits
  end
  return model
end

-- Epochs over length buckets; logs loss and training accuracy. Returns the seconds taken.
local function train_model(model, train, p, run)
  local t0 = os.time()
  for epoch = 1, p.epochs do
    local total, count, right = 0, 0, 0
    for _, idx in ipairs(seq.buckets(train.feats, p.batch, {shuffle = true})) do
      local X, lengths = seq.batch(train.feats, idx)
      local value, hits = model.step(X, lengths, targets_of(train.labels, idx))
      total, count, right = total + value * #idx, count + #idx, right + hits
    end
    model.schedule:step()
    run:log{step = epoch, loss = total / count, train_accuracy = right / count}
    run:progress(epoch, p.epochs)
  end
  return os.difftime(os.time(), t0)
end

-- The confusion matrix C[true][predicted] (digits 0..9) and the accuracy of each speaker.
local function tally(test, predictions)
  local C, by_speaker, speakers = {}, {}, {}
  for d = 0, 9 do
    C[d] = {}
    for e = 0, 9 do C[d][e] = 0 end
  end
  for i, item in ipairs(test.items) do
    C[test.labels[i] - 1][predictions[i] - 1] = C[test.labels[i] - 1][predictions[i] - 1] + 1
    local s = by_speaker[item.speaker]
    if not s then
      s = {right = 0, total = 0}
      by_speaker[item.speaker] = s
      speakers[#speakers + 1] = item.speaker
    end
    s.total = s.total + 1
    if predictions[i] == test.labels[i] then s.right = s.right + 1 end
  end
  table.sort(speakers)
  return C, by_speaker, speakers
end

-- Print accuracy, confusion matrix and per-speaker accuracy; draw the confusion matrix.
local function report(test, predictions, source, train_seconds, run)
  local test_accuracy = accuracy(predictions, test.labels)
  local C, by_speaker, speakers = tally(test, predictions)
  print(string.format("\ntest accuracy %.2f%% (%d utterances, %s), training %d s",
    100 * test_accuracy, #test.labels, source, train_seconds))
  print("confusion matrix (rows: true digit, columns: predicted):")
  print(confusion_text(C))
  print("per-speaker test accuracy:")
  local speaker_summary = {}
  for _, name in ipairs(speakers) do
    local s = by_speaker[name]
    print(string.format("  %-22s %6.2f%% (%d/%d)", name, 100 * s.right / s.total, s.right, s.total))
    speaker_summary[#speaker_summary + 1] = string.format("%s=%.3f", name, s.right / s.total)
  end
  local rows, digits = {}, {}
  for d = 0, 9 do
    digits[d + 1], rows[d + 1] = tostring(d), {}
    for e = 0, 9 do rows[d + 1][e + 1] = C[d][e] end
  end
  local figure
  if require("loom.runs.plot").available() then
    figure = run:heatmap{file = "confusion.png", values = rows, xlabels = digits, ylabels = digits,
      xlabel = "predicted digit", ylabel = "true digit", cblabel = "utterances",
      title = string.format("speech (%s): test accuracy %.2f%%", source, 100 * test_accuracy)}
    print("confusion matrix figure: " .. figure)
  end
  return {test_accuracy = test_accuracy, per_speaker = table.concat(speaker_summary, " "),
    confusion_png = figure or "none (gnuplot not available)"}
end

return loom.experiment{
  name = "speech",
  description = "spoken digits: MFCC sequences -> LSTM -> Linear, FSDD official split",
  params = {
    seed = 42, quick = false,
    data = "", synthetic = false,
    cache = CACHE, speakers = 12, takes = 20,
    hidden = 64, layers = 1, bidirectional = true, pool = "last",
    deltas = true, cmvn = true, holdout = "",
    epochs = 15, batch = 32, lr = 0.003, clip = 5.0,
    threads = 1, -- OpenBLAS threads: the products are small, one thread wastes the least
  },
  run = function(p, run)
    settings(p)
    local train, test, source = load_split(p)
    local model = build_model(p, train.feats[1]:cols())
    local train_seconds = train_model(model, train, p, run)
    local predictions = predict(model, test.feats, 64)
    local result = report(test, predictions, source, train_seconds, run)
    run:log{step = p.epochs, test_accuracy = result.test_accuracy}
    result.dataset, result.train_seconds = source, train_seconds
    result.train_utterances, result.test_utterances = #train.feats, #test.feats
    return result
  end,
}
