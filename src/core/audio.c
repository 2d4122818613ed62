/* audio.c: sound files through libsndfile, resampling through libsamplerate, and Kaldi's
 * spectrogram / fbank / MFCC through FFTW, each piece beside its naive reference.
 * Not a general DSP toolkit, and no VTLN: what speech features for loom need. */
#include "audio.h"
#include "blas.h"

#include <errno.h>
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

#define PI 3.14159265358979323846
/* Kaldi floors every log at std::numeric_limits<float>::epsilon(), whatever the precision. */
#define LOG_FLOOR ((double)FLT_EPSILON)

/* ---- files ---- */

loom_status loom_audio_read(loom_matrix *out, int *rate, const char *path, char *error,
                            size_t error_size)
{
    *out = (loom_matrix){.ld = 1};
    /* Tell a missing file from a broken one: libsndfile reports both as "System error". */
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        return loom_fail(error, error_size, LOOM_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    fclose(probe);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) {
        return loom_fail(error, error_size, LOOM_EFORMAT, "'%s' is not a readable audio file (%s)", path,
                  sf_strerror(NULL));
    }
    if (info.channels < 1 || info.frames < 0 || (uint64_t)info.frames > ((uint64_t)1 << 40)) {
        sf_close(f);
        return loom_fail(error, error_size, LOOM_EFORMAT, "'%s' is not a readable audio file (bad frame or channel count)",
                  path);
    }
    loom_status st = loom_matrix_init(out, (size_t)info.frames, (size_t)info.channels);
    if (st != LOOM_OK) {
        sf_close(f);
        return loom_fail(error, error_size, st, "'%s': %s", path, loom_strerror(st));
    }
    sf_command(f, SFC_SET_NORM_DOUBLE, NULL, SF_TRUE);
    sf_count_t got = info.frames > 0 ? sf_readf_double(f, out->data, info.frames) : 0;
    sf_close(f);
    if (got < info.frames)
        out->rows = (size_t)(got > 0 ? got : 0); /* a truncated file: keep what was there */
    *rate = info.samplerate;
    return LOOM_OK;
}

static int container_from_name(const char *name)
{
    static const struct { const char *name; int format; } table[] = {
        {"wav", SF_FORMAT_WAV}, {"flac", SF_FORMAT_FLAC}, {"ogg", SF_FORMAT_OGG},
        {"oga", SF_FORMAT_OGG}, {"aiff", SF_FORMAT_AIFF}, {"aif", SF_FORMAT_AIFF},
        {"au", SF_FORMAT_AU}, {"snd", SF_FORMAT_AU}, {"caf", SF_FORMAT_CAF},
        {"w64", SF_FORMAT_W64}, {"raw", SF_FORMAT_RAW}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].format;
    return 0;
}

/* The sample bits of an integer encoding (0 for float, double and vorbis). */
static int encoding_from_name(const char *name, int container, int *bits)
{
    *bits = 0;
    if (strcmp(name, "pcm16") == 0) return *bits = 16, SF_FORMAT_PCM_16;
    if (strcmp(name, "pcm24") == 0) return *bits = 24, SF_FORMAT_PCM_24;
    if (strcmp(name, "pcm32") == 0) return *bits = 32, SF_FORMAT_PCM_32;
    if (strcmp(name, "pcm8") == 0)
        return *bits = 8, container == SF_FORMAT_WAV ? SF_FORMAT_PCM_U8 : SF_FORMAT_PCM_S8;
    if (strcmp(name, "float") == 0) return SF_FORMAT_FLOAT;
    if (strcmp(name, "double") == 0) return SF_FORMAT_DOUBLE;
    if (strcmp(name, "vorbis") == 0) return SF_FORMAT_VORBIS;
    return 0;
}

/* x in [-1, 1] to a signed integer of `bits` bits, placed in the top bits of an int as
 * libsndfile's int interface expects; rounds to nearest and clips. */
static int to_int_sample(double x, int bits)
{
    double scale = ldexp(1.0, bits - 1), v = nearbyint(x * scale);
    if (!(v >= -scale)) /* also catches NaN */
        v = -scale;
    if (v > scale - 1)
        v = scale - 1;
    return (int)((int64_t)v * ((int64_t)1 << (32 - bits)));
}

/* Write s in chunks: as doubles for float encodings (bits == 0), else as ints carrying
 * the rounded sample in their top bits. */
