/* attention.c (binding): the nn.Attention userdata over src/core/attention.c: parameters
 * with PyTorch-style names, forward and backward over time-major keys with padding masks.
 * Not the decoder that steps it (lua/loom/seq2seq.lua). */
#include "attention.h"
#include "bind.h"

#include <math.h>
#include <string.h>

#define ATTENTION_T "loom.nn.Attention"
#define INT(n) ((lua_Integer)(n))

/* User values: the parameter storage (2 x n: values, then gradients), the workspace
 * (1 x n, grown on demand), the lengths buffer (grown on demand) and the stores m:to()
 * replaced (kept for the parameter views taken before it). */
enum { UV_PARAMS = 1, UV_WORK, UV_LENGTHS, UV_RETIRED, ATTENTION_UVS = UV_RETIRED };

static const char *const kind_names[] = {"dot", "general", "concat", "bahdanau", NULL};

typedef struct Attention {
    loom_attention_kind kind;
    int training, released;
    loom_dtype dtype; /* of the parameters, and of every matrix forward and backward take */
    size_t query_dim, key_dim, attn_dim;
    loom_attention_params value, grad; /* views into UV_PARAMS */
} Attention;

static Attention *check_attention(lua_State *L, int idx)
{
    Attention *a = luaL_checkudata(L, idx, ATTENTION_T);
    if (a->released)
        luaL_error(L, "attempt to use a released nn module");
    return a;
}

/* Carve `rows` x `cols` out of the value and gradient rows of the storage at *offset. */
static void carve(loom_matrix *value, loom_matrix *grad, const loom_matrix *store, size_t *offset,
                  size_t rows, size_t cols)
{
    loom_matrix *out[] = {value, grad};
    for (size_t r = 0; r < 2; r++) {
        loom_matrix flat;
        loom_matrix_view(&flat, store, r, *offset, 1, rows * cols);
        loom_matrix_reshape_view(out[r], &flat, rows, cols);
    }
    *offset += rows * cols;
}

/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's nn.Linear default. */
static void init_uniform(lua_State *L, loom_matrix *m, size_t fan_in)
{
    loom_rng *rng = loom_getrng(L);
    double bound = fan_in ? 1.0 / sqrt((double)fan_in) : 0.0;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            loom_put(m, i, j, (2.0 * loom_rng_uniform(rng) - 1.0) * bound);
}

/* Elements of each row (values, gradients) of the parameter storage. */
static size_t param_count(const Attention *a)
{
    size_t hq = a->query_dim, hk = a->key_dim, A = a->attn_dim;
    switch (a->kind) {
    case LOOM_ATTN_GENERAL: return hk * hq;
    case LOOM_ATTN_CONCAT: return A * (hq + hk) + A;
    case LOOM_ATTN_BAHDANAU: return A * hq + A + A * hk + A;
    default: return 0;
    }
}

/* The parameter and gradient views of a->value and a->grad, carved from store (2 x n). */
static void carve_params(Attention *a, const loom_matrix *store)
{
    size_t hq = a->query_dim, hk = a->key_dim, A = a->attn_dim, off = 0;
    if (a->kind == LOOM_ATTN_GENERAL) {
        carve(&a->value.w, &a->grad.w, store, &off, hk, hq);
    } else if (a->kind == LOOM_ATTN_CONCAT) {
        carve(&a->value.w, &a->grad.w, store, &off, A, hq + hk);
        carve(&a->value.v, &a->grad.v, store, &off, 1, A);
    } else if (a->kind == LOOM_ATTN_BAHDANAU) {
        carve(&a->value.w, &a->grad.w, store, &off, A, hq);
        carve(&a->value.b, &a->grad.b, store, &off, A, 1);
        carve(&a->value.u, &a->grad.u, store, &off, A, hk);
        carve(&a->value.v, &a->grad.v, store, &off, 1, A);
    }
}

