/* seq_quant.h's formats and kernels, measured in one run on one thread:
 *   1. round-trip error (RMSE, SNR) of every format on Gaussian and heavy-tailed
 *      (Student t, 3 degrees of freedom) weights, with bits per weight;
 *   2. a memory-bandwidth probe (a streaming sum over 256 MB, the fastest 16 MB stretch);
 *   3. y = W x for W of >= 64 MB in each format with a kernel, against f32 seq_sgemm on a
 *      64 MB f32 W and BLIS sgemv (loaded at run time, skipped when absent): time, GB/s
 *      of weights read, and that as a share of the probe's bandwidth;
 *   4. one streaming LSTM step at batch 1 (input 128; hidden 256 and 1024): seq.h's f32
 *      seq_rnn_step against seq_quant_rnn_step with W_ih and W_hh in Q8_0, Q4_0, Q4_K;
 *   5. QTIP (L = 16): Viterbi encoding speed and squared error on N(0,1) sequences for the
 *      1MAD and 3INST codes at 2, 3 and 4 bits, against the rate-distortion bound 4^-k,
 *      and the decoder's speed.
 * `bench_quant --quick` shrinks everything for a smoke run. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#include "../seq_quant.h"

/* BLIS typed API: bli_sgemv(transa, conjx, m, n, alpha, a, rs, cs, x, incx, beta, y, incy). */
typedef void (*bli_sgemv_fn)(unsigned, unsigned, int64_t, int64_t, float *, float *, int64_t, int64_t, float *,
                             int64_t, float *, float *, int64_t);

static void fill_weights(float *w, int64_t n, int heavy, seq_rng *r) {
    int64_t i;
    for (i = 0; i < n; i++) {
        double z = seq_rng_normal(r, 0.0, 1.0);
        if (heavy) { /* t(3) = z / sqrt(chi2(3) / 3) */
            double c = 0.0;
            int k;
            for (k = 0; k < 3; k++) {
                double g = seq_rng_normal(r, 0.0, 1.0);
                c += g * g;
            }
            z /= sqrt(c / 3.0);
        }
        w[i] = (float)z;
    }
}

static void error_table(int64_t rows, int64_t n) {
    float *w = (float *)malloc(sizeof(float) * (size_t)(rows * n)), *back = (float *)malloc(sizeof(float) * (size_t)(rows * n));
    uint8_t *q = (uint8_t *)malloc((size_t)(rows * n) * 4);
    seq_rng r;
    int t, heavy;
    printf("round trip on %lld x %lld weights: RMSE (and SNR dB)\n", (long long)rows, (long long)n);
    printf("%-12s %6s %22s %22s\n", "format", "bits", "Gaussian", "Student t(3)");
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        const seq_quant_traits *tr = seq_quant_type_traits((seq_quant_type)t);
        if (t == SEQ_QUANT_F32 || t == SEQ_QUANT_Q8_1 || t == SEQ_QUANT_Q8_K) continue; /* exact / activation formats */
        printf("%-12s %6.3f", tr->name, 8.0 * (double)tr->block_bytes / (double)tr->block);
        for (heavy = 0; heavy <= 1; heavy++) {
            double se = 0.0, ss = 0.0;
            int64_t i;
            seq_rng_seed(&r, 42 + (uint64_t)heavy);
            fill_weights(w, rows * n, heavy, &r);
            seq_quant_quantize((seq_quant_type)t, w, q, rows, n);
            seq_quant_dequantize((seq_quant_type)t, q, back, rows, n);
            for (i = 0; i < rows * n; i++) se += ((double)back[i] - w[i]) * ((double)back[i] - w[i]), ss += (double)w[i] * w[i];
            printf("   %9.5f (%6.2f dB)", sqrt(se / (double)(rows * n)), 10.0 * log10(ss / se));
        }
        printf("\n");
    }
    free(w);
    free(back);
    free(q);
}

