/* rnn_onednn.c: the oneDNN reference of tests/bench/rnn.lua: a training step (forward over
 * the sequence, backward from a gradient at the final state) of a one-layer LSTM, GRU
 * (oneDNN's linear-before-reset GRU, PyTorch's equations) or tanh RNN through oneDNN's RNN
 * primitives, float32. Not part of loom: scripts/bench.sh builds it against libdnnl-dev.
 *
 * oneDNN's CPU RNN primitives have no float64, so there is no float64 reference. Weights
 * are kept in the layout the forward primitive prefers; when the backward one wants
 * another, the step pays the reorder, as a training loop must (weights change each step).
 * The step leaves out loom's linear head and SGD update (tens of microseconds at these
 * shapes), which only favours oneDNN. Threads: OMP_NUM_THREADS (libdnnl uses OpenMP).
 *
 * Usage: rnn_onednn seconds kinds shapes   e.g. rnn_onednn 1 LSTM,GRU,RNN 1,2,3
 * Prints "kind B T I H f32_ms" per case, like tests/bench/rnn.py. */
#define _POSIX_C_SOURCE 200809L
#include <oneapi/dnnl/dnnl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        dnnl_status_t s_ = (call);                                                       \
        if (s_ != dnnl_success) {                                                        \
            fprintf(stderr, "rnn_onednn: %s failed (status %d)\n", #call, (int)s_);     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static const int SHAPES[3][4] = {{1, 50, 16, 32}, {32, 50, 32, 128}, {64, 100, 64, 256}};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One primitive's arguments: memories created from what its descriptor asks for. */
typedef struct args {
    dnnl_exec_arg_t a[32];
    int n;
} args;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

/* The memory for argument id of pd, or NULL when pd takes none. Filled with small values. */
static dnnl_memory_t make(const_dnnl_primitive_desc_t pd, int id)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, id);
    if (!md || md->ndims == 0)
        return NULL;
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < n; i++)
        ((float *)p)[i] = (float)((double)rand() / RAND_MAX - 0.5) * 0.2f;
    return m;
}

static void add(args *x, int id, dnnl_memory_t m)
{
    if (m)
        x->a[x->n++] = (dnnl_exec_arg_t){id, m};
}

static void md3(dnnl_memory_desc_t *md, int a, int b, int c, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {a, b, c};
    CHECK(dnnl_memory_desc_init_by_tag(md, 3, d, dnnl_f32, tag));
}

static void md4(dnnl_memory_desc_t *md, int a, int b, int c, int e, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {a, b, c, e};
    CHECK(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, tag));
}

static void md5(dnnl_memory_desc_t *md, int a, int b, int c, int e, int f, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {a, b, c, e, f};
    CHECK(dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, tag));
}

/* Seconds per training step of kind at B, T, I, H: batches of steps lasting about
 * budget/3 each, the best of three (as rnn.lua and rnn.py measure). */
