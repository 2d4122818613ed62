/* rnn.c (binding): the recurrent layer userdata: fused sequence layers (nn.RNN, nn.LSTM,
 * nn.GRU) and single-step cells (nn.*Cell) over src/core/rnn.c. Not the nn table itself
 * (lua/loom/nn/recurrent.lua adds the constructors, state_dict and load_state_dict). */
#include "bind.h"
#include "rnn.h"

#include <stdio.h>
#include <string.h>

#define LOOM_RNN_T "loom.nn.rnn"
#define LOOM_CELL_T "loom.nn.cell"

/* User values: the last forward's final states (sequence layers) or the state the last
 * step started from (cells), and the last backward's gradients at the initial states. */
enum { UV_H = 1, UV_C, UV_DH0, UV_DC0, UV_RETIRED, UV_COUNT = UV_RETIRED };
/* UV_RETIRED: a list of matrices owning the parameter storage m:to() replaced, so that
 * parameter views taken before the conversion never point into freed memory. */

typedef struct Layer {
    loom_rnn r;
    int cell;
    size_t batch; /* default batch size of forward (0: infer) */
} Layer;

static Layer *tolayer(lua_State *L, int idx)
{
    Layer *ly = luaL_testudata(L, idx, LOOM_RNN_T);
    if (!ly)
        ly = luaL_checkudata(L, idx, LOOM_CELL_T);
    return ly;
}

static const char *const KINDS[] = {"RNN", "LSTM", "GRU", NULL};

/* The default of the batch option: absent, not 0 (which is an error). */
#define NO_BATCH LUA_MININTEGER

/* "nn.LSTM", "nn.GRUCell", ... */
static const char *kind_name(int kind, int cell)
{
    static const char *const seq[] = {"nn.RNN", "nn.LSTM", "nn.GRU"};
    static const char *const cells[] = {"nn.RNNCell", "nn.LSTMCell", "nn.GRUCell"};
    return cell ? cells[kind] : seq[kind];
}

