/* Losses (seq.h section 9): values and gradients against PyTorch 1.13 fixtures, finite-
 * difference gradient checks for every loss, the identities the comp-sum family and the
 * sampled softmax must satisfy, and bad-input tables. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/losses_fixtures.h"

#define NELEM(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* A float tensor holding a copy of src; with grad, its gradient is wanted. */
static seq_tensor *tensor_of(seq_ctx *ctx, const float *src, int ndim, const int64_t *shape, int grad) {
    seq_tensor *t = seq_tensor_new(ctx, SEQ_F32, ndim, shape);
    if (!t) return NULL;
    memcpy(t->data, src, (size_t)t->numel * sizeof(float));
    if (grad) seq_tensor_set_requires_grad(ctx, t);
    return t;
}

static seq_tensor *ids_of(seq_ctx *ctx, const int32_t *src, int ndim, const int64_t *shape) {
    seq_tensor *t = seq_tensor_new(ctx, SEQ_I32, ndim, shape);
    if (!t) return NULL;
    memcpy(t->idata, src, (size_t)t->numel * sizeof(int32_t));
    return t;
}

/* Every element of got within tol of want (CHECK_NEAR's scale); reports the worst one. */
#define CHECK_ALL_NEAR(got, want, n, tol) check_all_near(got, want, n, tol, #got, __LINE__)
static void check_all_near(const float *got, const float *want, int64_t n, double tol, const char *what, int line) {
    int64_t i, worst = -1;
    double worst_err = 0.0;
    if (!got) {
        CHECK_MSG(got != NULL, "%s missing (line %d)", what, line);
        return;
    }
    for (i = 0; i < n; i++) {
        double a = got[i], b = want[i], m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
        double err = fabs(a - b) / (m > 1.0 ? m : 1.0);
        if (!(err <= worst_err)) {
            worst_err = err;
            worst = i;
        }
    }
    CHECK_MSG(worst < 0 || worst_err <= tol, "%s[%lld] = %.9g vs %.9g (line %d)", what, (long long)worst,
              worst >= 0 ? (double)got[worst] : 0.0, worst >= 0 ? (double)want[worst] : 0.0, line);
}

/* The loss is a scalar near want; then backward from it must succeed. */
static void check_loss(seq_ctx *ctx, seq_tensor *loss, float want) {
    CHECK_MSG(loss != NULL && seq_ctx_status(ctx) == SEQ_OK, "%s", seq_ctx_error(ctx));
    if (!loss) return;
    CHECK(loss->ndim == 0 && loss->numel == 1);
    CHECK_NEAR(loss->data[0], want, 1e-5);
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
}

/* --- every loss behind one builder (fixtures and gradient checks share it) ---------- */

typedef enum { L_CE, L_BCE, L_MSE, L_HUBER, L_BPR, L_SAMPLED, L_ZLOSS, L_COMPSUM, L_ZNORM } loss_kind;

/* One loss over parameters x (and y); ids are rebuilt on every (reset) evaluation. */
typedef struct {
    loss_kind kind;
    seq_tensor *x, *y;
    const int32_t *ids, *ids2;
    int ids_ndim;
    int64_t ids_shape[2], ids2_n;
    const float *log_q;
    float p0, p1;
} loss_case;

static seq_tensor *case_loss(seq_ctx *ctx, void *ud) {
    loss_case *c = (loss_case *)ud;
    seq_tensor *ids = c->ids ? ids_of(ctx, c->ids, c->ids_ndim, c->ids_shape) : NULL;
    switch (c->kind) {
    case L_CE: return seq_cross_entropy_ex(ctx, c->x, ids, -1, c->p0);
    case L_BCE: return seq_bce_with_logits(ctx, c->x, c->y);
    case L_MSE: return seq_mse(ctx, c->x, c->y);
    case L_HUBER: return seq_huber(ctx, c->x, c->y, c->p0);
    case L_BPR: return seq_bpr(ctx, c->x, c->y);
    case L_SAMPLED:
        return seq_sampled_softmax(ctx, c->x, c->y, ids, ids_of(ctx, c->ids2, 1, &c->ids2_n), c->log_q);
    case L_ZLOSS: return seq_z_loss(ctx, c->x, c->p0);
    case L_COMPSUM: return seq_comp_sum_loss(ctx, c->x, ids, c->p0);
    case L_ZNORM: return seq_z_normalized_loss(ctx, c->x, ids, c->p0, c->p1);
    }
    return NULL;
}

/* --- PyTorch parity ------------------------------------------------------------------ */

