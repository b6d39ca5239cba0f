/* seq_quant.h sections 7-12: RTN and clipping, stochastic rounding, Hadamard incoherence,
 * GPTQ, HAWQ (Hessian trace, top eigenvalue, bit allocation), QTIP trellis codes, QAT. */
#include "seq_test.h"
#include "../seq_quant.h"

/* ---- shared fixtures ---------------------------------------------------------------- */

static void fill_normal(float *x, int64_t n, seq_rng *r, float std) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = (float)seq_rng_normal(r, 0.0, std);
}

static double sq_diff(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

/* |Q(W) - W|^2 of RTN under cfg. */
static double rtn_sq_err(const float *W, int64_t rows, int64_t cols, const seq_quant_rtn_config *cfg) {
    seq_quant_weight q;
    float *dq = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    double e = -1.0;
    if (seq_quant_rtn(&q, W, rows, cols, cfg, NULL, NULL) == SEQ_OK) {
        seq_quant_weight_dequantize(&q, dq);
        e = sq_diff(W, dq, rows * cols);
        seq_quant_weight_free(&q);
    }
    free(dq);
    return e;
}

/* ---- 7 round-to-nearest -------------------------------------------------------------- */

static void test_rtn_grids(void) {
    enum { R = 6, C = 16 };
    static const seq_quant_gran grans[3] = {SEQ_QUANT_PER_TENSOR, SEQ_QUANT_PER_CHANNEL, SEQ_QUANT_PER_GROUP};
    static const int64_t ngrids[3] = {1, R, R * 4};
    float W[R * C], dq[R * C];
    seq_rng r;
    int gi, sym;
    int64_t i;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 1);
    fill_normal(W, R * C, &r, 1.0f);
    for (gi = 0; gi < 3; gi++)
        for (sym = 0; sym < 2; sym++) {
            seq_quant_rtn_config cfg = seq_quant_rtn_config_default(4);
            seq_quant_weight q;
            cfg.gran = grans[gi];
            cfg.group_size = 4;
            cfg.symmetric = sym;
            if (seq_quant_rtn(&q, W, R, C, &cfg, NULL, NULL) != SEQ_OK) {
                CHECK_MSG(0, "%s", seq_last_error());
                continue;
            }
            CHECK(q.ngrids == ngrids[gi]);
            seq_quant_weight_dequantize(&q, dq);
            for (i = 0; i < R * C; i++) { /* min-max never clips: every error within half a step */
                const seq_quant_grid *g = seq_quant_weight_grid(&q, i / C, i % C);
                CHECK(seq_quant_weight_code(&q, i / C, i % C) <= (sym ? 14u : 15u));
                CHECK_MSG(fabsf(dq[i] - W[i]) <= 0.5f * g->scale * 1.0001f, "gran %d sym %d i %lld", gi, sym, (long long)i);
                if (sym) CHECK(g->zero == 0);
            }
            seq_quant_weight_free(&q);
        }
    CHECK(seq_test_live_blocks == live);
}

static void test_rtn_clipping(void) {
    enum { N = 512 };
    float x[N];
    seq_rng r;
    int64_t i;
    seq_quant_rtn_config mm = seq_quant_rtn_config_default(3), pc = mm, mse = mm;
    seq_quant_grid gm, gp, gs;
    seq_rng_seed(&r, 2);
    for (i = 0; i < N; i++) x[i] = (float)(seq_rng_normal(&r, 0, 1) / (0.05 + seq_rng_double(&r))); /* heavy tails */
    pc.clip = SEQ_QUANT_CLIP_PERCENTILE;
    pc.percentile = 0.99f;
    mse.clip = SEQ_QUANT_CLIP_MSE;
    CHECK(seq_quant_grid_search(&gm, x, N, &mm, NULL) == SEQ_OK);
    CHECK(seq_quant_grid_search(&gp, x, N, &pc, NULL) == SEQ_OK);
    CHECK(seq_quant_grid_search(&gs, x, N, &mse, NULL) == SEQ_OK);
    CHECK(gp.scale < gm.scale && gs.scale < gm.scale);
    CHECK_MSG(rtn_sq_err(x, 1, N, &mse) < 0.9 * rtn_sq_err(x, 1, N, &mm), "MSE clip %g, min-max %g",
              rtn_sq_err(x, 1, N, &mse), rtn_sq_err(x, 1, N, &mm));
    CHECK(rtn_sq_err(x, 1, N, &mse) <= rtn_sq_err(x, 1, N, &pc));
    /* the 0.9 percentiles of -50..50 are -40 and 40 exactly; min-max would be +-50 */
    {
        float lin[101];
        seq_quant_rtn_config p9 = pc;
        for (i = 0; i <= 100; i++) lin[i] = (float)(50 - i);
        p9.percentile = 0.9f;
        p9.bits = 8;
        CHECK(seq_quant_grid_search(&gp, lin, 101, &p9, NULL) == SEQ_OK);
        CHECK_NEAR(gp.scale, 80.0 / 255.0, 1e-6);
        CHECK_NEAR(seq_quant_grid_dq(&gp, gp.qmin), -40.0, 0.5 * gp.scale);
    }
}

static void test_stochastic_rounding(void) {
    seq_quant_grid g;
    seq_rng r;
    const float xs[3] = {0.3f, -1.71f, 2.05f};
    int k, i;
    seq_rng_seed(&r, 3);
    CHECK(seq_quant_grid_fit(&g, 4, 1, -3.0f, 3.0f) == SEQ_OK);
    for (k = 0; k < 3; k++) {
        double mean = 0.0;
        float lo = floorf(xs[k] / g.scale) * g.scale, hi = lo + g.scale;
        for (i = 0; i < 20000; i++) {
            float v = seq_quant_grid_dq(&g, seq_quant_grid_q_stochastic(&g, xs[k], &r));
            CHECK(fabsf(v - lo) < 1e-6f || fabsf(v - hi) < 1e-6f); /* only the two neighbours */
            mean += v / 20000.0;
        }
        CHECK_NEAR(mean, xs[k], 0.01); /* unbiased: E[dq(q(x))] = x */
    }
    CHECK(seq_quant_grid_q_stochastic(&g, 100.0f, &r) == g.qmax);
    CHECK(seq_quant_grid_q_stochastic(&g, NAN, &r) == g.qmin);
}

