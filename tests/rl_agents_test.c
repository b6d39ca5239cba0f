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

/* A mismatched env, bad configs and allocation failures: errors, nothing leaked. */
static void test_ac_bad_input(void) {
    seq_rl_env proto;
    seq_rl_vec_env v;
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_A2C);
    seq_rl_ac *ag;
    long k, live = seq_test_live_blocks;
    CHECK(seq_rl_env_init(&proto, SEQ_RL_ENV_ACROBOT, 1) == SEQ_OK);
    CHECK(seq_rl_vec_env_init(&v, &proto, 4, 1, NULL) == SEQ_OK);
    ag = seq_rl_ac_init(cfg, 4, 2, 4, 1, NULL);
    CHECK(ag && seq_rl_ac_iterate(ag, &v) == SEQ_ERR_INVALID);
    seq_rl_ac_free(ag);
    cfg.gamma = 1.5f;
    CHECK(!seq_rl_ac_init(cfg, 6, 3, 4, 1, NULL) && seq_last_status() == SEQ_ERR_INVALID);
    cfg = seq_rl_ac_config_default(SEQ_RL_A2C);
    for (k = 0; k < 40; k++) {
        seq_test_fail_after(k);
        ag = seq_rl_ac_init(cfg, 6, 3, 4, 1, NULL);
        seq_test_fail_never();
        if (ag) {
            CHECK(seq_rl_ac_iterate(ag, &v) == SEQ_OK);
            seq_rl_ac_free(ag);
        }
    }
    seq_rl_vec_env_free(&v);
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_rl_agents(void) {
    RUN(test_pg_loss_gradcheck);
    RUN(test_pg_loss_values_and_errors);
    RUN(test_mlp_infer_matches_forward);
    RUN(test_sample_softmax);
    RUN(test_ppo_cartpole_smoke);
    RUN(test_ac_bad_input);
}
