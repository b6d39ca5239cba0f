/* 14.4: the delta-rule core (linear attention, DeltaNet, gated DeltaNet, DeltaProduct). */
#include "seq_test.h"
#include "../seq.h"

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
            for (i = 0; i < (t1 - t0) * HV; i++) worst = fmax(worst, fabs(ys->data[i] - y->data[(b * 9 + t0) * HV + i]));
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

void seq_tests_delta(void) {
    RUN(test_delta_core_gradcheck);
    RUN(test_delta_forms_agree);
    RUN(test_delta_segments_equal_separate_runs);
    RUN(test_delta_core_bad_input);
}
