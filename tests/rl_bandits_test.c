/* seq_rl.h sections 1-4: save files, multi-armed and contextual bandits, off-policy
 * evaluation. Temporary files are /tmp/seq_rl_<pid>_*, removed by the end. */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <unistd.h>
#include "seq_test.h"
#include "../seq_rl.h"

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/seq_rl_%ld_%s", (long)getpid(), tag);
}

static long read_file(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

static int write_file(const char *path, const unsigned char *buf, long n) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(buf, 1, (size_t)n, f) == (size_t)n;
    return fclose(f) == 0 && ok;
}

/* ---- 1 save files ---------------------------------------------------------------- */

static void test_crc32_check_value(void) {
    /* the CRC-32 catalogue's check value, and continuation across two calls */
    CHECK(seq_rl_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(seq_rl_crc32(seq_rl_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    CHECK(seq_rl_crc32(0, "", 0) == 0u);
}

static seq_status save_sample(const char *path) {
    double d[3] = {1.5, -0.0, 1e300};
    float f[2] = {3.25f, -7.0f};
    int64_t i[2] = {-5, INT64_MAX};
    seq_rl_save w;
    seq_rl_save_begin(&w, "sample", NULL);
    seq_rl_save_f64s(&w, "d", 3, d);
    seq_rl_save_f32s(&w, "f", 2, f);
    seq_rl_save_i64s(&w, "i", 2, i);
    seq_rl_save_f64s(&w, "empty", 0, NULL);
    return seq_rl_save_end(&w, path);
}

static void test_save_roundtrip(void) {
    char path[256];
    double d[3];
    float f[2];
    int64_t i[2];
    seq_rl_load r;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "roundtrip");
    CHECK(save_sample(path) == SEQ_OK);
    CHECK(seq_rl_load_open(&r, path, "sample", NULL) == SEQ_OK);
    CHECK(strcmp(r.kind, "sample") == 0);
    CHECK(seq_rl_load_f64s(&r, "d", 3, d) == SEQ_OK);
    CHECK(d[0] == 1.5 && d[1] == 0.0 && signbit(d[1]) && d[2] == 1e300);
    CHECK(seq_rl_load_f32s(&r, "f", 2, f) == SEQ_OK && f[0] == 3.25f && f[1] == -7.0f);
    CHECK(seq_rl_load_i64s(&r, "i", 2, i) == SEQ_OK && i[0] == -5 && i[1] == INT64_MAX);
    CHECK(seq_rl_load_f64s(&r, "empty", 0, NULL) == SEQ_OK);
    CHECK(seq_rl_load_count(&r, "d", SEQ_RL_FIELD_F64) == 3);
    CHECK(seq_rl_load_count(&r, "d", SEQ_RL_FIELD_I64) == -1); /* the type is part of the key */
    CHECK(seq_rl_load_count(&r, "nope", SEQ_RL_FIELD_F64) == -1);
    /* the file must describe the object: a missing field or another count is refused */
    CHECK(seq_rl_load_f64s(&r, "nope", 1, d) == SEQ_ERR_FORMAT);
    CHECK(seq_rl_load_f64s(&r, "d", 2, d) == SEQ_ERR_FORMAT);
    CHECK(seq_rl_load_f32s(&r, "d", 3, f) == SEQ_ERR_FORMAT);
    CHECK(seq_rl_load_f64s(&r, "d", 3, NULL) == SEQ_ERR_INVALID);
    seq_rl_load_close(&r);
    CHECK(seq_rl_load_open(&r, path, "other", NULL) == SEQ_ERR_FORMAT);
    CHECK(strstr(seq_last_error(), "sample") != NULL);
    CHECK(seq_rl_load_open(&r, path, NULL, NULL) == SEQ_OK && strcmp(r.kind, "sample") == 0);
    seq_rl_load_close(&r);
    CHECK(seq_test_live_blocks == live);
    remove(path);
}

/* Every truncation and every single-byte change of a valid file is SEQ_ERR_FORMAT. */
static void test_save_corrupt_files(void) {
    char path[256], bad[256];
    unsigned char buf[512], mod[512];
    long n, k;
    int bit, trunc_ok = 1, flip_ok = 1;
    seq_rl_load r;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "corrupt_src");
    tmp_path(bad, sizeof bad, "corrupt");
    CHECK(save_sample(path) == SEQ_OK);
    n = read_file(path, buf, sizeof buf);
    CHECK(n > 40 && n < (long)sizeof buf);
    for (k = 0; k < n; k++) {
        CHECK(write_file(bad, buf, k));
        if (seq_rl_load_open(&r, bad, "sample", NULL) != SEQ_ERR_FORMAT) trunc_ok = 0;
    }
    for (k = 0; k < n; k++)
        for (bit = 0; bit < 8; bit += 3) {
            memcpy(mod, buf, (size_t)n);
            mod[k] ^= (unsigned char)(1u << bit);
            CHECK(write_file(bad, mod, n));
            if (seq_rl_load_open(&r, bad, "sample", NULL) != SEQ_ERR_FORMAT) flip_ok = 0;
        }
    CHECK(trunc_ok);
    CHECK(flip_ok);
    CHECK(seq_test_live_blocks == live);
    CHECK(seq_rl_load_open(&r, "/nonexistent/dir/x.sav", NULL, NULL) == SEQ_ERR_IO);
    remove(path);
    remove(bad);
}

/* A hostile file with a valid checksum: lengths that point past the end are refused
 * by the structural checks, not the CRC. */
static void test_save_hostile_lengths(void) {
    char path[256];
    unsigned char buf[512];
    long n;
    uint32_t crc;
    int k, variant;
    seq_rl_load r;
    tmp_path(path, sizeof path, "hostile");
    for (variant = 0; variant < 4; variant++) {
        CHECK(save_sample(path) == SEQ_OK);
        n = read_file(path, buf, sizeof buf);
        /* layout: magic 8, version 4, kind len 1 + "sample" 6, field count 4, field "d" */
        if (variant == 0) buf[8 + 4 + 1 + 6] = 0xFF;                   /* field count 255 */
        if (variant == 1) memset(buf + 8 + 4 + 7 + 4 + 1 + 1 + 1, 0xFF, 8); /* count 2^64-1 */
        if (variant == 2) buf[8 + 4 + 7 + 4 + 1 + 1] = 7;               /* unknown type */
        if (variant == 3) buf[8 + 4] = 2;                               /* version 2 */
        crc = seq_rl_crc32(0, buf, (size_t)(n - 4));
        for (k = 0; k < 4; k++) buf[n - 4 + k] = (unsigned char)(crc >> (8 * k));
        CHECK(write_file(path, buf, n));
        CHECK_MSG(seq_rl_load_open(&r, path, "sample", NULL) == SEQ_ERR_FORMAT, "variant %d", variant);
    }
    remove(path);
}

static void test_save_errors_keep_old_file(void) {
    char path[256];
    unsigned char before[512], after[512];
    long n0, n1;
    double x = 1.0;
    seq_rl_save w;
    tmp_path(path, sizeof path, "atomic");
    CHECK(save_sample(path) == SEQ_OK);
    n0 = read_file(path, before, sizeof before);
    /* a bad field name sticks: end() reports it and writes nothing */
    seq_rl_save_begin(&w, "sample", NULL);
    CHECK(seq_rl_save_f64s(&w, "", 1, &x) == SEQ_ERR_INVALID);
    CHECK(seq_rl_save_f64s(&w, "ok", 1, &x) == SEQ_ERR_INVALID);
    CHECK(seq_rl_save_end(&w, path) == SEQ_ERR_INVALID);
    seq_rl_save_begin(&w, "sample", NULL);
    CHECK(seq_rl_save_f64s(&w, "neg", -1, &x) == SEQ_ERR_INVALID);
    seq_rl_save_abort(&w);
    CHECK(seq_rl_save_begin(&w, NULL, NULL) == SEQ_ERR_INVALID);
    seq_rl_save_abort(&w);
    /* a directory that does not exist: SEQ_ERR_IO and no stray temporary */
    seq_rl_save_begin(&w, "sample", NULL);
    seq_rl_save_f64s(&w, "x", 1, &x);
    CHECK(seq_rl_save_end(&w, "/nonexistent/dir/x.sav") == SEQ_ERR_IO);
    n1 = read_file(path, after, sizeof after);
    CHECK(n0 == n1 && memcmp(before, after, (size_t)n0) == 0);
    remove(path);
}

static void test_save_oom(void) {
    char path[256];
    seq_rl_load r;
    long k, live = seq_test_live_blocks;
    int done = 0;
    tmp_path(path, sizeof path, "oom");
    for (k = 0; k < 50 && !done; k++) {
        seq_status s;
        seq_test_fail_after(k);
        s = save_sample(path);
        if (s == SEQ_OK) {
            s = seq_rl_load_open(&r, path, "sample", NULL);
            if (s == SEQ_OK) {
                seq_rl_load_close(&r);
                done = 1;
            }
        }
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        CHECK(seq_test_live_blocks == live);
    }
    seq_test_fail_never();
    CHECK(done);
    remove(path);
}


/* ---- 2 multi-armed bandits ----------------------------------------------------------- */

static void test_kl_values(void) {
    /* SMPyBandits kullback.py doctests (printed to 6 decimals, truncated) */
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_BERNOULLI, 0.1, 0.9, 0), 1.7577796, 1e-6);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_BERNOULLI, 0.4, 0.5, 0), 0.0201355, 1e-6);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_BERNOULLI, 0.01, 0.99, 0), 4.5032175, 1e-6);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_BERNOULLI, 0, 1, 0), 34.5395755, 1e-6);
    CHECK(seq_rl_kl(SEQ_RL_KL_BERNOULLI, 0.5, 0.5, 0) == 0.0);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_POISSON, 2, 1, 0), 0.3862945, 1e-6);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_POISSON, 3, 6, 0), 0.9205585, 1e-6);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_POISSON, 1, 0, 0), 33.5387765, 1e-6);
    CHECK(seq_rl_kl(SEQ_RL_KL_GAUSSIAN, 3, 6, 0.25) == 18.0);
    CHECK_NEAR(seq_rl_kl(SEQ_RL_KL_GAUSSIAN, 6, 8, 10), 0.2, 1e-15);
}

