/* nn.c (binding): layer and loss userdata (nn.Linear, activations, Dropout, Embedding,
 * losses) and the optimiser step functions. Not containers or gradcheck (lua/loom/nn). */
#include "bind.h"
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MODULE_T "loom.nn.Module"
#define LOSS_T "loom.nn.Loss"

/* lua_pushfstring knows %I (lua_Integer), not %zu. */
#define INT(n) ((lua_Integer)(n))

/* A number as %g writes it ("4", "1.5"), for messages; buf has 32 bytes. */
static const char *num_text(double v, char *buf)
{
    snprintf(buf, 32, "%g", v);
    return buf;
}

/* A layer's user values: its parameter storage (a 2 x n matrix, values then gradients),
 * the buffers forward and backward return (reused while shapes stay the same), and the
 * dropout mask; each buffer has a spare of the previous shape, SPARE slots later, so an
 * epoch whose last batch is smaller swaps buffers instead of allocating. Parameter views
 * name the layer as owner, so they keep all of it alive. */
enum { UV_PARAMS = 1, UV_OUTPUT, UV_GRAD_INPUT, UV_MASK, SPARE = 3, UV_RETIRED = UV_MASK + SPARE + 1,
       LAYER_UVS = UV_RETIRED };
/* UV_RETIRED: a table of the parameter stores m:to() replaced, kept so that parameter views
 * taken before the conversion never point into freed storage. */

typedef enum layer_kind {
    LINEAR, SIGMOID, TANH, RELU, SOFTMAX, LOG_SOFTMAX, DROPOUT, EMBEDDING
} layer_kind;

static const char *const layer_names[] = {"Linear", "Sigmoid", "Tanh", "ReLU",
                                          "Softmax", "LogSoftmax", "Dropout", "Embedding"};

typedef struct Layer {
    layer_kind kind;
    int training;
    int released;
    int has_bias;
    size_t in, out;    /* Linear: features in and out; Embedding: vocabulary and dimension */
    double p;          /* Dropout: probability of zeroing */
    size_t padding_id; /* Embedding: 1-based id whose row gets no gradient, 0 = none */
    /* Views into the parameter matrix: weight out x in (Embedding vocab x dim), bias out x 1. */
    loom_matrix weight, bias, dweight, dbias;
} Layer;

static Layer *check_layer(lua_State *L, int idx)
{
    Layer *m = luaL_checkudata(L, idx, MODULE_T);
    if (m->released)
        luaL_error(L, "attempt to use a released nn module");
    return m;
}

static Layer *new_layer(lua_State *L, layer_kind kind)
{
    Layer *m = lua_newuserdatauv(L, sizeof *m, LAYER_UVS);
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->training = 1;
    luaL_setmetatable(L, MODULE_T);
    return m;
}

static Matrix *fitting(lua_State *L, int i, size_t rows, size_t cols, loom_dtype dtype)
{
    Matrix *b = luaL_testudata(L, i, LOOM_MATRIX_T);
    return b && !b->released && b->m.rows == rows && b->m.cols == cols && b->m.dtype == dtype
               ? b : NULL;
}

/* The rows x cols buffer in user value `slot` of the userdata at idx, pushed. When it has
 * another shape, the one in `spare` is tried (and the two swap); only when neither fits is
 * a new one made, the old one becoming the spare. Steady-state training allocates nothing. */
static loom_matrix *reuse_buffer(lua_State *L, int idx, int slot, int spare, size_t rows, size_t cols,
                                 loom_dtype dtype)
{
    lua_getiuservalue(L, idx, slot);
    Matrix *b = fitting(L, -1, rows, cols, dtype);
    if (b)
        return &b->m;
    lua_getiuservalue(L, idx, spare);
    b = fitting(L, -1, rows, cols, dtype);
    if (!b) {
        lua_pop(L, 1);
        b = loom_newmatrix_dtype(L, rows, cols, dtype);
    }
    lua_insert(L, -2);              /* buffer, old current */
    lua_setiuservalue(L, idx, spare);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, idx, slot);
    return &b->m;
}

