/* seq_rl.h — bandits, off-policy evaluation, environments and RL agents.
 *
 * stb-style, on top of seq.h: include it anywhere for the declarations; in exactly one
 * C or C++ file
 *     #define SEQ_RL_IMPLEMENTATION
 *     #include "seq_rl.h"
 * (seq.h's own implementation still needs SEQ_IMPLEMENTATION in one file.)
 *
 * Every stochastic call takes an explicit seq_rng; every object saves and loads; every
 * policy reports the probability of the action it chose, so its logs can be evaluated
 * off-policy later. Bandit statistics are kept in double.
 *
 * The environments reproduce Gymnasium's float64 dynamics step for step: compile the
 * implementation with -ffp-contract=off (GCC contracts to FMA under -march=native).
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  save files: the container every seq_rl object saves into
 *     2  multi-armed bandits
 *     3  contextual and Bayesian-optimization bandits: LinUCB, LinTS, SquareCB, GP-UCB
 *     4  off-policy evaluation
 *     5  environments: CartPole, MountainCar, Acrobot, Pendulum, gridworld, vectorized
 *     6  replay buffers: uniform and prioritized (sum tree)
 *     7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 *     8  policy and value networks, DQN
 *     9  policy-gradient agents: REINFORCE, A2C, PPO, GRPO
 *    10  recurrent policies and the Jump-Start wrapper
 */
#ifndef SEQ_RL_H
#define SEQ_RL_H

#include "seq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  save files: the container every seq_rl object saves into
 * =================================================================================== */

/* ===================================================================================
 * 2  multi-armed bandits
 * =================================================================================== */

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits: LinUCB, LinTS, SquareCB, GP-UCB
 * =================================================================================== */

/* ===================================================================================
 * 4  off-policy evaluation
 * =================================================================================== */

/* ===================================================================================
 * 5  environments: CartPole, MountainCar, Acrobot, Pendulum, gridworld, vectorized
 * =================================================================================== */

/* Gymnasium 1.x classic control, step for step: the same float64 state, constants,
 * operation order, rewards, termination (the task ended: no bootstrapping past it) and
 * truncation (the time limit cut it: bootstrap from the final observation). Observations
 * are float32 as Gymnasium returns them. Bit-exact means: built with -ffp-contract=off,
 * each step equals Gymnasium's (checked against tests/gen_rl_env_fixtures.py, see
 * docs/rl.md). Reset draws come from the env's own seq_rng, not NumPy's generator: same
 * distributions, other numbers; seq_rl_env_set_state starts from any given state.
 *
 *   kind         obs (float32)                         actions             limit  reward
 *   CARTPOLE     x, x', theta, theta'                  0 left, 1 right       500  +1 per step
 *   MOUNTAINCAR  position, velocity                    0 left, 1 none, 2 r   200  -1 per step
 *   ACROBOT      cos t1, sin t1, cos t2, sin t2, t1', t2'  torque -1, 0, +1  500  -1, 0 at goal
 *   PENDULUM     cos theta, sin theta, theta'          torque in [-2,2]      200  -cost
 *   GRIDWORLD    row, column scaled to [0,1]           0 up 1 right 2 down 3 left  (config)
 *
 * Acrobot uses the "book" dynamics with RK4 over dt = 0.2 and, as Gymnasium, rounds its
 * reset state to float32. Pendulum's torque is the float32 action clipped in float32,
 * then promoted to float64 as NumPy 1.x does. */
typedef enum seq_rl_env_kind {
    SEQ_RL_ENV_CARTPOLE,    /* CartPole-v1 */
    SEQ_RL_ENV_MOUNTAINCAR, /* MountainCar-v0 */
    SEQ_RL_ENV_ACROBOT,     /* Acrobot-v1 */
    SEQ_RL_ENV_PENDULUM,    /* Pendulum-v1 (continuous action) */
    SEQ_RL_ENV_GRIDWORLD,   /* a map of walls, pits and goals (seq_rl_gridworld_init) */
    SEQ_RL_ENV_KIND_COUNT
} seq_rl_env_kind;

#define SEQ_RL_OBS_MAX 6   /* the largest observation (Acrobot) */
#define SEQ_RL_GRID_MAX 16 /* gridworld maps up to 16 x 16 cells */

/* Gridworld: a text map, rows separated by '\n', every row the same width:
 *   '.' floor   '#' wall   'S' start (exactly one)   'G' goal (terminal, goal_reward)
 *   'X' pit (terminal, pit_reward)
 * Every other step pays step_reward; moving into a wall or off the map stays put. With
 * probability slip the move goes in a uniformly random direction (the env's rng). */
typedef struct seq_rl_gridworld_config {
    float step_reward; /* -0.01 */
    float goal_reward; /* 1 */
    float pit_reward;  /* -1 */
    float slip;        /* 0: deterministic */
    int max_steps;     /* 100: truncation */
} seq_rl_gridworld_config;

typedef struct seq_rl_env {
    seq_rl_env_kind kind;
    int obs_dim;          /* floats per observation */
    int n_actions;        /* discrete actions; 0 for Pendulum */
    int act_dim;          /* continuous action size (Pendulum 1), else 0 */
    float act_low, act_high;
    int max_steps;        /* truncation limit (Gymnasium's TimeLimit) */
    double reward_threshold; /* Gymnasium's "solved" level (gridworld: goal_reward) */
    int hide_velocity;    /* CartPole only: observe x and theta alone (a POMDP) */
    double state[4];      /* the float64 physical state, Gymnasium's self.state */
    int t;                /* steps taken in this episode */
    int needs_reset;      /* the episode ended: step refuses until reset */
    seq_rng rng;          /* this env's own stream (resets, gridworld slips) */
    /* gridworld */
    int grid_w, grid_h, grid_start, grid_pos;
    char grid[SEQ_RL_GRID_MAX * SEQ_RL_GRID_MAX];
    seq_rl_gridworld_config grid_cfg;
} seq_rl_env;

/* What a step returns besides the observation. */
typedef struct seq_rl_step {
    double reward;
    int terminated, truncated;
} seq_rl_step;

/* Any classic-control kind (not GRIDWORLD); the env is reset and ready to step. */
SEQDEF seq_status seq_rl_env_init(seq_rl_env *e, seq_rl_env_kind kind, uint64_t seed);
SEQDEF seq_rl_gridworld_config seq_rl_gridworld_config_default(void);
/* A gridworld from a map (see above). SEQ_ERR_FORMAT: ragged rows, unknown characters,
 * not exactly one 'S', larger than SEQ_RL_GRID_MAX. */
SEQDEF seq_status seq_rl_gridworld_init(seq_rl_env *e, const char *map, seq_rl_gridworld_config cfg, uint64_t seed);
/* CartPole with velocities hidden (obs_dim 2: x, theta): needs memory to balance. */
SEQDEF seq_status seq_rl_env_hide_velocity(seq_rl_env *e);
/* New episode drawn from the env's rng; obs (obs_dim) may be NULL. */
SEQDEF seq_status seq_rl_env_reset(seq_rl_env *e, float *obs);
/* Starts an episode from a given float64 state (CartPole 4, MountainCar 2, Acrobot 4:
 * t1, t2, t1', t2', Pendulum 2: theta, theta'; gridworld: the cell index in state[0]).
 * Non-finite values are SEQ_ERR_INVALID; obs may be NULL. */
SEQDEF seq_status seq_rl_env_set_state(seq_rl_env *e, const double *state, float *obs);
SEQDEF void seq_rl_env_observe(const seq_rl_env *e, float *obs);
/* One step of a discrete-action env. An action outside [0,n_actions) is SEQ_ERR_RANGE,
 * a step after the episode ended SEQ_ERR_STATE; either leaves the env unchanged. */
SEQDEF seq_status seq_rl_env_step(seq_rl_env *e, int64_t action, float *obs, seq_rl_step *out);
/* One step of a continuous-action env (Pendulum): action (act_dim), clipped to
 * [act_low, act_high] as Gymnasium does; NaN is SEQ_ERR_INVALID, env unchanged. */
SEQDEF seq_status seq_rl_env_step_continuous(seq_rl_env *e, const float *action, float *obs, seq_rl_step *out);
/* Gridworld: the cell index (row * width + column) and the number of cells, for tabular
 * agents; -1 and 0 for other kinds. */
SEQDEF int64_t seq_rl_env_state_id(const seq_rl_env *e);
SEQDEF int64_t seq_rl_env_num_states(const seq_rl_env *e);

/* N copies of one env stepping in one call, each with its own rng (seed, then one
 * seq_rng_jump per env). An env whose episode ends is reset at once: obs then holds the
 * new episode's first observation and final_obs the ended episode's last one (what a
 * truncated episode bootstraps from). Episode returns and lengths are tracked. */
