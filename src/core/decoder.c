/* decoder.c: the decoder kernels of decoder.h, written once over loom_matrix operations that
 * dispatch on the dtype (gemm, the LSTM step of rnn.c, attention.c, activations): the
 * embeddings' share of every step's gates is one gemm before the loop, the weight
 * gradients of all steps one gemm each after BPTT. Not the beam bookkeeping (beam.c). */
#include "decoder.h"

#include <math.h>

#include "blas.h"
#include "nn.h"
#include "rnn.h"

/* ---- configuration and workspace ---- */

static int bahdanau(const loom_decoder *d)
{
    return d->cfg.attention && d->cfg.kind == LOOM_ATTN_BAHDANAU;
}

static int luong(const loom_decoder *d)
{
    return d->cfg.attention && d->cfg.kind != LOOM_ATTN_BAHDANAU;
}

/* The cell reads [emb; o_{t-1}] (input feeding) or [emb; ctx_t] (Bahdanau). */
static int fed(const loom_decoder *d)
{
    return bahdanau(d) || (luong(d) && d->cfg.input_feeding);
}

loom_status loom_decoder_init(loom_decoder *d, const loom_decoder_config *cfg)
{
    if (cfg->embed == 0 || cfg->hidden == 0 || cfg->vocab == 0
        || (cfg->attention && cfg->kind != LOOM_ATTN_DOT && cfg->attn_dim == 0))
        return LOOM_EARG;
    *d = (loom_decoder){.cfg = *cfg};
    return LOOM_OK;
}

void loom_decoder_release(loom_decoder *d)
{
    loom_free(d->block);
    d->block = NULL;
    d->capacity = 0;
    d->have_forward = 0;
    d->rows = 0;
}

typedef struct carver {
    char *base; /* NULL while measuring */
    size_t used;
    loom_dtype dtype;
} carver;

static void *take(carver *cv, size_t bytes)
{
    void *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (bytes + 63) / 64 * 64;
    return p;
}

static loom_matrix take_matrix(carver *cv, size_t rows, size_t cols)
{
    void *p = take(cv, rows * cols * loom_dtype_size(cv->dtype));
    return cv->dtype == LOOM_F32 ? loom_matrix_wrap_f32(p, rows, cols) : loom_matrix_wrap(p, rows, cols);
}

static loom_attention_shape attention_shape(const loom_decoder *d, size_t rows, size_t src_len)
{
    size_t H = d->cfg.hidden;
    return (loom_attention_shape){d->cfg.kind, rows, src_len, H, H, d->cfg.attn_dim};
}

/* What both modes share: the summed bias, the attention workspace for `rows` queries. */
static void layout_common(loom_decoder *d, carver *cv, size_t rows, size_t src_len)
{
    loom_decoder_work *w = &d->w;
    size_t H = d->cfg.hidden;
    w->bias = take_matrix(cv, 1, 4 * H);
    w->colsum = take_matrix(cv, 1, 4 * H);
    w->attention = NULL;
    if (d->cfg.attention) {
        loom_attention_shape as = attention_shape(d, rows, src_len);
        w->attention = take(cv, loom_attention_workspace(&as) * loom_dtype_size(cv->dtype));
    }
}

static void layout_train(loom_decoder *d, carver *cv, size_t T, size_t B, size_t S)
{
    loom_decoder_work *w = &d->w;
    size_t H = d->cfg.hidden, n = T * B;
    layout_common(d, cv, B, S);
    w->gates = take_matrix(cv, n, 4 * H);
    w->hs = take_matrix(cv, n + B, H);
    w->cs = take_matrix(cv, n + B, H);
    w->tanh_c = take_matrix(cv, n, H);
    w->ctx = take_matrix(cv, d->cfg.attention ? n : 0, H);
    w->dgates = take_matrix(cv, n, 4 * H);
    w->dz = take_matrix(cv, d->cfg.attention ? n : 0, H);
    w->dh = take_matrix(cv, B, H);
    w->dc = take_matrix(cv, B, H);
    w->dfeed = take_matrix(cv, B, H);
    w->dctx = take_matrix(cv, B, H);
    w->dq = take_matrix(cv, B, H);
    w->zeros = take_matrix(cv, B, H);
    w->lengths = take(cv, B * sizeof(size_t));
}

