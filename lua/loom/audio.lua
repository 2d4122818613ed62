-- loom.audio: sound files, resampling and Kaldi-compatible speech features (spectrogram,
-- fbank, MFCC, deltas, CMVN) on loom matrices. Not a player or recorder; the C is loom.core.audio.
local core = require("loom.core").audio
local is_matrix = require("loom.core").matrix.is_matrix
local check = require "loom.check"

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
local function feature_options(kind, rate, opts)
  local fn = "loom.audio." .. kind
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

local function features(kind, x, rate, opts)
  if not is_matrix(x) then
    check.fail("loom.audio." .. kind, "expected samples as a matrix (frames x channels), got %s", check.kind(x))
  end
  local o = feature_options(kind, rate, opts)
  if not math.tointeger(o.channel) or o.channel < 1 or o.channel > x:cols() then
    check.fail("loom.audio." .. kind, "channel %s out of range for %d channels", check.shown(o.channel), x:cols())
  end
  return check.call("loom.audio." .. kind, core.features, kind, x, math.tointeger(o.channel), o)
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

-- cmvn(feats [, {variance = true}]) -> per-utterance mean (and variance) normalised copy.
function audio.cmvn(feats, opts)
  if not is_matrix(feats) then
    error("loom.audio.cmvn: expected features as a matrix (frames x features), got " .. type(feats), 2)
  end
  opts = check.options("loom.audio.cmvn", opts, {variance = "boolean"})
  local variance = true
  if opts.variance ~= nil then variance = opts.variance end
  return check.call("loom.audio.cmvn", core.cmvn, feats, variance)
end

-- The pieces, for tests and for looking inside the pipeline.
audio.window = core.window         -- window(name, n [, blackman_coeff]) -> n x 1
audio.mel = core.mel               -- mel(hz) = 1127 ln(1 + hz / 700)
audio.mel_inverse = core.mel_inverse
audio.melbank = core.melbank       -- melbank(bins, padded, rate, low, high) -> bins x padded/2+1
audio.dct = core.dct               -- dct(ceps, bins) -> ceps x bins

return audio
