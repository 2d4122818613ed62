/* beam.c: the beam search bookkeeping of beam.h: a bounded heap keeps each sequence's 2k
 * best candidates of a step (enough: each row has one </s> among them, so at most k of them
 * finish and the rest can extend k), finished lists kept sorted and cut to the best k,
 * token histories with back pointers. Not a model. */
#include "beam.h"

#include <math.h>

/* ---- the workspace ---- */

typedef struct beam_carver {
    char *base; /* NULL while measuring */
    size_t used;
} beam_carver;

static void *take(beam_carver *cv, size_t bytes)
{
    void *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (bytes + 63) / 64 * 64;
    return p;
}

static void layout(loom_beam *bm, beam_carver *cv)
{
    size_t B = bm->batch, k = bm->beam, R = B * k, steps = bm->max_len;
    bm->limits = take(cv, B * sizeof(size_t));
    bm->logprob = take(cv, R * sizeof(double));
    bm->next_logprob = take(cv, R * sizeof(double));
    bm->ids = take(cv, R * sizeof(size_t));
    bm->parents = take(cv, R * sizeof(size_t));
    bm->tokens = take(cv, steps * R * sizeof(size_t));
    bm->from = take(cv, steps * R * sizeof(size_t));
    bm->done = take(cv, B);
    bm->finished = take(cv, B * 2 * k * sizeof(loom_beam_finished));
    bm->nfinished = take(cv, B * sizeof(size_t));
    bm->best = take(cv, 2 * k * sizeof(loom_beam_candidate));
}

loom_status loom_beam_reset(loom_beam *bm, size_t batch, size_t beam, size_t vocab,
                            const size_t *limits, size_t nbest, double alpha, size_t bos,
                            size_t eos, size_t pad)
{
    if (batch == 0 || beam == 0 || vocab == 0 || nbest == 0 || nbest > beam || eos == 0
        || eos > vocab)
        return LOOM_EARG;
    size_t max_len = 0;
    for (size_t b = 0; b < batch; b++) {
        if (limits[b] == 0)
            return LOOM_EARG;
        max_len = limits[b] > max_len ? limits[b] : max_len;
    }
    if (batch > LOOM_MAX_DIM / beam || max_len > LOOM_MAX_DIM / (batch * beam))
        return LOOM_ERANGE;
    bm->batch = batch, bm->beam = beam, bm->vocab = vocab, bm->nbest = nbest;
    bm->max_len = max_len, bm->alpha = alpha, bm->eos = eos, bm->pad = pad, bm->step = 0;
    beam_carver cv = {NULL, 0};
    layout(bm, &cv);
    if (cv.used > bm->capacity) {
        loom_free(bm->block);
        bm->capacity = 0;
        bm->block = loom_malloc(cv.used);
        if (!bm->block)
            return LOOM_ENOMEM;
        bm->capacity = cv.used;
    }
    cv = (beam_carver){bm->block, 0};
    layout(bm, &cv);
    for (size_t b = 0; b < batch; b++) {
        bm->limits[b] = limits[b];
        bm->done[b] = 0;
        bm->nfinished[b] = 0;
    }
    for (size_t r = 0; r < batch * beam; r++) {
        bm->logprob[r] = r % beam == 0 ? 0.0 : -INFINITY;
        bm->ids[r] = bos;
        bm->parents[r] = r;
    }
    return LOOM_OK;
}

void loom_beam_release(loom_beam *bm)
{
    loom_free(bm->block);
    bm->block = NULL;
    bm->capacity = 0;
}

/* ---- finishing ---- */

/* GNMT's ((5 + len) / 6)^alpha; alpha = 0 leaves scores unnormalised. */
static double length_penalty(size_t len, double alpha)
{
    return alpha == 0.0 ? 1.0 : pow((5.0 + (double)len) / 6.0, alpha);
}

/* Sequence b's hypothesis (row after step len) finishes: inserted after every finished one
 * that scores at least as high, so the list stays best first with ties in finishing order
 * (step * 2k + place: a step finishes at most k, onto at most k kept). */
static void finish(loom_beam *bm, size_t b, size_t row, size_t len, double logprob, size_t scored_len)
{
    loom_beam_finished *list = bm->finished + b * 2 * bm->beam;
    size_t n = bm->nfinished[b]++;
    loom_beam_finished f = {logprob / length_penalty(scored_len, bm->alpha), logprob, len, row,
                            bm->step * 2 * bm->beam + n};
    size_t at = n;
    while (at > 0 && list[at - 1].score < f.score) {
        list[at] = list[at - 1];
        at--;
    }
    list[at] = f;
}

/* Only the k best finished hypotheses can be answers or decide when to stop. */
static void keep_k_finished(loom_beam *bm, size_t b)
{
    if (bm->nfinished[b] > bm->beam)
        bm->nfinished[b] = bm->beam;
}

int loom_beam_begin_step(loom_beam *bm)
{
    int all = 1;
    for (size_t b = 0; b < bm->batch; b++) {
        if (!bm->done[b] && bm->step >= bm->limits[b]) {
            for (size_t j = 0; j < bm->beam; j++) {
                size_t r = b * bm->beam + j;
                if (bm->logprob[r] > -INFINITY)
                    finish(bm, b, r, bm->step, bm->logprob[r], bm->step);
            }
            keep_k_finished(bm, b);
            bm->done[b] = 1;
        }
        all = all && bm->done[b];
    }
    return all;
}

/* ---- one step ---- */

