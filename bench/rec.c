#define _POSIX_C_SOURCE 200809L /* popen, clock_gettime under -std=c99 */
/* Sequential recommenders on real data against the papers' numbers and PyTorch's speed.
 *     bench_rec [speed]            SASRec training epoch vs PyTorch 1.13 (bench/rec_torch.py,
 *                                  same model, hyperparameters and threads); push + top-10
 *                                  serving latency over beauty's 12k items (a minute or two)
 *     bench_rec beauty [MODEL...]  leave-one-out, full ranking, seen items masked; trains
 *                                  each model (sasrec sasrec+ gru4rec bert4rec ssm; default
 *                                  all) until validation NDCG@10 stops improving, reports
 *                                  test at the best validation epoch beside the S3Rec paper
 *     bench_rec games              SASRec on games_sasrec.txt, the SASRec paper's protocol
 *                                  (the test item among 100 uniform negatives)
 *   options: --epochs N (most epochs, 200)  --patience N (evaluations without a better
 *            validation NDCG@10 before stopping, 10)  --eval-every N (epochs, 1)
 * Threads: one, or OMP_NUM_THREADS in an OpenMP build (-fopenmp -DSEQ_USE_OPENMP); the
 * peer runs with the same count. Data: $SEQ_DATA_DIR or ../shared/data. The trainings
 * take tens of minutes each: run them under nice on a shared machine. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"
#ifdef _OPENMP
#include <omp.h>
#define threads() omp_get_max_threads()
#else
#define threads() 1
#endif

/* One model of the comparison: its hyperparameters (the papers') and the row it meets. */
typedef struct {
    const char *key, *name;
    seq_rec_arch arch;
    seq_rec_loss loss;
    int64_t dim, n_layers, n_heads;
    float dropout, mask_prob;
    double paper_hr, paper_ndcg; /* S3Rec paper's rows (SASRec+: the CE paper's NDCG); 0: none */
} spec;

static const spec specs[] = {
    {"sasrec", "SASRec (BCE)", SEQ_REC_SASREC, SEQ_REC_LOSS_BCE, 64, 2, 1, 0.5f, 0.2f, 0.0605, 0.0318},
    {"sasrec+", "SASRec+ (CE)", SEQ_REC_SASREC, SEQ_REC_LOSS_CE, 64, 2, 1, 0.5f, 0.2f, 0.0, 0.0327},
    {"gru4rec", "GRU4Rec (CE)", SEQ_REC_GRU4REC, SEQ_REC_LOSS_CE, 64, 1, 1, 0.2f, 0.2f, 0.0283, 0.0137},
    {"bert4rec", "BERT4Rec", SEQ_REC_BERT4REC, SEQ_REC_LOSS_CE, 64, 2, 2, 0.2f, 0.6f, 0.0347, 0.0170},
    {"ssm", "SSM (Mamba-2)", SEQ_REC_SSM, SEQ_REC_LOSS_CE, 64, 2, 1, 0.2f, 0.2f, 0.0, 0.0},
};
#define N_SPECS (int)(sizeof specs / sizeof specs[0])

typedef struct {
    int epochs, patience, eval_every;
} schedule;

static void die(const char *what) {
    fprintf(stderr, "bench/rec: %s: %s\n", what, seq_last_error());
    exit(1);
}

static seq_rec_model *make_model(const spec *s, int64_t n_items) {
    seq_rec_model_config c = seq_rec_model_config_default(s->arch, n_items);
    seq_rec_model *m;
    c.loss = s->loss;
    c.dim = s->dim;
    c.n_layers = s->n_layers;
    c.n_heads = s->n_heads;
    c.dropout = s->dropout;
    c.mask_prob = s->mask_prob;
    if (!(m = seq_rec_model_init(c, NULL))) die("model");
    return m;
}

static seq_rec_metrics evaluate(seq_rec_model *m, const seq_rec_data *d, const seq_rec_split *split, seq_rec_part part,
                                seq_rec_protocol protocol) {
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rec_metrics out;
    seq_rng rng;
    seq_rng_seed(&rng, 5); /* the same sampled negatives at every evaluation */
    c.part = part;
    c.protocol = protocol;
    if (seq_rec_evaluate(d, split, seq_rec_model_score, m, &c, &rng, &out) != SEQ_OK) die("evaluate");
    return out;
}

/* Trains m with validation every eval_every epochs until patience evaluations bring no
 * better NDCG@10; returns the test metrics of the best validation epoch (its weights are
 * kept aside, then restored). */
