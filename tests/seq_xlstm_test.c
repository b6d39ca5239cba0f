/* 14.3: sLSTM, mLSTM (recurrent, parallel, chunkwise), minGRU and minLSTM (sequential and
 * log-space). One driver runs every layer through the same checks: finite-difference
 * gradients (inputs, weights, initial states, with lengths and resets), the streaming
 * step against the full sequence, padded rows and segments against separate runs, the
 * forms against each other, and bad input. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/xlstm_fixtures.h"

typedef enum { XL_SLSTM, XL_MLSTM, XL_MINRNN } xl_kind;

/* One layer of any kind, built small: x (B,T,I) -> y (B,T,O). */
typedef struct {
    xl_kind kind;
    seq_slstm s;
    seq_mlstm m;
    seq_minrnn r;
    int64_t I, O;
} xl_net;

typedef struct {
    const char *name;
    xl_kind kind;
    int variant; /* sLSTM: exp_forget; mLSTM: the form; minRNN: kind */
    int option;  /* mLSTM: bias and exp_forget; minRNN: log_space */
} xl_spec;

static const xl_spec xl_specs[] = {
    {"slstm", XL_SLSTM, 0, 0},
    {"slstm exp forget", XL_SLSTM, 1, 0},
    {"mlstm chunkwise", XL_MLSTM, SEQ_MLSTM_CHUNKWISE, 0},
    {"mlstm parallel", XL_MLSTM, SEQ_MLSTM_PARALLEL, 1},
    {"mlstm recurrent", XL_MLSTM, SEQ_MLSTM_RECURRENT, 0},
    {"mingru", XL_MINRNN, SEQ_MINRNN_GRU, 0},
    {"mingru log-space", XL_MINRNN, SEQ_MINRNN_GRU, 1},
    {"minlstm", XL_MINRNN, SEQ_MINRNN_LSTM, 0},
    {"minlstm log-space", XL_MINRNN, SEQ_MINRNN_LSTM, 1},
};
#define XL_NSPECS ((int)(sizeof xl_specs / sizeof xl_specs[0]))

static seq_status xl_make(xl_net *n, seq_params *P, const xl_spec *sp) {
    memset(n, 0, sizeof *n);
    n->kind = sp->kind;
    if (sp->kind == XL_SLSTM) {
        seq_slstm_config c = seq_slstm_config_default(3, 4, 2);
        c.exp_forget = sp->variant;
        n->I = 3;
        n->O = 4;
        return seq_slstm_init(&n->s, P, "slstm", c);
    }
    if (sp->kind == XL_MLSTM) {
        seq_mlstm_config c = seq_mlstm_config_default(4, 2);
        c.qk_head_dim = 2;
        c.v_head_dim = 3;
        c.gate_soft_cap = 3.0f; /* low enough to bend the gates in these tests */
        c.form = (seq_mlstm_form)sp->variant;
        c.chunk_size = 2;
        c.bias = sp->option;
        c.exp_forget = sp->option;
        n->I = n->O = 4;
        return seq_mlstm_init(&n->m, P, "mlstm", c);
    }
    {
        seq_minrnn_config c = sp->variant == SEQ_MINRNN_GRU ? seq_mingru_config_default(3, 4)
                                                            : seq_minlstm_config_default(3, 4);
        c.log_space = sp->option;
        n->I = 3;
        n->O = 4;
        return seq_minrnn_init(&n->r, P, "minrnn", c);
    }
}

static seq_tensor *xl_forward(seq_ctx *ctx, xl_net *n, seq_tensor *x, seq_rnn_io *io) {
    if (n->kind == XL_SLSTM) return seq_slstm_forward(ctx, &n->s, x, io);
    if (n->kind == XL_MLSTM) return seq_mlstm_forward(ctx, &n->m, x, io);
    return seq_minrnn_forward(ctx, &n->r, x, io);
}

/* Shapes of io->h0 and io->c0 (n1 = 0: none) for a batch of B. Returns h0's ndim. */
static int xl_state_shapes(const xl_net *n, int64_t B, int64_t *s0, int *n1, int64_t *s1) {
    *n1 = 0;
    if (n->kind == XL_SLSTM) {
        s0[0] = 4;
        s0[1] = B;
        s0[2] = n->O;
        return 3;
    }
    if (n->kind == XL_MLSTM) {
        const seq_mlstm_config *c = &n->m.cfg;
        s0[0] = s1[0] = B;
        s0[1] = s1[1] = c->num_heads;
        s0[2] = c->qk_head_dim;
        s0[3] = c->v_head_dim;
        s1[2] = c->qk_head_dim + 1;
        *n1 = 3;
        return 4;
    }
    s0[0] = B;
    s0[1] = n->O;
    return 2;
}

