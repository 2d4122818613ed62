/* numwords.c: the spell-out of numwords.h over ICU's unum_* C API (libicu-dev). Not the
 * dataset generator (datasets/numbers.lua). */
#include "numwords.h"

#include <string.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

struct loom_speller {
    UNumberFormat *format; /* owned; closed by loom_speller_free */
};

loom_speller *loom_speller_open(const char *locale, loom_status *status)
{
    loom_speller *s = loom_calloc(1, sizeof *s);
    if (!s) {
        *status = LOOM_ENOMEM;
        return NULL;
    }
    UErrorCode err = U_ZERO_ERROR;
    s->format = unum_open(UNUM_SPELLOUT, NULL, 0, locale, NULL, &err);
    if (U_FAILURE(err) || !s->format) {
        loom_speller_free(s);
        *status = err == U_MEMORY_ALLOCATION_ERROR ? LOOM_ENOMEM : LOOM_EARG;
        return NULL;
    }
    *status = LOOM_OK;
    return s;
}

void loom_speller_free(loom_speller *s)
{
    if (!s)
        return;
    if (s->format)
        unum_close(s->format);
    loom_free(s);
}

/* Drop U+00AD in place; returns the new length. */
static int32_t strip_soft_hyphens(UChar *text, int32_t n)
{
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++)
        if (text[i] != 0x00AD)
            text[k++] = text[i];
    return k;
}

loom_status loom_speller_format(const loom_speller *s, int64_t n, char *out, size_t cap, size_t *len)
{
    UChar words[512];
    UErrorCode err = U_ZERO_ERROR;
    int32_t count = unum_formatInt64(s->format, n, words, 512, NULL, &err);
    if (U_FAILURE(err) || count >= 512)
        return err == U_BUFFER_OVERFLOW_ERROR || count >= 512 ? LOOM_ERANGE : LOOM_EFORMAT;
    count = strip_soft_hyphens(words, count);
    int32_t bytes = 0;
    err = U_ZERO_ERROR;
    u_strToUTF8(out, cap > INT32_MAX ? INT32_MAX : (int32_t)cap, &bytes, words, count, &err);
    if (err == U_BUFFER_OVERFLOW_ERROR || err == U_STRING_NOT_TERMINATED_WARNING || (size_t)bytes >= cap)
        return LOOM_ERANGE;
    if (U_FAILURE(err))
        return LOOM_EFORMAT;
    *len = (size_t)bytes;
    return LOOM_OK;
}