static void test_rtn_bad_input(void) {
    float W[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    seq_quant_weight q;
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(4);
    long live = seq_test_live_blocks;
    int k, st;
    seq_rng r;
    seq_rng_seed(&r, 4);
    cfg.bits = 9;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "seq_quant_weight_init") != NULL);
    cfg.bits = 4;
    cfg.gran = SEQ_QUANT_PER_GROUP;
    cfg.group_size = 3;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_SHAPE);
    cfg.group_size = 2;
    cfg.stochastic = 1;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, &r, NULL) == SEQ_OK);
    seq_quant_weight_free(&q);
    cfg.stochastic = 0;
    CHECK(seq_quant_rtn(&q, W, 0, 4, &cfg, NULL, NULL) == SEQ_ERR_SHAPE);
    W[5] = NAN;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_NUMERIC);
    W[5] = INFINITY;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_NUMERIC);
    W[5] = 6;
    cfg.clip = SEQ_QUANT_CLIP_PERCENTILE;
    cfg.percentile = 0.2f;
    CHECK(seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL) == SEQ_ERR_INVALID);
    cfg.percentile = 0.9f;
    for (k = 0; k < 6; k++) { /* out of memory at each allocation: a status, no leak */
        seq_test_fail_after(k);
        st = seq_quant_rtn(&q, W, 2, 4, &cfg, NULL, NULL);
        seq_test_fail_never();
        CHECK(st == SEQ_OK || st == SEQ_ERR_NOMEM);
        if (st == SEQ_OK) seq_quant_weight_free(&q);
    }
    CHECK(seq_test_live_blocks == live);
}

/* ---- 8 Hadamard ----------------------------------------------------------------------- */

static void test_fwht_reference(void) {
    enum { N = 32 };
    float x[N], y[N];
    seq_rng r;
    int i, j;
    seq_rng_seed(&r, 5);
    fill_normal(x, N, &r, 1.0f);
    memcpy(y, x, sizeof x);
    seq_quant_fwht(y, N);
    for (i = 0; i < N; i++) { /* Sylvester's H_ij = (-1)^popcount(i & j) */
        double s = 0.0;
        for (j = 0; j < N; j++) {
            int b = i & j, p = 0;
            while (b) {
                p ^= b & 1;
                b >>= 1;
            }
            s += (p ? -1.0 : 1.0) * x[j];
        }
        CHECK_NEAR(y[i], s, 1e-5);
    }
}

static void test_hadamard_orthogonal(void) {
    static const int64_t sizes[9] = {1, 8, 12, 20, 24, 28, 40, 96, 112};
    static const int64_t ks[9] = {1, 1, 12, 20, 12, 28, 20, 12, 28};
    int si;
    long live = seq_test_live_blocks;
    for (si = 0; si < 9; si++) {
        int64_t n = sizes[si], i, j, l;
        seq_quant_hadamard h;
        float *M = (float *)malloc((size_t)(n * n) * sizeof(float)), *X = (float *)malloc((size_t)(n * n) * sizeof(float));
        double worst = 0.0;
        CHECK(seq_quant_hadamard_init(&h, n, NULL) == SEQ_OK);
        CHECK_MSG(h.k == ks[si], "n %lld: k %lld", (long long)n, (long long)h.k);
        for (i = 0; i < n * n; i++) M[i] = i / n == i % n ? 1.0f : 0.0f;
        seq_quant_hadamard_apply(&h, M, n, 0); /* row i = H e_i / sqrt(n): the columns of H */
        for (i = 0; i < n; i++)
            for (j = 0; j < n; j++) {
                double s = 0.0;
                for (l = 0; l < n; l++) s += (double)M[i * n + l] * M[j * n + l];
                worst = fmax(worst, fabs(s - (i == j)));
                CHECK(fabsf(fabsf(M[i * n + j]) * sqrtf((float)n) - 1.0f) < 1e-5f); /* entries +-1/sqrt(n) */
            }
        CHECK_MSG(worst < 1e-6, "n %lld: |H H^T - I| = %g", (long long)n, worst);
        for (i = 0; i < n * n; i++) X[i] = (float)((i * 37 % 11) - 5);
        memcpy(M, X, (size_t)(n * n) * sizeof(float));
        seq_quant_hadamard_apply(&h, M, n, 0);
        seq_quant_hadamard_apply(&h, M, n, 1);
        for (i = 0; i < n * n; i++) CHECK(fabsf(M[i] - X[i]) < 1e-6f * 8.0f);
        seq_quant_hadamard_free(&h);
        free(M);
        free(X);
    }
    {
        seq_quant_hadamard h;
        CHECK(seq_quant_hadamard_init(&h, 6, NULL) == SEQ_ERR_UNSUPPORTED);
        CHECK(seq_quant_hadamard_init(&h, 7, NULL) == SEQ_ERR_UNSUPPORTED);
        CHECK(seq_quant_hadamard_init(&h, 0, NULL) == SEQ_ERR_SHAPE);
        seq_test_fail_after(0);
        CHECK(seq_quant_hadamard_init(&h, 12, NULL) == SEQ_ERR_NOMEM);
        seq_test_fail_never();
    }
    CHECK(seq_test_live_blocks == live);
}

