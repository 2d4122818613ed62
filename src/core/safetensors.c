/* safetensors.c: reads safetensors files defensively into double matrices and writes them
 * atomically. Not Lua (src/bind/safetensors.c) and not checkpoints (lua/loom/checkpoint.lua). */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

/* Data moves between the file and doubles through a buffer of this many bytes. */
#define CHUNK_BYTES 65536

static const struct {
    const char *name;
    size_t size;
} dtypes[LOOM_DT_COUNT] = {
    [LOOM_DT_F64] = {"F64", 8}, [LOOM_DT_F32] = {"F32", 4}, [LOOM_DT_F16] = {"F16", 2},
    [LOOM_DT_BF16] = {"BF16", 2}, [LOOM_DT_I64] = {"I64", 8}, [LOOM_DT_I32] = {"I32", 4},
    [LOOM_DT_I16] = {"I16", 2}, [LOOM_DT_I8] = {"I8", 1}, [LOOM_DT_U8] = {"U8", 1},
    [LOOM_DT_BOOL] = {"BOOL", 1},
};

const char *loom_st_dtype_name(loom_st_dtype dtype)
{
    return (unsigned)dtype < LOOM_DT_COUNT ? dtypes[dtype].name : "?";
}

int loom_st_dtype_from_name(const char *name)
{
    for (int i = 0; i < LOOM_DT_COUNT; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return i;
    return -1;
}

size_t loom_st_dtype_size(loom_st_dtype dtype)
{
    return (unsigned)dtype < LOOM_DT_COUNT ? dtypes[dtype].size : 0;
}

void loom_st_matrix_shape(size_t ndim, const uint64_t *shape, size_t *rows, size_t *cols)
{
    uint64_t rest = 1;
    for (size_t k = 1; k < ndim; k++)
        rest *= shape[k];
    *rows = ndim == 0 ? 1 : (size_t)shape[0];
    *cols = ndim == 1 ? 1 : (size_t)rest;
}

/* ---- element conversions ---- */

double loom_half_to_double(uint16_t bits)
{
    int exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    double v;
    if (exponent == 0)
        v = ldexp(mantissa, -24); /* subnormal: mantissa units of 2^-24 */
    else if (exponent == 31)
        v = mantissa ? NAN : INFINITY;
    else
        v = ldexp(mantissa + 1024, exponent - 25);
    return bits & 0x8000 ? -v : v;
}

uint16_t loom_double_to_half(double x)
{
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (isnan(x))
        return sign | 0x7e00;
    if (a >= 65520.0) /* halfway between 65504 (the largest half) and 2^16 rounds up */
        return sign | 0x7c00;
    if (a < 0x1p-14) /* subnormal (or zero); 1024 units is the smallest normal, also right */
        return sign | (uint16_t)nearbyint(a * 0x1p24);
    int e;
    double q = nearbyint(ldexp(frexp(a, &e), 11)); /* 11 significant bits: 1024..2048 */
    int exponent = e - 1 + 15;
    if (q == 2048.0) {
        q = 1024.0;
        exponent++;
    }
    return sign | (uint16_t)(exponent << 10) | (uint16_t)((int)q - 1024);
}

double loom_bf16_to_double(uint16_t bits)
{
    uint32_t wide = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &wide, sizeof f);
    return f;
}

