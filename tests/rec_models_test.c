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

/* Training on the synthetic data as section 2 feeds it: leave-one-out (the last item is
 * the test target), uniform negatives, the model's own batch layout. */
typedef struct {
    seq_rec_data d;
    seq_rec_split split;
    seq_rec_sampler neg;
    seq_rec_batcher it;
} syn_run;

static seq_status syn_open(syn_run *r, const seq_rec_model *m) {
    seq_status s;
    memset(r, 0, sizeof *r);
    r->d = syn_data();
    if ((s = seq_rec_split_leave_one_out(&r->split, &r->d, NULL)) != SEQ_OK) return s;
    if ((s = seq_rec_sampler_init(&r->neg, &r->d, &r->split, SEQ_REC_NEG_UNIFORM, 0, NULL)) != SEQ_OK) return s;
    return seq_rec_batcher_init(&r->it, &r->d, &r->split, &r->neg, seq_rec_model_batch_config(m), NULL);
}

static void syn_close(syn_run *r) {
    seq_rec_batcher_free(&r->it);
    seq_rec_sampler_free(&r->neg);
    seq_rec_split_free(&r->split);
    syn_free(&r->d);
}

/* HR@1 (full ranking, seen masked: the sampled losses never push a user's own items
 * down) of each user's last item after the items before it. */
static double syn_hr1(seq_rec_model *m, const syn_run *r) {
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rec_metrics out;
    c.n_k = 1;
    c.k[0] = 1;
    if (seq_rec_evaluate(&r->d, &r->split, seq_rec_model_score, m, &c, NULL, &out) != SEQ_OK) return -1.0;
    return out.hr[0];
}

static seq_rec_model_config syn_config(seq_rec_arch arch, seq_rec_loss loss) {
    seq_rec_model_config c = seq_rec_model_config_default(arch, SYN_ITEMS);
    c.loss = loss;
    c.max_len = 8;
    c.dim = 32;
    c.n_layers = 1;
    c.batch = 32;
    c.lr = 1e-2f;
    c.dropout = 0.1f;
    c.n_neg = loss == SEQ_REC_LOSS_BCE ? 1 : 8;
    c.d_state = 8;
    return c;
}

/* Trains until HR@1 >= 0.9 (at most max_epochs) and checks it got there. */
static seq_rec_model *syn_learn(seq_rec_model_config c, int max_epochs) {
    syn_run r;
    seq_rec_model *m = seq_rec_model_init(c, NULL);
    double hr = 0.0;
    int e;
    float loss = 0.0f;
    CHECK_MSG(m != NULL, "%s", seq_last_error());
    if (!m) return NULL;
    CHECK(syn_open(&r, m) == SEQ_OK);
    for (e = 0; e < max_epochs && hr < 0.9; e++) {
        CHECK(seq_rec_model_train_epoch(m, &r.it, NULL, NULL, &loss) == SEQ_OK);
        hr = syn_hr1(m, &r);
    }
    CHECK_MSG(hr >= 0.9, "%s/%s: HR@1 %.3f after %d epochs (loss %.4f)", seq_rec_arch_name(c.arch),
              seq_rec_loss_name(c.loss), hr, e, (double)loss);
    syn_close(&r);
    return m;
}

static void learn(seq_rec_arch arch, seq_rec_loss loss, int epochs) { seq_rec_model_free(syn_learn(syn_config(arch, loss), epochs)); }

static void test_sasrec_bce(void) { learn(SEQ_REC_SASREC, SEQ_REC_LOSS_BCE, 40); }
static void test_sasrec_ce(void) { learn(SEQ_REC_SASREC, SEQ_REC_LOSS_CE, 30); }
static void test_sasrec_gbce(void) {
    seq_rec_model_config c = syn_config(SEQ_REC_SASREC, SEQ_REC_LOSS_GBCE);
    c.n_neg = 4; /* of 23 candidates: sampled, not nearly the whole catalog */
    seq_rec_model_free(syn_learn(c, 40));
}
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

