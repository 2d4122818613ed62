/* check_audio.c: the audio core against naive references: windows, mel scale and bank,
 * DFT, DCT, framing, deltas, CMVN, file round trips, resampling, allocation failures. */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"

#define PI 3.14159265358979323846

static double rel_diff(double a, double b)
{
    return fabs(a - b) / (fabs(b) > 1.0 ? fabs(b) : 1.0);
}

START_TEST(window_matches_closed_forms)
{
    size_t n = 200;
    double w[200];
    for (int kind = 0; kind <= LOOM_WINDOW_BLACKMAN; kind++) {
        loom_audio_window_fill(w, n, (loom_audio_window)kind, 0.42);
        for (size_t i = 0; i < n; i++) {
            /* 0.5 - 0.5 cos(2 pi i / (n - 1)) = sin^2(pi i / (n - 1)) */
            double s = sin(PI * (double)i / (double)(n - 1)), s2 = s * s, want = 0.0;
            switch ((loom_audio_window)kind) {
            case LOOM_WINDOW_HANNING: want = s2; break;
            case LOOM_WINDOW_POVEY: want = exp(0.85 * log(s2 > 0 ? s2 : 1e-300)); break;
            case LOOM_WINDOW_HAMMING: want = 0.08 + 0.92 * s2; break;
            case LOOM_WINDOW_RECTANGULAR: want = 1.0; break;
            case LOOM_WINDOW_BLACKMAN: {
                double c = 1.0 - 2.0 * s2; /* cos(a i) */
                want = 0.42 - 0.5 * c + 0.08 * (2.0 * c * c - 1.0);
                break;
            }
            }
            if (kind == LOOM_WINDOW_POVEY && s2 == 0.0)
                want = 0.0;
            ck_assert_msg(fabs(w[i] - want) < 1e-12, "window %d at %zu: %.17g vs %.17g", kind, i,
                          w[i], want);
        }
    }
    /* Symmetric windows: the ends of hanning and povey are zero, the middle is one. */
    loom_audio_window_fill(w, 201 - 1, LOOM_WINDOW_HANNING, 0.42);
    ck_assert(fabs(w[0]) < 1e-15 && fabs(w[199]) < 1e-15);
}
END_TEST

START_TEST(mel_scale)
{
    ck_assert(fabs(loom_audio_mel(700.0) - 1127.0 * log(2.0)) < 1e-12);
    ck_assert(loom_audio_mel(0.0) == 0.0);
    for (double hz = 0.0; hz < 8000.0; hz += 123.25)
        ck_assert(fabs(loom_audio_mel_inverse(loom_audio_mel(hz)) - hz) < 1e-9);
}
END_TEST

/* The sparse bank equals the dense naive one for several geometries. */
START_TEST(melbank_matches_naive)
{
    struct { size_t bins, padded; double rate, low, high; } cases[] = {
        {23, 256, 8000, 20, 0}, {40, 512, 16000, 20, -400}, {80, 512, 16000, 0, 7600},
        {10, 64, 8000, 300, 3000}, {23, 400, 16000, 64, -200}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        loom_melbank bank;
        ck_assert_int_eq(loom_melbank_init(&bank, cases[c].bins, cases[c].padded, cases[c].rate,
                                           cases[c].low, cases[c].high), LOOM_OK);
        loom_matrix W;
        ck_assert_int_eq(loom_matrix_init(&W, cases[c].bins, cases[c].padded / 2 + 1), LOOM_OK);
        ck_assert_int_eq(loom_melbank_dense_naive(&W, cases[c].bins, cases[c].padded,
                                                  cases[c].rate, cases[c].low, cases[c].high),
                         LOOM_OK);
        /* Apply both to a few spectra. */
        double spectrum[257], sparse[80];
        for (int trial = 0; trial < 3; trial++) {
            for (size_t k = 0; k < W.cols; k++)
                spectrum[k] = 1.0 + sin(0.37 * (double)k * (trial + 1));
            loom_melbank_apply(sparse, &bank, spectrum);
            for (size_t b = 0; b < W.rows; b++) {
                double dense = 0.0;
                for (size_t k = 0; k < W.cols; k++)
                    dense += *loom_at(&W, b, k) * spectrum[k];
                ck_assert_msg(rel_diff(sparse[b], dense) < 1e-12, "case %zu bin %zu: %g vs %g", c,
                              b, sparse[b], dense);
            }
        }
        /* Triangles peak below 1, touch zero at their ends, and the centre ones are full. */
        for (size_t b = 0; b < W.rows; b++)
            for (size_t k = 0; k < W.cols; k++)
                ck_assert(*loom_at(&W, b, k) >= 0.0 && *loom_at(&W, b, k) <= 1.0);
        loom_matrix_release(&W);
        loom_melbank_release(&bank);
    }
    loom_melbank bank;
    ck_assert_int_eq(loom_melbank_init(&bank, 23, 256, 8000, 4000, 0), LOOM_EARG);
    ck_assert_int_eq(loom_melbank_init(&bank, 2, 256, 8000, 20, 0), LOOM_EARG);
    ck_assert_int_eq(loom_melbank_init(&bank, 23, 255, 8000, 20, 0), LOOM_EARG);
}
END_TEST

