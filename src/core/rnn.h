/* rnn.h: fused recurrent sequence layers (RNN tanh/relu, LSTM, GRU): forward and BPTT over a
 * whole time-major batch, variable lengths, several layers, both directions. Not Lua. */
#ifndef LOOM_RNN_H
#define LOOM_RNN_H

#include "loom.h"
#include "smm.h"

typedef enum loom_rnn_kind { LOOM_RNN_TANH, LOOM_RNN_RELU, LOOM_LSTM, LOOM_GRU } loom_rnn_kind;

/* Gate blocks per kind: RNN 1, LSTM 4 (i, f, g, o), GRU 3 (r, z, n), PyTorch's order. */
size_t loom_rnn_gate_count(loom_rnn_kind kind);
const char *loom_rnn_kind_name(loom_rnn_kind kind); /* "RNN_TANH", "LSTM", ... */

/* What runs the per-step recurrent products (B x H by H x G*H forward, B x G*H by G*H x H
 * backward): libxsmm's JIT kernels (fast while W_hh fits the caches) or BLAS. AUTO picks
 * by the size of W_hh (loom_rnn_gemm_choice). */
typedef enum loom_rnn_gemm { LOOM_RNN_GEMM_AUTO, LOOM_RNN_GEMM_BLAS, LOOM_RNN_GEMM_XSMM } loom_rnn_gemm;
const char *loom_rnn_gemm_name(loom_rnn_gemm gemm); /* "auto", "blas", "xsmm" */

typedef struct loom_rnn_config {
    loom_rnn_kind kind;
    size_t input, hidden; /* I, H */
    size_t layers;        /* >= 1 */
    int bidirectional;
    double dropout;       /* on the inputs of layers 2.. while training, in [0, 1) */
    loom_rnn_gemm gemm;   /* asked for; AUTO (0) when left out */
} loom_rnn_config;

/* What AUTO chooses for hidden size H, G gates and dtype: XSMM while W_hh (G*H x H) takes at
 * most 2 MiB (over 1 MiB two threads split its columns, and one thread runs BLAS), BLAS
 * above (tests/bench/rnn.lua measures both). */
loom_rnn_gemm loom_rnn_gemm_choice(size_t hidden, size_t gates, loom_dtype dtype);

/* Tests only: 0 keeps a layer's loop from starting a thread of its own when OpenBLAS's pool
 * is not there (loom_blas_allow_pool), as if pthread_create failed; 1 (the default) allows. */
void loom_rnn_allow_threads(int on);

/* Where the time of forward and backward goes, when profiling is on (loom_rnn_profile). */
typedef enum loom_rnn_phase {
    LOOM_RNN_INPUT_PROJECTION,   /* the one gemm of all steps' inputs, per layer */
    LOOM_RNN_RECURRENT,          /* the per-step products W_hh h */
    LOOM_RNN_GATES,              /* the fused forward kernels */
    LOOM_RNN_GATES_BACKWARD,     /* the fused backward kernels */
    LOOM_RNN_RECURRENT_BACKWARD, /* the per-step products dG W_hh */
    LOOM_RNN_WEIGHT_GRADIENTS,   /* dW_ih, dW_hh and the bias sums, one gemm each */
    LOOM_RNN_INPUT_GRADIENT,     /* dX */
    LOOM_RNN_OTHER,              /* copies, setup, dropout */
    LOOM_RNN_PHASES
} loom_rnn_phase;
const char *loom_rnn_phase_name(loom_rnn_phase phase); /* "input_projection", ... */

typedef struct loom_rnn_profile {
    int on;
    double seconds[LOOM_RNN_PHASES];
    double mark; /* the clock at the last phase boundary */
    unsigned long forwards, backwards;
} loom_rnn_profile;

/* The parameters of one layer in one direction, views into the layer's one allocation.
 * G = gate count; in = I for layer 0, H * dirs above. Biases are G*H x 1 columns. */
typedef struct loom_rnn_params {
    loom_matrix w_ih; /* G*H x in */
    loom_matrix w_hh; /* G*H x H */
    loom_matrix b_ih; /* G*H x 1 */
    loom_matrix b_hh; /* G*H x 1 */
} loom_rnn_params;

/* The workspace: every activation BPTT needs, carved from one block that grows to the
 * largest T*B seen and is reused after that (no allocation per step or per call). */