typedef struct seq_rl_vec_env {
    int64_t n;
    int obs_dim, n_actions, act_dim;
    seq_rl_env *envs;
    float *obs;           /* (n, obs_dim) current observations */
    float *final_obs;     /* (n, obs_dim) last observation of an episode that just ended */
    float *rewards;       /* (n) of the last step */
    uint8_t *terminated, *truncated; /* (n) of the last step */
    double *ep_return;    /* (n) running return of the current episode */
    int64_t *ep_length;   /* (n) running length */
    double *done_return;  /* (n) return of the episode that ended at the last step */
    int64_t *done_length; /* (n) its length */
    int64_t episodes;     /* episodes completed so far */
    void *alloc_ud;
} seq_rl_vec_env;

/* n copies of proto (its kind, map, config and hide_velocity), all reset. */
SEQDEF seq_status seq_rl_vec_env_init(seq_rl_vec_env *v, const seq_rl_env *proto, int64_t n, uint64_t seed,
                                      void *alloc_ud);
SEQDEF void seq_rl_vec_env_free(seq_rl_vec_env *v);
/* actions (n) for discrete envs, or (n, act_dim) floats for continuous ones; every action
 * is checked before any env moves. */
SEQDEF seq_status seq_rl_vec_env_step(seq_rl_vec_env *v, const int32_t *actions);
SEQDEF seq_status seq_rl_vec_env_step_continuous(seq_rl_vec_env *v, const float *actions);

/* ===================================================================================
 * 6  replay buffers: uniform and prioritized (sum tree)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN
 * =================================================================================== */

/* A multilayer perceptron on seq.h ops: Linear, activation, ..., Linear. Weights are
 * registered in a seq_params as "<prefix>.<k>.weight" (out,in) and "<prefix>.<k>.bias",
 * orthogonally initialized with gain sqrt(2) on hidden layers and out_gain on the last
 * (the PPO implementation details' init: 0.01 for a policy head, 1 for a value head). */
#define SEQ_RL_MLP_MAX_LAYERS 6

typedef enum seq_rl_activation { SEQ_RL_TANH, SEQ_RL_RELU, SEQ_RL_ACTIVATION_COUNT } seq_rl_activation;

typedef struct seq_rl_mlp {
    int n_layers;                            /* Linear layers */
    int64_t sizes[SEQ_RL_MLP_MAX_LAYERS + 1]; /* input, hidden..., output */
    seq_rl_activation act;
    seq_tensor *W[SEQ_RL_MLP_MAX_LAYERS], *b[SEQ_RL_MLP_MAX_LAYERS];
} seq_rl_mlp;

/* sizes: n_layers + 1 widths. Call before seq_params_alloc. */
SEQDEF seq_status seq_rl_mlp_init(seq_rl_mlp *m, seq_params *P, const char *prefix, int n_layers,
                                  const int64_t *sizes, seq_rl_activation act, float out_gain);
/* x (N, sizes[0]) -> (N, sizes[n_layers]), recorded on ctx. */
SEQDEF seq_tensor *seq_rl_mlp_forward(seq_ctx *ctx, const seq_rl_mlp *m, seq_tensor *x);
/* The same without a tape (acting): x (n, in) -> y (n, out); work holds 2 * n * (widest
 * layer) floats. */
SEQDEF void seq_rl_mlp_infer(const seq_rl_mlp *m, const float *x, int64_t n, float *y, float *work);
SEQDEF int64_t seq_rl_mlp_work_size(const seq_rl_mlp *m, int64_t n);

/* Draws an action from softmax(logits) (A logits) and returns it; *prob receives its
 * probability (for off-policy logs), *logp its log-probability (either may be NULL). */
SEQDEF int64_t seq_rl_sample_softmax(const float *logits, int64_t A, seq_rng *rng, float *prob, float *logp);

/* ===================================================================================
 * 9  policy-gradient agents: REINFORCE, A2C, PPO, GRPO
 * =================================================================================== */

/* --- the policy-gradient loss, one fused tape node -----------------------------------
 * logits (N,A) of the current policy, values (N) or NULL, and per row i (mask[i] != 0 rows
 * counted, M of them; mask NULL = all):
 *     r_i   = exp(logp_i - old_logp_i),  logp_i = log softmax(logits_i)[actions_i]
 *     pg_i  = -min(r_i adv_i, clip(r_i, 1-clip, 1+clip) adv_i)     (clip <= 0: -r_i adv_i)
 *     v_i   = 1/2 max((V_i - R_i)^2, (Vc_i - R_i)^2), Vc_i = old_V_i + clamp(V_i - old_V_i,
 *             -vf_clip, vf_clip)                                   (vf_clip <= 0: (V_i - R_i)^2/2)
 *     kl_i  = e^(q_i) - q_i - 1, q_i = ref_logp_i - logp_i          (Schulman's k3 estimator)
 *     loss  = 1/M sum_i [pg_i + kl_coef kl_i - ent_coef H_i + vf_coef v_i]
 * With old_logp equal to the current log-probabilities, r = 1 and the gradient is the
 * vanilla policy gradient: the same node serves REINFORCE, A2C, PPO and GRPO. */
typedef struct seq_rl_pg_config {
    float clip;     /* PPO ratio clip (0.2); <= 0: none */
    float vf_clip;  /* value clip (0.2); <= 0: none */
    float ent_coef; /* 0.01 */
    float vf_coef;  /* 0.5 */
    float kl_coef;  /* 0: no reference policy */
} seq_rl_pg_config;

typedef struct seq_rl_pg_batch {
    const int32_t *actions;   /* (N) in [0,A) */
    const float *old_logp;    /* (N) behaviour log-probabilities */
    const float *adv;         /* (N) advantages */
    const float *returns;     /* (N) value targets; needed with values */
    const float *old_values;  /* (N) values at collection; needed with vf_clip > 0 */
    const float *ref_logp;    /* (N) reference policy; needed with kl_coef > 0 */
    const float *mask;        /* (N) 1 = counted, 0 = padding; NULL = all */
} seq_rl_pg_batch;

/* Diagnostics of one loss evaluation (means over the counted rows). */
typedef struct seq_rl_pg_stats {
    float pg_loss, v_loss, entropy, approx_kl, clipfrac, ref_kl;
} seq_rl_pg_stats;

SEQDEF seq_rl_pg_config seq_rl_pg_config_default(void);
/* -> scalar. Errors (sticky on ctx): shapes, an action outside [0,A) (SEQ_ERR_RANGE), a
 * missing array the config needs, no counted row. stats may be NULL. */
SEQDEF seq_tensor *seq_rl_pg_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *values, const seq_rl_pg_batch *b,
                                  seq_rl_pg_config cfg, seq_rl_pg_stats *stats);

/* --- actor-critic agents: REINFORCE with baseline, A2C, PPO ---------------------------
 * Separate actor and critic MLPs (tanh), Adam, a vectorized env. Each iteration collects
 * n_steps from every env, computes GAE(gamma, lambda) advantages and returns, and
 * updates: PPO for `epochs` passes over shuffled minibatches with the clipped losses;
 * A2C one step on the whole rollout (lambda = 1: n-step returns); REINFORCE one step on
 * Monte-Carlo returns (lambda = 1) with the critic as baseline. A truncated episode
 * bootstraps: its last reward gets gamma V(final observation) added; a terminated one
 * does not. The learning rate anneals linearly to 0 over total_steps when asked. */
typedef enum seq_rl_pg_algo { SEQ_RL_PPO, SEQ_RL_A2C, SEQ_RL_REINFORCE, SEQ_RL_PG_ALGO_COUNT } seq_rl_pg_algo;

typedef struct seq_rl_ac_config {
    seq_rl_pg_algo algo;
    int64_t n_steps;      /* per env per iteration: PPO 128, A2C 5, REINFORCE 500 */
    int epochs;           /* PPO 4 (others 1) */
    int minibatches;      /* PPO 4 (others 1) */
    float gamma;          /* 0.99 */
    float gae_lambda;     /* PPO 0.95, others 1 */
    float lr;             /* PPO 2.5e-3, A2C 7e-4, REINFORCE 1e-3 */
    float max_grad_norm;  /* 0.5 */
    int norm_adv;         /* 1 (PPO), 0 otherwise */
    int anneal_lr;        /* 1 */
    int64_t total_steps;  /* env steps the annealing spans (500000) */
    int hidden;           /* 64: two hidden layers of this width */
    seq_rl_pg_config loss;
} seq_rl_ac_config;

