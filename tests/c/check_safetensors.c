/* check_safetensors.c: unit tests of the safetensors reader and writer: element
 * conversions, round trips, hostile bytes, allocation failures. Not the Lua API's tests. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/loom-st-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *in_dir(const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* ---- element conversions ---- */

START_TEST(half_round_trips_every_bit_pattern)
{
    for (uint32_t b = 0; b < 65536; b++) {
        double d = loom_half_to_double((uint16_t)b);
        if (isnan(d))
            ck_assert_uint_eq(loom_double_to_half(d) & 0x7e00, 0x7e00);
        else
            ck_assert_uint_eq(loom_double_to_half(d), b);
    }
}
END_TEST

START_TEST(half_rounds_to_nearest_even)
{
    ck_assert_double_eq(loom_half_to_double(0x3c00), 1.0);
    ck_assert_double_eq(loom_half_to_double(0x7bff), 65504.0);
    ck_assert_double_eq(loom_half_to_double(0x0001), 0x1p-24);
    ck_assert_uint_eq(loom_double_to_half(1.0 + 0x1p-11), 0x3c00);       /* tie, to even */
    ck_assert_uint_eq(loom_double_to_half(1.0 + 3 * 0x1p-11), 0x3c02);   /* tie, to even */
    ck_assert_uint_eq(loom_double_to_half(1.0 + 0x1p-11 + 0x1p-30), 0x3c01);
    ck_assert_uint_eq(loom_double_to_half(65519.0), 0x7bff);
    ck_assert_uint_eq(loom_double_to_half(65520.0), 0x7c00);
    ck_assert_uint_eq(loom_double_to_half(-1e10), 0xfc00);
    ck_assert_uint_eq(loom_double_to_half(0x1p-25), 0x0000);             /* tie, to even */
    ck_assert_uint_eq(loom_double_to_half(1.5 * 0x1p-25), 0x0001);
    ck_assert_uint_eq(loom_double_to_half(2047 * 0x1p-25), 0x0400);      /* up to the smallest normal */
    ck_assert_uint_eq(loom_double_to_half(-0.0), 0x8000);
}
END_TEST

START_TEST(bf16_round_trips_and_rounds)
{
    for (uint32_t b = 0; b < 65536; b++) {
        double d = loom_bf16_to_double((uint16_t)b);
        if (!isnan(d))
            ck_assert_uint_eq(loom_double_to_bf16(d), b);
    }
    ck_assert_uint_eq(loom_double_to_bf16(1.0), 0x3f80);
    ck_assert_uint_eq(loom_double_to_bf16(1.0 + 0x1p-8), 0x3f80); /* tie, to even */
    ck_assert_uint_eq(loom_double_to_bf16(1.0 + 3 * 0x1p-8), 0x3f82);
    ck_assert(isnan(loom_bf16_to_double(loom_double_to_bf16(NAN))));
}
END_TEST

/* ---- round trips ---- */

/* Values every dtype holds exactly. */
static void fill_small_integers(loom_matrix *m, loom_st_dtype dtype)
{
    for (size_t i = 0; i < m->rows * m->cols; i++) {
        double v = (double)(i % 7) - (dtype == LOOM_DT_U8 || dtype == LOOM_DT_BOOL ? 0 : 3);
        m->data[i] = dtype == LOOM_DT_BOOL ? (double)(i % 2) : v;
    }
}

