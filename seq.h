/* seq.h — machine learning on sequences in one C header.
 *
 * stb-style: include it anywhere for the declarations; in exactly one C or C++ file
 *     #define SEQ_IMPLEMENTATION
 *     #include "seq.h"
 * Options (define before the implementation include):
 *     SEQ_STATIC          every function static to that translation unit
 *     SEQ_USE_BLIS        seq_sgemm calls BLIS (link -lblis)
 *     SEQ_USE_OPENMP      parallel outer loops (compile with -fopenmp)
 *     SEQ_NO_SIMD         force the scalar reference kernels
 *     SEQ_MALLOC(ud,sz) SEQ_REALLOC(ud,p,sz) SEQ_FREE(ud,p)   custom allocator (all or none)
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  config and macros         8  ops
 *     2  status and errors         9  losses
 *     3  random numbers           10  autograd
 *     4  memory: ctx, arena, tape 11  optimizers
 *     5  tensors                  12  learning-rate schedules
 *     6  parameters               13  files: safetensors, checkpoints
 *     7  GEMM                     14  layers
 *
 * Conventions: row-major, outermost dimension first, PyTorch order; a sequence batch is
 * (B,T,C); a Linear weight is (out,in). Fallible calls return seq_status (SEQ_OK = 0);
 * constructors return NULL and set seq_last_error(); graph-building ops record the
 * first failure in their seq_ctx and return NULL afterwards, so check seq_ctx_status()
 * once per step. The library never prints, exits or aborts on user input.
 */
#ifndef SEQ_H
#define SEQ_H

#define SEQ_VERSION_MAJOR 0
#define SEQ_VERSION_MINOR 1
#define SEQ_VERSION_PATCH 0
#define SEQ_VERSION ((SEQ_VERSION_MAJOR * 10000) + (SEQ_VERSION_MINOR * 100) + SEQ_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>

/* ===================================================================================
 * 1  config and macros
 * =================================================================================== */

#if defined(SEQ_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define SEQDEF static __attribute__((unused)) /* a TU need not use every function */
#elif defined(SEQ_STATIC)
#define SEQDEF static
#else
#define SEQDEF extern
#endif

#ifdef __cplusplus
#define SEQ_RESTRICT __restrict
#else
#define SEQ_RESTRICT restrict
#endif

#define SEQ_MAX_DIMS 4

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 2  status and errors
 * =================================================================================== */

typedef enum seq_status {
    SEQ_OK = 0,
    SEQ_ERR_INVALID = -1,     /* bad argument: NULL, out-of-range option, NaN where finite required */
    SEQ_ERR_SHAPE = -2,       /* tensor shapes do not fit together */
    SEQ_ERR_NOMEM = -3,       /* an allocation failed */
    SEQ_ERR_IO = -4,          /* the operating system refused a read or write */
    SEQ_ERR_FORMAT = -5,      /* a file or buffer is malformed */
    SEQ_ERR_UNSUPPORTED = -6, /* valid request this build or backend cannot do */
    SEQ_ERR_RANGE = -7,       /* an index (token id, action, item) is out of range */
    SEQ_ERR_NUMERIC = -8,     /* non-finite value or failed factorization */
    SEQ_ERR_STATE = -9,       /* call out of order (e.g. adding a parameter after alloc) */
    SEQ_STATUS_COUNT = 10     /* number of distinct codes */
} seq_status;

SEQDEF const char *seq_status_str(seq_status s);
/* Message of the last failed call on this thread ("" if none). */
SEQDEF const char *seq_last_error(void);
SEQDEF void seq_clear_error(void);

/* Optional log sink for error messages; silent by default. Set it once at startup. */
typedef void (*seq_log_fn)(void *ud, seq_status s, const char *msg);
SEQDEF void seq_set_log(seq_log_fn fn, void *ud);

/* ===================================================================================
 * 3  random numbers: xoshiro256**, seeded through splitmix64
 * =================================================================================== */

typedef struct seq_rng {
    uint64_t s[4];
} seq_rng;

SEQDEF void seq_rng_seed(seq_rng *r, uint64_t seed);
/* Advance by 2^128 draws: k calls give k non-overlapping streams (per thread, per rank). */
SEQDEF void seq_rng_jump(seq_rng *r);
SEQDEF uint64_t seq_rng_u64(seq_rng *r);
SEQDEF uint64_t seq_rng_below(seq_rng *r, uint64_t n); /* uniform in [0,n), unbiased; 0 if n == 0 */
SEQDEF double seq_rng_double(seq_rng *r);             /* uniform in [0,1), 53 bits */
SEQDEF float seq_rng_float(seq_rng *r);               /* uniform in [0,1), 24 bits */
SEQDEF double seq_rng_uniform(seq_rng *r, double lo, double hi);
SEQDEF double seq_rng_normal(seq_rng *r, double mean, double std);
SEQDEF double seq_rng_gamma(seq_rng *r, double shape, double scale); /* shape, scale > 0 */
SEQDEF double seq_rng_beta(seq_rng *r, double a, double b);          /* a, b > 0 */
/* Index drawn with probability w[i] / sum(w); weights need not be normalized.
 * Returns -1 when n <= 0, a weight is negative or non-finite, or all are zero. */
SEQDEF int64_t seq_rng_categorical(seq_rng *r, const double *w, int64_t n);
SEQDEF void seq_rng_permutation(seq_rng *r, int64_t *perm, int64_t n); /* Fisher-Yates of 0..n-1 */
SEQDEF void seq_rng_shuffle(seq_rng *r, int64_t *a, int64_t n);

/* ===================================================================================
 * 4  memory: the context (arena + autograd tape)
 * =================================================================================== */

typedef struct seq_ctx seq_ctx;

/* alloc_ud is handed to SEQ_MALLOC/SEQ_FREE; NULL for the default allocator. */
SEQDEF seq_ctx *seq_ctx_init(void *alloc_ud);
SEQDEF void seq_ctx_free(seq_ctx *ctx);
/* Drops every tensor and tape node of the step at once; keeps the memory for the next. */
SEQDEF void seq_ctx_reset(seq_ctx *ctx);
SEQDEF seq_status seq_ctx_status(const seq_ctx *ctx);
SEQDEF const char *seq_ctx_error(const seq_ctx *ctx); /* "op: why" of the first failure */
/* Graph recording on (1, default) or off (0: inference, no tape, no gradient). */
SEQDEF void seq_ctx_set_grad(seq_ctx *ctx, int enabled);
SEQDEF int seq_ctx_grad_enabled(const seq_ctx *ctx);
SEQDEF size_t seq_ctx_bytes_used(const seq_ctx *ctx);
/* Scratch memory from the arena, 64-byte aligned, valid until the next reset. */
SEQDEF void *seq_ctx_alloc(seq_ctx *ctx, size_t bytes);

/* ===================================================================================
 * 5  tensors
 * =================================================================================== */

typedef enum seq_dtype { SEQ_F32, SEQ_I32, SEQ_DTYPE_COUNT } seq_dtype;

typedef struct seq_tensor {
    seq_dtype dtype;
    int ndim;
    int64_t shape[SEQ_MAX_DIMS];
    int64_t numel;
    float *data;       /* SEQ_F32 payload, contiguous row-major */
    int32_t *idata;    /* SEQ_I32 payload */
    float *grad;       /* d loss / d data once backward has reached it; NULL before */
    int requires_grad;
    const char *name;  /* parameters: the registered name; otherwise NULL */
} seq_tensor;

/* New zero-filled tensor in the ctx arena (lives until seq_ctx_reset). */
SEQDEF seq_tensor *seq_tensor_new(seq_ctx *ctx, seq_dtype dtype, int ndim, const int64_t *shape);
/* View of caller memory: no copy, never freed by seq. */
SEQDEF seq_tensor *seq_tensor_wrap(seq_ctx *ctx, float *data, int ndim, const int64_t *shape);
SEQDEF seq_tensor *seq_tensor_wrap_i32(seq_ctx *ctx, int32_t *data, int ndim, const int64_t *shape);
/* Mark a ctx tensor as an input whose gradient is wanted (allocates t->grad, zeroed). */
SEQDEF seq_status seq_tensor_set_requires_grad(seq_ctx *ctx, seq_tensor *t);
SEQDEF int seq_tensor_same_shape(const seq_tensor *a, const seq_tensor *b);

/* ===================================================================================
 * 6  parameters: one flat buffer for values, one for gradients, named views
 * =================================================================================== */

typedef enum seq_init_kind {
    SEQ_INIT_ZEROS,
    SEQ_INIT_CONSTANT,        /* a */
    SEQ_INIT_UNIFORM,         /* U(a, b) */
    SEQ_INIT_NORMAL,          /* N(a, b^2) */
    SEQ_INIT_XAVIER_UNIFORM,  /* gain a */
    SEQ_INIT_XAVIER_NORMAL,   /* gain a */
    SEQ_INIT_KAIMING_UNIFORM, /* negative slope a, fan_in mode (PyTorch default a=0: ReLU) */
    SEQ_INIT_KAIMING_NORMAL,  /* negative slope a, fan_in mode */
    SEQ_INIT_ORTHOGONAL,      /* gain a; rows = shape[0], columns = the rest */
    SEQ_INIT_COUNT
} seq_init_kind;

typedef struct seq_init {
    seq_init_kind kind;
    float a, b;
} seq_init;

SEQDEF seq_init seq_init_zeros(void);
SEQDEF seq_init seq_init_constant(float value);
SEQDEF seq_init seq_init_uniform(float lo, float hi);
SEQDEF seq_init seq_init_normal(float mean, float std);
SEQDEF seq_init seq_init_xavier_uniform(float gain);
SEQDEF seq_init seq_init_xavier_normal(float gain);
SEQDEF seq_init seq_init_kaiming_uniform(float neg_slope);
SEQDEF seq_init seq_init_kaiming_normal(float neg_slope);
SEQDEF seq_init seq_init_orthogonal(float gain);

typedef struct seq_param {
    seq_tensor t;      /* the view; t.data and t.grad point into the flat buffers */
    seq_init init;
    int64_t offset;    /* element offset in the flat buffers */
    float decay;       /* weight-decay multiplier (1 by default) */
} seq_param;

typedef struct seq_params {
    void *alloc_ud;
    seq_param **items; /* registration order = buffer order */
    int64_t count, cap;
    float *data;       /* all values, contiguous */
    float *grad;       /* all gradients, same layout */
    int64_t numel;
    int allocated;
} seq_params;

SEQDEF seq_params *seq_params_init(void *alloc_ud);
SEQDEF void seq_params_free(seq_params *P);
/* Register a tensor; returns its stable view (data valid after seq_params_alloc).
 * NULL on a duplicate name, bad shape, a call after alloc, or no memory. */
SEQDEF seq_tensor *seq_params_add(seq_params *P, const char *name, int ndim, const int64_t *shape,
                                  seq_init init);
/* Allocate both flat buffers and run every initializer, in registration order. */
SEQDEF seq_status seq_params_alloc(seq_params *P, seq_rng *rng);
SEQDEF void seq_params_zero_grad(seq_params *P);
SEQDEF seq_tensor *seq_params_find(const seq_params *P, const char *name);
SEQDEF seq_param *seq_params_entry(const seq_params *P, const char *name);
/* Fill one tensor with an initializer (also usable on any float buffer of that shape). */
SEQDEF seq_status seq_init_fill(float *data, int ndim, const int64_t *shape, seq_init init, seq_rng *rng);

/* ===================================================================================
 * 7  GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T
 *    op(A) is (M,K), op(B) is (K,N); lda/ldb/ldc are row strides of the stored matrices.
 * =================================================================================== */

SEQDEF void seq_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc);
/* Scalar reference twin (tests compare the fast path against it). */
SEQDEF void seq_sgemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc);
/* Which backend seq_sgemm uses in this build: "blis", "avx512", "avx2" or "scalar". */
SEQDEF const char *seq_sgemm_backend(void);

/* ===================================================================================
 * 8  ops: each computes its forward now and records its backward on the ctx tape
 * =================================================================================== */

/* Elementwise a (op) b. b has a's shape, or a's trailing dimensions (a bias row
 * broadcast over the leading ones), or a single element. Result has a's shape. */
SEQDEF seq_tensor *seq_add(seq_ctx *ctx, seq_tensor *a, seq_tensor *b);
SEQDEF seq_tensor *seq_mul(seq_ctx *ctx, seq_tensor *a, seq_tensor *b);
/* x (...,in), W (out,in) as PyTorch, b (out) or NULL -> (...,out) */
SEQDEF seq_tensor *seq_linear(seq_ctx *ctx, seq_tensor *x, seq_tensor *W, seq_tensor *b);
/* Mean of all elements -> scalar (shape (), numel 1). */
SEQDEF seq_tensor *seq_mean(seq_ctx *ctx, seq_tensor *x);

/* --- 8a elementwise, activations, normalization, matmul, shape ---------------------- */

/* --- 8b sequence ops: embedding, dropout, causal conv1d, attention ------------------- */

/* ===================================================================================
 * 9  losses (scalar outputs, mean over the counted elements unless said otherwise)
 * =================================================================================== */

/* ===================================================================================
 * 10 autograd
 * =================================================================================== */

/* Seeds d loss = 1 and runs the tape backwards; gradients accumulate (+=). loss must
 * be a scalar (numel 1) recorded on ctx. */
SEQDEF seq_status seq_backward(seq_ctx *ctx, seq_tensor *loss);
/* Global L2 norm of P->grad; scales it down to max_norm when larger. Returns the norm
 * before clipping (NaN/Inf if a gradient is non-finite; then nothing is scaled). */
SEQDEF float seq_clip_grad_norm(seq_params *P, float max_norm);
SEQDEF float seq_grad_norm(const seq_params *P);

/* Central-difference gradient check over every element of every parameter in P.
 * build() must construct a scalar loss from P on the (already reset) ctx. */
typedef seq_tensor *(*seq_loss_fn)(seq_ctx *ctx, void *ud);
typedef struct seq_gradcheck_result {
    int64_t checked, failed;
    double max_abs_err, max_rel_err;
    const char *worst_param;   /* name of the parameter with the worst element */
    int64_t worst_index;
} seq_gradcheck_result;
/* An element fails when |analytic - numeric| > atol + rtol * max(|analytic|,|numeric|).
 * The loss is f32, so keep graphs small and eps near 1e-3 (rtol ~1e-2 is typical). */
SEQDEF seq_status seq_gradcheck(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, float eps,
                                float atol, float rtol, seq_gradcheck_result *out);

/* ===================================================================================
 * 11 optimizers (each is one loop over the flat buffers)
 * =================================================================================== */

/* State every optimizer (and weight EMA) keeps: one flat float buffer -- moments as
 * slabs of P->numel, or a factored layout -- and the step count. Each optimizer struct
 * has it as its first member `st`, so checkpoints save any of them the same way: save
 * kind, step and buf[0..numel); to resume, init the same optimizer on the same params
 * and fill buf and step back in. */
