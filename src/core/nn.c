/* nn.c: neural-network kernels (linear, activations, softmax, losses, dropout, embedding,
 * optimiser updates), each fast one beside its naive reference. Not modules (src/bind/nn.c). */
#include "nn.h"

#include "blas.h"

#include <math.h>
#include <string.h>

#include "kernel.h"

/* The elementwise loops of training steps are worth vectorising even at -O2
 * (LOOM_VECTORISE, kernel.h); vector sqrt and division round exactly like scalar ones. */

/* Do all the given matrices (NULL ones skipped) share the first one's dtype? Kernels
 * return LOOM_EARG when they do not: no operation mixes float64 and float32. */
static int same_dtype(const loom_matrix *first, const loom_matrix *a, const loom_matrix *b,
                      const loom_matrix *c)
{
    return (!a || a->dtype == first->dtype) && (!b || b->dtype == first->dtype)
           && (!c || c->dtype == first->dtype);
}

/* ---- linear ---- */

static int linear_shapes_ok(const loom_matrix *out, const loom_matrix *x, const loom_matrix *weight,
                            const loom_matrix *bias)
{
    if (x->cols != weight->cols || out->rows != x->rows || out->cols != weight->rows)
        return 0;
    return !bias || (bias->rows == weight->rows && bias->cols == 1);
}

/* Every row of out gets bias^T (bias is O x 1, stride ld between its values). */
static void fill_rows_with_bias(loom_matrix *out, const loom_matrix *bias)
{
    if (out->dtype == LOOM_F32) {
        for (size_t i = 0; i < out->rows; i++) {
            float *row = loom_at32(out, i, 0);
            for (size_t j = 0; j < out->cols; j++)
                row[j] = bias->data32[j * bias->ld];
        }
        return;
    }
    for (size_t i = 0; i < out->rows; i++) {
        double *row = loom_at(out, i, 0);
        for (size_t j = 0; j < out->cols; j++)
            row[j] = bias->data[j * bias->ld];
    }
}

loom_status loom_linear_forward(loom_matrix *out, const loom_matrix *x, const loom_matrix *weight,
                                const loom_matrix *bias)
{
    if (!linear_shapes_ok(out, x, weight, bias))
        return LOOM_EDIM;
    if (!same_dtype(x, out, weight, bias))
        return LOOM_EARG;
    if (bias)
        fill_rows_with_bias(out, bias);
    return loom_gemm(out, 1.0, x, 0, weight, 1, bias ? 1.0 : 0.0);
}

loom_status loom_linear_forward_naive(loom_matrix *out, const loom_matrix *x,
                                      const loom_matrix *weight, const loom_matrix *bias)
{
    if (!linear_shapes_ok(out, x, weight, bias))
        return LOOM_EDIM;
    if (!same_dtype(x, out, weight, bias))
        return LOOM_EARG;
    for (size_t b = 0; b < x->rows; b++)
        for (size_t o = 0; o < weight->rows; o++) {
            double s = bias ? loom_get(bias, o, 0) : 0.0;
            for (size_t i = 0; i < x->cols; i++)
                s += loom_get(x, b, i) * loom_get(weight, o, i);
            loom_put(out, b, o, s);
        }
    return LOOM_OK;
}

static int linear_backward_shapes_ok(const loom_matrix *dx, const loom_matrix *dweight,
                                     const loom_matrix *dbias, const loom_matrix *dout,
                                     const loom_matrix *x, const loom_matrix *weight)
{
    if (dout->rows != x->rows || dout->cols != weight->rows || x->cols != weight->cols)
        return 0;
    if (dx && !loom_same_shape(dx, x))
        return 0;
    if (!loom_same_shape(dweight, weight))
        return 0;
    return !dbias || (dbias->rows == weight->rows && dbias->cols == 1);
}

loom_status loom_linear_backward(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                 const loom_matrix *dout, const loom_matrix *x,
                                 const loom_matrix *weight)
{
    if (!linear_backward_shapes_ok(dx, dweight, dbias, dout, x, weight))
        return LOOM_EDIM;
    if (!same_dtype(x, dx, dweight, dbias) || !same_dtype(x, dout, weight, NULL))
        return LOOM_EARG;
    loom_status st = LOOM_OK;
    if (dx)
        st = loom_gemm(dx, 1.0, dout, 0, weight, 0, 0.0);
    if (st == LOOM_OK)
        st = loom_gemm(dweight, 1.0, dout, 1, x, 0, 1.0);
    if (st != LOOM_OK || !dbias)
        return st;
    /* Row by row keeps the reads of dout contiguous. */
    if (dout->dtype == LOOM_F32) {
        for (size_t b = 0; b < dout->rows; b++) {
            const float *row = loom_at32(dout, b, 0);
            for (size_t o = 0; o < dout->cols; o++)
                dbias->data32[o * dbias->ld] += row[o];
        }
        return LOOM_OK;
    }
    for (size_t b = 0; b < dout->rows; b++) {
        const double *row = loom_at(dout, b, 0);
        for (size_t o = 0; o < dout->cols; o++)
            dbias->data[o * dbias->ld] += row[o];
    }
    return LOOM_OK;
}

