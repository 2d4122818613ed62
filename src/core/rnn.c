/* rnn.c: fused recurrent layers: one gemm projects the inputs of all steps (with the JIT
 * kernels, one per step in the loop), one gemm per step adds the recurrent part into the
 * fused gate block, fused elementwise kernels apply
 * the gates, and BPTT gets every weight gradient with one gemm over all steps. Not the
 * Lua modules (src/bind/rnn.c) nor losses over sequences (lua/loom/seq.lua).
 *
 * State storage. Each layer and direction keeps its hidden states in h[k], (T+1)*B x H, as
 * blocks of B rows. The forward direction keeps h0 in block 0 and the state after step t
 * (1-based) in block t; the reverse direction keeps the state after step t in block t-1
 * and h0 in block T. Either way the states entering steps 1..T are T contiguous blocks
 * (blocks 0..T-1 forward, 1..T reverse) lined up with the gate rows of those steps, so
 * dW_hh is one gemm. A sequence past its end (forward) or before its start (reverse, which
 * begins at each sequence's own last step) is not updated: its row is copied through. */
#include "rnn.h"

#include "blas.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kernel.h"

/* The batch rows of a layer's loop run in at most this many parts (see "rows in parallel"). */
#define RNN_MAX_PARTS 2

size_t loom_rnn_gate_count(loom_rnn_kind kind)
{
    return kind == LOOM_LSTM ? 4 : kind == LOOM_GRU ? 3 : 1;
}

const char *loom_rnn_kind_name(loom_rnn_kind kind)
{
    static const char *const names[] = {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"};
    return (unsigned)kind < 4 ? names[kind] : "?";
}

const char *loom_rnn_gemm_name(loom_rnn_gemm gemm)
{
    static const char *const names[] = {"auto", "blas", "xsmm"};
    return (unsigned)gemm < 3 ? names[gemm] : "?";
}

/* What W_hh (G*H x H) takes in bytes. */
static double w_hh_bytes(size_t hidden, size_t gates, loom_dtype dtype)
{
    return (double)gates * (double)hidden * (double)hidden * (double)loom_dtype_size(dtype);
}

/* The JIT kernels read W_hh from a core's cache: one core's kernels run well while it takes
 * at most this much (2 MiB of L2 a core here), two cores' halves of it up to twice that. */
#define RNN_XSMM_BYTES (1024.0 * 1024.0)

loom_rnn_gemm loom_rnn_gemm_choice(size_t hidden, size_t gates, loom_dtype dtype)
{
    return w_hh_bytes(hidden, gates, dtype) <= RNN_MAX_PARTS * RNN_XSMM_BYTES ? LOOM_RNN_GEMM_XSMM
                                                                              : LOOM_RNN_GEMM_BLAS;
}

/* Whether the parts of r's loop split W_hh's columns instead of the batch rows: W_hh is
 * larger than one core's share of cache (see "rows in parallel"). */
static int w_hh_split(const loom_rnn *r)
{
    return w_hh_bytes(r->cfg.hidden, r->gates, r->dtype) > RNN_XSMM_BYTES;
}

/* What runs the per-step products of r for its dtype (AUTO resolved). */
static loom_rnn_gemm gemm_for(const loom_rnn *r)
{
    return r->cfg.gemm != LOOM_RNN_GEMM_AUTO
               ? r->cfg.gemm
               : loom_rnn_gemm_choice(r->cfg.hidden, r->gates, r->dtype);
}

/* ---- profile ---- */

const char *loom_rnn_phase_name(loom_rnn_phase phase)
{
    static const char *const names[] = {
        "input_projection", "recurrent", "gates", "gates_backward",
        "recurrent_backward", "weight_gradients", "input_gradient", "other"};
    return (unsigned)phase < LOOM_RNN_PHASES ? names[phase] : "?";
}

static double clock_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void loom_rnn_profile_switch(loom_rnn *r, int on)
{
    memset(&r->profile, 0, sizeof r->profile);
    r->profile.on = on;
}

/* The time since the last boundary goes to phase. */
static void prof_tick(loom_rnn *r, loom_rnn_phase phase)
{
    if (!r->profile.on)
        return;
    double now = clock_seconds();
    r->profile.seconds[phase] += now - r->profile.mark;
    r->profile.mark = now;
}

static void prof_start(loom_rnn *r)
{
    if (r->profile.on)
        r->profile.mark = clock_seconds();
}

/* ---- parameters ---- */

static size_t layer_input(const loom_rnn *r, size_t layer)
{
    return layer == 0 ? r->cfg.input : r->cfg.hidden * r->dirs;
}

/* Carve one (layer, dir)'s four parameter matrices from base; returns the doubles used. */
static size_t carve_params(loom_rnn_params *p, double *base, size_t gh, size_t in, size_t h)
{
    p->w_ih = loom_matrix_wrap(base, gh, in);
    p->w_hh = loom_matrix_wrap(base + gh * in, gh, h);
    p->b_ih = loom_matrix_wrap(base + gh * in + gh * h, gh, 1);
    p->b_hh = loom_matrix_wrap(base + gh * in + gh * h + gh, gh, 1);
    return gh * (in + h + 2);
}

loom_status loom_rnn_init(loom_rnn *r, const loom_rnn_config *cfg, loom_rng *rng)
{
    memset(r, 0, sizeof *r);
    if (cfg->input == 0 || cfg->hidden == 0 || cfg->layers == 0 || (unsigned)cfg->kind > LOOM_GRU
        || !(cfg->dropout >= 0.0 && cfg->dropout < 1.0) || (unsigned)cfg->gemm > LOOM_RNN_GEMM_XSMM)
        return LOOM_EARG;
    r->cfg = *cfg;
    r->dirs = cfg->bidirectional ? 2 : 1;
    r->gates = loom_rnn_gate_count(cfg->kind);
    r->training = 1;
    size_t gh = r->gates * cfg->hidden, units = cfg->layers * r->dirs;
    for (size_t l = 0; l < cfg->layers; l++)
        r->count += r->dirs * gh * (layer_input(r, l) + cfg->hidden + 2);
    r->values = loom_malloc(r->count * sizeof(double));
    r->grads = loom_calloc(r->count, sizeof(double));
    r->params = loom_malloc(2 * units * sizeof *r->params);
    /* Three pointer arrays per layer and six per unit, filled by the workspace layout. */
    r->work.ptrs = loom_calloc(3 * cfg->layers + 6 * units, sizeof(double *));
    r->work.smm_forward = loom_calloc(3 * units * RNN_MAX_PARTS, sizeof(loom_smm));
    if (!r->values || !r->grads || !r->params || !r->work.ptrs || !r->work.smm_forward) {
        loom_rnn_release(r);
        return LOOM_ENOMEM;
    }
    r->grad = r->params + units;
    size_t off = 0;
    for (size_t l = 0; l < cfg->layers; l++)
        for (size_t d = 0; d < r->dirs; d++) {
            carve_params(&r->grad[l * r->dirs + d], r->grads + off, gh, layer_input(r, l),
                         cfg->hidden);
            off += carve_params(&r->params[l * r->dirs + d], r->values + off, gh,
                                layer_input(r, l), cfg->hidden);
        }
    double k = 1.0 / sqrt((double)cfg->hidden);
    for (size_t i = 0; i < r->count; i++)
        r->values[i] = k * (2.0 * loom_rng_uniform(rng) - 1.0);
    loom_rnn_work *w = &r->work;
    w->out = w->ptrs;
    w->mask = w->out + cfg->layers;
    w->xin = w->mask + cfg->layers;
    w->gates = w->xin + cfg->layers;
    w->h = w->gates + units;
    w->c = w->h + units;
    w->hn = w->c + units;
    w->tanh_c = w->hn + units;
    w->wt = w->tanh_c + units;
    w->smm_backward = w->smm_forward + units * RNN_MAX_PARTS;
    w->smm_input = w->smm_backward + units * RNN_MAX_PARTS;
    r->gemm = gemm_for(r);
    return LOOM_OK;
}

void loom_rnn_release(loom_rnn *r)
{
    loom_free(r->values);
    loom_free(r->grads);
    loom_free(r->values32);
    loom_free(r->grads32);
    r->values32 = r->grads32 = NULL;
    loom_free(r->params);
    loom_free(r->work.ptrs);
    loom_free(r->work.smm_forward);
    loom_free(r->work.block);
    r->values = r->grads = NULL;
    r->params = r->grad = NULL;
    r->work.ptrs = NULL;
    r->work.smm_forward = r->work.smm_backward = r->work.smm_input = NULL;
    r->work.block = NULL;
    r->work.capacity = 0;
    r->work.have_forward = 0;
    r->count = 0;
}

/* Point params and grad at the float32 storage (carve_params does it for float64). */
static void carve_params_f32(loom_rnn *r)
{
    size_t gh = r->gates * r->cfg.hidden, off = 0, H = r->cfg.hidden;
    for (size_t l = 0; l < r->cfg.layers; l++)
        for (size_t d = 0; d < r->dirs; d++) {
            size_t k = l * r->dirs + d, in = layer_input(r, l);
            float *v = r->values32 + off, *g = r->grads32 + off;
            loom_rnn_params *p = &r->params[k], *q = &r->grad[k];
            p->w_ih = loom_matrix_wrap_f32(v, gh, in);
            q->w_ih = loom_matrix_wrap_f32(g, gh, in);
            p->w_hh = loom_matrix_wrap_f32(v + gh * in, gh, H);
            q->w_hh = loom_matrix_wrap_f32(g + gh * in, gh, H);
            p->b_ih = loom_matrix_wrap_f32(v + gh * (in + H), gh, 1);
            q->b_ih = loom_matrix_wrap_f32(g + gh * (in + H), gh, 1);
            p->b_hh = loom_matrix_wrap_f32(v + gh * (in + H) + gh, gh, 1);
            q->b_hh = loom_matrix_wrap_f32(g + gh * (in + H) + gh, gh, 1);
            off += gh * (in + H + 2);
        }
}

loom_status loom_rnn_to(loom_rnn *r, loom_dtype dtype, void **old_values, void **old_grads)
{
    *old_values = *old_grads = NULL;
    if (!r->values && !r->values32)
        return LOOM_EARG;
    if (r->dtype == dtype)
        return LOOM_OK;
    size_t esize = loom_dtype_size(dtype);
    void *values = loom_malloc(r->count * esize), *grads = loom_malloc(r->count * esize);
    if (!values || !grads) {
        loom_free(values);
        loom_free(grads);
        return LOOM_ENOMEM;
    }
    if (dtype == LOOM_F32) {
        float *v = values, *g = grads;
        for (size_t i = 0; i < r->count; i++) {
            v[i] = (float)r->values[i];
            g[i] = (float)r->grads[i];
        }
        *old_values = r->values;
        *old_grads = r->grads;
        r->values = r->grads = NULL;
        r->values32 = v;
        r->grads32 = g;
        r->dtype = LOOM_F32;
        carve_params_f32(r);
    } else {
        double *v = values, *g = grads;
        for (size_t i = 0; i < r->count; i++) {
            v[i] = r->values32[i];
            g[i] = r->grads32[i];
        }
        *old_values = r->values32;
        *old_grads = r->grads32;
        r->values32 = r->grads32 = NULL;
        r->values = v;
        r->grads = g;
        r->dtype = LOOM_F64;
        size_t off = 0, gh = r->gates * r->cfg.hidden;
        for (size_t l = 0; l < r->cfg.layers; l++)
            for (size_t d = 0; d < r->dirs; d++) {
                carve_params(&r->grad[l * r->dirs + d], r->grads + off, gh, layer_input(r, l),
                             r->cfg.hidden);
                off += carve_params(&r->params[l * r->dirs + d], r->values + off, gh,
                                    layer_input(r, l), r->cfg.hidden);
            }
    }
    r->work.have_forward = 0; /* the kept activations are of the old dtype */
    r->gemm = gemm_for(r);
    return LOOM_OK;
}

/* ---- workspace ---- */

typedef struct carver {
    double *base; /* NULL while only measuring */
    size_t used;  /* bytes, each piece rounded up to 64 */
    size_t esize; /* bytes per element of the layer's dtype (float32 pieces are half) */
} carver;

static double *carve_bytes(carver *cv, size_t bytes)
{
    double *p = cv->base ? (double *)(void *)((char *)cv->base + cv->used) : NULL;
    cv->used += (bytes + 63) / 64 * 64;
    return p;
}

/* n elements of the layer's dtype; float32 pieces are used through as_f32. */
static double *carve(carver *cv, size_t n)
{
    return carve_bytes(cv, n * cv->esize);
}

static int dropout_used(const loom_rnn *r)
{
    return r->cfg.dropout > 0.0 && r->cfg.layers > 1;
}

/* Lay the workspace for T steps of B sequences over cv (measure first with base NULL). */
static void layout(loom_rnn *r, carver *cv, size_t T, size_t B)
{
    loom_rnn_work *w = &r->work;
    size_t n = T * B, hid = r->cfg.hidden, hd = hid * r->dirs, gh = r->gates * hid;
    w->x = carve(cv, n * r->cfg.input);
    for (size_t l = 0; l < r->cfg.layers; l++) {
        w->out[l] = carve(cv, n * hd);
        w->mask[l] = l > 0 && dropout_used(r) ? carve(cv, 2 * n * hd) : NULL;
        for (size_t d = 0; d < r->dirs; d++) {
            size_t k = l * r->dirs + d;
            w->gates[k] = carve(cv, n * gh);
            w->h[k] = carve(cv, (n + B) * hid);
            w->c[k] = r->cfg.kind == LOOM_LSTM ? carve(cv, (n + B) * hid) : NULL;
            w->hn[k] = r->cfg.kind == LOOM_GRU ? carve(cv, n * hid) : NULL;
            w->tanh_c[k] = r->cfg.kind == LOOM_LSTM ? carve(cv, n * hid) : NULL;
            w->wt[k] = r->gemm == LOOM_RNN_GEMM_XSMM ? carve(cv, gh * (hid + layer_input(r, l))) : NULL;
        }
    }
    w->dgates = carve(cv, n * gh);
    w->dgates_h = r->cfg.kind == LOOM_GRU ? carve(cv, n * gh) : w->dgates;
    w->dy[0] = r->cfg.layers > 1 ? carve(cv, n * hd) : NULL;
    w->dy[1] = r->cfg.layers > 2 ? carve(cv, n * hd) : NULL;
    w->carry_h = carve(cv, B * hid);
    w->carry_c = carve(cv, B * hid);
    w->step = carve(cv, B * gh);
    w->bias = carve(cv, RNN_MAX_PARTS * (gh + hid));
    w->zeros = carve(cv, hid);
    size_t widest = r->cfg.input > hd ? r->cfg.input : hd; /* of the layers' inputs */
    w->wgrad = carve(cv, (widest + hid) * gh);
    w->xh = r->cfg.kind != LOOM_GRU && r->gemm == LOOM_RNN_GEMM_XSMM ? carve(cv, n * (widest + hid)) : NULL;
    w->lengths = (size_t *)(void *)carve_bytes(cv, B * sizeof(size_t));
    w->valid = (unsigned char *)(void *)carve_bytes(cv, n);
}

/* Make the workspace fit T x B; it only grows, so equal or smaller shapes reuse it. */
static loom_status reserve(loom_rnn *r, size_t T, size_t B)
{
    carver cv = {NULL, 0, loom_dtype_size(r->dtype)};
    layout(r, &cv, T, B);
    size_t bytes = cv.used;
    if (bytes > r->work.capacity) {
        loom_free(r->work.block);
        r->work.capacity = 0;
        r->work.block = loom_malloc(bytes);
        if (!r->work.block)
            return LOOM_ENOMEM;
        r->work.capacity = bytes;
    }
    cv = (carver){r->work.block, 0, loom_dtype_size(r->dtype)};
    layout(r, &cv, T, B);
    return LOOM_OK;
}

/* ---- shared by both dtypes ---- */

/* Blocks of h[k] holding the state entering and leaving step t (0-based), see the top. */
static size_t prev_block(size_t dir, size_t t)
{
    return dir == 0 ? t : t + 1;
}
static size_t next_block(size_t dir, size_t t)
{
    return dir == 0 ? t + 1 : t;
}

/* Whether BPTT gathers the rows [x_t | h_prev] into w->xh so that the weight gradients are
 * one product, [x | h_prev]^T dA, instead of two: for LSTM and RNN (whose two share dA)
 * when the loop runs in parts, which share the copying. With one part the copy is serial
 * and, at the shapes that run so, costs what the product saves ((64,100,64,256) float64:
 * 4.7 ms more in BPTT, 2 ms less in the product). */
static int gathers_xh(const loom_rnn_work *w)
{
    return w->xh && w->parts > 1;
}

/* One part's rows of step t into w->xh (ld in + H), element size es. */
static void gather_xh(const loom_rnn_work *w, size_t l, const void *hp, size_t at_row, size_t rows,
                      size_t in, size_t H, size_t es)
{
    if (!gathers_xh(w))
        return;
    char *dst = (char *)w->xh + at_row * (in + H) * es;
    const char *x = (const char *)w->xin[l] + at_row * in * es, *h = hp;
    for (size_t i = 0; i < rows; i++) {
        loom_copy_bytes(dst + i * (in + H) * es, x + i * in * es, in * es);
        loom_copy_bytes(dst + (i * (in + H) + in) * es, h + i * H * es, H * es);
    }
}

static int state_shape_ok(const loom_matrix *m, size_t rows, size_t cols)
{
    return !m || (m->rows == rows && m->cols == cols);
}

/* Every matrix given shares the layer's dtype (NULL ones skipped). */
static int dtypes_match(const loom_rnn *r, const loom_matrix *a, const loom_matrix *b,
                        const loom_matrix *c, const loom_matrix *d)
{
    const loom_matrix *all[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (all[i] && all[i]->dtype != r->dtype)
            return 0;
    return 1;
}

/* ---- rows in parallel ----
 * The sequences of a batch do not meet in the recurrent loop: each row's state depends on
 * its own row only. With two BLAS threads and the JIT kernels, the rows split into two
 * parts and each part runs every step of its rows on its own thread, with no barrier per
 * step; only the bias-gradient sums are kept per part and added in part order afterwards.
 * The split depends on the shape and the thread count only, so a run with the same seed
 * and thread count is bitwise the same (DESIGN.md); every row's arithmetic is the same as
 * unsplit. BLAS products (large H) are threaded by BLAS itself and are not split.
 *
 * A W_hh larger than one core's cache (w_hh_split: (64,100,64,256) float64 has 2 MiB) would
 * be read from memory by both parts every step. There the parts split W_hh's columns
 * instead: at each step each computes its columns of the recurrent product for every row
 * (holding half of W_hh in its cache), waits for the other (a spin barrier), runs the fused
 * kernels of its rows, and waits again; BPTT likewise. Every product entry is the same sum
 * over H as unsplit, so the results stay bitwise those of one part. With one thread such
 * a layer runs BLAS, which blocks W_hh for the cache itself. */

/* Rows of part `part` of `parts`: [part_row0, part_row0 + part_rows). */
static size_t part_row0(size_t B, size_t parts, size_t part)
{
    return B * part / parts;
}
static size_t part_rows(size_t B, size_t parts, size_t part)
{
    return part_row0(B, parts, part + 1) - part_row0(B, parts, part);
}

/* Below about 2e6 multiply-adds in the loop's products the thread start (tens of
 * microseconds) costs about what the second core gives back. */
static size_t parts_for(const loom_rnn *r, size_t T, size_t B)
{
    double work = (double)T * (double)B * (double)(r->gates * r->cfg.hidden) * (double)r->cfg.hidden;
    if (r->gemm != LOOM_RNN_GEMM_XSMM || loom_blas_get_threads() < 2 || B < 4 || work < 2e6)
        return 1;
    return 2;
}

/* The parts' meeting point when they split columns: the last to arrive opens the next
 * generation. Spins (the wait is a few microseconds), yielding after a while in case the
 * other part's thread is not running. */
typedef struct part_barrier {
    atomic_uint arrived, generation;
    unsigned parts;
} part_barrier;

static void barrier_wait(part_barrier *b)
{
    unsigned gen = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->parts) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->generation, gen + 1, memory_order_release);
        return;
    }
    for (unsigned spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == gen; spins++)
        if (spins > 4096)
            sched_yield();
}

