/* seq_rec.h sections 1-3: loaders, id maps, k-core, splits, negative samplers, batches,
 * the evaluator and its metrics. Files are written under build/ (each worktree's own). */
#include "seq_test.h"
#include "../seq_rec.h"

#define TMP "build/rec_data_test.tmp"

static const char *beauty_path(void) {
    static char path[1024];
    return seq_rec_find_data("beauty_s3rec.txt", path, sizeof(path));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Loads text as a file of format fmt. */
static seq_status load_text(seq_rec_data *d, const char *text, seq_rec_format fmt, const seq_rec_load_options *o) {
    write_file(TMP, text);
    return seq_rec_load(d, TMP, fmt, o, NULL);
}

/* User u's sequence as original item names joined by spaces. */
static const char *seq_names(const seq_rec_data *d, int64_t u, char *buf) {
    int64_t i;
    buf[0] = '\0';
    for (i = d->off[u]; i < d->off[u + 1]; i++) {
        if (i > d->off[u]) strcat(buf, " ");
        strcat(buf, seq_rec_item_name(d, d->items[i]));
    }
    return buf;
}

static void test_load_user_seq(void) {
    seq_rec_data d;
    char buf[256];
    long live = seq_test_live_blocks;
    CHECK(load_text(&d, "3 10 2\n1 2 2 7\r\n\n2 10\n", SEQ_REC_FMT_USER_SEQ, NULL) == SEQ_OK);
    CHECK(d.n_users == 3 && d.n_items == 3 && d.n_inter == 6 && d.times == NULL);
    /* numeric ids sort numerically: users 1,2,3 -> 0,1,2; items 2,7,10 -> 1,2,3 */
    CHECK(d.numeric_user_ids && d.numeric_item_ids);
    CHECK(d.off[0] == 0 && d.off[1] == 3 && d.off[2] == 4 && d.off[3] == 6);
    CHECK(d.items[0] == 1 && d.items[1] == 1 && d.items[2] == 2 && d.items[3] == 3 && d.items[4] == 3 && d.items[5] == 1);
    CHECK(strcmp(seq_names(&d, 2, buf), "10 2") == 0);
    CHECK(strcmp(seq_rec_user_name(&d, 0), "1") == 0 && strcmp(seq_rec_item_name(&d, 3), "10") == 0);
    CHECK(seq_rec_user_index(&d, "3") == 2 && seq_rec_user_index(&d, "4") == -1 && seq_rec_user_index(&d, "x") == -1);
    CHECK(seq_rec_item_index(&d, "7") == 2 && seq_rec_item_index(&d, "8") == 0);
    CHECK(seq_rec_item_name(&d, 0) == NULL && seq_rec_item_name(&d, 4) == NULL && seq_rec_user_name(&d, 3) == NULL);
    seq_rec_data_free(&d);
    CHECK(seq_test_live_blocks == live);
}

static void test_load_user_item_strings(void) {
    seq_rec_data d;
    char buf[256];
    /* token ids sort by bytes; each user's lines keep file order */
    CHECK(load_text(&d, "bob  pen\nann\tcup\nbob cup\n10 pen\nann pen\n", SEQ_REC_FMT_USER_ITEM, NULL) == SEQ_OK);
    CHECK(d.n_users == 3 && d.n_items == 2 && !d.numeric_user_ids);
    CHECK(strcmp(seq_rec_user_name(&d, 0), "10") == 0 && strcmp(seq_rec_user_name(&d, 1), "ann") == 0);
    CHECK(strcmp(seq_names(&d, 1, buf), "cup pen") == 0);
    CHECK(strcmp(seq_names(&d, 2, buf), "pen cup") == 0);
    CHECK(seq_rec_user_index(&d, "bob") == 2 && seq_rec_item_index(&d, "pen") == 2);
    seq_rec_data_free(&d);
}

/* Ids of 19 digits and more are tokens, not integers: reading them as integers overflowed
 * int64 (found by tests/fuzz/fuzz_rec_data.c; the input is in tests/fuzz/crashes/). */
static void test_load_long_numeric_ids(void) {
    seq_rec_data d;
    CHECK(load_text(&d, "2 277777777777777777777777777777\n2 9223372036854775808\n1 123456789012345678\n",
                    SEQ_REC_FMT_USER_ITEM, NULL) == SEQ_OK);
    CHECK(d.n_users == 2 && d.n_items == 3 && d.numeric_user_ids && !d.numeric_item_ids);
    CHECK(seq_rec_item_index(&d, "277777777777777777777777777777") > 0 &&
          seq_rec_item_index(&d, "9223372036854775808") > 0);
    seq_rec_data_free(&d);
}

/* A header of more than 64 columns is refused before any column lookup: the lookups
 * used to read past the 64 fields kept (found by tests/fuzz/fuzz_rec_data.c; the input is
 * in tests/fuzz/crashes/). */
static void test_load_too_many_columns(void) {
    seq_rec_data d;
    seq_rec_load_options o = seq_rec_load_options_default();
    char text[512];
    int i, n = 0;
    for (i = 0; i < 70; i++) n += snprintf(text + n, sizeof text - (size_t)n, "%sc%d", i ? "\t" : "", i);
    snprintf(text + n, sizeof text - (size_t)n, "\nu\ti\n");
    CHECK(load_text(&d, text, SEQ_REC_FMT_DELIMITED, &o) == SEQ_ERR_FORMAT &&
          strstr(seq_last_error(), "line 1: more than 64 columns"));
    seq_rec_data_free(&d);
}

static void test_load_delimited_and_movielens(void) {
    seq_rec_data d;
    seq_rec_load_options o = seq_rec_load_options_default();
    char buf[256];
    /* RecBole .inter: typed header, equal timestamps keep file order (b before a) */
    CHECK(load_text(&d, "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                        "u1\tc\t5\t30\nu1\tb\t4\t20\nu1\ta\t3\t20\nu2\ta\t1\t5\nu1\td\t2\t10\n",
                    SEQ_REC_FMT_DELIMITED, &o) == SEQ_OK);
    CHECK(d.n_users == 2 && d.n_items == 4 && d.times != NULL);
    CHECK(strcmp(seq_names(&d, 0, buf), "d b a c") == 0);
    CHECK(d.times[0] == 10 && d.times[1] == 20 && d.times[2] == 20 && d.times[3] == 30);
    seq_rec_data_free(&d);
    /* CSV with a rating threshold; the filter drops u2 entirely */
    o.delimiter = ',';
    o.user_col = "user"; o.item_col = "movie"; o.time_col = "ts"; o.rating_col = "stars"; o.min_rating = 3;
    CHECK(load_text(&d, "movie,user,stars,ts\n7,1,5,100\n8,1,2,50\n9,1,4,10\n7,2,1,1\n", SEQ_REC_FMT_DELIMITED, &o) == SEQ_OK);
    CHECK(d.n_users == 1 && d.n_items == 2);
    CHECK(strcmp(seq_names(&d, 0, buf), "9 7") == 0);
    seq_rec_data_free(&d);
    /* MovieLens ratings.dat */
    CHECK(load_text(&d, "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n", SEQ_REC_FMT_MOVIELENS, NULL) == SEQ_OK);
    CHECK(d.n_users == 2 && d.n_items == 2 && strcmp(seq_names(&d, 0, buf), "1193 661") == 0);
    seq_rec_data_free(&d);
}

/* Malformed input: the right status and a message naming the line. */
static void test_load_bad_input(void) {
    static const struct {
        const char *text;
        int fmt;
        const char *expect;
    } cases[] = {
        {"", SEQ_REC_FMT_USER_ITEM, "line 1: the file is empty"},
        {"", SEQ_REC_FMT_USER_SEQ, "line 1: the file is empty"},
        {"\n  \n", SEQ_REC_FMT_USER_ITEM, "line 2: no interactions"},
        {"1 2\n1 2 3\n", SEQ_REC_FMT_USER_ITEM, "line 2: expected 2 fields, found 3 or more"},
        {"1 2\n1\n", SEQ_REC_FMT_USER_ITEM, "line 2: expected 2 fields, found 1"},
        {"1 2 3\n7\n", SEQ_REC_FMT_USER_SEQ, "line 2: user 7 has no items"},
        {"1 2 3\n2 4\n1 5\n", SEQ_REC_FMT_USER_SEQ, "line 3: user 1 already appeared on line 1"},
        {"user_id\titem\n1\t2\n", SEQ_REC_FMT_DELIMITED, "line 1: header lacks column \"item_id\""},
        {"user_id\titem_id\ttimestamp\n1\t2\t3\n1\t2\n", SEQ_REC_FMT_DELIMITED, "line 3: expected 3 fields, found 2"},
        {"user_id\titem_id\ttimestamp\n1\t2\tnoon\n", SEQ_REC_FMT_DELIMITED, "line 2: timestamp \"noon\" is not a number"},
        {"user_id\titem_id\ttimestamp\n1\t\t4\n", SEQ_REC_FMT_DELIMITED, "line 2: empty user or item id"},
        {"1::2::5::9\n1::2::5\n", SEQ_REC_FMT_MOVIELENS, "line 2: expected 4 fields, found 3"},
        {"1::2::x::9\n", SEQ_REC_FMT_MOVIELENS, "line 1: rating \"x\" is not a number"},
    };
    size_t i;
    long live = seq_test_live_blocks;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seq_rec_data d;
        seq_status st = load_text(&d, cases[i].text, (seq_rec_format)cases[i].fmt, NULL);
        CHECK_MSG(st == SEQ_ERR_FORMAT, "case %d: status %d", (int)i, (int)st);
        CHECK_MSG(strstr(seq_last_error(), cases[i].expect) != NULL && strstr(seq_last_error(), "seq_rec_load") != NULL,
                  "case %d: %s", (int)i, seq_last_error());
        CHECK(d.off == NULL && d.n_users == 0);
        seq_rec_data_free(&d);
    }
    {
        seq_rec_data d;
        CHECK(seq_rec_load(&d, "build/no/such/file.txt", SEQ_REC_FMT_USER_ITEM, NULL, NULL) == SEQ_ERR_IO);
        CHECK(seq_rec_load(&d, TMP, SEQ_REC_FMT_COUNT, NULL, NULL) == SEQ_ERR_INVALID);
        CHECK(seq_rec_load(NULL, TMP, SEQ_REC_FMT_USER_ITEM, NULL, NULL) == SEQ_ERR_INVALID);
    }
    CHECK(seq_test_live_blocks == live);
}