static const char *layer_name(const Layer *ly)
{
    loom_rnn_kind k = ly->r.cfg.kind;
    return kind_name(k == LOOM_LSTM ? 1 : k == LOOM_GRU ? 2 : 0, ly->cell);
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

/* A size argument of a constructor: an integer in 1..LOOM_MAX_DIM. */
static size_t check_layer_size(lua_State *L, int idx, const char *fn, const char *what)
{
    int ok;
    lua_Integer n = lua_tointegerx(L, idx, &ok);
    if (!ok || lua_type(L, idx) != LUA_TNUMBER || n < 1 || (lua_Unsigned)n > LOOM_MAX_DIM)
        luaL_error(L, "%s: %s must be an integer in 1..%I, got %s", fn, what,
                   (lua_Integer)LOOM_MAX_DIM, luaL_tolstring(L, idx, NULL));
    return (size_t)n;
}

/* core.rnn.new(kind, input, hidden [, {layers, bidirectional, dropout, batch, nonlinearity,
 * gemm} [, cell]]): the one place that checks the constructors' arguments (nn.RNN,
 * nn.LSTMCell, ... in lua/loom/nn/recurrent.lua pass them through). Cells take only
 * nonlinearity and gemm. */
static int l_new(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, KINDS);
    int cell = lua_toboolean(L, 5);
    const char *fn = kind_name(kind, cell);
    size_t input = check_layer_size(L, 2, fn, "input size");
    size_t hidden = check_layer_size(L, 3, fn, "hidden size");
    int opts = loom_opt_table(L, 4, fn);
    loom_rnn_config cfg = {LOOM_RNN_TANH, input, hidden, 1, 0, 0.0, LOOM_RNN_GEMM_AUTO};
    lua_Integer layers = 1, batch = NO_BATCH;
    if (!cell) {
        layers = loom_opt_integer(L, opts, "layers", 1, fn);
        cfg.bidirectional = loom_opt_boolean(L, opts, "bidirectional", 0);
        cfg.dropout = loom_opt_number(L, opts, "dropout", 0.0, fn);
        batch = loom_opt_integer(L, opts, "batch", NO_BATCH, fn);
    }
    const char *gemm = loom_opt_string(L, opts, "gemm", "auto", fn);
    if (strcmp(gemm, "blas") == 0)
        cfg.gemm = LOOM_RNN_GEMM_BLAS;
    else if (strcmp(gemm, "xsmm") == 0)
        cfg.gemm = LOOM_RNN_GEMM_XSMM;
    else if (strcmp(gemm, "auto") != 0)
        return loom_error(L, "%s: gemm must be \"auto\", \"xsmm\" or \"blas\", got \"%s\"", fn,
                          gemm);
    const char *nl = loom_opt_string(L, opts, "nonlinearity", "tanh", fn);
    if (kind == 1)
        cfg.kind = LOOM_LSTM;
    else if (kind == 2)
        cfg.kind = LOOM_GRU;
    else if (strcmp(nl, "relu") == 0)
        cfg.kind = LOOM_RNN_RELU;
    else if (strcmp(nl, "tanh") != 0)
        return luaL_error(L, "%s: nonlinearity must be \"tanh\" or \"relu\", got \"%s\"", fn, nl);
    if (layers < 1 || layers > 1000)
        return luaL_error(L, "%s: layers must be in 1..1000, got %I", fn, layers);
    if (!(cfg.dropout >= 0.0 && cfg.dropout < 1.0))
        return loom_error(L, "%s: dropout must be in [0, 1), got %g", fn, cfg.dropout);
    if (batch != NO_BATCH && batch < 1)
        return luaL_error(L, "%s: batch must be >= 1, got %I", fn, batch);
    if (batch == NO_BATCH)
        batch = 0;
    cfg.layers = (size_t)layers;
    /* Parameters: about G*H*(I + H*dirs + 2) per layer and direction, in doubles. */
    double params = 4.0 * (double)hidden * ((double)input + 2.0 * (double)hidden + 2.0)
                    * 2.0 * (double)layers;
    if (params > 1e15)
        return loom_error(L, "%s: %zu inputs and %zu hidden units make too many parameters", fn,
                          input, hidden);
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
    Matrix *m = loom_testmatrix_any(L, idx);
    if (!m && !lua_istable(L, idx))
        luaL_error(L, "%s: lengths must be a list or a matrix, got %s", fn, luaL_typename(L, idx));
    lua_Integer len = m ? (lua_Integer)loom_numel(&m->m) : luaL_len(L, idx);
    if (len < 0 || (lua_Unsigned)len > LOOM_MAX_DIM)
        luaL_error(L, "%s: %I lengths are too many", fn, len);
    size_t n = (size_t)len;
    size_t *lengths = lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
    if (m)
        m = loom_recheck_any(L, idx, fn, "lengths"); /* the allocation may have run finalizers */
    for (size_t i = 0; i < n; i++) {
        double v;
        if (m) {
            v = loom_get(&m->m, i / m->m.cols, i % m->m.cols);
        } else {
            lua_geti(L, idx, (lua_Integer)i + 1);
            int ok;
            v = lua_tonumberx(L, -1, &ok);
            if (!ok || lua_type(L, -1) != LUA_TNUMBER)
                loom_error(L, "%s: lengths[%zu] is a %s, expected an integer", fn, i + 1,
                           luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        if (!(v >= 1.0 && v <= 1e15) || v != (double)(size_t)v)
            loom_error(L, "%s: lengths[%zu] = %g must be a positive integer", fn, i + 1, v);
        lengths[i] = (size_t)v;
    }
    lua_remove(L, idx);
    *count = n;
    return lengths;
}

/* The matrix at stack index idx (0: none) after every option was read: NULL or its storage,
 * checked again (an option's metamethod may have released it). */
static const loom_matrix *resolve(lua_State *L, int idx, const char *fn, const char *what)
{
    return idx ? &loom_recheck_any(L, idx, fn, what)->m : NULL;
}

/* Raise "<fn>: cannot mix float64 and float32" unless m (may be NULL) has the layer's dtype. */
static void check_dtype(lua_State *L, const Layer *ly, const loom_matrix *m, const char *fn)
{
    if (m && m->dtype != ly->r.dtype)
        luaL_error(L, "%s: cannot mix %s and %s", fn, loom_dtype_name(m->dtype),
                   loom_dtype_name(ly->r.dtype));
}

static void check_state(lua_State *L, const Layer *ly, const loom_matrix *m, size_t B,
                        const char *fn, const char *what)
{
    char got[48];
    if (m && (m->rows != units(ly) * B || m->cols != ly->r.cfg.hidden))
        loom_error(L, "%s: %s must be %zux%zu (layers*directions*batch x hidden), got %s", fn,
                   what, units(ly) * B, ly->r.cfg.hidden, loom_shape(m, got));
}

/* ---- sequence layers ---- */

/* The batch size of a forward: the batch option, else the number of lengths, else the
 * layer's own; never guessed from the rows (DESIGN.md, "Sequences"). */
static size_t forward_batch(lua_State *L, const Layer *ly, lua_Integer batch, size_t nlen,
                            int have_lengths, const loom_matrix *x, const char *fn)
{
    char got[48];
    if (batch != NO_BATCH && batch < 1)
        luaL_error(L, "%s: batch must be >= 1, got %I", fn, batch);
    if (batch != NO_BATCH)
        return (size_t)batch;
    if (have_lengths && nlen == 0)
        luaL_error(L, "%s: lengths is empty (one length per sequence of the batch)", fn);
    if (have_lengths)
        return nlen;
    if (ly->batch)
        return ly->batch;
    loom_error(L, "%s: the batch size is not given: X (%s) holds T*B rows, time-major (row "
                  "(t-1)*B + b is step t of sequence b); pass {batch = B} or {lengths = {...}} "
                  "(B = #lengths), or build the layer with {batch = B}",
               fn, loom_shape(x, got));
    return 0;
}

/* m:forward(X [, {lengths, h0, c0, batch, out, h_T, c_T}]) -> out, h_T[, c_T]; out, h_T and
 * c_T given are written and returned (no allocation). */
static int seq_forward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:forward", layer_name(ly));
    loom_checkmatrix_any(L, 2);
    int opts = loom_opt_table(L, 3, fn);
    lua_settop(L, 3);
    /* Every option before any pointer into a matrix: reading one may run Lua. */
    size_t nlen = 0;
    size_t *lengths = opt_lengths(L, opts, &nlen, fn);
    int h0_at = loom_opt_matrix(L, opts, "h0", fn), c0_at = loom_opt_matrix(L, opts, "c0", fn);
    lua_Integer batch = loom_opt_integer(L, opts, "batch", NO_BATCH, fn);
    int out_at = loom_opt_matrix(L, opts, "out", fn);
    int ht_at = loom_opt_matrix(L, opts, "h_T", fn), ct_at = loom_opt_matrix(L, opts, "c_T", fn);
    if (c0_at && !is_lstm(ly))
        return luaL_error(L, "%s: c0 is only for LSTM", fn);
    if (ct_at && !is_lstm(ly))
        return luaL_error(L, "%s: c_T is only for LSTM", fn);
    loom_rnn *r = &ly->r;
    size_t hd = r->cfg.hidden * r->dirs;
    const loom_matrix *x = resolve(L, 2, fn, "the input");
    if (x->cols != r->cfg.input)
        return loom_error(L, "%s: expected input with %zu columns, got %s", fn, r->cfg.input,
                          loom_shape(x, got));
    size_t B = forward_batch(L, ly, batch, nlen, lengths != NULL, x, fn);
    if (lengths && nlen != B)
        return loom_error(L, "%s: %zu lengths for a batch of %zu", fn, nlen, B);
    if (x->rows == 0 || x->rows % B != 0)
        return loom_error(L, "%s: input %s does not hold T steps of a batch of %zu (T*B rows)",
                          fn, loom_shape(x, got), B);
    size_t T = x->rows / B;
    for (size_t b = 0; lengths && b < B; b++)
        if (lengths[b] > T)
            return loom_error(L, "%s: lengths[%zu] = %zu is longer than the %zu steps of the input",
                              fn, b + 1, lengths[b], T);
    /* The results first (allocating may run finalizers), then every matrix checked again. */
    Matrix *out = out_at ? NULL : loom_newmatrix_dtype(L, x->rows, hd, ly->r.dtype);
    int out_idx = out_at ? out_at : lua_gettop(L);
    if (!ht_at)
        loom_newmatrix_dtype(L, units(ly) * B, r->cfg.hidden, ly->r.dtype);
    int ht_idx = ht_at ? ht_at : lua_gettop(L);
    if (is_lstm(ly) && !ct_at)
        loom_newmatrix_dtype(L, units(ly) * B, r->cfg.hidden, ly->r.dtype);
    int ct_idx = !is_lstm(ly) ? 0 : ct_at ? ct_at : lua_gettop(L);
    x = resolve(L, 2, fn, "the input");
    const loom_matrix *h0 = resolve(L, h0_at, fn, "h0"), *c0 = resolve(L, c0_at, fn, "c0");
    check_state(L, ly, h0, B, fn, "h0");
    check_state(L, ly, c0, B, fn, "c0");
    out = loom_recheck_any(L, out_idx, fn, "out");
    Matrix *ht = loom_recheck_any(L, ht_idx, fn, "h_T");
    Matrix *ct = ct_idx ? loom_recheck_any(L, ct_idx, fn, "c_T") : NULL;
    check_state(L, ly, &ht->m, B, fn, "h_T");
    check_state(L, ly, ct ? &ct->m : NULL, B, fn, "c_T");
    check_dtype(L, ly, &ht->m, fn);
    check_dtype(L, ly, ct ? &ct->m : NULL, fn);
    check_dtype(L, ly, x, fn);
    check_dtype(L, ly, h0, fn);
    check_dtype(L, ly, c0, fn);
    check_dtype(L, ly, &out->m, fn);
    if (out->m.rows != x->rows || out->m.cols != hd)
        return loom_error(L, "%s: out must be %zux%zu, got %s", fn, x->rows, hd,
                          loom_shape(&out->m, got));
    if (x->rows != T * B || x->cols != r->cfg.input)
        return luaL_error(L, "%s: the input changed during the call", fn);
    loom_check(L, loom_rnn_forward(r, &out->m, &ht->m, ct ? &ct->m : NULL, x, B, lengths, h0, c0,
                                   loom_getrng(L)),
               fn);
    lua_pushvalue(L, ht_idx);
    lua_setiuservalue(L, 1, UV_H);
    if (ct_idx) {
        lua_pushvalue(L, ct_idx);
        lua_setiuservalue(L, 1, UV_C);
    }
    lua_pushvalue(L, out_idx);
    lua_pushvalue(L, ht_idx);
    if (ct_idx)
        lua_pushvalue(L, ct_idx);
    return ct_idx ? 3 : 2;
}

/* Push dx (or nil), dh0, dc0 after a core backward; leaves them as the last 3 values. The
 * gradients coming in are the matrices at stack indices dout_at, dh_at, dc_at (0 or a nil
 * value: none), taken after the results are allocated (which may run finalizers). dx_at,
 * dh0_at, dc0_at (0: allocate): matrices given for the results, written in place. */
static int push_backward(lua_State *L, Layer *ly, const char *fn, int dout_at, int dh_at,
                         int dc_at, int want_dx, int dx_at, int dh0_at, int dc0_at)
{
    loom_rnn *r = &ly->r;
    size_t n = r->work.steps * r->work.batch, B = r->work.batch;
    char got[48];
    if (!want_dx)
        lua_pushnil(L);
    else if (dx_at)
        lua_pushvalue(L, dx_at);
    else
        loom_newmatrix_dtype(L, n, r->cfg.input, ly->r.dtype);
    int dx_idx = want_dx ? lua_gettop(L) : 0;
    if (dh0_at)
        lua_pushvalue(L, dh0_at);
    else
        loom_newmatrix_dtype(L, units(ly) * B, r->cfg.hidden, ly->r.dtype);
    int dh0_idx = lua_gettop(L);
    if (!is_lstm(ly))
        lua_pushnil(L);
    else if (dc0_at)
        lua_pushvalue(L, dc0_at);
    else
        loom_newmatrix_dtype(L, units(ly) * B, r->cfg.hidden, ly->r.dtype);
    int dc0_idx = is_lstm(ly) ? lua_gettop(L) : 0;
    if (!r->work.have_forward || r->work.steps * r->work.batch != n || r->work.batch != B)
        luaL_error(L, "%s: the layer ran again during the call", fn); /* a finalizer did */
    Matrix *dx = dx_idx ? loom_recheck_any(L, dx_idx, fn, "dx") : NULL;
    Matrix *dh0 = loom_recheck_any(L, dh0_idx, fn, "dh0");
    Matrix *dc0 = dc0_idx ? loom_recheck_any(L, dc0_idx, fn, "dc0") : NULL;
    if (dx && (dx->m.rows != n || dx->m.cols != r->cfg.input))
        loom_error(L, "%s: dx must be %zux%zu like the input, got %s", fn, n, r->cfg.input,
                   loom_shape(&dx->m, got));
    check_state(L, ly, &dh0->m, B, fn, "dh0");
    check_state(L, ly, dc0 ? &dc0->m : NULL, B, fn, "dc0");
    check_dtype(L, ly, dx ? &dx->m : NULL, fn);
    check_dtype(L, ly, &dh0->m, fn);
    check_dtype(L, ly, dc0 ? &dc0->m : NULL, fn);
    const loom_matrix *dout = dout_at && !lua_isnil(L, dout_at) ? resolve(L, dout_at, fn, "dout") : NULL;
    const loom_matrix *dh_t = resolve(L, dh_at, fn, "dh_T"), *dc_t = resolve(L, dc_at, fn, "dc_T");
    check_dtype(L, ly, dout, fn);
    check_dtype(L, ly, dh_t, fn);
    check_dtype(L, ly, dc_t, fn);
    loom_check(L, loom_rnn_backward(r, dx ? &dx->m : NULL, &dh0->m, dc0 ? &dc0->m : NULL, dout,
                                    dh_t, dc_t),
               fn);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, 1, UV_DH0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_DC0);
    return 3;
}