/* With no pre-emphasis, DC removal or window, spectrogram columns 2.. are log |DFT|^2. */
START_TEST(fft_power_matches_naive_dft)
{
    size_t n = 1000;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = 0.3 * sin(0.05 * (double)i) + 0.2 * cos(0.71 * (double)i * (double)i / 1000.0);
    loom_audio_options o;
    loom_audio_options_default(&o, LOOM_AUDIO_SPECTROGRAM, 8000);
    o.preemph = 0.0;
    o.remove_dc = 0;
    o.window = LOOM_WINDOW_RECTANGULAR;
    size_t rows, cols;
    ck_assert_int_eq(loom_audio_feature_shape(&rows, &cols, n, LOOM_AUDIO_SPECTROGRAM, &o), LOOM_OK);
    ck_assert_uint_eq(rows, 1 + (n - 200) / 80);
    ck_assert_uint_eq(cols, 129);
    loom_matrix S;
    ck_assert_int_eq(loom_matrix_init(&S, rows, cols), LOOM_OK);
    ck_assert_int_eq(loom_audio_features(&S, x, 1, n, LOOM_AUDIO_SPECTROGRAM, &o), LOOM_OK);
    double frame[256] = {0}, power[129];
    for (size_t t = 0; t < rows; t += 3) {
        memcpy(frame, x + t * 80, 200 * sizeof *frame);
        loom_audio_power_spectrum_naive(power, frame, 256, 1);
        for (size_t k = 1; k < cols; k++)
            ck_assert_msg(fabs(*loom_at(&S, t, k) - log(power[k] > 1.1920928955078125e-07
                                                            ? power[k] : 1.1920928955078125e-07)) < 1e-9,
                          "frame %zu bin %zu", t, k);
        double energy = 0.0;
        for (size_t i = 0; i < 200; i++)
            energy += frame[i] * frame[i];
        ck_assert(fabs(*loom_at(&S, t, 0) - log(energy)) < 1e-12);
    }
    loom_matrix_release(&S);
    free(x);
}
END_TEST

START_TEST(dct_matches_naive)
{
    loom_matrix D;
    ck_assert_int_eq(loom_matrix_init(&D, 13, 23), LOOM_OK);
    ck_assert_int_eq(loom_audio_dct_matrix(&D), LOOM_OK);
    double in[23], naive[13];
    for (int j = 0; j < 23; j++)
        in[j] = cos(1.3 * j) + 0.1 * j;
    loom_audio_dct_naive(naive, 13, in, 23);
    for (size_t k = 0; k < 13; k++) {
        double fast = 0.0;
        for (size_t j = 0; j < 23; j++)
            fast += *loom_at(&D, k, j) * in[j];
        ck_assert(fabs(fast - naive[k]) < 1e-12);
    }
    loom_matrix_release(&D);
    /* The full square DCT is orthonormal: D D^T = I. */
    ck_assert_int_eq(loom_matrix_init(&D, 23, 23), LOOM_OK);
    loom_audio_dct_matrix(&D);
    for (size_t a = 0; a < 23; a++)
        for (size_t b = 0; b < 23; b++) {
            double dot = 0.0;
            for (size_t j = 0; j < 23; j++)
                dot += *loom_at(&D, a, j) * *loom_at(&D, b, j);
            ck_assert(fabs(dot - (a == b ? 1.0 : 0.0)) < 1e-12);
        }
    loom_matrix_release(&D);
    double lifter[13];
    loom_audio_lifter_fill(lifter, 13, 22.0);
    ck_assert(lifter[0] == 1.0);
    ck_assert(fabs(lifter[11] - (1.0 + 11.0 * sin(PI / 2.0))) < 1e-12);
}
END_TEST

