#include "seq_test.h"
#include "../seq.h"

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

void seq_tests_ops(void) {
    RUN(test_linear_add_mul_grad);
    RUN(test_binary_shape_errors);
}