typedef struct seq_rl_ac {
    seq_rl_ac_config cfg;
    int64_t obs_dim, n_actions, n_envs;
    seq_params *P;
    seq_rl_mlp actor, critic;
    seq_adamw opt;
    seq_ctx *ctx;
    seq_rng rng;
    int64_t steps, iterations; /* env steps collected, updates made */
    /* rollout storage, (n_steps, n_envs, ...) */
    float *obs, *logp, *rewards, *values, *adv, *returns;
    int32_t *actions;
    uint8_t *dones;       /* terminated or truncated at that step */
    float *work;          /* inference scratch */
    float *next_value;    /* (n_envs) V of the observation after the rollout */
    int64_t *perm;
    double recent[100];   /* the last 100 episode returns */
    int64_t n_recent;
    seq_rl_pg_stats last; /* of the last minibatch */
    void *alloc_ud;
} seq_rl_ac;

SEQDEF seq_rl_ac_config seq_rl_ac_config_default(seq_rl_pg_algo algo);
/* For envs with obs_dim observations and n_actions discrete actions, n_envs at a time. */
SEQDEF seq_rl_ac *seq_rl_ac_init(seq_rl_ac_config cfg, int64_t obs_dim, int64_t n_actions, int64_t n_envs,
                                 uint64_t seed, void *alloc_ud);
SEQDEF void seq_rl_ac_free(seq_rl_ac *ag);
/* One iteration: collect cfg.n_steps on v (v->n == n_envs), then update. */
SEQDEF seq_status seq_rl_ac_iterate(seq_rl_ac *ag, seq_rl_vec_env *v);
/* Mean of the last min(100, episodes) episode returns (NaN before the first). */
SEQDEF double seq_rl_ac_mean_return(const seq_rl_ac *ag);
/* Acting: an action for one observation, sampled from the policy (rng) or greedy (rng
 * NULL); *prob (may be NULL) gets the probability the acting policy gave it (1 when
 * greedy). */
SEQDEF int64_t seq_rl_ac_act(seq_rl_ac *ag, const float *obs, seq_rng *rng, float *prob);
SEQDEF seq_status seq_rl_ac_save(const seq_rl_ac *ag, const char *path);
SEQDEF seq_status seq_rl_ac_load(seq_rl_ac *ag, const char *path);

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper
 * =================================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* SEQ_RL_H */

