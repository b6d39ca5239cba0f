#define _POSIX_C_SOURCE 200809L /* popen, clock_gettime under -std=c99 */
/* seq_rl.h bandits: the regret table of the instance (9 Bernoulli arms with
 * means linspace(0.05, 0.95), T = 10^4, 100 seeded runs per policy) beside the
 * Lai-Robbins bound, then select+update decisions per second (10 arms; LinUCB and LinTS
 * with 32 features) against the same loops in Python/numpy (bench/rl_numpy.py). */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

#define ARMS 9
#define HORIZON 10000
#define RUNS 100

/* Mean and standard error of the regret at T, and the mean regret at T/10. */
static void regret(seq_rl_bandit_config cfg, const double *m, double *mean, double *se, double *early) {
    double best = m[ARMS - 1], sum = 0, sum2 = 0, sum_early = 0;
    int run;
    int64_t t;
    cfg.propensity_draws = 0; /* regret only: Thompson's propensity estimate is not needed */
    for (run = 0; run < RUNS; run++) {
        seq_rl_bandit b;
        seq_rl_choice c;
        seq_rng rng;
        double r = 0;
        seq_rng_seed(&rng, 1000 + (uint64_t)run);
        if (seq_rl_bandit_init(&b, &cfg, NULL) != SEQ_OK) exit(1);
        for (t = 0; t < HORIZON; t++) {
            seq_rl_bandit_select(&b, &rng, &c);
            seq_rl_bandit_update(&b, &c, seq_rng_double(&rng) < m[c.arm] ? 1.0 : 0.0);
            r += best - m[c.arm];
            if (t == HORIZON / 10 - 1) sum_early += r;
        }
        seq_rl_bandit_free(&b);
        sum += r;
        sum2 += r * r;
    }
    *mean = sum / RUNS;
    *se = sqrt((sum2 / RUNS - *mean * *mean) / (RUNS - 1));
    *early = sum_early / RUNS;
}

/* Decisions (select + update) per second of a 10-arm bandit, best of 3. */
static double bandit_rate(seq_rl_bandit_config cfg) {
    double best = 0;
    int rep;
    for (rep = 0; rep < 3; rep++) {
        seq_rl_bandit b;
        seq_rl_choice c;
        seq_rng rng;
        int64_t t, n = 200000 / (cfg.propensity_draws > 0 ? 50 : 1);
        double t0;
        seq_rng_seed(&rng, 3);
        if (seq_rl_bandit_init(&b, &cfg, NULL) != SEQ_OK) exit(1);
        t0 = bench_now();
        for (t = 0; t < n; t++) {
            seq_rl_bandit_select(&b, &rng, &c);
            seq_rl_bandit_update(&b, &c, seq_rng_double(&rng) < 0.05 + 0.1 * (double)c.arm ? 1.0 : 0.0);
        }
        best = fmax(best, (double)n / (bench_now() - t0));
        seq_rl_bandit_free(&b);
    }
    return best;
}

static double linear_rate(seq_rl_linear_kind kind, int64_t draws) {
    enum { K = 10, D = 32 };
    seq_rl_linear_config cfg = seq_rl_linear_config_default(kind, K, D);
    seq_rl_linear b;
    seq_rl_choice c;
    seq_rng rng;
    double x[D], t0, best = 0;
    int64_t t, i, n = draws > 0 ? 500 : 20000; /* LinUCB ignores draws */
    int rep;
    cfg.propensity_draws = draws;
    seq_rng_seed(&rng, 5);
    for (rep = 0; rep < 3; rep++) {
        if (seq_rl_linear_init(&b, &cfg, NULL) != SEQ_OK) exit(1);
        t0 = bench_now();
        for (t = 0; t < n; t++) {
            for (i = 0; i < D; i++) x[i] = seq_rng_normal(&rng, 0, 1);
            seq_rl_linear_select(&b, x, 0, &rng, &c);
            seq_rl_linear_update(&b, x, &c, seq_rng_double(&rng) < 0.5);
        }
        best = fmax(best, (double)n / (bench_now() - t0));
        seq_rl_linear_free(&b);
    }
    return best;
}