/* GB/s of a streaming read of `bytes`: 64-bit integer sums in four independent chains
 * (the compiler vectorizes each), so the loads, not the adds, set the pace. Each 16 MB
 * stretch is timed on its own (a few ms, like one matvec below) and the fastest counts:
 * on a shared machine a preemption then spoils one stretch, not the whole pass. The
 * stretch just read was evicted by the rest of the array, so it still comes from DRAM. */
static double bandwidth_probe(size_t bytes) {
    const size_t stretch = (size_t)2 << 20; /* 64-bit words: 16 MB */
    size_t n = bytes / 8, i, j, c;
    uint64_t *a = (uint64_t *)malloc(bytes), s = 0;
    double best = 1e30;
    int rep;
    for (i = 0; i < n; i++) a[i] = i;
    for (rep = 0; rep < 5; rep++)
        for (c = 0; c + stretch <= n; c += stretch) {
            double t0 = bench_now(), dt;
            uint64_t acc[4][8] = {{0}};
            for (i = c; i + 32 <= c + stretch; i += 32)
                for (j = 0; j < 32; j++) acc[j / 8][j % 8] += a[i + j];
            for (j = 0; j < 32; j++) s += acc[j / 8][j % 8];
            dt = bench_now() - t0;
            if (dt < best) best = dt;
        }
    free(a);
    if (s == 42) printf("(checksum)\n"); /* keeps the sum alive */
    return (double)(stretch * 8) / best * 1e-9;
}

typedef struct matvec_job {
    seq_quant_type t;
    const void *W;
    int64_t rows, n;
    const float *x;
    float *y;
    bli_sgemv_fn blis; /* f32 through BLIS sgemv instead of seq_sgemm */
} matvec_job;

/* Best of 20: as many chances to run undisturbed as the probe's 16 MB stretches get. */
static double time_matvec(const matvec_job *j) {
    double best = 1e30;
    int rep;
    for (rep = 0; rep < 20; rep++) {
        double t0 = bench_now();
        if (j->t != SEQ_QUANT_F32) {
            seq_quant_matvec(j->t, j->W, j->rows, j->n, j->x, j->y, NULL);
        } else if (j->blis) {
            float one = 1.0f, zero = 0.0f;
            j->blis(0, 0, j->rows, j->n, &one, (float *)j->W, j->n, 1, (float *)j->x, 1, &zero, j->y, 1);
        } else {
            seq_sgemm(0, 1, 1, j->rows, j->n, 1.0f, j->x, j->n, (const float *)j->W, j->n, 0.0f, j->y, j->rows);
        }
        if (bench_now() - t0 < best) best = bench_now() - t0;
    }
    return best;
}

static void matvec_row(const char *name, const matvec_job *j, size_t bytes, double bw) {
    double s = time_matvec(j), gbs = (double)bytes / s * 1e-9;
    printf("%-14s %8lld %9.1f %9.2f %9.1f %8.0f%%\n", name, (long long)j->rows, (double)bytes / 1048576.0, s * 1e3,
           gbs, 100.0 * gbs / bw);
}

/* Microseconds per step, best of 5 runs of `steps` steps, of the f32 layer (q NULL) or q. */
static double lstm_step_us(const seq_rnn *l, const seq_quant_rnn *q, const float *x, int steps) {
    seq_rnn_state st;
    seq_quant_rnn_state qs;
    float *y = (float *)malloc(sizeof(float) * (size_t)l->cfg.hidden_size);
    double best = 1e30;
    int rep, k;
    if (q) seq_quant_rnn_state_init(q, &qs, 1);
    else seq_rnn_state_init(l, &st, 1);
    for (rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        for (k = 0; k < steps; k++) {
            if (q) seq_quant_rnn_step(q, &qs, x, y);
            else seq_rnn_step(l, &st, x, y);
        }
        if ((bench_now() - t0) / steps < best) best = (bench_now() - t0) / steps;
    }
    if (q) seq_quant_rnn_state_free(&qs);
    else seq_rnn_state_free(&st);
    free(y);
    return best * 1e6;
}