#ifdef SEQ_RL_IMPLEMENTATION
#ifndef SEQ_RL_IMPLEMENTATION_DONE
#define SEQ_RL_IMPLEMENTATION_DONE

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ===================================================================================
 * 1  save files (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 2  multi-armed bandits (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 4  off-policy evaluation (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 5  environments (implementation)
 * =================================================================================== */

/* The allocator macros, as seq.h's implementation defines them, for a translation unit
 * that implements seq_rl.h without seq.h. */
#include <stdlib.h>
#if !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#endif

/* Each dynamics function below is Gymnasium's step() written operation for operation in
 * the same order (Python evaluates left to right; parentheses as in the source), so that
 * without FMA contraction every rounding matches. Constants are spelled as Gymnasium
 * computes them (e.g. 12 * 2 * pi / 360), not simplified. */

#define SEQ_RL__PI 3.141592653589793

/* Python's x**2 is libm's pow(x, 2), which glibc rounds within 0.52 ulp, not always to
 * x*x; GCC would fold a literal pow(x, 2.0) into x*x, so the exponent is opaque. */
static double seq_rl__sq(double x) {
    volatile double two = 2.0;
    return pow(x, two);
}

static const int seq_rl__obs_dims[SEQ_RL_ENV_KIND_COUNT] = {4, 2, 6, 3, 2};
static const int seq_rl__n_actions[SEQ_RL_ENV_KIND_COUNT] = {2, 3, 3, 0, 4};
static const int seq_rl__limits[SEQ_RL_ENV_KIND_COUNT] = {500, 200, 500, 200, 100};
static const double seq_rl__thresholds[SEQ_RL_ENV_KIND_COUNT] = {475.0, -110.0, -100.0, -200.0, 1.0};

/* CartPole-v1: Euler integration of the Barto-Sutton-Anderson cart-pole. */
static int seq_rl__cartpole_step(double *s, int64_t action) {
    const double gravity = 9.8, masscart = 1.0, masspole = 0.1, total_mass = masspole + masscart;
    const double length = 0.5, polemass_length = masspole * length, force_mag = 10.0, tau = 0.02;
    const double theta_threshold = 12 * 2 * SEQ_RL__PI / 360, x_threshold = 2.4;
    double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    double force = action == 1 ? force_mag : -force_mag;
    double costheta = cos(theta), sintheta = sin(theta);
    double temp = (force + polemass_length * seq_rl__sq(theta_dot) * sintheta) / total_mass;
    double thetaacc = (gravity * sintheta - costheta * temp) /
                      (length * (4.0 / 3.0 - masspole * seq_rl__sq(costheta) / total_mass));
    double xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    x = x + tau * x_dot;
    x_dot = x_dot + tau * xacc;
    theta = theta + tau * theta_dot;
    theta_dot = theta_dot + tau * thetaacc;
    s[0] = x, s[1] = x_dot, s[2] = theta, s[3] = theta_dot;
    return x < -x_threshold || x > x_threshold || theta < -theta_threshold || theta > theta_threshold;
}

static double seq_rl__clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* MountainCar-v0. */
static int seq_rl__mountaincar_step(double *s, int64_t action) {
    const double min_position = -1.2, max_position = 0.6, max_speed = 0.07, goal_position = 0.5;
    const double goal_velocity = 0, force = 0.001, gravity = 0.0025;
    double position = s[0], velocity = s[1];
    velocity = velocity + ((double)(action - 1) * force + cos(3 * position) * (-gravity));
    velocity = seq_rl__clip(velocity, -max_speed, max_speed);
    position = position + velocity;
    position = seq_rl__clip(position, min_position, max_position);
    if (position == min_position && velocity < 0) velocity = 0;
    s[0] = position, s[1] = velocity;
    return position >= goal_position && velocity >= goal_velocity;
}

/* Acrobot's _dsdt, "book" dynamics: y = (theta1, theta2, dtheta1, dtheta2), torque a. */
static void seq_rl__acrobot_dsdt(const double *y, double a, double *dy) {
    const double m1 = 1.0, m2 = 1.0, l1 = 1.0, lc1 = 0.5, lc2 = 0.5, I1 = 1.0, I2 = 1.0, g = 9.8;
    double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
    double d1 = m1 * seq_rl__sq(lc1) + m2 * (seq_rl__sq(l1) + seq_rl__sq(lc2) + 2 * l1 * lc2 * cos(theta2)) + I1 + I2;
    double d2 = m2 * (seq_rl__sq(lc2) + l1 * lc2 * cos(theta2)) + I2;
    double phi2 = m2 * lc2 * g * cos(theta1 + theta2 - SEQ_RL__PI / 2.0);
    double phi1 = -m2 * l1 * lc2 * seq_rl__sq(dtheta2) * sin(theta2) -
                  2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2) +
                  (m1 * lc1 + m2 * l1) * g * cos(theta1 - SEQ_RL__PI / 2) + phi2;
    double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * seq_rl__sq(dtheta1) * sin(theta2) - phi2) /
                      (m2 * seq_rl__sq(lc2) + I2 - seq_rl__sq(d2) / d1);
    double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    dy[0] = dtheta1, dy[1] = dtheta2, dy[2] = ddtheta1, dy[3] = ddtheta2;
}

/* Gymnasium's wrap(): shift by whole turns into [m, M]. */
static double seq_rl__wrap(double x, double m, double M) {
    double diff = M - m;
    while (x > M) x = x - diff;
    while (x < m) x = x + diff;
    return x;
}

/* Acrobot-v1: one classic RK4 step over [0, dt] (Gymnasium's rk4 with t = [0, dt]). */
static int seq_rl__acrobot_step(double *s, int64_t action) {
    const double dt = 0.2, dt2 = dt / 2.0, max_vel_1 = 4 * SEQ_RL__PI, max_vel_2 = 9 * SEQ_RL__PI;
    const double torques[3] = {-1.0, 0.0, 1.0};
    double a = torques[action], k1[4], k2[4], k3[4], k4[4], y[4];
    int i;
    seq_rl__acrobot_dsdt(s, a, k1);
    for (i = 0; i < 4; i++) y[i] = s[i] + dt2 * k1[i];
    seq_rl__acrobot_dsdt(y, a, k2);
    for (i = 0; i < 4; i++) y[i] = s[i] + dt2 * k2[i];
    seq_rl__acrobot_dsdt(y, a, k3);
    for (i = 0; i < 4; i++) y[i] = s[i] + dt * k3[i];
    seq_rl__acrobot_dsdt(y, a, k4);
    for (i = 0; i < 4; i++) s[i] = s[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    s[0] = seq_rl__wrap(s[0], -SEQ_RL__PI, SEQ_RL__PI);
    s[1] = seq_rl__wrap(s[1], -SEQ_RL__PI, SEQ_RL__PI);
    s[2] = seq_rl__clip(s[2], -max_vel_1, max_vel_1);
    s[3] = seq_rl__clip(s[3], -max_vel_2, max_vel_2);
    return -cos(s[0]) - cos(s[1] + s[0]) > 1.0;
}

/* NumPy's float remainder: the result takes the divisor's sign. */
static double seq_rl__angle_normalize(double x) {
    double m = fmod(x + SEQ_RL__PI, 2 * SEQ_RL__PI);
    if (m < 0) m += 2 * SEQ_RL__PI;
    if (m == 0) m = 0.0; /* NumPy returns +0 where fmod gives -0 */
    return m - SEQ_RL__PI;
}

/* Pendulum-v1 (g = 10): the torque u is clipped in float32, then used as a float64
 * (NumPy 1.x promotes float32 ** 2 and float * float32 to float64). */
static double seq_rl__pendulum_step(double *s, float action) {
    const double max_speed = 8, g = 10.0, m = 1.0, l = 1.0, dt = 0.05;
    double th = s[0], thdot = s[1], an = seq_rl__angle_normalize(th), newthdot;
    double u = action < -2.0f ? -2.0f : action > 2.0f ? 2.0f : action;
    double costs = seq_rl__sq(an) + 0.1 * seq_rl__sq(thdot) + 0.001 * seq_rl__sq(u);
    newthdot = thdot + (3 * g / (2 * l) * sin(th) + 3.0 / (m * seq_rl__sq(l)) * u) * dt;
    newthdot = seq_rl__clip(newthdot, -max_speed, max_speed);
    s[0] = th + newthdot * dt;
    s[1] = newthdot;
    return -costs;
}

/* Gridworld: returns the reward; *end set when the new cell is a goal or pit. */
static double seq_rl__grid_step(seq_rl_env *e, int64_t action, int *end) {
    static const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
    const seq_rl_gridworld_config *c = &e->grid_cfg;
    int r = e->grid_pos / e->grid_w, col = e->grid_pos % e->grid_w, a = (int)action;
    char cell;
    if (c->slip > 0 && seq_rng_double(&e->rng) < (double)c->slip) a = (int)seq_rng_below(&e->rng, 4);
    r += dr[a], col += dc[a];
    if (r >= 0 && r < e->grid_h && col >= 0 && col < e->grid_w && e->grid[r * e->grid_w + col] != '#')
        e->grid_pos = r * e->grid_w + col;
    cell = e->grid[e->grid_pos];
    *end = cell == 'G' || cell == 'X';
    return cell == 'G' ? c->goal_reward : cell == 'X' ? c->pit_reward : c->step_reward;
}

SEQDEF void seq_rl_env_observe(const seq_rl_env *e, float *obs) {
    const double *s = e->state;
    switch (e->kind) {
    case SEQ_RL_ENV_CARTPOLE:
        if (e->hide_velocity) {
            obs[0] = (float)s[0], obs[1] = (float)s[2];
        } else {
            obs[0] = (float)s[0], obs[1] = (float)s[1], obs[2] = (float)s[2], obs[3] = (float)s[3];
        }
        break;
    case SEQ_RL_ENV_MOUNTAINCAR: obs[0] = (float)s[0], obs[1] = (float)s[1]; break;
    case SEQ_RL_ENV_ACROBOT:
        obs[0] = (float)cos(s[0]), obs[1] = (float)sin(s[0]), obs[2] = (float)cos(s[1]);
        obs[3] = (float)sin(s[1]), obs[4] = (float)s[2], obs[5] = (float)s[3];
        break;
    case SEQ_RL_ENV_PENDULUM: obs[0] = (float)cos(s[0]), obs[1] = (float)sin(s[0]), obs[2] = (float)s[1]; break;
    default:
        obs[0] = e->grid_h > 1 ? (float)(e->grid_pos / e->grid_w) / (float)(e->grid_h - 1) : 0.0f;
        obs[1] = e->grid_w > 1 ? (float)(e->grid_pos % e->grid_w) / (float)(e->grid_w - 1) : 0.0f;
        break;
    }
}

/* x rounded to float32. Through a volatile: GCC 12 at -O3 -march=native drops a plain
 * (double)(float) round trip here. */
static double seq_rl__to_f32(double x) {
    volatile float f = (float)x;
    return (double)f;
}

static void seq_rl__env_begin(seq_rl_env *e, float *obs) {
    e->t = 0;
    e->needs_reset = 0;
    if (obs) seq_rl_env_observe(e, obs);
}

static void seq_rl__env_setup(seq_rl_env *e, seq_rl_env_kind kind, uint64_t seed) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->obs_dim = seq_rl__obs_dims[kind];
    e->n_actions = seq_rl__n_actions[kind];
    e->max_steps = seq_rl__limits[kind];
    e->reward_threshold = seq_rl__thresholds[kind];
    if (kind == SEQ_RL_ENV_PENDULUM) e->act_dim = 1, e->act_low = -2.0f, e->act_high = 2.0f;
    seq_rng_seed(&e->rng, seed);
}

SEQDEF seq_status seq_rl_env_init(seq_rl_env *e, seq_rl_env_kind kind, uint64_t seed) {
    if (!e || (int)kind < 0 || kind >= SEQ_RL_ENV_GRIDWORLD)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_init: %s", e ? "unknown kind (gridworld: seq_rl_gridworld_init)" : "env is NULL");
    seq_rl__env_setup(e, kind, seed);
    return seq_rl_env_reset(e, NULL);
}

SEQDEF seq_rl_gridworld_config seq_rl_gridworld_config_default(void) {
    seq_rl_gridworld_config c;
    c.step_reward = -0.01f, c.goal_reward = 1.0f, c.pit_reward = -1.0f, c.slip = 0.0f, c.max_steps = 100;
    return c;
}

SEQDEF seq_status seq_rl_gridworld_init(seq_rl_env *e, const char *map, seq_rl_gridworld_config cfg, uint64_t seed) {
    int w = 0, h = 0, col = 0, starts = 0, start = 0, r;
    char cells[SEQ_RL_GRID_MAX * SEQ_RL_GRID_MAX]; /* row stride SEQ_RL_GRID_MAX until w is known */
    const char *p;
    if (!e || !map) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gridworld_init: NULL argument");
    if (!(cfg.slip >= 0 && cfg.slip <= 1) || cfg.max_steps < 1 || !isfinite(cfg.step_reward) ||
        !isfinite(cfg.goal_reward) || !isfinite(cfg.pit_reward))
        return seq_set_error(SEQ_ERR_INVALID,
                             "seq_rl_gridworld_init: slip outside [0,1], max_steps < 1 or a non-finite reward");
    for (p = map;; p++) {
        if (*p == '\n' || *p == 0) {
            if (col == 0 && *p == 0) break; /* the end, or a trailing newline */
            if (col == 0 || (h > 0 && col != w))
                return seq_set_error(SEQ_ERR_FORMAT, "seq_rl_gridworld_init: row %d has %d cells, expected %d", h, col, w);
            w = col, h++, col = 0;
            if (*p == 0) break;
            continue;
        }
        if (!strchr(".#SGX", *p) || col >= SEQ_RL_GRID_MAX || h >= SEQ_RL_GRID_MAX)
            return seq_set_error(SEQ_ERR_FORMAT, "seq_rl_gridworld_init: unknown cell '%c' or a map over %d x %d",
                                 *p, SEQ_RL_GRID_MAX, SEQ_RL_GRID_MAX);
        if (*p == 'S') starts++, start = h * SEQ_RL_GRID_MAX + col;
        cells[h * SEQ_RL_GRID_MAX + col++] = *p;
    }
    if (starts != 1)
        return seq_set_error(SEQ_ERR_FORMAT, "seq_rl_gridworld_init: the map needs exactly one 'S' (found %d)", starts);
    seq_rl__env_setup(e, SEQ_RL_ENV_GRIDWORLD, seed);
    for (r = 0; r < h; r++) memcpy(e->grid + r * w, cells + r * SEQ_RL_GRID_MAX, (size_t)w);
    e->grid_w = w, e->grid_h = h, e->grid_cfg = cfg;
    e->grid_start = start / SEQ_RL_GRID_MAX * w + start % SEQ_RL_GRID_MAX;
    e->max_steps = cfg.max_steps;
    e->reward_threshold = cfg.goal_reward;
    return seq_rl_env_reset(e, NULL);
}

SEQDEF seq_status seq_rl_env_hide_velocity(seq_rl_env *e) {
    if (!e || e->kind != SEQ_RL_ENV_CARTPOLE)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_hide_velocity: CartPole only");
    e->hide_velocity = 1;
    e->obs_dim = 2;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_env_reset(seq_rl_env *e, float *obs) {
    double *s;
    if (!e) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_reset: env is NULL");
    s = e->state;
    switch (e->kind) {
    case SEQ_RL_ENV_CARTPOLE:
        for (int i = 0; i < 4; i++) s[i] = seq_rng_uniform(&e->rng, -0.05, 0.05);
        break;
    case SEQ_RL_ENV_MOUNTAINCAR: s[0] = seq_rng_uniform(&e->rng, -0.6, -0.4), s[1] = 0; break;
    case SEQ_RL_ENV_ACROBOT: /* Gymnasium draws float64 and keeps float32 */
        for (int i = 0; i < 4; i++) s[i] = seq_rl__to_f32(seq_rng_uniform(&e->rng, -0.1, 0.1));
        break;
    case SEQ_RL_ENV_PENDULUM:
        s[0] = seq_rng_uniform(&e->rng, -SEQ_RL__PI, SEQ_RL__PI), s[1] = seq_rng_uniform(&e->rng, -1.0, 1.0);
        break;
    default: e->grid_pos = e->grid_start; break;
    }
    seq_rl__env_begin(e, obs);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_env_set_state(seq_rl_env *e, const double *state, float *obs) {
    static const int dims[SEQ_RL_ENV_KIND_COUNT] = {4, 2, 4, 2, 1};
    int i;
    if (!e || !state) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_set_state: NULL argument");
    for (i = 0; i < dims[e->kind]; i++)
        if (!isfinite(state[i])) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_set_state: state[%d] is not finite", i);
    if (e->kind == SEQ_RL_ENV_GRIDWORLD) {
        int64_t cell = (int64_t)state[0];
        if (state[0] != (double)cell || cell < 0 || cell >= (int64_t)e->grid_w * e->grid_h || e->grid[cell] == '#')
            return seq_set_error(SEQ_ERR_RANGE, "seq_rl_env_set_state: %g is not a free cell", state[0]);
        e->grid_pos = (int)cell;
    } else {
        for (i = 0; i < dims[e->kind]; i++) e->state[i] = state[i];
    }
    seq_rl__env_begin(e, obs);
    return SEQ_OK;
}

/* Advances a validated env by one step (the action already checked). */
static void seq_rl__env_advance(seq_rl_env *e, int64_t action, float u, float *obs, seq_rl_step *out) {
    int end = 0;
    double r = -1.0;
    switch (e->kind) {
    case SEQ_RL_ENV_CARTPOLE: end = seq_rl__cartpole_step(e->state, action), r = 1.0; break;
    case SEQ_RL_ENV_MOUNTAINCAR: end = seq_rl__mountaincar_step(e->state, action); break;
    case SEQ_RL_ENV_ACROBOT: end = seq_rl__acrobot_step(e->state, action), r = end ? 0.0 : -1.0; break;
    case SEQ_RL_ENV_PENDULUM: r = seq_rl__pendulum_step(e->state, u); break;
    default: r = seq_rl__grid_step(e, action, &end); break;
    }
    e->t++;
    out->reward = r;
    out->terminated = end;
    out->truncated = e->t >= e->max_steps; /* TimeLimit: may coincide with termination */
    e->needs_reset = out->terminated || out->truncated;
    if (obs) seq_rl_env_observe(e, obs);
}

static seq_status seq_rl__env_check(const seq_rl_env *e, const char *fn, int continuous) {
    if (!e) return seq_set_error(SEQ_ERR_INVALID, "%s: env is NULL", fn);
    if (continuous != (e->n_actions == 0))
        return seq_set_error(SEQ_ERR_INVALID, "%s: this env takes %s actions", fn, continuous ? "discrete" : "continuous");
    if (e->needs_reset) return seq_set_error(SEQ_ERR_STATE, "%s: the episode ended; reset first", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_env_step(seq_rl_env *e, int64_t action, float *obs, seq_rl_step *out) {
    seq_rl_step tmp;
    seq_status st = seq_rl__env_check(e, "seq_rl_env_step", 0);
    if (st != SEQ_OK) return st;
    if (action < 0 || action >= e->n_actions)
        return seq_set_error(SEQ_ERR_RANGE, "seq_rl_env_step: action %lld outside [0,%d)", (long long)action, e->n_actions);
    seq_rl__env_advance(e, action, 0.0f, obs, out ? out : &tmp);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_env_step_continuous(seq_rl_env *e, const float *action, float *obs, seq_rl_step *out) {
    seq_rl_step tmp;
    seq_status st = seq_rl__env_check(e, "seq_rl_env_step_continuous", 1);
    if (st != SEQ_OK) return st;
    if (!action || isnan(action[0]))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_env_step_continuous: action is NULL or NaN");
    seq_rl__env_advance(e, 0, action[0], obs, out ? out : &tmp);
    return SEQ_OK;
}

SEQDEF int64_t seq_rl_env_state_id(const seq_rl_env *e) {
    return e && e->kind == SEQ_RL_ENV_GRIDWORLD ? e->grid_pos : -1;
}

SEQDEF int64_t seq_rl_env_num_states(const seq_rl_env *e) {
    return e && e->kind == SEQ_RL_ENV_GRIDWORLD ? (int64_t)e->grid_w * e->grid_h : 0;
}

SEQDEF void seq_rl_vec_env_free(seq_rl_vec_env *v) {
    if (!v) return;
    SEQ_FREE(v->alloc_ud, v->envs);
    SEQ_FREE(v->alloc_ud, v->obs);
    SEQ_FREE(v->alloc_ud, v->final_obs);
    SEQ_FREE(v->alloc_ud, v->rewards);
    SEQ_FREE(v->alloc_ud, v->terminated);
    SEQ_FREE(v->alloc_ud, v->truncated);
    SEQ_FREE(v->alloc_ud, v->ep_return);
    SEQ_FREE(v->alloc_ud, v->ep_length);
    SEQ_FREE(v->alloc_ud, v->done_return);
    SEQ_FREE(v->alloc_ud, v->done_length);
    memset(v, 0, sizeof *v);
}

SEQDEF seq_status seq_rl_vec_env_init(seq_rl_vec_env *v, const seq_rl_env *proto, int64_t n, uint64_t seed,
                                      void *alloc_ud) {
    seq_rng r;
    int64_t i;
    size_t no;
    if (!v || !proto || n < 1) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_init: NULL argument or n < 1");
    memset(v, 0, sizeof *v);
    v->alloc_ud = alloc_ud;
    v->n = n, v->obs_dim = proto->obs_dim, v->n_actions = proto->n_actions, v->act_dim = proto->act_dim;
    no = (size_t)n * (size_t)proto->obs_dim * sizeof(float);
    v->envs = (seq_rl_env *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(seq_rl_env));
    v->obs = (float *)SEQ_MALLOC(alloc_ud, no);
    v->final_obs = (float *)SEQ_MALLOC(alloc_ud, no);
    v->rewards = (float *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(float));
    v->terminated = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)n);
    v->truncated = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)n);
    v->ep_return = (double *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(double));
    v->ep_length = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(int64_t));
    v->done_return = (double *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(double));
    v->done_length = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(int64_t));
    if (!v->envs || !v->obs || !v->final_obs || !v->rewards || !v->terminated || !v->truncated || !v->ep_return ||
        !v->ep_length || !v->done_return || !v->done_length) {
        seq_rl_vec_env_free(v);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_vec_env_init: out of memory for %lld envs", (long long)n);
    }
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) {
        seq_rl_env *e = &v->envs[i];
        *e = *proto;
        e->rng = r;
        seq_rng_jump(&r);
        seq_rl_env_reset(e, v->obs + i * v->obs_dim);
        v->ep_return[i] = 0, v->ep_length[i] = 0, v->done_return[i] = 0, v->done_length[i] = 0;
        v->rewards[i] = 0, v->terminated[i] = 0, v->truncated[i] = 0;
    }
    memcpy(v->final_obs, v->obs, no);
    return SEQ_OK;
}

