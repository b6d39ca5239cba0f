/* PPO solving CartPole-v1 (Gymnasium's dynamics, bit for bit) with 8 vectorized envs:
 * a progress bar while it trains, then the learning curve as ppo_cartpole.svg and the
 * trained policy saved as ppo_cartpole.safetensors.
 *
 *     ./build/ppo_cartpole [--steps N] [--seed S] [--quiet]
 *
 * Solved means a mean return >= 475 over the last 100 episodes (the v1 threshold); with
 * --quiet it prints only the result and exits 0 when solved. */
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"
#include "svg_plot.h"

#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 4096

int main(int argc, char **argv) {
    int64_t steps = 300000, solved_at = -1, n_envs = 8;
    uint64_t seed = 1;
    int quiet = 0, i, npts = 0, last_bar = -1;
    static double xs[MAX_POINTS], ys[MAX_POINTS];
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_ac *ag;
    svg_series curve;
    double mean = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--steps N] [--seed S] [--quiet]\n", argv[0]);
            return 2;
        }
    }
    cfg.total_steps = steps;
    if (seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, seed) != SEQ_OK ||
        seq_rl_vec_env_init(&v, &proto, n_envs, seed, NULL) != SEQ_OK ||
        !(ag = seq_rl_ac_init(cfg, proto.obs_dim, proto.n_actions, n_envs, seed, NULL))) {
        fprintf(stderr, "setup failed: %s\n", seq_last_error());
        return 1;
    }
    while (ag->steps < steps) {
        int bar;
        if (seq_rl_ac_iterate(ag, &v) != SEQ_OK) {
            fprintf(stderr, "training failed: %s\n", seq_last_error());
            return 1;
        }
        mean = seq_rl_ac_mean_return(ag);
        if (ag->n_recent > 0 && npts < MAX_POINTS) xs[npts] = (double)ag->steps, ys[npts++] = mean;
        if (solved_at < 0 && ag->n_recent >= 100 && mean >= 475.0) solved_at = ag->steps;
        bar = (int)(40 * ag->steps / steps);
        if (!quiet && bar != last_bar) {
            printf("\r[%-40.*s] %7lld steps  mean return %6.1f", bar, "========================================",
                   (long long)ag->steps, mean);
            fflush(stdout);
            last_bar = bar;
        }
    }
    if (!quiet) printf("\n");
    curve.name = "PPO, mean of last 100 episodes", curve.x = xs, curve.y = ys, curve.n = npts;
    if (svg_plot_write("ppo_cartpole.svg", "PPO on CartPole-v1", "environment steps", "return", &curve, 1) != 0 ||
        seq_rl_ac_save(ag, "ppo_cartpole.safetensors") != SEQ_OK)
        fprintf(stderr, "could not write the plot or the policy\n");
    if (solved_at >= 0) printf("solved: mean return >= 475 at %lld steps (final %.1f)\n", (long long)solved_at, mean);
    else printf("not solved in %lld steps: mean return %.1f\n", (long long)steps, mean);
    if (!quiet) printf("wrote ppo_cartpole.svg and ppo_cartpole.safetensors\n");
    seq_rl_ac_free(ag);
    seq_rl_vec_env_free(&v);
    return solved_at >= 0 ? 0 : 1;
}
