/* 14.4: the delta-rule core (linear attention, DeltaNet, gated DeltaNet, DeltaProduct). */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/delta_fixtures.h"

/* --- the core, seq_delta_rule ---------------------------------------------------------- */

/* Inputs of one seq_delta_rule call as parameters, and the fixed loss weights. */
typedef struct {
    int64_t B, T, H, DK, DV;
    seq_tensor *q, *k, *v, *beta, *g, *h0;
    seq_delta_opts o;
    const int32_t *lengths;
    const uint8_t *resets;
    float *wy, *wh; /* (B,T,H,DV) and (B,H,DK,DV) */
} core_case;

/* loss = mean(y*wy) + mean(hn*wh): the outputs and the final state carry gradient */
static seq_tensor *core_loss(seq_ctx *ctx, void *ud) {
    core_case *c = (core_case *)ud;
    seq_rnn_io io;
    seq_tensor *y;
    memset(&io, 0, sizeof io);
    io.h0 = c->h0;
    io.lengths = c->lengths;
    io.resets = c->resets;
    y = seq_delta_rule(ctx, c->q, c->k, c->v, c->beta, c->g, &c->o, &io);
    if (!y) return NULL;
    return seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, 4, y->shape))),
                   seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, c->wh, 4, io.hn->shape))));
}

/* Registers q, k, v and, per flags "bgh", beta, g and h0 in P, with n steps per token. */
static void core_setup(core_case *c, seq_params *P, seq_rng *r, const int64_t dims[5], int64_t n, const char *flags) {
    int64_t B = dims[0], T = dims[1], H = dims[2], DK = dims[3], DV = dims[4], i;
    int64_t sq[4] = {B, T, H, DK}, sk[4] = {B, T * n, H, DK}, sv[4] = {B, T * n, H, DV}, sb[3] = {B, T * n, H};
    int64_t sg[3] = {B, T, H}, s0[4] = {B, H, DK, DV};
    memset(c, 0, sizeof *c);
    c->B = B;
    c->T = T;
    c->H = H;
    c->DK = DK;
    c->DV = DV;
    c->q = seq_params_add(P, "q", 4, sq, seq_init_normal(0, 1));
    c->k = seq_params_add(P, "k", 4, sk, seq_init_normal(0, 0.5f));
    c->v = seq_params_add(P, "v", 4, sv, seq_init_normal(0, 1));
    if (strchr(flags, 'b')) c->beta = seq_params_add(P, "beta", 3, sb, seq_init_uniform(0.1f, 1.9f));
    if (strchr(flags, 'g')) c->g = seq_params_add(P, "g", 3, sg, seq_init_uniform(-1.0f, -0.05f));
    if (strchr(flags, 'h')) c->h0 = seq_params_add(P, "h0", 4, s0, seq_init_normal(0, 1));
    c->wy = (float *)malloc((size_t)(B * T * H * DV + B * H * DK * DV) * sizeof(float));
    c->wh = c->wy + B * T * H * DV;
    for (i = 0; i < B * T * H * DV + B * H * DK * DV; i++) c->wy[i] = (float)seq_rng_normal(r, 0, 8);
    c->o = seq_delta_opts_default();
    c->o.householder = n;
}

/* Finite differences agree with the backward of both forms, for the delta rule and
 * linear attention, with and without decay, DeltaProduct's substeps, lengths, resets. */
