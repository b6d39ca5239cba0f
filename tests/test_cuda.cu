/* Runner for seq_cuda.h: the runtime's argument and error paths (no device needed), the
 * declarations from C99, then the kernels against their CPU references (SKIP without a
 * device), then the `N passed, N failed` line. */
#define SEQ_CUDA_IMPLEMENTATION
#include "cuda_test.h"

#define HAS(needle) (strstr(seq_last_error(), (needle)) != NULL)

/* The C compiler and nvcc lay the context out alike (C programs link against this TU). */
static void test_ctx_layout_matches_c(void) { CHECK(seq_cuda_test_ctx_size_c() == sizeof(seq_cuda_ctx)); }

/* No device: a clear status naming the function and a context that owns nothing. With a
 * device, an index past the last one is SEQ_ERR_RANGE. */
static void test_ctx_init_without_device(void) {
    seq_cuda_ctx ctx;
    int n = seq_cuda_device_count();
    seq_status s;
    CHECK(n >= 0);
    s = seq_cuda_ctx_init(&ctx, n, 1 << 20);
    CHECK(s == (n == 0 ? SEQ_ERR_UNSUPPORTED : SEQ_ERR_RANGE));
    CHECK(HAS("seq_cuda_ctx_init"));
    CHECK(ctx.cublas == NULL && ctx.stream == NULL && ctx.arena == NULL && ctx.report == NULL);
    seq_cuda_ctx_free(&ctx); /* harmless on a zeroed context */
    seq_cuda_ctx_free(NULL);
    CHECK(seq_cuda_ctx_init(NULL, 0, 0) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_ctx_init(&ctx, -1, 0) == (n == 0 ? SEQ_ERR_UNSUPPORTED : SEQ_ERR_RANGE));
}