/* m:backward(dout [, {dh_T, dc_T, input_grad, dx, dh0, dc0}]) or m:backward(X, dout [, opts])
 * (the module protocol) -> dX, dh0[, dc0]; dx, dh0 and dc0 given are written and returned. */
static int seq_backward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_RNN_T);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:backward", layer_name(ly));
    int at = loom_testmatrix_any(L, 3) ? 3 : 2; /* where dout is */
    int opts = loom_opt_table(L, at + 1, fn);
    loom_rnn *r = &ly->r;
    if (!r->work.have_forward)
        return luaL_error(L, "%s: call forward first", fn);
    if (!lua_isnoneornil(L, at))
        loom_checkmatrix_any(L, at);
    lua_settop(L, at + 1);
    int dh_at = loom_opt_matrix(L, opts, "dh_T", fn), dc_at = loom_opt_matrix(L, opts, "dc_T", fn);
    int want_dx = loom_opt_boolean(L, opts, "input_grad", 1);
    int dx_at = loom_opt_matrix(L, opts, "dx", fn), dh0_at = loom_opt_matrix(L, opts, "dh0", fn);
    int dc0_at = loom_opt_matrix(L, opts, "dc0", fn);
    if (dc_at && !is_lstm(ly))
        return luaL_error(L, "%s: dc_T is only for LSTM", fn);
    if (dc0_at && !is_lstm(ly))
        return luaL_error(L, "%s: dc0 is only for LSTM", fn);
    if (dx_at && !want_dx)
        return luaL_error(L, "%s: dx is given but input_grad is false", fn);
    if (!r->work.have_forward) /* an option's metamethod may have run another layer's forward */
        return luaL_error(L, "%s: call forward first", fn);
    size_t n = r->work.steps * r->work.batch, B = r->work.batch, hd = r->cfg.hidden * r->dirs;
    const loom_matrix *dout = lua_isnil(L, at) ? NULL : resolve(L, at, fn, "dout");
    if (dout && (dout->rows != n || dout->cols != hd))
        return loom_error(L, "%s: dout must be %zux%zu like the output, got %s", fn, n, hd,
                          loom_shape(dout, got));
    const loom_matrix *dh_t = resolve(L, dh_at, fn, "dh_T"), *dc_t = resolve(L, dc_at, fn, "dc_T");
    check_state(L, ly, dh_t, B, fn, "dh_T");
    check_state(L, ly, dc_t, B, fn, "dc_T");
    push_backward(L, ly, fn, at, dh_at, dc_at, want_dx, dx_at, dh0_at, dc0_at);
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
        Matrix *m = loom_testmatrix_any(L, -1);
        if (!m)
            return luaL_error(L, "%s:state: call forward first", layer_name(ly));
        Matrix *c = loom_newmatrix_dtype(L, m->m.rows, m->m.cols, ly->r.dtype);
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
        return loom_error(L, "%s:gates: no step %lld of layer %lld direction %lld (%zu steps, %zu layers, %zu directions)",
                          layer_name(ly), t, layer, dir, r->work.steps, r->cfg.layers, r->dirs);
    Matrix *m = loom_newmatrix_dtype(L, view.rows, view.cols, ly->r.dtype);
    /* The allocation may run a finalizer that runs this layer's forward again (and moves its
     * workspace): take the view anew and copy only if it still has the same shape. */
    if (!r->work.have_forward
        || loom_rnn_gates_view(&view, r, (size_t)layer - 1, (size_t)dir - 1, (size_t)t) != LOOM_OK
        || !loom_same_shape(&view, &m->m))
        return loom_error(L, "%s:gates: the layer ran again during the call", layer_name(ly));
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
        return loom_error(L, "%s:cell_states: no layer %lld direction %lld (%zu layers, %zu directions)",
                          layer_name(ly), (long long)layer, (long long)dir, r->cfg.layers, r->dirs);
    Matrix *m = loom_newmatrix_dtype(L, view.rows, view.cols, ly->r.dtype);
    loom_matrix_copy(&m->m, &view);
    return 1;
}