static void test_cross_entropy_vs_torch(void) {
    static const int64_t sx[3] = {2, 3, 5}, st[2] = {2, 3};
    const int32_t *tg[3] = {ce_targets, ce_targets, ce_targets3};
    const int32_t ignore[3] = {-100, -100, 3};
    const float eps[3] = {0.0f, 0.25f, 0.1f};
    const float *want_loss[3] = {ce_plain_loss, ce_smooth_loss, ce_ign3_loss};
    const float *want_grad[3] = {ce_plain_grad, ce_smooth_grad, ce_ign3_grad};
    seq_ctx *ctx = seq_ctx_init(NULL);
    int c;
    for (c = 0; c < 3; c++) {
        seq_tensor *x, *t, *loss;
        seq_ctx_reset(ctx);
        x = tensor_of(ctx, ce_logits, 3, sx, 1);
        t = ids_of(ctx, tg[c], 2, st);
        loss = eps[c] == 0.0f ? seq_cross_entropy(ctx, x, t, ignore[c])
                              : seq_cross_entropy_ex(ctx, x, t, ignore[c], eps[c]);
        check_loss(ctx, loss, want_loss[c][0]);
        CHECK_ALL_NEAR(x->grad, want_grad[c], 30, 1e-5);
    }
    seq_ctx_free(ctx);
}

/* A PyTorch case of the elementwise losses: inputs a, b, the loss and both gradients. */
typedef struct {
    loss_kind kind;
    const float *a, *b, *loss, *ga, *gb;
    int na, nb;
    const int64_t *sa, *sb;
    float p0;
} pair_fixture;

static void test_pair_losses_vs_torch(void) {
    static const int64_t s34[2] = {3, 4}, s4[1] = {4}, s43[2] = {4, 3};
    static const pair_fixture fx[4] = {
        {L_BCE, bce_logits, bce_targets, bce_loss, bce_grad_logits, bce_grad_targets, 2, 2, s34, s34, 0.0f},
        {L_MSE, reg_pred, reg_target, mse_loss, mse_grad_pred, mse_grad_target, 2, 2, s34, s34, 0.0f},
        {L_HUBER, reg_pred, reg_target, huber_loss, huber_grad_pred, huber_grad_target, 2, 2, s34, s34, 0.7f},
        {L_BPR, bpr_pos, bpr_neg, bpr_loss, bpr_grad_pos, bpr_grad_neg, 1, 2, s4, s43, 0.0f}};
    seq_ctx *ctx = seq_ctx_init(NULL);
    loss_case c;
    int i;
    memset(&c, 0, sizeof c);
    for (i = 0; i < 4; i++) {
        seq_ctx_reset(ctx);
        c.kind = fx[i].kind;
        c.p0 = fx[i].p0;
        c.x = tensor_of(ctx, fx[i].a, fx[i].na, fx[i].sa, 1);
        c.y = tensor_of(ctx, fx[i].b, fx[i].nb, fx[i].sb, 1);
        check_loss(ctx, case_loss(ctx, &c), fx[i].loss[0]);
        CHECK_ALL_NEAR(c.x->grad, fx[i].ga, c.x->numel, 1e-5);
        CHECK_ALL_NEAR(c.y->grad, fx[i].gb, c.y->numel, 1e-5);
    }
    seq_ctx_free(ctx);
}

static void test_row_losses_vs_torch(void) {
    static const int64_t sx[3] = {2, 3, 5}, s65[2] = {6, 5}, s6[1] = {6};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = tensor_of(ctx, ce_logits, 3, sx, 1), *t;
    int c;
    check_loss(ctx, seq_z_loss(ctx, x, 0.1f), zl_loss[0]);
    CHECK_ALL_NEAR(x->grad, zl_grad, 30, 1e-5);
    for (c = 0; c < NELEM(cs_taus); c++) {
        seq_ctx_reset(ctx);
        x = tensor_of(ctx, cs_logits, 2, s65, 1);
        t = ids_of(ctx, cs_targets, 1, s6);
        check_loss(ctx, seq_comp_sum_loss(ctx, x, t, cs_taus[c]), cs_loss[c]);
        CHECK_ALL_NEAR(x->grad, cs_grad + 30 * c, 30, 1e-5);
    }
    for (c = 0; c < NELEM(zn_loss); c++) {
        seq_ctx_reset(ctx);
        x = tensor_of(ctx, cs_logits, 2, s65, 1);
        t = ids_of(ctx, cs_targets, 1, s6);
        check_loss(ctx, seq_z_normalized_loss(ctx, x, t, zn_params[2 * c], zn_params[2 * c + 1]), zn_loss[c]);
        CHECK_ALL_NEAR(x->grad, zn_grad + 30 * c, 30, 1e-5);
    }
    seq_ctx_free(ctx);
}

