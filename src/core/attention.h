/* attention.h: one attention step of a decoder over time-major encoder states: Luong dot,
 * general and concat scores and Bahdanau's additive score, with masked softmax, in float64
 * and float32. Not the decoder or the Lua module (src/core/decoder.c, src/bind/attention.c). */
#ifndef LOOM_ATTENTION_H
#define LOOM_ATTENTION_H

#include "loom.h"

typedef enum loom_attention_kind {
    LOOM_ATTN_DOT,      /* score = q . k                          (Hq == Hk)        */
    LOOM_ATTN_GENERAL,  /* score = (W q) . k                      W  Hk x Hq        */
    LOOM_ATTN_CONCAT,   /* score = v . tanh(W [q; k])             W  A x (Hq + Hk)  */
    LOOM_ATTN_BAHDANAU  /* score = v . tanh(W q + b + U k)        W  A x Hq, U A x Hk */
} loom_attention_kind;

/* Sizes of one call: B queries, S source positions, query, key and attention widths. */
typedef struct loom_attention_shape {
    loom_attention_kind kind;
    size_t batch, src_len, query_dim, key_dim, attn_dim; /* attn_dim: concat, bahdanau */
} loom_attention_shape;

/* Parameters or their gradients (views); those a kind does not use are ignored.
 *   w: general Hk x Hq; concat A x (Hq + Hk); bahdanau A x Hq
 *   u: bahdanau A x Hk;  b: bahdanau A x 1;  v: concat, bahdanau 1 x A */
typedef struct loom_attention_params {
    loom_matrix w, u, b, v;
} loom_attention_params;

/* Elements of workspace forward and backward need for this shape, of the matrices' dtype
 * (doubles for float64, floats for float32); the caller owns it. */
size_t loom_attention_workspace(const loom_attention_shape *s);

/* context (B x Hk) = sum_s a[b,s] keys[s*B + b], weights (B x S, may be NULL) = a, the
 * softmax of the scores over s < lengths[b] (all S when lengths is NULL; 0 past the end; a
 * row of length 0 gets zero weights and a zero context).
 * query is B x Hq, keys (S*B) x Hk time-major (row s*B + b is position s of sequence b).
 * Every matrix (and every parameter the kind uses) shares one dtype: LOOM_EARG otherwise. */
loom_status loom_attention_forward(loom_matrix *context, loom_matrix *weights, void *work,
                                   const loom_matrix *query, const loom_matrix *keys,
                                   const size_t *lengths, const loom_attention_params *p,
                                   const loom_attention_shape *s);

/* Gradients of one forward call (recomputed from the inputs, nothing kept between calls):
 * dquery (B x Hq) is overwritten, dkeys ((S*B) x Hk) and grads accumulate. dweights
 * (B x S) may be NULL (only the context receives gradient). One dtype, as forward. */
loom_status loom_attention_backward(loom_matrix *dquery, loom_matrix *dkeys,
                                    loom_attention_params *grads, void *work,
                                    const loom_matrix *dcontext, const loom_matrix *dweights,
                                    const loom_matrix *query, const loom_matrix *keys,
                                    const size_t *lengths, const loom_attention_params *p,
                                    const loom_attention_shape *s);

#endif
