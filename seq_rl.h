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

/* A save file holds one object: a kind string (which object wrote it, e.g. "bandit"),
 * then named arrays of f64, f32 or i64, then a CRC-32 of everything before it.
 *
 *     bytes  "SEQRLSAV", u32 version (1), u8 kind length, kind,
 *            u32 field count, fields: u8 name length, name, u8 type (0 f64, 1 f32, 2 i64),
 *            u64 count, count elements; u32 CRC-32 (IEEE, as zlib) of all bytes before it.
 *
 * All integers and floats little-endian whatever the host. The writer collects the file
 * in memory and writes it next to path under a temporary name that is renamed over path
 * only when complete: a failed save leaves any previous file as it was. The reader loads
 * the whole file and checks magic, version, kind, every length and the checksum before
 * a single field is handed out: a truncated, corrupt or hostile file is SEQ_ERR_FORMAT,
 * never a crash or an out-of-bounds read.
 *
 *     seq_rl_save w;                                seq_rl_load r;
 *     seq_rl_save_begin(&w, "bandit", NULL);        s = seq_rl_load_open(&r, path, "bandit", NULL);
 *     seq_rl_save_i64s(&w, "arms", 1, &k);          if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "arms", 1, &k);
 *     seq_rl_save_f64s(&w, "mean", k, mean);        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "mean", k, mean);
 *     s = seq_rl_save_end(&w, path);                seq_rl_load_close(&r);
 *
 * The writer's first failure sticks: the puts may go unchecked, end() reports it (and
 * then writes nothing). end() and abort() free the buffer; close() frees the reader. */
#define SEQ_RL_SAVE_VERSION 1
#define SEQ_RL_SAVE_MAX_NAME 255 /* bytes of a kind or field name */

typedef enum seq_rl_field_type { SEQ_RL_FIELD_F64, SEQ_RL_FIELD_F32, SEQ_RL_FIELD_I64, SEQ_RL_FIELD_TYPE_COUNT } seq_rl_field_type;

typedef struct seq_rl_save {
    void *alloc_ud;
    unsigned char *buf; /* the file so far */
    size_t len, cap;
    uint32_t nfields;
    seq_status status;  /* first failure, sticky */
} seq_rl_save;

SEQDEF seq_status seq_rl_save_begin(seq_rl_save *w, const char *kind, void *alloc_ud);
SEQDEF seq_status seq_rl_save_f64s(seq_rl_save *w, const char *name, int64_t n, const double *data);
SEQDEF seq_status seq_rl_save_f32s(seq_rl_save *w, const char *name, int64_t n, const float *data);
SEQDEF seq_status seq_rl_save_i64s(seq_rl_save *w, const char *name, int64_t n, const int64_t *data);
SEQDEF seq_status seq_rl_save_end(seq_rl_save *w, const char *path);
SEQDEF void seq_rl_save_abort(seq_rl_save *w);

typedef struct seq_rl_load {
    void *alloc_ud;
    unsigned char *buf; /* the whole file, validated */
    size_t len;
    uint32_t nfields;
    char kind[SEQ_RL_SAVE_MAX_NAME + 1];
} seq_rl_load;

/* kind NULL accepts any kind (then r->kind says which); otherwise another kind is
 * SEQ_ERR_FORMAT. A missing file is SEQ_ERR_IO. On failure r needs no close. */
SEQDEF seq_status seq_rl_load_open(seq_rl_load *r, const char *path, const char *kind, void *alloc_ud);
/* Copies field name into dst: it must exist with this type and exactly n elements
 * (SEQ_ERR_FORMAT otherwise: the file does not describe the object it is loaded into). */
SEQDEF seq_status seq_rl_load_f64s(const seq_rl_load *r, const char *name, int64_t n, double *dst);
SEQDEF seq_status seq_rl_load_f32s(const seq_rl_load *r, const char *name, int64_t n, float *dst);
SEQDEF seq_status seq_rl_load_i64s(const seq_rl_load *r, const char *name, int64_t n, int64_t *dst);
/* Element count of a field of that type, or -1 when there is none (sizes an object). */
SEQDEF int64_t seq_rl_load_count(const seq_rl_load *r, const char *name, seq_rl_field_type type);
SEQDEF void seq_rl_load_close(seq_rl_load *r);
/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32): crc = seq_rl_crc32(0, data, n) to
 * start, pass the previous value to continue. */
SEQDEF uint32_t seq_rl_crc32(uint32_t crc, const void *data, size_t n);

/* ===================================================================================
 * 2  multi-armed bandits
 * =================================================================================== */

/* Every bandit keeps its statistics in double and makes decisions in two calls:
 *
 *     seq_rl_bandit b;  seq_rl_choice c;
 *     seq_rl_bandit_config cfg = seq_rl_bandit_config_default(SEQ_RL_BANDIT_THOMPSON_BETA, 3);
 *     seq_rl_bandit_init(&b, &cfg, NULL);
 *     seq_rl_bandit_select(&b, &rng, &c);             c.arm, c.prob (propensity), c.id
 *     seq_rl_bandit_update(&b, &c, reward);           now, or later by id:
 *     seq_rl_bandit_update_id(&b, c.id, reward);      a delayed reward, keyed by the decision
 *
 * c.prob is the probability with which the policy picked c.arm, so logs of (arm, reward,
 * prob) can be evaluated off-policy (section 4). Index policies pick the best index,
 * ties at random: prob = 1 / number of tied arms. Softmax, Exp3 and eps-greedy sample a
 * distribution they know exactly. Thompson sampling's probability has no closed form: it
 * is estimated from propensity_draws more posterior draws, (1 + hits) / (1 + draws).
 *
 * Rewards: policies built for bounded rewards (eps-greedy, UCB1, UCB-V, KL-UCB Bernoulli,
 * Beta Thompson, softmax, Exp3, Exp3-IX, discounted and sliding-window UCB) take rewards in
 * [reward_min, reward_max] and work on them rescaled to [0,1]; Gaussian Thompson and
 * KL-UCB Gaussian take any finite reward, KL-UCB Poisson any reward >= 0, Pareto
 * Thompson rewards >= its scale x_m. A reward outside is SEQ_ERR_RANGE, a non-finite one
 * SEQ_ERR_INVALID, an arm outside [0,arms) SEQ_ERR_RANGE, a propensity outside (0,1]
 * SEQ_ERR_INVALID; a refused update leaves the bandit byte for byte as it was. */

/* --- 2a Kullback-Leibler divergences, KL-UCB indices, the Lai-Robbins bound ----------- */

typedef enum seq_rl_kl_family {
    SEQ_RL_KL_BERNOULLI, /* rewards in [0,1]; p, q clamped to [1e-15, 1-1e-15] */
    SEQ_RL_KL_GAUSSIAN,  /* known variance sig2: (x-y)^2 / (2 sig2) */
    SEQ_RL_KL_POISSON,   /* y - x + x log(x/y), x, y clamped below at 1e-15 */
    SEQ_RL_KL_FAMILY_COUNT
} seq_rl_kl_family;

/* kl(x, y) of the family (sig2 is used by the Gaussian only). */
SEQDEF double seq_rl_kl(seq_rl_kl_family f, double x, double y, double sig2);
/* KL-UCB index: sup { q >= x : kl(x, q) <= d }, the Gaussian in closed form
 * x + sqrt(2 sig2 d), Bernoulli and Poisson by bisection to 1e-6 (Garivier & Cappe 2011;
 * SMPyBandits' kullback.py doctests are the tests). NaN when d < 0 or x is not finite. */
SEQDEF double seq_rl_klucb(seq_rl_kl_family f, double x, double d, double sig2);
/* Lai & Robbins (1985): any consistent policy on these Bernoulli arms has regret at least
 * (C + o(1)) log T, C = sum over suboptimal arms of (mu* - mu_i) / kl(mu_i, mu*).
 * means in [0,1]; *C receives the constant. */
SEQDEF seq_status seq_rl_lai_robbins(const double *means, int64_t arms, double *C);

/* --- 2b the bandit ------------------------------------------------------------------- */

typedef enum seq_rl_bandit_kind {
    SEQ_RL_BANDIT_EPSILON_GREEDY,   /* fixed eps, or Auer et al.'s decaying eps_t = min(eps, c K / (d^2 t)) */
    SEQ_RL_BANDIT_UCB1,             /* mean + sqrt(c ln t / n), c = 2 (Auer et al. 2002) */
    SEQ_RL_BANDIT_UCB_V,            /* mean + sqrt(2 V c ln t / n) + 3 c ln t / n, c = zeta = 1.2 (Audibert et al. 2009) */
    SEQ_RL_BANDIT_KL_UCB,           /* klucb(mean, (ln t + c ln ln t) / n), c = 0 (Garivier & Cappe 2011) */
    SEQ_RL_BANDIT_THOMPSON_BETA,    /* Beta(a0 + successes, b0 + failures); fractional rewards count fractionally */
    SEQ_RL_BANDIT_THOMPSON_GAUSSIAN,/* Normal-Gamma(mu0, lambda0, alpha0, beta0): unknown mean and variance */
    SEQ_RL_BANDIT_THOMPSON_PARETO,  /* Pareto(x_m, shape) rewards, Gamma(a0, b0) prior on the shape */
    SEQ_RL_BANDIT_SOFTMAX,          /* Boltzmann: p proportional to exp(mean / temperature) */
    SEQ_RL_BANDIT_EXP3,             /* (1-gamma) softmax(log w) + gamma/K, log w += gamma r/(p K) (Auer et al. 2002) */
    SEQ_RL_BANDIT_EXP3_IX,          /* softmax(log w), log w -= eta (1-r)/(p+gamma) (Kocak et al. 2014) */
    SEQ_RL_BANDIT_DISCOUNTED_UCB,   /* counts decay by gamma each round; mean + 2 sqrt(c ln n_t / N) (Garivier & Moulines 2011) */
    SEQ_RL_BANDIT_SLIDING_WINDOW_UCB,/* the last `window` rounds only; mean + sqrt(c ln min(t,tau) / N) */
    SEQ_RL_BANDIT_KIND_COUNT
} seq_rl_bandit_kind;

typedef struct seq_rl_bandit_config {
    seq_rl_bandit_kind kind;
    int64_t arms;                  /* K >= 1 */
    double reward_min, reward_max; /* range of bounded rewards (0, 1) */
    double c;                      /* exploration constant of the index (per kind, see the enum) */
    double epsilon;                /* eps-greedy: eps (0.1), the cap of the decaying schedule */
    double epsilon_c, epsilon_d;   /* eps-greedy: c > 0 turns on the decay min(eps, c K / (d^2 t)) (0, 0.1) */
    double temperature;            /* softmax (0.1, on rewards scaled to [0,1]) */
    int64_t horizon;               /* Exp3, Exp3-IX: T that tunes gamma and eta when they are 0 (10000) */
    double gamma;                  /* Exp3: exploration gamma = min(1, sqrt(K ln K / ((e-1) T))) when 0;
                                    * Exp3-IX: implicit exploration, eta/2 when 0;
                                    * discounted UCB: the discount (0.999) */
    double eta;                    /* Exp3-IX: learning rate, sqrt(2 ln K / (K T)) when 0 */
    int64_t window;                /* sliding-window UCB: tau (1000) */
    seq_rl_kl_family family;       /* KL-UCB: reward model (Bernoulli) */
    double variance;               /* KL-UCB Gaussian: sigma^2 (0.25) */
    double prior[4];               /* Thompson: Beta (a0, b0) = (1, 1); Normal-Gamma (mu0, lambda0,
                                    * alpha0, beta0) = (0, 1, 1, 1); Pareto (x_m, a0, b0) = (1, 1, 1) */
    int64_t propensity_draws;      /* Thompson: draws estimating c.prob (100; 0: prob = NaN) */
    int64_t max_pending;           /* decisions remembered for update_id (1024; 0: none) */
} seq_rl_bandit_config;

typedef struct seq_rl_choice {
    int64_t arm;
    double prob; /* probability the policy gave this arm at this decision */
    int64_t id;  /* decision id, 0, 1, 2 ... per bandit */
} seq_rl_choice;

typedef struct seq_rl_bandit {
    seq_rl_bandit_config cfg;
    void *alloc_ud;
    double *stats;      /* (arms, 4): count (discounted or windowed), mean, M2 (sum of squared
                         * deviations), aux (Exp3 log-weight; Pareto sum of ln(r / x_m)); rewards
                         * of bounded policies are stored scaled to [0,1] */
    double *work;       /* (arms): scores or probabilities of the decision being made */
    int64_t decisions;  /* selects so far = the next decision id */
    int64_t updates;    /* rewards received so far */
    int64_t *win_arm;   /* sliding window: ring of the last `window` (arm, reward) */
    double *win_reward;
    int64_t *pend_id;   /* decisions awaiting a reward: slot id % max_pending; -1 free */
    int64_t *pend_arm;
    double *pend_prob;
} seq_rl_bandit;

SEQDEF const char *seq_rl_bandit_kind_name(seq_rl_bandit_kind kind);
SEQDEF seq_rl_bandit_config seq_rl_bandit_config_default(seq_rl_bandit_kind kind, int64_t arms);
SEQDEF seq_status seq_rl_bandit_init(seq_rl_bandit *b, const seq_rl_bandit_config *cfg, void *alloc_ud);
SEQDEF void seq_rl_bandit_free(seq_rl_bandit *b);
/* Picks an arm; rng is advanced (index policies draw only to break ties). */
SEQDEF seq_status seq_rl_bandit_select(seq_rl_bandit *b, seq_rng *rng, seq_rl_choice *out);
/* The reward of decision c (its arm and prob are what the policy learns from). */
SEQDEF seq_status seq_rl_bandit_update(seq_rl_bandit *b, const seq_rl_choice *c, double reward);
/* A delayed reward for decision id: one of the last max_pending decisions, not yet
 * rewarded (SEQ_ERR_RANGE otherwise). */
