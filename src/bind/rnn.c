/* rnn.c (binding): the recurrent layer userdata: fused sequence layers (nn.RNN, nn.LSTM,
 * nn.GRU) and single-step cells (nn.*Cell) over src/core/rnn.c. Not the nn table itself
 * (lua/loom/nn/recurrent.lua adds the constructors, state_dict and load_state_dict). */
#include "bind.h"
#include "rnn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LOOM_RNN_T "loom.nn.rnn"
#define LOOM_CELL_T "loom.nn.cell"

/* User values: the last forward's final states (sequence layers) or the state the last
 * step started from (cells), and the last backward's gradients at the initial states. */
enum { UV_H = 1, UV_C, UV_DH0, UV_DC0, UV_COUNT = UV_DC0 };

typedef struct Layer {
    loom_rnn r;
    int cell;
    size_t batch; /* default batch size of forward (0: infer) */
} Layer;

/* luaL_error with the C library's printf formats (%zu), which lua_pushfstring lacks. */
static int rnn_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rnn_error(lua_State *L, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return luaL_error(L, "%s", buf);
}

static Layer *tolayer(lua_State *L, int idx)
{
    Layer *ly = luaL_testudata(L, idx, LOOM_RNN_T);
    if (!ly)
        ly = luaL_checkudata(L, idx, LOOM_CELL_T);
    return ly;
}

/* "nn.LSTM", "nn.GRUCell", ... */
static const char *layer_name(const Layer *ly)
{
    static const char *const seq[] = {"nn.RNN", "nn.RNN", "nn.LSTM", "nn.GRU"};
    static const char *const cells[] = {"nn.RNNCell", "nn.RNNCell", "nn.LSTMCell", "nn.GRUCell"};
    return ly->cell ? cells[ly->r.cfg.kind] : seq[ly->r.cfg.kind];
}

static int is_lstm(const Layer *ly)
{
    return ly->r.cfg.kind == LOOM_LSTM;
}

static size_t units(const Layer *ly)
{
    return ly->r.cfg.layers * ly->r.dirs;
}

static int layer_gc(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    loom_rnn_release(&ly->r);
    return 0;
}

/* core.rnn.new(kind, input, hidden, {layers, bidirectional, dropout, batch, cell, nonlinearity}) */
static int l_new(lua_State *L)
{
    static const char *const kinds[] = {"RNN", "LSTM", "GRU", NULL};
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    size_t input = loom_checksize(L, 2, "nn.RNN", "input size");
    size_t hidden = loom_checksize(L, 3, "nn.RNN", "hidden size");
    luaL_checktype(L, 4, LUA_TTABLE);
    loom_rnn_config cfg = {LOOM_RNN_TANH, input, hidden, 1, 0, 0.0};
    lua_getfield(L, 4, "cell");
    int cell = lua_toboolean(L, -1);
    lua_getfield(L, 4, "layers");
    lua_Integer layers = luaL_optinteger(L, -1, 1);
    lua_getfield(L, 4, "bidirectional");
    cfg.bidirectional = lua_toboolean(L, -1);
    lua_getfield(L, 4, "dropout");
    cfg.dropout = luaL_optnumber(L, -1, 0.0);
    lua_getfield(L, 4, "batch");
    lua_Integer batch = luaL_optinteger(L, -1, 0);
    lua_getfield(L, 4, "nonlinearity");
    const char *nl = luaL_optstring(L, -1, "tanh");
    lua_getfield(L, 4, "name");
    const char *fn = luaL_optstring(L, -1, "nn.RNN");
    if (kind == 1)
        cfg.kind = LOOM_LSTM;
    else if (kind == 2)
        cfg.kind = LOOM_GRU;
    else if (strcmp(nl, "relu") == 0)
        cfg.kind = LOOM_RNN_RELU;
    else if (strcmp(nl, "tanh") != 0)
        return luaL_error(L, "%s: nonlinearity must be \"tanh\" or \"relu\", got \"%s\"", fn, nl);
    if (input == 0 || hidden == 0)
        return rnn_error(L, "%s: input and hidden sizes must be >= 1, got %zu and %zu", fn,
                          input, hidden);
    if (layers < 1)
        return luaL_error(L, "%s: layers must be >= 1, got %I", fn, layers);
    if (!(cfg.dropout >= 0.0 && cfg.dropout < 1.0))
        return rnn_error(L, "%s: dropout must be in [0, 1), got %g", fn, cfg.dropout);
    if (batch < 0)
        return luaL_error(L, "%s: batch must be >= 1, got %I", fn, batch);
    cfg.layers = (size_t)layers;
    Layer *ly = lua_newuserdatauv(L, sizeof *ly, UV_COUNT);
    memset(ly, 0, sizeof *ly);
    ly->cell = cell;
    ly->batch = (size_t)batch;
    luaL_setmetatable(L, cell ? LOOM_CELL_T : LOOM_RNN_T);
    loom_status st = loom_rnn_init(&ly->r, &cfg, loom_getrng(L));
    if (st != LOOM_OK)
        return luaL_error(L, "%s: %s", fn, loom_strerror(st));
    return 1;
}

