/* Every seq_cuda.h kernel against a CPU reference computed with seq.h / seq_quant.h: the
 * forward with seq.h's op of the same name, the backward as the vector-Jacobian product
 * seq.h's tape gives for loss = sum(y * gy). SKIP when no device is present.
 *
 * Tolerances (|a-b| <= tol max(1,|a|,|b|), docs/cuda.md has the table): 1e-5 to 1e-4 for
 * f32 kernels, where only the order of f32 sums and the device's expf/tanhf differ;
 * GEMM 1e-4 (FP32), 5e-3 (TF32), 3e-2 (BF16) times 1 + sum |alpha a b| (inputs rounded
 * to 10- and 7-bit mantissas); the quantized GEMV 1e-5 sum |w x| against the dequantized
 * rows. */
#include "cuda_test.h"

#define TOL 2e-5

/* ---- fixtures --------------------------------------------------------------------- */

/* A context with a 64 MiB arena on device 0, or 0 when there is no device. */
static int cuda_open(seq_cuda_ctx *ctx) {
    if (seq_cuda_device_count() == 0) return 0;
    CHECK_MSG(seq_cuda_ctx_init(ctx, 0, (size_t)64 << 20) == SEQ_OK, "%s", seq_last_error());
    return ctx->cublas != NULL;
}

static void fill_uniform(seq_rng *r, float *x, int64_t n, double lo, double hi) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = (float)seq_rng_uniform(r, lo, hi);
}

/* A device copy of n host floats (or ints) in the arena. */
static void *dev_copy(seq_cuda_ctx *ctx, const void *h, size_t bytes) {
    void *d = seq_cuda_arena_alloc(ctx, bytes);
    CHECK(d != NULL);
    CHECK(seq_cuda_upload(ctx, d, h, bytes) == SEQ_OK);
    return d;
}
static float *dev_f(seq_cuda_ctx *ctx, const float *h, int64_t n) {
    return (float *)dev_copy(ctx, h, (size_t)n * sizeof(float));
}

/* Downloads n floats and compares them with want; reports the first mismatch only. */
static void expect_near(seq_cuda_ctx *ctx, const float *dev, const float *want, int64_t n, double tol,
                        const char *what) {
    float *got = (float *)malloc((size_t)n * sizeof(float));
    int64_t i;
    CHECK(got != NULL);
    if (!got) return;
    CHECK_MSG(seq_cuda_download_sync(ctx, got, dev, (size_t)n * sizeof(float)) == SEQ_OK, "%s", seq_last_error());
    for (i = 0; i < n; i++) {
        double a = got[i], b = want[i], m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
        if (!(fabs(a - b) <= tol * (m > 1.0 ? m : 1.0))) {
            CHECK_MSG(0, "%s[%lld]: gpu %.9g vs cpu %.9g (tol %g)", what, (long long)i, a, b, tol);
            break;
        }
    }
    free(got);
}

/* seq.h tensors over caller memory, with gradients wanted for the inputs. */
static seq_tensor *leaf(seq_ctx *c, float *data, int ndim, int64_t d0, int64_t d1) {
    int64_t shape[2];
    seq_tensor *t;
    shape[0] = d0;
    shape[1] = d1;
    t = seq_tensor_wrap(c, data, ndim, shape);
    CHECK(t != NULL && seq_tensor_set_requires_grad(c, t) == SEQ_OK);
    return t;
}

/* Backward of loss = sum(y * gy): every input's grad becomes J^T gy. */
static void vjp(seq_ctx *c, seq_tensor *y, float *gy) {
    CHECK(y != NULL);
    if (y) CHECK(seq_backward(c, seq_sum(c, seq_mul(c, y, seq_tensor_wrap(c, gy, y->ndim, y->shape)))) == SEQ_OK);
}

/* ---- GEMM -------------------------------------------------------------------------- */

/* All four transposes, padded leading dimensions, alpha and beta, in each math mode;
 * beta = 0 with NaN in C must not read it. */
