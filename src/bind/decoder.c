/* decoder.c (binding): the seq2seq decoder userdata over src/core/decoder.c (teacher-forced
 * forward and BPTT, greedy and beam decoding in C) and the beam search bookkeeping of
 * src/core/beam.c for decoders written in Lua. Internal to lua/loom/seq2seq.lua, which
 * checks the public arguments; these check what would otherwise crash. */
#include "bind.h"
#include "decoder.h"

#include <math.h>
#include <string.h>

#define DECODER_T "loom.seq2seq.Decoder"
#define SEARCH_T "loom.seq2seq.BeamSearch"

/* User values: the parameter and gradient tables (they keep the views' owners alive), the
 * last forward's embeddings, keys and outputs (read again by backward), and a scratch
 * buffer of size_t entries (grown, never shrunk). */
enum { UV_PARAMS = 1, UV_GRADS, UV_EMBS, UV_KEYS, UV_OUTS, UV_SCRATCH, DECODER_UVS = UV_SCRATCH };

typedef struct Decoder {
    loom_decoder d;
    loom_beam bm;
    int released;
} Decoder;

typedef struct Search {
    loom_beam bm;
    int released;
} Search;

static Decoder *check_decoder(lua_State *L, int idx)
{
    Decoder *dec = luaL_checkudata(L, idx, DECODER_T);
    if (dec->released)
        luaL_error(L, "attempt to use a released decoder");
    return dec;
}

static Search *check_search(lua_State *L, int idx)
{
    Search *s = luaL_checkudata(L, idx, SEARCH_T);
    if (s->released)
        luaL_error(L, "attempt to use a released beam search");
    return s;
}

/* ---- arguments ---- */

/* n entries of scratch (user value UV_SCRATCH of the userdata at 1), grown on demand
 * keeping what it held. */
static size_t *scratch(lua_State *L, size_t n)
{
    lua_getiuservalue(L, 1, UV_SCRATCH);
    size_t *buf = lua_touserdata(L, -1), had = buf ? lua_rawlen(L, -1) : 0;
    if (had < (n ? n : 1) * sizeof(size_t)) {
        size_t *grown = lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
        if (had)
            memcpy(grown, buf, had);
        buf = grown;
        lua_setiuservalue(L, 1, UV_SCRATCH);
    }
    lua_pop(L, 1);
    return buf;
}

/* The list at idx: n integers in lo..hi into out (minus `shift`: 1 for 1-based rows). */
static void read_sizes(lua_State *L, int idx, size_t n, size_t *out, lua_Integer lo, lua_Integer hi,
                       lua_Integer shift, const char *fn, const char *what)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    if ((size_t)lua_rawlen(L, idx) != n)
        loom_error(L, "%s: %s must have %zu entries, got %zu", fn, what, n, (size_t)lua_rawlen(L, idx));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || v < lo || v > hi)
            loom_error(L, "%s: %s[%zu] must be an integer in %lld..%lld", fn, what, i + 1, (long long)lo,
                       (long long)hi);
        out[i] = (size_t)(v - shift);
    }
}

/* A matrix argument (any dtype; the core checks dtypes and shapes). */
static loom_matrix *arg_matrix(lua_State *L, int idx)
{
    return &loom_checkmatrix_any(L, idx)->m;
}

/* Field key of the table at idx as a matrix (an empty one when absent). */
static loom_matrix field_matrix(lua_State *L, int idx, const char *key, const char *fn)
{
    loom_matrix m = {.ld = 1};
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        Matrix *a = loom_testmatrix_any(L, -1);
        if (!a)
            loom_error(L, "%s: %s must be a matrix", fn, key);
        m = a->m;
    }
    lua_pop(L, 1);
    return m;
}

