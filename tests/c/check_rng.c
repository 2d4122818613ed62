/* check_rng.c: xoshiro256** seeded by splitmix64 against outputs of an independent Python
 * implementation, and the distributions built on it. Not a statistical test battery. */
#include "testutil.h"

/* First outputs of splitmix64 seeding + xoshiro256**, computed once with a separate
 * Python implementation of both algorithms (see docs/matrix.md, "Random numbers"). */
START_TEST(test_known_outputs)
{
    const struct {
        uint64_t seed;
        uint64_t state[4];
        uint64_t out[5];
    } known[] = {
        {42,
         {0xbdd732262feb6e95ULL, 0x28efe333b266f103ULL, 0x47526757130f9f52ULL, 0x581ce1ff0e4ae394ULL},
         {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL,
          0xfde6dc7fe2ec5e64ULL}},
        {0,
         {0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f4ULL, 0x06c45d188009454fULL, 0xf88bb8a8724c81ecULL},
         {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL,
          0xbba5ad4a1f842e59ULL}},
        {12345,
         {0x22118258a9d111a0ULL, 0x346edce5f713f8edULL, 0x1e9a57bc80e6721dULL, 0x2d160e7e5c3f42caULL},
         {0xbe6a36374160d49bULL, 0x214aaa0637a688c6ULL, 0xf69d16de9954d388ULL, 0x0c60048c4e96e033ULL,
          0x8e2076aeed51c648ULL}},
    };
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        loom_rng rng;
        loom_rng_seed(&rng, known[k].seed);
        for (int i = 0; i < 4; i++)
            ck_assert_uint_eq(rng.s[i], known[k].state[i]);
        for (int i = 0; i < 5; i++)
            ck_assert_msg(loom_rng_next(&rng) == known[k].out[i], "seed %llu output %d",
                          (unsigned long long)known[k].seed, i);
    }
    /* uniform() is the top 53 bits over 2^53: seed 42 gives these (same Python). */
    loom_rng rng;
    loom_rng_seed(&rng, 42);
    ck_assert(loom_rng_uniform(&rng) == 0.08386297105988216);
    ck_assert(loom_rng_uniform(&rng) == 0.3789802506626686);
    ck_assert(loom_rng_uniform(&rng) == 0.6800434110281394);
}
END_TEST

START_TEST(test_uniform_range)
{
    loom_rng rng;
    loom_rng_seed(&rng, 1);
    double sum = 0, lo = 1, hi = 0;
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        double u = loom_rng_uniform(&rng);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    ck_assert_msg(fabs(sum / N - 0.5) < 0.005, "mean %g", sum / N);
    ck_assert(lo < 1e-4 && hi > 1 - 1e-4);
    /* The extremes of the mapping: all-zero and all-one top bits. */
    ck_assert((double)(UINT64_MAX >> 11) * 0x1.0p-53 < 1.0);
}
END_TEST

START_TEST(test_normal_moments)
{
    loom_rng rng;
    loom_rng_seed(&rng, 2);
    enum { N = 200000 };
    double sum = 0, sq = 0, cube = 0, quart = 0;
    for (int i = 0; i < N; i++) {
        double x = loom_rng_normal(&rng);
        ck_assert(isfinite(x));
        sum += x;
        sq += x * x;
        cube += x * x * x;
        quart += x * x * x * x;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    /* Standard errors at N = 2e5: mean 0.0022, variance 0.0032, skew 0.0055, kurtosis 0.011. */
    ck_assert_msg(fabs(mean) < 0.012, "mean %g", mean);
    ck_assert_msg(fabs(var - 1) < 0.016, "variance %g", var);
    ck_assert_msg(fabs(cube / N) < 0.03, "third moment %g", cube / N);
    ck_assert_msg(fabs(quart / N - 3) < 0.1, "fourth moment %g", quart / N);
}
END_TEST

START_TEST(test_below)
{
    loom_rng rng;
    loom_rng_seed(&rng, 3);
    ck_assert_uint_eq(loom_rng_below(&rng, 0), 0);
    ck_assert_uint_eq(loom_rng_below(&rng, 1), 0);
    /* Every value of a small range appears about equally often. */
    enum { N = 60000, K = 6 };
    int counts[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t v = loom_rng_below(&rng, K);
        ck_assert_uint_lt(v, K);
        counts[v]++;
    }
    double chi2 = 0;
    for (int k = 0; k < K; k++)
        chi2 += (counts[k] - N / K) * (double)(counts[k] - N / K) / (N / K);
    ck_assert_msg(chi2 < 20.5, "chi2 %g with 5 degrees of freedom", chi2); /* p = 0.001 */
    /* n = 3/4 of 2^64: plain modulo would put 5/8 of the draws in the lower half, not 1/2. */
    uint64_t n = ((uint64_t)1 << 63) + ((uint64_t)1 << 62);
    int low = 0;
    for (int i = 0; i < 3000; i++) {
        uint64_t v = loom_rng_below(&rng, n);
        ck_assert_uint_lt(v, n);
        low += v < n / 2;
    }
    ck_assert_msg(low > 1300 && low < 1700, "%d of 3000 in the lower half", low);
    ck_assert_uint_lt(loom_rng_below(&rng, UINT64_MAX), UINT64_MAX);
}
END_TEST

START_TEST(test_shuffle)
{
    loom_rng rng;
    loom_rng_seed(&rng, 4);
    enum { N = 257 };
    size_t items[N];
    int first_moved = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (size_t i = 0; i < N; i++)
            items[i] = i;
        loom_rng_shuffle(&rng, items, N);
        int seen[N] = {0};
        for (size_t i = 0; i < N; i++) {
            ck_assert_uint_lt(items[i], N);
            ck_assert_int_eq(seen[items[i]]++, 0);
        }
        first_moved += items[0] != 0;
    }
    ck_assert_int_ge(first_moved, 18);
    loom_rng_shuffle(&rng, items, 0);
    loom_rng_shuffle(&rng, items, 1);
    /* Each of the 6 orders of 3 items comes up. */
    int orders[6] = {0};
    for (int trial = 0; trial < 6000; trial++) {
        size_t three[3] = {0, 1, 2};
        loom_rng_shuffle(&rng, three, 3);
        orders[three[0] * 2 + (three[1] > three[2])]++;
    }
    for (int k = 0; k < 6; k++)
        ck_assert_msg(orders[k] > 850 && orders[k] < 1150, "order %d came %d times", k, orders[k]);
}
END_TEST

START_TEST(test_reseed_reproducible)
{
    loom_rng a, b;
    loom_rng_seed(&a, 99);
    for (int i = 0; i < 10; i++)
        loom_rng_next(&a);
    loom_rng_seed(&a, 99);
    loom_rng_seed(&b, 99);
    for (int i = 0; i < 100; i++)
        ck_assert(loom_rng_normal(&a) == loom_rng_normal(&b));
    loom_rng_seed(&b, 100);
    ck_assert(loom_rng_next(&a) != loom_rng_next(&b));
}
END_TEST

static Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("xoshiro256**");
    tcase_add_test(tc, test_known_outputs);
    tcase_add_test(tc, test_uniform_range);
    tcase_add_test(tc, test_normal_moments);
    tcase_add_test(tc, test_below);
    tcase_add_test(tc, test_shuffle);
    tcase_add_test(tc, test_reseed_reproducible);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(rng_suite());
}