/* Through float, as PyTorch converts float64 to bfloat16. */
uint16_t loom_double_to_bf16(double x)
{
    float f = (float)x;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (isnan(f))
        return (uint16_t)((bits >> 16) | 0x0040);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

/* A two's complement field of width bits as a signed integer. */
static int64_t sign_extend(uint64_t v, unsigned bits)
{
    if (bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~(uint64_t)0 << bits;
    return (int64_t)v;
}

static double decode(const unsigned char *p, loom_st_dtype dtype)
{
    switch (dtype) {
    case LOOM_DT_F64: {
        uint64_t bits = get_le(p, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    case LOOM_DT_F32: {
        uint32_t bits = (uint32_t)get_le(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    case LOOM_DT_F16: return loom_half_to_double((uint16_t)get_le(p, 2));
    case LOOM_DT_BF16: return loom_bf16_to_double((uint16_t)get_le(p, 2));
    case LOOM_DT_I64: return (double)sign_extend(get_le(p, 8), 64);
    case LOOM_DT_I32: return (double)sign_extend(get_le(p, 4), 32);
    case LOOM_DT_I16: return (double)sign_extend(get_le(p, 2), 16);
    case LOOM_DT_I8: return (double)sign_extend(p[0], 8);
    case LOOM_DT_U8: return p[0];
    case LOOM_DT_BOOL: return p[0] != 0;
    case LOOM_DT_COUNT: break;
    }
    return NAN;
}

/* The range of integer dtypes, for the writer's check. */
static int integer_range(loom_st_dtype dtype, double *lo, double *hi)
{
    switch (dtype) {
    case LOOM_DT_I64: *lo = -0x1p63; *hi = 0x1p63; return 1; /* hi exclusive here */
    case LOOM_DT_I32: *lo = -0x1p31; *hi = 0x1p31; return 1;
    case LOOM_DT_I16: *lo = -32768; *hi = 32768; return 1;
    case LOOM_DT_I8: *lo = -128; *hi = 128; return 1;
    case LOOM_DT_U8: *lo = 0; *hi = 256; return 1;
    case LOOM_DT_BOOL: *lo = 0; *hi = 2; return 1;
    default: return 0;
    }
}

/* Encode one value; integer dtypes were range-checked before. */
static void encode(unsigned char *p, double x, loom_st_dtype dtype)
{
    switch (dtype) {
    case LOOM_DT_F64: {
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        put_le(p, bits, 8);
        return;
    }
    case LOOM_DT_F32: {
        float f = (float)x;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        put_le(p, bits, 4);
        return;
    }
    case LOOM_DT_F16: put_le(p, loom_double_to_half(x), 2); return;
    case LOOM_DT_BF16: put_le(p, loom_double_to_bf16(x), 2); return;
    case LOOM_DT_COUNT: return;
    default: put_le(p, (uint64_t)(int64_t)x, dtypes[dtype].size); return;
    }
}

/* ---- errors ---- */

/* loom_fail and loom_failv (kernel.h) write the message; PRINTF_LIKE checks the formats. */
#define PRINTF_LIKE LOOM_PRINTF
#define failv loom_failv

PRINTF_LIKE(3, 4)
static loom_status fail(loom_safetensors *out, loom_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(out->error, sizeof out->error, st, fmt, ap);
    va_end(ap);
    return st;
}

/* "[2, 3]" (truncated with "...]" when long) into buf. */
static const char *format_shape(char *buf, size_t size, const uint64_t *shape, size_t ndim)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (size_t k = 0; k < ndim && n < size; k++) {
        if (n + 24 >= size) {
            snprintf(buf + n, size - n, "...");
            n = strlen(buf);
            break;
        }
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRIu64, k ? ", " : "", shape[k]);
    }
    if (n + 1 < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

static const char *json_kind(const cJSON *item)
{
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    return "an unknown value";
}

/* ---- header text checks ---- */

/* The offset of the first byte that is not UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len when all of it is. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return i;
        }
        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* A NUL byte, raw or escaped as \u0000, would cut a name short in C: refuse both. */
static size_t nul_at(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0')
            return i;
        if (s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
                return i;
            i++; /* the escaped character cannot start another escape */
        }
    }
    return len;
}

static void line_column(const char *s, size_t pos, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

/* Parse the header text (n bytes, NUL-terminated at n) into *root. */
static loom_status parse_json(loom_safetensors *out, const char *text, size_t n, cJSON **root)
{
    size_t bad = utf8_invalid_at((const unsigned char *)text, n);
    if (bad < n)
        return fail(out, LOOM_EFORMAT, "header is not valid UTF-8 (byte %zu of the header)", bad);
    bad = nul_at(text, n);
    if (bad < n)
        return fail(out, LOOM_EFORMAT, "header contains a NUL character (byte %zu of the header)",
                    bad);
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!*root) {
        size_t pos = end && end >= text && end <= text + n ? (size_t)(end - text) : 0, line, col;
        line_column(text, pos, &line, &col);
        return fail(out, LOOM_EFORMAT, "header is not valid JSON (line %zu, column %zu)", line,
                    col);
    }
    if (!cJSON_IsObject(*root))
        return fail(out, LOOM_EFORMAT, "header is %s, expected a JSON object", json_kind(*root));
    return LOOM_OK;
}

/* ---- header structure ---- */

/* A JSON number that is an integer in [0, 2^53] (exact in a double). */
static int json_count(const cJSON *item, uint64_t *value)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 0x1p53 && v == floor(v)))
        return 0;
    *value = (uint64_t)v;
    return 1;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s);
    char *d = loom_malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static loom_status read_metadata(loom_safetensors *out, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return fail(out, LOOM_EFORMAT, "'__metadata__' is %s, expected an object of strings",
                    json_kind(meta));
    size_t n = (size_t)cJSON_GetArraySize(meta);
    out->meta_keys = loom_calloc(n ? n : 1, sizeof *out->meta_keys);
    out->meta_values = loom_calloc(n ? n : 1, sizeof *out->meta_values);
    if (!out->meta_keys || !out->meta_values)
        return fail(out, LOOM_ENOMEM, "not enough memory for the metadata");
    for (const cJSON *c = meta->child; c && out->meta_count < n; c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring)
            return fail(out, LOOM_EFORMAT, "'__metadata__' value of '%.80s' is %s, expected a string",
                        c->string ? c->string : "", json_kind(c));
        size_t k = out->meta_count;
        out->meta_keys[k] = dup_string(c->string ? c->string : "");
        out->meta_values[k] = dup_string(c->valuestring);
        if (out->meta_keys[k] || out->meta_values[k])
            out->meta_count++;
        if (!out->meta_keys[k] || !out->meta_values[k])
            return fail(out, LOOM_ENOMEM, "not enough memory for the metadata");
    }
    return LOOM_OK;
}

static loom_status read_shape(loom_safetensors *out, loom_st_tensor *t, const cJSON *shape)
{
    if (!cJSON_IsArray(shape))
        return fail(out, LOOM_EFORMAT, "tensor '%.80s': 'shape' is %s, expected an array",
                    t->name, json_kind(shape));
    int n = cJSON_GetArraySize(shape);
    if (n > LOOM_ST_MAX_DIMS)
        return fail(out, LOOM_EFORMAT, "tensor '%.80s': shape has %d dimensions, at most %d are read",
                    t->name, n, LOOM_ST_MAX_DIMS);
    uint64_t product = 1; /* of the nonzero dimensions: it also bounds the matrix shape */
    t->ndim = 0;
    for (const cJSON *c = shape->child; c; c = c->next) {
        uint64_t d;
        if (!json_count(c, &d))
            return fail(out, LOOM_EFORMAT,
                        "tensor '%.80s': shape dimension %zu is not a non-negative integer",
                        t->name, t->ndim + 1);
        t->shape[t->ndim++] = d;
    }
    for (size_t k = 0; k < t->ndim; k++) {
        uint64_t d = t->shape[k];
        if (d == 0)
            continue;
        if (product > LOOM_ST_MAX_ELEMENTS / d) {
            char buf[96];
            return fail(out, LOOM_EFORMAT, "tensor '%.80s': shape %s overflows (more than 2^53 elements)",
                        t->name, format_shape(buf, sizeof buf, t->shape, t->ndim));
        }
        product *= d;
    }
    if (product > SIZE_MAX / sizeof(double)) /* only where size_t is narrower than 64 bits */
        return fail(out, LOOM_EFORMAT, "tensor '%.80s' is too large for this machine", t->name);
    return LOOM_OK;
}

static uint64_t element_count(const loom_st_tensor *t)
{
    uint64_t n = 1;
    for (size_t k = 0; k < t->ndim; k++)
        n *= t->shape[k]; /* read_shape bounded it */
    return n;
}

static loom_status read_offsets(loom_safetensors *out, loom_st_tensor *t, const cJSON *offsets,
                                uint64_t data_size)
{
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2
        || !json_count(offsets->child, &t->begin) || !json_count(offsets->child->next, &t->end)
        || t->begin > t->end)
        return fail(out, LOOM_EFORMAT,
                    "tensor '%.80s': 'data_offsets' must be [begin, end] with 0 <= begin <= end",
                    t->name);
    if (t->end > data_size)
        return fail(out, LOOM_EFORMAT,
                    "tensor '%.80s': data_offsets [%" PRIu64 ", %" PRIu64 "] lie outside the %" PRIu64
                    "-byte data section", t->name, t->begin, t->end, data_size);
    uint64_t need = element_count(t) * dtypes[t->dtype].size;
    if (t->end - t->begin != need) {
        char buf[96];
        return fail(out, LOOM_EFORMAT,
                    "tensor '%.80s': %s of shape %s needs %" PRIu64 " bytes, data_offsets [%" PRIu64
                    ", %" PRIu64 "] hold %" PRIu64, t->name, dtypes[t->dtype].name,
                    format_shape(buf, sizeof buf, t->shape, t->ndim), need, t->begin, t->end,
                    t->end - t->begin);
    }
    return LOOM_OK;
}

