/* numwords.h: numbers spelled out in words through ICU's rule-based number format
 * (UNUM_SPELLOUT): "quatre-vingt-dix-sept", "ninety-seven". Not a parser of number words. */
#ifndef LOOM_NUMWORDS_H
#define LOOM_NUMWORDS_H

#include "loom.h"

typedef struct loom_speller loom_speller;

/* A speller for an ICU locale ("fr", "de", "es", "en"); NULL on failure, with *status
 * LOOM_ENOMEM or LOOM_EARG (ICU could not open the locale's spell-out rules). The caller
 * frees it with loom_speller_free (NULL is a no-op). */
loom_speller *loom_speller_open(const char *locale, loom_status *status);
void loom_speller_free(loom_speller *s);

/* The words of n as UTF-8 into out (cap bytes, NUL-terminated), soft hyphens (U+00AD, which
 * German's rules insert) removed; *len gets the byte length. LOOM_ERANGE when out is too
 * small, LOOM_EFORMAT when ICU fails. */
loom_status loom_speller_format(const loom_speller *s, int64_t n, char *out, size_t cap, size_t *len);

#endif
