/* conv.c: 1-D convolution (im2col + one product) and pooling over time-major sequence
 * batches, in float64 and float32, with the naive loops the tests compare them to. Not
 * modules (src/bind/conv.c). */
#include "conv.h"

#include "blas.h"

size_t loom_conv1d_out_steps(size_t steps, size_t kernel, size_t stride, size_t padding,
                             size_t dilation)
{
    if (stride == 0 || kernel == 0 || dilation == 0)
        return 0;
    size_t span = dilation * (kernel - 1) + 1, padded = steps + 2 * padding;
    return padded < span ? 0 : (padded - span) / stride + 1;
}

static size_t out_steps_of(const loom_conv1d_geometry *g)
{
    return loom_conv1d_out_steps(g->steps, g->kernel, g->stride, g->padding, g->dilation);
}

/* The input step read by output step t at tap k, or -1 when it falls in the padding. */
static long input_step(const loom_conv1d_geometry *g, size_t t, size_t k)
{
    long s = (long)(t * g->stride + k * g->dilation) - (long)g->padding;
    return s >= 0 && (size_t)s < g->steps ? s : -1;
}

static int cols_shape_ok(const loom_matrix *cols, const loom_matrix *x, const loom_conv1d_geometry *g)
{
    size_t t_out = out_steps_of(g);
    return t_out > 0 && x->rows == g->steps * g->batch && x->cols == g->in &&
           cols->rows == t_out * g->batch && cols->cols == g->in * g->kernel && cols->dtype == x->dtype;
}

/* The typed loops, one body instantiated per element type: T the type, AT its element
 * accessor, then the full name of each function it defines (spelled out below). */