static void test_sampled_softmax_vs_torch(void) {
    static const int64_t sh[2] = {4, 3}, sW[2] = {7, 3}, st[1] = {4}, sn[1] = {5};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *h = tensor_of(ctx, ss_h, 2, sh, 1), *W = tensor_of(ctx, ss_W, 2, sW, 1);
    seq_tensor *t = ids_of(ctx, ss_targets, 1, st), *neg = ids_of(ctx, ss_negatives, 1, sn);
    check_loss(ctx, seq_sampled_softmax(ctx, h, W, t, neg, ss_logq), ss_loss[0]);
    CHECK_ALL_NEAR(h->grad, ss_grad_h, 12, 1e-5);
    CHECK_ALL_NEAR(W->grad, ss_grad_W, 21, 1e-5);
    CHECK(W->grad && W->grad[3 * 3] == 0.0f && W->grad[4 * 3 + 2] == 0.0f); /* rows 3, 4 unused */
    seq_ctx_free(ctx);
}

/* --- identities ---------------------------------------------------------------------- */

/* PyTorch gives NaN when nothing counts; seq gives 0 and leaves the logits untouched. */
static void test_cross_entropy_all_ignored(void) {
    static const int64_t sx[3] = {2, 3, 5}, st[2] = {2, 3};
    static const int32_t none[6] = {-1, -1, -1, -1, -1, -1};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = tensor_of(ctx, ce_logits, 3, sx, 1);
    seq_tensor *loss = seq_cross_entropy_ex(ctx, x, ids_of(ctx, none, 2, st), -1, 0.3f);
    int64_t i, nonzero = 0;
    check_loss(ctx, loss, 0.0f);
    for (i = 0; i < 30; i++) nonzero += x->grad[i] != 0.0f;
    CHECK(nonzero == 0);
    seq_ctx_free(ctx);
}

/* tau = 1 is cross entropy bit for bit; tau = 2 is 1 - p_y; tau = 0 is u = 1/p_y - 1.
 * (Two ctxs: one backward per tape, or the second would run the first loss again.) */
static void test_comp_sum_identities(void) {
    static const int64_t s65[2] = {6, 5}, s6[1] = {6};
    seq_ctx *ctx = seq_ctx_init(NULL), *ctx2 = seq_ctx_init(NULL);
    seq_tensor *x = tensor_of(ctx, cs_logits, 2, s65, 1), *x2 = tensor_of(ctx2, cs_logits, 2, s65, 1);
    seq_tensor *t = ids_of(ctx, cs_targets, 1, s6);
    seq_tensor *ce = seq_cross_entropy(ctx, x, t, -100), *cs = seq_comp_sum_loss(ctx2, x2, t, 1.0f);
    double mae = 0.0, sumexp = 0.0;
    int64_t r, k, differ = 0;
    CHECK(ce && cs && ce->data[0] == cs->data[0]);
    CHECK(seq_backward(ctx, ce) == SEQ_OK && seq_backward(ctx2, cs) == SEQ_OK);
    for (k = 0; k < 30; k++) differ += x->grad[k] != x2->grad[k];
    CHECK(differ == 0);
    seq_ctx_set_grad(ctx, 0);
    for (r = 0; r < 6; r++) {
        double z = 0.0, py;
        for (k = 0; k < 5; k++) z += exp(cs_logits[r * 5 + k]);
        py = exp(cs_logits[r * 5 + cs_targets[r]]) / z;
        mae += (1.0 - py) / 6.0;
        sumexp += (1.0 / py - 1.0) / 6.0;
    }
    cs = seq_comp_sum_loss(ctx, x, t, 2.0f);
    CHECK(cs && fabs(cs->data[0] - mae) < 1e-6);
    cs = seq_comp_sum_loss(ctx, x, t, 0.0f);
    CHECK(cs && fabs(cs->data[0] - sumexp) < 1e-6 * sumexp);
    seq_ctx_free(ctx);
    seq_ctx_free(ctx2);
}

/* With every item as a negative and no correction, the target's masked duplicate leaves
 * exactly the full softmax: the loss and both gradients match cross entropy on h W^T. */