static void alloc_params(lua_State *L, Attention *a)
{
    size_t n = param_count(a);
    Matrix *store = loom_newmatrix(L, 0, 0);
    if (loom_matrix_init(&store->m, 2, n) != LOOM_OK)
        luaL_error(L, "nn.Attention: not enough memory for %I parameters", INT(n));
    lua_setiuservalue(L, -2, UV_PARAMS);
    carve_params(a, &store->m);
    size_t hq = a->query_dim, hk = a->key_dim, A = a->attn_dim;
    if (a->kind == LOOM_ATTN_GENERAL) {
        init_uniform(L, &a->value.w, hq);
    } else if (a->kind == LOOM_ATTN_CONCAT) {
        init_uniform(L, &a->value.w, hq + hk);
        init_uniform(L, &a->value.v, A);
    } else if (a->kind == LOOM_ATTN_BAHDANAU) {
        init_uniform(L, &a->value.w, hq);
        init_uniform(L, &a->value.b, hq);
        init_uniform(L, &a->value.u, hk);
        init_uniform(L, &a->value.v, A);
    }
}

/* new(kind, query_dim, key_dim, attn_dim): sizes checked by lua/loom/nn/attention.lua. */
static int l_new(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, kind_names);
    size_t hq = loom_checksize(L, 2, "nn.Attention", "query size");
    size_t hk = loom_checksize(L, 3, "nn.Attention", "key size");
    size_t A = loom_checksize(L, 4, "nn.Attention", "attention size");
    Attention *a = lua_newuserdatauv(L, sizeof *a, ATTENTION_UVS);
    memset(a, 0, sizeof *a);
    a->kind = (loom_attention_kind)kind;
    a->training = 1;
    a->query_dim = hq;
    a->key_dim = hk;
    a->attn_dim = A;
    luaL_setmetatable(L, ATTENTION_T);
    alloc_params(L, a);
    return 1;
}

/* ---- arguments of forward and backward ---- */

typedef struct call_args {
    const char *fn;
    loom_attention_shape shape;
    loom_matrix *query, *keys;
    size_t *lengths; /* NULL: every position counts */
} call_args;

static int opt_field(lua_State *L, int opts, const char *key)
{
    if (opts == 0)
        return LUA_TNIL;
    return lua_getfield(L, opts, key);
}

/* Every matrix of a call has the module's dtype (no silent promotion). */
static loom_matrix *require_dtype(lua_State *L, const Attention *a, loom_matrix *m, const char *fn,
                                  const char *what)
{
    if (m->dtype != a->dtype)
        luaL_error(L, "%s: %s is %s but the module is %s (convert one of them with :to)", fn, what,
                   loom_dtype_name(m->dtype), loom_dtype_name(a->dtype));
    return m;
}

/* A matrix option of the given shape, or NULL when absent. */
static loom_matrix *opt_matrix(lua_State *L, const Attention *a, int opts, const char *key,
                               size_t rows, size_t cols, const char *fn)
{
    if (opt_field(L, opts, key) == LUA_TNIL) {
        if (opts)
            lua_pop(L, 1);
        return NULL;
    }
    Matrix *m = loom_testmatrix_any(L, -1);
    lua_pop(L, 1); /* opts keeps it alive */
    loom_matrix want = {.rows = rows, .cols = cols, .ld = cols ? cols : 1};
    char sw[48], sg[48];
    if (!m)
        luaL_error(L, "%s: %s must be a matrix", fn, key);
    if (!loom_same_shape(&m->m, &want))
        luaL_error(L, "%s: %s must be %s, got %s", fn, key, loom_shape(&want, sw), loom_shape(&m->m, sg));
    return require_dtype(L, a, &m->m, fn, key);
}