loom_status loom_linear_backward_naive(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                       const loom_matrix *dout, const loom_matrix *x,
                                       const loom_matrix *weight)
{
    if (!linear_backward_shapes_ok(dx, dweight, dbias, dout, x, weight))
        return LOOM_EDIM;
    if (!same_dtype(x, dx, dweight, dbias) || !same_dtype(x, dout, weight, NULL))
        return LOOM_EARG;
    size_t batch = x->rows, in = x->cols, out = weight->rows;
    if (dx)
        for (size_t b = 0; b < batch; b++)
            for (size_t i = 0; i < in; i++) {
                double s = 0.0;
                for (size_t o = 0; o < out; o++)
                    s += loom_get(dout, b, o) * loom_get(weight, o, i);
                loom_put(dx, b, i, s);
            }
    for (size_t o = 0; o < out; o++) {
        for (size_t i = 0; i < in; i++) {
            double s = 0.0;
            for (size_t b = 0; b < batch; b++)
                s += loom_get(dout, b, o) * loom_get(x, b, i);
            loom_put(dweight, o, i, loom_get(dweight, o, i) + s);
        }
        if (dbias) {
            double s = 0.0;
            for (size_t b = 0; b < batch; b++)
                s += loom_get(dout, b, o);
            loom_put(dbias, o, 0, loom_get(dbias, o, 0) + s);
        }
    }
    return LOOM_OK;
}

/* ---- activations ---- */

/* The logistic function without overflow for large |x|. */
static double stable_sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* ReLU keeps NaN (like PyTorch); a branch-free select so the loop vectorises. */
LOOM_VECTORISE static void relu_row(double *restrict y, const double *restrict x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        y[j] = (x[j] > 0.0 || x[j] != x[j]) ? x[j] : 0.0;
}