static void test_incoherence_exact(void) {
    enum { R = 12, C = 16, B = 3 };
    float W[R * C], Wt[R * C], x[B * C], y[B * R], y2[B * R];
    seq_quant_incoherence ip;
    seq_rng r;
    int64_t i;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 6);
    fill_normal(W, R * C, &r, 1.0f);
    fill_normal(x, B * C, &r, 1.0f);
    CHECK(seq_quant_incoherence_init(&ip, R, C, &r, NULL) == SEQ_OK);
    memcpy(Wt, W, sizeof W);
    CHECK(seq_quant_incoherence_weight(&ip, Wt, 0) == SEQ_OK);
    CHECK(sq_diff(W, Wt, R * C) > 1.0);                               /* it did transform */
    seq_sgemm(0, 1, B, R, C, 1.0f, x, C, W, C, 0.0f, y, R);           /* y = x W^T */
    seq_quant_incoherence_input(&ip, x, B);                           /* V x */
    seq_sgemm(0, 1, B, R, C, 1.0f, x, C, Wt, C, 0.0f, y2, R);
    seq_quant_incoherence_output(&ip, y2, B);                         /* U^T W~ V x */
    for (i = 0; i < B * R; i++) CHECK_NEAR(y2[i], y[i], 1e-5);
    CHECK(seq_quant_incoherence_weight(&ip, Wt, 1) == SEQ_OK);
    for (i = 0; i < R * C; i++) CHECK(fabsf(Wt[i] - W[i]) < 1e-6f * 4.0f);
    seq_quant_incoherence_free(&ip);
    for (i = 0; i < 6; i++) {
        seq_status st;
        seq_test_fail_after(i);
        st = seq_quant_incoherence_init(&ip, R, C, &r, NULL);
        seq_test_fail_never();
        CHECK(st == SEQ_OK || st == SEQ_ERR_NOMEM);
        if (st == SEQ_OK) seq_quant_incoherence_free(&ip);
    }
    CHECK(seq_quant_incoherence_init(&ip, 10, C, &r, NULL) == SEQ_ERR_UNSUPPORTED);
    CHECK(seq_test_live_blocks == live);
}

/* 3-bit RTN error of W with outliers, as is and through U W V^T (error measured after the
 * inverse, on the original weight). */
static void test_hadamard_outliers_3bit(void) {
    enum { R = 32, C = 64 };
    float W[R * C], Wt[R * C];
    seq_quant_incoherence ip;
    seq_quant_weight q;
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(3);
    seq_rng r;
    double plain, had;
    int64_t i;
    seq_rng_seed(&r, 7);
    fill_normal(W, R * C, &r, 1.0f);
    for (i = 0; i < R * C; i += 97) W[i] *= 25.0f; /* ~1% outliers */
    plain = rtn_sq_err(W, R, C, &cfg);
    CHECK(seq_quant_incoherence_init(&ip, R, C, &r, NULL) == SEQ_OK);
    memcpy(Wt, W, sizeof W);
    seq_quant_incoherence_weight(&ip, Wt, 0);
    CHECK(seq_quant_rtn(&q, Wt, R, C, &cfg, NULL, NULL) == SEQ_OK);
    seq_quant_weight_dequantize(&q, Wt);
    seq_quant_incoherence_weight(&ip, Wt, 1);
    had = sq_diff(W, Wt, R * C);
    CHECK_MSG(had < 0.75 * plain, "3-bit error with Hadamard %g, without %g", had, plain);
    seq_quant_weight_free(&q);
    seq_quant_incoherence_free(&ip);
}

/* ---- 9 GPTQ ------------------------------------------------------------------------- */

/* Calibration inputs with correlated features (x = z M), where GPTQ's error feedback pays. */
static void correlated_inputs(float *X, int64_t n, int64_t c, seq_rng *r) {
    float *M = (float *)malloc((size_t)(c * c) * sizeof(float)), *Z = (float *)malloc((size_t)(n * c) * sizeof(float));
    int64_t i;
    fill_normal(M, c * c, r, 1.0f);
    for (i = 0; i < c; i++) M[i * c + i] += 2.0f;
    fill_normal(Z, n * c, r, 1.0f);
    seq_sgemm(0, 0, n, c, c, 1.0f / sqrtf((float)c), Z, c, M, c, 0.0f, X, c);
    free(M);
    free(Z);
}

static void test_gptq_beats_rtn(void) {
    enum { R = 16, C = 48, N = 192 };
    float *X = (float *)malloc(N * C * sizeof(float)), W[R * C], dq[R * C], dq2[R * C];
    seq_quant_gptq g;
    seq_rng r;
    int bits, variant;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 8);
    correlated_inputs(X, N, C, &r);
    fill_normal(W, R * C, &r, 0.2f);
    CHECK(seq_quant_gptq_init(&g, C, NULL) == SEQ_OK);
    CHECK(seq_quant_gptq_add_batch(&g, X, N / 2) == SEQ_OK); /* two batches: the same H as one */
    CHECK(seq_quant_gptq_add_batch(&g, X + (N / 2) * C, N - N / 2) == SEQ_OK);
    CHECK(g.nsamples == N);
    for (bits = 3; bits <= 4; bits++)
        for (variant = 0; variant < 4; variant++) { /* plain, act-order, groups (small blocks), both */
            seq_quant_gptq_config cfg = seq_quant_gptq_config_default(bits);
            seq_quant_weight q, rq;
            double e_gptq, e_rtn;
            cfg.act_order = variant & 1;
            if (variant & 2) {
                cfg.grid.gran = SEQ_QUANT_PER_GROUP;
                cfg.grid.group_size = 16;
            }
            cfg.block_size = variant == 2 ? 5 : 128; /* blocks that split groups */
            CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq) == SEQ_OK);
            seq_quant_weight_dequantize(&q, dq2);
            CHECK(sq_diff(dq, dq2, R * C) == 0.0); /* codes and grids say what W_dq says */
            CHECK(seq_quant_rtn(&rq, W, R, C, &cfg.grid, NULL, NULL) == SEQ_OK);
            seq_quant_weight_dequantize(&rq, dq2);
            e_gptq = seq_quant_gptq_error(&g, W, dq, R);
            e_rtn = seq_quant_gptq_error(&g, W, dq2, R);
            CHECK_MSG(e_gptq < 0.8 * e_rtn, "%d bits variant %d: GPTQ %g vs RTN %g", bits, variant, e_gptq, e_rtn);
            seq_quant_weight_free(&q);
            seq_quant_weight_free(&rq);
        }
    seq_quant_gptq_free(&g);
    free(X);
    CHECK(seq_test_live_blocks == live);
}

/* Same H from a block size of 1 (no lazy updates) and 128: lazy batching changes only the
 * order of float operations. */