static void test_cuda_sgemm(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    const int64_t M = 37, N = 45, K = 70, pad = 3;
    float *A, *B, *C0, *C, *bound;
    int ta, tb, mode;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 1);
    A = (float *)malloc(sizeof(float) * 80 * 80);
    B = (float *)malloc(sizeof(float) * 80 * 80);
    C0 = (float *)malloc(sizeof(float) * M * (N + pad));
    C = (float *)malloc(sizeof(float) * M * (N + pad));
    bound = (float *)malloc(sizeof(float) * M * (N + pad));
    fill_uniform(&r, A, 80 * 80, -1, 1);
    fill_uniform(&r, B, 80 * 80, -1, 1);
    fill_uniform(&r, C0, M * (N + pad), -1, 1);
    for (mode = 0; mode < SEQ_CUDA_MATH_COUNT; mode++) {
        static const double tol[SEQ_CUDA_MATH_COUNT] = {1e-4, 5e-3, 3e-2};
        CHECK(seq_cuda_set_math(&ctx, (seq_cuda_math)mode) == SEQ_OK);
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++) {
                int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad, i, j, k;
                float *dA = dev_f(&ctx, A, 80 * 80), *dB = dev_f(&ctx, B, 80 * 80), *dC = dev_f(&ctx, C0, M * ldc);
                CHECK_MSG(seq_cuda_sgemm(&ctx, ta, tb, M, N, K, 0.75f, dA, lda, dB, ldb, -0.5f, dC, ldc) == SEQ_OK,
                          "%s", seq_last_error());
                memcpy(C, C0, sizeof(float) * M * ldc);
                seq_sgemm_ref(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, -0.5f, C, ldc);
                /* the error of reduced-precision inputs scales with sum |a b|: compare
                 * through (got - want) / bound against 0 */
                for (i = 0; i < M; i++)
                    for (j = 0; j < ldc; j++) {
                        double s = 1.0;
                        for (k = 0; k < K && j < N; k++)
                            s += fabs(0.75 * (ta ? A[k * lda + i] : A[i * lda + k]) *
                                      (tb ? B[j * ldb + k] : B[k * ldb + j]));
                        bound[i * ldc + j] = (float)s;
                    }
                {
                    float *got = (float *)malloc(sizeof(float) * M * ldc);
                    CHECK(seq_cuda_download_sync(&ctx, got, dC, sizeof(float) * M * ldc) == SEQ_OK);
                    for (i = 0; i < M * ldc; i++)
                        if (!(fabs(got[i] - C[i]) <= tol[mode] * bound[i])) {
                            CHECK_MSG(0, "mode %d ta %d tb %d C[%lld]: gpu %.9g cpu %.9g", mode, ta, tb, (long long)i,
                                      got[i], C[i]);
                            break;
                        }
                    free(got);
                }
                seq_cuda_arena_reset(&ctx);
            }
    }
    /* beta = 0 never reads C */
    {
        float nan_c[4] = {NAN, NAN, NAN, NAN}, a[2] = {1, 2}, b[2] = {3, 4}, want[4] = {3, 4, 6, 8};
        float *dC = dev_f(&ctx, nan_c, 4);
        CHECK(seq_cuda_set_math(&ctx, SEQ_CUDA_MATH_FP32) == SEQ_OK);
        CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 2, 1, 1.0f, dev_f(&ctx, a, 2), 1, dev_f(&ctx, b, 2), 2, 0.0f, dC, 2) ==
              SEQ_OK);
        expect_near(&ctx, dC, want, 4, 1e-6, "beta0");
    }
    free(A);
    free(B);
    free(C0);
    free(C);
    free(bound);
    seq_cuda_ctx_free(&ctx);
}

/* Strided batches against seq_sgemm_ref per matrix: every transpose pair, padded rows,
 * gaps between the matrices, and B shared across the batch (stride 0). FP32. */
static void test_cuda_sgemm_batched(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { M = 9, N = 13, K = 21, P = 2, BATCH = 5, SZ = 30 * 30 };
    static float A[BATCH * SZ], B[BATCH * SZ], C0[BATCH * SZ], C[BATCH * SZ];
    int ta, tb, shared;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 10);
    fill_uniform(&r, A, BATCH * SZ, -1, 1);
    fill_uniform(&r, B, BATCH * SZ, -1, 1);
    fill_uniform(&r, C0, BATCH * SZ, -1, 1);
    for (ta = 0; ta < 2; ta++)
        for (tb = 0; tb < 2; tb++)
            for (shared = 0; shared < 2; shared++) {
                int64_t lda = (ta ? M : K) + P, ldb = (tb ? K : N) + P, ldc = N + P, sb = shared ? 0 : SZ, i;
                float *dA = dev_f(&ctx, A, BATCH * SZ), *dB = dev_f(&ctx, B, BATCH * SZ);
                float *dC = dev_f(&ctx, C0, BATCH * SZ);
                memcpy(C, C0, sizeof C);
                for (i = 0; i < BATCH; i++)
                    seq_sgemm_ref(ta, tb, M, N, K, 1.5f, A + i * SZ, lda, B + i * sb, ldb, 0.25f, C + i * SZ, ldc);
                CHECK_MSG(seq_cuda_sgemm_batched(&ctx, ta, tb, M, N, K, 1.5f, dA, lda, SZ, dB, ldb, sb, 0.25f, dC, ldc,
                                                 SZ, BATCH) == SEQ_OK,
                          "%s", seq_last_error());
                expect_near(&ctx, dC, C, BATCH * SZ, 1e-4, "batched C");
                seq_cuda_arena_reset(&ctx);
            }
    seq_cuda_ctx_free(&ctx);
}

/* ---- elementwise -------------------------------------------------------------------- */

/* add and mul, b full or a broadcast row: y, ga and gb as seq_add / seq_mul's tape. The
 * gradients start from nonzero values to check that the kernels accumulate. */