/* ---- options ---- */

/* The matrix in field `key` of the options table at opts (0: none), or NULL. */
static const loom_matrix *opt_matrix(lua_State *L, int opts, const char *key, const char *fn)
{
    if (opts == 0)
        return NULL;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    Matrix *m = loom_testmatrix(L, -1);
    if (!m)
        luaL_error(L, "%s: %s must be a matrix, got %s", fn, key, luaL_typename(L, -1));
    lua_pop(L, 1); /* still referenced by the options table */
    return &m->m;
}

static lua_Integer opt_integer(lua_State *L, int opts, const char *key, lua_Integer dflt,
                               const char *fn)
{
    if (opts == 0)
        return dflt;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok)
        luaL_error(L, "%s: %s must be an integer, got %s", fn, key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* The lengths option (a list or a matrix of integers) as a size_t array held by a Lua
 * userdata pushed on the stack (so nothing leaks if a later check raises); NULL when absent
 * (then nothing is pushed). *count receives the number of lengths. */
static size_t *opt_lengths(lua_State *L, int opts, size_t *count, const char *fn)
{
    if (opts == 0)
        return NULL;
    lua_getfield(L, opts, "lengths");
    int idx = lua_gettop(L);
    if (lua_isnil(L, idx)) {
        lua_pop(L, 1);
        return NULL;
    }
    Matrix *m = loom_testmatrix(L, idx);
    if (!m && !lua_istable(L, idx))
        luaL_error(L, "%s: lengths must be a list or a matrix, got %s", fn, luaL_typename(L, idx));
    size_t n = m ? loom_numel(&m->m) : (size_t)luaL_len(L, idx);
    size_t *lengths = lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
    for (size_t i = 0; i < n; i++) {
        double v;
        if (m) {
            v = m->m.cols == 1 ? *loom_at(&m->m, i, 0) : *loom_at(&m->m, i / m->m.cols, i % m->m.cols);
        } else {
            lua_geti(L, idx, (lua_Integer)i + 1);
            int ok;
            v = lua_tonumberx(L, -1, &ok);
            if (!ok)
                rnn_error(L, "%s: lengths[%zu] is a %s, expected an integer", fn, i + 1,
                           luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        if (!(v >= 1.0 && v <= 1e15) || v != (double)(size_t)v)
            rnn_error(L, "%s: lengths[%zu] = %g must be a positive integer", fn, i + 1, v);
        lengths[i] = (size_t)v;
    }
    lua_remove(L, idx);
    *count = n;
    return lengths;
}

static void check_state(lua_State *L, const Layer *ly, const loom_matrix *m, size_t B,
                        const char *fn, const char *what)
{
    char got[48];
    if (m && (m->rows != units(ly) * B || m->cols != ly->r.cfg.hidden))
        rnn_error(L, "%s: %s must be %zux%zu (layers*directions*batch x hidden), got %s", fn,
                   what, units(ly) * B, ly->r.cfg.hidden, loom_shape(m, got));
}

/* ---- sequence layers ---- */

/* m:forward(X [, {lengths, h0, c0, batch, out}]) -> out, h_T[, c_T] */
static int seq_forward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    const loom_matrix *x = &loom_checkmatrix(L, 2)->m;
    int opts = lua_istable(L, 3) ? 3 : 0;
    if (!opts && !lua_isnoneornil(L, 3))
        luaL_typeerror(L, 3, "table of options");
    lua_settop(L, 3);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:forward", layer_name(ly));
    loom_rnn *r = &ly->r;
    if (x->cols != r->cfg.input)
        return rnn_error(L, "%s: expected input with %zu columns, got %s", fn, r->cfg.input,
                          loom_shape(x, got));
    size_t nlen = 0;
    size_t *lengths = opt_lengths(L, opts, &nlen, fn);
    const loom_matrix *h0 = opt_matrix(L, opts, "h0", fn), *c0 = opt_matrix(L, opts, "c0", fn);
    if (c0 && !is_lstm(ly))
        return luaL_error(L, "%s: c0 is only for LSTM", fn);
    lua_Integer batch = opt_integer(L, opts, "batch", 0, fn);
    if (batch < 0)
        return luaL_error(L, "%s: batch must be >= 1, got %I", fn, batch);
    size_t B = (size_t)batch;
    if (B == 0)
        B = lengths ? nlen : h0 ? h0->rows / units(ly) : ly->batch ? ly->batch : 1;
    if (lengths && nlen != B)
        return rnn_error(L, "%s: %zu lengths for a batch of %zu", fn, nlen, B);
    if (B == 0 || x->rows == 0 || x->rows % B != 0)
        return rnn_error(L, "%s: input %s does not hold T steps of a batch of %zu (T*B rows)",
                          fn, loom_shape(x, got), B);
    size_t T = x->rows / B;
    for (size_t b = 0; lengths && b < B; b++)
        if (lengths[b] > T)
            return rnn_error(L, "%s: lengths[%zu] = %zu is longer than the %zu steps of the input",
                              fn, b + 1, lengths[b], T);
    check_state(L, ly, h0, B, fn, "h0");
    check_state(L, ly, c0, B, fn, "c0");
    /* opts.out: write the output into this matrix (no allocation per mini-batch). */
    const loom_matrix *given = opt_matrix(L, opts, "out", fn);
    size_t hd = r->cfg.hidden * r->dirs;
    Matrix *out;
    if (given) {
        if (given->rows != x->rows || given->cols != hd)
            return rnn_error(L, "%s: out must be %zux%zu, got %s", fn, x->rows, hd,
                             loom_shape(given, got));
        lua_getfield(L, opts, "out");
        out = loom_checkmatrix(L, -1);
    } else {
        out = loom_newmatrix(L, x->rows, hd);
    }
    Matrix *ht = loom_newmatrix(L, units(ly) * B, r->cfg.hidden);
    Matrix *ct = is_lstm(ly) ? loom_newmatrix(L, units(ly) * B, r->cfg.hidden) : NULL;
    loom_check(L, loom_rnn_forward(r, &out->m, &ht->m, ct ? &ct->m : NULL, x, B, lengths, h0, c0,
                                   loom_getrng(L)),
               fn);
    lua_pushvalue(L, -1 - (ct != NULL));
    lua_setiuservalue(L, 1, UV_H);
    if (ct) {
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_C);
    }
    return ct ? 3 : 2;
}

/* Push dx (or nil), dh0, dc0 after a core backward; leaves them as the last 3 values. */
static int push_backward(lua_State *L, Layer *ly, const char *fn, const loom_matrix *dout,
                         const loom_matrix *dh_t, const loom_matrix *dc_t, int want_dx)
{
    loom_rnn *r = &ly->r;
    size_t n = r->work.steps * r->work.batch, B = r->work.batch;
    Matrix *dx = NULL;
    if (want_dx)
        dx = loom_newmatrix(L, n, r->cfg.input);
    else
        lua_pushnil(L);
    Matrix *dh0 = loom_newmatrix(L, units(ly) * B, r->cfg.hidden);
    Matrix *dc0 = NULL;
    if (is_lstm(ly))
        dc0 = loom_newmatrix(L, units(ly) * B, r->cfg.hidden);
    else
        lua_pushnil(L);
    loom_check(L, loom_rnn_backward(r, dx ? &dx->m : NULL, &dh0->m, dc0 ? &dc0->m : NULL, dout,
                                    dh_t, dc_t),
               fn);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, 1, UV_DH0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_DC0);
    return 3;
}