static void test_klucb_doctests(void) {
    /* klucbBern, klucbGauss, klucbPoisson(x, d) from SMPyBandits kullback.py: x, d, value
     * printed truncated to 6 decimals, so the truth lies in [value, value + 1e-6) and the
     * bisection to 1e-6 adds at most 5e-7 */
    static const double bern[][3] = {{0.1, 0.2, 0.378391}, {0.5, 0.2, 0.787088}, {0.9, 0.2, 0.994489},
                                     {0.1, 0.4, 0.519475}, {0.1, 0.9, 0.734714}, {0.5, 0.4, 0.871035},
                                     {0.5, 0.9, 0.956809}, {0.9, 0.4, 0.999285}, {0.9, 0.9, 0.999995}};
    static const double gauss[][3] = {{0.1, 0.2, 0.416227}, {0.5, 0.2, 0.816227}, {0.9, 0.2, 1.216227},
                                      {0.1, 0.4, 0.547213}, {0.1, 0.9, 0.770820}, {0.9, 0.9, 1.570820}};
    static const double pois[][3] = {{0.1, 0.2, 0.450523}, {0.5, 0.2, 1.089376}, {0.9, 0.2, 1.640112},
                                     {0.1, 0.4, 0.693684}, {0.1, 0.9, 1.252796}, {0.5, 0.4, 1.422933},
                                     {0.5, 0.9, 2.122985}, {0.9, 0.4, 2.033691}, {0.9, 0.9, 2.831573}};
    int i;
    for (i = 0; i < 9; i++) {
        double v = seq_rl_klucb(SEQ_RL_KL_BERNOULLI, bern[i][0], bern[i][1], 0);
        CHECK_MSG(fabs(v - (bern[i][2] + 5e-7)) <= 1.1e-6, "klucbBern(%g, %g) = %.9f", bern[i][0], bern[i][1], v);
        v = seq_rl_klucb(SEQ_RL_KL_POISSON, pois[i][0], pois[i][1], 0);
        CHECK_MSG(fabs(v - (pois[i][2] + 5e-7)) <= 1.1e-6, "klucbPoisson(%g, %g) = %.9f", pois[i][0], pois[i][1], v);
    }
    for (i = 0; i < 6; i++) {
        double v = seq_rl_klucb(SEQ_RL_KL_GAUSSIAN, gauss[i][0], gauss[i][1], 0.25);
        CHECK_MSG(v >= gauss[i][2] && v < gauss[i][2] + 1e-6, "klucbGauss(%g, %g) = %.9f", gauss[i][0], gauss[i][1], v);
    }
    CHECK(isnan(seq_rl_klucb(SEQ_RL_KL_BERNOULLI, 0.5, -1.0, 0)));
    CHECK(isnan(seq_rl_klucb(SEQ_RL_KL_BERNOULLI, NAN, 0.1, 0)));
    CHECK(seq_rl_klucb(SEQ_RL_KL_BERNOULLI, 0.3, 0.0, 0) - 0.3 < 1e-6);
}

static void test_lai_robbins(void) {
    double m2[2] = {0.1, 0.5}, m9[9], C = 0, bad[2] = {0.5, 1.5};
    int i;
    /* 0.4 / kl(0.1, 0.5), and the 9-arm instance of the regret tests (evaluated in
     * double by hand: sum of (0.95 - mu) / kl(mu, 0.95)) */
    CHECK(seq_rl_lai_robbins(m2, 2, &C) == SEQ_OK);
    CHECK_NEAR(C, 1.0867669069947976, 1e-12);
    for (i = 0; i < 9; i++) m9[i] = 0.05 + 0.1125 * i;
    CHECK(seq_rl_lai_robbins(m9, 9, &C) == SEQ_OK);
    CHECK_NEAR(C, 4.934115644319873, 1e-12);
    CHECK(seq_rl_lai_robbins(m2, 1, &C) == SEQ_OK && C == 0.0); /* one arm: nothing to lose */
    CHECK(seq_rl_lai_robbins(bad, 2, &C) == SEQ_ERR_INVALID);
    CHECK(seq_rl_lai_robbins(m2, 0, &C) == SEQ_ERR_INVALID);
}

/* Mean regret of a policy over `runs` seeded runs of T rounds on Bernoulli arms. */
static double bernoulli_regret(seq_rl_bandit_config cfg, const double *means, int64_t T, int runs) {
    double best = 0, total = 0;
    int64_t t, i;
    int run;
    for (i = 0; i < cfg.arms; i++) best = fmax(best, means[i]);
    cfg.propensity_draws = 0; /* the regret does not need Thompson's propensities */
    for (run = 0; run < runs; run++) {
        seq_rl_bandit b;
        seq_rng rng;
        seq_rl_choice c;
        seq_rng_seed(&rng, 1000 + (uint64_t)run);
        if (seq_rl_bandit_init(&b, &cfg, NULL) != SEQ_OK) return INFINITY;
        for (t = 0; t < T; t++) {
            seq_rl_bandit_select(&b, &rng, &c);
            seq_rl_bandit_update(&b, &c, seq_rng_double(&rng) < means[c.arm] ? 1.0 : 0.0);
            total += best - means[c.arm];
        }
        seq_rl_bandit_free(&b);
    }
    return total / runs;
}

/* The instance at a tenth of the bench's runs (bench/rl.c runs 100): the bounds
 * leave room for the noise of 10 runs, still far below what a weaker policy gets. */
