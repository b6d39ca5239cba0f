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
 * items[off[u] .. off[u+1]). Every user has at least one interaction.
 *
 * Ids: the file's ids are tokens (any text without the separator); seq_rec numbers them
 * densely, users 0..n_users-1 and items 1..n_items, in sorted order of the original
 * ids -- numerically when every id of that kind is an integer, else by bytes (strcmp).
 * So a file already numbered 1..n keeps its item numbers (user u becomes u-1), and the
 * numbering never depends on the order of the lines. seq_rec_user_name/item_name and
 * seq_rec_user_index/item_index convert both ways.
 *
 * Time order (the tie rule): formats without timestamps keep each user's file order;
 * with timestamps a user's interactions are sorted by time, stably, so equal
 * timestamps keep their file order. */
typedef struct seq_rec_data {
    int64_t n_users, n_items, n_inter;
    int64_t *off;    /* (n_users+1) */
    int32_t *items;  /* (n_inter) item ids 1..n_items */
    int64_t *times;  /* (n_inter) timestamps, or NULL when the source has none */
    void *alloc_ud;
    /* original ids, NULL when the data did not come from a file: the text of user u is
     * names + user_name_off[u], of item i names + item_name_off[i] (entry 0 unused) */
    char *names;
    int64_t *user_name_off; /* (n_users) */
    int64_t *item_name_off; /* (n_items+1) */
    int numeric_user_ids, numeric_item_ids; /* ids sorted as integers (1) or as bytes (0) */
} seq_rec_data;

typedef enum seq_rec_format {
    SEQ_REC_FMT_USER_ITEM, /* `user item` per line, lines in time order (SASRec, BERT4Rec) */
    SEQ_REC_FMT_USER_SEQ,  /* `user item item ...`, one user per line, in time order (S3Rec) */
    SEQ_REC_FMT_DELIMITED, /* a header naming the columns, then delimited rows (RecBole .inter, CSV) */
    SEQ_REC_FMT_MOVIELENS, /* `user::item::rating::timestamp` (MovieLens ratings.dat) */
    SEQ_REC_FMT_COUNT
} seq_rec_format;

/* USER_ITEM and USER_SEQ split on spaces and tabs. DELIMITED splits on `delimiter`
 * and finds its columns by header name; a RecBole header field `user_id:token` matches
 * the name `user_id` (the part before ':'). Blank lines are skipped everywhere. */
typedef struct seq_rec_load_options {
    char delimiter;          /* DELIMITED: '\t' (RecBole); ',' for CSV */
    const char *user_col;    /* "user_id" */
    const char *item_col;    /* "item_id" */
    const char *time_col;    /* "timestamp"; NULL: no time column, file order */
    const char *rating_col;  /* NULL: no rating column */
    double min_rating;       /* keep rows whose rating >= this (rating_col or MovieLens); -inf: all */
} seq_rec_load_options;

SEQDEF seq_rec_load_options seq_rec_load_options_default(void);
/* Reads a whole file into d (which it overwrites; free it with seq_rec_data_free).
 * Malformed input is SEQ_ERR_FORMAT with a message naming the line: a missing or extra
 * field, a user with no items, a user on two lines of a USER_SEQ file, a missing
 * column, a non-numeric timestamp or rating, an empty file. SEQ_ERR_IO when the file
 * cannot be read, SEQ_ERR_NOMEM; on failure d is left empty (safe to free). */
SEQDEF seq_status seq_rec_load(seq_rec_data *d, const char *path, seq_rec_format fmt,
                               const seq_rec_load_options *opt, void *alloc_ud);
/* Builds d from sequences already in memory (copied): user u's items are
 * items[off[u] .. off[u+1]) in time order, each in 1..n_items (SEQ_ERR_RANGE
 * otherwise), every user non-empty; times NULL or n_inter timestamps. No names. */
SEQDEF seq_status seq_rec_data_from_sequences(seq_rec_data *d, int64_t n_users, int64_t n_items,
                                              const int64_t *off, const int32_t *items,
                                              const int64_t *times, void *alloc_ud);
SEQDEF void seq_rec_data_free(seq_rec_data *d);
/* The path of a data file `name` (e.g. "beauty_s3rec.txt") written into buf: the first
 * of $SEQ_DATA_DIR, ../shared/data and ../../shared/data (the project's data folder seen
 * from the repository root, or from a git worktree one level down) where it can be
 * opened. NULL when none holds it or buf is too small. */
SEQDEF const char *seq_rec_find_data(const char *name, char *buf, size_t cap);
/* Original ids: the text of a dense id (NULL when out of range or the data has no
 * names), and the dense id of a text (-1 for an unknown user, 0 for an unknown item). */
SEQDEF const char *seq_rec_user_name(const seq_rec_data *d, int64_t user);
SEQDEF const char *seq_rec_item_name(const seq_rec_data *d, int32_t item);
SEQDEF int64_t seq_rec_user_index(const seq_rec_data *d, const char *name);
SEQDEF int32_t seq_rec_item_index(const seq_rec_data *d, const char *name);
/* k-core filtering in place: drops interactions until every user has at least min_user
 * and every item at least min_item of them (repeated to a fixed point, as the 5-core
 * Amazon sets), then renumbers densely keeping the order (and names). A filter that
 * leaves nothing is SEQ_ERR_INVALID with d unchanged. */
SEQDEF seq_status seq_rec_kcore(seq_rec_data *d, int64_t min_user, int64_t min_item);

/* Evaluation parts of a split. */
typedef enum seq_rec_part { SEQ_REC_VALID, SEQ_REC_TEST, SEQ_REC_PART_COUNT } seq_rec_part;

/* Which prefix of each sequence trains and which items each part evaluates: a user u
 * evaluated in part p is shown the first hist_len[p][u] items of its sequence and must
 * rank the n_targets[p][u] items that follow; n_targets 0 = not evaluated in p.
 * Training uses the first train_len[u] items. */
typedef struct seq_rec_split {
    int64_t n_users;
    int64_t *train_len;                       /* (n_users) */
    int64_t *hist_len[SEQ_REC_PART_COUNT];    /* (n_users) each */
    int64_t *n_targets[SEQ_REC_PART_COUNT];   /* (n_users) each */
    void *alloc_ud;
} seq_rec_split;

/* Leave-one-out as SASRec's data_partition: a user with n >= 3 items trains on the first
 * n-2, is validated on item n-1 (history n-2) and tested on item n (history n-1); a user
 * with fewer than 3 items trains on all of them and is evaluated in neither part. */
SEQDEF seq_status seq_rec_split_leave_one_out(seq_rec_split *s, const seq_rec_data *d, void *alloc_ud);
/* User holdout ("strong generalization"): rng shuffles the users; the first valid_frac of
 * them are validation users, the next test_frac test users (rounded down), the rest
 * train on their whole sequence. A held-out user trains on nothing; its last
 * max(1, round(target_frac * n)) items are targets (target_frac 0: the last item only)
 * and the rest its history, at least one item. Users with one item always train. */
SEQDEF seq_status seq_rec_split_user_holdout(seq_rec_split *s, const seq_rec_data *d, double valid_frac,
                                             double test_frac, double target_frac, seq_rng *rng,
                                             void *alloc_ud);
SEQDEF void seq_rec_split_free(seq_rec_split *s);

/* ===================================================================================
 * 2  negative sampling and training batches
 * =================================================================================== */

/* Negative items for training, drawn with an explicit seq_rng: uniform over the catalog,
 * or proportional to count^alpha (word2vec's 0.75; 1 = popularity) through Walker's
 * alias table, O(1) a draw. Counts come from the training prefixes of a split (NULL:
 * every interaction); with alpha > 0 an item never seen there is never drawn. Draws are
 * with replacement. A sampler keeps scratch marks for the exclusion, so use one per
 * thread. */
typedef enum seq_rec_neg_kind { SEQ_REC_NEG_UNIFORM, SEQ_REC_NEG_POPULARITY, SEQ_REC_NEG_COUNT } seq_rec_neg_kind;

typedef struct seq_rec_sampler {
    seq_rec_neg_kind kind;
    int64_t n_items;
    float alpha;
    double *prob;      /* (n_items+1) probability of each item, [0] = 0 (log-q correction) */
    double *accept;    /* (n_items+1) alias table: keep column i with probability accept[i], */
    int32_t *alias;    /* (n_items+1)   else take alias[i] */
    uint32_t *mark;    /* (n_items+1) scratch: items excluded by the current call */
    uint32_t stamp;
    void *alloc_ud;
} seq_rec_sampler;

SEQDEF seq_status seq_rec_sampler_init(seq_rec_sampler *s, const seq_rec_data *d, const seq_rec_split *split,
                                       seq_rec_neg_kind kind, float alpha, void *alloc_ud);
SEQDEF void seq_rec_sampler_free(seq_rec_sampler *s);
/* One item in 1..n_items. */
SEQDEF int32_t seq_rec_sampler_draw(const seq_rec_sampler *s, seq_rng *rng);
/* n items, none of them in exclude[0..n_exclude) (say, the user's whole sequence),
 * each drawn from the sampler's distribution restricted to the rest. When the excluded
 * items hold nearly all the mass the draw switches from rejection to an exact inverse
 * CDF over the rest. SEQ_ERR_INVALID when nothing is left to draw; SEQ_ERR_RANGE for an
 * excluded id outside 1..n_items. */
SEQDEF seq_status seq_rec_sampler_draw_excluding(seq_rec_sampler *s, seq_rng *rng, const int32_t *exclude,
                                                 int64_t n_exclude, int32_t *out, int64_t n);

/* Training batches of B users, each row the last items of one training prefix, padded
 * on the left with item 0 to length L (PyTorch/SASRec convention; longer sequences keep
 * their most recent L). Row layouts:
 *   NEXT_ITEM: inputs s[0..n-1), targets s[1..n) (SASRec, GRU4Rec: the item after each
 *              input); users with a prefix shorter than 2 have no target and are skipped
 *   SEQUENCE:  inputs and targets both s[0..n) (BERT4Rec's cloze: the model masks) */
typedef enum seq_rec_batch_mode { SEQ_REC_BATCH_NEXT_ITEM, SEQ_REC_BATCH_SEQUENCE, SEQ_REC_BATCH_MODE_COUNT } seq_rec_batch_mode;

typedef struct seq_rec_batch {
    int64_t B, L, n_neg;
    int64_t n;          /* rows filled; rows n..B-1 (the epoch's last batch) are all padding */
    int64_t *users;     /* (B) dense user ids, -1 on padding rows */
    int32_t *inputs;    /* (B,L) item ids, 0 = padding */
    int32_t *targets;   /* (B,L) target at each position, 0 = none */
    int32_t *negatives; /* (B,L,n_neg) items the user never interacted with; 0 where no target */
    int64_t *times;     /* (B,L) timestamps of inputs (0 on padding), NULL when d has none */
    void *alloc_ud;
} seq_rec_batch;

typedef struct seq_rec_batch_config {
    int64_t batch_size;      /* 128 */
    int64_t max_len;         /* 50 */
    int64_t n_neg;           /* 1: SASRec's BCE; 0: no negatives (full-softmax losses) */
    seq_rec_batch_mode mode; /* NEXT_ITEM */
    int shuffle;             /* 1: a new user order every epoch */
} seq_rec_batch_config;

SEQDEF seq_rec_batch_config seq_rec_batch_config_default(void);
/* Left-padded histories for scoring: row i holds the last min(hist_len[i], L) items of
 * user users[i]'s first hist_len[i] items, inputs (n,L), and their timestamps in times
 * (n,L; may be NULL; 0 on padding, 0 everywhere when d has none). What a sequential
 * model's seq_rec_score_fn feeds itself. SEQ_ERR_RANGE for a user or length out of range. */
SEQDEF seq_status seq_rec_fill_history(const seq_rec_data *d, const int64_t *users, const int64_t *hist_len,
                                       int64_t n, int64_t L, int32_t *inputs, int64_t *times);

/* The training iterator: every user with a training row once per epoch.
 *     seq_rec_batcher it; seq_rec_batcher_init(&it, &d, &split, &sampler, cfg, NULL);
 *     for (epoch ...) {
 *         seq_rec_batcher_start(&it, &rng);                    (reshuffles)
 *         while (seq_rec_batcher_next(&it, &rng) == SEQ_OK && it.batch.n > 0) { ... }
 *     }
 * next returns SEQ_OK with batch.n == 0 at the end of an epoch. Negatives exclude the
 * user's whole training prefix. The sampler may be NULL when n_neg is 0. */
typedef struct seq_rec_batcher {
    const seq_rec_data *d;
    const seq_rec_split *split;
    seq_rec_sampler *sampler;
    seq_rec_batch_config cfg;
    int64_t *order;     /* users with a training row */
    int64_t n_rows, pos;
    seq_rec_batch batch;
    void *alloc_ud;
} seq_rec_batcher;

SEQDEF seq_status seq_rec_batcher_init(seq_rec_batcher *it, const seq_rec_data *d, const seq_rec_split *split,
                                       seq_rec_sampler *sampler, seq_rec_batch_config cfg, void *alloc_ud);
SEQDEF void seq_rec_batcher_start(seq_rec_batcher *it, seq_rng *rng);
SEQDEF seq_status seq_rec_batcher_next(seq_rec_batcher *it, seq_rng *rng);
SEQDEF void seq_rec_batcher_free(seq_rec_batcher *it);

/* ===================================================================================
 * 3  ranking metrics and evaluation protocols
 * =================================================================================== */

/* What every model gives the evaluator: scores of all items for n users, each seeing
 * the first hist_len[i] items of its sequence (leave-one-out validation shows len-2,
 * test len-1). scores is (n, n_items+1); column 0, the padding id, is ignored. */
typedef seq_status (*seq_rec_score_fn)(void *model, const seq_rec_data *d, const int64_t *users,
                                       const int64_t *hist_len, int64_t n, float *scores);

/* Protocols. FULL ranks every item (the default, and the only one comparable across
 * papers since Krichene & Rendle 2020). The sampled ones rank the targets against 100
 * (n_neg) distinct negatives the user never interacted with in its whole sequence
 * (SASRec's "rated" set), drawn uniformly or by popularity over all interactions;
 * every printed metric says which. */
typedef enum seq_rec_protocol {
    SEQ_REC_PROTO_FULL,
    SEQ_REC_PROTO_UNIFORM,    /* uniform-100 (SASRec, Caser) */
    SEQ_REC_PROTO_POPULARITY, /* popularity-100 (BERT4Rec) */
    SEQ_REC_PROTO_COUNT
} seq_rec_protocol;

#define SEQ_REC_MAX_KS 8

typedef struct seq_rec_eval_config {
    seq_rec_part part;          /* SEQ_REC_TEST */
    seq_rec_protocol protocol;  /* FULL */
    int64_t n_neg;              /* 100: negatives of the sampled protocols */
    int mask_seen;              /* 1: the user's history items are not ranked (except a target) */
    int n_k;                    /* 3 */
    int64_t k[SEQ_REC_MAX_KS];  /* {5, 10, 20} */
    int64_t max_score_bytes;    /* 64 MiB: users per score_fn call = this / (4 (n_items+1)), >= 1 */
    int64_t max_users;          /* 0: every user of the part; else the first max_users of them */
} seq_rec_eval_config;

/* Means over the evaluated users. A target's rank is 1 + the candidates scored above it
 * + the other candidates scored equal to it: ties count against the model
 * (pessimistic), so a constant model scores the floor, not the ceiling. With T targets
 * (user holdout) and the top-K list:
 *     HR@K      1 if any target is in the top K
 *     Recall@K  targets in the top K / T
 *     NDCG@K    sum over targets in the top K of 1/log2(rank+1), divided by the ideal
 *               sum_{i=1..min(T,K)} 1/log2(i+1)
 *     MRR       1 / the best target's rank (no cutoff)
 *     Coverage@K distinct items in any evaluated user's top-K list / n_items. */
typedef struct seq_rec_metrics {
    seq_rec_part part;
    seq_rec_protocol protocol;
    int64_t n_neg;
    int mask_seen;
    int64_t n_users;            /* users evaluated */
    int n_k;
    int64_t k[SEQ_REC_MAX_KS];
    double hr[SEQ_REC_MAX_KS], ndcg[SEQ_REC_MAX_KS], recall[SEQ_REC_MAX_KS], coverage[SEQ_REC_MAX_KS];
    double mrr;
} seq_rec_metrics;

SEQDEF seq_rec_eval_config seq_rec_eval_config_default(void);
/* Scores the part's users in batches through score(model, ...) and ranks their targets.
 * cfg NULL = defaults; rng is needed by the sampled protocols only. A NaN score is
 * SEQ_ERR_NUMERIC naming the user and item (a model bug must not pass as a low score);
 * +-Inf scores are fine. SEQ_ERR_INVALID for a bad config or a part nobody is in. */
SEQDEF seq_status seq_rec_evaluate(const seq_rec_data *d, const seq_rec_split *split, seq_rec_score_fn score,
                                   void *model, const seq_rec_eval_config *cfg, seq_rng *rng,
                                   seq_rec_metrics *out);
/* The protocol as printed: "full, seen masked", "full, seen kept", "uniform-100 sampled". */
SEQDEF const char *seq_rec_protocol_label(const seq_rec_metrics *m, char *buf, size_t cap);
/* Every metric, one a line, each with its protocol:
 *     HR@10 (full, seen masked) 0.0152
 * snprintf semantics: returns the length the whole text needs; writes at most cap bytes. */
SEQDEF int seq_rec_metrics_format(const seq_rec_metrics *m, char *buf, size_t cap);