/* The lengths list into the module's reusable buffer (no allocation once it is big enough). */
static size_t *opt_lengths(lua_State *L, int opts, size_t batch, size_t src_len, const char *fn)
{
    if (opt_field(L, opts, "lengths") == LUA_TNIL) {
        if (opts)
            lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: lengths must be a list of integers", fn);
    size_t n = (size_t)lua_rawlen(L, -1);
    if (n != batch)
        luaL_error(L, "%s: %I lengths for a batch of %I", fn, INT(n), INT(batch));
    lua_getiuservalue(L, 1, UV_LENGTHS);
    size_t *buf = lua_touserdata(L, -1);
    if (!buf || lua_rawlen(L, -1) < (n ? n : 1) * sizeof(size_t)) {
        lua_pop(L, 1);
        buf = lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_LENGTHS);
    }
    lua_pop(L, 1);
    for (size_t b = 0; b < n; b++) {
        lua_rawgeti(L, -1, (lua_Integer)b + 1);
        int ok = 0;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || v < 0 || (size_t)v > src_len)
            luaL_error(L, "%s: lengths[%I] must be an integer in 0..%I", fn, INT(b + 1), INT(src_len));
        buf[b] = (size_t)v;
    }
    lua_pop(L, 1);
    return buf;
}

/* query at 2, keys at 3, options table at opts_idx (or none): shapes checked, lengths read. */
static void read_call(lua_State *L, Attention *a, call_args *c, int opts_idx, const char *fn)
{
    char sq[48], sk[48];
    c->fn = fn;
    c->query = require_dtype(L, a, &loom_checkmatrix_any(L, 2)->m, fn, "the query");
    c->keys = require_dtype(L, a, &loom_checkmatrix_any(L, 3)->m, fn, "the key matrix");
    size_t B = c->query->rows;
    if (c->query->cols != a->query_dim)
        luaL_error(L, "%s: expected a query with %I columns, got %s", fn, INT(a->query_dim), loom_shape(c->query, sq));
    if (c->keys->cols != a->key_dim)
        luaL_error(L, "%s: expected keys with %I columns, got %s", fn, INT(a->key_dim), loom_shape(c->keys, sk));
    if (B == 0 || c->keys->rows % B != 0 || c->keys->rows == 0)
        luaL_error(L, "%s: keys %s do not split into source steps of the query's %s rows", fn,
                   loom_shape(c->keys, sk), loom_shape(c->query, sq) /* its batch */);
    c->shape = (loom_attention_shape){a->kind, B, c->keys->rows / B, a->query_dim, a->key_dim, a->attn_dim};
    c->lengths = opt_lengths(L, opts_idx, B, c->shape.src_len, fn);
}

static int opts_index(lua_State *L, int idx, const char *fn)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: options must be a table, got %s", fn, luaL_typename(L, idx));
    return idx;
}

/* The workspace for c's shape in the module's dtype, grown (never shrunk) in user value
 * UV_WORK. */
static void *workspace(lua_State *L, const Attention *a, const call_args *c)
{
    size_t n = loom_attention_workspace(&c->shape);
    lua_getiuservalue(L, 1, UV_WORK);
    Matrix *w = loom_testmatrix_any(L, -1);
    if (!w || w->m.cols < n || w->m.dtype != a->dtype) {
        lua_pop(L, 1);
        w = loom_newmatrix_uninit_dtype(L, 1, n ? n : 1, a->dtype);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_WORK);
    }
    lua_pop(L, 1);
    return w->m.data;
}

/* m:forward(query, keys [, {lengths, context, weights}]) -> context (B x Hk), weights (B x S).
 * New matrices unless context/weights are given, which are written and returned. */
