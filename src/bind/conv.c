/* conv.c (binding): nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d as userdata over time-major
 * sequence batches. Not the kernels (src/core/conv.c) nor reprs and state_dict (lua/loom/nn). */
#include "bind.h"
#include "conv.h"

#include <math.h>
#include <string.h>

#define CONV_T "loom.nn.Conv"
#define INT(n) ((lua_Integer)(n))

/* User values: parameter storage (2 x n: values, then gradients), the output, the im2col
 * workspace (or max pooling's argmax), the column gradient, the input gradient, and the
 * stores :to retired (parameter views made before still point into them). */
enum { UV_PARAMS = 1, UV_OUTPUT, UV_COLS, UV_DCOLS, UV_DX, UV_RETIRED, CONV_UVS = UV_RETIRED };

typedef enum conv_kind { CONV1D, MAXPOOL1D, AVGPOOL1D } conv_kind;
static const char *const conv_names[] = {"Conv1d", "MaxPool1d", "AvgPool1d"};

typedef struct Conv {
    conv_kind kind;
    int training, released, has_bias;
    size_t in, out, kernel, stride, padding, dilation;
    size_t batch;          /* from the constructor (0: every forward says) */
    size_t last_batch, last_steps; /* the geometry of the last forward, for backward */
    /* Views into the parameter storage: weight out x (in*kernel), bias out x 1. */
    loom_matrix weight, bias, dweight, dbias;
} Conv;

static Conv *check_conv(lua_State *L, int idx)
{
    Conv *m = luaL_checkudata(L, idx, CONV_T);
    if (m->released)
        luaL_error(L, "attempt to use a released nn module");
    return m;
}

static Conv *new_conv(lua_State *L, conv_kind kind)
{
    Conv *m = lua_newuserdatauv(L, sizeof *m, CONV_UVS);
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->training = 1;
    m->stride = m->dilation = 1;
    luaL_setmetatable(L, CONV_T);
    return m;
}

/* The rows x cols matrix of dtype in user value slot of the module at 1, pushed; a new one
 * when the kept one has another shape or dtype (steady batches allocate nothing). */
static loom_matrix *slot_buffer(lua_State *L, int slot, size_t rows, size_t cols, loom_dtype dtype)
{
    lua_getiuservalue(L, 1, slot);
    Matrix *b = luaL_testudata(L, -1, LOOM_MATRIX_T);
    if (b && !b->released && b->m.rows == rows && b->m.cols == cols && b->m.dtype == dtype)
        return &b->m;
    lua_pop(L, 1);
    b = loom_newmatrix_dtype(L, rows, cols, dtype);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, slot);
    return &b->m;
}

/* The matrix in slot as forward left it, or NULL. Pushes nothing. */
static loom_matrix *kept(lua_State *L, int slot)
{
    lua_getiuservalue(L, 1, slot);
    Matrix *b = luaL_testudata(L, -1, LOOM_MATRIX_T);
    lua_pop(L, 1);
    return b && !b->released ? &b->m : NULL;
}

static size_t opt_size(lua_State *L, int idx, const char *fn, const char *what, size_t dflt)
{
    return lua_isnoneornil(L, idx) ? dflt : loom_checksize(L, idx, fn, what);
}

/* A contiguous rows x cols matrix at element `offset` of row `row` of the store (any dtype). */
static loom_matrix carve(const loom_matrix *store, size_t row, size_t offset, size_t rows, size_t cols)
{
    if (store->dtype == LOOM_F32)
        return loom_matrix_wrap_f32(loom_at32(store, row, offset), rows, cols);
    return loom_matrix_wrap(loom_at(store, row, offset), rows, cols);
}

/* Point the module's parameter views into store (2 x n: values, then gradients). */
static void carve_parameters(Conv *m, const loom_matrix *store)
{
    size_t nw = m->out * m->in * m->kernel;
    m->weight = carve(store, 0, 0, m->out, m->in * m->kernel);
    m->dweight = carve(store, 1, 0, m->out, m->in * m->kernel);
    if (m->has_bias) {
        m->bias = carve(store, 0, nw, m->out, 1);
        m->dbias = carve(store, 1, nw, m->out, 1);
    }
}

