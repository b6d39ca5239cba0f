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
 * truncated episode bootstraps from). Episode returns and lengths are tracked.
 *
 * Envs stepped elsewhere: with step_fn set, seq_rl_vec_env_step checks the actions as
 * always, then calls step_fn(step_ud, actions) instead of stepping envs (which may be
 * NULL). The hook steps every env and leaves the outcome in the arrays below exactly as a
 * local step would (episodes and ep_length included), or returns an error it has set with
 * seq_set_error, which the step returns. Every agent steps through seq_rl_vec_env_step, so
 * each trains on such envs unchanged: seq_mpi.h's seq_mpi_vec_env sets the hook on its
 * gathered record to run the envs on other ranks. Hooks take discrete actions only. */
typedef seq_status (*seq_rl_vec_step_fn)(void *step_ud, const int32_t *actions);

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
    seq_rl_vec_step_fn step_fn; /* NULL: step envs here; else the hook above */
    void *step_ud;        /* step_fn's first argument */
    void *alloc_ud;
} seq_rl_vec_env;

/* n copies of proto (its kind, map, config and hide_velocity), all reset. */
SEQDEF seq_status seq_rl_vec_env_init(seq_rl_vec_env *v, const seq_rl_env *proto, int64_t n, uint64_t seed,
                                      void *alloc_ud);
SEQDEF void seq_rl_vec_env_free(seq_rl_vec_env *v);
/* actions (n) for discrete envs, or (n, act_dim) floats for continuous ones; every action
 * is checked before any env moves. With a step hook, the discrete step calls it (above)
 * and the continuous one is SEQ_ERR_UNSUPPORTED. */
SEQDEF seq_status seq_rl_vec_env_step(seq_rl_vec_env *v, const int32_t *actions);
SEQDEF seq_status seq_rl_vec_env_step_continuous(seq_rl_vec_env *v, const float *actions);
/* Steps v's own envs whether or not it has a hook, with the same checks: what a hook
 * wrapping local envs (adding cost, logging, shaping rewards) calls to take the step. */
SEQDEF seq_status seq_rl_vec_env_step_envs(seq_rl_vec_env *v, const int32_t *actions);

/* ===================================================================================
 * 6  replay buffers: uniform and prioritized (sum tree)
 * =================================================================================== */

/* A replay buffer holds the last `capacity` transitions (obs, action, reward, next_obs,
 * terminated) in a ring; a push into a full buffer overwrites the oldest. A truncated
 * episode is pushed with its final observation as next_obs and terminated = 0, so its
 * target still bootstraps; a terminated one is not bootstrapped.
 *
 * Uniform replay samples slots uniformly (with replacement). Prioritized replay (Schaul
 * et al. 2016, proportional variant) keeps a priority p_i = (|delta_i| + eps)^alpha per
 * slot in a sum tree and a min tree (doubles), and draws P(i) = p_i / sum_j p_j:
 *
 *     stratified   the batch of B splits [0, sum p) into B equal strata, one draw in each
 *     new slots    get the largest priority seen so far (1 at first): each is replayed soon
 *     weights      w_i = (N P(i))^-beta / max_j (N P(j))^-beta, N = size, the max over
 *                  the whole buffer (its smallest priority), so w <= 1
 *     beta         annealed from beta0 to 1 (seq_rl_anneal) as training proceeds
 *
 * The trees are perfect binary trees over capacity rounded up to a power of two; the
 * padding leaves hold priority 0 (min tree: +inf) and are never drawn, so any capacity
 * works. A node is recomputed from its two children on every update, never adjusted by
 * a difference, so the sums do not drift.
 *
 *     seq_rl_replay rb;  seq_rl_batch b;
 *     seq_rl_replay_init(&rb, seq_rl_replay_config_default(10000, obs_dim, n_actions), NULL);
 *     seq_rl_batch_init(&b, 128, obs_dim, NULL);
 *     seq_rl_replay_push(&rb, obs, a, r, next_obs, terminated);
 *     seq_rl_replay_sample(&rb, 128, beta, &rng, &b);       b.idx, b.weights ...
 *     seq_rl_replay_update(&rb, b.idx, td_errors, b.n);      prioritized only */
typedef struct seq_rl_replay_config {
    int64_t capacity;  /* transitions kept, >= 1 */
    int64_t obs_dim;   /* floats per observation, >= 1 */
    int64_t n_actions; /* actions must lie in [0, n_actions) */
    int prioritized;   /* 0: uniform */
    double alpha;      /* priority exponent (0.6) */
    double eps;        /* added to |delta| so no transition starves (1e-6) */
} seq_rl_replay_config;

typedef struct seq_rl_replay {
    seq_rl_replay_config cfg;
    int64_t size;           /* transitions held, <= capacity */
    int64_t next;           /* the slot the next push writes */
    float *obs, *next_obs;  /* (capacity, obs_dim) */
    float *rewards;         /* (capacity) */
    int32_t *actions;       /* (capacity) */
    uint8_t *terminated;    /* (capacity) */
    /* prioritized: trees of 2 * leaves nodes, node k's children 2k and 2k+1, leaf i at
     * node leaves + i, the root at 1 */
    int64_t leaves;         /* capacity rounded up to a power of two */
    double *sum_tree, *min_tree;
    double max_priority;    /* largest |delta| + eps seen (before ^alpha); 1 at first */
    void *alloc_ud;
} seq_rl_replay;

/* A sampled minibatch; arrays owned by the batch, sized at init for up to `cap` rows. */
typedef struct seq_rl_batch {
    int64_t n, cap, obs_dim;
    float *obs, *next_obs;  /* (n, obs_dim) */
    float *rewards;         /* (n) */
    float *not_done;        /* (n) 1 - terminated: multiplies the bootstrap term */
    float *weights;         /* (n) importance weights (all 1 for uniform replay) */
    int32_t *actions;       /* (n) */
    int64_t *idx;           /* (n) buffer slots, for seq_rl_replay_update */
    void *alloc_ud;
} seq_rl_batch;

SEQDEF seq_rl_replay_config seq_rl_replay_config_default(int64_t capacity, int64_t obs_dim, int64_t n_actions);
/* SEQ_ERR_INVALID for a size < 1, alpha outside [0,1] or eps not > 0 (prioritized);
 * SEQ_ERR_NOMEM. On failure rb is zeroed and needs no free. */
SEQDEF seq_status seq_rl_replay_init(seq_rl_replay *rb, seq_rl_replay_config cfg, void *alloc_ud);
SEQDEF void seq_rl_replay_free(seq_rl_replay *rb);
/* Stores one transition. Non-finite observations or reward are SEQ_ERR_INVALID, an
 * action outside [0, n_actions) SEQ_ERR_RANGE; the buffer is then unchanged. */
SEQDEF seq_status seq_rl_replay_push(seq_rl_replay *rb, const float *obs, int64_t action, float reward,
                                     const float *next_obs, int terminated);
/* Draws n <= b->cap transitions into b with rng: uniform, or prioritized and stratified
 * with importance weights at exponent beta in [0,1]. An empty buffer is SEQ_ERR_STATE. */
SEQDEF seq_status seq_rl_replay_sample(seq_rl_replay *rb, int64_t n, double beta, seq_rng *rng, seq_rl_batch *b);
/* Prioritized: new priorities (|td| + eps)^alpha for slots idx (n of them, as sampled).
 * A non-finite td is SEQ_ERR_INVALID, a slot outside [0, size) SEQ_ERR_RANGE: checked
 * before anything changes. Uniform buffers accept the call and ignore it. */
SEQDEF seq_status seq_rl_replay_update(seq_rl_replay *rb, const int64_t *idx, const float *td, int64_t n);
/* P(i) of slot i (prioritized; 1/size when uniform), and the sum of all priorities. */
SEQDEF double seq_rl_replay_prob(const seq_rl_replay *rb, int64_t i);
SEQDEF double seq_rl_replay_total(const seq_rl_replay *rb);
/* Prioritized: the slot where the running sum of leaf priorities, in slot order, first
 * exceeds u, for u in [0, total); never a slot of priority 0. */
SEQDEF int64_t seq_rl_replay_find(const seq_rl_replay *rb, double u);
/* The whole buffer, priorities included; load needs a buffer initialized with the same
 * config (capacity, obs_dim, n_actions, prioritized): SEQ_ERR_FORMAT otherwise. */
SEQDEF seq_status seq_rl_replay_save(const seq_rl_replay *rb, const char *path);
SEQDEF seq_status seq_rl_replay_load(seq_rl_replay *rb, const char *path);

SEQDEF seq_status seq_rl_batch_init(seq_rl_batch *b, int64_t cap, int64_t obs_dim, void *alloc_ud);
SEQDEF void seq_rl_batch_free(seq_rl_batch *b);

/* Linear schedule: start at t = 0, end from t >= steps on (epsilon decay, PER's beta). */
SEQDEF double seq_rl_anneal(double start, double end, int64_t t, int64_t steps);

/* ===================================================================================
 * 7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 * =================================================================================== */

/* Action values Q(s,a) in a table (doubles) for envs with numbered states (the
 * gridworld: seq_rl_env_state_id). The behaviour policy is epsilon-greedy with ties
 * broken at random; act() reports the probability it gave the chosen action. After each
 * step, update() learns from (s, a, r, s', a'), a' being the action the agent will take
 * in s' (SARSA and the lambda methods need it; the others ignore it):
 *
 *   Q_LEARNING       target r + gamma max_b Q(s',b)                      off-policy
 *   SARSA            target r + gamma Q(s',a')                           on-policy
 *   EXPECTED_SARSA   target r + gamma sum_b pi(b|s') Q(s',b)             pi the eps-greedy policy
 *   SARSA_LAMBDA     SARSA's TD error spread along eligibility traces
 *   Q_LAMBDA         Watkins's Q(lambda): Q-learning's TD error along traces, which are
 *                    cut when a' is exploratory (not greedy)
 *
 * With traces (Sutton & Barto 2018, 12.7 and 12.10): e(s,a) += 1 (accumulating) or
 * e(s,a) = 1 (replacing), then every Q += alpha delta e and e *= gamma lambda. Each
 * lambda update walks the whole table: O(states x actions) per step. A terminated
 * transition bootstraps nothing; an episode cut by the time limit bootstraps from s' as
 * usual and then calls seq_rl_tabular_end_episode (traces must not leak across episodes;
 * update() clears them itself after a terminated transition). */
typedef enum seq_rl_td_algo {
    SEQ_RL_Q_LEARNING,
    SEQ_RL_SARSA,
    SEQ_RL_EXPECTED_SARSA,
    SEQ_RL_SARSA_LAMBDA,
    SEQ_RL_Q_LAMBDA,
    SEQ_RL_TD_ALGO_COUNT
} seq_rl_td_algo;

typedef enum seq_rl_trace { SEQ_RL_TRACE_ACCUMULATING, SEQ_RL_TRACE_REPLACING, SEQ_RL_TRACE_COUNT } seq_rl_trace;

typedef struct seq_rl_tabular_config {
    seq_rl_td_algo algo;
    double alpha;       /* step size in (0,1] (0.1) */
    double gamma;       /* discount in [0,1] (0.99) */
    double epsilon;     /* exploration of the behaviour policy, [0,1] (0.1) */
    double lambda;      /* trace decay in [0,1] (0.9), lambda methods only */
    seq_rl_trace trace; /* accumulating */
    double q_init;      /* initial Q (0; optimistic values explore) */
} seq_rl_tabular_config;

typedef struct seq_rl_tabular {
    seq_rl_tabular_config cfg;
    int64_t n_states, n_actions;
    double *q;          /* (n_states, n_actions) */
    double *trace;      /* (n_states, n_actions) eligibility; lambda methods only, else NULL */
    int64_t updates, episodes;
    void *alloc_ud;
} seq_rl_tabular;

SEQDEF seq_rl_tabular_config seq_rl_tabular_config_default(seq_rl_td_algo algo);
/* SEQ_ERR_INVALID for sizes < 1 or a config value out of range; on failure t needs no free. */
SEQDEF seq_status seq_rl_tabular_init(seq_rl_tabular *t, seq_rl_tabular_config cfg, int64_t n_states,
                                      int64_t n_actions, void *alloc_ud);
SEQDEF void seq_rl_tabular_free(seq_rl_tabular *t);
/* Epsilon-greedy in state s (rng NULL: greedy, ties to the lowest action). *prob (may be
 * NULL) receives the probability of the returned action; -1 and SEQ_ERR_RANGE set when s
 * is outside [0, n_states). */
SEQDEF int64_t seq_rl_tabular_act(const seq_rl_tabular *t, int64_t s, seq_rng *rng, double *prob);
/* One TD update. s, s' outside [0,n_states), a outside [0,n_actions) or a' outside it
 * when the algorithm needs it and the transition is not terminated: SEQ_ERR_RANGE; a
 * non-finite reward SEQ_ERR_INVALID. The table is then unchanged. */
SEQDEF seq_status seq_rl_tabular_update(seq_rl_tabular *t, int64_t s, int64_t a, double reward, int64_t s_next,
                                        int64_t a_next, int terminated);
/* Clears the traces (an episode ended by truncation) and counts the episode. */
SEQDEF void seq_rl_tabular_end_episode(seq_rl_tabular *t);
/* One whole episode on a gridworld (reset first), acting with rng and learning every
 * step; *ret (may be NULL) receives the undiscounted return. */
SEQDEF seq_status seq_rl_tabular_episode(seq_rl_tabular *t, seq_rl_env *e, seq_rng *rng, double *ret);
/* max_a Q(s,a): the value of s under the greedy policy. */
SEQDEF double seq_rl_tabular_value(const seq_rl_tabular *t, int64_t s);
/* Save holds the config, the table, the traces and the counters; load needs an agent of
 * the same sizes, algorithm and trace kind (SEQ_ERR_FORMAT otherwise, the agent
 * unchanged) and restores all of them. */
SEQDEF seq_status seq_rl_tabular_save(const seq_rl_tabular *t, const char *path);
SEQDEF seq_status seq_rl_tabular_load(seq_rl_tabular *t, const char *path);

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

/* --- the TD loss of a Q-network, one fused tape node ---------------------------------
 * q (N,A) action values, per row the taken action a_i, the target y_i (a constant: no
 * gradient flows into it) and an importance weight w_i (NULL: 1):
 *     d_i  = q[i, a_i] - y_i
 *     loss = 1/N sum_i w_i huber_delta(d_i)       huber: d^2/2 if |d| <= delta, else
 *                                                 delta (|d| - delta/2); delta <= 0: d^2/2
 * td (may be NULL) receives d_i, the TD errors prioritized replay is updated with. The
 * gradient reaches only the taken actions' q. Errors (sticky on ctx): shapes, an action
 * outside [0,A) (SEQ_ERR_RANGE), a non-finite target or weight (SEQ_ERR_INVALID). */
SEQDEF seq_tensor *seq_rl_q_loss(seq_ctx *ctx, seq_tensor *q, const int32_t *actions, const float *targets,
                                 const float *weights, float delta, float *td);

/* --- DQN: double DQN, target network, Huber loss, uniform or prioritized replay -------
 * An MLP (ReLU) Q-network trained with Adam on minibatches from a replay buffer, acting
 * epsilon-greedily with epsilon annealed linearly from eps_start to eps_end over
 * eps_fraction * total_steps env steps. Every train_freq env steps from learning_starts
 * on, gradient_steps updates on batches of batch_size toward
 *     y = r + gamma (1 - terminated) Q_target(s', argmax_b Q(s',b))    double DQN
 *     y = r + gamma (1 - terminated) max_b Q_target(s',b)              otherwise
 * with the gradient norm clipped to max_grad_norm. Every target_freq env steps the target
 * network moves to tau theta + (1 - tau) theta_target (tau = 1: a hard copy). With
 * prioritized replay beta anneals from per_beta0 to 1 over total_steps and the sampled
 * transitions' priorities follow their new |TD errors|. The defaults are CleanRL's
 * dqn.py for CartPole (squared error) with double DQN and gradient clipping added. */
typedef struct seq_rl_dqn_config {
    int n_hidden;            /* hidden layers, 0 to SEQ_RL_MLP_MAX_LAYERS - 1 (2) */
    int64_t hidden[SEQ_RL_MLP_MAX_LAYERS - 1]; /* their widths (120, 84) */
    float lr;                /* Adam step size (2.5e-4) */
    float gamma;             /* 0.99 */
    int64_t buffer_size;     /* 10000 */
    int64_t batch_size;      /* 128 */
    int64_t learning_starts; /* env steps before the first update (10000) */
    int64_t train_freq;      /* env steps between updates (10) */
    int gradient_steps;      /* updates each time (1) */
    int64_t target_freq;     /* env steps between target updates (500) */
    float tau;               /* target update rate in (0,1] (1: hard copy) */
    float eps_start, eps_end;/* 1 -> 0.05 */
    float eps_fraction;      /* of total_steps spent annealing epsilon (0.5) */
    int64_t total_steps;     /* the training length the schedules span (500000) */
    int double_dqn;          /* 1 */
    float huber_delta;       /* 0: squared error; > 0: Huber. On CartPole's unscaled
                                rewards Huber(1) let the few terminal transitions' large
                                errors be outvoted: Q diverged past 1/(1-gamma) */
    float max_grad_norm;     /* 10; <= 0: no clipping */
    int prioritized;         /* 0: uniform replay */
    float per_alpha;         /* 0.6 */
    float per_beta0;         /* 0.4 */
    float per_eps;           /* 1e-6 */
} seq_rl_dqn_config;

typedef struct seq_rl_dqn {
    seq_rl_dqn_config cfg;
    int64_t obs_dim, n_actions;
    seq_params *P, *T;       /* the online and the target network, same layout */
    seq_rl_mlp q, q_target;
    seq_adamw opt;
    seq_ctx *ctx;
    seq_rng rng;
    seq_rl_replay rb;
    seq_rl_batch batch;
    int64_t steps, updates;  /* env steps observed, gradient steps taken */
    float *work;             /* inference scratch and target computation */
    double *qd;              /* (n_actions) Q of the observation acted on, in double */
    float *prev_obs;         /* (n_prev, obs_dim) seq_rl_dqn_iterate's observations before a step */
    int32_t *acts;           /* (n_prev) and the actions taken */
    int64_t n_prev;
    float last_loss;         /* of the last update */
    double recent[100];      /* the last 100 episode returns (seq_rl_dqn_iterate) */
    int64_t n_recent;
    void *alloc_ud;
} seq_rl_dqn;

