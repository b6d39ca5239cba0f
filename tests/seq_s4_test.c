/* The S4 family: the FFT, S4D, LSSL and H3. This file builds a static copy of the
 * implementation (SEQ_STATIC) so it can test the private FFT against a naive DFT. */
#include "seq_test.h"
#define SEQ_STATIC
#define SEQ_IMPLEMENTATION
#include "../seq.h"

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

typedef struct {
    layer_kind kind;
    seq_s4d s4d;
    seq_lssl lssl;
    seq_h3 h3;
    int64_t B, T, C; /* input (B,T,C) */
} layer;

enum { MAXV = 4096 };

/* A small layer of each kind, registered in P (not yet allocated). dt is drawn from
 * [0.05, 0.5] so the step size matters in a short sequence. */
static void layer_setup(layer *l, seq_params *P, layer_kind kind, int64_t B, int64_t T, int64_t head_dim) {
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->B = B;
    l->T = T;
    if (kind == L_S4D) {
        seq_s4d_config c = seq_s4d_config_default(3, 4);
        c.dt_min = 0.05f;
        c.dt_max = 0.5f;
        c.init = SEQ_S4D_INV;
        CHECK(seq_s4d_init(&l->s4d, P, "s4d", c) == SEQ_OK);
        l->C = 3;
    } else if (kind == L_LSSL) {
        seq_lssl_config c = seq_lssl_config_default(2, 4);
        c.dt_min = 0.05f;
        c.dt_max = 0.5f;
        CHECK(seq_lssl_init(&l->lssl, P, "lssl", c) == SEQ_OK);
        l->C = 2;
    } else {
        seq_h3_config c = seq_h3_config_default(4, 4);
        c.head_dim = head_dim;
        c.dt_min = 0.05f;
        c.dt_max = 0.5f;
        CHECK(seq_h3_init(&l->h3, P, "h3", c) == SEQ_OK);
        l->C = 4;
    }
}

/* After seq_params_alloc: the structured A init (the harness wants nonzero A_imag). */
static void layer_init_A(layer *l) {
    if (l->kind == L_S4D) CHECK(seq_s4d_init_A(&l->s4d) == SEQ_OK);
    if (l->kind == L_H3) CHECK(seq_h3_init_A(&l->h3) == SEQ_OK);
}

static void layer_set_mode(layer *l, seq_s4_mode mode) {
    l->s4d.cfg.mode = mode;
    l->lssl.cfg.mode = mode;
    l->h3.cfg.mode = mode;
    l->h3.ssm.cfg.mode = mode;
}

static seq_tensor *layer_forward(seq_ctx *ctx, const layer *l, seq_tensor *x, seq_rnn_io *io) {
    if (l->kind == L_S4D) return seq_s4d_forward(ctx, &l->s4d, x, io);
    if (l->kind == L_LSSL) return seq_lssl_forward(ctx, &l->lssl, x, io);
    return seq_h3_forward(ctx, &l->h3, x, io);
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
static void case_setup(grad_case *c, seq_params *P, seq_rng *r, layer_kind kind, int64_t head_dim, int with_state) {
    int64_t sx[3], sh[4], sc[3];
    int nd, i;
    memset(c, 0, sizeof *c);
    layer_setup(&c->l, P, kind, 2, 5, head_dim);
    sx[0] = c->l.B;
    sx[1] = c->l.T;
    sx[2] = c->l.C;
    c->x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
    nd = layer_state_shape(&c->l, c->l.B, sh, sc);
    if (with_state) {
        c->h0 = seq_params_add(P, "h0", nd, sh, seq_init_normal(0, 1));
        if (kind == L_H3) c->c0 = seq_params_add(P, "c0", 3, sc, seq_init_normal(0, 1));
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
    static const layer_kind kinds[4] = {L_S4D, L_LSSL, L_H3, L_H3};
    int k, variant;
    for (k = 0; k < 4; k++)
        for (variant = 0; variant < 5; variant++) {
            seq_params *P = seq_params_init(NULL);
            seq_ctx *ctx = seq_ctx_init(NULL);
            seq_gradcheck_result res;
            grad_case *c = (grad_case *)malloc(sizeof(grad_case));
            seq_rng r;
            seq_rng_seed(&r, 100 + 10 * k + variant);
            case_setup(c, P, &r, kinds[k], k == 3 ? 2 : 1, variant == 4);
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

void seq_tests_s4(void) {
    RUN(test_fft_matches_dft);
    RUN(test_s4_gradcheck);
}