static void layout_decode(loom_decoder *d, carver *cv, size_t R, size_t S)
{
    loom_decoder_work *w = &d->w;
    size_t H = d->cfg.hidden;
    layout_common(d, cv, R, S);
    w->h = take_matrix(cv, R, H);
    w->c = take_matrix(cv, R, H);
    w->feed = take_matrix(cv, R, H);
    w->keys = take_matrix(cv, S * R, H);
    w->x = take_matrix(cv, R, d->cfg.embed);
    w->step_gates = take_matrix(cv, R, 4 * H);
    w->h_new = take_matrix(cv, R, H);
    w->c_new = take_matrix(cv, R, H);
    w->step_tanh_c = take_matrix(cv, R, H);
    w->step_ctx = take_matrix(cv, R, H);
    w->out = take_matrix(cv, R, H);
    w->scratch = take_matrix(cv, R, H);
    w->logprobs = take_matrix(cv, R, d->cfg.vocab);
    w->weights = take_matrix(cv, R, S);
    w->lengths = take(cv, R * sizeof(size_t));
    w->ids = take(cv, R * sizeof(size_t));
    w->done = take(cv, R);
}

/* Lay out the workspace for training (decode = 0: T steps of B) or decoding (R = B rows),
 * growing the block when it is too small. */
static loom_status reserve(loom_decoder *d, int decode, size_t T, size_t B, size_t S)
{
    carver cv = {NULL, 0, d->cfg.dtype};
    if (decode)
        layout_decode(d, &cv, B, S);
    else
        layout_train(d, &cv, T, B, S);
    if (cv.used > d->capacity) {
        loom_free(d->block);
        d->capacity = 0;
        d->block = loom_malloc(cv.used);
        if (!d->block)
            return LOOM_ENOMEM;
        d->capacity = cv.used;
    }
    cv.base = d->block;
    cv.used = 0;
    if (decode)
        layout_decode(d, &cv, B, S);
    else
        layout_train(d, &cv, T, B, S);
    return LOOM_OK;
}

/* ---- small pieces ---- */

/* Rows t*n .. t*n + n - 1 of m. */
static loom_matrix block(const loom_matrix *m, size_t t, size_t n)
{
    loom_matrix v;
    loom_matrix_view(&v, m, t * n, 0, n, m->cols);
    return v;
}

static loom_matrix columns(const loom_matrix *m, size_t c0, size_t cols)
{
    loom_matrix v;
    loom_matrix_view(&v, m, 0, c0, m->rows, cols);
    return v;
}

/* A 4H x 1 bias column as 1 x 4H (it is contiguous). */
static loom_matrix as_row(const loom_matrix *column)
{
    loom_matrix v = *column;
    v.rows = 1;
    v.cols = column->rows;
    v.ld = column->rows ? column->rows : 1;
    return v;
}

/* The split of W_ih = [W_e | W_f] (embedding and fed columns) and combine = [W_ctx | W_h]. */
static loom_matrix w_emb(const loom_decoder_params *p, const loom_decoder *d)
{
    return columns(&p->w_ih, 0, d->cfg.embed);
}

static loom_matrix w_fed(const loom_decoder_params *p, const loom_decoder *d)
{
    return columns(&p->w_ih, d->cfg.embed, d->cfg.hidden);
}

static loom_status sum_biases(loom_decoder *d)
{
    loom_matrix bi = as_row(&d->p.b_ih), bh = as_row(&d->p.b_hh);
    return loom_matrix_binop(&d->w.bias, &bi, LOOM_ADD, &bh);
}

/* Every parameter of the decoder (those decoding needs when decode) has its dtype and shape. */
static int params_ok(const loom_decoder *d, const loom_decoder_params *p, int decode)
{
    size_t E = d->cfg.embed, H = d->cfg.hidden, V = d->cfg.vocab, in = E + (fed(d) ? H : 0);
    const loom_matrix *ms[] = {&p->w_ih, &p->w_hh, &p->b_ih, &p->b_hh, &p->combine, &p->embedding,
                               &p->gen_w, &p->gen_b};
    const size_t shapes[][2] = {{4 * H, in}, {4 * H, H}, {4 * H, 1}, {4 * H, 1}, {H, 2 * H}, {V, E},
                                {V, H}, {V, 1}};
    size_t n = decode ? 8 : 5;
    for (size_t i = 0; i < n; i++) {
        if (i == 4 && !d->cfg.attention)
            continue;
        if (ms[i]->rows != shapes[i][0] || ms[i]->cols != shapes[i][1] || ms[i]->dtype != d->cfg.dtype)
            return 0;
    }
    return loom_is_contiguous(&p->b_ih) && loom_is_contiguous(&p->b_hh);
}

