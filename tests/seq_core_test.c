/* Core: status strings, rng distributions, ctx arena and sticky errors, parameters,
 * initializers, allocation-failure injection. */
#include "seq_test.h"
#include "../seq.h"

static void test_status_strings(void) {
    int s;
    for (s = 0; s > -SEQ_STATUS_COUNT; s--) CHECK(strcmp(seq_status_str((seq_status)s), "unknown status") != 0);
    CHECK(strcmp(seq_status_str((seq_status)-100), "unknown status") == 0);
}

static void test_rng_determinism_and_jump(void) {
    seq_rng a, b;
    int i, same = 1;
    seq_rng_seed(&a, 42);
    seq_rng_seed(&b, 42);
    for (i = 0; i < 100; i++) same &= seq_rng_u64(&a) == seq_rng_u64(&b);
    CHECK(same);
    seq_rng_jump(&b);
    CHECK(seq_rng_u64(&a) != seq_rng_u64(&b));
    seq_rng_seed(&b, 43);
    CHECK(seq_rng_u64(&a) != seq_rng_u64(&b));
}

static void test_rng_moments(void) {
    seq_rng r;
    const int n = 200000;
    double s, s2, x;
    int i;
    seq_rng_seed(&r, 1);
    for (s = s2 = 0, i = 0; i < n; i++) {
        x = seq_rng_double(&r);
        CHECK(x >= 0.0 && x < 1.0);
        s += x;
        s2 += x * x;
    }
    CHECK_NEAR(s / n, 0.5, 0.01);
    CHECK_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.005);
    for (s = s2 = 0, i = 0; i < n; i++) {
        x = seq_rng_normal(&r, 1.0, 2.0);
        s += x;
        s2 += x * x;
    }
    CHECK_NEAR(s / n, 1.0, 0.02);
    CHECK_NEAR(s2 / n - (s / n) * (s / n), 4.0, 0.05);
    /* Gamma(k, theta): mean k theta, variance k theta^2; k < 1 uses the boost path */
    {
        const double ks[3] = {0.3, 1.0, 5.5};
        int j;
        for (j = 0; j < 3; j++) {
            for (s = s2 = 0, i = 0; i < n; i++) {
                x = seq_rng_gamma(&r, ks[j], 2.0);
                s += x;
                s2 += x * x;
            }
            CHECK_NEAR(s / n, ks[j] * 2.0, 0.03);
            CHECK_NEAR((s2 / n - (s / n) * (s / n)) / (ks[j] * 4.0), 1.0, 0.05);
        }
    }
    for (s = 0, i = 0; i < n; i++) s += seq_rng_beta(&r, 2.0, 5.0);
    CHECK_NEAR(s / n, 2.0 / 7.0, 0.01);
    CHECK(isnan(seq_rng_gamma(&r, -1.0, 1.0)));
    CHECK(isnan(seq_rng_beta(&r, 0.0, 1.0)));
}

static void test_rng_discrete(void) {
    seq_rng r;
    const double w[4] = {1.0, 0.0, 3.0, 4.0};
    const double bad[2] = {1.0, NAN}, zeros[2] = {0, 0};
    long counts[4] = {0, 0, 0, 0}, below[7] = {0};
    int64_t perm[50], seen[50] = {0};
    int i, ok = 1;
    seq_rng_seed(&r, 7);
    for (i = 0; i < 80000; i++) counts[seq_rng_categorical(&r, w, 4)]++;
    CHECK(counts[1] == 0);
    CHECK_NEAR(counts[0] / 80000.0, 0.125, 0.01);
    CHECK_NEAR(counts[3] / 80000.0, 0.5, 0.01);
    CHECK(seq_rng_categorical(&r, bad, 2) == -1);
    CHECK(seq_rng_categorical(&r, zeros, 2) == -1);
    CHECK(seq_rng_categorical(&r, w, 0) == -1);
    for (i = 0; i < 70000; i++) below[seq_rng_below(&r, 7)]++;
    for (i = 0; i < 7; i++) ok &= fabs(below[i] / 70000.0 - 1.0 / 7) < 0.01;
    CHECK(ok);
    CHECK(seq_rng_below(&r, 0) == 0);
    seq_rng_permutation(&r, perm, 50);
    for (i = 0; i < 50; i++) seen[perm[i]]++;
    for (ok = 1, i = 0; i < 50; i++) ok &= seen[i] == 1;
    CHECK(ok);
}

