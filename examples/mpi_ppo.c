#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* PPO solving CartPole-v1 with its environments spread over MPI ranks (seq_mpi.h).
 *   mpirun -np N build/mpi_ppo_mpi [--envs E] [--steps S] [--seed S] [--env-us U] [--quiet]
 *   build/mpi_ppo [...]            the same program built without MPI: one process
 * The MPI build:
 *   mpicc -DSEQ_USE_MPI -std=c99 -O3 -march=native -o build/mpi_ppo_mpi examples/mpi_ppo.c -lm
 * Rank 0 is the learner: it runs PPO (seq_rl_ac_iterate) on dv.all, the record of all E
 * envs (8 by default) whose step hook scatters the actions to the ranks owning the envs
 * and gathers their observations, rewards and episode ends back. The other ranks only
 * step their envs. Env i has the same random stream whatever the number of ranks, so
 * every N trains the same agent step for step: only the wall time differs.
 * --env-us U makes every env step cost U microseconds of CPU time on its rank, a
 * stand-in for a simulator heavier than CartPole's few flops: the env-bound regime, where
 * ranks pay off (docs/scaling.md). Rank 0 reports the env steps and wall time to a mean
 * return of 475 over the last 100 episodes and the share of time spent in the env
 * exchange; on a machine with fewer free cores than ranks, add
 * `--mca mpi_yield_when_idle 1` so that waiting ranks give their core away.
 * --quiet prints that line only, exit 0 when solved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include "../seq.h"
#include "../seq_rl.h"
#include "../seq_mpi.h"

typedef struct args {
    int64_t envs, steps;
    uint64_t seed;
    double env_us;
    int quiet;
} args;

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double wall(void) { return seconds(CLOCK_MONOTONIC); }

static int parse(int argc, char **argv, args *a) {
    int i;
    a->envs = 8, a->steps = 500000, a->seed = 1, a->env_us = 0, a->quiet = 0;
    for (i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--quiet") == 0) a->quiet = 1;
        else if (i + 1 == argc) return 0;
        else if (strcmp(k, "--envs") == 0) a->envs = atoll(argv[++i]);
        else if (strcmp(k, "--steps") == 0) a->steps = atoll(argv[++i]);
        else if (strcmp(k, "--seed") == 0) a->seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(k, "--env-us") == 0) a->env_us = atof(argv[++i]);
        else return 0;
    }
    return a->envs > 0 && a->steps > 0 && a->env_us >= 0;
}

/* A rank's envs made expensive: U microseconds of this process's CPU time per env per
 * step (CPU time, not wall time: a simulator computes, and on a busy machine computing
 * takes longer), then the real step. Installed as the local vec env's step hook. */
typedef struct heavy_envs {
    seq_rl_vec_env *v;
    double us;
} heavy_envs;

static seq_status heavy_step(void *ud, const int32_t *actions) {
    heavy_envs *h = (heavy_envs *)ud;
    double until = seconds(CLOCK_PROCESS_CPUTIME_ID) + 1e-6 * h->us * (double)h->v->n;
    while (seconds(CLOCK_PROCESS_CPUTIME_ID) < until) {
    }
    return seq_rl_vec_env_step_envs(h->v, actions);
}

/* Rank 0: PPO on every env until solved or out of steps. *solved_at gets the env steps
 * at which the mean return reached 475 (-1: never), *t_solved the wall time. */