/* One part's share of a layer's loop (forward or backward), run by run_parts. */
typedef struct rnn_part {
    loom_rnn *r;
    size_t l, d, part, row0, rows;
    int backward;     /* which loop: BPTT, else the forward steps */
    const void *dy;   /* backward: the gradient at the layer output (NULL: none) */
    size_t dy_ld;
    part_barrier *barrier; /* the parts split columns (NULL: rows, no waiting) */
    loom_status status;
} rnn_part;

static void part_wait(const rnn_part *pt)
{
    if (pt->barrier)
        barrier_wait(pt->barrier);
}

static void *run_part(void *arg);

/* The profile belongs to the calling thread: only part 0 (run there) ticks it. */
static void part_tick(const rnn_part *pt, loom_rnn_phase phase)
{
    if (pt->part == 0)
        prof_tick(pt->r, phase);
}

static void run_part_job(void *arg)
{
    run_part(arg);
}

static void use_blas(loom_rnn *r);

/* gates[k] (T*B x G*H) = xin[l] W_ih^T for every step at once; the kernels add the biases. */
static loom_status project_inputs(loom_rnn *r, size_t l, size_t d)
{
    loom_rnn_work *w = &r->work;
    size_t k = l * r->dirs + d, n = w->steps * w->batch, gh = r->gates * r->cfg.hidden;
    size_t in = layer_input(r, l);
    loom_matrix am, xm;
    if (r->dtype == LOOM_F32) {
        am = loom_matrix_wrap_f32((float *)(void *)w->gates[k], n, gh);
        xm = loom_matrix_wrap_f32((float *)(void *)w->xin[l], n, in);
    } else {
        am = loom_matrix_wrap(w->gates[k], n, gh);
        xm = loom_matrix_wrap(w->xin[l], n, in);
    }
    loom_status st = loom_gemm(&am, 1.0, &xm, 0, &r->params[k].w_ih, 1, 0.0);
    if (st == LOOM_OK)
        prof_tick(r, LOOM_RNN_INPUT_PROJECTION);
    return st;
}

static int threads_allowed = 1;

void loom_rnn_allow_threads(int on)
{
    threads_allowed = on != 0;
}

/* Run the loop of every part: part 0 on this thread, part 1 on OpenBLAS's worker (see
 * loom_blas_run_jobs: a thread of our own would compete with it for the second core), else
 * on a thread of its own, else here after part 0 (same results, one core). The parts call
 * no BLAS: they run only when every JIT kernel is there (kernels_ready). Parts that split
 * columns wait for each other, so they cannot run one after the other: without a second
 * thread the layer falls back to one part and BLAS products (use_blas), the forward's
 * inputs projected by one gemm (the parts would have done it in the loop). */
static loom_status run_parts(loom_rnn *r, size_t l, size_t d, int backward, const void *dy,
                             size_t dy_ld)
{
    loom_rnn_work *w = &r->work;
    rnn_part parts[RNN_MAX_PARTS];
    part_barrier barrier = {0, 0, (unsigned)w->parts};
    size_t n = w->parts;
    for (size_t i = 0; i < n; i++)
        parts[i] = (rnn_part){r, l, d, i, part_row0(w->batch, n, i), part_rows(w->batch, n, i),
                              backward, dy, dy_ld, w->columns ? &barrier : NULL, LOOM_OK};
    if (!loom_blas_run_jobs(n, run_part_job, parts, sizeof parts[0])) {
        pthread_t thread;
        int started = n > 1 && threads_allowed && pthread_create(&thread, NULL, run_part, &parts[1]) == 0;
        if (n > 1 && !started && w->columns) {
            use_blas(r);
            loom_status st = backward ? LOOM_OK : project_inputs(r, l, d);
            if (st != LOOM_OK)
                return st;
            parts[0] = (rnn_part){r, l, d, 0, 0, w->batch, backward, dy, dy_ld, NULL, LOOM_OK};
            n = 1;
        }
        run_part(&parts[0]);
        if (started)
            pthread_join(thread, NULL);
        else if (n > 1)
            run_part(&parts[1]);
    }
    for (size_t i = 0; i < n; i++)
        if (parts[i].status != LOOM_OK)
            return parts[i].status;
    return LOOM_OK;
}

/* Whether every unit has its JIT kernels for every part (libxsmm may refuse a shape). */
static int kernels_ready(const loom_rnn *r)
{
    size_t units = r->cfg.layers * r->dirs;
    for (size_t k = 0; k < units; k++)
        for (size_t part = 0; part < r->work.parts; part++)
            if (!r->work.smm_forward[k * RNN_MAX_PARTS + part].fn
                || !r->work.smm_backward[k * RNN_MAX_PARTS + part].fn
                || !r->work.smm_input[k * RNN_MAX_PARTS + part].fn)
                return 0;
    return 1;
}

/* Whether unit k projects each step's input inside the loop (a JIT kernel per part) instead
 * of one gemm over all steps before it: the loop's parts then share that work too, and each
 * step's gate block is written where it is used. Every part has the kernel or none uses it,
 * so one part or two compute each row alike. */
static int input_in_loop(const loom_rnn *r, size_t k)
{
    for (size_t part = 0; part < r->work.parts; part++)
        if (!r->work.smm_input[k * RNN_MAX_PARTS + part].fn)
            return 0;
    return 1;
}

