/* The S4 family: the FFT, S4D, LSSL and H3. This file builds a static copy of the
 * implementation (SEQ_STATIC) so it can test the private FFT against a naive DFT. */
#include "seq_test.h"
#define SEQ_STATIC
#define SEQ_IMPLEMENTATION
#include "../seq.h"
#include "fixtures/s4_fixtures.h"

/* --- FFT ------------------------------------------------------------------------------ */

/* Naive DFT in long double: X_k = sum_j z_j exp(sign 2 pi i jk/m) over m complex values. */
static void naive_dft(const double *z, double *X, int64_t m, int sign) {
    long double pi = acosl(-1.0L);
    int64_t k, j;
    for (k = 0; k < m; k++) {
        long double re = 0.0L, im = 0.0L;
        for (j = 0; j < m; j++) {
            long double a = sign * 2.0L * pi * (long double)((j * k) % m) / (long double)m;
            re += z[2 * j] * cosl(a) - z[2 * j + 1] * sinl(a);
            im += z[2 * j] * sinl(a) + z[2 * j + 1] * cosl(a);
        }
        X[2 * k] = (double)re;
        X[2 * k + 1] = (double)im;
    }
}

/* Complex and real transforms of every power-of-two size up to 512 equal the DFT, and
 * the inverses give the signal back. */
static void test_fft_matches_dft(void) {
    enum { MAXN = 512 };
    static double z[2 * MAXN], ref[2 * MAXN], w[MAXN], buf[MAXN + 2], cz[2 * MAXN];
    seq_rng r;
    int64_t n, i;
    double worst = 0.0;
    seq_rng_seed(&r, 3);
    for (n = 1; n <= MAXN; n *= 2) {
        double scale = 1.0;
        for (i = 0; i < 2 * n; i++) z[i] = seq_rng_normal(&r, 0, 1);
        seq__fft_twiddles(w, n < 2 ? 2 : n);
        /* complex, both directions (the table of size max(n,2) serves size n) */
        memcpy(cz, z, (size_t)(2 * n) * sizeof(double));
        seq__fft(cz, n, w, n < 2 ? 2 : n, 0);
        naive_dft(z, ref, n, -1);
        for (i = 0; i < 2 * n; i++) worst = fmax(worst, fabs(cz[i] - ref[i]) / sqrt((double)n));
        seq__fft(cz, n, w, n < 2 ? 2 : n, 1);
        for (i = 0; i < 2 * n; i++) worst = fmax(worst, fabs(cz[i] / (double)n - z[i]));
        if (n < 2) continue;
        /* real: the signal is z's real parts */
        for (i = 0; i < n; i++) {
            buf[i] = z[2 * i];
            cz[2 * i] = z[2 * i];
            cz[2 * i + 1] = 0.0;
        }
        seq__fft_real(buf, n, w);
        naive_dft(cz, ref, n, -1);
        for (i = 0; i <= n / 2; i++) {
            worst = fmax(worst, fabs(buf[2 * i] - ref[2 * i]) / sqrt((double)n));
            worst = fmax(worst, fabs(buf[2 * i + 1] - ref[2 * i + 1]) / sqrt((double)n));
            scale = fmax(scale, fabs(ref[2 * i]));
        }
        seq__fft_real_inverse(buf, n, w);
        for (i = 0; i < n; i++) worst = fmax(worst, fabs(buf[i] - z[2 * i]));
        CHECK(scale > 1.0); /* the reference is not trivially zero */
    }
    CHECK_MSG(worst < 1e-12, "FFT vs DFT: %g", worst);
}

/* --- one harness for the three layers ------------------------------------------------- */

typedef enum { L_S4D, L_LSSL, L_H3 } layer_kind;

/* The layers every test runs, by index: S4D, LSSL, H3 with heads of 1, H3 with heads of 2. */
enum { NLAYERS = 4 };
static const layer_kind layer_kinds[NLAYERS] = {L_S4D, L_LSSL, L_H3, L_H3};

typedef struct {
    layer_kind kind;
    seq_s4 s4; /* S4D or LSSL */
    seq_h3 h3;
    int64_t B, T, C; /* input (B,T,C) */
} layer;

enum { MAXV = 4096 };

/* A small layer (index k of layer_kinds), registered in P, not yet allocated. dt is drawn
 * from [0.05, 0.5] so the step size matters in a short sequence. */
