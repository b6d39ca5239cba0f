#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* Data-parallel training of a character LSTM language model with seq_mpi.h.
 *   mpirun -np 4 build/mpi_char_lm_mpi [FILE] [--steps N] [--batch B] [--hidden C]
 *                                      [--save PATH] [--resume PATH] [--quiet]
 *   build/mpi_char_lm [...]          the same program built without MPI: one rank
 * Every rank draws the same global batch of B windows of FILE's first 90% (default
 * seq.h) from one shared random stream and trains on its own block of rows; gradients are
 * averaged with one all-reduce, so N ranks take the steps one rank would take on the whole
 * batch, N times faster at best. The held-out tail is scored with its windows spread over
 * the ranks. --save writes a checkpoint (parameters and Adam state, rank 0 alone, renamed
 * into place when complete) every 100 steps and at the end; --resume reads it on every
 * rank and continues from its step. Rank 0 reports bits per character against a unigram
 * model of the training text and the share of the step spent in the all-reduce.
 * --quiet prints the result line; exit 0 only when the held-out bpc is at least 25% below
 * the unigram's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define SEQ_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include "../seq_mpi.h"
#include "layer_zoo.h"

enum { VOCAB = 256, T = 128, EVAL_ROWS = 32 };

typedef struct args {
    const char *file, *save, *resume;
    int64_t steps, batch, hidden;
    int quiet;
} args;

static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse(int argc, char **argv, args *a) {
    int i;
    a->file = "seq.h", a->save = a->resume = NULL;
    a->steps = 300, a->batch = 16, a->hidden = 128, a->quiet = 0;
    for (i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--quiet") == 0) a->quiet = 1;
        else if (k[0] != '-') a->file = k;
        else if (!v) return 0;
        else if (strcmp(k, "--steps") == 0) a->steps = atoll(argv[++i]);
        else if (strcmp(k, "--batch") == 0) a->batch = atoll(argv[++i]);
        else if (strcmp(k, "--hidden") == 0) a->hidden = atoll(argv[++i]);
        else if (strcmp(k, "--save") == 0) a->save = argv[++i];
        else if (strcmp(k, "--resume") == 0) a->resume = argv[++i];
        else return 0;
    }
    return a->steps >= 0 && a->batch > 0 && a->hidden > 0;
}

/* FILE's bytes (NULL when unreadable or empty). */
static unsigned char *slurp(const char *path, int64_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    int64_t cap = 0;
    size_t got;
    *n = 0;
    if (!f) return NULL;
    do {
        unsigned char *grown;
        cap = cap ? 2 * cap : 1 << 16;
        if (!(grown = (unsigned char *)realloc(buf, (size_t)cap))) break;
        buf = grown;
        got = fread(buf + *n, 1, (size_t)(cap - *n), f);
        *n += (int64_t)got;
    } while (*n == cap);
    fclose(f);
    if (*n == 0) free(buf);
    return *n ? buf : NULL;
}

/* Windows [lo,hi) of text, each T inputs and the T characters after them, as (rows,T). */
static void fill_windows(const unsigned char *text, const int64_t *start, int64_t lo, int64_t hi, int32_t *ids,
                         int32_t *next) {
    int64_t r, t;
    for (r = lo; r < hi; r++)
        for (t = 0; t < T; t++) ids[(r - lo) * T + t] = text[start[r] + t], next[(r - lo) * T + t] = text[start[r] + t + 1];
}

/* Cross-entropy of rows [lo,hi) of the windows at start, recorded on ctx. */
static seq_tensor *window_loss(seq_ctx *ctx, const zoo_model *m, const unsigned char *text, const int64_t *start,
                               int64_t lo, int64_t hi) {
    int64_t shape[2];
    int32_t *ids = (int32_t *)seq_ctx_alloc(ctx, (size_t)(2 * (hi - lo) * T) * sizeof(int32_t));
    if (!ids) return NULL;
    fill_windows(text, start, lo, hi, ids, ids + (hi - lo) * T);
    shape[0] = hi - lo, shape[1] = T;
    return seq_cross_entropy(ctx, zoo_model_forward(ctx, m, seq_tensor_wrap_i32(ctx, ids, 2, shape)),
                             seq_tensor_wrap_i32(ctx, ids + (hi - lo) * T, 2, shape), -1);
}