/* Every allocation of the loader and of k-core fails in turn: NOMEM, nothing leaks. */
static void test_load_oom(void) {
    long k, live = seq_test_live_blocks;
    seq_rec_data d;
    seq_status st = SEQ_ERR_NOMEM;
    write_file(TMP, "user_id,item_id,timestamp\na,x,3\nb,y,1\na,y,2\nb,x,5\nc,x,1\n");
    for (k = 0; k < 100 && st == SEQ_ERR_NOMEM; k++) {
        seq_rec_load_options o = seq_rec_load_options_default();
        o.delimiter = ',';
        seq_test_fail_after(k);
        st = seq_rec_load(&d, TMP, SEQ_REC_FMT_DELIMITED, &o, NULL);
        seq_test_fail_never();
        CHECK_MSG(st == SEQ_OK || st == SEQ_ERR_NOMEM, "k=%ld status %d", k, (int)st);
        if (st == SEQ_OK) {
            seq_status kst = SEQ_ERR_NOMEM;
            long j;
            CHECK(k > 3 && d.n_users == 3 && d.n_inter == 5);
            for (j = 0; j < 100 && kst == SEQ_ERR_NOMEM; j++) { /* k-core under OOM leaves d intact */
                seq_test_fail_after(j);
                kst = seq_rec_kcore(&d, 2, 1);
                seq_test_fail_never();
                CHECK(kst == SEQ_OK || (kst == SEQ_ERR_NOMEM && d.n_users == 3 && d.n_inter == 5));
            }
            CHECK(kst == SEQ_OK && d.n_users == 2 && d.n_inter == 4);
        }
        seq_rec_data_free(&d);
        CHECK(seq_test_live_blocks == live);
    }
    CHECK(st == SEQ_OK);
}