/* The JIT kernels of every unit for each part's rows of batch B: forward rows x H by
 * H x G*H (W_hh^T, beta 1 into the gate block, 0 for GRU's separate block), backward
 * rows x G*H by G*H x H (beta 1), input rows x I by I x G*H. Parts that split columns get
 * every row and their columns of G*H (forward, input) or H (backward); their backward
 * kernel takes one gate block (H) of dA at a time, G calls a step: over all G*H at once
 * the panels of dA and W_hh outgrow the core's cache (B = 64, H = 256 float64: 150 GFLOP/s
 * on two cores in blocks, 89 at once). A shape libxsmm has no kernel for leaves fn NULL,
 * and BLAS runs it. */
static loom_status dispatch_smm(loom_rnn *r, size_t B)
{
    size_t H = r->cfg.hidden, gh = r->gates * H, units = r->cfg.layers * r->dirs;
    size_t parts = r->work.parts;
    int cols = r->work.columns;
    for (size_t k = 0; k < units; k++)
        for (size_t part = 0; part < parts; part++) {
            size_t rows = cols ? B : part_rows(B, parts, part), at = k * RNN_MAX_PARTS + part;
            size_t fcols = cols ? part_rows(gh, parts, part) : gh, bcols = cols ? part_rows(H, parts, part) : H;
            size_t in = layer_input(r, k / r->dirs);
            loom_status st = loom_smm_dispatch(&r->work.smm_forward[at], r->dtype, rows, fcols, H, H,
                                               gh, gh, r->cfg.kind == LOOM_GRU ? 0 : 1);
            if (st == LOOM_OK)
                st = loom_smm_dispatch(&r->work.smm_backward[at], r->dtype, rows, bcols, cols ? H : gh,
                                       gh, H, H, 1);
            if (st == LOOM_OK)
                st = loom_smm_dispatch(&r->work.smm_input[at], r->dtype, rows, fcols, in, in, gh, gh, 0);
            if (st != LOOM_OK)
                return st;
        }
    return LOOM_OK;
}

/* One part, BLAS products: no JIT kernel stays in use. */
static void use_blas(loom_rnn *r)
{
    size_t units = r->cfg.layers * r->dirs;
    r->work.parts = 1;
    r->work.columns = 0;
    memset(r->work.smm_forward, 0, 3 * units * RNN_MAX_PARTS * sizeof(loom_smm));
}

/* ---- float64: the kernels, per-step products and passes ---- */

static void copy_rows_f64(double *dst, size_t dst_ld, const double *src, size_t src_ld, size_t rows,
                          size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        loom_copy_bytes(dst + i * dst_ld, src + i * src_ld, cols * sizeof(double));
}

/* dst (cols x rows) = src (rows x cols)^T, or += with add, in 16 x 16 tiles (a row-by-row
 * pass strides through dst a page at a time), each tile written a dst row at a time: 512 x
 * 128 float64 in 25 us, against 170 us for 32 x 32 tiles with the bounds in the inner loops. */
static void transpose_into_f64(double *restrict dst, const double *restrict src, size_t rows,
                                size_t cols, int add)
{
    enum { TILE = 16 };
    for (size_t i0 = 0; i0 < rows; i0 += TILE) {
        size_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
        for (size_t j0 = 0; j0 < cols; j0 += TILE) {
            size_t j1 = j0 + TILE < cols ? j0 + TILE : cols;
            for (size_t j = j0; j < j1; j++) {
                double *d = dst + j * rows;
                if (add)
                    for (size_t i = i0; i < i1; i++)
                        d[i] += src[i * cols + j];
                else
                    for (size_t i = i0; i < i1; i++)
                        d[i] = src[i * cols + j];
            }
        }
    }
}

/* ---- the per-step recurrent products ---- */

/* out (B x G*H) = h (B x H) W_hh^T + beta out: through the unit's JIT kernel when it has
 * one (it reads the transposed copy wt), else BLAS (gemv for one row). */
static loom_status rec_forward_f64(const loom_rnn *r, size_t k, size_t part, double *out, double *h,
                                   size_t B, int beta)
{
    const loom_rnn_params *p = &r->params[k];
    size_t H = r->cfg.hidden, gh = r->gates * H;
    const loom_rnn_work *w = &r->work;
    const loom_smm *smm = &w->smm_forward[k * RNN_MAX_PARTS + part];
    if (smm->fn) { /* c0: split columns, this part's first */
        size_t c0 = w->columns ? part_row0(gh, w->parts, part) : 0;
        loom_smm_run(smm, h, w->wt[k] + c0, out + c0);
        return LOOM_OK;
    }
    if (B == 1) {
        loom_matrix o = loom_matrix_wrap(out, gh, 1), v = loom_matrix_wrap(h, H, 1);
        return loom_gemm(&o, 1.0, &p->w_hh, 0, &v, 0, beta);
    }
    loom_matrix o = loom_matrix_wrap(out, B, gh), a = loom_matrix_wrap(h, B, H);
    return loom_gemm(&o, 1.0, &a, 0, &p->w_hh, 1, beta);
}

/* dh (B x H) += da (B x G*H) W_hh. */
static loom_status rec_backward_f64(const loom_rnn *r, size_t k, size_t part, double *dh, double *da,
                                    size_t B)
{
    const loom_rnn_params *p = &r->params[k];
    size_t H = r->cfg.hidden, gh = r->gates * H;
    const loom_rnn_work *w = &r->work;
    const loom_smm *smm = &w->smm_backward[k * RNN_MAX_PARTS + part];
    if (smm->fn && w->columns) { /* one gate block of dA at a time, see dispatch_smm */
        size_t c0 = part_row0(H, w->parts, part);
        for (size_t g = 0; g < r->gates; g++)
            loom_smm_run(smm, da + g * H, p->w_hh.data + g * H * H + c0, dh + c0);
        return LOOM_OK;
    }
    if (smm->fn) {
        loom_smm_run(smm, da, p->w_hh.data, dh);
        return LOOM_OK;
    }
    if (B == 1) {
        loom_matrix o = loom_matrix_wrap(dh, H, 1), v = loom_matrix_wrap(da, gh, 1);
        return loom_gemm(&o, 1.0, &p->w_hh, 1, &v, 0, 1.0);
    }
    loom_matrix o = loom_matrix_wrap(dh, B, H), a = loom_matrix_wrap(da, B, gh);
    return loom_gemm(&o, 1.0, &a, 0, &p->w_hh, 0, 1.0);
}

/* ---- fused elementwise kernels of one step: B rows, valid[b] says whether it runs ----
 * Forward kernels get the gate pre-activations without biases (the input projection has
 * beta 0) and add bias (G*H: b_ih + b_hh; for GRU's n gate b_in only). They write the new
 * state to h_new and to the layer output o (row stride ld; zero for rows that did not run,
 * whose state is copied through). */

/* a: B x H pre-activations in, activations out; h = act(a). */
LOOM_CLONES
static void rnn_step_forward_f64(double *a, double *h_new, double *o, size_t ld, const double *h_prev,
                                 const double *bias, const unsigned char *valid, size_t B,
                                 size_t H, int relu)
{
    for (size_t b = 0; b < B; b++) {
        double *ab = a + b * H, *hb = h_new + b * H, *ob = o + b * ld;
        if (!valid[b]) {
            loom_copy_bytes(hb, h_prev + b * H, H * sizeof(double));
            loom_zero_bytes(ab, H * sizeof(double));
            loom_zero_bytes(ob, H * sizeof(double));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double x = ab[j] + bias[j];
            double v = relu ? (x > 0.0 ? x : 0.0) : loom_tanh(x);
            ab[j] = v;
            hb[j] = v;
            ob[j] = v;
        }
    }
}

/* a: B x 4H pre-activations (i, f, g, o) in, activations out; c = f c_prev + i g,
 * h = o tanh(c); tanh_c keeps tanh(c) for the backward pass. */
LOOM_CLONES
static void lstm_step_forward_f64(double *a, double *h_new, double *c_new, double *tanh_c, double *o,
                                  size_t ld, const double *h_prev, const double *c_prev,
                                  const double *bias, const unsigned char *valid, size_t B,
                                  size_t H)
{
    for (size_t b = 0; b < B; b++) {
        double *ab = a + b * 4 * H, *hb = h_new + b * H, *cb = c_new + b * H;
        double *tcb = tanh_c + b * H, *ob = o + b * ld;
        const double *cp = c_prev + b * H;
        if (!valid[b]) {
            loom_copy_bytes(hb, h_prev + b * H, H * sizeof(double));
            loom_copy_bytes(cb, cp, H * sizeof(double));
            loom_zero_bytes(ab, 4 * H * sizeof(double));
            loom_zero_bytes(ob, H * sizeof(double));
            continue;
        }
        double *ai = ab, *af = ab + H, *ag = ab + 2 * H, *ao = ab + 3 * H;
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double i = loom_sigmoid(ai[j] + bias[j]), f = loom_sigmoid(af[j] + bias[H + j]);
            double g = loom_tanh(ag[j] + bias[2 * H + j]), og = loom_sigmoid(ao[j] + bias[3 * H + j]);
            double c = f * cp[j] + i * g;
            ai[j] = i;
            af[j] = f;
            ag[j] = g;
            ao[j] = og;
            cb[j] = c;
            double tc = loom_tanh(c);
            tcb[j] = tc;
            hb[j] = og * tc;
            ob[j] = og * tc;
        }
    }
}

/* a: B x 3H input projections (r, z, n); rec: B x 3H recurrent projections W_hh h_prev;
 * bias holds b_ih + (b_hr, b_hz, 0). Out: a holds (r, z, n), hn = W_hn h + b_hn,
 * h = (1 - z) n + z h_prev. */
LOOM_CLONES
static void gru_step_forward_f64(double *a, double *h_new, double *hn, double *o, size_t ld,
                                 const double *rec, const double *bias, const double *b_hh,
                                 const double *h_prev, const unsigned char *valid, size_t B,
                                 size_t H)
{
    for (size_t b = 0; b < B; b++) {
        double *ab = a + b * 3 * H, *hb = h_new + b * H, *hnb = hn + b * H, *ob = o + b * ld;
        const double *hp = h_prev + b * H, *rb = rec + b * 3 * H;
        if (!valid[b]) {
            loom_copy_bytes(hb, hp, H * sizeof(double));
            loom_zero_bytes(ab, 3 * H * sizeof(double));
            loom_zero_bytes(hnb, H * sizeof(double));
            loom_zero_bytes(ob, H * sizeof(double));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double rg = loom_sigmoid(ab[j] + bias[j] + rb[j]);
            double z = loom_sigmoid(ab[H + j] + bias[H + j] + rb[H + j]);
            double hnj = rb[2 * H + j] + b_hh[2 * H + j];
            double n = loom_tanh(ab[2 * H + j] + bias[2 * H + j] + rg * hnj);
            double h = (1.0 - z) * n + z * hp[j];
            ab[j] = rg;
            ab[H + j] = z;
            ab[2 * H + j] = n;
            hnb[j] = hnj;
            hb[j] = h;
            ob[j] = h;
        }
    }
}

/* Backward kernels. dh: B x H, the gradient at the step's output state from the later steps
 * in; out, the part of the gradient at h_prev that does not go through W_hh. dy (row stride
 * dy_ld): the gradient arriving at the step's output, added to dh for rows that ran (a row
 * of zeros with stride 0 when there is none). da: B x G*H gradient at the gate
 * pre-activations (zero for rows that did not run, whose dh passes through unchanged).
 * dbias (G*H) gains the column sums of da: the bias gradient, summed while da is in cache
 * instead of in one more pass over all steps. */
LOOM_CLONES
static void rnn_step_backward_f64(double *da, double *dh, double *dbias, const double *dy, size_t dy_ld,
                                  const double *a, const unsigned char *valid, size_t B, size_t H,
                                  int relu)
{
    for (size_t b = 0; b < B; b++) {
        double *db = da + b * H, *dhb = dh + b * H;
        const double *ab = a + b * H, *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(db, H * sizeof(double));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double d = dhb[j] + dyb[j];
            /* relu' is 1 where the activation is positive, tanh' = 1 - tanh^2; both are
             * computed and one picked, which GCC vectorises (a nested choice it does not) */
            double drelu = ab[j] > 0.0 ? 1.0 : 0.0, dtanh = 1.0 - ab[j] * ab[j];
            double g = d * (relu ? drelu : dtanh);
            db[j] = g;
            dbias[j] += g;
            dhb[j] = 0.0;
        }
    }
}