static int shaped(const loom_matrix *m, size_t rows, size_t cols, loom_dtype dtype)
{
    return m->rows == rows && m->cols == cols && m->dtype == dtype;
}

/* o = tanh(ctx W_ctx^T + h W_h^T) (attention) or h. */
static loom_status combine(const loom_decoder *d, loom_matrix *o, const loom_matrix *ctx,
                           const loom_matrix *h)
{
    if (!d->cfg.attention)
        return loom_matrix_copy(o, h);
    size_t H = d->cfg.hidden;
    loom_matrix wc = columns(&d->p.combine, 0, H), wh = columns(&d->p.combine, H, H);
    loom_status st = loom_gemm(o, 1.0, ctx, 0, &wc, 1, 0.0);
    if (st == LOOM_OK)
        st = loom_gemm(o, 1.0, h, 0, &wh, 1, 1.0);
    if (st == LOOM_OK)
        st = loom_activation_forward(o, o, LOOM_ACT_TANH);
    return st;
}

static loom_status attend(loom_decoder *d, loom_matrix *ctx, loom_matrix *weights,
                          const loom_matrix *query, const loom_matrix *keys, size_t src_len)
{
    loom_attention_shape as = attention_shape(d, query->rows, src_len);
    return loom_attention_forward(ctx, weights, d->w.attention, query, keys, d->w.lengths, &d->p.attn, &as);
}

/* ---- teacher forcing ---- */

/* Step t of the forward: gates already hold the embeddings' share. */
static loom_status forward_step(loom_decoder *d, loom_matrix *outs, size_t t)
{
    loom_decoder_work *w = &d->w;
    size_t B = d->batch;
    loom_matrix g = block(&w->gates, t, B), h_prev = block(&w->hs, t, B), c_prev = block(&w->cs, t, B);
    loom_matrix h = block(&w->hs, t + 1, B), c = block(&w->cs, t + 1, B);
    loom_matrix tc = block(&w->tanh_c, t, B), o = block(outs, t, B), wf = w_fed(&d->p, d);
    loom_matrix ctx = d->cfg.attention ? block(&w->ctx, t, B) : o;
    loom_status st = LOOM_OK;
    if (bahdanau(d)) {
        st = attend(d, &ctx, NULL, &h_prev, &d->keys, d->src_len);
        if (st == LOOM_OK)
            st = loom_gemm(&g, 1.0, &ctx, 0, &wf, 1, 1.0);
    } else if (fed(d) && t > 0) {
        loom_matrix o_prev = block(outs, t - 1, B);
        st = loom_gemm(&g, 1.0, &o_prev, 0, &wf, 1, 1.0);
    }
    if (st == LOOM_OK)
        st = loom_gemm(&g, 1.0, &h_prev, 0, &d->p.w_hh, 1, 1.0);
    if (st == LOOM_OK)
        st = loom_lstm_step(&g, &h, &c, &tc, &h_prev, &c_prev, &w->bias);
    if (st == LOOM_OK && luong(d))
        st = attend(d, &ctx, NULL, &h, &d->keys, d->src_len);
    if (st == LOOM_OK)
        st = combine(d, &o, &ctx, &h);
    return st;
}

static int forward_shapes_ok(const loom_decoder *d, const loom_matrix *outs, const loom_matrix *embs,
                             const loom_matrix *h0, const loom_matrix *c0, const loom_matrix *keys,
                             size_t B)
{
    size_t H = d->cfg.hidden, n = embs->rows;
    loom_dtype dt = d->cfg.dtype;
    return B > 0 && n % B == 0 && n > 0 && keys->rows % B == 0 && shaped(embs, n, d->cfg.embed, dt)
           && shaped(outs, n, H, dt) && shaped(h0, B, H, dt) && shaped(c0, B, H, dt)
           && shaped(keys, keys->rows, H, dt) && params_ok(d, &d->p, 0);
}

