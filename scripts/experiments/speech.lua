-- speech.lua: spoken digit recognition, the course's RNN application: Kaldi MFCC (+ deltas,
-- CMVN by speaker) sequences -> [Conv1d front (model=crnn) ->] LSTM -> Linear on the final
-- states (or the mean of all states), trained with Adam on augmented audio (speed, VTLP,
-- delay, white/babble noise, SpecAugment). FSDD with its official split (takes 0-4 test), one
-- held-out speaker, or leave-one-speaker-out over all six (protocol=loso); espeak-ng voices
-- join FSDD's training set (espeak=0.5 of its size by default) or are the other domain
-- (domain=fsdd->espeak).
--   loom run scripts/experiments/speech.lua                 (full: FSDD official split)
--   loom run scripts/experiments/speech.lua protocol=loso   (six folds, mean, sd, per speaker)
--   loom run scripts/experiments/speech.lua quick=true      (the demo setting, under a minute)
-- Not a speech recogniser for continuous speech: one word per file, ten classes.
local loom = require "loom"
local nn, audio, seq = loom.nn, loom.audio, loom.seq

local RATE = 8000
-- Where synthetic digits are generated once (outside the project: never commit datasets).
local CACHE = (os.getenv("XDG_CACHE_HOME") or ((os.getenv("HOME") or ".") .. "/.cache"))
  .. "/loom/spoken_digits"

-- Whether this run's espeak was given (set by adjust): the default mixes espeak-ng voices
-- in when espeak-ng is there and trains on FSDD alone when it is not; a given one insists.
local espeak_given = false

-- m in the run's dtype (float32 runs convert each batch once; float64 ones pass it through).
local function in_dtype(m, p) return p.dtype == "float32" and m:float() or m end

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

-- datasets/spoken_digits.lua, the espeak-ng generator.
local function spoken_digits() return dofile(loom.data.generator("spoken_digits.lua")) end

-- A progress callback for spoken_digits.generate: a line every 10% of the files.
local function generation_progress()
  local t0 = os.time()
  return function(k, n)
    if k == n or k % math.max(1, n // 10) == 0 then
      print(string.format("speech: %d / %d generated (%.0f s)", k, n, os.difftime(os.time(), t0)))
    end
  end
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
  local digits = spoken_digits()
  local want = p.speakers * 10 * p.takes
  local dir = string.format("%s/s%d-t%d-seed%d", p.cache, p.speakers, p.takes, p.seed)
  if missing then print("speech: " .. missing .. "; using synthetic digits spoken by espeak-ng") end
  items = list_recordings(dir)
  if #items < want then
    print(string.format("speech: generating %d synthetic digits with espeak-ng into %s", want, dir))
    digits.generate{out = dir, speakers = p.speakers, takes = p.takes, seed = p.seed, progress = generation_progress()}
    items = list_recordings(dir)
  end
  return items, "synthetic"
end

-- Deltas and per-utterance normalisation of a T x 13 MFCC (or log mel) sequence (with cmvn =
-- "speaker" the normalisation comes later, by speaker_cmvn).
local function finish(f, p)
  if p.deltas then f = audio.deltas(f, 2) end
  if p.cmvn == "utterance" then f = audio.cmvn(f) end
  return f
end

-- Speaker CMVN (cmvn = "speaker", as Kaldi's recipes normalise by speaker): each utterance of
-- set.feats (deltas, not yet normalised) is replaced by (f - mean) / sd with the mean and
-- standard deviation of every frame its speaker has in the set. Unlike per-utterance CMVN this
-- keeps what the word adds to the voice: a short word's own average spectrum ("six" is mostly
-- /s/, "seven" voiced) is removed with per-utterance statistics. The test speaker's statistics
-- come from its own (unlabelled) utterances. Every voice's statistics include the prior (the
-- training set's, as 200 frames: Kaldi's online CMVN), so a voice heard for one word is
-- normalised mostly by the prior and one heard for minutes by its own. set.norm[i] keeps what
-- a perturbed copy of utterance i needs (renormalise).
local function speaker_cmvn(set, prior)
  local lists, stats = {}, {}
  for i, item in ipairs(set.items) do
    lists[item.speaker] = lists[item.speaker] or {}
    table.insert(lists[item.speaker], set.feats[i])
  end
  for speaker, list in pairs(lists) do stats[speaker] = audio.cmvn_stats(list, {prior = prior}) end
  set.norm = {}
  for i, item in ipairs(set.items) do
    local s = stats[item.speaker]
    set.norm[i] = {mean = s.mean, sd = s.sd, own = set.feats[i]:mean(1)}
    set.feats[i] = audio.cmvn(set.feats[i], {mean = s.mean, sd = s.sd})
  end
end

-- The features f of a perturbed copy of utterance i of set, normalised as the clean one: the
-- perturbation's shift of the mean is removed, the clean utterance's offset from its speaker
-- kept. Per-utterance (or no) CMVN has already happened in finish.
local function renormalise(set, i, f)
  local n = set.norm and set.norm[i]
  if not n then return f end
  return audio.cmvn(f, {mean = n.mean + f:mean(1) - n.own, sd = n.sd})
end

-- The feature sequence of samples x: T x 13 MFCC or T x mel_bins log mel (through a
-- filterbank warped by alpha when VTLP is on), x3 with deltas, normalised per utterance when
-- cmvn = "utterance" (by speaker later otherwise); nil when x is shorter than a frame.
local function features_of(x, p, alpha)
  if x:rows() < 200 then return nil end
  local opts = p.features == "fbank" and {kind = "fbank", num_mel_bins = p.mel_bins} or nil
  local f
  if alpha and alpha ~= 1 then f = audio.vtlp(x, RATE, alpha, opts)
  elseif p.features == "fbank" then f = audio.fbank(x, RATE, {num_mel_bins = p.mel_bins})
  else f = audio.mfcc(x, RATE) end
  return finish(f, p)
end