/* A small untrained model of each kind on the synthetic catalog. */
static seq_rec_model *small_model(seq_rec_arch arch, int time_aware) {
    seq_rec_model_config c = syn_config(arch, SEQ_REC_LOSS_CE);
    c.time_aware = time_aware;
    c.n_layers = 2;
    return seq_rec_model_init(c, NULL);
}

/* Pushing a user's items one by one gives the full forward's representation and scores. */
static void check_session_matches_forward(seq_rec_arch arch, int time_aware) {
    seq_rec_data d = syn_data();
    seq_rec_model *m = small_model(arch, time_aware);
    seq_rec_session *s = m ? seq_rec_session_new(m, NULL) : NULL;
    float full[SYN_ITEMS + 1], got[10];
    int32_t ids[10];
    int64_t u = 3, len = d.off[u + 1] - d.off[u], n_found = 0, i;
    /* the full forward sees the last max_len items; a recurrent session carries them all */
    if (len > m->cfg.max_len) len = m->cfg.max_len;
    CHECK(s != NULL);
    if (!s) {
        seq_rec_model_free(m);
        syn_free(&d);
        return;
    }
    for (i = 0; i < len; i++) CHECK(seq_rec_session_push(s, d.items[d.off[u] + i], d.times[d.off[u] + i]) == SEQ_OK);
    CHECK(seq_rec_model_score(m, &d, &u, &len, 1, full) == SEQ_OK);
    CHECK(seq_rec_session_topk(s, 10, 0, NULL, 0, ids, got, &n_found) == SEQ_OK);
    CHECK(n_found == 10);
    for (i = 0; i < n_found; i++) {
        CHECK_NEAR(got[i], full[ids[i]], 1e-4);
        if (i > 0) CHECK(got[i] <= got[i - 1]);
    }
    for (i = 1; i <= SYN_ITEMS; i++) CHECK(full[i] <= got[0] + 1e-4f); /* nothing beats the first */
    seq_rec_session_free(s);
    seq_rec_model_free(m);
    syn_free(&d);
}

static void test_session_sasrec(void) { check_session_matches_forward(SEQ_REC_SASREC, 0); }
static void test_session_bert4rec(void) { check_session_matches_forward(SEQ_REC_BERT4REC, 0); }
static void test_session_gru4rec(void) { check_session_matches_forward(SEQ_REC_GRU4REC, 0); }
static void test_session_ssm(void) { check_session_matches_forward(SEQ_REC_SSM, 0); }
static void test_session_ssm_time_aware(void) { check_session_matches_forward(SEQ_REC_SSM, 1); }

/* A batch of histories of every length (so of every width group) represents each row as
 * that row alone does, in the caller's order. */
static void check_batch_matches_rows(seq_rec_arch arch, int64_t reason_steps) {
    seq_rec_model_config c = syn_config(arch, SEQ_REC_LOSS_CE);
    seq_rec_model *m;
    c.n_layers = 2;
    c.reason_steps = reason_steps;
    m = seq_rec_model_init(c, NULL);
    int32_t ids[9 * 8];
    float all[9 * 32], one[32];
    int64_t r, t;
    CHECK(m != NULL && m->cfg.max_len == 8 && m->cfg.dim == 32);
    if (!m) return;
    for (r = 0; r < 9; r++) /* row r holds (r * 5) % 9 items: lengths 0..8 shuffled */
        for (t = 0; t < 8; t++) ids[r * 8 + t] = t >= 8 - (r * 5) % 9 ? (int32_t)(1 + (r * 7 + t) % SYN_ITEMS) : 0;
    CHECK(seq_rec_model_represent(m, ids, NULL, 9, all) == SEQ_OK);
    for (r = 0; r < 9; r++) {
        CHECK(seq_rec_model_represent(m, ids + r * 8, NULL, 1, one) == SEQ_OK);
        for (t = 0; t < 32; t++) CHECK_NEAR(all[r * 32 + t], one[t], 1e-5);
    }
    seq_rec_model_free(m);
}

