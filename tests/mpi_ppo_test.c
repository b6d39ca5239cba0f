/* Agents on environments spread over the ranks: seq_rl_ac (PPO, MLP and recurrent, with
 * and without a Jump-Start guide) and DQN trained on seq_mpi_vec_env's gathered record
 * reach the parameters and episode statistics of the same agent on a local
 * seq_rl_vec_env, bit for bit; a failing step hook leaves the agent's parameters alone. */
#include "mpi_test.h"

#include <stdlib.h>

enum { NENVS = 8, ITERS = 3 };

/* CartPole's textbook controller: push the cart under the falling pole. */
static int64_t balance_guide(void *ud, const float *obs, int64_t env) {
    (void)ud, (void)env;
    return obs[2] + obs[3] > 0 ? 1 : 0;
}

static seq_rl_ac_config small_ppo(int recurrent) {
    seq_rl_ac_config c = seq_rl_ac_config_default(SEQ_RL_PPO);
    c.n_steps = 32, c.epochs = 2, c.minibatches = 4, c.hidden = 16, c.total_steps = 20000;
    c.recurrent = recurrent;
    return c;
}

static int same_params(const seq_params *a, const seq_params *b) {
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0;
}

/* Everything an iteration leaves behind that a user reads. */
static int same_agent(const seq_rl_ac *a, const seq_rl_ac *b) {
    return same_params(a->P, b->P) && a->steps == b->steps && a->iterations == b->iterations &&
           a->n_recent == b->n_recent && memcmp(a->recent, b->recent, sizeof a->recent) == 0 &&
           a->opt.st.step == b->opt.st.step;
}

/* The distributed agent ag[0] (on record) ended where the local ag[1] (on ref) did, and
 * learned something since init. */
static void check_same_training(seq_rl_ac *const *ag, const float *init, int obs_dim, const seq_rl_vec_env *record,
                                const seq_rl_vec_env *ref) {
    CHECK_MSG(same_agent(ag[0], ag[1]), "the distributed run diverged (mean return %.3f vs %.3f)",
              seq_rl_ac_mean_return(ag[0]), seq_rl_ac_mean_return(ag[1]));
    CHECK(record->episodes == ref->episodes && ref->episodes == ag[1]->n_recent && ag[1]->n_recent > 0);
    CHECK(memcmp(record->obs, ref->obs, sizeof(float) * NENVS * (size_t)obs_dim) == 0);
    CHECK(memcmp(init, ag[0]->P->data, (size_t)ag[0]->P->numel * sizeof(float)) != 0);
}

/* ITERS iterations of PPO (recurrent: an LSTM on CartPole with velocities hidden; guided:
 * with a Jump-Start guide) on NENVS envs spread over the ranks, and on one local vec env
 * with the same seed: the same agent afterwards, having learned. */
static void check_ac_matches_serial(int recurrent, int guided) {
    seq_rl_ac_config cfg = small_ppo(recurrent);
    seq_rl_env cartpole, *proto = &cartpole;
    seq_mpi_vec_env dv;
    seq_rl_vec_env ref;
    seq_rl_ac *ag[2];
    seq_rl_jsrl guide[2];
    float *init = NULL;
    int i, k;
    CHECK(seq_rl_env_init(proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    if (recurrent) CHECK(seq_rl_env_hide_velocity(proto) == SEQ_OK);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, proto, NENVS, 21, 0, NULL) == SEQ_OK);
    if (mpi_world.rank != 0) {
        /* an agent cannot step the record off the root: it is empty there */
        ag[0] = seq_rl_ac_init(cfg, proto->obs_dim, proto->n_actions, NENVS, 5, NULL);
        CHECK(ag[0] && seq_rl_ac_iterate(ag[0], &dv.all) == SEQ_ERR_INVALID);
        seq_rl_ac_free(ag[0]);
        CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_OK);
        seq_mpi_vec_env_free(&dv);
        return;
    }
    CHECK(seq_rl_vec_env_init(&ref, proto, NENVS, 21, NULL) == SEQ_OK);
    for (k = 0; k < 2; k++) {
        ag[k] = seq_rl_ac_init(cfg, proto->obs_dim, proto->n_actions, NENVS, 5, NULL);
        CHECK(ag[k] != NULL);
        if (ag[k] && guided) {
            CHECK(seq_rl_jsrl_init(&guide[k], seq_rl_jsrl_config_default(20, 100), balance_guide, NULL) == SEQ_OK);
            CHECK(seq_rl_ac_set_guide(ag[k], &guide[k]) == SEQ_OK);
        }
    }
    if (ag[0] && ag[1] && (init = (float *)malloc((size_t)ag[0]->P->numel * sizeof(float))) != NULL) {
        memcpy(init, ag[0]->P->data, (size_t)ag[0]->P->numel * sizeof(float));
        for (i = 0; i < ITERS; i++) {
            CHECK(seq_rl_ac_iterate(ag[0], &dv.all) == SEQ_OK);
            CHECK(seq_rl_ac_iterate(ag[1], &ref) == SEQ_OK);
        }
        check_same_training(ag, init, proto->obs_dim, &dv.all, &ref);
        if (guided) CHECK(guide[0].guided_steps == guide[1].guided_steps && guide[0].guided_steps > 0);
    }
    CHECK(init != NULL);
    CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_OK); /* always, or the serving ranks wait */
    free(init);
    for (k = 0; k < 2; k++) seq_rl_ac_free(ag[k]);
    seq_rl_vec_env_free(&ref);
    seq_mpi_vec_env_free(&dv);
}