static loom_status read_tensor_info(loom_safetensors *out, loom_st_tensor *t, const cJSON *info,
                                    uint64_t data_size)
{
    if (!cJSON_IsObject(info))
        return fail(out, LOOM_EFORMAT,
                    "tensor '%.80s' is %s, expected an object with dtype, shape and data_offsets",
                    t->name, json_kind(info));
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    const cJSON *found[3] = {NULL, NULL, NULL};
    for (const cJSON *c = info->child; c; c = c->next) {
        for (int k = 0; k < 3; k++) {
            if (!c->string || strcmp(c->string, keys[k]) != 0)
                continue;
            if (found[k])
                return fail(out, LOOM_EFORMAT, "tensor '%.80s': duplicate key '%s'", t->name,
                            keys[k]);
            found[k] = c;
        }
    }
    for (int k = 0; k < 3; k++)
        if (!found[k])
            return fail(out, LOOM_EFORMAT, "tensor '%.80s': missing '%s'", t->name, keys[k]);
    if (!cJSON_IsString(found[0]) || !found[0]->valuestring)
        return fail(out, LOOM_EFORMAT, "tensor '%.80s': 'dtype' is %s, expected a string",
                    t->name, json_kind(found[0]));
    int dtype = loom_st_dtype_from_name(found[0]->valuestring);
    if (dtype < 0)
        return fail(out, LOOM_EFORMAT, "tensor '%.80s': unsupported dtype '%.20s'", t->name,
                    found[0]->valuestring);
    t->dtype = (loom_st_dtype)dtype;
    loom_status st = read_shape(out, t, found[1]);
    return st != LOOM_OK ? st : read_offsets(out, t, found[2], data_size);
}

