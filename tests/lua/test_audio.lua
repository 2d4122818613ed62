-- test_audio.lua: loom.audio from Lua: file round trips and errors, resampling, feature
-- shapes and options, the pieces against closed forms, deltas and CMVN. Kaldi: test_audio_kaldi.lua.
local loom = require "loom"
local audio = loom.audio

local tmp = os.tmpname()
os.remove(tmp)
local function temp(ext) return tmp .. "." .. ext end

local function sine(n, freq, rate, amp)
  local x = loom.zeros(n, 1)
  for i = 1, n do x:set(i, 1, (amp or 0.5) * math.sin(2 * math.pi * freq * (i - 1) / rate)) end
  return x
end

local function max_abs_diff(a, b)
  return (a - b):map("abs"):max()
end

test("16-bit round trip is exact", function()
  local x = loom.zeros(500, 1)
  for i = 1, 500 do x:set(i, 1, ((i * 131) % 65536 - 32768) / 32768) end
  local path = temp("wav")
  equal(audio.write(path, x, 8000), true, "write")
  local y, rate = audio.read(path)
  equal(rate, 8000, "rate")
  equal(y:rows(), 500, "rows"); equal(y:cols(), 1, "cols")
  equal(max_abs_diff(x, y), 0, "max difference")
  os.remove(path)
end)

test("float and double files keep values; stereo keeps channels", function()
  local x = loom.zeros(300, 2)
  for i = 1, 300 do
    x:set(i, 1, math.sin(i / 7) * 0.9)
    x:set(i, 2, math.cos(i / 3) * 0.25)
  end
  local path = temp("wav")
  assert(audio.write(path, x, 16000, {format = "float"}))
  local y, rate = audio.read(path)
  equal(rate, 16000, "rate")
  equal(y:cols(), 2, "channels")
  check(max_abs_diff(x, y) < 1e-7, "float round trip off by %g", max_abs_diff(x, y))
  assert(audio.write(path, x, 16000, {format = "double"}))
  y = audio.read(path)
  equal(max_abs_diff(x, y), 0, "double round trip")
  local flac = temp("flac")
  assert(audio.write(flac, x, 16000, {format = "pcm24"}))
  y = audio.read(flac)
  check(max_abs_diff(x, y) <= 2 ^ -23, "24-bit flac off by %g", max_abs_diff(x, y))
  os.remove(path); os.remove(flac)
  local mono = audio.load(flac)
  equal(mono, nil, "load of a removed file")
end)

test("load takes one channel and resamples", function()
  local x = loom.hcat{sine(2205, 441, 22050), sine(2205, 100, 22050)}
  local path = temp("wav")
  assert(audio.write(path, x, 22050))
  local y, rate = audio.load(path, {rate = 8000, channel = 2})
  equal(rate, 8000, "rate")
  equal(y:cols(), 1, "cols")
  equal(y:rows(), 800, "rows")
  os.remove(path)
end)

test("missing and broken files give nil, message", function()
  local x, err = audio.read("/nonexistent/dir/a.wav")
  equal(x, nil, "samples")
  equal(err, "cannot open '/nonexistent/dir/a.wav': No such file or directory", "message")
  local path = temp("wav")
  local f = assert(io.open(path, "wb"))
  f:write("this is not a sound file at all, only text")
  f:close()
  x, err = audio.read(path)
  equal(x, nil, "samples")
  equal(err, string.format("'%s' is not a readable audio file (Format not recognised.)", path), "message")
  os.remove(path)
  local ok, werr = audio.write("/nonexistent/dir/a.wav", loom.zeros(10, 1), 8000)
  equal(ok, nil, "write to a missing directory")
  check(werr:find("cannot create '/nonexistent/dir/a.wav'", 1, true), "message: %s", werr)
end)

test("write rejects bad arguments with the function's name", function()
  checkerror("loom.audio.mfcc: channel 3 out of range for 2 channels", audio.mfcc, loom.zeros(400, 2), 8000,
    {channel = 3})
  checkerror("loom.audio.dct: need 1 <= ceps <= bins, got 5 and 4", audio.dct, 5, 4)
  checkerror("loom.audio.write: unknown format 'mp3' (pcm16, pcm24, pcm32, pcm8, float, double, vorbis)",
    audio.write, temp("wav"), loom.zeros(4, 1), 8000, {format = "mp3"})
  checkerror("loom.audio.write: cannot write encoding 'vorbis' in a 'wav' file",
    audio.write, temp("wav"), loom.zeros(4, 1), 8000, {format = "vorbis"})
  checkerror("loom.audio.write: unknown option 'rate'", audio.write, temp("wav"), loom.zeros(4, 1), 8000,
    {rate = 3})
  checkerror("loom.audio.write: rate must be an integer number of Hz, got 8000.5",
    audio.write, temp("wav"), loom.zeros(4, 1), 8000.5)
  checkerror("loom.audio.write: expected samples as a matrix (frames x channels), got table",
    audio.write, temp("wav"), {1, 2}, 8000)
end)