static void test_regret_nine_bernoulli_arms(void) {
    double m[9], r;
    int i;
    for (i = 0; i < 9; i++) m[i] = 0.05 + 0.1125 * i;
    r = bernoulli_regret(seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_BETA, 9), m, 10000, 10);
    CHECK_MSG(r <= 50, "Thompson regret %.1f", r);
    r = bernoulli_regret(seq_rl_bandit_config_default(SEQ_RL_BANDIT_KL_UCB, 9), m, 10000, 10);
    CHECK_MSG(r <= 70, "KL-UCB regret %.1f", r);
    r = bernoulli_regret(seq_rl_bandit_config_default(SEQ_RL_BANDIT_UCB1, 9), m, 10000, 10);
    CHECK_MSG(r <= 380 && r >= 100, "UCB1 regret %.1f", r);
}

/* Exp3 is sublinear: the regret of 4x the rounds is well under 4x the regret. */
static void test_regret_exp3_sublinear(void) {
    double m[9], r1, r4;
    seq_rl_bandit_config c1 = seq_rl_bandit_config_default(SEQ_RL_BANDIT_EXP3, 9), c4 = c1;
    int i;
    for (i = 0; i < 9; i++) m[i] = 0.05 + 0.1125 * i;
    c1.horizon = 2500;
    c4.horizon = 10000;
    r1 = bernoulli_regret(c1, m, 2500, 5);
    r4 = bernoulli_regret(c4, m, 10000, 5);
    CHECK_MSG(r4 < 2.6 * r1 && r4 < 0.2 * 10000 * 0.45, "Exp3 regret %.1f at T=2500, %.1f at T=10000", r1, r4);
}

/* Every policy finds the best of three Bernoulli arms; the policies that know their
 * distribution report propensities that are probabilities. */
static void test_every_kind_learns(void) {
    static const double m[3] = {0.2, 0.5, 0.8};
    int k;
    for (k = 0; k < SEQ_RL_BANDIT_KIND_COUNT; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default((seq_rl_bandit_kind)k, 3);
        seq_rl_bandit b;
        seq_rl_choice c;
        seq_rng rng;
        int64_t t, pulls[3] = {0, 0, 0};
        int prob_ok = 1;
        seq_rng_seed(&rng, 7);
        cfg.propensity_draws = 20;
        CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
        for (t = 0; t < 3000; t++) {
            double r;
            CHECK(seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK);
            if (!(c.prob > 0 && c.prob <= 1) || c.id != t) prob_ok = 0;
            if (t >= 2000) pulls[c.arm]++;
            r = seq_rng_double(&rng) < m[c.arm];
            if (k == SEQ_RL_BANDIT_THOMPSON_PARETO) /* Pareto(1, shape) by inversion: means 1.2, 1.5, 3 */
                r = pow(1.0 - seq_rng_double(&rng), -1.0 / (c.arm == 0 ? 6.0 : c.arm == 1 ? 3.0 : 1.5));
            if (k == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN) r += seq_rng_normal(&rng, 0, 0.1);
            CHECK(seq_rl_bandit_update(&b, &c, r) == SEQ_OK);
        }
        CHECK_MSG(pulls[2] > 600, "%s pulled the best arm %lld of the last 1000 times", seq_rl_bandit_kind_name((seq_rl_bandit_kind)k),
                  (long long)pulls[2]);
        CHECK_MSG(prob_ok, "%s", seq_rl_bandit_kind_name((seq_rl_bandit_kind)k));
        if (k != SEQ_RL_BANDIT_THOMPSON_PARETO) CHECK_NEAR(seq_rl_bandit_mean(&b, 2), 0.8, 0.1);
        seq_rl_bandit_free(&b);
    }
}

/* Propensities are the probabilities the policy used: softmax and eps-greedy exactly,
 * Thompson's estimate close to the empirical frequency of its choices. */
static void test_propensities(void) {
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_SOFTMAX, 2);
    seq_rl_bandit b;
    seq_rl_choice c0 = {0, 1.0, -1}, c1 = {1, 1.0, -1}, c;
    seq_rng rng;
    double z, p_est = 0;
    int i, hits = 0;
    seq_rng_seed(&rng, 3);
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
    seq_rl_bandit_update(&b, &c0, 0.2);
    seq_rl_bandit_update(&b, &c1, 0.3);
    CHECK(seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK);
    z = exp(2.0) + exp(3.0); /* temperature 0.1 */
    CHECK_NEAR(c.prob, (c.arm == 0 ? exp(2.0) : exp(3.0)) / z, 1e-12);
    seq_rl_bandit_free(&b);

    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_EPSILON_GREEDY, 4);
    cfg.epsilon = 0.2;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
    for (i = 0; i < 4; i++) {
        c0.arm = i;
        seq_rl_bandit_update(&b, &c0, i == 2 ? 0.9 : 0.1);
    }
    CHECK(seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK);
    CHECK_NEAR(c.prob, c.arm == 2 ? 0.8 + 0.05 : 0.05, 1e-12);
    seq_rl_bandit_free(&b);

    /* Beta Thompson, arm 0 at Beta(3,2), arm 1 at Beta(2,2): P(arm 0) = 22/35 (the
     * integral of Beta(2,2)'s density times Beta(3,2)'s upper tail, a polynomial) */
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_BETA, 2);
    cfg.propensity_draws = 400;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
    c0.arm = 0;
    seq_rl_bandit_update(&b, &c0, 1.0);
    seq_rl_bandit_update(&b, &c0, 1.0);
    seq_rl_bandit_update(&b, &c0, 0.0);
    seq_rl_bandit_update(&b, &c1, 1.0);
    seq_rl_bandit_update(&b, &c1, 0.0);
    for (i = 0; i < 200; i++) {
        CHECK(seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK);
        hits += c.arm == 0;
        p_est += c.arm == 0 ? c.prob : 1.0 - c.prob;
    }
    CHECK_NEAR(p_est / 200, 22.0 / 35.0, 0.02);
    CHECK_NEAR(hits / 200.0, 22.0 / 35.0, 0.1);
    seq_rl_bandit_free(&b);
}

/* Arms change at half time, (0.8, 0.5) to (0.4, 0.6): the forgetting policies follow,
 * UCB1's long memory keeps it on its old favourite. */
static void test_drifting_arms(void) {
    static const seq_rl_bandit_kind kinds[3] = {SEQ_RL_BANDIT_DISCOUNTED_UCB, SEQ_RL_BANDIT_SLIDING_WINDOW_UCB,
                                                SEQ_RL_BANDIT_UCB1};
    int64_t late[3] = {0, 0, 0}, t;
    int k;
    for (k = 0; k < 3; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default(kinds[k], 2);
        seq_rl_bandit b;
        seq_rl_choice c;
        seq_rng rng;
        seq_rng_seed(&rng, 11);
        cfg.gamma = kinds[k] == SEQ_RL_BANDIT_DISCOUNTED_UCB ? 0.99 : cfg.gamma;
        cfg.window = 200;
        CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
        for (t = 0; t < 6000; t++) {
            double p;
            seq_rl_bandit_select(&b, &rng, &c);
            p = t < 3000 ? (c.arm == 0 ? 0.8 : 0.5) : (c.arm == 0 ? 0.4 : 0.6);
            if (t >= 4000) late[k] += c.arm == 1;
            seq_rl_bandit_update(&b, &c, seq_rng_double(&rng) < p);
        }
        seq_rl_bandit_free(&b);
    }
    CHECK_MSG(late[0] > 1200 && late[1] > 1200 && late[2] < late[0] && late[2] < late[1],
              "new best arm chosen late: D-UCB %lld, SW-UCB %lld, UCB1 %lld", (long long)late[0], (long long)late[1],
              (long long)late[2]);
}

/* Heavy tails: Pareto arms of shape 3 and 1.5 (means 1.5 and 3); Thompson with the
 * conjugate shape prior finds the heavy one that pays more. */