static void test_sampled_softmax_is_full_softmax(void) {
    enum { N = 5, D = 4, V = 6 };
    static const int64_t sh[2] = {N, D}, sW[2] = {V, D}, sn[1] = {V}, st[1] = {N};
    static const int32_t tg[N] = {3, 0, 5, 3, 1}, all[V] = {0, 1, 2, 3, 4, 5};
    float hv[N * D], Wv[V * D];
    seq_ctx *ctx = seq_ctx_init(NULL), *ctx2 = seq_ctx_init(NULL);
    seq_tensor *h, *W, *h2, *W2, *a, *b;
    seq_rng r;
    int i;
    seq_rng_seed(&r, 11);
    for (i = 0; i < N * D; i++) hv[i] = (float)seq_rng_normal(&r, 0, 1);
    for (i = 0; i < V * D; i++) Wv[i] = (float)seq_rng_normal(&r, 0, 1);
    h = tensor_of(ctx, hv, 2, sh, 1);
    W = tensor_of(ctx, Wv, 2, sW, 1);
    h2 = tensor_of(ctx2, hv, 2, sh, 1);
    W2 = tensor_of(ctx2, Wv, 2, sW, 1);
    a = seq_sampled_softmax(ctx, h, W, ids_of(ctx, tg, 1, st), ids_of(ctx, all, 1, sn), NULL);
    b = seq_cross_entropy(ctx2, seq_linear(ctx2, h2, W2, NULL), ids_of(ctx2, tg, 1, st), -100);
    CHECK_MSG(a && b, "%s %s", seq_ctx_error(ctx), seq_ctx_error(ctx2));
    if (a && b) {
        CHECK_NEAR(a->data[0], b->data[0], 1e-6);
        CHECK(seq_backward(ctx, a) == SEQ_OK && seq_backward(ctx2, b) == SEQ_OK);
        CHECK_ALL_NEAR(h->grad, h2->grad, N * D, 1e-6);
        CHECK_ALL_NEAR(W->grad, W2->grad, V * D, 1e-6);
    }
    seq_ctx_free(ctx);
    seq_ctx_free(ctx2);
}

/* logits (V) with a 0-d target: the (...) of the shape comments may be empty. */
static void test_cross_entropy_single_row(void) {
    static const int64_t sv[1] = {5};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = tensor_of(ctx, cs_logits, 1, sv, 0);
    seq_tensor *loss = seq_cross_entropy(ctx, x, ids_of(ctx, cs_targets, 0, NULL), -100);
    double z = 0.0;
    int k;
    for (k = 0; k < 5; k++) z += exp(cs_logits[k]);
    CHECK_MSG(loss != NULL, "%s", seq_ctx_error(ctx));
    CHECK(loss && fabs(loss->data[0] - (log(z) - cs_logits[cs_targets[0]])) < 1e-6);
    seq_ctx_free(ctx);
}

/* Rows as wide as a recommender's vocabulary slice (V = 1037: lane blocks and a tail),
 * with masked (-inf) columns and one ignored row: the loss against a double-precision
 * reference, the gradient against (softmax - onehot) / rows counted, and exactly 0 on
 * the masked columns. */
static void test_cross_entropy_wide_rows(void) {
    enum { R = 4, V = 1037 };
    static float x[R * V], want[R * V];
    static const int32_t tg[R] = {5, -100, 1036, 0};
    static const int64_t sx[2] = {R, V}, st[1] = {R};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *X, *loss;
    double want_loss = 0.0;
    int64_t r, k, masked_bad = 0;
    seq_rng rng;
    seq_rng_seed(&rng, 9);
    for (k = 0; k < R * V; k++) x[k] = k % V % 13 == 7 ? -INFINITY : (float)seq_rng_normal(&rng, 0, 5);
    memset(want, 0, sizeof want);
    for (r = 0; r < R; r++) {
        const float *xr = x + r * V;
        double m = -INFINITY, s = 0.0, lse;
        if (tg[r] < 0) continue;
        for (k = 0; k < V; k++) m = xr[k] > m ? xr[k] : m;
        for (k = 0; k < V; k++) s += exp(xr[k] - m);
        lse = m + log(s);
        want_loss += (lse - xr[tg[r]]) / 3.0;
        for (k = 0; k < V; k++) want[r * V + k] = (float)((exp(xr[k] - lse) - (k == tg[r])) / 3.0);
    }
    X = tensor_of(ctx, x, 2, sx, 1);
    loss = seq_cross_entropy(ctx, X, ids_of(ctx, tg, 1, st), -100);
    check_loss(ctx, loss, (float)want_loss);
    CHECK_ALL_NEAR(X->grad, want, R * V, 1e-6);
    for (k = 0; X->grad && k < R * V; k++) masked_bad += x[k] == -INFINITY && X->grad[k] != 0.0f;
    CHECK(masked_bad == 0);
    seq_ctx_free(ctx);
}