/* ---- cells ---- */

/* Run the core over one step (T = 1) from the input at x_at and the state (h, c) at h_at,
 * c_at (0: zeros) into h_new, c_new; the matrices are taken here, after every option was
 * read and every result allocated. */
static void cell_step(lua_State *L, Layer *ly, int x_at, int h_at, int c_at, Matrix *h_new,
                      Matrix *c_new, const char *fn)
{
    char got[48];
    loom_rnn *r = &ly->r;
    const loom_matrix *x = resolve(L, x_at, fn, "the input");
    const loom_matrix *h = resolve(L, h_at, fn, "h"), *c = resolve(L, c_at, fn, "c");
    if (x->cols != r->cfg.input || x->rows == 0)
        loom_error(L, "%s: expected input with %zu columns, got %s", fn, r->cfg.input, loom_shape(x, got));
    if (h_new->m.rows != x->rows)
        luaL_error(L, "%s: the input changed during the call", fn);
    check_state(L, ly, h, x->rows, fn, "h");
    check_state(L, ly, c, x->rows, fn, "c");
    check_dtype(L, ly, x, fn);
    check_dtype(L, ly, h, fn);
    check_dtype(L, ly, c, fn);
    loom_check(L, loom_rnn_forward(r, &h_new->m, NULL, c_new ? &c_new->m : NULL, x, x->rows, NULL,
                                   h, c, loom_getrng(L)),
               fn);
}