SEQDEF seq_status seq_rl_bandit_update_id(seq_rl_bandit *b, int64_t id, double reward);
/* Estimated mean reward of an arm, in reward units (NaN before its first reward). */
SEQDEF double seq_rl_bandit_mean(const seq_rl_bandit *b, int64_t arm);
/* Save kind "bandit": configuration and the whole state, so a loaded bandit decides
 * exactly as the saved one would have. load initializes b (free it as usual). */
SEQDEF seq_status seq_rl_bandit_save(const seq_rl_bandit *b, const char *path);
SEQDEF seq_status seq_rl_bandit_load(seq_rl_bandit *b, const char *path, void *alloc_ud);

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits: LinUCB, LinTS, SquareCB, GP-UCB
 * =================================================================================== */

/* Contextual bandits decide from features: arm a's features are x + a * x_stride (dim
 * values; x_stride 0 when one context is shared by every arm). select and update work as
 * in section 2, with the features passed to both; every choice carries its propensity.
 * A non-finite feature or reward, an arm out of range or a propensity outside (0,1] is
 * refused and leaves the bandit as it was. */

/* --- 3a linear bandits: LinUCB and linear Thompson sampling -------------------------
 * One ridge regression per arm (the disjoint model of Li et al. 2010):
 *     A_a = lambda I + sum x x^T,  b_a = sum r x,  theta_a = A_a^-1 b_a.
 * A_a is kept as its Cholesky factor L_a (A = L L^T), updated in O(dim^2) per reward by a
 * rank-1 update, never refactored or inverted, so every result is deterministic:
 *     LinUCB: x^T theta_a + alpha ||L_a^-1 x||      (= alpha sqrt(x^T A_a^-1 x))
 *     LinTS:  x^T theta~,  theta~ = theta_a + v L_a^-T z,  z ~ N(0, I)   (Agrawal & Goyal 2013),
 *             i.e. theta~ ~ N(theta_a, v^2 A_a^-1); v = alpha. */
typedef enum seq_rl_linear_kind { SEQ_RL_LINUCB, SEQ_RL_LINTS, SEQ_RL_LINEAR_KIND_COUNT } seq_rl_linear_kind;

typedef struct seq_rl_linear_config {
    seq_rl_linear_kind kind;
    int64_t arms, dim;
    double alpha;             /* LinUCB width, LinTS posterior scale v (1) */
    double lambda;            /* ridge: A starts at lambda I (1) */
    int64_t propensity_draws; /* LinTS: draws estimating c.prob as in section 2 (100) */
} seq_rl_linear_config;

typedef struct seq_rl_linear {
    seq_rl_linear_config cfg;
    void *alloc_ud;
    double *L;        /* (arms, dim, dim) lower Cholesky factors of A_a, row-major */
    double *b;        /* (arms, dim) */
    double *theta;    /* (arms, dim) ridge estimates, refreshed by each update */
    double *work;     /* (arms + 2 dim) scratch */
    int64_t decisions, updates;
} seq_rl_linear;

SEQDEF seq_rl_linear_config seq_rl_linear_config_default(seq_rl_linear_kind kind, int64_t arms, int64_t dim);
SEQDEF seq_status seq_rl_linear_init(seq_rl_linear *b, const seq_rl_linear_config *cfg, void *alloc_ud);
SEQDEF void seq_rl_linear_free(seq_rl_linear *b);
SEQDEF seq_status seq_rl_linear_select(seq_rl_linear *b, const double *x, int64_t x_stride, seq_rng *rng,
                                       seq_rl_choice *out);
/* x: the features of the chosen arm, c->arm (dim values). */
SEQDEF seq_status seq_rl_linear_update(seq_rl_linear *b, const double *x, const seq_rl_choice *c, double reward);
/* Save kind "linear_bandit"; load initializes b. */
SEQDEF seq_status seq_rl_linear_save(const seq_rl_linear *b, const char *path);
SEQDEF seq_status seq_rl_linear_load(seq_rl_linear *b, const char *path, void *alloc_ud);

/* --- 3b GP-UCB and IRGP-UCB over a finite set of points -----------------------------
 * Arms are points z_a in R^dim with an unknown smooth payoff f ~ GP(0, k), an RBF kernel
 * k(z, z') = variance exp(-|z - z'|^2 / (2 lengthscale^2)), rewards f(z_a) + N(0, noise).
 * The posterior over the finite set is kept as its mean (arms) and covariance (arms^2):
 * each reward conditions it in O(arms^2), whatever the number of rewards seen.
 *     GP-UCB (Srinivas et al. 2010): mu + sqrt(beta_t) sigma, beta_t = 2 ln(K t^2 pi^2 / (6 delta))
 *     IRGP-UCB (Takeno et al. 2023): beta_t = 2 ln(K / 2) + Exp(rate 1/2), drawn each round,
 *         no growth with t (max(beta, 0) for K < 2). Its propensity is estimated from
 *         propensity_draws more draws of beta, as Thompson's. */
typedef enum seq_rl_gp_kind { SEQ_RL_GP_UCB, SEQ_RL_IRGP_UCB, SEQ_RL_GP_KIND_COUNT } seq_rl_gp_kind;

typedef struct seq_rl_gp_config {
    seq_rl_gp_kind kind;
    int64_t arms, dim;
    const double *points;     /* (arms, dim), copied by init */
    double lengthscale;       /* (1) */
    double variance;          /* prior signal variance (1) */
    double noise;             /* observation noise variance (0.01) */
    double delta;             /* GP-UCB confidence (0.1) */
    int64_t propensity_draws; /* IRGP-UCB (100) */
} seq_rl_gp_config;

typedef struct seq_rl_gp {
    seq_rl_gp_config cfg;     /* cfg.points points at this bandit's copy */
    void *alloc_ud;
    double *points;           /* (arms, dim) */
    double *mu;               /* (arms) posterior mean */
    double *cov;              /* (arms, arms) posterior covariance */
    double *work;             /* (2 arms) */
    int64_t decisions, updates;
} seq_rl_gp;

SEQDEF seq_rl_gp_config seq_rl_gp_config_default(seq_rl_gp_kind kind, int64_t arms, int64_t dim, const double *points);
SEQDEF seq_status seq_rl_gp_init(seq_rl_gp *b, const seq_rl_gp_config *cfg, void *alloc_ud);
SEQDEF void seq_rl_gp_free(seq_rl_gp *b);
SEQDEF seq_status seq_rl_gp_select(seq_rl_gp *b, seq_rng *rng, seq_rl_choice *out);
SEQDEF seq_status seq_rl_gp_update(seq_rl_gp *b, const seq_rl_choice *c, double reward);
/* Save kind "gp_bandit"; load initializes b. */
SEQDEF seq_status seq_rl_gp_save(const seq_rl_gp *b, const char *path);
SEQDEF seq_status seq_rl_gp_load(seq_rl_gp *b, const char *path, void *alloc_ud);

/* --- 3c SquareCB: inverse gap weighting over any regression oracle -------------------
 * Foster & Rakhlin (2020): given an oracle's predicted rewards pred (arms) for the
 * current context, with b the best prediction,
 *     p_a = 1 / (K + gamma (pred_b - pred_a))  for a != b,   p_b = 1 - sum of the others.
 * Any regressor trained online on (context, arm, reward) serves as the oracle (the
 * caller owns it: a seq.h network, a linear model, a lookup table); gamma grows with the
 * horizon (their choice: sqrt(K T / ln(1/delta)), or tuned). Non-finite predictions or
 * gamma < 0 are SEQ_ERR_INVALID. select draws the arm with rng; out->id is -1 (no table
 * of pending decisions: the caller trains its oracle). */
SEQDEF seq_status seq_rl_igw_probs(const double *pred, int64_t arms, double gamma, double *p);
SEQDEF seq_status seq_rl_squarecb_select(const double *pred, int64_t arms, double gamma, double *p, seq_rng *rng,
                                         seq_rl_choice *out);

/* ===================================================================================
 * 4  off-policy evaluation
 * =================================================================================== */

/* Estimates the value of a target policy pi from logs of another (the logging policy):
 * per sample a context, the logged action, its reward and the logging propensity
 * p(a_i|x_i) (what seq_rl_choice.prob recorded). The target is given as its action
 * probabilities on each logged context, target (n, actions), rows summing to 1.
 * With w_i = pi(a_i|x_i) / p(a_i|x_i) and q(x,a) a reward model:
 *
 *     IPS            mean w_i r_i                                   unbiased
 *     clipped IPS    mean min(w_i, clip) r_i                        biased low, less variance
 *     SNIPS          sum w_i r_i / sum w_i                          consistent, scale-free
 *     DM             mean sum_a pi(a|x_i) q(x_i,a)                  as good as q
 *     DR             DM + mean w_i (r_i - q(x_i,a_i))               unbiased if p is right
 *     smoothed IPS   mean pi(a_i|x_i) / p(a_i|x_i)^alpha r_i        alpha in [0,1] (Aouali et al. 2023)
 *
 * Every estimate is a ratio of sample sums, sum num_i / sum den_i (den_i = 1 but for
 * SNIPS), and comes with a confidence interval at `level`: by default the normal
 * approximation with the delta-method standard error sd(num_i - V den_i) / (mean(den) sqrt n)
 * (for den = 1 the plain standard error of the mean); with bootstrap = B > 0 the
 * percentile interval of B resamples drawn with rng. */

typedef enum seq_rl_ope_estimator {
    SEQ_RL_OPE_IPS,
    SEQ_RL_OPE_CLIPPED_IPS,
    SEQ_RL_OPE_SNIPS,
    SEQ_RL_OPE_DM,
    SEQ_RL_OPE_DR,
    SEQ_RL_OPE_SMOOTHED_IPS,
    SEQ_RL_OPE_ESTIMATOR_COUNT
} seq_rl_ope_estimator;

typedef struct seq_rl_log {
    int64_t n;                /* samples >= 2 */
    int64_t actions;          /* K >= 1 */
    int64_t dim;              /* context features per sample (0: none) */
    const double *context;    /* (n, dim) or NULL when dim == 0 */
    const int64_t *action;    /* (n) in [0, actions) */
    const double *reward;     /* (n) finite */
    const double *propensity; /* (n) logging probability of the logged action, in (0,1] */
} seq_rl_log;

/* Reward model for DM and DR: the expected reward of action a in context x (dim values). */
typedef double (*seq_rl_reward_model_fn)(void *ud, const double *x, int64_t a);

typedef struct seq_rl_ope_config {
    seq_rl_ope_estimator estimator;
    double clip;        /* clipped IPS: the weight cap M (10) */
    double alpha;       /* smoothed IPS: propensity exponent (0.7) */
    double level;       /* confidence level of the interval (0.95) */
    int64_t bootstrap;  /* 0: normal approximation; B > 0: percentile bootstrap, B resamples */
    seq_rl_reward_model_fn model; /* DM, DR: required */
    void *model_ud;
    void *alloc_ud;     /* for the scratch buffers (NULL: default allocator) */
} seq_rl_ope_config;

typedef struct seq_rl_ope_result {
    double value;       /* the estimate */
    double se;          /* standard error (delta method, or the bootstrap's sd) */
    double lo, hi;      /* confidence interval */
    double ess;         /* effective sample size of the weights, (sum w)^2 / sum w^2 */
} seq_rl_ope_result;

SEQDEF seq_rl_ope_config seq_rl_ope_config_default(seq_rl_ope_estimator estimator);
/* rng: required when bootstrap > 0 (NULL otherwise is fine). A bad log entry is refused
 * with a message naming the sample: an action out of range (SEQ_ERR_RANGE), a propensity
 * outside (0,1], a non-finite reward, or a target row that is not a distribution
 * (SEQ_ERR_INVALID); a non-finite model output is SEQ_ERR_NUMERIC. */
SEQDEF seq_status seq_rl_ope(const seq_rl_log *log, const double *target, const seq_rl_ope_config *cfg, seq_rng *rng,
                             seq_rl_ope_result *out);
/* The standard normal quantile: z with P(Z <= z) = p, p in (0,1). */
SEQDEF double seq_rl_normal_quantile(double p);

/* ===================================================================================
 * 5  environments: CartPole, MountainCar, Acrobot, Pendulum, gridworld, vectorized
 * =================================================================================== */

/* ===================================================================================
 * 6  replay buffers: uniform and prioritized (sum tree)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN
 * =================================================================================== */

/* ===================================================================================
 * 9  policy-gradient agents: REINFORCE, A2C, PPO, GRPO
 * =================================================================================== */

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

/* This implementation may be compiled without seq.h's: the same allocator defaults. */
#include <stdlib.h>
#if !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#elif !defined(SEQ_MALLOC) || !defined(SEQ_REALLOC) || !defined(SEQ_FREE)
#error "seq_rl.h: define all of SEQ_MALLOC, SEQ_REALLOC and SEQ_FREE, or none"
#endif

static const unsigned char seq_rl__magic[8] = {'S', 'E', 'Q', 'R', 'L', 'S', 'A', 'V'};

