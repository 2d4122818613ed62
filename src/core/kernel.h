/* kernel.h: what the core's .c files share and nothing outside the core sees: the
 * vectorisation macros, copies that accept empty (NULL) storage, and status + message. */
#ifndef LOOM_KERNEL_H
#define LOOM_KERNEL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loom.h"

/* `omp simd` (with -fopenmp-simd, see CMakeLists.txt) vectorises a loop without runtime
 * overlap checks: each marked loop reads and writes element j only at step j. */
#if defined(LOOM_OMP_SIMD)
#define LOOM_SIMD _Pragma("omp simd")
#else
#define LOOM_SIMD
#endif
/* GCC vectorises the max/min loop with two reductions; clang cannot and warns. */
#if defined(LOOM_OMP_SIMD) && !defined(__clang__)
#define LOOM_PRAGMA(text) _Pragma(#text)
#define LOOM_SIMD_REDUCE2(op1, var1, op2, var2) \
    LOOM_PRAGMA(omp simd reduction(op1 : var1) reduction(op2 : var2))
#else
#define LOOM_SIMD_REDUCE2(op1, var1, op2, var2)
#endif
/* Loops without `omp simd` that are still worth vectorising at -O2, whose very-cheap cost
 * model skips loops of unknown length. GCC takes the hint per function. */
#if defined(__GNUC__) && !defined(__clang__)
#define LOOM_VECTORISE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define LOOM_VECTORISE
#endif
/* Hot loops are compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 with FMA) and the
 * baseline, and the loader picks one (GNU ifunc). Results do not depend on the choice:
 * each loop fixes its order of operations, nothing is reassociated or contracted, and the
 * fused multiply-adds written as fma() round once on every level (an instruction on v3 and
 * v4, glibc's exact fma on the baseline). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__)
#define LOOM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOOM_CLONES
#endif
/* glibc's math.h declares exp's vector variants only under -ffast-math; declaring them
 * lets the loops call libmvec (CMakeLists.txt links it). */
#if defined(LOOM_LIBMVEC) && defined(LOOM_OMP_SIMD)
#pragma omp declare simd notinbranch
double exp(double x);
#pragma omp declare simd notinbranch
float expf(float x); /* map("exp") on float32 matrices (matrix.c) */
#endif

/* Forced inlining: the loops calling these vectorise only once they are inlined, and GCC's
 * size heuristics may decline to inline a function of a dozen fma() calls on its own. */
#if defined(__GNUC__)
#define LOOM_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define LOOM_ALWAYS_INLINE static inline
#endif

/* ---- exp, sigmoid and tanh for vectorised loops (the recurrent gate kernels) ----
 * Branch-free: every lane runs the same instructions, so GCC vectorises a loop calling them
 * on AVX2 as well as AVX-512 (libm's exp keeps a branch under trapping math and needs
 * libmvec). The order of operations is fixed; the polynomials' Horner steps and exp's
 * range reduction are explicit fma() (one rounding, one instruction where the clone has
 * FMA) and nothing else is contracted (ISO C mode), so the scalar, AVX2 and AVX-512
 * versions give bitwise the same results.
 * tests/c/check_rnn.c measures them against libm: exp within 1 ulp, tanh within 8 ulps,
 * sigmoid within 3 ulps of 1 / (1 + exp(-x)) in long double; the same bounds for float.
 *
 * exp(x) = 2^n exp(r): n = x / ln 2 rounded (adding and subtracting 1.5 * 2^52 rounds to
 * an integer, whose low bits are then n), r = x - n ln 2 in two parts (Cody and Waite, the
 * high part has 20 trailing zero bits so n * LN2_HI is exact), |r| <= 0.35, exp(r) by its
 * Taylor series to r^13 (truncation < 1e-17). 2^n is applied as 2^n1 * 2^n2 (n1 + n2 = n,
 * both normal exponents), so results down to the subnormals and overflow to inf are right.
 * x is clamped to [-746, 710], outside which exp is 0 or inf anyway; NaN stays NaN. */
LOOM_ALWAYS_INLINE double loom_pow2i(double n) /* 2^n for an integer-valued n in [-1022, 1023] */
{
    double k = n + 0x1.8p52;
    uint64_t bits;
    memcpy(&bits, &k, sizeof bits);
    bits = (bits << 52) + ((uint64_t)1023 << 52);
    double p;
    memcpy(&p, &bits, sizeof p);
    return p;
}

