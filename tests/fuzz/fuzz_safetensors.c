/* fuzz_safetensors.c: libFuzzer target for the safetensors loader: any bytes must give
 * LOOM_OK or a message, never a crash, a sanitizer report or a leaked block. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int64_t live = loom_alloc_get_stats().live_blocks;
    loom_safetensors st;
    loom_status status = loom_safetensors_parse(&st, data, size);
    if (status == LOOM_OK) {
        /* Touch every value in its own dtype (F32 tensors load as float32): the reader
         * claims they are all initialised. */
        volatile double sum = 0;
        for (size_t i = 0; i < st.count; i++) {
            const loom_matrix *v = &st.tensors[i].values;
            for (size_t r = 0; r < v->rows; r++)
                for (size_t c = 0; c < v->cols; c++)
                    sum += loom_get(v, r, c);
        }
        (void)sum;
    } else if (st.error[0] == '\0' || memchr(st.error, '\0', sizeof st.error) == NULL) {
        fprintf(stderr, "failure without a message (status %d)\n", (int)status);
        abort();
    }
    loom_safetensors_release(&st);
    if (loom_alloc_get_stats().live_blocks != live) {
        fprintf(stderr, "leaked %lld blocks\n", (long long)(loom_alloc_get_stats().live_blocks - live));
        abort();
    }
    return 0;
}