static void test_ppo_matches_serial(void) { check_ac_matches_serial(0, 0); }

/* Velocities hidden (the envs on other ranks copy the proto's POMDP), an LSTM agent. */
static void test_recurrent_ppo_matches_serial(void) { check_ac_matches_serial(1, 0); }

/* The guide acts by each env's episode step, which the record carries without envs. */
static void test_guided_ppo_matches_serial(void) { check_ac_matches_serial(0, 1); }

/* DQN steps a vec env too: 300 steps of 8 envs, updates from step 200. */
static void test_dqn_matches_serial(void) {
    seq_rl_env proto;
    seq_mpi_vec_env dv;
    seq_rl_vec_env ref;
    seq_rl_dqn_config c = seq_rl_dqn_config_default();
    seq_rl_dqn *ag[2];
    int t, k;
    c.learning_starts = 200, c.train_freq = 16, c.batch_size = 32, c.buffer_size = 4096;
    c.n_hidden = 1, c.hidden[0] = 32;
    c.target_freq = 256, c.total_steps = 2400;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &proto, NENVS, 4, 0, NULL) == SEQ_OK);
    if (mpi_world.rank != 0) {
        CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_OK);
        seq_mpi_vec_env_free(&dv);
        return;
    }
    CHECK(seq_rl_vec_env_init(&ref, &proto, NENVS, 4, NULL) == SEQ_OK);
    for (k = 0; k < 2; k++) CHECK((ag[k] = seq_rl_dqn_init(c, proto.obs_dim, proto.n_actions, 9, NULL)) != NULL);
    for (t = 0; t < 300 && ag[0] && ag[1]; t++) {
        CHECK(seq_rl_dqn_iterate(ag[0], &dv.all) == SEQ_OK);
        CHECK(seq_rl_dqn_iterate(ag[1], &ref) == SEQ_OK);
    }
    CHECK(ag[1] && ag[1]->updates > 0 && ag[1]->n_recent > 0);
    CHECK(ag[0] && ag[1] && same_params(ag[0]->P, ag[1]->P) && ag[0]->n_recent == ag[1]->n_recent &&
          memcmp(ag[0]->recent, ag[1]->recent, sizeof ag[0]->recent) == 0);
    CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_OK);
    for (k = 0; k < 2; k++) seq_rl_dqn_free(ag[k]);
    seq_rl_vec_env_free(&ref);
    seq_mpi_vec_env_free(&dv);
}

/* A step hook that steps the local envs, except that its fail_at-th call fails as a
 * dropped link would. */
typedef struct flaky_link {
    seq_rl_vec_env *v;
    int calls, fail_at;
} flaky_link;

static seq_status flaky_step(void *ud, const int32_t *actions) {
    flaky_link *f = (flaky_link *)ud;
    if (++f->calls == f->fail_at) return seq_set_error(SEQ_ERR_IO, "flaky_step: the link dropped");
    return seq_rl_vec_env_step_envs(f->v, actions);
}