/* conv1d(in, out, kernel [, stride = 1, padding = 0, dilation = 1, bias = true, batch]):
 * PyTorch's init, U(-1/sqrt(in*kernel), 1/sqrt(in*kernel)) for weight then bias. */
static int l_conv1d(lua_State *L)
{
    const char *fn = "nn.Conv1d";
    size_t in = loom_checksize(L, 1, fn, "in_channels"), out = loom_checksize(L, 2, fn, "out_channels");
    size_t kernel = loom_checksize(L, 3, fn, "kernel_size");
    size_t stride = opt_size(L, 4, fn, "stride", 1), padding = opt_size(L, 5, fn, "padding", 0);
    size_t dilation = opt_size(L, 6, fn, "dilation", 1);
    int with_bias = lua_isnoneornil(L, 7) || lua_toboolean(L, 7);
    size_t batch = opt_size(L, 8, fn, "batch", 0);
    if (in == 0 || out == 0 || kernel == 0 || stride == 0 || dilation == 0)
        return luaL_error(L, "%s: channels, kernel_size, stride and dilation must be >= 1", fn);
    if (in > 1u << 20 || out > 1u << 20 || kernel > 1u << 16)
        return luaL_error(L, "%s: %Ix%Ix%I parameters are too many", fn, INT(out), INT(in), INT(kernel));
    Conv *m = new_conv(L, CONV1D);
    m->in = in, m->out = out, m->kernel = kernel, m->stride = stride, m->padding = padding;
    m->dilation = dilation, m->batch = batch, m->has_bias = with_bias;
    size_t nw = out * in * kernel, nb = with_bias ? out : 0;
    Matrix *store = loom_newmatrix(L, 2, nw + nb);
    lua_setiuservalue(L, -2, UV_PARAMS);
    carve_parameters(m, &store->m);
    double bound = 1.0 / sqrt((double)(in * kernel));
    loom_rng *rng = loom_getrng(L);
    for (size_t i = 0; i < nw + nb; i++)
        store->m.data[i] = (2.0 * loom_rng_uniform(rng) - 1.0) * bound;
    return 1;
}

/* pool1d("max"|"avg", kernel [, stride = kernel, batch]) */
static int l_pool1d(lua_State *L)
{
    static const char *const kinds[] = {"max", "avg", NULL};
    int which = luaL_checkoption(L, 1, NULL, kinds);
    const char *fn = which == 0 ? "nn.MaxPool1d" : "nn.AvgPool1d";
    size_t kernel = loom_checksize(L, 2, fn, "kernel_size");
    size_t stride = opt_size(L, 3, fn, "stride", kernel), batch = opt_size(L, 4, fn, "batch", 0);
    if (kernel == 0 || stride == 0)
        return luaL_error(L, "%s: kernel_size and stride must be >= 1", fn);
    Conv *m = new_conv(L, which == 0 ? MAXPOOL1D : AVGPOOL1D);
    m->kernel = kernel, m->stride = stride, m->batch = batch;
    return 1;
}

static size_t out_steps(const Conv *m, size_t steps)
{
    return loom_conv1d_out_steps(steps, m->kernel, m->stride, m->padding, m->dilation);
}

/* The batch size from opts at idx ({batch = B} or {lengths = {...}}) or the constructor's;
 * raises when neither says how x's rows split. Leaves the lengths table (or nil) on top. */
