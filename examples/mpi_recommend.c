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

static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Rows [lo, hi) of batch b as a batch of their own (no copy). */
static seq_rec_batch rows_of(const seq_rec_batch *b, int64_t lo, int64_t hi) {
    seq_rec_batch r = *b;
    r.B = r.n = hi - lo;
    r.users += lo;
    r.inputs += lo * b->L;
    r.targets += lo * b->L;
    if (r.negatives) r.negatives += lo * b->L * b->n_neg;
    if (r.times) r.times += lo * b->L;
    return r;
}

/* Positions with a target in rows [lo, hi): what the loss averages over. */
static int64_t targets_in(const seq_rec_batch *b, int64_t lo, int64_t hi) {
    int64_t i, n = 0;
    for (i = lo * b->L; i < hi * b->L; i++) n += b->targets[i] != 0;
    return n;
}

/* One epoch: every rank runs the same batcher with the same rng, so all see the same
 * global batches, and each trains on its block of rows. Returns the mean global loss. */
static seq_status epoch(seq_mpi *mpi, seq_rec_model *m, seq_rec_batcher *it, seq_rng *order, double *mean_loss) {
    int64_t steps = 0;
    double total = 0;
    seq_status s;
    seq_rec_batcher_start(it, order);
    while ((s = seq_rec_batcher_next(it, order)) == SEQ_OK && it->batch.n > 0) {
        const seq_rec_batch *b = &it->batch;
        int64_t lo, hi, all = targets_in(b, 0, b->n), mine;
        double loss_share = 0;
        seq_mpi_shard(mpi, b->n, &lo, &hi);
        mine = targets_in(b, lo, hi);
        seq_params_zero_grad(m->P);
        if (mine > 0) { /* the epoch's last batch may leave a rank without rows */
            seq_rec_batch part = rows_of(b, lo, hi);
            seq_tensor *loss;
            seq_ctx_reset(m->ctx);
            seq_ctx_set_grad(m->ctx, 1);
            loss = seq_rec_model_loss(m, m->ctx, &part);
            if (seq_ctx_status(m->ctx) != SEQ_OK) return seq_set_error(seq_ctx_status(m->ctx), "%s", seq_ctx_error(m->ctx));
            seq_backward(m->ctx, loss);
            loss_share = loss->data[0] * (double)mine / (double)all;
        }
        s = seq_mpi_allreduce_grads(mpi, m->P, (float)mine / (float)all);
        if (s == SEQ_OK) s = seq_mpi_allreduce_sum(mpi, &loss_share, 1);
        if (s != SEQ_OK) break;
        /* a non-finite gradient is refused alike on every rank: that batch is skipped */
        seq_adamw_step(&m->opt, m->P, m->cfg.lr);
        total += loss_share, steps++;
    }
    *mean_loss = steps ? total / (double)steps : 0;
    return s;
}

int main(int argc, char **argv) {
    char buf[1024], text[2048];
    const char *path = NULL;
    int quiet = 0, epochs = 1, e, i, rc = 1, have_split = 0, have_batcher = 0;
    seq_mpi mpi;
    seq_rec_data d;
    seq_rec_split split;
    seq_rec_batcher it;
    seq_rec_model_config c;
    seq_rec_model *m = NULL;
    seq_rng order;
    double t0, t_train, loss = 0;
    seq_rec_metrics test;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = atoi(argv[++i]);
        else path = argv[i];
    }
    if (seq_mpi_init(&mpi, seq_mpi_config_default()) != SEQ_OK) {
        fprintf(stderr, "mpi_recommend: %s\n", seq_last_error());
        return 1;
    }
    if (!path && !(path = seq_rec_find_data("beauty_s3rec.txt", buf, sizeof buf))) {
        if (mpi.rank == 0) printf("mpi_recommend: no data file given and no beauty_s3rec.txt found\n");
        seq_mpi_free(&mpi);
        return quiet; /* nothing to check without data */
    }
    /* a "user item" file read as one user per line repeats users: try that layout next */
    if (seq_rec_load(&d, path, SEQ_REC_FMT_USER_SEQ, NULL, NULL) != SEQ_OK &&
        seq_rec_load(&d, path, SEQ_REC_FMT_USER_ITEM, NULL, NULL) != SEQ_OK) {
        fprintf(stderr, "mpi_recommend: %s\n", seq_last_error());
        seq_mpi_free(&mpi);
        return 1;
    }
    c = seq_rec_model_config_default(SEQ_REC_SASREC, d.n_items);
    c.loss = SEQ_REC_LOSS_CE;
    c.dropout = 0.5f;
    if (seq_rec_split_leave_one_out(&split, &d, NULL) != SEQ_OK) goto fail;
    have_split = 1;
    if (!(m = seq_rec_model_init(c, NULL))) goto fail;
    /* CE needs no negatives: no sampler */
    if (seq_rec_batcher_init(&it, &d, &split, NULL, seq_rec_model_batch_config(m), NULL) != SEQ_OK) goto fail;
    have_batcher = 1;
    if (seq_mpi_broadcast_params(&mpi, m->P, 0) != SEQ_OK) goto fail;
    seq_mpi_rng_seed(&mpi, &m->rng, c.seed, 1); /* dropout: a stream of its own per rank */
    seq_rng_seed(&order, c.seed + 1);           /* batches: the same on every rank */
    if (!quiet && mpi.rank == 0)
        printf("mpi_recommend: %d rank%s, %s: %lld users, %lld items; SASRec+ (CE), %lld parameters, global batch %lld\n",
               mpi.size, mpi.size > 1 ? "s" : "", path, (long long)d.n_users, (long long)d.n_items,
               (long long)m->P->numel, (long long)c.batch);
    t0 = wall();
    for (e = 1; e <= epochs; e++) {
        if (epoch(&mpi, m, &it, &order, &loss) != SEQ_OK) goto fail;
        if (!quiet && mpi.rank == 0) printf("  epoch %d: mean loss %.4f, %.1f s\n", e, loss, wall() - t0);
    }
    t_train = wall() - t0;
    if (seq_mpi_check_params(&mpi, m->P) != SEQ_OK) goto fail;
    rc = 0;
    if (mpi.rank == 0) {
        if (seq_rec_evaluate(&d, &split, seq_rec_model_score, m, NULL, NULL, &test) != SEQ_OK) goto fail;
        seq_rec_metrics_format(&test, text, sizeof text);
        printf("mpi_recommend: %d rank%s, %d epoch%s in %.1f s (all-reduce %.1f%%), leave-one-out test:\n%s",
               mpi.size, mpi.size > 1 ? "s" : "", epochs, epochs > 1 ? "s" : "", t_train,
               100.0 * mpi.comm_seconds / (t_train > 0 ? t_train : 1), text);
        rc = quiet && !(test.ndcg[1] > 0.0068); /* NDCG@10 against PopRec's (the S3Rec paper's row) */
    }
    goto done;
fail:
    fprintf(stderr, "mpi_recommend: rank %d: %s\n", mpi.rank, seq_last_error());
    rc = 1;
done:
    if (have_batcher) seq_rec_batcher_free(&it);
    if (have_split) seq_rec_split_free(&split);
    seq_rec_model_free(m);
    seq_rec_data_free(&d);
    seq_mpi_free(&mpi);
    return rc;
}
