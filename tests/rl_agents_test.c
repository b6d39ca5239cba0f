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

/* ---------------------------------------------------------------- networks, PPO ---- */

typedef struct {
    seq_tensor *logits, *values;
    seq_rl_pg_batch b;
    seq_rl_pg_config cfg;
} pg_case;

static seq_tensor *pg_loss_build(seq_ctx *ctx, void *ud) {
    pg_case *c = (pg_case *)ud;
    return seq_rl_pg_loss(ctx, c->logits, c->values, &c->b, c->cfg, NULL);
}

/* Finite differences through every branch of the loss: ratios inside and outside the
 * clip band for both advantage signs, clipped and unclipped values, entropy, the k3 KL
 * to a reference policy, and a masked row. */
static void test_pg_loss_gradcheck(void) {
    enum { N = 8, A = 3 };
    static const int32_t actions[N] = {0, 1, 2, 1, 0, 2, 1, 0};
    /* old_logp offsets put some ratios far outside [0.8, 1.2] */
    static const float shift[N] = {0.0f, 0.5f, -0.5f, 0.05f, -0.6f, 0.7f, 0.0f, -0.1f};
    static const float adv[N] = {1.0f, 0.7f, -0.4f, -1.2f, 0.9f, -0.8f, 0.3f, -0.2f};
    static const float mask[N] = {1, 1, 1, 1, 1, 1, 1, 0};
    float old_logp[N], ref_logp[N], ret[N], oldv[N];
    int64_t ls[2] = {N, A}, vs[1] = {N}, i, cfgi;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rng rng;
    pg_case c;
    seq_gradcheck_result res;
    seq_rng_seed(&rng, 3);
    c.logits = seq_params_add(P, "logits", 2, ls, seq_init_normal(0, 1));
    c.values = seq_params_add(P, "values", 1, vs, seq_init_normal(0, 1));
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    for (i = 0; i < N; i++) {
        const float *z = c.logits->data + i * A;
        double mx = z[0] > z[1] ? (z[0] > z[2] ? z[0] : z[2]) : (z[1] > z[2] ? z[1] : z[2]);
        double lse = mx + log(exp(z[0] - mx) + exp(z[1] - mx) + exp(z[2] - mx));
        old_logp[i] = (float)(z[actions[i]] - lse) + shift[i];
        ref_logp[i] = (float)(z[actions[i]] - lse) - 0.3f * shift[i] + 0.1f;
        oldv[i] = c.values->data[i] + (i % 2 ? 0.5f : -0.05f); /* half the values clip */
        ret[i] = c.values->data[i] + (i % 3 ? 1.0f : -0.7f);
    }
    c.b.actions = actions, c.b.old_logp = old_logp, c.b.adv = adv, c.b.returns = ret, c.b.old_values = oldv;
    c.b.ref_logp = ref_logp, c.b.mask = mask;
    for (cfgi = 0; cfgi < 2; cfgi++) {
        c.cfg = seq_rl_pg_config_default();
        c.cfg.kl_coef = cfgi ? 0.0f : 0.2f, c.cfg.clip = cfgi ? 0.0f : 0.2f, c.cfg.ent_coef = 0.05f;
        CHECK(seq_gradcheck(ctx, P, pg_loss_build, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0 && res.checked == N * A + N, "config %d: failed %lld worst %s[%lld] abs %g",
                  (int)cfgi, (long long)res.failed, res.worst_param ? res.worst_param : "-",
                  (long long)res.worst_index, res.max_abs_err);
    }
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* With old_logp equal to the current policy the ratio is 1: the loss is the vanilla
 * policy-gradient surrogate -mean(adv) and nothing is clipped. Bad batches fail. */
static void test_pg_loss_values_and_errors(void) {
    float logits[4] = {0.0f, 0.0f, 1.0f, -1.0f}, lp[2], adv[2] = {1.0f, 3.0f}, ret[2] = {0, 0};
    int32_t act[2] = {0, 1}, bad_act[2] = {0, 2};
    int64_t s[2] = {2, 2};
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rl_pg_batch b;
    seq_rl_pg_stats st;
    seq_rl_pg_config cfg = seq_rl_pg_config_default();
    seq_tensor *loss;
    lp[0] = logf(0.5f), lp[1] = (float)(-1.0 - log(exp(1.0) + exp(-1.0)));
    memset(&b, 0, sizeof b);
    b.actions = act, b.old_logp = lp, b.adv = adv, b.returns = ret;
    cfg.ent_coef = 0, cfg.vf_clip = 0;
    loss = seq_rl_pg_loss(ctx, seq_tensor_wrap(ctx, logits, 2, s), NULL, &b, cfg, &st);
    CHECK_MSG(loss && fabsf(loss->data[0] + 2.0f) < 1e-6f && st.clipfrac == 0 && fabsf(st.approx_kl) < 1e-7f,
              "%s loss %g kl %g", seq_ctx_error(ctx), loss ? loss->data[0] : 0.0, st.approx_kl);
    b.actions = bad_act;
    CHECK(!seq_rl_pg_loss(ctx, seq_tensor_wrap(ctx, logits, 2, s), NULL, &b, cfg, &st));
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "seq_rl_pg_loss") != NULL);
    seq_ctx_reset(ctx);
    b.actions = act, b.old_logp = NULL;
    CHECK(!seq_rl_pg_loss(ctx, seq_tensor_wrap(ctx, logits, 2, s), NULL, &b, cfg, &st));
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
}

