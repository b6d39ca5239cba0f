/* Leave-one-out helpers shared by examples/recommend.c and bench/rec.c: a reader for the
 * two sequential-recommendation file layouts and a full-ranking / sampled evaluator. They
 * stand in for seq_rec.h's loaders (section 1) and evaluator (section 3) until those land;
 * include after seq_rec.h. */
#ifndef SEQ_REC_LOO_H
#define SEQ_REC_LOO_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads "user item item ..." (one user per line, S3Rec) or "user item" lines (SASRec),
 * each user's events in time order; users and items keep the files' 1-based ids (user u
 * is row u-1). Stands in for section 1's loaders until they land. */
static __attribute__((unused)) int load(const char *path, seq_rec_data *d) {
    static char line[1 << 20];
    FILE *f = fopen(path, "r");
    int64_t cap = 1 << 19, n = 0, i;
    int64_t *uid = (int64_t *)malloc((size_t)cap * sizeof(int64_t)), *at;
    int32_t *item = (int32_t *)malloc((size_t)cap * sizeof(int32_t));
    memset(d, 0, sizeof *d);
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        long u = strtol(p, &end, 10), it;
        if (end == p) continue;
        for (p = end; (it = strtol(p, &end, 10)), end != p; p = end) {
            uid[n] = u;
            item[n++] = (int32_t)it;
            if (it > d->n_items) d->n_items = it;
            if (u > d->n_users) d->n_users = u;
        }
    }
    fclose(f);
    d->n_inter = n;
    d->off = (int64_t *)calloc((size_t)d->n_users + 1, sizeof(int64_t));
    d->items = (int32_t *)malloc((size_t)n * sizeof(int32_t));
    at = (int64_t *)calloc((size_t)d->n_users + 1, sizeof(int64_t));
    for (i = 0; i < n; i++) d->off[uid[i]]++; /* user u's count lands at off[u], u 1-based */
    for (i = 0; i < d->n_users; i++) d->off[i + 1] += d->off[i];
    for (i = 0; i < n; i++) d->items[d->off[uid[i] - 1] + at[uid[i]]++] = item[i];
    free(uid);
    free(item);
    free(at);
    return n > 0;
}

typedef struct {
    double hr10, ndcg10;
} metrics;

/* Leave-one-out: each user's item at position len-1-back (back 1: validation, 0: test)
 * ranked after the items before it. full: among all items, seen ones masked; otherwise
 * among 100 uniform negatives the user never interacted with (SASRec's protocol). Stands
 * in for section 3's evaluator until it lands. */
static __attribute__((unused)) metrics evaluate(seq_rec_model *m, const seq_rec_data *d, int back, int full, seq_rng *rng) {
    int64_t chunk = 512, V = d->n_items + 1, u0, j, counted = 0;
    int64_t *users = (int64_t *)malloc((size_t)chunk * sizeof(int64_t)), *hist = (int64_t *)malloc((size_t)chunk * sizeof(int64_t));
    float *sc = (float *)malloc((size_t)(chunk * V) * sizeof(float));
    uint8_t *seen = (uint8_t *)calloc((size_t)V, 1);
    metrics r = {0.0, 0.0};
    for (u0 = 0; u0 < d->n_users; u0 += chunk) {
        int64_t n = 0, k;
        for (j = u0; j < d->n_users && j < u0 + chunk; j++)
            if (d->off[j + 1] - d->off[j] >= 3) {
                users[n] = j;
                hist[n++] = d->off[j + 1] - d->off[j] - 1 - back;
            }
        if (seq_rec_model_score(m, d, users, hist, n, sc) != SEQ_OK) {
            fprintf(stderr, "score: %s\n", seq_last_error());
            exit(1);
        }
        for (k = 0; k < n; k++) {
            const int32_t *it = d->items + d->off[users[k]];
            int64_t len = d->off[users[k] + 1] - d->off[users[k]], i, rank = 0;
            int32_t target = it[hist[k]];
            const float *s = sc + k * V;
            float ts = s[target];
            /* masked: the history (full ranking); never negatives: anything the user had */
            for (i = 0; i < (full ? hist[k] : len); i++) seen[it[i]] = 1;
            if (full) {
                for (i = 1; i < V; i++) /* ties count against the target */
                    rank += i != target && !seen[i] && (s[i] > ts || (s[i] == ts && i < target));
            } else {
                for (i = 0; i < 100;) {
                    int32_t neg = 1 + (int32_t)seq_rng_below(rng, (uint64_t)d->n_items);
                    if (seen[neg]) continue;
                    rank += s[neg] > ts || (s[neg] == ts && neg < target);
                    i++;
                }
            }
            for (i = 0; i < len; i++) seen[it[i]] = 0;
            if (rank < 10) {
                r.hr10 += 1.0;
                r.ndcg10 += 1.0 / log2((double)rank + 2.0);
            }
            counted++;
        }
    }
    r.hr10 /= (double)counted;
    r.ndcg10 /= (double)counted;
    free(users);
    free(hist);
    free(sc);
    free(seen);
    return r;
}

#endif