static void test_batch_sasrec(void) {
    check_batch_matches_rows(SEQ_REC_SASREC, 0);
    check_batch_matches_rows(SEQ_REC_SASREC, 2); /* ReaRec */
}
static void test_batch_bert4rec(void) { check_batch_matches_rows(SEQ_REC_BERT4REC, 0); }
static void test_batch_gru4rec(void) { check_batch_matches_rows(SEQ_REC_GRU4REC, 0); }
static void test_batch_ssm(void) { check_batch_matches_rows(SEQ_REC_SSM, 0); }

/* Exclusions, k beyond the candidates, ties, bad ids; reset forgets the history. */
static void test_session_topk(void) {
    seq_rec_model *m = small_model(SEQ_REC_GRU4REC, 0);
    seq_rec_session *s = m ? seq_rec_session_new(m, NULL) : NULL;
    int32_t ids[SYN_ITEMS + 5], excl[2] = {5, 6}, bad_excl = SYN_ITEMS + 1;
    float sc[SYN_ITEMS + 5];
    int64_t n = -1, i;
    CHECK(s != NULL);
    if (!s) {
        seq_rec_model_free(m);
        return;
    }
    CHECK(seq_rec_session_push(s, 3, 0) == SEQ_OK);
    CHECK(seq_rec_session_push(s, 4, 1) == SEQ_OK);
    CHECK(seq_rec_session_push(s, 0, 2) == SEQ_ERR_RANGE);
    CHECK(seq_rec_session_push(s, SYN_ITEMS + 1, 2) == SEQ_ERR_RANGE);
    CHECK(strstr(seq_last_error(), "seq_rec_session_push") != NULL);
    CHECK(s->count == 2);
    CHECK(seq_rec_session_topk(s, SYN_ITEMS + 5, 1, excl, 2, ids, sc, &n) == SEQ_OK);
    CHECK(n == SYN_ITEMS - 4); /* all but 3, 4 (seen), 5, 6 (excluded) */
    for (i = 0; i < n; i++) {
        CHECK(ids[i] >= 1 && ids[i] <= SYN_ITEMS && ids[i] != 3 && ids[i] != 4 && ids[i] != 5 && ids[i] != 6);
        if (i > 0) CHECK(sc[i] < sc[i - 1] || (sc[i] == sc[i - 1] && ids[i] > ids[i - 1]));
    }
    CHECK(seq_rec_session_topk(s, 3, 0, &bad_excl, 1, ids, sc, &n) == SEQ_ERR_RANGE);
    CHECK(seq_rec_session_topk(s, -1, 0, NULL, 0, ids, sc, &n) == SEQ_ERR_INVALID);
    CHECK(seq_rec_session_topk(s, 0, 0, NULL, 0, NULL, NULL, &n) == SEQ_OK && n == 0);
    seq_rec_session_reset(s);
    CHECK(s->count == 0);
    CHECK(seq_rec_session_topk(s, SYN_ITEMS, 1, NULL, 0, ids, NULL, &n) == SEQ_OK && n == SYN_ITEMS);
    seq_rec_session_free(s);
    seq_rec_model_free(m);
}

