/* check_csv.c: loom_csv_read on small files written into a temporary directory: headers,
 * quoting, row names, line endings, gzip, exact error texts and allocation failures. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/loom_check_csv_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Write text to <tmpdir>/name (gzip-compressed when gz) and return the path (static). */
static const char *write_file(const char *name, const char *text, size_t len, int gz)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, text, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(text, 1, len, f), len);
        fclose(f);
    }
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text), 0);
}

static const loom_csv_options with_header = {1, 0, ',', 0}, no_header = {0, 0, ',', 0},
                              with_rownames = {1, 1, ',', 0};

static void check_values(const loom_csv *csv, size_t rows, size_t cols, const double *want)
{
    ck_assert_uint_eq(csv->values.rows, rows);
    ck_assert_uint_eq(csv->values.cols, cols);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            ck_assert_msg(test_same(*loom_at(&csv->values, i, j), want[i * cols + j]),
                          "(%zu, %zu): %.17g != %.17g", i, j, *loom_at(&csv->values, i, j),
                          want[i * cols + j]);
}

START_TEST(test_header_and_values)
{
    int64_t live = test_live_blocks();
    loom_csv csv;
    const char *path = write_text("a.csv", "a,b,c\n1,2.5,-3e2\n4,0x10,nan\n-inf,  7 ,8\t\n");
    ck_assert_int_eq(loom_csv_read(&csv, path, &with_header), LOOM_OK);
    check_values(&csv, 3, 3, (double[]){1, 2.5, -300, 4, 16, NAN, -INFINITY, 7, 8});
    ck_assert_uint_eq(csv.name_count, 3);
    ck_assert_str_eq(csv.names[0], "a");
    ck_assert_str_eq(csv.names[2], "c");
    ck_assert_ptr_null(csv.rownames);
    loom_csv_release(&csv);
    loom_csv_release(&csv); /* twice is fine */
    ck_assert_int_eq(test_live_blocks(), live);

    ck_assert_int_eq(loom_csv_read(&csv, path, NULL), LOOM_OK); /* NULL: a header, ',' */
    ck_assert_uint_eq(csv.values.rows, 3);
    ck_assert_str_eq(csv.names[1], "b");
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("b.csv", "1,2\n3,4"), &no_header), LOOM_OK);
    check_values(&csv, 2, 2, (double[]){1, 2, 3, 4}); /* no newline at the end */
    ck_assert_ptr_null(csv.names);
    loom_csv_release(&csv);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_quoted_fields)
{
    loom_csv csv;
    const char *path = write_text("q.csv",
                                  "\"x, y\",\"he said \"\"hi\"\"\", \"plain\" \n"
                                  "\"1.5\",2,\"3\"\n"
                                  "4, \"5\" ,6\n");
    ck_assert_int_eq(loom_csv_read(&csv, path, &with_header), LOOM_OK);
    ck_assert_uint_eq(csv.name_count, 3);
    ck_assert_str_eq(csv.names[0], "x, y");
    ck_assert_str_eq(csv.names[1], "he said \"hi\"");
    ck_assert_str_eq(csv.names[2], "plain");
    check_values(&csv, 2, 3, (double[]){1.5, 2, 3, 4, 5, 6});
    loom_csv_release(&csv);
    /* A quoted name may span lines; the line count keeps up. */
    path = write_text("q2.csv", "\"two\nlines\",b\n1,2\n3,x\n");
    ck_assert_int_eq(loom_csv_read(&csv, path, &with_header), LOOM_EFORMAT);
    ck_assert_str_eq(csv.error, "4:2: expected number, got \"x\"");
}
END_TEST