#define CONV_KERNELS(T, AT, IM2COL, COL2IM, FILL_BIAS, ADD_COLUMN_SUMS, POOL_FORWARD, POOL_BACKWARD)    \
    static void IM2COL(loom_matrix *cols, const loom_matrix *x, const loom_conv1d_geometry *g)          \
    {                                                                                                   \
        size_t t_out = out_steps_of(g);                                                                 \
        for (size_t t = 0; t < t_out; t++)                                                              \
            for (size_t k = 0; k < g->kernel; k++) {                                                    \
                long s = input_step(g, t, k);                                                           \
                for (size_t b = 0; b < g->batch; b++) {                                                 \
                    T *row = AT(cols, t * g->batch + b, 0);                                             \
                    const T *in = s < 0 ? NULL : AT(x, (size_t)s * g->batch + b, 0);                    \
                    for (size_t c = 0; c < g->in; c++)                                                  \
                        row[c * g->kernel + k] = in ? in[c] : (T)0;                                     \
                }                                                                                       \
            }                                                                                           \
    }                                                                                                   \
    static void COL2IM(loom_matrix *dx, const loom_matrix *dcols, const loom_conv1d_geometry *g)        \
    {                                                                                                   \
        size_t t_out = out_steps_of(g);                                                                 \
        for (size_t t = 0; t < t_out; t++)                                                              \
            for (size_t k = 0; k < g->kernel; k++) {                                                    \
                long s = input_step(g, t, k);                                                           \
                if (s < 0)                                                                              \
                    continue;                                                                           \
                for (size_t b = 0; b < g->batch; b++) {                                                 \
                    const T *row = AT(dcols, t * g->batch + b, 0);                                      \
                    T *out = AT(dx, (size_t)s * g->batch + b, 0);                                       \
                    for (size_t c = 0; c < g->in; c++)                                                  \
                        out[c] += row[c * g->kernel + k];                                               \
                }                                                                                       \
            }                                                                                           \
    }                                                                                                   \
    static void FILL_BIAS(loom_matrix *y, const loom_matrix *bias)                                      \
    {                                                                                                   \
        for (size_t r = 0; r < y->rows; r++) {                                                          \
            T *row = AT(y, r, 0);                                                                       \
            for (size_t o = 0; o < y->cols; o++)                                                        \
                row[o] = *AT(bias, o, 0);                                                               \
        }                                                                                               \
    }                                                                                                   \
    static void ADD_COLUMN_SUMS(loom_matrix *dbias, const loom_matrix *dy)                              \
    {                                                                                                   \
        for (size_t r = 0; r < dy->rows; r++) {                                                         \
            const T *row = AT(dy, r, 0);                                                                \
            for (size_t o = 0; o < dy->cols; o++)                                                       \
                *AT(dbias, o, 0) += row[o];                                                             \
        }                                                                                               \
    }                                                                                                   \
    static void POOL_FORWARD(loom_matrix *y, loom_matrix *where, const loom_matrix *x,                  \
                                      loom_pool_kind kind, size_t batch, size_t kernel, size_t stride)  \
    {                                                                                                   \
        size_t t_out = y->rows / batch;                                                                 \
        for (size_t t = 0; t < t_out; t++)                                                              \
            for (size_t b = 0; b < batch; b++) {                                                        \
                T *yr = AT(y, t * batch + b, 0);                                                        \
                T *wr = kind == LOOM_POOL_MAX ? AT(where, t * batch + b, 0) : NULL;                     \
                for (size_t c = 0; c < x->cols; c++) {                                                  \
                    size_t first = t * stride, best = first;                                            \
                    T acc = *AT(x, first * batch + b, c);                                               \
                    for (size_t k = 1; k < kernel; k++) {                                               \
                        T v = *AT(x, (first + k) * batch + b, c);                                       \
                        if (kind == LOOM_POOL_AVG)                                                      \
                            acc += v;                                                                   \
                        else if (v > acc || v != v) {                                                   \
                            acc = v;                                                                    \
                            best = first + k;                                                           \
                        }                                                                               \
                    }                                                                                   \
                    yr[c] = kind == LOOM_POOL_AVG ? acc / (T)kernel : acc;                              \
                    if (wr)                                                                             \
                        wr[c] = (T)best;                                                                \
                }                                                                                       \
            }                                                                                           \
    }                                                                                                   \
    static loom_status POOL_BACKWARD(loom_matrix *dx, const loom_matrix *dy,                            \
                                              const loom_matrix *where, loom_pool_kind kind,            \
                                              size_t batch, size_t kernel, size_t stride)               \
    {                                                                                                   \
        size_t t_out = dy->rows / batch, steps = dx->rows / batch;                                      \
        for (size_t t = 0; t < t_out; t++)                                                              \
            for (size_t b = 0; b < batch; b++) {                                                        \
                const T *dr = AT(dy, t * batch + b, 0);                                                 \
                const T *wr = kind == LOOM_POOL_MAX ? AT(where, t * batch + b, 0) : NULL;               \
                for (size_t c = 0; c < dx->cols; c++) {                                                 \
                    T d = dr[c];                                                                        \
                    if (!wr) {                                                                          \
                        for (size_t k = 0; k < kernel; k++)                                             \
                            *AT(dx, (t * stride + k) * batch + b, c) += d / (T)kernel;                  \
                        continue;                                                                       \
                    }                                                                                   \
                    T w = wr[c];                                                                        \
                    if (!(w >= 0 && w < (T)steps))                                                      \
                        return LOOM_EARG;                                                               \
                    *AT(dx, (size_t)w * batch + b, c) += d;                                             \
                }                                                                                       \
            }                                                                                           \
        return LOOM_OK;                                                                                 \
    }

CONV_KERNELS(double, loom_at, im2col_f64, col2im_f64, fill_bias_f64, add_column_sums_f64, pool_forward_f64,
             pool_backward_f64)
CONV_KERNELS(float, loom_at32, im2col_f32, col2im_f32, fill_bias_f32, add_column_sums_f32, pool_forward_f32,
             pool_backward_f32)

loom_status loom_conv1d_im2col(loom_matrix *cols, const loom_matrix *x, const loom_conv1d_geometry *g)
{
    if (!cols_shape_ok(cols, x, g))
        return LOOM_EDIM;
    if (x->dtype == LOOM_F32)
        im2col_f32(cols, x, g);
    else
        im2col_f64(cols, x, g);
    return LOOM_OK;
}

loom_status loom_conv1d_col2im(loom_matrix *dx, const loom_matrix *dcols, const loom_conv1d_geometry *g)
{
    if (!cols_shape_ok(dcols, dx, g))
        return LOOM_EDIM;
    if (dx->dtype == LOOM_F32)
        col2im_f32(dx, dcols, g);
    else
        col2im_f64(dx, dcols, g);
    return LOOM_OK;
}

static int conv_shapes_ok(const loom_matrix *y, const loom_matrix *x, const loom_matrix *weight,
                          const loom_matrix *bias, const loom_conv1d_geometry *g)
{
    size_t t_out = out_steps_of(g);
    if (t_out == 0 || x->rows != g->steps * g->batch || x->cols != g->in)
        return 0;
    if (weight->rows != g->out || weight->cols != g->in * g->kernel)
        return 0;
    if (bias && (bias->rows != g->out || bias->cols != 1))
        return 0;
    return y->rows == t_out * g->batch && y->cols == g->out;
}