-- One random perturbation in the spectral domain (augment = "spectral") of the utterance
-- whose spectra are s: a speed factor, a VTLP warp, white or babble noise (babble: three other
-- training utterances, never a held-out voice), then deltas and CMVN.
local function spectral_features(s, p, aug, pool)
  local o = {kind = p.features, num_mel_bins = p.features == "fbank" and p.mel_bins or 23}
  if #aug.speeds > 0 then o.speed = aug.speeds[loom.random_int(#aug.speeds)] end
  if p.vtlp > 0 then o.alpha = 1 - p.vtlp + 2 * p.vtlp * loom.rand(1, 1):get(1, 1) end
  if p.tempo > 0 then o.tempo = 1 - p.tempo + 2 * p.tempo * loom.rand(1, 1):get(1, 1) end
  if #aug.noises > 0 and loom.rand(1, 1):get(1, 1) < p.noise_prob then
    local kind = aug.noises[loom.random_int(#aug.noises)]
    if kind == "white" then
      -- white noise's spectra, made the first time: 4 s of it, cut at a random frame each time
      aug.white = aug.white or audio.spectra(loom.randn(4 * RATE, 1), RATE)
      o.noise = aug.white
    else
      o.noise = {pool[loom.random_int(#pool)], pool[loom.random_int(#pool)], pool[loom.random_int(#pool)]}
    end
    o.snr = aug.snr[1] + ((aug.snr[2] or aug.snr[1]) - aug.snr[1]) * loom.rand(1, 1):get(1, 1)
  end
  return finish(audio.perturbed(s, o), p)
end

local function uniform(a, b) return a + (b - a) * loom.rand(1, 1):get(1, 1) end

-- Numbers of a comma-separated param ("0.9,1.0,1.1" -> {0.9, 1, 1.1}); {} for "".
local function numbers(text, name)
  local list = {}
  for v in tostring(text):gmatch("[^,%s]+") do
    list[#list + 1] = tonumber(v) or error(string.format("speech: %s must list numbers, got '%s'", name, text), 0)
  end
  return list
end

-- Babble: the sum of `count` other training utterances, each at unit power, from a random
-- point of each, cut or zero-padded to n samples.
local function babble(pool, n, count)
  local sum = loom.zeros(n, 1)
  for _ = 1, count do
    local other = pool[loom.random_int(#pool)]
    local rms = math.sqrt(other:dot(other) / math.max(1, other:rows()))
    local len = math.min(n, other:rows())
    if rms > 0 and len > 0 then
      local from = loom.random_int(other:rows() - len + 1)
      sum:slice(1, len, 1, 1):add_(other:slice(from, from + len - 1, 1, 1) / rms)
    end
  end
  return sum
end

-- One random perturbation of training samples x (speed, delay, noise) and the VTLP warp to
-- compute its features with; `pool` holds the training samples (babble's voices). `speed`
-- forces a speed factor (the copies cycle through them).
local function perturb(x, p, aug, pool, speed)
  speed = speed or (#aug.speeds > 0 and aug.speeds[loom.random_int(#aug.speeds)])
  if speed and speed ~= 1 then x = audio.speed(x, speed) end
  if p.shift > 0 then
    -- a random delay inside added silence: the word moves, nothing is cut
    local room = math.floor(p.shift * RATE)
    local delay = loom.random_int(room + 1) - 1
    x = audio.shift(loom.vcat{x, loom.zeros(room, 1)}, delay)
  end
  if #aug.noises > 0 and uniform(0, 1) < p.noise_prob then
    local kind = aug.noises[loom.random_int(#aug.noises)]
    local noise = kind == "white" and loom.randn(x:rows(), 1) or babble(pool, x:rows(), 3)
    x = audio.add_noise(x, noise, uniform(aug.snr[1], aug.snr[2] or aug.snr[1]))
  end
  local alpha = p.vtlp > 0 and uniform(1 - p.vtlp, 1 + p.vtlp) or nil
  return x, alpha
end

-- The augmentation settings of p, checked once: speeds, noise kinds, SNR range.
local function augmentation(p)
  local aug = {speeds = numbers(p.speed, "speed"), noises = {}, snr = numbers(p.snr, "snr")}
  for kind in p.noise:gmatch("[^,%s]+") do
    if kind ~= "white" and kind ~= "babble" then
      error("speech: noise must list 'white' and/or 'babble', got '" .. p.noise .. "'", 0)
    end
    aug.noises[#aug.noises + 1] = kind
  end
  if #aug.noises > 0 and #aug.snr == 0 then error("speech: noise needs an snr range such as snr=5,20", 0) end
  if #aug.speeds == 1 and aug.speeds[1] == 1 then aug.speeds = {} end
  aug.waveform = #aug.speeds > 0 or p.shift > 0 or #aug.noises > 0 or p.vtlp > 0 or p.tempo > 0
  aug.spectral = aug.waveform and p.augment == "spectral"
  if aug.spectral then
    if p.shift > 0 then error("speech: shift needs augment=waveform (a delay in silence is a waveform edit)", 0) end
  elseif p.tempo > 0 then
    error("speech: tempo needs augment=spectral", 0)
  end
  return aug
end

-- Kaldi's way with perturbations of the waveform: `copies` perturbed copies of every
-- training utterance made once (the copies cycle through the speed factors; warp, delay and
-- noise drawn for each), of which each epoch draws one. Babble comes from the training set
-- only, so a held-out voice is never heard. Returns the CPU seconds it took.
local function perturbed_copies(train, p, aug)
  if not aug.waveform or aug.spectral or p.copies <= 0 then return 0 end
  local t0 = os.clock()
  train.copies = {}
  for i, x in ipairs(train.samples) do
    local list = {}
    for c = 1, p.copies do
      local speed = #aug.speeds > 0 and aug.speeds[(c - 1) % #aug.speeds + 1] or nil
      local y, alpha = perturb(x, p, aug, train.samples, speed)
      local f = features_of(y, p, alpha)
      list[c] = f and renormalise(train, i, f) or train.feats[i]
    end
    train.copies[i] = list
  end
  return os.clock() - t0
end

-- Features of every training utterance for one epoch: one of its perturbed copies, or (copies
-- = 0) perturbed afresh, or the clean features; then SpecAugment masks. Returns them and the
-- CPU seconds it took.
local function epoch_features(train, p, aug)
  if not aug.waveform and not p.specaug then return train.feats, 0 end
  local t0 = os.clock()
  local feats = {}
  for i, x in ipairs(train.samples) do
    local f = train.feats[i]
    if aug.spectral then
      f = renormalise(train, i, spectral_features(train.spectra[i], p, aug, train.spectra))
    elseif train.copies then
      f = train.copies[i][loom.random_int(#train.copies[i])]
    elseif aug.waveform then
      local y, alpha = perturb(x, p, aug, train.samples)
      local g = features_of(y, p, alpha)
      f = g and renormalise(train, i, g) or f
    end
    if p.specaug then
      f = audio.spec_augment(f, {time_masks = 2, time_width = p.time_mask, freq_masks = 2, freq_width = p.freq_mask})
    end
    feats[i] = f
  end
  return feats, os.clock() - t0
end

local function targets_of(labels, idx)
  local y = loom.zeros(#idx, 1)
  for k, i in ipairs(idx) do y:set(k, 1, labels[i]) end
  return y
end

-- The class probabilities (#feats x 10) of every sequence in feats, added into sum when given.
local function probabilities(model, feats, batch, sum)
  model.train(false)
  sum = sum or loom.zeros(#feats, 10)
  local order = {}
  for i = 1, #feats do order[i] = i end
  table.sort(order, function(a, b) return feats[a]:rows() < feats[b]:rows() end)
  local softmax = nn.Softmax()
  for s = 1, #order, batch do
    local idx = table.move(order, s, math.min(s + batch - 1, #order), 1, {})
    local X, lengths = seq.batch(feats, idx)
    local prob = softmax:forward(model.forward(X, lengths):double())
    for k, i in ipairs(idx) do sum:row(i):add_(prob:row(k)) end
  end
  model.train(true)
  return sum
end

-- Predicted classes (1..10) of every sequence of set: of set.feats, or (test_warps) the class
-- of the summed probabilities over the utterances' features through each warped filterbank,
-- made from set.samples (a voice the model never heard may sit better at another warp).
local function predict(model, set, batch, p)
  local feats = set.feats
  local warps = numbers(p.test_warps or "", "test_warps")
  local sum = #warps == 0 and probabilities(model, feats, batch) or loom.zeros(#feats, 10)
  for _, alpha in ipairs(warps) do
    local warped = {}
    for i, x in ipairs(set.samples) do
      warped[i] = alpha == 1 and feats[i] or renormalise(set, i, features_of(x, p, alpha))
    end
    probabilities(model, warped, batch, sum)
  end
  local best, predictions = sum:argmax(2), {}
  for i = 1, #feats do predictions[i] = math.tointeger(best:get(i, 1)) end
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

-- The CMVN mode of a cmvn param: "utterance", "speaker" or "none" (true and false, as the
-- param was before it had modes and as older saved models record it, are the first and last).
local function cmvn_mode(v)
  if v == true or v == "true" then return "utterance" end
  if v == false or v == "false" then return "none" end
  if v ~= "utterance" and v ~= "speaker" and v ~= "none" then
    error("speech: cmvn must be 'utterance', 'speaker' or 'none', got '" .. tostring(v) .. "'", 0)
  end
  return v
end

-- The demo setting (quick), the checks of params and the BLAS threads.
local function settings(p)
  if p.quick then
    -- the demo setting: a smaller network, a smaller synthetic set (fewer epochs: run())
    p.hidden, p.speakers, p.takes = math.min(p.hidden, 32), 8, 8
    p.copies = math.min(p.copies, 1)
  end
  loom.threads(p.threads)
  if p.pool ~= "last" and p.pool ~= "mean" then error("speech: pool must be 'last' or 'mean'", 0) end
  if p.features ~= "mfcc" and p.features ~= "fbank" then error("speech: features must be 'mfcc' or 'fbank'", 0) end
  if p.augment ~= "spectral" and p.augment ~= "waveform" then
    error("speech: augment must be 'spectral' or 'waveform'", 0)
  end
  if not (p.espeak >= 0) then error("speech: espeak must be a number >= 0, got " .. tostring(p.espeak), 0) end
  if math.type(p.average) ~= "integer" or p.average < 1 then error("speech: average must be an integer >= 1", 0) end
  p.average = math.min(p.average, p.epochs) -- at most every epoch
  if p.dtype ~= "float64" and p.dtype ~= "float32" then error("speech: dtype must be 'float64' or 'float32'", 0) end
  p.cmvn = cmvn_mode(p.cmvn)
  if p.model ~= "lstm" and p.model ~= "crnn" then error("speech: model must be 'lstm' or 'crnn'", 0) end
  if p.protocol ~= "official" and p.protocol ~= "loso" then
    error("speech: protocol must be 'official' or 'loso'", 0)
  end
  if p.domain ~= "fsdd" and p.domain ~= "fsdd->espeak" and p.domain ~= "espeak->fsdd" then
    error("speech: domain must be 'fsdd', 'fsdd->espeak' or 'espeak->fsdd'", 0)
  end
  for _, alpha in ipairs(numbers(p.test_warps, "test_warps")) do
    if not (alpha >= 0.5 and alpha <= 2) then error("speech: test_warps must lie in 0.5..2, got " .. alpha, 0) end
  end
  return augmentation(p)
end

-- The espeak-ng digits (generated once into p.cache): every take of espeak_speakers voices.
local function espeak_recordings(p)
  local dir = string.format("%s/s%d-t%d-seed%d", p.cache, p.espeak_speakers, p.espeak_takes, p.espeak_seed)
  local items = list_recordings(dir)
  if #items < p.espeak_speakers * p.espeak_takes * 10 then
    print(string.format("speech: generating %d espeak-ng digits into %s (once; minutes)",
      p.espeak_speakers * p.espeak_takes * 10, dir))
    spoken_digits().generate{out = dir, speakers = p.espeak_speakers,
      takes = p.espeak_takes, seed = p.espeak_seed, progress = generation_progress()}
    items = list_recordings(dir)
  end
  return items
end

-- The samples of a recording at 8 kHz (first channel), without leading and trailing silence
-- when trim_db > 0; nil and the reason when it cannot be read.
local function read_utterance(path, p)
  local x, why = audio.load(path, {rate = RATE})
  if x and (p.trim_db or 0) > 0 then x = audio.trim(x, RATE, {top_db = p.trim_db}) end
  return x, why
end

-- Every utterance the run may use, loaded once: {x = samples, f = clean features, label,
-- speaker, take, espeak = true for generated voices}.
local function load_corpus(p)
  local t0 = os.time()
  local items, source = {}, "synthetic"
  local cross = p.domain ~= "fsdd" -- the espeak-ng set is the other domain
  if not (p.synthetic and cross) then items, source = recordings(p) end
  -- espeak-ng voices join FSDD's training voices; the synthetic set is espeak-ng already
  local wants_espeak = cross or (p.espeak > 0 and source == "fsdd")
  if p.espeak > 0 and source ~= "fsdd" and not cross and espeak_given then
    print("speech: espeak= mixes espeak-ng voices into FSDD; the synthetic set is espeak-ng already")
  end
  if wants_espeak and not cross and not espeak_given
    and not spoken_digits().have_espeak() then
    print(string.format("speech: espeak-ng is not installed, so FSDD trains alone (the default espeak=%g"
      .. " adds its voices: apt-get install espeak-ng)", p.espeak))
    p.espeak, wants_espeak = 0, false
  end
  if wants_espeak then
    for _, item in ipairs(espeak_recordings(p)) do
      item.espeak = true
      items[#items + 1] = item
    end
  end
  local corpus = {}
  for _, item in ipairs(items) do
    local x = assert(read_utterance(item.path, p))
    item.x, item.f, item.label = x, features_of(x, p), item.digit + 1
    -- the spectra that spectral augmentation perturbs, computed once (the clean features
    -- above are the same computation unperturbed)
    if item.f and p.augment == "spectral" then item.s = audio.spectra(x, RATE) end
    if item.f then corpus[#corpus + 1] = item end
  end
  print(string.format("speech: %d utterances loaded (%s%s) in %.0f s", #corpus, source,
    wants_espeak and " + espeak-ng" or "", os.difftime(os.time(), t0)))
  return corpus, source
end

local function new_set() return {samples = {}, feats = {}, labels = {}, items = {}, spectra = {}} end

local function add(set, item)
  set.spectra[#set.spectra + 1] = item.s
  set.samples[#set.samples + 1], set.feats[#set.feats + 1] = item.x, item.f
  set.labels[#set.labels + 1], set.items[#set.items + 1] = item.label, item
end

-- Training and test sets of one run: FSDD's official split (takes 0-4 test), or every take of
-- the held-out speakers as the test set (speaker-independent), plus espeak voices mixed into
-- training at `espeak` per FSDD utterance; or one domain against the other.
local function split(corpus, p, holdout)
  local held = {}
  for name in holdout:gmatch("[^,%s]+") do held[name] = true end
  local train, test, generated = new_set(), new_set(), {}
  for _, item in ipairs(corpus) do
    if p.domain == "fsdd->espeak" then add(item.espeak and test or train, item)
    elseif p.domain == "espeak->fsdd" then add(item.espeak and train or test, item)
    elseif item.espeak and not p.synthetic then generated[#generated + 1] = item
    elseif next(held) then add(held[item.speaker] and test or train, item)
    else add(item.take <= 4 and test or train, item) end
  end
  if #generated > 0 then
    local want = math.min(#generated, math.floor(p.espeak * #train.feats + 0.5))
    local order = loom.permutation(#generated)
    for k = 1, want do add(train, generated[order[k]]) end
  end
  if #test.feats == 0 or #train.feats == 0 then
    error(string.format("speech: %d training and %d test utterances (does holdout name speakers of the data?)",
      #train.feats, #test.feats), 0)
  end
  if p.cmvn == "speaker" then
    train.prior = audio.cmvn_stats(train.feats)
    speaker_cmvn(train, train.prior)
    speaker_cmvn(test, train.prior)
  end
  return train, test
end

-- The pooled representation (B x D) of the LSTM's output and a function mapping its gradient
-- back to lstm:backward's arguments.
local function pooling(p, lstm_out, h_T, lengths, dirs)
  local B, hidden, layers = #lengths, p.hidden, p.layers
  if p.pool == "mean" then
    -- mean over each sequence's own steps as one product: P (B x T*B) * out
    local T = lstm_out:rows() // B
    -- P as B*T x B: row (b - 1) * T + t, column b is P's entry for sequence b, step t
    local P = loom.zeros(B * T, B, {dtype = lstm_out:dtype()})
    for b = 1, B do P:slice((b - 1) * T + 1, (b - 1) * T + lengths[b], b, b):fill_(1 / lengths[b]) end
    P = P:reshape(B, T * B)
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
    local dh = loom.zeros(layers * dirs * B, hidden, {dtype = h_T:dtype()})
    for d = 1, dirs do
      local r0 = ((layers - 1) * dirs + (d - 1)) * B
      dh:slice(r0 + 1, r0 + B, 1, hidden):copy_(dpooled:slice(1, B, (d - 1) * hidden + 1, d * hidden))
    end
    return nil, dh
  end
end

-- A (T*B) x 1 column: 1 on the steps of each sequence, 0 on padding.
local function step_mask(rows, lengths, dtype)
  local M = seq.mask(lengths, rows // #lengths)
  return dtype == "float32" and M:float() or M
end

-- The CRNN's front: Conv1d(F, channels, kernel) -> ReLU -> MaxPool1d(2) -> Conv1d(channels,
-- channels, 3) -> ReLU over time, "same" padding; padded steps are zeroed after every
-- module so a batch computes what each sequence would alone. front.forward(X, lengths) ->
-- H, lengths of H; front.backward(dH) goes back through the last forward.
local function conv_front(p, F)
  local mods = {nn.Conv1d(F, p.channels, p.kernel, {padding = p.kernel // 2}), nn.ReLU(), nn.MaxPool1d(2),
    nn.Conv1d(p.channels, p.channels, 3, {padding = 1}), nn.ReLU()}
  local front, inputs, masks = {modules = mods}, {}, {}
  function front.forward(X, lengths)
    local x = X
    for i, m in ipairs(mods) do
      inputs[i] = x
      local y
      if nn.is_conv(m) then y, lengths = m:forward(x, {lengths = lengths}) else y = m:forward(x) end
      masks[i] = step_mask(y:rows(), lengths, y:dtype())
      x = y:mul_(masks[i])
    end
    return x, lengths
  end
  function front.backward(dy)
    for i = #mods, 1, -1 do
      dy = mods[i]:backward(inputs[i], dy:mul(masks[i]), i > 1)
    end
  end
  return front
end

-- [conv front ->] LSTM (optionally bidirectional) -> pooling -> Linear over 10 digits, with
-- Adam and a cosine schedule. model.forward(X, lengths) -> logits; model.step(X, lengths, y)
-- -> loss, hits.
local function build_model(p, F)
  local dirs = p.bidirectional and 2 or 1
  local front = p.model == "crnn" and conv_front(p, F) or nil
  local lstm = nn.LSTM(front and p.channels or F, p.hidden, {layers = p.layers, bidirectional = p.bidirectional})
  local head = nn.Linear(p.hidden * dirs, 10)
  local drop = p.dropout > 0 and nn.Dropout(p.dropout) or nil
  local loss = nn.CrossEntropyLoss()
  local modules = {lstm, head, table.unpack(front and front.modules or {})}
  local params = {}
  for _, m in ipairs(modules) do
    if p.dtype ~= "float64" then m:to(p.dtype) end -- before the optimiser sees the parameters
    for _, q in ipairs(m:parameters()) do params[#params + 1] = q end
  end
  local opt = loom.optim.adam(params, {lr = p.lr})
  local named = {lstm = lstm, head = head}
  for i, m in ipairs(front and front.modules or {}) do
    if #m:parameters() > 0 then named["front" .. i] = m end
  end
  local model = {lstm = lstm, parameters = params, named = named,
    schedule = loom.optim.cosine_lr(opt, {t_max = p.epochs, eta_min = p.lr / 20})}
  function model.train(on)
    lstm:train(on)
    if drop then drop:train(on) end
  end
  local function encode(X, lengths)
    X = in_dtype(X, p)
    if front then X, lengths = front.forward(X, lengths) end
    local out, h_T = lstm:forward(X, {lengths = lengths})
    return pooling(p, out, h_T, lengths, dirs)
  end
  function model.forward(X, lengths)
    local pooled = encode(X, lengths)
    if drop then pooled = drop:forward(pooled) end
    return head:forward(pooled)
  end
  function model.step(X, lengths, y)
    opt:zero_grad()
    local pooled, back = encode(X, lengths)
    local dropped = drop and drop:forward(pooled) or pooled
    local logits = head:forward(dropped)
    local value = loss:forward(logits, y)
    local best, hits = logits:argmax(2), 0
    for k = 1, y:rows() do if best:get(k, 1) == y:get(k, 1) then hits = hits + 1 end end
    local dpooled = head:backward(dropped, loss:backward(logits, y))
    if drop then dpooled = drop:backward(pooled, dpooled) end
    local dout, dh_T = back(dpooled)
    local dX = lstm:backward(dout, {dh_T = dh_T, input_grad = front ~= nil})
    if front then front.backward(dX) end
    loom.optim.clip_grad_norm(params, p.clip)
    opt:step()
    return value, hits
  end
  return model
end

-- ---- a trained model on disk, and recognising new recordings with it ----

-- Whether this run's trim_db was given (set by adjust): with checkpoint= it replaces the
-- model's own, as a given test_warps does.
local trim_given = false

-- The params a saved model needs to rebuild its network and its features.
local SAVED = {"model", "hidden", "layers", "bidirectional", "pool", "channels", "kernel", "features", "mel_bins",
  "deltas", "cmvn", "dtype", "test_warps", "trim_db"}

-- model.safetensors: every module's state_dict under its name (lstm., head., front2., ...)
-- and, as metadata, the params that rebuild the network and the features.
local function save_model(path, model, p, F, prior)
  local tensors, meta = {}, {inputs = tostring(F), format = "loom speech model 1"}
  for prefix, m in pairs(model.named) do
    for name, value in pairs(m:state_dict()) do tensors[prefix .. "." .. name] = value end
  end
  if prior then tensors["cmvn_prior.mean"], tensors["cmvn_prior.sd"] = prior.mean, prior.sd end
  for _, k in ipairs(SAVED) do meta[k] = tostring(p[k]) end
  assert(loom.save(path, tensors, meta))
end

-- The model saved at path and the params it was trained with (features included).
local function load_model(path)
  local f = io.open(path, "rb")
  if not f then error("speech: cannot open the model " .. path, 0) end
  f:close()
  local tensors, meta = loom.load(path)
  if not tensors then error("speech: cannot load the model " .. path .. ": " .. tostring(meta), 0) end
  if type(meta) ~= "table" or meta.format ~= "loom speech model 1" then
    error("speech: " .. path .. " is not a model saved by speech.lua", 0)
  end
  local p = {epochs = 1, lr = 0.001, dropout = 0}
  for _, k in ipairs(SAVED) do
    local v = meta[k]
    if v == "true" or v == "false" then v = v == "true" elseif tonumber(v) then v = math.tointeger(tonumber(v)) or tonumber(v) end
    p[k] = v
  end
  p.cmvn = cmvn_mode(p.cmvn)
  if tensors["cmvn_prior.mean"] then p.cmvn_prior = {mean = tensors["cmvn_prior.mean"], sd = tensors["cmvn_prior.sd"]} end
  local model = build_model(p, tonumber(meta.inputs))
  for prefix, m in pairs(model.named) do
    local part = {}
    for name, value in pairs(tensors) do
      local rest = name:match("^" .. prefix .. "%.(.+)$")
      if rest then part[rest] = value end
    end
    m:load_state_dict(part, {strict = true})
  end
  return model, p
end

-- The WAV files of a path: the file itself, or every .wav in the folder (sorted).
local function wav_files(path)
  local f = io.open(path, "rb")
  if not f then error("speech: no such file or folder: " .. path, 0) end
  f:close()
  local pipe = io.popen("find " .. shell_quote(path) .. " -maxdepth 0 -type d 2>/dev/null")
  local is_dir = pipe:read("a") ~= ""
  pipe:close()
  if not is_dir then return {path} end -- one file, whatever its format
  local list = {}
  pipe = io.popen("find " .. shell_quote(path) .. " -maxdepth 1 -type f -iname '*.wav' 2>/dev/null | sort")
  for line in pipe:lines() do list[#list + 1] = line end
  pipe:close()
  if #list == 0 then error("speech: no .wav files in " .. path, 0) end
  return list
end

-- Features of one recording at any rate or channel count (resampled to 8 kHz, first channel),
-- or an error naming the file.
local function file_features(path, p)
  local x, why = read_utterance(path, p)
  if not x then error("speech: " .. tostring(why), 0) end
  local f = features_of(x, p)
  if not f then error(string.format("speech: %s is shorter than one 25 ms frame", path), 0) end
  return f, x
end

-- The speaker of a recording: FSDD's naming (<digit>_<speaker>_<n>.wav) or, for any other
-- name, "" (with cmvn = "speaker" the recordings of one call that are not so named are taken
-- as one voice).
local function speaker_of(path)
  return path:match("[0-9]_([^/]+)_[0-9]+%.[wW][aA][vV]$") or ""
end

-- The digit of every recording in list (paths) with model; one "path<TAB>digit" line each.
local function recognise(model, p, list, out)
  local set = new_set()
  for i, path in ipairs(list) do
    set.feats[i], set.samples[i] = file_features(path, p)
    set.items[i] = {speaker = speaker_of(path)}
  end
  if p.cmvn == "speaker" then speaker_cmvn(set, p.cmvn_prior) end
  local predictions = predict(model, set, 64, p)
  if out then
    for i, path in ipairs(list) do out:write(path, "\t", predictions[i] - 1, "\n") end
    out:flush()
  end
  return predictions
end

-- Epochs over length buckets, features perturbed afresh each epoch when augmentation is on;
-- logs loss and training accuracy (steps offset by `first`, progress out of `steps`).
-- Returns the training seconds, the CPU seconds spent on features per epoch and on the
-- network, and on the copies made once.
local function train_model(model, train, p, aug, run, first, steps)
  local t0 = os.time()
  local copies_cpu = perturbed_copies(train, p, aug)
  local feature_cpu, network_cpu = 0, 0
  for epoch = 1, p.epochs do
    local feats, seconds = epoch_features(train, p, aug)
    feature_cpu = feature_cpu + seconds
    local c0 = os.clock()
    local total, count, right = 0, 0, 0
    for _, idx in ipairs(seq.buckets(feats, p.batch, {shuffle = true})) do
      local X, lengths = seq.batch(feats, idx)
      local value, hits = model.step(X, lengths, targets_of(train.labels, idx))
      total, count, right = total + value * #idx, count + #idx, right + hits
    end
    if epoch > p.epochs - p.average then
      -- the average of the last `average` epochs' weights (Polyak / SWA): one model, several
      -- points of the descent
      for i, q in ipairs(model.parameters) do
        if model.sum then model.sum[i]:add_(q.value) end
      end
      if not model.sum then
        model.sum = {}
        for i, q in ipairs(model.parameters) do model.sum[i] = q.value:copy() end
      end
    end
    network_cpu = network_cpu + os.clock() - c0
    model.schedule:step()
    run:log{step = first + epoch, loss = total / count, train_accuracy = right / count}
    run:progress(first + epoch, steps)
  end
  if model.sum and p.average > 1 then
    for i, q in ipairs(model.parameters) do q.value:copy_(model.sum[i] / p.average) end
  end
  return os.difftime(os.time(), t0), feature_cpu, network_cpu, copies_cpu
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
  -- every test recording with its digit and the prediction, for looking at the errors
  local listing = run:artifact("predictions.tsv")
  local f = assert(io.open(listing, "w"))
  f:write("path\tdigit\tpredicted\n")
  for i, item in ipairs(test.items) do
    f:write(item.path, "\t", test.labels[i] - 1, "\t", predictions[i] - 1, "\n")
  end
  f:close()
  return {test_accuracy = test_accuracy, per_speaker = table.concat(speaker_summary, " "),
    confusion_png = figure or "none (gnuplot not available)", predictions = listing}
end


-- Accuracy of model on every {digit}_{speaker}_{n}.wav of dir, printed with each speaker's.
local function score_folder(model, p, dir)
  local list, labels, test = wav_files(dir), {}, new_set()
  for i, path in ipairs(list) do
    local digit, speaker = path:match("([0-9])_([^/]+)_[0-9]+%.[wW][aA][vV]$")
    if not digit then error("speech: test= needs FSDD-named files <digit>_<speaker>_<n>.wav, got " .. path, 0) end
    labels[i] = tonumber(digit) + 1
    test.labels[i], test.items[i] = labels[i], {speaker = speaker}
  end
  local predictions = recognise(model, p, list)
  local acc = accuracy(predictions, labels)
  local _, by_speaker, speakers = tally(test, predictions)
  print(string.format("\n%s: accuracy %.2f%% (%d recordings)", dir, 100 * acc, #list))
  for _, name in ipairs(speakers) do
    local r = by_speaker[name]
    print(string.format("  %-22s %6.2f%% (%d/%d)", name, 100 * r.right / r.total, r.right, r.total))
  end
  return acc, #list
end

-- One training run on one split: the model, its predictions on the test set and the
-- accuracy of each test speaker.
local function run_split(corpus, p, aug, run, holdout, first, steps)
  local train, test = split(corpus, p, holdout)
  print(string.format("speech: %d training and %d test utterances%s", #train.feats, #test.feats,
    holdout ~= "" and (" (held out: " .. holdout .. ")") or ""))
  local model = build_model(p, train.feats[1]:cols())
  local seconds, feature_cpu, network_cpu, copies_cpu = train_model(model, train, p, aug, run, first, steps)
  local predictions = predict(model, test, 64, p)
  return {train = train, test = test, predictions = predictions, seconds = seconds, model = model,
    feature_cpu = feature_cpu, network_cpu = network_cpu, copies_cpu = copies_cpu}
end

local function mean_sd(values)
  local m, v = 0, 0
  for _, x in ipairs(values) do m = m + x / #values end
  for _, x in ipairs(values) do v = v + (x - m) ^ 2 / math.max(1, #values - 1) end
  return m, math.sqrt(v)
end

-- Leave one speaker out: a fresh model per FSDD speaker, tested on every take of that
-- speaker; prints the per-speaker table with mean, standard deviation and the worst.
local function loso(corpus, p, aug, run)
  local speakers, seen = {}, {}
  for _, item in ipairs(corpus) do
    if not item.espeak and not seen[item.speaker] then seen[item.speaker] = true; speakers[#speakers + 1] = item.speaker end
  end
  table.sort(speakers)
  local accs, rows, totals = {}, {}, {seconds = 0, feature_cpu = 0, network_cpu = 0, copies_cpu = 0}
  for fold, speaker in ipairs(speakers) do
    local r = run_split(corpus, p, aug, run, speaker, (fold - 1) * p.epochs, #speakers * p.epochs)
    local acc = accuracy(r.predictions, r.test.labels)
    accs[fold] = acc
    for k in pairs(totals) do totals[k] = totals[k] + r[k] end
    rows[fold] = string.format("%s=%.3f", speaker, acc)
    run:log{step = fold * p.epochs, fold_accuracy = acc}
    print(string.format("speech: fold %d/%d, %s: %.2f%%", fold, #speakers, speaker, 100 * acc))
  end
  local m, sd = mean_sd(accs)
  local worst = math.min(table.unpack(accs))
  print("\nleave-one-speaker-out accuracy (a model per fold, tested on the speaker it never heard):")
  for fold, speaker in ipairs(speakers) do print(string.format("  %-12s %6.2f%%", speaker, 100 * accs[fold])) end
  print(string.format("  %-12s %6.2f%% +- %.2f (sd), worst %.2f%%", "mean", 100 * m, 100 * sd, 100 * worst))
  return {loso_mean = m, loso_sd = sd, loso_worst = worst, test_accuracy = m,
    per_speaker = table.concat(rows, " "), train_seconds = totals.seconds,
    feature_share = totals.feature_cpu / math.max(1e-9, totals.feature_cpu + totals.network_cpu)}
end

local experiment = loom.experiment{
  name = "speech",
  description = "spoken digits: MFCC sequences -> [Conv1d ->] LSTM -> Linear; FSDD official split or leave-one-speaker-out",
  params = {
    seed = 42,
    quick = {false, "the demo setting: 6 epochs (20 on the synthetic set), 32 hidden units, a small synthetic set"},
    data = {"", "FSDD recordings folder (empty: the cached set, loom data fetch fsdd)"},
    synthetic = {false, "use the generated espeak-ng digits even when FSDD is there"},
    cache = {CACHE, "where the synthetic set is generated"},
    speakers = {12, "synthetic voices"},
    takes = {20, "synthetic recordings per voice and digit"},
    model = {"crnn", "lstm (MFCC -> BiLSTM) or crnn (Conv1d layers over time, then the LSTM)"},
    hidden = {64, "LSTM hidden units (per direction)"},
    layers = {1, "stacked LSTM layers"},
    bidirectional = {true, "read the utterance in both directions"},
    pool = {"mean", "utterance vector: last (final states) or mean (over time)"},
    channels = {64, "crnn: channels of the convolutions"},
    kernel = {5, "crnn: width of the first convolution (frames)"},
    features = {"mfcc", "mfcc (13 cepstra, Kaldi's) or fbank (log mel energies, mel_bins of them)"},
    mel_bins = {40, "fbank: mel bins"},
    deltas = {true, "append delta and delta-delta MFCCs"},
    cmvn = {"speaker", "cepstral mean and variance normalisation: speaker (each voice's own statistics), utterance or none"},
    trim_db = {50, "cut leading and trailing 10 ms blocks more than this many dB below the loudest (0: keep all)", type = "number"},
    protocol = {"official", "official (takes 0-4 test) or loso (leave each speaker out in turn)"},
    holdout = {"", "speakers whose every take is the test set, comma-separated (empty: the official split)"},
    domain = {"fsdd", "fsdd, fsdd->espeak or espeak->fsdd (train on one, test on the other)"},
    speed = {"0.9,1.0,1.1", "speed-perturbation factors, comma-separated (empty: none)"},
    vtlp = {0.1, "vocal-tract-length perturbation: warp factor uniform in 1 +- vtlp (0: none)"},
    tempo = {0.0, "augment=spectral: tempo perturbation, frames stretched by a factor uniform in 1 +- tempo"},
    shift = {0.0, "random time shift of at most this many seconds (0: none)"},
    noise = {"white,babble", "additive noise kinds, comma-separated (empty: none)"},
    snr = {"5,25", "the noise's SNR range in dB"},
    noise_prob = {0.5, "probability that a training utterance gets noise"},
    specaug = {true, "SpecAugment time and frequency masks on the training features"},
    time_mask = {5, "SpecAugment: the longest time mask (frames)"},
    freq_mask = {4, "SpecAugment: the widest frequency mask (features)"},
    augment = {"spectral", "spectral (perturb kept spectra afresh every epoch) or waveform (resample, add noise, new FFT)"},
    copies = {3, "augment=waveform: perturbed copies made once per training utterance (0: perturb every epoch)"},
    espeak = {0.5, "espeak-ng utterances mixed into FSDD's training set per FSDD training utterance (0: none; 0 with quick=true unless given)"},
    espeak_speakers = {24, "espeak-ng voices mixed in"},
    espeak_takes = {10, "espeak-ng recordings per voice and digit mixed in"},
    espeak_seed = {1, "seed of the mixed-in espeak-ng recordings"},
    epochs = {60, "passes over the training set"},
    dropout = {0.2, "dropout on the utterance vector before the classifier"},
    average = {5, "test with the average of the last `average` epochs' weights (1: the last epoch's)"},
    test_warps = {"", "VTLP warps to average the test predictions over, e.g. 0.9,1,1.1 (in a sweep: '0.9 1 1.1'; empty: none)"},
    batch = {32, "utterances per mini-batch"},
    lr = {0.003, "Adam's learning rate"},
    clip = {5.0, "gradient norm clipping threshold"},
    -- OpenBLAS threads: the products are small, one thread wastes the least
    threads = {1, "OpenBLAS threads"},
    dtype = {"float64", "float64 or float32 (features, parameters, gradients and Adam's state)"},
    predict = {"", "a WAV file or folder to recognise with checkpoint= instead of training (path<TAB>digit lines)"},
    checkpoint = {"", "the model.safetensors of an earlier run, for predict= or test="},
    test = {"", "a folder of <digit>_<speaker>_<n>.wav to score (with checkpoint=, or after training)"},
  },
  adjust = function(p, given)
    trim_given, espeak_given = given.trim_db ~= nil, given.espeak ~= nil
    -- the demo's budget has no room for generating and training on espeak-ng voices
    if p.quick and not espeak_given then p.espeak = 0 end
  end,
  run = function(p, run)
    if p.predict ~= "" or (p.test ~= "" and p.checkpoint ~= "") then
      if p.checkpoint == "" then error("speech: predict= needs checkpoint=PATH (the model.safetensors of a run)", 0) end
      local model, saved = load_model(p.checkpoint)
      -- given now: overrides the saved
      if p.test_warps ~= "" then saved.test_warps = p.test_warps end
      if trim_given then saved.trim_db = p.trim_db end
      if p.predict ~= "" then return {predicted = #recognise(model, saved, wav_files(p.predict), io.stdout)} end
      local acc, n = score_folder(model, saved, p.test)
      return {test_accuracy = acc, test_utterances = n}
    end
    local aug = settings(p)
    local corpus, source = load_corpus(p)
    if p.quick then
      -- the demo's budget, seconds either way: 6 passes over FSDD's 2,700 training
      -- utterances, 20 over the synthetic set's 240 (at 6 it stays near 45%)
      p.epochs = math.min(p.epochs, source == "synthetic" and 20 or 6)
      p.average = math.min(p.average, p.epochs)
    end
    if p.protocol == "loso" then
      local result = loso(corpus, p, aug, run)
      result.dataset = source
      return result
    end
    local r = run_split(corpus, p, aug, run, p.holdout, 0, p.epochs)
    local label = p.domain == "fsdd" and source or p.domain
    local result = report(r.test, r.predictions, label, r.seconds, run)
    result.model = run:artifact("model.safetensors")
    save_model(result.model, r.model, p, r.train.feats[1]:cols(), r.train.prior)
    print("model: " .. result.model)
    if p.test ~= "" then result.folder_accuracy = score_folder(r.model, p, p.test) end
    run:log{step = p.epochs, test_accuracy = result.test_accuracy}
    result.dataset, result.train_seconds = label, r.seconds
    result.train_utterances, result.test_utterances = #r.train.feats, #r.test.feats
    result.espeak_utterances = 0 -- of the training set: what espeak= mixed in
    for _, item in ipairs(r.train.items) do
      if item.espeak and p.domain == "fsdd" then result.espeak_utterances = result.espeak_utterances + 1 end
    end
    result.feature_share = r.feature_cpu / math.max(1e-9, r.feature_cpu + r.network_cpu)
    print(string.format("features per epoch (on the fly): %.2f s CPU, network %.2f s CPU: %.1f%% of an epoch;"
      .. " perturbed copies made once: %.1f s CPU", r.feature_cpu / p.epochs, r.network_cpu / p.epochs,
      100 * result.feature_share, r.copies_cpu))
    return result
  end,
}

-- Run directly, the script is a recogniser whose standard output holds "path<TAB>digit" lines:
--   loom scripts/experiments/speech.lua predict FILE|DIR --checkpoint PATH
require("loom.experiment").command("predict", {
  usage = "usage: loom scripts/experiments/speech.lua predict FILE|DIR --checkpoint MODEL.safetensors [--trim-db DB]",
  options = {"checkpoint", "trim-db"}, required = {"checkpoint"},
  run = function(input, opts)
    local model, saved = load_model(opts.checkpoint)
    if opts["trim-db"] then
      local db = tonumber(opts["trim-db"])
      if not db or db < 0 then error("speech: --trim-db must be a number >= 0, got '" .. opts["trim-db"] .. "'", 0) end
      saved.trim_db = db
    end
    recognise(model, saved, wav_files(input), io.stdout)
  end,
})

return experiment
