/* nn.h: neural-network kernels: linear layers, activations, softmax, losses, dropout,
 * embeddings and optimiser updates. Not modules or containers (src/bind/nn.c, lua/loom/nn). */
#ifndef LOOM_NN_H
#define LOOM_NN_H

#include "loom.h"

/* Every backward kernel ACCUMULATES into parameter gradients (dweight, dbias) and
 * OVERWRITES the input gradient dx, like PyTorch's autograd with a fresh input. */

/* ---- linear: out = x W^T + b ---- */
/* x is B x I, weight is O x I, bias is O x 1 or NULL, out is B x O (must not overlap x). */
loom_status loom_linear_forward(loom_matrix *out, const loom_matrix *x, const loom_matrix *weight,
                                const loom_matrix *bias);
loom_status loom_linear_forward_naive(loom_matrix *out, const loom_matrix *x,
                                      const loom_matrix *weight, const loom_matrix *bias);
/* dout is B x O, x is B x I, weight is O x I. dx (B x I, or NULL) = dout W;
 * dweight (O x I) += dout^T x; dbias (O x 1, or NULL) += column sums of dout. */
loom_status loom_linear_backward(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                 const loom_matrix *dout, const loom_matrix *x,
                                 const loom_matrix *weight);
loom_status loom_linear_backward_naive(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                       const loom_matrix *dout, const loom_matrix *x,
                                       const loom_matrix *weight);

/* ---- elementwise activations ---- */
typedef enum loom_activation { LOOM_ACT_SIGMOID, LOOM_ACT_TANH, LOOM_ACT_RELU } loom_activation;
/* out = f(x), all the same shape; out may alias x. */
loom_status loom_activation_forward(loom_matrix *out, const loom_matrix *x, loom_activation act);
/* dx = dout * f'(x), with f' written through y = f(x) (sigmoid y(1-y), tanh 1-y^2, relu
 * [y > 0]); dx, dout and y share one shape; dx may alias dout. */
loom_status loom_activation_backward(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y,
                                     loom_activation act);

/* ---- softmax over each row ---- */
/* x and out are B x C; out may alias x. Max-shifted, so large logits do not overflow. */
loom_status loom_softmax_forward(loom_matrix *out, const loom_matrix *x);
loom_status loom_log_softmax_forward(loom_matrix *out, const loom_matrix *x);
/* y is the forward output. softmax: dx = y (dout - <dout, y>_row);
 * log-softmax: dx = dout - exp(y) sum_row(dout). dx may alias dout. */
loom_status loom_softmax_backward(loom_matrix *dx, const loom_matrix *dout, const loom_matrix *y);
loom_status loom_log_softmax_backward(loom_matrix *dx, const loom_matrix *dout,
                                      const loom_matrix *y);

/* ---- losses: *loss gets the reduced value; dpred (pred's shape, or NULL) gets d loss/d pred ---- */
typedef enum loom_reduction { LOOM_REDUCTION_MEAN, LOOM_REDUCTION_SUM } loom_reduction;
/* (pred - target)^2; pred and target share one shape. */
loom_status loom_mse_loss(double *loss, loom_matrix *dpred, const loom_matrix *pred,
                          const loom_matrix *target, loom_reduction reduction);
/* -(t log p + (1 - t) log(1 - p)), each log clamped at -100 and the gradient's denominator
 * p(1 - p) at 1e-12, as PyTorch does; prob and target share one shape. */
loom_status loom_bce_loss(double *loss, loom_matrix *dpred, const loom_matrix *prob,
                          const loom_matrix *target, loom_reduction reduction);
/* BCE of sigmoid(x) computed stably: max(x, 0) - x t + log1p(exp(-|x|)); d/dx = sigmoid(x) - t. */
loom_status loom_bce_logits_loss(double *loss, loom_matrix *dpred, const loom_matrix *logits,
                                 const loom_matrix *target, loom_reduction reduction);
/* Cross-entropy from logits (B x C) and target (B x 1) of 1-based class ids. Rows whose
 * target equals ignore_index (when use_ignore) count for nothing; "mean" divides by the
 * rows counted (NaN when none, as in PyTorch). *bad_row gets the first row whose target is
 * not a class id (LOOM_EARG); pass NULL when not wanted. */
typedef struct loom_ce_options {
    loom_reduction reduction;
    int use_ignore;
    double ignore_index;
} loom_ce_options;
loom_status loom_cross_entropy_loss(double *loss, loom_matrix *dlogits, const loom_matrix *logits,
                                    const loom_matrix *target, const loom_ce_options *options,
                                    size_t *bad_row);
/* The composition log_softmax -> pick -> reduce, kept as the reference of the fused kernel. */
loom_status loom_cross_entropy_loss_naive(double *loss, loom_matrix *dlogits,
                                          const loom_matrix *logits, const loom_matrix *target,
                                          const loom_ce_options *options);

/* ---- dropout ---- */
/* mask (x's shape) gets 0 with probability p, else 1 / (1 - p); out = x * mask. 0 <= p <= 1.
 * out may alias x. The backward pass is dx = dout * mask (loom_matrix_binop). */
loom_status loom_dropout_forward(loom_matrix *out, loom_matrix *mask, const loom_matrix *x,
                                 double p, loom_rng *rng);

/* ---- embedding ---- */
/* ids is any shape holding 1-based ids in 1..vocab; weight is vocab x D; out is numel(ids) x D,
 * row k the embedding of the k-th id in row-major order (so a T x B id matrix gives the
 * time-major T*B rows of loom's sequences). *bad gets the position of an invalid id. */
loom_status loom_embedding_forward(loom_matrix *out, const loom_matrix *ids,
                                   const loom_matrix *weight, size_t *bad);
/* dweight (vocab x D) row id += dout row k; rows of padding_id (1-based, 0 = none) skipped. */
loom_status loom_embedding_backward(loom_matrix *dweight, const loom_matrix *dout,
                                    const loom_matrix *ids, size_t padding_id);

/* ---- optimiser updates: one parameter per call, state in caller-owned matrices ---- */
typedef struct loom_sgd_config {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
} loom_sgd_config;
/* PyTorch's SGD: g = grad + wd param; with momentum, buf = g on the first step (first != 0),
 * else buf = momentum buf + (1 - dampening) g; the step is g + momentum buf (Nesterov) or
 * buf. velocity may be NULL when momentum is 0. All matrices share param's shape. */
loom_status loom_sgd_step(loom_matrix *param, loom_matrix *velocity, const loom_matrix *grad,
                          const loom_sgd_config *config, int first);

typedef struct loom_adam_config {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled; /* AdamW: param *= 1 - lr wd, instead of adding wd param to the gradient */
} loom_adam_config;
/* PyTorch's Adam/AdamW; step is the 1-based count including this update. m and v are the
 * first and second moment estimates, zero before the first step; all share param's shape. */
loom_status loom_adam_step(loom_matrix *param, loom_matrix *m, loom_matrix *v,
                           const loom_matrix *grad, const loom_adam_config *config, uint64_t step);
loom_status loom_adam_step_naive(loom_matrix *param, loom_matrix *m, loom_matrix *v,
                                 const loom_matrix *grad, const loom_adam_config *config,
                                 uint64_t step);

#endif
