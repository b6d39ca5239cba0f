/* seq_rl.h sections 6-8, value-based RL: replay buffers (uniform, prioritized with a
 * sum tree), tabular TD agents, the Q-learning loss and DQN. */
#include "seq_test.h"
#include "../seq_rl.h"

/* ---------------------------------------------------------------- replay buffers ---- */

/* A prioritized buffer with alpha = 1 (priority = |td| + eps) over capacity slots, all
 * filled; obs_dim 2, 3 actions. */
static void per_filled(seq_rl_replay *rb, int64_t capacity, double alpha) {
    seq_rl_replay_config rc = seq_rl_replay_config_default(capacity, 2, 3);
    float o[2], o2[2];
    int64_t i;
    rc.prioritized = 1, rc.alpha = alpha;
    CHECK(seq_rl_replay_init(rb, rc, NULL) == SEQ_OK);
    for (i = 0; i < capacity; i++) {
        o[0] = (float)i, o[1] = -(float)i, o2[0] = (float)i + 0.5f, o2[1] = 0;
        CHECK(seq_rl_replay_push(rb, o, i % 3, (float)i, o2, i % 5 == 0) == SEQ_OK);
    }
}

/* The leaf priorities in slot order, as the brute-force reference sees them. */
static double leaf(const seq_rl_replay *rb, int64_t i) { return rb->sum_tree[rb->leaves + i]; }

/* The tree against a brute-force prefix sum over random priority updates, on capacities
 * that are not powers of two: total, min, and find(u) for random u. */
static void test_sum_tree_prefix(void) {
    static const int64_t caps[4] = {1, 5, 37, 100};
    seq_rng rng;
    int c, round, j, bad_find = 0;
    seq_rng_seed(&rng, 11);
    for (c = 0; c < 4; c++) {
        seq_rl_replay rb;
        int64_t C = caps[c], i, idx[8];
        float td[8];
        per_filled(&rb, C, 1.0);
        for (round = 0; round < 60; round++) {
            double total = 0, mn = INFINITY;
            for (j = 0; j < 8; j++) {
                idx[j] = (int64_t)seq_rng_below(&rng, (uint64_t)C);
                td[j] = (float)(seq_rng_double(&rng) < 0.2 ? 0.0 : seq_rng_normal(&rng, 0, 3));
            }
            CHECK(seq_rl_replay_update(&rb, idx, td, 8) == SEQ_OK);
            CHECK(leaf(&rb, idx[7]) == fabs((double)td[7]) + 1e-6); /* alpha 1: |td| + eps itself */
            for (i = 0; i < C; i++) total += leaf(&rb, i), mn = leaf(&rb, i) < mn ? leaf(&rb, i) : mn;
            CHECK_NEAR(seq_rl_replay_total(&rb), total, 1e-12);
            CHECK(rb.min_tree[1] == mn);
            for (j = 0; j < 50; j++) {
                double u = seq_rng_double(&rng) * total, run = 0;
                int64_t want = C - 1;
                for (i = 0; i < C; i++) {
                    run += leaf(&rb, i);
                    if (run > u) {
                        want = i;
                        break;
                    }
                }
                /* a u within rounding of a boundary may fall either side */
                if (seq_rl_replay_find(&rb, u) != want && fabs(run - u) > 1e-9 * total) bad_find++;
            }
        }
        CHECK(seq_rl_replay_find(&rb, 0.0) >= 0 && seq_rl_replay_find(&rb, seq_rl_replay_total(&rb)) < C);
        seq_rl_replay_free(&rb);
    }
    CHECK_MSG(bad_find == 0, "%d finds disagree with the prefix sum", bad_find);
}

/* Stratified prioritized draws follow P(i) = p_i^alpha / sum: a chi-square statistic
 * over 10 slots (9 degrees of freedom) stays far below its 1e-6 tail (about 45); and no
 * draw ever lands on a zero-priority padding leaf (capacity 10 -> 16 leaves). */
static void test_per_sampling_frequencies(void) {
    seq_rl_replay rb;
    seq_rl_batch b;
    seq_rng rng;
    int64_t idx[10], count[10] = {0}, i, draws = 0;
    float td[10];
    double chi2 = 0;
    int r, j;
    per_filled(&rb, 10, 0.7);
    for (i = 0; i < 10; i++) idx[i] = i, td[i] = (float)(i + 1) * (i == 3 ? 0.05f : 1.0f);
    CHECK(seq_rl_replay_update(&rb, idx, td, 10) == SEQ_OK);
    CHECK(seq_rl_batch_init(&b, 32, 2, NULL) == SEQ_OK);
    seq_rng_seed(&rng, 5);
    for (r = 0; r < 1000; r++) {
        CHECK(seq_rl_replay_sample(&rb, 32, 0.5, &rng, &b) == SEQ_OK);
        for (j = 0; j < 32; j++) {
            CHECK(b.idx[j] >= 0 && b.idx[j] < 10);
            if (b.idx[j] >= 0 && b.idx[j] < 10) count[b.idx[j]]++, draws++;
        }
    }
    for (i = 0; i < 10; i++) {
        double p = pow(fabs((double)td[i]) + 1e-6, 0.7), e, total = 0;
        int64_t k;
        for (k = 0; k < 10; k++) total += pow(fabs((double)td[k]) + 1e-6, 0.7);
        CHECK_NEAR(seq_rl_replay_prob(&rb, i), p / total, 1e-12);
        e = (double)draws * p / total;
        chi2 += ((double)count[i] - e) * ((double)count[i] - e) / e;
    }
    CHECK_MSG(chi2 < 45.0, "chi-square %.2f over 10 slots", chi2);
    seq_rl_batch_free(&b);
    seq_rl_replay_free(&rb);
}

/* Every importance weight is (N P(i))^-beta / max_j (N P(j))^-beta, computed here by
 * brute force over the whole buffer; beta = 0 gives all ones; the smallest-priority slot
 * would get exactly 1. */