static void test_delta_core_gradcheck(void) {
    static const int64_t dims[5] = {2, 5, 2, 3, 2};
    static const int32_t lengths[2] = {5, 3};
    static const uint8_t resets[10] = {0, 0, 1, 0, 0, /* */ 1, 1, 0, 0, 0};
    static const struct {
        int delta, recurrent, n;
        const char *flags; /* beta, g, h0, s: lengths and resets */
    } variants[] = {{1, 0, 1, "bh"}, {1, 0, 1, "bghs"}, {1, 1, 2, "bghs"}, {1, 0, 2, "ghs"},
                    {1, 1, 1, "b"},  {0, 0, 1, "ghs"},  {0, 1, 2, "ghs"}};
    size_t vi;
    for (vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_gradcheck_result res;
        core_case c;
        seq_rng r;
        seq_rng_seed(&r, 100 + vi);
        core_setup(&c, P, &r, dims, variants[vi].n, variants[vi].flags);
        c.o.delta = variants[vi].delta;
        c.o.recurrent = variants[vi].recurrent;
        c.o.chunk = 2;
        if (strchr(variants[vi].flags, 's')) {
            c.lengths = lengths;
            c.resets = resets;
        }
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK(seq_gradcheck(ctx, P, core_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0 && res.checked == P->numel, "variant %d: %lld of %lld failed, worst %s[%lld] abs %g",
                  (int)vi, (long long)res.failed, (long long)res.checked, res.worst_param ? res.worst_param : "-",
                  (long long)res.worst_index, res.max_abs_err);
        free(c.wy);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Unit-length keys, as every delta-rule layer feeds the core. */
static void normalize_keys(seq_tensor *k) {
    int64_t D = k->shape[3], r, i;
    for (r = 0; r < k->numel / D; r++) {
        double s = 0.0;
        for (i = 0; i < D; i++) s += (double)k->data[r * D + i] * k->data[r * D + i];
        for (i = 0; i < D; i++) k->data[r * D + i] /= (float)sqrt(s);
    }
}

/* The loss of c with its backward: y, hn and every gradient of P, concatenated into out. */
static int64_t core_outputs(core_case *c, seq_params *P, float *out) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn_io io;
    seq_tensor *y, *loss;
    int64_t n = 0;
    memset(&io, 0, sizeof io);
    io.h0 = c->h0;
    io.lengths = c->lengths;
    io.resets = c->resets;
    y = seq_delta_rule(ctx, c->q, c->k, c->v, c->beta, c->g, &c->o, &io);
    seq_params_zero_grad(P);
    loss = y ? seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, 4, y->shape))),
                       seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, c->wh, 4, io.hn->shape))))
             : NULL;
    if (loss && seq_backward(ctx, loss) == SEQ_OK) {
        memcpy(out, y->data, (size_t)y->numel * sizeof(float));
        memcpy(out + y->numel, io.hn->data, (size_t)io.hn->numel * sizeof(float));
        memcpy(out + y->numel + io.hn->numel, P->grad, (size_t)P->numel * sizeof(float));
        n = y->numel + io.hn->numel + P->numel;
    }
    seq_ctx_free(ctx);
    return n;
}

/* The chunkwise-parallel form gives the step-by-step outputs, final states and gradients
 * to 1e-5 relative, for any chunk size, with decay, substeps, h0, lengths and resets. */
static void test_delta_forms_agree(void) {
    static const int64_t dims[5] = {2, 13, 2, 4, 3};
    static const int32_t lengths[2] = {13, 9};
    uint8_t resets[26] = {0};
    static const int64_t chunks[3] = {1, 4, 64};
    int delta, n, ci;
    resets[5] = resets[6] = resets[13 + 4] = 1;
    for (delta = 0; delta <= 1; delta++)
        for (n = 1; n <= 3; n += 2) {
            seq_params *P = seq_params_init(NULL);
            core_case c;
            seq_rng r;
            float *ref, *got;
            int64_t len, i;
            seq_rng_seed(&r, 7 + n + delta);
            core_setup(&c, P, &r, dims, n, delta ? "bgh" : "gh");
            c.o.delta = delta;
            c.lengths = lengths;
            c.resets = resets;
            CHECK(seq_params_alloc(P, &r) == SEQ_OK);
            normalize_keys(c.k);
            ref = (float *)malloc((size_t)(4 * P->numel) * sizeof(float));
            got = ref + 2 * P->numel;
            c.o.recurrent = 1;
            c.o.chunk = 5;
            len = core_outputs(&c, P, ref);
            CHECK(len > 0);
            for (ci = 0; ci < 3 && len > 0; ci++) {
                double worst = 0.0;
                c.o.recurrent = 0;
                c.o.chunk = chunks[ci];
                CHECK(core_outputs(&c, P, got) == len);
                for (i = 0; i < len; i++)
                    worst = fmax(worst, fabs(got[i] - ref[i]) / fmax(1.0, fmax(fabs(got[i]), fabs(ref[i]))));
                CHECK_MSG(worst <= 1e-5, "delta %d n %d chunk %lld: relative difference %g", delta, n,
                          (long long)chunks[ci], worst);
            }
            free(ref);
            free(c.wy);
            seq_params_free(P);
        }
}

/* Copies tokens [t0,t1) of row b of x (B,T*n,...) into a new (1,(t1-t0)*n,...) tensor. */
static seq_tensor *core_slice(seq_ctx *ctx, const seq_tensor *x, int64_t b, int64_t t0, int64_t t1, int64_t n) {
    int64_t shape[4], inner, i;
    seq_tensor *s;
    memcpy(shape, x->shape, sizeof shape);
    inner = x->numel / (x->shape[0] * x->shape[1]);
    shape[0] = 1;
    shape[1] = (t1 - t0) * n;
    s = seq_tensor_new(ctx, SEQ_F32, x->ndim, shape);
    for (i = 0; s && i < s->numel; i++) s->data[i] = x->data[(b * x->shape[1] + t0 * n) * inner + i];
    return s;
}

/* Segments and padded rows give what running each piece alone gives (from h0 for a row's
 * first piece, from zeros after a reset), in both forms. */