int main(void) {
    static const seq_rl_bandit_kind kinds[] = {
        SEQ_RL_BANDIT_THOMPSON_BETA, SEQ_RL_BANDIT_KL_UCB,  SEQ_RL_BANDIT_UCB1,   SEQ_RL_BANDIT_UCB_V,
        SEQ_RL_BANDIT_EPSILON_GREEDY, SEQ_RL_BANDIT_SOFTMAX, SEQ_RL_BANDIT_EXP3,   SEQ_RL_BANDIT_EXP3_IX,
        SEQ_RL_BANDIT_DISCOUNTED_UCB, SEQ_RL_BANDIT_SLIDING_WINDOW_UCB, SEQ_RL_BANDIT_THOMPSON_GAUSSIAN};
    double m[ARMS], C, mean, se, early, peer_ucb, peer_ts, peer_lin, r;
    char out[4096];
    size_t k;
    int i, ok = 1;
    for (i = 0; i < ARMS; i++) m[i] = 0.05 + 0.1125 * i;
    seq_rl_lai_robbins(m, ARMS, &C);
    printf("regret, %d Bernoulli arms linspace(0.05, 0.95), T = %d, %d seeded runs (default configs;\n"
           "decaying eps-greedy: c = 1, d = 0.1)\n", ARMS, HORIZON, RUNS);
    printf("  Lai-Robbins: C = %.4f, C ln T = %.1f (asymptotic, for consistent policies)\n", C, C * log(HORIZON));
    printf("  %-22s %10s %8s %12s %9s\n", "policy", "regret", "+-se", "at T/10", "target");
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default(kinds[k], ARMS);
        const char *target = "";
        double bound = INFINITY;
        if (kinds[k] == SEQ_RL_BANDIT_EPSILON_GREEDY) cfg.epsilon_c = 1.0, cfg.epsilon = 1.0;
        regret(cfg, m, &mean, &se, &early);
        if (kinds[k] == SEQ_RL_BANDIT_THOMPSON_BETA) target = "<= 40", bound = 40;
        if (kinds[k] == SEQ_RL_BANDIT_KL_UCB) target = "<= 55", bound = 55;
        if (kinds[k] == SEQ_RL_BANDIT_UCB1) target = "<= 350", bound = 350;
        if (kinds[k] == SEQ_RL_BANDIT_EXP3) target = "sublinear", bound = 10.0 * early;
        printf("  %-22s %10.1f %8.1f %12.1f %9s %s\n", seq_rl_bandit_kind_name(kinds[k]), mean, se, early, target,
               mean <= bound ? (bound < INFINITY ? "ok" : "") : "MISSED");
        if (mean > bound) ok = 0;
    }

    printf("\nselect + update per second (one core)\n");
    bench_peer_output("/usr/bin/python3 bench/rl_numpy.py 2>/dev/null", out, sizeof out);
    peer_ucb = bench_peer_value(out, "ucb1_per_s");
    peer_ts = bench_peer_value(out, "thompson_per_s");
    peer_lin = bench_peer_value(out, "linucb32_per_s");
    printf("  %-34s %14s %14s %8s\n", "policy", "seq", "numpy", "ratio");
    for (k = 0; k < SEQ_RL_BANDIT_KIND_COUNT; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default((seq_rl_bandit_kind)k, 10);
        double peer = k == SEQ_RL_BANDIT_UCB1 ? peer_ucb : k == SEQ_RL_BANDIT_THOMPSON_BETA ? peer_ts : -1;
        cfg.propensity_draws = 0;
        r = bandit_rate(cfg);
        if (peer > 0) printf("  %-34s %14.0f %14.0f %7.0fx\n", seq_rl_bandit_kind_name(cfg.kind), r, peer, r / peer);
        else printf("  %-34s %14.0f\n", seq_rl_bandit_kind_name(cfg.kind), r);
    }
    printf("  %-34s %14.0f\n", "thompson-beta, 100-draw propensity",
           bandit_rate(seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_BETA, 10)));
    r = linear_rate(SEQ_RL_LINUCB, 0);
    if (peer_lin > 0) printf("  %-34s %14.0f %14.0f %7.0fx\n", "linucb, d = 32", r, peer_lin, r / peer_lin);
    else printf("  %-34s %14.0f\n", "linucb, d = 32", r);
    printf("  %-34s %14.0f\n", "lints, d = 32, no propensity", linear_rate(SEQ_RL_LINTS, 0));
    printf("  %-34s %14.0f\n", "lints, d = 32, 100-draw propensity", linear_rate(SEQ_RL_LINTS, 100));
    return ok ? 0 : 1;
}