/* The k best of n scores (ids 0..n-1), best first, ties to the lower id, with their
 * scores in top_scores (k, may be NULL); entries where
 * exclude[i] != 0 (exclude may be NULL) and NaN scores are skipped. A bounded heap:
 * O(n log k) time, O(k) memory, for any catalog. Returns how many were written
 * (< k when fewer items remain). */
SEQDEF int64_t seq_rec_topk(const float *scores, int64_t n, const uint8_t *exclude, int64_t k, int32_t *ids,
                            float *top_scores);

/* ===================================================================================
 * 4  baselines: PopRec, ItemKNN, BPR-MF, implicit ALS
 * =================================================================================== */

/* Every baseline keeps its learned numbers in a seq_params (one flat buffer), so it
 * saves and loads through seq.h's safetensors: seq_safetensors_save(m.P, path), and
 * seq_safetensors_load(m.P, path) into a model initialized with the same sizes. Each
 * exposes a seq_rec_score_fn for seq_rec_evaluate. */

/* --- PopRec: every user gets the same ranking, by interaction count. */
typedef struct seq_rec_poprec {
    seq_params *P;
    seq_tensor *count; /* (n_items+1) interactions per item, [0] = 0 */
    int64_t n_items;
} seq_rec_poprec;

SEQDEF seq_status seq_rec_poprec_init(seq_rec_poprec *m, int64_t n_items, void *alloc_ud);
/* Counts over the split's training prefixes, or over every interaction when split is
 * NULL (the S3Rec paper's PopRec row counts all of them, test items included). */
SEQDEF seq_status seq_rec_poprec_fit(seq_rec_poprec *m, const seq_rec_data *d, const seq_rec_split *split);
SEQDEF seq_status seq_rec_poprec_score(void *model, const seq_rec_data *d, const int64_t *users,
                                       const int64_t *hist_len, int64_t n, float *scores);
SEQDEF void seq_rec_poprec_free(seq_rec_poprec *m);

/* --- ItemKNN: item-item cosine similarity on the binary user-item matrix of the
 * training prefixes, sim(i,j) = |U_i & U_j| / (sqrt|U_i| sqrt|U_j| + shrink), each item
 * keeping its `neighbors` most similar items. A user's score of item j is the sum of
 * sim(h, j) over the distinct items h of its history. Neighbor ids are stored as
 * floats (exact below 2^24 items) so the model saves as one safetensors file. */
typedef struct seq_rec_itemknn_config {
    int64_t neighbors; /* 100 */
    float shrink;      /* 0 */
} seq_rec_itemknn_config;

typedef struct seq_rec_itemknn {
    seq_params *P;
    seq_tensor *nbr;   /* (n_items+1, neighbors) neighbor ids, 0 = none */
    seq_tensor *sim;   /* (n_items+1, neighbors) their similarities, best first */
    int64_t n_items;
    seq_rec_itemknn_config cfg;
    uint32_t *mark;    /* (n_items+1) scratch of score: distinct history items */
    uint32_t stamp;
} seq_rec_itemknn;

SEQDEF seq_rec_itemknn_config seq_rec_itemknn_config_default(void);
SEQDEF seq_status seq_rec_itemknn_init(seq_rec_itemknn *m, int64_t n_items, seq_rec_itemknn_config cfg, void *alloc_ud);
SEQDEF seq_status seq_rec_itemknn_fit(seq_rec_itemknn *m, const seq_rec_data *d, const seq_rec_split *split);
SEQDEF seq_status seq_rec_itemknn_score(void *model, const seq_rec_data *d, const int64_t *users,
                                        const int64_t *hist_len, int64_t n, float *scores);
SEQDEF void seq_rec_itemknn_free(seq_rec_itemknn *m);

/* --- Matrix factorization: a user's score of item i is x_u . y_i, with user factors
 * "user" (n_users, dim) and item factors "item" (n_items+1, dim; row 0 unused). Users
 * score with their trained factors, so MF evaluates leave-one-out splits (every user
 * trains), not user holdout. Shared by BPR-MF and ALS. */
typedef struct seq_rec_mf {
    seq_params *P;
    seq_tensor *user, *item;
    int64_t n_users, n_items, dim;
} seq_rec_mf;

/* Factors drawn from N(0, init_std^2) with rng. */
SEQDEF seq_status seq_rec_mf_init(seq_rec_mf *m, int64_t n_users, int64_t n_items, int64_t dim, float init_std,
                                  seq_rng *rng, void *alloc_ud);
SEQDEF seq_status seq_rec_mf_score(void *model, const seq_rec_data *d, const int64_t *users, const int64_t *hist_len,
                                   int64_t n, float *scores);
SEQDEF void seq_rec_mf_free(seq_rec_mf *m);

/* BPR-MF (Rendle et al. 2009) on seq.h's tape: each epoch visits every training
 * interaction (u, i) once in shuffled order with one uniform negative j outside u's
 * training prefix, minimizing -log sigmoid(x_u.y_i - x_u.y_j) + l2 (|x_u|^2 + |y_i|^2
 * + |y_j|^2) per triple with Adam. */
typedef struct seq_rec_bpr_config {
    int64_t batch_size; /* 1024 */
    float lr;           /* 1e-3 */
    float l2;           /* 1e-4 */
} seq_rec_bpr_config;

typedef struct seq_rec_bpr {
    seq_rec_mf *mf;
    seq_rec_bpr_config cfg;
    seq_adamw opt;
    seq_ctx *ctx;
    seq_rec_sampler neg;
    int64_t *pairs;      /* (n_train, 2) training interactions (user, position) */
    int64_t n_train;
    int32_t *ids;        /* (3, batch_size) users, positives, negatives of a batch */
    void *alloc_ud;
} seq_rec_bpr;

SEQDEF seq_rec_bpr_config seq_rec_bpr_config_default(void);
SEQDEF seq_status seq_rec_bpr_init(seq_rec_bpr *t, seq_rec_mf *mf, const seq_rec_data *d, const seq_rec_split *split,
                                   seq_rec_bpr_config cfg, void *alloc_ud);
/* One epoch; *loss (may be NULL) receives its mean BPR loss. */
SEQDEF seq_status seq_rec_bpr_epoch(seq_rec_bpr *t, const seq_rec_data *d, const seq_rec_split *split, seq_rng *rng,
                                    double *loss);
SEQDEF void seq_rec_bpr_free(seq_rec_bpr *t);

/* Implicit ALS (Hu, Koren, Volinsky 2008) solved with conjugate gradient (Takacs,
 * Pilaszy, Tikk 2011; as the `implicit` library): with r_ui the number of times u
 * interacted with i in its training prefix and c_ui = 1 + alpha r_ui, each sweep sets
 *     x_u = argmin sum_i c_ui (p_ui - x_u.y_i)^2 + reg |x_u|^2      (p_ui = r_ui > 0)
 * for every user, then the same for every item, each by cg_steps CG iterations warm
 * started from the current factors, so a sweep costs O(n_inter dim + (users + items)
 * dim^2) instead of a dim^3 solve per row. */
typedef struct seq_rec_als_config {
    float alpha;     /* 40 (Hu et al.) */
    float reg;       /* 0.01 */
    int64_t cg_steps; /* 3 */
} seq_rec_als_config;

SEQDEF seq_rec_als_config seq_rec_als_config_default(void);
/* iterations sweeps over users and items. */
SEQDEF seq_status seq_rec_als_fit(seq_rec_mf *m, const seq_rec_data *d, const seq_rec_split *split,
                                  seq_rec_als_config cfg, int64_t iterations);

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
 * Negatives come with the training batches (section 2): drawn by a seq_rec_sampler,
 * uniform or popularity^alpha, never an item of the user's training prefix.
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
/* The batches the model trains on (section 2's batcher): cfg.batch rows of max_len,
 * NEXT_ITEM rows (BERT4Rec: SEQUENCE rows, which it masks itself), n_neg negatives a
 * position for the sampled losses and none for CE.
 *     seq_rec_sampler neg;  seq_rec_batcher it;
 *     seq_rec_sampler_init(&neg, &d, &split, SEQ_REC_NEG_UNIFORM, 0, NULL);
 *     seq_rec_batcher_init(&it, &d, &split, &neg, seq_rec_model_batch_config(m), NULL);
 *     for (epoch ...) seq_rec_model_train_epoch(m, &it, NULL, NULL, &loss); */
SEQDEF seq_rec_batch_config seq_rec_model_batch_config(const seq_rec_model *m);
/* Training loss of rows 0..b->n of a batch laid out as that config says (the sampled
 * losses score the batch's b->n_neg negatives a position). Records on ctx in train mode
 * (dropout on; BERT4Rec draws its masks). A batch of another max_len or mode, ids
 * outside [0,n_items], or missing negatives or timestamps fail the ctx. */
SEQDEF seq_tensor *seq_rec_model_loss(seq_rec_model *m, seq_ctx *ctx, const seq_rec_batch *b);
/* One epoch: every batch of the batcher (restarted, reshuffled and its negatives drawn
 * with the model's rng), an Adam step each. A batch whose loss or gradient is not finite
 * is skipped: Adam refuses its step, so nothing changes, and its loss stays out of the
 * mean. progress (may be NULL) after each batch, with the running mean; *mean_loss (may
 * be NULL) gets the epoch's mean over the batches trained on (0 when none was).
 * SEQ_ERR_NUMERIC when every batch was skipped. */
SEQDEF seq_status seq_rec_model_train_epoch(seq_rec_model *m, seq_rec_batcher *it, seq_rec_progress_fn progress,
                                            void *progress_ud, float *mean_loss);
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
#include <stdlib.h>
#include <string.h>

/* ===================================================================================
 * 1  interaction data (implementation)
 * =================================================================================== */

/* n elements of sz bytes, NULL on overflow or no memory. */
static void *seq_rec__alloc(void *ud, int64_t n, size_t sz) {
    if (n < 0 || (uint64_t)n > (uint64_t)((size_t)-1 / 2) / (sz ? sz : 1)) return NULL;
    return SEQ_MALLOC(ud, (size_t)(n ? n : 1) * sz);
}

/* A decimal integer of at most 18 digits (so it fits int64 without checks): reading
 * stops at 18, and a 19th digit then fails the end-of-token test before it overflows. */
static int seq_rec__parse_int(const char *s, int64_t *v) {
    int64_t x = 0;
    int neg = (*s == '-'), nd = 0;
    if (neg) s++;
    for (; *s >= '0' && *s <= '9' && nd < 18; s++, nd++) x = x * 10 + (*s - '0');
    if (*s || nd == 0) return 0;
    *v = neg ? -x : x;
    return 1;
}

/* A finite number filling the whole token. */
static int seq_rec__parse_num(const char *s, double *v) {
    char *end;
    if (!*s) return 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

/* One parsed row: tokens point into the file buffer. */
typedef struct seq_rec__row {
    const char *user, *item;
    int64_t time, line;
} seq_rec__row;

/* An id token with its sort key: numeric value when every id is an integer (else 0),
 * then the bytes. */
typedef struct seq_rec__key {
    int64_t num, row;
    const char *s;
} seq_rec__key;

static int seq_rec__key_cmp(const void *a, const void *b) {
    const seq_rec__key *x = (const seq_rec__key *)a, *y = (const seq_rec__key *)b;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    return strcmp(x->s, y->s);
}

/* How a name compares with dense id `id` of a map sorted by seq_rec__key_cmp. */
static int seq_rec__name_cmp(const char *name, int numeric, const char *other) {
    seq_rec__key a, b;
    a.s = name; b.s = other; a.num = b.num = 0;
    if (numeric && (!seq_rec__parse_int(name, &a.num) || !seq_rec__parse_int(other, &b.num))) return -1;
    return seq_rec__key_cmp(&a, &b);
}

/* Dense ids for one column of the rows (users from 0, items from 1), sorted as the
 * header comment says; dense[r] receives row r's id. Appends the distinct names to
 * *pool (grown) and their offsets to name_off[first..]. Returns the distinct count, or
 * -1 on no memory. */
static int64_t seq_rec__number(const seq_rec__row *rows, int64_t n, int item_col, int64_t first, int64_t *dense,
                               char **pool, int64_t *pool_len, int64_t **name_off, int *numeric, void *ud) {
    seq_rec__key *k = (seq_rec__key *)seq_rec__alloc(ud, n, sizeof(seq_rec__key));
    int64_t i, nd = 0, bytes = 0, at;
    char *np;
    if (!k) return -1;
    *numeric = 1;
    for (i = 0; i < n; i++) {
        k[i].s = item_col ? rows[i].item : rows[i].user;
        k[i].row = i;
        if (*numeric && !seq_rec__parse_int(k[i].s, &k[i].num)) *numeric = 0;
    }
    for (i = 0; i < n; i++) if (!*numeric) k[i].num = 0;
    qsort(k, (size_t)n, sizeof(seq_rec__key), seq_rec__key_cmp);
    for (i = 0; i < n; i++)
        if (i == 0 || seq_rec__key_cmp(&k[i - 1], &k[i]) != 0) { nd++; bytes += (int64_t)strlen(k[i].s) + 1; }
    np = (char *)SEQ_REALLOC(ud, *pool, (size_t)(*pool_len + bytes));
    *name_off = (int64_t *)seq_rec__alloc(ud, nd + first, sizeof(int64_t));
    if (np) *pool = np;
    if (!np || !*name_off) { SEQ_FREE(ud, k); return -1; }
    if (first) (*name_off)[0] = 0;
    for (i = 0, nd = 0, at = *pool_len; i < n; i++) {
        if (i == 0 || seq_rec__key_cmp(&k[i - 1], &k[i]) != 0) {
            size_t len = strlen(k[i].s) + 1;
            (*name_off)[first + nd++] = at;
            memcpy(*pool + at, k[i].s, len);
            at += (int64_t)len;
        }
        dense[k[i].row] = first + nd - 1;
    }
    *pool_len = at;
    SEQ_FREE(ud, k);
    return nd;
}

SEQDEF seq_rec_load_options seq_rec_load_options_default(void) {
    seq_rec_load_options o;
    o.delimiter = '\t';
    o.user_col = "user_id";
    o.item_col = "item_id";
    o.time_col = "timestamp";
    o.rating_col = NULL;
    o.min_rating = -HUGE_VAL;
    return o;
}

SEQDEF void seq_rec_data_free(seq_rec_data *d) {
    if (!d) return;
    SEQ_FREE(d->alloc_ud, d->off);
    SEQ_FREE(d->alloc_ud, d->items);
    SEQ_FREE(d->alloc_ud, d->times);
    SEQ_FREE(d->alloc_ud, d->names);
    SEQ_FREE(d->alloc_ud, d->user_name_off);
    SEQ_FREE(d->alloc_ud, d->item_name_off);
    memset(d, 0, sizeof(*d));
}

SEQDEF const char *seq_rec_find_data(const char *name, char *buf, size_t cap) {
    const char *dirs[3];
    int i;
    dirs[0] = getenv("SEQ_DATA_DIR"); dirs[1] = "../shared/data"; dirs[2] = "../../shared/data";
    for (i = 0; name && buf && i < 3; i++) {
        FILE *f;
        int n;
        if (!dirs[i]) continue;
        n = snprintf(buf, cap, "%s/%s", dirs[i], name);
        if (n < 0 || (size_t)n >= cap) return NULL;
        if ((f = fopen(buf, "rb")) != NULL) { fclose(f); return buf; }
    }
    return NULL;
}

/* The whole file, NUL-terminated. */
static seq_status seq_rec__read_file(const char *path, void *ud, char **buf, int64_t *len) {
    FILE *f = fopen(path, "rb");
    long sz;
    *buf = NULL;
    if (!f) return seq_set_error(SEQ_ERR_IO, "seq_rec_load: cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return seq_set_error(SEQ_ERR_IO, "seq_rec_load: cannot seek in %s", path);
    }
    *buf = (char *)seq_rec__alloc(ud, (int64_t)sz + 1, 1);
    if (!*buf) { fclose(f); return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_load: %s: no memory for %ld bytes", path, sz); }
    if (fread(*buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f); SEQ_FREE(ud, *buf); *buf = NULL;
        return seq_set_error(SEQ_ERR_IO, "seq_rec_load: read error in %s", path);
    }
    fclose(f);
    (*buf)[sz] = '\0';
    *len = (int64_t)sz;
    return SEQ_OK;
}

/* The next run of non-blank characters at *p, NUL-terminated in place; NULL at the end. */
static char *seq_rec__token(char **p) {
    char *s = *p + strspn(*p, " \t"), *e;
    if (!*s) return NULL;
    e = s + strcspn(s, " \t");
    *p = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

/* Splits a line in place on every occurrence of sep into at most max fields. Returns
 * the field count (max+1 when there are more). */
static int seq_rec__split(char *line, const char *sep, char **f, int max) {
    int n = 0;
    size_t sl = strlen(sep);
    for (;;) {
        char *e = strstr(line, sep);
        if (n == max) return max + 1;
        f[n++] = line;
        if (!e) return n;
        memset(e, 0, sl);
        line = e + sl;
    }
}

/* Header column whose name, or name before ':' (RecBole's `user_id:token`), is want. */
static int seq_rec__column(char **f, int nf, const char *want) {
    int i;
    size_t wl = strlen(want);
    for (i = 0; i < nf; i++)
        if (strncmp(f[i], want, wl) == 0 && (f[i][wl] == '\0' || f[i][wl] == ':')) return i;
    return -1;
}

typedef struct seq_rec__rowbuf {
    seq_rec__row *r;
    int64_t n, cap;
} seq_rec__rowbuf;

static seq_rec__row *seq_rec__push(seq_rec__rowbuf *b, void *ud) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        seq_rec__row *r = (seq_rec__row *)SEQ_REALLOC(ud, b->r, (size_t)cap * sizeof(seq_rec__row));
        if (!r) return NULL;
        b->r = r; b->cap = cap;
    }
    return &b->r[b->n++];
}

#define SEQ_REC__MAX_FIELDS 64

/* Rows of the file in file order; the file's text stays in buf. */
static seq_status seq_rec__parse(char *buf, const char *path, seq_rec_format fmt, const seq_rec_load_options *o,
                                 seq_rec__rowbuf *rows, int *has_time, void *ud) {
    char *f[SEQ_REC__MAX_FIELDS + 1], *line = buf, *next;
    int64_t ln = 0;
    int ncol = 0, cu = 0, ci = 1, ct = -1, cr = -1, header = (fmt == SEQ_REC_FMT_DELIMITED);
    char sep[2];
    sep[0] = o->delimiter; sep[1] = '\0';
    if (fmt == SEQ_REC_FMT_MOVIELENS) { ncol = 4; ct = 3; cr = 2; }
    *has_time = (fmt == SEQ_REC_FMT_MOVIELENS);
    for (; *line; line = next) {
        char *nl = strchr(line, '\n');
        int nf;
        ln++;
        next = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = '\0';
        if (nl && nl > line && nl[-1] == '\r') nl[-1] = '\0';
        if (line[strspn(line, " \t")] == '\0') continue;
        if (fmt == SEQ_REC_FMT_USER_SEQ) { /* a user, then any number of items */
            char *p = line, *user = seq_rec__token(&p), *item = seq_rec__token(&p);
            if (!item)
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: user %s has no items", path,
                                     (long long)ln, user);
            for (; item; item = seq_rec__token(&p)) {
                seq_rec__row *r = seq_rec__push(rows, ud);
                if (!r) return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_load: %s: no memory at line %lld", path, (long long)ln);
                r->user = user; r->item = item; r->time = 0; r->line = ln;
            }
            continue;
        }
        if (fmt == SEQ_REC_FMT_USER_ITEM) {
            char *p = line;
            for (nf = 0; nf < 3 && (f[nf] = seq_rec__token(&p)) != NULL; nf++) {}
        } else {
            nf = seq_rec__split(line, fmt == SEQ_REC_FMT_MOVIELENS ? "::" : sep, f, SEQ_REC__MAX_FIELDS);
        }
        if (header) {
            /* before any lookup: past the limit, f holds only the first max fields */
            if (nf > SEQ_REC__MAX_FIELDS)
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: more than %d columns", path,
                                     (long long)ln, SEQ_REC__MAX_FIELDS);
            header = 0;
            ncol = nf;
            cu = seq_rec__column(f, nf, o->user_col);
            ci = seq_rec__column(f, nf, o->item_col);
            ct = o->time_col ? seq_rec__column(f, nf, o->time_col) : -1;
            cr = o->rating_col ? seq_rec__column(f, nf, o->rating_col) : -1;
            if (cu < 0 || ci < 0 || (o->time_col && ct < 0) || (o->rating_col && cr < 0))
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: header lacks column \"%s\"", path,
                                     (long long)ln, cu < 0 ? o->user_col : ci < 0 ? o->item_col
                                                  : (o->time_col && ct < 0) ? o->time_col : o->rating_col);
            *has_time = ct >= 0;
            continue;
        }
        if (fmt == SEQ_REC_FMT_USER_ITEM) ncol = 2;
        if (nf != ncol)
            return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: expected %d fields, found %d%s", path,
                                 (long long)ln, ncol, nf, nf > ncol ? " or more" : "");
        if (!*f[cu] || !*f[ci])
            return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: empty user or item id", path, (long long)ln);
        {
            double t = 0, rating = 0;
            seq_rec__row *r;
            if (ct >= 0 && (!seq_rec__parse_num(f[ct], &t) || fabs(t) > 9.2e18))
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: timestamp \"%s\" is not a number",
                                     path, (long long)ln, f[ct]);
            if (cr >= 0 && !seq_rec__parse_num(f[cr], &rating))
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: rating \"%s\" is not a number",
                                     path, (long long)ln, f[cr]);
            if (cr >= 0 && rating < o->min_rating) continue;
            if (!(r = seq_rec__push(rows, ud)))
                return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_load: %s: no memory at line %lld", path, (long long)ln);
            r->user = f[cu]; r->item = f[ci]; r->time = (int64_t)t; r->line = ln;
        }
    }
    if (ln == 0) return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line 1: the file is empty", path);
    if (header) return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: no header line", path, (long long)ln);
    if (rows->n == 0)
        return seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: no interactions in the file", path, (long long)ln);
    return SEQ_OK;
}