static size_t batch_of(lua_State *L, Conv *m, int idx, size_t rows)
{
    const char *name = conv_names[m->kind];
    size_t batch = m->batch;
    lua_pushnil(L);
    if (lua_istable(L, idx)) {
        lua_pop(L, 1);
        if (lua_getfield(L, idx, "batch") != LUA_TNIL)
            batch = loom_checksize(L, lua_gettop(L), name, "batch");
        lua_pop(L, 1);
        if (lua_getfield(L, idx, "lengths") != LUA_TNIL) {
            luaL_checktype(L, -1, LUA_TTABLE);
            batch = (size_t)luaL_len(L, -1);
        }
    } else if (!lua_isnoneornil(L, idx)) {
        luaL_error(L, "nn.%s:forward: options must be a table, got %s", name, luaL_typename(L, idx));
    }
    if (batch == 0)
        luaL_error(L, "nn.%s:forward: say how the %I rows of x split into sequences: {batch = B} or "
                   "{lengths = {...}}", name, INT(rows));
    if (rows % batch != 0)
        luaL_error(L, "nn.%s:forward: %I rows do not split into %I sequences of equal length", name,
                   INT(rows), INT(batch));
    return batch;
}

/* The output lengths of the lengths table on top (which is replaced by them). */
static void push_out_lengths(lua_State *L, Conv *m, size_t steps)
{
    size_t n = (size_t)luaL_len(L, -1);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 1; i <= n; i++) {
        lua_geti(L, -2, (lua_Integer)i);
        lua_Integer len = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (len < 1 || (size_t)len > steps)
            luaL_error(L, "nn.%s:forward: length %I of sequence %I is not in 1..%I", conv_names[m->kind],
                       len, INT(i), INT(steps));
        size_t o = out_steps(m, (size_t)len);
        if (o == 0)
            luaL_error(L, "nn.%s:forward: sequence %I (%I steps) is shorter than the kernel", conv_names[m->kind],
                       INT(i), len);
        lua_pushinteger(L, (lua_Integer)o);
        lua_seti(L, -2, (lua_Integer)i);
    }
    lua_remove(L, -2);
}

/* m:forward(x [, {batch = B} | {lengths = {...}}]) -> y [, output lengths] */
static int m_forward(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    loom_matrix *x = &loom_checkmatrix_any(L, 2)->m;
    lua_settop(L, 3);
    const char *name = conv_names[m->kind];
    char sx[48];
    size_t batch = batch_of(L, m, 3, x->rows), steps = x->rows / batch; /* lengths or nil: 4 */
    if (m->kind == CONV1D && x->cols != m->in)
        return luaL_error(L, "nn.Conv1d:forward: expected input with %I columns (channels), got %s",
                          INT(m->in), loom_shape(x, sx));
    if (m->kind == CONV1D)
        loom_check_same_dtype(L, x, &m->weight, "nn.Conv1d:forward");
    size_t t_out = out_steps(m, steps);
    if (t_out == 0)
        return luaL_error(L, "nn.%s:forward: %I steps are shorter than the kernel", name, INT(steps));
    size_t channels = m->kind == CONV1D ? m->out : x->cols;
    loom_conv1d_geometry g = {batch, steps, m->in, m->out, m->kernel, m->stride, m->padding, m->dilation};
    loom_matrix *aux = m->kind == AVGPOOL1D ? NULL
                       : slot_buffer(L, UV_COLS, t_out * batch, m->kind == CONV1D ? m->in * m->kernel : x->cols,
                                     x->dtype);
    loom_matrix *y = slot_buffer(L, UV_OUTPUT, t_out * batch, channels, x->dtype);
    loom_status st = m->kind == CONV1D
                         ? loom_conv1d_forward(y, aux, x, &m->weight, m->has_bias ? &m->bias : NULL, &g)
                         : loom_pool1d_forward(y, aux, x, m->kind == MAXPOOL1D ? LOOM_POOL_MAX : LOOM_POOL_AVG,
                                               batch, m->kernel, m->stride);
    loom_check(L, st, name);
    m->last_batch = batch, m->last_steps = steps;
    if (lua_isnil(L, 4))
        return 1;
    lua_pushvalue(L, 4);
    push_out_lengths(L, m, steps);
    return 2;
}

/* m:backward(x, dy [, need_input_grad = true]) -> dx (nil when not needed), through the
 * geometry and workspace of the last forward call. */