loom_status loom_decoder_forward(loom_decoder *d, loom_matrix *outs, const loom_matrix *embs,
                                 const loom_matrix *h0, const loom_matrix *c0,
                                 const loom_matrix *keys, const size_t *lengths, size_t batch)
{
    if (!forward_shapes_ok(d, outs, embs, h0, c0, keys, batch))
        return LOOM_EDIM;
    size_t T = embs->rows / batch, S = keys->rows / batch;
    for (size_t b = 0; lengths && b < batch; b++)
        if (lengths[b] > S)
            return LOOM_EARG;
    d->have_forward = 0;
    d->rows = 0;
    loom_status st = reserve(d, 0, T, batch, S);
    if (st != LOOM_OK)
        return st;
    d->steps = T, d->batch = batch, d->src_len = S;
    d->embs = *embs, d->keys = *keys, d->outs = *outs;
    for (size_t b = 0; b < batch; b++)
        d->w.lengths[b] = lengths ? lengths[b] : S;
    loom_matrix h_first = block(&d->w.hs, 0, batch), c_first = block(&d->w.cs, 0, batch);
    loom_matrix we = w_emb(&d->p, d);
    loom_matrix_copy(&h_first, h0);
    loom_matrix_copy(&c_first, c0);
    st = sum_biases(d);
    if (st == LOOM_OK) /* the embeddings' share of every step's gates */
        st = loom_gemm(&d->w.gates, 1.0, embs, 0, &we, 1, 0.0);
    for (size_t t = 0; st == LOOM_OK && t < T; t++)
        st = forward_step(d, outs, t);
    d->have_forward = st == LOOM_OK;
    return st;
}

static loom_status attend_backward(loom_decoder *d, loom_matrix *dkeys, const loom_matrix *dctx,
                                   const loom_matrix *query)
{
    loom_attention_shape as = attention_shape(d, query->rows, d->src_len);
    loom_status st = loom_attention_backward(&d->w.dq, dkeys, &d->g.attn, d->w.attention, dctx, NULL,
                                             query, &d->keys, d->w.lengths, &d->p.attn, &as);
    if (st == LOOM_OK)
        st = loom_matrix_axpy(&d->w.dh, 1.0, &d->w.dq);
    return st;
}

/* From the gradient at o_t (douts[t] plus what the next step fed back) to dh. */
static loom_status output_backward(loom_decoder *d, loom_matrix *dkeys, const loom_matrix *douts, size_t t)
{
    loom_decoder_work *w = &d->w;
    size_t B = d->batch, H = d->cfg.hidden;
    loom_matrix dout = block(douts, t, B);
    if (!d->cfg.attention)
        return loom_matrix_axpy(&w->dh, 1.0, &dout);
    loom_matrix dz = block(&w->dz, t, B), o = block(&d->outs, t, B), h = block(&w->hs, t + 1, B);
    loom_matrix wc = columns(&d->p.combine, 0, H), wh = columns(&d->p.combine, H, H);
    loom_status st = loom_matrix_copy(&dz, &dout);
    if (st == LOOM_OK && fed(d) && !bahdanau(d) && t + 1 < d->steps)
        st = loom_matrix_axpy(&dz, 1.0, &w->dfeed);
    if (st == LOOM_OK)
        st = loom_activation_backward(&dz, &dz, &o, LOOM_ACT_TANH);
    if (st == LOOM_OK)
        st = loom_gemm(&w->dctx, 1.0, &dz, 0, &wc, 0, 0.0);
    if (st == LOOM_OK)
        st = loom_gemm(&w->dh, 1.0, &dz, 0, &wh, 0, 1.0);
    if (st == LOOM_OK && luong(d))
        st = attend_backward(d, dkeys, &w->dctx, &h);
    return st;
}

/* Step t back through the cell: dh, dc at h_t, c_t in; at h_{t-1}, c_{t-1} out. */
static loom_status cell_backward(loom_decoder *d, loom_matrix *dkeys, size_t t)
{
    loom_decoder_work *w = &d->w;
    size_t B = d->batch;
    loom_matrix dg = block(&w->dgates, t, B), g = block(&w->gates, t, B), tc = block(&w->tanh_c, t, B);
    loom_matrix c_prev = block(&w->cs, t, B), h_prev = block(&w->hs, t, B), wf = w_fed(&d->p, d);
    loom_status st = loom_lstm_step_backward(&dg, &w->dh, &w->dc, &w->colsum, &w->zeros, &g, &tc, &c_prev);
    if (st == LOOM_OK)
        st = loom_gemm(&w->dh, 1.0, &dg, 0, &d->p.w_hh, 0, 0.0);
    /* Bahdanau's context also reached the output: dctx holds that share already. */
    if (st == LOOM_OK && fed(d))
        st = loom_gemm(bahdanau(d) ? &w->dctx : &w->dfeed, 1.0, &dg, 0, &wf, 0, bahdanau(d) ? 1.0 : 0.0);
    if (st == LOOM_OK && bahdanau(d))
        st = attend_backward(d, dkeys, &w->dctx, &h_prev);
    return st;
}