static loom_matrix *layer_buffer(lua_State *L, int idx, int slot, size_t rows, size_t cols,
                                 loom_dtype dtype)
{
    return reuse_buffer(L, idx, slot, slot + SPARE, rows, cols, dtype);
}

/* The buffer in `slot` as forward left it, or NULL (nothing pushed). */
static loom_matrix *kept_buffer(lua_State *L, int idx, int slot)
{
    lua_getiuservalue(L, idx, slot);
    Matrix *b = luaL_testudata(L, -1, LOOM_MATRIX_T);
    lua_pop(L, 1);
    return b && !b->released ? &b->m : NULL;
}

/* Allocate weight (rows x cols) and, when with_bias, bias (rows x 1) with their gradients
 * in one matrix kept as user value UV_PARAMS of the layer on top of the stack. */
/* A contiguous rows x cols matrix at element `offset` of row `row` of the store (any dtype). */
static loom_matrix carve(const loom_matrix *store, size_t row, size_t offset, size_t rows, size_t cols)
{
    int empty = store->data == NULL;
    if (store->dtype == LOOM_F32)
        return loom_matrix_wrap_f32(empty ? NULL : loom_at32(store, row, offset), rows, cols);
    return loom_matrix_wrap(empty ? NULL : loom_at(store, row, offset), rows, cols);
}

/* Point the layer's parameter views into store (2 x n: values, then gradients). */
static void carve_parameters(Layer *m, const loom_matrix *store, size_t rows, size_t cols)
{
    size_t nw = rows * cols;
    m->weight = carve(store, 0, 0, rows, cols);
    m->dweight = carve(store, 1, 0, rows, cols);
    if (m->has_bias) {
        m->bias = carve(store, 0, nw, rows, 1);
        m->dbias = carve(store, 1, nw, rows, 1);
    }
}

static void alloc_parameters(lua_State *L, Layer *m, size_t rows, size_t cols, int with_bias)
{
    size_t nw = rows * cols, nb = with_bias ? rows : 0;
    if (cols != 0 && rows > SIZE_MAX / sizeof(double) / 2 / cols)
        luaL_error(L, "nn.%s: %Ix%I parameters are too many", layer_names[m->kind], INT(rows), INT(cols));
    /* An empty matrix first, so a failed allocation leaves nothing half-made. */
    Matrix *store = loom_newmatrix(L, 0, 0);
    if (loom_matrix_init(&store->m, 2, nw + nb) != LOOM_OK)
        luaL_error(L, "nn.%s: not enough memory for %Ix%I parameters", layer_names[m->kind],
                   INT(rows), INT(cols));
    lua_setiuservalue(L, -2, UV_PARAMS);
    m->has_bias = with_bias;
    carve_parameters(m, &store->m, rows, cols);
}

/* U(-bound, bound) from the module's generator. */
static void fill_uniform(lua_State *L, loom_matrix *a, double bound)
{
    loom_rng *rng = loom_getrng(L);
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++)
            loom_put(a, i, j, (2.0 * loom_rng_uniform(rng) - 1.0) * bound);
}

/* ---- constructors ---- */

/* linear(in, out [, bias = true]): PyTorch's default init, U(-1/sqrt(in), 1/sqrt(in)) for
 * weight and bias (kaiming_uniform with a = sqrt(5)), drawn weight first. */
static int l_linear(lua_State *L)
{
    size_t in = loom_checkdim(L, 1, "nn.Linear", "in_features");
    size_t out = loom_checkdim(L, 2, "nn.Linear", "out_features");
    int with_bias = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
    Layer *m = new_layer(L, LINEAR);
    m->in = in;
    m->out = out;
    alloc_parameters(L, m, out, in, with_bias);
    double bound = in > 0 ? 1.0 / sqrt((double)in) : 0.0;
    fill_uniform(L, &m->weight, bound);
    if (with_bias)
        fill_uniform(L, &m->bias, bound);
    return 1;
}

