/* Ops (seq.h section 8): gradient checks, PyTorch parity, values and bad input. This file
 * builds a static copy of the implementation (SEQ_STATIC) so it can test the vectorizable
 * exp and row kernels of the softmax family against their scalar references. */
#include <float.h>
#include "seq_test.h"
#define SEQ_STATIC
#define SEQ_IMPLEMENTATION
#include "../seq.h"
#include "fixtures/ops_fixtures.h"

/* The pattern every gradient check follows: inputs are parameters, the loss is the mean
 * of the op's output times fixed random weights (so every output element matters). */
typedef struct { seq_tensor *a, *b, *W, *bias; float *wts; } lin_case;

static seq_tensor *lin_loss(seq_ctx *ctx, void *ud) {
    lin_case *c = (lin_case *)ud;
    seq_tensor *y = seq_linear(ctx, c->a, c->W, c->bias);
    y = seq_add(ctx, y, c->b);
    y = seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wts, y ? y->ndim : 0, y ? y->shape : NULL));
    return seq_mean(ctx, y);
}

static void test_linear_add_mul_grad(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng r;
    lin_case c;
    float wts[2 * 3 * 4];
    int64_t sx[3] = {2, 3, 5}, sw[2] = {4, 5}, sb[1] = {4};
    seq_gradcheck_result res;
    int i;
    seq_rng_seed(&r, 5);
    for (i = 0; i < 24; i++) wts[i] = (float)seq_rng_normal(&r, 0, 1);
    c.a = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
    c.W = seq_params_add(P, "W", 2, sw, seq_init_normal(0, 1));
    c.bias = seq_params_add(P, "bias", 1, sb, seq_init_normal(0, 1));
    c.b = seq_params_add(P, "row", 1, sb, seq_init_normal(0, 1));
    c.wts = wts;
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_gradcheck(ctx, P, lin_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
    CHECK_MSG(res.failed == 0 && res.checked == 30 + 20 + 8, "failed %lld worst %s[%lld] abs %g",
              (long long)res.failed, res.worst_param ? res.worst_param : "-", (long long)res.worst_index,
              res.max_abs_err);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* x (...,0): y is the bias on every row and only the bias gets gradient (the rows were
 * once counted as numel / in, a division by zero: tests/fuzz/crashes/graph/). */
static void test_linear_empty_input(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng r;
    int64_t sx[3] = {2, 3, 0}, sw[2] = {4, 0}, sb[1] = {4};
    seq_tensor *b, *y;
    int i, ok = 1;
    seq_rng_seed(&r, 3);
    b = seq_params_add(P, "b", 1, sb, seq_init_normal(0, 1));
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    y = seq_linear(ctx, seq_tensor_new(ctx, SEQ_F32, 3, sx), seq_tensor_new(ctx, SEQ_F32, 2, sw), b);
    CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 4);
    for (i = 0; y && i < 24; i++) ok &= y->data[i] == b->data[i % 4];
    CHECK(ok);
    CHECK(seq_backward(ctx, seq_sum(ctx, y)) == SEQ_OK);
    for (i = 0; i < 4; i++) CHECK(b->grad && b->grad[i] == 6.0f);
    seq_ctx_reset(ctx);
    y = seq_linear(ctx, seq_tensor_new(ctx, SEQ_F32, 3, sx), seq_tensor_new(ctx, SEQ_F32, 2, sw), NULL);
    for (i = 0, ok = 1; y && i < 24; i++) ok &= y->data[i] == 0.0f;
    CHECK(y && ok && seq_ctx_status(ctx) == SEQ_OK);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* The extension API: an op defined outside seq.h (y = x^3 * w, elementwise) records
 * its own backward and passes the same gradient check as a built-in op. */
static void cube_mul_backward(seq_ctx *ctx, seq_tensor *out, seq_tensor *const *in, void *data) {
    float *gx = seq_op_grad(ctx, in[0]), *gw = seq_op_grad(ctx, in[1]);
    int64_t i;
    (void)data;
    for (i = 0; i < out->numel; i++) {
        float x = in[0]->data[i], w = in[1]->data[i], g = out->grad[i];
        if (gx) gx[i] += 3.0f * x * x * w * g;
        if (gw) gw[i] += x * x * x * g;
    }
}
static seq_tensor *cube_mul(seq_ctx *ctx, seq_tensor *x, seq_tensor *w) {
    seq_tensor *in[2], *y;
    int64_t i;
    in[0] = x;
    in[1] = w;
    if (x && w && !seq_tensor_same_shape(x, w)) {
        seq_ctx_fail(ctx, SEQ_ERR_SHAPE, "cube_mul", "x and w differ in shape");
        return NULL;
    }
    y = seq_op_output(ctx, "cube_mul", x ? x->ndim : 0, x ? x->shape : NULL, 2, in);
    if (!y) return NULL;
    for (i = 0; i < y->numel; i++) y->data[i] = x->data[i] * x->data[i] * x->data[i] * w->data[i];
    seq_op_record(ctx, "cube_mul", y, cube_mul_backward, 2, in, NULL);
    return y;
}
static seq_tensor *cube_loss(seq_ctx *ctx, void *ud) {
    lin_case *c = (lin_case *)ud;
    return seq_mean(ctx, cube_mul(ctx, c->a, c->W));
}
static void test_extension_op(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng r;
    lin_case c;
    int64_t s[2] = {3, 4}, s2[2] = {4, 3};
    seq_gradcheck_result res;
    seq_rng_seed(&r, 9);
    memset(&c, 0, sizeof c);
    c.a = seq_params_add(P, "x", 2, s, seq_init_normal(0, 1));
    c.W = seq_params_add(P, "w", 2, s, seq_init_normal(0, 1));
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_all_finite(c.a->data, 12) && seq_all_finite(NULL, 0));
    c.a->data[7] = NAN;
    CHECK(!seq_all_finite(c.a->data, 12) && seq_all_finite(c.a->data, 7));
    c.a->data[7] = 0.5f;
    CHECK(seq_gradcheck(ctx, P, cube_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
    CHECK_MSG(res.failed == 0 && res.checked == 24, "failed %lld", (long long)res.failed);
    seq_ctx_reset(ctx);
    CHECK(cube_mul(ctx, c.a, seq_tensor_new(ctx, SEQ_F32, 2, s2)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "cube_mul") != NULL);
    CHECK(seq_op_output(ctx, "after", 2, s, 0, NULL) == NULL); /* sticky */
    CHECK(seq_set_error(SEQ_ERR_FORMAT, "ext: %d", 7) == SEQ_ERR_FORMAT);
    CHECK(strcmp(seq_last_error(), "ext: 7") == 0 && seq_last_status() == SEQ_ERR_FORMAT);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_binary_shape_errors(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t s1[3] = {2, 3, 2}, s2[1] = {2};
    seq_tensor *a = seq_tensor_new(ctx, SEQ_F32, 2, s1), *b = seq_tensor_new(ctx, SEQ_F32, 1, s2);
    CHECK(seq_add(ctx, a, b) == NULL && seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    CHECK(strstr(seq_ctx_error(ctx), "seq_add") != NULL);
    seq_ctx_reset(ctx);
    a = seq_tensor_new(ctx, SEQ_F32, 2, s1);
    b = seq_tensor_new(ctx, SEQ_F32, 2, s1 + 1); /* W (3,2) takes 2 inputs; x rows have 3 */
    CHECK(seq_linear(ctx, a, b, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_mul(ctx, NULL, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* ---- a gradient check for any op: inputs are parameters, the loss is mean(op * wts) ---- */

typedef struct op_case op_case;
struct op_case {
    seq_tensor *(*build)(seq_ctx *ctx, op_case *c); /* the op under test, from in[] and arg[] */
    seq_tensor *(*unary)(seq_ctx *ctx, seq_tensor *x);
    seq_tensor *(*binary)(seq_ctx *ctx, seq_tensor *a, seq_tensor *b);
    seq_tensor *in[6];
    int arg[4];
    float wts[256];
};

static seq_tensor *case_loss(seq_ctx *ctx, void *ud) {
    op_case *c = (op_case *)ud;
    seq_tensor *y = c->build(ctx, c);
    if (!y) return NULL;
    if (y->numel > 256) return NULL; /* the wts buffer bounds the output size */
    return seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wts, y->ndim, y->shape)));
}

/* Checks every element of P (whose tensors the caller put in c->in), then frees P. P is
 * allocated here unless the caller already did, to look at the values first. */
static void check_grad(seq_params *P, op_case *c, const char *what) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_gradcheck_result res;
    seq_status st;
    seq_rng r;
    int i;
    seq_rng_seed(&r, 11);
    for (i = 0; i < 256; i++) c->wts[i] = (float)seq_rng_normal(&r, 0, 1);
    if (!P->allocated) CHECK_MSG(seq_params_alloc(P, &r) == SEQ_OK, "%s: %s", what, seq_last_error());
    st = seq_gradcheck(ctx, P, case_loss, c, 1e-3f, 1e-3f, 1e-2f, &res);
    CHECK_MSG(st == SEQ_OK && res.failed == 0 && res.checked == P->numel,
              "%s: %s, %lld of %lld failed, worst %s[%lld] abs %g (%s)", what, seq_status_str(st),
              (long long)res.failed, (long long)res.checked, res.worst_param ? res.worst_param : "-",
              (long long)res.worst_index, res.max_abs_err, seq_ctx_error(ctx));
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* The common case: one input x of the given shape and initializer. */
static void check_grad_x(op_case *c, int ndim, const int64_t *shape, seq_init init, const char *what) {
    seq_params *P = seq_params_init(NULL);
    c->in[0] = seq_params_add(P, "x", ndim, shape, init);
    check_grad(P, c, what);
}

static seq_tensor *build_unary(seq_ctx *ctx, op_case *c) { return c->unary(ctx, c->in[0]); }
static seq_tensor *build_binary(seq_ctx *ctx, op_case *c) { return c->binary(ctx, c->in[0], c->in[1]); }

static int64_t S1[1] = {1}, S4[1] = {4}, S34[2] = {3, 4}, S234[3] = {2, 3, 4};

static void test_binary_grad(void) {
    static const char *names[4] = {"add", "sub", "mul", "div"};
    seq_tensor *(*fns[4])(seq_ctx *, seq_tensor *, seq_tensor *) = {seq_add, seq_sub, seq_mul, seq_div};
    const int64_t *bshape[4] = {S234, S34, S4, S1};
    int bdims[4] = {3, 2, 1, 1}, f, k;
    op_case c;
    for (f = 0; f < 4; f++)
        for (k = 0; k < 4; k++) {
            seq_params *P = seq_params_init(NULL);
            char what[64];
            c.build = build_binary;
            c.binary = fns[f];
            c.in[0] = seq_params_add(P, "a", 3, S234, seq_init_normal(0, 1));
            /* away from 0 so that a / b stays smooth under the finite difference */
            c.in[1] = seq_params_add(P, "b", bdims[k], bshape[k], seq_init_uniform(0.5f, 2.0f));
            snprintf(what, sizeof what, "%s with b of %d dims", names[f], bdims[k]);
            check_grad(P, &c, what);
        }
}

static void test_binary_values(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {2, -4, 8}, s[1] = {-2};
    int64_t sa[2] = {2, 3}, sb[1] = {3};
    seq_tensor *A = seq_tensor_wrap(ctx, a, 2, sa), *B = seq_tensor_wrap(ctx, b, 1, sb);
    seq_tensor *d = seq_div(ctx, A, B), *m = seq_sub(ctx, A, seq_tensor_wrap(ctx, s, 1, S1));
    int i;
    CHECK(d && m && seq_tensor_same_shape(d, A) && seq_tensor_same_shape(m, A));
    for (i = 0; d && m && i < 6; i++) {
        CHECK(d->data[i] == a[i] / b[i % 3]);
        CHECK(m->data[i] == a[i] + 2.0f);
    }
    seq_ctx_free(ctx);
}

static seq_tensor *scale_neg(seq_ctx *ctx, seq_tensor *x) { return seq_scale(ctx, x, -1.5f); }
static seq_tensor *add_scalar_3(seq_ctx *ctx, seq_tensor *x) { return seq_add_scalar(ctx, x, 3.0f); }

typedef struct unary_op {
    const char *name;
    seq_tensor *(*fn)(seq_ctx *, seq_tensor *);
    double (*ref)(double);
} unary_op;

static double ref_relu(double x) { return x > 0 ? x : 0; }
static double ref_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double ref_gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double ref_silu(double x) { return x * ref_sigmoid(x); }
static double ref_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }
static double ref_scale_neg(double x) { return -1.5 * x; }
static double ref_add_scalar_3(double x) { return x + 3; }

static const unary_op UNARY[11] = {
    {"relu", seq_relu, ref_relu},           {"gelu", seq_gelu, ref_gelu},
    {"gelu_tanh", seq_gelu_tanh, ref_gelu_tanh}, {"silu", seq_silu, ref_silu},
    {"tanh", seq_tanh, tanh},               {"sigmoid", seq_sigmoid, ref_sigmoid},
    {"softplus", seq_softplus, ref_softplus}, {"exp", seq_exp, exp},
    {"log", seq_log, log},                  {"scale", scale_neg, ref_scale_neg},
    {"add_scalar", add_scalar_3, ref_add_scalar_3},
};

static void test_unary_grad(void) {
    int64_t sx[2] = {3, 5};
    op_case c;
    int f;
    c.build = build_unary;
    for (f = 0; f < 11; f++) {
        int is_log = strcmp(UNARY[f].name, "log") == 0;
        c.unary = UNARY[f].fn;
        check_grad_x(&c, 2, sx, is_log ? seq_init_uniform(0.3f, 3.0f) : seq_init_normal(0, 2), UNARY[f].name);
    }
}

/* Forward values against the double-precision formulas, over the stable branches too. */
static void test_unary_values(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float x[12] = {-90.0f, -25.0f, -7.0f, -1.5f, -0.25f, 0.0f, 0.3f, 1.0f, 4.0f, 19.0f, 21.0f, 100.0f};
    int64_t sx[1] = {12};
    seq_tensor *X = seq_tensor_wrap(ctx, x, 1, sx);
    int f, i;
    for (f = 0; f < 11; f++) {
        seq_tensor *y = UNARY[f].fn(ctx, X);
        CHECK_MSG(y != NULL && seq_tensor_same_shape(y, X), "%s", UNARY[f].name);
        for (i = 0; y && i < 12; i++) {
            double want = UNARY[f].ref(x[i]), got = y->data[i];
            if (strcmp(UNARY[f].name, "exp") == 0 && x[i] > 88) continue; /* overflows f32: inf */
            if (strcmp(UNARY[f].name, "log") == 0 && x[i] <= 0) continue; /* checked below */
            CHECK_MSG(fabs(got - want) <= 2e-6 * (fabs(want) > 1 ? fabs(want) : 1), "%s(%g) = %.9g, want %.9g",
                      UNARY[f].name, x[i], got, want);
        }
    }
    {
        seq_tensor *l = seq_log(ctx, X), *e = seq_exp(ctx, X);
        CHECK(l && isnan(l->data[0]) && l->data[5] == -INFINITY && e && isinf(e->data[11]));
        CHECK(seq_ctx_status(ctx) == SEQ_OK); /* IEEE results, not errors */
    }
    seq_ctx_free(ctx);
}

static void check_fixture(const char *what, const float *got, const float *want, int n) {
    int i;
    for (i = 0; i < n; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1),
                  "%s[%d] = %.9g, PyTorch %.9g", what, i, got[i], want[i]);
}

/* PyTorch 1.13 outputs (tests/gen_ops_fixtures.py) on the same inputs. */
static void test_torch_parity(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sa[1] = {19}, sl[2] = {2, 6}, sn[2] = {3, 5};
    seq_tensor *x = seq_tensor_wrap(ctx, (float *)fx_act_x, 1, sa), *y, *lx, *lw, *lb;
    seq_tensor *(*fns[5])(seq_ctx *, seq_tensor *) = {seq_gelu, seq_gelu_tanh, seq_softplus, seq_silu,
                                                      seq_sigmoid};
    const float *want[5] = {fx_gelu, fx_gelu_tanh, fx_softplus, fx_silu, fx_sigmoid};
    static const char *names[5] = {"gelu", "gelu_tanh", "softplus", "silu", "sigmoid"};
    float lxd[15], lwd[5], lbd[5];
    int f;
    for (f = 0; f < 5; f++) {
        y = fns[f](ctx, x);
        CHECK(y != NULL);
        if (y) check_fixture(names[f], y->data, want[f], 19);
    }
    y = seq_log_softmax(ctx, seq_tensor_wrap(ctx, (float *)fx_ls_x, 2, sl));
    CHECK(y != NULL);
    if (y) check_fixture("log_softmax", y->data, fx_log_softmax, 12);
    /* layernorm forward, and backward of sum(y * dy) against PyTorch's gradients */
    memcpy(lxd, fx_ln_x, sizeof lxd);
    memcpy(lwd, fx_ln_w, sizeof lwd);
    memcpy(lbd, fx_ln_b, sizeof lbd);
    lx = seq_tensor_wrap(ctx, lxd, 2, sn);
    lw = seq_tensor_wrap(ctx, lwd, 1, sn + 1);
    lb = seq_tensor_wrap(ctx, lbd, 1, sn + 1);
    seq_tensor_set_requires_grad(ctx, lx);
    seq_tensor_set_requires_grad(ctx, lw);
    seq_tensor_set_requires_grad(ctx, lb);
    y = seq_layernorm(ctx, lx, lw, lb, 1e-5f);
    CHECK(y != NULL);
    if (y) check_fixture("layernorm", y->data, fx_ln_y, 15);
    y = seq_sum(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, (float *)fx_ln_dy, 2, sn)));
    CHECK(seq_backward(ctx, y) == SEQ_OK);
    check_fixture("layernorm dx", lx->grad, fx_ln_dx, 15);
    check_fixture("layernorm dw", lw->grad, fx_ln_dw, 5);
    check_fixture("layernorm db", lb->grad, fx_ln_db, 5);
    seq_ctx_free(ctx);
}

static void test_softmax(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float x[8] = {1000.0f, 999.0f, -1000.0f, 0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
    int64_t sx[2] = {2, 4}, sg[3] = {2, 2, 3};
    seq_tensor *X = seq_tensor_wrap(ctx, x, 2, sx), *p = seq_softmax(ctx, X), *lp = seq_log_softmax(ctx, X);
    int r, j, f;
    op_case c;
    CHECK(p && lp);
    for (r = 0; p && lp && r < 2; r++) {
        double s = 0;
        for (j = 0; j < 4; j++) {
            s += p->data[r * 4 + j];
            CHECK_NEAR(expf(lp->data[r * 4 + j]), p->data[r * 4 + j], 1e-6);
        }
        CHECK_NEAR(s, 1.0, 1e-6);
    }
    CHECK(p && p->data[2] == 0.0f && fabsf(p->data[0] - 1.0f / (1.0f + expf(-1.0f))) < 1e-6f);
    seq_ctx_free(ctx);
    c.build = build_unary;
    for (f = 0; f < 2; f++) {
        c.unary = f ? seq_log_softmax : seq_softmax;
        check_grad_x(&c, 3, sg, seq_init_normal(0, 2), f ? "log_softmax" : "softmax");
    }
}

/* ---- the softmax family's exp and row kernels against scalar references ---------------- */

/* |got - want| in units of the float spacing at want (the ulp of the float nearest want). */
static double ulps(double got, double want) {
    int e;
    frexp(want, &e);
    return fabs(got - want) / ldexp(1.0, e - 24);
}

/* seq__expf_vec against libm's expf and the true e^x over a dense sweep of [-87.3, 88]
 * (every 2^-12 or so, and the floats next to 0), then its edges: the clamp below (where
 * e^x is the least normal float, and 0 under it), 88 and above, infinities and NaN. */
static void test_expf_vec_ulps(void) {
    const int64_t n = 1 << 20;
    double worst_libm = 0.0, worst_true = 0.0;
    float at_libm = 0.0f, at_true = 0.0f, lo = -87.33654f;
    int64_t i;
    for (i = 0; i <= n + 2000; i++) {
        float x = i <= n ? (float)(-87.3 + (88.0 + 87.3) * (double)i / (double)n)
                         : (i - n) % 2 ? 1e-3f * (float)(i - n) / 2000.0f : -1e-3f * (float)(i - n) / 2000.0f;
        float y = seq__expf_vec(x);
        double e_libm = ulps(y, expf(x)), e_true = ulps(y, exp((double)x));
        if (e_libm > worst_libm) worst_libm = e_libm, at_libm = x;
        if (e_true > worst_true) worst_true = e_true, at_true = x;
    }
    CHECK_MSG(worst_libm <= 1.0, "%.2f ulp from expf at %.9g", worst_libm, (double)at_libm);
    CHECK_MSG(worst_true <= 1.5, "%.2f ulp from e^x at %.9g", worst_true, (double)at_true);
    CHECK(seq__expf_vec(0.0f) == 1.0f);
    CHECK(ulps(seq__expf_vec(lo), exp((double)lo)) <= 1.5 && seq__expf_vec(lo) >= FLT_MIN * 0.99f);
    CHECK(seq__expf_vec(nextafterf(lo, -INFINITY)) == 0.0f);
    CHECK(seq__expf_vec(-1000.0f) == 0.0f && seq__expf_vec(-INFINITY) == 0.0f);
    CHECK(ulps(seq__expf_vec(88.0f), exp(88.0)) <= 1.5);
    CHECK(seq__expf_vec(88.5f) == seq__expf_vec(88.0f) && seq__expf_vec(INFINITY) == seq__expf_vec(88.0f));
    CHECK(isnan(seq__expf_vec(NAN)));
}

/* seq__row_max and seq__row_sum_exp (32 running lanes, then a tail) against one plain
 * loop each, at every length around the lane width, with masked (-inf) entries; a NaN
 * at the front or the back reaches the sum. */
static void test_row_kernels_match_scalar(void) {
    enum { MAXN = 200 };
    float x[MAXN], y[MAXN];
    seq_rng r;
    int64_t n, i;
    seq_rng_seed(&r, 3);
    for (n = 1; n <= MAXN; n += n < 70 ? 1 : 13) {
        float m, want_m;
        double s, want_s = 0.0;
        int bad = 0;
        for (i = 0; i < n; i++) x[i] = i % 7 == 3 ? -INFINITY : (float)seq_rng_normal(&r, 0, 10);
        for (want_m = x[0], i = 1; i < n; i++) want_m = x[i] > want_m ? x[i] : want_m;
        m = seq__row_max(x, n);
        s = seq__row_sum_exp(x, n, m, y);
        for (i = 0; i < n; i++) {
            double e = exp((double)(x[i] - m)); /* the float difference the kernel takes */
            want_s += e;
            bad += !(ulps(y[i], e) <= 1.5 || (x[i] == -INFINITY && y[i] == 0.0f));
        }
        CHECK_MSG(m == want_m, "n %lld: max %g, want %g", (long long)n, (double)m, (double)want_m);
        CHECK_MSG(fabs(s - want_s) <= 2e-7 * want_s, "n %lld: sum %.9g, want %.9g", (long long)n, s, want_s);
        CHECK_MSG(bad == 0 && seq__row_sum_exp(x, n, m, NULL) == s, "n %lld: %d terms off", (long long)n, bad);
    }
    x[0] = NAN;
    CHECK(isnan(seq__row_max(x, MAXN)) && isnan(seq__row_sum_exp(x, MAXN, 0.0f, NULL)));
    x[0] = 1.0f;
    x[MAXN - 1] = NAN;
    CHECK(!isnan(seq__row_max(x, MAXN)) && isnan(seq__row_sum_exp(x, MAXN, seq__row_max(x, MAXN), NULL)));
}

/* Rows wider than the lanes: softmax and log_softmax against double-precision references,
 * masked (-inf) columns at probability 0 exactly, and gradient checks at C = 100 (three
 * lane blocks and a tail). */
static void test_softmax_wide_rows(void) {
    enum { R = 3, C = 1037 };
    seq_ctx *ctx = seq_ctx_init(NULL);
    static float x[R * C];
    int64_t sx[2] = {R, C}, sg[2] = {2, 100}, r, j;
    seq_tensor *X, *p, *lp;
    seq_rng rng;
    op_case c;
    int f, bad = 0;
    seq_rng_seed(&rng, 5);
    for (j = 0; j < R * C; j++) x[j] = j % 11 == 4 ? -INFINITY : (float)seq_rng_normal(&rng, 0, 4);
    X = seq_tensor_wrap(ctx, x, 2, sx);
    p = seq_softmax(ctx, X);
    lp = seq_log_softmax(ctx, X);
    CHECK(p && lp);
    for (r = 0; p && lp && r < R; r++) {
        const float *xr = x + r * C;
        double m = -INFINITY, s = 0.0;
        for (j = 0; j < C; j++) m = xr[j] > m ? xr[j] : m;
        for (j = 0; j < C; j++) s += exp(xr[j] - m);
        for (j = 0; j < C; j++) {
            double want_lp = xr[j] - m - log(s), want_p = exp(want_lp);
            bad += xr[j] == -INFINITY ? !(p->data[r * C + j] == 0.0f && lp->data[r * C + j] == -INFINITY)
                                      : !(fabs(p->data[r * C + j] - want_p) <= 1e-6 * want_p + 1e-12 &&
                                          fabs(lp->data[r * C + j] - want_lp) <= 1e-5 * (1.0 + fabs(want_lp)));
        }
    }
    CHECK_MSG(bad == 0, "%d of %d probabilities off", bad, R * C);
    seq_ctx_free(ctx);
    c.build = build_unary;
    for (f = 0; f < 2; f++) {
        c.unary = f ? seq_log_softmax : seq_softmax;
        check_grad_x(&c, 2, sg, seq_init_normal(0, 2), f ? "log_softmax, C 100" : "softmax, C 100");
    }
}

static seq_tensor *build_layernorm(seq_ctx *ctx, op_case *c) {
    return seq_layernorm(ctx, c->in[0], c->in[1], c->in[2], 1e-5f);
}
static seq_tensor *build_rmsnorm(seq_ctx *ctx, op_case *c) {
    return seq_rmsnorm(ctx, c->in[0], c->in[1], 1e-6f);
}

static void test_norm_grad(void) {
    int64_t sx[3] = {2, 2, 6}, sw[1] = {6};
    op_case c;
    int k;
    for (k = 0; k < 4; k++) {
        seq_params *P = seq_params_init(NULL);
        int rms = k >= 2, affine = k % 2;
        c.build = rms ? build_rmsnorm : build_layernorm;
        c.in[0] = seq_params_add(P, "x", 3, sx, seq_init_normal(0.5f, 2));
        c.in[1] = affine ? seq_params_add(P, "w", 1, sw, seq_init_normal(1, 0.5f)) : NULL;
        c.in[2] = affine && !rms ? seq_params_add(P, "b", 1, sw, seq_init_normal(0, 1)) : NULL;
        check_grad(P, &c, rms ? (affine ? "rmsnorm w" : "rmsnorm") : (affine ? "layernorm w b" : "layernorm"));
    }
}

static void test_rmsnorm_values(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float x[4] = {1, -2, 3, 4}, w[4] = {1, 2, 0.5f, -1};
    int64_t s[1] = {4};
    seq_tensor *y = seq_rmsnorm(ctx, seq_tensor_wrap(ctx, x, 1, s), seq_tensor_wrap(ctx, w, 1, s), 0.0f);
    double rms = sqrt((1 + 4 + 9 + 16) / 4.0);
    int j;
    CHECK(y != NULL);
    for (j = 0; y && j < 4; j++) CHECK_NEAR(y->data[j], x[j] / rms * w[j], 1e-6);
    seq_ctx_free(ctx);
}

static seq_tensor *build_matmul(seq_ctx *ctx, op_case *c) {
    return seq_matmul(ctx, c->in[0], c->in[1], c->arg[0], c->arg[1]);
}

/* Element (i,j) of op(A) op(B), A and B one batch's stored matrices, in double. */
static double ref_matmul(const float *A, const float *B, int ta, int tb, int64_t M, int64_t N, int64_t K, int64_t i,
                         int64_t j) {
    double s = 0;
    int64_t k;
    for (k = 0; k < K; k++) s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
    return s;
}

/* a batch of 2 with M=2, K=3, N=4; b batched or shared; all four transposition flags */
static void test_matmul(void) {
    const int64_t M = 2, K = 3, N = 4;
    int ta, tb, shared;
    for (shared = 0; shared < 2; shared++)
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++) {
                int64_t sa[3] = {2, ta ? K : M, ta ? M : K}, sb[3] = {2, tb ? N : K, tb ? K : N}, t, i;
                seq_params *P = seq_params_init(NULL);
                seq_ctx *ctx = seq_ctx_init(NULL);
                seq_tensor *y;
                seq_rng r;
                op_case c;
                char what[64];
                snprintf(what, sizeof what, "matmul ta %d tb %d %s b", ta, tb, shared ? "shared" : "batched");
                c.build = build_matmul;
                c.arg[0] = ta;
                c.arg[1] = tb;
                c.in[0] = seq_params_add(P, "a", 3, sa, seq_init_normal(0, 1));
                c.in[1] = seq_params_add(P, "b", shared ? 2 : 3, shared ? sb + 1 : sb, seq_init_normal(0, 1));
                seq_rng_seed(&r, 3);
                CHECK(seq_params_alloc(P, &r) == SEQ_OK);
                y = seq_matmul(ctx, c.in[0], c.in[1], ta, tb);
                CHECK_MSG(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == M && y->shape[2] == N, "%s",
                          what);
                for (t = 0; y && t < 2; t++)
                    for (i = 0; i < M * N; i++) {
                        double want = ref_matmul(c.in[0]->data + t * M * K, c.in[1]->data + (shared ? 0 : t * K * N),
                                                 ta, tb, M, N, K, i / N, i % N);
                        CHECK_MSG(fabs(y->data[t * M * N + i] - want) < 1e-5, "%s at %lld,%lld", what,
                                  (long long)t, (long long)i);
                    }
                seq_ctx_free(ctx);
                check_grad(P, &c, what);
            }
}

static seq_tensor *build_reshape(seq_ctx *ctx, op_case *c) {
    int64_t s[2] = {-1, 4};
    return seq_tanh(ctx, seq_reshape(ctx, c->in[0], 2, s)); /* tanh: the view feeds another op */
}
static seq_tensor *build_transpose(seq_ctx *ctx, op_case *c) {
    return seq_transpose(ctx, c->in[0], c->arg[0], c->arg[1]);
}
static seq_tensor *build_concat(seq_ctx *ctx, op_case *c) {
    return seq_concat(ctx, c->in, c->arg[0], c->arg[1]);
}
static seq_tensor *build_slice(seq_ctx *ctx, op_case *c) {
    return seq_slice(ctx, c->in[0], c->arg[0], c->arg[1], c->arg[2]);
}
static seq_tensor *build_sum(seq_ctx *ctx, op_case *c) {
    return seq_mul(ctx, seq_sum(ctx, c->in[0]), seq_sum(ctx, c->in[0]));
}
static seq_tensor *build_sum_dim(seq_ctx *ctx, op_case *c) {
    return (c->arg[2] ? seq_mean_dim : seq_sum_dim)(ctx, c->in[0], c->arg[0], c->arg[1]);
}

/* Values of the shape ops on a (2,3,4) tensor holding 0..23. */
static void test_shape_values(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float x[24];
    int64_t s2[2] = {6, -1}, sr[1] = {4};
    seq_tensor *X, *y, *parts[3];
    int i, j, k;
    for (i = 0; i < 24; i++) x[i] = (float)i;
    X = seq_tensor_wrap(ctx, x, 3, S234);
    y = seq_reshape(ctx, X, 2, s2);
    CHECK(y && y->ndim == 2 && y->shape[0] == 6 && y->shape[1] == 4 && y->data == x); /* a view */
    y = seq_transpose(ctx, X, 0, -1); /* (4,3,2): y[k][j][i] = x[i][j][k] */
    CHECK(y && y->shape[0] == 4 && y->shape[1] == 3 && y->shape[2] == 2);
    for (i = 0; y && i < 2; i++)
        for (j = 0; j < 3; j++)
            for (k = 0; k < 4; k++) CHECK(y->data[(k * 3 + j) * 2 + i] == x[(i * 3 + j) * 4 + k]);
    y = seq_slice(ctx, X, 1, 1, 3); /* (2,2,4) */
    CHECK(y && y->shape[1] == 2 && y->numel == 16);
    for (i = 0; y && i < 16; i++) CHECK(y->data[i] == x[(i / 8) * 12 + 4 + i % 8]);
    parts[0] = seq_slice(ctx, X, -1, 0, 1);
    parts[1] = seq_slice(ctx, X, -1, 1, 1); /* empty pieces join too */
    parts[2] = seq_slice(ctx, X, -1, 1, 4);
    y = seq_concat(ctx, parts, 3, -1);
    CHECK(y && seq_tensor_same_shape(y, X) && memcmp(y->data, x, sizeof x) == 0);
    y = seq_sum(ctx, X);
    CHECK(y && y->ndim == 0 && y->data[0] == 276.0f);
    y = seq_sum_dim(ctx, X, 1, 1); /* (2,1,4) */
    CHECK(y && y->ndim == 3 && y->shape[1] == 1 && y->data[0] == 0 + 4 + 8 && y->data[7] == 15 + 19 + 23);
    y = seq_mean_dim(ctx, X, -1, 0); /* (2,3) */
    CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 3 && y->data[5] == 21.5f);
    y = seq_sum(ctx, seq_slice(ctx, X, 0, 1, 1));
    CHECK(y && y->data[0] == 0.0f); /* an empty sum */
    y = seq_mean(ctx, seq_tensor_wrap(ctx, x, 1, sr));
    CHECK(y && y->data[0] == 1.5f);
    CHECK(seq_ctx_status(ctx) == SEQ_OK);
    seq_ctx_free(ctx);
}

static void test_shape_grad(void) {
    static const int tdims[3][2] = {{0, 2}, {-1, -2}, {1, 1}}, slice[3] = {-2, 1, 3};
    /* dim, keepdim, mean */
    static const int reduce[5][3] = {{1, 1, 0}, {-1, 0, 0}, {0, 0, 1}, {2, 1, 1}, {-2, 0, 1}};
    int64_t s214[3] = {2, 1, 4}, s224[3] = {2, 2, 4};
    float cval[8] = {1, -2, 3, -4, 5, -6, 7, -8};
    seq_tensor cst; /* a constant input that needs no gradient, outside any ctx */
    seq_params *P;
    op_case c;
    int k;
    c.build = build_reshape;
    check_grad_x(&c, 3, S234, seq_init_normal(0, 1), "reshape");
    c.build = build_transpose;
    for (k = 0; k < 3; k++) {
        memcpy(c.arg, tdims[k], sizeof tdims[k]);
        check_grad_x(&c, 3, S234, seq_init_normal(0, 1), "transpose");
    }
    c.build = build_slice;
    memcpy(c.arg, slice, sizeof slice);
    check_grad_x(&c, 3, S234, seq_init_normal(0, 1), "slice");
    c.build = build_sum;
    check_grad_x(&c, 3, S234, seq_init_normal(0, 1), "sum");
    c.build = build_sum_dim;
    for (k = 0; k < 5; k++) {
        memcpy(c.arg, reduce[k], sizeof reduce[k]);
        check_grad_x(&c, 3, S234, seq_init_normal(0, 1), reduce[k][2] ? "mean_dim" : "sum_dim");
    }
    /* six inputs, more than a tape node holds, along the middle dim */
    memset(&cst, 0, sizeof cst);
    cst.dtype = SEQ_F32;
    cst.ndim = 3;
    memcpy(cst.shape, s214, sizeof s214);
    cst.numel = 8;
    cst.data = cval;
    P = seq_params_init(NULL);
    c.build = build_concat;
    c.arg[0] = 6;
    c.arg[1] = 1;
    c.in[0] = seq_params_add(P, "x0", 3, S234, seq_init_normal(0, 1));
    c.in[1] = seq_params_add(P, "x1", 3, s214, seq_init_normal(0, 1));
    c.in[2] = &cst;
    c.in[3] = seq_params_add(P, "x3", 3, s224, seq_init_normal(0, 1));
    c.in[4] = seq_params_add(P, "x4", 3, s214, seq_init_normal(0, 1));
    c.in[5] = seq_params_add(P, "x5", 3, S234, seq_init_normal(0, 1));
    check_grad(P, &c, "concat");
}

/* A tensor shared by several ops collects the sum of their gradients. */
static seq_tensor *build_reuse(seq_ctx *ctx, op_case *c) {
    seq_tensor *x = c->in[0];
    return seq_div(ctx, seq_mul(ctx, seq_sigmoid(ctx, x), seq_matmul(ctx, x, x, 0, 1)),
                   seq_add_scalar(ctx, seq_exp(ctx, x), 1.0f));
}

static void test_reuse_grad(void) {
    int64_t s[2] = {3, 3};
    op_case c;
    c.build = build_reuse;
    check_grad_x(&c, 2, s, seq_init_normal(0, 1), "reuse");
}

/* ---- bad input: each call fails with the expected status and names its op ------------ */

static void expect_fail(seq_ctx *ctx, seq_tensor *y, seq_status want, const char *op, int line) {
    CHECK_MSG(y == NULL && seq_ctx_status(ctx) == want && strstr(seq_ctx_error(ctx), op) != NULL,
              "line %d: want %s from %s, got %s \"%s\"", line, seq_status_str(want), op,
              seq_status_str(seq_ctx_status(ctx)), seq_ctx_error(ctx));
    seq_ctx_reset(ctx);
}
/* inputs live in the ctx `mk`, so resetting `ctx` after each case keeps them */
#define EXPECT_FAIL(expr, want, op) expect_fail(ctx, (expr), (want), (op), __LINE__)

static void test_bad_inputs(void) {
    seq_ctx *ctx = seq_ctx_init(NULL), *mk = seq_ctx_init(NULL);
    int64_t s5[1] = {5}, s25[2] = {2, 5}, s05[2] = {0, 5}, s223[3] = {2, 2, 3}, s323[3] = {3, 2, 3};
    int64_t s4d[4] = {1, 2, 2, 3}, two_infer[2] = {-1, -1}, no_fit[2] = {-1, 7}, five[5] = {1, 1, 1, 2, 5};
    int64_t negative[2] = {-2, -5}, seven[1] = {7}, zero_infer[2] = {-1, 0};
    seq_tensor *v5 = seq_tensor_new(mk, SEQ_F32, 1, s5), *m25 = seq_tensor_new(mk, SEQ_F32, 2, s25);
    seq_tensor *e05 = seq_tensor_new(mk, SEQ_F32, 2, s05), *t223 = seq_tensor_new(mk, SEQ_F32, 3, s223);
    seq_tensor *t323 = seq_tensor_new(mk, SEQ_F32, 3, s323), *t4 = seq_tensor_new(mk, SEQ_F32, 4, s4d);
    seq_tensor *ix = seq_tensor_new(mk, SEQ_I32, 2, s25), *sc = seq_tensor_new(mk, SEQ_F32, 0, NULL);
    seq_tensor *pair[2], *y;
    int f;
    CHECK(seq_ctx_status(mk) == SEQ_OK);

    EXPECT_FAIL(seq_sub(ctx, m25, t223), SEQ_ERR_SHAPE, "seq_sub");
    EXPECT_FAIL(seq_div(ctx, m25, ix), SEQ_ERR_INVALID, "seq_div");
    EXPECT_FAIL(seq_div(ctx, NULL, m25), SEQ_ERR_INVALID, "seq_div");
    for (f = 0; f < 11; f++) {
        EXPECT_FAIL(UNARY[f].fn(ctx, NULL), SEQ_ERR_INVALID, UNARY[f].name);
        EXPECT_FAIL(UNARY[f].fn(ctx, ix), SEQ_ERR_INVALID, UNARY[f].name);
    }

    EXPECT_FAIL(seq_softmax(ctx, sc), SEQ_ERR_SHAPE, "seq_softmax");
    EXPECT_FAIL(seq_log_softmax(ctx, ix), SEQ_ERR_INVALID, "seq_log_softmax");
    EXPECT_FAIL(seq_layernorm(ctx, m25, m25, NULL, 1e-5f), SEQ_ERR_SHAPE, "seq_layernorm");
    EXPECT_FAIL(seq_layernorm(ctx, m25, v5, t223, 1e-5f), SEQ_ERR_SHAPE, "seq_layernorm");
    EXPECT_FAIL(seq_layernorm(ctx, m25, ix, NULL, 1e-5f), SEQ_ERR_SHAPE, "seq_layernorm");
    EXPECT_FAIL(seq_layernorm(ctx, m25, v5, v5, -1e-5f), SEQ_ERR_INVALID, "seq_layernorm");
    EXPECT_FAIL(seq_layernorm(ctx, m25, NULL, NULL, NAN), SEQ_ERR_INVALID, "seq_layernorm");
    EXPECT_FAIL(seq_layernorm(ctx, sc, NULL, NULL, 1e-5f), SEQ_ERR_SHAPE, "seq_layernorm");
    EXPECT_FAIL(seq_rmsnorm(ctx, m25, t223, 1e-5f), SEQ_ERR_SHAPE, "seq_rmsnorm");
    EXPECT_FAIL(seq_rmsnorm(ctx, m25, NULL, INFINITY), SEQ_ERR_INVALID, "seq_rmsnorm");
    EXPECT_FAIL(seq_rmsnorm(ctx, NULL, v5, 1e-5f), SEQ_ERR_INVALID, "seq_rmsnorm");

    EXPECT_FAIL(seq_matmul(ctx, v5, m25, 0, 0), SEQ_ERR_SHAPE, "seq_matmul");    /* a is 1-D */
    EXPECT_FAIL(seq_matmul(ctx, m25, m25, 0, 0), SEQ_ERR_SHAPE, "seq_matmul");   /* K 5 vs 2 */
    EXPECT_FAIL(seq_matmul(ctx, m25, m25, 1, 1), SEQ_ERR_SHAPE, "seq_matmul");   /* K 2 vs 5 */
    EXPECT_FAIL(seq_matmul(ctx, t223, t323, 0, 1), SEQ_ERR_SHAPE, "seq_matmul"); /* batch 2 vs 3 */
    EXPECT_FAIL(seq_matmul(ctx, t223, t4, 0, 1), SEQ_ERR_SHAPE, "seq_matmul");   /* 3-D vs 4-D */
    EXPECT_FAIL(seq_matmul(ctx, m25, t223, 1, 0), SEQ_ERR_SHAPE, "seq_matmul");  /* only b may be shared */
    EXPECT_FAIL(seq_matmul(ctx, m25, ix, 0, 1), SEQ_ERR_INVALID, "seq_matmul");
    y = seq_matmul(ctx, m25, m25, 0, 1);
    CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 2);
    EXPECT_FAIL(seq_matmul(ctx, t223, m25, 0, 1), SEQ_ERR_SHAPE, "seq_matmul");  /* K 3 vs 5 */
    y = seq_matmul(ctx, e05, m25, 0, 1); /* (0,5) x (5,2): empty, fine */
    CHECK(y && y->numel == 0 && seq_ctx_status(ctx) == SEQ_OK);

    EXPECT_FAIL(seq_reshape(ctx, m25, 2, two_infer), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, m25, 2, no_fit), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, m25, 5, five), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, m25, 2, negative), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, m25, 1, seven), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, m25, 1, NULL), SEQ_ERR_SHAPE, "seq_reshape");
    EXPECT_FAIL(seq_reshape(ctx, e05, 2, zero_infer), SEQ_ERR_SHAPE, "seq_reshape"); /* -1 is ambiguous */
    EXPECT_FAIL(seq_reshape(ctx, ix, 1, seven), SEQ_ERR_INVALID, "seq_reshape");
    EXPECT_FAIL(seq_transpose(ctx, m25, 0, 2), SEQ_ERR_RANGE, "seq_transpose");
    EXPECT_FAIL(seq_transpose(ctx, m25, -3, 0), SEQ_ERR_RANGE, "seq_transpose");
    EXPECT_FAIL(seq_transpose(ctx, sc, 0, 0), SEQ_ERR_RANGE, "seq_transpose");

    pair[0] = m25;
    pair[1] = t223;
    EXPECT_FAIL(seq_concat(ctx, NULL, 2, 0), SEQ_ERR_INVALID, "seq_concat");
    EXPECT_FAIL(seq_concat(ctx, pair, 0, 0), SEQ_ERR_INVALID, "seq_concat");
    EXPECT_FAIL(seq_concat(ctx, pair, 2, 0), SEQ_ERR_SHAPE, "seq_concat"); /* 2-D and 3-D */
    pair[0] = t223;
    pair[1] = t323;
    EXPECT_FAIL(seq_concat(ctx, pair, 2, 1), SEQ_ERR_SHAPE, "seq_concat"); /* dim 0 differs */
    EXPECT_FAIL(seq_concat(ctx, pair, 2, 3), SEQ_ERR_RANGE, "seq_concat");
    y = seq_concat(ctx, pair, 2, 0);
    CHECK(y && y->shape[0] == 5 && y->shape[1] == 2 && y->shape[2] == 3);
    pair[1] = NULL;
    EXPECT_FAIL(seq_concat(ctx, pair, 2, 0), SEQ_ERR_INVALID, "seq_concat");
    pair[0] = m25;
    pair[1] = ix;
    EXPECT_FAIL(seq_concat(ctx, pair, 2, 0), SEQ_ERR_INVALID, "seq_concat");

    EXPECT_FAIL(seq_slice(ctx, m25, 1, -1, 2), SEQ_ERR_RANGE, "seq_slice");
    EXPECT_FAIL(seq_slice(ctx, m25, 1, 0, 6), SEQ_ERR_RANGE, "seq_slice");
    EXPECT_FAIL(seq_slice(ctx, m25, 1, 3, 2), SEQ_ERR_RANGE, "seq_slice");
    EXPECT_FAIL(seq_slice(ctx, m25, 2, 0, 1), SEQ_ERR_RANGE, "seq_slice");
    EXPECT_FAIL(seq_slice(ctx, NULL, 0, 0, 1), SEQ_ERR_INVALID, "seq_slice");
    y = seq_slice(ctx, m25, 1, 5, 5);
    CHECK(y && y->numel == 0 && seq_ctx_status(ctx) == SEQ_OK);

    EXPECT_FAIL(seq_sum(ctx, ix), SEQ_ERR_INVALID, "seq_sum");
    EXPECT_FAIL(seq_mean(ctx, e05), SEQ_ERR_SHAPE, "seq_mean");
    EXPECT_FAIL(seq_sum_dim(ctx, m25, 2, 0), SEQ_ERR_RANGE, "seq_sum_dim");
    EXPECT_FAIL(seq_sum_dim(ctx, sc, 0, 1), SEQ_ERR_RANGE, "seq_sum_dim");
    EXPECT_FAIL(seq_mean_dim(ctx, e05, 0, 0), SEQ_ERR_SHAPE, "seq_mean_dim"); /* over 0 elements */
    EXPECT_FAIL(seq_mean_dim(ctx, NULL, 0, 0), SEQ_ERR_INVALID, "seq_mean_dim");
    y = seq_mean_dim(ctx, e05, 1, 0); /* 0 rows of 5: an empty result */
    CHECK(y && y->ndim == 1 && y->numel == 0 && seq_ctx_status(ctx) == SEQ_OK);

    /* the first failure sticks: later ops return NULL and keep its message */
    CHECK(seq_sub(ctx, m25, t223) == NULL);
    CHECK(seq_relu(ctx, m25) == NULL && seq_concat(ctx, &m25, 1, 0) == NULL && seq_sum(ctx, m25) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "seq_sub") != NULL);
    seq_ctx_free(ctx);
    seq_ctx_free(mk);
}