/* Keep a copy of the state at idx a step starts from (zeros for 0) in user value uv. */
static void remember_state(lua_State *L, const Layer *ly, int idx, size_t rows, size_t cols,
                           int uv, const char *fn)
{
    Matrix *copy = loom_newmatrix_dtype(L, rows, cols, ly->r.dtype);
    if (idx)
        loom_matrix_copy(&copy->m, &loom_recheck_any(L, idx, fn, "the state")->m);
    lua_setiuservalue(L, 1, uv);
}

/* cell:forward(x [, {h, c}]) -> h'[, c'] */
static int cell_forward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_CELL_T);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:forward", layer_name(ly));
    loom_checkmatrix_any(L, 2);
    int opts = loom_opt_table(L, 3, fn);
    lua_settop(L, 3);
    int h_at = loom_opt_matrix(L, opts, "h", fn), c_at = loom_opt_matrix(L, opts, "c", fn);
    if (c_at && !is_lstm(ly))
        return luaL_error(L, "%s: c is only for LSTMCell", fn);
    size_t H = ly->r.cfg.hidden, B = resolve(L, 2, fn, "the input")->rows;
    if (B == 0)
        return loom_error(L, "%s: expected input with %zu columns, got %s", fn,
                          ly->r.cfg.input, loom_shape(resolve(L, 2, fn, "the input"), got));
    Matrix *h_new = loom_newmatrix_dtype(L, B, H, ly->r.dtype);
    Matrix *c_new = is_lstm(ly) ? loom_newmatrix_dtype(L, B, H, ly->r.dtype) : NULL;
    int results = lua_gettop(L);
    cell_step(L, ly, 2, h_at, c_at, h_new, c_new, fn);
    remember_state(L, ly, h_at, B, H, UV_H, fn);
    if (is_lstm(ly))
        remember_state(L, ly, c_at, B, H, UV_C, fn);
    lua_settop(L, results);
    return is_lstm(ly) ? 2 : 1;
}