/* Steps env i (action checked), records its outcome, auto-resets when it ended. */
static void seq_rl__vec_advance(seq_rl_vec_env *v, int64_t i, int64_t action, float u) {
    seq_rl_step st;
    float *o = v->obs + i * v->obs_dim;
    seq_rl__env_advance(&v->envs[i], action, u, o, &st);
    v->rewards[i] = (float)st.reward;
    v->terminated[i] = (uint8_t)st.terminated, v->truncated[i] = (uint8_t)st.truncated;
    v->ep_return[i] += st.reward;
    v->ep_length[i]++;
    if (st.terminated || st.truncated) {
        memcpy(v->final_obs + i * v->obs_dim, o, (size_t)v->obs_dim * sizeof(float));
        v->done_return[i] = v->ep_return[i], v->done_length[i] = v->ep_length[i];
        v->ep_return[i] = 0, v->ep_length[i] = 0;
        v->episodes++;
        seq_rl_env_reset(&v->envs[i], o);
    }
}

SEQDEF seq_status seq_rl_vec_env_step(seq_rl_vec_env *v, const int32_t *actions) {
    int64_t i;
    if (!v || !actions || v->n_actions == 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_step: NULL argument or continuous env");
    for (i = 0; i < v->n; i++)
        if (actions[i] < 0 || actions[i] >= v->n_actions)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rl_vec_env_step: actions[%lld] = %d outside [0,%d)", (long long)i,
                                 (int)actions[i], v->n_actions);
    for (i = 0; i < v->n; i++) seq_rl__vec_advance(v, i, actions[i], 0.0f);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_vec_env_step_continuous(seq_rl_vec_env *v, const float *actions) {
    int64_t i;
    if (!v || !actions || v->n_actions != 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_step_continuous: NULL argument or discrete env");
    for (i = 0; i < v->n * v->act_dim; i++)
        if (isnan(actions[i]))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_step_continuous: actions[%lld] is NaN", (long long)i);
    for (i = 0; i < v->n; i++) seq_rl__vec_advance(v, i, 0, actions[i * v->act_dim]);
    return SEQ_OK;
}

/* ===================================================================================
 * 6  replay buffers (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN (implementation)
 * =================================================================================== */

SEQDEF seq_status seq_rl_mlp_init(seq_rl_mlp *m, seq_params *P, const char *prefix, int n_layers,
                                  const int64_t *sizes, seq_rl_activation act, float out_gain) {
    char name[128];
    int k;
    if (!m || !P || !prefix || !sizes || n_layers < 1 || n_layers > SEQ_RL_MLP_MAX_LAYERS || (int)act < 0 ||
        act >= SEQ_RL_ACTIVATION_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_mlp_init: NULL argument, layers outside [1,%d] or bad activation",
                             SEQ_RL_MLP_MAX_LAYERS);
    memset(m, 0, sizeof *m);
    m->n_layers = n_layers, m->act = act;
    for (k = 0; k <= n_layers; k++) {
        if (sizes[k] < 1) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_mlp_init: sizes[%d] = %lld", k, (long long)sizes[k]);
        m->sizes[k] = sizes[k];
    }
    for (k = 0; k < n_layers; k++) {
        int64_t wshape[2];
        wshape[0] = sizes[k + 1], wshape[1] = sizes[k];
        snprintf(name, sizeof name, "%s.%d.weight", prefix, k);
        m->W[k] = seq_params_add(P, name, 2, wshape, seq_init_orthogonal(k + 1 < n_layers ? sqrtf(2.0f) : out_gain));
        snprintf(name, sizeof name, "%s.%d.bias", prefix, k);
        m->b[k] = seq_params_add(P, name, 1, wshape, seq_init_zeros());
        if (!m->W[k] || !m->b[k]) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_mlp_init: cannot register %s", name);
    }
    return SEQ_OK;
}

SEQDEF seq_tensor *seq_rl_mlp_forward(seq_ctx *ctx, const seq_rl_mlp *m, seq_tensor *x) {
    int k;
    for (k = 0; k < m->n_layers; k++) {
        x = seq_linear(ctx, x, m->W[k], m->b[k]);
        if (k + 1 < m->n_layers) x = m->act == SEQ_RL_TANH ? seq_tanh(ctx, x) : seq_relu(ctx, x);
    }
    return x;
}

SEQDEF int64_t seq_rl_mlp_work_size(const seq_rl_mlp *m, int64_t n) {
    int64_t w = 0;
    int k;
    for (k = 0; k <= m->n_layers; k++) w = m->sizes[k] > w ? m->sizes[k] : w;
    return 2 * n * w;
}

SEQDEF void seq_rl_mlp_infer(const seq_rl_mlp *m, const float *x, int64_t n, float *y, float *work) {
    const float *in = x;
    float *bufs[2];
    int k;
    bufs[0] = work, bufs[1] = work + seq_rl_mlp_work_size(m, n) / 2;
    for (k = 0; k < m->n_layers; k++) {
        int64_t din = m->sizes[k], dout = m->sizes[k + 1], i, j;
        float *out = k + 1 == m->n_layers ? y : bufs[k & 1];
        for (i = 0; i < n; i++) memcpy(out + i * dout, m->b[k]->data, (size_t)dout * sizeof(float));
        seq_sgemm(0, 1, n, dout, din, 1.0f, in, din, m->W[k]->data, din, 1.0f, out, dout);
        if (k + 1 < m->n_layers)
            for (j = 0; j < n * dout; j++) out[j] = m->act == SEQ_RL_TANH ? tanhf(out[j]) : (out[j] > 0 ? out[j] : 0.0f);
        in = out;
    }
}

SEQDEF int64_t seq_rl_sample_softmax(const float *logits, int64_t A, seq_rng *rng, float *prob, float *logp) {
    double mx = logits[0], z = 0, u, c = 0;
    int64_t a;
    for (a = 1; a < A; a++) mx = logits[a] > mx ? logits[a] : mx;
    for (a = 0; a < A; a++) z += exp((double)logits[a] - mx);
    u = seq_rng_double(rng) * z;
    for (a = 0; a < A - 1; a++) {
        c += exp((double)logits[a] - mx);
        if (u < c) break;
    }
    if (prob) *prob = (float)(exp((double)logits[a] - mx) / z);
    if (logp) *logp = (float)((double)logits[a] - mx - log(z));
    return a;
}

/* ===================================================================================
 * 9  policy-gradient agents (implementation)
 * =================================================================================== */

SEQDEF seq_rl_pg_config seq_rl_pg_config_default(void) {
    seq_rl_pg_config c;
    c.clip = 0.2f, c.vf_clip = 0.2f, c.ent_coef = 0.01f, c.vf_coef = 0.5f, c.kl_coef = 0.0f;
    return c;
}

/* What the backward needs: softmax rows, per-row d loss / d logp and d loss / d V. */
typedef struct seq_rl__pg_saved {
    int64_t N, A;
    float *p, *lp, *H; /* (N,A) probabilities and log-probabilities, (N) entropies */
    float *dlogp, *dv; /* (N), already divided by M */
    const int32_t *actions;
    const float *mask;
    int has_values;    /* in[1] exists */
    float ent_scale;   /* ent_coef / M */
} seq_rl__pg_saved;

static void seq_rl__pg_backward(seq_ctx *ctx, seq_tensor *out, seq_tensor *const *in, void *data) {
    const seq_rl__pg_saved *s = (const seq_rl__pg_saved *)data;
    float g = out->grad[0], *gl = seq_op_grad(ctx, in[0]), *gv = s->has_values ? seq_op_grad(ctx, in[1]) : NULL;
    int64_t i, j;
    for (i = 0; gl && i < s->N; i++) {
        const float *p = s->p + i * s->A, *lp = s->lp + i * s->A;
        float *gr = gl + i * s->A, ent = s->mask && s->mask[i] == 0 ? 0.0f : s->ent_scale;
        /* d logp_a / d z_j = [j == a] - p_j;  d(-H)/d z_j = p_j (lp_j + H) */
        for (j = 0; j < s->A; j++)
            gr[j] += g * (s->dlogp[i] * ((j == s->actions[i]) - p[j]) + ent * p[j] * (lp[j] + s->H[i]));
    }
    for (i = 0; gv && i < s->N; i++) gv[i] += g * s->dv[i];
}

SEQDEF seq_tensor *seq_rl_pg_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *values, const seq_rl_pg_batch *b,
                                  seq_rl_pg_config cfg, seq_rl_pg_stats *stats) {
    static const char *op = "seq_rl_pg_loss";
    seq_tensor *in[2], *out;
    seq_rl__pg_saved *s;
    int64_t N, A, i, j, shape0[1] = {1};
    double M = 0, pg = 0, vl = 0, ent = 0, akl = 0, clipped = 0, rkl = 0;
    if (!ctx || !logits || !b) {
        if (ctx) seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "logits and batch are required");
        return NULL;
    }
    if (seq_ctx_status(ctx) != SEQ_OK) return NULL;
    N = logits->ndim == 2 ? logits->shape[0] : -1, A = logits->ndim == 2 ? logits->shape[1] : 0;
    if (N < 1 || A < 1 || (values && values->numel != N)) {
        seq_ctx_fail(ctx, SEQ_ERR_SHAPE, op, "logits must be (N,A) and values (N)");
        return NULL;
    }
    if (!b->actions || !b->old_logp || !b->adv || (values && !b->returns) ||
        (values && cfg.vf_clip > 0 && !b->old_values) || (cfg.kl_coef > 0 && !b->ref_logp)) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "the batch lacks an array the config needs");
        return NULL;
    }
    for (i = 0; i < N; i++) {
        if (b->actions[i] < 0 || b->actions[i] >= A) {
            seq_ctx_fail(ctx, SEQ_ERR_RANGE, op, "actions[%lld] = %d outside [0,%lld)", (long long)i, (int)b->actions[i],
                         (long long)A);
            return NULL;
        }
        M += b->mask ? (b->mask[i] != 0) : 1;
    }
    if (M == 0) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "every row is masked out");
        return NULL;
    }
    in[0] = logits, in[1] = values;
    out = seq_op_output(ctx, op, 0, shape0, values ? 2 : 1, in);
    s = (seq_rl__pg_saved *)seq_ctx_alloc(ctx, sizeof *s);
    if (!out || !s) return NULL;
    s->N = N, s->A = A, s->actions = b->actions, s->mask = b->mask, s->has_values = values != NULL, s->ent_scale = (float)(cfg.ent_coef / M);
    s->p = (float *)seq_ctx_alloc(ctx, (size_t)(2 * N * A + 3 * N) * sizeof(float));
    if (!s->p) return NULL;
    s->lp = s->p + N * A, s->H = s->lp + N * A, s->dlogp = s->H + N, s->dv = s->dlogp + N;
    for (i = 0; i < N; i++) {
        const float *z = logits->data + i * A;
        float *p = s->p + i * A, *lp = s->lp + i * A;
        double mx = z[0], lse = 0, h = 0, w = b->mask ? (b->mask[i] != 0) : 1;
        double logp, r, adv = b->adv[i], lo = 1.0 - cfg.clip, hi = 1.0 + cfg.clip, dpg;
        for (j = 1; j < A; j++) mx = z[j] > mx ? z[j] : mx;
        for (j = 0; j < A; j++) lse += exp((double)z[j] - mx);
        lse = mx + log(lse);
        for (j = 0; j < A; j++) {
            lp[j] = (float)((double)z[j] - lse);
            p[j] = expf(lp[j]);
            h -= (double)p[j] * lp[j];
        }
        s->H[i] = (float)h;
        logp = lp[b->actions[i]];
        r = exp(logp - b->old_logp[i]);
        /* the unclipped term is the active one unless the ratio left the band in the
         * direction the advantage rewards */
        if (cfg.clip > 0 && ((adv >= 0 && r > hi) || (adv < 0 && r < lo))) {
            dpg = 0;
            pg += w * -(adv * (r > hi ? hi : lo));
        } else {
            dpg = -adv * r;
            pg += w * -(adv * r);
        }
        clipped += w * (cfg.clip > 0 && fabs(r - 1.0) > cfg.clip);
        akl += w * ((r - 1.0) - (logp - b->old_logp[i])); /* k3 of old vs new */
        ent += w * h;
        if (cfg.kl_coef > 0) {
            double q = b->ref_logp[i] - logp, eq = exp(q);
            rkl += w * (eq - q - 1.0);
            dpg += cfg.kl_coef * (1.0 - eq); /* d k3 / d logp */
        }
        s->dlogp[i] = (float)(w * dpg / M);
        s->dv[i] = 0;
        if (values) {
            double v = values->data[i], R = b->returns[i], d = v - R, l = 0.5 * d * d, dv = d;
            if (cfg.vf_clip > 0) {
                double old = b->old_values[i], c = v - old;
                double vc = old + (c < -cfg.vf_clip ? -cfg.vf_clip : c > cfg.vf_clip ? cfg.vf_clip : c);
                double lc = 0.5 * (vc - R) * (vc - R);
                if (lc > l) l = lc, dv = fabs(c) < cfg.vf_clip ? vc - R : 0.0;
            }
            vl += w * l;
            s->dv[i] = (float)(w * cfg.vf_coef * dv / M);
        }
    }
    out->data[0] = (float)((pg + cfg.kl_coef * rkl - cfg.ent_coef * ent + cfg.vf_coef * vl) / M);
    if (stats) {
        stats->pg_loss = (float)(pg / M), stats->v_loss = (float)(vl / M), stats->entropy = (float)(ent / M);
        stats->approx_kl = (float)(akl / M), stats->clipfrac = (float)(clipped / M), stats->ref_kl = (float)(rkl / M);
    }
    seq_op_record(ctx, op, out, seq_rl__pg_backward, values ? 2 : 1, in, s);
    return out;
}