/* {w_ih, w_hh, b_ih, b_hh, combine, embedding, gen_w, gen_b, attn = {w, u, b, v}} */
static void read_params(lua_State *L, int idx, loom_decoder_params *p, const char *fn)
{
    p->w_ih = field_matrix(L, idx, "w_ih", fn);
    p->w_hh = field_matrix(L, idx, "w_hh", fn);
    p->b_ih = field_matrix(L, idx, "b_ih", fn);
    p->b_hh = field_matrix(L, idx, "b_hh", fn);
    p->combine = field_matrix(L, idx, "combine", fn);
    p->embedding = field_matrix(L, idx, "embedding", fn);
    p->gen_w = field_matrix(L, idx, "gen_w", fn);
    p->gen_b = field_matrix(L, idx, "gen_b", fn);
    if (lua_getfield(L, idx, "attn") == LUA_TTABLE) {
        int a = lua_gettop(L);
        p->attn.w = field_matrix(L, a, "w", fn);
        p->attn.u = field_matrix(L, a, "u", fn);
        p->attn.b = field_matrix(L, a, "b", fn);
        p->attn.v = field_matrix(L, a, "v", fn);
    }
    lua_pop(L, 1);
}

static const char *const ATTENTION[] = {"none", "dot", "general", "concat", "bahdanau", NULL};

/* new({attention, input_feeding, embed, hidden, attn_size, vocab, dtype}, params, grads) */
static int l_new(lua_State *L)
{
    const char *fn = "seq2seq decoder";
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 1, "attention");
    int kind = luaL_checkoption(L, -1, NULL, ATTENTION);
    lua_pop(L, 1);
    loom_decoder_config cfg = {
        .attention = kind != 0,
        .kind = kind ? (loom_attention_kind)(kind - 1) : LOOM_ATTN_DOT,
        .input_feeding = loom_opt_boolean(L, 1, "input_feeding", 0),
        .embed = (size_t)loom_opt_integer(L, 1, "embed", 0, fn),
        .hidden = (size_t)loom_opt_integer(L, 1, "hidden", 0, fn),
        .attn_dim = (size_t)loom_opt_integer(L, 1, "attn_size", 0, fn),
        .vocab = (size_t)loom_opt_integer(L, 1, "vocab", 0, fn),
        .dtype = loom_opt_dtype(L, 1, LOOM_F64, fn),
    };
    Decoder *dec = lua_newuserdatauv(L, sizeof *dec, DECODER_UVS);
    memset(dec, 0, sizeof *dec);
    luaL_setmetatable(L, DECODER_T);
    loom_check(L, loom_decoder_init(&dec->d, &cfg), fn);
    read_params(L, 2, &dec->d.p, fn);
    read_params(L, 3, &dec->d.g, fn);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, UV_PARAMS);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, UV_GRADS);
    return 1;
}

/* ---- teacher forcing ---- */

/* The lengths argument (nil: every position) into scratch, checked against 0..S. */
static size_t *opt_lengths(lua_State *L, int idx, size_t batch, size_t src_len, const char *fn)
{
    if (lua_isnoneornil(L, idx))
        return NULL;
    size_t *lengths = scratch(L, batch);
    read_sizes(L, idx, batch, lengths, 0, (lua_Integer)src_len, 0, fn, "lengths");
    return lengths;
}

/* dec:forward(outs, embs, h0, c0, keys, lengths|nil, batch) -> outs */
static int m_forward(lua_State *L)
{
    const char *fn = "decoder:forward";
    Decoder *dec = check_decoder(L, 1);
    loom_matrix *outs = arg_matrix(L, 2), *embs = arg_matrix(L, 3), *h0 = arg_matrix(L, 4);
    loom_matrix *c0 = arg_matrix(L, 5), *keys = arg_matrix(L, 6);
    lua_Integer batch = luaL_checkinteger(L, 8);
    luaL_argcheck(L, batch >= 1 && keys->rows % (size_t)batch == 0, 8, "batch must divide the key rows");
    size_t *lengths = opt_lengths(L, 7, (size_t)batch, keys->rows / (size_t)batch, fn);
    loom_check(L, loom_decoder_forward(&dec->d, outs, embs, h0, c0, keys, lengths, (size_t)batch), fn);
    const int kept[][2] = {{3, UV_EMBS}, {6, UV_KEYS}, {2, UV_OUTS}};
    for (int i = 0; i < 3; i++) {
        lua_pushvalue(L, kept[i][0]);
        lua_setiuservalue(L, 1, kept[i][1]);
    }
    lua_pushvalue(L, 2);
    return 1;
}