/* cell:backward(x, dh [, {h, c, dc}]) -> dx, dh_prev[, dc_prev]. Recomputes the step from x
 * and the state it started from (h, c; default: the last forward's). */
static int cell_backward(lua_State *L)
{
    Layer *ly = luaL_checkudata(L, 1, LOOM_CELL_T);
    char fn[64], got[48];
    snprintf(fn, sizeof fn, "%s:backward", layer_name(ly));
    loom_checkmatrix_any(L, 2);
    int opts = loom_opt_table(L, 4, fn);
    lua_settop(L, 4);
    if (!lua_isnil(L, 3))
        loom_checkmatrix_any(L, 3);
    int h_at = loom_opt_matrix(L, opts, "h", fn), c_at = loom_opt_matrix(L, opts, "c", fn);
    int dc_at = loom_opt_matrix(L, opts, "dc", fn);
    if ((c_at || dc_at) && !is_lstm(ly))
        return luaL_error(L, "%s: c and dc are only for LSTMCell", fn);
    /* The state the last forward started from, unless given. */
    int *state_at[] = {&h_at, &c_at};
    for (int k = 0; k < 2; k++) {
        if (*state_at[k] || (k == 1 && !is_lstm(ly)))
            continue;
        lua_getiuservalue(L, 1, UV_H + k);
        if (!loom_testmatrix_any(L, -1))
            return luaL_error(L, "%s: call forward first or pass the state (h, c) the step started from", fn);
        *state_at[k] = lua_gettop(L);
    }
    size_t H = ly->r.cfg.hidden, B = resolve(L, 2, fn, "the input")->rows;
    const loom_matrix *dh = lua_isnil(L, 3) ? NULL : resolve(L, 3, fn, "dh");
    if (dh && (dh->rows != B || dh->cols != H))
        return loom_error(L, "%s: dh must be %zux%zu, got %s", fn, B, H, loom_shape(dh, got));
    if (dc_at)
        check_state(L, ly, resolve(L, dc_at, fn, "dc"), B, fn, "dc");
    Matrix *h_new = loom_newmatrix_dtype(L, B, H, ly->r.dtype);
    Matrix *c_new = is_lstm(ly) ? loom_newmatrix_dtype(L, B, H, ly->r.dtype) : NULL;
    cell_step(L, ly, 2, h_at, c_at, h_new, c_new, fn);
    push_backward(L, ly, fn, 3, 0, dc_at, 1, 0, 0, 0);
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
    if (ly->r.dtype == LOOM_F32)
        memset(ly->r.grads32, 0, ly->r.count * sizeof(float));
    else
        memset(ly->r.grads, 0, ly->r.count * sizeof(double));
    lua_settop(L, 1);
    return 1;
}

