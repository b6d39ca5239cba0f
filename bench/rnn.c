#define _POSIX_C_SOURCE 200809L /* popen, setenv, clock_gettime under -std=c99 */
/* LSTM and GRU forward+backward and single-step latency, seq vs PyTorch 1.13 CPU
 * (bench/rnn_torch.py, oneDNN RNN path) in the same run, same threads (one; built with
 * -fopenmp -DSEQ_USE_OPENMP, OMP_NUM_THREADS); plus the sgemm GFLOP/s of the input
 * projection's shape for scale, and beside each B=1 step the time of a bare
 * matrix-vector product over the same weights (what reading them costs). */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

static int threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

typedef struct {
    int64_t T, B, I, H;
} shape;

/* Best-of-reps forward+backward of one layer over random input, in ms. */
static double seq_fwd_bwd_ms(seq_rnn_kind kind, shape s, int reps) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn l;
    seq_rng rng;
    int64_t xs[3], i;
    float *x = (float *)malloc((size_t)(s.B * s.T * s.I) * sizeof(float));
    double best = 1e30;
    int r;
    xs[0] = s.B;
    xs[1] = s.T;
    xs[2] = s.I;
    seq_rng_seed(&rng, 1);
    for (i = 0; i < s.B * s.T * s.I; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    if (seq_rnn_init(&l, P, "rnn", seq_rnn_config_default(kind, s.I, s.H)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK)
        return -1.0;
    for (r = 0; r < reps + 1; r++) {
        double t0 = bench_now();
        seq_tensor *y;
        seq_ctx_reset(ctx);
        y = seq_rnn_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, xs), NULL);
        seq_params_zero_grad(P);
        if (seq_backward(ctx, seq_mean(ctx, y)) != SEQ_OK) return -1.0;
        if (r > 0 && bench_now() - t0 < best) best = bench_now() - t0;
    }
    free(x);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return best * 1e3;
}

