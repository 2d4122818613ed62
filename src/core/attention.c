/* attention.c: the attention kernels of attention.h: projections through BLAS (dgemm or
 * sgemm), scores, masked softmax and the weighted sum in plain loops, written for float64
 * and again for float32 (the _f32 twins), chosen once per call by the dtype. Not the
 * decoder (src/core/decoder.c). */
#include "attention.h"

#include <math.h>

#include "blas.h"

static int is_additive(loom_attention_kind k)
{
    return k == LOOM_ATTN_CONCAT || k == LOOM_ATTN_BAHDANAU;
}

/* Width of the projected query: Hk for general (scored against keys), A for additive. */
static size_t proj_dim(const loom_attention_shape *s)
{
    return s->kind == LOOM_ATTN_GENERAL ? s->key_dim : is_additive(s->kind) ? s->attn_dim : 0;
}

size_t loom_attention_workspace(const loom_attention_shape *s)
{
    size_t sb = s->src_len * s->batch, a = is_additive(s->kind) ? s->attn_dim : 0;
    return 2 * s->batch * proj_dim(s) + 2 * sb * a + 2 * s->batch * s->src_len;
}

/* The workspace carved into matrices (contiguous, one allocation of the caller). */
typedef struct attention_work {
    loom_matrix qp;   /* B x P: projected query (general, additive)                 */
    loom_matrix hid;  /* (S*B) x A: tanh(W q + U k) of the additive scores          */
    loom_matrix a;    /* B x S: attention weights                                   */
    loom_matrix da;   /* B x S: gradient of the scores                              */
    loom_matrix dqp;  /* B x P                                                      */
    loom_matrix dhid; /* (S*B) x A                                                  */
} attention_work;

/* rows x cols at element `offset` of work, of dtype dt. */
static loom_matrix wrap(void *work, size_t offset, size_t rows, size_t cols, loom_dtype dt)
{
    if (dt == LOOM_F32)
        return loom_matrix_wrap_f32((float *)work + offset, rows, cols);
    return loom_matrix_wrap((double *)work + offset, rows, cols);
}

static attention_work carve(void *work, const loom_attention_shape *s, loom_dtype dt)
{
    size_t p = proj_dim(s), sb = s->src_len * s->batch;
    size_t a = is_additive(s->kind) ? s->attn_dim : 0, b = s->batch, n = s->src_len;
    attention_work w;
    w.qp = wrap(work, 0, b, p, dt);
    w.dqp = wrap(work, b * p, b, p, dt);
    w.hid = wrap(work, 2 * b * p, sb, a, dt);
    w.dhid = wrap(work, 2 * b * p + sb * a, sb, a, dt);
    w.a = wrap(work, 2 * b * p + 2 * sb * a, b, n, dt);
    w.da = wrap(work, 2 * b * p + 2 * sb * a + b * n, b, n, dt);
    return w;
}

/* The query and key blocks of concat's W = [Wq | Wk] (views, sharing W's stride). */
static void concat_blocks(loom_matrix *wq, loom_matrix *wk, const loom_matrix *w,
                          const loom_attention_shape *s)
{
    loom_matrix_view(wq, w, 0, 0, s->attn_dim, s->query_dim);
    loom_matrix_view(wk, w, 0, s->query_dim, s->attn_dim, s->key_dim);
}

/* ---- float64 loops ---- */

static double dot(const double *x, const double *y, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * y[i];
    return acc;
}

/* hid[s*B + b] = tanh(hid + qp[b] [+ bias]) (hid holds U k) and the score v . hid into a. */
static void additive_hidden(attention_work *w, const loom_attention_params *p,
                            const loom_attention_shape *s)
{
    size_t A = s->attn_dim, B = s->batch;
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            double *h = loom_at(&w->hid, t * B + b, 0);
            const double *q = loom_at(&w->qp, b, 0);
            for (size_t j = 0; j < A; j++) {
                double bias = s->kind == LOOM_ATTN_BAHDANAU ? *loom_at(&p->b, j, 0) : 0.0;
                h[j] = tanh(h[j] + q[j] + bias);
            }
            *loom_at(&w->a, b, t) = dot(h, loom_at(&p->v, 0, 0), A);
        }
}