static void test_cuda_binary(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { R = 33, C = 300 };
    static float a[R * C], b[R * C], gy[R * C], g0[R * C], want[R * C];
    int op, brow;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 2);
    fill_uniform(&r, a, R * C, -2, 2);
    fill_uniform(&r, b, R * C, -2, 2);
    fill_uniform(&r, gy, R * C, -1, 1);
    fill_uniform(&r, g0, R * C, -1, 1);
    for (op = 0; op < SEQ_CUDA_BINARY_COUNT; op++)
        for (brow = 0; brow < 2; brow++) {
            int64_t nb = brow ? C : R * C, i;
            seq_ctx *c = seq_ctx_init(NULL);
            seq_tensor *ta = leaf(c, a, 2, R, C), *tb = brow ? leaf(c, b, 1, C, 0) : leaf(c, b, 2, R, C);
            seq_tensor *ty = op == SEQ_CUDA_ADD ? seq_add(c, ta, tb) : seq_mul(c, ta, tb);
            float *da = dev_f(&ctx, a, R * C), *db = dev_f(&ctx, b, nb), *dy = dev_f(&ctx, a, R * C);
            float *dga = dev_f(&ctx, g0, R * C), *dgb = dev_f(&ctx, g0, nb), *dgy = dev_f(&ctx, gy, R * C);
            CHECK(ty != NULL);
            vjp(c, ty, gy);
            CHECK(seq_cuda_binary_fwd(&ctx, (seq_cuda_binary)op, R, C, da, db, brow, dy) == SEQ_OK);
            CHECK(seq_cuda_binary_bwd(&ctx, (seq_cuda_binary)op, R, C, da, db, brow, dgy, dga, dgb) == SEQ_OK);
            expect_near(&ctx, dy, ty->data, R * C, TOL, op ? "mul y" : "add y");
            for (i = 0; i < R * C; i++) want[i] = g0[i] + ta->grad[i];
            expect_near(&ctx, dga, want, R * C, TOL, "ga");
            for (i = 0; i < nb; i++) want[i] = g0[i] + tb->grad[i];
            expect_near(&ctx, dgb, want, nb, 1e-4, "gb"); /* summed over 33 rows when broadcast */
            /* in place: y = a */
            CHECK(seq_cuda_binary_fwd(&ctx, (seq_cuda_binary)op, R, C, da, db, brow, da) == SEQ_OK);
            expect_near(&ctx, da, ty->data, R * C, TOL, "in place");
            seq_ctx_free(c);
            seq_cuda_arena_reset(&ctx);
        }
    seq_cuda_ctx_free(&ctx);
}

/* Each activation's forward and accumulated backward, over x in [-6, 6] (both branches of
 * the sigmoid, GELU's tails) plus a few exact values. */
static void test_cuda_activations(void) {
    typedef seq_tensor *(*unary_fn)(seq_ctx *, seq_tensor *);
    static const unary_fn ref[SEQ_CUDA_ACT_COUNT] = {seq_relu, seq_gelu_tanh, seq_silu, seq_sigmoid, seq_tanh};
    static const char *names[SEQ_CUDA_ACT_COUNT] = {"relu", "gelu_tanh", "silu", "sigmoid", "tanh"};
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { N = 5000 };
    static float x[N], gy[N], g0[N], want[N];
    int act;
    int64_t i;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 3);
    fill_uniform(&r, x, N, -6, 6);
    x[0] = 30.0f; /* saturated */
    x[1] = -30.0f;
    x[2] = 1e-3f;
    fill_uniform(&r, gy, N, -1, 1);
    fill_uniform(&r, g0, N, -1, 1);
    for (act = 0; act < SEQ_CUDA_ACT_COUNT; act++) {
        seq_ctx *c = seq_ctx_init(NULL);
        seq_tensor *tx = leaf(c, x, 1, N, 0), *ty = ref[act](c, tx);
        float *dx = dev_f(&ctx, x, N), *dy = dev_f(&ctx, x, N), *dg = dev_f(&ctx, g0, N), *dgy = dev_f(&ctx, gy, N);
        vjp(c, ty, gy);
        CHECK(seq_cuda_act_fwd(&ctx, (seq_cuda_act)act, N, dx, dy) == SEQ_OK);
        CHECK(seq_cuda_act_bwd(&ctx, (seq_cuda_act)act, N, dx, dgy, dg) == SEQ_OK);
        expect_near(&ctx, dy, ty->data, N, TOL, names[act]);
        for (i = 0; i < N; i++) want[i] = g0[i] + tx->grad[i];
        expect_near(&ctx, dg, want, N, TOL, names[act]);
        seq_ctx_free(c);
        seq_cuda_arena_reset(&ctx);
    }
    seq_cuda_ctx_free(&ctx);
}

/* ---- row kernels ------------------------------------------------------------------- */

/* softmax and log-softmax over rows narrower than a warp, wider than the block, and with
 * large logits (max subtraction), forward and backward. */
static void test_cuda_softmax(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    static const int64_t widths[3] = {3, 257, 1500};
    static float x[7 * 1500], gy[7 * 1500], g0[7 * 1500], want[7 * 1500];
    int w, lg;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 4);
    for (w = 0; w < 3; w++)
        for (lg = 0; lg < 2; lg++) {
            const int64_t R = 7, C = widths[w], n = R * C;
            int64_t i;
            seq_ctx *c = seq_ctx_init(NULL);
            seq_tensor *tx, *ty;
            float *dx, *dy, *dg, *dgy;
            fill_uniform(&r, x, n, -8, 8);
            x[C] = 80.0f; /* exp(80) overflows f32 without the max subtracted */
            fill_uniform(&r, gy, n, -1, 1);
            fill_uniform(&r, g0, n, -1, 1);
            tx = leaf(c, x, 2, R, C);
            ty = lg ? seq_log_softmax(c, tx) : seq_softmax(c, tx);
            vjp(c, ty, gy);
            dx = dev_f(&ctx, x, n);
            dy = dev_f(&ctx, x, n);
            dg = dev_f(&ctx, g0, n);
            dgy = dev_f(&ctx, gy, n);
            CHECK((lg ? seq_cuda_log_softmax : seq_cuda_softmax)(&ctx, R, C, dx, dy) == SEQ_OK);
            CHECK((lg ? seq_cuda_log_softmax_bwd : seq_cuda_softmax_bwd)(&ctx, R, C, dy, dgy, dg) == SEQ_OK);
            expect_near(&ctx, dy, ty->data, n, lg ? 1e-5 : TOL, lg ? "log_softmax" : "softmax");
            for (i = 0; i < n; i++) want[i] = g0[i] + tx->grad[i];
            expect_near(&ctx, dg, want, n, 1e-4, lg ? "log_softmax grad" : "softmax grad");
            seq_ctx_free(c);
            seq_cuda_arena_reset(&ctx);
        }
    seq_cuda_ctx_free(&ctx);
}