/* dec:backward(dembs, dkeys, dh0, dc0, douts): dembs, dh0, dc0 overwritten, dkeys and the
 * gradients accumulate. */
static int m_backward(lua_State *L)
{
    Decoder *dec = check_decoder(L, 1);
    loom_matrix *dembs = arg_matrix(L, 2), *dkeys = arg_matrix(L, 3), *dh0 = arg_matrix(L, 4);
    loom_matrix *dc0 = arg_matrix(L, 5), *douts = arg_matrix(L, 6);
    if (!dec->d.have_forward)
        return luaL_error(L, "decoder:backward: call forward first");
    loom_check(L, loom_decoder_backward(&dec->d, dembs, dkeys, dh0, dc0, douts), "decoder:backward");
    return 0;
}

/* ---- decoding ---- */

/* dec:start(keys, lengths|nil, h0, c0, beam) */
static int m_start(lua_State *L)
{
    const char *fn = "decoder:start";
    Decoder *dec = check_decoder(L, 1);
    loom_matrix *keys = arg_matrix(L, 2), *h0 = arg_matrix(L, 4), *c0 = arg_matrix(L, 5);
    lua_Integer beam = luaL_checkinteger(L, 6);
    size_t B = h0->rows;
    luaL_argcheck(L, beam >= 1, 6, "beam must be >= 1");
    luaL_argcheck(L, B >= 1 && keys->rows % B == 0, 2, "keys must hold S blocks of the batch");
    size_t *lengths = opt_lengths(L, 3, B, keys->rows / B, fn);
    loom_check(L, loom_decoder_start(&dec->d, keys, lengths, h0, c0, (size_t)beam), fn);
    return 0;
}

/* dec:step(ids, logprobs [, weights]): the log-probabilities (R x V) and the attention
 * (R x S) of the next step into the given matrices. */
static int m_step(lua_State *L)
{
    const char *fn = "decoder:step";
    Decoder *dec = check_decoder(L, 1);
    size_t R = dec->d.rows;
    if (R == 0)
        return luaL_error(L, "%s: call start first", fn);
    loom_matrix *lp = arg_matrix(L, 3), *wts = lua_isnoneornil(L, 4) ? NULL : arg_matrix(L, 4);
    read_sizes(L, 2, R, dec->d.w.ids, 1, (lua_Integer)dec->d.cfg.vocab, 0, fn, "ids");
    loom_check(L, loom_decoder_step(&dec->d, dec->d.w.ids), fn);
    loom_check(L, loom_matrix_copy(lp, &dec->d.w.logprobs), fn);
    if (wts && dec->d.cfg.attention)
        loom_check(L, loom_matrix_copy(wts, &dec->d.w.weights), fn);
    return 0;
}

/* dec:reorder(rows): row r continues row rows[r] (1-based). */
static int m_reorder(lua_State *L)
{
    const char *fn = "decoder:reorder";
    Decoder *dec = check_decoder(L, 1);
    size_t R = dec->d.rows;
    if (R == 0)
        return luaL_error(L, "%s: call start first", fn);
    size_t *parents = scratch(L, R);
    read_sizes(L, 2, R, parents, 1, (lua_Integer)R, 1, fn, "rows");
    loom_check(L, loom_decoder_reorder(&dec->d, parents), fn);
    return 0;
}