START_TEST(framing_and_reflection)
{
    ck_assert_uint_eq(loom_audio_frame_count(199, 200, 80, 1), 0);
    ck_assert_uint_eq(loom_audio_frame_count(200, 200, 80, 1), 1);
    ck_assert_uint_eq(loom_audio_frame_count(1000, 200, 80, 1), 11);
    ck_assert_uint_eq(loom_audio_frame_count(1000, 200, 80, 0), 13);
    ck_assert_uint_eq(loom_audio_frame_count(39, 200, 80, 0), 0);
    double x[10], frame[8];
    for (int i = 0; i < 10; i++)
        x[i] = i;
    /* Frame 0, centred: start = 0 + 1 - 4 = -3 -> samples 2 1 0 | 0 1 2 3 4. */
    loom_audio_frame_extract(frame, x, 1, 10, 0, 8, 3, 0);
    double want0[8] = {2, 1, 0, 0, 1, 2, 3, 4};
    for (int i = 0; i < 8; i++)
        ck_assert(frame[i] == want0[i]);
    /* Frame 3: start = 9 + 1 - 4 = 6 -> 6 7 8 9 | 9 8 7 6. */
    loom_audio_frame_extract(frame, x, 1, 10, 3, 8, 3, 0);
    double want3[8] = {6, 7, 8, 9, 9, 8, 7, 6};
    for (int i = 0; i < 8; i++)
        ck_assert(frame[i] == want3[i]);
}
END_TEST

START_TEST(deltas_match_formulas)
{
    size_t T = 12, F = 3;
    loom_matrix x, d, d1;
    ck_assert_int_eq(loom_matrix_init(&x, T, F), LOOM_OK);
    for (size_t t = 0; t < T; t++)
        for (size_t f = 0; f < F; f++)
            *loom_at(&x, t, f) = sin(0.7 * (double)t + (double)f) + 0.01 * (double)(t * t);
    ck_assert_int_eq(loom_matrix_init(&d, T, 3 * F), LOOM_OK);
    ck_assert_int_eq(loom_matrix_init(&d1, T, 2 * F), LOOM_OK);
    ck_assert_int_eq(loom_audio_deltas(&d, &x, 2, 2), LOOM_OK);
    ck_assert_int_eq(loom_audio_deltas(&d1, &x, 1, 2), LOOM_OK);
#define X(t, f) (*loom_at(&x, (size_t)((t) < 0 ? 0 : ((t) >= (long)T ? (long)T - 1 : (t))), f))
    for (long t = 0; t < (long)T; t++)
        for (size_t f = 0; f < F; f++) {
            ck_assert(*loom_at(&d, (size_t)t, f) == *loom_at(&x, (size_t)t, f));
            double want = (2.0 * (X(t + 2, f) - X(t - 2, f)) + (X(t + 1, f) - X(t - 1, f))) / 10.0;
            ck_assert(fabs(*loom_at(&d, (size_t)t, F + f) - want) < 1e-12);
            ck_assert(fabs(*loom_at(&d1, (size_t)t, F + f) - want) < 1e-12);
        }
    /* Away from the edges, delta-deltas are the deltas of the deltas. */
    for (size_t t = 4; t + 4 < T; t++)
        for (size_t f = 0; f < F; f++) {
#define D(s) (*loom_at(&d1, (s), F + f))
            double want = (2.0 * (D(t + 2) - D(t - 2)) + (D(t + 1) - D(t - 1))) / 10.0;
            ck_assert(fabs(*loom_at(&d, t, 2 * F + f) - want) < 1e-12);
#undef D
        }
#undef X
    ck_assert_int_eq(loom_audio_deltas(&d, &x, 1, 2), LOOM_EDIM);
    ck_assert_int_eq(loom_audio_deltas(&d, &x, -1, 2), LOOM_EARG);
    loom_matrix_release(&x);
    loom_matrix_release(&d);
    loom_matrix_release(&d1);
}
END_TEST