/* Compares two slots (char **) by the strings they hold. */
static int by_name(const void *a, const void *b)
{
    char *const *x = *(char **const *)a, *const *y = *(char **const *)b;
    return strcmp(*x, *y);
}

/* The first duplicate among n strings (given by their slots, which are sorted), or NULL. */
static const char *first_duplicate(char ***slots, size_t n)
{
    qsort(slots, n, sizeof *slots, by_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(*slots[i - 1], *slots[i]) == 0)
            return *slots[i];
    return NULL;
}

static loom_status check_unique(loom_safetensors *out)
{
    size_t n = out->count > out->meta_count ? out->count : out->meta_count;
    char ***slots = loom_malloc((n ? n : 1) * sizeof *slots);
    if (!slots)
        return fail(out, LOOM_ENOMEM, "not enough memory to check the names");
    for (size_t i = 0; i < out->count; i++)
        slots[i] = &out->tensors[i].name;
    const char *dup = first_duplicate(slots, out->count);
    loom_status st = LOOM_OK;
    if (dup) {
        st = fail(out, LOOM_EFORMAT, "duplicate tensor name '%.80s'", dup);
    } else {
        for (size_t i = 0; i < out->meta_count; i++)
            slots[i] = &out->meta_keys[i];
        dup = first_duplicate(slots, out->meta_count);
        if (dup)
            st = fail(out, LOOM_EFORMAT, "duplicate '__metadata__' key '%.80s'", dup);
    }
    loom_free(slots);
    return st;
}