/* a before b: higher log-probability, then the lower order. */
static int better(const loom_beam_candidate *a, const loom_beam_candidate *b)
{
    return a->logprob > b->logprob || (a->logprob == b->logprob && a->order < b->order);
}

/* The n best candidates so far, a heap with the worst of them on top (index 0). */
static void keep_best(loom_beam_candidate *heap, size_t *n, size_t cap, loom_beam_candidate c)
{
    size_t i;
    if (*n < cap) {
        i = (*n)++;
        while (i > 0 && better(&heap[(i - 1) / 2], &c)) {
            heap[i] = heap[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        heap[i] = c;
        return;
    }
    if (!better(&c, &heap[0]))
        return;
    i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && better(&heap[child], &heap[child + 1]))
            child++; /* the worse child */
        if (!better(&c, &heap[child]))
            break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = c;
}

/* The 2k best candidates of sequence b, best first; returns how many. */
static size_t best_candidates(loom_beam *bm, size_t b, const loom_matrix *lp)
{
    size_t k = bm->beam, V = bm->vocab, n = 0;
    for (size_t j = 0; j < k; j++) {
        size_t r = b * k + j;
        double base = bm->logprob[r];
        if (!(base > -INFINITY))
            continue;
        const float *row32 = lp->dtype == LOOM_F32 ? loom_at32(lp, r, 0) : NULL;
        const double *row64 = lp->dtype == LOOM_F32 ? NULL : loom_at(lp, r, 0);
        for (size_t v = 0; v < V; v++) {
            loom_beam_candidate c = {base + (row32 ? (double)row32[v] : row64[v]), j * V + v, r, v + 1};
            keep_best(bm->best, &n, 2 * k, c);
        }
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort, best first */
        loom_beam_candidate c = bm->best[i];
        size_t at = i;
        while (at > 0 && better(&c, &bm->best[at - 1])) {
            bm->best[at] = bm->best[at - 1];
            at--;
        }
        bm->best[at] = c;
    }
    return n;
}

/* Row r is empty after this step. */
static void empty_row(loom_beam *bm, size_t r)
{
    size_t R = bm->batch * bm->beam;
    bm->next_logprob[r] = -INFINITY;
    bm->parents[r] = r;
    bm->ids[r] = bm->pad;
    bm->tokens[bm->step * R + r] = bm->pad;
    bm->from[bm->step * R + r] = r;
}

/* Whether sequence b can stop: k have finished and no alive hypothesis can score above the
 * k-th of them. Log-probabilities only fall, so the best alive one (row b*k, taken first)
 * is bounded by its log-probability under the largest length penalty it could still get. */
static int settled(const loom_beam *bm, size_t b, size_t alive)
{
    size_t k = bm->beam;
    if (alive == 0)
        return 1;
    if (bm->nfinished[b] < k)
        return 0;
    double best = bm->next_logprob[b * k];
    double bound = best < 0 ? best / length_penalty(bm->limits[b], bm->alpha) : best;
    return bound <= bm->finished[b * 2 * k + k - 1].score;
}

static void advance_sequence(loom_beam *bm, size_t b, const loom_matrix *lp)
{
    size_t k = bm->beam, R = bm->batch * k, alive = 0;
    size_t n = bm->done[b] ? 0 : best_candidates(bm, b, lp);
    for (size_t i = 0; i < n && alive < k; i++) {
        const loom_beam_candidate *c = &bm->best[i];
        if (c->token == bm->eos) {
            finish(bm, b, c->row, bm->step, c->logprob, bm->step + 1);
            continue;
        }
        size_t r = b * k + alive++;
        bm->next_logprob[r] = c->logprob;
        bm->parents[r] = c->row;
        bm->ids[r] = c->token;
        bm->tokens[bm->step * R + r] = c->token;
        bm->from[bm->step * R + r] = c->row;
    }
    keep_k_finished(bm, b);
    if (!bm->done[b] && settled(bm, b, alive))
        bm->done[b] = 1;
    for (size_t j = alive; j < k; j++)
        empty_row(bm, b * k + j);
}

loom_status loom_beam_advance(loom_beam *bm, const loom_matrix *logprobs, int *all_done)
{
    size_t R = bm->batch * bm->beam;
    if (logprobs->rows != R || logprobs->cols != bm->vocab || bm->step >= bm->max_len)
        return LOOM_EDIM;
    int all = 1;
    for (size_t b = 0; b < bm->batch; b++) {
        advance_sequence(bm, b, logprobs);
        all = all && bm->done[b];
    }
    double *t = bm->logprob;
    bm->logprob = bm->next_logprob;
    bm->next_logprob = t;
    bm->step++;
    if (all_done)
        *all_done = all;
    return LOOM_OK;
}

/* ---- answers ---- */

size_t loom_beam_count(const loom_beam *bm, size_t b)
{
    return bm->nfinished[b] < bm->nbest ? bm->nfinished[b] : bm->nbest;
}

void loom_beam_answer(const loom_beam *bm, size_t b, size_t i, size_t *ids, size_t *len,
                      double *score, double *logprob)
{
    const loom_beam_finished *f = bm->finished + b * 2 * bm->beam + i;
    size_t R = bm->batch * bm->beam, r = f->row;
    for (size_t s = f->len; s > 0; s--) {
        ids[s - 1] = bm->tokens[(s - 1) * R + r];
        r = bm->from[(s - 1) * R + r];
    }
    *len = f->len;
    *score = f->score;
    *logprob = f->logprob;
}