SEQDEF seq_rl_ac_config seq_rl_ac_config_default(seq_rl_pg_algo algo) {
    seq_rl_ac_config c;
    memset(&c, 0, sizeof c);
    c.algo = algo;
    c.gamma = 0.99f, c.max_grad_norm = 0.5f, c.anneal_lr = 1, c.total_steps = 500000, c.hidden = 64;
    c.loss = seq_rl_pg_config_default();
    c.epochs = 1, c.minibatches = 1, c.gae_lambda = 1.0f, c.norm_adv = 0;
    c.loss.clip = 0, c.loss.vf_clip = 0;
    if (algo == SEQ_RL_PPO) {
        c.n_steps = 128, c.epochs = 4, c.minibatches = 4, c.gae_lambda = 0.95f, c.lr = 2.5e-3f, c.norm_adv = 1;
        c.loss = seq_rl_pg_config_default();
    } else if (algo == SEQ_RL_A2C) {
        c.n_steps = 5, c.lr = 7e-4f;
    } else {
        c.n_steps = 500, c.lr = 1e-3f;
    }
    return c;
}

SEQDEF void seq_rl_ac_free(seq_rl_ac *ag) {
    if (!ag) return;
    seq_ctx_free(ag->ctx);
    seq_adamw_free(&ag->opt);
    seq_params_free(ag->P);
    SEQ_FREE(ag->alloc_ud, ag->obs);
    SEQ_FREE(ag->alloc_ud, ag->actions);
    SEQ_FREE(ag->alloc_ud, ag->dones);
    SEQ_FREE(ag->alloc_ud, ag->perm);
    SEQ_FREE(ag->alloc_ud, ag);
}