/* Orders one user's slice [lo, hi) of items/times by time, stably (equal times keep
 * their current order, which is the file's). */
typedef struct seq_rec__timed {
    int64_t time, pos;
    int32_t item;
} seq_rec__timed;

static int seq_rec__timed_cmp(const void *a, const void *b) {
    const seq_rec__timed *x = (const seq_rec__timed *)a, *y = (const seq_rec__timed *)b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

SEQDEF seq_status seq_rec_load(seq_rec_data *d, const char *path, seq_rec_format fmt, const seq_rec_load_options *opt,
                               void *alloc_ud) {
    seq_rec_load_options o = opt ? *opt : seq_rec_load_options_default();
    seq_rec__rowbuf rows;
    char *buf = NULL;
    int64_t len, i, u, *uid = NULL, *iid = NULL, *fill = NULL, names_len = 0, longest = 0;
    int has_time = 0;
    seq_rec__timed *tmp = NULL;
    seq_status st;
    if (d) memset(d, 0, sizeof(*d));
    if (!d || !path || (int)fmt < 0 || fmt >= SEQ_REC_FMT_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_load: NULL data or path, or unknown format %d", (int)fmt);
    if (fmt == SEQ_REC_FMT_DELIMITED && (!o.user_col || !o.item_col || o.delimiter == '\0' || o.delimiter == '\n'))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_load: delimited files need user_col, item_col and a delimiter");
    d->alloc_ud = alloc_ud;
    memset(&rows, 0, sizeof(rows));
    if ((st = seq_rec__read_file(path, alloc_ud, &buf, &len)) != SEQ_OK) return st;
    if ((st = seq_rec__parse(buf, path, fmt, &o, &rows, &has_time, alloc_ud)) != SEQ_OK) goto done;
    st = SEQ_ERR_NOMEM;
    uid = (int64_t *)seq_rec__alloc(alloc_ud, rows.n, sizeof(int64_t));
    iid = (int64_t *)seq_rec__alloc(alloc_ud, rows.n, sizeof(int64_t));
    if (!uid || !iid) goto nomem;
    d->n_users = seq_rec__number(rows.r, rows.n, 0, 0, uid, &d->names, &names_len, &d->user_name_off,
                                 &d->numeric_user_ids, alloc_ud);
    if (d->n_users < 0) goto nomem;
    d->n_items = seq_rec__number(rows.r, rows.n, 1, 1, iid, &d->names, &names_len, &d->item_name_off,
                                 &d->numeric_item_ids, alloc_ud);
    if (d->n_items < 0) goto nomem;
    if (d->n_items >= INT32_MAX) {
        st = seq_set_error(SEQ_ERR_RANGE, "seq_rec_load: %s: %lld distinct items, more than int32 ids hold", path,
                           (long long)d->n_items);
        goto done;
    }
    /* CSR by user, a counting sort: stable, so each user's rows stay in file order */
    d->n_inter = rows.n;
    d->off = (int64_t *)seq_rec__alloc(alloc_ud, d->n_users + 1, sizeof(int64_t));
    d->items = (int32_t *)seq_rec__alloc(alloc_ud, rows.n, sizeof(int32_t));
    fill = (int64_t *)seq_rec__alloc(alloc_ud, d->n_users, sizeof(int64_t));
    if (has_time) d->times = (int64_t *)seq_rec__alloc(alloc_ud, rows.n, sizeof(int64_t));
    if (!d->off || !d->items || !fill || (has_time && !d->times)) goto nomem;
    memset(d->off, 0, (size_t)(d->n_users + 1) * sizeof(int64_t));
    for (i = 0; i < rows.n; i++) d->off[uid[i] + 1]++;
    for (u = 0; u < d->n_users; u++) {
        d->off[u + 1] += d->off[u];
        fill[u] = d->off[u];
        if (d->off[u + 1] - d->off[u] > longest) longest = d->off[u + 1] - d->off[u];
    }
    for (i = 0; i < rows.n; i++) {
        int64_t at = fill[uid[i]]++;
        /* a USER_SEQ user's rows all come from one line */
        if (fmt == SEQ_REC_FMT_USER_SEQ && at > d->off[uid[i]] && rows.r[i].line != rows.r[i - 1].line) {
            int64_t first = 0, j;
            for (j = 0; j < i; j++) if (uid[j] == uid[i]) { first = rows.r[j].line; break; }
            st = seq_set_error(SEQ_ERR_FORMAT, "seq_rec_load: %s: line %lld: user %s already appeared on line %lld",
                               path, (long long)rows.r[i].line, rows.r[i].user, (long long)first);
            goto done;
        }
        d->items[at] = (int32_t)iid[i];
        if (has_time) d->times[at] = rows.r[i].time;
    }
    if (has_time) {
        if (!(tmp = (seq_rec__timed *)seq_rec__alloc(alloc_ud, longest, sizeof(seq_rec__timed)))) goto nomem;
        for (u = 0; u < d->n_users; u++) {
            int64_t lo = d->off[u], n = d->off[u + 1] - lo;
            for (i = 0; i < n; i++) { tmp[i].time = d->times[lo + i]; tmp[i].pos = i; tmp[i].item = d->items[lo + i]; }
            qsort(tmp, (size_t)n, sizeof(seq_rec__timed), seq_rec__timed_cmp);
            for (i = 0; i < n; i++) { d->times[lo + i] = tmp[i].time; d->items[lo + i] = tmp[i].item; }
        }
    }
    st = SEQ_OK;
    goto done;
nomem:
    st = seq_set_error(SEQ_ERR_NOMEM, "seq_rec_load: %s: out of memory", path);
done:
    SEQ_FREE(alloc_ud, tmp);
    SEQ_FREE(alloc_ud, fill);
    SEQ_FREE(alloc_ud, uid);
    SEQ_FREE(alloc_ud, iid);
    SEQ_FREE(alloc_ud, rows.r);
    SEQ_FREE(alloc_ud, buf);
    if (st != SEQ_OK) { seq_rec_data_free(d); d->alloc_ud = alloc_ud; }
    return st;
}

SEQDEF seq_status seq_rec_data_from_sequences(seq_rec_data *d, int64_t n_users, int64_t n_items, const int64_t *off,
                                              const int32_t *items, const int64_t *times, void *alloc_ud) {
    int64_t u, i, n;
    if (d) memset(d, 0, sizeof(*d));
    if (!d || !off || !items || n_users <= 0 || n_items <= 0 || n_items >= INT32_MAX || off[0] != 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_data_from_sequences: NULL array, no users or items, or off[0] != 0");
    for (u = 0; u < n_users; u++)
        if (off[u + 1] <= off[u])
            return seq_set_error(SEQ_ERR_INVALID, "seq_rec_data_from_sequences: user %lld has no items", (long long)u);
    n = off[n_users];
    for (i = 0; i < n; i++)
        if (items[i] < 1 || items[i] > n_items)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_data_from_sequences: item %d at %lld outside 1..%lld", items[i],
                                 (long long)i, (long long)n_items);
    d->alloc_ud = alloc_ud;
    d->n_users = n_users; d->n_items = n_items; d->n_inter = n;
    d->off = (int64_t *)seq_rec__alloc(alloc_ud, n_users + 1, sizeof(int64_t));
    d->items = (int32_t *)seq_rec__alloc(alloc_ud, n, sizeof(int32_t));
    if (times) d->times = (int64_t *)seq_rec__alloc(alloc_ud, n, sizeof(int64_t));
    if (!d->off || !d->items || (times && !d->times)) {
        seq_rec_data_free(d);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_data_from_sequences: out of memory");
    }
    memcpy(d->off, off, (size_t)(n_users + 1) * sizeof(int64_t));
    memcpy(d->items, items, (size_t)n * sizeof(int32_t));
    if (times) memcpy(d->times, times, (size_t)n * sizeof(int64_t));
    return SEQ_OK;
}

SEQDEF const char *seq_rec_user_name(const seq_rec_data *d, int64_t user) {
    if (!d || !d->names || user < 0 || user >= d->n_users) return NULL;
    return d->names + d->user_name_off[user];
}

SEQDEF const char *seq_rec_item_name(const seq_rec_data *d, int32_t item) {
    if (!d || !d->names || item < 1 || item > d->n_items) return NULL;
    return d->names + d->item_name_off[item];
}

/* Binary search of name among the sorted names off[lo..hi]; -1 when absent. */
static int64_t seq_rec__find_name(const seq_rec_data *d, const int64_t *off, int numeric, int64_t lo, int64_t hi,
                                  const char *name) {
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = seq_rec__name_cmp(name, numeric, d->names + off[mid]);
        if (c == 0) return mid;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return -1;
}

SEQDEF int64_t seq_rec_user_index(const seq_rec_data *d, const char *name) {
    if (!d || !d->names || !name) return -1;
    return seq_rec__find_name(d, d->user_name_off, d->numeric_user_ids, 0, d->n_users - 1, name);
}

SEQDEF int32_t seq_rec_item_index(const seq_rec_data *d, const char *name) {
    int64_t i;
    if (!d || !d->names || !name) return 0;
    i = seq_rec__find_name(d, d->item_name_off, d->numeric_item_ids, 1, d->n_items, name);
    return i < 0 ? 0 : (int32_t)i;
}

/* Copies the names of the kept ids (new_id[old] > 0 for items, >= 0 for users) into a
 * new pool at *at, recording their offsets in the new order. */
static void seq_rec__keep_names(const seq_rec_data *d, const int64_t *old_off, int64_t n_old, const int64_t *new_id,
                                int64_t first, char *pool, int64_t *at, int64_t *new_off) {
    int64_t i;
    for (i = first; i < n_old + first; i++) {
        if (new_id[i] < first) continue;
        {
            size_t len = strlen(d->names + old_off[i]) + 1;
            new_off[new_id[i]] = *at;
            memcpy(pool + *at, d->names + old_off[i], len);
            *at += (int64_t)len;
        }
    }
}

SEQDEF seq_status seq_rec_kcore(seq_rec_data *d, int64_t min_user, int64_t min_item) {
    void *ud;
    int64_t *ucnt, *icnt, *unew, *inew, i, u, changed = 1, nu = 0, ni = 0, n = 0, bytes = 0, at = 0;
    uint8_t *keep;
    seq_rec_data nd;
    if (!d || !d->off || min_user < 0 || min_item < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_kcore: NULL data or negative threshold");
    ud = d->alloc_ud;
    ucnt = (int64_t *)seq_rec__alloc(ud, d->n_users + d->n_items + 1, sizeof(int64_t));
    unew = (int64_t *)seq_rec__alloc(ud, d->n_users + d->n_items + 1, sizeof(int64_t));
    keep = (uint8_t *)seq_rec__alloc(ud, d->n_inter, 1);
    memset(&nd, 0, sizeof(nd));
    if (!ucnt || !unew || !keep) goto nomem;
    icnt = ucnt + d->n_users;
    inew = unew + d->n_users;
    memset(keep, 1, (size_t)d->n_inter);
    while (changed) { /* each pass drops what the last pass left below a threshold */
        changed = 0;
        memset(ucnt, 0, (size_t)(d->n_users + d->n_items + 1) * sizeof(int64_t));
        for (u = 0; u < d->n_users; u++)
            for (i = d->off[u]; i < d->off[u + 1]; i++)
                if (keep[i]) { ucnt[u]++; icnt[d->items[i]]++; }
        for (u = 0; u < d->n_users; u++)
            for (i = d->off[u]; i < d->off[u + 1]; i++)
                if (keep[i] && (ucnt[u] < min_user || icnt[d->items[i]] < min_item)) { keep[i] = 0; changed = 1; }
    }
    for (u = 0; u < d->n_users; u++) {
        unew[u] = ucnt[u] ? nu++ : -1;
        n += ucnt[u];
        if (ucnt[u] && d->names) bytes += (int64_t)strlen(d->names + d->user_name_off[u]) + 1;
    }
    inew[0] = 0;
    for (i = 1; i <= d->n_items; i++) {
        inew[i] = icnt[i] ? ++ni : 0;
        if (icnt[i] && d->names) bytes += (int64_t)strlen(d->names + d->item_name_off[i]) + 1;
    }
    if (n == 0) {
        SEQ_FREE(ud, ucnt); SEQ_FREE(ud, unew); SEQ_FREE(ud, keep);
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_kcore: a (%lld, %lld)-core leaves no interactions",
                             (long long)min_user, (long long)min_item);
    }
    nd.alloc_ud = ud;
    nd.n_users = nu; nd.n_items = ni; nd.n_inter = n;
    nd.numeric_user_ids = d->numeric_user_ids; nd.numeric_item_ids = d->numeric_item_ids;
    nd.off = (int64_t *)seq_rec__alloc(ud, nu + 1, sizeof(int64_t));
    nd.items = (int32_t *)seq_rec__alloc(ud, n, sizeof(int32_t));
    if (d->times) nd.times = (int64_t *)seq_rec__alloc(ud, n, sizeof(int64_t));
    if (d->names) {
        nd.names = (char *)seq_rec__alloc(ud, bytes, 1);
        nd.user_name_off = (int64_t *)seq_rec__alloc(ud, nu, sizeof(int64_t));
        nd.item_name_off = (int64_t *)seq_rec__alloc(ud, ni + 1, sizeof(int64_t));
    }
    if (!nd.off || !nd.items || (d->times && !nd.times) ||
        (d->names && (!nd.names || !nd.user_name_off || !nd.item_name_off)))
        goto nomem;
    nd.off[0] = 0;
    for (u = 0, n = 0; u < d->n_users; u++) {
        for (i = d->off[u]; i < d->off[u + 1]; i++) {
            if (!keep[i]) continue;
            nd.items[n] = (int32_t)inew[d->items[i]];
            if (d->times) nd.times[n] = d->times[i];
            n++;
        }
        if (unew[u] >= 0) nd.off[unew[u] + 1] = n;
    }
    if (d->names) {
        nd.item_name_off[0] = 0;
        seq_rec__keep_names(d, d->user_name_off, d->n_users, unew, 0, nd.names, &at, nd.user_name_off);
        seq_rec__keep_names(d, d->item_name_off, d->n_items, inew, 1, nd.names, &at, nd.item_name_off);
    }
    SEQ_FREE(ud, ucnt); SEQ_FREE(ud, unew); SEQ_FREE(ud, keep);
    seq_rec_data_free(d);
    *d = nd;
    return SEQ_OK;
nomem:
    SEQ_FREE(ud, ucnt); SEQ_FREE(ud, unew); SEQ_FREE(ud, keep);
    seq_rec_data_free(&nd);
    return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_kcore: out of memory");
}

SEQDEF void seq_rec_split_free(seq_rec_split *s) {
    if (!s) return;
    SEQ_FREE(s->alloc_ud, s->train_len); /* one block holds every array */
    memset(s, 0, sizeof(*s));
}

/* The split's five arrays in one zeroed block. */
static seq_status seq_rec__split_alloc(seq_rec_split *s, const seq_rec_data *d, void *ud, const char *fn) {
    int p;
    if (s) memset(s, 0, sizeof(*s));
    if (!s || !d || !d->off || d->n_users <= 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or empty data", fn);
    s->alloc_ud = ud;
    s->n_users = d->n_users;
    s->train_len = (int64_t *)seq_rec__alloc(ud, (1 + 2 * SEQ_REC_PART_COUNT) * d->n_users, sizeof(int64_t));
    if (!s->train_len) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    memset(s->train_len, 0, (size_t)((1 + 2 * SEQ_REC_PART_COUNT) * d->n_users) * sizeof(int64_t));
    for (p = 0; p < SEQ_REC_PART_COUNT; p++) {
        s->hist_len[p] = s->train_len + (1 + 2 * p) * d->n_users;
        s->n_targets[p] = s->train_len + (2 + 2 * p) * d->n_users;
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_split_leave_one_out(seq_rec_split *s, const seq_rec_data *d, void *alloc_ud) {
    int64_t u;
    seq_status st = seq_rec__split_alloc(s, d, alloc_ud, "seq_rec_split_leave_one_out");
    if (st != SEQ_OK) return st;
    for (u = 0; u < d->n_users; u++) {
        int64_t n = d->off[u + 1] - d->off[u];
        if (n < 3) { s->train_len[u] = n; continue; }
        s->train_len[u] = n - 2;
        s->hist_len[SEQ_REC_VALID][u] = n - 2;
        s->hist_len[SEQ_REC_TEST][u] = n - 1;
        s->n_targets[SEQ_REC_VALID][u] = s->n_targets[SEQ_REC_TEST][u] = 1;
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_split_user_holdout(seq_rec_split *s, const seq_rec_data *d, double valid_frac,
                                             double test_frac, double target_frac, seq_rng *rng, void *alloc_ud) {
    int64_t *perm, i, n_valid, n_test;
    seq_status st;
    if (!rng || !(valid_frac >= 0 && test_frac >= 0 && valid_frac + test_frac <= 1 && target_frac >= 0 && target_frac < 1)) {
        if (s) memset(s, 0, sizeof(*s));
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_split_user_holdout: need an rng, fractions in [0,1] summing "
                                              "to at most 1, target_frac in [0,1)");
    }
    if ((st = seq_rec__split_alloc(s, d, alloc_ud, "seq_rec_split_user_holdout")) != SEQ_OK) return st;
    if (!(perm = (int64_t *)seq_rec__alloc(alloc_ud, d->n_users, sizeof(int64_t)))) {
        seq_rec_split_free(s);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_split_user_holdout: out of memory");
    }
    seq_rng_permutation(rng, perm, d->n_users);
    n_valid = (int64_t)(valid_frac * (double)d->n_users);
    n_test = (int64_t)(test_frac * (double)d->n_users);
    for (i = 0; i < d->n_users; i++) {
        int64_t u = perm[i], n = d->off[u + 1] - d->off[u], nt;
        int p = i < n_valid ? SEQ_REC_VALID : SEQ_REC_TEST;
        if (i >= n_valid + n_test || n < 2) { s->train_len[u] = n; continue; }
        nt = (int64_t)floor(target_frac * (double)n + 0.5);
        if (nt < 1) nt = 1;
        if (nt > n - 1) nt = n - 1;
        s->hist_len[p][u] = n - nt;
        s->n_targets[p][u] = nt;
    }
    SEQ_FREE(alloc_ud, perm);
    return SEQ_OK;
}

/* ===================================================================================
 * 2  negative sampling and training batches (implementation)
 * =================================================================================== */

SEQDEF void seq_rec_sampler_free(seq_rec_sampler *s) {
    if (!s) return;
    SEQ_FREE(s->alloc_ud, s->prob);
    SEQ_FREE(s->alloc_ud, s->accept);
    SEQ_FREE(s->alloc_ud, s->alias);
    SEQ_FREE(s->alloc_ud, s->mark);
    memset(s, 0, sizeof(*s));
}

/* Interactions per item, over the split's training prefixes (split NULL: all). */
static void seq_rec__item_counts(const seq_rec_data *d, const seq_rec_split *split, double *cnt) {
    int64_t u, i;
    memset(cnt, 0, (size_t)(d->n_items + 1) * sizeof(double));
    for (u = 0; u < d->n_users; u++) {
        int64_t end = split ? d->off[u] + split->train_len[u] : d->off[u + 1];
        for (i = d->off[u]; i < end; i++) cnt[d->items[i]] += 1;
    }
}

SEQDEF seq_status seq_rec_sampler_init(seq_rec_sampler *s, const seq_rec_data *d, const seq_rec_split *split,
                                       seq_rec_neg_kind kind, float alpha, void *alloc_ud) {
    int64_t i, n, ns = 0, nl = 0, *small, *large;
    double total = 0;
    if (s) memset(s, 0, sizeof(*s));
    if (!s || !d || !d->off || d->n_items <= 0 || (int)kind < 0 || kind >= SEQ_REC_NEG_COUNT || !(alpha >= 0) ||
        !isfinite(alpha) || (split && split->n_users != d->n_users))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_sampler_init: NULL or empty data, unknown kind, alpha not "
                                              "finite and >= 0, or a split of other data");
    n = d->n_items;
    s->kind = kind; s->n_items = n; s->alpha = alpha; s->alloc_ud = alloc_ud; s->stamp = 0;
    s->prob = (double *)seq_rec__alloc(alloc_ud, n + 1, sizeof(double));
    s->accept = (double *)seq_rec__alloc(alloc_ud, n + 1, sizeof(double));
    s->alias = (int32_t *)seq_rec__alloc(alloc_ud, n + 1, sizeof(int32_t));
    s->mark = (uint32_t *)seq_rec__alloc(alloc_ud, n + 1, sizeof(uint32_t));
    small = (int64_t *)seq_rec__alloc(alloc_ud, 2 * (n + 1), sizeof(int64_t));
    if (!s->prob || !s->accept || !s->alias || !s->mark || !small) {
        SEQ_FREE(alloc_ud, small);
        seq_rec_sampler_free(s);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_sampler_init: out of memory");
    }
    large = small + n + 1;
    memset(s->mark, 0, (size_t)(n + 1) * sizeof(uint32_t));
    if (kind == SEQ_REC_NEG_UNIFORM) {
        for (i = 1; i <= n; i++) s->prob[i] = 1;
    } else {
        seq_rec__item_counts(d, split, s->prob);
        for (i = 1; i <= n; i++) s->prob[i] = s->prob[i] > 0 ? pow(s->prob[i], alpha) : 0;
    }
    s->prob[0] = 0;
    for (i = 1; i <= n; i++) total += s->prob[i];
    if (!(total > 0)) {
        SEQ_FREE(alloc_ud, small);
        seq_rec_sampler_free(s);
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_sampler_init: no item has a positive count");
    }
    /* Vose's alias method: column i (1..n) holds mass n p_i, split between i and one donor */
    for (i = 1; i <= n; i++) {
        s->prob[i] /= total;
        s->accept[i] = s->prob[i] * (double)n;
        if (s->accept[i] < 1) small[ns++] = i; else large[nl++] = i;
    }
    while (ns && nl) {
        int64_t a = small[--ns], b = large[nl - 1];
        s->alias[a] = (int32_t)b;
        s->accept[b] -= 1 - s->accept[a];
        if (s->accept[b] < 1) { nl--; small[ns++] = b; }
    }
    while (nl) s->accept[large[--nl]] = 1; /* rounding leftovers are full columns */
    while (ns) s->accept[small[--ns]] = 1;
    s->accept[0] = 0; s->alias[0] = 1;
    SEQ_FREE(alloc_ud, small);
    return SEQ_OK;
}

SEQDEF int32_t seq_rec_sampler_draw(const seq_rec_sampler *s, seq_rng *rng) {
    int32_t i = (int32_t)(1 + seq_rng_below(rng, (uint64_t)s->n_items));
    if (s->kind == SEQ_REC_NEG_UNIFORM || seq_rng_double(rng) < s->accept[i]) return i;
    return s->alias[i];
}

SEQDEF seq_status seq_rec_sampler_draw_excluding(seq_rec_sampler *s, seq_rng *rng, const int32_t *exclude,
                                                 int64_t n_exclude, int32_t *out, int64_t n) {
    int64_t i, j;
    double excluded = 0, left = 0;
    if (!s || !s->prob || !rng || (!exclude && n_exclude > 0) || n_exclude < 0 || (!out && n > 0) || n < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_sampler_draw_excluding: NULL argument or negative count");
    if (++s->stamp == 0) { /* the stamps wrapped: forget every old mark */
        memset(s->mark, 0, (size_t)(s->n_items + 1) * sizeof(uint32_t));
        s->stamp = 1;
    }
    for (i = 0; i < n_exclude; i++) {
        int32_t it = exclude[i];
        if (it < 1 || it > s->n_items)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_sampler_draw_excluding: excluded item %d outside 1..%lld", it,
                                 (long long)s->n_items);
        if (s->mark[it] != s->stamp) { s->mark[it] = s->stamp; excluded += s->prob[it]; }
    }
    if (n == 0) return SEQ_OK;
    if (excluded < 0.9) { /* rejection: at most 10 tries a draw on average */
        for (j = 0; j < n; j++) {
            int32_t it;
            do it = seq_rec_sampler_draw(s, rng); while (s->mark[it] == s->stamp);
            out[j] = it;
        }
        return SEQ_OK;
    }
    /* nearly everything excluded: inverse CDF over the items that are left */
    for (i = 1; i <= s->n_items; i++) if (s->mark[i] != s->stamp) left += s->prob[i];
    if (!(left > 0))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_sampler_draw_excluding: every item that can be drawn is excluded");
    for (j = 0; j < n; j++) {
        double r = seq_rng_double(rng) * left, acc = 0;
        int32_t last = 0;
        for (i = 1; i <= s->n_items; i++) {
            if (s->mark[i] == s->stamp || s->prob[i] <= 0) continue;
            last = (int32_t)i;
            acc += s->prob[i];
            if (r < acc) break;
        }
        out[j] = last; /* rounding can leave r just above acc: the last item left */
    }
    return SEQ_OK;
}

SEQDEF seq_rec_batch_config seq_rec_batch_config_default(void) {
    seq_rec_batch_config c;
    c.batch_size = 128;
    c.max_len = 50;
    c.n_neg = 1;
    c.mode = SEQ_REC_BATCH_NEXT_ITEM;
    c.shuffle = 1;
    return c;
}

/* Row of L ids: the m items at interaction index `at` (d->items[at..at+m)) at the right
 * end, zeros before; the same for their timestamps when times is not NULL. */
static void seq_rec__pad_row(const seq_rec_data *d, int64_t at, int64_t m, int64_t L, int32_t *row, int64_t *times) {
    memset(row, 0, (size_t)(L - m) * sizeof(int32_t));
    memcpy(row + L - m, d->items + at, (size_t)m * sizeof(int32_t));
    if (!times) return;
    memset(times, 0, (size_t)(d->times ? L - m : L) * sizeof(int64_t));
    if (d->times) memcpy(times + L - m, d->times + at, (size_t)m * sizeof(int64_t));
}

SEQDEF seq_status seq_rec_fill_history(const seq_rec_data *d, const int64_t *users, const int64_t *hist_len, int64_t n,
                                       int64_t L, int32_t *inputs, int64_t *times) {
    int64_t i;
    if (!d || !d->off || (n > 0 && (!users || !hist_len || !inputs)) || n < 0 || L <= 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_fill_history: NULL argument, negative n or L <= 0");
    for (i = 0; i < n; i++) {
        int64_t u = users[i], h = hist_len[i], m;
        if (u < 0 || u >= d->n_users || h < 0 || h > d->off[u + 1] - d->off[u])
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_fill_history: row %lld: user %lld or hist_len %lld out of range",
                                 (long long)i, (long long)u, (long long)h);
        m = h < L ? h : L;
        seq_rec__pad_row(d, d->off[u] + h - m, m, L, inputs + i * L, times ? times + i * L : NULL);
    }
    return SEQ_OK;
}

SEQDEF void seq_rec_batcher_free(seq_rec_batcher *it) {
    if (!it) return;
    SEQ_FREE(it->alloc_ud, it->order);
    SEQ_FREE(it->alloc_ud, it->batch.users);
    SEQ_FREE(it->alloc_ud, it->batch.inputs);
    SEQ_FREE(it->alloc_ud, it->batch.times);
    memset(it, 0, sizeof(*it));
}

SEQDEF seq_status seq_rec_batcher_init(seq_rec_batcher *it, const seq_rec_data *d, const seq_rec_split *split,
                                       seq_rec_sampler *sampler, seq_rec_batch_config cfg, void *alloc_ud) {
    int64_t u, B = cfg.batch_size, L = cfg.max_len, per_row, min_len = cfg.mode == SEQ_REC_BATCH_NEXT_ITEM ? 2 : 1;
    if (it) memset(it, 0, sizeof(*it));
    if (!it || !d || !d->off || !split || split->n_users != d->n_users || B <= 0 || L <= 0 || cfg.n_neg < 0 ||
        (int)cfg.mode < 0 || cfg.mode >= SEQ_REC_BATCH_MODE_COUNT || (cfg.n_neg > 0 && !sampler) ||
        (sampler && sampler->n_items != d->n_items))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_batcher_init: NULL data or split, a split or sampler of other "
                                              "data, batch_size/max_len <= 0, n_neg < 0, or negatives without a sampler");
    if ((double)B * (double)L * (double)(cfg.n_neg + 2) > 1e12)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_batcher_init: batch of %lld x %lld x %lld is too large",
                             (long long)B, (long long)L, (long long)cfg.n_neg);
    it->d = d; it->split = split; it->sampler = sampler; it->cfg = cfg; it->alloc_ud = alloc_ud;
    it->batch.B = B; it->batch.L = L; it->batch.n_neg = cfg.n_neg; it->batch.alloc_ud = alloc_ud;
    per_row = L * (2 + cfg.n_neg); /* inputs, targets and negatives share one block */
    it->order = (int64_t *)seq_rec__alloc(alloc_ud, d->n_users, sizeof(int64_t));
    it->batch.users = (int64_t *)seq_rec__alloc(alloc_ud, B, sizeof(int64_t));
    it->batch.inputs = (int32_t *)seq_rec__alloc(alloc_ud, B * per_row, sizeof(int32_t));
    if (d->times) it->batch.times = (int64_t *)seq_rec__alloc(alloc_ud, B * L, sizeof(int64_t));
    if (!it->order || !it->batch.users || !it->batch.inputs || (d->times && !it->batch.times)) {
        seq_rec_batcher_free(it);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_batcher_init: out of memory");
    }
    it->batch.targets = it->batch.inputs + B * L;
    it->batch.negatives = cfg.n_neg ? it->batch.targets + B * L : NULL;
    for (u = 0; u < d->n_users; u++)
        if (split->train_len[u] >= min_len) it->order[it->n_rows++] = u;
    if (it->n_rows == 0) {
        seq_rec_batcher_free(it);
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_batcher_init: no user has a training prefix of %lld items",
                             (long long)min_len);
    }
    it->pos = it->n_rows; /* nothing until the first start */
    return SEQ_OK;
}

SEQDEF void seq_rec_batcher_start(seq_rec_batcher *it, seq_rng *rng) {
    if (!it || !it->order) return;
    if (it->cfg.shuffle && rng) seq_rng_shuffle(rng, it->order, it->n_rows);
    it->pos = 0;
}

SEQDEF seq_status seq_rec_batcher_next(seq_rec_batcher *it, seq_rng *rng) {
    seq_rec_batch *b;
    const seq_rec_data *d;
    int64_t r, L, K;
    if (!it || !it->order) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_batcher_next: batcher not initialized");
    b = &it->batch; d = it->d; L = b->L; K = b->n_neg;
    if (K > 0 && !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_batcher_next: negatives need an rng");
    memset(b->inputs, 0, (size_t)(b->B * L * (2 + K)) * sizeof(int32_t));
    if (b->times) memset(b->times, 0, (size_t)(b->B * L) * sizeof(int64_t));
    for (r = 0; r < b->B; r++) b->users[r] = -1;
    for (b->n = 0; b->n < b->B && it->pos < it->n_rows; b->n++, it->pos++) {
        int64_t u = it->order[it->pos], n = it->split->train_len[u], m;
        const int32_t *s = d->items + d->off[u];
        int shift = it->cfg.mode == SEQ_REC_BATCH_NEXT_ITEM; /* targets run one item ahead */
        r = b->n;
        b->users[r] = u;
        m = n - shift < L ? n - shift : L;
        seq_rec__pad_row(d, d->off[u] + n - shift - m, m, L, b->inputs + r * L, b->times ? b->times + r * L : NULL);
        seq_rec__pad_row(d, d->off[u] + n - m, m, L, b->targets + r * L, NULL);
        if (K > 0) {
            seq_status st = seq_rec_sampler_draw_excluding(it->sampler, rng, s, n, b->negatives + (r * L + L - m) * K, m * K);
            if (st != SEQ_OK) return st;
        }
    }
    return SEQ_OK;
}

/* ===================================================================================
 * 3  ranking metrics and evaluation protocols (implementation)
 * =================================================================================== */

SEQDEF seq_rec_eval_config seq_rec_eval_config_default(void) {
    seq_rec_eval_config c;
    memset(&c, 0, sizeof(c));
    c.part = SEQ_REC_TEST;
    c.protocol = SEQ_REC_PROTO_FULL;
    c.n_neg = 100;
    c.mask_seen = 1;
    c.n_k = 3;
    c.k[0] = 5; c.k[1] = 10; c.k[2] = 20;
    c.max_score_bytes = (int64_t)64 << 20;
    c.max_users = 0;
    return c;
}

/* Heap order of the top-k selection over item ids: a is worse than b (a lower score, or
 * the same with a larger id). The root of the min-heap is the worst kept id. */
/* Every factor model's scores: scores (n, V) = x (n,D) . items[0..V)^T, items (V,D) row
 * major (the padding column 0 comes along; the evaluator ignores it). */
static void seq_rec__dot_items(const float *x, int64_t n, const float *items, int64_t V, int64_t D, float *scores) {
    seq_sgemm(0, 1, n, V, D, 1.0f, x, D, items, D, 0.0f, scores, V);
}

static int seq_rec__worse(const float *sc, int32_t a, int32_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && a > b); }

/* Restores the heap of ids below position i of n. */
static void seq_rec__sift_down(const float *sc, int32_t *heap, int64_t n, int64_t i) {
    for (;;) {
        int64_t w = i, l = 2 * i + 1, r = l + 1;
        int32_t t;
        if (l < n && seq_rec__worse(sc, heap[l], heap[w])) w = l;
        if (r < n && seq_rec__worse(sc, heap[r], heap[w])) w = r;
        if (w == i) return;
        t = heap[i], heap[i] = heap[w], heap[w] = t;
        i = w;
    }
}

SEQDEF int64_t seq_rec_topk(const float *scores, int64_t n, const uint8_t *exclude, int64_t k, int32_t *ids,
                            float *top_scores) {
    int64_t i, m = 0;
    if (!scores || !ids || k <= 0 || n <= 0) return 0;
    for (i = 0; i < n; i++) {
        if ((exclude && exclude[i]) || scores[i] != scores[i]) continue;
        if (m < k) { /* grow the heap: sift the new id up */
            int64_t c = m++;
            ids[c] = (int32_t)i;
            while (c > 0 && seq_rec__worse(scores, ids[c], ids[(c - 1) / 2])) {
                int32_t t = ids[c];
                ids[c] = ids[(c - 1) / 2], ids[(c - 1) / 2] = t;
                c = (c - 1) / 2;
            }
        } else if (seq_rec__worse(scores, ids[0], (int32_t)i)) {
            ids[0] = (int32_t)i;
            seq_rec__sift_down(scores, ids, m, 0);
        }
    }
    for (i = m - 1; i > 0; i--) { /* heap sort: each pass moves the worst left to the end */
        int32_t t = ids[0];
        ids[0] = ids[i], ids[i] = t;
        seq_rec__sift_down(scores, ids, i, 0);
    }
    for (i = 0; top_scores && i < m; i++) top_scores[i] = scores[ids[i]];
    return m;
}

/* Scratch of one evaluation. */
typedef struct seq_rec__eval {
    const seq_rec_data *d;
    const seq_rec_split *split;
    seq_rec_eval_config c;
    int64_t kmax;
    uint8_t *excl;        /* (n_items+1) 1 = not a candidate (full protocol) */
    uint8_t *is_target;   /* (n_items+1) */
    int64_t *best_rank;   /* (n_items+1) best top-K position any user gave the item (coverage) */
    int32_t *cand, *top;  /* sampled candidates (targets then negatives); top-K ids */
    float *cand_s, *top_s;
    int32_t *tgt;         /* distinct targets of the user */
    seq_rec_sampler neg;  /* sampled protocols */
    double sum_hr[SEQ_REC_MAX_KS], sum_ndcg[SEQ_REC_MAX_KS], sum_recall[SEQ_REC_MAX_KS], sum_mrr;
} seq_rec__eval;

/* Candidates of user u for the sampled protocols: the distinct targets, then min(n_neg,
 * what is left) distinct negatives outside the user's whole sequence. */
static seq_status seq_rec__sample_candidates(seq_rec__eval *e, int64_t u, int64_t nt, seq_rng *rng, int64_t *nc) {
    const seq_rec_data *d = e->d;
    const int32_t *s = d->items + d->off[u];
    int64_t n = d->off[u + 1] - d->off[u], i, avail = 0, have = 0, want;
    int32_t *excl = e->cand + nt; /* the sequence, then the accepted negatives */
    seq_status st;
    for (i = 0; i < n; i++) e->excl[s[i]] = 1;
    for (i = 1; i <= d->n_items; i++) avail += !e->excl[i] && e->neg.prob[i] > 0;
    want = avail < e->c.n_neg ? avail : e->c.n_neg;
    memcpy(excl, s, (size_t)n * sizeof(int32_t));
    while (have < want) { /* distinct negatives: draw the missing ones, keep the new ones */
        int32_t *draw = excl + n + have;
        int64_t got = want - have, j;
        if ((st = seq_rec_sampler_draw_excluding(&e->neg, rng, excl, n + have, draw, got)) != SEQ_OK) return st;
        for (j = 0; j < got; j++)
            if (!e->excl[draw[j]]) { e->excl[draw[j]] = 1; excl[n + have++] = draw[j]; }
    }
    for (i = 0; i < n; i++) e->excl[s[i]] = 0;
    for (i = 0; i < have; i++) { e->excl[excl[n + i]] = 0; e->cand[nt + i] = excl[n + i]; }
    for (i = 0; i < nt; i++) e->cand[i] = e->tgt[i];
    *nc = nt + have;
    return SEQ_OK;
}

/* Ranks one user's targets given its score row (n_items+1) and adds its metrics. */
static seq_status seq_rec__rank_user(seq_rec__eval *e, int64_t u, const float *row, seq_rng *rng) {
    const seq_rec_data *d = e->d;
    const seq_rec_eval_config *c = &e->c;
    int64_t h = e->split->hist_len[c->part][u], nt_all = e->split->n_targets[c->part][u];
    const int32_t *s = d->items + d->off[u];
    int64_t i, j, nt = 0, nc = 0, ntop, best = INT64_MAX, hits[SEQ_REC_MAX_KS];
    int full = c->protocol == SEQ_REC_PROTO_FULL;
    double dcg[SEQ_REC_MAX_KS];
    seq_status st = SEQ_OK;
    for (i = 0; i < nt_all; i++) /* distinct targets */
        if (!e->is_target[s[h + i]]) { e->is_target[s[h + i]] = 1; e->tgt[nt++] = s[h + i]; }
    if (full) {
        if (c->mask_seen)
            for (i = 0; i < h; i++) if (!e->is_target[s[i]]) e->excl[s[i]] = 1;
        for (i = 1; i <= d->n_items; i++)
            if (!e->excl[i] && row[i] != row[i]) {
                st = seq_set_error(SEQ_ERR_NUMERIC, "seq_rec_evaluate: NaN score for user %lld, item %lld", (long long)u,
                                   (long long)i);
                goto out;
            }
    } else {
        if ((st = seq_rec__sample_candidates(e, u, nt, rng, &nc)) != SEQ_OK) goto out;
        for (i = 0; i < nc; i++) {
            e->cand_s[i] = row[e->cand[i]];
            if (e->cand_s[i] != e->cand_s[i]) {
                st = seq_set_error(SEQ_ERR_NUMERIC, "seq_rec_evaluate: NaN score for user %lld, item %d", (long long)u,
                                   e->cand[i]);
                goto out;
            }
        }
    }
    for (j = 0; j < c->n_k; j++) { hits[j] = 0; dcg[j] = 0; }
    for (i = 0; i < nt; i++) { /* pessimistic rank: every other candidate scored >= the target is ahead */
        int32_t t = e->tgt[i];
        float st_ = row[t];
        int64_t rank = 1;
        if (full) {
            for (j = 1; j <= d->n_items; j++) rank += !e->excl[j] && j != t && row[j] >= st_;
        } else {
            for (j = 0; j < nc; j++) rank += e->cand[j] != t && e->cand_s[j] >= st_;
        }
        if (rank < best) best = rank;
        for (j = 0; j < c->n_k; j++)
            if (rank <= c->k[j]) { hits[j]++; dcg[j] += 1.0 / log2((double)rank + 1.0); }
    }
    for (j = 0; j < c->n_k; j++) {
        double idcg = 0;
        int64_t r;
        for (r = 1; r <= nt && r <= c->k[j]; r++) idcg += 1.0 / log2((double)r + 1.0);
        e->sum_hr[j] += hits[j] > 0;
        e->sum_recall[j] += (double)hits[j] / (double)nt;
        e->sum_ndcg[j] += dcg[j] / idcg;
    }
    e->sum_mrr += 1.0 / (double)best;
    /* coverage: the user's top-kmax list */
    if (full) {
        ntop = seq_rec_topk(row, d->n_items + 1, e->excl, e->kmax, e->top, e->top_s);
    } else {
        ntop = seq_rec_topk(e->cand_s, nc, NULL, e->kmax, e->top, e->top_s);
        for (i = 0; i < ntop; i++) e->top[i] = e->cand[e->top[i]];
    }
    for (i = 0; i < ntop; i++) if (i + 1 < e->best_rank[e->top[i]]) e->best_rank[e->top[i]] = i + 1;
out:
    for (i = 0; i < h; i++) e->excl[s[i]] = 0;
    for (i = 0; i < nt; i++) e->is_target[e->tgt[i]] = 0;
    return st;
}

SEQDEF seq_status seq_rec_evaluate(const seq_rec_data *d, const seq_rec_split *split, seq_rec_score_fn score,
                                   void *model, const seq_rec_eval_config *cfg, seq_rng *rng, seq_rec_metrics *out) {
    seq_rec__eval e;
    void *ud;
    int64_t u, i, j, nb, n_eval = 0, longest = 0, *users = NULL, *hist = NULL, N;
    float *scores = NULL;
    seq_status st = SEQ_OK;
    memset(&e, 0, sizeof(e));
    e.c = cfg ? *cfg : seq_rec_eval_config_default();
    if (out) memset(out, 0, sizeof(*out));
    if (!d || !d->off || !split || split->n_users != d->n_users || !score || !out)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_evaluate: NULL data, split, score function or output, or a "
                                              "split of other data");
    if ((int)e.c.part < 0 || e.c.part >= SEQ_REC_PART_COUNT || (int)e.c.protocol < 0 ||
        e.c.protocol >= SEQ_REC_PROTO_COUNT || e.c.n_k < 1 || e.c.n_k > SEQ_REC_MAX_KS || e.c.max_score_bytes <= 0 ||
        e.c.max_users < 0 || (e.c.protocol != SEQ_REC_PROTO_FULL && (e.c.n_neg < 1 || !rng)))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_evaluate: bad config (part, protocol, n_k in 1..%d, "
                                              "max_score_bytes > 0, sampled protocols need n_neg >= 1 and an rng)",
                             SEQ_REC_MAX_KS);
    for (j = 0; j < e.c.n_k; j++) {
        if (e.c.k[j] < 1) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_evaluate: k[%lld] = %lld < 1", (long long)j, (long long)e.c.k[j]);
        if (e.c.k[j] > e.kmax) e.kmax = e.c.k[j];
    }
    for (u = 0; u < d->n_users; u++) {
        int64_t n = d->off[u + 1] - d->off[u], h = split->hist_len[e.c.part][u], nt = split->n_targets[e.c.part][u];
        if (nt == 0) continue;
        if (h < 0 || nt < 0 || h + nt > n)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_evaluate: user %lld: history %lld + targets %lld exceed its %lld "
                                                "items", (long long)u, (long long)h, (long long)nt, (long long)n);
        if (e.c.max_users == 0 || n_eval < e.c.max_users) n_eval++;
        if (n > longest) longest = n;
    }
    if (n_eval == 0) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_evaluate: no user is evaluated in this part");
    ud = d->alloc_ud;
    N = d->n_items + 1;
    e.d = d; e.split = split;
    nb = e.c.max_score_bytes / (int64_t)(N * sizeof(float));
    if (nb < 1) nb = 1;
    if (nb > n_eval) nb = n_eval;
    scores = (float *)seq_rec__alloc(ud, nb * N, sizeof(float));
    users = (int64_t *)seq_rec__alloc(ud, 2 * nb, sizeof(int64_t));
    e.excl = (uint8_t *)seq_rec__alloc(ud, 2 * N, 1);
    e.best_rank = (int64_t *)seq_rec__alloc(ud, N, sizeof(int64_t));
    e.cand = (int32_t *)seq_rec__alloc(ud, 3 * longest + e.c.n_neg + e.kmax, sizeof(int32_t));
    e.cand_s = (float *)seq_rec__alloc(ud, longest + e.c.n_neg + e.kmax, sizeof(float));
    if (!scores || !users || !e.excl || !e.best_rank || !e.cand || !e.cand_s) {
        st = seq_set_error(SEQ_ERR_NOMEM, "seq_rec_evaluate: out of memory");
        goto done;
    }
    /* cand: targets, then the sequence and the negatives drawn outside it (2 longest +
     * n_neg); then the distinct targets (longest) and the top-K ids */
    e.tgt = e.cand + 2 * longest + e.c.n_neg;
    e.top = e.tgt + longest;
    e.top_s = e.cand_s + longest + e.c.n_neg;
    hist = users + nb;
    e.is_target = e.excl + N;
    memset(e.excl, 0, (size_t)(2 * N));
    e.excl[0] = 1; /* the padding id is never a candidate */
    for (i = 0; i < N; i++) e.best_rank[i] = INT64_MAX;
    if (e.c.protocol != SEQ_REC_PROTO_FULL &&
        (st = seq_rec_sampler_init(&e.neg, d, NULL, e.c.protocol == SEQ_REC_PROTO_UNIFORM ? SEQ_REC_NEG_UNIFORM
                                                                                          : SEQ_REC_NEG_POPULARITY,
                                   1.0f, ud)) != SEQ_OK)
        goto done;
    for (u = 0, i = 0; u < d->n_users && i < n_eval;) {
        int64_t n = 0, r;
        for (; u < d->n_users && n < nb && i < n_eval; u++) {
            if (split->n_targets[e.c.part][u] == 0) continue;
            users[n] = u;
            hist[n++] = split->hist_len[e.c.part][u];
            i++;
        }
        if ((st = score(model, d, users, hist, n, scores)) != SEQ_OK) goto done;
        for (r = 0; r < n; r++)
            if ((st = seq_rec__rank_user(&e, users[r], scores + r * N, rng)) != SEQ_OK) goto done;
    }
    out->part = e.c.part; out->protocol = e.c.protocol; out->n_neg = e.c.n_neg; out->mask_seen = e.c.mask_seen;
    out->n_users = n_eval; out->n_k = e.c.n_k;
    out->mrr = e.sum_mrr / (double)n_eval;
    for (j = 0; j < e.c.n_k; j++) {
        int64_t covered = 0;
        for (i = 1; i < N; i++) covered += e.best_rank[i] <= e.c.k[j];
        out->k[j] = e.c.k[j];
        out->hr[j] = e.sum_hr[j] / (double)n_eval;
        out->ndcg[j] = e.sum_ndcg[j] / (double)n_eval;
        out->recall[j] = e.sum_recall[j] / (double)n_eval;
        out->coverage[j] = (double)covered / (double)d->n_items;
    }
done:
    seq_rec_sampler_free(&e.neg);
    SEQ_FREE(ud, scores); SEQ_FREE(ud, users); SEQ_FREE(ud, e.excl); SEQ_FREE(ud, e.best_rank);
    SEQ_FREE(ud, e.cand); SEQ_FREE(ud, e.cand_s);
    return st;
}

