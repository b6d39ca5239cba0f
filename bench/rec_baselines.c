#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* PopRec, ItemKNN, BPR-MF and implicit ALS on S3Rec's Amazon Beauty: leave-one-out,
 * every metric with its protocol (full ranking, seen items masked, and the uniform-100
 * sampled protocol beside it for comparison with older papers), plus wall time to fit.
 * BPR-MF keeps the epoch with the best validation NDCG@10. Data: argv[1], else
 * $SEQ_DATA_DIR/beauty_s3rec.txt, else ../shared/data (../../shared/data from a worktree). */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"

/* Test metrics under the full protocol and uniform-100, one line each. */
static int report(const char *name, seq_rec_score_fn fn, void *model, const seq_rec_data *d, const seq_rec_split *s,
                  double fit_s) {
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rec_metrics m;
    seq_rng rng;
    char label[64];
    int p;
    seq_rng_seed(&rng, 1);
    for (p = 0; p < 2; p++) {
        double t0 = bench_now();
        c.protocol = p == 0 ? SEQ_REC_PROTO_FULL : SEQ_REC_PROTO_UNIFORM;
        if (seq_rec_evaluate(d, s, fn, model, &c, &rng, &m) != SEQ_OK) {
            printf("%s: %s\n", name, seq_last_error());
            return 1;
        }
        seq_rec_protocol_label(&m, label, sizeof(label));
        printf("%-8s HR@10 (%s) %.4f  NDCG@10 (%s) %.4f  MRR %.4f  Coverage@10 %.4f  fit %.1f s  eval %.1f s\n", name,
               label, m.hr[1], label, m.ndcg[1], m.mrr, m.coverage[1], fit_s, bench_now() - t0);
    }
    return 0;
}

static double valid_ndcg10(seq_rec_score_fn fn, void *model, const seq_rec_data *d, const seq_rec_split *s) {
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rec_metrics m;
    c.part = SEQ_REC_VALID;
    return seq_rec_evaluate(d, s, fn, model, &c, NULL, &m) == SEQ_OK ? m.ndcg[1] : -1;
}

int main(int argc, char **argv) {
    char buf[1024];
    const char *path = argc > 1 ? argv[1] : seq_rec_find_data("beauty_s3rec.txt", buf, sizeof(buf));
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_poprec pop;
    seq_rec_itemknn knn;
    seq_rec_mf mf, best;
    seq_rec_bpr bpr;
    seq_rec_bpr_config bc = seq_rec_bpr_config_default();
    seq_rng rng;
    double t0, best_ndcg = -1, fit_s = 0;
    int e, best_epoch = 0, rc = 0;
    if (!path) { printf("rec_baselines: beauty_s3rec.txt not found (give its path)\n"); return 0; }
    if (seq_rec_load(&d, path, SEQ_REC_FMT_USER_SEQ, NULL, NULL) != SEQ_OK ||
        seq_rec_split_leave_one_out(&s, &d, NULL) != SEQ_OK) {
        printf("rec_baselines: %s\n", seq_last_error());
        return 1;
    }
    printf("%s: %lld users, %lld items, %lld interactions; leave-one-out, test part\n", path, (long long)d.n_users,
           (long long)d.n_items, (long long)d.n_inter);
    seq_rng_seed(&rng, 42);

    t0 = bench_now(); /* popularity over all interactions, as the S3Rec paper's PopRec row */
    seq_rec_poprec_init(&pop, d.n_items, NULL);
    seq_rec_poprec_fit(&pop, &d, NULL);
    rc |= report("PopRec", seq_rec_poprec_score, &pop, &d, &s, bench_now() - t0);
    printf("         S3Rec paper's PopRec row: HR@10 0.0152, NDCG@10 0.0068\n");
    seq_rec_poprec_free(&pop);

    t0 = bench_now();
    seq_rec_itemknn_init(&knn, d.n_items, seq_rec_itemknn_config_default(), NULL);
    seq_rec_itemknn_fit(&knn, &d, &s);
    rc |= report("ItemKNN", seq_rec_itemknn_score, &knn, &d, &s, bench_now() - t0);
    seq_rec_itemknn_free(&knn);

    seq_rec_mf_init(&mf, d.n_users, d.n_items, 64, 0.1f, &rng, NULL);
    seq_rec_mf_init(&best, d.n_users, d.n_items, 64, 0.1f, &rng, NULL);
    bc.batch_size = 4096; bc.lr = 5e-3f; bc.l2 = 1e-3f;
    seq_rec_bpr_init(&bpr, &mf, &d, &s, bc, NULL);
    for (e = 1; e <= 40; e++) {
        double loss = 0, t1 = bench_now();
        if (seq_rec_bpr_epoch(&bpr, &d, &s, &rng, &loss) != SEQ_OK) { printf("BPR: %s\n", seq_last_error()); return 1; }
        fit_s += bench_now() - t1;
        if (e % 5 == 0) {
            double v = valid_ndcg10(seq_rec_mf_score, &mf, &d, &s);
            printf("  BPR-MF epoch %2d loss %.4f valid NDCG@10 (full, seen masked) %.4f\n", e, loss, v);
            if (v > best_ndcg) {
                best_ndcg = v; best_epoch = e;
                memcpy(best.P->data, mf.P->data, (size_t)mf.P->numel * sizeof(float));
            }
        }
    }
    printf("  BPR-MF best epoch by validation: %d\n", best_epoch);
    rc |= report("BPR-MF", seq_rec_mf_score, &best, &d, &s, fit_s);
    seq_rec_bpr_free(&bpr);
    seq_rec_mf_free(&mf);
    seq_rec_mf_free(&best);

    seq_rec_mf_init(&mf, d.n_users, d.n_items, 64, 0.01f, &rng, NULL);
    t0 = bench_now();
    seq_rec_als_fit(&mf, &d, &s, seq_rec_als_config_default(), 15);
    rc |= report("ALS", seq_rec_mf_score, &mf, &d, &s, bench_now() - t0);
    seq_rec_mf_free(&mf);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
    return rc;
}