static void lstm_table(int quick) {
    static const seq_quant_type types[3] = {SEQ_QUANT_Q8_0, SEQ_QUANT_Q4_0, SEQ_QUANT_Q4_K};
    static const int64_t hidden[2] = {256, 1024};
    int h, k, steps = quick ? 20 : 400;
    float x[128];
    seq_rng r;
    seq_rng_seed(&r, 9);
    fill_weights(x, 128, 0, &r);
    printf("\nLSTM step, batch 1, input 128 (us per step; weight bytes W_ih + W_hh + biases)\n");
    printf("%-8s %-8s %10s %10s %9s\n", "hidden", "weights", "MB", "us/step", "vs f32");
    for (h = 0; h < 2; h++) {
        seq_params *P = seq_params_init(NULL);
        seq_lstm l;
        double f32_us;
        if (seq_rnn_init(&l, P, "lstm", seq_lstm_config_default(128, hidden[h])) != SEQ_OK ||
            seq_params_alloc(P, &r) != SEQ_OK) {
            printf("LSTM %lld: %s\n", (long long)hidden[h], seq_last_error());
            seq_params_free(P);
            continue;
        }
        f32_us = lstm_step_us(&l, NULL, x, steps);
        printf("%-8lld %-8s %10.2f %10.1f %9.2f\n", (long long)hidden[h], "f32",
               4.0 * (double)(l.w_ih[0]->numel + l.w_hh[0]->numel + 2 * l.b_ih[0]->numel) / 1048576.0, f32_us, 1.0);
        for (k = 0; k < 3; k++) {
            seq_quant_rnn q;
            double us;
            if (seq_quant_rnn_init(&q, &l, types[k], NULL) != SEQ_OK) continue;
            us = lstm_step_us(&l, &q, x, steps);
            printf("%-8lld %-8s %10.2f %10.1f %9.2f\n", (long long)hidden[h], seq_quant_type_name(types[k]),
                   (double)seq_quant_rnn_bytes(&q) / 1048576.0, us, f32_us / us);
            seq_quant_rnn_free(&q);
        }
        seq_params_free(P);
    }
}

