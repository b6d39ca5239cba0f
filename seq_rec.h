/* seq_rec.h — interaction data, sequential recommenders, ranking metrics, serving.
 *
 * stb-style, on top of seq.h: include it anywhere for the declarations; in exactly one
 * C or C++ file
 *     #define SEQ_REC_IMPLEMENTATION
 *     #include "seq_rec.h"
 * (seq.h's own implementation still needs SEQ_IMPLEMENTATION in one file.)
 *
 * Ids: users are 0..n_users-1 and items 1..n_items inside seq_rec; item 0 is the padding
 * id of every batch. Every printed metric names its protocol.
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  interaction data: loaders, id maps, k-core filtering, splits
 *     2  negative sampling and training batches
 *     3  ranking metrics and evaluation protocols
 *     4  baselines: PopRec, ItemKNN, BPR-MF, implicit ALS
 *     5  sequential models: GRU4Rec, SASRec, BERT4Rec, SSM recommender
 *     6  serving: per-user sessions, push and top-K
 */
#ifndef SEQ_REC_H
#define SEQ_REC_H

#include "seq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  interaction data: loaders, id maps, k-core filtering, splits
 * =================================================================================== */

/* Interactions grouped by user, each user's items in time order: user u's sequence is
 * items[off[u] .. off[u+1]). */
typedef struct seq_rec_data {
    int64_t n_users, n_items, n_inter;
    int64_t *off;    /* (n_users+1) */
    int32_t *items;  /* (n_inter) item ids 1..n_items */
    int64_t *times;  /* (n_inter) timestamps, or NULL when the source has none */
    void *alloc_ud;
} seq_rec_data;

/* ===================================================================================
 * 2  negative sampling and training batches
 * =================================================================================== */

/* ===================================================================================
 * 3  ranking metrics and evaluation protocols
 * =================================================================================== */

/* What every model gives the evaluator: scores of all items for n users, each seeing
 * the first hist_len[i] items of its sequence (leave-one-out validation shows len-2,
 * test len-1). scores is (n, n_items+1); column 0, the padding id, is ignored. */
typedef seq_status (*seq_rec_score_fn)(void *model, const seq_rec_data *d, const int64_t *users,
                                       const int64_t *hist_len, int64_t n, float *scores);

/* ===================================================================================
 * 4  baselines: PopRec, ItemKNN, BPR-MF, implicit ALS
 * =================================================================================== */

/* ===================================================================================
 * 5  sequential models: GRU4Rec, SASRec, BERT4Rec, SSM recommender
 * =================================================================================== */

/* Four next-item models behind one struct (as seq.h's one engine per family): an item
 * embedding E shared by input and output (scores are h . E[i]), an encoder, and a loss.
 *     SASRec    (Kang & McAuley 2018) causal self-attention blocks (pre-LN: x + attn(LN x),
 *               x + FFN(LN x), a final LN), learned positions, E scaled by sqrt(dim).
 *               Optional ReaRec (Tang et al. 2025) latent reasoning: the last hidden state,
 *               plus its own position embedding, is appended as a new input K times; the
 *               representation is the mean of the K+1 last states (ReaRec-ERL) and trains
 *               with an extra loss on it at each sequence's last position.
 *     BERT4Rec  (Sun et al. 2019) the same blocks, bidirectional, GELU; cloze training: each
 *               item of the window is replaced by the mask token (id n_items+1) with
 *               probability mask_prob (at least the last one when none is drawn), full
 *               softmax CE on the masked positions; it predicts by appending the mask token.
 *     GRU4Rec   (Hidasi et al. 2016, 2018) a GRU (seq.h seq_rnn) over the embeddings.
 *     SSM       Mamba4Rec / TiM4Rec line: pre-LN residual Mamba-2 (SSD) blocks (seq.h
 *               seq_mamba2); with time_aware, a learned embedding of each interaction's
 *               time gap bucket (floor(log2(1 + gap)) + 1, 0 for the first) joins the input.
 * Losses (each arch takes each, all on every non-padding position):
 *     BCE      -log s(h.E[t]) - log(1 - s(h.E[n])), one uniform negative (SASRec paper)
 *     CE       softmax over the whole catalog ("SASRec+", Klenitskiy & Vasilev 2023)
 *     GBCE     gSASRec (Petrov & Macdonald 2023): k negatives, the positive's term raised to
 *              beta = alpha (t (1 - 1/alpha) + 1/alpha), alpha = k / (n_items - 1)
 *     BPR_MAX  GRU4Rec's: -log sum_j softmax(s_neg)_j s(s_t - s_j) + reg sum_j softmax_j s_j^2
 * Negatives are uniform over 1..n_items, redrawn when equal to the target.
 * Sequences are left-padded with 0; for the recurrent encoders a reset flag at each row's
 * first item starts the state from zeros, so a session that pushes the same items one by
 * one (section 6) reaches the same state. */
typedef enum seq_rec_arch {
    SEQ_REC_SASREC,
    SEQ_REC_BERT4REC,
    SEQ_REC_GRU4REC,
    SEQ_REC_SSM,
    SEQ_REC_ARCH_COUNT
} seq_rec_arch;

typedef enum seq_rec_loss {
    SEQ_REC_LOSS_BCE,
    SEQ_REC_LOSS_CE,
    SEQ_REC_LOSS_GBCE,
    SEQ_REC_LOSS_BPR_MAX,
    SEQ_REC_LOSS_COUNT
} seq_rec_loss;

#define SEQ_REC_MAX_LAYERS 8
#define SEQ_REC_GAP_BUCKETS 40 /* time-gap buckets: 0 (first item), 1 + floor(log2(1 + gap)) */

typedef struct seq_rec_model_config {
    seq_rec_arch arch;
    seq_rec_loss loss;     /* SASRec: BCE; the others: CE */
    int64_t n_items;       /* catalog: ids 1..n_items */
    int64_t max_len;       /* L: items seen per sequence (50) */
    int64_t dim;           /* embedding and hidden size (64) */
    int64_t n_layers;      /* blocks or GRU layers (2; GRU4Rec 1), <= SEQ_REC_MAX_LAYERS */
    int64_t n_heads;       /* attention heads, dividing dim (SASRec 1, BERT4Rec 2) */
    int64_t n_neg;         /* negatives per position: BCE 1, GBCE 128, BPR_MAX 64 */
    int64_t reason_steps;  /* ReaRec steps K (SASRec only; 0: off) */
    int64_t d_state;       /* SSM state size N (32) */
    int time_aware;        /* SSM: time-gap embedding (needs timestamps) */
    float dropout;         /* 0.2 */
    float gbce_t;          /* gSASRec's calibration t in [0,1] (0.75) */
    float bpr_max_reg;     /* BPR-max's score regularization (1) */
    float mask_prob;       /* BERT4Rec's cloze probability (0.2) */
    float lr;              /* Adam (1e-3) */
    float weight_decay;    /* decoupled (0) */
    int64_t batch;         /* sequences per step (128) */
    uint64_t seed;         /* init, dropout, negatives, shuffling (42) */
} seq_rec_model_config;

/* One pre-LN block: attention + FFN (transformers) or a Mamba-2 block (SSM). */
typedef struct seq_rec_block {
    seq_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    seq_tensor *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo; /* (dim,dim), (dim) */
    seq_tensor *w1, *b1, *w2, *b2;                     /* FFN dim -> dim -> dim */
    seq_mamba2 ssm;
} seq_rec_block;

typedef struct seq_rec_model {
    seq_rec_model_config cfg;
    void *alloc_ud;
    seq_params *P;
    seq_adamw opt;
    seq_ctx *ctx;            /* training and scoring graphs */
    seq_rng rng;
    seq_tensor *item_emb;    /* "item_emb" (n_items+2, dim): 0 padding, n_items+1 mask */
    seq_tensor *pos_emb;     /* "pos_emb" (max_len + reason_steps, dim): transformers */
    seq_tensor *gap_emb;     /* "gap_emb" (SEQ_REC_GAP_BUCKETS, dim): time-aware SSM */
    seq_tensor *ln_w, *ln_b; /* "ln_f": the final layer norm (not GRU4Rec) */
    seq_rec_block blocks[SEQ_REC_MAX_LAYERS]; /* "blocks.<i>.*" */
    seq_rnn gru;             /* "gru.*" */
} seq_rec_model;

/* Called after each training step: sequences done so far, their total, the mean loss. */
typedef void (*seq_rec_progress_fn)(void *ud, int64_t done, int64_t total, float loss);