/* Push {t1, ..., tn} of n sizes. */
static void push_ids(lua_State *L, const size_t *ids, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)ids[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* dec:greedy(limits, bos, eos [, weights]) -> {ids, ...} per sequence, steps run. */
static int m_greedy(lua_State *L)
{
    const char *fn = "decoder:greedy";
    Decoder *dec = check_decoder(L, 1);
    size_t B = dec->d.rows, max_len = 0;
    if (B == 0 || dec->d.beam != 1)
        return luaL_error(L, "%s: call start with beam 1 first", fn);
    lua_Integer bos = luaL_checkinteger(L, 3), eos = luaL_checkinteger(L, 4);
    loom_matrix *wts = lua_isnoneornil(L, 5) ? NULL : arg_matrix(L, 5);
    size_t *limits = scratch(L, B);
    read_sizes(L, 2, B, limits, 1, LOOM_MAX_DIM, 0, fn, "limits");
    for (size_t b = 0; b < B; b++)
        max_len = limits[b] > max_len ? limits[b] : max_len;
    if (max_len > LOOM_MAX_DIM / (B + 2))
        return luaL_error(L, "%s: limits too large", fn);
    size_t *buf = scratch(L, B * (max_len + 2)); /* limits stay in front */
    limits = buf;
    size_t *lens = buf + B, *ids = buf + 2 * B, steps = 0;
    loom_check(L, loom_decoder_greedy(&dec->d, ids, lens, &steps, wts, limits, (size_t)bos, (size_t)eos), fn);
    lua_createtable(L, (int)B, 0);
    for (size_t b = 0; b < B; b++) {
        push_ids(L, ids + b * max_len, lens[b]);
        lua_rawseti(L, -2, (lua_Integer)b + 1);
    }
    lua_pushinteger(L, (lua_Integer)steps);
    return 2;
}

/* Per sequence {{ids =, score =, logprob =}, ...} best first; ids from scratch. */
static void push_answers(lua_State *L, const loom_beam *bm, size_t *ids)
{
    lua_createtable(L, (int)bm->batch, 0);
    for (size_t b = 0; b < bm->batch; b++) {
        size_t n = loom_beam_count(bm, b);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            double score, logprob;
            loom_beam_answer(bm, b, i, ids, &len, &score, &logprob);
            lua_createtable(L, 0, 3);
            push_ids(L, ids, len);
            lua_setfield(L, -2, "ids");
            lua_pushnumber(L, score);
            lua_setfield(L, -2, "score");
            lua_pushnumber(L, logprob);
            lua_setfield(L, -2, "logprob");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_rawseti(L, -2, (lua_Integer)b + 1);
    }
}

/* Arguments of a search at idx..idx+5: limits (B), nbest, alpha, bos, eos, pad. */
static void reset_search(lua_State *L, loom_beam *bm, int idx, size_t batch, size_t beam, size_t vocab,
                         size_t *limits, const char *fn)
{
    read_sizes(L, idx, batch, limits, 1, LOOM_MAX_DIM, 0, fn, "limits");
    lua_Integer nbest = luaL_checkinteger(L, idx + 1);
    double alpha = luaL_checknumber(L, idx + 2);
    lua_Integer bos = luaL_checkinteger(L, idx + 3), eos = luaL_checkinteger(L, idx + 4);
    lua_Integer pad = luaL_checkinteger(L, idx + 5);
    luaL_argcheck(L, nbest >= 1 && (size_t)nbest <= beam, idx + 1, "nbest must be in 1..beam");
    luaL_argcheck(L, eos >= 1 && (size_t)eos <= vocab, idx + 4, "eos must be a token id");
    loom_check(L, loom_beam_reset(bm, batch, beam, vocab, limits, (size_t)nbest, alpha, (size_t)bos,
                                  (size_t)eos, (size_t)pad), fn);
}

/* dec:beam(limits, nbest, alpha, bos, eos, pad) -> answers, after start(..., beam). */
static int m_beam(lua_State *L)
{
    const char *fn = "decoder:beam";
    Decoder *dec = check_decoder(L, 1);
    size_t R = dec->d.rows, k = dec->d.beam;
    if (R == 0)
        return luaL_error(L, "%s: call start first", fn);
    size_t B = R / k;
    reset_search(L, &dec->bm, 2, B, k, dec->d.cfg.vocab, scratch(L, B), fn);
    loom_check(L, loom_decoder_beam(&dec->d, &dec->bm), fn);
    push_answers(L, &dec->bm, scratch(L, dec->bm.max_len));
    return 1;
}

static int m_release(lua_State *L)
{
    Decoder *dec = luaL_checkudata(L, 1, DECODER_T);
    if (dec->released)
        return 0;
    dec->released = 1;
    loom_decoder_release(&dec->d);
    loom_beam_release(&dec->bm);
    return 0;
}

/* ---- beam search for decoders written in Lua ---- */

/* search(batch, beam, vocab, limits, nbest, alpha, bos, eos, pad) */
static int l_search(lua_State *L)
{
    const char *fn = "seq2seq.beam_search";
    lua_Integer B = luaL_checkinteger(L, 1), k = luaL_checkinteger(L, 2), V = luaL_checkinteger(L, 3);
    luaL_argcheck(L, B >= 1 && (lua_Unsigned)B <= LOOM_MAX_DIM, 1, "batch must be >= 1");
    luaL_argcheck(L, k >= 1 && (lua_Unsigned)k <= LOOM_MAX_DIM, 2, "beam must be >= 1");
    luaL_argcheck(L, V >= 1 && (lua_Unsigned)V <= LOOM_MAX_DIM, 3, "vocab must be >= 1");
    Search *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SEARCH_T);
    size_t *limits = lua_newuserdatauv(L, (size_t)B * sizeof(size_t), 0);
    lua_setiuservalue(L, -2, 1);
    reset_search(L, &s->bm, 4, (size_t)B, (size_t)k, (size_t)V, limits, fn);
    return 1;
}