static float stable_sigmoid_f32(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

LOOM_VECTORISE static void relu_row_f32(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        y[j] = (x[j] > 0.0f || x[j] != x[j]) ? x[j] : 0.0f;
}

static void activation_forward_f32(loom_matrix *out, const loom_matrix *x, loom_activation act)
{
    for (size_t i = 0; i < x->rows; i++) {
        float *y = loom_at32(out, i, 0);
        const float *v = loom_at32(x, i, 0);
        switch (act) {
        case LOOM_ACT_SIGMOID:
            for (size_t j = 0; j < x->cols; j++) y[j] = stable_sigmoid_f32(v[j]);
            break;
        case LOOM_ACT_TANH:
            for (size_t j = 0; j < x->cols; j++) y[j] = tanhf(v[j]);
            break;
        case LOOM_ACT_RELU:
            if (y == v)
                for (size_t j = 0; j < x->cols; j++) y[j] = v[j] > 0.0f || v[j] != v[j] ? v[j] : 0.0f;
            else
                relu_row_f32(y, v, x->cols);
            break;
        }
    }
}

static void activation_backward_f32(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y,
                                    loom_activation act)
{
    for (size_t i = 0; i < y->rows; i++) {
        float *d = loom_at32(dx, i, 0);
        const float *g = loom_at32(dout, i, 0), *v = loom_at32(y, i, 0);
        switch (act) {
        case LOOM_ACT_SIGMOID:
            for (size_t j = 0; j < y->cols; j++) d[j] = g[j] * v[j] * (1.0f - v[j]);
            break;
        case LOOM_ACT_TANH:
            for (size_t j = 0; j < y->cols; j++) d[j] = g[j] * (1.0f - v[j] * v[j]);
            break;
        case LOOM_ACT_RELU:
            for (size_t j = 0; j < y->cols; j++) d[j] = v[j] > 0.0f ? g[j] : 0.0f;
            break;
        }
    }
}

loom_status loom_activation_forward(loom_matrix *out, const loom_matrix *x, loom_activation act)
{
    if (!loom_same_shape(out, x))
        return LOOM_EDIM;
    if ((unsigned)act > LOOM_ACT_RELU || !same_dtype(x, out, NULL, NULL))
        return LOOM_EARG;
    if (x->dtype == LOOM_F32) {
        activation_forward_f32(out, x, act);
        return LOOM_OK;
    }
    for (size_t i = 0; i < x->rows; i++) {
        double *y = loom_at(out, i, 0);
        const double *v = loom_at(x, i, 0);
        switch (act) {
        case LOOM_ACT_SIGMOID:
            for (size_t j = 0; j < x->cols; j++) y[j] = stable_sigmoid(v[j]);
            break;
        case LOOM_ACT_TANH:
            for (size_t j = 0; j < x->cols; j++) y[j] = tanh(v[j]);
            break;
        case LOOM_ACT_RELU:
            if (y == v) /* in place: restrict does not hold */
                for (size_t j = 0; j < x->cols; j++) y[j] = v[j] > 0.0 || v[j] != v[j] ? v[j] : 0.0;
            else
                relu_row(y, v, x->cols);
            break;
        }
    }
    return LOOM_OK;
}

loom_status loom_activation_backward(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y,
                                     loom_activation act)
{
    if (!loom_same_shape(dx, dout) || !loom_same_shape(dx, y))
        return LOOM_EDIM;
    if ((unsigned)act > LOOM_ACT_RELU || !same_dtype(y, dx, dout, NULL))
        return LOOM_EARG;
    if (y->dtype == LOOM_F32) {
        activation_backward_f32(dx, dout, y, act);
        return LOOM_OK;
    }
    for (size_t i = 0; i < y->rows; i++) {
        double *d = loom_at(dx, i, 0);
        const double *g = loom_at(dout, i, 0), *v = loom_at(y, i, 0);
        switch (act) {
        case LOOM_ACT_SIGMOID:
            for (size_t j = 0; j < y->cols; j++) d[j] = g[j] * v[j] * (1.0 - v[j]);
            break;
        case LOOM_ACT_TANH:
            for (size_t j = 0; j < y->cols; j++) d[j] = g[j] * (1.0 - v[j] * v[j]);
            break;
        case LOOM_ACT_RELU:
            for (size_t j = 0; j < y->cols; j++) d[j] = v[j] > 0.0 ? g[j] : 0.0;
            break;
        }
    }
    return LOOM_OK;
}

/* ---- softmax ---- */

static double row_max(const double *x, size_t n)
{
    double m = x[0];
    for (size_t j = 1; j < n; j++)
        if (x[j] > m)
            m = x[j];
    return m;
}

/* log(sum exp(x)) of one row, shifted by its maximum. */
static double row_logsumexp(const double *x, size_t n)
{
    double m = row_max(x, n);
    if (isinf(m))
        return m;
    double s = 0.0;
    for (size_t j = 0; j < n; j++)
        s += exp(x[j] - m);
    return m + log(s);
}

/* The float32 softmax family works in double per row and rounds each result once:
 * these are not the hot loops of training (the fused loss is). */
static double row_max_f32(const float *x, size_t n)
{
    float m = x[0];
    for (size_t j = 1; j < n; j++)
        if (x[j] > m)
            m = x[j];
    return m;
}

static double row_logsumexp_f32(const float *x, size_t n)
{
    double m = row_max_f32(x, n);
    if (isinf(m))
        return m;
    double s = 0.0;
    for (size_t j = 0; j < n; j++)
        s += exp((double)x[j] - m);
    return m + log(s);
}

static void softmax_forward_f32(loom_matrix *out, const loom_matrix *x, int log_space)
{
    for (size_t i = 0; i < x->rows; i++) {
        const float *xr = loom_at32(x, i, 0);
        float *yr = loom_at32(out, i, 0);
        double lse = row_logsumexp_f32(xr, x->cols);
        for (size_t j = 0; j < x->cols; j++)
            yr[j] = (float)(log_space ? (double)xr[j] - lse : exp((double)xr[j] - lse));
    }
}

static void softmax_backward_f32(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y,
                                 int log_space)
{
    for (size_t i = 0; i < y->rows; i++) {
        const float *g = loom_at32(dout, i, 0), *v = loom_at32(y, i, 0);
        float *d = loom_at32(dx, i, 0);
        double s = 0.0;
        for (size_t j = 0; j < y->cols; j++)
            s += log_space ? (double)g[j] : (double)g[j] * v[j];
        for (size_t j = 0; j < y->cols; j++)
            d[j] = (float)(log_space ? g[j] - exp((double)v[j]) * s : v[j] * (g[j] - s));
    }
}

loom_status loom_softmax_forward(loom_matrix *out, const loom_matrix *x)
{
    if (!loom_same_shape(out, x))
        return LOOM_EDIM;
    if (!same_dtype(x, out, NULL, NULL))
        return LOOM_EARG;
    if (x->cols == 0)
        return LOOM_OK;
    if (x->dtype == LOOM_F32) {
        softmax_forward_f32(out, x, 0);
        return LOOM_OK;
    }
    for (size_t i = 0; i < x->rows; i++) {
        const double *xr = loom_at(x, i, 0);
        double *yr = loom_at(out, i, 0);
        double m = row_max(xr, x->cols), s = 0.0;
        for (size_t j = 0; j < x->cols; j++) {
            yr[j] = exp(xr[j] - m);
            s += yr[j];
        }
        for (size_t j = 0; j < x->cols; j++)
            yr[j] /= s;
    }
    return LOOM_OK;
}

loom_status loom_log_softmax_forward(loom_matrix *out, const loom_matrix *x)
{
    if (!loom_same_shape(out, x))
        return LOOM_EDIM;
    if (!same_dtype(x, out, NULL, NULL))
        return LOOM_EARG;
    if (x->cols == 0)
        return LOOM_OK;
    if (x->dtype == LOOM_F32) {
        softmax_forward_f32(out, x, 1);
        return LOOM_OK;
    }
    for (size_t i = 0; i < x->rows; i++) {
        const double *xr = loom_at(x, i, 0);
        double *yr = loom_at(out, i, 0);
        double lse = row_logsumexp(xr, x->cols);
        for (size_t j = 0; j < x->cols; j++)
            yr[j] = xr[j] - lse;
    }
    return LOOM_OK;
}

loom_status loom_softmax_backward(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y)
{
    if (!loom_same_shape(dx, dout) || !loom_same_shape(dx, y))
        return LOOM_EDIM;
    if (!same_dtype(y, dx, dout, NULL))
        return LOOM_EARG;
    if (y->dtype == LOOM_F32) {
        softmax_backward_f32(dx, dout, y, 0);
        return LOOM_OK;
    }
    for (size_t i = 0; i < y->rows; i++) {
        const double *g = loom_at(dout, i, 0), *v = loom_at(y, i, 0);
        double *d = loom_at(dx, i, 0);
        double dot = 0.0;
        for (size_t j = 0; j < y->cols; j++)
            dot += g[j] * v[j];
        for (size_t j = 0; j < y->cols; j++)
            d[j] = v[j] * (g[j] - dot);
    }
    return LOOM_OK;
}

loom_status loom_log_softmax_backward(loom_matrix *dx, const loom_matrix *dout,
                                      const loom_matrix *y)
{
    if (!loom_same_shape(dx, dout) || !loom_same_shape(dx, y))
        return LOOM_EDIM;
    if (!same_dtype(y, dx, dout, NULL))
        return LOOM_EARG;
    if (y->dtype == LOOM_F32) {
        softmax_backward_f32(dx, dout, y, 1);
        return LOOM_OK;
    }
    for (size_t i = 0; i < y->rows; i++) {
        const double *g = loom_at(dout, i, 0), *v = loom_at(y, i, 0);
        double *d = loom_at(dx, i, 0);
        double s = 0.0;
        for (size_t j = 0; j < y->cols; j++)
            s += g[j];
        for (size_t j = 0; j < y->cols; j++)
            d[j] = g[j] - exp(v[j]) * s;
    }
    return LOOM_OK;
}

/* ---- losses ---- */

/* One element's loss, and its derivative by the prediction into *grad. */
typedef double (*pointwise_loss)(double pred, double target, double *grad);

static double mse_one(double p, double t, double *grad)
{
    double r = p - t;
    *grad = 2.0 * r;
    return r * r;
}

static double clamped_log(double x)
{
    double l = log(x);
    return l < -100.0 ? -100.0 : l;
}

static double bce_one(double p, double t, double *grad)
{
    double denom = p * (1.0 - p);
    *grad = (p - t) / (denom < 1e-12 ? 1e-12 : denom);
    return -(t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p));
}

