/* layer_zoo.h — every sequence layer of seq.h behind one interface, and a small token
 * model around any of them, for examples/char_lm.c and bench/tasks.c. Include it after
 * seq.h (with its implementation); everything here is static.
 *
 *     zoo_model m;   zoo_model_init(&m, P, zoo_model_config_default(ZOO_MAMBA, vocab, 64, 2));
 *     seq_params_alloc(P, &rng);  zoo_model_reset_parameters(&m, &rng);
 *     logits = zoo_model_forward(ctx, &m, ids);            (B,T) i32 -> (B,T,vocab)
 *     zoo_model_state st;  zoo_model_state_init(&m, &st, 1);
 *     zoo_model_step(&m, &st, &token, logits_t);           one token per row, no ctx
 *
 * The model is the usual pre-norm residual stack:
 *     x = emb[ids];  per block: x += mixer(rmsnorm(x));  x += mlp(rmsnorm(x)) (mlp_ratio > 0)
 *     logits = rmsnorm(x) W_head^T
 * with mlp(x) = W_down gelu(W_up x + b_up) + b_down. The mixer is any seq.h layer; each keeps
 * d_model channels in and out, with the layer's reference configuration otherwise (heads of
 * 16 channels where a layer has heads). */
#ifndef LAYER_ZOO_H
#define LAYER_ZOO_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define ZOO_FN static __attribute__((unused)) /* a program need not use every function */
#else
#define ZOO_FN static
#endif

typedef enum zoo_kind {
    ZOO_RNN, ZOO_LSTM, ZOO_GRU, ZOO_SLSTM, ZOO_MLSTM, ZOO_MINGRU, ZOO_MINLSTM,
    ZOO_LINEAR_ATTN, ZOO_REBASED, ZOO_DELTANET, ZOO_GATED_DELTANET, ZOO_DELTAPRODUCT,
    ZOO_S4D, ZOO_LSSL, ZOO_H3, ZOO_MAMBA, ZOO_MAMBA2, ZOO_MEGA, ZOO_LRU,
    ZOO_KIND_COUNT
} zoo_kind;

static const char *const zoo_names[ZOO_KIND_COUNT] = {
    "rnn", "lstm", "gru", "slstm", "mlstm", "mingru", "minlstm",
    "linear_attn", "rebased", "deltanet", "gated_deltanet", "deltaproduct",
    "s4d", "lssl", "h3", "mamba", "mamba2", "mega", "lru"};

/* The kind named `name`, or -1. */
ZOO_FN int zoo_kind_from_name(const char *name) {
    int k;
    for (k = 0; k < ZOO_KIND_COUNT; k++)
        if (strcmp(name, zoo_names[k]) == 0) return k;
    return -1;
}

/* --- one mixer layer ---------------------------------------------------------------- */

typedef struct zoo_layer {
    zoo_kind kind;
    union {
        seq_rnn rnn;
        seq_slstm slstm;
        seq_mlstm mlstm;
        seq_minrnn minrnn;
        seq_linear_attn lin;
        seq_deltanet delta;
        seq_s4 s4;
        seq_h3 h3;
        seq_mamba mamba;
        seq_mamba2 mamba2;
        seq_mega_block mega;
        seq_lru_block lru;
    } u;
} zoo_layer;

typedef struct zoo_layer_state {
    zoo_kind kind;
    union {
        seq_rnn_state rnn; /* also the LRU block's */
        seq_slstm_state slstm;
        seq_mlstm_state mlstm;
        seq_minrnn_state minrnn;
        seq_delta_state delta;
        seq_s4_state s4;
        seq_h3_state h3;
        seq_mamba_state mamba;
        seq_mega_block_state mega;
    } u;
} zoo_layer_state;

enum { ZOO_HEAD_DIM = 16 };

ZOO_FN int64_t zoo__heads(int64_t d) { return d >= ZOO_HEAD_DIM ? d / ZOO_HEAD_DIM : 1; }