/* a[b, t] = q[b] . keys[t*B + b] */
static void bilinear_scores(loom_matrix *a, const loom_matrix *q, const loom_matrix *keys,
                            const loom_attention_shape *s)
{
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < s->batch; b++)
            *loom_at(a, b, t) = dot(loom_at(q, b, 0), loom_at(keys, t * s->batch + b, 0), s->key_dim);
}

/* Softmax of each row of a over its first len[b] entries; zeros past them. */
static void masked_softmax(loom_matrix *a, const size_t *lengths)
{
    for (size_t b = 0; b < a->rows; b++) {
        double *row = loom_at(a, b, 0);
        size_t n = lengths ? lengths[b] : a->cols;
        double mx = -INFINITY, sum = 0.0;
        for (size_t t = 0; t < n; t++)
            mx = row[t] > mx ? row[t] : mx;
        for (size_t t = 0; t < n; t++) {
            row[t] = exp(row[t] - mx);
            sum += row[t];
        }
        for (size_t t = 0; t < n; t++)
            row[t] /= sum;
        for (size_t t = n; t < a->cols; t++)
            row[t] = 0.0;
    }
}

/* context[b] = sum_t a[b, t] keys[t*B + b] */
static void weighted_sum(loom_matrix *context, const loom_matrix *a, const loom_matrix *keys,
                         const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim;
    loom_matrix_fill(context, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            double at = *loom_at(a, b, t);
            const double *k = loom_at(keys, t * B + b, 0);
            double *c = loom_at(context, b, 0);
            for (size_t j = 0; j < H; j++)
                c[j] += at * k[j];
        }
}

/* da (gradient of the weights) -> da (gradient of the scores) through the softmax; dkeys
 * gets the weighted sum's share. */
static void context_backward(attention_work *w, loom_matrix *dkeys, const loom_matrix *dcontext,
                             const loom_matrix *dweights, const loom_matrix *keys,
                             const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim, S = s->src_len;
    for (size_t b = 0; b < B; b++) {
        const double *dc = loom_at(dcontext, b, 0);
        double *a = loom_at(&w->a, b, 0), *da = loom_at(&w->da, b, 0), mean = 0.0;
        for (size_t t = 0; t < S; t++) {
            double *dk = loom_at(dkeys, t * B + b, 0);
            for (size_t j = 0; j < H; j++)
                dk[j] += a[t] * dc[j];
            da[t] = dot(dc, loom_at(keys, t * B + b, 0), H) + (dweights ? *loom_at(dweights, b, t) : 0.0);
            mean += a[t] * da[t];
        }
        for (size_t t = 0; t < S; t++)
            da[t] = a[t] * (da[t] - mean);
    }
}

/* dot and general: the scores q' . k back to q' (dq, overwritten) and keys. */
static void bilinear_backward(attention_work *w, loom_matrix *dq, loom_matrix *dkeys,
                              const loom_matrix *q, const loom_matrix *keys,
                              const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim;
    loom_matrix_fill(dq, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            double g = *loom_at(&w->da, b, t);
            const double *k = loom_at(keys, t * B + b, 0), *qb = loom_at(q, b, 0);
            double *dk = loom_at(dkeys, t * B + b, 0), *dqb = loom_at(dq, b, 0);
            for (size_t j = 0; j < H; j++) {
                dqb[j] += g * k[j];
                dk[j] += g * qb[j];
            }
        }
}