/* Every entry point refuses a NULL context with SEQ_ERR_INVALID and its own name. */
static void test_null_ctx(void) {
    float f[64];
    int32_t ids[4] = {0, 0, 0, 0};
    void *p = NULL;
    seq_adamw_config cfg = seq_adamw_config_default();
    seq_sgd_config sgd = seq_sgd_config_default();
    seq_lion_config lion = seq_lion_config_default();
    memset(f, 0, sizeof f);
#define REFUSED(call, name)                                                                    \
    do {                                                                                       \
        CHECK((call) == SEQ_ERR_INVALID);                                                      \
        CHECK_MSG(HAS(name), "%s", seq_last_error());                                          \
    } while (0)
    REFUSED(seq_cuda_sync(NULL), "seq_cuda_sync");
    REFUSED(seq_cuda_set_math(NULL, SEQ_CUDA_MATH_FP32), "seq_cuda_set_math");
    REFUSED(seq_cuda_alloc(NULL, &p, 4), "seq_cuda_alloc");
    REFUSED(seq_cuda_free(NULL, f), "seq_cuda_free");
    REFUSED(seq_cuda_zero(NULL, f, 4), "seq_cuda_zero");
    REFUSED(seq_cuda_upload(NULL, f, f, 4), "seq_cuda_upload");
    REFUSED(seq_cuda_download(NULL, f, f, 4), "seq_cuda_download");
    REFUSED(seq_cuda_download_sync(NULL, f, f, 4), "seq_cuda_download_sync");
    REFUSED(seq_cuda_sgemm(NULL, 0, 0, 2, 2, 2, 1.0f, f, 2, f, 2, 0.0f, f, 2), "seq_cuda_sgemm");
    REFUSED(seq_cuda_sgemm_batched(NULL, 0, 0, 2, 2, 2, 1.0f, f, 2, 4, f, 2, 4, 0.0f, f, 2, 4, 2),
            "seq_cuda_sgemm_batched");
    REFUSED(seq_cuda_binary_fwd(NULL, SEQ_CUDA_ADD, 2, 2, f, f, 0, f), "seq_cuda_binary_fwd");
    REFUSED(seq_cuda_binary_bwd(NULL, SEQ_CUDA_ADD, 2, 2, f, f, 0, f, f, f), "seq_cuda_binary_bwd");
    REFUSED(seq_cuda_act_fwd(NULL, SEQ_CUDA_RELU, 4, f, f), "seq_cuda_act_fwd");
    REFUSED(seq_cuda_act_bwd(NULL, SEQ_CUDA_RELU, 4, f, f, f), "seq_cuda_act_bwd");
    REFUSED(seq_cuda_softmax(NULL, 2, 2, f, f), "seq_cuda_softmax");
    REFUSED(seq_cuda_log_softmax(NULL, 2, 2, f, f), "seq_cuda_log_softmax");
    REFUSED(seq_cuda_softmax_bwd(NULL, 2, 2, f, f, f), "seq_cuda_softmax_bwd");
    REFUSED(seq_cuda_log_softmax_bwd(NULL, 2, 2, f, f, f), "seq_cuda_log_softmax_bwd");
    REFUSED(seq_cuda_attention(NULL, 1, 1, 2, 2, 2, 2, f, f, f, NULL, f, f), "seq_cuda_attention");
    REFUSED(seq_cuda_attention_bwd(NULL, 1, 1, 2, 2, 2, 2, f, f, f, NULL, f, f, f, f, f), "seq_cuda_attention_bwd");
    REFUSED(seq_cuda_layernorm(NULL, 2, 2, f, f, f, 1e-5f, f, f), "seq_cuda_layernorm");
    REFUSED(seq_cuda_rmsnorm(NULL, 2, 2, f, f, 1e-5f, f, f), "seq_cuda_rmsnorm");
    REFUSED(seq_cuda_layernorm_bwd(NULL, 2, 2, f, f, f, f, f, f, f), "seq_cuda_layernorm_bwd");
    REFUSED(seq_cuda_rmsnorm_bwd(NULL, 2, 2, f, f, f, f, f, f), "seq_cuda_rmsnorm_bwd");
    REFUSED(seq_cuda_embedding(NULL, 4, 2, f, 4, ids, f), "seq_cuda_embedding");
    REFUSED(seq_cuda_embedding_bwd(NULL, 4, 2, 4, ids, f, f), "seq_cuda_embedding_bwd");
    REFUSED(seq_cuda_cross_entropy(NULL, 2, 2, f, ids, -100, f, f), "seq_cuda_cross_entropy");
    REFUSED(seq_cuda_adamw_step(NULL, &cfg, 1, 1e-3f, 1.0f, 4, f, f, f, f, NULL), "seq_cuda_adamw_step");
    REFUSED(seq_cuda_sgd_step(NULL, &sgd, 1, 1e-3f, 1.0f, 4, f, f, NULL), "seq_cuda_sgd_step");
    REFUSED(seq_cuda_lion_step(NULL, &lion, 1e-3f, 1.0f, 4, f, f, f), "seq_cuda_lion_step");
    REFUSED(seq_cuda_quant_gemv(NULL, SEQ_QUANT_Q8_0, 1, 32, f, f, f), "seq_cuda_quant_gemv");
    CHECK(seq_cuda_arena_alloc(NULL, 4) == NULL && HAS("seq_cuda_arena_alloc"));
#undef REFUSED
}

/* On a context that was never initialized: bad arguments are SEQ_ERR_INVALID (checked
 * before CUDA is touched), good ones SEQ_ERR_STATE. */