static double bench(const char *kind, int B, int T, int I, int H, double budget)
{
    int lstm = strcmp(kind, "LSTM") == 0, gru = strcmp(kind, "GRU") == 0;
    int G = lstm ? 4 : gru ? 3 : 1, GB = gru ? 4 : G; /* lbr GRU has a fourth bias */
    dnnl_memory_desc_t src, dst, iter, wl, wi, bias, wl_any, wi_any, none;
    memset(&none, 0, sizeof none);
    md3(&src, T, B, I, dnnl_tnc);
    md3(&dst, T, B, H, dnnl_tnc);
    md4(&iter, 1, 1, B, H, dnnl_ldnc);
    md4(&bias, 1, 1, GB, H, dnnl_ldgo);
    md5(&wl, 1, 1, I, G, H, dnnl_format_tag_any);
    md5(&wi, 1, 1, H, G, H, dnnl_format_tag_any);
    wl_any = wl;
    wi_any = wi;
    dnnl_rnn_desc_t fd, bd;
    dnnl_rnn_direction_t dir = dnnl_unidirectional_left2right;
    if (lstm) {
        CHECK(dnnl_lstm_forward_desc_init(&fd, dnnl_forward_training, dir, &src, &none, &none,
                                          &wl, &wi, &bias, &dst, &iter, &iter, 0));
        CHECK(dnnl_lstm_backward_desc_init(&bd, dnnl_backward, dir, &src, &none, &none, &wl_any,
                                           &wi_any, &bias, &dst, &iter, &iter, &src, &none,
                                           &none, &wl_any, &wi_any, &bias, &dst, &iter, &iter, 0));
    } else if (gru) {
        CHECK(dnnl_lbr_gru_forward_desc_init(&fd, dnnl_forward_training, dir, &src, &none, &wl,
                                             &wi, &bias, &dst, &iter, 0));
        CHECK(dnnl_lbr_gru_backward_desc_init(&bd, dnnl_backward, dir, &src, &none, &wl_any,
                                              &wi_any, &bias, &dst, &iter, &src, &none, &wl_any,
                                              &wi_any, &bias, &dst, &iter, 0));
    } else {
        CHECK(dnnl_vanilla_rnn_forward_desc_init(&fd, dnnl_forward_training, dnnl_eltwise_tanh,
                                                 dir, &src, &none, &wl, &wi, &bias, &dst, &iter,
                                                 0, 0.0f, 0.0f));
        CHECK(dnnl_vanilla_rnn_backward_desc_init(&bd, dnnl_backward, dnnl_eltwise_tanh, dir, &src,
                                                  &none, &wl_any, &wi_any, &bias, &dst, &iter,
                                                  &src, &none, &wl_any, &wi_any, &bias, &dst,
                                                  &iter, 0, 0.0f, 0.0f));
    }
    dnnl_primitive_desc_t fpd, bpd;
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    CHECK(dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd));
    dnnl_primitive_t fwd, bwd;
    CHECK(dnnl_primitive_create(&fwd, fpd));
    CHECK(dnnl_primitive_create(&bwd, bpd));

    /* Forward memories; the backward shares what has the same layout. */
    static const int shared[] = {DNNL_ARG_SRC_LAYER, DNNL_ARG_DST_LAYER, DNNL_ARG_DST_ITER,
                                 DNNL_ARG_DST_ITER_C, DNNL_ARG_BIAS, DNNL_ARG_WORKSPACE};
    static const int weights[] = {DNNL_ARG_WEIGHTS_LAYER, DNNL_ARG_WEIGHTS_ITER};
    static const int diffs[] = {DNNL_ARG_DIFF_SRC_LAYER, DNNL_ARG_DIFF_WEIGHTS_LAYER,
                                DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS,
                                DNNL_ARG_DIFF_DST_LAYER, DNNL_ARG_DIFF_DST_ITER,
                                DNNL_ARG_DIFF_DST_ITER_C};
    args fa = {.n = 0}, ba = {.n = 0};
    dnnl_memory_t mem[64] = {0};
    int nmem = 0;
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        dnnl_memory_t m = make(fpd, shared[i]);
        add(&fa, shared[i], m);
        add(&ba, shared[i], m);
        mem[nmem++] = m;
    }
    dnnl_primitive_t reorders[2] = {NULL, NULL};
    dnnl_memory_t wsrc[2] = {NULL, NULL}, wdst[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        dnnl_memory_t mf = make(fpd, weights[i]);
        add(&fa, weights[i], mf);
        mem[nmem++] = mf;
        const dnnl_memory_desc_t *fmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_exec_arg_md, weights[i]);
        const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(bpd, dnnl_query_exec_arg_md, weights[i]);
        if (dnnl_memory_desc_equal(fmd, bmd)) {
            add(&ba, weights[i], mf);
            continue;
        }
        dnnl_memory_t mb = make(bpd, weights[i]);
        add(&ba, weights[i], mb);
        mem[nmem++] = mb;
        dnnl_primitive_desc_t rpd;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, fmd, engine, bmd, engine, NULL));
        CHECK(dnnl_primitive_create(&reorders[i], rpd));
        CHECK(dnnl_primitive_desc_destroy(rpd));
        wsrc[i] = mf;
        wdst[i] = mb;
    }
    for (size_t i = 0; i < sizeof diffs / sizeof diffs[0]; i++) {
        dnnl_memory_t m = make(bpd, diffs[i]);
        add(&ba, diffs[i], m);
        if (m)
            mem[nmem++] = m;
    }
    /* The gradient arrives at the final state only (the head sits on h_T). */
    for (int i = 0; i < ba.n; i++)
        if (ba.a[i].arg == DNNL_ARG_DIFF_DST_LAYER) {
            void *p;
            CHECK(dnnl_memory_get_data_handle(ba.a[i].memory, &p));
            memset(p, 0, (size_t)T * B * H * sizeof(float));
        }

    int reps = 1;
    double best = 1e30;
    for (int round = -2; round < 3; round++) { /* two rounds warm up and size the batches */
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            CHECK(dnnl_primitive_execute(fwd, stream, fa.n, fa.a));
            for (int i = 0; i < 2; i++)
                if (reorders[i]) {
                    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, wsrc[i]}, {DNNL_ARG_TO, wdst[i]}};
                    CHECK(dnnl_primitive_execute(reorders[i], stream, 2, ra));
                }
            CHECK(dnnl_primitive_execute(bwd, stream, ba.n, ba.a));
        }
        CHECK(dnnl_stream_wait(stream));
        double per = (now() - t0) / reps;
        if (round == -1) {
            reps = (int)(budget / 3 / per);
            reps = reps < 1 ? 1 : reps;
        } else if (round >= 0 && per < best) {
            best = per;
        }
    }
    for (int i = 0; i < nmem; i++)
        dnnl_memory_destroy(mem[i]);
    for (int i = 0; i < 2; i++)
        if (reorders[i])
            dnnl_primitive_destroy(reorders[i]);
    dnnl_primitive_destroy(fwd);
    dnnl_primitive_destroy(bwd);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
    return best;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 1.0;
    char kinds[64] = "LSTM,GRU,RNN", shapes[16] = "1,2,3";
    if (argc > 2)
        snprintf(kinds, sizeof kinds, "%s", argv[2]);
    if (argc > 3)
        snprintf(shapes, sizeof shapes, "%s", argv[3]);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    srand(1);
    for (char *kind = strtok(kinds, ","); kind; kind = strtok(NULL, ",")) {
        char list[16];
        snprintf(list, sizeof list, "%s", shapes);
        for (const char *c = list; *c; c++) {
            if (*c < '1' || *c > '3')
                continue;
            const int *s = SHAPES[*c - '1'];
            double t = bench(kind, s[0], s[1], s[2], s[3], budget);
            printf("%s %d %d %d %d %.4f\n", kind, s[0], s[1], s[2], s[3], t * 1e3);
            fflush(stdout);
        }
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