SEQDEF const char *seq_rec_protocol_label(const seq_rec_metrics *m, char *buf, size_t cap) {
    if (!buf || cap == 0) return "";
    if (!m) snprintf(buf, cap, "?");
    else if (m->protocol == SEQ_REC_PROTO_FULL) snprintf(buf, cap, "full, seen %s", m->mask_seen ? "masked" : "kept");
    else snprintf(buf, cap, "%s-%lld sampled", m->protocol == SEQ_REC_PROTO_UNIFORM ? "uniform" : "popularity",
                  (long long)m->n_neg);
    return buf;
}

SEQDEF int seq_rec_metrics_format(const seq_rec_metrics *m, char *buf, size_t cap) {
    static const char *const names[4] = {"HR", "NDCG", "Recall", "Coverage"};
    char label[64];
    int len = 0, j, q, w;
    if (!m) return -1;
    seq_rec_protocol_label(m, label, sizeof(label));
#define SEQ_REC__EMIT(...)                                                                     \
    do {                                                                                       \
        w = snprintf(buf && (size_t)len < cap ? buf + len : NULL, buf && (size_t)len < cap ? cap - (size_t)len : 0, \
                     __VA_ARGS__);                                                             \
        if (w < 0) return -1;                                                                  \
        len += w;                                                                              \
    } while (0)
    SEQ_REC__EMIT("%s part, %lld users\n", m->part == SEQ_REC_TEST ? "test" : "valid", (long long)m->n_users);
    for (q = 0; q < 4; q++) {
        const double *v = q == 0 ? m->hr : q == 1 ? m->ndcg : q == 2 ? m->recall : m->coverage;
        for (j = 0; j < m->n_k; j++) SEQ_REC__EMIT("%s@%lld (%s) %.4f\n", names[q], (long long)m->k[j], label, v[j]);
    }
    SEQ_REC__EMIT("MRR (%s) %.4f\n", label, m->mrr);
#undef SEQ_REC__EMIT
    return len;
}