static int m_backward(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    loom_matrix *x = &loom_checkmatrix_any(L, 2)->m, *dy = &loom_checkmatrix_any(L, 3)->m;
    int need_dx = lua_isnoneornil(L, 4) || lua_toboolean(L, 4);
    lua_settop(L, 3);
    const char *name = conv_names[m->kind];
    char sx[48], sd[48];
    if (m->last_batch == 0 || x->rows != m->last_batch * m->last_steps)
        return luaL_error(L, "nn.%s:backward: no forward pass on a %s input to go back through", name,
                          loom_shape(x, sx));
    size_t batch = m->last_batch, t_out = out_steps(m, m->last_steps);
    size_t channels = m->kind == CONV1D ? m->out : x->cols;
    if (dy->rows != t_out * batch || dy->cols != channels)
        return luaL_error(L, "nn.%s:backward: expected a gradient of the output's shape %Ix%I, got %s", name,
                          INT(t_out * batch), INT(channels), loom_shape(dy, sd));
    char fn[48];
    snprintf(fn, sizeof fn, "nn.%s:backward", name);
    loom_check_same_dtype(L, x, dy, fn);
    if (m->kind == CONV1D)
        loom_check_same_dtype(L, dy, &m->weight, fn);
    loom_matrix *aux = m->kind == AVGPOOL1D ? NULL : kept(L, UV_COLS);
    if (m->kind != AVGPOOL1D && (!aux || aux->rows != dy->rows || aux->dtype != dy->dtype))
        return luaL_error(L, "nn.%s:backward: no forward pass on a %s input to go back through", name,
                          loom_shape(x, sx));
    loom_status st;
    if (m->kind == CONV1D) {
        loom_conv1d_geometry g = {batch, m->last_steps, m->in, m->out, m->kernel, m->stride, m->padding,
                                  m->dilation};
        loom_matrix *dcols = need_dx ? slot_buffer(L, UV_DCOLS, aux->rows, aux->cols, x->dtype) : NULL;
        loom_matrix *dx = need_dx ? slot_buffer(L, UV_DX, x->rows, x->cols, x->dtype) : NULL;
        if (!need_dx)
            lua_pushnil(L);
        st = loom_conv1d_backward(dx, &m->dweight, m->has_bias ? &m->dbias : NULL, dcols, dy, aux,
                                  &m->weight, &g);
    } else {
        if (!need_dx) {
            lua_pushnil(L);
            return 1;
        }
        loom_matrix *dx = slot_buffer(L, UV_DX, x->rows, x->cols, x->dtype);
        st = loom_pool1d_backward(dx, dy, aux, m->kind == MAXPOOL1D ? LOOM_POOL_MAX : LOOM_POOL_AVG, batch,
                                  m->kernel, m->stride);
    }
    loom_check(L, st, name);
    return 1;
}

/* m:parameters() -> {{name = "weight", value, grad}, {name = "bias", ...}} */
static int m_parameters(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    lua_settop(L, 1);
    lua_newtable(L);
    if (m->kind == CONV1D)
        loom_push_parameter(L, 1, "weight", m->weight, m->dweight);
    if (m->has_bias)
        loom_push_parameter(L, 2, "bias", m->bias, m->dbias);
    return 1;
}

static int m_zero_grad(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    if (m->kind == CONV1D)
        loom_matrix_fill(&m->dweight, 0.0);
    if (m->has_bias)
        loom_matrix_fill(&m->dbias, 0.0);
    lua_settop(L, 1);
    return 1;
}

/* m:to(dtype) -> m: Conv1d's parameters and gradients converted (values rounded for
 * float32); pools take either dtype and return themselves. Parameter views and optimisers
 * made before see the old storage (kept alive, no longer the module's): build the
 * optimiser after the conversion. */
