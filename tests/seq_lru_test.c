/* 14.7: StableSSM reparameterizations, Mega's damped EMA, the LRU and their blocks. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/lru_fixtures.h"

/* max |a - b| over n elements, relative to max(1, max |b|) */
static double rel_err(const float *a, const float *b, int64_t n) {
    double err = 0.0, mag = 1.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        mag = fmax(mag, fabs(b[i]));
    }
    return err / mag;
}

static void fill_normal(float *v, int64_t n, seq_rng *r, double std) {
    int64_t i;
    for (i = 0; i < n; i++) v[i] = (float)seq_rng_normal(r, 0.0, std);
}

/* --- StableSSM reparameterization ------------------------------------------------------- */

static void test_reparam_maps(void) {
    static const float ws[6] = {-3.0f, -0.7f, 0.0f, 0.4f, 1.3f, 4.0f};
    int k, i;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++)
        for (i = 0; i < 6; i++) {
            float w = ws[i], d, lo = (k == SEQ_REPARAM_BEST) ? -1.0f : 0.0f;
            float v = seq_reparam_value((seq_reparam_kind)k, w, &d);
            double h = 1e-3, num = ((double)seq_reparam_value((seq_reparam_kind)k, w + (float)h, NULL) -
                                    seq_reparam_value((seq_reparam_kind)k, w - (float)h, NULL)) / (2 * h);
            CHECK_MSG(v >= lo && v < 1.0f, "kind %d f(%g) = %g", k, (double)w, (double)v);
            CHECK_MSG(fabs(num - d) <= 1e-3 * fmax(1.0, fabs(num)), "kind %d f'(%g) = %g, numeric %g", k, (double)w,
                      (double)d, num);
        }
    /* the inverse lands back on lambda, for decays from fast to very slow */
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        static const float lams[4] = {0.05f, 0.5f, 0.9f, 0.999f};
        for (i = 0; i < 4; i++) {
            float w = seq_reparam_inverse((seq_reparam_kind)k, lams[i]);
            CHECK_NEAR(seq_reparam_value((seq_reparam_kind)k, w, NULL), lams[i], 1e-5);
        }
        CHECK(isnan(seq_reparam_inverse((seq_reparam_kind)k, 1.0f)) && isnan(seq_reparam_inverse((seq_reparam_kind)k, 0.0f)));
    }
    CHECK(seq_reparam_value(SEQ_REPARAM_EXP, 0.0f, NULL) == expf(-1.0f));
    CHECK(seq_reparam_value(SEQ_REPARAM_BEST, 0.0f, NULL) == -1.0f); /* the map's edge: |lambda| <= 1 */
    CHECK(seq_reparam_value(SEQ_REPARAM_SIGMOID, 0.0f, NULL) == 0.5f);
    {
        float d = 1.0f;
        /* saturated ends stay finite with zero slope */
        CHECK(seq_reparam_value(SEQ_REPARAM_EXP, 800.0f, &d) == 0.0f && d == 0.0f);
        CHECK(seq_reparam_value(SEQ_REPARAM_SIGMOID, -800.0f, &d) == 0.0f && d == 0.0f);
        CHECK(seq_reparam_value(SEQ_REPARAM_BEST, 1e30f, &d) == 1.0f && d == 0.0f);
        CHECK(isnan(seq_reparam_value(SEQ_REPARAM_KIND_COUNT, 0.0f, &d)) && isnan(d));
    }
}

typedef struct {
    seq_tensor *w;
    seq_reparam_kind kind;
    float wt[5];
} reparam_case;

static seq_tensor *reparam_loss(seq_ctx *ctx, void *ud) {
    reparam_case *c = (reparam_case *)ud;
    int64_t n = 5;
    return seq_mean(ctx, seq_mul(ctx, seq_reparam(ctx, c->w, c->kind), seq_tensor_wrap(ctx, c->wt, 1, &n)));
}

static void test_reparam_gradcheck(void) {
    int k;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_gradcheck_result res;
        reparam_case c;
        int64_t n = 5;
        seq_rng r;
        seq_rng_seed(&r, 3 + k);
        c.kind = (seq_reparam_kind)k;
        c.w = seq_params_add(P, "w", 1, &n, seq_init_uniform(-2.0f, 2.0f));
        fill_normal(c.wt, 5, &r, 1.0);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK(seq_gradcheck(ctx, P, reparam_loss, &c, 1e-3f, 1e-4f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0, "kind %d: %lld failed", k, (long long)res.failed);
        seq_ctx_reset(ctx);
        CHECK(seq_reparam(ctx, c.w, SEQ_REPARAM_KIND_COUNT) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* --- shared: a layer's loss for gradchecks ------------------------------------------------ */

typedef seq_tensor *(*layer_forward_fn)(seq_ctx *ctx, const void *layer, seq_tensor *x, seq_rnn_io *io);

static seq_tensor *fwd_mega_ema(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_mega_ema_forward(ctx, (const seq_mega_ema *)l, x, io);
}
static seq_tensor *fwd_lru(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_lru_forward(ctx, (const seq_lru *)l, x, io);
}
static seq_tensor *fwd_lru_block(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_lru_block_forward(ctx, (const seq_lru_block *)l, x, io);
}
static seq_tensor *fwd_mega_block(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_mega_block_forward(ctx, (const seq_mega_block *)l, x, io);
}

typedef struct {
    const void *layer;
    layer_forward_fn forward;
    seq_tensor *x, *h0;
    seq_rnn_io io;
    float wy[512], wh[512];
} layer_case;

/* loss = mean(y * wy) + mean(hn * wh): the output and the final state both carry gradient */
static seq_tensor *layer_loss(seq_ctx *ctx, void *ud) {
    layer_case *c = (layer_case *)ud;
    seq_tensor *y, *l;
    c->io.h0 = c->h0;
    y = c->forward(ctx, c->layer, c->x, &c->io);
    if (!y) return NULL;
    l = seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, y->ndim, y->shape)));
    if (!c->io.hn) return l;
    return seq_add(ctx, l, seq_mean(ctx, seq_mul(ctx, c->io.hn, seq_tensor_wrap(ctx, c->wh, c->io.hn->ndim, c->io.hn->shape))));
}

static void layer_case_setup(layer_case *c, seq_rng *r) {
    fill_normal(c->wy, 512, r, 1.0);
    fill_normal(c->wh, 512, r, 1.0);
}