/* Element k of row r of a state tensor whose batch is B (the sLSTM's is dim 1). */
static float xl_state_at(const xl_net *n, const seq_tensor *s, int64_t B, int64_t r, int64_t k) {
    int64_t per = s->numel / B;
    if (n->kind == XL_SLSTM) return s->data[(k / n->O) * B * n->O + r * n->O + k % n->O];
    return s->data[r * per + k];
}

/* The streaming API of any kind. */
typedef union {
    seq_slstm_state s;
    seq_mlstm_state m;
    seq_minrnn_state r;
} xl_state;

static seq_status xl_state_init(xl_net *n, xl_state *st, int64_t B) {
    if (n->kind == XL_SLSTM) return seq_slstm_state_init(&n->s, &st->s, B);
    if (n->kind == XL_MLSTM) return seq_mlstm_state_init(&n->m, &st->m, B);
    return seq_minrnn_state_init(&n->r, &st->r, B);
}

/* st NULL passes a NULL state */
static seq_status xl_step(xl_net *n, xl_state *st, const float *x, float *y) {
    if (n->kind == XL_SLSTM) return seq_slstm_step(&n->s, st ? &st->s : NULL, x, y);
    if (n->kind == XL_MLSTM) return seq_mlstm_step(&n->m, st ? &st->m : NULL, x, y);
    return seq_minrnn_step(&n->r, st ? &st->r : NULL, x, y);
}

static void xl_state_free(xl_net *n, xl_state *st) {
    if (n->kind == XL_SLSTM) seq_slstm_state_free(&st->s);
    else if (n->kind == XL_MLSTM) seq_mlstm_state_free(&st->m);
    else seq_minrnn_state_free(&st->r);
}

/* Runs the streaming API over x (B,T,I) into y (B,T,O) from the zero state. */
static seq_status xl_stream(xl_net *n, const float *x, int64_t B, int64_t T, float *y) {
    xl_state st;
    float xt[64], yt[64];
    int64_t t, r;
    seq_status s = xl_state_init(n, &st, B);
    for (t = 0; t < T && s == SEQ_OK; t++) {
        for (r = 0; r < B; r++) memcpy(xt + r * n->I, x + (r * T + t) * n->I, (size_t)n->I * sizeof(float));
        s = xl_step(n, &st, xt, yt);
        for (r = 0; r < B; r++) memcpy(y + (r * T + t) * n->O, yt + r * n->O, (size_t)n->O * sizeof(float));
    }
    xl_state_free(n, &st);
    return s;
}

static void xl_fill_normal(float *v, int64_t n, float std, seq_rng *r) {
    int64_t i;
    for (i = 0; i < n; i++) v[i] = (float)seq_rng_normal(r, 0.0, std);
}

/* Every parameter N(0, std^2): the layers' own inits (an input gate bias of -10) make
 * gradients too small to check. An sLSTM normalizer state must stay positive. */
static void xl_randomize(seq_params *P, seq_tensor *h0, const xl_net *n, seq_rng *r) {
    int64_t i;
    xl_fill_normal(P->data, P->numel, 0.6f, r);
    if (h0 && n->kind == XL_SLSTM)
        for (i = 2 * h0->numel / 4; i < 3 * h0->numel / 4; i++) h0->data[i] = 0.5f + fabsf(h0->data[i]);
}

/* ---- gradient checks ---------------------------------------------------------------- */

enum { GB = 3, GT = 5 };

typedef struct {
    xl_net net;
    seq_tensor *x, *h0, *c0;
    seq_rnn_io io;
    seq_tensor *y; /* the last output */
    float wy[256], wh[256], wc[256];
} xl_case;

/* loss = sum(y wy) + sum(hn wh) + sum(cn wc): every output carries gradient */
static seq_tensor *xl_loss(seq_ctx *ctx, void *ud) {
    xl_case *c = (xl_case *)ud;
    seq_tensor *y, *l;
    c->io.h0 = c->h0;
    c->io.c0 = c->c0;
    c->y = y = xl_forward(ctx, &c->net, c->x, &c->io);
    if (!y) return NULL;
    l = seq_sum(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, y->ndim, y->shape)));
    l = seq_add(ctx, l, seq_sum(ctx, seq_mul(ctx, c->io.hn, seq_tensor_wrap(ctx, c->wh, c->io.hn->ndim, c->io.hn->shape))));
    if (!c->io.cn) return l;
    return seq_add(ctx, l, seq_sum(ctx, seq_mul(ctx, c->io.cn, seq_tensor_wrap(ctx, c->wc, c->io.cn->ndim, c->io.cn->shape))));
}