static void test_thompson_pareto_heavy_tails(void) {
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_PARETO, 2);
    seq_rl_bandit b;
    seq_rl_choice c;
    seq_rng rng;
    static const double shape[2] = {3.0, 1.5};
    int64_t t, late = 0;
    cfg.propensity_draws = 0;
    seq_rng_seed(&rng, 5);
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
    for (t = 0; t < 2000; t++) {
        CHECK(seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK && isnan(c.prob));
        late += t >= 1000 && c.arm == 1;
        CHECK(seq_rl_bandit_update(&b, &c, pow(1.0 - seq_rng_double(&rng), -1.0 / shape[c.arm])) == SEQ_OK);
    }
    CHECK_MSG(late > 900, "heavier arm %lld of the last 1000", (long long)late);
    CHECK(seq_rl_bandit_update(&b, &c, 0.5) == SEQ_ERR_RANGE); /* below x_m */
    seq_rl_bandit_free(&b);
}

/* Everything an update may change, as one comparable snapshot. */
typedef struct {
    double stats[64];
    int64_t counters[2], pend[16];
} bandit_snap;

static void snap(const seq_rl_bandit *b, bandit_snap *s) {
    memset(s, 0, sizeof *s);
    memcpy(s->stats, b->stats, (size_t)(b->cfg.arms * 4) * sizeof(double));
    s->counters[0] = b->decisions;
    s->counters[1] = b->updates;
    memcpy(s->pend, b->pend_id, (size_t)b->cfg.max_pending * sizeof(int64_t));
}

static void test_bad_updates_change_nothing(void) {
    static const double bad_rewards[] = {NAN, INFINITY, -INFINITY, -0.5, 1.5};
    int k, i;
    for (k = 0; k < SEQ_RL_BANDIT_KIND_COUNT; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default((seq_rl_bandit_kind)k, 3);
        seq_rl_bandit b;
        seq_rl_choice c, bad;
        seq_rng rng;
        bandit_snap before, after;
        int same = 1;
        double ok_reward = k == SEQ_RL_BANDIT_THOMPSON_PARETO ? 2.0 : 0.5;
        cfg.max_pending = 16;
        cfg.propensity_draws = 5;
        seq_rng_seed(&rng, 9);
        CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_OK);
        for (i = 0; i < 5; i++) {
            seq_rl_bandit_select(&b, &rng, &c);
            seq_rl_bandit_update(&b, &c, ok_reward);
        }
        seq_rl_bandit_select(&b, &rng, &c);
        snap(&b, &before);
        CHECK(seq_rl_bandit_update_id(&b, c.id, NAN) == SEQ_ERR_INVALID);
        for (i = 0; i < 5; i++) {
            seq_status s = seq_rl_bandit_update(&b, &c, bad_rewards[i]);
            int unbounded = k == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN || (k == SEQ_RL_BANDIT_THOMPSON_PARETO && i == 4);
            if (i < 3) CHECK(s == SEQ_ERR_INVALID);
            else if (!unbounded) CHECK_MSG(s == SEQ_ERR_RANGE, "%s reward %g", seq_rl_bandit_kind_name((seq_rl_bandit_kind)k), bad_rewards[i]);
            if (s == SEQ_OK) same = 0; /* a reward this policy takes: not a refusal test */
        }
        bad = c;
        bad.arm = 3;
        CHECK(seq_rl_bandit_update(&b, &bad, ok_reward) == SEQ_ERR_RANGE);
        bad.arm = -1;
        CHECK(seq_rl_bandit_update(&b, &bad, ok_reward) == SEQ_ERR_RANGE);
        bad = c;
        bad.prob = 0.0;
        CHECK(seq_rl_bandit_update(&b, &bad, ok_reward) == SEQ_ERR_INVALID);
        bad.prob = 1.5;
        CHECK(seq_rl_bandit_update(&b, &bad, ok_reward) == SEQ_ERR_INVALID);
        CHECK(seq_rl_bandit_update_id(&b, c.id + 1, ok_reward) == SEQ_ERR_RANGE);
        snap(&b, &after);
        if (same) CHECK_MSG(memcmp(&before, &after, sizeof before) == 0, "%s changed on a refused update",
                            seq_rl_bandit_kind_name((seq_rl_bandit_kind)k));
        seq_rl_bandit_free(&b);
    }
}

static void test_bad_configs(void) {
    seq_rl_bandit b;
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_UCB1, 0);
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID); /* zero arms */
    CHECK(strstr(seq_last_error(), "arms") != NULL);
    cfg.arms = 3;
    cfg.reward_max = cfg.reward_min;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_DISCOUNTED_UCB, 3);
    cfg.gamma = 1.0;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_SOFTMAX, 3);
    cfg.temperature = NAN;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    cfg = seq_rl_bandit_config_default((seq_rl_bandit_kind)SEQ_RL_BANDIT_KIND_COUNT, 3);
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rl_bandit_select(NULL, NULL, NULL) == SEQ_ERR_INVALID);
    /* sizes whose byte counts overflow (found by fuzz_saves as a loaded arm count): the
     * allocations would wrap to a few bytes */
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_UCB1, (int64_t)1 << 62);
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_SLIDING_WINDOW_UCB, 3);
    cfg.window = (int64_t)1 << 61;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_UCB1, 3);
    cfg.max_pending = (int64_t)1 << 61;
    CHECK(seq_rl_bandit_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
}

static void test_delayed_rewards(void) {
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_UCB1, 3);
    seq_rl_bandit now, later;
    seq_rl_choice c[6];
    seq_rng r1, r2;
    int i;
    cfg.max_pending = 4;
    seq_rng_seed(&r1, 1);
    CHECK(seq_rl_bandit_init(&later, &cfg, NULL) == SEQ_OK);
    for (i = 0; i < 6; i++) CHECK(seq_rl_bandit_select(&later, &r1, &c[i]) == SEQ_OK && c[i].id == i);
    /* the last 4 decisions wait; 0 and 1 fell out of the table */
    CHECK(seq_rl_bandit_update_id(&later, 0, 1.0) == SEQ_ERR_RANGE);
    CHECK(seq_rl_bandit_update_id(&later, 5, 1.0) == SEQ_OK);
    CHECK(seq_rl_bandit_update_id(&later, 5, 1.0) == SEQ_ERR_RANGE); /* rewarded once only */
    CHECK(seq_rl_bandit_update_id(&later, 3, 0.0) == SEQ_OK);
    CHECK(seq_rl_bandit_update(&later, &c[2], 0.5) == SEQ_OK);
    CHECK(seq_rl_bandit_update_id(&later, 2, 0.5) == SEQ_ERR_RANGE); /* update() consumed it */
    CHECK(seq_rl_bandit_update_id(&later, 6, 0.5) == SEQ_ERR_RANGE); /* not decided yet */
    CHECK(later.updates == 3);
    /* the same rewards given at once, in another order: the same statistics */
    CHECK(seq_rl_bandit_init(&now, &cfg, NULL) == SEQ_OK);
    seq_rng_seed(&r2, 1);
    seq_rl_bandit_update(&now, &c[2], 0.5);
    seq_rl_bandit_update(&now, &c[3], 0.0);
    seq_rl_bandit_update(&now, &c[5], 1.0);
    for (i = 0; i < 3; i++) {
        CHECK(now.stats[4 * i] == later.stats[4 * i]);
        CHECK_NEAR(now.stats[4 * i + 1], later.stats[4 * i + 1], 1e-15);
    }
    seq_rl_bandit_free(&now);
    seq_rl_bandit_free(&later);
}