/* gradcheck of every parameter in P (the layer's, x and h0); a few variants per layer */
static void check_layer_gradcheck(seq_ctx *ctx, seq_params *P, layer_case *c, const char *what, int variant) {
    seq_gradcheck_result res;
    CHECK(seq_gradcheck(ctx, P, layer_loss, c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
    CHECK_MSG(res.failed == 0 && res.checked == P->numel, "%s variant %d: %lld of %lld failed, worst %s[%lld] abs %g",
              what, variant, (long long)res.failed, (long long)res.checked, res.worst_param ? res.worst_param : "-",
              (long long)res.worst_index, res.max_abs_err);
}

static const int32_t gc_lengths[2] = {4, 3};
static const uint8_t gc_resets[8] = {0, 0, 1, 0, /* */ 0, 1, 0, 0};

/* --- Mega EMA ------------------------------------------------------------------------------ */

static void test_mega_ema_gradcheck(void) {
    int variant;
    for (variant = 0; variant < 4; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_mega_ema_config cfg = seq_mega_ema_config_default(2);
        seq_mega_ema l;
        layer_case c;
        int64_t sx[3] = {2, 4, 2}, sh[3] = {2, 0, 3};
        seq_rng r;
        memset(&c, 0, sizeof c);
        seq_rng_seed(&r, 40 + variant);
        cfg.ndim = 3;
        cfg.bidirectional = variant / 2;
        sh[1] = cfg.bidirectional ? 4 : 2;
        CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
        c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
        c.h0 = seq_params_add(P, "h0", 3, sh, seq_init_normal(0, 1));
        CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mega_ema_reset_parameters(&l, &r) == SEQ_OK);
        c.layer = &l;
        c.forward = fwd_mega_ema;
        layer_case_setup(&c, &r);
        if (variant % 2) {
            c.io.lengths = gc_lengths;
            c.io.resets = gc_resets;
        }
        check_layer_gradcheck(ctx, P, &c, "mega_ema", variant);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Outputs, final state and every gradient equal fairseq's MultiHeadEMA (FFT form, and its
 * incremental step for the initial state) in PyTorch. */
static void check_mega_parity(int bidirectional, const float *const *prm, const float *const *grads, const float *x,
                              const float *x_grad, const float *y_want, const float *wy, const float *h0,
                              const float *h0_grad, const float *hn_want, const float *wh) {
    enum { NY = LRU_FX_B * LRU_FX_T * MEGA_FX_D, NS = LRU_FX_B * MEGA_FX_D * MEGA_FX_N };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_ema_config cfg = seq_mega_ema_config_default(MEGA_FX_D);
    seq_mega_ema l;
    seq_rnn_io io;
    seq_tensor *tx, *th0 = NULL, *y, *loss, *ps[5];
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, MEGA_FX_D}, sh[3] = {LRU_FX_B, MEGA_FX_D, MEGA_FX_N}, i;
    static float wys[NY], whs[NS];
    seq_rng r;
    int k;
    seq_rng_seed(&r, 1);
    cfg.ndim = MEGA_FX_N;
    cfg.bidirectional = bidirectional;
    CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
    tx = seq_params_add(P, "x", 3, sx, seq_init_zeros());
    if (h0) th0 = seq_params_add(P, "h0", 3, sh, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    ps[0] = l.delta;
    ps[1] = l.alpha;
    ps[2] = l.beta;
    ps[3] = l.gamma;
    ps[4] = l.omega;
    for (k = 0; k < 5; k++) memcpy(ps[k]->data, prm[k], (size_t)ps[k]->numel * sizeof(float));
    memcpy(tx->data, x, sizeof(float) * NY);
    if (th0) memcpy(th0->data, h0, sizeof(float) * NS);
    memset(&io, 0, sizeof io);
    io.h0 = th0;
    y = seq_mega_ema_forward(ctx, &l, tx, &io);
    CHECK(y != NULL);
    if (!y) goto done;
    for (i = 0; i < NY; i++) wys[i] = wy[i] * NY; /* the fixture's sum as a mean */
    loss = seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, y->shape)));
    if (hn_want) {
        for (i = 0; i < NS; i++) whs[i] = wh[i] * NS;
        loss = seq_add(ctx, loss, seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, whs, 3, io.hn->shape))));
        CHECK_MSG(rel_err(io.hn->data, hn_want, NS) < 1e-5, "hn differs by %g", rel_err(io.hn->data, hn_want, NS));
    }
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "bi %d: y differs by %g", bidirectional, rel_err(y->data, y_want, NY));
    for (k = 0; k < 5; k++)
        CHECK_MSG(rel_err(ps[k]->grad, grads[k], ps[k]->numel) < 1e-5, "bi %d: %s grad differs by %g", bidirectional,
                  ps[k]->name, rel_err(ps[k]->grad, grads[k], ps[k]->numel));
    CHECK_MSG(rel_err(tx->grad, x_grad, NY) < 1e-5, "x grad differs by %g", rel_err(tx->grad, x_grad, NY));
    if (th0) CHECK_MSG(rel_err(th0->grad, h0_grad, NS) < 1e-5, "h0 grad differs by %g", rel_err(th0->grad, h0_grad, NS));
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_mega_ema_pytorch_parity(void) {
    const float *uni[5] = {mega_uni_delta, mega_uni_alpha, mega_uni_beta, mega_uni_gamma, mega_uni_omega};
    const float *uni_g[5] = {mega_uni_delta_grad, mega_uni_alpha_grad, mega_uni_beta_grad, mega_uni_gamma_grad,
                             mega_uni_omega_grad};
    const float *bi[5] = {mega_bi_delta, mega_bi_alpha, mega_bi_beta, mega_bi_gamma, mega_bi_omega};
    const float *bi_g[5] = {mega_bi_delta_grad, mega_bi_alpha_grad, mega_bi_beta_grad, mega_bi_gamma_grad,
                            mega_bi_omega_grad};
    check_mega_parity(0, uni, uni_g, mega_uni_x, mega_uni_x_grad, mega_uni_y, mega_uni_wy, mega_uni_h0,
                      mega_uni_h0_grad, mega_uni_hn, mega_uni_wh);
    check_mega_parity(1, bi, bi_g, mega_bi_x, mega_bi_x_grad, mega_bi_y, mega_bi_wy, NULL, NULL, NULL, NULL);
}