/* m:backward(dout [, {dh_T, dc_T, input_grad}]) or m:backward(X, dout [, opts]) (the module
 * protocol) -> dX, dh0[, dc0] */
static int seq_backward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:backward", layer_name(ly));
    int at = loom_testmatrix(L, 3) ? 3 : 2; /* where dout is */
    int opts = lua_istable(L, at + 1) ? at + 1 : 0;
    if (!opts && !lua_isnoneornil(L, at + 1))
        luaL_typeerror(L, at + 1, "table of options");
    loom_rnn *r = &ly->r;
    if (!r->work.have_forward)
        return luaL_error(L, "%s: call forward first", fn);
    const loom_matrix *dout = NULL;
    if (!lua_isnoneornil(L, at))
        dout = &loom_checkmatrix(L, at)->m;
    size_t n = r->work.steps * r->work.batch, B = r->work.batch, hd = r->cfg.hidden * r->dirs;
    if (dout && (dout->rows != n || dout->cols != hd))
        return rnn_error(L, "%s: dout must be %zux%zu like the output, got %s", fn, n, hd,
                          loom_shape(dout, got));
    const loom_matrix *dh_t = opt_matrix(L, opts, "dh_T", fn), *dc_t = opt_matrix(L, opts, "dc_T", fn);
    if (dc_t && !is_lstm(ly))
        return luaL_error(L, "%s: dc_T is only for LSTM", fn);
    check_state(L, ly, dh_t, B, fn, "dh_T");
    check_state(L, ly, dc_t, B, fn, "dc_T");
    int want_dx = 1;
    if (opts) {
        lua_getfield(L, opts, "input_grad");
        want_dx = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_settop(L, at + 1);
    push_backward(L, ly, fn, dout, dh_t, dc_t, want_dx);
    if (is_lstm(ly))
        return 3;
    lua_pop(L, 1);
    return 2;
}

