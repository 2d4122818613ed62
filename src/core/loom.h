/* loom.h: the engine's shared names: status codes, the allocation wrapper, the random
 * generator and the dense matrix. Not Lua: nothing here includes lua.h or prints. */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

/* ---- status codes: every fallible core function returns one ---- */
typedef enum loom_status {
    LOOM_OK = 0,
    LOOM_EDIM,       /* shapes do not fit together */
    LOOM_ENOMEM,     /* an allocation failed (or was refused by injection) */
    LOOM_ESINGULAR,  /* a matrix is exactly singular (LAPACK info > 0) */
    LOOM_ENOTPD,     /* a matrix is not positive definite */
    LOOM_EARG,       /* an argument is out of range */
    LOOM_ERANGE,     /* an index or size is out of the representable range (BLAS int) */
    LOOM_EIO,        /* reading or writing a file failed */
    LOOM_EFORMAT,    /* a file or string is malformed */
    LOOM_ENOCONV,    /* an iterative method did not converge */
    LOOM_ELAPACK     /* LAPACK reported an illegal argument (a bug in loom) */
} loom_status;

const char *loom_strerror(loom_status status);

/* ---- allocation: every byte the engine owns goes through these ---- */
/* Blocks are 64-byte aligned. loom_free(NULL) is a no-op. */
void *loom_malloc(size_t bytes);
void *loom_calloc(size_t count, size_t size); /* zeroed; NULL on overflow */
void *loom_realloc(void *block, size_t bytes);
void loom_free(void *block);

/* Counters for tests and benchmarks: allocations made and blocks still live. */
typedef struct loom_alloc_stats {
    uint64_t allocations; /* successful loom_malloc/calloc/realloc calls since start */
    uint64_t frees;
    int64_t live_blocks;
    int64_t live_bytes;
} loom_alloc_stats;
loom_alloc_stats loom_alloc_get_stats(void);
/* Fail the allocation that comes `countdown` allocations from now (1 = the next one);
 * 0 disables injection. Only that one allocation fails. */
void loom_alloc_fail_after(uint64_t countdown);

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */
typedef struct loom_rng {
    uint64_t s[4];
} loom_rng;

void loom_rng_seed(loom_rng *rng, uint64_t seed);
uint64_t loom_rng_next(loom_rng *rng);
double loom_rng_uniform(loom_rng *rng);                /* [0, 1) with 53 random bits */
double loom_rng_normal(loom_rng *rng);                 /* N(0, 1), Box-Muller, one pair per call */
uint64_t loom_rng_below(loom_rng *rng, uint64_t n);    /* uniform integer in [0, n), unbiased */
void loom_rng_shuffle(loom_rng *rng, size_t *items, size_t n); /* Fisher-Yates */

/* ---- dense row-major matrices ---- */
/* The element type of a matrix. float64 is the default (a zeroed struct is float64);
 * float32 is for training and inference, never for solvers or gradient checks. */
typedef enum loom_dtype { LOOM_F64 = 0, LOOM_F32 = 1 } loom_dtype;
const char *loom_dtype_name(loom_dtype dtype);    /* "float64", "float32" */
int loom_dtype_from_name(const char *name);       /* -1 when unknown */
static inline size_t loom_dtype_size(loom_dtype dtype)
{
    return dtype == LOOM_F32 ? sizeof(float) : sizeof(double);
}

/* Element (i, j), 0-based, lives at data[i * ld + j] (data32 for float32). A view shares
 * another matrix's storage (block == NULL) and never frees it; its owner must outlive it.
 * Functions dispatch on dtype once at their entry; operands of one operation share a
 * dtype (LOOM_EARG otherwise) unless the function says it converts. Initialise with
 * designated initializers: positional ones miss dtype. */
typedef struct loom_matrix {
    union {
        double *data;  /* float64 storage */
        float *data32; /* float32 storage */
    };
    size_t rows, cols;
    size_t ld;   /* row stride in elements, >= cols (>= 1) */
    void *block; /* the owned allocation, or NULL for a view or an empty matrix */
    loom_dtype dtype;
} loom_matrix;

/* The largest number of rows or of columns a matrix may have (the BLAS integer range and
 * Lua's 2^53 integer doubles both hold any index below it). */
#define LOOM_MAX_DIM ((size_t)2147483647)

/* Allocate rows x cols zeros into *m (which is overwritten, not freed). 0 x n is allowed;
 * LOOM_ERANGE when rows or cols exceeds LOOM_MAX_DIM. */