/* Attention against seq_attention, forward and the gradients of q, k, v (accumulated):
 * causal with key lengths (one batch with length 0: rows with every key hidden), and
 * Tq < Tk with key padding and an explicit scale. Then a key length past Tk reports. */
static void test_cuda_attention(void) {
    enum { B = 3, H = 2, D = 16, DV = 12, TMAX = 9 };
    static float q[B * H * TMAX * D], k[B * H * TMAX * D], v[B * H * TMAX * DV], gy[B * H * TMAX * DV];
    static float g0[B * H * TMAX * D], want[B * H * TMAX * D];
    seq_cuda_ctx ctx;
    seq_rng r;
    int variant;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 11);
    fill_uniform(&r, q, B * H * TMAX * D, -1, 1);
    fill_uniform(&r, k, B * H * TMAX * D, -1, 1);
    fill_uniform(&r, v, B * H * TMAX * DV, -1, 1);
    fill_uniform(&r, gy, B * H * TMAX * DV, -1, 1);
    fill_uniform(&r, g0, B * H * TMAX * D, -1, 1);
    for (variant = 0; variant < 2; variant++) {
        const int64_t Tq = variant ? 5 : 7, Tk = variant ? 9 : 7;
        const int64_t nq = B * H * Tq * D, nk = B * H * Tk * D, nv = B * H * Tk * DV, ny = B * H * Tq * DV;
        int64_t i;
        int32_t lens[B] = {7, 4, 0};
        uint8_t pad[B * 9];
        int64_t sq[4] = {B, H, Tq, D}, sk[4] = {B, H, Tk, D}, sv[4] = {B, H, Tk, DV};
        seq_attention_mask cm = seq_attention_mask_none(), gm;
        seq_ctx *c = seq_ctx_init(NULL);
        seq_tensor *tq = seq_tensor_wrap(c, q, 4, sq), *tk = seq_tensor_wrap(c, k, 4, sk), *tv = seq_tensor_wrap(c, v, 4, sv);
        seq_tensor *ty;
        float *dq, *dk, *dv, *dy, *dp, *dgy, *dgq, *dgk, *dgv;
        for (i = 0; i < B * 9; i++) pad[i] = (uint8_t)(i % 4 == 1);
        if (variant) {
            cm.key_padding = pad;
            cm.scale = 0.3f;
        } else {
            cm.causal = 1;
            cm.key_lengths = lens;
        }
        CHECK(seq_tensor_set_requires_grad(c, tq) == SEQ_OK && seq_tensor_set_requires_grad(c, tk) == SEQ_OK &&
              seq_tensor_set_requires_grad(c, tv) == SEQ_OK);
        ty = seq_attention(c, tq, tk, tv, &cm);
        vjp(c, ty, gy);
        gm = cm;
        gm.key_lengths = cm.key_lengths ? (const int32_t *)dev_copy(&ctx, lens, sizeof lens) : NULL;
        gm.key_padding = cm.key_padding ? (const uint8_t *)dev_copy(&ctx, pad, sizeof pad) : NULL;
        dq = dev_f(&ctx, q, nq);
        dk = dev_f(&ctx, k, nk);
        dv = dev_f(&ctx, v, nv);
        dgy = dev_f(&ctx, gy, ny);
        dgq = dev_f(&ctx, g0, nq);
        dgk = dev_f(&ctx, g0, nk);
        dgv = dev_f(&ctx, g0, nv);
        dy = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * ny);
        dp = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * B * H * Tq * Tk);
        CHECK_MSG(seq_cuda_attention(&ctx, B, H, Tq, Tk, D, DV, dq, dk, dv, &gm, dp, dy) == SEQ_OK, "%s",
                  seq_last_error());
        CHECK_MSG(seq_cuda_attention_bwd(&ctx, B, H, Tq, Tk, D, DV, dq, dk, dv, &gm, dp, dgy, dgq, dgk, dgv) == SEQ_OK,
                  "%s", seq_last_error());
        expect_near(&ctx, dy, ty->data, ny, 1e-4, "attention y");
        for (i = 0; i < nq; i++) want[i] = g0[i] + tq->grad[i];
        expect_near(&ctx, dgq, want, nq, 1e-4, "attention gq");
        for (i = 0; i < nk; i++) want[i] = g0[i] + tk->grad[i];
        expect_near(&ctx, dgk, want, nk, 1e-4, "attention gk");
        for (i = 0; i < nv; i++) want[i] = g0[i] + tv->grad[i];
        expect_near(&ctx, dgv, want, nv, 1e-4, "attention gv");
        if (!variant) { /* a key length past Tk */
            lens[1] = 8;
            CHECK(seq_cuda_upload(&ctx, (void *)gm.key_lengths, lens, sizeof lens) == SEQ_OK);
            CHECK(seq_cuda_attention(&ctx, B, H, Tq, Tk, D, DV, dq, dk, dv, &gm, dp, dy) == SEQ_OK);
            CHECK(seq_cuda_sync(&ctx) == SEQ_ERR_RANGE);
            CHECK_MSG(strstr(seq_last_error(), "seq_cuda_attention: key_lengths[1] = 8") != NULL, "%s",
                      seq_last_error());
        }
        seq_ctx_free(c);
        seq_cuda_arena_reset(&ctx);
    }
    seq_cuda_ctx_free(&ctx);
}

