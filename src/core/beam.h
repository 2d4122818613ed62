/* beam.h: the bookkeeping of a batched beam search: for each sequence the best candidates
 * of its k hypotheses times V tokens, finished hypotheses, length limits, GNMT's length
 * penalty and n-best lists. Not the model that scores the tokens (src/core/decoder.c, or a
 * Lua decoder through src/bind/decoder.c). lua/loom/seq2seq.lua keeps the naive reference.
 *
 * Hypothesis j of sequence b is row r = b*k + j of the decoder's state. Each step the
 * candidates (j, v) of a sequence are taken best first (log-probability, ties to the lower
 * j*V + v, so beam 1 is greedy decoding): </s> finishes a hypothesis (score = log-probability
 * / ((5 + len) / 6)^alpha, len counting </s>), any other token extends one, until k are
 * extended; the best k finished are kept. A sequence is done when no hypothesis is alive, when
 * k have finished and the best alive one cannot beat the k-th (its log-probability can only
 * fall; divided by the penalty of its length limit it bounds any score it could reach), or, at
 * the start of the step after its length limit, when its alive hypotheses finish as they are. */
#ifndef LOOM_BEAM_H
#define LOOM_BEAM_H

#include "loom.h"

typedef struct loom_beam_finished {
    double score, logprob;
    size_t len;   /* tokens, </s> not among them */
    size_t row;   /* the row whose history after step len holds the tokens */
    size_t order; /* when it finished within its sequence: ties of score go to the earlier */
} loom_beam_finished;

typedef struct loom_beam_candidate {
    double logprob;
    size_t order; /* j * V + v within the sequence */
    size_t row, token;
} loom_beam_candidate;

typedef struct loom_beam {
    size_t batch, beam, vocab, nbest; /* B, k, V, n-best */
    size_t max_len;                   /* the largest limit */
    double alpha;                     /* length penalty exponent, 0: none */
    size_t eos, pad;                  /* 1-based ids */
    size_t step;                      /* steps advanced */
    size_t *limits;                   /* B: tokens at most */
    double *logprob, *next_logprob;   /* R = B*k: cumulative, -inf for an empty row */
    size_t *ids;                      /* R: the token each row feeds to the next step */
    size_t *parents;                  /* R: the row (before the step) each row continues */
    size_t *tokens, *from;            /* max_len x R: token of row r at step s+1, its row before */
    unsigned char *done;              /* B */
    loom_beam_finished *finished;     /* B x 2k, each sequence's best first (k kept between steps) */
    size_t *nfinished;                /* B */
    loom_beam_candidate *best;        /* 2k: a sequence's best candidates of one step */
    void *block;                      /* all of the above, owned; grows, never shrinks */
    size_t capacity;                  /* bytes */
} loom_beam;

/* Set up a search of B sequences with k hypotheses each over V tokens: limits (B, each
 * >= 1) the most tokens per sequence, nbest (1..k) answers each, alpha the length penalty;
 * every row feeds bos first, and only hypothesis 0 of each sequence is alive. The workspace
 * grows to fit (the only allocation); bm starts zeroed or from an earlier reset. */
loom_status loom_beam_reset(loom_beam *bm, size_t batch, size_t beam, size_t vocab,
                            const size_t *limits, size_t nbest, double alpha, size_t bos,
                            size_t eos, size_t pad);
void loom_beam_release(loom_beam *bm); /* safe twice */

/* Before a step: sequences whose hypotheses have limits[b] tokens finish. Nonzero when
 * every sequence is done (no step is needed). */
int loom_beam_begin_step(loom_beam *bm);

/* One step: logprobs (R x V, either dtype) the log-probabilities of each row's next token.
 * Afterwards ids and parents say what the decoder feeds and how its rows reorder; *all_done
 * (may be NULL) says whether every sequence is done. LOOM_EDIM for another shape. */
loom_status loom_beam_advance(loom_beam *bm, const loom_matrix *logprobs, int *all_done);

/* How many answers sequence b has: min(nbest, its finished hypotheses). */
size_t loom_beam_count(const loom_beam *bm, size_t b);
/* Answer i (0-based, best first) of sequence b: *len tokens into ids (room for max_len). */
void loom_beam_answer(const loom_beam *bm, size_t b, size_t i, size_t *ids, size_t *len,
                      double *score, double *logprob);

#endif
