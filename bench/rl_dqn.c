#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* DQN on CartPole-v1 against the target: the mean return of the last 100
 * episodes >= 475 within 500k env steps. Per seed: the env steps needed, the wall and
 * CPU seconds, and the mean when training stopped.
 *
 *   ./bench_rl_dqn                 the library's defaults (below), 3 seeds
 *   ./bench_rl_dqn --cleanrl       CleanRL's dqn.py hyperparameters as they are (MSE
 *                                  loss, no double DQN, no clipping) for comparison
 *   ./bench_rl_dqn --fast          faster exploration decay (20% of the run), an update
 *                                  every 4 steps and a 50k buffer
 *   --per                          prioritized replay on top of any of these
 *   --seeds N, --first-seed S, --steps N   which runs, and another step budget */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

/* CleanRL's dqn.py for CartPole-v1 (lr 2.5e-4, buffer 10k, batch 128, target every 500
 * steps, epsilon 1 -> 0.05 over half the run, learning from 10k steps, an update every
 * 10 steps, a 120-84 ReLU network, MSE loss). */
static seq_rl_dqn_config cleanrl_config(int64_t steps) {
    seq_rl_dqn_config c = seq_rl_dqn_config_default();
    c.total_steps = steps;
    c.double_dqn = 0, c.max_grad_norm = 0.0f;
    return c;
}

/* The library's defaults: CleanRL's hyperparameters with double DQN and gradient
 * clipping at 10; --fast explores for a shorter time and learns more often. */
static seq_rl_dqn_config default_config(int64_t steps, int fast) {
    seq_rl_dqn_config c = seq_rl_dqn_config_default();
    c.total_steps = steps;
    if (fast) c.eps_fraction = 0.2f, c.train_freq = 4, c.buffer_size = 50000;
    return c;
}

/* Trains on one env until the last-100 mean reaches 475 (returns the step count) or the
 * budget runs out (-1). */
static int64_t train(seq_rl_dqn_config cfg, uint64_t seed, double *final_mean, double *wall, double *cpu) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_dqn *ag;
    int64_t reached = -1, last_report = 0;
    double w0 = bench_now(), c0 = (double)clock() / CLOCKS_PER_SEC; /* CPU time: the machine may be shared */
    if (seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, seed) != SEQ_OK ||
        seq_rl_vec_env_init(&v, &proto, 1, seed, NULL) != SEQ_OK ||
        !(ag = seq_rl_dqn_init(cfg, proto.obs_dim, proto.n_actions, seed, NULL))) {
        printf("setup failed: %s\n", seq_last_error());
        *final_mean = NAN, *wall = *cpu = 0;
        return -1;
    }
    while (ag->steps < cfg.total_steps && reached < 0) {
        if (seq_rl_dqn_iterate(ag, &v) != SEQ_OK) {
            printf("training failed: %s\n", seq_last_error());
            break;
        }
        if (ag->n_recent >= 100 && seq_rl_dqn_mean_return(ag) >= 475.0) reached = ag->steps;
        if (ag->steps - last_report >= 50000) {
            last_report = ag->steps;
            printf("    %7lld steps: mean %.1f, epsilon %.3f, loss %.4f\n", (long long)ag->steps, seq_rl_dqn_mean_return(ag),
                   seq_rl_dqn_epsilon(ag), ag->last_loss);
            fflush(stdout);
        }
    }
    *final_mean = seq_rl_dqn_mean_return(ag);
    *wall = bench_now() - w0, *cpu = (double)clock() / CLOCKS_PER_SEC - c0;
    seq_rl_dqn_free(ag);
    seq_rl_vec_env_free(&v);
    return reached;
}

int main(int argc, char **argv) {
    int seeds = 3, first = 1, cleanrl = 0, fast = 0, per = 0, s, i, solved = 0;
    int64_t steps = 500000, at;
    double mean, wall, cpu, sum_at = 0;
    seq_rl_dqn_config cfg;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cleanrl")) cleanrl = 1;
        else if (!strcmp(argv[i], "--per")) per = 1;
        else if (!strcmp(argv[i], "--fast")) fast = 1;
        else if (!strcmp(argv[i], "--first-seed") && i + 1 < argc) first = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
    }
    cfg = cleanrl ? cleanrl_config(steps) : default_config(steps, fast);
    cfg.prioritized = per;
    printf("DQN CartPole-v1, %s%s: lr %g, buffer %lld, batch %lld, learning from %lld, update every %lld, target every "
           "%lld (tau %g), eps %g -> %g over %.0f%%, %s, %s loss, clip %g\n",
           cleanrl ? "CleanRL's hyperparameters" : fast ? "defaults, --fast" : "defaults", per ? " + prioritized replay" : "", cfg.lr,
           (long long)cfg.buffer_size, (long long)cfg.batch_size, (long long)cfg.learning_starts, (long long)cfg.train_freq,
           (long long)cfg.target_freq, cfg.tau, cfg.eps_start, cfg.eps_end, 100.0 * cfg.eps_fraction,
           cfg.double_dqn ? "double DQN" : "plain DQN", cfg.huber_delta > 0 ? "Huber" : "MSE", cfg.max_grad_norm);
    printf("target: mean return of the last 100 episodes >= 475 within %lld steps\n", (long long)steps);
    for (s = 0; s < seeds; s++) {
        at = train(cfg, (uint64_t)(first + s), &mean, &wall, &cpu);
        printf("  seed %d: %s at %lld steps, mean %.1f, %.1f s wall, %.1f s CPU\n", first + s, at >= 0 ? "solved" : "NOT solved",
               (long long)at, mean, wall, cpu);
        fflush(stdout);
        if (at >= 0) solved++, sum_at += (double)at;
    }
    printf("solved %d of %d seeds%s", solved, seeds, solved ? ", mean steps needed " : "\n");
    if (solved) printf("%.0f\n", sum_at / solved);
    return 0;
}