SEQDEF seq_rec_model_config seq_rec_model_config_default(seq_rec_arch arch, int64_t n_items);
/* NULL on a bad config (seq_last_error() says which field) or no memory. */
SEQDEF seq_rec_model *seq_rec_model_init(seq_rec_model_config cfg, void *alloc_ud);
SEQDEF void seq_rec_model_free(seq_rec_model *m);
/* Training loss of B windows of max_len+1 item ids (B, max_len+1), left-padded with 0:
 * causal models read positions 0..L-1 and predict 1..L; BERT4Rec masks positions 1..L.
 * times: the same layout of timestamps, or NULL (required by a time-aware SSM). Records
 * on ctx (train mode: dropout on); ids outside [0,n_items] fail the ctx (SEQ_ERR_RANGE). */
SEQDEF seq_tensor *seq_rec_model_loss(seq_rec_model *m, seq_ctx *ctx, const int32_t *windows, const int64_t *times,
                                      int64_t B);
/* One pass over the users in shuffled order, each contributing its last max_len+1 items
 * among the first train_len[u] (NULL: all; leave-one-out training passes len-2); users
 * with fewer than 2 are skipped. Adam step per batch. progress may be NULL; *mean_loss
 * (may be NULL) gets the epoch's mean. */
SEQDEF seq_status seq_rec_model_train_epoch(seq_rec_model *m, const seq_rec_data *d, const int64_t *train_len,
                                            seq_rec_progress_fn progress, void *progress_ud, float *mean_loss);
/* The seq_rec_score_fn of every model (model is a seq_rec_model *): the representation
 * after each user's first hist_len[i] items (the last max_len of them) dotted with every
 * item embedding. */
SEQDEF seq_status seq_rec_model_score(void *model, const seq_rec_data *d, const int64_t *users,
                                      const int64_t *hist_len, int64_t n, float *scores);
/* Representations of B windows (B, max_len) of item ids left-padded with 0 (times as in
 * seq_rec_model_loss) into out (B, dim), inference mode: the vector every item score is
 * the dot product with. BERT4Rec reads the last max_len-1 ids and appends its mask. */
SEQDEF seq_status seq_rec_model_represent(seq_rec_model *m, const int32_t *ids, const int64_t *times, int64_t B,
                                          float *out);
/* Parameters as safetensors with the config in the metadata; load rebuilds the model. */
SEQDEF seq_status seq_rec_model_save(const seq_rec_model *m, const char *path);
SEQDEF seq_rec_model *seq_rec_model_load(const char *path, void *alloc_ud);
SEQDEF const char *seq_rec_arch_name(seq_rec_arch a); /* "SASRec", ...; "?" out of range */
SEQDEF const char *seq_rec_loss_name(seq_rec_loss l); /* "BCE", "CE", "gBCE", "BPR-max" */

/* ===================================================================================
 * 6  serving: per-user sessions, push and top-K
 * =================================================================================== */

/* A user's live session with a trained model: push events as they happen, ask for the
 * top K at any time.
 *   GRU4Rec, SSM   push is O(1) in the history: one step of each layer's streaming API
 *                  (seq_rnn_step, seq_mamba2_step) on the caller-owned state; the state
 *                  carries the whole history, not only the last max_len items.
 *   SASRec, BERT4Rec  push appends to a window of the last max_len items; topk re-encodes
 *                  it (seq_rec_model_represent, on the model's ctx: one thread per model).
 * topk scores every item against the representation (one GEMV over the item embeddings)
 * and keeps the best k in a heap: O(n_items log k). The model must outlive the session
 * and not change while a GRU4Rec or SSM session is open on it (its state came from the
 * old weights). */
typedef struct seq_rec_session {
    seq_rec_model *model;  /* borrowed */
    void *alloc_ud;
    int64_t count;         /* events since the last reset */
    int64_t last_time;     /* the last event's timestamp */
    int32_t *recent;       /* (max_len) the last items, left-padded with 0 */
    int64_t *recent_times; /* (max_len) their timestamps */
    uint8_t *seen;         /* (n_items+1) 1 for every item pushed since the reset */
    float *rep;            /* (dim) the representation after the last push */
    float *x, *y;          /* (dim) one step's activations */
    float *scores;         /* (n_items+1) */
    int rep_stale;         /* attention models: rep waits for the next topk */
    seq_rnn_state gru;
    seq_mamba_state ssm[SEQ_REC_MAX_LAYERS];
} seq_rec_session;

/* NULL (seq_last_error() says why) on a NULL model or no memory. */
SEQDEF seq_rec_session *seq_rec_session_new(seq_rec_model *m, void *alloc_ud);
SEQDEF void seq_rec_session_free(seq_rec_session *s);
SEQDEF void seq_rec_session_reset(seq_rec_session *s); /* a new user: no history */
/* One event: item in [1, n_items] (SEQ_ERR_RANGE otherwise; the session is unchanged),
 * timestamp used by time-aware models (any value for the others). */
SEQDEF seq_status seq_rec_session_push(seq_rec_session *s, int32_t item, int64_t timestamp);
/* The k best items, best first, into ids (k) and scores (k, may be NULL); *n_found (may be
 * NULL) gets how many were written (fewer than k when fewer candidates remain). Excluded:
 * the padding id, every pushed item when exclude_seen, and exclude[0..n_exclude) (ids out
 * of range are SEQ_ERR_RANGE). Ties go to the smaller id. */
SEQDEF seq_status seq_rec_session_topk(seq_rec_session *s, int64_t k, int exclude_seen, const int32_t *exclude,
                                       int64_t n_exclude, int32_t *ids, float *scores, int64_t *n_found);
/* The current representation (dim floats, valid until the next push). */
SEQDEF const float *seq_rec_session_representation(seq_rec_session *s);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_REC_H */