static void test_delta_segments_equal_separate_runs(void) {
    static const int64_t dims[5] = {2, 9, 2, 3, 2};
    static const int32_t lengths[2] = {9, 6};
    static const int64_t pieces[5][3] = {{0, 0, 3}, {0, 3, 7}, {0, 7, 9}, {1, 0, 2}, {1, 2, 6}}; /* row, t0, t1 */
    uint8_t resets[18] = {0};
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    core_case c;
    seq_rng r;
    int form, p;
    resets[3] = resets[7] = resets[9 + 2] = 1;
    seq_rng_seed(&r, 3);
    core_setup(&c, P, &r, dims, 2, "bgh");
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    normalize_keys(c.k);
    seq_ctx_set_grad(ctx, 0);
    for (form = 0; form < 2; form++) {
        seq_rnn_io io;
        seq_tensor *y;
        double worst = 0.0;
        int64_t HV = c.H * c.DV, DD = c.H * c.DK * c.DV, i;
        c.o.recurrent = form;
        c.o.chunk = 2;
        memset(&io, 0, sizeof io);
        io.h0 = c.h0;
        io.lengths = lengths;
        io.resets = resets;
        y = seq_delta_rule(ctx, c.q, c.k, c.v, c.beta, c.g, &c.o, &io);
        CHECK(y != NULL);
        if (!y) break;
        for (p = 0; p < 5; p++) {
            int64_t b = pieces[p][0], t0 = pieces[p][1], t1 = pieces[p][2], h0s[4] = {1, 2, 3, 2};
            seq_rnn_io one;
            seq_tensor *ys;
            memset(&one, 0, sizeof one);
            if (t0 == 0) one.h0 = seq_tensor_wrap(ctx, c.h0->data + b * DD, 4, h0s);
            ys = seq_delta_rule(ctx, core_slice(ctx, c.q, b, t0, t1, 1), core_slice(ctx, c.k, b, t0, t1, 2),
                                core_slice(ctx, c.v, b, t0, t1, 2), core_slice(ctx, c.beta, b, t0, t1, 2),
                                core_slice(ctx, c.g, b, t0, t1, 1), &c.o, &one);
            CHECK(ys != NULL);
            if (!ys) break;
            for (i = 0; i < (t1 - t0) * HV; i++)
                worst = fmax(worst, fabs(ys->data[i] - y->data[(b * 9 + t0) * HV + i]));
            if (t1 == lengths[b])
                for (i = 0; i < DD; i++) worst = fmax(worst, fabs(one.hn->data[i] - io.hn->data[b * DD + i]));
        }
        for (i = 6 * HV; i < 9 * HV; i++) worst = fmax(worst, fabs(y->data[9 * HV + i])); /* padding */
        CHECK_MSG(worst < 1e-6, "form %d: pieces differ by %g", form, worst);
        seq_ctx_reset(ctx);
    }
    free(c.wy);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_delta_core_bad_input(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sq[4] = {2, 3, 2, 4}, sv[4] = {2, 3, 2, 5}, sq0[4] = {2, 0, 2, 4}, sb[3] = {2, 3, 2};
    int64_t sbad[4] = {2, 3, 4, 5}, sk2[4] = {2, 6, 2, 4}, sb3[3] = {2, 3, 3};
    int32_t too_long[2] = {3, 4};
    seq_delta_opts o = seq_delta_opts_default();
    seq_rnn_io io;
    seq_tensor *q, *v;
#define FRESH()                                   \
    do {                                          \
        seq_ctx_reset(ctx);                       \
        q = seq_tensor_new(ctx, SEQ_F32, 4, sq);  \
        v = seq_tensor_new(ctx, SEQ_F32, 4, sv);  \
        memset(&io, 0, sizeof io);                \
    } while (0)
    FRESH();
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, NULL, NULL) != NULL); /* the baseline is fine */
    FRESH();
    io.h0 = seq_tensor_new(ctx, SEQ_F32, 4, sbad);
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0 (2,3,4,5)") != NULL);
    FRESH();
    CHECK(seq_delta_rule(ctx, seq_tensor_new(ctx, SEQ_F32, 4, sq0), seq_tensor_new(ctx, SEQ_F32, 4, sq0), v, NULL,
                         NULL, &o, NULL) == NULL); /* T = 0 */
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    FRESH();
    o.householder = 2; /* k must then hold 2 rows per token */
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    FRESH();
    CHECK(seq_delta_rule(ctx, q, seq_tensor_new(ctx, SEQ_F32, 4, sk2), v, NULL, NULL, &o, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "v (2,3,2,5)") != NULL);
    o.householder = 1;
    FRESH();
    CHECK(seq_delta_rule(ctx, q, q, v, seq_tensor_new(ctx, SEQ_F32, 3, sb3), NULL, &o, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "beta (2,3,3)") != NULL);
    FRESH();
    io.lengths = too_long;
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, &io) == NULL && seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    FRESH();
    io.c0 = v;
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, &io) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    FRESH();
    o.delta = 0; /* linear attention has no beta */
    CHECK(seq_delta_rule(ctx, q, q, v, seq_tensor_new(ctx, SEQ_F32, 3, sb), NULL, &o, NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    o = seq_delta_opts_default();
    FRESH();
    o.chunk = 0;
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    o = seq_delta_opts_default();
    FRESH();
    v->data[7] = NAN;
    CHECK(seq_delta_rule(ctx, q, q, v, NULL, NULL, &o, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    CHECK(strstr(seq_ctx_error(ctx), "v[7]") != NULL);
    FRESH();
    CHECK(seq_delta_rule(ctx, q, NULL, v, NULL, NULL, &o, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
#undef FRESH
    seq_ctx_free(ctx);
}

/* --- the layers ---------------------------------------------------------------------------- */

/* Either layer behind one interface, so every test runs over both. */
typedef struct {
    int attn; /* 0: seq_deltanet, 1: seq_linear_attn */
    seq_deltanet dn;
    seq_linear_attn la;
} any_layer;

static seq_tensor *layer_forward(seq_ctx *ctx, any_layer *L, seq_tensor *x, seq_rnn_io *io) {
    return L->attn ? seq_linear_attn_forward(ctx, &L->la, x, io) : seq_deltanet_forward(ctx, &L->dn, x, io);
}
static seq_status layer_state_init(any_layer *L, seq_delta_state *st, int64_t batch) {
    return L->attn ? seq_linear_attn_state_init(&L->la, st, batch) : seq_deltanet_state_init(&L->dn, st, batch);
}
static seq_status layer_step(any_layer *L, seq_delta_state *st, const float *x_t, float *y_t) {
    return L->attn ? seq_linear_attn_step(&L->la, st, x_t, y_t) : seq_deltanet_step(&L->dn, st, x_t, y_t);
}
static int layer_normalized(const any_layer *L) { return L->attn && L->la.cfg.normalize; }

/* The small configurations every layer test runs: C = 4, H = 2. */
enum { LC = 4, LH = 2, NCONF = 7 };
static const char *const conf_name[NCONF] = {"DeltaNet",      "gated DeltaNet",    "DeltaProduct",
                                             "linear ELU1",   "linear identity",   "ReBased",
                                             "DeltaProduct 3"};

static seq_status layer_init(any_layer *L, seq_params *P, int conf, int recurrent) {
    memset(L, 0, sizeof *L);
    L->attn = conf >= 3 && conf <= 5;
    if (!L->attn) {
        seq_deltanet_config c = conf == 0 ? seq_deltanet_config_default(LC, LH)
                                : conf == 1 ? seq_gated_deltanet_config_default(LC, LH)
                                            : seq_deltaproduct_config_default(LC, LH, conf == 2 ? 2 : 3);
        c.head_k_dim = 2;
        c.head_v_dim = 3;
        c.conv_size = 3;
        c.use_short_conv = conf != 2; /* DeltaProduct 2 runs without it */
        c.chunk_size = 2;
        c.recurrent = recurrent;
        return seq_deltanet_init(&L->dn, P, "dn", c);
    } else {
        seq_linear_attn_config c =
            conf == 5 ? seq_rebased_config_default(LC, LH) : seq_linear_attn_config_default(LC, LH);
        c.head_k_dim = 2;
        c.head_v_dim = 3;
        if (conf == 4) {
            c.feature_map = SEQ_FEATURE_MAP_IDENTITY;
            c.normalize = 0;
            c.output_norm = 1;
        }
        c.chunk_size = 2;
        c.recurrent = recurrent;
        return seq_linear_attn_init(&L->la, P, "la", c);
    }
}

typedef struct {
    any_layer L;
    seq_tensor *x, *h0, *c0;
    const int32_t *lengths;
    const uint8_t *resets;
    float w[256];
} layer_case;

/* loss = mean(y*w) + mean(hn*w') [+ mean(cn*w'')], w, w', w'' slices of one buffer */
static seq_tensor *layer_loss(seq_ctx *ctx, void *ud) {
    layer_case *c = (layer_case *)ud;
    seq_rnn_io io;
    seq_tensor *y, *l;
    memset(&io, 0, sizeof io);
    io.h0 = c->h0;
    io.c0 = c->c0;
    io.lengths = c->lengths;
    io.resets = c->resets;
    y = layer_forward(ctx, &c->L, c->x, &io);
    if (!y || y->numel + io.hn->numel + (io.cn ? io.cn->numel : 0) > 256) return NULL;
    l = seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->w, 3, y->shape))),
                seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, c->w + y->numel, 4, io.hn->shape))));
    if (!io.cn) return l;
    return seq_add(ctx, l, seq_mean(ctx, seq_mul(ctx, io.cn, seq_tensor_wrap(ctx, c->w + y->numel + io.hn->numel, 3,
                                                                           io.cn->shape))));
}

