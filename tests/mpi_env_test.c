/* seq_mpi.h distributed vectorized environments: a run spread over the ranks equals
 * seq_rl_vec_env on one machine step for step; bad actions, roles, memory failures. */
#include "mpi_test.h"

enum { NENV = 5 };

static int same_outputs(const seq_rl_vec_env *a, const seq_rl_vec_env *b) {
    size_t no = (size_t)(a->n * a->obs_dim) * sizeof(float), n = (size_t)a->n;
    return a->n == b->n && a->episodes == b->episodes && memcmp(a->obs, b->obs, no) == 0 &&
           memcmp(a->final_obs, b->final_obs, no) == 0 && memcmp(a->rewards, b->rewards, n * sizeof(float)) == 0 &&
           memcmp(a->terminated, b->terminated, n) == 0 && memcmp(a->truncated, b->truncated, n) == 0 &&
           memcmp(a->ep_return, b->ep_return, n * sizeof(double)) == 0 &&
           memcmp(a->ep_length, b->ep_length, n * sizeof(int64_t)) == 0 &&
           memcmp(a->done_return, b->done_return, n * sizeof(double)) == 0 &&
           memcmp(a->done_length, b->done_length, n * sizeof(int64_t)) == 0;
}

/* 300 random steps of CartPole (many episodes end and reset) on the ranks and on one. */
static void test_matches_serial_vec_env(void) {
    seq_rl_env proto;
    seq_mpi_vec_env dv;
    seq_rl_vec_env ref;
    seq_rng rng;
    int32_t act[NENV];
    int t, i, same = 1;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &proto, NENV, 11, 0, NULL) == SEQ_OK);
    if (mpi_world.rank != 0) {
        CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_OK);
        CHECK(dv.local.n >= 1 && dv.hi - dv.lo == dv.local.n);
        seq_mpi_vec_env_free(&dv);
        return;
    }
    CHECK(seq_rl_vec_env_init(&ref, &proto, NENV, 11, NULL) == SEQ_OK);
    seq_rng_seed(&rng, 3);
    same = same_outputs(&dv.all, &ref);
    for (t = 0; t < 300 && same; t++) {
        for (i = 0; i < NENV; i++) act[i] = (int32_t)seq_rng_below(&rng, 2);
        CHECK(seq_mpi_vec_env_step(&dv, act) == SEQ_OK);
        CHECK(seq_rl_vec_env_step(&ref, act) == SEQ_OK);
        same = same_outputs(&dv.all, &ref);
    }
    CHECK_MSG(same, "diverged at step %d", t);
    CHECK(ref.episodes > 5);
    /* an action out of range moves no env anywhere */
    act[NENV - 1] = 2;
    CHECK(seq_mpi_vec_env_step(&dv, act) == SEQ_ERR_RANGE);
    act[NENV - 1] = 0;
    CHECK(seq_mpi_vec_env_step(&dv, act) == SEQ_OK && seq_rl_vec_env_step(&ref, act) == SEQ_OK);
    CHECK(same_outputs(&dv.all, &ref));
    CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_ERR_STATE); /* the root does not serve */
    CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_OK);
    seq_rl_vec_env_free(&ref);
    seq_mpi_vec_env_free(&dv);
}

static void test_vec_env_bad_input(void) {
    seq_rl_env proto, pend;
    seq_mpi_vec_env dv;
    int32_t act[NENV] = {0};
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_rl_env_init(&pend, SEQ_RL_ENV_PENDULUM, 0) == SEQ_OK);
    CHECK(seq_mpi_vec_env_init(NULL, &mpi_world, &proto, NENV, 1, 0, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &proto, mpi_world.size - 1, 1, 0, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &proto, NENV, 1, mpi_world.size, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &pend, NENV, 1, 0, NULL) == SEQ_ERR_UNSUPPORTED);
    CHECK(seq_mpi_vec_env_step(NULL, act) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_vec_env_stop(NULL) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_vec_env_serve(NULL) == SEQ_ERR_INVALID);
    /* the last rank is the root here: the others may not step or stop */
    CHECK(seq_mpi_vec_env_init(&dv, &mpi_world, &proto, NENV, 1, mpi_world.size - 1, NULL) == SEQ_OK);
    if (mpi_world.rank != mpi_world.size - 1) {
        CHECK(seq_mpi_vec_env_step(&dv, act) == SEQ_ERR_STATE);
        CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_ERR_STATE);
        CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_OK);
    } else {
        CHECK(seq_mpi_vec_env_step(&dv, NULL) == SEQ_ERR_INVALID);
        CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_OK);
    }
    seq_mpi_vec_env_free(&dv);
    seq_mpi_vec_env_free(NULL);
}

/* The k-th allocation fails on rank 0 only: every rank reports it, nobody leaks. */
static void test_vec_env_oom(void) {
    seq_rl_env proto;
    seq_mpi_vec_env dv;
    long k, live = seq_test_live_blocks;
    seq_status s = SEQ_ERR_NOMEM;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    for (k = 0; k < 100 && s == SEQ_ERR_NOMEM; k++) {
        if (mpi_world.rank == 0) seq_test_fail_after(k);
        s = seq_mpi_vec_env_init(&dv, &mpi_world, &proto, NENV, 1, 0, NULL);
        seq_test_fail_never();
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        CHECK(s == SEQ_OK || seq_test_live_blocks == live);
    }
    CHECK(s == SEQ_OK && k > 3);
    if (mpi_world.rank == 0) CHECK(seq_mpi_vec_env_stop(&dv) == SEQ_OK);
    else CHECK(seq_mpi_vec_env_serve(&dv) == SEQ_OK);
    seq_mpi_vec_env_free(&dv);
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_mpi_env(void) {
    MPI_RUN(test_matches_serial_vec_env);
    MPI_RUN(test_vec_env_bad_input);
    MPI_RUN(test_vec_env_oom);
}