/* m:state() -> copies of h_T[, c_T] of the last forward (to carry into the next chunk). */
static int seq_state(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    int count = is_lstm(ly) ? 2 : 1;
    for (int k = 0; k < count; k++) {
        lua_getiuservalue(L, 1, UV_H + k);
        Matrix *m = loom_testmatrix(L, -1);
        if (!m)
            return luaL_error(L, "%s:state: call forward first", layer_name(ly));
        Matrix *c = loom_newmatrix(L, m->m.rows, m->m.cols);
        loom_matrix_copy(&c->m, &m->m);
        lua_remove(L, -2);
    }
    return count;
}

/* m:initial_state_grad() -> dh0[, dc0] of the last backward. */
static int layer_initial_state_grad(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    lua_getiuservalue(L, 1, UV_DH0);
    if (lua_isnil(L, -1))
        return luaL_error(L, "%s:initial_state_grad: call backward first", layer_name(ly));
    if (!is_lstm(ly))
        return 1;
    lua_getiuservalue(L, 1, UV_DC0);
    return 2;
}

/* m:gates([t [, layer [, direction]]]) -> B x G*H copy of the gate activations of step t
 * (default: the last step) of the last forward. */
static int layer_gates(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    loom_rnn *r = &ly->r;
    if (!r->work.have_forward)
        return luaL_error(L, "%s:gates: call forward first", layer_name(ly));
    lua_Integer t = luaL_optinteger(L, 2, (lua_Integer)r->work.steps);
    lua_Integer layer = luaL_optinteger(L, 3, 1), dir = luaL_optinteger(L, 4, 1);
    loom_matrix view;
    if (t < 1 || layer < 1 || dir < 1
        || loom_rnn_gates_view(&view, r, (size_t)layer - 1, (size_t)dir - 1, (size_t)t) != LOOM_OK)
        return rnn_error(L, "%s:gates: no step %lld of layer %lld direction %lld (%zu steps, %zu layers, %zu directions)",
                          layer_name(ly), t, layer, dir, r->work.steps, r->cfg.layers, r->dirs);
    Matrix *m = loom_newmatrix(L, view.rows, view.cols);
    loom_matrix_copy(&m->m, &view);
    return 1;
}

