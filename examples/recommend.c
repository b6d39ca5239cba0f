/* Train SASRec on a sequential-recommendation file, report leave-one-out metrics, then
 * serve a few users from a streaming session.
 *     ./build/recommend [FILE] [--epochs N] [--quiet]
 * FILE: "user item item ..." per line (S3Rec) or "user item" lines (SASRec), each user's
 * events in time order; default ../shared/data/beauty_s3rec.txt. SASRec+ (full-softmax
 * CE), which reaches useful numbers in few epochs; the default single epoch keeps it near a minute
 * on one core. --quiet prints only the metrics and exits 0 when NDCG@10 beats PopRec's
 * 0.0068 on Beauty (the S3Rec paper's row). */
#define _POSIX_C_SOURCE 200809L
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"
#include "rec_loo.h"

#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A bar of 30 cells on one line, redrawn in place. */
static void bar(void *ud, int64_t done, int64_t total, float loss) {
    int cells = (int)(30 * done / (total > 0 ? total : 1)), i;
    printf("\r  epoch %d [", *(int *)ud);
    for (i = 0; i < 30; i++) putchar(i < cells ? '#' : '.');
    printf("] %5.1f%%  loss %.4f", 100.0 * (double)done / (double)(total > 0 ? total : 1), (double)loss);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *path = "../shared/data/beauty_s3rec.txt";
    int quiet = 0, epochs = 1, e, i;
    seq_rec_data d;
    seq_rec_model_config c;
    seq_rec_model *m;
    seq_rec_session *s;
    int64_t *train_len, u;
    metrics val, test;
    seq_rng rng;
    double t0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = atoi(argv[++i]);
        else path = argv[i];
    }
    if (!load(path, &d)) {
        fprintf(stderr, "recommend: cannot read %s\n", path);
        return 1;
    }
    if (!quiet)
        printf("%s: %lld users, %lld items, %lld interactions\n", path, (long long)d.n_users, (long long)d.n_items,
               (long long)d.n_inter);
    c = seq_rec_model_config_default(SEQ_REC_SASREC, d.n_items);
    c.loss = SEQ_REC_LOSS_CE;
    m = seq_rec_model_init(c, NULL);
    train_len = (int64_t *)malloc((size_t)d.n_users * sizeof(int64_t));
    if (!m || !train_len) {
        fprintf(stderr, "recommend: %s\n", seq_last_error());
        return 1;
    }
    for (u = 0; u < d.n_users; u++) train_len[u] = d.off[u + 1] - d.off[u] - 2; /* leave two out */
    t0 = now();
    for (e = 1; e <= epochs; e++) {
        float loss;
        if (seq_rec_model_train_epoch(m, &d, train_len, quiet ? NULL : bar, &e, &loss) != SEQ_OK) {
            fprintf(stderr, "recommend: %s\n", seq_last_error());
            return 1;
        }
        if (!quiet) printf("\n");
    }
    seq_rng_seed(&rng, 1);
    val = evaluate(m, &d, 1, 1, &rng);
    test = evaluate(m, &d, 0, 1, &rng);
    printf("SASRec+ (CE), %d epochs, %.1f s: validation NDCG@10 %.4f; test HR@10 %.4f, NDCG@10 %.4f "
           "(full ranking over %lld items, seen masked, leave-one-out)\n",
           epochs, now() - t0, val.ndcg10, test.hr10, test.ndcg10, (long long)d.n_items);
    if (!quiet) {
        /* serve: stream three users' histories into sessions, recommend 5 unseen items */
        s = seq_rec_session_new(m, NULL);
        for (u = 0; u < 3 && s; u++) {
            int32_t ids[5];
            float sc[5];
            int64_t j, n = 0;
            seq_rec_session_reset(s);
            printf("user %lld, history", (long long)u + 1);
            for (j = d.off[u]; j < d.off[u + 1] - 1; j++) {
                seq_rec_session_push(s, d.items[j], j);
                printf(" %d", (int)d.items[j]);
            }
            seq_rec_session_topk(s, 5, 1, NULL, 0, ids, sc, &n);
            printf("\n  next (actual %d), top 5:", (int)d.items[d.off[u + 1] - 1]);
            for (j = 0; j < n; j++) printf(" %d (%.2f)", (int)ids[j], (double)sc[j]);
            printf("\n");
        }
        seq_rec_session_free(s);
    }
    seq_rec_model_free(m);
    free(train_len);
    free(d.off);
    free(d.items);
    return quiet && !(test.ndcg10 > 0.0068); /* --quiet: the result must beat PopRec */
}