static seq_status learn(const args *a, seq_mpi_vec_env *dv, int64_t *solved_at, double *t_solved, double *mean) {
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_ac *ag;
    seq_status s = SEQ_OK;
    double t0 = wall();
    int64_t report = 0;
    cfg.total_steps = a->steps;
    ag = seq_rl_ac_init(cfg, dv->all.obs_dim, dv->all.n_actions, a->envs, a->seed, NULL);
    if (!ag) return seq_last_status();
    *solved_at = -1, *mean = 0;
    while (s == SEQ_OK && *solved_at < 0 && ag->steps < a->steps) {
        s = seq_rl_ac_iterate(ag, &dv->all);
        *mean = seq_rl_ac_mean_return(ag);
        if (ag->n_recent >= 100 && *mean >= 475.0) *solved_at = ag->steps, *t_solved = wall() - t0;
        if (!a->quiet && ag->steps >= report) {
            printf("  %7lld steps  %6lld episodes  mean return %6.1f  %5.1f s\n", (long long)ag->steps,
                   (long long)dv->all.episodes, *mean, wall() - t0);
            report += 25000;
        }
    }
    if (*solved_at < 0) *t_solved = wall() - t0;
    seq_rl_ac_free(ag);
    return s;
}

int main(int argc, char **argv) {
    args a;
    seq_mpi mpi;
    seq_mpi_vec_env dv;
    seq_rl_env proto;
    heavy_envs heavy;
    seq_status s;
    int64_t solved_at = -1;
    double t_solved = 0, mean = 0, comm0;
    int rc;
    if (!parse(argc, argv, &a)) {
        fprintf(stderr, "usage: mpi_ppo [--envs E] [--steps S] [--seed S] [--env-us U] [--quiet]\n");
        return 2;
    }
    if (seq_mpi_init(&mpi, seq_mpi_config_default()) != SEQ_OK) {
        fprintf(stderr, "mpi_ppo: %s\n", seq_last_error());
        return 1;
    }
    s = seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, a.seed);
    if (s == SEQ_OK) s = seq_mpi_vec_env_init(&dv, &mpi, &proto, a.envs, a.seed, 0, NULL); /* every rank */
    if (s != SEQ_OK) {
        fprintf(stderr, "mpi_ppo: rank %d: %s\n", mpi.rank, seq_last_error());
        seq_mpi_free(&mpi);
        return 1;
    }
    if (a.env_us > 0) {
        heavy.v = &dv.local, heavy.us = a.env_us;
        dv.local.step_fn = heavy_step, dv.local.step_ud = &heavy;
    }
    if (mpi.rank != 0) {
        s = seq_mpi_vec_env_serve(&dv);
    } else {
        if (!a.quiet)
            printf("mpi_ppo: PPO on CartPole-v1, %lld envs over %d rank%s (%lld on the learner's)%s\n",
                   (long long)a.envs, mpi.size, mpi.size > 1 ? "s" : "", (long long)dv.local.n,
                   a.env_us > 0 ? ", heavy envs" : "");
        comm0 = mpi.comm_seconds;
        s = learn(&a, &dv, &solved_at, &t_solved, &mean);
        if (s != SEQ_OK) fprintf(stderr, "mpi_ppo: training failed: %s\n", seq_last_error());
        if (s != SEQ_ERR_IO && seq_mpi_vec_env_stop(&dv) != SEQ_OK) s = SEQ_ERR_IO; /* release the servers */
        if (s == SEQ_OK && solved_at >= 0)
            printf("solved: mean return >= 475 at %lld env steps, %.2f s wall on %d rank%s (%lld envs, %.0f%% of it in "
                   "the env exchange)\n",
                   (long long)solved_at, t_solved, mpi.size, mpi.size > 1 ? "s" : "", (long long)a.envs,
                   100.0 * (mpi.comm_seconds - comm0) / t_solved);
        else if (s == SEQ_OK)
            printf("not solved in %lld env steps (%.2f s): mean return %.1f\n", (long long)a.steps, t_solved, mean);
    }
#ifdef SEQ_USE_MPI
    if (s == SEQ_ERR_IO) MPI_Abort(MPI_COMM_WORLD, 3); /* the communicator is gone: end the job */
#endif
    rc = s != SEQ_OK ? 1 : mpi.rank == 0 && solved_at < 0 ? 1 : 0;
    seq_mpi_vec_env_free(&dv);
    seq_mpi_free(&mpi);
    return rc;
}