static void test_per_weights(void) {
    seq_rl_replay rb;
    seq_rl_batch b;
    seq_rng rng;
    int64_t idx[7], i, N = 7;
    float td[7] = {0.3f, 2.0f, 0.01f, 5.0f, 1.0f, 0.7f, 3.0f};
    double beta = 0.4, wmax = 0;
    int j, r;
    per_filled(&rb, 7, 0.6);
    for (i = 0; i < N; i++) idx[i] = i;
    CHECK(seq_rl_replay_update(&rb, idx, td, N) == SEQ_OK);
    for (i = 0; i < N; i++) {
        double w = pow((double)N * seq_rl_replay_prob(&rb, i), -beta);
        wmax = w > wmax ? w : wmax;
    }
    CHECK(seq_rl_batch_init(&b, 16, 2, NULL) == SEQ_OK);
    seq_rng_seed(&rng, 2);
    for (r = 0; r < 20; r++) {
        CHECK(seq_rl_replay_sample(&rb, 16, beta, &rng, &b) == SEQ_OK);
        for (j = 0; j < 16; j++) {
            double want = pow((double)N * seq_rl_replay_prob(&rb, b.idx[j]), -beta) / wmax;
            CHECK_NEAR(b.weights[j], want, 1e-6);
            CHECK(b.weights[j] <= 1.0f);
            if (b.idx[j] == 2) CHECK_NEAR(b.weights[j], 1.0, 1e-6); /* the smallest priority */
        }
    }
    CHECK(seq_rl_replay_sample(&rb, 16, 0.0, &rng, &b) == SEQ_OK);
    for (j = 0; j < 16; j++) CHECK(b.weights[j] == 1.0f);
    /* what a sampled row holds is the slot's transition */
    for (j = 0; j < 16; j++) {
        i = b.idx[j];
        CHECK(b.obs[2 * j] == (float)i && b.obs[2 * j + 1] == -(float)i && b.next_obs[2 * j] == (float)i + 0.5f);
        CHECK(b.actions[j] == i % 3 && b.rewards[j] == (float)i && b.not_done[j] == (i % 5 == 0 ? 0.0f : 1.0f));
    }
    CHECK_NEAR(seq_rl_anneal(0.4, 1.0, 50, 100), 0.7, 1e-12);
    CHECK(seq_rl_anneal(0.4, 1.0, 200, 100) == 1.0 && seq_rl_anneal(0.4, 1.0, 0, 100) == 0.4);
    seq_rl_batch_free(&b);
    seq_rl_replay_free(&rb);
}

/* The ring overwrites the oldest; new slots get the largest priority seen; uniform
 * draws are uniform over what is held. */
static void test_replay_ring_uniform(void) {
    seq_rl_replay rb;
    seq_rl_batch b;
    seq_rng rng;
    float o[1], o2[1] = {0}, td[1] = {9.0f}, pair[2] = {1, 2};
    int64_t i, count[5] = {0}, idx[1] = {0};
    int r, j;
    CHECK(seq_rl_replay_init(&rb, seq_rl_replay_config_default(5, 1, 2), NULL) == SEQ_OK);
    for (i = 0; i < 12; i++) {
        o[0] = (float)i;
        CHECK(seq_rl_replay_push(&rb, o, i % 2, 0.0f, o2, 0) == SEQ_OK);
    }
    CHECK(rb.size == 5 && rb.next == 2);
    CHECK(rb.obs[0] == 10.0f && rb.obs[1] == 11.0f && rb.obs[2] == 7.0f); /* 10, 11 overwrote 5, 6 */
    CHECK(seq_rl_replay_update(&rb, idx, td, 1) == SEQ_OK && seq_rl_replay_prob(&rb, 0) == 0.2);
    CHECK(seq_rl_batch_init(&b, 50, 1, NULL) == SEQ_OK);
    seq_rng_seed(&rng, 9);
    for (r = 0; r < 200; r++) {
        CHECK(seq_rl_replay_sample(&rb, 50, 0.4, &rng, &b) == SEQ_OK);
        for (j = 0; j < 50; j++) {
            count[b.idx[j]]++;
            CHECK(b.weights[j] == 1.0f);
        }
    }
    for (i = 0; i < 5; i++) CHECK_MSG(count[i] > 1800 && count[i] < 2200, "slot %lld drawn %lld of 10000", (long long)i,
                                      (long long)count[i]);
    seq_rl_batch_free(&b);
    seq_rl_replay_free(&rb);
    /* prioritized: a new transition enters at the largest priority seen so far */
    per_filled(&rb, 4, 1.0);
    idx[0] = 1, td[0] = 7.0f;
    CHECK(seq_rl_replay_update(&rb, idx, td, 1) == SEQ_OK);
    CHECK(seq_rl_replay_push(&rb, pair, 0, 1.0f, pair, 0) == SEQ_OK); /* into slot 0 */
    CHECK_NEAR(leaf(&rb, 0), 7.0 + 1e-6, 1e-12);
    seq_rl_replay_free(&rb);
}

/* NaN priorities, slots out of range, bad transitions, capacity 0, an empty buffer, bad
 * beta: each an error, the buffer's contents byte for byte as before (field by field: a
 * whole-struct memcmp would read the config's padding, which memcheck flags); allocation
 * failures leak nothing. */