/* Runs on every rank alone (no communication): the hook's contract in seq_rl.h. */
static void test_step_hook_errors(void) {
    seq_rl_env proto;
    seq_rl_vec_env v, ref;
    seq_rl_ac_config cfg = small_ppo(0);
    seq_rl_ac *ag, *twin;
    flaky_link link;
    int32_t bad[NENVS] = {0};
    float u[NENVS] = {0}, *before;
    int64_t iters, steps;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, NENVS, 3, NULL) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&ref, &proto, NENVS, 3, NULL) == SEQ_OK);
    link.v = &v, link.calls = 0, link.fail_at = -1;
    v.step_fn = flaky_step, v.step_ud = &link;
    ag = seq_rl_ac_init(cfg, proto.obs_dim, proto.n_actions, NENVS, 8, NULL);
    twin = seq_rl_ac_init(cfg, proto.obs_dim, proto.n_actions, NENVS, 8, NULL);
    before = (float *)malloc((size_t)(ag ? ag->P->numel : 1) * sizeof(float));
    if (!ag || !twin || !before) {
        CHECK(!"allocation");
        return;
    }
    /* every step goes through the hook, and a hook that steps the envs changes nothing */
    CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK && seq_rl_ac_iterate(twin, &ref) == SEQ_OK);
    CHECK(link.calls == cfg.n_steps && same_agent(ag, twin));
    /* the hook fails mid-rollout: the error comes back, nothing was learned */
    memcpy(before, ag->P->data, (size_t)ag->P->numel * sizeof(float));
    iters = ag->iterations, steps = ag->steps;
    link.fail_at = link.calls + 5;
    CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_ERR_IO && strstr(seq_last_error(), "link dropped") != NULL);
    CHECK(memcmp(before, ag->P->data, (size_t)ag->P->numel * sizeof(float)) == 0 && ag->iterations == iters);
    CHECK(ag->steps == steps + 4 * NENVS); /* the four steps the envs took */
    CHECK(link.calls == link.fail_at);
    /* the link is back: training goes on */
    CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK && ag->iterations == iters + 1);
    CHECK(memcmp(before, ag->P->data, (size_t)ag->P->numel * sizeof(float)) != 0);
    /* actions are checked before the hook is called; continuous steps have no hook */
    iters = link.calls;
    bad[NENVS - 1] = 2;
    CHECK(seq_rl_vec_env_step(&v, bad) == SEQ_ERR_RANGE && link.calls == iters);
    CHECK(seq_rl_vec_env_step(&v, NULL) == SEQ_ERR_INVALID && link.calls == iters);
    CHECK(seq_rl_vec_env_step_continuous(&v, u) == SEQ_ERR_INVALID);
    v.n_actions = 0; /* a continuous env behind a hook */
    CHECK(seq_rl_vec_env_step_continuous(&v, u) == SEQ_ERR_UNSUPPORTED);
    v.n_actions = proto.n_actions;
    /* step_envs steps the envs past the hook, with the same checks */
    CHECK(seq_rl_vec_env_step_envs(&v, bad) == SEQ_ERR_RANGE);
    bad[NENVS - 1] = 0;
    CHECK(seq_rl_vec_env_step_envs(&v, bad) == SEQ_OK && link.calls == iters);
    CHECK(seq_rl_vec_env_step_envs(&v, NULL) == SEQ_ERR_INVALID);
    /* a record with neither envs nor a hook cannot step, nor step_envs one with a hook */
    SEQ_FREE(v.alloc_ud, v.envs), v.envs = NULL;
    CHECK(seq_rl_vec_env_step_envs(&v, bad) == SEQ_ERR_INVALID && link.calls == iters);
    v.step_fn = NULL;
    CHECK(seq_rl_vec_env_step(&v, bad) == SEQ_ERR_INVALID);
    free(before);
    seq_rl_ac_free(ag);
    seq_rl_ac_free(twin);
    seq_rl_vec_env_free(&v);
    seq_rl_vec_env_free(&ref);
}

void seq_tests_mpi_ppo(void) {
    MPI_RUN(test_ppo_matches_serial);
    MPI_RUN(test_recurrent_ppo_matches_serial);
    MPI_RUN(test_guided_ppo_matches_serial);
    MPI_RUN(test_dqn_matches_serial);
    MPI_RUN(test_step_hook_errors);
}
