/* audio.h: sound files (libsndfile), resampling (libsamplerate) and Kaldi-compatible
 * features (FFTW): framing, windows, power spectra, mel filterbanks, MFCC, deltas, CMVN.
 * Not Lua and not a general DSP library: it computes what speech features need. */
#ifndef LOOM_AUDIO_H
#define LOOM_AUDIO_H

#include "loom.h"

/* ---- files ---- */

/* Read every frame of an audio file libsndfile understands into *out (overwritten, not
 * freed): frames x channels, samples as doubles (integer formats scaled to [-1, 1), so a
 * 16-bit value k reads as k / 32768). *rate receives the sample rate. On LOOM_EIO (no such
 * file) or LOOM_EFORMAT (not a readable audio file) error[] holds the reason and nothing
 * is left allocated. */
loom_status loom_audio_read(loom_matrix *out, int *rate, const char *path, char *error,
                            size_t error_size);

/* Write samples (frames x channels, values in [-1, 1]; out-of-range values clip) at rate
 * Hz. container: "wav", "flac", "ogg", "aiff", "au", "caf", "w64", "raw", or NULL to take
 * it from the path's extension (default wav). encoding: "pcm16" (default when NULL),
 * "pcm24", "pcm32", "pcm8", "float", "double", "vorbis". Integer encodings round to the
 * nearest step of 1/2^(bits-1), so a k / 32768 sample survives a pcm16 round trip exactly.
 * LOOM_EARG (unknown name or combination), LOOM_EIO (cannot create or write) with error[]. */
loom_status loom_audio_write(const char *path, const loom_matrix *samples, int rate,
                             const char *container, const char *encoding, char *error,
                             size_t error_size);

/* ---- resampling ---- */

/* Frames of a signal of n frames resampled by ratio (to / from), rounded to nearest. */
size_t loom_audio_resampled_frames(size_t n, double ratio);
/* out (loom_audio_resampled_frames(in->rows, ratio) x in->cols) = in resampled by ratio
 * through libsamplerate's band-limited sinc converters. quality 0 = SRC_SINC_BEST_QUALITY,
 * 1 = MEDIUM, 2 = FASTEST. libsamplerate works in single precision: results carry ~1e-7
 * relative error. LOOM_EDIM on a wrong out shape, LOOM_EARG on a bad ratio or quality. */
loom_status loom_audio_resample(loom_matrix *out, const loom_matrix *in, double ratio,
                                int quality);

/* ---- the pieces of a feature pipeline (public so that tests reach each one) ---- */

typedef enum loom_audio_window {
    LOOM_WINDOW_POVEY, LOOM_WINDOW_HAMMING, LOOM_WINDOW_HANNING, LOOM_WINDOW_RECTANGULAR,
    LOOM_WINDOW_BLACKMAN
} loom_audio_window;

/* w[0..n-1] = Kaldi's window of length n (symmetric: a = 2 pi / (n - 1)):
 * hanning 0.5 - 0.5 cos(a i), povey hanning^0.85, hamming 0.54 - 0.46 cos(a i),
 * blackman c - 0.5 cos(a i) + (0.5 - c) cos(2 a i), rectangular 1. */
void loom_audio_window_fill(double *w, size_t n, loom_audio_window window, double blackman_coeff);

/* Kaldi's mel scale: 1127 ln(1 + hz / 700), and its inverse. */
double loom_audio_mel(double hz);
double loom_audio_mel_inverse(double mel);

/* Frames Kaldi extracts from n samples: snip_edges keeps only whole frames
 * (1 + (n - length) / shift, 0 when n < length); otherwise (n + shift / 2) / shift frames
 * centred on multiples of shift with the signal reflected at both ends. */
size_t loom_audio_frame_count(size_t n, size_t length, size_t shift, int snip_edges);
/* frame[0..length-1] = frame `index` of x (x[i * stride], n samples) as Kaldi cuts it. */
void loom_audio_frame_extract(double *frame, const double *x, size_t stride, size_t n,
                              size_t index, size_t length, size_t shift, int snip_edges);