/* Without recording, a loss is a plain value: no gradient wanted, nothing on the tape. */
static void test_losses_without_grad(void) {
    static const int64_t sx[3] = {2, 3, 5}, st[2] = {2, 3};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = tensor_of(ctx, ce_logits, 3, sx, 1), *loss;
    seq_ctx_set_grad(ctx, 0);
    loss = seq_cross_entropy(ctx, x, ids_of(ctx, ce_targets, 2, st), -100);
    CHECK(loss && !loss->requires_grad);
    CHECK(loss && fabs(loss->data[0] - ce_plain_loss[0]) < 1e-5);
    CHECK(loss && seq_backward(ctx, loss) == SEQ_ERR_STATE);
    seq_ctx_free(ctx);
}

/* --- gradient checks ----------------------------------------------------------------- */

/* Adds x (and y, when ny > 0) to a fresh P, fills them from the rng, gradchecks c. */
static void gradcheck_case(loss_case *c, int nx, const int64_t *sx, int ny, const int64_t *sy, seq_init yinit,
                           const char *what) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_gradcheck_result res;
    seq_rng r;
    seq_status s;
    seq_rng_seed(&r, 7);
    c->x = seq_params_add(P, "x", nx, sx, seq_init_normal(0, 1));
    c->y = ny ? seq_params_add(P, "y", ny, sy, yinit) : NULL;
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    s = seq_gradcheck(ctx, P, case_loss, c, 1e-3f, 1e-3f, 1e-2f, &res);
    CHECK_MSG(s == SEQ_OK && res.failed == 0 && res.checked == P->numel,
              "%s: status %d, %lld of %lld failed, worst %s[%lld] abs %g (%s)", what, (int)s, (long long)res.failed,
              (long long)res.checked, res.worst_param ? res.worst_param : "-", (long long)res.worst_index,
              res.max_abs_err, seq_ctx_error(ctx));
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_gradcheck_class_losses(void) {
    static const int64_t sx[3] = {2, 3, 5}, s65[2] = {6, 5}, s270[2] = {2, 70};
    static const int32_t tg[6] = {4, -1, 0, 2, 2, 1}, wide_targets[2] = {69, 31};
    static const struct {
        loss_kind kind;
        float p0;
        const char *what;
    } wide[3] = {{L_CE, 0.1f, "cross entropy, smoothing 0.1, V 70"}, {L_COMPSUM, 0.5f, "comp-sum tau 0.5, V 70"},
                 {L_ZLOSS, 0.5f, "z-loss, V 70"}};
    static const float taus[5] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f};
    loss_case c;
    int i;
    memset(&c, 0, sizeof c);
    c.ids = tg;
    c.ids_ndim = 2;
    c.ids_shape[0] = 2;
    c.ids_shape[1] = 3;
    c.kind = L_CE;
    c.p0 = 0.2f;
    gradcheck_case(&c, 3, sx, 0, NULL, seq_init_zeros(), "cross entropy, smoothing 0.2, one ignored");
    c.kind = L_ZLOSS;
    c.p0 = 0.5f;
    gradcheck_case(&c, 3, sx, 0, NULL, seq_init_zeros(), "z-loss");
    c.ids = cs_targets;
    c.ids_ndim = 1;
    c.ids_shape[0] = 6;
    c.kind = L_COMPSUM;
    for (i = 0; i < 5; i++) {
        char what[32];
        snprintf(what, sizeof what, "comp-sum tau %g", (double)taus[i]);
        c.p0 = taus[i];
        gradcheck_case(&c, 2, s65, 0, NULL, seq_init_zeros(), what);
    }
    c.kind = L_ZNORM;
    c.p0 = 0.5f;
    c.p1 = 2.0f;
    gradcheck_case(&c, 2, s65, 0, NULL, seq_init_zeros(), "spherical z-loss");
    /* rows of 70 run the log-sum-exp through its lane blocks, not only its tail */
    c.ids = wide_targets;
    c.ids_shape[0] = 2;
    for (i = 0; i < 3; i++) {
        c.kind = wide[i].kind;
        c.p0 = wide[i].p0;
        gradcheck_case(&c, 2, s270, 0, NULL, seq_init_zeros(), wide[i].what);
    }
}