/* Save mid-run, load, and both continue identically, for every kind. */
static void test_bandit_save_load_every_kind(void) {
    char path[256];
    int k;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "bandit");
    for (k = 0; k < SEQ_RL_BANDIT_KIND_COUNT; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default((seq_rl_bandit_kind)k, 4);
        seq_rl_bandit a, b;
        seq_rl_choice ca, cb;
        seq_rng ra, rb;
        int i, same = 1;
        double r = k == SEQ_RL_BANDIT_THOMPSON_PARETO ? 1.0 : 0.0;
        cfg.window = 7;
        cfg.max_pending = 8;
        cfg.propensity_draws = 3;
        seq_rng_seed(&ra, 21);
        CHECK(seq_rl_bandit_init(&a, &cfg, NULL) == SEQ_OK);
        for (i = 0; i < 30; i++) {
            seq_rl_bandit_select(&a, &ra, &ca);
            if (i % 3) seq_rl_bandit_update(&a, &ca, r + (ca.arm == 2 ? 1.0 : 0.25));
        }
        CHECK(seq_rl_bandit_save(&a, path) == SEQ_OK);
        CHECK(seq_rl_bandit_load(&b, path, NULL) == SEQ_OK);
        CHECK(memcmp(&a.cfg, &b.cfg, sizeof a.cfg) == 0);
        rb = ra;
        CHECK(seq_rl_bandit_update_id(&b, 27, r + 0.5) == SEQ_OK && seq_rl_bandit_update_id(&a, 27, r + 0.5) == SEQ_OK);
        for (i = 0; i < 30; i++) {
            seq_rl_bandit_select(&a, &ra, &ca);
            seq_rl_bandit_select(&b, &rb, &cb);
            if (ca.arm != cb.arm || ca.id != cb.id || memcmp(&ca.prob, &cb.prob, sizeof ca.prob) != 0) same = 0;
            seq_rl_bandit_update(&a, &ca, r + 0.75);
            seq_rl_bandit_update(&b, &cb, r + 0.75);
        }
        CHECK_MSG(same && memcmp(a.stats, b.stats, 4 * 4 * sizeof(double)) == 0, "%s", seq_rl_bandit_kind_name((seq_rl_bandit_kind)k));
        seq_rl_bandit_free(&a);
        seq_rl_bandit_free(&b);
    }
    CHECK(seq_test_live_blocks == live);
    remove(path);
}

/* A bandit file that is damaged anywhere, or holds another object, does not load. */
static void test_bandit_load_refuses_bad_files(void) {
    char path[256], other[256];
    unsigned char buf[2048];
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_SLIDING_WINDOW_UCB, 3);
    seq_rl_bandit a, b;
    long n, k;
    int ok = 1;
    tmp_path(path, sizeof path, "bandit_bad");
    tmp_path(other, sizeof other, "bandit_other");
    cfg.window = 5;
    cfg.max_pending = 4;
    CHECK(seq_rl_bandit_init(&a, &cfg, NULL) == SEQ_OK);
    CHECK(seq_rl_bandit_save(&a, path) == SEQ_OK);
    n = read_file(path, buf, sizeof buf);
    CHECK(n > 0 && n < (long)sizeof buf);
    for (k = 0; k < n; k += 3) {
        buf[k] ^= 0x20;
        write_file(other, buf, n);
        buf[k] ^= 0x20;
        if (seq_rl_bandit_load(&b, other, NULL) != SEQ_ERR_FORMAT) ok = 0;
    }
    CHECK(ok);
    CHECK(save_sample(other) == SEQ_OK);
    CHECK(seq_rl_bandit_load(&b, other, NULL) == SEQ_ERR_FORMAT);
    seq_rl_bandit_free(&a);
    remove(path);
    remove(other);
}

static void test_bandit_oom(void) {
    seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_SLIDING_WINDOW_UCB, 5);
    seq_rl_bandit b;
    long k, live = seq_test_live_blocks;
    int done = 0;
    for (k = 0; k < 20 && !done; k++) {
        seq_status s;
        seq_test_fail_after(k);
        s = seq_rl_bandit_init(&b, &cfg, NULL);
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        if (s == SEQ_OK) {
            seq_rl_bandit_free(&b);
            done = 1;
        }
        CHECK(seq_test_live_blocks == live);
    }
    seq_test_fail_never();
    CHECK(done);
}

/* ---- 3 contextual bandits ------------------------------------------------------------ */

/* Solves the dense d x d system M t = v in place by Gaussian elimination with partial
 * pivoting: the reference the Cholesky path is compared with. */
static void ref_solve(double *M, double *v, int d) {
    int i, j, k;
    for (k = 0; k < d; k++) {
        int p = k;
        for (i = k + 1; i < d; i++)
            if (fabs(M[i * d + k]) > fabs(M[p * d + k])) p = i;
        for (j = 0; j < d; j++) {
            double t = M[k * d + j];
            M[k * d + j] = M[p * d + j], M[p * d + j] = t;
        }
        { double t = v[k]; v[k] = v[p], v[p] = t; }
        for (i = k + 1; i < d; i++) {
            double f = M[i * d + k] / M[k * d + k];
            for (j = k; j < d; j++) M[i * d + j] -= f * M[k * d + j];
            v[i] -= f * v[k];
        }
    }
    for (i = d - 1; i >= 0; i--) {
        for (j = i + 1; j < d; j++) v[i] -= M[i * d + j] * v[j];
        v[i] /= M[i * d + i];
    }
}

/* After 40 rank-1 updates: L L^T = lambda I + sum x x^T, theta = A^-1 b, and the LinUCB
 * index equals x.theta + alpha sqrt(x^T A^-1 x) computed densely. */
static void test_linear_cholesky_matches_dense(void) {
    enum { D = 6 };
    seq_rl_linear_config cfg = seq_rl_linear_config_default(SEQ_RL_LINUCB, 1, D);
    seq_rl_linear b;
    seq_rl_choice c = {0, 1.0, 0};
    seq_rng rng;
    double A[D * D], bv[D], x[D], M[D * D], v[D], LLt, err = 0, q;
    int i, j, k, t;
    cfg.lambda = 0.5;
    cfg.alpha = 0.7;
    seq_rng_seed(&rng, 41);
    CHECK(seq_rl_linear_init(&b, &cfg, NULL) == SEQ_OK);
    memset(A, 0, sizeof A);
    memset(bv, 0, sizeof bv);
    for (i = 0; i < D; i++) A[i * D + i] = 0.5;
    for (t = 0; t < 40; t++) {
        double r = seq_rng_normal(&rng, 0, 1);
        for (i = 0; i < D; i++) x[i] = seq_rng_normal(&rng, 0, 1);
        for (i = 0; i < D; i++) {
            bv[i] += r * x[i];
            for (j = 0; j < D; j++) A[i * D + j] += x[i] * x[j];
        }
        CHECK(seq_rl_linear_update(&b, x, &c, r) == SEQ_OK);
    }
    for (i = 0; i < D; i++)
        for (j = 0; j < D; j++) {
            for (LLt = 0, k = 0; k < D; k++) LLt += b.L[i * D + k] * b.L[j * D + k];
            err = fmax(err, fabs(LLt - A[i * D + j]));
        }
    CHECK_MSG(err < 1e-10, "L L^T off by %g", err);
    memcpy(M, A, sizeof A);
    memcpy(v, bv, sizeof bv);
    ref_solve(M, v, D);
    for (i = 0; i < D; i++) CHECK_NEAR(b.theta[i], v[i], 1e-10);
    /* the index through select's scores */
    for (i = 0; i < D; i++) x[i] = seq_rng_normal(&rng, 0, 1);
    CHECK(seq_rl_linear_select(&b, x, 0, &rng, &c) == SEQ_OK && c.prob == 1.0);
    memcpy(M, A, sizeof A);
    memcpy(v, x, sizeof x);
    ref_solve(M, v, D);
    for (q = 0, i = 0; i < D; i++) q += x[i] * v[i];
    for (t = 0, err = 0; t < D; t++) err += x[t] * b.theta[t];
    CHECK_NEAR(b.work[0], err + 0.7 * sqrt(q), 1e-10);
    seq_rl_linear_free(&b);
}

/* Four arms with hidden linear payoffs in 5 features, a fresh shared context each round:
 * both policies end up choosing the best arm for the context most of the time. */