/* m:cell_states([layer [, direction]]) -> T*B x H copy of the LSTM cell after each step of the
 * last forward (time-major like the input), what a cell-by-cell loop would have to recompute. */
static int layer_cell_states(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    loom_rnn *r = &ly->r;
    if (!is_lstm(ly))
        return luaL_error(L, "%s:cell_states: only an LSTM has a cell state", layer_name(ly));
    if (!r->work.have_forward)
        return luaL_error(L, "%s:cell_states: call forward first", layer_name(ly));
    lua_Integer layer = luaL_optinteger(L, 2, 1), dir = luaL_optinteger(L, 3, 1);
    loom_matrix view;
    if (layer < 1 || dir < 1
        || loom_rnn_cells_view(&view, r, (size_t)layer - 1, (size_t)dir - 1) != LOOM_OK)
        return rnn_error(L, "%s:cell_states: no layer %lld direction %lld (%zu layers, %zu directions)",
                          layer_name(ly), layer, dir, r->cfg.layers, r->dirs);
    Matrix *m = loom_newmatrix(L, view.rows, view.cols);
    loom_matrix_copy(&m->m, &view);
    return 1;
}

/* ---- cells ---- */

/* Run the core over one step (T = 1) from x and the state (h, c), both may be nil. */
static void cell_step(lua_State *L, Layer *ly, const loom_matrix *x, const loom_matrix *h,
                      const loom_matrix *c, Matrix *h_new, Matrix *c_new, const char *fn)
{
    char got[48];
    loom_rnn *r = &ly->r;
    if (x->cols != r->cfg.input || x->rows == 0)
        rnn_error(L, "%s: expected input with %zu columns, got %s", fn, r->cfg.input, loom_shape(x, got));
    check_state(L, ly, h, x->rows, fn, "h");
    check_state(L, ly, c, x->rows, fn, "c");
    loom_check(L, loom_rnn_forward(r, &h_new->m, NULL, c_new ? &c_new->m : NULL, x, x->rows, NULL,
                                   h, c, loom_getrng(L)),
               fn);
}

/* Keep a copy of the state a step starts from (zeros for nil) in user value uv. */
static void remember_state(lua_State *L, const loom_matrix *m, size_t rows, size_t cols, int uv)
{
    Matrix *copy = loom_newmatrix(L, rows, cols);
    if (m)
        loom_matrix_copy(&copy->m, m);
    lua_setiuservalue(L, 1, uv);
}

/* cell:forward(x [, {h, c}]) -> h'[, c'] */
static int cell_forward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_CELL_T);
    const loom_matrix *x = &loom_checkmatrix(L, 2)->m;
    int opts = lua_istable(L, 3) ? 3 : 0;
    if (!opts && !lua_isnoneornil(L, 3))
        luaL_typeerror(L, 3, "table of options");
    char fn[64];
    snprintf(fn, sizeof fn, "%s:forward", layer_name(ly));
    const loom_matrix *h = opt_matrix(L, opts, "h", fn), *c = opt_matrix(L, opts, "c", fn);
    if (c && !is_lstm(ly))
        return luaL_error(L, "%s: c is only for LSTMCell", fn);
    size_t H = ly->r.cfg.hidden;
    Matrix *h_new = loom_newmatrix(L, x->rows, H);
    Matrix *c_new = is_lstm(ly) ? loom_newmatrix(L, x->rows, H) : NULL;
    cell_step(L, ly, x, h, c, h_new, c_new, fn);
    remember_state(L, h, x->rows, H, UV_H);
    if (is_lstm(ly))
        remember_state(L, c, x->rows, H, UV_C);
    return is_lstm(ly) ? 2 : 1;
}

