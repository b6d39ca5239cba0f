#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* Data-parallel SASRec training with seq_mpi.h: every rank walks the same shuffled user
 * order, takes its block of each global batch, and the gradients meet in one all-reduce.
 *   mpirun -np 4 build/mpi_recommend_mpi [FILE] [--epochs N] [--quiet]
 *   build/mpi_recommend [...]          the same program built without MPI: one rank
 * FILE: "user item item ..." per line (S3Rec) or "user item" lines (SASRec); default
 * ../shared/data/beauty_s3rec.txt. SASRec+ (full-softmax CE) as examples/recommend.c,
 * leave-one-out: each user's last two items are held out. The loss is a mean over
 * predicted positions, so each rank's gradient is weighted by its share of the global
 * batch's positions, not of its rows. Dropout draws from a per-rank stream. Rank 0 ranks
 * every user's test item among all items and prints HR@10 and NDCG@10; --quiet prints
 * only that line and exits 0 when NDCG@10 beats PopRec's 0.0068 (the S3Rec paper's row). */
#include <time.h>
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include "../seq_rec.h"
#include "../seq_mpi.h"
#include "rec_loo.h"

static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Positions user u's training prefix predicts in a window of W = max_len + 1. */
static int64_t predicted(const int64_t *train_len, int64_t u, int64_t W) {
    return (train_len[u] < W ? train_len[u] : W) - 1;
}

/* One epoch: global batches of cfg.batch users in the order's shuffled sequence. Returns
 * the mean global loss over the batches. */
static seq_status epoch(seq_mpi *mpi, seq_rec_model *m, const seq_rec_data *d, const int64_t *train_len,
                        seq_rng *order, int64_t *perm, int32_t *win, int64_t *batch, double *mean_loss) {
    int64_t W = m->cfg.max_len + 1, next = 0, steps = 0;
    double total = 0;
    seq_status s = SEQ_OK;
    seq_rng_permutation(order, perm, d->n_users);
    while (s == SEQ_OK) {
        int64_t B = 0, lo, hi, i, mine = 0, all = 0;
        double loss_share = 0;
        for (; next < d->n_users && B < m->cfg.batch; next++)
            if (train_len[perm[next]] >= 2) batch[B++] = perm[next];
        if (B == 0) break;
        seq_mpi_shard(mpi, B, &lo, &hi);
        for (i = 0; i < B; i++) {
            int64_t p = predicted(train_len, batch[i], W);
            all += p, mine += i >= lo && i < hi ? p : 0;
        }
        seq_params_zero_grad(m->P);
        if (hi > lo) { /* the epoch's last batch may leave a rank without rows */
            seq_tensor *loss;
            for (i = lo; i < hi; i++) {
                int64_t u = batch[i], n = train_len[u] < W ? train_len[u] : W;
                int32_t *w = win + (i - lo) * W;
                memset(w, 0, (size_t)(W - n) * sizeof *w);
                memcpy(w + W - n, d->items + d->off[u] + train_len[u] - n, (size_t)n * sizeof *w);
            }
            seq_ctx_reset(m->ctx);
            loss = seq_rec_model_loss(m, m->ctx, win, NULL, hi - lo);
            if (seq_ctx_status(m->ctx) != SEQ_OK) return seq_set_error(seq_ctx_status(m->ctx), "%s", seq_ctx_error(m->ctx));
            seq_backward(m->ctx, loss);
            loss_share = loss->data[0] * (double)mine / (double)all;
        }
        s = seq_mpi_allreduce_grads(mpi, m->P, (float)mine / (float)all);
        if (s == SEQ_OK) s = seq_mpi_allreduce_sum(mpi, &loss_share, 1);
        /* a non-finite gradient is refused alike on every rank: that batch is skipped */
        if (s == SEQ_OK) seq_adamw_step(&m->opt, m->P, m->cfg.lr);
        total += loss_share, steps++;
    }
    *mean_loss = steps ? total / (double)steps : 0;
    return s;
}