static void test_kcore(void) {
    seq_rec_data d;
    char buf[256];
    /* 2-core: item 9 (once) goes, then user 3 has one item left and goes, then item 5
     * (only user 3 and user 1 had it... ) -- fixed point below */
    CHECK(load_text(&d, "1 4 5 6\n2 4 6\n3 5 9\n4 4 6 7\n", SEQ_REC_FMT_USER_SEQ, NULL) == SEQ_OK);
    CHECK(seq_rec_kcore(&d, 2, 2) == SEQ_OK);
    /* item 9, 7 once -> out; user 3 left with {5}: out; item 5 then once: out */
    CHECK(d.n_users == 3 && d.n_items == 2 && d.n_inter == 6);
    CHECK(strcmp(seq_rec_user_name(&d, 2), "4") == 0 && strcmp(seq_names(&d, 0, buf), "4 6") == 0);
    CHECK(seq_rec_item_index(&d, "6") == 2 && seq_rec_item_index(&d, "5") == 0);
    CHECK(seq_rec_kcore(&d, 10, 1) == SEQ_ERR_INVALID && d.n_inter == 6);
    CHECK(seq_rec_kcore(&d, -1, 1) == SEQ_ERR_INVALID);
    seq_rec_data_free(&d);
}

static void test_from_sequences(void) {
    seq_rec_data d;
    int64_t off[3] = {0, 2, 5}, bad_off[3] = {0, 2, 2}, times[5] = {1, 2, 3, 4, 5};
    int32_t items[5] = {1, 3, 2, 2, 3}, bad[5] = {1, 4, 2, 2, 3};
    CHECK(seq_rec_data_from_sequences(&d, 2, 3, off, items, times, NULL) == SEQ_OK);
    CHECK(d.n_inter == 5 && d.items[1] == 3 && d.times[4] == 5 && d.names == NULL);
    CHECK(seq_rec_user_name(&d, 0) == NULL && seq_rec_item_index(&d, "1") == 0);
    seq_rec_data_free(&d);
    CHECK(seq_rec_data_from_sequences(&d, 2, 3, off, bad, NULL, NULL) == SEQ_ERR_RANGE);
    CHECK(strstr(seq_last_error(), "item 4 at 1") != NULL);
    CHECK(seq_rec_data_from_sequences(&d, 2, 3, bad_off, items, NULL, NULL) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "user 1 has no items") != NULL);
}

/* Sequences of lengths 1..6 for users 0..5, items 1..21 in order. */
static void make_ladder(seq_rec_data *d) {
    int64_t off[7], u, n = 0;
    int32_t items[21];
    off[0] = 0;
    for (u = 0; u < 6; u++) {
        int64_t i;
        for (i = 0; i <= u; i++, n++) items[n] = (int32_t)(n + 1);
        off[u + 1] = n;
    }
    seq_rec_data_from_sequences(d, 6, 21, off, items, NULL, NULL);
}

static void test_splits(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rng rng;
    int64_t u, held = 0;
    make_ladder(&d);
    CHECK(seq_rec_split_leave_one_out(&s, &d, NULL) == SEQ_OK);
    for (u = 0; u < 6; u++) {
        int64_t n = u + 1;
        CHECK(s.train_len[u] == (n < 3 ? n : n - 2));
        CHECK(s.n_targets[SEQ_REC_VALID][u] == (n >= 3) && s.n_targets[SEQ_REC_TEST][u] == (n >= 3));
        if (n >= 3) CHECK(s.hist_len[SEQ_REC_VALID][u] == n - 2 && s.hist_len[SEQ_REC_TEST][u] == n - 1);
    }
    seq_rec_split_free(&s);
    seq_rng_seed(&rng, 1);
    CHECK(seq_rec_split_user_holdout(&s, &d, 0.34, 0.34, 0.5, &rng, NULL) == SEQ_OK);
    for (u = 0; u < 6; u++) {
        int p, n = (int)u + 1, in = 0;
        for (p = 0; p < SEQ_REC_PART_COUNT; p++) {
            if (!s.n_targets[p][u]) continue;
            in++;
            CHECK(s.hist_len[p][u] >= 1 && s.hist_len[p][u] + s.n_targets[p][u] == n);
            CHECK(s.n_targets[p][u] == (n * 0.5 + 0.5 < 1 ? 1 : (int64_t)(n * 0.5 + 0.5) > n - 1 ? n - 1 : (int64_t)(n * 0.5 + 0.5)));
        }
        CHECK(in <= 1 && (in ? s.train_len[u] == 0 : s.train_len[u] == n));
        held += in;
    }
    CHECK(held >= 2 && held <= 4); /* 2 valid + 2 test chosen; a 1-item user stays in train */
    seq_rec_split_free(&s);
    CHECK(seq_rec_split_user_holdout(&s, &d, 0.7, 0.7, 0, &rng, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rec_split_user_holdout(&s, &d, 0.1, 0.1, 0, NULL, NULL) == SEQ_ERR_INVALID);
    seq_rec_data_free(&d);
}

/* The alias table reproduces count^alpha, and exclusion is exact on both paths. */
static void test_sampler(void) {
    seq_rec_data d;
    seq_rec_sampler s;
    seq_rng rng;
    int64_t off[2] = {0, 10}, hist[6] = {0}, i, n = 200000;
    int32_t items[10] = {1, 2, 2, 3, 3, 3, 3, 4, 4, 5}, ex[4] = {3, 4, 5, 3}, out[64];
    seq_rec_data_from_sequences(&d, 1, 6, off, items, NULL, NULL);
    seq_rng_seed(&rng, 7);
    CHECK(seq_rec_sampler_init(&s, &d, NULL, SEQ_REC_NEG_POPULARITY, 1.0f, NULL) == SEQ_OK);
    CHECK_NEAR(s.prob[3], 0.4, 1e-12);
    CHECK(s.prob[6] == 0);
    for (i = 0; i < n; i++) hist[seq_rec_sampler_draw(&s, &rng) - 1]++;
    for (i = 0; i < 6; i++) CHECK_NEAR((double)hist[i] / (double)n, s.prob[i + 1], 0.006);
    /* rejection path: 3,4,5 (listed twice) hold 70% of the mass */
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, ex, 4, out, 64) == SEQ_OK);
    for (i = 0; i < 64; i++) CHECK(out[i] == 1 || out[i] == 2);
    ex[2] = 2; ex[3] = 1; /* 3,4,2,1: 90% excluded -> inverse CDF over what is left: 5 */
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, ex, 4, out, 64) == SEQ_OK);
    for (i = 0; i < 64; i++) CHECK(out[i] == 5);
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, items, 10, out, 1) == SEQ_ERR_INVALID); /* item 6 has no mass */
    ex[0] = 7;
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, ex, 1, out, 1) == SEQ_ERR_RANGE);
    seq_rec_sampler_free(&s);
    /* word2vec's count^0.75: flatter than popularity, still never an unseen item */
    CHECK(seq_rec_sampler_init(&s, &d, NULL, SEQ_REC_NEG_POPULARITY, 0.75f, NULL) == SEQ_OK);
    CHECK_NEAR(s.prob[3] / s.prob[2], pow(2.0, 0.75), 1e-9);
    CHECK_NEAR(s.prob[3] / s.prob[1], pow(4.0, 0.75), 1e-9);
    CHECK(s.prob[6] == 0);
    ex[0] = 3; ex[1] = 4;
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, ex, 2, out, 64) == SEQ_OK);
    for (i = 0; i < 64; i++) CHECK(out[i] == 1 || out[i] == 2 || out[i] == 5);
    seq_rec_sampler_free(&s);
    CHECK(seq_rec_sampler_init(&s, &d, NULL, SEQ_REC_NEG_UNIFORM, 0.0f, NULL) == SEQ_OK);
    CHECK(seq_rec_sampler_draw_excluding(&s, &rng, items, 10, out, 8) == SEQ_OK);
    for (i = 0; i < 8; i++) CHECK(out[i] == 6);
    seq_rec_sampler_free(&s);
    CHECK(seq_rec_sampler_init(&s, &d, NULL, SEQ_REC_NEG_POPULARITY, -1.0f, NULL) == SEQ_ERR_INVALID);
    seq_rec_data_free(&d);
}