/* m:to(dtype) -> m: parameters and gradients converted; the old storage stays alive (for
 * views taken before) in UV_RETIRED. The last forward and its states are forgotten. */
static int layer_to(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int dtype = loom_dtype_from_name(name);
    if (dtype < 0)
        return luaL_error(L, "%s:to: dtype must be \"float64\" or \"float32\", got \"%s\"",
                          layer_name(ly), name);
    lua_settop(L, 1);
    if (ly->r.dtype == (loom_dtype)dtype)
        return 1;
    /* Both owners exist before the conversion, so nothing can raise while memory is loose. */
    Matrix *keep_values = loom_newmatrix(L, 0, 0), *keep_grads = loom_newmatrix(L, 0, 0); /* 2, 3 */
    if (lua_getiuservalue(L, 1, UV_RETIRED) != LUA_TTABLE) { /* 4 */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_RETIRED);
    }
    lua_Integer n = (lua_Integer)luaL_len(L, 4);
    lua_pushvalue(L, 2);
    lua_rawseti(L, 4, n + 1);
    lua_pushvalue(L, 3);
    lua_rawseti(L, 4, n + 2);
    void *old_values, *old_grads;
    loom_status st = loom_rnn_to(&ly->r, (loom_dtype)dtype, &old_values, &old_grads);
    keep_values->m.block = old_values;
    keep_grads->m.block = old_grads;
    loom_check(L, st, "nn.Module:to");
    for (int uv = UV_H; uv <= UV_DC0; uv++) { /* states of the old dtype */
        lua_pushnil(L);
        lua_setiuservalue(L, 1, uv);
    }
    lua_settop(L, 1);
    return 1;
}