static seq_rec_metrics train_best(seq_rec_model *m, const seq_rec_data *d, const seq_rec_split *split,
                                  seq_rec_protocol protocol, schedule sc, const char *name) {
    seq_rec_sampler neg;
    seq_rec_batcher it;
    float *best = (float *)malloc((size_t)m->P->numel * sizeof(float));
    double best_ndcg = -1.0, train_s = 0.0;
    int e, best_epoch = 0, stale = 0;
    char label[64];
    seq_rec_metrics v, t;
    if (!best || seq_rec_sampler_init(&neg, d, split, SEQ_REC_NEG_UNIFORM, 0, NULL) != SEQ_OK ||
        seq_rec_batcher_init(&it, d, split, &neg, seq_rec_model_batch_config(m), NULL) != SEQ_OK)
        die("trainer");
    for (e = 1; e <= sc.epochs && stale < sc.patience; e++) {
        double t0 = bench_now();
        float loss;
        if (seq_rec_model_train_epoch(m, &it, NULL, NULL, &loss) != SEQ_OK) die("train");
        train_s += bench_now() - t0;
        if (e % sc.eval_every && e < sc.epochs) continue;
        v = evaluate(m, d, split, SEQ_REC_VALID, protocol);
        if (v.ndcg[1] > best_ndcg) {
            best_ndcg = v.ndcg[1];
            best_epoch = e;
            stale = 0;
            memcpy(best, m->P->data, (size_t)m->P->numel * sizeof(float));
        } else {
            stale++;
        }
        fprintf(stderr, "  %s epoch %3d loss %.4f  train %.1f s  valid NDCG@10 %.4f HR@10 %.4f  (best %.4f @%d)\n", name,
                e, (double)loss, train_s, v.ndcg[1], v.hr[1], best_ndcg, best_epoch);
    }
    memcpy(m->P->data, best, (size_t)m->P->numel * sizeof(float));
    t = evaluate(m, d, split, SEQ_REC_TEST, protocol);
    seq_rec_protocol_label(&t, label, sizeof label);
    printf("%-14s HR@10 %.4f  NDCG@10 %.4f  MRR %.4f  (%s, test)  best epoch %d of %d  valid NDCG@10 %.4f  train %.0f s "
           "(%d thread%s)\n",
           name, t.hr[1], t.ndcg[1], t.mrr, label, best_epoch, e - 1, best_ndcg, train_s, threads(),
           threads() > 1 ? "s" : "");
    fflush(stdout);
    seq_rec_batcher_free(&it);
    seq_rec_sampler_free(&neg);
    free(best);
    return t;
}

static int load(const char *file, seq_rec_format fmt, seq_rec_data *d, seq_rec_split *split, char *path,
                size_t cap) {
    if (!seq_rec_find_data(file, path, cap)) {
        printf("bench/rec: SKIP (no %s in $SEQ_DATA_DIR or ../shared/data)\n", file);
        return 0;
    }
    if (seq_rec_load(d, path, fmt, NULL, NULL) != SEQ_OK ||
        seq_rec_split_leave_one_out(split, d, NULL) != SEQ_OK)
        die(path);
    printf("%s: %lld users, %lld items, %lld interactions, leave-one-out\n", path, (long long)d->n_users,
           (long long)d->n_items, (long long)d->n_inter);
    return 1;
}