SEQDEF seq_rl_dqn_config seq_rl_dqn_config_default(void);
/* NULL and seq_last_error() for a size < 1 or a config value out of range. */
SEQDEF seq_rl_dqn *seq_rl_dqn_init(seq_rl_dqn_config cfg, int64_t obs_dim, int64_t n_actions, uint64_t seed,
                                   void *alloc_ud);
SEQDEF void seq_rl_dqn_free(seq_rl_dqn *ag);
/* Epsilon at the current step. */
SEQDEF double seq_rl_dqn_epsilon(const seq_rl_dqn *ag);
/* Epsilon-greedy on one observation (rng NULL: greedy, ties to the lowest action); *prob
 * (may be NULL) receives the probability of the returned action under that policy. */
SEQDEF int64_t seq_rl_dqn_act(seq_rl_dqn *ag, const float *obs, seq_rng *rng, double *prob);
/* Q-values of n observations: q (n, n_actions). */
SEQDEF void seq_rl_dqn_values(seq_rl_dqn *ag, const float *obs, int64_t n, float *q);
/* Feeds one transition: stores it, counts an env step, and trains / updates the target
 * when due. Bad transitions are refused as seq_rl_replay_push refuses them. */
SEQDEF seq_status seq_rl_dqn_observe(seq_rl_dqn *ag, const float *obs, int64_t action, float reward,
                                     const float *next_obs, int terminated);
/* One gradient step on a batch from the buffer (observe() calls it when due). */
SEQDEF seq_status seq_rl_dqn_train(seq_rl_dqn *ag);
/* One step of every env in v with actions drawn by the agent (its own rng), each
 * transition observed (an ended episode's final observation as next_obs) and finished
 * episodes' returns recorded. */
SEQDEF seq_status seq_rl_dqn_iterate(seq_rl_dqn *ag, seq_rl_vec_env *v);
/* Mean of the last min(100, episodes) episode returns (NaN before the first). */
SEQDEF double seq_rl_dqn_mean_return(const seq_rl_dqn *ag);
/* Both networks, Adam's moments and step, the counters, the rng and the return
 * window; not the replay buffer (seq_rl_replay_save). Load needs an agent of the same
 * architecture: SEQ_ERR_FORMAT otherwise, the agent unchanged. */
SEQDEF seq_status seq_rl_dqn_save(const seq_rl_dqn *ag, const char *path);
SEQDEF seq_status seq_rl_dqn_load(seq_rl_dqn *ag, const char *path);

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

/* --- policy networks with memory -------------------------------------------------------
 * For partially observed tasks the policy needs memory: x (B,T,I) runs through one LSTM
 * or GRU layer of H units (seq.h 14.2), then two linear heads read every step:
 *     logits = pi(h_t) -> (B*T, A),   value = v(h_t) -> (B*T)        (v optional)
 * Weights: "<prefix>.rnn.*" (PyTorch's nn.LSTM / nn.GRU names), "<prefix>.pi.0.*" and
 * "<prefix>.v.0.*" (one-layer seq_rl_mlp heads, orthogonal with gain 0.01 and 1, the PPO
 * implementation details' choice). Training runs the fused sequence forward (BPTT, with
 * io->resets where episodes start); acting runs the step API on caller-owned state. */
typedef struct seq_rl_rnn_policy {
    seq_rnn rnn;
    seq_rl_mlp pi, v;  /* v.n_layers == 0: no value head */
    int64_t in_dim, hidden, n_actions;
} seq_rl_rnn_policy;

/* cell SEQ_RNN_LSTM or SEQ_RNN_GRU. Call before seq_params_alloc. */
SEQDEF seq_status seq_rl_rnn_policy_init(seq_rl_rnn_policy *p, seq_params *P, const char *prefix, seq_rnn_kind cell,
                                         int64_t in_dim, int64_t hidden, int64_t n_actions, int with_value);
/* x (B,T,in_dim) -> logits (B*T, n_actions), recorded on ctx; *values (may be NULL)
 * receives (B*T) from the value head. io as seq_rnn_forward's (h0, c0, resets). */
SEQDEF seq_tensor *seq_rl_rnn_policy_forward(seq_ctx *ctx, const seq_rl_rnn_policy *p, seq_tensor *x, seq_rnn_io *io,
                                             seq_tensor **values);
/* One step of B streams without a tape: x_t (B,in_dim) -> logits (B,n_actions) and
 * values (B) (NULL: not computed); st has batch B; work holds work_size(p, B) floats. */
SEQDEF seq_status seq_rl_rnn_policy_step(const seq_rl_rnn_policy *p, seq_rnn_state *st, const float *x_t, float *logits,
                                         float *values, float *work);
SEQDEF int64_t seq_rl_rnn_policy_work_size(const seq_rl_rnn_policy *p, int64_t B);

/* --- actor-critic agents: REINFORCE with baseline, A2C, PPO ---------------------------
 * Separate actor and critic MLPs (tanh), or with `recurrent` one LSTM/GRU trunk read by
 * both heads (seq_rl_rnn_policy); Adam, a vectorized env. Each iteration collects n_steps
 * from every env, computes GAE(gamma, lambda) advantages and returns, and updates: PPO
 * for `epochs` passes over shuffled minibatches with the clipped losses; A2C one step on
 * the whole rollout (lambda = 1: n-step returns); REINFORCE one step on Monte-Carlo
 * returns (lambda = 1) with the critic as baseline. A truncated episode bootstraps: its
 * last reward gets gamma V(final observation) added; a terminated one does not. The
 * learning rate anneals linearly to 0 over total_steps when asked.
 *
 * Recurrent agents act with the step API, one memory row per env, zeroed when its episode
 * ends; the update replays each env's whole rollout as one sequence (truncated BPTT over
 * n_steps) from the memory it started with, the episode starts inside it marked as
 * segment resets, so training sees exactly the states acting saw. Minibatches are then
 * sets of envs (minibatches <= n_envs), as in CleanRL's ppo_atari_lstm. */
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
    int hidden;           /* 64: two hidden layers of this width, or the RNN's units */
    int recurrent;        /* 0: MLPs; 1: an LSTM/GRU trunk (partially observed tasks) */
    seq_rnn_kind cell;    /* SEQ_RNN_LSTM (recurrent only; or SEQ_RNN_GRU) */
    int norm_obs;         /* 0; 1: observations standardized by their running mean and
                             variance, clipped to +-10 (Gymnasium's NormalizeObservation) */
    seq_rl_pg_config loss;
} seq_rl_ac_config;

typedef struct seq_rl_jsrl seq_rl_jsrl; /* section 10 */

typedef struct seq_rl_ac {
    seq_rl_ac_config cfg;
    int64_t obs_dim, n_actions, n_envs;
    seq_params *P;
    seq_rl_mlp actor, critic;  /* MLP agents */
    seq_rl_rnn_policy net;     /* recurrent agents */
    seq_tensor *obs_stats;     /* norm_obs: (3, obs_dim) mean, variance, count (count in [2][0]),
                                  kept in P as "obs_norm" so a saved agent acts as trained
                                  (no gradient reaches it, so Adam leaves it alone) */
    seq_rnn_state mem;         /* recurrent: (n_envs) the memory acting carries */
    seq_rnn_state peek;        /* recurrent: (n_envs) scratch for values that must not advance mem */
    seq_rnn_state act_mem;     /* recurrent: (1) seq_rl_ac_act's memory */
    seq_adamw opt;
    seq_ctx *ctx;
    seq_rng rng;
    int64_t steps, iterations; /* env steps collected, updates made */
    /* rollout storage, (n_steps, n_envs, ...) */
    float *obs, *logp, *rewards, *values, *adv, *returns;
    int32_t *actions;
    uint8_t *dones;       /* terminated or truncated at that step */
    uint8_t *guided;      /* the Jump-Start guide acted: played, not trained on */
    float *next_value;    /* (n_envs) V of the observation after the rollout */
    float *logits;        /* (n_envs, n_actions) of the current step */
    float *mixed_obs;     /* (n_envs, obs_dim) observations whose values are peeked */
    float *mem0;          /* recurrent: (2, n_envs, hidden) h and c when the rollout began */
    float *work;          /* inference scratch */
    int64_t *perm;
    seq_rl_jsrl *guide;   /* NULL, or the Jump-Start curriculum acting first (not owned) */
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
/* One iteration: collect cfg.n_steps on v (v->n == n_envs), then update. A recurrent
 * agent's memory follows v's episodes: keep stepping the same v (or call
 * seq_rl_ac_reset_memory after resetting it). SEQ_ERR_NUMERIC when a minibatch's
 * gradient is not finite (an env fed NaN, or the run diverged): that minibatch changes
 * nothing, the ones before it this iteration stand, and the iteration does not count. */
SEQDEF seq_status seq_rl_ac_iterate(seq_rl_ac *ag, seq_rl_vec_env *v);
/* Mean of the last min(100, episodes) episode returns (NaN before the first). */
SEQDEF double seq_rl_ac_mean_return(const seq_rl_ac *ag);
/* Acting: an action for one observation, sampled from the policy (rng) or greedy (rng
 * NULL); *prob (may be NULL) gets the probability the acting policy gave it (1 when
 * greedy). A recurrent agent remembers the observations since the last
 * seq_rl_ac_reset_memory: call it at every episode start. */
SEQDEF int64_t seq_rl_ac_act(seq_rl_ac *ag, const float *obs, seq_rng *rng, float *prob);
/* Forgets what the recurrent agent saw: act()'s memory and the training memory of every
 * env (their episodes restart). No-op for MLP agents. */
SEQDEF void seq_rl_ac_reset_memory(seq_rl_ac *ag);
/* Weights (and the observation statistics) as safetensors, names as above. */
SEQDEF seq_status seq_rl_ac_save(const seq_rl_ac *ag, const char *path);
SEQDEF seq_status seq_rl_ac_load(seq_rl_ac *ag, const char *path);

/* --- GRPO: group-relative policy optimization with verifiable rewards ----------------
 * Shao et al. 2024 (DeepSeekMath). No critic: each prompt is answered G times by the
 * current policy, every answer is scored by a checker, and an answer's advantage is its
 * reward standardized within its group,
 *     adv_i = (r_i - mean(r_group)) / (std(r_group) + eps)      (std unbiased, as torch.std)
 * (scale_std = 0: r_i - mean, Dr. GRPO's unbiased form). Every token of the answer
 * carries that advantage through seq_rl_pg_loss: the clipped ratio objective plus the k3
 * KL to a frozen reference policy (the initial policy, or refreshed every ref_every
 * iterations), averaged over all answer tokens of the batch (token-level, as DAPO).
 *
 * The policy is a token model on seq_rl_rnn_policy (LSTM or GRU, no value head): it
 * reads the prompt, a separator and its own answer so far, one-hot, and emits the next
 * answer token. A task says what prompts look like and how answers are checked. */
typedef struct seq_rl_seq_task seq_rl_seq_task;
struct seq_rl_seq_task {
    int64_t vocab;      /* tokens 0..vocab-1, in prompts and answers */
    int64_t prompt_len, answer_len;
    /* a fresh prompt (prompt_len tokens in [0,vocab)) */
    void (*sample)(const seq_rl_seq_task *task, seq_rng *rng, int32_t *prompt);
    /* the reward of an answer (answer_len tokens); 1 or more counts as solved */
    double (*reward)(const seq_rl_seq_task *task, const int32_t *prompt, const int32_t *answer);
    int kind;           /* built-in tasks: which */
    int partial;        /* built-in tasks: partial credit */
    void *ud;           /* the caller's, for its own tasks */
};

/* Built-in checkers over digit strings of length len in [0,vocab):
 *   COPY     the answer is the prompt           REVERSE  the prompt backwards
 *   SORT     the prompt in ascending order      SUM      the sum of the digits in base
 *                                                        vocab, len digits, most significant first
 * Reward 1 iff the whole answer is right; with partial, a wrong answer earns
 * 0.5 * (fraction of right tokens). */
typedef enum seq_rl_seq_task_kind {
    SEQ_RL_TASK_COPY,
    SEQ_RL_TASK_REVERSE,
    SEQ_RL_TASK_SORT,
    SEQ_RL_TASK_SUM,
    SEQ_RL_SEQ_TASK_KIND_COUNT
} seq_rl_seq_task_kind;

#define SEQ_RL_TASK_MAX_LEN 64 /* the longest built-in prompt */

/* SEQ_ERR_INVALID for an unknown kind, vocab outside [2,65536] or len outside
 * [1,SEQ_RL_TASK_MAX_LEN] (task untouched). SUM's answer has as many digits as the
 * largest sum needs. */
SEQDEF seq_status seq_rl_seq_task_builtin(seq_rl_seq_task *task, seq_rl_seq_task_kind kind, int64_t vocab, int64_t len,
                                          int partial);

/* adv (n_groups * group) from rewards laid out group by group. A non-finite reward is
 * SEQ_ERR_INVALID (adv untouched); a group whose rewards are all equal gets 0. */
SEQDEF seq_status seq_rl_grpo_advantages(const double *rewards, int64_t n_groups, int64_t group, int scale_std,
                                         float eps, float *adv);

typedef struct seq_rl_grpo_config {
    seq_rnn_kind cell;    /* SEQ_RNN_GRU */
    int64_t hidden;       /* 64 */
    int64_t prompts;      /* per iteration (16) */
    int64_t group;        /* G answers per prompt (8) */
    int epochs;           /* gradient steps on each batch (4: the ratio leaves 1, the clip acts) */
    float lr;             /* Adam (1e-2) */
    float max_grad_norm;  /* 1 */
    int scale_std;        /* 1: divide by the group's std (GRPO); 0: Dr. GRPO */
    float adv_eps;        /* 1e-4 */
    int64_t ref_every;    /* 0: the reference stays the initial policy */
    seq_rl_pg_config loss; /* clip 0.2, kl_coef 0.04, no entropy, no value */
} seq_rl_grpo_config;

typedef struct seq_rl_grpo {
    seq_rl_grpo_config cfg;
    seq_rl_seq_task task;
    seq_params *P, *P_ref;     /* the policy and its reference (same layout) */
    seq_rl_rnn_policy pi, ref;
    seq_rnn_state st, st_ref;  /* (prompts * group) streams */
    seq_adamw opt;
    seq_ctx *ctx;
    seq_rng rng;
    int64_t n;                 /* prompts * group: answers per iteration */
    int64_t iterations;
    /* the last batch, answer by answer */
    int32_t *prompt, *answer;  /* (n, prompt_len), (n, answer_len) */
    double *reward;            /* (n) */
    float *adv;                /* (n) */
    float *old_logp, *ref_logp; /* (n, answer_len) per answer token */
    float *x, *logits, *work;  /* one step's one-hot input, logits, scratch */
    double mean_reward, solved; /* of the last batch: mean reward, fraction solved */
    seq_rl_pg_stats last;      /* of the last gradient step */
    void *alloc_ud;
} seq_rl_grpo;

SEQDEF seq_rl_grpo_config seq_rl_grpo_config_default(void);
/* The task is copied (its ud is not). SEQ_ERR_INVALID (NULL): a task without sample or
 * reward, sizes < 1, group < 2. */
SEQDEF seq_rl_grpo *seq_rl_grpo_init(seq_rl_grpo_config cfg, const seq_rl_seq_task *task, uint64_t seed,
                                     void *alloc_ud);
SEQDEF void seq_rl_grpo_free(seq_rl_grpo *g);
/* One iteration: prompts, G sampled answers each, rewards, advantages, `epochs` steps.
 * A non-finite reward is SEQ_ERR_INVALID and nothing is learned from that batch. */
SEQDEF seq_status seq_rl_grpo_iterate(seq_rl_grpo *g);
/* Answers n prompts (n, prompt_len) into answers (n, answer_len): sampled with rng, or
 * greedy with rng NULL. A prompt token outside [0,vocab) is SEQ_ERR_RANGE. */
SEQDEF seq_status seq_rl_grpo_answer(seq_rl_grpo *g, const int32_t *prompts, int64_t n, seq_rng *rng, int32_t *answers);
/* Fraction of n fresh prompts (drawn with rng) the greedy policy solves; NaN on error. */
SEQDEF double seq_rl_grpo_solve_rate(seq_rl_grpo *g, int64_t n, seq_rng *rng);
/* Policy, reference, Adam state and counters, in the seq_rl container (kind "grpo"); load
 * needs an object made with the same task sizes and config (else SEQ_ERR_FORMAT). */
SEQDEF seq_status seq_rl_grpo_save(const seq_rl_grpo *g, const char *path);
SEQDEF seq_status seq_rl_grpo_load(seq_rl_grpo *g, const char *path);

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper
 * =================================================================================== */

/* Jump-Start RL (Uchendu et al. 2023): a guide policy (a hand-written controller, a
 * demonstrator, an older agent) plays the first h steps of every episode and the learner
 * the rest, so the learner starts where the guide leads and only has to finish the task,
 * which makes a sparse reward reachable. The curriculum lowers h stage by stage,
 *     h_k = horizon * (stages - k) / stages,  k = 0 .. stages   (h = 0: the learner alone),
 * moving on once the mean return of the last `window` episodes played at the stage (guide
 * and learner together) reaches threshold. The guide's steps are played but not trained
 * on: they are masked out of the policy-gradient loss (attach with seq_rl_ac_set_guide).
 * The recurrent agent's memory still reads them. */
#define SEQ_RL_JSRL_MAX_WINDOW 100

/* The guide's action for env `env`'s observation obs; outside [0, n_actions) the agent's
 * iterate fails with SEQ_ERR_RANGE. */
typedef int64_t (*seq_rl_guide_fn)(void *ud, const float *obs, int64_t env);

typedef struct seq_rl_jsrl_config {
    int64_t horizon;    /* h at stage 0 (e.g. the guide's typical episode length) */
    int stages;         /* 10 */
    double threshold;   /* mean return that moves to the next stage */
    int64_t window;     /* 20 episodes, at most SEQ_RL_JSRL_MAX_WINDOW */
} seq_rl_jsrl_config;

struct seq_rl_jsrl {
    seq_rl_jsrl_config cfg;
    seq_rl_guide_fn guide;
    void *ud;
    int stage;          /* 0 .. stages */
    int64_t h;          /* the guide's steps per episode at this stage */
    double recent[SEQ_RL_JSRL_MAX_WINDOW]; /* returns at this stage, a ring */
    int64_t n_recent;   /* episodes at this stage */
    int64_t episodes, guided_steps;        /* totals */
};

SEQDEF seq_rl_jsrl_config seq_rl_jsrl_config_default(int64_t horizon, double threshold);
/* SEQ_ERR_INVALID: guide NULL, horizon < 0, stages < 1, window outside [1,100],
 * threshold not finite. */
SEQDEF seq_status seq_rl_jsrl_init(seq_rl_jsrl *j, seq_rl_jsrl_config cfg, seq_rl_guide_fn guide, void *ud);
/* Does the guide act at step t (steps already taken) of an episode? */
SEQDEF int seq_rl_jsrl_guides(const seq_rl_jsrl *j, int64_t t);
/* Records a finished episode's return and moves the curriculum; NaN is SEQ_ERR_INVALID
 * (nothing recorded). */
SEQDEF seq_status seq_rl_jsrl_episode(seq_rl_jsrl *j, double ret);
/* The curriculum's position (stage, returns, counters) in the seq_rl container (kind
 * "jsrl"); the guide function is the caller's to supply again. */
SEQDEF seq_status seq_rl_jsrl_save(const seq_rl_jsrl *j, const char *path);
SEQDEF seq_status seq_rl_jsrl_load(seq_rl_jsrl *j, const char *path);
/* Attaches (or with NULL detaches) a curriculum to an agent: its guide plays the first h
 * steps of each episode of every env during collection. The agent does not own it. */
SEQDEF seq_status seq_rl_ac_set_guide(seq_rl_ac *ag, seq_rl_jsrl *j);

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
    static const char fn[] = "seq_rl_save_end";
    seq_atomic_file a;
    seq_status s;
    size_t at;
    int k;
    if (!w) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL writer", fn);
    if (w->status == SEQ_OK && !path) w->status = seq_set_error(SEQ_ERR_INVALID, "%s: NULL path", fn);
    if (w->status == SEQ_OK) { /* the field count sits after magic, version and the kind */
        at = sizeof seq_rl__magic + 4 + 1 + w->buf[sizeof seq_rl__magic + 4];
        for (k = 0; k < 4; k++) w->buf[at + (size_t)k] = (unsigned char)(w->nfields >> (8 * k));
        seq_rl__put_uint(w, seq_rl_crc32(0, w->buf, w->len), 4);
    }
    if (w->status == SEQ_OK && (w->status = seq_atomic_open(&a, fn, path, w->alloc_ud)) == SEQ_OK)
        w->status = seq_atomic_commit(&a, fn, path, fwrite(w->buf, 1, w->len, a.f) == w->len);
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
#define SEQ_RL__BANDIT_MAX_SIZE ((int64_t)1 << 32)

static seq_status seq_rl__bandit_check(const seq_rl_bandit_config *c, const char *fn) {
    const double *p = c->prior;
    const char *bad = NULL;
    if ((unsigned)c->kind >= SEQ_RL_BANDIT_KIND_COUNT) bad = "kind";
    else if (c->arms < 1) bad = "arms (zero arms)";
    /* sizes that fit the allocations' byte counts (and a load's element counts) */
    else if (c->arms > SEQ_RL__BANDIT_MAX_SIZE || c->window > SEQ_RL__BANDIT_MAX_SIZE ||
             c->max_pending > SEQ_RL__BANDIT_MAX_SIZE) bad = "arms, window or max_pending (above 2^32)";
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

/* A discrete step of v is possible (envs here, or a hook when `hooked`) and every action
 * is in range. */
static seq_status seq_rl__vec_check(const seq_rl_vec_env *v, const int32_t *actions, int hooked, const char *fn) {
    int64_t i;
    if (!v || !actions || v->n_actions == 0 || (!v->envs && !hooked))
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument, continuous env or no envs", fn);
    for (i = 0; i < v->n; i++)
        if (actions[i] < 0 || actions[i] >= v->n_actions)
            return seq_set_error(SEQ_ERR_RANGE, "%s: actions[%lld] = %d outside [0,%d)", fn, (long long)i,
                                 (int)actions[i], v->n_actions);
    return SEQ_OK;
}

static seq_status seq_rl__vec_advance_all(seq_rl_vec_env *v, const int32_t *actions) {
    int64_t i;
    for (i = 0; i < v->n; i++) seq_rl__vec_advance(v, i, actions[i], 0.0f);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_vec_env_step(seq_rl_vec_env *v, const int32_t *actions) {
    seq_status s = seq_rl__vec_check(v, actions, v && v->step_fn, "seq_rl_vec_env_step");
    if (s != SEQ_OK) return s;
    return v->step_fn ? v->step_fn(v->step_ud, actions) : seq_rl__vec_advance_all(v, actions);
}

SEQDEF seq_status seq_rl_vec_env_step_envs(seq_rl_vec_env *v, const int32_t *actions) {
    seq_status s = seq_rl__vec_check(v, actions, 0, "seq_rl_vec_env_step_envs");
    return s != SEQ_OK ? s : seq_rl__vec_advance_all(v, actions);
}

SEQDEF seq_status seq_rl_vec_env_step_continuous(seq_rl_vec_env *v, const float *actions) {
    int64_t i;
    if (!v || !actions || v->n_actions != 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_step_continuous: NULL argument or discrete env");
    if (v->step_fn)
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "seq_rl_vec_env_step_continuous: step hooks take discrete actions only");
    for (i = 0; i < v->n * v->act_dim; i++)
        if (isnan(actions[i]))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_vec_env_step_continuous: actions[%lld] is NaN", (long long)i);
    for (i = 0; i < v->n; i++) seq_rl__vec_advance(v, i, 0, actions[i * v->act_dim]);
    return SEQ_OK;
}

/* ===================================================================================
 * 6  replay buffers (implementation)
 * =================================================================================== */

SEQDEF double seq_rl_anneal(double start, double end, int64_t t, int64_t steps) {
    if (steps <= 0 || t >= steps) return end;
    return start + (end - start) * ((double)(t < 0 ? 0 : t) / (double)steps);
}

SEQDEF seq_rl_replay_config seq_rl_replay_config_default(int64_t capacity, int64_t obs_dim, int64_t n_actions) {
    seq_rl_replay_config c;
    c.capacity = capacity, c.obs_dim = obs_dim, c.n_actions = n_actions;
    c.prioritized = 0, c.alpha = 0.6, c.eps = 1e-6;
    return c;
}

SEQDEF void seq_rl_replay_free(seq_rl_replay *rb) {
    if (!rb) return;
    SEQ_FREE(rb->alloc_ud, rb->obs);
    SEQ_FREE(rb->alloc_ud, rb->rewards);
    SEQ_FREE(rb->alloc_ud, rb->actions);
    SEQ_FREE(rb->alloc_ud, rb->terminated);
    SEQ_FREE(rb->alloc_ud, rb->sum_tree);
    memset(rb, 0, sizeof *rb);
}

SEQDEF seq_status seq_rl_replay_init(seq_rl_replay *rb, seq_rl_replay_config cfg, void *alloc_ud) {
    int64_t C = cfg.capacity, D = cfg.obs_dim, k;
    if (!rb) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_init: NULL buffer");
    memset(rb, 0, sizeof *rb);
    if (C < 1 || D < 1 || cfg.n_actions < 1)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_init: capacity %lld, obs_dim %lld, n_actions %lld (each >= 1)",
                             (long long)C, (long long)D, (long long)cfg.n_actions);
    if (cfg.prioritized && !(cfg.alpha >= 0 && cfg.alpha <= 1 && cfg.eps > 0 && isfinite(cfg.eps)))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_init: alpha %g outside [0,1] or eps %g not > 0", cfg.alpha,
                             cfg.eps);
    if (C > ((int64_t)1 << 40) / D)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_init: capacity x obs_dim = %lld x %lld is too large",
                             (long long)C, (long long)D);
    rb->cfg = cfg, rb->alloc_ud = alloc_ud;
    rb->obs = (float *)SEQ_MALLOC(alloc_ud, (size_t)(2 * C * D) * sizeof(float));
    rb->rewards = (float *)SEQ_MALLOC(alloc_ud, (size_t)C * sizeof(float));
    rb->actions = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)C * sizeof(int32_t));
    rb->terminated = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)C);
    if (cfg.prioritized) {
        for (rb->leaves = 1; rb->leaves < C; rb->leaves *= 2) {}
        rb->sum_tree = (double *)SEQ_MALLOC(alloc_ud, (size_t)(4 * rb->leaves) * sizeof(double));
    }
    if (!rb->obs || !rb->rewards || !rb->actions || !rb->terminated || (cfg.prioritized && !rb->sum_tree)) {
        seq_rl_replay_free(rb);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_replay_init: out of memory for %lld transitions", (long long)C);
    }
    rb->next_obs = rb->obs + C * D;
    if (cfg.prioritized) { /* empty: every sum 0, every min +inf */
        rb->min_tree = rb->sum_tree + 2 * rb->leaves;
        for (k = 0; k < 2 * rb->leaves; k++) rb->sum_tree[k] = 0.0, rb->min_tree[k] = INFINITY;
    }
    rb->max_priority = 1.0;
    return SEQ_OK;
}