static double seq_step_us(seq_rnn_kind kind) {
    seq_params *P = seq_params_init(NULL);
    seq_rnn l;
    seq_rnn_state st;
    seq_rng rng;
    float x[128], y[256];
    double t0, best = 1e30;
    int r, i;
    seq_rng_seed(&rng, 1);
    for (i = 0; i < 128; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    if (seq_rnn_init(&l, P, "rnn", seq_rnn_config_default(kind, 128, 256)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK || seq_rnn_state_init(&l, &st, 1) != SEQ_OK)
        return -1.0;
    for (r = 0; r < 20; r++) {
        t0 = bench_now();
        for (i = 0; i < 100; i++) seq_rnn_step(&l, &st, x, y);
        if ((bench_now() - t0) / 100 < best) best = (bench_now() - t0) / 100;
    }
    seq_rnn_state_free(&st);
    seq_params_free(P);
    return best * 1e6;
}

/* The floor under a B=1 step: one vector times the step's weights stored as a single
 * (G*H, I+H) matrix (W_ih and W_hh side by side), with no gate math, timed as the step. */
static double gemv_floor_us(int64_t GH, int64_t K) {
    float *w = (float *)calloc((size_t)(GH * K), sizeof(float)), *v = (float *)calloc((size_t)K, sizeof(float)),
          *out = (float *)calloc((size_t)GH, sizeof(float));
    double t0, best = 1e30;
    int64_t j;
    int r, i;
    if (!w || !v || !out) return -1.0;
    /* written, so that every page is its own (calloc's untouched pages all map to one) */
    for (j = 0; j < GH * K; j++) w[j] = 1e-3f * (float)(j % 7);
    for (j = 0; j < K; j++) v[j] = 1.0f;
    for (r = 0; r < 20; r++) {
        t0 = bench_now();
        for (i = 0; i < 100; i++) seq_sgemm(0, 1, 1, GH, K, 1.0f, v, K, w, K, 0.0f, out, GH);
        if ((bench_now() - t0) / 100 < best) best = (bench_now() - t0) / 100;
    }
    free(w);
    free(v);
    free(out);
    return best * 1e6;
}

/* GFLOP/s of seq_sgemm on (M,N,K) with B transposed, as the layer's input projection. */
static double sgemm_gflops(int64_t M, int64_t N, int64_t K) {
    float *a = (float *)calloc((size_t)(M * K), sizeof(float)), *b = (float *)calloc((size_t)(N * K), sizeof(float));
    float *c = (float *)calloc((size_t)(M * N), sizeof(float));
    double best = 1e30;
    int r;
    for (r = 0; r < 5; r++) {
        double t0 = bench_now();
        seq_sgemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        if (bench_now() - t0 < best) best = bench_now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * M * N * K / best * 1e-9;
}

int main(void) {
    static const shape shapes[2] = {{100, 32, 128, 256}, {512, 16, 64, 128}};
    static const char *names[2] = {"lstm", "gru"};
    static const seq_rnn_kind kinds[2] = {SEQ_RNN_LSTM, SEQ_RNN_GRU};
    static char out[4096], cmd[128];
    double gemm;
    int k, s;
    setenv("BLIS_NUM_THREADS", "1", 1);
    if (strcmp(seq_sgemm_backend(), "blis") == 0) bench_blis_use_cpu_kernels();
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/rnn_torch.py %d 2>/dev/null", threads());
    bench_peer_output(cmd, out, sizeof out);
    /* the product the layers' GEMMs are held against (target: the LSTM and GRU at
     * 65% of it on the large shape), measured in the same run */
    gemm = sgemm_gflops(3200, 1024, 128);
    printf("bench/rnn: forward+backward, %d thread(s), sgemm backend %s (GFLOP/s = 3 x 2·T·B·G·H·(I+H))\n",
           threads(), seq_sgemm_backend());
    printf("%-26s %10s %10s %9s %9s %7s %8s\n", "layer (T,B,I,H)", "seq ms", "torch ms", "seq GF/s", "torch", "ratio",
           "% sgemm");
    for (k = 0; k < 2; k++)
        for (s = 0; s < 2; s++) {
            char key[64];
            shape sh = shapes[s];
            double gates = kinds[k] == SEQ_RNN_LSTM ? 4.0 : 3.0;
            double flops = 3.0 * 2.0 * sh.T * sh.B * gates * sh.H * (double)(sh.I + sh.H);
            double ms = seq_fwd_bwd_ms(kinds[k], sh, 3), tms;
            snprintf(key, sizeof key, "%s_T%lld_B%lld_I%lld_H%lld", names[k], (long long)sh.T, (long long)sh.B,
                     (long long)sh.I, (long long)sh.H);
            tms = bench_peer_value(out, key);
            printf("%-26s %10.2f %10.2f %9.1f %9.1f %6.2fx %7.0f%%\n", key, ms, tms, flops / ms * 1e-6,
                   tms > 0 ? flops / tms * 1e-6 : 0.0, tms > 0 ? tms / ms : 0.0, 100.0 * flops / ms * 1e-6 / gemm);
        }
    printf("sgemm (M=3200, N=1024, K=128), the input projection's shape: %.1f GFLOP/s\n", gemm);
    for (k = 0; k < 2; k++) {
        char key[64];
        double us = seq_step_us(kinds[k]), tms;
        snprintf(key, sizeof key, "%s_step_B1_I128_H256", names[k]);
        tms = bench_peer_value(out, key);
        printf("%-26s seq %8.2f us   torch %8.2f us   %6.1fx   (floor: the weights read alone, %.2f us)\n", key,
               us, tms * 1e3, tms > 0 ? tms * 1e3 / us : 0.0, gemv_floor_us((kinds[k] == SEQ_RNN_LSTM ? 4 : 3) * 256, 128 + 256));
    }
    return 0;
}