static void test_batcher(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_sampler smp;
    seq_rec_batcher it;
    seq_rec_batch_config c = seq_rec_batch_config_default();
    seq_rng rng;
    int64_t seen[6] = {0}, e, r, t, j, batches = 0;
    int64_t users[2] = {5, 3}, hl[2] = {4, 1};
    int32_t hist[6];
    make_ladder(&d);
    seq_rec_split_leave_one_out(&s, &d, NULL);
    seq_rec_sampler_init(&smp, &d, &s, SEQ_REC_NEG_UNIFORM, 0, NULL);
    seq_rng_seed(&rng, 3);
    c.batch_size = 2; c.max_len = 3; c.n_neg = 2;
    CHECK(seq_rec_batcher_init(&it, &d, &s, &smp, c, NULL) == SEQ_OK);
    CHECK(it.n_rows == 4); /* train_len 1,2,1,2,3,4: users 1, 3, 4, 5 have >= 2 items */
    for (e = 0; e < 2; e++) {
        seq_rec_batcher_start(&it, &rng);
        while (seq_rec_batcher_next(&it, &rng) == SEQ_OK && it.batch.n > 0) {
            seq_rec_batch *b = &it.batch;
            batches++;
            for (r = 0; r < b->B; r++) {
                int64_t u = b->users[r];
                const int32_t *in = b->inputs + r * 3, *tg = b->targets + r * 3;
                if (r >= b->n) { CHECK(u == -1 && in[2] == 0 && tg[2] == 0); continue; }
                seen[u]++;
                /* user 5 trains on 16..19: inputs 16 17 18, targets 17 18 19 */
                if (u == 5) CHECK(in[0] == 16 && in[1] == 17 && in[2] == 18 && tg[0] == 17 && tg[2] == 19);
                if (u == 1) CHECK(in[0] == 0 && in[1] == 0 && in[2] == 2 && tg[1] == 0 && tg[2] == 3);
                for (t = 0; t < 3; t++)
                    for (j = 0; j < 2; j++) {
                        int32_t ng = b->negatives[(r * 3 + t) * 2 + j];
                        if (!tg[t]) { CHECK(ng == 0); continue; }
                        CHECK(ng >= 1 && ng <= 21 && (ng < d.items[d.off[u]] || ng >= d.items[d.off[u]] + s.train_len[u]));
                    }
            }
        }
    }
    CHECK(batches == 4 && seen[1] == 2 && seen[3] == 2 && seen[4] == 2 && seen[5] == 2 && seen[0] == 0);
    seq_rec_batcher_free(&it);
    c.mode = SEQ_REC_BATCH_SEQUENCE; c.n_neg = 0; c.batch_size = 8;
    CHECK(seq_rec_batcher_init(&it, &d, &s, NULL, c, NULL) == SEQ_OK && it.n_rows == 6);
    seq_rec_batcher_start(&it, NULL);
    CHECK(seq_rec_batcher_next(&it, NULL) == SEQ_OK && it.batch.n == 6 && it.batch.negatives == NULL);
    for (r = 0; r < 6; r++)
        if (it.batch.users[r] == 0) CHECK(it.batch.inputs[r * 3 + 2] == 1 && it.batch.targets[r * 3 + 2] == 1);
    CHECK(seq_rec_batcher_next(&it, NULL) == SEQ_OK && it.batch.n == 0);
    seq_rec_batcher_free(&it);
    c.n_neg = 1;
    CHECK(seq_rec_batcher_init(&it, &d, &s, NULL, c, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rec_fill_history(&d, users, hl, 2, 3, hist, NULL) == SEQ_OK);
    CHECK(hist[0] == 17 && hist[1] == 18 && hist[2] == 19 && hist[3] == 0 && hist[4] == 0 && hist[5] == 7);
    hl[1] = 5;
    CHECK(seq_rec_fill_history(&d, users, hl, 2, 3, hist, NULL) == SEQ_ERR_RANGE);
    seq_rec_sampler_free(&smp);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

static void test_load_beauty(void) {
    seq_rec_data d;
    const char *beauty = beauty_path();
    if (!beauty) SKIP("../shared/data/beauty_s3rec.txt not found");
    CHECK(seq_rec_load(&d, beauty, SEQ_REC_FMT_USER_SEQ, NULL, NULL) == SEQ_OK);
    CHECK(d.n_users == 22363 && d.n_items == 12101 && d.n_inter == 198502);
    /* ids already 1..n: items keep their numbers, user u is line u+1 */
    CHECK(strcmp(seq_rec_item_name(&d, 83), "83") == 0 && strcmp(seq_rec_user_name(&d, 0), "1") == 0);
    CHECK(d.items[d.off[1]] == 6 && d.off[1] - d.off[0] == 5);
    seq_rec_data_free(&d);
}

void seq_tests_rec_data(void) {
    RUN(test_load_user_seq);
    RUN(test_load_user_item_strings);
    RUN(test_load_long_numeric_ids);
    RUN(test_load_too_many_columns);
    RUN(test_load_delimited_and_movielens);
    RUN(test_load_bad_input);
    RUN(test_load_oom);
    RUN(test_kcore);
    RUN(test_from_sequences);
    RUN(test_splits);
    RUN(test_sampler);
    RUN(test_batcher);
    RUN(test_load_beauty);
}

/* ---- metrics ------------------------------------------------------------------------- */

/* A model whose scores are a fixed table: row u of table (n_users, n_items+1); it also
 * records the largest batch it was asked for. */
typedef struct table_model {
    const float *table;
    int64_t n_cols, max_n, calls;
} table_model;

static seq_status table_score(void *model, const seq_rec_data *d, const int64_t *users, const int64_t *hist_len,
                              int64_t n, float *scores) {
    table_model *m = (table_model *)model;
    int64_t r;
    (void)d; (void)hist_len;
    if (n > m->max_n) m->max_n = n;
    m->calls++;
    for (r = 0; r < n; r++) memcpy(scores + r * m->n_cols, m->table + users[r] * m->n_cols, (size_t)m->n_cols * sizeof(float));
    return SEQ_OK;
}

static void test_topk(void) {
    float s[9] = {0.5f, 2.0f, 2.0f, -1.0f, NAN, 3.0f, 2.0f, 0.5f, 9.0f}, ts[9];
    uint8_t ex[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    int32_t ids[9];
    CHECK(seq_rec_topk(s, 9, ex, 4, ids, ts) == 4);
    /* 3.0 (5), then the 2.0 ties by id (1, 2, 6); NaN and excluded 8 skipped */
    CHECK(ids[0] == 5 && ids[1] == 1 && ids[2] == 2 && ids[3] == 6 && ts[3] == 2.0f);
    CHECK(seq_rec_topk(s, 9, ex, 9, ids, ts) == 7 && ids[4] == 0 && ids[5] == 7 && ids[6] == 3);
    CHECK(seq_rec_topk(s, 9, NULL, 1, ids, ts) == 1 && ids[0] == 8);
    CHECK(seq_rec_topk(s, 9, NULL, 0, ids, ts) == 0);
}

/* The reference: sorting against brute force on random scores with many ties. */
static void test_topk_random(void) {
    seq_rng rng;
    float s[300], ts[40];
    int32_t ids[40];
    int64_t i, k, trial;
    seq_rng_seed(&rng, 11);
    for (trial = 0; trial < 20; trial++) {
        int64_t n = 1 + (int64_t)seq_rng_below(&rng, 300), m;
        for (i = 0; i < n; i++) s[i] = (float)seq_rng_below(&rng, 20);
        k = 1 + (int64_t)seq_rng_below(&rng, 40);
        m = seq_rec_topk(s, n, NULL, k, ids, ts);
        CHECK(m == (k < n ? k : n));
        for (i = 0; i < m; i++) { /* position i holds exactly i better items before it */
            int64_t j, better = 0;
            for (j = 0; j < n; j++) better += s[j] > s[ids[i]] || (s[j] == s[ids[i]] && j < ids[i]);
            CHECK(better == i);
        }
    }
}

/* One user of 3 items (2 1 | 3), items 1..6, leave-one-out test target 3 after
 * history {2 1}. Hand-computed metrics. */
static void test_metrics_hand(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_metrics m;
    seq_rec_eval_config c = seq_rec_eval_config_default();
    int64_t off[2] = {0, 3};
    int32_t items[3] = {2, 1, 3};
    /* scores of items 0..6: item 1 and 2 (seen) top, then 5 (0.9), target 3 ties item 6 */
    float table[7] = {100.0f, 9.0f, 8.0f, 0.5f, 0.1f, 0.9f, 0.5f};
    table_model tm = {table, 7, 0, 0};
    char buf[1024];
    seq_rec_data_from_sequences(&d, 1, 6, off, items, NULL, NULL);
    seq_rec_split_leave_one_out(&s, &d, NULL);
    c.n_k = 3; c.k[0] = 1; c.k[1] = 3; c.k[2] = 5;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK);
    /* seen masked: ahead of 3 are item 5 (0.9) and the tie 6 (pessimistic): rank 3 */
    CHECK(m.n_users == 1);
    CHECK(m.hr[0] == 0 && m.hr[1] == 1 && m.hr[2] == 1);
    CHECK_NEAR(m.ndcg[1], 0.5, 1e-12); /* 1/log2(4) */
    CHECK_NEAR(m.mrr, 1.0 / 3.0, 1e-12);
    CHECK(m.recall[1] == 1 && m.recall[0] == 0);
    /* top-5 of candidates {3,4,5,6}: all four of six items; top-1: item 5 */
    CHECK_NEAR(m.coverage[2], 4.0 / 6.0, 1e-12);
    CHECK_NEAR(m.coverage[0], 1.0 / 6.0, 1e-12);
    CHECK(seq_rec_metrics_format(&m, buf, sizeof(buf)) > 0);
    CHECK(strstr(buf, "NDCG@3 (full, seen masked) 0.5000\n") != NULL);
    CHECK(strstr(buf, "MRR (full, seen masked) 0.3333\n") != NULL && strstr(buf, "test part, 1 users") != NULL);
    CHECK(seq_rec_metrics_format(&m, NULL, 0) == (int)strlen(buf));
    /* seen kept: items 1 and 2 join the ranking ahead of 3: rank 5 */
    c.mask_seen = 0;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK);
    CHECK(m.hr[1] == 0 && m.hr[2] == 1);
    CHECK_NEAR(m.ndcg[2], 1.0 / log2(6.0), 1e-12);
    CHECK_NEAR(m.mrr, 0.2, 1e-12);
    CHECK(seq_rec_metrics_format(&m, buf, sizeof(buf)) > 0 && strstr(buf, "HR@5 (full, seen kept) 1.0000") != NULL);
    /* valid part: history {2}, target 1 scored 9: first even with seen masked */
    c.part = SEQ_REC_VALID; c.mask_seen = 1;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK);
    CHECK(m.hr[0] == 1 && m.mrr == 1 && m.ndcg[0] == 1);
    /* a NaN from the model is an error naming user and item */
    table[4] = NAN;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_ERR_NUMERIC);
    CHECK(strstr(seq_last_error(), "user 0, item 4") != NULL);
    c.n_k = 0;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_ERR_INVALID);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