/* Every operand present has x's dtype. */
static int same_dtype(const loom_matrix *x, const loom_matrix *a, const loom_matrix *b,
                      const loom_matrix *c, const loom_matrix *d)
{
    const loom_matrix *all[] = {a, b, c, d};
    for (size_t i = 0; i < 4; i++)
        if (all[i] && all[i]->dtype != x->dtype)
            return 0;
    return 1;
}

loom_status loom_conv1d_forward(loom_matrix *y, loom_matrix *cols, const loom_matrix *x,
                                const loom_matrix *weight, const loom_matrix *bias,
                                const loom_conv1d_geometry *g)
{
    if (!conv_shapes_ok(y, x, weight, bias, g))
        return LOOM_EDIM;
    if (!same_dtype(x, y, cols, weight, bias))
        return LOOM_EARG;
    loom_status st = loom_conv1d_im2col(cols, x, g);
    if (st != LOOM_OK)
        return st;
    if (bias) {
        if (y->dtype == LOOM_F32)
            fill_bias_f32(y, bias);
        else
            fill_bias_f64(y, bias);
    }
    return loom_gemm(y, 1.0, cols, 0, weight, 1, bias ? 1.0 : 0.0);
}

/* The naive references sum in double and round once per output (float32 included), so
 * they are the exact sums to double precision for both dtypes. */
loom_status loom_conv1d_forward_naive(loom_matrix *y, const loom_matrix *x, const loom_matrix *weight,
                                      const loom_matrix *bias, const loom_conv1d_geometry *g)
{
    if (!conv_shapes_ok(y, x, weight, bias, g))
        return LOOM_EDIM;
    if (!same_dtype(x, y, weight, bias, NULL))
        return LOOM_EARG;
    size_t t_out = out_steps_of(g);
    for (size_t t = 0; t < t_out; t++)
        for (size_t b = 0; b < g->batch; b++)
            for (size_t o = 0; o < g->out; o++) {
                double s = bias ? loom_get(bias, o, 0) : 0.0;
                for (size_t c = 0; c < g->in; c++)
                    for (size_t k = 0; k < g->kernel; k++) {
                        long at = input_step(g, t, k);
                        if (at >= 0)
                            s += loom_get(weight, o, c * g->kernel + k) *
                                 loom_get(x, (size_t)at * g->batch + b, c);
                    }
                loom_put(y, t * g->batch + b, o, s);
            }
    return LOOM_OK;
}

static int conv_backward_shapes_ok(const loom_matrix *dx, const loom_matrix *dweight,
                                   const loom_matrix *dbias, const loom_matrix *dy,
                                   const loom_matrix *weight, const loom_conv1d_geometry *g)
{
    size_t t_out = out_steps_of(g);
    if (t_out == 0 || dy->rows != t_out * g->batch || dy->cols != g->out)
        return 0;
    if (!loom_same_shape(dweight, weight) || weight->rows != g->out || weight->cols != g->in * g->kernel)
        return 0;
    if (dbias && (dbias->rows != g->out || dbias->cols != 1))
        return 0;
    return !dx || (dx->rows == g->steps * g->batch && dx->cols == g->in);
}

loom_status loom_conv1d_backward(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                 loom_matrix *dcols, const loom_matrix *dy, const loom_matrix *cols,
                                 const loom_matrix *weight, const loom_conv1d_geometry *g)
{
    if (!conv_backward_shapes_ok(dx, dweight, dbias, dy, weight, g) || cols->rows != dy->rows ||
        cols->cols != weight->cols)
        return LOOM_EDIM;
    if (dx && (!dcols || !loom_same_shape(dcols, cols)))
        return LOOM_EDIM;
    if (!same_dtype(dy, dweight, dbias, cols, weight) || !same_dtype(dy, dx, dcols, NULL, NULL))
        return LOOM_EARG;
    loom_status st = loom_gemm(dweight, 1.0, dy, 1, cols, 0, 1.0);
    if (st != LOOM_OK)
        return st;
    if (dbias) {
        if (dy->dtype == LOOM_F32)
            add_column_sums_f32(dbias, dy);
        else
            add_column_sums_f64(dbias, dy);
    }
    if (!dx)
        return LOOM_OK;
    st = loom_gemm(dcols, 1.0, dy, 0, weight, 0, 0.0);
    if (st != LOOM_OK)
        return st;
    loom_matrix_fill(dx, 0.0);
    return loom_conv1d_col2im(dx, dcols, g);
}