static void test_linear_bandits_learn(void) {
    enum { K = 4, D = 5 };
    int kind;
    for (kind = 0; kind < SEQ_RL_LINEAR_KIND_COUNT; kind++) {
        seq_rl_linear_config cfg = seq_rl_linear_config_default((seq_rl_linear_kind)kind, K, D);
        seq_rl_linear b;
        seq_rl_choice c;
        seq_rng rng;
        double theta[K * D], x[D];
        int t, a, i, right = 0, prob_ok = 1;
        seq_rng_seed(&rng, 43 + (uint64_t)kind);
        for (i = 0; i < K * D; i++) theta[i] = seq_rng_normal(&rng, 0, 1);
        cfg.alpha = kind == SEQ_RL_LINUCB ? 1.0 : 0.3;
        cfg.propensity_draws = 10;
        CHECK(seq_rl_linear_init(&b, &cfg, NULL) == SEQ_OK);
        for (t = 0; t < 1500; t++) {
            int best = 0;
            double best_v = -INFINITY;
            for (i = 0; i < D; i++) x[i] = seq_rng_normal(&rng, 0, 1);
            for (a = 0; a < K; a++) {
                double v = 0;
                for (i = 0; i < D; i++) v += theta[a * D + i] * x[i];
                if (v > best_v) best_v = v, best = a;
            }
            CHECK(seq_rl_linear_select(&b, x, 0, &rng, &c) == SEQ_OK);
            if (!(c.prob > 0 && c.prob <= 1)) prob_ok = 0;
            right += t >= 1000 && c.arm == best;
            {
                double r = seq_rng_normal(&rng, 0, 0.1);
                for (i = 0; i < D; i++) r += theta[c.arm * D + i] * x[i];
                CHECK(seq_rl_linear_update(&b, x, &c, r) == SEQ_OK);
            }
        }
        CHECK_MSG(right > 400 && prob_ok, "kind %d: best arm %d of the last 500", kind, right);
        seq_rl_linear_free(&b);
    }
}

static void test_linear_bad_input_and_save(void) {
    enum { K = 3, D = 4 };
    seq_rl_linear_config cfg = seq_rl_linear_config_default(SEQ_RL_LINTS, K, D);
    seq_rl_linear a, b;
    seq_rl_choice c, ca, cb;
    seq_rng rng, rb;
    double x[K * D], L0[K * D * D];
    char path[256];
    int i, same = 1;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "linear");
    seq_rng_seed(&rng, 47);
    for (i = 0; i < K * D; i++) x[i] = seq_rng_normal(&rng, 0, 1);
    CHECK(seq_rl_linear_init(&a, &cfg, NULL) == SEQ_OK);
    for (i = 0; i < 20; i++) {
        seq_rl_linear_select(&a, x, D, &rng, &c);
        seq_rl_linear_update(&a, x + c.arm * D, &c, 0.1 * i);
    }
    memcpy(L0, a.L, sizeof L0);
    c.arm = K;
    CHECK(seq_rl_linear_update(&a, x, &c, 1.0) == SEQ_ERR_RANGE);
    c.arm = 0;
    CHECK(seq_rl_linear_update(&a, x, &c, NAN) == SEQ_ERR_INVALID);
    c.prob = 0;
    CHECK(seq_rl_linear_update(&a, x, &c, 1.0) == SEQ_ERR_INVALID);
    c.prob = 0.5;
    x[1] = INFINITY;
    CHECK(seq_rl_linear_update(&a, x, &c, 1.0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_linear_select(&a, x, D, &rng, &c) == SEQ_ERR_INVALID);
    x[1] = 0.25;
    CHECK(memcmp(L0, a.L, sizeof L0) == 0 && a.updates == 20);
    cfg.dim = 0;
    CHECK(seq_rl_linear_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rl_linear_save(&a, path) == SEQ_OK);
    CHECK(seq_rl_linear_load(&b, path, NULL) == SEQ_OK);
    rb = rng;
    for (i = 0; i < 10; i++) {
        seq_rl_linear_select(&a, x, D, &rng, &ca);
        seq_rl_linear_select(&b, x, D, &rb, &cb);
        if (ca.arm != cb.arm || ca.prob != cb.prob || ca.id != cb.id) same = 0;
        seq_rl_linear_update(&a, x + ca.arm * D, &ca, 1.0);
        seq_rl_linear_update(&b, x + cb.arm * D, &cb, 1.0);
    }
    CHECK(same && memcmp(a.theta, b.theta, K * D * sizeof(double)) == 0);
    seq_rl_linear_free(&a);
    seq_rl_linear_free(&b);
    CHECK(save_sample(path) == SEQ_OK);
    CHECK(seq_rl_linear_load(&b, path, NULL) == SEQ_ERR_FORMAT);
    CHECK(seq_test_live_blocks == live);
    remove(path);
}

/* The finite-set posterior after 5 rewards equals the textbook GP regression,
 * mu(z) = k(z, X) (K_XX + noise I)^-1 y, computed densely. */
static void test_gp_posterior_matches_dense(void) {
    enum { K = 8 };
    double pts[K], y[5], M[25], v[5];
    int idx[5] = {1, 6, 3, 6, 0}, i, j;
    seq_rl_gp_config cfg;
    seq_rl_gp b;
    seq_rl_choice c = {0, 1.0, 0};
    for (i = 0; i < K; i++) pts[i] = 0.3 * i;
    cfg = seq_rl_gp_config_default(SEQ_RL_GP_UCB, K, 1, pts);
    cfg.lengthscale = 0.5;
    cfg.noise = 0.1;
    CHECK(seq_rl_gp_init(&b, &cfg, NULL) == SEQ_OK);
    for (i = 0; i < 5; i++) {
        y[i] = sin(3.0 * pts[idx[i]]) + 0.1 * i;
        c.arm = idx[i];
        CHECK(seq_rl_gp_update(&b, &c, y[i]) == SEQ_OK);
    }
    for (i = 0; i < 5; i++)
        for (j = 0; j < 5; j++) {
            double d = pts[idx[i]] - pts[idx[j]];
            M[i * 5 + j] = exp(-0.5 * d * d / 0.25) + (i == j ? 0.1 : 0.0);
        }
    memcpy(v, y, sizeof y);
    ref_solve(M, v, 5);
    for (i = 0; i < K; i++) {
        double mu = 0;
        for (j = 0; j < 5; j++) {
            double d = pts[i] - pts[idx[j]];
            mu += exp(-0.5 * d * d / 0.25) * v[j];
        }
        CHECK_NEAR(b.mu[i], mu, 1e-9);
    }
    seq_rl_gp_free(&b);
}

/* 60 points on [0,1], payoff peaked at 0.7: both GP policies settle near the peak. */
static void test_gp_bandits_find_the_peak(void) {
    enum { K = 60 };
    double pts[K];
    int kind, i;
    for (i = 0; i < K; i++) pts[i] = i / (double)(K - 1);
    for (kind = 0; kind < SEQ_RL_GP_KIND_COUNT; kind++) {
        seq_rl_gp_config cfg = seq_rl_gp_config_default((seq_rl_gp_kind)kind, K, 1, pts);
        seq_rl_gp b;
        seq_rl_choice c;
        seq_rng rng;
        int t, near = 0;
        cfg.lengthscale = 0.1;
        cfg.propensity_draws = 5;
        seq_rng_seed(&rng, 53);
        CHECK(seq_rl_gp_init(&b, &cfg, NULL) == SEQ_OK);
        for (t = 0; t < 80; t++) {
            double z;
            CHECK(seq_rl_gp_select(&b, &rng, &c) == SEQ_OK && c.prob > 0 && c.prob <= 1);
            z = pts[c.arm];
            near += t >= 60 && fabs(z - 0.7) < 0.06;
            CHECK(seq_rl_gp_update(&b, &c, exp(-(z - 0.7) * (z - 0.7) / 0.02) + seq_rng_normal(&rng, 0, 0.05)) == SEQ_OK);
        }
        CHECK_MSG(near >= 14, "%s: %d of the last 20 near the peak", kind ? "IRGP-UCB" : "GP-UCB", near);
        seq_rl_gp_free(&b);
    }
}