/* The weight gradients of all steps at once. */
static loom_status weight_gradients(loom_decoder *d)
{
    loom_decoder_work *w = &d->w;
    size_t B = d->batch, T = d->steps, H = d->cfg.hidden, n = T * B;
    loom_decoder_params *g = &d->g;
    loom_matrix h_in, h_out, ge = w_emb(g, d), gf = w_fed(g, d);
    loom_matrix_view(&h_in, &w->hs, 0, 0, n, H);
    loom_matrix_view(&h_out, &w->hs, B, 0, n, H);
    loom_matrix bi = as_row(&g->b_ih), bh = as_row(&g->b_hh);
    loom_status st = loom_gemm(&g->w_hh, 1.0, &w->dgates, 1, &h_in, 0, 1.0);
    if (st == LOOM_OK)
        st = loom_gemm(&ge, 1.0, &w->dgates, 1, &d->embs, 0, 1.0);
    if (st == LOOM_OK && bahdanau(d))
        st = loom_gemm(&gf, 1.0, &w->dgates, 1, &w->ctx, 0, 1.0);
    if (st == LOOM_OK && fed(d) && !bahdanau(d) && T > 1) { /* o_{t-1} fed into step t */
        loom_matrix dg_late, o_early;
        loom_matrix_view(&dg_late, &w->dgates, B, 0, n - B, 4 * H);
        loom_matrix_view(&o_early, &d->outs, 0, 0, n - B, H);
        st = loom_gemm(&gf, 1.0, &dg_late, 1, &o_early, 0, 1.0);
    }
    if (st == LOOM_OK) /* colsum: the steps' bias gradients, summed by the cell kernel */
        st = loom_matrix_axpy(&bi, 1.0, &w->colsum);
    if (st == LOOM_OK)
        st = loom_matrix_axpy(&bh, 1.0, &w->colsum);
    if (st == LOOM_OK && d->cfg.attention) {
        loom_matrix gc = columns(&g->combine, 0, H), gh = columns(&g->combine, H, H);
        st = loom_gemm(&gc, 1.0, &w->dz, 1, &w->ctx, 0, 1.0);
        if (st == LOOM_OK)
            st = loom_gemm(&gh, 1.0, &w->dz, 1, &h_out, 0, 1.0);
    }
    return st;
}

loom_status loom_decoder_backward(loom_decoder *d, loom_matrix *dembs, loom_matrix *dkeys,
                                  loom_matrix *dh0, loom_matrix *dc0, const loom_matrix *douts)
{
    if (!d->have_forward)
        return LOOM_EARG;
    size_t B = d->batch, n = d->steps * B, H = d->cfg.hidden;
    loom_dtype dt = d->cfg.dtype;
    if (!shaped(dembs, n, d->cfg.embed, dt) || !shaped(dkeys, d->keys.rows, H, dt)
        || !shaped(dh0, B, H, dt) || !shaped(dc0, B, H, dt) || !shaped(douts, n, H, dt)
        || !params_ok(d, &d->g, 0))
        return LOOM_EDIM;
    loom_decoder_work *w = &d->w;
    loom_matrix_fill(&w->dh, 0.0);
    loom_matrix_fill(&w->dc, 0.0);
    loom_matrix_fill(&w->colsum, 0.0);
    loom_matrix_fill(&w->zeros, 0.0);
    loom_status st = LOOM_OK;
    for (size_t t = d->steps; st == LOOM_OK && t-- > 0;) {
        st = output_backward(d, dkeys, douts, t);
        if (st == LOOM_OK)
            st = cell_backward(d, dkeys, t);
    }
    loom_matrix we = w_emb(&d->p, d);
    if (st == LOOM_OK)
        st = weight_gradients(d);
    if (st == LOOM_OK)
        st = loom_gemm(dembs, 1.0, &w->dgates, 0, &we, 0, 0.0);
    if (st == LOOM_OK)
        st = loom_matrix_copy(dh0, &w->dh);
    if (st == LOOM_OK)
        st = loom_matrix_copy(dc0, &w->dc);
    return st;
}