SEQDEF seq_rl_ac *seq_rl_ac_init(seq_rl_ac_config cfg, int64_t obs_dim, int64_t n_actions, int64_t n_envs,
                                 uint64_t seed, void *alloc_ud) {
    seq_rl_ac *ag;
    int64_t sa[4], sc[4], B = cfg.n_steps * n_envs, nw;
    seq_adamw_config oc = seq_adamw_config_default();
    if (obs_dim < 1 || n_actions < 1 || n_envs < 1 || cfg.n_steps < 1 || cfg.epochs < 1 || cfg.minibatches < 1 ||
        cfg.minibatches > B || cfg.hidden < 1 || !(cfg.lr > 0) || !(cfg.gamma >= 0 && cfg.gamma <= 1) ||
        !(cfg.gae_lambda >= 0 && cfg.gae_lambda <= 1) || (int)cfg.algo < 0 || cfg.algo >= SEQ_RL_PG_ALGO_COUNT) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_init: a size < 1, minibatches > batch, or gamma, lambda, lr out of range");
        return NULL;
    }
    ag = (seq_rl_ac *)SEQ_MALLOC(alloc_ud, sizeof *ag);
    if (!ag) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_rl_ac_init: out of memory");
        return NULL;
    }
    memset(ag, 0, sizeof *ag);
    ag->cfg = cfg, ag->obs_dim = obs_dim, ag->n_actions = n_actions, ag->n_envs = n_envs, ag->alloc_ud = alloc_ud;
    seq_rng_seed(&ag->rng, seed);
    sa[0] = sc[0] = obs_dim, sa[1] = sa[2] = sc[1] = sc[2] = cfg.hidden, sa[3] = n_actions, sc[3] = 1;
    ag->P = seq_params_init(alloc_ud);
    ag->ctx = seq_ctx_init(alloc_ud);
    if (!ag->P || !ag->ctx || seq_rl_mlp_init(&ag->actor, ag->P, "actor", 3, sa, SEQ_RL_TANH, 0.01f) != SEQ_OK ||
        seq_rl_mlp_init(&ag->critic, ag->P, "critic", 3, sc, SEQ_RL_TANH, 1.0f) != SEQ_OK ||
        seq_params_alloc(ag->P, &ag->rng) != SEQ_OK)
        goto fail;
    oc.eps = 1e-5f, oc.weight_decay = 0.0f, oc.decoupled = 0;
    if (seq_adamw_init(&ag->opt, ag->P, oc) != SEQ_OK) goto fail;
    /* one float block: obs | logp rewards values adv returns | next_value | work */
    nw = seq_rl_mlp_work_size(&ag->actor, n_envs > B ? n_envs : B) + n_actions * B;
    ag->obs = (float *)SEQ_MALLOC(alloc_ud, (size_t)(B * obs_dim + 5 * B + n_envs + nw) * sizeof(float));
    ag->actions = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)B * sizeof(int32_t));
    ag->dones = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)B);
    ag->perm = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)B * sizeof(int64_t));
    if (!ag->obs || !ag->actions || !ag->dones || !ag->perm) goto fail;
    ag->logp = ag->obs + B * obs_dim, ag->rewards = ag->logp + B, ag->values = ag->rewards + B;
    ag->adv = ag->values + B, ag->returns = ag->adv + B, ag->next_value = ag->returns + B;
    ag->work = ag->next_value + n_envs;
    return ag;
