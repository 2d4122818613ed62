/* conv.c: 1-D convolution (im2col + one product) and pooling over time-major sequence
 * batches, with the naive loops the tests compare them to. Not modules (src/bind/conv.c). */
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
           cols->rows == t_out * g->batch && cols->cols == g->in * g->kernel;
}

loom_status loom_conv1d_im2col(loom_matrix *cols, const loom_matrix *x, const loom_conv1d_geometry *g)
{
    if (!cols_shape_ok(cols, x, g))
        return LOOM_EDIM;
    size_t t_out = out_steps_of(g);
    for (size_t t = 0; t < t_out; t++)
        for (size_t k = 0; k < g->kernel; k++) {
            long s = input_step(g, t, k);
            for (size_t b = 0; b < g->batch; b++) {
                double *row = loom_at(cols, t * g->batch + b, 0);
                const double *in = s < 0 ? NULL : loom_at(x, (size_t)s * g->batch + b, 0);
                for (size_t c = 0; c < g->in; c++)
                    row[c * g->kernel + k] = in ? in[c] : 0.0;
            }
        }
    return LOOM_OK;
}

loom_status loom_conv1d_col2im(loom_matrix *dx, const loom_matrix *dcols, const loom_conv1d_geometry *g)
{
    if (!cols_shape_ok(dcols, dx, g))
        return LOOM_EDIM;
    size_t t_out = out_steps_of(g);
    for (size_t t = 0; t < t_out; t++)
        for (size_t k = 0; k < g->kernel; k++) {
            long s = input_step(g, t, k);
            if (s < 0)
                continue;
            for (size_t b = 0; b < g->batch; b++) {
                const double *row = loom_at(dcols, t * g->batch + b, 0);
                double *out = loom_at(dx, (size_t)s * g->batch + b, 0);
                for (size_t c = 0; c < g->in; c++)
                    out[c] += row[c * g->kernel + k];
            }
        }
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

loom_status loom_conv1d_forward(loom_matrix *y, loom_matrix *cols, const loom_matrix *x,
                                const loom_matrix *weight, const loom_matrix *bias,
                                const loom_conv1d_geometry *g)
{
    if (!conv_shapes_ok(y, x, weight, bias, g))
        return LOOM_EDIM;
    loom_status st = loom_conv1d_im2col(cols, x, g);
    if (st != LOOM_OK)
        return st;
    if (bias)
        for (size_t r = 0; r < y->rows; r++)
            for (size_t o = 0; o < y->cols; o++)
                *loom_at(y, r, o) = *loom_at(bias, o, 0);
    return loom_gemm(y, 1.0, cols, 0, weight, 1, bias ? 1.0 : 0.0);
}

loom_status loom_conv1d_forward_naive(loom_matrix *y, const loom_matrix *x, const loom_matrix *weight,
                                      const loom_matrix *bias, const loom_conv1d_geometry *g)
{
    if (!conv_shapes_ok(y, x, weight, bias, g))
        return LOOM_EDIM;
    size_t t_out = out_steps_of(g);
    for (size_t t = 0; t < t_out; t++)
        for (size_t b = 0; b < g->batch; b++)
            for (size_t o = 0; o < g->out; o++) {
                double s = bias ? *loom_at(bias, o, 0) : 0.0;
                for (size_t c = 0; c < g->in; c++)
                    for (size_t k = 0; k < g->kernel; k++) {
                        long at = input_step(g, t, k);
                        if (at >= 0)
                            s += *loom_at(weight, o, c * g->kernel + k) *
                                 *loom_at(x, (size_t)at * g->batch + b, c);
                    }
                *loom_at(y, t * g->batch + b, o) = s;
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

static void add_column_sums(loom_matrix *dbias, const loom_matrix *dy)
{
    for (size_t r = 0; r < dy->rows; r++) {
        const double *row = loom_at(dy, r, 0);
        for (size_t o = 0; o < dy->cols; o++)
            dbias->data[o * dbias->ld] += row[o];
    }
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
    loom_status st = loom_gemm(dweight, 1.0, dy, 1, cols, 0, 1.0);
    if (st != LOOM_OK)
        return st;
    if (dbias)
        add_column_sums(dbias, dy);
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
    if (dx)
        loom_matrix_fill(dx, 0.0);
    if (dbias)
        add_column_sums(dbias, dy);
    size_t t_out = out_steps_of(g);
    for (size_t t = 0; t < t_out; t++)
        for (size_t b = 0; b < g->batch; b++)
            for (size_t o = 0; o < g->out; o++) {
                double d = *loom_at(dy, t * g->batch + b, o);
                for (size_t c = 0; c < g->in; c++)
                    for (size_t k = 0; k < g->kernel; k++) {
                        long at = input_step(g, t, k);
                        if (at < 0)
                            continue;
                        size_t row = (size_t)at * g->batch + b;
                        *loom_at(dweight, o, c * g->kernel + k) += d * *loom_at(x, row, c);
                        if (dx)
                            *loom_at(dx, row, c) += d * *loom_at(weight, o, c * g->kernel + k);
                    }
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
    size_t t_out = y->rows / batch;
    for (size_t t = 0; t < t_out; t++)
        for (size_t b = 0; b < batch; b++)
            for (size_t c = 0; c < x->cols; c++) {
                size_t first = t * stride, best = first;
                double acc = *loom_at(x, first * batch + b, c);
                for (size_t k = 1; k < kernel; k++) {
                    double v = *loom_at(x, (first + k) * batch + b, c);
                    if (kind == LOOM_POOL_AVG)
                        acc += v;
                    else if (v > acc || v != v) {
                        acc = v;
                        best = first + k;
                    }
                }
                *loom_at(y, t * batch + b, c) = kind == LOOM_POOL_AVG ? acc / (double)kernel : acc;
                if (kind == LOOM_POOL_MAX)
                    *loom_at(where, t * batch + b, c) = (double)best;
            }
    return LOOM_OK;
}

loom_status loom_pool1d_backward(loom_matrix *dx, const loom_matrix *dy, const loom_matrix *where,
                                 loom_pool_kind kind, size_t batch, size_t kernel, size_t stride)
{
    if (!pool_shapes_ok(dy, dx, batch, kernel, stride))
        return LOOM_EDIM;
    if (kind == LOOM_POOL_MAX && (!where || !loom_same_shape(where, dy)))
        return LOOM_EDIM;
    size_t t_out = dy->rows / batch, steps = dx->rows / batch;
    loom_matrix_fill(dx, 0.0);
    for (size_t t = 0; t < t_out; t++)
        for (size_t b = 0; b < batch; b++)
            for (size_t c = 0; c < dx->cols; c++) {
                double d = *loom_at(dy, t * batch + b, c);
                if (kind == LOOM_POOL_AVG) {
                    for (size_t k = 0; k < kernel; k++)
                        *loom_at(dx, (t * stride + k) * batch + b, c) += d / (double)kernel;
                    continue;
                }
                double w = *loom_at(where, t * batch + b, c);
                if (!(w >= 0.0 && w < (double)steps))
                    return LOOM_EARG;
                *loom_at(dx, (size_t)w * batch + b, c) += d;
            }
    return LOOM_OK;
}