/* A triangular mel filterbank on the bins of a padded_length-point FFT, stored sparsely:
 * filter b has weights weight[offset[b] .. offset[b] + width[b] - 1] on FFT bins
 * first[b] .. first[b] + width[b] - 1. Bins lie equally spaced in mel between low_hz and
 * high_hz (high_hz <= 0 means nyquist + high_hz), as Kaldi's MelBanks without VTLN. */
typedef struct loom_melbank {
    size_t bins;       /* number of filters */
    size_t fft_bins;   /* padded_length / 2 + 1 (the Nyquist bin always has weight 0) */
    size_t *first;     /* [bins] first FFT bin with nonzero weight */
    size_t *width;     /* [bins] */
    size_t *offset;    /* [bins] into weight */
    double *weight;    /* [sum of width] */
} loom_melbank;

/* LOOM_EARG unless 0 <= low < nyquist, 0 < high <= nyquist, low < high, bins >= 3 and
 * padded_length is even. *bank is overwritten; release with loom_melbank_release. */
loom_status loom_melbank_init(loom_melbank *bank, size_t bins, size_t padded_length,
                              double rate, double low_hz, double high_hz);
void loom_melbank_release(loom_melbank *bank);
/* out[b] = sum_k weight(b, k) spectrum[k]; spectrum has bank->fft_bins values. */
void loom_melbank_apply(double *out, const loom_melbank *bank, const double *spectrum);
/* The dense reference: W (bins x padded_length / 2 + 1) with W[b][k] = max(0, min(up, down))
 * of the triangle's two slopes at mel(k * rate / padded_length), computed directly. */
loom_status loom_melbank_dense_naive(loom_matrix *W, size_t bins, size_t padded_length,
                                     double rate, double low_hz, double high_hz);

/* power[k] = |X_k|^2 (or |X_k| when !use_power) for k = 0..n/2 of the DFT of frame[0..n-1],
 * the O(n^2) reference of the FFTW path. */
void loom_audio_power_spectrum_naive(double *power, const double *frame, size_t n, int use_power);

/* D (ceps x bins) = the first ceps rows of Kaldi's orthonormal DCT-II:
 * D[0][j] = sqrt(1 / bins), D[k][j] = sqrt(2 / bins) cos(pi k (j + 0.5) / bins). */
loom_status loom_audio_dct_matrix(loom_matrix *D);
/* out[k] = sum_j D[k][j] in[j] evaluated term by term, the reference of the gemm path. */
void loom_audio_dct_naive(double *out, size_t ceps, const double *in, size_t bins);
/* lifter[i] = 1 + 0.5 q sin(pi i / q) (all ones when q == 0). */
void loom_audio_lifter_fill(double *lifter, size_t ceps, double q);

/* ---- whole features ---- */

typedef enum loom_audio_kind {
    LOOM_AUDIO_SPECTROGRAM, LOOM_AUDIO_FBANK, LOOM_AUDIO_MFCC
} loom_audio_kind;

/* Every option of Kaldi's compute-{spectrogram,fbank,mfcc}-feats that loom supports
 * (no VTLN). loom_audio_options_default gives Kaldi's defaults for a kind. */
typedef struct loom_audio_options {
    double rate;               /* sample rate, Hz */
    double frame_length_ms;    /* 25 */
    double frame_shift_ms;     /* 10 */
    double preemph;            /* 0.97; 0 disables */
    int remove_dc;             /* 1: subtract each frame's mean */
    loom_audio_window window;  /* povey */
    double blackman_coeff;     /* 0.42 */
    int snip_edges;            /* 1 */
    int round_to_power_of_two; /* 1: zero-pad frames to the next power of two */
    double dither;             /* 0: standard deviation of Gaussian noise added per sample */
    loom_rng *rng;             /* the dither's generator (needed when dither > 0) */
    int use_power;             /* fbank: power (1) or magnitude (0) spectrum */
    int use_log;               /* fbank: log of the mel energies (floored at FLT_EPSILON) */
    size_t num_mel_bins;       /* 23 */
    double low_freq;           /* 20 Hz */
    double high_freq;          /* 0: Nyquist; negative: offset from Nyquist */
    size_t num_ceps;           /* mfcc: 13 */
    double cepstral_lifter;    /* mfcc: 22; 0 disables */
    int use_energy;            /* mfcc: log energy replaces c0 (1); fbank: an extra column */
    int raw_energy;            /* 1: energy before pre-emphasis and window */
    double energy_floor;       /* 0: none; else log energy >= log(energy_floor) */
    int htk_compat;            /* energy (or c0) last, as HTK orders it */
} loom_audio_options;