static int by_offset(const void *a, const void *b)
{
    const loom_st_tensor *x = *(const loom_st_tensor *const *)a;
    const loom_st_tensor *y = *(const loom_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors in data order; they must tile the data section exactly. *order is owned by
 * the caller on success. */
static loom_status check_layout(loom_safetensors *out, uint64_t data_size, loom_st_tensor ***order)
{
    loom_st_tensor **o = loom_malloc((out->count ? out->count : 1) * sizeof *o);
    if (!o)
        return fail(out, LOOM_ENOMEM, "not enough memory to check the data offsets");
    for (size_t i = 0; i < out->count; i++)
        o[i] = &out->tensors[i];
    qsort(o, out->count, sizeof *o, by_offset);
    uint64_t expected = 0;
    loom_status st = LOOM_OK;
    for (size_t i = 0; i < out->count && st == LOOM_OK; i++) {
        if (o[i]->begin < expected)
            st = fail(out, LOOM_EFORMAT, "tensor '%.80s' overlaps tensor '%.80s' in the data section",
                      o[i]->name, o[i - 1]->name);
        else if (o[i]->begin > expected)
            st = fail(out, LOOM_EFORMAT,
                      "bytes %" PRIu64 "..%" PRIu64 " of the data section belong to no tensor",
                      expected, o[i]->begin);
        expected = o[i]->end;
    }
    if (st == LOOM_OK && expected != data_size)
        st = fail(out, LOOM_EFORMAT,
                  "bytes %" PRIu64 "..%" PRIu64 " of the data section belong to no tensor", expected,
                  data_size);
    if (st != LOOM_OK) {
        loom_free(o);
        return st;
    }
    *order = o;
    return LOOM_OK;
}

static loom_status read_header(loom_safetensors *out, const cJSON *root, uint64_t data_size)
{
    size_t n = (size_t)cJSON_GetArraySize(root);
    out->tensors = loom_calloc(n ? n : 1, sizeof *out->tensors);
    if (!out->tensors)
        return fail(out, LOOM_ENOMEM, "not enough memory for %zu tensors", n);
    int seen_metadata = 0;
    loom_status st = LOOM_OK;
    for (const cJSON *c = root->child; c && st == LOOM_OK; c = c->next) {
        const char *name = c->string ? c->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            st = seen_metadata ? fail(out, LOOM_EFORMAT, "duplicate '__metadata__'")
                               : read_metadata(out, c);
            seen_metadata = 1;
            continue;
        }
        if (out->count == n)
            break;
        loom_st_tensor *t = &out->tensors[out->count];
        t->name = dup_string(name);
        if (!t->name)
            return fail(out, LOOM_ENOMEM, "not enough memory for the tensor names");
        out->count++;
        st = read_tensor_info(out, t, c, data_size);
    }
    return st != LOOM_OK ? st : check_unique(out);
}

/* ---- data ---- */

/* Where the bytes come from: an open file or a buffer in memory. */
typedef struct source {
    FILE *file;                 /* NULL when reading from memory */
    const unsigned char *bytes; /* the whole file, when file is NULL */
    uint64_t size, pos;
} source;

/* n bytes at offset into buf, or (from memory) a pointer to them in *direct. */
static int source_read(source *s, uint64_t offset, unsigned char *buf, size_t n,
                       const unsigned char **direct)
{
    if (offset > s->size || n > s->size - offset)
        return 0;
    if (!s->file) {
        *direct = s->bytes + offset;
        return 1;
    }
    if (s->pos != offset && fseeko(s->file, (off_t)offset, SEEK_SET) != 0)
        return 0;
    size_t got = fread(buf, 1, n, s->file);
    s->pos = offset + got;
    *direct = buf;
    return got == n;
}

static loom_status read_values(loom_safetensors *out, source *src, uint64_t data_start,
                               loom_st_tensor *t, unsigned char *buf)
{
    size_t rows, cols;
    loom_st_matrix_shape(t->ndim, t->shape, &rows, &cols);
    /* F32 tensors load as float32 matrices, bits unchanged; every other type as float64. */
    int single = t->dtype == LOOM_DT_F32;
    if (loom_matrix_init_dtype(&t->values, rows, cols, single ? LOOM_F32 : LOOM_F64) != LOOM_OK)
        return fail(out, LOOM_ENOMEM, "not enough memory for tensor '%.80s' (%zux%zu)", t->name,
                    rows, cols);
    size_t size = dtypes[t->dtype].size, per_chunk = CHUNK_BYTES / size;
    uint64_t total = t->end - t->begin;
    size_t numel = (size_t)(total / size);
    for (size_t done = 0; done < numel;) {
        size_t n = numel - done < per_chunk ? numel - done : per_chunk;
        const unsigned char *p;
        if (!source_read(src, data_start + t->begin + done * size, buf, n * size, &p))
            return fail(out, LOOM_EIO, "cannot read the data of tensor '%.80s': %s", t->name,
                        src->file && ferror(src->file) ? strerror(errno) : "file ended early");
        if (single) {
            float *v = t->values.data32 + done;
            for (size_t k = 0; k < n; k++) {
                uint32_t bits = (uint32_t)get_le(p + k * size, 4);
                memcpy(&v[k], &bits, sizeof bits);
            }
        } else {
            double *v = t->values.data + done;
            for (size_t k = 0; k < n; k++)
                v[k] = decode(p + k * size, t->dtype);
        }
        done += n;
    }
    return LOOM_OK;
}

static loom_status read_data(loom_safetensors *out, source *src, uint64_t data_start,
                             loom_st_tensor **order)
{
    unsigned char *buf = src->file ? loom_malloc(CHUNK_BYTES) : NULL;
    if (src->file && !buf)
        return fail(out, LOOM_ENOMEM, "not enough memory for a read buffer");
    loom_status st = LOOM_OK;
    for (size_t i = 0; i < out->count && st == LOOM_OK; i++)
        st = read_values(out, src, data_start, order[i], buf);
    loom_free(buf);
    return st;
}

static loom_status read_all(loom_safetensors *out, source *src)
{
    unsigned char len8[8];
    const unsigned char *p;
    if (src->size < 8)
        return fail(out, LOOM_EFORMAT, "file is %" PRIu64 " bytes, too short for a header",
                    src->size);
    if (!source_read(src, 0, len8, 8, &p))
        return fail(out, LOOM_EIO, "cannot read the header length: %s", strerror(errno));
    uint64_t n = get_le(p, 8);
    if (n > LOOM_ST_MAX_HEADER)
        return fail(out, LOOM_EFORMAT, "header length %" PRIu64 " exceeds the %llu-byte limit", n,
                    LOOM_ST_MAX_HEADER);
    if (n > src->size - 8)
        return fail(out, LOOM_EFORMAT, "header length %" PRIu64 " exceeds the file size (%" PRIu64
                    " bytes)", n, src->size);
    char *text = loom_malloc((size_t)n + 1);
    if (!text)
        return fail(out, LOOM_ENOMEM, "not enough memory for a %" PRIu64 "-byte header", n);
    loom_status st = LOOM_OK;
    if (!source_read(src, 8, (unsigned char *)text, (size_t)n, &p))
        st = fail(out, LOOM_EIO, "cannot read the header: %s", strerror(errno));
    else if (p != (const unsigned char *)text)
        memcpy(text, p, (size_t)n);
    text[n] = '\0';
    cJSON *root = NULL;
    if (st == LOOM_OK)
        st = parse_json(out, text, (size_t)n, &root);
    loom_free(text);
    if (st == LOOM_OK)
        st = read_header(out, root, src->size - 8 - n);
    cJSON_Delete(root);
    loom_st_tensor **order = NULL;
    if (st == LOOM_OK)
        st = check_layout(out, src->size - 8 - n, &order);
    if (st == LOOM_OK)
        st = read_data(out, src, 8 + n, order);
    loom_free(order);
    return st;
}

/* Run read_all and leave nothing allocated when it fails (the message survives). */
static loom_status read_source(loom_safetensors *out, source *src)
{
    loom_status st = read_all(out, src);
    if (st != LOOM_OK) {
        char error[sizeof out->error];
        memcpy(error, out->error, sizeof error);
        loom_safetensors_release(out);
        memcpy(out->error, error, sizeof error);
    }
    return st;
}

loom_status loom_safetensors_parse(loom_safetensors *out, const unsigned char *bytes, size_t size)
{
    memset(out, 0, sizeof *out);
    source src = {NULL, bytes, size, 0};
    return read_source(out, &src);
}

loom_status loom_safetensors_read(loom_safetensors *out, const char *path)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(out, LOOM_EIO, "cannot open: %s", strerror(errno));
    struct stat info;
    loom_status st;
    if (fstat(fileno(f), &info) != 0)
        st = fail(out, LOOM_EIO, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(info.st_mode))
        st = fail(out, LOOM_EIO, "not a regular file");
    else {
        source src = {f, NULL, (uint64_t)info.st_size, 0};
        st = read_source(out, &src);
    }
    fclose(f);
    return st;
}

