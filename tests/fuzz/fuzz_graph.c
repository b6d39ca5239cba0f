/* libFuzzer harness, structure-aware: the input is a program that builds a small graph
 * of seq.h ops on random shapes (wrong ones included: mismatched, empty, out-of-range
 * dims and ids, non-finite values, NULL inputs, i32 where f32 belongs), then runs the
 * backward of its sum. Beyond "no sanitizer report" it checks the error contract: an op
 * returning NULL leaves a sticky error on the ctx, every op after it returns NULL, and
 * backward on a failed ctx reports the failure instead of running. */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#include "fuzz.h"

#define POOL 16     /* live tensors a program can refer to */
#define MAX_OPS 24  /* ops per program */

typedef struct prog {
    fuzz_bytes in;
    seq_ctx *ctx;
    seq_rng rng;
    seq_tensor *pool[POOL];
    int n;
} prog;

/* Bytes as values: mostly small finite numbers, sometimes 0, +-Inf or NaN. */
static float value(prog *p) {
    unsigned v = fuzz_u8(&p->in);
    if (v == 255) return NAN;
    if (v == 254) return INFINITY;
    if (v == 253) return -INFINITY;
    return ((float)v - 126.0f) / 32.0f;
}

/* A dim index as a user might pass it: usually valid (negative ones too), sometimes not. */
static int dim(prog *p) { return (int)fuzz_below(&p->in, 11) - 5; }

static void shape(prog *p, int *ndim, int64_t *sh) {
    int d;
    *ndim = (int)fuzz_below(&p->in, 5);
    for (d = 0; d < *ndim; d++) sh[d] = (int64_t)fuzz_below(&p->in, 6) - (fuzz_below(&p->in, 32) == 0);
}

static void push(prog *p, seq_tensor *t) {
    if (!t) return;
    if (p->n < POOL) p->pool[p->n++] = t;
    else p->pool[fuzz_below(&p->in, POOL)] = t;
}

static seq_tensor *leaf(prog *p) {
    int ndim;
    int64_t sh[SEQ_MAX_DIMS], i;
    seq_tensor *t;
    shape(p, &ndim, sh);
    t = seq_tensor_new(p->ctx, SEQ_F32, ndim, sh);
    if (!t) return NULL;
    for (i = 0; i < t->numel; i++) t->data[i] = value(p);
    if (fuzz_below(&p->in, 4)) seq_tensor_set_requires_grad(p->ctx, t);
    return t;
}

/* Class ids shaped like x without its last dim (or a random shape), values around [0,4). */
static seq_tensor *ids_like(prog *p, const seq_tensor *x) {
    int ndim, d;
    int64_t sh[SEQ_MAX_DIMS], i;
    seq_tensor *t;
    if (x && x->ndim >= 1 && fuzz_below(&p->in, 4)) {
        ndim = x->ndim - 1;
        for (d = 0; d < ndim; d++) sh[d] = x->shape[d];
    } else {
        shape(p, &ndim, sh);
    }
    t = seq_tensor_new(p->ctx, SEQ_I32, ndim, sh);
    if (!t) return NULL;
    for (i = 0; i < t->numel; i++) t->idata[i] = (int32_t)fuzz_below(&p->in, 7) - 1;
    return t;
}

/* An operand: a pool tensor, rarely NULL or a fresh leaf. */
static seq_tensor *arg(prog *p) {
    unsigned r = fuzz_below(&p->in, 32);
    if (r == 0) return NULL;
    if (r == 1 || p->n == 0) return leaf(p);
    return p->pool[fuzz_below(&p->in, (unsigned)p->n)];
}