static void test_gradcheck_pair_losses(void) {
    static const int64_t s34[2] = {3, 4}, s4[1] = {4}, s43[2] = {4, 3};
    loss_case c;
    memset(&c, 0, sizeof c);
    c.kind = L_BCE;
    gradcheck_case(&c, 2, s34, 2, s34, seq_init_uniform(0.05f, 0.95f), "bce with logits");
    c.kind = L_MSE;
    gradcheck_case(&c, 2, s34, 2, s34, seq_init_normal(0, 1), "mse");
    c.kind = L_BPR;
    gradcheck_case(&c, 1, s4, 2, s43, seq_init_normal(0, 1), "bpr (N) against (N,k)");
    gradcheck_case(&c, 1, s4, 1, s4, seq_init_normal(0, 1), "bpr (N) against (N)");
}

/* Huber's two pieces, each difference well away from the kink at |d| = delta. */
static seq_tensor *huber_loss_fixed(seq_ctx *ctx, void *ud) {
    static const int64_t s6[1] = {6};
    return seq_huber(ctx, (seq_tensor *)ud, seq_tensor_new(ctx, SEQ_F32, 1, s6), 0.5f); /* target 0 */
}

static void test_gradcheck_huber(void) {
    static const float d[6] = {-1.5f, -0.3f, 0.05f, 0.2f, 0.8f, 2.0f};
    static const int64_t s6[1] = {6};
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = seq_params_add(P, "pred", 1, s6, seq_init_zeros());
    seq_gradcheck_result res;
    CHECK(seq_params_alloc(P, NULL) == SEQ_OK);
    memcpy(x->data, d, sizeof d);
    CHECK(seq_gradcheck(ctx, P, huber_loss_fixed, x, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
    CHECK(res.checked == 6 && res.failed == 0);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_gradcheck_sampled_softmax(void) {
    static const int64_t sh[2] = {4, 3}, sW[2] = {7, 3};
    loss_case c;
    memset(&c, 0, sizeof c);
    c.kind = L_SAMPLED;
    c.ids = ss_targets;
    c.ids_ndim = 1;
    c.ids_shape[0] = 4;
    c.ids2 = ss_negatives;
    c.ids2_n = NELEM(ss_negatives);
    c.log_q = ss_logq;
    gradcheck_case(&c, 2, sh, 2, sW, seq_init_normal(0, 1), "sampled softmax with log_q and hits");
}

/* --- bad input ----------------------------------------------------------------------- */

/* Builds the failing call on a fresh step and checks its status and message. */
#define EXPECT_FAIL(ctx, call, status, needle)                                                \
    do {                                                                                  \
        seq_tensor *got_ = (call);                                                        \
        CHECK_MSG(got_ == NULL && seq_ctx_status(ctx) == (status) &&                      \
                      strstr(seq_ctx_error(ctx), (needle)) != NULL,                       \
                  "%s -> status %d, error '%s'", #call, (int)seq_ctx_status(ctx), seq_ctx_error(ctx)); \
        seq_ctx_reset(ctx);                                                               \
    } while (0)

static void test_class_losses_bad_input(void) {
    static const int64_t sx[2] = {3, 4}, s3[1] = {3}, s2[1] = {2}, s31[2] = {3, 1}, s0[2] = {3, 0};
    static const int32_t ok[3] = {0, 3, 1}, high[3] = {0, 1, 4}, neg[3] = {2, -5, 0};
    static const float xv[12] = {0};
    seq_ctx *ctx = seq_ctx_init(NULL);
#define X tensor_of(ctx, xv, 2, sx, 0)
#define T(v) ids_of(ctx, v, 1, s3)
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, T(high), -100), SEQ_ERR_RANGE, "targets[2] = 4");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, T(neg), -100), SEQ_ERR_RANGE, "targets[1] = -5");
    EXPECT_FAIL(ctx, seq_comp_sum_loss(ctx, X, T(high), 1.0f), SEQ_ERR_RANGE, "seq_comp_sum_loss");
    EXPECT_FAIL(ctx, seq_z_normalized_loss(ctx, X, T(neg), 1, 0), SEQ_ERR_RANGE, "targets[1]");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, ids_of(ctx, ok, 1, s2), -100), SEQ_ERR_SHAPE, "seq_cross_entropy");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, ids_of(ctx, ok, 2, s31), -100), SEQ_ERR_SHAPE, "targets");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, tensor_of(ctx, xv, 2, s0, 0), T(ok), -100), SEQ_ERR_SHAPE, "V >= 1");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, tensor_of(ctx, xv, 1, s3, 0), -100), SEQ_ERR_SHAPE, "i32");
    EXPECT_FAIL(ctx, seq_z_loss(ctx, ids_of(ctx, ok, 1, s3), 1.0f), SEQ_ERR_SHAPE, "seq_z_loss");
    EXPECT_FAIL(ctx, seq_cross_entropy(ctx, X, NULL, -100), SEQ_ERR_INVALID, "input 1 is NULL");
    EXPECT_FAIL(ctx, seq_z_loss(ctx, NULL, 1.0f), SEQ_ERR_INVALID, "input 0 is NULL");
    EXPECT_FAIL(ctx, seq_cross_entropy_ex(ctx, X, T(ok), -100, 1.5f), SEQ_ERR_INVALID, "label_smoothing");
    EXPECT_FAIL(ctx, seq_cross_entropy_ex(ctx, X, T(ok), -100, NAN), SEQ_ERR_INVALID, "label_smoothing");
    EXPECT_FAIL(ctx, seq_comp_sum_loss(ctx, X, T(ok), -0.5f), SEQ_ERR_INVALID, "tau");
    EXPECT_FAIL(ctx, seq_z_loss(ctx, X, INFINITY), SEQ_ERR_INVALID, "coeff");
    EXPECT_FAIL(ctx, seq_z_normalized_loss(ctx, X, T(ok), 0.0f, 1.0f), SEQ_ERR_INVALID, "a = 0");
    EXPECT_FAIL(ctx, seq_z_normalized_loss(ctx, X, T(ok), 1.0f, NAN), SEQ_ERR_INVALID, "b = nan");