/* s:begin_step() -> true when every sequence is done */
static int s_begin_step(lua_State *L)
{
    lua_pushboolean(L, loom_beam_begin_step(&check_search(L, 1)->bm));
    return 1;
}

/* s:advance(logprobs, ids, rows) -> done: ids[r] the next token of row r, rows[r] the row
 * (1-based) it continues. */
static int s_advance(lua_State *L)
{
    Search *s = check_search(L, 1);
    loom_matrix *lp = arg_matrix(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    int done = 0;
    if (lp->rows != s->bm.batch * s->bm.beam || lp->cols != s->bm.vocab)
        return loom_error(L, "seq2seq.beam_search: expected %zux%zu log-probabilities, got %zux%zu",
                          s->bm.batch * s->bm.beam, s->bm.vocab, lp->rows, lp->cols);
    loom_check(L, loom_beam_advance(&s->bm, lp, &done), "seq2seq.beam_search");
    for (size_t r = 0; r < s->bm.batch * s->bm.beam; r++) {
        lua_pushinteger(L, (lua_Integer)s->bm.ids[r]);
        lua_rawseti(L, 3, (lua_Integer)r + 1);
        lua_pushinteger(L, (lua_Integer)s->bm.parents[r] + 1);
        lua_rawseti(L, 4, (lua_Integer)r + 1);
    }
    lua_pushboolean(L, done);
    return 1;
}

static int s_answers(lua_State *L)
{
    Search *s = check_search(L, 1);
    size_t *ids = lua_newuserdatauv(L, (s->bm.max_len ? s->bm.max_len : 1) * sizeof(size_t), 0);
    push_answers(L, &s->bm, ids);
    return 1;
}

static int s_release(lua_State *L)
{
    Search *s = luaL_checkudata(L, 1, SEARCH_T);
    if (!s->released) {
        s->released = 1;
        loom_beam_release(&s->bm);
    }
    return 0;
}

static const luaL_Reg decoder_methods[] = {
    {"forward", m_forward}, {"backward", m_backward}, {"start", m_start}, {"step", m_step},
    {"reorder", m_reorder}, {"greedy", m_greedy}, {"beam", m_beam}, {"close", m_release},
    {NULL, NULL}};

static const luaL_Reg search_methods[] = {
    {"begin_step", s_begin_step}, {"advance", s_advance}, {"answers", s_answers},
    {"close", s_release}, {NULL, NULL}};

static const luaL_Reg functions[] = {{"new", l_new}, {"search", l_search}, {NULL, NULL}};

int loom_open_decoder(lua_State *L)
{
    static const loom_class decoder_class = {DECODER_T, "seq2seq decoder", decoder_methods, NULL,
                                             m_release, 0, NULL};
    static const loom_class search_class = {SEARCH_T, "beam search", search_methods, NULL,
                                            s_release, 0, NULL};
    loom_newclass(L, &decoder_class);
    loom_newclass(L, &search_class);
    lua_pop(L, 2);
    luaL_newlib(L, functions);
    return 1;
}