static int layer_dtype(lua_State *L)
{
    lua_pushstring(L, loom_dtype_name(tolayer(L, 1)->r.dtype));
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

static int layer_is_training(lua_State *L)
{
    lua_pushboolean(L, tolayer(L, 1)->r.training);
    return 1;
}

/* The read-only field m.training, as nn.Linear has it (bind/nn.c). */
static int layer_fields(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "training") == 0)
        lua_pushboolean(L, tolayer(L, 1)->r.training);
    else
        lua_pushnil(L);
    return 1;
}

/* m:config() -> {kind, input_size, hidden_size, layers, bidirectional, dropout, cell, gates,
 * gemm} (gemm: what runs the per-step products, "xsmm" or "blas") */
static int layer_config(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    const loom_rnn_config *c = &ly->r.cfg;
    lua_createtable(L, 0, 10);
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
    lua_pushstring(L, loom_rnn_gemm_name(ly->r.gemm));
    lua_setfield(L, -2, "gemm");
    return 1;
}

/* m:profile(on) -> m: true resets the counters and times each phase of the following
 * forward and backward calls, false stops. m:profile() -> {phase = seconds, ...,
 * forwards = n, backwards = n, row_parts = n, split = s}: the phases of src/core/rnn.h
 * (loom_rnn_phase); row_parts: the parts the last forward ran its loop in; split: "rows"
 * (each part its batch rows) or "columns" (each part its columns of W_hh, see rnn.c). */
static int layer_profile(lua_State *L)
{
    Layer *ly = tolayer(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_isboolean(L, 2))
            return luaL_error(L, "%s:profile: on must be true or false, got %s", layer_name(ly),
                              luaL_typename(L, 2));
        loom_rnn_profile_switch(&ly->r, lua_toboolean(L, 2));
        lua_settop(L, 1);
        return 1;
    }
    const loom_rnn_profile *p = &ly->r.profile;
    lua_createtable(L, 0, LOOM_RNN_PHASES + 4);
    for (int i = 0; i < LOOM_RNN_PHASES; i++) {
        lua_pushnumber(L, p->seconds[i]);
        lua_setfield(L, -2, loom_rnn_phase_name((loom_rnn_phase)i));
    }
    lua_pushinteger(L, (lua_Integer)p->forwards);
    lua_setfield(L, -2, "forwards");
    lua_pushinteger(L, (lua_Integer)p->backwards);
    lua_setfield(L, -2, "backwards");
    lua_pushinteger(L, (lua_Integer)(ly->r.work.parts ? ly->r.work.parts : 1));
    lua_setfield(L, -2, "row_parts");
    lua_pushstring(L, ly->r.work.columns ? "columns" : "rows");
    lua_setfield(L, -2, "split");
    return 1;
}

static const luaL_Reg seq_methods[] = {
    {"forward", seq_forward}, {"backward", seq_backward}, {"state", seq_state},
    {"initial_state_grad", layer_initial_state_grad}, {"gates", layer_gates},
    {"parameters", layer_parameters}, {"zero_grad", layer_zero_grad}, {"train", layer_train},
    {"eval", layer_eval}, {"is_training", layer_is_training}, {"config", layer_config},
    {"cell_states", layer_cell_states}, {"to", layer_to}, {"dtype", layer_dtype},
    {"profile", layer_profile}, {NULL, NULL}};

static const luaL_Reg cell_methods[] = {
    {"forward", cell_forward}, {"backward", cell_backward}, {"gates", layer_gates},
    {"initial_state_grad", layer_initial_state_grad}, {"parameters", layer_parameters},
    {"zero_grad", layer_zero_grad}, {"train", layer_train}, {"eval", layer_eval},
    {"is_training", layer_is_training}, {"config", layer_config}, {"to", layer_to},
    {"dtype", layer_dtype}, {"profile", layer_profile}, {NULL, NULL}};

static int l_is_layer(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, LOOM_RNN_T) || luaL_testudata(L, 1, LOOM_CELL_T));
    return 1;
}

/* No __close: parameter views point into the layer, so only the collector (once no view
 * is left) may free it. __tostring is the one nn modules share (lua/loom/nn). */
static void new_type(lua_State *L, const char *tname, const luaL_Reg *methods, const char *field,
                     const char *meta_field)
{
    const loom_class c = {tname, NULL, methods, NULL, layer_gc, 1, layer_fields};
    loom_newclass(L, &c);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, field); /* the methods, for recurrent.lua to extend */
    lua_setfield(L, -2, meta_field);
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
