/* decoder.h: the attention decoder of an LSTM encoder-decoder as whole kernels: the
 * teacher-forced pass over T steps and its BPTT, and decoding (one step, greedy, beam
 * search) over replicated encoder states, in float64 and float32, in a workspace that only
 * grows (no allocation per step or per call once it fits). Not the encoder, the embeddings'
 * lookup for training or the loss (nn.LSTM, nn.Embedding, lua/loom/seq2seq.lua). */
#ifndef LOOM_DECODER_H
#define LOOM_DECODER_H

#include "attention.h"
#include "beam.h"
#include "loom.h"

/* What the decoder is. Luong attention (dot, general, concat) attends with h_t after the
 * cell; Bahdanau attends with h_{t-1} and feeds the context to the cell. */
typedef struct loom_decoder_config {
    int attention;            /* 0: none, the step's output is h_t */
    loom_attention_kind kind; /* with attention */
    int input_feeding;        /* Luong: the cell reads [emb; o_{t-1}] */
    size_t embed, hidden, attn_dim, vocab; /* E, H, A (concat, bahdanau), V (decoding) */
    loom_dtype dtype;         /* of every parameter and matrix */
} loom_decoder_config;

/* The parameters (or their gradients, w_ih to combine), views owned by the caller.
 * In = E, or E + H with input feeding or Bahdanau ([emb; o_{t-1}] or [emb; ctx_t]). */
typedef struct loom_decoder_params {
    loom_matrix w_ih, w_hh, b_ih, b_hh; /* the LSTM cell: 4H x In, 4H x H, 4H x 1, 4H x 1 */
    loom_attention_params attn;         /* queries and keys H wide */
    loom_matrix combine;                /* H x 2H: o_t = tanh(combine [ctx_t; h_t]) */
    loom_matrix embedding;              /* V x E: decoding only */
    loom_matrix gen_w, gen_b;           /* V x H, V x 1: logits = o gen_w^T + gen_b; decoding */
} loom_decoder_params;

/* The workspace carved into matrices of the decoder's dtype (rnn.c's layout scheme). */
typedef struct loom_decoder_work {
    /* teacher forcing, T steps of B sequences */
    loom_matrix gates;  /* T*B x 4H: activations (i, f, g, o) of each step            */
    loom_matrix hs, cs; /* (T+1)*B x H: block 0 the initial state, block t after step t */
    loom_matrix tanh_c; /* T*B x H                                                     */
    loom_matrix ctx;    /* T*B x H: the contexts (attention)                           */
    loom_matrix dgates; /* T*B x 4H                                                    */
    loom_matrix dz;     /* T*B x H: gradient at combine's output, before tanh          */
    loom_matrix dh, dc, dfeed, dctx, dq; /* B x H                                      */
    loom_matrix zeros;  /* B x H: zeros, the cell's output gradient besides dh          */
    /* decoding, R rows (B sequences times the beam) */
    loom_matrix h, c, feed;      /* R x H: the state between steps                     */
    loom_matrix keys;            /* S*R x H: the encoder states of each row's sequence */
    loom_matrix x, step_gates;   /* R x E, R x 4H                                      */
    loom_matrix h_new, c_new, step_tanh_c, step_ctx, out, scratch; /* R x H            */
    loom_matrix logprobs;        /* R x V: log-softmax of the step's logits            */
    loom_matrix weights;         /* R x S: the step's attention                        */
    loom_matrix colsum;          /* 1 x 4H: bias gradient of all steps                 */
    loom_matrix bias;            /* 1 x 4H: b_ih + b_hh                                */
    size_t *lengths;             /* B (training) or R (decoding) source lengths        */
    size_t *ids;                 /* R: greedy decoding's next tokens                   */
    unsigned char *done;         /* R: greedy decoding's finished rows                 */
    void *attention;             /* the attention kernels' workspace                   */
} loom_decoder_work;

typedef struct loom_decoder {
    loom_decoder_config cfg;
    loom_decoder_params p, g; /* set by the owner; g only for backward */
    void *block;              /* the workspace, owned */
    size_t capacity;          /* bytes in block */
    loom_decoder_work w;
    /* the last teacher-forced forward (its matrices are the caller's, kept alive by it) */
    int have_forward;
    size_t steps, batch, src_len;
    loom_matrix embs, keys, outs;
    /* the decoding state loom_decoder_start made: rows = B * beam, 0 when none */
    size_t rows, beam;
} loom_decoder;

/* A decoder with an empty workspace (nothing allocated); LOOM_EARG for zero sizes, a dot
 * attention with attn_dim ignored. Set d->p (and d->g to train) before use. */
loom_status loom_decoder_init(loom_decoder *d, const loom_decoder_config *cfg);
void loom_decoder_release(loom_decoder *d); /* safe twice */

/* Teacher forcing over T = embs->rows / B steps: embs (T*B x E, time-major) the target
 * embeddings, h0 and c0 (B x H) the initial state, keys (S*B x H, time-major) and lengths
 * (B entries in 0..S, or NULL for all S) the encoder's states; outs (T*B x H) gets o_t of
 * every step. Keeps the activations for loom_decoder_backward, which reads embs, keys and
 * outs again: the caller keeps them unchanged until then. */
loom_status loom_decoder_forward(loom_decoder *d, loom_matrix *outs, const loom_matrix *embs,
                                 const loom_matrix *h0, const loom_matrix *c0,
                                 const loom_matrix *keys, const size_t *lengths, size_t batch);

/* BPTT through the last forward: douts (T*B x H) the gradient at the outputs. dembs
 * (T*B x E), dh0 and dc0 (B x H) are overwritten; dkeys (S*B x H) and d->g accumulate.
 * LOOM_EARG when no forward is kept. */
loom_status loom_decoder_backward(loom_decoder *d, loom_matrix *dembs, loom_matrix *dkeys,
                                  loom_matrix *dh0, loom_matrix *dc0, const loom_matrix *douts);

/* Start decoding B sequences with `beam` rows each (R = B * beam): row b*beam + j starts
 * from h0, c0 row b (B x H) and attends over sequence b of keys (S*B x H) and lengths (B,
 * or NULL); the fed output starts at zero. Forgets the last forward. */
loom_status loom_decoder_start(loom_decoder *d, const loom_matrix *keys, const size_t *lengths,
                               const loom_matrix *h0, const loom_matrix *c0, size_t beam);

/* One step of every row: ids (R, 1-based) the tokens fed in; d->w.logprobs (R x V) gets
 * the log-softmax of the logits and d->w.weights (R x S, with attention) the weights. */
loom_status loom_decoder_step(loom_decoder *d, const size_t *ids);

/* Row r of the state becomes row parents[r] of the state before (R entries). */
loom_status loom_decoder_reorder(loom_decoder *d, const size_t *parents);

/* Greedy decoding from loom_decoder_start(..., beam = 1): sequence b emits the most likely
 * token (the lowest id among equals) until eos or limits[b] tokens. ids (B x max limit)
 * gets the tokens (0 past each end), lens (B) their counts, *steps the steps run, and
 * weights (max limit * B x S, or NULL) the attention of step t in rows t*B..t*B+B-1. */
loom_status loom_decoder_greedy(loom_decoder *d, size_t *ids, size_t *lens, size_t *steps,
                                loom_matrix *weights, const size_t *limits, size_t bos,
                                size_t eos);

/* Beam search from loom_decoder_start(..., beam = bm->beam) with the search bm set up by
 * loom_beam_reset for the same B: steps until every sequence is done (beam.h). */
loom_status loom_decoder_beam(loom_decoder *d, loom_beam *bm);

#endif