/* Two targets (user holdout): Recall and NDCG with the ideal DCG of two hits. */
static void test_metrics_multi_target(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_metrics m;
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rng rng;
    int64_t off[2] = {0, 4};
    int32_t items[4] = {1, 2, 3, 4};
    float table[6] = {0, 0.0f, 0.0f, 0.7f, 0.2f, 0.9f}; /* 5 first, target 3 second, target 4 third */
    table_model tm = {table, 6, 0, 0};
    double idcg = 1.0 + 1.0 / log2(3.0);
    seq_rec_data_from_sequences(&d, 1, 5, off, items, NULL, NULL);
    seq_rng_seed(&rng, 2);
    CHECK(seq_rec_split_user_holdout(&s, &d, 0, 1, 0.5, &rng, NULL) == SEQ_OK);
    CHECK(s.hist_len[SEQ_REC_TEST][0] == 2 && s.n_targets[SEQ_REC_TEST][0] == 2);
    c.n_k = 2; c.k[0] = 2; c.k[1] = 3;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK);
    CHECK(m.hr[0] == 1 && m.recall[0] == 0.5 && m.recall[1] == 1);
    CHECK_NEAR(m.ndcg[0], (1.0 / log2(3.0)) / idcg, 1e-12);
    CHECK_NEAR(m.ndcg[1], (1.0 / log2(3.0) + 0.5) / idcg, 1e-12);
    CHECK_NEAR(m.mrr, 0.5, 1e-12);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