/* embedding(vocab, dim [, padding_id]): N(0, 1) rows like PyTorch; the padding row is zero. */
static int l_embedding(lua_State *L)
{
    size_t vocab = loom_checkdim(L, 1, "nn.Embedding", "num_embeddings");
    size_t dim = loom_checkdim(L, 2, "nn.Embedding", "embedding_dim");
    size_t padding = lua_isnoneornil(L, 3) ? 0 : loom_checkdim(L, 3, "nn.Embedding", "padding_idx");
    if (padding > vocab)
        return luaL_error(L, "nn.Embedding: padding_idx %I is not an id in 1..%I", INT(padding), INT(vocab));
    Layer *m = new_layer(L, EMBEDDING);
    m->in = vocab;
    m->out = dim;
    m->padding_id = padding;
    alloc_parameters(L, m, vocab, dim, 0);
    loom_matrix_randn(&m->weight, loom_getrng(L));
    if (padding) {
        loom_matrix row;
        loom_matrix_view(&row, &m->weight, padding - 1, 0, 1, dim);
        loom_matrix_fill(&row, 0.0);
    }
    return 1;
}

static int l_dropout(lua_State *L)
{
    double p = luaL_optnumber(L, 1, 0.5);
    char sp[32];
    if (!(p >= 0.0 && p <= 1.0))
        return luaL_error(L, "nn.Dropout: p must be in [0, 1], got %s", num_text(p, sp));
    Layer *m = new_layer(L, DROPOUT);
    m->p = p;
    return 1;
}

static int l_sigmoid(lua_State *L) { new_layer(L, SIGMOID); return 1; }
static int l_tanh(lua_State *L) { new_layer(L, TANH); return 1; }
static int l_relu(lua_State *L) { new_layer(L, RELU); return 1; }
static int l_softmax(lua_State *L) { new_layer(L, SOFTMAX); return 1; }
static int l_log_softmax(lua_State *L) { new_layer(L, LOG_SOFTMAX); return 1; }

/* ---- forward ---- */

static int overlaps(const loom_matrix *a, const loom_matrix *b)
{
    if (!a->data || !b->data || !a->rows || !b->rows || !a->cols || !b->cols)
        return 0;
    const char *a_end = (const char *)a->data
                        + ((a->rows - 1) * a->ld + a->cols) * loom_dtype_size(a->dtype);
    const char *b_end = (const char *)b->data
                        + ((b->rows - 1) * b->ld + b->cols) * loom_dtype_size(b->dtype);
    return (const char *)a->data < b_end && (const char *)b->data < a_end;
}

static int forward_linear(lua_State *L, Layer *m, const loom_matrix *x)
{
    char sx[48];
    if (x->cols != m->in)
        return luaL_error(L, "nn.Linear:forward: expected input with %I columns, got %s", INT(m->in),
                          loom_shape(x, sx));
    loom_check_same_dtype(L, x, &m->weight, "nn.Linear:forward");
    loom_matrix *y = layer_buffer(L, 1, UV_OUTPUT, x->rows, m->out, x->dtype);
    if (overlaps(y, x))
        return luaL_error(L, "nn.Linear:forward: the input is this layer's own output (copy it first)");
    loom_check(L, loom_linear_forward(y, x, &m->weight, m->has_bias ? &m->bias : NULL),
               "nn.Linear:forward");
    return 1;
}

static int forward_embedding(lua_State *L, Layer *m, const loom_matrix *ids)
{
    /* ids may be of either dtype; the output has the weights' */
    loom_matrix *y = layer_buffer(L, 1, UV_OUTPUT, loom_numel(ids), m->out, m->weight.dtype);
    size_t bad = 0;
    char sx[32];
    if (loom_embedding_forward(y, ids, &m->weight, &bad) != LOOM_OK)
        return luaL_error(L, "nn.Embedding:forward: id %s at (%I, %I) is not in 1..%I",
                          num_text(loom_get(ids, bad / ids->cols, bad % ids->cols), sx), INT(bad / ids->cols + 1),
                          INT(bad % ids->cols + 1), INT(m->in));
    return 1;
}