/* The tape-free MLP used for acting equals the recorded forward. */
static void test_mlp_infer_matches_forward(void) {
    int64_t sizes[4] = {5, 16, 16, 3}, xs[2] = {7, 5}, i;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rl_mlp m;
    seq_rng rng;
    float x[35], y[21], work[2 * 7 * 16];
    seq_tensor *out;
    int ok = 1;
    seq_rng_seed(&rng, 5);
    CHECK(seq_rl_mlp_init(&m, P, "pi", 3, sizes, SEQ_RL_TANH, 1.0f) == SEQ_OK);
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    CHECK(seq_rl_mlp_work_size(&m, 7) == 2 * 7 * 16);
    for (i = 0; i < 35; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    seq_rl_mlp_infer(&m, x, 7, y, work);
    out = seq_rl_mlp_forward(ctx, &m, seq_tensor_wrap(ctx, x, 2, xs));
    for (i = 0; out && i < 21; i++) ok &= fabsf(out->data[i] - y[i]) <= 1e-5f;
    CHECK(out && ok);
    CHECK(seq_rl_mlp_init(&m, P, "bad", 0, sizes, SEQ_RL_TANH, 1.0f) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* Sampling reports the probability of the action drawn, and follows softmax. */
static void test_sample_softmax(void) {
    float logits[3] = {0.0f, 1.0f, -1.0f}, prob, logp;
    int64_t counts[3] = {0, 0, 0}, i, n = 20000;
    double z = exp(0.0) + exp(1.0) + exp(-1.0);
    seq_rng rng;
    int ok = 1;
    seq_rng_seed(&rng, 9);
    for (i = 0; i < n; i++) {
        int64_t a = seq_rl_sample_softmax(logits, 3, &rng, &prob, &logp);
        counts[a]++;
        ok &= fabs(prob - exp(logits[a]) / z) < 1e-6 && fabs(logp - log(prob)) < 1e-5;
    }
    CHECK(ok);
    for (i = 0; i < 3; i++) CHECK_NEAR((double)counts[i] / n, exp(logits[i]) / z, 0.015);
}

/* A short PPO run on CartPole improves on the random policy (about 22 steps per
 * episode), saves, and loads back into a fresh agent that acts the same. */
static void test_ppo_cartpole_smoke(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_ac *ag, *ag2;
    double first = 0;
    float obs[4] = {0.01f, -0.2f, 0.03f, 0.1f}, p1, p2;
    const char *path = "build/rl_ppo_test.safetensors";
    int it;
    cfg.n_steps = 64, cfg.total_steps = 40000;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 1) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 8, 1, NULL) == SEQ_OK);
    ag = seq_rl_ac_init(cfg, 4, 2, 8, 1, NULL);
    CHECK(ag != NULL);
    if (!ag) return;
    for (it = 0; it < 60; it++) {
        CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK);
        if (it == 2) first = seq_rl_ac_mean_return(ag);
    }
    CHECK_MSG(seq_rl_ac_mean_return(ag) > 2 * first && seq_rl_ac_mean_return(ag) > 80, "mean return %.1f -> %.1f",
              first, seq_rl_ac_mean_return(ag));
    CHECK(seq_rl_ac_save(ag, path) == SEQ_OK);
    ag2 = seq_rl_ac_init(cfg, 4, 2, 8, 2, NULL);
    CHECK(ag2 && seq_rl_ac_load(ag2, path) == SEQ_OK);
    if (ag2) CHECK(seq_rl_ac_act(ag, obs, NULL, &p1) == seq_rl_ac_act(ag2, obs, NULL, &p2) && p1 == 1.0f);
    remove(path);
    seq_rl_ac_free(ag2);
    seq_rl_ac_free(ag);
    seq_rl_vec_env_free(&v);
}

/* Every allocation of the constructor failing in turn: NULL or a working agent, never a
 * crash (the callers check nothing leaked). */
static void ac_oom_sweep(seq_rl_ac_config cfg, seq_rl_vec_env *v, long tries) {
    seq_rl_ac *ag;
    long k;
    for (k = 0; k < tries; k++) {
        seq_test_fail_after(k);
        ag = seq_rl_ac_init(cfg, v->obs_dim, v->n_actions, v->n, 1, NULL);
        seq_test_fail_never();
        if (ag) {
            CHECK(seq_rl_ac_iterate(ag, v) == SEQ_OK);
            seq_rl_ac_free(ag);
        }
    }
}