/* Median microseconds of push(item) + top-10 (seen masked) on one session of m. */
static double serve_us(seq_rec_model *m) {
    seq_rec_session *s = seq_rec_session_new(m, NULL);
    double t[201];
    int32_t ids[10];
    int i, j;
    if (!s) die("session");
    for (i = 0; i < 201; i++) {
        double t0 = bench_now();
        if (seq_rec_session_push(s, 1 + (int32_t)((i * 7919) % m->cfg.n_items), i) != SEQ_OK ||
            seq_rec_session_topk(s, 10, 1, NULL, 0, ids, NULL, NULL) != SEQ_OK)
            die("serve");
        t[i] = bench_now() - t0;
    }
    for (i = 1; i < 201; i++) /* insertion sort: the median */
        for (j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    seq_rec_session_free(s);
    return t[100] * 1e6;
}

static void speed(void) {
    seq_rec_data d;
    seq_rec_split split;
    seq_rec_sampler neg;
    seq_rec_batcher it;
    seq_rec_model *m;
    static char path[1024], cmd[1400], out[4096];
    const spec *s = &specs[0];
    double seq_s = 1e30, torch_s;
    int r, k;
    if (!load("beauty_s3rec.txt", SEQ_REC_FMT_USER_SEQ, &d, &split, path, sizeof path)) return;
    m = make_model(s, d.n_items);
    if (seq_rec_sampler_init(&neg, &d, &split, SEQ_REC_NEG_UNIFORM, 0, NULL) != SEQ_OK ||
        seq_rec_batcher_init(&it, &d, &split, &neg, seq_rec_model_batch_config(m), NULL) != SEQ_OK)
        die("trainer");
    for (r = 0; r < 2; r++) { /* best of two epochs, as the peer */
        double t0 = bench_now();
        if (seq_rec_model_train_epoch(m, &it, NULL, NULL, NULL) != SEQ_OK) die("train");
        if (bench_now() - t0 < seq_s) seq_s = bench_now() - t0;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/rec_torch.py %s %d %lld %g 2>/dev/null", path, threads(),
             (long long)s->dim, (double)s->dropout);
    bench_peer_output(cmd, out, sizeof out);
    torch_s = bench_peer_value(out, "sasrec_epoch_s");
    printf("SASRec training epoch (BCE, d=%lld, 2 blocks, 1 head, L=50, batch 128, dropout %.1f, %d thread%s): "
           "seq %.2f s, PyTorch 1.13 %.2f s: %.2fx\n",
           (long long)s->dim, (double)s->dropout, threads(), threads() > 1 ? "s" : "", seq_s, torch_s,
           torch_s > 0 ? torch_s / seq_s : 0.0);
    printf("serving, push + top-10 over %lld items (seen masked), median:", (long long)d.n_items);
    printf(" SASRec (re-encodes %lld items) %.0f us", (long long)m->cfg.max_len, serve_us(m));
    seq_rec_model_free(m);
    for (k = 2; k < N_SPECS; k += 2) { /* GRU4Rec, SSM: O(1) push */
        m = make_model(&specs[k], d.n_items);
        printf(", %s %.0f us", seq_rec_arch_name(specs[k].arch), serve_us(m));
        seq_rec_model_free(m);
    }
    printf("\n");
    seq_rec_batcher_free(&it);
    seq_rec_sampler_free(&neg);
    seq_rec_split_free(&split);
    seq_rec_data_free(&d);
}

static void beauty(schedule sc, char **only, int n_only) {
    seq_rec_data d;
    seq_rec_split split;
    static char path[1024];
    int k, i;
    if (!load("beauty_s3rec.txt", SEQ_REC_FMT_USER_SEQ, &d, &split, path, sizeof path)) return;
    printf("full ranking over all items, seen masked; best epoch by validation NDCG@10 (patience %d evaluations, "
           "every %d epoch%s, at most %d)\n",
           sc.patience, sc.eval_every, sc.eval_every > 1 ? "s" : "", sc.epochs);
    for (k = 0; k < N_SPECS; k++) {
        int want = n_only == 0;
        seq_rec_model *m;
        seq_rec_metrics t;
        for (i = 0; i < n_only; i++) want |= strcmp(only[i], specs[k].key) == 0;
        if (!want) continue;
        m = make_model(&specs[k], d.n_items);
        t = train_best(m, &d, &split, SEQ_REC_PROTO_FULL, sc, specs[k].name);
        if (specs[k].paper_hr > 0)
            printf("%-14s paper HR@10 %.4f NDCG@10 %.4f: %s\n", "", specs[k].paper_hr, specs[k].paper_ndcg,
                   t.hr[1] >= specs[k].paper_hr && t.ndcg[1] >= specs[k].paper_ndcg ? "met" : "MISSED");
        else if (specs[k].paper_ndcg > 0) /* the CE paper's row gives NDCG@10 only */
            printf("%-14s paper NDCG@10 %.4f: %s\n", "", specs[k].paper_ndcg,
                   t.ndcg[1] >= specs[k].paper_ndcg ? "met" : "MISSED");
        seq_rec_model_free(m);
    }
    seq_rec_split_free(&split);
    seq_rec_data_free(&d);
}

static void games(schedule sc) {
    seq_rec_data d;
    seq_rec_split split;
    static char path[1024];
    seq_rec_model *m;
    seq_rec_metrics t;
    if (!load("games_sasrec.txt", SEQ_REC_FMT_USER_ITEM, &d, &split, path, sizeof path)) return;
    m = make_model(&specs[0], d.n_items);
    t = train_best(m, &d, &split, SEQ_REC_PROTO_UNIFORM, sc, "SASRec (BCE)");
    printf("%-14s SASRec paper NDCG@10 0.5360 (uniform-100): %s\n", "", t.ndcg[1] >= 0.5360 ? "met" : "MISSED");
    seq_rec_model_free(m);
    seq_rec_split_free(&split);
    seq_rec_data_free(&d);
}

int main(int argc, char **argv) {
    schedule sc;
    char *only[N_SPECS];
    const char *what = "speed";
    int i, n_only = 0;
    sc.epochs = 200;
    sc.patience = 10;
    sc.eval_every = 1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) sc.epochs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--patience") == 0 && i + 1 < argc) sc.patience = atoi(argv[++i]);
        else if (strcmp(argv[i], "--eval-every") == 0 && i + 1 < argc) sc.eval_every = atoi(argv[++i]);
        else if (i == 1) what = argv[i];
        else if (n_only < N_SPECS) only[n_only++] = argv[i];
    }
    if (sc.epochs < 1 || sc.patience < 1 || sc.eval_every < 1) {
        fprintf(stderr, "bench/rec: --epochs, --patience and --eval-every must be >= 1\n");
        return 1;
    }
    if (strcmp(seq_sgemm_backend(), "blis") == 0) bench_blis_use_cpu_kernels();
    printf("bench/rec: sgemm %s, %d thread%s\n", seq_sgemm_backend(), threads(), threads() > 1 ? "s" : "");
    if (strcmp(what, "speed") == 0) speed();
    else if (strcmp(what, "beauty") == 0) beauty(sc, only, n_only);
    else if (strcmp(what, "games") == 0) games(sc);
    else {
        fprintf(stderr, "usage: bench_rec [speed | beauty [MODEL...] | games] [--epochs N] [--patience N] "
                        "[--eval-every N]\n");
        return 1;
    }
    return 0;
}