static int forward_dropout(lua_State *L, Layer *m, const loom_matrix *x)
{
    if (!m->training || m->p == 0.0) {
        lua_settop(L, 2); /* the identity: the input itself */
        return 1;
    }
    loom_matrix *mask = layer_buffer(L, 1, UV_MASK, x->rows, x->cols, x->dtype);
    lua_pop(L, 1);
    loom_matrix *y = layer_buffer(L, 1, UV_OUTPUT, x->rows, x->cols, x->dtype);
    loom_check(L, loom_dropout_forward(y, mask, x, m->p, loom_getrng(L)), "nn.Dropout:forward");
    return 1;
}

/* m:forward(x) -> y, a buffer of the layer overwritten by the next forward call. */
static int m_forward(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    loom_matrix *x = &loom_checkmatrix_any(L, 2)->m;
    lua_settop(L, 2);
    switch (m->kind) {
    case LINEAR: return forward_linear(L, m, x);
    case EMBEDDING: return forward_embedding(L, m, x);
    case DROPOUT: return forward_dropout(L, m, x);
    default: break;
    }
    loom_matrix *y = layer_buffer(L, 1, UV_OUTPUT, x->rows, x->cols, x->dtype);
    loom_status st;
    if (m->kind == SOFTMAX)
        st = loom_softmax_forward(y, x);
    else if (m->kind == LOG_SOFTMAX)
        st = loom_log_softmax_forward(y, x);
    else
        st = loom_activation_forward(y, x, m->kind == SIGMOID ? LOOM_ACT_SIGMOID
                                           : m->kind == TANH  ? LOOM_ACT_TANH
                                                              : LOOM_ACT_RELU);
    loom_check(L, st, "nn.forward");
    return 1;
}

/* ---- backward ---- */

static void raise_grad_shape(lua_State *L, const Layer *m, const loom_matrix *want,
                             const loom_matrix *dy)
{
    char sw[48], sd[48];
    luaL_error(L, "nn.%s:backward: expected a gradient of the output's shape %s, got %s",
               layer_names[m->kind], loom_shape(want, sw), loom_shape(dy, sd));
}

static int backward_linear(lua_State *L, Layer *m, const loom_matrix *x, const loom_matrix *dy,
                           int need_dx)
{
    char sx[48];
    if (x->cols != m->in)
        return luaL_error(L, "nn.Linear:backward: expected input with %I columns, got %s", INT(m->in),
                          loom_shape(x, sx));
    loom_matrix want = {.rows = x->rows, .cols = m->out, .ld = m->out ? m->out : 1};
    if (!loom_same_shape(dy, &want))
        raise_grad_shape(L, m, &want, dy);
    loom_check_same_dtype(L, x, &m->weight, "nn.Linear:backward");
    loom_check_same_dtype(L, dy, &m->weight, "nn.Linear:backward");
    loom_matrix *dx = NULL;
    if (need_dx)
        dx = layer_buffer(L, 1, UV_GRAD_INPUT, x->rows, m->in, x->dtype);
    else
        lua_pushnil(L);
    loom_check(L, loom_linear_backward(dx, &m->dweight, m->has_bias ? &m->dbias : NULL, dy, x,
                                       &m->weight), "nn.Linear:backward");
    return 1;
}

static int backward_embedding(lua_State *L, Layer *m, const loom_matrix *ids, const loom_matrix *dy)
{
    loom_matrix want = {.rows = loom_numel(ids), .cols = m->out, .ld = m->out ? m->out : 1};
    if (!loom_same_shape(dy, &want))
        raise_grad_shape(L, m, &want, dy);
    loom_check_same_dtype(L, dy, &m->weight, "nn.Embedding:backward");
    if (loom_embedding_backward(&m->dweight, dy, ids, m->padding_id) != LOOM_OK)
        return luaL_error(L, "nn.Embedding:backward: ids contain a value that is not in 1..%I", INT(m->in));
    lua_pushnil(L); /* ids have no gradient */
    return 1;
}

/* m:backward(x, dy [, need_input_grad = true]) -> dx, a buffer overwritten by the next
 * backward call; nil when need_input_grad is false (which skips a matrix product in
 * Linear). Layers without parameters use the output their last forward kept. */