static loom_status write_frames(SNDFILE *f, const loom_matrix *s, int bits)
{
    enum { CHUNK = 4096 };
    size_t channels = s->cols;
    void *buf = loom_malloc(CHUNK * channels * sizeof(double)); /* room for either type */
    if (!buf)
        return LOOM_ENOMEM;
    double *as_double = buf;
    int *as_int = buf;
    loom_status st = LOOM_OK;
    for (size_t r0 = 0; r0 < s->rows && st == LOOM_OK; r0 += CHUNK) {
        size_t n = s->rows - r0 < CHUNK ? s->rows - r0 : CHUNK;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < channels; c++) {
                double v = *loom_at(s, r0 + i, c);
                if (bits)
                    as_int[i * channels + c] = to_int_sample(v, bits);
                else
                    as_double[i * channels + c] = v;
            }
        sf_count_t written = bits ? sf_writef_int(f, as_int, (sf_count_t)n)
                                  : sf_writef_double(f, as_double, (sf_count_t)n);
        if (written != (sf_count_t)n)
            st = LOOM_EIO;
    }
    loom_free(buf);
    return st;
}

loom_status loom_audio_write(const char *path, const loom_matrix *samples, int rate,
                             const char *container, const char *encoding, char *error,
                             size_t error_size)
{
    if (!container) {
        const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
        container = (dot && (!slash || dot > slash)) ? dot + 1 : "wav";
        if (!container_from_name(container))
            container = "wav";
    }
    for (size_t i = 0; i < samples->rows; i++)
        for (size_t c = 0; c < samples->cols; c++) {
            double v = *loom_at(samples, i, c);
            if (!isfinite(v)) /* a PCM encoder would write NaN as -1.0 */
                return loom_fail(error, error_size, LOOM_EARG, "sample %zu of channel %zu is %s",
                                 i + 1, c + 1, v != v ? "NaN" : "infinite");
        }
    int major = container_from_name(container);
    if (!major) {
        return loom_fail(error, error_size, LOOM_EARG, "unknown container '%s'", container);
    }
    int bits;
    if (!encoding)
        encoding = major == SF_FORMAT_OGG ? "vorbis" : "pcm16";
    int minor = encoding_from_name(encoding, major, &bits);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = (int)samples->cols;
    info.format = major | minor;
    if (!minor || samples->cols < 1 || samples->cols > 1024 || rate < 1 || !sf_format_check(&info)) {
        return loom_fail(error, error_size, LOOM_EARG, "cannot write encoding '%s' in a '%s' file", encoding,
                  container);
    }
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) {
        return loom_fail(error, error_size, LOOM_EIO, "cannot create '%s': %s", path, sf_strerror(NULL));
    }
    sf_command(f, SFC_SET_CLIPPING, NULL, SF_TRUE);
    loom_status st = write_frames(f, samples, bits);
    if (sf_close(f) != 0 && st == LOOM_OK)
        st = LOOM_EIO;
    if (st != LOOM_OK)
        return loom_fail(error, error_size, st, "cannot write '%s': %s", path, loom_strerror(st));
    return LOOM_OK;
}

/* ---- resampling ---- */

size_t loom_audio_resampled_frames(size_t n, double ratio)
{
    return (size_t)llround((double)n * ratio);
}

loom_status loom_audio_resample(loom_matrix *out, const loom_matrix *in, double ratio,
                                int quality)
{
    static const int converters[] = {SRC_SINC_BEST_QUALITY, SRC_SINC_MEDIUM_QUALITY,
                                     SRC_SINC_FASTEST};
    if (!(ratio > 0) || !src_is_valid_ratio(ratio) || quality < 0 || quality > 2
        || in->cols < 1 || in->cols > 1024)
        return LOOM_EARG;
    size_t n_out = loom_audio_resampled_frames(in->rows, ratio), c = in->cols;
    if (out->rows != n_out || out->cols != c)
        return LOOM_EDIM;
    if (n_out == 0)
        return LOOM_OK;
    /* libsamplerate's sinc converters work on interleaved floats. */
    size_t room = n_out + 64;
    float *src = loom_malloc((in->rows > 0 ? in->rows : 1) * c * sizeof *src);
    float *dst = loom_calloc(room * c, sizeof *dst);
    if (!src || !dst) {
        loom_free(src);
        loom_free(dst);
        return LOOM_ENOMEM;
    }
    for (size_t i = 0; i < in->rows; i++)
        for (size_t j = 0; j < c; j++)
            src[i * c + j] = (float)*loom_at(in, i, j);
    SRC_DATA data;
    memset(&data, 0, sizeof data);
    data.data_in = src;
    data.data_out = dst;
    data.input_frames = (long)in->rows;
    data.output_frames = (long)room;
    data.src_ratio = ratio;
    int err = src_simple(&data, converters[quality], (int)c);
    loom_status st = err ? LOOM_EARG : LOOM_OK;
    if (st == LOOM_OK) {
        /* The converter may hand back a few frames fewer than n * ratio; those stay 0. */
        for (size_t i = 0; i < n_out; i++)
            for (size_t j = 0; j < c; j++)
                *loom_at(out, i, j) = (double)dst[i * c + j];
    }
    loom_free(src);
    loom_free(dst);
    return st;
}