static void test_bad_arguments(void) {
    seq_cuda_ctx ctx;
    float f[64];
    int32_t ids[4] = {0, 0, 0, 0};
    seq_adamw_config cfg = seq_adamw_config_default();
    const float *big = f;
    memset(&ctx, 0, sizeof ctx);
    memset(f, 0, sizeof f);
    /* negative sizes */
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, -1, 2, 2, 1.0f, f, 2, f, 2, 0.0f, f, 2) == SEQ_ERR_INVALID && HAS("negative"));
    CHECK(seq_cuda_binary_fwd(&ctx, SEQ_CUDA_MUL, -2, 2, f, f, 0, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_act_fwd(&ctx, SEQ_CUDA_TANH, -1, f, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_softmax(&ctx, 2, -2, f, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_embedding(&ctx, 4, 2, f, -1, ids, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_cross_entropy(&ctx, -1, 2, f, ids, -100, f, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, 1e-3f, 1.0f, -4, f, f, f, f, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q4_0, -1, 32, f, f, f) == SEQ_ERR_INVALID);
    /* NULL buffers where elements are due; none needed for empty work */
    CHECK(seq_cuda_binary_fwd(&ctx, SEQ_CUDA_ADD, 2, 2, f, NULL, 1, f) == SEQ_ERR_INVALID && HAS("NULL b"));
    CHECK(seq_cuda_act_bwd(&ctx, SEQ_CUDA_SILU, 4, f, f, NULL) == SEQ_ERR_INVALID && HAS("NULL gx"));
    CHECK(seq_cuda_layernorm(&ctx, 2, 2, NULL, f, f, 1e-5f, f, f) == SEQ_ERR_INVALID && HAS("NULL x"));
    CHECK(seq_cuda_rmsnorm_bwd(&ctx, 2, 2, f, NULL, f, f, f, f) == SEQ_ERR_INVALID && HAS("gw without w"));
    CHECK(seq_cuda_cross_entropy(&ctx, 2, 2, f, NULL, -100, f, NULL) == SEQ_ERR_INVALID && HAS("targets"));
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 2, 2, 1.0f, NULL, 2, f, 2, 0.0f, f, 2) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_softmax(&ctx, 0, 0, NULL, NULL) == SEQ_ERR_STATE); /* fine, but no context */
    /* attention: empty keys or heads, NULL arrays, a non-finite scale */
    {
        seq_attention_mask am = seq_attention_mask_none();
        CHECK(seq_cuda_attention(&ctx, 1, 1, 2, 0, 2, 2, f, f, f, NULL, f, f) == SEQ_ERR_INVALID && HAS("Tk"));
        CHECK(seq_cuda_attention(&ctx, 1, -1, 2, 2, 2, 2, f, f, f, NULL, f, f) == SEQ_ERR_INVALID);
        CHECK(seq_cuda_attention(&ctx, 1, 1, 2, 2, 2, 2, f, f, f, NULL, NULL, f) == SEQ_ERR_INVALID && HAS("probs"));
        CHECK(seq_cuda_attention_bwd(&ctx, 1, 1, 2, 2, 2, 2, f, f, f, NULL, f, NULL, f, f, f) == SEQ_ERR_INVALID &&
              HAS("gy"));
        am.scale = NAN;
        CHECK(seq_cuda_attention(&ctx, 1, 1, 2, 2, 2, 2, f, f, f, &am, f, f) == SEQ_ERR_INVALID && HAS("scale"));
        am.scale = 0.0f;
        CHECK(seq_cuda_attention(&ctx, 1, 1, 2, 2, 2, 2, f, f, f, &am, f, f) == SEQ_ERR_STATE);
        CHECK(seq_cuda_attention(&ctx, 0, 1, 2, 2, 2, 2, NULL, NULL, NULL, &am, NULL, NULL) == SEQ_ERR_STATE);
    }
    /* options out of range */
    CHECK(seq_cuda_binary_fwd(&ctx, SEQ_CUDA_BINARY_COUNT, 2, 2, f, f, 0, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_binary_fwd(&ctx, SEQ_CUDA_ADD, 2, 2, f, f, 2, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_set_math(&ctx, SEQ_CUDA_MATH_COUNT) == SEQ_ERR_INVALID && HAS("math mode"));
    CHECK(seq_cuda_layernorm(&ctx, 2, 2, f, f, f, NAN, f, f) == SEQ_ERR_INVALID && HAS("eps"));
    CHECK(seq_cuda_rmsnorm(&ctx, 2, 2, f, f, -1.0f, f, f) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_softmax(&ctx, 2, 0, f, f) == SEQ_ERR_INVALID && HAS("0 columns"));
    /* GEMM's BLAS rules as seq_sgemm; sizes cuBLAS cannot take */
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 3, f, 3, 0.0f, f, 3) == SEQ_ERR_INVALID && HAS("lda"));
    CHECK(seq_cuda_sgemm(&ctx, 1, 1, 2, 3, 4, 1.0f, f, 2, f, 3, 0.0f, f, 3) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, f, 3, 0.0f, f, 2) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, (int64_t)1 << 32, 1, 1, 1.0f, big, 1, f, 1, 0.0f, f, 1) ==
          SEQ_ERR_UNSUPPORTED && HAS("INT_MAX"));
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 3) == SEQ_ERR_STATE);
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 3, 4, 0.0f, NULL, 4, NULL, 3, 0.0f, f, 3) == SEQ_ERR_STATE); /* alpha 0 */
    /* batched: strides, a batch whose outputs overlap (a shared C would be a race) */
    CHECK(seq_cuda_sgemm_batched(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, 8, f, 3, -1, 0.0f, f, 3, 6, 2) == SEQ_ERR_INVALID &&
          HAS("negative stride"));
    CHECK(seq_cuda_sgemm_batched(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, 8, f, 3, 0, 0.0f, f, 3, 5, 2) == SEQ_ERR_INVALID &&
          HAS("overlap"));
    CHECK(seq_cuda_sgemm_batched(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, 8, f, 3, 0, 0.0f, f, 3, 6, -1) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_sgemm_batched(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, 8, f, 3, 0, 0.0f, f, 3, 6, 2) == SEQ_ERR_STATE);
    CHECK(seq_cuda_sgemm_batched(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, 8, f, 3, 0, 0.0f, f, 3, 0, 1) == SEQ_ERR_STATE);
    ctx.math = 7; /* set behind seq_cuda_set_math's back */
    CHECK(seq_cuda_sgemm(&ctx, 0, 0, 2, 3, 4, 1.0f, f, 4, f, 3, 0.0f, f, 3) == SEQ_ERR_INVALID && HAS("ctx->math"));
    ctx.math = SEQ_CUDA_MATH_FP32;
    /* AdamW's hyperparameters as seq_adamw_init checks them */
    cfg.beta1 = 1.0f;
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, 1e-3f, 1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID && HAS("betas"));
    cfg = seq_adamw_config_default();
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, NAN, 1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID && HAS("lr"));
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 0, 1e-3f, 1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID && HAS("1-based"));
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, 1e-3f, -1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_adamw_step(&ctx, NULL, 1, 1e-3f, 1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID);
    cfg.amsgrad = 1;
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, 1e-3f, 1.0f, 4, f, f, f, f, NULL) == SEQ_ERR_INVALID && HAS("vmax"));
    CHECK(seq_cuda_adamw_step(&ctx, &cfg, 1, 1e-3f, 1.0f, 4, f, f, f, f, f) == SEQ_ERR_STATE);
    /* SGD and Lion as seq_sgd_init and seq_lion_init check them */
    {
        seq_sgd_config sgd = seq_sgd_config_default();
        seq_lion_config lion = seq_lion_config_default();
        CHECK(seq_cuda_sgd_step(&ctx, &sgd, 1, 1e-3f, 1.0f, 4, f, f, NULL) == SEQ_ERR_STATE); /* no momentum: no buf */
        sgd.momentum = 0.9f;
        CHECK(seq_cuda_sgd_step(&ctx, &sgd, 1, 1e-3f, 1.0f, 4, f, f, NULL) == SEQ_ERR_INVALID && HAS("buf"));
        sgd.nesterov = 1;
        sgd.dampening = 0.5f;
        CHECK(seq_cuda_sgd_step(&ctx, &sgd, 1, 1e-3f, 1.0f, 4, f, f, f) == SEQ_ERR_INVALID && HAS("nesterov"));
        sgd.dampening = 1.5f;
        CHECK(seq_cuda_sgd_step(&ctx, &sgd, 1, 1e-3f, 1.0f, 4, f, f, f) == SEQ_ERR_INVALID && HAS("dampening"));
        sgd = seq_sgd_config_default();
        CHECK(seq_cuda_sgd_step(&ctx, &sgd, 0, 1e-3f, 1.0f, 4, f, f, NULL) == SEQ_ERR_INVALID && HAS("1-based"));
        CHECK(seq_cuda_sgd_step(&ctx, NULL, 1, 1e-3f, 1.0f, 4, f, f, NULL) == SEQ_ERR_INVALID && HAS("cfg"));
        lion.beta2 = -0.1f;
        CHECK(seq_cuda_lion_step(&ctx, &lion, 1e-3f, 1.0f, 4, f, f, f) == SEQ_ERR_INVALID && HAS("betas"));
        lion = seq_lion_config_default();
        CHECK(seq_cuda_lion_step(&ctx, &lion, INFINITY, 1.0f, 4, f, f, f) == SEQ_ERR_INVALID && HAS("lr"));
        CHECK(seq_cuda_lion_step(&ctx, &lion, 1e-3f, 1.0f, 4, f, f, NULL) == SEQ_ERR_INVALID && HAS("state"));
        CHECK(seq_cuda_lion_step(&ctx, &lion, 1e-3f, 1.0f, 4, f, f, f) == SEQ_ERR_STATE);
    }
    /* quantized GEMV: formats without a kernel, n off the block */
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q6_K, 1, 256, f, f, f) == SEQ_ERR_UNSUPPORTED && HAS("q6_K"));
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_TYPE_COUNT, 1, 256, f, f, f) == SEQ_ERR_UNSUPPORTED);
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q8_0, 1, 33, f, f, f) == SEQ_ERR_INVALID && HAS("block of 32"));
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q4_K, 1, 288, f, f, f) == SEQ_ERR_INVALID && HAS("block of 256"));
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q4_K, 1, 512, NULL, f, f) == SEQ_ERR_INVALID && HAS("NULL W"));
    CHECK(seq_cuda_quant_gemv(&ctx, SEQ_QUANT_Q8_0, 1, 32, f, f, f) == SEQ_ERR_STATE && HAS("not initialized"));
    /* the runtime refuses an uninitialized context */
    CHECK(seq_cuda_sync(&ctx) == SEQ_ERR_STATE);
    CHECK(seq_cuda_upload(&ctx, f, f, 4) == SEQ_ERR_STATE);
    CHECK(seq_cuda_upload(&ctx, NULL, f, 4) == SEQ_ERR_INVALID && HAS("destination"));
}