static int m_backward(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    loom_matrix *x = &loom_checkmatrix_any(L, 2)->m, *dy = &loom_checkmatrix_any(L, 3)->m;
    int need_dx = lua_isnoneornil(L, 4) || lua_toboolean(L, 4);
    lua_settop(L, 3);
    if (m->kind == LINEAR)
        return backward_linear(L, m, x, dy, need_dx);
    if (m->kind == EMBEDDING)
        return backward_embedding(L, m, x, dy);
    if (!loom_same_shape(x, dy))
        raise_grad_shape(L, m, x, dy);
    loom_check_same_dtype(L, x, dy, "nn.backward");
    if (!need_dx) {
        lua_pushnil(L);
        return 1;
    }
    if (m->kind == DROPOUT && (!m->training || m->p == 0.0))
        return 1; /* the identity passes dy through */
    loom_matrix *y = kept_buffer(L, 1, m->kind == DROPOUT ? UV_MASK : UV_OUTPUT);
    if (!y || !loom_same_shape(y, x) || y->dtype != x->dtype)
        return luaL_error(L, "nn.%s:backward: no forward pass on a %Ix%I input to go back through",
                          layer_names[m->kind], INT(x->rows), INT(x->cols));
    loom_matrix *dx = layer_buffer(L, 1, UV_GRAD_INPUT, x->rows, x->cols, x->dtype);
    loom_status st;
    switch (m->kind) {
    case DROPOUT: st = loom_matrix_binop(dx, dy, LOOM_MUL, y); break;
    case SOFTMAX: st = loom_softmax_backward(dx, dy, y); break;
    case LOG_SOFTMAX: st = loom_log_softmax_backward(dx, dy, y); break;
    case SIGMOID: st = loom_activation_backward(dx, dy, y, LOOM_ACT_SIGMOID); break;
    case TANH: st = loom_activation_backward(dx, dy, y, LOOM_ACT_TANH); break;
    default: st = loom_activation_backward(dx, dy, y, LOOM_ACT_RELU); break;
    }
    loom_check(L, st, "nn.backward");
    return 1;
}

/* ---- parameters and modes ---- */

/* m:parameters() -> {{name = "weight", value = view, grad = view}, ...} */
static int m_parameters(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    lua_settop(L, 1);
    lua_newtable(L);
    if (m->kind == LINEAR || m->kind == EMBEDDING)
        loom_push_parameter(L, 1, "weight", m->weight, m->dweight);
    if (m->has_bias)
        loom_push_parameter(L, 2, "bias", m->bias, m->dbias);
    return 1;
}

static int m_zero_grad(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    loom_matrix_fill(&m->dweight, 0.0);
    if (m->has_bias)
        loom_matrix_fill(&m->dbias, 0.0);
    lua_settop(L, 1);
    return 1;
}

/* m:to(dtype) -> m: parameters and gradients converted (values rounded for float32);
 * layers without parameters take any dtype and return themselves. Parameter views and
 * optimisers made before see the old storage (kept alive, no longer the layer's): build
 * the optimiser after the conversion. */