/* Registers a layer of `kind` mapping d channels to d. */
ZOO_FN seq_status zoo_layer_init(zoo_layer *l, seq_params *P, const char *prefix, zoo_kind kind, int64_t d) {
    int64_t nh = zoo__heads(d);
    l->kind = kind;
    switch (kind) {
    case ZOO_RNN: return seq_rnn_init(&l->u.rnn, P, prefix, seq_rnn_config_default(SEQ_RNN_TANH, d, d));
    case ZOO_LSTM: return seq_rnn_init(&l->u.rnn, P, prefix, seq_lstm_config_default(d, d));
    case ZOO_GRU: return seq_rnn_init(&l->u.rnn, P, prefix, seq_gru_config_default(d, d));
    case ZOO_SLSTM: return seq_slstm_init(&l->u.slstm, P, prefix, seq_slstm_config_default(d, d, nh));
    case ZOO_MLSTM: return seq_mlstm_init(&l->u.mlstm, P, prefix, seq_mlstm_config_default(d, nh));
    case ZOO_MINGRU: return seq_minrnn_init(&l->u.minrnn, P, prefix, seq_mingru_config_default(d, d));
    case ZOO_MINLSTM: return seq_minrnn_init(&l->u.minrnn, P, prefix, seq_minlstm_config_default(d, d));
    case ZOO_LINEAR_ATTN:
        return seq_linear_attn_init(&l->u.lin, P, prefix, seq_linear_attn_config_default(d, nh));
    case ZOO_REBASED: return seq_linear_attn_init(&l->u.lin, P, prefix, seq_rebased_config_default(d, nh));
    case ZOO_DELTANET: return seq_deltanet_init(&l->u.delta, P, prefix, seq_deltanet_config_default(d, nh));
    case ZOO_GATED_DELTANET:
        return seq_deltanet_init(&l->u.delta, P, prefix, seq_gated_deltanet_config_default(d, nh));
    case ZOO_DELTAPRODUCT:
        return seq_deltanet_init(&l->u.delta, P, prefix, seq_deltaproduct_config_default(d, nh, 2));
    case ZOO_S4D: return seq_s4_init(&l->u.s4, P, prefix, seq_s4d_config_default(d, 64));
    case ZOO_LSSL: return seq_s4_init(&l->u.s4, P, prefix, seq_lssl_config_default(d, 16));
    case ZOO_H3: return seq_h3_init(&l->u.h3, P, prefix, seq_h3_config_default(d, 16));
    case ZOO_MAMBA: return seq_mamba_init(&l->u.mamba, P, prefix, seq_mamba_config_default(d));
    case ZOO_MAMBA2: {
        seq_mamba2_config c = seq_mamba2_config_default(d);
        c.d_state = 16; /* Mamba-2's 128 is for d_model in the thousands */
        c.headdim = ZOO_HEAD_DIM;
        c.chunk = 64;
        return seq_mamba2_init(&l->u.mamba2, P, prefix, c);
    }
    case ZOO_MEGA: return seq_mega_block_init(&l->u.mega, P, prefix, seq_mega_block_config_default(d));
    case ZOO_LRU: {
        seq_lru_block_config c = seq_lru_block_config_default(d, d);
        c.lru.r_min = 0.9f; /* the paper's ring for long-range tasks */
        return seq_lru_block_init(&l->u.lru, P, prefix, c);
    }
    default: return seq_set_error(SEQ_ERR_INVALID, "zoo_layer_init: unknown kind %d", (int)kind);
    }
}

/* The reference initializations seq_params_alloc cannot express; once after it. */
ZOO_FN seq_status zoo_layer_reset_parameters(const zoo_layer *l, seq_rng *rng) {
    switch (l->kind) {
    case ZOO_S4D:
    case ZOO_LSSL: return seq_s4_init_A(&l->u.s4);
    case ZOO_H3: return seq_h3_init_A(&l->u.h3);
    case ZOO_MAMBA: return seq_mamba_init_ssm(&l->u.mamba, rng);
    case ZOO_MAMBA2: return seq_mamba2_init_ssm(&l->u.mamba2, rng);
    case ZOO_MEGA: return seq_mega_block_reset_parameters(&l->u.mega, rng);
    case ZOO_LRU: return seq_lru_block_reset_parameters(&l->u.lru, rng);
    default: return SEQ_OK;
    }
}

