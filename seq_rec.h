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

/* ===================================================================================
 * 6  serving: per-user sessions, push and top-K
 * =================================================================================== */

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

/* ===================================================================================
 * 6  serving (implementation)
 * =================================================================================== */

#endif /* SEQ_REC_IMPLEMENTATION_DONE */
#endif /* SEQ_REC_IMPLEMENTATION */