static void layer_setup(layer *l, seq_params *P, int k, int64_t B, int64_t T) {
    memset(l, 0, sizeof *l);
    l->kind = layer_kinds[k];
    l->B = B;
    l->T = T;
    if (l->kind == L_H3) {
        seq_h3_config c = seq_h3_config_default(4, 4);
        c.head_dim = k == 3 ? 2 : 1;
        c.dt_min = 0.05f;
        c.dt_max = 0.5f;
        CHECK(seq_h3_init(&l->h3, P, "h3", c) == SEQ_OK);
        l->C = 4;
    } else {
        seq_s4_config c = l->kind == L_S4D ? seq_s4d_config_default(3, 4) : seq_lssl_config_default(2, 4);
        c.dt_min = 0.05f;
        c.dt_max = 0.5f;
        c.init = SEQ_S4D_INV;
        CHECK(seq_s4_init(&l->s4, P, l->kind == L_S4D ? "s4d" : "lssl", c) == SEQ_OK);
        l->C = c.d_model;
    }
}

/* After seq_params_alloc: the structured A init (the harness wants nonzero A_imag). */
static void layer_init_A(layer *l) {
    CHECK((l->kind == L_H3 ? seq_h3_init_A(&l->h3) : seq_s4_init_A(&l->s4)) == SEQ_OK);
}

/* layer_setup, seq_params_alloc, layer_init_A, and x (B,T,C) drawn from N(0,1). */
static void layer_ready(layer *l, seq_params *P, int k, int64_t B, int64_t T, uint64_t seed, float *x) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    layer_setup(l, P, k, B, T);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    layer_init_A(l);
    for (i = 0; i < B * T * l->C; i++) x[i] = (float)seq_rng_normal(&r, 0, 1);
}

static void layer_set_mode(layer *l, seq_s4_mode mode) {
    l->s4.cfg.mode = mode;
    l->h3.cfg.mode = mode;
    l->h3.ssm.cfg.mode = mode;
}

static seq_tensor *layer_forward(seq_ctx *ctx, const layer *l, seq_tensor *x, seq_rnn_io *io) {
    return l->kind == L_H3 ? seq_h3_forward(ctx, &l->h3, x, io) : seq_s4_forward(ctx, &l->s4, x, io);
}

/* Shapes of the states for B rows: h (and c for H3). */
static int layer_state_shape(const layer *l, int64_t B, int64_t *sh, int64_t *sc) {
    if (l->kind == L_S4D) {
        sh[0] = B, sh[1] = 3, sh[2] = 2, sh[3] = 2;
        return 4;
    }
    if (l->kind == L_LSSL) {
        sh[0] = B, sh[1] = 2, sh[2] = 4;
        return 3;
    }
    sh[0] = B, sh[1] = 4 * l->h3.cfg.head_dim, sh[2] = 2, sh[3] = 2;
    sc[0] = B, sc[1] = 4, sc[2] = 4;
    return 4;
}

/* A gradient-check case: the layer, its input and states as parameters, fixed weights
 * for the loss mean(y*wy) + mean(hn*wh) [+ mean(cn*wc)]. */
typedef struct {
    layer l;
    seq_tensor *x, *h0, *c0;
    const int32_t *lengths;
    const uint8_t *resets;
    float wy[MAXV], wh[MAXV], wc[MAXV];
} grad_case;

static seq_tensor *weighted_mean(seq_ctx *ctx, seq_tensor *t, float *w) {
    return t ? seq_mean(ctx, seq_mul(ctx, t, seq_tensor_wrap(ctx, w, t->ndim, t->shape))) : NULL;
}

static seq_tensor *case_loss(seq_ctx *ctx, void *ud) {
    grad_case *c = (grad_case *)ud;
    seq_rnn_io io;
    seq_tensor *y, *loss;
    memset(&io, 0, sizeof io);
    io.h0 = c->h0;
    io.c0 = c->c0;
    io.lengths = c->lengths;
    io.resets = c->resets;
    y = layer_forward(ctx, &c->l, c->x, &io);
    if (!y) return NULL;
    loss = seq_add(ctx, weighted_mean(ctx, y, c->wy), weighted_mean(ctx, io.hn, c->wh));
    return io.cn ? seq_add(ctx, loss, weighted_mean(ctx, io.cn, c->wc)) : loss;
}

/* Registers the layer, x and (when with_state) the initial states as parameters. */
static void case_setup(grad_case *c, seq_params *P, seq_rng *r, int k, int with_state, int64_t B, int64_t T) {
    int64_t sx[3], sh[4], sc[3];
    int nd, i;
    memset(c, 0, sizeof *c);
    layer_setup(&c->l, P, k, B, T);
    sx[0] = c->l.B;
    sx[1] = c->l.T;
    sx[2] = c->l.C;
    c->x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
    nd = layer_state_shape(&c->l, c->l.B, sh, sc);
    if (with_state) {
        c->h0 = seq_params_add(P, "h0", nd, sh, seq_init_normal(0, 1));
        if (c->l.kind == L_H3) c->c0 = seq_params_add(P, "c0", 3, sc, seq_init_normal(0, 1));
    }
    for (i = 0; i < MAXV; i++) {
        c->wy[i] = (float)seq_rng_normal(r, 0, 1);
        c->wh[i] = (float)seq_rng_normal(r, 0, 1);
        c->wc[i] = (float)seq_rng_normal(r, 0, 1);
    }
}

