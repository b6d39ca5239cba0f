/* seq_rl.h sections 5-10: environments (bit-exact Gymnasium dynamics, gridworld, the
 * vectorized API), replay buffers, tabular agents, networks and the deep agents. */
#include "seq_test.h"
#include "../seq_rl.h"
#include "fixtures/rl_env_fixtures.h"

/* ---------------------------------------------------------------- environments ---- */

/* Every fixture trajectory replayed: float64 state, float32 observation, reward and
 * termination flag equal Gymnasium's bit for bit. */
static void test_env_gymnasium_exact(void) {
    size_t k;
    for (k = 0; k < sizeof rl_env_fx_all / sizeof rl_env_fx_all[0]; k++) {
        const rl_env_fx *fx = &rl_env_fx_all[k];
        seq_rl_env e;
        float obs[SEQ_RL_OBS_MAX];
        int t, i, bad = 0;
        CHECK(seq_rl_env_init(&e, (seq_rl_env_kind)fx->kind, 1) == SEQ_OK);
        CHECK(seq_rl_env_set_state(&e, fx->init, NULL) == SEQ_OK);
        CHECK(e.obs_dim == fx->obs_dim);
        for (t = 0; t < fx->steps && !bad; t++) {
            seq_rl_step st;
            seq_status s = fx->kind == SEQ_RL_ENV_PENDULUM
                               ? seq_rl_env_step_continuous(&e, &fx->action[t], obs, &st)
                               : seq_rl_env_step(&e, (int64_t)fx->action[t], obs, &st);
            CHECK(s == SEQ_OK);
            for (i = 0; i < fx->state_dim; i++) bad |= e.state[i] != fx->state[t * fx->state_dim + i];
            for (i = 0; i < fx->obs_dim; i++) bad |= obs[i] != fx->obs[t * fx->obs_dim + i];
            bad |= st.reward != fx->reward[t] || st.terminated != fx->terminated[t];
            CHECK_MSG(!bad, "trajectory %d (kind %d) differs at step %d: state[0] %.17g vs %.17g", (int)k, fx->kind, t,
                      e.state[0], fx->state[t * fx->state_dim]);
        }
    }
}

/* CartPole held up by a linear controller runs into the 500-step limit: truncated, not
 * terminated; MountainCar idling truncates at 200; Acrobot at 500. */
static void test_env_truncation(void) {
    seq_rl_env e;
    seq_rl_step st;
    float obs[SEQ_RL_OBS_MAX];
    int t;
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_CARTPOLE, 3) == SEQ_OK);
    seq_rl_env_observe(&e, obs);
    st.terminated = 0;
    for (t = 0; t < 500 && !st.terminated; t++) {
        int a = obs[2] + 0.5f * obs[3] + 0.01f * obs[0] + 0.1f * obs[1] > 0;
        CHECK(seq_rl_env_step(&e, a, obs, &st) == SEQ_OK);
    }
    CHECK(t == 500 && st.truncated && !st.terminated);
    CHECK(seq_rl_env_step(&e, 0, obs, &st) == SEQ_ERR_STATE);
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_MOUNTAINCAR, 3) == SEQ_OK);
    for (t = 0; t < 200; t++) CHECK(seq_rl_env_step(&e, 1, obs, &st) == SEQ_OK);
    CHECK(st.truncated && !st.terminated && st.reward == -1.0);
    CHECK(e.max_steps == 200 && seq_rl_env_reset(&e, obs) == SEQ_OK && e.t == 0);
    CHECK(obs[0] >= -0.6f && obs[0] <= -0.4f && obs[1] == 0.0f);
}

/* Reset draws follow Gymnasium's ranges; Acrobot's are float32 values. */
static void test_env_reset_ranges(void) {
    seq_rl_env e;
    int k, i;
    for (k = 0; k < 50; k++) {
        CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_CARTPOLE, (uint64_t)k) == SEQ_OK);
        for (i = 0; i < 4; i++) CHECK(e.state[i] >= -0.05 && e.state[i] < 0.05);
        CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_ACROBOT, (uint64_t)k) == SEQ_OK);
        for (i = 0; i < 4; i++) CHECK(fabs(e.state[i]) <= (double)0.1f && e.state[i] == (double)(float)e.state[i]);
        CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_PENDULUM, (uint64_t)k) == SEQ_OK);
        CHECK(fabs(e.state[0]) <= 3.141592653589793 && fabs(e.state[1]) <= 1.0);
    }
}

/* Out-of-range and NaN actions, wrong action kinds, non-finite states: an error, and
 * the env exactly as before. */