START_TEST(test_rownames)
{
    int64_t live = test_live_blocks();
    loom_csv csv;
    const char *path = write_text("r.csv", "\"rowname\",\"a\",\"b\"\n\"Mazda, RX4\",21,6\nr2,3,4\n");
    ck_assert_int_eq(loom_csv_read(&csv, path, &with_rownames), LOOM_OK);
    check_values(&csv, 2, 2, (double[]){21, 6, 3, 4});
    ck_assert_uint_eq(csv.name_count, 2); /* the row-name column's header is dropped */
    ck_assert_str_eq(csv.names[0], "a");
    ck_assert_str_eq(csv.names[1], "b");
    ck_assert_str_eq(csv.rownames[0], "Mazda, RX4");
    ck_assert_str_eq(csv.rownames[1], "r2");
    loom_csv_release(&csv);
    loom_csv_options names_only = {0, 1, ',', 0};
    ck_assert_int_eq(loom_csv_read(&csv, write_text("r2.csv", "x,1\ny,2\n"), &names_only), LOOM_OK);
    check_values(&csv, 2, 1, (double[]){1, 2});
    ck_assert_ptr_null(csv.names);
    ck_assert_str_eq(csv.rownames[1], "y");
    loom_csv_release(&csv);
    /* Only row names: a rows x 0 matrix, and nothing leaks. */
    ck_assert_int_eq(loom_csv_read(&csv, write_text("r3.csv", "x\ny\nz\n"), &names_only), LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 3);
    ck_assert_uint_eq(csv.values.cols, 0);
    ck_assert_str_eq(csv.rownames[2], "z");
    loom_csv_release(&csv);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_line_endings_and_blank_lines)
{
    loom_csv csv;
    const double want[] = {1, 2, 3, 4};
    const char *variants[] = {
        "a,b\r\n1,2\r\n3,4\r\n",
        "a,b\n\n1,2\n   \n3,4\n\n\n",
        "a,b\r\n\r\n1,2\r\n\t\r\n3,4",
        "a,b\r1,2\r3,4\r",
    };
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(loom_csv_read(&csv, write_text("e.csv", variants[k]), &with_header), LOOM_OK);
        check_values(&csv, 2, 2, want);
        ck_assert_str_eq(csv.names[1], "b");
        loom_csv_release(&csv);
    }
    /* Line numbers in errors count blank lines and CRLF lines alike. */
    ck_assert_int_eq(loom_csv_read(&csv, write_text("e2.csv", "a,b\r\n\r\n1,2\r\n3,?\r\n"), &with_header),
                     LOOM_EFORMAT);
    ck_assert_str_eq(csv.error, "4:2: expected number, got \"?\"");
}
END_TEST

START_TEST(test_separators)
{
    loom_csv csv;
    loom_csv_options semi = {1, 0, ';', 0}, tab = {0, 0, '\t', 0}, zero = {0, 0, 0, 0};
    ck_assert_int_eq(loom_csv_read(&csv, write_text("s.csv", "a;b\n1,5;2\n"), &semi), LOOM_EFORMAT);
    ck_assert_str_eq(csv.error, "2:1: expected number, got \"1,5\"");
    ck_assert_int_eq(loom_csv_read(&csv, write_text("s.csv", "a;\"b;c\"\n1;2\n"), &semi), LOOM_OK);
    ck_assert_str_eq(csv.names[1], "b;c");
    check_values(&csv, 1, 2, (double[]){1, 2});
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("t.tsv", "1\t2\n3\t4\n"), &tab), LOOM_OK);
    check_values(&csv, 2, 2, (double[]){1, 2, 3, 4});
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("z.csv", "1,2\n"), &zero), LOOM_OK); /* 0 means ',' */
    check_values(&csv, 1, 2, (double[]){1, 2});
    loom_csv_release(&csv);
}
END_TEST

START_TEST(test_empty_files)
{
    int64_t live = test_live_blocks();
    loom_csv csv;
    ck_assert_int_eq(loom_csv_read(&csv, write_text("empty.csv", ""), &with_header), LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 0);
    ck_assert_ptr_null(csv.names);
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("h.csv", "a,b\n"), &with_header), LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 0);
    ck_assert_uint_eq(csv.name_count, 2);
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("blank.csv", "\n\n  \n"), &no_header), LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 0);
    loom_csv_release(&csv);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