loom_status loom_conv1d_backward_naive(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                       const loom_matrix *dy, const loom_matrix *x,
                                       const loom_matrix *weight, const loom_conv1d_geometry *g)
{
    if (!conv_backward_shapes_ok(dx, dweight, dbias, dy, weight, g) || x->rows != g->steps * g->batch ||
        x->cols != g->in)
        return LOOM_EDIM;
    if (!same_dtype(dy, dweight, dbias, x, weight) || !same_dtype(dy, dx, NULL, NULL, NULL))
        return LOOM_EARG;
    /* each gradient entry is one sum, accumulated in double and added once */
    size_t t_out = out_steps_of(g);
    for (size_t o = 0; o < g->out; o++) {
        if (dbias) {
            double s = 0.0;
            for (size_t r = 0; r < dy->rows; r++)
                s += loom_get(dy, r, o);
            loom_put(dbias, o, 0, loom_get(dbias, o, 0) + s);
        }
        for (size_t c = 0; c < g->in; c++)
            for (size_t k = 0; k < g->kernel; k++) {
                double s = 0.0;
                for (size_t t = 0; t < t_out; t++) {
                    long at = input_step(g, t, k);
                    if (at < 0)
                        continue;
                    for (size_t b = 0; b < g->batch; b++)
                        s += loom_get(dy, t * g->batch + b, o) * loom_get(x, (size_t)at * g->batch + b, c);
                }
                loom_put(dweight, o, c * g->kernel + k, loom_get(dweight, o, c * g->kernel + k) + s);
            }
    }
    if (!dx)
        return LOOM_OK;
    for (size_t s = 0; s < g->steps; s++)
        for (size_t b = 0; b < g->batch; b++)
            for (size_t c = 0; c < g->in; c++) {
                double sum = 0.0;
                for (size_t t = 0; t < t_out; t++)
                    for (size_t k = 0; k < g->kernel; k++)
                        if (input_step(g, t, k) == (long)s)
                            for (size_t o = 0; o < g->out; o++)
                                sum += loom_get(dy, t * g->batch + b, o) * loom_get(weight, o, c * g->kernel + k);
                loom_put(dx, s * g->batch + b, c, sum);
            }
    return LOOM_OK;
}

/* ---- pooling ---- */

static int pool_shapes_ok(const loom_matrix *y, const loom_matrix *x, size_t batch, size_t kernel,
                          size_t stride)
{
    if (batch == 0 || x->rows % batch != 0)
        return 0;
    size_t t_out = loom_conv1d_out_steps(x->rows / batch, kernel, stride, 0, 1);
    return t_out > 0 && y->rows == t_out * batch && y->cols == x->cols;
}

loom_status loom_pool1d_forward(loom_matrix *y, loom_matrix *where, const loom_matrix *x,
                                loom_pool_kind kind, size_t batch, size_t kernel, size_t stride)
{
    if (!pool_shapes_ok(y, x, batch, kernel, stride))
        return LOOM_EDIM;
    if (kind == LOOM_POOL_MAX && (!where || !loom_same_shape(where, y)))
        return LOOM_EDIM;
    if (!same_dtype(x, y, kind == LOOM_POOL_MAX ? where : NULL, NULL, NULL))
        return LOOM_EARG;
    if (x->dtype == LOOM_F32)
        pool_forward_f32(y, where, x, kind, batch, kernel, stride);
    else
        pool_forward_f64(y, where, x, kind, batch, kernel, stride);
    return LOOM_OK;
}

loom_status loom_pool1d_backward(loom_matrix *dx, const loom_matrix *dy, const loom_matrix *where,
                                 loom_pool_kind kind, size_t batch, size_t kernel, size_t stride)
{
    if (!pool_shapes_ok(dy, dx, batch, kernel, stride))
        return LOOM_EDIM;
    if (kind == LOOM_POOL_MAX && (!where || !loom_same_shape(where, dy)))
        return LOOM_EDIM;
    if (!same_dtype(dx, dy, kind == LOOM_POOL_MAX ? where : NULL, NULL, NULL))
        return LOOM_EARG;
    loom_matrix_fill(dx, 0.0);
    if (dx->dtype == LOOM_F32)
        return pool_backward_f32(dx, dy, where, kind, batch, kernel, stride);
    return pool_backward_f64(dx, dy, where, kind, batch, kernel, stride);
}
