/* Layers: the resettable linear scan, the final-state gather, LSTM. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/rnn_fixtures.h"

enum { SB = 3, ST = 5, SC = 2 };

typedef struct {
    seq_tensor *a, *b, *h0;
    seq_scan_opts opts;
    float wts[SB * ST * SC], wlast[SB * SC];
} scan_case;

/* loss = mean(h * w) + mean(last(h) * w') so both outputs carry gradient */
static seq_tensor *scan_loss(seq_ctx *ctx, void *ud) {
    scan_case *c = (scan_case *)ud;
    int64_t sh[3] = {SB, ST, SC}, sl[2] = {SB, SC};
    seq_tensor *h = seq_linear_scan(ctx, c->a, c->b, c->h0, &c->opts);
    seq_tensor *last = seq_last_step(ctx, h, c->opts.lengths);
    return seq_add(ctx, seq_mean(ctx, seq_mul(ctx, h, seq_tensor_wrap(ctx, c->wts, 3, sh))),
                   seq_mean(ctx, seq_mul(ctx, last, seq_tensor_wrap(ctx, c->wlast, 2, sl))));
}

static void scan_setup(scan_case *c, seq_params *P, seq_rng *r) {
    int64_t s3[3] = {SB, ST, SC}, s2[2] = {SB, SC};
    int i;
    c->a = seq_params_add(P, "a", 3, s3, seq_init_uniform(-1.2f, 1.2f));
    c->b = seq_params_add(P, "b", 3, s3, seq_init_normal(0, 1));
    c->h0 = seq_params_add(P, "h0", 2, s2, seq_init_normal(0, 1));
    for (i = 0; i < SB * ST * SC; i++) c->wts[i] = (float)seq_rng_normal(r, 0, 1);
    for (i = 0; i < SB * SC; i++) c->wlast[i] = (float)seq_rng_normal(r, 0, 1);
}

