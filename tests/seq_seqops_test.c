/* Section 8b: embedding, dropout, depthwise causal conv1d, attention. Gradient checks
 * follow tests/seq_ops_test.c: inputs are parameters and the loss is mean(y * wts) for
 * fixed random wts, so every output element matters. PyTorch parity comes from
 * tests/fixtures/seqops_fixtures.h (made by tests/gen_seqops_fixtures.py). */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/seqops_fixtures.h"

/* --- helpers ------------------------------------------------------------------------- */

/* mean(y * wts), wts holding y->numel fixed weights */
static seq_tensor *weighted_mean(seq_ctx *ctx, seq_tensor *y, float *wts) {
    if (!y) return NULL;
    return seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wts, y->ndim, y->shape)));
}

static void fill_normal(float *a, int64_t n, uint64_t seed) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) a[i] = (float)seq_rng_normal(&r, 0.0, 1.0);
}

/* A ctx tensor holding a copy of src; with grad, an input whose gradient is wanted. */
static seq_tensor *tensor_from(seq_ctx *ctx, int ndim, const int64_t *shape, const float *src, int grad) {
    seq_tensor *t = seq_tensor_new(ctx, SEQ_F32, ndim, shape);
    if (!t) return NULL;
    memcpy(t->data, src, (size_t)t->numel * sizeof(float));
    if (grad) seq_tensor_set_requires_grad(ctx, t);
    return t;
}

/* A ctx tensor of N(0,1) draws from seed; with grad, an input whose gradient is wanted. */
static seq_tensor *random_tensor(seq_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, int grad) {
    seq_tensor *t = seq_tensor_new(ctx, SEQ_F32, ndim, shape);
    if (!t) return NULL;
    fill_normal(t->data, t->numel, seed);
    if (grad) seq_tensor_set_requires_grad(ctx, t);
    return t;
}

/* Every |got[i] - want[i]| <= rtol |want[i]| + 1e-7 (the floor covers exact zeros);
 * reports the first miss. */
static void check_all_near(const char *what, const float *got, const float *want, int64_t n, double rtol) {
    int64_t i, bad = -1;
    for (i = 0; i < n && bad < 0; i++)
        if (!(fabs((double)got[i] - want[i]) <= rtol * fabs((double)want[i]) + 1e-7)) bad = i;
    CHECK_MSG(bad < 0, "%s[%lld] = %.9g, want %.9g", what, (long long)bad, bad < 0 ? 0.0 : got[bad],
              bad < 0 ? 0.0 : want[bad]);
}

/* Allocates and initializes P (registered, not yet allocated), then checks fn's gradient
 * with respect to every element of P against central differences on a fresh ctx. */
static void check_gradcheck(seq_params *P, seq_loss_fn fn, void *ud, int64_t expect_checked) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_gradcheck_result res;
    seq_status st;
    seq_rng r;
    seq_rng_seed(&r, (uint64_t)expect_checked);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    st = seq_gradcheck(ctx, P, fn, ud, 1e-3f, 1e-3f, 1e-2f, &res);
    CHECK_MSG(st == SEQ_OK && res.failed == 0 && res.checked == expect_checked,
              "status %d checked %lld failed %lld worst %s[%lld] abs %g (%s)", (int)st, (long long)res.checked,
              (long long)res.failed, res.worst_param ? res.worst_param : "-", (long long)res.worst_index,
              res.max_abs_err, seq_ctx_error(ctx));
    seq_ctx_free(ctx);
}

static int all_zero(const float *a, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (a[i] != 0.0f) return 0;
    return 1;
}

/* --- embedding ----------------------------------------------------------------------- */

static void test_embedding_forward(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float W[5 * 3];
    int32_t ids[6] = {4, 0, 4, 2, 2, 1}, one = 3;
    int64_t sw[2] = {5, 3}, si[2] = {2, 3}, p, c;
    seq_tensor *y, *ys;
    for (p = 0; p < 15; p++) W[p] = (float)(10 * (p / 3) + p % 3); /* W[r,c] = 10 r + c */
    y = seq_embedding(ctx, seq_tensor_wrap(ctx, W, 2, sw), seq_tensor_wrap_i32(ctx, ids, 2, si));
    CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 3);
    CHECK(y && !y->requires_grad);
    for (p = 0; y && p < 6; p++)
        for (c = 0; c < 3; c++) CHECK(y->data[p * 3 + c] == (float)(10 * ids[p] + c));
    /* a single id (0-dim ids) gives one row (C) */
    ys = seq_embedding(ctx, seq_tensor_wrap(ctx, W, 2, sw), seq_tensor_wrap_i32(ctx, &one, 0, NULL));
    CHECK(ys && ys->ndim == 1 && ys->shape[0] == 3 && ys->data[0] == 30.0f && ys->data[2] == 32.0f);
    CHECK(seq_ctx_status(ctx) == SEQ_OK);
    seq_ctx_free(ctx);
}