START_TEST(round_trip_every_dtype_and_rank)
{
    make_dir();
    static const uint64_t shapes[][4] = {{0}, {5}, {2, 3}, {2, 3, 4}, {0, 3}, {3, 0, 2}, {1, 1, 1, 7}};
    static const size_t ranks[] = {0, 1, 2, 3, 2, 3, 4};
    const size_t nshapes = sizeof ranks / sizeof ranks[0];
    for (int dt = 0; dt < LOOM_DT_COUNT; dt++) {
        loom_matrix values[7];
        loom_st_entry entries[7];
        char names[7][16];
        for (size_t s = 0; s < nshapes; s++) {
            size_t rows, cols;
            loom_st_matrix_shape(ranks[s], shapes[s], &rows, &cols);
            ck_assert_int_eq(loom_matrix_init(&values[s], rows, cols), LOOM_OK);
            fill_small_integers(&values[s], (loom_st_dtype)dt);
            snprintf(names[s], sizeof names[s], "t%zu", nshapes - s); /* reverse order */
            entries[s] = (loom_st_entry){names[s], (loom_st_dtype)dt, ranks[s], {0}, &values[s]};
            memcpy(entries[s].shape, shapes[s], sizeof shapes[s]);
        }
        const char *keys[] = {"a"}, *vals[] = {"b"};
        char error[256];
        ck_assert_int_eq(loom_safetensors_write(in_dir("rt.safetensors"), entries, nshapes, keys,
                                                vals, 1, error, sizeof error), LOOM_OK);
        loom_safetensors st;
        ck_assert_msg(loom_safetensors_read(&st, in_dir("rt.safetensors")) == LOOM_OK, "%s",
                      st.error);
        ck_assert_uint_eq(st.count, nshapes);
        ck_assert_uint_eq(st.meta_count, 1);
        ck_assert_str_eq(st.meta_keys[0], "a");
        ck_assert_str_eq(st.meta_values[0], "b");
        for (size_t k = 0; k < st.count; k++) {
            const loom_st_tensor *t = &st.tensors[k];
            size_t s = nshapes - (size_t)atoi(t->name + 1);
            ck_assert_int_eq(t->dtype, dt);
            ck_assert_uint_eq(t->ndim, ranks[s]);
            for (size_t d = 0; d < t->ndim; d++)
                ck_assert_uint_eq(t->shape[d], shapes[s][d]);
            ck_assert(loom_same_shape(&t->values, &values[s]));
            /* F32 loads as float32, everything else as float64 */
            ck_assert_int_eq(t->values.dtype, dt == LOOM_DT_F32 ? LOOM_F32 : LOOM_F64);
            for (size_t i = 0; i < loom_numel(&values[s]); i++) {
                double got = t->values.dtype == LOOM_F32 ? (double)t->values.data32[i]
                                                         : t->values.data[i];
                ck_assert_double_eq(got, values[s].data[i]);
            }
        }
        loom_safetensors_release(&st);
        loom_safetensors_release(&st); /* safe twice */
        for (size_t s = 0; s < nshapes; s++)
            loom_matrix_release(&values[s]);
    }
    remove_dir();
}
END_TEST

/* The file's own bytes: padded header, sorted names, contiguous offsets, and views written
 * in C order. */
START_TEST(writes_sorted_padded_contiguous)
{
    make_dir();
    loom_matrix big, a;
    ck_assert_int_eq(loom_matrix_init(&big, 3, 4), LOOM_OK);
    for (size_t i = 0; i < 12; i++)
        big.data[i] = (double)i;
    loom_matrix_view(&a, &big, 1, 1, 2, 2); /* 5 6 / 9 10 */
    loom_st_entry e[2] = {{"zeta", LOOM_DT_F32, 2, {2, 2}, &a}, {"alpha", LOOM_DT_F64, 1, {12}, &big}};
    char error[256];
    ck_assert_int_eq(loom_safetensors_write(in_dir("x.safetensors"), e, 2, NULL, NULL, 0, error,
                                            sizeof error), LOOM_OK);
    FILE *f = fopen(in_dir("x.safetensors"), "rb");
    unsigned char buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t len = 0;
    for (int k = 0; k < 8; k++)
        len |= (uint64_t)buf[k] << (8 * k);
    ck_assert_uint_eq(len % 8, 0);
    ck_assert_uint_eq(n, 8 + len + 12 * 8 + 4 * 4);
    const char *want = "{\"alpha\":{\"dtype\":\"F64\",\"shape\":[12],\"data_offsets\":[0,96]},"
                       "\"zeta\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[96,112]}}";
    ck_assert_int_eq(memcmp(buf + 8, want, strlen(want)), 0);
    for (size_t k = strlen(want); k < len; k++)
        ck_assert_int_eq(buf[8 + k], ' ');
    float z[4];
    memcpy(z, buf + 8 + len + 96, sizeof z);
    ck_assert(z[0] == 5 && z[1] == 6 && z[2] == 9 && z[3] == 10);
    loom_matrix_release(&big);
    remove_dir();
}
END_TEST

/* ---- writer errors ---- */

static loom_status write_one(const char *path, const char *name, loom_st_dtype dtype, double value,
                             size_t ndim, uint64_t dim0, char *error)
{
    double v[1] = {value};
    loom_matrix m = loom_matrix_wrap(v, 1, 1);
    loom_st_entry e = {name, dtype, ndim, {dim0}, &m};
    return loom_safetensors_write(path, &e, 1, NULL, NULL, 0, error, 256);
}