static void test_scan_gradcheck(void) {
    static const uint8_t resets[SB * ST] = {0, 0, 1, 0, 0, /* */ 1, 0, 0, 0, 1, /* */ 0, 0, 0, 0, 0};
    static const int32_t lengths[SB] = {5, 4, 0};
    int variant;
    for (variant = 0; variant < 3; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_gradcheck_result res;
        scan_case c;
        seq_rng r;
        seq_rng_seed(&r, 11 + variant);
        scan_setup(&c, P, &r);
        c.opts.resets = variant >= 1 ? resets : NULL;
        c.opts.lengths = variant == 2 ? lengths : NULL;
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK(seq_gradcheck(ctx, P, scan_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0, "variant %d: %lld failed, worst %s[%lld] abs %g", variant, (long long)res.failed,
                  res.worst_param ? res.worst_param : "-", (long long)res.worst_index, res.max_abs_err);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Segments and padded rows give what running each piece alone gives. */
static void test_scan_segments_equal_separate_runs(void) {
    enum { T = 7, C = 3 };
    float a[2 * T * C], b[2 * T * C];
    uint8_t resets[2 * T] = {0};
    int32_t lengths[2] = {T, 4};
    int64_t s_full[3] = {2, T, C}, s_seg[3] = {1, 3, C}, s_row1[3] = {1, 4, C};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_scan_opts o;
    seq_tensor *h, *seg, *row1, *last;
    seq_rng r;
    int i, ok = 1;
    seq_rng_seed(&r, 4);
    for (i = 0; i < 2 * T * C; i++) {
        a[i] = (float)seq_rng_uniform(&r, -1, 1);
        b[i] = (float)seq_rng_normal(&r, 0, 1);
    }
    resets[4] = 1; /* row 0: segments [0,4) and [4,7) */
    o.resets = resets;
    o.lengths = lengths;
    h = seq_linear_scan(ctx, seq_tensor_wrap(ctx, a, 3, s_full), seq_tensor_wrap(ctx, b, 3, s_full), NULL, &o);
    seg = seq_linear_scan(ctx, seq_tensor_wrap(ctx, a + 4 * C, 3, s_seg), seq_tensor_wrap(ctx, b + 4 * C, 3, s_seg),
                          NULL, NULL);
    row1 = seq_linear_scan(ctx, seq_tensor_wrap(ctx, a + T * C, 3, s_row1),
                           seq_tensor_wrap(ctx, b + T * C, 3, s_row1), NULL, NULL);
    last = seq_last_step(ctx, h, lengths);
    CHECK(h && seg && row1 && last);
    if (!h || !seg || !row1 || !last) {
        seq_ctx_free(ctx);
        return;
    }
    for (i = 0; i < 3 * C; i++) ok &= h->data[4 * C + i] == seg->data[i];
    for (i = 0; i < 4 * C; i++) ok &= h->data[T * C + i] == row1->data[i];
    for (i = 4 * C; i < T * C; i++) ok &= h->data[T * C + i] == 0.0f; /* padding */
    for (i = 0; i < C; i++) ok &= last->data[C + i] == row1->data[3 * C + i] && last->data[i] == seg->data[2 * C + i];
    CHECK(ok);
    seq_ctx_free(ctx);
}

static void test_scan_bad_input(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t s3[3] = {2, 4, 3}, s_bad[3] = {2, 4, 2}, s_h0[2] = {2, 2};
    int32_t too_long[2] = {4, 5}, negative[2] = {-1, 0};
    seq_scan_opts o;
    seq_tensor *a = seq_tensor_new(ctx, SEQ_F32, 3, s3);
    o.resets = NULL;
    o.lengths = too_long;
    CHECK(seq_linear_scan(ctx, a, seq_tensor_new(ctx, SEQ_F32, 3, s_bad), NULL, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    a = seq_tensor_new(ctx, SEQ_F32, 3, s3);
    CHECK(seq_linear_scan(ctx, a, a, seq_tensor_new(ctx, SEQ_F32, 2, s_h0), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    a = seq_tensor_new(ctx, SEQ_F32, 3, s3);
    CHECK(seq_linear_scan(ctx, a, a, NULL, &o) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "lengths[1]") != NULL);
    seq_ctx_reset(ctx);
    a = seq_tensor_new(ctx, SEQ_F32, 3, s3);
    CHECK(seq_last_step(ctx, a, negative) == NULL && seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_free(ctx);
}

/* --- LSTM ----------------------------------------------------------------------------- */

typedef struct {
    seq_rnn lstm;
    seq_tensor *x, *h0, *c0;
    seq_rnn_io io;
    float wy[2 * 4 * 2 * 3], wh[4 * 2 * 3], wc[4 * 2 * 3];
} lstm_case;

/* loss = mean(y*wy) + mean(hn*wh) + mean(cn*wc): every output carries gradient */
static seq_tensor *lstm_loss(seq_ctx *ctx, void *ud) {
    lstm_case *c = (lstm_case *)ud;
    seq_tensor *y, *l;
    c->io.h0 = c->h0;
    c->io.c0 = c->c0;
    y = seq_rnn_forward(ctx, &c->lstm, c->x, &c->io);
    if (!y) return NULL;
    l = seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, 3, y->shape)));
    l = seq_add(ctx, l, seq_mean(ctx, seq_mul(ctx, c->io.hn, seq_tensor_wrap(ctx, c->wh, 3, c->io.hn->shape))));
    if (!c->io.cn) return l;
    return seq_add(ctx, l, seq_mean(ctx, seq_mul(ctx, c->io.cn, seq_tensor_wrap(ctx, c->wc, 3, c->io.cn->shape))));
}

static void test_rnn_gradcheck(void) {
    /* 2 layers, bidirectional, B=2, T=4, I=2, H=3; row 1 has length 3 and a reset at t=1 */
    static const int32_t lengths[2] = {4, 3};
    static const uint8_t resets[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    static const seq_rnn_kind kinds[3] = {SEQ_RNN_TANH, SEQ_RNN_GRU, SEQ_RNN_LSTM};
    int variant;
    for (variant = 0; variant < 6; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_rnn_kind kind = kinds[variant / 2];
        seq_rnn_config cfg = seq_rnn_config_default(kind, 2, 3);
        int64_t sx[3] = {2, 4, 2}, ss[3] = {4, 2, 3};
        seq_gradcheck_result res;
        lstm_case c;
        seq_rng r;
        int i;
        memset(&c, 0, sizeof c);
        seq_rng_seed(&r, 21 + variant);
        cfg.num_layers = 2;
        cfg.bidirectional = 1;
        CHECK(seq_rnn_init(&c.lstm, P, "lstm", cfg) == SEQ_OK);
        c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
        c.h0 = seq_params_add(P, "h0", 3, ss, seq_init_normal(0, 1));
        c.c0 = kind == SEQ_RNN_LSTM ? seq_params_add(P, "c0", 3, ss, seq_init_normal(0, 1)) : NULL;
        for (i = 0; i < 48; i++) c.wy[i] = (float)seq_rng_normal(&r, 0, 1);
        for (i = 0; i < 24; i++) {
            c.wh[i] = (float)seq_rng_normal(&r, 0, 1);
            c.wc[i] = (float)seq_rng_normal(&r, 0, 1);
        }
        if (variant % 2) {
            c.io.lengths = lengths;
            c.io.resets = resets;
        }
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK(seq_gradcheck(ctx, P, lstm_loss, &c, 1e-3f, 2e-3f, 2e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0 && res.checked == P->numel, "kind %d variant %d: %lld of %lld failed, worst %s[%lld] abs %g",
                  (int)kind, variant, (long long)res.failed, (long long)res.checked, res.worst_param ? res.worst_param : "-",
                  (long long)res.worst_index, res.max_abs_err);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* One PyTorch fixture (tests/gen_rnn_fixtures.py): a 2-layer bidirectional module. */
typedef struct {
    seq_rnn_kind kind;
    const rnn_fx_param *params;
    size_t nparams;
    const float *x, *h0, *c0, *y, *hn, *cn, *wy, *wh, *wc, *x_grad, *h0_grad, *c0_grad;
} rnn_fixture;

static void check_rnn_parity(const rnn_fixture *fx) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn_config cfg = seq_rnn_config_default(fx->kind, RNN_FX_I, RNN_FX_H);
    int64_t sx[3] = {RNN_FX_B, RNN_FX_T, RNN_FX_I}, ss[3] = {2 * RNN_FX_L, RNN_FX_B, RNN_FX_H};
    int64_t ny = RNN_FX_B * RNN_FX_T * 2 * RNN_FX_H, ns = 2 * RNN_FX_L * RNN_FX_B * RNN_FX_H;
    int lstm = fx->kind == SEQ_RNN_LSTM;
    static float wy[RNN_FX_B * RNN_FX_T * 2 * RNN_FX_H], wh[2 * RNN_FX_L * RNN_FX_B * RNN_FX_H],
        wc[2 * RNN_FX_L * RNN_FX_B * RNN_FX_H];
    seq_rnn net;
    seq_rnn_io io;
    seq_tensor *x, *h0, *c0 = NULL, *y, *loss;
    seq_rng r;
    double worst = 0.0;
    size_t p;
    int64_t i;
    cfg.num_layers = RNN_FX_L;
    cfg.bidirectional = 1;
    seq_rng_seed(&r, 1);
    CHECK(seq_rnn_init(&net, P, "net", cfg) == SEQ_OK);
    x = seq_params_add(P, "x", 3, sx, seq_init_zeros());
    h0 = seq_params_add(P, "h0", 3, ss, seq_init_zeros());
    if (lstm) c0 = seq_params_add(P, "c0", 3, ss, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(P->count == (int64_t)fx->nparams + 2 + lstm); /* same parameter set as PyTorch */
    for (p = 0; p < fx->nparams; p++) {
        seq_tensor *w = seq_params_find(P, fx->params[p].name);
        CHECK_MSG(w != NULL, "missing %s", fx->params[p].name);
        if (w) memcpy(w->data, fx->params[p].value, (size_t)w->numel * sizeof(float));
    }
    memcpy(x->data, fx->x, (size_t)x->numel * sizeof(float));
    memcpy(h0->data, fx->h0, (size_t)ns * sizeof(float));
    if (c0) memcpy(c0->data, fx->c0, (size_t)ns * sizeof(float));
    memset(&io, 0, sizeof io);
    io.h0 = h0;
    io.c0 = c0;
    y = seq_rnn_forward(ctx, &net, x, &io);
    CHECK(y != NULL && y->numel == ny);
    if (!y) goto done;
    /* the fixture's loss is sum(y*wy) + ...: mean(y * wy * numel) is the same function */
    for (i = 0; i < ny; i++) wy[i] = fx->wy[i] * (float)ny;
    for (i = 0; i < ns; i++) {
        wh[i] = fx->wh[i] * (float)ns;
        wc[i] = fx->wc[i] * (float)ns;
    }
    loss = seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wy, 3, y->shape))),
                   seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, wh, 3, io.hn->shape))));
    if (lstm) loss = seq_add(ctx, loss, seq_mean(ctx, seq_mul(ctx, io.cn, seq_tensor_wrap(ctx, wc, 3, io.cn->shape))));
    seq_params_zero_grad(P);
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    for (i = 0; i < ny; i++) worst = fmax(worst, fabs(y->data[i] - fx->y[i]));
    for (i = 0; i < ns; i++) {
        worst = fmax(worst, fabs(io.hn->data[i] - fx->hn[i]));
        if (lstm) worst = fmax(worst, fabs(io.cn->data[i] - fx->cn[i]));
    }
    CHECK_MSG(worst < 1e-5, "kind %d: forward differs by %g", (int)fx->kind, worst);
    for (p = 0; p < fx->nparams; p++) {
        seq_tensor *w = seq_params_find(P, fx->params[p].name);
        double err = 0.0, mag = 0.0;
        if (!w) continue;
        for (i = 0; i < w->numel; i++) {
            err = fmax(err, fabs(w->grad[i] - fx->params[p].grad[i]));
            mag = fmax(mag, fabs(fx->params[p].grad[i]));
        }
        CHECK_MSG(err <= 1e-5 * fmax(1.0, mag), "%s grad differs by %g", w->name, err);
    }
    {
        const seq_tensor *ins[3];
        const float *want[3];
        int k;
        ins[0] = x;
        ins[1] = h0;
        ins[2] = c0;
        want[0] = fx->x_grad;
        want[1] = fx->h0_grad;
        want[2] = fx->c0_grad;
        for (k = 0; k < 2 + lstm; k++) {
            double err = 0.0;
            for (i = 0; i < ins[k]->numel; i++) err = fmax(err, fabs(ins[k]->grad[i] - want[k][i]));
            CHECK_MSG(err <= 1e-5, "%s grad differs by %g", ins[k]->name, err);
        }
    }
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

#define RNN_FIXTURE(kind, tag)                                                                               \
    {kind, tag##_fx_params, sizeof tag##_fx_params / sizeof tag##_fx_params[0], tag##_fx_x, tag##_fx_h0,      \
     tag##_fx_c0, tag##_fx_y, tag##_fx_hn, tag##_fx_cn, tag##_fx_wy, tag##_fx_wh, tag##_fx_wc, tag##_fx_x_grad, \
     tag##_fx_h0_grad, tag##_fx_c0_grad}

/* nn.RNN, nn.GRU, nn.LSTM (3 -> 4, 2 layers, bidirectional, batch_first): outputs, final
 * states and every gradient equal PyTorch's. */
static void test_rnn_pytorch_parity(void) {
    static const rnn_fixture fx[3] = {RNN_FIXTURE(SEQ_RNN_TANH, rnn), RNN_FIXTURE(SEQ_RNN_GRU, gru),
                                      RNN_FIXTURE(SEQ_RNN_LSTM, lstm)};
    int k;
    for (k = 0; k < 3; k++) check_rnn_parity(&fx[k]);
}

/* The streaming step gives the full-sequence output; a padded row of a bidirectional
 * batch gives what the row alone gives. */
static void test_lstm_step_and_lengths(void) {
    enum { B = 2, T = 6, I = 3, H = 5 };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn_config cfg = seq_lstm_config_default(I, H);
    seq_lstm uni, bi;
    seq_rnn_state st;
    seq_rnn_io io;
    float x[B * T * I], yt[B * H];
    int32_t lengths[B] = {T, 4};
    int64_t sx[3] = {B, T, I}, s1[3] = {1, 4, I}, i, t, r;
    seq_tensor *y, *yb, *y1;
    seq_rng rng;
    double worst = 0.0;
    seq_rng_seed(&rng, 8);
    for (i = 0; i < B * T * I; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    cfg.num_layers = 2;
    CHECK(seq_rnn_init(&uni, P, "uni", cfg) == SEQ_OK);
    cfg.bidirectional = 1;
    CHECK(seq_rnn_init(&bi, P, "bi", cfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    seq_ctx_set_grad(ctx, 0);
    y = seq_rnn_forward(ctx, &uni, seq_tensor_wrap(ctx, x, 3, sx), NULL);
    CHECK(y != NULL && seq_rnn_state_init(&uni, &st, B) == SEQ_OK);
    for (t = 0; t < T && y; t++) {
        float xt[B * I];
        for (r = 0; r < B; r++) memcpy(xt + r * I, x + (r * T + t) * I, I * sizeof(float));
        CHECK(seq_rnn_step(&uni, &st, xt, yt) == SEQ_OK);
        for (r = 0; r < B; r++)
            for (i = 0; i < H; i++) worst = fmax(worst, fabs(yt[r * H + i] - y->data[(r * T + t) * H + i]));
    }
    CHECK_MSG(worst < 1e-6, "step vs sequence: %g", worst);
    seq_rnn_state_free(&st);
    CHECK(seq_rnn_state_init(&bi, &st, 1) == SEQ_ERR_UNSUPPORTED);
    memset(&io, 0, sizeof io);
    io.lengths = lengths;
    yb = seq_rnn_forward(ctx, &bi, seq_tensor_wrap(ctx, x, 3, sx), &io);
    y1 = seq_rnn_forward(ctx, &bi, seq_tensor_wrap(ctx, x + T * I, 3, s1), NULL);
    CHECK(yb && y1);
    if (yb && y1) {
        for (worst = 0.0, i = 0; i < 4 * 2 * H; i++) worst = fmax(worst, fabs(yb->data[T * 2 * H + i] - y1->data[i]));
        for (i = 4 * 2 * H; i < T * 2 * H; i++) worst = fmax(worst, fabs(yb->data[T * 2 * H + i])); /* padding */
        CHECK_MSG(worst < 1e-6, "padded row vs alone: %g", worst);
    }
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_lstm_bad_input(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lstm l;
    seq_rnn_io io;
    seq_rng rng;
    int64_t sx[3] = {2, 3, 4}, s0[3] = {2, 0, 4}, sbad[3] = {2, 3, 5}, sh[3] = {2, 2, 6};
    int32_t lengths[2] = {3, 4};
    seq_rnn_config cfg = seq_lstm_config_default(4, 6);
    seq_tensor *x;
    seq_rng_seed(&rng, 1);
    cfg.num_layers = 0;
    CHECK(seq_rnn_init(&l, P, "l", cfg) == SEQ_ERR_INVALID);
    cfg.num_layers = 1;
    CHECK(seq_rnn_init(&l, P, "l", cfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    CHECK(seq_rnn_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL) == NULL); /* T = 0 */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_rnn_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sbad), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.h0 = seq_tensor_new(ctx, SEQ_F32, 3, sh);
    CHECK(seq_rnn_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0") != NULL);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.lengths = lengths;
    CHECK(seq_rnn_forward(ctx, &l, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    x->data[5] = NAN;
    CHECK(seq_rnn_forward(ctx, &l, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    {
        seq_rnn_state st;
        float xt[4] = {0, 0, 0, 0}, yt[6];
        xt[2] = INFINITY;
        CHECK(seq_rnn_state_init(&l, &st, 1) == SEQ_OK);
        CHECK(seq_rnn_step(&l, &st, xt, yt) == SEQ_ERR_NUMERIC);
        CHECK(seq_rnn_step(&l, NULL, xt, yt) == SEQ_ERR_INVALID);
        seq_rnn_state_free(&st);
        CHECK(seq_rnn_state_init(&l, &st, 0) == SEQ_ERR_INVALID);
    }
    seq_ctx_free(ctx);
    seq_params_free(P);
}

void seq_tests_layers(void) {
    RUN(test_scan_gradcheck);
    RUN(test_scan_segments_equal_separate_runs);
    RUN(test_scan_bad_input);
    RUN(test_rnn_gradcheck);
    RUN(test_rnn_pytorch_parity);
    RUN(test_lstm_step_and_lengths);
    RUN(test_lstm_bad_input);
}