typedef struct seq_optim_state {
    const char *kind;   /* "adamw", "lion", "ema", ...: recorded in checkpoints */
    float *buf;
    int64_t numel;      /* floats in buf */
    int64_t step;       /* updates taken */
    void *alloc_ud;
    uint64_t layout;    /* hash of P's tensor shapes at init: later calls refuse other params */
} seq_optim_state;

/* Every optimizer follows one shape:
 *     seq_X_config cfg = seq_X_config_default();      (then change fields)
 *     seq_X_init(&o, P, cfg);                          P allocated; state zeroed
 *     seq_X_step(&o, P, lr);                           after each backward
 *     seq_X_free(&o);
 * A step reads P->grad and updates P->data in place; the per-tensor weight-decay
 * multiplier P->items[i]->decay scales weight_decay (0 exempts a tensor). lr must be
 * finite and >= 0. A step refuses (SEQ_ERR_NUMERIC) when any gradient is NaN or Inf, and
 * then changes neither the parameters nor the state: skip that batch and go on.
 * "Decoupled" weight decay is AdamW's w -= lr * weight_decay * w, applied before the
 * update; coupled decay adds weight_decay * w to the gradient (L2), as torch.optim.
 * o.cfg may be tuned between steps, except what sizes the state: SGD's momentum (zero or
 * not), amsgrad, and Adafactor's beta1 (zero or not) -- a step refuses those with
 * SEQ_ERR_STATE -- and FRUGAL's rho, read once at init.
 *
 * seq_optim is a type-erased handle (seq_X_as_optim) so wrappers such as SAM take any
 * optimizer; it borrows the optimizer, which must outlive it. */
typedef struct seq_optim {
    void *self;
    seq_status (*step)(void *self, seq_params *P, float lr);
    seq_optim_state *st;
} seq_optim;

/* --- SGD as torch.optim.SGD: buf = momentum*buf + (1-dampening)*g (buf = g on the first
 * step), update g + momentum*buf with nesterov, else buf. State: buf (P->numel) when
 * momentum != 0, else nothing. */
typedef struct seq_sgd_config {
    float momentum;     /* 0 */
    float dampening;    /* 0 */
    float weight_decay; /* 0, coupled (L2) */
    int nesterov;       /* 0; needs momentum > 0 and dampening == 0 */
} seq_sgd_config;
typedef struct seq_sgd {
    seq_optim_state st;
    seq_sgd_config cfg;
} seq_sgd;
SEQDEF seq_sgd_config seq_sgd_config_default(void);
SEQDEF seq_status seq_sgd_init(seq_sgd *o, const seq_params *P, seq_sgd_config cfg);
SEQDEF seq_status seq_sgd_step(seq_sgd *o, seq_params *P, float lr);
SEQDEF void seq_sgd_free(seq_sgd *o);
SEQDEF seq_optim seq_sgd_as_optim(seq_sgd *o);

/* --- Adam and AdamW as torch.optim.Adam / AdamW (one implementation): bias-corrected
 * moments, eps outside the square root, AMSGrad's running max of v when asked. Plain
 * Adam is decoupled = 0 (its weight_decay is L2); AdamW is decoupled = 1.
 * State: m, v (P->numel each), then max v when amsgrad. */
typedef struct seq_adamw_config {
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-8 */
    float weight_decay; /* 0.01 */
    int decoupled;      /* 1: AdamW; 0: Adam with L2 */
    int amsgrad;        /* 0 */
} seq_adamw_config;
typedef struct seq_adamw {
    seq_optim_state st;
    seq_adamw_config cfg;
} seq_adamw;
SEQDEF seq_adamw_config seq_adamw_config_default(void);
SEQDEF seq_status seq_adamw_init(seq_adamw *o, const seq_params *P, seq_adamw_config cfg);
SEQDEF seq_status seq_adamw_step(seq_adamw *o, seq_params *P, float lr);
SEQDEF void seq_adamw_free(seq_adamw *o);
SEQDEF seq_optim seq_adamw_as_optim(seq_adamw *o);

/* --- AdaBelief (Zhuang et al. 2020, as adabelief-pytorch without rectification): Adam
 * with the "belief" s = beta2*s + (1-beta2)*(g-m)^2 + eps in place of v; the update is
 * lr/(1-beta1^t) * m / (sqrt(s/(1-beta2^t)) + eps). State: m, s (P->numel each). */
typedef struct seq_adabelief_config {
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-16: added to s every step and to the denominator */
    float weight_decay; /* 0 */
    int decoupled;      /* 1 (the reference's weight_decouple) */
} seq_adabelief_config;
typedef struct seq_adabelief {
    seq_optim_state st;
    seq_adabelief_config cfg;
} seq_adabelief;
SEQDEF seq_adabelief_config seq_adabelief_config_default(void);
SEQDEF seq_status seq_adabelief_init(seq_adabelief *o, const seq_params *P, seq_adabelief_config cfg);
SEQDEF seq_status seq_adabelief_step(seq_adabelief *o, seq_params *P, float lr);
SEQDEF void seq_adabelief_free(seq_adabelief *o);
SEQDEF seq_optim seq_adabelief_as_optim(seq_adabelief *o);

/* --- Adafactor (Shazeer & Stern 2018). A tensor of 2 or more dimensions keeps only
 * EMAs of the row means R and column means C of g^2 + eps1 over its last two dimensions
 * (per leading index) and uses V = R C^T / mean(R); a 1-D tensor keeps the full v. With
 * beta2_t = 1 - t^-decay_rate, U = g / sqrt(V) is clipped to U / max(1, RMS(U)/clip) and
 * scaled by the step size
 *     alpha_t = (relative_step ? min(1e-2, 1/sqrt(t)) : lr) * (scale_parameter ? max(eps2, RMS(w)) : 1)
 * (RMS per tensor). relative_step ignores the lr argument (pass 0). With beta1 > 0 the
 * scaled update is averaged, m = beta1*m + (1-beta1)*alpha_t*U (as fairseq and HF).
 * Decoupled decay: w -= alpha_t * weight_decay * w.
 * State: m (P->numel) when beta1 > 0; then per tensor in P order either R (lead*rows)
 * followed by C (lead*cols), or v (numel) for 1-D tensors. */
typedef struct seq_adafactor_config {
    float beta1;          /* 0: no first moment */
    float decay_rate;     /* 0.8 */
    float eps1;           /* 1e-30, > 0 */
    float eps2;           /* 1e-3 */
    float clip_threshold; /* 1 (d in the paper) */
    float weight_decay;   /* 0 */
    int relative_step;    /* 1 */
    int scale_parameter;  /* 1 */
} seq_adafactor_config;
typedef struct seq_adafactor {
    seq_optim_state st;
    seq_adafactor_config cfg;
} seq_adafactor;
SEQDEF seq_adafactor_config seq_adafactor_config_default(void);
SEQDEF seq_status seq_adafactor_init(seq_adafactor *o, const seq_params *P, seq_adafactor_config cfg);
SEQDEF seq_status seq_adafactor_step(seq_adafactor *o, seq_params *P, float lr);
SEQDEF void seq_adafactor_free(seq_adafactor *o);
SEQDEF seq_optim seq_adafactor_as_optim(seq_adafactor *o);

/* --- AdEMAMix (Pagliardini et al. 2024): Adam's fast EMA m1 (beta1) and v (beta2) plus a
 * slow EMA m2 (beta3, not bias-corrected); the update is
 *     lr * ((m1/(1-beta1^t) + alpha_t * m2) / (sqrt(v/(1-beta2^t)) + eps))  + decoupled decay.
 * With warmup T > 0, alpha_t = alpha * min(1, t/T) and beta3_t rises from beta1 to beta3
 * linearly in half-life, exp(ln b1 ln b3 / ((1 - t/T) ln b3 + (t/T) ln b1)), as the paper's
 * schedulers. State: m1, m2, v (P->numel each). */
typedef struct seq_ademamix_config {
    float beta1, beta2, beta3; /* 0.9, 0.999, 0.9999 */
    float alpha;               /* 5 */
    float eps;                 /* 1e-8 */
    float weight_decay;        /* 0 */
    int64_t warmup;            /* T_alpha_beta3; 0: alpha and beta3 from the start */
} seq_ademamix_config;
typedef struct seq_ademamix {
    seq_optim_state st;
    seq_ademamix_config cfg;
} seq_ademamix;
SEQDEF seq_ademamix_config seq_ademamix_config_default(void);
SEQDEF seq_status seq_ademamix_init(seq_ademamix *o, const seq_params *P, seq_ademamix_config cfg);
SEQDEF seq_status seq_ademamix_step(seq_ademamix *o, seq_params *P, float lr);
SEQDEF void seq_ademamix_free(seq_ademamix *o);
SEQDEF seq_optim seq_ademamix_as_optim(seq_ademamix *o);

/* --- Lion (Chen et al. 2023): w -= lr * sign(beta1*m + (1-beta1)*g), then
 * m = beta2*m + (1-beta2)*g; decoupled decay. Its steps are +-lr per element, so it wants
 * an lr 3-10x below AdamW's. State: m (P->numel). */
typedef struct seq_lion_config {
    float beta1, beta2; /* 0.9, 0.99 */
    float weight_decay; /* 0 */
} seq_lion_config;
typedef struct seq_lion {
    seq_optim_state st;
    seq_lion_config cfg;
} seq_lion;
SEQDEF seq_lion_config seq_lion_config_default(void);
SEQDEF seq_status seq_lion_init(seq_lion *o, const seq_params *P, seq_lion_config cfg);
SEQDEF seq_status seq_lion_step(seq_lion *o, seq_params *P, float lr);
SEQDEF void seq_lion_free(seq_lion *o);
SEQDEF seq_optim seq_lion_as_optim(seq_lion *o);

/* --- FRUGAL (Zmushko et al. 2024), blockwise: every `period` steps (starting with the
 * first) rng draws round(rho * P->count) of P's tensors uniformly; those take AdamW steps
 * (decoupled decay, bias correction counted from when the tensor entered), the rest take
 * state-free signSGD steps w -= lr * sign(g) (with the same decoupled decay). A tensor
 * that enters the set starts from zero moments; one that stays keeps them.
 * State (cap = the sizes of the largest round(rho * P->count) tensors summed):
 *     [active flag per tensor (P->count)] [Adam steps per tensor (P->count)]
 *     [m (cap)] [v (cap)]   -- m and v packed for the active tensors in P order. */
typedef struct seq_frugal_config {
    float rho;                 /* 0.25: fraction of tensors with Adam state, in [0,1] */
    int64_t period;            /* 200: steps between draws (T), > 0 */
    float beta1, beta2, eps;   /* 0.9, 0.999, 1e-8 */
    float weight_decay;        /* 0 */
    seq_rng *rng;              /* required; caller-owned, advanced by every draw */
} seq_frugal_config;
typedef struct seq_frugal {
    seq_optim_state st;
    seq_frugal_config cfg;
    int64_t active;            /* tensors in the state-full set */
} seq_frugal;
SEQDEF seq_frugal_config seq_frugal_config_default(void);
SEQDEF seq_status seq_frugal_init(seq_frugal *o, const seq_params *P, seq_frugal_config cfg);
SEQDEF seq_status seq_frugal_step(seq_frugal *o, seq_params *P, float lr);
SEQDEF void seq_frugal_free(seq_frugal *o);
SEQDEF seq_optim seq_frugal_as_optim(seq_frugal *o);

/* --- SAM (Foret et al. 2021) over any optimizer. Per batch:
 *     backward at w;  seq_sam_perturb(&s, P);       w += e, e = rho * g / ||g||
 *     zero grad; backward again (now at w + e);  seq_sam_step(&s, P, lr);   w back, base step
 * adaptive = 1 is ASAM (Kwon et al. 2021): e = rho * w^2 g / || |w| g || (rho ~0.5 there).
 * st.buf keeps w (P->numel) between the two calls, so w is restored exactly rather than
 * by subtracting e. seq_sam_step always restores w; if the base step then fails (a
 * non-finite gradient, say) the weights are back at w, unperturbed, and the base
 * optimizer's state is unchanged. */
typedef struct seq_sam_config {
    float rho;    /* 0.05 */
    int adaptive; /* 0 */
} seq_sam_config;
typedef struct seq_sam {
    seq_optim_state st;
    seq_sam_config cfg;
    seq_optim base;
    int perturbed;
} seq_sam;
SEQDEF seq_sam_config seq_sam_config_default(void);
SEQDEF seq_status seq_sam_init(seq_sam *s, const seq_params *P, seq_optim base, seq_sam_config cfg);
SEQDEF seq_status seq_sam_perturb(seq_sam *s, seq_params *P);
SEQDEF seq_status seq_sam_step(seq_sam *s, seq_params *P, float lr);
SEQDEF void seq_sam_free(seq_sam *s);
SEQDEF seq_optim seq_sam_as_optim(seq_sam *s);

/* --- Weight EMA: shadow weights e = beta*e + (1-beta)*w, updated after each optimizer
 * step and starting from the weights at init. Two ways to pick beta:
 *   SEQ_EMA_CONSTANT  beta = decay^kappa. decay is tuned at a reference batch size; at
 *                     kappa times that batch the same averaging horizon in samples needs
 *                     decay^kappa ("How to Scale Your EMA", Busbridge et al. 2023).
 *   SEQ_EMA_POWER     EDM2's power-function EMA (Karras et al. 2024): at update t,
 *                     beta = (1 - 1/t)^(gamma+1), which averages w over training time
 *                     with weight ~ tau^gamma; gamma comes from the relative width
 *                     sigma_rel = sqrt((gamma+1) / ((gamma+2)^2 (gamma+3))).
 * seq_ema_swap exchanges shadow and weights (evaluate, then swap back; updates are refused
 * while swapped). Switch EMA (Li et al. 2024) is seq_ema_copy_to at every epoch end: the
 * model continues from the averaged weights. State: the shadow weights (P->numel). */
typedef enum seq_ema_mode { SEQ_EMA_CONSTANT, SEQ_EMA_POWER, SEQ_EMA_MODE_COUNT } seq_ema_mode;
typedef struct seq_ema_config {
    seq_ema_mode mode;  /* SEQ_EMA_CONSTANT */
    float decay;        /* 0.999, in [0,1) */
    float kappa;        /* 1: batch size / the batch size decay was tuned at, > 0 */
    float sigma_rel;    /* 0.05: power mode, in (0, 0.3003] */
} seq_ema_config;
typedef struct seq_ema {
    seq_optim_state st;
    seq_ema_config cfg;
    double gamma;       /* power mode's exponent, from sigma_rel */
    int swapped;
} seq_ema;
SEQDEF seq_ema_config seq_ema_config_default(void);
SEQDEF seq_status seq_ema_init(seq_ema *e, const seq_params *P, seq_ema_config cfg);
SEQDEF seq_status seq_ema_update(seq_ema *e, const seq_params *P);
SEQDEF seq_status seq_ema_swap(seq_ema *e, seq_params *P);
SEQDEF seq_status seq_ema_copy_to(const seq_ema *e, seq_params *P);
SEQDEF void seq_ema_free(seq_ema *e);
/* The power EMA's gamma for a relative width sigma_rel: the larger root of
 * sigma_rel^2 (gamma+2)^2 (gamma+3) = gamma+1 (EDM2: 0.05 -> 16.97, 0.10 -> 6.94). NaN unless sigma_rel lies in
 * (0, 0.3003], 0.3003 being the curve's peak. */
