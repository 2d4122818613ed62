/* fuzz_csv.c: libFuzzer target for the CSV parser (loom_csv_parse, what loom.read_csv runs
 * on a file's text): any bytes, with the header/rownames/separator options taken from the
 * first byte, must give a table or a message, never a crash, a sanitizer report or a
 * leaked block; a table's row names and column names must match its shape. Not a test.
 * Seeds: corpus_csv/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void fail(const char *why)
{
    fprintf(stderr, "%s\n", why);
    abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char seps[] = {',', ';', '\t', ' '};
    unsigned flags = data[0];
    loom_csv_options o = {(int)(flags & 1), (int)((flags >> 1) & 1), seps[(flags >> 2) & 3],
                          (flags & 0x80) ? 64 : 0};
    int64_t live = loom_alloc_get_stats().live_blocks;
    loom_csv csv;
    loom_status status = loom_csv_parse(&csv, (const char *)data + 1, size - 1, &o);
    if (status == LOOM_OK) {
        const loom_matrix *v = &csv.values;
        volatile double sum = 0;
        for (size_t r = 0; r < v->rows; r++)
            for (size_t c = 0; c < v->cols; c++)
                sum += loom_get(v, r, c);
        (void)sum;
        if (csv.names && csv.name_count != v->cols && v->rows > 0)
            fail("column names do not match the columns");
        for (size_t i = 0; csv.names && i < csv.name_count; i++)
            if (csv.names[i] == NULL)
                fail("a missing column name");
        if (csv.rownames && !o.rownames)
            fail("row names without the rownames option");
        for (size_t r = 0; csv.rownames && r < v->rows; r++)
            if (csv.rownames[r] == NULL)
                fail("a missing row name");
        loom_csv_release(&csv);
    } else if (csv.error[0] == '\0' || memchr(csv.error, '\0', sizeof csv.error) == NULL) {
        fprintf(stderr, "failure without a message (status %d)\n", (int)status);
        abort();
    } else {
        loom_csv_release(&csv);
    }
    if (loom_alloc_get_stats().live_blocks != live) {
        fprintf(stderr, "leaked %lld blocks\n", (long long)(loom_alloc_get_stats().live_blocks - live));
        abort();
    }
    return 0;
}