/* dc: B x H gradient at the step's cell in, at c_prev out. */
LOOM_CLONES
static void lstm_step_backward_f64(double *da, double *dh, double *dc, double *dbias, const double *dy,
                                   size_t dy_ld,
                                   const double *a, const double *tanh_c, const double *c_prev,
                                   const unsigned char *valid, size_t B, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        double *db = da + b * 4 * H, *dhb = dh + b * H, *dcb = dc + b * H;
        const double *ab = a + b * 4 * H, *tcb = tanh_c + b * H, *cp = c_prev + b * H;
        const double *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(db, 4 * H * sizeof(double));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double i = ab[j], f = ab[H + j], g = ab[2 * H + j], o = ab[3 * H + j];
            double tc = tcb[j], d = dhb[j] + dyb[j];
            double dcj = dcb[j] + d * o * (1.0 - tc * tc);
            double di = dcj * g * i * (1.0 - i), df = dcj * cp[j] * f * (1.0 - f);
            double dg = dcj * i * (1.0 - g * g), dO = d * tc * o * (1.0 - o);
            db[j] = di;
            db[H + j] = df;
            db[2 * H + j] = dg;
            db[3 * H + j] = dO;
            dbias[j] += di;
            dbias[H + j] += df;
            dbias[2 * H + j] += dg;
            dbias[3 * H + j] += dO;
            dcb[j] = dcj * f;
            dhb[j] = 0.0;
        }
    }
}

/* dai: gradient at the input-side pre-activations (r, z, n), dah: at the hidden-side
 * projections (equal for r and z, r * dn for n); dbias gains the sums of dai, dbias_hn (H)
 * those of dah's n part (the gradient of b_hn). */
LOOM_CLONES
static void gru_step_backward_f64(double *dai, double *dah, double *dh, double *dbias, double *dbias_hn,
                                  const double *dy, size_t dy_ld,
                                  const double *a, const double *hn, const double *h_prev,
                                  const unsigned char *valid, size_t B, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        double *di = dai + b * 3 * H, *dhh = dah + b * 3 * H, *dhb = dh + b * H;
        const double *ab = a + b * 3 * H, *hnb = hn + b * H, *hp = h_prev + b * H;
        const double *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(di, 3 * H * sizeof(double));
            loom_zero_bytes(dhh, 3 * H * sizeof(double));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            double rg = ab[j], z = ab[H + j], n = ab[2 * H + j], d = dhb[j] + dyb[j];
            double dan = d * (1.0 - z) * (1.0 - n * n);
            double dar = dan * hnb[j] * rg * (1.0 - rg);
            double daz = d * (hp[j] - n) * z * (1.0 - z);
            di[j] = dhh[j] = dar;
            di[H + j] = dhh[H + j] = daz;
            di[2 * H + j] = dan;
            dhh[2 * H + j] = dan * rg;
            dbias[j] += dar;
            dbias[H + j] += daz;
            dbias[2 * H + j] += dan;
            dbias_hn[j] += dan * rg;
            dhb[j] = d * z;
        }
    }
}

/* ---- forward ---- */

/* The steps of one part's rows (rnn_part): the recurrent product and the fused kernel. */
static loom_status forward_rows_f64(const rnn_part *pt)
{
    loom_rnn *r = pt->r;
    loom_rnn_work *w = &r->work;
    size_t l = pt->l, d = pt->d, k = l * r->dirs + d, T = w->steps, B = w->batch;
    size_t H = r->cfg.hidden, gh = r->gates * H, hd = H * r->dirs, r0 = pt->row0, rows = pt->rows;
    const loom_rnn_params *p = &r->params[k];
    double *a = w->gates[k], *hs = w->h[k], *cs = w->c[k], *bias = w->bias;
    size_t in = layer_input(r, l);
    const double *x_in = input_in_loop(r, k) ? w->xin[l] : NULL;
    const double *wit = x_in ? w->wt[k] + H * gh : NULL; /* wt is NULL without JIT kernels */
    loom_status st;
    for (size_t s = 0; s < T; s++) {
        size_t t = d == 0 ? s : T - 1 - s, at_row = t * B + r0;
        double *at = a + at_row * gh;
        double *hp = hs + (prev_block(d, t) * B + r0) * H;
        double *hnew = hs + (next_block(d, t) * B + r0) * H;
        double *o = w->out[l] + at_row * hd + d * H;
        const unsigned char *valid = w->valid + at_row;
        if (x_in) { /* at = x_t W_ih^T (beta 0): rows, or split columns of every row */
            size_t c0 = w->columns ? part_row0(gh, w->parts, pt->part) : 0, x0 = w->columns ? t * B : at_row;
            loom_smm_run(&w->smm_input[k * RNN_MAX_PARTS + pt->part], x_in + x0 * in, wit + c0,
                         a + x0 * gh + c0);
            part_tick(pt, LOOM_RNN_INPUT_PROJECTION);
        }
        /* The recurrent product: this part's rows, or (split columns) its columns of every
         * row, then a wait until the other part's are there too. The JIT kernels of split
         * columns cannot fail, so no part leaves the other waiting. */
        int gru = r->cfg.kind == LOOM_GRU;
        double *rec = gru ? w->step + r0 * gh : at;
        if (w->columns)
            st = rec_forward_f64(r, k, pt->part, rec - r0 * gh, hp - r0 * H, B, !gru);
        else
            st = rec_forward_f64(r, k, pt->part, rec, hp, rows, !gru);
        part_wait(pt);
        if (st != LOOM_OK)
            return st;
        part_tick(pt, LOOM_RNN_RECURRENT);
        if (gru) {
            gru_step_forward_f64(at, hnew, w->hn[k] + at_row * H, o, hd, rec, bias, p->b_hh.data, hp,
                                 valid, rows, H);
        } else {
            if (r->cfg.kind == LOOM_LSTM)
                lstm_step_forward_f64(at, hnew, cs + (next_block(d, t) * B + r0) * H,
                                      w->tanh_c[k] + at_row * H, o, hd, hp,
                                      cs + (prev_block(d, t) * B + r0) * H, bias, valid, rows, H);
            else
                rnn_step_forward_f64(at, hnew, o, hd, hp, bias, valid, rows, H,
                                     r->cfg.kind == LOOM_RNN_RELU);
        }
        part_tick(pt, LOOM_RNN_GATES);
        part_wait(pt); /* split columns: every row's new state is there */
    }
    return LOOM_OK;
}

static loom_status layer_forward_f64(loom_rnn *r, size_t l, size_t d, size_t T, size_t B,
                                     const loom_matrix *h0, const loom_matrix *c0)
{
    loom_rnn_work *w = &r->work;
    size_t k = l * r->dirs + d, H = r->cfg.hidden, gh = r->gates * H;
    size_t in = layer_input(r, l);
    const loom_rnn_params *p = &r->params[k];
    double *hs = w->h[k], *cs = w->c[k];
    size_t start = d == 0 ? 0 : T;
    if (h0)
        copy_rows_f64(hs + start * B * H, H, loom_at(h0, k * B, 0), h0->ld, B, H);
    else
        loom_zero_bytes(hs + start * B * H, B * H * sizeof(double));
    if (cs) {
        if (c0)
            copy_rows_f64(cs + start * B * H, H, loom_at(c0, k * B, 0), c0->ld, B, H);
        else
            loom_zero_bytes(cs + start * B * H, B * H * sizeof(double));
    }
    double *bias = w->bias;
    for (size_t j = 0; j < gh; j++)
        bias[j] = p->b_ih.data[j] + (r->cfg.kind != LOOM_GRU || j < 2 * H ? p->b_hh.data[j] : 0.0);
    if (w->smm_forward[k * RNN_MAX_PARTS].fn) /* the JIT kernels read W_hh^T */
        transpose_into_f64(w->wt[k], p->w_hh.data, gh, H, 0);
    if (input_in_loop(r, k)) { /* and W_ih^T after it */
        transpose_into_f64(w->wt[k] + H * gh, p->w_ih.data, gh, in, 0);
        prof_tick(r, LOOM_RNN_OTHER);
        return run_parts(r, l, d, 0, NULL, 0);
    }
    prof_tick(r, LOOM_RNN_OTHER);
    loom_status st = project_inputs(r, l, d);
    return st == LOOM_OK ? run_parts(r, l, d, 0, NULL, 0) : st;
}

/* The forward pass after loom_rnn_forward checked the arguments and laid out the workspace
 * for T steps of B sequences; drop: draw dropout masks between layers. */
static loom_status forward_f64(loom_rnn *r, loom_matrix *out, loom_matrix *h_t, loom_matrix *c_t,
                               const loom_matrix *x, const loom_matrix *h0,
                               const loom_matrix *c0, loom_rng *rng, int drop)
{
    loom_rnn_work *w = &r->work;
    size_t T = w->steps, B = w->batch, n = T * B, H = r->cfg.hidden, hd = H * r->dirs;
    size_t units = r->cfg.layers * r->dirs;
    copy_rows_f64(w->x, r->cfg.input, x->data, x->ld, n, r->cfg.input);
    for (size_t l = 0; l < r->cfg.layers; l++) {
        if (l == 0) {
            w->xin[l] = w->x;
        } else if (drop) {
            /* mask holds the scaled keep mask, then the dropped input. */
            double *mask = w->mask[l], *dropped = mask + n * hd, *prev = w->out[l - 1];
            double keep = 1.0 - r->cfg.dropout;
            for (size_t i = 0; i < n * hd; i++) {
                mask[i] = loom_rng_uniform(rng) < keep ? 1.0 / keep : 0.0;
                dropped[i] = prev[i] * mask[i];
            }
            w->xin[l] = dropped;
        } else {
            w->xin[l] = w->out[l - 1];
        }
        for (size_t d = 0; d < r->dirs; d++) {
            loom_status st = layer_forward_f64(r, l, d, T, B, h0, c0);
            if (st != LOOM_OK)
                return st;
        }
    }
    copy_rows_f64(out->data, out->ld, w->out[r->cfg.layers - 1], hd, n, hd);
    for (size_t k = 0; k < units; k++) {
        size_t last = k % r->dirs == 0 ? T : 0;
        if (h_t)
            copy_rows_f64(loom_at(h_t, k * B, 0), h_t->ld, w->h[k] + last * B * H, H, B, H);
        if (c_t)
            copy_rows_f64(loom_at(c_t, k * B, 0), c_t->ld, w->c[k] + last * B * H, H, B, H);
    }
    return LOOM_OK;
}

/* ---- backward ---- */

/* BPTT of one layer and direction. dy (ld dy_ld, may be NULL): gradient at this
 * direction's output columns; dx (n x in, ld dx_ld, may be NULL) receives (beta 0) or gains
 * (beta 1) the gradient at the layer's input. */
/* BPTT through the steps of one part's rows (rnn_part), newest step first. */
static loom_status backward_rows_f64(const rnn_part *pt)
{
    loom_rnn *r = pt->r;
    loom_rnn_work *w = &r->work;
    size_t l = pt->l, d = pt->d, k = l * r->dirs + d, T = w->steps, B = w->batch;
    size_t H = r->cfg.hidden, gh = r->gates * H, r0 = pt->row0, rows = pt->rows;
    loom_rnn_kind kind = r->cfg.kind;
    const double *dy = pt->dy, *zeros = w->zeros;
    size_t dy_ld = pt->dy_ld;
    double *ch = w->carry_h + r0 * H, *cc = w->carry_c + r0 * H;
    double *dbias = w->bias + pt->part * (gh + H);
    loom_zero_bytes(dbias, (gh + H) * sizeof(double));
    loom_status st;
    for (size_t s = 0; s < T; s++) {
        size_t t = d == 0 ? T - 1 - s : s, at_row = t * B + r0;
        const unsigned char *valid = w->valid + at_row;
        const double *a = w->gates[k] + at_row * gh;
        double *da = w->dgates + at_row * gh, *dah = w->dgates_h + at_row * gh;
        const double *dyt = dy ? dy + at_row * dy_ld : zeros;
        const double *hp = w->h[k] + (prev_block(d, t) * B + r0) * H;
        if (kind == LOOM_LSTM)
            lstm_step_backward_f64(da, ch, cc, dbias, dyt, dy_ld, a, w->tanh_c[k] + at_row * H,
                                   w->c[k] + (prev_block(d, t) * B + r0) * H, valid, rows, H);
        else if (kind == LOOM_GRU)
            gru_step_backward_f64(da, dah, ch, dbias, dbias + gh, dyt, dy_ld, a, w->hn[k] + at_row * H,
                                  hp, valid, rows, H);
        else
            rnn_step_backward_f64(da, ch, dbias, dyt, dy_ld, a, valid, rows, H, kind == LOOM_RNN_RELU);
        part_tick(pt, LOOM_RNN_GATES_BACKWARD);
        gather_xh(w, l, hp, at_row, rows, layer_input(r, l), H, sizeof(double));
        /* dh_prev: this part's rows, or (split columns) every row's columns of this part
         * once every row's dA is there; then every row's dh_prev before the next step. */
        part_wait(pt);
        if (w->columns)
            st = rec_backward_f64(r, k, pt->part, ch - r0 * H, dah - r0 * gh, B);
        else
            st = rec_backward_f64(r, k, pt->part, ch, dah, rows);
        part_wait(pt);
        if (st != LOOM_OK)
            return st;
        part_tick(pt, LOOM_RNN_RECURRENT_BACKWARD);
    }
    return LOOM_OK;
}