#ifdef SEQ_REC_IMPLEMENTATION
#ifndef SEQ_REC_IMPLEMENTATION_DONE
#define SEQ_REC_IMPLEMENTATION_DONE

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ===================================================================================
 * 1  interaction data (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 2  negative sampling and training batches (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 3  ranking metrics and evaluation protocols (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 4  baselines (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 5  sequential models (implementation)
 * =================================================================================== */

/* The default allocator, as seq.h's implementation sets it up, for a translation unit
 * that implements seq_rec.h without seq.h. */
#if !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#include <stdlib.h>
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#endif

SEQDEF const char *seq_rec_arch_name(seq_rec_arch a) {
    static const char *const names[SEQ_REC_ARCH_COUNT] = {"SASRec", "BERT4Rec", "GRU4Rec", "SSM"};
    return (int)a >= 0 && a < SEQ_REC_ARCH_COUNT ? names[a] : "?";
}

SEQDEF const char *seq_rec_loss_name(seq_rec_loss l) {
    static const char *const names[SEQ_REC_LOSS_COUNT] = {"BCE", "CE", "gBCE", "BPR-max"};
    return (int)l >= 0 && l < SEQ_REC_LOSS_COUNT ? names[l] : "?";
}

SEQDEF seq_rec_model_config seq_rec_model_config_default(seq_rec_arch arch, int64_t n_items) {
    seq_rec_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.loss = arch == SEQ_REC_SASREC ? SEQ_REC_LOSS_BCE : SEQ_REC_LOSS_CE;
    c.n_items = n_items;
    c.max_len = 50;
    c.dim = 64;
    c.n_layers = arch == SEQ_REC_GRU4REC ? 1 : 2;
    c.n_heads = arch == SEQ_REC_BERT4REC ? 2 : 1;
    c.n_neg = 1;
    c.d_state = 32;
    c.dropout = 0.2f;
    c.gbce_t = 0.75f;
    c.bpr_max_reg = 1.0f;
    c.mask_prob = 0.2f;
    c.lr = 1e-3f;
    c.batch = 128;
    c.seed = 42;
    return c;
}

static int seq_rec__is_transformer(const seq_rec_model *m) {
    return m->cfg.arch == SEQ_REC_SASREC || m->cfg.arch == SEQ_REC_BERT4REC;
}

static seq_status seq_rec__check_config(const seq_rec_model_config *c) {
    static const char fn[] = "seq_rec_model_init";
    if ((int)c->arch < 0 || c->arch >= SEQ_REC_ARCH_COUNT) return seq_set_error(SEQ_ERR_INVALID, "%s: unknown arch %d", fn, (int)c->arch);
    if ((int)c->loss < 0 || c->loss >= SEQ_REC_LOSS_COUNT) return seq_set_error(SEQ_ERR_INVALID, "%s: unknown loss %d", fn, (int)c->loss);
    if (c->n_items < 1 || c->n_items > INT32_MAX - 2) return seq_set_error(SEQ_ERR_INVALID, "%s: n_items %lld outside [1, 2^31-3]", fn, (long long)c->n_items);
    if (c->max_len < 2 || c->dim < 1 || c->batch < 1) return seq_set_error(SEQ_ERR_INVALID, "%s: max_len (>= 2), dim and batch (>= 1) must be positive", fn);
    if (c->n_layers < 1 || c->n_layers > SEQ_REC_MAX_LAYERS) return seq_set_error(SEQ_ERR_INVALID, "%s: n_layers %lld outside [1,%d]", fn, (long long)c->n_layers, SEQ_REC_MAX_LAYERS);
    if (c->n_heads < 1 || c->dim % c->n_heads != 0) return seq_set_error(SEQ_ERR_INVALID, "%s: n_heads %lld must divide dim %lld", fn, (long long)c->n_heads, (long long)c->dim);
    if (c->loss != SEQ_REC_LOSS_CE && c->n_neg < 1) return seq_set_error(SEQ_ERR_INVALID, "%s: %s needs n_neg >= 1", fn, seq_rec_loss_name(c->loss));
    if (c->reason_steps < 0 || (c->reason_steps > 0 && c->arch != SEQ_REC_SASREC)) return seq_set_error(SEQ_ERR_INVALID, "%s: reason_steps (ReaRec) is a SASRec option, >= 0", fn);
    if (c->arch == SEQ_REC_SSM && (c->d_state < 1 || (2 * c->dim) % 16 != 0)) return seq_set_error(SEQ_ERR_INVALID, "%s: the SSM needs d_state >= 1 and dim a multiple of 8", fn);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->gbce_t >= 0.0f && c->gbce_t <= 1.0f) || !(c->mask_prob > 0.0f && c->mask_prob < 1.0f) || !(c->lr >= 0.0f) || !(c->weight_decay >= 0.0f) || !(c->bpr_max_reg >= 0.0f))
        return seq_set_error(SEQ_ERR_INVALID, "%s: dropout in [0,1), gbce_t in [0,1], mask_prob in (0,1), lr, weight_decay, bpr_max_reg >= 0 (finite)", fn);
    return SEQ_OK;
}

/* Registers a (rows, cols) matrix, or a vector when cols == 0. */
static seq_tensor *seq_rec__param(seq_params *P, const char *prefix, const char *name, int64_t rows, int64_t cols,
                                  seq_init init) {
    char full[96];
    int64_t shape[2];
    shape[0] = rows;
    shape[1] = cols;
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return seq_params_add(P, full, cols ? 2 : 1, shape, init);
}

static int seq_rec__add_block(seq_rec_model *m, seq_rec_block *b, int64_t i) {
    char prefix[48];
    int64_t D = m->cfg.dim;
    seq_params *P = m->P;
    seq_init w = seq_init_xavier_normal(1.0f), z = seq_init_zeros(), one = seq_init_constant(1.0f);
    snprintf(prefix, sizeof prefix, "blocks.%lld.", (long long)i);
    b->ln1_w = seq_rec__param(P, prefix, "ln1.weight", D, 0, one);
    b->ln1_b = seq_rec__param(P, prefix, "ln1.bias", D, 0, z);
    if (m->cfg.arch == SEQ_REC_SSM) {
        seq_mamba2_config mc = seq_mamba2_config_default(D);
        mc.d_state = m->cfg.d_state;
        mc.headdim = 16;
        mc.chunk = 64;
        snprintf(prefix, sizeof prefix, "blocks.%lld.ssm", (long long)i);
        return b->ln1_w && b->ln1_b && seq_mamba2_init(&b->ssm, P, prefix, mc) == SEQ_OK;
    }
    b->ln2_w = seq_rec__param(P, prefix, "ln2.weight", D, 0, one);
    b->ln2_b = seq_rec__param(P, prefix, "ln2.bias", D, 0, z);
    b->wq = seq_rec__param(P, prefix, "attn.q.weight", D, D, w);
    b->bq = seq_rec__param(P, prefix, "attn.q.bias", D, 0, z);
    b->wk = seq_rec__param(P, prefix, "attn.k.weight", D, D, w);
    b->bk = seq_rec__param(P, prefix, "attn.k.bias", D, 0, z);
    b->wv = seq_rec__param(P, prefix, "attn.v.weight", D, D, w);
    b->bv = seq_rec__param(P, prefix, "attn.v.bias", D, 0, z);
    b->wo = seq_rec__param(P, prefix, "attn.out.weight", D, D, w);
    b->bo = seq_rec__param(P, prefix, "attn.out.bias", D, 0, z);
    b->w1 = seq_rec__param(P, prefix, "ffn.1.weight", D, D, w);
    b->b1 = seq_rec__param(P, prefix, "ffn.1.bias", D, 0, z);
    b->w2 = seq_rec__param(P, prefix, "ffn.2.weight", D, D, w);
    b->b2 = seq_rec__param(P, prefix, "ffn.2.bias", D, 0, z);
    return b->ln1_w && b->ln1_b && b->ln2_w && b->ln2_b && b->wq && b->bq && b->wk && b->bk && b->wv && b->bv &&
           b->wo && b->bo && b->w1 && b->b1 && b->w2 && b->b2;
}

static int seq_rec__add_params(seq_rec_model *m) {
    const seq_rec_model_config *c = &m->cfg;
    seq_init w = seq_init_xavier_normal(1.0f);
    int64_t i;
    m->item_emb = seq_rec__param(m->P, "", "item_emb", c->n_items + 2, c->dim, w);
    if (!m->item_emb) return 0;
    if (c->arch == SEQ_REC_GRU4REC) {
        seq_rnn_config rc = seq_gru_config_default(c->dim, c->dim);
        rc.num_layers = (int)c->n_layers;
        return seq_rnn_init(&m->gru, m->P, "gru", rc) == SEQ_OK;
    }
    if (seq_rec__is_transformer(m) && !(m->pos_emb = seq_rec__param(m->P, "", "pos_emb", c->max_len + c->reason_steps, c->dim, w)))
        return 0;
    if (c->time_aware && !(m->gap_emb = seq_rec__param(m->P, "", "gap_emb", SEQ_REC_GAP_BUCKETS, c->dim, w))) return 0;
    for (i = 0; i < c->n_layers; i++)
        if (!seq_rec__add_block(m, &m->blocks[i], i)) return 0;
    m->ln_w = seq_rec__param(m->P, "", "ln_f.weight", c->dim, 0, seq_init_constant(1.0f));
    m->ln_b = seq_rec__param(m->P, "", "ln_f.bias", c->dim, 0, seq_init_zeros());
    return m->ln_w && m->ln_b;
}

SEQDEF seq_rec_model *seq_rec_model_init(seq_rec_model_config cfg, void *alloc_ud) {
    seq_rec_model *m;
    seq_adamw_config oc = seq_adamw_config_default();
    int64_t i;
    if (seq_rec__check_config(&cfg) != SEQ_OK) return NULL;
    m = (seq_rec_model *)SEQ_MALLOC(alloc_ud, sizeof *m);
    if (!m) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_model_init: out of memory");
        return NULL;
    }
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    m->alloc_ud = alloc_ud;
    seq_rng_seed(&m->rng, cfg.seed);
    oc.weight_decay = cfg.weight_decay;
    m->P = seq_params_init(alloc_ud);
    m->ctx = seq_ctx_init(alloc_ud);
    if (!m->P || !m->ctx || !seq_rec__add_params(m) || seq_params_alloc(m->P, &m->rng) != SEQ_OK ||
        seq_adamw_init(&m->opt, m->P, oc) != SEQ_OK) {
        seq_rec_model_free(m);
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_model_init: out of memory");
        return NULL;
    }
    if (cfg.arch == SEQ_REC_SSM)
        for (i = 0; i < cfg.n_layers; i++) seq_mamba2_init_ssm(&m->blocks[i].ssm, &m->rng);
    /* the padding row stays zero: no input position reads anything from it */
    memset(m->item_emb->data, 0, (size_t)cfg.dim * sizeof(float));
    return m;
}

SEQDEF void seq_rec_model_free(seq_rec_model *m) {
    if (!m) return;
    if (m->opt.st.buf) seq_adamw_free(&m->opt);
    seq_ctx_free(m->ctx);
    seq_params_free(m->P);
    SEQ_FREE(m->alloc_ud, m);
}

/* --- the encoders -------------------------------------------------------------------- */

/* Time gap -> bucket 1 + floor(log2(1 + gap)) (0 for a row's first item or a gap < 0). */
static int32_t seq_rec__gap_bucket(int64_t gap) {
    int32_t b = 1;
    uint64_t g = gap > 0 ? (uint64_t)gap + 1 : 1;
    while (g > 1 && b < SEQ_REC_GAP_BUCKETS - 1) {
        g >>= 1;
        b++;
    }
    return gap >= 0 ? b : 0;
}

/* What every layer needs besides the ids: where the padding is and where items start. */
typedef struct seq_rec__layout {
    int64_t B, T;
    uint8_t *pad;    /* (B,T): 1 on padding */
    uint8_t *resets; /* (B,T): 1 at each row's first item */
} seq_rec__layout;

static seq_rec__layout seq_rec__layout_of(seq_ctx *ctx, const int32_t *ids, int64_t B, int64_t T) {
    seq_rec__layout lay;
    int64_t b, t;
    lay.B = B;
    lay.T = T;
    lay.pad = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * T));
    lay.resets = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * T));
    if (!lay.pad || !lay.resets) return lay;
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            lay.pad[b * T + t] = ids[b * T + t] == 0;
            lay.resets[b * T + t] = ids[b * T + t] != 0 && (t == 0 || ids[b * T + t - 1] == 0);
        }
    return lay;
}

