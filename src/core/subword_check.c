/* subword_check.c: the checks a sentencepiece model file passes before the library parses
 * it. The library trusts the file's normalisation tables (a Darts double-array trie and the
 * strings it points to) and walks them unchecked, so a damaged table reads outside its
 * buffer. Not a parser of the model: the library reads it once it has passed. */
#include "subword.h"

#include <string.h>

#include "kernel.h"

/* Field numbers of sentencepiece_model.proto: ModelProto.normalizer_spec = 3,
 * ModelProto.denormalizer_spec = 5, NormalizerSpec.precompiled_charsmap = 2. */
enum { MODEL_NORMALIZER = 3, MODEL_DENORMALIZER = 5, SPEC_CHARSMAP = 2 };

/* The normalizer keeps this many prefix matches of the trie on its stack and reads back
 * as many as the trie reports: no path may hold more matches than that. */
#define TRIE_MAX_RESULTS 32

/* ---- protocol-buffer framing ---- */

typedef struct reader {
    const uint8_t *start, *p, *end;
} reader;

static int read_varint(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* The next field of a message: its number, wire type and, for length-delimited fields,
 * the payload. 0 at the end of the message, -1 on broken framing (groups included: model
 * files have none). */
static int next_field(reader *r, uint64_t *field, unsigned *wire, reader *payload)
{
    if (r->p == r->end)
        return 0;
    uint64_t key, n;
    if (!read_varint(r, &key) || (key >> 3) == 0)
        return -1;
    *field = key >> 3;
    *wire = (unsigned)(key & 7);
    size_t left = (size_t)(r->end - r->p);
    switch (*wire) {
    case 0:
        return read_varint(r, &n) ? 1 : -1;
    case 1:
        n = 8;
        break;
    case 5:
        n = 4;
        break;
    case 2:
        if (!read_varint(r, &n))
            return -1;
        left = (size_t)(r->end - r->p);
        break;
    default:
        return -1;
    }
    if (n > left)
        return -1;
    *payload = (reader){r->start, r->p, r->p + n};
    r->p += n;
    return 1;
}

/* ---- the trie of a precompiled charsmap ----
 * Layout: uint32 trie size in bytes (little-endian), the trie's 32-bit units, then the
 * normalised strings, each NUL-terminated, that leaves point at. A search from state s
 * reads unit s ^ c for the next input byte c (any of 256), follows it when its label is c
 * to state (s ^ c) ^ offset, and when that unit has a leaf reads the value at the new
 * state: an offset into the strings. */

typedef struct trie {
    const uint8_t *units;
    size_t count;
    const uint8_t *strings;
    size_t strings_len;
} trie;

static uint32_t unit_at(const trie *t, size_t i)
{
    const uint8_t *b = t->units + 4 * i;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & 0x7fffffffu; }
static uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xffu); }
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* A state is safe to search from when every unit an input byte can select is inside. */
static int state_inside(const trie *t, size_t s)
{
    return (s | 0xff) < t->count;
}

/* A leaf's value must point at a NUL-terminated string inside the strings. */
static int leaf_inside(const trie *t, size_t state)
{
    if (state >= t->count)
        return 0;
    size_t v = unit_value(unit_at(t, state));
    return v < t->strings_len && memchr(t->strings + v, 0, t->strings_len - v) != NULL;
}

typedef struct frame {
    uint32_t state;
    uint16_t next_byte; /* 0..256 */
    uint8_t best;       /* most matches on a path below, so far */
    uint8_t child_leaf; /* the child being visited is reached through a leaf */
} frame;

enum { NEW = 0, ON_PATH = 1, DONE = 2 };

static uint8_t add_capped(unsigned a, unsigned b)
{
    return (uint8_t)(a + b > 255 ? 255 : a + b);
}

/* Depth-first over every state the search can reach: each must be inside, each leaf must
 * point inside the strings, no state may lead back to itself (a search would never stop
 * matching), and no path may hold more than TRIE_MAX_RESULTS matches. */