void loom_safetensors_release(loom_safetensors *st)
{
    for (size_t i = 0; i < st->count; i++) {
        loom_free(st->tensors[i].name);
        loom_matrix_release(&st->tensors[i].values);
    }
    for (size_t i = 0; i < st->meta_count; i++) {
        loom_free(st->meta_keys[i]);
        loom_free(st->meta_values[i]);
    }
    loom_free(st->tensors);
    loom_free(st->meta_keys);
    loom_free(st->meta_values);
    st->tensors = NULL;
    st->meta_keys = st->meta_values = NULL;
    st->count = st->meta_count = 0;
}

/* ---- writing ---- */

PRINTF_LIKE(4, 5)
static loom_status wfail(char *error, size_t size, loom_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(error, size, st, fmt, ap);
    va_end(ap);
    return st;
}

static int valid_utf8(const char *s)
{
    size_t n = strlen(s);
    return utf8_invalid_at((const unsigned char *)s, n) == n;
}

static int entry_by_name(const void *a, const void *b)
{
    return strcmp(((const loom_st_entry *)a)->name, ((const loom_st_entry *)b)->name);
}

/* Integer dtypes hold only integral values in their range. */
static loom_status check_values(const loom_st_entry *e, char *error, size_t size)
{
    double lo, hi;
    if (!integer_range(e->dtype, &lo, &hi))
        return LOOM_OK;
    const loom_matrix *m = e->values;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++) {
            double x = loom_get(m, i, j);
            if (!(x >= lo && x < hi && x == floor(x)))
                return wfail(error, size, LOOM_EARG,
                             "tensor '%.80s': value %.17g at (%zu, %zu) is not representable as %s",
                             e->name, x, i + 1, j + 1, dtypes[e->dtype].name);
        }
    return LOOM_OK;
}

static loom_status check_entries(loom_st_entry *entries, size_t count,
                                 const char *const *meta_keys, const char *const *meta_values,
                                 size_t meta_count, char *error, size_t size)
{
    for (size_t i = 0; i < count; i++) {
        const loom_st_entry *e = &entries[i];
        if (!valid_utf8(e->name))
            return wfail(error, size, LOOM_EARG, "tensor name '%.80s' is not valid UTF-8", e->name);
        if (strcmp(e->name, "__metadata__") == 0)
            return wfail(error, size, LOOM_EARG, "'__metadata__' is reserved, not a tensor name");
        if ((unsigned)e->dtype >= LOOM_DT_COUNT || e->ndim > LOOM_ST_MAX_DIMS)
            return wfail(error, size, LOOM_EARG, "tensor '%.80s': bad dtype or rank", e->name);
        uint64_t n = 1;
        for (size_t k = 0; k < e->ndim; k++)
            n = e->shape[k] && n > UINT64_MAX / e->shape[k] ? UINT64_MAX : n * e->shape[k];
        if (n != loom_numel(e->values)) {
            char buf[96];
            return wfail(error, size, LOOM_EDIM, "tensor '%.80s': shape %s does not hold %zux%zu values",
                         e->name, format_shape(buf, sizeof buf, e->shape, e->ndim),
                         e->values->rows, e->values->cols);
        }
        loom_status st = check_values(e, error, size);
        if (st != LOOM_OK)
            return st;
    }
    qsort(entries, count, sizeof *entries, entry_by_name);
    for (size_t i = 1; i < count; i++)
        if (strcmp(entries[i - 1].name, entries[i].name) == 0)
            return wfail(error, size, LOOM_EARG, "duplicate tensor name '%.80s'", entries[i].name);
    for (size_t i = 0; i < meta_count; i++)
        if (!valid_utf8(meta_keys[i]) || !valid_utf8(meta_values[i]))
            return wfail(error, size, LOOM_EARG, "metadata '%.80s' is not valid UTF-8", meta_keys[i]);
    return LOOM_OK;
}

/* Add item to an object (key) or an array (key NULL); a NULL item or parent fails. */
static int json_add(cJSON *parent, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    if (parent && (key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item)))
        return 1;
    cJSON_Delete(item);
    return 0;
}

