/* safetensors.h: reading and writing safetensors files (8-byte little-endian header length,
 * JSON header, raw little-endian C-order data) as double matrices. Not Lua, not checkpoints. */
#ifndef LOOM_SAFETENSORS_H
#define LOOM_SAFETENSORS_H

#include "loom.h"

/* The element types loom reads and writes; everything converts to and from double. */
typedef enum loom_st_dtype {
    LOOM_DT_F64, LOOM_DT_F32, LOOM_DT_F16, LOOM_DT_BF16, LOOM_DT_I64, LOOM_DT_I32,
    LOOM_DT_I16, LOOM_DT_I8, LOOM_DT_U8, LOOM_DT_BOOL, LOOM_DT_COUNT
} loom_st_dtype;

/* "F64", ...; and the reverse (-1 when unknown). */
const char *loom_st_dtype_name(loom_st_dtype dtype);
int loom_st_dtype_from_name(const char *name);
size_t loom_st_dtype_size(loom_st_dtype dtype); /* bytes per element */

#define LOOM_ST_MAX_DIMS 32                  /* more dimensions are refused */
#define LOOM_ST_MAX_HEADER 100000000ULL      /* header bytes; as the reference implementation */
#define LOOM_ST_MAX_ELEMENTS (1ULL << 53)    /* a tensor's element count (JSON-exact integers) */

/* How a tensor of any rank becomes a matrix: 0-D is 1 x 1, 1-D (n) is n x 1, 2-D is itself,
 * k-D is shape[0] x (product of the rest). The true shape is kept beside it. */
void loom_st_matrix_shape(size_t ndim, const uint64_t *shape, size_t *rows, size_t *cols);

/* One tensor of a loaded file. */
typedef struct loom_st_tensor {
    char *name;                        /* owned, NUL-terminated UTF-8 */
    loom_st_dtype dtype;                  /* as stored in the file */
    size_t ndim;
    uint64_t shape[LOOM_ST_MAX_DIMS];  /* ndim dimensions */
    uint64_t begin, end;               /* data_offsets, relative to the data section */
    loom_matrix values;                /* owned (see loom_st_matrix_shape): float32 for F32
                                          tensors, bits as stored; float64 for the others */
} loom_st_tensor;

/* A loaded file: tensors in header order, metadata in header order. */
typedef struct loom_safetensors {
    loom_st_tensor *tensors; /* owned, count of them */
    size_t count;
    char **meta_keys;        /* owned, meta_count strings each */
    char **meta_values;
    size_t meta_count;
    char error[256];         /* why a read failed (without the path) */
} loom_safetensors;

/* Read a file. Every header field is checked before it sizes anything: header length
 * against the file size and LOOM_ST_MAX_HEADER, UTF-8, JSON, types, duplicate names,
 * dtypes, shape overflow, offsets inside the data and covering it exactly, no overlaps.
 * On failure (LOOM_EIO, LOOM_EFORMAT, LOOM_ENOMEM) out->error says why and nothing is
 * left allocated. */
loom_status loom_safetensors_read(loom_safetensors *out, const char *path);
/* The same from bytes in memory (the fuzzer's entry point). */
loom_status loom_safetensors_parse(loom_safetensors *out, const unsigned char *bytes, size_t size);
/* Free what a read produced; safe twice and on a failed read. */
void loom_safetensors_release(loom_safetensors *st);

/* One tensor to write; everything borrowed for the call. */
typedef struct loom_st_entry {
    const char *name;                  /* NUL-terminated UTF-8, unique */
    loom_st_dtype dtype;
    size_t ndim;
    uint64_t shape[LOOM_ST_MAX_DIMS];  /* its product must equal numel(values) */
    const loom_matrix *values;         /* written row by row (C order); views are fine; either
                                          dtype (a float32 matrix as F32 is bit-exact) */
} loom_st_entry;

/* Write tensors (sorted here by name, the array is reordered) and metadata (written
 * sorted by key, so the same contents give the same bytes) atomically:
 * a temporary file in the same directory, fsync, rename over path, fsync of the directory.
 * A crash leaves the old file or the new one. A symbolic link is written through: the
 * file replaced is the link's target, in the target's directory. Anything there but a
 * regular file (a device such as /dev/null, a fifo, a directory) is refused with
 * LOOM_EIO. Temporary files of earlier saves of the same target left by a kill
 * (<name>.tmpXXXXXX, not locked by a live save) are removed. Integer dtypes need integral values in
 * range (LOOM_EARG otherwise); F32/F16/BF16 round to nearest even. On failure error
 * (error_size bytes) says why and path is untouched. */
loom_status loom_safetensors_write(const char *path, loom_st_entry *entries, size_t count,
                                   const char *const *meta_keys, const char *const *meta_values,
                                   size_t meta_count, char *error, size_t error_size);

/* Element conversions (exposed for the tests): IEEE half and bfloat16 bits <-> double,
 * round to nearest even, NaN stays NaN, overflow becomes infinity. */
double loom_half_to_double(uint16_t bits);
uint16_t loom_double_to_half(double x);
double loom_bf16_to_double(uint16_t bits);
uint16_t loom_double_to_bf16(double x);

#endif