/* cell:backward(x, dh [, {h, c, dc}]) -> dx, dh_prev[, dc_prev]. Recomputes the step from x
 * and the state it started from (h, c; default: the last forward's). */
static int cell_backward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_CELL_T);
    const loom_matrix *x = &loom_checkmatrix(L, 2)->m;
    int opts = lua_istable(L, 4) ? 4 : 0;
    if (!opts && !lua_isnoneornil(L, 4))
        luaL_typeerror(L, 4, "table of options");
    lua_settop(L, 4);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:backward", layer_name(ly));
    size_t H = ly->r.cfg.hidden, B = x->rows;
    const loom_matrix *dh = lua_isnil(L, 3) ? NULL : &loom_checkmatrix(L, 3)->m;
    if (dh && (dh->rows != B || dh->cols != H))
        return rnn_error(L, "%s: dh must be %zux%zu, got %s", fn, B, H, loom_shape(dh, got));
    const loom_matrix *h = opt_matrix(L, opts, "h", fn), *c = opt_matrix(L, opts, "c", fn);
    const loom_matrix *dc = opt_matrix(L, opts, "dc", fn);
    if ((c || dc) && !is_lstm(ly))
        return luaL_error(L, "%s: c and dc are only for LSTMCell", fn);
    for (int k = 0; k < 2; k++) {
        const loom_matrix **state = k == 0 ? &h : &c;
        if (*state || (k == 1 && !is_lstm(ly)))
            continue;
        lua_getiuservalue(L, 1, UV_H + k);
        Matrix *m = loom_testmatrix(L, -1);
        if (!m)
            return luaL_error(L, "%s: call forward first or pass the state (h, c) the step started from", fn);
        *state = &m->m; /* kept alive by the layer */
        lua_pop(L, 1);
    }
    if (dc)
        check_state(L, ly, dc, B, fn, "dc");
    Matrix *h_new = loom_newmatrix(L, B, H);
    Matrix *c_new = is_lstm(ly) ? loom_newmatrix(L, B, H) : NULL;
    cell_step(L, ly, x, h, c, h_new, c_new, fn);
    lua_settop(L, 4);
    push_backward(L, ly, fn, dh, NULL, dc, 1);
    if (is_lstm(ly))
        return 3;
    lua_pop(L, 1);
    return 2;
}

/* ---- the module protocol ---- */

/* Parameter names as PyTorch spells them. */
static void param_name(char *buf, size_t size, const Layer *ly, const char *base, size_t l,
                       size_t d)
{
    if (ly->cell)
        snprintf(buf, size, "%s", base);
    else
        snprintf(buf, size, "%s_l%zu%s", base, l, d ? "_reverse" : "");
}