/* ids (B,T) [times (B,T)] -> x (B,T,D): item embeddings (times sqrt(D) under attention),
 * positions, time gaps, dropout when training. */
static seq_tensor *seq_rec__embed(seq_rec_model *m, seq_ctx *ctx, const int32_t *ids, const int64_t *times, int64_t B,
                                  int64_t T, int train) {
    int64_t shape[2], i;
    seq_tensor *idt, *x;
    shape[0] = B;
    shape[1] = T;
    idt = seq_tensor_new(ctx, SEQ_I32, 2, shape);
    if (!idt) return NULL;
    memcpy(idt->idata, ids, (size_t)(B * T) * sizeof(int32_t));
    x = seq_embedding_pad(ctx, m->item_emb, idt, 0);
    if (seq_rec__is_transformer(m)) {
        x = seq_scale(ctx, x, sqrtf((float)m->cfg.dim));
        x = seq_add(ctx, x, seq_slice(ctx, m->pos_emb, 0, 0, T));
    }
    if (m->gap_emb) {
        seq_tensor *gaps = seq_tensor_new(ctx, SEQ_I32, 2, shape);
        if (!gaps) return NULL;
        for (i = 0; i < B * T; i++)
            gaps->idata[i] = i % T && ids[i - 1] ? seq_rec__gap_bucket(times[i] - times[i - 1]) : 0;
        x = seq_add(ctx, x, seq_embedding(ctx, m->gap_emb, gaps));
    }
    return seq_dropout(ctx, x, m->cfg.dropout, train ? &m->rng : NULL);
}

/* x (B,T,D) -> multi-head attention (B,T,D) over the keys pad leaves visible. */
static seq_tensor *seq_rec__attention(seq_rec_model *m, seq_ctx *ctx, const seq_rec_block *b, seq_tensor *x,
                                      const uint8_t *pad) {
    int64_t B, T, H = m->cfg.n_heads, heads[4];
    seq_tensor *q, *k, *v, *y;
    seq_attention_mask mask = seq_attention_mask_none();
    if (!x) return NULL; /* the ctx has failed already */
    B = x->shape[0];
    T = x->shape[1];
    mask.causal = m->cfg.arch == SEQ_REC_SASREC;
    mask.key_padding = pad;
    heads[0] = B;
    heads[1] = T;
    heads[2] = H;
    heads[3] = m->cfg.dim / H;
    /* (B,T,D) -> (B,H,T,D/H) */
    q = seq_transpose(ctx, seq_reshape(ctx, seq_linear(ctx, x, b->wq, b->bq), 4, heads), 1, 2);
    k = seq_transpose(ctx, seq_reshape(ctx, seq_linear(ctx, x, b->wk, b->bk), 4, heads), 1, 2);
    v = seq_transpose(ctx, seq_reshape(ctx, seq_linear(ctx, x, b->wv, b->bv), 4, heads), 1, 2);
    y = seq_transpose(ctx, seq_attention(ctx, q, k, v, &mask), 1, 2);
    return seq_linear(ctx, seq_reshape(ctx, y, 3, x->shape), b->wo, b->bo);
}

/* x (B,T,D) -> h (B,T,D): the blocks (or the GRU) and the final layer norm. */
static seq_tensor *seq_rec__body(seq_rec_model *m, seq_ctx *ctx, seq_tensor *x, const seq_rec__layout *lay, int train) {
    float p = m->cfg.dropout;
    seq_rng *rng = train ? &m->rng : NULL;
    seq_rnn_io io;
    int64_t i;
    memset(&io, 0, sizeof io);
    io.resets = lay->resets;
    if (m->cfg.arch == SEQ_REC_GRU4REC) return seq_rnn_forward(ctx, &m->gru, x, &io);
    for (i = 0; i < m->cfg.n_layers; i++) {
        const seq_rec_block *b = &m->blocks[i];
        seq_tensor *a = seq_layernorm(ctx, x, b->ln1_w, b->ln1_b, 1e-5f);
        if (m->cfg.arch == SEQ_REC_SSM) {
            x = seq_add(ctx, x, seq_dropout(ctx, seq_mamba2_forward(ctx, &b->ssm, a, &io), p, rng));
            continue;
        }
        x = seq_add(ctx, x, seq_dropout(ctx, seq_rec__attention(m, ctx, b, a, lay->pad), p, rng));
        a = seq_linear(ctx, seq_layernorm(ctx, x, b->ln2_w, b->ln2_b, 1e-5f), b->w1, b->b1);
        a = m->cfg.arch == SEQ_REC_BERT4REC ? seq_gelu(ctx, a) : seq_relu(ctx, a);
        x = seq_add(ctx, x, seq_dropout(ctx, seq_linear(ctx, a, b->w2, b->b2), p, rng));
    }
    return seq_layernorm(ctx, x, m->ln_w, m->ln_b, 1e-5f);
}

/* h (B,T,D) -> its last position (B,D). */
static seq_tensor *seq_rec__last(seq_ctx *ctx, seq_tensor *h) {
    int64_t shape[2];
    if (!h) return NULL;
    shape[0] = h->shape[0];
    shape[1] = h->shape[2];
    return seq_reshape(ctx, seq_slice(ctx, h, 1, h->shape[1] - 1, h->shape[1]), 2, shape);
}

/* ReaRec-ERL: x (B,T,D) the embedded input, h its encoding; K times the last state plus
 * reasoning position T+k joins the input and the whole is encoded again; -> the mean of
 * the K+1 last states (B,D). */
static seq_tensor *seq_rec__reason(seq_rec_model *m, seq_ctx *ctx, seq_tensor *x, seq_tensor *h,
                                   const seq_rec__layout *lay, int train) {
    int64_t B = lay->B, T = lay->T, K = m->cfg.reason_steps, D = m->cfg.dim, k, b, one[3];
    seq_tensor *last = seq_rec__last(ctx, h), *sum = last;
    seq_rec__layout ext = *lay;
    one[0] = B;
    one[1] = 1;
    one[2] = D;
    for (k = 0; k < K; k++) {
        seq_tensor *parts[2];
        ext.T = T + k + 1;
        ext.pad = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * ext.T));
        ext.resets = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * ext.T));
        if (!ext.pad || !ext.resets) {
            seq_ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_rec ReaRec", "out of memory");
            return NULL;
        }
        for (b = 0; b < B; b++) {
            memcpy(ext.pad + b * ext.T, lay->pad + b * T, (size_t)T);
            memset(ext.pad + b * ext.T + T, 0, (size_t)(k + 1));
        }
        memset(ext.resets, 0, (size_t)(B * ext.T));
        parts[0] = x;
        parts[1] = seq_add(ctx, seq_reshape(ctx, last, 3, one), seq_slice(ctx, m->pos_emb, 0, T + k, T + k + 1));
        x = seq_concat(ctx, parts, 2, 1);
        last = seq_rec__last(ctx, seq_rec__body(m, ctx, x, &ext, train));
        sum = seq_add(ctx, sum, last);
    }
    return seq_scale(ctx, sum, 1.0f / (float)(K + 1));
}

/* Ids outside [0, n_items] (the mask token is the model's own) -> SEQ_ERR_RANGE. */
static int64_t seq_rec__bad_id(const int32_t *ids, int64_t n, int64_t n_items) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > n_items) return i;
    return -1;
}

/* --- losses --------------------------------------------------------------------------- */

/* h (N,D) scored against item ids (N,S) -> (N,S). */
static seq_tensor *seq_rec__sampled_scores(seq_rec_model *m, seq_ctx *ctx, seq_tensor *h, seq_tensor *ids) {
    int64_t col[3], out[2];
    if (!h || !ids) return NULL;
    col[0] = h->shape[0];
    col[1] = h->shape[1];
    col[2] = 1;
    out[0] = ids->shape[0];
    out[1] = ids->shape[1];
    return seq_reshape(ctx, seq_matmul(ctx, seq_embedding(ctx, m->item_emb, ids), seq_reshape(ctx, h, 3, col), 0, 0),
                       2, out);
}