/* The convolution form Mega's reference computes by FFT, here directly in double:
 *     y_t = silu(omega x_t + sum_{l<=t} k_l x_{t-l} [+ sum_{l>=0} k'_l x_{t+l}]),
 *     k_l = sum_n eta/sqrt(N) a beta q^l   (k' from the backward rows),
 * equals the recurrence to 1e-5 relative over a longer sequence. */
static void test_mega_ema_convolution_form(void) {
    enum { B = 2, T = 24, D = 3, N = 5 };
    int bidi;
    for (bidi = 0; bidi < 2; bidi++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_mega_ema_config cfg = seq_mega_ema_config_default(D);
        seq_mega_ema l;
        float x[B * T * D], want[B * T * D];
        int64_t sx[3] = {B, T, D}, b, t, d, j, n, dir;
        seq_tensor *y;
        seq_rng r;
        seq_rng_seed(&r, 9 + bidi);
        cfg.ndim = N;
        cfg.bidirectional = bidi;
        CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mega_ema_reset_parameters(&l, &r) == SEQ_OK);
        fill_normal(x, B * T * D, &r, 1.0);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++)
                for (d = 0; d < D; d++) {
                    double e = (double)l.omega->data[d] * x[(b * T + t) * D + d];
                    for (dir = 0; dir <= bidi; dir++)
                        for (j = 0; j < T; j++) {
                            int64_t src = dir ? t + j : t - j, row = dir * D + d;
                            double k = 0.0;
                            if (src < 0 || src >= T) continue;
                            for (n = 0; n < N; n++) {
                                double a = 1.0 / (1.0 + exp(-(double)l.delta->data[row * N + n]));
                                double g = 1.0 / (1.0 + exp(-(double)l.alpha->data[row * N + n]));
                                k += l.gamma->data[row * N + n] / sqrt((double)N) * a * l.beta->data[row * N + n] *
                                     pow(1.0 - a * g, (double)j);
                            }
                            e += k * x[(b * T + src) * D + d];
                        }
                    want[(b * T + t) * D + d] = (float)(e / (1.0 + exp(-e)));
                }
        seq_ctx_set_grad(ctx, 0);
        y = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, sx), NULL);
        CHECK(y != NULL);
        if (y) CHECK_MSG(rel_err(y->data, want, B * T * D) < 1e-5, "bi %d: %g", bidi, rel_err(y->data, want, B * T * D));
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Streaming step by step gives the sequence's output and final state; reset starts over. */
static void test_mega_ema_step(void) {
    enum { B = 2, T = 6, D = 3, N = 4 };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_ema l;
    seq_mega_ema_state st;
    seq_rnn_io io;
    float x[B * T * D], xt[B * D], yt[B * D];
    int64_t sx[3] = {B, T, D}, t, b;
    seq_tensor *y;
    seq_rng r;
    double worst = 0.0;
    int pass;
    seq_mega_ema_config cfg = seq_mega_ema_config_default(D);
    cfg.ndim = N;
    seq_rng_seed(&r, 5);
    CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mega_ema_reset_parameters(&l, &r) == SEQ_OK);
    fill_normal(x, B * T * D, &r, 1.0);
    memset(&io, 0, sizeof io);
    seq_ctx_set_grad(ctx, 0);
    y = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, sx), &io);
    CHECK(y != NULL && seq_mega_ema_state_init(&l, &st, B) == SEQ_OK);
    for (pass = 0; pass < 2 && y; pass++) {
        for (t = 0; t < T; t++) {
            for (b = 0; b < B; b++) memcpy(xt + b * D, x + (b * T + t) * D, D * sizeof(float));
            CHECK(seq_mega_ema_step(&l, &st, xt, yt) == SEQ_OK);
            for (b = 0; b < B; b++) worst = fmax(worst, rel_err(yt + b * D, y->data + (b * T + t) * D, D));
        }
        worst = fmax(worst, rel_err(st.h, io.hn->data, B * D * N));
        seq_mega_ema_state_reset(&st);
    }
    CHECK_MSG(worst < 1e-6, "step vs sequence: %g", worst);
    seq_mega_ema_state_free(&st);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* Segments and padded rows (both directions) give what running each piece alone gives,
 * final states included. */