/* save -> load gives the same config and the same scores. */
static void test_save_load(void) {
    static const char path[] = "build/rec_model_test.safetensors";
    seq_rec_model_config c = syn_config(SEQ_REC_SSM, SEQ_REC_LOSS_GBCE);
    seq_rec_model *m, *r;
    syn_run run;
    seq_rec_data d;
    float a[SYN_ITEMS + 1], b[SYN_ITEMS + 1];
    int64_t u = 5, len = 4, i;
    FILE *f;
    c.time_aware = 1;
    c.gbce_t = 0.5f;
    m = seq_rec_model_init(c, NULL);
    CHECK(m && syn_open(&run, m) == SEQ_OK);
    CHECK(m && seq_rec_model_train_epoch(m, &run.it, NULL, NULL, NULL) == SEQ_OK);
    d = run.d;
    CHECK(m && seq_rec_model_save(m, path) == SEQ_OK);
    r = seq_rec_model_load(path, NULL);
    CHECK_MSG(r != NULL, "%s", seq_last_error());
    if (m && r) {
        CHECK(r->cfg.arch == SEQ_REC_SSM && r->cfg.loss == SEQ_REC_LOSS_GBCE && r->cfg.time_aware == 1);
        CHECK(r->cfg.gbce_t == 0.5f && r->cfg.dim == c.dim && r->cfg.max_len == c.max_len);
        CHECK(seq_rec_model_score(m, &d, &u, &len, 1, a) == SEQ_OK);
        CHECK(seq_rec_model_score(r, &d, &u, &len, 1, b) == SEQ_OK);
        for (i = 1; i <= SYN_ITEMS; i++) CHECK(a[i] == b[i]);
    }
    seq_rec_model_free(r);
    /* a file cut short, and one that is not safetensors: NULL with a message */
    f = fopen(path, "wb");
    if (f) {
        fputs("not a model", f);
        fclose(f);
    }
    CHECK(seq_rec_model_load(path, NULL) == NULL && seq_last_status() == SEQ_ERR_FORMAT);
    CHECK(seq_rec_model_load("build/no_such_model.safetensors", NULL) == NULL);
    remove(path);
    seq_rec_model_free(m);
    syn_close(&run);
}

/* After each step of test_skipped_batch's epoch: the first poisons item 1's embedding
 * with a NaN (so the next batch's gradient is NaN and its step is refused), the second
 * puts the weight back. The running means the callback sees are kept. */
typedef struct {
    seq_rec_model *m;
    int calls;
    float saved, mean[16];
} poison_run;

static void poison_progress(void *ud, int64_t done, int64_t total, float loss) {
    poison_run *p = (poison_run *)ud;
    float *w = p->m->item_emb->data + p->m->cfg.dim; /* item 1 */
    (void)done;
    (void)total;
    if (p->calls < 16) p->mean[p->calls] = loss;
    if (p->calls == 0) {
        p->saved = w[0];
        w[0] = NAN;
    } else if (p->calls == 1) {
        w[0] = p->saved;
    }
    p->calls++;
}

/* A batch whose gradient is not finite is skipped and stays out of the epoch's mean (a
 * NaN loss once made the mean NaN); an epoch where every batch is skipped is
 * SEQ_ERR_NUMERIC and changes nothing. */
static void test_skipped_batch(void) {
    seq_rec_model *m = seq_rec_model_init(syn_config(SEQ_REC_SASREC, SEQ_REC_LOSS_CE), NULL);
    poison_run p;
    syn_run r;
    float mean = -1.0f, *before;
    int i, finite = 1;
    CHECK(m && syn_open(&r, m) == SEQ_OK);
    if (!m) return;
    memset(&p, 0, sizeof p);
    p.m = m;
    CHECK(seq_rec_model_train_epoch(m, &r.it, poison_progress, &p, &mean) == SEQ_OK);
    for (i = 0; i < p.calls && i < 16; i++) finite &= isfinite(p.mean[i]);
    CHECK_MSG(p.calls >= 3 && finite && isfinite(mean), "%d steps, mean %g", p.calls, (double)mean);
    CHECK(p.mean[1] == p.mean[0]); /* the skipped batch left the running mean alone */
    /* every batch poisoned: nothing trains */
    before = (float *)malloc((size_t)m->P->numel * sizeof(float));
    if (before) memcpy(before, m->P->data, (size_t)m->P->numel * sizeof(float));
    m->item_emb->data[m->cfg.dim] = NAN;
    CHECK(seq_rec_model_train_epoch(m, &r.it, NULL, NULL, &mean) == SEQ_ERR_NUMERIC && mean == 0.0f);
    CHECK(strstr(seq_last_error(), "seq_rec_model_train_epoch") != NULL);
    m->item_emb->data[m->cfg.dim] = before ? before[m->cfg.dim] : 0.0f;
    CHECK(before && memcmp(before, m->P->data, (size_t)m->P->numel * sizeof(float)) == 0);
    free(before);
    seq_rec_model_free(m);
    syn_close(&r);
}