/* Mean over the N rows of h (N,D) of the configured loss against targets (N). */
static seq_tensor *seq_rec__loss_rows(seq_rec_model *m, seq_ctx *ctx, seq_tensor *h, const int32_t *targets) {
    const seq_rec_model_config *c = &m->cfg;
    int64_t N, k = c->n_neg, S = k + 1, shape[2], i, j;
    seq_tensor *ids, *s;
    if (!h) return NULL;
    N = h->shape[0];
    shape[0] = N;
    if (c->loss == SEQ_REC_LOSS_CE) {
        seq_tensor *t = seq_tensor_new(ctx, SEQ_I32, 1, shape);
        if (!t) return NULL;
        memcpy(t->idata, targets, (size_t)N * sizeof(int32_t));
        return seq_cross_entropy(ctx, seq_linear(ctx, h, m->item_emb, NULL), t, -1);
    }
    shape[1] = S;
    ids = seq_tensor_new(ctx, SEQ_I32, 2, shape); /* column 0 the target, then k negatives */
    if (!ids) return NULL;
    for (i = 0; i < N; i++) {
        ids->idata[i * S] = targets[i];
        for (j = 1; j < S; j++) {
            int32_t neg;
            do neg = 1 + (int32_t)seq_rng_below(&m->rng, (uint64_t)c->n_items);
            while (neg == targets[i] && c->n_items > 1);
            ids->idata[i * S + j] = neg;
        }
    }
    s = seq_rec__sampled_scores(m, ctx, h, ids);
    if (c->loss == SEQ_REC_LOSS_BPR_MAX) {
        /* softmax weights over the negatives; the positive's score broadcast to (N,k) */
        int64_t ones_shape[2];
        seq_tensor *pos = seq_slice(ctx, s, 1, 0, 1), *neg = seq_slice(ctx, s, 1, 1, S), *ones, *w, *bpr, *reg;
        ones_shape[0] = 1;
        ones_shape[1] = k;
        ones = seq_tensor_new(ctx, SEQ_F32, 2, ones_shape);
        if (!ones) return NULL;
        for (j = 0; j < k; j++) ones->data[j] = 1.0f;
        w = seq_softmax(ctx, neg);
        bpr = seq_mul(ctx, w, seq_sigmoid(ctx, seq_sub(ctx, seq_matmul(ctx, pos, ones, 0, 0), neg)));
        bpr = seq_scale(ctx, seq_log(ctx, seq_add_scalar(ctx, seq_sum_dim(ctx, bpr, 1, 0), 1e-10f)), -1.0f);
        reg = seq_scale(ctx, seq_sum_dim(ctx, seq_mul(ctx, w, seq_mul(ctx, neg, neg)), 1, 0), c->bpr_max_reg);
        return seq_mean(ctx, seq_add(ctx, bpr, reg));
    }
    {
        /* -beta log s(s_t) - sum_j log(1 - s(s_j)) = beta softplus(-s_t) + sum_j softplus(s_j) */
        int64_t row_shape[1];
        seq_tensor *sign, *weight;
        double alpha = (double)k / (double)(c->n_items > 1 ? c->n_items - 1 : 1);
        double beta = c->loss == SEQ_REC_LOSS_GBCE ? alpha * (c->gbce_t * (1.0 - 1.0 / alpha) + 1.0 / alpha) : 1.0;
        row_shape[0] = S;
        sign = seq_tensor_new(ctx, SEQ_F32, 1, row_shape);
        weight = seq_tensor_new(ctx, SEQ_F32, 1, row_shape);
        if (!sign || !weight) return NULL;
        for (j = 0; j < S; j++) {
            sign->data[j] = j ? 1.0f : -1.0f;
            weight->data[j] = j ? 1.0f : (float)beta;
        }
        s = seq_mul(ctx, seq_softplus(ctx, seq_mul(ctx, s, sign)), weight);
        return seq_scale(ctx, seq_sum(ctx, s), 1.0f / (float)N);
    }
}

/* Rows of h2 (B*T,D) at the flat positions rows[0..n) -> (n,D). */
static seq_tensor *seq_rec__rows(seq_ctx *ctx, seq_tensor *h2, const int32_t *rows, int64_t n) {
    seq_tensor *idx = seq_tensor_new(ctx, SEQ_I32, 1, &n);
    if (!idx) return NULL;
    memcpy(idx->idata, rows, (size_t)n * sizeof(int32_t));
    return seq_embedding(ctx, h2, idx);
}

SEQDEF seq_tensor *seq_rec_model_loss(seq_rec_model *m, seq_ctx *ctx, const int32_t *windows, const int64_t *times,
                                      int64_t B) {
    static const char op[] = "seq_rec_model_loss";
    int64_t L, W, b, t, n = 0, bad, flat[2];
    int32_t *ids, *tgt, *rows;
    int64_t *tin = NULL;
    seq_tensor *x, *h, *loss;
    seq_rec__layout lay;
    if (!m || !ctx || !windows || B < 1) {
        if (ctx) seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "needs a model, windows and B >= 1");
        return NULL;
    }
    L = m->cfg.max_len;
    W = L + 1;
    if ((bad = seq_rec__bad_id(windows, B * W, m->cfg.n_items)) >= 0) {
        seq_ctx_fail(ctx, SEQ_ERR_RANGE, op, "windows[%lld][%lld] = %d is outside [0,%lld]", (long long)(bad / W),
                     (long long)(bad % W), (int)windows[bad], (long long)m->cfg.n_items);
        return NULL;
    }
    if (m->gap_emb && !times) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "a time-aware model needs timestamps");
        return NULL;
    }
    ids = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    tgt = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    rows = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    if (times) tin = (int64_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int64_t));
    if (!ids || !tgt || !rows || (times && !tin)) {
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, op, "out of memory");
        return NULL;
    }
    for (b = 0; b < B; b++) {
        const int32_t *w = windows + b * W;
        int32_t *in = ids + b * L, *out = tgt + b * L;
        if (m->cfg.arch == SEQ_REC_BERT4REC) {
            /* cloze: the last L items, some replaced by the mask token and predicted */
            int64_t last = -1, masked = 0;
            for (t = 0; t < L; t++) {
                in[t] = w[t + 1];
                out[t] = 0;
                if (!in[t]) continue;
                last = t;
                if (seq_rng_float(&m->rng) < m->cfg.mask_prob) {
                    out[t] = in[t];
                    in[t] = (int32_t)m->cfg.n_items + 1;
                    masked++;
                }
            }
            if (!masked && last >= 0) {
                out[last] = in[last];
                in[last] = (int32_t)m->cfg.n_items + 1;
            }
            if (tin) memcpy(tin + b * L, times + b * W + 1, (size_t)L * sizeof(int64_t));
        } else {
            for (t = 0; t < L; t++) {
                in[t] = w[t];
                out[t] = w[t] ? w[t + 1] : 0;
            }
            if (tin) memcpy(tin + b * L, times + b * W, (size_t)L * sizeof(int64_t));
        }
        for (t = 0; t < L; t++)
            if (out[t]) {
                rows[n] = (int32_t)(b * L + t);
                tgt[n++] = out[t]; /* n <= b*L + t: compaction never overtakes the reads */
            }
    }
    if (n == 0) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "no window holds two items: nothing to predict");
        return NULL;
    }
    lay = seq_rec__layout_of(ctx, ids, B, L);
    if (!lay.pad) {
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, op, "out of memory");
        return NULL;
    }
    x = seq_rec__embed(m, ctx, ids, tin, B, L, 1);
    h = seq_rec__body(m, ctx, x, &lay, 1);
    flat[0] = B * L;
    flat[1] = m->cfg.dim;
    loss = seq_rec__loss_rows(m, ctx, seq_rec__rows(ctx, seq_reshape(ctx, h, 2, flat), rows, n), tgt);
    if (m->cfg.reason_steps > 0) {
        /* the reasoned representation predicts each window's last target */
        int32_t *last_rows = (int32_t *)seq_ctx_alloc(ctx, (size_t)B * sizeof(int32_t));
        int32_t *last_tgt = (int32_t *)seq_ctx_alloc(ctx, (size_t)B * sizeof(int32_t));
        int64_t nl = 0;
        if (!last_rows || !last_tgt) {
            seq_ctx_fail(ctx, SEQ_ERR_NOMEM, op, "out of memory");
            return NULL;
        }
        for (b = 0; b < B; b++)
            if (windows[b * W + L]) {
                last_rows[nl] = (int32_t)b;
                last_tgt[nl++] = windows[b * W + L];
            }
        if (nl > 0)
            loss = seq_add(ctx, loss, seq_rec__loss_rows(m, ctx, seq_rec__rows(ctx, seq_rec__reason(m, ctx, x, h, &lay, 1), last_rows, nl), last_tgt));
    }
    return loss;
}

/* --- training, scoring, files --------------------------------------------------------- */

/* The last W of user u's first len items, left-padded with 0, into ids (W) and times (W,
 * when both it and the data's timestamps exist). */
static void seq_rec__window(const seq_rec_data *d, int64_t u, int64_t len, int64_t W, int32_t *ids, int64_t *times) {
    int64_t n = len < W ? len : W, start = d->off[u] + len - n, pad = W - n;
    memset(ids, 0, (size_t)pad * sizeof(int32_t));
    memcpy(ids + pad, d->items + start, (size_t)n * sizeof(int32_t));
    if (!times) return;
    memset(times, 0, (size_t)pad * sizeof(int64_t));
    if (d->times) memcpy(times + pad, d->times + start, (size_t)n * sizeof(int64_t));
}