static int m_forward(lua_State *L)
{
    const char *fn = "nn.Attention:forward";
    Attention *a = check_attention(L, 1);
    int opts = opts_index(L, 4, fn);
    lua_settop(L, 4);
    call_args c;
    read_call(L, a, &c, opts, fn);
    size_t B = c.shape.batch, S = c.shape.src_len;
    loom_matrix *ctx = opt_matrix(L, a, opts, "context", B, a->key_dim, fn);
    loom_matrix *wts = opt_matrix(L, a, opts, "weights", B, S, fn);
    void *work = workspace(L, a, &c);
    if (ctx)
        lua_getfield(L, opts, "context");
    else
        ctx = &loom_newmatrix_uninit_dtype(L, B, a->key_dim, a->dtype)->m;
    if (wts)
        lua_getfield(L, opts, "weights");
    else
        wts = &loom_newmatrix_uninit_dtype(L, B, S, a->dtype)->m;
    loom_check(L, loom_attention_forward(ctx, wts, work, c.query, c.keys, c.lengths, &a->value, &c.shape), fn);
    return 2;
}

/* m:backward(query, keys, dcontext [, {lengths, dweights, dkeys, dquery}]) -> dquery, dkeys.
 * dquery is overwritten (a new matrix unless given); dkeys accumulates into the given
 * matrix (a new zero one otherwise); parameter gradients accumulate. */
static int m_backward(lua_State *L)
{
    const char *fn = "nn.Attention:backward";
    Attention *a = check_attention(L, 1);
    int opts = opts_index(L, 5, fn);
    lua_settop(L, 5);
    call_args c;
    read_call(L, a, &c, opts, fn);
    size_t B = c.shape.batch, S = c.shape.src_len;
    loom_matrix *dctx = require_dtype(L, a, &loom_checkmatrix_any(L, 4)->m, fn, "the context gradient");
    loom_matrix want = {.rows = B, .cols = a->key_dim, .ld = a->key_dim ? a->key_dim : 1};
    char sw[48], sg[48];
    if (!loom_same_shape(dctx, &want))
        return luaL_error(L, "%s: expected a context gradient %s, got %s", fn, loom_shape(&want, sw),
                          loom_shape(dctx, sg));
    loom_matrix *dwts = opt_matrix(L, a, opts, "dweights", B, S, fn);
    loom_matrix *dq = opt_matrix(L, a, opts, "dquery", B, a->query_dim, fn);
    loom_matrix *dk = opt_matrix(L, a, opts, "dkeys", S * B, a->key_dim, fn);
    void *work = workspace(L, a, &c);
    if (dq)
        lua_getfield(L, opts, "dquery");
    else
        dq = &loom_newmatrix_uninit_dtype(L, B, a->query_dim, a->dtype)->m;
    if (dk)
        lua_getfield(L, opts, "dkeys");
    else
        dk = &loom_newmatrix_dtype(L, S * B, a->key_dim, a->dtype)->m;
    loom_check(L, loom_attention_backward(dq, dk, &a->grad, work, dctx, dwts, c.query, c.keys,
                                          c.lengths, &a->value, &c.shape), fn);
    return 2;
}

/* ---- parameters and modes ---- */

/* m:parameters(): general linear_in.weight; concat linear.weight, v.weight; bahdanau
 * query_layer.weight, query_layer.bias, key_layer.weight, v.weight. */
static int m_parameters(lua_State *L)
{
    Attention *a = check_attention(L, 1);
    lua_settop(L, 1);
    lua_newtable(L);
    if (a->kind == LOOM_ATTN_GENERAL) {
        loom_push_parameter(L, 1, "linear_in.weight", a->value.w, a->grad.w);
    } else if (a->kind == LOOM_ATTN_CONCAT) {
        loom_push_parameter(L, 1, "linear.weight", a->value.w, a->grad.w);
        loom_push_parameter(L, 2, "v.weight", a->value.v, a->grad.v);
    } else if (a->kind == LOOM_ATTN_BAHDANAU) {
        loom_push_parameter(L, 1, "query_layer.weight", a->value.w, a->grad.w);
        loom_push_parameter(L, 2, "query_layer.bias", a->value.b, a->grad.b);
        loom_push_parameter(L, 3, "key_layer.weight", a->value.u, a->grad.u);
        loom_push_parameter(L, 4, "v.weight", a->value.v, a->grad.v);
    }
    return 1;
}