/* Sets leaf i to priority p (already ^alpha) and recomputes its ancestors. */
static void seq_rl__tree_set(seq_rl_replay *rb, int64_t i, double p) {
    int64_t k = rb->leaves + i;
    rb->sum_tree[k] = p, rb->min_tree[k] = p;
    for (k /= 2; k >= 1; k /= 2) {
        double l = rb->min_tree[2 * k], r = rb->min_tree[2 * k + 1];
        rb->sum_tree[k] = rb->sum_tree[2 * k] + rb->sum_tree[2 * k + 1];
        rb->min_tree[k] = l < r ? l : r;
    }
}

SEQDEF seq_status seq_rl_replay_push(seq_rl_replay *rb, const float *obs, int64_t action, float reward,
                                     const float *next_obs, int terminated) {
    int64_t D, i, k;
    if (!rb || !rb->obs || !obs || !next_obs)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_push: NULL buffer or observation");
    D = rb->cfg.obs_dim;
    if (action < 0 || action >= rb->cfg.n_actions)
        return seq_set_error(SEQ_ERR_RANGE, "seq_rl_replay_push: action %lld outside [0,%lld)", (long long)action,
                             (long long)rb->cfg.n_actions);
    if (!isfinite(reward)) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_push: reward is not finite");
    for (k = 0; k < D; k++)
        if (!isfinite(obs[k]) || !isfinite(next_obs[k]))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_push: observation element %lld is not finite",
                                 (long long)k);
    i = rb->next;
    memcpy(rb->obs + i * D, obs, (size_t)D * sizeof(float));
    memcpy(rb->next_obs + i * D, next_obs, (size_t)D * sizeof(float));
    rb->actions[i] = (int32_t)action, rb->rewards[i] = reward, rb->terminated[i] = (uint8_t)(terminated != 0);
    if (rb->cfg.prioritized) seq_rl__tree_set(rb, i, pow(rb->max_priority, rb->cfg.alpha));
    rb->next = (i + 1) % rb->cfg.capacity;
    if (rb->size < rb->cfg.capacity) rb->size++;
    return SEQ_OK;
}

SEQDEF double seq_rl_replay_total(const seq_rl_replay *rb) {
    if (!rb || !rb->obs) return 0.0;
    return rb->cfg.prioritized ? rb->sum_tree[1] : (double)rb->size;
}

SEQDEF double seq_rl_replay_prob(const seq_rl_replay *rb, int64_t i) {
    if (!rb || !rb->obs || i < 0 || i >= rb->size) return 0.0;
    return rb->cfg.prioritized ? rb->sum_tree[rb->leaves + i] / rb->sum_tree[1] : 1.0 / (double)rb->size;
}

SEQDEF int64_t seq_rl_replay_find(const seq_rl_replay *rb, double u) {
    int64_t k = 1;
    if (!rb || !rb->sum_tree) return -1;
    /* Left when u falls in the left subtree's mass; right only into positive mass, so
     * rounding at the top end cannot land on an empty (padding) leaf. */
    while (k < rb->leaves) {
        double left = rb->sum_tree[2 * k];
        if (u < left || !(rb->sum_tree[2 * k + 1] > 0)) {
            k = 2 * k;
        } else {
            u -= left;
            k = 2 * k + 1;
        }
    }
    return k - rb->leaves;
}

SEQDEF seq_status seq_rl_replay_sample(seq_rl_replay *rb, int64_t n, double beta, seq_rng *rng, seq_rl_batch *b) {
    int64_t j, D;
    double total, seg, wmax = 0;
    if (!rb || !rb->obs || !rng || !b || !b->obs)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_sample: NULL buffer, rng or batch");
    D = rb->cfg.obs_dim;
    if (n < 1 || n > b->cap || b->obs_dim != D || !(beta >= 0 && beta <= 1))
        return seq_set_error(SEQ_ERR_INVALID,
                             "seq_rl_replay_sample: n = %lld outside [1,%lld], batch obs_dim %lld (buffer %lld) or beta %g "
                             "outside [0,1]",
                             (long long)n, (long long)b->cap, (long long)b->obs_dim, (long long)D, beta);
    if (rb->size == 0) return seq_set_error(SEQ_ERR_STATE, "seq_rl_replay_sample: the buffer is empty");
    total = seq_rl_replay_total(rb), seg = total / (double)n;
    /* the largest weight belongs to the smallest priority: (N p_min / total)^-beta */
    if (rb->cfg.prioritized) wmax = pow((double)rb->size * rb->min_tree[1] / total, -beta);
    for (j = 0; j < n; j++) {
        int64_t i;
        if (rb->cfg.prioritized) {
            i = seq_rl_replay_find(rb, ((double)j + seq_rng_double(rng)) * seg);
            b->weights[j] = (float)(pow((double)rb->size * rb->sum_tree[rb->leaves + i] / total, -beta) / wmax);
        } else {
            i = (int64_t)seq_rng_below(rng, (uint64_t)rb->size);
            b->weights[j] = 1.0f;
        }
        b->idx[j] = i;
        memcpy(b->obs + j * D, rb->obs + i * D, (size_t)D * sizeof(float));
        memcpy(b->next_obs + j * D, rb->next_obs + i * D, (size_t)D * sizeof(float));
        b->actions[j] = rb->actions[i], b->rewards[j] = rb->rewards[i];
        b->not_done[j] = rb->terminated[i] ? 0.0f : 1.0f;
    }
    b->n = n;
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_replay_update(seq_rl_replay *rb, const int64_t *idx, const float *td, int64_t n) {
    int64_t j;
    if (!rb || !rb->obs || (n > 0 && (!idx || !td)) || n < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_update: NULL argument or n < 0");
    if (!rb->cfg.prioritized) return SEQ_OK;
    for (j = 0; j < n; j++) {
        if (idx[j] < 0 || idx[j] >= rb->size)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rl_replay_update: idx[%lld] = %lld outside [0,%lld)", (long long)j,
                                 (long long)idx[j], (long long)rb->size);
        if (!isfinite(td[j])) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_update: td[%lld] is not finite", (long long)j);
    }
    for (j = 0; j < n; j++) {
        double p = fabs((double)td[j]) + rb->cfg.eps;
        seq_rl__tree_set(rb, idx[j], pow(p, rb->cfg.alpha));
        if (p > rb->max_priority) rb->max_priority = p;
    }
    return SEQ_OK;
}

SEQDEF void seq_rl_batch_free(seq_rl_batch *b) {
    if (!b) return;
    SEQ_FREE(b->alloc_ud, b->obs);
    SEQ_FREE(b->alloc_ud, b->actions);
    SEQ_FREE(b->alloc_ud, b->idx);
    memset(b, 0, sizeof *b);
}

SEQDEF seq_status seq_rl_batch_init(seq_rl_batch *b, int64_t cap, int64_t obs_dim, void *alloc_ud) {
    if (!b) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_batch_init: NULL batch");
    memset(b, 0, sizeof *b);
    if (cap < 1 || obs_dim < 1)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_batch_init: cap %lld and obs_dim %lld must be >= 1", (long long)cap,
                             (long long)obs_dim);
    b->cap = cap, b->obs_dim = obs_dim, b->alloc_ud = alloc_ud;
    /* one float block: obs | next_obs | rewards | not_done | weights */
    b->obs = (float *)SEQ_MALLOC(alloc_ud, (size_t)(cap * (2 * obs_dim + 3)) * sizeof(float));
    b->actions = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)cap * sizeof(int32_t));
    b->idx = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)cap * sizeof(int64_t));
    if (!b->obs || !b->actions || !b->idx) {
        seq_rl_batch_free(b);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_batch_init: out of memory for %lld rows", (long long)cap);
    }
    b->next_obs = b->obs + cap * obs_dim, b->rewards = b->next_obs + cap * obs_dim;
    b->not_done = b->rewards + cap, b->weights = b->not_done + cap;
    return SEQ_OK;
}

/* One field a load expects: its name, type and exact element count. */
typedef struct seq_rl__want {
    const char *name;
    seq_rl_field_type type;
    int64_t n;
} seq_rl__want;

/* Checks every expected field before any is copied, so a load that fails leaves its
 * object as it was. */
static seq_status seq_rl__load_expect(const seq_rl_load *r, const char *fn, const seq_rl__want *w, int k) {
    int j;
    for (j = 0; j < k; j++)
        if (seq_rl_load_count(r, w[j].name, w[j].type) != w[j].n)
            return seq_set_error(SEQ_ERR_FORMAT, "%s: the file's '%s' is missing or holds %lld elements, %lld expected", fn,
                                 w[j].name, (long long)seq_rl_load_count(r, w[j].name, w[j].type), (long long)w[j].n);
    return SEQ_OK;
}

/* The four sizes that must agree between a replay buffer and its file. */
static void seq_rl__replay_shape(const seq_rl_replay *rb, int64_t *shape) {
    shape[0] = rb->cfg.capacity, shape[1] = rb->cfg.obs_dim, shape[2] = rb->cfg.n_actions, shape[3] = rb->cfg.prioritized;
}