SEQDEF uint32_t seq_rl_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; i++) { /* bitwise: saves are small, a table would be 1 KiB of state */
        crc ^= p[i];
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Appends n raw bytes; the first failure sticks in w->status. */
static void seq_rl__put(seq_rl_save *w, const void *p, size_t n) {
    if (w->status != SEQ_OK) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        unsigned char *b;
        while (cap < w->len + n) cap *= 2;
        b = (unsigned char *)SEQ_REALLOC(w->alloc_ud, w->buf, cap);
        if (!b) {
            w->status = seq_set_error(SEQ_ERR_NOMEM, "seq_rl_save: out of memory at %zu bytes", cap);
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Little-endian unsigned integer of `bytes` bytes. */
static void seq_rl__put_uint(seq_rl_save *w, uint64_t v, int bytes) {
    unsigned char b[8];
    int k;
    for (k = 0; k < bytes; k++) b[k] = (unsigned char)(v >> (8 * k));
    seq_rl__put(w, b, (size_t)bytes);
}

static uint64_t seq_rl__get_uint(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    int k;
    for (k = 0; k < bytes; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* A kind or field name: 1..SEQ_RL_SAVE_MAX_NAME bytes, length-prefixed. */
static void seq_rl__put_name(seq_rl_save *w, const char *fn, const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (w->status != SEQ_OK) return;
    if (n == 0 || n > SEQ_RL_SAVE_MAX_NAME) {
        w->status = seq_set_error(SEQ_ERR_INVALID, "%s: a name needs 1 to %d bytes", fn, SEQ_RL_SAVE_MAX_NAME);
        return;
    }
    seq_rl__put_uint(w, n, 1);
    seq_rl__put(w, name, n);
}

SEQDEF seq_status seq_rl_save_begin(seq_rl_save *w, const char *kind, void *alloc_ud) {
    if (!w) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_begin: NULL writer");
    memset(w, 0, sizeof *w);
    w->alloc_ud = alloc_ud;
    seq_rl__put(w, seq_rl__magic, sizeof seq_rl__magic);
    seq_rl__put_uint(w, SEQ_RL_SAVE_VERSION, 4);
    seq_rl__put_name(w, "seq_rl_save_begin", kind);
    seq_rl__put_uint(w, 0, 4); /* field count, patched by end() */
    return w->status;
}

/* Field header, then the caller writes n elements of `size` bytes through `put`. */
static int seq_rl__field(seq_rl_save *w, const char *fn, const char *name, seq_rl_field_type type, int64_t n,
                         const void *data) {
    if (!w) return 0;
    if (w->status == SEQ_OK && (n < 0 || (n > 0 && !data)))
        w->status = seq_set_error(SEQ_ERR_INVALID, "%s: field '%s' has %lld elements and %s data", fn,
                                  name ? name : "(null)", (long long)n, data ? "some" : "no");
    seq_rl__put_name(w, fn, name);
    seq_rl__put_uint(w, (uint64_t)type, 1);
    seq_rl__put_uint(w, (uint64_t)n, 8);
    w->nfields++;
    return w->status == SEQ_OK;
}

SEQDEF seq_status seq_rl_save_f64s(seq_rl_save *w, const char *name, int64_t n, const double *data) {
    int64_t i;
    uint64_t bits;
    if (!seq_rl__field(w, "seq_rl_save_f64s", name, SEQ_RL_FIELD_F64, n, data))
        return w ? w->status : seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_f64s: NULL writer");
    for (i = 0; i < n; i++) {
        memcpy(&bits, data + i, 8);
        seq_rl__put_uint(w, bits, 8);
    }
    return w->status;
}

SEQDEF seq_status seq_rl_save_f32s(seq_rl_save *w, const char *name, int64_t n, const float *data) {
    int64_t i;
    uint32_t bits;
    if (!seq_rl__field(w, "seq_rl_save_f32s", name, SEQ_RL_FIELD_F32, n, data))
        return w ? w->status : seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_f32s: NULL writer");
    for (i = 0; i < n; i++) {
        memcpy(&bits, data + i, 4);
        seq_rl__put_uint(w, bits, 4);
    }
    return w->status;
}

SEQDEF seq_status seq_rl_save_i64s(seq_rl_save *w, const char *name, int64_t n, const int64_t *data) {
    int64_t i;
    if (!seq_rl__field(w, "seq_rl_save_i64s", name, SEQ_RL_FIELD_I64, n, data))
        return w ? w->status : seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_i64s: NULL writer");
    for (i = 0; i < n; i++) seq_rl__put_uint(w, (uint64_t)data[i], 8);
    return w->status;
}

SEQDEF void seq_rl_save_abort(seq_rl_save *w) {
    if (!w) return;
    SEQ_FREE(w->alloc_ud, w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

SEQDEF seq_status seq_rl_save_end(seq_rl_save *w, const char *path) {
    seq_status s;
    size_t plen, at;
    char *tmp = NULL;
    FILE *f = NULL;
    int ok = 0, k;
    if (!w) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_end: NULL writer");
    if (w->status == SEQ_OK && !path) w->status = seq_set_error(SEQ_ERR_INVALID, "seq_rl_save_end: NULL path");
    if (w->status == SEQ_OK) { /* the field count sits after magic, version and the kind */
        at = sizeof seq_rl__magic + 4 + 1 + w->buf[sizeof seq_rl__magic + 4];
        for (k = 0; k < 4; k++) w->buf[at + (size_t)k] = (unsigned char)(w->nfields >> (8 * k));
        seq_rl__put_uint(w, seq_rl_crc32(0, w->buf, w->len), 4);
    }
    if (w->status == SEQ_OK) {
        plen = strlen(path);
        tmp = (char *)SEQ_MALLOC(w->alloc_ud, plen + 5);
        if (!tmp) w->status = seq_set_error(SEQ_ERR_NOMEM, "seq_rl_save_end: out of memory");
    }
    if (w->status == SEQ_OK) {
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".tmp", 5);
        f = fopen(tmp, "wb");
        if (f) {
            ok = fwrite(w->buf, 1, w->len, f) == w->len;
            ok = fclose(f) == 0 && ok; /* fclose flushes: a full disk shows here at the latest */
        }
        if (ok && rename(tmp, path) == 0) {
            w->status = SEQ_OK;
        } else {
            if (f) remove(tmp);
            w->status = seq_set_error(SEQ_ERR_IO, "seq_rl_save_end: %s '%s' failed",
                                      !f ? "creating a file next to" : ok ? "replacing" : "writing", path);
        }
    }
    SEQ_FREE(w->alloc_ud, tmp);
    s = w->status;
    seq_rl_save_abort(w);
    return s;
}

static seq_status seq_rl__bad_file(seq_rl_load *r, const char *path, const char *why) {
    SEQ_FREE(r->alloc_ud, r->buf);
    r->buf = NULL;
    return seq_set_error(SEQ_ERR_FORMAT, "seq_rl_load_open: '%s' %s", path, why);
}

/* Reads the file whole; SEQ_ERR_IO when it cannot be read. */
static seq_status seq_rl__slurp(seq_rl_load *r, const char *path) {
    FILE *f = fopen(path, "rb");
    long end;
    int ok;
    if (!f) return seq_set_error(SEQ_ERR_IO, "seq_rl_load_open: cannot open '%s'", path);
    ok = fseek(f, 0, SEEK_END) == 0 && (end = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0;
    if (ok) {
        r->len = (size_t)end;
        r->buf = (unsigned char *)SEQ_MALLOC(r->alloc_ud, r->len ? r->len : 1);
        if (!r->buf) {
            fclose(f);
            return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_load_open: no memory for %zu bytes of '%s'", r->len, path);
        }
        ok = fread(r->buf, 1, r->len, f) == r->len;
    }
    fclose(f);
    if (!ok) {
        SEQ_FREE(r->alloc_ud, r->buf);
        r->buf = NULL;
        return seq_set_error(SEQ_ERR_IO, "seq_rl_load_open: reading '%s' failed", path);
    }
    return SEQ_OK;
}

static size_t seq_rl__elem_size(unsigned type) { return type == SEQ_RL_FIELD_F32 ? 4 : 8; }

/* Walks field headers from *at: the name (length, bytes), type, count and payload of one
 * field, or 0 when they do not fit in [*at, end). */
static int seq_rl__next_field(const unsigned char *buf, size_t end, size_t *at, const unsigned char **name,
                              size_t *name_len, unsigned *type, uint64_t *count, size_t *payload) {
    size_t p = *at, nl;
    uint64_t c;
    if (end - p < 1) return 0;
    nl = buf[p++];
    if (nl == 0 || end - p < nl + 9) return 0;
    *name = buf + p;
    *name_len = nl;
    p += nl;
    *type = buf[p++];
    if (*type >= SEQ_RL_FIELD_TYPE_COUNT) return 0;
    c = seq_rl__get_uint(buf + p, 8);
    p += 8;
    if (c > (end - p) / seq_rl__elem_size(*type)) return 0;
    *count = c;
    *payload = p;
    *at = p + (size_t)c * seq_rl__elem_size(*type);
    return 1;
}

SEQDEF seq_status seq_rl_load_open(seq_rl_load *r, const char *path, const char *kind, void *alloc_ud) {
    const size_t fixed = sizeof seq_rl__magic + 4 + 1; /* magic, version, kind length */
    size_t at, end, kl, name_len, payload;
    const unsigned char *name;
    unsigned type;
    uint64_t count;
    uint32_t i;
    seq_status s;
    if (!r || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_load_open: NULL %s", r ? "path" : "reader");
    memset(r, 0, sizeof *r);
    r->alloc_ud = alloc_ud;
    if ((s = seq_rl__slurp(r, path)) != SEQ_OK) return s;
    if (r->len < fixed + 4 + 4 || memcmp(r->buf, seq_rl__magic, sizeof seq_rl__magic) != 0)
        return seq_rl__bad_file(r, path, "is not a seq_rl save file");
    end = r->len - 4;
    if (seq_rl__get_uint(r->buf + end, 4) != seq_rl_crc32(0, r->buf, end))
        return seq_rl__bad_file(r, path, "fails its checksum (corrupt or truncated)");
    if (seq_rl__get_uint(r->buf + sizeof seq_rl__magic, 4) != SEQ_RL_SAVE_VERSION)
        return seq_rl__bad_file(r, path, "has a save-format version this build does not read");
    kl = r->buf[fixed - 1];
    if (kl == 0 || end - fixed < kl + 4) return seq_rl__bad_file(r, path, "has a malformed header");
    memcpy(r->kind, r->buf + fixed, kl);
    r->kind[kl] = 0;
    if (kind && strcmp(kind, r->kind) != 0) {
        char why[SEQ_RL_SAVE_MAX_NAME + 64];
        snprintf(why, sizeof why, "holds a '%s', not a '%s'", r->kind, kind);
        return seq_rl__bad_file(r, path, why);
    }
    r->nfields = (uint32_t)seq_rl__get_uint(r->buf + fixed + kl, 4);
    at = fixed + kl + 4;
    for (i = 0; i < r->nfields; i++) /* every field must fit before a single one is read */
        if (!seq_rl__next_field(r->buf, end, &at, &name, &name_len, &type, &count, &payload))
            return seq_rl__bad_file(r, path, "has a field running past its end");
    if (at != end) return seq_rl__bad_file(r, path, "has bytes after its last field");
    return SEQ_OK;
}

/* Payload offset and element count of field (name, type), or 0 when absent. */
static int seq_rl__find(const seq_rl_load *r, const char *name, seq_rl_field_type want, size_t *payload,
                        uint64_t *count) {
    size_t at, nl, end, want_len = name ? strlen(name) : 0;
    const unsigned char *fname;
    unsigned type;
    uint32_t i;
    if (!r || !r->buf || !name) return 0;
    end = r->len - 4;
    at = sizeof seq_rl__magic + 4 + 1 + r->buf[sizeof seq_rl__magic + 4] + 4;
    for (i = 0; i < r->nfields; i++) { /* open validated the walk; a stop here is impossible */
        if (!seq_rl__next_field(r->buf, end, &at, &fname, &nl, &type, count, payload)) return 0;
        if (nl == want_len && memcmp(fname, name, nl) == 0 && type == (unsigned)want) return 1;
    }
    return 0;
}

SEQDEF int64_t seq_rl_load_count(const seq_rl_load *r, const char *name, seq_rl_field_type type) {
    size_t payload;
    uint64_t count;
    return seq_rl__find(r, name, type, &payload, &count) ? (int64_t)count : -1;
}

/* The payload of a field that must exist with exactly n elements, or NULL (error set). */
static const unsigned char *seq_rl__field_data(const seq_rl_load *r, const char *fn, const char *name,
                                               seq_rl_field_type type, int64_t n, const void *dst) {
    size_t payload;
    uint64_t count;
    if (!r || !r->buf || !name || n < 0 || (n > 0 && !dst)) {
        seq_set_error(SEQ_ERR_INVALID, "%s: NULL reader, name or destination, or a negative count", fn);
        return NULL;
    }
    if (!seq_rl__find(r, name, type, &payload, &count)) {
        seq_set_error(SEQ_ERR_FORMAT, "%s: the '%s' save has no field '%s' of this type", fn, r->kind, name);
        return NULL;
    }
    if (count != (uint64_t)n) {
        seq_set_error(SEQ_ERR_FORMAT, "%s: field '%s' holds %llu elements, %lld expected", fn, name,
                      (unsigned long long)count, (long long)n);
        return NULL;
    }
    return r->buf + payload;
}

SEQDEF seq_status seq_rl_load_f64s(const seq_rl_load *r, const char *name, int64_t n, double *dst) {
    const unsigned char *p = seq_rl__field_data(r, "seq_rl_load_f64s", name, SEQ_RL_FIELD_F64, n, dst);
    uint64_t bits;
    int64_t i;
    if (!p) return seq_last_status();
    for (i = 0; i < n; i++) {
        bits = seq_rl__get_uint(p + 8 * i, 8);
        memcpy(dst + i, &bits, 8);
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_load_f32s(const seq_rl_load *r, const char *name, int64_t n, float *dst) {
    const unsigned char *p = seq_rl__field_data(r, "seq_rl_load_f32s", name, SEQ_RL_FIELD_F32, n, dst);
    uint32_t bits;
    int64_t i;
    if (!p) return seq_last_status();
    for (i = 0; i < n; i++) {
        bits = (uint32_t)seq_rl__get_uint(p + 4 * i, 4);
        memcpy(dst + i, &bits, 4);
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_load_i64s(const seq_rl_load *r, const char *name, int64_t n, int64_t *dst) {
    const unsigned char *p = seq_rl__field_data(r, "seq_rl_load_i64s", name, SEQ_RL_FIELD_I64, n, dst);
    int64_t i;
    if (!p) return seq_last_status();
    for (i = 0; i < n; i++) dst[i] = (int64_t)seq_rl__get_uint(p + 8 * i, 8);
    return SEQ_OK;
}

SEQDEF void seq_rl_load_close(seq_rl_load *r) {
    if (!r) return;
    SEQ_FREE(r->alloc_ud, r->buf);
    r->buf = NULL;
    r->len = 0;
}

/* ===================================================================================
 * 2  multi-armed bandits (implementation)
 * =================================================================================== */

/* --- 2a KL divergences, KL-UCB, Lai-Robbins ------------------------------------------ */

#define SEQ_RL__KL_EPS 1e-15

SEQDEF double seq_rl_kl(seq_rl_kl_family f, double x, double y, double sig2) {
    switch (f) {
    case SEQ_RL_KL_BERNOULLI:
        x = fmin(fmax(x, SEQ_RL__KL_EPS), 1.0 - SEQ_RL__KL_EPS);
        y = fmin(fmax(y, SEQ_RL__KL_EPS), 1.0 - SEQ_RL__KL_EPS);
        return x * log(x / y) + (1.0 - x) * log((1.0 - x) / (1.0 - y));
    case SEQ_RL_KL_GAUSSIAN: return (x - y) * (x - y) / (2.0 * sig2);
    case SEQ_RL_KL_POISSON:
        x = fmax(x, SEQ_RL__KL_EPS);
        y = fmax(y, SEQ_RL__KL_EPS);
        return y - x + x * log(x / y);
    default: return NAN;
    }
}

SEQDEF double seq_rl_klucb(seq_rl_kl_family f, double x, double d, double sig2) {
    double lo = x, hi;
    int it;
    if (!(d >= 0.0) || !isfinite(x) || (unsigned)f >= SEQ_RL_KL_FAMILY_COUNT) return NAN;
    if (f == SEQ_RL_KL_GAUSSIAN) return x + sqrt(2.0 * sig2 * d);
    /* an upper end the index cannot pass: Pinsker's bound (sub-Gaussian with variance
     * 1/4) for Bernoulli, the Poisson deviation bound for Poisson */
    hi = f == SEQ_RL_KL_BERNOULLI ? fmin(1.0, x + sqrt(0.5 * d)) : x + d + sqrt(d * d + 2.0 * x * d);
    for (it = 0; it < 50 && hi - lo > 1e-6; it++) {
        double m = 0.5 * (lo + hi);
        if (seq_rl_kl(f, x, m, sig2) > d) hi = m;
        else lo = m;
    }
    return 0.5 * (lo + hi);
}

SEQDEF seq_status seq_rl_lai_robbins(const double *means, int64_t arms, double *C) {
    double best = -1.0, sum = 0.0;
    int64_t i;
    if (!means || !C || arms < 1) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_lai_robbins: no arms or NULL");
    for (i = 0; i < arms; i++) {
        if (!(means[i] >= 0.0 && means[i] <= 1.0))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_lai_robbins: mean %lld is %g, not in [0,1]", (long long)i,
                                 means[i]);
        best = fmax(best, means[i]);
    }
    for (i = 0; i < arms; i++)
        if (means[i] < best) sum += (best - means[i]) / seq_rl_kl(SEQ_RL_KL_BERNOULLI, means[i], best, 0.0);
    *C = sum;
    return SEQ_OK;
}

/* --- 2b the bandit ------------------------------------------------------------------- */

enum { SEQ_RL__N, SEQ_RL__MEAN, SEQ_RL__M2, SEQ_RL__AUX, SEQ_RL__NSTAT };

/* What rewards a policy takes (see the declarations). */
typedef enum seq_rl__support { SEQ_RL__UNIT, SEQ_RL__REAL, SEQ_RL__NONNEG, SEQ_RL__ABOVE_SCALE } seq_rl__support;

/* One entry per kind. A policy either scores arms (the best score wins; `sampled` when the
 * scores are posterior draws) or knows its distribution over arms (probs). */
typedef void (*seq_rl__score_fn)(const void *obj, seq_rng *rng, double *s);
typedef struct seq_rl__bandit_traits {
    const char *name;
    seq_rl__score_fn score; /* obj is the seq_rl_bandit */
    void (*probs)(const seq_rl_bandit *b, double *p);
    void (*learn)(seq_rl_bandit *b, int64_t arm, double r, double prob);
    int sampled;
} seq_rl__bandit_traits;

/* Weighted Welford step: adds reward r with weight w to an arm's (n, mean, M2). */
static void seq_rl__stat_add(double *st, double r, double w) {
    double delta = r - st[SEQ_RL__MEAN];
    st[SEQ_RL__N] += w;
    st[SEQ_RL__MEAN] += w * delta / st[SEQ_RL__N];
    st[SEQ_RL__M2] += w * delta * (r - st[SEQ_RL__MEAN]);
}

/* Welford in reverse: drops reward r (the sliding window's oldest) from the arm. */
static void seq_rl__stat_remove(double *st, double r) {
    double n = st[SEQ_RL__N] - 1.0, mean;
    if (n < 0.5) { /* the last one: exactly empty again, no rounding residue */
        st[SEQ_RL__N] = st[SEQ_RL__MEAN] = st[SEQ_RL__M2] = 0.0;
        return;
    }
    mean = (st[SEQ_RL__N] * st[SEQ_RL__MEAN] - r) / n;
    st[SEQ_RL__M2] = fmax(0.0, st[SEQ_RL__M2] - (r - mean) * (r - st[SEQ_RL__MEAN]));
    st[SEQ_RL__MEAN] = mean;
    st[SEQ_RL__N] = n;
}

/* Total count over the arms: t of the UCB indices (discounted or windowed where the
 * policy forgets). */
static double seq_rl__total(const seq_rl_bandit *b) {
    double t = 0.0;
    int64_t i;
    for (i = 0; i < b->cfg.arms; i++) t += b->stats[i * SEQ_RL__NSTAT + SEQ_RL__N];
    return t;
}

#define SEQ_RL__ARM(b, i) ((b)->stats + (i) * SEQ_RL__NSTAT)

static void seq_rl__learn_mean(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    (void)prob;
    seq_rl__stat_add(SEQ_RL__ARM(b, arm), r, 1.0);
}

static void seq_rl__learn_pareto(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    SEQ_RL__ARM(b, arm)[SEQ_RL__AUX] += log(r / b->cfg.prior[0]);
    seq_rl__learn_mean(b, arm, r, prob);
}

static void seq_rl__learn_exp3(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    SEQ_RL__ARM(b, arm)[SEQ_RL__AUX] += b->cfg.gamma * r / (prob * (double)b->cfg.arms);
    seq_rl__learn_mean(b, arm, r, prob);
}

static void seq_rl__learn_exp3_ix(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    SEQ_RL__ARM(b, arm)[SEQ_RL__AUX] -= b->cfg.eta * (1.0 - r) / (prob + b->cfg.gamma);
    seq_rl__learn_mean(b, arm, r, prob);
}

static void seq_rl__learn_discounted(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    int64_t i;
    (void)prob;
    for (i = 0; i < b->cfg.arms; i++) { /* the mean is unchanged by discounting; n and M2 shrink */
        SEQ_RL__ARM(b, i)[SEQ_RL__N] *= b->cfg.gamma;
        SEQ_RL__ARM(b, i)[SEQ_RL__M2] *= b->cfg.gamma;
    }
    seq_rl__stat_add(SEQ_RL__ARM(b, arm), r, 1.0);
}

static void seq_rl__learn_window(seq_rl_bandit *b, int64_t arm, double r, double prob) {
    int64_t slot = b->updates % b->cfg.window; /* updates counts this reward only after learn */
    (void)prob;
    if (b->updates >= b->cfg.window) seq_rl__stat_remove(SEQ_RL__ARM(b, b->win_arm[slot]), b->win_reward[slot]);
    b->win_arm[slot] = arm;
    b->win_reward[slot] = r;
    seq_rl__stat_add(SEQ_RL__ARM(b, arm), r, 1.0);
}

/* UCB-family index of every arm: +inf until an arm has data, then mean + bonus(n, ln t). */
static void seq_rl__score_ucb(const void *obj, seq_rng *rng, double *s) {
    const seq_rl_bandit *b = (const seq_rl_bandit *)obj;
    const seq_rl_bandit_config *c = &b->cfg;
    double lt = log(fmax(seq_rl__total(b), 1.0));
    int64_t i;
    (void)rng;
    for (i = 0; i < c->arms; i++) {
        const double *st = SEQ_RL__ARM(b, i);
        double n = st[SEQ_RL__N], mean = st[SEQ_RL__MEAN];
        if (!(n > 0.0)) {
            s[i] = INFINITY;
            continue;
        }
        switch (c->kind) {
        case SEQ_RL_BANDIT_UCB1: s[i] = mean + sqrt(c->c * lt / n); break;
        case SEQ_RL_BANDIT_UCB_V: s[i] = mean + sqrt(2.0 * (st[SEQ_RL__M2] / n) * c->c * lt / n) + 3.0 * c->c * lt / n; break;
        case SEQ_RL_BANDIT_KL_UCB:
            s[i] = seq_rl_klucb(c->family, mean, (lt + (lt > 1.0 ? c->c * log(lt) : 0.0)) / n, c->variance);
            break;
        case SEQ_RL_BANDIT_DISCOUNTED_UCB: s[i] = mean + 2.0 * sqrt(c->c * fmax(lt, 0.0) / n); break;
        default: s[i] = mean + sqrt(c->c * fmax(lt, 0.0) / n); break; /* sliding window */
        }
    }
}

/* One posterior draw of each arm's mean. */
static void seq_rl__score_thompson(const void *obj, seq_rng *rng, double *s) {
    const seq_rl_bandit *b = (const seq_rl_bandit *)obj;
    const double *pr = b->cfg.prior;
    int64_t i;
    for (i = 0; i < b->cfg.arms; i++) {
        const double *st = SEQ_RL__ARM(b, i);
        double n = st[SEQ_RL__N], mean = st[SEQ_RL__MEAN];
        if (b->cfg.kind == SEQ_RL_BANDIT_THOMPSON_BETA) {
            s[i] = seq_rng_beta(rng, pr[0] + n * mean, pr[1] + n * (1.0 - mean));
        } else if (b->cfg.kind == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN) { /* Normal-Gamma posterior */
            double lam = pr[1] + n, mu = (pr[1] * pr[0] + n * mean) / lam;
            double beta = pr[3] + 0.5 * st[SEQ_RL__M2] + pr[1] * n * (mean - pr[0]) * (mean - pr[0]) / (2.0 * lam);
            double prec = seq_rng_gamma(rng, pr[2] + 0.5 * n, 1.0 / beta);
            s[i] = seq_rng_normal(rng, mu, 1.0 / sqrt(lam * prec));
        } else { /* Pareto: shape ~ Gamma(a0 + n, b0 + sum ln(r/x_m)); mean x_m a/(a-1), inf for a <= 1 */
            double a = seq_rng_gamma(rng, pr[1] + n, 1.0 / (pr[2] + st[SEQ_RL__AUX]));
            s[i] = a > 1.0 ? pr[0] * a / (a - 1.0) : INFINITY;
        }
    }
}

/* Optimistic initial values (Sutton & Barto 2.6): an arm without data counts as the top
 * of the reward range, so every arm gets tried. */
static double seq_rl__value(const seq_rl_bandit *b, int64_t i) {
    return SEQ_RL__ARM(b, i)[SEQ_RL__N] > 0.0 ? SEQ_RL__ARM(b, i)[SEQ_RL__MEAN] : 1.0;
}

/* p = softmax(v / temp) + mix, the log-sum-exp way: v is read through value(). */
static void seq_rl__softmax(const seq_rl_bandit *b, double *p, double inv_temp, double mix, int log_weights) {
    double m = -INFINITY, z = 0.0;
    int64_t i, K = b->cfg.arms;
    for (i = 0; i < K; i++) {
        p[i] = inv_temp * (log_weights ? SEQ_RL__ARM(b, i)[SEQ_RL__AUX] : seq_rl__value(b, i));
        m = fmax(m, p[i]);
    }
    for (i = 0; i < K; i++) z += (p[i] = exp(p[i] - m));
    for (i = 0; i < K; i++) p[i] = (1.0 - mix) * p[i] / z + mix / (double)K;
}

static void seq_rl__probs_softmax(const seq_rl_bandit *b, double *p) {
    seq_rl__softmax(b, p, 1.0 / b->cfg.temperature, 0.0, 0);
}
static void seq_rl__probs_exp3(const seq_rl_bandit *b, double *p) { seq_rl__softmax(b, p, 1.0, b->cfg.gamma, 1); }
static void seq_rl__probs_exp3_ix(const seq_rl_bandit *b, double *p) { seq_rl__softmax(b, p, 1.0, 0.0, 1); }

static void seq_rl__probs_epsilon(const seq_rl_bandit *b, double *p) {
    const seq_rl_bandit_config *c = &b->cfg;
    double eps = c->epsilon, best = -INFINITY, K = (double)c->arms, ties = 0.0;
    int64_t i;
    if (c->epsilon_c > 0.0 && b->updates > 0)
        eps = fmin(eps, c->epsilon_c * K / (c->epsilon_d * c->epsilon_d * (double)b->updates));
    for (i = 0; i < c->arms; i++) best = fmax(best, seq_rl__value(b, i));
    for (i = 0; i < c->arms; i++) ties += seq_rl__value(b, i) == best;
    for (i = 0; i < c->arms; i++) p[i] = eps / K + (seq_rl__value(b, i) == best ? (1.0 - eps) / ties : 0.0);
}

static const seq_rl__bandit_traits seq_rl__bandit_table[SEQ_RL_BANDIT_KIND_COUNT] = {
    {"epsilon-greedy", NULL, seq_rl__probs_epsilon, seq_rl__learn_mean, 0},
    {"ucb1", seq_rl__score_ucb, NULL, seq_rl__learn_mean, 0},
    {"ucb-v", seq_rl__score_ucb, NULL, seq_rl__learn_mean, 0},
    {"kl-ucb", seq_rl__score_ucb, NULL, seq_rl__learn_mean, 0},
    {"thompson-beta", seq_rl__score_thompson, NULL, seq_rl__learn_mean, 1},
    {"thompson-gaussian", seq_rl__score_thompson, NULL, seq_rl__learn_mean, 1},
    {"thompson-pareto", seq_rl__score_thompson, NULL, seq_rl__learn_pareto, 1},
    {"softmax", NULL, seq_rl__probs_softmax, seq_rl__learn_mean, 0},
    {"exp3", NULL, seq_rl__probs_exp3, seq_rl__learn_exp3, 0},
    {"exp3-ix", NULL, seq_rl__probs_exp3_ix, seq_rl__learn_exp3_ix, 0},
    {"discounted-ucb", seq_rl__score_ucb, NULL, seq_rl__learn_discounted, 0},
    {"sliding-window-ucb", seq_rl__score_ucb, NULL, seq_rl__learn_window, 0},
};

static seq_rl__support seq_rl__bandit_support(const seq_rl_bandit_config *c) {
    if (c->kind == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN) return SEQ_RL__REAL;
    if (c->kind == SEQ_RL_BANDIT_THOMPSON_PARETO) return SEQ_RL__ABOVE_SCALE;
    if (c->kind == SEQ_RL_BANDIT_KL_UCB && c->family == SEQ_RL_KL_GAUSSIAN) return SEQ_RL__REAL;
    if (c->kind == SEQ_RL_BANDIT_KL_UCB && c->family == SEQ_RL_KL_POISSON) return SEQ_RL__NONNEG;
    return SEQ_RL__UNIT;
}

SEQDEF const char *seq_rl_bandit_kind_name(seq_rl_bandit_kind kind) {
    return (unsigned)kind < SEQ_RL_BANDIT_KIND_COUNT ? seq_rl__bandit_table[kind].name : "unknown";
}

SEQDEF seq_rl_bandit_config seq_rl_bandit_config_default(seq_rl_bandit_kind kind, int64_t arms) {
    seq_rl_bandit_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.arms = arms;
    c.reward_max = 1.0;
    c.c = kind == SEQ_RL_BANDIT_UCB1 ? 2.0 : kind == SEQ_RL_BANDIT_UCB_V ? 1.2 : kind == SEQ_RL_BANDIT_KL_UCB ? 0.0 : 0.6;
    c.epsilon = 0.1;
    c.epsilon_d = 0.1;
    c.temperature = 0.1;
    c.horizon = 10000;
    c.gamma = kind == SEQ_RL_BANDIT_DISCOUNTED_UCB ? 0.999 : 0.0;
    c.window = 1000;
    c.family = SEQ_RL_KL_BERNOULLI;
    c.variance = 0.25;
    if (kind == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN) {
        c.prior[1] = c.prior[2] = c.prior[3] = 1.0;
    } else {
        c.prior[0] = c.prior[1] = c.prior[2] = 1.0;
    }
    c.propensity_draws = 100;
    c.max_pending = 1024;
    return c;
}

/* Every rule a configuration must satisfy; a message naming the field when it does not. */
static seq_status seq_rl__bandit_check(const seq_rl_bandit_config *c, const char *fn) {
    const double *p = c->prior;
    const char *bad = NULL;
    if ((unsigned)c->kind >= SEQ_RL_BANDIT_KIND_COUNT) bad = "kind";
    else if (c->arms < 1) bad = "arms (zero arms)";
    else if (!(isfinite(c->reward_min) && isfinite(c->reward_max) && c->reward_min < c->reward_max)) bad = "reward range";
    else if (!(c->c >= 0.0 && isfinite(c->c))) bad = "c";
    else if (!(c->epsilon >= 0.0 && c->epsilon <= 1.0) || !(c->epsilon_c >= 0.0) || !(c->epsilon_d > 0.0)) bad = "epsilon";
    else if (!(c->temperature > 0.0 && isfinite(c->temperature))) bad = "temperature";
    else if (c->horizon < 1) bad = "horizon";
    else if (!(c->gamma >= 0.0 && c->gamma <= 1.0) || !(c->eta >= 0.0 && isfinite(c->eta))) bad = "gamma or eta";
    else if (c->kind == SEQ_RL_BANDIT_DISCOUNTED_UCB && !(c->gamma > 0.0 && c->gamma < 1.0)) bad = "gamma (discount in (0,1))";
    else if (c->window < 1) bad = "window";
    else if ((unsigned)c->family >= SEQ_RL_KL_FAMILY_COUNT || !(c->variance > 0.0 && isfinite(c->variance))) bad = "family or variance";
    else if (!(isfinite(p[0]) && p[1] > 0.0 && p[2] > 0.0 && isfinite(p[1]) && isfinite(p[2]) && isfinite(p[3]))) bad = "prior";
    else if (c->kind == SEQ_RL_BANDIT_THOMPSON_GAUSSIAN && !(p[3] > 0.0)) bad = "prior (beta0 > 0)";
    else if (c->kind == SEQ_RL_BANDIT_THOMPSON_PARETO && !(p[0] > 0.0)) bad = "prior (scale x_m > 0)";
    else if (c->propensity_draws < 0 || c->max_pending < 0) bad = "propensity_draws or max_pending";
    return bad ? seq_set_error(SEQ_ERR_INVALID, "%s: bad %s", fn, bad) : SEQ_OK;
}

#define SEQ_RL__ALLOC(b, ptr, type, n) \
    ((ptr) = (type *)SEQ_MALLOC((b)->alloc_ud, (size_t)(n) * sizeof(type) + 1), (ptr) != NULL)

SEQDEF seq_status seq_rl_bandit_init(seq_rl_bandit *b, const seq_rl_bandit_config *cfg, void *alloc_ud) {
    seq_status s;
    double K, T;
    int64_t i, P, W;
    if (!b || !cfg) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_init: NULL bandit or config");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl__bandit_check(cfg, "seq_rl_bandit_init")) != SEQ_OK) return s;
    b->cfg = *cfg;
    b->alloc_ud = alloc_ud;
    K = (double)cfg->arms;
    T = (double)cfg->horizon;
    if (cfg->kind == SEQ_RL_BANDIT_EXP3 && cfg->gamma == 0.0) b->cfg.gamma = fmin(1.0, sqrt(K * log(K) / ((exp(1.0) - 1.0) * T)));
    if (cfg->kind == SEQ_RL_BANDIT_EXP3_IX) {
        if (cfg->eta == 0.0) b->cfg.eta = sqrt(2.0 * log(K) / (K * T));
        if (cfg->gamma == 0.0) b->cfg.gamma = 0.5 * b->cfg.eta;
    }
    P = cfg->max_pending;
    W = cfg->kind == SEQ_RL_BANDIT_SLIDING_WINDOW_UCB ? cfg->window : 0;
    if (!SEQ_RL__ALLOC(b, b->stats, double, cfg->arms * SEQ_RL__NSTAT) || !SEQ_RL__ALLOC(b, b->work, double, cfg->arms) ||
        !SEQ_RL__ALLOC(b, b->win_arm, int64_t, W) || !SEQ_RL__ALLOC(b, b->win_reward, double, W) ||
        !SEQ_RL__ALLOC(b, b->pend_id, int64_t, P) || !SEQ_RL__ALLOC(b, b->pend_arm, int64_t, P) ||
        !SEQ_RL__ALLOC(b, b->pend_prob, double, P)) {
        seq_rl_bandit_free(b);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_bandit_init: out of memory for %lld arms", (long long)cfg->arms);
    }
    memset(b->stats, 0, (size_t)(cfg->arms * SEQ_RL__NSTAT) * sizeof(double));
    memset(b->work, 0, (size_t)cfg->arms * sizeof(double));
    memset(b->win_arm, 0, (size_t)W * sizeof(int64_t));
    memset(b->win_reward, 0, (size_t)W * sizeof(double));
    for (i = 0; i < P; i++) {
        b->pend_id[i] = -1;
        b->pend_arm[i] = 0;
        b->pend_prob[i] = 0.0;
    }
    return SEQ_OK;
}

SEQDEF void seq_rl_bandit_free(seq_rl_bandit *b) {
    if (!b) return;
    SEQ_FREE(b->alloc_ud, b->stats);
    SEQ_FREE(b->alloc_ud, b->work);
    SEQ_FREE(b->alloc_ud, b->win_arm);
    SEQ_FREE(b->alloc_ud, b->win_reward);
    SEQ_FREE(b->alloc_ud, b->pend_id);
    SEQ_FREE(b->alloc_ud, b->pend_arm);
    SEQ_FREE(b->alloc_ud, b->pend_prob);
    memset(b, 0, sizeof *b);
}

/* Index of the largest s[i], ties broken uniformly at random (one draw only when there
 * is a tie); *ties receives how many arms share the maximum. */
static int64_t seq_rl__argmax(const double *s, int64_t n, seq_rng *rng, int64_t *ties) {
    int64_t i, best = 0, k = 1;
    for (i = 1; i < n; i++)
        if (s[i] > s[best]) best = i, k = 1;
        else if (s[i] == s[best]) k++;
    *ties = k;
    if (k > 1) { /* the j-th of the tied arms, j uniform */
        int64_t j = (int64_t)seq_rng_below(rng, (uint64_t)k);
        for (i = best; i < n; i++)
            if (s[i] == s[best] && j-- == 0) return i;
    }
    return best;
}

/* The arm with the best score (s of `arms` values in work) and its probability: 1/ties
 * for a deterministic index (draws < 0); for random scores (posterior samples, a random
 * beta), the chance that a fresh draw picks the same arm, (1 + hits) / (1 + draws),
 * counting this draw; NaN when draws == 0. */
static int64_t seq_rl__pick(seq_rl__score_fn score, const void *obj, int64_t arms, double *work, seq_rng *rng,
                            int64_t draws, double *prob) {
    int64_t arm, ties, d, hits = 0;
    score(obj, rng, work);
    arm = seq_rl__argmax(work, arms, rng, &ties);
    *prob = 1.0 / (double)ties;
    if (draws < 0) return arm;
    for (d = 0; d < draws; d++) {
        score(obj, rng, work);
        hits += seq_rl__argmax(work, arms, rng, &ties) == arm;
    }
    *prob = draws ? (double)(1 + hits) / (double)(1 + draws) : NAN;
    return arm;
}

SEQDEF seq_status seq_rl_bandit_select(seq_rl_bandit *b, seq_rng *rng, seq_rl_choice *out) {
    const seq_rl__bandit_traits *tr;
    int64_t arm;
    double prob;
    if (!b || !b->stats || !rng || !out)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_select: NULL or uninitialized argument");
    tr = &seq_rl__bandit_table[b->cfg.kind];
    if (tr->probs) {
        tr->probs(b, b->work);
        arm = seq_rng_categorical(rng, b->work, b->cfg.arms);
        if (arm < 0) return seq_set_error(SEQ_ERR_NUMERIC, "seq_rl_bandit_select: %s probabilities are not finite", tr->name);
        prob = b->work[arm];
    } else {
        arm = seq_rl__pick(tr->score, b, b->cfg.arms, b->work, rng, tr->sampled ? b->cfg.propensity_draws : -1, &prob);
    }
    out->arm = arm;
    out->prob = prob;
    out->id = b->decisions++;
    if (b->cfg.max_pending > 0) {
        int64_t slot = out->id % b->cfg.max_pending;
        b->pend_id[slot] = out->id;
        b->pend_arm[slot] = arm;
        b->pend_prob[slot] = prob;
    }
    return SEQ_OK;
}

/* The checks every bandit's update makes before it changes anything: the arm, the
 * propensity (NaN allowed where it is estimated and draws were 0) and a finite reward. */
static seq_status seq_rl__check_feedback(const char *fn, int64_t arm, int64_t arms, double prob, int sampled,
                                         double reward) {
    if (arm < 0 || arm >= arms)
        return seq_set_error(SEQ_ERR_RANGE, "%s: arm %lld outside [0,%lld)", fn, (long long)arm, (long long)arms);
    if (!(prob > 0.0 && prob <= 1.0) && !(sampled && isnan(prob)))
        return seq_set_error(SEQ_ERR_INVALID, "%s: propensity %g outside (0,1]", fn, prob);
    if (!isfinite(reward)) return seq_set_error(SEQ_ERR_INVALID, "%s: reward %g is not finite", fn, reward);
    return SEQ_OK;
}

/* Validates, then learns: nothing changes unless every check passed. */
static seq_status seq_rl__bandit_learn(seq_rl_bandit *b, const char *fn, int64_t arm, double prob, double reward) {
    const seq_rl_bandit_config *c = &b->cfg;
    seq_rl__support sup = seq_rl__bandit_support(c);
    seq_status s = seq_rl__check_feedback(fn, arm, c->arms, prob, seq_rl__bandit_table[c->kind].sampled, reward);
    if (s != SEQ_OK) return s;
    if ((sup == SEQ_RL__UNIT && (reward < c->reward_min || reward > c->reward_max)) ||
        (sup == SEQ_RL__NONNEG && reward < 0.0) || (sup == SEQ_RL__ABOVE_SCALE && reward < c->prior[0]))
        return seq_set_error(SEQ_ERR_RANGE, "%s: reward %g outside what %s takes", fn, reward,
                             seq_rl__bandit_table[c->kind].name);
    if (sup == SEQ_RL__UNIT) reward = (reward - c->reward_min) / (c->reward_max - c->reward_min);
    seq_rl__bandit_table[c->kind].learn(b, arm, reward, prob);
    b->updates++;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_bandit_update(seq_rl_bandit *b, const seq_rl_choice *c, double reward) {
    seq_status s;
    if (!b || !b->stats || !c) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_update: NULL or uninitialized argument");
    s = seq_rl__bandit_learn(b, "seq_rl_bandit_update", c->arm, c->prob, reward);
    if (s == SEQ_OK && b->cfg.max_pending > 0 && c->id >= 0 && b->pend_id[c->id % b->cfg.max_pending] == c->id)
        b->pend_id[c->id % b->cfg.max_pending] = -1; /* rewarded: update_id must not count it again */
    return s;
}

SEQDEF seq_status seq_rl_bandit_update_id(seq_rl_bandit *b, int64_t id, double reward) {
    int64_t slot;
    seq_status s;
    if (!b || !b->stats) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_update_id: NULL or uninitialized bandit");
    if (id < 0 || b->cfg.max_pending == 0 || b->pend_id[id % b->cfg.max_pending] != id)
        return seq_set_error(SEQ_ERR_RANGE, "seq_rl_bandit_update_id: decision %lld is not awaiting a reward "
                                            "(unknown, already rewarded, or older than the last %lld)",
                             (long long)id, (long long)b->cfg.max_pending);
    slot = id % b->cfg.max_pending;
    s = seq_rl__bandit_learn(b, "seq_rl_bandit_update_id", b->pend_arm[slot], b->pend_prob[slot], reward);
    if (s == SEQ_OK) b->pend_id[slot] = -1;
    return s;
}

SEQDEF double seq_rl_bandit_mean(const seq_rl_bandit *b, int64_t arm) {
    const double *st;
    if (!b || !b->stats || arm < 0 || arm >= b->cfg.arms) return NAN;
    st = SEQ_RL__ARM(b, arm);
    if (!(st[SEQ_RL__N] > 0.0)) return NAN;
    return seq_rl__bandit_support(&b->cfg) == SEQ_RL__UNIT
               ? b->cfg.reward_min + st[SEQ_RL__MEAN] * (b->cfg.reward_max - b->cfg.reward_min)
               : st[SEQ_RL__MEAN];
}

/* The configuration's scalars, in save order (kind and family travel as integers). */
static const size_t seq_rl__bandit_cfg_f64[] = {
    offsetof(seq_rl_bandit_config, reward_min), offsetof(seq_rl_bandit_config, reward_max),
    offsetof(seq_rl_bandit_config, c),          offsetof(seq_rl_bandit_config, epsilon),
    offsetof(seq_rl_bandit_config, epsilon_c),  offsetof(seq_rl_bandit_config, epsilon_d),
    offsetof(seq_rl_bandit_config, temperature), offsetof(seq_rl_bandit_config, gamma),
    offsetof(seq_rl_bandit_config, eta),        offsetof(seq_rl_bandit_config, variance),
    offsetof(seq_rl_bandit_config, prior[0]),   offsetof(seq_rl_bandit_config, prior[1]),
    offsetof(seq_rl_bandit_config, prior[2]),   offsetof(seq_rl_bandit_config, prior[3])};
static const size_t seq_rl__bandit_cfg_i64[] = {
    offsetof(seq_rl_bandit_config, arms), offsetof(seq_rl_bandit_config, horizon),
    offsetof(seq_rl_bandit_config, window), offsetof(seq_rl_bandit_config, propensity_draws),
    offsetof(seq_rl_bandit_config, max_pending)};
#define SEQ_RL__NCFG_F64 (sizeof seq_rl__bandit_cfg_f64 / sizeof seq_rl__bandit_cfg_f64[0])
#define SEQ_RL__NCFG_I64 (sizeof seq_rl__bandit_cfg_i64 / sizeof seq_rl__bandit_cfg_i64[0])

SEQDEF seq_status seq_rl_bandit_save(const seq_rl_bandit *b, const char *path) {
    seq_rl_save w;
    double cf[SEQ_RL__NCFG_F64];
    int64_t ci[SEQ_RL__NCFG_I64 + 4], K, W, P;
    size_t i;
    if (!b || !b->stats) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_save: NULL or uninitialized bandit");
    for (i = 0; i < SEQ_RL__NCFG_F64; i++) memcpy(cf + i, (const char *)&b->cfg + seq_rl__bandit_cfg_f64[i], sizeof(double));
    for (i = 0; i < SEQ_RL__NCFG_I64; i++) memcpy(ci + i, (const char *)&b->cfg + seq_rl__bandit_cfg_i64[i], sizeof(int64_t));
    ci[i++] = (int64_t)b->cfg.kind;
    ci[i++] = (int64_t)b->cfg.family;
    ci[i++] = b->decisions;
    ci[i++] = b->updates;
    K = b->cfg.arms;
    W = b->cfg.kind == SEQ_RL_BANDIT_SLIDING_WINDOW_UCB ? b->cfg.window : 0;
    P = b->cfg.max_pending;
    seq_rl_save_begin(&w, "bandit", b->alloc_ud);
    seq_rl_save_i64s(&w, "config_i", (int64_t)(SEQ_RL__NCFG_I64 + 4), ci);
    seq_rl_save_f64s(&w, "config_f", (int64_t)SEQ_RL__NCFG_F64, cf);
    seq_rl_save_f64s(&w, "stats", K * SEQ_RL__NSTAT, b->stats);
    seq_rl_save_i64s(&w, "window_arm", W, b->win_arm);
    seq_rl_save_f64s(&w, "window_reward", W, b->win_reward);
    seq_rl_save_i64s(&w, "pending_id", P, b->pend_id);
    seq_rl_save_i64s(&w, "pending_arm", P, b->pend_arm);
    seq_rl_save_f64s(&w, "pending_prob", P, b->pend_prob);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_bandit_load(seq_rl_bandit *b, const char *path, void *alloc_ud) {
    seq_rl_load r;
    seq_rl_bandit_config cfg;
    double cf[SEQ_RL__NCFG_F64];
    int64_t ci[SEQ_RL__NCFG_I64 + 4], K, W, P;
    size_t i;
    seq_status s;
    if (!b) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_bandit_load: NULL bandit");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl_load_open(&r, path, "bandit", alloc_ud)) != SEQ_OK) return s;
    s = seq_rl_load_i64s(&r, "config_i", (int64_t)(SEQ_RL__NCFG_I64 + 4), ci);
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "config_f", (int64_t)SEQ_RL__NCFG_F64, cf);
    if (s == SEQ_OK) {
        memset(&cfg, 0, sizeof cfg);
        for (i = 0; i < SEQ_RL__NCFG_F64; i++) memcpy((char *)&cfg + seq_rl__bandit_cfg_f64[i], cf + i, sizeof(double));
        for (i = 0; i < SEQ_RL__NCFG_I64; i++) memcpy((char *)&cfg + seq_rl__bandit_cfg_i64[i], ci + i, sizeof(int64_t));
        /* range-check the enums as integers: an out-of-range value must not become one */
        if (ci[i] < 0 || ci[i] >= SEQ_RL_BANDIT_KIND_COUNT || ci[i + 1] < 0 || ci[i + 1] >= SEQ_RL_KL_FAMILY_COUNT ||
            ci[i + 2] < 0 || ci[i + 3] < 0)
            s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has a bad kind, family or counter", path);
        else {
            cfg.kind = (seq_rl_bandit_kind)ci[i];
            cfg.family = (seq_rl_kl_family)ci[i + 1];
            if (seq_rl__bandit_check(&cfg, "seq_rl_bandit_load") != SEQ_OK)
                s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' holds an invalid configuration", path);
        }
    }
    /* a file that asks for more memory than its own fields hold is refused before init */
    if (s == SEQ_OK && seq_rl_load_count(&r, "stats", SEQ_RL_FIELD_F64) != cfg.arms * SEQ_RL__NSTAT)
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has stats for another arm count", path);
    if (s == SEQ_OK && seq_rl_load_count(&r, "pending_id", SEQ_RL_FIELD_I64) != cfg.max_pending)
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has a pending table of another size", path);
    if (s == SEQ_OK && cfg.kind == SEQ_RL_BANDIT_SLIDING_WINDOW_UCB &&
        seq_rl_load_count(&r, "window_arm", SEQ_RL_FIELD_I64) != cfg.window)
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has a window of another size", path);
    if (s == SEQ_OK) s = seq_rl_bandit_init(b, &cfg, alloc_ud);
    if (s == SEQ_OK) {
        b->cfg = cfg; /* the derived gamma and eta as saved */
        b->decisions = ci[SEQ_RL__NCFG_I64 + 2];
        b->updates = ci[SEQ_RL__NCFG_I64 + 3];
        K = cfg.arms;
        W = cfg.kind == SEQ_RL_BANDIT_SLIDING_WINDOW_UCB ? cfg.window : 0;
        P = cfg.max_pending;
        s = seq_rl_load_f64s(&r, "stats", K * SEQ_RL__NSTAT, b->stats);
        if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "window_arm", W, b->win_arm);
        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "window_reward", W, b->win_reward);
        if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "pending_id", P, b->pend_id);
        if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "pending_arm", P, b->pend_arm);
        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "pending_prob", P, b->pend_prob);
        for (i = 0; s == SEQ_OK && i < (size_t)W; i++)
            if (b->win_arm[i] < 0 || b->win_arm[i] >= K)
                s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has an arm out of range", path);
        for (i = 0; s == SEQ_OK && i < (size_t)P; i++)
            if (b->pend_arm[i] < 0 || b->pend_arm[i] >= K)
                s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_bandit_load: '%s' has an arm out of range", path);
        if (s != SEQ_OK) seq_rl_bandit_free(b);
    }
    seq_rl_load_close(&r);
    return s;
}

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits (implementation)
 * =================================================================================== */

/* --- 3a linear bandits ----------------------------------------------------------------- */

/* A = L L^T becomes A + x x^T in O(d^2): the classic rotation sweep down the columns.
 * x is used as scratch. L's diagonal stays positive (A only grows). */
static void seq_rl__chol_rank1(double *L, double *x, int64_t d) {
    int64_t i, k;
    for (k = 0; k < d; k++) {
        double Lkk = L[k * d + k], r = sqrt(Lkk * Lkk + x[k] * x[k]), c = r / Lkk, s = x[k] / Lkk;
        L[k * d + k] = r;
        for (i = k + 1; i < d; i++) {
            L[i * d + k] = (L[i * d + k] + s * x[i]) / c;
            x[i] = c * x[i] - s * L[i * d + k];
        }
    }
}

/* y = L^-1 x (forward substitution). */
static void seq_rl__solve_lower(const double *L, const double *x, double *y, int64_t d) {
    int64_t i, k;
    for (i = 0; i < d; i++) {
        double v = x[i];
        for (k = 0; k < i; k++) v -= L[i * d + k] * y[k];
        y[i] = v / L[i * d + i];
    }
}

/* z = L^-T y (back substitution); z may alias y. */
static void seq_rl__solve_upper(const double *L, const double *y, double *z, int64_t d) {
    int64_t i, k;
    for (i = d - 1; i >= 0; i--) {
        double v = y[i];
        for (k = i + 1; k < d; k++) v -= L[k * d + i] * z[k];
        z[i] = v / L[i * d + i];
    }
}

static double seq_rl__dot(const double *a, const double *b, int64_t n) {
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static int seq_rl__all_finite(const double *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The context a select scores: the bandit and its arms' features. */
typedef struct seq_rl__linear_ctx {
    const seq_rl_linear *b;
    const double *x;
    int64_t stride;
} seq_rl__linear_ctx;

static void seq_rl__score_linear(const void *obj, seq_rng *rng, double *s) {
    const seq_rl__linear_ctx *c = (const seq_rl__linear_ctx *)obj;
    const seq_rl_linear *b = c->b;
    int64_t a, i, d = b->cfg.dim;
    double *u = b->work + b->cfg.arms; /* d scratch values after the arms' scores */
    for (a = 0; a < b->cfg.arms; a++) {
        const double *xa = c->x + a * c->stride, *L = b->L + a * d * d;
        double mean = seq_rl__dot(xa, b->theta + a * d, d);
        if (b->cfg.kind == SEQ_RL_LINUCB) {
            seq_rl__solve_lower(L, xa, u, d);
            s[a] = mean + b->cfg.alpha * sqrt(seq_rl__dot(u, u, d));
        } else { /* x^T (theta + v L^-T z) */
            for (i = 0; i < d; i++) u[i] = seq_rng_normal(rng, 0.0, 1.0);
            seq_rl__solve_upper(L, u, u, d);
            s[a] = mean + b->cfg.alpha * seq_rl__dot(xa, u, d);
        }
    }
}

SEQDEF seq_rl_linear_config seq_rl_linear_config_default(seq_rl_linear_kind kind, int64_t arms, int64_t dim) {
    seq_rl_linear_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.arms = arms;
    c.dim = dim;
    c.alpha = 1.0;
    c.lambda = 1.0;
    c.propensity_draws = 100;
    return c;
}

static seq_status seq_rl__linear_check(const seq_rl_linear_config *c, const char *fn) {
    if ((unsigned)c->kind >= SEQ_RL_LINEAR_KIND_COUNT || c->arms < 1 || c->dim < 1 || !(c->alpha >= 0.0) ||
        !isfinite(c->alpha) || !(c->lambda > 0.0) || !isfinite(c->lambda) || c->propensity_draws < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: bad kind, arms (%lld), dim (%lld), alpha, lambda or propensity_draws",
                             fn, (long long)c->arms, (long long)c->dim);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_linear_init(seq_rl_linear *b, const seq_rl_linear_config *cfg, void *alloc_ud) {
    int64_t a, i, K, d;
    seq_status s;
    if (!b || !cfg) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_init: NULL bandit or config");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl__linear_check(cfg, "seq_rl_linear_init")) != SEQ_OK) return s;
    b->cfg = *cfg;
    b->alloc_ud = alloc_ud;
    K = cfg->arms;
    d = cfg->dim;
    if (!SEQ_RL__ALLOC(b, b->L, double, K * d * d) || !SEQ_RL__ALLOC(b, b->b, double, K * d) ||
        !SEQ_RL__ALLOC(b, b->theta, double, K * d) || !SEQ_RL__ALLOC(b, b->work, double, K + 2 * d)) {
        seq_rl_linear_free(b);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_linear_init: out of memory for %lld arms of dim %lld", (long long)K,
                             (long long)d);
    }
    memset(b->L, 0, (size_t)(K * d * d) * sizeof(double));
    memset(b->b, 0, (size_t)(K * d) * sizeof(double));
    memset(b->theta, 0, (size_t)(K * d) * sizeof(double));
    memset(b->work, 0, (size_t)(K + 2 * d) * sizeof(double));
    for (a = 0; a < K; a++)
        for (i = 0; i < d; i++) b->L[a * d * d + i * d + i] = sqrt(cfg->lambda);
    return SEQ_OK;
}

SEQDEF void seq_rl_linear_free(seq_rl_linear *b) {
    if (!b) return;
    SEQ_FREE(b->alloc_ud, b->L);
    SEQ_FREE(b->alloc_ud, b->b);
    SEQ_FREE(b->alloc_ud, b->theta);
    SEQ_FREE(b->alloc_ud, b->work);
    memset(b, 0, sizeof *b);
}

SEQDEF seq_status seq_rl_linear_select(seq_rl_linear *b, const double *x, int64_t x_stride, seq_rng *rng,
                                       seq_rl_choice *out) {
    seq_rl__linear_ctx c;
    int64_t a;
    if (!b || !b->L || !x || !rng || !out || x_stride < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_select: NULL or uninitialized argument, or negative stride");
    for (a = 0; a < b->cfg.arms; a++)
        if (!seq_rl__all_finite(x + a * x_stride, b->cfg.dim))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_select: arm %lld's features are not finite", (long long)a);
    c.b = b;
    c.x = x;
    c.stride = x_stride;
    out->arm = seq_rl__pick(seq_rl__score_linear, &c, b->cfg.arms, b->work, rng,
                            b->cfg.kind == SEQ_RL_LINTS ? b->cfg.propensity_draws : -1, &out->prob);
    out->id = b->decisions++;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_linear_update(seq_rl_linear *b, const double *x, const seq_rl_choice *c, double reward) {
    int64_t a, d, i;
    double *u;
    seq_status s;
    if (!b || !b->L || !x || !c) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_update: NULL or uninitialized argument");
    s = seq_rl__check_feedback("seq_rl_linear_update", c->arm, b->cfg.arms, c->prob, b->cfg.kind == SEQ_RL_LINTS, reward);
    if (s != SEQ_OK) return s;
    if (!seq_rl__all_finite(x, b->cfg.dim)) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_update: features are not finite");
    a = c->arm;
    d = b->cfg.dim;
    u = b->work + b->cfg.arms;
    memcpy(u, x, (size_t)d * sizeof(double));
    seq_rl__chol_rank1(b->L + a * d * d, u, d);
    for (i = 0; i < d; i++) b->b[a * d + i] += reward * x[i];
    seq_rl__solve_lower(b->L + a * d * d, b->b + a * d, u, d); /* theta = L^-T L^-1 b */
    seq_rl__solve_upper(b->L + a * d * d, u, b->theta + a * d, d);
    b->updates++;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_linear_save(const seq_rl_linear *b, const char *path) {
    seq_rl_save w;
    int64_t ci[6], K, d;
    double cf[2];
    if (!b || !b->L) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_save: NULL or uninitialized bandit");
    K = b->cfg.arms;
    d = b->cfg.dim;
    ci[0] = (int64_t)b->cfg.kind, ci[1] = K, ci[2] = d, ci[3] = b->cfg.propensity_draws;
    ci[4] = b->decisions, ci[5] = b->updates;
    cf[0] = b->cfg.alpha, cf[1] = b->cfg.lambda;
    seq_rl_save_begin(&w, "linear_bandit", b->alloc_ud);
    seq_rl_save_i64s(&w, "config_i", 6, ci);
    seq_rl_save_f64s(&w, "config_f", 2, cf);
    seq_rl_save_f64s(&w, "L", K * d * d, b->L);
    seq_rl_save_f64s(&w, "b", K * d, b->b);
    seq_rl_save_f64s(&w, "theta", K * d, b->theta);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_linear_load(seq_rl_linear *b, const char *path, void *alloc_ud) {
    seq_rl_load r;
    seq_rl_linear_config cfg;
    int64_t ci[6] = {0, 0, 0, 0, 0, 0}, K = 0, d = 0;
    double cf[2] = {0.0, 0.0}; /* zeros only for gcc's may-be-uninitialized analysis */
    seq_status s;
    if (!b) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_linear_load: NULL bandit");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl_load_open(&r, path, "linear_bandit", alloc_ud)) != SEQ_OK) return s;
    s = seq_rl_load_i64s(&r, "config_i", 6, ci);
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "config_f", 2, cf);
    if (s == SEQ_OK && (ci[0] < 0 || ci[0] >= SEQ_RL_LINEAR_KIND_COUNT || ci[4] < 0 || ci[5] < 0))
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_linear_load: '%s' has a bad kind or counter", path);
    if (s == SEQ_OK) {
        K = ci[1];
        d = ci[2];
        cfg = seq_rl_linear_config_default((seq_rl_linear_kind)ci[0], K, d);
        cfg.propensity_draws = ci[3];
        cfg.alpha = cf[0];
        cfg.lambda = cf[1];
        if (seq_rl__linear_check(&cfg, "seq_rl_linear_load") != SEQ_OK)
            s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_linear_load: '%s' holds an invalid configuration", path);
    }
    /* sizes must match the file's own fields before anything is allocated for them */
    if (s == SEQ_OK && (d > INT64_MAX / d || d * d > INT64_MAX / K ||
                        seq_rl_load_count(&r, "L", SEQ_RL_FIELD_F64) != K * d * d))
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_linear_load: '%s' has factors of another size", path);
    if (s == SEQ_OK) s = seq_rl_linear_init(b, &cfg, alloc_ud);
    if (s == SEQ_OK) {
        int64_t i;
        b->decisions = ci[4];
        b->updates = ci[5];
        s = seq_rl_load_f64s(&r, "L", K * d * d, b->L);
        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "b", K * d, b->b);
        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "theta", K * d, b->theta);
        for (i = 0; s == SEQ_OK && i < K * d; i++) /* a factor must stay a factor: positive diagonal */
            if (!(b->L[i * d + i % d] > 0.0) || !isfinite(b->L[i * d + i % d]))
                s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_linear_load: '%s' has a factor that is not positive definite", path);
        if (s != SEQ_OK) seq_rl_linear_free(b);
    }
    seq_rl_load_close(&r);
    return s;
}

/* --- 3b GP-UCB and IRGP-UCB --------------------------------------------------------- */

static double seq_rl__rbf(const seq_rl_gp_config *c, const double *u, const double *v) {
    double d2 = 0.0;
    int64_t i;
    for (i = 0; i < c->dim; i++) d2 += (u[i] - v[i]) * (u[i] - v[i]);
    return c->variance * exp(-0.5 * d2 / (c->lengthscale * c->lengthscale));
}

static double seq_rl__gp_beta(const seq_rl_gp *b, seq_rng *rng) {
    double K = (double)b->cfg.arms, t = (double)(b->updates + 1);
    if (b->cfg.kind == SEQ_RL_GP_UCB) return 2.0 * log(K * t * t * 3.14159265358979323846 * 3.14159265358979323846 / (6.0 * b->cfg.delta));
    return fmax(0.0, 2.0 * log(K / 2.0) - 2.0 * log(1.0 - seq_rng_double(rng))); /* shift + Exp(rate 1/2) */
}

static void seq_rl__score_gp(const void *obj, seq_rng *rng, double *s) {
    const seq_rl_gp *b = (const seq_rl_gp *)obj;
    double rb = sqrt(seq_rl__gp_beta(b, rng));
    int64_t i, K = b->cfg.arms;
    for (i = 0; i < K; i++) s[i] = b->mu[i] + rb * sqrt(fmax(b->cov[i * K + i], 0.0));
}

SEQDEF seq_rl_gp_config seq_rl_gp_config_default(seq_rl_gp_kind kind, int64_t arms, int64_t dim, const double *points) {
    seq_rl_gp_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.arms = arms;
    c.dim = dim;
    c.points = points;
    c.lengthscale = 1.0;
    c.variance = 1.0;
    c.noise = 0.01;
    c.delta = 0.1;
    c.propensity_draws = 100;
    return c;
}

static seq_status seq_rl__gp_check(const seq_rl_gp_config *c, const char *fn) {
    if ((unsigned)c->kind >= SEQ_RL_GP_KIND_COUNT || c->arms < 1 || c->dim < 1 || !c->points ||
        !(c->lengthscale > 0.0 && isfinite(c->lengthscale)) || !(c->variance > 0.0 && isfinite(c->variance)) ||
        !(c->noise > 0.0 && isfinite(c->noise)) || !(c->delta > 0.0 && c->delta < 1.0) || c->propensity_draws < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: bad kind, arms, dim, points, lengthscale, variance, noise, delta or "
                                              "propensity_draws", fn);
    if (!seq_rl__all_finite(c->points, c->arms * c->dim))
        return seq_set_error(SEQ_ERR_INVALID, "%s: the points are not finite", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_gp_init(seq_rl_gp *b, const seq_rl_gp_config *cfg, void *alloc_ud) {
    int64_t i, j, K;
    seq_status s;
    if (!b || !cfg) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gp_init: NULL bandit or config");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl__gp_check(cfg, "seq_rl_gp_init")) != SEQ_OK) return s;
    b->cfg = *cfg;
    b->alloc_ud = alloc_ud;
    K = cfg->arms;
    if (!SEQ_RL__ALLOC(b, b->points, double, K * cfg->dim) || !SEQ_RL__ALLOC(b, b->mu, double, K) ||
        !SEQ_RL__ALLOC(b, b->cov, double, K * K) || !SEQ_RL__ALLOC(b, b->work, double, 2 * K)) {
        seq_rl_gp_free(b);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_gp_init: out of memory for %lld points", (long long)K);
    }
    memcpy(b->points, cfg->points, (size_t)(K * cfg->dim) * sizeof(double));
    b->cfg.points = b->points;
    memset(b->mu, 0, (size_t)K * sizeof(double));
    memset(b->work, 0, (size_t)(2 * K) * sizeof(double));
    for (i = 0; i < K; i++)
        for (j = 0; j < K; j++) b->cov[i * K + j] = seq_rl__rbf(cfg, b->points + i * cfg->dim, b->points + j * cfg->dim);
    return SEQ_OK;
}

SEQDEF void seq_rl_gp_free(seq_rl_gp *b) {
    if (!b) return;
    SEQ_FREE(b->alloc_ud, b->points);
    SEQ_FREE(b->alloc_ud, b->mu);
    SEQ_FREE(b->alloc_ud, b->cov);
    SEQ_FREE(b->alloc_ud, b->work);
    memset(b, 0, sizeof *b);
}

SEQDEF seq_status seq_rl_gp_select(seq_rl_gp *b, seq_rng *rng, seq_rl_choice *out) {
    if (!b || !b->mu || !rng || !out) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gp_select: NULL or uninitialized argument");
    out->arm = seq_rl__pick(seq_rl__score_gp, b, b->cfg.arms, b->work, rng,
                            b->cfg.kind == SEQ_RL_IRGP_UCB ? b->cfg.propensity_draws : -1, &out->prob);
    out->id = b->decisions++;
    return SEQ_OK;
}

/* Conditions the Gaussian posterior on y = f(z_a) + noise:
 *     mu += k (y - mu_a) / s,  cov -= k k^T / s,  k = cov[:, a],  s = cov_aa + noise. */
SEQDEF seq_status seq_rl_gp_update(seq_rl_gp *b, const seq_rl_choice *c, double reward) {
    int64_t i, j, K, a;
    double s, *k;
    seq_status st;
    if (!b || !b->mu || !c) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gp_update: NULL or uninitialized argument");
    st = seq_rl__check_feedback("seq_rl_gp_update", c->arm, b->cfg.arms, c->prob, b->cfg.kind == SEQ_RL_IRGP_UCB, reward);
    if (st != SEQ_OK) return st;
    K = b->cfg.arms;
    a = c->arm;
    k = b->work + K;
    for (i = 0; i < K; i++) k[i] = b->cov[i * K + a];
    s = k[a] + b->cfg.noise;
    reward -= b->mu[a];
    for (i = 0; i < K; i++) {
        b->mu[i] += k[i] * reward / s;
        for (j = 0; j < K; j++) b->cov[i * K + j] -= k[i] * k[j] / s;
    }
    b->updates++;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_gp_save(const seq_rl_gp *b, const char *path) {
    seq_rl_save w;
    int64_t ci[6], K;
    double cf[4];
    if (!b || !b->mu) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gp_save: NULL or uninitialized bandit");
    K = b->cfg.arms;
    ci[0] = (int64_t)b->cfg.kind, ci[1] = K, ci[2] = b->cfg.dim, ci[3] = b->cfg.propensity_draws;
    ci[4] = b->decisions, ci[5] = b->updates;
    cf[0] = b->cfg.lengthscale, cf[1] = b->cfg.variance, cf[2] = b->cfg.noise, cf[3] = b->cfg.delta;
    seq_rl_save_begin(&w, "gp_bandit", b->alloc_ud);
    seq_rl_save_i64s(&w, "config_i", 6, ci);
    seq_rl_save_f64s(&w, "config_f", 4, cf);
    seq_rl_save_f64s(&w, "points", K * b->cfg.dim, b->points);
    seq_rl_save_f64s(&w, "mu", K, b->mu);
    seq_rl_save_f64s(&w, "cov", K * K, b->cov);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_gp_load(seq_rl_gp *b, const char *path, void *alloc_ud) {
    seq_rl_load r;
    seq_rl_gp_config cfg;
    int64_t ci[6], n;
    double cf[4], *points = NULL;
    seq_status s;
    if (!b) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_gp_load: NULL bandit");
    memset(b, 0, sizeof *b);
    if ((s = seq_rl_load_open(&r, path, "gp_bandit", alloc_ud)) != SEQ_OK) return s;
    s = seq_rl_load_i64s(&r, "config_i", 6, ci);
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "config_f", 4, cf);
    n = seq_rl_load_count(&r, "points", SEQ_RL_FIELD_F64);
    if (s == SEQ_OK && (ci[0] < 0 || ci[0] >= SEQ_RL_GP_KIND_COUNT || ci[1] < 1 || ci[2] < 1 || ci[4] < 0 || ci[5] < 0 ||
                        n < 0 || n / ci[2] != ci[1] || n % ci[2] != 0 ||
                        seq_rl_load_count(&r, "cov", SEQ_RL_FIELD_F64) / ci[1] != ci[1]))
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_gp_load: '%s' has a bad kind, counter or size", path);
    if (s == SEQ_OK && !(points = (double *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(double) + 1)))
        s = seq_set_error(SEQ_ERR_NOMEM, "seq_rl_gp_load: out of memory");
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "points", n, points);
    if (s == SEQ_OK) {
        cfg = seq_rl_gp_config_default((seq_rl_gp_kind)ci[0], ci[1], ci[2], points);
        cfg.propensity_draws = ci[3];
        cfg.lengthscale = cf[0], cfg.variance = cf[1], cfg.noise = cf[2], cfg.delta = cf[3];
        if (seq_rl__gp_check(&cfg, "seq_rl_gp_load") != SEQ_OK)
            s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_gp_load: '%s' holds an invalid configuration", path);
    }
    if (s == SEQ_OK) s = seq_rl_gp_init(b, &cfg, alloc_ud);
    if (s == SEQ_OK) {
        b->decisions = ci[4];
        b->updates = ci[5];
        s = seq_rl_load_f64s(&r, "mu", ci[1], b->mu);
        if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "cov", ci[1] * ci[1], b->cov);
        if (s != SEQ_OK) seq_rl_gp_free(b);
    }
    SEQ_FREE(alloc_ud, points);
    seq_rl_load_close(&r);
    return s;
}

/* --- 3c SquareCB ---------------------------------------------------------------------- */

SEQDEF seq_status seq_rl_igw_probs(const double *pred, int64_t arms, double gamma, double *p) {
    int64_t a, best = 0;
    double rest = 0.0;
    if (!pred || !p || arms < 1 || !(gamma >= 0.0) || !isfinite(gamma))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_igw_probs: NULL, %lld arms or gamma %g", (long long)arms, gamma);
    if (!seq_rl__all_finite(pred, arms)) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_igw_probs: predictions not finite");
    for (a = 1; a < arms; a++)
        if (pred[a] > pred[best]) best = a;
    for (a = 0; a < arms; a++)
        if (a != best) rest += (p[a] = 1.0 / ((double)arms + gamma * (pred[best] - pred[a])));
    p[best] = 1.0 - rest; /* >= 1/K: every other arm has at most 1/K */
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_squarecb_select(const double *pred, int64_t arms, double gamma, double *p, seq_rng *rng,
                                         seq_rl_choice *out) {
    seq_status s;
    if (!rng || !out) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_squarecb_select: NULL rng or choice");
    if ((s = seq_rl_igw_probs(pred, arms, gamma, p)) != SEQ_OK) return s;
    out->arm = seq_rng_categorical(rng, p, arms);
    out->prob = p[out->arm];
    out->id = -1;
    return SEQ_OK;
}

/* ===================================================================================
 * 4  off-policy evaluation (implementation)
 * =================================================================================== */

SEQDEF seq_rl_ope_config seq_rl_ope_config_default(seq_rl_ope_estimator estimator) {
    seq_rl_ope_config c;
    memset(&c, 0, sizeof c);
    c.estimator = estimator;
    c.clip = 10.0;
    c.alpha = 0.7;
    c.level = 0.95;
    return c;
}

SEQDEF double seq_rl_normal_quantile(double p) {
    double lo = -40.0, hi = 40.0;
    int it;
    if (!(p > 0.0 && p < 1.0)) return NAN;
    for (it = 0; it < 200 && hi - lo > 1e-13; it++) { /* Phi is monotone: bisection to ~1e-13 */
        double m = 0.5 * (lo + hi);
        if (0.5 * erfc(-m / sqrt(2.0)) < p) lo = m;
        else hi = m;
    }
    return 0.5 * (lo + hi);
}

/* Checks one log sample and its target row; the first problem becomes the error. */
static seq_status seq_rl__ope_check(const seq_rl_log *log, const double *pi, int64_t i) {
    double sum = 0.0;
    int64_t a;
    if (log->action[i] < 0 || log->action[i] >= log->actions)
        return seq_set_error(SEQ_ERR_RANGE, "seq_rl_ope: sample %lld has action %lld outside [0,%lld)", (long long)i,
                             (long long)log->action[i], (long long)log->actions);
    if (!(log->propensity[i] > 0.0 && log->propensity[i] <= 1.0))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: sample %lld has propensity %g outside (0,1]", (long long)i,
                             log->propensity[i]);
    if (!isfinite(log->reward[i]))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: sample %lld has reward %g", (long long)i, log->reward[i]);
    for (a = 0; a < log->actions; a++) {
        if (!(pi[a] >= 0.0 && pi[a] <= 1.0)) sum = NAN;
        sum += pi[a];
    }
    if (!(fabs(sum - 1.0) <= 1e-6))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: target row %lld is not a distribution (sums to %g)",
                             (long long)i, sum);
    return SEQ_OK;
}

/* The estimator's numerator and denominator terms of sample i. */
static seq_status seq_rl__ope_terms(const seq_rl_log *log, const double *pi, const seq_rl_ope_config *c, int64_t i,
                                    double *num, double *den, double *w) {
    const double *x = log->dim ? log->context + i * log->dim : NULL;
    int64_t a, act = log->action[i];
    double p = log->propensity[i], r = log->reward[i], dm = 0.0, q_act = 0.0;
    *w = pi[act] / p;
    *den = 1.0;
    switch (c->estimator) {
    case SEQ_RL_OPE_IPS: *num = *w * r; break;
    case SEQ_RL_OPE_CLIPPED_IPS: *num = fmin(*w, c->clip) * r; break;
    case SEQ_RL_OPE_SNIPS: *num = *w * r, *den = *w; break;
    case SEQ_RL_OPE_SMOOTHED_IPS: *num = pi[act] / pow(p, c->alpha) * r; break;
    default: /* DM, DR */
        for (a = 0; a < log->actions; a++) {
            double q = c->model(c->model_ud, x, a);
            if (!isfinite(q))
                return seq_set_error(SEQ_ERR_NUMERIC, "seq_rl_ope: the reward model gave %g for sample %lld, action %lld", q,
                                     (long long)i, (long long)a);
            dm += pi[a] * q;
            if (a == act) q_act = q;
        }
        *num = c->estimator == SEQ_RL_OPE_DM ? dm : dm + *w * (r - q_act);
    }
    return SEQ_OK;
}

static int seq_rl__cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

SEQDEF seq_status seq_rl_ope(const seq_rl_log *log, const double *target, const seq_rl_ope_config *cfg, seq_rng *rng,
                             seq_rl_ope_result *out) {
    double *num, *den, snum = 0.0, sden = 0.0, sw = 0.0, sw2 = 0.0, ss = 0.0, V, mden, z;
    int64_t i, j, n;
    seq_status s = SEQ_OK;
    if (!log || !target || !cfg || !out || !log->action || !log->reward || !log->propensity ||
        (log->dim > 0 && !log->context) || log->dim < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: NULL log, target, config or result");
    n = log->n;
    if (n < 2 || log->actions < 1)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: %lld samples and %lld actions (need >= 2 and >= 1)",
                             (long long)n, (long long)log->actions);
    if ((unsigned)cfg->estimator >= SEQ_RL_OPE_ESTIMATOR_COUNT || !(cfg->level > 0.0 && cfg->level < 1.0) ||
        cfg->bootstrap < 0 || (cfg->bootstrap > 0 && !rng) || !(cfg->clip > 0.0) || !(cfg->alpha >= 0.0 && cfg->alpha <= 1.0) ||
        ((cfg->estimator == SEQ_RL_OPE_DM || cfg->estimator == SEQ_RL_OPE_DR) && !cfg->model))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ope: bad configuration (estimator, level, bootstrap and rng, "
                                              "clip, alpha, or a DM/DR without a reward model)");
    for (i = 0; i < n; i++)
        if ((s = seq_rl__ope_check(log, target + i * log->actions, i)) != SEQ_OK) return s;
    num = (double *)SEQ_MALLOC(cfg->alloc_ud, (size_t)(2 * n) * sizeof(double));
    if (!num) return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_ope: out of memory for %lld samples", (long long)n);
    den = num + n;
    for (i = 0; i < n && s == SEQ_OK; i++) {
        double w;
        s = seq_rl__ope_terms(log, target + i * log->actions, cfg, i, num + i, den + i, &w);
        snum += num[i];
        sden += den[i];
        sw += w;
        sw2 += w * w;
    }
    if (s == SEQ_OK && !(sden > 0.0)) /* SNIPS with every weight zero: the target never takes a logged action */
        s = seq_set_error(SEQ_ERR_NUMERIC, "seq_rl_ope: the target gives every logged action probability 0");
    if (s == SEQ_OK) {
        V = snum / sden;
        mden = sden / (double)n;
        for (i = 0; i < n; i++) ss += (num[i] - V * den[i]) * (num[i] - V * den[i]);
        out->value = V;
        out->ess = sw2 > 0.0 ? sw * sw / sw2 : 0.0;
        out->se = sqrt(ss / (double)(n - 1)) / (mden * sqrt((double)n));
        z = seq_rl_normal_quantile(0.5 + 0.5 * cfg->level);
        out->lo = V - z * out->se;
        out->hi = V + z * out->se;
    }
    if (s == SEQ_OK && cfg->bootstrap > 0) {
        int64_t B = cfg->bootstrap, klo, khi;
        double *est = (double *)SEQ_MALLOC(cfg->alloc_ud, (size_t)B * sizeof(double)), m = 0.0, v = 0.0;
        if (!est) s = seq_set_error(SEQ_ERR_NOMEM, "seq_rl_ope: out of memory for %lld resamples", (long long)B);
        for (j = 0; est && j < B; j++) {
            double bn = 0.0, bd = 0.0;
            for (i = 0; i < n; i++) {
                int64_t k = (int64_t)seq_rng_below(rng, (uint64_t)n);
                bn += num[k];
                bd += den[k];
            }
            est[j] = bd > 0.0 ? bn / bd : V; /* a resample without a weighted sample says nothing */
            m += est[j] / (double)B;
        }
        if (est) {
            for (j = 0; j < B; j++) v += (est[j] - m) * (est[j] - m);
            qsort(est, (size_t)B, sizeof(double), seq_rl__cmp_double);
            klo = (int64_t)floor(0.5 * (1.0 - cfg->level) * (double)(B - 1));
            khi = (int64_t)ceil((0.5 + 0.5 * cfg->level) * (double)(B - 1));
            out->lo = est[klo];
            out->hi = est[khi];
            out->se = B > 1 ? sqrt(v / (double)(B - 1)) : 0.0;
            SEQ_FREE(cfg->alloc_ud, est);
        }
    }
    SEQ_FREE(cfg->alloc_ud, num);
    return s;
}

/* ===================================================================================
 * 5  environments (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 6  replay buffers (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 9  policy-gradient agents (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper (implementation)
 * =================================================================================== */

#endif /* SEQ_RL_IMPLEMENTATION_DONE */
#endif /* SEQ_RL_IMPLEMENTATION */