/* Exact 64-bit integers, not through a double. */
static cJSON *json_u64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *tensor_info(const loom_st_entry *e, uint64_t begin, uint64_t end)
{
    cJSON *info = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offsets = cJSON_CreateArray();
    int ok = info && shape && offsets;
    for (size_t k = 0; ok && k < e->ndim; k++)
        ok = json_add(shape, NULL, json_u64(e->shape[k]));
    ok = ok && json_add(offsets, NULL, json_u64(begin)) && json_add(offsets, NULL, json_u64(end));
    ok = ok && json_add(info, "dtype", cJSON_CreateString(dtypes[e->dtype].name));
    ok = ok && json_add(info, "shape", shape);
    shape = NULL;
    ok = ok && json_add(info, "data_offsets", offsets);
    offsets = NULL;
    cJSON_Delete(shape);
    cJSON_Delete(offsets);
    if (!ok) {
        cJSON_Delete(info);
        return NULL;
    }
    return info;
}

typedef struct meta_pair {
    const char *key, *value;
} meta_pair;

static int pair_by_key(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

/* The header JSON (cJSON-allocated, free with cJSON_free), or NULL without memory.
 * meta: meta_count pairs sorted by key, so equal contents give equal bytes. */
static char *header_json(const loom_st_entry *entries, size_t count, const meta_pair *meta_pairs,
                         size_t meta_count)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && meta_count > 0) {
        cJSON *meta = cJSON_CreateObject();
        for (size_t i = 0; meta && i < meta_count; i++)
            if (!json_add(meta, meta_pairs[i].key, cJSON_CreateString(meta_pairs[i].value))) {
                cJSON_Delete(meta);
                meta = NULL;
            }
        ok = json_add(root, "__metadata__", meta);
    }
    uint64_t offset = 0;
    for (size_t i = 0; ok && i < count; i++) {
        uint64_t bytes = (uint64_t)loom_numel(entries[i].values) * dtypes[entries[i].dtype].size;
        ok = json_add(root, entries[i].name, tensor_info(&entries[i], offset, offset + bytes));
        offset += bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int write_values(FILE *f, const loom_st_entry *e, unsigned char *buf)
{
    size_t size = dtypes[e->dtype].size, used = 0;
    const loom_matrix *m = e->values;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++) {
            if (used + size > CHUNK_BYTES) {
                if (fwrite(buf, 1, used, f) != used)
                    return 0;
                used = 0;
            }
            encode(buf + used, loom_get(m, i, j), e->dtype); /* float32 -> F32 is exact */
            used += size;
        }
    return fwrite(buf, 1, used, f) == used;
}

/* Header length, padded header, data: everything that goes into the file. */
static int write_contents(FILE *f, const char *json, const loom_st_entry *entries, size_t count,
                          unsigned char *buf)
{
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char len8[8];
    put_le(len8, padded, 8);
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(json, 1, len, f) != len)
        return 0;
    for (size_t i = len; i < padded; i++)
        if (fputc(' ', f) == EOF)
            return 0;
    int ok = 1;
    for (size_t i = 0; ok && i < count; i++)
        ok = write_values(f, &entries[i], buf);
    return ok;
}

/* The directory part of path ("." for a bare name), loom_malloc'd. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = loom_malloc(n + 1);
    if (dir) {
        memcpy(dir, !slash ? "." : path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* fsync the directory so the rename itself survives a power loss. */
static int sync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0 || errno == EINVAL; /* some filesystems cannot sync directories */
    close(fd);
    return ok;
}

static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISFIFO(mode) ? "a fifo"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

/* The file a save replaces: path itself, or where its chain of symbolic links ends (a
 * relative link is relative to its own directory). *target is loom_malloc'd on LOOM_OK.
 * Anything there but a regular file (or nothing) is refused: a save never turns /dev/null,
 * a fifo or a directory into a file, and never turns a link into a local copy. */
static loom_status save_target(const char *path, char **target, char *error, size_t size)
{
    char cur[PATH_MAX], link[PATH_MAX];
    if (strlen(path) >= sizeof cur)
        return wfail(error, size, LOOM_EIO, "%s", strerror(ENAMETOOLONG));
    strcpy(cur, path);
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0) {
            if (errno != ENOENT)
                return wfail(error, size, LOOM_EIO, "cannot inspect %.200s: %s", cur, strerror(errno));
            break; /* a new file */
        }
        if (S_ISREG(sb.st_mode))
            break;
        if (!S_ISLNK(sb.st_mode)) {
            if (strcmp(cur, path) == 0)
                return wfail(error, size, LOOM_EIO, "is %s, not a regular file: refusing to replace it",
                              file_kind(sb.st_mode));
            return wfail(error, size, LOOM_EIO,
                         "its link target %.200s is %s, not a regular file: refusing to replace it",
                         cur, file_kind(sb.st_mode));
        }
        if (hops == 40)
            return wfail(error, size, LOOM_EIO, "%s", strerror(ELOOP));
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            return wfail(error, size, LOOM_EIO, "cannot read the link %.200s: %s", cur, strerror(errno));
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            strcpy(cur, link);
        } else {
            size_t dir = (size_t)(slash - cur) + 1;
            if (dir + (size_t)n >= sizeof cur)
                return wfail(error, size, LOOM_EIO, "%s", strerror(ENAMETOOLONG));
            memcpy(cur + dir, link, (size_t)n + 1);
        }
    }
    *target = loom_malloc(strlen(cur) + 1);
    if (!*target)
        return wfail(error, size, LOOM_ENOMEM, "not enough memory");
    strcpy(*target, cur);
    return LOOM_OK;
}