/* The arena's bump pointer on a host block standing in for device memory (it only does
 * arithmetic on the pointer): 256-byte alignment, the peak, refusal when full, reset. */
static void test_arena_bookkeeping(void) {
    seq_cuda_ctx ctx;
    static unsigned char block[4096];
    unsigned char *a, *b, *c;
    memset(&ctx, 0, sizeof ctx);
    CHECK(seq_cuda_arena_alloc(&ctx, 16) == NULL && seq_last_status() == SEQ_ERR_NOMEM); /* no arena */
    ctx.arena = block;
    ctx.arena_cap = 1000;
    a = (unsigned char *)seq_cuda_arena_alloc(&ctx, 10);
    b = (unsigned char *)seq_cuda_arena_alloc(&ctx, 300);
    CHECK(a == block && b == block + 256);
    CHECK(ctx.arena_used == 556 && ctx.arena_peak == 556);
    c = (unsigned char *)seq_cuda_arena_alloc(&ctx, 1000 - 768 + 1); /* one byte too many */
    CHECK(c == NULL && seq_last_status() == SEQ_ERR_NOMEM && HAS("do not fit"));
    c = (unsigned char *)seq_cuda_arena_alloc(&ctx, 1000 - 768); /* exactly the rest */
    CHECK(c == block + 768 && ctx.arena_used == 1000);
    CHECK(seq_cuda_arena_alloc(&ctx, 1) == NULL); /* aligned start past the end */
    CHECK(seq_cuda_arena_alloc(&ctx, 0) == NULL);
    seq_cuda_arena_reset(&ctx);
    CHECK(ctx.arena_used == 0 && ctx.arena_peak == 1000);
    CHECK(seq_cuda_arena_alloc(&ctx, 8) == block);
    seq_cuda_arena_reset(NULL);
}