/* additive: score = v . hid, hid = tanh(pre): dv, dhid, and dqp = sum over s of dhid. */
static void additive_backward(attention_work *w, loom_attention_params *g,
                              const loom_attention_params *p, const loom_attention_shape *s)
{
    size_t A = s->attn_dim, B = s->batch;
    loom_matrix_fill(&w->dqp, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            double ds = *loom_at(&w->da, b, t);
            const double *h = loom_at(&w->hid, t * B + b, 0);
            double *dh = loom_at(&w->dhid, t * B + b, 0), *dq = loom_at(&w->dqp, b, 0);
            for (size_t j = 0; j < A; j++) {
                *loom_at(&g->v, 0, j) += ds * h[j];
                dh[j] = ds * *loom_at(&p->v, 0, j) * (1.0 - h[j] * h[j]);
                dq[j] += dh[j];
            }
        }
    if (s->kind == LOOM_ATTN_BAHDANAU)
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < A; j++)
                *loom_at(&g->b, j, 0) += *loom_at(&w->dqp, b, j);
}

/* ---- float32 twins of the loops above ---- */

static float dot_f32(const float *x, const float *y, size_t n)
{
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * y[i];
    return acc;
}

static void additive_hidden_f32(attention_work *w, const loom_attention_params *p,
                                const loom_attention_shape *s)
{
    size_t A = s->attn_dim, B = s->batch;
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            float *h = loom_at32(&w->hid, t * B + b, 0);
            const float *q = loom_at32(&w->qp, b, 0);
            for (size_t j = 0; j < A; j++) {
                float bias = s->kind == LOOM_ATTN_BAHDANAU ? *loom_at32(&p->b, j, 0) : 0.0f;
                h[j] = tanhf(h[j] + q[j] + bias);
            }
            *loom_at32(&w->a, b, t) = dot_f32(h, loom_at32(&p->v, 0, 0), A);
        }
}

static void bilinear_scores_f32(loom_matrix *a, const loom_matrix *q, const loom_matrix *keys,
                                const loom_attention_shape *s)
{
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < s->batch; b++)
            *loom_at32(a, b, t) = dot_f32(loom_at32(q, b, 0), loom_at32(keys, t * s->batch + b, 0), s->key_dim);
}

static void masked_softmax_f32(loom_matrix *a, const size_t *lengths)
{
    for (size_t b = 0; b < a->rows; b++) {
        float *row = loom_at32(a, b, 0);
        size_t n = lengths ? lengths[b] : a->cols;
        float mx = -INFINITY, sum = 0.0f;
        for (size_t t = 0; t < n; t++)
            mx = row[t] > mx ? row[t] : mx;
        for (size_t t = 0; t < n; t++) {
            row[t] = expf(row[t] - mx);
            sum += row[t];
        }
        for (size_t t = 0; t < n; t++)
            row[t] /= sum;
        for (size_t t = n; t < a->cols; t++)
            row[t] = 0.0f;
    }
}

static void weighted_sum_f32(loom_matrix *context, const loom_matrix *a, const loom_matrix *keys,
                             const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim;
    loom_matrix_fill(context, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            float at = *loom_at32(a, b, t);
            const float *k = loom_at32(keys, t * B + b, 0);
            float *c = loom_at32(context, b, 0);
            for (size_t j = 0; j < H; j++)
                c[j] += at * k[j];
        }
}

static void context_backward_f32(attention_work *w, loom_matrix *dkeys, const loom_matrix *dcontext,
                                 const loom_matrix *dweights, const loom_matrix *keys,
                                 const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim, S = s->src_len;
    for (size_t b = 0; b < B; b++) {
        const float *dc = loom_at32(dcontext, b, 0);
        float *a = loom_at32(&w->a, b, 0), *da = loom_at32(&w->da, b, 0), mean = 0.0f;
        for (size_t t = 0; t < S; t++) {
            float *dk = loom_at32(dkeys, t * B + b, 0);
            for (size_t j = 0; j < H; j++)
                dk[j] += a[t] * dc[j];
            da[t] = dot_f32(dc, loom_at32(keys, t * B + b, 0), H) + (dweights ? *loom_at32(dweights, b, t) : 0.0f);
            mean += a[t] * da[t];
        }
        for (size_t t = 0; t < S; t++)
            da[t] = a[t] * (da[t] - mean);
    }
}