/* Features per head of a configuration (linear attention's F, the delta rule's DK). */
static int64_t layer_features(const any_layer *L) {
    if (!L->attn) return L->dn.cfg.head_k_dim;
    return L->la.cfg.feature_map == SEQ_FEATURE_MAP_REBASED ? 4 : 2;
}

/* Every layer, both forms: the gradients of the weights, x, h0 (and c0) match finite
 * differences, with lengths and resets (and the short convolution restarting). */
static void test_delta_layers_gradcheck(void) {
    static const int32_t lengths[2] = {4, 3};
    static const uint8_t resets[8] = {0, 0, 1, 0, /* */ 1, 0, 1, 0};
    int conf, form;
    for (conf = 0; conf < NCONF; conf++)
        for (form = 0; form < 2; form++) {
            seq_params *P = seq_params_init(NULL);
            seq_ctx *ctx = seq_ctx_init(NULL);
            int64_t sx[3] = {2, 4, LC}, s0[4] = {2, LH, 0, 3};
            seq_gradcheck_result res;
            layer_case c;
            seq_rng r;
            int i;
            seq_rng_seed(&r, 40 + conf);
            CHECK(layer_init(&c.L, P, conf, form) == SEQ_OK);
            s0[2] = layer_features(&c.L);
            c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
            c.h0 = seq_params_add(P, "h0", 4, s0, seq_init_normal(0, 0.5f));
            /* a positive key sum keeps the normalizer of ELU1's positive features away from 0 */
            c.c0 = layer_normalized(&c.L) && c.L.la.cfg.feature_map == SEQ_FEATURE_MAP_ELU1
                       ? seq_params_add(P, "c0", 3, s0, seq_init_uniform(0.5f, 1.5f))
                       : NULL;
            c.lengths = (conf + form) % 2 ? lengths : NULL;
            c.resets = conf != 4 ? resets : NULL;
            for (i = 0; i < 256; i++) c.w[i] = (float)seq_rng_normal(&r, 0, 8);
            CHECK(seq_params_alloc(P, &r) == SEQ_OK);
            /* eps 5e-4: the L2 normalization of a short key curves sharply, and at 1e-3 the
             * central difference's truncation error (which shrinks as eps^2) passes atol */
            CHECK(seq_gradcheck(ctx, P, layer_loss, &c, 5e-4f, 1e-3f, 1e-2f, &res) == SEQ_OK);
            CHECK_MSG(res.failed == 0 && res.checked == P->numel,
                      "%s form %d: %lld of %lld failed, worst %s[%lld] abs %g",
                      conf_name[conf], form, (long long)res.failed, (long long)res.checked,
                      res.worst_param ? res.worst_param : "-", (long long)res.worst_index, res.max_abs_err);
            seq_ctx_free(ctx);
            seq_params_free(P);
        }
}