/* A fresh ctx whose first allocation (its arena block) fails: the op reports it. */
#define EXPECT_OOM(call)                                                                     \
    do {                                                                                     \
        seq_ctx *ctx = seq_ctx_init(NULL);                                                   \
        seq_test_fail_after(0);                                                              \
        CHECK_MSG((call) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NOMEM, "%s", #call);      \
        seq_test_fail_never();                                                               \
        seq_ctx_free(ctx);                                                                   \
    } while (0)

static void test_out_of_memory(void) {
    long live = seq_test_live_blocks;
    seq_ctx *mk = seq_ctx_init(NULL);
    int64_t s[2] = {2, 3}, flat[1] = {6};
    seq_tensor *x = seq_tensor_new(mk, SEQ_F32, 2, s), *pair[2];
    pair[0] = pair[1] = x;
    EXPECT_OOM(seq_sub(ctx, x, x));
    EXPECT_OOM(seq_relu(ctx, x));
    EXPECT_OOM(seq_softmax(ctx, x));
    EXPECT_OOM(seq_layernorm(ctx, x, NULL, NULL, 1e-5f));
    EXPECT_OOM(seq_matmul(ctx, x, x, 0, 1));
    EXPECT_OOM(seq_reshape(ctx, x, 1, flat));
    EXPECT_OOM(seq_transpose(ctx, x, 0, 1));
    EXPECT_OOM(seq_concat(ctx, pair, 2, 1));
    EXPECT_OOM(seq_slice(ctx, x, 1, 0, 2));
    EXPECT_OOM(seq_sum(ctx, x));
    EXPECT_OOM(seq_mean_dim(ctx, x, 0, 1));
    seq_ctx_free(mk);
    CHECK(seq_test_live_blocks == live);
}

/* With recording off (or no input needing a gradient) outputs need none either. */
static void test_no_grad(void) {
    int64_t s[2] = {2, 3};
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x = seq_params_add(P, "x", 2, s, seq_init_normal(0, 1)), *y, *xs[2];
    seq_rng r;
    seq_rng_seed(&r, 1);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    xs[0] = xs[1] = x;
    y = seq_concat(ctx, xs, 2, 0);
    CHECK(y && y->requires_grad);
    seq_ctx_set_grad(ctx, 0);
    y = seq_concat(ctx, xs, 2, 0);
    CHECK(y && !y->requires_grad);
    y = seq_layernorm(ctx, x, NULL, NULL, 1e-5f);
    CHECK(y && !y->requires_grad);
    seq_ctx_set_grad(ctx, 1);
    y = seq_gelu(ctx, seq_tensor_new(ctx, SEQ_F32, 2, s));
    CHECK(y && !y->requires_grad);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

void seq_tests_ops(void) {
    RUN(test_linear_add_mul_grad);
    RUN(test_linear_empty_input);
    RUN(test_extension_op);
    RUN(test_binary_shape_errors);
    RUN(test_binary_grad);
    RUN(test_binary_values);
    RUN(test_unary_grad);
    RUN(test_unary_values);
    RUN(test_torch_parity);
    RUN(test_softmax);
    RUN(test_expf_vec_ulps);
    RUN(test_row_kernels_match_scalar);
    RUN(test_softmax_wide_rows);
    RUN(test_norm_grad);
    RUN(test_rmsnorm_values);
    RUN(test_matmul);
    RUN(test_shape_values);
    RUN(test_shape_grad);
    RUN(test_reuse_grad);
    RUN(test_bad_inputs);
    RUN(test_out_of_memory);
    RUN(test_no_grad);
}