/* x (B,T,d) -> (B,T,d). */
ZOO_FN seq_tensor *zoo_layer_forward(seq_ctx *ctx, const zoo_layer *l, seq_tensor *x) {
    switch (l->kind) {
    case ZOO_RNN:
    case ZOO_LSTM:
    case ZOO_GRU: return seq_rnn_forward(ctx, &l->u.rnn, x, NULL);
    case ZOO_SLSTM: return seq_slstm_forward(ctx, &l->u.slstm, x, NULL);
    case ZOO_MLSTM: return seq_mlstm_forward(ctx, &l->u.mlstm, x, NULL);
    case ZOO_MINGRU:
    case ZOO_MINLSTM: return seq_minrnn_forward(ctx, &l->u.minrnn, x, NULL);
    case ZOO_LINEAR_ATTN:
    case ZOO_REBASED: return seq_linear_attn_forward(ctx, &l->u.lin, x, NULL);
    case ZOO_DELTANET:
    case ZOO_GATED_DELTANET:
    case ZOO_DELTAPRODUCT: return seq_deltanet_forward(ctx, &l->u.delta, x, NULL);
    case ZOO_S4D:
    case ZOO_LSSL: return seq_s4_forward(ctx, &l->u.s4, x, NULL);
    case ZOO_H3: return seq_h3_forward(ctx, &l->u.h3, x, NULL);
    case ZOO_MAMBA: return seq_mamba_forward(ctx, &l->u.mamba, x, NULL);
    case ZOO_MAMBA2: return seq_mamba2_forward(ctx, &l->u.mamba2, x, NULL);
    case ZOO_MEGA: return seq_mega_block_forward(ctx, &l->u.mega, x, NULL);
    case ZOO_LRU: return seq_lru_block_forward(ctx, &l->u.lru, x, NULL);
    default: seq_ctx_fail(ctx, SEQ_ERR_INVALID, "zoo_layer_forward", "unknown kind %d", (int)l->kind); return NULL;
    }
}

/* A streaming state for `batch` rows; it holds the weights' current values where the layer
 * discretizes them at state init (S4D, LSSL, H3), so make it after training. */
ZOO_FN seq_status zoo_layer_state_init(const zoo_layer *l, zoo_layer_state *st, int64_t batch) {
    st->kind = l->kind;
    switch (l->kind) {
    case ZOO_RNN:
    case ZOO_LSTM:
    case ZOO_GRU: return seq_rnn_state_init(&l->u.rnn, &st->u.rnn, batch);
    case ZOO_SLSTM: return seq_slstm_state_init(&l->u.slstm, &st->u.slstm, batch);
    case ZOO_MLSTM: return seq_mlstm_state_init(&l->u.mlstm, &st->u.mlstm, batch);
    case ZOO_MINGRU:
    case ZOO_MINLSTM: return seq_minrnn_state_init(&l->u.minrnn, &st->u.minrnn, batch);
    case ZOO_LINEAR_ATTN:
    case ZOO_REBASED: return seq_linear_attn_state_init(&l->u.lin, &st->u.delta, batch);
    case ZOO_DELTANET:
    case ZOO_GATED_DELTANET:
    case ZOO_DELTAPRODUCT: return seq_deltanet_state_init(&l->u.delta, &st->u.delta, batch);
    case ZOO_S4D:
    case ZOO_LSSL: return seq_s4_state_init(&l->u.s4, &st->u.s4, batch);
    case ZOO_H3: return seq_h3_state_init(&l->u.h3, &st->u.h3, batch);
    case ZOO_MAMBA: return seq_mamba_state_init(&l->u.mamba, &st->u.mamba, batch);
    case ZOO_MAMBA2: return seq_mamba2_state_init(&l->u.mamba2, &st->u.mamba, batch);
    case ZOO_MEGA: return seq_mega_block_state_init(&l->u.mega, &st->u.mega, batch);
    case ZOO_LRU: return seq_lru_block_state_init(&l->u.lru, &st->u.rnn, batch);
    default: return seq_set_error(SEQ_ERR_INVALID, "zoo_layer_state_init: unknown kind %d", (int)l->kind);
    }
}

ZOO_FN void zoo_layer_state_free(zoo_layer_state *st) {
    switch (st->kind) {
    case ZOO_RNN:
    case ZOO_LSTM:
    case ZOO_GRU: seq_rnn_state_free(&st->u.rnn); break;
    case ZOO_SLSTM: seq_slstm_state_free(&st->u.slstm); break;
    case ZOO_MLSTM: seq_mlstm_state_free(&st->u.mlstm); break;
    case ZOO_MINGRU:
    case ZOO_MINLSTM: seq_minrnn_state_free(&st->u.minrnn); break;
    case ZOO_LINEAR_ATTN:
    case ZOO_REBASED: seq_linear_attn_state_free(&st->u.delta); break;
    case ZOO_DELTANET:
    case ZOO_GATED_DELTANET:
    case ZOO_DELTAPRODUCT: seq_deltanet_state_free(&st->u.delta); break;
    case ZOO_S4D:
    case ZOO_LSSL: seq_s4_state_free(&st->u.s4); break;
    case ZOO_H3: seq_h3_state_free(&st->u.h3); break;
    case ZOO_MAMBA: seq_mamba_state_free(&st->u.mamba); break;
    case ZOO_MAMBA2: seq_mamba2_state_free(&st->u.mamba); break;
    case ZOO_MEGA: seq_mega_block_state_free(&st->u.mega); break;
    case ZOO_LRU: seq_lru_block_state_free(&st->u.rnn); break;
    default: break;
    }
}