/* ===================================================================================
 * 4  baselines (implementation)
 * =================================================================================== */

/* A seq_params holding the given tensors, allocated and zeroed; NULL on failure with
 * the error set for fn. names/ndims/shapes describe n tensors; views receive them. */
static seq_params *seq_rec__params(const char *fn, int n, const char *const *names, const int *ndims,
                                   const int64_t (*shapes)[2], seq_tensor **views, void *alloc_ud) {
    seq_params *P = seq_params_init(alloc_ud);
    seq_rng rng;
    int i;
    if (!P) { seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn); return NULL; }
    for (i = 0; i < n; i++)
        if (!(views[i] = seq_params_add(P, names[i], ndims[i], shapes[i], seq_init_zeros()))) break;
    seq_rng_seed(&rng, 0);
    if (i < n || seq_params_alloc(P, &rng) != SEQ_OK) {
        seq_params_free(P);
        seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    return P;
}

SEQDEF seq_status seq_rec_poprec_init(seq_rec_poprec *m, int64_t n_items, void *alloc_ud) {
    static const char *const names[1] = {"count"};
    static const int ndims[1] = {1};
    int64_t shape[1][2];
    if (m) memset(m, 0, sizeof(*m));
    if (!m || n_items <= 0) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_poprec_init: NULL model or n_items <= 0");
    shape[0][0] = n_items + 1; shape[0][1] = 0;
    m->n_items = n_items;
    m->P = seq_rec__params("seq_rec_poprec_init", 1, names, ndims, (const int64_t(*)[2])shape, &m->count, alloc_ud);
    return m->P ? SEQ_OK : seq_last_status();
}