SEQDEF seq_status seq_rl_replay_save(const seq_rl_replay *rb, const char *path) {
    seq_rl_save w;
    int64_t shape[4], pos[2], C, i, *ints;
    if (!rb || !rb->obs || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_replay_save: NULL argument");
    C = rb->cfg.capacity;
    ints = (int64_t *)SEQ_MALLOC(rb->alloc_ud, (size_t)(2 * C) * sizeof(int64_t));
    if (!ints) return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_replay_save: out of memory");
    for (i = 0; i < C; i++) ints[i] = rb->actions[i], ints[C + i] = rb->terminated[i];
    seq_rl__replay_shape(rb, shape);
    pos[0] = rb->size, pos[1] = rb->next;
    seq_rl_save_begin(&w, "replay", rb->alloc_ud);
    seq_rl_save_i64s(&w, "shape", 4, shape);
    seq_rl_save_i64s(&w, "position", 2, pos);
    seq_rl_save_f64s(&w, "max_priority", 1, &rb->max_priority);
    seq_rl_save_f32s(&w, "obs", C * rb->cfg.obs_dim, rb->obs);
    seq_rl_save_f32s(&w, "next_obs", C * rb->cfg.obs_dim, rb->next_obs);
    seq_rl_save_f32s(&w, "rewards", C, rb->rewards);
    seq_rl_save_i64s(&w, "actions_terminated", 2 * C, ints);
    if (rb->cfg.prioritized) seq_rl_save_f64s(&w, "priorities", C, rb->sum_tree + rb->leaves);
    SEQ_FREE(rb->alloc_ud, ints);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_replay_load(seq_rl_replay *rb, const char *path) {
    static const char fn[] = "seq_rl_replay_load";
    seq_rl_load r;
    seq_rl_replay tmp;
    int64_t shape[4], file_shape[4], pos[2] = {0, 0}, C, D, i;
    double *leaf;
    seq_status s;
    if (!rb || !rb->obs || !path) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    C = rb->cfg.capacity, D = rb->cfg.obs_dim;
    if ((s = seq_rl_load_open(&r, path, "replay", rb->alloc_ud)) != SEQ_OK) return s;
    seq_rl__replay_shape(rb, shape);
    const seq_rl__want want[7] = {{"position", SEQ_RL_FIELD_I64, 2},
                                 {"max_priority", SEQ_RL_FIELD_F64, 1},
                                 {"obs", SEQ_RL_FIELD_F32, C * D},
                                 {"next_obs", SEQ_RL_FIELD_F32, C * D},
                                 {"rewards", SEQ_RL_FIELD_F32, C},
                                 {"actions_terminated", SEQ_RL_FIELD_I64, 2 * C},
                                 {"priorities", SEQ_RL_FIELD_F64, C}};
    s = seq_rl_load_i64s(&r, "shape", 4, file_shape);
    if (s == SEQ_OK && memcmp(shape, file_shape, sizeof shape) != 0)
        s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' holds a buffer of another capacity, obs_dim, n_actions or kind", fn, path);
    if (s == SEQ_OK) s = seq_rl__load_expect(&r, fn, want, rb->cfg.prioritized ? 7 : 6);
    if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "position", 2, pos);
    if (s == SEQ_OK && !(pos[0] >= 0 && pos[0] <= C && pos[1] >= 0 && pos[1] < C))
        s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' has size %lld or next slot %lld outside the capacity", fn, path,
                          (long long)pos[0], (long long)pos[1]);
    /* a scratch buffer takes the file; rb changes only once all of it has been read */
    if (s == SEQ_OK) s = seq_rl_replay_init(&tmp, rb->cfg, rb->alloc_ud);
    if (s != SEQ_OK) {
        seq_rl_load_close(&r);
        return s;
    }
    seq_rl_load_f64s(&r, "max_priority", 1, &tmp.max_priority);
    seq_rl_load_f32s(&r, "obs", C * D, tmp.obs);
    seq_rl_load_f32s(&r, "next_obs", C * D, tmp.next_obs);
    seq_rl_load_f32s(&r, "rewards", C, tmp.rewards);
    tmp.size = pos[0], tmp.next = pos[1];
    if (rb->cfg.prioritized) {
        leaf = tmp.sum_tree + tmp.leaves; /* read in place; tree_set then fixes the ancestors */
        seq_rl_load_f64s(&r, "priorities", C, leaf);
        for (i = 0; i < C; i++) { /* held slots have positive priorities, empty ones none */
            if (!isfinite(leaf[i]) || (i < tmp.size ? !(leaf[i] > 0) : leaf[i] != 0))
                s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' has a bad priority at slot %lld", fn, path, (long long)i);
            if (s == SEQ_OK && i < tmp.size) seq_rl__tree_set(&tmp, i, leaf[i]);
        }
    }
    if (s == SEQ_OK) { /* actions and terminal flags travel as one i64 field */
        int64_t *ints = (int64_t *)SEQ_MALLOC(rb->alloc_ud, (size_t)(2 * C) * sizeof(int64_t));
        if (!ints) s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
        if (s == SEQ_OK) seq_rl_load_i64s(&r, "actions_terminated", 2 * C, ints);
        for (i = 0; s == SEQ_OK && i < C; i++) {
            if (ints[i] < 0 || ints[i] >= rb->cfg.n_actions || ints[C + i] < 0 || ints[C + i] > 1)
                s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' has a bad action or flag at slot %lld", fn, path, (long long)i);
            tmp.actions[i] = (int32_t)ints[i], tmp.terminated[i] = (uint8_t)ints[C + i];
        }
        SEQ_FREE(rb->alloc_ud, ints);
    }
    seq_rl_load_close(&r);
    if (s != SEQ_OK) {
        seq_rl_replay_free(&tmp);
        return s;
    }
    seq_rl_replay_free(rb);
    *rb = tmp;
    return SEQ_OK;
}

/* ===================================================================================
 * 7  tabular agents (implementation)
 * =================================================================================== */

SEQDEF seq_rl_tabular_config seq_rl_tabular_config_default(seq_rl_td_algo algo) {
    seq_rl_tabular_config c;
    c.algo = algo, c.alpha = 0.1, c.gamma = 0.99, c.epsilon = 0.1, c.lambda = 0.9;
    c.trace = SEQ_RL_TRACE_ACCUMULATING, c.q_init = 0.0;
    return c;
}

static int seq_rl__has_traces(seq_rl_td_algo algo) { return algo == SEQ_RL_SARSA_LAMBDA || algo == SEQ_RL_Q_LAMBDA; }

SEQDEF void seq_rl_tabular_free(seq_rl_tabular *t) {
    if (!t) return;
    SEQ_FREE(t->alloc_ud, t->q);
    memset(t, 0, sizeof *t);
}

static seq_status seq_rl__tabular_check(const char *fn, seq_rl_tabular_config c, int64_t n_states, int64_t n_actions) {
    if (n_states < 1 || n_actions < 1 || n_states > ((int64_t)1 << 40) / n_actions)
        return seq_set_error(SEQ_ERR_INVALID, "%s: %lld states x %lld actions", fn, (long long)n_states, (long long)n_actions);
    if ((int)c.algo < 0 || c.algo >= SEQ_RL_TD_ALGO_COUNT || (int)c.trace < 0 || c.trace >= SEQ_RL_TRACE_COUNT ||
        !(c.alpha > 0 && c.alpha <= 1) || !(c.gamma >= 0 && c.gamma <= 1) || !(c.epsilon >= 0 && c.epsilon <= 1) ||
        !(c.lambda >= 0 && c.lambda <= 1) || !isfinite(c.q_init))
        return seq_set_error(SEQ_ERR_INVALID,
                             "%s: unknown algorithm or trace, alpha outside (0,1], gamma, epsilon or lambda outside [0,1], or "
                             "a non-finite q_init",
                             fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_tabular_init(seq_rl_tabular *t, seq_rl_tabular_config cfg, int64_t n_states,
                                      int64_t n_actions, void *alloc_ud) {
    int64_t n = n_states * n_actions, k;
    seq_status s;
    if (!t) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_tabular_init: NULL agent");
    memset(t, 0, sizeof *t);
    if ((s = seq_rl__tabular_check("seq_rl_tabular_init", cfg, n_states, n_actions)) != SEQ_OK) return s;
    /* the traces, when the algorithm has them, follow the table in the same block */
    t->q = (double *)SEQ_MALLOC(alloc_ud, (size_t)(seq_rl__has_traces(cfg.algo) ? 2 * n : n) * sizeof(double));
    if (!t->q) return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_tabular_init: out of memory for %lld values", (long long)n);
    t->cfg = cfg, t->n_states = n_states, t->n_actions = n_actions, t->alloc_ud = alloc_ud;
    for (k = 0; k < n; k++) t->q[k] = cfg.q_init;
    if (seq_rl__has_traces(cfg.algo)) {
        t->trace = t->q + n;
        memset(t->trace, 0, (size_t)n * sizeof(double));
    }
    return SEQ_OK;
}

/* The first greedy action of row q (A values); *ties (may be NULL) gets how many tie. */
static int64_t seq_rl__argmax_ties(const double *q, int64_t A, int64_t *ties) {
    int64_t a, first = 0, n = 1;
    for (a = 1; a < A; a++) {
        if (q[a] > q[first]) first = a, n = 1;
        else if (q[a] == q[first]) n++;
    }
    if (ties) *ties = n;
    return first;
}

/* Probability that epsilon-greedy over q (A values, ties split evenly) picks a. */
static double seq_rl__eps_greedy_prob(const double *q, int64_t A, double eps, int64_t a) {
    int64_t ties, first = seq_rl__argmax_ties(q, A, &ties);
    return eps / (double)A + (a == first || q[a] == q[first] ? (1.0 - eps) / (double)ties : 0.0);
}

/* Epsilon-greedy over q (A values) with rng, ties at random; greedy (lowest of the ties,
 * probability 1) when rng is NULL. */
static int64_t seq_rl__eps_greedy(const double *q, int64_t A, double eps, seq_rng *rng, double *prob) {
    int64_t a, ties, first = seq_rl__argmax_ties(q, A, &ties);
    if (!rng) {
        if (prob) *prob = 1.0;
        return first;
    }
    if (seq_rng_double(rng) < eps) {
        a = (int64_t)seq_rng_below(rng, (uint64_t)A);
    } else { /* the k-th greedy action, k uniform among the ties; a NaN first value ties
              * only with itself, as seq_rl__argmax_ties counted it */
        int64_t k = (int64_t)seq_rng_below(rng, (uint64_t)ties);
        for (a = first;; a++)
            if ((a == first || q[a] == q[first]) && k-- == 0) break;
    }
    if (prob) *prob = seq_rl__eps_greedy_prob(q, A, eps, a);
    return a;
}

SEQDEF int64_t seq_rl_tabular_act(const seq_rl_tabular *t, int64_t s, seq_rng *rng, double *prob) {
    if (!t || !t->q || s < 0 || s >= t->n_states) {
        seq_set_error(SEQ_ERR_RANGE, "seq_rl_tabular_act: no agent, or state %lld outside [0,%lld)", (long long)s,
                      (long long)(t ? t->n_states : 0));
        return -1;
    }
    return seq_rl__eps_greedy(t->q + s * t->n_actions, t->n_actions, t->cfg.epsilon, rng, prob);
}

/* The bootstrap value of s' for the algorithm's target. */
static double seq_rl__td_next_value(const seq_rl_tabular *t, int64_t s_next, int64_t a_next) {
    const double *q = t->q + s_next * t->n_actions;
    int64_t b;
    double v = 0;
    switch (t->cfg.algo) {
    case SEQ_RL_SARSA:
    case SEQ_RL_SARSA_LAMBDA: return q[a_next];
    case SEQ_RL_EXPECTED_SARSA:
        for (b = 0; b < t->n_actions; b++) v += seq_rl__eps_greedy_prob(q, t->n_actions, t->cfg.epsilon, b) * q[b];
        return v;
    default: return q[seq_rl__argmax_ties(q, t->n_actions, NULL)];
    }
}

SEQDEF seq_status seq_rl_tabular_update(seq_rl_tabular *t, int64_t s, int64_t a, double reward, int64_t s_next,
                                        int64_t a_next, int terminated) {
    static const char fn[] = "seq_rl_tabular_update";
    int64_t A, n, k;
    int needs_next;
    double delta, *qsa;
    if (!t || !t->q) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL agent", fn);
    A = t->n_actions, n = t->n_states * A;
    needs_next = !terminated && (t->cfg.algo == SEQ_RL_SARSA || seq_rl__has_traces(t->cfg.algo));
    if (s < 0 || s >= t->n_states || s_next < 0 || s_next >= t->n_states || a < 0 || a >= A ||
        (needs_next && (a_next < 0 || a_next >= A)))
        return seq_set_error(SEQ_ERR_RANGE, "%s: state %lld -> %lld or action %lld -> %lld outside [0,%lld) x [0,%lld)", fn,
                             (long long)s, (long long)s_next, (long long)a, (long long)a_next, (long long)t->n_states,
                             (long long)A);
    if (!isfinite(reward)) return seq_set_error(SEQ_ERR_INVALID, "%s: reward is not finite", fn);
    qsa = t->q + s * A + a;
    delta = reward + (terminated ? 0.0 : t->cfg.gamma * seq_rl__td_next_value(t, s_next, a_next)) - *qsa;
    if (!t->trace) {
        *qsa += t->cfg.alpha * delta;
    } else {
        double decay = t->cfg.gamma * t->cfg.lambda, *e = t->trace + s * A + a;
        int cut = 0;
        if (t->cfg.algo == SEQ_RL_Q_LAMBDA && !terminated) {
            /* Watkins: an exploratory next action ends the greedy path the traces follow */
            const double *qn = t->q + s_next * A;
            cut = qn[a_next] != qn[seq_rl__argmax_ties(qn, A, NULL)];
        }
        *e = t->cfg.trace == SEQ_RL_TRACE_REPLACING ? 1.0 : *e + 1.0;
        for (k = 0; k < n; k++) {
            t->q[k] += t->cfg.alpha * delta * t->trace[k];
            t->trace[k] = cut ? 0.0 : t->trace[k] * decay;
        }
    }
    t->updates++;
    if (terminated) seq_rl_tabular_end_episode(t);
    return SEQ_OK;
}

SEQDEF void seq_rl_tabular_end_episode(seq_rl_tabular *t) {
    if (!t || !t->q) return;
    if (t->trace) memset(t->trace, 0, (size_t)(t->n_states * t->n_actions) * sizeof(double));
    t->episodes++;
}

SEQDEF seq_status seq_rl_tabular_episode(seq_rl_tabular *t, seq_rl_env *e, seq_rng *rng, double *ret) {
    seq_rl_step st;
    int64_t s, a, s2, a2;
    double total = 0;
    seq_status err;
    if (!t || !t->q || !e || !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_tabular_episode: NULL argument");
    if (e->kind != SEQ_RL_ENV_GRIDWORLD || seq_rl_env_num_states(e) != t->n_states || e->n_actions != t->n_actions)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_tabular_episode: needs a gridworld of %lld cells and %lld actions",
                             (long long)t->n_states, (long long)t->n_actions);
    seq_rl_env_reset(e, NULL);
    s = seq_rl_env_state_id(e);
    a = seq_rl_tabular_act(t, s, rng, NULL);
    do { /* the next action is chosen before the update, as SARSA needs it */
        seq_rl_env_step(e, a, NULL, &st);
        s2 = seq_rl_env_state_id(e);
        a2 = seq_rl_tabular_act(t, s2, rng, NULL);
        total += st.reward;
        if ((err = seq_rl_tabular_update(t, s, a, st.reward, s2, a2, st.terminated)) != SEQ_OK) return err;
        s = s2, a = a2;
    } while (!st.terminated && !st.truncated);
    if (!st.terminated) seq_rl_tabular_end_episode(t);
    if (ret) *ret = total;
    return SEQ_OK;
}

SEQDEF double seq_rl_tabular_value(const seq_rl_tabular *t, int64_t s) {
    if (!t || !t->q || s < 0 || s >= t->n_states) return NAN;
    return t->q[s * t->n_actions + seq_rl__argmax_ties(t->q + s * t->n_actions, t->n_actions, NULL)];
}

/* Sizes and algorithm, i64: what a file must agree on to load into an agent. */
static void seq_rl__tabular_shape(const seq_rl_tabular *t, int64_t *shape) {
    shape[0] = t->n_states, shape[1] = t->n_actions, shape[2] = t->cfg.algo, shape[3] = t->cfg.trace;
}

SEQDEF seq_status seq_rl_tabular_save(const seq_rl_tabular *t, const char *path) {
    seq_rl_save w;
    int64_t shape[4], counts[2];
    double hyper[5];
    if (!t || !t->q || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_tabular_save: NULL argument");
    seq_rl__tabular_shape(t, shape);
    counts[0] = t->updates, counts[1] = t->episodes;
    hyper[0] = t->cfg.alpha, hyper[1] = t->cfg.gamma, hyper[2] = t->cfg.epsilon, hyper[3] = t->cfg.lambda;
    hyper[4] = t->cfg.q_init;
    seq_rl_save_begin(&w, "tabular", t->alloc_ud);
    seq_rl_save_i64s(&w, "shape", 4, shape);
    seq_rl_save_i64s(&w, "counts", 2, counts);
    seq_rl_save_f64s(&w, "hyper", 5, hyper);
    seq_rl_save_f64s(&w, "q", shape[0] * shape[1], t->q);
    if (t->trace) seq_rl_save_f64s(&w, "trace", shape[0] * shape[1], t->trace);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_tabular_load(seq_rl_tabular *t, const char *path) {
    static const char fn[] = "seq_rl_tabular_load";
    seq_rl_load r;
    seq_rl_tabular_config c;
    int64_t shape[4], file_shape[4], counts[2] = {0, 0}, n;
    double hyper[5];
    seq_status s;
    if (!t || !t->q || !path) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    if ((s = seq_rl_load_open(&r, path, "tabular", t->alloc_ud)) != SEQ_OK) return s;
    seq_rl__tabular_shape(t, shape);
    n = shape[0] * shape[1];
    const seq_rl__want want[4] = {{"counts", SEQ_RL_FIELD_I64, 2},
                                 {"hyper", SEQ_RL_FIELD_F64, 5},
                                 {"q", SEQ_RL_FIELD_F64, n},
                                 {"trace", SEQ_RL_FIELD_F64, n}};
    s = seq_rl_load_i64s(&r, "shape", 4, file_shape);
    if (s == SEQ_OK && memcmp(shape, file_shape, sizeof shape) != 0)
        s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' holds an agent of other sizes, algorithm or trace", fn, path);
    if (s == SEQ_OK) s = seq_rl__load_expect(&r, fn, want, t->trace ? 4 : 3);
    if (s == SEQ_OK) {
        seq_rl_load_f64s(&r, "hyper", 5, hyper);
        c = t->cfg;
        c.alpha = hyper[0], c.gamma = hyper[1], c.epsilon = hyper[2], c.lambda = hyper[3], c.q_init = hyper[4];
        s = seq_rl__tabular_check(fn, c, t->n_states, t->n_actions);
    }
    if (s == SEQ_OK) { /* every check passed: nothing below can fail */
        t->cfg = c;
        seq_rl_load_i64s(&r, "counts", 2, counts);
        t->updates = counts[0], t->episodes = counts[1];
        seq_rl_load_f64s(&r, "q", n, t->q);
        if (t->trace) seq_rl_load_f64s(&r, "trace", n, t->trace);
    }
    seq_rl_load_close(&r);
    return s;
}

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

/* What the backward needs: per row d loss / d q[i, a_i]. */
typedef struct seq_rl__qloss_saved {
    int64_t N, A;
    int32_t *actions; /* (N), a copy: the caller's array may not outlive the ctx step */
    float *dq;        /* (N) */
} seq_rl__qloss_saved;

static void seq_rl__q_loss_backward(seq_ctx *ctx, seq_tensor *out, seq_tensor *const *in, void *data) {
    const seq_rl__qloss_saved *s = (const seq_rl__qloss_saved *)data;
    float g = out->grad[0], *gq = seq_op_grad(ctx, in[0]);
    int64_t i;
    for (i = 0; gq && i < s->N; i++) gq[i * s->A + s->actions[i]] += g * s->dq[i];
}

SEQDEF seq_tensor *seq_rl_q_loss(seq_ctx *ctx, seq_tensor *q, const int32_t *actions, const float *targets,
                                 const float *weights, float delta, float *td) {
    static const char *op = "seq_rl_q_loss";
    seq_tensor *in[1], *out;
    seq_rl__qloss_saved *s;
    int64_t N, A, i, shape0[1] = {1};
    double loss = 0;
    if (!ctx || !q || !actions || !targets) {
        if (ctx) seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "q, actions and targets are required");
        return NULL;
    }
    if (seq_ctx_status(ctx) != SEQ_OK) return NULL;
    N = q->ndim == 2 ? q->shape[0] : -1, A = q->ndim == 2 ? q->shape[1] : 0;
    if (N < 1 || A < 1) {
        seq_ctx_fail(ctx, SEQ_ERR_SHAPE, op, "q must be (N,A)");
        return NULL;
    }
    for (i = 0; i < N; i++) {
        if (actions[i] < 0 || actions[i] >= A) {
            seq_ctx_fail(ctx, SEQ_ERR_RANGE, op, "actions[%lld] = %d outside [0,%lld)", (long long)i, (int)actions[i],
                         (long long)A);
            return NULL;
        }
        if (!isfinite(targets[i]) || (weights && !isfinite(weights[i]))) {
            seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "target or weight %lld is not finite", (long long)i);
            return NULL;
        }
    }
    in[0] = q;
    out = seq_op_output(ctx, op, 0, shape0, 1, in);
    s = (seq_rl__qloss_saved *)seq_ctx_alloc(ctx, sizeof *s);
    if (!out || !s) return NULL;
    s->N = N, s->A = A;
    s->actions = (int32_t *)seq_ctx_alloc(ctx, (size_t)N * sizeof(int32_t));
    s->dq = (float *)seq_ctx_alloc(ctx, (size_t)N * sizeof(float));
    if (!s->actions || !s->dq) return NULL;
    memcpy(s->actions, actions, (size_t)N * sizeof(int32_t));
    for (i = 0; i < N; i++) {
        double d = (double)q->data[i * A + actions[i]] - targets[i], w = weights ? weights[i] : 1.0, h, dh;
        if (delta > 0 && fabs(d) > delta) {
            h = delta * (fabs(d) - 0.5 * delta), dh = d > 0 ? delta : -delta;
        } else {
            h = 0.5 * d * d, dh = d;
        }
        loss += w * h;
        s->dq[i] = (float)(w * dh / (double)N);
        if (td) td[i] = (float)d;
    }
    out->data[0] = (float)(loss / (double)N);
    seq_op_record(ctx, op, out, seq_rl__q_loss_backward, 1, in, s);
    return out;
}

SEQDEF seq_rl_dqn_config seq_rl_dqn_config_default(void) {
    seq_rl_dqn_config c;
    memset(&c, 0, sizeof c);
    c.n_hidden = 2, c.hidden[0] = 120, c.hidden[1] = 84;
    c.lr = 2.5e-4f, c.gamma = 0.99f, c.buffer_size = 10000, c.batch_size = 128;
    c.learning_starts = 10000, c.train_freq = 10, c.gradient_steps = 1, c.target_freq = 500, c.tau = 1.0f;
    c.eps_start = 1.0f, c.eps_end = 0.05f, c.eps_fraction = 0.5f, c.total_steps = 500000;
    c.double_dqn = 1, c.huber_delta = 0.0f, c.max_grad_norm = 10.0f;
    c.prioritized = 0, c.per_alpha = 0.6f, c.per_beta0 = 0.4f, c.per_eps = 1e-6f;
    return c;
}

SEQDEF void seq_rl_dqn_free(seq_rl_dqn *ag) {
    if (!ag) return;
    seq_ctx_free(ag->ctx);
    seq_adamw_free(&ag->opt);
    seq_params_free(ag->P);
    seq_params_free(ag->T);
    seq_rl_replay_free(&ag->rb);
    seq_rl_batch_free(&ag->batch);
    SEQ_FREE(ag->alloc_ud, ag->work);
    SEQ_FREE(ag->alloc_ud, ag->qd);
    SEQ_FREE(ag->alloc_ud, ag->prev_obs);
    SEQ_FREE(ag->alloc_ud, ag->acts);
    SEQ_FREE(ag->alloc_ud, ag);
}

static int seq_rl__dqn_config_ok(const seq_rl_dqn_config *c) {
    int k, ok = c->n_hidden >= 0 && c->n_hidden < SEQ_RL_MLP_MAX_LAYERS;
    for (k = 0; ok && k < c->n_hidden; k++) ok = c->hidden[k] >= 1;
    return ok && c->lr > 0 && isfinite(c->lr) && c->gamma >= 0 && c->gamma <= 1 && c->buffer_size >= 1 &&
           c->batch_size >= 1 && c->learning_starts >= 0 && c->train_freq >= 1 && c->gradient_steps >= 1 &&
           c->target_freq >= 1 && c->tau > 0 && c->tau <= 1 && c->eps_start >= 0 && c->eps_start <= 1 &&
           c->eps_end >= 0 && c->eps_end <= 1 && c->eps_fraction >= 0 && c->eps_fraction <= 1 && c->total_steps >= 1 &&
           isfinite(c->huber_delta) && isfinite(c->max_grad_norm) &&
           (!c->prioritized || (c->per_alpha >= 0 && c->per_alpha <= 1 && c->per_beta0 >= 0 && c->per_beta0 <= 1 &&
                                c->per_eps > 0 && isfinite(c->per_eps)));
}

SEQDEF seq_rl_dqn *seq_rl_dqn_init(seq_rl_dqn_config cfg, int64_t obs_dim, int64_t n_actions, uint64_t seed,
                                   void *alloc_ud) {
    seq_rl_dqn *ag;
    seq_rl_replay_config rc;
    seq_adamw_config oc = seq_adamw_config_default();
    int64_t sizes[SEQ_RL_MLP_MAX_LAYERS + 1], B = cfg.batch_size;
    int k, L = cfg.n_hidden + 1;
    if (obs_dim < 1 || n_actions < 1 || !seq_rl__dqn_config_ok(&cfg)) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rl_dqn_init: obs_dim or n_actions < 1, or a config value out of range");
        return NULL;
    }
    ag = (seq_rl_dqn *)SEQ_MALLOC(alloc_ud, sizeof *ag);
    if (!ag) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_rl_dqn_init: out of memory");
        return NULL;
    }
    memset(ag, 0, sizeof *ag);
    ag->cfg = cfg, ag->obs_dim = obs_dim, ag->n_actions = n_actions, ag->alloc_ud = alloc_ud;
    seq_rng_seed(&ag->rng, seed);
    sizes[0] = obs_dim, sizes[L] = n_actions;
    for (k = 0; k < cfg.n_hidden; k++) sizes[k + 1] = cfg.hidden[k];
    rc = seq_rl_replay_config_default(cfg.buffer_size, obs_dim, n_actions);
    rc.prioritized = cfg.prioritized, rc.alpha = cfg.per_alpha, rc.eps = cfg.per_eps;
    oc.weight_decay = 0.0f, oc.decoupled = 0;
    ag->P = seq_params_init(alloc_ud);
    ag->T = seq_params_init(alloc_ud);
    ag->ctx = seq_ctx_init(alloc_ud);
    if (!ag->P || !ag->T || !ag->ctx || seq_rl_mlp_init(&ag->q, ag->P, "q", L, sizes, SEQ_RL_RELU, 1.0f) != SEQ_OK ||
        seq_rl_mlp_init(&ag->q_target, ag->T, "q", L, sizes, SEQ_RL_RELU, 1.0f) != SEQ_OK ||
        seq_params_alloc(ag->P, &ag->rng) != SEQ_OK || seq_params_alloc(ag->T, &ag->rng) != SEQ_OK ||
        seq_adamw_init(&ag->opt, ag->P, oc) != SEQ_OK || seq_rl_replay_init(&ag->rb, rc, alloc_ud) != SEQ_OK ||
        seq_rl_batch_init(&ag->batch, B, obs_dim, alloc_ud) != SEQ_OK)
        goto fail;
    memcpy(ag->T->data, ag->P->data, (size_t)ag->P->numel * sizeof(float));
    /* work: the MLP's scratch for a batch | next-state Q online, target (B,A) | targets,
     * TD errors (B) */
    ag->work = (float *)SEQ_MALLOC(alloc_ud,
                                   (size_t)(seq_rl_mlp_work_size(&ag->q, B) + 2 * B * n_actions + 2 * B) * sizeof(float));
    ag->qd = (double *)SEQ_MALLOC(alloc_ud, (size_t)n_actions * sizeof(double));
    if (!ag->work || !ag->qd) goto fail;
    return ag;
fail:
    if (seq_last_status() == SEQ_OK) seq_set_error(SEQ_ERR_NOMEM, "seq_rl_dqn_init: out of memory");
    seq_rl_dqn_free(ag);
    return NULL;
}