/* A mismatched env, bad configs and allocation failures: errors, nothing leaked. */
static void test_ac_bad_input(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_A2C);
    seq_rl_ac *ag;
    long live = seq_test_live_blocks;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_ACROBOT, 1) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 4, 1, NULL) == SEQ_OK);
    ag = seq_rl_ac_init(cfg, 4, 2, 4, 1, NULL);
    CHECK(ag && seq_rl_ac_iterate(ag, &v) == SEQ_ERR_INVALID);
    seq_rl_ac_free(ag);
    cfg.gamma = 1.5f;
    CHECK(!seq_rl_ac_init(cfg, 6, 3, 4, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    ac_oom_sweep(seq_rl_ac_config_default(SEQ_RL_A2C), &v, 40);
    seq_rl_vec_env_free(&v);
    CHECK(seq_test_live_blocks == live);
}

/* ------------------------------------------------- recurrent policies, GRPO, JSRL ---- */

/* The streaming step over a sequence, with the memory cleared where a segment starts,
 * gives the fused forward's logits and values (run with a reset flag there). */
static void test_rnn_policy_step_matches_forward(void) {
    enum { B = 3, T = 6, I = 4, H = 8, A = 3 };
    int64_t xs[3] = {B, T, I}, t, b, k;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rl_rnn_policy p;
    seq_rnn_state st;
    seq_rng rng;
    seq_rnn_io io;
    uint8_t resets[B * T];
    float x[B * T * I], xt[B * I], logits[B * A], values[B], work[B * H + 2 * B * H];
    seq_tensor *lt, *vt = NULL;
    int cell, ok;
    for (cell = 0; cell < 2; cell++) {
        seq_params *Q = seq_params_init(NULL);
        CHECK(seq_rl_rnn_policy_init(&p, Q, "pol", cell ? SEQ_RNN_GRU : SEQ_RNN_LSTM, I, H, A, 1) == SEQ_OK);
        seq_rng_seed(&rng, 4);
        CHECK(seq_params_alloc(Q, &rng) == SEQ_OK);
        CHECK(seq_rl_rnn_policy_work_size(&p, B) <= (int64_t)(sizeof work / sizeof work[0]));
        for (k = 0; k < B * T * I; k++) x[k] = (float)seq_rng_normal(&rng, 0, 1);
        for (k = 0; k < B * T; k++) resets[k] = k == 1 * T + 3 || k == 2 * T + 1;
        memset(&io, 0, sizeof io);
        io.resets = resets;
        seq_ctx_reset(ctx);
        lt = seq_rl_rnn_policy_forward(ctx, &p, seq_tensor_wrap(ctx, x, 3, xs), &io, &vt);
        CHECK(lt && vt && lt->shape[0] == B * T && lt->shape[1] == A && vt->numel == B * T);
        CHECK(seq_rnn_state_init(&p.rnn, &st, B) == SEQ_OK);
        ok = lt && vt;
        for (t = 0; t < T && ok; t++) {
            for (b = 0; b < B; b++) {
                memcpy(xt + b * I, x + (b * T + t) * I, I * sizeof(float));
                if (resets[b * T + t]) { /* a new segment: this row's memory starts from zeros */
                    memset(st.h + b * H, 0, H * sizeof(float));
                    if (st.c) memset(st.c + b * H, 0, H * sizeof(float));
                }
            }
            CHECK(seq_rl_rnn_policy_step(&p, &st, xt, logits, values, work) == SEQ_OK);
            for (b = 0; b < B; b++) {
                for (k = 0; k < A; k++) ok &= fabsf(logits[b * A + k] - lt->data[(b * T + t) * A + k]) < 1e-5f;
                ok &= fabsf(values[b] - vt->data[b * T + t]) < 1e-5f;
            }
        }
        CHECK_MSG(ok, "cell %d: the step API disagrees with the fused forward", cell);
        seq_rnn_state_free(&st);
        seq_params_free(Q);
    }
    CHECK(seq_rl_rnn_policy_init(&p, P, "bad", SEQ_RNN_TANH, I, H, A, 1) == SEQ_ERR_INVALID);
    CHECK(seq_rl_rnn_policy_init(&p, P, "bad", SEQ_RNN_GRU, 0, H, A, 1) == SEQ_ERR_INVALID);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* One PPO epoch on one minibatch evaluates the loss before it moves the weights: the
 * replayed log-probabilities must equal those acting recorded (ratio 1, approx KL 0).
 * For a recurrent agent that holds only when BPTT restarts each env's sequence from its
 * saved memory and resets it at every episode start, as acting did; with norm_obs, when
 * the rollout keeps the observations as standardized at the time. */
static void test_ac_replay_matches_acting(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_ac *ag;
    int rec, it;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 2) == SEQ_OK);
    CHECK(seq_rl_env_hide_velocity(&proto) == SEQ_OK);
    for (rec = 0; rec < 3; rec++) {
        cfg.recurrent = rec > 0, cfg.cell = rec == 2 ? SEQ_RNN_GRU : SEQ_RNN_LSTM, cfg.norm_obs = rec == 1;
        cfg.n_steps = 50, cfg.epochs = 1, cfg.minibatches = 1, cfg.hidden = 16;
        CHECK(seq_rl_vec_env_init(&v, &proto, 3, 5, NULL) == SEQ_OK);
        ag = seq_rl_ac_init(cfg, 2, 2, 3, 7, NULL);
        CHECK(ag != NULL);
        for (it = 0; ag && it < 4; it++) { /* rollouts of 50 steps span several episodes */
            CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK);
            CHECK_MSG(fabsf(ag->last.approx_kl) < 1e-6f && ag->last.clipfrac == 0, "agent %d iteration %d: approx kl %g",
                      rec, it, ag->last.approx_kl);
        }
        CHECK(ag && v.episodes > 3);
        seq_rl_ac_free(ag);
        seq_rl_vec_env_free(&v);
    }
}

