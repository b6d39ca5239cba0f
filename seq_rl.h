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
#include <stdlib.h>
#include <string.h>

/* ===================================================================================
 * 1  save files (implementation)
 * =================================================================================== */


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
        if (!m->W[k] || !m->b[k]) return seq_last_status(); /* seq_params_add said why */
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