int main(int argc, char **argv) {
    const char *path = "../shared/data/beauty_s3rec.txt";
    int quiet = 0, epochs = 1, e, i, rc = 1;
    seq_mpi mpi;
    seq_rec_data d;
    seq_rec_model_config c;
    seq_rec_model *m = NULL;
    int64_t *train_len = NULL, *perm = NULL, *batch = NULL, u;
    int32_t *win = NULL;
    seq_rng order, rng;
    double t0, t_train, loss = 0;
    metrics test;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = atoi(argv[++i]);
        else path = argv[i];
    }
    if (seq_mpi_init(&mpi, seq_mpi_config_default()) != SEQ_OK) {
        fprintf(stderr, "mpi_recommend: %s\n", seq_last_error());
        return 1;
    }
    if (!load(path, &d)) {
        fprintf(stderr, "mpi_recommend: cannot read %s\n", path);
        seq_mpi_free(&mpi);
        return 1;
    }
    c = seq_rec_model_config_default(SEQ_REC_SASREC, d.n_items);
    c.loss = SEQ_REC_LOSS_CE;
    m = seq_rec_model_init(c, NULL);
    train_len = (int64_t *)malloc((size_t)d.n_users * sizeof(int64_t));
    perm = (int64_t *)malloc((size_t)d.n_users * sizeof(int64_t));
    batch = (int64_t *)malloc((size_t)c.batch * sizeof(int64_t));
    win = (int32_t *)malloc((size_t)(c.batch * (c.max_len + 1)) * sizeof(int32_t));
    if (!m || !train_len || !perm || !batch || !win || seq_mpi_broadcast_params(&mpi, m->P, 0) != SEQ_OK) {
        fprintf(stderr, "mpi_recommend: rank %d: %s\n", mpi.rank, seq_last_error());
        goto done;
    }
    seq_mpi_rng_seed(&mpi, &m->rng, c.seed, 1); /* dropout: a stream of its own per rank */
    seq_rng_seed(&order, c.seed + 1);           /* the user order: the same on every rank */
    for (u = 0; u < d.n_users; u++) train_len[u] = d.off[u + 1] - d.off[u] - 2;
    if (!quiet && mpi.rank == 0)
        printf("mpi_recommend: %d rank%s, %s: %lld users, %lld items; SASRec+ (CE), %lld parameters, global batch %lld\n",
               mpi.size, mpi.size > 1 ? "s" : "", path, (long long)d.n_users, (long long)d.n_items,
               (long long)m->P->numel, (long long)c.batch);
    t0 = wall();
    for (e = 1; e <= epochs; e++) {
        if (epoch(&mpi, m, &d, train_len, &order, perm, win, batch, &loss) != SEQ_OK) {
            fprintf(stderr, "mpi_recommend: rank %d: %s\n", mpi.rank, seq_last_error());
            goto done;
        }
        if (!quiet && mpi.rank == 0) printf("  epoch %d: mean loss %.4f, %.1f s\n", e, loss, wall() - t0);
    }
    t_train = wall() - t0;
    if (seq_mpi_check_params(&mpi, m->P) != SEQ_OK) {
        fprintf(stderr, "mpi_recommend: %s\n", seq_last_error());
        goto done;
    }
    rc = 0;
    if (mpi.rank == 0) {
        seq_rng_seed(&rng, 1);
        test = evaluate(m, &d, 0, 1, &rng);
        printf("mpi_recommend: %d rank%s, %d epoch%s in %.1f s (all-reduce %.1f%%): test HR@10 %.4f, NDCG@10 %.4f "
               "(full ranking over %lld items, seen masked, leave-one-out)\n",
               mpi.size, mpi.size > 1 ? "s" : "", epochs, epochs > 1 ? "s" : "", t_train,
               100.0 * mpi.comm_seconds / (t_train > 0 ? t_train : 1), test.hr10, test.ndcg10, (long long)d.n_items);
        rc = quiet && !(test.ndcg10 > 0.0068);
    }
done:
    seq_rec_model_free(m);
    free(train_len);
    free(perm);
    free(batch);
    free(win);
    free(d.off);
    free(d.items);
    seq_mpi_free(&mpi);
    return rc;
}
