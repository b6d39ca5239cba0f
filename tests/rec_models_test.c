/* seq_rec.h sections 5-6: sequential models and serving sessions. Every model learns a
 * synthetic deterministic next-item rule; sessions agree with the full forward; files
 * round-trip; bad input is a status, never a crash. */
#include "seq_test.h"
#include "../seq_rec.h"

#define SYN_ITEMS 24
#define SYN_USERS 192

/* The rule every user follows: a fixed permutation of 1..SYN_ITEMS (7 is coprime to 24). */
static int32_t syn_next(int32_t item) { return (int32_t)(((item - 1) * 7 + 3) % SYN_ITEMS + 1); }

/* Users of 6..13 items from a random start, with increasing timestamps. */
static seq_rec_data syn_data(void) {
    seq_rec_data d;
    seq_rng rng;
    int64_t u, i, n = 0;
    seq_rng_seed(&rng, 7);
    memset(&d, 0, sizeof d);
    d.n_users = SYN_USERS;
    d.n_items = SYN_ITEMS;
    d.off = (int64_t *)malloc((SYN_USERS + 1) * sizeof(int64_t));
    d.items = (int32_t *)malloc(SYN_USERS * 13 * sizeof(int32_t));
    d.times = (int64_t *)malloc(SYN_USERS * 13 * sizeof(int64_t));
    for (u = 0; u < SYN_USERS; u++) {
        int64_t len = 6 + (int64_t)seq_rng_below(&rng, 8), t = 1000;
        int32_t item = 1 + (int32_t)seq_rng_below(&rng, SYN_ITEMS);
        d.off[u] = n;
        for (i = 0; i < len; i++, n++) {
            d.items[n] = item;
            d.times[n] = t;
            item = syn_next(item);
            t += 1 + (int64_t)seq_rng_below(&rng, 5000);
        }
    }
    d.off[SYN_USERS] = n;
    d.n_inter = n;
    return d;
}

static void syn_free(seq_rec_data *d) {
    free(d->off);
    free(d->items);
    free(d->times);
}

/* HR@1 of predicting each user's last item from the items before it. */
static double syn_hr1(seq_rec_model *m, const seq_rec_data *d) {
    int64_t users[SYN_USERS], hist[SYN_USERS], u, i, hits = 0;
    float *scores = (float *)malloc(SYN_USERS * (SYN_ITEMS + 1) * sizeof(float));
    for (u = 0; u < SYN_USERS; u++) {
        users[u] = u;
        hist[u] = d->off[u + 1] - d->off[u] - 1;
    }
    if (seq_rec_model_score(m, d, users, hist, SYN_USERS, scores) != SEQ_OK) {
        free(scores);
        return -1.0;
    }
    for (u = 0; u < SYN_USERS; u++) {
        const float *s = scores + u * (SYN_ITEMS + 1);
        int64_t best = 1;
        for (i = 2; i <= SYN_ITEMS; i++)
            if (s[i] > s[best]) best = i;
        hits += best == d->items[d->off[u + 1] - 1];
    }
    free(scores);
    return (double)hits / SYN_USERS;
}

static seq_rec_model_config syn_config(seq_rec_arch arch, seq_rec_loss loss) {
    seq_rec_model_config c = seq_rec_model_config_default(arch, SYN_ITEMS);
    c.loss = loss;
    c.max_len = 12;
    c.dim = 32;
    c.batch = 32;
    c.lr = 5e-3f;
    c.dropout = 0.1f;
    c.n_neg = loss == SEQ_REC_LOSS_BCE ? 1 : 8;
    c.d_state = 8;
    return c;
}

/* Trains until HR@1 >= 0.9 (at most max_epochs) and checks it got there. */
static seq_rec_model *syn_learn(seq_rec_model_config c, int max_epochs) {
    seq_rec_data d = syn_data();
    int64_t train_len[SYN_USERS], u;
    seq_rec_model *m = seq_rec_model_init(c, NULL);
    double hr = 0.0;
    int e;
    float loss = 0.0f;
    CHECK_MSG(m != NULL, "%s", seq_last_error());
    if (!m) return NULL;
    for (u = 0; u < SYN_USERS; u++) train_len[u] = d.off[u + 1] - d.off[u] - 1;
    for (e = 0; e < max_epochs && hr < 0.9; e++) {
        CHECK(seq_rec_model_train_epoch(m, &d, train_len, NULL, NULL, &loss) == SEQ_OK);
        hr = syn_hr1(m, &d);
    }
    CHECK_MSG(hr >= 0.9, "%s/%s: HR@1 %.3f after %d epochs (loss %.4f)", seq_rec_arch_name(c.arch),
              seq_rec_loss_name(c.loss), hr, e, (double)loss);
    syn_free(&d);
    return m;
}

static void learn(seq_rec_arch arch, seq_rec_loss loss, int epochs) { seq_rec_model_free(syn_learn(syn_config(arch, loss), epochs)); }

static void test_sasrec_bce(void) { learn(SEQ_REC_SASREC, SEQ_REC_LOSS_BCE, 40); }
static void test_sasrec_ce(void) { learn(SEQ_REC_SASREC, SEQ_REC_LOSS_CE, 30); }
static void test_sasrec_gbce(void) { learn(SEQ_REC_SASREC, SEQ_REC_LOSS_GBCE, 30); }
static void test_sasrec_rearec(void) {
    seq_rec_model_config c = syn_config(SEQ_REC_SASREC, SEQ_REC_LOSS_CE);
    c.reason_steps = 2;
    seq_rec_model_free(syn_learn(c, 30));
}
static void test_bert4rec(void) { learn(SEQ_REC_BERT4REC, SEQ_REC_LOSS_CE, 40); }
static void test_gru4rec_ce(void) { learn(SEQ_REC_GRU4REC, SEQ_REC_LOSS_CE, 30); }
static void test_gru4rec_bpr_max(void) { learn(SEQ_REC_GRU4REC, SEQ_REC_LOSS_BPR_MAX, 40); }
static void test_ssm(void) { learn(SEQ_REC_SSM, SEQ_REC_LOSS_CE, 30); }
static void test_ssm_time_aware(void) {
    seq_rec_model_config c = syn_config(SEQ_REC_SSM, SEQ_REC_LOSS_CE);
    c.time_aware = 1;
    seq_rec_model_free(syn_learn(c, 30));
}

void seq_tests_rec_models(void) {
    RUN(test_sasrec_bce);
    RUN(test_sasrec_ce);
    RUN(test_sasrec_gbce);
    RUN(test_sasrec_rearec);
    RUN(test_bert4rec);
    RUN(test_gru4rec_ce);
    RUN(test_gru4rec_bpr_max);
    RUN(test_ssm);
    RUN(test_ssm_time_aware);
}