/* x_t (B,d) -> y_t (B,d), advancing the state by one step. */
ZOO_FN seq_status zoo_layer_step(const zoo_layer *l, zoo_layer_state *st, const float *x_t, float *y_t) {
    switch (l->kind) {
    case ZOO_RNN:
    case ZOO_LSTM:
    case ZOO_GRU: return seq_rnn_step(&l->u.rnn, &st->u.rnn, x_t, y_t);
    case ZOO_SLSTM: return seq_slstm_step(&l->u.slstm, &st->u.slstm, x_t, y_t);
    case ZOO_MLSTM: return seq_mlstm_step(&l->u.mlstm, &st->u.mlstm, x_t, y_t);
    case ZOO_MINGRU:
    case ZOO_MINLSTM: return seq_minrnn_step(&l->u.minrnn, &st->u.minrnn, x_t, y_t);
    case ZOO_LINEAR_ATTN:
    case ZOO_REBASED: return seq_linear_attn_step(&l->u.lin, &st->u.delta, x_t, y_t);
    case ZOO_DELTANET:
    case ZOO_GATED_DELTANET:
    case ZOO_DELTAPRODUCT: return seq_deltanet_step(&l->u.delta, &st->u.delta, x_t, y_t);
    case ZOO_S4D:
    case ZOO_LSSL: return seq_s4_step(&l->u.s4, &st->u.s4, x_t, y_t);
    case ZOO_H3: return seq_h3_step(&l->u.h3, &st->u.h3, x_t, y_t);
    case ZOO_MAMBA: return seq_mamba_step(&l->u.mamba, &st->u.mamba, x_t, y_t);
    case ZOO_MAMBA2: return seq_mamba2_step(&l->u.mamba2, &st->u.mamba, x_t, y_t);
    case ZOO_MEGA: return seq_mega_block_step(&l->u.mega, &st->u.mega, x_t, y_t);
    case ZOO_LRU: return seq_lru_block_step(&l->u.lru, &st->u.rnn, x_t, y_t);
    default: return seq_set_error(SEQ_ERR_INVALID, "zoo_layer_step: unknown kind %d", (int)l->kind);
    }
}

/* --- the token model ---------------------------------------------------------------- */

enum { ZOO_MAX_LAYERS = 8 };
static const float zoo_norm_eps = 1e-5f;

typedef struct zoo_model_config {
    zoo_kind kind;
    int64_t vocab, d_model;
    int n_layers;  /* 1..ZOO_MAX_LAYERS */
    int mlp_ratio; /* the MLP's width over d_model; 0: no MLP */
} zoo_model_config;

typedef struct zoo_block {
    zoo_layer mix;
    seq_tensor *norm1, *norm2, *up_w, *up_b, *down_w, *down_b; /* MLP ones NULL without it */
} zoo_block;

typedef struct zoo_model {
    zoo_model_config cfg;
    seq_tensor *emb, *norm_f, *head;
    zoo_block blocks[ZOO_MAX_LAYERS];
} zoo_model;

ZOO_FN zoo_model_config zoo_model_config_default(zoo_kind kind, int64_t vocab, int64_t d_model, int n_layers) {
    zoo_model_config c;
    c.kind = kind;
    c.vocab = vocab;
    c.d_model = d_model;
    c.n_layers = n_layers;
    c.mlp_ratio = 2;
    return c;
}

/* seq_params_add under "<a>.<b>" (a name is copied by seq_params_add). */
ZOO_FN seq_tensor *zoo__add(seq_params *P, const char *a, const char *b, int64_t d0, int64_t d1, seq_init init) {
    char name[96];
    int64_t shape[2];
    shape[0] = d0;
    shape[1] = d1;
    snprintf(name, sizeof name, "%s.%s", a, b);
    return seq_params_add(P, name, d1 > 0 ? 2 : 1, shape, init);
}