START_TEST(cmvn_normalises)
{
    loom_matrix x, y;
    ck_assert_int_eq(loom_matrix_init(&x, 50, 2), LOOM_OK);
    ck_assert_int_eq(loom_matrix_init(&y, 50, 2), LOOM_OK);
    for (size_t t = 0; t < 50; t++) {
        *loom_at(&x, t, 0) = 3.0 + 2.0 * sin((double)t);
        *loom_at(&x, t, 1) = 7.0; /* constant: only centred */
    }
    ck_assert_int_eq(loom_audio_cmvn(&y, &x, 1), LOOM_OK);
    double mean = 0.0, sq = 0.0;
    for (size_t t = 0; t < 50; t++) {
        mean += *loom_at(&y, t, 0);
        sq += *loom_at(&y, t, 0) * *loom_at(&y, t, 0);
        ck_assert(*loom_at(&y, t, 1) == 0.0);
    }
    ck_assert(fabs(mean / 50.0) < 1e-12 && fabs(sq / 50.0 - 1.0) < 1e-12);
    ck_assert_int_eq(loom_audio_cmvn(&x, &x, 0), LOOM_OK); /* in place, mean only */
    ck_assert(fabs(*loom_at(&x, 0, 0) - (3.0 + 2.0 * sin(0.0) - 3.0)) < 0.2);
    loom_matrix_release(&x);
    loom_matrix_release(&y);
}
END_TEST

static void temp_path(char *buf, size_t n, const char *ext)
{
    snprintf(buf, n, "/tmp/check_audio_%ld.%s", (long)getpid(), ext);
}

START_TEST(file_round_trips)
{
    char path[128], error[256];
    loom_matrix x, y;
    ck_assert_int_eq(loom_matrix_init(&x, 1000, 2), LOOM_OK);
    for (size_t i = 0; i < 1000; i++) {
        *loom_at(&x, i, 0) = (double)((long)(i * 37) % 65536 - 32768) / 32768.0;
        *loom_at(&x, i, 1) = (double)((long)(i * 91 + 5) % 65536 - 32768) / 32768.0;
    }
    *loom_at(&x, 0, 0) = -1.0;
    *loom_at(&x, 1, 0) = 32767.0 / 32768.0;
    const char *encodings[] = {"pcm16", "pcm24", "pcm32", "float", "double"};
    const char *exts[] = {"wav", "flac", "wav", "wav", "au"};
    for (int e = 0; e < 5; e++) {
        temp_path(path, sizeof path, exts[e]);
        ck_assert_int_eq(loom_audio_write(path, &x, 8000, NULL, encodings[e], error, sizeof error),
                         LOOM_OK);
        int rate = 0;
        ck_assert_int_eq(loom_audio_read(&y, &rate, path, error, sizeof error), LOOM_OK);
        ck_assert_int_eq(rate, 8000);
        ck_assert(loom_same_shape(&x, &y));
        for (size_t i = 0; i < 1000; i++)
            for (size_t c = 0; c < 2; c++)
                ck_assert_msg(*loom_at(&x, i, c) == *loom_at(&y, i, c), "%s: %zu,%zu: %.17g vs %.17g",
                              encodings[e], i, c, *loom_at(&x, i, c), *loom_at(&y, i, c));
        loom_matrix_release(&y);
        unlink(path);
    }
    /* Out-of-range samples clip instead of wrapping. */
    *loom_at(&x, 2, 0) = 1.7;
    *loom_at(&x, 3, 0) = -3.0;
    temp_path(path, sizeof path, "wav");
    ck_assert_int_eq(loom_audio_write(path, &x, 8000, NULL, NULL, error, sizeof error), LOOM_OK);
    int rate;
    ck_assert_int_eq(loom_audio_read(&y, &rate, path, error, sizeof error), LOOM_OK);
    ck_assert(*loom_at(&y, 2, 0) == 32767.0 / 32768.0 && *loom_at(&y, 3, 0) == -1.0);
    loom_matrix_release(&y);
    unlink(path);
    ck_assert_int_eq(loom_audio_write(path, &x, 8000, "wav", "vorbis", error, sizeof error), LOOM_EARG);
    ck_assert_str_eq(error, "cannot write encoding 'vorbis' in a 'wav' file");
    ck_assert_int_eq(loom_audio_write(path, &x, 8000, "mp9", NULL, error, sizeof error), LOOM_EARG);
    ck_assert_str_eq(error, "unknown container 'mp9'");
    loom_matrix_release(&x);

    ck_assert_int_eq(loom_audio_read(&y, &rate, "/nonexistent/a.wav", error, sizeof error), LOOM_EIO);
    ck_assert_str_eq(error, "cannot open '/nonexistent/a.wav': No such file or directory");
    ck_assert(y.data == NULL && y.rows == 0);
    temp_path(path, sizeof path, "wav");
    FILE *f = fopen(path, "wb");
    fputs("RIFF\x10\0\0\0WAVEjunkjunkjunk", f);
    fclose(f);
    ck_assert_int_eq(loom_audio_read(&y, &rate, path, error, sizeof error), LOOM_EFORMAT);
    ck_assert(y.data == NULL);
    unlink(path);
}
END_TEST