/* ---- decoding ---- */

/* Row r of dst = row of src for r's sequence (r / beam). */
static void replicate(loom_matrix *dst, const loom_matrix *src, size_t beam)
{
    for (size_t r = 0; r < dst->rows; r++) {
        loom_matrix to = block(dst, r, 1), from = block(src, r / beam, 1);
        loom_matrix_copy(&to, &from);
    }
}

loom_status loom_decoder_start(loom_decoder *d, const loom_matrix *keys, const size_t *lengths,
                               const loom_matrix *h0, const loom_matrix *c0, size_t beam)
{
    size_t B = h0->rows, H = d->cfg.hidden;
    loom_dtype dt = d->cfg.dtype;
    if (beam == 0 || B == 0 || keys->rows % B != 0 || keys->rows == 0 || !shaped(h0, B, H, dt)
        || !shaped(c0, B, H, dt) || !shaped(keys, keys->rows, H, dt) || !params_ok(d, &d->p, 1))
        return LOOM_EDIM;
    if (B > LOOM_MAX_DIM / beam || keys->rows > LOOM_MAX_DIM / beam)
        return LOOM_ERANGE;
    size_t S = keys->rows / B, R = B * beam;
    for (size_t b = 0; lengths && b < B; b++)
        if (lengths[b] > S)
            return LOOM_EARG;
    d->have_forward = 0;
    d->rows = 0;
    loom_status st = reserve(d, 1, 1, R, S);
    if (st != LOOM_OK)
        return st;
    loom_decoder_work *w = &d->w;
    replicate(&w->h, h0, beam);
    replicate(&w->c, c0, beam);
    loom_matrix_fill(&w->feed, 0.0);
    for (size_t s = 0; s < S; s++) {
        loom_matrix to = block(&w->keys, s, R), from = block(keys, s, B);
        replicate(&to, &from, beam);
    }
    for (size_t r = 0; r < R; r++)
        w->lengths[r] = lengths ? lengths[r / beam] : S;
    d->rows = R, d->beam = beam, d->src_len = S;
    return sum_biases(d);
}

/* The cell's input x = the embeddings of ids, and its gates without biases. */
static loom_status step_gates(loom_decoder *d, const size_t *ids)
{
    loom_decoder_work *w = &d->w;
    loom_matrix we = w_emb(&d->p, d), wf = w_fed(&d->p, d);
    for (size_t r = 0; r < d->rows; r++) {
        if (ids[r] < 1 || ids[r] > d->cfg.vocab)
            return LOOM_EARG;
        loom_matrix to = block(&w->x, r, 1), from = block(&d->p.embedding, ids[r] - 1, 1);
        loom_matrix_copy(&to, &from);
    }
    loom_status st = loom_gemm(&w->step_gates, 1.0, &w->x, 0, &we, 1, 0.0);
    if (st == LOOM_OK && bahdanau(d)) {
        st = attend(d, &w->step_ctx, &w->weights, &w->h, &w->keys, d->src_len);
        if (st == LOOM_OK)
            st = loom_gemm(&w->step_gates, 1.0, &w->step_ctx, 0, &wf, 1, 1.0);
    } else if (st == LOOM_OK && fed(d)) {
        st = loom_gemm(&w->step_gates, 1.0, &w->feed, 0, &wf, 1, 1.0);
    }
    if (st == LOOM_OK)
        st = loom_gemm(&w->step_gates, 1.0, &w->h, 0, &d->p.w_hh, 1, 1.0);
    return st;
}