typedef struct loom_rnn_work {
    double *block;
    size_t capacity; /* bytes in block */
    size_t steps, batch; /* T, B of the last forward */
    int have_forward;    /* backward needs a forward with the activations it kept */
    int dropped;         /* the last forward applied dropout masks */
    size_t *lengths;     /* B entries, points into block */
    unsigned char *valid; /* T*B flags: step t of sequence b exists, points into block */
    double *x;           /* T*B x I: copy of the input of layer 0 */
    double **out;        /* per layer: T*B x H*dirs outputs (zero past each end) */
    double **mask;       /* per layer >= 1: T*B x H*dirs dropout masks scaled by 1/(1-p) */
    double **xin;        /* per layer: its input (x, out[l-1] or the dropped copy) */
    double **gates;      /* per layer*dir: T*B x G*H gate activations */
    double **h;          /* per layer*dir: (T+1)*B x H states, see rnn.c */
    double **c;          /* per layer*dir: (T+1)*B x H LSTM cells */
    double **hn;         /* per layer*dir: T*B x H, GRU: W_hn h + b_hn */
    double **tanh_c;     /* per layer*dir: T*B x H, LSTM: tanh of the cell after each step */
    double *dgates;      /* T*B x G*H: gradient at the gate pre-activations (input side) */
    double *dgates_h;    /* T*B x G*H: GRU only, gradient at the hidden-side projections */
    double *dy[2];       /* T*B x H*dirs each: gradient of a layer output, ping-pong */
    double *carry_h;     /* B x H */
    double *carry_c;     /* B x H */
    double *step;        /* B x G*H: GRU recurrent projection of one step */
    double *bias;        /* G*H + H: the summed biases the step kernels add; backward's
                          * bias gradient sums (G*H, then GRU's b_hn) */
    double *zeros;       /* H zeros: the output gradient of a backward without dout */
    double *wgrad;       /* (in + H) x G*H: one unit's weight gradients transposed (rnn.c) */
    double *xh;          /* T*B x (in + H): rows [x_t | h_prev] for one product (not GRU) */
    double **wt;         /* per layer*dir: H x G*H W_hh^T, then in x G*H W_ih^T (JIT kernels) */
    double **ptrs;       /* the pointer arrays above, one allocation */
    size_t parts;         /* the batch rows run in this many parts (rnn.c), 1 or 2 */
    int columns;          /* the parts split W_hh's columns instead (rnn.c, "rows in parallel") */
    loom_smm *smm_forward, *smm_backward; /* RNN_MAX_PARTS per layer*dir (one per part) */
    loom_smm *smm_input; /* same: each step's input projection in the loop (rnn.c) */
} loom_rnn_work;

typedef struct loom_rnn {
    loom_rnn_config cfg;
    size_t dirs, gates;          /* 1 or 2; G */
    loom_dtype dtype;            /* of the parameters, gradients and workspace */
    double *values, *grads;      /* count doubles each, owned (float64 layers) */
    float *values32, *grads32;   /* count floats each, owned (float32 layers) */
    size_t count;
    loom_rnn_params *params;     /* layers*dirs, index layer*dirs + dir, owned */
    loom_rnn_params *grad;       /* same shapes, views into grads */
    loom_rnn_work work;
    int training;
    loom_rnn_gemm gemm;          /* BLAS or XSMM: what runs the per-step products */
    loom_rnn_profile profile;
} loom_rnn;

/* Build an RNN with parameters uniform in [-1/sqrt(H), 1/sqrt(H)] (PyTorch's default).
 * LOOM_EARG for zero sizes, layers == 0, dropout outside [0, 1) or an unknown gemm. On
 * failure nothing is left allocated. Release with loom_rnn_release (safe twice). */
loom_status loom_rnn_init(loom_rnn *r, const loom_rnn_config *cfg, loom_rng *rng);
void loom_rnn_release(loom_rnn *r);
/* Convert the parameters and gradients to dtype (values rounded for float32); the params
 * and grad views are carved anew, the last forward is forgotten. Forward and backward then
 * take matrices of that dtype only (LOOM_EARG otherwise); float32 runs float twins of the
 * fused kernels and sgemm. The old storage is handed to the caller (*old_values,
 * *old_grads, NULL when nothing changed), who frees it with loom_free once no view of it
 * is left. LOOM_ENOMEM leaves the layer as it was. */
loom_status loom_rnn_to(loom_rnn *r, loom_dtype dtype, void **old_values, void **old_grads);