static loom_status layer_backward_f64(loom_rnn *r, size_t l, size_t d, const double *dy,
                                      size_t dy_ld, double *dx, size_t dx_ld, double beta,
                                      const loom_matrix *dh_t, const loom_matrix *dc_t,
                                      loom_matrix *dh0, loom_matrix *dc0)
{
    loom_rnn_work *w = &r->work;
    size_t T = w->steps, B = w->batch, n = T * B, H = r->cfg.hidden, gh = r->gates * H;
    size_t k = l * r->dirs + d, in = layer_input(r, l);
    const loom_rnn_params *p = &r->params[k];
    loom_rnn_params *g = &r->grad[k];
    loom_rnn_kind kind = r->cfg.kind;
    double *ch = w->carry_h, *cc = w->carry_c;
    if (dh_t)
        copy_rows_f64(ch, H, loom_at(dh_t, k * B, 0), dh_t->ld, B, H);
    else
        loom_zero_bytes(ch, B * H * sizeof(double));
    if (kind == LOOM_LSTM) {
        if (dc_t)
            copy_rows_f64(cc, H, loom_at(dc_t, k * B, 0), dc_t->ld, B, H);
        else
            loom_zero_bytes(cc, B * H * sizeof(double));
    }
    /* Without dy the kernels add a row of zeros (stride 0). */
    if (!dy) {
        loom_zero_bytes(w->zeros, H * sizeof(double));
        dy_ld = 0;
    }
    /* The bias gradient sums (G*H, then H for GRU's b_hn) in the bias scratch, which
     * backward does not otherwise use: one sum per part, added in part order. */
    double *dbias = w->bias;
    prof_tick(r, LOOM_RNN_OTHER);
    loom_status st = run_parts(r, l, d, 1, dy, dy_ld);
    if (st != LOOM_OK)
        return st;
    for (size_t part = 1; part < w->parts; part++)
        for (size_t j = 0; j < gh + H; j++)
            dbias[j] += dbias[part * (gh + H) + j];
    if (dh0)
        copy_rows_f64(loom_at(dh0, k * B, 0), dh0->ld, ch, H, B, H);
    if (dc0 && kind == LOOM_LSTM)
        copy_rows_f64(loom_at(dc0, k * B, 0), dc0->ld, cc, H, B, H);
    prof_tick(r, LOOM_RNN_OTHER);
    /* Weight and bias gradients of all steps at once. */
    loom_matrix dam = loom_matrix_wrap(w->dgates, n, gh), dahm = loom_matrix_wrap(w->dgates_h, n, gh);
    loom_matrix xm = loom_matrix_wrap(w->xin[l], n, in);
    loom_matrix hprev = loom_matrix_wrap(w->h[k] + (d == 0 ? 0 : B * H), n, H);
    /* dW^T = [x | h_prev]^T dA into the scratch, then added transposed: OpenBLAS packs dA
     * (the large operand) untransposed that way, 10-25% faster than dW = dA^T [x | h_prev].
     * One product over the rows BPTT gathered in xh (two for GRU, whose hidden side has its
     * own dA): 25% faster than two at (T*B, I, H) = (1600, 32, 128), 12% at (6400, 64, 256). */
    double *wg = w->wgrad;
    loom_matrix wgi = loom_matrix_wrap(wg, in, gh), wgh = loom_matrix_wrap(wg + in * gh, H, gh);
    if (gathers_xh(w)) {
        loom_matrix xhm = loom_matrix_wrap(w->xh, n, in + H), wgm = loom_matrix_wrap(wg, in + H, gh);
        st = loom_gemm(&wgm, 1.0, &xhm, 1, &dam, 0, 0.0);
    } else if ((st = loom_gemm(&wgi, 1.0, &xm, 1, &dam, 0, 0.0)) == LOOM_OK) {
        st = loom_gemm(&wgh, 1.0, &hprev, 1, &dahm, 0, 0.0);
    }
    if (st != LOOM_OK)
        return st;
    transpose_into_f64(g->w_ih.data, wg, in, gh, 1);
    transpose_into_f64(g->w_hh.data, wg + in * gh, H, gh, 1);
    /* b_ih and b_hh get the same sums, except GRU's b_hn (its own sum after the G*H). */
    for (size_t j = 0; j < gh; j++) {
        g->b_ih.data[j] += dbias[j];
        g->b_hh.data[j] += kind == LOOM_GRU && j >= 2 * H ? dbias[gh + j - 2 * H] : dbias[j];
    }
    prof_tick(r, LOOM_RNN_WEIGHT_GRADIENTS);
    if (dx) {
        loom_matrix dxm = loom_matrix_wrap(dx, n, in);
        dxm.ld = dx_ld;
        if ((st = loom_gemm(&dxm, 1.0, &dam, 0, &p->w_ih, 0, beta)) != LOOM_OK)
            return st;
        prof_tick(r, LOOM_RNN_INPUT_GRADIENT);
    }
    return LOOM_OK;
}

/* BPTT after loom_rnn_backward checked the arguments. */
static loom_status backward_f64(loom_rnn *r, loom_matrix *dx, loom_matrix *dh0, loom_matrix *dc0,
                                const loom_matrix *dout, const loom_matrix *dh_t,
                                const loom_matrix *dc_t)
{
    loom_rnn_work *w = &r->work;
    size_t n = w->steps * w->batch, H = r->cfg.hidden, hd = H * r->dirs, L = r->cfg.layers;
    for (size_t l = L; l-- > 0;) {
        const double *dy = NULL;
        size_t dy_ld = hd;
        if (l == L - 1) {
            if (dout) {
                dy = dout->data;
                dy_ld = dout->ld;
            }
        } else {
            dy = w->dy[l & 1];
        }
        double *dxl = l > 0 ? w->dy[(l - 1) & 1] : (dx ? dx->data : NULL);
        size_t dx_ld = l > 0 ? hd : (dx ? dx->ld : 0);
        for (size_t d = 0; d < r->dirs; d++) {
            loom_status st = layer_backward_f64(r, l, d, dy ? dy + d * H : NULL, dy_ld, dxl,
                                                dx_ld, d == 0 ? 0.0 : 1.0, dh_t, dc_t, dh0, dc0);
            if (st != LOOM_OK)
                return st;
        }
        if (l > 0 && w->dropped) {
            const double *mask = w->mask[l];
            for (size_t i = 0; i < n * hd; i++)
                dxl[i] *= mask[i];
        }
    }
    return LOOM_OK;
}

/* ---- float32 twins of the above ----
 * The same algorithm on float storage: parameters in values32, workspace pieces carved as
 * for float64 and used as float arrays (as_f32), sgemm through loom_gemm, float constants
 * so that nothing widens to double. */

/* float32 views of the workspace's pieces (carved in doubles, used as floats), and back. */
static inline float *as_f32(double *p)
{
    return (float *)(void *)p;
}
static inline double *as_f64_slot(float *p)
{
    return (double *)(void *)p;
}

static void copy_rows_f32(float *dst, size_t dst_ld, const float *src, size_t src_ld, size_t rows,
                          size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        loom_copy_bytes(dst + i * dst_ld, src + i * src_ld, cols * sizeof(float));
}

/* As transpose_into_f64. */
static void transpose_into_f32(float *restrict dst, const float *restrict src, size_t rows,
                                size_t cols, int add)
{
    enum { TILE = 16 };
    for (size_t i0 = 0; i0 < rows; i0 += TILE) {
        size_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
        for (size_t j0 = 0; j0 < cols; j0 += TILE) {
            size_t j1 = j0 + TILE < cols ? j0 + TILE : cols;
            for (size_t j = j0; j < j1; j++) {
                float *d = dst + j * rows;
                if (add)
                    for (size_t i = i0; i < i1; i++)
                        d[i] += src[i * cols + j];
                else
                    for (size_t i = i0; i < i1; i++)
                        d[i] = src[i * cols + j];
            }
        }
    }
}

/* ---- the per-step recurrent products ---- */

/* out (B x G*H) = h (B x H) W_hh^T + beta out: through the unit's JIT kernel when it has
 * one (it reads the transposed copy wt), else BLAS (gemv for one row). */
static loom_status rec_forward_f32(const loom_rnn *r, size_t k, size_t part, float *out, float *h,
                                   size_t B, int beta)
{
    const loom_rnn_params *p = &r->params[k];
    size_t H = r->cfg.hidden, gh = r->gates * H;
    const loom_rnn_work *w = &r->work;
    const loom_smm *smm = &w->smm_forward[k * RNN_MAX_PARTS + part];
    if (smm->fn) { /* c0: split columns, this part's first */
        size_t c0 = w->columns ? part_row0(gh, w->parts, part) : 0;
        loom_smm_run(smm, h, as_f32(w->wt[k]) + c0, out + c0);
        return LOOM_OK;
    }
    if (B == 1) {
        loom_matrix o = loom_matrix_wrap_f32(out, gh, 1), v = loom_matrix_wrap_f32(h, H, 1);
        return loom_gemm(&o, 1.0, &p->w_hh, 0, &v, 0, beta);
    }
    loom_matrix o = loom_matrix_wrap_f32(out, B, gh), a = loom_matrix_wrap_f32(h, B, H);
    return loom_gemm(&o, 1.0, &a, 0, &p->w_hh, 1, beta);
}

/* dh (B x H) += da (B x G*H) W_hh. */
static loom_status rec_backward_f32(const loom_rnn *r, size_t k, size_t part, float *dh, float *da,
                                    size_t B)
{
    const loom_rnn_params *p = &r->params[k];
    size_t H = r->cfg.hidden, gh = r->gates * H;
    const loom_rnn_work *w = &r->work;
    const loom_smm *smm = &w->smm_backward[k * RNN_MAX_PARTS + part];
    if (smm->fn && w->columns) { /* one gate block of dA at a time, see dispatch_smm */
        size_t c0 = part_row0(H, w->parts, part);
        for (size_t g = 0; g < r->gates; g++)
            loom_smm_run(smm, da + g * H, p->w_hh.data32 + g * H * H + c0, dh + c0);
        return LOOM_OK;
    }
    if (smm->fn) {
        loom_smm_run(smm, da, p->w_hh.data32, dh);
        return LOOM_OK;
    }
    if (B == 1) {
        loom_matrix o = loom_matrix_wrap_f32(dh, H, 1), v = loom_matrix_wrap_f32(da, gh, 1);
        return loom_gemm(&o, 1.0, &p->w_hh, 1, &v, 0, 1.0);
    }
    loom_matrix o = loom_matrix_wrap_f32(dh, B, H), a = loom_matrix_wrap_f32(da, B, gh);
    return loom_gemm(&o, 1.0, &a, 0, &p->w_hh, 0, 1.0);
}

/* ---- fused elementwise kernels of one step: B rows, valid[b] says whether it runs ----
 * Forward kernels get the gate pre-activations without biases (the input projection has
 * beta 0) and add bias (G*H: b_ih + b_hh; for GRU's n gate b_in only). They write the new
 * state to h_new and to the layer output o (row stride ld; zero for rows that did not run,
 * whose state is copied through). */

/* a: B x H pre-activations in, activations out; h = act(a). */
LOOM_CLONES
static void rnn_step_forward_f32(float *a, float *h_new, float *o, size_t ld, const float *h_prev,
                                 const float *bias, const unsigned char *valid, size_t B,
                                 size_t H, int relu)
{
    for (size_t b = 0; b < B; b++) {
        float *ab = a + b * H, *hb = h_new + b * H, *ob = o + b * ld;
        if (!valid[b]) {
            loom_copy_bytes(hb, h_prev + b * H, H * sizeof(float));
            loom_zero_bytes(ab, H * sizeof(float));
            loom_zero_bytes(ob, H * sizeof(float));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float x = ab[j] + bias[j];
            float v = relu ? (x > 0.0f ? x : 0.0f) : loom_tanhf(x);
            ab[j] = v;
            hb[j] = v;
            ob[j] = v;
        }
    }
}

/* a: B x 4H pre-activations (i, f, g, o) in, activations out; c = f c_prev + i g,
 * h = o tanh(c); tanh_c keeps tanh(c) for the backward pass. */