SEQDEF double seq_rl_dqn_epsilon(const seq_rl_dqn *ag) {
    const seq_rl_dqn_config *c = &ag->cfg;
    return seq_rl_anneal(c->eps_start, c->eps_end, ag->steps, (int64_t)((double)c->eps_fraction * (double)c->total_steps));
}

SEQDEF void seq_rl_dqn_values(seq_rl_dqn *ag, const float *obs, int64_t n, float *q) {
    int64_t done, m, B = ag->cfg.batch_size;
    for (done = 0; done < n; done += m) { /* the scratch holds a batch at a time */
        m = n - done < B ? n - done : B;
        seq_rl_mlp_infer(&ag->q, obs + done * ag->obs_dim, m, q + done * ag->n_actions, ag->work);
    }
}

SEQDEF int64_t seq_rl_dqn_act(seq_rl_dqn *ag, const float *obs, seq_rng *rng, double *prob) {
    float *q = ag->work + seq_rl_mlp_work_size(&ag->q, ag->cfg.batch_size);
    int64_t a;
    seq_rl_dqn_values(ag, obs, 1, q);
    for (a = 0; a < ag->n_actions; a++) ag->qd[a] = q[a];
    return seq_rl__eps_greedy(ag->qd, ag->n_actions, seq_rl_dqn_epsilon(ag), rng, prob);
}

/* Index of the largest of A floats (the first on ties). */
static int64_t seq_rl__argmax_f(const float *x, int64_t A) {
    int64_t a, best = 0;
    for (a = 1; a < A; a++) best = x[a] > x[best] ? a : best;
    return best;
}

SEQDEF seq_status seq_rl_dqn_train(seq_rl_dqn *ag) {
    seq_rl_batch *b;
    seq_ctx *ctx;
    int64_t B, A, i, shape[2];
    float *q_next, *q_tgt, *y, *td;
    seq_tensor *loss;
    seq_status s;
    if (!ag) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_dqn_train: NULL agent");
    b = &ag->batch, ctx = ag->ctx, B = ag->cfg.batch_size, A = ag->n_actions;
    s = seq_rl_replay_sample(&ag->rb, B, seq_rl_anneal(ag->cfg.per_beta0, 1.0, ag->steps, ag->cfg.total_steps), &ag->rng, b);
    if (s != SEQ_OK) return s;
    q_next = ag->work + seq_rl_mlp_work_size(&ag->q, B), q_tgt = q_next + B * A, y = q_tgt + B * A, td = y + B;
    /* y = r + gamma (1 - terminated) Q_target(s', a*), a* chosen by the online net (double
     * DQN) or by the target net itself */
    seq_rl_mlp_infer(&ag->q_target, b->next_obs, B, q_tgt, ag->work);
    if (ag->cfg.double_dqn) seq_rl_mlp_infer(&ag->q, b->next_obs, B, q_next, ag->work);
    for (i = 0; i < B; i++) {
        const float *chooser = ag->cfg.double_dqn ? q_next + i * A : q_tgt + i * A;
        y[i] = b->rewards[i] + ag->cfg.gamma * b->not_done[i] * q_tgt[i * A + seq_rl__argmax_f(chooser, A)];
    }
    seq_ctx_reset(ctx);
    shape[0] = B, shape[1] = ag->obs_dim;
    loss = seq_rl_q_loss(ctx, seq_rl_mlp_forward(ctx, &ag->q, seq_tensor_wrap(ctx, b->obs, 2, shape)), b->actions, y,
                         ag->cfg.prioritized ? b->weights : NULL, ag->cfg.huber_delta, td);
    if ((s = seq_ctx_status(ctx)) != SEQ_OK) return s;
    seq_params_zero_grad(ag->P);
    if ((s = seq_backward(ctx, loss)) != SEQ_OK) return s;
    if (ag->cfg.max_grad_norm > 0) seq_clip_grad_norm(ag->P, ag->cfg.max_grad_norm);
    if ((s = seq_adamw_step(&ag->opt, ag->P, ag->cfg.lr)) != SEQ_OK) return s;
    ag->last_loss = loss->data[0];
    ag->updates++;
    return seq_rl_replay_update(&ag->rb, b->idx, td, B);
}

/* theta_target = tau theta + (1 - tau) theta_target: one loop over the flat buffers. */
static void seq_rl__dqn_sync_target(seq_rl_dqn *ag) {
    float tau = ag->cfg.tau, *t = ag->T->data;
    const float *p = ag->P->data;
    int64_t i;
    if (tau >= 1.0f) {
        memcpy(t, p, (size_t)ag->P->numel * sizeof(float));
        return;
    }
    for (i = 0; i < ag->P->numel; i++) t[i] = tau * p[i] + (1.0f - tau) * t[i];
}

