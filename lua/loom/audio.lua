-- loom.audio: sound files, resampling and Kaldi-compatible speech features (spectrogram,
-- fbank, MFCC, deltas, CMVN) on loom matrices. Not a player or recorder; the C is loom.core.audio.
local core = require("loom.core").audio
local is_matrix = require("loom.core").matrix.is_matrix
local check = require "loom.check"
local cmatrix = require("loom.core").matrix
local loom_zeros, loom_random_int = cmatrix.zeros, cmatrix.random_int

local audio = {}

-- Samples are N x channels matrices (rows are time), values in [-1, 1] for integer files.
function audio.read(path)
  if type(path) ~= "string" then
    error("loom.audio.read: expected a path string, got " .. type(path), 2)
  end
  return check.call("loom.audio.read", core.read, path)
end

local ENCODINGS = {pcm16 = true, pcm24 = true, pcm32 = true, pcm8 = true, float = true,
  double = true, vorbis = true}

-- write(path, samples, rate, {format = "pcm16"|"pcm24"|"pcm32"|"pcm8"|"float"|"double"|"vorbis",
--                             container = "wav"|"flac"|"ogg"|"aiff"|"au"|"caf"|"w64"|"raw"})
function audio.write(path, samples, rate, opts)
  if type(path) ~= "string" then
    error("loom.audio.write: expected a path string, got " .. type(path), 2)
  end
  if not is_matrix(samples) then
    error("loom.audio.write: expected samples as a matrix (frames x channels), got " .. type(samples), 2)
  end
  if not (type(rate) == "number" and math.tointeger(rate)) then
    error("loom.audio.write: rate must be an integer number of Hz, got " .. tostring(rate), 2)
  end
  opts = check.options("loom.audio.write", opts, {format = "string", container = "string"})
  if opts.format ~= nil and not ENCODINGS[opts.format] then
    error(string.format("loom.audio.write: unknown format '%s' (pcm16, pcm24, pcm32, pcm8, float, double, vorbis)",
      tostring(opts.format)), 2)
  end
  return check.call("loom.audio.write", core.write, path, samples, math.tointeger(rate), opts.container, opts.format)
end

local QUALITY = {best = 0, medium = 1, fast = 2}

-- resample(x, from, to [, {quality = "best"|"medium"|"fast"}]) -> matrix of round(N * to / from) rows
function audio.resample(x, from, to, opts)
  if not is_matrix(x) then
    error("loom.audio.resample: expected samples as a matrix (frames x channels), got " .. type(x), 2)
  end
  if type(from) ~= "number" or type(to) ~= "number" or not (from > 0) or not (to > 0) then
    error(string.format("loom.audio.resample: rates must be positive numbers, got %s and %s",
      tostring(from), tostring(to)), 2)
  end
  opts = check.options("loom.audio.resample", opts, {quality = "string"})
  local ratio = to / from
  if ratio > 256 or ratio < 1 / 256 then
    error(string.format("loom.audio.resample: ratio %g is outside [1/256, 256]", ratio), 2)
  end
  local quality = QUALITY[opts.quality or "best"]
  if not quality then
    error(string.format("loom.audio.resample: unknown quality '%s' (best, medium, fast)",
      tostring(opts.quality)), 2)
  end
  if from == to then return x:copy() end
  return check.call("loom.audio.resample", core.resample, x, ratio, quality)
end

-- load(path [, {rate = hz, channel = 1}]) -> one channel as an N x 1 matrix, rate | nil, msg.
-- Resamples when rate is given and differs from the file's.
function audio.load(path, opts)
  local fn = "loom.audio.load"
  check.string(fn, "path", path)
  opts = check.options(fn, opts, {rate = "number", channel = "integer"})
  if opts.rate ~= nil then check.number(fn, "rate", opts.rate) end
  local x, rate = audio.read(path)
  if not x then return nil, rate end
  local channel = opts.channel or 1
  if channel < 1 or channel > x:cols() then
    error(string.format("loom.audio.load: channel %d out of range for %d channels", channel, x:cols()), 2)
  end
  if x:cols() > 1 then x = x:col(channel):copy() end
  if opts.rate and opts.rate ~= rate then
    x = audio.resample(x, rate, opts.rate)
    rate = opts.rate
  end
  return x, rate
end

-- Kaldi's option names (and torchaudio's spellings as aliases) with their defaults.
local COMMON = {
  frame_length = 25.0, frame_shift = 10.0, preemphasis = 0.97, remove_dc = true,
  window = "povey", blackman_coeff = 0.42, snip_edges = true, round_to_power_of_two = true,
  dither = 0.0, energy_floor = 0.0, raw_energy = true, channel = 1,
}
local MEL = {
  use_power = true, use_log = true, num_mel_bins = 23, low_freq = 20.0, high_freq = 0.0,
  use_energy = false, htk_compat = false,
}
local CEPS = {num_ceps = 13, cepstral_lifter = 22.0}
local ALIASES = {
  preemphasis_coefficient = "preemphasis", remove_dc_offset = "remove_dc",
  window_type = "window", use_log_fbank = "use_log", sample_frequency = "sample_rate",
}
local WINDOW_NAMES = {povey = "povey", hamming = "hamming", hanning = "hanning", hann = "hanning",
  rectangular = "rectangular", blackman = "blackman"}