loom_status loom_matrix_init(loom_matrix *m, size_t rows, size_t cols);
/* The same without zeroing: for results that overwrite every element (saves a pass). */
loom_status loom_matrix_init_uninit(loom_matrix *m, size_t rows, size_t cols);
/* The same two for any dtype. */
loom_status loom_matrix_init_dtype(loom_matrix *m, size_t rows, size_t cols, loom_dtype dtype);
loom_status loom_matrix_init_uninit_dtype(loom_matrix *m, size_t rows, size_t cols,
                                          loom_dtype dtype);
/* Free what *m owns and leave it empty (0 x 0); safe to call twice. */
void loom_matrix_release(loom_matrix *m);
/* A view of rows r0..r0+rows-1 and columns c0..c0+cols-1 of *src; LOOM_EDIM when out of range. */
loom_status loom_matrix_view(loom_matrix *view, const loom_matrix *src, size_t r0, size_t c0,
                             size_t rows, size_t cols);
/* A view of *src with another shape; needs src contiguous (ld == cols) and the same size. */
loom_status loom_matrix_reshape_view(loom_matrix *view, const loom_matrix *src, size_t rows,
                                     size_t cols);
/* Wrap caller-owned contiguous storage. */
loom_matrix loom_matrix_wrap(double *data, size_t rows, size_t cols);
loom_matrix loom_matrix_wrap_f32(float *data, size_t rows, size_t cols);

/* Element pointers: loom_at for float64 matrices, loom_at32 for float32 ones. */
static inline double *loom_at(const loom_matrix *m, size_t i, size_t j)
{
    return m->data + i * m->ld + j;
}
static inline float *loom_at32(const loom_matrix *m, size_t i, size_t j)
{
    return m->data32 + i * m->ld + j;
}
/* One element as a double, and a double stored (rounded for float32): for the slow
 * paths that do not care about the type (printing, Lua tables, tests). */
static inline double loom_get(const loom_matrix *m, size_t i, size_t j)
{
    return m->dtype == LOOM_F32 ? (double)*loom_at32(m, i, j) : *loom_at(m, i, j);
}
static inline void loom_put(loom_matrix *m, size_t i, size_t j, double v)
{
    if (m->dtype == LOOM_F32)
        *loom_at32(m, i, j) = (float)v;
    else
        *loom_at(m, i, j) = v;
}
static inline int loom_same_shape(const loom_matrix *a, const loom_matrix *b)
{
    return a->rows == b->rows && a->cols == b->cols;
}
static inline int loom_is_contiguous(const loom_matrix *m)
{
    return m->ld == m->cols || m->rows <= 1;
}
static inline size_t loom_numel(const loom_matrix *m)
{
    return m->rows * m->cols;
}

/* out = src elementwise (same shapes; out and src may be views). The one function that
 * converts: when the dtypes differ each value is rounded to out's type. */
loom_status loom_matrix_copy(loom_matrix *out, const loom_matrix *src);
/* out = src^T; out is cols x rows and must not overlap src. */
loom_status loom_matrix_transpose(loom_matrix *out, const loom_matrix *src);
void loom_matrix_fill(loom_matrix *m, double value);
void loom_matrix_eye(loom_matrix *m); /* ones on the diagonal, zeros elsewhere; any shape */
void loom_matrix_rand(loom_matrix *m, loom_rng *rng);  /* U[0, 1) */
void loom_matrix_randn(loom_matrix *m, loom_rng *rng); /* N(0, 1) */

/* Binary elementwise operations. b either has out's shape or broadcasts: 1 x cols
 * (one row for every row), rows x 1 (one column for every column) or 1 x 1. a has
 * out's shape. out may alias a or b. */
typedef enum loom_binop {
    LOOM_ADD, LOOM_SUB, LOOM_MUL, LOOM_DIV, LOOM_POW, LOOM_MAX, LOOM_MIN
} loom_binop;
loom_status loom_matrix_binop(loom_matrix *out, const loom_matrix *a, loom_binop op,
                              const loom_matrix *b);
/* out = a op s, or s op a when scalar_first. */
loom_status loom_matrix_binop_scalar(loom_matrix *out, const loom_matrix *a, loom_binop op,
                                     double s, int scalar_first);
/* out += alpha * a (shapes equal): the in-place axpy of hot loops. */
loom_status loom_matrix_axpy(loom_matrix *out, double alpha, const loom_matrix *a);