SEQDEF seq_status seq_rl_dqn_observe(seq_rl_dqn *ag, const float *obs, int64_t action, float reward,
                                     const float *next_obs, int terminated) {
    seq_status s;
    int k;
    if (!ag) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_dqn_observe: NULL agent");
    if ((s = seq_rl_replay_push(&ag->rb, obs, action, reward, next_obs, terminated)) != SEQ_OK) return s;
    ag->steps++;
    if (ag->steps <= ag->cfg.learning_starts) return SEQ_OK;
    if (ag->steps % ag->cfg.train_freq == 0)
        for (k = 0; k < ag->cfg.gradient_steps; k++)
            if ((s = seq_rl_dqn_train(ag)) != SEQ_OK) return s;
    if (ag->steps % ag->cfg.target_freq == 0) seq_rl__dqn_sync_target(ag);
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_dqn_iterate(seq_rl_dqn *ag, seq_rl_vec_env *v) {
    int64_t i, D;
    seq_status s;
    if (!ag || !v || v->obs_dim != ag->obs_dim || v->n_actions != ag->n_actions)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_dqn_iterate: the vec env does not match the agent");
    D = ag->obs_dim;
    if (v->n > ag->n_prev) { /* the observations before the step, and the actions taken */
        float *po = (float *)SEQ_REALLOC(ag->alloc_ud, ag->prev_obs, (size_t)(v->n * D) * sizeof(float));
        int32_t *pa = po ? (int32_t *)SEQ_REALLOC(ag->alloc_ud, ag->acts, (size_t)v->n * sizeof(int32_t)) : NULL;
        if (po) ag->prev_obs = po;
        if (!pa) return seq_set_error(SEQ_ERR_NOMEM, "seq_rl_dqn_iterate: out of memory for %lld envs", (long long)v->n);
        ag->acts = pa, ag->n_prev = v->n;
    }
    memcpy(ag->prev_obs, v->obs, (size_t)(v->n * D) * sizeof(float));
    for (i = 0; i < v->n; i++) ag->acts[i] = (int32_t)seq_rl_dqn_act(ag, v->obs + i * D, &ag->rng, NULL);
    if ((s = seq_rl_vec_env_step(v, ag->acts)) != SEQ_OK) return s;
    for (i = 0; i < v->n; i++) {
        int ended = v->terminated[i] || v->truncated[i];
        const float *next = ended ? v->final_obs + i * D : v->obs + i * D;
        if ((s = seq_rl_dqn_observe(ag, ag->prev_obs + i * D, ag->acts[i], v->rewards[i], next, v->terminated[i])) != SEQ_OK)
            return s;
        if (ended) ag->recent[ag->n_recent++ % 100] = v->done_return[i];
    }
    return SEQ_OK;
}

SEQDEF double seq_rl_dqn_mean_return(const seq_rl_dqn *ag) {
    int64_t n = ag->n_recent < 100 ? ag->n_recent : 100, i;
    double s = 0;
    if (n == 0) return NAN;
    for (i = 0; i < n; i++) s += ag->recent[i];
    return s / (double)n;
}

/* The architecture a file must match: sizes of the input, output and hidden layers. */
static void seq_rl__dqn_shape(const seq_rl_dqn *ag, int64_t *shape) {
    int k;
    shape[0] = ag->obs_dim, shape[1] = ag->n_actions, shape[2] = ag->cfg.n_hidden;
    for (k = 0; k < SEQ_RL_MLP_MAX_LAYERS - 1; k++) shape[3 + k] = k < ag->cfg.n_hidden ? ag->cfg.hidden[k] : 0;
}

#define SEQ_RL__DQN_SHAPE (3 + SEQ_RL_MLP_MAX_LAYERS - 1)

SEQDEF seq_status seq_rl_dqn_save(const seq_rl_dqn *ag, const char *path) {
    seq_rl_save w;
    int64_t shape[SEQ_RL__DQN_SHAPE], counts[4], rng[4];
    int k;
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_dqn_save: NULL argument");
    seq_rl__dqn_shape(ag, shape);
    counts[0] = ag->steps, counts[1] = ag->updates, counts[2] = ag->opt.st.step, counts[3] = ag->n_recent;
    for (k = 0; k < 4; k++) rng[k] = (int64_t)ag->rng.s[k];
    seq_rl_save_begin(&w, "dqn", ag->alloc_ud);
    seq_rl_save_i64s(&w, "shape", SEQ_RL__DQN_SHAPE, shape);
    seq_rl_save_i64s(&w, "counts", 4, counts);
    seq_rl_save_i64s(&w, "rng", 4, rng);
    seq_rl_save_f64s(&w, "recent", 100, ag->recent);
    seq_rl_save_f32s(&w, "online", ag->P->numel, ag->P->data);
    seq_rl_save_f32s(&w, "target", ag->T->numel, ag->T->data);
    seq_rl_save_f32s(&w, "adam", ag->opt.st.numel, ag->opt.st.buf);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_dqn_load(seq_rl_dqn *ag, const char *path) {
    static const char fn[] = "seq_rl_dqn_load";
    seq_rl_load r;
    int64_t shape[SEQ_RL__DQN_SHAPE], file_shape[SEQ_RL__DQN_SHAPE], counts[4] = {0, 0, 0, 0}, rng[4];
    seq_status s;
    int k;
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    if ((s = seq_rl_load_open(&r, path, "dqn", ag->alloc_ud)) != SEQ_OK) return s;
    seq_rl__dqn_shape(ag, shape);
    const seq_rl__want want[6] = {{"counts", SEQ_RL_FIELD_I64, 4},
                                 {"rng", SEQ_RL_FIELD_I64, 4},
                                 {"recent", SEQ_RL_FIELD_F64, 100},
                                 {"online", SEQ_RL_FIELD_F32, ag->P->numel},
                                 {"target", SEQ_RL_FIELD_F32, ag->T->numel},
                                 {"adam", SEQ_RL_FIELD_F32, ag->opt.st.numel}};
    s = seq_rl_load_i64s(&r, "shape", SEQ_RL__DQN_SHAPE, file_shape);
    if (s == SEQ_OK && memcmp(shape, file_shape, sizeof shape) != 0)
        s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' holds a network of another architecture", fn, path);
    if (s == SEQ_OK) s = seq_rl__load_expect(&r, fn, want, 6);
    if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "counts", 4, counts);
    if (s == SEQ_OK && (counts[0] < 0 || counts[1] < 0 || counts[2] < 0 || counts[3] < 0))
        s = seq_set_error(SEQ_ERR_FORMAT, "%s: '%s' has negative counters", fn, path);
    if (s == SEQ_OK) { /* every check passed: nothing below can fail */
        seq_rl_load_i64s(&r, "rng", 4, rng);
        for (k = 0; k < 4; k++) ag->rng.s[k] = (uint64_t)rng[k];
        ag->steps = counts[0], ag->updates = counts[1], ag->opt.st.step = counts[2], ag->n_recent = counts[3];
        seq_rl_load_f64s(&r, "recent", 100, ag->recent);
        seq_rl_load_f32s(&r, "online", ag->P->numel, ag->P->data);
        seq_rl_load_f32s(&r, "target", ag->T->numel, ag->T->data);
        seq_rl_load_f32s(&r, "adam", ag->opt.st.numel, ag->opt.st.buf);
    }
    seq_rl_load_close(&r);
    return s;
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

/* --- policy networks with memory --------------------------------------------------- */

SEQDEF seq_status seq_rl_rnn_policy_init(seq_rl_rnn_policy *p, seq_params *P, const char *prefix, seq_rnn_kind cell,
                                         int64_t in_dim, int64_t hidden, int64_t n_actions, int with_value) {
    char name[128];
    int64_t sizes[2];
    seq_status s;
    if (!p || !P || !prefix || (cell != SEQ_RNN_LSTM && cell != SEQ_RNN_GRU) || in_dim < 1 || hidden < 1 || n_actions < 1)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_rnn_policy_init: NULL argument, a size < 1 or a cell other than LSTM/GRU");
    memset(p, 0, sizeof *p);
    p->in_dim = in_dim, p->hidden = hidden, p->n_actions = n_actions;
    snprintf(name, sizeof name, "%s.rnn", prefix);
    s = seq_rnn_init(&p->rnn, P, name, seq_rnn_config_default(cell, in_dim, hidden));
    sizes[0] = hidden, sizes[1] = n_actions;
    snprintf(name, sizeof name, "%s.pi", prefix);
    if (s == SEQ_OK) s = seq_rl_mlp_init(&p->pi, P, name, 1, sizes, SEQ_RL_TANH, 0.01f);
    sizes[1] = 1;
    snprintf(name, sizeof name, "%s.v", prefix);
    if (s == SEQ_OK && with_value) s = seq_rl_mlp_init(&p->v, P, name, 1, sizes, SEQ_RL_TANH, 1.0f);
    return s;
}

SEQDEF seq_tensor *seq_rl_rnn_policy_forward(seq_ctx *ctx, const seq_rl_rnn_policy *p, seq_tensor *x, seq_rnn_io *io,
                                             seq_tensor **values) {
    int64_t shape[2];
    seq_tensor *h, *logits;
    if (values) *values = NULL;
    if (!ctx || !p || !x) {
        if (ctx) seq_ctx_fail(ctx, SEQ_ERR_INVALID, "seq_rl_rnn_policy_forward", "NULL policy or input");
        return NULL;
    }
    h = seq_rnn_forward(ctx, &p->rnn, x, io); /* (B,T,H) */
    if (!h) return NULL;
    shape[0] = h->shape[0] * h->shape[1], shape[1] = p->hidden;
    h = seq_reshape(ctx, h, 2, shape); /* (B*T,H): every step is a row for the heads */
    logits = seq_rl_mlp_forward(ctx, &p->pi, h);
    if (values && p->v.n_layers) *values = seq_reshape(ctx, seq_rl_mlp_forward(ctx, &p->v, h), 1, shape);
    return logits;
}

SEQDEF int64_t seq_rl_rnn_policy_work_size(const seq_rl_rnn_policy *p, int64_t B) {
    return B * p->hidden + seq_rl_mlp_work_size(&p->pi, B);
}

SEQDEF seq_status seq_rl_rnn_policy_step(const seq_rl_rnn_policy *p, seq_rnn_state *st, const float *x_t, float *logits,
                                         float *values, float *work) {
    float *h;
    seq_status s;
    if (!p || !st || !x_t || !logits || !work) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_rnn_policy_step: NULL argument");
    h = work; /* (B,H) */
    s = seq_rnn_step(&p->rnn, st, x_t, h);
    if (s != SEQ_OK) return s;
    seq_rl_mlp_infer(&p->pi, h, st->batch, logits, h + st->batch * p->hidden);
    if (values && p->v.n_layers) seq_rl_mlp_infer(&p->v, h, st->batch, values, h + st->batch * p->hidden);
    return SEQ_OK;
}

/* log softmax(z)[a] over A logits, in double. */
static float seq_rl__logp_at(const float *z, int64_t A, int64_t a) {
    double mx = z[0], s = 0;
    int64_t j;
    for (j = 1; j < A; j++) mx = z[j] > mx ? z[j] : mx;
    for (j = 0; j < A; j++) s += exp((double)z[j] - mx);
    return (float)((double)z[a] - mx - log(s));
}

/* --- actor-critic agents ------------------------------------------------------------- */

/* A zeroed object of `bytes`, or NULL with fn's out-of-memory error set. */
static void *seq_rl__new(void *alloc_ud, size_t bytes, const char *fn) {
    void *p = SEQ_MALLOC(alloc_ud, bytes);
    if (!p) {
        seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

SEQDEF seq_rl_ac_config seq_rl_ac_config_default(seq_rl_pg_algo algo) {
    seq_rl_ac_config c;
    memset(&c, 0, sizeof c);
    c.algo = algo;
    c.gamma = 0.99f, c.max_grad_norm = 0.5f, c.anneal_lr = 1, c.total_steps = 500000, c.hidden = 64;
    c.recurrent = 0, c.cell = SEQ_RNN_LSTM, c.norm_obs = 0;
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
    seq_rnn_state_free(&ag->mem);
    seq_rnn_state_free(&ag->peek);
    seq_rnn_state_free(&ag->act_mem);
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
    int64_t sa[4], sc[4], B = cfg.n_steps * n_envs, H = cfg.hidden, nw, d;
    seq_adamw_config oc = seq_adamw_config_default();
    if (obs_dim < 1 || n_actions < 1 || n_envs < 1 || cfg.n_steps < 1 || cfg.epochs < 1 || cfg.minibatches < 1 ||
        cfg.minibatches > B || cfg.hidden < 1 || !(cfg.lr > 0) || !(cfg.gamma >= 0 && cfg.gamma <= 1) ||
        !(cfg.gae_lambda >= 0 && cfg.gae_lambda <= 1) || (int)cfg.algo < 0 || cfg.algo >= SEQ_RL_PG_ALGO_COUNT) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_init: a size < 1, minibatches > batch, or gamma, lambda, lr out of range");
        return NULL;
    }
    if (cfg.recurrent && ((cfg.cell != SEQ_RNN_LSTM && cfg.cell != SEQ_RNN_GRU) || cfg.minibatches > n_envs)) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_init: a recurrent agent needs an LSTM or GRU cell and minibatches <= n_envs "
                                       "(a minibatch is a set of envs)");
        return NULL;
    }
    ag = (seq_rl_ac *)seq_rl__new(alloc_ud, sizeof *ag, "seq_rl_ac_init");
    if (!ag) return NULL;
    ag->cfg = cfg, ag->obs_dim = obs_dim, ag->n_actions = n_actions, ag->n_envs = n_envs, ag->alloc_ud = alloc_ud;
    seq_rng_seed(&ag->rng, seed);
    ag->P = seq_params_init(alloc_ud);
    ag->ctx = seq_ctx_init(alloc_ud);
    if (!ag->P || !ag->ctx) goto fail;
    if (cfg.norm_obs) { /* mean 0, variance 1, count ~0: Gymnasium's RunningMeanStd start */
        sa[0] = 3, sa[1] = obs_dim;
        ag->obs_stats = seq_params_add(ag->P, "obs_norm", 2, sa, seq_init_zeros());
        if (!ag->obs_stats) goto fail;
    }
    if (cfg.recurrent) {
        if (seq_rl_rnn_policy_init(&ag->net, ag->P, "policy", cfg.cell, obs_dim, H, n_actions, 1) != SEQ_OK ||
            seq_params_alloc(ag->P, &ag->rng) != SEQ_OK || seq_rnn_state_init(&ag->net.rnn, &ag->mem, n_envs) != SEQ_OK ||
            seq_rnn_state_init(&ag->net.rnn, &ag->peek, n_envs) != SEQ_OK ||
            seq_rnn_state_init(&ag->net.rnn, &ag->act_mem, 1) != SEQ_OK)
            goto fail;
        nw = seq_rl_rnn_policy_work_size(&ag->net, n_envs);
    } else {
        sa[0] = sc[0] = obs_dim, sa[1] = sa[2] = sc[1] = sc[2] = H, sa[3] = n_actions, sc[3] = 1;
        if (seq_rl_mlp_init(&ag->actor, ag->P, "actor", 3, sa, SEQ_RL_TANH, 0.01f) != SEQ_OK ||
            seq_rl_mlp_init(&ag->critic, ag->P, "critic", 3, sc, SEQ_RL_TANH, 1.0f) != SEQ_OK ||
            seq_params_alloc(ag->P, &ag->rng) != SEQ_OK)
            goto fail;
        nw = seq_rl_mlp_work_size(&ag->actor, n_envs); /* the actor is the wider of the two */
    }
    if (ag->obs_stats) {
        for (d = 0; d < obs_dim; d++) ag->obs_stats->data[obs_dim + d] = 1.0f;
        ag->obs_stats->data[2 * obs_dim] = 1e-4f;
    }
    oc.eps = 1e-5f, oc.weight_decay = 0.0f, oc.decoupled = 0;
    if (seq_adamw_init(&ag->opt, ag->P, oc) != SEQ_OK) goto fail;
    /* one float block: obs | logp rewards values adv returns | next_value | logits | mixed_obs | mem0 | work */
    ag->obs = (float *)SEQ_MALLOC(
        alloc_ud, (size_t)(B * obs_dim + 5 * B + n_envs + n_envs * n_actions + n_envs * obs_dim + 2 * n_envs * H + nw) *
                      sizeof(float));
    ag->actions = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)B * sizeof(int32_t));
    ag->dones = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)(2 * B));
    ag->perm = (int64_t *)SEQ_MALLOC(alloc_ud, (size_t)(2 * B) * sizeof(int64_t));
    if (!ag->obs || !ag->actions || !ag->dones || !ag->perm) goto fail;
    ag->logp = ag->obs + B * obs_dim, ag->rewards = ag->logp + B, ag->values = ag->rewards + B;
    ag->adv = ag->values + B, ag->returns = ag->adv + B, ag->next_value = ag->returns + B;
    ag->logits = ag->next_value + n_envs, ag->mixed_obs = ag->logits + n_envs * n_actions;
    ag->mem0 = ag->mixed_obs + n_envs * obs_dim, ag->work = ag->mem0 + 2 * n_envs * H;
    ag->guided = ag->dones + B;
    return ag;
fail:
    if (seq_last_status() == SEQ_OK) seq_set_error(SEQ_ERR_NOMEM, "seq_rl_ac_init: out of memory");
    seq_rl_ac_free(ag);
    return NULL;
}

/* Folds a batch of n raw observations into the running mean and variance (Chan et al.'s
 * parallel update, as Gymnasium's RunningMeanStd). */
static void seq_rl__ac_observe(seq_rl_ac *ag, const float *obs, int64_t n) {
    int64_t D = ag->obs_dim, i, d;
    float *mean = ag->obs_stats->data, *var = mean + D, *count = var + D;
    double c = count[0], tot = c + (double)n;
    for (d = 0; d < D; d++) {
        double bm = 0, bv = 0, delta;
        for (i = 0; i < n; i++) bm += obs[i * D + d];
        bm /= (double)n;
        for (i = 0; i < n; i++) bv += (obs[i * D + d] - bm) * (obs[i * D + d] - bm);
        delta = bm - mean[d];
        mean[d] = (float)(mean[d] + delta * (double)n / tot);
        var[d] = (float)((var[d] * c + bv + delta * delta * c * (double)n / tot) / tot);
    }
    count[0] = (float)tot;
}

/* out = what the networks see of n raw observations: standardized and clipped with
 * norm_obs, else a copy (out may be obs). */
static void seq_rl__ac_input(const seq_rl_ac *ag, const float *obs, int64_t n, float *out) {
    int64_t D = ag->obs_dim, i, d;
    if (!ag->obs_stats) {
        if (out != obs) memcpy(out, obs, (size_t)(n * D) * sizeof(float));
        return;
    }
    for (i = 0; i < n; i++)
        for (d = 0; d < D; d++) {
            float z = (obs[i * D + d] - ag->obs_stats->data[d]) / sqrtf(ag->obs_stats->data[D + d] + 1e-8f);
            out[i * D + d] = z < -10.0f ? -10.0f : z > 10.0f ? 10.0f : z;
        }
}

/* The policy's logits (into ag->logits) and values for the envs' observations obs
 * (n_envs, obs_dim); a recurrent agent's memory advances by the step. */
static seq_status seq_rl__ac_policy_step(seq_rl_ac *ag, const float *obs, float *values) {
    if (ag->cfg.recurrent) return seq_rl_rnn_policy_step(&ag->net, &ag->mem, obs, ag->logits, values, ag->work);
    seq_rl_mlp_infer(&ag->actor, obs, ag->n_envs, ag->logits, ag->work);
    seq_rl_mlp_infer(&ag->critic, obs, ag->n_envs, values, ag->work);
    return SEQ_OK;
}

/* V of raw observations (one per env) as the next step would see them, leaving the
 * memory where it is. */
static seq_status seq_rl__ac_peek_values(seq_rl_ac *ag, const float *obs, float *values) {
    size_t n = (size_t)(ag->n_envs * ag->cfg.hidden) * sizeof(float);
    seq_rl__ac_input(ag, obs, ag->n_envs, ag->mixed_obs);
    if (!ag->cfg.recurrent) {
        seq_rl_mlp_infer(&ag->critic, ag->mixed_obs, ag->n_envs, values, ag->work);
        return SEQ_OK;
    }
    memcpy(ag->peek.h, ag->mem.h, n);
    if (ag->mem.c) memcpy(ag->peek.c, ag->mem.c, n);
    return seq_rl_rnn_policy_step(&ag->net, &ag->peek, ag->mixed_obs, ag->logits, values, ag->work);
}

/* Zeroes env i's memory (h, and c for an LSTM): its next step starts an episode. */
static void seq_rl__ac_forget(seq_rl_ac *ag, int64_t i) {
    int64_t H = ag->cfg.hidden;
    memset(ag->mem.h + i * H, 0, (size_t)H * sizeof(float));
    if (ag->mem.c) memset(ag->mem.c + i * H, 0, (size_t)H * sizeof(float));
}

static void seq_rl__ac_record_episode(seq_rl_ac *ag, double ret) {
    ag->recent[ag->n_recent % 100] = ret;
    ag->n_recent++;
}

/* The action for env i at step t of the rollout: the Jump-Start guide's while it leads
 * the episode (with the learner's log-probability of it: the row is masked out of the
 * loss anyway), else a draw from the policy. */
static seq_status seq_rl__ac_choose(seq_rl_ac *ag, const seq_rl_vec_env *v, int64_t t, int64_t i) {
    int64_t k = t * ag->n_envs + i, A = ag->n_actions;
    const float *z = ag->logits + i * A;
    ag->guided[k] = ag->guide && seq_rl_jsrl_guides(ag->guide, v->ep_length[i]); /* the env's t, wherever it runs */
    if (ag->guided[k]) {
        int64_t a = ag->guide->guide(ag->guide->ud, ag->obs + k * ag->obs_dim, i);
        if (a < 0 || a >= A)
            return seq_set_error(SEQ_ERR_RANGE, "seq_rl_ac_iterate: the guide chose action %lld outside [0,%lld)",
                                 (long long)a, (long long)A);
        ag->actions[k] = (int32_t)a, ag->logp[k] = seq_rl__logp_at(z, A, a);
        ag->guide->guided_steps++;
    } else {
        ag->actions[k] = (int32_t)seq_rl_sample_softmax(z, A, &ag->rng, NULL, &ag->logp[k]);
    }
    return SEQ_OK;
}

/* Collects n_steps x n_envs transitions. Truncation folds gamma V(final obs) into the
 * reward, so afterwards every done step is treated alike: no bootstrap across it. */