/* A recurrent agent saves and loads its weights and observation statistics; its acting
 * memory carries between calls until reset_memory; bad configurations and allocation
 * failures are refused. */
static void test_recurrent_ac_api(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_ac *ag, *ag2;
    const char *path = "build/rl_rppo_test.safetensors";
    float obs[2] = {0.1f, -0.02f}, p1, p2, hsum = 0;
    long live = seq_test_live_blocks;
    int i;
    cfg.recurrent = 1, cfg.n_steps = 32, cfg.hidden = 16, cfg.norm_obs = 1;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 1) == SEQ_OK && seq_rl_env_hide_velocity(&proto) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 4, 1, NULL) == SEQ_OK);
    ag = seq_rl_ac_init(cfg, 2, 2, 4, 3, NULL);
    CHECK(ag && seq_rl_ac_iterate(ag, &v) == SEQ_OK && seq_params_find(ag->P, "policy.rnn.weight_ih_l0") != NULL);
    CHECK(seq_rl_ac_save(ag, path) == SEQ_OK);
    ag2 = seq_rl_ac_init(cfg, 2, 2, 4, 9, NULL);
    CHECK(ag2 && seq_rl_ac_load(ag2, path) == SEQ_OK);
    /* the observation statistics travel with the weights: 32 x 4 observations counted */
    CHECK(ag2 && fabsf(ag2->obs_stats->data[4] - 128.0f) < 0.01f && ag2->obs_stats->data[2] != 1.0f);
    for (i = 0; ag && ag2 && i < 5; i++) CHECK(seq_rl_ac_act(ag, obs, NULL, &p1) == seq_rl_ac_act(ag2, obs, NULL, &p2));
    for (i = 0; ag && i < 16; i++) hsum += fabsf(ag->act_mem.h[i]);
    CHECK(hsum > 0); /* acting left a memory */
    seq_rl_ac_reset_memory(ag);
    for (i = 0, hsum = 0; ag && i < 16; i++) hsum += fabsf(ag->act_mem.h[i]) + fabsf(ag->act_mem.c[i]);
    CHECK(hsum == 0);
    remove(path);
    seq_rl_ac_free(ag2);
    seq_rl_ac_free(ag);
    cfg.minibatches = 5; /* more minibatches than envs to split */
    CHECK(!seq_rl_ac_init(cfg, 2, 2, 4, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    cfg.minibatches = 2, cfg.cell = SEQ_RNN_TANH;
    CHECK(!seq_rl_ac_init(cfg, 2, 2, 4, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    cfg.cell = SEQ_RNN_LSTM;
    ag = seq_rl_ac_init(cfg, 4, 2, 4, 1, NULL); /* observes 4 floats, the env gives 2 */
    CHECK(ag && seq_rl_ac_iterate(ag, &v) == SEQ_ERR_INVALID);
    seq_rl_ac_free(ag);
    ac_oom_sweep(cfg, &v, 60);
    seq_rl_vec_env_free(&v);
    CHECK(seq_test_live_blocks == live);
}

/* Group-normalized advantages: standardized within each group (unbiased std), exactly 0
 * for a group of equal rewards, centered only without scale_std; NaN refused. */
static void test_grpo_advantages(void) {
    double r[8] = {1, 0, 0, 0, 0.5, 0.5, 0.5, 0.5}, bad[4] = {1, NAN, 0, 0};
    float adv[8], keep[4] = {7, 7, 7, 7};
    double sd = sqrt(0.25); /* rewards 1,0,0,0: mean 1/4, unbiased variance 1/4 */
    int i;
    CHECK(seq_rl_grpo_advantages(r, 2, 4, 1, 0.0f, adv) == SEQ_OK);
    CHECK_NEAR(adv[0], 0.75 / sd, 1e-6);
    CHECK_NEAR(adv[1], -0.25 / sd, 1e-6);
    for (i = 4; i < 8; i++) CHECK(adv[i] == 0.0f);
    CHECK(seq_rl_grpo_advantages(r, 2, 4, 0, 0.0f, adv) == SEQ_OK);
    CHECK_NEAR(adv[0], 0.75, 1e-7);
    CHECK_NEAR(adv[3], -0.25, 1e-7);
    CHECK(seq_rl_grpo_advantages(bad, 1, 4, 1, 1e-4f, keep) == SEQ_ERR_INVALID && keep[0] == 7 && keep[3] == 7);
    CHECK(strstr(seq_last_error(), "rewards[1]") != NULL);
    CHECK(seq_rl_grpo_advantages(r, 0, 4, 1, 1e-4f, adv) == SEQ_ERR_INVALID);
    CHECK(seq_rl_grpo_advantages(r, 2, 4, 1, -1.0f, adv) == SEQ_ERR_INVALID);
}

/* The built-in checkers: right answers earn 1, wrong ones 0 or partial credit. */
static void test_seq_tasks(void) {
    seq_rl_seq_task t;
    int32_t p[4] = {3, 0, 2, 0}, rev[4] = {0, 2, 0, 3}, srt[4] = {0, 0, 2, 3}, sum[2] = {0, 5}, near[4] = {0, 2, 1, 3};
    seq_rng rng;
    int32_t q[4];
    int i, ok = 1;
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_REVERSE, 4, 4, 0) == SEQ_OK);
    CHECK(t.reward(&t, p, rev) == 1.0 && t.reward(&t, p, p) == 0.0 && t.reward(&t, p, near) == 0.0);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_REVERSE, 4, 4, 1) == SEQ_OK);
    CHECK(t.reward(&t, p, near) == 0.5 * 3 / 4);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_SORT, 4, 4, 0) == SEQ_OK && t.reward(&t, p, srt) == 1.0);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_COPY, 4, 4, 0) == SEQ_OK && t.reward(&t, p, p) == 1.0);
    /* 4 digits below 4 sum to at most 12: two base-4 digits; 3+0+2+0 = 5 = "11" in base 4 */
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_SUM, 4, 4, 0) == SEQ_OK && t.answer_len == 2);
    sum[0] = 1, sum[1] = 1;
    CHECK(t.reward(&t, p, sum) == 1.0);
    seq_rng_seed(&rng, 1);
    for (i = 0; i < 50; i++) {
        t.sample(&t, &rng, q);
        ok &= q[0] >= 0 && q[0] < 4 && q[3] >= 0 && q[3] < 4;
    }
    CHECK(ok);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_SUM, 1, 4, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_TASK_COPY, 4, SEQ_RL_TASK_MAX_LEN + 1, 0) == SEQ_ERR_INVALID);
    CHECK(seq_rl_seq_task_builtin(&t, SEQ_RL_SEQ_TASK_KIND_COUNT, 4, 4, 0) == SEQ_ERR_INVALID);
}