static void test_gp_bad_input_and_save(void) {
    double pts[6] = {0, 0, 1, 0, 0, 1};
    seq_rl_gp_config cfg = seq_rl_gp_config_default(SEQ_RL_IRGP_UCB, 3, 2, pts);
    seq_rl_gp a, b;
    seq_rl_choice c, cb;
    seq_rng rng, rb;
    double cov0[9];
    char path[256];
    int i, same = 1;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "gp");
    seq_rng_seed(&rng, 59);
    CHECK(seq_rl_gp_init(&a, &cfg, NULL) == SEQ_OK);
    for (i = 0; i < 6; i++) {
        seq_rl_gp_select(&a, &rng, &c);
        seq_rl_gp_update(&a, &c, 0.3 * c.arm);
    }
    memcpy(cov0, a.cov, sizeof cov0);
    c.arm = 3;
    CHECK(seq_rl_gp_update(&a, &c, 1.0) == SEQ_ERR_RANGE);
    c.arm = 0;
    CHECK(seq_rl_gp_update(&a, &c, INFINITY) == SEQ_ERR_INVALID);
    c.prob = 0;
    CHECK(seq_rl_gp_update(&a, &c, 1.0) == SEQ_ERR_INVALID);
    CHECK(memcmp(cov0, a.cov, sizeof cov0) == 0 && a.updates == 6);
    pts[3] = NAN;
    CHECK(seq_rl_gp_init(&b, &cfg, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rl_gp_save(&a, path) == SEQ_OK);
    CHECK(seq_rl_gp_load(&b, path, NULL) == SEQ_OK);
    rb = rng;
    for (i = 0; i < 10; i++) {
        seq_rl_gp_select(&a, &rng, &c);
        seq_rl_gp_select(&b, &rb, &cb);
        if (c.arm != cb.arm || c.prob != cb.prob) same = 0;
        seq_rl_gp_update(&a, &c, 0.5);
        seq_rl_gp_update(&b, &cb, 0.5);
    }
    CHECK(same && memcmp(a.mu, b.mu, 3 * sizeof(double)) == 0);
    seq_rl_gp_free(&a);
    seq_rl_gp_free(&b);
    CHECK(save_sample(path) == SEQ_OK);
    CHECK(seq_rl_gp_load(&b, path, NULL) == SEQ_ERR_FORMAT);
    CHECK(seq_test_live_blocks == live);
    remove(path);
}

/* Inverse gap weighting: the formula, a distribution, and a bandit it solves (the oracle
 * here is the running mean reward per arm, the simplest regressor). */
static void test_squarecb(void) {
    double pred[3] = {0.2, 0.5, 0.4}, p[3], m[3] = {0.3, 0.7, 0.5}, sum[3] = {0}, cnt[3] = {0};
    seq_rl_choice c;
    seq_rng rng;
    int t, late = 0;
    CHECK(seq_rl_igw_probs(pred, 3, 10.0, p) == SEQ_OK);
    CHECK_NEAR(p[0], 1.0 / (3 + 10 * 0.3), 1e-15);
    CHECK_NEAR(p[2], 1.0 / (3 + 10 * 0.1), 1e-15);
    CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-15);
    pred[1] = NAN;
    CHECK(seq_rl_igw_probs(pred, 3, 10.0, p) == SEQ_ERR_INVALID);
    CHECK(seq_rl_igw_probs(pred, 0, 10.0, p) == SEQ_ERR_INVALID);
    CHECK(seq_rl_igw_probs(m, 3, -1.0, p) == SEQ_ERR_INVALID);
    seq_rng_seed(&rng, 61);
    for (t = 0; t < 3000; t++) {
        int a;
        for (a = 0; a < 3; a++) pred[a] = cnt[a] > 0 ? sum[a] / cnt[a] : 1.0;
        CHECK(seq_rl_squarecb_select(pred, 3, sqrt(3.0 * (t + 1)), p, &rng, &c) == SEQ_OK);
        CHECK(c.prob == p[c.arm] && c.prob > 0);
        late += t >= 2000 && c.arm == 1;
        sum[c.arm] += seq_rng_double(&rng) < m[c.arm];
        cnt[c.arm] += 1;
    }
    CHECK_MSG(late > 800, "best arm %d of the last 1000", late);
}

/* ---- 4 off-policy evaluation --------------------------------------------------------- */

/* A contextual problem where the truth is known: 5 contexts, 3 actions, Bernoulli rewards
 * of mean mu(x,a); a logging and a target policy that are rotations of fixed rows. */
#define OPE_K 3
static double ope_mu(int64_t x, int64_t a) { return 0.1 + 0.15 * (double)((x + 2 * a) % 5); }
static double ope_logging(int64_t x, int64_t a) {
    static const double row[OPE_K] = {0.6, 0.3, 0.1};
    return row[(a + x) % OPE_K];
}
static double ope_target(int64_t x, int64_t a) {
    static const double row[OPE_K] = {0.1, 0.2, 0.7};
    return row[(a + x + 1) % OPE_K];
}
static double ope_truth(void) {
    double v = 0;
    int64_t x, a;
    for (x = 0; x < 5; x++)
        for (a = 0; a < OPE_K; a++) v += 0.2 * ope_target(x, a) * ope_mu(x, a);
    return v;
}
static double ope_true_model(void *ud, const double *x, int64_t a) {
    (void)ud;
    return ope_mu((int64_t)x[0], a);
}
static double ope_wrong_model(void *ud, const double *x, int64_t a) {
    (void)ud, (void)x, (void)a;
    return 0.5;
}

typedef struct {
    double ctx[500], rew[500], prop[500], target[500 * OPE_K];
    int64_t act[500];
    seq_rl_log log;
} ope_data;

static void ope_sample(ope_data *d, int64_t n, seq_rng *rng) {
    int64_t i, a;
    double w[OPE_K];
    for (i = 0; i < n; i++) {
        int64_t x = (int64_t)seq_rng_below(rng, 5);
        for (a = 0; a < OPE_K; a++) {
            w[a] = ope_logging(x, a);
            d->target[i * OPE_K + a] = ope_target(x, a);
        }
        d->ctx[i] = (double)x;
        d->act[i] = seq_rng_categorical(rng, w, OPE_K);
        d->prop[i] = w[d->act[i]];
        d->rew[i] = seq_rng_double(rng) < ope_mu(x, d->act[i]) ? 1.0 : 0.0;
    }
    d->log.n = n;
    d->log.actions = OPE_K;
    d->log.dim = 1;
    d->log.context = d->ctx;
    d->log.action = d->act;
    d->log.reward = d->rew;
    d->log.propensity = d->prop;
}

static void test_normal_quantile(void) {
    CHECK_NEAR(seq_rl_normal_quantile(0.975), 1.959963984540054, 1e-11);
    CHECK_NEAR(seq_rl_normal_quantile(0.05), -1.6448536269514722, 1e-11);
    CHECK_NEAR(seq_rl_normal_quantile(0.5), 0.0, 1e-12);
    CHECK(isnan(seq_rl_normal_quantile(1.0)) && isnan(seq_rl_normal_quantile(NAN)));
}

/* 200 logs of 500 samples: the unbiased estimators average to the truth within 4 standard
 * errors of that average, and their 95% intervals cover it about 95% of the time. */