static double bce_logits_one(double x, double t, double *grad)
{
    *grad = stable_sigmoid(x) - t;
    return (x > 0 ? x : 0.0) - x * t + log1p(exp(-fabs(x)));
}

/* Sum (or mean) of f over every element; dpred, when given, gets the scaled derivatives. */
static loom_status pointwise(double *loss, loom_matrix *dpred, const loom_matrix *pred,
                             const loom_matrix *target, loom_reduction reduction, pointwise_loss f)
{
    if (!loom_same_shape(pred, target) || (dpred && !loom_same_shape(dpred, pred)))
        return LOOM_EDIM;
    if (!same_dtype(pred, target, dpred, NULL))
        return LOOM_EARG;
    double scale = reduction == LOOM_REDUCTION_MEAN ? 1.0 / (double)loom_numel(pred) : 1.0;
    double s = 0.0, g;
    if (pred->dtype == LOOM_F32) {
        /* float32 values through the double formulas; the loss stays a double */
        for (size_t i = 0; i < pred->rows; i++)
            for (size_t j = 0; j < pred->cols; j++) {
                s += f(*loom_at32(pred, i, j), *loom_at32(target, i, j), &g);
                if (dpred)
                    *loom_at32(dpred, i, j) = (float)(g * scale);
            }
        *loss = s * scale;
        return LOOM_OK;
    }
    for (size_t i = 0; i < pred->rows; i++) {
        const double *p = loom_at(pred, i, 0), *t = loom_at(target, i, 0);
        double *d = dpred ? loom_at(dpred, i, 0) : NULL;
        for (size_t j = 0; j < pred->cols; j++) {
            s += f(p[j], t[j], &g);
            if (d)
                d[j] = g * scale;
        }
    }
    *loss = s * scale;
    return LOOM_OK;
}

