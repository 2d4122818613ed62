/* conv.h: 1-D convolution and pooling over time for time-major sequence batches (im2col and
 * one matrix product, with naive references), in float64 and float32: the operands of one
 * call share a dtype (LOOM_EARG otherwise). Not the modules (src/bind/conv.c, loom.nn). */
#ifndef LOOM_CONV_H
#define LOOM_CONV_H

#include "loom.h"

/* A batch of `batch` sequences of `steps` steps with `channels` features is one matrix of
 * steps*batch rows and `channels` columns, time-major (row t*batch + b is step t of sequence
 * b), as loom's RNNs take it. Outputs use the same layout with out_steps(...) steps. */
typedef struct loom_conv1d_geometry {
    size_t batch, steps;     /* B, T of the input */
    size_t in, out;          /* channels in (C) and out (O) */
    size_t kernel, stride, padding, dilation;
} loom_conv1d_geometry;

/* floor((steps + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, PyTorch's output
 * length; 0 when the (dilated) kernel is longer than the padded input or stride is 0. */
size_t loom_conv1d_out_steps(size_t steps, size_t kernel, size_t stride, size_t padding,
                             size_t dilation);

/* cols ((T_out*B) x (C*K)): row t*B + b, column c*K + k holds x[(t*stride - padding +
 * k*dilation)*B + b, c], or 0 outside 0..T-1. The column order is PyTorch's (O, C, K)
 * weight order, so the weight is O x (C*K) and the product below is the convolution. */
loom_status loom_conv1d_im2col(loom_matrix *cols, const loom_matrix *x, const loom_conv1d_geometry *g);
/* The adjoint of im2col: dx ((T*B) x C) += the entries of dcols scattered back. */
loom_status loom_conv1d_col2im(loom_matrix *dx, const loom_matrix *dcols, const loom_conv1d_geometry *g);

/* y ((T_out*B) x O) = im2col(x) W^T + b: x is (T*B) x C, weight O x (C*K), bias O x 1 or
 * NULL; cols ((T_out*B) x (C*K)) is the workspace, left holding im2col(x) for backward. */
loom_status loom_conv1d_forward(loom_matrix *y, loom_matrix *cols, const loom_matrix *x,
                                const loom_matrix *weight, const loom_matrix *bias,
                                const loom_conv1d_geometry *g);
/* The direct sum over channels and taps, for tests: in double for both dtypes, rounded once
 * per output. */
loom_status loom_conv1d_forward_naive(loom_matrix *y, const loom_matrix *x, const loom_matrix *weight,
                                      const loom_matrix *bias, const loom_conv1d_geometry *g);
/* dy is (T_out*B) x O and cols what forward left. dweight (O x C*K) += dy^T cols; dbias
 * (O x 1, or NULL) += column sums of dy; dx ((T*B) x C, or NULL) is OVERWRITTEN with the
 * input gradient, going through dcols ((T_out*B) x (C*K), needed when dx is). */
loom_status loom_conv1d_backward(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                 loom_matrix *dcols, const loom_matrix *dy, const loom_matrix *cols,
                                 const loom_matrix *weight, const loom_conv1d_geometry *g);
loom_status loom_conv1d_backward_naive(loom_matrix *dx, loom_matrix *dweight, loom_matrix *dbias,
                                       const loom_matrix *dy, const loom_matrix *x,
                                       const loom_matrix *weight, const loom_conv1d_geometry *g);

/* ---- pooling over time (no padding; PyTorch's MaxPool1d / AvgPool1d defaults) ---- */
typedef enum loom_pool_kind { LOOM_POOL_MAX, LOOM_POOL_AVG } loom_pool_kind;
/* x is (T*B) x C, y is (T_out*B) x C with T_out = out_steps(T, kernel, stride, 0, 1). For
 * max pooling, where (same shape and dtype as y, or NULL for average) receives the input
 * step (0-based, as a number of x's dtype: exact to 2^24 steps in float32) of each maximum;
 * ties go to the earliest step, as in PyTorch. */
loom_status loom_pool1d_forward(loom_matrix *y, loom_matrix *where, const loom_matrix *x,
                                loom_pool_kind kind, size_t batch, size_t kernel, size_t stride);
/* dx ((T*B) x C) is OVERWRITTEN: each dy entry goes to its maximum (max) or is spread evenly
 * over its window (average). */
loom_status loom_pool1d_backward(loom_matrix *dx, const loom_matrix *dy, const loom_matrix *where,
                                 loom_pool_kind kind, size_t batch, size_t kernel, size_t stride);

#endif