ZOO_FN seq_status zoo_model_init(zoo_model *m, seq_params *P, zoo_model_config cfg) {
    const int64_t C = cfg.d_model, F = cfg.mlp_ratio * cfg.d_model;
    const seq_init linear = seq_init_kaiming_uniform(2.2360679775f); /* nn.Linear: U(+-1/sqrt(in)) */
    int i;
    seq_status s;
    if (cfg.n_layers < 1 || cfg.n_layers > ZOO_MAX_LAYERS || cfg.vocab < 1 || cfg.d_model < 1 ||
        cfg.mlp_ratio < 0 || (int)cfg.kind < 0 || cfg.kind >= ZOO_KIND_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "zoo_model_init: bad config");
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    m->emb = zoo__add(P, "emb", "weight", cfg.vocab, C, seq_init_normal(0.0f, 1.0f));
    for (i = 0; i < cfg.n_layers; i++) {
        zoo_block *b = &m->blocks[i];
        char pre[32];
        snprintf(pre, sizeof pre, "blocks.%d", i);
        b->norm1 = zoo__add(P, pre, "norm1.weight", C, 0, seq_init_constant(1.0f));
        if (!b->norm1) return seq_last_status();
        snprintf(pre, sizeof pre, "blocks.%d.mix", i);
        if ((s = zoo_layer_init(&b->mix, P, pre, cfg.kind, C)) != SEQ_OK) return s;
        if (F == 0) continue;
        snprintf(pre, sizeof pre, "blocks.%d", i);
        b->norm2 = zoo__add(P, pre, "norm2.weight", C, 0, seq_init_constant(1.0f));
        b->up_w = zoo__add(P, pre, "mlp.up.weight", F, C, linear);
        b->up_b = zoo__add(P, pre, "mlp.up.bias", F, 0, seq_init_zeros());
        b->down_w = zoo__add(P, pre, "mlp.down.weight", C, F, linear);
        b->down_b = zoo__add(P, pre, "mlp.down.bias", C, 0, seq_init_zeros());
        if (!b->norm2 || !b->up_w || !b->up_b || !b->down_w || !b->down_b) return seq_last_status();
    }
    m->norm_f = zoo__add(P, "norm_f", "weight", C, 0, seq_init_constant(1.0f));
    m->head = zoo__add(P, "head", "weight", cfg.vocab, C, linear);
    return m->emb && m->norm_f && m->head ? SEQ_OK : seq_last_status();
}

ZOO_FN seq_status zoo_model_reset_parameters(const zoo_model *m, seq_rng *rng) {
    int i;
    seq_status s;
    for (i = 0; i < m->cfg.n_layers; i++)
        if ((s = zoo_layer_reset_parameters(&m->blocks[i].mix, rng)) != SEQ_OK) return s;
    return SEQ_OK;
}

/* ids (B,T) i32 -> logits (B,T,vocab). */
ZOO_FN seq_tensor *zoo_model_forward(seq_ctx *ctx, const zoo_model *m, seq_tensor *ids) {
    seq_tensor *x = seq_embedding(ctx, m->emb, ids); /* (B,T,C) */
    int i;
    for (i = 0; i < m->cfg.n_layers; i++) {
        const zoo_block *b = &m->blocks[i];
        x = seq_add(ctx, x, zoo_layer_forward(ctx, &b->mix, seq_rmsnorm(ctx, x, b->norm1, zoo_norm_eps)));
        if (b->up_w) {
            seq_tensor *h = seq_gelu(ctx, seq_linear(ctx, seq_rmsnorm(ctx, x, b->norm2, zoo_norm_eps), b->up_w, b->up_b));
            x = seq_add(ctx, x, seq_linear(ctx, h, b->down_w, b->down_b));
        }
    }
    return seq_linear(ctx, seq_rmsnorm(ctx, x, m->norm_f, zoo_norm_eps), m->head, NULL);
}

/* Streaming: every layer's state and the activations of one step, one allocation each. */
typedef struct zoo_model_state {
    int64_t batch;
    zoo_layer_state layers[ZOO_MAX_LAYERS];
    float *x, *n, *y, *h; /* (B,C) residual stream, normalized, mixer output; (B,F) MLP hidden */
} zoo_model_state;

ZOO_FN void zoo_model_state_free(const zoo_model *m, zoo_model_state *st) {
    int i;
    for (i = 0; i < m->cfg.n_layers; i++) zoo_layer_state_free(&st->layers[i]);
    free(st->x);
    memset(st, 0, sizeof *st);
}