/* path with the value of metadata key replaced by value (the header length follows). */
static int rewrite_meta(const char *path, const char *key, const char *value) {
    FILE *f = fopen(path, "rb");
    char pat[64], *buf = NULL, *out = NULL, *at = NULL, *end = NULL;
    long len = 0;
    uint64_t n = 0, n2;
    int i, ok = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 8 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = (char *)malloc((size_t)len + 1)) != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len) {
        for (i = 0; i < 8; i++) n |= (uint64_t)(unsigned char)buf[i] << (8 * i);
        buf[len] = 0;
        snprintf(pat, sizeof pat, "\"%s\":\"", key);
        at = n <= (uint64_t)len - 8 ? strstr(buf + 8, pat) : NULL;
        end = at ? strchr(at + strlen(pat), '"') : NULL;
        ok = end && end < buf + 8 + n && (out = (char *)malloc((size_t)len + strlen(value) + 1)) != NULL;
    }
    if (f) fclose(f);
    if (ok) {
        size_t head = (size_t)(at + strlen(pat) - buf), tail = (size_t)(buf + len - end);
        n2 = n - (uint64_t)(end - (at + strlen(pat))) + strlen(value);
        memcpy(out, buf, head);
        memcpy(out + head, value, strlen(value));
        memcpy(out + head + strlen(value), end, tail);
        for (i = 0; i < 8; i++) out[i] = (char)(n2 >> (8 * i));
        f = fopen(path, "wb");
        ok = f && fwrite(out, 1, head + strlen(value) + tail, f) == head + strlen(value) + tail;
        if (f) fclose(f);
    }
    free(buf);
    free(out);
    return ok;
}

/* A file whose metadata asks for another model than its tensors hold (a catalog of 2^31
 * items, a width of 2^24, a longer window, more blocks) or for sizes no batch can index:
 * SEQ_ERR_FORMAT before anything sized by the metadata is allocated (a 2^55-float
 * buffer would fail as SEQ_ERR_NOMEM, or abort under ASan), at every allocation failure
 * too, and nothing leaks. */
static void test_load_hostile_metadata(void) {
    static const char path[] = "build/rec_hostile_test.safetensors";
    static const char *const edits[][2] = {{"n_items", "2147483645"}, {"dim", "16777216"}, {"max_len", "1000000000"},
                                           {"n_layers", "3"}, {"batch", "1000000000"}, {"max_len", "-5"}};
    long live = seq_test_live_blocks, k;
    seq_rec_model *m = small_model(SEQ_REC_SASREC, 0), *r;
    int e, formats = 0;
    CHECK(m != NULL);
    if (!m) return;
    for (e = 0; e < (int)(sizeof edits / sizeof edits[0]); e++) {
        CHECK(seq_rec_model_save(m, path) == SEQ_OK && rewrite_meta(path, edits[e][0], edits[e][1]));
        r = seq_rec_model_load(path, NULL);
        CHECK_MSG(r == NULL && seq_last_status() == SEQ_ERR_FORMAT, "%s = %s: %s", edits[e][0], edits[e][1],
                  seq_last_error());
        CHECK(strstr(seq_last_error(), "seq_rec_model_load") != NULL);
        seq_rec_model_free(r);
    }
    /* the huge catalog again, with each allocation failing in turn */
    CHECK(seq_rec_model_save(m, path) == SEQ_OK && rewrite_meta(path, "n_items", "2147483645"));
    for (k = 0; k < 200 && !formats; k++) {
        seq_test_fail_after(k);
        r = seq_rec_model_load(path, NULL);
        seq_test_fail_never();
        CHECK(r == NULL && (seq_last_status() == SEQ_ERR_NOMEM || seq_last_status() == SEQ_ERR_FORMAT));
        formats = seq_last_status() == SEQ_ERR_FORMAT && seq_test_alloc_count <= k;
    }
    CHECK(formats);
    remove(path);
    seq_rec_model_free(m);
    CHECK(seq_test_live_blocks == live);
}