LOOM_CLONES
static void lstm_step_forward_f32(float *a, float *h_new, float *c_new, float *tanh_c, float *o,
                                  size_t ld, const float *h_prev, const float *c_prev,
                                  const float *bias, const unsigned char *valid, size_t B,
                                  size_t H)
{
    for (size_t b = 0; b < B; b++) {
        float *ab = a + b * 4 * H, *hb = h_new + b * H, *cb = c_new + b * H;
        float *tcb = tanh_c + b * H, *ob = o + b * ld;
        const float *cp = c_prev + b * H;
        if (!valid[b]) {
            loom_copy_bytes(hb, h_prev + b * H, H * sizeof(float));
            loom_copy_bytes(cb, cp, H * sizeof(float));
            loom_zero_bytes(ab, 4 * H * sizeof(float));
            loom_zero_bytes(ob, H * sizeof(float));
            continue;
        }
        float *ai = ab, *af = ab + H, *ag = ab + 2 * H, *ao = ab + 3 * H;
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float i = loom_sigmoidf(ai[j] + bias[j]), f = loom_sigmoidf(af[j] + bias[H + j]);
            float g = loom_tanhf(ag[j] + bias[2 * H + j]), og = loom_sigmoidf(ao[j] + bias[3 * H + j]);
            float c = f * cp[j] + i * g;
            ai[j] = i;
            af[j] = f;
            ag[j] = g;
            ao[j] = og;
            cb[j] = c;
            float tc = loom_tanhf(c);
            tcb[j] = tc;
            hb[j] = og * tc;
            ob[j] = og * tc;
        }
    }
}

/* a: B x 3H input projections (r, z, n); rec: B x 3H recurrent projections W_hh h_prev;
 * bias holds b_ih + (b_hr, b_hz, 0). Out: a holds (r, z, n), hn = W_hn h + b_hn,
 * h = (1 - z) n + z h_prev. */
LOOM_CLONES
static void gru_step_forward_f32(float *a, float *h_new, float *hn, float *o, size_t ld,
                                 const float *rec, const float *bias, const float *b_hh,
                                 const float *h_prev, const unsigned char *valid, size_t B,
                                 size_t H)
{
    for (size_t b = 0; b < B; b++) {
        float *ab = a + b * 3 * H, *hb = h_new + b * H, *hnb = hn + b * H, *ob = o + b * ld;
        const float *hp = h_prev + b * H, *rb = rec + b * 3 * H;
        if (!valid[b]) {
            loom_copy_bytes(hb, hp, H * sizeof(float));
            loom_zero_bytes(ab, 3 * H * sizeof(float));
            loom_zero_bytes(hnb, H * sizeof(float));
            loom_zero_bytes(ob, H * sizeof(float));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float rg = loom_sigmoidf(ab[j] + bias[j] + rb[j]);
            float z = loom_sigmoidf(ab[H + j] + bias[H + j] + rb[H + j]);
            float hnj = rb[2 * H + j] + b_hh[2 * H + j];
            float n = loom_tanhf(ab[2 * H + j] + bias[2 * H + j] + rg * hnj);
            float h = (1.0f - z) * n + z * hp[j];
            ab[j] = rg;
            ab[H + j] = z;
            ab[2 * H + j] = n;
            hnb[j] = hnj;
            hb[j] = h;
            ob[j] = h;
        }
    }
}

/* Backward kernels. dh: B x H, the gradient at the step's output state from the later steps
 * in; out, the part of the gradient at h_prev that does not go through W_hh. dy (row stride
 * dy_ld): the gradient arriving at the step's output, added to dh for rows that ran (a row
 * of zeros with stride 0 when there is none). da: B x G*H gradient at the gate
 * pre-activations (zero for rows that did not run, whose dh passes through unchanged).
 * dbias (G*H) gains the column sums of da: the bias gradient, summed while da is in cache
 * instead of in one more pass over all steps. */
LOOM_CLONES
static void rnn_step_backward_f32(float *da, float *dh, float *dbias, const float *dy, size_t dy_ld,
                                  const float *a, const unsigned char *valid, size_t B, size_t H,
                                  int relu)
{
    for (size_t b = 0; b < B; b++) {
        float *db = da + b * H, *dhb = dh + b * H;
        const float *ab = a + b * H, *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(db, H * sizeof(float));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float d = dhb[j] + dyb[j];
            /* relu' is 1 where the activation is positive, tanh' = 1 - tanh^2; both are
             * computed and one picked, which GCC vectorises (a nested choice it does not) */
            float drelu = ab[j] > 0.0f ? 1.0f : 0.0f, dtanh = 1.0f - ab[j] * ab[j];
            float g = d * (relu ? drelu : dtanh);
            db[j] = g;
            dbias[j] += g;
            dhb[j] = 0.0f;
        }
    }
}

/* dc: B x H gradient at the step's cell in, at c_prev out. */
LOOM_CLONES
static void lstm_step_backward_f32(float *da, float *dh, float *dc, float *dbias, const float *dy,
                                   size_t dy_ld,
                                   const float *a, const float *tanh_c, const float *c_prev,
                                   const unsigned char *valid, size_t B, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        float *db = da + b * 4 * H, *dhb = dh + b * H, *dcb = dc + b * H;
        const float *ab = a + b * 4 * H, *tcb = tanh_c + b * H, *cp = c_prev + b * H;
        const float *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(db, 4 * H * sizeof(float));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float i = ab[j], f = ab[H + j], g = ab[2 * H + j], o = ab[3 * H + j];
            float tc = tcb[j], d = dhb[j] + dyb[j];
            float dcj = dcb[j] + d * o * (1.0f - tc * tc);
            float di = dcj * g * i * (1.0f - i), df = dcj * cp[j] * f * (1.0f - f);
            float dg = dcj * i * (1.0f - g * g), dO = d * tc * o * (1.0f - o);
            db[j] = di;
            db[H + j] = df;
            db[2 * H + j] = dg;
            db[3 * H + j] = dO;
            dbias[j] += di;
            dbias[H + j] += df;
            dbias[2 * H + j] += dg;
            dbias[3 * H + j] += dO;
            dcb[j] = dcj * f;
            dhb[j] = 0.0f;
        }
    }
}

/* dai: gradient at the input-side pre-activations (r, z, n), dah: at the hidden-side
 * projections (equal for r and z, r * dn for n); dbias gains the sums of dai, dbias_hn (H)
 * those of dah's n part (the gradient of b_hn). */
LOOM_CLONES
static void gru_step_backward_f32(float *dai, float *dah, float *dh, float *dbias, float *dbias_hn,
                                  const float *dy, size_t dy_ld,
                                  const float *a, const float *hn, const float *h_prev,
                                  const unsigned char *valid, size_t B, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        float *di = dai + b * 3 * H, *dhh = dah + b * 3 * H, *dhb = dh + b * H;
        const float *ab = a + b * 3 * H, *hnb = hn + b * H, *hp = h_prev + b * H;
        const float *dyb = dy + b * dy_ld;
        if (!valid[b]) {
            loom_zero_bytes(di, 3 * H * sizeof(float));
            loom_zero_bytes(dhh, 3 * H * sizeof(float));
            continue;
        }
        LOOM_SIMD
        for (size_t j = 0; j < H; j++) {
            float rg = ab[j], z = ab[H + j], n = ab[2 * H + j], d = dhb[j] + dyb[j];
            float dan = d * (1.0f - z) * (1.0f - n * n);
            float dar = dan * hnb[j] * rg * (1.0f - rg);
            float daz = d * (hp[j] - n) * z * (1.0f - z);
            di[j] = dhh[j] = dar;
            di[H + j] = dhh[H + j] = daz;
            di[2 * H + j] = dan;
            dhh[2 * H + j] = dan * rg;
            dbias[j] += dar;
            dbias[H + j] += daz;
            dbias[2 * H + j] += dan;
            dbias_hn[j] += dan * rg;
            dhb[j] = d * z;
        }
    }
}

/* ---- forward ---- */

/* The steps of one part's rows (rnn_part): the recurrent product and the fused kernel. */
static loom_status forward_rows_f32(const rnn_part *pt)
{
    loom_rnn *r = pt->r;
    loom_rnn_work *w = &r->work;
    size_t l = pt->l, d = pt->d, k = l * r->dirs + d, T = w->steps, B = w->batch;
    size_t H = r->cfg.hidden, gh = r->gates * H, hd = H * r->dirs, r0 = pt->row0, rows = pt->rows;
    const loom_rnn_params *p = &r->params[k];
    float *a = as_f32(w->gates[k]), *hs = as_f32(w->h[k]), *cs = as_f32(w->c[k]), *bias = as_f32(w->bias);
    size_t in = layer_input(r, l);
    const float *x_in = input_in_loop(r, k) ? as_f32(w->xin[l]) : NULL;
    const float *wit = x_in ? as_f32(w->wt[k]) + H * gh : NULL; /* wt is NULL without JIT kernels */
    loom_status st;
    for (size_t s = 0; s < T; s++) {
        size_t t = d == 0 ? s : T - 1 - s, at_row = t * B + r0;
        float *at = a + at_row * gh;
        float *hp = hs + (prev_block(d, t) * B + r0) * H;
        float *hnew = hs + (next_block(d, t) * B + r0) * H;
        float *o = as_f32(w->out[l]) + at_row * hd + d * H;
        const unsigned char *valid = w->valid + at_row;
        if (x_in) { /* at = x_t W_ih^T (beta 0): rows, or split columns of every row */
            size_t c0 = w->columns ? part_row0(gh, w->parts, pt->part) : 0, x0 = w->columns ? t * B : at_row;
            loom_smm_run(&w->smm_input[k * RNN_MAX_PARTS + pt->part], x_in + x0 * in, wit + c0,
                         a + x0 * gh + c0);
            part_tick(pt, LOOM_RNN_INPUT_PROJECTION);
        }
        /* As forward_rows_f64. */
        int gru = r->cfg.kind == LOOM_GRU;
        float *rec = gru ? as_f32(w->step) + r0 * gh : at;
        if (w->columns)
            st = rec_forward_f32(r, k, pt->part, rec - r0 * gh, hp - r0 * H, B, !gru);
        else
            st = rec_forward_f32(r, k, pt->part, rec, hp, rows, !gru);
        part_wait(pt);
        if (st != LOOM_OK)
            return st;
        part_tick(pt, LOOM_RNN_RECURRENT);
        if (gru) {
            gru_step_forward_f32(at, hnew, as_f32(w->hn[k]) + at_row * H, o, hd, rec, bias, p->b_hh.data32, hp,
                                 valid, rows, H);
        } else {
            if (r->cfg.kind == LOOM_LSTM)
                lstm_step_forward_f32(at, hnew, cs + (next_block(d, t) * B + r0) * H,
                                      as_f32(w->tanh_c[k]) + at_row * H, o, hd, hp,
                                      cs + (prev_block(d, t) * B + r0) * H, bias, valid, rows, H);
            else
                rnn_step_forward_f32(at, hnew, o, hd, hp, bias, valid, rows, H,
                                     r->cfg.kind == LOOM_RNN_RELU);
        }
        part_tick(pt, LOOM_RNN_GATES);
        part_wait(pt);
    }
    return LOOM_OK;
}

static loom_status layer_forward_f32(loom_rnn *r, size_t l, size_t d, size_t T, size_t B,
                                     const loom_matrix *h0, const loom_matrix *c0)
{
    loom_rnn_work *w = &r->work;
    size_t k = l * r->dirs + d, H = r->cfg.hidden, gh = r->gates * H;
    size_t in = layer_input(r, l);
    const loom_rnn_params *p = &r->params[k];
    float *hs = as_f32(w->h[k]), *cs = as_f32(w->c[k]);
    size_t start = d == 0 ? 0 : T;
    if (h0)
        copy_rows_f32(hs + start * B * H, H, loom_at32(h0, k * B, 0), h0->ld, B, H);
    else
        loom_zero_bytes(hs + start * B * H, B * H * sizeof(float));
    if (cs) {
        if (c0)
            copy_rows_f32(cs + start * B * H, H, loom_at32(c0, k * B, 0), c0->ld, B, H);
        else
            loom_zero_bytes(cs + start * B * H, B * H * sizeof(float));
    }
    float *bias = as_f32(w->bias);
    for (size_t j = 0; j < gh; j++)
        bias[j] = p->b_ih.data32[j] + (r->cfg.kind != LOOM_GRU || j < 2 * H ? p->b_hh.data32[j] : 0.0f);
    if (w->smm_forward[k * RNN_MAX_PARTS].fn) /* the JIT kernels read W_hh^T */
        transpose_into_f32(as_f32(w->wt[k]), p->w_hh.data32, gh, H, 0);
    if (input_in_loop(r, k)) { /* and W_ih^T after it */
        transpose_into_f32(as_f32(w->wt[k]) + H * gh, p->w_ih.data32, gh, in, 0);
        prof_tick(r, LOOM_RNN_OTHER);
        return run_parts(r, l, d, 0, NULL, 0);
    }
    prof_tick(r, LOOM_RNN_OTHER);
    loom_status st = project_inputs(r, l, d);
    return st == LOOM_OK ? run_parts(r, l, d, 0, NULL, 0) : st;
}