static void bilinear_backward_f32(attention_work *w, loom_matrix *dq, loom_matrix *dkeys,
                                  const loom_matrix *q, const loom_matrix *keys,
                                  const loom_attention_shape *s)
{
    size_t B = s->batch, H = s->key_dim;
    loom_matrix_fill(dq, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            float g = *loom_at32(&w->da, b, t);
            const float *k = loom_at32(keys, t * B + b, 0), *qb = loom_at32(q, b, 0);
            float *dk = loom_at32(dkeys, t * B + b, 0), *dqb = loom_at32(dq, b, 0);
            for (size_t j = 0; j < H; j++) {
                dqb[j] += g * k[j];
                dk[j] += g * qb[j];
            }
        }
}

static void additive_backward_f32(attention_work *w, loom_attention_params *g,
                                  const loom_attention_params *p, const loom_attention_shape *s)
{
    size_t A = s->attn_dim, B = s->batch;
    loom_matrix_fill(&w->dqp, 0.0);
    for (size_t t = 0; t < s->src_len; t++)
        for (size_t b = 0; b < B; b++) {
            float ds = *loom_at32(&w->da, b, t);
            const float *h = loom_at32(&w->hid, t * B + b, 0);
            float *dh = loom_at32(&w->dhid, t * B + b, 0), *dq = loom_at32(&w->dqp, b, 0);
            for (size_t j = 0; j < A; j++) {
                *loom_at32(&g->v, 0, j) += ds * h[j];
                dh[j] = ds * *loom_at32(&p->v, 0, j) * (1.0f - h[j] * h[j]);
                dq[j] += dh[j];
            }
        }
    if (s->kind == LOOM_ATTN_BAHDANAU)
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < A; j++)
                *loom_at32(&g->b, j, 0) += *loom_at32(&w->dqp, b, j);
}

/* ---- the passes, any dtype: BLAS projections, the loops of the matrices' dtype ---- */

static int is_f32(const loom_matrix *m)
{
    return m->dtype == LOOM_F32;
}

/* Raw scores of every (b, s) into w->a. */
static loom_status scores(attention_work *w, const loom_matrix *query, const loom_matrix *keys,
                          const loom_attention_params *p, const loom_attention_shape *s)
{
    loom_status st = LOOM_OK;
    if (is_additive(s->kind)) {
        loom_matrix wq = p->w, wk = p->u;
        if (s->kind == LOOM_ATTN_CONCAT)
            concat_blocks(&wq, &wk, &p->w, s);
        st = loom_gemm(&w->qp, 1.0, query, 0, &wq, 1, 0.0);
        if (st == LOOM_OK)
            st = loom_gemm(&w->hid, 1.0, keys, 0, &wk, 1, 0.0);
        if (st == LOOM_OK)
            (is_f32(query) ? additive_hidden_f32 : additive_hidden)(w, p, s);
        return st;
    }
    const loom_matrix *q = query;
    if (s->kind == LOOM_ATTN_GENERAL) {
        st = loom_gemm(&w->qp, 1.0, query, 0, &p->w, 1, 0.0);
        q = &w->qp;
    }
    if (st == LOOM_OK)
        (is_f32(query) ? bilinear_scores_f32 : bilinear_scores)(&w->a, q, keys, s);
    return st;
}

static loom_status attention_probs(attention_work *w, const loom_matrix *query,
                                   const loom_matrix *keys, const size_t *lengths,
                                   const loom_attention_params *p, const loom_attention_shape *s)
{
    loom_status st = scores(w, query, keys, p, s);
    if (st == LOOM_OK)
        (is_f32(query) ? masked_softmax_f32 : masked_softmax)(&w->a, lengths);
    return st;
}

