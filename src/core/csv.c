/* csv.c: reads numeric CSV files (plain or gzip) into a matrix, with an optional header
 * row and row-name column. Not a general CSV library: every other field must be a number. */
#include "loom.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kernel.h"

typedef struct text {
    char *data;
    size_t len;
} text;

/* zlib's message for the last error, without the path it puts in front. */
static const char *gz_message(gzFile f, const char *path, int *code)
{
    const char *msg = gzerror(f, code);
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* After the last read: did zlib see the whole gzip stream, trailer and CRC included?
 * gzread reports a stream that stops early only through gzerror (Z_BUF_ERROR) and gzclose,
 * and returns what it decompressed, so without this a truncated file reads as a short one. */
static loom_status check_stream_end(gzFile f, const char *path, char *error, size_t error_size)
{
    int code = Z_OK;
    const char *msg = gz_message(f, path, &code);
    if (code == Z_BUF_ERROR)
        return loom_fail(error, error_size, LOOM_EFORMAT,
                         "the gzip stream is truncated (%s): the file is incomplete", msg);
    if (code != Z_OK)
        return loom_fail(error, error_size, LOOM_EFORMAT, "gzip error: %s", msg);
    return LOOM_OK;
}

/* Whole file into memory, at most max_bytes of text; gzread passes uncompressed files
 * through unchanged. */
static loom_status slurp(text *out, const char *path, size_t max_bytes, char *error,
                         size_t error_size)
{
    if (max_bytes == 0)
        max_bytes = SIZE_MAX;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return loom_fail(error, error_size, LOOM_EIO, "cannot open: %s",
                         errno ? strerror(errno) : "unknown error");
    size_t cap = 1 << 16, len = 0;
    char *buf = loom_malloc(cap + 1);
    loom_status st = buf ? LOOM_OK : LOOM_ENOMEM;
    while (st == LOOM_OK) {
        if (len == cap) {
            char *bigger = cap <= SIZE_MAX / 2 - 1 ? loom_realloc(buf, cap * 2 + 1) : NULL;
            if (!bigger) {
                st = LOOM_ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        int n = gzread(f, buf + len, (unsigned)(cap - len < (1u << 30) ? cap - len : (1u << 30)));
        if (n < 0) {
            int code = Z_OK;
            const char *msg = gz_message(f, path, &code);
            st = code == Z_ERRNO ? loom_fail(error, error_size, LOOM_EIO, "read error: %s", msg)
                                 : loom_fail(error, error_size, LOOM_EFORMAT, "gzip error: %s", msg);
        } else if (n == 0) {
            st = check_stream_end(f, path, error, error_size);
            break;
        }
        len += n > 0 ? (size_t)n : 0;
        if (st == LOOM_OK && len > max_bytes)
            st = loom_fail(error, error_size, LOOM_ERANGE,
                           "the text is longer than max_bytes = %zu (decompressed); pass a larger "
                           "max_bytes to read it", max_bytes);
    }
    int closed = gzclose(f);
    if (st == LOOM_OK && closed == Z_BUF_ERROR)
        st = loom_fail(error, error_size, LOOM_EFORMAT,
                       "the gzip stream is truncated: the file is incomplete");
    if (st != LOOM_OK) {
        loom_free(buf);
        if (st == LOOM_ENOMEM)
            loom_fail(error, error_size, st, "not enough memory");
        return st;
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return LOOM_OK;
}

loom_status loom_read_text(const char *path, size_t max_bytes, char **out, size_t *len,
                           char *error, size_t error_size)
{
    text t = {NULL, 0};
    loom_status st = slurp(&t, path, max_bytes, error, error_size);
    *out = t.data;
    *len = t.len;
    return st;
}

/* A cursor over the text that knows the line and field it is in, for error messages. */
typedef struct cursor {
    const char *p, *end;
    size_t line, field;
    char sep;
    char *error;
    size_t error_size;
} cursor;

LOOM_PRINTF(2, 3)
static loom_status fail(cursor *c, const char *fmt, ...)
{
    int n = snprintf(c->error, c->error_size, "%zu:%zu: ", c->line, c->field);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < c->error_size)
        loom_failv(c->error + n, c->error_size - (size_t)n, LOOM_EFORMAT, fmt, ap);
    va_end(ap);
    return LOOM_EFORMAT;
}

static int at_line_end(const cursor *c)
{
    return c->p >= c->end || *c->p == '\n' || *c->p == '\r';
}

static void skip_line_end(cursor *c)
{
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && *c->p == '\n')
        c->p++;
    c->line++;
    c->field = 1;
}

/* Copy the next field (unquoting "..." with "" as an escaped quote) into buf. */
static loom_status next_field(cursor *c, char *buf, size_t size, size_t *len)
{
    size_t n = 0;
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t') && *c->p != c->sep)
        c->p++;
    if (c->p < c->end && *c->p == '"') {
        size_t start_line = c->line;
        c->p++;
        for (;;) {
            if (c->p >= c->end) {
                c->line = start_line; /* where the quote opened, not the end of the file */
                return fail(c, "unterminated quoted field");
            }
            if (*c->p == '"') {
                if (c->p + 1 < c->end && c->p[1] == '"') {
                    c->p++;
                } else {
                    c->p++;
                    break;
                }
            }
            if (*c->p == '\n')
                c->line++;
            if (n + 1 >= size)
                return fail(c, "field longer than %zu characters", size - 1);
            buf[n++] = *c->p;
            c->p++;
        }
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
            c->p++;
        if (!at_line_end(c) && *c->p != c->sep)
            return fail(c, "unexpected character '%c' after a quoted field", *c->p);
    } else {
        while (!at_line_end(c) && *c->p != c->sep) {
            if (n + 1 >= size)
                return fail(c, "field longer than %zu characters", size - 1);
            buf[n++] = *c->p;
            c->p++;
        }
        while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
            n--;
    }
    buf[n] = '\0';
    *len = n;
    return LOOM_OK;
}

/* After a field: consume the separator and report whether another field follows. */
static int more_fields(cursor *c)
{
    if (c->p < c->end && *c->p == c->sep) {
        c->p++;
        c->field++;
        return 1;
    }
    return 0;
}

static char *dup_string(const char *s, size_t n)
{
    char *d = loom_malloc(n + 1);
    if (d) {
        loom_copy_bytes(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void free_strings(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        loom_free(list[i]);
    loom_free(list);
}

/* Grow a list of owned strings by one. */
static loom_status push_string(char ***list, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        size_t bigger = *cap ? *cap * 2 : 16;
        char **grown = loom_realloc(*list, bigger * sizeof **list);
        if (!grown)
            return LOOM_ENOMEM;
        *list = grown;
        *cap = bigger;
    }
    char *d = dup_string(s, len);
    if (!d)
        return LOOM_ENOMEM;
    (*list)[(*n)++] = d;
    return LOOM_OK;
}

static int blank_line(const cursor *c)
{
    const char *q = c->p;
    while (q < c->end && (*q == ' ' || *q == '\t'))
        q++;
    return q >= c->end || *q == '\n' || *q == '\r';
}

typedef struct parse_state {
    double *values;
    size_t count, cap;
    char **names, **rownames;
    size_t nnames, names_cap, nrows, rownames_cap;
    size_t cols;
    int have_cols; /* the first row has set cols (0 for a row of only a row name) */
} parse_state;

static loom_status push_value(parse_state *s, double v)
{
    if (s->count == s->cap) {
        size_t bigger = s->cap ? s->cap * 2 : 1024;
        double *grown = loom_realloc(s->values, bigger * sizeof *grown);
        if (!grown)
            return LOOM_ENOMEM;
        s->values = grown;
        s->cap = bigger;
    }
    s->values[s->count++] = v;
    return LOOM_OK;
}

static loom_status parse_number(cursor *c, const char *field, size_t len, double *v)
{
    if (len == 0)
        return fail(c, "expected number, got an empty field");
    char *endp;
    errno = 0;
    *v = strtod(field, &endp);
    if (endp != field + len)
        return fail(c, "expected number, got \"%.40s\"", field);
    return LOOM_OK;
}

static loom_status parse_header(cursor *c, parse_state *s, char *field, size_t size)
{
    size_t len;
    do {
        loom_status st = next_field(c, field, size, &len);
        if (st != LOOM_OK)
            return st;
        st = push_string(&s->names, &s->nnames, &s->names_cap, field, len);
        if (st != LOOM_OK)
            return st;
    } while (more_fields(c));
    skip_line_end(c);
    return LOOM_OK;
}

static loom_status parse_row(cursor *c, parse_state *s, const loom_csv_options *o, char *field,
                             size_t size)
{
    size_t len, ncols = 0;
    int first = 1;
    do {
        loom_status st = next_field(c, field, size, &len);
        if (st != LOOM_OK)
            return st;
        if (first && o->rownames) {
            st = push_string(&s->rownames, &s->nrows, &s->rownames_cap, field, len);
        } else {
            double v = 0.0;
            st = parse_number(c, field, len, &v);
            if (st == LOOM_OK)
                st = push_value(s, v);
            ncols++;
        }
        if (st != LOOM_OK)
            return st;
        first = 0;
    } while (more_fields(c));
    if (!s->have_cols) {
        s->cols = ncols;
        s->have_cols = 1;
    } else if (ncols != s->cols)
        return fail(c, "expected %zu fields, got %zu", s->cols + (o->rownames ? 1 : 0),
                    ncols + (o->rownames ? 1 : 0));
    skip_line_end(c);
    return LOOM_OK;
}

static loom_csv_options resolve_options(const loom_csv_options *options)
{
    loom_csv_options o = options ? *options : (loom_csv_options){1, 0, ',', 0};
    if (!o.sep)
        o.sep = ',';
    if (!o.max_bytes)
        o.max_bytes = LOOM_CSV_MAX_BYTES;
    return o;
}

loom_status loom_csv_read(loom_csv *out, const char *path, const loom_csv_options *options)
{
    loom_csv_options o = resolve_options(options);
    memset(out, 0, sizeof *out);
    text t = {NULL, 0};
    loom_status st = slurp(&t, path, o.max_bytes, out->error, sizeof out->error);
    if (st != LOOM_OK)
        return st;
    st = loom_csv_parse(out, t.data, t.len, &o);
    loom_free(t.data);
    return st;
}

loom_status loom_csv_parse(loom_csv *out, const char *data, size_t len, const loom_csv_options *options)
{
    loom_csv_options o = resolve_options(options);
    memset(out, 0, sizeof *out);
    loom_status st = LOOM_OK;
    if (len > o.max_bytes)
        return loom_fail(out->error, sizeof out->error, LOOM_ERANGE,
                         "the text is longer than %zu bytes", o.max_bytes);
    char field[512];
    cursor c = {data, data + len, 1, 1, o.sep, out->error, sizeof out->error};
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3; /* a UTF-8 byte order mark is not part of the first name */
    parse_state s = {0};
    if (o.header && c.p < c.end)
        st = parse_header(&c, &s, field, sizeof field);
    while (st == LOOM_OK && c.p < c.end) {
        if (blank_line(&c)) {
            while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
                c.p++;
            skip_line_end(&c);
            continue;
        }
        st = parse_row(&c, &s, &o, field, sizeof field);
    }
    /* With no numeric column the row names (if any) still count the rows. */
    size_t rows = s.cols ? s.count / s.cols : s.nrows;
    if (st == LOOM_OK && o.header && s.nnames != s.cols + (o.rownames ? 1 : 0) && rows > 0) {
        c.line = 1;
        c.field = s.nnames;
        st = fail(&c, "header has %zu names but rows have %zu fields", s.nnames,
                  s.cols + (o.rownames ? 1 : 0));
    }
    if (st == LOOM_OK)
        st = loom_matrix_init(&out->values, rows, s.cols);
    if (st != LOOM_OK) {
        if (st == LOOM_ENOMEM)
            loom_fail(out->error, sizeof out->error, st, "not enough memory");
        else if (st == LOOM_ERANGE)
            loom_fail(out->error, sizeof out->error, st, "%zu rows of %zu columns is too large",
                      rows, s.cols);
        loom_free(s.values);
        free_strings(s.names, s.nnames);
        free_strings(s.rownames, s.nrows);
        return st;
    }
    if (rows && s.cols)
        loom_copy_bytes(out->values.data, s.values, rows * s.cols * sizeof(double));
    loom_free(s.values);
    if (o.rownames && s.nnames > 0) {
        /* The row-name column's header is not a column name of the matrix. */
        loom_free(s.names[0]);
        loom_move_bytes(s.names, s.names + 1, (s.nnames - 1) * sizeof *s.names);
        s.nnames--;
    }
    out->names = s.names;
    out->name_count = s.nnames;
    out->rownames = s.rownames;
    return LOOM_OK;
}

void loom_csv_release(loom_csv *csv)
{
    free_strings(csv->names, csv->name_count);
    free_strings(csv->rownames, csv->values.rows);
    csv->names = csv->rownames = NULL;
    csv->name_count = 0;
    loom_matrix_release(&csv->values);
}