/* Sampled protocols: a target scored below everything ranks last among 1 + n_neg
 * distinct candidates; at the top it ranks first; the label says sampled. */
static void test_metrics_sampled(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_metrics m;
    seq_rec_eval_config c = seq_rec_eval_config_default();
    seq_rng rng;
    int64_t off[3] = {0, 3, 6}, u, i;
    int32_t items[6] = {1, 2, 3, 4, 5, 6};
    float table[2 * 201];
    table_model tm = {table, 201, 0, 0};
    char label[64];
    seq_rec_data_from_sequences(&d, 2, 200, off, items, NULL, NULL);
    seq_rec_split_leave_one_out(&s, &d, NULL);
    for (u = 0; u < 2; u++)
        for (i = 0; i <= 200; i++) table[u * 201 + i] = (float)i;
    table[3] = -1; /* user 0's target 3 below every item; user 1's target 6 ranks by its id */
    seq_rng_seed(&rng, 5);
    c.protocol = SEQ_REC_PROTO_UNIFORM;
    c.n_neg = 100;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, &rng, &m) == SEQ_OK);
    CHECK(m.hr[2] == 0);
    CHECK(m.mrr < 0.5 * (1.0 / 101.0) + 0.5 * (1.0 / 95.0) + 1e-12); /* user 0 exactly last: 1/101 */
    CHECK(strcmp(seq_rec_protocol_label(&m, label, sizeof(label)), "uniform-100 sampled") == 0);
    /* popularity over all interactions: only items 1..6 were ever seen, so a user has
     * 3 negatives to draw, however many are asked for */
    c.protocol = SEQ_REC_PROTO_POPULARITY; c.n_neg = 500;
    table[3] = 1000; table[201 + 6] = 1000;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, &rng, &m) == SEQ_OK);
    CHECK(m.mrr == 1 && m.hr[0] == 1);
    table[3] = -1; table[201 + 6] = -1;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, &rng, &m) == SEQ_OK);
    CHECK_NEAR(m.mrr, 0.25, 1e-12);
    CHECK(strcmp(seq_rec_protocol_label(&m, label, sizeof(label)), "popularity-500 sampled") == 0);
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_ERR_INVALID); /* no rng */
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

/* PopRec on S3Rec's Beauty reproduces the paper's row exactly, and the user batching
 * (memory bound) does not change any number. */
