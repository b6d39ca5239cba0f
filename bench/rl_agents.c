#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* seq_rl.h's agents against the targets, in one run:
 *   - PPO on CartPole-v1, 3 seeds: env steps until the mean return of the last 100
 *     episodes reaches 475 (within 500k steps), wall and CPU seconds per run (goal: <= 60 s
 *     on one core; CleanRL's Python PPO needs minutes), and one run with CleanRL's ppo.py
 *     defaults (4 envs, lr 2.5e-4) for comparison;
 *   - A2C and PPO on Acrobot-v1: the mean of the last 100 episodes (target >= -100);
 *   - CartPole with the velocities hidden (a POMDP): PPO with an MLP against PPO with an
 *     LSTM or GRU trunk, 500k steps each;
 *   - Jump-Start RL on MountainCar-v0 (reward -1 per step until the flag: PPO alone
 *     rarely finds it): an energy-pumping guide, the curriculum, then the learner alone;
 *   - GRPO teaching a GRU to reverse 5 digits (partial credit), solve rate over time;
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

typedef struct run_result {
    int64_t reached;  /* env steps when the target was first met, -1 if never */
    double final_mean, best_mean, wall, cpu;
    double greedy;    /* mean return of 100 greedy episodes of the final policy */
} run_result;

/* The trained policy acting greedily (memory cleared at each episode start). */
static double greedy_return(seq_rl_ac *ag, const seq_rl_env *proto, int episodes) {
    seq_rl_env e = *proto;
    seq_rl_step st;
    float obs[SEQ_RL_OBS_MAX];
    double total = 0;
    int k;
    for (k = 0; k < episodes; k++) {
        seq_rl_env_reset(&e, obs);
        seq_rl_ac_reset_memory(ag);
        st.terminated = st.truncated = 0;
        while (!st.terminated && !st.truncated) {
            seq_rl_env_step(&e, seq_rl_ac_act(ag, obs, NULL, NULL), obs, &st);
            total += st.reward;
        }
    }
    return total / episodes;
}

/* Trains on n_envs copies of proto until max_steps (or until target when stop_at_target);
 * guide may be NULL. */
static run_result train(const seq_rl_env *proto, seq_rl_ac_config cfg, int64_t n_envs, int64_t max_steps, double target,
                        int stop_at_target, uint64_t seed, seq_rl_jsrl *guide) {
    seq_rl_vec_env v;
    seq_rl_ac *ag;
    run_result r;
    double w0 = bench_now(), c0 = cpu_now();
    r.reached = -1, r.final_mean = r.best_mean = -1e300;
    cfg.total_steps = max_steps;
    if (seq_rl_vec_env_init(&v, proto, n_envs, seed, NULL) != SEQ_OK ||
        !(ag = seq_rl_ac_init(cfg, proto->obs_dim, proto->n_actions, n_envs, seed, NULL))) {
        printf("setup failed: %s\n", seq_last_error());
        exit(1);
    }
    seq_rl_ac_set_guide(ag, guide);
    while (ag->steps < max_steps && !(stop_at_target && r.reached >= 0)) {
        double m;
        if (seq_rl_ac_iterate(ag, &v) != SEQ_OK) {
            printf("training failed: %s\n", seq_last_error());
            break;
        }
        m = seq_rl_ac_mean_return(ag);
        /* with a guide, only episodes the learner plays alone count */
        if (ag->n_recent >= 100 && (!guide || guide->h == 0)) {
            r.best_mean = m > r.best_mean ? m : r.best_mean;
            if (r.reached < 0 && m >= target) r.reached = ag->steps;
        }
    }
    r.final_mean = seq_rl_ac_mean_return(ag);
    r.wall = bench_now() - w0, r.cpu = cpu_now() - c0;
    r.greedy = greedy_return(ag, proto, 100);
    seq_rl_ac_free(ag);
    seq_rl_vec_env_free(&v);
    return r;
}

static void env_throughput(void) {
    seq_rl_env e, proto;
    seq_rl_vec_env v;
    seq_rl_step st = {0.0, 0, 0};
    int32_t acts[64];
    int64_t i, t, n = 2000000;
    double t0;
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

static void print_run(const char *name, run_result r, const char *verb) {
    char at[48], best[24];
    if (r.reached >= 0) snprintf(at, sizeof at, "%s at %7lld steps", verb, (long long)r.reached);
    else snprintf(at, sizeof at, "%-24s", "not reached");
    /* a guided run may never count an episode the learner played alone */
    if (r.best_mean > -1e300) snprintf(best, sizeof best, "%7.1f", r.best_mean);
    else snprintf(best, sizeof best, "%7s", "none");
    printf("  %-34s %s, last-100 mean %7.1f (best %s), greedy %7.1f, %5.1f s wall, %5.1f s CPU\n", name, at,
           r.final_mean, best, r.greedy, r.wall, r.cpu);
}

/* The recurrent agent's settings for the velocity-hidden CartPole (RL Zoo's for
 * RecurrentPPO on CartPoleNoVel, with a shared trunk): short rollouts, many epochs,
 * standardized observations, no entropy bonus. */
static seq_rl_ac_config pomdp_config(int recurrent, seq_rnn_kind cell) {
    seq_rl_ac_config c = seq_rl_ac_config_default(SEQ_RL_PPO);
    c.recurrent = recurrent, c.cell = cell, c.norm_obs = 1;
    c.n_steps = 32, c.minibatches = 1, c.epochs = 10, c.gamma = 0.98f, c.gae_lambda = 0.98f, c.lr = 3e-3f;
    c.loss.ent_coef = 0.0f;
    return c;
}

static int64_t energy_guide(void *ud, const float *obs, int64_t env) {
    (void)ud, (void)env;
    return obs[1] >= 0 ? 2 : 0; /* push along the velocity: pumps energy into the swing */
}

static void grpo_run(void) {
    seq_rl_seq_task task;
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_grpo *g;
    seq_rng eval;
    double t0 = bench_now();
    int it;
    cfg.hidden = 128, cfg.prompts = 32;
    seq_rl_seq_task_builtin(&task, SEQ_RL_TASK_REVERSE, 10, 5, 1);
    if (!(g = seq_rl_grpo_init(cfg, &task, 1, NULL))) {
        printf("setup failed: %s\n", seq_last_error());
        return;
    }
    seq_rng_seed(&eval, 7);
    printf("\nGRPO: a GRU (128) reverses 5 digits of 10 (chance 1e-5); reward 1 if exact, else half the\n"
           "fraction right; 32 prompts x 8 answers per iteration, 4 epochs, k3 KL 0.04 to the initial policy\n");
    printf("  iteration    0: greedy solve rate %.3f\n", seq_rl_grpo_solve_rate(g, 1000, &eval));
    for (it = 1; it <= 600; it++) {
        if (seq_rl_grpo_iterate(g) != SEQ_OK) {
            printf("training failed: %s\n", seq_last_error());
            break;
        }
        if (it % 100 == 0)
            printf("  iteration %4d: greedy solve rate %.3f, batch mean reward %.3f, KL to reference %.3f, %.1f s\n", it,
                   seq_rl_grpo_solve_rate(g, 1000, &eval), g->mean_reward, g->last.ref_kl, bench_now() - t0);
    }
    seq_rl_grpo_free(g);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int seeds = quick ? 1 : 3, s;
    char name[64];
    seq_rl_env cart, acro, hidden, car;
    seq_rl_ac_config cfg;
    seq_rl_jsrl j;
    seq_rl_jsrl_config jc = seq_rl_jsrl_config_default(120, -130.0);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows up line by line when piped */
    env_throughput();
    seq_rl_env_init(&cart, SEQ_RL_ENV_CARTPOLE, 1);
    printf("\nPPO CartPole-v1 (target: mean of last 100 >= 475 within 500k steps)\n");
    for (s = 0; s < seeds; s++) {
        snprintf(name, sizeof name, "8 envs, lr 2.5e-3, seed %d", s + 1);
        print_run(name, train(&cart, seq_rl_ac_config_default(SEQ_RL_PPO), 8, 500000, 475.0, 1, (uint64_t)(s + 1), NULL),
                  "solved");
    }
    if (quick) return 0;
    cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    cfg.lr = 2.5e-4f;
    print_run("CleanRL defaults (4 envs, 2.5e-4)", train(&cart, cfg, 4, 500000, 475.0, 1, 1, NULL), "solved");

    seq_rl_env_init(&acro, SEQ_RL_ENV_ACROBOT, 1);
    printf("\nAcrobot-v1 (target: mean of last 100 >= -100 within 500k steps)\n");
    print_run("PPO, 8 envs", train(&acro, seq_rl_ac_config_default(SEQ_RL_PPO), 8, 500000, -100.0, 1, 1, NULL), "reached");
    print_run("A2C, 16 envs", train(&acro, seq_rl_ac_config_default(SEQ_RL_A2C), 16, 500000, -100.0, 1, 1, NULL), "reached");

    seq_rl_env_init(&hidden, SEQ_RL_ENV_CARTPOLE, 1);
    seq_rl_env_hide_velocity(&hidden);
    printf("\nCartPole-v1, velocities hidden (observes x and theta only), PPO 500k steps, 8 envs (target 400)\n");
    print_run("MLP 64-64", train(&hidden, pomdp_config(0, SEQ_RNN_LSTM), 8, 500000, 400.0, 0, 1, NULL), "reached");
    print_run("LSTM 64", train(&hidden, pomdp_config(1, SEQ_RNN_LSTM), 8, 500000, 400.0, 0, 1, NULL), "reached");
    print_run("GRU 64", train(&hidden, pomdp_config(1, SEQ_RNN_GRU), 8, 500000, 400.0, 0, 1, NULL), "reached");

    seq_rl_env_init(&car, SEQ_RL_ENV_MOUNTAINCAR, 1);
    printf("\nMountainCar-v0, PPO 300k steps, 8 envs (target: mean of last 100 >= -130, the learner alone)\n");
    print_run("PPO alone", train(&car, seq_rl_ac_config_default(SEQ_RL_PPO), 8, 300000, -130.0, 0, 1, NULL), "reached");
    seq_rl_jsrl_init(&j, jc, energy_guide, NULL);
    print_run("PPO + Jump-Start (energy guide)", train(&car, seq_rl_ac_config_default(SEQ_RL_PPO), 8, 300000, -130.0, 0, 1, &j),
              "reached");
    printf("  curriculum: stage %d of %d (guide horizon %lld), %lld guided steps\n", j.stage, jc.stages, (long long)j.h,
           (long long)j.guided_steps);

    grpo_run();
    return 0;
}