/* Forward over a batch. x is T*B x I time-major (row (t-1)*B + b is step t of sequence b);
 * lengths: B entries in 1..T, or NULL when all are T; h0, c0: layers*dirs*B x H or NULL for
 * zeros (c0 only for LSTM). out: T*B x H*dirs, zero at steps past a sequence's end; h_t,
 * c_t (may be NULL): the states at each sequence's own last step, layers*dirs*B x H. rng
 * draws the dropout masks (needed when training with dropout and layers > 1). The
 * activations stay in the workspace for loom_rnn_backward. */
loom_status loom_rnn_forward(loom_rnn *r, loom_matrix *out, loom_matrix *h_t, loom_matrix *c_t,
                             const loom_matrix *x, size_t batch, const size_t *lengths,
                             const loom_matrix *h0, const loom_matrix *c0, loom_rng *rng);

/* BPTT through the last forward. dout: T*B x H*dirs or NULL; dh_t, dc_t: layers*dirs*B x H
 * or NULL (gradients arriving at the final states). Accumulates into the parameter
 * gradients; writes dx (T*B x I, may be NULL to skip it) and dh0, dc0 (layers*dirs*B x H,
 * may be NULL). Gradients at steps past a sequence's end are ignored and dx is zero there. */
loom_status loom_rnn_backward(loom_rnn *r, loom_matrix *dx, loom_matrix *dh0, loom_matrix *dc0,
                              const loom_matrix *dout, const loom_matrix *dh_t,
                              const loom_matrix *dc_t);

/* Profiling: on resets the counters and times every phase of the following forward and
 * backward calls into r->profile (a clock read at each phase boundary, a few per step);
 * off stops. */
void loom_rnn_profile_switch(loom_rnn *r, int on);

/* The gate activations of step t (1-based) of layer, dir from the last forward: B x G*H
 * view into the workspace (valid until the next forward). */
loom_status loom_rnn_gates_view(loom_matrix *view, const loom_rnn *r, size_t layer, size_t dir,
                                size_t t);

/* The LSTM cell states of the last forward for layer, dir: T*B x H view into the workspace,
 * time-major, row (t-1)*B + b the cell of sequence b after step t (past a sequence's end it
 * stays at its last step's value). Valid until the next forward. LOOM_EARG for a layer that
 * is not an LSTM, before a forward, or layer/dir out of range. */
loom_status loom_rnn_cells_view(loom_matrix *view, const loom_rnn *r, size_t layer, size_t dir);

/* Naive references: one step of one cell in plain loops, the definition the fused kernels
 * are tested against. x is B x I, h_prev/c_prev B x H, p one layer's parameters; h_new,
 * c_new B x H; gates (may be NULL) B x G*H receives the activations. */
loom_status loom_rnn_step_naive(loom_rnn_kind kind, loom_matrix *h_new, loom_matrix *c_new,
                                loom_matrix *gates, const loom_matrix *x,
                                const loom_matrix *h_prev, const loom_matrix *c_prev,
                                const loom_rnn_params *p);

/* One LSTM step on caller-owned buffers, for decoders that run other work between steps
 * (src/core/decoder.c): the fused gate kernels of the layers above. gates: B x 4H, the
 * pre-activations x W_ih^T + h_prev W_hh^T without biases in, the activations (i, f, g,
 * o) out; bias: 4H contiguous, b_ih + b_hh; h_new, c_new, tanh_c (tanh of c_new, for the
 * backward), h_prev, c_prev: B x H. One dtype; LOOM_EDIM on any other shape or dtype. */
loom_status loom_lstm_step(loom_matrix *gates, loom_matrix *h_new, loom_matrix *c_new,
                           loom_matrix *tanh_c, const loom_matrix *h_prev,
                           const loom_matrix *c_prev, const loom_matrix *bias);
/* Its backward: dh (B x H) the gradient at h_new in, zeros out; dy (B x H) more gradient
 * at h_new, read only (the layers' output gradient; zeros where there is none); dc (B x H)
 * the gradient at c_new in, at c_prev out; dgates (B x 4H) the gradient at the
 * pre-activations; dbias (4H, contiguous) gains dgates' column sums, the bias gradient.
 * gates and tanh_c as the forward step left them. */
loom_status loom_lstm_step_backward(loom_matrix *dgates, loom_matrix *dh, loom_matrix *dc,
                                    loom_matrix *dbias, const loom_matrix *dy,
                                    const loom_matrix *gates, const loom_matrix *tanh_c,
                                    const loom_matrix *c_prev);

#endif
