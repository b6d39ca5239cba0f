/* Layers: the resettable linear scan and the final-state gather. */
#include "seq_test.h"
#include "../seq.h"

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

void seq_tests_layers(void) {
    RUN(test_scan_gradcheck);
    RUN(test_scan_segments_equal_separate_runs);
    RUN(test_scan_bad_input);
}