static void test_mega_ema_segments(void) {
    enum { T = 7, D = 2, N = 3, K = 2 * D };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_ema_config cfg = seq_mega_ema_config_default(D);
    seq_mega_ema l;
    seq_rnn_io io, seg_a, seg_b, row1;
    float x[2 * T * D];
    uint8_t resets[2 * T] = {0};
    int32_t lengths[2] = {T, 4};
    int64_t s_full[3] = {2, T, D}, s4[3] = {1, 4, D}, s3[3] = {1, 3, D};
    seq_tensor *y, *ya, *yb, *y1;
    seq_rng r;
    double worst = 0.0;
    int64_t i;
    seq_rng_seed(&r, 12);
    cfg.ndim = N;
    cfg.bidirectional = 1;
    CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mega_ema_reset_parameters(&l, &r) == SEQ_OK);
    fill_normal(x, 2 * T * D, &r, 1.0);
    resets[4] = 1; /* row 0: segments [0,4) and [4,7); row 1: length 4 */
    memset(&io, 0, sizeof io);
    memset(&seg_a, 0, sizeof io);
    memset(&seg_b, 0, sizeof io);
    memset(&row1, 0, sizeof io);
    io.resets = resets;
    io.lengths = lengths;
    seq_ctx_set_grad(ctx, 0);
    y = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, s_full), &io);
    ya = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, s4), &seg_a);
    yb = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x + 4 * D, 3, s3), &seg_b);
    y1 = seq_mega_ema_forward(ctx, &l, seq_tensor_wrap(ctx, x + T * D, 3, s4), &row1);
    CHECK(y && ya && yb && y1);
    if (y && ya && yb && y1) {
        worst = fmax(worst, rel_err(y->data, ya->data, 4 * D));
        worst = fmax(worst, rel_err(y->data + 4 * D, yb->data, 3 * D));
        worst = fmax(worst, rel_err(y->data + T * D, y1->data, 4 * D));
        for (i = 4 * D; i < T * D; i++) worst = fmax(worst, fabs(y->data[T * D + i])); /* padding */
        /* hn (2,K,N): forward rows end with the last segment, backward rows with the first */
        worst = fmax(worst, rel_err(io.hn->data, seg_b.hn->data, D * N));
        worst = fmax(worst, rel_err(io.hn->data + D * N, seg_a.hn->data + D * N, D * N));
        worst = fmax(worst, rel_err(io.hn->data + K * N, row1.hn->data, K * N));
    }
    CHECK_MSG(worst < 1e-6, "pieces vs whole: %g", worst);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_mega_ema_bad_input(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_ema_config cfg = seq_mega_ema_config_default(3);
    seq_mega_ema l, bi, fresh;
    seq_mega_ema_state st;
    seq_rnn_io io;
    int64_t sx[3] = {2, 4, 3}, s0[3] = {2, 0, 3}, sbad[3] = {2, 4, 2}, sh[3] = {2, 3, 5};
    int32_t lengths[2] = {4, 5};
    float xt[6] = {0, 0, 0, 0, 0, 0}, yt[6];
    seq_tensor *x;
    seq_rng r;
    seq_rng_seed(&r, 2);
    cfg.ndim = 0;
    CHECK(seq_mega_ema_init(&l, P, "e", cfg) == SEQ_ERR_INVALID);
    cfg.ndim = 4;
    CHECK(seq_mega_ema_init(&l, P, "e", cfg) == SEQ_OK);
    cfg.bidirectional = 1;
    CHECK(seq_mega_ema_init(&bi, P, "b", cfg) == SEQ_OK);
    CHECK(seq_mega_ema_reset_parameters(&l, &r) == SEQ_ERR_INVALID); /* not allocated yet */
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    memset(&fresh, 0, sizeof fresh);
    CHECK(seq_mega_ema_forward(ctx, &fresh, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    CHECK(seq_mega_ema_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL) == NULL); /* T = 0 */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_mega_ema_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sbad), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.h0 = seq_tensor_new(ctx, SEQ_F32, 3, sh);
    CHECK(seq_mega_ema_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0") != NULL);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.lengths = lengths;
    CHECK(seq_mega_ema_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    x->data[7] = NAN;
    CHECK(seq_mega_ema_forward(ctx, &l, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    CHECK(seq_mega_ema_state_init(&bi, &st, 1) == SEQ_ERR_UNSUPPORTED);
    CHECK(seq_mega_ema_state_init(&l, &st, 0) == SEQ_ERR_INVALID);
    CHECK(seq_mega_ema_state_init(&l, &st, 2) == SEQ_OK);
    xt[4] = INFINITY;
    CHECK(seq_mega_ema_step(&l, &st, xt, yt) == SEQ_ERR_NUMERIC);
    CHECK(seq_mega_ema_step(&l, NULL, xt, yt) == SEQ_ERR_INVALID);
    seq_mega_ema_state_free(&st);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* --- LRU ------------------------------------------------------------------------------------ */

static void test_lru_gradcheck(void) {
    int variant;
    for (variant = 0; variant < 6; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_lru_config cfg = seq_lru_config_default(2, 3);
        seq_lru l;
        layer_case c;
        int64_t sx[3] = {2, 4, 2}, sh[2] = {2, 6};
        seq_rng r;
        memset(&c, 0, sizeof c);
        seq_rng_seed(&r, 60 + variant);
        cfg.reparam = (seq_reparam_kind)(variant / 2);
        cfg.r_min = 0.5f;
        cfg.r_max = 0.95f;
        CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
        c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
        c.h0 = seq_params_add(P, "h0", 2, sh, seq_init_normal(0, 1));
        CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_lru_reset_parameters(&l, &r) == SEQ_OK);
        c.layer = &l;
        c.forward = fwd_lru;
        layer_case_setup(&c, &r);
        if (variant % 2) {
            c.io.lengths = gc_lengths;
            c.io.resets = gc_resets;
        }
        check_layer_gradcheck(ctx, P, &c, "lru", variant);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Outputs, final state and every gradient equal the paper's LRU written in PyTorch with
 * complex tensors, for the exp magnitude and for StableSSM's "best" one. */
static void check_lru_parity(seq_reparam_kind kind, const float *const *prm, const float *const *grads, const float *y_want,
                             const float *hn_want, const float *wy, const float *wh) {
    enum { NY = LRU_FX_B * LRU_FX_T * LRU_FX_H, NS = LRU_FX_B * 2 * LRU_FX_N };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lru_config cfg = seq_lru_config_default(LRU_FX_H, LRU_FX_N);
    seq_lru l;
    seq_rnn_io io;
    seq_tensor *ts[10], *y, *loss;
    int64_t su[3] = {LRU_FX_B, LRU_FX_T, LRU_FX_H}, sh[2] = {LRU_FX_B, 2 * LRU_FX_N}, i;
    static float wys[NY], whs[NS];
    seq_rng r;
    int k;
    seq_rng_seed(&r, 1);
    cfg.reparam = kind;
    CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
    ts[8] = seq_params_add(P, "u", 3, su, seq_init_zeros());
    ts[9] = seq_params_add(P, "h0", 2, sh, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    ts[0] = l.nu_log;
    ts[1] = l.theta_log;
    ts[2] = l.gamma_log;
    ts[3] = l.B_re;
    ts[4] = l.B_im;
    ts[5] = l.C_re;
    ts[6] = l.C_im;
    ts[7] = l.D;
    for (k = 0; k < 10; k++) memcpy(ts[k]->data, prm[k], (size_t)ts[k]->numel * sizeof(float));
    memset(&io, 0, sizeof io);
    io.h0 = ts[9];
    y = seq_lru_forward(ctx, &l, ts[8], &io);
    CHECK(y != NULL);
    if (!y) goto done;
    for (i = 0; i < NY; i++) wys[i] = wy[i] * NY;
    for (i = 0; i < NS; i++) whs[i] = wh[i] * NS;
    loss = seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, y->shape))),
                   seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, whs, 2, io.hn->shape))));
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "kind %d: y differs by %g", (int)kind, rel_err(y->data, y_want, NY));
    CHECK_MSG(rel_err(io.hn->data, hn_want, NS) < 1e-5, "kind %d: hn differs by %g", (int)kind,
              rel_err(io.hn->data, hn_want, NS));
    for (k = 0; k < 10; k++)
        CHECK_MSG(rel_err(ts[k]->grad, grads[k], ts[k]->numel) < 1e-5, "kind %d: %s grad differs by %g", (int)kind,
                  ts[k]->name, rel_err(ts[k]->grad, grads[k], ts[k]->numel));
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