-- The frequency in [lo, hi] where the Hann-windowed DTFT of column 1 peaks, on a 0.01 Hz grid
-- refined around the best coarse point.
local function peak_frequency(x, rate, lo, hi)
  local n = x:rows()
  local function power(f)
    local re, im = 0, 0
    for j = 1, n do
      local w = 0.5 - 0.5 * math.cos(2 * math.pi * (j - 1) / (n - 1))
      local a = -2 * math.pi * f * (j - 1) / rate
      re = re + w * x:get(j, 1) * math.cos(a); im = im + w * x:get(j, 1) * math.sin(a)
    end
    return re * re + im * im
  end
  local best, bestp = lo, -1
  for f = lo, hi, 0.5 do
    local p = power(f)
    if p > bestp then best, bestp = f, p end
  end
  local fine = best
  for f = best - 0.5, best + 0.5, 0.01 do
    local p = power(f)
    if p > bestp then fine, bestp = f, p end
  end
  return fine
end

test("resampling keeps a sine's frequency and interpolates between samples", function()
  local x = sine(2205, 440, 22050)
  local y = audio.resample(x, 22050, 8000)
  equal(y:rows(), 800, "rows")
  local mid = y:slice(100, 611, 1, 1):copy()
  local f = peak_frequency(mid, 8000, 400, 480)
  check(math.abs(f - 440) < 0.05, "frequency after 22050 -> 8000: %g", f)
  -- Upsampling by 2: the new in-between samples lie on the sine, which repeating the
  -- nearest input sample would miss by up to sin(2 pi 440 / 16000) ~ 0.17.
  local z = audio.resample(sine(800, 440, 8000), 8000, 16000)
  equal(z:rows(), 1600, "rows")
  local worst = 0
  for i = 200, 1400 do
    local want = 0.5 * math.sin(2 * math.pi * 440 * (i - 1) / 16000)
    worst = math.max(worst, math.abs(z:get(i, 1) - want))
  end
  check(worst < 1e-3, "upsampled sine off by %g", worst)
  local same = audio.resample(x, 8000, 8000)
  equal(max_abs_diff(same, x), 0, "same rate is a copy")
  checkerror("loom.audio.resample: ratio 1000 is outside [1/256, 256]", audio.resample, x, 8, 8000)
  checkerror("loom.audio.resample: unknown quality 'great' (best, medium, fast)", audio.resample, x, 8000,
    16000, {quality = "great"})
  checkerror("loom.audio.resample: rates must be positive numbers, got 0 and 8000", audio.resample, x, 0, 8000)
end)

