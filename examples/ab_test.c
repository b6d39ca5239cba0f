/* An A/B test that stops wasting traffic: two page variants with conversion rates of
 * 4% and 5% (unknown to the test), 20,000 visitors. A fixed 50/50 split shows the worse
 * page to half of them; Thompson sampling moves traffic to the better page as evidence
 * comes in. Averaged over 20 seeded repetitions, the cumulative regret (conversions lost
 * against always showing the better page) of both goes to regret_plot.svg.
 * Then the logged propensities answer "what if we had shipped B to everyone?"
 * off-policy, from the Thompson run's own logs.
 *
 *     ./ab_test [--quiet] [visitors]      exit 0 when Thompson beat the split */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"
#include "svg_plot.h"

#define REPS 20
#define POINTS 200 /* regret curve samples */

static const double rate[2] = {0.04, 0.05};

int main(int argc, char **argv) {
    int quiet = 0, i, rep;
    long visitors = 20000, t;
    double x[POINTS], thompson[POINTS], split[POINTS], to_b = 0;
    int64_t *act;
    double *rew, *prop, *target;
    seq_rl_ope_result est;
    seq_rl_log log;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else visitors = atol(argv[i]);
    }
    if (visitors < POINTS) visitors = POINTS;
    act = (int64_t *)malloc((size_t)visitors * sizeof *act);
    rew = (double *)malloc((size_t)visitors * sizeof *rew);
    prop = (double *)malloc((size_t)visitors * sizeof *prop);
    target = (double *)malloc((size_t)visitors * 2 * sizeof *target);
    if (!act || !rew || !prop || !target) return 1;
    memset(thompson, 0, sizeof thompson);
    memset(split, 0, sizeof split);
    for (rep = 0; rep < REPS; rep++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_BETA, 2);
        seq_rl_bandit ts;
        seq_rl_choice c;
        seq_rng rng;
        double lost_ts = 0, lost_split = 0;
        cfg.propensity_draws = 100; /* every logged decision carries its probability */
        seq_rng_seed(&rng, 2024 + (uint64_t)rep);
        if (seq_rl_bandit_init(&ts, &cfg, NULL) != SEQ_OK) {
            fprintf(stderr, "ab_test: %s\n", seq_last_error());
            return 1;
        }
        for (t = 0; t < visitors; t++) {
            int64_t fixed = (int64_t)seq_rng_below(&rng, 2); /* the 50/50 split */
            if (seq_rl_bandit_select(&ts, &rng, &c) != SEQ_OK) return 1;
            act[t] = c.arm;
            prop[t] = c.prob;
            rew[t] = seq_rng_double(&rng) < rate[c.arm] ? 1.0 : 0.0;
            if (seq_rl_bandit_update(&ts, &c, rew[t]) != SEQ_OK) return 1;
            lost_ts += rate[1] - rate[c.arm];
            lost_split += rate[1] - rate[fixed];
            to_b += c.arm == 1;
            if ((t + 1) % (visitors / POINTS) == 0 && (t + 1) / (visitors / POINTS) <= POINTS) {
                int k = (int)((t + 1) / (visitors / POINTS)) - 1;
                x[k] = (double)(t + 1);
                thompson[k] += lost_ts / REPS;
                split[k] += lost_split / REPS;
            }
        }
        seq_rl_bandit_free(&ts);
    }
    {
        svg_series s[2];
        s[0].name = "Thompson sampling", s[0].x = x, s[0].y = thompson, s[0].n = POINTS;
        s[1].name = "fixed 50/50 split", s[1].x = x, s[1].y = split, s[1].n = POINTS;
        if (svg_plot_write("regret_plot.svg", "A/B test: conversions lost vs always showing B", "visitors",
                           "cumulative regret", s, 2) != 0)
            fprintf(stderr, "ab_test: cannot write regret_plot.svg\n");
    }
    /* The last repetition's logs: what would shipping B to everyone convert? (truth 5%) */
    for (t = 0; t < visitors; t++) target[2 * t] = 0.0, target[2 * t + 1] = 1.0;
    log.n = visitors, log.actions = 2, log.dim = 0, log.context = NULL;
    log.action = act, log.reward = rew, log.propensity = prop;
    {
        seq_rl_ope_config oc = seq_rl_ope_config_default(SEQ_RL_OPE_SNIPS);
        if (seq_rl_ope(&log, target, &oc, NULL, &est) != SEQ_OK) {
            fprintf(stderr, "ab_test: %s\n", seq_last_error());
            return 1;
        }
    }
    if (!quiet) {
        printf("A/B test, %ld visitors, conversion A %.1f%% B %.1f%%, mean of %d runs\n", visitors, 100 * rate[0],
               100 * rate[1], REPS);
        printf("  conversions lost: Thompson %.1f, 50/50 split %.1f (%.1fx fewer)\n", thompson[POINTS - 1],
               split[POINTS - 1], split[POINTS - 1] / thompson[POINTS - 1]);
        printf("  traffic Thompson sent to B: %.1f%%\n", 100.0 * to_b / ((double)visitors * REPS));
        printf("  off-policy, from the logs: shipping B converts %.2f%% (95%% CI %.2f%% .. %.2f%%; truth 5%%)\n",
               100 * est.value, 100 * est.lo, 100 * est.hi);
        printf("  wrote regret_plot.svg\n");
    } else {
        printf("thompson regret %.1f vs split %.1f; SNIPS B %.4f [%.4f, %.4f]\n", thompson[POINTS - 1], split[POINTS - 1],
               est.value, est.lo, est.hi);
    }
    free(act), free(rew), free(prop), free(target);
    return thompson[POINTS - 1] < 0.5 * split[POINTS - 1] && est.lo < rate[1] && rate[1] < est.hi ? 0 : 1;
}
