/* check_alloc.c: the allocation wrapper: alignment, counters, realloc, overflow, and the
 * failure injection the other suites rely on. Not the users of it (their own suites). */
#include "testutil.h"

#include <stdint.h>

START_TEST(test_counters)
{
    loom_alloc_stats before = loom_alloc_get_stats();
    unsigned char *p = loom_malloc(100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    memset(p, 0xab, 100);
    loom_alloc_stats mid = loom_alloc_get_stats();
    ck_assert_uint_eq(mid.allocations, before.allocations + 1);
    ck_assert_int_eq(mid.live_blocks, before.live_blocks + 1);
    ck_assert_int_eq(mid.live_bytes, before.live_bytes + 100);
    loom_free(p);
    loom_free(NULL); /* a no-op, not counted */
    loom_alloc_stats after = loom_alloc_get_stats();
    ck_assert_uint_eq(after.frees, before.frees + 1);
    ck_assert_int_eq(after.live_blocks, before.live_blocks);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
}
END_TEST

START_TEST(test_calloc_and_zero_sizes)
{
    int64_t live = test_live_blocks();
    double *z = loom_calloc(1000, sizeof(double));
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 1000; i++)
        ck_assert(z[i] == 0.0);
    loom_free(z);
    void *empty = loom_malloc(0); /* a real block, freeable */
    ck_assert_ptr_nonnull(empty);
    loom_free(empty);
    void *cz = loom_calloc(0, 8);
    ck_assert_ptr_nonnull(cz);
    loom_free(cz);
    ck_assert_ptr_null(loom_calloc(SIZE_MAX / 4, 8)); /* count * size overflows */
    ck_assert_ptr_null(loom_malloc(SIZE_MAX - 10));
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_realloc)
{
    int64_t live = test_live_blocks();
    int *p = loom_realloc(NULL, 4 * sizeof(int)); /* like malloc */
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 4; i++)
        p[i] = i * 7;
    p = loom_realloc(p, 1000 * sizeof(int));
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(p[i], i * 7);
    ck_assert_int_ge(loom_alloc_get_stats().live_bytes, 1000 * (int64_t)sizeof(int));
    p = loom_realloc(p, 2 * sizeof(int)); /* shrinking keeps the prefix */
    ck_assert_int_eq(p[1], 7);
    ck_assert_int_eq(test_live_blocks(), live + 1);
    /* A failed realloc leaves the old block alive and intact. */
    loom_alloc_fail_after(1);
    ck_assert_ptr_null(loom_realloc(p, 5000));
    ck_assert_int_eq(p[1], 7);
    ck_assert_int_eq(test_live_blocks(), live + 1);
    loom_free(p);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_fail_after)
{
    int64_t live = test_live_blocks();
    loom_alloc_fail_after(3);
    void *a = loom_malloc(8), *b = loom_malloc(8), *c = loom_malloc(8), *d = loom_malloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c); /* exactly the third */
    ck_assert_ptr_nonnull(d); /* and only that one */
    loom_free(a);
    loom_free(b);
    loom_free(d);
    loom_alloc_fail_after(1);
    ck_assert_ptr_null(loom_calloc(2, 8));
    loom_alloc_fail_after(1);
    loom_alloc_fail_after(0); /* disarmed */
    void *e = loom_malloc(8);
    ck_assert_ptr_nonnull(e);
    loom_free(e);
    uint64_t allocs = loom_alloc_get_stats().allocations;
    loom_alloc_fail_after(1);
    ck_assert_ptr_null(loom_malloc(8));
    ck_assert_uint_eq(loom_alloc_get_stats().allocations, allocs); /* failures are not counted */
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_strerror)
{
    for (int st = LOOM_OK; st <= LOOM_ELAPACK; st++) {
        const char *text = loom_strerror((loom_status)st);
        ck_assert_ptr_nonnull(text);
        ck_assert_str_ne(text, "unknown status");
    }
    ck_assert_str_eq(loom_strerror(LOOM_ENOMEM), "not enough memory");
    ck_assert_str_eq(loom_strerror(LOOM_EDIM), "shapes do not match");
    ck_assert_str_eq(loom_strerror((loom_status)999), "unknown status");
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("wrapper");
    tcase_add_test(tc, test_counters);
    tcase_add_test(tc, test_calloc_and_zero_sizes);
    tcase_add_test(tc, test_realloc);
    tcase_add_test(tc, test_fail_after);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(alloc_suite());
}