test("feature shapes follow Kaldi's framing", function()
  local x = sine(8000, 440, 8000, 0.1)
  local m = audio.mfcc(x, 8000)
  equal(m:rows(), 1 + (8000 - 200) // 80, "frames")
  equal(m:cols(), 13, "ceps")
  equal(audio.fbank(x, 8000):cols(), 23, "mel bins")
  equal(audio.fbank(x, 8000, {use_energy = true}):cols(), 24, "mel bins + energy")
  equal(audio.spectrogram(x, 8000):cols(), 129, "spectrogram bins")
  equal(audio.mfcc(x, 8000, {snip_edges = false}):rows(), (8000 + 40) // 80, "frames without snipping")
  equal(audio.mfcc(x, 16000, {num_mel_bins = 40, num_ceps = 20}):cols(), 20, "ceps")
  equal(audio.mfcc(loom.zeros(150, 1), 8000):rows(), 0, "shorter than one frame")
  -- the 440 Hz tone lands in the mel bin whose centre is nearest 440 Hz
  local fb = audio.fbank(x, 8000)
  local bin = fb:row(10):argmax(2):get(1, 1)
  local centre = audio.mel_inverse(audio.mel(20) + bin * (audio.mel(4000) - audio.mel(20)) / 24)
  check(math.abs(centre - 440) < 80, "peak bin %d centred at %g Hz", bin, centre)
end)

test("features of a channel of a stereo matrix equal those of that channel alone", function()
  local left, right = sine(3000, 300, 8000, 0.2), sine(3000, 1200, 8000, 0.3)
  local stereo = loom.hcat{left, right}
  equal(max_abs_diff(audio.mfcc(stereo, 8000, {channel = 2}), audio.mfcc(right, 8000)), 0, "channel 2")
  equal(max_abs_diff(audio.fbank(stereo, 8000), audio.fbank(left, 8000)), 0, "channel 1 by default")
  -- a column view (row stride 2) works too
  equal(max_abs_diff(audio.spectrogram(stereo:col(2), 8000), audio.spectrogram(right, 8000)), 0, "view")
end)

test("feature options are checked with clear messages", function()
  local x = sine(1000, 440, 8000)
  checkerror("loom.audio.mfcc: unknown option 'num_cepstra'", audio.mfcc, x, 8000, {num_cepstra = 3})
  checkerror("loom.audio.mfcc: option 'use_energy' must be a boolean, got number", audio.mfcc, x, 8000,
    {use_energy = 1})
  checkerror("loom.audio.fbank: unknown window 'kaiser' (povey, hamming, hanning, rectangular, blackman)",
    audio.fbank, x, 8000, {window = "kaiser"})
  checkerror("loom.audio.mfcc: num_ceps must be an integer in 1..num_mel_bins (23), got 30", audio.mfcc, x,
    8000, {num_ceps = 30})
  checkerror("loom.audio.fbank: need 0 <= low_freq < high_freq <= 4000 (Nyquist), got low_freq 20, high_freq 5000",
    audio.fbank, x, 8000, {high_freq = 5000})
  checkerror("loom.audio.mfcc: expected a positive sample rate, got nil", audio.mfcc, x)
  checkerror("loom.audio.spectrogram: channel 2 out of range for 1 channels", audio.spectrogram, x, 8000,
    {channel = 2})
  checkerror("loom.audio.mfcc: frames of 0.1 ms shifted by 10 ms are too short at 8000 Hz", audio.mfcc, x,
    8000, {frame_length = 0.1})
  checkerror("loom.audio.mfcc: sample_frequency 16000 differs from the rate 8000", audio.mfcc, x, 8000,
    {sample_frequency = 16000})
  -- torchaudio's spellings are accepted
  local a = audio.fbank(x, 8000, {window_type = "hamming", preemphasis_coefficient = 0.5})
  local b = audio.fbank(x, 8000, {window = "hamming", preemphasis = 0.5})
  equal(max_abs_diff(a, b), 0, "aliases")
end)

test("dither uses loom's generator: same seed, same features", function()
  local x = sine(2000, 300, 8000, 0.01)
  loom.seed(7)
  local a = audio.fbank(x, 8000, {dither = 1e-3})
  loom.seed(7)
  local b = audio.fbank(x, 8000, {dither = 1e-3})
  equal(max_abs_diff(a, b), 0, "same seed")
  check(max_abs_diff(a, audio.fbank(x, 8000)) > 0, "dither changes the features")
end)

test("windows, mel scale and DCT against closed forms", function()
  local n = 200
  local w = {povey = audio.window("povey", n), hamming = audio.window("hamming", n),
    hanning = audio.window("hanning", n), rectangular = audio.window("rectangular", n),
    blackman = audio.window("blackman", n, 0.42)}
  for i = 1, n do
    local a = 2 * math.pi * (i - 1) / (n - 1)
    local hann = 0.5 - 0.5 * math.cos(a)
    close(w.hanning:get(i, 1), hann, 1e-14, "hanning")
    close(w.povey:get(i, 1), hann ^ 0.85, 1e-14, "povey")
    close(w.hamming:get(i, 1), 0.54 - 0.46 * math.cos(a), 1e-14, "hamming")
    close(w.rectangular:get(i, 1), 1, 0, "rectangular")
    close(w.blackman:get(i, 1), 0.42 - 0.5 * math.cos(a) + 0.08 * math.cos(2 * a), 1e-14, "blackman")
  end
  close(audio.mel(700), 1127 * math.log(2), 1e-14, "mel(700)")
  close(audio.mel_inverse(audio.mel(1234.5)), 1234.5, 1e-12, "mel inverse")
  local D = audio.dct(13, 23)
  for k = 1, 13 do
    for j = 1, 23 do
      local want = k == 1 and math.sqrt(1 / 23) or math.sqrt(2 / 23) * math.cos(math.pi / 23 * (j - 0.5) * (k - 1))
      close(D:get(k, j), want, 1e-14, "dct")
    end
  end
  -- the mel bank, entry by entry from Kaldi's definition
  local W = audio.melbank(23, 256, 8000, 20, 0)
  equal(W:cols(), 129, "bank columns")
  local lo, hi = audio.mel(20), audio.mel(4000)
  local delta = (hi - lo) / 24
  for b = 1, 23 do
    local left, centre, right = lo + (b - 1) * delta, lo + b * delta, lo + (b + 1) * delta
    for k = 1, 128 do
      local m = audio.mel((k - 1) * 8000 / 256)
      local want = 0
      if m > left and m < right then
        want = m <= centre and (m - left) / (centre - left) or (right - m) / (right - centre)
      end
      close(W:get(b, k), want, 1e-12, string.format("bank %d bin %d", b, k))
    end
    equal(W:get(b, 129), 0, "Nyquist bin")
  end
  -- each refusal names the argument (issue 13, item 12)
  checkerror("loom.audio.melbank: bins must be >= 3, got 2", audio.melbank, 2, 256, 8000, 20, 0)
  checkerror("loom.audio.melbank: padded length must be even and >= 2, got 255", audio.melbank, 3, 255, 8000, 20, 0)
  checkerror("loom.audio.melbank: low_freq must be in [0, 4000) (Nyquist), got 5000", audio.melbank, 3, 256,
    8000, 5000, 0)
  checkerror("loom.audio.melbank: high_freq must give a top in (low_freq 20, 4000] (Nyquist; <= 0 counts down "
    .. "from it), got 4500", audio.melbank, 3, 256, 8000, 20, 4500)
end)

test("a NaN or infinite sample is refused, where it is (issue 13, item 10)", function()
  local x = sine(800, 440, 8000, 0.5)
  x:set(17, 1, 0 / 0)
  for _, kind in ipairs{"spectrogram", "fbank", "mfcc"} do
    checkerror("loom.audio." .. kind .. ": sample 17 of channel 1 is NaN", audio[kind], x, 8000)
  end
  local y = loom.hcat{sine(800, 440, 8000, 0.5), sine(800, 440, 8000, 0.5)}
  y:set(800, 2, math.huge)
  checkerror("loom.audio.mfcc: sample 800 of channel 2 is infinite", audio.mfcc, y, 8000, {channel = 2})
  check(audio.mfcc(y, 8000, {channel = 1}), "the other channel is fine")
  -- audio.write once wrote NaN as -1.0
  local path = temp("wav")
  checkerror("loom.audio.write: sample 17 of channel 1 is NaN", audio.write, path, x, 8000)
  checkerror("loom.audio.write: sample 800 of channel 2 is infinite", audio.write, path, y, 8000)
end)

test("the binding names a wrong option (issue 13, item 12)", function()
  local core = require "loom.core"
  local o = {sample_rate = 8000, frame_length = 25, frame_shift = 10, preemphasis = 0.97,
    remove_dc = true, window = "povey", blackman_coeff = 0.42, snip_edges = true,
    round_to_power_of_two = true, dither = 0, energy_floor = 0, raw_energy = true}
  local x = sine(800, 440, 8000, 0.5)
  check(core.audio.features("spectrogram", x, 1, o), "complete options work")
  o.frame_shift = "10"
  checkerror("loom.audio.spectrogram: option 'frame_shift' must be a number, got string",
    core.audio.features, "spectrogram", x, 1, o)
  o.frame_shift, o.snip_edges = 10, 1
  checkerror("loom.audio.spectrogram: option 'snip_edges' must be a boolean, got number",
    core.audio.features, "spectrogram", x, 1, o)
  o.snip_edges, o.window = true, "kaiser"
  checkerror("loom.audio.spectrogram: option 'window' must be one of povey, hamming, hanning, "
    .. "rectangular, blackman, got kaiser", core.audio.features, "spectrogram", x, 1, o)
end)

test("deltas and CMVN", function()
  local T = 9
  local f = loom.zeros(T, 2)
  for t = 1, T do f:set(t, 1, t * t); f:set(t, 2, math.sin(t)) end
  local d = audio.deltas(f)
  equal(d:cols(), 6, "order 2 columns")
  local function at(t) return f:get(math.max(1, math.min(T, t)), 1) end
  for t = 1, T do
    local want = (2 * (at(t + 2) - at(t - 2)) + (at(t + 1) - at(t - 1))) / 10
    close(d:get(t, 3), want, 1e-12, "delta")
  end
  -- for t^2 in the interior the second derivative comes out as Kaldi's scaled constant
  close(d:get(5, 5), 2 * 1.0, 1e-12, "delta-delta of t^2")
  equal(audio.deltas(f, 1):cols(), 4, "order 1 columns")
  equal(audio.deltas(f, 0):cols(), 2, "order 0 columns")
  checkerror("loom.audio.deltas: order must be an integer in 0..8, got 9", audio.deltas, f, 9)
  local n = audio.cmvn(f)
  for j = 1, 2 do
    close(n:col(j):mean(), 0, 1e-12, "mean")
    close((n:col(j):mul(n:col(j))):mean(), 1, 1e-12, "variance")
  end
  local c = audio.cmvn(f, {variance = false})
  close(c:get(1, 1), 1 - f:col(1):mean(), 1e-12, "mean only")
end)

test("cmvn_stats: a speaker's statistics over all its utterances, and cmvn with them", function()
  loom.seed(3)
  local a, b = loom.randn(7, 3) * 2 + 5, loom.randn(4, 3) - 1
  a:set(1, 3, 1e8) -- a large offset in one frame: the two-pass variance keeps its digits
  local s = audio.cmvn_stats{a, b}
  equal(s.frames, 11, "frames")
  for j = 1, 3 do
    -- naive: every frame in one list, mean then squared deviations, in long sums
    local values = {}
    for t = 1, 7 do values[#values + 1] = a:get(t, j) end
    for t = 1, 4 do values[#values + 1] = b:get(t, j) end
    local m = 0
    for _, v in ipairs(values) do m = m + v end
    m = m / #values
    local q = 0
    for _, v in ipairs(values) do q = q + (v - m) ^ 2 end
    close(s.mean:get(1, j), m, 1e-12 * math.max(1, math.abs(m)), "mean of column " .. j)
    close(s.sd:get(1, j), math.sqrt(q / #values), 1e-12 * math.sqrt(q / #values), "sd of column " .. j)
  end
  -- one utterance's own statistics give per-utterance CMVN
  local own = audio.cmvn_stats{b}
  local diff = audio.cmvn(b, {mean = own.mean, sd = own.sd}) - audio.cmvn(b)
  check(diff:norm() < 1e-12, "own statistics = cmvn(b): %g", diff:norm())
  -- mean only, and float32 features take float64 statistics
  close(audio.cmvn(b, {mean = s.mean}):get(2, 1), b:get(2, 1) - s.mean:get(1, 1), 1e-15, "mean only")
  equal(audio.cmvn(b:float(), {mean = s.mean, sd = s.sd}):dtype(), "float32", "the features' dtype")
  -- a constant column is only centred
  equal(audio.cmvn_stats{loom.ones(3, 2) * 4}.sd:get(1, 2), 1, "constant column: sd 1")
  checkerror("loom.audio.cmvn: mean must be a 1 x 3 row (the features are 4 x 3), got 1 x 2", audio.cmvn, b,
    {mean = loom.zeros(1, 2)})
  checkerror("loom.audio.cmvn: sd must be a 1 x 3 row (the features are 4 x 3), got 3 x 1", audio.cmvn, b,
    {mean = s.mean, sd = loom.ones(3, 1)})
  checkerror("loom.audio.cmvn: sd needs mean", audio.cmvn, b, {sd = s.sd})
  checkerror("loom.audio.cmvn: give variance or mean (and sd), not both", audio.cmvn, b, {mean = s.mean, variance = true})
  checkerror("loom.audio.cmvn_stats: expected a non-empty list of feature matrices, got an empty table",
    audio.cmvn_stats, {})
  checkerror("loom.audio.cmvn_stats: item 2 is 2 x 2, item 1 has 3 columns", audio.cmvn_stats, {a, loom.zeros(2, 2)})
  checkerror("loom.audio.cmvn_stats: item 2 is a string, not a matrix", audio.cmvn_stats, {a, "x"})
  checkerror("loom.audio.cmvn_stats: the matrices have no frames", audio.cmvn_stats, {loom.zeros(0, 3)})
  -- a prior counts as prior_frames frames distributed as it: exactly the statistics of the list
  -- with those frames added
  local P = loom.randn(200, 3) * 0.5 - 4
  local pooled, with_prior = audio.cmvn_stats{a, b, P}, audio.cmvn_stats({a, b}, {prior = audio.cmvn_stats{P}})
  equal(with_prior.frames, 211, "frames with the prior")
  for j = 1, 3 do
    close(with_prior.mean:get(1, j), pooled.mean:get(1, j), 1e-12 * math.abs(pooled.mean:get(1, j)), "pooled mean")
    close(with_prior.sd:get(1, j), pooled.sd:get(1, j), 1e-12 * pooled.sd:get(1, j), "pooled sd")
  end
  local half = audio.cmvn_stats({b}, {prior = audio.cmvn_stats{P:slice(1, 50, 1, 3)}, prior_frames = 50})
  close(half.mean:get(1, 2), audio.cmvn_stats{b, P:slice(1, 50, 1, 3)}.mean:get(1, 2), 1e-12, "prior_frames")
  checkerror("loom.audio.cmvn_stats: prior.sd must be a 1 x 3 row, got nil", audio.cmvn_stats, {a}, {prior = {mean = s.mean}})
  checkerror("loom.audio.cmvn_stats: prior_frames must be >= 0, got -1", audio.cmvn_stats, {a},
    {prior = s, prior_frames = -1})
end)

-- ---- augmentation ----

local function sine(n, hz, rate)
  local x = loom.zeros(n, 1)
  for i = 1, n do x:set(i, 1, 0.5 * math.sin(2 * math.pi * hz * (i - 1) / rate)) end
  return x
end

-- Frequency of a sine from its upward zero crossings (first to last).
local function sine_hz(x, rate)
  local first, last, count
  for i = 2, x:rows() do
    if x:get(i - 1, 1) < 0 and x:get(i, 1) >= 0 then
      local at = i - 1 + (-x:get(i - 1, 1)) / (x:get(i, 1) - x:get(i - 1, 1))
      first = first or at
      last, count = at, (count or -1) + 1
    end
  end
  return count * rate / (last - first)
end

test("speed perturbation resamples: 1.1 is shorter and higher, 0.9 longer and lower", function()
  local x = sine(8000, 440, 8000)
  local fast, slow = audio.speed(x, 1.1), audio.speed(x, 0.9)
  equal(fast:rows(), math.floor(8000 / 1.1 + 0.5), "1.1: N / 1.1 samples")
  equal(slow:rows(), math.floor(8000 / 0.9 + 0.5), "0.9: N / 0.9 samples")
  close(sine_hz(fast:slice(200, 7000, 1, 1), 8000), 484, 0.1, "440 Hz at 1.1 is 484 Hz")
  close(sine_hz(slow:slice(200, 8500, 1, 1), 8000), 396, 0.1, "440 Hz at 0.9 is 396 Hz")
  equal((audio.speed(x, 1) - x):map("abs"):max(), 0, "1.0 is the identity")
  checkerror("loom.audio.speed: factor must be a number in [0.5, 2], got 3", audio.speed, x, 3)
  checkerror("loom.audio.speed: expected samples as an N x 1 matrix, got 4x2", audio.speed, loom.zeros(4, 2), 1.1)
end)

test("time shift delays or advances with zeros and keeps the length", function()
  local x = loom.matrix{{1}, {2}, {3}, {4}}
  local function text(m) return (table.concat(m:tolist(), ","):gsub("%.0", "")) end
  equal(text(audio.shift(x, 1)), "0,1,2,3", "delay")
  equal(text(audio.shift(x, -2)), "3,4,0,0", "advance")
  equal(text(audio.shift(x, 9)), "0,0,0,0", "past the end")
  checkerror("loom.audio.shift: samples must be an integer, got 1.5", audio.shift, x, 1.5)
end)

test("trim cuts leading and trailing blocks more than top_db below the loudest, as a naive loop does", function()
  -- the rule sample by sample: each block's mean square against the loudest block's
  local function naive(x, hop, top_db)
    local v, e = x:tolist(), {}
    for b = 1, math.ceil(#v / hop) do
      local sum = 0
      for i = (b - 1) * hop + 1, math.min(b * hop, #v) do sum = sum + v[i] * v[i] end
      e[b] = sum / hop
    end
    local top = math.max(table.unpack(e))
    local first, last
    for b = 1, #e do
      if 10 * math.log(e[b] / top, 10) > -top_db then first, last = first or b, b end
    end
    local a, z = (first - 1) * hop + 1, math.min(last * hop, #v)
    while v[a] == 0 do a = a + 1 end
    while v[z] == 0 do z = z - 1 end
    return a, z
  end
  loom.seed(5)
  -- silence, a faint hum (-40 dB), a word, a fainter tail (-70 dB), a partial last block
  local x = loom.vcat{loom.zeros(333, 1), loom.fill(120, 1, 0.01), loom.randn(700, 1), loom.fill(160, 1, 3e-4),
    loom.zeros(37, 1)}
  for _, case in ipairs{{50, 0.01}, {30, 0.01}, {80, 0.005}, {20, 0.02}} do
    local y, a, z = audio.trim(x, 8000, {top_db = case[1], block = case[2]})
    local ra, rz = naive(x, math.floor(case[2] * 8000 + 0.5), case[1])
    equal(a .. ".." .. z, ra .. ".." .. rz, string.format("top_db %g, block %g", case[1], case[2]))
    equal(y:rows(), z - a + 1, "the kept samples")
    check(y:allclose(x:slice(a, z, 1, 1)), "a copy of them")
  end
  local _, a, z = audio.trim(x, 8000)
  equal(a .. ".." .. z, "334..1200", "defaults: the hum (-40 dB) and the word are kept, not silence or the -70 dB tail")
  -- digital silence added around (a whole number of blocks before) changes nothing
  local y0 = audio.trim(x, 8000)
  local y1 = audio.trim(loom.vcat{loom.zeros(800, 1), x, loom.zeros(123, 1)}, 8000)
  check(y1:rows() == y0:rows() and y1:allclose(y0, 0, 0), "padded with zeros: %d samples against %d", y1:rows(), y0:rows())
  local silent, s1, s2 = audio.trim(loom.zeros(10, 1), 8000)
  equal(silent:rows() .. " " .. s1 .. " " .. s2, "10 1 10", "silence throughout is kept whole")
  checkerror("loom.audio.trim: rate must be a finite number >= 1, got nil", audio.trim, x)
  checkerror("loom.audio.trim: top_db must be a finite number >= 0, got -3", audio.trim, x, 8000, {top_db = -3})
  checkerror("loom.audio.trim: expected samples as an N x 1 matrix, got 2x2", audio.trim, loom.zeros(2, 2), 8000)
end)

test("additive noise reaches the requested SNR; short noise repeats", function()
  loom.seed(4)
  local x = sine(4000, 300, 8000)
  for _, snr in ipairs{20, 5, -3} do
    local y = audio.add_noise(x, loom.randn(4000, 1), snr)
    local n = y - x
    close(10 * math.log(x:dot(x) / n:dot(n), 10), snr, 1e-9, "white noise at " .. snr .. " dB")
  end
  local babble = sine(1000, 170, 8000) + sine(1000, 230, 8000)
  local y = audio.add_noise(x, babble, 10)
  local n = y - x
  close(10 * math.log(x:dot(x) / n:dot(n), 10), 10, 1e-9, "repeated babble at 10 dB")
  close(n:get(1003, 1) / n:get(3, 1), 1, 1e-9, "the noise repeats after its length")
  equal((audio.add_noise(x, loom.zeros(10, 1), 0) - x):map("abs"):max(), 0, "silent noise adds nothing")
  checkerror("loom.audio.add_noise: snr_db must be a number, got nil", audio.add_noise, x, x)
end)

test("VTLP: alpha 1 is Kaldi's filterbank and MFCC; alpha moves the triangles as Kaldi's warp", function()
  local W = audio.vtlp_melbank(23, 256, 8000, 20, 0, 1.0)
  check((W - audio.melbank(23, 256, 8000, 20, 4000)):map("abs"):max() < 1e-12, "alpha 1 bank")
  -- on 16-bit scale no power falls below the spectrogram's log floor, so the MFCC agree exactly
  local x = audio.load(data_dir("fsdd") .. "/recordings/3_jackson_12.wav") * 32768
  check((audio.vtlp(x, 8000, 1.0) - audio.mfcc(x, 8000)):map("abs"):max() < 1e-10, "alpha 1 MFCC")
  check((audio.vtlp(x, 8000, 1.0, {kind = "fbank", num_mel_bins = 40}) -
    audio.fbank(x, 8000, {num_mel_bins = 40})):map("abs"):max() < 1e-10, "alpha 1 fbank")
  -- the centre of mass of a middle triangle: lower for alpha > 1 (edges f / alpha), higher below 1
  local function centre(bank, b)
    local s, w = 0, 0
    for j = 1, bank:cols() do s, w = s + j * bank:get(b, j), w + bank:get(b, j) end
    return s / w
  end
  local c1 = centre(W, 12)
  check(centre(audio.vtlp_melbank(23, 256, 8000, 20, 0, 1.1), 12) < c1 - 1, "alpha 1.1 moves down")
  check(centre(audio.vtlp_melbank(23, 256, 8000, 20, 0, 0.9), 12) > c1 + 1, "alpha 0.9 moves up")
  -- the warp: f / alpha in the middle, pinned at the ends, continuous at the breakpoints
  close(audio.vtln_warp(1000, 1.1, 20, 4000, 100, 3500), 1000 / 1.1, 1e-12, "middle")
  equal(audio.vtln_warp(4000, 1.1, 20, 4000, 100, 3500), 4000.0, "pinned at high")
  close(audio.vtln_warp(20, 0.9, 20, 4000, 100, 3500), 20, 1e-12, "pinned at low")
  local h = 3500 * 0.9
  close(audio.vtln_warp(h - 1e-9, 0.9, 20, 4000, 100, 3500), audio.vtln_warp(h, 0.9, 20, 4000, 100, 3500), 1e-6,
    "continuous at the upper breakpoint")
  checkerror("loom.audio.vtlp_melbank: alpha must be a number in [0.5, 2], got 3", audio.vtlp_melbank, 23, 256,
    8000, 20, 0, 3)
  checkerror("loom.audio.vtlp: unknown option 'warp'", audio.vtlp, x, 8000, 1, {warp = 1})
end)

test("SpecAugment masks whole bands and spans, within their widths, reproducibly", function()
  local f = loom.ones(100, 20)
  loom.seed(9)
  local a = audio.spec_augment(f, {time_masks = 1, time_width = 10, freq_masks = 1, freq_width = 4})
  loom.seed(9)
  local b = audio.spec_augment(f, {time_masks = 1, time_width = 10, freq_masks = 1, freq_width = 4})
  equal((a - b):map("abs"):max(), 0, "same seed, same masks")
  local zero_cols, zero_rows = 0, 0
  for j = 1, 20 do if a:col(j):max() == 0 then zero_cols = zero_cols + 1 end end
  for i = 1, 100 do if a:row(i):max() == 0 then zero_rows = zero_rows + 1 end end
  check(zero_cols <= 4 and zero_rows <= 10, "masked %d columns, %d rows", zero_cols, zero_rows)
  local masked = 0
  for i = 1, 100 do for j = 1, 20 do if a:get(i, j) == 0 then masked = masked + 1 end end end
  equal(masked, zero_cols * 100 + zero_rows * 20 - zero_cols * zero_rows, "only whole bands and spans")
  -- over many draws both kinds of mask appear
  local seen_rows, seen_cols = false, false
  for _ = 1, 20 do
    local m = audio.spec_augment(f)
    for j = 1, 20 do if m:col(j):max() == 0 then seen_cols = true end end
    for i = 1, 100 do if m:row(i):max() == 0 then seen_rows = true end end
  end
  check(seen_rows and seen_cols, "time and frequency masks drawn")
  equal(f:min(), 1, "the input is not changed")
  checkerror("loom.audio.spec_augment: unknown option 'width'", audio.spec_augment, f, {width = 3})
  checkerror("loom.audio.spec_augment: option 'time_masks' must be an integer >= 0, got -1", audio.spec_augment, f,
    {time_masks = -1})
end)

test("warped_melbank: the C bank equals the Lua reference (vtlp_melbank) and reads bins at speed x frequency", function()
  for _, alpha in ipairs{0.85, 0.9, 1.0, 1.07, 1.15} do
    local W = audio.warped_melbank(23, 256, 8000, 20, 0, alpha, 100, -500, 1)
    local R = audio.vtlp_melbank(23, 256, 8000, 20, 0, alpha)
    check((W - R):map("abs"):max() < 1e-12, "alpha %g: C bank differs from the reference", alpha)
  end
  -- speed s: bin k weighs as bin k*s of the plain bank would (checked where k*s is a bin)
  local plain = audio.melbank(40, 512, 16000, 20, 8000)
  local fast = audio.warped_melbank(40, 512, 16000, 20, 0, 1, 100, -500, 2)
  for b = 1, 40 do
    for k = 0, 127 do close(fast:get(b, k + 1), plain:get(b, 2 * k + 1), 1e-12, "bin " .. k) end
  end
  check(fast:slice(1, 40, 129, 257):map("abs"):max() < 1e-12, "nothing above Nyquist / speed")
  checkerror_like("alpha and speed in [0.5, 2]", audio.warped_melbank, 23, 256, 8000, 20, 0, 1, 100, -500, 3)
  checkerror_like("vtln_low", audio.warped_melbank, 23, 256, 8000, 20, 0, 1, 10, -500, 1)
end)

test("stretch reads rows every step rows, interpolating linearly", function()
  local m = loom.matrix{{0, 10}, {1, 20}, {2, 30}, {3, 40}, {4, 50}}
  local s = audio.stretch(m, 1.5)
  equal(s:rows(), 3, "floor(4 / 1.5) + 1 rows")
  close(s:get(2, 1), 1.5, 1e-15, "row at 1.5"); close(s:get(2, 2), 25, 1e-12, "second column")
  close(s:get(3, 1), 3, 1e-15, "row at 3")
  local slow = audio.stretch(m, 0.5)
  equal(slow:rows(), 9, "twice as many rows, less one")
  close(slow:get(2, 2), 15, 1e-12, "halfway"); close(slow:get(9, 1), 4, 1e-15, "the last row")
  equal((audio.stretch(m, 1) - m):map("abs"):max(), 0, "step 1 is the identity")
  checkerror("loom.audio.stretch: step must be in [0.25, 4], got 0", audio.stretch, m, 0)
end)

test("perturbed: unperturbed it is Kaldi's MFCC / fbank; speed and VTLP approach the waveform perturbations", function()
  local x = audio.load(data_dir("fsdd") .. "/recordings/3_jackson_12.wav") * 32768
  local s = audio.spectra(x, 8000)
  check((audio.perturbed(s) - audio.mfcc(x, 8000)):map("abs"):max() < 1e-10, "identity MFCC")
  check((audio.perturbed(s, {kind = "fbank", num_mel_bins = 40}) - audio.fbank(x, 8000, {num_mel_bins = 40}))
    :map("abs"):max() < 1e-10, "identity fbank")
  check((audio.perturbed(s, {alpha = 1.1}) - audio.vtlp(x, 8000, 1.1)):map("abs"):max() < 1e-10,
    "VTLP in the spectral domain is audio.vtlp exactly")
  -- speed: closer to the MFCC of the resampled waveform than the unperturbed MFCC (stretched
  -- to the same frames) is, by a wide margin
  local m = audio.mfcc(x, 8000)
  for _, f in ipairs{0.9, 1.1} do
    local real = audio.mfcc(audio.speed(x / 32768, f) * 32768, 8000)
    local sp, plain = audio.perturbed(s, {speed = f}), audio.stretch(m, f)
    equal(sp:rows(), real:rows(), "speed " .. f .. ": as many frames as the resampled waveform")
    local function gap(a) return (a:slice(1, real:rows(), 2, 13) - real:slice(1, real:rows(), 2, 13)):map("abs"):sum() end
    check(gap(sp) < 0.6 * gap(plain), "speed %g: spectral %g vs unperturbed %g", f, gap(sp), gap(plain))
  end
  -- tempo: the frames alone, every second frame at tempo 2; frequencies untouched
  local t2 = audio.perturbed(s, {tempo = 2})
  equal(t2:rows(), audio.stretch(m, 2):rows(), "tempo 2 halves the frames")
  check((t2:row(3) - m:row(5)):map("abs"):max() < 1e-10, "frame 3 of tempo 2 is frame 5")
end)

test("perturbed and spectra: misuse names the function and the option", function()
  local s = audio.spectra(loom.randn(1600, 1), 8000)
  checkerror("loom.audio.perturbed: speed must be a positive factor, got 0", audio.perturbed, s, {speed = 0})
  checkerror("loom.audio.perturbed: option 'snr' must be a number, got string", audio.perturbed, s, {snr = "10"})
  checkerror("loom.audio.perturbed: options must be a table, got number", audio.perturbed, s, 3)
  checkerror("loom.audio.perturbed: noise must be spectra or a list of them, got string", audio.perturbed, s, {noise = "white"})
  checkerror("loom.audio.perturbed: expected the spectra of audio.spectra, got table", audio.perturbed, {})
  checkerror("loom.audio.spectra: expected a positive sample rate, got nil", audio.spectra, loom.randn(800, 1))
  checkerror("loom.audio.vtlp: alpha (the warp factor) must be a positive number, got nil", audio.vtlp, loom.randn(800, 1), 8000)
end)

test("perturbed: noise at the requested SNR of frame energies, white and babble, reproducibly", function()
  local x = audio.load(data_dir("fsdd") .. "/recordings/3_jackson_12.wav")
  local s = audio.spectra(x, 8000)
  local white = audio.spectra(loom.randn(8000, 1), 8000)
  local clean = audio.perturbed(s, {kind = "fbank"})
  loom.seed(3)
  local noisy = audio.perturbed(s, {kind = "fbank", noise = white, snr = 0})
  loom.seed(3)
  equal((audio.perturbed(s, {kind = "fbank", noise = white, snr = 0}) - noisy):map("abs"):max(), 0, "same seed, same noise")
  -- at 0 dB the noise's energy equals the speech's: c0 (log energy) rises by about ln 2 on average
  local e0 = audio.perturbed(s):col(1):sum() / clean:rows()
  loom.seed(3)
  local e1 = audio.perturbed(s, {noise = white, snr = 0}):col(1):sum() / clean:rows()
  check(e1 > e0 + 0.3, "energy rises with noise: %g -> %g", e0, e1)
  -- noise fills the quiet bands: every mel band's minimum over frames rises
  local function band_min(f, j) return f:col(j):min() end
  for j = 1, 23 do check(band_min(noisy, j) >= band_min(clean, j), "band %d floor", j) end
  -- high SNR changes little, low SNR much
  loom.seed(4)
  local quiet = audio.perturbed(s, {kind = "fbank", noise = {s, white}, snr = 40})
  check((quiet - clean):map("abs"):max() < (noisy - clean):map("abs"):max(), "40 dB babble is gentler than 0 dB")
  checkerror("loom.audio.perturbed: unknown option 'warp'", audio.perturbed, s, {warp = 1})
  checkerror("loom.audio.perturbed: expected the spectra of audio.spectra, got matrix", audio.perturbed, x)
end)