SEQDEF seq_status seq_rec_poprec_fit(seq_rec_poprec *m, const seq_rec_data *d, const seq_rec_split *split) {
    double *cnt;
    int64_t i;
    if (!m || !m->P || !d || !d->off || d->n_items != m->n_items || (split && split->n_users != d->n_users))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_poprec_fit: NULL model or data, or sizes that differ");
    if (!(cnt = (double *)seq_rec__alloc(m->P->alloc_ud, d->n_items + 1, sizeof(double))))
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_poprec_fit: out of memory");
    seq_rec__item_counts(d, split, cnt);
    for (i = 0; i <= d->n_items; i++) m->count->data[i] = (float)cnt[i];
    SEQ_FREE(m->P->alloc_ud, cnt);
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_poprec_score(void *model, const seq_rec_data *d, const int64_t *users,
                                       const int64_t *hist_len, int64_t n, float *scores) {
    const seq_rec_poprec *m = (const seq_rec_poprec *)model;
    int64_t r;
    (void)users; (void)hist_len;
    if (!m || !m->P || !d || d->n_items != m->n_items || (n > 0 && !scores) || n < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_poprec_score: NULL model or scores, or other data");
    for (r = 0; r < n; r++) memcpy(scores + r * (d->n_items + 1), m->count->data, (size_t)(d->n_items + 1) * sizeof(float));
    return SEQ_OK;
}

SEQDEF void seq_rec_poprec_free(seq_rec_poprec *m) {
    if (!m) return;
    seq_params_free(m->P);
    memset(m, 0, sizeof(*m));
}

/* The training prefixes as a sparse matrix, both ways: by_user row u lists the distinct
 * items of u's prefix with their counts, by_item row i the users with theirs. */
typedef struct seq_rec__csr {
    int64_t *off; /* (rows+1) */
    int32_t *idx;
    float *val;
} seq_rec__csr;

static void seq_rec__csr_free(seq_rec__csr *c, void *ud) {
    SEQ_FREE(ud, c->off); SEQ_FREE(ud, c->idx); SEQ_FREE(ud, c->val);
    memset(c, 0, sizeof(*c));
}

static seq_status seq_rec__train_csr(const seq_rec_data *d, const seq_rec_split *split, void *ud, const char *fn,
                                     seq_rec__csr *by_user, seq_rec__csr *by_item) {
    int64_t u, p, nnz = 0, N = d->n_items + 1, *last = (int64_t *)seq_rec__alloc(ud, 2 * N, sizeof(int64_t)), *slot;
    memset(by_user, 0, sizeof(*by_user));
    memset(by_item, 0, sizeof(*by_item));
    by_user->off = (int64_t *)seq_rec__alloc(ud, d->n_users + 1, sizeof(int64_t));
    by_user->idx = (int32_t *)seq_rec__alloc(ud, d->n_inter, sizeof(int32_t));
    by_user->val = (float *)seq_rec__alloc(ud, d->n_inter, sizeof(float));
    by_item->off = (int64_t *)seq_rec__alloc(ud, N + 1, sizeof(int64_t));
    by_item->idx = (int32_t *)seq_rec__alloc(ud, d->n_inter, sizeof(int32_t));
    by_item->val = (float *)seq_rec__alloc(ud, d->n_inter, sizeof(float));
    if (!last || !by_user->off || !by_user->idx || !by_user->val || !by_item->off || !by_item->idx || !by_item->val) {
        SEQ_FREE(ud, last);
        seq_rec__csr_free(by_user, ud);
        seq_rec__csr_free(by_item, ud);
        return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    }
    slot = last + N;
    for (p = 0; p < N; p++) last[p] = -1;
    by_user->off[0] = 0;
    for (u = 0; u < d->n_users; u++) { /* distinct items of each prefix, repeats counted */
        int64_t end = d->off[u] + (split ? split->train_len[u] : d->off[u + 1] - d->off[u]);
        for (p = d->off[u]; p < end; p++) {
            int32_t it = d->items[p];
            if (last[it] == u) { by_user->val[slot[it]] += 1; continue; }
            last[it] = u; slot[it] = nnz;
            by_user->idx[nnz] = it; by_user->val[nnz++] = 1;
        }
        by_user->off[u + 1] = nnz;
    }
    memset(by_item->off, 0, (size_t)(N + 1) * sizeof(int64_t));
    for (p = 0; p < nnz; p++) by_item->off[by_user->idx[p] + 1]++;
    for (p = 0; p < N; p++) { by_item->off[p + 1] += by_item->off[p]; last[p] = by_item->off[p]; }
    for (u = 0; u < d->n_users; u++)
        for (p = by_user->off[u]; p < by_user->off[u + 1]; p++) {
            int64_t at = last[by_user->idx[p]]++;
            by_item->idx[at] = (int32_t)u;
            by_item->val[at] = by_user->val[p];
        }
    SEQ_FREE(ud, last);
    return SEQ_OK;
}

/* Checks shared by the fit functions of section 4. */
static seq_status seq_rec__check_fit(const char *fn, const void *m, const seq_rec_data *d, const seq_rec_split *split,
                                     int64_t n_users, int64_t n_items) {
    if (!m || !d || !d->off || (split && split->n_users != d->n_users) || (n_users >= 0 && d->n_users != n_users) ||
        d->n_items != n_items)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL model or data, or data of other sizes than the model", fn);
    return SEQ_OK;
}

SEQDEF seq_rec_itemknn_config seq_rec_itemknn_config_default(void) {
    seq_rec_itemknn_config c;
    c.neighbors = 100;
    c.shrink = 0;
    return c;
}

SEQDEF seq_status seq_rec_itemknn_init(seq_rec_itemknn *m, int64_t n_items, seq_rec_itemknn_config cfg, void *alloc_ud) {
    static const char *const names[2] = {"neighbors", "similarity"};
    static const int ndims[2] = {2, 2};
    int64_t shape[2][2];
    seq_tensor *views[2];
    if (m) memset(m, 0, sizeof(*m));
    if (!m || n_items <= 0 || n_items >= (1 << 24) || cfg.neighbors <= 0 || !(cfg.shrink >= 0) || !isfinite(cfg.shrink))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_itemknn_init: need 0 < n_items < 2^24, neighbors > 0, finite "
                                              "shrink >= 0");
    shape[0][0] = shape[1][0] = n_items + 1;
    shape[0][1] = shape[1][1] = cfg.neighbors;
    m->n_items = n_items; m->cfg = cfg;
    m->P = seq_rec__params("seq_rec_itemknn_init", 2, names, ndims, (const int64_t(*)[2])shape, views, alloc_ud);
    if (!m->P) return seq_last_status();
    m->nbr = views[0]; m->sim = views[1];
    if (!(m->mark = (uint32_t *)seq_rec__alloc(alloc_ud, n_items + 1, sizeof(uint32_t)))) {
        seq_rec_itemknn_free(m);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_itemknn_init: out of memory");
    }
    memset(m->mark, 0, (size_t)(n_items + 1) * sizeof(uint32_t));
    return SEQ_OK;
}

SEQDEF void seq_rec_itemknn_free(seq_rec_itemknn *m) {
    if (!m) return;
    if (m->P) SEQ_FREE(m->P->alloc_ud, m->mark);
    seq_params_free(m->P);
    memset(m, 0, sizeof(*m));
}

SEQDEF seq_status seq_rec_itemknn_fit(seq_rec_itemknn *m, const seq_rec_data *d, const seq_rec_split *split) {
    seq_rec__csr by_user, by_item;
    void *ud;
    int64_t i, K, N;
    float *co, *cs, *ts;
    int32_t *touched, *tid;
    seq_status st = seq_rec__check_fit("seq_rec_itemknn_fit", m, d, split, -1, m ? m->n_items : 0);
    if (st != SEQ_OK) return st;
    ud = m->P->alloc_ud; K = m->cfg.neighbors; N = d->n_items + 1;
    if ((st = seq_rec__train_csr(d, split, ud, "seq_rec_itemknn_fit", &by_user, &by_item)) != SEQ_OK) return st;
    co = (float *)seq_rec__alloc(ud, 2 * N + K, sizeof(float));
    touched = (int32_t *)seq_rec__alloc(ud, N + K, sizeof(int32_t));
    if (!co || !touched) {
        st = seq_set_error(SEQ_ERR_NOMEM, "seq_rec_itemknn_fit: out of memory");
        goto done;
    }
    cs = co + N; ts = cs + N; tid = touched + N;
    memset(co, 0, (size_t)N * sizeof(float));
    memset(m->P->data, 0, (size_t)m->P->numel * sizeof(float));
    for (i = 1; i < N; i++) {
        int64_t a, b, nt = 0, kept, k;
        double ni = (double)(by_item.off[i + 1] - by_item.off[i]);
        for (a = by_item.off[i]; a < by_item.off[i + 1]; a++) { /* co-occurrence with every item of i's users */
            int64_t u = by_item.idx[a];
            for (b = by_user.off[u]; b < by_user.off[u + 1]; b++) {
                int32_t j = by_user.idx[b];
                if (j == i) continue;
                if (co[j] == 0) touched[nt++] = j;
                co[j] += 1;
            }
        }
        for (a = 0; a < nt; a++) {
            int32_t j = touched[a];
            double nj = (double)(by_item.off[j + 1] - by_item.off[j]);
            cs[a] = (float)(co[j] / (sqrt(ni * nj) + m->cfg.shrink));
            co[j] = 0;
        }
        kept = seq_rec_topk(cs, nt, NULL, K, tid, ts);
        for (k = 0; k < kept; k++) {
            m->nbr->data[i * K + k] = (float)touched[tid[k]];
            m->sim->data[i * K + k] = ts[k];
        }
    }
done:
    SEQ_FREE(ud, co); SEQ_FREE(ud, touched);
    seq_rec__csr_free(&by_user, ud);
    seq_rec__csr_free(&by_item, ud);
    return st;
}

SEQDEF seq_status seq_rec_itemknn_score(void *model, const seq_rec_data *d, const int64_t *users,
                                        const int64_t *hist_len, int64_t n, float *scores) {
    seq_rec_itemknn *m = (seq_rec_itemknn *)model;
    int64_t r, i, k, K, N;
    if (!m || !m->P || !d || d->n_items != m->n_items || n < 0 || (n > 0 && (!users || !hist_len || !scores)))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_itemknn_score: NULL argument or data of another catalog");
    K = m->cfg.neighbors; N = d->n_items + 1;
    for (r = 0; r < n; r++) {
        float *row = scores + r * N;
        const int32_t *s;
        if (users[r] < 0 || users[r] >= d->n_users || hist_len[r] < 0 || hist_len[r] > d->off[users[r] + 1] - d->off[users[r]])
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_itemknn_score: row %lld: user or history out of range", (long long)r);
        s = d->items + d->off[users[r]];
        if (++m->stamp == 0) { memset(m->mark, 0, (size_t)N * sizeof(uint32_t)); m->stamp = 1; }
        memset(row, 0, (size_t)N * sizeof(float));
        for (i = 0; i < hist_len[r]; i++) {
            const float *nb = m->nbr->data + (int64_t)s[i] * K, *sm = m->sim->data + (int64_t)s[i] * K;
            if (m->mark[s[i]] == m->stamp) continue; /* each distinct history item once */
            m->mark[s[i]] = m->stamp;
            for (k = 0; k < K && nb[k] > 0; k++) row[(int64_t)nb[k]] += sm[k];
        }
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_mf_init(seq_rec_mf *m, int64_t n_users, int64_t n_items, int64_t dim, float init_std,
                                  seq_rng *rng, void *alloc_ud) {
    static const char *const names[2] = {"user", "item"};
    static const int ndims[2] = {2, 2};
    int64_t shape[2][2];
    seq_tensor *views[2];
    if (m) memset(m, 0, sizeof(*m));
    if (!m || !rng || n_users <= 0 || n_items <= 0 || dim <= 0 || !(init_std >= 0) || !isfinite(init_std))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_mf_init: NULL model or rng, a size <= 0, or init_std not finite >= 0");
    shape[0][0] = n_users; shape[1][0] = n_items + 1;
    shape[0][1] = shape[1][1] = dim;
    m->n_users = n_users; m->n_items = n_items; m->dim = dim;
    m->P = seq_rec__params("seq_rec_mf_init", 2, names, ndims, (const int64_t(*)[2])shape, views, alloc_ud);
    if (!m->P) return seq_last_status();
    m->user = views[0]; m->item = views[1];
    seq_init_fill(m->P->data, 1, &m->P->numel, seq_init_normal(0, init_std), rng);
    memset(m->item->data, 0, (size_t)dim * sizeof(float)); /* the padding item */
    return SEQ_OK;
}

SEQDEF void seq_rec_mf_free(seq_rec_mf *m) {
    if (!m) return;
    seq_params_free(m->P);
    memset(m, 0, sizeof(*m));
}

SEQDEF seq_status seq_rec_mf_score(void *model, const seq_rec_data *d, const int64_t *users, const int64_t *hist_len,
                                   int64_t n, float *scores) {
    const seq_rec_mf *m = (const seq_rec_mf *)model;
    int64_t r, D;
    float *x;
    (void)hist_len;
    if (!m || !m->P || !d || d->n_items != m->n_items || d->n_users != m->n_users || n < 0 || (n > 0 && (!users || !scores)))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_mf_score: NULL argument or data of other sizes than the model");
    D = m->dim;
    if (!(x = (float *)seq_rec__alloc(m->P->alloc_ud, n * D, sizeof(float))))
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_mf_score: out of memory");
    for (r = 0; r < n; r++) {
        if (users[r] < 0 || users[r] >= m->n_users) {
            SEQ_FREE(m->P->alloc_ud, x);
            return seq_set_error(SEQ_ERR_RANGE, "seq_rec_mf_score: user %lld outside 0..%lld", (long long)users[r],
                                 (long long)m->n_users - 1);
        }
        memcpy(x + r * D, m->user->data + users[r] * D, (size_t)D * sizeof(float));
    }
    seq_rec__dot_items(x, n, m->item->data, m->n_items + 1, D, scores);
    SEQ_FREE(m->P->alloc_ud, x);
    return SEQ_OK;
}

SEQDEF seq_rec_bpr_config seq_rec_bpr_config_default(void) {
    seq_rec_bpr_config c;
    c.batch_size = 1024;
    c.lr = 1e-3f;
    c.l2 = 1e-4f;
    return c;
}

SEQDEF void seq_rec_bpr_free(seq_rec_bpr *t) {
    if (!t) return;
    seq_adamw_free(&t->opt);
    seq_ctx_free(t->ctx);
    seq_rec_sampler_free(&t->neg);
    SEQ_FREE(t->alloc_ud, t->pairs);
    SEQ_FREE(t->alloc_ud, t->ids);
    memset(t, 0, sizeof(*t));
}

SEQDEF seq_status seq_rec_bpr_init(seq_rec_bpr *t, seq_rec_mf *mf, const seq_rec_data *d, const seq_rec_split *split,
                                   seq_rec_bpr_config cfg, void *alloc_ud) {
    seq_adamw_config oc = seq_adamw_config_default();
    int64_t u, p;
    seq_status st;
    if (t) memset(t, 0, sizeof(*t));
    if ((st = seq_rec__check_fit("seq_rec_bpr_init", mf && t ? mf->P : NULL, d, split, mf ? mf->n_users : 0,
                                 mf ? mf->n_items : 0)) != SEQ_OK)
        return st;
    if (!split || cfg.batch_size <= 0 || !(cfg.lr > 0) || !(cfg.l2 >= 0) || !isfinite(cfg.lr) || !isfinite(cfg.l2))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_bpr_init: need a split, batch_size > 0, finite lr > 0, l2 >= 0");
    t->mf = mf; t->cfg = cfg; t->alloc_ud = alloc_ud;
    for (u = 0; u < d->n_users; u++) t->n_train += split->train_len[u];
    if (t->n_train == 0) return seq_set_error(SEQ_ERR_INVALID, "seq_rec_bpr_init: the split trains on nothing");
    oc.weight_decay = 0; /* the l2 term acts on the rows of each batch only, as BPR's */
    t->pairs = (int64_t *)seq_rec__alloc(alloc_ud, t->n_train, sizeof(int64_t));
    t->ids = (int32_t *)seq_rec__alloc(alloc_ud, 3 * cfg.batch_size, sizeof(int32_t));
    t->ctx = seq_ctx_init(alloc_ud);
    if (!t->pairs || !t->ids || !t->ctx || seq_adamw_init(&t->opt, mf->P, oc) != SEQ_OK ||
        seq_rec_sampler_init(&t->neg, d, split, SEQ_REC_NEG_UNIFORM, 0, alloc_ud) != SEQ_OK) {
        seq_rec_bpr_free(t);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rec_bpr_init: out of memory");
    }
    for (u = 0, t->n_train = 0; u < d->n_users; u++)
        for (p = d->off[u]; p < d->off[u] + split->train_len[u]; p++) t->pairs[t->n_train++] = p;
    return SEQ_OK;
}

/* The user whose sequence holds interaction p: the last u with off[u] <= p. */
static int64_t seq_rec__user_of(const seq_rec_data *d, int64_t p) {
    int64_t lo = 0, hi = d->n_users - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (d->off[mid] <= p) lo = mid; else hi = mid - 1;
    }
    return lo;
}

/* x (B,D) -> (B): row-wise dot products with y. */
static seq_tensor *seq_rec__rowdot(seq_ctx *ctx, seq_tensor *x, seq_tensor *y) {
    return seq_sum_dim(ctx, seq_mul(ctx, x, y), -1, 0);
}

SEQDEF seq_status seq_rec_bpr_epoch(seq_rec_bpr *t, const seq_rec_data *d, const seq_rec_split *split, seq_rng *rng,
                                    double *loss) {
    int64_t start, B;
    double total = 0;
    seq_status st;
    if (!t || !t->pairs || !rng || (st = seq_rec__check_fit("seq_rec_bpr_epoch", t->mf, d, split, t->mf->n_users,
                                                            t->mf->n_items)) != SEQ_OK || !split)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_bpr_epoch: NULL trainer, rng or split, or other data");
    B = t->cfg.batch_size;
    seq_rng_shuffle(rng, t->pairs, t->n_train);
    for (start = 0; start < t->n_train; start += B) {
        int64_t nb = t->n_train - start < B ? t->n_train - start : B, k;
        int32_t *uid = t->ids, *pid = t->ids + B, *nid = t->ids + 2 * B;
        seq_ctx *ctx = t->ctx;
        seq_tensor *U, *Pi, *Nj, *bpr, *reg, *obj;
        for (k = 0; k < nb; k++) {
            int64_t p = t->pairs[start + k], u = seq_rec__user_of(d, p);
            uid[k] = (int32_t)u;
            pid[k] = d->items[p];
            if ((st = seq_rec_sampler_draw_excluding(&t->neg, rng, d->items + d->off[u], split->train_len[u], nid + k, 1)) != SEQ_OK)
                return st;
        }
        seq_ctx_reset(ctx);
        U = seq_embedding(ctx, t->mf->user, seq_tensor_wrap_i32(ctx, uid, 1, &nb));   /* (B,D) */
        Pi = seq_embedding(ctx, t->mf->item, seq_tensor_wrap_i32(ctx, pid, 1, &nb));  /* (B,D) */
        Nj = seq_embedding(ctx, t->mf->item, seq_tensor_wrap_i32(ctx, nid, 1, &nb));  /* (B,D) */
        bpr = seq_bpr(ctx, seq_rec__rowdot(ctx, U, Pi), seq_rec__rowdot(ctx, U, Nj));
        reg = seq_add(ctx, seq_add(ctx, seq_sum(ctx, seq_mul(ctx, U, U)), seq_sum(ctx, seq_mul(ctx, Pi, Pi))),
                      seq_sum(ctx, seq_mul(ctx, Nj, Nj)));
        obj = seq_add(ctx, bpr, seq_scale(ctx, reg, t->cfg.l2 / (float)nb));
        if ((st = seq_ctx_status(ctx)) != SEQ_OK)
            return seq_set_error(st, "seq_rec_bpr_epoch: %s", seq_ctx_error(ctx));
        seq_params_zero_grad(t->mf->P);
        if ((st = seq_backward(ctx, obj)) != SEQ_OK || (st = seq_adamw_step(&t->opt, t->mf->P, t->cfg.lr)) != SEQ_OK)
            return st;
        total += (double)bpr->data[0] * (double)nb;
    }
    if (loss) *loss = total / (double)t->n_train;
    return SEQ_OK;
}

SEQDEF seq_rec_als_config seq_rec_als_config_default(void) {
    seq_rec_als_config c;
    c.alpha = 40;
    c.reg = 0.01f;
    c.cg_steps = 3;
    return c;
}

static double seq_rec__dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    int64_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* out = A0 v + sum_i (c_i - 1)(y_i . v) y_i: the implicit-feedback normal matrix applied
 * to v without forming it. A0 (D,D) = Y^T Y + reg I. */
static void seq_rec__als_apply(const float *A0, const float *Y, const int32_t *idx, const float *cnt, int64_t n,
                               float alpha, const float *v, float *out, int64_t D) {
    int64_t i, j;
    for (i = 0; i < D; i++) out[i] = (float)seq_rec__dot(A0 + i * D, v, D);
    for (i = 0; i < n; i++) {
        const float *y = Y + (int64_t)idx[i] * D;
        float w = (float)(alpha * cnt[i] * seq_rec__dot(y, v, D));
        for (j = 0; j < D; j++) out[j] += w * y[j];
    }
}

/* One half sweep: every row x of X (rows, D) re-solved against the fixed factors Y
 * (y_rows, D) by CG; R lists each row's interactions (index into Y, count). */
static void seq_rec__als_half(float *X, int64_t rows, const float *Y, int64_t y_rows, const seq_rec__csr *R,
                              const seq_rec_als_config *c, int64_t D, float *A0, float *work) {
    float *r = work, *p = work + D, *ap = work + 2 * D;
    int64_t row, i, j, s;
    seq_sgemm(1, 0, D, D, y_rows, 1.0f, Y, D, Y, D, 0.0f, A0, D); /* Y^T Y */
    for (i = 0; i < D; i++) A0[i * D + i] += c->reg;
    for (row = 0; row < rows; row++) {
        float *x = X + row * D;
        const int32_t *idx = R->idx + R->off[row];
        const float *cnt = R->val + R->off[row];
        int64_t n = R->off[row + 1] - R->off[row];
        double rs_old, rs_new;
        /* r = b - A x, b = sum_i c_i y_i with c_i = 1 + alpha cnt_i */
        seq_rec__als_apply(A0, Y, idx, cnt, n, c->alpha, x, ap, D);
        for (j = 0; j < D; j++) r[j] = -ap[j];
        for (i = 0; i < n; i++) {
            const float *y = Y + (int64_t)idx[i] * D;
            float ci = 1 + c->alpha * cnt[i];
            for (j = 0; j < D; j++) r[j] += ci * y[j];
        }
        memcpy(p, r, (size_t)D * sizeof(float));
        rs_old = seq_rec__dot(r, r, D);
        for (s = 0; s < c->cg_steps && rs_old > 1e-20; s++) {
            double a;
            seq_rec__als_apply(A0, Y, idx, cnt, n, c->alpha, p, ap, D);
            a = rs_old / seq_rec__dot(p, ap, D);
            for (j = 0; j < D; j++) { x[j] += (float)(a * p[j]); r[j] -= (float)(a * ap[j]); }
            rs_new = seq_rec__dot(r, r, D);
            for (j = 0; j < D; j++) p[j] = r[j] + (float)(rs_new / rs_old) * p[j];
            rs_old = rs_new;
        }
    }
}

SEQDEF seq_status seq_rec_als_fit(seq_rec_mf *m, const seq_rec_data *d, const seq_rec_split *split,
                                  seq_rec_als_config cfg, int64_t iterations) {
    seq_rec__csr by_user, by_item;
    float *A0;
    int64_t it, D;
    void *ud;
    seq_status st = seq_rec__check_fit("seq_rec_als_fit", m ? m->P : NULL, d, split, m ? m->n_users : 0, m ? m->n_items : 0);
    if (st != SEQ_OK) return st;
    if (!(cfg.alpha >= 0) || !(cfg.reg > 0) || !isfinite(cfg.alpha) || !isfinite(cfg.reg) || cfg.cg_steps < 1 || iterations < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rec_als_fit: need finite alpha >= 0, reg > 0, cg_steps >= 1, iterations >= 0");
    D = m->dim; ud = m->P->alloc_ud;
    if ((st = seq_rec__train_csr(d, split, ud, "seq_rec_als_fit", &by_user, &by_item)) != SEQ_OK) return st;
    if (!(A0 = (float *)seq_rec__alloc(ud, D * D + 3 * D, sizeof(float)))) {
        st = seq_set_error(SEQ_ERR_NOMEM, "seq_rec_als_fit: out of memory");
    } else {
        for (it = 0; it < iterations; it++) {
            seq_rec__als_half(m->user->data, m->n_users, m->item->data, m->n_items + 1, &by_user, &cfg, D, A0, A0 + D * D);
            seq_rec__als_half(m->item->data, m->n_items + 1, m->user->data, m->n_users, &by_item, &cfg, D, A0, A0 + D * D);
        }
    }
    SEQ_FREE(ud, A0);
    seq_rec__csr_free(&by_user, ud);
    seq_rec__csr_free(&by_item, ud);
    return st;
}

/* ===================================================================================
 * 5  sequential models (implementation)
 * =================================================================================== */

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
    /* batch positions (and their negatives) are indexed in int32, as item ids are */
    if (c->max_len > INT32_MAX / c->batch || c->batch * c->max_len > INT32_MAX / (c->n_neg > 1 ? c->n_neg : 1) || c->reason_steps > INT32_MAX - c->max_len || c->dim > INT32_MAX / 16 || c->d_state > INT32_MAX / 16)
        return seq_set_error(SEQ_ERR_INVALID, "%s: batch * max_len * n_neg and max_len + reason_steps must stay below 2^31, dim and d_state below 2^27", fn);
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

/* The model of cfg with its parameters registered but not allocated: nothing sized by
 * the config is allocated yet, so seq_rec_model_load can check the config against its
 * file first. NULL on a bad config or no memory. */
static seq_rec_model *seq_rec__model_new(seq_rec_model_config cfg, void *alloc_ud) {
    seq_rec_model *m;
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
    m->P = seq_params_init(alloc_ud);
    m->ctx = seq_ctx_init(alloc_ud);
    if (!m->P || !m->ctx || !seq_rec__add_params(m)) {
        seq_rec_model_free(m);
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_model_init: out of memory");
        return NULL;
    }
    return m;
}

/* Allocates and initializes m's parameters and optimizer state; on failure frees m. */
static seq_rec_model *seq_rec__model_alloc(seq_rec_model *m) {
    seq_adamw_config oc = seq_adamw_config_default();
    int64_t i;
    oc.weight_decay = m->cfg.weight_decay;
    if (seq_params_alloc(m->P, &m->rng) != SEQ_OK || seq_adamw_init(&m->opt, m->P, oc) != SEQ_OK) {
        seq_rec_model_free(m);
        seq_set_error(SEQ_ERR_NOMEM, "seq_rec_model_init: out of memory");
        return NULL;
    }
    if (m->cfg.arch == SEQ_REC_SSM)
        for (i = 0; i < m->cfg.n_layers; i++) seq_mamba2_init_ssm(&m->blocks[i].ssm, &m->rng);
    /* the padding row stays zero: no input position reads anything from it */
    memset(m->item_emb->data, 0, (size_t)m->cfg.dim * sizeof(float));
    return m;
}

SEQDEF seq_rec_model *seq_rec_model_init(seq_rec_model_config cfg, void *alloc_ud) {
    seq_rec_model *m = seq_rec__model_new(cfg, alloc_ud);
    return m ? seq_rec__model_alloc(m) : NULL;
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

/* What every layer needs besides the ids: where the padding is, where items start, and
 * which position column 0 holds (a group of short rows runs on the last T of max_len). */
typedef struct seq_rec__layout {
    int64_t B, T, pos0;
    uint8_t *pad;    /* (B,T): 1 on padding */
    uint8_t *resets; /* (B,T): 1 at each row's first item */
} seq_rec__layout;

/* Fails the ctx when out of memory (lay.pad NULL). */
static seq_rec__layout seq_rec__layout_of(seq_ctx *ctx, const int32_t *ids, int64_t B, int64_t T, int64_t pos0) {
    seq_rec__layout lay;
    int64_t b, t;
    lay.B = B;
    lay.T = T;
    lay.pos0 = pos0;
    lay.pad = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * T));
    lay.resets = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * T));
    if (!lay.pad || !lay.resets) {
        lay.pad = NULL;
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_rec", "out of memory");
        return lay;
    }
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            lay.pad[b * T + t] = ids[b * T + t] == 0;
            lay.resets[b * T + t] = ids[b * T + t] != 0 && (t == 0 || ids[b * T + t - 1] == 0);
        }
    return lay;
}