START_TEST(test_gzip)
{
    /* Big enough to grow the read buffer past its first 64 KiB. */
    enum { ROWS = 5000 };
    size_t cap = ROWS * 40 + 100, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "i,square,half\n");
    for (int i = 0; i < ROWS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%d,%.1f\n", i, i * i, i / 2.0);
    loom_csv plain, gz;
    ck_assert_int_eq(loom_csv_read(&gz, write_file("big.csv.gz", text, len, 1), &with_header), LOOM_OK);
    ck_assert_int_eq(loom_csv_read(&plain, write_file("big.csv", text, len, 0), &with_header), LOOM_OK);
    free(text);
    ck_assert_uint_eq(gz.values.rows, ROWS);
    ck_assert_uint_eq(gz.values.cols, 3);
    ck_assert(*loom_at(&gz.values, ROWS - 1, 1) == (double)(ROWS - 1) * (ROWS - 1));
    ck_assert(*loom_at(&gz.values, 7, 2) == 3.5);
    ck_assert(loom_matrix_allclose(&gz.values, &plain.values, 0, 0));
    ck_assert_str_eq(gz.names[1], "square");
    loom_csv_release(&gz);
    loom_csv_release(&plain);
}
END_TEST

/* A gzip file of `rows` rows "i,i*i" in memory (malloc'ed, *len bytes), compressed with
 * zlib's gzip wrapper so the test can cut it anywhere. */
static unsigned char *gzip_table(int rows, size_t *len)
{
    size_t cap = (size_t)rows * 24 + 16, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text, cap, "i,square\n");
    for (int i = 0; i < rows; i++)
        n += (size_t)snprintf(text + n, cap - n, "%d,%d\n", i, i * i);
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong bound = deflateBound(&z, (uLong)n);
    unsigned char *gz = malloc(bound);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)n;
    z.next_out = gz;
    z.avail_out = (uInt)bound;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *len = z.total_out;
    deflateEnd(&z);
    free(text);
    return gz;
}

/* A .csv.gz cut short reads as an error, never as fewer rows, and a torn last line never
 * becomes a row: half a file once gave 49,941 of 100,000 rows (issue 13, item 2). */
START_TEST(test_gzip_truncated)
{
    size_t len;
    unsigned char *gz = gzip_table(20000, &len);
    int64_t live = test_live_blocks();
    loom_csv csv;
    /* the whole file reads */
    ck_assert_int_eq(loom_csv_read(&csv, write_file("whole.csv.gz", (char *)gz, len, 0), &with_header),
                     LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 20000);
    loom_csv_release(&csv);
    /* half of it, and all but the 8-byte trailer (CRC32 and length), and all but one byte */
    const size_t cuts[] = {len / 2, len - 8, len - 1, 20};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        const char *path = write_file("cut.csv.gz", (char *)gz, cuts[k], 0);
        ck_assert_int_eq(loom_csv_read(&csv, path, &with_header), LOOM_EFORMAT);
        ck_assert_msg(strstr(csv.error, "the gzip stream is truncated") != NULL, "cut %zu: %s",
                      cuts[k], csv.error);
        ck_assert_str_eq(csv.error + strlen(csv.error) - strlen("the file is incomplete"),
                         "the file is incomplete");
        ck_assert_int_eq(test_live_blocks(), live);
    }
    /* a wrong CRC in the trailer */
    gz[len - 6] ^= 0x5a;
    ck_assert_int_eq(loom_csv_read(&csv, write_file("crc.csv.gz", (char *)gz, len, 0), &with_header),
                     LOOM_EFORMAT);
    ck_assert_str_eq(csv.error, "gzip error: incorrect data check");
    ck_assert_int_eq(test_live_blocks(), live);
    free(gz);
}
END_TEST

/* The decompressed text is capped (a 400 KB gzip became 3.7 GB): max_bytes, default 1 GiB. */
START_TEST(test_max_bytes)
{
    size_t len;
    unsigned char *gz = gzip_table(20000, &len);
    const char *path = write_file("capped.csv.gz", (char *)gz, len, 0);
    free(gz);
    int64_t live = test_live_blocks();
    loom_csv csv;
    loom_csv_options small = {1, 0, ',', 1000};
    ck_assert_int_eq(loom_csv_read(&csv, path, &small), LOOM_ERANGE);
    ck_assert_str_eq(csv.error, "the text is longer than max_bytes = 1000 (decompressed); pass a "
                                "larger max_bytes to read it");
    ck_assert_int_eq(test_live_blocks(), live);
    loom_csv_options enough = {1, 0, ',', 1 << 20};
    ck_assert_int_eq(loom_csv_read(&csv, path, &enough), LOOM_OK);
    loom_csv_release(&csv);
    ck_assert_uint_eq(LOOM_CSV_MAX_BYTES, (size_t)1 << 30);
}
END_TEST