#define LRU_FX_LIST(tag, suffix)                                                                                   \
    {tag##_nu_log##suffix, tag##_theta_log##suffix, tag##_gamma_log##suffix, tag##_B_re##suffix, tag##_B_im##suffix, \
     tag##_C_re##suffix,   tag##_C_im##suffix,      tag##_D##suffix,         tag##_u##suffix,    tag##_h0##suffix}

static void test_lru_pytorch_parity(void) {
    const float *pe[10] = LRU_FX_LIST(lru_exp, ), *ge[10] = LRU_FX_LIST(lru_exp, _grad);
    const float *pb[10] = LRU_FX_LIST(lru_best, ), *gb[10] = LRU_FX_LIST(lru_best, _grad);
    check_lru_parity(SEQ_REPARAM_EXP, pe, ge, lru_exp_y, lru_exp_hn, lru_exp_wy, lru_exp_wh);
    check_lru_parity(SEQ_REPARAM_BEST, pb, gb, lru_best_y, lru_best_hn, lru_best_wy, lru_best_wh);
}

/* The ring initialization: |lambda| on [r_min, r_max], phases in [0, max_phase], gamma the
 * normalizer sqrt(1 - |lambda|^2), whichever map holds the magnitude. */
static void test_lru_ring_init(void) {
    int k;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_lru_config cfg = seq_lru_config_default(4, 64);
        seq_lru l;
        seq_rng r;
        int64_t i;
        int ok = 1;
        double mean_r2 = 0.0;
        seq_rng_seed(&r, 77);
        cfg.r_min = 0.4f;
        cfg.r_max = 0.9f;
        cfg.max_phase = 3.14f;
        cfg.reparam = (seq_reparam_kind)k;
        CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        /* the stand-ins already sit on the ring */
        ok &= fabsf(seq_reparam_value(cfg.reparam, l.nu_log->data[0], NULL) - sqrtf(0.5f * (0.16f + 0.81f))) < 1e-5f;
        CHECK(seq_lru_reset_parameters(&l, &r) == SEQ_OK);
        for (i = 0; i < 64; i++) {
            float m = seq_reparam_value(cfg.reparam, l.nu_log->data[i], NULL), ph = expf(l.theta_log->data[i]);
            ok &= m >= 0.4f - 1e-6f && m <= 0.9f + 1e-6f && ph >= 0.0f && ph <= 3.14f + 1e-5f;
            ok &= fabsf(expf(l.gamma_log->data[i]) - sqrtf(1.0f - m * m)) < 1e-5f;
            mean_r2 += (double)m * m / 64.0;
        }
        CHECK_MSG(ok, "kind %d", k);
        CHECK_NEAR(mean_r2, 0.5 * (0.16 + 0.81), 0.06); /* |lambda|^2 uniform on the ring */
        seq_params_free(P);
    }
}