SEQDEF double seq_ema_power_gamma(double sigma_rel);

/* ===================================================================================
 * 12 learning-rate schedules
 * =================================================================================== */

/* Pure functions of the 0-based step, to pass as the lr of an optimizer step:
 *     seq_adamw_step(&opt, P, seq_lr_cosine(step, steps, 3e-3f, 3e-4f, 100));
 * Warmup is linear and reaches peak on its last step: step k < warmup gets
 * peak * (k+1) / warmup. A decay phase runs from its first step (at full value) to
 * `total`, where it reaches its end value; steps at or past total keep the end value.
 * Negative steps count as 0. */
SEQDEF float seq_lr_constant(int64_t step, float lr);
SEQDEF float seq_lr_linear_warmup(int64_t step, int64_t warmup, float peak);
/* warmup, then cosine from peak to min_lr at total */
SEQDEF float seq_lr_cosine(int64_t step, int64_t total, float peak, float min_lr, int64_t warmup);
/* warmup, then linear from peak to min_lr at total */
SEQDEF float seq_lr_linear_decay(int64_t step, int64_t total, float peak, float min_lr, int64_t warmup);
/* warmup-stable-decay: warmup over warmup_frac * total steps, peak, then a linear cooldown
 * to 0 over the last decay_frac * total steps */
SEQDEF float seq_lr_wsd(int64_t step, int64_t total, float peak, float warmup_frac, float decay_frac);
/* REX (Chen et al. 2021): warmup, then peak * (1-z) / (1 - z/2), z the decay's progress */
SEQDEF float seq_lr_rex(int64_t step, int64_t total, float peak, int64_t warmup);
/* warmup, then peak * sqrt(max(warmup,1) / (step+1)) */
SEQDEF float seq_lr_inverse_sqrt(int64_t step, int64_t warmup, float peak);

/* The "infinite" schedule of Ibrahim et al. 2024 for continual pre-training, in phases:
 * warmup to peak; cosine cooldown from peak to `constant` over `cooldown` steps; constant
 * for as long as training continues; and, from anneal_start on, a geometric anneal from
 * constant to min_lr over `anneal` steps (min_lr afterwards). anneal_start < 0: never. */
typedef struct seq_lr_infinite_config {
    float peak, constant, min_lr; /* min_lr > 0 */
    int64_t warmup, cooldown;
    int64_t anneal_start, anneal;
} seq_lr_infinite_config;
SEQDEF float seq_lr_infinite(int64_t step, seq_lr_infinite_config c);

/* ===================================================================================
 * 13 files: safetensors, checkpoints
 * =================================================================================== */

/* ===================================================================================
 * 14 layers
 * =================================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* SEQ_H */

/* ###################################################################################
 * IMPLEMENTATION
 * ################################################################################### */
#ifdef SEQ_IMPLEMENTATION
#ifndef SEQ_IMPLEMENTATION_DONE
#define SEQ_IMPLEMENTATION_DONE

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(SEQ_MALLOC) && defined(SEQ_REALLOC) && defined(SEQ_FREE)
#elif !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#else
#error "seq.h: define all of SEQ_MALLOC, SEQ_REALLOC and SEQ_FREE, or none"
#endif

#ifndef SEQ_ASSERT
#include <assert.h>
#define SEQ_ASSERT(x) assert(x)
#endif

#if defined(__cplusplus)
#define SEQ__TLS thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define SEQ__TLS __thread
#elif defined(_MSC_VER)
#define SEQ__TLS __declspec(thread)
#else
#define SEQ__TLS _Thread_local
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SEQ__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SEQ__PRINTF(f, a)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 2  status and errors
 * =================================================================================== */

static SEQ__TLS char seq__errbuf[512];
static seq_log_fn seq__log_fn;
static void *seq__log_ud;

SEQDEF const char *seq_status_str(seq_status s) {
    switch (s) {
    case SEQ_OK: return "ok";
    case SEQ_ERR_INVALID: return "invalid argument";
    case SEQ_ERR_SHAPE: return "shape mismatch";
    case SEQ_ERR_NOMEM: return "out of memory";
    case SEQ_ERR_IO: return "i/o error";
    case SEQ_ERR_FORMAT: return "malformed data";
    case SEQ_ERR_UNSUPPORTED: return "unsupported";
    case SEQ_ERR_RANGE: return "index out of range";
    case SEQ_ERR_NUMERIC: return "numerical failure";
    case SEQ_ERR_STATE: return "call out of order";
    default: return "unknown status";
    }
}

SEQDEF const char *seq_last_error(void) { return seq__errbuf; }
SEQDEF void seq_clear_error(void) { seq__errbuf[0] = 0; }

SEQDEF void seq_set_log(seq_log_fn fn, void *ud) {
    seq__log_fn = fn;
    seq__log_ud = ud;
}

static void seq__vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0) buf[0] = 0;
}

/* Records msg as this thread's last error and returns s, so callers can
 * `return seq__err(SEQ_ERR_FORMAT, "safetensors: %s", why);`. */
static seq_status seq__err(seq_status s, const char *fmt, ...) SEQ__PRINTF(2, 3);
static seq_status seq__err(seq_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    seq__vformat(seq__errbuf, sizeof seq__errbuf, fmt, ap);
    va_end(ap);
    if (seq__log_fn) seq__log_fn(seq__log_ud, s, seq__errbuf);
    return s;
}

/* ===================================================================================
 * 3  random numbers
 * =================================================================================== */

static uint64_t seq__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t seq__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

SEQDEF void seq_rng_seed(seq_rng *r, uint64_t seed) {
    int i;
    for (i = 0; i < 4; i++) r->s[i] = seq__splitmix64(&seed);
}

SEQDEF uint64_t seq_rng_u64(seq_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = seq__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = seq__rotl(s[3], 45);
    return result;
}

SEQDEF void seq_rng_jump(seq_rng *r) {
    static const uint64_t J[4] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                  0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t s[4] = {0, 0, 0, 0};
    int i, b, k;
    for (i = 0; i < 4; i++)
        for (b = 0; b < 64; b++) {
            if (J[i] & (1ULL << b))
                for (k = 0; k < 4; k++) s[k] ^= r->s[k];
            seq_rng_u64(r);
        }
    for (k = 0; k < 4; k++) r->s[k] = s[k];
}

SEQDEF uint64_t seq_rng_below(seq_rng *r, uint64_t n) {
    uint64_t x, threshold;
    if (n == 0) return 0;
    /* rejection on the low range keeps every residue equally likely */
    threshold = (0 - n) % n;
    do x = seq_rng_u64(r);
    while (x < threshold);
    return x % n;
}