/* A UTF-8 byte order mark is not part of the first column's name (issue 13, item 12). */
START_TEST(test_byte_order_mark)
{
    loom_csv csv;
    const char text[] = "\xEF\xBB\xBF" "a,b\n1,2\n";
    ck_assert_int_eq(loom_csv_read(&csv, write_text("bom.csv", text), &with_header), LOOM_OK);
    ck_assert_str_eq(csv.names[0], "a");
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_read(&csv, write_text("bom2.csv", text + 3 - 3), &no_header),
                     LOOM_EFORMAT); /* without a header the mark is skipped, then "a" is no number */
    ck_assert_str_eq(csv.error, "1:1: expected number, got \"a\"");
}
END_TEST

/* Read text and expect LOOM_EFORMAT with exactly this message. */
static void expect_error(const char *text, const loom_csv_options *o, const char *message)
{
    int64_t live = test_live_blocks();
    loom_csv csv;
    ck_assert_int_eq(loom_csv_read(&csv, write_text("bad.csv", text), o), LOOM_EFORMAT);
    ck_assert_str_eq(csv.error, message);
    ck_assert_int_eq(test_live_blocks(), live); /* nothing left allocated */
    loom_csv_release(&csv);                     /* and releasing a failed read is harmless */
}

/* The same text parsed in memory (loom_csv_parse) as read from a file. */
START_TEST(test_parse_in_memory)
{
    static const char text[] = "x,y\n1,2\n3,4\n";
    loom_csv csv;
    ck_assert_int_eq(loom_csv_parse(&csv, text, sizeof text - 1, NULL), LOOM_OK);
    ck_assert_uint_eq(csv.values.rows, 2);
    ck_assert_uint_eq(csv.values.cols, 2);
    ck_assert_double_eq(loom_get(&csv.values, 1, 0), 3.0);
    ck_assert_str_eq(csv.names[1], "y");
    loom_csv_release(&csv);
    /* no NUL needed: the parse stops at len (here inside "45") */
    ck_assert_int_eq(loom_csv_parse(&csv, "1,2\n3,45", 7, &(loom_csv_options){0, 0, ',', 0}), LOOM_OK);
    ck_assert_double_eq(loom_get(&csv.values, 1, 1), 4.0);
    loom_csv_release(&csv);
    ck_assert_int_eq(loom_csv_parse(&csv, text, sizeof text - 1, &(loom_csv_options){1, 0, ',', 4}),
                     LOOM_ERANGE);
    ck_assert_str_eq(csv.error, "the text is longer than 4 bytes");
    loom_csv_release(&csv);
}
END_TEST

START_TEST(test_errors)
{
    expect_error("a,b\n1,2\n3,x\n", &with_header, "3:2: expected number, got \"x\"");
    expect_error("1,,2\n", &no_header, "1:2: expected number, got an empty field");
    expect_error("1,2,\n", &no_header, "1:3: expected number, got an empty field");
    expect_error("1,2\n3,4,5\n", &no_header, "2:3: expected 2 fields, got 3");
    expect_error("1,2,3\n4,5\n", &no_header, "2:2: expected 3 fields, got 2");
    expect_error("n,a\nr1,1\nr2,1,2\n", &with_rownames, "3:3: expected 2 fields, got 3");
    /* A first row of only a row name sets zero columns: a later number is an error, not
     * the start of the table (found by tests/fuzz/fuzz_csv.c: the row names went out of
     * step with the rows, and one leaked). */
    loom_csv_options rownames_only = {0, 1, ',', 0};
    expect_error("a\nb,1\nc,2\n", &rownames_only, "2:2: expected 1 fields, got 2");
    expect_error("a,b\n1,\"2\n", &with_header, "2:2: unterminated quoted field");
    expect_error("a,b\n1,\"2\n\n3\n", &with_header, "2:2: unterminated quoted field");
    expect_error("\"1\"x,2\n", &no_header, "1:1: unexpected character 'x' after a quoted field");
    expect_error("a,b,c\n1,2\n", &with_header, "1:3: header has 3 names but rows have 2 fields");
    expect_error("1,2 3\n", &no_header, "1:2: expected number, got \"2 3\"");
    /* A field too long for the parser's buffer is an error, not a silently cut value. */
    char longfield[700];
    memset(longfield, '1', 600);
    strcpy(longfield + 600, ",2\n");
    expect_error(longfield, &no_header, "1:1: field longer than 511 characters");
}
END_TEST