/* The GEMV's dequantization (the same function runs on the host) against
 * seq_quant_dequantize, value by value, for each format with a kernel. Both compute
 * d q (or d sc q - dmin m) in f32; only a fused multiply-add may differ, by an ulp. */
static void test_gemv_dequant_matches_seq_quant(void) {
    static const seq_quant_type types[5] = {SEQ_QUANT_Q8_0, SEQ_QUANT_Q4_0, SEQ_QUANT_Q4_K, SEQ_QUANT_MXFP4,
                                            SEQ_QUANT_NF4};
    enum { N = 512 };
    float x[N], ref[N];
    unsigned char q[N * 2];
    seq_rng r;
    int t, i;
    seq_rng_seed(&r, 12);
    for (i = 0; i < N; i++) x[i] = (float)seq_rng_uniform(&r, -3, 3);
    for (t = 0; t < 5; t++) {
        const seq_quant_traits *tr = seq_quant_type_traits(types[t]);
        CHECK(seq_quant_quantize(types[t], x, q, 1, N) == SEQ_OK);
        CHECK(seq_quant_dequantize(types[t], q, ref, 1, N) == SEQ_OK);
        for (i = 0; i < N; i++) {
            int within = i % (int)tr->block;
            const unsigned char *blk = q + (size_t)(i / (int)tr->block) * tr->block_bytes;
            float got = seq_cuda__quant_value((int)types[t], blk, within / 32, within % 32);
            if (!(fabsf(got - ref[i]) <= 1e-6f * (1.0f + fabsf(ref[i])))) {
                CHECK_MSG(0, "%s value %d: %.9g vs seq_quant %.9g", tr->name, i, got, ref[i]);
                break;
            }
        }
    }
}