/* The first GRPO step replays the sampled answers: ratio 1 and, with the reference
 * still the initial policy, KL 0. */
static void test_grpo_first_step_on_policy(void) {
    seq_rl_seq_task task;
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_grpo *g;
    cfg.epochs = 1, cfg.hidden = 16, cfg.prompts = 4, cfg.group = 4;
    CHECK(seq_rl_seq_task_builtin(&task, SEQ_RL_TASK_SORT, 5, 3, 1) == SEQ_OK);
    g = seq_rl_grpo_init(cfg, &task, 3, NULL);
    CHECK(g && seq_rl_grpo_iterate(g) == SEQ_OK);
    CHECK_MSG(g && fabsf(g->last.approx_kl) < 1e-6f && fabsf(g->last.ref_kl) < 1e-6f && g->last.clipfrac == 0,
              "approx kl %g ref kl %g", g ? g->last.approx_kl : 0.0, g ? g->last.ref_kl : 0.0);
    seq_rl_grpo_free(g);
}

/* A verifiable-reward task learned from scratch: a small GRU must reverse 3 digits
 * (1 in 27 by chance); GRPO with reward 1 iff exact takes it to a clear majority. */
static void test_grpo_learns_reverse(void) {
    seq_rl_seq_task task;
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_grpo *g;
    seq_rng eval;
    double before, after;
    int it;
    cfg.hidden = 32;
    CHECK(seq_rl_seq_task_builtin(&task, SEQ_RL_TASK_REVERSE, 3, 3, 0) == SEQ_OK);
    g = seq_rl_grpo_init(cfg, &task, 2, NULL);
    CHECK(g != NULL);
    if (!g) return;
    seq_rng_seed(&eval, 99);
    before = seq_rl_grpo_solve_rate(g, 256, &eval);
    for (it = 0; it < 80; it++) CHECK(seq_rl_grpo_iterate(g) == SEQ_OK);
    after = seq_rl_grpo_solve_rate(g, 256, &eval);
    CHECK_MSG(before < 0.1 && after > 0.6, "solved %.3f -> %.3f", before, after);
    seq_rl_grpo_free(g);
}