static loom_status walk_trie(const trie *t, char *msg, size_t cap)
{
    uint8_t *mark = loom_calloc(t->count, 2);
    frame *stack = loom_malloc(sizeof *stack * t->count);
    if (!mark || !stack) {
        loom_free(mark), loom_free(stack);
        return LOOM_ENOMEM;
    }
    uint8_t *best = mark + t->count; /* per state: most matches below it */
    loom_status st = LOOM_OK;
    size_t depth = 0;
    uint32_t root = unit_offset(unit_at(t, 0));
    if (!state_inside(t, root)) {
        st = loom_fail(msg, cap, LOOM_EFORMAT, "its root leads outside the trie");
        goto done;
    }
    stack[depth++] = (frame){root, 0, 0, 0};
    mark[root] = ON_PATH;
    while (depth > 0 && st == LOOM_OK) {
        frame *f = &stack[depth - 1];
        if (f->next_byte == 256) {
            mark[f->state] = DONE;
            best[f->state] = f->best;
            depth--;
            if (depth > 0) {
                frame *parent = &stack[depth - 1];
                uint8_t via = add_capped(parent->child_leaf, f->best);
                if (via > parent->best)
                    parent->best = via;
                parent->next_byte++;
            }
            continue;
        }
        unsigned c = f->next_byte;
        size_t index = f->state ^ c;
        uint32_t u = unit_at(t, index);
        if (unit_label(u) != c) {
            f->next_byte++;
            continue;
        }
        uint32_t child = (uint32_t)index ^ unit_offset(u);
        unsigned leaf = (unsigned)unit_has_leaf(u);
        if (leaf && !leaf_inside(t, child)) {
            st = loom_fail(msg, cap, LOOM_EFORMAT, "a leaf points outside its strings (unit %zu)", index);
        } else if (!state_inside(t, child)) {
            st = loom_fail(msg, cap, LOOM_EFORMAT, "a transition leads outside the trie (unit %zu)", index);
        } else if (mark[child] == ON_PATH) {
            st = loom_fail(msg, cap, LOOM_EFORMAT, "it has a cycle (unit %zu)", index);
        } else if (mark[child] == DONE) {
            uint8_t via = add_capped(leaf, best[child]);
            if (via > f->best)
                f->best = via;
            f->next_byte++;
        } else {
            f->child_leaf = (uint8_t)leaf;
            mark[child] = ON_PATH;
            stack[depth++] = (frame){child, 0, 0, 0};
        }
    }
    if (st == LOOM_OK && stack[0].best > TRIE_MAX_RESULTS)
        st = loom_fail(msg, cap, LOOM_EFORMAT, "a path has %u prefix matches (the library keeps %d)",
                       (unsigned)stack[0].best, TRIE_MAX_RESULTS);
done:
    loom_free(mark);
    loom_free(stack);
    return st;
}

/* One precompiled charsmap (empty: no normalisation). The library reads the trie size,
 * then takes the trie and the strings after it. */
static loom_status check_charsmap(const reader *blob, char *msg, size_t cap)
{
    size_t len = (size_t)(blob->end - blob->p);
    if (len == 0)
        return LOOM_OK;
    if (len <= 4)
        return loom_fail(msg, cap, LOOM_EFORMAT, "it is %zu bytes long", len);
    const uint8_t *b = blob->p;
    size_t trie_bytes = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
    if (trie_bytes < 4 * 256 || trie_bytes >= len - 4)
        return loom_fail(msg, cap, LOOM_EFORMAT, "its trie of %zu bytes is not within 1024 .. %zu bytes",
                         trie_bytes, len - 5);
    trie t = {b + 4, trie_bytes / 4, b + 4 + trie_bytes, len - 4 - trie_bytes};
    return walk_trie(&t, msg, cap);
}

/* Every precompiled_charsmap in a normalizer or denormalizer spec. The library keeps the
 * last of repeated fields, so each is checked. */
static loom_status check_spec(reader spec, char *msg, size_t cap)
{
    uint64_t field;
    unsigned wire;
    reader payload;
    int more;
    while ((more = next_field(&spec, &field, &wire, &payload)) > 0) {
        if (field == SPEC_CHARSMAP && wire == 2) {
            size_t at = (size_t)(payload.p - payload.start);
            char why[160];
            loom_status st = check_charsmap(&payload, why, sizeof why);
            if (st == LOOM_EFORMAT)
                return loom_fail(msg, cap, st, "the normalisation table at byte %zu is damaged: %s", at, why);
            if (st != LOOM_OK)
                return st;
        }
    }
    if (more < 0)
        return loom_fail(msg, cap, LOOM_EFORMAT, "not a sentencepiece model (broken framing at byte %zu)",
                         (size_t)(spec.p - spec.start));
    return LOOM_OK;
}

loom_status loom_spm_check_model(const void *bytes, size_t len, char *msg, size_t cap)
{
    if (len == 0)
        return loom_fail(msg, cap, LOOM_EFORMAT, "not a sentencepiece model (empty)");
    reader model = {bytes, bytes, (const uint8_t *)bytes + len};
    uint64_t field;
    unsigned wire;
    reader payload;
    int more;
    while ((more = next_field(&model, &field, &wire, &payload)) > 0) {
        if ((field == MODEL_NORMALIZER || field == MODEL_DENORMALIZER) && wire == 2) {
            loom_status st = check_spec(payload, msg, cap);
            if (st != LOOM_OK)
                return st;
        }
    }
    if (more < 0)
        return loom_fail(msg, cap, LOOM_EFORMAT, "not a sentencepiece model (broken framing at byte %zu)",
                         (size_t)(model.p - model.start));
    return LOOM_OK;
}