START_TEST(writer_refuses_what_it_cannot_store)
{
    make_dir();
    char error[256];
    ck_assert_int_eq(write_one(in_dir("e"), "i", LOOM_DT_I32, 1.5, 1, 1, error), LOOM_EARG);
    ck_assert_str_eq(error, "tensor 'i': value 1.5 at (1, 1) is not representable as I32");
    ck_assert_int_eq(write_one(in_dir("e"), "u", LOOM_DT_U8, 256, 1, 1, error), LOOM_EARG);
    ck_assert_int_eq(write_one(in_dir("e"), "b", LOOM_DT_BOOL, 2, 1, 1, error), LOOM_EARG);
    ck_assert_int_eq(write_one(in_dir("e"), "n", LOOM_DT_I64, NAN, 1, 1, error), LOOM_EARG);
    ck_assert_int_eq(write_one(in_dir("e"), "s", LOOM_DT_F64, 1, 1, 2, error), LOOM_EDIM);
    ck_assert_str_eq(error, "tensor 's': shape [2] does not hold 1x1 values");
    ck_assert_int_eq(write_one(in_dir("e"), "__metadata__", LOOM_DT_F64, 1, 1, 1, error), LOOM_EARG);
    ck_assert_str_eq(error, "'__metadata__' is reserved, not a tensor name");
    ck_assert_int_eq(write_one(in_dir("e"), "bad\xff", LOOM_DT_F64, 1, 1, 1, error), LOOM_EARG);
    ck_assert_int_eq(write_one("/nonexistent-dir/x", "a", LOOM_DT_F64, 1, 1, 1, error), LOOM_EIO);
    ck_assert_str_eq(error, "cannot create a temporary file: No such file or directory");
    ck_assert_int_eq(access(in_dir("e"), F_OK), -1); /* nothing written by the refusals */
    double v[2] = {1, 2};
    loom_matrix m = loom_matrix_wrap(v, 2, 1);
    loom_st_entry twice[2] = {{"d", LOOM_DT_F64, 1, {2}, &m}, {"d", LOOM_DT_F64, 1, {2}, &m}};
    ck_assert_int_eq(loom_safetensors_write(in_dir("e"), twice, 2, NULL, NULL, 0, error, sizeof error),
                     LOOM_EARG);
    ck_assert_str_eq(error, "duplicate tensor name 'd'");
    remove_dir();
}
END_TEST

/* ---- what a write may replace ---- */