static double nan_reward(const seq_rl_seq_task *task, const int32_t *prompt, const int32_t *answer) {
    (void)task, (void)prompt, (void)answer;
    return NAN;
}

static void bad_sample(const seq_rl_seq_task *task, seq_rng *rng, int32_t *prompt) {
    int64_t i;
    (void)rng;
    for (i = 0; i < task->prompt_len; i++) prompt[i] = (int32_t)task->vocab; /* one past the last token */
}

/* Save and load through the container (answers agree after), a file of another trainer
 * or a corrupt one refused with the trainer unchanged; NaN rewards, out-of-range tokens,
 * bad configs and allocation failures are errors. */
static void test_grpo_save_load_and_bad_input(void) {
    seq_rl_seq_task task, other;
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_grpo *g, *h;
    const char *path = "build/rl_grpo_test.sav";
    int32_t prompts[6] = {0, 1, 2, 2, 1, 0}, a1[6], a2[6], bad_prompt[3] = {0, 9, 1};
    long k, live = seq_test_live_blocks;
    float w0;
    FILE *f;
    cfg.hidden = 8, cfg.prompts = 2, cfg.group = 3, cfg.epochs = 1;
    CHECK(seq_rl_seq_task_builtin(&task, SEQ_RL_TASK_COPY, 3, 3, 1) == SEQ_OK);
    g = seq_rl_grpo_init(cfg, &task, 1, NULL);
    h = seq_rl_grpo_init(cfg, &task, 2, NULL);
    CHECK(g && h);
    if (!g || !h) return;
    CHECK(seq_rl_grpo_iterate(g) == SEQ_OK && seq_rl_grpo_iterate(g) == SEQ_OK);
    CHECK(seq_rl_grpo_save(g, path) == SEQ_OK && seq_rl_grpo_load(h, path) == SEQ_OK);
    CHECK(h->iterations == 2 && h->opt.st.step == g->opt.st.step);
    CHECK(seq_rl_grpo_answer(g, prompts, 2, NULL, a1) == SEQ_OK && seq_rl_grpo_answer(h, prompts, 2, NULL, a2) == SEQ_OK);
    CHECK(memcmp(a1, a2, sizeof a1) == 0);
    CHECK(seq_rl_grpo_answer(g, bad_prompt, 1, NULL, a1) == SEQ_ERR_RANGE);
    f = fopen(path, "r+b"); /* flip a byte inside the weights: the checksum catches it */
    if (f) {
        fseek(f, 200, SEEK_SET);
        fputc(0x5a, f);
        fclose(f);
    }
    w0 = h->P->data[0];
    CHECK(seq_rl_grpo_load(h, path) == SEQ_ERR_FORMAT && h->P->data[0] == w0);
    cfg.hidden = 9; /* another network */
    seq_rl_grpo_free(h);
    h = seq_rl_grpo_init(cfg, &task, 2, NULL);
    CHECK(h && seq_rl_grpo_save(g, path) == SEQ_OK && seq_rl_grpo_load(h, path) == SEQ_ERR_FORMAT);
    remove(path);
    seq_rl_grpo_free(h);
    other = task, other.reward = nan_reward;
    h = seq_rl_grpo_init(cfg, &other, 2, NULL);
    CHECK(h && seq_rl_grpo_iterate(h) == SEQ_ERR_INVALID && h->iterations == 0);
    seq_rl_grpo_free(h);
    other = task, other.sample = bad_sample;
    h = seq_rl_grpo_init(cfg, &other, 2, NULL);
    CHECK(h && seq_rl_grpo_iterate(h) == SEQ_ERR_RANGE);
    seq_rl_grpo_free(h);
    other.sample = NULL;
    CHECK(!seq_rl_grpo_init(cfg, &other, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    cfg.group = 1;
    CHECK(!seq_rl_grpo_init(cfg, &task, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    cfg.group = 3;
    for (k = 0; k < 60; k++) {
        seq_test_fail_after(k);
        h = seq_rl_grpo_init(cfg, &task, 1, NULL);
        seq_test_fail_never();
        if (h) {
            CHECK(seq_rl_grpo_iterate(h) == SEQ_OK);
            seq_rl_grpo_free(h);
        }
    }
    seq_rl_grpo_free(g);
    CHECK(seq_test_live_blocks == live);
}

static int64_t guide_right_then_down(void *ud, const float *obs, int64_t env) {
    (void)env;
    if (ud) return 7; /* a broken guide */
    return obs[1] < 1.0f ? 1 : 2;
}

/* The curriculum: h steps down a stage each time the window's mean return reaches the
 * threshold, down to 0; it saves, loads and refuses NaN returns and bad configs. */
static void test_jsrl_curriculum(void) {
    seq_rl_jsrl j, k;
    seq_rl_jsrl_config c = seq_rl_jsrl_config_default(40, 0.7);
    const char *path = "build/rl_jsrl_test.sav";
    int i;
    c.stages = 4, c.window = 5;
    CHECK(seq_rl_jsrl_init(&j, c, guide_right_then_down, NULL) == SEQ_OK);
    CHECK(j.h == 40 && seq_rl_jsrl_guides(&j, 39) && !seq_rl_jsrl_guides(&j, 40) && !seq_rl_jsrl_guides(NULL, 0));
    for (i = 0; i < 10; i++) CHECK(seq_rl_jsrl_episode(&j, 0.2) == SEQ_OK);
    for (i = 0; i < 3; i++) CHECK(seq_rl_jsrl_episode(&j, 1.0) == SEQ_OK);
    CHECK(j.stage == 0 && j.h == 40); /* the last 5 average 0.68: not good enough yet */
    CHECK(seq_rl_jsrl_episode(&j, 1.0) == SEQ_OK);
    CHECK(j.stage == 1 && j.h == 30 && j.n_recent == 0);
    for (i = 0; i < 4; i++) CHECK(seq_rl_jsrl_episode(&j, 1.0) == SEQ_OK);
    CHECK(j.stage == 1); /* a stage lasts a whole window */
    CHECK(seq_rl_jsrl_episode(&j, NAN) == SEQ_ERR_INVALID && j.episodes == 18);
    CHECK(seq_rl_jsrl_save(&j, path) == SEQ_OK);
    CHECK(seq_rl_jsrl_init(&k, seq_rl_jsrl_config_default(5, 0), guide_right_then_down, NULL) == SEQ_OK);
    CHECK(seq_rl_jsrl_load(&k, path) == SEQ_OK && k.stage == 1 && k.h == 30 && k.n_recent == 4 && k.cfg.window == 5);
    CHECK(k.guide == guide_right_then_down && k.recent[3] == 1.0);
    for (i = 0; i < 16; i++) CHECK(seq_rl_jsrl_episode(&j, 1.0) == SEQ_OK);
    CHECK(j.stage == 4 && j.h == 0 && !seq_rl_jsrl_guides(&j, 0));
    remove(path);
    CHECK(seq_rl_jsrl_load(&k, path) == SEQ_ERR_IO && k.stage == 1);
    c.window = SEQ_RL_JSRL_MAX_WINDOW + 1;
    CHECK(seq_rl_jsrl_init(&k, c, guide_right_then_down, NULL) == SEQ_ERR_INVALID);
    c.window = 5, c.threshold = NAN;
    CHECK(seq_rl_jsrl_init(&k, c, guide_right_then_down, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_rl_jsrl_init(&k, seq_rl_jsrl_config_default(5, 0), NULL, NULL) == SEQ_ERR_INVALID);
}

/* Found by fuzz_saves: a horizon near 2^63 overflowed h = horizon (stages - k) / stages
 * as the curriculum moved; a file whose counters sit at INT64_MAX would overflow on the
 * next episode, and one with stages < 1 would wrap through the int conversion: refused. */
static void test_jsrl_extreme_values(void) {
    static const double recent[1] = {0.0}, threshold = 1.0;
    seq_rl_jsrl j;
    seq_rl_jsrl_config c = seq_rl_jsrl_config_default((int64_t)1 << 62, 1.0);
    seq_rl_save w;
    const char *path = "build/rl_jsrl_extreme.sav";
    int64_t cfg[3] = {10, 2, 1}, state[5] = {0, 10, INT64_MAX, 0, 0};
    int i;
    c.stages = 1000, c.window = 1;
    CHECK(seq_rl_jsrl_init(&j, c, guide_right_then_down, NULL) == SEQ_OK);
    for (i = 0; i < 3; i++) CHECK(seq_rl_jsrl_episode(&j, 2.0) == SEQ_OK);
    CHECK(j.stage == 3 && j.h == 4597850960372105740); /* floor(2^62 997 / 1000) */
    for (i = 0; i < 2; i++) {
        if (i == 1) state[2] = 0, cfg[1] = -((int64_t)1 << 32) + 2; /* (int) of it would be 2 */
        seq_rl_save_begin(&w, "jsrl", NULL);
        seq_rl_save_i64s(&w, "config", 3, cfg);
        seq_rl_save_f64s(&w, "threshold", 1, &threshold);
        seq_rl_save_i64s(&w, "state", 5, state);
        seq_rl_save_f64s(&w, "recent", 1, recent);
        CHECK(seq_rl_save_end(&w, path) == SEQ_OK);
        CHECK(seq_rl_jsrl_load(&j, path) == SEQ_ERR_FORMAT && j.stage == 3 && j.cfg.stages == 1000);
    }
    remove(path);
}

/* Greedy episodes of the learner alone from the start cell: the fraction that reach the goal. */
static double grid_success(seq_rl_ac *ag, seq_rl_env *e, int episodes) {
    float obs[2];
    seq_rl_step st;
    int k, wins = 0;
    for (k = 0; k < episodes; k++) {
        CHECK(seq_rl_env_reset(e, obs) == SEQ_OK);
        st.terminated = st.truncated = 0;
        while (!st.terminated && !st.truncated) CHECK(seq_rl_env_step(e, seq_rl_ac_act(ag, obs, NULL, NULL), obs, &st) == SEQ_OK);
        wins += st.terminated && st.reward > 0;
    }
    return (double)wins / episodes;
}

/* Jump-Start on a sparse task: on an open 10 x 10 grid the only reward is 1 at the far
 * corner, 18 moves away, within 40 steps; a random walk almost never gets there, so PPO
 * alone learns nothing in this budget. With a guide that walks right, then down, for the
 * first h steps, the learner is rewarded from the start, the curriculum hands it the
 * whole episode, and it then solves the task alone. A guide that picks an impossible
 * action is an error. */
static void test_jsrl_sparse_gridworld(void) {
    static const char *map = "S.........\n..........\n..........\n..........\n..........\n"
                             "..........\n..........\n..........\n..........\n.........G";
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_jsrl j;
    seq_rl_jsrl_config jc = seq_rl_jsrl_config_default(18, 0.8);
    seq_rl_ac *ag;
    double plain, jumped;
    int it, broken = 1;
    gc.step_reward = 0.0f, gc.max_steps = 40;
    cfg.n_steps = 64, cfg.total_steps = 4 * 64 * 60;
    jc.stages = 6;
    CHECK(seq_rl_gridworld_init(&proto, map, gc, 1) == SEQ_OK);
    CHECK(seq_rl_jsrl_init(&j, jc, guide_right_then_down, NULL) == SEQ_OK);
    for (it = 0; it < 2; it++) {
        CHECK(seq_rl_vec_env_init(&v, &proto, 4, 3, NULL) == SEQ_OK);
        ag = seq_rl_ac_init(cfg, 2, 4, 4, 5, NULL);
        CHECK(ag && seq_rl_ac_set_guide(ag, it ? &j : NULL) == SEQ_OK);
        while (ag && ag->iterations < 60) CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK);
        if (it) jumped = grid_success(ag, &proto, 1);
        else plain = grid_success(ag, &proto, 1);
        seq_rl_ac_free(ag);
        seq_rl_vec_env_free(&v);
    }
    CHECK_MSG(plain == 0 && jumped == 1 && j.stage == jc.stages && j.h == 0, "alone %.0f, jump-started %.0f (stage %d, h %lld)",
              plain, jumped, j.stage, (long long)j.h);
    CHECK(seq_rl_jsrl_init(&j, jc, guide_right_then_down, &broken) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 2, 3, NULL) == SEQ_OK);
    ag = seq_rl_ac_init(cfg, 2, 4, 2, 5, NULL);
    CHECK(ag && seq_rl_ac_set_guide(ag, &j) == SEQ_OK && seq_rl_ac_iterate(ag, &v) == SEQ_ERR_RANGE);
    CHECK(seq_rl_ac_set_guide(NULL, &j) == SEQ_ERR_INVALID);
    seq_rl_ac_free(ag);
    seq_rl_vec_env_free(&v);
}

void seq_tests_rl_agents(void) {
    RUN(test_pg_loss_gradcheck);
    RUN(test_pg_loss_values_and_errors);
    RUN(test_mlp_infer_matches_forward);
    RUN(test_sample_softmax);
    RUN(test_ppo_cartpole_smoke);
    RUN(test_ac_bad_input);
    RUN(test_rnn_policy_step_matches_forward);
    RUN(test_ac_replay_matches_acting);
    RUN(test_recurrent_ac_api);
    RUN(test_grpo_advantages);
    RUN(test_seq_tasks);
    RUN(test_grpo_first_step_on_policy);
    RUN(test_grpo_learns_reverse);
    RUN(test_grpo_save_load_and_bad_input);
    RUN(test_jsrl_curriculum);
    RUN(test_jsrl_extreme_values);
    RUN(test_jsrl_sparse_gridworld);
}