LOOM_ALWAYS_INLINE double loom_exp(double x)
{
    x = x < -746.0 ? -746.0 : x;
    x = x > 710.0 ? 710.0 : x;
    double n = fma(x, 1.4426950408889634, 0x1.8p52) - 0x1.8p52;
    double r = fma(n, -1.90821492927058770002e-10, fma(n, -6.93147180369123816490e-01, x));
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0);
    p = fma(p, r, 1.0 / 39916800.0);
    p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0);
    p = fma(p, r, 1.0 / 40320.0);
    p = fma(p, r, 1.0 / 5040.0);
    p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    p = 1.0 + fma(r * r, p, r);
    double n1 = (n * 0.5 + 0x1.8p52) - 0x1.8p52;
    return p * loom_pow2i(n1) * loom_pow2i(n - n1);
}

/* The same for float: n from 1.5 * 2^23, LN2_HI with 11 trailing zero bits, Taylor to r^7,
 * x clamped to [-104, 89]. */
LOOM_ALWAYS_INLINE float loom_pow2if(float n) /* 2^n for an integer-valued n in [-126, 127] */
{
    float k = n + 0x1.8p23f;
    uint32_t bits;
    memcpy(&bits, &k, sizeof bits);
    bits = (bits << 23) + ((uint32_t)127 << 23);
    float p;
    memcpy(&p, &bits, sizeof p);
    return p;
}

LOOM_ALWAYS_INLINE float loom_expf(float x)
{
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float n = fmaf(x, 1.44269504f, 0x1.8p23f) - 0x1.8p23f;
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, x));
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = 1.0f + fmaf(r * r, p, r);
    float n1 = (n * 0.5f + 0x1.8p23f) - 0x1.8p23f;
    return p * loom_pow2if(n1) * loom_pow2if(n - n1);
}

LOOM_ALWAYS_INLINE double loom_sigmoid(double x)
{
    return 1.0 / (1.0 + loom_exp(-x));
}

LOOM_ALWAYS_INLINE float loom_sigmoidf(float x)
{
    return 1.0f / (1.0f + loom_expf(-x));
}

/* tanh: the odd Taylor series to x^23 below |x| = 1/4 (truncation < 1e-18), 1 - 2 / (exp(2|x|)
 * + 1) above (exactly 1 past |x| = 20, so the exp argument is capped there); both sides are
 * computed and one is picked. NaN stays NaN. */
LOOM_ALWAYS_INLINE double loom_tanh(double x)
{
    double a = x < 0.0 ? -x : x;
    double z = x * x;
    double p = -113927491862.0 / 2900518163668125.0;
    p = fma(p, z, 18888466084.0 / 194896477400625.0);
    p = fma(p, z, -(443861162.0 / 1856156927625.0));
    p = fma(p, z, 6404582.0 / 10854718875.0);
    p = fma(p, z, -(929569.0 / 638512875.0));
    p = fma(p, z, 21844.0 / 6081075.0);
    p = fma(p, z, -(1382.0 / 155925.0));
    p = fma(p, z, 62.0 / 2835.0);
    p = fma(p, z, -(17.0 / 315.0));
    p = fma(p, z, 2.0 / 15.0);
    p = fma(p, z, -(1.0 / 3.0));
    double small = fma(x * z, p, x);
    double big = 1.0 - 2.0 / (loom_exp(2.0 * (a > 20.0 ? 20.0 : a)) + 1.0);
    big = x < 0.0 ? -big : big;
    return a < 0.25 ? small : big;
}

/* Float: the series to x^11 below |x| = 1/4, capped at |x| = 10 above. */
LOOM_ALWAYS_INLINE float loom_tanhf(float x)
{
    float a = x < 0.0f ? -x : x;
    float z = x * x;
    float p = 62.0f / 2835.0f;
    p = fmaf(p, z, -(17.0f / 315.0f));
    p = fmaf(p, z, 2.0f / 15.0f);
    p = fmaf(p, z, -(1.0f / 3.0f));
    float small = fmaf(x * z, p, x);
    float big = 1.0f - 2.0f / (loom_expf(2.0f * (a > 10.0f ? 10.0f : a)) + 1.0f);
    big = x < 0.0f ? -big : big;
    return a < 0.25f ? small : big;
}

#if defined(__GNUC__)
#define LOOM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LOOM_PRINTF(fmt, args)
#endif

/* memcpy and memset with a byte count that may be 0: an empty matrix's data is NULL, and
 * memcpy(dst, NULL, 0) is undefined behaviour (UBSan aborts on it). */
static inline void loom_copy_bytes(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
}
static inline void loom_move_bytes(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memmove(dst, src, bytes);
}
static inline void loom_zero_bytes(void *dst, size_t bytes)
{
    if (bytes)
        memset(dst, 0, bytes);
}

/* Write the formatted message into error (size bytes; error may be NULL) and return st:
 * the one way a core function reports a status with text. */
loom_status loom_fail(char *error, size_t size, loom_status st, const char *fmt, ...)
    LOOM_PRINTF(4, 5);
loom_status loom_failv(char *error, size_t size, loom_status st, const char *fmt, va_list ap)
    LOOM_PRINTF(4, 0);

#endif