/* Row 0 runs whole with a reset at 3, row 1 stops at 3 after a reset at 1, row 2 is empty
 * (its final state is its initial one). */
static const int32_t xl_lengths[GB] = {5, 3, 0};
static const uint8_t xl_resets[GB * GT] = {0, 0, 0, 1, 0, /* */ 0, 1, 0, 0, 0, /* */ 0, 0, 0, 0, 0};

/* A case of spec sp with x, h0, c0 as parameters (so P->grad holds every gradient), all
 * random; lengths and resets as in the gradient checks. */
static int xl_case_setup(xl_case *c, seq_params *P, const xl_spec *sp, int64_t B, uint64_t seed) {
    int64_t sx[3], s0[4], s1[4];
    int n0, n1;
    seq_rng r;
    memset(c, 0, sizeof *c);
    seq_rng_seed(&r, seed);
    if (xl_make(&c->net, P, sp) != SEQ_OK) return 0;
    sx[0] = B;
    sx[1] = GT;
    sx[2] = c->net.I;
    n0 = xl_state_shapes(&c->net, B, s0, &n1, s1);
    c->x = seq_params_add(P, "x", 3, sx, seq_init_zeros());
    c->h0 = seq_params_add(P, "h0", n0, s0, seq_init_zeros());
    c->c0 = n1 ? seq_params_add(P, "c0", n1, s1, seq_init_zeros()) : NULL;
    if (seq_params_alloc(P, &r) != SEQ_OK) return 0;
    xl_randomize(P, c->h0, &c->net, &r);
    xl_fill_normal(c->wy, 256, 1.0f, &r);
    xl_fill_normal(c->wh, 256, 1.0f, &r);
    xl_fill_normal(c->wc, 256, 1.0f, &r);
    c->io.lengths = xl_lengths;
    c->io.resets = xl_resets;
    return 1;
}

static void xl_gradcheck_one(const xl_spec *sp, int padded) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_gradcheck_result res;
    xl_case c;
    CHECK(xl_case_setup(&c, P, sp, GB, 5 + (uint64_t)padded));
    if (!padded) {
        c.io.lengths = NULL;
        c.io.resets = NULL;
    }
    /* The stabilizer m is a running max: a step of eps that crosses a tie between its
     * branches sees a kink, and the f32 loss (magnitude ~10) rounds to ~1e-6, i.e. ~2e-3
     * in a central difference of 2 eps. eps = 5e-4 and atol = 2e-3 sit between the two;
     * at a kink the analytic gradient is the one the numeric converges to as eps shrinks. */
    CHECK(seq_gradcheck(ctx, P, xl_loss, &c, 5e-4f, 2e-3f, 1e-2f, &res) == SEQ_OK);
    CHECK_MSG(res.failed == 0 && res.checked == P->numel, "%s%s: %lld of %lld failed, worst %s[%lld] abs %g", sp->name,
              padded ? " padded" : "", (long long)res.failed, (long long)res.checked,
              res.worst_param ? res.worst_param : "-", (long long)res.worst_index, res.max_abs_err);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_xlstm_gradcheck(void) {
    int k;
    for (k = 0; k < XL_NSPECS; k++) {
        xl_gradcheck_one(&xl_specs[k], 0);
        xl_gradcheck_one(&xl_specs[k], 1);
    }
}

/* ---- the streaming step, padded rows and segments -------------------------------------- */

/* A net of spec sp with random weights; x (B,T,I) random too. */
static xl_net *xl_setup(const xl_spec *sp, seq_params *P, xl_net *n, float *x, int64_t nx, uint64_t seed) {
    seq_rng r;
    seq_rng_seed(&r, seed);
    if (xl_make(n, P, sp) != SEQ_OK || seq_params_alloc(P, &r) != SEQ_OK) return NULL;
    xl_randomize(P, NULL, n, &r);
    xl_fill_normal(x, nx, 1.0f, &r);
    return n;
}