static int m_to(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int dtype = loom_dtype_from_name(name);
    if (dtype < 0)
        return luaL_error(L, "nn.%s:to: dtype must be \"float64\" or \"float32\", got \"%s\"",
                          layer_names[m->kind], name);
    lua_settop(L, 1);
    if ((m->kind != LINEAR && m->kind != EMBEDDING) || m->weight.dtype == (loom_dtype)dtype)
        return 1;
    Matrix *store = loom_convert_store(L, 1, UV_PARAMS, UV_RETIRED, (loom_dtype)dtype);
    carve_parameters(m, &store->m, m->weight.rows, m->weight.cols);
    for (int slot = UV_OUTPUT; slot < UV_RETIRED; slot++) { /* buffers of the old dtype */
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    lua_settop(L, 1);
    return 1;
}

/* m:dtype() -> "float64" | "float32" for layers with parameters, nil for the others. */
static int m_dtype(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    if (m->kind != LINEAR && m->kind != EMBEDDING)
        lua_pushnil(L);
    else
        lua_pushstring(L, loom_dtype_name(m->weight.dtype));
    return 1;
}

/* m:train([mode = true]) -> m */
static int m_train(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    m->training = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_eval(lua_State *L)
{
    check_layer(L, 1)->training = 0;
    lua_settop(L, 1);
    return 1;
}

static int m_is_training(lua_State *L)
{
    lua_pushboolean(L, check_layer(L, 1)->training);
    return 1;
}

static void set_integer(lua_State *L, const char *key, size_t value)
{
    lua_pushinteger(L, (lua_Integer)value);
    lua_setfield(L, -2, key);
}

static void set_string(lua_State *L, const char *key, const char *value)
{
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* m:config() -> {kind = "Linear", in_features = .., out_features = .., bias = true, ...} */
static int m_config(lua_State *L)
{
    Layer *m = check_layer(L, 1);
    lua_createtable(L, 0, 4);
    set_string(L, "kind", layer_names[m->kind]);
    if (m->kind == LINEAR) {
        set_integer(L, "in_features", m->in);
        set_integer(L, "out_features", m->out);
        lua_pushboolean(L, m->has_bias);
        lua_setfield(L, -2, "bias");
    } else if (m->kind == EMBEDDING) {
        set_integer(L, "num_embeddings", m->in);
        set_integer(L, "embedding_dim", m->out);
        if (m->padding_id)
            set_integer(L, "padding_idx", m->padding_id);
    } else if (m->kind == DROPOUT) {
        lua_pushnumber(L, m->p);
        lua_setfield(L, -2, "p");
    }
    return 1;
}

/* __gc and __close: drop the buffers. Parameter storage stays until the last view of it
 * is collected (views keep the layer, which keeps the storage), so no view dangles. */
static int m_release(lua_State *L)
{
    Layer *m = luaL_checkudata(L, 1, MODULE_T);
    if (m->released)
        return 0;
    m->released = 1;
    for (int slot = UV_OUTPUT; slot < UV_RETIRED; slot++) { /* retired stores may have views */
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    return 0;
}

/* The read-only fields m.training and m.kind (after the methods, see loom_newclass). */
static int m_fields(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    Layer *m = luaL_checkudata(L, 1, MODULE_T);
    if (key && strcmp(key, "training") == 0)
        lua_pushboolean(L, m->training);
    else if (key && strcmp(key, "kind") == 0)
        lua_pushstring(L, layer_names[m->kind]);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- losses ---- */

typedef enum loss_kind { MSE, BCE, BCE_LOGITS, CROSS_ENTROPY } loss_kind;

static const char *const loss_names[] = {"MSELoss", "BCELoss", "BCEWithLogitsLoss",
                                         "CrossEntropyLoss"};

typedef struct Loss {
    loss_kind kind;
    loom_ce_options options; /* reduction for all; the ignored id for cross-entropy */
    int released;
} Loss;

static Loss *check_loss(lua_State *L, int idx)
{
    Loss *c = luaL_checkudata(L, idx, LOSS_T);
    if (c->released)
        luaL_error(L, "attempt to use a released nn loss");
    return c;
}

static const char *const reduction_names[] = {"mean", "sum", NULL};

/* loss(kind, reduction [, ignore_index]) with kind "MSELoss", "BCELoss", ... */
static int l_loss(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, loss_names);
    int reduction = luaL_checkoption(L, 2, "mean", reduction_names);
    Loss *c = lua_newuserdatauv(L, sizeof *c, 2); /* the gradient buffer and its spare */
    memset(c, 0, sizeof *c);
    c->kind = (loss_kind)kind;
    c->options.reduction = reduction == 0 ? LOOM_REDUCTION_MEAN : LOOM_REDUCTION_SUM;
    if (!lua_isnoneornil(L, 3)) {
        c->options.use_ignore = 1;
        c->options.ignore_index = luaL_checknumber(L, 3);
    }
    luaL_setmetatable(L, LOSS_T);
    return 1;
}

/* Loss value and, when dpred is wanted, the gradient into the loss's buffer (pushed). */
static double loss_eval(lua_State *L, Loss *c, int want_grad, const char *method)
{
    loom_matrix *pred = &loom_checkmatrix_any(L, 2)->m, *target = &loom_checkmatrix_any(L, 3)->m;
    lua_settop(L, 3);
    char sp[48], st_[48];
    const char *name = loss_names[c->kind];
    if (c->kind != CROSS_ENTROPY && pred->dtype != target->dtype) /* class ids: either dtype */
        luaL_error(L, "nn.%s:%s: cannot mix %s and %s", name, method, loom_dtype_name(pred->dtype),
                   loom_dtype_name(target->dtype));
    if (c->kind == CROSS_ENTROPY) {
        if (target->rows != pred->rows || target->cols != 1 || pred->cols == 0)
            luaL_error(L, "nn.%s:%s: expected %Ix1 class ids for %s logits, got %s", name, method,
                       INT(pred->rows), loom_shape(pred, sp), loom_shape(target, st_));
    } else if (!loom_same_shape(pred, target)) {
        luaL_error(L, "nn.%s:%s: prediction %s and target %s differ in shape", name, method,
                   loom_shape(pred, sp), loom_shape(target, st_));
    }
    loom_matrix *dpred = want_grad ? reuse_buffer(L, 1, 1, 2, pred->rows, pred->cols, pred->dtype) : NULL;
    double loss = 0.0;
    size_t bad = 0;
    loom_status s = LOOM_OK;
    switch (c->kind) {
    case MSE: s = loom_mse_loss(&loss, dpred, pred, target, c->options.reduction); break;
    case BCE: s = loom_bce_loss(&loss, dpred, pred, target, c->options.reduction); break;
    case BCE_LOGITS: s = loom_bce_logits_loss(&loss, dpred, pred, target, c->options.reduction); break;
    case CROSS_ENTROPY: s = loom_cross_entropy_loss(&loss, dpred, pred, target, &c->options, &bad); break;
    }
    if (s == LOOM_EARG && c->kind == BCE)
        luaL_error(L, "nn.BCELoss:%s: probabilities must lie in [0, 1]", method);
    if (s == LOOM_EARG)
        luaL_error(L, "nn.CrossEntropyLoss:%s: target %s at row %I is not a class id in 1..%I",
                   method, num_text(loom_get(target, bad, 0), sp), INT(bad + 1), INT(pred->cols));
    loom_check(L, s, name);
    return loss;
}

/* loss:forward(pred, target) -> number */
static int c_forward(lua_State *L)
{
    lua_pushnumber(L, loss_eval(L, check_loss(L, 1), 0, "forward"));
    return 1;
}

/* loss:backward(pred, target) -> dpred, loss: dpred is a buffer of the loss overwritten by
 * the next backward call; the value comes free with it. */
static int c_backward(lua_State *L)
{
    double loss = loss_eval(L, check_loss(L, 1), 1, "backward");
    lua_pushnumber(L, loss);
    return 2;
}

static int c_config(lua_State *L)
{
    Loss *c = check_loss(L, 1);
    lua_createtable(L, 0, 3);
    set_string(L, "kind", loss_names[c->kind]);
    set_string(L, "reduction", reduction_names[c->options.reduction == LOOM_REDUCTION_MEAN ? 0 : 1]);
    if (c->options.use_ignore) {
        lua_pushnumber(L, c->options.ignore_index);
        lua_setfield(L, -2, "ignore_index");
    }
    return 1;
}

static int c_release(lua_State *L)
{
    Loss *c = luaL_checkudata(L, 1, LOSS_T);
    c->released = 1;
    for (int slot = 1; slot <= 2; slot++) {
        lua_pushnil(L);
        lua_setiuservalue(L, 1, slot);
    }
    return 0;
}

/* ---- optimiser steps: one call updates one parameter in place, allocating nothing ---- */

static void check_same(lua_State *L, const char *fn, const char *what, const loom_matrix *param,
                       const loom_matrix *other)
{
    if (!loom_same_shape(param, other)) {
        char sp[48], so[48];
        luaL_error(L, "%s: parameter %s and its %s %s differ in shape", fn, loom_shape(param, sp),
                   what, loom_shape(other, so));
    }
}

/* adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled) */
static int l_adam_step(lua_State *L)
{
    loom_matrix *param = &loom_checkmatrix_any(L, 1)->m, *grad = &loom_checkmatrix_any(L, 2)->m;
    loom_matrix *m = &loom_checkmatrix_any(L, 3)->m, *v = &loom_checkmatrix_any(L, 4)->m;
    lua_Integer step = luaL_checkinteger(L, 5);
    loom_adam_config c = {luaL_checknumber(L, 6), luaL_checknumber(L, 7), luaL_checknumber(L, 8),
                          luaL_checknumber(L, 9), luaL_checknumber(L, 10), lua_toboolean(L, 11)};
    const char *fn = c.decoupled ? "optim.adamw" : "optim.adam";
    check_same(L, fn, "gradient", param, grad);
    check_same(L, fn, "first moment", param, m);
    check_same(L, fn, "second moment", param, v);
    loom_check_same_dtype(L, param, grad, fn);
    loom_check_same_dtype(L, param, m, fn);
    loom_check_same_dtype(L, param, v, fn);
    if (step < 1)
        return luaL_error(L, "%s: step must be >= 1, got %I", fn, step);
    loom_check(L, loom_adam_step(param, m, v, grad, &c, (uint64_t)step), fn);
    return 0;
}

/* sgd_step(param, grad, velocity|nil, first, lr, momentum, dampening, weight_decay, nesterov) */
static int l_sgd_step(lua_State *L)
{
    loom_matrix *param = &loom_checkmatrix_any(L, 1)->m, *grad = &loom_checkmatrix_any(L, 2)->m;
    loom_matrix *velocity = lua_isnil(L, 3) ? NULL : &loom_checkmatrix_any(L, 3)->m;
    int first = lua_toboolean(L, 4);
    loom_sgd_config c = {luaL_checknumber(L, 5), luaL_checknumber(L, 6), luaL_checknumber(L, 7),
                         luaL_checknumber(L, 8), lua_toboolean(L, 9)};
    check_same(L, "optim.sgd", "gradient", param, grad);
    loom_check_same_dtype(L, param, grad, "optim.sgd");
    if (velocity) {
        check_same(L, "optim.sgd", "momentum buffer", param, velocity);
        loom_check_same_dtype(L, param, velocity, "optim.sgd");
    }
    else if (c.momentum != 0.0)
        return luaL_error(L, "optim.sgd: momentum needs a momentum buffer");
    loom_check(L, loom_sgd_step(param, velocity, grad, &c, first), "optim.sgd");
    return 0;
}

/* ---- registration ---- */

static const luaL_Reg module_methods[] = {
    {"forward", m_forward}, {"backward", m_backward}, {"parameters", m_parameters},
    {"zero_grad", m_zero_grad}, {"train", m_train}, {"eval", m_eval},
    {"is_training", m_is_training}, {"config", m_config}, {"close", m_release}, {"to", m_to},
    {"dtype", m_dtype}, {NULL, NULL}};

static const luaL_Reg loss_methods[] = {
    {"forward", c_forward}, {"backward", c_backward}, {"config", c_config},
    {"close", c_release}, {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"linear", l_linear}, {"embedding", l_embedding}, {"dropout", l_dropout},
    {"sigmoid", l_sigmoid}, {"tanh", l_tanh}, {"relu", l_relu}, {"softmax", l_softmax},
    {"log_softmax", l_log_softmax}, {"loss", l_loss}, {"adam_step", l_adam_step},
    {"sgd_step", l_sgd_step}, {NULL, NULL}};

int loom_open_nn(lua_State *L)
{
    static const loom_class module_class = {MODULE_T, "nn.Module", module_methods, NULL,
                                            m_release, 0, m_fields};
    static const loom_class loss_class = {LOSS_T, "nn.Loss", loss_methods, NULL, c_release, 0,
                                          NULL};
    luaL_newlib(L, functions);
    /* lua/loom/nn adds the Lua-written methods (state_dict, ...) to metatable.methods. */
    loom_newclass(L, &module_class);
    lua_setfield(L, -2, "module_metatable");
    loom_newclass(L, &loss_class);
    lua_setfield(L, -2, "loss_metatable");
    return 1;
}