SEQDEF double seq_rng_double(seq_rng *r) { return (double)(seq_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
SEQDEF float seq_rng_float(seq_rng *r) { return (float)(seq_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
SEQDEF double seq_rng_uniform(seq_rng *r, double lo, double hi) { return lo + (hi - lo) * seq_rng_double(r); }

SEQDEF double seq_rng_normal(seq_rng *r, double mean, double std) {
    /* Marsaglia polar method; the second variate is dropped so the stream stays stateless */
    double u, v, s;
    do {
        u = 2.0 * seq_rng_double(r) - 1.0;
        v = 2.0 * seq_rng_double(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return mean + std * u * sqrt(-2.0 * log(s) / s);
}

SEQDEF double seq_rng_gamma(seq_rng *r, double shape, double scale) {
    /* Marsaglia & Tsang (2000); shape < 1 by the boost Gamma(a) = Gamma(a+1) * U^(1/a) */
    double d, c, x, v, u;
    if (!(shape > 0.0) || !(scale > 0.0)) return NAN;
    if (shape < 1.0) {
        double boost = pow(seq_rng_double(r) + 8.673617379884035e-19, 1.0 / shape);
        return seq_rng_gamma(r, shape + 1.0, scale) * boost;
    }
    d = shape - 1.0 / 3.0;
    c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        do {
            x = seq_rng_normal(r, 0.0, 1.0);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        u = seq_rng_double(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * scale;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v * scale;
    }
}

SEQDEF double seq_rng_beta(seq_rng *r, double a, double b) {
    double x, y;
    if (!(a > 0.0) || !(b > 0.0)) return NAN;
    x = seq_rng_gamma(r, a, 1.0);
    y = seq_rng_gamma(r, b, 1.0);
    return (x + y > 0.0) ? x / (x + y) : (a >= b ? 1.0 : 0.0);
}

SEQDEF int64_t seq_rng_categorical(seq_rng *r, const double *w, int64_t n) {
    double total = 0.0, u;
    int64_t i, last = -1;
    if (!w || n <= 0) return -1;
    for (i = 0; i < n; i++) {
        if (!(w[i] >= 0.0) || !isfinite(w[i])) return -1;
        total += w[i];
    }
    if (!(total > 0.0) || !isfinite(total)) return -1;
    u = seq_rng_double(r) * total;
    for (i = 0; i < n; i++) {
        if (w[i] > 0.0) {
            last = i;
            if (u < w[i]) return i;
            u -= w[i];
        }
    }
    return last; /* rounding left u just past the end: the last positive weight */
}

SEQDEF void seq_rng_shuffle(seq_rng *r, int64_t *a, int64_t n) {
    int64_t i;
    for (i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)seq_rng_below(r, (uint64_t)(i + 1));
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

SEQDEF void seq_rng_permutation(seq_rng *r, int64_t *perm, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) perm[i] = i;
    seq_rng_shuffle(r, perm, n);
}

/* ===================================================================================
 * 4  memory: the context (arena + autograd tape)
 * =================================================================================== */

/* A tape node: one recorded op. Backward functions read out->grad and accumulate (+=)
 * into the grads of in[]; seq__grad() allocates an input's grad on first touch. */
typedef struct seq__node seq__node;
typedef void (*seq__backward_fn)(seq_ctx *ctx, seq__node *n);
struct seq__node {
    seq__node *prev;
    seq__backward_fn backward;
    const char *op;
    seq_tensor *out;
    seq_tensor *in[4];
    float f[4];    /* op scalars (eps, scale, p, ...) */
    int64_t i[4];  /* op integers (dims, flags, ...) */
    void *aux;     /* op-specific saved data, in the arena */
};

typedef struct seq__block {
    struct seq__block *next;
    size_t cap, used;
    char *payload; /* 64-byte aligned, inside this allocation */
} seq__block;

#define SEQ__ALIGN 64
#define SEQ__BLOCK_HDR (sizeof(seq__block) + SEQ__ALIGN)
#define SEQ__MIN_BLOCK ((size_t)1 << 20)

struct seq_ctx {
    void *alloc_ud;
    seq__block *blocks;    /* current block first */
    size_t total_cap;      /* sum of block capacities */
    size_t used_before;    /* bytes used in blocks behind the current one */
    size_t high_water;     /* most bytes one step used: the next reset sizes to it */
    seq__node *tape;       /* last recorded node */
    int grad_enabled;
    seq_status status;
    char error[256];
};

SEQDEF seq_ctx *seq_ctx_init(void *alloc_ud) {
    seq_ctx *ctx = (seq_ctx *)SEQ_MALLOC(alloc_ud, sizeof(seq_ctx));
    if (!ctx) {
        seq__err(SEQ_ERR_NOMEM, "seq_ctx_init: out of memory");
        return NULL;
    }
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc_ud = alloc_ud;
    ctx->grad_enabled = 1;
    return ctx;
}

static void seq__free_blocks(seq_ctx *ctx) {
    seq__block *b = ctx->blocks;
    while (b) {
        seq__block *next = b->next;
        SEQ_FREE(ctx->alloc_ud, b);
        b = next;
    }
    ctx->blocks = NULL;
    ctx->total_cap = 0;
}

SEQDEF void seq_ctx_free(seq_ctx *ctx) {
    if (!ctx) return;
    seq__free_blocks(ctx);
    SEQ_FREE(ctx->alloc_ud, ctx);
}

SEQDEF size_t seq_ctx_bytes_used(const seq_ctx *ctx) {
    return ctx && ctx->blocks ? ctx->used_before + ctx->blocks->used : 0;
}

SEQDEF void seq_ctx_reset(seq_ctx *ctx) {
    size_t used;
    if (!ctx) return;
    used = seq_ctx_bytes_used(ctx);
    if (used > ctx->high_water) ctx->high_water = used;
    /* a step that spilled into several blocks gets one block big enough next time */
    if (ctx->blocks && ctx->blocks->next) {
        seq__free_blocks(ctx);
    } else if (ctx->blocks) {
        ctx->blocks->used = 0;
    }
    ctx->used_before = 0;
    ctx->tape = NULL;
    ctx->status = SEQ_OK;
    ctx->error[0] = 0;
}

static void seq__ctx_fail(seq_ctx *ctx, seq_status s, const char *op, const char *fmt, ...) SEQ__PRINTF(4, 5);
static void seq__ctx_fail(seq_ctx *ctx, seq_status s, const char *op, const char *fmt, ...) {
    char why[200];
    va_list ap;
    if (!ctx || ctx->status != SEQ_OK) return; /* the first failure sticks */
    va_start(ap, fmt);
    seq__vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    ctx->status = s;
    snprintf(ctx->error, sizeof ctx->error, "%s: %s", op, why);
    seq__err(s, "%s", ctx->error);
}

SEQDEF seq_status seq_ctx_status(const seq_ctx *ctx) { return ctx ? ctx->status : SEQ_ERR_INVALID; }
SEQDEF const char *seq_ctx_error(const seq_ctx *ctx) { return ctx ? ctx->error : "null ctx"; }
SEQDEF void seq_ctx_set_grad(seq_ctx *ctx, int enabled) {
    if (ctx) ctx->grad_enabled = enabled != 0;
}
SEQDEF int seq_ctx_grad_enabled(const seq_ctx *ctx) { return ctx && ctx->grad_enabled; }

SEQDEF void *seq_ctx_alloc(seq_ctx *ctx, size_t bytes) {
    seq__block *b;
    size_t need, cap;
    if (!ctx) return NULL;
    need = (bytes + SEQ__ALIGN - 1) / SEQ__ALIGN * SEQ__ALIGN;
    if (need < bytes) need = (size_t)-1; /* overflow: the allocation below fails */
    b = ctx->blocks;
    if (!b || b->cap - b->used < need) {
        cap = ctx->high_water > SEQ__MIN_BLOCK ? ctx->high_water : SEQ__MIN_BLOCK;
        if (cap < need) cap = need;
        if (cap > (size_t)-1 - SEQ__BLOCK_HDR) {
            seq__ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_ctx_alloc", "request of %zu bytes", bytes);
            return NULL;
        }
        b = (seq__block *)SEQ_MALLOC(ctx->alloc_ud, SEQ__BLOCK_HDR + cap);
        if (!b) {
            seq__ctx_fail(ctx, SEQ_ERR_NOMEM, "seq_ctx_alloc", "arena block of %zu bytes", cap);
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->payload = (char *)(((uintptr_t)(b + 1) + SEQ__ALIGN - 1) & ~(uintptr_t)(SEQ__ALIGN - 1));
        b->next = ctx->blocks;
        if (ctx->blocks) ctx->used_before += ctx->blocks->used;
        ctx->blocks = b;
        ctx->total_cap += cap;
    }
    {
        void *p = b->payload + b->used;
        b->used += need;
        return p;
    }
}

/* Arena memory set to zero. */
static void *seq__calloc(seq_ctx *ctx, size_t bytes) {
    void *p = seq_ctx_alloc(ctx, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* ===================================================================================
 * 5  tensors
 * =================================================================================== */

/* numel of a shape, or -1 when a dimension is negative, ndim is out of range or the
 * product overflows what a size_t of floats can address. */
static int64_t seq__numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    int i;
    if (ndim < 0 || ndim > SEQ_MAX_DIMS || (ndim > 0 && !shape)) return -1;
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > (INT64_MAX / 8) / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

static seq_tensor *seq__tensor_header(seq_ctx *ctx, const char *op, seq_dtype dtype, int ndim,
                                      const int64_t *shape) {
    seq_tensor *t;
    int64_t n;
    if (!ctx || ctx->status != SEQ_OK) return NULL;
    n = seq__numel(ndim, shape);
    if (n < 0 || (int)dtype < 0 || dtype >= SEQ_DTYPE_COUNT) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "bad dtype or shape (ndim %d)", ndim);
        return NULL;
    }
    t = (seq_tensor *)seq__calloc(ctx, sizeof(seq_tensor));
    if (!t) return NULL;
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    t->numel = n;
    return t;
}

SEQDEF seq_tensor *seq_tensor_new(seq_ctx *ctx, seq_dtype dtype, int ndim, const int64_t *shape) {
    seq_tensor *t = seq__tensor_header(ctx, "seq_tensor_new", dtype, ndim, shape);
    void *p;
    if (!t) return NULL;
    p = seq__calloc(ctx, (size_t)t->numel * 4 + 1);
    if (!p) return NULL;
    if (dtype == SEQ_F32) t->data = (float *)p;
    else t->idata = (int32_t *)p;
    return t;
}

SEQDEF seq_tensor *seq_tensor_wrap(seq_ctx *ctx, float *data, int ndim, const int64_t *shape) {
    seq_tensor *t = seq__tensor_header(ctx, "seq_tensor_wrap", SEQ_F32, ndim, shape);
    if (!t) return NULL;
    if (!data && t->numel > 0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, "seq_tensor_wrap", "NULL data");
        return NULL;
    }
    t->data = data;
    return t;
}

SEQDEF seq_tensor *seq_tensor_wrap_i32(seq_ctx *ctx, int32_t *data, int ndim, const int64_t *shape) {
    seq_tensor *t = seq__tensor_header(ctx, "seq_tensor_wrap_i32", SEQ_I32, ndim, shape);
    if (!t) return NULL;
    if (!data && t->numel > 0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, "seq_tensor_wrap_i32", "NULL data");
        return NULL;
    }
    t->idata = data;
    return t;
}

SEQDEF seq_status seq_tensor_set_requires_grad(seq_ctx *ctx, seq_tensor *t) {
    if (!ctx || !t) return SEQ_ERR_INVALID;
    if (t->dtype != SEQ_F32) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, "seq_tensor_set_requires_grad", "integer tensors have no gradient");
        return ctx->status;
    }
    if (!t->grad) {
        t->grad = (float *)seq__calloc(ctx, (size_t)t->numel * sizeof(float) + 1);
        if (!t->grad) return ctx->status;
    }
    t->requires_grad = 1;
    return SEQ_OK;
}

SEQDEF int seq_tensor_same_shape(const seq_tensor *a, const seq_tensor *b) {
    int i;
    if (!a || !b || a->ndim != b->ndim) return 0;
    for (i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* --- helpers every op uses ----------------------------------------------------------- */

/* True when the op may run: ctx healthy and every listed input present and float. A NULL
 * input after an earlier failure is the normal sticky path; a NULL without one is a bug
 * in the caller and becomes SEQ_ERR_INVALID. */
static int seq__ok(seq_ctx *ctx, const char *op, int n, seq_tensor *const *ins) {
    int i;
    if (!ctx || ctx->status != SEQ_OK) return 0;
    for (i = 0; i < n; i++) {
        if (!ins[i]) {
            seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "input %d is NULL", i);
            return 0;
        }
    }
    return 1;
}

static int seq__any_grad(seq_ctx *ctx, int n, seq_tensor *const *ins) {
    int i;
    if (!ctx->grad_enabled) return 0;
    for (i = 0; i < n; i++)
        if (ins[i] && ins[i]->requires_grad) return 1;
    return 0;
}

/* Output tensor of an op; requires_grad when any input does and recording is on. */
static seq_tensor *seq__out(seq_ctx *ctx, const char *op, int ndim, const int64_t *shape, int nin,
                            seq_tensor *const *ins) {
    seq_tensor *t = seq__tensor_header(ctx, op, SEQ_F32, ndim, shape);
    if (!t) return NULL;
    t->data = (float *)seq_ctx_alloc(ctx, (size_t)t->numel * sizeof(float) + 1);
    if (!t->data) return NULL;
    t->requires_grad = seq__any_grad(ctx, nin, ins);
    return t;
}

/* Append a node for out (only when out needs a gradient); NULL means nothing recorded
 * (either no gradient wanted, or the ctx failed: check out before using the node). */
static seq__node *seq__record(seq_ctx *ctx, const char *op, seq_tensor *out, seq__backward_fn bw,
                              int nin, seq_tensor *const *ins) {
    seq__node *n;
    int i;
    if (!out || !out->requires_grad) return NULL;
    n = (seq__node *)seq__calloc(ctx, sizeof(seq__node));
    if (!n) return NULL;
    n->op = op;
    n->backward = bw;
    n->out = out;
    for (i = 0; i < nin && i < 4; i++) n->in[i] = ins[i];
    n->prev = ctx->tape;
    ctx->tape = n;
    return n;
}

/* Gradient buffer of t for accumulation, allocated zeroed on first touch; NULL when t
 * needs no gradient (callers skip it) or memory ran out (ctx status says so). */
static float *seq__grad(seq_ctx *ctx, seq_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) t->grad = (float *)seq__calloc(ctx, (size_t)t->numel * sizeof(float) + 1);
    return t->grad;
}

/* ===================================================================================
 * 6  parameters
 * =================================================================================== */

static seq_init seq__mk_init(seq_init_kind k, float a, float b) {
    seq_init i;
    i.kind = k;
    i.a = a;
    i.b = b;
    return i;
}
SEQDEF seq_init seq_init_zeros(void) { return seq__mk_init(SEQ_INIT_ZEROS, 0, 0); }
SEQDEF seq_init seq_init_constant(float v) { return seq__mk_init(SEQ_INIT_CONSTANT, v, 0); }
SEQDEF seq_init seq_init_uniform(float lo, float hi) { return seq__mk_init(SEQ_INIT_UNIFORM, lo, hi); }
SEQDEF seq_init seq_init_normal(float mean, float std) { return seq__mk_init(SEQ_INIT_NORMAL, mean, std); }
SEQDEF seq_init seq_init_xavier_uniform(float gain) { return seq__mk_init(SEQ_INIT_XAVIER_UNIFORM, gain, 0); }
SEQDEF seq_init seq_init_xavier_normal(float gain) { return seq__mk_init(SEQ_INIT_XAVIER_NORMAL, gain, 0); }
SEQDEF seq_init seq_init_kaiming_uniform(float s) { return seq__mk_init(SEQ_INIT_KAIMING_UNIFORM, s, 0); }
SEQDEF seq_init seq_init_kaiming_normal(float s) { return seq__mk_init(SEQ_INIT_KAIMING_NORMAL, s, 0); }
SEQDEF seq_init seq_init_orthogonal(float gain) { return seq__mk_init(SEQ_INIT_ORTHOGONAL, gain, 0); }

SEQDEF seq_params *seq_params_init(void *alloc_ud) {
    seq_params *P = (seq_params *)SEQ_MALLOC(alloc_ud, sizeof(seq_params));
    if (!P) {
        seq__err(SEQ_ERR_NOMEM, "seq_params_init: out of memory");
        return NULL;
    }
    memset(P, 0, sizeof *P);
    P->alloc_ud = alloc_ud;
    return P;
}

SEQDEF void seq_params_free(seq_params *P) {
    int64_t i;
    if (!P) return;
    for (i = 0; i < P->count; i++) SEQ_FREE(P->alloc_ud, P->items[i]);
    SEQ_FREE(P->alloc_ud, P->items);
    SEQ_FREE(P->alloc_ud, P->data);
    SEQ_FREE(P->alloc_ud, P->grad);
    SEQ_FREE(P->alloc_ud, P);
}

SEQDEF seq_param *seq_params_entry(const seq_params *P, const char *name) {
    int64_t i;
    if (!P || !name) return NULL;
    for (i = 0; i < P->count; i++)
        if (strcmp(P->items[i]->t.name, name) == 0) return P->items[i];
    return NULL;
}

SEQDEF seq_tensor *seq_params_find(const seq_params *P, const char *name) {
    seq_param *e = seq_params_entry(P, name);
    return e ? &e->t : NULL;
}

SEQDEF seq_tensor *seq_params_add(seq_params *P, const char *name, int ndim, const int64_t *shape,
                                  seq_init init) {
    seq_param *e;
    size_t len;
    int64_t n;
    if (!P || !name || !name[0]) {
        seq__err(SEQ_ERR_INVALID, "seq_params_add: NULL params or empty name");
        return NULL;
    }
    if (P->allocated) {
        seq__err(SEQ_ERR_STATE, "seq_params_add: '%s' added after seq_params_alloc", name);
        return NULL;
    }
    n = seq__numel(ndim, shape);
    if (n <= 0 || (int)init.kind < 0 || init.kind >= SEQ_INIT_COUNT) {
        seq__err(SEQ_ERR_SHAPE, "seq_params_add: '%s' has an empty or invalid shape or initializer", name);
        return NULL;
    }
    if (seq_params_entry(P, name)) {
        seq__err(SEQ_ERR_INVALID, "seq_params_add: duplicate name '%s'", name);
        return NULL;
    }
    if (P->numel > INT64_MAX / 8 - n) {
        seq__err(SEQ_ERR_NOMEM, "seq_params_add: '%s' overflows the parameter buffer", name);
        return NULL;
    }
    if (P->count == P->cap) {
        int64_t cap = P->cap ? P->cap * 2 : 16;
        seq_param **items = (seq_param **)SEQ_REALLOC(P->alloc_ud, P->items, (size_t)cap * sizeof(seq_param *));
        if (!items) {
            seq__err(SEQ_ERR_NOMEM, "seq_params_add: out of memory");
            return NULL;
        }
        P->items = items;
        P->cap = cap;
    }
    len = strlen(name);
    e = (seq_param *)SEQ_MALLOC(P->alloc_ud, sizeof(seq_param) + len + 1);
    if (!e) {
        seq__err(SEQ_ERR_NOMEM, "seq_params_add: out of memory");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    memcpy((char *)(e + 1), name, len + 1);
    e->t.name = (const char *)(e + 1);
    e->t.dtype = SEQ_F32;
    e->t.ndim = ndim;
    memcpy(e->t.shape, shape, (size_t)ndim * sizeof(int64_t));
    e->t.numel = n;
    e->t.requires_grad = 1;
    e->init = init;
    e->offset = P->numel;
    e->decay = 1.0f;
    P->items[P->count++] = e;
    P->numel += n;
    return &e->t;
}

static void seq__fans(int ndim, const int64_t *shape, double *fan_in, double *fan_out) {
    double rf = 1.0;
    int i;
    if (ndim < 2) {
        *fan_in = *fan_out = ndim == 1 ? (double)shape[0] : 1.0;
        return;
    }
    for (i = 2; i < ndim; i++) rf *= (double)shape[i];
    *fan_in = (double)shape[1] * rf;
    *fan_out = (double)shape[0] * rf;
}

/* Orthogonal init: Householder QR of a Gaussian (max x min) matrix, Q's columns signed by
 * diag(R) so the distribution is Haar (as torch.nn.init.orthogonal_). */
static seq_status seq__init_orthogonal(float *out, int64_t rows, int64_t cols, float gain, seq_rng *rng) {
    int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows, i, j, k;
    double *A = (double *)SEQ_MALLOC(NULL, (size_t)(m * n + m * n + n) * sizeof(double));
    double *Q, *d;
    if (!A) return seq__err(SEQ_ERR_NOMEM, "orthogonal init: out of memory");
    Q = A + m * n;
    d = Q + m * n;
    for (i = 0; i < m * n; i++) A[i] = seq_rng_normal(rng, 0.0, 1.0); /* A is (m,n) */
    /* Householder in place: column k's reflector stored below the diagonal, R on top */
    for (k = 0; k < n; k++) {
        double norm = 0.0, alpha, vnorm2 = 0.0;
        for (i = k; i < m; i++) norm += A[i * n + k] * A[i * n + k];
        norm = sqrt(norm);
        alpha = A[k * n + k] > 0 ? -norm : norm;
        d[k] = alpha; /* R[k][k] */
        A[k * n + k] -= alpha;
        for (i = k; i < m; i++) vnorm2 += A[i * n + k] * A[i * n + k];
        if (vnorm2 > 0.0)
            for (j = k + 1; j < n; j++) {
                double s = 0.0;
                for (i = k; i < m; i++) s += A[i * n + k] * A[i * n + j];
                s = 2.0 * s / vnorm2;
                for (i = k; i < m; i++) A[i * n + j] -= s * A[i * n + k];
            }
        /* unit-length v makes each reflector I - 2 v v^T when Q is formed below */
        if (vnorm2 > 0.0) {
            double inv = 1.0 / sqrt(vnorm2);
            for (i = k; i < m; i++) A[i * n + k] *= inv;
        }
    }
    /* Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity */
    for (i = 0; i < m * n; i++) Q[i] = 0.0;
    for (i = 0; i < n; i++) Q[i * n + i] = 1.0;
    for (k = n - 1; k >= 0; k--)
        for (j = 0; j < n; j++) {
            double s = 0.0;
            for (i = k; i < m; i++) s += A[i * n + k] * Q[i * n + j];
            for (i = k; i < m; i++) Q[i * n + j] -= 2.0 * s * A[i * n + k];
        }
    for (j = 0; j < n; j++) {
        double sgn = d[j] < 0 ? -1.0 : 1.0;
        for (i = 0; i < m; i++) Q[i * n + j] *= sgn;
    }
    /* Q is (m,n) with orthonormal columns; the result is (rows,cols) */
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            out[i * cols + j] = (float)(gain * (rows >= cols ? Q[i * n + j] : Q[j * n + i]));
    SEQ_FREE(NULL, A);
    return SEQ_OK;
}

SEQDEF seq_status seq_init_fill(float *data, int ndim, const int64_t *shape, seq_init init, seq_rng *rng) {
    int64_t n = seq__numel(ndim, shape), i;
    double fan_in, fan_out, std, bound;
    if (!data || n < 0) return seq__err(SEQ_ERR_INVALID, "seq_init_fill: NULL data or bad shape");
    if (!rng && init.kind != SEQ_INIT_ZEROS && init.kind != SEQ_INIT_CONSTANT)
        return seq__err(SEQ_ERR_INVALID, "seq_init_fill: random initializer needs an rng");
    seq__fans(ndim, shape, &fan_in, &fan_out);
    switch (init.kind) {
    case SEQ_INIT_ZEROS:
    case SEQ_INIT_CONSTANT:
        for (i = 0; i < n; i++) data[i] = init.kind == SEQ_INIT_ZEROS ? 0.0f : init.a;
        return SEQ_OK;
    case SEQ_INIT_UNIFORM:
        for (i = 0; i < n; i++) data[i] = (float)seq_rng_uniform(rng, init.a, init.b);
        return SEQ_OK;
    case SEQ_INIT_NORMAL:
        for (i = 0; i < n; i++) data[i] = (float)seq_rng_normal(rng, init.a, init.b);
        return SEQ_OK;
    case SEQ_INIT_XAVIER_UNIFORM:
    case SEQ_INIT_XAVIER_NORMAL:
        std = init.a * sqrt(2.0 / (fan_in + fan_out));
        break;
    case SEQ_INIT_KAIMING_UNIFORM:
    case SEQ_INIT_KAIMING_NORMAL:
        std = sqrt(2.0 / (1.0 + (double)init.a * init.a)) / sqrt(fan_in);
        break;
    case SEQ_INIT_ORTHOGONAL:
        if (ndim < 1) return seq__err(SEQ_ERR_SHAPE, "orthogonal init needs at least 1 dimension");
        return seq__init_orthogonal(data, shape[0], n / (shape[0] ? shape[0] : 1), init.a, rng);
    default:
        return seq__err(SEQ_ERR_INVALID, "seq_init_fill: unknown initializer %d", (int)init.kind);
    }
    bound = sqrt(3.0) * std;
    if (init.kind == SEQ_INIT_XAVIER_UNIFORM || init.kind == SEQ_INIT_KAIMING_UNIFORM)
        for (i = 0; i < n; i++) data[i] = (float)seq_rng_uniform(rng, -bound, bound);
    else
        for (i = 0; i < n; i++) data[i] = (float)seq_rng_normal(rng, 0.0, std);
    return SEQ_OK;
}

SEQDEF seq_status seq_params_alloc(seq_params *P, seq_rng *rng) {
    int64_t i;
    size_t bytes;
    if (!P) return seq__err(SEQ_ERR_INVALID, "seq_params_alloc: NULL params");
    if (P->allocated) return seq__err(SEQ_ERR_STATE, "seq_params_alloc: already allocated");
    if (P->numel == 0) return seq__err(SEQ_ERR_STATE, "seq_params_alloc: no parameters registered");
    bytes = (size_t)P->numel * sizeof(float);
    P->data = (float *)SEQ_MALLOC(P->alloc_ud, bytes);
    P->grad = (float *)SEQ_MALLOC(P->alloc_ud, bytes);
    if (!P->data || !P->grad) {
        SEQ_FREE(P->alloc_ud, P->data);
        SEQ_FREE(P->alloc_ud, P->grad);
        P->data = P->grad = NULL;
        return seq__err(SEQ_ERR_NOMEM, "seq_params_alloc: %lld parameters", (long long)P->numel);
    }
    memset(P->grad, 0, bytes);
    for (i = 0; i < P->count; i++) {
        seq_param *e = P->items[i];
        seq_status s;
        e->t.data = P->data + e->offset;
        e->t.grad = P->grad + e->offset;
        s = seq_init_fill(e->t.data, e->t.ndim, e->t.shape, e->init, rng);
        if (s != SEQ_OK) {
            int64_t j;
            for (j = 0; j <= i; j++) P->items[j]->t.data = P->items[j]->t.grad = NULL;
            SEQ_FREE(P->alloc_ud, P->data);
            SEQ_FREE(P->alloc_ud, P->grad);
            P->data = P->grad = NULL;
            return s;
        }
    }
    P->allocated = 1;
    return SEQ_OK;
}

SEQDEF void seq_params_zero_grad(seq_params *P) {
    if (P && P->grad) memset(P->grad, 0, (size_t)P->numel * sizeof(float));
}

/* ===================================================================================
 * 7  GEMM
 * =================================================================================== */

SEQDEF void seq_sgemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc) {
    int64_t i, j, k;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double acc = 0.0;
            for (k = 0; k < K; k++) {
                float a = transA ? A[k * lda + i] : A[i * lda + k];
                float b = transB ? B[j * ldb + k] : B[k * ldb + j];
                acc += (double)a * b;
            }
            /* beta == 0 must not read C: it may hold NaN (BLAS semantics) */
            C[i * ldc + j] = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j]));
        }
}