/* ---- windows, mel scale, framing ---- */

void loom_audio_window_fill(double *w, size_t n, loom_audio_window window, double blackman_coeff)
{
    double a = n > 1 ? 2.0 * PI / (double)(n - 1) : 0.0;
    for (size_t i = 0; i < n; i++) {
        double c = cos(a * (double)i);
        switch (window) {
        case LOOM_WINDOW_HANNING: w[i] = 0.5 - 0.5 * c; break;
        case LOOM_WINDOW_POVEY: w[i] = pow(0.5 - 0.5 * c, 0.85); break;
        case LOOM_WINDOW_HAMMING: w[i] = 0.54 - 0.46 * c; break;
        case LOOM_WINDOW_BLACKMAN:
            w[i] = blackman_coeff - 0.5 * c + (0.5 - blackman_coeff) * cos(2.0 * a * (double)i);
            break;
        case LOOM_WINDOW_RECTANGULAR: w[i] = 1.0; break;
        }
    }
}

double loom_audio_mel(double hz)
{
    return 1127.0 * log(1.0 + hz / 700.0);
}

double loom_audio_mel_inverse(double mel)
{
    return 700.0 * (exp(mel / 1127.0) - 1.0);
}

size_t loom_audio_frame_count(size_t n, size_t length, size_t shift, int snip_edges)
{
    if (shift == 0)
        return 0;
    if (snip_edges)
        return n < length ? 0 : 1 + (n - length) / shift;
    return (n + shift / 2) / shift;
}

void loom_audio_frame_extract(double *frame, const double *x, size_t stride, size_t n,
                              size_t index, size_t length, size_t shift, int snip_edges)
{
    if (snip_edges) {
        const double *start = x + index * shift * stride;
        for (size_t i = 0; i < length; i++)
            frame[i] = start[i * stride];
        return;
    }
    /* Kaldi's ExtractWindow: centred frames, the signal mirrored as [.. 1 0 | 0 1 ..]. */
    int64_t start = (int64_t)(index * shift + shift / 2) - (int64_t)(length / 2);
    int64_t len = (int64_t)n;
    for (size_t i = 0; i < length; i++) {
        int64_t s = start + (int64_t)i;
        while (s < 0 || s >= len) {
            if (s < 0)
                s = -s - 1;
            if (s >= len)
                s = 2 * len - 1 - s;
        }
        frame[i] = x[(size_t)s * stride];
    }
}

/* ---- mel filterbank ---- */

static loom_status melbank_check(size_t bins, size_t padded_length, double rate, double low,
                                 double *high)
{
    double nyquist = 0.5 * rate;
    if (*high <= 0.0)
        *high += nyquist;
    if (bins < 3 || padded_length < 2 || padded_length % 2 != 0 || !(rate > 0)
        || !(low >= 0.0 && low < nyquist) || !(*high > 0.0 && *high <= nyquist) || !(low < *high))
        return LOOM_EARG;
    return LOOM_OK;
}

void loom_melbank_release(loom_melbank *bank)
{
    loom_free(bank->first);
    loom_free(bank->width);
    loom_free(bank->offset);
    loom_free(bank->weight);
    memset(bank, 0, sizeof *bank);
}

/* The triangle's weight at mel m, Kaldi's rule: nonzero only strictly inside (left, right). */
static double triangle(double m, double left, double center, double right)
{
    if (!(m > left && m < right))
        return 0.0;
    return m <= center ? (m - left) / (center - left) : (right - m) / (right - center);
}

loom_status loom_melbank_init(loom_melbank *bank, size_t bins, size_t padded_length,
                              double rate, double low_hz, double high_hz)
{
    memset(bank, 0, sizeof *bank);
    loom_status st = melbank_check(bins, padded_length, rate, low_hz, &high_hz);
    if (st != LOOM_OK)
        return st;
    size_t fft_bins = padded_length / 2 + 1, used = padded_length / 2;
    bank->bins = bins;
    bank->fft_bins = fft_bins;
    bank->first = loom_calloc(bins, sizeof *bank->first);
    bank->width = loom_calloc(bins, sizeof *bank->width);
    bank->offset = loom_calloc(bins, sizeof *bank->offset);
    bank->weight = loom_calloc(bins * used, sizeof *bank->weight); /* an upper bound */
    if (!bank->first || !bank->width || !bank->offset || !bank->weight) {
        loom_melbank_release(bank);
        return LOOM_ENOMEM;
    }
    double bin_width = rate / (double)padded_length;
    double mel_low = loom_audio_mel(low_hz), mel_high = loom_audio_mel(high_hz);
    double delta = (mel_high - mel_low) / (double)(bins + 1);
    size_t next = 0;
    for (size_t b = 0; b < bins; b++) {
        double left = mel_low + (double)b * delta, center = left + delta;
        double right = mel_low + (double)(b + 2) * delta;
        size_t first = used, last = 0;
        for (size_t k = 0; k < used; k++) {
            if (triangle(loom_audio_mel(bin_width * (double)k), left, center, right) > 0.0) {
                if (first == used)
                    first = k;
                last = k;
            }
        }
        bank->offset[b] = next;
        if (first == used) /* an empty filter (too many bins for the FFT size) */
            continue;
        bank->first[b] = first;
        bank->width[b] = last - first + 1;
        for (size_t k = first; k <= last; k++)
            bank->weight[next++] = triangle(loom_audio_mel(bin_width * (double)k), left, center, right);
    }
    return LOOM_OK;
}