static void test_gptq_blocks_equivalent(void) {
    enum { R = 4, C = 24, N = 64 };
    float X[N * C], W[R * C], a[R * C], b[R * C];
    seq_quant_gptq g;
    seq_quant_weight q;
    seq_quant_gptq_config cfg = seq_quant_gptq_config_default(4);
    seq_rng r;
    int64_t i, same = 0;
    seq_rng_seed(&r, 9);
    correlated_inputs(X, N, C, &r);
    fill_normal(W, R * C, &r, 1.0f);
    seq_quant_gptq_init(&g, C, NULL);
    seq_quant_gptq_add_batch(&g, X, N);
    cfg.block_size = 1;
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, a) == SEQ_OK);
    seq_quant_weight_free(&q);
    cfg.block_size = 128;
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, b) == SEQ_OK);
    seq_quant_weight_free(&q);
    for (i = 0; i < R * C; i++) same += a[i] == b[i];
    CHECK_MSG(same >= R * C - 2, "%lld of %d entries agree", (long long)same, R * C);
    seq_quant_gptq_free(&g);
}

static void test_gptq_damping_and_errors(void) {
    enum { R = 4, C = 16 };
    float X[3 * C], W[R * C], dq[R * C];
    seq_quant_gptq g;
    seq_quant_weight q;
    seq_quant_gptq_config cfg = seq_quant_gptq_config_default(4);
    seq_rng r;
    int64_t i;
    int k;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 10);
    fill_normal(X, 3 * C, &r, 1.0f);
    fill_normal(W, R * C, &r, 1.0f);
    for (i = 0; i < 3; i++) X[i * C + 5] = 0.0f; /* a dead input */
    CHECK(seq_quant_gptq_init(&g, C, NULL) == SEQ_OK);
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq) == SEQ_ERR_STATE);
    CHECK(seq_quant_gptq_add_batch(&g, X, 3) == SEQ_OK); /* rank 3 of 16: singular H */
    cfg.percdamp = 0.0f;                                /* the escalation has to find lambda */
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq) == SEQ_OK);
    for (i = 0; i < R * C; i++) CHECK(isfinite(dq[i]));
    for (i = 0; i < R; i++) CHECK(dq[i * C + 5] == 0.0f); /* a weight no input reaches is 0 */
    seq_quant_weight_free(&q);
    cfg.grid.stochastic = 1;
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq) == SEQ_ERR_INVALID);
    cfg.grid.stochastic = 0;
    W[3] = NAN;
    CHECK(seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq) == SEQ_ERR_NUMERIC);
    W[3] = 0.5f;
    X[0] = INFINITY;
    CHECK(seq_quant_gptq_add_batch(&g, X, 1) == SEQ_ERR_NUMERIC);
    for (k = 0; k < 4; k++) {
        seq_status st;
        seq_test_fail_after(k);
        st = seq_quant_gptq_quantize(&g, W, R, &cfg, &q, dq);
        seq_test_fail_never();
        CHECK(st == SEQ_OK || st == SEQ_ERR_NOMEM);
        if (st == SEQ_OK) seq_quant_weight_free(&q);
    }
    seq_quant_gptq_free(&g);
    CHECK(seq_quant_gptq_init(&g, 0, NULL) == SEQ_ERR_SHAPE);
    CHECK(seq_test_live_blocks == live);
}

/* ---- 10 HAWQ -------------------------------------------------------------------------- */

/* loss = 0.5 |B w|^2 for w (N, 1): Hessian B^T B, exactly. */
enum { HM = 7, HN = 5 };
typedef struct quad_case {
    float B[HM * HN];
    seq_tensor *w;
} quad_case;

static seq_tensor *quad_loss(seq_ctx *ctx, void *ud) {
    quad_case *c = (quad_case *)ud;
    int64_t sb[2] = {HM, HN};
    seq_tensor *y = seq_matmul(ctx, seq_tensor_wrap(ctx, c->B, 2, sb), c->w, 0, 0); /* (HM, 1) */
    return seq_scale(ctx, seq_sum(ctx, seq_mul(ctx, y, y)), 0.5f);
}

static void btb(const quad_case *c, double *H) {
    int i, j, k;
    for (i = 0; i < HN; i++)
        for (j = 0; j < HN; j++) {
            H[i * HN + j] = 0.0;
            for (k = 0; k < HM; k++) H[i * HN + j] += (double)c->B[k * HN + i] * c->B[k * HN + j];
        }
}