/* Rows of a left-padded (B,L) batch grouped by the columns their items need: the next
 * power of two >= their length, at most L. Padding never reaches an item (keys are
 * masked, recurrent states reset at the first item), so a group encoded on its last T
 * columns gets the same states as at full width; with most histories far shorter than
 * L (Amazon's average is under 10 of 50) this skips most of the work. */
#define SEQ_REC__MAX_GROUPS 64
typedef struct seq_rec__groups {
    int n;
    int64_t start[SEQ_REC__MAX_GROUPS + 1]; /* group k is rows order[start[k] .. start[k+1]) */
    int64_t width[SEQ_REC__MAX_GROUPS];     /* its T */
    int32_t *order;                         /* (B) */
} seq_rec__groups;

static int seq_rec__group_rows(seq_ctx *ctx, const int32_t *ids, int64_t B, int64_t L, seq_rec__groups *g) {
    int64_t count[SEQ_REC__MAX_GROUPS], at[SEQ_REC__MAX_GROUPS], b;
    uint8_t *cls = (uint8_t *)seq_ctx_alloc(ctx, (size_t)B);
    int c;
    g->order = (int32_t *)seq_ctx_alloc(ctx, (size_t)B * sizeof(int32_t));
    if (!cls || !g->order) {
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_rec", "out of memory");
        return 0;
    }
    memset(count, 0, sizeof count);
    for (b = 0; b < B; b++) {
        int64_t first = 0;
        while (first < L && ids[b * L + first] == 0) first++;
        for (c = 0; ((int64_t)1 << c) < L - first; c++) {}
        cls[b] = (uint8_t)c;
        count[c]++;
    }
    g->n = 0;
    g->start[0] = 0;
    for (c = 0; c < SEQ_REC__MAX_GROUPS; c++) {
        if (!count[c]) continue;
        at[c] = g->start[g->n];
        g->width[g->n] = ((int64_t)1 << c) < L ? (int64_t)1 << c : L;
        g->start[g->n + 1] = g->start[g->n] + count[c];
        g->n++;
    }
    for (b = 0; b < B; b++) g->order[at[cls[b]]++] = (int32_t)b;
    return 1;
}

/* ids (B,T) [times (B,T)] laid out as lay -> x (B,T,D): item embeddings (times sqrt(D)
 * under attention), positions pos0.., time gaps, dropout when training. */