/* m:parameters() -> {{name =, value =, grad =}, ...} in PyTorch's state_dict order. */
static int layer_parameters(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    loom_rnn *r = &ly->r;
    static const char *const bases[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    lua_createtable(L, (int)(4 * units(ly)), 0);
    lua_Integer i = 1;
    for (size_t l = 0; l < r->cfg.layers; l++)
        for (size_t d = 0; d < r->dirs; d++) {
            const loom_rnn_params *p = &r->params[l * r->dirs + d], *g = &r->grad[l * r->dirs + d];
            const loom_matrix *values[] = {&p->w_ih, &p->w_hh, &p->b_ih, &p->b_hh};
            const loom_matrix *grads[] = {&g->w_ih, &g->w_hh, &g->b_ih, &g->b_hh};
            for (int q = 0; q < 4; q++) {
                char name[64];
                param_name(name, sizeof name, ly, bases[q], l, d);
                lua_createtable(L, 0, 3);
                lua_pushstring(L, name);
                lua_setfield(L, -2, "name");
                loom_pushview(L, 1, *values[q]);
                lua_setfield(L, -2, "value");
                loom_pushview(L, 1, *grads[q]);
                lua_setfield(L, -2, "grad");
                lua_seti(L, -2, i++);
            }
        }
    return 1;
}

static int layer_zero_grad(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    memset(ly->r.grads, 0, ly->r.count * sizeof(double));
    lua_settop(L, 1);
    return 1;
}

static int layer_train(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    ly->r.training = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int layer_eval(lua_State *L)
{
    tolayer(L, 1)->r.training = 0;
    lua_settop(L, 1);
    return 1;
}

static int layer_training(lua_State *L)
{
    lua_pushboolean(L, tolayer(L, 1)->r.training);
    return 1;
}

/* m:config() -> {kind, input_size, hidden_size, layers, bidirectional, dropout, cell, gates} */
static int layer_config(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    const loom_rnn_config *c = &ly->r.cfg;
    lua_createtable(L, 0, 8);
    lua_pushstring(L, layer_name(ly) + 3);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, c->kind == LOOM_RNN_RELU ? "relu" : "tanh");
    lua_setfield(L, -2, "nonlinearity");
    lua_pushinteger(L, (lua_Integer)c->input);
    lua_setfield(L, -2, "input_size");
    lua_pushinteger(L, (lua_Integer)c->hidden);
    lua_setfield(L, -2, "hidden_size");
    lua_pushinteger(L, (lua_Integer)c->layers);
    lua_setfield(L, -2, "layers");
    lua_pushboolean(L, c->bidirectional);
    lua_setfield(L, -2, "bidirectional");
    lua_pushnumber(L, c->dropout);
    lua_setfield(L, -2, "dropout");
    lua_pushboolean(L, ly->cell);
    lua_setfield(L, -2, "cell");
    lua_pushinteger(L, (lua_Integer)ly->r.gates);
    lua_setfield(L, -2, "gates");
    return 1;
}

static int layer_tostring(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    const loom_rnn_config *c = &ly->r.cfg;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s(%I, %I", layer_name(ly), (lua_Integer)c->input, (lua_Integer)c->hidden);
    luaL_addvalue(&b);
    if (c->kind == LOOM_RNN_RELU)
        luaL_addstring(&b, ", nonlinearity=relu");
    if (c->layers > 1) {
        lua_pushfstring(L, ", layers=%I", (lua_Integer)c->layers);
        luaL_addvalue(&b);
    }
    if (c->bidirectional)
        luaL_addstring(&b, ", bidirectional=true");
    if (c->dropout > 0) {
        lua_pushfstring(L, ", dropout=%f", c->dropout);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg seq_methods[] = {
    {"forward", seq_forward}, {"backward", seq_backward}, {"state", seq_state},
    {"initial_state_grad", layer_initial_state_grad}, {"gates", layer_gates},
    {"parameters", layer_parameters}, {"zero_grad", layer_zero_grad}, {"train", layer_train},
    {"eval", layer_eval}, {"training", layer_training}, {"config", layer_config},
    {"cell_states", layer_cell_states}, {NULL, NULL}};

static const luaL_Reg cell_methods[] = {
    {"forward", cell_forward}, {"backward", cell_backward}, {"gates", layer_gates},
    {"initial_state_grad", layer_initial_state_grad}, {"parameters", layer_parameters},
    {"zero_grad", layer_zero_grad}, {"train", layer_train}, {"eval", layer_eval},
    {"training", layer_training}, {"config", layer_config}, {NULL, NULL}};

static int l_is_layer(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, LOOM_RNN_T) || luaL_testudata(L, 1, LOOM_CELL_T));
    return 1;
}

/* No __close: parameter views point into the layer, so only the collector (once no view
 * is left) may free it. */
static void new_type(lua_State *L, const char *tname, const luaL_Reg *methods, const char *field,
                     const char *meta_field)
{
    luaL_newmetatable(L, tname);
    lua_pushcfunction(L, layer_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, layer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, field); /* the methods, for recurrent.lua to extend */
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, meta_field);
    lua_pop(L, 1);
}

int loom_open_rnn(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "new");
    lua_pushcfunction(L, l_is_layer);
    lua_setfield(L, -2, "is_layer");
    new_type(L, LOOM_RNN_T, seq_methods, "sequence_methods", "sequence_metatable");
    new_type(L, LOOM_CELL_T, cell_methods, "cell_methods", "cell_metatable");
    return 1;
}