static void test_replay_bad_input(void) {
    seq_rl_replay rb, before;
    seq_rl_batch b;
    seq_rng rng;
    seq_rl_replay_config rc = seq_rl_replay_config_default(0, 2, 3);
    float o[2] = {0, 1}, nan_o[2] = {0, NAN}, td[2] = {1.0f, NAN};
    double tree[16];
    float obs[4], rewards[2];
    int64_t idx[2] = {0, 1}, far[1] = {6};
    long k, live = seq_test_live_blocks;
    seq_rng_seed(&rng, 1);
    CHECK(seq_rl_replay_init(&rb, rc, NULL) == SEQ_ERR_INVALID && rb.obs == NULL);
    rc.capacity = 8, rc.prioritized = 1, rc.alpha = 1.5;
    CHECK(seq_rl_replay_init(&rb, rc, NULL) == SEQ_ERR_INVALID);
    rc.alpha = 0.6, rc.eps = 0;
    CHECK(seq_rl_replay_init(&rb, rc, NULL) == SEQ_ERR_INVALID);
    rc.eps = 1e-6;
    CHECK(seq_rl_replay_init(&rb, rc, NULL) == SEQ_OK);
    CHECK(seq_rl_batch_init(&b, 4, 2, NULL) == SEQ_OK);
    CHECK(seq_rl_replay_sample(&rb, 4, 0.4, &rng, &b) == SEQ_ERR_STATE);
    CHECK(seq_rl_replay_push(&rb, o, 0, 1.0f, o, 0) == SEQ_OK && seq_rl_replay_push(&rb, o, 2, 1.0f, o, 1) == SEQ_OK);
    before = rb;
    memcpy(tree, rb.sum_tree, sizeof tree);
    memcpy(obs, rb.obs, sizeof obs); /* the 2 slots held; the rest is never written */
    memcpy(rewards, rb.rewards, sizeof rewards);
    CHECK(seq_rl_replay_update(&rb, idx, td, 2) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "td[1]") != NULL);
    CHECK(seq_rl_replay_update(&rb, far, td, 1) == SEQ_ERR_RANGE);
    CHECK(seq_rl_replay_push(&rb, nan_o, 0, 1.0f, o, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_replay_push(&rb, o, 0, INFINITY, o, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_replay_push(&rb, o, 3, 1.0f, o, 0) == SEQ_ERR_RANGE);
    CHECK(seq_rl_replay_push(&rb, o, -1, 1.0f, o, 0) == SEQ_ERR_RANGE);
    CHECK(seq_rl_replay_sample(&rb, 5, 0.4, &rng, &b) == SEQ_ERR_INVALID);  /* over the batch's cap */
    CHECK(seq_rl_replay_sample(&rb, 4, NAN, &rng, &b) == SEQ_ERR_INVALID);
    CHECK(seq_rl_replay_sample(&rb, 4, 1.5, &rng, &b) == SEQ_ERR_INVALID);
    CHECK(rb.size == before.size && rb.next == before.next && rb.max_priority == before.max_priority);
    CHECK(memcmp(tree, rb.sum_tree, sizeof tree) == 0 && memcmp(obs, rb.obs, sizeof obs) == 0 &&
          memcmp(rewards, rb.rewards, sizeof rewards) == 0);
    seq_rl_batch_free(&b);
    seq_rl_replay_free(&rb);
    for (k = 0; k < 8; k++) {
        seq_test_fail_after(k);
        if (seq_rl_replay_init(&rb, rc, NULL) == SEQ_OK) seq_rl_replay_free(&rb);
        else CHECK(seq_last_status() == SEQ_ERR_NOMEM && rb.obs == NULL);
        if (seq_rl_batch_init(&b, 4, 2, NULL) == SEQ_OK) seq_rl_batch_free(&b);
    }
    seq_test_fail_never();
    CHECK(seq_test_live_blocks == live);
}

/* Flips one byte of a file (a corrupt save). */
static void corrupt_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    int c;
    if (!f) return;
    fseek(f, at, SEEK_SET);
    c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* A prioritized buffer round-trips through a file (transitions, priorities, position);
 * a buffer of another capacity and a corrupt file are SEQ_ERR_FORMAT, the target
 * unchanged. */
static void test_replay_save_load(void) {
    const char *path = "build/rl_replay_test.sav";
    seq_rl_replay rb, rb2, other;
    seq_rl_replay_config rc;
    int64_t idx[3] = {0, 4, 2};
    float td[3] = {0.5f, 3.0f, 0.1f};
    per_filled(&rb, 6, 0.6);
    CHECK(seq_rl_replay_update(&rb, idx, td, 3) == SEQ_OK);
    CHECK(seq_rl_replay_save(&rb, path) == SEQ_OK);
    rc = rb.cfg;
    CHECK(seq_rl_replay_init(&rb2, rc, NULL) == SEQ_OK);
    CHECK(seq_rl_replay_load(&rb2, path) == SEQ_OK);
    CHECK(rb2.size == rb.size && rb2.next == rb.next && rb2.max_priority == rb.max_priority);
    CHECK(memcmp(rb2.obs, rb.obs, 2 * 6 * 2 * sizeof(float)) == 0 && memcmp(rb2.actions, rb.actions, 6 * 4) == 0);
    CHECK(memcmp(rb2.terminated, rb.terminated, 6) == 0 && memcmp(rb2.rewards, rb.rewards, 6 * 4) == 0);
    CHECK(memcmp(rb2.sum_tree, rb.sum_tree, (size_t)(4 * rb.leaves) * sizeof(double)) == 0);
    rc.capacity = 7;
    CHECK(seq_rl_replay_init(&other, rc, NULL) == SEQ_OK);
    CHECK(seq_rl_replay_load(&other, path) == SEQ_ERR_FORMAT && other.size == 0);
    seq_rl_replay_free(&other);
    corrupt_byte(path, 40);
    CHECK(seq_rl_replay_load(&rb2, path) == SEQ_ERR_FORMAT);
    CHECK(rb2.size == rb.size && memcmp(rb2.sum_tree, rb.sum_tree, (size_t)(4 * rb.leaves) * sizeof(double)) == 0);
    CHECK(seq_rl_replay_load(&rb2, "build/no_such_replay.sav") == SEQ_ERR_IO);
    remove(path);
    seq_rl_replay_free(&rb2);
    seq_rl_replay_free(&rb);
}

/* -------------------------------------------------------------- tabular agents ---- */

/* Traces by hand on the corridor (actions 0 up, 1 right): up twice in place, then right
 * three times to G. Only the last TD error is non-zero (1), so each Q(s,a) ends as
 * alpha times its trace at that moment:
 *     (s2,R) 1, (s1,R) gl, (s0,R) gl^2, (s0,Up) (1 + gl) gl^3 accumulating, gl^3 replacing
 * (gl = gamma lambda). Watkins's Q(lambda) agrees while every action is greedy. */
static void test_td_lambda_traces_by_hand(void) {
    static const int64_t s[5] = {0, 0, 0, 1, 2}, a[5] = {0, 0, 1, 1, 1}, s2[5] = {0, 0, 1, 2, 3};
    const double alpha = 0.5, gamma = 0.9, lambda = 0.8, gl = gamma * lambda;
    int variant, k;
    for (variant = 0; variant < 3; variant++) {
        seq_rl_tabular t;
        seq_rl_tabular_config c = seq_rl_tabular_config_default(variant == 2 ? SEQ_RL_Q_LAMBDA : SEQ_RL_SARSA_LAMBDA);
        double up;
        c.alpha = alpha, c.gamma = gamma, c.lambda = lambda;
        c.trace = variant == 1 ? SEQ_RL_TRACE_REPLACING : SEQ_RL_TRACE_ACCUMULATING;
        CHECK(seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_OK);
        for (k = 0; k < 5; k++)
            CHECK(seq_rl_tabular_update(&t, s[k], a[k], k == 4 ? 1.0 : 0.0, s2[k], k < 4 ? a[k + 1] : -1, k == 4) == SEQ_OK);
        up = variant == 1 ? gl * gl * gl : (1 + gl) * gl * gl * gl;
        CHECK_NEAR(t.q[2 * 4 + 1], alpha, 1e-12);
        CHECK_NEAR(t.q[1 * 4 + 1], alpha * gl, 1e-12);
        CHECK_NEAR(t.q[0 * 4 + 1], alpha * gl * gl, 1e-12);
        CHECK_NEAR(t.q[0 * 4 + 0], alpha * up, 1e-12);
        for (k = 0; k < 16; k++) CHECK(t.trace[k] == 0.0); /* cleared at the terminal step */
        CHECK(t.episodes == 1 && t.updates == 5);
        seq_rl_tabular_free(&t);
    }
}

/* Watkins cuts the traces at an exploratory action; SARSA(lambda) does not. With
 * Q(s1,R) = 1 greedy: (s0,R)->s1 then the non-greedy Up; then (s1,Up)->s1. */
static void test_q_lambda_cuts_traces(void) {
    const double alpha = 0.5, gamma = 0.9;
    int variant;
    for (variant = 0; variant < 2; variant++) {
        seq_rl_tabular t;
        seq_rl_tabular_config c = seq_rl_tabular_config_default(variant ? SEQ_RL_SARSA_LAMBDA : SEQ_RL_Q_LAMBDA);
        c.alpha = alpha, c.gamma = gamma, c.lambda = 1.0;
        CHECK(seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_OK);
        t.q[1 * 4 + 1] = 1.0;
        CHECK(seq_rl_tabular_update(&t, 0, 1, 0.0, 1, 0, 0) == SEQ_OK);
        /* Q: target max Q(s1) = 1; SARSA: Q(s1,Up) = 0 */
        CHECK_NEAR(t.q[1], variant ? 0.0 : alpha * gamma, 1e-12);
        CHECK(seq_rl_tabular_update(&t, 1, 0, 0.0, 1, 1, 0) == SEQ_OK);
        if (variant == 0) CHECK_NEAR(t.q[1], alpha * gamma, 1e-12);             /* trace cut: unchanged */
        else CHECK_NEAR(t.q[1], alpha * gamma * gamma, 1e-12);                  /* delta gamma, trace gamma */
        seq_rl_tabular_free(&t);
    }
}

/* Q* of a deterministic gridworld by value iteration over its model (moves, walls,
 * terminal cells); q (cells x 4). */
static void gridworld_q_star(const seq_rl_env *e, double gamma, double eps, double *q) {
    static const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
    int64_t n = (int64_t)e->grid_w * e->grid_h, s, a, b, it;
    for (s = 0; s < 4 * n; s++) q[s] = 0;
    for (it = 0; it < 2000; it++) {
        for (s = 0; s < n; s++) {
            char here = e->grid[s];
            if (here == '#' || here == 'G' || here == 'X') continue;
            for (a = 0; a < 4; a++) {
                int r = (int)(s / e->grid_w) + dr[a], c = (int)(s % e->grid_w) + dc[a];
                int64_t to = s;
                char cell;
                double v = 0, mx;
                if (r >= 0 && r < e->grid_h && c >= 0 && c < e->grid_w && e->grid[r * e->grid_w + c] != '#')
                    to = r * e->grid_w + c;
                cell = e->grid[to];
                if (cell != 'G' && cell != 'X') { /* eps-greedy backup; eps = 0: max */
                    mx = q[to * 4];
                    for (b = 1; b < 4; b++) mx = q[to * 4 + b] > mx ? q[to * 4 + b] : mx;
                    for (b = 0; b < 4; b++) v += eps / 4 * q[to * 4 + b];
                    v += (1 - eps) * mx;
                }
                q[s * 4 + a] = (cell == 'G' ? e->grid_cfg.goal_reward : cell == 'X' ? e->grid_cfg.pit_reward
                                                                                   : e->grid_cfg.step_reward) +
                               gamma * v;
            }
        }
    }
}

static const char *small_map = "S..\n.#X\n..G";

/* Q-learning with a uniformly random behaviour (epsilon 1) and alpha 1 on a
 * deterministic MDP is asynchronous value iteration: it reaches Q* exactly. Expected
 * SARSA's fixed point is the value of its own eps-greedy policy, found the same way. */
static void test_tabular_converges_to_known_values(void) {
    seq_rl_env e;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    double want[36];
    int variant, ep;
    seq_rng rng;
    CHECK(seq_rl_gridworld_init(&e, small_map, gc, 1) == SEQ_OK);
    for (variant = 0; variant < 2; variant++) {
        seq_rl_tabular t;
        seq_rl_tabular_config c = seq_rl_tabular_config_default(variant ? SEQ_RL_EXPECTED_SARSA : SEQ_RL_Q_LEARNING);
        double err = 0;
        int64_t s, a;
        c.alpha = 1.0, c.gamma = 0.9, c.epsilon = variant ? 0.3 : 1.0;
        gridworld_q_star(&e, c.gamma, variant ? c.epsilon : 0.0, want);
        CHECK(seq_rl_tabular_init(&t, c, 9, 4, NULL) == SEQ_OK);
        seq_rng_seed(&rng, 3);
        for (ep = 0; ep < 3000; ep++) CHECK(seq_rl_tabular_episode(&t, &e, &rng, NULL) == SEQ_OK);
        for (s = 0; s < 9; s++)
            if (small_map[s + s / 3] == '.' || small_map[s + s / 3] == 'S')
                for (a = 0; a < 4; a++) err = fmax(err, fabs(t.q[s * 4 + a] - want[s * 4 + a]));
        /* Q-learning reaches Q* to rounding; Expected SARSA's rarely tried pairs lag a
         * little (the values of the two policies differ by over 0.1) */
        CHECK_MSG(err < (variant ? 1e-4 : 1e-9), "variant %d: max |Q - Q*| = %g", variant, err);
        CHECK(t.episodes == 3000);
        seq_rl_tabular_free(&t);
    }
}

/* The greedy path from S: its cells, until a terminal cell or 60 steps. */
static int greedy_path(const seq_rl_tabular *t, seq_rl_env *e, int64_t *cells) {
    seq_rl_step st;
    int n = 0;
    seq_rl_env_reset(e, NULL);
    do {
        seq_rl_env_step(e, seq_rl_tabular_act(t, seq_rl_env_state_id(e), NULL, NULL), NULL, &st);
        cells[n++] = seq_rl_env_state_id(e);
    } while (!st.terminated && !st.truncated && n < 60);
    return st.terminated && e->grid[cells[n - 1]] == 'G' ? n : -n;
}

/* Every algorithm learns a shortest path through the small map (4 moves); SARSA and
 * the lambda methods with epsilon 0.1. */
static void test_tabular_learns_optimal_policy(void) {
    seq_rl_env e;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    int64_t cells[60];
    int algo, ep;
    seq_rng rng;
    CHECK(seq_rl_gridworld_init(&e, small_map, gc, 1) == SEQ_OK);
    for (algo = 0; algo < SEQ_RL_TD_ALGO_COUNT; algo++) {
        seq_rl_tabular t;
        seq_rl_tabular_config c = seq_rl_tabular_config_default((seq_rl_td_algo)algo);
        int len;
        c.alpha = 0.5, c.gamma = 0.95;
        CHECK(seq_rl_tabular_init(&t, c, 9, 4, NULL) == SEQ_OK);
        seq_rng_seed(&rng, 7);
        for (ep = 0; ep < 300; ep++) CHECK(seq_rl_tabular_episode(&t, &e, &rng, NULL) == SEQ_OK);
        len = greedy_path(&t, &e, cells);
        CHECK_MSG(len == 4, "algorithm %d: greedy path of %d steps", algo, len);
        seq_rl_tabular_free(&t);
    }
}

/* Cliff walking (Sutton & Barto, example 6.6): a 4 x 12 grid with the cliff along the
 * bottom between S and G, -1 per step, -100 for falling (here the fall ends the
 * episode). With epsilon 0.1, Q-learning learns the optimal path along the edge (13
 * steps, 12 cells beside the cliff) and pays for it while exploring; SARSA values the
 * exploration it does, steps away from the edge, and earns more online. */
static void test_cliff_walking(void) {
    static const char *map = "............\n............\n............\nSXXXXXXXXXXG";
    seq_rl_env e;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    int64_t cells[60];
    int variant, ep, k, len[2] = {0, 0}, edge[2] = {0, 0};
    double online[2] = {0, 0}, ret;
    seq_rng rng;
    gc.step_reward = -1, gc.pit_reward = -100, gc.goal_reward = -1, gc.max_steps = 200;
    CHECK(seq_rl_gridworld_init(&e, map, gc, 1) == SEQ_OK);
    for (variant = 0; variant < 2; variant++) {
        seq_rl_tabular t;
        seq_rl_tabular_config c = seq_rl_tabular_config_default(variant ? SEQ_RL_SARSA : SEQ_RL_Q_LEARNING);
        c.alpha = 0.5, c.gamma = 1.0, c.epsilon = 0.1;
        CHECK(seq_rl_tabular_init(&t, c, 48, 4, NULL) == SEQ_OK);
        seq_rng_seed(&rng, 1);
        for (ep = 0; ep < 600; ep++) {
            CHECK(seq_rl_tabular_episode(&t, &e, &rng, &ret) == SEQ_OK);
            if (ep >= 200) online[variant] += ret / 400;
        }
        len[variant] = greedy_path(&t, &e, cells);
        for (k = 0; k < len[variant]; k++) edge[variant] += cells[k] / 12 == 2; /* cells beside the cliff */
        seq_rl_tabular_free(&t);
    }
    CHECK_MSG(len[0] == 13 && edge[0] == 12, "Q-learning: %d steps, %d beside the cliff", len[0], edge[0]);
    /* SARSA passes the edge row only where it must: above S and above G */
    CHECK_MSG(len[1] > 13 && edge[1] <= 2, "SARSA: %d steps, %d beside the cliff", len[1], edge[1]);
    CHECK_MSG(online[1] > online[0] + 2, "online return: SARSA %.1f, Q-learning %.1f", online[1], online[0]);
}

/* act()'s reported probability is the frequency it picks with: 1 - eps + eps/A for a
 * unique greedy action, split among ties, eps/A for the rest; greedy acting reports 1. */
static void test_tabular_act_probabilities(void) {
    seq_rl_tabular t;
    seq_rl_tabular_config c = seq_rl_tabular_config_default(SEQ_RL_Q_LEARNING);
    seq_rng rng;
    int64_t count[4] = {0}, a, k;
    double p, prob[4] = {0};
    c.epsilon = 0.2;
    CHECK(seq_rl_tabular_init(&t, c, 2, 4, NULL) == SEQ_OK);
    t.q[0] = 1, t.q[1] = 3, t.q[2] = 3, t.q[3] = -1; /* state 0: actions 1 and 2 tie */
    seq_rng_seed(&rng, 4);
    for (k = 0; k < 40000; k++) {
        a = seq_rl_tabular_act(&t, 0, &rng, &p);
        count[a]++, prob[a] = p;
    }
    CHECK_NEAR(prob[1], 0.05 + 0.4, 1e-12);
    CHECK_NEAR(prob[0], 0.05, 1e-12);
    for (a = 0; a < 4; a++) CHECK_NEAR((double)count[a] / 40000.0, prob[a], 0.01);
    CHECK(seq_rl_tabular_act(&t, 0, NULL, &p) == 1 && p == 1.0);
    CHECK_NEAR(seq_rl_tabular_value(&t, 0), 3.0, 0);
    seq_rl_tabular_free(&t);
}

/* A NaN action value (a diverged table, or one loaded from a file; found by fuzz_saves)
 * ties only with itself: exploring acts stay in range and their probabilities sum to 1,
 * where the tie search used to run past the row. */
static void test_tabular_act_nan_values(void) {
    seq_rl_tabular t;
    seq_rl_tabular_config c = seq_rl_tabular_config_default(SEQ_RL_Q_LEARNING);
    seq_rng rng;
    int64_t a, k;
    double p, prob[3] = {0};
    c.epsilon = 0.3;
    CHECK(seq_rl_tabular_init(&t, c, 2, 3, NULL) == SEQ_OK);
    t.q[0] = NAN, t.q[1] = NAN, t.q[2] = 1.0;
    seq_rng_seed(&rng, 8);
    for (k = 0; k < 2000; k++) {
        a = seq_rl_tabular_act(&t, 0, &rng, &p);
        CHECK_MSG(a >= 0 && a < 3 && p > 0 && p <= 1, "act %lld with probability %g", (long long)a, p);
        if (a < 0 || a >= 3) break;
        prob[a] = p;
    }
    CHECK_NEAR(prob[0] + prob[1] + prob[2], 1.0, 1e-12);
    seq_rl_tabular_free(&t);
}

/* Bad configs, states, actions and rewards: errors naming the function, the table as it
 * was; save/load round trip; a corrupt file and an agent of other sizes: SEQ_ERR_FORMAT,
 * the agent unchanged; allocation failures leak nothing. */
static void test_tabular_bad_input_save_load(void) {
    const char *path = "build/rl_tabular_test.sav";
    seq_rl_tabular t, u, w;
    seq_rl_tabular_config c = seq_rl_tabular_config_default(SEQ_RL_SARSA_LAMBDA);
    double before[32];
    long k, live = seq_test_live_blocks;
    c.alpha = 0;
    CHECK(seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_ERR_INVALID && t.q == NULL);
    c = seq_rl_tabular_config_default(SEQ_RL_SARSA_LAMBDA);
    CHECK(seq_rl_tabular_init(&t, c, 0, 4, NULL) == SEQ_ERR_INVALID);
    c.lambda = NAN;
    CHECK(seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_ERR_INVALID);
    c.lambda = 0.9;
    CHECK(seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_OK);
    CHECK(seq_rl_tabular_update(&t, 0, 1, 0.5, 1, 1, 0) == SEQ_OK);
    memcpy(before, t.q, sizeof before);
    CHECK(seq_rl_tabular_update(&t, 4, 1, 0.5, 1, 1, 0) == SEQ_ERR_RANGE);
    CHECK(strstr(seq_last_error(), "seq_rl_tabular_update") != NULL);
    CHECK(seq_rl_tabular_update(&t, 0, 4, 0.5, 1, 1, 0) == SEQ_ERR_RANGE);
    CHECK(seq_rl_tabular_update(&t, 0, 1, 0.5, 1, -1, 0) == SEQ_ERR_RANGE); /* SARSA needs a' */
    CHECK(seq_rl_tabular_update(&t, 0, 1, NAN, 1, 1, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_tabular_update(&t, 0, 1, INFINITY, 1, 1, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_tabular_act(&t, -1, NULL, NULL) == -1 && seq_last_status() == SEQ_ERR_RANGE);
    CHECK(memcmp(before, t.q, sizeof before) == 0 && t.updates == 1);
    CHECK(seq_rl_tabular_save(&t, path) == SEQ_OK);
    CHECK(seq_rl_tabular_init(&u, c, 4, 4, NULL) == SEQ_OK);
    CHECK(seq_rl_tabular_load(&u, path) == SEQ_OK);
    CHECK(memcmp(u.q, t.q, sizeof before) == 0 && u.updates == 1 && u.cfg.lambda == c.lambda);
    CHECK(seq_rl_tabular_init(&w, c, 5, 4, NULL) == SEQ_OK);
    CHECK(seq_rl_tabular_load(&w, path) == SEQ_ERR_FORMAT && w.q[0] == 0.0 && w.updates == 0);
    seq_rl_tabular_free(&w);
    c.algo = SEQ_RL_SARSA;
    CHECK(seq_rl_tabular_init(&w, c, 4, 4, NULL) == SEQ_OK);
    CHECK(seq_rl_tabular_load(&w, path) == SEQ_ERR_FORMAT);
    seq_rl_tabular_free(&w);
    corrupt_byte(path, 30);
    u.q[0] = 42;
    CHECK(seq_rl_tabular_load(&u, path) == SEQ_ERR_FORMAT && u.q[0] == 42);
    remove(path);
    seq_rl_tabular_free(&u);
    seq_rl_tabular_free(&t);
    for (k = 0; k < 3; k++) {
        seq_test_fail_after(k);
        if (seq_rl_tabular_init(&t, c, 4, 4, NULL) == SEQ_OK) seq_rl_tabular_free(&t);
        else CHECK(seq_last_status() == SEQ_ERR_NOMEM);
    }
    seq_test_fail_never();
    CHECK(seq_test_live_blocks == live);
}

/* ------------------------------------------------------------------- DQN --------- */

typedef struct {
    seq_tensor *q;
    const int32_t *actions;
    const float *targets, *weights;
    float delta;
} q_loss_case;

static seq_tensor *q_loss_build(seq_ctx *ctx, void *ud) {
    q_loss_case *c = (q_loss_case *)ud;
    return seq_rl_q_loss(ctx, c->q, c->actions, c->targets, c->weights, c->delta, NULL);
}

/* The loss and its TD errors by hand, then finite differences through the quadratic
 * and linear Huber branches, with and without weights, and the squared-error variant. */
static void test_q_loss(void) {
    enum { N = 6, A = 3 };
    static const int32_t actions[N] = {0, 2, 1, 1, 0, 2};
    static const float weights[N] = {1.0f, 0.5f, 0.25f, 0.8f, 0.1f, 0.6f};
    static const float offset[N] = {0.3f, -2.5f, 1.7f, -0.4f, 4.0f, 0.05f}; /* d_i: three beyond delta = 1 */
    float targets[N], td[N], bad_t[N];
    int32_t bad_a[N];
    int64_t qs[2] = {N, A}, i;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng rng;
    q_loss_case c;
    seq_gradcheck_result res;
    seq_tensor *loss;
    double want = 0;
    int variant;
    seq_rng_seed(&rng, 8);
    c.q = seq_params_add(P, "q", 2, qs, seq_init_normal(0, 1));
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    for (i = 0; i < N; i++) {
        double d = offset[i];
        targets[i] = c.q->data[i * A + actions[i]] - offset[i];
        want += weights[i] * (fabs(d) <= 1 ? 0.5 * d * d : fabs(d) - 0.5);
    }
    loss = seq_rl_q_loss(ctx, c.q, actions, targets, weights, 1.0f, td);
    CHECK(loss && seq_ctx_status(ctx) == SEQ_OK);
    if (loss) CHECK_NEAR(loss->data[0], want / N, 1e-5);
    for (i = 0; i < N; i++) CHECK_NEAR(td[i], offset[i], 1e-5);
    { /* unweighted, it is seq.h's Huber loss on the taken actions' values */
        float taken[N];
        int64_t ns[1] = {N};
        seq_tensor *ref;
        for (i = 0; i < N; i++) taken[i] = c.q->data[i * A + actions[i]];
        ref = seq_huber(ctx, seq_tensor_wrap(ctx, taken, 1, ns), seq_tensor_wrap(ctx, targets, 1, ns), 1.0f);
        loss = seq_rl_q_loss(ctx, c.q, actions, targets, NULL, 1.0f, NULL);
        CHECK(ref && loss);
        if (ref && loss) CHECK_NEAR(loss->data[0], ref->data[0], 1e-6);
    }
    c.actions = actions, c.targets = targets;
    for (variant = 0; variant < 3; variant++) {
        c.weights = variant == 1 ? NULL : weights, c.delta = variant == 2 ? 0.0f : 1.0f;
        CHECK(seq_gradcheck(ctx, P, q_loss_build, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0 && res.checked == N * A, "variant %d: %lld failed, worst abs %g", variant,
                  (long long)res.failed, res.max_abs_err);
    }
    memcpy(bad_a, actions, sizeof bad_a), memcpy(bad_t, targets, sizeof bad_t);
    bad_a[3] = 3;
    seq_ctx_reset(ctx);
    CHECK(seq_rl_q_loss(ctx, c.q, bad_a, targets, NULL, 1.0f, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_RANGE);
    bad_t[2] = NAN;
    seq_ctx_reset(ctx);
    CHECK(seq_rl_q_loss(ctx, c.q, actions, bad_t, NULL, 1.0f, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* A small DQN for the 1 x 5 corridor S . . . G (observation: the scaled column). */
static seq_rl_dqn_config tiny_dqn_config(void) {
    seq_rl_dqn_config c = seq_rl_dqn_config_default();
    c.n_hidden = 1, c.hidden[0] = 32;
    c.lr = 3e-3f, c.gamma = 0.9f, c.buffer_size = 2000, c.batch_size = 32, c.learning_starts = 200;
    c.train_freq = 1, c.target_freq = 50, c.eps_fraction = 0.5f, c.total_steps = 3000;
    return c;
}

/* Trains on the corridor for cfg.total_steps and checks the result: in every cell the
 * greedy action is "right" and Q(s, right) is near its true value gamma^(steps to G - 1)
 * (reward 1 at G, 0 per step). */
static void dqn_learns_corridor(seq_rl_dqn_config cfg, const char *what) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    seq_rl_dqn *ag;
    float obs[2], q[4];
    double prob;
    int64_t cell;
    gc.step_reward = 0.0f;
    CHECK(seq_rl_gridworld_init(&proto, "S...G", gc, 1) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 2, 3, NULL) == SEQ_OK);
    ag = seq_rl_dqn_init(cfg, 2, 4, 5, NULL);
    CHECK(ag != NULL);
    if (!ag) return;
    while (ag->steps < cfg.total_steps) CHECK(seq_rl_dqn_iterate(ag, &v) == SEQ_OK);
    CHECK(ag->updates > 0 && ag->n_recent > 0);
    for (cell = 0; cell < 4; cell++) {
        double truth = pow(cfg.gamma, (double)(3 - cell));
        obs[0] = 0.0f, obs[1] = (float)cell / 4.0f;
        seq_rl_dqn_values(ag, obs, 1, q);
        CHECK_MSG(seq_rl_dqn_act(ag, obs, NULL, &prob) == 1 && prob == 1.0, "%s: cell %lld, Q = %.3f %.3f %.3f %.3f", what,
                  (long long)cell, q[0], q[1], q[2], q[3]);
        CHECK_MSG(fabs(q[1] - truth) < 0.1, "%s: Q(%lld, right) = %.3f, truth %.3f", what, (long long)cell, q[1], truth);
    }
    seq_rl_dqn_free(ag);
    seq_rl_vec_env_free(&v);
}

/* Uniform replay with hard target copies; prioritized replay with Polyak averaging and
 * the Huber loss; plain (not double) DQN. Each about 3000 env steps. */
static void test_dqn_learns_chain(void) {
    seq_rl_dqn_config c = tiny_dqn_config();
    dqn_learns_corridor(c, "double DQN, uniform");
    c.prioritized = 1, c.tau = 0.05f, c.target_freq = 1, c.huber_delta = 1.0f;
    dqn_learns_corridor(c, "double DQN, prioritized, Polyak, Huber");
    c = tiny_dqn_config();
    c.double_dqn = 0;
    dqn_learns_corridor(c, "DQN");
}

/* Epsilon anneals linearly and act() reports the eps-greedy probability it used. */
static void test_dqn_epsilon_and_prob(void) {
    seq_rl_dqn_config c = tiny_dqn_config();
    seq_rl_dqn *ag = seq_rl_dqn_init(c, 2, 4, 1, NULL);
    float obs[2] = {0.0f, 0.5f}, q[4];
    double p;
    seq_rng rng;
    int64_t a, greedy;
    CHECK(ag != NULL);
    if (!ag) return;
    CHECK(seq_rl_dqn_epsilon(ag) == 1.0);
    ag->steps = 750; /* half of the 1500 annealing steps */
    CHECK_NEAR(seq_rl_dqn_epsilon(ag), 0.525, 1e-9);
    seq_rl_dqn_values(ag, obs, 1, q);
    greedy = seq_rl_dqn_act(ag, obs, NULL, NULL);
    seq_rng_seed(&rng, 2);
    a = seq_rl_dqn_act(ag, obs, &rng, &p);
    CHECK_NEAR(p, a == greedy ? 0.525 / 4 + 0.475 : 0.525 / 4, 1e-9);
    ag->steps = 1 << 20;
    CHECK(seq_rl_dqn_epsilon(ag) == (double)c.eps_end);
    seq_rl_dqn_free(ag);
}

/* Save, train on, load: the same Q-values, counters and next actions as when saved;
 * another architecture and a corrupt file: SEQ_ERR_FORMAT, the agent unchanged. */
static void test_dqn_save_load(void) {
    const char *path = "build/rl_dqn_test.sav";
    seq_rl_dqn_config c = tiny_dqn_config();
    seq_rl_dqn *ag = seq_rl_dqn_init(c, 2, 4, 1, NULL), *other;
    float o[2] = {0.1f, 0.2f}, o2[2] = {0.3f, 0.4f}, q1[4], q2[4];
    int64_t k, steps, a1, a2;
    CHECK(ag != NULL);
    if (!ag) return;
    for (k = 0; k < 300; k++) CHECK(seq_rl_dqn_observe(ag, o, k % 4, 0.5f, o2, k % 7 == 0) == SEQ_OK);
    CHECK(ag->updates == 100);
    CHECK(seq_rl_dqn_save(ag, path) == SEQ_OK);
    seq_rl_dqn_values(ag, o, 1, q1);
    steps = ag->steps;
    a1 = seq_rl_dqn_act(ag, o, &ag->rng, NULL);
    for (k = 0; k < 50; k++) CHECK(seq_rl_dqn_observe(ag, o, 1, 1.0f, o2, 0) == SEQ_OK);
    CHECK(seq_rl_dqn_load(ag, path) == SEQ_OK);
    seq_rl_dqn_values(ag, o, 1, q2);
    a2 = seq_rl_dqn_act(ag, o, &ag->rng, NULL);
    CHECK(memcmp(q1, q2, sizeof q1) == 0 && ag->steps == steps && ag->updates == 100 && a1 == a2);
    c.hidden[0] = 16;
    other = seq_rl_dqn_init(c, 2, 4, 1, NULL);
    CHECK(other && seq_rl_dqn_load(other, path) == SEQ_ERR_FORMAT && other->steps == 0);
    seq_rl_dqn_free(other);
    corrupt_byte(path, 200);
    CHECK(seq_rl_dqn_load(ag, path) == SEQ_ERR_FORMAT && ag->steps == steps);
    remove(path);
    seq_rl_dqn_free(ag);
}

/* Bad configs, transitions and envs: errors, nothing learned from them; allocation
 * failures anywhere in init leak nothing. */
static void test_dqn_bad_input(void) {
    seq_rl_dqn_config c = tiny_dqn_config();
    seq_rl_dqn *ag;
    seq_rl_env proto;
    seq_rl_vec_env v;
    float o[2] = {0, 0}, nan_o[2] = {NAN, 0};
    long k, live = seq_test_live_blocks;
    c.gamma = 1.5f;
    CHECK(!seq_rl_dqn_init(c, 2, 4, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    c = tiny_dqn_config(), c.tau = 0.0f;
    CHECK(!seq_rl_dqn_init(c, 2, 4, 1, NULL));
    c = tiny_dqn_config(), c.n_hidden = SEQ_RL_MLP_MAX_LAYERS;
    CHECK(!seq_rl_dqn_init(c, 2, 4, 1, NULL));
    c = tiny_dqn_config();
    CHECK(!seq_rl_dqn_init(c, 0, 4, 1, NULL));
    ag = seq_rl_dqn_init(c, 2, 4, 1, NULL);
    CHECK(ag != NULL);
    if (!ag) return;
    CHECK(seq_rl_dqn_observe(ag, nan_o, 0, 1.0f, o, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_dqn_observe(ag, o, 0, NAN, o, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_dqn_observe(ag, o, 4, 1.0f, o, 0) == SEQ_ERR_RANGE);
    CHECK(ag->steps == 0 && ag->rb.size == 0);
    CHECK(seq_rl_dqn_train(ag) == SEQ_ERR_STATE); /* nothing to sample yet */
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 1) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 2, 1, NULL) == SEQ_OK);
    CHECK(seq_rl_dqn_iterate(ag, &v) == SEQ_ERR_INVALID);
    seq_rl_vec_env_free(&v);
    seq_rl_dqn_free(ag);
    for (k = 0; k < 40; k++) {
        seq_test_fail_after(k);
        ag = seq_rl_dqn_init(c, 2, 4, 1, NULL);
        seq_test_fail_never();
        if (ag) {
            CHECK(seq_rl_dqn_observe(ag, o, 0, 1.0f, o, 0) == SEQ_OK);
            seq_rl_dqn_free(ag);
        } else { /* NOMEM, or INVALID where seq_rl_mlp_init cannot register a tensor */
            CHECK(seq_last_status() != SEQ_OK && seq_last_error()[0] != 0);
        }
    }
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_rl_value(void) {
    RUN(test_sum_tree_prefix);
    RUN(test_per_sampling_frequencies);
    RUN(test_per_weights);
    RUN(test_replay_ring_uniform);
    RUN(test_replay_bad_input);
    RUN(test_replay_save_load);
    RUN(test_td_lambda_traces_by_hand);
    RUN(test_q_lambda_cuts_traces);
    RUN(test_tabular_converges_to_known_values);
    RUN(test_tabular_learns_optimal_policy);
    RUN(test_cliff_walking);
    RUN(test_tabular_act_probabilities);
    RUN(test_tabular_act_nan_values);
    RUN(test_tabular_bad_input_save_load);
    RUN(test_q_loss);
    RUN(test_dqn_learns_chain);
    RUN(test_dqn_epsilon_and_prob);
    RUN(test_dqn_save_load);
    RUN(test_dqn_bad_input);
}