static void qtip_table(int quick) {
    static const char *names[SEQ_QUANT_QTIP_CODE_COUNT] = {"1MAD", "3INST"};
    enum { T = 256 };
    int nseq = quick ? 2 : 16, code, k, i;
    float *x = (float *)malloc(sizeof(float) * (size_t)(nseq * T)), *dec = (float *)malloc(sizeof(float) * (size_t)(nseq * T));
    uint8_t *bits = (uint8_t *)malloc(seq_quant_qtip_bytes(T, 8, 1) * (size_t)nseq);
    seq_rng r;
    seq_rng_seed(&r, 11);
    fill_weights(x, nseq * T, 0, &r);
    printf("\nQTIP, L = 16, tail-biting sequences of %d N(0,1) weights (%d of them)\n", T, nseq);
    printf("%-6s %4s %12s %12s %14s %14s\n", "code", "bits", "MSE", "bound 4^-k", "encode wt/s", "decode Mwt/s");
    for (code = 0; code < SEQ_QUANT_QTIP_CODE_COUNT; code++) {
        /* the code's RMS over every state: the scale that maps N(0,1) onto it */
        double ss = 0.0, rms;
        uint32_t s;
        for (s = 0; s < 65536u; s++) ss += (double)seq_quant_qtip_value((seq_quant_qtip_code)code, s) * seq_quant_qtip_value((seq_quant_qtip_code)code, s);
        rms = sqrt(ss / 65536.0);
        for (k = 2; k <= 4; k++) {
            size_t sb = seq_quant_qtip_bytes(T, k, 1);
            double t0, enc, dect, se = 0.0;
            float *xs = (float *)malloc(sizeof(float) * (size_t)(nseq * T));
            for (i = 0; i < nseq * T; i++) xs[i] = x[i] * (float)rms;
            t0 = bench_now();
            for (i = 0; i < nseq; i++) seq_quant_qtip_encode((seq_quant_qtip_code)code, xs + i * T, T, k, 1, bits + sb * (size_t)i, NULL);
            enc = bench_now() - t0;
            t0 = bench_now();
            for (i = 0; i < nseq; i++)
                seq_quant_qtip_decode((seq_quant_qtip_code)code, bits + sb * (size_t)i, T, k, 1, (float)(1.0 / rms), dec + i * T);
            dect = bench_now() - t0;
            for (i = 0; i < nseq * T; i++) se += ((double)dec[i] - x[i]) * ((double)dec[i] - x[i]);
            printf("%-6s %4d %12.5f %12.5f %14.0f %14.1f\n", names[code], k, se / (nseq * T), pow(4.0, -k),
                   nseq * T / enc, nseq * T / dect * 1e-6);
            free(xs);
        }
    }
    free(x);
    free(dec);
    free(bits);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    size_t target = quick ? ((size_t)4 << 20) : ((size_t)64 << 20);
    const int64_t n = 4096;
    float *x = (float *)malloc(sizeof(float) * n), *wf;
    seq_rng r;
    double bw;
    int t;
    void *hb, *sym;
    bli_sgemv_fn blis = NULL;
    setenv("BLIS_NUM_THREADS", "1", 1);
    printf("bench/quant: 1 thread, kernel path %s, sgemm backend %s\n\n", seq_quant_kernel_path(), seq_sgemm_backend());
    error_table(quick ? 16 : 256, n);
    bw = bandwidth_probe(quick ? ((size_t)32 << 20) : ((size_t)256 << 20));
    printf("\nmemory-bandwidth probe (streaming sum): %.1f GB/s\n", bw);
    printf("\ny = W x, n = %lld, W >= %.0f MB\n", (long long)n, (double)target / 1048576.0);
    printf("%-14s %8s %9s %9s %9s %9s\n", "format", "rows", "MB", "ms", "GB/s", "of probe");
    seq_rng_seed(&r, 7);
    fill_weights(x, n, 0, &r);
    /* f32 peers on a target-sized f32 W */
    {
        matvec_job j;
        int64_t rows = (int64_t)(target / (sizeof(float) * (size_t)n));
        wf = (float *)malloc(sizeof(float) * (size_t)(rows * n));
        fill_weights(wf, rows * n, 0, &r);
        j.t = SEQ_QUANT_F32, j.W = wf, j.rows = rows, j.n = n, j.x = x, j.blis = NULL;
        j.y = (float *)malloc(sizeof(float) * (size_t)rows);
        matvec_row("f32 seq_sgemm", &j, sizeof(float) * (size_t)(rows * n), bw);
        hb = dlopen(bench_blis_lib, RTLD_NOW | RTLD_LOCAL);
        sym = hb ? dlsym(hb, "bli_sgemv") : NULL;
        if (sym) {
            bench_blis_use_cpu_kernels();
            memcpy(&blis, &sym, sizeof sym);
            j.blis = blis;
            matvec_row("f32 BLIS sgemv", &j, sizeof(float) * (size_t)(rows * n), bw);
        } else {
            printf("f32 BLIS sgemv: %s not available\n", bench_blis_lib);
        }
        free(j.y);
    }
    /* each kernel format: one chunk of 256 rows quantized, copied to fill the target */
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        const seq_quant_traits *tr = seq_quant_type_traits((seq_quant_type)t);
        size_t rs = seq_quant_row_size((seq_quant_type)t, n);
        int64_t rows = (int64_t)((target + rs - 1) / rs), k;
        uint8_t *W;
        matvec_job j;
        if (!tr->vec_dot || t == SEQ_QUANT_F32) continue;
        W = (uint8_t *)malloc(rs * (size_t)rows);
        seq_quant_quantize((seq_quant_type)t, wf, W, 256, n);
        for (k = 256; k < rows; k++) memcpy(W + rs * (size_t)k, W + rs * (size_t)(k % 256), rs);
        j.t = (seq_quant_type)t, j.W = W, j.rows = rows, j.n = n, j.x = x, j.blis = NULL;
        j.y = (float *)malloc(sizeof(float) * (size_t)rows);
        matvec_row(tr->name, &j, rs * (size_t)rows, bw);
        free(j.y);
        free(W);
    }
    free(wf);
    free(x);
    lstm_table(quick);
    qtip_table(quick);
    return 0;
}
