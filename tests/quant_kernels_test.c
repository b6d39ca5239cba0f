#include "seq_test.h"
#include "../seq_quant.h"

static void fill(float *x, int64_t n, uint64_t seed) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) x[i] = (float)seq_rng_normal(&r, 0.0, 1.0);
}

enum { R = 6, N = 512, B = 3, NMAX = 832 };

/* Y = X W^T three ways: the kernel, its scalar twin (on the same quantized activations),
 * and f32 on the dequantized weights. The twins agree to float rounding; the f32 product
 * differs only by the 8-bit activations, a small fraction of |w| |x|. */
static void check_kernel(seq_quant_type t, int64_t N) {
    const seq_quant_traits *tr = seq_quant_type_traits(t), *at = seq_quant_type_traits(tr->act_type);
    float *w = (float *)malloc(sizeof(float) * R * NMAX), *wd = (float *)malloc(sizeof(float) * R * NMAX),
          *x = (float *)malloc(sizeof(float) * B * NMAX), y[B * R];
    uint8_t *wq = (uint8_t *)malloc(seq_quant_row_size(t, N) * R), *aq = (uint8_t *)malloc(seq_quant_row_size(tr->act_type, N));
    int r, b, i;
    fill(w, R * N, 10 + (uint64_t)t);
    fill(x, B * N, 20 + (uint64_t)t);
    w[7] = 9.0f; /* an outlier */
    CHECK(seq_quant_quantize(t, w, wq, R, N) == SEQ_OK);
    CHECK(seq_quant_dequantize(t, wq, wd, R, N) == SEQ_OK);
    CHECK(seq_quant_matmul(t, wq, R, N, x, B, y, NULL) == SEQ_OK);
    for (b = 0; b < B; b++) {
        at->quantize(x + b * N, aq, N);
        for (r = 0; r < R; r++) {
            const uint8_t *row = wq + (size_t)r * seq_quant_row_size(t, N);
            double ref = tr->vec_dot_ref(N, row, aq), f32 = 0.0, nw = 0.0, nx = 0.0;
            for (i = 0; i < N; i++) {
                f32 += (double)wd[r * N + i] * x[b * N + i];
                nw += (double)wd[r * N + i] * wd[r * N + i];
                nx += (double)x[b * N + i] * x[b * N + i];
            }
            CHECK_MSG(fabs(y[b * R + r] - ref) <= 1e-5 * sqrt(nw * nx), "%s: kernel %g vs scalar twin %g",
                      tr->name, y[b * R + r], ref);
            CHECK_MSG(fabs(ref - f32) <= 0.01 * sqrt(nw * nx), "%s: %g vs dequantized f32 %g", tr->name, ref, f32);
            CHECK(tr->vec_dot(N, row, aq) == y[b * R + r]);
        }
    }
    free(wq);
    free(aq);
    free(w);
    free(wd);
    free(x);
}

/* 512 values: whole groups of four (eight) blocks; 832: 26 blocks of 32, so the SIMD loops'
 * remainder runs too (formats with blocks of 256 do not divide it and sit it out). */
static void test_kernels(void) {
    int t;
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        if (!seq_quant_type_traits((seq_quant_type)t)->vec_dot) continue;
        check_kernel((seq_quant_type)t, N);
        if (seq_quant_row_size((seq_quant_type)t, NMAX) > 0) check_kernel((seq_quant_type)t, NMAX);
    }
}

/* int8 per output channel, through seq_quant_int_quantize's grids. */
static void test_kernel_i8(void) {
    float w[R * N], wd[R * N], x[B * N], y[B * R];
    uint8_t wq[R * N], aq[34 * N / 32];
    seq_quant_grid g[R];
    seq_quant_int_config c;
    int r, b, i;
    c.bits = 8, c.symmetric = 1, c.group = N;
    fill(w, R * N, 30);
    fill(x, B * N, 31);
    CHECK(seq_quant_int_quantize(c, w, R, N, wq, g) == SEQ_OK);
    seq_quant_int_dequantize(c, wq, g, R, N, wd);
    wq[3] = 0x80; /* -128 is no code of ours but a file may hold it */
    wd[3] = -128.0f * g[0].scale;
    CHECK(seq_quant_matmul_i8(wq, g, R, N, x, B, y, NULL) == SEQ_OK);
    for (b = 0; b < B; b++) {
        seq_quant_quantize_q8_0(x + b * N, aq, N);
        for (r = 0; r < R; r++) {
            double ref = g[r].scale * seq_quant_i8_vec_dot(1)(N, wq + r * N, aq), f32 = 0.0, nw = 0.0, nx = 0.0;
            for (i = 0; i < N; i++) {
                f32 += (double)wd[r * N + i] * x[b * N + i];
                nw += (double)wd[r * N + i] * wd[r * N + i];
                nx += (double)x[b * N + i] * x[b * N + i];
            }
            CHECK_NEAR(y[b * R + r], ref, 1e-5 * sqrt(nw * nx));
            CHECK(fabs(ref - f32) <= 0.01 * sqrt(nw * nx));
        }
    }
    g[2].zero = 3;
    CHECK(seq_quant_matmul_i8(wq, g, R, N, x, B, y, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_matmul_i8(wq, g, R, 48, x, B, y, NULL) == SEQ_ERR_INVALID);
}

/* Bad input: partial blocks, formats without a kernel, non-finite activations, no memory. */
static void test_kernel_errors(void) {
    float w[2 * 256], x[256], y[2];
    uint8_t wq[2 * 256 * 2];
    fill(w, 2 * 256, 40);
    fill(x, 256, 41);
    seq_quant_quantize(SEQ_QUANT_Q4_0, w, wq, 2, 256);
    CHECK(seq_quant_matvec(SEQ_QUANT_Q4_0, wq, 2, 200, x, y, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_matvec(SEQ_QUANT_FP8_E4M3, wq, 2, 256, x, y, NULL) == SEQ_ERR_UNSUPPORTED);
    CHECK(strstr(seq_last_error(), "fp8_e4m3") != NULL);
    x[17] = NAN;
    CHECK(seq_quant_matvec(SEQ_QUANT_Q4_0, wq, 2, 256, x, y, NULL) == SEQ_ERR_NUMERIC);
    x[17] = 0.0f;
    seq_test_fail_after(0);
    CHECK(seq_quant_matvec(SEQ_QUANT_Q4_0, wq, 2, 256, x, y, NULL) == SEQ_ERR_NOMEM);
    seq_test_fail_never();
    CHECK(seq_quant_matvec(SEQ_QUANT_Q4_0, wq, 2, 256, x, y, NULL) == SEQ_OK);
    CHECK(seq_quant_matmul(SEQ_QUANT_Q4_0, wq, 2, 256, x, 0, y, NULL) == SEQ_OK); /* empty batch */
    CHECK(strcmp(seq_quant_kernel_path(), "avx512vnni") == 0 || strcmp(seq_quant_kernel_path(), "avx2") == 0 ||
          strcmp(seq_quant_kernel_path(), "scalar") == 0);
#ifdef SEQ_NO_SIMD
    CHECK(strcmp(seq_quant_kernel_path(), "scalar") == 0);
#endif
}

void seq_tests_quant_kernels(void) {
    RUN(test_kernels);
    RUN(test_kernel_i8);
    RUN(test_kernel_errors);
}