static seq_status seq_rec__check_data(const seq_rec_model *m, const seq_rec_data *d, const char *fn) {
    if (!m || !d || !d->off || (d->n_inter > 0 && !d->items) || d->n_users < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL model or malformed data", fn);
    if (d->n_items > m->cfg.n_items)
        return seq_set_error(SEQ_ERR_RANGE, "%s: the data has %lld items, the model %lld", fn, (long long)d->n_items,
                             (long long)m->cfg.n_items);
    if (m->gap_emb && !d->times) return seq_set_error(SEQ_ERR_INVALID, "%s: a time-aware model needs timestamps", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_model_train_epoch(seq_rec_model *m, const seq_rec_data *d, const int64_t *train_len,
                                            seq_rec_progress_fn progress, void *progress_ud, float *mean_loss) {
    static const char fn[] = "seq_rec_model_train_epoch";
    int64_t *perm, W, next = 0, steps = 0, u;
    double total = 0.0;
    seq_status s = seq_rec__check_data(m, d, fn);
    if (s != SEQ_OK) return s;
    for (u = 0; u < d->n_users; u++)
        if (train_len && (train_len[u] < 0 || train_len[u] > d->off[u + 1] - d->off[u]))
            return seq_set_error(SEQ_ERR_RANGE, "%s: train_len[%lld] = %lld outside [0, %lld]", fn, (long long)u,
                                 (long long)train_len[u], (long long)(d->off[u + 1] - d->off[u]));
    perm = (int64_t *)SEQ_MALLOC(m->alloc_ud, (size_t)(d->n_users > 0 ? d->n_users : 1) * sizeof(int64_t));
    if (!perm) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    seq_rng_permutation(&m->rng, perm, d->n_users);
    W = m->cfg.max_len + 1;
    while (next < d->n_users && s == SEQ_OK) {
        seq_ctx *ctx = m->ctx;
        int32_t *win;
        int64_t *tw = NULL, B = 0;
        seq_tensor *loss;
        seq_ctx_reset(ctx);
        seq_ctx_set_grad(ctx, 1);
        win = (int32_t *)seq_ctx_alloc(ctx, (size_t)(m->cfg.batch * W) * sizeof(int32_t));
        if (d->times) tw = (int64_t *)seq_ctx_alloc(ctx, (size_t)(m->cfg.batch * W) * sizeof(int64_t));
        if (!win || (d->times && !tw)) {
            s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
            break;
        }
        for (; next < d->n_users && B < m->cfg.batch; next++) {
            int64_t v = perm[next], len = train_len ? train_len[v] : d->off[v + 1] - d->off[v];
            if (len < 2) continue;
            seq_rec__window(d, v, len, W, win + B * W, tw ? tw + B * W : NULL);
            B++;
        }
        if (B == 0) break;
        loss = seq_rec_model_loss(m, ctx, win, tw, B);
        seq_params_zero_grad(m->P);
        if (seq_ctx_status(ctx) != SEQ_OK || seq_backward(ctx, loss) != SEQ_OK) {
            s = seq_set_error(seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_STATE, "%s: %s", fn,
                              seq_ctx_error(ctx));
            break;
        }
        /* a non-finite gradient skips the batch (the step refuses it and changes nothing) */
        seq_adamw_step(&m->opt, m->P, m->cfg.lr);
        total += loss->data[0];
        steps++;
        if (progress) progress(progress_ud, next, d->n_users, (float)(total / (double)steps));
    }
    SEQ_FREE(m->alloc_ud, perm);
    if (mean_loss) *mean_loss = steps ? (float)(total / (double)steps) : 0.0f;
    return s;
}

SEQDEF seq_status seq_rec_model_represent(seq_rec_model *m, const int32_t *ids, const int64_t *times, int64_t B,
                                          float *out) {
    static const char fn[] = "seq_rec_model_represent";
    seq_ctx *ctx;
    int64_t L, D, b, bad;
    int32_t *in;
    seq_tensor *x, *h, *r;
    seq_rec__layout lay;
    if (!m || !ids || !out || B < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument or B < 0", fn);
    L = m->cfg.max_len;
    D = m->cfg.dim;
    if ((bad = seq_rec__bad_id(ids, B * L, m->cfg.n_items)) >= 0)
        return seq_set_error(SEQ_ERR_RANGE, "%s: ids[%lld][%lld] = %d is outside [0,%lld]", fn, (long long)(bad / L),
                             (long long)(bad % L), (int)ids[bad], (long long)m->cfg.n_items);
    if (m->gap_emb && !times) return seq_set_error(SEQ_ERR_INVALID, "%s: a time-aware model needs timestamps", fn);
    if (B == 0) return SEQ_OK;
    ctx = m->ctx;
    seq_ctx_reset(ctx);
    seq_ctx_set_grad(ctx, 0);
    in = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    if (!in) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(in, ids, (size_t)(B * L) * sizeof(int32_t));
    if (m->cfg.arch == SEQ_REC_BERT4REC)
        for (b = 0; b < B; b++) { /* what comes next is the masked position */
            memmove(in + b * L, in + b * L + 1, (size_t)(L - 1) * sizeof(int32_t));
            in[b * L + L - 1] = (int32_t)m->cfg.n_items + 1;
        }
    lay = seq_rec__layout_of(ctx, in, B, L);
    if (!lay.pad) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    x = seq_rec__embed(m, ctx, in, times, B, L, 0);
    h = seq_rec__body(m, ctx, x, &lay, 0);
    r = m->cfg.reason_steps > 0 && h ? seq_rec__reason(m, ctx, x, h, &lay, 0) : h ? seq_rec__last(ctx, h) : NULL;
    seq_ctx_set_grad(ctx, 1);
    if (seq_ctx_status(ctx) != SEQ_OK || !r) return seq_set_error(seq_ctx_status(ctx), "%s: %s", fn, seq_ctx_error(ctx));
    memcpy(out, r->data, (size_t)(B * D) * sizeof(float));
    return SEQ_OK;
}

/* Every item's score against representations rep (n,D) -> scores (n, n_items+1). */
static void seq_rec__score_items(const seq_rec_model *m, const float *rep, int64_t n, float *scores) {
    int64_t V = m->cfg.n_items + 1, D = m->cfg.dim, i, d, j;
    const float *E = m->item_emb->data;
    if (n > 1) {
        seq_sgemm(0, 1, n, V, D, 1.0f, rep, D, E, D, 0.0f, scores, V);
        return;
    }
    /* one row (a session): dot products straight off E, which a GEMM would first pack
     * whole; 8 partial sums so the compiler keeps them in one vector */
    for (i = 0; i < V; i++) {
        const float *e = E + i * D;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sum = 0.0f;
        for (d = 0; d + 8 <= D; d += 8)
            for (j = 0; j < 8; j++) acc[j] += rep[d + j] * e[d + j];
        for (; d < D; d++) sum += rep[d] * e[d];
        scores[i] = sum + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
}

SEQDEF seq_status seq_rec_model_score(void *model, const seq_rec_data *d, const int64_t *users,
                                      const int64_t *hist_len, int64_t n, float *scores) {
    static const char fn[] = "seq_rec_model_score";
    seq_rec_model *m = (seq_rec_model *)model;
    int64_t L, D, chunk, i, j;
    int32_t *ids;
    int64_t *times = NULL;
    float *rep;
    seq_status s = seq_rec__check_data(m, d, fn);
    if (s != SEQ_OK) return s;
    if (!users || !hist_len || !scores || n < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument or n < 0", fn);
    for (i = 0; i < n; i++) {
        if (users[i] < 0 || users[i] >= d->n_users)
            return seq_set_error(SEQ_ERR_RANGE, "%s: users[%lld] = %lld outside [0,%lld)", fn, (long long)i,
                                 (long long)users[i], (long long)d->n_users);
        if (hist_len[i] < 0 || hist_len[i] > d->off[users[i] + 1] - d->off[users[i]])
            return seq_set_error(SEQ_ERR_RANGE, "%s: hist_len[%lld] = %lld outside user %lld's [0,%lld]", fn,
                                 (long long)i, (long long)hist_len[i], (long long)users[i],
                                 (long long)(d->off[users[i] + 1] - d->off[users[i]]));
    }
    L = m->cfg.max_len;
    D = m->cfg.dim;
    chunk = 256;
    ids = (int32_t *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * L) * sizeof(int32_t));
    rep = (float *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * D) * sizeof(float));
    if (d->times) times = (int64_t *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * L) * sizeof(int64_t));
    if (!ids || !rep || (d->times && !times)) s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    for (i = 0; i < n && s == SEQ_OK; i += chunk) {
        int64_t c = n - i < chunk ? n - i : chunk;
        for (j = 0; j < c; j++) seq_rec__window(d, users[i + j], hist_len[i + j], L, ids + j * L, times ? times + j * L : NULL);
        s = seq_rec_model_represent(m, ids, times, c, rep);
        if (s == SEQ_OK) seq_rec__score_items(m, rep, c, scores + i * (m->cfg.n_items + 1));
    }
    SEQ_FREE(m->alloc_ud, ids);
    SEQ_FREE(m->alloc_ud, rep);
    SEQ_FREE(m->alloc_ud, times);
    return s;
}

/* The config fields a file records: integers (as %lld) then floats (as %.9g). */
#define SEQ_REC__NI 11
#define SEQ_REC__NF 6
static void seq_rec__config_fields(seq_rec_model_config *c, int64_t **iv, float **fv, const char **names) {
    static const char *const all[SEQ_REC__NI + SEQ_REC__NF] = {
        "n_items", "max_len", "dim", "n_layers", "n_heads", "n_neg", "reason_steps", "d_state", "batch", "arch",
        "loss", "dropout", "gbce_t", "bpr_max_reg", "mask_prob", "lr", "weight_decay"};
    int i;
    iv[0] = &c->n_items;
    iv[1] = &c->max_len;
    iv[2] = &c->dim;
    iv[3] = &c->n_layers;
    iv[4] = &c->n_heads;
    iv[5] = &c->n_neg;
    iv[6] = &c->reason_steps;
    iv[7] = &c->d_state;
    iv[8] = &c->batch;
    iv[9] = iv[10] = NULL; /* arch and loss are enums: by name */
    fv[0] = &c->dropout;
    fv[1] = &c->gbce_t;
    fv[2] = &c->bpr_max_reg;
    fv[3] = &c->mask_prob;
    fv[4] = &c->lr;
    fv[5] = &c->weight_decay;
    for (i = 0; i < SEQ_REC__NI + SEQ_REC__NF; i++) names[i] = all[i];
}

SEQDEF seq_status seq_rec_model_save(const seq_rec_model *m, const char *path) {
    seq_rec_model_config c;
    int64_t *iv[SEQ_REC__NI], i;
    float *fv[SEQ_REC__NF];
    const char *names[SEQ_REC__NI + SEQ_REC__NF], *kv[2 * (SEQ_REC__NI + SEQ_REC__NF + 1)];
    char vals[SEQ_REC__NI + SEQ_REC__NF + 1][32];
    seq_st_tensor_desc *desc;
    seq_status s;
    if (!m || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_model_save: NULL argument");
    c = m->cfg;
    seq_rec__config_fields(&c, iv, fv, names);
    for (i = 0; i < SEQ_REC__NI + SEQ_REC__NF; i++) {
        kv[2 * i] = names[i];
        kv[2 * i + 1] = vals[i];
        if (i < SEQ_REC__NI && iv[i]) snprintf(vals[i], sizeof vals[i], "%lld", (long long)*iv[i]);
        else if (i < SEQ_REC__NI) snprintf(vals[i], sizeof vals[i], "%s", i == 9 ? seq_rec_arch_name(c.arch) : seq_rec_loss_name(c.loss));
        else snprintf(vals[i], sizeof vals[i], "%.9g", (double)*fv[i - SEQ_REC__NI]);
    }
    kv[2 * i] = "time_aware";
    kv[2 * i + 1] = c.time_aware ? "1" : "0";
    desc = (seq_st_tensor_desc *)SEQ_MALLOC(m->alloc_ud, (size_t)m->P->count * sizeof *desc);
    if (!desc) return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_model_save: out of memory");
    for (i = 0; i < m->P->count; i++) {
        const seq_tensor *t = &m->P->items[i]->t;
        desc[i].name = t->name;
        desc[i].ndim = t->ndim;
        desc[i].shape = t->shape;
        desc[i].data = t->data;
    }
    s = seq_safetensors_write(path, desc, m->P->count, kv, SEQ_REC__NI + SEQ_REC__NF + 1, SEQ_ST_F32);
    SEQ_FREE(m->alloc_ud, desc);
    return s;
}

/* An enum from its name among count names (name_of(i)), -1 when none matches. */
static int seq_rec__enum_of(const char *v, int count, const char *(*name_of)(int)) {
    int i;
    for (i = 0; v && i < count; i++)
        if (strcmp(v, name_of(i)) == 0) return i;
    return -1;
}
static const char *seq_rec__arch_name_i(int i) { return seq_rec_arch_name((seq_rec_arch)i); }
static const char *seq_rec__loss_name_i(int i) { return seq_rec_loss_name((seq_rec_loss)i); }

SEQDEF seq_rec_model *seq_rec_model_load(const char *path, void *alloc_ud) {
    static const char fn[] = "seq_rec_model_load";
    seq_rec_model_config c;
    int64_t *iv[SEQ_REC__NI];
    float *fv[SEQ_REC__NF];
    const char *names[SEQ_REC__NI + SEQ_REC__NF], *v;
    seq_safetensors *st;
    seq_rec_model *m;
    int i, arch, loss;
    if (!path) {
        seq_set_error(SEQ_ERR_INVALID, "%s: NULL path", fn);
        return NULL;
    }
    st = seq_safetensors_open(path, alloc_ud);
    if (!st) return NULL;
    memset(&c, 0, sizeof c);
    seq_rec__config_fields(&c, iv, fv, names);
    arch = seq_rec__enum_of(seq_safetensors_meta(st, "arch"), SEQ_REC_ARCH_COUNT, seq_rec__arch_name_i);
    loss = seq_rec__enum_of(seq_safetensors_meta(st, "loss"), SEQ_REC_LOSS_COUNT, seq_rec__loss_name_i);
    for (i = 0; i < SEQ_REC__NI + SEQ_REC__NF; i++) {
        long long iv_read = 0;
        int used = -1;
        v = seq_safetensors_meta(st, names[i]);
        if (v && i < SEQ_REC__NI && iv[i] && sscanf(v, "%lld%n", &iv_read, &used) == 1) *iv[i] = (int64_t)iv_read;
        else if (v && i >= SEQ_REC__NI && sscanf(v, "%f%n", fv[i - SEQ_REC__NI], &used) != 1) used = -1;
        else if (v && i < SEQ_REC__NI && !iv[i]) used = (int)strlen(v); /* arch, loss: read above */
        if (!v || used < 1 || v[used] != 0) {
            seq_safetensors_close(st);
            seq_set_error(SEQ_ERR_FORMAT, "%s: %s: metadata \"%s\" missing or malformed", fn, path, names[i]);
            return NULL;
        }
    }
    v = seq_safetensors_meta(st, "time_aware");
    c.time_aware = v && strcmp(v, "1") == 0;
    seq_safetensors_close(st);
    if (arch < 0 || loss < 0) {
        seq_set_error(SEQ_ERR_FORMAT, "%s: %s: unknown arch or loss", fn, path);
        return NULL;
    }
    c.arch = (seq_rec_arch)arch;
    c.loss = (seq_rec_loss)loss;
    c.seed = 42;
    m = seq_rec_model_init(c, alloc_ud);
    if (m && seq_safetensors_load(m->P, path) != SEQ_OK) {
        seq_rec_model_free(m);
        return NULL;
    }
    return m;
}

/* ===================================================================================
 * 6  serving (implementation)
 * =================================================================================== */

static int seq_rec__is_recurrent(const seq_rec_model *m) {
    return m->cfg.arch == SEQ_REC_GRU4REC || m->cfg.arch == SEQ_REC_SSM;
}

SEQDEF void seq_rec_session_free(seq_rec_session *s) {
    int64_t i;
    if (!s) return;
    if (s->model->cfg.arch == SEQ_REC_GRU4REC) seq_rnn_state_free(&s->gru);
    if (s->model->cfg.arch == SEQ_REC_SSM)
        for (i = 0; i < s->model->cfg.n_layers; i++) seq_mamba2_state_free(&s->ssm[i]);
    SEQ_FREE(s->alloc_ud, s->recent);
    SEQ_FREE(s->alloc_ud, s->recent_times);
    SEQ_FREE(s->alloc_ud, s->seen);
    SEQ_FREE(s->alloc_ud, s->rep);
    SEQ_FREE(s->alloc_ud, s->scores);
    SEQ_FREE(s->alloc_ud, s);
}

SEQDEF void seq_rec_session_reset(seq_rec_session *s) {
    const seq_rec_model_config *c;
    int64_t i;
    if (!s) return;
    c = &s->model->cfg;
    s->count = 0;
    s->last_time = 0;
    memset(s->recent, 0, (size_t)c->max_len * sizeof(int32_t));
    memset(s->recent_times, 0, (size_t)c->max_len * sizeof(int64_t));
    memset(s->seen, 0, (size_t)(c->n_items + 1));
    memset(s->rep, 0, (size_t)(3 * c->dim) * sizeof(float));
    s->rep_stale = !seq_rec__is_recurrent(s->model);
    if (c->arch == SEQ_REC_GRU4REC) seq_rnn_state_reset(&s->gru);
    if (c->arch == SEQ_REC_SSM)
        for (i = 0; i < c->n_layers; i++) seq_mamba2_state_reset(&s->ssm[i]);
}

SEQDEF seq_rec_session *seq_rec_session_new(seq_rec_model *m, void *alloc_ud) {
    seq_rec_session *s;
    int64_t i, L, D;
    int ok;
    if (!m) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rec_session_new: NULL model");
        return NULL;
    }
    s = (seq_rec_session *)SEQ_MALLOC(alloc_ud, sizeof *s);
    if (!s) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_session_new: out of memory");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->model = m;
    s->alloc_ud = alloc_ud;
    L = m->cfg.max_len;
    D = m->cfg.dim;
    s->recent = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)L * sizeof(int32_t));
    s->recent_times = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)L * sizeof(int64_t));
    s->seen = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)(m->cfg.n_items + 1));
    s->rep = (float *)SEQ_MALLOC(alloc_ud, (size_t)(3 * D) * sizeof(float)); /* rep, x, y */
    s->scores = (float *)SEQ_MALLOC(alloc_ud, (size_t)(m->cfg.n_items + 1) * sizeof(float));
    ok = s->recent && s->recent_times && s->seen && s->rep && s->scores;
    /* a state that failed to init holds NULLs, which its free accepts */
    if (m->cfg.arch == SEQ_REC_GRU4REC) ok = seq_rnn_state_init(&m->gru, &s->gru, 1) == SEQ_OK && ok;
    if (m->cfg.arch == SEQ_REC_SSM)
        for (i = 0; i < m->cfg.n_layers; i++) ok = seq_mamba2_state_init(&m->blocks[i].ssm, &s->ssm[i], 1) == SEQ_OK && ok;
    if (!ok) {
        seq_rec_session_free(s);
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_session_new: out of memory");
        return NULL;
    }
    s->x = s->rep + D;
    s->y = s->rep + 2 * D;
    seq_rec_session_reset(s);
    return s;
}