ZOO_FN seq_status zoo_model_state_init(const zoo_model *m, zoo_model_state *st, int64_t batch) {
    const int64_t C = m->cfg.d_model, F = m->cfg.mlp_ratio * C;
    int i;
    seq_status s = SEQ_OK;
    memset(st, 0, sizeof *st);
    for (i = 0; i < ZOO_MAX_LAYERS; i++) st->layers[i].kind = ZOO_KIND_COUNT; /* holds nothing yet */
    st->batch = batch;
    st->x = (float *)malloc((size_t)(batch * (3 * C + F)) * sizeof(float));
    if (!st->x) return seq_set_error(SEQ_ERR_NOMEM, "zoo_model_state_init: out of memory");
    st->n = st->x + batch * C;
    st->y = st->n + batch * C;
    st->h = st->y + batch * C;
    for (i = 0; i < m->cfg.n_layers && s == SEQ_OK; i++) {
        s = zoo_layer_state_init(&m->blocks[i].mix, &st->layers[i], batch);
        if (s != SEQ_OK) st->layers[i].kind = ZOO_KIND_COUNT; /* a failed init holds nothing */
    }
    if (s != SEQ_OK) zoo_model_state_free(m, st);
    return s;
}

/* out = rmsnorm(x) * w per row: x, out (B,C), as seq_rmsnorm. */
ZOO_FN void zoo__rmsnorm_rows(const float *x, const float *w, float *out, int64_t B, int64_t C) {
    int64_t b, c;
    for (b = 0; b < B; b++) {
        double ss = 0.0;
        float r;
        for (c = 0; c < C; c++) ss += (double)x[b * C + c] * x[b * C + c];
        r = (float)(1.0 / sqrt(ss / (double)C + zoo_norm_eps));
        for (c = 0; c < C; c++) out[b * C + c] = x[b * C + c] * r * w[c];
    }
}

/* One token per row, tokens (B) -> logits (B,vocab), as zoo_model_forward's step t. */
ZOO_FN seq_status zoo_model_step(const zoo_model *m, zoo_model_state *st, const int32_t *tokens, float *logits) {
    const int64_t B = st->batch, C = m->cfg.d_model, F = m->cfg.mlp_ratio * C, V = m->cfg.vocab;
    int64_t b, j;
    int i;
    seq_status s;
    for (b = 0; b < B; b++) {
        if (tokens[b] < 0 || tokens[b] >= V)
            return seq_set_error(SEQ_ERR_RANGE, "zoo_model_step: token %d outside [0,%lld)", (int)tokens[b], (long long)V);
        memcpy(st->x + b * C, m->emb->data + tokens[b] * C, (size_t)C * sizeof(float));
    }
    for (i = 0; i < m->cfg.n_layers; i++) {
        const zoo_block *bl = &m->blocks[i];
        zoo__rmsnorm_rows(st->x, bl->norm1->data, st->n, B, C);
        if ((s = zoo_layer_step(&bl->mix, &st->layers[i], st->n, st->y)) != SEQ_OK) return s;
        for (j = 0; j < B * C; j++) st->x[j] += st->y[j];
        if (!bl->up_w) continue;
        zoo__rmsnorm_rows(st->x, bl->norm2->data, st->n, B, C);
        for (b = 0; b < B; b++) memcpy(st->h + b * F, bl->up_b->data, (size_t)F * sizeof(float));
        seq_sgemm(0, 1, B, F, C, 1.0f, st->n, C, bl->up_w->data, C, 1.0f, st->h, F);
        for (j = 0; j < B * F; j++) st->h[j] = 0.5f * st->h[j] * (1.0f + erff(st->h[j] * 0.70710678f)); /* gelu */
        for (b = 0; b < B; b++) memcpy(st->y + b * C, bl->down_b->data, (size_t)C * sizeof(float));
        seq_sgemm(0, 1, B, C, F, 1.0f, st->h, F, bl->down_w->data, F, 1.0f, st->y, C);
        for (j = 0; j < B * C; j++) st->x[j] += st->y[j];
    }
    zoo__rmsnorm_rows(st->x, m->norm_f->data, st->n, B, C);
    seq_sgemm(0, 1, B, V, C, 1.0f, st->n, C, m->head->data, C, 0.0f, logits, V);
    return SEQ_OK;
}
#endif