typedef enum loom_unop {
    LOOM_NEG, LOOM_EXP, LOOM_LOG, LOOM_TANH, LOOM_SIGMOID, LOOM_RELU, LOOM_ABS, LOOM_SQRT,
    LOOM_SQUARE, LOOM_SIN, LOOM_COS, LOOM_LOG1P, LOOM_EXPM1, LOOM_FLOOR, LOOM_CEIL,
    LOOM_ROUND, LOOM_SIGN, LOOM_RECIPROCAL, LOOM_UNOP_COUNT
} loom_unop;
/* Name of a unary op ("exp", ...) and the reverse lookup (-1 when unknown). */
const char *loom_unop_name(loom_unop op);
int loom_unop_from_name(const char *name);
double loom_unop_apply1(loom_unop op, double x); /* the naive reference of loom_matrix_map */
/* out = op(src) elementwise; same shapes, may alias. */
loom_status loom_matrix_map(loom_matrix *out, const loom_matrix *src, loom_unop op);

/* Reductions. dim 0: over everything into a 1 x 1 out; dim 1: over rows, out is 1 x cols;
 * dim 2: over columns, out is rows x 1. Sums are pairwise (error O(log n) ulps). */
typedef enum loom_reduce {
    LOOM_SUM, LOOM_MEAN, LOOM_MAXV, LOOM_MINV, LOOM_ARGMAX, LOOM_ARGMIN
} loom_reduce;
/* Arg reductions store 1-based indices (as doubles); for dim 0 the row-major linear index.
 * Empty inputs: SUM gives 0, the others LOOM_EDIM. NaN wins max/min (like numpy). */
loom_status loom_matrix_reduce(loom_matrix *out, const loom_matrix *src, loom_reduce op, int dim);
/* Frobenius norm without overflow or underflow (scaled sum of squares). */
double loom_matrix_norm(const loom_matrix *m);
/* |a - b| <= atol + rtol * |b| everywhere (NaNs never close); shapes must match. */
int loom_matrix_allclose(const loom_matrix *a, const loom_matrix *b, double rtol, double atol);

/* out = [parts[0] parts[1] ...] side by side (same rows), or stacked (same cols). */
loom_status loom_matrix_hcat(loom_matrix *out, const loom_matrix *parts, size_t count);
loom_status loom_matrix_vcat(loom_matrix *out, const loom_matrix *parts, size_t count);
/* out row k = src row idx[k] (0-based); out is count x src->cols. */
loom_status loom_matrix_gather_rows(loom_matrix *out, const loom_matrix *src, const size_t *idx,
                                    size_t count);

/* ---- CSV ---- */
typedef struct loom_csv_options {
    int header;   /* first line holds column names */
    int rownames; /* first column holds labels, not numbers */
    char sep;     /* ',' by default */
    size_t max_bytes; /* refuse files whose (decompressed) text is longer; 0: the default */
} loom_csv_options;

/* The default cap on a CSV's text: 1 GiB (a gzip file can hold a thousand times its size). */
#define LOOM_CSV_MAX_BYTES ((size_t)1 << 30)

typedef struct loom_csv {
    loom_matrix values;  /* rows x cols, owned */
    char **names;        /* name_count column names (header) or NULL; owned */
    size_t name_count;
    char **rownames;     /* rows labels or NULL; owned */
    char error[256];     /* "line:field: message" when a load failed */
} loom_csv;

/* Read a CSV (gzip-compressed when it is) of numbers. A UTF-8 byte order mark before the
 * first line is skipped. A gzip stream that ends early (a truncated file, no CRC trailer)
 * or fails its CRC is LOOM_EFORMAT, never a shorter table; text beyond max_bytes is
 * LOOM_ERANGE. On any error the message is in out->error and nothing is left allocated. */
loom_status loom_csv_read(loom_csv *out, const char *path, const loom_csv_options *options);

/* The same parse of text already in memory (len bytes, no NUL needed): what loom_csv_read
 * runs on a file's text; text longer than max_bytes is LOOM_ERANGE. */
loom_status loom_csv_parse(loom_csv *out, const char *text, size_t len, const loom_csv_options *options);

/* The whole file at path (plain, or gzip and then decompressed) into a new buffer *out of
 * *len bytes plus a NUL; the caller frees it with loom_free. A gzip stream that stops early
 * (truncated, or without its CRC trailer) or fails its CRC is LOOM_EFORMAT; more than
 * max_bytes of text (0: no limit) is LOOM_ERANGE. The reader behind loom_csv_read. */
loom_status loom_read_text(const char *path, size_t max_bytes, char **out, size_t *len,
                           char *error, size_t error_size);
void loom_csv_release(loom_csv *csv);

#endif