/* LayerNorm and RMSNorm with and without weight/bias, rows offset from zero (the
 * two-pass variance), forward, stats and the gradients of x, w, b. */
static void test_cuda_norms(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { R = 19, C = 700 };
    static float x[R * C], gy[R * C], g0[R * C], want[R * C], w[C], b[C], gw0[C];
    int rms, affine;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 5);
    fill_uniform(&r, x, R * C, 2, 6);
    fill_uniform(&r, gy, R * C, -1, 1);
    fill_uniform(&r, g0, R * C, -1, 1);
    fill_uniform(&r, w, C, 0.5, 1.5);
    fill_uniform(&r, b, C, -0.5, 0.5);
    fill_uniform(&r, gw0, C, -1, 1);
    for (rms = 0; rms < 2; rms++)
        for (affine = 0; affine < 2; affine++) {
            const float eps = 1e-5f;
            int64_t i;
            seq_ctx *c = seq_ctx_init(NULL);
            seq_tensor *tx = leaf(c, x, 2, R, C), *tw = affine ? leaf(c, w, 1, C, 0) : NULL;
            seq_tensor *tb = affine && !rms ? leaf(c, b, 1, C, 0) : NULL;
            seq_tensor *ty = rms ? seq_rmsnorm(c, tx, tw, eps) : seq_layernorm(c, tx, tw, tb, eps);
            float *dx = dev_f(&ctx, x, R * C), *dy = dev_f(&ctx, x, R * C), *dg = dev_f(&ctx, g0, R * C);
            float *dgy = dev_f(&ctx, gy, R * C), *dw = affine ? dev_f(&ctx, w, C) : NULL;
            float *db = affine && !rms ? dev_f(&ctx, b, C) : NULL;
            float *dgw = affine ? dev_f(&ctx, gw0, C) : NULL, *dgb = affine && !rms ? dev_f(&ctx, gw0, C) : NULL;
            float *dstats = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * 2 * R);
            vjp(c, ty, gy);
            if (rms) {
                CHECK(seq_cuda_rmsnorm(&ctx, R, C, dx, dw, eps, dy, dstats) == SEQ_OK);
                CHECK(seq_cuda_rmsnorm_bwd(&ctx, R, C, dx, dw, dstats, dgy, dg, dgw) == SEQ_OK);
            } else {
                CHECK(seq_cuda_layernorm(&ctx, R, C, dx, dw, db, eps, dy, dstats) == SEQ_OK);
                CHECK(seq_cuda_layernorm_bwd(&ctx, R, C, dx, dw, dstats, dgy, dg, dgw, dgb) == SEQ_OK);
            }
            expect_near(&ctx, dy, ty->data, R * C, 1e-4, rms ? "rmsnorm" : "layernorm");
            for (i = 0; i < R * C; i++) want[i] = g0[i] + tx->grad[i];
            expect_near(&ctx, dg, want, R * C, 1e-4, "norm gx");
            if (affine) {
                for (i = 0; i < C; i++) want[i] = gw0[i] + tw->grad[i];
                expect_near(&ctx, dgw, want, C, 1e-4, "norm gw");
            }
            if (tb) {
                for (i = 0; i < C; i++) want[i] = gw0[i] + tb->grad[i];
                expect_near(&ctx, dgb, want, C, 1e-4, "norm gb");
            }
            seq_ctx_free(c);
            seq_cuda_arena_reset(&ctx);
        }
    seq_cuda_ctx_free(&ctx);
}

/* ---- embedding, cross-entropy ------------------------------------------------------ */

/* Gather and scatter-add with repeated ids, against seq_embedding; an out-of-range id is
 * a zero row and SEQ_ERR_RANGE naming it at the next sync. */
