#define _POSIX_C_SOURCE 200809L /* popen, setenv, clock_gettime under -std=c99 */
/* Sequential recommenders on real data against the papers' numbers and PyTorch's speed.
 *   beauty_s3rec.txt  leave-one-out, full ranking over all items, seen items masked, best
 *                     epoch by validation NDCG@10: SASRec (BCE), SASRec+ (CE), GRU4Rec,
 *                     BERT4Rec, the SSM model, against the S3Rec paper's rows.
 *   games_sasrec.txt  SASRec with the SASRec paper's protocol: the test item among 100
 *                     uniform negatives the user never saw.
 *   speed             one SASRec training epoch on beauty, seq vs the same model in
 *                     PyTorch 1.13 (bench/rec_torch.py), same threads; push + top-10
 *                     latency of a session over the 12k beauty items.
 * Data from ../shared/data (or $SEQ_REC_DATA). Epochs per model: $SEQ_REC_EPOCHS (default
 * 30; the paper numbers want ~200 for SASRec-BCE); run under nice on a shared machine. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"

#include "../examples/rec_loo.h"

typedef struct {
    const char *name;
    seq_rec_arch arch;
    seq_rec_loss loss;
    double paper_hr, paper_ndcg; /* S3Rec paper's rows (SASRec+: the CE paper's NDCG) */
} spec;

/* Trains with validation every epoch; returns the test metrics of the best epoch. */
static metrics train_best(seq_rec_model *m, const seq_rec_data *d, int epochs, int full, double *train_s,
                          int *best_epoch) {
    int64_t *train_len = (int64_t *)malloc((size_t)d->n_users * sizeof(int64_t)), u;
    metrics best_val = {-1.0, -1.0}, best_test = {0.0, 0.0};
    seq_rng rng;
    int e;
    *train_s = 0.0;
    *best_epoch = 0;
    for (u = 0; u < d->n_users; u++) train_len[u] = d->off[u + 1] - d->off[u] - 2;
    for (e = 1; e <= epochs; e++) {
        double t0 = bench_now();
        float loss;
        metrics v;
        if (seq_rec_model_train_epoch(m, d, train_len, NULL, NULL, &loss) != SEQ_OK) {
            fprintf(stderr, "train: %s\n", seq_last_error());
            exit(1);
        }
        *train_s += bench_now() - t0;
        seq_rng_seed(&rng, 5);
        v = evaluate(m, d, 1, full, &rng);
        if (v.ndcg10 > best_val.ndcg10) {
            best_val = v;
            seq_rng_seed(&rng, 6);
            best_test = evaluate(m, d, 0, full, &rng);
            *best_epoch = e;
        }
        fprintf(stderr, "  epoch %3d loss %.4f  val NDCG@10 %.4f  (best test HR@10 %.4f NDCG@10 %.4f @%d)\n", e,
                (double)loss, v.ndcg10, best_test.hr10, best_test.ndcg10, *best_epoch);
    }
    free(train_len);
    return best_test;
}

static const char *data_path(const char *file, char *buf, size_t cap) {
    const char *dir = getenv("SEQ_REC_DATA");
    snprintf(buf, cap, "%s/%s", dir ? dir : "../shared/data", file);
    return buf;
}

/* Best-of-3 microseconds of push(item) + top-10 on a session of model m. */
static double serve_us(seq_rec_model *m) {
    seq_rec_session *s = seq_rec_session_new(m, NULL);
    int32_t ids[10];
    float sc[10];
    double best = 1e30;
    int r, i;
    for (r = 0; r < 3; r++) {
        double t0 = bench_now();
        for (i = 0; i < 200; i++) {
            seq_rec_session_push(s, 1 + (int32_t)((i * 7919) % m->cfg.n_items), i);
            seq_rec_session_topk(s, 10, 1, NULL, 0, ids, sc, NULL);
        }
        if ((bench_now() - t0) / 200 < best) best = (bench_now() - t0) / 200;
    }
    seq_rec_session_free(s);
    return best * 1e6;
}