static seq_status seq_rl__ac_collect(seq_rl_ac *ag, seq_rl_vec_env *v) {
    int64_t t, i, N = ag->n_envs, D = ag->obs_dim, taken = 0;
    seq_status st = SEQ_OK;
    if (ag->cfg.recurrent) { /* where BPTT will start each env's sequence */
        memcpy(ag->mem0, ag->mem.h, (size_t)(N * ag->cfg.hidden) * sizeof(float));
        if (ag->mem.c) memcpy(ag->mem0 + N * ag->cfg.hidden, ag->mem.c, (size_t)(N * ag->cfg.hidden) * sizeof(float));
    }
    for (t = 0; t < ag->cfg.n_steps && st == SEQ_OK; t++) {
        float *o = ag->obs + t * N * D;
        int truncated = 0;
        if (ag->obs_stats) seq_rl__ac_observe(ag, v->obs, N);
        seq_rl__ac_input(ag, v->obs, N, o); /* the rollout keeps what the networks saw */
        st = seq_rl__ac_policy_step(ag, o, ag->values + t * N);
        for (i = 0; i < N && st == SEQ_OK; i++) st = seq_rl__ac_choose(ag, v, t, i);
        if (st == SEQ_OK && (st = seq_rl_vec_env_step(v, ag->actions + t * N)) == SEQ_OK) taken++;
        for (i = 0; i < N && st == SEQ_OK; i++) {
            int64_t k = t * N + i;
            ag->dones[k] = v->terminated[i] || v->truncated[i];
            ag->rewards[k] = v->rewards[i];
            truncated |= v->truncated[i] && !v->terminated[i];
            if (ag->dones[k]) {
                seq_rl__ac_record_episode(ag, v->done_return[i]);
                if (ag->guide) st = seq_rl_jsrl_episode(ag->guide, v->done_return[i]);
            }
        }
        if (truncated && st == SEQ_OK) { /* the value of the last observation, from the memory that saw the episode */
            for (i = 0; i < N; i++)
                memcpy(ag->mixed_obs + i * D, (v->truncated[i] ? v->final_obs : v->obs) + i * D, (size_t)D * sizeof(float));
            st = seq_rl__ac_peek_values(ag, ag->mixed_obs, ag->next_value);
            for (i = 0; i < N; i++)
                if (v->truncated[i] && !v->terminated[i]) ag->rewards[t * N + i] += ag->cfg.gamma * ag->next_value[i];
        }
        for (i = 0; ag->cfg.recurrent && i < N; i++)
            if (ag->dones[t * N + i]) seq_rl__ac_forget(ag, i);
    }
    if (st == SEQ_OK) st = seq_rl__ac_peek_values(ag, v->obs, ag->next_value);
    ag->steps += taken * N; /* the steps the envs took, also when one failed */
    return st;
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

/* The recurrent forward over whole env rollouts: rows idx[0..n) are n / T sequences,
 * row j*T + t step t of env idx[j*T] % N. Each starts from the memory its env had when
 * the rollout began and restarts (a segment reset) after every done step. */
static seq_tensor *seq_rl__ac_sequences(seq_rl_ac *ag, const int64_t *idx, int64_t n, float *x, seq_tensor **values) {
    seq_ctx *ctx = ag->ctx;
    int64_t T = ag->cfg.n_steps, S = n / T, N = ag->n_envs, H = ag->cfg.hidden, j, t, xs[3], hs[3];
    uint8_t *resets = (uint8_t *)seq_ctx_alloc(ctx, (size_t)n);
    seq_tensor *h0, *c0 = NULL;
    seq_rnn_io io;
    hs[0] = 1, hs[1] = S, hs[2] = H;
    h0 = seq_tensor_new(ctx, SEQ_F32, 3, hs);
    if (ag->cfg.cell == SEQ_RNN_LSTM) c0 = seq_tensor_new(ctx, SEQ_F32, 3, hs);
    if (!resets || !h0 || (ag->cfg.cell == SEQ_RNN_LSTM && !c0)) return NULL;
    for (j = 0; j < S; j++) {
        int64_t e = idx[j * T] % N;
        memcpy(h0->data + j * H, ag->mem0 + e * H, (size_t)H * sizeof(float));
        if (c0) memcpy(c0->data + j * H, ag->mem0 + (N + e) * H, (size_t)H * sizeof(float));
        for (t = 0; t < T; t++) resets[j * T + t] = t > 0 && ag->dones[idx[j * T + t] - N];
    }
    memset(&io, 0, sizeof io);
    io.h0 = h0, io.c0 = c0, io.resets = resets;
    xs[0] = S, xs[1] = T, xs[2] = ag->obs_dim;
    return seq_rl_rnn_policy_forward(ctx, &ag->net, seq_tensor_wrap(ctx, x, 3, xs), &io, values);
}

/* One gradient step on the rollout rows idx[0..n) (recurrent: whole env sequences, see
 * above). Rows the guide played are masked out, of the advantage statistics too. */
static seq_status seq_rl__ac_minibatch(seq_rl_ac *ag, const int64_t *idx, int64_t n, float lr) {
    seq_ctx *ctx = ag->ctx;
    int64_t D = ag->obs_dim, i, shape[2];
    float *x, *lp, *adv, *ret, *oldv, *mask;
    int32_t *act;
    double mean = 0, var = 0, M = 0;
    seq_rl_pg_batch b;
    seq_tensor *logits, *values = NULL, *loss;
    seq_ctx_reset(ctx);
    x = (float *)seq_ctx_alloc(ctx, (size_t)(n * D + 5 * n) * sizeof(float));
    act = (int32_t *)seq_ctx_alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!x || !act) return seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_NOMEM;
    lp = x + n * D, adv = lp + n, ret = adv + n, oldv = ret + n, mask = oldv + n;
    for (i = 0; i < n; i++) {
        int64_t k = idx[i];
        memcpy(x + i * D, ag->obs + k * D, (size_t)D * sizeof(float));
        lp[i] = ag->logp[k], adv[i] = ag->adv[k], ret[i] = ag->returns[k], oldv[i] = ag->values[k], act[i] = ag->actions[k];
        mask[i] = !ag->guided[k];
        mean += mask[i] * adv[i], M += mask[i];
    }
    if (M == 0) return SEQ_OK; /* the guide played every step: nothing of the learner's to learn from */
    if (ag->cfg.norm_adv && M > 1) {
        mean /= M;
        for (i = 0; i < n; i++) var += mask[i] * (adv[i] - mean) * (adv[i] - mean);
        var = sqrt(var / (M - 1)) + 1e-8;
        for (i = 0; i < n; i++) adv[i] = (float)((adv[i] - mean) / var);
    }
    b.actions = act, b.old_logp = lp, b.adv = adv, b.returns = ret, b.old_values = oldv, b.ref_logp = NULL, b.mask = mask;
    if (ag->cfg.recurrent) {
        logits = seq_rl__ac_sequences(ag, idx, n, x, &values);
    } else {
        shape[0] = n, shape[1] = D;
        logits = seq_rl_mlp_forward(ctx, &ag->actor, seq_tensor_wrap(ctx, x, 2, shape));
        values = seq_reshape(ctx, seq_rl_mlp_forward(ctx, &ag->critic, seq_tensor_wrap(ctx, x, 2, shape)), 1, shape);
    }
    loss = seq_rl_pg_loss(ctx, logits, values, &b, ag->cfg.loss, &ag->last);
    if (seq_ctx_status(ctx) != SEQ_OK) return seq_ctx_status(ctx);
    seq_params_zero_grad(ag->P);
    seq_backward(ctx, loss);
    if (ag->cfg.max_grad_norm > 0) seq_clip_grad_norm(ag->P, ag->cfg.max_grad_norm);
    return seq_adamw_step(&ag->opt, ag->P, lr);
}