static seq_tensor *apply(prog *p, unsigned op) {
    seq_ctx *c = p->ctx;
    seq_tensor *a = arg(p), *b, *t, *xs[3];
    int ndim;
    int64_t sh[SEQ_MAX_DIMS];
    seq_attention_mask mask = seq_attention_mask_none();
    int32_t lens[6];
    switch (op) {
    case 0: return seq_add(c, a, arg(p));
    case 1: return seq_mul(c, a, arg(p));
    case 2: return seq_sub(c, a, arg(p));
    case 3: return seq_div(c, a, arg(p));
    case 4: b = arg(p); return seq_linear(c, a, b, fuzz_below(&p->in, 2) ? arg(p) : NULL);
    case 5: return seq_mean(c, a);
    case 6: return seq_scale(c, a, value(p));
    case 7: return seq_add_scalar(c, a, value(p));
    case 8: return seq_relu(c, a);
    case 9: return seq_gelu(c, a);
    case 10: return seq_gelu_tanh(c, a);
    case 11: return seq_silu(c, a);
    case 12: return seq_tanh(c, a);
    case 13: return seq_sigmoid(c, a);
    case 14: return seq_softplus(c, a);
    case 15: return seq_exp(c, a);
    case 16: return seq_log(c, a);
    case 17: return seq_softmax(c, a);
    case 18: return seq_log_softmax(c, a);
    case 19: return seq_layernorm(c, a, fuzz_below(&p->in, 2) ? arg(p) : NULL, fuzz_below(&p->in, 2) ? arg(p) : NULL,
                                  fabsf(value(p)) * 1e-3f);
    case 20: return seq_rmsnorm(c, a, fuzz_below(&p->in, 2) ? arg(p) : NULL, 1e-5f);
    case 21: return seq_matmul(c, a, arg(p), (int)fuzz_below(&p->in, 2), (int)fuzz_below(&p->in, 2));
    case 22: shape(p, &ndim, sh); if (ndim && fuzz_below(&p->in, 3) == 0) sh[0] = -1;
             return seq_reshape(c, a, ndim, sh);
    case 23: return seq_transpose(c, a, dim(p), dim(p));
    case 24: xs[0] = a; xs[1] = arg(p); xs[2] = arg(p);
             return seq_concat(c, xs, 1 + (int)fuzz_below(&p->in, 3), dim(p));
    case 25: return seq_slice(c, a, dim(p), (int64_t)fuzz_below(&p->in, 6) - 1, (int64_t)fuzz_below(&p->in, 6));
    case 26: return seq_sum(c, a);
    case 27: return seq_sum_dim(c, a, dim(p), (int)fuzz_below(&p->in, 2));
    case 28: return seq_mean_dim(c, a, dim(p), (int)fuzz_below(&p->in, 2));
    case 29: return seq_embedding(c, a, ids_like(p, NULL));
    case 30: return seq_embedding_pad(c, a, ids_like(p, NULL), (int32_t)fuzz_below(&p->in, 5) - 2);
    case 31: return seq_dropout(c, a, value(p) / 8.0f, fuzz_below(&p->in, 4) ? &p->rng : NULL);
    case 32: b = arg(p); return seq_conv1d_causal(c, a, b, fuzz_below(&p->in, 2) ? arg(p) : NULL);
    case 33: {
        int i;
        mask.causal = (int)fuzz_below(&p->in, 2);
        mask.scale = fuzz_below(&p->in, 4) ? 0.0f : value(p);
        for (i = 0; i < 6; i++) lens[i] = (int32_t)fuzz_below(&p->in, 7) - 1;
        if (a && a->ndim == 4 && a->shape[0] <= 6 && fuzz_below(&p->in, 2)) mask.key_lengths = lens;
        b = arg(p);
        return seq_attention(c, a, b, arg(p), fuzz_below(&p->in, 4) ? &mask : NULL);
    }
    case 34: return seq_cross_entropy(c, a, ids_like(p, a), (int32_t)fuzz_below(&p->in, 3) - 1);
    case 35: return seq_cross_entropy_ex(c, a, ids_like(p, a), -100, value(p) / 4.0f);
    case 36: return seq_bce_with_logits(c, a, arg(p));
    case 37: return seq_mse(c, a, arg(p));
    case 38: return seq_huber(c, a, arg(p), value(p));
    case 39: return seq_bpr(c, a, arg(p));
    case 40: return seq_z_loss(c, a, value(p));
    case 41: return seq_comp_sum_loss(c, a, ids_like(p, a), value(p));
    case 42: return seq_z_normalized_loss(c, a, ids_like(p, a), value(p), value(p));
    case 43: b = arg(p); t = ids_like(p, NULL);
             return seq_sampled_softmax(c, a, b, t, ids_like(p, NULL), NULL);
    default: return ids_like(p, a); /* an i32 tensor in the pool: the wrong dtype for most ops */
    }
}
#define N_OPS 45

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    prog p;
    int i, n_ops;
    seq_tensor *loss;
    memset(&p, 0, sizeof p);
    p.in.p = data;
    p.in.n = size;
    p.ctx = seq_ctx_init(NULL);
    if (!p.ctx) return 0;
    seq_rng_seed(&p.rng, 3);
    for (i = 1 + (int)fuzz_below(&p.in, 3); i > 0; i--) push(&p, leaf(&p));
    n_ops = 1 + (int)fuzz_below(&p.in, MAX_OPS);
    for (i = 0; i < n_ops; i++) {
        int failed_before = seq_ctx_status(p.ctx) != SEQ_OK;
        unsigned op = fuzz_below(&p.in, N_OPS);
        seq_tensor *y = apply(&p, op);
        if (op < N_OPS - 1 && failed_before && y) abort();           /* the error sticks */
        if (op < N_OPS - 1 && !y && seq_ctx_status(p.ctx) == SEQ_OK) abort(); /* NULL says why */
        push(&p, y);
    }
    loss = p.n ? p.pool[p.n - 1] : NULL;
    if (loss && loss->dtype == SEQ_F32 && loss->numel != 1) loss = seq_sum(p.ctx, loss);
    if (seq_ctx_status(p.ctx) != SEQ_OK) {
        if (seq_backward(p.ctx, loss) == SEQ_OK) abort(); /* a failed graph must not run */
    } else if (loss && loss->dtype == SEQ_F32) {
        seq_backward(p.ctx, loss);
    }
    seq_ctx_free(p.ctx);
    return 0;
}