SEQDEF const char *seq_sgemm_backend(void) { return "scalar"; }

SEQDEF void seq_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    seq_sgemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ===================================================================================
 * 8  ops
 * =================================================================================== */

/* Elements of b per broadcast block when b fits a (see seq_add), else -1. */
static int64_t seq__bcast_inner(const seq_tensor *a, const seq_tensor *b) {
    int k, off;
    if (b->numel == 1) return 1;
    if (b->ndim > a->ndim) return -1;
    off = a->ndim - b->ndim;
    for (k = 0; k < b->ndim; k++)
        if (b->shape[k] != a->shape[off + k]) return -1;
    return b->numel;
}

static void seq__add_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *a = n->in[0], *b = n->in[1];
    const float *go = n->out->grad;
    float *ga = seq__grad(ctx, a), *gb = seq__grad(ctx, b);
    int64_t i, inner = b->numel;
    if (ga)
        for (i = 0; i < a->numel; i++) ga[i] += go[i];
    if (gb)
        for (i = 0; i < a->numel; i++) gb[i % inner] += go[i];
}

static void seq__mul_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *a = n->in[0], *b = n->in[1];
    const float *go = n->out->grad;
    float *ga = seq__grad(ctx, a), *gb = seq__grad(ctx, b);
    int64_t i, inner = b->numel;
    if (ga)
        for (i = 0; i < a->numel; i++) ga[i] += go[i] * b->data[i % inner];
    if (gb)
        for (i = 0; i < a->numel; i++) gb[i % inner] += go[i] * a->data[i];
}

/* Shared front half of the broadcasting binary ops: checks, output, inner size. */
static seq_tensor *seq__binary_out(seq_ctx *ctx, const char *op, seq_tensor *a, seq_tensor *b, int64_t *inner) {
    seq_tensor *ins[2];
    ins[0] = a;
    ins[1] = b;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    *inner = seq__bcast_inner(a, b);
    if (*inner < 0 || a->dtype != SEQ_F32 || b->dtype != SEQ_F32) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "b (%lld elements) does not broadcast to a (%lld)",
                      (long long)b->numel, (long long)a->numel);
        return NULL;
    }
    return seq__out(ctx, op, a->ndim, a->shape, 2, ins);
}

SEQDEF seq_tensor *seq_add(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) {
    int64_t i, inner;
    seq_tensor *ins[2], *y = seq__binary_out(ctx, "seq_add", a, b, &inner);
    if (!y) return NULL;
    for (i = 0; i < a->numel; i++) y->data[i] = a->data[i] + b->data[i % inner];
    ins[0] = a;
    ins[1] = b;
    seq__record(ctx, "seq_add", y, seq__add_backward, 2, ins);
    return y;
}

SEQDEF seq_tensor *seq_mul(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) {
    int64_t i, inner;
    seq_tensor *ins[2], *y = seq__binary_out(ctx, "seq_mul", a, b, &inner);
    if (!y) return NULL;
    for (i = 0; i < a->numel; i++) y->data[i] = a->data[i] * b->data[i % inner];
    ins[0] = a;
    ins[1] = b;
    seq__record(ctx, "seq_mul", y, seq__mul_backward, 2, ins);
    return y;
}

/* y (M,out) = x (M,in) W^T + b */
static void seq__linear_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *W = n->in[1], *b = n->in[2];
    const float *gy = n->out->grad;
    int64_t in = W->shape[1], out = W->shape[0], M = x->numel / in, i;
    float *gx = seq__grad(ctx, x), *gW = seq__grad(ctx, W), *gb = seq__grad(ctx, b);
    if (gx) seq_sgemm(0, 0, M, in, out, 1.0f, gy, out, W->data, in, 1.0f, gx, in);  /* gx += gy W   */
    if (gW) seq_sgemm(1, 0, out, in, M, 1.0f, gy, out, x->data, in, 1.0f, gW, in);  /* gW += gy^T x */
    if (gb)
        for (i = 0; i < M * out; i++) gb[i % out] += gy[i];
}

SEQDEF seq_tensor *seq_linear(seq_ctx *ctx, seq_tensor *x, seq_tensor *W, seq_tensor *b) {
    static const char op[] = "seq_linear";
    seq_tensor *ins[3], *y;
    int64_t shape[SEQ_MAX_DIMS], M, in, out, i;
    ins[0] = x;
    ins[1] = W;
    ins[2] = b;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    if (W->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != W->shape[1] || x->dtype != SEQ_F32 ||
        W->dtype != SEQ_F32 || (b && (b->numel != W->shape[0] || b->dtype != SEQ_F32))) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x (...,%lld), W (%lld,%lld), b %lld do not fit",
                      (long long)(x->ndim ? x->shape[x->ndim - 1] : 0), (long long)W->shape[0],
                      (long long)(W->ndim == 2 ? W->shape[1] : -1), (long long)(b ? b->numel : 0));
        return NULL;
    }
    in = W->shape[1];
    out = W->shape[0];
    M = x->numel / in;
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out;
    y = seq__out(ctx, op, x->ndim, shape, 3, ins);
    if (!y) return NULL;
    if (b)
        for (i = 0; i < M * out; i++) y->data[i] = b->data[i % out];
    seq_sgemm(0, 1, M, out, in, 1.0f, x->data, in, W->data, in, b ? 1.0f : 0.0f, y->data, out);
    seq__record(ctx, op, y, seq__linear_backward, 3, ins);
    return y;
}

static void seq__mean_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0];
    float *gx = seq__grad(ctx, x), g = n->out->grad[0] / (float)x->numel;
    int64_t i;
    if (gx)
        for (i = 0; i < x->numel; i++) gx[i] += g;
}

SEQDEF seq_tensor *seq_mean(seq_ctx *ctx, seq_tensor *x) {
    static const char op[] = "seq_mean";
    seq_tensor *y;
    double s = 0.0;
    int64_t i;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (x->dtype != SEQ_F32 || x->numel == 0) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs a non-empty float tensor");
        return NULL;
    }
    y = seq__out(ctx, op, 0, NULL, 1, &x);
    if (!y) return NULL;
    for (i = 0; i < x->numel; i++) s += x->data[i];
    y->data[0] = (float)(s / (double)x->numel);
    seq__record(ctx, op, y, seq__mean_backward, 1, &x);
    return y;
}

/* --- 8a elementwise, activations, normalization, matmul, shape ---------------------- */

/* --- 8b sequence ops: embedding, dropout, causal conv1d, attention ------------------- */

/* ===================================================================================
 * 9  losses
 * =================================================================================== */

/* ===================================================================================
 * 10 autograd
 * =================================================================================== */

SEQDEF seq_status seq_backward(seq_ctx *ctx, seq_tensor *loss) {
    seq__node *n;
    float *g;
    if (!ctx) return seq__err(SEQ_ERR_INVALID, "seq_backward: NULL ctx");
    if (ctx->status != SEQ_OK) return ctx->status;
    if (!loss) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, "seq_backward", "NULL loss");
        return ctx->status;
    }
    if (loss->dtype != SEQ_F32 || loss->numel != 1) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, "seq_backward", "loss must be a scalar, got %lld elements",
                      (long long)loss->numel);
        return ctx->status;
    }
    if (!loss->requires_grad) {
        seq__ctx_fail(ctx, SEQ_ERR_STATE, "seq_backward", "loss does not depend on anything that needs a gradient");
        return ctx->status;
    }
    g = seq__grad(ctx, loss);
    if (!g) return ctx->status;
    g[0] += 1.0f;
    for (n = ctx->tape; n && ctx->status == SEQ_OK; n = n->prev)
        if (n->out->grad) n->backward(ctx, n);
    return ctx->status;
}

SEQDEF float seq_grad_norm(const seq_params *P) {
    double s = 0.0;
    int64_t i;
    if (!P || !P->grad) return 0.0f;
    for (i = 0; i < P->numel; i++) s += (double)P->grad[i] * P->grad[i];
    return (float)sqrt(s);
}

SEQDEF float seq_clip_grad_norm(seq_params *P, float max_norm) {
    float norm = seq_grad_norm(P);
    int64_t i;
    if (P && P->grad && isfinite(norm) && max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f); /* torch.nn.utils.clip_grad_norm_ */
        for (i = 0; i < P->numel; i++) P->grad[i] *= scale;
    }
    return norm;
}

/* One evaluation of the user's graph on a fresh step; with grad, also its backward. */
static double seq__eval_loss(seq_ctx *ctx, seq_loss_fn build, void *ud, int grad, seq_status *st) {
    seq_tensor *loss;
    seq_ctx_reset(ctx);
    seq_ctx_set_grad(ctx, grad);
    loss = build(ctx, ud);
    *st = ctx->status;
    if (*st == SEQ_OK && (!loss || loss->numel != 1)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, "seq_gradcheck", "build() must return a scalar loss");
        *st = ctx->status;
    }
    if (*st == SEQ_OK && grad) *st = seq_backward(ctx, loss);
    return *st == SEQ_OK ? (double)loss->data[0] : NAN;
}