static void test_hawq_hvp_trace_eigen(void) {
    quad_case c;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sw[2] = {HN, 1};
    double H[HN * HN], tr = 0.0, est, lam, ref = 0.0, v[HN], hv[HN];
    float vf[HN], out[HN], w0[HN];
    seq_rng r;
    int i, j, it;
    seq_rng_seed(&r, 11);
    fill_normal(c.B, HM * HN, &r, 1.0f);
    c.w = seq_params_add(P, "w", 2, sw, seq_init_normal(0, 1));
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    memcpy(w0, c.w->data, sizeof w0);
    btb(&c, H);
    for (i = 0; i < HN; i++) {
        tr += H[i * HN + i];
        vf[i] = (float)(i - 2);
    }
    CHECK(seq_quant_hvp(ctx, P, quad_loss, &c, c.w, vf, 1e-3f, out) == SEQ_OK);
    for (i = 0; i < HN; i++) {
        double s = 0.0;
        for (j = 0; j < HN; j++) s += H[i * HN + j] * vf[j];
        CHECK_NEAR(out[i], s, 2e-3 * (1.0 + fabs(s)));
    }
    CHECK(memcmp(w0, c.w->data, sizeof w0) == 0); /* restored bit for bit */
    CHECK(seq_quant_hawq_trace(ctx, P, quad_loss, &c, c.w, 400, 1e-3f, &r, &est) == SEQ_OK);
    CHECK_MSG(fabs(est - tr) < 0.1 * tr, "Hutchinson %g vs trace %g", est, tr);
    /* the reference top eigenvalue: power iteration on B^T B itself, in double */
    for (i = 0; i < HN; i++) v[i] = 1.0 + i;
    for (it = 0; it < 500; it++) {
        double n2 = 0.0;
        for (i = 0; i < HN; i++) {
            hv[i] = 0.0;
            for (j = 0; j < HN; j++) hv[i] += H[i * HN + j] * v[j];
            n2 += hv[i] * hv[i];
        }
        ref = sqrt(n2);
        for (i = 0; i < HN; i++) v[i] = hv[i] / ref;
    }
    CHECK(seq_quant_hawq_top_eigen(ctx, P, quad_loss, &c, c.w, 200, 1e-7f, 1e-3f, &r, &lam) == SEQ_OK);
    CHECK_MSG(fabs(lam - ref) < 5e-3 * ref, "power iteration %g vs %g", lam, ref);
    /* a diagonal Hessian: Rademacher probes give the trace exactly, every sample */
    memset(c.B, 0, sizeof c.B);
    for (i = 0; i < HN; i++) c.B[i * HN + i] = (float)(i + 1);
    CHECK(seq_quant_hawq_trace(ctx, P, quad_loss, &c, c.w, 3, 1e-3f, &r, &est) == SEQ_OK);
    CHECK_NEAR(est, 55.0, 1e-3);
    CHECK(seq_quant_hawq_top_eigen(ctx, P, quad_loss, &c, c.w, 300, 1e-9f, 1e-3f, &r, &lam) == SEQ_OK);
    CHECK_NEAR(lam, 25.0, 2e-3);
    CHECK(seq_quant_hvp(ctx, P, quad_loss, &c, c.w, vf, 0.0f, out) == SEQ_ERR_INVALID);
    CHECK(seq_quant_hawq_trace(ctx, P, quad_loss, &c, c.w, 0, 1e-3f, &r, &est) == SEQ_ERR_INVALID);
    vf[0] = NAN;
    CHECK(seq_quant_hvp(ctx, P, quad_loss, &c, c.w, vf, 1e-3f, out) == SEQ_ERR_NUMERIC);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_hawq_allocate_exact(void) {
    enum { L = 5, K = 4 };
    static const int bits[K] = {2, 3, 4, 8};
    int64_t numel[L] = {100, 37, 250, 64, 8};
    double sens[L], err[L * K], obj, best = INFINITY;
    int choice[L], c[L], i, code;
    int64_t budget = 3 * (100 + 37 + 250 + 64 + 8);
    seq_rng r;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 12);
    for (i = 0; i < L; i++) {
        int k;
        sens[i] = seq_rng_uniform(&r, 0.1, 10.0);
        for (k = 0; k < K; k++) err[i * K + k] = (double)numel[i] * pow(4.0, -bits[k]) * seq_rng_uniform(&r, 0.5, 2.0);
    }
    CHECK(seq_quant_hawq_allocate(L, numel, sens, K, bits, err, budget, NULL, choice, &obj) == SEQ_OK);
    for (code = 0; code < 1024; code++) { /* brute force over all 4^5 assignments */
        int64_t size = 0;
        double o = 0.0;
        for (i = 0; i < L; i++) {
            c[i] = (code >> (2 * i)) & 3;
            size += numel[i] * bits[c[i]];
            o += sens[i] * err[i * K + c[i]];
        }
        if (size <= budget && o < best) best = o;
    }
    CHECK_NEAR(obj, best, 1e-12);
    {
        int64_t size = 0;
        double o = 0.0;
        for (i = 0; i < L; i++) {
            size += numel[i] * bits[choice[i]];
            o += sens[i] * err[i * K + choice[i]];
        }
        CHECK(size <= budget);
        CHECK_NEAR(o, obj, 1e-12);
    }
    CHECK(seq_quant_hawq_allocate(L, numel, sens, K, bits, err, 100, NULL, choice, &obj) == SEQ_ERR_RANGE);
    sens[2] = NAN;
    CHECK(seq_quant_hawq_allocate(L, numel, sens, K, bits, err, budget, NULL, choice, &obj) == SEQ_ERR_INVALID);
    sens[2] = 1.0;
    for (i = 0; i < 8; i++) {
        seq_status st;
        seq_test_fail_after(i);
        st = seq_quant_hawq_allocate(L, numel, sens, K, bits, err, budget, NULL, choice, &obj);
        seq_test_fail_never();
        CHECK(st == SEQ_OK || st == SEQ_ERR_NOMEM);
    }
    CHECK(seq_test_live_blocks == live);
}

/* ---- 11 QTIP -------------------------------------------------------------------------- */

static void test_qtip_1mad(void) {
    double m = 0.0, v = 0.0;
    uint32_t s;
    CHECK_NEAR(seq_quant_qtip_1mad(0), -1.251686926, 1e-6);     /* 76625530: bytes sum 325 */
    CHECK_NEAR(seq_quant_qtip_1mad(12345), 0.0202976258, 1e-6);
    for (s = 0; s < 65536; s++) {
        double x = seq_quant_qtip_1mad(s);
        m += x / 65536.0;
        v += x * x / 65536.0;
    }
    CHECK(fabs(m) < 0.05 && fabs(v - 1.0) < 0.1); /* about N(0, 1) */
    CHECK(seq_quant_qtip_value(SEQ_QUANT_QTIP_1MAD, 12345) == seq_quant_qtip_1mad(12345));
    CHECK(isnan(seq_quant_qtip_value(SEQ_QUANT_QTIP_CODE_COUNT, 1)));
}

/* Golden values computed with numpy: x = ((s * 89226354 + 64248484) & 0x8FFF8FFF) ^
 * 0x3B603B60 mod 2^32, both halves viewed as np.float16 and summed in float16. */