/* The step API from the zero state gives the full-sequence output. */
static void test_xlstm_step_matches_forward(void) {
    enum { B = 2, T = 6 };
    int k;
    for (k = 0; k < XL_NSPECS; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[B * T * 4], ys[B * T * 4];
        int64_t sx[3], i;
        xl_net n;
        seq_tensor *y;
        double worst = 0.0;
        if (!xl_setup(&xl_specs[k], P, &n, x, B * T * 4, 40 + (uint64_t)k)) {
            CHECK_MSG(0, "%s: setup", xl_specs[k].name);
            continue;
        }
        sx[0] = B;
        sx[1] = T;
        sx[2] = n.I;
        seq_ctx_set_grad(ctx, 0);
        y = xl_forward(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), NULL);
        CHECK(y != NULL && xl_stream(&n, x, B, T, ys) == SEQ_OK);
        for (i = 0; y && i < y->numel; i++)
            worst = fmax(worst, fabs(y->data[i] - ys[i]) / fmax(1.0, fabs(y->data[i])));
        CHECK_MSG(worst < 1e-5, "%s: step vs sequence %g", xl_specs[k].name, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Largest relative difference of n values of a and b (a NULL counts as zeros). */
static double xl_diff(const float *a, const float *b, int64_t n) {
    double worst = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double u = a ? a[i] : 0.0, v = b[i];
        worst = fmax(worst, fabs(u - v) / fmax(1.0, fmax(fabs(u), fabs(v))));
    }
    return worst;
}

/* A batch with a reset and a short row gives what running each segment alone gives:
 * row 0 is [0,3) then [3,7) after a reset, row 1 stops at 4 (zeros after). */
static void test_xlstm_segments_equal_separate_runs(void) {
    enum { B = 2, T = 7 };
    static const int32_t lengths[B] = {T, 4};
    static const uint8_t resets[B * T] = {0, 0, 0, 1, 0, 0, 0, /* */ 0, 0, 0, 0, 0, 0, 0};
    static const int64_t row[3] = {0, 0, 1}, from[3] = {0, 3, 0}, len[3] = {3, 4, 4};
    int k, p;
    for (k = 0; k < XL_NSPECS; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[B * T * 4];
        int64_t sx[3], O, i;
        xl_net n;
        seq_rnn_io io, part[3];
        seq_tensor *y, *yp[3];
        double worst = 0.0;
        if (!xl_setup(&xl_specs[k], P, &n, x, B * T * 4, 60 + (uint64_t)k)) {
            CHECK_MSG(0, "%s: setup", xl_specs[k].name);
            continue;
        }
        O = n.O;
        sx[0] = B;
        sx[1] = T;
        sx[2] = n.I;
        memset(&io, 0, sizeof io);
        io.lengths = lengths;
        io.resets = resets;
        y = xl_forward(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), &io);
        for (p = 0; p < 3; p++) {
            sx[0] = 1;
            sx[1] = len[p];
            memset(&part[p], 0, sizeof part[p]);
            yp[p] = xl_forward(ctx, &n, seq_tensor_wrap(ctx, x + (row[p] * T + from[p]) * n.I, 3, sx), &part[p]);
        }
        CHECK(y && yp[0] && yp[1] && yp[2]);
        if (y && yp[0] && yp[1] && yp[2]) {
            for (p = 0; p < 3; p++) worst = fmax(worst, xl_diff(yp[p]->data, y->data + (row[p] * T + from[p]) * O, len[p] * O));
            worst = fmax(worst, xl_diff(NULL, y->data + (T + 4) * O, (T - 4) * O)); /* padding */
            for (p = 1; p < 3; p++) /* the final states: segment [3,7) of row 0, and row 1 */
                for (i = 0; i < io.hn->numel / B; i++) {
                    float a = xl_state_at(&n, io.hn, B, row[p], i);
                    worst = fmax(worst, xl_diff(&a, part[p].hn->data + i, 1));
                    if (!io.cn) continue;
                    a = io.cn->data[row[p] * (io.cn->numel / B) + i % (io.cn->numel / B)];
                    worst = fmax(worst, xl_diff(&a, part[p].cn->data + i % (io.cn->numel / B), 1));
                }
        }
        CHECK_MSG(worst < 1e-6, "%s: batch vs separate runs %g", xl_specs[k].name, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* ---- the forms agree ------------------------------------------------------------------ */

/* y, hn, cn (the first nout values) and every gradient of one forward and backward. */
typedef struct {
    float v[1024];
    int64_t n, nout;
} xl_run;

static int xl_run_once(xl_case *c, seq_params *P, seq_ctx *ctx, xl_run *out) {
    seq_tensor *loss, *outs[3];
    int k;
    seq_ctx_reset(ctx);
    seq_params_zero_grad(P);
    loss = xl_loss(ctx, c);
    if (!loss || seq_backward(ctx, loss) != SEQ_OK) return 0;
    outs[0] = c->y;
    outs[1] = c->io.hn;
    outs[2] = c->io.cn;
    out->n = 0;
    for (k = 0; k < 3; k++) {
        if (!outs[k]) continue;
        memcpy(out->v + out->n, outs[k]->data, (size_t)outs[k]->numel * sizeof(float));
        out->n += outs[k]->numel;
    }
    out->nout = out->n;
    memcpy(out->v + out->n, P->grad, (size_t)P->numel * sizeof(float));
    out->n += P->numel;
    return out->n <= 1024;
}

/* Outputs and final states of two runs agree to 1e-5 relative, gradients to 1e-4: every
 * form shares one backward, but it starts from states each form rounded its own way, and
 * the stabilizer's terms (the routed d m against -<dC, C>) cancel in the q, k gradients,
 * so rounding there is ~1e-5 of their magnitude (a 1e-7 change of x moves them as much). */
static void xl_check_runs(const xl_run *ref, const xl_run *got, const char *what) {
    double dout = xl_diff(ref->v, got->v, ref->nout), dgrad = xl_diff(ref->v + ref->nout, got->v + ref->nout, ref->n - ref->nout);
    CHECK_MSG(got->n == ref->n && dout < 1e-5 && dgrad < 1e-4, "%s: outputs differ by %g, gradients by %g", what, dout,
              dgrad);
}

/* mLSTM: recurrent, parallel and chunkwise for several chunk sizes agree, with an initial
 * state, lengths and resets; also with gates large enough that the unstabilized states
 * would overflow f32 (exp forget gate, no cap: log f = 30 a step, i~ = 80). */
static void test_mlstm_forms_agree(void) {
    static const seq_mlstm_form forms[6] = {SEQ_MLSTM_PARALLEL, SEQ_MLSTM_CHUNKWISE, SEQ_MLSTM_CHUNKWISE,
                                            SEQ_MLSTM_CHUNKWISE, SEQ_MLSTM_CHUNKWISE, SEQ_MLSTM_CHUNKWISE};
    static const int64_t chunks[6] = {2, 1, 2, 3, 4, 64};
    static xl_run ref, got;
    int large, k;
    for (large = 0; large < 2; large++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        xl_case c;
        int64_t j;
        CHECK(xl_case_setup(&c, P, &xl_specs[4], GB, 80 + (uint64_t)large)); /* recurrent */
        if (large) {
            c.net.m.cfg.gate_soft_cap = 0.0f;
            c.net.m.cfg.exp_forget = 1;
            for (j = 0; j < c.net.m.cfg.num_heads; j++) {
                c.net.m.i_b->data[j] = 80.0f;
                c.net.m.f_b->data[j] = 30.0f;
            }
        }
        CHECK(xl_run_once(&c, P, ctx, &ref));
        for (j = 0; j < ref.n; j++) CHECK(isfinite(ref.v[j]));
        for (k = 0; k < 6; k++) {
            char what[64];
            c.net.m.cfg.form = forms[k];
            c.net.m.cfg.chunk_size = chunks[k];
            snprintf(what, sizeof what, "large %d, form %d chunk %lld", large, (int)forms[k], (long long)chunks[k]);
            CHECK(xl_run_once(&c, P, ctx, &got));
            xl_check_runs(&ref, &got, what);
        }
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* minGRU and minLSTM: the sequential and the log-space scan agree, gradients included. */
static void test_minrnn_forms_agree(void) {
    static xl_run ref, got;
    int k;
    for (k = 5; k < XL_NSPECS; k += 2) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        xl_case c;
        CHECK(xl_case_setup(&c, P, &xl_specs[k], GB, 90 + (uint64_t)k));
        CHECK(xl_run_once(&c, P, ctx, &ref));
        c.net.r.cfg.log_space = 1;
        CHECK(xl_run_once(&c, P, ctx, &got));
        xl_check_runs(&ref, &got, xl_specs[k].name);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* minGRU and minLSTM follow the paper's equations, written out here step by step. */
static void test_minrnn_equations(void) {
    enum { T = 4, I = 3, H = 4 };
    int kind;
    for (kind = 0; kind < 2; kind++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[T * I], h[H] = {0.3f, -0.2f, 0.5f, 0.1f};
        int64_t sx[3] = {1, T, I}, sh[2] = {1, H}, t, j, i;
        seq_rnn_io io;
        seq_minrnn l;
        seq_tensor *y;
        double worst = 0.0;
        xl_net n;
        if (!xl_setup(&xl_specs[kind ? 7 : 5], P, &n, x, T * I, 100 + (uint64_t)kind)) {
            CHECK(0);
            continue;
        }
        l = n.r;
        memset(&io, 0, sizeof io);
        io.h0 = seq_tensor_wrap(ctx, h, 2, sh);
        y = seq_minrnn_forward(ctx, &l, seq_tensor_wrap(ctx, x, 3, sx), &io);
        CHECK(y != NULL);
        for (t = 0; y && t < T; t++)
            for (j = 0; j < H; j++) {
                double p[3], a, b, ht;
                int g;
                for (g = 0; g < 3; g++) {
                    const seq_tensor *w = g == 0 ? l.gate_w[0] : g == 1 ? l.h_w : l.gate_w[1];
                    const seq_tensor *bb = g == 0 ? l.gate_b[0] : g == 1 ? l.h_b : l.gate_b[1];
                    p[g] = 0.0;
                    if (!w) continue;
                    p[g] = bb->data[j];
                    for (i = 0; i < I; i++) p[g] += w->data[j * I + i] * x[t * I + i];
                }
                ht = p[1] >= 0.0 ? p[1] + 0.5 : 1.0 / (1.0 + exp(-p[1]));
                if (kind == 0) {
                    double z = 1.0 / (1.0 + exp(-p[0]));
                    a = 1.0 - z;
                    b = z;
                } else {
                    double f = 1.0 / (1.0 + exp(-p[0])), ig = 1.0 / (1.0 + exp(-p[2]));
                    a = f / (f + ig);
                    b = ig / (f + ig);
                }
                h[j] = (float)(a * h[j] + b * ht);
                worst = fmax(worst, fabs(h[j] - y->data[t * H + j]));
            }
        CHECK_MSG(worst < 1e-5, "kind %d: %g", kind, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* ---- PyTorch parity (tests/gen_xlstm_fixtures.py) ----------------------------------------- */

typedef struct {
    int spec;            /* the layer, built as xl_make builds it */
    seq_mlstm_form form; /* for the mLSTM: run in this form */
    const xl_fx_param *params;
    int nparams;
    const float *x, *h0, *c0, *y, *hn, *cn, *wy, *wh, *wc, *x_grad, *h0_grad, *c0_grad;
} xl_fixture;

#define XL_FIXTURE(spec, form, tag)                                                                              \
    {spec, form, tag##_fx_params, (int)(sizeof tag##_fx_params / sizeof tag##_fx_params[0]), tag##_fx_x,          \
     tag##_fx_h0, tag##_fx_c0, tag##_fx_y, tag##_fx_hn, tag##_fx_cn, tag##_fx_wy, tag##_fx_wh, tag##_fx_wc,         \
     tag##_fx_x_grad, tag##_fx_h0_grad, tag##_fx_c0_grad}

static void xl_check_parity(const xl_fixture *fx) {
    const xl_spec *sp = &xl_specs[fx->spec];
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *loss, *ins[3];
    const float *want[3];
    double worst = 0.0;
    xl_case c;
    int k;
    CHECK((int)XL_FX_T == (int)GT && xl_case_setup(&c, P, sp, XL_FX_B, 1));
    if (c.net.kind == XL_MLSTM) c.net.m.cfg.form = fx->form;
    c.io.lengths = NULL;
    c.io.resets = NULL;
    CHECK(P->count == fx->nparams + 2 + (c.c0 != NULL)); /* the same parameter set as PyTorch */
    for (k = 0; k < fx->nparams; k++) {
        seq_tensor *w = seq_params_find(P, fx->params[k].name);
        CHECK_MSG(w && w->numel == fx->params[k].numel, "%s: missing %s", sp->name, fx->params[k].name);
        if (w) memcpy(w->data, fx->params[k].value, (size_t)w->numel * sizeof(float));
    }
    ins[0] = c.x;
    ins[1] = c.h0;
    ins[2] = c.c0;
    want[0] = fx->x;
    want[1] = fx->h0;
    want[2] = fx->c0;
    for (k = 0; k < 3; k++)
        if (ins[k]) memcpy(ins[k]->data, want[k], (size_t)ins[k]->numel * sizeof(float));
    memcpy(c.wy, fx->wy, (size_t)(XL_FX_B * XL_FX_T * c.net.O) * sizeof(float));
    memcpy(c.wh, fx->wh, (size_t)c.h0->numel * sizeof(float));
    if (c.c0) memcpy(c.wc, fx->wc, (size_t)c.c0->numel * sizeof(float));
    seq_params_zero_grad(P);
    loss = xl_loss(ctx, &c);
    CHECK(loss && seq_backward(ctx, loss) == SEQ_OK);
    if (!loss) goto done;
    worst = fmax(xl_diff(c.y->data, fx->y, c.y->numel), xl_diff(c.io.hn->data, fx->hn, c.io.hn->numel));
    if (c.io.cn) worst = fmax(worst, xl_diff(c.io.cn->data, fx->cn, c.io.cn->numel));
    CHECK_MSG(worst < 1e-5, "%s (form %d): outputs differ by %g", sp->name, (int)fx->form, worst);
    for (k = 0; k < fx->nparams; k++) {
        seq_tensor *w = seq_params_find(P, fx->params[k].name);
        double d = w ? xl_diff(w->grad, fx->params[k].grad, w->numel) : 1.0;
        CHECK_MSG(d < 1e-5, "%s (form %d): %s grad differs by %g", sp->name, (int)fx->form, fx->params[k].name, d);
    }
    want[0] = fx->x_grad;
    want[1] = fx->h0_grad;
    want[2] = fx->c0_grad;
    for (k = 0; k < 3; k++) {
        double d = ins[k] ? xl_diff(ins[k]->grad, want[k], ins[k]->numel) : 0.0;
        CHECK_MSG(d < 1e-5, "%s (form %d): %s grad differs by %g", sp->name, (int)fx->form, ins[k] ? ins[k]->name : "",
                  d);
    }
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* Outputs, final states and every gradient equal PyTorch's (float64 references): the
 * sLSTM cell, the xLSTM 7B mLSTM layer in each form, minGRU and minLSTM in each scan. */
static void test_xlstm_pytorch_parity(void) {
    static const xl_fixture fx[] = {
        XL_FIXTURE(0, SEQ_MLSTM_CHUNKWISE, slstm),  XL_FIXTURE(2, SEQ_MLSTM_CHUNKWISE, mlstm),
        XL_FIXTURE(2, SEQ_MLSTM_PARALLEL, mlstm),   XL_FIXTURE(2, SEQ_MLSTM_RECURRENT, mlstm),
        XL_FIXTURE(5, SEQ_MLSTM_CHUNKWISE, mingru), XL_FIXTURE(6, SEQ_MLSTM_CHUNKWISE, mingru),
        XL_FIXTURE(7, SEQ_MLSTM_CHUNKWISE, minlstm), XL_FIXTURE(8, SEQ_MLSTM_CHUNKWISE, minlstm)};
    size_t k;
    for (k = 0; k < sizeof fx / sizeof fx[0]; k++) xl_check_parity(&fx[k]);
}

/* ---- bad input ------------------------------------------------------------------------- */

/* forward on x (B,T,I) with io: NULL, and the ctx status is want (message naming what) */
static void xl_expect(seq_ctx *ctx, xl_net *n, seq_tensor *x, seq_rnn_io *io, seq_status want, const char *what,
                      const char *name) {
    seq_tensor *y = xl_forward(ctx, n, x, io);
    CHECK_MSG(y == NULL && seq_ctx_status(ctx) == want && (!what || strstr(seq_ctx_error(ctx), what)),
              "%s: want status %d (%s), got %d: %s", name, (int)want, what ? what : "", (int)seq_ctx_status(ctx),
              seq_ctx_error(ctx));
    seq_ctx_reset(ctx);
}

/* Every layer refuses, with a status and no crash: T = 0, a wrong width, wrong or unwanted
 * state shapes, lengths past T, NaN in x or a state, an uninitialized layer; the step API
 * NaN input, a NULL state and batch 0; and a state allocation that fails leaks nothing. */
static void test_xlstm_bad_input(void) {
    int k;
    for (k = 0; k < XL_NSPECS; k += 2) {
        const char *name = xl_specs[k].name;
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[2 * 3 * 4];
        int32_t too_long[2] = {3, 4};
        int64_t sx[3], s0[4], s1[4], bad[4];
        int n0, n1;
        seq_rnn_io io;
        seq_tensor *xt;
        xl_net n, blank;
        if (!xl_setup(&xl_specs[k], P, &n, x, 2 * 3 * 4, 7)) {
            CHECK(0);
            continue;
        }
        n0 = xl_state_shapes(&n, 2, s0, &n1, s1);
        sx[0] = 2;
        sx[1] = 0;
        sx[2] = n.I;
        xl_expect(ctx, &n, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL, SEQ_ERR_SHAPE, "x must be", name); /* T = 0 */
        sx[1] = 3;
        sx[2] = n.I + 1;
        xl_expect(ctx, &n, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL, SEQ_ERR_SHAPE, "x must be", name);
        sx[2] = n.I;
        memset(&io, 0, sizeof io);
        memcpy(bad, s0, sizeof bad);
        bad[n0 - 1]++;
        io.h0 = seq_tensor_new(ctx, SEQ_F32, n0, bad);
        xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), &io, SEQ_ERR_SHAPE, "h0 must be", name);
        memset(&io, 0, sizeof io);
        io.c0 = seq_tensor_new(ctx, SEQ_F32, n0, s0); /* the wrong shape, or none wanted */
        xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), &io, SEQ_ERR_SHAPE, "c0 must be", name);
        memset(&io, 0, sizeof io);
        io.lengths = too_long;
        xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), &io, SEQ_ERR_RANGE, "lengths[1]", name);
        memset(&io, 0, sizeof io);
        io.h0 = seq_tensor_new(ctx, SEQ_F32, n0, s0);
        io.h0->data[1] = NAN;
        xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), &io, SEQ_ERR_NUMERIC, "h0[1]", name);
        xt = seq_tensor_new(ctx, SEQ_F32, 3, sx);
        xt->data[4] = INFINITY;
        xl_expect(ctx, &n, xt, NULL, SEQ_ERR_NUMERIC, "x[4]", name);
        memset(&blank, 0, sizeof blank);
        blank.kind = n.kind;
        xl_expect(ctx, &blank, seq_tensor_wrap(ctx, x, 3, sx), NULL, SEQ_ERR_INVALID, "uninitialized", name);
        if (n.kind == XL_MLSTM) {
            n.m.cfg.chunk_size = 0;
            xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), NULL, SEQ_ERR_INVALID, "chunk size", name);
            n.m.cfg.chunk_size = 2;
            n.m.cfg.form = SEQ_MLSTM_FORM_COUNT;
            xl_expect(ctx, &n, seq_tensor_wrap(ctx, x, 3, sx), NULL, SEQ_ERR_INVALID, "form", name);
            n.m.cfg.form = SEQ_MLSTM_CHUNKWISE;
        }
        { /* the step API */
            float xs[4] = {0, 0, 0, 0}, ys[4];
            xl_state st;
            xs[1] = NAN;
            CHECK(xl_state_init(&n, &st, 0) == SEQ_ERR_INVALID);
            seq_test_fail_after(0);
            CHECK(xl_state_init(&n, &st, 1) == SEQ_ERR_NOMEM);
            seq_test_fail_never();
            CHECK(xl_state_init(&n, &st, 1) == SEQ_OK);
            CHECK(xl_step(&n, &st, xs, ys) == SEQ_ERR_NUMERIC);
            CHECK(xl_step(&n, NULL, xs, ys) == SEQ_ERR_INVALID);
            xl_state_free(&n, &st);
        }
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Configs the layers cannot build are refused by init. */
static void test_xlstm_bad_config(void) {
    long live = seq_test_live_blocks;
    seq_params *P = seq_params_init(NULL);
    seq_slstm s;
    seq_mlstm m;
    seq_minrnn r;
    seq_slstm_config sc = seq_slstm_config_default(3, 6, 4); /* 6 units do not split into 4 heads */
    seq_mlstm_config mc = seq_mlstm_config_default(4, 2);
    seq_minrnn_config rc = seq_mingru_config_default(3, 0);
    CHECK(seq_slstm_init(&s, P, "s", sc) == SEQ_ERR_INVALID && strstr(seq_last_error(), "bad config"));
    sc.num_heads = 3;
    sc.exp_forget = 2;
    CHECK(seq_slstm_init(&s, P, "s", sc) == SEQ_ERR_INVALID);
    mc.gate_soft_cap = -1.0f;
    CHECK(seq_mlstm_init(&m, P, "m", mc) == SEQ_ERR_INVALID);
    mc.gate_soft_cap = 15.0f;
    mc.eps = NAN;
    CHECK(seq_mlstm_init(&m, P, "m", mc) == SEQ_ERR_INVALID);
    mc.eps = 1e-6f;
    mc.qk_head_dim = 0;
    CHECK(seq_mlstm_init(&m, P, "m", mc) == SEQ_ERR_INVALID);
    CHECK(seq_minrnn_init(&r, P, "r", rc) == SEQ_ERR_INVALID);
    rc.hidden_size = 2;
    rc.kind = SEQ_MINRNN_KIND_COUNT;
    CHECK(seq_minrnn_init(&r, P, "r", rc) == SEQ_ERR_INVALID);
    CHECK(seq_minrnn_init(NULL, P, "r", seq_minlstm_config_default(2, 2)) == SEQ_ERR_INVALID);
    CHECK(P->count == 0);
    seq_params_free(P);
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_xlstm(void) {
    RUN(test_xlstm_gradcheck);
    RUN(test_xlstm_step_matches_forward);
    RUN(test_xlstm_segments_equal_separate_runs);
    RUN(test_mlstm_forms_agree);
    RUN(test_minrnn_forms_agree);
    RUN(test_minrnn_equations);
    RUN(test_xlstm_pytorch_parity);
    RUN(test_xlstm_bad_input);
    RUN(test_xlstm_bad_config);
}