/* Batches a model cannot train on, out-of-range ids, users, lengths and configs:
 * statuses naming the function. */
static void test_bad_input(void) {
    seq_rec_model *m = small_model(SEQ_REC_SASREC, 0);
    seq_rec_model_config c = syn_config(SEQ_REC_SASREC, SEQ_REC_LOSS_BCE);
    seq_rec_batch_config bc;
    seq_rec_batch *b;
    syn_run r;
    int32_t ids[16];
    int64_t u = SYN_USERS, len = 2;
    float scores[SYN_ITEMS + 1], rep[32];
    seq_ctx *ctx = seq_ctx_init(NULL);
    CHECK(m && ctx && syn_open(&r, m) == SEQ_OK);
    if (!m || !ctx) return;
    CHECK(seq_rec_batcher_next(&r.it, &m->rng) == SEQ_OK && r.it.batch.n == 0); /* nothing before the start */
    seq_rec_batcher_start(&r.it, &m->rng);
    CHECK(seq_rec_batcher_next(&r.it, &m->rng) == SEQ_OK && r.it.batch.n > 0);
    b = &r.it.batch;
    CHECK(seq_rec_model_loss(m, ctx, b) != NULL && seq_ctx_status(ctx) == SEQ_OK);
    seq_ctx_reset(ctx);
    b->inputs[b->L - 1] = SYN_ITEMS + 1; /* the mask token is no input */
    CHECK(seq_rec_model_loss(m, ctx, b) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_ctx_error(ctx), "seq_rec_model_loss") && strstr(seq_ctx_error(ctx), "outside"));
    seq_ctx_reset(ctx);
    b->inputs[b->L - 1] = 0; /* a target without an input: not a NEXT_ITEM row */
    CHECK(seq_rec_model_loss(m, ctx, b) == NULL && strstr(seq_ctx_error(ctx), "NEXT_ITEM"));
    seq_ctx_reset(ctx);
    b->L--; /* another max_len */
    CHECK(seq_rec_model_loss(m, ctx, b) == NULL && strstr(seq_ctx_error(ctx), "max_len"));
    b->L++;
    syn_close(&r);
    /* a sampled loss on a batcher without negatives */
    seq_rec_model_free(m);
    m = seq_rec_model_init(c, NULL);
    CHECK(m && syn_open(&r, m) == SEQ_OK);
    if (!m) return;
    seq_rec_batcher_free(&r.it);
    bc = seq_rec_model_batch_config(m);
    CHECK(bc.n_neg == 1 && bc.mode == SEQ_REC_BATCH_NEXT_ITEM && bc.max_len == c.max_len);
    bc.n_neg = 0;
    CHECK(seq_rec_batcher_init(&r.it, &r.d, &r.split, NULL, bc, NULL) == SEQ_OK);
    CHECK(seq_rec_model_train_epoch(m, &r.it, NULL, NULL, NULL) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "negatives") != NULL);
    CHECK(seq_rec_model_train_epoch(m, NULL, NULL, NULL, NULL) == SEQ_ERR_INVALID);
    memset(ids, 0, sizeof ids);
    ids[3] = -1;
    CHECK(seq_rec_model_represent(m, ids, NULL, 1, rep) == SEQ_ERR_RANGE);
    CHECK(seq_rec_model_score(m, &r.d, &u, &len, 1, scores) == SEQ_ERR_RANGE);
    u = 0;
    len = 99;
    CHECK(seq_rec_model_score(m, &r.d, &u, &len, 1, scores) == SEQ_ERR_RANGE);
    CHECK(strstr(seq_last_error(), "hist_len") != NULL);
    r.d.n_items = SYN_ITEMS + 1; /* data beyond the model's catalog */
    CHECK(seq_rec_model_train_epoch(m, &r.it, NULL, NULL, NULL) == SEQ_ERR_RANGE);
    r.d.n_items = SYN_ITEMS;
    c.n_heads = 5; /* does not divide dim */
    CHECK(seq_rec_model_init(c, NULL) == NULL && seq_last_status() == SEQ_ERR_INVALID);
    c = syn_config(SEQ_REC_GRU4REC, SEQ_REC_LOSS_CE);
    c.reason_steps = 2; /* ReaRec is SASRec's */
    CHECK(seq_rec_model_init(c, NULL) == NULL);
    c = syn_config(SEQ_REC_SASREC, SEQ_REC_LOSS_BCE);
    c.dropout = NAN;
    CHECK(seq_rec_model_init(c, NULL) == NULL);
    c = syn_config(SEQ_REC_SSM, SEQ_REC_LOSS_CE);
    c.time_aware = 1;
    seq_rec_model_free(m);
    m = seq_rec_model_init(c, NULL);
    syn_close(&r);
    CHECK(m && syn_open(&r, m) == SEQ_OK);
    free(r.d.times); /* a time-aware model on data without timestamps */
    r.d.times = NULL;
    CHECK(m && seq_rec_model_train_epoch(m, &r.it, NULL, NULL, NULL) == SEQ_ERR_INVALID);
    seq_rec_model_free(m);
    seq_ctx_free(ctx);
    syn_close(&r);
}