loom_status loom_mse_loss(double *loss, loom_matrix *dpred, const loom_matrix *pred,
                          const loom_matrix *target, loom_reduction reduction)
{
    return pointwise(loss, dpred, pred, target, reduction, mse_one);
}

loom_status loom_bce_loss(double *loss, loom_matrix *dpred, const loom_matrix *prob,
                          const loom_matrix *target, loom_reduction reduction)
{
    for (size_t i = 0; i < prob->rows; i++)
        for (size_t j = 0; j < prob->cols; j++) {
            double p = loom_get(prob, i, j);
            if (!(p >= 0.0 && p <= 1.0))
                return LOOM_EARG;
        }
    return pointwise(loss, dpred, prob, target, reduction, bce_one);
}

loom_status loom_bce_logits_loss(double *loss, loom_matrix *dpred, const loom_matrix *logits,
                                 const loom_matrix *target, loom_reduction reduction)
{
    return pointwise(loss, dpred, logits, target, reduction, bce_logits_one);
}

/* Is target row i ignored (1), a valid class (0), or invalid (-1)? *cls gets the 0-based class. */
static int ce_target(const loom_matrix *target, size_t i, size_t classes,
                     const loom_ce_options *o, size_t *cls)
{
    double t = loom_get(target, i, 0); /* class ids: either dtype */
    if (o->use_ignore && t == o->ignore_index)
        return 1;
    if (!(t >= 1.0 && t <= (double)classes && t == floor(t)))
        return -1;
    *cls = (size_t)t - 1;
    return 0;
}

/* Validate every target and count the rows that are not ignored. */
static loom_status ce_check(const loom_matrix *logits, const loom_matrix *target,
                            const loom_ce_options *o, size_t *counted, size_t *bad_row)
{
    if (target->rows != logits->rows || target->cols != 1 || logits->cols == 0)
        return LOOM_EDIM;
    *counted = 0;
    for (size_t i = 0; i < logits->rows; i++) {
        size_t cls;
        int kind = ce_target(target, i, logits->cols, o, &cls);
        if (kind < 0) {
            if (bad_row)
                *bad_row = i;
            return LOOM_EARG;
        }
        *counted += kind == 0;
    }
    return LOOM_OK;
}

/* The fused cross-entropy for float32 logits (targets checked): each row in double. */
static double cross_entropy_f32(loom_matrix *dlogits, const loom_matrix *logits,
                                const loom_matrix *target, const loom_ce_options *options,
                                double scale, size_t counted)
{
    double s = 0.0;
    size_t classes = logits->cols;
    for (size_t i = 0; i < logits->rows; i++) {
        const float *x = loom_at32(logits, i, 0);
        float *d = dlogits ? loom_at32(dlogits, i, 0) : NULL;
        size_t cls = 0;
        if (ce_target(target, i, classes, options, &cls) == 1) {
            if (d)
                loom_zero_bytes(d, classes * sizeof(float));
            continue;
        }
        double lse = row_logsumexp_f32(x, classes);
        s += lse - x[cls];
        if (d) {
            for (size_t j = 0; j < classes; j++)
                d[j] = (float)(exp((double)x[j] - lse) * scale - (j == cls ? scale : 0.0));
        }
    }
    return counted == 0 && options->reduction == LOOM_REDUCTION_MEAN ? NAN : s * scale;
}