static void test_cuda_embedding(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { V = 50, D = 96, N = 40 };
    static float W[V * D], gy[N * D], want[V * D], zero[V * D];
    int32_t ids[N];
    int64_t i, ishape[1] = {N};
    seq_ctx *c;
    seq_tensor *tw, *ty;
    float *dW, *dy, *dg;
    int32_t *dids;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 6);
    fill_uniform(&r, W, V * D, -1, 1);
    fill_uniform(&r, gy, N * D, -1, 1);
    for (i = 0; i < N; i++) ids[i] = (int32_t)seq_rng_below(&r, 10); /* many repeats */
    c = seq_ctx_init(NULL);
    tw = leaf(c, W, 2, V, D);
    ty = seq_embedding(c, tw, seq_tensor_wrap_i32(c, ids, 1, ishape));
    vjp(c, ty, gy);
    dW = dev_f(&ctx, W, V * D);
    dy = dev_f(&ctx, gy, N * D);
    dg = dev_f(&ctx, zero, V * D);
    dids = (int32_t *)dev_copy(&ctx, ids, sizeof ids);
    CHECK(seq_cuda_embedding(&ctx, V, D, dW, N, dids, dy) == SEQ_OK);
    expect_near(&ctx, dy, ty->data, N * D, 0.0, "embedding");
    CHECK(seq_cuda_upload(&ctx, dy, gy, sizeof gy) == SEQ_OK);
    CHECK(seq_cuda_embedding_bwd(&ctx, V, D, N, dids, dy, dg) == SEQ_OK);
    expect_near(&ctx, dg, tw->grad, V * D, TOL, "embedding grad");
    /* id V at position 7 */
    ids[7] = V;
    CHECK(seq_cuda_upload(&ctx, dids, ids, sizeof ids) == SEQ_OK);
    CHECK(seq_cuda_embedding(&ctx, V, D, dW, N, dids, dy) == SEQ_OK);
    CHECK(seq_cuda_sync(&ctx) == SEQ_ERR_RANGE);
    CHECK_MSG(strstr(seq_last_error(), "seq_cuda_embedding: id 50 at position 7") != NULL, "%s", seq_last_error());
    for (i = 0; i < N * D; i++) want[i] = i / D == 7 ? 0.0f : ty->data[i];
    expect_near(&ctx, dy, want, N * D, 0.0, "zero row"); /* and the report was cleared */
    seq_ctx_free(c);
    seq_cuda_ctx_free(&ctx);
}

/* The mean loss over counted rows and dlogits (accumulated) against seq_cross_entropy,
 * with ignored rows; every row ignored gives 0 and no gradient; a bad target reports. */
static void test_cuda_cross_entropy(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { R = 24, V = 1000 };
    static float x[R * V], g0[R * V], want[R * V];
    int32_t t[R], all_ignored[R];
    int64_t i, tshape[1] = {R};
    seq_ctx *c;
    seq_tensor *tx, *loss;
    float *dx, *dloss, *dg, one = 1.0f;
    int32_t *dt;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 7);
    fill_uniform(&r, x, R * V, -5, 5);
    x[3] = 70.0f;
    fill_uniform(&r, g0, R * V, -1, 1);
    for (i = 0; i < R; i++) {
        t[i] = i % 5 == 2 ? -100 : (int32_t)seq_rng_below(&r, V);
        all_ignored[i] = -100;
    }
    c = seq_ctx_init(NULL);
    tx = leaf(c, x, 2, R, V);
    loss = seq_cross_entropy(c, tx, seq_tensor_wrap_i32(c, t, 1, tshape), -100);
    CHECK(loss != NULL && seq_backward(c, loss) == SEQ_OK);
    dx = dev_f(&ctx, x, R * V);
    dg = dev_f(&ctx, g0, R * V);
    dloss = dev_f(&ctx, &one, 1);
    dt = (int32_t *)dev_copy(&ctx, t, sizeof t);
    CHECK(seq_cuda_cross_entropy(&ctx, R, V, dx, dt, -100, dloss, dg) == SEQ_OK);
    expect_near(&ctx, dloss, loss->data, 1, 1e-5, "loss");
    for (i = 0; i < R * V; i++) want[i] = g0[i] + tx->grad[i];
    expect_near(&ctx, dg, want, R * V, TOL, "dlogits");
    /* every row ignored: loss 0, dlogits untouched */
    CHECK(seq_cuda_upload(&ctx, dt, all_ignored, sizeof t) == SEQ_OK);
    CHECK(seq_cuda_upload(&ctx, dg, g0, sizeof g0) == SEQ_OK);
    CHECK(seq_cuda_cross_entropy(&ctx, R, V, dx, dt, -100, dloss, dg) == SEQ_OK);
    {
        float zero = 0.0f;
        expect_near(&ctx, dloss, &zero, 1, 0.0, "all ignored");
    }
    expect_near(&ctx, dg, g0, R * V, 0.0, "no gradient");
    /* target V at row 5 */
    t[5] = V;
    CHECK(seq_cuda_upload(&ctx, dt, t, sizeof t) == SEQ_OK);
    CHECK(seq_cuda_cross_entropy(&ctx, R, V, dx, dt, -100, dloss, NULL) == SEQ_OK);
    CHECK(seq_cuda_sync(&ctx) == SEQ_ERR_RANGE);
    CHECK_MSG(strstr(seq_last_error(), "seq_cuda_cross_entropy: id 1000 at position 5") != NULL, "%s",
              seq_last_error());
    seq_ctx_free(c);
    seq_cuda_ctx_free(&ctx);
}

/* ---- optimizers -------------------------------------------------------------------- */

