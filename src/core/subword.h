/* subword.h: subword units through the sentencepiece library (Debian libsentencepiece-dev)
 * behind a C interface: train a model file, load one, encode text into pieces and ids,
 * decode ids into text. subword.cpp is the one C++ file (it wraps the library and lets no
 * exception out); subword_check.c checks a model file's bytes before the library parses
 * them. Not a segmenter of loom's own. Ids here are the library's, 0-based. */
#ifndef LOOM_SUBWORD_H
#define LOOM_SUBWORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* loom.h is C and says nothing of C++ */
#endif

#include "loom.h"

typedef struct loom_spm loom_spm;

/* Train a model as spm_train does: n_options flag names and values ("model_prefix", "m";
 * "vocab_size", "8000"; ...) and, when count > 0, the training sentences (sentences[i] of
 * lens[i] bytes) in place of the "input" files. Writes <model_prefix>.model and .vocab.
 * LOOM_EARG with the library's reason in msg (cap bytes) when it refuses. */
loom_status loom_spm_train(const char *const *keys, const char *const *values, size_t n_options,
                           const char *const *sentences, const size_t *lens, size_t count,
                           char *msg, size_t cap);

/* A model from the bytes of a model file (copied), checked by loom_spm_check_model first.
 * NULL on failure with *status LOOM_EFORMAT (not a model, or one the library would misread)
 * or LOOM_ENOMEM, and the reason in msg. Free it with loom_spm_free (NULL is a no-op). */
loom_spm *loom_spm_load(const void *bytes, size_t len, loom_status *status, char *msg, size_t cap);
void loom_spm_free(loom_spm *sp);

/* Pieces in the vocabulary; ids are 0 .. size - 1. */
size_t loom_spm_size(const loom_spm *sp);
/* The text of piece id (*len bytes, NUL-terminated, owned by sp); NULL when id >= size. */
const char *loom_spm_piece(const loom_spm *sp, size_t id, size_t *len);
/* The id of a piece (len bytes); the unknown piece's id when the vocabulary lacks it. */
size_t loom_spm_piece_id(const loom_spm *sp, const char *piece, size_t len);
/* The unknown piece's id. */
size_t loom_spm_unk_id(const loom_spm *sp);

/* A segmentation: n pieces; piece i is text[offsets[i] .. offsets[i + 1]) with id ids[i].
 * Filled by loom_spm_encode, freed by loom_spm_segments_free (safe on a zeroed struct). */
typedef struct loom_spm_segments {
    size_t n;
    uint32_t *ids;    /* n ids */
    size_t *offsets;  /* n + 1 byte offsets into text */
    char *text;       /* the pieces back to back, NUL-terminated; loom_malloc'd */
} loom_spm_segments;

/* Segment text (len bytes). LOOM_EARG with the library's reason in msg when it refuses,
 * LOOM_ENOMEM; out is left empty on failure. */
loom_status loom_spm_encode(const loom_spm *sp, const char *text, size_t len,
                            loom_spm_segments *out, char *msg, size_t cap);
void loom_spm_segments_free(loom_spm_segments *s);

/* The text of n ids (each < size, else LOOM_EARG) into *out (loom_malloc'd, *len bytes plus
 * a NUL; the caller frees it with loom_free). */
loom_status loom_spm_decode(const loom_spm *sp, const uint32_t *ids, size_t n, char **out,
                            size_t *len, char *msg, size_t cap);

/* What a model file must pass before the library parses it (subword_check.c): well-formed
 * protocol-buffer framing, and normalisation tables (precompiled_charsmap of the normalizer
 * and denormalizer specs) that the library can walk without reading outside them. The
 * library trusts those tables; a damaged one would crash it. LOOM_EFORMAT with the reason. */
loom_status loom_spm_check_model(const void *bytes, size_t len, char *msg, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