/* Every matrix (NULL: absent) and the parameters the kind uses have the query's dtype. */
static int one_dtype(const loom_matrix *query, const loom_matrix *const *ms, size_t n,
                     const loom_attention_params *p, const loom_attention_shape *s)
{
    loom_dtype dt = query->dtype;
    for (size_t i = 0; i < n; i++)
        if (ms[i] && ms[i]->dtype != dt)
            return 0;
    if (s->kind != LOOM_ATTN_DOT && p->w.dtype != dt)
        return 0;
    if (is_additive(s->kind) && p->v.dtype != dt)
        return 0;
    return s->kind != LOOM_ATTN_BAHDANAU || (p->u.dtype == dt && p->b.dtype == dt);
}

loom_status loom_attention_forward(loom_matrix *context, loom_matrix *weights, void *work,
                                   const loom_matrix *query, const loom_matrix *keys,
                                   const size_t *lengths, const loom_attention_params *p,
                                   const loom_attention_shape *s)
{
    const loom_matrix *const ms[] = {context, weights, keys};
    if (!one_dtype(query, ms, 3, p, s))
        return LOOM_EARG;
    attention_work w = carve(work, s, query->dtype);
    loom_status st = attention_probs(&w, query, keys, lengths, p, s);
    if (st != LOOM_OK)
        return st;
    (is_f32(query) ? weighted_sum_f32 : weighted_sum)(context, &w.a, keys, s);
    if (weights)
        return loom_matrix_copy(weights, &w.a);
    return LOOM_OK;
}

/* The projections' gradients: dW += dqp^T q, dU += dhid^T keys, dq = dqp W, dkeys += dhid U. */
static loom_status projection_backward(attention_work *w, loom_matrix *dquery, loom_matrix *dkeys,
                                       loom_attention_params *g, const loom_matrix *query,
                                       const loom_matrix *keys, const loom_attention_params *p,
                                       const loom_attention_shape *s)
{
    loom_matrix wq = p->w, wk = p->u, gq = g->w, gk = g->u;
    if (s->kind == LOOM_ATTN_CONCAT) {
        concat_blocks(&wq, &wk, &p->w, s);
        concat_blocks(&gq, &gk, &g->w, s);
    }
    loom_status st = loom_gemm(&gq, 1.0, &w->dqp, 1, query, 0, 1.0);
    if (st == LOOM_OK)
        st = loom_gemm(dquery, 1.0, &w->dqp, 0, &wq, 0, 0.0);
    if (st == LOOM_OK && is_additive(s->kind)) {
        st = loom_gemm(&gk, 1.0, &w->dhid, 1, keys, 0, 1.0);
        if (st == LOOM_OK)
            st = loom_gemm(dkeys, 1.0, &w->dhid, 0, &wk, 0, 1.0);
    }
    return st;
}

loom_status loom_attention_backward(loom_matrix *dquery, loom_matrix *dkeys,
                                    loom_attention_params *grads, void *work,
                                    const loom_matrix *dcontext, const loom_matrix *dweights,
                                    const loom_matrix *query, const loom_matrix *keys,
                                    const size_t *lengths, const loom_attention_params *p,
                                    const loom_attention_shape *s)
{
    const loom_matrix *const ms[] = {dquery, dkeys, dcontext, dweights, keys};
    if (!one_dtype(query, ms, 5, p, s) || !one_dtype(query, NULL, 0, grads, s))
        return LOOM_EARG;
    int f32 = is_f32(query);
    attention_work w = carve(work, s, query->dtype);
    loom_status st = attention_probs(&w, query, keys, lengths, p, s);
    if (st != LOOM_OK)
        return st;
    (f32 ? context_backward_f32 : context_backward)(&w, dkeys, dcontext, dweights, keys, s);
    if (s->kind == LOOM_ATTN_DOT) {
        (f32 ? bilinear_backward_f32 : bilinear_backward)(&w, dquery, dkeys, query, keys, s);
        return LOOM_OK;
    }
    if (s->kind == LOOM_ATTN_GENERAL)
        (f32 ? bilinear_backward_f32 : bilinear_backward)(&w, &w.dqp, dkeys, &w.qp, keys, s);
    else
        (f32 ? additive_backward_f32 : additive_backward)(&w, grads, p, s);
    return projection_backward(&w, dquery, dkeys, grads, query, keys, p, s);
}