#undef X
#undef T
    /* the first failure sticks: a valid loss after it returns NULL too */
    CHECK(seq_bpr(ctx, NULL, NULL) == NULL);
    CHECK(seq_cross_entropy(ctx, tensor_of(ctx, xv, 2, sx, 0), ids_of(ctx, ok, 1, s3), -100) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

static void test_pair_losses_bad_input(void) {
    static const int64_t s4[1] = {4}, s3[1] = {3}, s43[2] = {4, 3}, s34[2] = {3, 4}, s0[1] = {0}, s40[2] = {4, 0};
    static const float v[12] = {0};
    static const int32_t iv[4] = {0};
    seq_ctx *ctx = seq_ctx_init(NULL);
#define F(n, s) tensor_of(ctx, v, n, s, 0)
    EXPECT_FAIL(ctx, seq_bce_with_logits(ctx, F(1, s4), F(1, s3)), SEQ_ERR_SHAPE, "seq_bce_with_logits");
    EXPECT_FAIL(ctx, seq_mse(ctx, F(2, s43), F(2, s34)), SEQ_ERR_SHAPE, "same shape");
    EXPECT_FAIL(ctx, seq_huber(ctx, F(1, s4), F(2, s43), 1.0f), SEQ_ERR_SHAPE, "seq_huber");
    EXPECT_FAIL(ctx, seq_mse(ctx, F(1, s0), F(1, s0)), SEQ_ERR_SHAPE, "non-empty");
    EXPECT_FAIL(ctx, seq_bpr(ctx, F(1, s3), F(2, s43)), SEQ_ERR_SHAPE, "(N,k)");
    EXPECT_FAIL(ctx, seq_bpr(ctx, F(2, s43), F(1, s4)), SEQ_ERR_SHAPE, "seq_bpr");
    EXPECT_FAIL(ctx, seq_bpr(ctx, F(1, s4), F(2, s40)), SEQ_ERR_SHAPE, "seq_bpr");
    EXPECT_FAIL(ctx, seq_mse(ctx, F(1, s4), ids_of(ctx, iv, 1, s4)), SEQ_ERR_SHAPE, "float");
    EXPECT_FAIL(ctx, seq_mse(ctx, F(1, s4), NULL), SEQ_ERR_INVALID, "input 1 is NULL");
    EXPECT_FAIL(ctx, seq_huber(ctx, F(1, s4), F(1, s4), 0.0f), SEQ_ERR_INVALID, "delta");
    EXPECT_FAIL(ctx, seq_huber(ctx, F(1, s4), F(1, s4), NAN), SEQ_ERR_INVALID, "delta");
#undef F
    seq_ctx_free(ctx);
}

static void test_sampled_softmax_bad_input(void) {
    static const int64_t sh[2] = {2, 3}, sW[2] = {5, 3}, sW4[2] = {5, 4}, s2[1] = {2}, s3[1] = {3}, s0[1] = {0};
    static const float v[20] = {0};
    static const int32_t ok[3] = {1, 2, 4}, high[3] = {1, 5, 0}, neg[3] = {0, 1, -1};
    seq_ctx *ctx = seq_ctx_init(NULL);
#define H tensor_of(ctx, v, 2, sh, 0)
#define W tensor_of(ctx, v, 2, sW, 0)
#define I(a, n, s) ids_of(ctx, a, n, s)
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, W, I(high, 1, s2), I(ok, 1, s3), NULL), SEQ_ERR_RANGE,
                "targets[1] = 5");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, W, I(ok, 1, s2), I(neg, 1, s3), NULL), SEQ_ERR_RANGE,
                "negatives[2] = -1");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, tensor_of(ctx, v, 2, sW4, 0), I(ok, 1, s2), I(ok, 1, s3), NULL),
                SEQ_ERR_SHAPE, "(V,D)");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, W, I(ok, 1, s3), I(ok, 1, s3), NULL), SEQ_ERR_SHAPE, "targets (N)");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, W, I(ok, 1, s2), I(ok, 1, s0), NULL), SEQ_ERR_SHAPE, "S >= 1");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, W, tensor_of(ctx, v, 1, s2, 0), I(ok, 1, s3), NULL), SEQ_ERR_SHAPE,
                "i32");
    EXPECT_FAIL(ctx, seq_sampled_softmax(ctx, H, NULL, I(ok, 1, s2), I(ok, 1, s3), NULL), SEQ_ERR_INVALID,
                "input 1 is NULL");
