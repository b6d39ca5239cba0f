/* Quick start (the README's): a character bigram model -- embedding, tanh, linear --
 * trained with AdamW on a line of text, saved as safetensors and loaded back. */
#include <stdio.h>
#include <string.h>
#define SEQ_IMPLEMENTATION
#include "../seq.h"

int main(void) {
    const char *text = "the quick brown fox jumps over the lazy dog. ";
    enum { V = 128, C = 32, T = 44, STEPS = 300 };
    int32_t ids[T], next[T];
    int64_t s_emb[2] = {V, C}, s_head[2] = {V, C}, s_bias[1] = {V}, s_ids[1] = {T};
    seq_rng rng;
    seq_params *P;
    seq_tensor *emb, *head_w, *head_b, *loss = NULL;
    seq_adamw opt;
    seq_ctx *ctx;
    float final_loss = 0.0f;
    int64_t t, step;

    for (t = 0; t < T; t++) { /* predict each character from the one before it */
        ids[t] = (int32_t)text[t];
        next[t] = (int32_t)text[t + 1];
    }
    seq_rng_seed(&rng, 42);
    P = seq_params_init(NULL); /* NULL: the default allocator */
    emb = seq_params_add(P, "emb.weight", 2, s_emb, seq_init_normal(0.0f, 1.0f));
    head_w = seq_params_add(P, "head.weight", 2, s_head, seq_init_xavier_uniform(1.0f));
    head_b = seq_params_add(P, "head.bias", 1, s_bias, seq_init_zeros());
    if (seq_params_alloc(P, &rng) != SEQ_OK || seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK) {
        fprintf(stderr, "quickstart: %s\n", seq_last_error());
        return 1;
    }
    ctx = seq_ctx_init(NULL);

    for (step = 0; step < STEPS; step++) {
        seq_tensor *x, *logits;
        seq_ctx_reset(ctx); /* frees the previous step's activations and tape at once */
        x = seq_tanh(ctx, seq_embedding(ctx, emb, seq_tensor_wrap_i32(ctx, ids, 1, s_ids))); /* (T,C) */
        logits = seq_linear(ctx, x, head_w, head_b);                                         /* (T,V) */
        loss = seq_cross_entropy(ctx, logits, seq_tensor_wrap_i32(ctx, next, 1, s_ids), -1);
        if (seq_ctx_status(ctx) != SEQ_OK) { /* the first failing op and why */
            fprintf(stderr, "quickstart: %s\n", seq_ctx_error(ctx));
            return 1;
        }
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        seq_clip_grad_norm(P, 1.0f);
        seq_adamw_step(&opt, P, seq_lr_wsd(step, STEPS, 3e-2f, 0.05f, 0.2f));
        if (step % 100 == 0) printf("step %3lld  loss %.3f\n", (long long)step, loss->data[0]);
    }
    final_loss = loss->data[0];
    printf("final loss %.3f (uniform guessing: %.3f)\n", final_loss, 4.852f);

    /* one write for all parameters; a fresh model loads them by name */
    if (seq_safetensors_save(P, "/tmp/seq_quickstart.safetensors") != SEQ_OK ||
        seq_safetensors_load(P, "/tmp/seq_quickstart.safetensors") != SEQ_OK) {
        fprintf(stderr, "quickstart: %s\n", seq_last_error());
        return 1;
    }
    printf("saved and reloaded %lld parameters\n", (long long)P->numel);
    remove("/tmp/seq_quickstart.safetensors");
    seq_adamw_free(&opt);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return final_loss < 1.0f ? 0 : 1;
}