typedef struct {
    seq_tensor *W;
    int32_t *ids;
    int64_t ids_shape[2];
    int32_t pad; /* padding_idx, or INT32_MIN for plain seq_embedding */
    float *wts;
} emb_case;

static seq_tensor *emb_loss(seq_ctx *ctx, void *ud) {
    emb_case *c = (emb_case *)ud;
    seq_tensor *ids = seq_tensor_wrap_i32(ctx, c->ids, 2, c->ids_shape);
    seq_tensor *y = c->pad == INT32_MIN ? seq_embedding(ctx, c->W, ids) : seq_embedding_pad(ctx, c->W, ids, c->pad);
    return weighted_mean(ctx, y, c->wts);
}

/* Rows 3 and 5 of the (6,3) table are never looked up; row 1 is looked up three times. */
static void emb_setup(emb_case *c, seq_params **P, int32_t *ids, float *wts) {
    static const int32_t used[8] = {1, 0, 4, 1, 2, 2, 1, 0};
    int64_t sw[2] = {6, 3};
    memcpy(ids, used, sizeof used);
    fill_normal(wts, 24, 12);
    *P = seq_params_init(NULL);
    c->W = seq_params_add(*P, "W", 2, sw, seq_init_normal(0, 1));
    c->ids = ids;
    c->ids_shape[0] = 2;
    c->ids_shape[1] = 4;
    c->pad = INT32_MIN;
    c->wts = wts;
}

/* The gradient of W after one backward of c's loss, into out (18 floats). */
static void emb_grad(seq_ctx *ctx, seq_params *P, emb_case *c, float *out) {
    seq_params_zero_grad(P);
    seq_ctx_reset(ctx);
    CHECK(seq_backward(ctx, emb_loss(ctx, c)) == SEQ_OK);
    memcpy(out, c->W->grad, 18 * sizeof(float));
}