static seq_tensor *seq_rec__embed(seq_rec_model *m, seq_ctx *ctx, const int32_t *ids, const int64_t *times,
                                  const seq_rec__layout *lay, int train) {
    int64_t B = lay->B, T = lay->T, shape[2], i;
    seq_tensor *idt, *x;
    shape[0] = B;
    shape[1] = T;
    idt = seq_tensor_new(ctx, SEQ_I32, 2, shape);
    if (!idt) return NULL;
    memcpy(idt->idata, ids, (size_t)(B * T) * sizeof(int32_t));
    x = seq_embedding_pad(ctx, m->item_emb, idt, 0);
    if (seq_rec__is_transformer(m)) {
        x = seq_scale(ctx, x, sqrtf((float)m->cfg.dim));
        x = seq_add(ctx, x, seq_slice(ctx, m->pos_emb, 0, lay->pos0, lay->pos0 + T));
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

/* Group k of g: its rows of ids (B,L) [times (B,L)] on their last T columns, embedded
 * into *x (G,T,D) laid out as *lay, -> h (G,T,D). */
static seq_tensor *seq_rec__encode(seq_rec_model *m, seq_ctx *ctx, const int32_t *ids, const int64_t *times, int64_t L,
                                   const seq_rec__groups *g, int k, int train, seq_tensor **x, seq_rec__layout *lay) {
    int64_t G = g->start[k + 1] - g->start[k], T = g->width[k], i;
    const int32_t *rows = g->order + g->start[k];
    int32_t *gid = (int32_t *)seq_ctx_alloc(ctx, (size_t)(G * T) * sizeof(int32_t));
    int64_t *gt = times ? (int64_t *)seq_ctx_alloc(ctx, (size_t)(G * T) * sizeof(int64_t)) : NULL;
    *x = NULL;
    if (!gid || (times && !gt)) {
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_rec", "out of memory");
        return NULL;
    }
    for (i = 0; i < G; i++) {
        memcpy(gid + i * T, ids + rows[i] * L + L - T, (size_t)T * sizeof(int32_t));
        if (gt) memcpy(gt + i * T, times + rows[i] * L + L - T, (size_t)T * sizeof(int64_t));
    }
    *lay = seq_rec__layout_of(ctx, gid, G, T, L - T);
    if (!lay->pad) return NULL;
    *x = seq_rec__embed(m, ctx, gid, gt, lay, train);
    return seq_rec__body(m, ctx, *x, lay, train);
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
 * reasoning position max_len+k joins the input and the whole is encoded again; -> the mean of
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
        parts[1] = seq_add(ctx, seq_reshape(ctx, last, 3, one),
                           seq_slice(ctx, m->pos_emb, 0, lay->pos0 + T + k, lay->pos0 + T + k + 1));
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

/* Mean over the N rows of h (N,D) of the configured loss against targets (N); the
 * sampled losses score negs (N,k) beside each target. */
static seq_tensor *seq_rec__loss_rows(seq_rec_model *m, seq_ctx *ctx, seq_tensor *h, const int32_t *targets,
                                     const int32_t *negs, int64_t k) {
    const seq_rec_model_config *c = &m->cfg;
    int64_t N, S = k + 1, shape[2], i, j;
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
        for (j = 1; j < S; j++) ids->idata[i * S + j] = negs[i * k + j - 1];
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

SEQDEF seq_rec_batch_config seq_rec_model_batch_config(const seq_rec_model *m) {
    seq_rec_batch_config c = seq_rec_batch_config_default();
    if (!m) return c;
    c.batch_size = m->cfg.batch;
    c.max_len = m->cfg.max_len;
    c.n_neg = m->cfg.loss == SEQ_REC_LOSS_CE ? 0 : m->cfg.n_neg;
    c.mode = m->cfg.arch == SEQ_REC_BERT4REC ? SEQ_REC_BATCH_SEQUENCE : SEQ_REC_BATCH_NEXT_ITEM;
    return c;
}

/* Why batch b cannot train m (a message for seq_ctx_fail), or NULL when it can. */
static const char *seq_rec__batch_problem(const seq_rec_model *m, const seq_rec_batch *b) {
    int sequence = m->cfg.arch == SEQ_REC_BERT4REC, sampled = m->cfg.loss != SEQ_REC_LOSS_CE;
    int64_t n = b->n * b->L, i;
    if (b->L != m->cfg.max_len) return "the batch's max_len differs from the model's";
    if (b->n < 1 || b->n > b->B || !b->inputs || !b->targets) return "an empty or malformed batch";
    if (sampled && (b->n_neg < 1 || !b->negatives)) return "a sampled loss needs negatives in the batch";
    if (m->gap_emb && !b->times) return "a time-aware model needs timestamps";
    if (seq_rec__bad_id(b->inputs, n, m->cfg.n_items) >= 0 || seq_rec__bad_id(b->targets, n, m->cfg.n_items) >= 0 ||
        (sampled && seq_rec__bad_id(b->negatives, n * b->n_neg, m->cfg.n_items) >= 0))
        return "an item id outside [0, n_items]";
    for (i = 0; i < b->n; i++) /* left padding: a row's last column holds its last item */
        if (b->targets[i * b->L + b->L - 1] == 0) return "a row without items";
    /* both modes give a target exactly where there is an input; SEQUENCE repeats it */
    for (i = 0; i < n; i++)
        if ((b->targets[i] != 0) != (b->inputs[i] != 0) || (sequence && b->targets[i] != b->inputs[i]))
            return sequence ? "BERT4Rec trains on SEQUENCE batches" : "this model trains on NEXT_ITEM batches";
    return NULL;
}

SEQDEF seq_tensor *seq_rec_model_loss(seq_rec_model *m, seq_ctx *ctx, const seq_rec_batch *batch) {
    static const char op[] = "seq_rec_model_loss";
    int64_t L, B, K, D, b, t, i, n = 0;
    int32_t *ids, *tgt, *negs = NULL, *sel, *last_tgt, *last_negs = NULL;
    uint8_t *train;
    const char *problem;
    seq_tensor *hs[SEQ_REC__MAX_GROUPS], *rs[SEQ_REC__MAX_GROUPS], *loss;
    seq_rec__groups g;
    int k;
    if (!m || !ctx || !batch) {
        if (ctx) seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "needs a model and a batch");
        return NULL;
    }
    if ((problem = seq_rec__batch_problem(m, batch)) != NULL) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "%s", problem);
        return NULL;
    }
    L = batch->L;
    B = batch->n;
    D = m->cfg.dim;
    K = m->cfg.loss == SEQ_REC_LOSS_CE ? 0 : batch->n_neg;
    ids = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    tgt = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    sel = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L) * sizeof(int32_t));
    last_tgt = (int32_t *)seq_ctx_alloc(ctx, (size_t)B * sizeof(int32_t));
    train = (uint8_t *)seq_ctx_alloc(ctx, (size_t)(B * L));
    if (K) negs = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * L * K) * sizeof(int32_t));
    if (K) last_negs = (int32_t *)seq_ctx_alloc(ctx, (size_t)(B * K) * sizeof(int32_t));
    if (!ids || !tgt || !sel || !last_tgt || !train || (K && (!negs || !last_negs))) {
        seq_ctx_fail(ctx, SEQ_ERR_NOMEM, op, "out of memory");
        return NULL;
    }
    memcpy(ids, batch->inputs, (size_t)(B * L) * sizeof(int32_t));
    for (b = 0; b < B; b++) {
        int masked = 0;
        for (t = 0; t < L; t++) {
            int64_t at = b * L + t;
            train[at] = batch->targets[at] != 0;
            if (train[at] && m->cfg.arch == SEQ_REC_BERT4REC) {
                /* cloze: items replaced by the mask token and predicted, at least the last
                 * one (left padding puts it at L-1) */
                train[at] = seq_rng_float(&m->rng) < m->cfg.mask_prob || (t == L - 1 && !masked);
                if (train[at]) {
                    ids[at] = (int32_t)m->cfg.n_items + 1;
                    masked = 1;
                }
            }
        }
    }
    if (!seq_rec__group_rows(ctx, ids, B, L, &g)) return NULL;
    /* every trained position of every group, in group order: hidden rows, targets, negatives */
    for (k = 0; k < g.n; k++) {
        int64_t T = g.width[k], G = g.start[k + 1] - g.start[k], nk = 0, flat[2];
        const int32_t *rows = g.order + g.start[k];
        seq_rec__layout lay;
        seq_tensor *x, *h = seq_rec__encode(m, ctx, ids, batch->times, L, &g, k, 1, &x, &lay);
        for (i = 0; i < G; i++)
            for (t = 0; t < T; t++) {
                int64_t at = rows[i] * L + L - T + t;
                if (!train[at]) continue;
                sel[nk++] = (int32_t)(i * T + t);
                tgt[n] = batch->targets[at];
                if (K) memcpy(negs + n * K, batch->negatives + at * K, (size_t)K * sizeof(int32_t));
                n++;
            }
        flat[0] = G * T;
        flat[1] = D;
        hs[k] = seq_rec__rows(ctx, seq_reshape(ctx, h, 2, flat), sel, nk);
        if (m->cfg.reason_steps == 0) continue;
        /* the reasoned representation predicts each row's last target (every row has one) */
        rs[k] = h ? seq_rec__reason(m, ctx, x, h, &lay, 1) : NULL;
        for (i = 0; i < G; i++) {
            int64_t at = rows[i] * L + L - 1, r = g.start[k] + i;
            last_tgt[r] = batch->targets[at];
            if (K) memcpy(last_negs + r * K, batch->negatives + at * K, (size_t)K * sizeof(int32_t));
        }
    }
    loss = seq_rec__loss_rows(m, ctx, g.n == 1 ? hs[0] : seq_concat(ctx, hs, g.n, 0), tgt, negs, K);
    if (m->cfg.reason_steps > 0)
        loss = seq_add(ctx, loss, seq_rec__loss_rows(m, ctx, g.n == 1 ? rs[0] : seq_concat(ctx, rs, g.n, 0), last_tgt,
                                                     last_negs, K));
    return loss;
}

/* --- training, scoring, files --------------------------------------------------------- */

static seq_status seq_rec__check_data(const seq_rec_model *m, const seq_rec_data *d, const char *fn) {
    if (!m || !d || !d->off || (d->n_inter > 0 && !d->items) || d->n_users < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL model or malformed data", fn);
    if (d->n_items > m->cfg.n_items)
        return seq_set_error(SEQ_ERR_RANGE, "%s: the data has %lld items, the model %lld", fn, (long long)d->n_items,
                             (long long)m->cfg.n_items);
    if (m->gap_emb && !d->times) return seq_set_error(SEQ_ERR_INVALID, "%s: a time-aware model needs timestamps", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_model_train_epoch(seq_rec_model *m, seq_rec_batcher *it, seq_rec_progress_fn progress,
                                            void *progress_ud, float *mean_loss) {
    static const char fn[] = "seq_rec_model_train_epoch";
    int64_t batches = 0, trained = 0;
    double total = 0.0;
    seq_status s, st;
    if (mean_loss) *mean_loss = 0.0f;
    if (!it || !it->order) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized batcher", fn);
    if ((s = seq_rec__check_data(m, it->d, fn)) != SEQ_OK) return s;
    seq_rec_batcher_start(it, &m->rng);
    while ((s = seq_rec_batcher_next(it, &m->rng)) == SEQ_OK && it->batch.n > 0) {
        seq_ctx *ctx = m->ctx;
        seq_tensor *loss;
        seq_ctx_reset(ctx);
        seq_ctx_set_grad(ctx, 1);
        loss = seq_rec_model_loss(m, ctx, &it->batch);
        seq_params_zero_grad(m->P);
        if (seq_ctx_status(ctx) != SEQ_OK || seq_backward(ctx, loss) != SEQ_OK)
            return seq_set_error(seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_STATE, "%s: %s", fn,
                                 seq_ctx_error(ctx));
        /* a non-finite gradient skips the batch: the step refuses it and changes nothing */
        st = isfinite(loss->data[0]) ? seq_adamw_step(&m->opt, m->P, m->cfg.lr) : SEQ_ERR_NUMERIC;
        if (st != SEQ_OK && st != SEQ_ERR_NUMERIC) return st; /* the step said why (a bad lr) */
        batches++;
        if (st == SEQ_OK) {
            total += loss->data[0];
            trained++;
            if (mean_loss) *mean_loss = (float)(total / (double)trained);
        }
        if (progress) progress(progress_ud, it->pos, it->n_rows, trained ? (float)(total / (double)trained) : 0.0f);
    }
    if (s == SEQ_OK && batches > 0 && trained == 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: all %lld batches had a non-finite loss or gradient; nothing trained",
                             fn, (long long)batches);
    return s;
}

SEQDEF seq_status seq_rec_model_represent(seq_rec_model *m, const int32_t *ids, const int64_t *times, int64_t B,
                                          float *out) {
    static const char fn[] = "seq_rec_model_represent";
    seq_ctx *ctx;
    int64_t L, D, b, i, bad;
    int32_t *in;
    int k;
    seq_tensor *r[SEQ_REC__MAX_GROUPS];
    seq_rec__groups g;
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
    if (seq_rec__group_rows(ctx, in, B, L, &g))
        for (k = 0; k < g.n; k++) {
            seq_rec__layout lay;
            seq_tensor *x, *h = seq_rec__encode(m, ctx, in, times, L, &g, k, 0, &x, &lay);
            r[k] = m->cfg.reason_steps > 0 && h ? seq_rec__reason(m, ctx, x, h, &lay, 0) : seq_rec__last(ctx, h);
        }
    seq_ctx_set_grad(ctx, 1);
    if (seq_ctx_status(ctx) != SEQ_OK) return seq_set_error(seq_ctx_status(ctx), "%s: %s", fn, seq_ctx_error(ctx));
    for (k = 0; k < g.n; k++) /* back to the callers' row order */
        for (i = g.start[k]; i < g.start[k + 1]; i++)
            memcpy(out + g.order[i] * D, r[k]->data + (i - g.start[k]) * D, (size_t)D * sizeof(float));
    return SEQ_OK;
}

SEQDEF seq_status seq_rec_model_score(void *model, const seq_rec_data *d, const int64_t *users,
                                      const int64_t *hist_len, int64_t n, float *scores) {
    static const char fn[] = "seq_rec_model_score";
    seq_rec_model *m = (seq_rec_model *)model;
    int64_t L, D, chunk = 256, i;
    int32_t *ids;
    int64_t *times = NULL;
    float *rep;
    seq_status s = seq_rec__check_data(m, d, fn);
    if (s != SEQ_OK) return s;
    if (!users || !hist_len || !scores || n < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument or n < 0", fn);
    L = m->cfg.max_len;
    D = m->cfg.dim;
    ids = (int32_t *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * L) * sizeof(int32_t));
    rep = (float *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * D) * sizeof(float));
    if (d->times) times = (int64_t *)SEQ_MALLOC(m->alloc_ud, (size_t)(chunk * L) * sizeof(int64_t));
    if (!ids || !rep || (d->times && !times)) s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    for (i = 0; i < n && s == SEQ_OK; i += chunk) {
        int64_t c = n - i < chunk ? n - i : chunk;
        s = seq_rec_fill_history(d, users + i, hist_len + i, c, L, ids, times);
        if (s == SEQ_OK) s = seq_rec_model_represent(m, ids, times, c, rep);
        if (s == SEQ_OK) seq_rec__dot_items(rep, c, m->item_emb->data, m->cfg.n_items + 1, D, scores + i * (m->cfg.n_items + 1));
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

/* Whether the file holds exactly m's parameters, shaped as its config says. Checked before
 * anything sized by the config is allocated: the file's own tensors are bounded by its
 * size, so metadata that asks for a huge model cannot get one. */
static seq_status seq_rec__file_matches(const seq_rec_model *m, const seq_safetensors *st, const char *fn,
                                        const char *path) {
    int64_t i;
    int k;
    if (seq_safetensors_count(st) != m->P->count)
        return seq_set_error(SEQ_ERR_FORMAT, "%s: %s: %lld tensors, the config in its metadata has %lld", fn, path,
                             (long long)seq_safetensors_count(st), (long long)m->P->count);
    for (i = 0; i < m->P->count; i++) {
        const seq_tensor *t = &m->P->items[i]->t;
        const seq_st_info *f = seq_safetensors_find(st, t->name);
        int same = f && f->ndim == t->ndim;
        for (k = 0; same && k < t->ndim; k++) same = f->shape[k] == t->shape[k];
        if (!same)
            return seq_set_error(SEQ_ERR_FORMAT, "%s: %s: tensor \"%s\" missing or not shaped as the config in its metadata says",
                                 fn, path, t->name);
    }
    return SEQ_OK;
}

SEQDEF seq_rec_model *seq_rec_model_load(const char *path, void *alloc_ud) {
    static const char fn[] = "seq_rec_model_load";
    seq_rec_model_config c;
    int64_t *iv[SEQ_REC__NI];
    float *fv[SEQ_REC__NF];
    const char *names[SEQ_REC__NI + SEQ_REC__NF], *v;
    char why[512]; /* seq_last_error()'s size */
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
    if (arch < 0 || loss < 0) {
        seq_safetensors_close(st);
        seq_set_error(SEQ_ERR_FORMAT, "%s: %s: unknown arch or loss", fn, path);
        return NULL;
    }
    c.arch = (seq_rec_arch)arch;
    c.loss = (seq_rec_loss)loss;
    c.seed = 42;
    m = seq_rec__model_new(c, alloc_ud);
    if (!m && seq_last_status() == SEQ_ERR_INVALID) { /* a config init refuses: the file's fault */
        snprintf(why, sizeof why, "%s", seq_last_error());
        seq_set_error(SEQ_ERR_FORMAT, "%s: %s: metadata: %s", fn, path, why);
    }
    if (m && seq_rec__file_matches(m, st, fn, path) != SEQ_OK) {
        seq_rec_model_free(m);
        m = NULL;
    }
    seq_safetensors_close(st);
    if (m) m = seq_rec__model_alloc(m);
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
    seq_rec__dot_items(rep, 1, s->model->item_emb->data, V, s->model->cfg.dim, sc);
    /* excluded items become NaN, which the selection skips */
    sc[0] = NAN;
    for (i = 0; i < n_exclude; i++) sc[exclude[i]] = NAN;
    for (i = 1; exclude_seen && i < V; i++)
        if (s->seen[i]) sc[i] = NAN;
    n = seq_rec_topk(sc, V, NULL, k, ids, scores);
    if (n_found) *n_found = n;
    return SEQ_OK;
}

#endif /* SEQ_REC_IMPLEMENTATION_DONE */
#endif /* SEQ_REC_IMPLEMENTATION */