void loom_melbank_apply(double *out, const loom_melbank *bank, const double *spectrum)
{
    for (size_t b = 0; b < bank->bins; b++) {
        const double *w = bank->weight + bank->offset[b], *s = spectrum + bank->first[b];
        double sum = 0.0;
        for (size_t k = 0; k < bank->width[b]; k++)
            sum += w[k] * s[k];
        out[b] = sum;
    }
}

loom_status loom_melbank_dense_naive(loom_matrix *W, size_t bins, size_t padded_length,
                                     double rate, double low_hz, double high_hz)
{
    loom_status st = melbank_check(bins, padded_length, rate, low_hz, &high_hz);
    if (st != LOOM_OK)
        return st;
    if (W->rows != bins || W->cols != padded_length / 2 + 1)
        return LOOM_EDIM;
    double mel_low = loom_audio_mel(low_hz), mel_high = loom_audio_mel(high_hz);
    double delta = (mel_high - mel_low) / (double)(bins + 1);
    for (size_t b = 0; b < bins; b++) {
        double left = mel_low + (double)b * delta, center = mel_low + (double)(b + 1) * delta;
        double right = mel_low + (double)(b + 2) * delta;
        for (size_t k = 0; k < W->cols; k++) {
            double m = 1127.0 * log(1.0 + (rate * (double)k / (double)padded_length) / 700.0);
            double up = (m - left) / (center - left), down = (right - m) / (right - center);
            double w = up < down ? up : down;
            /* The Nyquist bin is outside Kaldi's bank (it uses padded_length / 2 bins). */
            *loom_at(W, b, k) = (k == W->cols - 1 || w < 0.0) ? 0.0 : w;
        }
    }
    return LOOM_OK;
}

/* ---- spectra and cepstra ---- */

void loom_audio_power_spectrum_naive(double *power, const double *frame, size_t n, int use_power)
{
    for (size_t k = 0; k <= n / 2; k++) {
        double re = 0.0, im = 0.0;
        for (size_t j = 0; j < n; j++) {
            double angle = -2.0 * PI * (double)((k * j) % n) / (double)n;
            re += frame[j] * cos(angle);
            im += frame[j] * sin(angle);
        }
        double p = re * re + im * im;
        power[k] = use_power ? p : sqrt(p);
    }
}

loom_status loom_audio_dct_matrix(loom_matrix *D)
{
    size_t ceps = D->rows, bins = D->cols;
    if (ceps > bins || bins == 0)
        return LOOM_EDIM;
    for (size_t k = 0; k < ceps; k++)
        for (size_t j = 0; j < bins; j++)
            *loom_at(D, k, j) = k == 0 ? sqrt(1.0 / (double)bins)
                                       : sqrt(2.0 / (double)bins)
                                             * cos(PI / (double)bins * ((double)j + 0.5) * (double)k);
    return LOOM_OK;
}

void loom_audio_dct_naive(double *out, size_t ceps, const double *in, size_t bins)
{
    for (size_t k = 0; k < ceps; k++) {
        double sum = 0.0;
        for (size_t j = 0; j < bins; j++) {
            double scale = k == 0 ? 1.0 / sqrt((double)bins) : sqrt(2.0) / sqrt((double)bins);
            sum += scale * cos(PI * (double)k * (2.0 * (double)j + 1.0) / (2.0 * (double)bins)) * in[j];
        }
        out[k] = sum;
    }
}

void loom_audio_lifter_fill(double *lifter, size_t ceps, double q)
{
    for (size_t i = 0; i < ceps; i++)
        lifter[i] = q != 0.0 ? 1.0 + 0.5 * q * sin(PI * (double)i / q) : 1.0;
}

/* ---- whole features ---- */