static void test_poprec_beauty(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_poprec pop;
    seq_rec_metrics m, m2;
    seq_rec_eval_config c = seq_rec_eval_config_default();
    const char *beauty = beauty_path();
    int j;
    if (!beauty) SKIP("../shared/data/beauty_s3rec.txt not found");
    CHECK(seq_rec_load(&d, beauty, SEQ_REC_FMT_USER_SEQ, NULL, NULL) == SEQ_OK);
    CHECK(seq_rec_split_leave_one_out(&s, &d, NULL) == SEQ_OK);
    CHECK(seq_rec_poprec_init(&pop, d.n_items, NULL) == SEQ_OK);
    CHECK(seq_rec_poprec_fit(&pop, &d, NULL) == SEQ_OK); /* popularity over all interactions */
    CHECK(seq_rec_evaluate(&d, &s, seq_rec_poprec_score, &pop, &c, NULL, &m) == SEQ_OK);
    CHECK(m.n_users == 22363);
    CHECK_MSG(floor(m.hr[1] * 1e4 + 0.5) == 152 && floor(m.ndcg[1] * 1e4 + 0.5) == 68, "HR@10 %.5f NDCG@10 %.5f",
              m.hr[1], m.ndcg[1]);
    c.max_score_bytes = 3 * 12102 * 4; /* three users a call */
    CHECK(seq_rec_evaluate(&d, &s, seq_rec_poprec_score, &pop, &c, NULL, &m2) == SEQ_OK);
    for (j = 0; j < 3; j++) CHECK(m.hr[j] == m2.hr[j] && m.ndcg[j] == m2.ndcg[j] && m.coverage[j] == m2.coverage[j]);
    CHECK(m.mrr == m2.mrr);
    seq_rec_poprec_free(&pop);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

/* The evaluator asks for at most max_score_bytes of scores at a time. */
static void test_eval_batches(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_metrics m;
    seq_rec_eval_config c = seq_rec_eval_config_default();
    float table[6 * 22];
    table_model tm = {table, 22, 0, 0};
    int64_t i;
    make_ladder(&d);
    seq_rec_split_leave_one_out(&s, &d, NULL);
    for (i = 0; i < 6 * 22; i++) table[i] = (float)(i % 7);
    c.max_score_bytes = 2 * 22 * 4;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK);
    CHECK(m.n_users == 4 && tm.max_n == 2 && tm.calls == 2);
    c.max_users = 3; tm.calls = 0;
    CHECK(seq_rec_evaluate(&d, &s, table_score, &tm, &c, NULL, &m) == SEQ_OK && m.n_users == 3 && tm.calls == 2);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
}

/* ---- baselines ----------------------------------------------------------------------- */

/* Four users over items 1..4: cosine similarities by hand. Items: 1 {u0,u1,u2},
 * 2 {u0,u1}, 3 {u2,u3}, 4 {u3}. */
static void test_itemknn_hand(void) {
    seq_rec_data d;
    seq_rec_itemknn knn;
    seq_rec_itemknn_config c = seq_rec_itemknn_config_default();
    int64_t off[5] = {0, 2, 4, 6, 8}, users[1] = {2}, hist[1] = {1};
    int32_t items[8] = {1, 2, 2, 1, 1, 3, 3, 4};
    float scores[5];
    long live = seq_test_live_blocks;
    seq_rec_data_from_sequences(&d, 4, 4, off, items, NULL, NULL);
    c.neighbors = 2;
    CHECK(seq_rec_itemknn_init(&knn, 4, c, NULL) == SEQ_OK);
    CHECK(seq_rec_itemknn_fit(&knn, &d, NULL) == SEQ_OK);
    /* item 1: sim(1,2) = 2/sqrt(3*2), sim(1,3) = 1/sqrt(3*2); item 3: 4 (1/sqrt2) before 1 (1/sqrt6) */
    CHECK(knn.nbr->data[1 * 2 + 0] == 2 && knn.nbr->data[1 * 2 + 1] == 3);
    CHECK_NEAR(knn.sim->data[1 * 2 + 0], 2 / sqrt(6.0), 1e-6);
    CHECK_NEAR(knn.sim->data[1 * 2 + 1], 1 / sqrt(6.0), 1e-6);
    CHECK(knn.nbr->data[3 * 2 + 0] == 4 && knn.nbr->data[3 * 2 + 1] == 1);
    CHECK(knn.nbr->data[4 * 2 + 0] == 3 && knn.nbr->data[4 * 2 + 1] == 0); /* one neighbor only */
    /* user 2 with history {1}: scores are item 1's neighbors */
    CHECK(seq_rec_itemknn_score(&knn, &d, users, hist, 1, scores) == SEQ_OK);
    CHECK(scores[1] == 0 && scores[4] == 0);
    CHECK_NEAR(scores[2], 2 / sqrt(6.0), 1e-6);
    hist[0] = 3;
    CHECK(seq_rec_itemknn_score(&knn, &d, users, hist, 1, scores) == SEQ_ERR_RANGE);
    seq_rec_itemknn_free(&knn);
    seq_rec_data_free(&d);
    CHECK(seq_test_live_blocks == live);
}

/* A planted structure: users 0..39 like items 1..10, users 40..79 items 11..20. */
static void make_two_groups(seq_rec_data *d, seq_rng *rng) {
    int64_t off[81], u, n = 0;
    int32_t items[80 * 8];
    off[0] = 0;
    for (u = 0; u < 80; u++) {
        int64_t i;
        for (i = 0; i < 8; i++) items[n++] = (int32_t)(1 + (u >= 40 ? 10 : 0) + (int64_t)seq_rng_below(rng, 10));
        off[u + 1] = n;
    }
    seq_rec_data_from_sequences(d, 80, 20, off, items, NULL, NULL);
}

/* Mean over users of the score margin between own-group and other-group items. */
static double group_margin(seq_rec_score_fn fn, void *model, const seq_rec_data *d) {
    float scores[21];
    int64_t u, i, h = 6;
    double margin = 0;
    for (u = 0; u < 80; u++) {
        double own = 0, other = 0;
        fn(model, d, &u, &h, 1, scores);
        for (i = 1; i <= 20; i++) {
            if ((i > 10) == (u >= 40)) own += scores[i]; else other += scores[i];
        }
        margin += (own - other) / 10.0;
    }
    return margin / 80.0;
}