loom_status loom_decoder_step(loom_decoder *d, const size_t *ids)
{
    if (d->rows == 0)
        return LOOM_EARG;
    loom_decoder_work *w = &d->w;
    loom_status st = step_gates(d, ids);
    if (st == LOOM_OK)
        st = loom_lstm_step(&w->step_gates, &w->h_new, &w->c_new, &w->step_tanh_c, &w->h, &w->c, &w->bias);
    if (st == LOOM_OK)
        st = loom_matrix_copy(&w->h, &w->h_new);
    if (st == LOOM_OK)
        st = loom_matrix_copy(&w->c, &w->c_new);
    if (st == LOOM_OK && luong(d))
        st = attend(d, &w->step_ctx, &w->weights, &w->h, &w->keys, d->src_len);
    if (st == LOOM_OK)
        st = combine(d, &w->out, &w->step_ctx, &w->h);
    if (st == LOOM_OK && fed(d) && !bahdanau(d))
        st = loom_matrix_copy(&w->feed, &w->out);
    if (st == LOOM_OK)
        st = loom_linear_forward(&w->logprobs, &w->out, &d->p.gen_w, &d->p.gen_b);
    if (st == LOOM_OK)
        st = loom_log_softmax_forward(&w->logprobs, &w->logprobs);
    return st;
}

/* m's rows in the order parents gives, through the scratch rows. */
static loom_status gather(loom_matrix *m, loom_matrix *scratch, const size_t *parents)
{
    loom_status st = loom_matrix_gather_rows(scratch, m, parents, m->rows);
    return st == LOOM_OK ? loom_matrix_copy(m, scratch) : st;
}

loom_status loom_decoder_reorder(loom_decoder *d, const size_t *parents)
{
    if (d->rows == 0)
        return LOOM_EARG;
    loom_decoder_work *w = &d->w;
    loom_status st = gather(&w->h, &w->scratch, parents);
    if (st == LOOM_OK)
        st = gather(&w->c, &w->scratch, parents);
    if (st == LOOM_OK && fed(d) && !bahdanau(d))
        st = gather(&w->feed, &w->scratch, parents);
    return st;
}

/* The first most likely token of row r (1-based). */
static size_t argmax_row(const loom_matrix *lp, size_t r)
{
    size_t best = 0;
    double top = loom_get(lp, r, 0);
    for (size_t v = 1; v < lp->cols; v++) {
        double x = loom_get(lp, r, v);
        if (x > top)
            top = x, best = v;
    }
    return best + 1;
}

loom_status loom_decoder_greedy(loom_decoder *d, size_t *ids, size_t *lens, size_t *steps,
                                loom_matrix *weights, const size_t *limits, size_t bos,
                                size_t eos)
{
    size_t B = d->rows, max_len = 0, left = B, t = 0;
    if (B == 0 || d->beam != 1)
        return LOOM_EARG;
    for (size_t b = 0; b < B; b++)
        max_len = limits[b] > max_len ? limits[b] : max_len;
    if (weights && (!shaped(weights, max_len * B, d->src_len, d->cfg.dtype) || !d->cfg.attention))
        return LOOM_EDIM;
    size_t *next = d->w.ids;
    for (size_t b = 0; b < B; b++) {
        next[b] = bos;
        lens[b] = 0;
        d->w.done[b] = 0;
        for (size_t i = 0; i < max_len; i++)
            ids[b * max_len + i] = 0;
    }
    loom_status st = LOOM_OK;
    for (; st == LOOM_OK && t < max_len && left > 0; t++) {
        st = loom_decoder_step(d, next);
        if (st == LOOM_OK && weights) {
            loom_matrix to = block(weights, t, B);
            st = loom_matrix_copy(&to, &d->w.weights);
        }
        for (size_t b = 0; st == LOOM_OK && b < B; b++) {
            next[b] = argmax_row(&d->w.logprobs, b);
            if (d->w.done[b])
                continue;
            if (next[b] == eos || lens[b] >= limits[b]) {
                d->w.done[b] = 1;
                left--;
            } else {
                ids[b * max_len + lens[b]++] = next[b];
            }
        }
    }
    *steps = t;
    return st;
}

loom_status loom_decoder_beam(loom_decoder *d, loom_beam *bm)
{
    if (d->rows == 0 || bm->batch * bm->beam != d->rows || bm->vocab != d->cfg.vocab)
        return LOOM_EARG;
    int done = loom_beam_begin_step(bm);
    loom_status st = LOOM_OK;
    while (st == LOOM_OK && !done) {
        st = loom_decoder_step(d, bm->ids);
        if (st == LOOM_OK)
            st = loom_beam_advance(bm, &d->w.logprobs, &done);
        if (st == LOOM_OK && !done)
            st = loom_decoder_reorder(d, bm->parents);
        if (st == LOOM_OK && !done)
            done = loom_beam_begin_step(bm);
    }
    return st;
}