START_TEST(test_missing_file)
{
    int64_t live = test_live_blocks();
    loom_csv csv;
    char path[400];
    snprintf(path, sizeof path, "%s/no/such/file.csv", tmpdir);
    ck_assert_int_eq(loom_csv_read(&csv, path, &with_header), LOOM_EIO);
    ck_assert_str_eq(csv.error, "cannot open: No such file or directory");
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

/* Fail each allocation of a read in turn: every failure is LOOM_ENOMEM with nothing left
 * allocated, until the read needs no more allocations than we let it have. */
static void check_alloc_failures(const char *path, const loom_csv_options *o, int min_failures)
{
    int64_t live = test_live_blocks();
    int failures = 0;
    for (uint64_t k = 1; k < 10000; k++) {
        loom_csv csv;
        loom_alloc_fail_after(k);
        loom_status st = loom_csv_read(&csv, path, o);
        loom_alloc_fail_after(0);
        if (st == LOOM_OK) {
            loom_csv_release(&csv);
            ck_assert_int_eq(test_live_blocks(), live);
            ck_assert_int_ge(failures, min_failures);
            return;
        }
        ck_assert_int_eq(st, LOOM_ENOMEM);
        ck_assert_str_eq(csv.error, "not enough memory");
        ck_assert_int_eq(test_live_blocks(), live);
        failures++;
    }
    ck_abort_msg("the read never succeeded");
}

START_TEST(test_alloc_failures)
{
    /* Many names: 20 named columns and 200 rows with row names grow both string lists. */
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "id");
    for (int j = 0; j < 20; j++)
        len += (size_t)snprintf(text + len, cap - len, ",c%d", j);
    len += (size_t)snprintf(text + len, cap - len, "\n");
    for (int i = 0; i < 200; i++) {
        len += (size_t)snprintf(text + len, cap - len, "\"row %d\"", i);
        for (int j = 0; j < 20; j++)
            len += (size_t)snprintf(text + len, cap - len, ",%d", (i + j) % 10);
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    check_alloc_failures(write_file("names.csv", text, len, 0), &with_rownames, 20);
    /* Few, wide rows: past the 64 KiB read buffer and the first value buffers. */
    len = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 12000; j++)
            len += (size_t)snprintf(text + len, cap - len, j ? ",%d" : "%d", (i * j) % 100);
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    ck_assert_uint_gt(len, 1 << 16);
    check_alloc_failures(write_file("wide.csv", text, len, 0), &no_header, 5);
    check_alloc_failures(write_file("wide.csv.gz", text, len, 1), &no_header, 5);
    free(text);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("read");
    tcase_add_unchecked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_header_and_values);
    tcase_add_test(tc, test_quoted_fields);
    tcase_add_test(tc, test_rownames);
    tcase_add_test(tc, test_line_endings_and_blank_lines);
    tcase_add_test(tc, test_separators);
    tcase_add_test(tc, test_empty_files);
    tcase_add_test(tc, test_gzip);
    tcase_add_test(tc, test_gzip_truncated);
    tcase_add_test(tc, test_max_bytes);
    tcase_add_test(tc, test_byte_order_mark);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_parse_in_memory);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(csv_suite());
}