fail:
    if (seq_last_status() == SEQ_OK) seq_set_error(SEQ_ERR_NOMEM, "seq_rl_ac_init: out of memory");
    seq_rl_ac_free(ag);
    return NULL;
}

/* V(obs) for n observations. */
static void seq_rl__ac_values(seq_rl_ac *ag, const float *obs, int64_t n, float *v) {
    seq_rl_mlp_infer(&ag->critic, obs, n, v, ag->work);
}

static void seq_rl__ac_record_episode(seq_rl_ac *ag, double ret) {
    ag->recent[ag->n_recent % 100] = ret;
    ag->n_recent++;
}

/* Collects n_steps x n_envs transitions. Truncation folds gamma V(final obs) into the
 * reward, so afterwards every done step is treated alike: no bootstrap across it. */
static seq_status seq_rl__ac_collect(seq_rl_ac *ag, seq_rl_vec_env *v) {
    int64_t t, i, N = ag->n_envs, D = ag->obs_dim, A = ag->n_actions;
    float *logits = ag->work + seq_rl_mlp_work_size(&ag->actor, ag->cfg.n_steps * N);
    for (t = 0; t < ag->cfg.n_steps; t++) {
        float *o = ag->obs + t * N * D, *lp = ag->logp + t * N, *val = ag->values + t * N;
        int32_t *act = ag->actions + t * N;
        seq_status st;
        memcpy(o, v->obs, (size_t)(N * D) * sizeof(float));
        seq_rl_mlp_infer(&ag->actor, o, N, logits, ag->work);
        seq_rl__ac_values(ag, o, N, val);
        for (i = 0; i < N; i++) act[i] = (int32_t)seq_rl_sample_softmax(logits + i * A, A, &ag->rng, NULL, &lp[i]);
        st = seq_rl_vec_env_step(v, act);
        if (st != SEQ_OK) return st;
        for (i = 0; i < N; i++) {
            float r = v->rewards[i];
            ag->dones[t * N + i] = v->terminated[i] || v->truncated[i];
            if (v->truncated[i] && !v->terminated[i]) {
                float vf;
                seq_rl__ac_values(ag, v->final_obs + i * D, 1, &vf);
                r += ag->cfg.gamma * vf;
            }
            ag->rewards[t * N + i] = r;
            if (ag->dones[t * N + i]) seq_rl__ac_record_episode(ag, v->done_return[i]);
        }
    }
    seq_rl__ac_values(ag, v->obs, N, ag->next_value);
    ag->steps += ag->cfg.n_steps * N;
    return SEQ_OK;
}

/* GAE(gamma, lambda) backwards through the rollout; returns = adv + V. */
static void seq_rl__ac_gae(seq_rl_ac *ag) {
    int64_t t, i, N = ag->n_envs, T = ag->cfg.n_steps;
    for (i = 0; i < N; i++) {
        double last = 0;
        for (t = T - 1; t >= 0; t--) {
            int64_t k = t * N + i;
            double nonterm = 1.0 - ag->dones[k];
            double next_v = t + 1 < T ? ag->values[k + N] : ag->next_value[i];
            double delta = ag->rewards[k] + ag->cfg.gamma * next_v * nonterm - ag->values[k];
            last = delta + ag->cfg.gamma * ag->cfg.gae_lambda * nonterm * last;
            ag->adv[k] = (float)last;
            ag->returns[k] = (float)(last + ag->values[k]);
        }
    }
}

/* One gradient step on the rows idx[0..n). */
static seq_status seq_rl__ac_minibatch(seq_rl_ac *ag, const int64_t *idx, int64_t n, float lr) {
    seq_ctx *ctx = ag->ctx;
    int64_t D = ag->obs_dim, i, shape[2];
    float *x, *lp, *adv, *ret, *oldv;
    int32_t *act;
    double mean = 0, var = 0;
    seq_rl_pg_batch b;
    seq_tensor *xt, *logits, *values, *loss;
    seq_ctx_reset(ctx);
    x = (float *)seq_ctx_alloc(ctx, (size_t)(n * D + 4 * n) * sizeof(float));
    act = (int32_t *)seq_ctx_alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!x || !act) return seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_NOMEM;
    lp = x + n * D, adv = lp + n, ret = adv + n, oldv = ret + n;
    for (i = 0; i < n; i++) {
        int64_t k = idx[i];
        memcpy(x + i * D, ag->obs + k * D, (size_t)D * sizeof(float));
        lp[i] = ag->logp[k], adv[i] = ag->adv[k], ret[i] = ag->returns[k], oldv[i] = ag->values[k], act[i] = ag->actions[k];
        mean += adv[i];
    }
    if (ag->cfg.norm_adv && n > 1) {
        mean /= (double)n;
        for (i = 0; i < n; i++) var += (adv[i] - mean) * (adv[i] - mean);
        var = sqrt(var / (double)(n - 1)) + 1e-8;
        for (i = 0; i < n; i++) adv[i] = (float)((adv[i] - mean) / var);
    }
    b.actions = act, b.old_logp = lp, b.adv = adv, b.returns = ret, b.old_values = oldv, b.ref_logp = NULL, b.mask = NULL;
    shape[0] = n, shape[1] = D;
    xt = seq_tensor_wrap(ctx, x, 2, shape);
    logits = seq_rl_mlp_forward(ctx, &ag->actor, xt);
    values = seq_reshape(ctx, seq_rl_mlp_forward(ctx, &ag->critic, xt), 1, shape);
    loss = seq_rl_pg_loss(ctx, logits, values, &b, ag->cfg.loss, &ag->last);
    if (seq_ctx_status(ctx) != SEQ_OK) return seq_ctx_status(ctx);
    seq_params_zero_grad(ag->P);
    seq_backward(ctx, loss);
    if (ag->cfg.max_grad_norm > 0) seq_clip_grad_norm(ag->P, ag->cfg.max_grad_norm);
    return seq_adamw_step(&ag->opt, ag->P, lr);
}

SEQDEF seq_status seq_rl_ac_iterate(seq_rl_ac *ag, seq_rl_vec_env *v) {
    int64_t B, mb, e, k;
    float lr;
    seq_status st;
    if (!ag || !v || v->n != ag->n_envs || v->obs_dim != ag->obs_dim || v->n_actions != ag->n_actions)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_iterate: the vec env does not match the agent");
    lr = ag->cfg.lr;
    if (ag->cfg.anneal_lr && ag->cfg.total_steps > 0)
        lr *= (float)(ag->steps >= ag->cfg.total_steps ? 0.0 : 1.0 - (double)ag->steps / (double)ag->cfg.total_steps);
    st = seq_rl__ac_collect(ag, v);
    if (st != SEQ_OK) return st;
    seq_rl__ac_gae(ag);
    B = ag->cfg.n_steps * ag->n_envs;
    mb = B / ag->cfg.minibatches;
    for (e = 0; e < ag->cfg.epochs; e++) {
        seq_rng_permutation(&ag->rng, ag->perm, B);
        for (k = 0; k < ag->cfg.minibatches; k++) {
            st = seq_rl__ac_minibatch(ag, ag->perm + k * mb, k + 1 == ag->cfg.minibatches ? B - k * mb : mb, lr);
            if (st != SEQ_OK) return st;
        }
    }
    ag->iterations++;
    return SEQ_OK;
}

SEQDEF double seq_rl_ac_mean_return(const seq_rl_ac *ag) {
    int64_t n = ag->n_recent < 100 ? ag->n_recent : 100, i;
    double s = 0;
    if (n == 0) return NAN;
    for (i = 0; i < n; i++) s += ag->recent[i];
    return s / (double)n;
}

SEQDEF int64_t seq_rl_ac_act(seq_rl_ac *ag, const float *obs, seq_rng *rng, float *prob) {
    float *logits = ag->work + seq_rl_mlp_work_size(&ag->actor, ag->cfg.n_steps * ag->n_envs);
    int64_t a, best = 0;
    seq_rl_mlp_infer(&ag->actor, obs, 1, logits, ag->work);
    if (rng) return seq_rl_sample_softmax(logits, ag->n_actions, rng, prob, NULL);
    for (a = 1; a < ag->n_actions; a++) best = logits[a] > logits[best] ? a : best;
    if (prob) *prob = 1.0f; /* the greedy policy is deterministic */
    return best;
}

SEQDEF seq_status seq_rl_ac_save(const seq_rl_ac *ag, const char *path) {
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_save: NULL argument");
    return seq_safetensors_save(ag->P, path);
}

SEQDEF seq_status seq_rl_ac_load(seq_rl_ac *ag, const char *path) {
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_load: NULL argument");
    return seq_safetensors_load(ag->P, path);
}

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper (implementation)
 * =================================================================================== */

#endif /* SEQ_RL_IMPLEMENTATION_DONE */
#endif /* SEQ_RL_IMPLEMENTATION */