/* The activations' math (the functions the kernels run) against seq.h's ops on the host:
 * forward, and the derivative against the tape's gradient of sum(f(x)). */
static void test_activation_math_on_host(void) {
    typedef seq_tensor *(*unary_fn)(seq_ctx *, seq_tensor *);
    static const unary_fn ref[SEQ_CUDA_ACT_COUNT] = {seq_relu, seq_gelu_tanh, seq_silu, seq_sigmoid, seq_tanh};
    enum { N = 2001 };
    static float x[N];
    int act, i;
    for (i = 0; i < N; i++) x[i] = -12.0f + 24.0f * (float)i / (N - 1) + 1e-4f; /* no exact 0 for relu */
    x[0] = -90.0f;
    x[N - 1] = 90.0f;
    for (act = 0; act < SEQ_CUDA_ACT_COUNT; act++) {
        int64_t shape[1] = {N};
        seq_ctx *c = seq_ctx_init(NULL);
        seq_tensor *tx = seq_tensor_wrap(c, x, 1, shape), *ty;
        CHECK(seq_tensor_set_requires_grad(c, tx) == SEQ_OK);
        ty = ref[act](c, tx);
        CHECK(ty != NULL && seq_backward(c, seq_sum(c, ty)) == SEQ_OK);
        for (i = 0; i < N; i++) {
            float f = seq_cuda__act(act, x[i]), d = seq_cuda__act_grad(act, x[i]);
            if (!(fabsf(f - ty->data[i]) <= 1e-6f * (1.0f + fabsf(f)) && fabsf(d - tx->grad[i]) <= 1e-6f * (1.0f + fabsf(d)))) {
                CHECK_MSG(0, "activation %d at x = %g: f %.9g vs %.9g, f' %.9g vs %.9g", act, x[i], f, ty->data[i], d,
                          tx->grad[i]);
                break;
            }
        }
        seq_ctx_free(c);
    }
}

/* The optimizers' element update (what the kernel runs per element), with the step
 * constants built as the launches build them, against seq.h's optimizers over three
 * steps: parameters and state. */
static void test_optimizer_math_on_host(void) {
    enum { N = 257 };
    static float grads[3][N], w[N], state[3 * N];
    seq_rng r;
    int kind, step, i;
    seq_rng_seed(&r, 13);
    for (step = 0; step < 3; step++)
        for (i = 0; i < N; i++) grads[step][i] = (float)seq_rng_uniform(&r, -1, 1);
    for (kind = 0; kind < OPT_COUNT; kind++) {
        int64_t shape[1] = {N};
        seq_params *P = seq_params_init(NULL);
        opt_pair o;
        CHECK(seq_params_add(P, "w", 1, shape, seq_init_uniform(-1.0f, 1.0f)) != NULL);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        opt_init(&o, kind, P);
        memcpy(w, P->data, sizeof w);
        memset(state, 0, sizeof state);
        for (step = 0; step < 3; step++) {
            float lr = 1e-2f * (float)(step + 1);
            int adam = kind <= OPT_AMSGRAD, sgd = kind >= OPT_SGD && kind <= OPT_NESTEROV;
            seq_cuda__opt_k k = adam ? seq_cuda__adamw_consts(&o.adam_cfg, step + 1, lr, 1.0f)
                                : sgd ? seq_cuda__sgd_consts(&o.sgd_cfg, step + 1, lr, 1.0f)
                                      : seq_cuda__lion_consts(&o.lion_cfg, lr, 1.0f);
            memcpy(P->grad, grads[step], sizeof w);
            CHECK(opt_cpu_step(&o, P, lr) == SEQ_OK);
            for (i = 0; i < N; i++)
                seq_cuda__opt_elem(&k, grads[step][i], w + i, kind == OPT_SGD ? NULL : state + i,
                                   adam ? state + N + i : NULL, kind == OPT_AMSGRAD ? state + 2 * N + i : NULL);
        }
        for (i = 0; i < N; i++)
            if (!(fabsf(w[i] - P->data[i]) <= 1e-6f * (1.0f + fabsf(w[i])))) {
                CHECK_MSG(0, "optimizer %d w[%d]: %.9g vs seq.h %.9g", kind, i, w[i], P->data[i]);
                break;
            }
        for (i = 0; i < o.st->numel; i++)
            if (!(fabsf(state[i] - o.st->buf[i]) <= 1e-6f * (1.0f + fabsf(state[i])))) {
                CHECK_MSG(0, "optimizer %d state[%d]: %.9g vs seq.h %.9g", kind, i, state[i], o.st->buf[i]);
                break;
            }
        opt_free(&o);
        seq_params_free(P);
    }
}