static void test_ctx_arena(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t shape[2] = {1000, 1000};
    int i;
    long live;
    CHECK(ctx != NULL);
    for (i = 0; i < 3; i++) {
        seq_tensor *a = seq_tensor_new(ctx, SEQ_F32, 2, shape);
        seq_tensor *b = seq_tensor_new(ctx, SEQ_I32, 2, shape);
        void *p = seq_ctx_alloc(ctx, 100);
        CHECK(a && b && p);
        CHECK(a && a->numel == 1000000 && a->data[999999] == 0.0f);
        CHECK(b && b->idata && b->idata[5] == 0);
        CHECK(((uintptr_t)p % 64) == 0);
        CHECK(seq_ctx_bytes_used(ctx) >= 8000000);
        seq_ctx_reset(ctx);
        CHECK(seq_ctx_bytes_used(ctx) == 0);
    }
    /* after the first step spilled over blocks, later steps fit in one: no new mallocs */
    live = seq_test_live_blocks;
    seq_tensor_new(ctx, SEQ_F32, 2, shape);
    seq_tensor_new(ctx, SEQ_I32, 2, shape);
    CHECK(seq_test_live_blocks == live);
    seq_ctx_free(ctx);
}

static void test_ctx_sticky_error(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t bad[2] = {3, -1}, good[1] = {4};
    CHECK(seq_tensor_new(ctx, SEQ_F32, 2, bad) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    CHECK(strstr(seq_ctx_error(ctx), "seq_tensor_new") != NULL);
    CHECK(strstr(seq_last_error(), "seq_tensor_new") != NULL);
    /* later calls are refused until the reset, and the first message stays */
    CHECK(seq_tensor_new(ctx, SEQ_F32, 1, good) == NULL);
    CHECK(seq_tensor_wrap(ctx, NULL, 1, good) == NULL);
    CHECK(strstr(seq_ctx_error(ctx), "seq_tensor_new") != NULL);
    seq_ctx_reset(ctx);
    CHECK(seq_ctx_status(ctx) == SEQ_OK);
    CHECK(seq_tensor_new(ctx, SEQ_F32, 1, good) != NULL);
    CHECK(seq_tensor_new(ctx, SEQ_F32, 5, good) == NULL); /* too many dims */
    seq_ctx_reset(ctx);
    CHECK(seq_tensor_wrap(ctx, NULL, 1, good) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_reset(ctx);
    {
        int64_t huge[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30};
        CHECK(seq_tensor_new(ctx, SEQ_F32, 4, huge) == NULL);
        CHECK(seq_ctx_status(ctx) == SEQ_ERR_SHAPE);
    }
    seq_ctx_free(ctx);
    CHECK(seq_backward(NULL, NULL) == SEQ_ERR_INVALID);
}

static void test_params_registry(void) {
    seq_params *P = seq_params_init(NULL);
    seq_rng r;
    int64_t s1[2] = {3, 4}, s2[1] = {5}, s0[1] = {0};
    seq_tensor *w, *b;
    seq_rng_seed(&r, 3);
    w = seq_params_add(P, "w", 2, s1, seq_init_uniform(-1, 1));
    b = seq_params_add(P, "b", 1, s2, seq_init_constant(0.5f));
    CHECK(w && b);
    CHECK(seq_params_add(P, "w", 1, s2, seq_init_zeros()) == NULL); /* duplicate */
    CHECK(strstr(seq_last_error(), "duplicate") != NULL);
    CHECK(seq_params_add(P, "z", 1, s0, seq_init_zeros()) == NULL); /* empty */
    CHECK(seq_params_add(P, "", 1, s2, seq_init_zeros()) == NULL);
    CHECK(P->numel == 17 && P->count == 2);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_ERR_STATE);
    CHECK(seq_params_add(P, "late", 1, s2, seq_init_zeros()) == NULL);
    CHECK(w->data == P->data && b->data == P->data + 12 && b->grad == P->grad + 12);
    CHECK(b->data[4] == 0.5f && w->data[0] >= -1 && w->data[0] < 1 && w->data[0] != w->data[1]);
    CHECK(seq_params_find(P, "b") == b && seq_params_find(P, "nope") == NULL);
    CHECK(seq_params_entry(P, "w")->decay == 1.0f);
    P->grad[3] = 2;
    seq_params_zero_grad(P);
    CHECK(P->grad[3] == 0);
    seq_params_free(P);
    {
        seq_params *E = seq_params_init(NULL);
        CHECK(seq_params_alloc(E, &r) == SEQ_ERR_STATE); /* nothing registered */
        seq_params_free(E);
    }
}

static void test_init_statistics(void) {
    seq_rng r;
    enum { O = 256, I = 512 };
    static float w[O * I];
    int64_t shape[2] = {O, I};
    double s2 = 0, mx = 0;
    int i, j, k;
    seq_rng_seed(&r, 9);
    CHECK(seq_init_fill(w, 2, shape, seq_init_kaiming_uniform(0.0f), &r) == SEQ_OK);
    for (i = 0; i < O * I; i++) {
        s2 += (double)w[i] * w[i];
        if (fabs(w[i]) > mx) mx = fabs(w[i]);
    }
    CHECK_NEAR(s2 / (O * I), 2.0 / I, 0.002 / I * 50); /* var = gain^2 / fan_in */
    CHECK(mx <= sqrt(6.0 / I) + 1e-6);
    CHECK(seq_init_fill(w, 2, shape, seq_init_xavier_normal(1.0f), &r) == SEQ_OK);
    for (s2 = 0, i = 0; i < O * I; i++) s2 += (double)w[i] * w[i];
    CHECK_NEAR(s2 / (O * I) / (2.0 / (O + I)), 1.0, 0.02);
    CHECK(seq_init_fill(w, 2, shape, seq_init_normal(0, 1), NULL) == SEQ_ERR_INVALID);
    /* orthogonal, wide (rows < cols): rows orthonormal; tall: columns orthonormal */
    {
        int64_t wide[2] = {8, 20}, tall[3] = {20, 4, 2};
        float q[160];
        double worst = 0;
        CHECK(seq_init_fill(q, 2, wide, seq_init_orthogonal(1.0f), &r) == SEQ_OK);
        for (i = 0; i < 8; i++)
            for (j = 0; j < 8; j++) {
                double d = 0;
                for (k = 0; k < 20; k++) d += (double)q[i * 20 + k] * q[j * 20 + k];
                d -= i == j;
                if (fabs(d) > worst) worst = fabs(d);
            }
        CHECK(worst < 1e-5);
        CHECK(seq_init_fill(q, 3, tall, seq_init_orthogonal(2.0f), &r) == SEQ_OK);
        for (worst = 0, i = 0; i < 8; i++)
            for (j = 0; j < 8; j++) {
                double d = 0;
                for (k = 0; k < 20; k++) d += (double)q[k * 8 + i] * q[k * 8 + j];
                d -= 4.0 * (i == j);
                if (fabs(d) > worst) worst = fabs(d);
            }
        CHECK(worst < 1e-4);
    }
}

/* Every allocation of a small workload fails in turn: each failure is reported with
 * SEQ_ERR_NOMEM (or NULL + last error) and nothing leaks. */
static void test_oom_injection(void) {
    long k, base = seq_test_live_blocks;
    int completed = 0;
    for (k = 0; k < 64 && !completed; k++) {
        seq_params *P;
        seq_ctx *ctx;
        seq_rng r;
        int64_t s[2] = {64, 32};
        seq_status st = SEQ_OK;
        seq_rng_seed(&r, 1);
        seq_test_fail_after(k);
        P = seq_params_init(NULL);
        ctx = seq_ctx_init(NULL);
        if (P && ctx) {
            int i, ok = 1;
            char name[16];
            for (i = 0; i < 20 && ok; i++) {
                snprintf(name, sizeof name, "p%d", i);
                ok = seq_params_add(P, name, 2, s, seq_init_orthogonal(1.0f)) != NULL;
            }
            st = ok ? seq_params_alloc(P, &r) : SEQ_ERR_NOMEM;
            if (st == SEQ_OK && !seq_tensor_new(ctx, SEQ_F32, 2, s)) st = seq_ctx_status(ctx);
            completed = st == SEQ_OK && seq_test_alloc_count <= k;
            if (st != SEQ_OK) CHECK_MSG(st == SEQ_ERR_NOMEM, "k=%ld status %d", k, (int)st);
        } else {
            CHECK(strstr(seq_last_error(), "out of memory") != NULL);
        }
        seq_params_free(P);
        seq_ctx_free(ctx);
        seq_test_fail_never();
        CHECK_MSG(seq_test_live_blocks == base, "k=%ld leaked %ld blocks", k, seq_test_live_blocks - base);
    }
    CHECK(completed); /* the sweep reached a k past the workload's last allocation */
}

void seq_tests_core(void) {
    RUN(test_status_strings);
    RUN(test_rng_determinism_and_jump);
    RUN(test_rng_moments);
    RUN(test_rng_discrete);
    RUN(test_ctx_arena);
    RUN(test_ctx_sticky_error);
    RUN(test_params_registry);
    RUN(test_init_statistics);
    RUN(test_oom_injection);
}