static void test_embedding_grad(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_params *P;
    emb_case c;
    int32_t ids[8];
    float wts[24], g[18];
    int c3;
    emb_setup(&c, &P, ids, wts);
    check_gradcheck(P, emb_loss, &c, 18);
    emb_grad(ctx, P, &c, g);
    CHECK(all_zero(g + 3 * 3, 3) && all_zero(g + 5 * 3, 3)); /* never looked up */
    for (c3 = 0; c3 < 3; c3++) {
        /* row 1 sits at positions 0, 3 and 6: its gradient is the sum of theirs / 24 */
        float want = (wts[0 + c3] + wts[9 + c3] + wts[18 + c3]) / 24.0f;
        CHECK_NEAR(g[3 + c3], want, 1e-6);
    }
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_embedding_padding_idx(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_params *P;
    emb_case c;
    int32_t ids[8];
    float wts[24], plain[18], padded[18];
    seq_tensor *y;
    seq_rng r;
    seq_rng_seed(&r, 11);
    emb_setup(&c, &P, ids, wts);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    emb_grad(ctx, P, &c, plain);
    c.pad = 2;
    emb_grad(ctx, P, &c, padded);
    CHECK(!all_zero(plain + 2 * 3, 3) && all_zero(padded + 2 * 3, 3));
    CHECK(memcmp(plain, padded, 6 * sizeof(float)) == 0 && memcmp(plain + 9, padded + 9, 9 * sizeof(float)) == 0);
    /* the padding row is still looked up as it is (positions 4 and 5 hold id 2) */
    seq_ctx_reset(ctx);
    y = seq_embedding_pad(ctx, c.W, seq_tensor_wrap_i32(ctx, ids, 2, c.ids_shape), 2);
    CHECK(y && memcmp(y->data + 4 * 3, c.W->data + 2 * 3, 3 * sizeof(float)) == 0);
    /* negative padding_idx counts from the end: -2 is row 4 (position 2) */
    c.pad = -2;
    emb_grad(ctx, P, &c, padded);
    CHECK(!all_zero(plain + 4 * 3, 3) && all_zero(padded + 4 * 3, 3) && !all_zero(padded + 2 * 3, 3));
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_embedding_errors(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float W[10] = {0}, fids[6] = {0};
    int32_t ids[6] = {0, 1, 2, 3, 4, 7}, neg[2] = {-1, 0};
    int64_t sw[2] = {5, 2}, si[2] = {2, 3}, s4[4] = {1, 1, 1, 2};
    seq_tensor *Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding(ctx, Wt, seq_tensor_wrap_i32(ctx, ids, 2, si)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    CHECK_MSG(strstr(seq_ctx_error(ctx), "seq_embedding") && strstr(seq_ctx_error(ctx), "ids[1,2] = 7"), "%s",
              seq_ctx_error(ctx));
    /* the first error sticks: later ops return NULL without touching it */
    CHECK(seq_embedding(ctx, Wt, seq_tensor_wrap_i32(ctx, neg, 1, si)) == NULL);
    CHECK(strstr(seq_ctx_error(ctx), "ids[1,2] = 7") != NULL);
    seq_ctx_reset(ctx);
    Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding(ctx, Wt, seq_tensor_wrap_i32(ctx, neg, 1, si)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "ids[0] = -1") != NULL);
    seq_ctx_reset(ctx);
    Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding(ctx, Wt, seq_tensor_wrap(ctx, fids, 2, si)) == NULL); /* float ids */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "ids (2,3) f32") != NULL);
    seq_ctx_reset(ctx);
    CHECK(seq_embedding(ctx, seq_tensor_wrap(ctx, W, 1, sw), seq_tensor_wrap_i32(ctx, ids, 1, si)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE); /* W must be 2-D */
    seq_ctx_reset(ctx);
    Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding(ctx, Wt, seq_tensor_wrap_i32(ctx, ids, 4, s4)) == NULL); /* output would be 5-D */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding_pad(ctx, Wt, seq_tensor_wrap_i32(ctx, ids, 1, si), 5) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "padding_idx 5") != NULL);
    seq_ctx_reset(ctx);
    Wt = seq_tensor_wrap(ctx, W, 2, sw);
    CHECK(seq_embedding_pad(ctx, Wt, seq_tensor_wrap_i32(ctx, ids, 1, si), -6) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_reset(ctx);
    CHECK(seq_embedding(ctx, NULL, seq_tensor_wrap_i32(ctx, ids, 1, si)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* --- dropout ------------------------------------------------------------------------- */

static void test_dropout_forward(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    static float ones[4096];
    int64_t s[2] = {64, 64}, i, kept = 0, same = 1, differ = 0;
    seq_rng r1, r2, r3;
    seq_tensor *x, *a, *b, *c;
    for (i = 0; i < 4096; i++) ones[i] = 1.0f;
    x = seq_tensor_wrap(ctx, ones, 2, s);
    seq_rng_seed(&r1, 99);
    seq_rng_seed(&r2, 99);
    seq_rng_seed(&r3, 100);
    a = seq_dropout(ctx, x, 0.25f, &r1);
    b = seq_dropout(ctx, x, 0.25f, &r2);
    c = seq_dropout(ctx, x, 0.25f, &r3);
    CHECK(a && b && c && seq_tensor_same_shape(a, x));
    for (i = 0; a && b && c && i < 4096; i++) {
        CHECK(a->data[i] == 0.0f || a->data[i] == 1.0f / 0.75f); /* kept elements scaled by 1/(1-p) */
        kept += a->data[i] != 0.0f;
        same &= a->data[i] == b->data[i];
        differ += a->data[i] != c->data[i];
    }
    /* binomial(4096, 0.75): the standard deviation of the kept fraction is 0.0068 */
    CHECK_MSG(fabs((double)kept / 4096.0 - 0.75) < 0.03, "kept %lld of 4096", (long long)kept);
    CHECK(same);       /* same seed, same mask */
    CHECK(differ > 0); /* another seed, another mask */
    seq_ctx_free(ctx);
}

static void test_dropout_identity(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float d[6] = {1, -2, 3, -4, 5, -6};
    int64_t s[2] = {2, 3};
    seq_rng r;
    seq_tensor *x = tensor_from(ctx, 2, s, d, 1), *y;
    seq_rng_seed(&r, 1);
    CHECK(seq_dropout(ctx, x, 0.0f, &r) == x);  /* p == 0 */
    CHECK(seq_dropout(ctx, x, 0.5f, NULL) == x); /* no rng: inference */
    CHECK(seq_backward(ctx, seq_mean(ctx, seq_dropout(ctx, x, 0.5f, NULL))) == SEQ_OK);
    CHECK(x->grad && x->grad[0] == 1.0f / 6.0f && x->grad[5] == 1.0f / 6.0f);
    /* with recording off the op still drops, and records nothing */
    seq_ctx_set_grad(ctx, 0);
    y = seq_dropout(ctx, x, 0.5f, &r);
    CHECK(y && y != x && !y->requires_grad);
    seq_ctx_free(ctx);
}

typedef struct {
    seq_tensor *x;
    float p, *wts;
} drop_case;

/* dropout(x) + x: a residual path, so the backward must add to x's gradient, not set it */
static seq_tensor *drop_loss(seq_ctx *ctx, void *ud) {
    drop_case *c = (drop_case *)ud;
    seq_rng r;
    seq_rng_seed(&r, 2024); /* the same mask on every evaluation */
    return weighted_mean(ctx, seq_add(ctx, seq_dropout(ctx, c->x, c->p, &r), c->x), c->wts);
}

static void test_dropout_grad(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_params *P = seq_params_init(NULL);
    drop_case c;
    float wts[15];
    int64_t s[2] = {3, 5}, i, dropped = 0;
    seq_tensor *y;
    seq_rng r;
    seq_rng_seed(&r, 3); /* draws the mask of the exact check */
    fill_normal(wts, 15, 4);
    c.x = seq_params_add(P, "x", 2, s, seq_init_normal(0, 1));
    c.p = 0.4f;
    c.wts = wts;
    check_gradcheck(P, drop_loss, &c, 15);
    /* the gradient is exactly the mask times 1/(1-p), times d loss / d y */
    seq_params_zero_grad(P);
    seq_ctx_reset(ctx);
    y = seq_dropout(ctx, c.x, c.p, &r);
    CHECK(seq_backward(ctx, weighted_mean(ctx, y, wts)) == SEQ_OK);
    if (seq_ctx_status(ctx) != SEQ_OK) y = NULL;
    for (i = 0; y && i < 15; i++) {
        int kept = y->data[i] != 0.0f;
        dropped += !kept;
        CHECK_NEAR(c.x->grad[i], kept ? wts[i] / 15.0f / 0.6f : 0.0f, 1e-6);
    }
    CHECK(dropped > 0 && dropped < 15);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_dropout_errors(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    float d[4] = {0};
    int32_t id[4] = {0};
    int64_t s[1] = {4};
    const float bad[3] = {-0.1f, 1.0f, NAN};
    seq_rng r;
    int i;
    seq_rng_seed(&r, 1);
    for (i = 0; i < 3; i++) {
        seq_ctx_reset(ctx);
        /* checked even for inference (rng NULL): a bad p is a bug either way */
        CHECK(seq_dropout(ctx, seq_tensor_wrap(ctx, d, 1, s), bad[i], i ? &r : NULL) == NULL);
        CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID && strstr(seq_ctx_error(ctx), "seq_dropout: p =") != NULL);
    }
    seq_ctx_reset(ctx);
    CHECK(seq_dropout(ctx, seq_tensor_wrap_i32(ctx, id, 1, s), 0.5f, &r) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_dropout(ctx, NULL, 0.5f, &r) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* --- depthwise causal conv1d --------------------------------------------------------- */

static void test_conv1d_vs_pytorch(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sx[3] = {SEQOPS_CONV_B, SEQOPS_CONV_T, SEQOPS_CONV_C}, sw[2] = {SEQOPS_CONV_C, SEQOPS_CONV_K};
    seq_tensor *x = tensor_from(ctx, 3, sx, seqops_conv_x, 1), *w = tensor_from(ctx, 2, sw, seqops_conv_w, 1);
    seq_tensor *b = tensor_from(ctx, 1, sw, seqops_conv_b, 1), *G = tensor_from(ctx, 3, sx, seqops_conv_G, 0);
    seq_tensor *y = seq_conv1d_causal(ctx, x, w, b);
    CHECK(seq_backward(ctx, seq_mean(ctx, seq_mul(ctx, y, G))) == SEQ_OK);
    if (seq_ctx_status(ctx) != SEQ_OK) {
        seq_ctx_free(ctx);
        return;
    }
    check_all_near("y", y->data, seqops_conv_y, y->numel, 1e-5);
    check_all_near("gx", x->grad, seqops_conv_gx, x->numel, 1e-5);
    check_all_near("gw", w->grad, seqops_conv_gw, w->numel, 1e-5);
    check_all_near("gb", b->grad, seqops_conv_gb, b->numel, 1e-5);
    seq_ctx_free(ctx);
}

typedef struct {
    seq_tensor *x, *w, *b;
    float *wts;
} conv_case;

static seq_tensor *conv_loss(seq_ctx *ctx, void *ud) {
    conv_case *c = (conv_case *)ud;
    return weighted_mean(ctx, seq_conv1d_causal(ctx, c->x, c->w, c->b), c->wts);
}

/* x (B,T,C), w (C,K), with or without bias */
static void conv_gradcheck(int64_t B, int64_t T, int64_t C, int64_t K, int bias) {
    seq_params *P = seq_params_init(NULL);
    conv_case c;
    float wts[64];
    int64_t sx[3], sw[2];
    sx[0] = B;
    sx[1] = T;
    sx[2] = C;
    sw[0] = C;
    sw[1] = K;
    fill_normal(wts, 64, 5);
    c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
    c.w = seq_params_add(P, "w", 2, sw, seq_init_normal(0, 1));
    c.b = bias ? seq_params_add(P, "b", 1, sx + 2, seq_init_normal(0, 1)) : NULL;
    c.wts = wts;
    check_gradcheck(P, conv_loss, &c, B * T * C + C * K + (bias ? C : 0));
    seq_params_free(P);
}

static void test_conv1d_grad(void) {
    conv_gradcheck(2, 4, 2, 3, 1);
    conv_gradcheck(1, 2, 3, 4, 0); /* K > T: most taps read the zero padding */
}

static void test_conv1d_errors(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sx[3] = {2, 4, 3}, sw[2] = {3, 2}, sw_bad[2] = {2, 2}, sk0[2] = {3, 0}, sb[1] = {2};
    seq_tensor *x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    CHECK(seq_conv1d_causal(ctx, x, seq_tensor_new(ctx, SEQ_F32, 2, sw_bad), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    CHECK_MSG(strstr(seq_ctx_error(ctx), "seq_conv1d_causal") && strstr(seq_ctx_error(ctx), "w (2,2) f32, b NULL"),
              "%s", seq_ctx_error(ctx));
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    CHECK(seq_conv1d_causal(ctx, x, seq_tensor_new(ctx, SEQ_F32, 2, sw), seq_tensor_new(ctx, SEQ_F32, 1, sb)) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE); /* bias of 2 for 3 channels */
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    CHECK(seq_conv1d_causal(ctx, x, seq_tensor_new(ctx, SEQ_F32, 2, sk0), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE); /* K = 0 */
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 2, sx + 1); /* (T,C) without the batch */
    CHECK(seq_conv1d_causal(ctx, x, seq_tensor_new(ctx, SEQ_F32, 2, sw), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_I32, 3, sx);
    CHECK(seq_conv1d_causal(ctx, x, seq_tensor_new(ctx, SEQ_F32, 2, sw), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_conv1d_causal(ctx, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* --- attention ----------------------------------------------------------------------- */

typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
    int causal;
    float scale;
    const float *q, *k, *v, *G, *y, *gq, *gk, *gv;
    const int32_t *lengths;
    const uint8_t *padding;
} att_fixture;

static void check_attention_fixture(const att_fixture *f) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sq[4], sk[4], sv[4];
    seq_attention_mask m = seq_attention_mask_none();
    seq_tensor *q, *k, *v, *G, *y;
    sq[0] = sk[0] = sv[0] = f->B;
    sq[1] = sk[1] = sv[1] = f->H;
    sq[2] = f->Tq;
    sk[2] = sv[2] = f->Tk;
    sq[3] = sk[3] = f->D;
    sv[3] = f->Dv;
    m.causal = f->causal;
    m.key_lengths = f->lengths;
    m.key_padding = f->padding;
    m.scale = f->scale;
    q = tensor_from(ctx, 4, sq, f->q, 1);
    k = tensor_from(ctx, 4, sk, f->k, 1);
    v = tensor_from(ctx, 4, sv, f->v, 1);
    y = seq_attention(ctx, q, k, v, &m);
    G = tensor_from(ctx, 4, y ? y->shape : sq, f->G, 0);
    CHECK(seq_backward(ctx, seq_mean(ctx, seq_mul(ctx, y, G))) == SEQ_OK);
    if (seq_ctx_status(ctx) != SEQ_OK) {
        seq_ctx_free(ctx);
        return;
    }
    check_all_near("y", y->data, f->y, y->numel, 1e-5);
    check_all_near("gq", q->grad, f->gq, q->numel, 1e-5);
    check_all_near("gk", k->grad, f->gk, k->numel, 1e-5);
    check_all_near("gv", v->grad, f->gv, v->numel, 1e-5);
    seq_ctx_free(ctx);
}

/* Fills an att_fixture from the SEQOPS_<CASE>_* macros and seqops_<case>_* arrays. */
#define ATT_FIXTURE(f, CASE, cs)                                                                       \
    do {                                                                                               \
        (f).B = SEQOPS_##CASE##_B;                                                                     \
        (f).H = SEQOPS_##CASE##_H;                                                                     \
        (f).Tq = SEQOPS_##CASE##_TQ;                                                                   \
        (f).Tk = SEQOPS_##CASE##_TK;                                                                   \
        (f).D = SEQOPS_##CASE##_D;                                                                     \
        (f).Dv = SEQOPS_##CASE##_DV;                                                                   \
        (f).causal = SEQOPS_##CASE##_CAUSAL;                                                           \
        (f).scale = SEQOPS_##CASE##_SCALE;                                                             \
        (f).q = seqops_##cs##_q;                                                                       \
        (f).k = seqops_##cs##_k;                                                                       \
        (f).v = seqops_##cs##_v;                                                                       \
        (f).G = seqops_##cs##_G;                                                                       \
        (f).y = seqops_##cs##_y;                                                                       \
        (f).gq = seqops_##cs##_gq;                                                                     \
        (f).gk = seqops_##cs##_gk;                                                                     \
        (f).gv = seqops_##cs##_gv;                                                                     \
        (f).lengths = seqops_##cs##_lengths;                                                           \
        (f).padding = seqops_##cs##_padding;                                                           \
    } while (0)

static void test_attention_vs_pytorch(void) {
    att_fixture f;
    ATT_FIXTURE(f, ATT1, att1); /* square, causal + key padding + lengths, scale 1/sqrt(D) */
    check_attention_fixture(&f);
    ATT_FIXTURE(f, ATT2, att2); /* Tq < Tk: causal aligned at the end, scale 0.7 */
    check_attention_fixture(&f);
}

typedef struct {
    seq_tensor *q, *k, *v;
    const seq_attention_mask *mask;
    int residual; /* y = attention + q */
    float *wts;
} att_case;

static seq_tensor *att_loss(seq_ctx *ctx, void *ud) {
    att_case *c = (att_case *)ud;
    seq_tensor *y = seq_attention(ctx, c->q, c->k, c->v, c->mask);
    return weighted_mean(ctx, c->residual ? seq_add(ctx, y, c->q) : y, c->wts);
}

/* q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,Dv) as parameters, checked under mask. With
 * self_residual, q = k = v = x (Tq = Tk, D = Dv) and the loss sees x + attention(x,x,x):
 * the residual's gradient is in x's buffer before the attention backward runs, and all
 * three of its paths must add to it. */
static void att_gradcheck(const int64_t *dims, const seq_attention_mask *mask, int self_residual) {
    seq_params *P = seq_params_init(NULL);
    att_case c;
    float wts[96];
    int64_t B = dims[0], H = dims[1], Tq = dims[2], Tk = dims[3], D = dims[4], Dv = dims[5];
    int64_t sq[4], sk[4], sv[4];
    sq[0] = sk[0] = sv[0] = B;
    sq[1] = sk[1] = sv[1] = H;
    sq[2] = Tq;
    sk[2] = sv[2] = Tk;
    sq[3] = sk[3] = D;
    sv[3] = Dv;
    fill_normal(wts, 96, 22);
    c.q = seq_params_add(P, self_residual ? "x" : "q", 4, sq, seq_init_normal(0, 1));
    c.k = self_residual ? c.q : seq_params_add(P, "k", 4, sk, seq_init_normal(0, 1));
    c.v = self_residual ? c.q : seq_params_add(P, "v", 4, sv, seq_init_normal(0, 1));
    c.mask = mask;
    c.residual = self_residual;
    c.wts = wts;
    check_gradcheck(P, att_loss, &c, self_residual ? B * H * Tq * D : B * H * (Tq * D + Tk * D + Tk * Dv));
    seq_params_free(P);
}

static void test_attention_grad(void) {
    static const int64_t plain[6] = {1, 2, 3, 4, 2, 3}, masked[6] = {2, 1, 3, 4, 3, 2};
    static const int32_t lengths[2] = {4, 3};
    static const uint8_t padding[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    seq_attention_mask m = seq_attention_mask_none();
    att_gradcheck(plain, NULL, 0);
    m.causal = 1;
    m.key_lengths = lengths;
    m.key_padding = padding;
    m.scale = 0.8f;
    att_gradcheck(masked, &m, 0);
}

static void test_attention_self_grad(void) {
    static const int64_t dims[6] = {1, 2, 3, 3, 2, 2};
    seq_attention_mask m = seq_attention_mask_none();
    m.causal = 1;
    att_gradcheck(dims, &m, 1);
}

/* Every key of batch row 1 is padding, and causal with Tq > Tk hides all keys from the
 * first query of row 0: those rows output zeros and pass back zero gradient. */
static void test_attention_fully_masked_rows(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    static const int32_t lengths[2] = {2, 0};
    int64_t sq[4] = {2, 1, 3, 2}, sk[4] = {2, 1, 2, 2}, sv[4] = {2, 1, 2, 3}, i;
    seq_attention_mask m = seq_attention_mask_none();
    seq_tensor *q = random_tensor(ctx, 4, sq, 31, 1), *k = random_tensor(ctx, 4, sk, 32, 1);
    seq_tensor *v = random_tensor(ctx, 4, sv, 33, 1), *y;
    int finite = 1;
    m.causal = 1;
    m.key_lengths = lengths;
    y = seq_attention(ctx, q, k, v, &m);
    CHECK(seq_backward(ctx, seq_mean(ctx, y)) == SEQ_OK);
    if (seq_ctx_status(ctx) != SEQ_OK) {
        seq_ctx_free(ctx);
        return;
    }
    for (i = 0; i < y->numel; i++) finite &= isfinite(y->data[i]) != 0;
    for (i = 0; i < 12; i++) finite &= isfinite(q->grad[i]) && isfinite(v->grad[i]);
    for (i = 0; i < 8; i++) finite &= isfinite(k->grad[i]) != 0;
    CHECK(finite);
    CHECK(all_zero(y->data, 3));             /* row 0, query 0: causal hides both keys */
    CHECK(!all_zero(y->data + 3, 6));        /* queries 1 and 2 see keys */
    CHECK(all_zero(y->data + 9, 9));         /* row 1: no key at all */
    CHECK(all_zero(q->grad, 2));             /* query 0 of row 0 */
    CHECK(!all_zero(q->grad + 2, 4));
    CHECK(all_zero(q->grad + 6, 6) && all_zero(k->grad + 4, 4) && all_zero(v->grad + 6, 6));
    /* query 1 of row 0 sees only key 0: its output is v[0,0,0,:] exactly */
    CHECK(memcmp(y->data + 3, v->data, 3 * sizeof(float)) == 0);
    seq_ctx_free(ctx);
}

static void test_attention_mask_defaults(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_attention_mask none = seq_attention_mask_none(), zero, explicit_scale;
    int64_t sq[4] = {1, 2, 2, 4}, sk[4] = {1, 2, 3, 4}, sv[4] = {1, 2, 3, 2};
    seq_tensor *q = random_tensor(ctx, 4, sq, 41, 0), *k = random_tensor(ctx, 4, sk, 42, 0);
    seq_tensor *v = random_tensor(ctx, 4, sv, 43, 0), *a, *b, *c, *d;
    memset(&zero, 0, sizeof zero);
    CHECK(memcmp(&none, &zero, sizeof zero) == 0);
    explicit_scale = none;
    explicit_scale.scale = 0.5f; /* 1/sqrt(D) for D = 4 */
    a = seq_attention(ctx, q, k, v, NULL);
    b = seq_attention(ctx, q, k, v, &none);
    c = seq_attention(ctx, q, k, v, &explicit_scale);
    explicit_scale.scale = 2.0f;
    d = seq_attention(ctx, q, k, v, &explicit_scale);
    CHECK(a && b && c && d && a->ndim == 4 && a->shape[2] == 2 && a->shape[3] == 2);
    if (a && b && c && d) {
        CHECK(memcmp(a->data, b->data, 8 * sizeof(float)) == 0);
        check_all_near("explicit scale", c->data, a->data, 8, 1e-6);
        CHECK(memcmp(a->data, d->data, 8 * sizeof(float)) != 0);
    }
    seq_ctx_free(ctx);
}

/* With recording off the op keeps one score slab, not one per (b,h), and agrees. */
static void test_attention_inference(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    static float train[4 * 8 * 32 * 4];
    int64_t s[4] = {4, 8, 32, 4};
    size_t before, used_train, used_infer;
    seq_tensor *q = random_tensor(ctx, 4, s, 51, 1), *k = random_tensor(ctx, 4, s, 52, 1);
    seq_tensor *v = random_tensor(ctx, 4, s, 53, 1), *y;
    before = seq_ctx_bytes_used(ctx);
    y = seq_attention(ctx, q, k, v, NULL);
    used_train = seq_ctx_bytes_used(ctx) - before;
    CHECK(y && y->requires_grad);
    if (y) memcpy(train, y->data, sizeof train);
    seq_ctx_set_grad(ctx, 0);
    before = seq_ctx_bytes_used(ctx);
    y = seq_attention(ctx, q, k, v, NULL);
    used_infer = seq_ctx_bytes_used(ctx) - before;
    CHECK(y && !y->requires_grad && memcmp(train, y->data, sizeof train) == 0);
    /* 33 slabs of 32x32 scores against 1 */
    CHECK_MSG(used_train > used_infer + 31 * 32 * 32 * sizeof(float), "train %zu infer %zu", used_train, used_infer);
    seq_ctx_free(ctx);
}

/* seq_attention on zero tensors of these shapes (q with qdims dims) on a fresh step must
 * fail with status and a message containing msg. */
static void attention_fails(seq_ctx *ctx, int qdims, const int64_t *sq, const int64_t *sk, const int64_t *sv,
                            const seq_attention_mask *m, seq_status status, const char *msg) {
    seq_tensor *q, *k, *v;
    seq_ctx_reset(ctx);
    q = seq_tensor_new(ctx, SEQ_F32, qdims, sq);
    k = seq_tensor_new(ctx, SEQ_F32, 4, sk);
    v = seq_tensor_new(ctx, SEQ_F32, 4, sv);
    CHECK_MSG(seq_attention(ctx, q, k, v, m) == NULL && seq_ctx_status(ctx) == status &&
                  strstr(seq_ctx_error(ctx), msg) != NULL,
              "want status %d and '%s'; got %d '%s'", (int)status, msg, (int)seq_ctx_status(ctx), seq_ctx_error(ctx));
}

static void test_attention_errors(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sq[4] = {2, 1, 3, 2}, sk[4] = {2, 1, 4, 2}, sv[4] = {2, 1, 4, 3}, sk_d[4] = {2, 1, 4, 3};
    int64_t sv_t[4] = {2, 1, 3, 3}, sk_b[4] = {1, 1, 4, 2}, sq0[4] = {2, 1, 3, 0}, sk0[4] = {2, 1, 4, 0};
    static const int32_t too_long[2] = {4, 5}, negative[2] = {-1, 4};
    seq_attention_mask m = seq_attention_mask_none();
    const char *needs = "seq_attention: needs f32 q (B,H,Tq,D>=1)";
    attention_fails(ctx, 4, sq, sk_d, sv, NULL, SEQ_ERR_SHAPE, needs); /* q and k disagree on D */
    attention_fails(ctx, 4, sq, sk, sv_t, NULL, SEQ_ERR_SHAPE, needs); /* k and v disagree on Tk */
    attention_fails(ctx, 4, sq, sk_b, sv, NULL, SEQ_ERR_SHAPE, needs); /* batch sizes differ */
    attention_fails(ctx, 4, sq0, sk0, sv, NULL, SEQ_ERR_SHAPE, needs); /* D = 0 */
    attention_fails(ctx, 3, sq + 1, sk, sv, NULL, SEQ_ERR_SHAPE, "got q (1,3,2) f32, k (2,1,4,2) f32, v (2,1,4,3) f32");
    m.key_lengths = too_long;
    attention_fails(ctx, 4, sq, sk, sv, &m, SEQ_ERR_RANGE, "key_lengths[1] = 5 is outside [0,4]");
    m.key_lengths = negative;
    attention_fails(ctx, 4, sq, sk, sv, &m, SEQ_ERR_RANGE, "key_lengths[0] = -1");
    m.key_lengths = NULL;
    m.scale = NAN;
    attention_fails(ctx, 4, sq, sk, sv, &m, SEQ_ERR_INVALID, "scale must be finite");
    seq_ctx_reset(ctx);
    CHECK(seq_attention(ctx, seq_tensor_new(ctx, SEQ_F32, 4, sq), NULL, NULL, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* --- out of memory --------------------------------------------------------------------- */

/* One training step through all four ops on a fresh ctx, sized so that their big
 * tensors each need a fresh arena block. */
static seq_status oom_step(void) {
    int64_t sx[3] = {1, 65536, 4}, sW[2] = {8, 4}, si[2] = {1, 65536}, sw[2] = {4, 3}, sq[4] = {1, 1, 512, 4};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *x, *W, *ids, *w, *q, *h, *loss;
    seq_status st;
    seq_rng r;
    if (!ctx) return SEQ_ERR_NOMEM;
    seq_rng_seed(&r, 7);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    W = seq_tensor_new(ctx, SEQ_F32, 2, sW);
    ids = seq_tensor_new(ctx, SEQ_I32, 2, si);
    w = seq_tensor_new(ctx, SEQ_F32, 2, sw);
    q = seq_tensor_new(ctx, SEQ_F32, 4, sq);
    if (x && W && w && q) {
        seq_tensor_set_requires_grad(ctx, x);
        seq_tensor_set_requires_grad(ctx, W);
        seq_tensor_set_requires_grad(ctx, w);
        seq_tensor_set_requires_grad(ctx, q);
    }
    h = seq_dropout(ctx, seq_add(ctx, x, seq_embedding(ctx, W, ids)), 0.5f, &r);
    h = seq_conv1d_causal(ctx, h, w, NULL);
    loss = seq_add(ctx, seq_mean(ctx, h), seq_mean(ctx, seq_attention(ctx, q, q, q, NULL)));
    st = seq_backward(ctx, loss);
    seq_ctx_free(ctx);
    return st;
}

/* oom_step with its k-th allocation failing, for every k: no crash, no leak, and the
 * failure reported as SEQ_ERR_NOMEM. */
static void test_seqops_out_of_memory(void) {
    long k, base = seq_test_live_blocks;
    int completed = 0;
    for (k = 0; k < 40 && !completed; k++) {
        seq_status st;
        seq_test_fail_after(k);
        st = oom_step();
        completed = st == SEQ_OK && seq_test_alloc_count <= k; /* no allocation failed */
        seq_test_fail_never();
        CHECK_MSG(st == SEQ_OK || st == SEQ_ERR_NOMEM, "k=%ld status %d", k, (int)st);
        CHECK_MSG(seq_test_live_blocks == base, "k=%ld leaked %ld blocks", k, seq_test_live_blocks - base);
    }
    CHECK(completed);
}

void seq_tests_seqops(void) {
    RUN(test_embedding_forward);
    RUN(test_embedding_grad);
    RUN(test_embedding_padding_idx);
    RUN(test_embedding_errors);
    RUN(test_dropout_forward);
    RUN(test_dropout_identity);
    RUN(test_dropout_grad);
    RUN(test_dropout_errors);
    RUN(test_conv1d_vs_pytorch);
    RUN(test_conv1d_grad);
    RUN(test_conv1d_errors);
    RUN(test_attention_vs_pytorch);
    RUN(test_attention_grad);
    RUN(test_attention_self_grad);
    RUN(test_attention_fully_masked_rows);
    RUN(test_attention_mask_defaults);
    RUN(test_attention_inference);
    RUN(test_attention_errors);
    RUN(test_seqops_out_of_memory);
}