/* A write lock on an open file without waiting: held while a save writes its temporary
 * file, so another save can tell a live temporary file from one a kill left behind. */
static int try_lock(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_SETLK, &fl) == 0;
}

/* name is base + ".tmp" + the 6 characters mkstemp puts in place of XXXXXX. */
static int is_temporary_of(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strlen(name) != n + 10 || strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp", 4) != 0)
        return 0;
    for (size_t i = n + 4; i < n + 10; i++)
        if (!isalnum((unsigned char)name[i]))
            return 0;
    return 1;
}

/* Remove the temporary files of earlier saves of target that a kill left in dir: regular
 * files of our naming pattern that no process holds locked. Best effort, never waits. */
static void remove_stale_temporaries(const char *dir, const char *target)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t dlen = strlen(dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temporary_of(e->d_name, base))
            continue;
        char *full = loom_malloc(dlen + strlen(e->d_name) + 2);
        if (!full)
            break;
        sprintf(full, "%s/%s", dir, e->d_name);
        int fd = open(full, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && try_lock(fd))
            unlink(full);
        if (fd >= 0)
            close(fd);
        loom_free(full);
    }
    closedir(d);
}

/* Write into a locked temporary file beside target, fsync, rename over target. tmp holds
 * strlen(target) + sizeof ".tmpXXXXXX" bytes; buf: CHUNK_BYTES of scratch for the data. */
static loom_status write_and_rename(const char *target, char *tmp, const char *json,
                                    const loom_st_entry *entries, size_t count,
                                    unsigned char *buf, char *error, size_t size)
{
    size_t n = strlen(target);
    memcpy(tmp, target, n);
    memcpy(tmp + n, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return wfail(error, size, LOOM_EIO, "cannot create a temporary file: %s", strerror(errno));
    try_lock(fd);
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp's 0600 would hide checkpoints from the group */
    FILE *f = fdopen(fd, "wb");
    int ok = f && write_contents(f, json, entries, count, buf) && fflush(f) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (f ? fclose(f) != 0 : close(fd) != 0) {
        if (ok)
            saved = errno;
        ok = 0;
    }
    const char *what = "cannot write the temporary file";
    if (ok && rename(tmp, target) != 0) {
        saved = errno;
        what = "cannot rename the temporary file over it";
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        return wfail(error, size, LOOM_EIO, "%s: %s", what, strerror(saved));
    }
    return LOOM_OK;
}

/* buf: CHUNK_BYTES of scratch for encoding the data. */
static loom_status write_atomically(const char *path, const char *json,
                                    const loom_st_entry *entries, size_t count,
                                    unsigned char *buf, char *error, size_t size)
{
    char *target = NULL;
    loom_status st = save_target(path, &target, error, size);
    if (st != LOOM_OK)
        return st;
    char *tmp = loom_malloc(strlen(target) + sizeof ".tmpXXXXXX"), *dir = directory_of(target);
    if (!tmp || !dir)
        st = wfail(error, size, LOOM_ENOMEM, "not enough memory");
    else
        st = write_and_rename(target, tmp, json, entries, count, buf, error, size);
    if (st == LOOM_OK) {
        remove_stale_temporaries(dir, target);
        if (!sync_directory(dir))
            st = wfail(error, size, LOOM_EIO, "written, but syncing its directory failed: %s",
                       strerror(errno));
    }
    loom_free(tmp);
    loom_free(dir);
    loom_free(target);
    return st;
}

loom_status loom_safetensors_write(const char *path, loom_st_entry *entries, size_t count,
                                   const char *const *meta_keys, const char *const *meta_values,
                                   size_t meta_count, char *error, size_t error_size)
{
    loom_status st = check_entries(entries, count, meta_keys, meta_values, meta_count, error,
                                   error_size);
    if (st != LOOM_OK)
        return st;
    meta_pair *pairs = loom_malloc((meta_count ? meta_count : 1) * sizeof *pairs);
    if (!pairs)
        return wfail(error, error_size, LOOM_ENOMEM, "not enough memory");
    for (size_t i = 0; i < meta_count; i++)
        pairs[i] = (meta_pair){meta_keys[i], meta_values[i]};
    qsort(pairs, meta_count, sizeof *pairs, pair_by_key);
    for (size_t i = 1; i < meta_count; i++)
        if (strcmp(pairs[i - 1].key, pairs[i].key) == 0) {
            st = wfail(error, error_size, LOOM_EARG, "duplicate metadata key '%.80s'", pairs[i].key);
            loom_free(pairs);
            return st;
        }
    char *json = header_json(entries, count, pairs, meta_count);
    loom_free(pairs);
    unsigned char *buf = loom_malloc(CHUNK_BYTES);
    if (json && buf)
        st = write_atomically(path, json, entries, count, buf, error, error_size);
    else
        st = wfail(error, error_size, LOOM_ENOMEM, "not enough memory");
    loom_free(buf);
    cJSON_free(json);
    return st;
}
