/* kernel.h: what the core's .c files share and nothing outside the core sees: the
 * vectorisation macros, copies that accept empty (NULL) storage, and status + message. */
#ifndef LOOM_KERNEL_H
#define LOOM_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
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
/* Hot loops are compiled for AVX-512, AVX2 and the baseline, and the loader picks one (GNU
 * ifunc). Results do not depend on the choice: each loop fixes its order of operations
 * and nothing is reassociated. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__)
#define LOOM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LOOM_CLONES
#endif
/* glibc's math.h declares exp's vector variants only under -ffast-math; declaring them
 * lets the loops call libmvec (CMakeLists.txt links it). */
#if defined(LOOM_LIBMVEC) && defined(LOOM_OMP_SIMD)
#pragma omp declare simd notinbranch
double exp(double x);
#pragma omp declare simd notinbranch
float expf(float x); /* the float32 gate kernels (rnn.c) */
#endif

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