static void test_bpr_learns(void) {
    seq_rec_data d;
    seq_rec_split s;
    seq_rec_mf mf;
    seq_rec_bpr t;
    seq_rec_bpr_config c = seq_rec_bpr_config_default();
    seq_rng rng;
    double first = 0, loss = 0;
    int e;
    long live = seq_test_live_blocks;
    seq_rng_seed(&rng, 21);
    make_two_groups(&d, &rng);
    seq_rec_split_leave_one_out(&s, &d, NULL);
    CHECK(seq_rec_mf_init(&mf, 80, 20, 8, 0.1f, &rng, NULL) == SEQ_OK);
    c.batch_size = 64; c.lr = 0.05f;
    CHECK(seq_rec_bpr_init(&t, &mf, &d, &s, c, NULL) == SEQ_OK);
    CHECK(t.n_train == 80 * 6);
    for (e = 0; e < 30; e++) {
        CHECK(seq_rec_bpr_epoch(&t, &d, &s, &rng, &loss) == SEQ_OK);
        if (e == 0) first = loss;
    }
    CHECK_MSG(loss < 0.5 * first, "BPR loss %.4f after 30 epochs, %.4f after 1", loss, first);
    CHECK(group_margin(seq_rec_mf_score, &mf, &d) > 1.0);
    seq_rec_bpr_free(&t);
    seq_rec_mf_free(&mf);
    seq_rec_split_free(&s);
    seq_rec_data_free(&d);
    CHECK(seq_test_live_blocks == live);
}

/* Solves the ALS normal equations of user 0 exactly (double Gaussian elimination): the
 * reference twin of the CG solver, which with D steps must agree. */
static void test_als_cg_exact(void) {
    seq_rec_data d;
    seq_rec_mf mf, ref;
    seq_rec_als_config c = seq_rec_als_config_default();
    seq_rng rng;
    enum { D = 4 };
    double A[D][D + 1];
    int64_t i, j, k, u = 3;
    seq_rng_seed(&rng, 5);
    make_two_groups(&d, &rng);
    seq_rec_mf_init(&mf, 80, 20, D, 0.3f, &rng, NULL);
    seq_rng_seed(&rng, 6);
    seq_rec_mf_init(&ref, 80, 20, D, 0.3f, &rng, NULL);
    memcpy(ref.P->data, mf.P->data, (size_t)mf.P->numel * sizeof(float));
    c.alpha = 2; c.reg = 0.1f; c.cg_steps = 3 * D;
    /* the user half of one sweep, by hand: A = Y^T Y + reg I + sum alpha r y y^T */
    for (i = 0; i < D; i++)
        for (j = 0; j <= D; j++) A[i][j] = (i == j) ? c.reg : 0;
    for (k = 1; k <= 20; k++) {
        const float *y = ref.item->data + k * D;
        double r = 0;
        int64_t p;
        for (p = d.off[u]; p < d.off[u + 1]; p++) r += d.items[p] == k;
        for (i = 0; i < D; i++) {
            for (j = 0; j < D; j++) A[i][j] += (1 + c.alpha * r) * y[i] * y[j];
            A[i][D] += (r > 0) * (1 + c.alpha * r) * y[i];
        }
    }
    for (i = 0; i < D; i++) /* Gaussian elimination: A is symmetric positive definite, no pivoting needed */
        for (k = i + 1; k < D; k++) {
            double f = A[k][i] / A[i][i];
            for (j = i; j <= D; j++) A[k][j] -= f * A[i][j];
        }
    for (i = D - 1; i >= 0; i--) {
        for (j = i + 1; j < D; j++) A[i][D] -= A[i][j] * A[j][D];
        A[i][D] /= A[i][i];
    }
    CHECK(seq_rec_als_fit(&mf, &d, NULL, c, 1) == SEQ_OK);
    /* the sweep's item half comes after and leaves the user factors as solved */
    for (i = 0; i < D; i++) CHECK_NEAR(mf.user->data[u * D + i], A[i][D], 1e-3);
    seq_rec_mf_free(&mf);
    seq_rec_mf_free(&ref);
    seq_rec_data_free(&d);
}

/* Every baseline saves through seq.h's safetensors and loads back into a fresh model
 * of the same sizes, giving the same scores. */
static void test_baselines_save_load(void) {
    seq_rec_data d;
    seq_rec_mf mf, back;
    seq_rec_itemknn knn, knn2;
    seq_rng rng;
    float a[21], b[21];
    int64_t u = 5, h = 6;
    const char *path = "build/rec_data_test.safetensors";
    seq_rng_seed(&rng, 9);
    make_two_groups(&d, &rng);
    seq_rec_mf_init(&mf, 80, 20, 4, 0.1f, &rng, NULL);
    seq_rec_mf_init(&back, 80, 20, 4, 0.1f, &rng, NULL);
    CHECK(seq_rec_als_fit(&mf, &d, NULL, seq_rec_als_config_default(), 2) == SEQ_OK);
    CHECK(seq_safetensors_save(mf.P, path) == SEQ_OK && seq_safetensors_load(back.P, path) == SEQ_OK);
    seq_rec_mf_score(&mf, &d, &u, &h, 1, a);
    seq_rec_mf_score(&back, &d, &u, &h, 1, b);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    seq_rec_itemknn_init(&knn, 20, seq_rec_itemknn_config_default(), NULL);
    seq_rec_itemknn_init(&knn2, 20, seq_rec_itemknn_config_default(), NULL);
    seq_rec_itemknn_fit(&knn, &d, NULL);
    CHECK(seq_safetensors_save(knn.P, path) == SEQ_OK && seq_safetensors_load(knn2.P, path) == SEQ_OK);
    seq_rec_itemknn_score(&knn, &d, &u, &h, 1, a);
    seq_rec_itemknn_score(&knn2, &d, &u, &h, 1, b);
    CHECK(memcmp(a, b, sizeof(a)) == 0 && a[3] > 0);
    CHECK(seq_safetensors_load(back.P, path) == SEQ_ERR_FORMAT); /* a KNN file is no MF */
    seq_rec_itemknn_free(&knn); seq_rec_itemknn_free(&knn2);
    seq_rec_mf_free(&mf); seq_rec_mf_free(&back);
    seq_rec_data_free(&d);
}

void seq_tests_rec_metrics(void) {
    RUN(test_topk);
    RUN(test_topk_random);
    RUN(test_metrics_hand);
    RUN(test_metrics_multi_target);
    RUN(test_metrics_sampled);
    RUN(test_eval_batches);
    RUN(test_poprec_beauty);
    RUN(test_itemknn_hand);
    RUN(test_bpr_learns);
    RUN(test_als_cg_exact);
    RUN(test_baselines_save_load);
}