-- The defaults of a kind of feature: a fresh table.
local function defaults(kind)
  local d = {}
  for k, v in pairs(COMMON) do d[k] = v end
  if kind ~= "spectrogram" then
    for k, v in pairs(MEL) do d[k] = v end
  end
  if kind == "mfcc" then
    for k, v in pairs(CEPS) do d[k] = v end
    d.use_energy = true
  end
  return d
end

-- Complete and check opts; raises at the caller's caller with the function's name.
local function feature_options(kind, rate, opts, fn)
  fn = fn or "loom.audio." .. kind
  if type(rate) ~= "number" or not (rate > 0) then
    check.fail(fn, "expected a positive sample rate, got %s", tostring(rate))
  end
  if opts ~= nil and type(opts) ~= "table" then
    check.fail(fn, "expected an options table, got %s", type(opts))
  end
  local o = defaults(kind)
  for k, v in pairs(opts or {}) do
    local name = ALIASES[k] or k
    if name == "sample_rate" then
      if v ~= rate then
        check.fail(fn, "sample_frequency %s differs from the rate %s", tostring(v), tostring(rate))
      end
    elseif o[name] == nil then
      check.fail(fn, "unknown option '%s'", tostring(k))
    elseif type(v) ~= type(o[name]) then
      check.fail(fn, "option '%s' must be a %s, got %s", k, type(o[name]), type(v))
    else
      o[name] = v
    end
  end
  o.window = WINDOW_NAMES[o.window] or
    check.fail(fn, "unknown window '%s' (povey, hamming, hanning, rectangular, blackman)", o.window)
  if not (o.preemphasis >= 0 and o.preemphasis <= 1) then
    check.fail(fn, "preemphasis must be in [0, 1], got %g", o.preemphasis)
  end
  if math.floor(rate * o.frame_length * 0.001) < 2 or math.floor(rate * o.frame_shift * 0.001) < 1 then
    check.fail(fn, "frames of %g ms shifted by %g ms are too short at %g Hz", o.frame_length, o.frame_shift, rate)
  end
  if o.dither < 0 or o.energy_floor < 0 then
    check.fail(fn, "dither and energy_floor must be >= 0")
  end
  if kind ~= "spectrogram" then
    local nyquist = rate / 2
    local high = o.high_freq <= 0 and o.high_freq + nyquist or o.high_freq
    if o.num_mel_bins < 3 or math.type(o.num_mel_bins) ~= "integer" and o.num_mel_bins ~= math.floor(o.num_mel_bins) then
      check.fail(fn, "num_mel_bins must be an integer >= 3, got %s", tostring(o.num_mel_bins))
    end
    if not (o.low_freq >= 0 and o.low_freq < nyquist and high > 0 and high <= nyquist and o.low_freq < high) then
      check.fail(fn, "need 0 <= low_freq < high_freq <= %g (Nyquist), got low_freq %g, high_freq %g",
        nyquist, o.low_freq, o.high_freq)
    end
  end
  if kind == "mfcc" and (o.num_ceps < 1 or o.num_ceps > o.num_mel_bins or o.num_ceps ~= math.floor(o.num_ceps)) then
    check.fail(fn, "num_ceps must be an integer in 1..num_mel_bins (%d), got %s", o.num_mel_bins, tostring(o.num_ceps))
  end
  o.sample_rate = rate
  return o
end

