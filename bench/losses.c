#define _POSIX_C_SOURCE 200809L /* popen, clock_gettime under -std=c99 */
/* The softmax family over a recommender's vocabulary: cross entropy, softmax and
 * log_softmax forward+backward on logits (B*T, V) = (6400, 12102), the shape of a SASRec+
 * or GRU4Rec batch (128 users x 50 positions) scored against all of Amazon Beauty's
 * items, seq vs PyTorch 1.13 CPU (bench/losses_torch.py) in the same run, same threads
 * (one; built with -fopenmp -DSEQ_USE_OPENMP, OMP_NUM_THREADS).
 *     bench_losses [ROWS V]    another shape */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

typedef enum { CROSS_ENTROPY, SOFTMAX, LOG_SOFTMAX, N_OPS } op_kind;
static const char *const op_key[N_OPS] = {"cross_entropy", "softmax", "log_softmax"};

/* The op's scalar loss: CE itself, or the weighted sum of the output the peer also takes
 * (so the backward sees a dense, non-uniform output gradient). */
static seq_tensor *loss_of(seq_ctx *ctx, op_kind k, seq_tensor *x, seq_tensor *t, seq_tensor *w) {
    if (k == CROSS_ENTROPY) return seq_cross_entropy(ctx, x, t, -100);
    return seq_sum(ctx, seq_mul(ctx, k == SOFTMAX ? seq_softmax(ctx, x) : seq_log_softmax(ctx, x), w));
}

/* Best-of-reps forward+backward over random logits (rows, V), in ms. */
static double seq_fwd_bwd_ms(op_kind k, int64_t rows, int64_t V, int reps) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng rng;
    int64_t xs[2], i;
    float *x = (float *)malloc((size_t)(rows * V) * sizeof(float)), *w = (float *)malloc((size_t)V * sizeof(float));
    int32_t *t = (int32_t *)malloc((size_t)rows * sizeof(int32_t));
    double best = 1e30;
    int r;
    if (!ctx || !x || !w || !t) return -1.0;
    xs[0] = rows;
    xs[1] = V;
    seq_rng_seed(&rng, 1);
    for (i = 0; i < rows * V; i++) x[i] = (float)seq_rng_normal(&rng, 0, 3);
    for (i = 0; i < V; i++) w[i] = (float)seq_rng_normal(&rng, 0, 1);
    for (i = 0; i < rows; i++) t[i] = (int32_t)seq_rng_below(&rng, (uint64_t)V);
    for (r = 0; r < reps + 1; r++) {
        double t0 = bench_now();
        seq_tensor *xt, *tt, *wt;
        seq_ctx_reset(ctx);
        xt = seq_tensor_wrap(ctx, x, 2, xs);
        seq_tensor_set_requires_grad(ctx, xt);
        tt = seq_tensor_new(ctx, SEQ_I32, 1, xs);
        wt = seq_tensor_wrap(ctx, w, 1, xs + 1);
        if (!tt) return -1.0;
        memcpy(tt->idata, t, (size_t)rows * sizeof(int32_t));
        if (seq_backward(ctx, loss_of(ctx, k, xt, tt, wt)) != SEQ_OK) return -1.0;
        if (r > 0 && bench_now() - t0 < best) best = bench_now() - t0;
    }
    free(x);
    free(w);
    free(t);
    seq_ctx_free(ctx);
    return best * 1e3;
}

int main(int argc, char **argv) {
    int64_t rows = argc > 2 ? atoll(argv[1]) : 6400, V = argc > 2 ? atoll(argv[2]) : 12102;
    char cmd[256], out[4096];
    int k;
    if (rows < 1 || V < 1) {
        fprintf(stderr, "usage: bench_losses [ROWS V]\n");
        return 1;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/losses_torch.py %d %lld %lld 2>/dev/null", bench_threads(),
             (long long)rows, (long long)V);
    bench_peer_output(cmd, out, sizeof out);
    printf("forward+backward over logits (%lld, %lld), %d thread%s, best of 3:\n", (long long)rows, (long long)V,
           bench_threads(), bench_threads() > 1 ? "s" : "");
    printf("%-14s %10s %10s %7s\n", "op", "seq ms", "torch ms", "ratio");
    for (k = 0; k < N_OPS; k++) {
        double ms = seq_fwd_bwd_ms((op_kind)k, rows, V, 3), tms = bench_peer_value(out, op_key[k]);
        printf("%-14s %10.1f %10.1f %6.2fx%s\n", op_key[k], ms, tms, tms > 0 && ms > 0 ? tms / ms : 0.0,
               tms > 0 ? "" : "  (no PyTorch peer)");
    }
    return 0;
}
