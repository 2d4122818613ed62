/* fuzz_subword.c: libFuzzer target for the sentencepiece model loader (loom_spm_load: the
 * checks of subword_check.c, then the library's own parse): any bytes must give a model
 * or a message, never a crash, a sanitizer report or a leaked block. A model that loads
 * must segment and decode text. Not a test. Seeds: corpus_subword/ (make_subword_corpus.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subword.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Text that reaches the normalisation tables: case, a ligature, accents, CJK, digits. */
static const char SAMPLE[] = "And God said, Let there be light \xef\xac\x81n. Y dijo Dios: "
                             "\xc3\x89l es DIOS \xe9\xac\xb1 1909";

static void fail(const char *why)
{
    fprintf(stderr, "%s\n", why);
    abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int64_t live = loom_alloc_get_stats().live_blocks;
    char msg[256] = "";
    loom_status status = LOOM_OK;
    loom_spm *sp = loom_spm_load(data, size, &status, msg, sizeof msg);
    if (sp == NULL) {
        if (status == LOOM_OK || msg[0] == '\0' || memchr(msg, '\0', sizeof msg) == NULL)
            fail("refused without a status or a message");
    } else {
        size_t n = loom_spm_size(sp), len = 0;
        for (size_t id = 0; id < n; id++)
            if (loom_spm_piece(sp, id, &len) == NULL)
                fail("a piece below size() is missing");
        if (n > 0 && loom_spm_unk_id(sp) >= n)
            fail("the unknown piece's id is outside the vocabulary");
        loom_spm_segments seg;
        memset(&seg, 0, sizeof seg);
        if (loom_spm_encode(sp, SAMPLE, sizeof SAMPLE - 1, &seg, msg, sizeof msg) == LOOM_OK) {
            for (size_t i = 0; i < seg.n; i++)
                if (seg.ids[i] >= n || seg.offsets[i] > seg.offsets[i + 1])
                    fail("a segment with an id or offsets out of range");
            char *text = NULL;
            size_t text_len = 0;
            if (loom_spm_decode(sp, seg.ids, seg.n, &text, &text_len, msg, sizeof msg) == LOOM_OK) {
                if (text == NULL || text[text_len] != '\0')
                    fail("decoded text without its NUL");
                loom_free(text);
            }
        }
        loom_spm_segments_free(&seg);
        loom_spm_free(sp);
    }
    if (loom_alloc_get_stats().live_blocks != live) {
        fprintf(stderr, "leaked %lld blocks\n", (long long)(loom_alloc_get_stats().live_blocks - live));
        abort();
    }
    return 0;
}