/* Bits per character on text[0..n), its consecutive windows split over the ranks and the
 * summed log-loss all-reduced. */
static double heldout_bpc(seq_mpi *mpi, seq_ctx *ctx, const zoo_model *m, const unsigned char *text, int64_t n) {
    int64_t windows = (n - 1) / T, lo, hi, w, *start = (int64_t *)malloc((size_t)(windows + 1) * sizeof(int64_t));
    double sum[2] = {0, 0}; /* nats, characters */
    if (!start) return NAN;
    for (w = 0; w < windows; w++) start[w] = w * T;
    seq_mpi_shard(mpi, windows, &lo, &hi);
    seq_ctx_set_grad(ctx, 0);
    for (w = lo; w < hi; w += EVAL_ROWS) {
        int64_t end = hi - w < EVAL_ROWS ? hi : w + EVAL_ROWS;
        seq_tensor *loss;
        seq_ctx_reset(ctx);
        if (!(loss = window_loss(ctx, m, text, start, w, end))) break;
        sum[0] += (double)loss->data[0] * (double)((end - w) * T), sum[1] += (double)((end - w) * T);
    }
    seq_ctx_set_grad(ctx, 1);
    free(start);
    if (seq_mpi_allreduce_sum(mpi, sum, 2) != SEQ_OK || sum[1] == 0) return NAN;
    return sum[0] / sum[1] / log(2.0);
}

/* Bits per character of add-one unigram counts of train, on test. */
static double unigram_bpc(const unsigned char *train, int64_t ntrain, const unsigned char *test, int64_t ntest) {
    double freq[VOCAB], bits = 0;
    int64_t i;
    for (i = 0; i < VOCAB; i++) freq[i] = 1;
    for (i = 0; i < ntrain; i++) freq[train[i]]++;
    for (i = 0; i < ntest; i++) bits -= log2(freq[test[i]] / (double)(ntrain + VOCAB));
    return bits / (double)ntest;
}