/* The streaming step gives the full-sequence outputs and final state, and the two forms
 * of the full sequence agree. */
static void test_delta_layers_step_matches_forward(void) {
    enum { B = 2, T = 7 };
    int conf;
    for (conf = 0; conf < NCONF; conf++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        any_layer L, R;
        seq_delta_state st;
        seq_rnn_io io, rio;
        seq_tensor *y, *yr;
        float x[B * T * LC], xt[B * LC], yt[B * LC];
        int64_t sx[3] = {B, T, LC}, t, r, i, F, DV, DVa;
        double worst = 0.0, forms = 0.0;
        seq_rng rng;
        seq_rng_seed(&rng, 9 + conf);
        for (i = 0; i < B * T * LC; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
        CHECK(layer_init(&L, P, conf, 0) == SEQ_OK);
        R = L; /* the same weights run step by step */
        if (R.attn) R.la.cfg.recurrent = 1;
        else R.dn.cfg.recurrent = 1;
        CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
        seq_ctx_set_grad(ctx, 0);
        memset(&io, 0, sizeof io);
        memset(&rio, 0, sizeof rio);
        y = layer_forward(ctx, &L, seq_tensor_wrap(ctx, x, 3, sx), &io);
        yr = layer_forward(ctx, &R, seq_tensor_wrap(ctx, x, 3, sx), &rio);
        CHECK(y && yr && layer_state_init(&L, &st, B) == SEQ_OK);
        if (!y || !yr || !st.S) goto next;
        for (i = 0; i < y->numel; i++) forms = fmax(forms, fabs(y->data[i] - yr->data[i]));
        for (t = 0; t < T; t++) {
            for (r = 0; r < B; r++) memcpy(xt + r * LC, x + (r * T + t) * LC, LC * sizeof(float));
            CHECK(layer_step(&L, &st, xt, yt) == SEQ_OK);
            for (r = 0; r < B; r++)
                for (i = 0; i < LC; i++) worst = fmax(worst, fabs(yt[r * LC + i] - y->data[(r * T + t) * LC + i]));
        }
        /* the state: S (B,H,F,DV'), DV' = DV + 1 when its last column is the key sum */
        F = layer_features(&L);
        DV = 3;
        DVa = DV + layer_normalized(&L);
        for (i = 0; i < B * LH * F * DVa; i++) {
            float want = i % DVa < DV ? io.hn->data[i / DVa * DV + i % DVa] : io.cn->data[i / DVa];
            worst = fmax(worst, fabs(st.S[i] - want));
        }
        CHECK_MSG(worst < 1e-5, "%s: step vs sequence %g", conf_name[conf], worst);
        CHECK_MSG(forms < 1e-5, "%s: parallel vs recurrent %g", conf_name[conf], forms);
        if (L.attn) seq_linear_attn_state_free(&st);
        else seq_deltanet_state_free(&st);
    next:
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* A batch with segments and a padded row gives what running each piece alone gives, the
 * short convolution's window restarting with the state. */
static void test_delta_layers_segments_equal_separate_runs(void) {
    enum { B = 2, T = 8 };
    static const int32_t lengths[B] = {T, 5};
    static const int64_t pieces[4][3] = {{0, 0, 3}, {0, 3, 8}, {1, 0, 2}, {1, 2, 5}}; /* row, t0, t1 */
    uint8_t resets[B * T] = {0};
    int conf;
    resets[3] = resets[T + 2] = 1;
    for (conf = 0; conf < NCONF; conf++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        any_layer L;
        seq_rnn_io io;
        seq_tensor *y;
        float x[B * T * LC];
        int64_t sx[3] = {B, T, LC}, i, p;
        double worst = 0.0;
        seq_rng rng;
        seq_rng_seed(&rng, 20 + conf);
        for (i = 0; i < B * T * LC; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
        CHECK(layer_init(&L, P, conf, conf % 2) == SEQ_OK);
        CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
        seq_ctx_set_grad(ctx, 0);
        memset(&io, 0, sizeof io);
        io.lengths = lengths;
        io.resets = resets;
        y = layer_forward(ctx, &L, seq_tensor_wrap(ctx, x, 3, sx), &io);
        CHECK(y != NULL);
        for (p = 0; y && p < 4; p++) {
            int64_t b = pieces[p][0], t0 = pieces[p][1], t1 = pieces[p][2], s1[3] = {1, 0, LC};
            seq_rnn_io one;
            seq_tensor *ys;
            s1[1] = t1 - t0;
            memset(&one, 0, sizeof one);
            ys = layer_forward(ctx, &L, seq_tensor_wrap(ctx, x + (b * T + t0) * LC, 3, s1), &one);
            CHECK(ys != NULL);
            if (!ys) break;
            for (i = 0; i < (t1 - t0) * LC; i++)
                worst = fmax(worst, fabs(ys->data[i] - y->data[(b * T + t0) * LC + i]));
            if (t1 == lengths[b]) {
                int64_t n = one.hn->numel;
                for (i = 0; i < n; i++) worst = fmax(worst, fabs(one.hn->data[i] - io.hn->data[b * n + i]));
            }
        }
        for (i = 5 * LC; y && i < T * LC; i++) worst = fmax(worst, fabs(y->data[T * LC + i])); /* padding */
        CHECK_MSG(worst < 1e-5, "%s: pieces differ by %g", conf_name[conf], worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

static void test_delta_layers_bad_input(void) {
    long live = seq_test_live_blocks;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_deltanet dn, dup;
    seq_linear_attn la;
    seq_delta_state st;
    seq_rnn_io io;
    seq_rng rng;
    seq_deltanet_config dc = seq_deltanet_config_default(LC, LH);
    seq_linear_attn_config lc = seq_linear_attn_config_default(LC, LH);
    int64_t sx[3] = {2, 3, LC}, s0[3] = {2, 0, LC}, sc[3] = {2, 3, LC + 1}, sh[4] = {2, LH, 2, 3}, sk[3] = {2, LH, 3};
    int32_t too_long[2] = {3, 4};
    float xt[2 * LC] = {0}, yt[2 * LC];
    seq_tensor *x;
    seq_rng_seed(&rng, 5);
    dc.num_heads = 0;
    CHECK(seq_deltanet_init(&dn, P, "dn", dc) == SEQ_ERR_INVALID);
    dc = seq_deltanet_config_default(LC, LH);
    dc.chunk_size = 0;
    CHECK(seq_deltanet_init(&dn, P, "dn", dc) == SEQ_ERR_INVALID);
    lc.feature_map = SEQ_FEATURE_MAP_COUNT;
    CHECK(seq_linear_attn_init(&la, P, "la", lc) == SEQ_ERR_INVALID);
    lc = seq_linear_attn_config_default(LC, LH);
    dc = seq_deltanet_config_default(LC, LH);
    CHECK(seq_deltanet_init(&dn, P, "dn", dc) == SEQ_OK);
    CHECK(seq_linear_attn_init(&la, P, "la", lc) == SEQ_OK);
    CHECK(seq_deltanet_init(&dup, P, "dn", dc) == SEQ_ERR_INVALID); /* the names are taken */
    CHECK(seq_deltanet_forward(ctx, &dn, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL); /* before alloc */
    seq_ctx_reset(ctx);
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    /* forward: T = 0, wrong width, h0, c0, lengths, NaN */
    CHECK(seq_deltanet_forward(ctx, &dn, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    CHECK(seq_linear_attn_forward(ctx, &la, seq_tensor_new(ctx, SEQ_F32, 3, sc), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.h0 = seq_tensor_new(ctx, SEQ_F32, 4, sh); /* DeltaNet's state is (2,2,2,2) here */
    CHECK(seq_deltanet_forward(ctx, &dn, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0 must be (2,2,2") != NULL);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.c0 = seq_tensor_new(ctx, SEQ_F32, 3, sk);
    CHECK(seq_deltanet_forward(ctx, &dn, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.c0 = seq_tensor_new(ctx, SEQ_F32, 3, sk); /* the key sum is (2,2,2) */
    CHECK(seq_linear_attn_forward(ctx, &la, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "c0") != NULL);
    seq_ctx_reset(ctx);
    memset(&io, 0, sizeof io);
    io.lengths = too_long;
    CHECK(seq_linear_attn_forward(ctx, &la, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    seq_ctx_reset(ctx);
    x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
    x->data[4] = NAN;
    CHECK(seq_deltanet_forward(ctx, &dn, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    seq_ctx_reset(ctx);
    CHECK(seq_linear_attn_forward(ctx, &la, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
    /* steps: batch, NULLs, NaN, out of memory (and nothing leaks) */
    CHECK(seq_deltanet_state_init(&dn, &st, 0) == SEQ_ERR_INVALID);
    seq_test_fail_after(0);
    CHECK(seq_linear_attn_state_init(&la, &st, 2) == SEQ_ERR_NOMEM);
    seq_test_fail_never();
    CHECK(seq_deltanet_state_init(&dn, &st, 2) == SEQ_OK);
    CHECK(seq_deltanet_step(&dn, &st, xt, yt) == SEQ_OK);
    xt[5] = INFINITY;
    CHECK(seq_deltanet_step(&dn, &st, xt, yt) == SEQ_ERR_NUMERIC);
    CHECK(seq_deltanet_step(&dn, NULL, xt, yt) == SEQ_ERR_INVALID);
    CHECK(seq_deltanet_step(&dn, &st, xt, NULL) == SEQ_ERR_INVALID);
    seq_deltanet_state_free(&st);
    CHECK(seq_deltanet_step(&dn, &st, xt, yt) == SEQ_ERR_INVALID); /* a freed state */
    seq_ctx_free(ctx);
    seq_params_free(P);
    CHECK(seq_test_live_blocks == live);
}

/* Largest |got - want| over n values, relative to max(1, largest |want|). */
static double rel_diff(const float *got, const float *want, int64_t n) {
    double err = 0.0, mag = 1.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        mag = fmax(mag, fabs(want[i]));
    }
    return err / mag;
}

/* sum(t * w) for constant weights w (never written: a wrapped tensor without gradient) */
static seq_tensor *weighted_sum(seq_ctx *ctx, seq_tensor *t, const float *w) {
    return seq_sum(ctx, seq_mul(ctx, t, seq_tensor_wrap(ctx, (float *)w, t->ndim, t->shape)));
}

/* One fixture of tests/gen_delta_fixtures.py in one form: outputs, final states and every
 * gradient equal the float64 PyTorch reference to 1e-5 relative. */
static void check_delta_parity(const delta_fx *fx, int recurrent) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    any_layer L;
    seq_rnn_io io;
    seq_tensor *x, *h0, *c0 = NULL, *y, *loss;
    int64_t F = fx->fmap == SEQ_FEATURE_MAP_REBASED ? fx->DK * fx->DK : fx->DK;
    int64_t sx[3] = {DELTA_FX_B, DELTA_FX_T, 0}, s0[4] = {DELTA_FX_B, 0, 0, 0};
    const seq_tensor *ins[3];
    const float *want[3];
    double worst;
    seq_rng r;
    int p, k;
    memset(&L, 0, sizeof L);
    sx[2] = fx->C;
    s0[1] = fx->H;
    s0[2] = F;
    s0[3] = fx->DV;
    seq_rng_seed(&r, 1);
    L.attn = fx->attn;
    if (fx->attn) {
        seq_linear_attn_config c = seq_linear_attn_config_default(fx->C, fx->H);
        c.head_k_dim = fx->DK;
        c.head_v_dim = fx->DV;
        c.feature_map = (seq_feature_map)fx->fmap;
        c.normalize = fx->normalize;
        c.output_norm = fx->output_norm;
        c.chunk_size = 2;
        c.recurrent = recurrent;
        CHECK(seq_linear_attn_init(&L.la, P, "net", c) == SEQ_OK);
    } else {
        seq_deltanet_config c = seq_deltanet_config_default(fx->C, fx->H);
        c.head_k_dim = fx->DK;
        c.head_v_dim = fx->DV;
        c.num_householder = fx->n;
        c.use_short_conv = fx->conv > 0;
        c.conv_size = fx->conv;
        c.use_forget_gate = fx->forget;
        c.allow_neg_eigval = fx->neg;
        c.use_output_gate = fx->out_gate;
        c.chunk_size = 2;
        c.recurrent = recurrent;
        CHECK(seq_deltanet_init(&L.dn, P, "net", c) == SEQ_OK);
    }
    x = seq_params_add(P, "x", 3, sx, seq_init_zeros());
    h0 = seq_params_add(P, "h0", 4, s0, seq_init_zeros());
    if (fx->attn && fx->normalize) c0 = seq_params_add(P, "c0", 3, s0, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK_MSG(P->count == fx->nparams + 2 + (c0 != NULL), "%s: %lld parameters, PyTorch has %d", fx->tag,
              (long long)P->count - 2 - (c0 != NULL), fx->nparams);
    for (p = 0; p < fx->nparams; p++) {
        seq_tensor *w = seq_params_find(P, fx->params[p].name);
        CHECK_MSG(w != NULL, "%s: no %s", fx->tag, fx->params[p].name);
        if (w) memcpy(w->data, fx->params[p].value, (size_t)w->numel * sizeof(float));
    }
    memcpy(x->data, fx->x, (size_t)x->numel * sizeof(float));
    memcpy(h0->data, fx->h0, (size_t)h0->numel * sizeof(float));
    if (c0) memcpy(c0->data, fx->c0, (size_t)c0->numel * sizeof(float));
    memset(&io, 0, sizeof io);
    io.h0 = h0;
    io.c0 = c0;
    y = layer_forward(ctx, &L, x, &io);
    CHECK(y != NULL);
    if (!y) goto done;
    loss = seq_add(ctx, weighted_sum(ctx, y, fx->wy), weighted_sum(ctx, io.hn, fx->wh));
    if (c0) loss = seq_add(ctx, loss, weighted_sum(ctx, io.cn, fx->wc));
    seq_params_zero_grad(P);
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    worst = fmax(rel_diff(y->data, fx->y, y->numel), rel_diff(io.hn->data, fx->hn, io.hn->numel));
    if (c0) worst = fmax(worst, rel_diff(io.cn->data, fx->cn, io.cn->numel));
    CHECK_MSG(worst <= 1e-5, "%s form %d: outputs differ by %g", fx->tag, recurrent, worst);
    for (p = 0; p < fx->nparams; p++) {
        seq_tensor *w = seq_params_find(P, fx->params[p].name);
        if (!w) continue;
        worst = rel_diff(w->grad, fx->params[p].grad, w->numel);
        CHECK_MSG(worst <= 1e-5, "%s form %d: %s grad differs by %g", fx->tag, recurrent, w->name, worst);
    }
    ins[0] = x;
    ins[1] = h0;
    ins[2] = c0;
    want[0] = fx->x_grad;
    want[1] = fx->h0_grad;
    want[2] = fx->c0_grad;
    for (k = 0; k < 3; k++) {
        if (!ins[k]) continue;
        worst = rel_diff(ins[k]->grad, want[k], ins[k]->numel);
        CHECK_MSG(worst <= 1e-5, "%s form %d: %s grad differs by %g", fx->tag, recurrent, ins[k]->name, worst);
    }
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* fla's DeltaNet, GatedDeltaNet, GatedDeltaProduct, LinearAttention (elu+1 normalized,
 * identity with the output norm) and ReBased, written as plain PyTorch: same parameter
 * names and shapes, same outputs and gradients, in both forms. */
static void test_delta_pytorch_parity(void) {
    size_t i;
    int form;
    for (i = 0; i < sizeof delta_fixtures / sizeof delta_fixtures[0]; i++)
        for (form = 0; form < 2; form++) check_delta_parity(&delta_fixtures[i], form);
}

void seq_tests_delta(void) {
    RUN(test_delta_core_gradcheck);
    RUN(test_delta_forms_agree);
    RUN(test_delta_segments_equal_separate_runs);
    RUN(test_delta_core_bad_input);
    RUN(test_delta_layers_gradcheck);
    RUN(test_delta_layers_step_matches_forward);
    RUN(test_delta_layers_segments_equal_separate_runs);
    RUN(test_delta_layers_bad_input);
    RUN(test_delta_pytorch_parity);
}