static void test_env_bad_input(void) {
    seq_rl_env e, before;
    seq_rl_step st;
    float obs[SEQ_RL_OBS_MAX], nan_u = NAN, u = 1.0f;
    double bad_state[4] = {0, NAN, 0, 0};
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_CARTPOLE, 1) == SEQ_OK);
    before = e;
    CHECK(seq_rl_env_step(&e, 2, obs, &st) == SEQ_ERR_RANGE);
    CHECK(seq_rl_env_step(&e, -1, obs, &st) == SEQ_ERR_RANGE);
    CHECK(seq_rl_env_step_continuous(&e, &u, obs, &st) == SEQ_ERR_INVALID);
    CHECK(seq_rl_env_set_state(&e, bad_state, obs) == SEQ_ERR_INVALID);
    CHECK(memcmp(&e, &before, sizeof e) == 0);
    CHECK(strstr(seq_last_error(), "seq_rl_env_set_state") != NULL);
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_PENDULUM, 1) == SEQ_OK);
    before = e;
    CHECK(seq_rl_env_step_continuous(&e, &nan_u, obs, &st) == SEQ_ERR_INVALID);
    CHECK(seq_rl_env_step(&e, 0, obs, &st) == SEQ_ERR_INVALID);
    CHECK(memcmp(&e, &before, sizeof e) == 0);
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_GRIDWORLD, 1) == SEQ_ERR_INVALID);
    CHECK(seq_rl_env_init(NULL, SEQ_RL_ENV_CARTPOLE, 1) == SEQ_ERR_INVALID);
    CHECK(seq_rl_env_hide_velocity(&e) == SEQ_ERR_INVALID);
    /* an infinite torque is clipped as Gymnasium clips it */
    u = INFINITY;
    CHECK(seq_rl_env_step_continuous(&e, &u, obs, &st) == SEQ_OK && isfinite(st.reward));
    CHECK(seq_rl_gridworld_init(&e, "S..\n.G", gc, 1) == SEQ_ERR_FORMAT);   /* ragged */
    CHECK(seq_rl_gridworld_init(&e, "S.?\n..G", gc, 1) == SEQ_ERR_FORMAT);  /* unknown cell */
    CHECK(seq_rl_gridworld_init(&e, "..G\n...", gc, 1) == SEQ_ERR_FORMAT);  /* no start */
    CHECK(seq_rl_gridworld_init(&e, "SS.\n..G", gc, 1) == SEQ_ERR_FORMAT);  /* two starts */
    CHECK(seq_rl_gridworld_init(&e, "", gc, 1) == SEQ_ERR_FORMAT);
    CHECK(seq_rl_gridworld_init(&e, "S................G", gc, 1) == SEQ_ERR_FORMAT); /* 18 wide */
    gc.slip = 1.5f;
    CHECK(seq_rl_gridworld_init(&e, "S.G", gc, 1) == SEQ_ERR_INVALID);
}

/* Walls block, pits and goals end the episode with their rewards, the trailing newline
 * is optional, and the cell index is what tabular agents see. */
static void test_env_gridworld(void) {
    seq_rl_env e;
    seq_rl_step st;
    float obs[2];
    double cell = 5;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    CHECK(seq_rl_gridworld_init(&e, "S#G\n..X\n...\n", gc, 1) == SEQ_OK);
    CHECK(e.grid_w == 3 && e.grid_h == 3 && seq_rl_env_num_states(&e) == 9 && seq_rl_env_state_id(&e) == 0);
    CHECK(seq_rl_env_step(&e, 1, obs, &st) == SEQ_OK && seq_rl_env_state_id(&e) == 0); /* wall */
    CHECK(seq_rl_env_step(&e, 0, obs, &st) == SEQ_OK && seq_rl_env_state_id(&e) == 0); /* edge */
    CHECK(st.reward == (double)gc.step_reward && !st.terminated);
    CHECK(seq_rl_env_step(&e, 2, obs, &st) == SEQ_OK && seq_rl_env_state_id(&e) == 3);
    CHECK(obs[0] == 0.5f && obs[1] == 0.0f);
    CHECK(seq_rl_env_step(&e, 1, obs, &st) == SEQ_OK && seq_rl_env_step(&e, 1, obs, &st) == SEQ_OK);
    CHECK(st.terminated && st.reward == (double)gc.pit_reward && seq_rl_env_state_id(&e) == 5);
    CHECK(seq_rl_env_set_state(&e, &cell, obs) == SEQ_OK);
    CHECK(seq_rl_env_step(&e, 0, obs, &st) == SEQ_OK && st.terminated && st.reward == (double)gc.goal_reward);
    cell = 1; /* a wall */
    CHECK(seq_rl_env_set_state(&e, &cell, obs) == SEQ_ERR_RANGE);
    CHECK(seq_rl_gridworld_init(&e, "S.G", gc, 1) == SEQ_OK && e.obs_dim == 2 && e.n_actions == 4);
}

/* Slippery moves come from the env's own rng: same seed, same path; another seed, (very
 * likely) another path. */
static void test_env_gridworld_slip(void) {
    seq_rl_env a, b, c;
    seq_rl_step st;
    int t, same_ab = 1, same_ac = 1;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    gc.slip = 0.5f, gc.max_steps = 1000;
    CHECK(seq_rl_gridworld_init(&a, "S......\n.......\n.......\n.......", gc, 11) == SEQ_OK);
    b = a;
    CHECK(seq_rl_gridworld_init(&c, "S......\n.......\n.......\n.......", gc, 12) == SEQ_OK);
    for (t = 0; t < 60; t++) {
        seq_rl_env_step(&a, t % 4, NULL, &st);
        seq_rl_env_step(&b, t % 4, NULL, &st);
        seq_rl_env_step(&c, t % 4, NULL, &st);
        same_ab &= a.grid_pos == b.grid_pos;
        same_ac &= a.grid_pos == c.grid_pos;
    }
    CHECK(same_ab && !same_ac);
}