START_TEST(writer_replaces_only_regular_files_and_writes_through_links)
{
    make_dir();
    char error[256];
    ck_assert_int_eq(write_one("/dev/null", "a", LOOM_DT_F64, 1, 1, 1, error), LOOM_EIO);
    ck_assert_str_eq(error, "is a character device, not a regular file: refusing to replace it");
    struct stat sb;
    ck_assert_int_eq(stat("/dev/null", &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));
    ck_assert_int_eq(mkdir(in_dir("d"), 0777), 0);
    ck_assert_int_eq(write_one(in_dir("d"), "a", LOOM_DT_F64, 1, 1, 1, error), LOOM_EIO);
    ck_assert_str_eq(error, "is a directory, not a regular file: refusing to replace it");
    /* A relative link into d: the file appears in d, the link stays a link. */
    ck_assert_int_eq(symlink("d/target", in_dir("link")), 0);
    char stale[160];
    snprintf(stale, sizeof stale, "%s/d/target.tmpAbC123", dir);
    FILE *f = fopen(stale, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(write_one(in_dir("link"), "a", LOOM_DT_F64, 2, 1, 1, error), LOOM_OK);
    ck_assert_int_eq(lstat(in_dir("link"), &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(lstat(in_dir("d/target"), &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    ck_assert_int_eq(access(stale, F_OK), -1); /* the kill's leftover is gone */
    loom_safetensors st;
    ck_assert_int_eq(loom_safetensors_read(&st, in_dir("link")), LOOM_OK);
    ck_assert_double_eq(*loom_at(&st.tensors[0].values, 0, 0), 2);
    loom_safetensors_release(&st);
    ck_assert_int_eq(symlink("/dev/zero", in_dir("zero")), 0);
    ck_assert_int_eq(write_one(in_dir("zero"), "a", LOOM_DT_F64, 1, 1, 1, error), LOOM_EIO);
    ck_assert_str_eq(error, "its link target /dev/zero is a character device, not a regular file: "
                            "refusing to replace it");
    remove_dir();
}
END_TEST

/* ---- hostile bytes (the full corpus runs from Lua and the fuzzer) ---- */

static loom_status parse_text(const char *header, size_t data_bytes, loom_safetensors *st)
{
    size_t n = strlen(header);
    unsigned char *buf = calloc(1, 8 + n + data_bytes);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(buf + 8, header, n);
    loom_status s = loom_safetensors_parse(st, buf, 8 + n + data_bytes);
    free(buf);
    return s;
}

START_TEST(parse_rejects_hostile_headers)
{
    loom_safetensors st;
    ck_assert_int_eq(parse_text("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
                                16, &st), LOOM_OK);
    ck_assert_uint_eq(st.tensors[0].values.rows, 2);
    loom_safetensors_release(&st);
    ck_assert_int_eq(parse_text("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
                                8, &st), LOOM_EFORMAT);
    ck_assert_str_eq(st.error, "tensor 'a': data_offsets [0, 16] lie outside the 8-byte data section");
    ck_assert_ptr_null(st.tensors);
    ck_assert_int_eq(parse_text("{\"a\":{\"dtype\":\"F64\",\"shape\":[9007199254740993],"
                                "\"data_offsets\":[0,8]}}", 8, &st), LOOM_EFORMAT);
    ck_assert_int_eq(parse_text("{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
                                "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}",
                                8, &st), LOOM_EFORMAT);
    ck_assert_str_eq(st.error, "tensor 'b' overlaps tensor 'a' in the data section");
    ck_assert_int_eq(loom_safetensors_parse(&st, (const unsigned char *)"\1\0\0\0\0\0\0\0{", 9),
                     LOOM_EFORMAT);
    ck_assert_str_eq(st.error, "header is not valid JSON (line 1, column 2)");
}
END_TEST

START_TEST(read_reports_missing_and_odd_files)
{
    loom_safetensors st;
    ck_assert_int_eq(loom_safetensors_read(&st, "/nonexistent/x.safetensors"), LOOM_EIO);
    ck_assert_str_eq(st.error, "cannot open: No such file or directory");
    ck_assert_int_eq(loom_safetensors_read(&st, "/tmp"), LOOM_EIO);
    ck_assert_str_eq(st.error, "not a regular file");
}
END_TEST

/* ---- allocation failures: every one is reported and leaks nothing ---- */

START_TEST(allocation_failures_leak_nothing)
{
    make_dir();
    double v[6] = {1, 2, 3, 4, 5, 6};
    loom_matrix m = loom_matrix_wrap(v, 2, 3);
    char error[256];
    int64_t live = loom_alloc_get_stats().live_blocks;
    loom_status s = LOOM_ENOMEM;
    for (uint64_t k = 1; s == LOOM_ENOMEM; k++) {
        loom_st_entry e[2] = {{"a", LOOM_DT_F32, 2, {2, 3}, &m}, {"b", LOOM_DT_F64, 1, {6}, &m}};
        const char *keys[] = {"k"}, *vals[] = {"v"};
        loom_alloc_fail_after(k);
        s = loom_safetensors_write(in_dir("f"), e, 2, keys, vals, 1, error, sizeof error);
        ck_assert_msg(s == LOOM_OK || s == LOOM_ENOMEM, "%s", error);
        ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
    }
    loom_alloc_fail_after(0);
    loom_safetensors st;
    s = LOOM_ENOMEM;
    for (uint64_t k = 1; s == LOOM_ENOMEM; k++) {
        loom_alloc_fail_after(k);
        s = loom_safetensors_read(&st, in_dir("f"));
        if (s == LOOM_ENOMEM)
            ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
    }
    loom_alloc_fail_after(0);
    ck_assert_msg(s == LOOM_OK, "%s", st.error);
    ck_assert_uint_eq(st.count, 2);
    loom_safetensors_release(&st);
    ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
    remove_dir();
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, half_round_trips_every_bit_pattern);
    tcase_add_test(tc, half_rounds_to_nearest_even);
    tcase_add_test(tc, bf16_round_trips_and_rounds);
    tcase_add_test(tc, round_trip_every_dtype_and_rank);
    tcase_add_test(tc, writes_sorted_padded_contiguous);
    tcase_add_test(tc, writer_refuses_what_it_cannot_store);
    tcase_add_test(tc, writer_replaces_only_regular_files_and_writes_through_links);
    tcase_add_test(tc, parse_rejects_hostile_headers);
    tcase_add_test(tc, read_reports_missing_and_odd_files);
    tcase_add_test(tc, allocation_failures_leak_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(safetensors_suite());
}