loom_status loom_cross_entropy_loss(double *loss, loom_matrix *dlogits, const loom_matrix *logits,
                                    const loom_matrix *target, const loom_ce_options *options,
                                    size_t *bad_row)
{
    size_t counted;
    if (dlogits && !loom_same_shape(dlogits, logits))
        return LOOM_EDIM;
    if (!same_dtype(logits, dlogits, NULL, NULL))
        return LOOM_EARG;
    loom_status st = ce_check(logits, target, options, &counted, bad_row);
    if (st != LOOM_OK)
        return st;
    double scale = options->reduction == LOOM_REDUCTION_MEAN ? 1.0 / (double)counted : 1.0;
    if (logits->dtype == LOOM_F32) {
        *loss = cross_entropy_f32(dlogits, logits, target, options, scale, counted);
        return LOOM_OK;
    }
    double s = 0.0;
    size_t classes = logits->cols;
    for (size_t i = 0; i < logits->rows; i++) {
        const double *x = loom_at(logits, i, 0);
        double *d = dlogits ? loom_at(dlogits, i, 0) : NULL;
        size_t cls = 0;
        if (ce_target(target, i, classes, options, &cls) == 1) {
            if (d)
                loom_zero_bytes(d, classes * sizeof(double));
            continue;
        }
        double lse = row_logsumexp(x, classes);
        s += lse - x[cls];
        if (d) {
            for (size_t j = 0; j < classes; j++)
                d[j] = exp(x[j] - lse) * scale;
            d[cls] -= scale;
        }
    }
    *loss = counted == 0 && options->reduction == LOOM_REDUCTION_MEAN ? NAN : s * scale;
    return LOOM_OK;
}

loom_status loom_cross_entropy_loss_naive(double *loss, loom_matrix *dlogits,
                                          const loom_matrix *logits, const loom_matrix *target,
                                          const loom_ce_options *options)
{
    size_t counted;
    loom_status st = ce_check(logits, target, options, &counted, NULL);
    if (st != LOOM_OK)
        return st;
    if (!same_dtype(logits, dlogits, NULL, NULL))
        return LOOM_EARG;
    loom_matrix logp;
    if (loom_matrix_init_dtype(&logp, logits->rows, logits->cols, logits->dtype) != LOOM_OK)
        return LOOM_ENOMEM;
    loom_log_softmax_forward(&logp, logits);
    double s = 0.0;
    if (dlogits)
        loom_matrix_fill(dlogits, 0.0);
    for (size_t i = 0; i < logits->rows; i++) {
        size_t cls = 0;
        if (ce_target(target, i, logits->cols, options, &cls) != 0)
            continue;
        s -= loom_get(&logp, i, cls);
        if (!dlogits)
            continue;
        for (size_t j = 0; j < logits->cols; j++)
            loom_put(dlogits, i, j, exp(loom_get(&logp, i, j)) - (j == cls ? 1.0 : 0.0));
    }
    if (options->reduction == LOOM_REDUCTION_MEAN) {
        s /= (double)counted;
        if (dlogits)
            loom_matrix_binop_scalar(dlogits, dlogits, LOOM_DIV, (double)counted, 0);
    }
    loom_matrix_release(&logp);
    *loss = s;
    return LOOM_OK;
}

/* ---- dropout ---- */

loom_status loom_dropout_forward(loom_matrix *out, loom_matrix *mask, const loom_matrix *x,
                                 double p, loom_rng *rng)
{
    if (!loom_same_shape(out, x) || !loom_same_shape(mask, x))
        return LOOM_EDIM;
    if (!(p >= 0.0 && p <= 1.0) || !same_dtype(x, out, mask, NULL))
        return LOOM_EARG;
    double keep = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
    if (x->dtype == LOOM_F32) {
        /* the same draws as float64, so a seed drops the same units in both */
        for (size_t i = 0; i < x->rows; i++) {
            float *mr = loom_at32(mask, i, 0), *yr = loom_at32(out, i, 0);
            const float *xr = loom_at32(x, i, 0);
            for (size_t j = 0; j < x->cols; j++) {
                mr[j] = loom_rng_uniform(rng) < p ? 0.0f : (float)keep;
                yr[j] = xr[j] * mr[j];
            }
        }
        return LOOM_OK;
    }
    for (size_t i = 0; i < x->rows; i++) {
        double *mr = loom_at(mask, i, 0), *yr = loom_at(out, i, 0);
        const double *xr = loom_at(x, i, 0);
        for (size_t j = 0; j < x->cols; j++) {
            mr[j] = loom_rng_uniform(rng) < p ? 0.0 : keep;
            yr[j] = xr[j] * mr[j];
        }
    }
    return LOOM_OK;
}

/* ---- embedding ---- */

/* The 0-based row of id k (row-major position in ids), or SIZE_MAX when it is not an id. */
static size_t embedding_row(const loom_matrix *ids, size_t k, size_t vocab)
{
    double id = loom_get(ids, k / ids->cols, k % ids->cols); /* ids: either dtype */
    if (!(id >= 1.0 && id <= (double)vocab && id == floor(id)))
        return SIZE_MAX;
    return (size_t)id - 1;
}