void loom_audio_options_default(loom_audio_options *o, loom_audio_kind kind, double rate)
{
    memset(o, 0, sizeof *o);
    o->rate = rate;
    o->frame_length_ms = 25.0;
    o->frame_shift_ms = 10.0;
    o->preemph = 0.97;
    o->remove_dc = 1;
    o->window = LOOM_WINDOW_POVEY;
    o->blackman_coeff = 0.42;
    o->snip_edges = 1;
    o->round_to_power_of_two = 1;
    o->use_power = 1;
    o->use_log = 1;
    o->num_mel_bins = 23;
    o->low_freq = 20.0;
    o->high_freq = 0.0;
    o->num_ceps = 13;
    o->cepstral_lifter = 22.0;
    o->use_energy = kind == LOOM_AUDIO_MFCC;
    o->raw_energy = 1;
}

/* Frame geometry in samples, Kaldi's truncation of rate * ms / 1000. */
typedef struct frame_geometry {
    size_t length, shift, padded, fft_bins;
} frame_geometry;

static loom_status geometry_of(frame_geometry *g, const loom_audio_options *o)
{
    if (!(o->rate > 0) || !(o->frame_length_ms > 0) || !(o->frame_shift_ms > 0)
        || !(o->rate * o->frame_length_ms < 1e12) || !(o->rate * o->frame_shift_ms < 1e12))
        return LOOM_EARG;
    g->length = (size_t)(o->rate * o->frame_length_ms * 0.001);
    g->shift = (size_t)(o->rate * o->frame_shift_ms * 0.001);
    if (g->length < 2 || g->shift < 1)
        return LOOM_EARG;
    g->padded = g->length;
    if (o->round_to_power_of_two) {
        g->padded = 1;
        while (g->padded < g->length)
            g->padded *= 2;
    }
    if (g->padded % 2 != 0)
        return LOOM_EARG;
    g->fft_bins = g->padded / 2 + 1;
    return LOOM_OK;
}

loom_status loom_audio_feature_shape(size_t *rows, size_t *cols, size_t n,
                                     loom_audio_kind kind, const loom_audio_options *o)
{
    frame_geometry g;
    loom_status st = geometry_of(&g, o);
    if (st != LOOM_OK)
        return st;
    if (!(o->preemph >= 0.0 && o->preemph <= 1.0) || !(o->dither >= 0.0)
        || (o->dither > 0.0 && !o->rng) || !(o->energy_floor >= 0.0))
        return LOOM_EARG;
    if (kind != LOOM_AUDIO_SPECTROGRAM) {
        double high = o->high_freq;
        st = melbank_check(o->num_mel_bins, g.padded, o->rate, o->low_freq, &high);
        if (st != LOOM_OK)
            return st;
    }
    if (kind == LOOM_AUDIO_MFCC && (o->num_ceps < 1 || o->num_ceps > o->num_mel_bins))
        return LOOM_EARG;
    *rows = loom_audio_frame_count(n, g.length, g.shift, o->snip_edges);
    switch (kind) {
    case LOOM_AUDIO_SPECTROGRAM: *cols = g.fft_bins; break;
    case LOOM_AUDIO_FBANK: *cols = o->num_mel_bins + (o->use_energy ? 1 : 0); break;
    case LOOM_AUDIO_MFCC: *cols = o->num_ceps; break;
    }
    return LOOM_OK;
}

/* Buffers and the FFTW plan one feature computation needs; one allocation for the doubles. */
typedef struct feature_work {
    frame_geometry g;
    double *block;
    double *window;    /* [length] */
    double *frame;     /* [padded] FFTW's input */
    double *spectrum;  /* [2 * fft_bins] FFTW's output, interleaved re, im */
    double *power;     /* [fft_bins] */
    fftw_plan plan;
    loom_melbank bank;
} feature_work;

static void work_release(feature_work *w)
{
    if (w->plan)
        fftw_destroy_plan(w->plan);
    loom_free(w->block);
    loom_melbank_release(&w->bank);
    memset(w, 0, sizeof *w);
}

static loom_status work_init(feature_work *w, loom_audio_kind kind, const loom_audio_options *o)
{
    memset(w, 0, sizeof *w);
    loom_status st = geometry_of(&w->g, o);
    if (st != LOOM_OK)
        return st;
    size_t length = w->g.length, padded = w->g.padded, bins = w->g.fft_bins;
    w->block = loom_malloc((length + padded + 3 * bins) * sizeof(double));
    if (!w->block)
        return LOOM_ENOMEM;
    w->window = w->block;
    w->frame = w->window + length;
    w->spectrum = w->frame + padded;
    w->power = w->spectrum + 2 * bins;
    loom_audio_window_fill(w->window, length, o->window, o->blackman_coeff);
    if (padded > (size_t)INT32_MAX) {
        work_release(w);
        return LOOM_ERANGE;
    }
    w->plan = fftw_plan_dft_r2c_1d((int)padded, w->frame, (fftw_complex *)(void *)w->spectrum,
                                   FFTW_ESTIMATE);
    if (!w->plan) {
        work_release(w);
        return LOOM_ENOMEM;
    }
    if (kind != LOOM_AUDIO_SPECTROGRAM) {
        st = loom_melbank_init(&w->bank, o->num_mel_bins, padded, o->rate, o->low_freq,
                               o->high_freq);
        if (st != LOOM_OK) {
            work_release(w);
            return st;
        }
    }
    return LOOM_OK;
}

