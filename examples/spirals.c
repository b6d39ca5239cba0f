/* Two spirals: a 2-64-64-2 MLP learns to tell two interleaved spirals apart.
 * The classic hard toy problem for a small network; it needs >= 99% test accuracy.
 *   build/spirals            train, print progress and the final accuracy
 * Exit status 0 only when the held-out accuracy reaches 99%. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#define SEQ_IMPLEMENTATION
#include "../seq.h"

#define PI 3.14159265358979323846
enum { N_PER_CLASS = 1000, HIDDEN = 64, BATCH = 128, STEPS = 3000 };

/* Point i of spiral c at radius in (0,1], 1.75 turns, with a little Gaussian noise. */
static void make_spirals(seq_rng *rng, float *x, int32_t *y, int n_per_class) {
    int c, i;
    for (c = 0; c < 2; c++)
        for (i = 0; i < n_per_class; i++) {
            double r = (i + 1.0) / n_per_class, a = 1.75 * 2.0 * PI * r + c * PI;
            int k = c * n_per_class + i;
            x[2 * k] = (float)(r * cos(a) + seq_rng_normal(rng, 0.0, 0.01));
            x[2 * k + 1] = (float)(r * sin(a) + seq_rng_normal(rng, 0.0, 0.01));
            y[k] = c;
        }
}

typedef struct {
    seq_tensor *w1, *b1, *w2, *b2, *w3, *b3;
} mlp;

static seq_tensor *mlp_forward(seq_ctx *ctx, const mlp *m, seq_tensor *x) {
    seq_tensor *h = seq_tanh(ctx, seq_linear(ctx, x, m->w1, m->b1));
    h = seq_tanh(ctx, seq_linear(ctx, h, m->w2, m->b2));
    return seq_linear(ctx, h, m->w3, m->b3);
}

static double accuracy(seq_ctx *ctx, const mlp *m, float *x, const int32_t *y, int64_t n) {
    int64_t shape[2], i, correct = 0;
    seq_tensor *logits;
    shape[0] = n;
    shape[1] = 2;
    seq_ctx_reset(ctx);
    seq_ctx_set_grad(ctx, 0);
    logits = mlp_forward(ctx, m, seq_tensor_wrap(ctx, x, 2, shape));
    seq_ctx_set_grad(ctx, 1);
    if (!logits) return 0.0;
    for (i = 0; i < n; i++) correct += (logits->data[2 * i + 1] > logits->data[2 * i]) == (y[i] == 1);
    return (double)correct / (double)n;
}

int main(int argc, char **argv) {
    static float xtr[2 * 2 * N_PER_CLASS], xte[2 * 2 * N_PER_CLASS], xb[2 * BATCH];
    static int32_t ytr[2 * N_PER_CLASS], yte[2 * N_PER_CLASS], yb[BATCH];
    const int64_t n = 2 * N_PER_CLASS;
    int quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    int64_t s_w1[2] = {HIDDEN, 2}, s_w2[2] = {HIDDEN, HIDDEN}, s_w3[2] = {2, HIDDEN};
    int64_t s_h[1] = {HIDDEN}, s_o[1] = {2}, s_xb[2] = {BATCH, 2}, s_yb[1] = {BATCH};
    seq_rng rng;
    seq_params *P;
    seq_adamw opt;
    seq_ctx *ctx;
    mlp m;
    int64_t step, i, *perm;
    double acc;

    seq_rng_seed(&rng, 1234);
    make_spirals(&rng, xtr, ytr, N_PER_CLASS);
    make_spirals(&rng, xte, yte, N_PER_CLASS);

    P = seq_params_init(NULL);
    m.w1 = seq_params_add(P, "fc1.weight", 2, s_w1, seq_init_kaiming_uniform(sqrtf(5.0f)));
    m.b1 = seq_params_add(P, "fc1.bias", 1, s_h, seq_init_uniform(-0.5f, 0.5f));
    m.w2 = seq_params_add(P, "fc2.weight", 2, s_w2, seq_init_xavier_uniform(5.0f / 3.0f));
    m.b2 = seq_params_add(P, "fc2.bias", 1, s_h, seq_init_zeros());
    m.w3 = seq_params_add(P, "fc3.weight", 2, s_w3, seq_init_xavier_uniform(1.0f));
    m.b3 = seq_params_add(P, "fc3.bias", 1, s_o, seq_init_zeros());
    if (seq_params_alloc(P, &rng) != SEQ_OK || seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK) {
        fprintf(stderr, "spirals: %s\n", seq_last_error());
        return 1;
    }
    ctx = seq_ctx_init(NULL);
    perm = (int64_t *)malloc((size_t)n * sizeof(int64_t));
    if (!ctx || !perm) return 1;
    seq_rng_permutation(&rng, perm, n);

    for (step = 0; step < STEPS; step++) {
        seq_tensor *loss;
        int64_t off = (step * BATCH) % (n - BATCH + 1);
        if (off < BATCH) seq_rng_shuffle(&rng, perm, n); /* a new epoch */
        for (i = 0; i < BATCH; i++) {
            xb[2 * i] = xtr[2 * perm[off + i]];
            xb[2 * i + 1] = xtr[2 * perm[off + i] + 1];
            yb[i] = ytr[perm[off + i]];
        }
        seq_ctx_reset(ctx);
        loss = seq_cross_entropy(ctx, mlp_forward(ctx, &m, seq_tensor_wrap(ctx, xb, 2, s_xb)),
                                 seq_tensor_wrap_i32(ctx, yb, 1, s_yb), -1);
        seq_params_zero_grad(P);
        if (seq_backward(ctx, loss) != SEQ_OK) {
            fprintf(stderr, "spirals: %s\n", seq_ctx_error(ctx));
            return 1;
        }
        seq_adamw_step(&opt, P, seq_lr_cosine(step, STEPS, 1e-2f, 1e-4f, 100));
        if (!quiet && (step % 500 == 0 || step == STEPS - 1)) {
            float l = loss->data[0]; /* read before accuracy() reuses the arena */
            printf("step %5lld  loss %.4f  train acc %.3f\n", (long long)step, l, accuracy(ctx, &m, xtr, ytr, n));
        }
    }
    acc = accuracy(ctx, &m, xte, yte, n);
    printf("two spirals: held-out accuracy %.2f%% (%lld points)\n", 100.0 * acc, (long long)n);
    free(perm);
    seq_adamw_free(&opt);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return acc >= 0.99 ? 0 : 1;
}