static int m_zero_grad(lua_State *L)
{
    check_attention(L, 1);
    lua_getiuservalue(L, 1, UV_PARAMS);
    Matrix *store = loom_testmatrix_any(L, -1);
    if (store && store->m.rows == 2) {
        loom_matrix g;
        loom_matrix_view(&g, &store->m, 1, 0, 1, store->m.cols);
        loom_matrix_fill(&g, 0.0);
    }
    lua_settop(L, 1);
    return 1;
}

/* m:to(dtype) -> m: parameters and gradients converted (values rounded for float32), and
 * forward and backward then take matrices of that dtype. Views and optimisers made before
 * see the old storage (kept alive, no longer the module's): build the optimiser after. */
static int m_to(lua_State *L)
{
    Attention *a = check_attention(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int dtype = loom_dtype_from_name(name);
    if (dtype < 0)
        return luaL_error(L, "nn.Attention:to: dtype must be \"float64\" or \"float32\", got \"%s\"", name);
    lua_settop(L, 1);
    if (a->dtype == (loom_dtype)dtype)
        return 1;
    carve_params(a, &loom_convert_store(L, 1, UV_PARAMS, UV_RETIRED, (loom_dtype)dtype)->m);
    a->dtype = (loom_dtype)dtype;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_WORK); /* a workspace of the old dtype */
    lua_settop(L, 1);
    return 1;
}

static int m_dtype(lua_State *L)
{
    lua_pushstring(L, loom_dtype_name(check_attention(L, 1)->dtype));
    return 1;
}

static int m_train(lua_State *L)
{
    check_attention(L, 1)->training = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_eval(lua_State *L)
{
    check_attention(L, 1)->training = 0;
    lua_settop(L, 1);
    return 1;
}

static int m_is_training(lua_State *L)
{
    lua_pushboolean(L, check_attention(L, 1)->training);
    return 1;
}

/* m:config() -> {kind = "Attention", score = "general", query_size, key_size, attn_size} */
static int m_config(lua_State *L)
{
    Attention *a = check_attention(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, "Attention");
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, kind_names[a->kind]);
    lua_setfield(L, -2, "score");
    lua_pushinteger(L, INT(a->query_dim));
    lua_setfield(L, -2, "query_size");
    lua_pushinteger(L, INT(a->key_dim));
    lua_setfield(L, -2, "key_size");
    lua_pushinteger(L, INT(a->attn_dim));
    lua_setfield(L, -2, "attn_size");
    return 1;
}

/* __gc and __close: drop the buffers; parameter storage lives while views of it do. */
static int m_release(lua_State *L)
{
    Attention *a = luaL_checkudata(L, 1, ATTENTION_T);
    if (a->released)
        return 0;
    a->released = 1;
    for (int slot = UV_WORK; slot <= UV_LENGTHS; slot++) {
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    return 0;
}

static int l_is_attention(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, ATTENTION_T) != NULL);
    return 1;
}

static const luaL_Reg methods[] = {
    {"forward", m_forward}, {"backward", m_backward}, {"parameters", m_parameters},
    {"zero_grad", m_zero_grad}, {"train", m_train}, {"eval", m_eval},
    {"is_training", m_is_training}, {"config", m_config}, {"close", m_release}, {"to", m_to},
    {"dtype", m_dtype}, {NULL, NULL}};

static const luaL_Reg functions[] = {{"new", l_new}, {"is_attention", l_is_attention}, {NULL, NULL}};

int loom_open_attention(lua_State *L)
{
    luaL_newlib(L, functions);
    if (luaL_newmetatable(L, ATTENTION_T)) {
        luaL_newlib(L, methods);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods");
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, "nn.Attention");
        lua_setfield(L, -2, "__name");
    }
    lua_setfield(L, -2, "metatable");
    return 1;
}