static void test_qtip_3inst(void) {
    double m = 0.0, v = 0.0, lo = 0.0, hi = 0.0;
    uint32_t s;
    CHECK(seq_quant_qtip_3inst(0) == 0.768066406f);
    CHECK(seq_quant_qtip_3inst(1) == -0.919433594f);
    CHECK(seq_quant_qtip_3inst(12345) == 1.08691406f);
    CHECK(seq_quant_qtip_3inst(65535) == -0.158203125f);
    for (s = 0; s < 65536; s++) {
        double x = seq_quant_qtip_value(SEQ_QUANT_QTIP_3INST, s);
        m += x / 65536.0;
        v += x * x / 65536.0;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    /* symmetric, RMS 1.2437 over all 2^16 states, inside +-4 (two halves below 2 each) */
    CHECK(fabs(m) < 0.01 && fabs(sqrt(v) - 1.2437) < 1e-3 && lo > -4.0 && hi < 4.0);
}

/* Viterbi's path is optimal, so never worse than the greedy path (a valid stream too);
 * for each code. */
static void qtip_viterbi(seq_quant_qtip_code code) {
    enum { T = 48, K = 2 };
    float x[T], dec[T], dec_tb[T];
    uint8_t bits[64], tb[64];
    double greedy = 0.0;
    uint32_t s = 0;
    seq_rng r;
    int t, u;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 13);
    fill_normal(x, T, &r, 1.0f);
    CHECK(seq_quant_qtip_bytes(T, K, 0) == (size_t)((16 + (T - 1) * K + 7) / 8));
    CHECK(seq_quant_qtip_bytes(T, K, 1) == (size_t)(T * K / 8));
    CHECK(seq_quant_qtip_encode(code, x, T, K, 0, bits, NULL) == SEQ_OK);
    CHECK(seq_quant_qtip_encode(code, x, T, K, 1, tb, NULL) == SEQ_OK);
    CHECK(seq_quant_qtip_decode(code, bits, T, K, 0, 1.0f, dec) == SEQ_OK);
    CHECK(seq_quant_qtip_decode(code, tb, T, K, 1, 1.0f, dec_tb) == SEQ_OK);
    for (t = 0; t < T; t++) { /* greedy: the best state at t=0, then the best k new bits */
        float bestd = INFINITY;
        uint32_t bs = 0, n;
        for (n = 0; n < (t == 0 ? 65536u : 4u); n++) {
            uint32_t c = t == 0 ? n : ((s << K) | n) & 65535u;
            float d = (x[t] - seq_quant_qtip_value(code, c)) * (x[t] - seq_quant_qtip_value(code, c));
            if (d < bestd) {
                bestd = d;
                bs = c;
            }
        }
        s = bs;
        greedy += bestd;
    }
    CHECK_MSG(sq_diff(x, dec, T) <= greedy, "Viterbi %g > greedy %g", sq_diff(x, dec, T), greedy);
    CHECK(sq_diff(x, dec_tb, T) <= 1.5 * sq_diff(x, dec, T) + 0.05 * T); /* 2 fewer bytes, about as good */
    CHECK(sq_diff(x, dec, T) < 0.2 * T);                                 /* 2 bits: well below RTN's ~0.12-0.19 */
    /* the decoder reads each stream back as a shift register: consecutive states share L-k bits */
    for (u = 0; u < 2; u++) {
        uint8_t flip[64];
        memcpy(flip, bits, sizeof flip);
        flip[u] ^= 0x80;
        CHECK(seq_quant_qtip_decode(code, flip, T, K, 0, 1.0f, dec_tb) == SEQ_OK);
        CHECK(sq_diff(dec, dec_tb, T) > 0.0);
    }
    CHECK(seq_quant_qtip_encode(code, x, 4, K, 1, tb, NULL) == SEQ_ERR_SHAPE); /* 8 bits < one state */
    CHECK(seq_quant_qtip_encode(code, x, T, 9, 0, tb, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_qtip_encode(SEQ_QUANT_QTIP_CODE_COUNT, x, T, K, 0, tb, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_qtip_decode(SEQ_QUANT_QTIP_CODE_COUNT, tb, T, K, 0, 1.0f, dec) == SEQ_ERR_INVALID);
    CHECK(seq_quant_qtip_decode(code, tb, T, 0, 0, 1.0f, dec) == SEQ_ERR_INVALID);
    x[3] = NAN;
    CHECK(seq_quant_qtip_encode(code, x, T, K, 0, tb, NULL) == SEQ_ERR_NUMERIC);
    CHECK(seq_test_live_blocks == live);
}

static void test_qtip_viterbi(void) {
    qtip_viterbi(SEQ_QUANT_QTIP_1MAD);
    qtip_viterbi(SEQ_QUANT_QTIP_3INST);
}

static void test_qtip_beats_rtn_2bit(void) {
    enum { R = 8, C = 32 };
    float W[R * C], dq[R * C];
    seq_quant_qtip q;
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(2);
    seq_rng r;
    double e_qtip, e_rtn, e_mse;
    int k, code;
    long live = seq_test_live_blocks;
    seq_rng_seed(&r, 14);
    fill_normal(W, R * C, &r, 1.0f);
    e_rtn = rtn_sq_err(W, R, C, &cfg);
    cfg.clip = SEQ_QUANT_CLIP_MSE;
    e_mse = rtn_sq_err(W, R, C, &cfg);
    for (code = 0; code < SEQ_QUANT_QTIP_CODE_COUNT; code++) {
        CHECK(seq_quant_qtip_quantize(&q, W, R, C, (seq_quant_qtip_code)code, 2, 32, 1, &r, NULL) == SEQ_OK);
        CHECK(q.seq_bytes == 8); /* 2 bits per weight, exactly */
        CHECK(seq_quant_qtip_dequantize(&q, dq) == SEQ_OK);
        e_qtip = sq_diff(W, dq, R * C);
        CHECK_MSG(e_qtip < e_rtn && e_qtip < e_mse, "code %d, 2-bit MSE: QTIP %g, RTN min-max %g, RTN MSE-clip %g", code,
                  e_qtip / (R * C), e_rtn / (R * C), e_mse / (R * C));
        seq_quant_qtip_free(&q);
    }
    CHECK(seq_quant_qtip_quantize(&q, W, R, C, SEQ_QUANT_QTIP_1MAD, 2, 12, 0, &r, NULL) == SEQ_ERR_SHAPE);
    for (k = 0; k < 8; k++) {
        seq_status st;
        seq_test_fail_after(k);
        st = seq_quant_qtip_quantize(&q, W, R, C, SEQ_QUANT_QTIP_3INST, 2, 32, 0, &r, NULL);
        seq_test_fail_never();
        CHECK(st == SEQ_OK || st == SEQ_ERR_NOMEM);
        if (st == SEQ_OK) seq_quant_qtip_free(&q);
    }
    CHECK(seq_test_live_blocks == live);
}

/* ---- 12 QAT --------------------------------------------------------------------------- */

typedef struct fq_case {
    seq_tensor *x, *s;
    int bits, is_unsigned;
    float wts[24];
} fq_case;

static seq_tensor *fq_loss(seq_ctx *ctx, void *ud) {
    fq_case *c = (fq_case *)ud;
    seq_tensor *y = seq_quant_fake_quant(ctx, c->x, c->s, c->bits, c->is_unsigned, 1.0f);
    if (!y) return NULL;
    return seq_sum(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wts, y->ndim, y->shape)));
}