static int m_to(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    const char *dname = luaL_checkstring(L, 2);
    int dtype = loom_dtype_from_name(dname);
    if (dtype < 0)
        return luaL_error(L, "nn.%s:to: dtype must be \"float64\" or \"float32\", got \"%s\"",
                          conv_names[m->kind], dname);
    lua_settop(L, 1);
    if (m->kind != CONV1D || m->weight.dtype == (loom_dtype)dtype)
        return 1;
    lua_getiuservalue(L, 1, UV_PARAMS); /* 2: the old store */
    const loom_matrix *old = &loom_checkmatrix_any(L, 2)->m;
    Matrix *store = loom_newmatrix_uninit_dtype(L, old->rows, old->cols, (loom_dtype)dtype); /* 3 */
    old = &loom_checkmatrix_any(L, 2)->m; /* the allocation may have run the collector */
    loom_check(L, loom_matrix_copy(&store->m, old), "nn.Conv1d:to");
    if (lua_getiuservalue(L, 1, UV_RETIRED) != LUA_TTABLE) { /* 4 */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_RETIRED);
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, 4, (lua_Integer)luaL_len(L, 4) + 1);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, 1, UV_PARAMS);
    carve_parameters(m, &store->m);
    for (int slot = UV_OUTPUT; slot < UV_RETIRED; slot++) { /* buffers of the old dtype */
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    m->last_batch = 0; /* nothing kept to go back through */
    lua_settop(L, 1);
    return 1;
}

/* m:dtype() -> "float64" | "float32" for Conv1d, nil for the pools (either dtype). */
static int m_dtype(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    if (m->kind != CONV1D)
        lua_pushnil(L);
    else
        lua_pushstring(L, loom_dtype_name(m->weight.dtype));
    return 1;
}

static int m_train(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    m->training = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_eval(lua_State *L)
{
    check_conv(L, 1)->training = 0;
    lua_settop(L, 1);
    return 1;
}

static int m_is_training(lua_State *L)
{
    lua_pushboolean(L, check_conv(L, 1)->training);
    return 1;
}

static void set_size(lua_State *L, const char *key, size_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

/* m:config() -> {kind, kernel_size, stride, [in_channels, out_channels, padding, dilation,
 * bias], batch} */
static int m_config(lua_State *L)
{
    Conv *m = check_conv(L, 1);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, conv_names[m->kind]);
    lua_setfield(L, -2, "kind");
    set_size(L, "kernel_size", m->kernel);
    set_size(L, "stride", m->stride);
    if (m->batch)
        set_size(L, "batch", m->batch);
    if (m->kind == CONV1D) {
        set_size(L, "in_channels", m->in);
        set_size(L, "out_channels", m->out);
        set_size(L, "padding", m->padding);
        set_size(L, "dilation", m->dilation);
        lua_pushboolean(L, m->has_bias);
        lua_setfield(L, -2, "bias");
    }
    return 1;
}

static int m_release(lua_State *L)
{
    Conv *m = luaL_checkudata(L, 1, CONV_T);
    if (m->released)
        return 0;
    m->released = 1;
    for (int slot = UV_OUTPUT; slot <= CONV_UVS; slot++) {
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    return 0;
}

static int m_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    const char *key = lua_tostring(L, 2);
    Conv *m = luaL_checkudata(L, 1, CONV_T);
    if (key && strcmp(key, "training") == 0)
        lua_pushboolean(L, m->training);
    else if (key && strcmp(key, "kind") == 0)
        lua_pushstring(L, conv_names[m->kind]);
    else
        lua_pushnil(L);
    return 1;
}

static int l_is_conv(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, CONV_T) != NULL);
    return 1;
}

/* out_steps(steps, kernel, stride, padding, dilation) -> steps of the output (0: none) */
static int l_out_steps(lua_State *L)
{
    const char *fn = "conv.out_steps";
    lua_pushinteger(L, (lua_Integer)loom_conv1d_out_steps(
                           loom_checksize(L, 1, fn, "steps"), loom_checksize(L, 2, fn, "kernel"),
                           loom_checksize(L, 3, fn, "stride"), loom_checksize(L, 4, fn, "padding"),
                           loom_checksize(L, 5, fn, "dilation")));
    return 1;
}