int main(void) {
    static const spec specs[5] = {{"SASRec (BCE)", SEQ_REC_SASREC, SEQ_REC_LOSS_BCE, 0.0605, 0.0318},
                                  {"SASRec+ (CE)", SEQ_REC_SASREC, SEQ_REC_LOSS_CE, 0.0, 0.0327},
                                  {"GRU4Rec (CE)", SEQ_REC_GRU4REC, SEQ_REC_LOSS_CE, 0.0283, 0.0137},
                                  {"BERT4Rec", SEQ_REC_BERT4REC, SEQ_REC_LOSS_CE, 0.0347, 0.0170},
                                  {"SSM (Mamba-2)", SEQ_REC_SSM, SEQ_REC_LOSS_CE, 0.0, 0.0}};
    static char out[4096], path[1024], cmd[1400];
    const char *ev = getenv("SEQ_REC_EPOCHS"), *only = getenv("SEQ_REC_ONLY");
    int epochs = ev ? atoi(ev) : 30, k, best_epoch;
    seq_rec_data beauty, games;
    double train_s, seq_epoch_s, torch_epoch_s;
    metrics r;
    seq_rec_model *m;
    seq_rec_model_config c;
    int64_t *train_len, u;
    setenv("BLIS_NUM_THREADS", "1", 1);
    if (strcmp(seq_sgemm_backend(), "blis") == 0) bench_blis_use_cpu_kernels();
    if (!load(data_path("beauty_s3rec.txt", path, sizeof path), &beauty)) {
        printf("bench/rec: SKIP (no %s)\n", path);
        return 0;
    }
    printf("bench/rec: beauty_s3rec %lld users, %lld items, %lld interactions; sgemm %s, 1 thread\n",
           (long long)beauty.n_users, (long long)beauty.n_items, (long long)beauty.n_inter, seq_sgemm_backend());

    /* speed: one SASRec (BCE) epoch, the torch peer on the same file and hyperparameters */
    c = seq_rec_model_config_default(SEQ_REC_SASREC, beauty.n_items);
    m = seq_rec_model_init(c, NULL);
    train_len = (int64_t *)malloc((size_t)beauty.n_users * sizeof(int64_t));
    for (u = 0; u < beauty.n_users; u++) train_len[u] = beauty.off[u + 1] - beauty.off[u] - 2;
    seq_epoch_s = bench_now();
    seq_rec_model_train_epoch(m, &beauty, train_len, NULL, NULL, NULL);
    seq_epoch_s = bench_now() - seq_epoch_s;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/rec_torch.py %s 1 2>/dev/null", path);
    bench_peer_output(cmd, out, sizeof out);
    torch_epoch_s = bench_peer_value(out, "sasrec_epoch_s");
    printf("SASRec training epoch (L=50, d=64, 2 blocks, batch 128, BCE): seq %.2f s, torch %.2f s: %.2fx\n",
           seq_epoch_s, torch_epoch_s, torch_epoch_s > 0 ? torch_epoch_s / seq_epoch_s : 0.0);
    printf("serving, push + top-10 over %lld items (seen masked):", (long long)beauty.n_items);
    printf(" SASRec %.1f us", serve_us(m));
    seq_rec_model_free(m);
    for (k = 2; k < 5; k += 2) {
        m = seq_rec_model_init(seq_rec_model_config_default(specs[k].arch, beauty.n_items), NULL);
        printf(", %s %.1f us", seq_rec_arch_name(specs[k].arch), serve_us(m));
        seq_rec_model_free(m);
    }
    printf("\n");
    free(train_len);

    printf("beauty, leave-one-out, full ranking (seen masked), best epoch by validation NDCG@10, %d epochs max\n",
           epochs);
    printf("%-16s %12s %12s %10s %10s %6s %9s\n", "model", "HR@10", "NDCG@10", "paper HR", "paper NDCG", "epoch",
           "train s");
    for (k = 0; k < 5; k++) {
        if (only && !strstr(specs[k].name, only)) continue;
        c = seq_rec_model_config_default(specs[k].arch, beauty.n_items);
        c.loss = specs[k].loss;
        m = seq_rec_model_init(c, NULL);
        r = train_best(m, &beauty, epochs, 1, &train_s, &best_epoch);
        printf("%-16s %12.4f %12.4f %10.4f %10.4f %6d %9.1f\n", specs[k].name, r.hr10, r.ndcg10, specs[k].paper_hr,
               specs[k].paper_ndcg, best_epoch, train_s);
        fflush(stdout);
        seq_rec_model_free(m);
    }
    if ((!only || strstr("games", only)) && load(data_path("games_sasrec.txt", path, sizeof path), &games)) {
        c = seq_rec_model_config_default(SEQ_REC_SASREC, games.n_items);
        m = seq_rec_model_init(c, NULL);
        r = train_best(m, &games, epochs, 0, &train_s, &best_epoch);
        printf("games, SASRec (BCE), leave-one-out, 100 uniform negatives (SASRec protocol): HR@10 %.4f NDCG@10 "
               "%.4f (paper NDCG@10 0.5360), best epoch %d, train %.1f s\n",
               r.hr10, r.ndcg10, best_epoch, train_s);
        seq_rec_model_free(m);
    }
    return 0;
}