-- fn: the name errors give (the public function's, loom.audio.<kind> by default).
local function features(kind, x, rate, opts, fn)
  fn = fn or "loom.audio." .. kind
  if not is_matrix(x) then
    check.fail(fn, "expected samples as a matrix (frames x channels), got %s", check.kind(x))
  end
  local o = feature_options(kind, rate, opts, fn)
  if not math.tointeger(o.channel) or o.channel < 1 or o.channel > x:cols() then
    check.fail(fn, "channel %s out of range for %d channels", check.shown(o.channel), x:cols())
  end
  return check.call(fn, core.features, kind, x, math.tointeger(o.channel), o)
end

-- Log power spectrum (frames x padded/2 + 1), column 1 the log energy, like
-- compute-spectrogram-feats.
function audio.spectrogram(x, rate, opts) return features("spectrogram", x, rate, opts) end
-- Log mel filterbank energies (frames x num_mel_bins [+1]), like compute-fbank-feats.
function audio.fbank(x, rate, opts) return features("fbank", x, rate, opts) end
-- Mel cepstra (frames x num_ceps), like compute-mfcc-feats.
function audio.mfcc(x, rate, opts) return features("mfcc", x, rate, opts) end

-- Kaldi's option defaults for a kind of features, for help and for documentation.
function audio.defaults(kind)
  if kind ~= "spectrogram" and kind ~= "fbank" and kind ~= "mfcc" then
    error("loom.audio.defaults: kind must be 'spectrogram', 'fbank' or 'mfcc', got " .. tostring(kind), 2)
  end
  return defaults(kind)
end

-- deltas(feats [, order = 2 [, {window = 2}]]) -> [feats, d, dd] as Kaldi's add-deltas.
function audio.deltas(feats, order, opts)
  if not is_matrix(feats) then
    error("loom.audio.deltas: expected features as a matrix (frames x features), got " .. type(feats), 2)
  end
  order = order or 2
  opts = check.options("loom.audio.deltas", opts, {window = "integer"})
  local window = opts.window or 2
  if math.type(order) ~= "integer" or order < 0 or order > 8 then
    error("loom.audio.deltas: order must be an integer in 0..8, got " .. tostring(order), 2)
  end
  if math.type(window) ~= "integer" or window < 1 then
    error("loom.audio.deltas: window must be an integer >= 1, got " .. tostring(window), 2)
  end
  return check.call("loom.audio.deltas", core.deltas, feats, order, window)
end

-- A 1 x cols row given as a cmvn statistic, checked.
local function stats_row(name, row, feats)
  if row:rows() ~= 1 or row:cols() ~= feats:cols() then
    error(string.format("loom.audio.cmvn: %s must be a 1 x %d row (the features are %d x %d), got %d x %d", name,
      feats:cols(), feats:rows(), feats:cols(), row:rows(), row:cols()), 3)
  end
  if row:dtype() == feats:dtype() then return row end
  return feats:dtype() == "float32" and row:float() or row:double()
end

-- cmvn(feats [, {variance = true}]) -> per-utterance mean (and variance) normalised copy;
-- cmvn(feats, {mean = row [, sd = row]}) -> (feats - mean) / sd with given statistics (a
-- speaker's, from cmvn_stats).
function audio.cmvn(feats, opts)
  if not is_matrix(feats) then
    error("loom.audio.cmvn: expected features as a matrix (frames x features), got " .. type(feats), 2)
  end
  opts = check.options("loom.audio.cmvn", opts, {variance = "boolean", mean = "matrix", sd = "matrix"})
  if opts.mean then
    if opts.variance ~= nil then error("loom.audio.cmvn: give variance or mean (and sd), not both", 2) end
    local out = feats - stats_row("mean", opts.mean, feats)
    if opts.sd then out = out / stats_row("sd", opts.sd, feats) end
    return out
  end
  if opts.sd then error("loom.audio.cmvn: sd needs mean", 2) end
  local variance = true
  if opts.variance ~= nil then variance = opts.variance end
  return check.call("loom.audio.cmvn", core.cmvn, feats, variance)
end

-- cmvn_stats(list [, {prior = stats, prior_frames = 200}]) -> {mean = 1 x F, sd = 1 x F,
-- frames = n}: each column's mean and (population) standard deviation over every frame of the
-- T_i x F feature matrices in list (all the utterances of one speaker, say), in two passes as
-- cmvn's; sd is 1 for a constant column, which is then only centred. With prior (statistics
-- of many voices, say) the result is that of list plus prior_frames frames distributed as the
-- prior: Kaldi's online CMVN takes global statistics as 200 frames in the same way, so that a
-- voice heard for one word is normalised sensibly and one heard for minutes by its own.
function audio.cmvn_stats(list, opts)
  opts = check.options("loom.audio.cmvn_stats", opts, {prior = "table", prior_frames = "number"})
  if type(list) ~= "table" or #list == 0 then
    error("loom.audio.cmvn_stats: expected a non-empty list of feature matrices, got " ..
      (type(list) == "table" and "an empty table" or type(list)), 2)
  end
  local F = is_matrix(list[1]) and list[1]:cols()
  local frames = 0
  for i, f in ipairs(list) do
    if not is_matrix(f) then
      error(string.format("loom.audio.cmvn_stats: item %d is a %s, not a matrix", i, type(f)), 2)
    end
    if f:cols() ~= F then
      error(string.format("loom.audio.cmvn_stats: item %d is %d x %d, item 1 has %d columns", i, f:rows(),
        f:cols(), F), 2)
    end
    frames = frames + f:rows()
  end
  if frames == 0 then error("loom.audio.cmvn_stats: the matrices have no frames", 2) end
  local sum = loom_zeros(1, F)
  for _, f in ipairs(list) do sum:add_(f:double():sum(1)) end
  local mean, squares = sum / frames, loom_zeros(1, F)
  for _, f in ipairs(list) do
    local d = f:double() - mean
    squares:add_(d:mul(d):sum(1))
  end
  local prior, G = opts.prior, opts.prior_frames or 200
  if prior then
    if not (G >= 0) then error("loom.audio.cmvn_stats: prior_frames must be >= 0, got " .. tostring(G), 2) end
    for _, k in ipairs{"mean", "sd"} do
      local row = prior[k]
      if not is_matrix(row) or row:rows() ~= 1 or row:cols() ~= F then
        error(string.format("loom.audio.cmvn_stats: prior.%s must be a 1 x %d row, got %s", k, F,
          is_matrix(row) and string.format("%d x %d", row:rows(), row:cols()) or type(row)), 2)
      end
    end
  end
  local sd, n = loom_zeros(1, F), frames + (prior and G or 0)
  for j = 1, F do
    local var = squares:get(1, j) / frames
    if prior then
      -- the two groups pooled (Chan et al.): the within variances plus the means' spread
      local m1, m2, v2 = mean:get(1, j), prior.mean:get(1, j), prior.sd:get(1, j) ^ 2
      var = (frames * var + G * v2) / n + frames * G * (m1 - m2) ^ 2 / (n * n)
      mean:set(1, j, (frames * m1 + G * m2) / n)
    end
    sd:set(1, j, var > 0 and math.sqrt(var) or 1)
  end
  return {mean = mean, sd = sd, frames = n}
end

-- The pieces, for tests and for looking inside the pipeline.
audio.window = core.window         -- window(name, n [, blackman_coeff]) -> n x 1
audio.mel = core.mel               -- mel(hz) = 1127 ln(1 + hz / 700)
audio.mel_inverse = core.mel_inverse
audio.melbank = core.melbank       -- melbank(bins, padded, rate, low, high) -> bins x padded/2+1
audio.dct = core.dct               -- dct(ceps, bins) -> ceps x bins

-- ---- augmentation: perturbations of the samples (speed, shift, noise), of the filterbank
-- ---- (vocal-tract length) and of the features (SpecAugment masks), for training on voices
-- ---- and rooms the data does not have. Random draws come from loom's seeded generator.

local function check_samples(fn, x)
  if not is_matrix(x) or x:cols() ~= 1 then
    error(string.format("loom.audio.%s: expected samples as an N x 1 matrix, got %s", fn,
      is_matrix(x) and (x:rows() .. "x" .. x:cols()) or type(x)), 3)
  end
end

-- speed(x, factor [, {quality = "medium"}]) -> x played `factor` times faster: resampled by
-- 1/factor, so tempo and pitch change together (Kaldi's speed perturbation, sox `speed`).
function audio.speed(x, factor, opts)
  check_samples("speed", x)
  if type(factor) ~= "number" or not (factor >= 0.5 and factor <= 2) then
    error("loom.audio.speed: factor must be a number in [0.5, 2], got " .. tostring(factor), 2)
  end
  opts = check.options("loom.audio.speed", opts, {quality = "string"})
  if factor == 1 then return x:copy() end
  return audio.resample(x, factor, 1, {quality = opts.quality or "medium"})
end

-- shift(x, samples) -> x delayed by `samples` (advanced when negative), zero-filled, same length.
function audio.shift(x, samples)
  check_samples("shift", x)
  if math.type(samples) ~= "integer" then
    error("loom.audio.shift: samples must be an integer, got " .. tostring(samples), 2)
  end
  local n, out = x:rows(), loom_zeros(x:rows(), 1)
  local k = math.abs(samples)
  if k >= n then return out end
  if samples >= 0 then
    out:slice(k + 1, n, 1, 1):copy_(x:slice(1, n - k, 1, 1))
  else
    out:slice(1, n - k, 1, 1):copy_(x:slice(k + 1, n, 1, 1))
  end
  return out
end

-- trim(x, rate [, {top_db = 50, block = 0.01}]) -> y, first, last: x without its leading
-- and trailing blocks (block seconds each; the last one counted as padded with zeros) whose
-- mean square is more than top_db below the loudest block's (librosa.effects.trim's rule,
-- over non-overlapping blocks), nor the exact zeros at either end of what is kept; y is a
-- copy of samples first..last. Silence throughout: x itself, 1, N.
function audio.trim(x, rate, opts)
  local fn = "loom.audio.trim"
  check_samples("trim", x)
  check.number(fn, "rate", rate, 1)
  opts = check.options(fn, opts, {top_db = "number", block = "number"})
  local top_db = opts.top_db or 50
  check.number(fn, "top_db", top_db, 0)
  local hop = math.max(1, math.floor(check.number(fn, "block", opts.block or 0.01, 0) * rate + 0.5))
  local n = x:rows()
  local energy, loudest = {}, 0
  for b = 1, (n + hop - 1) // hop do
    local from, to = (b - 1) * hop + 1, math.min(b * hop, n)
    local e = x:slice(from, to, 1, 1):norm() ^ 2 / hop
    energy[b], loudest = e, math.max(loudest, e)
  end
  if loudest == 0 then return x, 1, n end
  local floor, first, last = loudest * 10 ^ (-top_db / 10), nil, nil
  for b, e in ipairs(energy) do
    if e > floor then first, last = first or b, b end
  end
  local a, z = (first - 1) * hop + 1, math.min(last * hop, n)
  while x:get(a, 1) == 0 do a = a + 1 end -- digital silence inside the edge blocks
  while x:get(z, 1) == 0 do z = z - 1 end
  return x:slice(a, z, 1, 1):copy(), a, z
end

-- add_noise(x, noise, snr_db) -> x + g noise with g chosen so that 10 log10(P_x / P_gnoise) =
-- snr_db (P the mean square); noise (M x 1) is repeated or cut to x's length. White noise is
-- loom.randn(N, 1); babble is the sum of other utterances.
function audio.add_noise(x, noise, snr_db)
  check_samples("add_noise", x)
  check_samples("add_noise", noise)
  if type(snr_db) ~= "number" or snr_db ~= snr_db then
    error("loom.audio.add_noise: snr_db must be a number, got " .. tostring(snr_db), 2)
  end
  local n, m = x:rows(), noise:rows()
  if n == 0 or m == 0 then return x:copy() end
  local fitted = noise
  if m ~= n then
    fitted = loom_zeros(n, 1)
    for at = 1, n, m do
      local len = math.min(m, n - at + 1)
      fitted:slice(at, at + len - 1, 1, 1):copy_(noise:slice(1, len, 1, 1))
    end
  end
  local px, pn = x:dot(x) / n, fitted:dot(fitted) / n
  if pn == 0 or px == 0 then return x:copy() end
  local gain = math.sqrt(px / (pn * 10 ^ (snr_db / 10)))
  return x + fitted * gain
end

-- Kaldi's VtlnWarpFreq: the piecewise-linear frequency warp of vocal-tract-length
-- normalisation, f -> f / alpha between the breakpoints, pinned at low and high.
function audio.vtln_warp(hz, alpha, low, high, vtln_low, vtln_high)
  local args = {hz, alpha, low, high, vtln_low, vtln_high}
  for i = 1, 6 do
    local v = args[i]
    if type(v) ~= "number" or v ~= v then
      check.fail("loom.audio.vtln_warp", "argument %d must be a number, got %s", i, check.kind(v))
    end
  end
  if hz < low or hz > high then return hz end
  local l, h = vtln_low * math.max(1, alpha), vtln_high * math.min(1, alpha)
  local scale = 1 / alpha
  local fl, fh = scale * l, scale * h
  if hz < l then return low + (fl - low) / (l - low) * (hz - low) end
  if hz < h then return scale * hz end
  return high + (fh - high) / (h - high) * (hz - high)
end

-- vtlp_melbank(bins, padded, rate, low, high, alpha [, {vtln_low = 100, vtln_high = -500}])
-- -> bins x padded/2+1: Kaldi's mel filterbank with its triangle edges warped by
-- vtln_warp (as Kaldi's MelBanks with vtln_warp); alpha = 1 is audio.melbank exactly.
function audio.vtlp_melbank(bins, padded, rate, low, high, alpha, opts)
  check.integer("loom.audio.vtlp_melbank", "bins", bins, 1)
  check.integer("loom.audio.vtlp_melbank", "padded", padded, 2)
  check.number("loom.audio.vtlp_melbank", "rate", rate, 1)
  check.number("loom.audio.vtlp_melbank", "low", low, 0)
  check.number("loom.audio.vtlp_melbank", "high", high)
  opts = check.options("loom.audio.vtlp_melbank", opts, {vtln_low = "number", vtln_high = "number"})
  local nyquist = rate / 2
  if high <= 0 then high = high + nyquist end
  local vlow, vhigh = opts.vtln_low or 100, opts.vtln_high or -500
  if vhigh < 0 then vhigh = vhigh + nyquist end
  if not (type(alpha) == "number" and alpha >= 0.5 and alpha <= 2) then
    error("loom.audio.vtlp_melbank: alpha must be a number in [0.5, 2], got " .. tostring(alpha), 2)
  end
  if not (vlow > low and vhigh < high and vlow < vhigh) then
    error(string.format("loom.audio.vtlp_melbank: need low_freq < vtln_low < vtln_high < high_freq, got %g < %g < %g < %g",
      low, vlow, vhigh, high), 2)
  end
  local mel, inv = audio.mel, audio.mel_inverse
  local mlow, mhigh = mel(low), mel(high)
  local delta = (mhigh - mlow) / (bins + 1)
  local function warped(m)
    if alpha == 1 then return m end
    return mel(audio.vtln_warp(inv(m), alpha, low, high, vlow, vhigh))
  end
  local fft_bins = padded // 2 + 1
  local W = loom_zeros(bins, fft_bins)
  for b = 0, bins - 1 do
    local left, center, right = warped(mlow + b * delta), warped(mlow + (b + 1) * delta), warped(mlow + (b + 2) * delta)
    for j = 0, fft_bins - 2 do -- Kaldi leaves out the Nyquist bin
      local m = mel(rate * j / padded)
      if m > left and m < right then
        W:set(b + 1, j + 1, m <= center and (m - left) / (center - left) or (right - m) / (right - center))
      end
    end
  end
  return W
end

local FLT_EPSILON = 1.1920928955078125e-07

-- The DCT (transposed) and lifter row of (ceps, bins, lifter), made once.
local dct_cache = {}
local function dct_and_lifter(ceps, bins, q)
  local key = ceps .. ":" .. bins .. ":" .. q
  local c = dct_cache[key]
  if not c then
    local lifter = loom_zeros(1, ceps)
    for i = 0, ceps - 1 do
      lifter:set(1, i + 1, q ~= 0 and 1 + 0.5 * q * math.sin(math.pi * i / q) or 1)
    end
    c = {core.dct(ceps, bins):t():copy(), lifter}
    dct_cache[key] = c
  end
  return c[1], c[2]
end

-- Log mel energies of a power spectrum (frames x fft bins) through filterbank W (or of mel
-- energies when W is nil), or MFCC with `energy` (frames x 1: log, or linear when
-- energy_is_linear) as c0: the steps after the FFT.
local function mel_features(power, energy, W, o, energy_is_linear)
  local fb = (W and power * W:t() or power):maximum(FLT_EPSILON):map("log")
  if o.kind == "fbank" then return fb end
  local D, lifter = dct_and_lifter(o.num_ceps, o.num_mel_bins, o.cepstral_lifter)
  local ceps = fb * D
  if o.cepstral_lifter ~= 0 then ceps:mul_(lifter) end
  if o.use_energy then
    if energy_is_linear then ceps:col(1):copy_(energy:maximum(FLT_EPSILON):map("log"))
    else ceps:col(1):copy_(energy) end
  end
  return ceps
end

local warped_bank = core.warped_melbank
local VTLP_OPTIONS = {num_mel_bins = 23, low_freq = 20.0, high_freq = 0.0, num_ceps = 13,
  cepstral_lifter = 22.0, use_energy = true, vtln_low = 100.0, vtln_high = -500.0, kind = "mfcc"}

-- vtlp(x, rate, alpha [, opts]) -> MFCC (or fbank with kind = "fbank") as audio.mfcc computes
-- them, through a filterbank warped by alpha (vocal-tract-length perturbation; 0.9-1.1 is
-- the usual range). Framing options go to audio.spectrogram; mel options as audio.mfcc's
-- plus vtln_low / vtln_high. alpha = 1 reproduces audio.mfcc / audio.fbank.
local function vtlp(x, rate, alpha, opts)
  if opts ~= nil and (type(opts) ~= "table" or is_matrix(opts)) then
    check.fail("loom.audio.vtlp", "options must be a table, got %s", check.kind(opts))
  end
  local o, frame = {}, {}
  for k, v in pairs(VTLP_OPTIONS) do o[k] = v end
  for k, v in pairs(opts or {}) do
    if VTLP_OPTIONS[k] ~= nil then o[k] = v
    elseif COMMON[ALIASES[k] or k] ~= nil then frame[k] = v
    else check.fail("loom.audio.vtlp", "unknown option '%s'", tostring(k)) end
  end
  if o.kind ~= "mfcc" and o.kind ~= "fbank" then
    check.fail("loom.audio.vtlp", "kind must be 'mfcc' or 'fbank', got %s", tostring(o.kind))
  end
  if type(alpha) ~= "number" or not (alpha > 0) then
    check.fail("loom.audio.vtlp", "alpha (the warp factor) must be a positive number, got %s", check.shown(alpha))
  end
  local spec = features("spectrogram", x, rate, frame, "loom.audio.vtlp")
  local energy = spec:col(1):copy()
  local power = spec:map("exp")
  power:col(1):fill_(0) -- the energy column; the DC bin has no weight in any mel triangle
  local vlow, vhigh = o.vtln_low, o.vtln_high
  local W = warped_bank(o.num_mel_bins, (spec:cols() - 1) * 2, rate, o.low_freq, o.high_freq, alpha, vlow, vhigh, 1)
  return mel_features(power, energy, W, o)
end

function audio.vtlp(x, rate, alpha, opts)
  return check.call("loom.audio.vtlp", vtlp, x, rate, alpha, opts)
end

-- spec_augment(feats [, {time_masks = 2, time_width = 10, freq_masks = 2, freq_width = 5,
-- value = 0}]) -> a copy with SpecAugment's masks (Park et al. 2019): freq_masks bands of
-- 0..freq_width columns and time_masks spans of 0..time_width frames (at most a fifth of
-- the frames each) set to value (0 is the mean after CMVN).
function audio.spec_augment(feats, opts)
  if not is_matrix(feats) then
    error("loom.audio.spec_augment: expected features as a matrix (frames x features), got " .. type(feats), 2)
  end
  opts = check.options("loom.audio.spec_augment", opts, {time_masks = "number", time_width = "number",
    freq_masks = "number", freq_width = "number", value = "number"})
  local o = {time_masks = 2, time_width = 10, freq_masks = 2, freq_width = 5, value = 0}
  for k, v in pairs(opts) do
    if o[k] == nil then error(string.format("loom.audio.spec_augment: unknown option '%s'", tostring(k)), 2) end
    if type(v) ~= "number" or (k ~= "value" and (math.type(v) ~= "integer" or v < 0)) then
      error(string.format("loom.audio.spec_augment: option '%s' must be %s, got %s", k,
        k == "value" and "a number" or "an integer >= 0", tostring(v)), 2)
    end
    o[k] = v
  end
  local out = feats:copy()
  local T, F = out:rows(), out:cols()
  local function mask(count, width, size, slicer)
    for _ = 1, count do
      local w = math.min(loom_random_int(width + 1) - 1, size)
      if w > 0 then
        local start = loom_random_int(size - w + 1)
        slicer(start, start + w - 1):fill_(o.value)
      end
    end
  end
  if T > 0 and F > 0 then
    mask(o.freq_masks, o.freq_width, F, function(a, b) return out:slice(1, T, a, b) end)
    mask(o.time_masks, math.min(o.time_width, T // 5), T, function(a, b) return out:slice(a, b, 1, F) end)
  end
  return out
end

-- ---- augmentation in the spectral domain: one FFT per utterance, kept; every perturbation
-- ---- after that is a cheap product (speed, VTLP) or sum (noise) on the kept spectra.

audio.warped_melbank = core.warped_melbank -- (bins, padded, rate, low, high, alpha, vtln_low, vtln_high, speed)
audio.stretch = core.stretch               -- stretch(m, step) -> rows of m read every step rows

-- spectra(x, rate [, framing opts]) -> {power = frames x (padded/2 + 1) power spectra after
-- Kaldi's framing, DC removal, pre-emphasis and window (the DC bin, in no mel triangle, is 0),
-- energy = frames x 1 raw frame energies (linear), rate, padded}: what perturbed() starts from.
function audio.spectra(x, rate, opts)
  local spec = features("spectrogram", x, rate, opts, "loom.audio.spectra")
  local power = spec:map("exp")
  local energy = power:col(1):copy()
  power:col(1):fill_(0)
  return {power = power, energy = energy, rate = rate, padded = (spec:cols() - 1) * 2}
end

local PERTURBED = {speed = 1.0, tempo = 1.0, alpha = 1.0, snr = 20.0, kind = "mfcc", num_mel_bins = 23, low_freq = 20.0,
  high_freq = 0.0, num_ceps = 13, cepstral_lifter = 22.0, use_energy = true, vtln_low = 100.0, vtln_high = -500.0}

-- The plain (unwarped) mel energies of spectra s under the options o, kept in s.
local function plain_mel(s, o)
  local key = string.format("%d:%g:%g", o.num_mel_bins, o.low_freq, o.high_freq)
  s.mel = s.mel or {}
  if not s.mel[key] then
    s.mel[key] = s.power * warped_bank(o.num_mel_bins, s.padded, s.rate, o.low_freq, o.high_freq, 1, o.vtln_low,
      o.vtln_high, 1):t()
  end
  return s.mel[key]
end

-- rows frames of the mel energies M and frame energies E of one noise from a random frame on
-- (repeated when it is shorter), added to (NM, NE) scaled by `scale` (new ones when nil).
local function add_noise_frames(NM, NE, M, E, rows, scale)
  NM = NM or loom_zeros(rows, M:cols())
  NE = NE or loom_zeros(rows, 1)
  local n = M:rows()
  local from = n > rows and loom_random_int(n - rows + 1) or 1
  for at = 1, rows, n do
    local len = math.min(n - from + 1, rows - at + 1)
    NM:slice(at, at + len - 1, 1, M:cols()):add_(M:slice(from, from + len - 1, 1, M:cols()) * scale)
    NE:slice(at, at + len - 1, 1, 1):add_(E:slice(from, from + len - 1, 1, 1) * scale)
    from = 1
  end
  return NM, NE
end

local function is_spectra(s) return type(s) == "table" and is_matrix(s.power) and is_matrix(s.energy) end

-- The noise's mel energies (plain filterbank: noise is added after the speed change) and
-- frame energies for rows frames: one spectra, or the sum of a list of them (babble), each
-- scaled to a mean frame energy of 1.
local function noise_of(noise, rows, o)
  if type(noise) ~= "table" then
    check.fail("loom.audio.perturbed", "noise must be spectra or a list of them, got %s", check.kind(noise))
  end
  if is_spectra(noise) then return add_noise_frames(nil, nil, plain_mel(noise, o), noise.energy, rows, 1) end
  local NM, NE
  for _, s in ipairs(noise) do
    if not is_spectra(s) then check.fail("loom.audio.perturbed", "noise must be spectra or a list of them") end
    local mean = s.energy:sum() / s.energy:rows()
    if mean > 0 then NM, NE = add_noise_frames(NM, NE, plain_mel(s, o), s.energy, rows, 1 / mean) end
  end
  return NM, NE
end

local function perturbed(s, opts)
  if not is_spectra(s) or not s.rate then
    check.fail("loom.audio.perturbed", "expected the spectra of audio.spectra, got %s", check.kind(s))
  end
  if opts ~= nil and (type(opts) ~= "table" or is_matrix(opts)) then
    check.fail("loom.audio.perturbed", "options must be a table, got %s", check.kind(opts))
  end
  local o = {}
  for k, v in pairs(PERTURBED) do o[k] = v end
  for k, v in pairs(opts or {}) do
    if PERTURBED[k] == nil and k ~= "noise" then check.fail("loom.audio.perturbed", "unknown option '%s'", tostring(k)) end
    if PERTURBED[k] ~= nil and type(v) ~= type(PERTURBED[k]) then
      check.fail("loom.audio.perturbed", "option '%s' must be a %s, got %s", k, type(PERTURBED[k]), check.kind(v))
    end
    o[k] = v
  end
  for _, k in ipairs{"speed", "tempo", "alpha"} do
    if not (o[k] > 0 and o[k] < math.huge) then
      check.fail("loom.audio.perturbed", "%s must be a positive factor, got %s", k, check.shown(o[k]))
    end
  end
  if o.kind ~= "mfcc" and o.kind ~= "fbank" then
    check.fail("loom.audio.perturbed", "kind must be 'mfcc' or 'fbank', got %s", tostring(o.kind))
  end
  local W = warped_bank(o.num_mel_bins, s.padded, s.rate, o.low_freq, o.high_freq, o.alpha, o.vtln_low,
    o.vtln_high, o.speed):t()
  -- the filterbank is linear and the stretch acts on frames, so both commute with the noise's
  -- sum: mel energies first, then the (narrow) stretch and sum
  local M, E = s.power * W, s.energy
  local step = o.speed * o.tempo -- frames: speed and tempo; frequencies: speed alone
  if step ~= 1 then M, E = core.stretch(M, step), core.stretch(E, step) end
  local NM, NE
  if o.noise then NM, NE = noise_of(o.noise, M:rows(), o) end
  if NM then
    local signal, noise = E:sum(), NE:sum()
    if signal > 0 and noise > 0 then
      local gain = signal / (noise * 10 ^ (o.snr / 10)) -- on powers: the SNR of the frames' energies
      M:add_(NM * gain)
      E = E + NE * gain
    end
  end
  return mel_features(M, E, nil, o, true)
end

-- perturbed(spectra, {speed = 1, tempo = 1, alpha = 1, noise = spectra | {spectra, ...} | nil, snr = 20, kind = "mfcc" |
-- "fbank", num_mel_bins, num_ceps, cepstral_lifter, low_freq, high_freq, use_energy,
-- vtln_low, vtln_high}) -> the MFCC (or log mel) of the utterance whose spectra audio.spectra
-- made, perturbed in the spectral domain: speed perturbation as the frames stretched by
-- `speed` (linear interpolation) and the filterbank read at frequencies times `speed`; tempo
-- perturbation (faster or slower, same pitch) as the frames stretched alone; VTLP
-- as the filterbank's edges warped by alpha; additive noise as the mel energies (through
-- the plain filterbank, kept in the noise's table) of another sound (white noise:
-- audio.spectra of loom.randn; babble: a list of utterances' spectra, summed at equal mean
-- energy) added at `snr` dB (the ratio of summed frame energies), each from a random frame. Cross terms between signal and noise, which average to 0,
-- are left out, and the window stays 25 ms of the original: an approximation of the
-- waveform perturbations (audio.speed, audio.add_noise, audio.vtlp), at the cost of a
-- product. With no perturbation it is audio.mfcc (audio.fbank) up to the floor of log power.
function audio.perturbed(s, opts)
  return check.call("loom.audio.perturbed", perturbed, s, opts)
end

return audio