static void test_ope_unbiased_and_covering(void) {
    static const seq_rl_ope_estimator est[5] = {SEQ_RL_OPE_IPS, SEQ_RL_OPE_SNIPS, SEQ_RL_OPE_DM, SEQ_RL_OPE_DR,
                                                SEQ_RL_OPE_SMOOTHED_IPS};
    static ope_data d;
    double truth = ope_truth(), sum[6] = {0}, sum2[6] = {0};
    int cover[6] = {0}, rep, e, reps = 200;
    seq_rng rng;
    seq_rng_seed(&rng, 17);
    for (rep = 0; rep < reps; rep++) {
        ope_sample(&d, 500, &rng);
        for (e = 0; e < 6; e++) {
            seq_rl_ope_config cfg = seq_rl_ope_config_default(e < 5 ? est[e] : SEQ_RL_OPE_DR);
            seq_rl_ope_result r;
            cfg.model = e == 2 ? ope_true_model : ope_wrong_model; /* DR is unbiased even with a wrong model */
            cfg.alpha = 1.0; /* smoothing off: plain IPS again, through the power */
            CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_OK);
            sum[e] += r.value;
            sum2[e] += r.value * r.value;
            cover[e] += r.lo <= truth && truth <= r.hi;
        }
    }
    for (e = 0; e < 5; e++) {
        double mean = sum[e] / reps, sd = sqrt(sum2[e] / reps - mean * mean);
        CHECK_MSG(fabs(mean - truth) <= 4 * sd / sqrt((double)reps), "estimator %d: mean %.5f, truth %.5f, sd %.5f", e,
                  mean, truth, sd);
        CHECK_MSG(cover[e] >= 0.88 * reps && cover[e] <= 0.995 * reps, "estimator %d covers %d of %d", e, cover[e],
                  reps);
    }
}

/* Clipping and smoothing trade bias for variance: a cap above every weight changes
 * nothing, a low cap and alpha < 1 shrink the estimate and its standard error. */
static void test_ope_clipping_and_smoothing(void) {
    static ope_data d;
    seq_rl_ope_config ips = seq_rl_ope_config_default(SEQ_RL_OPE_IPS), clip = seq_rl_ope_config_default(SEQ_RL_OPE_CLIPPED_IPS);
    seq_rl_ope_config smooth = seq_rl_ope_config_default(SEQ_RL_OPE_SMOOTHED_IPS);
    seq_rl_ope_result a, b, c;
    seq_rng rng;
    seq_rng_seed(&rng, 23);
    ope_sample(&d, 500, &rng);
    clip.clip = 7.0; /* the largest weight is 0.7 / 0.1 */
    CHECK(seq_rl_ope(&d.log, d.target, &ips, NULL, &a) == SEQ_OK);
    CHECK(seq_rl_ope(&d.log, d.target, &clip, NULL, &b) == SEQ_OK);
    CHECK(a.value == b.value && a.se == b.se);
    clip.clip = 1.0;
    CHECK(seq_rl_ope(&d.log, d.target, &clip, NULL, &b) == SEQ_OK);
    CHECK(b.value < a.value && b.se < a.se);
    smooth.alpha = 0.5;
    CHECK(seq_rl_ope(&d.log, d.target, &smooth, NULL, &c) == SEQ_OK);
    CHECK(c.value < a.value && c.se < a.se);
    CHECK(a.ess > 1.0 && a.ess < 500.0);
}

static void test_ope_bootstrap(void) {
    static ope_data d;
    seq_rl_ope_config cfg = seq_rl_ope_config_default(SEQ_RL_OPE_SNIPS);
    seq_rl_ope_result r, normal;
    seq_rng rng, r1, r2;
    double truth = ope_truth();
    int rep, cover = 0;
    seq_rng_seed(&rng, 29);
    cfg.bootstrap = 200;
    for (rep = 0; rep < 40; rep++) {
        ope_sample(&d, 500, &rng);
        CHECK(seq_rl_ope(&d.log, d.target, &cfg, &rng, &r) == SEQ_OK);
        cover += r.lo <= truth && truth <= r.hi;
    }
    CHECK_MSG(cover >= 33, "bootstrap intervals cover %d of 40", cover);
    /* same seed, same interval; close to the delta method's on a sample this size */
    seq_rng_seed(&r1, 5);
    r2 = r1;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, &r1, &r) == SEQ_OK);
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, &r2, &normal) == SEQ_OK);
    CHECK(r.lo == normal.lo && r.hi == normal.hi);
    cfg.bootstrap = 0;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &normal) == SEQ_OK);
    CHECK_NEAR(r.se, normal.se, 0.3 * normal.se);
    cfg.bootstrap = 10;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID); /* bootstrap needs an rng */
}

static double ope_nan_model(void *ud, const double *x, int64_t a) {
    (void)ud, (void)x, (void)a;
    return NAN;
}

static void test_ope_bad_logs(void) {
    static ope_data d;
    seq_rl_ope_config cfg = seq_rl_ope_config_default(SEQ_RL_OPE_IPS);
    seq_rl_ope_result r;
    seq_rng rng;
    long live = seq_test_live_blocks, k;
    seq_rng_seed(&rng, 31);
    ope_sample(&d, 100, &rng);
    d.prop[7] = 0.0;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID && strstr(seq_last_error(), "sample 7"));
    d.prop[7] = 0.5;
    d.act[9] = OPE_K;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_RANGE);
    d.act[9] = -1;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_RANGE);
    d.act[9] = 0;
    d.rew[3] = NAN;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID);
    d.rew[3] = INFINITY;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID);
    d.rew[3] = 1.0;
    d.target[5 * OPE_K] += 0.1; /* a row that sums to 1.1 */
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID);
    d.target[5 * OPE_K] -= 0.1;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_OK);
    d.log.n = 1;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID);
    d.log.n = 100;
    cfg = seq_rl_ope_config_default(SEQ_RL_OPE_DM);
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_INVALID); /* no reward model */
    cfg.model = ope_nan_model;
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_NUMERIC);
    cfg = seq_rl_ope_config_default(SEQ_RL_OPE_SNIPS);
    for (k = 0; k < 100; k++) { /* a target that never takes a logged action */
        int64_t a;
        for (a = 0; a < OPE_K; a++) d.target[k * OPE_K + a] = a == (d.act[k] + 1) % OPE_K;
    }
    CHECK(seq_rl_ope(&d.log, d.target, &cfg, NULL, &r) == SEQ_ERR_NUMERIC);
    cfg = seq_rl_ope_config_default(SEQ_RL_OPE_IPS);
    cfg.bootstrap = 50;
    for (k = 0; k < 3; k++) {
        seq_status s;
        seq_test_fail_after(k);
        s = seq_rl_ope(&d.log, d.target, &cfg, &rng, &r);
        CHECK(k < 2 ? s == SEQ_ERR_NOMEM : s == SEQ_OK);
    }
    seq_test_fail_never();
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_rl_bandits(void) {
    RUN(test_crc32_check_value);
    RUN(test_save_roundtrip);
    RUN(test_save_corrupt_files);
    RUN(test_save_hostile_lengths);
    RUN(test_save_errors_keep_old_file);
    RUN(test_save_oom);
    RUN(test_kl_values);
    RUN(test_klucb_doctests);
    RUN(test_lai_robbins);
    RUN(test_regret_nine_bernoulli_arms);
    RUN(test_regret_exp3_sublinear);
    RUN(test_every_kind_learns);
    RUN(test_propensities);
    RUN(test_drifting_arms);
    RUN(test_thompson_pareto_heavy_tails);
    RUN(test_bad_updates_change_nothing);
    RUN(test_bad_configs);
    RUN(test_delayed_rewards);
    RUN(test_bandit_save_load_every_kind);
    RUN(test_bandit_load_refuses_bad_files);
    RUN(test_bandit_oom);
    RUN(test_linear_cholesky_matches_dense);
    RUN(test_linear_bandits_learn);
    RUN(test_linear_bad_input_and_save);
    RUN(test_gp_posterior_matches_dense);
    RUN(test_gp_bandits_find_the_peak);
    RUN(test_gp_bad_input_and_save);
    RUN(test_squarecb);
}

void seq_tests_rl_ope(void) {
    RUN(test_normal_quantile);
    RUN(test_ope_unbiased_and_covering);
    RUN(test_ope_clipping_and_smoothing);
    RUN(test_ope_bootstrap);
    RUN(test_ope_bad_logs);
}