void opt_init(opt_pair *o, int kind, const seq_params *P) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->adam_cfg = seq_adamw_config_default();
    o->adam_cfg.weight_decay = 0.1f;
    o->adam_cfg.decoupled = kind != OPT_ADAM_L2;
    o->adam_cfg.amsgrad = kind == OPT_AMSGRAD;
    o->sgd_cfg = seq_sgd_config_default();
    o->sgd_cfg.weight_decay = 0.05f;
    o->sgd_cfg.momentum = kind == OPT_SGD ? 0.0f : 0.9f;
    o->sgd_cfg.dampening = kind == OPT_SGD_MOMENTUM ? 0.1f : 0.0f;
    o->sgd_cfg.nesterov = kind == OPT_NESTEROV;
    o->lion_cfg = seq_lion_config_default();
    o->lion_cfg.weight_decay = 0.1f;
    if (kind <= OPT_AMSGRAD) {
        CHECK(seq_adamw_init(&o->adam, P, o->adam_cfg) == SEQ_OK);
        o->st = &o->adam.st;
    } else if (kind == OPT_LION) {
        CHECK(seq_lion_init(&o->lion, P, o->lion_cfg) == SEQ_OK);
        o->st = &o->lion.st;
    } else {
        CHECK(seq_sgd_init(&o->sgd, P, o->sgd_cfg) == SEQ_OK);
        o->st = &o->sgd.st;
    }
}

seq_status opt_cpu_step(opt_pair *o, seq_params *P, float lr) {
    if (o->kind <= OPT_AMSGRAD) return seq_adamw_step(&o->adam, P, lr);
    if (o->kind == OPT_LION) return seq_lion_step(&o->lion, P, lr);
    return seq_sgd_step(&o->sgd, P, lr);
}

/* step t (1-based) on the device; state holds the CPU layout's floats */
static seq_status opt_gpu_step(seq_cuda_ctx *ctx, const opt_pair *o, int64_t t, float lr, int64_t n, float *w,
                               const float *g, float *state) {
    if (o->kind <= OPT_AMSGRAD)
        return seq_cuda_adamw_step(ctx, &o->adam_cfg, t, lr, 1.0f, n, w, g, state, state + n,
                                   o->adam_cfg.amsgrad ? state + 2 * n : NULL);
    if (o->kind == OPT_LION) return seq_cuda_lion_step(ctx, &o->lion_cfg, lr, 1.0f, n, w, g, state);
    return seq_cuda_sgd_step(ctx, &o->sgd_cfg, t, lr, 1.0f, n, w, g, o->sgd_cfg.momentum != 0.0f ? state : NULL);
}

void opt_free(opt_pair *o) {
    if (o->kind <= OPT_AMSGRAD) seq_adamw_free(&o->adam);
    else if (o->kind == OPT_LION) seq_lion_free(&o->lion);
    else seq_sgd_free(&o->sgd);
}

/* Three steps of each CPU optimizer (AdamW, Adam with L2, AMSGrad, SGD plain / with
 * momentum and dampening / Nesterov, Lion) against the fused kernel on the same
 * gradients: parameters and state. Then a NaN gradient skips the step and the sync
 * names its index. */
static void test_cuda_optimizers(void) {
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { N = 3000 };
    static float grads[3][N];
    int kind, step;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 8);
    for (step = 0; step < 3; step++) fill_uniform(&r, grads[step], N, -1, 1);
    for (kind = 0; kind < OPT_COUNT; kind++) {
        int64_t shape[1] = {N};
        seq_params *P = seq_params_init(NULL);
        opt_pair o;
        float *dw, *dg, *dstate;
        CHECK(seq_params_add(P, "w", 1, shape, seq_init_uniform(-1.0f, 1.0f)) != NULL);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        opt_init(&o, kind, P);
        dw = dev_f(&ctx, P->data, N);
        dg = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * N);
        dstate = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * 3 * N);
        CHECK(seq_cuda_zero(&ctx, dstate, sizeof(float) * 3 * N) == SEQ_OK);
        for (step = 0; step < 3; step++) {
            float lr = 1e-2f * (float)(step + 1);
            memcpy(P->grad, grads[step], sizeof(float) * N);
            CHECK(opt_cpu_step(&o, P, lr) == SEQ_OK);
            CHECK(seq_cuda_upload(&ctx, dg, grads[step], sizeof(float) * N) == SEQ_OK);
            CHECK_MSG(opt_gpu_step(&ctx, &o, step + 1, lr, N, dw, dg, dstate) == SEQ_OK, "%s", seq_last_error());
        }
        expect_near(&ctx, dw, P->data, N, 1e-5, "optimizer w");
        if (o.st->numel > 0) expect_near(&ctx, dstate, o.st->buf, o.st->numel, 1e-5, "optimizer state");
        /* a NaN gradient: nothing changes, and the sync names the index */
        grads[0][1234] = NAN;
        CHECK(seq_cuda_upload(&ctx, dg, grads[0], sizeof(float) * N) == SEQ_OK);
        CHECK(opt_gpu_step(&ctx, &o, 4, 1e-2f, N, dw, dg, dstate) == SEQ_OK);
        CHECK(seq_cuda_sync(&ctx) == SEQ_ERR_NUMERIC);
        CHECK_MSG(strstr(seq_last_error(), "gradient 1234 is not finite") != NULL, "%s", seq_last_error());
        expect_near(&ctx, dw, P->data, N, 1e-5, "skipped step");
        grads[0][1234] = 0.5f;
        opt_free(&o);
        seq_params_free(P);
        seq_cuda_arena_reset(&ctx);
    }
    seq_cuda_ctx_free(&ctx);
}