loom_status loom_embedding_forward(loom_matrix *out, const loom_matrix *ids,
                                   const loom_matrix *weight, size_t *bad)
{
    size_t n = loom_numel(ids);
    if (out->rows != n || out->cols != weight->cols)
        return LOOM_EDIM;
    if (!same_dtype(weight, out, NULL, NULL))
        return LOOM_EARG;
    for (size_t k = 0; k < n; k++) {
        size_t row = embedding_row(ids, k, weight->rows);
        if (row == SIZE_MAX) {
            if (bad)
                *bad = k;
            return LOOM_EARG;
        }
        loom_matrix src, dst;
        loom_matrix_view(&src, weight, row, 0, 1, weight->cols);
        loom_matrix_view(&dst, out, k, 0, 1, weight->cols);
        loom_matrix_copy(&dst, &src);
    }
    return LOOM_OK;
}

loom_status loom_embedding_backward(loom_matrix *dweight, const loom_matrix *dout,
                                    const loom_matrix *ids, size_t padding_id)
{
    size_t n = loom_numel(ids);
    if (dout->rows != n || dout->cols != dweight->cols)
        return LOOM_EDIM;
    if (!same_dtype(dweight, dout, NULL, NULL))
        return LOOM_EARG;
    for (size_t k = 0; k < n; k++) {
        size_t row = embedding_row(ids, k, dweight->rows);
        if (row == SIZE_MAX)
            return LOOM_EARG;
        if (row + 1 == padding_id)
            continue;
        if (dweight->dtype == LOOM_F32) {
            float *g = loom_at32(dweight, row, 0);
            const float *d = loom_at32(dout, k, 0);
            for (size_t j = 0; j < dout->cols; j++)
                g[j] += d[j];
            continue;
        }
        double *g = loom_at(dweight, row, 0);
        const double *d = loom_at(dout, k, 0);
        for (size_t j = 0; j < dout->cols; j++)
            g[j] += d[j];
    }
    return LOOM_OK;
}

/* ---- optimisers ---- */

/* loom_sgd_step for float32: hyperparameters rounded to float, as torch.optim does for a
 * float32 tensor. */
static void sgd_step_f32(loom_matrix *param, loom_matrix *velocity, const loom_matrix *grad,
                         const loom_sgd_config *c, int first)
{
    float lr = (float)c->lr, mom = (float)c->momentum, damp = 1.0f - (float)c->dampening;
    float wd = (float)c->weight_decay;
    for (size_t i = 0; i < param->rows; i++) {
        float *p = loom_at32(param, i, 0);
        const float *g = loom_at32(grad, i, 0);
        float *buf = velocity ? loom_at32(velocity, i, 0) : NULL;
        for (size_t j = 0; j < param->cols; j++) {
            float d = g[j] + wd * p[j];
            if (c->momentum != 0.0) {
                buf[j] = first ? d : mom * buf[j] + damp * d;
                d = c->nesterov ? d + mom * buf[j] : buf[j];
            }
            p[j] -= lr * d;
        }
    }
}

loom_status loom_sgd_step(loom_matrix *param, loom_matrix *velocity, const loom_matrix *grad,
                          const loom_sgd_config *c, int first)
{
    if (!loom_same_shape(param, grad) || (velocity && !loom_same_shape(param, velocity)))
        return LOOM_EDIM;
    if ((c->momentum != 0.0 && !velocity) || !same_dtype(param, grad, velocity, NULL))
        return LOOM_EARG;
    if (param->dtype == LOOM_F32) {
        sgd_step_f32(param, velocity, grad, c, first);
        return LOOM_OK;
    }
    for (size_t i = 0; i < param->rows; i++) {
        double *p = loom_at(param, i, 0);
        const double *g = loom_at(grad, i, 0);
        double *buf = velocity ? loom_at(velocity, i, 0) : NULL;
        for (size_t j = 0; j < param->cols; j++) {
            double d = g[j] + c->weight_decay * p[j];
            if (c->momentum != 0.0) {
                buf[j] = first ? d : c->momentum * buf[j] + (1.0 - c->dampening) * d;
                d = c->nesterov ? d + c->momentum * buf[j] : buf[j];
            }
            p[j] -= c->lr * d;
        }
    }
    return LOOM_OK;
}

static int adam_shapes_ok(const loom_matrix *param, const loom_matrix *m, const loom_matrix *v,
                          const loom_matrix *grad)
{
    return loom_same_shape(param, grad) && loom_same_shape(param, m) && loom_same_shape(param, v);
}

/* adam_row for float32: the step's scalars are computed in double once per call, then
 * rounded, so the loop is all float (PyTorch does the same for float32 parameters). */