#undef H
#undef W
#undef I
    seq_ctx_free(ctx);
}

/* A NaN anywhere in an input makes the loss NaN; nothing crashes on the way back. */
static void test_nan_propagates(void) {
    static const int64_t sx[2] = {2, 3}, s2[1] = {2}, s23[2] = {2, 3}, sW[2] = {3, 3}, s1[1] = {1};
    static const int32_t tg[2] = {1, 2}, negs[1] = {0};
    float xv[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -0.5f};
    float ok[9] = {0.2f, 0.4f, 0.6f, 0.8f, 0.1f, 0.3f, 0.5f, 0.7f, 0.9f};
    seq_tensor *loss[11];
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x, *y, *t;
    int i;
    xv[4] = NAN;
    x = tensor_of(ctx, xv, 2, sx, 1);
    y = tensor_of(ctx, ok, 2, sx, 1);
    t = ids_of(ctx, tg, 1, s2);
    loss[0] = seq_cross_entropy(ctx, x, t, -100);
    loss[1] = seq_cross_entropy_ex(ctx, x, t, -100, 0.1f);
    loss[2] = seq_z_loss(ctx, x, 1.0f);
    loss[3] = seq_comp_sum_loss(ctx, x, t, 0.5f);
    loss[4] = seq_z_normalized_loss(ctx, x, t, 1.0f, 0.0f);
    loss[5] = seq_bce_with_logits(ctx, x, y);
    loss[6] = seq_mse(ctx, y, x);
    loss[7] = seq_huber(ctx, x, y, 1.0f);
    loss[8] = seq_bpr(ctx, tensor_of(ctx, ok, 1, s2, 1), tensor_of(ctx, xv, 2, s23, 1));
    loss[9] = seq_sampled_softmax(ctx, tensor_of(ctx, xv, 2, s23, 1), tensor_of(ctx, ok, 2, sW, 1), t,
                                  ids_of(ctx, negs, 1, s1), NULL);
    loss[10] = seq_cross_entropy(ctx, tensor_of(ctx, ok, 2, sx, 1), t, -100); /* finite control */
    for (i = 0; i < 11; i++) {
        CHECK_MSG(loss[i] != NULL, "loss %d: %s", i, seq_ctx_error(ctx));
        if (!loss[i]) continue;
        CHECK_MSG(i < 10 ? isnan(loss[i]->data[0]) : isfinite(loss[i]->data[0]), "loss %d = %g", i,
                  (double)loss[i]->data[0]);
        CHECK(seq_backward(ctx, loss[i]) == SEQ_OK);
    }
    seq_ctx_free(ctx);
}

void seq_tests_losses(void) {
    RUN(test_cross_entropy_vs_torch);
    RUN(test_pair_losses_vs_torch);
    RUN(test_row_losses_vs_torch);
    RUN(test_sampled_softmax_vs_torch);
    RUN(test_cross_entropy_all_ignored);
    RUN(test_comp_sum_identities);
    RUN(test_sampled_softmax_is_full_softmax);
    RUN(test_cross_entropy_single_row);
    RUN(test_cross_entropy_wide_rows);
    RUN(test_losses_without_grad);
    RUN(test_gradcheck_class_losses);
    RUN(test_gradcheck_pair_losses);
    RUN(test_gradcheck_huber);
    RUN(test_gradcheck_sampled_softmax);
    RUN(test_class_losses_bad_input);
    RUN(test_pair_losses_bad_input);
    RUN(test_sampled_softmax_bad_input);
    RUN(test_nan_propagates);
}