/* The forward pass after loom_rnn_forward checked the arguments and laid out the workspace
 * for T steps of B sequences; drop: draw dropout masks between layers. */
static loom_status forward_f32(loom_rnn *r, loom_matrix *out, loom_matrix *h_t, loom_matrix *c_t,
                               const loom_matrix *x, const loom_matrix *h0,
                               const loom_matrix *c0, loom_rng *rng, int drop)
{
    loom_rnn_work *w = &r->work;
    size_t T = w->steps, B = w->batch, n = T * B, H = r->cfg.hidden, hd = H * r->dirs;
    size_t units = r->cfg.layers * r->dirs;
    copy_rows_f32(as_f32(w->x), r->cfg.input, x->data32, x->ld, n, r->cfg.input);
    for (size_t l = 0; l < r->cfg.layers; l++) {
        if (l == 0) {
            w->xin[l] = w->x;
        } else if (drop) {
            /* mask holds the scaled keep mask, then the dropped input. */
            float *mask = as_f32(w->mask[l]), *dropped = mask + n * hd, *prev = as_f32(w->out[l - 1]);
            float keep = (float)(1.0 - r->cfg.dropout);
            for (size_t i = 0; i < n * hd; i++) {
                mask[i] = loom_rng_uniform(rng) < keep ? 1.0f / keep : 0.0f;
                dropped[i] = prev[i] * mask[i];
            }
            w->xin[l] = as_f64_slot(dropped);
        } else {
            w->xin[l] = w->out[l - 1];
        }
        for (size_t d = 0; d < r->dirs; d++) {
            loom_status st = layer_forward_f32(r, l, d, T, B, h0, c0);
            if (st != LOOM_OK)
                return st;
        }
    }
    copy_rows_f32(out->data32, out->ld, as_f32(w->out[r->cfg.layers - 1]), hd, n, hd);
    for (size_t k = 0; k < units; k++) {
        size_t last = k % r->dirs == 0 ? T : 0;
        if (h_t)
            copy_rows_f32(loom_at32(h_t, k * B, 0), h_t->ld, as_f32(w->h[k]) + last * B * H, H, B, H);
        if (c_t)
            copy_rows_f32(loom_at32(c_t, k * B, 0), c_t->ld, as_f32(w->c[k]) + last * B * H, H, B, H);
    }
    return LOOM_OK;
}

/* ---- backward ---- */

/* BPTT of one layer and direction. dy (ld dy_ld, may be NULL): gradient at this
 * direction's output columns; dx (n x in, ld dx_ld, may be NULL) receives (beta 0) or gains
 * (beta 1) the gradient at the layer's input. */
/* BPTT through the steps of one part's rows (rnn_part), newest step first. */
static loom_status backward_rows_f32(const rnn_part *pt)
{
    loom_rnn *r = pt->r;
    loom_rnn_work *w = &r->work;
    size_t l = pt->l, d = pt->d, k = l * r->dirs + d, T = w->steps, B = w->batch;
    size_t H = r->cfg.hidden, gh = r->gates * H, r0 = pt->row0, rows = pt->rows;
    loom_rnn_kind kind = r->cfg.kind;
    const float *dy = pt->dy, *zeros = as_f32(w->zeros);
    size_t dy_ld = pt->dy_ld;
    float *ch = as_f32(w->carry_h) + r0 * H, *cc = as_f32(w->carry_c) + r0 * H;
    float *dbias = as_f32(w->bias) + pt->part * (gh + H);
    loom_zero_bytes(dbias, (gh + H) * sizeof(float));
    loom_status st;
    for (size_t s = 0; s < T; s++) {
        size_t t = d == 0 ? T - 1 - s : s, at_row = t * B + r0;
        const unsigned char *valid = w->valid + at_row;
        const float *a = as_f32(w->gates[k]) + at_row * gh;
        float *da = as_f32(w->dgates) + at_row * gh, *dah = as_f32(w->dgates_h) + at_row * gh;
        const float *dyt = dy ? dy + at_row * dy_ld : zeros;
        const float *hp = as_f32(w->h[k]) + (prev_block(d, t) * B + r0) * H;
        if (kind == LOOM_LSTM)
            lstm_step_backward_f32(da, ch, cc, dbias, dyt, dy_ld, a, as_f32(w->tanh_c[k]) + at_row * H,
                                   as_f32(w->c[k]) + (prev_block(d, t) * B + r0) * H, valid, rows, H);
        else if (kind == LOOM_GRU)
            gru_step_backward_f32(da, dah, ch, dbias, dbias + gh, dyt, dy_ld, a, as_f32(w->hn[k]) + at_row * H,
                                  hp, valid, rows, H);
        else
            rnn_step_backward_f32(da, ch, dbias, dyt, dy_ld, a, valid, rows, H, kind == LOOM_RNN_RELU);
        part_tick(pt, LOOM_RNN_GATES_BACKWARD);
        gather_xh(w, l, hp, at_row, rows, layer_input(r, l), H, sizeof(float));
        /* dh_prev: this part's rows, or (split columns) every row's columns of this part
         * once every row's dA is there; then every row's dh_prev before the next step. */
        part_wait(pt);
        if (w->columns)
            st = rec_backward_f32(r, k, pt->part, ch - r0 * H, dah - r0 * gh, B);
        else
            st = rec_backward_f32(r, k, pt->part, ch, dah, rows);
        part_wait(pt);
        if (st != LOOM_OK)
            return st;
        part_tick(pt, LOOM_RNN_RECURRENT_BACKWARD);
    }
    return LOOM_OK;
}

static loom_status layer_backward_f32(loom_rnn *r, size_t l, size_t d, const float *dy,
                                      size_t dy_ld, float *dx, size_t dx_ld, double beta,
                                      const loom_matrix *dh_t, const loom_matrix *dc_t,
                                      loom_matrix *dh0, loom_matrix *dc0)
{
    loom_rnn_work *w = &r->work;
    size_t T = w->steps, B = w->batch, n = T * B, H = r->cfg.hidden, gh = r->gates * H;
    size_t k = l * r->dirs + d, in = layer_input(r, l);
    const loom_rnn_params *p = &r->params[k];
    loom_rnn_params *g = &r->grad[k];
    loom_rnn_kind kind = r->cfg.kind;
    float *ch = as_f32(w->carry_h), *cc = as_f32(w->carry_c);
    if (dh_t)
        copy_rows_f32(ch, H, loom_at32(dh_t, k * B, 0), dh_t->ld, B, H);
    else
        loom_zero_bytes(ch, B * H * sizeof(float));
    if (kind == LOOM_LSTM) {
        if (dc_t)
            copy_rows_f32(cc, H, loom_at32(dc_t, k * B, 0), dc_t->ld, B, H);
        else
            loom_zero_bytes(cc, B * H * sizeof(float));
    }
    /* Without dy the kernels add a row of zeros (stride 0). */
    if (!dy) {
        loom_zero_bytes(as_f32(w->zeros), H * sizeof(float));
        dy_ld = 0;
    }
    /* The bias gradient sums (G*H, then H for GRU's b_hn) in the bias scratch, which
     * backward does not otherwise use: one sum per part, added in part order. */
    float *dbias = as_f32(w->bias);
    prof_tick(r, LOOM_RNN_OTHER);
    loom_status st = run_parts(r, l, d, 1, dy, dy_ld);
    if (st != LOOM_OK)
        return st;
    for (size_t part = 1; part < w->parts; part++)
        for (size_t j = 0; j < gh + H; j++)
            dbias[j] += dbias[part * (gh + H) + j];
    if (dh0)
        copy_rows_f32(loom_at32(dh0, k * B, 0), dh0->ld, ch, H, B, H);
    if (dc0 && kind == LOOM_LSTM)
        copy_rows_f32(loom_at32(dc0, k * B, 0), dc0->ld, cc, H, B, H);
    prof_tick(r, LOOM_RNN_OTHER);
    /* Weight and bias gradients of all steps at once. */
    loom_matrix dam = loom_matrix_wrap_f32(as_f32(w->dgates), n, gh), dahm = loom_matrix_wrap_f32(as_f32(w->dgates_h), n, gh);
    loom_matrix xm = loom_matrix_wrap_f32(as_f32(w->xin[l]), n, in);
    loom_matrix hprev = loom_matrix_wrap_f32(as_f32(w->h[k]) + (d == 0 ? 0 : B * H), n, H);
    /* dW^T = [x | h_prev]^T dA into the scratch, then added transposed: OpenBLAS packs dA
     * (the large operand) untransposed that way, 10-25% faster than dW = dA^T [x | h_prev].
     * One product over the rows BPTT gathered in xh (two for GRU, whose hidden side has its
     * own dA): 25% faster than two at (T*B, I, H) = (1600, 32, 128), 12% at (6400, 64, 256). */
    float *wg = as_f32(w->wgrad);
    loom_matrix wgi = loom_matrix_wrap_f32(wg, in, gh), wgh = loom_matrix_wrap_f32(wg + in * gh, H, gh);
    if (gathers_xh(w)) {
        loom_matrix xhm = loom_matrix_wrap_f32(as_f32(w->xh), n, in + H), wgm = loom_matrix_wrap_f32(wg, in + H, gh);
        st = loom_gemm(&wgm, 1.0, &xhm, 1, &dam, 0, 0.0);
    } else if ((st = loom_gemm(&wgi, 1.0, &xm, 1, &dam, 0, 0.0)) == LOOM_OK) {
        st = loom_gemm(&wgh, 1.0, &hprev, 1, &dahm, 0, 0.0);
    }
    if (st != LOOM_OK)
        return st;
    transpose_into_f32(g->w_ih.data32, wg, in, gh, 1);
    transpose_into_f32(g->w_hh.data32, wg + in * gh, H, gh, 1);
    /* b_ih and b_hh get the same sums, except GRU's b_hn (its own sum after the G*H). */
    for (size_t j = 0; j < gh; j++) {
        g->b_ih.data32[j] += dbias[j];
        g->b_hh.data32[j] += kind == LOOM_GRU && j >= 2 * H ? dbias[gh + j - 2 * H] : dbias[j];
    }
    prof_tick(r, LOOM_RNN_WEIGHT_GRADIENTS);
    if (dx) {
        loom_matrix dxm = loom_matrix_wrap_f32(dx, n, in);
        dxm.ld = dx_ld;
        if ((st = loom_gemm(&dxm, 1.0, &dam, 0, &p->w_ih, 0, beta)) != LOOM_OK)
            return st;
        prof_tick(r, LOOM_RNN_INPUT_GRADIENT);
    }
    return LOOM_OK;
}

/* BPTT after loom_rnn_backward checked the arguments. */
static loom_status backward_f32(loom_rnn *r, loom_matrix *dx, loom_matrix *dh0, loom_matrix *dc0,
                                const loom_matrix *dout, const loom_matrix *dh_t,
                                const loom_matrix *dc_t)
{
    loom_rnn_work *w = &r->work;
    size_t n = w->steps * w->batch, H = r->cfg.hidden, hd = H * r->dirs, L = r->cfg.layers;
    for (size_t l = L; l-- > 0;) {
        const float *dy = NULL;
        size_t dy_ld = hd;
        if (l == L - 1) {
            if (dout) {
                dy = dout->data32;
                dy_ld = dout->ld;
            }
        } else {
            dy = as_f32(w->dy[l & 1]);
        }
        float *dxl = l > 0 ? as_f32(w->dy[(l - 1) & 1]) : (dx ? dx->data32 : NULL);
        size_t dx_ld = l > 0 ? hd : (dx ? dx->ld : 0);
        for (size_t d = 0; d < r->dirs; d++) {
            loom_status st = layer_backward_f32(r, l, d, dy ? dy + d * H : NULL, dy_ld, dxl,
                                                dx_ld, d == 0 ? 0.0 : 1.0, dh_t, dc_t, dh0, dc0);
            if (st != LOOM_OK)
                return st;
        }
        if (l > 0 && w->dropped) {
            const float *mask = as_f32(w->mask[l]);
            for (size_t i = 0; i < n * hd; i++)
                dxl[i] *= mask[i];
        }
    }
    return LOOM_OK;
}

/* ---- entry points: argument checks, then the dtype's pass ---- */

static void *run_part(void *arg)
{
    rnn_part *pt = arg;
    int f32 = pt->r->dtype == LOOM_F32;
    if (pt->backward)
        pt->status = f32 ? backward_rows_f32(pt) : backward_rows_f64(pt);
    else
        pt->status = f32 ? forward_rows_f32(pt) : forward_rows_f64(pt);
    return NULL;
}