/* ---- quantized GEMV ---------------------------------------------------------------- */

/* y = W x for Q8_0, Q4_0, Q4_K, MXFP4 and NF4 rows quantized by seq_quant.h: against the dequantized
 * rows times x in double, relative to sum |w x|. Rows of 5 q4_K blocks (40 of the others);
 * 37 rows, so the last block of 4 warps is partly empty. */
static void test_cuda_quant_gemv(void) {
    static const seq_quant_type types[5] = {SEQ_QUANT_Q8_0, SEQ_QUANT_Q4_0, SEQ_QUANT_Q4_K, SEQ_QUANT_MXFP4,
                                            SEQ_QUANT_NF4};
    seq_cuda_ctx ctx;
    seq_rng r;
    enum { ROWS = 37, NCOL = 256 * 5 };
    static float w[ROWS * NCOL], wd[ROWS * NCOL], x[NCOL], want[ROWS], got[ROWS];
    int ti;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    seq_rng_seed(&r, 9);
    fill_uniform(&r, w, ROWS * NCOL, -1, 1);
    fill_uniform(&r, x, NCOL, -1, 1);
    for (ti = 0; ti < 5; ti++) {
        size_t row_bytes = seq_quant_row_size(types[ti], NCOL);
        unsigned char *q = (unsigned char *)malloc(row_bytes * ROWS);
        float *dx, *dy;
        void *dq;
        int64_t i, j;
        CHECK(q != NULL && seq_quant_quantize(types[ti], w, q, ROWS, NCOL) == SEQ_OK);
        CHECK(seq_quant_dequantize(types[ti], q, wd, ROWS, NCOL) == SEQ_OK);
        dq = dev_copy(&ctx, q, row_bytes * ROWS);
        dx = dev_f(&ctx, x, NCOL);
        dy = (float *)seq_cuda_arena_alloc(&ctx, sizeof(float) * ROWS);
        CHECK(seq_cuda_quant_gemv(&ctx, types[ti], ROWS, NCOL, dq, dx, dy) == SEQ_OK);
        CHECK(seq_cuda_download_sync(&ctx, got, dy, sizeof got) == SEQ_OK);
        for (i = 0; i < ROWS; i++) {
            double s = 0.0, mag = 0.0;
            for (j = 0; j < NCOL; j++) {
                s += (double)wd[i * NCOL + j] * x[j];
                mag += fabs((double)wd[i * NCOL + j] * x[j]);
            }
            want[i] = (float)s;
            CHECK_MSG(fabs(got[i] - want[i]) <= 1e-5 * mag + 1e-6, "%s row %lld: gpu %.9g cpu %.9g",
                      seq_quant_type_name(types[ti]), (long long)i, got[i], want[i]);
        }
        free(q);
        seq_cuda_arena_reset(&ctx);
    }
    seq_cuda_ctx_free(&ctx);
}

/* ---- runtime on a device ------------------------------------------------------------ */

/* Buffers, transfers and the arena on the device: a round trip, zeroing, an arena that
 * refuses what it cannot hold, a too-large cudaMalloc as SEQ_ERR_NOMEM. */
static void test_cuda_runtime_device(void) {
    seq_cuda_ctx ctx;
    float h[100], back[100], zero[100];
    void *p = NULL;
    int i;
    if (!cuda_open(&ctx)) SKIP("no CUDA device");
    for (i = 0; i < 100; i++) {
        h[i] = (float)i - 50.0f;
        zero[i] = 0.0f;
    }
    CHECK(seq_cuda_alloc(&ctx, &p, sizeof h) == SEQ_OK && p != NULL);
    CHECK(seq_cuda_upload(&ctx, p, h, sizeof h) == SEQ_OK);
    CHECK(seq_cuda_download_sync(&ctx, back, p, sizeof back) == SEQ_OK);
    CHECK(memcmp(h, back, sizeof h) == 0);
    CHECK(seq_cuda_zero(&ctx, p, sizeof h) == SEQ_OK);
    expect_near(&ctx, (const float *)p, zero, 100, 0.0, "zeroed");
    CHECK(seq_cuda_free(&ctx, p) == SEQ_OK);
    CHECK(seq_cuda_alloc(&ctx, &p, (size_t)1 << 50) == SEQ_ERR_NOMEM && p == NULL);
    CHECK(strstr(seq_last_error(), "seq_cuda_alloc: cudaMalloc") != NULL);
    CHECK(seq_cuda_arena_alloc(&ctx, ((size_t)64 << 20) + 1) == NULL && seq_last_status() == SEQ_ERR_NOMEM);
    CHECK(seq_cuda_sync(&ctx) == SEQ_OK);
    seq_cuda_ctx_free(&ctx);
    CHECK(ctx.cublas == NULL);
}

void seq_tests_cuda_kernels(void) {
    RUN(test_cuda_runtime_device);
    RUN(test_cuda_sgemm);
    RUN(test_cuda_sgemm_batched);
    RUN(test_cuda_binary);
    RUN(test_cuda_activations);
    RUN(test_cuda_softmax);
    RUN(test_cuda_attention);
    RUN(test_cuda_norms);
    RUN(test_cuda_embedding);
    RUN(test_cuda_cross_entropy);
    RUN(test_cuda_optimizers);
    RUN(test_cuda_quant_gemv);
}
