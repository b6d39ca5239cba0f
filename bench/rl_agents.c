#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* seq_rl.h's agents against the targets, in one run:
 *   - PPO on CartPole-v1, 3 seeds: env steps until the mean return of the last 100
 *     episodes reaches 475 (within 500k steps), wall and CPU seconds per run (goal: <= 60 s
 *     on one core; CleanRL's Python PPO needs minutes);
 *   - A2C and PPO on Acrobot-v1: the mean of the last 100 episodes (target >= -100);
 *   - CartPole env steps per second, single and vectorized (N = 64).
 * Pass --quick to run one seed of PPO CartPole only. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Trains until target is reached (return the step count) or max_steps pass (-1). */
static int64_t train(seq_rl_env_kind kind, seq_rl_pg_algo algo, int64_t n_envs, int64_t max_steps, double target,
                     uint64_t seed, double *final_mean, double *wall, double *cpu) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(algo);
    seq_rl_ac *ag;
    int64_t reached = -1;
    double w0 = bench_now(), c0 = cpu_now();
    cfg.total_steps = max_steps;
    if (seq_rl_env_init(&proto, kind, seed) != SEQ_OK || seq_rl_vec_env_init(&v, &proto, n_envs, seed, NULL) != SEQ_OK ||
        !(ag = seq_rl_ac_init(cfg, proto.obs_dim, proto.n_actions, n_envs, seed, NULL))) {
        printf("setup failed: %s\n", seq_last_error());
        return -1;
    }
    while (ag->steps < max_steps && reached < 0) {
        if (seq_rl_ac_iterate(ag, &v) != SEQ_OK) {
            printf("training failed: %s\n", seq_last_error());
            break;
        }
        if (ag->n_recent >= 100 && seq_rl_ac_mean_return(ag) >= target) reached = ag->steps;
    }
    *final_mean = seq_rl_ac_mean_return(ag);
    *wall = bench_now() - w0, *cpu = cpu_now() - c0;
    seq_rl_ac_free(ag);
    seq_rl_vec_env_free(&v);
    return reached;
}

static void env_throughput(void) {
    seq_rl_env e, proto;
    seq_rl_vec_env v;
    seq_rl_step st = {0.0, 0, 0};
    int32_t acts[64];
    int64_t i, t, n = 2000000;
    double t0;
    seq_rng r;
    seq_rng_seed(&r, 1);
    seq_rl_env_init(&e, SEQ_RL_ENV_CARTPOLE, 1);
    t0 = bench_now();
    for (i = 0; i < n; i++) {
        seq_rl_env_step(&e, (int64_t)(i & 1), NULL, &st);
        if (st.terminated || st.truncated) seq_rl_env_reset(&e, NULL);
    }
    printf("CartPole single env:     %.1f M steps/s\n", (double)n / (bench_now() - t0) / 1e6);
    seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 1);
    seq_rl_vec_env_init(&v, &proto, 64, 1, NULL);
    t0 = bench_now();
    for (t = 0; t < n / 64; t++) {
        for (i = 0; i < 64; i++) acts[i] = (int32_t)((t + i) & 1);
        seq_rl_vec_env_step(&v, acts);
    }
    printf("CartPole vectorized x64: %.1f M steps/s (auto-reset, episode stats)\n",
           (double)(n / 64 * 64) / (bench_now() - t0) / 1e6);
    seq_rl_vec_env_free(&v);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int seeds = quick ? 1 : 3, s;
    double mean, wall, cpu;
    int64_t at;
    env_throughput();
    printf("\nPPO CartPole-v1 (8 envs, target: mean of last 100 >= 475 within 500k steps)\n");
    for (s = 0; s < seeds; s++) {
        at = train(SEQ_RL_ENV_CARTPOLE, SEQ_RL_PPO, 8, 500000, 475.0, (uint64_t)(s + 1), &mean, &wall, &cpu);
        printf("  seed %d: %s at %lld steps, mean %.1f, %.1f s wall, %.1f s CPU\n", s + 1, at >= 0 ? "solved" : "NOT solved",
               (long long)at, mean, wall, cpu);
    }
    if (quick) return 0;
    printf("\nAcrobot-v1 (target: mean of last 100 >= -100 within 500k steps)\n");
    at = train(SEQ_RL_ENV_ACROBOT, SEQ_RL_PPO, 8, 500000, -100.0, 1, &mean, &wall, &cpu);
    printf("  PPO: %s at %lld steps, mean %.1f, %.1f s CPU\n", at >= 0 ? "reached" : "NOT reached", (long long)at, mean, cpu);
    at = train(SEQ_RL_ENV_ACROBOT, SEQ_RL_A2C, 16, 500000, -100.0, 1, &mean, &wall, &cpu);
    printf("  A2C: %s at %lld steps, mean %.1f, %.1f s CPU\n", at >= 0 ? "reached" : "NOT reached", (long long)at, mean, cpu);
    return 0;
}
