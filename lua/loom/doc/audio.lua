-- doc/audio.lua: the docstrings of loom.audio (lua/loom/audio.lua, src/bind/audio.c), read by
-- help(x) and the API reference generator. Not code: one list of entries.
return {
  { name = "loom.audio",
    doc = [[
Sound files, resampling and speech features on loom matrices. Samples are N x channels
matrices (rows are time); integer files read as values in [-1, 1) (a 16-bit value k is
k / 32768). Features follow Kaldi (compute-spectrogram/fbank/mfcc-feats) and match
torchaudio.compliance.kaldi to ~1e-12 in double precision; see docs/audio.md.
Features are computed on the samples as given: Kaldi's own binaries see 16-bit integers,
so multiply by 32768 to reproduce their absolute log energies (only c0 / the energy and
the log-mel offsets change).]] },

  { name = "loom.audio.read", signature = "loom.audio.read(path) -> samples, rate | nil, message",
    doc = [[
Read any file libsndfile understands (WAV, FLAC, Ogg/Vorbis, AIFF, AU, CAF, W64, ...).
samples is frames x channels. A missing file gives nil, "cannot open 'p': No such file or
directory"; a file that is not audio gives nil, "'p' is not a readable audio file (...)".]] },
  { name = "loom.audio.write",
    signature = "loom.audio.write(path, samples, rate [, {format =, container =}]) -> true | nil, message",
    doc = [[
Write samples (frames x channels, values in [-1, 1]; louder values clip) at rate Hz.
format: "pcm16" (default), "pcm24", "pcm32", "pcm8", "float", "double", "vorbis";
container: "wav", "flac", "ogg", "aiff", "au", "caf", "w64", "raw" (default: the path's
extension, else wav). Integer formats round to the nearest step, so reading a 16-bit file
and writing it back as pcm16 reproduces it bit for bit. I/O failures return nil, message;
an impossible format/container pair raises.]] },
  { name = "loom.audio.load",
    signature = "loom.audio.load(path [, {rate =, channel = 1}]) -> samples, rate | nil, message",
    doc = "read, keep one channel (N x 1), and resample to rate when it is given and differs." },
  { name = "loom.audio.resample",
    signature = "loom.audio.resample(x, from, to [, {quality = \"best\"|\"medium\"|\"fast\"}]) -> matrix",
    doc = [[
Band-limited resampling of every column with libsamplerate's windowed-sinc converters
(SRC_SINC_BEST_QUALITY by default). The result has round(N * to / from) rows. The ratio
must lie in [1/256, 256]. libsamplerate computes in single precision (~1e-7 relative).]] },

  { name = "loom.audio.mfcc", signature = "loom.audio.mfcc(x, rate [, opts]) -> frames x num_ceps",
    doc = [[
Mel-frequency cepstral coefficients as Kaldi's compute-mfcc-feats. Defaults: 25 ms frames
every 10 ms (snip_edges = true: only whole frames), DC removal, pre-emphasis 0.97, Povey
window, zero-padding to a power of two, power spectrum, 23 triangular mel bins from 20 Hz
to Nyquist on Kaldi's mel scale 1127 ln(1 + f/700), log floored at FLT_EPSILON, orthonormal
DCT-II keeping 13 coefficients, liftering 22, log energy in place of c0 (use_energy =
true, raw_energy = true), no dither, energy_floor 0.
opts (Kaldi's names; torchaudio's spellings are accepted too): frame_length, frame_shift
(ms), preemphasis, remove_dc, window ("povey", "hamming", "hanning"/"hann",
"rectangular", "blackman"), blackman_coeff, snip_edges, round_to_power_of_two, dither
(Gaussian, from loom's generator), energy_floor, raw_energy, num_mel_bins, low_freq,
high_freq (<= 0: offset from Nyquist), num_ceps, cepstral_lifter (0: none), use_energy,
htk_compat (energy/c0 last), channel (column of x, default 1).]] },
  { name = "loom.audio.fbank", signature = "loom.audio.fbank(x, rate [, opts]) -> frames x num_mel_bins",
    doc = [[
Log mel filterbank energies as compute-fbank-feats: the MFCC pipeline up to the log (see
loom.audio.mfcc for options). Also use_power (false: magnitude spectrum), use_log (false:
linear energies), use_energy (default false here: true adds the log energy as the first
column, or the last with htk_compat).]] },
  { name = "loom.audio.spectrogram",
    signature = "loom.audio.spectrogram(x, rate [, opts]) -> frames x (padded / 2 + 1)",
    doc = [[
Log power spectrum as compute-spectrogram-feats: column 1 holds the frame's log energy
(Kaldi replaces the DC bin by it). Framing, window, pre-emphasis and energy options as in
loom.audio.mfcc.]] },
  { name = "loom.audio.defaults", signature = "loom.audio.defaults(kind) -> table",
    doc = "The default options of \"spectrogram\", \"fbank\" or \"mfcc\" (a fresh table)." },
  { name = "loom.audio.deltas", signature = "loom.audio.deltas(feats [, order = 2 [, {window = 2}]]) -> matrix",
    doc = [[
[feats, deltas, delta-deltas, ...] side by side (T x F(order + 1)), as Kaldi's add-deltas:
each order convolves the previous one with j / sum(2 j^2), j = -window..window, clamping
frame indices at the ends of the utterance.]] },
  { name = "loom.audio.cmvn", signature = "loom.audio.cmvn(feats [, {variance = true} | {mean = row [, sd = row]}]) -> matrix",
    doc = [[
Per-utterance normalisation: each column minus its mean and, with variance = true (the
default), divided by its (population) standard deviation. Constant columns are only centred.
With mean (and sd), 1 x cols rows such as a speaker's from loom.audio.cmvn_stats, the
columns are normalised with those instead: (feats - mean) / sd, in the features' dtype.]] },
  { name = "loom.audio.cmvn_stats", signature = "loom.audio.cmvn_stats(list [, {prior = stats, prior_frames = 200}]) -> {mean, sd, frames}",
    doc = [[
Each column's mean and (population) standard deviation over every frame of a list of T_i x F
feature matrices, for instance all the utterances of one speaker (Kaldi's per-speaker CMVN
statistics); sd is 1 for a constant column. Two passes, as loom.audio.cmvn. With prior
(statistics such as a training set's), the result is that of the list with prior_frames
more frames distributed as the prior, pooled exactly: a voice heard briefly is normalised
mostly by the prior (Kaldi's online CMVN). Use them with
loom.audio.cmvn(feats, {mean = s.mean, sd = s.sd}).]] },

  { name = "loom.audio.window", signature = "loom.audio.window(name, n [, blackman_coeff = 0.42]) -> n x 1",
    doc = [[
Kaldi's symmetric windows, a = 2 pi / (n - 1): hanning 0.5 - 0.5 cos(a i), povey hanning^0.85,
hamming 0.54 - 0.46 cos(a i), blackman c - 0.5 cos(a i) + (0.5 - c) cos(2 a i), rectangular 1.]] },
  { name = "loom.audio.mel", signature = "loom.audio.mel(hz) -> mel",
    doc = "Kaldi's mel scale, 1127 ln(1 + hz / 700)." },
  { name = "loom.audio.mel_inverse", signature = "loom.audio.mel_inverse(mel) -> hz",
    doc = "700 (exp(mel / 1127) - 1)." },
  { name = "loom.audio.melbank",
    signature = "loom.audio.melbank(bins, padded_length, rate, low_hz, high_hz) -> bins x (padded_length / 2 + 1)",
    doc = [[
The triangular filterbank the features use, as a dense matrix over FFT bins: bins equally
spaced in mel between low_hz and high_hz (<= 0: offset from Nyquist); the Nyquist column
is zero, as in Kaldi.]] },
  { name = "loom.audio.dct", signature = "loom.audio.dct(ceps, bins) -> ceps x bins",
    doc = [[
Kaldi's DCT: the first ceps rows of the orthonormal DCT-II, row 0 = sqrt(1 / bins),
row k = sqrt(2 / bins) cos(pi k (j + 0.5) / bins).]] },
  { name = "loom.audio.speed", signature = "loom.audio.speed(x, factor [, {quality = \"medium\"}]) -> matrix",
    doc = [[
Speed perturbation (Kaldi's 0.9 / 1.0 / 1.1, sox `speed`): x (N x 1) played `factor` times
faster, resampled by libsamplerate to round(N / factor) samples; pitch and tempo change
together. factor in [0.5, 2].]] },
  { name = "loom.audio.shift", signature = "loom.audio.shift(x, samples) -> matrix",
    doc = [[x (N x 1) delayed by `samples` (advanced when negative), zero-filled, same length.]] },
  { name = "loom.audio.trim", signature = "loom.audio.trim(x, rate [, {top_db = 50, block = 0.01}]) -> y, first, last",
    doc = [[
x (N x 1) without its leading and trailing silence: the blocks (block seconds each, the last
one counted as padded with zeros) whose mean square is more than top_db below the loudest
block's are cut from both ends (librosa.effects.trim's rule over non-overlapping blocks), and
then the exact zeros at either end of what is left, so digital silence added around a
recording (a whole number of blocks before it) does not change the result. y is a copy of
samples first..last; for silence throughout, x itself, 1, N.]] },
  { name = "loom.audio.add_noise", signature = "loom.audio.add_noise(x, noise, snr_db) -> matrix",
    doc = [[
x + g noise with g set so the signal-to-noise ratio (mean squares) is snr_db; noise (M x 1)
repeats or is cut to x's length. White noise: loom.randn(N, 1); babble: a sum of other
utterances. Silent noise or signal returns a copy of x.]] },
  { name = "loom.audio.vtln_warp",
    signature = "loom.audio.vtln_warp(hz, alpha, low, high, vtln_low, vtln_high) -> hz",
    doc = [[Kaldi's VtlnWarpFreq: f / alpha between the breakpoints, linear to low and high outside.]] },
  { name = "loom.audio.vtlp_melbank",
    signature = "loom.audio.vtlp_melbank(bins, padded, rate, low, high, alpha [, {vtln_low = 100, vtln_high = -500}]) -> matrix",
    doc = [[
Kaldi's mel filterbank (as loom.audio.melbank) with the triangle edges warped by
vtln_warp, as Kaldi's MelBanks with a VTLN warp factor; alpha = 1 is the plain bank.]] },
  { name = "loom.audio.vtlp", signature = "loom.audio.vtlp(x, rate, alpha [, opts]) -> matrix",
    doc = [[
Vocal-tract-length perturbation: MFCC (or, with kind = "fbank", log mel energies) computed
as loom.audio.mfcc does but through vtlp_melbank(alpha); 0.9-1.1 is the usual range.
Framing options go to loom.audio.spectrogram; also num_mel_bins, low_freq, high_freq,
num_ceps, cepstral_lifter, use_energy, vtln_low, vtln_high. With alpha = 1 it equals
loom.audio.mfcc except where the spectrogram's log floor (FLT_EPSILON) bites (silent frames
of [-1, 1] samples, ~1e-4); on 16-bit scale to 1e-10.]] },
  { name = "loom.audio.spectra",
    signature = "loom.audio.spectra(x, rate [, framing opts]) -> {power =, energy =, rate =, padded =}",
    doc = [[
The start of augmentation in the spectral domain: the power spectra (frames x padded/2+1)
after Kaldi's framing, DC removal, pre-emphasis and window, and the raw frame energies
(frames x 1), computed once per utterance; loom.audio.perturbed turns them into features.]] },
  { name = "loom.audio.perturbed", signature = "loom.audio.perturbed(spectra [, opts]) -> matrix",
    doc = [[
MFCC (kind = "mfcc") or log mel energies (kind = "fbank") of an utterance whose spectra
loom.audio.spectra made, perturbed in the spectral domain: speed (frames stretched and the
filterbank read at frequency x speed), tempo (frames stretched alone), alpha (VTLP warp of
the filterbank), noise (one spectra table, or a list of them summed as babble) added at snr
dB. An approximation of the waveform perturbations (audio.speed, audio.vtlp,
audio.add_noise) at the cost of a product; with no perturbation it is audio.mfcc
(audio.fbank) up to the log floor. Options also: num_mel_bins, num_ceps, cepstral_lifter,
low_freq, high_freq, use_energy, vtln_low, vtln_high.]] },
  { name = "loom.audio.warped_melbank",
    signature = "loom.audio.warped_melbank(bins, padded, rate, low, high, alpha, vtln_low, vtln_high, speed) -> matrix",
    doc = [[
The mel filterbank (bins x padded/2+1) with VTLN-warped edges (alpha) read at frequencies
times speed: the filterbank loom.audio.perturbed applies to kept spectra.]] },
  { name = "loom.audio.stretch", signature = "loom.audio.stretch(m, step) -> matrix",
    doc = [[The rows of m read every `step` rows, linearly interpolated (step > 1: fewer rows, faster).]] },
  { name = "loom.audio.spec_augment", signature = "loom.audio.spec_augment(feats [, opts]) -> matrix",
    doc = [[
SpecAugment masks (Park et al. 2019) on a copy of feats (frames x features): freq_masks (2)
bands of 0..freq_width (5) columns and time_masks (2) spans of 0..time_width (10) frames,
at most a fifth of the frames, set to value (0, the mean after CMVN). Draws from loom's
seeded generator.]] },
}