static double sum_squares(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static double log_energy(double energy, double floor)
{
    double e = log(energy > LOG_FLOOR ? energy : LOG_FLOOR);
    if (floor > 0.0 && e < log(floor))
        e = log(floor);
    return e;
}

/* Cut, condition and transform frame `index` into w->power; returns its log energy. */
static double process_frame(feature_work *w, const double *x, size_t stride, size_t n,
                            size_t index, const loom_audio_options *o)
{
    size_t length = w->g.length;
    double *f = w->frame, energy = 0.0;
    loom_audio_frame_extract(f, x, stride, n, index, length, w->g.shift, o->snip_edges);
    if (o->dither > 0.0)
        for (size_t i = 0; i < length; i++)
            f[i] += o->dither * loom_rng_normal(o->rng);
    if (o->remove_dc) {
        double mean = 0.0;
        for (size_t i = 0; i < length; i++)
            mean += f[i];
        mean /= (double)length;
        for (size_t i = 0; i < length; i++)
            f[i] -= mean;
    }
    if (o->raw_energy)
        energy = sum_squares(f, length);
    if (o->preemph != 0.0) {
        for (size_t i = length - 1; i > 0; i--)
            f[i] -= o->preemph * f[i - 1];
        f[0] -= o->preemph * f[0];
    }
    for (size_t i = 0; i < length; i++)
        f[i] *= w->window[i];
    if (!o->raw_energy)
        energy = sum_squares(f, length);
    for (size_t i = length; i < w->g.padded; i++)
        f[i] = 0.0;
    fftw_execute(w->plan);
    for (size_t k = 0; k < w->g.fft_bins; k++) {
        double re = w->spectrum[2 * k], im = w->spectrum[2 * k + 1], p = re * re + im * im;
        w->power[k] = o->use_power ? p : sqrt(p);
    }
    return log_energy(energy, o->energy_floor);
}

static double floored_log(double v)
{
    return log(v > LOG_FLOOR ? v : LOG_FLOOR);
}

/* Row i of a spectrogram: log power, bin 0 replaced by the log energy (Kaldi). */
static void spectrogram_row(double *row, const feature_work *w, double energy)
{
    for (size_t k = 0; k < w->g.fft_bins; k++)
        row[k] = floored_log(w->power[k]);
    row[0] = energy;
}

static void fbank_row(double *row, const feature_work *w, double energy,
                      const loom_audio_options *o)
{
    size_t bins = w->bank.bins;
    double *mel = row + (o->use_energy && !o->htk_compat ? 1 : 0);
    loom_melbank_apply(mel, &w->bank, w->power);
    if (o->use_log)
        for (size_t b = 0; b < bins; b++)
            mel[b] = floored_log(mel[b]);
    if (o->use_energy)
        row[o->htk_compat ? bins : 0] = energy;
}

/* out (frames x ceps) = lifter .* (logmel * D^T), energy into c0, HTK's order if asked. */
static loom_status mfcc_finish(loom_matrix *out, const loom_matrix *logmel, const double *energy,
                               const loom_audio_options *o)
{
    size_t ceps = o->num_ceps, bins = o->num_mel_bins;
    loom_matrix D;
    loom_status st = loom_matrix_init(&D, ceps, bins);
    if (st != LOOM_OK)
        return st;
    double *lifter = loom_malloc(ceps * sizeof *lifter);
    if (!lifter) {
        loom_matrix_release(&D);
        return LOOM_ENOMEM;
    }
    loom_audio_dct_matrix(&D);
    loom_audio_lifter_fill(lifter, ceps, o->cepstral_lifter);
    st = loom_gemm(out, 1.0, logmel, 0, &D, 1, 0.0);
    for (size_t i = 0; st == LOOM_OK && i < out->rows; i++) {
        double *row = loom_at(out, i, 0);
        for (size_t k = 0; k < ceps; k++)
            row[k] *= lifter[k];
        if (o->use_energy)
            row[0] = energy[i];
        if (o->htk_compat) {
            double c0 = row[0] * (o->use_energy ? 1.0 : sqrt(2.0));
            loom_move_bytes(row, row + 1, (ceps - 1) * sizeof *row);
            row[ceps - 1] = c0;
        }
    }
    loom_free(lifter);
    loom_matrix_release(&D);
    return st;
}

loom_status loom_audio_features(loom_matrix *out, const double *x, size_t stride, size_t n,
                                loom_audio_kind kind, const loom_audio_options *o)
{
    size_t rows, cols;
    loom_status st = loom_audio_feature_shape(&rows, &cols, n, kind, o);
    if (st != LOOM_OK)
        return st;
    if (out->rows != rows || out->cols != cols)
        return LOOM_EDIM;
    if (rows == 0)
        return LOOM_OK;
    feature_work w;
    st = work_init(&w, kind, o);
    if (st != LOOM_OK)
        return st;
    /* MFCC keeps the log mel energies of every frame for one gemm with the DCT. */
    loom_matrix logmel = {.ld = 1};
    double *energy = NULL;
    if (kind == LOOM_AUDIO_MFCC) {
        st = loom_matrix_init(&logmel, rows, o->num_mel_bins);
        energy = st == LOOM_OK ? loom_malloc(rows * sizeof *energy) : NULL;
        if (!energy) {
            loom_matrix_release(&logmel);
            work_release(&w);
            return LOOM_ENOMEM;
        }
    }
    loom_audio_options mel_only = *o;
    mel_only.use_energy = 0;
    mel_only.use_log = 1;
    mel_only.use_power = 1;
    for (size_t i = 0; i < rows; i++) {
        const loom_audio_options *frame_opts = kind == LOOM_AUDIO_MFCC ? &mel_only : o;
        double e = process_frame(&w, x, stride, n, i, frame_opts);
        switch (kind) {
        case LOOM_AUDIO_SPECTROGRAM: spectrogram_row(loom_at(out, i, 0), &w, e); break;
        case LOOM_AUDIO_FBANK: fbank_row(loom_at(out, i, 0), &w, e, o); break;
        case LOOM_AUDIO_MFCC:
            fbank_row(loom_at(&logmel, i, 0), &w, e, &mel_only);
            energy[i] = e;
            break;
        }
    }
    if (kind == LOOM_AUDIO_MFCC)
        st = mfcc_finish(out, &logmel, energy, o);
    loom_free(energy);
    loom_matrix_release(&logmel);
    work_release(&w);
    return st;
}

/* ---- deltas and normalisation ---- */

/* scales (order + 1 rows of 2 * order * window + 1 taps, centred) as Kaldi's DeltaFeatures. */
static void delta_scales(double *scales, size_t taps, int order, int window)
{
    loom_zero_bytes(scales, (size_t)(order + 1) * taps * sizeof *scales);
    size_t mid = taps / 2;
    scales[mid] = 1.0;
    double normalizer = 0.0;
    for (int j = -window; j <= window; j++)
        normalizer += (double)(j * j);
    for (int i = 1; i <= order; i++) {
        const double *prev = scales + (size_t)(i - 1) * taps;
        double *cur = scales + (size_t)i * taps;
        for (int j = -window; j <= window; j++)
            for (size_t k = 0; k < taps; k++) {
                if (prev[k] == 0.0)
                    continue;
                int64_t at = (int64_t)k + j;
                if (at >= 0 && at < (int64_t)taps)
                    cur[at] += (double)j * prev[k] / normalizer;
            }
    }
}

loom_status loom_audio_deltas(loom_matrix *out, const loom_matrix *feats, int order, int window)
{
    size_t T = feats->rows, F = feats->cols;
    if (order < 0 || order > 8 || window < 1 || window > 1000)
        return LOOM_EARG;
    if (out->rows != T || out->cols != F * (size_t)(order + 1))
        return LOOM_EDIM;
    size_t taps = 2 * (size_t)order * (size_t)window + 1;
    double *scales = loom_malloc((size_t)(order + 1) * taps * sizeof *scales);
    if (!scales)
        return LOOM_ENOMEM;
    delta_scales(scales, taps, order, window);
    int64_t half = (int64_t)(taps / 2);
    for (size_t t = 0; t < T; t++) {
        for (int i = 0; i <= order; i++) {
            double *dst = loom_at(out, t, (size_t)i * F);
            const double *s = scales + (size_t)i * taps;
            for (size_t f = 0; f < F; f++)
                dst[f] = 0.0;
            for (int64_t j = -half; j <= half; j++) {
                double scale = s[j + half];
                if (scale == 0.0)
                    continue;
                int64_t at = (int64_t)t + j;
                at = at < 0 ? 0 : (at >= (int64_t)T ? (int64_t)T - 1 : at);
                const double *src = loom_at(feats, (size_t)at, 0);
                for (size_t f = 0; f < F; f++)
                    dst[f] += scale * src[f];
            }
        }
    }
    loom_free(scales);
    return LOOM_OK;
}

loom_status loom_audio_cmvn(loom_matrix *out, const loom_matrix *feats, int norm_vars)
{
    if (!loom_same_shape(out, feats))
        return LOOM_EDIM;
    size_t T = feats->rows;
    for (size_t f = 0; f < feats->cols; f++) {
        double mean = 0.0, var = 0.0;
        for (size_t t = 0; t < T; t++)
            mean += *loom_at(feats, t, f);
        mean = T > 0 ? mean / (double)T : 0.0;
        for (size_t t = 0; t < T; t++) {
            double d = *loom_at(feats, t, f) - mean;
            var += d * d;
        }
        var = T > 0 ? var / (double)T : 0.0;
        double scale = norm_vars && var > 0.0 ? 1.0 / sqrt(var) : 1.0;
        for (size_t t = 0; t < T; t++)
            *loom_at(out, t, f) = (*loom_at(feats, t, f) - mean) * scale;
    }
    return LOOM_OK;
}

/* ---- augmentation in the spectral domain ---- */

double loom_audio_vtln_warp(double hz, double alpha, double low, double high, double vtln_low,
                            double vtln_high)
{
    if (hz < low || hz > high)
        return hz;
    double l = vtln_low * (alpha > 1.0 ? alpha : 1.0), h = vtln_high * (alpha < 1.0 ? alpha : 1.0);
    double scale = 1.0 / alpha, fl = scale * l, fh = scale * h;
    if (hz < l)
        return low + (fl - low) / (l - low) * (hz - low);
    if (hz < h)
        return scale * hz;
    return high + (fh - high) / (h - high) * (hz - high);
}

loom_status loom_audio_warped_melbank(loom_matrix *W, size_t bins, size_t padded_length, double rate,
                                      double low_hz, double high_hz, double alpha, double vtln_low,
                                      double vtln_high, double speed)
{
    loom_status st = melbank_check(bins, padded_length, rate, low_hz, &high_hz);
    if (st != LOOM_OK)
        return st;
    if (vtln_high <= 0.0)
        vtln_high += 0.5 * rate;
    if (!(alpha >= 0.5 && alpha <= 2.0) || !(speed >= 0.5 && speed <= 2.0) ||
        !(low_hz < vtln_low && vtln_low < vtln_high && vtln_high < high_hz))
        return LOOM_EARG;
    if (W->rows != bins || W->cols != padded_length / 2 + 1 || W->dtype != LOOM_F64)
        return LOOM_EDIM;
    double mel_low = loom_audio_mel(low_hz), mel_high = loom_audio_mel(high_hz);
    double delta = (mel_high - mel_low) / (double)(bins + 1);
    loom_matrix_fill(W, 0.0);
    /* the mel value of each FFT bin (times speed) in W's last row, overwritten last */
    double *bin_mel = loom_at(W, bins - 1, 0);
    for (size_t k = 0; k < W->cols; k++)
        bin_mel[k] = loom_audio_mel(speed * rate * (double)k / (double)padded_length);
    for (size_t b = 0; b < bins; b++) {
        double edge[3];
        for (int e = 0; e < 3; e++) {
            double m = mel_low + (double)(b + (size_t)e) * delta;
            edge[e] = alpha == 1.0 ? m
                      : loom_audio_mel(loom_audio_vtln_warp(loom_audio_mel_inverse(m), alpha, low_hz,
                                                            high_hz, vtln_low, vtln_high));
        }
        double *row = loom_at(W, b, 0);
        for (size_t k = 0; k + 1 < W->cols; k++) /* row b = bins - 1 reads bin_mel[k] before writing it */
            row[k] = triangle(bin_mel[k], edge[0], edge[1], edge[2]);
        row[W->cols - 1] = 0.0; /* the Nyquist bin stays out, as Kaldi's */
    }
    return LOOM_OK;
}

size_t loom_audio_stretched_rows(size_t rows, double step)
{
    if (rows == 0 || !(step > 0.0))
        return 0;
    return (size_t)floor((double)(rows - 1) / step + 1e-9) + 1;
}

loom_status loom_audio_stretch(loom_matrix *out, const loom_matrix *in, double step)
{
    if (!(step > 0.0) || in->rows == 0)
        return LOOM_EARG;
    if (out->rows != loom_audio_stretched_rows(in->rows, step) || out->cols != in->cols ||
        out->dtype != LOOM_F64 || in->dtype != LOOM_F64)
        return LOOM_EDIM;
    for (size_t t = 0; t < out->rows; t++) {
        double at = (double)t * step;
        size_t lo = (size_t)at;
        if (lo >= in->rows - 1) {
            lo = in->rows - 1;
            at = (double)lo;
        }
        size_t hi = lo + 1 < in->rows ? lo + 1 : lo;
        double frac = at - (double)lo;
        const double *a = loom_at(in, lo, 0), *c = loom_at(in, hi, 0);
        double *o = loom_at(out, t, 0);
        for (size_t j = 0; j < in->cols; j++)
            o[j] = (1.0 - frac) * a[j] + frac * c[j];
    }
    return LOOM_OK;
}