/* Where every x clips, y = qmin/qmax * s: the STE and LSQ gradients are the true ones
 * (0 for x, qmin or qmax for s), so finite differences check them. */
static void test_fake_quant_gradcheck(void) {
    int per_channel, uns;
    for (per_channel = 0; per_channel < 2; per_channel++)
        for (uns = 0; uns < 2; uns++) {
            seq_params *P = seq_params_init(NULL);
            seq_ctx *ctx = seq_ctx_init(NULL);
            int64_t sx[2] = {3, 4}, ss[1] = {per_channel ? 3 : 1};
            fq_case c;
            seq_gradcheck_result res;
            seq_rng r;
            int i;
            seq_rng_seed(&r, 15);
            c.bits = 3;
            c.is_unsigned = uns;
            c.x = seq_params_add(P, "x", 2, sx, seq_init_zeros());
            c.s = seq_params_add(P, "s", 1, ss, seq_init_constant(0.1f));
            CHECK(seq_params_alloc(P, &r) == SEQ_OK);
            for (i = 0; i < 12; i++) {
                c.x->data[i] = (uns || i % 2 ? 1.0f : -1.0f) * (2.0f + 0.1f * (float)i); /* |x|/s >= 20 > qmax */
                c.wts[i] = (float)seq_rng_normal(&r, 0, 1);
            }
            CHECK(seq_gradcheck(ctx, P, fq_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
            CHECK_MSG(res.failed == 0 && res.checked == 12 + ss[0], "per_channel %d unsigned %d: %lld failed (%s)",
                      per_channel, uns, (long long)res.failed, res.worst_param ? res.worst_param : "-");
            seq_ctx_free(ctx);
            seq_params_free(P);
        }
}

static void test_fake_quant_ste(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float xd[6] = {0.26f, -0.74f, 0.9f, -2.0f, 0.05f, 0.31f}, sd[2] = {0.25f, 0.1f};
    int64_t sx[2] = {2, 3}, ss[1] = {2}, s1[1] = {1};
    seq_tensor *x, *s, *y, *loss;
    int i;
    x = seq_tensor_wrap(ctx, xd, 2, sx);
    s = seq_tensor_wrap(ctx, sd, 1, ss);
    CHECK(seq_tensor_set_requires_grad(ctx, x) == SEQ_OK && seq_tensor_set_requires_grad(ctx, s) == SEQ_OK);
    y = seq_quant_fake_quant(ctx, x, s, 3, 0, 1.0f); /* levels -3..3 */
    loss = seq_sum(ctx, y);
    CHECK(seq_ctx_status(ctx) == SEQ_OK && seq_backward(ctx, loss) == SEQ_OK);
    {
        /* row 0 (s 0.25): 0.26 -> 0.25, -0.74 -> -0.75 (q -3 inside), 0.9 -> 0.75 (clips)
         * row 1 (s 0.1):  -2.0 clips to -0.3, 0.05 -> 0 (half to even), 0.31 clips to 0.3 */
        const float want[6] = {0.25f, -0.75f, 0.75f, -0.3f, 0.0f, 0.3f}, gx[6] = {1, 1, 0, 0, 1, 0};
        double ds0 = (1.0 - 1.04) + (-3.0 + 2.96) + 3.0, ds1 = -3.0 + (0.0 - 0.5) + 3.0;
        for (i = 0; i < 6; i++) {
            CHECK_NEAR(y->data[i], want[i], 1e-6);
            CHECK(x->grad[i] == gx[i]);
        }
        CHECK_NEAR(s->grad[0], ds0, 1e-5);
        CHECK_NEAR(s->grad[1], ds1, 1e-5);
    }
    /* bad input: the first error sticks */
    seq_ctx_reset(ctx);
    x = seq_tensor_wrap(ctx, xd, 2, sx);
    CHECK(seq_quant_fake_quant(ctx, x, seq_tensor_wrap(ctx, sd, 1, s1), 1, 0, 0.0f) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID && strstr(seq_ctx_error(ctx), "seq_quant_fake_quant") != NULL);
    seq_ctx_reset(ctx);
    sd[1] = 0.0f;
    CHECK(seq_quant_fake_quant(ctx, x = seq_tensor_wrap(ctx, xd, 2, sx), seq_tensor_wrap(ctx, sd, 1, ss), 4, 0, 0.0f) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    sd[1] = NAN;
    CHECK(seq_quant_fake_quant(ctx, seq_tensor_wrap(ctx, xd, 2, sx), seq_tensor_wrap(ctx, sd, 1, ss), 4, 0, 0.0f) == NULL);
    seq_ctx_reset(ctx);
    sd[1] = 0.1f;
    ss[0] = 3;
    CHECK(seq_quant_fake_quant(ctx, seq_tensor_wrap(ctx, xd, 2, sx), seq_tensor_wrap(ctx, xd, 1, ss), 4, 0, 0.0f) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    CHECK(seq_quant_fake_quant(ctx, NULL, NULL, 4, 0, 0.0f) == NULL); /* sticky */
    seq_ctx_free(ctx);
}

/* A student MLP 8 -> 16 -> 1 fits a teacher; 4-bit per-tensor weights: RTN after training
 * against QAT (fake-quant weights with learnable LSQ scales, fine-tuned from the float
 * model). The QAT model, evaluated with truly quantized weights, must be more accurate. */
enum { QI = 8, QH = 16, QN = 256, QBITS = 4 };
typedef struct qat_case {
    float X[QN * QI], Y[QN];
    seq_tensor *W1, *b1, *W2, *b2, *s1, *s2;
    int qat;
} qat_case;

static seq_tensor *qat_forward(seq_ctx *ctx, qat_case *c) {
    int64_t sx[2] = {QN, QI}, sy[2] = {QN, 1};
    seq_tensor *W1 = c->qat ? seq_quant_fake_quant(ctx, c->W1, c->s1, QBITS, 0, 0.0f) : c->W1;
    seq_tensor *W2 = c->qat ? seq_quant_fake_quant(ctx, c->W2, c->s2, QBITS, 0, 0.0f) : c->W2;
    seq_tensor *h = seq_tanh(ctx, seq_linear(ctx, seq_tensor_wrap(ctx, c->X, 2, sx), W1, c->b1));
    return seq_mse(ctx, seq_linear(ctx, h, W2, c->b2), seq_tensor_wrap(ctx, c->Y, 2, sy));
}

static void qat_train(seq_ctx *ctx, seq_params *P, qat_case *c, int steps, float lr) {
    seq_adamw opt;
    seq_adamw_config oc = seq_adamw_config_default();
    int s;
    oc.weight_decay = 0.0f;
    seq_adamw_init(&opt, P, oc);
    for (s = 0; s < steps; s++) {
        seq_tensor *loss;
        seq_ctx_reset(ctx);
        loss = qat_forward(ctx, c);
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        seq_adamw_step(&opt, P, lr);
    }
    seq_adamw_free(&opt);
}

static float qat_eval(seq_ctx *ctx, qat_case *c) {
    seq_tensor *loss;
    seq_ctx_reset(ctx);
    loss = qat_forward(ctx, c);
    return loss ? loss->data[0] : INFINITY;
}

/* W <- its 4-bit per-tensor symmetric RTN. */
static void rtn_in_place(float *W, int64_t rows, int64_t cols) {
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(QBITS);
    seq_quant_weight q;
    cfg.gran = SEQ_QUANT_PER_TENSOR;
    cfg.symmetric = 1;
    if (seq_quant_rtn(&q, W, rows, cols, &cfg, NULL, NULL) != SEQ_OK) return;
    seq_quant_weight_dequantize(&q, W);
    seq_quant_weight_free(&q);
}

static void test_qat_beats_ptq(void) {
    static qat_case c;
    float A[QI * QH], a2[QH], fp, ptq, qat, *saved;
    int64_t s1[2] = {QH, QI}, s2[2] = {1, QH}, sb1[1] = {QH}, sb2[1] = {1}, sc[1] = {1};
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng r;
    int i, j;
    seq_rng_seed(&r, 16);
    fill_normal(A, QI * QH, &r, 0.6f);
    fill_normal(a2, QH, &r, 1.0f);
    fill_normal(c.X, QN * QI, &r, 1.0f);
    for (i = 0; i < QN; i++) { /* the teacher: y = a2 . tanh(A x) */
        c.Y[i] = 0.0f;
        for (j = 0; j < QH; j++) {
            float z = 0.0f;
            int k;
            for (k = 0; k < QI; k++) z += A[j * QI + k] * c.X[i * QI + k];
            c.Y[i] += a2[j] * tanhf(z);
        }
    }
    c.W1 = seq_params_add(P, "W1", 2, s1, seq_init_xavier_uniform(1.0f));
    c.b1 = seq_params_add(P, "b1", 1, sb1, seq_init_zeros());
    c.W2 = seq_params_add(P, "W2", 2, s2, seq_init_xavier_uniform(1.0f));
    c.b2 = seq_params_add(P, "b2", 1, sb2, seq_init_zeros());
    c.s1 = seq_params_add(P, "s1", 1, sc, seq_init_constant(1.0f));
    c.s2 = seq_params_add(P, "s2", 1, sc, seq_init_constant(1.0f));
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    c.qat = 0;
    qat_train(ctx, P, &c, 400, 1e-2f);
    fp = qat_eval(ctx, &c);
    saved = (float *)malloc((size_t)P->numel * sizeof(float));
    memcpy(saved, P->data, (size_t)P->numel * sizeof(float));
    rtn_in_place(c.W1->data, QH, QI);
    rtn_in_place(c.W2->data, 1, QH);
    ptq = qat_eval(ctx, &c);
    memcpy(P->data, saved, (size_t)P->numel * sizeof(float));
    c.s1->data[0] = seq_quant_lsq_scale_init(c.W1->data, QH * QI, QBITS, 0);
    c.s2->data[0] = seq_quant_lsq_scale_init(c.W2->data, QH, QBITS, 0);
    c.qat = 1;
    qat_train(ctx, P, &c, 300, 3e-3f);
    qat = qat_eval(ctx, &c); /* fake-quant forward = the quantized model */
    CHECK_MSG(qat < 0.7f * ptq, "MSE float %g, 4-bit RTN %g, 4-bit QAT %g", (double)fp, (double)ptq, (double)qat);
    free(saved);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

void seq_tests_quant_algos(void) {
    RUN(test_rtn_grids);
    RUN(test_rtn_clipping);
    RUN(test_stochastic_rounding);
    RUN(test_rtn_bad_input);
    RUN(test_fwht_reference);
    RUN(test_hadamard_orthogonal);
    RUN(test_incoherence_exact);
    RUN(test_hadamard_outliers_3bit);
    RUN(test_gptq_beats_rtn);
    RUN(test_gptq_blocks_equivalent);
    RUN(test_gptq_damping_and_errors);
    RUN(test_hawq_hvp_trace_eigen);
    RUN(test_hawq_allocate_exact);
    RUN(test_qtip_1mad);
    RUN(test_qtip_3inst);
    RUN(test_qtip_viterbi);
    RUN(test_qtip_beats_rtn_2bit);
    RUN(test_fake_quant_gradcheck);
    RUN(test_fake_quant_ste);
    RUN(test_qat_beats_ptq);
}