SEQDEF seq_status seq_gradcheck(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, float eps,
                                float atol, float rtol, seq_gradcheck_result *out) {
    seq_gradcheck_result r;
    seq_status st = SEQ_OK;
    float *analytic;
    int64_t p, i;
    int was_enabled;
    memset(&r, 0, sizeof r);
    r.worst_index = -1;
    if (out) *out = r;
    if (!ctx || !P || !P->allocated || !build || !(eps > 0.0f))
        return seq__err(SEQ_ERR_INVALID, "seq_gradcheck: NULL argument, unallocated params or eps <= 0");
    was_enabled = ctx->grad_enabled;
    analytic = (float *)SEQ_MALLOC(P->alloc_ud, (size_t)P->numel * sizeof(float));
    if (!analytic) return seq__err(SEQ_ERR_NOMEM, "seq_gradcheck: out of memory");
    seq_params_zero_grad(P);
    seq__eval_loss(ctx, build, ud, 1, &st);
    if (st == SEQ_OK) memcpy(analytic, P->grad, (size_t)P->numel * sizeof(float));
    for (p = 0; p < P->count && st == SEQ_OK; p++) {
        seq_param *e = P->items[p];
        for (i = 0; i < e->t.numel && st == SEQ_OK; i++) {
            float *w = P->data + e->offset + i, w0 = *w;
            double lp, lm, num, ana, err, scale;
            *w = w0 + eps;
            lp = seq__eval_loss(ctx, build, ud, 0, &st);
            *w = w0 - eps;
            if (st == SEQ_OK) lm = seq__eval_loss(ctx, build, ud, 0, &st);
            else lm = 0.0;
            *w = w0;
            if (st != SEQ_OK) break;
            /* the step actually taken in f32, not the nominal eps */
            num = (lp - lm) / ((double)(w0 + eps) - (double)(w0 - eps));
            ana = analytic[e->offset + i];
            err = fabs(ana - num);
            scale = fabs(ana) > fabs(num) ? fabs(ana) : fabs(num);
            r.checked++;
            if (err > atol + rtol * scale || !isfinite(num) || !isfinite(ana)) r.failed++;
            if (err > r.max_abs_err || !isfinite(err)) {
                r.max_abs_err = err;
                r.worst_param = e->t.name;
                r.worst_index = i;
            }
            if (scale > 0 && err / scale > r.max_rel_err && err > atol) r.max_rel_err = err / scale;
        }
    }
    SEQ_FREE(P->alloc_ud, analytic);
    seq_ctx_set_grad(ctx, was_enabled);
    if (out) *out = r;
    if (st != SEQ_OK) return st;
    return r.failed ? SEQ_ERR_NUMERIC : SEQ_OK;
}

/* ===================================================================================
 * 11 optimizers
 * =================================================================================== */

/* --- shared by every optimizer ------------------------------------------------------- */

/* The intervals config fields are checked against. */
typedef enum seq__range { SEQ__BETA, SEQ__UNIT, SEQ__NONNEG, SEQ__POS } seq__range;
typedef struct seq__field {
    const char *name;
    double x;
    seq__range range;
} seq__field;

static seq_status seq__check_fields(const char *fn, const seq__field *f, int n) {
    static const char *const text[] = {"[0, 1)", "[0, 1]", "[0, inf)", "(0, inf)"};
    int i, ok;
    for (i = 0; i < n; i++) {
        double x = f[i].x;
        switch (f[i].range) {
        case SEQ__BETA: ok = x >= 0.0 && x < 1.0; break;
        case SEQ__UNIT: ok = x >= 0.0 && x <= 1.0; break;
        case SEQ__NONNEG: ok = x >= 0.0 && x < HUGE_VAL; break;
        default: ok = x > 0.0 && x < HUGE_VAL; break;
        }
        if (!ok) return seq__err(SEQ_ERR_INVALID, "%s: %s = %g must lie in %s", fn, f[i].name, x, text[f[i].range]);
    }
    return SEQ_OK;
}

static int seq__all_finite(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static uint64_t seq__fnv1a(uint64_t h, int64_t x) {
    int b;
    for (b = 0; b < 8; b++) {
        h ^= ((uint64_t)x >> (8 * b)) & 0xffu;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Hash of P's tensor count and shapes, which every state layout follows. */
static uint64_t seq__params_layout(const seq_params *P) {
    uint64_t h = seq__fnv1a(14695981039346656037ULL, P->count);
    int64_t i;
    int d;
    for (i = 0; i < P->count; i++) {
        const seq_tensor *t = &P->items[i]->t;
        h = seq__fnv1a(h, t->ndim);
        for (d = 0; d < t->ndim; d++) h = seq__fnv1a(h, t->shape[d]);
    }
    return h;
}

/* First part of every init: zeroes the object (so free is safe whatever happens next),
 * checks the params and the config's fields. */
static seq_status seq__init_begin(const char *fn, void *o, size_t size, const seq_params *P, const seq__field *f,
                                  int nf) {
    if (!o) return seq__err(SEQ_ERR_INVALID, "%s: NULL optimizer", fn);
    memset(o, 0, size);
    if (!P) return seq__err(SEQ_ERR_INVALID, "%s: NULL params", fn);
    if (!P->allocated) return seq__err(SEQ_ERR_STATE, "%s: params not allocated (call seq_params_alloc first)", fn);
    return seq__check_fields(fn, f, nf);
}

/* Last part of every init: nfloats of zeroed state. */
static seq_status seq__state_alloc(const char *fn, seq_optim_state *st, const char *kind, const seq_params *P,
                                   int64_t nfloats) {
    if (nfloats > 0) {
        st->buf = (float *)SEQ_MALLOC(P->alloc_ud, (size_t)nfloats * sizeof(float));
        if (!st->buf) return seq__err(SEQ_ERR_NOMEM, "%s: %lld floats of state", fn, (long long)nfloats);
        memset(st->buf, 0, (size_t)nfloats * sizeof(float));
    }
    st->kind = kind;
    st->numel = nfloats;
    st->alloc_ud = P->alloc_ud;
    st->layout = seq__params_layout(P);
    return SEQ_OK;
}

static void seq__state_free(seq_optim_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->buf);
    memset(st, 0, sizeof *st);
}

/* The optimizer was initialized and P is the allocated params it was set up for. */
static seq_status seq__state_check(const char *fn, const void *o, const seq_params *P) {
    const seq_optim_state *st = (const seq_optim_state *)o; /* st is the first member */
    if (!o || !P) return seq__err(SEQ_ERR_INVALID, "%s: NULL optimizer or params", fn);
    if (!st->kind) return seq__err(SEQ_ERR_STATE, "%s: optimizer not initialized", fn);
    if (!P->allocated) return seq__err(SEQ_ERR_STATE, "%s: params not allocated", fn);
    if (seq__params_layout(P) != st->layout)
        return seq__err(SEQ_ERR_SHAPE, "%s: params (%lld tensors, %lld elements) are not the ones set up at init", fn,
                        (long long)P->count, (long long)P->numel);
    return SEQ_OK;
}

/* Everything a step checks before it touches anything. */
static seq_status seq__step_check(const char *fn, const void *o, const seq_params *P, float lr) {
    seq_status s = seq__state_check(fn, o, P);
    if (s != SEQ_OK) return s;
    if (!(lr >= 0.0f) || !isfinite(lr))
        return seq__err(SEQ_ERR_INVALID, "%s: lr = %g must be finite and >= 0", fn, lr);
    if (!seq__all_finite(P->grad, P->numel))
        return seq__err(SEQ_ERR_NUMERIC, "%s: non-finite gradient; parameters and state left unchanged", fn);
    return SEQ_OK;
}

static seq_optim seq__as_optim(void *self, seq_status (*step)(void *, seq_params *, float), seq_optim_state *st) {
    seq_optim h;
    h.self = self;
    h.step = step;
    h.st = st;
    return h;
}

/* Every optimizer's seq_X_free and seq_X_as_optim: all its memory is its state buffer,
 * and the handle's step hands self back to seq_X_step. */
#define SEQ__OPTIM_COMMON(X)                                                                  \
    SEQDEF void seq_##X##_free(seq_##X *o) {                                                  \
        if (o) seq__state_free(&o->st);                                                       \
    }                                                                                         \
    static seq_status seq__##X##_step_any(void *self, seq_params *P, float lr) {              \
        return seq_##X##_step((seq_##X *)self, P, lr);                                        \
    }                                                                                         \
    SEQDEF seq_optim seq_##X##_as_optim(seq_##X *o) {                                         \
        return seq__as_optim(o, seq__##X##_step_any, o ? &o->st : NULL);                      \
    }

/* Steps recompute the state size their cfg implies: cfg may be tuned between steps, but
 * not in the fields that size the state (that would walk off the buffer). */
static seq_status seq__layout_kept(const char *fn, const seq_optim_state *st, int64_t need, const char *field) {
    if (st->numel == need) return SEQ_OK;
    return seq__err(SEQ_ERR_STATE, "%s: cfg.%s changed after init, and it sizes the state", fn, field);
}

/* Weight decay of one element: decoupled shrinks w now, coupled (L2) adds to g. */
static float seq__decay(float *w, float g, int decoupled, float wd, float shrink) {
    if (decoupled) *w *= shrink;
    else g += wd * *w;
    return g;
}

static float seq__sign(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }

/* Adam's per-step constants at step t (1-based): bias corrections folded as torch does. */
typedef struct seq__adam_k {
    float b1, b2, eps;
    float step_size; /* lr / (1 - beta1^t) */
    float bc2_sqrt;  /* sqrt(1 - beta2^t) */
} seq__adam_k;

static seq__adam_k seq__adam_consts(float b1, float b2, float eps, float lr, double t) {
    seq__adam_k k;
    k.b1 = b1;
    k.b2 = b2;
    k.eps = eps;
    k.step_size = (float)(lr / (1.0 - pow(b1, t)));
    k.bc2_sqrt = (float)sqrt(1.0 - pow(b2, t));
    return k;
}

/* Adam's moment update for one element and the step it asks for (to subtract from w);
 * vmax (AMSGrad) may be NULL. */
static float seq__adam_elem(const seq__adam_k *k, float g, float *m, float *v, float *vmax) {
    float vv;
    *m = k->b1 * *m + (1.0f - k->b1) * g;
    *v = k->b2 * *v + (1.0f - k->b2) * g * g;
    vv = *v;
    if (vmax) {
        if (vv > *vmax) *vmax = vv;
        vv = *vmax;
    }
    return k->step_size * *m / (sqrtf(vv) / k->bc2_sqrt + k->eps);
}

/* --- SGD ------------------------------------------------------------------------------ */

SEQDEF seq_sgd_config seq_sgd_config_default(void) {
    seq_sgd_config c;
    memset(&c, 0, sizeof c);
    return c;
}

static int64_t seq__sgd_floats(const seq_params *P, const seq_sgd_config *c) {
    return c->momentum != 0.0f ? P->numel : 0;
}