int main(int argc, char **argv) {
    args a;
    seq_mpi mpi;
    unsigned char *text = NULL;
    int64_t n = 0, ntrain, step = 0, first, lo, hi, r, *start = NULL;
    seq_params *P = NULL;
    seq_ctx *ctx = NULL;
    seq_adamw opt;
    seq_optim_state *states[1];
    zoo_model m;
    seq_rng init, data;
    seq_status s = SEQ_OK;
    double t0, t_train = 0, comm0, bpc, uni;
    int ok = 0, rc = 1;

    if (!parse(argc, argv, &a)) {
        fprintf(stderr, "usage: mpi_char_lm [FILE] [--steps N] [--batch B] [--hidden C] [--save PATH] [--resume PATH] "
                        "[--quiet]\n");
        return 2;
    }
    if (seq_mpi_init(&mpi, seq_mpi_config_default()) != SEQ_OK) {
        fprintf(stderr, "mpi_char_lm: %s\n", seq_last_error());
        return 1;
    }
    text = slurp(a.file, &n);
    ntrain = n - n / 10;
    seq_rng_seed(&init, 42);
    seq_rng_seed(&data, 7); /* one stream on every rank: the same global batches */
    P = seq_params_init(NULL);
    ctx = seq_ctx_init(NULL);
    start = (int64_t *)malloc((size_t)a.batch * sizeof(int64_t));
    memset(&opt, 0, sizeof opt);
    if (!text || n / 10 < T + 1) {
        fprintf(stderr, "mpi_char_lm: %s: %s\n", a.file, text ? "shorter than 10 windows" : "cannot read it");
        goto done;
    }
    if (!P || !ctx || !start ||
        zoo_model_init(&m, P, zoo_model_config_default(ZOO_LSTM, VOCAB, a.hidden, 1)) != SEQ_OK ||
        seq_params_alloc(P, &init) != SEQ_OK || zoo_model_reset_parameters(&m, &init) != SEQ_OK ||
        seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK ||
        seq_mpi_broadcast_params(&mpi, P, 0) != SEQ_OK) { /* rank 0's initial values everywhere */
        fprintf(stderr, "mpi_char_lm: rank %d: %s\n", mpi.rank, seq_last_error());
        goto done;
    }
    states[0] = &opt.st;
    if (a.resume) {
        if (seq_mpi_checkpoint_load(&mpi, a.resume, P, states, 1) != SEQ_OK) {
            fprintf(stderr, "mpi_char_lm: %s\n", seq_last_error());
            goto done;
        }
        for (step = 0; step < opt.st.step; step++) /* replay the data stream to where it was */
            for (r = 0; r < a.batch; r++) seq_rng_below(&data, (uint64_t)(ntrain - T - 1));
    }
    seq_mpi_shard(&mpi, a.batch, &lo, &hi);
    if (!a.quiet && mpi.rank == 0)
        printf("mpi_char_lm: %d rank%s, %s: LSTM hidden %lld, %lld parameters, global batch %lld x %d (%lld rows "
               "on rank 0)%s\n",
               mpi.size, mpi.size > 1 ? "s" : "", a.file, (long long)a.hidden, (long long)P->numel, (long long)a.batch,
               T, (long long)(hi - lo), a.resume ? ", resumed" : "");

    t0 = wall();
    comm0 = mpi.comm_seconds;
    for (first = step; step < a.steps && s == SEQ_OK; step++) {
        seq_tensor *loss;
        double mean;
        for (r = 0; r < a.batch; r++) start[r] = (int64_t)seq_rng_below(&data, (uint64_t)(ntrain - T - 1));
        seq_ctx_reset(ctx);
        loss = window_loss(ctx, &m, text, start, lo, hi);
        if (seq_ctx_status(ctx) != SEQ_OK) {
            fprintf(stderr, "mpi_char_lm: %s\n", seq_ctx_error(ctx));
            break;
        }
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        s = seq_mpi_allreduce_grads(&mpi, P, (float)(hi - lo) / (float)a.batch);
        seq_clip_grad_norm(P, 1.0f);
        if (s == SEQ_OK) s = seq_adamw_step(&opt, P, seq_lr_cosine(step, a.steps, 3e-3f, 3e-4f, a.steps / 20));
        if (s == SEQ_OK && a.save && ((step + 1) % 100 == 0 || step + 1 == a.steps))
            s = seq_mpi_checkpoint_save(&mpi, a.save, P, (const seq_optim_state *const *)states, 1);
        mean = loss->data[0] * (double)(hi - lo) / (double)a.batch; /* this rank's share of the global loss */
        if (s == SEQ_OK && !a.quiet && (step % 25 == 24 || step + 1 == a.steps)) {
            if ((s = seq_mpi_allreduce_sum(&mpi, &mean, 1)) == SEQ_OK && mpi.rank == 0)
                printf("  step %4lld  loss %.3f  bpc %.3f  %.1fk tok/s\n", (long long)step + 1, mean, mean / log(2.0),
                       1e-3 * (double)((step + 1 - first) * a.batch * T) / (wall() - t0));
        }
    }
    t_train = wall() - t0;
    if (s != SEQ_OK) {
        fprintf(stderr, "mpi_char_lm: rank %d: %s\n", mpi.rank, seq_last_error());
        goto done;
    }
    if (seq_mpi_check_params(&mpi, P) != SEQ_OK) {
        fprintf(stderr, "mpi_char_lm: %s\n", seq_last_error());
        goto done;
    }
    bpc = heldout_bpc(&mpi, ctx, &m, text + ntrain, n - ntrain);
    uni = unigram_bpc(text, ntrain, text + ntrain, n - ntrain);
    ok = bpc <= 0.75 * uni;
    if (mpi.rank == 0) {
        printf("mpi_char_lm: %d rank%s, %lld steps in %.1f s (all-reduce %.1f%% of it): held-out %.3f bits/char "
               "(unigram %.3f)\n",
               mpi.size, mpi.size > 1 ? "s" : "", (long long)(step - first), t_train,
               100.0 * (mpi.comm_seconds - comm0) / (t_train > 0 ? t_train : 1), bpc, uni);
        if (a.save && !a.quiet) printf("checkpoint: %s (resume with --resume %s)\n", a.save, a.save);
    }
    rc = a.quiet && !ok;
done:
    seq_adamw_free(&opt);
    free(start);
    free(text);
    seq_ctx_free(ctx);
    seq_params_free(P);
    seq_mpi_free(&mpi);
    return rc;
}