/* The frequency of the strongest DFT bin of x (n samples at rate), refined parabolically. */
static double peak_frequency(const double *x, size_t n, double rate)
{
    size_t best = 1;
    double prev = 0, bestp = 0, *p = malloc((n / 2 + 1) * sizeof *p);
    loom_audio_power_spectrum_naive(p, x, n, 0);
    for (size_t k = 1; k < n / 2; k++)
        if (p[k] > bestp) {
            bestp = p[k];
            best = k;
        }
    prev = p[best - 1];
    double a = prev, b = p[best], c = p[best + 1];
    double shift = 0.5 * (a - c) / (a - 2.0 * b + c);
    free(p);
    return ((double)best + shift) * rate / (double)n;
}

START_TEST(resampling_keeps_frequency)
{
    size_t n = 4000;
    loom_matrix x, y;
    ck_assert_int_eq(loom_matrix_init(&x, n, 1), LOOM_OK);
    for (size_t i = 0; i < n; i++)
        *loom_at(&x, i, 0) = 0.5 * sin(2.0 * PI * 441.0 * (double)i / 22050.0);
    double ratio = 8000.0 / 22050.0;
    size_t m = loom_audio_resampled_frames(n, ratio);
    ck_assert_uint_eq(m, 1451);
    ck_assert_int_eq(loom_matrix_init(&y, m, 1), LOOM_OK);
    ck_assert_int_eq(loom_audio_resample(&y, &x, ratio, 0), LOOM_OK);
    /* Away from the ends, the output is the same sine sampled at 8 kHz (to float precision,
     * allowing the converter's group delay of a fraction of a sample: none for sinc). */
    double worst = 0.0;
    for (size_t i = 100; i + 100 < m; i++) {
        double want = 0.5 * sin(2.0 * PI * 441.0 * (double)i / 8000.0);
        double d = fabs(*loom_at(&y, i, 0) - want);
        worst = d > worst ? d : worst;
    }
    ck_assert_msg(worst < 1e-3, "resampled sine off by %g", worst);
    ck_assert(fabs(peak_frequency(y.data + 100, 1024, 8000.0) - 441.0) < 2.0);
    ck_assert_int_eq(loom_audio_resample(&y, &x, 0.5, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_audio_resample(&y, &x, ratio, 7), LOOM_EARG);
    loom_matrix_release(&x);
    loom_matrix_release(&y);
}
END_TEST

/* Every allocation of a feature computation may fail; none leaks, none crashes. */
START_TEST(features_survive_allocation_failures)
{
    size_t n = 3000;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = sin(0.01 * (double)i * (double)(i % 17));
    loom_audio_options o;
    loom_audio_options_default(&o, LOOM_AUDIO_MFCC, 8000);
    size_t rows, cols;
    ck_assert_int_eq(loom_audio_feature_shape(&rows, &cols, n, LOOM_AUDIO_MFCC, &o), LOOM_OK);
    loom_matrix out;
    ck_assert_int_eq(loom_matrix_init(&out, rows, cols), LOOM_OK);
    int failures = 0;
    for (uint64_t k = 1; k < 40; k++) {
        loom_alloc_stats before = loom_alloc_get_stats();
        loom_alloc_fail_after(k);
        loom_status st = loom_audio_features(&out, x, 1, n, LOOM_AUDIO_MFCC, &o);
        loom_alloc_fail_after(0);
        loom_alloc_stats after = loom_alloc_get_stats();
        ck_assert_int_eq(after.live_blocks, before.live_blocks);
        ck_assert(st == LOOM_OK || st == LOOM_ENOMEM);
        failures += st == LOOM_ENOMEM;
    }
    ck_assert_int_ge(failures, 4);
    loom_matrix_release(&out);
    free(x);
}
END_TEST

static Suite *audio_suite(void)
{
    Suite *s = suite_create("audio");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, window_matches_closed_forms);
    tcase_add_test(tc, mel_scale);
    tcase_add_test(tc, melbank_matches_naive);
    tcase_add_test(tc, fft_power_matches_naive_dft);
    tcase_add_test(tc, dct_matches_naive);
    tcase_add_test(tc, framing_and_reflection);
    tcase_add_test(tc, deltas_match_formulas);
    tcase_add_test(tc, cmvn_normalises);
    tcase_add_test(tc, file_round_trips);
    tcase_add_test(tc, resampling_keeps_frequency);
    tcase_add_test(tc, features_survive_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(audio_suite());
}