void loom_audio_options_default(loom_audio_options *o, loom_audio_kind kind, double rate);

/* The shape of the features of n samples: rows = frames, cols = spectrogram bins, mel bins
 * (+1 with energy) or cepstra. LOOM_EARG when an option is out of range (frame shorter than
 * 2 samples, shift < 1, padded length odd, ceps > mel bins, bad frequencies, dither without
 * rng). */
loom_status loom_audio_feature_shape(size_t *rows, size_t *cols, size_t n,
                                     loom_audio_kind kind, const loom_audio_options *o);
/* out (shape from loom_audio_feature_shape) = the features of x[i * stride], i < n. */
loom_status loom_audio_features(loom_matrix *out, const double *x, size_t stride, size_t n,
                                loom_audio_kind kind, const loom_audio_options *o);

/* out (T x F(order + 1)) = [feats, deltas, delta-deltas, ...] as Kaldi's add-deltas:
 * each order convolves the previous with j / (2 sum j^2), j = -window..window, clamping
 * frame indices at the edges of the utterance. feats is T x F. */
loom_status loom_audio_deltas(loom_matrix *out, const loom_matrix *feats, int order, int window);
/* out = feats with each column's mean removed and, when norm_vars, divided by its standard
 * deviation (population; columns with zero variance are only centred). Same shapes; may
 * alias. */
loom_status loom_audio_cmvn(loom_matrix *out, const loom_matrix *feats, int norm_vars);

/* ---- augmentation in the spectral domain: perturbations of cached spectra, so training
 * draws a new perturbation every epoch without resampling or another FFT ---- */

/* Kaldi's VtlnWarpFreq: the piecewise-linear warp f -> f / alpha between the breakpoints
 * vtln_low * max(1, alpha) and vtln_high * min(1, alpha), pinned at low and high; frequencies
 * outside [low, high] are returned as they are. */
double loom_audio_vtln_warp(double hz, double alpha, double low, double high, double vtln_low,
                            double vtln_high);
/* W (bins x padded_length / 2 + 1, float64) = Kaldi's mel filterbank (as
 * loom_melbank_dense_naive) with the edges of each triangle warped by loom_audio_vtln_warp
 * for alpha (vocal-tract-length perturbation; vtln_high <= 0 counts down from Nyquist), read
 * at FFT bin k's frequency times speed: applied to the power spectrum of x it gives the mel
 * energies of x played `speed` times faster (the frequency half of speed perturbation; the
 * time half is loom_audio_stretch). alpha = speed = 1 is the plain bank. LOOM_EARG unless
 * alpha and speed are in [0.5, 2] and low < vtln_low < vtln_high < high; LOOM_EDIM on W's shape. */
loom_status loom_audio_warped_melbank(loom_matrix *W, size_t bins, size_t padded_length, double rate,
                                      double low_hz, double high_hz, double alpha, double vtln_low,
                                      double vtln_high, double speed);
/* Rows of a sequence of `rows` frames read every `step` frames: floor((rows - 1) / step) + 1
 * (0 when rows is 0 or step <= 0). */
size_t loom_audio_stretched_rows(size_t rows, double step);
/* out (loom_audio_stretched_rows(in->rows, step) x in->cols, float64) row t = in at the
 * fractional row t * step, linearly interpolated between its neighbours: the frames of x
 * played 1/step times slower (step = the speed factor). */
loom_status loom_audio_stretch(loom_matrix *out, const loom_matrix *in, double step);

#endif