/* Every gradient (weights, input, initial states) against finite differences, in both
 * forms, plain, with lengths, and with lengths, resets and initial states. */
static void test_s4_gradcheck(void) {
    static const int32_t lengths[2] = {5, 3};
    static const uint8_t resets[10] = {0, 0, 1, 0, 0, /* */ 0, 1, 0, 0, 0};
    int k, variant;
    for (k = 0; k < NLAYERS; k++)
        for (variant = 0; variant < 5; variant++) {
            seq_params *P = seq_params_init(NULL);
            seq_ctx *ctx = seq_ctx_init(NULL);
            seq_gradcheck_result res;
            grad_case *c = (grad_case *)malloc(sizeof(grad_case));
            seq_rng r;
            seq_rng_seed(&r, 100 + 10 * k + variant);
            case_setup(c, P, &r, k, variant == 4, 2, 5);
            layer_set_mode(&c->l, variant % 2 ? SEQ_S4_MODE_RECURRENT : SEQ_S4_MODE_CONV);
            c->lengths = variant >= 2 ? lengths : NULL;
            c->resets = variant == 4 ? resets : NULL;
            CHECK(seq_params_alloc(P, &r) == SEQ_OK);
            layer_init_A(&c->l);
            CHECK(seq_gradcheck(ctx, P, case_loss, c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
            CHECK_MSG(res.failed == 0 && res.checked == P->numel,
                      "kind %d variant %d: %lld of %lld failed, worst %s[%lld] abs %g", k, variant,
                      (long long)res.failed, (long long)res.checked, res.worst_param ? res.worst_param : "-",
                      (long long)res.worst_index, res.max_abs_err);
            free(c);
            seq_ctx_free(ctx);
            seq_params_free(P);
        }
}

/* What one form gives: the loss's output, final states and every gradient. */
typedef struct {
    float y[MAXV], hn[MAXV], cn[MAXV], grad[MAXV];
} form_out;

static void run_form(grad_case *c, seq_params *P, seq_s4_mode mode, form_out *o) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn_io io;
    seq_tensor *y, *loss;
    layer_set_mode(&c->l, mode);
    memset(o, 0, sizeof *o);
    memset(&io, 0, sizeof io);
    io.lengths = c->lengths;
    y = layer_forward(ctx, &c->l, c->x, &io);
    loss = seq_add(ctx, weighted_mean(ctx, y, c->wy), weighted_mean(ctx, io.hn, c->wh));
    if (io.cn) loss = seq_add(ctx, loss, weighted_mean(ctx, io.cn, c->wc));
    seq_params_zero_grad(P);
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    if (y && io.hn) {
        memcpy(o->y, y->data, (size_t)y->numel * sizeof(float));
        memcpy(o->hn, io.hn->data, (size_t)io.hn->numel * sizeof(float));
        if (io.cn) memcpy(o->cn, io.cn->data, (size_t)io.cn->numel * sizeof(float));
        memcpy(o->grad, P->grad, (size_t)P->numel * sizeof(float));
    }
    seq_ctx_free(ctx);
}

/* Largest |a-b| / max(1, |a|, |b|) over n pairs. */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double worst = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / fmax(1.0, fmax(fabs(a[i]), fabs(b[i]))));
    return worst;
}

/* The convolution form (FFT) and the recurrence give the same outputs, final states and
 * gradients, over a sequence that is not a power of two, with a padded and an empty row. */
static void test_s4_forms_agree(void) {
    static const int32_t lengths[3] = {37, 20, 0};
    int k;
    for (k = 0; k < NLAYERS; k++) {
        seq_params *P = seq_params_init(NULL);
        grad_case *c = (grad_case *)malloc(sizeof(grad_case));
        form_out *conv = (form_out *)malloc(sizeof(form_out)), *rec = (form_out *)malloc(sizeof(form_out));
        seq_rng r;
        double dy, dh, dc, dg;
        seq_rng_seed(&r, 7 + k);
        case_setup(c, P, &r, k, 0, 3, 37);
        c->lengths = lengths;
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        layer_init_A(&c->l);
        run_form(c, P, SEQ_S4_MODE_CONV, conv);
        run_form(c, P, SEQ_S4_MODE_RECURRENT, rec);
        dy = rel_diff(conv->y, rec->y, MAXV);
        dh = rel_diff(conv->hn, rec->hn, MAXV);
        dc = rel_diff(conv->cn, rec->cn, MAXV);
        dg = rel_diff(conv->grad, rec->grad, P->numel);
        CHECK_MSG(dy < 1e-5 && dh < 1e-5 && dc < 1e-5 && dg < 1e-5, "kind %d: y %g hn %g cn %g grad %g", k, dy, dh, dc,
                  dg);
        CHECK(conv->y[37 * c->l.C] != 0.0f && conv->y[(37 + 20) * c->l.C] == 0.0f); /* row 1 valid, then padding */
        free(conv);
        free(rec);
        free(c);
        seq_params_free(P);
    }
}