LOOM_VECTORISE LOOM_CLONES static void adam_row_f32(float *restrict p, float *restrict m,
                                                    float *restrict v, const float *restrict g,
                                                    size_t n, float w1, float beta2, float w2,
                                                    float coupled_wd, float decay,
                                                    float step_size, float bc2_sqrt, float eps)
{
    for (size_t j = 0; j < n; j++) {
        float gj = g[j] + coupled_wd * p[j];
        m[j] += w1 * (gj - m[j]);
        v[j] = v[j] * beta2 + w2 * gj * gj;
        p[j] = p[j] * decay - step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
    }
}

/* One row of Adam: constants in locals and restrict pointers so the loop vectorises. */
LOOM_VECTORISE LOOM_CLONES static void adam_row(double *restrict p, double *restrict m, double *restrict v,
                                    const double *restrict g, size_t n, double w1, double beta2,
                                    double w2, double coupled_wd, double decay, double step_size,
                                    double bc2_sqrt, double eps)
{
    for (size_t j = 0; j < n; j++) {
        double gj = g[j] + coupled_wd * p[j];
        m[j] += w1 * (gj - m[j]);
        v[j] = v[j] * beta2 + w2 * gj * gj;
        p[j] = p[j] * decay - step_size * m[j] / (sqrt(v[j]) / bc2_sqrt + eps);
    }
}

loom_status loom_adam_step(loom_matrix *param, loom_matrix *m, loom_matrix *v,
                           const loom_matrix *grad, const loom_adam_config *c, uint64_t step)
{
    if (!adam_shapes_ok(param, m, v, grad))
        return LOOM_EDIM;
    if (step == 0 || !same_dtype(param, m, v, grad))
        return LOOM_EARG;
    /* The same order of operations as torch.optim.Adam's single-tensor path. */
    double bc1 = 1.0 - pow(c->beta1, (double)step);
    double bc2_sqrt = sqrt(1.0 - pow(c->beta2, (double)step));
    double step_size = c->lr / bc1, decay = c->decoupled ? 1.0 - c->lr * c->weight_decay : 1.0;
    double coupled_wd = c->decoupled ? 0.0 : c->weight_decay;
    int flat = loom_is_contiguous(param) && loom_is_contiguous(m) && loom_is_contiguous(v)
               && loom_is_contiguous(grad);
    size_t rows = flat ? 1 : param->rows, cols = flat ? loom_numel(param) : param->cols;
    if (param->dtype == LOOM_F32) {
        for (size_t i = 0; i < rows && cols > 0; i++)
            adam_row_f32(loom_at32(param, i, 0), loom_at32(m, i, 0), loom_at32(v, i, 0),
                         loom_at32(grad, i, 0), cols, (float)(1.0 - c->beta1), (float)c->beta2,
                         (float)(1.0 - c->beta2), (float)coupled_wd, (float)decay,
                         (float)step_size, (float)bc2_sqrt, (float)c->eps);
        return LOOM_OK;
    }
    for (size_t i = 0; i < rows && cols > 0; i++)
        adam_row(loom_at(param, i, 0), loom_at(m, i, 0), loom_at(v, i, 0), loom_at(grad, i, 0),
                 cols, 1.0 - c->beta1, c->beta2, 1.0 - c->beta2, coupled_wd, decay, step_size,
                 bc2_sqrt, c->eps);
    return LOOM_OK;
}

loom_status loom_adam_step_naive(loom_matrix *param, loom_matrix *m, loom_matrix *v,
                                 const loom_matrix *grad, const loom_adam_config *c, uint64_t step)
{
    if (!adam_shapes_ok(param, m, v, grad))
        return LOOM_EDIM;
    if (step == 0 || !same_dtype(param, m, v, grad))
        return LOOM_EARG;
    /* In double for both dtypes (float32 values rounded once per stored result). */
    for (size_t i = 0; i < param->rows; i++)
        for (size_t j = 0; j < param->cols; j++) {
            double p = loom_get(param, i, j), mi = loom_get(m, i, j), vi = loom_get(v, i, j);
            double g = loom_get(grad, i, j);
            if (c->decoupled)
                p *= 1.0 - c->lr * c->weight_decay;
            else
                g += c->weight_decay * p;
            mi = c->beta1 * mi + (1.0 - c->beta1) * g;
            vi = c->beta2 * vi + (1.0 - c->beta2) * g * g;
            double mhat = mi / (1.0 - pow(c->beta1, (double)step));
            double vhat = vi / (1.0 - pow(c->beta2, (double)step));
            p -= c->lr * mhat / (sqrt(vhat) + c->eps);
            loom_put(param, i, j, p);
            loom_put(m, i, j, mi);
            loom_put(v, i, j, vi);
        }
    return LOOM_OK;
}
