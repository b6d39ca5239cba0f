/* Train SASRec on a sequential-recommendation file, report leave-one-out metrics beside
 * PopRec's, then serve users from a streaming session.
 *     ./build/recommend [FILE] [--format user-seq|user-item] [--epochs N] [--serve] [--quiet]
 * FILE: "user item item ..." per line (S3Rec) or "user item" lines (SASRec), each user's
 * events in time order; default beauty_s3rec.txt from $SEQ_DATA_DIR or ../shared/data.
 * The model is SASRec+ (full-softmax CE), which gets useful in a few epochs: the default
 * 2 keep the whole run near a minute on one core.
 * Serving: with --serve, or when stdin is a terminal, each line of item ids read from
 * stdin is pushed into a session and the top 5 unseen items come back (an empty line
 * starts a new user); otherwise a few test users are replayed.
 * --quiet prints only the metrics and exits 0 when NDCG@10 beats PopRec's. */
#define _POSIX_C_SOURCE 200809L /* isatty, clock_gettime under -std=c99 */
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"

#include <time.h>
#include <unistd.h>

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

static int fail(const char *what) {
    fprintf(stderr, "recommend: %s: %s\n", what, seq_last_error());
    return 1;
}

/* Test metrics (full ranking, seen masked) of any scorer. */
static seq_status test_metrics(const seq_rec_data *d, const seq_rec_split *s, seq_rec_score_fn fn, void *model,
                               seq_rec_metrics *out) {
    return seq_rec_evaluate(d, s, fn, model, NULL, NULL, out);
}

/* The top 5 unseen items of the session, by their names in the file. */
static void show_top5(seq_rec_session *s, const seq_rec_data *d, int32_t actual) {
    int32_t ids[5];
    float sc[5];
    int64_t n = 0, j;
    if (seq_rec_session_topk(s, 5, 1, NULL, 0, ids, sc, &n) != SEQ_OK) {
        fail("topk");
        return;
    }
    printf("  top 5:");
    for (j = 0; j < n; j++)
        printf(" %s%s (%.2f)", seq_rec_item_name(d, ids[j]), ids[j] == actual ? "*" : "", (double)sc[j]);
    if (actual) printf("   actual next: %s", seq_rec_item_name(d, actual));
    printf("\n");
}

/* Replays the histories of a few test users and recommends their next item. */
static void demo_sessions(seq_rec_session *s, const seq_rec_data *d, const seq_rec_split *split) {
    int64_t u, shown = 0, j;
    for (u = 0; u < d->n_users && shown < 3; u += 997) {
        int64_t h = split->hist_len[SEQ_REC_TEST][u];
        if (!split->n_targets[SEQ_REC_TEST][u]) continue;
        seq_rec_session_reset(s);
        printf("user %s, %lld events:", seq_rec_user_name(d, u), (long long)h);
        for (j = 0; j < h; j++) {
            seq_rec_session_push(s, d->items[d->off[u] + j], j);
            if (j >= h - 8) printf(" %s", seq_rec_item_name(d, d->items[d->off[u] + j]));
        }
        printf("\n");
        show_top5(s, d, d->items[d->off[u] + h]);
        shown++;
    }
}