/* Every allocation of init, the batcher, a training epoch and a session may fail: a
 * status, no leak. */
static void test_out_of_memory(void) {
    long k, live = seq_test_live_blocks;
    int arch;
    for (arch = 0; arch < SEQ_REC_ARCH_COUNT; arch++) {
        int done = 0;
        for (k = 0; k < 400 && !done; k++) {
            seq_rec_model *m;
            seq_rec_session *s = NULL;
            seq_status st = SEQ_ERR_NOMEM;
            syn_run r;
            memset(&r, 0, sizeof r);
            seq_test_fail_after(k);
            m = small_model((seq_rec_arch)arch, 0);
            if (m) st = syn_open(&r, m);
            if (m && st == SEQ_OK) st = seq_rec_model_train_epoch(m, &r.it, NULL, NULL, NULL);
            if (m && st == SEQ_OK) s = seq_rec_session_new(m, NULL);
            if (s) st = seq_rec_session_push(s, 1, 0);
            seq_test_fail_never();
            CHECK(m || seq_last_status() == SEQ_ERR_NOMEM);
            done = s && st == SEQ_OK;
            seq_rec_session_free(s);
            seq_rec_model_free(m);
            syn_close(&r);
            CHECK(seq_test_live_blocks == live);
        }
        CHECK_MSG(done, "%s never got through", seq_rec_arch_name((seq_rec_arch)arch));
    }
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
    RUN(test_session_sasrec);
    RUN(test_session_bert4rec);
    RUN(test_session_gru4rec);
    RUN(test_session_ssm);
    RUN(test_session_ssm_time_aware);
    RUN(test_batch_sasrec);
    RUN(test_batch_bert4rec);
    RUN(test_batch_gru4rec);
    RUN(test_batch_ssm);
    RUN(test_session_topk);
    RUN(test_save_load);
    RUN(test_load_hostile_metadata);
    RUN(test_skipped_batch);
    RUN(test_bad_input);
    RUN(test_out_of_memory);
}