/* Streaming step by step gives the sequence's output and final state. */
static void test_lru_step(void) {
    enum { B = 2, T = 6, H = 3, N = 5 };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lru l;
    seq_lru_state st;
    seq_rnn_io io;
    float u[B * T * H], ut[B * H], yt[B * H];
    int64_t su[3] = {B, T, H}, t, b;
    seq_tensor *y;
    seq_rng r;
    double worst = 0.0;
    seq_rng_seed(&r, 15);
    CHECK(seq_lru_init(&l, P, "lru", seq_lru_config_default(H, N)) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_lru_reset_parameters(&l, &r) == SEQ_OK);
    fill_normal(u, B * T * H, &r, 1.0);
    memset(&io, 0, sizeof io);
    seq_ctx_set_grad(ctx, 0);
    y = seq_lru_forward(ctx, &l, seq_tensor_wrap(ctx, u, 3, su), &io);
    CHECK(y != NULL && seq_lru_state_init(&l, &st, B) == SEQ_OK);
    for (t = 0; t < T && y; t++) {
        for (b = 0; b < B; b++) memcpy(ut + b * H, u + (b * T + t) * H, H * sizeof(float));
        CHECK(seq_lru_step(&l, &st, ut, yt) == SEQ_OK);
        for (b = 0; b < B; b++) worst = fmax(worst, rel_err(yt + b * H, y->data + (b * T + t) * H, H));
    }
    if (y) worst = fmax(worst, rel_err(st.h, io.hn->data, B * 2 * N));
    CHECK_MSG(worst < 1e-5, "step vs sequence: %g", worst);
    seq_lru_state_reset(&st);
    CHECK(st.h[0] == 0.0f && st.h[B * 2 * N - 1] == 0.0f);
    seq_lru_state_free(&st);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* Segments and padded rows give what running each piece alone gives. */
static void test_lru_segments(void) {
    enum { T = 7, H = 2, N = 3 };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lru l;
    seq_rnn_io io, seg_b, row1;
    float u[2 * T * H];
    uint8_t resets[2 * T] = {0};
    int32_t lengths[2] = {T, 4};
    int64_t s_full[3] = {2, T, H}, s4[3] = {1, 4, H}, s3[3] = {1, 3, H}, i;
    seq_tensor *y, *ya, *yb, *y1;
    seq_rng r;
    double worst = 0.0;
    seq_rng_seed(&r, 17);
    CHECK(seq_lru_init(&l, P, "lru", seq_lru_config_default(H, N)) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_lru_reset_parameters(&l, &r) == SEQ_OK);
    fill_normal(u, 2 * T * H, &r, 1.0);
    resets[4] = 1;
    memset(&io, 0, sizeof io);
    memset(&seg_b, 0, sizeof io);
    memset(&row1, 0, sizeof io);
    io.resets = resets;
    io.lengths = lengths;
    seq_ctx_set_grad(ctx, 0);
    y = seq_lru_forward(ctx, &l, seq_tensor_wrap(ctx, u, 3, s_full), &io);
    ya = seq_lru_forward(ctx, &l, seq_tensor_wrap(ctx, u, 3, s4), NULL);
    yb = seq_lru_forward(ctx, &l, seq_tensor_wrap(ctx, u + 4 * H, 3, s3), &seg_b);
    y1 = seq_lru_forward(ctx, &l, seq_tensor_wrap(ctx, u + T * H, 3, s4), &row1);
    CHECK(y && ya && yb && y1);
    if (y && ya && yb && y1) {
        worst = fmax(worst, rel_err(y->data, ya->data, 4 * H));
        worst = fmax(worst, rel_err(y->data + 4 * H, yb->data, 3 * H));
        worst = fmax(worst, rel_err(y->data + T * H, y1->data, 4 * H));
        for (i = 4 * H; i < T * H; i++) worst = fmax(worst, fabs(y->data[T * H + i]));
        worst = fmax(worst, rel_err(io.hn->data, seg_b.hn->data, 2 * N));
        worst = fmax(worst, rel_err(io.hn->data + 2 * N, row1.hn->data, 2 * N));
    }
    CHECK_MSG(worst < 1e-6, "pieces vs whole: %g", worst);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_lru_bad_input(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lru_config cfg = seq_lru_config_default(3, 4);
    seq_lru l, fresh;
    seq_lru_state st;
    seq_rnn_io io;
    int64_t sx[3] = {2, 4, 3}, s0[3] = {2, 0, 3}, sbad[3] = {2, 4, 4}, sh[2] = {2, 4};
    int32_t lengths[2] = {-1, 2};
    float ut[3] = {0, NAN, 0}, yt[3];
    seq_tensor *u;
    seq_rng r;
    seq_rng_seed(&r, 3);
    cfg.r_min = 0.9f;
    cfg.r_max = 0.5f;
    CHECK(seq_lru_init(&l, P, "l", cfg) == SEQ_ERR_INVALID);
    cfg = seq_lru_config_default(3, 4);
    cfg.reparam = SEQ_REPARAM_KIND_COUNT;
    CHECK(seq_lru_init(&l, P, "l", cfg) == SEQ_ERR_INVALID);
    cfg = seq_lru_config_default(3, 4);
    cfg.max_phase = 0.0f;
    CHECK(seq_lru_init(&l, P, "l", cfg) == SEQ_ERR_INVALID);
    CHECK(seq_lru_init(&l, P, "l", seq_lru_config_default(3, 4)) == SEQ_OK);
    CHECK(seq_lru_reset_parameters(&l, &r) == SEQ_ERR_INVALID); /* not allocated yet */
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    memset(&fresh, 0, sizeof fresh);
    CHECK(seq_lru_forward(ctx, &fresh, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    CHECK(seq_lru_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_lru_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sbad), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.h0 = seq_tensor_new(ctx, SEQ_F32, 2, sh); /* (B,N), not (B,2N) */
    CHECK(seq_lru_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0") != NULL);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.lengths = lengths;
    CHECK(seq_lru_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_reset(ctx);
    u = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    u->data[0] = -INFINITY;
    CHECK(seq_lru_forward(ctx, &l, u, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    CHECK(seq_lru_state_init(&l, &st, 0) == SEQ_ERR_INVALID);
    CHECK(seq_lru_state_init(&l, &st, 1) == SEQ_OK);
    CHECK(seq_lru_step(&l, &st, ut, yt) == SEQ_ERR_NUMERIC);
    CHECK(seq_lru_step(&l, &st, NULL, yt) == SEQ_ERR_INVALID);
    seq_lru_state_free(&st);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* --- blocks --------------------------------------------------------------------------------- */

static seq_mega_block_config small_mega_block(int64_t D, int causal) {
    seq_mega_block_config cfg = seq_mega_block_config_default(D);
    cfg.ema.ndim = 3;
    cfg.zdim = 3;
    cfg.hdim = 4;
    cfg.max_positions = 8;
    cfg.causal = causal;
    return cfg;
}

/* Mega's N(0, 0.02^2) weights leave the attention path too faint for a test to see: wider
 * projections, gamma and position bias make every path count. */
static void widen_mega_block(seq_mega_block *mb, seq_rng *r) {
    seq_tensor *ws[5];
    int i;
    ws[0] = mb->v_w;
    ws[1] = mb->mx_w;
    ws[2] = mb->h_w;
    ws[3] = mb->gamma;
    ws[4] = mb->rel_pos;
    for (i = 0; i < 5; i++) fill_normal(ws[i]->data, ws[i]->numel, r, i < 4 ? 0.7 : 0.5);
}

/* every parameter, x and h0 of both blocks in their variants: pre/post norm, causal or not,
 * with and without lengths and resets */
static void test_blocks_gradcheck(void) {
    int variant;
    for (variant = 0; variant < 8; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_lru_block lb;
        seq_mega_block mb;
        layer_case c;
        int64_t sx[3] = {2, 4, 2}, sh[3] = {2, 0, 3};
        int mega = variant >= 4, flag = (variant / 2) % 2;
        seq_rng r;
        memset(&c, 0, sizeof c);
        seq_rng_seed(&r, 80 + variant);
        if (mega) {
            CHECK(seq_mega_block_init(&mb, P, "blk", small_mega_block(2, !flag)) == SEQ_OK);
            sh[1] = flag ? 4 : 2; /* the bidirectional EMA's state has 2D rows */
            c.h0 = seq_params_add(P, "h0", 3, sh, seq_init_normal(0, 1));
        } else {
            seq_lru_block_config cfg = seq_lru_block_config_default(2, 3);
            cfg.prenorm = flag;
            cfg.lru.r_min = 0.5f;
            cfg.lru.r_max = 0.95f;
            CHECK(seq_lru_block_init(&lb, P, "blk", cfg) == SEQ_OK);
            sh[1] = 6; /* (B,2N) */
            c.h0 = seq_params_add(P, "h0", 2, sh, seq_init_normal(0, 1));
        }
        c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK((mega ? seq_mega_block_reset_parameters(&mb, &r) : seq_lru_block_reset_parameters(&lb, &r)) == SEQ_OK);
        if (mega) widen_mega_block(&mb, &r);
        c.layer = mega ? (const void *)&mb : (const void *)&lb;
        c.forward = mega ? fwd_mega_block : fwd_lru_block;
        layer_case_setup(&c, &r);
        if (variant % 2) {
            c.io.lengths = gc_lengths;
            c.io.resets = gc_resets;
        }
        check_layer_gradcheck(ctx, P, &c, mega ? "mega_block" : "lru_block", variant);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* One PyTorch block fixture: parameters by name, then y and every gradient at 1e-5. */
static void check_block_parity(const char *what, seq_params *P, const void *layer, layer_forward_fn fwd,
                               const lru_fx_param *fx, size_t nfx, const float *x, const float *x_grad,
                               const float *y_want, const float *wy) {
    enum { NY = LRU_FX_B * LRU_FX_T * 3 };
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, 3}, i;
    static float wys[NY];
    seq_tensor *tx = seq_params_find(P, "x"), *y;
    size_t k;
    CHECK_MSG(P->count == (int64_t)nfx + 1, "%s: %lld parameters, the reference has %d", what, (long long)P->count,
              (int)nfx); /* the same parameter set */
    for (k = 0; k < nfx; k++) {
        seq_tensor *w = seq_params_find(P, fx[k].name);
        CHECK_MSG(w != NULL, "%s: missing %s", what, fx[k].name);
        if (w) memcpy(w->data, fx[k].value, (size_t)w->numel * sizeof(float));
    }
    memcpy(tx->data, x, sizeof(float) * NY);
    seq_params_zero_grad(P);
    y = fwd(ctx, layer, seq_params_find(P, "x"), NULL);
    CHECK(y != NULL && y->numel == NY);
    if (y) {
        for (i = 0; i < NY; i++) wys[i] = wy[i] * NY;
        CHECK(seq_backward(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, sx)))) == SEQ_OK);
        CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "%s: y differs by %g", what, rel_err(y->data, y_want, NY));
        for (k = 0; k < nfx; k++) {
            seq_tensor *w = seq_params_find(P, fx[k].name);
            if (w)
                CHECK_MSG(rel_err(w->grad, fx[k].grad, w->numel) < 1e-5, "%s: %s grad differs by %g", what, w->name,
                          rel_err(w->grad, fx[k].grad, w->numel));
        }
        CHECK_MSG(rel_err(tx->grad, x_grad, NY) < 1e-5, "%s: x grad differs by %g", what, rel_err(tx->grad, x_grad, NY));
    }
    seq_ctx_free(ctx);
}

/* minimal-LRU's SequenceLayer and fairseq's MovingAverageGatedAttention, in PyTorch. */
static void test_blocks_pytorch_parity(void) {
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, 3};
    seq_rng r;
    seq_rng_seed(&r, 1);
    {
        seq_params *P = seq_params_init(NULL);
        seq_lru_block l;
        CHECK(seq_lru_block_init(&l, P, "blk", seq_lru_block_config_default(LRU_FX_H, LRU_FX_N)) == SEQ_OK);
        CHECK(seq_params_add(P, "x", 3, sx, seq_init_zeros()) != NULL && seq_params_alloc(P, &r) == SEQ_OK);
        check_block_parity("lru_block", P, &l, fwd_lru_block, lru_block_params,
                           sizeof lru_block_params / sizeof lru_block_params[0], lru_block_x, lru_block_x_grad,
                           lru_block_y, lru_block_wy);
        seq_params_free(P);
    }
    {
        seq_params *P = seq_params_init(NULL);
        seq_mega_block_config cfg = seq_mega_block_config_default(MEGA_FX_D);
        seq_mega_block l;
        cfg.ema.ndim = MEGA_FX_N;
        cfg.zdim = MEGA_FX_Z;
        cfg.hdim = MEGA_FX_E;
        cfg.max_positions = MEGA_FX_P;
        CHECK(seq_mega_block_init(&l, P, "blk", cfg) == SEQ_OK);
        CHECK(seq_params_add(P, "x", 3, sx, seq_init_zeros()) != NULL && seq_params_alloc(P, &r) == SEQ_OK);
        check_block_parity("mega_block", P, &l, fwd_mega_block, mega_block_params,
                           sizeof mega_block_params / sizeof mega_block_params[0], mega_block_x, mega_block_x_grad,
                           mega_block_y, mega_block_wy);
        seq_params_free(P);
    }
}

/* Streaming step by step gives the sequence's outputs: the LRU block pre- and post-norm,
 * the causal Mega block (whose key/value cache then refuses a step past max_positions). */
static void test_blocks_step(void) {
    enum { B = 2, T = 6, D = 3 };
    int variant;
    for (variant = 0; variant < 3; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_lru_block lb;
        seq_mega_block mb;
        seq_lru_block_state ls;
        seq_mega_block_state ms;
        seq_mega_block_config mcfg = small_mega_block(D, 1);
        float x[B * T * D], xt[B * D], yt[B * D];
        int64_t sx[3] = {B, T, D}, t, b;
        seq_tensor *y;
        seq_rng r;
        double worst = 0.0;
        int mega = variant == 2;
        seq_rng_seed(&r, 90 + variant);
        mcfg.max_positions = T;
        if (mega) {
            CHECK(seq_mega_block_init(&mb, P, "blk", mcfg) == SEQ_OK);
        } else {
            seq_lru_block_config cfg = seq_lru_block_config_default(D, 4);
            cfg.prenorm = variant;
            CHECK(seq_lru_block_init(&lb, P, "blk", cfg) == SEQ_OK);
        }
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK((mega ? seq_mega_block_reset_parameters(&mb, &r) : seq_lru_block_reset_parameters(&lb, &r)) == SEQ_OK);
        if (mega) widen_mega_block(&mb, &r);
        fill_normal(x, B * T * D, &r, 1.0);
        seq_ctx_set_grad(ctx, 0);
        y = mega ? seq_mega_block_forward(ctx, &mb, seq_tensor_wrap(ctx, x, 3, sx), NULL)
                 : seq_lru_block_forward(ctx, &lb, seq_tensor_wrap(ctx, x, 3, sx), NULL);
        CHECK(y != NULL);
        CHECK((mega ? seq_mega_block_state_init(&mb, &ms, B) : seq_lru_block_state_init(&lb, &ls, B)) == SEQ_OK);
        for (t = 0; t < T && y; t++) {
            for (b = 0; b < B; b++) memcpy(xt + b * D, x + (b * T + t) * D, D * sizeof(float));
            CHECK((mega ? seq_mega_block_step(&mb, &ms, xt, yt) : seq_lru_block_step(&lb, &ls, xt, yt)) == SEQ_OK);
            for (b = 0; b < B; b++) worst = fmax(worst, rel_err(yt + b * D, y->data + (b * T + t) * D, D));
        }
        CHECK_MSG(worst < 1e-5, "variant %d: step vs sequence: %g", variant, worst);
        if (mega) {
            CHECK(seq_mega_block_step(&mb, &ms, xt, yt) == SEQ_ERR_RANGE);
            seq_mega_block_state_reset(&ms);
            CHECK(seq_mega_block_step(&mb, &ms, x, yt) == SEQ_OK); /* row 0's first step again */
            CHECK(rel_err(yt, y->data, D) < 1e-5);
            seq_mega_block_state_free(&ms);
        } else {
            seq_lru_block_state_free(&ls);
        }
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Segments and padded rows give what running each piece alone gives: attention does not
 * cross a reset nor read padding, in either direction. */
static void test_blocks_segments(void) {
    enum { T = 7, D = 2 };
    int variant;
    for (variant = 0; variant < 3; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_lru_block lb;
        seq_mega_block mb;
        seq_rnn_io io;
        float x[2 * T * D];
        uint8_t resets[2 * T] = {0};
        int32_t lengths[2] = {T, 4};
        int64_t s_full[3] = {2, T, D}, s4[3] = {1, 4, D}, s3[3] = {1, 3, D}, i;
        seq_tensor *y, *ya, *yb, *y1;
        layer_forward_fn fwd = variant ? fwd_mega_block : fwd_lru_block;
        const void *layer = variant ? (const void *)&mb : (const void *)&lb;
        seq_rng r;
        double worst = 0.0;
        seq_rng_seed(&r, 100 + variant);
        if (variant) CHECK(seq_mega_block_init(&mb, P, "blk", small_mega_block(D, variant == 1)) == SEQ_OK);
        else CHECK(seq_lru_block_init(&lb, P, "blk", seq_lru_block_config_default(D, 3)) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK((variant ? seq_mega_block_reset_parameters(&mb, &r) : seq_lru_block_reset_parameters(&lb, &r)) == SEQ_OK);
        if (variant) widen_mega_block(&mb, &r);
        fill_normal(x, 2 * T * D, &r, 1.0);
        resets[4] = 1;
        memset(&io, 0, sizeof io);
        io.resets = resets;
        io.lengths = lengths;
        seq_ctx_set_grad(ctx, 0);
        y = fwd(ctx, layer, seq_tensor_wrap(ctx, x, 3, s_full), &io);
        ya = fwd(ctx, layer, seq_tensor_wrap(ctx, x, 3, s4), NULL);
        yb = fwd(ctx, layer, seq_tensor_wrap(ctx, x + 4 * D, 3, s3), NULL);
        y1 = fwd(ctx, layer, seq_tensor_wrap(ctx, x + T * D, 3, s4), NULL);
        CHECK(y && ya && yb && y1);
        if (y && ya && yb && y1) {
            worst = fmax(worst, rel_err(y->data, ya->data, 4 * D));
            worst = fmax(worst, rel_err(y->data + 4 * D, yb->data, 3 * D));
            worst = fmax(worst, rel_err(y->data + T * D, y1->data, 4 * D));
            for (i = 4 * D; i < T * D; i++) worst = fmax(worst, fabs(y->data[T * D + i]));
        }
        CHECK_MSG(worst < 1e-6, "variant %d: pieces vs whole: %g", variant, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

static void test_blocks_bad_input(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_block_config mcfg = small_mega_block(3, 0);
    seq_lru_block_config lcfg = seq_lru_block_config_default(3, 2);
    seq_mega_block mb, fresh;
    seq_lru_block lb;
    seq_mega_block_state ms;
    seq_lru_block_state ls;
    int64_t s_long[3] = {1, 9, 3}, sx[3] = {1, 4, 3};
    float xt[3] = {0, NAN, 0}, yt[3];
    seq_tensor *x;
    seq_rng r;
    seq_rng_seed(&r, 4);
    mcfg.zdim = 0;
    CHECK(seq_mega_block_init(&mb, P, "m", mcfg) == SEQ_ERR_INVALID);
    mcfg.zdim = 3;
    lcfg.prenorm = 2;
    CHECK(seq_lru_block_init(&lb, P, "l", lcfg) == SEQ_ERR_INVALID);
    lcfg.prenorm = 1;
    CHECK(seq_mega_block_init(&mb, P, "m", mcfg) == SEQ_OK);
    CHECK(seq_lru_block_init(&lb, P, "l", lcfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    memset(&fresh, 0, sizeof fresh);
    CHECK(seq_mega_block_forward(ctx, &fresh, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    CHECK(seq_mega_block_forward(ctx, &mb, seq_tensor_new(ctx, SEQ_F32, 3, s_long), NULL) == NULL); /* T > 8 */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "max_positions") != NULL);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    x->data[2] = NAN;
    CHECK(seq_lru_block_forward(ctx, &lb, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    x->data[2] = NAN;
    CHECK(seq_mega_block_forward(ctx, &mb, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    CHECK(seq_mega_block_state_init(&mb, &ms, 1) == SEQ_ERR_UNSUPPORTED); /* not causal */
    CHECK(seq_lru_block_state_init(&lb, &ls, 1) == SEQ_OK);
    CHECK(seq_lru_block_step(&lb, &ls, xt, yt) == SEQ_ERR_NUMERIC);
    CHECK(seq_lru_block_step(&lb, NULL, xt, yt) == SEQ_ERR_INVALID);
    seq_lru_block_state_free(&ls);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

void seq_tests_lru(void) {
    RUN(test_reparam_maps);
    RUN(test_reparam_gradcheck);
    RUN(test_mega_ema_gradcheck);
    RUN(test_mega_ema_pytorch_parity);
    RUN(test_mega_ema_convolution_form);
    RUN(test_mega_ema_step);
    RUN(test_mega_ema_segments);
    RUN(test_mega_ema_bad_input);
    RUN(test_lru_gradcheck);
    RUN(test_lru_pytorch_parity);
    RUN(test_lru_ring_init);
    RUN(test_lru_step);
    RUN(test_lru_segments);
    RUN(test_lru_bad_input);
    RUN(test_blocks_gradcheck);
    RUN(test_blocks_pytorch_parity);
    RUN(test_blocks_step);
    RUN(test_blocks_segments);
    RUN(test_blocks_bad_input);
}