/* The attention kernels' mask predicate against seq_attention's semantics: with v the
 * identity, seq_attention's output is its probability matrix, and a key is hidden exactly
 * where that probability is 0 (the scores are small, so no visible one underflows).
 * Causal with Tq < Tk and Tq > Tk (rows with every key hidden), key lengths, padding. */
static void test_attention_mask_on_host(void) {
    enum { B = 2, H = 2, D = 4, TMAX = 6 };
    static const int64_t tq[3] = {4, 6, 5}, tk[3] = {6, 4, 5};
    static float q[B * H * TMAX * D], k[B * H * TMAX * D], v[B * H * TMAX * TMAX];
    int32_t lens[B] = {3, 6};
    uint8_t pad[B * TMAX];
    seq_rng r;
    int variant, i;
    seq_rng_seed(&r, 14);
    for (i = 0; i < B * H * TMAX * D; i++) {
        q[i] = (float)seq_rng_uniform(&r, -1, 1);
        k[i] = (float)seq_rng_uniform(&r, -1, 1);
    }
    for (i = 0; i < B * TMAX; i++) pad[i] = (uint8_t)(i % 5 == 2);
    for (variant = 0; variant < 3; variant++) {
        const int64_t Tq = tq[variant], Tk = tk[variant];
        int64_t sq[4] = {B, H, Tq, D}, sk[4] = {B, H, Tk, D}, sv[4] = {B, H, Tk, Tk}, row, j, mism = 0;
        seq_attention_mask am = seq_attention_mask_none();
        seq_cuda__mask m;
        seq_ctx *c = seq_ctx_init(NULL);
        seq_tensor *y;
        for (i = 0; i < B * H * Tk * Tk; i++) v[i] = (i / Tk) % Tk == i % Tk ? 1.0f : 0.0f; /* identity per (b,h) */
        am.causal = variant != 2;
        am.key_lengths = variant == 1 ? NULL : lens;
        am.key_padding = variant == 1 ? pad : NULL;
        lens[1] = (int32_t)Tk;
        y = seq_attention(c, seq_tensor_wrap(c, q, 4, sq), seq_tensor_wrap(c, k, 4, sk), seq_tensor_wrap(c, v, 4, sv),
                          &am);
        CHECK(y != NULL);
        memset(&m, 0, sizeof m);
        m.active = 1;
        m.causal = am.causal;
        m.H = H;
        m.Tq = Tq;
        m.Tk = Tk;
        m.lens = am.key_lengths;
        m.pad = am.key_padding;
        for (row = 0; y && row < B * H * Tq; row++)
            for (j = 0; j < Tk; j++) mism += seq_cuda__hidden(&m, row, j) != (y->data[row * Tk + j] == 0.0f);
        CHECK_MSG(mism == 0, "variant %d: %lld keys disagree", variant, (long long)mism);
        seq_ctx_free(c);
    }
}

void seq_tests_cuda_runtime(void) {
    RUN(test_ctx_layout_matches_c);
    RUN(test_ctx_init_without_device);
    RUN(test_null_ctx);
    RUN(test_bad_arguments);
    RUN(test_arena_bookkeeping);
    RUN(test_gemv_dequant_matches_seq_quant);
    RUN(test_activation_math_on_host);
    RUN(test_optimizer_math_on_host);
    RUN(test_attention_mask_on_host);
}

#ifdef __SANITIZE_ADDRESS__
/* ASan's guard on the gap below its shadow memory collides with the CUDA driver's own
 * mappings on a GPU machine; the sanitized runner turns the guard off by itself. */
extern "C" const char *__asan_default_options(void) { return "protect_shadow_gap=0"; }
#endif

int main(void) {
    seq_tests_cuda_runtime();
    seq_tests_cuda_c();
    seq_tests_cuda_kernels();
    return seq_test_summary();
}