SEQDEF seq_status seq_sgd_init(seq_sgd *o, const seq_params *P, seq_sgd_config cfg) {
    static const char fn[] = "seq_sgd_init";
    seq__field f[3] = {{"momentum", cfg.momentum, SEQ__NONNEG},
                       {"dampening", cfg.dampening, SEQ__UNIT},
                       {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 3);
    if (s == SEQ_OK && cfg.nesterov && !(cfg.momentum > 0.0f && cfg.dampening == 0.0f))
        s = seq__err(SEQ_ERR_INVALID, "%s: nesterov needs momentum > 0 and dampening 0", fn);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "sgd", P, seq__sgd_floats(P, &cfg));
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_sgd_step(seq_sgd *o, seq_params *P, float lr) {
    static const char fn[] = "seq_sgd_step";
    seq_status s = seq__step_check(fn, o, P, lr);
    seq_sgd_config c;
    int64_t p, i;
    if (s == SEQ_OK) s = seq__layout_kept(fn, &o->st, seq__sgd_floats(P, &o->cfg), "momentum (zero or not)");
    if (s != SEQ_OK) return s;
    c = o->cfg;
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float wd = c.weight_decay * e->decay;
        for (i = e->offset; i < e->offset + e->t.numel; i++) {
            float d = P->grad[i] + wd * P->data[i];
            if (c.momentum != 0.0f) {
                float *buf = o->st.buf + i;
                /* torch starts the buffer at the first gradient, undamped */
                *buf = o->st.step == 0 ? d : c.momentum * *buf + (1.0f - c.dampening) * d;
                d = c.nesterov ? d + c.momentum * *buf : *buf;
            }
            P->data[i] -= lr * d;
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(sgd)

/* --- Adam / AdamW ---------------------------------------------------------------------- */

SEQDEF seq_adamw_config seq_adamw_config_default(void) {
    seq_adamw_config c;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.01f;
    c.decoupled = 1;
    c.amsgrad = 0;
    return c;
}

static int64_t seq__adamw_floats(const seq_params *P, const seq_adamw_config *c) {
    return (c->amsgrad ? 3 : 2) * P->numel;
}

SEQDEF seq_status seq_adamw_init(seq_adamw *o, const seq_params *P, seq_adamw_config cfg) {
    static const char fn[] = "seq_adamw_init";
    seq__field f[4] = {{"beta1", cfg.beta1, SEQ__BETA},
                       {"beta2", cfg.beta2, SEQ__BETA},
                       {"eps", cfg.eps, SEQ__NONNEG},
                       {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 4);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "adamw", P, seq__adamw_floats(P, &cfg));
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_adamw_step(seq_adamw *o, seq_params *P, float lr) {
    static const char fn[] = "seq_adamw_step";
    seq_status s = seq__step_check(fn, o, P, lr);
    seq__adam_k k;
    float *m, *v, *vmax;
    int64_t p, i;
    if (s == SEQ_OK) s = seq__layout_kept(fn, &o->st, seq__adamw_floats(P, &o->cfg), "amsgrad");
    if (s != SEQ_OK) return s;
    k = seq__adam_consts(o->cfg.beta1, o->cfg.beta2, o->cfg.eps, lr, (double)(o->st.step + 1));
    m = o->st.buf;
    v = m + P->numel;
    vmax = o->cfg.amsgrad ? v + P->numel : NULL;
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float wd = o->cfg.weight_decay * e->decay, shrink = 1.0f - lr * wd;
        for (i = e->offset; i < e->offset + e->t.numel; i++) {
            float g = seq__decay(P->data + i, P->grad[i], o->cfg.decoupled, wd, shrink);
            P->data[i] -= seq__adam_elem(&k, g, m + i, v + i, vmax ? vmax + i : NULL);
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(adamw)

/* --- AdaBelief -------------------------------------------------------------------------- */

SEQDEF seq_adabelief_config seq_adabelief_config_default(void) {
    seq_adabelief_config c;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-16f;
    c.weight_decay = 0.0f;
    c.decoupled = 1;
    return c;
}

SEQDEF seq_status seq_adabelief_init(seq_adabelief *o, const seq_params *P, seq_adabelief_config cfg) {
    static const char fn[] = "seq_adabelief_init";
    seq__field f[4] = {{"beta1", cfg.beta1, SEQ__BETA},
                       {"beta2", cfg.beta2, SEQ__BETA},
                       {"eps", cfg.eps, SEQ__NONNEG},
                       {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 4);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "adabelief", P, 2 * P->numel);
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_adabelief_step(seq_adabelief *o, seq_params *P, float lr) {
    seq_status s = seq__step_check("seq_adabelief_step", o, P, lr);
    seq_adabelief_config c;
    seq__adam_k k;
    float *m, *sb;
    int64_t p, i;
    if (s != SEQ_OK) return s;
    c = o->cfg;
    k = seq__adam_consts(c.beta1, c.beta2, c.eps, lr, (double)(o->st.step + 1));
    m = o->st.buf;
    sb = m + P->numel;
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float wd = c.weight_decay * e->decay, shrink = 1.0f - lr * wd;
        for (i = e->offset; i < e->offset + e->t.numel; i++) {
            float g = seq__decay(P->data + i, P->grad[i], c.decoupled, wd, shrink), r;
            m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
            r = g - m[i]; /* how far the gradient strays from its prediction */
            sb[i] = c.beta2 * sb[i] + (1.0f - c.beta2) * r * r + c.eps;
            P->data[i] -= k.step_size * m[i] / (sqrtf(sb[i]) / k.bc2_sqrt + c.eps);
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(adabelief)

/* --- Adafactor -------------------------------------------------------------------------- */

/* How one tensor's second-moment statistics are kept: `lead` blocks of (rows, cols), an
 * EMA per row and, when factored, per column. An unfactored (1-D) tensor is one block of
 * numel rows and a single column, so its row EMAs are the full v. */
typedef struct seq__af_shape {
    int64_t lead, rows, cols;
    int factored;
    int64_t size; /* floats of state */
} seq__af_shape;

static seq__af_shape seq__af_shape_of(const seq_tensor *t) {
    seq__af_shape a;
    a.factored = t->ndim >= 2;
    a.rows = a.factored ? t->shape[t->ndim - 2] : t->numel;
    a.cols = a.factored ? t->shape[t->ndim - 1] : 1;
    a.lead = t->numel / (a.rows * a.cols);
    a.size = a.factored ? a.lead * (a.rows + a.cols) : t->numel;
    return a;
}

static int64_t seq__adafactor_floats(const seq_params *P, const seq_adafactor_config *c) {
    int64_t n = c->beta1 > 0.0f ? P->numel : 0, i;
    for (i = 0; i < P->count; i++) n += seq__af_shape_of(&P->items[i]->t).size;
    return n;
}

/* r (and c when factored) = beta * old + (1-beta) * the row (column) means of g^2 + eps1.
 * Columns accumulate row by row so the gradient is read in memory order. */
static void seq__af_stats_update(const seq__af_shape *a, const float *g, float *r, float *c, float beta,
                                 float eps1) {
    float add = 1.0f - beta;
    int64_t b, i, j;
    for (b = 0; b < a->lead; b++) {
        float *rb = r + b * a->rows, *cb = c ? c + b * a->cols : NULL;
        if (cb)
            for (j = 0; j < a->cols; j++) cb[j] *= beta;
        for (i = 0; i < a->rows; i++) {
            const float *gi = g + (b * a->rows + i) * a->cols;
            double s = 0.0;
            for (j = 0; j < a->cols; j++) {
                float q = gi[j] * gi[j] + eps1;
                s += q;
                if (cb) cb[j] += add * q / (float)a->rows;
            }
            rb[i] = beta * rb[i] + add * (float)(s / (double)a->cols);
        }
    }
}

/* How the second pass of seq__af_walk moves the weights. */
typedef struct seq__af_apply {
    float *w, *m;      /* m: the first moment, NULL without beta1 */
    float scale;       /* alpha_t / max(1, RMS(U) / clip) */
    float shrink;      /* 1 - alpha_t * weight_decay */
    float beta1;
} seq__af_apply;

/* Visits U = g / sqrt(V) over one tensor. Without `ap` it returns sum(U^2); with it, it
 * steps the weights by the scaled (and averaged) U. Each pass recomputes U rather than
 * storing it, so the optimizer needs no buffer of the tensor's size. */
static double seq__af_walk(const seq__af_shape *a, const float *g, const float *r, const float *c,
                           const seq__af_apply *ap) {
    double sum = 0.0;
    int64_t b, i, j, k = 0;
    for (b = 0; b < a->lead; b++) {
        const float *rb = r + b * a->rows, *cb = c ? c + b * a->cols : NULL;
        double rsum = 0.0;
        float rmean;
        for (i = 0; i < a->rows; i++) rsum += rb[i];
        rmean = (float)(rsum / (double)a->rows);
        for (i = 0; i < a->rows; i++)
            for (j = 0; j < a->cols; j++, k++) {
                /* V = R C / mean(R), formed as (R / mean R) C: eps1-sized statistics would
                 * underflow in the product R C */
                float u = g[k] / sqrtf(cb ? rb[i] / rmean * cb[j] : rb[i]);
                if (!ap) {
                    sum += (double)u * u;
                    continue;
                }
                u *= ap->scale;
                if (ap->m) u = ap->m[k] = ap->beta1 * ap->m[k] + (1.0f - ap->beta1) * u;
                ap->w[k] = ap->w[k] * ap->shrink - u;
            }
    }
    return sum;
}

static float seq__rms(const float *x, int64_t n) {
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) s += (double)x[i] * x[i];
    return (float)sqrt(s / (double)n);
}

SEQDEF seq_adafactor_config seq_adafactor_config_default(void) {
    seq_adafactor_config c;
    c.beta1 = 0.0f;
    c.decay_rate = 0.8f;
    c.eps1 = 1e-30f;
    c.eps2 = 1e-3f;
    c.clip_threshold = 1.0f;
    c.weight_decay = 0.0f;
    c.relative_step = 1;
    c.scale_parameter = 1;
    return c;
}

SEQDEF seq_status seq_adafactor_init(seq_adafactor *o, const seq_params *P, seq_adafactor_config cfg) {
    static const char fn[] = "seq_adafactor_init";
    seq__field f[6] = {{"beta1", cfg.beta1, SEQ__BETA},
                       {"decay_rate", cfg.decay_rate, SEQ__POS},
                       {"eps1", cfg.eps1, SEQ__POS},
                       {"eps2", cfg.eps2, SEQ__NONNEG},
                       {"clip_threshold", cfg.clip_threshold, SEQ__POS},
                       {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 6);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "adafactor", P, seq__adafactor_floats(P, &cfg));
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_adafactor_step(seq_adafactor *o, seq_params *P, float lr) {
    static const char fn[] = "seq_adafactor_step";
    seq_status s = seq__step_check(fn, o, P, lr);
    seq_adafactor_config c;
    seq__af_apply ap;
    float *stats, beta2, rho;
    double t;
    int64_t p;
    if (s == SEQ_OK) s = seq__layout_kept(fn, &o->st, seq__adafactor_floats(P, &o->cfg), "beta1 (zero or not)");
    if (s != SEQ_OK) return s;
    c = o->cfg;
    t = (double)(o->st.step + 1);
    beta2 = (float)(1.0 - pow(t, -(double)c.decay_rate)); /* 0 on the first step */
    rho = c.relative_step ? (float)fmin(1e-2, 1.0 / sqrt(t)) : lr;
    ap.m = c.beta1 > 0.0f ? o->st.buf : NULL;
    ap.beta1 = c.beta1;
    stats = o->st.buf + (ap.m ? P->numel : 0);
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        seq__af_shape a = seq__af_shape_of(&e->t);
        const float *g = P->grad + e->offset;
        float *r = stats, *cs = a.factored ? stats + a.lead * a.rows : NULL;
        float alpha = rho, rms_u;
        ap.w = P->data + e->offset;
        if (c.scale_parameter) alpha *= fmaxf(c.eps2, seq__rms(ap.w, e->t.numel));
        seq__af_stats_update(&a, g, r, cs, beta2, c.eps1);
        rms_u = (float)sqrt(seq__af_walk(&a, g, r, cs, NULL) / (double)e->t.numel);
        ap.scale = alpha / fmaxf(1.0f, rms_u / c.clip_threshold);
        ap.shrink = 1.0f - alpha * c.weight_decay * e->decay;
        seq__af_walk(&a, g, r, cs, &ap);
        if (ap.m) ap.m += e->t.numel;
        stats += a.size;
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(adafactor)

/* --- AdEMAMix --------------------------------------------------------------------------- */

SEQDEF seq_ademamix_config seq_ademamix_config_default(void) {
    seq_ademamix_config c;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.beta3 = 0.9999f;
    c.alpha = 5.0f;
    c.eps = 1e-8f;
    c.weight_decay = 0.0f;
    c.warmup = 0;
    return c;
}

SEQDEF seq_status seq_ademamix_init(seq_ademamix *o, const seq_params *P, seq_ademamix_config cfg) {
    static const char fn[] = "seq_ademamix_init";
    seq__field f[7] = {{"beta1", cfg.beta1, SEQ__BETA}, {"beta2", cfg.beta2, SEQ__BETA},
                       {"beta3", cfg.beta3, SEQ__BETA}, {"alpha", cfg.alpha, SEQ__NONNEG},
                       {"eps", cfg.eps, SEQ__NONNEG},   {"weight_decay", cfg.weight_decay, SEQ__NONNEG},
                       {"warmup", (double)cfg.warmup, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 7);
    /* the beta3 scheduler interpolates half-lives from beta1's to beta3's */
    if (s == SEQ_OK && cfg.warmup > 0 && !(cfg.beta1 > 0.0f && cfg.beta1 <= cfg.beta3))
        s = seq__err(SEQ_ERR_INVALID, "%s: warmup needs 0 < beta1 <= beta3", fn);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "ademamix", P, 3 * P->numel);
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_ademamix_step(seq_ademamix *o, seq_params *P, float lr) {
    seq_status s = seq__step_check("seq_ademamix_step", o, P, lr);
    seq_ademamix_config c;
    float *m1, *m2, *v, alpha, beta3, bc1, bc2_sqrt;
    double t;
    int64_t p, i;
    if (s != SEQ_OK) return s;
    c = o->cfg;
    t = (double)(o->st.step + 1);
    alpha = c.alpha;
    beta3 = c.beta3;
    if (t < (double)c.warmup) {
        double z = t / (double)c.warmup, l1 = log(c.beta1), l3 = log(c.beta3);
        alpha = (float)(z * c.alpha);
        beta3 = (float)fmin(exp(l1 * l3 / ((1.0 - z) * l3 + z * l1)), c.beta3);
    }
    bc1 = (float)(1.0 - pow(c.beta1, t));
    bc2_sqrt = (float)sqrt(1.0 - pow(c.beta2, t));
    m1 = o->st.buf;
    m2 = m1 + P->numel;
    v = m2 + P->numel;
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float shrink = 1.0f - lr * c.weight_decay * e->decay;
        for (i = e->offset; i < e->offset + e->t.numel; i++) {
            float g = P->grad[i], num;
            m1[i] = c.beta1 * m1[i] + (1.0f - c.beta1) * g;
            m2[i] = beta3 * m2[i] + (1.0f - beta3) * g;
            v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
            num = m1[i] / bc1 + alpha * m2[i];
            P->data[i] = P->data[i] * shrink - lr * num / (sqrtf(v[i]) / bc2_sqrt + c.eps);
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(ademamix)

/* --- Lion ------------------------------------------------------------------------------- */

SEQDEF seq_lion_config seq_lion_config_default(void) {
    seq_lion_config c;
    c.beta1 = 0.9f;
    c.beta2 = 0.99f;
    c.weight_decay = 0.0f;
    return c;
}

SEQDEF seq_status seq_lion_init(seq_lion *o, const seq_params *P, seq_lion_config cfg) {
    static const char fn[] = "seq_lion_init";
    seq__field f[3] = {{"beta1", cfg.beta1, SEQ__BETA},
                       {"beta2", cfg.beta2, SEQ__BETA},
                       {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 3);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &o->st, "lion", P, P->numel);
    if (s == SEQ_OK) o->cfg = cfg;
    return s;
}

SEQDEF seq_status seq_lion_step(seq_lion *o, seq_params *P, float lr) {
    seq_status s = seq__step_check("seq_lion_step", o, P, lr);
    seq_lion_config c;
    float *m;
    int64_t p, i;
    if (s != SEQ_OK) return s;
    c = o->cfg;
    m = o->st.buf;
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float shrink = 1.0f - lr * c.weight_decay * e->decay;
        for (i = e->offset; i < e->offset + e->t.numel; i++) {
            float g = P->grad[i];
            /* the sign interpolates with beta1, the momentum that persists uses beta2 */
            P->data[i] = P->data[i] * shrink - lr * seq__sign(c.beta1 * m[i] + (1.0f - c.beta1) * g);
            m[i] = c.beta2 * m[i] + (1.0f - c.beta2) * g;
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(lion)

/* --- FRUGAL ----------------------------------------------------------------------------- */

/* Floats that m (and v) need for any k of P's tensors: the k largest, summed. Ranks break ties
 * by position so that exactly k tensors count. */
static int64_t seq__frugal_capacity(const seq_params *P, int64_t k) {
    int64_t cap = 0, i, j;
    for (i = 0; i < P->count; i++) {
        int64_t ni = P->items[i]->t.numel, larger = 0;
        for (j = 0; j < P->count; j++) {
            int64_t nj = P->items[j]->t.numel;
            larger += nj > ni || (nj == ni && j < i);
        }
        if (larger < k) cap += ni;
    }
    return cap;
}

SEQDEF seq_frugal_config seq_frugal_config_default(void) {
    seq_frugal_config c;
    c.rho = 0.25f;
    c.period = 200;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.0f;
    c.rng = NULL;
    return c;
}

SEQDEF seq_status seq_frugal_init(seq_frugal *o, const seq_params *P, seq_frugal_config cfg) {
    static const char fn[] = "seq_frugal_init";
    seq__field f[6] = {{"rho", cfg.rho, SEQ__UNIT},   {"period", (double)cfg.period, SEQ__POS},
                       {"beta1", cfg.beta1, SEQ__BETA}, {"beta2", cfg.beta2, SEQ__BETA},
                       {"eps", cfg.eps, SEQ__NONNEG},   {"weight_decay", cfg.weight_decay, SEQ__NONNEG}};
    seq_status s = seq__init_begin(fn, o, sizeof *o, P, f, 6);
    int64_t k;
    if (s == SEQ_OK && !cfg.rng) s = seq__err(SEQ_ERR_INVALID, "%s: NULL rng (it draws the tensors)", fn);
    if (s != SEQ_OK) return s;
    k = (int64_t)floor((double)cfg.rho * (double)P->count + 0.5);
    s = seq__state_alloc(fn, &o->st, "frugal", P, 2 * P->count + 2 * seq__frugal_capacity(P, k));
    if (s == SEQ_OK) {
        o->cfg = cfg;
        o->active = k;
    }
    return s;
}

static void seq__frugal_move(float *m, float *v, int64_t from, int64_t to, int64_t n) {
    memmove(m + to, m + from, (size_t)n * sizeof(float));
    memmove(v + to, v + from, (size_t)n * sizeof(float));
}

/* Draws the next state-full set and repacks m and v for it. While this runs a flag holds
 * the current set in bit 0 and the draw in bit 1. The draw is selection sampling (Knuth's
 * Algorithm S): tensor i is taken with probability still-needed / still-left, which gives
 * every k-subset the same chance. */
static void seq__frugal_redraw(seq_frugal *o, const seq_params *P, float *m, float *v) {
    int64_t n = P->count, need = o->active, i, from = 0, to = 0;
    float *flag = o->st.buf, *steps = flag + n;
    for (i = 0; i < n; i++) {
        int take = (int64_t)seq_rng_below(o->cfg.rng, (uint64_t)(n - i)) < need;
        need -= take;
        flag[i] += take ? 2.0f : 0.0f;
    }
    /* Tensors that stay slide to their new packed place: leftward moves in ascending order,
     * then rightward ones in descending order, so no move overwrites what is still to move. */
    for (i = 0; i < n; i++) {
        int f = (int)flag[i];
        if (f == 3 && to <= from) seq__frugal_move(m, v, from, to, P->items[i]->t.numel);
        from += (f & 1) ? P->items[i]->t.numel : 0;
        to += (f & 2) ? P->items[i]->t.numel : 0;
    }
    for (i = n - 1; i >= 0; i--) {
        int f = (int)flag[i];
        from -= (f & 1) ? P->items[i]->t.numel : 0;
        to -= (f & 2) ? P->items[i]->t.numel : 0;
        if (f == 3 && to > from) seq__frugal_move(m, v, from, to, P->items[i]->t.numel);
    }
    /* tensors that enter start from zero moments and a fresh bias correction */
    for (i = 0; i < n; i++) {
        int f = (int)flag[i];
        int64_t len = P->items[i]->t.numel;
        if (f != 3) steps[i] = 0.0f;
        if (f == 2) {
            memset(m + to, 0, (size_t)len * sizeof(float));
            memset(v + to, 0, (size_t)len * sizeof(float));
        }
        to += (f & 2) ? len : 0;
        flag[i] = (float)(f >> 1);
    }
}

SEQDEF seq_status seq_frugal_step(seq_frugal *o, seq_params *P, float lr) {
    seq_status s = seq__step_check("seq_frugal_step", o, P, lr);
    seq_frugal_config c;
    float *flag, *steps, *m, *v;
    int64_t p, i, cap, at = 0;
    if (s != SEQ_OK) return s;
    c = o->cfg;
    flag = o->st.buf;
    steps = flag + P->count;
    m = steps + P->count;
    cap = (o->st.numel - 2 * P->count) / 2;
    v = m + cap;
    if (o->st.step % c.period == 0) seq__frugal_redraw(o, P, m, v);
    for (p = 0; p < P->count; p++) {
        const seq_param *e = P->items[p];
        float shrink = 1.0f - lr * c.weight_decay * e->decay;
        seq__adam_k k;
        if (flag[p] != 0.0f) {
            /* a float counts exactly to 2^24 steps, long after the correction reaches 1 */
            steps[p] += 1.0f;
            k = seq__adam_consts(c.beta1, c.beta2, c.eps, lr, (double)steps[p]);
            for (i = 0; i < e->t.numel; i++, at++) {
                float *w = P->data + e->offset + i;
                *w = *w * shrink - seq__adam_elem(&k, P->grad[e->offset + i], m + at, v + at, NULL);
            }
        } else {
            for (i = e->offset; i < e->offset + e->t.numel; i++)
                P->data[i] = P->data[i] * shrink - lr * seq__sign(P->grad[i]);
        }
    }
    o->st.step++;
    return SEQ_OK;
}

SEQ__OPTIM_COMMON(frugal)

/* --- SAM -------------------------------------------------------------------------------- */

SEQDEF seq_sam_config seq_sam_config_default(void) {
    seq_sam_config c;
    c.rho = 0.05f;
    c.adaptive = 0;
    return c;
}

SEQDEF seq_status seq_sam_init(seq_sam *s, const seq_params *P, seq_optim base, seq_sam_config cfg) {
    static const char fn[] = "seq_sam_init";
    seq__field f[1] = {{"rho", cfg.rho, SEQ__NONNEG}};
    seq_status st = seq__init_begin(fn, s, sizeof *s, P, f, 1);
    if (st == SEQ_OK && (!base.self || !base.step))
        st = seq__err(SEQ_ERR_INVALID, "%s: base optimizer missing (make it with seq_X_as_optim)", fn);
    if (st == SEQ_OK) st = seq__state_alloc(fn, &s->st, "sam", P, P->numel);
    if (st == SEQ_OK) {
        s->cfg = cfg;
        s->base = base;
    }
    return st;
}

SEQDEF seq_status seq_sam_perturb(seq_sam *s, seq_params *P) {
    static const char fn[] = "seq_sam_perturb";
    seq_status st = seq__state_check(fn, s, P);
    double norm2 = 0.0;
    float scale;
    int64_t i;
    if (st != SEQ_OK) return st;
    if (s->perturbed) return seq__err(SEQ_ERR_STATE, "%s: already perturbed; seq_sam_step comes next", fn);
    if (!seq__all_finite(P->grad, P->numel))
        return seq__err(SEQ_ERR_NUMERIC, "%s: non-finite gradient; weights left unchanged", fn);
    for (i = 0; i < P->numel; i++) {
        double tg = (s->cfg.adaptive ? fabs(P->data[i]) : 1.0) * P->grad[i];
        norm2 += tg * tg;
    }
    /* a zero gradient has no ascent direction: w stays where it is */
    scale = norm2 > 0.0 ? (float)(s->cfg.rho / sqrt(norm2)) : 0.0f;
    memcpy(s->st.buf, P->data, (size_t)P->numel * sizeof(float));
    for (i = 0; i < P->numel; i++) {
        float t2 = s->cfg.adaptive ? P->data[i] * P->data[i] : 1.0f;
        P->data[i] += scale * t2 * P->grad[i];
    }
    s->perturbed = 1;
    return SEQ_OK;
}

SEQDEF seq_status seq_sam_step(seq_sam *s, seq_params *P, float lr) {
    static const char fn[] = "seq_sam_step";
    seq_status st = seq__state_check(fn, s, P);
    if (st != SEQ_OK) return st;
    if (!s->perturbed) return seq__err(SEQ_ERR_STATE, "%s: call seq_sam_perturb first", fn);
    memcpy(P->data, s->st.buf, (size_t)P->numel * sizeof(float));
    s->perturbed = 0;
    st = s->base.step(s->base.self, P, lr);
    if (st == SEQ_OK) s->st.step++;
    return st;
}

SEQ__OPTIM_COMMON(sam)
#undef SEQ__OPTIM_COMMON

/* --- weight EMA ------------------------------------------------------------------------- */

/* sigma_rel^2 of the power-function EMA with exponent gamma (EDM2, Karras et al. 2024) */
static double seq__ema_sigma2(double gamma) {
    return (gamma + 1.0) / ((gamma + 2.0) * (gamma + 2.0) * (gamma + 3.0));
}

SEQDEF double seq_ema_power_gamma(double sigma_rel) {
    /* sigma_rel(gamma) rises from 0 at gamma = -1 to a peak where (gamma+1)^2 + (gamma+1) = 1,
     * then falls toward 0 like 1/gamma. The larger root lies on the falling side, between
     * the peak and 1/sigma_rel (sigma_rel(gamma) < 1/gamma there): bisect it. */
    double lo = (sqrt(5.0) - 1.0) / 2.0 - 1.0, hi = 1.0 / sigma_rel, target = sigma_rel * sigma_rel;
    int it;
    if (!(sigma_rel > 0.0) || !(target <= seq__ema_sigma2(lo))) return NAN;
    for (it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (seq__ema_sigma2(mid) > target) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

SEQDEF seq_ema_config seq_ema_config_default(void) {
    seq_ema_config c;
    c.mode = SEQ_EMA_CONSTANT;
    c.decay = 0.999f;
    c.kappa = 1.0f;
    c.sigma_rel = 0.05f;
    return c;
}

SEQDEF seq_status seq_ema_init(seq_ema *e, const seq_params *P, seq_ema_config cfg) {
    static const char fn[] = "seq_ema_init";
    seq__field f[2] = {{"decay", cfg.decay, SEQ__BETA}, {"kappa", cfg.kappa, SEQ__POS}};
    seq_status s = seq__init_begin(fn, e, sizeof *e, P, f, 2);
    if (s == SEQ_OK && ((int)cfg.mode < 0 || cfg.mode >= SEQ_EMA_MODE_COUNT))
        s = seq__err(SEQ_ERR_INVALID, "%s: unknown mode %d", fn, (int)cfg.mode);
    if (s == SEQ_OK && cfg.mode == SEQ_EMA_POWER && isnan(seq_ema_power_gamma(cfg.sigma_rel)))
        s = seq__err(SEQ_ERR_INVALID, "%s: sigma_rel = %g must lie in (0, 0.3003]", fn, cfg.sigma_rel);
    if (s == SEQ_OK) s = seq__state_alloc(fn, &e->st, "ema", P, P->numel);
    if (s != SEQ_OK) return s;
    memcpy(e->st.buf, P->data, (size_t)P->numel * sizeof(float));
    e->cfg = cfg;
    e->gamma = cfg.mode == SEQ_EMA_POWER ? seq_ema_power_gamma(cfg.sigma_rel) : 0.0;
    return SEQ_OK;
}

SEQDEF seq_status seq_ema_update(seq_ema *e, const seq_params *P) {
    static const char fn[] = "seq_ema_update";
    seq_status s = seq__state_check(fn, e, P);
    double t;
    float beta;
    int64_t i;
    if (s != SEQ_OK) return s;
    if (e->swapped) return seq__err(SEQ_ERR_STATE, "%s: the EMA weights are swapped in; swap back first", fn);
    t = (double)(e->st.step + 1);
    beta = (float)(e->cfg.mode == SEQ_EMA_POWER ? pow(1.0 - 1.0 / t, e->gamma + 1.0)
                                                : pow(e->cfg.decay, e->cfg.kappa));
    for (i = 0; i < P->numel; i++) e->st.buf[i] = beta * e->st.buf[i] + (1.0f - beta) * P->data[i];
    e->st.step++;
    return SEQ_OK;
}

SEQDEF seq_status seq_ema_swap(seq_ema *e, seq_params *P) {
    seq_status s = seq__state_check("seq_ema_swap", e, P);
    int64_t i;
    if (s != SEQ_OK) return s;
    for (i = 0; i < P->numel; i++) {
        float w = P->data[i];
        P->data[i] = e->st.buf[i];
        e->st.buf[i] = w;
    }
    e->swapped = !e->swapped;
    return SEQ_OK;
}

SEQDEF seq_status seq_ema_copy_to(const seq_ema *e, seq_params *P) {
    static const char fn[] = "seq_ema_copy_to";
    seq_status s = seq__state_check(fn, e, P);
    if (s != SEQ_OK) return s;
    if (e->swapped) return seq__err(SEQ_ERR_STATE, "%s: the EMA weights are swapped in; swap back first", fn);
    memcpy(P->data, e->st.buf, (size_t)P->numel * sizeof(float));
    return SEQ_OK;
}

SEQDEF void seq_ema_free(seq_ema *e) {
    if (e) seq__state_free(&e->st);
}

/* ===================================================================================
 * 12 learning-rate schedules
 * =================================================================================== */

/* Linear warmup: true while step < warmup, with *lr = peak * (step+1) / warmup. */
static int seq__warmup(int64_t step, int64_t warmup, float peak, float *lr) {
    if (warmup <= 0 || step >= warmup) return 0;
    if (step < 0) step = 0;
    *lr = (float)((double)peak * (double)(step + 1) / (double)warmup);
    return 1;
}

/* Progress through a phase from step `start` (0) to `end` (1), clamped to [0,1]. */
static double seq__phase(int64_t step, int64_t start, int64_t end) {
    if (step >= end) return 1.0;
    if (step <= start) return 0.0;
    return (double)(step - start) / (double)(end - start);
}

/* Half a cosine from 1 at z = 0 to 0 at z = 1 (acos(-1) is pi: C99 has no M_PI). */
static double seq__cos_fall(double z) { return 0.5 * (1.0 + cos(acos(-1.0) * z)); }

/* round(frac * total) steps, frac clamped to [0,1] (NaN counts as 0) */
static int64_t seq__frac_steps(float frac, int64_t total) {
    double f = frac > 0.0f ? (frac < 1.0f ? (double)frac : 1.0) : 0.0;
    return total > 0 ? (int64_t)floor(f * (double)total + 0.5) : 0;
}

SEQDEF float seq_lr_constant(int64_t step, float lr) {
    (void)step;
    return lr;
}

SEQDEF float seq_lr_linear_warmup(int64_t step, int64_t warmup, float peak) {
    float lr;
    return seq__warmup(step, warmup, peak, &lr) ? lr : peak;
}

SEQDEF float seq_lr_cosine(int64_t step, int64_t total, float peak, float min_lr, int64_t warmup) {
    float lr;
    if (seq__warmup(step, warmup, peak, &lr)) return lr;
    return (float)(min_lr + ((double)peak - min_lr) * seq__cos_fall(seq__phase(step, warmup, total)));
}

SEQDEF float seq_lr_linear_decay(int64_t step, int64_t total, float peak, float min_lr, int64_t warmup) {
    float lr;
    if (seq__warmup(step, warmup, peak, &lr)) return lr;
    return (float)(min_lr + ((double)peak - min_lr) * (1.0 - seq__phase(step, warmup, total)));
}

SEQDEF float seq_lr_wsd(int64_t step, int64_t total, float peak, float warmup_frac, float decay_frac) {
    int64_t warmup = seq__frac_steps(warmup_frac, total), decay = seq__frac_steps(decay_frac, total);
    float lr;
    if (seq__warmup(step, warmup, peak, &lr)) return lr;
    return (float)(peak * (1.0 - seq__phase(step, total - decay, total)));
}

SEQDEF float seq_lr_rex(int64_t step, int64_t total, float peak, int64_t warmup) {
    float lr;
    double z;
    if (seq__warmup(step, warmup, peak, &lr)) return lr;
    z = seq__phase(step, warmup, total);
    return (float)(peak * (1.0 - z) / (1.0 - 0.5 * z));
}

SEQDEF float seq_lr_inverse_sqrt(int64_t step, int64_t warmup, float peak) {
    float lr;
    if (seq__warmup(step, warmup, peak, &lr)) return lr;
    return (float)(peak * sqrt((double)(warmup > 1 ? warmup : 1) / (double)((step > 0 ? step : 0) + 1)));
}

SEQDEF float seq_lr_infinite(int64_t step, seq_lr_infinite_config c) {
    float lr;
    double z;
    if (seq__warmup(step, c.warmup, c.peak, &lr)) return lr;
    if (c.anneal_start >= 0 && step >= c.anneal_start)
        return (float)(c.constant * pow((double)c.min_lr / c.constant,
                                        seq__phase(step, c.anneal_start, c.anneal_start + c.anneal)));
    z = seq__phase(step, c.warmup, c.warmup + c.cooldown);
    return (float)(c.constant + ((double)c.peak - c.constant) * seq__cos_fall(z));
}

/* ===================================================================================
 * 13 files: safetensors, checkpoints
 * =================================================================================== */

/* ===================================================================================
 * 14 layers
 * =================================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* SEQ_IMPLEMENTATION_DONE */
#endif /* SEQ_IMPLEMENTATION */