loom_status loom_rnn_forward(loom_rnn *r, loom_matrix *out, loom_matrix *h_t, loom_matrix *c_t,
                             const loom_matrix *x, size_t batch, const size_t *lengths,
                             const loom_matrix *h0, const loom_matrix *c0, loom_rng *rng)
{
    prof_start(r);
    if (!dtypes_match(r, out, h_t, c_t, x) || !dtypes_match(r, h0, c0, NULL, NULL))
        return LOOM_EARG;
    size_t H = r->cfg.hidden, hd = H * r->dirs, units = r->cfg.layers * r->dirs;
    if (!r->values && !r->values32)
        return LOOM_EARG;
    if (batch == 0 || x->cols != r->cfg.input || x->rows == 0 || x->rows % batch != 0)
        return LOOM_EDIM;
    size_t B = batch, T = x->rows / batch, n = x->rows;
    int lstm = r->cfg.kind == LOOM_LSTM;
    if (out->rows != n || out->cols != hd || !state_shape_ok(h0, units * B, H)
        || !state_shape_ok(h_t, units * B, H) || (c0 && !lstm) || (c_t && !lstm)
        || !state_shape_ok(c0, units * B, H) || !state_shape_ok(c_t, units * B, H))
        return LOOM_EDIM;
    if (lengths)
        for (size_t b = 0; b < B; b++)
            if (lengths[b] < 1 || lengths[b] > T)
                return LOOM_EARG;
    int drop = r->training && dropout_used(r);
    if (drop && !rng)
        return LOOM_EARG;
    loom_rnn_work *w = &r->work;
    w->have_forward = 0;
    loom_status st = reserve(r, T, B);
    w->parts = parts_for(r, T, B);
    w->columns = w->parts > 1 && w_hh_split(r);
    if (st == LOOM_OK && r->gemm == LOOM_RNN_GEMM_XSMM && w->parts == 1 && w_hh_split(r)
        && r->cfg.gemm == LOOM_RNN_GEMM_AUTO) {
        use_blas(r); /* one core's kernels would read W_hh from memory (see "rows in parallel") */
    } else if (st == LOOM_OK && r->gemm == LOOM_RNN_GEMM_XSMM) {
        st = dispatch_smm(r, B);
        if (st == LOOM_OK && w->parts > 1 && !kernels_ready(r)) {
            /* a part without its JIT kernel would run BLAS from two threads at once */
            w->parts = 1;
            w->columns = 0;
            st = dispatch_smm(r, B);
        }
    } else if (st == LOOM_OK) { /* no kernel of an earlier dtype may stay in use */
        use_blas(r);
    }
    if (st != LOOM_OK)
        return st;
    w->steps = T;
    w->batch = B;
    w->dropped = drop;
    for (size_t b = 0; b < B; b++)
        w->lengths[b] = lengths ? lengths[b] : T;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            w->valid[t * B + b] = t < w->lengths[b];
    st = r->dtype == LOOM_F32 ? forward_f32(r, out, h_t, c_t, x, h0, c0, rng, drop)
                              : forward_f64(r, out, h_t, c_t, x, h0, c0, rng, drop);
    if (st != LOOM_OK)
        return st;
    w->have_forward = 1;
    prof_tick(r, LOOM_RNN_OTHER);
    r->profile.forwards++;
    return LOOM_OK;
}

loom_status loom_rnn_backward(loom_rnn *r, loom_matrix *dx, loom_matrix *dh0, loom_matrix *dc0,
                              const loom_matrix *dout, const loom_matrix *dh_t,
                              const loom_matrix *dc_t)
{
    prof_start(r);
    if (!dtypes_match(r, dx, dh0, dc0, dout) || !dtypes_match(r, dh_t, dc_t, NULL, NULL))
        return LOOM_EARG;
    loom_rnn_work *w = &r->work;
    if ((!r->values && !r->values32) || !w->have_forward)
        return LOOM_EARG;
    size_t n = w->steps * w->batch, B = w->batch, H = r->cfg.hidden, hd = H * r->dirs;
    size_t units = r->cfg.layers * r->dirs;
    int lstm = r->cfg.kind == LOOM_LSTM;
    if ((dout && (dout->rows != n || dout->cols != hd)) || (dx && (dx->rows != n || dx->cols != r->cfg.input))
        || !state_shape_ok(dh_t, units * B, H) || !state_shape_ok(dh0, units * B, H)
        || (dc_t && !lstm) || (dc0 && !lstm) || !state_shape_ok(dc_t, units * B, H)
        || !state_shape_ok(dc0, units * B, H))
        return LOOM_EDIM;
    loom_status st = r->dtype == LOOM_F32 ? backward_f32(r, dx, dh0, dc0, dout, dh_t, dc_t)
                                          : backward_f64(r, dx, dh0, dc0, dout, dh_t, dc_t);
    prof_tick(r, LOOM_RNN_OTHER);
    r->profile.backwards++;
    return st;
}

loom_status loom_rnn_gates_view(loom_matrix *view, const loom_rnn *r, size_t layer, size_t dir,
                                size_t t)
{
    const loom_rnn_work *w = &r->work;
    if (!w->have_forward || layer >= r->cfg.layers || dir >= r->dirs || t < 1 || t > w->steps)
        return LOOM_EARG;
    size_t gh = r->gates * r->cfg.hidden, at = (t - 1) * w->batch * gh;
    double *gates = w->gates[layer * r->dirs + dir];
    *view = r->dtype == LOOM_F32 ? loom_matrix_wrap_f32(as_f32(gates) + at, w->batch, gh)
                                 : loom_matrix_wrap(gates + at, w->batch, gh);
    return LOOM_OK;
}

loom_status loom_rnn_cells_view(loom_matrix *view, const loom_rnn *r, size_t layer, size_t dir)
{
    const loom_rnn_work *w = &r->work;
    if (r->cfg.kind != LOOM_LSTM || !w->have_forward || layer >= r->cfg.layers || dir >= r->dirs)
        return LOOM_EARG;
    size_t H = r->cfg.hidden, B = w->batch;
    /* c[k] holds T+1 blocks of B x H; the state after step t is block next_block(dir, t-1). */
    size_t at = next_block(dir, 0) * B * H;
    double *c = w->c[layer * r->dirs + dir];
    *view = r->dtype == LOOM_F32 ? loom_matrix_wrap_f32((float *)(void *)c + at, w->steps * B, H)
                                 : loom_matrix_wrap(c + at, w->steps * B, H);
    return LOOM_OK;
}

/* ---- naive references ---- */

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static double dot_row(const loom_matrix *w, size_t row, const loom_matrix *v, size_t vrow)
{
    double s = 0.0;
    for (size_t j = 0; j < w->cols; j++)
        s += *loom_at(w, row, j) * *loom_at(v, vrow, j);
    return s;
}

loom_status loom_rnn_step_naive(loom_rnn_kind kind, loom_matrix *h_new, loom_matrix *c_new,
                                loom_matrix *gates, const loom_matrix *x,
                                const loom_matrix *h_prev, const loom_matrix *c_prev,
                                const loom_rnn_params *p)
{
    size_t B = x->rows, H = h_prev->cols, G = loom_rnn_gate_count(kind);
    if (p->w_ih.rows != G * H || p->w_ih.cols != x->cols || p->w_hh.cols != H
        || h_prev->rows != B || h_new->rows != B || h_new->cols != H
        || (kind == LOOM_LSTM && (!c_prev || !c_new || c_prev->rows != B || c_new->rows != B))
        || (gates && (gates->rows != B || gates->cols != G * H)))
        return LOOM_EDIM;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < H; j++) {
            /* pre[q]: input part + b_ih, rec[q]: hidden part + b_hh, for gate q of unit j. */
            double pre[4], rec[4], act[4];
            for (size_t q = 0; q < G; q++) {
                size_t row = q * H + j;
                pre[q] = dot_row(&p->w_ih, row, x, b) + p->b_ih.data[row];
                rec[q] = dot_row(&p->w_hh, row, h_prev, b) + p->b_hh.data[row];
            }
            double hp = *loom_at(h_prev, b, j), h;
            if (kind == LOOM_LSTM) {
                act[0] = sigmoid(pre[0] + rec[0]);
                act[1] = sigmoid(pre[1] + rec[1]);
                act[2] = tanh(pre[2] + rec[2]);
                act[3] = sigmoid(pre[3] + rec[3]);
                double c = act[1] * *loom_at(c_prev, b, j) + act[0] * act[2];
                *loom_at(c_new, b, j) = c;
                h = act[3] * tanh(c);
            } else if (kind == LOOM_GRU) {
                act[0] = sigmoid(pre[0] + rec[0]);
                act[1] = sigmoid(pre[1] + rec[1]);
                act[2] = tanh(pre[2] + act[0] * rec[2]);
                h = (1.0 - act[1]) * act[2] + act[1] * hp;
            } else {
                double v = pre[0] + rec[0];
                act[0] = kind == LOOM_RNN_TANH ? tanh(v) : (v > 0.0 ? v : 0.0);
                h = act[0];
            }
            *loom_at(h_new, b, j) = h;
            if (gates)
                for (size_t q = 0; q < G; q++)
                    *loom_at(gates, b, q * H + j) = act[q];
        }
    return LOOM_OK;
}

/* ---- one LSTM step on caller-owned buffers (the seq2seq decoder, src/core/decoder.c) ---- */

static int lstm_rows_ok(const loom_matrix *gates, const loom_matrix *const *states, size_t n)
{
    size_t B = gates->rows, H = gates->cols / 4;
    if (gates->cols != 4 * H)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (states[i]->rows != B || states[i]->cols != H || states[i]->dtype != gates->dtype)
            return 0;
    return 1;
}

/* The fused kernels above, one row at a time (rows of a strided view are not contiguous).
 * The layer output the kernels also write is the new state itself (stride H). */
loom_status loom_lstm_step(loom_matrix *gates, loom_matrix *h_new, loom_matrix *c_new,
                           loom_matrix *tanh_c, const loom_matrix *h_prev,
                           const loom_matrix *c_prev, const loom_matrix *bias)
{
    const loom_matrix *const states[] = {h_new, c_new, tanh_c, h_prev, c_prev};
    if (!lstm_rows_ok(gates, states, 5) || loom_numel(bias) != gates->cols
        || !loom_is_contiguous(bias) || bias->dtype != gates->dtype)
        return LOOM_EDIM;
    static const unsigned char run = 1;
    size_t H = h_new->cols;
    for (size_t b = 0; b < gates->rows; b++) {
        if (gates->dtype == LOOM_F32)
            lstm_step_forward_f32(loom_at32(gates, b, 0), loom_at32(h_new, b, 0), loom_at32(c_new, b, 0),
                                  loom_at32(tanh_c, b, 0), loom_at32(h_new, b, 0), H,
                                  loom_at32(h_prev, b, 0), loom_at32(c_prev, b, 0), bias->data32,
                                  &run, 1, H);
        else
            lstm_step_forward_f64(loom_at(gates, b, 0), loom_at(h_new, b, 0), loom_at(c_new, b, 0),
                                  loom_at(tanh_c, b, 0), loom_at(h_new, b, 0), H,
                                  loom_at(h_prev, b, 0), loom_at(c_prev, b, 0), bias->data,
                                  &run, 1, H);
    }
    return LOOM_OK;
}

loom_status loom_lstm_step_backward(loom_matrix *dgates, loom_matrix *dh, loom_matrix *dc,
                                    loom_matrix *dbias, const loom_matrix *dy,
                                    const loom_matrix *gates, const loom_matrix *tanh_c,
                                    const loom_matrix *c_prev)
{
    const loom_matrix *const states[] = {dh, dc, dy, tanh_c, c_prev};
    if (!lstm_rows_ok(gates, states, 5) || !loom_same_shape(dgates, gates)
        || dgates->dtype != gates->dtype || loom_numel(dbias) != gates->cols
        || !loom_is_contiguous(dbias) || dbias->dtype != gates->dtype)
        return LOOM_EDIM;
    static const unsigned char run = 1;
    size_t H = dh->cols;
    for (size_t b = 0; b < gates->rows; b++) {
        if (gates->dtype == LOOM_F32)
            lstm_step_backward_f32(loom_at32(dgates, b, 0), loom_at32(dh, b, 0), loom_at32(dc, b, 0),
                                   dbias->data32, loom_at32(dy, b, 0), H, loom_at32(gates, b, 0),
                                   loom_at32(tanh_c, b, 0), loom_at32(c_prev, b, 0), &run, 1, H);
        else
            lstm_step_backward_f64(loom_at(dgates, b, 0), loom_at(dh, b, 0), loom_at(dc, b, 0),
                                   dbias->data, loom_at(dy, b, 0), H, loom_at(gates, b, 0),
                                   loom_at(tanh_c, b, 0), loom_at(c_prev, b, 0), &run, 1, H);
    }
    return LOOM_OK;
}