/* Naive references for tests: forward_naive(x, weight, bias|nil, batch, kernel, stride,
 * padding, dilation) -> y; backward_naive(x, weight, has_bias, dy, ...same) -> dx, dw, db. */
static loom_conv1d_geometry naive_geometry(lua_State *L, const loom_matrix *x, const loom_matrix *w, int at)
{
    const char *fn = "conv.naive";
    loom_conv1d_geometry g;
    g.batch = loom_checksize(L, at, fn, "batch");
    g.kernel = loom_checksize(L, at + 1, fn, "kernel");
    g.stride = loom_checksize(L, at + 2, fn, "stride");
    g.padding = loom_checksize(L, at + 3, fn, "padding");
    g.dilation = loom_checksize(L, at + 4, fn, "dilation");
    if (g.batch == 0 || g.kernel == 0 || x->rows % g.batch || w->cols != x->cols * g.kernel)
        luaL_error(L, "%s: shapes do not fit", fn);
    g.steps = x->rows / g.batch, g.in = x->cols, g.out = w->rows;
    if (loom_conv1d_out_steps(g.steps, g.kernel, g.stride, g.padding, g.dilation) == 0)
        luaL_error(L, "%s: the kernel is longer than the input", fn);
    return g;
}

static int l_forward_naive(lua_State *L)
{
    loom_matrix *x = &loom_checkmatrix_any(L, 1)->m, *w = &loom_checkmatrix_any(L, 2)->m;
    loom_matrix *b = lua_isnil(L, 3) ? NULL : &loom_checkmatrix_any(L, 3)->m;
    loom_conv1d_geometry g = naive_geometry(L, x, w, 4);
    size_t t_out = loom_conv1d_out_steps(g.steps, g.kernel, g.stride, g.padding, g.dilation);
    loom_matrix *y = &loom_newmatrix_dtype(L, t_out * g.batch, g.out, x->dtype)->m;
    loom_check(L, loom_conv1d_forward_naive(y, x, w, b, &g), "conv.forward_naive");
    return 1;
}

static int l_backward_naive(lua_State *L)
{
    loom_matrix *x = &loom_checkmatrix_any(L, 1)->m, *w = &loom_checkmatrix_any(L, 2)->m;
    int has_bias = lua_toboolean(L, 3);
    loom_matrix *dy = &loom_checkmatrix_any(L, 4)->m;
    loom_conv1d_geometry g = naive_geometry(L, x, w, 5);
    loom_matrix *dx = &loom_newmatrix_dtype(L, x->rows, x->cols, x->dtype)->m;
    loom_matrix *dw = &loom_newmatrix_dtype(L, w->rows, w->cols, x->dtype)->m;
    loom_matrix *db = &loom_newmatrix_dtype(L, w->rows, 1, x->dtype)->m;
    loom_check(L, loom_conv1d_backward_naive(dx, dw, has_bias ? db : NULL, dy, x, w, &g), "conv.backward_naive");
    return 3;
}

static const luaL_Reg conv_methods[] = {
    {"forward", m_forward}, {"backward", m_backward}, {"parameters", m_parameters},
    {"zero_grad", m_zero_grad}, {"train", m_train}, {"eval", m_eval},
    {"is_training", m_is_training}, {"config", m_config}, {"close", m_release}, {"to", m_to},
    {"dtype", m_dtype}, {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"conv1d", l_conv1d}, {"pool1d", l_pool1d}, {"is_conv", l_is_conv}, {"out_steps", l_out_steps},
    {"forward_naive", l_forward_naive}, {"backward_naive", l_backward_naive}, {NULL, NULL}};

int loom_open_conv(lua_State *L)
{
    luaL_newlib(L, functions);
    if (luaL_newmetatable(L, CONV_T)) {
        luaL_newlib(L, conv_methods);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods");
        lua_pushcclosure(L, m_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, "nn.Conv1d");
        lua_setfield(L, -2, "__name");
    }
    lua_setfield(L, -2, "metatable");
    return 1;
}