/* x (B,T,C) as a tensor on ctx. */
static seq_tensor *layer_input(seq_ctx *ctx, const layer *l, float *x) {
    int64_t s[3];
    s[0] = l->B;
    s[1] = l->T;
    s[2] = l->C;
    return seq_tensor_wrap(ctx, x, 3, s);
}

/* The step API reproduces the full-sequence output and ends in its final state. */
static void test_s4_step_matches_forward(void) {
    enum { B = 2, T = 9 };
    int k;
    for (k = 0; k < NLAYERS; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        layer l;
        seq_s4_state st;
        seq_h3_state h3st;
        seq_rnn_io io;
        float x[B * T * 4], xt[B * 4], yt[B * 4];
        int64_t i, t, b, C;
        int h3 = layer_kinds[k] == L_H3;
        seq_tensor *y;
        double worst = 0.0;
        layer_ready(&l, P, k, B, T, 50 + k, x);
        C = l.C;
        memset(&io, 0, sizeof io);
        seq_ctx_set_grad(ctx, 0);
        y = layer_forward(ctx, &l, layer_input(ctx, &l, x), &io);
        CHECK(y != NULL);
        CHECK((h3 ? seq_h3_state_init(&l.h3, &h3st, B) : seq_s4_state_init(&l.s4, &st, B)) == SEQ_OK);
        for (t = 0; t < T && y; t++) {
            for (b = 0; b < B; b++) memcpy(xt + b * C, x + (b * T + t) * C, (size_t)C * sizeof(float));
            CHECK((h3 ? seq_h3_step(&l.h3, &h3st, xt, yt) : seq_s4_step(&l.s4, &st, xt, yt)) == SEQ_OK);
            for (b = 0; b < B; b++)
                for (i = 0; i < C; i++) worst = fmax(worst, fabs(yt[b * C + i] - y->data[(b * T + t) * C + i]));
        }
        if (y && h3) {
            worst = fmax(worst, rel_diff(h3st.ssm.s, io.hn->data, io.hn->numel));
            worst = fmax(worst, rel_diff(h3st.shift, io.cn->data, io.cn->numel));
            seq_h3_state_reset(&h3st);
            CHECK(h3st.shift[0] == 0.0f && h3st.ssm.s[0] == 0.0f);
            seq_h3_state_free(&h3st);
        } else if (y) {
            worst = fmax(worst, rel_diff(st.s, io.hn->data, io.hn->numel));
            seq_s4_state_reset(&st);
            CHECK(st.s[0] == 0.0f);
            seq_s4_state_free(&st);
        }
        CHECK_MSG(worst < 1e-5, "layer %d: step vs sequence %g", k, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Outputs and final state of x rows [row, row+1) at times [t0, t1), run alone. */
static seq_tensor *run_piece(seq_ctx *ctx, const layer *l, float *x, int64_t T, int64_t row, int64_t t0, int64_t t1,
                             seq_rnn_io *io) {
    int64_t s[3];
    s[0] = 1;
    s[1] = t1 - t0;
    s[2] = l->C;
    memset(io, 0, sizeof *io);
    return layer_forward(ctx, l, seq_tensor_wrap(ctx, x + (row * T + t0) * l->C, 3, s), io);
}

/* A batch with a padded row and (recurrent) a reset gives what running each row or
 * segment alone gives: outputs, zero padding and final states. */
static void test_s4_rows_and_segments(void) {
    enum { B = 2, T = 8 };
    int32_t lengths[B] = {T, 5};
    uint8_t resets[B * T] = {0};
    int k, with_resets;
    resets[3] = 1; /* row 0: segments [0,3) and [3,8) */
    for (k = 0; k < NLAYERS; k++)
        for (with_resets = 0; with_resets < 2; with_resets++) {
            seq_params *P = seq_params_init(NULL);
            seq_ctx *ctx = seq_ctx_init(NULL);
            layer l;
            seq_rnn_io io, io_seg, io_head, io_row;
            float x[B * T * 4];
            int64_t i, C, ns, nc;
            seq_tensor *y, *seg, *head, *row;
            double worst = 0.0;
            layer_ready(&l, P, k, B, T, 60 + k, x);
            C = l.C;
            memset(&io, 0, sizeof io);
            io.lengths = lengths;
            io.resets = with_resets ? resets : NULL;
            y = layer_forward(ctx, &l, layer_input(ctx, &l, x), &io);
            seg = run_piece(ctx, &l, x, T, 0, 3, T, &io_seg);
            head = run_piece(ctx, &l, x, T, 0, 0, 3, &io_head);
            row = run_piece(ctx, &l, x, T, 1, 0, 5, &io_row);
            CHECK(y && seg && head && row);
            if (!y || !seg || !head || !row) {
                seq_ctx_free(ctx);
                seq_params_free(P);
                continue;
            }
            ns = io.hn->numel / B;
            nc = io.cn ? io.cn->numel / B : 0;
            worst = rel_diff(y->data + T * C, row->data, 5 * C);
            for (i = 5 * C; i < T * C; i++) worst = fmax(worst, fabs(y->data[T * C + i])); /* padding */
            worst = fmax(worst, rel_diff(io.hn->data + ns, io_row.hn->data, ns));
            if (nc) worst = fmax(worst, rel_diff(io.cn->data + nc, io_row.cn->data, nc));
            if (with_resets) {
                worst = fmax(worst, rel_diff(y->data, head->data, 3 * C));
                worst = fmax(worst, rel_diff(y->data + 3 * C, seg->data, 5 * C));
                worst = fmax(worst, rel_diff(io.hn->data, io_seg.hn->data, ns));
                if (nc) worst = fmax(worst, rel_diff(io.cn->data, io_seg.cn->data, nc));
            }
            CHECK_MSG(worst < 1e-5, "layer %d resets %d: %g", k, with_resets, worst);
            seq_ctx_free(ctx);
            seq_params_free(P);
        }
}

/* One PyTorch fixture (tests/gen_s4_fixtures.py). */
typedef struct {
    int layer; /* index into layer_kinds */
    const s4_fx_param *params;
    int64_t nparams;
    const float *x, *x_grad, *y, *hn, *cn, *wy, *wh, *wc;
} s4_fixture;

/* max |got - want| <= 1e-5 * max(1, max |want|) over n values, else a failure naming what. */
static void check_close(const char *what, int mode, const float *got, const float *want, int64_t n) {
    double err = 0.0, mag = 1.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        mag = fmax(mag, fabs(want[i]));
    }
    CHECK_MSG(err <= 1e-5 * mag, "mode %d: %s differs by %g (scale %g)", mode, what, err, mag);
}

static void check_parity(const s4_fixture *fx, seq_s4_mode mode) {
    seq_params *P = seq_params_init(NULL);
    grad_case *c = (grad_case *)malloc(sizeof(grad_case));
    form_out *o = (form_out *)malloc(sizeof(form_out));
    int64_t sh[4], sc[3] = {0, 0, 0}, ny, nh, nc = 0, i, k;
    seq_rng r;
    seq_rng_seed(&r, 1);
    case_setup(c, P, &r, fx->layer, 0, S4_FX_B, S4_FX_T);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(P->count == fx->nparams + 1); /* the same weights as the reference, and x */
    for (k = 0; k < fx->nparams; k++) {
        seq_tensor *w = seq_params_find(P, fx->params[k].name);
        CHECK_MSG(w != NULL, "missing %s", fx->params[k].name);
        if (w) memcpy(w->data, fx->params[k].value, (size_t)w->numel * sizeof(float));
    }
    memcpy(c->x->data, fx->x, (size_t)c->x->numel * sizeof(float));
    /* the reference's loss is sum(y*wy) + ...: mean(y * wy * numel) is the same function */
    ny = c->x->numel; /* every layer maps C channels to C */
    nh = seq__numel(layer_state_shape(&c->l, S4_FX_B, sh, sc), sh);
    if (c->l.kind == L_H3) nc = seq__numel(3, sc);
    for (i = 0; i < ny; i++) c->wy[i] = fx->wy[i] * (float)ny;
    for (i = 0; i < nh; i++) c->wh[i] = fx->wh[i] * (float)nh;
    for (i = 0; i < nc; i++) c->wc[i] = fx->wc[i] * (float)nc;
    run_form(c, P, mode, o);
    check_close("y", mode, o->y, fx->y, ny);
    check_close("hn", mode, o->hn, fx->hn, nh);
    check_close("cn", mode, o->cn, fx->cn, nc);
    check_close("x grad", mode, o->grad + seq_params_entry(P, "x")->offset, fx->x_grad, c->x->numel);
    for (k = 0; k < fx->nparams; k++) {
        seq_param *e = seq_params_entry(P, fx->params[k].name);
        if (e) check_close(e->t.name, mode, o->grad + e->offset, fx->params[k].grad, e->t.numel);
    }
    free(o);
    free(c);
    seq_params_free(P);
}

#define S4_FIXTURE(layer, tag)                                                                              \
    {layer, tag##_fx_params, (int64_t)(sizeof tag##_fx_params / sizeof tag##_fx_params[0]), tag##_fx_x, \
     tag##_fx_x_grad, tag##_fx_y, tag##_fx_hn, tag##_fx_cn, tag##_fx_wy, tag##_fx_wh, tag##_fx_wc}

/* S4D as s4d.py, LSSL with torch.linalg.solve, H3 as h3.py (two heads): outputs, final
 * states and every gradient equal PyTorch's, in both forms. */
static void test_s4_pytorch_parity(void) {
    static const s4_fixture fx[3] = {S4_FIXTURE(0, s4d), S4_FIXTURE(1, lssl), S4_FIXTURE(3, h3)};
    int k;
    CHECK(S4D_FX_H == 3 && S4D_FX_N == 4 && LSSL_FX_H == 2 && LSSL_FX_N == 4 && H3_FX_D == 4 && H3_FX_N == 4 &&
          H3_FX_HEAD == 2); /* the harness's layers 0, 1 and 3 */
    for (k = 0; k < 3; k++) {
        check_parity(&fx[k], SEQ_S4_MODE_CONV);
        check_parity(&fx[k], SEQ_S4_MODE_RECURRENT);
    }
}

/* The initial values: S4D-Lin/Inv imaginary parts, log 0.5 real parts, no weight decay on
 * the SSM's dt and A; LSSL's bilinear matrices solve (I - dt/2 A) Abar = I + dt/2 A and
 * (I - dt/2 A) Bbar = dt B with A HiPPO-LegS. */
static void test_s4_init_values(void) {
    enum { N = 6 };
    seq_params *P = seq_params_init(NULL);
    seq_s4 lin, inv, lssl;
    seq_rng r;
    float Abar[N * N], Bbar[N];
    double work[2 * N], dt = 0.3, worst = 0.0, pi = acos(-1.0);
    int64_t i, j, k;
    seq_s4_config c = seq_s4d_config_default(2, 2 * N);
    seq_rng_seed(&r, 1);
    CHECK(seq_s4_init(&lin, P, "lin", c) == SEQ_OK);
    c.init = SEQ_S4D_INV;
    CHECK(seq_s4_init(&inv, P, "inv", c) == SEQ_OK);
    CHECK(seq_s4_init(&lssl, P, "lssl", seq_lssl_config_default(2, N)) == SEQ_OK);
    CHECK(lssl.log_A_real == NULL && lssl.A_imag == NULL && seq_params_find(P, "lssl.C")->shape[1] == N);
    CHECK(seq_s4_init_A(&lin) == SEQ_ERR_STATE); /* not allocated yet */
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_s4_init_A(&lin) == SEQ_OK && seq_s4_init_A(&inv) == SEQ_OK && seq_s4_init_A(&lssl) == SEQ_OK);
    for (i = 0; i < N; i++) {
        CHECK_NEAR(lin.A_imag->data[N + i], pi * (double)i, 1e-6);
        CHECK_NEAR(inv.A_imag->data[i], 2.0 * N / pi * (2.0 * N / (2.0 * (double)i + 1.0) - 1.0), 1e-6);
        CHECK_NEAR(lin.log_A_real->data[i], log(0.5), 1e-7);
    }
    for (i = 0; i < 2; i++) CHECK(lin.log_dt->data[i] >= logf(1e-3f) && lin.log_dt->data[i] <= logf(1e-1f));
    CHECK(seq_params_entry(P, "lin.kernel.log_dt")->decay == 0.0f);
    CHECK(seq_params_entry(P, "lin.kernel.A_imag")->decay == 0.0f);
    CHECK(seq_params_entry(P, "lin.kernel.C")->decay == 1.0f && seq_params_find(P, "lin.D") != NULL);
    CHECK(seq_params_entry(P, "lssl.log_dt")->decay == 0.0f);
    seq_params_free(P);
    seq__s4_lssl_disc(dt, N, Abar, Bbar, work);
    for (i = 0; i < N; i++) {
        double a_ik, mb = 0.0;
        for (j = 0; j < N; j++) {
            double ma = 0.0;
            for (k = 0; k < N; k++) {
                a_ik = i > k ? -sqrt((2.0 * i + 1) * (2.0 * k + 1)) : i == k ? -(double)(i + 1) : 0.0;
                ma += ((double)(i == k) - 0.5 * dt * a_ik) * Abar[k * N + j];
                if (j == 0) mb += ((double)(i == k) - 0.5 * dt * a_ik) * Bbar[k];
            }
            a_ik = i > j ? -sqrt((2.0 * i + 1) * (2.0 * j + 1)) : i == j ? -(double)(i + 1) : 0.0;
            worst = fmax(worst, fabs(ma - ((double)(i == j) + 0.5 * dt * a_ik)));
        }
        worst = fmax(worst, fabs(mb - dt * sqrt(2.0 * i + 1)));
    }
    CHECK_MSG(worst < 1e-6, "bilinear HiPPO-LegS residual %g", worst);
}

/* Bad configs, shapes, lengths and values are errors with a status, never a crash. */
/* A forward that must be refused: layer index (0 S4D, 1 LSSL, 3 H3), x's shape, a value
 * planted at x[bad_at] (bad_at >= 0), states and lengths in io, the form; the status and
 * a word of the message. */
typedef struct {
    int layer;
    int64_t x[3];
    int bad_at;
    float bad;
    int h0_ndim;
    const int64_t *h0, *c0;
    const int32_t *lengths;
    seq_s4_mode mode;
    seq_status want;
    const char *what;
} bad_case;

static void test_s4_bad_input(void) {
    static const int64_t h0_s4d[4] = {2, 3, 2, 1}, h0_lssl[3] = {2, 2, 3}, c0_h3[3] = {2, 4, 3};
    static const int32_t too_long[2] = {3, 4};
    static const bad_case cases[] = {
        {0, {2, 0, 3}, -1, 0.0f, 0, NULL, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_SHAPE, "T>=1"},
        {1, {2, 3, 5}, -1, 0.0f, 0, NULL, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_SHAPE, "x must be"},
        {3, {2, 0, 4}, -1, 0.0f, 0, NULL, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_SHAPE, "u must be"},
        {0, {2, 3, 3}, -1, 0.0f, 4, h0_s4d, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_SHAPE, "h0"},
        {1, {2, 3, 2}, -1, 0.0f, 3, h0_lssl, NULL, NULL, SEQ_S4_MODE_RECURRENT, SEQ_ERR_SHAPE, "h0"},
        {1, {2, 3, 2}, -1, 0.0f, 0, NULL, h0_lssl, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_INVALID, "c0"},
        {3, {2, 3, 4}, -1, 0.0f, 0, NULL, c0_h3, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_SHAPE, "c0"},
        {3, {2, 3, 4}, -1, 0.0f, 0, NULL, NULL, too_long, SEQ_S4_MODE_CONV, SEQ_ERR_RANGE, "lengths[1]"},
        {0, {2, 3, 3}, -1, 0.0f, 0, NULL, NULL, too_long, SEQ_S4_MODE_RECURRENT, SEQ_ERR_RANGE, "lengths[1]"},
        {0, {2, 3, 3}, 4, NAN, 0, NULL, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_NUMERIC, "x[4]"},
        {1, {2, 3, 2}, 0, INFINITY, 0, NULL, NULL, NULL, SEQ_S4_MODE_RECURRENT, SEQ_ERR_NUMERIC, "x[0]"},
        {3, {2, 3, 4}, 7, NAN, 0, NULL, NULL, NULL, SEQ_S4_MODE_CONV, SEQ_ERR_NUMERIC, "u[7]"},
    };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    layer s4d, lssl, h3;
    seq_s4 bad;
    seq_h3 badh;
    seq_s4_state st;
    seq_h3_state hst;
    seq_rnn_io io;
    seq_rng r;
    int64_t sx[3] = {2, 3, 3};
    float xt[4] = {0, 0, 0, 0}, yt[4];
    int i;
    seq_s4_config c = seq_s4d_config_default(3, 5); /* odd state size */
    seq_h3_config hc = seq_h3_config_default(4, 4);
    seq_tensor *x;
    seq_rng_seed(&r, 2);
    CHECK(seq_s4_init(&bad, P, "bad", c) == SEQ_ERR_INVALID);
    c.d_state = 4;
    c.dt_min = 0.0f;
    CHECK(seq_s4_init(&bad, P, "bad", c) == SEQ_ERR_INVALID);
    c.dt_min = 1e-3f;
    c.mode = SEQ_S4_MODE_COUNT;
    CHECK(seq_s4_init(&bad, P, "bad", c) == SEQ_ERR_INVALID && strstr(seq_last_error(), "'bad'") != NULL);
    c.mode = SEQ_S4_MODE_CONV;
    c.kind = SEQ_S4_KIND_COUNT;
    CHECK(seq_s4_init(&bad, P, "bad", c) == SEQ_ERR_INVALID);
    CHECK(seq_s4_init(&bad, P, "badl", seq_lssl_config_default(0, 4)) == SEQ_ERR_INVALID);
    hc.head_dim = 3;
    CHECK(seq_h3_init(&badh, P, "badh", hc) == SEQ_ERR_INVALID);
    CHECK(seq_s4_init(NULL, P, "x", seq_s4d_config_default(3, 4)) == SEQ_ERR_INVALID);
    CHECK(P->count == 0); /* nothing registered by a refused init */
    memset(&hst, 0, sizeof hst);
    layer_setup(&s4d, P, 0, 2, 3);
    layer_setup(&lssl, P, 1, 2, 3);
    layer_setup(&h3, P, 3, 2, 3);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    CHECK(seq_s4_forward(ctx, &s4d.s4, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_STATE); /* no alloc */
    seq_ctx_reset(ctx);
    CHECK(seq_s4_state_init(&s4d.s4, &st, 1) == SEQ_ERR_STATE);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        const bad_case *bc = &cases[i];
        layer *l = bc->layer == 0 ? &s4d : bc->layer == 1 ? &lssl : &h3;
        seq_tensor *out;
        seq_ctx_reset(ctx);
        memset(&io, 0, sizeof io);
        x = seq_tensor_new(ctx, SEQ_F32, 3, bc->x);
        if (bc->bad_at >= 0) x->data[bc->bad_at] = bc->bad;
        if (bc->h0) io.h0 = seq_tensor_new(ctx, SEQ_F32, bc->h0_ndim, bc->h0);
        if (bc->c0) io.c0 = seq_tensor_new(ctx, SEQ_F32, 3, bc->c0);
        io.lengths = bc->lengths;
        layer_set_mode(l, bc->mode);
        out = layer_forward(ctx, l, x, &io);
        CHECK_MSG(out == NULL && seq_ctx_status(ctx) == bc->want && strstr(seq_ctx_error(ctx), bc->what) != NULL,
                  "case %d: status %d, '%s'", i, (int)seq_ctx_status(ctx), seq_ctx_error(ctx));
    }
    seq_ctx_reset(ctx);
    CHECK(seq_s4_forward(ctx, NULL, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    /* steps: NaN, NULL, a state made for another layer, batch 0 */
    CHECK(seq_s4_state_init(&s4d.s4, &st, 1) == SEQ_OK);
    xt[1] = NAN;
    CHECK(seq_s4_step(&s4d.s4, &st, xt, yt) == SEQ_ERR_NUMERIC);
    CHECK(seq_s4_step(&s4d.s4, NULL, xt, yt) == SEQ_ERR_INVALID);
    CHECK(seq_s4_step(&lssl.s4, &st, xt, yt) == SEQ_ERR_SHAPE);
    seq_s4_state_free(&st);
    CHECK(seq_s4_state_init(&lssl.s4, &st, 0) == SEQ_ERR_INVALID);
    CHECK(seq_h3_state_init(&h3.h3, &hst, 1) == SEQ_OK);
    CHECK(seq_h3_step(&h3.h3, &hst, xt, yt) == SEQ_ERR_NUMERIC);
    h3.h3.cfg.head_dim = 1; /* now the state belongs to another layer shape */
    xt[1] = 0.0f;
    CHECK(seq_h3_step(&h3.h3, &hst, xt, yt) == SEQ_ERR_SHAPE);
    seq_h3_state_free(&hst);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* Out of memory: a state that cannot be made says so and leaks nothing; a forward whose
 * arena cannot grow reports SEQ_ERR_NOMEM. */
static void test_s4_out_of_memory(void) {
    long live = seq_test_live_blocks;
    seq_params *P = seq_params_init(NULL);
    layer l;
    seq_h3_state st;
    seq_rng r;
    int64_t s[3] = {2, 3, 4}, k;
    seq_rng_seed(&r, 3);
    layer_setup(&l, P, 3, 2, 3);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    for (k = 0; k < 3; k++) {
        seq_test_fail_after(k);
        CHECK(seq_h3_state_init(&l.h3, &st, 2) == SEQ_ERR_NOMEM);
        seq_test_fail_never();
    }
    {
        seq_ctx *mk = seq_ctx_init(NULL), *ctx = seq_ctx_init(NULL);
        seq_tensor *x = seq_tensor_new(mk, SEQ_F32, 3, s);
        seq_test_fail_after(0); /* the forward's first arena block */
        CHECK(seq_h3_forward(ctx, &l.h3, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NOMEM);
        seq_test_fail_never();
        seq_ctx_free(ctx);
        seq_ctx_free(mk);
    }
    seq_params_free(P);
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_s4(void) {
    RUN(test_fft_matches_dft);
    RUN(test_s4_gradcheck);
    RUN(test_s4_forms_agree);
    RUN(test_s4_step_matches_forward);
    RUN(test_s4_rows_and_segments);
    RUN(test_s4_pytorch_parity);
    RUN(test_s4_init_values);
    RUN(test_s4_bad_input);
    RUN(test_s4_out_of_memory);
}