SEQDEF seq_status seq_rl_ac_iterate(seq_rl_ac *ag, seq_rl_vec_env *v) {
    int64_t T, N, units, len, mb, e, k, j, t, *rows;
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
    /* shuffled units: single rows, or for a recurrent agent whole env sequences of T rows */
    T = ag->cfg.n_steps, N = ag->n_envs;
    units = ag->cfg.recurrent ? N : T * N, len = ag->cfg.recurrent ? T : 1;
    mb = units / ag->cfg.minibatches, rows = ag->perm + T * N;
    for (e = 0; e < ag->cfg.epochs; e++) {
        seq_rng_permutation(&ag->rng, ag->perm, units);
        for (k = 0; k < ag->cfg.minibatches; k++) {
            int64_t first = k * mb, count = k + 1 == ag->cfg.minibatches ? units - first : mb;
            for (j = 0; j < count; j++)
                for (t = 0; t < len; t++) rows[j * len + t] = ag->cfg.recurrent ? t * N + ag->perm[first + j] : ag->perm[first + j];
            st = seq_rl__ac_minibatch(ag, rows, count * len, lr);
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
    seq_rl__ac_input(ag, obs, 1, ag->mixed_obs);
    if (ag->cfg.recurrent) seq_rl_rnn_policy_step(&ag->net, &ag->act_mem, ag->mixed_obs, ag->logits, NULL, ag->work);
    else seq_rl_mlp_infer(&ag->actor, ag->mixed_obs, 1, ag->logits, ag->work);
    if (rng) return seq_rl_sample_softmax(ag->logits, ag->n_actions, rng, prob, NULL);
    if (prob) *prob = 1.0f; /* the greedy policy is deterministic */
    return seq_rl__argmax_f(ag->logits, ag->n_actions);
}

SEQDEF void seq_rl_ac_reset_memory(seq_rl_ac *ag) {
    if (!ag || !ag->cfg.recurrent) return;
    seq_rnn_state_reset(&ag->act_mem);
    seq_rnn_state_reset(&ag->mem);
}

SEQDEF seq_status seq_rl_ac_save(const seq_rl_ac *ag, const char *path) {
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_save: NULL argument");
    return seq_safetensors_save(ag->P, path);
}

SEQDEF seq_status seq_rl_ac_load(seq_rl_ac *ag, const char *path) {
    if (!ag || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_load: NULL argument");
    return seq_safetensors_load(ag->P, path);
}

/* --- GRPO ------------------------------------------------------------------------------ */

static void seq_rl__task_sample(const seq_rl_seq_task *task, seq_rng *rng, int32_t *prompt) {
    int64_t i;
    for (i = 0; i < task->prompt_len; i++) prompt[i] = (int32_t)seq_rng_below(rng, (uint64_t)task->vocab);
}

/* The right answer to a built-in task's prompt. */
static void seq_rl__task_solution(const seq_rl_seq_task *task, const int32_t *prompt, int32_t *out) {
    int64_t n = task->prompt_len, i, j, sum = 0;
    if (task->kind == SEQ_RL_TASK_SUM) {
        for (i = 0; i < n; i++) sum += prompt[i];
        for (i = task->answer_len - 1; i >= 0; i--) out[i] = (int32_t)(sum % task->vocab), sum /= task->vocab;
        return;
    }
    for (i = 0; i < n; i++) out[i] = task->kind == SEQ_RL_TASK_REVERSE ? prompt[n - 1 - i] : prompt[i];
    if (task->kind == SEQ_RL_TASK_SORT)
        for (i = 1; i < n; i++) /* insertion sort: prompts are short */
            for (j = i; j > 0 && out[j - 1] > out[j]; j--) {
                int32_t tmp = out[j];
                out[j] = out[j - 1], out[j - 1] = tmp;
            }
}

static double seq_rl__task_reward(const seq_rl_seq_task *task, const int32_t *prompt, const int32_t *answer) {
    int32_t want[SEQ_RL_TASK_MAX_LEN];
    int64_t i, right = 0;
    seq_rl__task_solution(task, prompt, want);
    for (i = 0; i < task->answer_len; i++) right += answer[i] == want[i];
    if (right == task->answer_len) return 1.0;
    return task->partial ? 0.5 * (double)right / (double)task->answer_len : 0.0;
}

SEQDEF seq_status seq_rl_seq_task_builtin(seq_rl_seq_task *task, seq_rl_seq_task_kind kind, int64_t vocab, int64_t len,
                                          int partial) {
    int64_t digits = 1, cap;
    if (!task || (int)kind < 0 || kind >= SEQ_RL_SEQ_TASK_KIND_COUNT || vocab < 2 || vocab > 65536 || len < 1 ||
        len > SEQ_RL_TASK_MAX_LEN)
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_seq_task_builtin: unknown kind, vocab outside [2,65536] or length "
                                              "outside [1,%d]", SEQ_RL_TASK_MAX_LEN);
    memset(task, 0, sizeof *task);
    task->vocab = vocab, task->prompt_len = len, task->answer_len = len, task->kind = (int)kind, task->partial = partial;
    task->sample = seq_rl__task_sample, task->reward = seq_rl__task_reward;
    if (kind == SEQ_RL_TASK_SUM) { /* digits of the largest sum, len * (vocab - 1) */
        for (cap = vocab; cap - 1 < len * (vocab - 1); cap *= vocab) digits++;
        task->answer_len = digits;
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_grpo_advantages(const double *rewards, int64_t n_groups, int64_t group, int scale_std,
                                         float eps, float *adv) {
    int64_t g, i;
    if (!rewards || !adv || n_groups < 1 || group < 1 || !(eps >= 0))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_advantages: NULL array, a count < 1 or eps < 0");
    for (i = 0; i < n_groups * group; i++)
        if (!isfinite(rewards[i]))
            return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_advantages: rewards[%lld] is not finite", (long long)i);
    for (g = 0; g < n_groups; g++) {
        const double *r = rewards + g * group;
        double mean = 0, var = 0, lo = r[0], hi = r[0];
        for (i = 0; i < group; i++) mean += r[i], lo = r[i] < lo ? r[i] : lo, hi = r[i] > hi ? r[i] : hi;
        mean /= (double)group;
        for (i = 0; i < group; i++) var += (r[i] - mean) * (r[i] - mean);
        var = group > 1 ? var / (double)(group - 1) : 0.0;
        for (i = 0; i < group; i++) /* equal rewards say nothing: exactly 0, not rounding noise */
            adv[g * group + i] = lo == hi ? 0.0f : (float)(scale_std ? (r[i] - mean) / (sqrt(var) + eps) : r[i] - mean);
    }
    return SEQ_OK;
}

SEQDEF seq_rl_grpo_config seq_rl_grpo_config_default(void) {
    seq_rl_grpo_config c;
    memset(&c, 0, sizeof c);
    c.cell = SEQ_RNN_GRU, c.hidden = 64, c.prompts = 16, c.group = 8, c.epochs = 4, c.lr = 1e-2f, c.max_grad_norm = 1.0f;
    c.scale_std = 1, c.adv_eps = 1e-4f, c.ref_every = 0;
    c.loss = seq_rl_pg_config_default();
    c.loss.vf_clip = 0, c.loss.vf_coef = 0, c.loss.ent_coef = 0, c.loss.kl_coef = 0.04f;
    return c;
}

SEQDEF void seq_rl_grpo_free(seq_rl_grpo *g) {
    if (!g) return;
    seq_rnn_state_free(&g->st);
    seq_rnn_state_free(&g->st_ref);
    seq_adamw_free(&g->opt);
    seq_ctx_free(g->ctx);
    seq_params_free(g->P);
    seq_params_free(g->P_ref);
    SEQ_FREE(g->alloc_ud, g->prompt);
    SEQ_FREE(g->alloc_ud, g->reward);
    SEQ_FREE(g->alloc_ud, g->adv);
    SEQ_FREE(g->alloc_ud, g);
}

SEQDEF seq_rl_grpo *seq_rl_grpo_init(seq_rl_grpo_config cfg, const seq_rl_seq_task *task, uint64_t seed,
                                     void *alloc_ud) {
    seq_rl_grpo *g;
    int64_t n, V, Lp, L, nf;
    seq_adamw_config oc = seq_adamw_config_default();
    if (!task || !task->sample || !task->reward || task->vocab < 1 || task->prompt_len < 1 || task->answer_len < 1 ||
        cfg.prompts < 1 || cfg.group < 2 || cfg.hidden < 1 || cfg.epochs < 1 || !(cfg.lr > 0) || !(cfg.adv_eps >= 0) ||
        !(cfg.loss.kl_coef >= 0) || cfg.ref_every < 0) {
        seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_init: a task without sample or reward, a size < 1, group < 2, or "
                                       "lr, eps, kl_coef out of range");
        return NULL;
    }
    g = (seq_rl_grpo *)seq_rl__new(alloc_ud, sizeof *g, "seq_rl_grpo_init");
    if (!g) return NULL;
    g->cfg = cfg, g->task = *task, g->alloc_ud = alloc_ud, g->n = n = cfg.prompts * cfg.group;
    V = task->vocab, Lp = task->prompt_len, L = task->answer_len;
    seq_rng_seed(&g->rng, seed);
    g->P = seq_params_init(alloc_ud);
    g->P_ref = seq_params_init(alloc_ud);
    g->ctx = seq_ctx_init(alloc_ud);
    /* input: the V tokens and a separator, one-hot; output: the next answer token */
    if (!g->P || !g->P_ref || !g->ctx ||
        seq_rl_rnn_policy_init(&g->pi, g->P, "policy", cfg.cell, V + 1, cfg.hidden, V, 0) != SEQ_OK ||
        seq_rl_rnn_policy_init(&g->ref, g->P_ref, "policy", cfg.cell, V + 1, cfg.hidden, V, 0) != SEQ_OK ||
        seq_params_alloc(g->P, &g->rng) != SEQ_OK || seq_params_alloc(g->P_ref, &g->rng) != SEQ_OK ||
        seq_rnn_state_init(&g->pi.rnn, &g->st, n) != SEQ_OK || seq_rnn_state_init(&g->ref.rnn, &g->st_ref, n) != SEQ_OK)
        goto fail;
    memcpy(g->P_ref->data, g->P->data, (size_t)g->P->numel * sizeof(float));
    oc.weight_decay = 0.0f, oc.decoupled = 0;
    if (seq_adamw_init(&g->opt, g->P, oc) != SEQ_OK) goto fail;
    /* blocks: prompt | answer (int32);  reward (double);  adv | old_logp | ref_logp | x | logits | work */
    nf = n + 2 * n * L + n * (V + 1) + n * V + seq_rl_rnn_policy_work_size(&g->pi, n);
    g->prompt = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)(n * (Lp + L)) * sizeof(int32_t));
    g->reward = (double *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(double));
    g->adv = (float *)SEQ_MALLOC(alloc_ud, (size_t)nf * sizeof(float));
    if (!g->prompt || !g->reward || !g->adv) goto fail;
    g->answer = g->prompt + n * Lp;
    g->old_logp = g->adv + n, g->ref_logp = g->old_logp + n * L, g->x = g->ref_logp + n * L;
    g->logits = g->x + n * (V + 1), g->work = g->logits + n * V;
    return g;
fail:
    if (seq_last_status() == SEQ_OK) seq_set_error(SEQ_ERR_NOMEM, "seq_rl_grpo_init: out of memory");
    seq_rl_grpo_free(g);
    return NULL;
}

/* The input token at position t of row r: prompt, separator (V), then the answer so far. */
static int32_t seq_rl__grpo_token(const seq_rl_grpo *g, const int32_t *prompt, const int32_t *answer, int64_t t) {
    int64_t Lp = g->task.prompt_len;
    return t < Lp ? prompt[t] : t == Lp ? (int32_t)g->task.vocab : answer[t - Lp - 1];
}

/* Answers m <= n prompts: sampled with rng (then logp and, with ref_logp, the reference's
 * log-probabilities of each token), greedy with rng NULL. Rows past m run on zeros. */
static seq_status seq_rl__grpo_generate(seq_rl_grpo *g, const int32_t *prompts, int64_t m, seq_rng *rng,
                                        int32_t *answers, float *logp, float *ref_logp) {
    int64_t V = g->task.vocab, Lp = g->task.prompt_len, L = g->task.answer_len, n = g->n, t, r;
    seq_status s = SEQ_OK;
    seq_rnn_state_reset(&g->st);
    seq_rnn_state_reset(&g->st_ref);
    for (t = 0; t < Lp + L && s == SEQ_OK; t++) {
        memset(g->x, 0, (size_t)(n * (V + 1)) * sizeof(float));
        for (r = 0; r < m; r++) g->x[r * (V + 1) + seq_rl__grpo_token(g, prompts + r * Lp, answers + r * L, t)] = 1.0f;
        s = seq_rl_rnn_policy_step(&g->pi, &g->st, g->x, g->logits, NULL, g->work);
        for (r = 0; r < m && s == SEQ_OK && t >= Lp; r++) {
            const float *z = g->logits + r * V;
            int32_t *a = answers + r * L + (t - Lp);
            *a = (int32_t)(rng ? seq_rl_sample_softmax(z, V, rng, NULL, logp ? logp + r * L + (t - Lp) : NULL)
                               : seq_rl__argmax_f(z, V));
        }
        if (ref_logp && s == SEQ_OK) {
            s = seq_rl_rnn_policy_step(&g->ref, &g->st_ref, g->x, g->logits, NULL, g->work);
            for (r = 0; r < m && t >= Lp; r++)
                ref_logp[r * L + (t - Lp)] = seq_rl__logp_at(g->logits + r * V, V, answers[r * L + (t - Lp)]);
        }
    }
    return s;
}

static seq_status seq_rl__grpo_check_prompts(const seq_rl_grpo *g, const int32_t *prompts, int64_t n, const char *fn) {
    int64_t i;
    for (i = 0; i < n * g->task.prompt_len; i++)
        if (prompts[i] < 0 || prompts[i] >= g->task.vocab)
            return seq_set_error(SEQ_ERR_RANGE, "%s: prompt token %lld is %d, outside [0,%lld)", fn, (long long)i,
                                 (int)prompts[i], (long long)g->task.vocab);
    return SEQ_OK;
}

/* One gradient step on the last batch: the whole prompt + answer sequences through the
 * fused RNN forward, the answer positions counted by the loss, the rest masked. */
static seq_status seq_rl__grpo_step(seq_rl_grpo *g) {
    seq_ctx *ctx = g->ctx;
    int64_t V = g->task.vocab, Lp = g->task.prompt_len, L = g->task.answer_len, T = Lp + L, n = g->n, r, t, xs[3];
    float *old, *adv, *ref, *mask;
    int32_t *act;
    seq_tensor *x, *logits, *loss;
    seq_rl_pg_batch b;
    seq_ctx_reset(ctx);
    xs[0] = n, xs[1] = T, xs[2] = V + 1;
    x = seq_tensor_new(ctx, SEQ_F32, 3, xs); /* (n, T, V+1) one-hot, zero-filled */
    old = (float *)seq_ctx_alloc(ctx, (size_t)(4 * n * T) * sizeof(float));
    act = (int32_t *)seq_ctx_alloc(ctx, (size_t)(n * T) * sizeof(int32_t));
    if (!x || !old || !act) return seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_NOMEM;
    adv = old + n * T, ref = adv + n * T, mask = ref + n * T;
    for (r = 0; r < n; r++)
        for (t = 0; t < T; t++) {
            int64_t k = r * T + t, j = t - Lp; /* the output at t predicts answer token j */
            x->data[k * (V + 1) + seq_rl__grpo_token(g, g->prompt + r * Lp, g->answer + r * L, t)] = 1.0f;
            mask[k] = j >= 0;
            act[k] = j >= 0 ? g->answer[r * L + j] : 0;
            old[k] = j >= 0 ? g->old_logp[r * L + j] : 0.0f;
            ref[k] = j >= 0 ? g->ref_logp[r * L + j] : 0.0f;
            adv[k] = g->adv[r];
        }
    memset(&b, 0, sizeof b);
    b.actions = act, b.old_logp = old, b.adv = adv, b.ref_logp = ref, b.mask = mask;
    logits = seq_rl_rnn_policy_forward(ctx, &g->pi, x, NULL, NULL);
    loss = seq_rl_pg_loss(ctx, logits, NULL, &b, g->cfg.loss, &g->last);
    if (seq_ctx_status(ctx) != SEQ_OK) return seq_ctx_status(ctx);
    seq_params_zero_grad(g->P);
    seq_backward(ctx, loss);
    if (g->cfg.max_grad_norm > 0) seq_clip_grad_norm(g->P, g->cfg.max_grad_norm);
    return seq_adamw_step(&g->opt, g->P, g->cfg.lr);
}

SEQDEF seq_status seq_rl_grpo_iterate(seq_rl_grpo *g) {
    int64_t G, Lp, L, p, r, e;
    double sum = 0, solved = 0;
    seq_status s;
    if (!g) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_iterate: NULL trainer");
    G = g->cfg.group, Lp = g->task.prompt_len, L = g->task.answer_len;
    for (p = 0; p < g->cfg.prompts; p++) { /* one prompt per group, answered G times */
        g->task.sample(&g->task, &g->rng, g->prompt + p * G * Lp);
        for (r = 1; r < G; r++) memcpy(g->prompt + (p * G + r) * Lp, g->prompt + p * G * Lp, (size_t)Lp * sizeof(int32_t));
    }
    s = seq_rl__grpo_check_prompts(g, g->prompt, g->n, "seq_rl_grpo_iterate (the task's sample)");
    if (s == SEQ_OK) s = seq_rl__grpo_generate(g, g->prompt, g->n, &g->rng, g->answer, g->old_logp, g->ref_logp);
    if (s != SEQ_OK) return s;
    for (r = 0; r < g->n; r++) g->reward[r] = g->task.reward(&g->task, g->prompt + r * Lp, g->answer + r * L);
    s = seq_rl_grpo_advantages(g->reward, g->cfg.prompts, G, g->cfg.scale_std, g->cfg.adv_eps, g->adv);
    if (s != SEQ_OK) return seq_set_error(s, "seq_rl_grpo_iterate: the task's reward is not finite");
    for (r = 0; r < g->n; r++) sum += g->reward[r], solved += g->reward[r] >= 1.0;
    g->mean_reward = sum / (double)g->n, g->solved = solved / (double)g->n;
    for (e = 0; e < g->cfg.epochs && s == SEQ_OK; e++) s = seq_rl__grpo_step(g);
    if (s != SEQ_OK) return s;
    g->iterations++;
    if (g->cfg.ref_every > 0 && g->iterations % g->cfg.ref_every == 0)
        memcpy(g->P_ref->data, g->P->data, (size_t)g->P->numel * sizeof(float));
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_grpo_answer(seq_rl_grpo *g, const int32_t *prompts, int64_t n, seq_rng *rng, int32_t *answers) {
    int64_t off;
    seq_status s;
    if (!g || !prompts || !answers || n < 0) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_answer: NULL argument or n < 0");
    s = seq_rl__grpo_check_prompts(g, prompts, n, "seq_rl_grpo_answer");
    for (off = 0; off < n && s == SEQ_OK; off += g->n) /* in batches of the trainer's width */
        s = seq_rl__grpo_generate(g, prompts + off * g->task.prompt_len, n - off < g->n ? n - off : g->n, rng,
                                  answers + off * g->task.answer_len, NULL, NULL);
    return s;
}

SEQDEF double seq_rl_grpo_solve_rate(seq_rl_grpo *g, int64_t n, seq_rng *rng) {
    int32_t *prompt, *answer;
    int64_t Lp, L, i, done, m;
    double solved = 0;
    if (!g || !rng || n < 1) return NAN;
    Lp = g->task.prompt_len, L = g->task.answer_len;
    prompt = (int32_t *)SEQ_MALLOC(g->alloc_ud, (size_t)(g->n * (Lp + L)) * sizeof(int32_t));
    if (!prompt) return NAN;
    answer = prompt + g->n * Lp;
    for (done = 0; done < n; done += m) {
        m = n - done < g->n ? n - done : g->n;
        for (i = 0; i < m; i++) g->task.sample(&g->task, rng, prompt + i * Lp);
        if (seq_rl_grpo_answer(g, prompt, m, NULL, answer) != SEQ_OK) break;
        for (i = 0; i < m; i++) solved += g->task.reward(&g->task, prompt + i * Lp, answer + i * L) >= 1.0;
    }
    SEQ_FREE(g->alloc_ud, prompt);
    return done >= n ? solved / (double)n : NAN;
}

/* What a GRPO save records about the trainer's shape: a load refuses any other. */
static void seq_rl__grpo_shape(const seq_rl_grpo *g, int64_t *shape) {
    shape[0] = g->task.vocab, shape[1] = g->task.prompt_len, shape[2] = g->task.answer_len;
    shape[3] = g->cfg.hidden, shape[4] = (int64_t)g->cfg.cell, shape[5] = g->n;
}

SEQDEF seq_status seq_rl_grpo_save(const seq_rl_grpo *g, const char *path) {
    seq_rl_save w;
    int64_t shape[6], counters[2], rng[4];
    int k;
    if (!g || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_save: NULL argument");
    seq_rl__grpo_shape(g, shape);
    counters[0] = g->iterations, counters[1] = g->opt.st.step;
    for (k = 0; k < 4; k++) rng[k] = (int64_t)g->rng.s[k];
    seq_rl_save_begin(&w, "grpo", g->alloc_ud);
    seq_rl_save_i64s(&w, "shape", 6, shape);
    seq_rl_save_i64s(&w, "counters", 2, counters);
    seq_rl_save_i64s(&w, "rng", 4, rng);
    seq_rl_save_f32s(&w, "policy", g->P->numel, g->P->data);
    seq_rl_save_f32s(&w, "reference", g->P_ref->numel, g->P_ref->data);
    seq_rl_save_f32s(&w, "adam", g->opt.st.numel, g->opt.st.buf);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_grpo_load(seq_rl_grpo *g, const char *path) {
    seq_rl_load r;
    int64_t shape[6], want[6], counters[2] = {0, 0}, rng[4] = {0, 0, 0, 0};
    seq_status s;
    int k;
    if (!g || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_grpo_load: NULL argument");
    s = seq_rl_load_open(&r, path, "grpo", g->alloc_ud);
    if (s != SEQ_OK) return s;
    seq_rl__grpo_shape(g, want);
    s = seq_rl_load_i64s(&r, "shape", 6, shape);
    if (s == SEQ_OK && memcmp(shape, want, sizeof shape) != 0)
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_grpo_load: '%s' holds a trainer of another task size or network", path);
    /* every field checked before any is copied in: a failed load changes nothing */
    if (s == SEQ_OK && (seq_rl_load_count(&r, "policy", SEQ_RL_FIELD_F32) != g->P->numel ||
                        seq_rl_load_count(&r, "reference", SEQ_RL_FIELD_F32) != g->P_ref->numel ||
                        seq_rl_load_count(&r, "adam", SEQ_RL_FIELD_F32) != g->opt.st.numel))
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_grpo_load: '%s' lacks a field or has one of another size", path);
    if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "counters", 2, counters);
    if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "rng", 4, rng);
    if (s == SEQ_OK) {
        seq_rl_load_f32s(&r, "policy", g->P->numel, g->P->data);
        seq_rl_load_f32s(&r, "reference", g->P_ref->numel, g->P_ref->data);
        seq_rl_load_f32s(&r, "adam", g->opt.st.numel, g->opt.st.buf);
        g->iterations = counters[0], g->opt.st.step = counters[1];
        for (k = 0; k < 4; k++) g->rng.s[k] = (uint64_t)rng[k];
    }
    seq_rl_load_close(&r);
    return s;
}

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper (implementation)
 * =================================================================================== */

SEQDEF seq_rl_jsrl_config seq_rl_jsrl_config_default(int64_t horizon, double threshold) {
    seq_rl_jsrl_config c;
    c.horizon = horizon, c.stages = 10, c.threshold = threshold, c.window = 20;
    return c;
}

static int seq_rl__jsrl_config_ok(const seq_rl_jsrl_config *c) {
    return c->horizon >= 0 && c->stages >= 1 && c->window >= 1 && c->window <= SEQ_RL_JSRL_MAX_WINDOW &&
           isfinite(c->threshold);
}

SEQDEF seq_status seq_rl_jsrl_init(seq_rl_jsrl *j, seq_rl_jsrl_config cfg, seq_rl_guide_fn guide, void *ud) {
    if (!j || !guide || !seq_rl__jsrl_config_ok(&cfg))
        return seq_set_error(SEQ_ERR_INVALID, "seq_rl_jsrl_init: NULL guide, horizon < 0, stages < 1, window outside "
                                              "[1,%d] or threshold not finite", SEQ_RL_JSRL_MAX_WINDOW);
    memset(j, 0, sizeof *j);
    j->cfg = cfg, j->guide = guide, j->ud = ud, j->h = cfg.horizon;
    return SEQ_OK;
}

SEQDEF int seq_rl_jsrl_guides(const seq_rl_jsrl *j, int64_t t) { return j && t < j->h; }

/* h_k = horizon (stages - k) / stages, rounded down, without forming the product that
 * overflows for a horizon near 2^63: horizon = q stages + r gives q (stages - k) + the
 * small r (stages - k) / stages. */
static int64_t seq_rl__jsrl_h(const seq_rl_jsrl_config *c, int stage) {
    int64_t q = c->horizon / c->stages, r = c->horizon % c->stages, left = c->stages - stage;
    return q * left + r * left / c->stages;
}

SEQDEF seq_status seq_rl_jsrl_episode(seq_rl_jsrl *j, double ret) {
    int64_t i, n;
    double mean = 0;
    if (!j || !isfinite(ret)) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_jsrl_episode: NULL curriculum or non-finite return");
    j->recent[j->n_recent % j->cfg.window] = ret;
    j->n_recent++, j->episodes++;
    if (j->stage == j->cfg.stages || j->n_recent < j->cfg.window) return SEQ_OK;
    n = j->cfg.window;
    for (i = 0; i < n; i++) mean += j->recent[i];
    if (mean / (double)n >= j->cfg.threshold) { /* good enough with this much help: take some away */
        j->stage++;
        j->h = seq_rl__jsrl_h(&j->cfg, j->stage);
        j->n_recent = 0;
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_jsrl_save(const seq_rl_jsrl *j, const char *path) {
    seq_rl_save w;
    int64_t cfg[3], state[5];
    if (!j || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_jsrl_save: NULL argument");
    cfg[0] = j->cfg.horizon, cfg[1] = j->cfg.stages, cfg[2] = j->cfg.window;
    state[0] = j->stage, state[1] = j->h, state[2] = j->n_recent, state[3] = j->episodes, state[4] = j->guided_steps;
    seq_rl_save_begin(&w, "jsrl", NULL);
    seq_rl_save_i64s(&w, "config", 3, cfg);
    seq_rl_save_f64s(&w, "threshold", 1, &j->cfg.threshold);
    seq_rl_save_i64s(&w, "state", 5, state);
    seq_rl_save_f64s(&w, "recent", j->cfg.window, j->recent);
    return seq_rl_save_end(&w, path);
}

SEQDEF seq_status seq_rl_jsrl_load(seq_rl_jsrl *j, const char *path) {
    seq_rl_load r;
    seq_rl_jsrl_config c;
    int64_t cfg[3] = {0, 0, 0}, state[5] = {0, 0, 0, 0, 0};
    double recent[SEQ_RL_JSRL_MAX_WINDOW];
    seq_status s;
    if (!j || !path) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_jsrl_load: NULL argument");
    s = seq_rl_load_open(&r, path, "jsrl", NULL);
    if (s != SEQ_OK) return s;
    s = seq_rl_load_i64s(&r, "config", 3, cfg);
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "threshold", 1, &c.threshold);
    if (s == SEQ_OK) s = seq_rl_load_i64s(&r, "state", 5, state);
    c.horizon = cfg[0], c.stages = (int)cfg[1], c.window = cfg[2];
    /* counters past 2^62 are impossible, and would overflow as episodes go on */
    if (s == SEQ_OK && (cfg[1] < 1 || cfg[1] > 1000000 || !seq_rl__jsrl_config_ok(&c) || state[0] < 0 ||
                        state[0] > c.stages || state[1] < 0 || state[1] > c.horizon || state[2] < 0 || state[3] < 0 ||
                        state[4] < 0 || state[2] > ((int64_t)1 << 62) || state[3] > ((int64_t)1 << 62) ||
                        state[4] > ((int64_t)1 << 62)))
        s = seq_set_error(SEQ_ERR_FORMAT, "seq_rl_jsrl_load: '%s' holds an impossible curriculum", path);
    if (s == SEQ_OK) s = seq_rl_load_f64s(&r, "recent", c.window, recent);
    seq_rl_load_close(&r);
    if (s != SEQ_OK) return s;
    j->cfg = c, j->stage = (int)state[0], j->h = state[1], j->n_recent = state[2], j->episodes = state[3];
    j->guided_steps = state[4];
    memcpy(j->recent, recent, (size_t)c.window * sizeof(double));
    return SEQ_OK;
}

SEQDEF seq_status seq_rl_ac_set_guide(seq_rl_ac *ag, seq_rl_jsrl *j) {
    if (!ag) return seq_set_error(SEQ_ERR_INVALID, "seq_rl_ac_set_guide: NULL agent");
    ag->guide = j;
    return SEQ_OK;
}

#endif /* SEQ_RL_IMPLEMENTATION_DONE */
#endif /* SEQ_RL_IMPLEMENTATION */