/* The vectorized env equals N single envs with the jumped rng streams; an ended episode
 * leaves its last observation in final_obs and its return in done_return, and the next
 * episode starts at once. */
static void test_vec_env_matches_single(void) {
    seq_rl_env proto, singles[3];
    seq_rl_vec_env v;
    seq_rng r;
    float obs[3][SEQ_RL_OBS_MAX];
    double ret[3] = {0, 0, 0};
    int32_t acts[3];
    int64_t i, t, ended = 0;
    int ok = 1;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 3, 99, NULL) == SEQ_OK);
    seq_rng_seed(&r, 99);
    for (i = 0; i < 3; i++) {
        singles[i] = proto;
        singles[i].rng = r;
        seq_rng_jump(&r);
        seq_rl_env_reset(&singles[i], obs[i]);
        ok &= memcmp(obs[i], v.obs + i * 4, 4 * sizeof(float)) == 0;
    }
    for (t = 0; t < 300; t++) {
        for (i = 0; i < 3; i++) acts[i] = (int32_t)((t * 7 + i * 3) % 5 < 2);
        CHECK(seq_rl_vec_env_step(&v, acts) == SEQ_OK);
        for (i = 0; i < 3; i++) {
            seq_rl_step st;
            seq_rl_env_step(&singles[i], acts[i], obs[i], &st);
            ret[i] += st.reward;
            ok &= v.terminated[i] == st.terminated && v.rewards[i] == (float)st.reward;
            if (st.terminated || st.truncated) {
                ok &= memcmp(obs[i], v.final_obs + i * 4, 4 * sizeof(float)) == 0 && v.done_return[i] == ret[i];
                ret[i] = 0;
                ended++;
                seq_rl_env_reset(&singles[i], obs[i]);
            }
            ok &= memcmp(obs[i], v.obs + i * 4, 4 * sizeof(float)) == 0;
        }
    }
    CHECK(ok && ended > 3 && v.episodes == ended);
    seq_rl_vec_env_free(&v);
}

/* One bad action among N: an error naming it, and no env moved. Allocation failures
 * clean up. */
static void test_vec_env_bad_input(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    int32_t acts[4] = {0, 1, 7, 0};
    float u[2] = {0.5f, NAN};
    float before[16];
    long k, live = seq_test_live_blocks;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 0) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 4, 5, NULL) == SEQ_OK);
    memcpy(before, v.obs, sizeof before);
    CHECK(seq_rl_vec_env_step(&v, acts) == SEQ_ERR_RANGE);
    CHECK(strstr(seq_last_error(), "actions[2]") != NULL);
    CHECK(memcmp(before, v.obs, sizeof before) == 0 && v.envs[0].t == 0);
    CHECK(seq_rl_vec_env_step_continuous(&v, u) == SEQ_ERR_INVALID);
    seq_rl_vec_env_free(&v);
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_PENDULUM, 0) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 2, 5, NULL) == SEQ_OK);
    CHECK(seq_rl_vec_env_step_continuous(&v, u) == SEQ_ERR_INVALID && v.envs[0].t == 0);
    CHECK(seq_rl_vec_env_step(&v, acts) == SEQ_ERR_INVALID);
    seq_rl_vec_env_free(&v);
    CHECK(seq_rl_vec_env_init(&v, &proto, 0, 5, NULL) == SEQ_ERR_INVALID);
    for (k = 0; k < 10; k++) {
        seq_test_fail_after(k);
        if (seq_rl_vec_env_init(&v, &proto, 2, 5, NULL) == SEQ_OK) seq_rl_vec_env_free(&v);
        else CHECK(seq_last_status() == SEQ_ERR_NOMEM);
    }
    seq_test_fail_never();
    CHECK(seq_test_live_blocks == live);
}

/* CartPole with hidden velocities observes x and theta only. */
static void test_env_hidden_velocity(void) {
    seq_rl_env e;
    float obs[SEQ_RL_OBS_MAX];
    CHECK(seq_rl_env_init(&e, SEQ_RL_ENV_CARTPOLE, 4) == SEQ_OK);
    CHECK(seq_rl_env_hide_velocity(&e) == SEQ_OK && e.obs_dim == 2);
    CHECK(seq_rl_env_step(&e, 1, obs, NULL) == SEQ_OK);
    CHECK(obs[0] == (float)e.state[0] && obs[1] == (float)e.state[2]);
}

void seq_tests_rl_envs(void) {
    RUN(test_env_gymnasium_exact);
    RUN(test_env_truncation);
    RUN(test_env_reset_ranges);
    RUN(test_env_bad_input);
    RUN(test_env_gridworld);
    RUN(test_env_gridworld_slip);
    RUN(test_vec_env_matches_single);
    RUN(test_vec_env_bad_input);
    RUN(test_env_hidden_velocity);
}

void seq_tests_rl_agents(void) {}