/* y = LN(x) * w + b over n floats, as seq_layernorm (biased variance, eps 1e-5). */
static void seq_rec__layernorm(const float *x, const seq_tensor *w, const seq_tensor *b, int64_t n, float *y) {
    double mean = 0.0, var = 0.0;
    float inv;
    int64_t i;
    for (i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    inv = (float)(1.0 / sqrt(var / (double)n + 1e-5));
    for (i = 0; i < n; i++) y[i] = ((x[i] - (float)mean) * inv) * w->data[i] + b->data[i];
}

/* One event through the recurrent encoders: x = E[item] (+ gap embedding) -> s->rep. */
static seq_status seq_rec__session_step(seq_rec_session *s, int32_t item, int32_t gap) {
    const seq_rec_model *m = s->model;
    int64_t D = m->cfg.dim, i, l;
    seq_status st;
    memcpy(s->x, m->item_emb->data + (int64_t)item * D, (size_t)D * sizeof(float));
    if (m->cfg.arch == SEQ_REC_GRU4REC) return seq_rnn_step(&m->gru, &s->gru, s->x, s->rep);
    if (m->gap_emb)
        for (i = 0; i < D; i++) s->x[i] += m->gap_emb->data[(int64_t)gap * D + i];
    for (l = 0; l < m->cfg.n_layers; l++) {
        const seq_rec_block *b = &m->blocks[l];
        seq_rec__layernorm(s->x, b->ln1_w, b->ln1_b, D, s->rep);
        if ((st = seq_mamba2_step(&b->ssm, &s->ssm[l], s->rep, s->y)) != SEQ_OK) return st;
        for (i = 0; i < D; i++) s->x[i] += s->y[i];
    }
    seq_rec__layernorm(s->x, m->ln_w, m->ln_b, D, s->rep);
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_session_push(seq_rec_session *s, int32_t item, int64_t timestamp) {
    int64_t L;
    seq_status st = SEQ_OK;
    if (!s) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_session_push: NULL session");
    if (item < 1 || item > s->model->cfg.n_items)
        return seq_set_error(SEQ_ERR_RANGE, "seq_rec_session_push: item %d outside [1,%lld]", (int)item,
                             (long long)s->model->cfg.n_items);
    L = s->model->cfg.max_len;
    if (seq_rec__is_recurrent(s->model))
        st = seq_rec__session_step(s, item, s->count ? seq_rec__gap_bucket(timestamp - s->last_time) : 0);
    else
        s->rep_stale = 1;
    if (st != SEQ_OK) return st;
    memmove(s->recent, s->recent + 1, (size_t)(L - 1) * sizeof(int32_t));
    memmove(s->recent_times, s->recent_times + 1, (size_t)(L - 1) * sizeof(int64_t));
    s->recent[L - 1] = item;
    s->recent_times[L - 1] = timestamp;
    s->seen[item] = 1;
    s->last_time = timestamp;
    s->count++;
    return SEQ_OK;
}

SEQDEF const float *seq_rec_session_representation(seq_rec_session *s) {
    if (!s) return NULL;
    if (s->rep_stale && seq_rec_model_represent(s->model, s->recent, s->recent_times, 1, s->rep) != SEQ_OK) return NULL;
    s->rep_stale = 0;
    return s->rep;
}

/* Is item a worse than item b: a lower score, or the same with a larger id. */
static int seq_rec__worse(const float *sc, int32_t a, int32_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && a > b); }

/* Restores the heap of item ids (worst at the root, by sc) below position i of n. */
static void seq_rec__sift_down(const float *sc, int32_t *heap, int64_t n, int64_t i) {
    for (;;) {
        int64_t w = i, l = 2 * i + 1, r = l + 1;
        int32_t t;
        if (l < n && seq_rec__worse(sc, heap[l], heap[w])) w = l;
        if (r < n && seq_rec__worse(sc, heap[r], heap[w])) w = r;
        if (w == i) return;
        t = heap[i];
        heap[i] = heap[w];
        heap[w] = t;
        i = w;
    }
}

SEQDEF seq_status seq_rec_session_topk(seq_rec_session *s, int64_t k, int exclude_seen, const int32_t *exclude,
                                       int64_t n_exclude, int32_t *ids, float *scores, int64_t *n_found) {
    static const char fn[] = "seq_rec_session_topk";
    const float *rep;
    float *sc;
    int64_t V, n = 0, i;
    if (n_found) *n_found = 0;
    if (!s || (k > 0 && !ids) || k < 0 || n_exclude < 0 || (n_exclude > 0 && !exclude))
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument or negative count", fn);
    V = s->model->cfg.n_items + 1;
    for (i = 0; i < n_exclude; i++)
        if (exclude[i] < 0 || exclude[i] >= V)
            return seq_set_error(SEQ_ERR_RANGE, "%s: exclude[%lld] = %d outside [0,%lld]", fn, (long long)i,
                                 (int)exclude[i], (long long)(V - 1));
    if (!(rep = seq_rec_session_representation(s))) return seq_last_status();
    sc = s->scores;
    seq_rec__score_items(s->model, rep, 1, sc);
    /* excluded items drop to -inf, out of the candidates */
    sc[0] = -INFINITY;
    for (i = 0; i < n_exclude; i++) sc[exclude[i]] = -INFINITY;
    for (i = 1; exclude_seen && i < V; i++)
        if (s->seen[i]) sc[i] = -INFINITY;
    for (i = 1; i < V && k > 0; i++) {
        if (sc[i] == -INFINITY || sc[i] != sc[i]) continue;
        if (n < k) { /* grow the heap: sift the new item up */
            int64_t c = n++;
            ids[c] = (int32_t)i;
            while (c > 0 && seq_rec__worse(sc, ids[c], ids[(c - 1) / 2])) {
                int32_t t = ids[c];
                ids[c] = ids[(c - 1) / 2];
                ids[(c - 1) / 2] = t;
                c = (c - 1) / 2;
            }
        } else if (seq_rec__worse(sc, ids[0], (int32_t)i)) {
            ids[0] = (int32_t)i;
            seq_rec__sift_down(sc, ids, n, 0);
        }
    }
    /* heap sort: each pass moves the worst left to the end, leaving the best first */
    for (i = n - 1; i > 0; i--) {
        int32_t t = ids[0];
        ids[0] = ids[i];
        ids[i] = t;
        seq_rec__sift_down(sc, ids, i, 0);
    }
    for (i = 0; scores && i < n; i++) scores[i] = sc[ids[i]];
    if (n_found) *n_found = n;
    return SEQ_OK;
}

#endif /* SEQ_REC_IMPLEMENTATION_DONE */
#endif /* SEQ_REC_IMPLEMENTATION */