/* Item ids from stdin, a line at a time; an empty line is a new user. */
static void serve_stdin(seq_rec_session *s, const seq_rec_data *d) {
    char line[4096];
    int64_t t = 0;
    printf("serving: type item ids (as in the file) separated by spaces; an empty line starts a new user\n> ");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        char *tok = strtok(line, " \t\r\n");
        if (!tok) {
            seq_rec_session_reset(s);
            printf("(new user)\n> ");
            fflush(stdout);
            continue;
        }
        for (; tok; tok = strtok(NULL, " \t\r\n")) {
            int32_t item = seq_rec_item_index(d, tok);
            if (item == 0) printf("  unknown item %s\n", tok);
            else seq_rec_session_push(s, item, t++);
        }
        if (s->count > 0) show_top5(s, d, 0);
        printf("> ");
        fflush(stdout);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    char buf[1024];
    const char *path = NULL;
    int quiet = 0, serve = 0, epochs = 2, e, i;
    seq_rec_format fmt = SEQ_REC_FMT_USER_SEQ;
    int fmt_given = 0;
    seq_rec_data d;
    seq_rec_split split;
    seq_rec_sampler neg;
    seq_rec_batcher it;
    seq_rec_poprec pop;
    seq_rec_model_config c;
    seq_rec_model *m;
    seq_rec_session *s;
    seq_rec_metrics test, base;
    static char text[4096];
    double t0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[i], "--serve") == 0) serve = 1;
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            fmt_given = 1;
            fmt = strcmp(argv[++i], "user-item") == 0 ? SEQ_REC_FMT_USER_ITEM : SEQ_REC_FMT_USER_SEQ;
        } else path = argv[i];
    }
    if (!path && !(path = seq_rec_find_data("beauty_s3rec.txt", buf, sizeof buf))) {
        printf("recommend: no data file given and no beauty_s3rec.txt in $SEQ_DATA_DIR or ../shared/data\n");
        return quiet; /* nothing to check without data */
    }
    /* a "user item" file read as one user per line repeats users: try that layout next */
    if (seq_rec_load(&d, path, fmt, NULL, NULL) != SEQ_OK &&
        (fmt_given || seq_rec_load(&d, path, SEQ_REC_FMT_USER_ITEM, NULL, NULL) != SEQ_OK))
        return fail(path);
    if (seq_rec_split_leave_one_out(&split, &d, NULL) != SEQ_OK) return fail("split");
    if (!quiet)
        printf("%s: %lld users, %lld items, %lld interactions\n", path, (long long)d.n_users, (long long)d.n_items,
               (long long)d.n_inter);
    c = seq_rec_model_config_default(SEQ_REC_SASREC, d.n_items);
    c.loss = SEQ_REC_LOSS_CE;
    c.dropout = 0.5f; /* sparse Amazon data, as the SASRec paper */
    if (!(m = seq_rec_model_init(c, NULL))) return fail("model");
    if (seq_rec_sampler_init(&neg, &d, &split, SEQ_REC_NEG_UNIFORM, 0, NULL) != SEQ_OK ||
        seq_rec_batcher_init(&it, &d, &split, &neg, seq_rec_model_batch_config(m), NULL) != SEQ_OK)
        return fail("batcher");
    if (!quiet) printf("training SASRec+ (full-softmax CE), d=%lld, 2 blocks, L=50:\n", (long long)c.dim);
    t0 = now();
    for (e = 1; e <= epochs; e++) {
        float loss;
        if (seq_rec_model_train_epoch(m, &it, quiet ? NULL : bar, &e, &loss) != SEQ_OK) return fail("train");
        if (!quiet) printf("\n");
    }
    if (test_metrics(&d, &split, seq_rec_model_score, m, &test) != SEQ_OK) return fail("evaluate");
    if (seq_rec_poprec_init(&pop, d.n_items, NULL) != SEQ_OK || seq_rec_poprec_fit(&pop, &d, &split) != SEQ_OK ||
        test_metrics(&d, &split, seq_rec_poprec_score, &pop, &base) != SEQ_OK)
        return fail("PopRec");
    seq_rec_poprec_free(&pop);
    printf("SASRec+ after %d epochs (%.0f s), leave-one-out test, %lld users:\n", epochs, now() - t0,
           (long long)test.n_users);
    seq_rec_metrics_format(&test, text, sizeof text);
    printf("%s", text);
    seq_rec_metrics_format(&base, text, sizeof text);
    printf("PopRec (training interactions):\n%s", text);
    if (!quiet) {
        if (!(s = seq_rec_session_new(m, NULL))) return fail("session");
        if (serve || isatty(0)) serve_stdin(s, &d);
        else demo_sessions(s, &d, &split);
        seq_rec_session_free(s);
    }
    seq_rec_batcher_free(&it);
    seq_rec_sampler_free(&neg);
    seq_rec_model_free(m);
    seq_rec_split_free(&split);
    seq_rec_data_free(&d);
    return quiet && !(test.ndcg[1] > base.ndcg[1]); /* --quiet: the result must beat PopRec */
}
