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
#include <stdio.h>

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
/* Message and status of the last failed call on this thread ("" and SEQ_OK if none):
 * what a constructor that returned NULL has to say. */
SEQDEF const char *seq_last_error(void);
SEQDEF seq_status seq_last_status(void);
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

/* BLAS rules: beta == 0 never reads C (it may hold NaN); alpha == 0 or K == 0 never reads
 * A or B. Negative sizes, NULL matrices or leading dimensions shorter than a row leave C
 * untouched and set seq_last_error(). No globals: concurrent calls are safe. */
SEQDEF void seq_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc);
/* Scalar reference twin (tests compare the fast path against it). */
SEQDEF void seq_sgemm_ref(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc);
/* Which backend seq_sgemm uses in this build: "blis", "avx512", "avx2" or "scalar". */
SEQDEF const char *seq_sgemm_backend(void);

/* op(B) packed once for many products with the same B (as MKL's sgemm_pack): the
 * recurrent weights of an RNN are multiplied by a new h at every step. The panels live in
 * caller memory of seq_sgemm_pack_floats(K, N) floats (0 in BLIS builds, which read B in
 * place); B must outlive the pack, since products with few rows read it unpacked. */
typedef struct seq_sgemm_packed {
    int transB;
    int64_t K, N, ldb;
    const float *B;
    float *panels;
} seq_sgemm_packed;
SEQDEF int64_t seq_sgemm_pack_floats(int64_t K, int64_t N);
/* Packs op(B) (K,N) into buf; bad sizes or strides return SEQ_ERR_INVALID. */
SEQDEF seq_status seq_sgemm_pack(seq_sgemm_packed *p, int transB, int64_t K, int64_t N, const float *B, int64_t ldb,
                                 float *buf);
/* C (M,N) = alpha op(A) op(B) + beta C with the packed op(B), same rules as seq_sgemm. */
SEQDEF void seq_sgemm_packed_mul(int transA, int64_t M, float alpha, const float *A, int64_t lda,
                                 const seq_sgemm_packed *p, float beta, float *C, int64_t ldc);

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

/* Dims may be negative and then count from the end as in PyTorch (-1 is the last); a dim
 * outside [-ndim, ndim) is SEQ_ERR_RANGE. Outputs are new contiguous tensors unless
 * said otherwise. */

/* a - b and a / b, b broadcast as in seq_add -> a's shape. Division by 0 follows IEEE. */
SEQDEF seq_tensor *seq_sub(seq_ctx *ctx, seq_tensor *a, seq_tensor *b);
SEQDEF seq_tensor *seq_div(seq_ctx *ctx, seq_tensor *a, seq_tensor *b);
/* x * s and x + s for a constant s: x (...) -> (...). */
SEQDEF seq_tensor *seq_scale(seq_ctx *ctx, seq_tensor *x, float s);
SEQDEF seq_tensor *seq_add_scalar(seq_ctx *ctx, seq_tensor *x, float s);

/* Activations, elementwise x (...) -> (...), as PyTorch's defaults. */
SEQDEF seq_tensor *seq_relu(seq_ctx *ctx, seq_tensor *x);      /* max(x, 0) */
SEQDEF seq_tensor *seq_gelu(seq_ctx *ctx, seq_tensor *x);      /* x Phi(x), the exact erf form */
SEQDEF seq_tensor *seq_gelu_tanh(seq_ctx *ctx, seq_tensor *x); /* GELU's tanh approximation */
SEQDEF seq_tensor *seq_silu(seq_ctx *ctx, seq_tensor *x);      /* x sigmoid(x) */
SEQDEF seq_tensor *seq_tanh(seq_ctx *ctx, seq_tensor *x);
SEQDEF seq_tensor *seq_sigmoid(seq_ctx *ctx, seq_tensor *x);
SEQDEF seq_tensor *seq_softplus(seq_ctx *ctx, seq_tensor *x);  /* log(1 + e^x); x itself above 20 */
SEQDEF seq_tensor *seq_exp(seq_ctx *ctx, seq_tensor *x);
SEQDEF seq_tensor *seq_log(seq_ctx *ctx, seq_tensor *x);       /* log 0 = -inf, log x<0 = NaN (no error) */

/* Over the last dimension, x (...,C) -> (...,C). */
SEQDEF seq_tensor *seq_softmax(seq_ctx *ctx, seq_tensor *x);
SEQDEF seq_tensor *seq_log_softmax(seq_ctx *ctx, seq_tensor *x);
/* x (...,C) -> (...,C): (x - mean) / sqrt(var + eps) * weight + bias per row, biased
 * variance as PyTorch. weight (C) and bias (C) may be NULL (no scale, no shift); eps >= 0. */
SEQDEF seq_tensor *seq_layernorm(seq_ctx *ctx, seq_tensor *x, seq_tensor *weight, seq_tensor *bias, float eps);
/* x (...,C) -> (...,C): x / sqrt(mean(x^2) + eps) * weight per row; weight (C) or NULL. */
SEQDEF seq_tensor *seq_rmsnorm(seq_ctx *ctx, seq_tensor *x, seq_tensor *weight, float eps);

/* Batched op(a) op(b) on the last two dims, op(X) = X^T when its flag is nonzero:
 * a (...,M,K), or (...,K,M) with transA; b (...,K,N), or (...,N,K) with transB, where
 * b's batch dims equal a's, or b is 2-D and shared by every batch -> (...,M,N). */
SEQDEF seq_tensor *seq_matmul(seq_ctx *ctx, seq_tensor *a, seq_tensor *b, int transA, int transB);

/* Same elements, new shape (numel must match; one entry may be -1: inferred). The result
 * is a view sharing x's data. */
SEQDEF seq_tensor *seq_reshape(seq_ctx *ctx, seq_tensor *x, int ndim, const int64_t *shape);
/* x with dims d0 and d1 swapped, copied into a contiguous tensor. */
SEQDEF seq_tensor *seq_transpose(seq_ctx *ctx, seq_tensor *x, int d0, int d1);
/* The n >= 1 tensors xs[0..n) joined along dim; their shapes agree everywhere else. */
SEQDEF seq_tensor *seq_concat(seq_ctx *ctx, seq_tensor *const *xs, int n, int dim);
/* x[..., start:end, ...] along dim, half-open; needs 0 <= start <= end <= size of dim. */
SEQDEF seq_tensor *seq_slice(seq_ctx *ctx, seq_tensor *x, int dim, int64_t start, int64_t end);
/* Sum of all elements -> scalar (shape (), accumulated in double). */
SEQDEF seq_tensor *seq_sum(seq_ctx *ctx, seq_tensor *x);
/* Sum or mean over one dim (accumulated in double): x (...,D,...) -> (...,1,...) with
 * keepdim, else (...,...). A mean over an empty dim is SEQ_ERR_SHAPE. */
SEQDEF seq_tensor *seq_sum_dim(seq_ctx *ctx, seq_tensor *x, int dim, int keepdim);
SEQDEF seq_tensor *seq_mean_dim(seq_ctx *ctx, seq_tensor *x, int dim, int keepdim);

/* --- 8b sequence ops: embedding, dropout, causal conv1d, attention ------------------- */

/* Row lookup: W (V,C) float, ids SEQ_I32 (...) with at most 3 dims -> (...,C),
 * y[...,:] = W[ids[...],:]. An id outside [0,V) is SEQ_ERR_RANGE; the message names its
 * position and value. The backward adds into the rows that were looked up, only those. */
SEQDEF seq_tensor *seq_embedding(seq_ctx *ctx, seq_tensor *W, seq_tensor *ids);
/* As seq_embedding, but row padding_idx never receives gradient; its value is still
 * looked up as is (PyTorch's padding_idx; negative counts from the end, -1 = row V-1). */
SEQDEF seq_tensor *seq_embedding_pad(seq_ctx *ctx, seq_tensor *W, seq_tensor *ids, int32_t padding_idx);

/* Inverted dropout: x (...) -> (...), each element kept with probability 1-p and scaled
 * by 1/(1-p), so inference needs no rescaling. p == 0 or rng == NULL means inference:
 * x itself is returned. p outside [0,1) is SEQ_ERR_INVALID. The mask takes one draw
 * from rng per element in order (same seed, same mask) and is kept for the backward. */
SEQDEF seq_tensor *seq_dropout(seq_ctx *ctx, seq_tensor *x, float p, seq_rng *rng);

/* Depthwise causal convolution over time (the short convolution of H3 and Mamba):
 * x (B,T,C), w (C,K), b (C) or NULL -> (B,T,C),
 *     y[b,t,c] = b[c] + sum_{k<K} w[c,k] * x[b, t-(K-1)+k, c]     (x = 0 before t = 0),
 * which is PyTorch's conv1d(x.transpose(1,2), w.unsqueeze(1), b, padding=K-1,
 * groups=C)[..., :T].transpose(1,2); w is PyTorch's (C,1,K) weight squeezed. */
SEQDEF seq_tensor *seq_conv1d_causal(seq_ctx *ctx, seq_tensor *x, seq_tensor *w, seq_tensor *b);

/* Which keys each query of seq_attention may see. All zero (C: `= {0}`, C++: `{}`, or
 * seq_attention_mask_none()) hides nothing and scales by 1/sqrt(D). The masks combine:
 * a key is hidden when any of them hides it. The arrays are read during the call only. */
typedef struct seq_attention_mask {
    int causal;                 /* query i sees keys j <= i + (Tk - Tq): aligned at the end */
    const int32_t *key_lengths; /* B entries or NULL: keys j >= key_lengths[b] are padding */
    const uint8_t *key_padding; /* B x Tk or NULL: nonzero = that key is padding */
    float scale;                /* multiplies q k^T; 0 means 1/sqrt(D) */
} seq_attention_mask;
SEQDEF seq_attention_mask seq_attention_mask_none(void);

/* Scaled dot-product attention over heads, mask NULL = seq_attention_mask_none():
 * q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,Dv) -> (B,H,Tq,Dv),
 *     y = softmax(q k^T * scale, hidden keys excluded) v.
 * A query whose keys are all hidden (key_lengths[b] == 0, or causal with Tq > Tk) has
 * an all-zero probability row: it outputs zeros and passes back zero gradient, not NaN.
 * key_lengths outside [0,Tk] are SEQ_ERR_RANGE; a non-finite scale is SEQ_ERR_INVALID. */
SEQDEF seq_tensor *seq_attention(seq_ctx *ctx, seq_tensor *q, seq_tensor *k, seq_tensor *v,
                                 const seq_attention_mask *mask);

/* ===================================================================================
 * 9  losses (scalar outputs, mean over the counted elements unless said otherwise)
 * =================================================================================== */

/* Every loss is one fused tape node: forward now, hand-written backward into each float
 * input that requires a gradient. Class ids are SEQ_I32 tensors; an id outside [0,V)
 * sets SEQ_ERR_RANGE naming its flat position; shapes or dtypes that do not fit set
 * SEQ_ERR_SHAPE; an out-of-range scalar option sets SEQ_ERR_INVALID. Reductions run in
 * double; a NaN input gives a NaN loss. */

/* logits (...,V), targets (...) i32 -> scalar: mean over the positions whose target is
 * not ignore_index of -log softmax(logits)[target] (PyTorch's cross_entropy with the class
 * dimension last; PyTorch's default ignore_index is -100). When every position is
 * ignored the loss is 0 with zero gradient, where PyTorch gives NaN: a batch of pure
 * padding then leaves the model untouched instead of poisoning it. */
SEQDEF seq_tensor *seq_cross_entropy(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, int32_t ignore_index);
/* The same with label smoothing eps in [0,1]: (1-eps) * nll + eps * mean_c(-log p_c). */
SEQDEF seq_tensor *seq_cross_entropy_ex(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, int32_t ignore_index,
                                        float label_smoothing);
/* logits, targets (same shape, targets in [0,1]) -> mean of
 * max(x,0) - x*y + log1p(exp(-|x|)), PyTorch's BCEWithLogitsLoss. */
SEQDEF seq_tensor *seq_bce_with_logits(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets);
/* pred, target (same shape) -> mean of (pred - target)^2. */
SEQDEF seq_tensor *seq_mse(seq_ctx *ctx, seq_tensor *pred, seq_tensor *target);
/* pred, target (same shape), delta > 0 -> mean of 0.5 d^2 where |d| <= delta, else
 * delta (|d| - 0.5 delta), d = pred - target (PyTorch's HuberLoss). */
SEQDEF seq_tensor *seq_huber(seq_ctx *ctx, seq_tensor *pred, seq_tensor *target, float delta);
/* BPR / pairwise logistic loss: pos (N), neg (N) or (N,k) -> mean of -log sigmoid(pos - neg),
 * each of a row's k negatives paired with that row's positive. */
SEQDEF seq_tensor *seq_bpr(seq_ctx *ctx, seq_tensor *pos, seq_tensor *neg);
/* Sampled softmax over a shared set of negatives: h (N,D), W (V,D) output embeddings,
 * targets (N) i32, negatives (S) i32 (S >= 1, repeats allowed), log_q NULL (no
 * correction) or V log sampling probabilities indexed by item id. Row i scores
 * [h_i.W_t - log_q[t], h_i.W_s - log_q[s] ...]; a negative equal to t (an accidental hit)
 * is masked out; the loss is the mean over rows of the cross entropy on the target
 * column. Gradients reach h and the rows of W that were used; log_q gets none. */
SEQDEF seq_tensor *seq_sampled_softmax(seq_ctx *ctx, seq_tensor *h, seq_tensor *W, seq_tensor *targets,
                                       seq_tensor *negatives, const float *log_q);
/* PaLM's auxiliary z-loss: logits (...,V) -> coeff * mean over rows of (log sum exp)^2. */
SEQDEF seq_tensor *seq_z_loss(seq_ctx *ctx, seq_tensor *logits, float coeff);
/* Comp-sum losses (Mao, Mohri, Zhong, ICML 2023): logits (...,V), targets (...) i32,
 * tau >= 0 -> mean of Phi^tau(u), u = sum_{y' != y} exp(h_y' - h_y):
 *     tau = 1: log(1 + u) = cross entropy;   otherwise ((1 + u)^(1-tau) - 1) / (1 - tau):
 *     tau = 0: u (sum-exp);  tau in (1,2): generalized cross entropy;  tau = 2: 1 - p_y. */
SEQDEF seq_tensor *seq_comp_sum_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, float tau);
/* The Z-loss of the spherical family (de Brebisson & Vincent, "The Z-loss: a shift and
 * scale invariant classification loss belonging to the Spherical Family", 2016, the
 * follow-up to their ICLR 2016 "An Exploration of Softmax Alternatives Belonging to the
 * Spherical Loss Family"): logits (...,V), targets (...) i32, a > 0, b ->
 *     mean of (1/a) softplus(a (b - z_t)),  z = (o - mean(o)) / std(o) per row,
 * std the population one, sqrt(sum (o - mean)^2 / V). a (sharpness) and b (offset) are
 * hyperparameters the paper tunes per task (b sets how far above the rest the target's
 * z must rise before the loss lets go; a trades top-1 against top-k), so seq takes both
 * explicitly; the authors' released example uses a = 1, b = 0, i.e. softplus(-z_t),
 * a good start. The loss is shift and scale invariant in o. A row of equal outputs has no
 * spread: std is floored at 1e-12 (their code guards the division with the same 1e-12),
 * so such a row has z = 0 and a finite loss. */
SEQDEF seq_tensor *seq_z_normalized_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, float a, float b);

/* ===================================================================================
 * 10 autograd
 * =================================================================================== */

/* Seeds d loss = 1 and runs the tape backwards; gradients accumulate (+=). loss must
 * be a scalar (numel 1) recorded on ctx. Once per recorded graph: the intermediate
 * gradients stay on the tape, so seq_ctx_reset() before building the next one. */
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
/* An element fails when |analytic - numeric| > atol + rtol * max(|analytic|,|numeric|)
 * at each of the steps eps, eps/4 and 4 eps (the first agreeing one counts; the result
 * reports the last tried). The loss is f32, so keep graphs small and eps near 1e-3
 * (rtol ~1e-2 is typical). */
SEQDEF seq_status seq_gradcheck(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, float eps,
                                float atol, float rtol, seq_gradcheck_result *out);

/* --- extending seq: ops written outside seq.h (seq_quant.h, seq_rec.h, user code) ----
 * An op validates its inputs (seq_ctx_fail records the first failure, sticky), makes
 * its output with seq_op_output, computes the forward, and records its backward with
 * seq_op_record. The backward reads out->grad and accumulates (+=) into seq_op_grad()
 * of each input (NULL: that input needs no gradient). `data` is arena memory
 * (seq_ctx_alloc) or anything that outlives the ctx step. */
typedef void (*seq_op_backward_fn)(seq_ctx *ctx, seq_tensor *out, seq_tensor *const *in, void *data);
/* NULL when ctx has failed or an input is NULL (the sticky path). */
SEQDEF seq_tensor *seq_op_output(seq_ctx *ctx, const char *op, int ndim, const int64_t *shape, int nin,
                                 seq_tensor *const *in);
/* Records the backward when out needs a gradient; at most 4 inputs. */
SEQDEF seq_status seq_op_record(seq_ctx *ctx, const char *op, seq_tensor *out, seq_op_backward_fn bw, int nin,
                                seq_tensor *const *in, void *data);
SEQDEF float *seq_op_grad(seq_ctx *ctx, seq_tensor *t);
SEQDEF void seq_ctx_fail(seq_ctx *ctx, seq_status s, const char *op, const char *fmt, ...);
/* Sets this thread's last error (what seq_last_error() returns) and returns s. */
SEQDEF seq_status seq_set_error(seq_status s, const char *fmt, ...);
/* 1 when every x[i] is finite: the guard of every entry point that takes user floats. */
SEQDEF int seq_all_finite(const float *x, int64_t n);

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
/* SEQ_ERR_NUMERIC when a parameter is not finite: the average stays as it was. */
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

/* --- 13a half precision: IEEE binary16 (f16) and bfloat16 (bf16) as uint16_t bits ---
 * Narrowing rounds to nearest, ties to even; a value too large for the format becomes
 * +-Inf, subnormals are kept. A NaN stays a NaN in both directions, with its sign and
 * as much payload as fits, and the quiet bit set (as x86 F16C does). */
SEQDEF uint16_t seq_f32_to_f16(float x);
SEQDEF float seq_f16_to_f32(uint16_t h);
SEQDEF uint16_t seq_f32_to_bf16(float x);
SEQDEF float seq_bf16_to_f32(uint16_t h);

/* --- 13b safetensors ------------------------------------------------------------------
 * The format: an 8-byte little-endian length N, N bytes of UTF-8 JSON header
 *     {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 *      "__metadata__": {"key": "value", ...}}
 * padded with spaces, then the data buffer: every tensor's little-endian row-major bytes
 * at [begin, end) of it, packed back to back from 0 to the end of the file. Opening
 * validates all of it (size limits, strict JSON without duplicate keys, dtypes, shapes,
 * offsets); anything off is SEQ_ERR_FORMAT with a message naming the tensor or field. */
typedef enum seq_st_dtype { /* the format's dtype names */
    SEQ_ST_BOOL, SEQ_ST_U8, SEQ_ST_I8, SEQ_ST_F8_E5M2, SEQ_ST_F8_E4M3, SEQ_ST_I16, SEQ_ST_U16, SEQ_ST_F16,
    SEQ_ST_BF16, SEQ_ST_I32, SEQ_ST_U32, SEQ_ST_F32, SEQ_ST_F64, SEQ_ST_I64, SEQ_ST_U64,
    SEQ_ST_DTYPE_COUNT
} seq_st_dtype;

SEQDEF const char *seq_st_dtype_name(seq_st_dtype d); /* "F32", ...; "?" out of range */
SEQDEF size_t seq_st_dtype_size(seq_st_dtype d);      /* bytes per element; 0 out of range */

/* One tensor of an open file; the strings and shape live as long as the reader. */
typedef struct seq_st_info {
    const char *name;
    seq_st_dtype dtype;
    int ndim;             /* as stored, which may exceed SEQ_MAX_DIMS */
    const int64_t *shape; /* ndim sizes */
    int64_t numel;
    size_t offset, nbytes; /* its bytes within the data buffer */
} seq_st_info;

typedef struct seq_safetensors seq_safetensors;

/* Reads and validates the header; tensor data is read on demand, so the file stays open
 * until close. NULL on failure, with seq_last_error() saying why. alloc_ud goes to
 * SEQ_MALLOC (NULL: default). One reader must not be used from two threads at once. */
SEQDEF seq_safetensors *seq_safetensors_open(const char *path, void *alloc_ud);
/* The same over a buffer holding a whole file, which must outlive the reader. */
SEQDEF seq_safetensors *seq_safetensors_open_memory(const void *buf, size_t len, void *alloc_ud);
SEQDEF void seq_safetensors_close(seq_safetensors *st);
SEQDEF int64_t seq_safetensors_count(const seq_safetensors *st);
/* The i-th tensor in name order (strcmp), NULL when i is out of range. */
SEQDEF const seq_st_info *seq_safetensors_get(const seq_safetensors *st, int64_t i);
SEQDEF const seq_st_info *seq_safetensors_find(const seq_safetensors *st, const char *name);
/* Tensor `name` as f32 into dst, which holds exactly its numel floats (SEQ_ERR_SHAPE
 * otherwise). F16 and BF16 are widened; other dtypes are SEQ_ERR_UNSUPPORTED. */
SEQDEF seq_status seq_safetensors_read_f32(seq_safetensors *st, const char *name, float *dst, int64_t numel);
/* Value of a __metadata__ entry, NULL when absent. */
SEQDEF const char *seq_safetensors_meta(const seq_safetensors *st, const char *key);

/* A tensor to write: ndim 0..SEQ_MAX_DIMS, data holds the product of shape floats. */
typedef struct seq_st_tensor_desc {
    const char *name; /* UTF-8, unique, not "__metadata__" */
    int ndim;
    const int64_t *shape;
    const float *data;
} seq_st_tensor_desc;

/* Writes n tensors, converted to out_dtype (SEQ_ST_F32, SEQ_ST_F16 or SEQ_ST_BF16), and
 * n_meta metadata pairs meta_kv[2i] -> meta_kv[2i+1] (NULL when n_meta is 0); the header
 * is padded with spaces so the data starts 8-byte aligned. The file is written next to
 * path under a temporary name and renamed over it only when complete, so a failure
 * leaves any previous file as it was (rename replaces atomically on POSIX). */
SEQDEF seq_status seq_safetensors_write(const char *path, const seq_st_tensor_desc *tensors, int64_t n,
                                        const char *const *meta_kv, int64_t n_meta, seq_st_dtype out_dtype);

/* --- 13c replacing a file atomically -------------------------------------------------
 * Every writer of seq (safetensors, checkpoints, GGUF, RL saves) goes through these two
 * calls: the bytes go to a new sibling of path (created exclusively under a random
 * suffix, so two writers never share one), and commit renames it over path only when
 * every write succeeded, after flushing it to disk (fsync of the file and then of its
 * directory, where POSIX is visible: _POSIX_C_SOURCE >= 200112L, as in any default GNU
 * or C++ build). A crash or power cut at any point leaves the old file or the whole new
 * one, never a torn or empty one.
 *     seq_atomic_file a;
 *     if ((s = seq_atomic_open(&a, "my_save", path, NULL)) != SEQ_OK) return s;
 *     ok = fwrite(buf, 1, n, a.f) == n;
 *     return seq_atomic_commit(&a, "my_save", path, ok);
 * fn names the caller in error messages. */
typedef struct seq_atomic_file {
    FILE *f;   /* write here between open and commit */
    char *tmp; /* the sibling's name */
    void *alloc_ud;
} seq_atomic_file;
SEQDEF seq_status seq_atomic_open(seq_atomic_file *a, const char *fn, const char *path, void *alloc_ud);
/* ok = 0 (the caller saw a failure) or any stream error removes the sibling and returns
 * SEQ_ERR_IO with path as it was; otherwise path is replaced. Closes and frees always. */
SEQDEF seq_status seq_atomic_commit(seq_atomic_file *a, const char *fn, const char *path, int ok);

/* --- 13d parameters and checkpoints ---------------------------------------------------- */

/* Every parameter of P (allocated) under its registered name, as F32. */
SEQDEF seq_status seq_safetensors_save(const seq_params *P, const char *path);
/* Fills every parameter of P from the tensor of the same name (F32, F16 or BF16); tensors
 * P lacks are ignored. A missing parameter is SEQ_ERR_FORMAT, another shape SEQ_ERR_SHAPE,
 * more than SEQ_MAX_DIMS dimensions SEQ_ERR_UNSUPPORTED; on any error P is unchanged. */
SEQDEF seq_status seq_safetensors_load(seq_params *P, const char *path);
/* Parameters plus optimizer states: state i's buffer is the tensor "__optim__.<i>.<kind>",
 * its kind and step are the metadata "__optim__.<i>.kind" and "__optim__.<i>.step", and
 * "__optim__.count" is nstates. Kinds are at most 64 bytes. Loading wants the same
 * parameters (as seq_safetensors_load) and the same number of states with the same kinds
 * and sizes (SEQ_ERR_FORMAT otherwise); on any error P and every state are unchanged. */
SEQDEF seq_status seq_checkpoint_save(const char *path, const seq_params *P, const seq_optim_state *const *states,
                                      int nstates);
SEQDEF seq_status seq_checkpoint_load(const char *path, seq_params *P, seq_optim_state *const *states,
                                      int nstates);

/* ===================================================================================
 * 14 layers
 * =================================================================================== */

/* --- 14.1 resettable linear scan: h_t = a_t * h_{t-1} + b_t (elementwise) -------------
 * The recurrence under every diagonal linear layer (S4D, Mamba, LRU, minGRU, Mega EMA).
 * a, b: (B,T,C); h0: (B,C) or NULL (zeros) -> h: (B,T,C).
 * resets: B*T flags or NULL; resets[b*T+t] != 0 starts a new segment at t: the state
 *   carried into t is dropped (h_t = b_t), as S5's resettable scan does for concatenated
 *   episodes.
 * lengths: B valid lengths or NULL; row b stops at lengths[b]: h is 0 beyond it and
 *   nothing there reaches the gradients (padding).
 * Gradients flow to a, b and h0. Errors: shape mismatch, a length outside [0,T]. */
typedef struct seq_scan_opts {
    const uint8_t *resets;
    const int32_t *lengths;
} seq_scan_opts;
SEQDEF seq_tensor *seq_linear_scan(seq_ctx *ctx, seq_tensor *a, seq_tensor *b, seq_tensor *h0,
                                   const seq_scan_opts *opts);
/* Final state of each row: h[b, lengths[b]-1, :] (or the last step; zeros for an empty
 * row) -> (B,C). With lengths NULL every row ends at T-1. */
SEQDEF seq_tensor *seq_last_step(seq_ctx *ctx, seq_tensor *h, const int32_t *lengths);

/* --- 14.2 recurrent layers: Elman RNN, LSTM, GRU (PyTorch layout, batch_first) ---------
 * One engine, three cells, the weights named and shaped as nn.RNN / nn.LSTM / nn.GRU so
 * a state_dict saved as safetensors loads as is: "<prefix>.weight_ih_l<k>" (G*H, I_k),
 * "weight_hh_l<k>" (G*H, H), "bias_ih_l<k>", "bias_hh_l<k>" (G*H), "_reverse" for the
 * backward direction; G = 4 gates i,f,g,o (LSTM), 3 gates r,z,n (GRU, b_hn inside the
 * reset product), 1 (Elman, tanh or relu). Input projections of all steps are one GEMM;
 * the recurrence runs step by step (FlashRNN's split). */
#define SEQ_RNN_MAX_LAYERS 8

typedef enum seq_rnn_kind { SEQ_RNN_TANH, SEQ_RNN_RELU, SEQ_RNN_LSTM, SEQ_RNN_GRU, SEQ_RNN_KIND_COUNT } seq_rnn_kind;

/* Everything a recurrent forward takes and gives besides x and y (all optional). */
typedef struct seq_rnn_io {
    seq_tensor *h0, *c0;    /* in: (L*D,B,H) initial states, NULL = zeros; receive gradient.
                               c0 only for LSTM */
    const int32_t *lengths; /* in: B valid lengths (<= T) or NULL; y is 0 past a length */
    const uint8_t *resets;  /* in: B*T flags or NULL; a flag at t starts a new segment there:
                               the state carried in is dropped (zeros) */
    seq_tensor *hn, *cn;    /* out: (L*D,B,H) final states (after each row's last valid step;
                               the initial state for an empty row); usable in the loss. cn:
                               LSTM only */
} seq_rnn_io;

typedef struct seq_rnn_config {
    seq_rnn_kind kind;
    int64_t input_size, hidden_size;
    int num_layers;    /* 1..SEQ_RNN_MAX_LAYERS */
    int bidirectional; /* 0 or 1 */
    int bias;          /* 1: bias_ih and bias_hh, as PyTorch's default */
} seq_rnn_config;

typedef struct seq_rnn {
    seq_rnn_config cfg;
    void *alloc_ud; /* the params' allocator, for step states */
    /* index 2*layer + direction */
    seq_tensor *w_ih[2 * SEQ_RNN_MAX_LAYERS], *w_hh[2 * SEQ_RNN_MAX_LAYERS];
    seq_tensor *b_ih[2 * SEQ_RNN_MAX_LAYERS], *b_hh[2 * SEQ_RNN_MAX_LAYERS];
} seq_rnn;
typedef seq_rnn seq_lstm;
typedef seq_rnn seq_gru;

/* One layer, unidirectional, with biases. */
SEQDEF seq_rnn_config seq_rnn_config_default(seq_rnn_kind kind, int64_t input_size, int64_t hidden_size);
SEQDEF seq_rnn_config seq_lstm_config_default(int64_t input_size, int64_t hidden_size);
SEQDEF seq_rnn_config seq_gru_config_default(int64_t input_size, int64_t hidden_size);
/* Registers the weights in P, initialized U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does. */
SEQDEF seq_status seq_rnn_init(seq_rnn *l, seq_params *P, const char *prefix, seq_rnn_config cfg);
/* x (B,T,I) -> y (B,T,D*H), D = 2 when bidirectional; io may be NULL. */
SEQDEF seq_tensor *seq_rnn_forward(seq_ctx *ctx, const seq_rnn *l, seq_tensor *x, seq_rnn_io *io);

/* Streaming: caller-owned state, no ctx, no allocation per step (unidirectional only). */
typedef struct seq_rnn_state {
    int64_t batch;
    float *h, *c;  /* (L,B,H); c only for LSTM */
    float *work;   /* (B,G*H): pre-activations of one layer */
    void *alloc_ud;
} seq_rnn_state;
SEQDEF seq_status seq_rnn_state_init(const seq_rnn *l, seq_rnn_state *st, int64_t batch);
SEQDEF void seq_rnn_state_reset(seq_rnn_state *st); /* back to zeros (a new sequence) */
SEQDEF void seq_rnn_state_free(seq_rnn_state *st);
/* x_t (B,I) -> y_t (B,H) (the last layer's h), advancing the state by one step. */
SEQDEF seq_status seq_rnn_step(const seq_rnn *l, seq_rnn_state *st, const float *x_t, float *y_t);

/* --- 14.3 xLSTM (sLSTM, mLSTM) and minGRU / minLSTM ------------------------------- */

/* Beck et al. 2024 "xLSTM" (sLSTM, mLSTM), Beck et al. 2025 "xLSTM 7B" (the mLSTM layer
 * and its gate soft-capping), Feng et al. 2024 "Were RNNs All We Needed?" (minGRU,
 * minLSTM). Every layer takes the seq_rnn_io of 14.2: lengths, resets (a flag drops the
 * carried state to zeros), initial states that receive gradient and final states usable
 * in the loss; each layer says below what io->h0 and io->c0 hold. The exponential gates
 * carry a stabilizer m: the stored states are the true ones times e^-m, which keeps
 * every exponent <= 0 (docs/xlstm.md derives the forms and their backward). */

/* sLSTM: one layer, x (B,T,I) -> h (B,T,H), H = NH*DH in NH heads. Per unit, with
 * pre-activations i~,f~,z~,o~ = W x_t + R h_{t-1} + b (R block-diagonal: head k sees only
 * its own DH units of h_{t-1}):
 *     log f = logsigmoid(f~) (or f~ with exp_forget),   m_t = max(log f + m_{t-1}, i~)
 *     i' = e^(i~ - m_t),  f' = e^(log f + m_{t-1} - m_t)
 *     c_t = f' c_{t-1} + i' tanh(z~),  n_t = f' n_{t-1} + i',  h_t = sigmoid(o~) c_t / n_t.
 * A unit whose n_{t-1} is 0 holds no history (the zero state): there m_t = i~ and f' = 0.
 * Parameters, named as the official xLSTM sLSTM cell's (external layouts) where it has them:
 *     "<prefix>.weight_ih" (NH*4*DH, I)   rows head by head, gates i,f,z,o inside a head
 *     "<prefix>.recurrent_kernel" (NH, DH, 4, DH)  [k, d, g, j]: h[k*DH+d] -> gate g unit j
 *     "<prefix>.bias" (NH, 4, DH)
 * all initialized U(-1/sqrt(H), 1/sqrt(H)) (the official "standard" init). States: io->h0
 * and io->hn are (4,B,H) holding h, c, n, m in that order (the official cell's state
 * layout); io->c0 must be NULL and io->cn stays NULL. */
typedef struct seq_slstm_config {
    int64_t input_size, hidden_size, num_heads; /* hidden_size divisible by num_heads */
    int exp_forget;                             /* 0: sigmoid forget gate (default), 1: exp */
} seq_slstm_config;

typedef struct seq_slstm {
    seq_slstm_config cfg;
    void *alloc_ud;
    seq_tensor *weight_ih, *recurrent_kernel, *bias;
} seq_slstm;

SEQDEF seq_slstm_config seq_slstm_config_default(int64_t input_size, int64_t hidden_size, int64_t num_heads);
SEQDEF seq_status seq_slstm_init(seq_slstm *l, seq_params *P, const char *prefix, seq_slstm_config cfg);
/* x (B,T,I) -> h (B,T,H); io may be NULL. */
SEQDEF seq_tensor *seq_slstm_forward(seq_ctx *ctx, const seq_slstm *l, seq_tensor *x, seq_rnn_io *io);

typedef struct seq_slstm_state {
    int64_t batch;
    float *h, *c, *n, *m; /* (B,H) each */
    float *work;
    void *alloc_ud;
} seq_slstm_state;
SEQDEF seq_status seq_slstm_state_init(const seq_slstm *l, seq_slstm_state *st, int64_t batch);
SEQDEF void seq_slstm_state_reset(seq_slstm_state *st);
SEQDEF void seq_slstm_state_free(seq_slstm_state *st);
/* x_t (B,I) -> y_t (B,H). */
SEQDEF seq_status seq_slstm_step(const seq_slstm *l, seq_slstm_state *st, const float *x_t, float *y_t);

/* mLSTM layer of xLSTM 7B: x (B,T,C) -> y (B,T,C), NH heads of key size DK, value size DV.
 *     q, k (B,T,NH,DK), v, o~ (B,T,NH,DV) = linear maps of x;  i~, f~ (B,T,NH) likewise,
 *     soft-capped: cap * tanh(x / cap) (cap = gate_soft_cap; 0 leaves them as they are);
 *     log f = logsigmoid(f~) (or f~ with exp_forget),  m_t = max(log f + m_{t-1}, i~),
 *     C_t = f' C_{t-1} + i' k_t v_t^T,  n_t = f' n_{t-1} + i' k_t   (f', i' as in the sLSTM),
 *     h_t = C_t^T q_t / (max(|n_t . q_t|, e^-m_t) + eps),  q scaled by 1/sqrt(DK),
 *     y = out_proj(sigmoid(o~) * multihead_norm(h))   (a layer norm per head, then weight).
 * Three forms compute the same h: RECURRENT (step by step), PARALLEL (the quadratic form
 * with the stabilized decay matrix D) and CHUNKWISE (parallel inside chunks of chunk_size,
 * recurrent between them; PARALLEL is one chunk). All take m as the recurrence defines it
 * (the carried state's term included), so they agree up to rounding, eps and all. The
 * backward is the chunkwise one whatever the forward form.
 * Parameters, named and shaped as xLSTM 7B's mLSTMLayer ("single" weight mode), so its
 * state_dict loads as is: "<prefix>.q.weight" (NH*DK, C), "k.weight" (NH*DK, C),
 * "v.weight" (NH*DV, C), "ogate_preact.weight" (NH*DV, C), "igate_preact.weight" (NH, C)
 * and ".bias" (NH), "fgate_preact.weight" (NH, C) and ".bias" (NH), "multihead_norm.weight"
 * (NH*DV), "out_proj.weight" (C, NH*DV), and with bias = 1 also "q.bias", "k.bias",
 * "v.bias", "ogate_preact.bias", "multihead_norm.bias", "out_proj.bias". Init: linear
 * weights U(-1/sqrt(in), 1/sqrt(in)) as nn.Linear, igate bias -10 (as xLSTM 7B), fgate
 * bias U(3,6) (a forget gate near 1), norm weight 1, other biases 0.
 * States: io->h0 / io->hn the matrix memory C (B,NH,DK,DV); io->c0 / io->cn (B,NH,DK+1):
 * the normalizer n in the first DK entries of each head, the stabilizer m in the last. */
typedef enum seq_mlstm_form {
    SEQ_MLSTM_CHUNKWISE,
    SEQ_MLSTM_PARALLEL,
    SEQ_MLSTM_RECURRENT,
    SEQ_MLSTM_FORM_COUNT
} seq_mlstm_form;

typedef struct seq_mlstm_config {
    int64_t embedding_dim, num_heads, qk_head_dim, v_head_dim; /* C, NH, DK, DV */
    float gate_soft_cap; /* 15 (xLSTM 7B); 0 = no capping */
    int exp_forget;      /* 0: sigmoid forget gate (default), 1: exp */
    int bias;            /* 0 (xLSTM 7B): no biases but the gates' */
    float eps;           /* 1e-6: in the denominator of h */
    float norm_eps;      /* 1e-6: of the per-head layer norm */
    seq_mlstm_form form; /* may be changed between forward calls */
    int64_t chunk_size;  /* 64; may be changed between forward calls */
} seq_mlstm_config;

typedef struct seq_mlstm {
    seq_mlstm_config cfg;
    void *alloc_ud;
    seq_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b; /* biases NULL unless cfg.bias */
    seq_tensor *i_w, *i_b, *f_w, *f_b;
    seq_tensor *norm_w, *norm_b, *out_w, *out_b;
} seq_mlstm;

/* xLSTM 7B's shapes: DK = C/(2 NH), DV = C/NH (at least 1 each), cap 15, chunkwise form. */
SEQDEF seq_mlstm_config seq_mlstm_config_default(int64_t embedding_dim, int64_t num_heads);
SEQDEF seq_status seq_mlstm_init(seq_mlstm *l, seq_params *P, const char *prefix, seq_mlstm_config cfg);
/* x (B,T,C) -> y (B,T,C); io may be NULL. */
SEQDEF seq_tensor *seq_mlstm_forward(seq_ctx *ctx, const seq_mlstm *l, seq_tensor *x, seq_rnn_io *io);

typedef struct seq_mlstm_state {
    int64_t batch;
    float *C, *n, *m; /* (B,NH,DK,DV), (B,NH,DK), (B,NH) */
    float *work;
    void *alloc_ud;
} seq_mlstm_state;
SEQDEF seq_status seq_mlstm_state_init(const seq_mlstm *l, seq_mlstm_state *st, int64_t batch);
SEQDEF void seq_mlstm_state_reset(seq_mlstm_state *st);
SEQDEF void seq_mlstm_state_free(seq_mlstm_state *st);
/* x_t (B,C) -> y_t (B,C): the recurrent form. */
SEQDEF seq_status seq_mlstm_step(const seq_mlstm *l, seq_mlstm_state *st, const float *x_t, float *y_t);

/* minGRU and minLSTM: one engine, x (B,T,I) -> h (B,T,H), h_t = a_t h_{t-1} + b_t with
 *     minGRU:  z = sigmoid(linear_z(x)),  a = 1 - z,  b = z g(linear_h(x))
 *     minLSTM: f, i = sigmoid(linear_f(x)), sigmoid(linear_i(x)),  a = f / (f + i),
 *              b = i / (f + i) g(linear_h(x))
 * and g(x) = x + 1/2 for x >= 0, sigmoid(x) below: the paper's positive activation, which
 * the log-space form needs and the sequential one shares so the two agree. log_space = 0
 * runs seq_linear_scan; 1 runs Heinsen's log-space scan, h = exp(a* + logcumsumexp(log b -
 * a*)), a* = cumsum(log a) (in double), from the same log a and log b; both have the
 * linear scan's backward. Parameters "<prefix>.linear_z" (GRU) or "linear_f" and
 * "linear_i" (LSTM), and "linear_h": ".weight" (H, I), ".bias" (H), initialized as
 * nn.Linear. States: io->h0 and io->hn (B,H); io->c0 must be NULL. */
typedef enum seq_minrnn_kind { SEQ_MINRNN_GRU, SEQ_MINRNN_LSTM, SEQ_MINRNN_KIND_COUNT } seq_minrnn_kind;

typedef struct seq_minrnn_config {
    seq_minrnn_kind kind;
    int64_t input_size, hidden_size;
    int log_space; /* 0: sequential scan (default), 1: log-space scan; may change between calls */
} seq_minrnn_config;

typedef struct seq_minrnn {
    seq_minrnn_config cfg;
    void *alloc_ud;
    seq_tensor *gate_w[2], *gate_b[2]; /* z (GRU) or f, i (LSTM) */
    seq_tensor *h_w, *h_b;             /* the candidate h~ */
} seq_minrnn;
typedef seq_minrnn seq_mingru;
typedef seq_minrnn seq_minlstm;

SEQDEF seq_minrnn_config seq_mingru_config_default(int64_t input_size, int64_t hidden_size);
SEQDEF seq_minrnn_config seq_minlstm_config_default(int64_t input_size, int64_t hidden_size);
SEQDEF seq_status seq_minrnn_init(seq_minrnn *l, seq_params *P, const char *prefix, seq_minrnn_config cfg);
/* x (B,T,I) -> h (B,T,H); io may be NULL. */
SEQDEF seq_tensor *seq_minrnn_forward(seq_ctx *ctx, const seq_minrnn *l, seq_tensor *x, seq_rnn_io *io);

typedef struct seq_minrnn_state {
    int64_t batch;
    float *h; /* (B,H) */
    float *work;
    void *alloc_ud;
} seq_minrnn_state;
SEQDEF seq_status seq_minrnn_state_init(const seq_minrnn *l, seq_minrnn_state *st, int64_t batch);
SEQDEF void seq_minrnn_state_reset(seq_minrnn_state *st);
SEQDEF void seq_minrnn_state_free(seq_minrnn_state *st);
/* x_t (B,I) -> y_t (B,H). */
SEQDEF seq_status seq_minrnn_step(const seq_minrnn *l, seq_minrnn_state *st, const float *x_t, float *y_t);

/* --- 14.4 linear attention, DeltaNet, gated DeltaNet, DeltaProduct ---------------- */

/* Matrix-memory layers. Every head keeps a state S (DK,DV) that a query reads,
 *     o_t = scale * S_t^T q_t,
 * and that each token writes, with a_t = exp(g_t) a decay (1 without a gate):
 *     linear attention   S_t = a_t S_{t-1} + k_t v_t^T                  (Katharopoulos et al. 2020)
 *     delta rule         S_t = a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T
 * DeltaNet (Schlag et al. 2021, Yang et al. 2024) is the delta rule with a = 1, gated
 * DeltaNet (Yang et al. 2025) adds the decay, DeltaProduct (Siems et al. 2025) takes n
 * delta steps per token (each with its own k, v, b; the decay before the first, the
 * query after the last). S is (DK,DV) as fla's recurrent state (the papers write its
 * transpose).
 * One fused node runs all of them, either step by step or chunkwise in parallel (the
 * WY/UT form of Yang et al. 2024, derived in docs/delta_rule.md); both give the same
 * outputs and gradients. The layers around it are section 8 ops with the parameter names
 * and shapes of flash-linear-attention (fla), so its state_dicts load. */

typedef struct seq_delta_opts {
    int delta;           /* 1: delta rule; 0: linear attention (S += k v^T, beta must be NULL) */
    int64_t householder; /* n >= 1 steps per token (DeltaProduct); 1 for the others */
    int64_t chunk;       /* tokens per chunk, >= 1: the parallel form's block, and how often
                            the step-by-step form keeps a state for its backward */
    int recurrent;       /* 0: chunkwise parallel; 1: step by step */
    float scale;         /* multiplies q; 0 means 1/sqrt(DK) */
} seq_delta_opts;
/* delta rule, n = 1, chunks of 64, parallel form, scale 1/sqrt(DK) */
SEQDEF seq_delta_opts seq_delta_opts_default(void);

/* The recurrence core, n = opts->householder:
 * q (B,T,H,DK), k (B,T*n,H,DK), v (B,T*n,H,DV), beta (B,T*n,H) or NULL (all 1),
 * g (B,T,H) log decays or NULL (no decay) -> o (B,T,H,DV).
 * Step s of token t is row t*n+s of k, v and beta (fla's "(t n)" layout). io (optional):
 * h0 (B,H,DK,DV) or NULL (zeros) receives gradient; hn (B,H,DK,DV) comes out; lengths and
 * resets as in seq_rnn_io (a reset drops S before the token's first step); c0 must be
 * NULL. Gradients reach q, k, v, beta, g and h0. The parallel form multiplies by
 * exp(g_t + ... + g_s) within a chunk, so it wants g <= 0 (a decay), as every layer here
 * gives it. Errors: shapes (SEQ_ERR_SHAPE), options (SEQ_ERR_INVALID), lengths
 * (SEQ_ERR_RANGE), a non-finite input (SEQ_ERR_NUMERIC). */
SEQDEF seq_tensor *seq_delta_rule(seq_ctx *ctx, seq_tensor *q, seq_tensor *k, seq_tensor *v, seq_tensor *beta,
                                  seq_tensor *g, const seq_delta_opts *opts, seq_rnn_io *io);

/* Streaming state of a 14.4 layer: caller-owned, one allocation at init, none per step. */
typedef struct seq_delta_state {
    int64_t batch;
    float *S;       /* (B,H,DK,DV) the matrix memories (see each layer) */
    float *conv;    /* DeltaNet: (B,K,Cin) the last K projected q|k|v inputs (K = 1 without the
                       short convolution); NULL for linear attention */
    float *work;    /* per-step scratch */
    int64_t nstate; /* floats from S on that a reset zeroes (S, then conv) */
    void *alloc_ud;
} seq_delta_state;

/* DeltaNet, gated DeltaNet and DeltaProduct, one block (fla's DeltaNet, GatedDeltaNet and
 * GatedDeltaProduct layers, which differ only in which parts are on), x (B,T,C) -> (B,T,C):
 *     q, k, v = silu(conv(x Wq^T)), ... per head (conv: the optional short convolution,
 *               depthwise and causal, restarting where io->resets starts a segment)
 *     q, k    = q / sqrt(|q|^2 + 1e-6), k likewise (fla's l2norm)
 *     b       = sigmoid(x Wb^T), times 2 with allow_neg_eigval
 *     g       = -exp(A_log) softplus(x Wa^T + dt_bias) with the forget gate, else none
 *     o       = seq_delta_rule(q, k, v, b, g) over n = num_householder steps per token
 *     y       = (RMSNorm(o) per head, times silu(x Wg^T) with the output gate) Wo^T
 * Parameters under "<prefix>.": q_proj.weight (H*DK,C), k_proj.weight (n*H*DK,C),
 * v_proj.weight (n*H*DV,C), b_proj.weight (n*H,C), a_proj.weight (H,C), A_log (H),
 * dt_bias (H), q_conv1d.weight (H*DK,1,K), k_conv1d.weight (n*H*DK,1,K), v_conv1d.weight
 * (n*H*DV,1,K), g_proj.weight (H*DV,C), o_norm.weight (DV), o_proj.weight (C,H*DV).
 * io: h0 / hn the memory (B,H,DK,DV); c0 must be NULL. */
typedef struct seq_deltanet_config {
    int64_t hidden_size, num_heads, head_k_dim, head_v_dim;
    int64_t num_householder; /* n steps per token: 1 (gated) DeltaNet, >= 2 DeltaProduct */
    int use_forget_gate;     /* the decay exp(g_t) of gated DeltaNet */
    int allow_neg_eigval;    /* b in (0,2): I - b k k^T may reflect, which state tracking needs
                                (Grazzi et al. 2025) */
    int use_short_conv;      /* the causal depthwise convolution + SiLU on q, k, v */
    int64_t conv_size;       /* its kernel size K >= 1 */
    int use_output_gate;     /* RMSNorm(o) * silu(x Wg^T) instead of RMSNorm(o) */
    float norm_eps;          /* the output RMSNorm's eps */
    int64_t chunk_size;      /* seq_delta_opts.chunk */
    int recurrent;           /* seq_delta_opts.recurrent */
} seq_deltanet_config;

typedef struct seq_deltanet {
    seq_deltanet_config cfg;
    void *alloc_ud; /* the params' allocator, for step states */
    seq_tensor *q_proj, *k_proj, *v_proj, *b_proj, *o_norm, *o_proj;
    seq_tensor *a_proj, *A_log, *dt_bias; /* forget gate only */
    seq_tensor *q_conv, *k_conv, *v_conv; /* short convolution only */
    seq_tensor *g_proj;                   /* output gate only */
} seq_deltanet;

/* fla's defaults. DeltaNet: head dims C/H, n 1, short convolution of 4, no gates, eps
 * 1e-5, chunks of 64. Gated DeltaNet: also the forget and output gates, DV = 2 DK.
 * DeltaProduct: gated DeltaNet with n steps per token and allow_neg_eigval. */
SEQDEF seq_deltanet_config seq_deltanet_config_default(int64_t hidden_size, int64_t num_heads);
SEQDEF seq_deltanet_config seq_gated_deltanet_config_default(int64_t hidden_size, int64_t num_heads);
SEQDEF seq_deltanet_config seq_deltaproduct_config_default(int64_t hidden_size, int64_t num_heads,
                                                           int64_t num_householder);
/* Registers the weights in P: projections and convolutions U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * as PyTorch's Linear and Conv1d, o_norm 1, A_log U(0, log 16) (fla: log U(0,16)), dt_bias
 * U(-6.907, -2.252), the inverse softplus of 0.001 and 0.1 (fla: of dt log-uniform there). */
SEQDEF seq_status seq_deltanet_init(seq_deltanet *l, seq_params *P, const char *prefix, seq_deltanet_config cfg);
/* x (B,T,C) -> y (B,T,C); io may be NULL. */
SEQDEF seq_tensor *seq_deltanet_forward(seq_ctx *ctx, const seq_deltanet *l, seq_tensor *x, seq_rnn_io *io);

typedef seq_delta_state seq_deltanet_state;
SEQDEF seq_status seq_deltanet_state_init(const seq_deltanet *l, seq_deltanet_state *st, int64_t batch);
SEQDEF void seq_deltanet_state_reset(seq_deltanet_state *st); /* back to zeros (a new sequence) */
SEQDEF void seq_deltanet_state_free(seq_deltanet_state *st);
/* x_t (B,C) -> y_t (B,C), advancing the state by one token. */
SEQDEF seq_status seq_deltanet_step(const seq_deltanet *l, seq_deltanet_state *st, const float *x_t, float *y_t);

/* Linear attention (Katharopoulos et al. 2020; fla's LinearAttention and ReBased layers),
 * x (B,T,C) -> (B,T,C):
 *     q, k = phi(x Wq^T), phi(x Wk^T) per head, v = x Wv^T
 *     o    = seq_delta_rule(q, k, v) without the delta rule (S_t = S_{t-1} + k_t v_t^T),
 *            divided by scale q.(k_1 + ... + k_t) + eps with normalize
 *     y    = (o, or RMSNorm(o) per head with output_norm) Wo^T
 * The feature map phi of a head vector x (DK) has F features:
 *     IDENTITY  x                                          F = DK
 *     ELU1      elu(x) + 1 (positive)                      F = DK
 *     REBASED   z z^T flattened, z = LayerNorm(x) gamma + beta    F = DK^2
 * ReBased's (Aksenov et al. 2024) learnable quadratic: phi(q).phi(k) = (z_q.z_k)^2, with
 * gamma and beta (DK) shared by q and k. The core's scale is 1/sqrt(F).
 * Parameters under "<prefix>.": q_proj.weight (H*DK,C), k_proj.weight (H*DK,C),
 * v_proj.weight (H*DV,C), feature_map.gamma (DK) and feature_map.beta (DK) for REBASED,
 * norm.weight (DV) with output_norm, o_proj.weight (C,H*DV).
 * io: h0 / hn the memory (B,H,F,DV); with normalize c0 / cn the key sum (B,H,F). */
typedef enum seq_feature_map {
    SEQ_FEATURE_MAP_IDENTITY,
    SEQ_FEATURE_MAP_ELU1,
    SEQ_FEATURE_MAP_REBASED,
    SEQ_FEATURE_MAP_COUNT
} seq_feature_map;

typedef struct seq_linear_attn_config {
    int64_t hidden_size, num_heads, head_k_dim, head_v_dim;
    seq_feature_map feature_map;
    int normalize;     /* divide by the query's dot with the running key sum */
    int output_norm;   /* RMSNorm per head before o_proj */
    float eps;         /* of the normalizer, REBASED's LayerNorm and the output RMSNorm */
    int64_t chunk_size; /* seq_delta_opts.chunk */
    int recurrent;      /* seq_delta_opts.recurrent */
} seq_linear_attn_config;

typedef struct seq_linear_attn {
    seq_linear_attn_config cfg;
    void *alloc_ud;
    seq_tensor *q_proj, *k_proj, *v_proj, *o_proj;
    seq_tensor *fm_gamma, *fm_beta; /* REBASED only */
    seq_tensor *norm;               /* output_norm only */
} seq_linear_attn;

/* Katharopoulos et al.: ELU1, normalized, no output norm; head dims C/H; eps 1e-5;
 * chunks of 64. ReBased: REBASED with DK = 16 (its feature_dim), normalized. */
SEQDEF seq_linear_attn_config seq_linear_attn_config_default(int64_t hidden_size, int64_t num_heads);
SEQDEF seq_linear_attn_config seq_rebased_config_default(int64_t hidden_size, int64_t num_heads);
/* Projections U(-1/sqrt(C), 1/sqrt(C)) as PyTorch's Linear; gamma 1, beta 0, norm 1. */
SEQDEF seq_status seq_linear_attn_init(seq_linear_attn *l, seq_params *P, const char *prefix,
                                       seq_linear_attn_config cfg);
/* x (B,T,C) -> y (B,T,C); io may be NULL. */
SEQDEF seq_tensor *seq_linear_attn_forward(seq_ctx *ctx, const seq_linear_attn *l, seq_tensor *x, seq_rnn_io *io);

/* The state's S is (B,H,F,DV), or (B,H,F,DV+1) with normalize: the last column the key sum. */
typedef seq_delta_state seq_linear_attn_state;
SEQDEF seq_status seq_linear_attn_state_init(const seq_linear_attn *l, seq_linear_attn_state *st, int64_t batch);
SEQDEF void seq_linear_attn_state_reset(seq_linear_attn_state *st);
SEQDEF void seq_linear_attn_state_free(seq_linear_attn_state *st);
SEQDEF seq_status seq_linear_attn_step(const seq_linear_attn *l, seq_linear_attn_state *st, const float *x_t,
                                       float *y_t);

/* --- 14.5 S4D, LSSL / S4 (HiPPO-LegS), H3 ----------------------------------------- */

/* Structured state-space layers. Each channel runs a linear time-invariant system
 *     s_t = Abar s_{t-1} + Bbar x_t,     y_t = C s_t + D x_t,
 * the discretization of a continuous (A, B) at a learned step dt = exp(log_dt[h]), in one
 * of two forms that give the same y and the same gradients (to float rounding):
 *   SEQ_S4_MODE_CONV       y = K * x + D x with K_l = C Abar^l Bbar (l < T): one causal
 *                          convolution per channel by FFT, parallel over time (training);
 *   SEQ_S4_MODE_RECURRENT  the recurrence, step by step (what the step API runs).
 * io (seq_rnn_io, see 14.2) works in both forms: y is 0 past a row's length and io->hn is
 * the state after its last valid step; the convolution form reads it off the kernel,
 * hn = sum_j Abar^j Bbar x_{len-1-j}. The convolution form starts every row from a zero
 * state, so an initial state (io->h0) or segment resets (io->resets) make the forward run
 * the recurrent form whatever the mode.
 * A step state holds the weights discretized when it was made (seq_*_state_init): make
 * a new state after the weights change. */
typedef enum seq_s4_mode { SEQ_S4_MODE_CONV, SEQ_S4_MODE_RECURRENT, SEQ_S4_MODE_COUNT } seq_s4_mode;

/* Streaming state of S4D and LSSL (and of H3's diagonal SSM). */
typedef struct seq_s4_state {
    int64_t batch;
    float *s;         /* the state, laid out as io->hn */
    float *weights;   /* Abar, Bbar, C, D as discretized at state_init */
    int64_t kernels, channels, n; /* systems, channels (a multiple of kernels), state floats */
    int dense;        /* 1: LSSL's triangular Abar; 0: S4D's complex diagonal */
    void *alloc_ud;
} seq_s4_state;

/* --- S4D and LSSL: one layer, seq_s4, of two kinds (as 14.2's one engine for the RNNs):
 * the forms, lengths, resets, BPTT and the step API are written once.
 *
 * SEQ_S4_S4D (Gu, Gupta, Goel, Re 2022, "On the Parameterization and Initialization of
 * Diagonal State Space Models"): N/2 complex states per channel, diagonal
 * A = -exp(log_A_real) + i A_imag, zero-order hold Abar = exp(dt A),
 * Bbar = (exp(dt A) - 1) / A, y_t = 2 Re(sum_n C_n s_t,n) + D x_t (the conjugate half of
 * the N states is implied). B is 1: a learned B would only rescale C. seq_s4 is the SSM
 * of s4d.py's S4D module (kernel, FFT convolution, D skip); the GELU and the output
 * projection it applies next are ops for the caller. The weights are that module's, so
 * its state_dict loads (the keys seq_s4 lacks are skipped):
 *     "<prefix>.kernel.log_dt"      (H)        U(log dt_min, log dt_max)
 *     "<prefix>.kernel.C"           (H,N/2,2)  complex as (re, im), each N(0, 1/2)
 *     "<prefix>.kernel.log_A_real"  (H,N/2)    log 0.5
 *     "<prefix>.kernel.A_imag"      (H,N/2)    S4D-Lin: pi n;  S4D-Inv: N/pi (N/(2n+1) - 1)
 *     "<prefix>.D"                  (H)        N(0,1)
 * State (io->h0, io->hn, the step state): (B,H,N/2,2), complex as (re, im).
 *
 * SEQ_S4_LSSL (Gu, Johnson, Goel, Saab, Dao, Rudra, Re 2021, "Combining Recurrent,
 * Convolutional, and Continuous-time Models with Linear State-Space Layers"), the dense
 * model S4 grew from: A is the HiPPO-LegS matrix, fixed and shared by every channel,
 *     A_nk = -sqrt(2n+1) sqrt(2k+1) (n > k),  -(n+1) (n = k),  0 (n < k);  B_n = sqrt(2n+1),
 * discretized per channel by the bilinear rule
 *     Abar = (I - dt/2 A)^-1 (I + dt/2 A),   Bbar = (I - dt/2 A)^-1 dt B
 * (lower triangular, as A), y_t = C s_t + D x_t; the convolution kernel comes from powers
 * of Abar. A step costs O(N^2) per channel: keep N small (<= 64).
 *     "<prefix>.log_dt" (H) U(log dt_min, log dt_max);  "<prefix>.C" (H,N) N(0,1);
 *     "<prefix>.D" (H) N(0,1).
 * State: (B,H,N).
 *
 * Both: dt and A take no weight decay (their decay multiplier is 0, as s4d.py registers
 * them). */
typedef enum seq_s4_kind { SEQ_S4_S4D, SEQ_S4_LSSL, SEQ_S4_KIND_COUNT } seq_s4_kind;
typedef enum seq_s4d_init_kind { SEQ_S4D_LIN, SEQ_S4D_INV, SEQ_S4D_INIT_COUNT } seq_s4d_init_kind;

typedef struct seq_s4_config {
    seq_s4_kind kind;
    int64_t d_model;        /* H channels */
    int64_t d_state;        /* N: S4D's is even (N/2 complex states) */
    seq_s4d_init_kind init; /* S4D's A_imag: SEQ_S4D_LIN */
    float dt_min, dt_max;   /* 1e-3, 1e-1 */
    seq_s4_mode mode;       /* SEQ_S4_MODE_CONV */
} seq_s4_config;

typedef struct seq_s4 {
    seq_s4_config cfg;
    void *alloc_ud; /* the params' allocator, for step states */
    seq_tensor *log_dt, *C, *D;
    seq_tensor *log_A_real, *A_imag; /* S4D only */
} seq_s4;
typedef seq_s4 seq_s4d;
typedef seq_s4 seq_lssl;

SEQDEF seq_s4_config seq_s4_config_default(seq_s4_kind kind, int64_t d_model, int64_t d_state);
SEQDEF seq_s4_config seq_s4d_config_default(int64_t d_model, int64_t d_state);
SEQDEF seq_s4_config seq_lssl_config_default(int64_t d_model, int64_t d_state);
SEQDEF seq_status seq_s4_init(seq_s4 *l, seq_params *P, const char *prefix, seq_s4_config cfg);
/* S4D: writes A_imag's S4D-Lin or S4D-Inv values, one per state, which no seq_init can
 * express: call it once after seq_params_alloc (until then A_imag is 0). LSSL: nothing
 * to write. */
SEQDEF seq_status seq_s4_init_A(const seq_s4 *l);
/* x (B,T,H) -> y (B,T,H); io may be NULL (io->c0 must be NULL: one state). */
SEQDEF seq_tensor *seq_s4_forward(seq_ctx *ctx, const seq_s4 *l, seq_tensor *x, seq_rnn_io *io);
SEQDEF seq_status seq_s4_state_init(const seq_s4 *l, seq_s4_state *st, int64_t batch);
SEQDEF void seq_s4_state_reset(seq_s4_state *st); /* back to zeros (a new sequence) */
SEQDEF void seq_s4_state_free(seq_s4_state *st);
/* x_t (B,H) -> y_t (B,H), advancing the state by one step. */
SEQDEF seq_status seq_s4_step(const seq_s4 *l, seq_s4_state *st, const float *x_t, float *y_t);

/* --- H3 (Fu, Dao, Saab, Thomas, Rudra, Re 2023, "Hungry Hungry Hippos"), as the
 * reference h3.py, with H = d_model / d heads of size d (head_dim):
 *     q, k, v = u W^T + b                                  three projections, (B,T,d_model)
 *     k'_t = sum_{i<N} S[c,i] k_{t-i} + ssm_k_D[c] k_t      shift SSM: A the shift matrix,
 *                                                          B = e_1, so a causal convolution
 *                                                          with a learned kernel of length N
 *     kv[h,i,j] = k'[h*d+i] v[h*d+j]                        (B,T,H*d*d)
 *     s = S4D(kv), head h's system on its d*d channels      (B,T,H*d*d)
 *     y[j*H+h] = sum_i q[h*d+i] s[h,i,j]                    multiplicative gate, (B,T,d_model)
 *     out = y W_o^T + b_o
 * Weights: "<prefix>.q_proj.weight" (d_model,d_model) and ".bias" (d_model), the same for
 * k_proj, v_proj and output_linear (U(-1/sqrt(d_model), 1/sqrt(d_model)) as nn.Linear);
 * "<prefix>.ssm_k_kernel.kernel.C" (1,d_model,N) the shift taps S (U(-1/sqrt(N), 1/sqrt(N)));
 * "<prefix>.ssm_k_D" (d_model) N(0,1); the diagonal SSM as an S4D seq_s4 over H channels
 * under the same prefix: "<prefix>.kernel.*" and "<prefix>.D" (H). The SSMs are the
 * paper's: B = e_1 fixed in the shift SSM and zero-order hold in the diagonal one, where
 * h3.py also learns the shift B and discretizes bilinearly with a learned B: the names
 * and shapes match, but a trained h3.py checkpoint computes another function.
 * States: io->h0/hn the diagonal SSM's (B,H*d*d,N/2,2), channel (h*d+i)*d+j; io->c0/cn
 * the shift register (B,d_model,N), entry n holding k_{t-n} after step t. */
typedef struct seq_h3_config {
    int64_t d_model;
    int64_t d_state;        /* N: shift kernel length and diagonal state size (even) */
    int64_t head_dim;       /* d (1); divides d_model */
    seq_s4d_init_kind init; /* of the diagonal SSM: SEQ_S4D_LIN */
    float dt_min, dt_max;   /* 1e-3, 1e-1 */
    seq_s4_mode mode;       /* of the diagonal SSM: SEQ_S4_MODE_CONV */
} seq_h3_config;

typedef struct seq_h3 {
    seq_h3_config cfg;
    void *alloc_ud;
    seq_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    seq_tensor *shift_C, *shift_D;
    seq_s4 ssm; /* the diagonal SSM (kind SEQ_S4_S4D) */
} seq_h3;

typedef struct seq_h3_state {
    int64_t batch;
    float *shift;     /* (B,d_model,N) the shift register, as io->cn */
    seq_s4_state ssm; /* the diagonal SSM, as io->hn */
    float *work;      /* q, k, v, kv, s and y of one step */
    void *alloc_ud;
} seq_h3_state;

SEQDEF seq_h3_config seq_h3_config_default(int64_t d_model, int64_t d_state);
SEQDEF seq_status seq_h3_init(seq_h3 *l, seq_params *P, const char *prefix, seq_h3_config cfg);
/* seq_s4_init_A for the diagonal SSM: once after seq_params_alloc. */
SEQDEF seq_status seq_h3_init_A(const seq_h3 *l);
/* u (B,T,d_model) -> (B,T,d_model); io may be NULL. */
SEQDEF seq_tensor *seq_h3_forward(seq_ctx *ctx, const seq_h3 *l, seq_tensor *u, seq_rnn_io *io);
SEQDEF seq_status seq_h3_state_init(const seq_h3 *l, seq_h3_state *st, int64_t batch);
SEQDEF void seq_h3_state_reset(seq_h3_state *st);
SEQDEF void seq_h3_state_free(seq_h3_state *st);
/* u_t (B,d_model) -> y_t (B,d_model). */
SEQDEF seq_status seq_h3_step(const seq_h3 *l, seq_h3_state *st, const float *u_t, float *y_t);

/* --- 14.6 Mamba and Mamba-2 (SSD) ------------------------------------------------- */

/* Selective scan (S6, the recurrence inside Mamba) as one fused node. Per channel d and
 * state n:
 *     h_t[d,n] = exp(delta_t[d] A[d,n]) h_{t-1}[d,n] + delta_t[d] u_t[d] Bm_t[n]
 *     y_t[d]   = sum_n Cm_t[n] h_t[d,n] + Dskip[d] u_t[d]
 * u, delta (B,T,D) (delta after its softplus); A (D,N); Bm, Cm (B,T,N); Dskip (D) or NULL
 * -> y (B,T,D). io (may be NULL) as for seq_rnn_forward: h0 (B,D,N) the initial state
 * (NULL: zeros), hn (B,D,N) the final state out, lengths, resets; c0 must be NULL.
 * Gradients flow to every float input and h0. The backward recomputes the states from a
 * checkpoint every few steps rather than keeping all B*T*D*N of them. */
SEQDEF seq_tensor *seq_selective_scan(seq_ctx *ctx, seq_tensor *u, seq_tensor *delta, seq_tensor *A,
                                      seq_tensor *Bm, seq_tensor *Cm, seq_tensor *Dskip, seq_rnn_io *io);

/* SSD (the scan of Mamba-2): the selective scan with one decay per head (A a scalar
 * times the identity), H heads of P channels sharing dt, A and Dskip, and Bm, Cm in G
 * groups (head h reads group h / (H/G)):
 *     h_t[h,p,n] = exp(dt_t[h] A[h]) h_{t-1}[h,p,n] + dt_t[h] x_t[h,p] Bm_t[g,n]
 *     y_t[h,p]   = sum_n Cm_t[g,n] h_t[h,p,n] + Dskip[h] x_t[h,p]
 * x (B,T,H,P), dt (B,T,H) (after its softplus), A (H), Bm, Cm (B,T,G,N), Dskip (H) or
 * NULL -> y (B,T,H,P); io as for seq_selective_scan with h0, hn (B,H,P,N).
 * chunk > 0 runs the chunked algorithm (Dao & Gu 2024): within each chunk of that many
 * steps a masked quadratic form, between chunks the state is passed on; chunk == 0 runs
 * the step-by-step recurrence. Both compute the same function. */
SEQDEF seq_tensor *seq_ssd_scan(seq_ctx *ctx, seq_tensor *x, seq_tensor *dt, seq_tensor *A, seq_tensor *Bm,
                                seq_tensor *Cm, seq_tensor *Dskip, int64_t chunk, seq_rnn_io *io);

/* Both blocks stream with this state: the convolution's window and the scan's state. */
typedef struct seq_mamba_state {
    int64_t batch;
    float *conv;  /* (B, conv channels, d_conv-1): the last inputs of the convolution, oldest first */
    float *ssm;   /* (B,d_inner,d_state) for Mamba, (B,nheads,headdim,d_state) for Mamba-2 */
    float *work;  /* one step's activations */
    void *alloc_ud;
} seq_mamba_state;

/* Mamba block (Gu & Dao 2023; mamba_ssm's Mamba module), x (B,T,d_model) -> (B,T,d_model):
 *     xi, z      = in_proj(x), split into halves of d_inner = expand * d_model
 *     u          = silu(conv1d(xi))            depthwise, causal, d_conv taps
 *     dt, Bm, Cm = x_proj(u), split into dt_rank, d_state, d_state
 *     y          = out_proj(selective_scan(u, softplus(dt_proj(dt)), -exp(A_log), Bm, Cm, D) * silu(z))
 * Parameters are named and shaped as in mamba_ssm, so its state_dict loads as is:
 * "<prefix>.in_proj.weight" (2*d_inner, d_model), "conv1d.weight" (d_inner,1,d_conv),
 * "conv1d.bias" (d_inner), "x_proj.weight" (dt_rank + 2*d_state, d_inner),
 * "dt_proj.weight" (d_inner, dt_rank), "dt_proj.bias" (d_inner), "A_log" (d_inner,
 * d_state), "D" (d_inner), "out_proj.weight" (d_model, d_inner); "in_proj.bias" and
 * "out_proj.bias" with cfg.bias. A_log and D have weight decay 0, as mamba_ssm marks them.
 * States (seq_rnn_io and seq_mamba_state): h0/hn are the scan's (B,d_inner,d_state),
 * c0/cn the convolution's last d_conv-1 inputs (B,d_inner,d_conv-1), oldest first; a
 * reset drops both. */
typedef struct seq_mamba_config {
    int64_t d_model;
    int64_t d_state;     /* N (16) */
    int64_t d_conv;      /* taps of the convolution (4) */
    int64_t expand;      /* d_inner = expand * d_model (2) */
    int64_t dt_rank;     /* 0: ceil(d_model / 16) */
    float dt_min, dt_max; /* softplus(dt_proj.bias) log-uniform in [dt_min, dt_max] (1e-3, 0.1) */
    float dt_init_floor; /* ... and at least this (1e-4) */
    float dt_scale;      /* dt_proj.weight ~ U(-s, s), s = dt_scale / sqrt(dt_rank) (1) */
    int bias;            /* in_proj and out_proj biases (0) */
    int conv_bias;       /* (1) */
} seq_mamba_config;

/* The parameters both blocks share: in_proj, conv1d and out_proj (biases may be NULL). */
typedef struct seq_mamba_proj {
    seq_tensor *in_w, *in_b, *conv_w, *conv_b, *out_w, *out_b;
} seq_mamba_proj;

typedef struct seq_mamba {
    seq_mamba_config cfg;
    int64_t d_inner, dt_rank;
    void *alloc_ud; /* the params' allocator, for step states */
    seq_mamba_proj proj;
    seq_tensor *x_proj_w, *dt_proj_w, *dt_proj_b, *A_log, *D;
} seq_mamba;

SEQDEF seq_mamba_config seq_mamba_config_default(int64_t d_model);
/* Registers the parameters in P: the linear and convolution weights as PyTorch's defaults,
 * D = 1, dt_proj.weight as above. A_log and dt_proj.bias need values seq_params_alloc's
 * initializers cannot express: call seq_mamba_init_ssm after seq_params_alloc. */
SEQDEF seq_status seq_mamba_init(seq_mamba *l, seq_params *P, const char *prefix, seq_mamba_config cfg);
/* A_log[d,n] = log(n+1) (S4D-real) and dt_proj.bias = softplus^-1(dt) with dt drawn as
 * cfg says, as mamba_ssm initializes them. */
SEQDEF seq_status seq_mamba_init_ssm(const seq_mamba *l, seq_rng *rng);
/* x (B,T,d_model) -> (B,T,d_model); io may be NULL. */
SEQDEF seq_tensor *seq_mamba_forward(seq_ctx *ctx, const seq_mamba *l, seq_tensor *x, seq_rnn_io *io);
SEQDEF seq_status seq_mamba_state_init(const seq_mamba *l, seq_mamba_state *st, int64_t batch);
SEQDEF void seq_mamba_state_reset(seq_mamba_state *st); /* back to zeros (a new sequence) */
SEQDEF void seq_mamba_state_free(seq_mamba_state *st);
/* x_t (B,d_model) -> y_t (B,d_model), advancing the state by one step. */
SEQDEF seq_status seq_mamba_step(const seq_mamba *l, seq_mamba_state *st, const float *x_t, float *y_t);

/* Mamba-2 block (Dao & Gu 2024; mamba_ssm's Mamba2 module), x (B,T,d_model) -> (B,T,d_model):
 *     z, xBC, dt = in_proj(x), split into d_inner, d_inner + 2*ngroups*d_state, nheads
 *     xs, Bm, Cm = silu(conv1d(xBC)), split into d_inner, ngroups*d_state, ngroups*d_state
 *     y          = ssd_scan(xs, softplus(dt + dt_bias), -exp(A_log), Bm, Cm, D)
 *     out        = out_proj(rmsnorm(y * silu(z)) * norm.weight)   (rmsnorm per group)
 * with d_inner = expand * d_model in nheads = d_inner / headdim heads. Parameters as in
 * mamba_ssm: "<prefix>.in_proj.weight" (2*d_inner + 2*ngroups*d_state + nheads, d_model),
 * "conv1d.weight" (conv_dim,1,d_conv), "conv1d.bias" (conv_dim) with conv_dim = d_inner +
 * 2*ngroups*d_state, "dt_bias", "A_log", "D" (nheads), "norm.weight" (d_inner),
 * "out_proj.weight" (d_model, d_inner); "in_proj.bias", "out_proj.bias" with cfg.bias.
 * dt_bias, A_log and D have weight decay 0. States: h0/hn (B,nheads,headdim,d_state),
 * c0/cn (B,conv_dim,d_conv-1). */
typedef struct seq_mamba2_config {
    int64_t d_model;
    int64_t d_state;      /* N (128) */
    int64_t d_conv;       /* (4) */
    int64_t expand;       /* (2) */
    int64_t headdim;      /* P (64); must divide d_inner */
    int64_t ngroups;      /* G (1); must divide nheads */
    int64_t chunk;        /* chunk length of the SSD algorithm (256); 0: the recurrence */
    float A_init_min, A_init_max; /* -A drawn uniform in this range (1, 16) */
    float dt_min, dt_max, dt_init_floor; /* as in seq_mamba_config (1e-3, 0.1, 1e-4) */
    float norm_eps;       /* (1e-5) */
    int bias;             /* (0) */
    int conv_bias;        /* (1) */
} seq_mamba2_config;

typedef struct seq_mamba2 {
    seq_mamba2_config cfg;
    int64_t d_inner, nheads, conv_dim;
    void *alloc_ud;
    seq_mamba_proj proj;
    seq_tensor *dt_bias, *A_log, *D, *norm_w;
} seq_mamba2;

SEQDEF seq_mamba2_config seq_mamba2_config_default(int64_t d_model);
/* Registers the parameters in P; call seq_mamba2_init_ssm after seq_params_alloc. */
SEQDEF seq_status seq_mamba2_init(seq_mamba2 *l, seq_params *P, const char *prefix, seq_mamba2_config cfg);
/* A_log = log(U(A_init_min, A_init_max)), dt_bias = softplus^-1(dt) as mamba_ssm. */
SEQDEF seq_status seq_mamba2_init_ssm(const seq_mamba2 *l, seq_rng *rng);
SEQDEF seq_tensor *seq_mamba2_forward(seq_ctx *ctx, const seq_mamba2 *l, seq_tensor *x, seq_rnn_io *io);
SEQDEF seq_status seq_mamba2_state_init(const seq_mamba2 *l, seq_mamba_state *st, int64_t batch);
SEQDEF void seq_mamba2_state_reset(seq_mamba_state *st);
SEQDEF void seq_mamba2_state_free(seq_mamba_state *st);
SEQDEF seq_status seq_mamba2_step(const seq_mamba2 *l, seq_mamba_state *st, const float *x_t, float *y_t);

/* --- 14.7 Mega EMA, LRU, StableSSM reparameterization ----------------------------- */

/* StableSSM reparameterization (Wang & Li, "StableSSM: Alleviating the Curse of Memory in
 * State-space Models through Stable Reparameterization", ICML 2024). A diagonal recurrence
 * h_t = lambda h_{t-1} + ... trained on lambda itself drifts to the stability boundary
 * |lambda| = 1 and can then only hold exponentially decaying memory; writing lambda = f(w)
 * with f mapping every real w inside the unit interval keeps it stable whatever the
 * optimizer does. The discrete-time maps:
 *     SEQ_REPARAM_EXP      f(w) = exp(-exp(w))        in (0,1)   LRU's own map
 *     SEQ_REPARAM_BEST     f(w) = 1 - 1/(w^2 + 0.5)   in [-1,1)  the paper's "best" map: the
 *                          gradient-over-weight ratio stays bounded as |lambda| -> 1
 *     SEQ_REPARAM_SIGMOID  f(w) = 1/(1 + exp(-w))     in (0,1)
 * Use them for any diagonal layer's decay: lambda = seq_reparam(ctx, w, kind) in a graph,
 * or seq_reparam_value() where a fused kernel needs f and f'. */
typedef enum seq_reparam_kind {
    SEQ_REPARAM_EXP,
    SEQ_REPARAM_BEST,
    SEQ_REPARAM_SIGMOID,
    SEQ_REPARAM_KIND_COUNT
} seq_reparam_kind;
/* f(w), and f'(w) into *dfdw unless dfdw is NULL; NaN (both) for an unknown kind. */
SEQDEF float seq_reparam_value(seq_reparam_kind kind, float w, float *dfdw);
/* A w with f(w) = lambda, to initialize a decay at lambda: lambda must lie in (0,1), else
 * NaN. BEST has two such w, +-; this is the positive one. */
SEQDEF float seq_reparam_inverse(seq_reparam_kind kind, float lambda);
/* w (...) -> f(w) (...), elementwise; the gradient flows through f'. An unknown kind is
 * SEQ_ERR_INVALID. */
SEQDEF seq_tensor *seq_reparam(seq_ctx *ctx, seq_tensor *w, seq_reparam_kind kind);

/* Layers of this section share seq_rnn_io (14.2) and, for streaming, seq_rnn_state: h is the
 * recurrent state, work the per-step scratch, both in one allocation (c is unused). Their
 * parameters follow the reference implementations' names; each reference initializes a
 * few of them in ways seq_params' initializers cannot express (Mega's alternating beta,
 * LRU's ring), so *_init registers close stand-ins and *_reset_parameters, called after
 * seq_params_alloc, draws the reference initialization. Derivations: docs/lru.md. */

/* Mega's multi-dimensional damped EMA (Ma et al., "Mega: Moving Average Equipped Gated
 * Attention", ICLR 2023), as fairseq's MultiHeadEMA so its state_dict loads: x (B,T,D) ->
 * y (B,T,D); per channel d an N-dimensional EMA state h (n = 0..N-1),
 *     h_t[d,n] = a[d,n] beta[d,n] x_t[d] + (1 - a[d,n] g[d,n]) h_{t-1}[d,n]
 *     y_t[d]   = silu(sum_n eta[d,n] h_t[d,n] / sqrt(N) + omega[d] x_t[d])
 * where the paper's decay a = sigmoid("<prefix>.delta") and damping g = sigmoid(
 * "<prefix>.alpha") (the reference stores each under the other's name), beta =
 * "<prefix>.beta" (K,N,1), a and g from (K,N,1) tensors, eta = "<prefix>.gamma" (K,N),
 * omega = "<prefix>.omega" (D). K = D, or 2D when bidirectional: rows D..2D-1 then run a
 * second EMA backwards in time whose output is added (Mega's two-sided kernel; both sides
 * include the current step). The reference computes the same thing as an FFT convolution
 * with the kernel k_l = sum_n eta a beta (1 - a g)^l / sqrt(N); seq runs the recurrence.
 * io: h0 / hn (B,K,N), the state of rows K; a backward row's initial state is the one that
 * enters each sequence's last valid step and its final state the one after step 0;
 * lengths and resets as 14.2 (c0, cn unused). */
typedef struct seq_mega_ema_config {
    int64_t dim;       /* D */
    int64_t ndim;      /* N: 16, Mega's EMA dimension */
    int bidirectional; /* 0 or 1 */
} seq_mega_ema_config;
typedef struct seq_mega_ema {
    seq_mega_ema_config cfg;
    void *alloc_ud; /* the params' allocator, for step states */
    seq_tensor *delta, *alpha, *beta, *gamma, *omega;
} seq_mega_ema;
SEQDEF seq_mega_ema_config seq_mega_ema_config_default(int64_t dim);
SEQDEF seq_status seq_mega_ema_init(seq_mega_ema *l, seq_params *P, const char *prefix, seq_mega_ema_config cfg);
/* Mega's initialization: delta, alpha ~ N(0, 0.2^2); beta ~ N(+-1, 0.02^2), the sign
 * alternating over n (the stand-in is +1 throughout); gamma, omega ~ N(0,1). */
SEQDEF seq_status seq_mega_ema_reset_parameters(const seq_mega_ema *l, seq_rng *rng);
SEQDEF seq_tensor *seq_mega_ema_forward(seq_ctx *ctx, const seq_mega_ema *l, seq_tensor *x, seq_rnn_io *io);
/* Streaming (unidirectional only): st->h is (B,D,N); x_t (B,D) -> y_t (B,D). */
typedef seq_rnn_state seq_mega_ema_state;
SEQDEF seq_status seq_mega_ema_state_init(const seq_mega_ema *l, seq_mega_ema_state *st, int64_t batch);
SEQDEF void seq_mega_ema_state_reset(seq_mega_ema_state *st);
SEQDEF void seq_mega_ema_state_free(seq_mega_ema_state *st);
SEQDEF seq_status seq_mega_ema_step(const seq_mega_ema *l, seq_mega_ema_state *st, const float *x_t, float *y_t);

/* LRU, the Linear Recurrent Unit (Orvieto et al., "Resurrecting Recurrent Neural Networks
 * for Long Sequences", ICML 2023), named as the authors' reference: u (B,T,H) -> y (B,T,H)
 * through a complex diagonal state x of N numbers,
 *     x_t = lambda x_{t-1} + gamma (B_re + i B_im) u_t,     y_t = Re(C x_t) + D u_t,
 *     lambda = f(nu_log) exp(i exp(theta_log)),  gamma = exp(gamma_log),  C = C_re + i C_im,
 * f being exp(-exp(w)) as in the paper, or another StableSSM map (cfg.reparam; nu_log then
 * holds that map's w). Parameters "<prefix>.nu_log", "theta_log", "gamma_log" (N), "B_re",
 * "B_im" (N,H), "C_re", "C_im" (H,N), "D" (H). The recurrence runs on 14.1's scan core in
 * complex arithmetic.
 * io: h0 / hn (B,2N): the N real parts of the state, then the N imaginary parts; lengths,
 * resets as 14.2. */
typedef struct seq_lru_config {
    int64_t d_model;         /* H */
    int64_t d_state;         /* N */
    float r_min, r_max;      /* 0, 1: |lambda| at init lies on this ring, 0 <= r_min < r_max <= 1 */
    float max_phase;         /* 6.28: phases at init lie in [0, max_phase], > 0 */
    seq_reparam_kind reparam; /* SEQ_REPARAM_EXP */
} seq_lru_config;
typedef struct seq_lru {
    seq_lru_config cfg;
    void *alloc_ud;
    seq_tensor *nu_log, *theta_log, *gamma_log, *B_re, *B_im, *C_re, *C_im, *D;
} seq_lru;
SEQDEF seq_lru_config seq_lru_config_default(int64_t d_model, int64_t d_state);
/* The stand-ins put every lambda at the ring's middle radius and half the largest phase. */
SEQDEF seq_status seq_lru_init(seq_lru *l, seq_params *P, const char *prefix, seq_lru_config cfg);
/* The paper's ring initialization: |lambda|^2 uniform in [r_min^2, r_max^2] (uniform over
 * the ring's area), phase uniform in [0, max_phase], gamma = sqrt(1 - |lambda|^2); B ~
 * N(0, 1/(2H)), C ~ N(0, 1/N), D ~ N(0, 1). */
SEQDEF seq_status seq_lru_reset_parameters(const seq_lru *l, seq_rng *rng);
SEQDEF seq_tensor *seq_lru_forward(seq_ctx *ctx, const seq_lru *l, seq_tensor *u, seq_rnn_io *io);
/* Streaming: st->h is (B,2N) as io->h0; u_t (B,H) -> y_t (B,H). */
typedef seq_rnn_state seq_lru_state;
SEQDEF seq_status seq_lru_state_init(const seq_lru *l, seq_lru_state *st, int64_t batch);
SEQDEF void seq_lru_state_reset(seq_lru_state *st);
SEQDEF void seq_lru_state_free(seq_lru_state *st);
SEQDEF seq_status seq_lru_step(const seq_lru *l, seq_lru_state *st, const float *u_t, float *y_t);

/* The LRU block of the paper's deep model (as minimal-LRU's SequenceLayer, dropout left to
 * the caller): x (B,T,H) -> y (B,T,H),
 *     z = LRU(prenorm ? LN(x) : x);  z = gelu(z);  z = out1(z) * sigmoid(out2(z));
 *     y = x + z,  then LN(y) when not prenorm,
 * gelu in its tanh form, flax's default that the reference uses.
 * Parameters "<prefix>.lru.*" (seq_lru), "<prefix>.out1.weight", "out2.weight" (H,H) and
 * their biases (H) (nn.Linear's init), "<prefix>.norm.weight", "norm.bias" (H). io as
 * seq_lru's. A stack is an input projection (seq_linear), blocks, then a head. */
typedef struct seq_lru_block_config {
    seq_lru_config lru;
    int prenorm; /* 0: post-norm, minimal-LRU's default */
    float eps;   /* 1e-5: LayerNorm's */
} seq_lru_block_config;
typedef struct seq_lru_block {
    seq_lru_block_config cfg;
    seq_lru lru;
    seq_tensor *out1_w, *out1_b, *out2_w, *out2_b, *norm_w, *norm_b;
} seq_lru_block;
SEQDEF seq_lru_block_config seq_lru_block_config_default(int64_t d_model, int64_t d_state);
SEQDEF seq_status seq_lru_block_init(seq_lru_block *l, seq_params *P, const char *prefix, seq_lru_block_config cfg);
SEQDEF seq_status seq_lru_block_reset_parameters(const seq_lru_block *l, seq_rng *rng); /* the LRU's ring */
SEQDEF seq_tensor *seq_lru_block_forward(seq_ctx *ctx, const seq_lru_block *l, seq_tensor *x, seq_rnn_io *io);
/* Streaming: st->h is the LRU's state (B,2N); x_t (B,H) -> y_t (B,H). */
typedef seq_rnn_state seq_lru_block_state;
SEQDEF seq_status seq_lru_block_state_init(const seq_lru_block *l, seq_lru_block_state *st, int64_t batch);
SEQDEF void seq_lru_block_state_reset(seq_lru_block_state *st);
SEQDEF void seq_lru_block_state_free(seq_lru_block_state *st);
SEQDEF seq_status seq_lru_block_step(const seq_lru_block *l, seq_lru_block_state *st, const float *x_t, float *y_t);

/* The Mega block, fairseq's MovingAverageGatedAttention (one chunk, softmax attention, the
 * "simple" relative position bias, SiLU; dropout left to the caller): x (B,T,D) ->
 * y (B,T,D),
 *     xn = prenorm ? LN(x) : x;   v = silu(v_proj(xn)) (E);   mx = EMA(xn) (D);
 *     [u, zr, hx] = mx_proj(mx): u = sigmoid (D), zr = silu (S + E) = [z (S), r (E)], hx (D);
 *     q = z gamma[0] + beta[0],  k = z gamma[1] + beta[1]  (S);
 *     h = softmax(q k^T / sqrt(S) + bias[j - i] + mask) v;
 *     y = x + u * (silu(hx + h_proj(h * r)) - x),  then LN(y) when not prenorm.
 * causal = 1: a unidirectional EMA and causal attention (a language model; streams);
 * 0: the bidirectional EMA and full attention (an encoder). Attention never crosses a
 * segment reset nor reads past a row's length. T may not exceed max_positions (the bias
 * table's reach). Parameters as the reference: "<prefix>.norm.norm.weight", ".bias" (D),
 * "<prefix>.move.*" (seq_mega_ema), "v_proj" (E,D), "mx_proj" (2D+S+E,D), "h_proj" (D,E)
 * (".weight" and ".bias"), "gamma", "beta" (2,S), "rel_pos_bias.rel_pos_bias"
 * (2 max_positions - 1), initialized as Mega does (N(0, 0.02^2) weights, zero biases).
 * io: the EMA's (h0 / hn (B,K,N), lengths, resets). */
typedef struct seq_mega_block_config {
    seq_mega_ema_config ema; /* dim D, ndim N; bidirectional follows causal */
    int64_t zdim;            /* S: 64 */
    int64_t hdim;            /* E: 2 D */
    int64_t max_positions;   /* 1024 */
    int causal;              /* 1 */
    int prenorm;             /* 1 */
    float eps;               /* 1e-5 */
} seq_mega_block_config;
typedef struct seq_mega_block {
    seq_mega_block_config cfg;
    seq_mega_ema move;
    seq_tensor *norm_w, *norm_b, *v_w, *v_b, *mx_w, *mx_b, *h_w, *h_b, *gamma, *beta, *rel_pos;
} seq_mega_block;
SEQDEF seq_mega_block_config seq_mega_block_config_default(int64_t dim);
SEQDEF seq_status seq_mega_block_init(seq_mega_block *l, seq_params *P, const char *prefix, seq_mega_block_config cfg);
SEQDEF seq_status seq_mega_block_reset_parameters(const seq_mega_block *l, seq_rng *rng); /* the EMA's */
SEQDEF seq_tensor *seq_mega_block_forward(seq_ctx *ctx, const seq_mega_block *l, seq_tensor *x, seq_rnn_io *io);
/* Streaming (causal only): the EMA state and a cache of every key and value so far, so a
 * stream holds at most max_positions steps (then SEQ_ERR_RANGE: reset it). */
typedef struct seq_mega_block_state {
    seq_mega_ema_state ema;
    int64_t batch, pos;   /* pos: steps since the last reset */
    float *keys, *values; /* (B,max_positions,S), (B,max_positions,E) */
    float *work;
    void *alloc_ud;
} seq_mega_block_state;
SEQDEF seq_status seq_mega_block_state_init(const seq_mega_block *l, seq_mega_block_state *st, int64_t batch);
SEQDEF void seq_mega_block_state_reset(seq_mega_block_state *st);
SEQDEF void seq_mega_block_state_free(seq_mega_block_state *st);
SEQDEF seq_status seq_mega_block_step(const seq_mega_block *l, seq_mega_block_state *st, const float *x_t, float *y_t);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_H */

/* The default allocator, for seq.h's implementation and for that of any header built on
 * it (seq_quant.h, seq_rl.h, seq_rec.h, seq_mpi.h and seq_cuda.h include seq.h first),
 * even in a translation unit that does not implement seq.h. Outside the include guard:
 * the implementation macro may come with a later include. */
#if defined(SEQ_IMPLEMENTATION) || defined(SEQ_QUANT_IMPLEMENTATION) || defined(SEQ_RL_IMPLEMENTATION) || \
    defined(SEQ_REC_IMPLEMENTATION) || defined(SEQ_MPI_IMPLEMENTATION) || defined(SEQ_CUDA_IMPLEMENTATION)
#if defined(SEQ_MALLOC) && defined(SEQ_REALLOC) && defined(SEQ_FREE)
#elif !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#include <stdlib.h>
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#else
#error "seq.h: define all of SEQ_MALLOC, SEQ_REALLOC and SEQ_FREE, or none"
#endif
#endif

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
#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200112L
#define SEQ__POSIX 1 /* fsync for durable saves (13c) */
#include <fcntl.h>
#include <unistd.h>
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
static SEQ__TLS seq_status seq__errstatus; /* status of the last seq__err on this thread */
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
SEQDEF seq_status seq_last_status(void) { return seq__errstatus; }
SEQDEF void seq_clear_error(void) {
    seq__errbuf[0] = 0;
    seq__errstatus = SEQ_OK;
}

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
    seq__errstatus = s;
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
    seq_tensor *extra_out[2]; /* further outputs (an RNN's final states): a gradient on any
                                 output runs the backward, which must expect NULL grads */
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

/* Arena copy of caller memory that a backward needs later (NULL stays NULL). */
static void *seq__arena_copy(seq_ctx *ctx, const void *src, size_t bytes) {
    void *p;
    if (!src) return NULL;
    p = seq_ctx_alloc(ctx, bytes);
    if (p) memcpy(p, src, bytes);
    return p;
}

/* ===================================================================================
 * 5  tensors
 * =================================================================================== */

/* Product of shape[from..to): the outer and inner extents around a dimension. */
static int64_t seq__prod(const int64_t *shape, int from, int to) {
    int64_t p = 1;
    for (; from < to; from++) p *= shape[from];
    return p;
}

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
        t->grad = (float *)seq__calloc(ctx, (size_t)t->numel * sizeof(float));
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

/* True when the op may run: ctx healthy and every listed input present (seq__ok_f32 also
 * requires float). A NULL input after an earlier failure is the normal sticky path; a
 * NULL without one is a bug in the caller and becomes SEQ_ERR_INVALID. */
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
    t->data = (float *)seq_ctx_alloc(ctx, (size_t)t->numel * sizeof(float));
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
    if (!t->grad) t->grad = (float *)seq__calloc(ctx, (size_t)t->numel * sizeof(float));
    return t->grad;
}

/* --- the extension API: the same helpers, public ------------------------------------ */

typedef struct seq__ext_op {
    seq_op_backward_fn bw;
    void *data;
} seq__ext_op;

static void seq__ext_backward(seq_ctx *ctx, seq__node *n) {
    seq__ext_op *e = (seq__ext_op *)n->aux;
    e->bw(ctx, n->out, n->in, e->data);
}

SEQDEF seq_tensor *seq_op_output(seq_ctx *ctx, const char *op, int ndim, const int64_t *shape, int nin,
                                 seq_tensor *const *in) {
    if (!seq__ok(ctx, op, nin, in)) return NULL;
    return seq__out(ctx, op, ndim, shape, nin, in);
}

SEQDEF seq_status seq_op_record(seq_ctx *ctx, const char *op, seq_tensor *out, seq_op_backward_fn bw, int nin,
                                seq_tensor *const *in, void *data) {
    seq__node *n;
    seq__ext_op *e;
    if (!ctx) return SEQ_ERR_INVALID;
    if (!bw || nin < 0 || nin > 4) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "seq_op_record needs a backward and 0..4 inputs");
        return ctx->status;
    }
    if (!out || !out->requires_grad) return ctx->status;
    e = (seq__ext_op *)seq_ctx_alloc(ctx, sizeof *e);
    if (!e) return ctx->status;
    e->bw = bw;
    e->data = data;
    n = seq__record(ctx, op, out, seq__ext_backward, nin, in);
    if (n) n->aux = e;
    return ctx->status;
}

SEQDEF float *seq_op_grad(seq_ctx *ctx, seq_tensor *t) { return seq__grad(ctx, t); }

SEQDEF void seq_ctx_fail(seq_ctx *ctx, seq_status s, const char *op, const char *fmt, ...) {
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    seq__vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    seq__ctx_fail(ctx, s, op, "%s", why);
}

SEQDEF seq_status seq_set_error(seq_status s, const char *fmt, ...) {
    char msg[sizeof seq__errbuf];
    va_list ap;
    va_start(ap, fmt);
    seq__vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return seq__err(s, "%s", msg);
}

SEQDEF int seq_all_finite(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
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
    if (ndim > 0) memcpy(e->t.shape, shape, (size_t)ndim * sizeof(int64_t));
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

/* The own kernel follows Goto & van de Geijn (2008) and BLIS. For each NC-wide column
 * block of op(B) and KC-deep slice of K, the slice of op(B) is packed into NR-wide
 * panels (kc x NR, k-major); for each MC-row block of op(A), that block is packed into
 * MR-row strips (kc x MR, k-major); then a register-blocked micro-kernel multiplies
 * every strip by every panel, holding an MR x NR tile of C in vector registers.
 * Packing pads partial strips and panels with zeros, so the micro-kernel always
 * computes a full tile and only its store is clipped to the part of C that exists.
 * One micro-kernel is written against a tiny vector vocabulary (SEQ__V*), instantiated
 * for AVX-512, AVX2+FMA or plain floats. Tile and block sizes were measured on Zen 5
 * (48 KiB L1d, 1 MiB L2) with bench/gemm.c; see docs/gemm.md. */

#if defined(SEQ_USE_BLIS)
#define SEQ__GEMM_BACKEND "blis"
#if defined(BLIS_H) || (defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200112L)
#include <blis.h>
#define SEQ__BLIS_TRANS(t) ((t) ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE)
#else
/* <blis.h> needs POSIX barrier types, which a strict -std=c99 build has not declared
 * (and cannot: the feature macro had to come before the first libc header), so the
 * one typed-API call used is declared here; BLIS 0.9 ABI: trans_t is an enum with
 * BLIS_TRANSPOSE = 8, dim_t and inc_t are 64-bit (BLIS's default integer size). */
typedef enum { SEQ__BLIS_NO_TRANSPOSE = 0, SEQ__BLIS_TRANSPOSE = 8 } seq__blis_trans;
void bli_sgemm(seq__blis_trans transa, seq__blis_trans transb, int64_t m, int64_t n, int64_t k, float *alpha,
               float *a, int64_t rsa, int64_t csa, float *b, int64_t rsb, int64_t csb, float *beta, float *c,
               int64_t rsc, int64_t csc);
#define SEQ__BLIS_TRANS(t) ((t) ? SEQ__BLIS_TRANSPOSE : SEQ__BLIS_NO_TRANSPOSE)
#endif

#else /* the own kernel */
#if !defined(SEQ_NO_SIMD) && defined(__AVX512F__)
#include <immintrin.h>
#define SEQ__GEMM_BACKEND "avx512"
#define SEQ__GEMM_AVX
typedef __m512 seq__vf;
#define SEQ__VL 16
#define SEQ__VLOAD(p) _mm512_loadu_ps(p)
#define SEQ__VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define SEQ__VSET1(x) _mm512_set1_ps(x)
#define SEQ__VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define SEQ__VMUL(a, b) _mm512_mul_ps((a), (b))
#define SEQ__MR 8 /* 8 x 32 tile: 16 accumulators */
#define SEQ__NV 2
#define SEQ__MC 144 /* a kc x MC block of A: 144 KiB, in L2; kc x NR panels of B in L1 */
#define SEQ__VSUM(v) seq__vsum256(seq__vhalves512(v))
#define SEQ__SMALL_NV 4 /* vectors per row of the few-rows kernel's column block */
#elif !defined(SEQ_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SEQ__GEMM_BACKEND "avx2"
#define SEQ__GEMM_AVX
typedef __m256 seq__vf;
#define SEQ__VL 8
#define SEQ__VLOAD(p) _mm256_loadu_ps(p)
#define SEQ__VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define SEQ__VSET1(x) _mm256_set1_ps(x)
#define SEQ__VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define SEQ__VMUL(a, b) _mm256_mul_ps((a), (b))
#define SEQ__MR 6 /* 6 x 16 tile: 12 accumulators of the 16 registers */
#define SEQ__NV 2
#define SEQ__MC SEQ__MR /* one strip of A in L1, B panels streaming from L2: measured faster */
#define SEQ__VSUM(v) seq__vsum256(v)
#define SEQ__SMALL_NV 2
#else
#define SEQ__GEMM_BACKEND "scalar"
typedef float seq__vf;
#define SEQ__VL 1
#define SEQ__VLOAD(p) (*(p))
#define SEQ__VSTORE(p, v) (*(p) = (v))
#define SEQ__VSET1(x) (x)
#define SEQ__VFMA(a, b, c) ((a) * (b) + (c))
#define SEQ__VMUL(a, b) ((a) * (b))
#define SEQ__MR 4 /* 4 x 8 tile, which compilers can still vectorize */
#define SEQ__NV 8
#define SEQ__MC 64
#define SEQ__VSUM(v) (v)
#define SEQ__SMALL_NV 8
#endif
#define SEQ__NR (SEQ__NV * SEQ__VL)
#define SEQ__KC 256
#define SEQ__NC 1024

/* The micro-kernel's tile lives in registers only if its loops are unrolled fully. */
#if defined(__clang__)
#define SEQ__UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define SEQ__UNROLL _Pragma("GCC unroll 32")
#else
#define SEQ__UNROLL
#endif

/* Threads share the packed B block and split the strips of A; products too small to
 * repay waking the team stay on the calling thread. */
#ifdef SEQ_USE_OPENMP
#include <omp.h>
#define SEQ__GEMM_OMP(x) _Pragma(#x)
#define SEQ__GEMM_THREADS() omp_get_max_threads()
#define SEQ__GEMM_THREAD() omp_get_thread_num()
#else
#define SEQ__GEMM_OMP(x)
#define SEQ__GEMM_THREADS() 1
#define SEQ__GEMM_THREAD() 0
#endif
#endif /* SEQ_USE_BLIS */

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

SEQDEF const char *seq_sgemm_backend(void) { return SEQ__GEMM_BACKEND; }

/* BLAS argument rules. A violation leaves C untouched and says why in seq_last_error():
 * the call cannot return a status, and BLIS would abort on such strides. */
static int seq__gemm_args_ok(int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A,
                             int64_t lda, const float *B, int64_t ldb, const float *C, int64_t ldc) {
    int64_t arow = transA ? M : K, brow = transB ? K : N; /* row lengths of the stored A and B */
    if (M < 0 || N < 0 || K < 0)
        seq__err(SEQ_ERR_INVALID, "seq_sgemm: negative size M=%lld N=%lld K=%lld", (long long)M, (long long)N,
                 (long long)K);
    else if (M == 0 || N == 0)
        return 1;
    else if (!C || ldc < N)
        seq__err(SEQ_ERR_INVALID, "seq_sgemm: C is NULL or ldc=%lld < N=%lld", (long long)ldc, (long long)N);
    else if (K > 0 && (!A || lda < arow))
        seq__err(SEQ_ERR_INVALID, "seq_sgemm: A is NULL or lda=%lld < %lld", (long long)lda, (long long)arow);
    else if (K > 0 && (!B || ldb < brow))
        seq__err(SEQ_ERR_INVALID, "seq_sgemm: B is NULL or ldb=%lld < %lld", (long long)ldb, (long long)brow);
    else
        return 1;
    return 0;
}

/* C (m x n) = alpha T + beta C, T NULL meaning zero; beta == 0 never reads C. Kept out
 * of line: inlined through seq_sgemm into a caller, gcc 12 turns the T == NULL loop into
 * a memset whose size it cannot bound and rejects it (-Wstringop-overflow). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void seq__gemm_update(float *C, int64_t ldc, const float *T, int64_t ldt, int64_t m, int64_t n, float alpha,
                             float beta) {
    int64_t i, j;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            float t = T ? alpha * T[i * ldt + j] : 0.0f;
            C[i * ldc + j] = beta == 0.0f ? t : t + beta * C[i * ldc + j];
        }
}

#ifndef SEQ_USE_BLIS
#if defined(SEQ__GEMM_AVX)
/* dst[k*R + r] = src[r*rs + k] for an 8 x 8 block: an in-register transpose. */
static void seq__gemm_transpose8(float *SEQ_RESTRICT dst, int R, const float *SEQ_RESTRICT src, int64_t rs) {
    __m256 t[8], u[8];
    int i;
    for (i = 0; i < 8; i += 2) { /* interleave row pairs: r0[0] r1[0] r0[1] r1[1] | ... */
        __m256 x = _mm256_loadu_ps(src + i * rs), y = _mm256_loadu_ps(src + (i + 1) * rs);
        t[i] = _mm256_unpacklo_ps(x, y);
        t[i + 1] = _mm256_unpackhi_ps(x, y);
    }
    for (i = 0; i < 8; i += 4) { /* then pairs of pairs: four rows per 128-bit lane */
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (i = 0; i < 4; i++) { /* and join the lanes of rows 0-3 with those of rows 4-7 */
        _mm256_storeu_ps(dst + i * R, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * R, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}
#endif

/* Packs a kc x R panel, k-major: dst[k*R + r] = src[r*rs + k*ks] for r < n, and zero
 * for n <= r < R: an edge tile runs the full micro-kernel on defined numbers (never
 * slow denormal garbage) and the rows or columns past the edge are dropped at the store. */
static void seq__gemm_pack(float *SEQ_RESTRICT dst, const float *SEQ_RESTRICT src, int64_t rs, int64_t ks, int n,
                           int64_t kc, int R) {
    int64_t k, k8 = 0;
    int r, r8 = 0;
    if (rs == 1) { /* rows of the panel are contiguous in src: copy them as they are, in a
                      * loop the compiler vectorizes (a libc call per row of 8 or 32 floats
                      * cost more than the copy) */
        for (k = 0; k < kc; k++) {
            float *SEQ_RESTRICT d = dst + k * R;
            const float *SEQ_RESTRICT s = src + k * ks;
            for (r = 0; r < n; r++) d[r] = s[r];
            for (r = n; r < R; r++) d[r] = 0.0f;
        }
        return;
    }
    /* a transpose (ks == 1 here): 8 x 8 blocks in registers, then the ragged rest */
#if defined(SEQ__GEMM_AVX)
    for (r8 = 0; r8 + 8 <= n; r8 += 8)
        for (k8 = 0; k8 + 8 <= kc; k8 += 8) seq__gemm_transpose8(dst + k8 * R + r8, R, src + r8 * rs + k8, rs);
#endif
    for (r = 0; r < R; r++)
        for (k = r < r8 ? k8 : 0; k < kc; k++) dst[k * R + r] = r < n ? src[r * rs + k * ks] : 0.0f;
}

/* C (m x n corner of an MR x NR tile) = alpha a b + beta C, where a is a packed
 * kc x MR strip of op(A) and b a packed kc x NR panel of op(B). */
static void seq__gemm_micro(int64_t kc, const float *SEQ_RESTRICT a, const float *SEQ_RESTRICT b, float *C,
                            int64_t ldc, float alpha, float beta, int m, int n) {
    seq__vf acc[SEQ__MR][SEQ__NV], bk[SEQ__NV], bn[SEQ__NV];
    float tile[SEQ__MR * SEQ__NR];
    int64_t k;
    int i, v;
    SEQ__UNROLL for (i = 0; i < SEQ__MR; i++)
        SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) acc[i][v] = SEQ__VSET1(0.0f);
    /* The row of b for step k+1 is loaded during step k (the last step reloads its own
     * row, staying inside the panel): values carried across iterations keep GCC from
     * folding the loads into the FMAs as memory operands, which cost the AVX2 kernel 8 %. */
    SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) bk[v] = SEQ__VLOAD(b + v * SEQ__VL);
    for (k = 0; k < kc; k++, a += SEQ__MR) {
        const float *next = b + (k + 1 < kc ? k + 1 : k) * SEQ__NR;
        SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) bn[v] = SEQ__VLOAD(next + v * SEQ__VL);
        SEQ__UNROLL for (i = 0; i < SEQ__MR; i++) {
            seq__vf ai = SEQ__VSET1(a[i]);
            SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) acc[i][v] = SEQ__VFMA(ai, bk[v], acc[i][v]);
        }
        SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) bk[v] = bn[v];
    }
    SEQ__UNROLL for (i = 0; i < SEQ__MR; i++)
        SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) SEQ__VSTORE(tile + i * SEQ__NR + v * SEQ__VL, acc[i][v]);
    if (n < SEQ__NR) { /* a ragged right edge */
        seq__gemm_update(C, ldc, tile, SEQ__NR, m, n, alpha, beta);
        return;
    }
    for (i = 0; i < m; i++)
        SEQ__UNROLL for (v = 0; v < SEQ__NV; v++) {
            float *c = C + i * ldc + v * SEQ__VL;
            seq__vf r = SEQ__VMUL(SEQ__VSET1(alpha), SEQ__VLOAD(tile + i * SEQ__NR + v * SEQ__VL));
            SEQ__VSTORE(c, beta == 0.0f ? r : SEQ__VFMA(SEQ__VSET1(beta), SEQ__VLOAD(c), r));
        }
}

static int64_t seq__gemm_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* Rows of op(A) per packed block: MC, or with several threads and few rows, an even
 * share (whole strips) so that every thread gets a block. */
static int64_t seq__gemm_mc(int64_t M) {
    int64_t share = (M + SEQ__GEMM_THREADS() - 1) / SEQ__GEMM_THREADS();
    return seq__gemm_min(SEQ__MC, (share + SEQ__MR - 1) / SEQ__MR * SEQ__MR);
}

/* Where the panels of the (jc, pc) block of a fully packed op(B) (K x N) start: every
 * column block before the last is NC wide, a multiple of NR, so blocks sit jc-major,
 * each K slice kc x (nc rounded up to NR). */
static int64_t seq__gemm_block_at(int64_t K, int64_t N, int64_t jc, int64_t pc) {
    int64_t nc = seq__gemm_min(N - jc, SEQ__NC);
    return jc * K + pc * ((nc + SEQ__NR - 1) / SEQ__NR * SEQ__NR);
}

/* The blocked product with pack buffers bp (kc x nc, NR-padded, shared) and ap (kc x mcb
 * per thread); packed, when not NULL, holds all of op(B) already packed (bp unused).
 * beta applies on the first K slice only; later slices accumulate. */
static void seq__gemm_blocked(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, const float *packed, float beta, float *C,
                              int64_t ldc, float *bp, float *ap, int64_t mcb) {
    /* op(A)(i,k) = A[i*ars + k*aks], op(B)(k,j) = B[k*bks + j*bcs] */
    int64_t ars = transA ? 1 : lda, aks = transA ? lda : 1, bks = transB ? 1 : ldb, bcs = transB ? ldb : 1;
    SEQ__GEMM_OMP(omp parallel if (M * N * K >= 128 * 128 * 128))
    {
        float *myap = ap + (size_t)SEQ__GEMM_THREAD() * (size_t)(mcb * seq__gemm_min(K, SEQ__KC));
        int64_t jc, pc;
        for (jc = 0; jc < N; jc += SEQ__NC) {
            int64_t nc = seq__gemm_min(N - jc, SEQ__NC);
            for (pc = 0; pc < K; pc += SEQ__KC) {
                int64_t kc = seq__gemm_min(K - pc, SEQ__KC), ic, ir, jr;
                float beta_k = pc == 0 ? beta : 1.0f;
                const float *panels = packed ? packed + seq__gemm_block_at(K, N, jc, pc) : bp;
                if (!packed) {
                    SEQ__GEMM_OMP(omp for)
                    for (jr = 0; jr < nc; jr += SEQ__NR)
                        seq__gemm_pack(bp + jr * kc, B + pc * bks + (jc + jr) * bcs, bcs, bks,
                                       (int)seq__gemm_min(nc - jr, SEQ__NR), kc, SEQ__NR);
                }
                SEQ__GEMM_OMP(omp for)
                for (ic = 0; ic < M; ic += mcb) {
                    int64_t mc = seq__gemm_min(M - ic, mcb);
                    for (ir = 0; ir < mc; ir += SEQ__MR)
                        seq__gemm_pack(myap + ir * kc, A + (ic + ir) * ars + pc * aks, ars, aks,
                                       (int)seq__gemm_min(mc - ir, SEQ__MR), kc, SEQ__MR);
                    for (jr = 0; jr < nc; jr += SEQ__NR)
                        for (ir = 0; ir < mc; ir += SEQ__MR)
                            seq__gemm_micro(kc, myap + ir * kc, panels + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc,
                                            alpha, beta_k, (int)seq__gemm_min(mc - ir, SEQ__MR),
                                            (int)seq__gemm_min(nc - jr, SEQ__NR));
                }
            }
        }
    }
}

/* ---- few rows of op(A) (M <= SEQ__SMALL_M): no packing --------------------------------
 * A recurrent step multiplies B x H by H x G*H with B = 1..4 rows: packing op(B) would
 * move as much memory as the product reads, and the MR-row tile would idle most of its
 * FMAs. These kernels stream op(B) once, as it is stored, with all the rows of op(A) at
 * a time. They are inlined with m constant (seq__gemm_small's switch), so the row loops
 * unroll and the accumulators stay in registers. */
#define SEQ__SMALL_M 4
#if defined(__GNUC__)
#define SEQ__ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define SEQ__ALWAYS_INLINE inline
#endif

#if defined(SEQ__GEMM_AVX)
/* Horizontal sums. The 512-bit steps use the zero-masked forms with every lane kept:
 * the plain ones (and _mm512_reduce_add_ps) pass an undefined register that g++ 12
 * reports as uninitialized. */
static float seq__vsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#if SEQ__VL == 16
static __m256 seq__vhalves512(__m512 v) { /* the two 256-bit halves added */
    __m512 s = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4((__mmask16)0xFFFF, v, v, 0xEE));
    return _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd((__mmask8)0xFF, _mm512_castps_pd(s), 0));
}
#endif
#endif

/* c = alpha acc + beta c, beta == 0 not reading c */
static float seq__gemm_out(float c, float acc, float alpha, float beta) {
    return beta == 0.0f ? alpha * acc : alpha * acc + beta * c;
}

/* op(B) stored k-major (B[k*ldb + j]): each row of C is a sum of rows of B scaled by
 * A(i,k), one column block of W = nv vectors at a time (nv doubles for one row, so that
 * at least 8 FMA chains hide the FMA latency). The columns past the last block go the
 * scalar way. */
static SEQ__ALWAYS_INLINE void seq__gemm_small_rows(int m, int transA, int64_t N, int64_t K, float alpha, const float *A,
                                                int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                                                int64_t ldc) {
    enum { NVMAX = 2 * SEQ__SMALL_NV };
    int64_t ars = transA ? 1 : lda, aks = transA ? lda : 1, j, k;
    int nv = m == 1 ? NVMAX : SEQ__SMALL_NV, W = nv * SEQ__VL, i, v;
    for (j = 0; j + W <= N; j += W) {
        seq__vf acc[SEQ__SMALL_M][NVMAX], bk[NVMAX];
        SEQ__UNROLL for (i = 0; i < m; i++)
            SEQ__UNROLL for (v = 0; v < nv; v++) acc[i][v] = SEQ__VSET1(0.0f);
        for (k = 0; k < K; k++) {
            const float *b = B + k * ldb + j;
            SEQ__UNROLL for (v = 0; v < nv; v++) bk[v] = SEQ__VLOAD(b + v * SEQ__VL);
            SEQ__UNROLL for (i = 0; i < m; i++) {
                seq__vf a = SEQ__VSET1(A[i * ars + k * aks]);
                SEQ__UNROLL for (v = 0; v < nv; v++) acc[i][v] = SEQ__VFMA(a, bk[v], acc[i][v]);
            }
        }
        SEQ__UNROLL for (i = 0; i < m; i++)
            SEQ__UNROLL for (v = 0; v < nv; v++) {
                float *c = C + i * ldc + j + v * SEQ__VL;
                seq__vf r = SEQ__VMUL(SEQ__VSET1(alpha), acc[i][v]);
                SEQ__VSTORE(c, beta == 0.0f ? r : SEQ__VFMA(SEQ__VSET1(beta), SEQ__VLOAD(c), r));
            }
    }
    for (i = 0; i < m; i++) {
        int64_t j0 = j;
        for (j = j0; j < N; j++) {
            float acc = 0.0f;
            for (k = 0; k < K; k++) acc += A[i * ars + k * aks] * B[k * ldb + j];
            C[i * ldc + j] = seq__gemm_out(C[i * ldc + j], acc, alpha, beta);
        }
        j = j0;
    }
}

/* op(B) stored j-major (B[j*ldb + k], the x W^T of a linear layer) and op(A) rows
 * contiguous: C(i,j) is the dot product of row i of A and row j of B, nj rows of B at a
 * time (8 for one row of A, else 4: enough chains). A ragged last group repeats its last
 * row of B, whose sums are not stored. */
static SEQ__ALWAYS_INLINE void seq__gemm_small_dots(int m, int64_t N, int64_t K, float alpha, const float *A,
                                                int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                                                int64_t ldc) {
    enum { NJMAX = 8 };
    int64_t kv = K / SEQ__VL * SEQ__VL, j, k;
    int nj = m <= 2 ? NJMAX : NJMAX / 2, i, q;
    for (j = 0; j < N; j += nj) {
        const float *b[NJMAX];
        seq__vf acc[SEQ__SMALL_M][NJMAX], bk[NJMAX];
        int have = (int)seq__gemm_min(N - j, nj);
        SEQ__UNROLL for (q = 0; q < nj; q++) b[q] = B + (j + (q < have ? q : have - 1)) * ldb;
        SEQ__UNROLL for (i = 0; i < m; i++)
            SEQ__UNROLL for (q = 0; q < nj; q++) acc[i][q] = SEQ__VSET1(0.0f);
        for (k = 0; k < kv; k += SEQ__VL) {
            SEQ__UNROLL for (q = 0; q < nj; q++) bk[q] = SEQ__VLOAD(b[q] + k);
            SEQ__UNROLL for (i = 0; i < m; i++) {
                seq__vf a = SEQ__VLOAD(A + i * lda + k);
                SEQ__UNROLL for (q = 0; q < nj; q++) acc[i][q] = SEQ__VFMA(a, bk[q], acc[i][q]);
            }
        }
        for (i = 0; i < m; i++)
            for (q = 0; q < have; q++) {
                float sum = SEQ__VSUM(acc[i][q]);
                for (k = kv; k < K; k++) sum += A[i * lda + k] * b[q][k];
                C[i * ldc + j + q] = seq__gemm_out(C[i * ldc + j + q], sum, alpha, beta);
            }
    }
}

/* The few-rows product if this case has one (op(A) transposed and op(B) j-major, a rare
 * pair, has not); 0 when the caller must take the blocked path. */
static int seq__gemm_small(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M > SEQ__SMALL_M || (transA && transB)) return 0;
    if (transB) {
        switch (M) {
        case 1: seq__gemm_small_dots(1, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 2: seq__gemm_small_dots(2, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 3: seq__gemm_small_dots(3, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        default: seq__gemm_small_dots(4, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        }
    } else {
        switch (M) {
        case 1: seq__gemm_small_rows(1, transA, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 2: seq__gemm_small_rows(2, transA, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 3: seq__gemm_small_rows(3, transA, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        default: seq__gemm_small_rows(4, transA, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        }
    }
    return 1;
}

/* Pack buffers sized to the problem: on the stack when small, else one allocation
 * (negligible next to the O(MNK) work); without memory, the reference still answers.
 * packed: op(B) already packed (seq_sgemm_pack), so only A needs a buffer. */
#define SEQ__GEMM_STACK_FLOATS 8192
static void seq__gemm_own(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                          int64_t lda, const float *B, int64_t ldb, const float *packed, float beta, float *C,
                          int64_t ldc) {
    float stack[SEQ__GEMM_STACK_FLOATS + 16], *heap = NULL, *buf;
    int64_t kc = seq__gemm_min(K, SEQ__KC), nc = seq__gemm_min(N, SEQ__NC), mcb = seq__gemm_mc(M);
    size_t bfloats = packed ? 0 : (size_t)(kc * ((nc + SEQ__NR - 1) / SEQ__NR * SEQ__NR));
    size_t floats = bfloats + (size_t)(kc * mcb) * (size_t)SEQ__GEMM_THREADS();
    if (seq__gemm_small(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    if (floats <= SEQ__GEMM_STACK_FLOATS) {
        buf = stack;
    } else {
        heap = (float *)SEQ_MALLOC(NULL, (floats + 16) * sizeof(float));
        if (!heap) {
            seq_sgemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
        buf = heap;
    }
    buf = (float *)(((uintptr_t)buf + 63) & ~(uintptr_t)63); /* 64-byte lines for the panels */
    seq__gemm_blocked(transA, transB, M, N, K, alpha, A, lda, B, ldb, packed, beta, C, ldc, buf, buf + bfloats,
                      mcb);
    SEQ_FREE(NULL, heap);
}
#endif /* !SEQ_USE_BLIS */

/* 1 when nothing is left to multiply: bad arguments (C untouched), an empty C, or a
 * zero product (C scaled by beta; A and B are not read). */
static int seq__gemm_done(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                          int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (!seq__gemm_args_ok(transA, transB, M, N, K, A, lda, B, ldb, C, ldc) || M == 0 || N == 0) return 1;
    if (K > 0 && alpha != 0.0f) return 0;
    seq__gemm_update(C, ldc, NULL, 0, M, N, 0.0f, beta);
    return 1;
}

SEQDEF void seq_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    if (seq__gemm_done(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
#ifdef SEQ_USE_BLIS
    /* BLIS takes a row and a column stride per matrix, so row-major needs no trick */
    bli_sgemm(SEQ__BLIS_TRANS(transA), SEQ__BLIS_TRANS(transB), M, N, K, &alpha, (float *)A, lda, 1, (float *)B,
              ldb, 1, &beta, C, ldc, 1);
#else
    seq__gemm_own(transA, transB, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc);
#endif
}

SEQDEF int64_t seq_sgemm_pack_floats(int64_t K, int64_t N) {
#ifdef SEQ_USE_BLIS
    (void)K;
    (void)N;
    return 0;
#else
    return K < 0 || N < 0 ? 0 : K * ((N + SEQ__NR - 1) / SEQ__NR * SEQ__NR);
#endif
}

SEQDEF seq_status seq_sgemm_pack(seq_sgemm_packed *p, int transB, int64_t K, int64_t N, const float *B, int64_t ldb,
                                 float *buf) {
    if (p) memset(p, 0, sizeof *p); /* a failed pack multiplies nothing (N = K = 0) */
    if (!p || K < 0 || N < 0 || (K > 0 && N > 0 && (!B || ldb < (transB ? K : N))) ||
        (seq_sgemm_pack_floats(K, N) > 0 && !buf))
        return seq__err(SEQ_ERR_INVALID, "seq_sgemm_pack: bad arguments (K=%lld N=%lld ldb=%lld)", (long long)K,
                        (long long)N, (long long)ldb);
    p->transB = transB;
    p->K = K;
    p->N = N;
    p->ldb = ldb;
    p->B = B;
    p->panels = buf;
#ifndef SEQ_USE_BLIS
    {
        /* op(B)(k,j) = B[k*bks + j*bcs] */
        int64_t bks = transB ? 1 : ldb, bcs = transB ? ldb : 1, jc, pc, jr;
        for (jc = 0; jc < N; jc += SEQ__NC)
            for (pc = 0; pc < K; pc += SEQ__KC) {
                int64_t nc = seq__gemm_min(N - jc, SEQ__NC), kc = seq__gemm_min(K - pc, SEQ__KC);
                float *dst = buf + seq__gemm_block_at(K, N, jc, pc);
                for (jr = 0; jr < nc; jr += SEQ__NR)
                    seq__gemm_pack(dst + jr * kc, B + pc * bks + (jc + jr) * bcs, bcs, bks,
                                   (int)seq__gemm_min(nc - jr, SEQ__NR), kc, SEQ__NR);
            }
    }
#endif
    return SEQ_OK;
}

SEQDEF void seq_sgemm_packed_mul(int transA, int64_t M, float alpha, const float *A, int64_t lda,
                                 const seq_sgemm_packed *p, float beta, float *C, int64_t ldc) {
    if (!p) {
        seq__err(SEQ_ERR_INVALID, "seq_sgemm_packed_mul: NULL pack");
        return;
    }
#ifdef SEQ_USE_BLIS
    seq_sgemm(transA, p->transB, M, p->N, p->K, alpha, A, lda, p->B, p->ldb, beta, C, ldc);
#else
    if (seq__gemm_done(transA, p->transB, M, p->N, p->K, alpha, A, lda, p->B, p->ldb, beta, C, ldc)) return;
    seq__gemm_own(transA, p->transB, M, p->N, p->K, alpha, A, lda, p->B, p->ldb, p->panels, beta, C, ldc);
#endif
}

/* ===================================================================================
 * 8  ops
 * =================================================================================== */

/* seq__ok, and every listed input holds floats: index tensors have no float ops. */
static int seq__ok_f32(seq_ctx *ctx, const char *op, int n, seq_tensor *const *ins) {
    int i;
    if (!seq__ok(ctx, op, n, ins)) return 0;
    for (i = 0; i < n; i++)
        if (ins[i]->dtype != SEQ_F32) {
            seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "input %d is not a float tensor", i);
            return 0;
        }
    return 1;
}

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

/* Shared front half of the broadcasting binary ops: checks, output, inner size. */
static seq_tensor *seq__binary_out(seq_ctx *ctx, const char *op, seq_tensor *a, seq_tensor *b, int64_t *inner) {
    seq_tensor *ins[2];
    ins[0] = a;
    ins[1] = b;
    if (!seq__ok_f32(ctx, op, 2, ins)) return NULL;
    *inner = seq__bcast_inner(a, b);
    if (*inner < 0) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "b (%lld elements) does not broadcast to a (%lld)",
                      (long long)b->numel, (long long)a->numel);
        return NULL;
    }
    return seq__out(ctx, op, a->ndim, a->shape, 2, ins);
}

/* y (M,out) = x (M,in) W^T + b */
static void seq__linear_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *W = n->in[1], *b = n->in[2];
    const float *gy = n->out->grad;
    int64_t in = W->shape[1], out = W->shape[0], M = seq__prod(x->shape, 0, x->ndim - 1), i;
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
    M = seq__prod(x->shape, 0, x->ndim - 1); /* not numel / in: in may be 0 */
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

/* --- 8a elementwise, activations, normalization, matmul, shape ---------------------- */

/* dim of x counted from the end when negative; -1 (ctx failed) when outside x. */
static int seq__dim(seq_ctx *ctx, const char *op, const seq_tensor *x, int dim) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "dim %d is outside a %d-d tensor", dim, x->ndim);
        return -1;
    }
    return d;
}

/* Sum over x[0..n) of x - shift, or of (x - shift)^2 with squares, in double. Four
 * partial sums let consecutive adds overlap instead of each waiting for the last. */
static double seq__sum_f64(const float *x, int64_t n, double shift, int squares) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i, k, n4 = n - n % 4;
    for (i = 0; i < n4; i += 4)
        for (k = 0; k < 4; k++) {
            double d = x[i + k] - shift;
            s[k] += squares ? d * d : d;
        }
    for (i = n4; i < n; i++) {
        double d = x[i] - shift;
        s[0] += squares ? d * d : d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Rows of the last dimension: x is (rows, *C). */
static int64_t seq__rows(const seq_tensor *x, int64_t *C) {
    *C = x->shape[x->ndim - 1];
    return *C ? x->numel / *C : 0;
}

/* ---- binary: y = a (op) b, b broadcast over a ---------------------------------------- */

typedef enum seq__binop { SEQ__ADD, SEQ__SUB, SEQ__MUL, SEQ__DIV } seq__binop;
static const char *const seq__binop_name[] = {"seq_add", "seq_sub", "seq_mul", "seq_div"};

/* Splits a into blocks of *len elements that b covers, b stepping *bs per element: b is
 * a whole block (inner elements, bs 1) or one element repeated over all of a (bs 0).
 * Returns the number of blocks. A step rather than i % inner keeps the loops vectorizable. */
static int64_t seq__bcast_blocks(int64_t numel, int64_t inner, int64_t *bs, int64_t *len) {
    *bs = inner == 1 ? 0 : 1;
    *len = *bs ? inner : numel;
    return *len ? numel / *len : 0;
}

static void seq__binary_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *a = n->in[0], *b = n->in[1];
    const float *go = n->out->grad, *y = n->out->data, *av = a->data, *bv = b->data;
    float *ga = seq__grad(ctx, a), *gb = seq__grad(ctx, b);
    float sign = n->i[0] == SEQ__SUB ? -1.0f : 1.0f;
    int64_t bs, len, nblk = seq__bcast_blocks(a->numel, b->numel, &bs, &len), o, p, j;
    for (o = 0, p = 0; o < nblk; o++, p += len) {
        switch ((seq__binop)n->i[0]) {
        case SEQ__ADD:
        case SEQ__SUB:
            if (ga)
                for (j = 0; j < len; j++) ga[p + j] += go[p + j];
            if (gb)
                for (j = 0; j < len; j++) gb[j * bs] += sign * go[p + j];
            break;
        case SEQ__MUL:
            if (ga)
                for (j = 0; j < len; j++) ga[p + j] += go[p + j] * bv[j * bs];
            if (gb)
                for (j = 0; j < len; j++) gb[j * bs] += go[p + j] * av[p + j];
            break;
        case SEQ__DIV: /* y = a/b: dy/da = 1/b, dy/db = -y/b */
            if (ga)
                for (j = 0; j < len; j++) ga[p + j] += go[p + j] / bv[j * bs];
            if (gb)
                for (j = 0; j < len; j++) gb[j * bs] -= go[p + j] * y[p + j] / bv[j * bs];
            break;
        }
    }
}

/* a (...), b (...) or a's trailing dims or one element -> y (...) */
static seq_tensor *seq__binary(seq_ctx *ctx, seq__binop k, seq_tensor *a, seq_tensor *b) {
    const char *op = seq__binop_name[k];
    seq_tensor *ins[2], *y;
    seq__node *n;
    const float *av, *bv;
    float *yv;
    int64_t inner, bs, len, nblk, o, p, j;
    y = seq__binary_out(ctx, op, a, b, &inner);
    if (!y) return NULL;
    av = a->data;
    bv = b->data;
    yv = y->data;
    nblk = seq__bcast_blocks(a->numel, inner, &bs, &len);
    for (o = 0, p = 0; o < nblk; o++, p += len) {
        switch (k) {
        case SEQ__ADD: for (j = 0; j < len; j++) yv[p + j] = av[p + j] + bv[j * bs]; break;
        case SEQ__SUB: for (j = 0; j < len; j++) yv[p + j] = av[p + j] - bv[j * bs]; break;
        case SEQ__MUL: for (j = 0; j < len; j++) yv[p + j] = av[p + j] * bv[j * bs]; break;
        case SEQ__DIV: for (j = 0; j < len; j++) yv[p + j] = av[p + j] / bv[j * bs]; break;
        }
    }
    ins[0] = a;
    ins[1] = b;
    n = seq__record(ctx, op, y, seq__binary_backward, 2, ins);
    if (n) n->i[0] = k;
    return y;
}

SEQDEF seq_tensor *seq_add(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) { return seq__binary(ctx, SEQ__ADD, a, b); }
SEQDEF seq_tensor *seq_sub(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) { return seq__binary(ctx, SEQ__SUB, a, b); }
SEQDEF seq_tensor *seq_mul(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) { return seq__binary(ctx, SEQ__MUL, a, b); }
SEQDEF seq_tensor *seq_div(seq_ctx *ctx, seq_tensor *a, seq_tensor *b) { return seq__binary(ctx, SEQ__DIV, a, b); }

/* ---- unary: y = f(x) elementwise, df/dx from the saved x or y ------------------------- */

typedef enum seq__unop {
    SEQ__RELU, SEQ__GELU, SEQ__GELU_TANH, SEQ__SILU, SEQ__TANH, SEQ__SIGMOID, SEQ__SOFTPLUS,
    SEQ__EXP, SEQ__LOG, SEQ__SCALE, SEQ__ADD_SCALAR
} seq__unop;
static const char *const seq__unop_name[] = {"seq_relu", "seq_gelu", "seq_gelu_tanh", "seq_silu", "seq_tanh",
                                             "seq_sigmoid", "seq_softplus", "seq_exp", "seq_log", "seq_scale",
                                             "seq_add_scalar"};

#define SEQ__SQRT1_2 0.70710678118654752f       /* 1/sqrt(2) */
#define SEQ__INV_SQRT_2PI 0.39894228040143268f  /* 1/sqrt(2 pi) */
#define SEQ__GELU_K 0.79788456080286536f        /* sqrt(2/pi) */
#define SEQ__GELU_C 0.044715f
#define SEQ__SOFTPLUS_LINEAR 20.0f              /* PyTorch's threshold: above it softplus(x) = x in f32 */

/* exp of -|x| only, so neither branch overflows for large |x| */
static float seq__sigmoidf(float x) {
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* Phi(x) through erfc: no cancellation in 1 + erf(x) for negative x */
static float seq__phif(float x) { return 0.5f * erfcf(-x * SEQ__SQRT1_2); }

static float seq__gelu_tanh_t(float x) { return tanhf(SEQ__GELU_K * (x + SEQ__GELU_C * x * x * x)); }
static float seq__gelu_tanhf(float x) { return 0.5f * x * (1.0f + seq__gelu_tanh_t(x)); }

/* d/dx of 0.5 x (1 + t), t = tanh(u), u = k (x + c x^3) */
static float seq__gelu_tanh_grad(float x) {
    float t = seq__gelu_tanh_t(x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SEQ__GELU_K * (1.0f + 3.0f * SEQ__GELU_C * x * x);
}

static float seq__silu_grad(float x) {
    float s = seq__sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

/* max(x,0) + log1p(e^-|x|) equals log(1 + e^x) without overflow */
static float seq__softplusf(float x) {
    return x > SEQ__SOFTPLUS_LINEAR ? x : fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

static void seq__unary_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *xt = n->in[0];
    const float *x = xt->data, *y = n->out->data, *go = n->out->grad;
    float *gx = seq__grad(ctx, xt), s = n->f[0];
    int64_t i, len = xt->numel;
    if (!gx) return;
    switch ((seq__unop)n->i[0]) {
    case SEQ__RELU: for (i = 0; i < len; i++) gx[i] += y[i] > 0.0f ? go[i] : 0.0f; break;
    case SEQ__GELU: /* Phi(x) + x phi(x) */
        for (i = 0; i < len; i++)
            gx[i] += go[i] * (seq__phif(x[i]) + x[i] * SEQ__INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]));
        break;
    case SEQ__GELU_TANH: for (i = 0; i < len; i++) gx[i] += go[i] * seq__gelu_tanh_grad(x[i]); break;
    case SEQ__SILU: for (i = 0; i < len; i++) gx[i] += go[i] * seq__silu_grad(x[i]); break;
    case SEQ__TANH: for (i = 0; i < len; i++) gx[i] += go[i] * (1.0f - y[i] * y[i]); break;
    case SEQ__SIGMOID: for (i = 0; i < len; i++) gx[i] += go[i] * y[i] * (1.0f - y[i]); break;
    case SEQ__SOFTPLUS: /* the sigmoid, and exactly 1 where the forward passed x through */
        for (i = 0; i < len; i++) gx[i] += x[i] > SEQ__SOFTPLUS_LINEAR ? go[i] : go[i] * seq__sigmoidf(x[i]);
        break;
    case SEQ__EXP: for (i = 0; i < len; i++) gx[i] += go[i] * y[i]; break;
    case SEQ__LOG: for (i = 0; i < len; i++) gx[i] += go[i] / x[i]; break;
    case SEQ__SCALE: for (i = 0; i < len; i++) gx[i] += go[i] * s; break;
    case SEQ__ADD_SCALAR: for (i = 0; i < len; i++) gx[i] += go[i]; break;
    }
}

/* x (...) -> y (...); s is the constant of seq_scale and seq_add_scalar */
static seq_tensor *seq__unary(seq_ctx *ctx, seq__unop k, seq_tensor *x, float s) {
    const char *op = seq__unop_name[k];
    seq_tensor *y;
    seq__node *n;
    const float *xv;
    float *yv;
    int64_t i, len;
    if (!seq__ok_f32(ctx, op, 1, &x)) return NULL;
    y = seq__out(ctx, op, x->ndim, x->shape, 1, &x);
    if (!y) return NULL;
    xv = x->data;
    yv = y->data;
    len = x->numel;
    switch (k) {
    case SEQ__RELU: for (i = 0; i < len; i++) yv[i] = xv[i] < 0.0f ? 0.0f : xv[i]; break; /* NaN stays NaN */
    case SEQ__GELU: for (i = 0; i < len; i++) yv[i] = xv[i] * seq__phif(xv[i]); break;
    case SEQ__GELU_TANH: for (i = 0; i < len; i++) yv[i] = seq__gelu_tanhf(xv[i]); break;
    case SEQ__SILU: for (i = 0; i < len; i++) yv[i] = xv[i] * seq__sigmoidf(xv[i]); break;
    case SEQ__TANH: for (i = 0; i < len; i++) yv[i] = tanhf(xv[i]); break;
    case SEQ__SIGMOID: for (i = 0; i < len; i++) yv[i] = seq__sigmoidf(xv[i]); break;
    case SEQ__SOFTPLUS: for (i = 0; i < len; i++) yv[i] = seq__softplusf(xv[i]); break;
    case SEQ__EXP: for (i = 0; i < len; i++) yv[i] = expf(xv[i]); break;
    case SEQ__LOG: for (i = 0; i < len; i++) yv[i] = logf(xv[i]); break;
    case SEQ__SCALE: for (i = 0; i < len; i++) yv[i] = xv[i] * s; break;
    case SEQ__ADD_SCALAR: for (i = 0; i < len; i++) yv[i] = xv[i] + s; break;
    }
    n = seq__record(ctx, op, y, seq__unary_backward, 1, &x);
    if (n) {
        n->i[0] = k;
        n->f[0] = s;
    }
    return y;
}

SEQDEF seq_tensor *seq_scale(seq_ctx *ctx, seq_tensor *x, float s) { return seq__unary(ctx, SEQ__SCALE, x, s); }
SEQDEF seq_tensor *seq_add_scalar(seq_ctx *ctx, seq_tensor *x, float s) {
    return seq__unary(ctx, SEQ__ADD_SCALAR, x, s);
}
SEQDEF seq_tensor *seq_relu(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__RELU, x, 0.0f); }
SEQDEF seq_tensor *seq_gelu(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__GELU, x, 0.0f); }
SEQDEF seq_tensor *seq_gelu_tanh(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__GELU_TANH, x, 0.0f); }
SEQDEF seq_tensor *seq_silu(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__SILU, x, 0.0f); }
SEQDEF seq_tensor *seq_tanh(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__TANH, x, 0.0f); }
SEQDEF seq_tensor *seq_sigmoid(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__SIGMOID, x, 0.0f); }
SEQDEF seq_tensor *seq_softplus(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__SOFTPLUS, x, 0.0f); }
SEQDEF seq_tensor *seq_exp(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__EXP, x, 0.0f); }
SEQDEF seq_tensor *seq_log(seq_ctx *ctx, seq_tensor *x) { return seq__unary(ctx, SEQ__LOG, x, 0.0f); }

/* ---- exp, sigmoid and tanh the compiler can vectorize; row max and sum of exps --------- */

/* libm's expf is a call a loop cannot vectorize without -ffast-math; the softmax family
 * takes one per logit (12,101 per row for a recommender over all of Amazon Beauty), the
 * recurrent cells, the scans and the blocks' activations one per element, so they get
 * these. */

/* e^x: x = k ln2 + r with |r| <= ln2/2, e^r by Cephes' expf polynomial, 2^k placed in
 * the exponent bits. Within 1.5 ulp of expf for x in [-87.3, 88], where e^x is a normal
 * float; above, x is clamped to 88 (e^88 ~ 1.7e38); below, e^x is 0, so a masked (-inf)
 * logit gets probability 0 exactly. NaN stays NaN. */
static inline float seq__expf_vec(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t, k, r, p, y, c;
    int32_t bits;
    uint32_t e;
    c = x < -87.33654f ? -87.33654f : x;
    c = c > 88.0f ? 88.0f : c;
    t = c * 1.44269504088896341f + magic;
    k = t - magic;
    r = c - k * 0.693359375f; /* ln2 in two parts (Cody & Waite): this one is exact */
    r = r - k * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    y = p * (r * r) + r + 1.0f;
    memcpy(&bits, &t, sizeof bits);
    e = (uint32_t)(bits - 0x4B400000 + 127) << 23; /* t's low bits hold k */
    memcpy(&t, &e, sizeof t);
    return x < -87.33654f ? 0.0f : y * t;
}

static inline float seq__sigmoidf_vec(float x) { return 1.0f / (1.0f + seq__expf_vec(-x)); }

/* tanh x = 1 - 2 / (1 + e^2x): saturates to +-1 without overflow (e^x is clamped); near
 * 0 its absolute error is a few 1e-8 (float rounding of 1 - 2/(2 + 2x)). */
static inline float seq__tanhf_vec(float x) { return 1.0f - 2.0f / (1.0f + seq__expf_vec(2.0f * x)); }

/* A row's max and its sum of exps keep SEQ__ROW_LANES running values: one running max or
 * sum is a chain the compiler may not reorder without -ffast-math, so its loop would stay
 * scalar. With 32 lanes gcc 12 vectorizes the lane loop rather than unrolling it away. */
#define SEQ__ROW_LANES 32

/* max of x (n >= 1). A NaN in x[0] stays the answer (lane 0 starts there), as a scan from
 * x[0] would keep it; a NaN elsewhere is skipped, and the exps of the row then carry it. */
static float seq__row_max(const float *x, int64_t n) {
    float lane[SEQ__ROW_LANES], m = x[0];
    int64_t k = 0, l;
    if (n >= SEQ__ROW_LANES) {
        for (l = 0; l < SEQ__ROW_LANES; l++) lane[l] = x[l];
        for (k = SEQ__ROW_LANES; k + SEQ__ROW_LANES <= n; k += SEQ__ROW_LANES)
            for (l = 0; l < SEQ__ROW_LANES; l++) lane[l] = x[k + l] > lane[l] ? x[k + l] : lane[l];
        for (m = lane[0], l = 1; l < SEQ__ROW_LANES; l++) m = lane[l] > m ? lane[l] : m;
    }
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    return m;
}

/* sum_k e^(x_k - m) over x (n), in double; y (n), when not NULL, receives the terms. */
static double seq__row_sum_exp(const float *x, int64_t n, float m, float *y) {
    double lane[SEQ__ROW_LANES], s = 0.0;
    float e[SEQ__ROW_LANES];
    int64_t k, l;
    for (l = 0; l < SEQ__ROW_LANES; l++) lane[l] = 0.0;
    for (k = 0; k + SEQ__ROW_LANES <= n; k += SEQ__ROW_LANES) {
        for (l = 0; l < SEQ__ROW_LANES; l++) e[l] = seq__expf_vec(x[k + l] - m);
        for (l = 0; l < SEQ__ROW_LANES; l++) lane[l] += e[l];
        if (y) memcpy(y + k, e, sizeof e);
    }
    for (l = 0; l < SEQ__ROW_LANES; l++) s += lane[l];
    for (; k < n; k++) {
        e[0] = seq__expf_vec(x[k] - m);
        s += e[0];
        if (y) y[k] = e[0];
    }
    return s;
}

/* ---- row ops over the last dim: softmax, log_softmax, layernorm, rmsnorm -------------- */

/* True when x has a last dim to work on (a 0-d tensor has none). */
static int seq__has_rows(seq_ctx *ctx, const char *op, const seq_tensor *x) {
    if (x->ndim >= 1) return 1;
    seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs at least one dimension, got a scalar");
    return 0;
}

/* softmax: dx = y (dy - sum(dy y)); log_softmax: dx = dy - e^y sum(dy), per row */
static void seq__softmax_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0];
    const float *y = n->out->data, *go = n->out->grad;
    float *gx = seq__grad(ctx, x);
    int64_t C, rows = seq__rows(x, &C), r, j;
    if (!gx) return;
    for (r = 0; r < rows; r++, y += C, go += C, gx += C) {
        double dot = 0.0;
        if (n->i[0]) {
            for (j = 0; j < C; j++) dot += go[j];
            for (j = 0; j < C; j++) gx[j] += go[j] - seq__expf_vec(y[j]) * (float)dot;
        } else {
            for (j = 0; j < C; j++) dot += (double)go[j] * y[j];
            for (j = 0; j < C; j++) gx[j] += y[j] * (go[j] - (float)dot);
        }
    }
}

/* x (rows,C) -> y (rows,C); the row max is subtracted first so exp cannot overflow */
static seq_tensor *seq__softmax(seq_ctx *ctx, const char *op, seq_tensor *x, int log_out) {
    seq_tensor *y;
    seq__node *n;
    const float *xr;
    float *yr;
    int64_t C, rows, r, j;
    if (!seq__ok_f32(ctx, op, 1, &x) || !seq__has_rows(ctx, op, x)) return NULL;
    y = seq__out(ctx, op, x->ndim, x->shape, 1, &x);
    if (!y) return NULL;
    rows = seq__rows(x, &C);
    for (r = 0, xr = x->data, yr = y->data; r < rows; r++, xr += C, yr += C) {
        float m = seq__row_max(xr, C);
        if (log_out) {
            float lse = (float)log(seq__row_sum_exp(xr, C, m, NULL));
            for (j = 0; j < C; j++) yr[j] = (xr[j] - m) - lse;
        } else {
            float inv = (float)(1.0 / seq__row_sum_exp(xr, C, m, yr));
            for (j = 0; j < C; j++) yr[j] *= inv;
        }
    }
    n = seq__record(ctx, op, y, seq__softmax_backward, 1, &x);
    if (n) n->i[0] = log_out;
    return y;
}

SEQDEF seq_tensor *seq_softmax(seq_ctx *ctx, seq_tensor *x) {
    return seq__softmax(ctx, "seq_softmax", x, 0);
}
SEQDEF seq_tensor *seq_log_softmax(seq_ctx *ctx, seq_tensor *x) {
    return seq__softmax(ctx, "seq_log_softmax", x, 1);
}

/* With xh = (x - mean) rstd and d = dy w per row of C:
 *   dx = rstd (d - mean(d) - xh mean(d xh)),  dw += dy xh,  db += dy.
 * RMSNorm is the same with mean fixed at 0, which also drops the mean(d) term.
 * aux holds (mean, rstd) per row. */
static void seq__norm_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const float *stats = (const float *)n->aux, *go = n->out->grad, *xr = x->data;
    float *gx = seq__grad(ctx, x), *gw = seq__grad(ctx, w), *gb = seq__grad(ctx, b);
    int64_t C, rows = seq__rows(x, &C), r, j;
    for (r = 0; r < rows; r++, xr += C, go += C) {
        float mean = stats[2 * r], rstd = stats[2 * r + 1];
        double sd = 0.0, sdx = 0.0;
        for (j = 0; j < C; j++) {
            float xh = (xr[j] - mean) * rstd, d = w ? go[j] * w->data[j] : go[j];
            sd += d;
            sdx += (double)d * xh;
            if (gw) gw[j] += go[j] * xh;
            if (gb) gb[j] += go[j];
        }
        if (gx) {
            float md = n->i[0] ? (float)(sd / (double)C) : 0.0f, mdx = (float)(sdx / (double)C);
            for (j = 0; j < C; j++) {
                float xh = (xr[j] - mean) * rstd, d = w ? go[j] * w->data[j] : go[j];
                gx[r * C + j] += rstd * (d - md - xh * mdx);
            }
        }
    }
}

/* w or b: NULL, or a float vector of C elements. */
static int seq__is_row_param(const seq_tensor *t, int64_t C) {
    return !t || (t->dtype == SEQ_F32 && t->ndim == 1 && t->shape[0] == C);
}

/* x (rows,C) -> y (rows,C) = (x - mean) rstd w + b, rstd = 1/sqrt(var + eps); center = 0
 * is RMSNorm: mean 0, var = mean(x^2). Statistics in double. */
static seq_tensor *seq__norm(seq_ctx *ctx, const char *op, seq_tensor *x, seq_tensor *w, seq_tensor *b,
                             float eps, int center) {
    seq_tensor *ins[3], *y;
    seq__node *n;
    float *stats;
    const float *xr;
    int64_t C, rows, r, j;
    ins[0] = x;
    ins[1] = w;
    ins[2] = b;
    if (!seq__ok_f32(ctx, op, 1, &x) || !seq__has_rows(ctx, op, x)) return NULL;
    rows = seq__rows(x, &C);
    if (!seq__is_row_param(w, C) || !seq__is_row_param(b, C)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "weight and bias must be NULL or float vectors of %lld",
                      (long long)C);
        return NULL;
    }
    if (!(eps >= 0.0f && isfinite(eps))) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "eps must be finite and >= 0, got %g", (double)eps);
        return NULL;
    }
    y = seq__out(ctx, op, x->ndim, x->shape, 3, ins);
    stats = (float *)seq_ctx_alloc(ctx, (size_t)rows * 2 * sizeof(float));
    if (!y || !stats) return NULL;
    for (r = 0, xr = x->data; r < rows; r++, xr += C) {
        double mean = center ? seq__sum_f64(xr, C, 0.0, 0) / (double)C : 0.0;
        double var = seq__sum_f64(xr, C, mean, 1) / (double)C;
        float rstd = (float)(1.0 / sqrt(var + eps)), *yr = y->data + r * C;
        stats[2 * r] = (float)mean;
        stats[2 * r + 1] = rstd;
        for (j = 0; j < C; j++) {
            float xh = (xr[j] - (float)mean) * rstd;
            yr[j] = (w ? xh * w->data[j] : xh) + (b ? b->data[j] : 0.0f);
        }
    }
    n = seq__record(ctx, op, y, seq__norm_backward, 3, ins);
    if (n) {
        n->aux = stats;
        n->i[0] = center;
    }
    return y;
}

SEQDEF seq_tensor *seq_layernorm(seq_ctx *ctx, seq_tensor *x, seq_tensor *weight, seq_tensor *bias, float eps) {
    return seq__norm(ctx, "seq_layernorm", x, weight, bias, eps, 1);
}

SEQDEF seq_tensor *seq_rmsnorm(seq_ctx *ctx, seq_tensor *x, seq_tensor *weight, float eps) {
    return seq__norm(ctx, "seq_rmsnorm", x, weight, NULL, eps, 0);
}

/* ---- matmul ------------------------------------------------------------------------- */

/* One seq_matmul as batch GEMMs: op(A) (M,K) times op(B) (K,N) into C (M,N), the
 * operands of batch t at t*sa, t*sb, t*sc (sb = 0: one B for every batch). */
typedef struct seq__mm {
    int ta, tb;
    int64_t batch, M, N, K, lda, ldb, sa, sb, sc;
} seq__mm;

/* Size of t's k-th dim from the end, -1 when t has fewer dims (for messages). */
static int64_t seq__size_back(const seq_tensor *t, int k) { return t->ndim >= k ? t->shape[t->ndim - k] : -1; }

/* Fills p from the shapes; 0 when they do not fit. */
static int seq__mm_plan(seq__mm *p, const seq_tensor *a, const seq_tensor *b, int ta, int tb) {
    int da = a->ndim, db = b->ndim, k;
    int64_t Kb;
    if (da < 2 || db < 2 || (db != 2 && db != da)) return 0;
    for (k = 0; db == da && k < da - 2; k++)
        if (a->shape[k] != b->shape[k]) return 0;
    p->ta = ta != 0;
    p->tb = tb != 0;
    p->M = a->shape[da - 2 + p->ta];
    p->K = a->shape[da - 1 - p->ta];
    Kb = b->shape[db - 2 + p->tb];
    p->N = b->shape[db - 1 - p->tb];
    p->lda = a->shape[da - 1];
    p->ldb = b->shape[db - 1];
    p->batch = seq__prod(a->shape, 0, da - 2);
    p->sb = db == 2 ? 0 : p->K * p->N;
    /* a shared B under an untransposed A: the batches stack into one taller GEMM */
    if (!p->sb && !p->ta) {
        p->M *= p->batch;
        p->batch = 1;
    }
    p->sa = p->M * p->K;
    p->sc = p->M * p->N;
    return Kb == p->K;
}

/* C = op(A) op(B):  dop(A) = dC op(B)^T,  dop(B) = op(A)^T dC; a transposed operand
 * gets the transpose of its gradient. Every GEMM accumulates (beta 1), which also sums
 * a shared B's gradient over the batches. */
static void seq__matmul_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *a = n->in[0], *b = n->in[1];
    float *ga = seq__grad(ctx, a), *gb = seq__grad(ctx, b);
    seq__mm p;
    int64_t t;
    seq__mm_plan(&p, a, b, (int)n->i[0], (int)n->i[1]);
    if (!p.M || !p.N || !p.K) return;
    for (t = 0; t < p.batch; t++) {
        const float *A = a->data + t * p.sa, *B = b->data + t * p.sb, *G = n->out->grad + t * p.sc;
        if (ga && !p.ta) seq_sgemm(0, !p.tb, p.M, p.K, p.N, 1.0f, G, p.N, B, p.ldb, 1.0f, ga + t * p.sa, p.K);
        if (ga && p.ta) seq_sgemm(p.tb, 1, p.K, p.M, p.N, 1.0f, B, p.ldb, G, p.N, 1.0f, ga + t * p.sa, p.M);
        if (gb && !p.tb) seq_sgemm(!p.ta, 0, p.K, p.N, p.M, 1.0f, A, p.lda, G, p.N, 1.0f, gb + t * p.sb, p.N);
        if (gb && p.tb) seq_sgemm(1, p.ta, p.N, p.K, p.M, 1.0f, G, p.N, A, p.lda, 1.0f, gb + t * p.sb, p.K);
    }
}

SEQDEF seq_tensor *seq_matmul(seq_ctx *ctx, seq_tensor *a, seq_tensor *b, int transA, int transB) {
    static const char op[] = "seq_matmul";
    seq_tensor *ins[2], *y;
    seq__node *n;
    seq__mm p;
    int64_t shape[SEQ_MAX_DIMS], t;
    ins[0] = a;
    ins[1] = b;
    if (!seq__ok_f32(ctx, op, 2, ins)) return NULL;
    if (!seq__mm_plan(&p, a, b, transA, transB)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "a %d-d (...,%lld,%lld) and b %d-d (...,%lld,%lld) do not fit",
                      a->ndim, (long long)seq__size_back(a, 2), (long long)seq__size_back(a, 1), b->ndim,
                      (long long)seq__size_back(b, 2), (long long)seq__size_back(b, 1));
        return NULL;
    }
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 2] = a->shape[a->ndim - 2 + p.ta];
    shape[a->ndim - 1] = p.N;
    y = seq__out(ctx, op, a->ndim, shape, 2, ins);
    if (!y) return NULL;
    if (!p.K) memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* an empty sum */
    for (t = 0; p.M && p.N && p.K && t < p.batch; t++)
        seq_sgemm(p.ta, p.tb, p.M, p.N, p.K, 1.0f, a->data + t * p.sa, p.lda, b->data + t * p.sb, p.ldb, 0.0f,
                  y->data + t * p.sc, p.N);
    n = seq__record(ctx, op, y, seq__matmul_backward, 2, ins);
    if (n) {
        n->i[0] = p.ta;
        n->i[1] = p.tb;
    }
    return y;
}

/* ---- shape ops ---------------------------------------------------------------------- */

/* Identity on the elements: the gradient passes straight through. */
static void seq__reshape_backward(seq_ctx *ctx, seq__node *n) {
    const float *go = n->out->grad;
    float *gx = seq__grad(ctx, n->in[0]);
    int64_t i;
    if (gx)
        for (i = 0; i < n->out->numel; i++) gx[i] += go[i];
}

/* x (...) -> y (shape), the same data */
SEQDEF seq_tensor *seq_reshape(seq_ctx *ctx, seq_tensor *x, int ndim, const int64_t *shape) {
    static const char op[] = "seq_reshape";
    seq_tensor *y;
    int64_t s[SEQ_MAX_DIMS] = {0, 0, 0, 0}, known; /* zeroed: gcc -O2 cannot see ndim bounds the reads */
    int k, infer = -1;
    if (!seq__ok_f32(ctx, op, 1, &x)) return NULL;
    if (ndim < 0 || ndim > SEQ_MAX_DIMS || (ndim > 0 && !shape)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "ndim %d (at most %d) or NULL shape", ndim, SEQ_MAX_DIMS);
        return NULL;
    }
    for (k = 0; k < ndim; k++) {
        s[k] = shape[k];
        if (s[k] == -1 && infer < 0) {
            infer = k;
            s[k] = 1;
        }
    }
    known = seq__numel(ndim, s); /* -1 for any other negative entry */
    if (infer >= 0) s[infer] = known > 0 && x->numel % known == 0 ? x->numel / known : -1;
    if (seq__numel(ndim, s) != x->numel) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "%lld elements do not fit the requested %d-d shape",
                      (long long)x->numel, ndim);
        return NULL;
    }
    y = seq__tensor_header(ctx, op, SEQ_F32, ndim, s);
    if (!y) return NULL;
    y->data = x->data;
    y->requires_grad = seq__any_grad(ctx, 1, &x);
    seq__record(ctx, op, y, seq__reshape_backward, 1, &x);
    return y;
}

/* dst += src with dims d0 and d1 swapped: src has (ndim, shape), dst the swapped shape.
 * Shapes are padded to 4 dims in front, so one loop nest serves every rank. */
static void seq__swap_add(const float *src, int ndim, const int64_t *shape, int d0, int d1, float *dst) {
    int64_t os[4], st[4], i0, i1, i2, i3, t;
    int k, pad = 4 - ndim;
    for (k = 0; k < 4; k++) os[k] = k < pad ? 1 : shape[k - pad];
    st[3] = 1;
    for (k = 2; k >= 0; k--) st[k] = st[k + 1] * os[k + 1];
    /* walk dst in order: its extents and the matching src strides are src's, swapped */
    d0 += pad;
    d1 += pad;
    t = os[d0];
    os[d0] = os[d1];
    os[d1] = t;
    t = st[d0];
    st[d0] = st[d1];
    st[d1] = t;
    for (i0 = 0; i0 < os[0]; i0++)
        for (i1 = 0; i1 < os[1]; i1++)
            for (i2 = 0; i2 < os[2]; i2++) {
                const float *row = src + i0 * st[0] + i1 * st[1] + i2 * st[2];
                for (i3 = 0; i3 < os[3]; i3++) *dst++ += row[i3 * st[3]];
            }
}

static void seq__transpose_backward(seq_ctx *ctx, seq__node *n) {
    float *gx = seq__grad(ctx, n->in[0]);
    if (gx) seq__swap_add(n->out->grad, n->out->ndim, n->out->shape, (int)n->i[0], (int)n->i[1], gx);
}

/* x (..., A, ..., B, ...) -> y (..., B, ..., A, ...) */
SEQDEF seq_tensor *seq_transpose(seq_ctx *ctx, seq_tensor *x, int d0, int d1) {
    static const char op[] = "seq_transpose";
    seq_tensor *y;
    seq__node *n;
    int64_t shape[SEQ_MAX_DIMS];
    if (!seq__ok_f32(ctx, op, 1, &x)) return NULL;
    d0 = seq__dim(ctx, op, x, d0);
    d1 = d0 < 0 ? -1 : seq__dim(ctx, op, x, d1);
    if (d1 < 0) return NULL;
    memcpy(shape, x->shape, sizeof shape);
    shape[d0] = x->shape[d1];
    shape[d1] = x->shape[d0];
    y = seq__out(ctx, op, x->ndim, shape, 1, &x);
    if (!y) return NULL;
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    seq__swap_add(x->data, x->ndim, x->shape, d0, d1, y->data);
    n = seq__record(ctx, op, y, seq__transpose_backward, 1, &x);
    if (n) {
        n->i[0] = d0;
        n->i[1] = d1;
    }
    return y;
}

/* outer rows of count floats each: dst rows dstride apart, src rows sstride apart;
 * copied, or added into dst when acc. */
static void seq__slab(int64_t outer, int64_t count, const float *src, int64_t sstride, float *dst,
                      int64_t dstride, int acc) {
    int64_t o, j;
    if (count == 0) return;
    for (o = 0; o < outer; o++, src += sstride, dst += dstride) {
        if (acc)
            for (j = 0; j < count; j++) dst[j] += src[j];
        else
            memcpy(dst, src, (size_t)count * sizeof(float));
    }
}

/* Each input is a (outer, D_k, inner) block of y (outer, sum D_k, inner) at offset off_k;
 * the inputs are listed in aux since a node has room for only four. */
static void seq__concat_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor **xs = (seq_tensor **)n->aux, *y = n->out;
    int dim = (int)n->i[1];
    int64_t outer = seq__prod(y->shape, 0, dim), inner = seq__prod(y->shape, dim + 1, y->ndim), off = 0, k;
    for (k = 0; k < n->i[0]; k++) {
        int64_t len = xs[k]->shape[dim] * inner;
        float *gx = seq__grad(ctx, xs[k]);
        if (gx) seq__slab(outer, len, y->grad + off, y->shape[dim] * inner, gx, len, 1);
        off += len;
    }
}

/* xs[k] (..., D_k, ...) -> y (..., sum D_k, ...) */
SEQDEF seq_tensor *seq_concat(seq_ctx *ctx, seq_tensor *const *xs, int n, int dim) {
    static const char op[] = "seq_concat";
    seq_tensor *y, **list;
    seq__node *node;
    int64_t shape[SEQ_MAX_DIMS], outer, inner, off = 0;
    int k, j;
    if (!ctx || ctx->status != SEQ_OK) return NULL;
    if (!xs || n < 1) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "needs a list of n >= 1 tensors, got %s and n = %d",
                      xs ? "a list" : "NULL", n);
        return NULL;
    }
    if (!seq__ok_f32(ctx, op, n, xs) || (dim = seq__dim(ctx, op, xs[0], dim)) < 0) return NULL;
    memcpy(shape, xs[0]->shape, sizeof shape);
    for (k = 1; k < n; k++) {
        int fits = xs[k]->ndim == xs[0]->ndim;
        for (j = 0; fits && j < xs[0]->ndim; j++) fits = j == dim || xs[k]->shape[j] == shape[j];
        if (!fits) {
            seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "input %d differs from input 0 outside dim %d", k, dim);
            return NULL;
        }
        shape[dim] += xs[k]->shape[dim];
    }
    y = seq__out(ctx, op, xs[0]->ndim, shape, n, xs);
    if (!y) return NULL;
    outer = seq__prod(shape, 0, dim);
    inner = seq__prod(shape, dim + 1, y->ndim);
    for (k = 0; k < n; k++) {
        int64_t len = xs[k]->shape[dim] * inner;
        seq__slab(outer, len, xs[k]->data, len, y->data + off, shape[dim] * inner, 0);
        off += len;
    }
    if (!y->requires_grad) return y;
    list = (seq_tensor **)seq_ctx_alloc(ctx, (size_t)n * sizeof *list);
    if (!list) return NULL;
    memcpy(list, xs, (size_t)n * sizeof *list);
    node = seq__record(ctx, op, y, seq__concat_backward, 0, NULL);
    if (node) {
        node->aux = list;
        node->i[0] = n;
        node->i[1] = dim;
    }
    return y;
}

/* y is the (outer, L, inner) block of x (outer, D, inner) starting at start */
static void seq__slice_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0];
    float *gx = seq__grad(ctx, x);
    int dim = (int)n->i[0];
    int64_t outer = seq__prod(x->shape, 0, dim), inner = seq__prod(x->shape, dim + 1, x->ndim);
    int64_t len = n->out->shape[dim] * inner;
    if (gx) seq__slab(outer, len, n->out->grad, len, gx + n->i[1] * inner, x->shape[dim] * inner, 1);
}

/* x (..., D, ...) -> y (..., end - start, ...) */
SEQDEF seq_tensor *seq_slice(seq_ctx *ctx, seq_tensor *x, int dim, int64_t start, int64_t end) {
    static const char op[] = "seq_slice";
    seq_tensor *y;
    seq__node *n;
    int64_t shape[SEQ_MAX_DIMS], outer, inner, len;
    if (!seq__ok_f32(ctx, op, 1, &x) || (dim = seq__dim(ctx, op, x, dim)) < 0) return NULL;
    if (start < 0 || start > end || end > x->shape[dim]) {
        seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "[%lld, %lld) is not inside dim %d of size %lld",
                      (long long)start, (long long)end, dim, (long long)x->shape[dim]);
        return NULL;
    }
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = end - start;
    y = seq__out(ctx, op, x->ndim, shape, 1, &x);
    if (!y) return NULL;
    outer = seq__prod(shape, 0, dim);
    inner = seq__prod(shape, dim + 1, x->ndim);
    len = shape[dim] * inner;
    seq__slab(outer, len, x->data + start * inner, x->shape[dim] * inner, y->data, len, 0);
    n = seq__record(ctx, op, y, seq__slice_backward, 1, &x);
    if (n) {
        n->i[0] = dim;
        n->i[1] = start;
    }
    return y;
}

/* ---- reductions ----------------------------------------------------------------------- */

/* x (outer, D, inner) -> y (outer, inner); node i[] = outer, D, inner, divisor */
static void seq__reduce_backward(seq_ctx *ctx, seq__node *n) {
    const float *go = n->out->grad;
    float *gx = seq__grad(ctx, n->in[0]), inv = 1.0f / (float)n->i[3];
    int64_t outer = n->i[0], D = n->i[1], inner = n->i[2], o, d, j;
    if (!gx) return;
    for (o = 0; o < outer; o++, go += inner)
        for (d = 0; d < D; d++, gx += inner)
            for (j = 0; j < inner; j++) gx[j] += go[j] * inv;
}

/* x viewed as (outer, D, inner) -> y (outer, inner) with the given shape: the sum over D
 * in double, divided by D for a mean. */
static seq_tensor *seq__reduce(seq_ctx *ctx, const char *op, seq_tensor *x, const int64_t odi[3], int mean,
                               int ndim, const int64_t *shape) {
    int64_t outer = odi[0], D = odi[1], inner = odi[2], div = mean ? D : 1, o, d, j;
    const float *xv = x->data;
    seq_tensor *y;
    seq__node *n;
    double *acc;
    if (mean && D == 0) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "the mean of no elements is undefined");
        return NULL;
    }
    y = seq__out(ctx, op, ndim, shape, 1, &x);
    acc = (double *)seq_ctx_alloc(ctx, (size_t)inner * sizeof(double) + 1);
    if (!y || !acc) return NULL;
    for (o = 0; o < outer; o++) {
        if (inner == 1) { /* contiguous: the common sum of everything or of rows */
            y->data[o] = (float)(seq__sum_f64(xv, D, 0.0, 0) / (double)div);
            xv += D;
            continue;
        }
        for (j = 0; j < inner; j++) acc[j] = 0.0;
        for (d = 0; d < D; d++, xv += inner)
            for (j = 0; j < inner; j++) acc[j] += xv[j];
        for (j = 0; j < inner; j++) y->data[o * inner + j] = (float)(acc[j] / (double)div);
    }
    n = seq__record(ctx, op, y, seq__reduce_backward, 1, &x);
    if (n) {
        n->i[0] = outer;
        n->i[1] = D;
        n->i[2] = inner;
        n->i[3] = div;
    }
    return y;
}

/* x (...) -> scalar () */
static seq_tensor *seq__reduce_all(seq_ctx *ctx, const char *op, seq_tensor *x, int mean) {
    int64_t odi[3];
    if (!seq__ok_f32(ctx, op, 1, &x)) return NULL;
    odi[0] = 1;
    odi[1] = x->numel;
    odi[2] = 1;
    return seq__reduce(ctx, op, x, odi, mean, 0, NULL);
}

/* x (..., D, ...) -> (..., 1, ...) with keepdim, else (..., ...) */
static seq_tensor *seq__reduce_dim(seq_ctx *ctx, const char *op, seq_tensor *x, int dim, int keepdim,
                                   int mean) {
    int64_t odi[3], shape[SEQ_MAX_DIMS];
    int k, ndim = 0;
    if (!seq__ok_f32(ctx, op, 1, &x) || (dim = seq__dim(ctx, op, x, dim)) < 0) return NULL;
    odi[0] = seq__prod(x->shape, 0, dim);
    odi[1] = x->shape[dim];
    odi[2] = seq__prod(x->shape, dim + 1, x->ndim);
    for (k = 0; k < x->ndim; k++)
        if (k != dim) shape[ndim++] = x->shape[k];
        else if (keepdim) shape[ndim++] = 1;
    return seq__reduce(ctx, op, x, odi, mean, ndim, shape);
}

SEQDEF seq_tensor *seq_sum(seq_ctx *ctx, seq_tensor *x) {
    return seq__reduce_all(ctx, "seq_sum", x, 0);
}
SEQDEF seq_tensor *seq_mean(seq_ctx *ctx, seq_tensor *x) {
    return seq__reduce_all(ctx, "seq_mean", x, 1);
}
SEQDEF seq_tensor *seq_sum_dim(seq_ctx *ctx, seq_tensor *x, int dim, int keepdim) {
    return seq__reduce_dim(ctx, "seq_sum_dim", x, dim, keepdim, 0);
}
SEQDEF seq_tensor *seq_mean_dim(seq_ctx *ctx, seq_tensor *x, int dim, int keepdim) {
    return seq__reduce_dim(ctx, "seq_mean_dim", x, dim, keepdim, 1);
}

/* --- 8b sequence ops: embedding, dropout, causal conv1d, attention ------------------- */

/* Writes v[0..n) between open and close into buf for error messages, "(2,3)" for a
 * shape or "[1,0]" for a position; cut short when cap is too small. */
static void seq__dims_str(char *buf, size_t cap, int n, const int64_t *v, char open, char close) {
    size_t len = 0;
    int d;
    buf[0] = 0;
    if (cap < 3) return;
    buf[len++] = open;
    for (d = 0; d < n && len < cap; d++) {
        int w = snprintf(buf + len, cap - len, d ? ",%lld" : "%lld", (long long)v[d]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len + 1 < cap) {
        buf[len++] = close;
        buf[len] = 0;
    }
}

/* SEQ_ERR_SHAPE saying what op needs and what it got: "needs ...; got x (2,3) f32, b NULL". */
static void seq__shape_fail(seq_ctx *ctx, const char *op, const char *needs, int n, const char *const *names,
                            seq_tensor *const *ts) {
    char got[160], dims[96];
    size_t len = 0;
    int i;
    got[0] = 0;
    for (i = 0; i < n && len < sizeof got; i++) {
        int w;
        if (ts[i]) seq__dims_str(dims, sizeof dims, ts[i]->ndim, ts[i]->shape, '(', ')');
        w = snprintf(got + len, sizeof got - len, "%s%s %s%s", i ? ", " : "", names[i], ts[i] ? dims : "NULL",
                     !ts[i] ? "" : ts[i]->dtype == SEQ_F32 ? " f32" : " i32");
        if (w < 0) break;
        len += (size_t)w;
    }
    seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs %s; got %s", needs, got);
}

/* dW[ids[p],:] += dy[p,:] for every position p whose id is not the padding row */
static void seq__embedding_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *W = n->in[0], *ids = n->in[1];
    float *gW = seq__grad(ctx, W);
    const float *gy = n->out->grad;
    int64_t C = W->shape[1], pad = n->i[0], p, c;
    if (!gW) return;
    for (p = 0; p < ids->numel; p++) {
        int64_t row = ids->idata[p];
        if (row == pad) continue;
        for (c = 0; c < C; c++) gW[row * C + c] += gy[p * C + c];
    }
}

/* W (V,C), ids (...) -> (...,C); padding_idx NULL when no row is exempt from gradient. */
static seq_tensor *seq__embedding(seq_ctx *ctx, const char *op, seq_tensor *W, seq_tensor *ids,
                                  const int32_t *padding_idx) {
    seq_tensor *ins[2], *y;
    seq__node *n;
    int64_t shape[SEQ_MAX_DIMS], V, C, p, pad = -1;
    ins[0] = W;
    ins[1] = ids;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    if (W->ndim != 2 || W->dtype != SEQ_F32 || ids->dtype != SEQ_I32 || ids->ndim >= SEQ_MAX_DIMS) {
        static const char *const names[2] = {"W", "ids"};
        seq__shape_fail(ctx, op, "f32 W (V,C) and i32 ids (...) of at most 3 dims", 2, names, ins);
        return NULL;
    }
    V = W->shape[0];
    C = W->shape[1];
    if (padding_idx) {
        pad = *padding_idx < 0 ? *padding_idx + V : *padding_idx;
        if (pad < 0 || pad >= V) {
            seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "padding_idx %d is outside [-%lld,%lld)", (int)*padding_idx,
                          (long long)V, (long long)V);
            return NULL;
        }
    }
    for (p = 0; p < ids->numel; p++) {
        int64_t at[SEQ_MAX_DIMS], rest = p;
        char where[96];
        int d;
        if (ids->idata[p] >= 0 && ids->idata[p] < V) continue;
        for (d = ids->ndim - 1; d >= 0; d--) {
            at[d] = rest % ids->shape[d];
            rest /= ids->shape[d];
        }
        seq__dims_str(where, sizeof where, ids->ndim, at, '[', ']');
        seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "ids%s = %d is outside [0,%lld)", where, (int)ids->idata[p],
                      (long long)V);
        return NULL;
    }
    memcpy(shape, ids->shape, sizeof shape);
    shape[ids->ndim] = C;
    y = seq__out(ctx, op, ids->ndim + 1, shape, 2, ins);
    if (!y) return NULL;
    for (p = 0; p < ids->numel; p++)
        memcpy(y->data + p * C, W->data + (int64_t)ids->idata[p] * C, (size_t)C * sizeof(float));
    n = seq__record(ctx, op, y, seq__embedding_backward, 2, ins);
    if (n) n->i[0] = pad;
    return y;
}

SEQDEF seq_tensor *seq_embedding(seq_ctx *ctx, seq_tensor *W, seq_tensor *ids) {
    return seq__embedding(ctx, "seq_embedding", W, ids, NULL);
}

SEQDEF seq_tensor *seq_embedding_pad(seq_ctx *ctx, seq_tensor *W, seq_tensor *ids, int32_t padding_idx) {
    return seq__embedding(ctx, "seq_embedding_pad", W, ids, &padding_idx);
}

/* dx = dy * keep / (1-p); aux holds the keep mask, f[0] the scale 1/(1-p) */
static void seq__dropout_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0];
    float *gx = seq__grad(ctx, x), s = n->f[0];
    const float *gy = n->out->grad;
    const uint8_t *keep = (const uint8_t *)n->aux;
    int64_t i;
    if (!gx) return;
    for (i = 0; i < x->numel; i++) gx[i] += gy[i] * (keep[i] ? s : 0.0f);
}

SEQDEF seq_tensor *seq_dropout(seq_ctx *ctx, seq_tensor *x, float p, seq_rng *rng) {
    static const char op[] = "seq_dropout";
    seq_tensor *y;
    seq__node *n;
    uint8_t *keep;
    float s;
    int64_t i;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (x->dtype != SEQ_F32) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs an f32 tensor");
        return NULL;
    }
    if (!(p >= 0.0f && p < 1.0f)) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "p = %g must be in [0,1)", (double)p);
        return NULL;
    }
    if (p == 0.0f || !rng) return x;
    y = seq__out(ctx, op, x->ndim, x->shape, 1, &x);
    if (!y) return NULL;
    keep = (uint8_t *)seq_ctx_alloc(ctx, (size_t)x->numel + 1);
    if (!keep) return NULL;
    s = 1.0f / (1.0f - p);
    /* multiplying (not selecting) lets a NaN in a dropped element still show, as in PyTorch */
    for (i = 0; i < x->numel; i++) {
        keep[i] = seq_rng_float(rng) >= p;
        y->data[i] = x->data[i] * (keep[i] ? s : 0.0f);
    }
    n = seq__record(ctx, op, y, seq__dropout_backward, 1, &x);
    if (n) {
        n->aux = keep;
        n->f[0] = s;
    }
    return y;
}

/* With y[r,t,c] = b[c] + sum_k w[c,k] x[r,s,c] for s = t-(K-1)+k:
 * dx[r,s,c] += dy[r,t,c] w[c,k],  dw[c,k] += dy[r,t,c] x[r,s,c],  db[c] += dy[r,t,c]. */
static void seq__conv1d_causal_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    float *gx = seq__grad(ctx, x), *gw = seq__grad(ctx, w), *gb = seq__grad(ctx, b);
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], K = w->shape[1], r, t, k, c;
    for (r = 0; r < B; r++)
        for (t = 0; t < T; t++) {
            const float *gy = n->out->grad + (r * T + t) * C;
            if (gb)
                for (c = 0; c < C; c++) gb[c] += gy[c];
            for (k = t < K - 1 ? K - 1 - t : 0; k < K; k++) {
                int64_t src = (r * T + t - (K - 1) + k) * C; /* row of x that tap k reads */
                if (gx)
                    for (c = 0; c < C; c++) gx[src + c] += gy[c] * w->data[c * K + k];
                if (gw)
                    for (c = 0; c < C; c++) gw[c * K + k] += gy[c] * x->data[src + c];
            }
        }
}

SEQDEF seq_tensor *seq_conv1d_causal(seq_ctx *ctx, seq_tensor *x, seq_tensor *w, seq_tensor *b) {
    static const char op[] = "seq_conv1d_causal";
    seq_tensor *ins[3], *y;
    int64_t B, T, C, K, r, t, k, c;
    ins[0] = x;
    ins[1] = w;
    ins[2] = b;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    if (x->ndim != 3 || w->ndim != 2 || x->dtype != SEQ_F32 || w->dtype != SEQ_F32 ||
        w->shape[0] != x->shape[2] || w->shape[1] < 1 ||
        (b && (b->ndim != 1 || b->shape[0] != x->shape[2] || b->dtype != SEQ_F32))) {
        static const char *const names[3] = {"x", "w", "b"};
        seq__shape_fail(ctx, op, "f32 x (B,T,C), w (C,K>=1), b (C) or NULL", 3, names, ins);
        return NULL;
    }
    B = x->shape[0];
    T = x->shape[1];
    C = x->shape[2];
    K = w->shape[1];
    y = seq__out(ctx, op, 3, x->shape, 3, ins);
    if (!y) return NULL;
    for (r = 0; r < B; r++)
        for (t = 0; t < T; t++) {
            float *yo = y->data + (r * T + t) * C;
            for (c = 0; c < C; c++) yo[c] = b ? b->data[c] : 0.0f;
            /* taps that would read before t = 0 see zero padding: skip them */
            for (k = t < K - 1 ? K - 1 - t : 0; k < K; k++) {
                const float *xs = x->data + (r * T + t - (K - 1) + k) * C;
                for (c = 0; c < C; c++) yo[c] += w->data[c * K + k] * xs[c];
            }
        }
    seq__record(ctx, op, y, seq__conv1d_causal_backward, 3, ins);
    return y;
}

SEQDEF seq_attention_mask seq_attention_mask_none(void) {
    seq_attention_mask m;
    memset(&m, 0, sizeof m);
    return m;
}

/* Row-wise softmax of the scores S (Tq,Tk) of batch row b, in place, over the keys each
 * query may see; hidden keys get probability 0. A query that sees no key keeps an
 * all-zero row, which makes its output and every gradient through it zero. */
static void seq__attention_softmax(float *S, int64_t Tq, int64_t Tk, int64_t b, const seq_attention_mask *m) {
    const uint8_t *pad = m->key_padding ? m->key_padding + b * Tk : NULL;
    int64_t i, j;
    for (i = 0; i < Tq; i++) {
        float *row = S + i * Tk, mx = -INFINITY, sum = 0.0f;
        /* keys [0,end) survive the length and causal cuts; padding is checked per key */
        int64_t end = m->key_lengths ? m->key_lengths[b] : Tk;
        if (m->causal && i + 1 + Tk - Tq < end) end = i + 1 + Tk - Tq;
        for (j = 0; j < end; j++)
            if (!(pad && pad[j]) && row[j] > mx) mx = row[j];
        for (j = 0; j < Tk; j++) row[j] = j < end && !(pad && pad[j]) ? seq__expf_vec(row[j] - mx) : 0.0f;
        for (j = 0; j < Tk; j++) sum += row[j];
        if (sum > 0.0f)
            for (j = 0; j < Tk; j++) row[j] /= sum;
    }
}

/* Per (b,h), with P the saved probabilities (Tq,Tk) and dO the output gradient:
 * dP = dO v^T, dS = P * (dP - rowsum(dP * P)), dq += scale dS k, dk += scale dS^T q,
 * dv += P^T dO. aux holds every P then one (Tq,Tk) slab of scratch for dS. */
static void seq__attention_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    float *gq = seq__grad(ctx, q), *gk = seq__grad(ctx, k), *gv = seq__grad(ctx, v), scale = n->f[0];
    int64_t BH = q->shape[0] * q->shape[1], Tq = q->shape[2], Tk = k->shape[2], D = q->shape[3];
    int64_t Dv = v->shape[3], bh, i, j;
    float *dS = (float *)n->aux + BH * Tq * Tk;
    for (bh = 0; bh < BH; bh++) {
        const float *P = (const float *)n->aux + bh * Tq * Tk, *dO = n->out->grad + bh * Tq * Dv;
        if (gv) seq_sgemm(1, 0, Tk, Dv, Tq, 1.0f, P, Tk, dO, Dv, 1.0f, gv + bh * Tk * Dv, Dv);
        if (!gq && !gk) continue;
        seq_sgemm(0, 1, Tq, Tk, Dv, 1.0f, dO, Dv, v->data + bh * Tk * Dv, Dv, 0.0f, dS, Tk);
        for (i = 0; i < Tq; i++) {
            float dot = 0.0f, *ds = dS + i * Tk;
            const float *p = P + i * Tk;
            for (j = 0; j < Tk; j++) dot += ds[j] * p[j];
            for (j = 0; j < Tk; j++) ds[j] = p[j] * (ds[j] - dot);
        }
        if (gq) seq_sgemm(0, 0, Tq, D, Tk, scale, dS, Tk, k->data + bh * Tk * D, D, 1.0f, gq + bh * Tq * D, D);
        if (gk) seq_sgemm(1, 0, Tk, D, Tq, scale, dS, Tk, q->data + bh * Tq * D, D, 1.0f, gk + bh * Tk * D, D);
    }
}

SEQDEF seq_tensor *seq_attention(seq_ctx *ctx, seq_tensor *q, seq_tensor *k, seq_tensor *v,
                                 const seq_attention_mask *mask) {
    static const char op[] = "seq_attention";
    seq_attention_mask m = mask ? *mask : seq_attention_mask_none();
    seq_tensor *ins[3], *y;
    seq__node *n;
    int64_t shape[4], B, H, Tq, Tk, D, Dv, r, bh, slabs;
    float scale, *P;
    ins[0] = q;
    ins[1] = k;
    ins[2] = v;
    if (!seq__ok(ctx, op, 3, ins)) return NULL;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || q->dtype != SEQ_F32 || k->dtype != SEQ_F32 ||
        v->dtype != SEQ_F32 || k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || v->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[2] != k->shape[2] || q->shape[3] < 1) {
        static const char *const names[3] = {"q", "k", "v"};
        seq__shape_fail(ctx, op, "f32 q (B,H,Tq,D>=1), k (B,H,Tk,D), v (B,H,Tk,Dv)", 3, names, ins);
        return NULL;
    }
    B = q->shape[0];
    H = q->shape[1];
    Tq = q->shape[2];
    Tk = k->shape[2];
    D = q->shape[3];
    Dv = v->shape[3];
    for (r = 0; m.key_lengths && r < B; r++)
        if (m.key_lengths[r] < 0 || m.key_lengths[r] > Tk) {
            seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "key_lengths[%lld] = %d is outside [0,%lld]", (long long)r,
                          (int)m.key_lengths[r], (long long)Tk);
            return NULL;
        }
    if (!isfinite(m.scale)) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "scale must be finite");
        return NULL;
    }
    scale = m.scale != 0.0f ? m.scale : 1.0f / sqrtf((float)D);
    shape[0] = B;
    shape[1] = H;
    shape[2] = Tq;
    shape[3] = Dv;
    y = seq__out(ctx, op, 4, shape, 3, ins);
    if (!y) return NULL;
    /* the backward needs every (b,h)'s probabilities plus a scratch slab; inference
     * reuses a single slab */
    slabs = y->requires_grad ? B * H + 1 : 1;
    if (Tk > 0 && slabs * Tq > (INT64_MAX / 8) / Tk) {
        seq__ctx_fail(ctx, SEQ_ERR_NOMEM, op, "%lld score matrices of (%lld,%lld) are too large", (long long)slabs,
                      (long long)Tq, (long long)Tk);
        return NULL;
    }
    P = (float *)seq_ctx_alloc(ctx, (size_t)(slabs * Tq * Tk) * sizeof(float));
    if (!P) return NULL;
    for (bh = 0; bh < B * H; bh++) {
        float *S = P + (y->requires_grad ? bh * Tq * Tk : 0);
        seq_sgemm(0, 1, Tq, Tk, D, scale, q->data + bh * Tq * D, D, k->data + bh * Tk * D, D, 0.0f, S, Tk);
        seq__attention_softmax(S, Tq, Tk, bh / H, &m);
        seq_sgemm(0, 0, Tq, Dv, Tk, 1.0f, S, Tk, v->data + bh * Tk * Dv, Dv, 0.0f, y->data + bh * Tq * Dv, Dv);
    }
    n = seq__record(ctx, op, y, seq__attention_backward, 3, ins);
    if (n) {
        n->aux = P;
        n->f[0] = scale;
    }
    return y;
}

/* ===================================================================================
 * 9  losses
 * =================================================================================== */

/* Private helpers here carry a seq__loss_ prefix so they cannot collide with the ops'. */

/* Option values that make no sense abort the op with SEQ_ERR_INVALID; NaN never passes. */
static int seq__loss_option(seq_ctx *ctx, const char *op, const char *name, float v, int in_range) {
    if (in_range && isfinite(v)) return 1;
    seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "%s = %g is out of range", name, (double)v);
    return 0;
}

/* Ids must be i32 and inside [0,V) except those equal to ignore (never an i32 value when
 * nothing is ignored). Returns how many are not ignored, or -1 after failing the ctx. */
#define SEQ__LOSS_NO_IGNORE ((int64_t)INT32_MIN - 1)
static int64_t seq__loss_check_ids(seq_ctx *ctx, const char *op, const char *what, const seq_tensor *ids, int64_t V,
                                   int64_t ignore) {
    int64_t i, counted = 0;
    if (ids->dtype != SEQ_I32) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "%s must be an i32 tensor", what);
        return -1;
    }
    for (i = 0; i < ids->numel; i++) {
        int32_t v = ids->idata[i];
        if (v == ignore) continue;
        if (v < 0 || v >= V) {
            seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "%s[%lld] = %d is outside [0,%lld)", what, (long long)i, (int)v,
                          (long long)V);
            return -1;
        }
        counted++;
    }
    return counted;
}

/* The mean over the counted rows or elements; none counted gives 0 (and no gradient). */
static float seq__loss_mean(double sum, int64_t counted) { return counted ? (float)(sum / (double)counted) : 0.0f; }
static double seq__loss_grad_scale(const seq__node *n) { return n->i[1] ? n->out->grad[0] / (double)n->i[1] : 0.0; }

/* log(1 + e^x) and 1 / (1 + e^-x) without overflow for any finite x. */
static double seq__loss_softplus(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double seq__loss_sigmoid(double x) {
    double e = exp(-fabs(x)); /* <= 1: never overflows */
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static double seq__loss_row_mean(const float *x, int64_t V) {
    double s = 0.0;
    int64_t k;
    for (k = 0; k < V; k++) s += x[k];
    return s / (double)V;
}

/* log sum_k exp x_k, shifted by the max so no term overflows. Starting from x[0] keeps a
 * NaN there visible; an infinite max is the answer itself (a row of -inf gives -inf). */
static double seq__loss_lse(const float *x, int64_t V) {
    float m = seq__row_max(x, V);
    if (isinf(m)) return m;
    return m + log(seq__row_sum_exp(x, V, m, NULL));
}

/* gx += scale * softmax(x), the softmax read off the row's log-sum-exp. The product is
 * taken in float: gcc 12 vectorizes no loop that widens the exp to double. */
static void seq__loss_add_softmax(float *gx, const float *x, int64_t V, double lse, double scale) {
    float s = (float)scale;
    int64_t k;
    for (k = 0; k < V; k++) gx[k] += s * seq__expf_vec((float)(x[k] - lse));
}

/* --- row losses: logits (R,V), one class id per row (or none) ----------------------- */

/* A row loss returns its value for the row x (V) with target t; given gx it also adds
 * scale * d loss / d x into gx. par holds the op's options (the node's f[]). */
typedef double (*seq__loss_row_fn)(const float *x, int64_t V, int32_t t, const float *par, double scale, float *gx);

/* Sum of fn over the rows of x (R,V) whose target is not ignore (without targets every row
 * counts, with target 0); with gx, the rows' gradients accumulate too. Forward and
 * backward both walk the rows through here, so they always agree on which count. */
static double seq__loss_rows_apply(seq__loss_row_fn fn, const float *x, int64_t R, int64_t V, const int32_t *t,
                                   int64_t ignore, const float *par, double scale, float *gx) {
    double sum = 0.0;
    int64_t r;
    for (r = 0; r < R; r++) {
        int32_t tr = t ? t[r] : 0;
        if (tr == ignore) continue;
        sum += fn(x + r * V, V, tr, par, scale, gx ? gx + r * V : NULL);
    }
    return sum;
}

/* node: in = {logits, targets or NULL}, f = options, i[0] = ignore, i[1] = rows counted */
static void seq__loss_rows_backward(seq_ctx *ctx, seq__node *n, seq__loss_row_fn fn) {
    seq_tensor *x = n->in[0], *t = n->in[1];
    float *gx = seq__grad(ctx, x);
    int64_t V = x->shape[x->ndim - 1];
    if (gx)
        seq__loss_rows_apply(fn, x->data, x->numel / V, V, t ? t->idata : NULL, n->i[0], n->f,
                             seq__loss_grad_scale(n), gx);
}

/* logits (...,V), targets (...) i32 (nin = 2) or none (nin = 1) -> scalar mean of fn over
 * the counted rows. */
static seq_tensor *seq__loss_rows(seq_ctx *ctx, const char *op, int nin, seq_tensor *logits, seq_tensor *targets,
                                  int64_t ignore, const float *par, seq__loss_row_fn fn, seq__backward_fn bw) {
    seq_tensor *ins[2], *y;
    seq__node *n;
    int64_t V, R, counted;
    int d, fits;
    ins[0] = logits;
    ins[1] = targets;
    if (!seq__ok(ctx, op, nin, ins)) return NULL;
    fits = logits->dtype == SEQ_F32 && logits->ndim >= 1 && logits->shape[logits->ndim - 1] > 0;
    if (fits && targets) {
        fits = targets->ndim == logits->ndim - 1;
        for (d = 0; fits && d < targets->ndim; d++) fits = targets->shape[d] == logits->shape[d];
    }
    if (!fits) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs float logits (...,V) with V >= 1%s",
                      targets ? " and targets shaped (...)" : "");
        return NULL;
    }
    V = logits->shape[logits->ndim - 1];
    R = logits->numel / V;
    counted = targets ? seq__loss_check_ids(ctx, op, "targets", targets, V, ignore) : R;
    if (counted < 0) return NULL;
    y = seq__out(ctx, op, 0, NULL, 2, ins);
    if (!y) return NULL;
    y->data[0] = seq__loss_mean(
        seq__loss_rows_apply(fn, logits->data, R, V, targets ? targets->idata : NULL, ignore, par, 0.0, NULL), counted);
    n = seq__record(ctx, op, y, bw, 2, ins);
    if (n) {
        memcpy(n->f, par, sizeof n->f);
        n->i[0] = ignore;
        n->i[1] = counted;
    }
    return y;
}

/* Cross entropy with label smoothing eps = par[0]:
 *     lse - x_t + eps (x_t - mean(x)) = (1-eps)(lse - x_t) + eps mean_c(lse - x_c)
 *     d/dx = softmax(x) - (1-eps) e_t - eps / V
 * The smoothing term is skipped at eps = 0 so masked (-inf) columns stay harmless. */
static double seq__loss_ce_row(const float *x, int64_t V, int32_t t, const float *par, double scale, float *gx) {
    double eps = par[0], lse = seq__loss_lse(x, V), loss = lse - x[t];
    int64_t k;
    if (eps > 0.0) loss += eps * (x[t] - seq__loss_row_mean(x, V));
    if (gx) {
        seq__loss_add_softmax(gx, x, V, lse, scale);
        gx[t] -= (float)(scale * (1.0 - eps));
        if (eps > 0.0)
            for (k = 0; k < V; k++) gx[k] -= (float)(scale * eps / (double)V);
    }
    return loss;
}
static void seq__loss_ce_backward(seq_ctx *ctx, seq__node *n) { seq__loss_rows_backward(ctx, n, seq__loss_ce_row); }

SEQDEF seq_tensor *seq_cross_entropy_ex(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, int32_t ignore_index,
                                        float label_smoothing) {
    static const char op[] = "seq_cross_entropy";
    float par[4] = {0, 0, 0, 0};
    if (!seq__loss_option(ctx, op, "label_smoothing", label_smoothing,
                          label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return NULL;
    par[0] = label_smoothing;
    return seq__loss_rows(ctx, op, 2, logits, targets, ignore_index, par, seq__loss_ce_row, seq__loss_ce_backward);
}

SEQDEF seq_tensor *seq_cross_entropy(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, int32_t ignore_index) {
    return seq_cross_entropy_ex(ctx, logits, targets, ignore_index, 0.0f);
}

/* Comp-sum with tau = par[0], through L = -log p_y = lse - x_y >= 0, since 1 + u = 1/p_y:
 *     Phi = L at tau = 1, else expm1((1-tau) L) / (1-tau)   (expm1 stays accurate as tau nears 1)
 *     dPhi/dL = exp((1-tau) L),  dL/dx = softmax(x) - e_y */
static double seq__loss_comp_sum_row(const float *x, int64_t V, int32_t t, const float *par, double scale, float *gx) {
    double tau = par[0], lse = seq__loss_lse(x, V), L = lse - x[t], s = scale * exp((1.0 - tau) * L);
    if (gx) {
        seq__loss_add_softmax(gx, x, V, lse, s);
        gx[t] -= (float)s;
    }
    return tau == 1.0 ? L : expm1((1.0 - tau) * L) / (1.0 - tau);
}
static void seq__loss_comp_sum_backward(seq_ctx *ctx, seq__node *n) {
    seq__loss_rows_backward(ctx, n, seq__loss_comp_sum_row);
}

SEQDEF seq_tensor *seq_comp_sum_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, float tau) {
    static const char op[] = "seq_comp_sum_loss";
    float par[4] = {0, 0, 0, 0};
    if (!seq__loss_option(ctx, op, "tau", tau, tau >= 0.0f)) return NULL;
    par[0] = tau;
    return seq__loss_rows(ctx, op, 2, logits, targets, SEQ__LOSS_NO_IGNORE, par, seq__loss_comp_sum_row,
                          seq__loss_comp_sum_backward);
}

/* PaLM z-loss row: coeff lse^2, d/dx = 2 coeff lse softmax(x); coeff = par[0]. */
static double seq__loss_z_row(const float *x, int64_t V, int32_t t, const float *par, double scale, float *gx) {
    double lse = seq__loss_lse(x, V);
    (void)t;
    if (gx) seq__loss_add_softmax(gx, x, V, lse, scale * 2.0 * par[0] * lse);
    return par[0] * lse * lse;
}
static void seq__loss_z_backward(seq_ctx *ctx, seq__node *n) { seq__loss_rows_backward(ctx, n, seq__loss_z_row); }

SEQDEF seq_tensor *seq_z_loss(seq_ctx *ctx, seq_tensor *logits, float coeff) {
    static const char op[] = "seq_z_loss";
    float par[4] = {0, 0, 0, 0};
    if (!seq__loss_option(ctx, op, "coeff", coeff, 1)) return NULL;
    par[0] = coeff;
    return seq__loss_rows(ctx, op, 1, logits, NULL, SEQ__LOSS_NO_IGNORE, par, seq__loss_z_row, seq__loss_z_backward);
}

/* Spherical Z-loss row, a = par[0], b = par[1], z = (x - mu) / sd over the row:
 *     loss = softplus(a (b - z_t)) / a,   d loss / d z_t = -sigmoid(a (b - z_t))
 *     d z_t / d x_k = (delta_kt - 1/V - z_t z_k / V) / sd,
 * the last term being the std's own gradient (absent where sd sits at its floor). */
#define SEQ__LOSS_STD_FLOOR 1e-12
static double seq__loss_z_normalized_row(const float *x, int64_t V, int32_t t, const float *par, double scale,
                                         float *gx) {
    double a = par[0], b = par[1], mu = seq__loss_row_mean(x, V), var = 0.0, sd, zt, m;
    int64_t k;
    int floored;
    for (k = 0; k < V; k++) var += (x[k] - mu) * (x[k] - mu);
    sd = sqrt(var / (double)V);
    floored = !(sd > SEQ__LOSS_STD_FLOOR); /* NaN too: its z is NaN anyway */
    if (floored) sd = SEQ__LOSS_STD_FLOOR;
    zt = (x[t] - mu) / sd;
    m = a * (b - zt);
    if (gx) {
        double g = -scale * seq__loss_sigmoid(m) / sd, gstd = floored ? 0.0 : zt / (sd * (double)V);
        for (k = 0; k < V; k++) gx[k] += (float)(g * ((k == t) - 1.0 / (double)V - gstd * (x[k] - mu)));
    }
    return seq__loss_softplus(m) / a;
}
static void seq__loss_z_normalized_backward(seq_ctx *ctx, seq__node *n) {
    seq__loss_rows_backward(ctx, n, seq__loss_z_normalized_row);
}

SEQDEF seq_tensor *seq_z_normalized_loss(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets, float a, float b) {
    static const char op[] = "seq_z_normalized_loss";
    float par[4] = {0, 0, 0, 0};
    if (!seq__loss_option(ctx, op, "a", a, a > 0.0f) || !seq__loss_option(ctx, op, "b", b, 1)) return NULL;
    par[0] = a;
    par[1] = b;
    return seq__loss_rows(ctx, op, 2, logits, targets, SEQ__LOSS_NO_IGNORE, par, seq__loss_z_normalized_row,
                          seq__loss_z_normalized_backward);
}

/* --- elementwise losses: mean over the pairs (a[i / k], b[i]) ------------------------ */

/* A pair loss returns its value at (a, b) and writes the partial derivatives. */
typedef double (*seq__loss_pair_fn)(double a, double b, double par, double *da, double *db);

/* Sum of fn over the pairs; with ga or gb, scale * the partials accumulate there. */
static double seq__loss_pairs_apply(seq__loss_pair_fn fn, const seq_tensor *a, const seq_tensor *b, double par,
                                    double scale, float *ga, float *gb) {
    int64_t k = b->numel / a->numel, i;
    double sum = 0.0, da, db;
    for (i = 0; i < b->numel; i++) {
        sum += fn(a->data[i / k], b->data[i], par, &da, &db);
        if (ga) ga[i / k] += (float)(scale * da);
        if (gb) gb[i] += (float)(scale * db);
    }
    return sum;
}

/* node: in = {a, b}, f[0] = option, i[1] = pairs */
static void seq__loss_pairs_backward(seq_ctx *ctx, seq__node *n, seq__loss_pair_fn fn) {
    float *ga = seq__grad(ctx, n->in[0]), *gb = seq__grad(ctx, n->in[1]);
    if (ga || gb) seq__loss_pairs_apply(fn, n->in[0], n->in[1], n->f[0], seq__loss_grad_scale(n), ga, gb);
}

/* a, b float and non-empty: b has a's shape or, with rows_of_k, a is (N) and b is (N,k). */
static seq_tensor *seq__loss_pairs(seq_ctx *ctx, const char *op, seq_tensor *a, seq_tensor *b, int rows_of_k,
                                   float par, seq__loss_pair_fn fn, seq__backward_fn bw) {
    seq_tensor *ins[2], *y;
    seq__node *n;
    ins[0] = a;
    ins[1] = b;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    if (a->dtype != SEQ_F32 || b->dtype != SEQ_F32 || a->numel == 0 || b->numel == 0 ||
        !(seq_tensor_same_shape(a, b) ||
          (rows_of_k && a->ndim == 1 && b->ndim == 2 && b->shape[0] == a->shape[0]))) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs two non-empty float tensors of the same shape%s",
                      rows_of_k ? ", or (N) and (N,k)" : "");
        return NULL;
    }
    y = seq__out(ctx, op, 0, NULL, 2, ins);
    if (!y) return NULL;
    y->data[0] = seq__loss_mean(seq__loss_pairs_apply(fn, a, b, par, 0.0, NULL, NULL), b->numel);
    n = seq__record(ctx, op, y, bw, 2, ins);
    if (n) {
        n->f[0] = par;
        n->i[1] = b->numel;
    }
    return y;
}

/* max(x,0) - x y + log1p(exp(-|x|)) = softplus(x) - x y;  d/dx = sigmoid(x) - y, d/dy = -x */
static double seq__loss_bce_pair(double x, double y, double par, double *dx, double *dy) {
    (void)par;
    *dx = seq__loss_sigmoid(x) - y;
    *dy = -x;
    return seq__loss_softplus(x) - x * y;
}
static void seq__loss_bce_backward(seq_ctx *ctx, seq__node *n) { seq__loss_pairs_backward(ctx, n, seq__loss_bce_pair); }

SEQDEF seq_tensor *seq_bce_with_logits(seq_ctx *ctx, seq_tensor *logits, seq_tensor *targets) {
    return seq__loss_pairs(ctx, "seq_bce_with_logits", logits, targets, 0, 0.0f, seq__loss_bce_pair,
                           seq__loss_bce_backward);
}

static double seq__loss_mse_pair(double p, double t, double par, double *dp, double *dt) {
    (void)par;
    *dp = 2.0 * (p - t);
    *dt = -*dp;
    return (p - t) * (p - t);
}
static void seq__loss_mse_backward(seq_ctx *ctx, seq__node *n) { seq__loss_pairs_backward(ctx, n, seq__loss_mse_pair); }

SEQDEF seq_tensor *seq_mse(seq_ctx *ctx, seq_tensor *pred, seq_tensor *target) {
    return seq__loss_pairs(ctx, "seq_mse", pred, target, 0, 0.0f, seq__loss_mse_pair, seq__loss_mse_backward);
}

/* Huber with delta = par: quadratic inside |d| <= delta, linear with slope delta outside. */
static double seq__loss_huber_pair(double p, double t, double delta, double *dp, double *dt) {
    double d = p - t;
    if (fabs(d) <= delta) {
        *dp = d;
        *dt = -d;
        return 0.5 * d * d;
    }
    *dp = d > 0.0 ? delta : -delta;
    *dt = -*dp;
    return delta * (fabs(d) - 0.5 * delta);
}
static void seq__loss_huber_backward(seq_ctx *ctx, seq__node *n) {
    seq__loss_pairs_backward(ctx, n, seq__loss_huber_pair);
}

SEQDEF seq_tensor *seq_huber(seq_ctx *ctx, seq_tensor *pred, seq_tensor *target, float delta) {
    static const char op[] = "seq_huber";
    if (!seq__loss_option(ctx, op, "delta", delta, delta > 0.0f)) return NULL;
    return seq__loss_pairs(ctx, op, pred, target, 0, delta, seq__loss_huber_pair, seq__loss_huber_backward);
}

/* -log sigmoid(pos - neg) = softplus(neg - pos);  d/dneg = sigmoid(neg - pos) = -d/dpos */
static double seq__loss_bpr_pair(double pos, double neg, double par, double *dpos, double *dneg) {
    (void)par;
    *dneg = seq__loss_sigmoid(neg - pos);
    *dpos = -*dneg;
    return seq__loss_softplus(neg - pos);
}
static void seq__loss_bpr_backward(seq_ctx *ctx, seq__node *n) { seq__loss_pairs_backward(ctx, n, seq__loss_bpr_pair); }

SEQDEF seq_tensor *seq_bpr(seq_ctx *ctx, seq_tensor *pos, seq_tensor *neg) {
    return seq__loss_pairs(ctx, "seq_bpr", pos, neg, 1, 0.0f, seq__loss_bpr_pair, seq__loss_bpr_backward);
}

/* --- sampled softmax ----------------------------------------------------------------- */

/* node: in = {h (N,D), W (V,D), targets (N), negatives (S)}, i[1] = N, aux = the scores
 * Z (N,1+S) followed by the gathered negative rows Wn (S,D). */
static void seq__loss_sampled_softmax_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *h = n->in[0], *W = n->in[1], *t = n->in[2], *neg = n->in[3];
    int64_t N = h->shape[0], D = h->shape[1], S = neg->numel, C = S + 1, i, j, d;
    const float *Z = (const float *)n->aux, *Wn = Z + N * C;
    float *gh = seq__grad(ctx, h), *gW = seq__grad(ctx, W), *G, *gWn;
    if (!gh && !gW) return;
    G = (float *)seq__calloc(ctx, (size_t)(N * C + S * D) * sizeof(float)); /* d loss / d Z, then gWn */
    if (!G) return;
    gWn = G + N * C;
    seq__loss_rows_apply(seq__loss_ce_row, Z, N, C, NULL, SEQ__LOSS_NO_IGNORE, n->f, seq__loss_grad_scale(n), G);
    for (i = 0; i < N; i++) {
        const float *hi = h->data + i * D, *Wt = W->data + (int64_t)t->idata[i] * D;
        float gt = G[i * C];
        if (gh)
            for (d = 0; d < D; d++) gh[i * D + d] += gt * Wt[d];
        if (gW)
            for (d = 0; d < D; d++) gW[(int64_t)t->idata[i] * D + d] += gt * hi[d];
    }
    if (gh) seq_sgemm(0, 0, N, D, S, 1.0f, G + 1, C, Wn, D, 1.0f, gh, D); /* gh += G[:,1:] Wn */
    if (gW) {
        seq_sgemm(1, 0, S, D, N, 1.0f, G + 1, C, h->data, D, 0.0f, gWn, D); /* gWn = G[:,1:]^T h */
        for (j = 0; j < S; j++)
            for (d = 0; d < D; d++) gW[(int64_t)neg->idata[j] * D + d] += gWn[j * D + d];
    }
}

SEQDEF seq_tensor *seq_sampled_softmax(seq_ctx *ctx, seq_tensor *h, seq_tensor *W, seq_tensor *targets,
                                       seq_tensor *negatives, const float *log_q) {
    static const char op[] = "seq_sampled_softmax";
    static const float no_smoothing[4] = {0, 0, 0, 0};
    seq_tensor *ins[4], *y;
    seq__node *n;
    int64_t N, D, V, S, C, i, j, d;
    float *Z, *Wn;
    ins[0] = h;
    ins[1] = W;
    ins[2] = targets;
    ins[3] = negatives;
    if (!seq__ok(ctx, op, 4, ins)) return NULL;
    if (h->dtype != SEQ_F32 || W->dtype != SEQ_F32 || h->ndim != 2 || W->ndim != 2 || h->shape[1] != W->shape[1] ||
        targets->ndim != 1 || targets->shape[0] != h->shape[0] || negatives->ndim != 1 || negatives->numel < 1) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs float h (N,D), W (V,D), targets (N), negatives (S >= 1)");
        return NULL;
    }
    N = h->shape[0];
    D = h->shape[1];
    V = W->shape[0];
    S = negatives->numel;
    C = S + 1;
    if (seq__loss_check_ids(ctx, op, "targets", targets, V, SEQ__LOSS_NO_IGNORE) < 0 ||
        seq__loss_check_ids(ctx, op, "negatives", negatives, V, SEQ__LOSS_NO_IGNORE) < 0)
        return NULL;
    Z = (float *)seq_ctx_alloc(ctx, (size_t)(N * C + S * D) * sizeof(float));
    y = seq__out(ctx, op, 0, NULL, 4, ins);
    if (!Z || !y) return NULL;
    Wn = Z + N * C;
    for (j = 0; j < S; j++) memcpy(Wn + j * D, W->data + (int64_t)negatives->idata[j] * D, (size_t)D * sizeof(float));
    seq_sgemm(0, 1, N, S, D, 1.0f, h->data, D, Wn, D, 0.0f, Z + 1, C); /* Z[:,1:] = h Wn^T */
    for (i = 0; i < N; i++) {
        int32_t ti = targets->idata[i];
        double dot = 0.0;
        for (d = 0; d < D; d++) dot += (double)h->data[i * D + d] * W->data[(int64_t)ti * D + d];
        Z[i * C] = (float)(dot - (log_q ? log_q[ti] : 0.0f));
        for (j = 0; j < S; j++) {
            int32_t s = negatives->idata[j];
            Z[i * C + 1 + j] = s == ti ? -INFINITY : Z[i * C + 1 + j] - (log_q ? log_q[s] : 0.0f);
        }
    }
    y->data[0] = seq__loss_mean(
        seq__loss_rows_apply(seq__loss_ce_row, Z, N, C, NULL, SEQ__LOSS_NO_IGNORE, no_smoothing, 0.0, NULL), N);
    n = seq__record(ctx, op, y, seq__loss_sampled_softmax_backward, 4, ins);
    if (n) {
        n->i[1] = N;
        n->aux = Z;
    }
    return y;
}

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
        if (n->out->grad || (n->extra_out[0] && n->extra_out[0]->grad) ||
            (n->extra_out[1] && n->extra_out[1]->grad))
            n->backward(ctx, n);
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
            double num, ana = analytic[e->offset + i], err = 0.0, scale = 0.0;
            int k;
            /* eps, then eps/4 (a step that crossed a kink such as a max), then 4 eps (f32
             * rounding of the loss): the element passes when any step agrees */
            for (k = 0; k < 3 && st == SEQ_OK; k++) {
                float h = k == 0 ? eps : k == 1 ? eps * 0.25f : eps * 4.0f;
                double lp, lm;
                *w = w0 + h;
                lp = seq__eval_loss(ctx, build, ud, 0, &st);
                *w = w0 - h;
                lm = st == SEQ_OK ? seq__eval_loss(ctx, build, ud, 0, &st) : 0.0;
                *w = w0;
                /* the step actually taken in f32, not the nominal one */
                num = (lp - lm) / ((double)(w0 + h) - (double)(w0 - h));
                err = fabs(ana - num);
                scale = fabs(ana) > fabs(num) ? fabs(ana) : fabs(num);
                if (err <= atol + rtol * scale && isfinite(num)) break;
            }
            if (st != SEQ_OK) break;
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
    if (!seq_all_finite(P->grad, P->numel))
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
    a.lead = a.factored ? seq__prod(t->shape, 0, t->ndim - 2) : 1;
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
    if (!seq_all_finite(P->grad, P->numel))
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
    /* one NaN weight would poison the average for good: refuse it, the EMA unchanged */
    if (!seq_all_finite(P->data, P->numel)) return seq__err(SEQ_ERR_NUMERIC, "%s: a parameter is not finite", fn);
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

/* --- 13a half precision -------------------------------------------------------------- */

static uint32_t seq__f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float seq__bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

SEQDEF uint16_t seq_f32_to_f16(float x) {
    uint32_t u = seq__f32_bits(x), a = u & 0x7fffffffu, sign = (u >> 16) & 0x8000u;
    uint32_t m, q, rem, half;
    int shift;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    /* 65520 is halfway between the largest half, 65504, and the next step, 65536: it and
     * everything above round to Inf */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) {
        /* normal: rebias the exponent (127 -> 15) and round off 13 mantissa bits; a carry
         * out of the mantissa correctly bumps the exponent */
        a -= 0x38000000u;
        a += 0xfffu + ((a >> 13) & 1u);
        return (uint16_t)(sign | (a >> 13));
    }
    /* below 2^-14 the half is subnormal, counting units of 2^-24; |x| <= 2^-25 is zero */
    if ((a >> 23) < 102) return (uint16_t)sign;
    m = (a & 0x7fffffu) | 0x800000u; /* |x| = m * 2^(e-150), so |x| / 2^-24 = m >> (126-e) */
    shift = 126 - (int)(a >> 23);
    q = m >> shift;
    rem = m & ((1u << shift) - 1u);
    half = 1u << (shift - 1);
    q += (rem > half || (rem == half && (q & 1u))) ? 1u : 0u; /* 0x3ff + 1 is the least normal */
    return (uint16_t)(sign | q);
}

SEQDEF float seq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return seq__bits_f32(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));
    if (e == 0) return seq__bits_f32(sign | seq__f32_bits((float)m * (1.0f / 16777216.0f))); /* exact */
    return seq__bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

SEQDEF uint16_t seq_f32_to_bf16(float x) {
    uint32_t u = seq__f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    /* bf16 is the top half of an f32: same exponent range, so only rounding can overflow,
     * and its carry runs into the exponent and on to Inf */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

SEQDEF float seq_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x400000u;
    return seq__bits_f32(u);
}

/* --- 13b safetensors ------------------------------------------------------------------ */

#define SEQ__ST_MAX_HEADER 100000000u /* the format's cap on N */
#define SEQ__JSON_MAX_DEPTH 64        /* nesting allowed in ignored fields of a tensor entry */

static const struct {
    const char *name;
    unsigned size;
} seq__st_dtypes[SEQ_ST_DTYPE_COUNT] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                                        {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                                        {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};

SEQDEF const char *seq_st_dtype_name(seq_st_dtype d) {
    return (int)d >= 0 && d < SEQ_ST_DTYPE_COUNT ? seq__st_dtypes[d].name : "?";
}

SEQDEF size_t seq_st_dtype_size(seq_st_dtype d) {
    return (int)d >= 0 && d < SEQ_ST_DTYPE_COUNT ? seq__st_dtypes[d].size : 0;
}

typedef struct seq__st_meta {
    const char *key; /* first, like seq_st_info's name: see seq__cmp_name */
    const char *value;
} seq__st_meta;

struct seq_safetensors {
    void *alloc_ud;
    FILE *f;                  /* the open file, or NULL when reading from memory */
    const unsigned char *mem; /* the whole file when reading from memory */
    size_t size;              /* bytes in the file */
    size_t data_start;        /* 8 + N: where the data buffer begins */
    char *header;             /* the JSON; strings are unescaped in place and point into it */
    seq_st_info *items;       /* in name order once open */
    int64_t count, cap;
    int64_t *dims; /* every shape, back to back in parse order */
    int64_t ndims, dims_cap;
    seq__st_meta *meta; /* in key order once open */
    int64_t nmeta, meta_cap;
    const char **keys; /* while opening: the keys of every object still being parsed */
    int64_t nkeys, keys_cap;
};

/* Orders elements that begin with a `const char *` name: plain strings, seq_st_info and
 * seq__st_meta (a struct's address is its first member's). */
static int seq__cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts n names and returns one that occurs twice, or NULL. */
static const char *seq__first_dup(const char **names, int64_t n) {
    int64_t i;
    if (n < 2) return NULL;
    qsort(names, (size_t)n, sizeof *names, seq__cmp_name);
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

/* Room for element n of a growable array: the array itself when it has it, else the
 * array reallocated to twice the capacity, or NULL (the old array still valid). */
static void *seq__grow(void *ud, void *arr, int64_t n, int64_t *cap, size_t elem) {
    int64_t ncap;
    void *p;
    if (n < *cap) return arr;
    ncap = *cap ? *cap * 2 : 16;
    p = SEQ_REALLOC(ud, arr, (size_t)ncap * elem);
    if (p) *cap = ncap;
    return p;
}

/* Decimal digits at p as an int64 (-1 when past INT64_MAX); returns the end of the digits. */
static const char *seq__digits(const char *p, const char *end, int64_t *v) {
    *v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (*v >= 0) *v = *v > (INT64_MAX - d) / 10 ? -1 : *v * 10 + d;
    }
    return p;
}

/* Length of the well-formed UTF-8 sequence at s (no overlong forms, surrogates or code
 * points past U+10FFFF, as RFC 3629 requires), or 0. */
static int seq__utf8_len(const unsigned char *s, size_t avail) {
    uint32_t c;
    int n, i;
    if (avail == 0) return 0;
    if (s[0] < 0x80) return 1;
    n = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
    if (n == 0 || (size_t)n > avail) return 0;
    c = s[0] & (0x7fu >> n);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    if (n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) return 0;
    if (n == 4 && (c < 0x10000 || c > 0x10ffff)) return 0;
    return n;
}

static int seq__utf8_valid(const char *s) {
    size_t left = strlen(s);
    while (left > 0) {
        int n = seq__utf8_len((const unsigned char *)s, left);
        if (!n) return 0;
        s += n;
        left -= (size_t)n;
    }
    return 1;
}

/* --- the header parser: strict JSON (RFC 8259) driven by the safetensors schema; every
 *     object is checked for duplicate keys, and nesting is capped so no input recurses
 *     deeply --------------------------------------------------------------------------- */

typedef struct seq__json {
    seq_safetensors *st;
    const char *fn; /* the public function, for messages */
    char *base, *p, *end;
} seq__json;

static seq_status seq__json_fail(seq__json *js, const char *fmt, ...) SEQ__PRINTF(2, 3);
static seq_status seq__json_fail(seq__json *js, const char *fmt, ...) {
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    seq__vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    return seq__err(SEQ_ERR_FORMAT, "%s: header byte %ld: %s", js->fn, (long)(js->p - js->base), why);
}

static seq_status seq__json_nomem(seq__json *js) {
    return seq__err(SEQ_ERR_NOMEM, "%s: out of memory reading the header", js->fn);
}

static void seq__json_ws(seq__json *js) {
    while (js->p < js->end && (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r')) js->p++;
}

/* Skips whitespace and says whether c is next. */
static int seq__json_peek(seq__json *js, char c) {
    seq__json_ws(js);
    return js->p < js->end && *js->p == c;
}

/* Skips whitespace, then consumes c if it is next. */
static int seq__json_eat(seq__json *js, char c) {
    if (!seq__json_peek(js, c)) return 0;
    js->p++;
    return 1;
}

static int seq__json_hex4(seq__json *js, uint32_t *out) {
    static const char hex[] = "0123456789abcdef0123456789ABCDEF";
    const char *hit;
    int i;
    *out = 0;
    if (js->end - js->p < 4) return 0;
    for (i = 0; i < 4; i++, js->p++) {
        hit = (const char *)memchr(hex, *js->p, sizeof hex - 1);
        if (!hit) return 0;
        *out = *out << 4 | (uint32_t)((hit - hex) & 15);
    }
    return 1;
}

/* One escape (p just past the backslash) decoded to UTF-8 at *w. */
static seq_status seq__json_escape(seq__json *js, char **w) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    uint32_t c, lo;
    if (js->p >= js->end) return seq__json_fail(js, "unterminated string");
    if (*js->p != 'u') {
        hit = (const char *)memchr(from, *js->p, sizeof from - 1);
        if (!hit) return seq__json_fail(js, "invalid escape in a string");
        *(*w)++ = to[hit - from];
        js->p++;
        return SEQ_OK;
    }
    js->p++;
    if (!seq__json_hex4(js, &c)) return seq__json_fail(js, "\\u needs 4 hex digits");
    if (c >= 0xdc00 && c <= 0xdfff) return seq__json_fail(js, "lone low surrogate \\u%04x", (unsigned)c);
    if (c >= 0xd800 && c <= 0xdbff) {
        if (js->end - js->p < 2 || js->p[0] != '\\' || js->p[1] != 'u')
            return seq__json_fail(js, "high surrogate \\u%04x without its low half", (unsigned)c);
        js->p += 2;
        if (!seq__json_hex4(js, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return seq__json_fail(js, "high surrogate \\u%04x without its low half", (unsigned)c);
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (c == 0) return seq__json_fail(js, "\\u0000 cannot be part of a name or value");
    /* UTF-8 of c: never longer than the 6 or 12 escape bytes it replaces */
    if (c < 0x80) {
        *(*w)++ = (char)c;
    } else if (c < 0x800) {
        *(*w)++ = (char)(0xc0 | (c >> 6));
        *(*w)++ = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        *(*w)++ = (char)(0xe0 | (c >> 12));
        *(*w)++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *(*w)++ = (char)(0x80 | (c & 0x3f));
    } else {
        *(*w)++ = (char)(0xf0 | (c >> 18));
        *(*w)++ = (char)(0x80 | ((c >> 12) & 0x3f));
        *(*w)++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *(*w)++ = (char)(0x80 | (c & 0x3f));
    }
    return SEQ_OK;
}

/* A string, unescaped in place into a C string starting at its opening quote: the
 * decoded text is never longer than the quoted one, so writing trails reading. */
static seq_status seq__json_string(seq__json *js, const char **out) {
    char *w;
    if (!seq__json_eat(js, '"')) return seq__json_fail(js, "expected a string");
    w = js->p - 1;
    *out = w;
    for (;;) {
        unsigned char c;
        int n;
        if (js->p >= js->end) return seq__json_fail(js, "unterminated string");
        c = (unsigned char)*js->p;
        if (c == '"') {
            js->p++;
            *w = 0;
            return SEQ_OK;
        }
        if (c < 0x20) return seq__json_fail(js, "control character 0x%02x in a string", c);
        if (c == '\\') {
            seq_status s;
            js->p++;
            s = seq__json_escape(js, &w);
            if (s != SEQ_OK) return s;
            continue;
        }
        n = seq__utf8_len((const unsigned char *)js->p, (size_t)(js->end - js->p));
        if (!n) return seq__json_fail(js, "invalid UTF-8 in a string");
        memmove(w, js->p, (size_t)n);
        w += n;
        js->p += n;
    }
}

/* A number. With out, the only kind the format has: a non-negative integer that fits an
 * int64 (`what` names it in messages); without, any JSON number is skipped. */
static seq_status seq__json_number(seq__json *js, int64_t *out, const char *what) {
    const char *digits;
    int64_t v;
    if (seq__json_peek(js, '-')) {
        if (out) return seq__json_fail(js, "%s must be a non-negative integer", what);
        js->p++;
    }
    digits = js->p;
    js->p = (char *)seq__digits(js->p, js->end, &v);
    if (js->p == digits && out) return seq__json_fail(js, "%s must be a non-negative integer", what);
    if (js->p == digits) return seq__json_fail(js, "expected a value");
    if (*digits == '0' && js->p - digits > 1) return seq__json_fail(js, "number with a leading zero");
    if (out && v < 0) return seq__json_fail(js, "%s is too large", what);
    if (js->p < js->end && (*js->p == '.' || *js->p == 'e' || *js->p == 'E')) {
        if (out) return seq__json_fail(js, "%s must be an integer", what);
        if (*js->p == '.') {
            digits = ++js->p;
            js->p = (char *)seq__digits(js->p, js->end, &v);
            if (js->p == digits) return seq__json_fail(js, "digits must follow '.'");
        }
        if (js->p < js->end && (*js->p == 'e' || *js->p == 'E')) {
            js->p++;
            if (js->p < js->end && (*js->p == '+' || *js->p == '-')) js->p++;
            digits = js->p;
            js->p = (char *)seq__digits(js->p, js->end, &v);
            if (js->p == digits) return seq__json_fail(js, "digits must follow the exponent");
        }
    }
    if (out) *out = v;
    return SEQ_OK;
}

typedef seq_status (*seq__json_member_fn)(seq__json *js, const char *key, int depth, void *ud);
typedef seq_status (*seq__json_elem_fn)(seq__json *js, int64_t index, int depth, void *ud);

/* An object at nesting level depth: each value is parsed by member(), and its keys must
 * differ from each other. */
static seq_status seq__json_object(seq__json *js, int depth, seq__json_member_fn member, void *ud) {
    seq_safetensors *st = js->st;
    int64_t mark = st->nkeys;
    const char *key, *dup;
    seq_status s;
    if (depth > SEQ__JSON_MAX_DEPTH)
        return seq__json_fail(js, "nested deeper than %d levels", SEQ__JSON_MAX_DEPTH);
    if (!seq__json_eat(js, '{')) return seq__json_fail(js, "expected an object");
    if (!seq__json_eat(js, '}')) {
        do {
            const char **keys;
            if ((s = seq__json_string(js, &key)) != SEQ_OK) return s;
            keys = (const char **)seq__grow(st->alloc_ud, st->keys, st->nkeys, &st->keys_cap, sizeof *keys);
            if (!keys) return seq__json_nomem(js);
            st->keys = keys;
            st->keys[st->nkeys++] = key;
            if (!seq__json_eat(js, ':')) return seq__json_fail(js, "expected ':' after a key");
            if ((s = member(js, key, depth, ud)) != SEQ_OK) return s;
        } while (seq__json_eat(js, ','));
        if (!seq__json_eat(js, '}')) return seq__json_fail(js, "expected ',' or '}' in an object");
    }
    dup = st->nkeys > mark ? seq__first_dup(st->keys + mark, st->nkeys - mark) : NULL; /* keys: NULL if none yet */
    st->nkeys = mark;
    if (dup) return seq__json_fail(js, "key '%.200s' appears twice in one object", dup);
    return SEQ_OK;
}

/* An array at nesting level depth, each element parsed by elem(). */
static seq_status seq__json_array(seq__json *js, int depth, seq__json_elem_fn elem, void *ud) {
    int64_t i = 0;
    seq_status s;
    if (depth > SEQ__JSON_MAX_DEPTH)
        return seq__json_fail(js, "nested deeper than %d levels", SEQ__JSON_MAX_DEPTH);
    if (!seq__json_eat(js, '[')) return seq__json_fail(js, "expected an array");
    if (seq__json_eat(js, ']')) return SEQ_OK;
    do {
        if ((s = elem(js, i++, depth, ud)) != SEQ_OK) return s;
    } while (seq__json_eat(js, ','));
    return seq__json_eat(js, ']') ? SEQ_OK : seq__json_fail(js, "expected ',' or ']' in an array");
}

static seq_status seq__json_skip(seq__json *js, int depth);

static seq_status seq__json_skip_member(seq__json *js, const char *key, int depth, void *ud) {
    (void)key;
    (void)ud;
    return seq__json_skip(js, depth);
}

static seq_status seq__json_skip_elem(seq__json *js, int64_t index, int depth, void *ud) {
    (void)index;
    (void)ud;
    return seq__json_skip(js, depth);
}

/* Any value, checked and discarded; depth is the level of its container. */
static seq_status seq__json_skip(seq__json *js, int depth) {
    static const char *const words[3] = {"true", "false", "null"};
    const char *s;
    int i;
    if (seq__json_peek(js, '"')) return seq__json_string(js, &s);
    if (seq__json_peek(js, '{')) return seq__json_object(js, depth + 1, seq__json_skip_member, NULL);
    if (seq__json_peek(js, '[')) return seq__json_array(js, depth + 1, seq__json_skip_elem, NULL);
    for (i = 0; i < 3; i++) {
        size_t len = strlen(words[i]);
        if ((size_t)(js->end - js->p) >= len && memcmp(js->p, words[i], len) == 0) {
            js->p += len;
            return SEQ_OK;
        }
    }
    return seq__json_number(js, NULL, NULL);
}

/* A tensor entry while it is parsed. */
typedef struct seq__st_entry {
    seq_st_info *info;
    unsigned seen; /* 1 dtype, 2 shape, 4 data_offsets */
    int64_t offsets[2];
} seq__st_entry;

static seq_status seq__st_dim(seq__json *js, int64_t index, int depth, void *ud) {
    seq__st_entry *e = (seq__st_entry *)ud;
    seq_safetensors *st = js->st;
    int64_t d, *dims;
    seq_status s = seq__json_number(js, &d, "a shape entry");
    (void)index;
    (void)depth;
    if (s != SEQ_OK) return s;
    if (d != 0 && e->info->numel > INT64_MAX / d)
        return seq__json_fail(js, "tensor '%.200s': the shape's element count overflows", e->info->name);
    e->info->numel *= d;
    dims = (int64_t *)seq__grow(st->alloc_ud, st->dims, st->ndims, &st->dims_cap, sizeof *dims);
    if (!dims) return seq__json_nomem(js);
    st->dims = dims;
    st->dims[st->ndims++] = d;
    e->info->ndim++;
    return SEQ_OK;
}

static seq_status seq__st_offset(seq__json *js, int64_t index, int depth, void *ud) {
    seq__st_entry *e = (seq__st_entry *)ud;
    (void)depth;
    if (index > 1)
        return seq__json_fail(js, "tensor '%.200s': data_offsets has more than 2 entries", e->info->name);
    return seq__json_number(js, &e->offsets[index], "a data offset");
}

static seq_status seq__st_field(seq__json *js, const char *key, int depth, void *ud) {
    seq__st_entry *e = (seq__st_entry *)ud;
    const char *dtype;
    seq_status s;
    int d;
    if (strcmp(key, "dtype") == 0) {
        if (!seq__json_peek(js, '"'))
            return seq__json_fail(js, "tensor '%.200s': dtype must be a string", e->info->name);
        if ((s = seq__json_string(js, &dtype)) != SEQ_OK) return s;
        for (d = 0; d < SEQ_ST_DTYPE_COUNT && strcmp(dtype, seq__st_dtypes[d].name) != 0; d++) continue;
        if (d == SEQ_ST_DTYPE_COUNT)
            return seq__json_fail(js, "tensor '%.200s': unknown dtype '%.20s'", e->info->name, dtype);
        e->info->dtype = (seq_st_dtype)d;
        e->seen |= 1;
        return SEQ_OK;
    }
    if (strcmp(key, "shape") == 0) {
        e->seen |= 2;
        return seq__json_array(js, depth + 1, seq__st_dim, e);
    }
    if (strcmp(key, "data_offsets") == 0) {
        e->seen |= 4;
        e->offsets[0] = e->offsets[1] = -1;
        if ((s = seq__json_array(js, depth + 1, seq__st_offset, e)) != SEQ_OK) return s;
        if (e->offsets[1] < 0)
            return seq__json_fail(js, "tensor '%.200s': data_offsets needs 2 entries", e->info->name);
        return SEQ_OK;
    }
    return seq__json_skip(js, depth); /* fields the format may grow are ignored, as the reference does */
}

static seq_status seq__st_meta_member(seq__json *js, const char *key, int depth, void *ud) {
    seq_safetensors *st = js->st;
    seq__st_meta *meta;
    const char *value;
    seq_status s;
    (void)depth;
    (void)ud;
    if (!seq__json_peek(js, '"'))
        return seq__json_fail(js, "__metadata__ value of '%.200s' must be a string", key);
    if ((s = seq__json_string(js, &value)) != SEQ_OK) return s;
    meta = (seq__st_meta *)seq__grow(st->alloc_ud, st->meta, st->nmeta, &st->meta_cap, sizeof *meta);
    if (!meta) return seq__json_nomem(js);
    st->meta = meta;
    st->meta[st->nmeta].key = key;
    st->meta[st->nmeta++].value = value;
    return SEQ_OK;
}

/* A top-level member: the metadata object, or a tensor entry checked on its own (known
 * dtype, all three fields, byte span matching shape and dtype, inside the buffer). */
static seq_status seq__st_member(seq__json *js, const char *key, int depth, void *ud) {
    seq_safetensors *st = js->st;
    seq__st_entry e;
    seq_st_info *items;
    int64_t size, nbytes, b, end;
    seq_status s;
    (void)ud;
    if (strcmp(key, "__metadata__") == 0) {
        if (!seq__json_peek(js, '{')) return seq__json_fail(js, "__metadata__ must be an object");
        return seq__json_object(js, depth + 1, seq__st_meta_member, NULL);
    }
    if (!seq__json_peek(js, '{')) return seq__json_fail(js, "tensor '%.200s' must be an object", key);
    items = (seq_st_info *)seq__grow(st->alloc_ud, st->items, st->count, &st->cap, sizeof *items);
    if (!items) return seq__json_nomem(js);
    st->items = items;
    e.info = &st->items[st->count++];
    memset(e.info, 0, sizeof *e.info);
    e.info->name = key;
    e.info->numel = 1;
    e.seen = 0;
    if ((s = seq__json_object(js, depth + 1, seq__st_field, &e)) != SEQ_OK) return s;
    if (e.seen != 7)
        return seq__json_fail(js, "tensor '%.200s' has no %s", key,
                              !(e.seen & 1)   ? "dtype"
                              : !(e.seen & 2) ? "shape"
                                              : "data_offsets");
    b = e.offsets[0];
    end = e.offsets[1];
    size = (int64_t)seq__st_dtypes[e.info->dtype].size;
    if (end < b)
        return seq__json_fail(js, "tensor '%.200s': data_offsets [%lld, %lld] end before they begin", key,
                              (long long)b, (long long)end);
    if (e.info->numel > INT64_MAX / size)
        return seq__json_fail(js, "tensor '%.200s': its size in bytes overflows", key);
    nbytes = e.info->numel * size;
    if (end - b != nbytes)
        return seq__json_fail(
            js, "tensor '%.200s': data_offsets [%lld, %lld] span %lld bytes, but %lld %s elements take %lld", key,
            (long long)b, (long long)end, (long long)(end - b), (long long)e.info->numel,
            seq__st_dtypes[e.info->dtype].name, (long long)nbytes);
    if ((uint64_t)end > (uint64_t)(st->size - st->data_start))
        return seq__json_fail(js, "tensor '%.200s': data_offsets [%lld, %lld] run past the %zu-byte data buffer",
                              key, (long long)b, (long long)end, st->size - st->data_start);
    e.info->offset = (size_t)b;
    e.info->nbytes = (size_t)nbytes;
    return SEQ_OK;
}

/* The header: one object right at the start (as the reference requires), then only
 * whitespace, the padding. */
static seq_status seq__st_parse_header(seq_safetensors *st, const char *fn, size_t n) {
    seq__json js;
    int64_t i, at;
    seq_status s;
    js.st = st;
    js.fn = fn;
    js.base = js.p = st->header;
    js.end = st->header + n;
    if (n == 0 || st->header[0] != '{')
        return seq__json_fail(&js, "the header must be a JSON object starting with '{'");
    if ((s = seq__json_object(&js, 1, seq__st_member, NULL)) != SEQ_OK) return s;
    seq__json_ws(&js);
    if (js.p != js.end) return seq__json_fail(&js, "data after the header object");
    for (i = 0, at = 0; i < st->count; i++) {
        st->items[i].shape = st->dims ? st->dims + at : NULL;
        at += st->items[i].ndim;
    }
    return SEQ_OK;
}

/* Orders tensors by where their bytes lie (then by name, so ties sort the same everywhere). */
static int seq__cmp_offset(const void *a, const void *b) {
    const seq_st_info *x = (const seq_st_info *)a, *y = (const seq_st_info *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The tensors must tile the data buffer exactly: in offset order (the header's own order
 * means nothing, JSON objects being unordered) each begins where the one before ends,
 * the first at 0, and the last ends at the end of the file. */
static seq_status seq__st_layout(seq_safetensors *st, const char *fn) {
    size_t pos = 0, size = st->size - st->data_start;
    int64_t i;
    if (st->count > 1) qsort(st->items, (size_t)st->count, sizeof *st->items, seq__cmp_offset);
    for (i = 0; i < st->count; i++) {
        const seq_st_info *t = &st->items[i];
        if (t->offset < pos)
            return seq__err(SEQ_ERR_FORMAT,
                            "%s: tensor '%.200s' at data bytes [%zu, %zu) overlaps '%.200s' before it", fn,
                            t->name, t->offset, t->offset + t->nbytes, st->items[i - 1].name);
        if (t->offset > pos)
            return seq__err(SEQ_ERR_FORMAT, "%s: a hole of %zu bytes in the data buffer before tensor '%.200s'",
                            fn, t->offset - pos, t->name);
        pos += t->nbytes;
    }
    if (pos != size)
        return seq__err(SEQ_ERR_FORMAT, "%s: the tensors cover %zu bytes but the data buffer holds %zu", fn, pos,
                        size);
    if (st->count > 1) qsort(st->items, (size_t)st->count, sizeof *st->items, seq__cmp_name);
    if (st->nmeta > 1) qsort(st->meta, (size_t)st->nmeta, sizeof *st->meta, seq__cmp_name);
    return SEQ_OK;
}

/* n bytes at file position pos into dst. */
static seq_status seq__st_bytes(seq_safetensors *st, const char *fn, size_t pos, size_t n, void *dst) {
    if (n == 0) return SEQ_OK;
    if (st->mem) {
        memcpy(dst, st->mem + pos, n);
        return SEQ_OK;
    }
    if (fseek(st->f, (long)pos, SEEK_SET) != 0 || fread(dst, 1, n, st->f) != n)
        return seq__err(SEQ_ERR_IO, "%s: reading %zu bytes at file offset %zu failed", fn, n, pos);
    return SEQ_OK;
}

static seq_status seq__st_read_header(seq_safetensors *st, const char *fn) {
    unsigned char len8[8];
    uint64_t n = 0;
    int i;
    seq_status s;
    if (st->size < 8)
        return seq__err(SEQ_ERR_FORMAT, "%s: %zu bytes are too few for the 8-byte header length", fn, st->size);
    if ((s = seq__st_bytes(st, fn, 0, 8, len8)) != SEQ_OK) return s;
    for (i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n > SEQ__ST_MAX_HEADER)
        return seq__err(SEQ_ERR_FORMAT, "%s: header length %llu is over the format's limit of %u bytes", fn,
                        (unsigned long long)n, SEQ__ST_MAX_HEADER);
    if (n > st->size - 8)
        return seq__err(SEQ_ERR_FORMAT, "%s: header length %llu runs past the end of the %zu-byte file", fn,
                        (unsigned long long)n, st->size);
    st->data_start = 8 + (size_t)n;
    st->header = (char *)SEQ_MALLOC(st->alloc_ud, (size_t)n + 1);
    if (!st->header)
        return seq__err(SEQ_ERR_NOMEM, "%s: out of memory for a %llu-byte header", fn, (unsigned long long)n);
    if ((s = seq__st_bytes(st, fn, 8, (size_t)n, st->header)) != SEQ_OK) return s;
    if ((s = seq__st_parse_header(st, fn, (size_t)n)) != SEQ_OK) return s;
    return seq__st_layout(st, fn);
}

/* A reader over the file at path, or else over buf; fn names the public caller. */
static seq_safetensors *seq__st_open(const char *fn, const char *path, const void *buf, size_t len, void *ud,
                                     seq_status *status) {
    seq_safetensors *st = (seq_safetensors *)SEQ_MALLOC(ud, sizeof *st);
    long size = 0;
    seq_status s = SEQ_OK;
    if (!st) {
        *status = seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    memset(st, 0, sizeof *st);
    st->alloc_ud = ud;
    if (path) {
        st->f = fopen(path, "rb");
        if (!st->f)
            s = seq__err(SEQ_ERR_IO, "%s: cannot open '%s'", fn, path);
        else if (fseek(st->f, 0, SEEK_END) != 0 || (size = ftell(st->f)) < 0)
            s = seq__err(SEQ_ERR_IO, "%s: cannot find the size of '%s'", fn, path);
        st->size = (size_t)size;
    } else {
        st->mem = (const unsigned char *)buf;
        st->size = len;
    }
    if (s == SEQ_OK) s = seq__st_read_header(st, fn);
    SEQ_FREE(ud, st->keys); /* parse scratch: not needed once open */
    st->keys = NULL;
    if (s != SEQ_OK) {
        seq_safetensors_close(st);
        st = NULL;
    }
    *status = s;
    return st;
}

SEQDEF seq_safetensors *seq_safetensors_open(const char *path, void *alloc_ud) {
    seq_status s;
    if (!path) {
        seq__err(SEQ_ERR_INVALID, "seq_safetensors_open: NULL path");
        return NULL;
    }
    return seq__st_open("seq_safetensors_open", path, NULL, 0, alloc_ud, &s);
}

SEQDEF seq_safetensors *seq_safetensors_open_memory(const void *buf, size_t len, void *alloc_ud) {
    seq_status s;
    if (!buf) {
        seq__err(SEQ_ERR_INVALID, "seq_safetensors_open_memory: NULL buffer");
        return NULL;
    }
    return seq__st_open("seq_safetensors_open_memory", NULL, buf, len, alloc_ud, &s);
}

SEQDEF void seq_safetensors_close(seq_safetensors *st) {
    if (!st) return;
    if (st->f) fclose(st->f);
    SEQ_FREE(st->alloc_ud, st->header);
    SEQ_FREE(st->alloc_ud, st->items);
    SEQ_FREE(st->alloc_ud, st->dims);
    SEQ_FREE(st->alloc_ud, st->meta);
    SEQ_FREE(st->alloc_ud, st);
}

SEQDEF int64_t seq_safetensors_count(const seq_safetensors *st) { return st ? st->count : 0; }

SEQDEF const seq_st_info *seq_safetensors_get(const seq_safetensors *st, int64_t i) {
    return st && i >= 0 && i < st->count ? &st->items[i] : NULL;
}

SEQDEF const seq_st_info *seq_safetensors_find(const seq_safetensors *st, const char *name) {
    if (!st || !name || st->count == 0) return NULL;
    return (const seq_st_info *)bsearch(&name, st->items, (size_t)st->count, sizeof *st->items, seq__cmp_name);
}

SEQDEF const char *seq_safetensors_meta(const seq_safetensors *st, const char *key) {
    const seq__st_meta *m;
    if (!st || !key || st->nmeta == 0) return NULL;
    m = (const seq__st_meta *)bsearch(&key, st->meta, (size_t)st->nmeta, sizeof *st->meta, seq__cmp_name);
    return m ? m->value : NULL;
}

/* info's elements as f32 into dst (numel floats). From a file the raw bytes are read into
 * the tail of dst and widened front to back: writing element i (dst bytes [4i, 4i+4))
 * never reaches the raw bytes of a later element, which begin at 4n - size*(n-i-1). */
static seq_status seq__st_decode(seq_safetensors *st, const char *fn, const seq_st_info *info, float *dst) {
    const unsigned char *src;
    int64_t i, n = info->numel;
    if (info->dtype != SEQ_ST_F32 && info->dtype != SEQ_ST_F16 && info->dtype != SEQ_ST_BF16)
        return seq__err(SEQ_ERR_UNSUPPORTED, "%s: tensor '%.200s' is %s; only F32, F16 and BF16 load as f32", fn,
                        info->name, seq__st_dtypes[info->dtype].name);
    if (n == 0) return SEQ_OK;
    if (st->mem) {
        src = st->mem + st->data_start + info->offset;
    } else {
        unsigned char *tail = (unsigned char *)dst + (size_t)n * sizeof(float) - info->nbytes;
        seq_status s = seq__st_bytes(st, fn, st->data_start + info->offset, info->nbytes, tail);
        if (s != SEQ_OK) return s;
        src = tail;
    }
    if (info->dtype == SEQ_ST_F32) {
        for (i = 0; i < n; i++, src += 4)
            dst[i] = seq__bits_f32((uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                                   (uint32_t)src[3] << 24);
    } else {
        for (i = 0; i < n; i++, src += 2) {
            uint16_t h = (uint16_t)(src[0] | src[1] << 8);
            dst[i] = info->dtype == SEQ_ST_F16 ? seq_f16_to_f32(h) : seq_bf16_to_f32(h);
        }
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_safetensors_read_f32(seq_safetensors *st, const char *name, float *dst, int64_t numel) {
    static const char fn[] = "seq_safetensors_read_f32";
    const seq_st_info *info;
    if (!st || !name || (!dst && numel > 0)) return seq__err(SEQ_ERR_INVALID, "%s: NULL reader, name or dst", fn);
    info = seq_safetensors_find(st, name);
    if (!info) return seq__err(SEQ_ERR_INVALID, "%s: no tensor '%.200s'", fn, name);
    if (numel != info->numel)
        return seq__err(SEQ_ERR_SHAPE, "%s: tensor '%.200s' has %lld elements, not %lld", fn, name,
                        (long long)info->numel, (long long)numel);
    return seq__st_decode(st, fn, info, dst);
}

/* --- the writer ------------------------------------------------------------------------ */

/* Where header text goes: a file, or nowhere while only its length is counted. */
typedef struct seq__sink {
    FILE *f;
    size_t n;
} seq__sink;

static void seq__put(seq__sink *o, const char *s, size_t n) {
    if (o->f) fwrite(s, 1, n, o->f);
    o->n += n;
}

static void seq__puts(seq__sink *o, const char *s) { seq__put(o, s, strlen(s)); }

static void seq__put_i64(seq__sink *o, int64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    seq__puts(o, b);
}

/* s as a JSON string: quotes, backslashes and control characters escaped, UTF-8 as is. */
static void seq__put_json_str(seq__sink *o, const char *s) {
    seq__put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            seq__put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)c);
            seq__put(o, esc, 6);
        } else {
            seq__put(o, s, 1);
        }
    }
    seq__put(o, "\"", 1);
}

static void seq__st_header(seq__sink *o, const seq_st_tensor_desc *t, int64_t n, const char *const *kv,
                           int64_t n_meta, seq_st_dtype dt) {
    int64_t i, off = 0;
    int k;
    seq__puts(o, "{");
    if (n_meta > 0) {
        seq__puts(o, "\"__metadata__\":{");
        for (i = 0; i < n_meta; i++) {
            if (i) seq__puts(o, ",");
            seq__put_json_str(o, kv[2 * i]);
            seq__puts(o, ":");
            seq__put_json_str(o, kv[2 * i + 1]);
        }
        seq__puts(o, "}");
    }
    for (i = 0; i < n; i++) {
        int64_t bytes = seq__numel(t[i].ndim, t[i].shape) * (int64_t)seq__st_dtypes[dt].size;
        if (i || n_meta > 0) seq__puts(o, ",");
        seq__put_json_str(o, t[i].name);
        seq__puts(o, ":{\"dtype\":\"");
        seq__puts(o, seq__st_dtypes[dt].name);
        seq__puts(o, "\",\"shape\":[");
        for (k = 0; k < t[i].ndim; k++) {
            if (k) seq__puts(o, ",");
            seq__put_i64(o, t[i].shape[k]);
        }
        seq__puts(o, "],\"data_offsets\":[");
        seq__put_i64(o, off);
        seq__puts(o, ",");
        seq__put_i64(o, off + bytes);
        seq__puts(o, "]}");
        off += bytes;
    }
    seq__puts(o, "}");
}

/* n floats as little-endian dt elements. */
static void seq__st_put_data(FILE *f, const float *x, int64_t n, seq_st_dtype dt) {
    unsigned char buf[4096];
    size_t used = 0, size = seq__st_dtypes[dt].size, b;
    int64_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = dt == SEQ_ST_F32   ? seq__f32_bits(x[i])
                     : dt == SEQ_ST_F16 ? seq_f32_to_f16(x[i])
                                        : seq_f32_to_bf16(x[i]);
        for (b = 0; b < size; b++) buf[used++] = (unsigned char)(u >> (8 * b));
        if (used == sizeof buf) {
            fwrite(buf, 1, used, f);
            used = 0;
        }
    }
    if (used) fwrite(buf, 1, used, f);
}

/* Everything a writer can refuse, checked before any file is touched. */
static seq_status seq__st_check_write(const char *fn, void *ud, const char *path, const seq_st_tensor_desc *t,
                                      int64_t n, const char *const *kv, int64_t n_meta, seq_st_dtype dt) {
    int64_t i, total = 0, most = n > n_meta ? n : n_meta, size = (int64_t)seq_st_dtype_size(dt);
    const char **names, *dup_name = NULL, *dup_key = NULL;
    if (!path || n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && !kv))
        return seq__err(SEQ_ERR_INVALID, "%s: NULL path, tensors or metadata, or a negative count", fn);
    if (dt != SEQ_ST_F32 && dt != SEQ_ST_F16 && dt != SEQ_ST_BF16)
        return seq__err(SEQ_ERR_UNSUPPORTED, "%s: writes F32, F16 or BF16, not %s", fn, seq_st_dtype_name(dt));
    for (i = 0; i < n; i++) {
        int64_t numel = seq__numel(t[i].ndim, t[i].shape);
        if (!t[i].name || !seq__utf8_valid(t[i].name) || strcmp(t[i].name, "__metadata__") == 0)
            return seq__err(SEQ_ERR_INVALID, "%s: tensor %lld has a NULL, non-UTF-8 or reserved name", fn,
                            (long long)i);
        if (numel < 0) return seq__err(SEQ_ERR_SHAPE, "%s: tensor '%.200s' has a bad shape", fn, t[i].name);
        if (numel > 0 && !t[i].data)
            return seq__err(SEQ_ERR_INVALID, "%s: tensor '%.200s' has NULL data", fn, t[i].name);
        if (numel > (INT64_MAX - total) / size)
            return seq__err(SEQ_ERR_INVALID, "%s: too many bytes for one file", fn);
        total += numel * size;
    }
    for (i = 0; i < 2 * n_meta; i++)
        if (!kv[i] || !seq__utf8_valid(kv[i]))
            return seq__err(SEQ_ERR_INVALID, "%s: metadata string %lld is NULL or not UTF-8", fn, (long long)i);
    if (most < 2) return SEQ_OK;
    names = (const char **)SEQ_MALLOC(ud, (size_t)most * sizeof *names);
    if (!names) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    for (i = 0; i < n; i++) names[i] = t[i].name;
    dup_name = seq__first_dup(names, n);
    for (i = 0; i < n_meta; i++) names[i] = kv[2 * i];
    dup_key = seq__first_dup(names, n_meta);
    SEQ_FREE(ud, names);
    if (dup_name) return seq__err(SEQ_ERR_INVALID, "%s: tensor name '%.200s' appears twice", fn, dup_name);
    if (dup_key) return seq__err(SEQ_ERR_INVALID, "%s: metadata key '%.200s' appears twice", fn, dup_key);
    return SEQ_OK;
}

static seq_status seq__st_write(const char *fn, void *ud, const char *path, const seq_st_tensor_desc *t, int64_t n,
                                const char *const *kv, int64_t n_meta, seq_st_dtype dt) {
    seq__sink o;
    unsigned char len8[8];
    size_t hlen;
    seq_atomic_file a;
    int64_t i;
    int k;
    seq_status s = seq__st_check_write(fn, ud, path, t, n, kv, n_meta, dt);
    if (s != SEQ_OK) return s;
    o.f = NULL;
    o.n = 0;
    seq__st_header(&o, t, n, kv, n_meta, dt);
    hlen = (o.n + 7) / 8 * 8; /* padded with spaces so the data starts 8-byte aligned */
    if (hlen > SEQ__ST_MAX_HEADER)
        return seq__err(SEQ_ERR_INVALID, "%s: a %zu-byte header is over the format's limit", fn, hlen);
    if ((s = seq_atomic_open(&a, fn, path, ud)) != SEQ_OK) return s;
    for (k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    fwrite(len8, 1, 8, a.f);
    o.f = a.f;
    o.n = 0;
    seq__st_header(&o, t, n, kv, n_meta, dt);
    while (o.n < hlen) seq__put(&o, " ", 1);
    for (i = 0; i < n; i++) seq__st_put_data(a.f, t[i].data, seq__numel(t[i].ndim, t[i].shape), dt);
    return seq_atomic_commit(&a, fn, path, 1); /* a short write shows as the stream's error */
}

SEQDEF seq_status seq_safetensors_write(const char *path, const seq_st_tensor_desc *tensors, int64_t n,
                                        const char *const *meta_kv, int64_t n_meta, seq_st_dtype out_dtype) {
    return seq__st_write("seq_safetensors_write", NULL, path, tensors, n, meta_kv, n_meta, out_dtype);
}

/* --- 13c replacing a file atomically ------------------------------------------------ */

#ifdef SEQ__POSIX
/* rename is atomic but not durable: without the fsyncs a power cut can leave the new
 * name pointing at blocks never written, or the directory entry not yet updated */
static int seq__sync_file(FILE *f) { return fsync(fileno(f)) == 0; }
static void seq__sync_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) + 1 : 0;
    int fd;
    if (len >= sizeof dir) return;
    if (len) memcpy(dir, path, len);
    else dir[len++] = '.';
    dir[len] = 0;
    if ((fd = open(dir, O_RDONLY)) >= 0) { /* best effort: some filesystems refuse it */
        fsync(fd);
        close(fd);
    }
}
#else
static int seq__sync_file(FILE *f) { return f != NULL; }
static void seq__sync_dir(const char *path) { (void)path; }
#endif

SEQDEF seq_status seq_atomic_open(seq_atomic_file *a, const char *fn, const char *path, void *alloc_ud) {
    size_t cap;
    seq_rng r;
    int attempt;
    if (!a || !path) return seq__err(SEQ_ERR_INVALID, "%s: NULL %s", fn, a ? "path" : "file");
    a->f = NULL;
    a->alloc_ud = alloc_ud;
    cap = strlen(path) + 32;
    if (!(a->tmp = (char *)SEQ_MALLOC(alloc_ud, cap))) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    /* addresses differ between runs (ASLR); the exclusive open makes a clash harmless */
    seq_rng_seed(&r, (uint64_t)(uintptr_t)&r ^ ((uint64_t)(uintptr_t)a->tmp << 20));
    for (attempt = 0; attempt < 16 && !a->f; attempt++) {
        snprintf(a->tmp, cap, "%s.tmp.%016llx", path, (unsigned long long)seq_rng_u64(&r));
        a->f = fopen(a->tmp, "wbx");
    }
    if (a->f) return SEQ_OK;
    SEQ_FREE(alloc_ud, a->tmp);
    a->tmp = NULL;
    return seq__err(SEQ_ERR_IO, "%s: cannot create a file next to '%s'", fn, path);
}

SEQDEF seq_status seq_atomic_commit(seq_atomic_file *a, const char *fn, const char *path, int ok) {
    seq_status s = SEQ_OK;
    if (!a || !a->f) return seq__err(SEQ_ERR_INVALID, "%s: no file open", fn);
    ok = ok && fflush(a->f) == 0 && !ferror(a->f) && seq__sync_file(a->f);
    ok = fclose(a->f) == 0 && ok; /* a full disk shows here at the latest */
    if (ok && rename(a->tmp, path) == 0) {
        seq__sync_dir(path);
    } else {
        remove(a->tmp);
        s = seq__err(SEQ_ERR_IO, "%s: %s '%s' failed", fn, ok ? "replacing" : "writing", path);
    }
    SEQ_FREE(a->alloc_ud, a->tmp);
    a->f = NULL;
    a->tmp = NULL;
    return s;
}

/* --- 13d parameters and checkpoints ------------------------------------------------------ */

#define SEQ__KIND_MAX 64
#define SEQ__KEY_CAP (SEQ__KIND_MAX + 32) /* fits "__optim__.<i>.<kind>" */

/* "__optim__.<i>.<what>": state i's tensor (what = its kind) or metadata key. */
static void seq__optim_key(char *buf, int i, const char *what) {
    snprintf(buf, SEQ__KEY_CAP, "__optim__.%d.%s", i, what);
}

static seq_status seq__check_states(const char *fn, const seq_optim_state *const *states, int nstates) {
    int i;
    if (nstates < 0 || (nstates > 0 && !states))
        return seq__err(SEQ_ERR_INVALID, "%s: NULL states or a negative count", fn);
    for (i = 0; i < nstates; i++) {
        const seq_optim_state *o = states[i];
        if (!o || !o->kind || strlen(o->kind) > SEQ__KIND_MAX || o->numel < 0 || o->numel > INT64_MAX / 8 ||
            (o->numel > 0 && !o->buf) || o->step < 0)
            return seq__err(SEQ_ERR_INVALID,
                            "%s: state %d is NULL or has no kind (or one over %d bytes), a bad size, no buffer or "
                            "a negative step",
                            fn, i, SEQ__KIND_MAX);
    }
    return SEQ_OK;
}

static seq_status seq__save(const char *fn, const char *path, const seq_params *P,
                            const seq_optim_state *const *states, int nstates, int checkpoint) {
    int64_t n, n_meta = checkpoint ? 1 + 2 * (int64_t)nstates : 0, i;
    seq_st_tensor_desc *t;
    const char **kv;
    char *text;
    void *block;
    int k;
    seq_status s;
    if (!P || !P->allocated) return seq__err(SEQ_ERR_INVALID, "%s: NULL or unallocated params", fn);
    if ((s = seq__check_states(fn, states, nstates)) != SEQ_OK) return s;
    n = P->count + nstates;
    block = SEQ_MALLOC(P->alloc_ud, (size_t)n * sizeof *t + (size_t)(2 * n_meta) * sizeof *kv +
                                        (size_t)(1 + 4 * (int64_t)nstates) * SEQ__KEY_CAP);
    if (!block) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    t = (seq_st_tensor_desc *)block;
    kv = (const char **)(t + n);
    text = (char *)(kv + 2 * n_meta); /* SEQ__KEY_CAP bytes for each string made here */
    for (i = 0; i < P->count; i++) {
        const seq_tensor *p = &P->items[i]->t;
        t[i].name = p->name;
        t[i].ndim = p->ndim;
        t[i].shape = p->shape;
        t[i].data = p->data;
    }
    if (checkpoint) {
        kv[0] = "__optim__.count";
        snprintf(text, SEQ__KEY_CAP, "%d", nstates);
        kv[1] = text;
        for (k = 0; k < nstates; k++) {
            seq_st_tensor_desc *d = &t[P->count + k];
            char *name = text + (size_t)(1 + 4 * (int64_t)k) * SEQ__KEY_CAP, *kind_key = name + SEQ__KEY_CAP;
            char *step_key = kind_key + SEQ__KEY_CAP, *step = step_key + SEQ__KEY_CAP;
            seq__optim_key(name, k, states[k]->kind);
            seq__optim_key(kind_key, k, "kind");
            seq__optim_key(step_key, k, "step");
            snprintf(step, SEQ__KEY_CAP, "%lld", (long long)states[k]->step);
            d->name = name;
            d->ndim = 1;
            d->shape = &states[k]->numel;
            d->data = states[k]->buf;
            kv[2 + 4 * k] = kind_key;
            kv[3 + 4 * k] = states[k]->kind;
            kv[4 + 4 * k] = step_key;
            kv[5 + 4 * k] = step;
        }
    }
    s = seq__st_write(fn, P->alloc_ud, path, t, n, kv, n_meta, SEQ_ST_F32);
    SEQ_FREE(P->alloc_ud, block);
    return s;
}

/* "(2, 3)" */
static void seq__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t used = 0;
    int k;
    buf[0] = 0;
    for (k = 0; k < ndim && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", k ? ", " : "(", (long long)shape[k]);
    if (used < cap) snprintf(buf + used, cap - used, ndim ? ")" : "()");
}

/* The file must hold every parameter of P, with its shape. */
static seq_status seq__st_match_params(const seq_safetensors *st, const char *fn, const seq_params *P) {
    int64_t i;
    int k;
    for (i = 0; i < P->count; i++) {
        const seq_tensor *p = &P->items[i]->t;
        const seq_st_info *info = seq_safetensors_find(st, p->name);
        char in_file[96], in_p[96];
        if (!info) return seq__err(SEQ_ERR_FORMAT, "%s: the file has no tensor '%.200s'", fn, p->name);
        if (info->ndim > SEQ_MAX_DIMS)
            return seq__err(SEQ_ERR_UNSUPPORTED,
                            "%s: tensor '%.200s' has %d dimensions; seq tensors have at most %d", fn, p->name,
                            info->ndim, SEQ_MAX_DIMS);
        for (k = 0; k < info->ndim && info->ndim == p->ndim && info->shape[k] == p->shape[k]; k++) continue;
        if (info->ndim != p->ndim || k < p->ndim) {
            seq__shape_str(in_file, sizeof in_file, info->ndim, info->shape);
            seq__shape_str(in_p, sizeof in_p, p->ndim, p->shape);
            return seq__err(SEQ_ERR_SHAPE, "%s: '%.200s' is %s in the file but %s in the parameters", fn, p->name,
                            in_file, in_p);
        }
    }
    return SEQ_OK;
}

/* A metadata value that is a decimal int64 >= 0. */
static int seq__meta_int(const seq_safetensors *st, const char *key, int64_t *v) {
    const char *s = seq_safetensors_meta(st, key), *end;
    if (!s || !*s) return 0;
    end = s + strlen(s);
    return seq__digits(s, end, v) == end && *v >= 0;
}

/* State i's record in the checkpoint, checked against o (kind, size, step) and read:
 * its buffer into dst, its step into *step. */
static seq_status seq__st_read_state(seq_safetensors *st, const char *fn, int i, const seq_optim_state *o,
                                     int64_t *step, float *dst) {
    char key[SEQ__KEY_CAP];
    const seq_st_info *info;
    const char *kind;
    seq__optim_key(key, i, "kind");
    kind = seq_safetensors_meta(st, key);
    if (!kind || strcmp(kind, o->kind) != 0)
        return seq__err(SEQ_ERR_FORMAT, "%s: optimizer state %d is '%.64s' in the file but '%s' here", fn, i,
                        kind ? kind : "(missing)", o->kind);
    seq__optim_key(key, i, "step");
    if (!seq__meta_int(st, key, step))
        return seq__err(SEQ_ERR_FORMAT, "%s: optimizer state %d has no valid step", fn, i);
    seq__optim_key(key, i, o->kind);
    info = seq_safetensors_find(st, key);
    if (!info || info->numel != o->numel)
        return seq__err(SEQ_ERR_FORMAT,
                        "%s: optimizer state %d ('%s') holds %lld floats in the file but %lld here", fn, i,
                        o->kind, (long long)(info ? info->numel : 0), (long long)o->numel);
    return seq__st_decode(st, fn, info, dst);
}

/* Everything is read into one temporary block before anything is stored, so a failure
 * at any point leaves P and the states as they were. */
static seq_status seq__load(const char *fn, const char *path, seq_params *P, seq_optim_state *const *states,
                            int nstates, int checkpoint) {
    seq_safetensors *st;
    int64_t i, total, count, *steps = NULL;
    float *vals = NULL;
    int k;
    seq_status s;
    if (!P || !P->allocated || !path) return seq__err(SEQ_ERR_INVALID, "%s: NULL path or unallocated params", fn);
    if ((s = seq__check_states(fn, (const seq_optim_state *const *)states, nstates)) != SEQ_OK) return s;
    for (k = 0, total = P->numel; k < nstates; k++) {
        if (states[k]->numel > INT64_MAX / 8 - total)
            return seq__err(SEQ_ERR_INVALID, "%s: the states are too large", fn);
        total += states[k]->numel;
    }
    st = seq__st_open(fn, path, NULL, 0, P->alloc_ud, &s);
    if (!st) return s;
    s = seq__st_match_params(st, fn, P);
    if (s == SEQ_OK && checkpoint && (!seq__meta_int(st, "__optim__.count", &count) || count != nstates)) {
        const char *held = seq_safetensors_meta(st, "__optim__.count");
        s = seq__err(SEQ_ERR_FORMAT, "%s: the file holds %.20s optimizer states but %d were passed", fn,
                     held ? held : "no", nstates);
    }
    if (s == SEQ_OK) {
        steps = (int64_t *)SEQ_MALLOC(P->alloc_ud, (size_t)nstates * sizeof *steps + (size_t)total * sizeof *vals);
        if (!steps) s = seq__err(SEQ_ERR_NOMEM, "%s: out of memory for %lld floats", fn, (long long)total);
        else vals = (float *)(steps + nstates);
    }
    for (i = 0; i < P->count && s == SEQ_OK; i++)
        s = seq__st_decode(st, fn, seq_safetensors_find(st, P->items[i]->t.name), vals + P->items[i]->offset);
    for (k = 0, total = P->numel; k < nstates && s == SEQ_OK; k++) {
        s = seq__st_read_state(st, fn, k, states[k], &steps[k], vals + total);
        total += states[k]->numel;
    }
    if (s == SEQ_OK) {
        memcpy(P->data, vals, (size_t)P->numel * sizeof *vals);
        for (k = 0, total = P->numel; k < nstates; k++) {
            if (states[k]->numel > 0)
                memcpy(states[k]->buf, vals + total, (size_t)states[k]->numel * sizeof *vals);
            states[k]->step = steps[k];
            total += states[k]->numel;
        }
    }
    SEQ_FREE(P->alloc_ud, steps);
    seq_safetensors_close(st);
    return s;
}

SEQDEF seq_status seq_safetensors_save(const seq_params *P, const char *path) {
    return seq__save("seq_safetensors_save", path, P, NULL, 0, 0);
}

SEQDEF seq_status seq_safetensors_load(seq_params *P, const char *path) {
    return seq__load("seq_safetensors_load", path, P, NULL, 0, 0);
}

SEQDEF seq_status seq_checkpoint_save(const char *path, const seq_params *P, const seq_optim_state *const *states,
                                      int nstates) {
    return seq__save("seq_checkpoint_save", path, P, states, nstates, 1);
}

SEQDEF seq_status seq_checkpoint_load(const char *path, seq_params *P, seq_optim_state *const *states,
                                      int nstates) {
    return seq__load("seq_checkpoint_load", path, P, states, nstates, 1);
}

/* ===================================================================================
 * 14 layers
 * =================================================================================== */

/* --- 14.1 resettable linear scan ------------------------------------------------------ */

/* Valid length of row b, or T when no lengths are given. */
static int64_t seq__row_len(const int32_t *lengths, int64_t b, int64_t T) { return lengths ? lengths[b] : T; }

/* 1 when every length is in [0,T]; otherwise 0 with the ctx error set. */
static int seq__lengths_ok(seq_ctx *ctx, const char *op, const int32_t *lengths, int64_t B, int64_t T) {
    int64_t b;
    if (!lengths) return 1;
    for (b = 0; b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T) {
            seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "lengths[%lld] = %d is outside [0, T=%lld]", (long long)b,
                          (int)lengths[b], (long long)T);
            return 0;
        }
    return 1;
}

/* The diagonal recurrence under seq_linear_scan and the 14.7 layers, over raw arrays:
 *     h_t = a_t * h_{t-1} + b_t        on rows of (B,T,C) arrays,
 * elementwise (real), or, with cplx, on C/2 complex numbers per step stored as the C/2
 * real parts followed by the C/2 imaginary parts. a_t is a + r*a_rs + t*a_ts, so zero
 * strides share one coefficient vector across rows or steps. reverse runs each row from
 * its last valid step down to 0: the step before t is then t+1, and a reset flag at t+1
 * ends the segment t belongs to. h0, hn and their gradients are (B,C) rows s_rs floats
 * apart (C when contiguous; more when they are slices of a wider state). */
typedef struct seq__dscan {
    int64_t B, T, C, a_rs, a_ts, s_rs;
    int cplx, reverse;
    const float *a, *b, *h0; /* h0 NULL: zeros */
    const uint8_t *resets;
    const int32_t *lengths;
} seq__dscan;

/* Position of row step k (0-based, within a row of length len). */
static int64_t seq__dscan_pos(const seq__dscan *s, int64_t len, int64_t k) { return s->reverse ? len - 1 - k : k; }

/* Whether the state carried into position t of row r is dropped. */
static int seq__dscan_reset(const seq__dscan *s, int64_t r, int64_t t, int64_t len) {
    if (!s->resets) return 0;
    if (!s->reverse) return s->resets[r * s->T + t] != 0;
    return t + 1 < len && s->resets[r * s->T + t + 1] != 0;
}

/* out = (add ? out : 0) + x * conj(y) over one step's C floats (conj is the identity when
 * real); out may alias x or y: each number is read before it is written. With y the
 * coefficient a this is the forward product a * h_{t-1} read backwards: the gradient of a
 * product with respect to one factor is the incoming gradient times the other's conjugate. */
static void seq__dscan_mul_conj(int cplx, int64_t C, const float *x, const float *y, float *out, int add) {
    int64_t c, K = C / 2;
    if (!cplx) {
        for (c = 0; c < C; c++) out[c] = (add ? out[c] : 0.0f) + x[c] * y[c];
        return;
    }
    for (c = 0; c < K; c++) {
        float re = x[c] * y[c] + x[K + c] * y[K + c], im = x[K + c] * y[c] - x[c] * y[K + c];
        out[c] = (add ? out[c] : 0.0f) + re;
        out[K + c] = (add ? out[K + c] : 0.0f) + im;
    }
}

/* h = a * hp + b on one step's C floats; h may alias hp (the step APIs advance in place). */
static void seq__dscan_step(int cplx, int64_t C, const float *a, const float *hp, const float *b, float *h) {
    int64_t c, K = C / 2;
    if (!cplx) {
        for (c = 0; c < C; c++) h[c] = a[c] * hp[c] + b[c];
        return;
    }
    for (c = 0; c < K; c++) {
        float re = a[c] * hp[c] - a[K + c] * hp[K + c] + b[c], im = a[c] * hp[K + c] + a[K + c] * hp[c] + b[K + c];
        h[c] = re;
        h[K + c] = im;
    }
}

/* h (B,T,C): the state at every valid position, 0 past each row's length; hn (rows s_rs
 * apart) or NULL: each row's final state (its initial state when the row is empty). h may
 * alias h0 when T == 1. */
static void seq__dscan_forward(const seq__dscan *s, float *h, float *hn) {
    int64_t C = s->C, r, k;
    for (r = 0; r < s->B; r++) {
        int64_t len = seq__row_len(s->lengths, r, s->T);
        const float *hp = s->h0 ? s->h0 + r * s->s_rs : NULL;
        memset(h + (r * s->T + len) * C, 0, (size_t)((s->T - len) * C) * sizeof(float));
        for (k = 0; k < len; k++) {
            int64_t t = seq__dscan_pos(s, len, k), o = (r * s->T + t) * C;
            if (!hp || seq__dscan_reset(s, r, t, len)) memcpy(h + o, s->b + o, (size_t)C * sizeof(float));
            else seq__dscan_step(s->cplx, C, s->a + r * s->a_rs + t * s->a_ts, hp, s->b + o, h + o);
            hp = h + o;
        }
        if (hn && hp) memcpy(hn + r * s->s_rs, hp, (size_t)C * sizeof(float));
        else if (hn) memset(hn + r * s->s_rs, 0, (size_t)C * sizeof(float));
    }
}

/* Adds the gradients of a loss on h (dh (B,T,C) or NULL) and on hn (dhn or NULL) into da
 * (a's layout: where strides share a, the steps' parts sum), db (B,T,C) and dh0, each NULL
 * when not wanted; h is the forward's output and g is C floats of scratch. Walking a row
 * backwards with the carried gradient g:
 *     g += dh_t;  db_t += g;  da_t += g conj(h_{t-1});  g = reset_t ? 0 : g conj(a_t),
 * and what is left after the first step is the initial state's gradient. */
static void seq__dscan_backward(const seq__dscan *s, const float *h, const float *dh, const float *dhn, float *da,
                                float *db, float *dh0, float *g) {
    int64_t C = s->C, r, k, c;
    for (r = 0; r < s->B; r++) {
        int64_t len = seq__row_len(s->lengths, r, s->T);
        int reset = 0;
        if (dhn) memcpy(g, dhn + r * s->s_rs, (size_t)C * sizeof(float));
        else memset(g, 0, (size_t)C * sizeof(float));
        for (k = len - 1; k >= 0; k--) {
            int64_t t = seq__dscan_pos(s, len, k), o = (r * s->T + t) * C, ao = r * s->a_rs + t * s->a_ts;
            const float *hp = k > 0 ? h + (r * s->T + seq__dscan_pos(s, len, k - 1)) * C
                                    : (s->h0 ? s->h0 + r * s->s_rs : NULL);
            reset = seq__dscan_reset(s, r, t, len);
            if (dh)
                for (c = 0; c < C; c++) g[c] += dh[o + c];
            if (db)
                for (c = 0; c < C; c++) db[o + c] += g[c];
            if (da && hp && !reset) seq__dscan_mul_conj(s->cplx, C, g, hp, da + ao, 1);
            if (reset) memset(g, 0, (size_t)C * sizeof(float));
            else seq__dscan_mul_conj(s->cplx, C, g, s->a + ao, g, 0);
        }
        if (dh0 && !reset)
            for (c = 0; c < C; c++) dh0[r * s->s_rs + c] += g[c];
    }
}

static void seq__scan_backward(seq_ctx *ctx, seq__node *n) {
    const seq__dscan *s = (const seq__dscan *)n->aux;
    seq_tensor *hn = n->extra_out[0];
    float *g = (float *)seq_ctx_alloc(ctx, (size_t)s->C * sizeof(float));
    if (!g) return;
    seq__dscan_backward(s, n->out->data, n->out->grad, hn ? hn->grad : NULL, seq__grad(ctx, n->in[0]),
                        seq__grad(ctx, n->in[1]), seq__grad(ctx, n->in[2]), g);
}

/* The recurrence s over the data of a, b and h0 (NULL) as one tape node -> h (B,T,C);
 * when hn is not NULL it receives the final states (B,C), the node's extra output. The
 * lengths and resets are copied to the arena for the backward. */
static seq_tensor *seq__scan_record(seq_ctx *ctx, const char *op, seq__dscan s, seq_tensor *a, seq_tensor *b,
                                    seq_tensor *h0, seq_tensor **hn) {
    seq_tensor *ins[3], *h;
    seq__dscan *saved;
    seq__node *nd;
    int64_t shape[3];
    ins[0] = a;
    ins[1] = b;
    ins[2] = h0;
    shape[0] = s.B;
    shape[1] = s.T;
    shape[2] = s.C;
    h = seq__out(ctx, op, 3, shape, 3, ins);
    shape[1] = s.C;
    if (hn) *hn = seq__out(ctx, op, 2, shape, 3, ins);
    saved = (seq__dscan *)seq_ctx_alloc(ctx, sizeof(seq__dscan));
    if (!h || (hn && !*hn) || !saved) return NULL;
    s.resets = (const uint8_t *)seq__arena_copy(ctx, s.resets, (size_t)(s.B * s.T));
    s.lengths = (const int32_t *)seq__arena_copy(ctx, s.lengths, (size_t)s.B * sizeof(int32_t));
    if (ctx->status != SEQ_OK) return NULL;
    *saved = s;
    seq__dscan_forward(saved, h->data, hn ? (*hn)->data : NULL);
    nd = seq__record(ctx, op, h, seq__scan_backward, 3, ins);
    if (nd) {
        nd->aux = saved;
        nd->extra_out[0] = hn ? *hn : NULL;
    }
    return h;
}

SEQDEF seq_tensor *seq_linear_scan(seq_ctx *ctx, seq_tensor *a, seq_tensor *b, seq_tensor *h0,
                                   const seq_scan_opts *opts) {
    static const char op[] = "seq_linear_scan";
    seq_tensor *ins[3];
    seq__dscan s;
    int64_t B, T, C;
    ins[0] = a;
    ins[1] = b;
    ins[2] = h0;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    if (a->ndim != 3 || !seq_tensor_same_shape(a, b) || a->dtype != SEQ_F32 || b->dtype != SEQ_F32 ||
        (h0 && (h0->ndim != 2 || h0->shape[0] != a->shape[0] || h0->shape[1] != a->shape[2] ||
                h0->dtype != SEQ_F32))) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs a, b (B,T,C) of one shape and h0 (B,C) or NULL");
        return NULL;
    }
    B = a->shape[0];
    T = a->shape[1];
    C = a->shape[2];
    if (!seq__lengths_ok(ctx, op, opts ? opts->lengths : NULL, B, T)) return NULL;
    memset(&s, 0, sizeof s);
    s.B = B;
    s.T = T;
    s.C = s.s_rs = C;
    s.a_rs = T * C;
    s.a_ts = C;
    s.a = a->data;
    s.b = b->data;
    s.h0 = h0 ? h0->data : NULL;
    s.resets = opts ? opts->resets : NULL;
    s.lengths = opts ? opts->lengths : NULL;
    return seq__scan_record(ctx, op, s, a, b, h0, NULL);
}

typedef struct seq__last_aux {
    const int32_t *lengths;
} seq__last_aux;

static void seq__last_step_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *h = n->in[0];
    const seq__last_aux *x = (const seq__last_aux *)n->aux;
    int64_t B = h->shape[0], T = h->shape[1], C = h->shape[2], r, c;
    float *gh = seq__grad(ctx, h);
    if (!gh) return;
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(x->lengths, r, T);
        if (len > 0)
            for (c = 0; c < C; c++) gh[(r * T + len - 1) * C + c] += n->out->grad[r * C + c];
    }
}

SEQDEF seq_tensor *seq_last_step(seq_ctx *ctx, seq_tensor *h, const int32_t *lengths) {
    static const char op[] = "seq_last_step";
    seq_tensor *y;
    seq__last_aux *x;
    seq__node *nd;
    int64_t shape[2], r, B, T, C;
    if (!seq__ok(ctx, op, 1, &h)) return NULL;
    if (h->ndim != 3 || h->dtype != SEQ_F32) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "needs h (B,T,C)");
        return NULL;
    }
    B = h->shape[0];
    T = h->shape[1];
    C = h->shape[2];
    if (!seq__lengths_ok(ctx, op, lengths, B, T)) return NULL;
    shape[0] = B;
    shape[1] = C;
    y = seq__out(ctx, op, 2, shape, 1, &h);
    x = (seq__last_aux *)seq_ctx_alloc(ctx, sizeof(seq__last_aux));
    if (!y || !x) return NULL;
    x->lengths = (const int32_t *)seq__arena_copy(ctx, lengths, (size_t)B * sizeof(int32_t));
    if (ctx->status != SEQ_OK) return NULL;
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(lengths, r, T);
        if (len > 0) memcpy(y->data + r * C, h->data + (r * T + len - 1) * C, (size_t)C * sizeof(float));
        else memset(y->data + r * C, 0, (size_t)C * sizeof(float));
    }
    nd = seq__record(ctx, op, y, seq__last_step_backward, 1, &h);
    if (nd) nd->aux = x;
    return y;
}

/* --- 14.2 recurrent layers ------------------------------------------------------------- */

/* x (n) = sigmoid(x), tanh(x) in place, as loops gcc vectorizes (the functions are in 8a). */
static void seq__sigmoid_row(float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = seq__sigmoidf_vec(x[i]);
}
static void seq__tanh_row(float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = seq__tanhf_vec(x[i]);
}

static int64_t seq__rnn_gates(seq_rnn_kind k) { return k == SEQ_RNN_LSTM ? 4 : k == SEQ_RNN_GRU ? 3 : 1; }
/* floats saved per position and unit: LSTM i,f,g,o; GRU r,z,n and W_hn h + b_hn; Elman h */
static int64_t seq__rnn_saved(seq_rnn_kind k) { return k == SEQ_RNN_TANH || k == SEQ_RNN_RELU ? 1 : 4; }

/* One cell step for one row. xp: input-side pre-activations (G*H; b_ih, and b_hh except
 * for GRU, folded in); hp: h_prev W_hh^T (G*H; + b_hh for GRU); hprev, cprev: (H) state
 * in; out: sv (saved activations), h and, for LSTM, c. h and c may alias hprev and cprev:
 * each unit is read before it is written. The activations run as whole rows through the
 * vectorizable sigmoid and tanh; only cheap arithmetic sees the aliased state. */
static void seq__rnn_cell(seq_rnn_kind kind, int64_t H, const float *SEQ_RESTRICT xp, const float *SEQ_RESTRICT hp,
                          const float *hprev, const float *cprev, float *SEQ_RESTRICT sv, float *h, float *c) {
    int64_t j, GH = seq__rnn_gates(kind) * H;
    if (kind == SEQ_RNN_GRU) { /* r, z, then n = tanh(x_n + r (W_hn h + b_hn)) */
        for (j = 0; j < 2 * H; j++) sv[j] = xp[j] + hp[j];
        seq__sigmoid_row(sv, 2 * H);
        for (j = 0; j < H; j++) {
            sv[3 * H + j] = hp[2 * H + j];
            sv[2 * H + j] = xp[2 * H + j] + sv[j] * hp[2 * H + j];
        }
        seq__tanh_row(sv + 2 * H, H);
        for (j = 0; j < H; j++) h[j] = (1.0f - sv[H + j]) * sv[2 * H + j] + sv[H + j] * hprev[j];
        return;
    }
    for (j = 0; j < GH; j++) sv[j] = xp[j] + hp[j];
    if (kind == SEQ_RNN_LSTM) { /* i, f, o sigmoid, g tanh; c = f c + i g; h = o tanh c */
        seq__sigmoid_row(sv, 2 * H);
        seq__tanh_row(sv + 2 * H, H);
        seq__sigmoid_row(sv + 3 * H, H);
        for (j = 0; j < H; j++) c[j] = sv[H + j] * cprev[j] + sv[j] * sv[2 * H + j];
        memcpy(h, c, (size_t)H * sizeof(float));
        seq__tanh_row(h, H);
        for (j = 0; j < H; j++) h[j] *= sv[3 * H + j];
        return;
    }
    if (kind == SEQ_RNN_TANH)
        seq__tanh_row(sv, H);
    else
        for (j = 0; j < H; j++) sv[j] = sv[j] > 0.0f ? sv[j] : 0.0f;
    memcpy(h, sv, (size_t)H * sizeof(float));
}

/* Backward of one cell step for one row. dh: total gradient on h (in); dc: carried
 * gradient on c (LSTM; in, replaced by d c_prev); out: dgx/dgh, the gradients of the
 * input-side and hidden-side pre-activations (equal except for GRU's n gate), and
 * dhp_direct, the part of d h_prev that bypasses W_hh (GRU's z * dh; 0 otherwise).
 * One branch-free loop per kind, so that each vectorizes. */
static void seq__rnn_cell_backward(seq_rnn_kind kind, int64_t H, const float *SEQ_RESTRICT sv,
                                   const float *SEQ_RESTRICT hprev, const float *SEQ_RESTRICT cprev,
                                   const float *SEQ_RESTRICT c, const float *SEQ_RESTRICT dh, float *SEQ_RESTRICT dc,
                                   float *SEQ_RESTRICT dgx, float *SEQ_RESTRICT dgh, float *SEQ_RESTRICT dhp_direct) {
    int64_t j;
    if (kind == SEQ_RNN_LSTM) {
        for (j = 0; j < H; j++) {
            float i = sv[j], f = sv[H + j], g = sv[2 * H + j], o = sv[3 * H + j], tc = seq__tanhf_vec(c[j]);
            float dcj = dc[j] + dh[j] * o * (1.0f - tc * tc);
            dgx[j] = dcj * g * i * (1.0f - i);
            dgx[H + j] = dcj * cprev[j] * f * (1.0f - f);
            dgx[2 * H + j] = dcj * i * (1.0f - g * g);
            dgx[3 * H + j] = dh[j] * tc * o * (1.0f - o);
            dc[j] = dcj * f;
        }
        memset(dhp_direct, 0, (size_t)H * sizeof(float));
    } else if (kind == SEQ_RNN_GRU) {
        for (j = 0; j < H; j++) {
            float r = sv[j], z = sv[H + j], n = sv[2 * H + j], hn = sv[3 * H + j], d = dh[j];
            float da = d * (1.0f - z) * (1.0f - n * n); /* n = tanh(a), a = x_n + r * hn */
            dgx[j] = dgh[j] = da * hn * r * (1.0f - r);
            dgx[H + j] = dgh[H + j] = d * (hprev[j] - n) * z * (1.0f - z);
            dgx[2 * H + j] = da;
            dgh[2 * H + j] = da * r;
            dhp_direct[j] = d * z;
        }
    } else {
        for (j = 0; j < H; j++) {
            float v = sv[j];
            dgx[j] = kind == SEQ_RNN_TANH ? dh[j] * (1.0f - v * v) : (v > 0.0f ? dh[j] : 0.0f);
        }
        memset(dhp_direct, 0, (size_t)H * sizeof(float));
    }
}

SEQDEF seq_rnn_config seq_rnn_config_default(seq_rnn_kind kind, int64_t input_size, int64_t hidden_size) {
    seq_rnn_config c;
    c.kind = kind;
    c.input_size = input_size;
    c.hidden_size = hidden_size;
    c.num_layers = 1;
    c.bidirectional = 0;
    c.bias = 1;
    return c;
}
SEQDEF seq_rnn_config seq_lstm_config_default(int64_t i, int64_t h) { return seq_rnn_config_default(SEQ_RNN_LSTM, i, h); }
SEQDEF seq_rnn_config seq_gru_config_default(int64_t i, int64_t h) { return seq_rnn_config_default(SEQ_RNN_GRU, i, h); }

SEQDEF seq_status seq_rnn_init(seq_rnn *l, seq_params *P, const char *prefix, seq_rnn_config cfg) {
    int64_t H = cfg.hidden_size, D = cfg.bidirectional ? 2 : 1, GH, k, d;
    float bound;
    char name[256];
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_rnn_init: NULL argument");
    if ((int)cfg.kind < 0 || cfg.kind >= SEQ_RNN_KIND_COUNT || cfg.input_size <= 0 || H <= 0 || cfg.num_layers < 1 ||
        cfg.num_layers > SEQ_RNN_MAX_LAYERS || (cfg.bidirectional != 0 && cfg.bidirectional != 1))
        return seq__err(SEQ_ERR_INVALID, "seq_rnn_init: '%s': bad config (kind %d, input %lld, hidden %lld, layers %d)",
                        prefix, (int)cfg.kind, (long long)cfg.input_size, (long long)H, cfg.num_layers);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    GH = seq__rnn_gates(cfg.kind) * H;
    bound = 1.0f / sqrtf((float)H);
    for (k = 0; k < cfg.num_layers; k++)
        for (d = 0; d < D; d++) {
            int64_t s_ih[2], s_hh[2], idx = 2 * k + d;
            const char *suffix = d ? "_reverse" : "";
            seq_init u = seq_init_uniform(-bound, bound);
            s_ih[0] = s_hh[0] = GH;
            s_ih[1] = k == 0 ? cfg.input_size : D * H;
            s_hh[1] = H;
            snprintf(name, sizeof name, "%s.weight_ih_l%lld%s", prefix, (long long)k, suffix);
            l->w_ih[idx] = seq_params_add(P, name, 2, s_ih, u);
            snprintf(name, sizeof name, "%s.weight_hh_l%lld%s", prefix, (long long)k, suffix);
            l->w_hh[idx] = seq_params_add(P, name, 2, s_hh, u);
            if (!l->w_ih[idx] || !l->w_hh[idx]) return seq__errstatus;
            if (!cfg.bias) continue;
            snprintf(name, sizeof name, "%s.bias_ih_l%lld%s", prefix, (long long)k, suffix);
            l->b_ih[idx] = seq_params_add(P, name, 1, s_ih, u);
            snprintf(name, sizeof name, "%s.bias_hh_l%lld%s", prefix, (long long)k, suffix);
            l->b_hh[idx] = seq_params_add(P, name, 1, s_hh, u);
            if (!l->b_ih[idx] || !l->b_hh[idx]) return seq__errstatus;
        }
    return SEQ_OK;
}

/* One (layer, direction) as a fused tape node. It writes its h into columns [col, col+H)
 * of y (B,T,D*H) -- both directions of a layer share y, each backward reads its own
 * columns -- and its final state into slice k of hn/cn (L*D,B,H). Row r's step s is
 * position t = s (forward) or len-1-s (reverse): each row's valid part in its own order. */
typedef struct seq__rnn_aux {
    seq_rnn_kind kind;
    seq_tensor *b_hh, *h0, *c0;
    int64_t k, col, reverse;
    const int32_t *lengths;
    const uint8_t *resets;
    float *sv;            /* (B,T,S*H) saved activations, S = seq__rnn_saved(kind) */
    float *hprev, *cprev; /* (B,T,H) the state each step started from (0 after a reset);
                             cprev and cell for LSTM only */
    float *cell;          /* (B,T,H) c_t */
} seq__rnn_aux;

/* Position of step s of row r, or -1 when s is past the row's length. */
static int64_t seq__rnn_pos(const seq__rnn_aux *a, int64_t r, int64_t s, int64_t T) {
    int64_t len = seq__row_len(a->lengths, r, T);
    if (s >= len) return -1;
    return a->reverse ? len - 1 - s : s;
}

/* Whether the state carried into position t of row r is dropped: a segment starts at t
 * (forward), or at t+1 (reverse: t ends a segment). */
static int seq__rnn_reset(const seq__rnn_aux *a, int64_t r, int64_t t, int64_t T) {
    if (!a->resets) return 0;
    if (!a->reverse) return a->resets[r * T + t] != 0;
    return t + 1 < seq__row_len(a->lengths, r, T) && a->resets[r * T + t + 1] != 0;
}

static void seq__rnn_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3], *y = n->out;
    const seq__rnn_aux *a = (const seq__rnn_aux *)n->aux;
    seq_tensor *hn = n->extra_out[0], *cn = n->extra_out[1];
    int64_t B = x->shape[0], T = x->shape[1], I = x->shape[2], H = w_hh->shape[1], GH = w_hh->shape[0];
    int64_t S = seq__rnn_saved(a->kind), YC = y->shape[2], BH = B * H, r, s, j;
    int gru = a->kind == SEQ_RNN_GRU;
    float *gx = seq__grad(ctx, x), *gw_ih = seq__grad(ctx, w_ih), *gw_hh = seq__grad(ctx, w_hh);
    float *gb_ih = seq__grad(ctx, b_ih), *gb_hh = seq__grad(ctx, a->b_hh);
    float *gh0 = seq__grad(ctx, a->h0), *gc0 = seq__grad(ctx, a->c0);
    float *dgx = (float *)seq__calloc(ctx, (size_t)(B * T * GH) * sizeof(float)); /* (B,T,G*H) */
    float *dgh = gru ? (float *)seq__calloc(ctx, (size_t)(B * T * GH) * sizeof(float)) : dgx;
    float *step = (float *)seq_ctx_alloc(ctx, (size_t)(B * GH) * sizeof(float)); /* dgh of one step */
    float *dh = (float *)seq__calloc(ctx, (size_t)BH * sizeof(float));          /* carried d h */
    float *dc = (float *)seq__calloc(ctx, (size_t)BH * sizeof(float));          /* carried d c */
    float *direct = (float *)seq_ctx_alloc(ctx, (size_t)BH * sizeof(float));
    float *dhp = (float *)seq_ctx_alloc(ctx, (size_t)BH * sizeof(float));
    float *panels = (float *)seq_ctx_alloc(ctx, (size_t)seq_sgemm_pack_floats(GH, H) * sizeof(float));
    seq_sgemm_packed whh; /* W_hh, packed once for all T steps */
    if (!dgx || !dgh || !step || !dh || !dc || !direct || !dhp || !panels) return;
    seq_sgemm_pack(&whh, 0, GH, H, w_hh->data, H, panels);
    /* the final state's gradient enters at each row's last valid step */
    if (hn && hn->grad) memcpy(dh, hn->grad + a->k * BH, (size_t)BH * sizeof(float));
    if (cn && cn->grad) memcpy(dc, cn->grad + a->k * BH, (size_t)BH * sizeof(float));
    for (s = T - 1; s >= 0; s--) {
        /* without lengths every row is at one position t, and the rows of dgh at t, T*GH
         * apart, go to the GEMM as they are; else the valid ones are gathered into step */
        int64_t t0 = seq__rnn_pos(a, 0, s, T);
        if (a->lengths) memset(step, 0, (size_t)(B * GH) * sizeof(float));
        for (r = 0; r < B; r++) {
            int64_t t = seq__rnn_pos(a, r, s, T), p;
            if (t < 0) continue;
            p = r * T + t;
            if (y->grad)
                for (j = 0; j < H; j++) dh[r * H + j] += y->grad[p * YC + a->col + j];
            seq__rnn_cell_backward(a->kind, H, a->sv + p * S * H, a->hprev + p * H, a->cprev ? a->cprev + p * H : NULL,
                                   a->cell ? a->cell + p * H : NULL, dh + r * H, dc + r * H, dgx + p * GH,
                                   dgh + p * GH, direct + r * H);
            if (a->lengths) memcpy(step + r * GH, dgh + p * GH, (size_t)GH * sizeof(float));
        }
        if (a->lengths) /* through W_hh */
            seq_sgemm_packed_mul(0, B, 1.0f, step, GH, &whh, 0.0f, dhp, H);
        else
            seq_sgemm_packed_mul(0, B, 1.0f, dgh + t0 * GH, T * GH, &whh, 0.0f, dhp, H);
        for (r = 0; r < B; r++) {
            int64_t t = seq__rnn_pos(a, r, s, T);
            if (t < 0) continue;
            if (seq__rnn_reset(a, r, t, T)) {
                memset(dh + r * H, 0, (size_t)H * sizeof(float));
                memset(dc + r * H, 0, (size_t)H * sizeof(float));
            } else {
                for (j = 0; j < H; j++) dh[r * H + j] = dhp[r * H + j] + direct[r * H + j];
            }
        }
    }
    /* what is carried past the first step belongs to the initial state */
    if (gh0)
        for (j = 0; j < BH; j++) gh0[a->k * BH + j] += dh[j];
    if (gc0)
        for (j = 0; j < BH; j++) gc0[a->k * BH + j] += dc[j];
    /* the weights and the input as GEMMs over all steps at once */
    if (gx) seq_sgemm(0, 0, B * T, I, GH, 1.0f, dgx, GH, w_ih->data, I, 1.0f, gx, I);
    if (gw_ih) seq_sgemm(1, 0, GH, I, B * T, 1.0f, dgx, GH, x->data, I, 1.0f, gw_ih, I);
    if (gw_hh) seq_sgemm(1, 0, GH, H, B * T, 1.0f, dgh, GH, a->hprev, H, 1.0f, gw_hh, H);
    for (r = 0; r < B * T; r++)
        for (j = 0; j < GH; j++) {
            if (gb_ih) gb_ih[j] += dgx[r * GH + j];
            if (gb_hh) gb_hh[j] += dgh[r * GH + j];
        }
}

/* Input-side pre-activations of rows x (M,I): b_ih (+ b_hh unless GRU) + x W_ih^T. */
static void seq__rnn_input_proj(const seq_rnn *l, int64_t idx, const float *x, int64_t M, int64_t I, float *xp) {
    const seq_tensor *b_ih = l->b_ih[idx], *b_hh = l->b_hh[idx];
    int64_t GH = l->w_ih[idx]->shape[0], r, j;
    int fold = b_hh && l->cfg.kind != SEQ_RNN_GRU;
    for (r = 0; r < M; r++)
        for (j = 0; j < GH; j++) xp[r * GH + j] = (b_ih ? b_ih->data[j] : 0.0f) + (fold ? b_hh->data[j] : 0.0f);
    seq_sgemm(0, 1, M, GH, I, 1.0f, x, I, l->w_ih[idx]->data, I, 1.0f, xp, GH);
}

/* Hidden-side pre-activations hp (B,G*H) = h W_hh^T (+ b_hh for GRU, kept out of xp
 * because b_hn sits inside the reset product). w: W_hh^T packed once for a whole
 * sequence, or NULL (a single step, with few rows, needs no packing). */
static void seq__rnn_hidden_proj(const seq_rnn *l, int64_t idx, const float *h, int64_t B, float *hp,
                                 const seq_sgemm_packed *w) {
    const seq_tensor *b_hh = l->b_hh[idx];
    int64_t GH = l->w_hh[idx]->shape[0], H = l->cfg.hidden_size, r, j;
    int bias = b_hh && l->cfg.kind == SEQ_RNN_GRU;
    for (r = 0; r < B; r++)
        for (j = 0; j < GH; j++) hp[r * GH + j] = bias ? b_hh->data[j] : 0.0f;
    if (w)
        seq_sgemm_packed_mul(0, B, 1.0f, h, H, w, 1.0f, hp, GH);
    else
        seq_sgemm(0, 1, B, GH, H, 1.0f, h, H, l->w_hh[idx]->data, H, 1.0f, hp, GH);
}

static void seq__rnn_run(seq_ctx *ctx, const seq_rnn *l, int64_t idx, seq_tensor *x, seq_tensor *y,
                         const seq_rnn_io *io, const int32_t *lengths, const uint8_t *resets, seq_tensor *hn,
                         seq_tensor *cn) {
    seq_rnn_kind kind = l->cfg.kind;
    int64_t B = x->shape[0], T = x->shape[1], I = x->shape[2], H = l->cfg.hidden_size;
    int64_t GH = seq__rnn_gates(kind) * H, S = seq__rnn_saved(kind), D = l->cfg.bidirectional ? 2 : 1;
    int64_t YC = D * H, BH = B * H, r, s;
    int lstm = kind == SEQ_RNN_LSTM;
    seq__rnn_aux *a = (seq__rnn_aux *)seq__calloc(ctx, sizeof(seq__rnn_aux));
    seq_tensor *ins[4];
    seq_sgemm_packed whh; /* W_hh^T, packed once for all T steps */
    float *xp, *hp, *h, *c, *panels;
    seq__node *n;
    if (!a) return;
    a->kind = kind;
    a->b_hh = l->b_hh[idx];
    a->h0 = io ? io->h0 : NULL;
    a->c0 = io && kind == SEQ_RNN_LSTM ? io->c0 : NULL;
    a->k = (idx / 2) * D + idx % 2;
    a->col = (idx % 2) * H;
    a->reverse = idx % 2;
    a->lengths = lengths;
    a->resets = resets;
    a->sv = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * S * H) * sizeof(float));
    a->hprev = (float *)seq__calloc(ctx, (size_t)(B * T * H) * sizeof(float));
    if (lstm) {
        a->cprev = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * H) * sizeof(float));
        a->cell = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * H) * sizeof(float));
    }
    xp = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * GH) * sizeof(float));
    hp = (float *)seq_ctx_alloc(ctx, (size_t)(B * GH) * sizeof(float));
    h = (float *)seq__calloc(ctx, (size_t)BH * sizeof(float));
    c = (float *)seq__calloc(ctx, (size_t)BH * sizeof(float));
    panels = (float *)seq_ctx_alloc(ctx, (size_t)seq_sgemm_pack_floats(H, GH) * sizeof(float));
    if (!a->sv || !a->hprev || (lstm && (!a->cprev || !a->cell)) || !xp || !hp || !h || !c || !panels) return;
    seq_sgemm_pack(&whh, 1, H, GH, l->w_hh[idx]->data, H, panels);
    if (a->h0) memcpy(h, a->h0->data + a->k * BH, (size_t)BH * sizeof(float));
    if (a->c0) memcpy(c, a->c0->data + a->k * BH, (size_t)BH * sizeof(float));
    seq__rnn_input_proj(l, idx, x->data, B * T, I, xp);
    for (s = 0; s < T; s++) {
        for (r = 0; r < B; r++) { /* a segment start drops the carried state */
            int64_t t = seq__rnn_pos(a, r, s, T);
            if (t >= 0 && seq__rnn_reset(a, r, t, T)) {
                memset(h + r * H, 0, (size_t)H * sizeof(float));
                memset(c + r * H, 0, (size_t)H * sizeof(float));
            }
        }
        seq__rnn_hidden_proj(l, idx, h, B, hp, &whh);
        for (r = 0; r < B; r++) {
            int64_t t = seq__rnn_pos(a, r, s, T), p;
            if (t < 0) continue;
            p = r * T + t;
            memcpy(a->hprev + p * H, h + r * H, (size_t)H * sizeof(float));
            if (lstm) memcpy(a->cprev + p * H, c + r * H, (size_t)H * sizeof(float));
            seq__rnn_cell(kind, H, xp + p * GH, hp + r * GH, h + r * H, c + r * H, a->sv + p * S * H, h + r * H,
                          c + r * H);
            if (lstm) memcpy(a->cell + p * H, c + r * H, (size_t)H * sizeof(float));
            memcpy(y->data + p * YC + a->col, h + r * H, (size_t)H * sizeof(float));
        }
    }
    memcpy(hn->data + a->k * BH, h, (size_t)BH * sizeof(float));
    if (cn) memcpy(cn->data + a->k * BH, c, (size_t)BH * sizeof(float));
    ins[0] = x;
    ins[1] = l->w_ih[idx];
    ins[2] = l->w_hh[idx];
    ins[3] = l->b_ih[idx];
    n = seq__record(ctx, "seq_rnn_forward", y, seq__rnn_backward, 4, ins);
    if (n) {
        n->aux = a;
        n->extra_out[0] = hn;
        n->extra_out[1] = cn;
    }
}

/* 1 when every element is finite; otherwise 0 with the ctx error set. */
static int seq__finite_ok(seq_ctx *ctx, const char *op, const char *what, const float *v, int64_t n) {
    enum { BLOCK = 1024 };
    int64_t i0, i;
    for (i0 = 0; i0 < n; i0 += BLOCK) { /* a branch-free pass per block (it vectorizes), */
        int64_t end = n - i0 < BLOCK ? n : i0 + BLOCK;
        int bad = 0;
        for (i = i0; i < end; i++) bad |= !(v[i] - v[i] == 0.0f); /* NaN for NaN and +-inf */
        if (bad) /* then the first culprit */
            for (i = i0; i < end; i++)
                if (!isfinite(v[i])) {
                    seq__ctx_fail(ctx, SEQ_ERR_NUMERIC, op, "%s[%lld] is not finite", what, (long long)i);
                    return 0;
                }
    }
    return 1;
}

/* An initial state of shape (L*D,B,H), or NULL. */
static int seq__state_shape_ok(const seq_tensor *s, int64_t LD, int64_t B, int64_t H) {
    return !s || (s->dtype == SEQ_F32 && s->ndim == 3 && s->shape[0] == LD && s->shape[1] == B && s->shape[2] == H);
}

static int seq__needs_grad(const seq_tensor *t) { return t && t->requires_grad; }

SEQDEF seq_tensor *seq_rnn_forward(seq_ctx *ctx, const seq_rnn *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_rnn_forward";
    seq_tensor *h0 = io ? io->h0 : NULL, *c0 = io ? io->c0 : NULL, *y = NULL, *hn, *cn = NULL, *in;
    int64_t B, T, H, D, L, k, d, shape[3];
    const int32_t *lengths;
    const uint8_t *resets;
    int lstm, rg;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->w_ih[0]) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer");
        return NULL;
    }
    H = l->cfg.hidden_size;
    D = l->cfg.bidirectional ? 2 : 1;
    L = l->cfg.num_layers;
    lstm = l->cfg.kind == SEQ_RNN_LSTM;
    if (x->dtype != SEQ_F32 || x->ndim != 3 || x->shape[2] != l->cfg.input_size || x->shape[0] < 1 ||
        x->shape[1] < 1) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)l->cfg.input_size);
        return NULL;
    }
    B = x->shape[0];
    T = x->shape[1];
    if (!seq__state_shape_ok(h0, L * D, B, H) || !seq__state_shape_ok(c0, L * D, B, H) || (c0 && !lstm)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 (and c0, LSTM only) must be (%lld,%lld,%lld)", (long long)(L * D),
                      (long long)B, (long long)H);
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, io ? io->lengths : NULL, B, T) || !seq__finite_ok(ctx, op, "x", x->data, x->numel) ||
        (h0 && !seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)) ||
        (c0 && !seq__finite_ok(ctx, op, "c0", c0->data, c0->numel)))
        return NULL;
    lengths = io ? (const int32_t *)seq__arena_copy(ctx, io->lengths, (size_t)B * sizeof(int32_t)) : NULL;
    resets = io ? (const uint8_t *)seq__arena_copy(ctx, io->resets, (size_t)(B * T)) : NULL;
    rg = seq__needs_grad(x) || seq__needs_grad(h0) || seq__needs_grad(c0);
    for (k = 0; k < 2 * L; k++)
        rg |= seq__needs_grad(l->w_ih[k]) || seq__needs_grad(l->w_hh[k]) || seq__needs_grad(l->b_ih[k]) ||
              seq__needs_grad(l->b_hh[k]);
    rg = rg && ctx->grad_enabled;
    shape[0] = L * D;
    shape[1] = B;
    shape[2] = H;
    hn = seq_tensor_new(ctx, SEQ_F32, 3, shape);
    if (lstm) cn = seq_tensor_new(ctx, SEQ_F32, 3, shape);
    if (!hn || (lstm && !cn)) return NULL;
    hn->requires_grad = rg;
    if (cn) cn->requires_grad = rg;
    shape[0] = B;
    shape[1] = T;
    shape[2] = D * H;
    for (in = x, k = 0; k < L; k++, in = y) {
        y = seq_tensor_new(ctx, SEQ_F32, 3, shape); /* zeroed: padding past a length stays 0 */
        if (!y) return NULL;
        y->requires_grad = rg;
        for (d = 0; d < D; d++) seq__rnn_run(ctx, l, 2 * k + d, in, y, io, lengths, resets, hn, cn);
        if (ctx->status != SEQ_OK) return NULL;
    }
    if (io) {
        io->hn = hn;
        io->cn = cn;
    }
    return y;
}

SEQDEF seq_status seq_rnn_state_init(const seq_rnn *l, seq_rnn_state *st, int64_t batch) {
    int64_t H, n, nc;
    if (!l || !st || !l->w_ih[0]) return seq__err(SEQ_ERR_INVALID, "seq_rnn_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    if (l->cfg.bidirectional)
        return seq__err(SEQ_ERR_UNSUPPORTED, "seq_rnn_state_init: a bidirectional layer cannot stream");
    if (batch < 1) return seq__err(SEQ_ERR_INVALID, "seq_rnn_state_init: batch %lld < 1", (long long)batch);
    H = l->cfg.hidden_size;
    n = l->cfg.num_layers * batch * H;
    nc = l->cfg.kind == SEQ_RNN_LSTM ? n : 0;
    st->alloc_ud = l->alloc_ud;
    /* work: input-side (B,G*H) and hidden-side (B,G*H) pre-activations, one row's saves */
    st->h = (float *)SEQ_MALLOC(st->alloc_ud,
                                (size_t)(n + nc + 2 * batch * seq__rnn_gates(l->cfg.kind) * H + 4 * H) * sizeof(float));
    if (!st->h) return seq__err(SEQ_ERR_NOMEM, "seq_rnn_state_init: out of memory");
    st->c = nc ? st->h + n : NULL;
    st->work = st->h + n + nc;
    st->batch = batch;
    seq_rnn_state_reset(st);
    return SEQ_OK;
}

SEQDEF void seq_rnn_state_reset(seq_rnn_state *st) {
    if (st && st->h) memset(st->h, 0, (size_t)(st->work - st->h) * sizeof(float));
}

SEQDEF void seq_rnn_state_free(seq_rnn_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->h);
    memset(st, 0, sizeof *st);
}

SEQDEF seq_status seq_rnn_step(const seq_rnn *l, seq_rnn_state *st, const float *x_t, float *y_t) {
    int64_t B, H, GH, k, r, i;
    if (!l || !st || !st->h || !x_t || !y_t) return seq__err(SEQ_ERR_INVALID, "seq_rnn_step: NULL argument or state");
    B = st->batch;
    H = l->cfg.hidden_size;
    GH = seq__rnn_gates(l->cfg.kind) * H;
    for (i = 0; i < B * l->cfg.input_size; i++)
        if (!isfinite(x_t[i])) return seq__err(SEQ_ERR_NUMERIC, "seq_rnn_step: x_t[%lld] is not finite", (long long)i);
    for (k = 0; k < l->cfg.num_layers; k++) {
        const float *in = k == 0 ? x_t : st->h + (k - 1) * B * H;
        float *h = st->h + k * B * H, *c = st->c ? st->c + k * B * H : NULL;
        float *xp = st->work, *hp = xp + B * GH, *sv = hp + B * GH;
        seq__rnn_input_proj(l, 2 * k, in, B, k == 0 ? l->cfg.input_size : H, xp);
        seq__rnn_hidden_proj(l, 2 * k, h, B, hp, NULL);
        for (r = 0; r < B; r++)
            seq__rnn_cell(l->cfg.kind, H, xp + r * GH, hp + r * GH, h + r * H, c ? c + r * H : NULL, sv, h + r * H,
                          c ? c + r * H : NULL);
    }
    memcpy(y_t, st->h + (l->cfg.num_layers - 1) * B * H, (size_t)(B * H) * sizeof(float));
    return SEQ_OK;
}

/* --- 14.3 xLSTM (sLSTM, mLSTM) and minGRU / minLSTM ------------------------------- */

/* ---- shared by the layers of this section ------------------------------------------- */

/* log sigmoid(x) = -softplus(-x), without overflow; its derivative is sigmoid(-x). */
static float seq__xl_logsigmoid(float x) { return -seq__softplusf(-x); }

/* Registers "<prefix>.<name>" in P. */
static seq_tensor *seq__xl_param(seq_params *P, const char *prefix, const char *name, int ndim, const int64_t *shape,
                                 seq_init init) {
    char full[256];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return seq_params_add(P, full, ndim, shape, init);
}

/* A linear map "<prefix>.<name>.weight" (out,in), U(-1/sqrt(in), 1/sqrt(in)) as nn.Linear,
 * and "<name>.bias" (out) initialized by *bias_init unless bias_init is NULL. */
static seq_status seq__xl_linear(seq_params *P, const char *prefix, const char *name, int64_t out, int64_t in,
                                 const seq_init *bias_init, seq_tensor **w, seq_tensor **b) {
    char sub[128];
    int64_t shape[2];
    float bound = 1.0f / sqrtf((float)in);
    shape[0] = out;
    shape[1] = in;
    snprintf(sub, sizeof sub, "%s.weight", name);
    *w = seq__xl_param(P, prefix, sub, 2, shape, seq_init_uniform(-bound, bound));
    if (!*w) return seq__errstatus;
    if (!bias_init) return SEQ_OK;
    snprintf(sub, sizeof sub, "%s.bias", name);
    *b = seq__xl_param(P, prefix, sub, 1, shape, *bias_init);
    return *b ? SEQ_OK : seq__errstatus;
}

/* y (M,out) = x (M,in) W^T + b: the projections of the streaming steps. b holds out
 * values in any shape, or is NULL. */
static void seq__xl_affine(const seq_tensor *W, const seq_tensor *b, const float *x, int64_t M, float *y) {
    int64_t out = W->shape[0], in = W->shape[1], r, j;
    for (r = 0; r < M; r++)
        for (j = 0; j < out; j++) y[r * out + j] = b ? b->data[j] : 0.0f;
    seq_sgemm(0, 1, M, out, in, 1.0f, x, in, W->data, in, 1.0f, y, out);
}

/* t is NULL or a float tensor of exactly this shape. */
static int seq__xl_shape_is(const seq_tensor *t, int ndim, const int64_t *shape) {
    int d;
    if (!t) return 1;
    if (t->dtype != SEQ_F32 || t->ndim != ndim) return 0;
    for (d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return 0;
    return 1;
}

/* The checks every layer here makes on entry: x (B>=1,T>=1,I); io->h0 NULL or of shape
 * s0 (n0 dims); io->c0 NULL or of shape s1 (n1 dims; n1 = 0: the layer takes no c0);
 * lengths in [0,T]; x and the given states finite. */
static int seq__xl_entry_ok(seq_ctx *ctx, const char *op, const seq_tensor *x, int64_t I, const seq_rnn_io *io, int n0,
                            const int64_t *s0, int n1, const int64_t *s1) {
    seq_tensor *h0 = io ? io->h0 : NULL, *c0 = io ? io->c0 : NULL;
    char want[96];
    if (x->dtype != SEQ_F32 || x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] != I) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)I);
        return 0;
    }
    if (!seq__xl_shape_is(h0, n0, s0)) {
        seq__dims_str(want, sizeof want, n0, s0, '(', ')');
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 must be %s", want);
        return 0;
    }
    if (c0 && !n1) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "c0 must be NULL: this layer keeps all its states in h0");
        return 0;
    }
    if (!seq__xl_shape_is(c0, n1, s1)) {
        seq__dims_str(want, sizeof want, n1, s1, '(', ')');
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "c0 must be %s", want);
        return 0;
    }
    return seq__lengths_ok(ctx, op, io ? io->lengths : NULL, x->shape[0], x->shape[1]) &&
           seq__finite_ok(ctx, op, "x", x->data, x->numel) && (!h0 || seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)) &&
           (!c0 || seq__finite_ok(ctx, op, "c0", c0->data, c0->numel));
}

/* Whether row r drops its carried state at t: a segment starts there. */
static int seq__xl_reset(const uint8_t *resets, int64_t r, int64_t t, int64_t T) { return resets && resets[r * T + t]; }

/* The final-state tensor of a fused node: shape, zeroed, requires_grad as its output. */
static seq_tensor *seq__xl_state_out(seq_ctx *ctx, int ndim, const int64_t *shape, int rg) {
    seq_tensor *s = seq_tensor_new(ctx, SEQ_F32, ndim, shape);
    if (s) s->requires_grad = rg;
    return s;
}

/* One allocation for a streaming state: nstate floats of state, zeroed, then nwork of
 * scratch. NULL (with the error set) on a bad batch or no memory. */
static float *seq__xl_state_alloc(const char *fn, void *ud, int64_t batch, int64_t nstate, int64_t nwork) {
    float *p;
    if (batch < 1) {
        seq__err(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
        return NULL;
    }
    p = (float *)SEQ_MALLOC(ud, (size_t)(nstate + nwork) * sizeof(float));
    if (!p) {
        seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    memset(p, 0, (size_t)nstate * sizeof(float));
    return p;
}

/* A streaming state's reset (its state floats run from first to work) and free (buf is
 * the allocation; st, of size bytes, is cleared). */
static void seq__xl_state_zero(float *first, const float *work) {
    if (first) memset(first, 0, (size_t)(work - first) * sizeof(float));
}
static void seq__xl_state_release(void *ud, float *buf, void *st, size_t size) {
    SEQ_FREE(ud, buf);
    memset(st, 0, size);
}

/* SEQ_OK when a step may run: layer, state, x_t (n values, all finite) and y_t given. */
static seq_status seq__xl_step_ok(const char *fn, int ready, const float *x_t, int64_t n, const float *y_t) {
    int64_t i;
    if (!ready || !x_t || !y_t) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", fn);
    for (i = 0; i < n; i++)
        if (!isfinite(x_t[i])) return seq__err(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", fn, (long long)i);
    return SEQ_OK;
}

/* ---- sLSTM ---------------------------------------------------------------------------- */

/* Unit u's gates, state (c,n,m) stepped from: what the step and its backward share. */
typedef struct seq__slstm_unit {
    float ip, fp, z, og; /* i~ and f~ as given, tanh(z~), sigmoid(o~) */
    float carry;         /* log f + m_{t-1}: the forget path's exponent */
    float m, fa, ia;     /* m_t, f', i' */
    int empty;           /* n_{t-1} = 0: the zero state, nothing carried */
} seq__slstm_unit;

/* raw (NH,4,DH) pre-activations of one row; u's gates sit at raw[o + g*DH] */
static seq__slstm_unit seq__slstm_gates(int exp_forget, const float *raw, int64_t o, int64_t DH, float n, float m) {
    seq__slstm_unit g;
    g.ip = raw[o];
    g.fp = raw[o + DH];
    g.z = tanhf(raw[o + 2 * DH]);
    g.og = seq__sigmoidf(raw[o + 3 * DH]);
    g.carry = (exp_forget ? g.fp : seq__xl_logsigmoid(g.fp)) + m;
    g.empty = n == 0.0f;
    g.m = g.empty || g.ip > g.carry ? g.ip : g.carry;
    g.fa = g.empty ? 0.0f : expf(g.carry - g.m);
    g.ia = expf(g.ip - g.m);
    return g;
}

/* Offset of unit u's first gate in a (NH,4,DH) pre-activation row. */
static int64_t seq__slstm_at(int64_t DH, int64_t u) { return (u / DH) * 4 * DH + u % DH; }

/* One step of one row: raw (NH,4,DH) pre-activations with W x, R h_{t-1} and b in; cp, np,
 * mp (H) the state stepped from; out h, c, n, m (H), which may alias cp, np, mp (each unit
 * is read before it is written). */
static void seq__slstm_cell(int64_t H, int64_t DH, int exp_forget, const float *raw, const float *cp, const float *np,
                            const float *mp, float *h, float *c, float *n, float *m) {
    int64_t u;
    for (u = 0; u < H; u++) {
        seq__slstm_unit g = seq__slstm_gates(exp_forget, raw, seq__slstm_at(DH, u), DH, np[u], mp[u]);
        float cn = g.fa * cp[u] + g.ia * g.z, nn = g.fa * np[u] + g.ia;
        c[u] = cn;
        n[u] = nn;
        m[u] = g.m;
        h[u] = g.og * cn / nn;
    }
}

/* Backward of seq__slstm_cell for one row: dh (H) the gradient on h_t; dc, dn, dm (H) the
 * carried gradients on c_t, n_t, m_t, replaced by those on the state stepped from; draw
 * (NH,4,DH) receives the pre-activations' gradient. m_t is a max: its gradient goes to
 * the branch that won. */
static void seq__slstm_cell_backward(int64_t H, int64_t DH, int exp_forget, const float *raw, const float *cp,
                                     const float *np, const float *mp, const float *dh, float *dc, float *dn, float *dm,
                                     float *draw) {
    int64_t u;
    for (u = 0; u < H; u++) {
        int64_t o = seq__slstm_at(DH, u);
        seq__slstm_unit g = seq__slstm_gates(exp_forget, raw, o, DH, np[u], mp[u]);
        float cn = g.fa * cp[u] + g.ia * g.z, nn = g.fa * np[u] + g.ia;
        float dcn = dc[u] + dh[u] * g.og / nn, dnn = dn[u] - dh[u] * g.og * cn / (nn * nn);
        float gi = (dcn * g.z + dnn) * g.ia;              /* d (i~ - m_t) */
        float gf = (dcn * cp[u] + dnn * np[u]) * g.fa;    /* d (carry - m_t); 0 when empty */
        float dmt = dm[u] - gi - gf, dip = gi, dcarry = gf;
        if (g.empty || g.ip > g.carry) dip += dmt;
        else dcarry += dmt;
        draw[o] = dip;
        draw[o + DH] = exp_forget ? dcarry : dcarry * seq__sigmoidf(-g.fp);
        draw[o + 2 * DH] = dcn * g.ia * (1.0f - g.z * g.z);
        draw[o + 3 * DH] = dh[u] * cn / nn * g.og * (1.0f - g.og);
        dc[u] = dcn * g.fa;
        dn[u] = dnn * g.fa;
        dm[u] = dcarry; /* carry = log f + m_{t-1} */
    }
}

/* raw (B rows, stride ld) += R h per head: head k's DH units of h (B,H) times its
 * (DH, 4*DH) block of the recurrent kernel, into its (4,DH) pre-activations. */
static void seq__slstm_recur(const seq_slstm *l, int64_t B, const float *h, float *raw, int64_t ld) {
    int64_t NH = l->cfg.num_heads, H = l->cfg.hidden_size, DH = H / NH, k;
    for (k = 0; k < NH; k++)
        seq_sgemm(0, 0, B, 4 * DH, DH, 1.0f, h + k * DH, H, l->recurrent_kernel->data + k * DH * 4 * DH, 4 * DH, 1.0f,
                  raw + k * 4 * DH, ld);
}

/* The fused node: in[0] xp = x W^T (B,T,4H), in[1] R, in[2] b; out h (B,T,H), extra_out[0]
 * the final state (4,B,H). */
typedef struct seq__slstm_aux {
    const seq_slstm *l;
    seq_tensor *s0;         /* (4,B,H) initial h, c, n, m, or NULL */
    const int32_t *lengths;
    const uint8_t *resets;
    float *raw;             /* (B,T,4H) pre-activations, R h_{t-1} and b in */
    float *prev;            /* (4,B,T,H) the h, c, n, m each step started from; 0 where none ran */
} seq__slstm_aux;

static void seq__slstm_backward(seq_ctx *ctx, seq__node *nd) {
    seq_tensor *xp = nd->in[0], *R = nd->in[1], *bias = nd->in[2], *y = nd->out, *hn = nd->extra_out[0];
    const seq__slstm_aux *a = (const seq__slstm_aux *)nd->aux;
    int64_t B = xp->shape[0], T = xp->shape[1], H = y->shape[2], DH = H / a->l->cfg.num_heads, G = 4 * H, BH = B * H;
    int64_t BTH = B * T * H, r, t, j, s;
    int ef = a->l->cfg.exp_forget;
    float *gxp = seq__grad(ctx, xp), *gR = seq__grad(ctx, R), *gb = seq__grad(ctx, bias), *gs0 = seq__grad(ctx, a->s0);
    float *draw = (float *)seq__calloc(ctx, (size_t)(B * T * G) * sizeof(float));
    float *d = (float *)seq__calloc(ctx, (size_t)(4 * BH) * sizeof(float)); /* carried d h, c, n, m */
    float *dhp = (float *)seq_ctx_alloc(ctx, (size_t)BH * sizeof(float));
    if (!draw || !d || !dhp) return;
    if (hn->grad) memcpy(d, hn->grad, (size_t)(4 * BH) * sizeof(float));
    for (t = T - 1; t >= 0; t--) {
        for (r = 0; r < B; r++) {
            int64_t p = r * T + t;
            if (t >= seq__row_len(a->lengths, r, T)) continue;
            if (y->grad)
                for (j = 0; j < H; j++) d[r * H + j] += y->grad[p * H + j];
            seq__slstm_cell_backward(H, DH, ef, a->raw + p * G, a->prev + BTH + p * H, a->prev + 2 * BTH + p * H,
                                     a->prev + 3 * BTH + p * H, d + r * H, d + BH + r * H, d + 2 * BH + r * H,
                                     d + 3 * BH + r * H, draw + p * G);
        }
        memset(dhp, 0, (size_t)BH * sizeof(float));
        for (j = 0; j < a->l->cfg.num_heads; j++) /* through R to h_{t-1} */
            seq_sgemm(0, 1, B, DH, 4 * DH, 1.0f, draw + t * G + j * 4 * DH, T * G, R->data + j * DH * 4 * DH, 4 * DH, 0.0f,
                      dhp + j * DH, H);
        for (r = 0; r < B; r++) {
            if (t >= seq__row_len(a->lengths, r, T)) continue;
            if (seq__xl_reset(a->resets, r, t, T))
                for (s = 0; s < 4; s++) memset(d + s * BH + r * H, 0, (size_t)H * sizeof(float));
            else
                memcpy(d + r * H, dhp + r * H, (size_t)H * sizeof(float));
        }
    }
    if (gs0) /* what is carried past the first step belongs to the initial state */
        for (j = 0; j < 4 * BH; j++) gs0[j] += d[j];
    for (j = 0; j < B * T * G; j++) {
        if (gxp) gxp[j] += draw[j];
        if (gb) gb[j % G] += draw[j];
    }
    for (j = 0; gR && j < a->l->cfg.num_heads; j++)
        seq_sgemm(1, 0, DH, 4 * DH, B * T, 1.0f, a->prev + j * DH, H, draw + j * 4 * DH, G, 1.0f,
                  gR + j * DH * 4 * DH, 4 * DH);
}

static seq_tensor *seq__slstm_core(seq_ctx *ctx, const seq_slstm *l, seq_tensor *xp, seq_rnn_io *io) {
    int64_t B = xp->shape[0], T = xp->shape[1], H = l->cfg.hidden_size, DH = H / l->cfg.num_heads, G = 4 * H;
    int64_t BH = B * H, BTH = B * T * H, r, t, j, s, shape[3];
    seq__slstm_aux *a = (seq__slstm_aux *)seq__calloc(ctx, sizeof(seq__slstm_aux));
    seq_tensor *ins[3], *y, *hn;
    seq__node *nd;
    float *cur; /* (4,B,H): h, c, n, m */
    int rg;
    if (!a) return NULL;
    a->l = l;
    a->s0 = io ? io->h0 : NULL;
    a->lengths = io ? (const int32_t *)seq__arena_copy(ctx, io->lengths, (size_t)B * sizeof(int32_t)) : NULL;
    a->resets = io ? (const uint8_t *)seq__arena_copy(ctx, io->resets, (size_t)(B * T)) : NULL;
    a->raw = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * G) * sizeof(float));
    a->prev = (float *)seq__calloc(ctx, (size_t)(4 * BTH) * sizeof(float));
    cur = (float *)seq__calloc(ctx, (size_t)(4 * BH) * sizeof(float));
    ins[0] = xp;
    ins[1] = l->recurrent_kernel;
    ins[2] = l->bias;
    rg = ctx->grad_enabled && (seq__needs_grad(xp) || seq__needs_grad(ins[1]) || seq__needs_grad(ins[2]) ||
                               seq__needs_grad(a->s0));
    shape[0] = B;
    shape[1] = T;
    shape[2] = H;
    y = seq__xl_state_out(ctx, 3, shape, rg); /* zeroed: padding past a length stays 0 */
    shape[0] = 4;
    shape[1] = B;
    hn = seq__xl_state_out(ctx, 3, shape, rg);
    if (!a->raw || !a->prev || !cur || !y || !hn || ctx->status != SEQ_OK) return NULL;
    if (a->s0) memcpy(cur, a->s0->data, (size_t)(4 * BH) * sizeof(float));
    for (t = 0; t < T; t++) {
        for (r = 0; r < B; r++) {
            float *raw = a->raw + (r * T + t) * G;
            if (t < seq__row_len(a->lengths, r, T) && seq__xl_reset(a->resets, r, t, T))
                for (s = 0; s < 4; s++) memset(cur + s * BH + r * H, 0, (size_t)H * sizeof(float));
            for (j = 0; j < G; j++) raw[j] = xp->data[(r * T + t) * G + j] + l->bias->data[j];
        }
        seq__slstm_recur(l, B, cur, a->raw + t * G, T * G);
        for (r = 0; r < B; r++) {
            int64_t p = r * T + t;
            if (t >= seq__row_len(a->lengths, r, T)) continue;
            for (s = 0; s < 4; s++) memcpy(a->prev + s * BTH + p * H, cur + s * BH + r * H, (size_t)H * sizeof(float));
            seq__slstm_cell(H, DH, l->cfg.exp_forget, a->raw + p * G, cur + BH + r * H, cur + 2 * BH + r * H,
                            cur + 3 * BH + r * H, cur + r * H, cur + BH + r * H, cur + 2 * BH + r * H,
                            cur + 3 * BH + r * H);
            memcpy(y->data + p * H, cur + r * H, (size_t)H * sizeof(float));
        }
    }
    memcpy(hn->data, cur, (size_t)(4 * BH) * sizeof(float));
    nd = seq__record(ctx, "seq_slstm_forward", y, seq__slstm_backward, 3, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = hn;
    }
    if (io) io->hn = hn;
    return y;
}

SEQDEF seq_slstm_config seq_slstm_config_default(int64_t input_size, int64_t hidden_size, int64_t num_heads) {
    seq_slstm_config c;
    c.input_size = input_size;
    c.hidden_size = hidden_size;
    c.num_heads = num_heads;
    c.exp_forget = 0;
    return c;
}

SEQDEF seq_status seq_slstm_init(seq_slstm *l, seq_params *P, const char *prefix, seq_slstm_config cfg) {
    int64_t H = cfg.hidden_size, NH = cfg.num_heads, s_w[2], s_r[4], s_b[3];
    seq_init u;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_slstm_init: NULL argument");
    if (cfg.input_size <= 0 || H <= 0 || NH <= 0 || H % NH != 0 || (cfg.exp_forget != 0 && cfg.exp_forget != 1))
        return seq__err(SEQ_ERR_INVALID, "seq_slstm_init: '%s': bad config (input %lld, hidden %lld, heads %lld)",
                        prefix, (long long)cfg.input_size, (long long)H, (long long)NH);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    u = seq_init_uniform(-1.0f / sqrtf((float)H), 1.0f / sqrtf((float)H));
    s_w[0] = 4 * H;
    s_w[1] = cfg.input_size;
    s_r[0] = s_b[0] = NH;
    s_r[1] = s_r[3] = s_b[2] = H / NH;
    s_r[2] = s_b[1] = 4;
    l->weight_ih = seq__xl_param(P, prefix, "weight_ih", 2, s_w, u);
    l->recurrent_kernel = seq__xl_param(P, prefix, "recurrent_kernel", 4, s_r, u);
    l->bias = seq__xl_param(P, prefix, "bias", 3, s_b, u);
    return l->weight_ih && l->recurrent_kernel && l->bias ? SEQ_OK : seq__errstatus;
}

SEQDEF seq_tensor *seq_slstm_forward(seq_ctx *ctx, const seq_slstm *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_slstm_forward";
    int64_t s0[3];
    seq_tensor *xp;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->weight_ih) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer");
        return NULL;
    }
    s0[0] = 4;
    s0[1] = x->shape[0];
    s0[2] = l->cfg.hidden_size;
    if (!seq__xl_entry_ok(ctx, op, x, l->cfg.input_size, io, 3, s0, 0, NULL)) return NULL;
    xp = seq_linear(ctx, x, l->weight_ih, NULL);
    return xp ? seq__slstm_core(ctx, l, xp, io) : NULL;
}

SEQDEF seq_status seq_slstm_state_init(const seq_slstm *l, seq_slstm_state *st, int64_t batch) {
    int64_t BH;
    if (!l || !st || !l->weight_ih) return seq__err(SEQ_ERR_INVALID, "seq_slstm_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    BH = batch * l->cfg.hidden_size;
    st->h = seq__xl_state_alloc("seq_slstm_state_init", l->alloc_ud, batch, 4 * BH, 4 * BH);
    if (!st->h) return seq__errstatus;
    st->c = st->h + BH;
    st->n = st->h + 2 * BH;
    st->m = st->h + 3 * BH;
    st->work = st->h + 4 * BH; /* (B,4H) pre-activations */
    st->batch = batch;
    st->alloc_ud = l->alloc_ud;
    return SEQ_OK;
}

SEQDEF void seq_slstm_state_reset(seq_slstm_state *st) {
    if (st) seq__xl_state_zero(st->h, st->work);
}

SEQDEF void seq_slstm_state_free(seq_slstm_state *st) {
    if (st) seq__xl_state_release(st->alloc_ud, st->h, st, sizeof *st);
}

SEQDEF seq_status seq_slstm_step(const seq_slstm *l, seq_slstm_state *st, const float *x_t, float *y_t) {
    int64_t B, H, r;
    seq_status s = seq__xl_step_ok("seq_slstm_step", l && st && st->h && l->weight_ih, x_t,
                                   st && l ? st->batch * l->cfg.input_size : 0, y_t);
    if (s != SEQ_OK) return s;
    B = st->batch;
    H = l->cfg.hidden_size;
    seq__xl_affine(l->weight_ih, l->bias, x_t, B, st->work);
    seq__slstm_recur(l, B, st->h, st->work, 4 * H);
    for (r = 0; r < B; r++)
        seq__slstm_cell(H, H / l->cfg.num_heads, l->cfg.exp_forget, st->work + r * 4 * H, st->c + r * H, st->n + r * H,
                        st->m + r * H, st->h + r * H, st->c + r * H, st->n + r * H, st->m + r * H);
    memcpy(y_t, st->h, (size_t)(B * H) * sizeof(float));
    return SEQ_OK;
}

/* ---- mLSTM ---------------------------------------------------------------------------- */

/* Log input and forget gate of one (position, head) from the pre-activations: the soft
 * cap, then log sigmoid for a sigmoid forget gate. */
static void seq__mlstm_gates(const seq_mlstm_config *c, float ip, float fp, float *il, float *fl) {
    float cap = c->gate_soft_cap, fc = cap > 0.0f ? cap * tanhf(fp / cap) : fp;
    *il = cap > 0.0f ? cap * tanhf(ip / cap) : ip;
    *fl = c->exp_forget ? fc : seq__xl_logsigmoid(fc);
}

/* The pre-activations' gradients from those of the log gates. */
static void seq__mlstm_gates_backward(const seq_mlstm_config *c, float ip, float fp, float dil, float dfl, float *dip,
                                      float *dfp) {
    float cap = c->gate_soft_cap, ti = cap > 0.0f ? tanhf(ip / cap) : 0.0f, tf = cap > 0.0f ? tanhf(fp / cap) : 0.0f;
    float fc = cap > 0.0f ? cap * tf : fp;
    *dip = dil * (1.0f - ti * ti);
    *dfp = (c->exp_forget ? dfl : dfl * seq__sigmoidf(-fc)) * (1.0f - tf * tf);
}

/* One recurrent step of one head: the state C~ (DK,DV), n~ (DK), *m advances in place and
 * h (DV) comes out. q, k (DK) and v (DV) are this position's, il and fl its log gates. */
static void seq__mlstm_step_head(const float *q, const float *k, const float *v, float il, float fl, int64_t DK,
                                 int64_t DV, float scale, float eps, float *C, float *n, float *m, float *h) {
    float carry = fl + *m, mt = il > carry ? il : carry, fa = expf(carry - mt), ia = expf(il - mt), qn = 0.0f, den;
    int64_t d, e;
    for (e = 0; e < DV; e++) h[e] = 0.0f;
    for (d = 0; d < DK; d++) {
        float kd = ia * k[d], qd = scale * q[d];
        n[d] = fa * n[d] + kd;
        qn += qd * n[d];
        for (e = 0; e < DV; e++) {
            C[d * DV + e] = fa * C[d * DV + e] + kd * v[e];
            h[e] += qd * C[d * DV + e];
        }
    }
    den = fmaxf(fabsf(qn), expf(-mt)) + eps;
    for (e = 0; e < DV; e++) h[e] /= den;
    *m = mt;
}

/* One head of one row from a chunk's first position on. Positions are strided: q and k by
 * NH*DK, v and h by NH*DV, the log gates by NH. */
typedef struct seq__mlstm_head {
    const float *q, *k, *v, *il, *fl;
    float *h;
    int64_t sk, sv, sg, DK, DV;
    float scale, eps;
} seq__mlstm_head;

/* Scratch of one chunk of up to L positions (the second group for the backward only). */
typedef struct seq__mlstm_ws {
    float *S, *P, *A;  /* (L,L): scale q_t.k_s; e^(l[t,s] - m_t), the stabilized decay D; P*S */
    float *QC, *num;   /* (L,DV): scale q_t C~; the numerator of h_t */
    float *kw;         /* (L,DK): k_s weighted by the last row of P */
    float *b, *m, *a0, *qs, *qn, *den; /* (L): summed log f; m_t; the carried state's weight
                                          e^(m0 + b_t - m_t); scale q_t.n~; n_t.q_t; the denominator */
    int64_t *arg;      /* (L): which entry of row t is its max (-1: the carried state's) */
    float *G, *dnum, *E, *tmp;         /* (L,L), (L,DV), (L,DK), (L,DK) */
    float *dqn, *dm, *dl0, *u, *db;    /* (L) */
} seq__mlstm_ws;

static int seq__mlstm_ws_init(seq_ctx *ctx, seq__mlstm_ws *w, int64_t L, int64_t DK, int64_t DV, int backward) {
    int64_t n = 3 * L * L + 2 * L * DV + L * DK + 6 * L + (backward ? L * L + L * DV + 2 * L * DK + 5 * L : 0);
    float *p = (float *)seq__calloc(ctx, (size_t)n * sizeof(float));
    w->arg = (int64_t *)seq_ctx_alloc(ctx, (size_t)L * sizeof(int64_t));
    if (!p || !w->arg) return 0;
    w->S = p;
    w->P = w->S + L * L;
    w->A = w->P + L * L;
    w->QC = w->A + L * L;
    w->num = w->QC + L * DV;
    w->kw = w->num + L * DV;
    w->b = w->kw + L * DK;
    w->m = w->b + L;
    w->a0 = w->m + L;
    w->qs = w->a0 + L;
    w->qn = w->qs + L;
    w->den = w->qn + L;
    if (!backward) return 1;
    w->G = w->den + L;
    w->dnum = w->G + L * L;
    w->E = w->dnum + L * DV;
    w->tmp = w->E + L * DK;
    w->dqn = w->tmp + L * DK;
    w->dm = w->dqn + L;
    w->dl0 = w->dm + L;
    w->u = w->dl0 + L;
    w->db = w->u + L;
    return 1;
}

/* Log weight of input s in row t of a chunk: il_s + the log forget gates after s up to t. */
static float seq__mlstm_logd(const seq__mlstm_head *hd, const seq__mlstm_ws *w, int64_t t, int64_t s) {
    return hd->il[s * hd->sg] + w->b[t] - w->b[s];
}

/* What a chunk's forward and backward share: L positions of one head from the state
 * C~ (DK,DV), n~ (DK), m0 they start from. Row t mixes the carried state (log weight
 * m0 + b_t) and the inputs s <= t (log weight il_s + b_t - b_s), each scaled by e^-m_t,
 * m_t their max: the recurrence's m, whatever the chunk size. */
static void seq__mlstm_prep(const seq__mlstm_head *hd, int64_t L, const float *C, const float *nv, float m0,
                            seq__mlstm_ws *w) {
    int64_t DK = hd->DK, DV = hd->DV, t, s, d;
    float acc = 0.0f;
    for (t = 0; t < L; t++) {
        acc += hd->fl[t * hd->sg];
        w->b[t] = acc;
    }
    seq_sgemm(0, 1, L, L, DK, hd->scale, hd->q, hd->sk, hd->k, hd->sk, 0.0f, w->S, L);
    seq_sgemm(0, 0, L, DV, DK, hd->scale, hd->q, hd->sk, C, DV, 0.0f, w->QC, DV);
    for (t = 0; t < L; t++) {
        float mt = m0 + w->b[t], qn = 0.0f, qs = 0.0f;
        w->arg[t] = -1;
        for (s = 0; s <= t; s++)
            if (seq__mlstm_logd(hd, w, t, s) > mt) {
                mt = seq__mlstm_logd(hd, w, t, s);
                w->arg[t] = s;
            }
        w->m[t] = mt;
        w->a0[t] = expf(m0 + w->b[t] - mt);
        for (s = 0; s < L; s++) {
            w->P[t * L + s] = s <= t ? expf(seq__mlstm_logd(hd, w, t, s) - mt) : 0.0f;
            w->A[t * L + s] = w->P[t * L + s] * w->S[t * L + s];
            qn += w->A[t * L + s];
        }
        for (d = 0; d < DK; d++) qs += hd->q[t * hd->sk + d] * nv[d];
        w->qs[t] = hd->scale * qs;
        w->qn[t] = qn + w->a0[t] * w->qs[t];
        w->den[t] = fmaxf(fabsf(w->qn[t]), expf(-mt)) + hd->eps;
    }
    seq_sgemm(0, 0, L, DV, L, 1.0f, w->A, L, hd->v, hd->sv, 0.0f, w->num, DV);
    for (t = 0; t < L; t++)
        for (d = 0; d < DV; d++) w->num[t * DV + d] += w->a0[t] * w->QC[t * DV + d];
}

/* kw (L,DK) = the keys weighted by the chunk's last row of P: what the state keeps. */
static void seq__mlstm_weigh_keys(const seq__mlstm_head *hd, int64_t L, seq__mlstm_ws *w) {
    int64_t s, d;
    for (s = 0; s < L; s++)
        for (d = 0; d < hd->DK; d++) w->kw[s * hd->DK + d] = w->P[(L - 1) * L + s] * hd->k[s * hd->sk + d];
}

/* One chunk: h of its L positions, and the state (C~, n~, *m) advanced past it, which is
 * the last row's mix without q: C~' = a0 C~ + sum_s P[L-1,s] k_s v_s^T. */
static void seq__mlstm_chunk(const seq__mlstm_head *hd, int64_t L, float *C, float *nv, float *m, seq__mlstm_ws *w) {
    int64_t DK = hd->DK, DV = hd->DV, t, s, d;
    float keep;
    seq__mlstm_prep(hd, L, C, nv, *m, w);
    for (t = 0; t < L; t++)
        for (d = 0; d < DV; d++) hd->h[t * hd->sv + d] = w->num[t * DV + d] / w->den[t];
    seq__mlstm_weigh_keys(hd, L, w);
    keep = w->a0[L - 1];
    for (d = 0; d < DK * DV; d++) C[d] *= keep;
    seq_sgemm(1, 0, DK, DV, L, 1.0f, w->kw, DK, hd->v, hd->sv, 1.0f, C, DV);
    for (d = 0; d < DK; d++) {
        nv[d] *= keep;
        for (s = 0; s < L; s++) nv[d] += w->kw[s * DK + d];
    }
    *m = w->m[L - 1];
}

/* Backward of seq__mlstm_chunk from the state it started from (C, nv, m0). dh: the gradient
 * on h (strided as h) or NULL; dC, dn, *dm: the gradients on the state after the chunk,
 * replaced by those on the state before. Accumulates into gq, gk, gv (strided as q, k, v;
 * NULL: not wanted) and gil, gfl (stride sg). Every log weight l gets its gradient dl (in
 * A, and dl0 for the carried state's); m_t passes its own to the entry that won the max.
 * With m_t held fixed h_t depends on it only through eps: dh_t/dm_t = -h_t eps / den_t. */
static void seq__mlstm_chunk_backward(const seq__mlstm_head *hd, int64_t L, const float *C, const float *nv, float m0,
                                      const float *dh, float *dC, float *dn, float *dm, float *gq, float *gk, float *gv,
                                      float *gil, float *gfl, seq__mlstm_ws *w) {
    int64_t DK = hd->DK, DV = hd->DV, last = L - 1, t, s, d;
    float st0 = 0.0f, mix, suffix = 0.0f;
    seq__mlstm_prep(hd, L, C, nv, m0, w);
    for (t = 0; t < L; t++) { /* h_t = num_t / den_t */
        float dot = 0.0f;
        for (d = 0; d < DV; d++) {
            float g = dh ? dh[t * hd->sv + d] : 0.0f;
            w->dnum[t * DV + d] = g / w->den[t];
            dot += g * w->num[t * DV + d] / w->den[t];
        }
        w->dqn[t] = fabsf(w->qn[t]) >= expf(-w->m[t]) ? (w->qn[t] >= 0.0f ? -dot : dot) / w->den[t] : 0.0f;
        w->dm[t] = -dot * hd->eps / w->den[t];
    }
    /* the state after the chunk is row L-1's mix: u_s = d l[L-1,s] through it, E = v dC^T */
    seq_sgemm(0, 1, L, DK, DV, 1.0f, hd->v, hd->sv, dC, DV, 0.0f, w->E, DK);
    for (d = 0; d < DK * DV; d++) st0 += dC[d] * C[d];
    for (d = 0; d < DK; d++) st0 += dn[d] * nv[d];
    mix = w->a0[last] * st0; /* <dC, C~'> + <dn, n~'>: what m' = m_{L-1} scales */
    for (s = 0; s < L; s++) {
        float us = 0.0f;
        for (d = 0; d < DK; d++) us += hd->k[s * hd->sk + d] * (w->E[s * DK + d] + dn[d]);
        w->u[s] = w->P[last * L + s] * us;
        mix += w->u[s];
    }
    w->dm[last] += *dm - mix;
    /* G = dnum v^T + dqn: then dl = A G and dS = P G (s <= t) */
    seq_sgemm(0, 1, L, L, DV, 1.0f, w->dnum, DV, hd->v, hd->sv, 0.0f, w->G, L);
    if (gv) seq_sgemm(1, 0, L, DV, L, 1.0f, w->A, L, w->dnum, DV, 1.0f, gv, hd->sv);
    for (t = 0; t < L; t++)
        for (s = 0; s < L; s++) {
            float g = s <= t ? w->G[t * L + s] + w->dqn[t] : 0.0f;
            w->A[t * L + s] *= g;
            w->G[t * L + s] = w->P[t * L + s] * g;
        }
    for (s = 0; s < L; s++) w->A[last * L + s] += w->u[s];
    for (t = 0; t < L; t++) { /* the carried state's entries; each m_t to its winner */
        float dl0 = w->dqn[t] * w->qs[t];
        for (d = 0; d < DV; d++) dl0 += w->dnum[t * DV + d] * w->QC[t * DV + d];
        dl0 = w->a0[t] * (dl0 + (t == last ? st0 : 0.0f));
        if (w->arg[t] < 0) dl0 += w->dm[t];
        else w->A[t * L + w->arg[t]] += w->dm[t];
        w->dl0[t] = dl0;
    }
    seq__mlstm_weigh_keys(hd, L, w);
    if (gk) {
        seq_sgemm(1, 0, L, DK, L, hd->scale, w->G, L, hd->q, hd->sk, 1.0f, gk, hd->sk);
        for (s = 0; s < L; s++)
            for (d = 0; d < DK; d++) gk[s * hd->sk + d] += w->P[last * L + s] * (w->E[s * DK + d] + dn[d]);
    }
    if (gv) seq_sgemm(0, 0, L, DV, DK, 1.0f, w->kw, DK, dC, DV, 1.0f, gv, hd->sv);
    if (gq) {
        seq_sgemm(0, 0, L, DK, L, hd->scale, w->G, L, hd->k, hd->sk, 1.0f, gq, hd->sk);
        seq_sgemm(0, 1, L, DK, DV, 1.0f, w->dnum, DV, C, DV, 0.0f, w->tmp, DK); /* C~ dnum_t */
        for (t = 0; t < L; t++)
            for (d = 0; d < DK; d++)
                gq[t * hd->sk + d] += hd->scale * w->a0[t] * (w->tmp[t * DK + d] + nv[d] * w->dqn[t]);
    }
    /* the state before the chunk (dC and dn are read above for the last time) */
    for (d = 0; d < DK * DV; d++) dC[d] *= w->a0[last];
    for (t = 0; t < L; t++)
        for (d = 0; d < DK; d++) w->tmp[t * DK + d] = hd->scale * w->a0[t] * hd->q[t * hd->sk + d];
    seq_sgemm(1, 0, DK, DV, L, 1.0f, w->tmp, DK, w->dnum, DV, 1.0f, dC, DV);
    for (d = 0; d < DK; d++) {
        dn[d] *= w->a0[last];
        for (t = 0; t < L; t++) dn[d] += w->tmp[t * DK + d] * w->dqn[t];
    }
    /* the log gates: l[t,s] = il_s + b_t - b_s, l[t,carried] = m0 + b_t, b_t = sum_{s<=t} fl_s */
    *dm = 0.0f;
    for (t = 0; t < L; t++) {
        *dm += w->dl0[t];
        w->db[t] = w->dl0[t];
    }
    for (t = 0; t < L; t++)
        for (s = 0; s <= t; s++) {
            w->db[t] += w->A[t * L + s];
            w->db[s] -= w->A[t * L + s];
            gil[s * hd->sg] += w->A[t * L + s];
        }
    for (t = L - 1; t >= 0; t--) {
        suffix += w->db[t];
        gfl[t * hd->sg] += suffix;
    }
}

/* Positions [t0, t0+len) of row r; start: where its state comes from. */
enum { SEQ__MLSTM_CARRY, SEQ__MLSTM_INITIAL, SEQ__MLSTM_ZERO };
typedef struct seq__mlstm_chunkdesc {
    int64_t r, t0, len;
    int start;
} seq__mlstm_chunkdesc;

/* Splits each row at its resets and its length into segments, and those into chunks of
 * at most c positions, in order; out needs B*T entries. Returns how many. */
static int64_t seq__mlstm_plan(const int32_t *lengths, const uint8_t *resets, int64_t B, int64_t T, int64_t c,
                               seq__mlstm_chunkdesc *out) {
    int64_t n = 0, r, t, e, s;
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(lengths, r, T);
        for (t = 0; t < len; t = e) {
            int first = t > 0 || seq__xl_reset(resets, r, 0, T) ? SEQ__MLSTM_ZERO : SEQ__MLSTM_INITIAL;
            e = t + 1;
            while (e < len && !seq__xl_reset(resets, r, e, T)) e++;
            for (s = t; s < e; s += c, n++) {
                out[n].r = r;
                out[n].t0 = s;
                out[n].len = e - s < c ? e - s : c;
                out[n].start = s > t ? SEQ__MLSTM_CARRY : first;
            }
        }
    }
    return n;
}

/* The fused node: in[0..3] q, k, v, i~ (B,T,NH*DK or NH*DV or NH); out h (B,T,NH*DV);
 * extra_out the final C (B,NH,DK,DV) and n|m (B,NH,DK+1). */
typedef struct seq__mlstm_aux {
    seq_mlstm_config cfg;
    seq_tensor *fp, *C0, *nm0;
    float *il, *fl; /* (B,T,NH) log gates */
    seq__mlstm_chunkdesc *chunks;
    int64_t nchunks, L; /* L: the longest chunk */
    float *saved;       /* (nchunks,NH,DK*DV+DK+1): C~, n~, m each chunk started from */
} seq__mlstm_aux;

/* Head hh of row r from position t0 on, over the given arrays (h may be NULL). */
static seq__mlstm_head seq__mlstm_view(const seq_mlstm_config *c, const float *q, const float *k, const float *v,
                                       const float *il, const float *fl, float *h, int64_t T, int64_t r, int64_t t0,
                                       int64_t hh) {
    int64_t NH = c->num_heads, DK = c->qk_head_dim, DV = c->v_head_dim, p = r * T + t0;
    seq__mlstm_head hd;
    hd.q = q + p * NH * DK + hh * DK;
    hd.k = k + p * NH * DK + hh * DK;
    hd.v = v + p * NH * DV + hh * DV;
    hd.il = il + p * NH + hh;
    hd.fl = fl + p * NH + hh;
    hd.h = h ? h + p * NH * DV + hh * DV : NULL;
    hd.sk = NH * DK;
    hd.sv = NH * DV;
    hd.sg = NH;
    hd.DK = DK;
    hd.DV = DV;
    hd.scale = 1.0f / sqrtf((float)DK);
    hd.eps = c->eps;
    return hd;
}

static void seq__mlstm_backward(seq_ctx *ctx, seq__node *nd) {
    seq_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *ip = nd->in[3], *h = nd->out;
    seq_tensor *hn = nd->extra_out[0], *cn = nd->extra_out[1];
    const seq__mlstm_aux *a = (const seq__mlstm_aux *)nd->aux;
    const seq_mlstm_config *c = &a->cfg;
    int64_t B = q->shape[0], T = q->shape[1], NH = c->num_heads, DK = c->qk_head_dim, DV = c->v_head_dim;
    int64_t SZ = DK * DV + DK + 1, BN = B * NH, e, hh, j, d;
    float *gq = seq__grad(ctx, q), *gk = seq__grad(ctx, k), *gv = seq__grad(ctx, v), *gip = seq__grad(ctx, ip);
    float *gfp = seq__grad(ctx, a->fp), *gC0 = seq__grad(ctx, a->C0), *gnm0 = seq__grad(ctx, a->nm0);
    float *gil = (float *)seq__calloc(ctx, (size_t)(B * T * NH) * sizeof(float));
    float *gfl = (float *)seq__calloc(ctx, (size_t)(B * T * NH) * sizeof(float));
    float *dC = (float *)seq__calloc(ctx, (size_t)(BN * DK * DV) * sizeof(float)); /* carried, per (row, head) */
    float *dn = (float *)seq__calloc(ctx, (size_t)(BN * DK) * sizeof(float));
    float *dm = (float *)seq__calloc(ctx, (size_t)BN * sizeof(float));
    seq__mlstm_ws w;
    if (!gil || !gfl || !dC || !dn || !dm || !seq__mlstm_ws_init(ctx, &w, a->L, DK, DV, 1)) return;
    if (hn->grad) memcpy(dC, hn->grad, (size_t)(BN * DK * DV) * sizeof(float));
    for (j = 0; cn->grad && j < BN; j++) {
        memcpy(dn + j * DK, cn->grad + j * (DK + 1), (size_t)DK * sizeof(float));
        dm[j] = cn->grad[j * (DK + 1) + DK];
    }
    for (e = a->nchunks - 1; e >= 0; e--) {
        const seq__mlstm_chunkdesc *cd = a->chunks + e;
        for (hh = 0; hh < NH; hh++) {
            int64_t idx = cd->r * NH + hh, p = cd->r * T + cd->t0, oq = p * NH * DK + hh * DK, ov = p * NH * DV + hh * DV;
            const float *st = a->saved + (e * NH + hh) * SZ;
            seq__mlstm_head hd = seq__mlstm_view(c, q->data, k->data, v->data, a->il, a->fl, NULL, T, cd->r, cd->t0, hh);
            seq__mlstm_chunk_backward(&hd, cd->len, st, st + DK * DV, st[DK * DV + DK], h->grad ? h->grad + ov : NULL,
                                      dC + idx * DK * DV, dn + idx * DK, dm + idx, gq ? gq + oq : NULL,
                                      gk ? gk + oq : NULL, gv ? gv + ov : NULL, gil + p * NH + hh, gfl + p * NH + hh, &w);
            if (cd->start == SEQ__MLSTM_ZERO) { /* a segment start dropped what was carried */
                memset(dC + idx * DK * DV, 0, (size_t)(DK * DV) * sizeof(float));
                memset(dn + idx * DK, 0, (size_t)DK * sizeof(float));
                dm[idx] = 0.0f;
            }
        }
    }
    for (j = 0; gC0 && j < BN * DK * DV; j++) gC0[j] += dC[j];
    for (j = 0; gnm0 && j < BN; j++) {
        for (d = 0; d < DK; d++) gnm0[j * (DK + 1) + d] += dn[j * DK + d];
        gnm0[j * (DK + 1) + DK] += dm[j];
    }
    for (j = 0; (gip || gfp) && j < B * T * NH; j++) {
        float di, df;
        seq__mlstm_gates_backward(c, ip->data[j], a->fp->data[j], gil[j], gfl[j], &di, &df);
        if (gip) gip[j] += di;
        if (gfp) gfp[j] += df;
    }
}

/* The recurrent core over q, k, v, i~ (qkvi) and f~ from their projections: h (B,T,NH*DV),
 * and io's final states. */
static seq_tensor *seq__mlstm_core(seq_ctx *ctx, const seq_mlstm *l, seq_tensor *const *qkvi, seq_tensor *fp,
                                   seq_rnn_io *io) {
    const seq_mlstm_config *c = &l->cfg;
    seq_tensor *q = qkvi[0], *h, *hn, *cn;
    int64_t B = q->shape[0], T = q->shape[1], NH = c->num_heads, DK = c->qk_head_dim, DV = c->v_head_dim;
    int64_t SZ = DK * DV + DK + 1, BN = B * NH, shape[4], e, hh, j, t;
    seq__mlstm_aux *a = (seq__mlstm_aux *)seq__calloc(ctx, sizeof(seq__mlstm_aux));
    const int32_t *lengths = io ? io->lengths : NULL;
    const uint8_t *resets = io ? io->resets : NULL;
    float *Cs, *ns, *ms;
    seq__mlstm_ws w;
    seq__node *nd;
    int rg = 0;
    if (!a) return NULL;
    a->cfg = *c;
    a->fp = fp;
    a->C0 = io ? io->h0 : NULL;
    a->nm0 = io ? io->c0 : NULL;
    for (j = 0; j < 4; j++) rg |= seq__needs_grad(qkvi[j]);
    rg = ctx->grad_enabled && (rg || seq__needs_grad(fp) || seq__needs_grad(a->C0) || seq__needs_grad(a->nm0));
    shape[0] = B;
    shape[1] = T;
    shape[2] = NH * DV;
    h = seq__xl_state_out(ctx, 3, shape, rg); /* zeroed: padding past a length stays 0 */
    shape[1] = NH;
    shape[2] = DK;
    shape[3] = DV;
    hn = seq__xl_state_out(ctx, 4, shape, rg);
    shape[2] = DK + 1;
    cn = seq__xl_state_out(ctx, 3, shape, rg);
    a->L = c->form == SEQ_MLSTM_PARALLEL || c->chunk_size > T ? T : c->chunk_size;
    a->il = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * NH) * sizeof(float));
    a->fl = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * NH) * sizeof(float));
    a->chunks = (seq__mlstm_chunkdesc *)seq_ctx_alloc(ctx, (size_t)(B * T) * sizeof(seq__mlstm_chunkdesc));
    Cs = (float *)seq__calloc(ctx, (size_t)(BN * SZ) * sizeof(float)); /* C~ (B,NH,DK,DV), n~ (B,NH,DK), m (B,NH) */
    if (!h || !hn || !cn || !a->il || !a->fl || !a->chunks || !Cs || !seq__mlstm_ws_init(ctx, &w, a->L, DK, DV, 0))
        return NULL;
    ns = Cs + BN * DK * DV;
    ms = ns + BN * DK;
    for (j = 0; j < B * T * NH; j++) seq__mlstm_gates(c, qkvi[3]->data[j], fp->data[j], a->il + j, a->fl + j);
    a->nchunks = seq__mlstm_plan(lengths, resets, B, T, a->L, a->chunks);
    a->saved = (float *)seq_ctx_alloc(ctx, (size_t)(a->nchunks * NH * SZ) * sizeof(float));
    if (!a->saved) return NULL;
    if (a->C0) memcpy(Cs, a->C0->data, (size_t)(BN * DK * DV) * sizeof(float));
    for (j = 0; a->nm0 && j < BN; j++) {
        memcpy(ns + j * DK, a->nm0->data + j * (DK + 1), (size_t)DK * sizeof(float));
        ms[j] = a->nm0->data[j * (DK + 1) + DK];
    }
    for (e = 0; e < a->nchunks; e++) {
        const seq__mlstm_chunkdesc *cd = a->chunks + e;
        for (hh = 0; hh < NH; hh++) {
            int64_t idx = cd->r * NH + hh;
            float *C = Cs + idx * DK * DV, *n = ns + idx * DK, *m = ms + idx, *st = a->saved + (e * NH + hh) * SZ;
            seq__mlstm_head hd = seq__mlstm_view(c, q->data, qkvi[1]->data, qkvi[2]->data, a->il, a->fl, h->data, T,
                                                 cd->r, cd->t0, hh);
            if (cd->start == SEQ__MLSTM_ZERO) {
                memset(C, 0, (size_t)(DK * DV) * sizeof(float));
                memset(n, 0, (size_t)DK * sizeof(float));
                *m = 0.0f;
            }
            memcpy(st, C, (size_t)(DK * DV) * sizeof(float));
            memcpy(st + DK * DV, n, (size_t)DK * sizeof(float));
            st[DK * DV + DK] = *m;
            if (c->form != SEQ_MLSTM_RECURRENT) seq__mlstm_chunk(&hd, cd->len, C, n, m, &w);
            else
                for (t = 0; t < cd->len; t++)
                    seq__mlstm_step_head(hd.q + t * hd.sk, hd.k + t * hd.sk, hd.v + t * hd.sv, hd.il[t * hd.sg],
                                         hd.fl[t * hd.sg], DK, DV, hd.scale, hd.eps, C, n, m, hd.h + t * hd.sv);
        }
    }
    memcpy(hn->data, Cs, (size_t)(BN * DK * DV) * sizeof(float));
    for (j = 0; j < BN; j++) {
        memcpy(cn->data + j * (DK + 1), ns + j * DK, (size_t)DK * sizeof(float));
        cn->data[j * (DK + 1) + DK] = ms[j];
    }
    nd = seq__record(ctx, "seq_mlstm_forward", h, seq__mlstm_backward, 4, qkvi);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = hn;
        nd->extra_out[1] = cn;
    }
    if (io) {
        io->hn = hn;
        io->cn = cn;
    }
    return h;
}

/* y (B,T,C) with every position past its row's length zeroed (times a constant mask). */
static seq_tensor *seq__mlstm_mask_lengths(seq_ctx *ctx, seq_tensor *y, const int32_t *lengths) {
    seq_tensor *mask;
    int64_t B, T, C, r, j;
    if (!y) return NULL;
    B = y->shape[0];
    T = y->shape[1];
    C = y->shape[2];
    mask = seq_tensor_new(ctx, SEQ_F32, 3, y->shape);
    if (!mask) return NULL;
    for (r = 0; r < B; r++)
        for (j = 0; j < lengths[r] * C; j++) mask->data[r * T * C + j] = 1.0f;
    return seq_mul(ctx, y, mask);
}

SEQDEF seq_mlstm_config seq_mlstm_config_default(int64_t embedding_dim, int64_t num_heads) {
    seq_mlstm_config c;
    int64_t per_head = num_heads > 0 ? embedding_dim / num_heads : 0;
    c.embedding_dim = embedding_dim;
    c.num_heads = num_heads;
    c.qk_head_dim = per_head / 2 > 0 ? per_head / 2 : 1;
    c.v_head_dim = per_head > 0 ? per_head : 1;
    c.gate_soft_cap = 15.0f;
    c.exp_forget = 0;
    c.bias = 0;
    c.eps = 1e-6f;
    c.norm_eps = 1e-6f;
    c.form = SEQ_MLSTM_CHUNKWISE;
    c.chunk_size = 64;
    return c;
}

/* 1 when a form and chunk size can run (they may change after init). */
static int seq__mlstm_form_ok(const seq_mlstm_config *c) {
    return (int)c->form >= 0 && c->form < SEQ_MLSTM_FORM_COUNT && c->chunk_size >= 1;
}

SEQDEF seq_status seq_mlstm_init(seq_mlstm *l, seq_params *P, const char *prefix, seq_mlstm_config cfg) {
    int64_t C = cfg.embedding_dim, NH = cfg.num_heads, HK = NH * cfg.qk_head_dim, HV = NH * cfg.v_head_dim, s[1];
    seq_init zero = seq_init_zeros(), ib = seq_init_constant(-10.0f), fb = seq_init_uniform(3.0f, 6.0f);
    const seq_init *bz = cfg.bias ? &zero : NULL;
    seq_status st;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_mlstm_init: NULL argument");
    if (C <= 0 || NH <= 0 || cfg.qk_head_dim <= 0 || cfg.v_head_dim <= 0 || !(cfg.gate_soft_cap >= 0.0f) ||
        !isfinite(cfg.gate_soft_cap) || (cfg.exp_forget != 0 && cfg.exp_forget != 1) || (cfg.bias != 0 && cfg.bias != 1) ||
        !(cfg.eps >= 0.0f) || !isfinite(cfg.eps) || !(cfg.norm_eps >= 0.0f) || !isfinite(cfg.norm_eps) ||
        !seq__mlstm_form_ok(&cfg))
        return seq__err(SEQ_ERR_INVALID, "seq_mlstm_init: '%s': bad config (dim %lld, heads %lld, dk %lld, dv %lld)",
                        prefix, (long long)C, (long long)NH, (long long)cfg.qk_head_dim, (long long)cfg.v_head_dim);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    st = seq__xl_linear(P, prefix, "q", HK, C, bz, &l->q_w, &l->q_b);
    if (st == SEQ_OK) st = seq__xl_linear(P, prefix, "k", HK, C, bz, &l->k_w, &l->k_b);
    if (st == SEQ_OK) st = seq__xl_linear(P, prefix, "v", HV, C, bz, &l->v_w, &l->v_b);
    if (st == SEQ_OK) st = seq__xl_linear(P, prefix, "ogate_preact", HV, C, bz, &l->o_w, &l->o_b);
    if (st == SEQ_OK) st = seq__xl_linear(P, prefix, "igate_preact", NH, C, &ib, &l->i_w, &l->i_b);
    if (st == SEQ_OK) st = seq__xl_linear(P, prefix, "fgate_preact", NH, C, &fb, &l->f_w, &l->f_b);
    if (st != SEQ_OK) return st;
    s[0] = HV;
    l->norm_w = seq__xl_param(P, prefix, "multihead_norm.weight", 1, s, seq_init_constant(1.0f));
    if (!l->norm_w) return seq__errstatus;
    if (cfg.bias && !(l->norm_b = seq__xl_param(P, prefix, "multihead_norm.bias", 1, s, zero))) return seq__errstatus;
    return seq__xl_linear(P, prefix, "out_proj", C, HV, bz, &l->out_w, &l->out_b);
}

SEQDEF seq_tensor *seq_mlstm_forward(seq_ctx *ctx, const seq_mlstm *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_mlstm_forward";
    const seq_mlstm_config *c;
    int64_t s0[4], s1[3];
    seq_tensor *qkvi[4], *fp, *h, *o;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->q_w || !seq__mlstm_form_ok(&l->cfg)) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer, or a bad form or chunk size");
        return NULL;
    }
    c = &l->cfg;
    s0[0] = s1[0] = x->shape[0];
    s0[1] = s1[1] = c->num_heads;
    s0[2] = c->qk_head_dim;
    s0[3] = c->v_head_dim;
    s1[2] = c->qk_head_dim + 1;
    if (!seq__xl_entry_ok(ctx, op, x, c->embedding_dim, io, 4, s0, 3, s1)) return NULL;
    qkvi[0] = seq_linear(ctx, x, l->q_w, l->q_b);
    qkvi[1] = seq_linear(ctx, x, l->k_w, l->k_b);
    qkvi[2] = seq_linear(ctx, x, l->v_w, l->v_b);
    qkvi[3] = seq_linear(ctx, x, l->i_w, l->i_b);
    fp = seq_linear(ctx, x, l->f_w, l->f_b);
    o = seq_sigmoid(ctx, seq_linear(ctx, x, l->o_w, l->o_b));
    if (ctx->status != SEQ_OK) return NULL;
    h = seq__mlstm_core(ctx, l, qkvi, fp, io);
    if (!h) return NULL;
    /* the per-head norm: layer norm over each head's DV values, then the weight over all */
    s0[1] = x->shape[1];
    s0[2] = c->num_heads;
    h = seq_reshape(ctx, seq_layernorm(ctx, seq_reshape(ctx, h, 4, s0), NULL, NULL, c->norm_eps), 3, h->shape);
    h = seq_mul(ctx, h, l->norm_w);
    if (l->norm_b) h = seq_add(ctx, h, l->norm_b);
    h = seq_linear(ctx, seq_mul(ctx, o, h), l->out_w, l->out_b);
    return io && io->lengths ? seq__mlstm_mask_lengths(ctx, h, io->lengths) : h;
}

SEQDEF seq_status seq_mlstm_state_init(const seq_mlstm *l, seq_mlstm_state *st, int64_t batch) {
    int64_t BN, DK, DV;
    if (!l || !st || !l->q_w) return seq__err(SEQ_ERR_INVALID, "seq_mlstm_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    BN = batch * l->cfg.num_heads;
    DK = l->cfg.qk_head_dim;
    DV = l->cfg.v_head_dim;
    /* work: q, k (B,NH*DK), v, o~, h (B,NH*DV), i~, f~ (B,NH) */
    st->C = seq__xl_state_alloc("seq_mlstm_state_init", l->alloc_ud, batch, BN * (DK * DV + DK + 1),
                                BN * (2 * DK + 3 * DV + 2));
    if (!st->C) return seq__errstatus;
    st->n = st->C + BN * DK * DV;
    st->m = st->n + BN * DK;
    st->work = st->m + BN;
    st->batch = batch;
    st->alloc_ud = l->alloc_ud;
    return SEQ_OK;
}

SEQDEF void seq_mlstm_state_reset(seq_mlstm_state *st) {
    if (st) seq__xl_state_zero(st->C, st->work);
}

SEQDEF void seq_mlstm_state_free(seq_mlstm_state *st) {
    if (st) seq__xl_state_release(st->alloc_ud, st->C, st, sizeof *st);
}

/* In place (x - mean) / sqrt(var + eps) over n values, computed as seq_layernorm does. */
static void seq__xl_layernorm(float *x, int64_t n, float eps) {
    double mean = seq__sum_f64(x, n, 0.0, 0) / (double)n, var = seq__sum_f64(x, n, mean, 1) / (double)n;
    float rstd = (float)(1.0 / sqrt(var + eps));
    int64_t j;
    for (j = 0; j < n; j++) x[j] = (x[j] - (float)mean) * rstd;
}

SEQDEF seq_status seq_mlstm_step(const seq_mlstm *l, seq_mlstm_state *st, const float *x_t, float *y_t) {
    const seq_mlstm_config *c = l ? &l->cfg : NULL;
    int64_t B, NH, DK, DV, HV, j;
    float *q, *k, *v, *o, *ip, *fp, *h;
    seq_status s = seq__xl_step_ok("seq_mlstm_step", l && st && st->C && l->q_w, x_t,
                                   st && l ? st->batch * l->cfg.embedding_dim : 0, y_t);
    if (s != SEQ_OK) return s;
    B = st->batch;
    NH = c->num_heads;
    DK = c->qk_head_dim;
    DV = c->v_head_dim;
    HV = NH * DV;
    q = st->work;
    k = q + B * NH * DK;
    v = k + B * NH * DK;
    o = v + B * HV;
    h = o + B * HV;
    ip = h + B * HV;
    fp = ip + B * NH;
    seq__xl_affine(l->q_w, l->q_b, x_t, B, q);
    seq__xl_affine(l->k_w, l->k_b, x_t, B, k);
    seq__xl_affine(l->v_w, l->v_b, x_t, B, v);
    seq__xl_affine(l->o_w, l->o_b, x_t, B, o);
    seq__xl_affine(l->i_w, l->i_b, x_t, B, ip);
    seq__xl_affine(l->f_w, l->f_b, x_t, B, fp);
    for (j = 0; j < B * NH; j++) { /* j = (row, head) */
        float il, fl;
        seq__mlstm_gates(c, ip[j], fp[j], &il, &fl);
        seq__mlstm_step_head(q + j * DK, k + j * DK, v + j * DV, il, fl, DK, DV, 1.0f / sqrtf((float)DK), c->eps,
                             st->C + j * DK * DV, st->n + j * DK, st->m + j, h + j * DV);
        seq__xl_layernorm(h + j * DV, DV, c->norm_eps);
    }
    for (j = 0; j < B * HV; j++)
        h[j] = (h[j] * l->norm_w->data[j % HV] + (l->norm_b ? l->norm_b->data[j % HV] : 0.0f)) * seq__sigmoidf(o[j]);
    seq__xl_affine(l->out_w, l->out_b, h, B, y_t);
    return SEQ_OK;
}

/* ---- minGRU / minLSTM ------------------------------------------------------------------- */

/* log a and log b of one unit from its pre-activations p0 (z~ or f~), ph (h~) and pi (i~,
 * minLSTM only). Both kinds are a = sigmoid(-u), b = sigmoid(u) g(h~), with u = z~ (minGRU)
 * or u = log(i/f) = softplus(-f~) - softplus(-i~) (minLSTM: f/(f+i) = sigmoid(-u)); log g
 * is log(h~ + 1/2) or log sigmoid(h~). */
static float seq__minrnn_u(seq_minrnn_kind kind, float p0, float pi) {
    return kind == SEQ_MINRNN_GRU ? p0 : seq__softplusf(-p0) - seq__softplusf(-pi);
}

static void seq__minrnn_unit(seq_minrnn_kind kind, float p0, float ph, float pi, float *la, float *lb) {
    float u = seq__minrnn_u(kind, p0, pi);
    *la = seq__xl_logsigmoid(-u);
    *lb = seq__xl_logsigmoid(u) + (ph >= 0.0f ? logf(ph + 0.5f) : seq__xl_logsigmoid(ph));
}

/* The pre-activations' gradients from those of log a and log b. */
static void seq__minrnn_unit_backward(seq_minrnn_kind kind, float p0, float ph, float pi, float dla, float dlb,
                                      float *d0, float *dh, float *di) {
    float u = seq__minrnn_u(kind, p0, pi), du = dlb * seq__sigmoidf(-u) - dla * seq__sigmoidf(u);
    *dh = dlb * (ph >= 0.0f ? 1.0f / (ph + 0.5f) : seq__sigmoidf(-ph));
    *d0 = kind == SEQ_MINRNN_GRU ? du : -du * seq__sigmoidf(-p0);
    *di = kind == SEQ_MINRNN_GRU ? 0.0f : du * seq__sigmoidf(-pi);
}

/* The gate node: in[0] z~ or f~, in[1] h~, in[2] i~ (minLSTM) (B,T,H) -> out a,
 * extra_out[0] b (B,T,H); the log-space scan reads la and lb. */
typedef struct seq__minrnn_aux {
    seq_minrnn_kind kind;
    float *la, *lb;
} seq__minrnn_aux;

/* d log a = a da and d log b = b db, then through seq__minrnn_unit */
static void seq__minrnn_gates_backward(seq_ctx *ctx, seq__node *nd) {
    seq_tensor *p0 = nd->in[0], *ph = nd->in[1], *pi = nd->in[2], *a = nd->out, *b = nd->extra_out[0];
    const seq__minrnn_aux *x = (const seq__minrnn_aux *)nd->aux;
    float *g0 = seq__grad(ctx, p0), *gh = seq__grad(ctx, ph), *gi = seq__grad(ctx, pi);
    int64_t j;
    for (j = 0; j < a->numel; j++) {
        float d0, dh, di, dla = a->grad ? a->grad[j] * a->data[j] : 0.0f, dlb = b->grad ? b->grad[j] * b->data[j] : 0.0f;
        seq__minrnn_unit_backward(x->kind, p0->data[j], ph->data[j], pi ? pi->data[j] : 0.0f, dla, dlb, &d0, &dh, &di);
        if (g0) g0[j] += d0;
        if (gh) gh[j] += dh;
        if (gi) gi[j] += di;
    }
}

static seq_tensor *seq__minrnn_gates(seq_ctx *ctx, seq_minrnn_kind kind, seq_tensor *const *ins, seq_tensor **b,
                                     seq__minrnn_aux **aux) {
    static const char op[] = "seq_minrnn_forward";
    seq_tensor *a = seq__out(ctx, op, 3, ins[0]->shape, 3, ins);
    seq__minrnn_aux *x = (seq__minrnn_aux *)seq_ctx_alloc(ctx, sizeof(seq__minrnn_aux));
    seq__node *nd;
    int64_t j;
    *b = seq__out(ctx, op, 3, ins[0]->shape, 3, ins);
    if (!a || !*b || !x) return NULL;
    x->kind = kind;
    x->la = (float *)seq_ctx_alloc(ctx, (size_t)a->numel * sizeof(float));
    x->lb = (float *)seq_ctx_alloc(ctx, (size_t)a->numel * sizeof(float));
    if (!x->la || !x->lb) return NULL;
    for (j = 0; j < a->numel; j++) {
        seq__minrnn_unit(kind, ins[0]->data[j], ins[1]->data[j], ins[2] ? ins[2]->data[j] : 0.0f, x->la + j, x->lb + j);
        a->data[j] = expf(x->la[j]);
        (*b)->data[j] = expf(x->lb[j]);
    }
    nd = seq__record(ctx, op, a, seq__minrnn_gates_backward, 3, ins);
    if (nd) {
        nd->aux = x;
        nd->extra_out[0] = *b;
    }
    *aux = x;
    return a;
}

/* Heinsen's log-space evaluation of seq_linear_scan(a, b, h0, opts) from la = log a and
 * lb = log b (B,T,C). Per segment, A_t = sum of la over it up to t:
 *     h_t = e^(A_t) h_init + exp(A_t + logsumexp_{j<=t}(lb_j - A_j)),
 * h_init = h0 for a row's first segment (unless reset at 0), else none. Both prefix
 * scans (cumsum, logcumsumexp) run in double. Recorded with the linear scan's backward,
 * which needs only a, b and h. */
static seq_tensor *seq__minrnn_log_scan(seq_ctx *ctx, seq_tensor *a, seq_tensor *b, const float *la, const float *lb,
                                        seq_tensor *h0, const seq_scan_opts *opts) {
    static const char op[] = "seq_minrnn_forward";
    int64_t B = a->shape[0], T = a->shape[1], C = a->shape[2], r, t, c;
    seq_tensor *ins[3], *h;
    seq__dscan *x;
    seq__node *nd;
    double *A, *lse;
    ins[0] = a;
    ins[1] = b;
    ins[2] = h0;
    h = seq__out(ctx, op, 3, a->shape, 3, ins);
    x = (seq__dscan *)seq__calloc(ctx, sizeof(seq__dscan)); /* what the linear scan's backward reads */
    A = (double *)seq_ctx_alloc(ctx, (size_t)(2 * C) * sizeof(double));
    if (!h || !x || !A) return NULL;
    lse = A + C;
    x->B = B;
    x->T = T;
    x->C = x->s_rs = C;
    x->a_rs = T * C;
    x->a_ts = C;
    x->a = a->data;
    x->b = b->data;
    x->h0 = h0 ? h0->data : NULL;
    x->resets = (const uint8_t *)seq__arena_copy(ctx, opts->resets, (size_t)(B * T));
    x->lengths = (const int32_t *)seq__arena_copy(ctx, opts->lengths, (size_t)B * sizeof(int32_t));
    if (ctx->status != SEQ_OK) return NULL;
    memset(h->data, 0, (size_t)h->numel * sizeof(float)); /* padding past each length stays 0 */
    for (r = 0; r < B; r++) {
        const float *init = NULL;
        for (t = 0; t < seq__row_len(x->lengths, r, T); t++) {
            int64_t o = (r * T + t) * C;
            if (t == 0 || seq__xl_reset(x->resets, r, t, T)) { /* a segment starts */
                init = t == 0 && h0 && !seq__xl_reset(x->resets, r, 0, T) ? h0->data + r * C : NULL;
                for (c = 0; c < C; c++) {
                    A[c] = 0.0;
                    lse[c] = -INFINITY;
                }
            }
            for (c = 0; c < C; c++) {
                double z = (double)lb[o + c] - (A[c] += la[o + c]);
                double hi = z > lse[c] ? z : lse[c], lo = z > lse[c] ? lse[c] : z;
                lse[c] = hi + log1p(exp(lo - hi));
                h->data[o + c] = (float)(exp(A[c] + lse[c]) + (init ? exp(A[c]) * init[c] : 0.0));
            }
        }
    }
    nd = seq__record(ctx, op, h, seq__scan_backward, 3, ins);
    if (nd) nd->aux = x;
    return h;
}

/* Final state (B,H): each row's h at its last valid step; an empty row keeps h0. */
static seq_tensor *seq__minrnn_final(seq_ctx *ctx, seq_tensor *h, seq_tensor *h0, const int32_t *lengths) {
    seq_tensor *last = seq_last_step(ctx, h, lengths), *keep;
    int64_t r, j, H = h->shape[2];
    if (!last || !h0 || !lengths) return last;
    keep = seq_tensor_new(ctx, SEQ_F32, 2, h0->shape);
    if (!keep) return NULL;
    for (r = 0; r < h->shape[0]; r++)
        for (j = 0; lengths[r] == 0 && j < H; j++) keep->data[r * H + j] = 1.0f;
    return seq_add(ctx, last, seq_mul(ctx, h0, keep));
}

static seq_minrnn_config seq__minrnn_config(seq_minrnn_kind kind, int64_t input_size, int64_t hidden_size) {
    seq_minrnn_config c;
    c.kind = kind;
    c.input_size = input_size;
    c.hidden_size = hidden_size;
    c.log_space = 0;
    return c;
}
SEQDEF seq_minrnn_config seq_mingru_config_default(int64_t i, int64_t h) { return seq__minrnn_config(SEQ_MINRNN_GRU, i, h); }
SEQDEF seq_minrnn_config seq_minlstm_config_default(int64_t i, int64_t h) {
    return seq__minrnn_config(SEQ_MINRNN_LSTM, i, h);
}

SEQDEF seq_status seq_minrnn_init(seq_minrnn *l, seq_params *P, const char *prefix, seq_minrnn_config cfg) {
    int64_t I = cfg.input_size, H = cfg.hidden_size;
    int gru = cfg.kind == SEQ_MINRNN_GRU;
    seq_init u;
    seq_status st;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_minrnn_init: NULL argument");
    if ((int)cfg.kind < 0 || cfg.kind >= SEQ_MINRNN_KIND_COUNT || I <= 0 || H <= 0 ||
        (cfg.log_space != 0 && cfg.log_space != 1))
        return seq__err(SEQ_ERR_INVALID, "seq_minrnn_init: '%s': bad config (kind %d, input %lld, hidden %lld)", prefix,
                        (int)cfg.kind, (long long)I, (long long)H);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    u = seq_init_uniform(-1.0f / sqrtf((float)I), 1.0f / sqrtf((float)I));
    st = seq__xl_linear(P, prefix, gru ? "linear_z" : "linear_f", H, I, &u, &l->gate_w[0], &l->gate_b[0]);
    if (st == SEQ_OK && !gru) st = seq__xl_linear(P, prefix, "linear_i", H, I, &u, &l->gate_w[1], &l->gate_b[1]);
    return st == SEQ_OK ? seq__xl_linear(P, prefix, "linear_h", H, I, &u, &l->h_w, &l->h_b) : st;
}

SEQDEF seq_tensor *seq_minrnn_forward(seq_ctx *ctx, const seq_minrnn *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_minrnn_forward";
    seq_tensor *ins[3], *a, *b, *h, *h0 = io ? io->h0 : NULL;
    seq__minrnn_aux *g;
    seq_scan_opts opts;
    int64_t s0[2];
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->h_w || (l->cfg.log_space != 0 && l->cfg.log_space != 1)) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer or bad log_space");
        return NULL;
    }
    s0[0] = x->shape[0];
    s0[1] = l->cfg.hidden_size;
    if (!seq__xl_entry_ok(ctx, op, x, l->cfg.input_size, io, 2, s0, 0, NULL)) return NULL;
    opts.resets = io ? io->resets : NULL;
    opts.lengths = io ? io->lengths : NULL;
    ins[0] = seq_linear(ctx, x, l->gate_w[0], l->gate_b[0]);
    ins[1] = seq_linear(ctx, x, l->h_w, l->h_b);
    ins[2] = l->gate_w[1] ? seq_linear(ctx, x, l->gate_w[1], l->gate_b[1]) : NULL;
    if (ctx->status != SEQ_OK) return NULL;
    a = seq__minrnn_gates(ctx, l->cfg.kind, ins, &b, &g);
    if (!a) return NULL;
    h = l->cfg.log_space ? seq__minrnn_log_scan(ctx, a, b, g->la, g->lb, h0, &opts) : seq_linear_scan(ctx, a, b, h0, &opts);
    if (h && io) io->hn = seq__minrnn_final(ctx, h, h0, opts.lengths);
    return ctx->status == SEQ_OK ? h : NULL;
}

SEQDEF seq_status seq_minrnn_state_init(const seq_minrnn *l, seq_minrnn_state *st, int64_t batch) {
    int64_t BH;
    if (!l || !st || !l->h_w) return seq__err(SEQ_ERR_INVALID, "seq_minrnn_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    BH = batch * l->cfg.hidden_size;
    st->h = seq__xl_state_alloc("seq_minrnn_state_init", l->alloc_ud, batch, BH, 3 * BH);
    if (!st->h) return seq__errstatus;
    st->work = st->h + BH; /* the pre-activations z~ or f~, h~, i~ (B,H) each */
    st->batch = batch;
    st->alloc_ud = l->alloc_ud;
    return SEQ_OK;
}

SEQDEF void seq_minrnn_state_reset(seq_minrnn_state *st) {
    if (st) seq__xl_state_zero(st->h, st->work);
}

SEQDEF void seq_minrnn_state_free(seq_minrnn_state *st) {
    if (st) seq__xl_state_release(st->alloc_ud, st->h, st, sizeof *st);
}

SEQDEF seq_status seq_minrnn_step(const seq_minrnn *l, seq_minrnn_state *st, const float *x_t, float *y_t) {
    int64_t BH, j;
    float *p0, *ph, *pi;
    seq_status s = seq__xl_step_ok("seq_minrnn_step", l && st && st->h && l->h_w, x_t,
                                   st && l ? st->batch * l->cfg.input_size : 0, y_t);
    if (s != SEQ_OK) return s;
    BH = st->batch * l->cfg.hidden_size;
    p0 = st->work;
    ph = p0 + BH;
    pi = ph + BH;
    seq__xl_affine(l->gate_w[0], l->gate_b[0], x_t, st->batch, p0);
    seq__xl_affine(l->h_w, l->h_b, x_t, st->batch, ph);
    if (l->gate_w[1]) seq__xl_affine(l->gate_w[1], l->gate_b[1], x_t, st->batch, pi);
    for (j = 0; j < BH; j++) {
        float la, lb;
        seq__minrnn_unit(l->cfg.kind, p0[j], ph[j], l->gate_w[1] ? pi[j] : 0.0f, &la, &lb);
        st->h[j] = expf(la) * st->h[j] + expf(lb);
    }
    memcpy(y_t, st->h, (size_t)BH * sizeof(float));
    return SEQ_OK;
}

/* --- 14.4 linear attention, DeltaNet, gated DeltaNet, DeltaProduct ---------------- */

SEQDEF seq_delta_opts seq_delta_opts_default(void) {
    seq_delta_opts o;
    o.delta = 1;
    o.householder = 1;
    o.chunk = 64;
    o.recurrent = 0;
    o.scale = 0.0f;
    return o;
}

/* Sizes and options of one seq_delta_rule call. Rows of q, k (and their gradients) are
 * sk = H*DK floats apart, rows of v and y sv = H*DV, of beta and g sh = H. */
typedef struct seq__delta_cfg {
    int64_t B, T, H, n, DK, DV, chunk, sk, sv, sh;
    int delta, recurrent;
    float scale;
} seq__delta_cfg;

/* The call's sizes with options o (validated), scale resolved. */
static seq__delta_cfg seq__delta_cfg_make(int64_t B, int64_t T, int64_t H, int64_t DK, int64_t DV,
                                          const seq_delta_opts *o) {
    seq__delta_cfg c;
    c.B = B;
    c.T = T;
    c.H = H;
    c.n = o->householder;
    c.DK = DK;
    c.DV = DV;
    c.chunk = o->chunk;
    c.sk = H * DK;
    c.sv = H * DV;
    c.sh = H;
    c.delta = o->delta;
    c.recurrent = o->recurrent != 0;
    c.scale = o->scale != 0.0f ? o->scale : 1.0f / sqrtf((float)DK);
    return c;
}

/* One (row, head) from a token on: the token's rows of q, g and y, its first of n rows of
 * k, v and beta. The same view addresses the data or the gradients; beta, g and y may
 * be NULL (no beta, no decay, no output gradient). */
typedef struct seq__delta_view {
    float *q, *k, *v, *beta, *g, *y;
} seq__delta_view;

static seq__delta_view seq__delta_at(const seq__delta_cfg *c, float *q, float *k, float *v, float *beta, float *g,
                                     float *y, int64_t b, int64_t h, int64_t t) {
    seq__delta_view x;
    int64_t tq = b * c->T + t, tk = tq * c->n; /* token row, its first step row */
    x.q = q + tq * c->sk + h * c->DK;
    x.k = k + tk * c->sk + h * c->DK;
    x.v = v + tk * c->sv + h * c->DV;
    x.beta = beta ? beta + tk * c->sh + h : NULL;
    x.g = g ? g + tq * c->sh + h : NULL;
    x.y = y ? y + tq * c->sv + h * c->DV : NULL;
    return x;
}

/* The view t tokens further on. */
static seq__delta_view seq__delta_skip(const seq__delta_cfg *c, const seq__delta_view *x, int64_t t) {
    seq__delta_view s = *x;
    s.q += t * c->sk;
    s.k += t * c->n * c->sk;
    s.v += t * c->n * c->sv;
    if (s.beta) s.beta += t * c->n * c->sh;
    if (s.g) s.g += t * c->sh;
    if (s.y) s.y += t * c->sv;
    return s;
}

/* One write into S (DK,DV): S = a S, then the delta rule S += k (b (v - S^T k))^T, or
 * linear attention's S += k v^T. u: DV floats of scratch. */
static void seq__delta_write(const seq__delta_cfg *c, float *S, float a, const float *k, const float *v, float b,
                             float *u) {
    int64_t DK = c->DK, DV = c->DV, i, j;
    if (a != 1.0f)
        for (i = 0; i < DK * DV; i++) S[i] *= a;
    if (c->delta) {
        for (j = 0; j < DV; j++) u[j] = 0.0f;
        for (i = 0; i < DK; i++)
            for (j = 0; j < DV; j++) u[j] += k[i] * S[i * DV + j];
        for (j = 0; j < DV; j++) u[j] = b * (v[j] - u[j]);
    } else {
        memcpy(u, v, (size_t)DV * sizeof(float));
    }
    for (i = 0; i < DK; i++)
        for (j = 0; j < DV; j++) S[i * DV + j] += k[i] * u[j];
}

/* One token, step by step: its n writes (the decay before the first), then its output
 * y = scale S^T q. The streaming step and the recurrent form both run this. */
static void seq__delta_token(const seq__delta_cfg *c, const seq__delta_view *x, float *S, float *u) {
    int64_t s, i, j, DV = c->DV;
    for (s = 0; s < c->n; s++)
        seq__delta_write(c, S, s == 0 && x->g ? expf(*x->g) : 1.0f, x->k + s * c->sk, x->v + s * c->sv,
                         x->beta ? x->beta[s * c->sh] : 1.0f, u);
    for (j = 0; j < DV; j++) x->y[j] = 0.0f;
    for (i = 0; i < c->DK; i++)
        for (j = 0; j < DV; j++) x->y[j] += x->q[i] * S[i * DV + j];
    for (j = 0; j < DV; j++) x->y[j] *= c->scale;
}

/* Chunks of a row of len tokens: [bounds[i], bounds[i+1]) for i < the count returned, at
 * most C tokens each and never across a segment start, so each begins from one state. */
static int64_t seq__delta_chunks(const uint8_t *resets, int64_t len, int64_t C, int64_t *bounds) {
    int64_t count = 0, t = 0, end;
    while (t < len) {
        bounds[count++] = t;
        end = t + C < len ? t + C : len;
        do t++;
        while (t < end && !(resets && resets[t]));
    }
    bounds[count] = len;
    return count;
}

/* Scratch for one chunk of Cq <= chunk tokens, Cv = Cq*n steps, reused by every chunk.
 * G[i] is the log decay summed from the chunk's start through step i (e^G: gamma). */
typedef struct seq__delta_ws {
    float *G, *E, *Tm;    /* (Cv); (Cv,Cv) e^(G_i-G_j) k_i.k_j below the diagonal; (I+A)^-1 */
    float *X, *W, *Y, *U; /* (Cv,DK) diag(b gamma) K, T X; (Cv,DV) diag(b) V, pseudo-values */
    float *P, *QS;        /* (Cq,Cv) decayed causal scores; (Cq,DV) Q S0 */
    float *u, *S, *dS;    /* (Cv+3,max(DK,DV)) scratch; (DK,DV) running state, its gradient */
    float *dU, *dW, *dX, *dY, *dT, *dA, *dP, *dG, *dS0; /* backward, shaped as their forward */
    float *states;        /* backward, step by step: (Cv+1,DK,DV) S0, then the state after each step */
} seq__delta_ws;

static float *seq__delta_floats(seq_ctx *ctx, int64_t n) {
    return (float *)seq_ctx_alloc(ctx, (size_t)n * sizeof(float));
}

/* 1 when the scratch the forward (or also the backward) needs is allocated. */
static int seq__delta_ws_alloc(seq_ctx *ctx, const seq__delta_cfg *c, int backward, seq__delta_ws *w) {
    int64_t Cq = c->chunk < c->T ? c->chunk : c->T, Cv = Cq * c->n, DK = c->DK, DV = c->DV;
    memset(w, 0, sizeof *w);
    w->G = seq__delta_floats(ctx, Cv);
    w->E = seq__delta_floats(ctx, Cv * Cv);
    w->Tm = seq__delta_floats(ctx, Cv * Cv);
    w->X = seq__delta_floats(ctx, Cv * DK);
    w->W = seq__delta_floats(ctx, Cv * DK);
    w->Y = seq__delta_floats(ctx, Cv * DV);
    w->U = seq__delta_floats(ctx, Cv * DV);
    w->P = seq__delta_floats(ctx, Cq * Cv);
    w->QS = seq__delta_floats(ctx, Cq * DV);
    w->u = seq__delta_floats(ctx, (Cv + 3) * (DK > DV ? DK : DV));
    w->S = seq__delta_floats(ctx, DK * DV);
    w->dS = seq__delta_floats(ctx, DK * DV);
    if (backward) {
        w->dU = seq__delta_floats(ctx, Cv * DV);
        w->dW = seq__delta_floats(ctx, Cv * DK);
        w->dX = seq__delta_floats(ctx, Cv * DK);
        w->dY = seq__delta_floats(ctx, Cv * DV);
        w->dT = seq__delta_floats(ctx, Cv * Cv);
        w->dA = seq__delta_floats(ctx, Cv * Cv);
        w->dP = seq__delta_floats(ctx, Cq * Cv);
        w->dG = seq__delta_floats(ctx, Cv);
        w->dS0 = seq__delta_floats(ctx, DK * DV);
        if (c->recurrent) w->states = seq__delta_floats(ctx, (Cv + 1) * DK * DV);
    }
    return ctx->status == SEQ_OK;
}

/* What a chunk's forward and backward share, from its first token's view x, its Cq tokens
 * and its start state S0 (NULL: zeros). With p_r = r*n + n-1 the step after which token
 * r's query reads, and A_ij = b_i e^(G_i-G_j) k_i.k_j for j < i (0 elsewhere),
 *     U = (I + A)^-1 (diag(b) V - diag(b gamma) K S0)   (the values the delta rule writes;
 *                                                         U = V for linear attention)
 *     P_ri = e^(G_p_r - G_i) q_r.k_i for i <= p_r, else 0;   QS = Q S0. */
static void seq__delta_prep(const seq__delta_cfg *c, const seq__delta_view *x, int64_t Cq, const float *S0,
                            seq__delta_ws *w) {
    int64_t n = c->n, Cv = Cq * n, DK = c->DK, DV = c->DV, i, j, l, r;
    float acc = 0.0f;
    for (i = 0; i < Cv; i++) {
        if (x->g && i % n == 0) acc += x->g[(i / n) * c->sh];
        w->G[i] = acc;
    }
    if (c->delta) {
        seq_sgemm(0, 1, Cv, Cv, DK, 1.0f, x->k, c->sk, x->k, c->sk, 0.0f, w->E, Cv);
        for (i = 0; i < Cv; i++) {
            float b = x->beta ? x->beta[i * c->sh] : 1.0f, bg = b * expf(w->G[i]);
            float *Ei = w->E + i * Cv, *Ti = w->Tm + i * Cv;
            for (j = 0; j < i; j++) Ei[j] *= expf(w->G[i] - w->G[j]);
            for (j = i; j < Cv; j++) Ei[j] = 0.0f;
            /* (I + A) T = I row by row: T_ij = -sum_{j <= l < i} A_il T_lj */
            for (j = 0; j < i; j++) {
                float s = 0.0f;
                for (l = j; l < i; l++) s += Ei[l] * w->Tm[l * Cv + j];
                Ti[j] = -b * s;
            }
            for (j = i; j < Cv; j++) Ti[j] = j == i ? 1.0f : 0.0f;
            for (l = 0; l < DK; l++) w->X[i * DK + l] = bg * x->k[i * c->sk + l];
            for (l = 0; l < DV; l++) w->Y[i * DV + l] = b * x->v[i * c->sv + l];
        }
        seq_sgemm(0, 0, Cv, DK, Cv, 1.0f, w->Tm, Cv, w->X, DK, 0.0f, w->W, DK);
        seq_sgemm(0, 0, Cv, DV, Cv, 1.0f, w->Tm, Cv, w->Y, DV, 0.0f, w->U, DV);
        if (S0) seq_sgemm(0, 0, Cv, DV, DK, -1.0f, w->W, DK, S0, DV, 1.0f, w->U, DV);
    } else {
        for (i = 0; i < Cv; i++) memcpy(w->U + i * DV, x->v + i * c->sv, (size_t)DV * sizeof(float));
    }
    seq_sgemm(0, 1, Cq, Cv, DK, 1.0f, x->q, c->sk, x->k, c->sk, 0.0f, w->P, Cv);
    for (r = 0; r < Cq; r++) {
        int64_t p = r * n + n - 1;
        for (i = 0; i < Cv; i++) w->P[r * Cv + i] = i <= p ? w->P[r * Cv + i] * expf(w->G[p] - w->G[i]) : 0.0f;
    }
    if (S0) seq_sgemm(0, 0, Cq, DV, DK, 1.0f, x->q, c->sk, S0, DV, 0.0f, w->QS, DV);
}

/* A chunk in parallel: outputs O = scale (diag(gamma_p) Q S0 + P U) into x->y, and S
 * (holding S0 on entry; zeros when fresh) advanced to the chunk's end,
 *     S = gamma_last S0 + K^T diag(e^(G_last - G_i)) U. */
static void seq__delta_chunk(const seq__delta_cfg *c, const seq__delta_view *x, int64_t Cq, float *S, int fresh,
                             seq__delta_ws *w) {
    int64_t n = c->n, Cv = Cq * n, DK = c->DK, DV = c->DV, last = Cv - 1, i, j, r;
    const float *S0 = fresh ? NULL : S;
    seq__delta_prep(c, x, Cq, S0, w);
    seq_sgemm(0, 0, Cq, DV, Cv, c->scale, w->P, Cv, w->U, DV, 0.0f, x->y, c->sv);
    for (r = 0; S0 && r < Cq; r++) {
        float sg = c->scale * expf(w->G[r * n + n - 1]);
        for (j = 0; j < DV; j++) x->y[r * c->sv + j] += sg * w->QS[r * DV + j];
    }
    for (i = 0; i < Cv; i++) {
        float d = expf(w->G[last] - w->G[i]);
        for (j = 0; j < DV; j++) w->u[i * DV + j] = d * w->U[i * DV + j];
    }
    if (w->G[last] != 0.0f)
        for (i = 0; i < DK * DV; i++) S[i] *= expf(w->G[last]);
    seq_sgemm(1, 0, DK, DV, Cv, 1.0f, x->k, c->sk, w->u, DV, 1.0f, S, DV);
}

/* Backward of seq__delta_chunk: x the data, dx the gradients (dx->y the output gradient,
 * or NULL); dS holds the gradient of the chunk's end state on entry and of S0 on return
 * (S0 NULL: a fresh chunk, whose start state has no gradient). */
static void seq__delta_chunk_backward(const seq__delta_cfg *c, const seq__delta_view *x, const seq__delta_view *dx,
                                      int64_t Cq, const float *S0, float *dS, seq__delta_ws *w) {
    int64_t n = c->n, Cv = Cq * n, DK = c->DK, DV = c->DV, sk = c->sk, sv = c->sv, last = Cv - 1, i, j, l, r;
    const float *dO = dx->y;
    float gl, acc;
    seq__delta_prep(c, x, Cq, S0, w);
    gl = expf(w->G[last]);
    memset(w->dG, 0, (size_t)Cv * sizeof(float));
    /* the end state S = gl S0 + Kd^T U, Kd = diag(d) K, d_i = e^(G_last - G_i) */
    for (i = 0; i < Cv; i++) {
        float d = expf(w->G[last] - w->G[i]);
        for (l = 0; l < DK; l++) w->dX[i * DK + l] = d * x->k[i * sk + l]; /* Kd, for now */
    }
    if (dO) seq_sgemm(1, 0, Cv, DV, Cq, c->scale, w->P, Cv, dO, sv, 0.0f, w->dU, DV);
    else memset(w->dU, 0, (size_t)(Cv * DV) * sizeof(float));
    seq_sgemm(0, 0, Cv, DV, DK, 1.0f, w->dX, DK, dS, DV, 1.0f, w->dU, DV); /* dU = scale P^T dO + Kd dS */
    seq_sgemm(0, 1, Cv, DK, DV, 1.0f, w->U, DV, dS, DV, 0.0f, w->u, DK);   /* u_i = dS U_i */
    for (i = 0; i < Cv; i++) {
        float d = expf(w->G[last] - w->G[i]), e = 0.0f;
        for (l = 0; l < DK; l++) {
            e += x->k[i * sk + l] * w->u[i * DK + l];
            dx->k[i * sk + l] += d * w->u[i * DK + l];
        }
        w->dG[last] += d * e;
        w->dG[i] -= d * e;
    }
    if (S0) {
        double s = 0.0;
        for (i = 0; i < DK * DV; i++) s += (double)dS[i] * S0[i];
        w->dG[last] += gl * (float)s;
        for (i = 0; i < DK * DV; i++) w->dS0[i] = gl * dS[i];
        if (c->delta) seq_sgemm(1, 0, DK, DV, Cv, -1.0f, w->W, DK, w->dU, DV, 1.0f, w->dS0, DV);
    }
    /* the outputs O = scale (diag(gamma_p) Q S0 + P U) */
    if (dO) {
        seq_sgemm(0, 1, Cq, Cv, DV, c->scale, dO, sv, w->U, DV, 0.0f, w->dP, Cv);
        for (r = 0; r < Cq; r++) {
            int64_t p = r * n + n - 1;
            for (i = 0; i <= p; i++) {
                float e = w->dP[r * Cv + i] * w->P[r * Cv + i];
                w->dG[p] += e;
                w->dG[i] -= e;
                w->dP[r * Cv + i] *= expf(w->G[p] - w->G[i]);
            }
            for (; i < Cv; i++) w->dP[r * Cv + i] = 0.0f;
        }
        seq_sgemm(0, 0, Cq, DK, Cv, 1.0f, w->dP, Cv, x->k, sk, 1.0f, dx->q, sk);
        seq_sgemm(1, 0, Cv, DK, Cq, 1.0f, w->dP, Cv, x->q, sk, 1.0f, dx->k, sk);
        if (S0) {
            seq_sgemm(0, 1, Cq, DK, DV, 1.0f, dO, sv, S0, DV, 0.0f, w->u, DK); /* dO S0^T */
            for (r = 0; r < Cq; r++) {
                int64_t p = r * n + n - 1;
                float sg = c->scale * expf(w->G[p]), e = 0.0f;
                for (l = 0; l < DK; l++) {
                    dx->q[r * sk + l] += sg * w->u[r * DK + l];
                    w->u[r * DK + l] = sg * x->q[r * sk + l]; /* row r of diag(scale gamma_p) Q */
                }
                for (j = 0; j < DV; j++) e += dO[r * sv + j] * w->QS[r * DV + j];
                w->dG[p] += sg * e;
            }
            seq_sgemm(1, 0, DK, DV, Cq, 1.0f, w->u, DK, dO, sv, 1.0f, w->dS0, DV);
        }
    }
    if (c->delta) {
        /* U = T Y - W S0, W = T X, T = (I + A)^-1: dT = dW X^T + dU Y^T, dA = -T^T dT T^T */
        if (S0) seq_sgemm(0, 1, Cv, DK, DV, -1.0f, w->dU, DV, S0, DV, 0.0f, w->dW, DK);
        else memset(w->dW, 0, (size_t)(Cv * DK) * sizeof(float));
        seq_sgemm(1, 0, Cv, DK, Cv, 1.0f, w->Tm, Cv, w->dW, DK, 0.0f, w->dX, DK);
        seq_sgemm(1, 0, Cv, DV, Cv, 1.0f, w->Tm, Cv, w->dU, DV, 0.0f, w->dY, DV);
        seq_sgemm(0, 1, Cv, Cv, DK, 1.0f, w->dW, DK, w->X, DK, 0.0f, w->dT, Cv);
        seq_sgemm(0, 1, Cv, Cv, DV, 1.0f, w->dU, DV, w->Y, DV, 1.0f, w->dT, Cv);
        seq_sgemm(1, 0, Cv, Cv, Cv, 1.0f, w->Tm, Cv, w->dT, Cv, 0.0f, w->dA, Cv);
        seq_sgemm(0, 1, Cv, Cv, Cv, -1.0f, w->dA, Cv, w->Tm, Cv, 0.0f, w->dT, Cv);
        /* A_ij = b_i E_ij below the diagonal; dT now holds dA, and becomes d(k_i.k_j) */
        for (i = 0; i < Cv; i++) {
            float b = x->beta ? x->beta[i * c->sh] : 1.0f, db = 0.0f;
            for (j = 0; j < i; j++) {
                float dA = w->dT[i * Cv + j], e = dA * b * w->E[i * Cv + j];
                db += dA * w->E[i * Cv + j];
                w->dG[i] += e;
                w->dG[j] -= e;
                w->dT[i * Cv + j] = dA * b * expf(w->G[i] - w->G[j]);
            }
            for (; j < Cv; j++) w->dT[i * Cv + j] = 0.0f;
            if (dx->beta) dx->beta[i * c->sh] += db;
        }
        seq_sgemm(0, 0, Cv, DK, Cv, 1.0f, w->dT, Cv, x->k, sk, 1.0f, dx->k, sk);
        seq_sgemm(1, 0, Cv, DK, Cv, 1.0f, w->dT, Cv, x->k, sk, 1.0f, dx->k, sk);
        /* X = diag(b gamma) K, Y = diag(b) V */
        for (i = 0; i < Cv; i++) {
            float b = x->beta ? x->beta[i * c->sh] : 1.0f, gm = expf(w->G[i]), sx = 0.0f, sy = 0.0f;
            for (l = 0; l < DK; l++) {
                sx += w->dX[i * DK + l] * x->k[i * sk + l];
                dx->k[i * sk + l] += b * gm * w->dX[i * DK + l];
            }
            for (j = 0; j < DV; j++) {
                sy += w->dY[i * DV + j] * x->v[i * sv + j];
                dx->v[i * sv + j] += b * w->dY[i * DV + j];
            }
            w->dG[i] += b * gm * sx;
            if (dx->beta) dx->beta[i * c->sh] += gm * sx + sy;
        }
    } else {
        for (i = 0; i < Cv; i++)
            for (j = 0; j < DV; j++) dx->v[i * sv + j] += w->dU[i * DV + j];
    }
    /* G_i sums the gates up to step i, and token t's gate sits at step t*n */
    for (acc = 0.0f, i = last; i >= 0; i--) {
        acc += w->dG[i];
        if (dx->g && i % n == 0) dx->g[(i / n) * c->sh] += acc;
    }
    if (S0) memcpy(dS, w->dS0, (size_t)(DK * DV) * sizeof(float));
}

/* A chunk step by step. */
static void seq__delta_chunk_steps(const seq__delta_cfg *c, const seq__delta_view *x, int64_t Cq, float *S,
                                   seq__delta_ws *w) {
    int64_t t;
    for (t = 0; t < Cq; t++) {
        seq__delta_view xt = seq__delta_skip(c, x, t);
        seq__delta_token(c, &xt, S, w->u);
    }
}

/* Backward of seq__delta_chunk_steps (BPTT), arguments as seq__delta_chunk_backward: the
 * states before each step are recomputed from S0, then the steps are walked back. */
static void seq__delta_chunk_steps_backward(const seq__delta_cfg *c, const seq__delta_view *x,
                                            const seq__delta_view *dx, int64_t Cq, const float *S0, float *dS,
                                            seq__delta_ws *w) {
    int64_t n = c->n, Cv = Cq * n, DK = c->DK, DV = c->DV, DD = DK * DV, sk = c->sk, sv = c->sv, i, j, l;
    float *r = w->u, *du = w->u + DV, *dw = w->u + 2 * DV;
    if (S0) memcpy(w->states, S0, (size_t)DD * sizeof(float));
    else memset(w->states, 0, (size_t)DD * sizeof(float));
    for (i = 0; i < Cv; i++) {
        float a = i % n == 0 && x->g ? expf(x->g[(i / n) * c->sh]) : 1.0f;
        memcpy(w->states + (i + 1) * DD, w->states + i * DD, (size_t)DD * sizeof(float));
        seq__delta_write(c, w->states + (i + 1) * DD, a, x->k + i * sk, x->v + i * sv,
                         x->beta ? x->beta[i * c->sh] : 1.0f, r);
    }
    for (i = Cv - 1; i >= 0; i--) {
        int64_t t = i / n;
        const float *Sb = w->states + i * DD, *k = x->k + i * sk, *v = x->v + i * sv;
        float a = i % n == 0 && x->g ? expf(x->g[t * c->sh]) : 1.0f, b = x->beta ? x->beta[i * c->sh] : 1.0f;
        float *dk = dx->k + i * sk, *dv = dx->v + i * sv;
        if (i % n == n - 1 && dx->y) { /* y_t = scale S^T q_t, S the state after this step */
            const float *dO = dx->y + t * sv, *q = x->q + t * sk, *Sa = w->states + (i + 1) * DD;
            for (l = 0; l < DK; l++)
                for (j = 0; j < DV; j++) {
                    dS[l * DV + j] += c->scale * q[l] * dO[j];
                    dx->q[t * sk + l] += c->scale * Sa[l * DV + j] * dO[j];
                }
        }
        if (c->delta) { /* S = Sd + k u^T, u = b r, r = v - Sd^T k, Sd = a Sb */
            for (j = 0; j < DV; j++) r[j] = du[j] = 0.0f;
            for (l = 0; l < DK; l++)
                for (j = 0; j < DV; j++) {
                    r[j] += k[l] * Sb[l * DV + j];
                    du[j] += k[l] * dS[l * DV + j];
                }
            for (j = 0; j < DV; j++) {
                r[j] = v[j] - a * r[j];
                dv[j] += b * du[j];
                dw[j] = -b * du[j];
            }
            for (l = 0; l < DK; l++) {
                float s = 0.0f;
                for (j = 0; j < DV; j++) s += dS[l * DV + j] * b * r[j] + a * Sb[l * DV + j] * dw[j];
                dk[l] += s;
            }
            if (dx->beta) {
                float s = 0.0f;
                for (j = 0; j < DV; j++) s += du[j] * r[j];
                dx->beta[i * c->sh] += s;
            }
            for (l = 0; l < DK; l++)
                for (j = 0; j < DV; j++) dS[l * DV + j] += k[l] * dw[j];
        } else { /* S = Sd + k v^T */
            for (l = 0; l < DK; l++)
                for (j = 0; j < DV; j++) {
                    dk[l] += dS[l * DV + j] * v[j];
                    dv[j] += dS[l * DV + j] * k[l];
                }
        }
        if (i % n == 0 && x->g) { /* Sd = a Sb */
            double s = 0.0;
            for (l = 0; l < DD; l++) s += (double)dS[l] * Sb[l];
            if (dx->g) dx->g[t * c->sh] += a * (float)s;
            for (l = 0; l < DD; l++) dS[l] *= a;
        }
    }
}

typedef struct seq__delta_aux {
    seq__delta_cfg c;
    seq_tensor *g, *h0;
    const int32_t *lengths;
    const uint8_t *resets;
    int64_t *first; /* (B+1): row b's chunks are first[b] .. first[b+1]-1 */
    float *S0s;     /* (chunks,H,DK,DV) the state each chunk starts from */
    int64_t *bounds; /* (T+1) scratch for seq__delta_chunks */
} seq__delta_aux;

/* Whether chunk [t0, ..) of row b starts from zeros instead of the state carried in. */
static int seq__delta_fresh(const seq__delta_aux *a, int64_t b, int64_t t0) {
    return (a->resets && a->resets[b * a->c.T + t0]) || (t0 == 0 && !a->h0);
}

static void seq__delta_backward(seq_ctx *ctx, seq__node *nd) {
    seq__delta_aux *a = (seq__delta_aux *)nd->aux;
    const seq__delta_cfg *c = &a->c;
    seq_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *beta = nd->in[3], *hn = nd->extra_out[0];
    seq_tensor *ts[5];
    float *gr[5], *gh0 = seq__grad(ctx, a->h0);
    int64_t DD = c->DK * c->DV, b, h, ci, i;
    seq__delta_ws w;
    ts[0] = q;
    ts[1] = k;
    ts[2] = v;
    ts[3] = beta;
    ts[4] = a->g;
    /* every gradient is computed; those nobody wants land in scratch */
    for (i = 0; i < 5; i++) {
        gr[i] = seq__grad(ctx, ts[i]);
        if (ts[i] && !gr[i]) gr[i] = (float *)seq__calloc(ctx, (size_t)ts[i]->numel * sizeof(float));
        if (ts[i] && !gr[i]) return;
    }
    if (!seq__delta_ws_alloc(ctx, c, 1, &w)) return;
    for (b = 0; b < c->B; b++) {
        int64_t nc = seq__delta_chunks(a->resets ? a->resets + b * c->T : NULL, seq__row_len(a->lengths, b, c->T),
                                       c->chunk, a->bounds);
        for (h = 0; h < c->H; h++) {
            if (hn->grad) memcpy(w.dS, hn->grad + (b * c->H + h) * DD, (size_t)DD * sizeof(float));
            else memset(w.dS, 0, (size_t)DD * sizeof(float));
            for (ci = nc - 1; ci >= 0; ci--) {
                int64_t t0 = a->bounds[ci], Cq = a->bounds[ci + 1] - t0;
                int fresh = seq__delta_fresh(a, b, t0);
                const float *S0 = fresh ? NULL : a->S0s + ((a->first[b] + ci) * c->H + h) * DD;
                seq__delta_view x = seq__delta_at(c, q->data, k->data, v->data, beta ? beta->data : NULL,
                                                  a->g ? a->g->data : NULL, NULL, b, h, t0);
                seq__delta_view dx = seq__delta_at(c, gr[0], gr[1], gr[2], gr[3], gr[4], nd->out->grad, b, h, t0);
                if (c->recurrent) seq__delta_chunk_steps_backward(c, &x, &dx, Cq, S0, w.dS, &w);
                else seq__delta_chunk_backward(c, &x, &dx, Cq, S0, w.dS, &w);
                if (fresh) memset(w.dS, 0, (size_t)DD * sizeof(float));
            }
            if (gh0)
                for (i = 0; i < DD; i++) gh0[(b * c->H + h) * DD + i] += w.dS[i];
        }
    }
}

/* t is f32 with these ndim sizes. */
static int seq__delta_is(const seq_tensor *t, int ndim, const int64_t *dims) {
    int i;
    if (t->dtype != SEQ_F32 || t->ndim != ndim) return 0;
    for (i = 0; i < ndim; i++)
        if (t->shape[i] != dims[i]) return 0;
    return 1;
}

SEQDEF seq_tensor *seq_delta_rule(seq_ctx *ctx, seq_tensor *q, seq_tensor *k, seq_tensor *v, seq_tensor *beta,
                                  seq_tensor *g, const seq_delta_opts *opts, seq_rnn_io *io) {
    static const char op[] = "seq_delta_rule";
    static const char *const names[6] = {"q", "k", "v", "beta", "g", "h0"};
    seq_delta_opts o = opts ? *opts : seq_delta_opts_default();
    seq_tensor *ins[6], *y, *hn;
    seq__delta_aux *a;
    seq__delta_cfg *c;
    seq__delta_ws w;
    seq__node *nd;
    int64_t shape[4], DD, b, h, ci, i;
    int fits;
    ins[0] = q;
    ins[1] = k;
    ins[2] = v;
    ins[3] = beta;
    ins[4] = g;
    ins[5] = io ? io->h0 : NULL;
    if (!seq__ok(ctx, op, 3, ins)) return NULL;
    if (!(o.delta == 0 || o.delta == 1) || o.householder < 1 || o.chunk < 1 || !isfinite(o.scale) ||
        (!o.delta && beta) || (io && io->c0)) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op,
                      "needs delta 0 or 1, householder >= 1, chunk >= 1, a finite scale, no beta for linear "
                      "attention and no c0");
        return NULL;
    }
    fits = q->dtype == SEQ_F32 && q->ndim == 4 && v->ndim == 4 && q->shape[0] >= 1 && q->shape[1] >= 1 &&
           q->shape[2] >= 1 && q->shape[3] >= 1 && v->shape[3] >= 1 && o.householder <= INT32_MAX / q->shape[1];
    if (fits) {
        int64_t B = q->shape[0], T = q->shape[1], H = q->shape[2], DK = q->shape[3], DV = v->shape[3];
        int64_t Tn = T * o.householder;
        int64_t sk[4] = {B, Tn, H, DK}, sv[4] = {B, Tn, H, DV}, sb[3] = {B, Tn, H}, sg[3] = {B, T, H};
        int64_t s0[4] = {B, H, DK, DV};
        fits = seq__delta_is(k, 4, sk) && seq__delta_is(v, 4, sv) && (!beta || seq__delta_is(beta, 3, sb)) &&
               (!g || seq__delta_is(g, 3, sg)) && (!ins[5] || seq__delta_is(ins[5], 4, s0));
    }
    if (!fits) {
        seq__shape_fail(ctx, op, "q (B,T,H,K), k (B,T*n,H,K), v (B,T*n,H,V), beta (B,T*n,H), g (B,T,H), h0 (B,H,K,V)",
                        6, names, ins);
        return NULL;
    }
    for (i = 0; i < 6; i++)
        if (ins[i] && !seq__finite_ok(ctx, op, names[i], ins[i]->data, ins[i]->numel)) return NULL;
    a = (seq__delta_aux *)seq__calloc(ctx, sizeof(seq__delta_aux));
    if (!a) return NULL;
    c = &a->c;
    *c = seq__delta_cfg_make(q->shape[0], q->shape[1], q->shape[2], q->shape[3], v->shape[3], &o);
    DD = c->DK * c->DV;
    if (!seq__lengths_ok(ctx, op, io ? io->lengths : NULL, c->B, c->T)) return NULL;
    a->g = g;
    a->h0 = ins[5];
    a->lengths = io ? (const int32_t *)seq__arena_copy(ctx, io->lengths, (size_t)c->B * sizeof(int32_t)) : NULL;
    a->resets = io ? (const uint8_t *)seq__arena_copy(ctx, io->resets, (size_t)(c->B * c->T)) : NULL;
    a->first = (int64_t *)seq_ctx_alloc(ctx, (size_t)(c->B + 1) * sizeof(int64_t));
    a->bounds = (int64_t *)seq_ctx_alloc(ctx, (size_t)(c->T + 1) * sizeof(int64_t));
    if (ctx->status != SEQ_OK || !seq__delta_ws_alloc(ctx, c, 0, &w)) return NULL;
    for (a->first[0] = 0, b = 0; b < c->B; b++)
        a->first[b + 1] = a->first[b] + seq__delta_chunks(a->resets ? a->resets + b * c->T : NULL,
                                                          seq__row_len(a->lengths, b, c->T), c->chunk, a->bounds);
    shape[0] = c->B;
    shape[1] = c->T;
    shape[2] = c->H;
    shape[3] = c->DV;
    y = seq__out(ctx, op, 4, shape, 6, ins);
    shape[1] = c->H;
    shape[2] = c->DK;
    hn = seq_tensor_new(ctx, SEQ_F32, 4, shape);
    a->S0s = (float *)seq_ctx_alloc(ctx, (size_t)(a->first[c->B] * c->H * DD) * sizeof(float));
    if (!y || !hn || !a->S0s) return NULL;
    memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* padding past a length stays 0 */
    for (b = 0; b < c->B; b++) {
        int64_t nc = seq__delta_chunks(a->resets ? a->resets + b * c->T : NULL, seq__row_len(a->lengths, b, c->T),
                                       c->chunk, a->bounds);
        for (h = 0; h < c->H; h++) {
            if (a->h0) memcpy(w.S, a->h0->data + (b * c->H + h) * DD, (size_t)DD * sizeof(float));
            else memset(w.S, 0, (size_t)DD * sizeof(float));
            for (ci = 0; ci < nc; ci++) {
                int64_t t0 = a->bounds[ci];
                int fresh = seq__delta_fresh(a, b, t0);
                seq__delta_view x = seq__delta_at(c, q->data, k->data, v->data, beta ? beta->data : NULL,
                                                  g ? g->data : NULL, y->data, b, h, t0);
                if (fresh) memset(w.S, 0, (size_t)DD * sizeof(float));
                memcpy(a->S0s + ((a->first[b] + ci) * c->H + h) * DD, w.S, (size_t)DD * sizeof(float));
                if (c->recurrent) seq__delta_chunk_steps(c, &x, a->bounds[ci + 1] - t0, w.S, &w);
                else seq__delta_chunk(c, &x, a->bounds[ci + 1] - t0, w.S, fresh, &w);
            }
            memcpy(hn->data + (b * c->H + h) * DD, w.S, (size_t)DD * sizeof(float));
        }
    }
    hn->requires_grad = y->requires_grad;
    nd = seq__record(ctx, op, y, seq__delta_backward, 4, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = hn;
    }
    if (io) io->hn = hn;
    return y;
}

/* ---- the blocks around the core ------------------------------------------------------- */

#define SEQ__L2NORM_EPS 1e-6f /* fla's l2norm: x / sqrt(sum x^2 + 1e-6) */

/* One row of D as seq_layernorm (center) or seq_rmsnorm computes it, for the streaming
 * steps: out = (x - mean) / sqrt(var + eps) * w + b, w and b optional; out may be x. */
static void seq__norm_row(const float *x, int64_t D, int center, const float *w, const float *b, float eps,
                          float *out) {
    double mean = center ? seq__sum_f64(x, D, 0.0, 0) / (double)D : 0.0;
    float rstd = (float)(1.0 / sqrt(seq__sum_f64(x, D, mean, 1) / (double)D + eps));
    int64_t j;
    for (j = 0; j < D; j++) {
        float xh = (x[j] - (float)mean) * rstd;
        out[j] = (w ? xh * w[j] : xh) + (b ? b[j] : 0.0f);
    }
}

/* x (...,D) -> x / sqrt(|x|^2 + 1e-6) per row: RMSNorm, whose root holds |x|^2/D + eps/D,
 * times 1/sqrt(D). seq__l2norm_rows does the same in place on rows of D floats. */
static seq_tensor *seq__l2norm(seq_ctx *ctx, seq_tensor *x) {
    float D;
    if (!x) return NULL;
    D = (float)x->shape[x->ndim - 1];
    return seq_scale(ctx, seq_rmsnorm(ctx, x, NULL, SEQ__L2NORM_EPS / D), 1.0f / sqrtf(D));
}

static void seq__l2norm_rows(float *x, int64_t rows, int64_t D) {
    int64_t r, j;
    for (r = 0; r < rows; r++, x += D) {
        seq__norm_row(x, D, 0, NULL, NULL, SEQ__L2NORM_EPS / (float)D, x);
        for (j = 0; j < D; j++) x[j] *= 1.0f / sqrtf((float)D);
    }
}

/* x (B,T',H*D) seen as (B,T',H,D), the heads apart. */
static seq_tensor *seq__heads(seq_ctx *ctx, seq_tensor *x, int64_t B, int64_t T, int64_t H, int64_t D) {
    int64_t shape[4];
    shape[0] = B;
    shape[1] = T;
    shape[2] = H;
    shape[3] = D;
    return seq_reshape(ctx, x, 4, shape);
}

/* Taps k0..K-1 of a depthwise causal convolution of C channels with w (C,K):
 * pre[c] = sum_k w[c,k] row_k[c], where tap k0's row is first and rows are ld apart. */
static void seq__conv_taps(const float *w, int64_t K, int64_t C, int64_t ld, int64_t k0, const float *first,
                           float *pre) {
    int64_t k, c;
    for (c = 0; c < C; c++) pre[c] = 0.0f;
    for (k = k0; k < K; k++, first += ld)
        for (c = 0; c < C; c++) pre[c] += w[c * K + k] * first[c];
}

/* Tap k of position t reads t-(K-1)+k: the first tap inside t's segment, which began at s. */
static int64_t seq__conv_k0(int64_t K, int64_t t, int64_t s) { return t - s >= K - 1 ? 0 : K - 1 - (t - s); }

typedef struct seq__short_conv_aux {
    float *pre; /* (B,T,C) the convolution before SiLU */
    const uint8_t *resets;
} seq__short_conv_aux;

/* d pre = dy silu'(pre); then every tap: dx[src] += d pre w, dw += d pre x[src]. */
static void seq__short_conv_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *w = n->in[1];
    const seq__short_conv_aux *a = (const seq__short_conv_aux *)n->aux;
    float *gx = seq__grad(ctx, x), *gw = seq__grad(ctx, w);
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], K = w->shape[2], b, t, s, k, c;
    for (b = 0; b < B; b++)
        for (s = 0, t = 0; t < T; t++) {
            int64_t o = (b * T + t) * C;
            if (a->resets && a->resets[b * T + t]) s = t;
            for (k = seq__conv_k0(K, t, s); k < K; k++) {
                int64_t src = o + (k - (K - 1)) * C;
                for (c = 0; c < C; c++) {
                    float d = n->out->grad[o + c] * seq__silu_grad(a->pre[o + c]);
                    if (gx) gx[src + c] += d * w->data[c * K + k];
                    if (gw) gw[c * K + k] += d * x->data[src + c];
                }
            }
        }
}

/* fla's ShortConvolution, restarting at segment starts: x (B,T,C), w (C,1,K) -> (B,T,C),
 * y[b,t,c] = silu(sum_k w[c,k] x[b,t-(K-1)+k,c]) over the taps inside t's segment. Its
 * window is state as much as S is, so a reset drops both (seq_conv1d_causal cannot). */
static seq_tensor *seq__short_conv(seq_ctx *ctx, seq_tensor *x, seq_tensor *w, const uint8_t *resets) {
    static const char op[] = "seq_deltanet_forward (short conv)";
    seq_tensor *ins[2], *y;
    seq__short_conv_aux *a;
    seq__node *n;
    int64_t B, T, C, K, b, t, s, i;
    ins[0] = x;
    ins[1] = w;
    if (!seq__ok_f32(ctx, op, 2, ins)) return NULL;
    B = x->shape[0];
    T = x->shape[1];
    C = x->shape[2];
    K = w->shape[2];
    y = seq__out(ctx, op, 3, x->shape, 2, ins);
    a = (seq__short_conv_aux *)seq_ctx_alloc(ctx, sizeof *a);
    if (!y || !a) return NULL;
    a->pre = (float *)seq_ctx_alloc(ctx, (size_t)y->numel * sizeof(float));
    a->resets = (const uint8_t *)seq__arena_copy(ctx, resets, (size_t)(B * T));
    if (ctx->status != SEQ_OK) return NULL;
    for (b = 0; b < B; b++)
        for (s = 0, t = 0; t < T; t++) {
            int64_t o = (b * T + t) * C, k0;
            if (resets && resets[b * T + t]) s = t;
            k0 = seq__conv_k0(K, t, s);
            seq__conv_taps(w->data, K, C, C, k0, x->data + o + (k0 - (K - 1)) * C, a->pre + o);
        }
    for (i = 0; i < y->numel; i++) y->data[i] = a->pre[i] * seq__sigmoidf(a->pre[i]);
    n = seq__record(ctx, op, y, seq__short_conv_backward, 2, ins);
    if (n) n->aux = a;
    return y;
}

/* Registers "<prefix>.<name>" of ndim <= 3 sizes d0, d1, d2 in P. */
static seq_tensor *seq__delta_param(seq_params *P, const char *prefix, const char *name, int ndim, int64_t d0,
                                    int64_t d1, int64_t d2, seq_init init) {
    char full[256];
    int64_t shape[3];
    shape[0] = d0;
    shape[1] = d1;
    shape[2] = d2;
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return seq_params_add(P, full, ndim, shape, init);
}

/* A Linear weight (out,in) initialized as PyTorch's: U(-1/sqrt(in), 1/sqrt(in)). */
static seq_tensor *seq__delta_linear(seq_params *P, const char *prefix, const char *name, int64_t out, int64_t in) {
    float bound = 1.0f / sqrtf((float)in);
    return seq__delta_param(P, prefix, name, 2, out, in, 0, seq_init_uniform(-bound, bound));
}

/* What every block here registers: q_proj (H*DK,C), k_proj (n*H*DK,C), v_proj (n*H*DV,C)
 * and o_proj (C,H*DV), into w[0..3]; 0 when one fails (seq_last_error says why). */
static int seq__delta_qkvo(seq_params *P, const char *prefix, int64_t C, int64_t H, int64_t DK, int64_t DV, int64_t n,
                           seq_tensor **w) {
    w[0] = seq__delta_linear(P, prefix, "q_proj.weight", H * DK, C);
    w[1] = seq__delta_linear(P, prefix, "k_proj.weight", n * H * DK, C);
    w[2] = seq__delta_linear(P, prefix, "v_proj.weight", n * H * DV, C);
    w[3] = seq__delta_linear(P, prefix, "o_proj.weight", C, H * DV);
    return w[0] && w[1] && w[2] && w[3];
}

/* A layer is ready once initialized (its q_proj registered) and its parameters allocated. */
static int seq__delta_ready(const seq_tensor *q_proj) { return q_proj && q_proj->data; }

/* 1 when the layer is ready (initialized, its parameters allocated) and x is a finite f32
 * (B>=1,T>=1,C); otherwise the ctx error is set. */
static int seq__delta_layer_x(seq_ctx *ctx, const char *op, int layer_ready, seq_tensor *x, int64_t C) {
    if (!seq__ok(ctx, op, 1, &x)) return 0;
    if (!layer_ready) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer or unallocated parameters");
        return 0;
    }
    if (x->dtype != SEQ_F32 || x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] != C) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)C);
        return 0;
    }
    return seq__finite_ok(ctx, op, "x", x->data, x->numel);
}

/* An optional initial state t of a layer: NULL, or f32 with these ndim sizes. */
static int seq__delta_state_ok(seq_ctx *ctx, const char *op, const char *what, const seq_tensor *t, int ndim,
                               const int64_t *dims) {
    if (!t || seq__delta_is(t, ndim, dims)) return 1;
    seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "%s must be (%lld,%lld,%lld%s", what, (long long)dims[0],
                  (long long)dims[1], (long long)dims[2], ndim == 4 ? ",DV)" : ")");
    return 0;
}

/* --- streaming states ----------------------------------------------------------------- */

/* One allocation: nS floats of memory, nconv of convolution window, nwork of scratch. */
static seq_status seq__delta_state_init(seq_delta_state *st, void *alloc_ud, const char *fn, int64_t batch, int64_t nS,
                                        int64_t nconv, int64_t nwork) {
    memset(st, 0, sizeof *st);
    if (batch < 1) return seq__err(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
    st->alloc_ud = alloc_ud;
    st->S = (float *)SEQ_MALLOC(alloc_ud, (size_t)(nS + nconv + nwork) * sizeof(float));
    if (!st->S) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    st->conv = nconv ? st->S + nS : NULL;
    st->work = st->S + nS + nconv;
    st->nstate = nS + nconv;
    st->batch = batch;
    memset(st->S, 0, (size_t)st->nstate * sizeof(float));
    return SEQ_OK;
}

static void seq__delta_state_reset(seq_delta_state *st) {
    if (st && st->S) memset(st->S, 0, (size_t)st->nstate * sizeof(float));
}

static void seq__delta_state_free(seq_delta_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->S);
    memset(st, 0, sizeof *st);
}

/* The checks every step makes: arguments present, the layer ready, x_t (B,C) finite. */
static seq_status seq__delta_step_ok(const char *fn, int ready, const seq_delta_state *st, const float *x_t,
                                     const float *y_t, int64_t C) {
    int64_t i;
    if (!ready || !st || !st->S || !x_t || !y_t)
        return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state, or the layer is not ready", fn);
    for (i = 0; i < st->batch * C; i++)
        if (!isfinite(x_t[i])) return seq__err(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", fn, (long long)i);
    return SEQ_OK;
}

/* The core on one token of every (row, head), for the steps: q, k, v, beta and g laid out
 * as a T = 1 call of seq_delta_rule (beta, g may be NULL), y (B,H*DV) out, S (B,H,DK,DV)
 * advanced; u: DV floats of scratch. */
static void seq__delta_step_heads(const seq_delta_opts *o, int64_t B, int64_t H, int64_t DK, int64_t DV, float *q,
                                  float *k, float *v, float *beta, float *g, float *y, float *S, float *u) {
    seq__delta_cfg c = seq__delta_cfg_make(B, 1, H, DK, DV, o);
    int64_t r, h;
    for (r = 0; r < B; r++)
        for (h = 0; h < H; h++) {
            seq__delta_view x = seq__delta_at(&c, q, k, v, beta, g, y, r, h, 0);
            seq__delta_token(&c, &x, S + (r * H + h) * DK * DV, u);
        }
}

/* --- DeltaNet, gated DeltaNet, DeltaProduct ---------------------------------------------- */

SEQDEF seq_deltanet_config seq_deltanet_config_default(int64_t hidden_size, int64_t num_heads) {
    seq_deltanet_config c;
    memset(&c, 0, sizeof c);
    c.hidden_size = hidden_size;
    c.num_heads = num_heads;
    c.head_k_dim = c.head_v_dim = num_heads > 0 ? hidden_size / num_heads : 0;
    c.num_householder = 1;
    c.use_short_conv = 1;
    c.conv_size = 4;
    c.norm_eps = 1e-5f;
    c.chunk_size = 64;
    return c;
}

SEQDEF seq_deltanet_config seq_gated_deltanet_config_default(int64_t hidden_size, int64_t num_heads) {
    seq_deltanet_config c = seq_deltanet_config_default(hidden_size, num_heads);
    c.head_v_dim = 2 * c.head_k_dim;
    c.use_forget_gate = 1;
    c.use_output_gate = 1;
    return c;
}

SEQDEF seq_deltanet_config seq_deltaproduct_config_default(int64_t hidden_size, int64_t num_heads,
                                                           int64_t num_householder) {
    seq_deltanet_config c = seq_gated_deltanet_config_default(hidden_size, num_heads);
    c.num_householder = num_householder;
    c.allow_neg_eigval = 1;
    return c;
}

SEQDEF seq_status seq_deltanet_init(seq_deltanet *l, seq_params *P, const char *prefix, seq_deltanet_config cfg) {
    int64_t C = cfg.hidden_size, H = cfg.num_heads, DK = cfg.head_k_dim, DV = cfg.head_v_dim, n = cfg.num_householder;
    int64_t K = cfg.conv_size;
    float kb = 1.0f / sqrtf((float)K);
    seq_tensor *w[4];
    int ok;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_deltanet_init: NULL argument");
    if (C < 1 || H < 1 || DK < 1 || DV < 1 || n < 1 || (cfg.use_short_conv && K < 1) || cfg.chunk_size < 1 ||
        !(cfg.norm_eps >= 0.0f && isfinite(cfg.norm_eps)))
        return seq__err(SEQ_ERR_INVALID,
                        "seq_deltanet_init: '%s': bad config (hidden %lld, heads %lld, head dims %lld/%lld, "
                        "householder %lld, conv %lld, chunk %lld)",
                        prefix, (long long)C, (long long)H, (long long)DK, (long long)DV, (long long)n, (long long)K,
                        (long long)cfg.chunk_size);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    ok = seq__delta_qkvo(P, prefix, C, H, DK, DV, n, w);
    l->q_proj = w[0];
    l->k_proj = w[1];
    l->v_proj = w[2];
    l->o_proj = w[3];
    l->b_proj = seq__delta_linear(P, prefix, "b_proj.weight", n * H, C);
    if (cfg.use_forget_gate) {
        l->a_proj = seq__delta_linear(P, prefix, "a_proj.weight", H, C);
        l->A_log = seq__delta_param(P, prefix, "A_log", 1, H, 0, 0, seq_init_uniform(0.0f, logf(16.0f)));
        l->dt_bias = seq__delta_param(P, prefix, "dt_bias", 1, H, 0, 0, seq_init_uniform(-6.907255f, -2.252168f));
    }
    if (cfg.use_short_conv) {
        l->q_conv = seq__delta_param(P, prefix, "q_conv1d.weight", 3, H * DK, 1, K, seq_init_uniform(-kb, kb));
        l->k_conv = seq__delta_param(P, prefix, "k_conv1d.weight", 3, n * H * DK, 1, K, seq_init_uniform(-kb, kb));
        l->v_conv = seq__delta_param(P, prefix, "v_conv1d.weight", 3, n * H * DV, 1, K, seq_init_uniform(-kb, kb));
    }
    if (cfg.use_output_gate) l->g_proj = seq__delta_linear(P, prefix, "g_proj.weight", H * DV, C);
    l->o_norm = seq__delta_param(P, prefix, "o_norm.weight", 1, DV, 0, 0, seq_init_constant(1.0f));
    if (!ok || !l->b_proj || !l->o_norm ||
        (cfg.use_forget_gate && (!l->a_proj || !l->A_log || !l->dt_bias)) ||
        (cfg.use_short_conv && (!l->q_conv || !l->k_conv || !l->v_conv)) || (cfg.use_output_gate && !l->g_proj))
        return seq__errstatus;
    return SEQ_OK;
}

static seq_delta_opts seq__deltanet_opts(const seq_deltanet_config *f) {
    seq_delta_opts o = seq_delta_opts_default();
    o.householder = f->num_householder;
    o.chunk = f->chunk_size;
    o.recurrent = f->recurrent;
    return o;
}

/* silu(conv(x W^T)), or silu(x W^T) without the short convolution: (B,T,C) -> (B,T,rows of W) */
static seq_tensor *seq__deltanet_in(seq_ctx *ctx, seq_tensor *x, seq_tensor *W, seq_tensor *conv,
                                    const uint8_t *resets) {
    seq_tensor *p = seq_linear(ctx, x, W, NULL);
    return conv ? seq__short_conv(ctx, p, conv, resets) : seq_silu(ctx, p);
}

SEQDEF seq_tensor *seq_deltanet_forward(seq_ctx *ctx, const seq_deltanet *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_deltanet_forward";
    const seq_deltanet_config *f;
    seq_delta_opts opts;
    seq_rnn_io core;
    seq_tensor *q, *k, *v, *beta, *g = NULL, *o, *y;
    const uint8_t *resets = io ? io->resets : NULL;
    int64_t B, T, H, DK, DV, n, s0[4], sb[3], sy[3];
    if (!seq__delta_layer_x(ctx, op, l && seq__delta_ready(l->q_proj), x, l ? l->cfg.hidden_size : 0)) return NULL;
    f = &l->cfg;
    B = x->shape[0];
    T = x->shape[1];
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    n = f->num_householder;
    s0[0] = B;
    s0[1] = H;
    s0[2] = DK;
    s0[3] = DV;
    if (!seq__delta_state_ok(ctx, op, "h0", io ? io->h0 : NULL, 4, s0)) return NULL;
    if (io && io->c0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "DeltaNet has one state: c0 must be NULL");
        return NULL;
    }
    q = seq__l2norm(ctx, seq__heads(ctx, seq__deltanet_in(ctx, x, l->q_proj, l->q_conv, resets), B, T, H, DK));
    k = seq__l2norm(ctx, seq__heads(ctx, seq__deltanet_in(ctx, x, l->k_proj, l->k_conv, resets), B, T * n, H, DK));
    v = seq__heads(ctx, seq__deltanet_in(ctx, x, l->v_proj, l->v_conv, resets), B, T * n, H, DV);
    beta = seq_sigmoid(ctx, seq_linear(ctx, x, l->b_proj, NULL));
    if (f->allow_neg_eigval) beta = seq_scale(ctx, beta, 2.0f);
    sb[0] = B;
    sb[1] = T * n;
    sb[2] = H;
    beta = seq_reshape(ctx, beta, 3, sb); /* (B,T,n*H) is (B,T*n,H): the steps of a token in a row */
    if (f->use_forget_gate) /* g = -exp(A_log) softplus(x Wa^T + dt_bias) */
        g = seq_mul(ctx, seq_softplus(ctx, seq_linear(ctx, x, l->a_proj, l->dt_bias)),
                    seq_scale(ctx, seq_exp(ctx, l->A_log), -1.0f));
    opts = seq__deltanet_opts(f);
    if (io) core = *io;
    else memset(&core, 0, sizeof core);
    o = seq_rmsnorm(ctx, seq_delta_rule(ctx, q, k, v, beta, g, &opts, &core), l->o_norm, f->norm_eps);
    if (f->use_output_gate)
        o = seq_mul(ctx, o, seq_silu(ctx, seq__heads(ctx, seq_linear(ctx, x, l->g_proj, NULL), B, T, H, DV)));
    sy[0] = B;
    sy[1] = T;
    sy[2] = H * DV;
    y = seq_linear(ctx, seq_reshape(ctx, o, 3, sy), l->o_proj, NULL);
    if (y && io) io->hn = core.hn;
    return y;
}

/* Streaming: S (B,H,DK,DV); the window conv (B,K,Cin) holds the last K projections
 * q|k|v of each row (K = 1 without the short convolution), the newest last. */
SEQDEF seq_status seq_deltanet_state_init(const seq_deltanet *l, seq_deltanet_state *st, int64_t batch) {
    const seq_deltanet_config *f;
    int64_t H, DK, DV, n, K, Cin;
    if (!l || !st || !l->q_proj)
        return seq__err(SEQ_ERR_INVALID, "seq_deltanet_state_init: NULL or uninitialized layer");
    f = &l->cfg;
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    n = f->num_householder;
    K = f->use_short_conv ? f->conv_size : 1;
    Cin = H * DK + n * H * (DK + DV);
    /* work: q|k|v after the convolution, beta, g, gate, o, and the core's DV of scratch */
    return seq__delta_state_init(st, l->alloc_ud, "seq_deltanet_state_init", batch, batch * H * DK * DV,
                                 batch * K * Cin, batch * (Cin + n * H + H + 2 * H * DV) + DV);
}

SEQDEF void seq_deltanet_state_reset(seq_deltanet_state *st) { seq__delta_state_reset(st); }
SEQDEF void seq_deltanet_state_free(seq_deltanet_state *st) { seq__delta_state_free(st); }

/* Channels [col, col+Cx) of the window (B,K,Cin) through the short convolution w (or just
 * the newest row when w is NULL), then SiLU: out (B,Cx). */
static void seq__conv_step(const seq_tensor *w, const float *win, int64_t B, int64_t K, int64_t Cin, int64_t col,
                           int64_t Cx, float *out) {
    int64_t r, i;
    for (r = 0; r < B; r++, out += Cx) {
        const float *rows = win + r * K * Cin + col;
        if (w) seq__conv_taps(w->data, K, Cx, Cin, 0, rows, out);
        else memcpy(out, rows + (K - 1) * Cin, (size_t)Cx * sizeof(float));
        for (i = 0; i < Cx; i++) out[i] *= seq__sigmoidf(out[i]);
    }
}

SEQDEF seq_status seq_deltanet_step(const seq_deltanet *l, seq_deltanet_state *st, const float *x_t, float *y_t) {
    const seq_deltanet_config *f = l ? &l->cfg : NULL;
    seq_status s =
        seq__delta_step_ok("seq_deltanet_step", l && seq__delta_ready(l->q_proj), st, x_t, y_t, f ? f->hidden_size : 0);
    seq_delta_opts opts;
    int64_t B, C, H, DK, DV, n, K, Cq, Ck, Cv, Cin, HV, r, i;
    float *q, *k, *v, *beta, *g, *gate, *o, *u, *last;
    if (s != SEQ_OK) return s;
    B = st->batch;
    C = f->hidden_size;
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    n = f->num_householder;
    K = f->use_short_conv ? f->conv_size : 1;
    Cq = H * DK;
    Ck = n * Cq;
    Cv = n * H * DV;
    Cin = Cq + Ck + Cv;
    HV = H * DV;
    q = st->work;
    k = q + B * Cq;
    v = k + B * Ck;
    beta = v + B * Cv;
    g = beta + B * n * H;
    gate = g + B * H;
    o = gate + B * HV;
    u = o + B * HV;
    /* the window moves on by one token; this token's projections become its newest row */
    for (r = 0; r < B; r++)
        memmove(st->conv + r * K * Cin, st->conv + r * K * Cin + Cin, (size_t)((K - 1) * Cin) * sizeof(float));
    last = st->conv + (K - 1) * Cin;
    seq_sgemm(0, 1, B, Cq, C, 1.0f, x_t, C, l->q_proj->data, C, 0.0f, last, K * Cin);
    seq_sgemm(0, 1, B, Ck, C, 1.0f, x_t, C, l->k_proj->data, C, 0.0f, last + Cq, K * Cin);
    seq_sgemm(0, 1, B, Cv, C, 1.0f, x_t, C, l->v_proj->data, C, 0.0f, last + Cq + Ck, K * Cin);
    seq__conv_step(l->q_conv, st->conv, B, K, Cin, 0, Cq, q);
    seq__conv_step(l->k_conv, st->conv, B, K, Cin, Cq, Ck, k);
    seq__conv_step(l->v_conv, st->conv, B, K, Cin, Cq + Ck, Cv, v);
    seq__l2norm_rows(q, B * H, DK);
    seq__l2norm_rows(k, B * n * H, DK);
    seq_sgemm(0, 1, B, n * H, C, 1.0f, x_t, C, l->b_proj->data, C, 0.0f, beta, n * H);
    for (i = 0; i < B * n * H; i++)
        beta[i] = f->allow_neg_eigval ? seq__sigmoidf(beta[i]) * 2.0f : seq__sigmoidf(beta[i]);
    if (f->use_forget_gate) {
        for (i = 0; i < B * H; i++) g[i] = l->dt_bias->data[i % H];
        seq_sgemm(0, 1, B, H, C, 1.0f, x_t, C, l->a_proj->data, C, 1.0f, g, H);
        for (i = 0; i < B * H; i++) g[i] = seq__softplusf(g[i]) * (expf(l->A_log->data[i % H]) * -1.0f);
    }
    opts = seq__deltanet_opts(f);
    seq__delta_step_heads(&opts, B, H, DK, DV, q, k, v, beta, f->use_forget_gate ? g : NULL, o, st->S, u);
    for (i = 0; i < B * H; i++) seq__norm_row(o + i * DV, DV, 0, l->o_norm->data, NULL, f->norm_eps, o + i * DV);
    if (f->use_output_gate) {
        seq_sgemm(0, 1, B, HV, C, 1.0f, x_t, C, l->g_proj->data, C, 0.0f, gate, HV);
        for (i = 0; i < B * HV; i++) o[i] *= gate[i] * seq__sigmoidf(gate[i]);
    }
    seq_sgemm(0, 1, B, C, HV, 1.0f, o, HV, l->o_proj->data, HV, 0.0f, y_t, C);
    return SEQ_OK;
}

/* --- linear attention ---------------------------------------------------------------------- */

SEQDEF seq_linear_attn_config seq_linear_attn_config_default(int64_t hidden_size, int64_t num_heads) {
    seq_linear_attn_config c;
    memset(&c, 0, sizeof c);
    c.hidden_size = hidden_size;
    c.num_heads = num_heads;
    c.head_k_dim = c.head_v_dim = num_heads > 0 ? hidden_size / num_heads : 0;
    c.feature_map = SEQ_FEATURE_MAP_ELU1;
    c.normalize = 1;
    c.eps = 1e-5f;
    c.chunk_size = 64;
    return c;
}

SEQDEF seq_linear_attn_config seq_rebased_config_default(int64_t hidden_size, int64_t num_heads) {
    seq_linear_attn_config c = seq_linear_attn_config_default(hidden_size, num_heads);
    c.feature_map = SEQ_FEATURE_MAP_REBASED;
    c.head_k_dim = 16;
    return c;
}

/* Features per head: DK, or DK^2 for REBASED. */
static int64_t seq__la_features(const seq_linear_attn_config *f) {
    return f->feature_map == SEQ_FEATURE_MAP_REBASED ? f->head_k_dim * f->head_k_dim : f->head_k_dim;
}

SEQDEF seq_status seq_linear_attn_init(seq_linear_attn *l, seq_params *P, const char *prefix,
                                       seq_linear_attn_config cfg) {
    int64_t C = cfg.hidden_size, H = cfg.num_heads, DK = cfg.head_k_dim, DV = cfg.head_v_dim;
    int rebased = cfg.feature_map == SEQ_FEATURE_MAP_REBASED, ok;
    seq_tensor *w[4];
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_linear_attn_init: NULL argument");
    if (C < 1 || H < 1 || DK < 1 || DV < 1 || (int)cfg.feature_map < 0 || cfg.feature_map >= SEQ_FEATURE_MAP_COUNT ||
        cfg.chunk_size < 1 || !(cfg.eps >= 0.0f && isfinite(cfg.eps)))
        return seq__err(SEQ_ERR_INVALID,
                        "seq_linear_attn_init: '%s': bad config (hidden %lld, heads %lld, head dims %lld/%lld, "
                        "feature map %d, chunk %lld)",
                        prefix, (long long)C, (long long)H, (long long)DK, (long long)DV, (int)cfg.feature_map,
                        (long long)cfg.chunk_size);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    ok = seq__delta_qkvo(P, prefix, C, H, DK, DV, 1, w);
    l->q_proj = w[0];
    l->k_proj = w[1];
    l->v_proj = w[2];
    l->o_proj = w[3];
    if (rebased) {
        l->fm_gamma = seq__delta_param(P, prefix, "feature_map.gamma", 1, DK, 0, 0, seq_init_constant(1.0f));
        l->fm_beta = seq__delta_param(P, prefix, "feature_map.beta", 1, DK, 0, 0, seq_init_zeros());
    }
    if (cfg.output_norm) l->norm = seq__delta_param(P, prefix, "norm.weight", 1, DV, 0, 0, seq_init_constant(1.0f));
    if (!ok || (rebased && (!l->fm_gamma || !l->fm_beta)) || (cfg.output_norm && !l->norm))
        return seq__errstatus;
    return SEQ_OK;
}

/* x (B,T,H,DK) -> phi(x) (B,T,H,F) */
static seq_tensor *seq__feature_map(seq_ctx *ctx, const seq_linear_attn *l, seq_tensor *x) {
    seq_tensor *r, *z;
    int64_t D = l->cfg.head_k_dim, col[3], row[3];
    if (!x) return NULL;
    switch (l->cfg.feature_map) {
    case SEQ_FEATURE_MAP_ELU1: /* relu(x) + e^(x - relu(x)): x + 1 above 0, e^x below */
        r = seq_relu(ctx, x);
        return seq_add(ctx, r, seq_exp(ctx, seq_sub(ctx, x, r)));
    case SEQ_FEATURE_MAP_REBASED: /* the outer product z z^T of every head vector */
        z = seq_layernorm(ctx, x, l->fm_gamma, l->fm_beta, l->cfg.eps);
        col[0] = row[0] = x->numel / D;
        col[1] = row[2] = D;
        col[2] = row[1] = 1;
        return seq__heads(ctx, seq_matmul(ctx, seq_reshape(ctx, z, 3, col), seq_reshape(ctx, z, 3, row), 0, 0),
                          x->shape[0], x->shape[1], x->shape[2], D * D);
    default: return x;
    }
}

/* The same for one head vector x (DK) -> f (F); z: DK floats of scratch. */
static void seq__feature_map_row(const seq_linear_attn *l, const float *x, float *f, float *z) {
    int64_t D = l->cfg.head_k_dim, i, j;
    switch (l->cfg.feature_map) {
    case SEQ_FEATURE_MAP_ELU1:
        for (i = 0; i < D; i++) f[i] = x[i] > 0.0f ? x[i] + 1.0f : expf(x[i]);
        break;
    case SEQ_FEATURE_MAP_REBASED:
        seq__norm_row(x, D, 1, l->fm_gamma->data, l->fm_beta->data, l->cfg.eps, z);
        for (i = 0; i < D; i++)
            for (j = 0; j < D; j++) f[i * D + j] = z[i] * z[j];
        break;
    default: memcpy(f, x, (size_t)D * sizeof(float)); break;
    }
}

/* o (...,DV+1) -> y (...,DV), y = o[:DV] / (o[DV] + eps): o[DV] is the attention of a
 * value column of ones, scale q.(k_1 + ... + k_t), so y is Katharopoulos' normalized
 * output. dy: do[j] += dy[j]/den, do[DV] -= sum_j dy[j] y[j] / den. */
static void seq__la_normalize_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *o = n->in[0], *y = n->out;
    float *go = seq__grad(ctx, o), eps = n->f[0];
    int64_t DV = y->shape[y->ndim - 1], rows = y->numel / DV, r, j;
    if (!go) return;
    for (r = 0; r < rows; r++) {
        const float *orow = o->data + r * (DV + 1), *yr = y->data + r * DV, *gy = y->grad + r * DV;
        float den = orow[DV] + eps, s = 0.0f;
        for (j = 0; j < DV; j++) {
            go[r * (DV + 1) + j] += gy[j] / den;
            s += gy[j] * yr[j];
        }
        go[r * (DV + 1) + DV] -= s / den;
    }
}

static seq_tensor *seq__la_normalize(seq_ctx *ctx, seq_tensor *o, float eps) {
    static const char op[] = "seq_linear_attn_forward (normalize)";
    seq_tensor *y;
    seq__node *n;
    int64_t shape[4], DV, rows, r, j;
    if (!seq__ok_f32(ctx, op, 1, &o)) return NULL;
    memcpy(shape, o->shape, sizeof shape);
    DV = --shape[o->ndim - 1];
    y = seq__out(ctx, op, o->ndim, shape, 1, &o);
    if (!y) return NULL;
    rows = y->numel / DV;
    for (r = 0; r < rows; r++)
        for (j = 0; j < DV; j++) y->data[r * DV + j] = o->data[r * (DV + 1) + j] / (o->data[r * (DV + 1) + DV] + eps);
    n = seq__record(ctx, op, y, seq__la_normalize_backward, 1, &o);
    if (n) n->f[0] = eps;
    return y;
}

/* A new (d0,d1,d2,d3) tensor with every element v. */
static seq_tensor *seq__delta_filled(seq_ctx *ctx, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float v) {
    int64_t shape[4], i;
    seq_tensor *t;
    shape[0] = d0;
    shape[1] = d1;
    shape[2] = d2;
    shape[3] = d3;
    t = seq_tensor_new(ctx, SEQ_F32, 4, shape);
    for (i = 0; t && i < t->numel; i++) t->data[i] = v;
    return t;
}

static seq_delta_opts seq__la_opts(const seq_linear_attn_config *f) {
    seq_delta_opts o = seq_delta_opts_default();
    o.delta = 0;
    o.chunk = f->chunk_size;
    o.recurrent = f->recurrent;
    return o;
}

SEQDEF seq_tensor *seq_linear_attn_forward(seq_ctx *ctx, const seq_linear_attn *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_linear_attn_forward";
    const seq_linear_attn_config *f;
    seq_delta_opts opts;
    seq_rnn_io core;
    seq_tensor *q, *k, *v, *o, *y, *pair[2], *h0 = io ? io->h0 : NULL, *c0 = io ? io->c0 : NULL;
    int64_t B, T, H, DK, DV, F, s0[4], sy[3];
    if (!seq__delta_layer_x(ctx, op, l && seq__delta_ready(l->q_proj), x, l ? l->cfg.hidden_size : 0)) return NULL;
    f = &l->cfg;
    B = x->shape[0];
    T = x->shape[1];
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    F = seq__la_features(f);
    s0[0] = B;
    s0[1] = H;
    s0[2] = F;
    s0[3] = DV;
    if (!seq__delta_state_ok(ctx, op, "h0", h0, 4, s0) || !seq__delta_state_ok(ctx, op, "c0", c0, 3, s0)) return NULL;
    if (c0 && !f->normalize) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "c0 (the key sum) needs normalize");
        return NULL;
    }
    q = seq__feature_map(ctx, l, seq__heads(ctx, seq_linear(ctx, x, l->q_proj, NULL), B, T, H, DK));
    k = seq__feature_map(ctx, l, seq__heads(ctx, seq_linear(ctx, x, l->k_proj, NULL), B, T, H, DK));
    v = seq__heads(ctx, seq_linear(ctx, x, l->v_proj, NULL), B, T, H, DV);
    if (io) core = *io;
    else memset(&core, 0, sizeof core);
    core.c0 = NULL;
    if (f->normalize) { /* a value column of ones makes the key sum the state's last column */
        pair[0] = v;
        pair[1] = seq__delta_filled(ctx, B, T, H, 1, 1.0f);
        v = seq_concat(ctx, pair, 2, 3);
        if (h0 || c0) {
            pair[0] = h0 ? h0 : seq__delta_filled(ctx, B, H, F, DV, 0.0f);
            s0[3] = 1;
            pair[1] = c0 ? seq_reshape(ctx, c0, 4, s0) : seq__delta_filled(ctx, B, H, F, 1, 0.0f);
            core.h0 = seq_concat(ctx, pair, 2, 3);
        }
    }
    opts = seq__la_opts(f);
    o = seq_delta_rule(ctx, q, k, v, NULL, NULL, &opts, &core);
    if (f->normalize) o = seq__la_normalize(ctx, o, f->eps);
    if (f->output_norm) o = seq_rmsnorm(ctx, o, l->norm, f->eps);
    sy[0] = B;
    sy[1] = T;
    sy[2] = H * DV;
    y = seq_linear(ctx, seq_reshape(ctx, o, 3, sy), l->o_proj, NULL);
    if (!y || !io) return y;
    if (f->normalize) { /* hn is the memory's first DV columns, cn the key-sum column */
        io->hn = seq_slice(ctx, core.hn, 3, 0, DV);
        io->cn = seq_reshape(ctx, seq_slice(ctx, core.hn, 3, DV, DV + 1), 3, s0);
        if (!io->hn || !io->cn) return NULL;
    } else {
        io->hn = core.hn;
    }
    return y;
}

/* Streaming: S (B,H,F,DV'), DV' = DV+1 with normalize (the last column the key sum). */
SEQDEF seq_status seq_linear_attn_state_init(const seq_linear_attn *l, seq_linear_attn_state *st, int64_t batch) {
    const seq_linear_attn_config *f;
    int64_t H, DK, DV, DVa, F;
    if (!l || !st || !l->q_proj)
        return seq__err(SEQ_ERR_INVALID, "seq_linear_attn_state_init: NULL or uninitialized layer");
    f = &l->cfg;
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    DVa = DV + (f->normalize != 0);
    F = seq__la_features(f);
    /* work: q and k projections, their features, v and v', o' and o, DK and DV' of scratch */
    return seq__delta_state_init(st, l->alloc_ud, "seq_linear_attn_state_init", batch, batch * H * F * DVa, 0,
                                 batch * H * (2 * DK + 2 * F + 2 * DV + 2 * DVa) + DK + DVa);
}

SEQDEF void seq_linear_attn_state_reset(seq_linear_attn_state *st) { seq__delta_state_reset(st); }
SEQDEF void seq_linear_attn_state_free(seq_linear_attn_state *st) { seq__delta_state_free(st); }

SEQDEF seq_status seq_linear_attn_step(const seq_linear_attn *l, seq_linear_attn_state *st, const float *x_t,
                                       float *y_t) {
    const seq_linear_attn_config *f = l ? &l->cfg : NULL;
    seq_status s = seq__delta_step_ok("seq_linear_attn_step", l && seq__delta_ready(l->q_proj), st, x_t, y_t,
                                      f ? f->hidden_size : 0);
    seq_delta_opts opts;
    int64_t B, C, H, DK, DV, DVa, F, HV, r, j;
    float *qp, *kp, *qf, *kf, *vp, *va, *oa, *o, *z, *u;
    if (s != SEQ_OK) return s;
    B = st->batch;
    C = f->hidden_size;
    H = f->num_heads;
    DK = f->head_k_dim;
    DV = f->head_v_dim;
    DVa = DV + (f->normalize != 0);
    F = seq__la_features(f);
    HV = H * DV;
    qp = st->work;
    kp = qp + B * H * DK;
    qf = kp + B * H * DK;
    kf = qf + B * H * F;
    vp = kf + B * H * F;
    va = vp + B * HV;
    oa = va + B * H * DVa;
    o = oa + B * H * DVa;
    z = o + B * HV;
    u = z + DK;
    seq_sgemm(0, 1, B, H * DK, C, 1.0f, x_t, C, l->q_proj->data, C, 0.0f, qp, H * DK);
    seq_sgemm(0, 1, B, H * DK, C, 1.0f, x_t, C, l->k_proj->data, C, 0.0f, kp, H * DK);
    seq_sgemm(0, 1, B, HV, C, 1.0f, x_t, C, l->v_proj->data, C, 0.0f, vp, HV);
    for (r = 0; r < B * H; r++) {
        seq__feature_map_row(l, qp + r * DK, qf + r * F, z);
        seq__feature_map_row(l, kp + r * DK, kf + r * F, z);
        memcpy(va + r * DVa, vp + r * DV, (size_t)DV * sizeof(float));
        if (f->normalize) va[r * DVa + DV] = 1.0f;
    }
    opts = seq__la_opts(f);
    seq__delta_step_heads(&opts, B, H, F, DVa, qf, kf, va, NULL, NULL, oa, st->S, u);
    for (r = 0; r < B * H; r++) {
        for (j = 0; j < DV; j++)
            o[r * DV + j] = f->normalize ? oa[r * DVa + j] / (oa[r * DVa + DV] + f->eps) : oa[r * DVa + j];
        if (f->output_norm) seq__norm_row(o + r * DV, DV, 0, l->norm->data, NULL, f->eps, o + r * DV);
    }
    seq_sgemm(0, 1, B, C, HV, 1.0f, o, HV, l->o_proj->data, HV, 0.0f, y_t, C);
    return SEQ_OK;
}

/* --- 14.5 S4D, LSSL / S4 (HiPPO-LegS), H3 ----------------------------------------- */

/* FFT: iterative radix-2 over interleaved complex doubles (re, im, re, im, ...), sizes
 * powers of two. Double precision keeps a long convolution as close to the recurrence it
 * replaces as float rounding allows. */

/* w[k] = exp(-2 pi i k / n) for k < n/2: the twiddles of every power-of-two transform up
 * to size n (one of size m takes every (n/m)-th). */
static void seq__fft_twiddles(double *w, int64_t n) {
    double step = -2.0 * acos(-1.0) / (double)n;
    int64_t k;
    for (k = 0; k < n / 2; k++) {
        w[2 * k] = cos(step * (double)k);
        w[2 * k + 1] = sin(step * (double)k);
    }
}

/* In-place DFT of m complex values, m a power of two dividing n and w the twiddles of n:
 * Z_k = sum_j z_j exp(-2 pi i jk/m), or exp(+2 pi i jk/m) (unnormalized) when inverse. */
static void seq__fft(double *z, int64_t m, const double *w, int64_t n, int inverse) {
    int64_t i, j, k, len, bit;
    for (i = 1, j = 0; i < m; i++) { /* bit-reversed order lets the butterflies work in place */
        for (bit = m >> 1; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
    for (len = 2; len <= m; len <<= 1)
        for (i = 0; i < m; i += len)
            for (k = 0; k < len / 2; k++) {
                const double *tw = w + 2 * (k * (n / len));
                double wr = tw[0], wi = inverse ? -tw[1] : tw[1];
                double *a = z + 2 * (i + k), *b = a + len; /* the partner len/2 values on */
                double tr = b[0] * wr - b[1] * wi, ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
}

/* Real DFT in place: buf (n+2 doubles, n >= 2 a power of two, w the twiddles of n) holds
 * n reals and ends holding X_0..X_{n/2}, the half of the spectrum a real signal has.
 * The reals are read as n/2 complex z_j = x_2j + i x_2j+1, transformed at half size and
 * split: X_k = E_k + w^k O_k with E_k = (Z_k + conj Z_{n/2-k}) / 2 (the even samples'
 * spectrum) and O_k = (Z_k - conj Z_{n/2-k}) / 2i (the odd ones'). */
static void seq__fft_real(double *buf, int64_t n, const double *w) {
    int64_t h = n / 2, k;
    double r0, i0;
    seq__fft(buf, h, w, n, 0);
    r0 = buf[0];
    i0 = buf[1];
    buf[0] = r0 + i0;
    buf[1] = 0.0;
    buf[n] = r0 - i0;
    buf[n + 1] = 0.0;
    for (k = 1; k <= h / 2; k++) { /* bins k and h-k from Z_k and Z_{h-k} */
        double *a = buf + 2 * k, *b = buf + 2 * (h - k);
        double er = 0.5 * (a[0] + b[0]), ei = 0.5 * (a[1] - b[1]);
        double orr = 0.5 * (a[1] + b[1]), oi = -0.5 * (a[0] - b[0]);
        double tr = w[2 * k] * orr - w[2 * k + 1] * oi, ti = w[2 * k] * oi + w[2 * k + 1] * orr;
        a[0] = er + tr;
        a[1] = ei + ti;
        b[0] = er - tr; /* X_{h-k} = conj(E_k - w^k O_k) */
        b[1] = ti - ei;
    }
}

/* Inverse of seq__fft_real, normalized: buf holds X_0..X_{n/2} and ends holding the n
 * reals. The imaginary parts of X_0 and X_{n/2} (zero for a real signal) are ignored. */
static void seq__fft_real_inverse(double *buf, int64_t n, const double *w) {
    int64_t h = n / 2, k;
    double x0 = buf[0], xh = buf[n], scale = 1.0 / (double)h;
    buf[0] = 0.5 * (x0 + xh);
    buf[1] = 0.5 * (x0 - xh);
    for (k = 1; k <= h / 2; k++) { /* Z_k = E_k + i O_k, undoing the split above */
        double *a = buf + 2 * k, *b = buf + 2 * (h - k);
        double er = 0.5 * (a[0] + b[0]), ei = 0.5 * (a[1] - b[1]);
        double fr = 0.5 * (a[0] - b[0]), fi = 0.5 * (a[1] + b[1]);
        double orr = w[2 * k] * fr + w[2 * k + 1] * fi, oi = w[2 * k] * fi - w[2 * k + 1] * fr;
        a[0] = er - oi;
        a[1] = ei + orr;
        b[0] = er + oi; /* Z_{h-k} = conj(E_k) + i conj(O_k) */
        b[1] = orr - ei;
    }
    seq__fft(buf, h, w, n, 1);
    for (k = 0; k < n; k++) buf[k] *= scale;
}

/* Transform size for a causal convolution of T samples: a power of two >= 2T, so the
 * circular wrap-around lands beyond the T outputs kept. */
static int64_t seq__fft_size(int64_t T) {
    int64_t n = 2;
    while (n < 2 * T) n <<= 1;
    return n;
}

/* Spectrum (n/2+1 bins into buf, n+2 doubles) of len floats at src, src + stride, ...,
 * zero-padded to n. */
static void seq__fft_load(double *buf, const float *src, int64_t stride, int64_t len, int64_t n, const double *w) {
    int64_t t;
    for (t = 0; t < len; t++) buf[t] = src[t * stride];
    for (; t < n + 2; t++) buf[t] = 0.0;
    seq__fft_real(buf, n, w);
}

/* out = a * b, or a * conj(b), bin by bin over n/2+1 bins (out may alias a). */
static void seq__fft_mul(double *out, const double *a, const double *b, int64_t n, int conj_b) {
    int64_t k;
    for (k = 0; k <= n / 2; k++) {
        double br = b[2 * k], bi = conj_b ? -b[2 * k + 1] : b[2 * k + 1], ar = a[2 * k], ai = a[2 * k + 1];
        out[2 * k] = ar * br - ai * bi;
        out[2 * k + 1] = ar * bi + ai * br;
    }
}

/* Complex doubles for the S4D algebra (no <complex.h>: the header also compiles as C++). */
typedef struct seq__cplx {
    double re, im;
} seq__cplx;
static seq__cplx seq__c(double re, double im) {
    seq__cplx z;
    z.re = re;
    z.im = im;
    return z;
}
static seq__cplx seq__cmul(seq__cplx a, seq__cplx b) {
    return seq__c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
static seq__cplx seq__cdiv(seq__cplx a, seq__cplx b) {
    double d = b.re * b.re + b.im * b.im;
    return seq__c((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
static seq__cplx seq__cadd(seq__cplx a, seq__cplx b) { return seq__c(a.re + b.re, a.im + b.im); }
static seq__cplx seq__cconj(seq__cplx a) { return seq__c(a.re, -a.im); }
/* Re(conj(g) z): the change of the loss along z when g is its gradient (d/d re + i d/d im). */
static double seq__cdot(seq__cplx g, seq__cplx z) { return g.re * z.re + g.im * z.im; }

/* The weights of one S4-family layer, as its forward sees them: H systems of N state
 * floats, each driving G channels (c / G is channel c's system; G > 1 in H3).
 * dense: LSSL (log_A_real, A_imag NULL); else S4D, N/2 complex states. */
typedef struct seq__s4_ssm {
    int dense;
    int64_t H, N, G;
    seq_tensor *log_dt, *C, *D, *log_A_real, *A_imag;
} seq__s4_ssm;

/* The discretized systems, real throughout: S4D's complex pairs are (re, im) floats, so
 * Abar is a 2x2 rotation-scaling block per pair and C s is the real dot product with
 * c = (2 Re C, -2 Im C), which is 2 Re(C s).
 *     A: (H,N,N) lower triangular (dense) or (H,N) pairs (ar, ai);  B, c: (H,N);  D: (H). */
typedef struct seq__s4_sys {
    int dense;
    int64_t H, N, G;
    float *A, *B, *c, *D;
} seq__s4_sys;

/* Gradients with respect to a seq__s4_sys, accumulated in double, laid out as it. */
typedef struct seq__s4_grads {
    double *A, *B, *c, *D;
} seq__s4_grads;

static int64_t seq__s4_asize(int dense, int64_t N) { return dense ? N * N : N; }
static int64_t seq__s4_sys_floats(int dense, int64_t H, int64_t N) { return H * (seq__s4_asize(dense, N) + 2 * N + 1); }

/* Points m's arrays into mem (seq__s4_sys_floats floats). */
static void seq__s4_sys_bind(seq__s4_sys *m, int dense, int64_t H, int64_t N, int64_t G, float *mem) {
    m->dense = dense;
    m->H = H;
    m->N = N;
    m->G = G;
    m->A = mem;
    m->B = mem + H * seq__s4_asize(dense, N);
    m->c = m->B + H * N;
    m->D = m->c + H * N;
}

/* s = Abar_h s, in place. */
static void seq__s4_apply(const seq__s4_sys *m, int64_t h, float *s) {
    int64_t N = m->N, i, k;
    if (m->dense) {
        const float *A = m->A + h * N * N;
        for (i = N - 1; i >= 0; i--) { /* row i reads s[0..i], none of it written yet */
            float acc = 0.0f;
            for (k = 0; k <= i; k++) acc += A[i * N + k] * s[k];
            s[i] = acc;
        }
    } else {
        const float *A = m->A + h * N;
        for (i = 0; i < N; i += 2) {
            float re = A[i] * s[i] - A[i + 1] * s[i + 1];
            s[i + 1] = A[i] * s[i + 1] + A[i + 1] * s[i];
            s[i] = re;
        }
    }
}

/* g = Abar_h^T g, in place (S4D: g times conj(Abar)). */
static void seq__s4_apply_t(const seq__s4_sys *m, int64_t h, float *g) {
    int64_t N = m->N, i, k;
    if (m->dense) {
        const float *A = m->A + h * N * N;
        for (k = 0; k < N; k++) { /* column k reads g[k..N), none of it written yet */
            float acc = 0.0f;
            for (i = k; i < N; i++) acc += A[i * N + k] * g[i];
            g[k] = acc;
        }
    } else {
        const float *A = m->A + h * N;
        for (i = 0; i < N; i += 2) {
            float re = A[i] * g[i] + A[i + 1] * g[i + 1];
            g[i + 1] = A[i] * g[i + 1] - A[i + 1] * g[i];
            g[i] = re;
        }
    }
}

/* gA_h += g s^T over Abar's free entries: the lower triangle, or per pair g conj(s). */
static void seq__s4_outer(const seq__s4_sys *m, int64_t h, const float *g, const float *s, double *gA) {
    int64_t N = m->N, i, k;
    gA += h * seq__s4_asize(m->dense, N);
    if (m->dense) {
        for (i = 0; i < N; i++)
            for (k = 0; k <= i; k++) gA[i * N + k] += (double)g[i] * s[k];
    } else {
        for (i = 0; i < N; i += 2) {
            gA[i] += (double)g[i] * s[i] + (double)g[i + 1] * s[i + 1];
            gA[i + 1] += (double)g[i + 1] * s[i] - (double)g[i] * s[i + 1];
        }
    }
}

/* One step of a channel of system h: s = Abar s + Bbar x (s in place); returns c.s + D x. */
static float seq__s4_step1(const seq__s4_sys *m, int64_t h, float *s, float x) {
    const float *Bb = m->B + h * m->N, *c = m->c + h * m->N;
    float y = m->D[h] * x;
    int64_t i;
    seq__s4_apply(m, h, s);
    for (i = 0; i < m->N; i++) {
        s[i] += Bb[i] * x;
        y += c[i] * s[i];
    }
    return y;
}

/* --- discretization: weights -> (Abar, Bbar, c, D), and the gradient back ----------- */

/* S4D's zero-order hold for one state: A = -exp(log_A_real) + i A_imag,
 * Abar = exp(dt A), Bbar = (Abar - 1) / A. */
static void seq__s4d_zoh(double dt, float log_A_real, float A_imag, seq__cplx *A, seq__cplx *Abar, seq__cplx *Bbar) {
    double e;
    *A = seq__c(-exp((double)log_A_real), (double)A_imag);
    e = exp(dt * A->re);
    *Abar = seq__c(e * cos(dt * A->im), e * sin(dt * A->im));
    *Bbar = seq__cdiv(seq__c(Abar->re - 1.0, Abar->im), *A);
}

/* sq[i] = sqrt(2i+1): HiPPO-LegS is A_ik = -sq[i] sq[k] below the diagonal, -(i+1) on
 * it; B_i = sq[i]. */
static void seq__hippo_sqrt(double *sq, int64_t N) {
    int64_t i;
    for (i = 0; i < N; i++) sq[i] = sqrt(2.0 * (double)i + 1.0);
}
static double seq__hippo_legs(const double *sq, int64_t i, int64_t k) {
    return i > k ? -sq[i] * sq[k] : i == k ? -(double)(i + 1) : 0.0;
}

/* LSSL's bilinear rule at step dt, M = I - dt/2 A lower triangular:
 * Abar = M^-1 (I + dt/2 A) column by column, then Bbar = M^-1 dt B, each by forward
 * substitution in double. work: 2N doubles. */
static void seq__s4_lssl_disc(double dt, int64_t N, float *Abar, float *Bbar, double *work) {
    double *sq = work, *x = work + N, hdt = 0.5 * dt;
    int64_t i, j, k;
    seq__hippo_sqrt(sq, N);
    for (j = 0; j <= N; j++) { /* column j of Abar; j == N is Bbar */
        for (i = 0; i < N; i++) {
            double r = j < N ? (double)(i == j) + hdt * seq__hippo_legs(sq, i, j) : dt * sq[i];
            for (k = 0; k < i; k++) r += hdt * seq__hippo_legs(sq, i, k) * x[k]; /* -M_ik = dt/2 A_ik */
            x[i] = r / (1.0 + hdt * (double)(i + 1));
        }
        for (i = 0; i < N; i++) {
            if (j < N) Abar[i * N + j] = (float)x[i];
            else Bbar[i] = (float)x[i];
        }
    }
}

/* d loss / d dt of the bilinear rule. dt moves Abar and Bbar by
 *     M dAbar = (d dt / 2) A (Abar + I),    M dBbar = (d dt / 2) A Bbar + d dt B,
 * so dL/ddt = <M^-T gA, A (Abar + I)> / 2 + <M^-T gB, A Bbar / 2 + B>, each M^-T
 * column by back substitution. work: 2N doubles. */
static double seq__s4_lssl_dt_grad(double dt, int64_t N, const float *Abar, const float *Bbar, const double *gA,
                                   const double *gB, double *work) {
    double *sq = work, *y = work + N, hdt = 0.5 * dt, total = 0.0;
    int64_t i, j, k;
    seq__hippo_sqrt(sq, N);
    for (j = 0; j <= N; j++) {
        for (i = N - 1; i >= 0; i--) { /* y = M^-T (column j of gA, or gB) */
            double r = j < N ? gA[i * N + j] : gB[i];
            for (k = i + 1; k < N; k++) r += hdt * seq__hippo_legs(sq, k, i) * y[k];
            y[i] = r / (1.0 + hdt * (double)(i + 1));
        }
        for (i = 0; i < N; i++) { /* times column j of A (Abar + I) / 2, or of A Bbar / 2 + B */
            double r = 0.0;
            for (k = 0; k <= i; k++) r += seq__hippo_legs(sq, i, k) * (j < N ? Abar[k * N + j] + (k == j) : Bbar[k]);
            total += y[i] * (0.5 * r + (j < N ? 0.0 : sq[i]));
        }
    }
    return total;
}

/* m = the discretization of p's weights (m's memory bound by the caller). work: 2N
 * doubles for LSSL, unused by S4D. */
static void seq__s4_discretize(const seq__s4_ssm *p, const seq__s4_sys *m, double *work) {
    int64_t H = p->H, N = p->N, h, j;
    for (h = 0; h < H; h++) {
        double dt = exp((double)p->log_dt->data[h]);
        const float *C = p->C->data + h * N;
        float *c = m->c + h * N;
        m->D[h] = p->D->data[h];
        if (p->dense) {
            seq__s4_lssl_disc(dt, N, m->A + h * N * N, m->B + h * N, work);
            memcpy(c, C, (size_t)N * sizeof(float));
            continue;
        }
        for (j = 0; j < N / 2; j++) {
            seq__cplx A, Abar, Bbar;
            seq__s4d_zoh(dt, p->log_A_real->data[h * N / 2 + j], p->A_imag->data[h * N / 2 + j], &A, &Abar, &Bbar);
            m->A[h * N + 2 * j] = (float)Abar.re;
            m->A[h * N + 2 * j + 1] = (float)Abar.im;
            m->B[h * N + 2 * j] = (float)Bbar.re;
            m->B[h * N + 2 * j + 1] = (float)Bbar.im;
            c[2 * j] = 2.0f * C[2 * j];
            c[2 * j + 1] = -2.0f * C[2 * j + 1];
        }
    }
}

/* Adds the gradient of the weights of p given g, the gradient of its discretization m.
 * S4D, per state: Abar = exp(dt A) moves with dt A Abar d(dt) and dt Abar dA; Bbar with
 * Abar d(dt) and (dt Abar - Bbar) / A dA. */
static void seq__s4_discretize_backward(seq_ctx *ctx, const seq__s4_ssm *p, const seq__s4_sys *m,
                                        const seq__s4_grads *g) {
    int64_t H = p->H, N = p->N, h, j;
    float *glog_dt = seq__grad(ctx, p->log_dt), *gC = seq__grad(ctx, p->C), *gD = seq__grad(ctx, p->D);
    float *glar = seq__grad(ctx, p->log_A_real), *gai = seq__grad(ctx, p->A_imag);
    double *work = p->dense ? (double *)seq_ctx_alloc(ctx, (size_t)(2 * N) * sizeof(double)) : NULL;
    if (p->dense && !work) return;
    for (h = 0; h < H; h++) {
        double dt = exp((double)p->log_dt->data[h]), gdt = 0.0;
        if (gD) gD[h] += (float)g->D[h];
        if (p->dense) {
            if (gC)
                for (j = 0; j < N; j++) gC[h * N + j] += (float)g->c[h * N + j];
            if (glog_dt)
                gdt = seq__s4_lssl_dt_grad(dt, N, m->A + h * N * N, m->B + h * N, g->A + h * N * N, g->B + h * N, work);
        } else {
            for (j = 0; j < N / 2; j++) {
                int64_t q = h * N / 2 + j, o = h * N + 2 * j;
                seq__cplx A, Abar, Bbar, dBdA, gA;
                seq__cplx gAbar = seq__c(g->A[o], g->A[o + 1]), gBbar = seq__c(g->B[o], g->B[o + 1]);
                seq__s4d_zoh(dt, p->log_A_real->data[q], p->A_imag->data[q], &A, &Abar, &Bbar);
                gdt += seq__cdot(gAbar, seq__cmul(A, Abar)) + seq__cdot(gBbar, Abar);
                dBdA = seq__cdiv(seq__c(dt * Abar.re - Bbar.re, dt * Abar.im - Bbar.im), A);
                gA = seq__cadd(seq__cmul(gAbar, seq__cconj(seq__c(dt * Abar.re, dt * Abar.im))),
                               seq__cmul(gBbar, seq__cconj(dBdA)));
                if (glar) glar[q] += (float)(gA.re * A.re); /* d re(A) / d log_A_real = re(A) */
                if (gai) gai[q] += (float)gA.im;
                if (gC) {
                    gC[2 * q] += (float)(2.0 * g->c[o]);
                    gC[2 * q + 1] += (float)(-2.0 * g->c[o + 1]);
                }
            }
        }
        if (glog_dt) glog_dt[h] += (float)(dt * gdt);
    }
}

/* Zeroed gradient accumulators shaped as m; 0 when the arena is out of memory. */
static int seq__s4_grads_alloc(seq_ctx *ctx, const seq__s4_sys *m, seq__s4_grads *g) {
    int64_t H = m->H, na = H * seq__s4_asize(m->dense, m->N);
    g->A = (double *)seq__calloc(ctx, (size_t)(na + 2 * H * m->N + H) * sizeof(double));
    if (!g->A) return 0;
    g->B = g->A + na;
    g->c = g->B + H * m->N;
    g->D = g->c + H * m->N;
    return 1;
}

/* --- recurrent form: one fused node over the whole sequence, BPTT backward ---------- */

typedef struct seq__s4_scan_aux {
    seq__s4_ssm ssm;
    seq__s4_sys sys;
    seq_tensor *x, *h0;
    const int32_t *lengths;
    const uint8_t *resets;
    float *states; /* (B,T,C,N) the state after each valid step */
} seq__s4_scan_aux;

/* Walks each row back from its last valid step with lam, the gradient of the state:
 *     lam += dy_t c;  dx_t = Bbar.lam + D dy_t;  gBbar += lam x_t;  gAbar += lam s_{t-1}^T;
 *     lam = reset_t ? 0 : Abar^T lam,
 * and what is left at t = 0 belongs to h0. */
static void seq__s4_scan_backward(seq_ctx *ctx, seq__node *n) {
    const seq__s4_scan_aux *a = (const seq__s4_scan_aux *)n->aux;
    const seq__s4_sys *m = &a->sys;
    seq_tensor *x = a->x, *y = n->out, *hn = n->extra_out[0];
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], N = m->N, b, c, t, i;
    float *gx = seq__grad(ctx, x), *gh0 = seq__grad(ctx, a->h0);
    float *lam = (float *)seq_ctx_alloc(ctx, (size_t)(C * N) * sizeof(float)); /* one row's, (C,N) */
    seq__s4_grads g;
    if (!lam || !seq__s4_grads_alloc(ctx, m, &g)) return;
    for (b = 0; b < B; b++) {
        int64_t len = seq__row_len(a->lengths, b, T);
        if (hn && hn->grad) memcpy(lam, hn->grad + b * C * N, (size_t)(C * N) * sizeof(float));
        else memset(lam, 0, (size_t)(C * N) * sizeof(float));
        for (t = len - 1; t >= 0; t--) {
            int reset = a->resets && a->resets[b * T + t];
            for (c = 0; c < C; c++) {
                int64_t h = c / m->G, o = (b * T + t) * C + c;
                const float *Bb = m->B + h * N, *cv = m->c + h * N, *s = a->states + o * N;
                const float *prev = reset ? NULL : t > 0 ? s - C * N : a->h0 ? a->h0->data + (b * C + c) * N : NULL;
                float *l = lam + c * N, dy = y->grad ? y->grad[o] : 0.0f, xv = x->data[o], dx = m->D[h] * dy;
                for (i = 0; i < N; i++) {
                    l[i] += dy * cv[i];
                    g.c[h * N + i] += (double)dy * s[i];
                    g.B[h * N + i] += (double)l[i] * xv;
                    dx += Bb[i] * l[i];
                }
                g.D[h] += (double)dy * xv;
                if (gx) gx[o] += dx;
                if (prev) seq__s4_outer(m, h, l, prev, g.A);
                if (reset) memset(l, 0, (size_t)N * sizeof(float));
                else seq__s4_apply_t(m, h, l);
            }
        }
        if (gh0)
            for (i = 0; i < C * N; i++) gh0[b * C * N + i] += lam[i];
    }
    seq__s4_discretize_backward(ctx, &a->ssm, m, &g);
}

/* x (B,T,C) -> y (B,T,C) and hn (the state after each row's last valid step), step by
 * step from h0 (or zeros). */
static seq_tensor *seq__s4_scan(seq_ctx *ctx, const char *op, const seq__s4_ssm *p, const seq__s4_sys *m,
                                seq_tensor *x, seq_tensor *h0, const int32_t *lengths, const uint8_t *resets,
                                seq_tensor *hn, int nin, seq_tensor *const *ins) {
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], N = m->N, b, c, t;
    seq__s4_scan_aux *a = (seq__s4_scan_aux *)seq_ctx_alloc(ctx, sizeof(seq__s4_scan_aux));
    seq_tensor *y = seq__out(ctx, op, 3, x->shape, nin, ins);
    float *states = NULL; /* kept for the backward only */
    seq__node *nd;
    if (!a || !y) return NULL;
    if (y->requires_grad) {
        states = (float *)seq_ctx_alloc(ctx, (size_t)(B * T * C * N) * sizeof(float));
        if (!states) return NULL;
    }
    memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* padding past a length stays 0 */
    for (b = 0; b < B; b++) { /* time outside channels: x, y and the saves are contiguous */
        int64_t len = seq__row_len(lengths, b, T);
        float *s = hn->data + b * C * N; /* the row's running state (C,N) ends as its hn */
        if (h0) memcpy(s, h0->data + b * C * N, (size_t)(C * N) * sizeof(float));
        else memset(s, 0, (size_t)(C * N) * sizeof(float));
        for (t = 0; t < len; t++) {
            int64_t o = (b * T + t) * C;
            if (resets && resets[b * T + t]) memset(s, 0, (size_t)(C * N) * sizeof(float));
            for (c = 0; c < C; c++) y->data[o + c] = seq__s4_step1(m, c / m->G, s + c * N, x->data[o + c]);
            if (states) memcpy(states + o * N, s, (size_t)(C * N) * sizeof(float));
        }
    }
    a->ssm = *p;
    a->sys = *m;
    a->x = x;
    a->h0 = h0;
    a->lengths = lengths;
    a->resets = resets;
    a->states = states;
    nd = seq__record(ctx, op, y, seq__s4_scan_backward, nin, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = hn;
    }
    return y;
}

/* --- convolution form: kernel, FFT convolution, final state ------------------------- */

typedef struct seq__s4_kernel_aux {
    seq__s4_ssm ssm;
    seq__s4_sys sys;
} seq__s4_kernel_aux;

/* The powers V_l = Abar^l Bbar are a recurrence too: backward carries u, the gradient of
 * V_l, down from l = T-1 (u = dV_l + dK_l c + Abar^T u, gAbar += u V_{l-1}^T) and ends
 * with gBbar = u. */
static void seq__s4_kernel_backward(seq_ctx *ctx, seq__node *n) {
    const seq__s4_kernel_aux *a = (const seq__s4_kernel_aux *)n->aux;
    const seq__s4_sys *m = &a->sys;
    seq_tensor *K = n->out, *V = n->extra_out[0];
    int64_t H = m->H, N = m->N, T = K->shape[1], h, l, i;
    float *u = (float *)seq_ctx_alloc(ctx, (size_t)N * sizeof(float));
    seq__s4_grads g;
    if (!u || !seq__s4_grads_alloc(ctx, m, &g)) return;
    for (h = 0; h < H; h++) {
        const float *cv = m->c + h * N;
        memset(u, 0, (size_t)N * sizeof(float));
        for (l = T - 1; l >= 0; l--) {
            const float *v = V->data + (h * T + l) * N;
            float dk = K->grad ? K->grad[h * T + l] : 0.0f;
            if (l < T - 1) { /* u is the gradient of V_{l+1} = Abar V_l */
                seq__s4_outer(m, h, u, v, g.A);
                seq__s4_apply_t(m, h, u);
            }
            for (i = 0; i < N; i++) {
                u[i] += dk * cv[i] + (V->grad ? V->grad[(h * T + l) * N + i] : 0.0f);
                g.c[h * N + i] += (double)dk * v[i];
            }
        }
        for (i = 0; i < N; i++) g.B[h * N + i] += u[i];
    }
    seq__s4_discretize_backward(ctx, &a->ssm, m, &g);
}

/* The weights -> K (H,T), K[h,l] = c_h . V_l, and V (H,T,N), V_l = Abar^l Bbar (for S4D
 * the Vandermonde powers of the diagonal times Bbar, so K_l = 2 Re(C Abar^l Bbar)). */
static seq_tensor *seq__s4_kernel(seq_ctx *ctx, const char *op, const seq__s4_ssm *p, const seq__s4_sys *m,
                                  int64_t T, seq_tensor **V_out) {
    int64_t H = m->H, N = m->N, h, l, i, shape[3];
    seq_tensor *ins[5], *K, *V;
    seq__s4_kernel_aux *a = (seq__s4_kernel_aux *)seq_ctx_alloc(ctx, sizeof(seq__s4_kernel_aux));
    seq__node *nd;
    ins[0] = p->log_dt;
    ins[1] = p->C;
    ins[2] = p->log_A_real;
    ins[3] = p->A_imag;
    ins[4] = p->D;
    shape[0] = H;
    shape[1] = T;
    shape[2] = N;
    K = seq__out(ctx, op, 2, shape, 5, ins);
    V = seq__out(ctx, op, 3, shape, 5, ins);
    if (!a || !K || !V) return NULL;
    for (h = 0; h < H; h++) {
        const float *cv = m->c + h * N;
        for (l = 0; l < T; l++) {
            float *v = V->data + (h * T + l) * N, k = 0.0f;
            if (l == 0) memcpy(v, m->B + h * N, (size_t)N * sizeof(float));
            else {
                memcpy(v, v - N, (size_t)N * sizeof(float));
                seq__s4_apply(m, h, v);
            }
            for (i = 0; i < N; i++) k += cv[i] * v[i];
            K->data[h * T + l] = k;
        }
    }
    a->ssm = *p;
    a->sys = *m;
    nd = seq__record(ctx, op, K, seq__s4_kernel_backward, 4, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = V;
    }
    *V_out = V;
    return K;
}

typedef struct seq__s4_conv_aux {
    int64_t G, n;           /* channels per kernel, transform size */
    const int32_t *lengths;
    double *w, *KF;         /* twiddles; the kernels' spectra (H, n+2) */
} seq__s4_conv_aux;

/* Correlations by the same transforms: dx_t = sum_l K_l dy_{t+l} (+ D dy_t) is
 * IFFT(DY conj KF), and dK_l = sum_t dy_{t+l} x_t is IFFT(DY conj X), summed over every
 * row and channel of a kernel in the frequency domain before one inverse per kernel. */
static void seq__s4_conv_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *K = n->in[1], *D = n->in[2], *y = n->out;
    const seq__s4_conv_aux *a = (const seq__s4_conv_aux *)n->aux;
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], H = K->shape[0], nf = a->n, b, c, t;
    float *gx = seq__grad(ctx, x), *gK = seq__grad(ctx, K), *gD = seq__grad(ctx, D);
    double *DY = (double *)seq_ctx_alloc(ctx, (size_t)(nf + 2) * sizeof(double));
    double *tmp = (double *)seq_ctx_alloc(ctx, (size_t)(nf + 2) * sizeof(double));
    double *dKF = gK ? (double *)seq__calloc(ctx, (size_t)(H * (nf + 2)) * sizeof(double)) : NULL;
    if (!DY || !tmp || (gK && !dKF)) return;
    for (b = 0; b < B; b++)
        for (c = 0; c < C; c++) {
            int64_t h = c / a->G, len = seq__row_len(a->lengths, b, T), o = b * T * C + c;
            seq__fft_load(DY, y->grad + o, C, len, nf, a->w);
            if (gx) {
                seq__fft_mul(tmp, DY, a->KF + h * (nf + 2), nf, 1);
                seq__fft_real_inverse(tmp, nf, a->w);
                for (t = 0; t < len; t++) gx[o + t * C] += (float)tmp[t] + (D ? D->data[h] : 0.0f) * y->grad[o + t * C];
            }
            if (dKF) {
                double *acc = dKF + h * (nf + 2);
                int64_t k;
                seq__fft_load(tmp, x->data + o, C, len, nf, a->w);
                seq__fft_mul(tmp, DY, tmp, nf, 1);
                for (k = 0; k < nf + 2; k++) acc[k] += tmp[k];
            }
            if (gD) {
                double s = 0.0;
                for (t = 0; t < len; t++) s += (double)y->grad[o + t * C] * x->data[o + t * C];
                gD[h] += (float)s;
            }
        }
    for (c = 0; dKF && c < H; c++) {
        seq__fft_real_inverse(dKF + c * (nf + 2), nf, a->w);
        for (t = 0; t < T; t++) gK[c * T + t] += (float)dKF[c * (nf + 2) + t];
    }
}

/* x (B,T,C), K (H,T), D (H) or NULL -> y (B,T,C),
 *     y[b,t,c] = sum_{l<=t} K[h,l] x[b,t-l,c] + D[h] x[b,t,c],   h = c / G,
 * by FFT; 0 past each row's length (the inputs there are never read). Any layer whose
 * kernel is a tensor on the tape can use it. */
static seq_tensor *seq__s4_conv(seq_ctx *ctx, const char *op, seq_tensor *x, seq_tensor *K, seq_tensor *D, int64_t G,
                                const int32_t *lengths) {
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], H = K->shape[0], nf = seq__fft_size(T), b, c, t;
    seq__s4_conv_aux *a = (seq__s4_conv_aux *)seq_ctx_alloc(ctx, sizeof(seq__s4_conv_aux));
    seq_tensor *ins[3], *y;
    double *buf;
    seq__node *nd;
    ins[0] = x;
    ins[1] = K;
    ins[2] = D;
    y = seq__out(ctx, op, 3, x->shape, 3, ins);
    buf = (double *)seq_ctx_alloc(ctx, (size_t)(nf + 2) * sizeof(double));
    if (!a || !y || !buf) return NULL;
    a->G = G;
    a->n = nf;
    a->lengths = lengths;
    a->w = (double *)seq_ctx_alloc(ctx, (size_t)nf * sizeof(double));
    a->KF = (double *)seq_ctx_alloc(ctx, (size_t)(H * (nf + 2)) * sizeof(double));
    if (!a->w || !a->KF) return NULL;
    seq__fft_twiddles(a->w, nf);
    for (c = 0; c < H; c++) seq__fft_load(a->KF + c * (nf + 2), K->data + c * T, 1, T, nf, a->w);
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    for (b = 0; b < B; b++)
        for (c = 0; c < C; c++) {
            int64_t h = c / G, len = seq__row_len(lengths, b, T), o = b * T * C + c;
            seq__fft_load(buf, x->data + o, C, len, nf, a->w);
            seq__fft_mul(buf, buf, a->KF + h * (nf + 2), nf, 0);
            seq__fft_real_inverse(buf, nf, a->w);
            for (t = 0; t < len; t++) y->data[o + t * C] = (float)buf[t] + (D ? D->data[h] : 0.0f) * x->data[o + t * C];
        }
    nd = seq__record(ctx, op, y, seq__s4_conv_backward, 3, ins);
    if (nd) nd->aux = a;
    return y;
}

typedef struct seq__s4_state_aux {
    int64_t G;
    const int32_t *lengths;
} seq__s4_state_aux;

static void seq__s4_conv_state_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *V = n->in[1], *hn = n->out;
    const seq__s4_state_aux *a = (const seq__s4_state_aux *)n->aux;
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], N = V->shape[2], b, c, j, i;
    float *gx = seq__grad(ctx, x), *gV = seq__grad(ctx, V);
    for (b = 0; b < B; b++)
        for (c = 0; c < C; c++) {
            int64_t len = seq__row_len(a->lengths, b, T), h = c / a->G;
            const float *g = hn->grad + (b * C + c) * N;
            for (j = 0; j < len; j++) {
                int64_t o = (b * T + len - 1 - j) * C + c;
                const float *v = V->data + (h * T + j) * N;
                float dx = 0.0f;
                for (i = 0; i < N; i++) {
                    dx += v[i] * g[i];
                    if (gV) gV[(h * T + j) * N + i] += g[i] * x->data[o];
                }
                if (gx) gx[o] += dx;
            }
        }
}

/* The state after each row's last valid step, read off the kernel's powers:
 * x (B,T,C), V (H,T,N) -> hn[b,c] = sum_{j<len} V[c/G, j] x[b, len-1-j, c], shaped as
 * `shape` (B*C*N elements). */
static seq_tensor *seq__s4_conv_state(seq_ctx *ctx, const char *op, seq_tensor *x, seq_tensor *V, int64_t G,
                                      const int32_t *lengths, int ndim, const int64_t *shape) {
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], N = V->shape[2], b, c, j, i;
    seq__s4_state_aux *a = (seq__s4_state_aux *)seq_ctx_alloc(ctx, sizeof(seq__s4_state_aux));
    seq_tensor *ins[2], *hn;
    seq__node *nd;
    ins[0] = x;
    ins[1] = V;
    hn = seq__out(ctx, op, ndim, shape, 2, ins);
    if (!a || !hn) return NULL;
    memset(hn->data, 0, (size_t)hn->numel * sizeof(float));
    for (b = 0; b < B; b++)
        for (c = 0; c < C; c++) {
            int64_t len = seq__row_len(lengths, b, T);
            float *s = hn->data + (b * C + c) * N;
            for (j = 0; j < len; j++) {
                const float *v = V->data + ((c / G) * T + j) * N;
                float xv = x->data[(b * T + len - 1 - j) * C + c];
                for (i = 0; i < N; i++) s[i] += v[i] * xv;
            }
        }
    a->G = G;
    a->lengths = lengths;
    nd = seq__record(ctx, op, hn, seq__s4_conv_state_backward, 2, ins);
    if (nd) nd->aux = a;
    return hn;
}

/* --- the shared forward -------------------------------------------------------------- */

/* The state shape of B rows: (B,C,N/2,2) complex pairs (S4D) or (B,C,N) (LSSL). */
static int seq__s4_state_shape(const seq__s4_ssm *p, int64_t B, int64_t *shape) {
    shape[0] = B;
    shape[1] = p->H * p->G;
    shape[2] = p->dense ? p->N : p->N / 2;
    shape[3] = 2;
    return p->dense ? 3 : 4;
}

/* x (B,T,H*G) -> y (B,T,H*G) and *hn, in the form mode asks for (the recurrent one
 * whenever h0 or resets are given); *hn (when hn is not NULL) the final state. Checks x,
 * h0 and lengths; reports as op. */
static seq_tensor *seq__s4_core(seq_ctx *ctx, const char *op, const seq__s4_ssm *p, seq_s4_mode mode, seq_tensor *x,
                                seq_tensor *h0, const int32_t *lengths, const uint8_t *resets, seq_tensor **hn) {
    int64_t C = p->H * p->G, B, T, shape[4];
    int sd;
    seq_tensor *ins[7], *y, *K, *V;
    seq__s4_sys m;
    float *mem;
    double *work;
    ins[0] = x;
    ins[1] = h0;
    ins[2] = p->log_dt;
    ins[3] = p->C;
    ins[4] = p->D;
    ins[5] = p->log_A_real;
    ins[6] = p->A_imag;
    if (x->dtype != SEQ_F32 || x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] != C) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)C);
        return NULL;
    }
    B = x->shape[0];
    T = x->shape[1];
    sd = seq__s4_state_shape(p, B, shape);
    if (h0 && (h0->dtype != SEQ_F32 || h0->ndim != sd || h0->numel != B * C * p->N ||
               memcmp(h0->shape, shape, (size_t)sd * sizeof(int64_t)) != 0)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 must be (%lld,%lld,%lld%s)", (long long)B, (long long)C,
                      (long long)shape[2], sd == 4 ? ",2" : "");
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, lengths, B, T) || !seq__finite_ok(ctx, op, "x", x->data, x->numel) ||
        (h0 && !seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)))
        return NULL;
    lengths = (const int32_t *)seq__arena_copy(ctx, lengths, (size_t)B * sizeof(int32_t));
    resets = (const uint8_t *)seq__arena_copy(ctx, resets, (size_t)(B * T));
    mem = (float *)seq_ctx_alloc(ctx, (size_t)seq__s4_sys_floats(p->dense, p->H, p->N) * sizeof(float));
    work = (double *)seq_ctx_alloc(ctx, (size_t)(2 * p->N) * sizeof(double));
    if (!mem || !work || ctx->status != SEQ_OK) return NULL;
    seq__s4_sys_bind(&m, p->dense, p->H, p->N, p->G, mem);
    seq__s4_discretize(p, &m, work);
    if (mode == SEQ_S4_MODE_RECURRENT || h0 || resets) {
        seq_tensor *state = seq__out(ctx, op, sd, shape, 7, ins);
        if (!state) return NULL;
        if (hn) *hn = state;
        return seq__s4_scan(ctx, op, p, &m, x, h0, lengths, resets, state, 7, ins);
    }
    K = seq__s4_kernel(ctx, op, p, &m, T, &V);
    if (!K) return NULL;
    y = seq__s4_conv(ctx, op, x, K, p->D, p->G, lengths);
    if (hn) *hn = seq__s4_conv_state(ctx, op, x, V, p->G, lengths, sd, shape);
    return ctx->status == SEQ_OK ? y : NULL;
}

/* --- layers: configuration and weights ------------------------------------------------ */

/* The checks every S4-family config shares; SEQ_OK or the error, naming fn and prefix. */
static seq_status seq__s4_config_ok(const char *fn, const char *prefix, int64_t H, int64_t N, int even, float dt_min,
                                    float dt_max, seq_s4_mode mode) {
    if (H < 1 || N < 1 || (even && N % 2) || !(dt_min > 0.0f) || !(dt_max >= dt_min) || !isfinite(dt_max) ||
        (int)mode < 0 || mode >= SEQ_S4_MODE_COUNT)
        return seq__err(SEQ_ERR_INVALID, "%s: '%s': bad config (d_model %lld, d_state %lld%s, dt [%g, %g], mode %d)",
                        fn, prefix, (long long)H, (long long)N, even ? " (even)" : "", (double)dt_min,
                        (double)dt_max, (int)mode);
    return SEQ_OK;
}

/* Registers "<prefix>.<name>" with weight-decay multiplier decay; NULL on failure (the
 * error set by seq_params_add). */
static seq_tensor *seq__s4_add(seq_params *P, const char *prefix, const char *name, int ndim, int64_t d0, int64_t d1,
                               int64_t d2, seq_init init, float decay) {
    char full[256];
    int64_t shape[3];
    seq_tensor *t;
    shape[0] = d0;
    shape[1] = d1;
    shape[2] = d2;
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    t = seq_params_add(P, full, ndim, shape, init);
    if (t) seq_params_entry(P, full)->decay = decay;
    return t;
}

/* The forward's view of layer l with each system driving G channels. */
static void seq__s4_view(const seq_s4 *l, int64_t G, seq__s4_ssm *p) {
    p->dense = l->cfg.kind == SEQ_S4_LSSL;
    p->H = l->cfg.d_model;
    p->N = l->cfg.d_state;
    p->G = G;
    p->log_dt = l->log_dt;
    p->C = l->C;
    p->D = l->D;
    p->log_A_real = l->log_A_real;
    p->A_imag = l->A_imag;
}

/* 1 when the layer's weights exist and are allocated; otherwise 0 with the ctx error set. */
static int seq__s4_ready(seq_ctx *ctx, const char *op, const seq_tensor *first) {
    if (!first) seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer");
    else if (!first->data) seq__ctx_fail(ctx, SEQ_ERR_STATE, op, "parameters not allocated (seq_params_alloc)");
    return first && first->data;
}

/* --- step states ---------------------------------------------------------------------- */

/* A zero state of `batch` rows for p's weights, discretized now. */
static seq_status seq__s4_state_init(const char *fn, const seq__s4_ssm *p, void *alloc_ud, seq_s4_state *st,
                                     int64_t batch) {
    int64_t C = p->H * p->G, ns;
    seq__s4_sys m;
    double *work;
    memset(st, 0, sizeof *st);
    if (!p->log_dt->data) return seq__err(SEQ_ERR_STATE, "%s: parameters not allocated (seq_params_alloc)", fn);
    if (batch < 1) return seq__err(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
    ns = batch * C * p->N;
    st->s = (float *)SEQ_MALLOC(alloc_ud, (size_t)(ns + seq__s4_sys_floats(p->dense, p->H, p->N)) * sizeof(float));
    work = (double *)SEQ_MALLOC(alloc_ud, (size_t)(2 * p->N) * sizeof(double));
    if (!st->s || !work) {
        SEQ_FREE(alloc_ud, st->s);
        SEQ_FREE(alloc_ud, work);
        st->s = NULL;
        return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    }
    st->weights = st->s + ns;
    seq__s4_sys_bind(&m, p->dense, p->H, p->N, p->G, st->weights);
    seq__s4_discretize(p, &m, work);
    SEQ_FREE(alloc_ud, work);
    st->batch = batch;
    st->kernels = p->H;
    st->channels = C;
    st->n = p->N;
    st->dense = p->dense;
    st->alloc_ud = alloc_ud;
    memset(st->s, 0, (size_t)ns * sizeof(float));
    return SEQ_OK;
}

SEQDEF void seq_s4_state_reset(seq_s4_state *st) {
    if (st && st->s) memset(st->s, 0, (size_t)(st->batch * st->channels * st->n) * sizeof(float));
}

SEQDEF void seq_s4_state_free(seq_s4_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->s);
    memset(st, 0, sizeof *st);
}

/* SEQ_OK when the n floats at x are finite, else SEQ_ERR_NUMERIC naming fn. */
static seq_status seq__s4_finite_in(const char *fn, const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return seq__err(SEQ_ERR_NUMERIC, "%s: input[%lld] is not finite", fn, (long long)i);
    return SEQ_OK;
}

/* x_t (B,C) -> y_t (B,C) through st's systems. */
static void seq__s4_state_advance(seq_s4_state *st, const float *x_t, float *y_t) {
    int64_t C = st->channels, i;
    seq__s4_sys m;
    seq__s4_sys_bind(&m, st->dense, st->kernels, st->n, C / st->kernels, st->weights);
    for (i = 0; i < st->batch * C; i++) y_t[i] = seq__s4_step1(&m, (i % C) / m.G, st->s + i * st->n, x_t[i]);
}

/* --- S4D and LSSL ------------------------------------------------------------------------ */

SEQDEF seq_s4_config seq_s4_config_default(seq_s4_kind kind, int64_t d_model, int64_t d_state) {
    seq_s4_config c;
    c.kind = kind;
    c.d_model = d_model;
    c.d_state = d_state;
    c.init = SEQ_S4D_LIN;
    c.dt_min = 1e-3f;
    c.dt_max = 1e-1f;
    c.mode = SEQ_S4_MODE_CONV;
    return c;
}
SEQDEF seq_s4_config seq_s4d_config_default(int64_t h, int64_t n) { return seq_s4_config_default(SEQ_S4_S4D, h, n); }
SEQDEF seq_s4_config seq_lssl_config_default(int64_t h, int64_t n) { return seq_s4_config_default(SEQ_S4_LSSL, h, n); }

SEQDEF seq_status seq_s4_init(seq_s4 *l, seq_params *P, const char *prefix, seq_s4_config cfg) {
    int64_t H = cfg.d_model, N = cfg.d_state;
    int s4d = cfg.kind == SEQ_S4_S4D;
    seq_init dt = seq_init_uniform(logf(cfg.dt_min), logf(cfg.dt_max));
    seq_status s;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_s4_init: NULL argument");
    if ((int)cfg.kind < 0 || cfg.kind >= SEQ_S4_KIND_COUNT || (int)cfg.init < 0 || cfg.init >= SEQ_S4D_INIT_COUNT)
        return seq__err(SEQ_ERR_INVALID, "seq_s4_init: '%s': unknown kind %d or init %d", prefix, (int)cfg.kind,
                        (int)cfg.init);
    s = seq__s4_config_ok("seq_s4_init", prefix, H, N, s4d, cfg.dt_min, cfg.dt_max, cfg.mode);
    if (s != SEQ_OK) return s;
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    if (s4d) {
        l->log_dt = seq__s4_add(P, prefix, "kernel.log_dt", 1, H, 0, 0, dt, 0.0f);
        l->C = seq__s4_add(P, prefix, "kernel.C", 3, H, N / 2, 2, seq_init_normal(0.0f, sqrtf(0.5f)), 1.0f);
        l->log_A_real =
            seq__s4_add(P, prefix, "kernel.log_A_real", 2, H, N / 2, 0, seq_init_constant(logf(0.5f)), 0.0f);
        l->A_imag = seq__s4_add(P, prefix, "kernel.A_imag", 2, H, N / 2, 0, seq_init_zeros(), 0.0f);
        if (!l->log_A_real || !l->A_imag) return seq__errstatus;
    } else {
        l->log_dt = seq__s4_add(P, prefix, "log_dt", 1, H, 0, 0, dt, 0.0f);
        l->C = seq__s4_add(P, prefix, "C", 2, H, N, 0, seq_init_normal(0.0f, 1.0f), 1.0f);
    }
    l->D = seq__s4_add(P, prefix, "D", 1, H, 0, 0, seq_init_normal(0.0f, 1.0f), 1.0f);
    return l->log_dt && l->C && l->D ? SEQ_OK : seq__errstatus;
}

SEQDEF seq_status seq_s4_init_A(const seq_s4 *l) {
    double pi = acos(-1.0), N;
    int64_t h, n, N2;
    if (!l || !l->log_dt) return seq__err(SEQ_ERR_INVALID, "seq_s4_init_A: NULL or uninitialized layer");
    if (!l->log_dt->data) return seq__err(SEQ_ERR_STATE, "seq_s4_init_A: parameters not allocated (seq_params_alloc)");
    if (l->cfg.kind != SEQ_S4_S4D) return SEQ_OK;
    N = (double)l->cfg.d_state;
    N2 = l->cfg.d_state / 2;
    for (h = 0; h < l->cfg.d_model; h++)
        for (n = 0; n < N2; n++)
            l->A_imag->data[h * N2 + n] =
                (float)(l->cfg.init == SEQ_S4D_LIN ? pi * (double)n : N / pi * (N / (2.0 * (double)n + 1.0) - 1.0));
    return SEQ_OK;
}

SEQDEF seq_tensor *seq_s4_forward(seq_ctx *ctx, const seq_s4 *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_s4_forward";
    seq_tensor *hn = NULL, *y;
    seq__s4_ssm p;
    if (!seq__ok(ctx, op, 1, &x) || !seq__s4_ready(ctx, op, l ? l->log_dt : NULL)) return NULL;
    if (io && io->c0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "io->c0 must be NULL: the layer has one state, io->h0");
        return NULL;
    }
    seq__s4_view(l, 1, &p);
    y = seq__s4_core(ctx, op, &p, l->cfg.mode, x, io ? io->h0 : NULL, io ? io->lengths : NULL, io ? io->resets : NULL,
                     io ? &hn : NULL);
    if (y && io) {
        io->hn = hn;
        io->cn = NULL;
    }
    return y;
}

SEQDEF seq_status seq_s4_state_init(const seq_s4 *l, seq_s4_state *st, int64_t batch) {
    seq__s4_ssm p;
    if (!l || !st || !l->log_dt) return seq__err(SEQ_ERR_INVALID, "seq_s4_state_init: NULL or uninitialized layer");
    seq__s4_view(l, 1, &p);
    return seq__s4_state_init("seq_s4_state_init", &p, l->alloc_ud, st, batch);
}

SEQDEF seq_status seq_s4_step(const seq_s4 *l, seq_s4_state *st, const float *x_t, float *y_t) {
    static const char fn[] = "seq_s4_step";
    int64_t H;
    seq_status s;
    if (!l || !st || !st->s || !x_t || !y_t) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", fn);
    H = l->cfg.d_model;
    if (st->dense != (l->cfg.kind == SEQ_S4_LSSL) || st->channels != H || st->kernels != H || st->n != l->cfg.d_state)
        return seq__err(SEQ_ERR_SHAPE, "%s: the state was made for another layer", fn);
    s = seq__s4_finite_in(fn, x_t, st->batch * H);
    if (s == SEQ_OK) seq__s4_state_advance(st, x_t, y_t);
    return s;
}

/* --- H3 --------------------------------------------------------------------------------- */

/* The shift SSM as one node: a depthwise causal convolution whose history is the shift
 * register, so it honors an initial register c0, resets (an empty register) and lengths. */
typedef struct seq__h3_shift_aux {
    seq_tensor *k, *S, *Dk, *c0;
    const int32_t *lengths;
    const uint8_t *resets;
} seq__h3_shift_aux;

/* Where k_{t-i} of row b, channel c is, for step t of a segment that starts at s0: in
 * k (kbase, (B,T,D)), in the initial register (cbase, (B,D,N), entry n = k_{-1-n}; only
 * for the row's first segment), or nowhere (NULL: zero, or a NULL base). */
static float *seq__h3_lag(float *kbase, float *cbase, int64_t T, int64_t D, int64_t N, int64_t b, int64_t c,
                          int64_t t, int64_t s0, int64_t i) {
    int64_t u = t - i;
    if (u >= s0) return kbase ? kbase + (b * T + u) * D + c : NULL;
    if (s0 == 0 && cbase && -1 - u < N) return cbase + (b * D + c) * N + (-1 - u);
    return NULL;
}

static void seq__h3_shift_backward(seq_ctx *ctx, seq__node *n) {
    const seq__h3_shift_aux *a = (const seq__h3_shift_aux *)n->aux;
    seq_tensor *k = a->k, *y = n->out, *cn = n->extra_out[0];
    int64_t B = k->shape[0], T = k->shape[1], D = k->shape[2], N = a->S->shape[2], b, c, t, i;
    float *gk = seq__grad(ctx, k), *gS = seq__grad(ctx, a->S), *gDk = seq__grad(ctx, a->Dk);
    float *gc0 = seq__grad(ctx, a->c0), *c0 = a->c0 ? a->c0->data : NULL;
    for (b = 0; b < B; b++)
        for (c = 0; c < D; c++) {
            int64_t len = seq__row_len(a->lengths, b, T), s0 = 0;
            const float *S = a->S->data + c * N;
            for (t = 0; t < len; t++) {
                int64_t o = (b * T + t) * D + c;
                float dy = y->grad ? y->grad[o] : 0.0f;
                if (a->resets && a->resets[b * T + t]) s0 = t;
                if (gDk) gDk[c] += dy * k->data[o];
                if (gk) gk[o] += a->Dk->data[c] * dy;
                for (i = 0; i < N; i++) {
                    float *v = seq__h3_lag(k->data, c0, T, D, N, b, c, t, s0, i);
                    float *g = seq__h3_lag(gk, gc0, T, D, N, b, c, t, s0, i);
                    if (gS && v) gS[c * N + i] += dy * *v;
                    if (g) *g += dy * S[i];
                }
            }
            if (cn && cn->grad) /* the final register is k (or c0) at the last N lags */
                for (i = 0; i < N; i++) {
                    float *g = seq__h3_lag(gk, gc0, T, D, N, b, c, len - 1, s0, i);
                    if (g) *g += cn->grad[(b * D + c) * N + i];
                }
        }
}

/* k (B,T,D), taps S (1,D,N), skip Dk (D), c0 (B,D,N) or NULL ->
 * y_t = sum_{i<N} S[c,i] k_{t-i} + Dk[c] k_t (B,T,D), 0 past a length, and *cn the
 * register after each row's last valid step. */
static seq_tensor *seq__h3_shift(seq_ctx *ctx, const char *op, const seq_h3 *l, seq_tensor *k, seq_tensor *c0,
                                 const int32_t *lengths, const uint8_t *resets, seq_tensor **cn) {
    int64_t B, T, D, N = l->cfg.d_state, b, c, t, i, shape[3];
    seq__h3_shift_aux *a = (seq__h3_shift_aux *)seq_ctx_alloc(ctx, sizeof(seq__h3_shift_aux));
    seq_tensor *ins[4], *y;
    float *c0d = c0 ? c0->data : NULL;
    seq__node *nd;
    if (!k || !a) return NULL;
    B = k->shape[0];
    T = k->shape[1];
    D = k->shape[2];
    ins[0] = k;
    ins[1] = l->shift_C;
    ins[2] = l->shift_D;
    ins[3] = c0;
    shape[0] = B;
    shape[1] = D;
    shape[2] = N;
    y = seq__out(ctx, op, 3, k->shape, 4, ins);
    *cn = seq__out(ctx, op, 3, shape, 4, ins);
    a->lengths = (const int32_t *)seq__arena_copy(ctx, lengths, (size_t)B * sizeof(int32_t));
    a->resets = (const uint8_t *)seq__arena_copy(ctx, resets, (size_t)(B * T));
    if (!y || !*cn || ctx->status != SEQ_OK) return NULL;
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    for (b = 0; b < B; b++)
        for (c = 0; c < D; c++) {
            int64_t len = seq__row_len(lengths, b, T), s0 = 0;
            const float *S = l->shift_C->data + c * N;
            for (t = 0; t < len; t++) {
                int64_t o = (b * T + t) * D + c;
                float acc = l->shift_D->data[c] * k->data[o];
                if (resets && resets[b * T + t]) s0 = t;
                for (i = 0; i < N; i++) {
                    const float *v = seq__h3_lag(k->data, c0d, T, D, N, b, c, t, s0, i);
                    if (v) acc += S[i] * *v;
                }
                y->data[o] = acc;
            }
            for (i = 0; i < N; i++) {
                const float *v = seq__h3_lag(k->data, c0d, T, D, N, b, c, len - 1, s0, i);
                (*cn)->data[(b * D + c) * N + i] = v ? *v : 0.0f;
            }
        }
    a->k = k;
    a->S = l->shift_C;
    a->Dk = l->shift_D;
    a->c0 = c0;
    nd = seq__record(ctx, op, y, seq__h3_shift_backward, 4, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = *cn;
    }
    return y;
}

/* k, v (B,T,H*d) -> kv (B,T,H*d*d), kv[h,i,j] = k[h*d+i] v[h*d+j]: per head an outer product. */
static seq_tensor *seq__h3_outer(seq_ctx *ctx, seq_tensor *k, seq_tensor *v, int64_t d) {
    int64_t sk[3], sv[3], skv[3];
    if (!k || !v) return NULL;
    if (d == 1) return seq_mul(ctx, k, v);
    sk[0] = sv[0] = k->shape[0] * k->shape[1] * (k->shape[2] / d);
    sk[1] = sv[2] = d;
    sk[2] = sv[1] = 1;
    skv[0] = k->shape[0];
    skv[1] = k->shape[1];
    skv[2] = k->shape[2] * d;
    return seq_reshape(ctx, seq_matmul(ctx, seq_reshape(ctx, k, 3, sk), seq_reshape(ctx, v, 3, sv), 0, 0), 3, skv);
}

/* q (B,T,H*d), s (B,T,H*d*d) -> y (B,T,d*H), y[j*H+h] = sum_i q[h*d+i] s[(h*d+i)*d+j]:
 * each head's query contracts its d x d block; the heads interleave as h3.py's
 * '(d h)' layout. */
static seq_tensor *seq__h3_gate(seq_ctx *ctx, seq_tensor *q, seq_tensor *s, int64_t d) {
    int64_t sq[3], ss[3], sh[4], sy[3], B, T, D;
    seq_tensor *y;
    if (!q || !s) return NULL;
    if (d == 1) return seq_mul(ctx, q, s);
    B = q->shape[0];
    T = q->shape[1];
    D = q->shape[2];
    sq[0] = ss[0] = B * T * (D / d);
    sq[1] = 1;
    sq[2] = ss[1] = ss[2] = d;
    sh[0] = sy[0] = B;
    sh[1] = sy[1] = T;
    sh[2] = D / d;
    sh[3] = d;
    sy[2] = D;
    y = seq_matmul(ctx, seq_reshape(ctx, q, 3, sq), seq_reshape(ctx, s, 3, ss), 0, 0); /* (B*T*H,1,d) */
    return seq_reshape(ctx, seq_transpose(ctx, seq_reshape(ctx, y, 4, sh), 2, 3), 3, sy);
}

/* (B,T,D) ones before each row's length and zeros after: multiplies the output so the
 * padding reads 0 past the output projection's bias. */
static seq_tensor *seq__h3_mask(seq_ctx *ctx, const seq_tensor *u, const int32_t *lengths) {
    seq_tensor *m = seq_tensor_new(ctx, SEQ_F32, 3, u->shape);
    int64_t B = u->shape[0], T = u->shape[1], D = u->shape[2], b, i;
    if (!m) return NULL;
    for (b = 0; b < B; b++)
        for (i = 0; i < lengths[b] * D; i++) m->data[b * T * D + i] = 1.0f;
    return m;
}

SEQDEF seq_h3_config seq_h3_config_default(int64_t d_model, int64_t d_state) {
    seq_h3_config c;
    c.d_model = d_model;
    c.d_state = d_state;
    c.head_dim = 1;
    c.init = SEQ_S4D_LIN;
    c.dt_min = 1e-3f;
    c.dt_max = 1e-1f;
    c.mode = SEQ_S4_MODE_CONV;
    return c;
}

SEQDEF seq_status seq_h3_init(seq_h3 *l, seq_params *P, const char *prefix, seq_h3_config cfg) {
    static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "output_linear"};
    int64_t D = cfg.d_model, N = cfg.d_state;
    float bound = 1.0f / sqrtf((float)(D > 0 ? D : 1)), sbound = 1.0f / sqrtf((float)(N > 0 ? N : 1));
    seq_tensor **w[4], **bias[4];
    seq_s4_config sc;
    seq_status s;
    char name[64];
    int i;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_h3_init: NULL argument");
    s = seq__s4_config_ok("seq_h3_init", prefix, D, N, 1, cfg.dt_min, cfg.dt_max, cfg.mode);
    if (s != SEQ_OK) return s;
    if (cfg.head_dim < 1 || D % cfg.head_dim != 0 || (int)cfg.init < 0 || cfg.init >= SEQ_S4D_INIT_COUNT)
        return seq__err(SEQ_ERR_INVALID, "seq_h3_init: '%s': head_dim %lld must divide d_model %lld (init %d)", prefix,
                        (long long)cfg.head_dim, (long long)D, (int)cfg.init);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    w[0] = &l->q_w;
    w[1] = &l->k_w;
    w[2] = &l->v_w;
    w[3] = &l->o_w;
    bias[0] = &l->q_b;
    bias[1] = &l->k_b;
    bias[2] = &l->v_b;
    bias[3] = &l->o_b;
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.weight", proj[i]);
        *w[i] = seq__s4_add(P, prefix, name, 2, D, D, 0, seq_init_uniform(-bound, bound), 1.0f);
        snprintf(name, sizeof name, "%s.bias", proj[i]);
        *bias[i] = seq__s4_add(P, prefix, name, 1, D, 0, 0, seq_init_uniform(-bound, bound), 1.0f);
        if (!*w[i] || !*bias[i]) return seq__errstatus;
    }
    l->shift_C = seq__s4_add(P, prefix, "ssm_k_kernel.kernel.C", 3, 1, D, N, seq_init_uniform(-sbound, sbound), 1.0f);
    l->shift_D = seq__s4_add(P, prefix, "ssm_k_D", 1, D, 0, 0, seq_init_normal(0.0f, 1.0f), 1.0f);
    if (!l->shift_C || !l->shift_D) return seq__errstatus;
    sc = seq_s4d_config_default(D / cfg.head_dim, N);
    sc.init = cfg.init;
    sc.dt_min = cfg.dt_min;
    sc.dt_max = cfg.dt_max;
    sc.mode = cfg.mode;
    return seq_s4_init(&l->ssm, P, prefix, sc);
}

SEQDEF seq_status seq_h3_init_A(const seq_h3 *l) {
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_h3_init_A: NULL layer");
    return seq_s4_init_A(&l->ssm);
}

SEQDEF seq_tensor *seq_h3_forward(seq_ctx *ctx, const seq_h3 *l, seq_tensor *u, seq_rnn_io *io) {
    static const char op[] = "seq_h3_forward";
    seq_tensor *c0 = io ? io->c0 : NULL, *q, *k, *v, *kv, *s, *y, *cn = NULL, *hn = NULL;
    const int32_t *lengths = io ? io->lengths : NULL;
    const uint8_t *resets = io ? io->resets : NULL;
    int64_t D, N, d;
    seq__s4_ssm p;
    if (!seq__ok(ctx, op, 1, &u) || !seq__s4_ready(ctx, op, l ? l->q_w : NULL)) return NULL;
    D = l->cfg.d_model;
    N = l->cfg.d_state;
    d = l->cfg.head_dim;
    if (u->dtype != SEQ_F32 || u->ndim != 3 || u->shape[0] < 1 || u->shape[1] < 1 || u->shape[2] != D) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "u must be (B>=1, T>=1, %lld)", (long long)D);
        return NULL;
    }
    if (c0 && (c0->dtype != SEQ_F32 || c0->ndim != 3 || c0->shape[0] != u->shape[0] || c0->shape[1] != D ||
               c0->shape[2] != N)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "c0 must be (%lld,%lld,%lld)", (long long)u->shape[0], (long long)D,
                      (long long)N);
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, lengths, u->shape[0], u->shape[1]) ||
        !seq__finite_ok(ctx, op, "u", u->data, u->numel) || (c0 && !seq__finite_ok(ctx, op, "c0", c0->data, c0->numel)))
        return NULL;
    q = seq_linear(ctx, u, l->q_w, l->q_b);
    k = seq_linear(ctx, u, l->k_w, l->k_b);
    v = seq_linear(ctx, u, l->v_w, l->v_b);
    kv = seq__h3_outer(ctx, seq__h3_shift(ctx, op, l, k, c0, lengths, resets, &cn), v, d);
    if (!q || !kv) return NULL;
    seq__s4_view(&l->ssm, d * d, &p);
    s = seq__s4_core(ctx, op, &p, l->cfg.mode, kv, io ? io->h0 : NULL, lengths, resets, io ? &hn : NULL);
    y = seq_linear(ctx, seq__h3_gate(ctx, q, s, d), l->o_w, l->o_b);
    if (y && lengths) y = seq_mul(ctx, y, seq__h3_mask(ctx, u, lengths));
    if (!y) return NULL;
    if (io) {
        io->hn = hn;
        io->cn = cn;
    }
    return y;
}

SEQDEF seq_status seq_h3_state_init(const seq_h3 *l, seq_h3_state *st, int64_t batch) {
    int64_t D, N, C;
    seq__s4_ssm p;
    seq_status s;
    if (!l || !st || !l->q_w) return seq__err(SEQ_ERR_INVALID, "seq_h3_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    D = l->cfg.d_model;
    N = l->cfg.d_state;
    seq__s4_view(&l->ssm, l->cfg.head_dim * l->cfg.head_dim, &p);
    s = seq__s4_state_init("seq_h3_state_init", &p, l->alloc_ud, &st->ssm, batch);
    if (s != SEQ_OK) return s;
    C = p.H * p.G;
    /* the register, then work: q, k, v (B,D) each, kv and s (B,C) each, y (B,D) */
    st->shift = (float *)SEQ_MALLOC(l->alloc_ud, (size_t)(batch * (D * N + 4 * D + 2 * C)) * sizeof(float));
    if (!st->shift) {
        seq_s4_state_free(&st->ssm);
        return seq__err(SEQ_ERR_NOMEM, "seq_h3_state_init: out of memory");
    }
    st->work = st->shift + batch * D * N;
    st->batch = batch;
    st->alloc_ud = l->alloc_ud;
    seq_h3_state_reset(st);
    return SEQ_OK;
}

SEQDEF void seq_h3_state_reset(seq_h3_state *st) {
    if (!st || !st->shift) return;
    memset(st->shift, 0, (size_t)(st->work - st->shift) * sizeof(float));
    seq_s4_state_reset(&st->ssm);
}

SEQDEF void seq_h3_state_free(seq_h3_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->shift);
    seq_s4_state_free(&st->ssm);
    memset(st, 0, sizeof *st);
}

/* rows x (M,I) -> out (M,O) = b + x W^T, W (O,I): a projection of one step */
static void seq__h3_proj(const seq_tensor *W, const seq_tensor *b, const float *x, int64_t M, float *out) {
    int64_t O = W->shape[0], I = W->shape[1], r;
    for (r = 0; r < M; r++) memcpy(out + r * O, b->data, (size_t)O * sizeof(float));
    seq_sgemm(0, 1, M, O, I, 1.0f, x, I, W->data, I, 1.0f, out, O);
}

SEQDEF seq_status seq_h3_step(const seq_h3 *l, seq_h3_state *st, const float *u_t, float *y_t) {
    static const char fn[] = "seq_h3_step";
    int64_t B, D, N, d, H, C, b, c, h, i, j;
    float *q, *k, *v, *kv, *s, *y;
    seq_status status;
    if (!l || !st || !st->shift || !u_t || !y_t) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", fn);
    D = l->cfg.d_model;
    N = l->cfg.d_state;
    d = l->cfg.head_dim;
    H = D / d;
    C = D * d;
    if (st->ssm.channels != C || st->ssm.n != N)
        return seq__err(SEQ_ERR_SHAPE, "%s: the state was made for another layer", fn);
    B = st->batch;
    status = seq__s4_finite_in(fn, u_t, B * D);
    if (status != SEQ_OK) return status;
    q = st->work;
    k = q + B * D;
    v = k + B * D;
    kv = v + B * D;
    s = kv + B * C;
    y = s + B * C;
    seq__h3_proj(l->q_w, l->q_b, u_t, B, q);
    seq__h3_proj(l->k_w, l->k_b, u_t, B, k);
    seq__h3_proj(l->v_w, l->v_b, u_t, B, v);
    for (b = 0; b < B; b++)
        for (c = 0; c < D; c++) { /* shift the register, then k' = S . register + Dk k */
            float *reg = st->shift + (b * D + c) * N, acc;
            memmove(reg + 1, reg, (size_t)(N - 1) * sizeof(float));
            reg[0] = k[b * D + c];
            acc = l->shift_D->data[c] * reg[0];
            for (i = 0; i < N; i++) acc += l->shift_C->data[c * N + i] * reg[i];
            k[b * D + c] = acc;
        }
    for (b = 0; b < B; b++)
        for (h = 0; h < H; h++)
            for (i = 0; i < d; i++)
                for (j = 0; j < d; j++) kv[b * C + (h * d + i) * d + j] = k[b * D + h * d + i] * v[b * D + h * d + j];
    seq__s4_state_advance(&st->ssm, kv, s);
    for (b = 0; b < B; b++)
        for (h = 0; h < H; h++)
            for (j = 0; j < d; j++) {
                float acc = 0.0f;
                for (i = 0; i < d; i++) acc += q[b * D + h * d + i] * s[b * C + (h * d + i) * d + j];
                y[b * D + j * H + h] = acc;
            }
    seq__h3_proj(l->o_w, l->o_b, y, B, y_t);
    return SEQ_OK;
}

/* --- 14.6 Mamba and Mamba-2 (SSD) ------------------------------------------------- */

/* ---- elementwise functions the compiler can vectorize ------------------------------------- */

/* (seq__expf_vec and seq__sigmoidf_vec are in 8a, whose softmax family uses them too.) */

/* libm's log1pf is a call a loop cannot vectorize without -ffast-math (as expf, 8a).
 * log(1 + x) for 0 <= x <= 1: u = 1 + x = 2^k m with m in [sqrt(1/2), sqrt(2)], log m by
 * Cephes' logf polynomial in f = m - 1, and (x - (u - 1)) / u restoring what rounding u
 * lost (all of x when x is tiny). Within 2 ulp of log1pf. */
static inline float seq__log1pf_vec(float x) {
    float u = 1.0f + x, m, f, z, y, k;
    int32_t bits;
    int big;
    memcpy(&bits, &u, sizeof bits);
    k = (float)((bits >> 23) - 127);
    bits = (bits & 0x007FFFFF) | 0x3F800000;
    memcpy(&m, &bits, sizeof m);
    big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    k = big ? k + 1.0f : k;
    f = m - 1.0f;
    z = f * f;
    y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z - 2.12194440e-4f * k - 0.5f * z;
    return (f + y) + 0.693359375f * k + (x - (u - 1.0f)) / u;
}

/* x (n) = softplus(x) as seq_softplus computes it (x itself above 20), by way of e (n)
 * = e^-|x|: in one loop, gcc 12 gives up if-converting, and so vectorizing, the whole. */
static void seq__softplus_row(float *SEQ_RESTRICT x, int64_t n, float *SEQ_RESTRICT e) {
    int64_t i;
    for (i = 0; i < n; i++) e[i] = seq__expf_vec(x[i] < 0.0f ? x[i] : -x[i]);
    for (i = 0; i < n; i++) {
        float sp = (x[i] > 0.0f ? x[i] : 0.0f) + seq__log1pf_vec(e[i]);
        x[i] = x[i] > SEQ__SOFTPLUS_LINEAR ? x[i] : sp;
    }
}

/* y (n) = silu(x) = x sigmoid(x) (y may be x), and gx (n) = gy silu'(x). */
static void seq__silu_row(const float *x, int64_t n, float *y) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] = x[i] * seq__sigmoidf_vec(x[i]);
}
static void seq__silu_backward_row(const float *SEQ_RESTRICT x, const float *SEQ_RESTRICT gy, int64_t n,
                                   float *SEQ_RESTRICT gx) {
    int64_t i;
    for (i = 0; i < n; i++) {
        float sg = seq__sigmoidf_vec(x[i]);
        gx[i] = gy[i] * sg * (1.0f + x[i] * (1.0f - sg));
    }
}

/* ---- the causal convolution that carries its window ----------------------------------- */

/* One streaming step of a depthwise causal convolution with K taps over C channels whose
 * last K-1 inputs sit in win (C,K-1), oldest first: y = b + w[:,:K-1] . win + w[:,K-1] x;
 * then x enters the window. w (C,K), b (C) or NULL, x, y (C). */
static void seq__mamba_conv_step(const float *w, const float *b, int64_t C, int64_t K, float *win, const float *x,
                           float *y) {
    int64_t c, j, W = K - 1;
    for (c = 0; c < C; c++) {
        const float *wc = w + c * K;
        float *hc = win + c * W, acc = b ? b[c] : 0.0f;
        for (j = 0; j < W; j++) acc += wc[j] * hc[j];
        y[c] = acc + wc[W] * x[c];
        for (j = 0; j + 1 < W; j++) hc[j] = hc[j + 1];
        if (W > 0) hc[W - 1] = x[c];
    }
}

typedef struct seq__conv_aux {
    seq_tensor *c0;
    const int32_t *lengths;
    const uint8_t *resets;
    float *pre; /* (B,T,C) the convolution before its silu */
    float *wt;  /* (K,C) the weights, tap-major */
} seq__conv_aux;

/* Input s of row r in what the taps read: the W columns of c (B,C,W) for s < 0, then x
 * (B,T,C). Returns channel 0's address and sets the stride between channels; NULL when
 * that buffer is (a missing c0, or a gradient nobody wants). */
static float *seq__conv_at(float *x, float *c, int64_t r, int64_t s, int64_t T, int64_t C, int64_t W,
                           int64_t *stride) {
    *stride = s >= 0 ? 1 : W;
    if (s >= 0) return x ? x + (r * T + s) * C : NULL;
    return c ? c + r * C * W + (s + W) : NULL;
}

/* y (C) += a (C) * e (C, stride se): one tap over every channel. */
static void seq__conv_axpy(const float *SEQ_RESTRICT a, const float *SEQ_RESTRICT e, int64_t se, int64_t C,
                           float *SEQ_RESTRICT y) {
    int64_t c;
    if (se == 1)
        for (c = 0; c < C; c++) y[c] += a[c] * e[c];
    else
        for (c = 0; c < C; c++) y[c] += a[c] * e[c * se];
}

/* With e what the taps read (c0's columns, then x) and start the first position of t's
 * segment, y = silu(p) with p[r,t,c] = b[c] + sum_k w[c,k] e[r,s,c] over s = t-W+k >=
 * start, so with dp = dy silu'(p):
 *   de[s] += dp[t] w[k],  dw[c,k] += dp[t] e[s],  db += dp[t];
 * cn[r,:,j] is e[r,len-W+j] when that is in the last segment (for an empty row: c0). */
static void seq__conv_silu_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out, *cn = n->extra_out[0];
    const seq__conv_aux *a = (const seq__conv_aux *)n->aux;
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], K = w->shape[w->ndim - 1], W = K - 1;
    float *gx = seq__grad(ctx, x), *gw = seq__grad(ctx, w), *gb = seq__grad(ctx, b), *gc0 = seq__grad(ctx, a->c0);
    float *c0v = a->c0 ? a->c0->data : NULL, *gp = (float *)seq_ctx_alloc(ctx, (size_t)C * sizeof(float));
    float *gwt = gw ? (float *)seq__calloc(ctx, (size_t)(K * C) * sizeof(float)) : NULL;
    int64_t r, t, k, c, j, se, sg;
    if (!gp || ctx->status != SEQ_OK) return;
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(a->lengths, r, T), start = -W;
        for (t = 0; t < len; t++) {
            if (a->resets && a->resets[r * T + t]) start = t;
            if (!y->grad) continue;
            seq__silu_backward_row(a->pre + (r * T + t) * C, y->grad + (r * T + t) * C, C, gp);
            if (gb)
                for (c = 0; c < C; c++) gb[c] += gp[c];
            for (k = start > t - W ? start - (t - W) : 0; k < K; k++) {
                float *e = seq__conv_at(x->data, c0v, r, t - W + k, T, C, W, &se);
                float *ge = seq__conv_at(gx, gc0, r, t - W + k, T, C, W, &sg);
                if (gwt && e) seq__conv_axpy(gp, e, se, C, gwt + k * C);
                if (ge)
                    for (c = 0; c < C; c++) ge[c * sg] += gp[c] * a->wt[k * C + c];
            }
        }
        if (cn->grad)
            for (j = start > len - W ? start - (len - W) : 0; j < W; j++) {
                float *ge = seq__conv_at(gx, gc0, r, len - W + j, T, C, W, &sg);
                if (ge)
                    for (c = 0; c < C; c++) ge[c * sg] += cn->grad[(r * C + c) * W + j];
            }
    }
    if (gwt)
        for (c = 0; c < C; c++)
            for (k = 0; k < K; k++) gw[c * K + k] += gwt[k * C + c];
}

/* The short convolution of both blocks and its silu, one node that also carries state:
 * x (B,T,C), w (C,1,K), b (C) or NULL, c0 (B,C,K-1) or NULL (zeros) -> y (B,T,C) =
 * silu(conv), and *cn (B,C,K-1) the last K-1 inputs of each row's last segment. A reset
 * at t hides everything before t; y is 0 past a length. Checked by the caller. */
static seq_tensor *seq__conv_silu(seq_ctx *ctx, const char *op, seq_tensor *x, seq_tensor *w, seq_tensor *b,
                                  seq_tensor *c0, const int32_t *lengths, const uint8_t *resets, seq_tensor **cn) {
    seq_tensor *ins[4], *y;
    seq__conv_aux *a;
    seq__node *n;
    int64_t B, T, C, K, W, r, t, k, c, j, se = 0, shape[3];
    ins[0] = x;
    ins[1] = w;
    ins[2] = b;
    ins[3] = c0;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    B = x->shape[0];
    T = x->shape[1];
    C = x->shape[2];
    K = w->shape[w->ndim - 1];
    W = K - 1;
    shape[0] = B;
    shape[1] = C;
    shape[2] = W;
    y = seq__out(ctx, op, 3, x->shape, 4, ins);
    *cn = seq__out(ctx, op, 3, shape, 4, ins);
    a = (seq__conv_aux *)seq_ctx_alloc(ctx, sizeof *a);
    if (!y || !*cn || !a) return NULL;
    a->pre = (float *)seq_ctx_alloc(ctx, (size_t)y->numel * sizeof(float));
    a->wt = (float *)seq_ctx_alloc(ctx, (size_t)(K * C) * sizeof(float));
    if (!a->pre || !a->wt) return NULL;
    for (c = 0; c < C; c++)
        for (k = 0; k < K; k++) a->wt[k * C + c] = w->data[c * K + k];
    if (lengths) memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* 0 past each length */
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(lengths, r, T), start = -W;
        for (t = 0; t < len; t++) {
            float *p = a->pre + (r * T + t) * C;
            if (resets && resets[r * T + t]) start = t;
            for (c = 0; c < C; c++) p[c] = b ? b->data[c] : 0.0f;
            for (k = start > t - W ? start - (t - W) : 0; k < K; k++) {
                const float *e = seq__conv_at(x->data, c0 ? c0->data : NULL, r, t - W + k, T, C, W, &se);
                if (e) seq__conv_axpy(a->wt + k * C, e, se, C, p);
            }
            seq__silu_row(p, C, y->data + (r * T + t) * C);
        }
        for (j = 0; j < W; j++) {
            const float *e = len - W + j >= start ? seq__conv_at(x->data, c0 ? c0->data : NULL, r, len - W + j, T, C,
                                                                 W, &se)
                                                  : NULL;
            for (c = 0; c < C; c++) (*cn)->data[(r * C + c) * W + j] = e ? e[c * se] : 0.0f;
        }
    }
    a->c0 = c0;
    a->lengths = lengths;
    a->resets = resets;
    n = seq__record(ctx, op, y, seq__conv_silu_backward, 3, ins);
    if (n) {
        n->aux = a;
        n->extra_out[0] = *cn;
    }
    return y;
}

/* ---- the selective-scan engine: Mamba's S6 and Mamba-2's SSD ----------------------------- */

/* D channels, each with an N-state, in H heads of P channels that share delta, A and
 * Dskip (Mamba: P = 1, H = D). Bm and Cm hold G groups of N per step; head h reads group
 * h / (H/G). A is Mamba's (D,N) when a_full, else one rate per head. Channels run in
 * blocks of up to bw: P = 1 and any width (the last block of a row may be narrower), or
 * exactly one head. A block's state is kept as (N,w) so that the inner loops run along
 * channels; every ck steps the forward keeps a checkpoint of it, from which the backward
 * recomputes the states of those ck steps. The blocks fuse the steps around their scan
 * as mamba_ssm's kernels do: delta = softplus(delta + dbias) in, y * silu(z) out. */
typedef struct seq__ssm {
    int64_t B, T, D, N, H, P, G, bw, ck, nck;
    int a_full;   /* A is (D,N); else one rate per head */
    int chunked;  /* the forward runs the chunked SSD algorithm (one rate per head) */
    int softplus; /* the scan uses softplus(delta + dbias) */
    seq_tensor *u, *delta, *dbias, *A, *Bm, *Cm, *Dskip, *h0;
    seq_tensor *z; /* NULL, or the gate (shape of u): the output is y * silu(z) */
    const int32_t *lengths;
    const uint8_t *resets;
    const float *dl; /* (B,T,H) the delta the scan uses: delta's data, or after bias and softplus */
    float *Ach;      /* each channel's rates: (N,D) when a_full (A transposed), else (D) */
    float *Dch;      /* (D) each channel's Dskip (0 without) */
    float *ckpt;     /* (B, blocks, nck, N, bw): the state entering step c*ck, NULL without backward */
} seq__ssm;

#define SEQ__SSM_CK 16 /* checkpoint interval of the recurrence */
#define SEQ__SSM_BW 64 /* Mamba's block width: a block's state and decay stay in L1 */

/* Blocks per row, and the width of the one starting at channel d0. */
static int64_t seq__ssm_blocks(const seq__ssm *s) { return (s->D + s->bw - 1) / s->bw; }
static int64_t seq__ssm_width(const seq__ssm *s, int64_t d0) { return s->D - d0 < s->bw ? s->D - d0 : s->bw; }

/* Floats of one step's decay for a block of width w: a rate per state and channel, or
 * per channel. */
static int64_t seq__ssm_decay_len(const seq__ssm *s, int64_t w) { return s->a_full ? s->N * w : w; }

static float *seq__ssm_ckpt(const seq__ssm *s, int64_t r, int64_t d0, int64_t c) {
    return s->ckpt + ((r * seq__ssm_blocks(s) + d0 / s->bw) * s->nck + c) * s->N * s->bw;
}

/* Block state (N,w) of channels [d0,d0+w) of row r from, or added into, a public state
 * (B,D,N); v NULL reads zeros and adds nothing. */
static void seq__ssm_state_load(const seq__ssm *s, const float *v, int64_t r, int64_t d0, int64_t w, float *h) {
    int64_t i, n;
    for (n = 0; n < s->N; n++)
        for (i = 0; i < w; i++) h[n * w + i] = v ? v[(r * s->D + d0 + i) * s->N + n] : 0.0f;
}
static void seq__ssm_state_add(const seq__ssm *s, const float *h, int64_t r, int64_t d0, int64_t w, float *v) {
    int64_t i, n;
    if (v)
        for (n = 0; n < s->N; n++)
            for (i = 0; i < w; i++) v[(r * s->D + d0 + i) * s->N + n] += h[n * w + i];
}

/* Step t of row r for the block [d0,d0+w): dl (w) = delta, du (w) = delta * u, and the
 * decay exp(delta A): (N,w) when a_full, else (w). */
static void seq__ssm_prep(const seq__ssm *s, int64_t r, int64_t t, int64_t d0, int64_t w, float *SEQ_RESTRICT dl,
                          float *SEQ_RESTRICT du, float *SEQ_RESTRICT dec) {
    const float *drow = s->dl + (r * s->T + t) * s->H, *urow = s->u->data + (r * s->T + t) * s->D + d0;
    int64_t i, n;
    if (s->P == 1) memcpy(dl, drow + d0, (size_t)w * sizeof(float));
    else
        for (i = 0; i < w; i++) dl[i] = drow[d0 / s->P]; /* the block is one head */
    for (i = 0; i < w; i++) du[i] = dl[i] * urow[i];
    if (s->a_full)
        for (n = 0; n < s->N; n++) {
            const float *ar = s->Ach + n * s->D + d0;
            for (i = 0; i < w; i++) dec[n * w + i] = seq__expf_vec(dl[i] * ar[i]);
        }
    else /* one loop for both cases would stop gcc 12 from vectorizing it */
        for (i = 0; i < w; i++) dec[i] = seq__expf_vec(dl[i] * s->Ach[d0 + i]);
}

/* One step of a block of width bw: h[n,:] = dec[n,:] h[n,:] + du Bt[n] for each state n
 * (dec shared by every n unless a_full), y (bw) += sum_n Ct[n] h[n,:]. */
static void seq__ssm_step_block(int64_t N, int64_t bw, int a_full, const float *SEQ_RESTRICT dec,
                                const float *SEQ_RESTRICT du, const float *Bt, const float *Ct,
                                float *SEQ_RESTRICT h, float *SEQ_RESTRICT y) {
    int64_t n, i;
    for (n = 0; n < N; n++) {
        const float *SEQ_RESTRICT dr = a_full ? dec + n * bw : dec;
        float *SEQ_RESTRICT hr = h + n * bw, b = Bt[n], c = Ct[n];
        for (i = 0; i < bw; i++) {
            hr[i] = dr[i] * hr[i] + du[i] * b;
            y[i] += c * hr[i];
        }
    }
}

/* y (w) = Dskip u for step t of row r, block [d0,d0+w): where the output starts. */
static void seq__ssm_skip(const seq__ssm *s, int64_t r, int64_t t, int64_t d0, int64_t w, float *SEQ_RESTRICT y) {
    const float *SEQ_RESTRICT urow = s->u->data + (r * s->T + t) * s->D + d0, *SEQ_RESTRICT dch = s->Dch + d0;
    int64_t i;
    for (i = 0; i < w; i++) y[i] = dch[i] * urow[i];
}

/* y (n) *= silu(z): the output gate. */
static void seq__ssm_gate(const float *SEQ_RESTRICT z, int64_t n, float *SEQ_RESTRICT y) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] *= z[i] * seq__sigmoidf_vec(z[i]);
}

/* Bm_t or Cm_t of row r for the group of block d0: N floats. */
static const float *seq__ssm_group(const seq__ssm *s, const seq_tensor *m, int64_t r, int64_t t, int64_t d0) {
    return m->data + ((r * s->T + t) * s->G + d0 / (s->D / s->G)) * s->N;
}

/* The recurrence for block d0 of row r: y (B,T,D) there, the final state into hn (B,D,N)
 * (zeroed by the caller), a checkpoint every ck steps. work: see seq__ssm_work. */
static void seq__ssm_forward_block(const seq__ssm *s, int64_t r, int64_t d0, float *y, float *hn, float *work) {
    int64_t bw = seq__ssm_width(s, d0), N = s->N, len = seq__row_len(s->lengths, r, s->T), t;
    float *h = work, *dl = h + N * bw, *du = dl + bw, *yb = du + bw, *dec = yb + bw;
    seq__ssm_state_load(s, s->h0 ? s->h0->data : NULL, r, d0, bw, h);
    for (t = 0; t < len; t++) {
        if (s->ckpt && t % s->ck == 0) memcpy(seq__ssm_ckpt(s, r, d0, t / s->ck), h, (size_t)(N * bw) * sizeof(float));
        if (s->resets && s->resets[r * s->T + t]) memset(h, 0, (size_t)(N * bw) * sizeof(float));
        seq__ssm_prep(s, r, t, d0, bw, dl, du, dec);
        seq__ssm_skip(s, r, t, d0, bw, yb);
        seq__ssm_step_block(N, bw, s->a_full, dec, du, seq__ssm_group(s, s->Bm, r, t, d0),
                            seq__ssm_group(s, s->Cm, r, t, d0), h, yb);
        if (s->z) seq__ssm_gate(s->z->data + (r * s->T + t) * s->D + d0, bw, yb);
        memcpy(y + (r * s->T + t) * s->D + d0, yb, (size_t)bw * sizeof(float));
    }
    seq__ssm_state_add(s, h, r, d0, bw, hn);
}

/* The chunked SSD algorithm for head h of row r (block d0 = h*P, decay per head), chunks
 * of Q = ck steps. With cum[i] = sum_{k<=i} dt_k A over the chunk and seg[i] the number of
 * resets in it up to i, step i of a chunk that starts from state S (N,P) gives
 *     y_i = Dskip x_i + sum_{j<=i, seg_j = seg_i} e^{cum_i - cum_j} dt_j (C_i . B_j) x_j
 *           + [seg_i = 0] e^{cum_i} S^T C_i,
 * and the next chunk starts from [seg_q = 0] e^{cum_q} S + sum_{seg_j = seg_q} e^{cum_q -
 * cum_j} dt_j B_j x_j^T (q the chunk's last step): three GEMMs per chunk. The exponents
 * are differences taken in double, so long chunks lose nothing to cancellation.
 * work: see seq__ssm_work. */
static void seq__ssd_chunked_head(const seq__ssm *s, int64_t r, int64_t h, float *y, float *hn, float *work,
                                  double *cum, int64_t *seg) {
    int64_t P = s->P, N = s->N, Q = s->ck, D = s->D, GN = s->G * s->N, d0 = h * P;
    int64_t len = seq__row_len(s->lengths, r, s->T), t0, i, j, p, n;
    float *S = work, *L = S + N * P, *Cs = L + Q * Q, *Xw = Cs + Q * N;
    seq__ssm_state_load(s, s->h0 ? s->h0->data : NULL, r, d0, P, S);
    for (t0 = 0; t0 < len; t0 += Q) {
        int64_t q = len - t0 < Q ? len - t0 : Q;
        const float *X = s->u->data + (r * s->T + t0) * D + d0, *dt = s->dl + (r * s->T + t0) * s->H + h;
        const float *Bc = seq__ssm_group(s, s->Bm, r, t0, d0), *Cc = seq__ssm_group(s, s->Cm, r, t0, d0);
        float *Y = y + (r * s->T + t0) * D + d0, end;
        double run = 0.0;
        if (s->ckpt) memcpy(seq__ssm_ckpt(s, r, d0, t0 / Q), S, (size_t)(N * P) * sizeof(float));
        for (i = 0; i < q; i++) {
            seg[i] = (i ? seg[i - 1] : 0) + (s->resets && s->resets[r * s->T + t0 + i]);
            run += (double)dt[i * s->H] * s->Ach[d0];
            cum[i] = run;
        }
        /* L = mask o decay o dt_j o C B^T */
        seq_sgemm(0, 1, q, q, N, 1.0f, Cc, GN, Bc, GN, 0.0f, L, Q);
        for (i = 0; i < q; i++)
            for (j = 0; j < q; j++)
                L[i * Q + j] = j <= i && seg[j] == seg[i] ? L[i * Q + j] * expf((float)(cum[i] - cum[j])) * dt[j * s->H]
                                                           : 0.0f;
        for (i = 0; i < q; i++) {
            float coef = seg[i] == 0 ? expf((float)cum[i]) : 0.0f;
            seq__ssm_skip(s, r, t0 + i, d0, P, Y + i * D);
            for (n = 0; n < N; n++) Cs[i * N + n] = coef * Cc[i * GN + n];
        }
        seq_sgemm(0, 0, q, P, q, 1.0f, L, Q, X, D, 1.0f, Y, D);  /* Y += L X      */
        seq_sgemm(0, 0, q, P, N, 1.0f, Cs, N, S, P, 1.0f, Y, D); /* Y += Cs S     */
        for (j = 0; j < q; j++) {
            float wj = seg[j] == seg[q - 1] ? expf((float)(cum[q - 1] - cum[j])) * dt[j * s->H] : 0.0f;
            for (p = 0; p < P; p++) Xw[j * P + p] = wj * X[j * D + p];
        }
        end = seg[q - 1] == 0 ? expf((float)cum[q - 1]) : 0.0f;
        seq_sgemm(1, 0, N, P, q, 1.0f, Bc, GN, Xw, P, end, S, P); /* S = end S + B^T Xw */
        if (s->z)
            for (i = 0; i < q; i++) seq__ssm_gate(s->z->data + (r * s->T + t0 + i) * D + d0, P, Y + i * D);
    }
    seq__ssm_state_add(s, S, r, d0, P, hn);
}

/* Gradient buffers of a scan (NULL: not wanted): dl (B,T,H) for the delta the scan used,
 * Ach and Dch per channel as in seq__ssm; seq__ssm_backward maps them to the inputs. */
typedef struct seq__ssm_grads {
    float *u, *dl, *Ach, *Dch, *Bm, *Cm, *h0, *z;
} seq__ssm_grads;

/* Sum of a[i] b[i] in eight lanes, so the compiler may run them side by side. */
static float seq__dotf(const float *a, const float *b, int64_t n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i, k, n8 = n - n % 8;
    for (i = 0; i < n8; i += 8)
        for (k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
    for (i = n8; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Backward of step t of row r for block d0, given the gradient gy (w) of its ungated
 * output (NULL: none), the state before it (hp, NULL after a reset), after it (hc) and
 * the step's dl, du, dec; dh (N,w) is the carried gradient of hc, replaced by that of
 * hp. With h = dec h_prev + du B and y = C . h + Dskip u:
 *   dC += dy h,  dh += dy C,  dB += dh du,  ddu = sum_n dh B,
 *   ddec = dh h_prev  ->  ddelta += ddec dec A,  dA += ddec dec delta,
 *   ddelta += ddu u,  du += ddu delta + dy Dskip,  dDskip += dy u,  dh_prev = dh dec.
 * work: 3 w floats. */
static void seq__ssm_step_backward(const seq__ssm *s, const seq__ssm_grads *g, const float *gy, int64_t r,
                                   int64_t t, int64_t d0, const float *hp, const float *hc, const float *dl,
                                   const float *du, const float *dec, float *SEQ_RESTRICT dh, float *work) {
    int64_t w = seq__ssm_width(s, d0), N = s->N, o = (r * s->T + t) * s->D + d0, i, n;
    const float *SEQ_RESTRICT urow = s->u->data + o, *SEQ_RESTRICT ach = s->Ach + d0;
    const float *Bt = seq__ssm_group(s, s->Bm, r, t, d0), *Ct = seq__ssm_group(s, s->Cm, r, t, d0);
    float *SEQ_RESTRICT gdu = work, *SEQ_RESTRICT gdl = work + w, *SEQ_RESTRICT gdec = work + 2 * w;
    float *gB = g->Bm ? g->Bm + (Bt - s->Bm->data) : NULL, *gC = g->Cm ? g->Cm + (Ct - s->Cm->data) : NULL;
    float *gdlrow = g->dl ? g->dl + (r * s->T + t) * s->H : NULL;
    /* the gradients this step adds to, as restrict pointers (NULL: not wanted) so that
     * their loops vectorize: gcc cannot prove they miss the arrays they are read with */
    float *SEQ_RESTRICT gu = g->u ? g->u + o : NULL, *SEQ_RESTRICT gD = g->Dch ? g->Dch + d0 : NULL;
    float *SEQ_RESTRICT gA = g->Ach ? g->Ach + d0 : NULL;
    memset(work, 0, (size_t)(3 * w) * sizeof(float));
    if (gy) {
        if (gD)
            for (i = 0; i < w; i++) gD[i] += gy[i] * urow[i];
        if (gu)
            for (i = 0; i < w; i++) gu[i] += gy[i] * s->Dch[d0 + i];
        for (n = 0; n < N; n++) {
            float *SEQ_RESTRICT dr = dh + n * w, c = Ct[n];
            if (gC) gC[n] += seq__dotf(gy, hc + n * w, w);
            for (i = 0; i < w; i++) dr[i] += gy[i] * c;
        }
    }
    for (n = 0; n < N; n++) {
        const float *SEQ_RESTRICT dr = dh + n * w, *SEQ_RESTRICT hr = hp ? hp + n * w : NULL;
        float b = Bt[n];
        if (gB) gB[n] += seq__dotf(dr, du, w);
        for (i = 0; i < w; i++) gdu[i] += dr[i] * b;
        if (!hr) continue;
        if (s->a_full) { /* ddec dec per state: to delta through A, to A through delta */
            const float *SEQ_RESTRICT de = dec + n * w, *SEQ_RESTRICT ar = ach + n * s->D;
            for (i = 0; i < w; i++) gdec[i] += dr[i] * hr[i] * de[i] * ar[i];
            if (gA)
                for (i = 0; i < w; i++) gA[n * s->D + i] += dr[i] * hr[i] * de[i] * dl[i];
        } else {
            for (i = 0; i < w; i++) gdec[i] += dr[i] * hr[i];
        }
    }
    for (n = 0; n < N; n++) {
        float *SEQ_RESTRICT dr = dh + n * w;
        const float *de = s->a_full ? dec + n * w : dec;
        if (hp)
            for (i = 0; i < w; i++) dr[i] *= de[i];
        else
            memset(dr, 0, (size_t)w * sizeof(float));
    }
    /* gdec: sum_n ddec dec A (a_full), or sum_n ddec (one rate, its dec and A applied here) */
    if (s->a_full)
        for (i = 0; i < w; i++) gdl[i] = gdu[i] * urow[i] + gdec[i];
    else
        for (i = 0; i < w; i++) gdl[i] = gdu[i] * urow[i] + gdec[i] * dec[i] * ach[i];
    if (!s->a_full && gA)
        for (i = 0; i < w; i++) gA[i] += gdec[i] * dec[i] * dl[i];
    if (gu)
        for (i = 0; i < w; i++) gu[i] += gdu[i] * dl[i];
    if (gdlrow && s->P == 1)
        for (i = 0; i < w; i++) gdlrow[d0 + i] += gdl[i];
    else if (gdlrow) /* the block is one head */
        for (i = 0; i < w; i++) gdlrow[d0 / s->P] += gdl[i];
}

/* The gate's backward: with out = y silu(z), gz += gout y silu'(z) and gy = gout silu(z),
 * each (n). */
static void seq__ssm_gate_backward(const float *SEQ_RESTRICT z, const float *SEQ_RESTRICT y,
                                   const float *SEQ_RESTRICT gout, int64_t n, float *SEQ_RESTRICT gz,
                                   float *SEQ_RESTRICT gy) {
    int64_t i;
    for (i = 0; i < n; i++) {
        float sg = seq__sigmoidf_vec(z[i]);
        if (gz) gz[i] += gout[i] * y[i] * sg * (1.0f + z[i] * (1.0f - sg));
        gy[i] = gout[i] * z[i] * sg;
    }
}

/* Backward of block d0 of row r, chunk by chunk from the end: the ck states of a chunk
 * (and its outputs, for the gate) are recomputed from its checkpoint, then walked back.
 * gy (B,T,D) and ghn (B,D,N) may be NULL. work: see seq__ssm_work. */
static void seq__ssm_backward_block(const seq__ssm *s, const seq__ssm_grads *g, const float *gy, const float *ghn,
                                    int64_t r, int64_t d0, float *work) {
    int64_t bw = seq__ssm_width(s, d0), N = s->N, NB = N * bw, DL = seq__ssm_decay_len(s, bw), ck = s->ck;
    int64_t len = seq__row_len(s->lengths, r, s->T), c, t, i;
    float *dh = work, *hs = dh + NB, *dls = hs + (ck + 1) * NB, *dus = dls + ck * bw, *decs = dus + ck * bw;
    float *ys = decs + ck * DL, *gyg = ys + ck * bw, *scratch = gyg + bw;
    seq__ssm_state_load(s, ghn, r, d0, bw, dh);
    for (c = (len + ck - 1) / ck - 1; c >= 0; c--) {
        int64_t t0 = c * ck, t1 = t0 + ck < len ? t0 + ck : len;
        memcpy(hs, seq__ssm_ckpt(s, r, d0, c), (size_t)NB * sizeof(float));
        for (t = t0; t < t1; t++) { /* hs[i] enters step t0+i (before any reset), hs[i+1] leaves it */
            float *h = hs + (t - t0 + 1) * NB;
            i = t - t0;
            if (s->resets && s->resets[r * s->T + t]) memset(h, 0, (size_t)NB * sizeof(float));
            else memcpy(h, h - NB, (size_t)NB * sizeof(float));
            seq__ssm_prep(s, r, t, d0, bw, dls + i * bw, dus + i * bw, decs + i * DL);
            seq__ssm_skip(s, r, t, d0, bw, ys + i * bw);
            seq__ssm_step_block(N, bw, s->a_full, decs + i * DL, dus + i * bw, seq__ssm_group(s, s->Bm, r, t, d0),
                                seq__ssm_group(s, s->Cm, r, t, d0), h, ys + i * bw);
        }
        for (t = t1 - 1; t >= t0; t--) {
            int64_t o = (r * s->T + t) * s->D + d0;
            int reset = s->resets && s->resets[r * s->T + t];
            const float *gyb = gy ? gy + o : NULL;
            i = t - t0;
            if (gy && s->z) {
                seq__ssm_gate_backward(s->z->data + o, ys + i * bw, gy + o, bw, g->z ? g->z + o : NULL, gyg);
                gyb = gyg;
            }
            seq__ssm_step_backward(s, g, gyb, r, t, d0, reset ? NULL : hs + i * NB, hs + (i + 1) * NB, dls + i * bw,
                                   dus + i * bw, decs + i * DL, dh, scratch);
        }
    }
    seq__ssm_state_add(s, dh, r, d0, bw, g->h0);
}

/* Scratch floats for one block of a pass, the largest of forward, chunked and backward,
 * and at least a row of delta (H). */
static int64_t seq__ssm_work(const seq__ssm *s) {
    int64_t NB = s->N * s->bw, DL = seq__ssm_decay_len(s, s->bw), ck = s->ck, Q = s->ck, P = s->P, k, most = s->H;
    int64_t need[3];
    need[0] = NB + 3 * s->bw + DL;
    need[1] = (ck + 2) * NB + ck * (3 * s->bw + DL) + 5 * s->bw;
    need[2] = s->N * P + Q * Q + Q * s->N + Q * P;
    for (k = 0; k < 3; k++) most = need[k] > most ? need[k] : most;
    return most;
}

/* Row r (H floats) of v = delta + dbias, the argument of the softplus. */
static void seq__ssm_delta_row(const seq__ssm *s, int64_t r, float *v) {
    const float *row = s->delta->data + r * s->H;
    int64_t k;
    if (s->dbias)
        for (k = 0; k < s->H; k++) v[k] = row[k] + s->dbias->data[k];
    else
        memcpy(v, row, (size_t)s->H * sizeof(float));
}

/* v[d / P] += ch[d] for each channel d: per-channel sums back to their heads. */
static void seq__ssm_to_heads(const seq__ssm *s, const float *ch, float *v) {
    int64_t d;
    if (ch && v)
        for (d = 0; d < s->D; d++) v[d / s->P] += ch[d];
}

static void seq__ssm_backward(seq_ctx *ctx, seq__node *n) {
    const seq__ssm *s = (const seq__ssm *)n->aux;
    const float *gy = n->out->grad, *ghn = n->extra_out[0]->grad;
    float *gdelta = seq__grad(ctx, s->delta), *gdbias = seq__grad(ctx, s->dbias), *gA = seq__grad(ctx, s->A);
    float *gD = seq__grad(ctx, s->Dskip), *work = (float *)seq_ctx_alloc(ctx, (size_t)seq__ssm_work(s) * sizeof(float));
    float *v;
    int64_t BT = s->B * s->T, nA = s->a_full ? s->N * s->D : s->D, r, d0, d, k;
    seq__ssm_grads g;
    g.u = seq__grad(ctx, s->u);
    g.Bm = seq__grad(ctx, s->Bm);
    g.Cm = seq__grad(ctx, s->Cm);
    g.h0 = seq__grad(ctx, s->h0);
    g.z = seq__grad(ctx, s->z);
    g.dl = gdelta || gdbias ? (float *)seq__calloc(ctx, (size_t)(BT * s->H) * sizeof(float)) : NULL;
    g.Ach = gA ? (float *)seq__calloc(ctx, (size_t)nA * sizeof(float)) : NULL;
    g.Dch = gD ? (float *)seq__calloc(ctx, (size_t)s->D * sizeof(float)) : NULL;
    v = (float *)seq_ctx_alloc(ctx, (size_t)s->H * sizeof(float));
    if (!work || !v || ctx->status != SEQ_OK) return;
    for (r = 0; r < s->B; r++)
        for (d0 = 0; d0 < s->D; d0 += s->bw) seq__ssm_backward_block(s, &g, gy, ghn, r, d0, work);
    for (r = 0; g.dl && r < BT; r++) { /* through softplus(delta + dbias): softplus' = sigmoid */
        float *gr = g.dl + r * s->H;
        seq__ssm_delta_row(s, r, v);
        if (s->softplus)
            for (k = 0; k < s->H; k++) gr[k] *= seq__sigmoidf_vec(v[k]);
        for (k = 0; k < s->H; k++) {
            if (gdelta) gdelta[r * s->H + k] += gr[k];
            if (gdbias) gdbias[k] += gr[k];
        }
    }
    if (gA && s->a_full) /* back from (N,D) */
        for (d = 0; d < s->D; d++)
            for (k = 0; k < s->N; k++) gA[d * s->N + k] += g.Ach[k * s->D + d];
    if (!s->a_full) seq__ssm_to_heads(s, g.Ach, gA);
    seq__ssm_to_heads(s, g.Dch, gD);
}

/* 1 when t is NULL or a float tensor of the given dims (-1: any); else 0. */
static int seq__is_shape(const seq_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t want[4];
    int k;
    if (!t) return 1;
    want[0] = d0;
    want[1] = d1;
    want[2] = d2;
    want[3] = d3;
    if (t->dtype != SEQ_F32 || t->ndim != ndim) return 0;
    for (k = 0; k < ndim; k++)
        if (want[k] >= 0 && t->shape[k] != want[k]) return 0;
    return 1;
}

/* Runs a scan set up by seq__selective_setup or seq__ssd_setup: y (shape of u), and the
 * final state (B,D,N) for Mamba's A, (B,H,P,N) for one rate per head, into io->hn. */
static seq_tensor *seq__ssm_run(seq_ctx *ctx, const char *op, const seq__ssm *proto, seq_rnn_io *io) {
    static const char *const names[9] = {"u", "delta", "Bm", "Cm", "A", "Dskip", "h0", "z", "delta bias"};
    seq_tensor *ins[9], *y, *hn;
    seq__ssm *s;
    seq__node *nd;
    float *work, *dl, *Ach, *Dch;
    int64_t B = proto->B, T = proto->T, H = proto->H, hs[4], r, d0, d, k;
    double *cum;
    int64_t *seg;
    int i;
    ins[0] = proto->u;
    ins[1] = proto->delta;
    ins[2] = proto->Bm;
    ins[3] = proto->Cm;
    ins[4] = proto->A;
    ins[5] = proto->Dskip;
    ins[6] = proto->h0;
    ins[7] = proto->z;
    ins[8] = proto->dbias;
    if (io && io->c0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "a scan has one state: io->c0 must be NULL");
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, io ? io->lengths : NULL, B, T)) return NULL;
    for (i = 0; i < 9; i++)
        if (ins[i] && !seq__finite_ok(ctx, op, names[i], ins[i]->data, ins[i]->numel)) return NULL;
    hs[0] = B;
    hs[1] = proto->a_full ? proto->D : H;
    hs[2] = proto->a_full ? proto->N : proto->P;
    hs[3] = proto->N;
    s = (seq__ssm *)seq_ctx_alloc(ctx, sizeof *s);
    y = seq__out(ctx, op, proto->u->ndim, proto->u->shape, 9, ins);
    hn = seq__out(ctx, op, proto->a_full ? 3 : 4, hs, 9, ins);
    if (!s || !y || !hn) return NULL;
    *s = *proto;
    s->lengths = io ? (const int32_t *)seq__arena_copy(ctx, io->lengths, (size_t)B * sizeof(int32_t)) : NULL;
    s->resets = io ? (const uint8_t *)seq__arena_copy(ctx, io->resets, (size_t)(B * T)) : NULL;
    s->nck = (T + s->ck - 1) / s->ck;
    if (y->requires_grad)
        s->ckpt = (float *)seq_ctx_alloc(ctx, (size_t)(B * seq__ssm_blocks(s) * s->nck * s->N * s->bw) * sizeof(float));
    dl = s->softplus || s->dbias ? (float *)seq_ctx_alloc(ctx, (size_t)(B * T * H) * sizeof(float)) : NULL;
    s->Ach = Ach = (float *)seq_ctx_alloc(ctx, (size_t)(s->a_full ? s->N * s->D : s->D) * sizeof(float));
    s->Dch = Dch = (float *)seq_ctx_alloc(ctx, (size_t)s->D * sizeof(float));
    work = (float *)seq_ctx_alloc(ctx, (size_t)seq__ssm_work(s) * sizeof(float));
    cum = (double *)seq_ctx_alloc(ctx, (size_t)s->ck * sizeof(double));
    seg = (int64_t *)seq_ctx_alloc(ctx, (size_t)s->ck * sizeof(int64_t));
    if (ctx->status != SEQ_OK) return NULL;
    for (r = 0; dl && r < B * T; r++) {
        seq__ssm_delta_row(s, r, dl + r * H);
        if (s->softplus) seq__softplus_row(dl + r * H, H, work);
    }
    s->dl = dl ? dl : s->delta->data;
    for (d = 0; d < s->D; d++) {
        Dch[d] = s->Dskip ? s->Dskip->data[d / s->P] : 0.0f;
        if (!s->a_full) Ach[d] = s->A->data[d / s->P];
        else
            for (k = 0; k < s->N; k++) Ach[k * s->D + d] = s->A->data[d * s->N + k];
    }
    if (s->lengths) memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* 0 past each length */
    memset(hn->data, 0, (size_t)hn->numel * sizeof(float));
    for (r = 0; r < B; r++)
        for (d0 = 0; d0 < s->D; d0 += s->bw) {
            if (s->chunked) seq__ssd_chunked_head(s, r, d0 / s->P, y->data, hn->data, work, cum, seg);
            else seq__ssm_forward_block(s, r, d0, y->data, hn->data, work);
        }
    nd = seq__record(ctx, op, y, seq__ssm_backward, 4, ins);
    if (nd) {
        nd->aux = s;
        nd->extra_out[0] = hn;
    }
    if (io) io->hn = hn;
    return y;
}

/* Checks the selective scan's inputs (h0 may be NULL) and describes the scan in s: one
 * channel per head, one group, A (D,N), blocks of SEQ__SSM_BW channels. */
static int seq__selective_setup(seq_ctx *ctx, const char *op, seq__ssm *s, seq_tensor *u, seq_tensor *delta,
                                seq_tensor *A, seq_tensor *Bm, seq_tensor *Cm, seq_tensor *Dskip, seq_tensor *h0) {
    seq_tensor *ins[7];
    ins[0] = u;
    ins[1] = delta;
    ins[2] = A;
    ins[3] = Bm;
    ins[4] = Cm;
    ins[5] = Dskip;
    ins[6] = h0;
    if (!seq__ok(ctx, op, 5, ins)) return 0;
    memset(s, 0, sizeof *s);
    s->B = u->ndim == 3 ? u->shape[0] : 0;
    s->T = u->ndim == 3 ? u->shape[1] : 0;
    s->D = u->ndim == 3 ? u->shape[2] : 0;
    s->N = A->ndim == 2 ? A->shape[1] : 0;
    if (s->B < 1 || s->T < 1 || s->D < 1 || s->N < 1 || !seq__is_shape(u, 3, -1, -1, -1, -1) ||
        !seq__is_shape(delta, 3, s->B, s->T, s->D, 0) || !seq__is_shape(A, 2, s->D, s->N, 0, 0) ||
        !seq__is_shape(Bm, 3, s->B, s->T, s->N, 0) || !seq__is_shape(Cm, 3, s->B, s->T, s->N, 0) ||
        !seq__is_shape(Dskip, 1, s->D, 0, 0, 0) || !seq__is_shape(h0, 3, s->B, s->D, s->N, 0)) {
        static const char *const names[7] = {"u", "delta", "A", "Bm", "Cm", "Dskip", "h0"};
        seq__shape_fail(ctx, op, "u, delta (B>=1,T>=1,D), A (D,N), Bm, Cm (B,T,N), Dskip (D), h0 (B,D,N)", 7, names,
                        ins);
        return 0;
    }
    s->H = s->D;
    s->P = 1;
    s->G = 1;
    s->a_full = 1;
    s->bw = SEQ__SSM_BW;
    s->ck = SEQ__SSM_CK;
    s->u = u;
    s->delta = delta;
    s->A = A;
    s->Bm = Bm;
    s->Cm = Cm;
    s->Dskip = Dskip;
    s->h0 = h0;
    return 1;
}

SEQDEF seq_tensor *seq_selective_scan(seq_ctx *ctx, seq_tensor *u, seq_tensor *delta, seq_tensor *A,
                                      seq_tensor *Bm, seq_tensor *Cm, seq_tensor *Dskip, seq_rnn_io *io) {
    static const char op[] = "seq_selective_scan";
    seq__ssm s;
    if (!seq__selective_setup(ctx, op, &s, u, delta, A, Bm, Cm, Dskip, io ? io->h0 : NULL)) return NULL;
    return seq__ssm_run(ctx, op, &s, io);
}

/* Checks SSD's inputs (h0 may be NULL) and describes the scan in s: one rate per head,
 * a block per head, checkpoints at the chunks (or every SEQ__SSM_CK steps). */
static int seq__ssd_setup(seq_ctx *ctx, const char *op, seq__ssm *s, seq_tensor *x, seq_tensor *dt, seq_tensor *A,
                          seq_tensor *Bm, seq_tensor *Cm, seq_tensor *Dskip, int64_t chunk, seq_tensor *h0) {
    seq_tensor *ins[7];
    ins[0] = x;
    ins[1] = dt;
    ins[2] = A;
    ins[3] = Bm;
    ins[4] = Cm;
    ins[5] = Dskip;
    ins[6] = h0;
    if (!seq__ok(ctx, op, 5, ins)) return 0;
    memset(s, 0, sizeof *s);
    if (x->ndim == 4 && Bm->ndim == 4) {
        s->B = x->shape[0];
        s->T = x->shape[1];
        s->H = x->shape[2];
        s->P = x->shape[3];
        s->G = Bm->shape[2];
        s->N = Bm->shape[3];
    }
    if (s->B < 1 || s->T < 1 || s->H < 1 || s->P < 1 || s->G < 1 || s->N < 1 || s->H % s->G != 0 ||
        !seq__is_shape(x, 4, -1, -1, -1, -1) || !seq__is_shape(dt, 3, s->B, s->T, s->H, 0) ||
        !seq__is_shape(A, 1, s->H, 0, 0, 0) || !seq__is_shape(Bm, 4, s->B, s->T, s->G, s->N) ||
        !seq__is_shape(Cm, 4, s->B, s->T, s->G, s->N) || !seq__is_shape(Dskip, 1, s->H, 0, 0, 0) ||
        !seq__is_shape(h0, 4, s->B, s->H, s->P, s->N)) {
        static const char *const names[7] = {"x", "dt", "A", "Bm", "Cm", "Dskip", "h0"};
        seq__shape_fail(ctx, op, "x (B>=1,T>=1,H,P), dt (B,T,H), A (H), Bm, Cm (B,T,G,N) with G | H, Dskip (H), "
                        "h0 (B,H,P,N)", 7, names, ins);
        return 0;
    }
    if (chunk < 0) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "chunk %lld < 0", (long long)chunk);
        return 0;
    }
    s->D = s->H * s->P;
    s->bw = s->P;
    s->chunked = chunk > 0;
    s->ck = chunk == 0 ? SEQ__SSM_CK : chunk < s->T ? chunk : s->T; /* a chunk past T is one chunk of T */
    s->u = x;
    s->delta = dt;
    s->A = A;
    s->Bm = Bm;
    s->Cm = Cm;
    s->Dskip = Dskip;
    s->h0 = h0;
    return 1;
}

SEQDEF seq_tensor *seq_ssd_scan(seq_ctx *ctx, seq_tensor *x, seq_tensor *dt, seq_tensor *A, seq_tensor *Bm,
                                seq_tensor *Cm, seq_tensor *Dskip, int64_t chunk, seq_rnn_io *io) {
    static const char op[] = "seq_ssd_scan";
    seq__ssm s;
    if (!seq__ssd_setup(ctx, op, &s, x, dt, A, Bm, Cm, Dskip, chunk, io ? io->h0 : NULL)) return NULL;
    return seq__ssm_run(ctx, op, &s, io);
}
/* ---- the blocks ------------------------------------------------------------------------ */

/* A parameter to register: "<prefix>.<name>", shape, initializer, weight-decay multiplier. */
typedef struct seq__pspec {
    const char *name;
    int ndim;
    int64_t shape[3];
    seq_init init;
    float decay;
    seq_tensor **dst;
} seq__pspec;

/* Appends a spec of shape (s0), (s0,s1) or (s0,s1,s2): trailing sizes of 0 drop out. */
static void seq__pspec_add(seq__pspec *v, int *n, const char *name, int64_t s0, int64_t s1, int64_t s2,
                           seq_init init, float decay, seq_tensor **dst) {
    seq__pspec *p = v + (*n)++;
    p->name = name;
    p->ndim = s2 > 0 ? 3 : s1 > 0 ? 2 : 1;
    p->shape[0] = s0;
    p->shape[1] = s1;
    p->shape[2] = s2;
    p->init = init;
    p->decay = decay;
    p->dst = dst;
}

static seq_status seq__pspec_register(seq_params *P, const char *fn, const char *prefix, const seq__pspec *v, int n) {
    char full[256];
    int i;
    for (i = 0; i < n; i++) {
        int len = snprintf(full, sizeof full, "%s.%s", prefix, v[i].name);
        if (len < 0 || len >= (int)sizeof full) return seq__err(SEQ_ERR_INVALID, "%s: prefix '%s' is too long", fn, prefix);
        *v[i].dst = seq_params_add(P, full, v[i].ndim, v[i].shape, v[i].init);
        if (!*v[i].dst) return seq__errstatus;
        seq_params_entry(P, full)->decay = v[i].decay;
    }
    return SEQ_OK;
}

/* nn.Linear's and nn.Conv1d's default initial values: weights kaiming_uniform with
 * a = sqrt(5), that is U(+-1/sqrt(fan_in)), and biases U(+-1/sqrt(fan_in)). */
static seq_init seq__torch_weight_init(void) { return seq_init_kaiming_uniform(2.2360679775f); }
static seq_init seq__torch_bias_init(int64_t fan_in) {
    float bound = 1.0f / sqrtf((float)fan_in);
    return seq_init_uniform(-bound, bound);
}

/* in_proj (in_out, d_model) and conv1d (conv_ch,1,K): the front both blocks share. */
static void seq__mamba_specs_front(seq__pspec *v, int *n, seq_mamba_proj *p, int64_t d_model, int64_t in_out,
                                   int64_t conv_ch, int64_t K, int bias, int conv_bias) {
    seq__pspec_add(v, n, "in_proj.weight", in_out, d_model, 0, seq__torch_weight_init(), 1.0f, &p->in_w);
    if (bias) seq__pspec_add(v, n, "in_proj.bias", in_out, 0, 0, seq__torch_bias_init(d_model), 1.0f, &p->in_b);
    seq__pspec_add(v, n, "conv1d.weight", conv_ch, 1, K, seq__torch_weight_init(), 1.0f, &p->conv_w);
    if (conv_bias) seq__pspec_add(v, n, "conv1d.bias", conv_ch, 0, 0, seq__torch_bias_init(K), 1.0f, &p->conv_b);
}

/* out_proj (d_model, d_inner): the back both blocks share. */
static void seq__mamba_specs_back(seq__pspec *v, int *n, seq_mamba_proj *p, int64_t d_model, int64_t d_inner,
                                  int bias) {
    seq__pspec_add(v, n, "out_proj.weight", d_model, d_inner, 0, seq__torch_weight_init(), 1.0f, &p->out_w);
    if (bias) seq__pspec_add(v, n, "out_proj.bias", d_model, 0, 0, seq__torch_bias_init(d_inner), 1.0f, &p->out_b);
}

/* softplus^-1(dt) for n channels, dt log-uniform in [lo,hi] and at least lo_floor: the
 * dt initialization of mamba_ssm (softplus^-1(y) = y + log(1 - e^-y)). */
static void seq__mamba_dt_bias(float *b, int64_t n, float lo, float hi, float lo_floor, seq_rng *rng) {
    int64_t i;
    for (i = 0; i < n; i++) {
        double dt = exp(seq_rng_double(rng) * (log((double)hi) - log((double)lo)) + log((double)lo));
        if (dt < lo_floor) dt = lo_floor;
        b[i] = (float)(dt + log(-expm1(-dt)));
    }
}

/* The dt range both configs share: 0 < dt_min <= dt_max, floor >= 0. */
static int seq__mamba_dt_ok(float dt_min, float dt_max, float dt_floor) {
    return dt_min > 0.0f && dt_max >= dt_min && isfinite(dt_max) && dt_floor >= 0.0f && isfinite(dt_floor);
}

/* Checks both forwards share: x (B>=1,T>=1,d_model); h0 (B, hs...) and c0 (B,conv_ch,K-1)
 * or NULL; lengths in [0,T]; x, h0, c0 finite. */
static int seq__mamba_inputs_ok(seq_ctx *ctx, const char *op, const seq_mamba_proj *p, int64_t d_model,
                                seq_tensor *x, const seq_rnn_io *io, int hdims, const int64_t *hs) {
    seq_tensor *h0 = io ? io->h0 : NULL, *c0 = io ? io->c0 : NULL;
    int64_t B, C, W;
    if (!seq__ok(ctx, op, 1, &x)) return 0;
    if (!p->in_w) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer");
        return 0;
    }
    if (!seq__is_shape(x, 3, -1, -1, d_model, 0) || x->shape[0] < 1 || x->shape[1] < 1) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)d_model);
        return 0;
    }
    B = x->shape[0];
    C = p->conv_w->shape[0];
    W = p->conv_w->shape[2] - 1;
    if (!seq__is_shape(h0, hdims + 1, B, hs[0], hs[1], hdims > 2 ? hs[2] : 0)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 must be the scan state (B=%lld, %lld, %lld%s)", (long long)B,
                      (long long)hs[0], (long long)hs[1], hdims > 2 ? ", ..." : "");
        return 0;
    }
    if (!seq__is_shape(c0, 3, B, C, W, 0)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "c0 must be the convolution state (%lld,%lld,%lld)", (long long)B,
                      (long long)C, (long long)W);
        return 0;
    }
    return seq__lengths_ok(ctx, op, io ? io->lengths : NULL, B, x->shape[1]) &&
           seq__finite_ok(ctx, op, "x", x->data, x->numel) && (!h0 || seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)) &&
           (!c0 || seq__finite_ok(ctx, op, "c0", c0->data, c0->numel));
}

/* The scan's part of a block's io: h0, lengths and resets (hn comes back in it). */
static void seq__mamba_scan_io(const seq_rnn_io *io, seq_rnn_io *sio) {
    memset(sio, 0, sizeof *sio);
    if (!io) return;
    sio->h0 = io->h0;
    sio->lengths = io->lengths;
    sio->resets = io->resets;
}

/* silu(conv1d(xz[..., from:from+C])) with the carried state: (B,T,C); *cn its final window. */
static seq_tensor *seq__mamba_conv(seq_ctx *ctx, const char *op, const seq_mamba_proj *p, seq_tensor *xz,
                                   int64_t from, const seq_rnn_io *io, seq_tensor **cn) {
    seq_tensor *xi = seq_slice(ctx, xz, 2, from, from + p->conv_w->shape[0]);
    return seq__conv_silu(ctx, op, xi, p->conv_w, p->conv_b, io ? io->c0 : NULL, io ? io->lengths : NULL,
                          io ? io->resets : NULL, cn);
}

/* out_proj(y) (B,T,d_model), rows past a length set to 0 (they would hold out_proj's bias),
 * and the final states handed out. */
static seq_tensor *seq__mamba_back(seq_ctx *ctx, const seq_mamba_proj *p, seq_tensor *y, seq_rnn_io *io,
                                   seq_tensor *hn, seq_tensor *cn) {
    seq_tensor *out = seq_linear(ctx, y, p->out_w, p->out_b);
    if (out && p->out_b && io && io->lengths) {
        int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2], r, t, c;
        seq_tensor *mask = seq_tensor_new(ctx, SEQ_F32, 3, out->shape);
        if (!mask) return NULL;
        for (r = 0; r < B; r++)
            for (t = 0; t < io->lengths[r]; t++)
                for (c = 0; c < C; c++) mask->data[(r * T + t) * C + c] = 1.0f;
        out = seq_mul(ctx, out, mask);
    }
    if (ctx->status != SEQ_OK) return NULL;
    if (io) {
        io->hn = hn;
        io->cn = cn;
    }
    return out;
}

/* y (M,out) = x (M,in; rows ldx apart) W^T + b: a linear layer off the tape. */
static void seq__dense(const seq_tensor *W, const seq_tensor *b, const float *x, int64_t ldx, int64_t M, float *y) {
    int64_t out = W->shape[0], in = W->shape[1], r, j;
    for (r = 0; r < M; r++)
        for (j = 0; j < out; j++) y[r * out + j] = b ? b->data[j] : 0.0f;
    seq_sgemm(0, 1, M, out, in, 1.0f, x, ldx, W->data, in, 1.0f, y, out);
}

/* One streaming step of the front: xz (B,in_out) = in_proj(x_t), and v (B,C) =
 * silu(conv1d(xz[:, from:from+C])) advancing the windows. */
static void seq__mamba_step_front(const seq_mamba_proj *p, seq_mamba_state *st, const float *x_t, float *xz,
                                  int64_t from, float *v) {
    int64_t B = st->batch, IO = p->in_w->shape[0], C = p->conv_w->shape[0], K = p->conv_w->shape[2], r;
    seq__dense(p->in_w, p->in_b, x_t, p->in_w->shape[1], B, xz);
    for (r = 0; r < B; r++) {
        seq__mamba_conv_step(p->conv_w->data, p->conv_b ? p->conv_b->data : NULL, C, K, st->conv + r * C * (K - 1),
                       xz + r * IO + from, v + r * C);
        seq__silu_row(v + r * C, C, v + r * C);
    }
}

/* Allocates a streaming state: conv (B,C,K-1), ssm (B,nssm), work floats; zeroed. */
static seq_status seq__mamba_state_alloc(const char *fn, const seq_mamba_proj *p, void *ud, seq_mamba_state *st,
                                         int64_t batch, int64_t nssm, int64_t nwork) {
    int64_t nconv;
    if (!st || !p->in_w) return seq__err(SEQ_ERR_INVALID, "%s: NULL or uninitialized layer", fn);
    memset(st, 0, sizeof *st);
    if (batch < 1) return seq__err(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
    nconv = batch * p->conv_w->shape[0] * (p->conv_w->shape[2] - 1);
    st->alloc_ud = ud;
    st->conv = (float *)SEQ_MALLOC(ud, (size_t)(nconv + batch * nssm + nwork) * sizeof(float));
    if (!st->conv) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    st->ssm = st->conv + nconv;
    st->work = st->ssm + batch * nssm;
    st->batch = batch;
    seq_mamba_state_reset(st);
    return SEQ_OK;
}

SEQDEF void seq_mamba_state_reset(seq_mamba_state *st) {
    if (st && st->conv) memset(st->conv, 0, (size_t)(st->work - st->conv) * sizeof(float));
}

SEQDEF void seq_mamba_state_free(seq_mamba_state *st) {
    if (!st) return;
    SEQ_FREE(st->alloc_ud, st->conv);
    memset(st, 0, sizeof *st);
}

/* Arguments of a step: state made for this layer, finite x_t. */
static seq_status seq__mamba_step_ok(const char *fn, const seq_mamba_proj *p, const seq_mamba_state *st,
                                     const float *x_t, const float *y_t) {
    int64_t i, n;
    if (!p->in_w || !st || !st->conv || !x_t || !y_t) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", fn);
    n = st->batch * p->in_w->shape[1];
    for (i = 0; i < n; i++)
        if (!isfinite(x_t[i])) return seq__err(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", fn, (long long)i);
    return SEQ_OK;
}

/* One step of one channel in the public state layout, the reference for the block
 * kernels: h (N) = e^{dl A} h + dl u Bt with A the channel's N rates (a_full) or its
 * head's one; returns Ct . h. */
static float seq__ssm_step1(const float *A, int a_full, int64_t N, float dl, float u, const float *Bt,
                            const float *Ct, float *h) {
    float y = 0.0f, dec = expf(dl * A[0]);
    int64_t n;
    for (n = 0; n < N; n++) {
        h[n] = (a_full ? expf(dl * A[n]) : dec) * h[n] + dl * u * Bt[n];
        y += Ct[n] * h[n];
    }
    return y;
}

/* --- Mamba --- */

SEQDEF seq_mamba_config seq_mamba_config_default(int64_t d_model) {
    seq_mamba_config c;
    c.d_model = d_model;
    c.d_state = 16;
    c.d_conv = 4;
    c.expand = 2;
    c.dt_rank = 0;
    c.dt_min = 1e-3f;
    c.dt_max = 0.1f;
    c.dt_init_floor = 1e-4f;
    c.dt_scale = 1.0f;
    c.bias = 0;
    c.conv_bias = 1;
    return c;
}

SEQDEF seq_status seq_mamba_init(seq_mamba *l, seq_params *P, const char *prefix, seq_mamba_config cfg) {
    static const char fn[] = "seq_mamba_init";
    seq__pspec v[12];
    int n = 0;
    int64_t Di, R, N = cfg.d_state;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    if (cfg.d_model < 1 || N < 1 || cfg.d_conv < 1 || cfg.expand < 1 || cfg.dt_rank < 0 ||
        !seq__mamba_dt_ok(cfg.dt_min, cfg.dt_max, cfg.dt_init_floor) || !(cfg.dt_scale >= 0.0f))
        return seq__err(SEQ_ERR_INVALID, "%s: '%s': bad config (d_model %lld, d_state %lld, d_conv %lld, expand %lld)",
                        fn, prefix, (long long)cfg.d_model, (long long)N, (long long)cfg.d_conv, (long long)cfg.expand);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    l->d_inner = Di = cfg.expand * cfg.d_model;
    l->dt_rank = R = cfg.dt_rank ? cfg.dt_rank : (cfg.d_model + 15) / 16;
    seq__mamba_specs_front(v, &n, &l->proj, cfg.d_model, 2 * Di, Di, cfg.d_conv, cfg.bias, cfg.conv_bias);
    seq__pspec_add(v, &n, "x_proj.weight", R + 2 * N, Di, 0, seq__torch_weight_init(), 1.0f, &l->x_proj_w);
    seq__pspec_add(v, &n, "dt_proj.weight", Di, R, 0,
                   seq_init_uniform(-cfg.dt_scale / sqrtf((float)R), cfg.dt_scale / sqrtf((float)R)), 1.0f,
                   &l->dt_proj_w);
    seq__pspec_add(v, &n, "dt_proj.bias", Di, 0, 0, seq_init_zeros(), 1.0f, &l->dt_proj_b);
    seq__pspec_add(v, &n, "A_log", Di, N, 0, seq_init_zeros(), 0.0f, &l->A_log);
    seq__pspec_add(v, &n, "D", Di, 0, 0, seq_init_constant(1.0f), 0.0f, &l->D);
    seq__mamba_specs_back(v, &n, &l->proj, cfg.d_model, Di, cfg.bias);
    return seq__pspec_register(P, fn, prefix, v, n);
}

SEQDEF seq_status seq_mamba_init_ssm(const seq_mamba *l, seq_rng *rng) {
    int64_t d, k, N;
    if (!l || !rng || !l->A_log || !l->A_log->data)
        return seq__err(SEQ_ERR_INVALID, "seq_mamba_init_ssm: NULL argument, or parameters not allocated");
    N = l->cfg.d_state;
    for (d = 0; d < l->d_inner; d++)
        for (k = 0; k < N; k++) l->A_log->data[d * N + k] = logf((float)(k + 1));
    seq__mamba_dt_bias(l->dt_proj_b->data, l->d_inner, l->cfg.dt_min, l->cfg.dt_max, l->cfg.dt_init_floor, rng);
    return SEQ_OK;
}

SEQDEF seq_tensor *seq_mamba_forward(seq_ctx *ctx, const seq_mamba *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_mamba_forward";
    seq_tensor *xz, *u, *xdbl, *dt, *A, *z, *y, *cn = NULL;
    seq_rnn_io sio;
    seq__ssm s;
    int64_t hs[2], Di, R, N;
    if (!l) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "NULL layer");
        return NULL;
    }
    Di = l->d_inner;
    R = l->dt_rank;
    N = l->cfg.d_state;
    hs[0] = Di;
    hs[1] = N;
    if (!seq__mamba_inputs_ok(ctx, op, &l->proj, l->cfg.d_model, x, io, 2, hs)) return NULL;
    seq__mamba_scan_io(io, &sio);
    xz = seq_linear(ctx, x, l->proj.in_w, l->proj.in_b);
    u = seq__mamba_conv(ctx, op, &l->proj, xz, 0, io, &cn);
    xdbl = seq_linear(ctx, u, l->x_proj_w, NULL);
    dt = seq_linear(ctx, seq_slice(ctx, xdbl, 2, 0, R), l->dt_proj_w, NULL);
    A = seq_scale(ctx, seq_exp(ctx, l->A_log), -1.0f);
    z = seq_slice(ctx, xz, 2, Di, 2 * Di);
    /* the scan adds dt_proj's bias, applies the softplus and gates with silu(z) */
    if (!seq__selective_setup(ctx, op, &s, u, dt, A, seq_slice(ctx, xdbl, 2, R, R + N),
                              seq_slice(ctx, xdbl, 2, R + N, R + 2 * N), l->D, sio.h0))
        return NULL;
    s.softplus = 1;
    s.dbias = l->dt_proj_b;
    s.z = z;
    y = seq__ssm_run(ctx, op, &s, &sio);
    return seq__mamba_back(ctx, &l->proj, y, io, sio.hn, cn);
}

/* work: xz (B,2Di), u (B,Di), xdbl (B,R+2N), delta (B,Di), y (B,Di), A (Di,N) */
SEQDEF seq_status seq_mamba_state_init(const seq_mamba *l, seq_mamba_state *st, int64_t batch) {
    int64_t Di, N;
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_mamba_state_init: NULL layer");
    Di = l->d_inner;
    N = l->cfg.d_state;
    return seq__mamba_state_alloc("seq_mamba_state_init", &l->proj, l->alloc_ud, st, batch, Di * N,
                                  batch * (5 * Di + l->dt_rank + 2 * N) + Di * N);
}

SEQDEF seq_status seq_mamba_step(const seq_mamba *l, seq_mamba_state *st, const float *x_t, float *y_t) {
    int64_t B, Di, N, R, XD, r, d, k;
    float *xz, *u, *xdbl, *dl, *y, *A;
    seq_status s;
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_mamba_step: NULL layer");
    if ((s = seq__mamba_step_ok("seq_mamba_step", &l->proj, st, x_t, y_t)) != SEQ_OK) return s;
    B = st->batch;
    Di = l->d_inner;
    N = l->cfg.d_state;
    R = l->dt_rank;
    XD = R + 2 * N;
    xz = st->work;
    u = xz + B * 2 * Di;
    xdbl = u + B * Di;
    dl = xdbl + B * XD;
    y = dl + B * Di;
    A = y + B * Di;
    seq__mamba_step_front(&l->proj, st, x_t, xz, 0, u);
    seq__dense(l->x_proj_w, NULL, u, Di, B, xdbl);
    seq__dense(l->dt_proj_w, l->dt_proj_b, xdbl, XD, B, dl);
    for (k = 0; k < Di * N; k++) A[k] = -expf(l->A_log->data[k]);
    for (r = 0; r < B; r++)
        for (d = 0; d < Di; d++) {
            int64_t i = r * Di + d;
            float z = xz[r * 2 * Di + Di + d], dt = seq__softplusf(dl[i]);
            y[i] = seq__ssm_step1(A + d * N, 1, N, dt, u[i], xdbl + r * XD + R, xdbl + r * XD + R + N, st->ssm + i * N) +
                   l->D->data[d] * u[i];
            y[i] *= z * seq__sigmoidf(z);
        }
    seq__dense(l->proj.out_w, l->proj.out_b, y, Di, B, y_t);
    return SEQ_OK;
}

/* --- Mamba-2 --- */

SEQDEF seq_mamba2_config seq_mamba2_config_default(int64_t d_model) {
    seq_mamba2_config c;
    c.d_model = d_model;
    c.d_state = 128;
    c.d_conv = 4;
    c.expand = 2;
    c.headdim = 64;
    c.ngroups = 1;
    c.chunk = 256;
    c.A_init_min = 1.0f;
    c.A_init_max = 16.0f;
    c.dt_min = 1e-3f;
    c.dt_max = 0.1f;
    c.dt_init_floor = 1e-4f;
    c.norm_eps = 1e-5f;
    c.bias = 0;
    c.conv_bias = 1;
    return c;
}

SEQDEF seq_status seq_mamba2_init(seq_mamba2 *l, seq_params *P, const char *prefix, seq_mamba2_config cfg) {
    static const char fn[] = "seq_mamba2_init";
    seq__pspec v[12];
    int n = 0;
    int64_t Di = cfg.expand * cfg.d_model, GN = cfg.ngroups * cfg.d_state, H;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    if (cfg.d_model < 1 || cfg.d_state < 1 || cfg.d_conv < 1 || cfg.expand < 1 || cfg.headdim < 1 ||
        Di % cfg.headdim != 0 || cfg.ngroups < 1 || (Di / cfg.headdim) % cfg.ngroups != 0 || cfg.chunk < 0 ||
        !(cfg.A_init_min > 0.0f && cfg.A_init_max >= cfg.A_init_min && isfinite(cfg.A_init_max)) ||
        !seq__mamba_dt_ok(cfg.dt_min, cfg.dt_max, cfg.dt_init_floor) || !(cfg.norm_eps >= 0.0f))
        return seq__err(SEQ_ERR_INVALID,
                        "%s: '%s': bad config (d_model %lld, expand %lld, headdim %lld, ngroups %lld, d_state %lld)", fn,
                        prefix, (long long)cfg.d_model, (long long)cfg.expand, (long long)cfg.headdim,
                        (long long)cfg.ngroups, (long long)cfg.d_state);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    l->d_inner = Di;
    l->nheads = H = Di / cfg.headdim;
    l->conv_dim = Di + 2 * GN;
    seq__mamba_specs_front(v, &n, &l->proj, cfg.d_model, 2 * Di + 2 * GN + H, l->conv_dim, cfg.d_conv, cfg.bias,
                           cfg.conv_bias);
    seq__pspec_add(v, &n, "dt_bias", H, 0, 0, seq_init_zeros(), 0.0f, &l->dt_bias);
    seq__pspec_add(v, &n, "A_log", H, 0, 0, seq_init_zeros(), 0.0f, &l->A_log);
    seq__pspec_add(v, &n, "D", H, 0, 0, seq_init_constant(1.0f), 0.0f, &l->D);
    seq__pspec_add(v, &n, "norm.weight", Di, 0, 0, seq_init_constant(1.0f), 1.0f, &l->norm_w);
    seq__mamba_specs_back(v, &n, &l->proj, cfg.d_model, Di, cfg.bias);
    return seq__pspec_register(P, fn, prefix, v, n);
}

SEQDEF seq_status seq_mamba2_init_ssm(const seq_mamba2 *l, seq_rng *rng) {
    int64_t h;
    if (!l || !rng || !l->A_log || !l->A_log->data)
        return seq__err(SEQ_ERR_INVALID, "seq_mamba2_init_ssm: NULL argument, or parameters not allocated");
    seq__mamba_dt_bias(l->dt_bias->data, l->nheads, l->cfg.dt_min, l->cfg.dt_max, l->cfg.dt_init_floor, rng);
    for (h = 0; h < l->nheads; h++)
        l->A_log->data[h] = (float)log(seq_rng_uniform(rng, l->cfg.A_init_min, l->cfg.A_init_max));
    return SEQ_OK;
}

SEQDEF seq_tensor *seq_mamba2_forward(seq_ctx *ctx, const seq_mamba2 *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_mamba2_forward";
    seq_tensor *zx, *xbc, *dt, *A, *z, *y, *cn = NULL;
    seq_rnn_io sio;
    seq__ssm s;
    int64_t hs[3], s4[4], g4[4], s3[3], Di, H, P, G, N, GN, CD;
    if (!l) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "NULL layer");
        return NULL;
    }
    Di = l->d_inner;
    H = l->nheads;
    P = l->cfg.headdim;
    G = l->cfg.ngroups;
    N = l->cfg.d_state;
    GN = G * N;
    CD = l->conv_dim;
    hs[0] = H;
    hs[1] = P;
    hs[2] = N;
    if (!seq__mamba_inputs_ok(ctx, op, &l->proj, l->cfg.d_model, x, io, 3, hs)) return NULL;
    s3[0] = s4[0] = g4[0] = x->shape[0];
    s3[1] = s4[1] = g4[1] = x->shape[1];
    s4[2] = H;
    s4[3] = P;
    g4[2] = G;
    g4[3] = N;
    seq__mamba_scan_io(io, &sio);
    zx = seq_linear(ctx, x, l->proj.in_w, l->proj.in_b);
    xbc = seq__mamba_conv(ctx, op, &l->proj, zx, Di, io, &cn);
    dt = seq_slice(ctx, zx, 2, Di + CD, Di + CD + H);
    A = seq_scale(ctx, seq_exp(ctx, l->A_log), -1.0f);
    z = seq_reshape(ctx, seq_slice(ctx, zx, 2, 0, Di), 4, s4);
    /* dt_bias, the softplus and the gate y * silu(z) inside the scan; RMSNorm over each
     * group of Di/G channels after it (mamba_ssm's RMSNormGated) */
    if (!seq__ssd_setup(ctx, op, &s, seq_reshape(ctx, seq_slice(ctx, xbc, 2, 0, Di), 4, s4), dt, A,
                        seq_reshape(ctx, seq_slice(ctx, xbc, 2, Di, Di + GN), 4, g4),
                        seq_reshape(ctx, seq_slice(ctx, xbc, 2, Di + GN, CD), 4, g4), l->D, l->cfg.chunk, sio.h0))
        return NULL;
    s.softplus = 1;
    s.dbias = l->dt_bias;
    s.z = z;
    y = seq__ssm_run(ctx, op, &s, &sio);
    s3[2] = Di;
    s4[2] = G;
    s4[3] = Di / G;
    y = seq_mul(ctx, seq_reshape(ctx, seq_rmsnorm(ctx, seq_reshape(ctx, y, 4, s4), NULL, l->cfg.norm_eps), 3, s3),
                l->norm_w);
    return seq__mamba_back(ctx, &l->proj, y, io, sio.hn, cn);
}

/* work: zx (B, in_proj rows), xbc (B,conv_dim), y (B,Di) */
SEQDEF seq_status seq_mamba2_state_init(const seq_mamba2 *l, seq_mamba_state *st, int64_t batch) {
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_mamba2_state_init: NULL layer");
    return seq__mamba_state_alloc("seq_mamba2_state_init", &l->proj, l->alloc_ud, st, batch,
                                  l->nheads * l->cfg.headdim * l->cfg.d_state,
                                  batch * ((l->proj.in_w ? l->proj.in_w->shape[0] : 0) + l->conv_dim + l->d_inner));
}

SEQDEF void seq_mamba2_state_reset(seq_mamba_state *st) { seq_mamba_state_reset(st); }
SEQDEF void seq_mamba2_state_free(seq_mamba_state *st) { seq_mamba_state_free(st); }

SEQDEF seq_status seq_mamba2_step(const seq_mamba2 *l, seq_mamba_state *st, const float *x_t, float *y_t) {
    int64_t B, Di, H, P, G, N, GN, CD, IO, r, h, p, j, k;
    float *zx, *xbc, *y;
    seq_status s;
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_mamba2_step: NULL layer");
    if ((s = seq__mamba_step_ok("seq_mamba2_step", &l->proj, st, x_t, y_t)) != SEQ_OK) return s;
    B = st->batch;
    Di = l->d_inner;
    H = l->nheads;
    P = l->cfg.headdim;
    G = l->cfg.ngroups;
    N = l->cfg.d_state;
    GN = G * N;
    CD = l->conv_dim;
    IO = l->proj.in_w->shape[0];
    zx = st->work;
    xbc = zx + B * IO;
    y = xbc + B * CD;
    seq__mamba_step_front(&l->proj, st, x_t, zx, Di, xbc);
    for (r = 0; r < B; r++) {
        const float *xr = xbc + r * CD, *zr = zx + r * IO;
        float *yr = y + r * Di;
        for (h = 0; h < H; h++) {
            float dt = seq__softplusf(zr[Di + CD + h] + l->dt_bias->data[h]), A = -expf(l->A_log->data[h]);
            int64_t g = h / (H / G);
            for (p = 0; p < P; p++) {
                float xv = xr[h * P + p];
                yr[h * P + p] = seq__ssm_step1(&A, 0, N, dt, xv, xr + Di + g * N, xr + Di + GN + g * N,
                                               st->ssm + ((r * H + h) * P + p) * N) +
                                l->D->data[h] * xv;
            }
        }
        for (j = 0; j < Di; j++) yr[j] *= zr[j] * seq__sigmoidf(zr[j]);
        for (k = 0; k < G; k++) { /* RMSNorm per group, as seq_rmsnorm computes it */
            float *yg = yr + k * (Di / G);
            float rstd = (float)(1.0 / sqrt(seq__sum_f64(yg, Di / G, 0.0, 1) / (double)(Di / G) + l->cfg.norm_eps));
            for (j = 0; j < Di / G; j++) yg[j] = yg[j] * rstd * l->norm_w->data[k * (Di / G) + j];
        }
    }
    seq__dense(l->proj.out_w, l->proj.out_b, y, Di, B, y_t);
    return SEQ_OK;
}

/* --- 14.7 Mega EMA, LRU, StableSSM reparameterization ----------------------------- */

/* StableSSM's "best" discrete map 1 - 1/(w^2 + c): c = 0.5 is the smallest constant that
 * keeps f >= -1 for every w, so |lambda| <= 1 holds everywhere. */
#define SEQ__REPARAM_BEST_C 0.5

SEQDEF float seq_reparam_value(seq_reparam_kind kind, float w, float *dfdw) {
    double x = w, v, d;
    switch (kind) {
    case SEQ_REPARAM_EXP: {
        double e = exp(x);
        v = exp(-e);
        d = v > 0.0 ? -e * v : 0.0; /* e overflowing to inf must not give inf * 0 */
        break;
    }
    case SEQ_REPARAM_BEST: {
        double s = x * x + SEQ__REPARAM_BEST_C;
        v = 1.0 - 1.0 / s;
        d = 2.0 * x / (s * s);
        break;
    }
    case SEQ_REPARAM_SIGMOID:
        v = 1.0 / (1.0 + exp(-x));
        d = v * (1.0 - v);
        break;
    default: v = d = NAN; break;
    }
    if (dfdw) *dfdw = (float)d;
    return (float)v;
}

SEQDEF float seq_reparam_inverse(seq_reparam_kind kind, float lambda) {
    double l = lambda;
    if (!(l > 0.0 && l < 1.0)) return NAN;
    switch (kind) {
    case SEQ_REPARAM_EXP: return (float)log(-log(l));
    case SEQ_REPARAM_BEST: return (float)sqrt(1.0 / (1.0 - l) - SEQ__REPARAM_BEST_C);
    case SEQ_REPARAM_SIGMOID: return (float)log(l / (1.0 - l));
    default: return NAN;
    }
}

static void seq__reparam_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *w = n->in[0];
    float *gw = seq__grad(ctx, w), d;
    int64_t i;
    if (!gw) return;
    for (i = 0; i < w->numel; i++) {
        seq_reparam_value((seq_reparam_kind)n->i[0], w->data[i], &d);
        gw[i] += n->out->grad[i] * d;
    }
}

SEQDEF seq_tensor *seq_reparam(seq_ctx *ctx, seq_tensor *w, seq_reparam_kind kind) {
    static const char op[] = "seq_reparam";
    seq_tensor *y;
    seq__node *n;
    int64_t i;
    if (!seq__ok_f32(ctx, op, 1, &w)) return NULL;
    if ((int)kind < 0 || kind >= SEQ_REPARAM_KIND_COUNT) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "unknown kind %d", (int)kind);
        return NULL;
    }
    y = seq__out(ctx, op, w->ndim, w->shape, 1, &w);
    if (!y) return NULL;
    for (i = 0; i < w->numel; i++) y->data[i] = seq_reparam_value(kind, w->data[i], NULL);
    n = seq__record(ctx, op, y, seq__reparam_backward, 1, &w);
    if (n) n->i[0] = kind;
    return y;
}

/* --- helpers the layers of this section share ------------------------------------------ */

/* "<prefix>.<name>" registered in P; NULL (seq_last_error says why) on failure. */
static seq_tensor *seq__layer_param(seq_params *P, const char *prefix, const char *name, int ndim,
                                    const int64_t *shape, seq_init init) {
    char full[256];
    int len = snprintf(full, sizeof full, "%s.%s", prefix, name);
    if (len < 0 || (size_t)len >= sizeof full) {
        seq__err(SEQ_ERR_INVALID, "parameter name '%s.%s' is too long", prefix, name);
        return NULL;
    }
    return seq_params_add(P, full, ndim, shape, init);
}

/* 1 when x is a float (B>=1, T>=1, C) batch; otherwise 0 with the ctx error set. */
static int seq__layer_input_ok(seq_ctx *ctx, const char *op, const seq_tensor *x, int64_t C) {
    if (x->dtype == SEQ_F32 && x->ndim == 3 && x->shape[0] >= 1 && x->shape[1] >= 1 && x->shape[2] == C) return 1;
    seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "x must be (B>=1, T>=1, %lld)", (long long)C);
    return 0;
}

/* A streaming state: nh floats of state (zeroed), then nwork of scratch, one allocation. */
static seq_status seq__stream_alloc(seq_rnn_state *st, void *alloc_ud, int64_t batch, int64_t nh, int64_t nwork,
                                    const char *op) {
    memset(st, 0, sizeof *st);
    if (batch < 1) return seq__err(SEQ_ERR_INVALID, "%s: batch %lld < 1", op, (long long)batch);
    st->alloc_ud = alloc_ud;
    st->h = (float *)SEQ_MALLOC(alloc_ud, (size_t)(nh + nwork) * sizeof(float));
    if (!st->h) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", op);
    st->work = st->h + nh;
    st->batch = batch;
    seq_rnn_state_reset(st);
    return SEQ_OK;
}

/* SEQ_OK when no element of a step's input is NaN or infinite; else SEQ_ERR_NUMERIC naming it. */
static seq_status seq__step_finite(const char *op, const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return seq__err(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", op, (long long)i);
    return SEQ_OK;
}

static void seq__zero_past_lengths_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0];
    const seq__last_aux *a = (const seq__last_aux *)n->aux;
    int64_t T = x->shape[1], C = x->shape[2], r, i;
    float *gx = seq__grad(ctx, x);
    if (!gx) return;
    for (r = 0; r < x->shape[0]; r++)
        for (i = r * T * C; i < (r * T + a->lengths[r]) * C; i++) gx[i] += n->out->grad[i];
}

/* x (B,T,C) -> the same with every position past its row's length 0 (no gradient there);
 * x itself when lengths is NULL. The lengths were checked by the caller. */
static seq_tensor *seq__zero_past_lengths(seq_ctx *ctx, const char *op, seq_tensor *x, const int32_t *lengths) {
    seq_tensor *y;
    seq__last_aux *a;
    seq__node *n;
    int64_t T, C, r;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!lengths) return x;
    T = x->shape[1];
    C = x->shape[2];
    y = seq__out(ctx, op, 3, x->shape, 1, &x);
    a = (seq__last_aux *)seq_ctx_alloc(ctx, sizeof(seq__last_aux));
    if (!y || !a) return NULL;
    a->lengths = (const int32_t *)seq__arena_copy(ctx, lengths, (size_t)x->shape[0] * sizeof(int32_t));
    if (!a->lengths) return NULL;
    for (r = 0; r < x->shape[0]; r++) {
        int64_t valid = lengths[r] * C;
        memcpy(y->data + r * T * C, x->data + r * T * C, (size_t)valid * sizeof(float));
        memset(y->data + r * T * C + valid, 0, (size_t)(T * C - valid) * sizeof(float));
    }
    n = seq__record(ctx, op, y, seq__zero_past_lengths_backward, 1, &x);
    if (n) n->aux = a;
    return y;
}

/* --- Mega EMA ---------------------------------------------------------------------------- */

/* The EMA's coefficients, each a (K,N) array at coef + j*K*N: j = A the decay rate
 * sigmoid(delta), Q the carry 1 - A G, IN the input weight A beta, OUT the output weight
 * eta / sqrt(N), G the damping sigmoid(alpha). */
enum { SEQ__MEGA_A, SEQ__MEGA_Q, SEQ__MEGA_IN, SEQ__MEGA_OUT, SEQ__MEGA_G, SEQ__MEGA_NCOEF };

static void seq__mega_coeffs(const seq_mega_ema *l, float *coef) {
    int64_t KN = l->beta->numel, i;
    float scale = (float)sqrt(1.0 / (double)l->cfg.ndim); /* as the reference rounds it */
    for (i = 0; i < KN; i++) {
        float a = seq__sigmoidf(l->delta->data[i]), g = seq__sigmoidf(l->alpha->data[i]);
        coef[SEQ__MEGA_A * KN + i] = a;
        coef[SEQ__MEGA_G * KN + i] = g;
        coef[SEQ__MEGA_Q * KN + i] = 1.0f - a * g;
        coef[SEQ__MEGA_IN * KN + i] = a * l->beta->data[i];
        coef[SEQ__MEGA_OUT * KN + i] = l->gamma->data[i] * scale;
    }
}

/* u (M,D,N) = w (D,N) * v (M,D) broadcast over n: the input expansion (w the input weight,
 * v = x), and backwards the output weight spread over the output gradient. */
static void seq__mega_expand(const float *v, const float *w, int64_t M, int64_t D, int64_t N, float *u) {
    int64_t m, d, k;
    for (m = 0; m < M; m++)
        for (d = 0; d < D; d++)
            for (k = 0; k < N; k++) u[(m * D + d) * N + k] = w[d * N + k] * v[m * D + d];
}

/* acc (M,D) += sum_n w (D,N) * u (M,D,N): the output projection, and backwards the input
 * weight's share of x's gradient. */
static void seq__mega_reduce(const float *u, const float *w, int64_t M, int64_t D, int64_t N, float *acc) {
    int64_t m, d, k;
    for (m = 0; m < M; m++)
        for (d = 0; d < D; d++) {
            float s = 0.0f;
            for (k = 0; k < N; k++) s += w[d * N + k] * u[(m * D + d) * N + k];
            acc[m * D + d] += s;
        }
}

/* acc (D,N) += sum_m v (M,D) * u (M,D,N): the weights' gradients. */
static void seq__mega_outer(const float *v, const float *u, int64_t M, int64_t D, int64_t N, float *acc) {
    int64_t m, d, k;
    for (m = 0; m < M; m++)
        for (d = 0; d < D; d++)
            for (k = 0; k < N; k++) acc[d * N + k] += v[m * D + d] * u[(m * D + d) * N + k];
}

/* e (M,D) = omega * x: the pre-activation before the EMA's outputs are added. */
static void seq__mega_skip(const float *x, const float *omega, int64_t M, int64_t D, float *e) {
    int64_t i;
    for (i = 0; i < M * D; i++) e[i] = omega[i % D] * x[i];
}

SEQDEF seq_mega_ema_config seq_mega_ema_config_default(int64_t dim) {
    seq_mega_ema_config c;
    c.dim = dim;
    c.ndim = 16;
    c.bidirectional = 0;
    return c;
}

SEQDEF seq_status seq_mega_ema_init(seq_mega_ema *l, seq_params *P, const char *prefix, seq_mega_ema_config cfg) {
    int64_t s[3];
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_mega_ema_init: NULL argument");
    if (cfg.dim <= 0 || cfg.ndim <= 0 || (cfg.bidirectional != 0 && cfg.bidirectional != 1))
        return seq__err(SEQ_ERR_INVALID, "seq_mega_ema_init: '%s': bad config (dim %lld, ndim %lld, bidirectional %d)",
                        prefix, (long long)cfg.dim, (long long)cfg.ndim, cfg.bidirectional);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    s[0] = cfg.bidirectional ? 2 * cfg.dim : cfg.dim;
    s[1] = cfg.ndim;
    s[2] = 1;
    l->delta = seq__layer_param(P, prefix, "delta", 3, s, seq_init_normal(0.0f, 0.2f));
    l->alpha = seq__layer_param(P, prefix, "alpha", 3, s, seq_init_normal(0.0f, 0.2f));
    l->beta = seq__layer_param(P, prefix, "beta", 3, s, seq_init_normal(1.0f, 0.02f));
    l->gamma = seq__layer_param(P, prefix, "gamma", 2, s, seq_init_normal(0.0f, 1.0f));
    l->omega = seq__layer_param(P, prefix, "omega", 1, &cfg.dim, seq_init_normal(0.0f, 1.0f));
    if (!l->delta || !l->alpha || !l->beta || !l->gamma || !l->omega) return seq__errstatus;
    return SEQ_OK;
}

SEQDEF seq_status seq_mega_ema_reset_parameters(const seq_mega_ema *l, seq_rng *rng) {
    seq_tensor *normal[4];
    float std[4] = {0.2f, 0.2f, 1.0f, 1.0f};
    int64_t i;
    int k;
    if (!l || !rng || !l->delta || !l->delta->data)
        return seq__err(SEQ_ERR_INVALID, "seq_mega_ema_reset_parameters: NULL rng, or parameters not allocated");
    normal[0] = l->delta;
    normal[1] = l->alpha;
    normal[2] = l->gamma;
    normal[3] = l->omega;
    for (k = 0; k < 4; k++)
        seq_init_fill(normal[k]->data, normal[k]->ndim, normal[k]->shape, seq_init_normal(0.0f, std[k]), rng);
    /* beta ~ [1, -1, 1, -1, ...] over n plus N(0, 0.02^2): Mega found the alternation more stable */
    for (i = 0; i < l->beta->numel; i++)
        l->beta->data[i] = (float)seq_rng_normal(rng, (i % l->cfg.ndim) % 2 ? -1.0 : 1.0, 0.02);
    return SEQ_OK;
}

typedef struct seq__mega_aux {
    seq_tensor *delta, *alpha, *beta, *gamma, *omega;
    seq__dscan scan; /* B, T, C = D*N, s_rs = K*N, lengths, resets; the rest per direction */
    float *coef;     /* SEQ__MEGA_NCOEF arrays of (K,N) */
    float *h;        /* (dirs,B,T,D,N) EMA states */
    float *e;        /* (B,T,D) silu's input */
} seq__mega_aux;

/* The scan of direction dir (1: backwards in time) over input weights b: rows dir*D.. of
 * the coefficients and of the (B,K,N) states. */
static seq__dscan seq__mega_dir(const seq__mega_aux *a, int64_t dir, const float *h0, const float *b) {
    seq__dscan s = a->scan;
    s.reverse = (int)dir;
    s.a = a->coef + SEQ__MEGA_Q * s.s_rs + dir * s.C;
    s.b = b;
    s.h0 = h0 ? h0 + dir * s.C : NULL;
    return s;
}

/* Per direction: the output weight's gradient from de and h, then BPTT with dh = de eta
 * spread over n, whose db feeds x and the input weight; last, the chain through the
 * sigmoids: q = 1 - a g and in = a beta give da = din beta - dq g, dg = -dq a. */
static void seq__mega_ema_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *x = n->in[0], *h0 = n->in[1], *y = n->out, *hn = n->extra_out[0];
    const seq__mega_aux *a = (const seq__mega_aux *)n->aux;
    const float *coef = a->coef;
    int64_t B = a->scan.B, T = a->scan.T, DN = a->scan.C, KN = a->scan.s_rs, N = a->beta->shape[1];
    int64_t D = DN / N, M = B * T, r, i, dir;
    float *gx = seq__grad(ctx, x), *gh0 = seq__grad(ctx, h0), *gomega = seq__grad(ctx, a->omega);
    float *gdelta = seq__grad(ctx, a->delta), *galpha = seq__grad(ctx, a->alpha), *gbeta = seq__grad(ctx, a->beta);
    float *ggamma = seq__grad(ctx, a->gamma), scale = (float)sqrt(1.0 / (double)N);
    float *de = (float *)seq__calloc(ctx, (size_t)(M * D) * sizeof(float));
    float *dcoef = (float *)seq__calloc(ctx, (size_t)(SEQ__MEGA_NCOEF * KN) * sizeof(float));
    float *dh = (float *)seq_ctx_alloc(ctx, (size_t)(M * DN) * sizeof(float));
    float *db = (float *)seq_ctx_alloc(ctx, (size_t)(M * DN) * sizeof(float));
    float *g = (float *)seq_ctx_alloc(ctx, (size_t)DN * sizeof(float));
    if (!de || !dcoef || !dh || !db || !g) return;
    if (y->grad) /* positions past a length produced no output: de stays 0 there */
        for (r = 0; r < B; r++)
            for (i = r * T * D; i < (r * T + seq__row_len(a->scan.lengths, r, T)) * D; i++)
                de[i] = y->grad[i] * seq__silu_grad(a->e[i]);
    for (i = 0; i < M * D; i++) {
        if (gomega) gomega[i % D] += de[i] * x->data[i];
        if (gx) gx[i] += de[i] * a->omega->data[i % D];
    }
    for (dir = 0; dir < KN / DN; dir++) {
        const float *hd = a->h + dir * M * DN;
        seq__dscan s = seq__mega_dir(a, dir, h0 ? h0->data : NULL, NULL);
        seq__mega_expand(de, coef + SEQ__MEGA_OUT * KN + dir * DN, M, D, N, dh);
        seq__mega_outer(de, hd, M, D, N, dcoef + SEQ__MEGA_OUT * KN + dir * DN);
        memset(db, 0, (size_t)(M * DN) * sizeof(float));
        seq__dscan_backward(&s, hd, dh, hn->grad ? hn->grad + dir * DN : NULL, dcoef + SEQ__MEGA_Q * KN + dir * DN, db,
                            gh0 ? gh0 + dir * DN : NULL, g);
        if (gx) seq__mega_reduce(db, coef + SEQ__MEGA_IN * KN + dir * DN, M, D, N, gx);
        seq__mega_outer(x->data, db, M, D, N, dcoef + SEQ__MEGA_IN * KN + dir * DN);
    }
    for (i = 0; i < KN; i++) {
        float ea = coef[SEQ__MEGA_A * KN + i], eg = coef[SEQ__MEGA_G * KN + i];
        float dq = dcoef[SEQ__MEGA_Q * KN + i], din = dcoef[SEQ__MEGA_IN * KN + i];
        if (gdelta) gdelta[i] += (din * a->beta->data[i] - dq * eg) * ea * (1.0f - ea);
        if (galpha) galpha[i] -= dq * ea * eg * (1.0f - eg);
        if (gbeta) gbeta[i] += din * ea;
        if (ggamma) ggamma[i] += dcoef[SEQ__MEGA_OUT * KN + i] * scale;
    }
}

SEQDEF seq_tensor *seq_mega_ema_forward(seq_ctx *ctx, const seq_mega_ema *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_mega_ema_forward";
    seq_tensor *h0 = io ? io->h0 : NULL, *ins[7], *y, *hn;
    seq__mega_aux *a;
    seq__node *nd;
    int64_t B, T, D, N, K, M, DN, dir, r, i, shape[3];
    float *b;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->delta || !l->delta->data) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer or unallocated parameters");
        return NULL;
    }
    D = l->cfg.dim;
    N = l->cfg.ndim;
    K = l->delta->shape[0];
    if (!seq__layer_input_ok(ctx, op, x, D)) return NULL;
    B = x->shape[0];
    T = x->shape[1];
    if (!seq__state_shape_ok(h0, B, K, N)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 must be (%lld,%lld,%lld)", (long long)B, (long long)K, (long long)N);
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, io ? io->lengths : NULL, B, T) || !seq__finite_ok(ctx, op, "x", x->data, x->numel) ||
        (h0 && !seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)))
        return NULL;
    M = B * T;
    DN = D * N;
    ins[0] = x;
    ins[1] = h0;
    ins[2] = l->delta;
    ins[3] = l->alpha;
    ins[4] = l->beta;
    ins[5] = l->gamma;
    ins[6] = l->omega;
    shape[0] = B;
    shape[1] = K;
    shape[2] = N;
    y = seq__out(ctx, op, 3, x->shape, 7, ins);
    hn = seq__out(ctx, op, 3, shape, 7, ins);
    a = (seq__mega_aux *)seq__calloc(ctx, sizeof(seq__mega_aux));
    if (!y || !hn || !a) return NULL;
    a->coef = (float *)seq_ctx_alloc(ctx, (size_t)(SEQ__MEGA_NCOEF * K * N) * sizeof(float));
    a->h = (float *)seq_ctx_alloc(ctx, (size_t)(K / D * M * DN) * sizeof(float));
    a->e = (float *)seq_ctx_alloc(ctx, (size_t)(M * D) * sizeof(float));
    b = (float *)seq_ctx_alloc(ctx, (size_t)(M * DN) * sizeof(float));
    a->scan.lengths = io ? (const int32_t *)seq__arena_copy(ctx, io->lengths, (size_t)B * sizeof(int32_t)) : NULL;
    a->scan.resets = io ? (const uint8_t *)seq__arena_copy(ctx, io->resets, (size_t)M) : NULL;
    if (!a->coef || !a->h || !a->e || !b || ctx->status != SEQ_OK) return NULL;
    a->delta = l->delta;
    a->alpha = l->alpha;
    a->beta = l->beta;
    a->gamma = l->gamma;
    a->omega = l->omega;
    a->scan.B = B;
    a->scan.T = T;
    a->scan.C = DN;
    a->scan.s_rs = K * N;
    seq__mega_coeffs(l, a->coef);
    seq__mega_skip(x->data, l->omega->data, M, D, a->e);
    for (dir = 0; dir < K / D; dir++) {
        seq__dscan s = seq__mega_dir(a, dir, h0 ? h0->data : NULL, b);
        float *hd = a->h + dir * M * DN;
        seq__mega_expand(x->data, a->coef + SEQ__MEGA_IN * K * N + dir * DN, M, D, N, b);
        seq__dscan_forward(&s, hd, hn->data + dir * DN);
        seq__mega_reduce(hd, a->coef + SEQ__MEGA_OUT * K * N + dir * DN, M, D, N, a->e);
    }
    memset(y->data, 0, (size_t)y->numel * sizeof(float)); /* padding past each length stays 0 */
    for (r = 0; r < B; r++)
        for (i = r * T * D; i < (r * T + seq__row_len(a->scan.lengths, r, T)) * D; i++)
            y->data[i] = a->e[i] * seq__sigmoidf(a->e[i]);
    nd = seq__record(ctx, op, y, seq__mega_ema_backward, 2, ins);
    if (nd) {
        nd->aux = a;
        nd->extra_out[0] = hn;
    }
    if (io) {
        io->hn = hn;
        io->cn = NULL;
    }
    return y;
}

/* work: the coefficients (SEQ__MEGA_NCOEF x (D,N)), the input weights (B,D,N), e (B,D) */
SEQDEF seq_status seq_mega_ema_state_init(const seq_mega_ema *l, seq_mega_ema_state *st, int64_t batch) {
    int64_t DN;
    if (!l || !st || !l->delta)
        return seq__err(SEQ_ERR_INVALID, "seq_mega_ema_state_init: NULL or uninitialized layer");
    memset(st, 0, sizeof *st);
    if (l->cfg.bidirectional)
        return seq__err(SEQ_ERR_UNSUPPORTED, "seq_mega_ema_state_init: a bidirectional EMA cannot stream");
    DN = l->cfg.dim * l->cfg.ndim;
    return seq__stream_alloc(st, l->alloc_ud, batch, batch * DN,
                             SEQ__MEGA_NCOEF * DN + batch * DN + batch * l->cfg.dim, "seq_mega_ema_state_init");
}

SEQDEF void seq_mega_ema_state_reset(seq_mega_ema_state *st) { seq_rnn_state_reset(st); }
SEQDEF void seq_mega_ema_state_free(seq_mega_ema_state *st) { seq_rnn_state_free(st); }

SEQDEF seq_status seq_mega_ema_step(const seq_mega_ema *l, seq_mega_ema_state *st, const float *x_t, float *y_t) {
    static const char op[] = "seq_mega_ema_step";
    int64_t B, D, N, DN, i;
    float *coef, *b, *e;
    seq__dscan s;
    seq_status status;
    if (!l || !l->delta || !st || !st->h || !x_t || !y_t)
        return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", op);
    B = st->batch;
    D = l->cfg.dim;
    N = l->cfg.ndim;
    DN = D * N;
    status = seq__step_finite(op, x_t, B * D);
    if (status != SEQ_OK) return status;
    coef = st->work;
    b = coef + SEQ__MEGA_NCOEF * DN;
    e = b + B * DN;
    seq__mega_coeffs(l, coef);
    memset(&s, 0, sizeof s);
    s.B = B;
    s.T = 1;
    s.C = s.s_rs = DN;
    s.a = coef + SEQ__MEGA_Q * DN;
    s.b = b;
    s.h0 = st->h;
    seq__mega_expand(x_t, coef + SEQ__MEGA_IN * DN, B, D, N, b);
    seq__dscan_forward(&s, st->h, NULL);
    seq__mega_skip(x_t, l->omega->data, B, D, e);
    seq__mega_reduce(st->h, coef + SEQ__MEGA_OUT * DN, B, D, N, e);
    for (i = 0; i < B * D; i++) y_t[i] = e[i] * seq__sigmoidf(e[i]);
    return SEQ_OK;
}

/* --- LRU -------------------------------------------------------------------------------- */

/* out (2N) = m e^{i ph} for m, ph (N): the N real parts, then the N imaginary parts. */
static void seq__polar_values(const float *m, const float *ph, int64_t N, float *out) {
    int64_t k;
    for (k = 0; k < N; k++) {
        out[k] = m[k] * cosf(ph[k]);
        out[N + k] = m[k] * sinf(ph[k]);
    }
}

static void seq__polar_backward(seq_ctx *ctx, seq__node *n) {
    seq_tensor *m = n->in[0], *ph = n->in[1];
    const float *go = n->out->grad;
    float *gm = seq__grad(ctx, m), *gph = seq__grad(ctx, ph);
    int64_t N = m->numel, k;
    for (k = 0; k < N; k++) {
        float c = cosf(ph->data[k]), s = sinf(ph->data[k]);
        if (gm) gm[k] += go[k] * c + go[N + k] * s;
        if (gph) gph[k] += m->data[k] * (go[N + k] * c - go[k] * s);
    }
}

/* m (N), ph (N) -> (2N): the complex numbers m e^{i ph}, real parts then imaginary parts. */
static seq_tensor *seq__polar(seq_ctx *ctx, const char *op, seq_tensor *m, seq_tensor *ph) {
    seq_tensor *ins[2], *y;
    int64_t shape;
    ins[0] = m;
    ins[1] = ph;
    if (!seq__ok(ctx, op, 2, ins)) return NULL;
    shape = 2 * m->numel;
    y = seq__out(ctx, op, 1, &shape, 2, ins);
    if (!y) return NULL;
    seq__polar_values(m->data, ph->data, m->numel, y->data);
    seq__record(ctx, op, y, seq__polar_backward, 2, ins);
    return y;
}

SEQDEF seq_lru_config seq_lru_config_default(int64_t d_model, int64_t d_state) {
    seq_lru_config c;
    c.d_model = d_model;
    c.d_state = d_state;
    c.r_min = 0.0f;
    c.r_max = 1.0f;
    c.max_phase = 6.28f;
    c.reparam = SEQ_REPARAM_EXP;
    return c;
}

SEQDEF seq_status seq_lru_init(seq_lru *l, seq_params *P, const char *prefix, seq_lru_config cfg) {
    int64_t H = cfg.d_model, N = cfg.d_state, s[2];
    double r;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_lru_init: NULL argument");
    if (H <= 0 || N <= 0 || !(cfg.r_min >= 0.0f && cfg.r_min < cfg.r_max && cfg.r_max <= 1.0f) ||
        !(cfg.max_phase > 0.0f && isfinite(cfg.max_phase)) || (int)cfg.reparam < 0 ||
        cfg.reparam >= SEQ_REPARAM_KIND_COUNT)
        return seq__err(SEQ_ERR_INVALID,
                        "seq_lru_init: '%s': bad config (d_model %lld, d_state %lld, ring [%g, %g], max_phase %g, "
                        "reparam %d)",
                        prefix, (long long)H, (long long)N, (double)cfg.r_min, (double)cfg.r_max,
                        (double)cfg.max_phase, (int)cfg.reparam);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->alloc_ud = P->alloc_ud;
    /* stand-ins: the radius that halves the ring's area, half the largest phase */
    r = sqrt(0.5 * ((double)cfg.r_min * cfg.r_min + (double)cfg.r_max * cfg.r_max));
    l->nu_log =
        seq__layer_param(P, prefix, "nu_log", 1, &N, seq_init_constant(seq_reparam_inverse(cfg.reparam, (float)r)));
    l->theta_log = seq__layer_param(P, prefix, "theta_log", 1, &N, seq_init_constant(logf(0.5f * cfg.max_phase)));
    l->gamma_log = seq__layer_param(P, prefix, "gamma_log", 1, &N, seq_init_constant((float)(0.5 * log1p(-r * r))));
    s[0] = N;
    s[1] = H;
    l->B_re = seq__layer_param(P, prefix, "B_re", 2, s, seq_init_normal(0.0f, (float)(1.0 / sqrt(2.0 * (double)H))));
    l->B_im = seq__layer_param(P, prefix, "B_im", 2, s, seq_init_normal(0.0f, (float)(1.0 / sqrt(2.0 * (double)H))));
    s[0] = H;
    s[1] = N;
    l->C_re = seq__layer_param(P, prefix, "C_re", 2, s, seq_init_normal(0.0f, (float)(1.0 / sqrt((double)N))));
    l->C_im = seq__layer_param(P, prefix, "C_im", 2, s, seq_init_normal(0.0f, (float)(1.0 / sqrt((double)N))));
    l->D = seq__layer_param(P, prefix, "D", 1, &H, seq_init_normal(0.0f, 1.0f));
    if (!l->nu_log || !l->theta_log || !l->gamma_log || !l->B_re || !l->B_im || !l->C_re || !l->C_im || !l->D)
        return seq__errstatus;
    return SEQ_OK;
}

SEQDEF seq_status seq_lru_reset_parameters(const seq_lru *l, seq_rng *rng) {
    const seq_tensor *gauss[5];
    double lo, hi;
    int64_t N, k;
    int j;
    if (!l || !rng || !l->nu_log || !l->nu_log->data)
        return seq__err(SEQ_ERR_INVALID, "seq_lru_reset_parameters: NULL rng, or parameters not allocated");
    N = l->cfg.d_state;
    lo = (double)l->cfg.r_min * l->cfg.r_min;
    hi = (double)l->cfg.r_max * l->cfg.r_max;
    for (k = 0; k < N; k++) {
        /* |lambda|^2 uniform on [r_min^2, r_max^2]; kept inside (0,1) where the maps invert */
        float r = (float)sqrt(seq_rng_uniform(rng, lo, hi)), m;
        r = fminf(fmaxf(r, 1e-30f), nextafterf(1.0f, 0.0f));
        l->nu_log->data[k] = seq_reparam_inverse(l->cfg.reparam, r);
        m = seq_reparam_value(l->cfg.reparam, l->nu_log->data[k], NULL); /* the magnitude w gives */
        l->gamma_log->data[k] = (float)(0.5 * log1p(-(double)m * m));
        /* a 0 draw becomes a tiny phase, not log 0 */
        l->theta_log->data[k] = (float)log(l->cfg.max_phase * fmax(seq_rng_double(rng), 1e-300));
    }
    gauss[0] = l->B_re;
    gauss[1] = l->B_im;
    gauss[2] = l->C_re;
    gauss[3] = l->C_im;
    gauss[4] = l->D;
    for (j = 0; j < 5; j++) {
        double fan = j < 2 ? 2.0 * (double)l->cfg.d_model : j < 4 ? (double)N : 1.0;
        seq_init_fill(gauss[j]->data, gauss[j]->ndim, gauss[j]->shape, seq_init_normal(0.0f, (float)(1.0 / sqrt(fan))),
                      rng);
    }
    return SEQ_OK;
}

SEQDEF seq_tensor *seq_lru_forward(seq_ctx *ctx, const seq_lru *l, seq_tensor *u, seq_rnn_io *io) {
    static const char op[] = "seq_lru_forward";
    seq_tensor *h0 = io ? io->h0 : NULL, *hn = NULL, *lam, *gain, *pair[2], *bu, *xs, *y;
    const int32_t *lengths = io ? io->lengths : NULL;
    int64_t B, T, H, N;
    seq__dscan s;
    if (!seq__ok(ctx, op, 1, &u)) return NULL;
    if (!l || !l->nu_log || !l->nu_log->data) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized layer or unallocated parameters");
        return NULL;
    }
    H = l->cfg.d_model;
    N = l->cfg.d_state;
    if (!seq__layer_input_ok(ctx, op, u, H)) return NULL;
    B = u->shape[0];
    T = u->shape[1];
    if (h0 && (h0->dtype != SEQ_F32 || h0->ndim != 2 || h0->shape[0] != B || h0->shape[1] != 2 * N)) {
        seq__ctx_fail(ctx, SEQ_ERR_SHAPE, op, "h0 must be (%lld,%lld)", (long long)B, (long long)(2 * N));
        return NULL;
    }
    if (!seq__lengths_ok(ctx, op, lengths, B, T) || !seq__finite_ok(ctx, op, "u", u->data, u->numel) ||
        (h0 && !seq__finite_ok(ctx, op, "h0", h0->data, h0->numel)))
        return NULL;
    /* lambda (2N) = f(nu) e^{i exp(theta)}; the input map gamma (B_re + i B_im) as one real (2N,H) weight */
    lam = seq__polar(ctx, op, seq_reparam(ctx, l->nu_log, l->cfg.reparam), seq_exp(ctx, l->theta_log));
    pair[0] = pair[1] = seq_exp(ctx, l->gamma_log);
    gain = seq_concat(ctx, pair, 2, 0);
    pair[0] = l->B_re;
    pair[1] = l->B_im;
    bu = seq_mul(ctx, seq_linear(ctx, u, seq_concat(ctx, pair, 2, 0), NULL), gain);
    if (!lam || !bu) return NULL;
    memset(&s, 0, sizeof s);
    s.B = B;
    s.T = T;
    s.C = s.s_rs = 2 * N;
    s.cplx = 1;
    s.a = lam->data;
    s.b = bu->data;
    s.h0 = h0 ? h0->data : NULL;
    s.resets = io ? io->resets : NULL;
    s.lengths = lengths;
    xs = seq__scan_record(ctx, op, s, lam, bu, h0, &hn);
    /* Re(C x) = C_re x_re - C_im x_im: one real (H,2N) weight */
    pair[0] = l->C_re;
    pair[1] = seq_scale(ctx, l->C_im, -1.0f);
    y = seq_add(ctx, seq_linear(ctx, xs, seq_concat(ctx, pair, 2, 1), NULL), seq_mul(ctx, u, l->D));
    y = seq__zero_past_lengths(ctx, op, y, lengths);
    if (!y) return NULL;
    if (io) {
        io->hn = hn;
        io->cn = NULL;
    }
    return y;
}

/* work: lambda (2N), magnitudes and phases (2N), the state's input (B,2N) */
SEQDEF seq_status seq_lru_state_init(const seq_lru *l, seq_lru_state *st, int64_t batch) {
    int64_t N;
    if (!l || !st || !l->nu_log) return seq__err(SEQ_ERR_INVALID, "seq_lru_state_init: NULL or uninitialized layer");
    N = l->cfg.d_state;
    return seq__stream_alloc(st, l->alloc_ud, batch, batch * 2 * N, 4 * N + batch * 2 * N, "seq_lru_state_init");
}

SEQDEF void seq_lru_state_reset(seq_lru_state *st) { seq_rnn_state_reset(st); }
SEQDEF void seq_lru_state_free(seq_lru_state *st) { seq_rnn_state_free(st); }

SEQDEF seq_status seq_lru_step(const seq_lru *l, seq_lru_state *st, const float *u_t, float *y_t) {
    static const char op[] = "seq_lru_step";
    int64_t B, H, N, r, k;
    float *lam, *mp, *bu;
    seq__dscan s;
    seq_status status;
    if (!l || !l->nu_log || !st || !st->h || !u_t || !y_t)
        return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", op);
    B = st->batch;
    H = l->cfg.d_model;
    N = l->cfg.d_state;
    status = seq__step_finite(op, u_t, B * H);
    if (status != SEQ_OK) return status;
    lam = st->work;
    mp = lam + 2 * N;
    bu = mp + 2 * N;
    for (k = 0; k < N; k++) {
        mp[k] = seq_reparam_value(l->cfg.reparam, l->nu_log->data[k], NULL);
        mp[N + k] = expf(l->theta_log->data[k]);
    }
    seq__polar_values(mp, mp + N, N, lam);
    seq_sgemm(0, 1, B, N, H, 1.0f, u_t, H, l->B_re->data, H, 0.0f, bu, 2 * N);
    seq_sgemm(0, 1, B, N, H, 1.0f, u_t, H, l->B_im->data, H, 0.0f, bu + N, 2 * N);
    for (r = 0; r < B; r++)
        for (k = 0; k < 2 * N; k++) bu[r * 2 * N + k] *= expf(l->gamma_log->data[k % N]);
    memset(&s, 0, sizeof s);
    s.B = B;
    s.T = 1;
    s.C = s.s_rs = 2 * N;
    s.cplx = 1;
    s.a = lam;
    s.b = bu;
    s.h0 = st->h;
    seq__dscan_forward(&s, st->h, NULL);
    seq_sgemm(0, 1, B, H, N, 1.0f, st->h, 2 * N, l->C_re->data, N, 0.0f, y_t, H);
    seq_sgemm(0, 1, B, H, N, -1.0f, st->h + N, 2 * N, l->C_im->data, N, 1.0f, y_t, H);
    for (r = 0; r < B * H; r++) y_t[r] += l->D->data[r % H] * u_t[r];
    return SEQ_OK;
}

/* --- blocks: shared pieces ---------------------------------------------------------------- */

/* "<prefix>.<name>.weight" of shape wshape (wdim dims) and ".bias" (wshape[0]) into *w, *b:
 * a Linear's (out,in) and (out), or a LayerNorm's (C) and (C). */
static seq_status seq__weight_bias(seq_params *P, const char *prefix, const char *name, int wdim, const int64_t *wshape,
                                   seq_init w_init, seq_init b_init, seq_tensor **w, seq_tensor **b) {
    char full[256];
    int len = snprintf(full, sizeof full, "%s.%s", prefix, name);
    if (len < 0 || (size_t)len >= sizeof full)
        return seq__err(SEQ_ERR_INVALID, "parameter name '%s.%s' is too long", prefix, name);
    *w = seq__layer_param(P, full, "weight", wdim, wshape, w_init);
    *b = seq__layer_param(P, full, "bias", 1, wshape, b_init);
    return *w && *b ? SEQ_OK : seq__errstatus;
}

static seq_status seq__linear_param(seq_params *P, const char *prefix, const char *name, int64_t out, int64_t in,
                                    seq_init w_init, seq_init b_init, seq_tensor **w, seq_tensor **b) {
    int64_t s[2];
    s[0] = out;
    s[1] = in;
    return seq__weight_bias(P, prefix, name, 2, s, w_init, b_init, w, b);
}

static seq_status seq__norm_param(seq_params *P, const char *prefix, const char *name, int64_t C, seq_tensor **w,
                                  seq_tensor **b) {
    return seq__weight_bias(P, prefix, name, 1, &C, seq_init_constant(1.0f), seq_init_zeros(), w, b);
}

/* y (M,out) rows ldy apart = x (M,in) W^T + b, as seq_linear computes it: the step APIs' projections. */
static void seq__linear_rows(const float *x, int64_t M, const seq_tensor *W, const seq_tensor *b, float *y,
                             int64_t ldy) {
    int64_t out = W->shape[0], in = W->shape[1], m, j;
    for (m = 0; m < M; m++)
        for (j = 0; j < out; j++) y[m * ldy + j] = b->data[j];
    seq_sgemm(0, 1, M, out, in, 1.0f, x, in, W->data, in, 1.0f, y, ldy);
}

/* y (M,C) = LayerNorm of the rows of x, as seq_layernorm computes it; y may alias x. */
static void seq__layernorm_rows(const float *x, int64_t M, int64_t C, const seq_tensor *w, const seq_tensor *b,
                                float eps, float *y) {
    int64_t m, j;
    for (m = 0; m < M; m++) {
        const float *xr = x + m * C;
        double mean = seq__sum_f64(xr, C, 0.0, 0) / (double)C, var = seq__sum_f64(xr, C, mean, 1) / (double)C;
        float rstd = (float)(1.0 / sqrt(var + eps));
        for (j = 0; j < C; j++) y[m * C + j] = (xr[j] - (float)mean) * rstd * w->data[j] + b->data[j];
    }
}

/* --- LRU block ------------------------------------------------------------------------------ */

SEQDEF seq_lru_block_config seq_lru_block_config_default(int64_t d_model, int64_t d_state) {
    seq_lru_block_config c;
    c.lru = seq_lru_config_default(d_model, d_state);
    c.prenorm = 0;
    c.eps = 1e-5f;
    return c;
}

SEQDEF seq_status seq_lru_block_init(seq_lru_block *l, seq_params *P, const char *prefix, seq_lru_block_config cfg) {
    char sub[256];
    int64_t H = cfg.lru.d_model;
    float bound;
    seq_status s;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_lru_block_init: NULL argument");
    if ((cfg.prenorm != 0 && cfg.prenorm != 1) || !(cfg.eps >= 0.0f && isfinite(cfg.eps)))
        return seq__err(SEQ_ERR_INVALID, "seq_lru_block_init: '%s': prenorm must be 0 or 1, eps finite and >= 0",
                        prefix);
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    snprintf(sub, sizeof sub, "%s.lru", prefix);
    s = seq_lru_init(&l->lru, P, sub, cfg.lru);
    if (s != SEQ_OK) return s;
    bound = 1.0f / sqrtf((float)H); /* nn.Linear's default */
    s = seq__linear_param(P, prefix, "out1", H, H, seq_init_uniform(-bound, bound), seq_init_uniform(-bound, bound),
                          &l->out1_w, &l->out1_b);
    if (s == SEQ_OK)
        s = seq__linear_param(P, prefix, "out2", H, H, seq_init_uniform(-bound, bound),
                              seq_init_uniform(-bound, bound), &l->out2_w, &l->out2_b);
    if (s == SEQ_OK)
        s = seq__norm_param(P, prefix, "norm", H, &l->norm_w, &l->norm_b);
    return s;
}

SEQDEF seq_status seq_lru_block_reset_parameters(const seq_lru_block *l, seq_rng *rng) {
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_lru_block_reset_parameters: NULL block");
    return seq_lru_reset_parameters(&l->lru, rng);
}

SEQDEF seq_tensor *seq_lru_block_forward(seq_ctx *ctx, const seq_lru_block *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_lru_block_forward";
    seq_tensor *z, *y;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->out1_w) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized block");
        return NULL;
    }
    z = l->cfg.prenorm ? seq_layernorm(ctx, x, l->norm_w, l->norm_b, l->cfg.eps) : x;
    z = seq_gelu_tanh(ctx, seq_lru_forward(ctx, &l->lru, z, io));
    z = seq_mul(ctx, seq_linear(ctx, z, l->out1_w, l->out1_b),
                seq_sigmoid(ctx, seq_linear(ctx, z, l->out2_w, l->out2_b)));
    y = seq_add(ctx, x, z);
    if (!l->cfg.prenorm) y = seq_layernorm(ctx, y, l->norm_w, l->norm_b, l->cfg.eps);
    return seq__zero_past_lengths(ctx, op, y, io ? io->lengths : NULL);
}

/* work: the LRU step's scratch, then z, the LRU's output, the GLU's halves (B,H each) */
SEQDEF seq_status seq_lru_block_state_init(const seq_lru_block *l, seq_lru_block_state *st, int64_t batch) {
    int64_t N, H;
    if (!l || !st || !l->out1_w)
        return seq__err(SEQ_ERR_INVALID, "seq_lru_block_state_init: NULL or uninitialized block");
    N = l->cfg.lru.d_state;
    H = l->cfg.lru.d_model;
    return seq__stream_alloc(st, l->lru.alloc_ud, batch, batch * 2 * N, 4 * N + batch * 2 * N + 4 * batch * H,
                             "seq_lru_block_state_init");
}

SEQDEF void seq_lru_block_state_reset(seq_lru_block_state *st) { seq_rnn_state_reset(st); }
SEQDEF void seq_lru_block_state_free(seq_lru_block_state *st) { seq_rnn_state_free(st); }

SEQDEF seq_status seq_lru_block_step(const seq_lru_block *l, seq_lru_block_state *st, const float *x_t, float *y_t) {
    static const char op[] = "seq_lru_block_step";
    int64_t B, H, i;
    float *z, *v, *a, *g;
    seq_status s;
    if (!l || !l->out1_w || !st || !st->h || !x_t || !y_t)
        return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", op);
    B = st->batch;
    H = l->cfg.lru.d_model;
    s = seq__step_finite(op, x_t, B * H);
    if (s != SEQ_OK) return s;
    z = st->work + 4 * l->cfg.lru.d_state + B * 2 * l->cfg.lru.d_state; /* past the LRU step's scratch */
    v = z + B * H;
    a = v + B * H;
    g = a + B * H;
    if (l->cfg.prenorm) seq__layernorm_rows(x_t, B, H, l->norm_w, l->norm_b, l->cfg.eps, z);
    else memcpy(z, x_t, (size_t)(B * H) * sizeof(float));
    s = seq_lru_step(&l->lru, st, z, v);
    if (s != SEQ_OK) return s;
    for (i = 0; i < B * H; i++) v[i] = seq__gelu_tanhf(v[i]);
    seq__linear_rows(v, B, l->out1_w, l->out1_b, a, H);
    seq__linear_rows(v, B, l->out2_w, l->out2_b, g, H);
    for (i = 0; i < B * H; i++) y_t[i] = x_t[i] + a[i] * seq__sigmoidf(g[i]);
    if (!l->cfg.prenorm) seq__layernorm_rows(y_t, B, H, l->norm_w, l->norm_b, l->cfg.eps, y_t);
    return SEQ_OK;
}

/* --- Mega block ----------------------------------------------------------------------------- */

/* Mega's fill for a masked score: finite, so a query that sees no key (padding) gets a
 * uniform row instead of NaN, and exp of it minus a real score's is exactly 0. */
#define SEQ__MEGA_HIDDEN (-1e30f)

SEQDEF seq_mega_block_config seq_mega_block_config_default(int64_t dim) {
    seq_mega_block_config c;
    c.ema = seq_mega_ema_config_default(dim);
    c.zdim = 64;
    c.hdim = 2 * dim;
    c.max_positions = 1024;
    c.causal = 1;
    c.prenorm = 1;
    c.eps = 1e-5f;
    return c;
}

SEQDEF seq_status seq_mega_block_init(seq_mega_block *l, seq_params *P, const char *prefix, seq_mega_block_config cfg) {
    char sub[256];
    int64_t D = cfg.ema.dim, S = cfg.zdim, E = cfg.hdim, s[2];
    seq_init w = seq_init_normal(0.0f, 0.02f), zero = seq_init_zeros();
    seq_status st;
    if (!l || !P || !prefix) return seq__err(SEQ_ERR_INVALID, "seq_mega_block_init: NULL argument");
    if (S <= 0 || E <= 0 || cfg.max_positions <= 0 || (cfg.causal != 0 && cfg.causal != 1) ||
        (cfg.prenorm != 0 && cfg.prenorm != 1) || !(cfg.eps >= 0.0f && isfinite(cfg.eps)))
        return seq__err(SEQ_ERR_INVALID,
                        "seq_mega_block_init: '%s': bad config (zdim %lld, hdim %lld, max_positions %lld, causal %d, "
                        "prenorm %d)",
                        prefix, (long long)S, (long long)E, (long long)cfg.max_positions, cfg.causal, cfg.prenorm);
    memset(l, 0, sizeof *l);
    cfg.ema.bidirectional = !cfg.causal;
    l->cfg = cfg;
    snprintf(sub, sizeof sub, "%s.norm", prefix);
    st = seq__norm_param(P, sub, "norm", D, &l->norm_w, &l->norm_b);
    snprintf(sub, sizeof sub, "%s.move", prefix);
    if (st == SEQ_OK) st = seq_mega_ema_init(&l->move, P, sub, cfg.ema);
    if (st == SEQ_OK) st = seq__linear_param(P, prefix, "v_proj", E, D, w, zero, &l->v_w, &l->v_b);
    if (st == SEQ_OK) st = seq__linear_param(P, prefix, "mx_proj", 2 * D + S + E, D, w, zero, &l->mx_w, &l->mx_b);
    if (st == SEQ_OK) st = seq__linear_param(P, prefix, "h_proj", D, E, w, zero, &l->h_w, &l->h_b);
    if (st != SEQ_OK) return st;
    s[0] = 2;
    s[1] = S;
    l->gamma = seq__layer_param(P, prefix, "gamma", 2, s, w);
    l->beta = seq__layer_param(P, prefix, "beta", 2, s, zero);
    s[0] = 2 * cfg.max_positions - 1;
    l->rel_pos = seq__layer_param(P, prefix, "rel_pos_bias.rel_pos_bias", 1, s, w);
    return l->gamma && l->beta && l->rel_pos ? SEQ_OK : seq__errstatus;
}

SEQDEF seq_status seq_mega_block_reset_parameters(const seq_mega_block *l, seq_rng *rng) {
    if (!l) return seq__err(SEQ_ERR_INVALID, "seq_mega_block_reset_parameters: NULL block");
    return seq_mega_ema_reset_parameters(&l->move, rng);
}

/* Row j of the (2,S) parameter p as an (S) view, for broadcasting over (B,T,S). */
static seq_tensor *seq__mega_row(seq_ctx *ctx, seq_tensor *p, int64_t j) {
    int64_t S = p->shape[1];
    return seq_reshape(ctx, seq_slice(ctx, p, 0, j, j + 1), 1, &S);
}

/* The additive mask (B,T,T): 0 where query i may read key j -- the same segment, j before
 * the row's length, and j <= i when causal -- else SEQ__MEGA_HIDDEN. */
static seq_tensor *seq__mega_mask(seq_ctx *ctx, int64_t B, int64_t T, int causal, const seq_rnn_io *io) {
    int64_t shape[3], r, i, j;
    int32_t *seg = (int32_t *)seq_ctx_alloc(ctx, (size_t)T * sizeof(int32_t));
    seq_tensor *m;
    shape[0] = B;
    shape[1] = shape[2] = T;
    m = seq_tensor_new(ctx, SEQ_F32, 3, shape);
    if (!m || !seg) return NULL;
    for (r = 0; r < B; r++) {
        int64_t len = seq__row_len(io ? io->lengths : NULL, r, T);
        for (i = 0; i < T; i++) /* segment numbers: a reset at i > 0 starts the next one */
            seg[i] = i == 0 ? 0 : seg[i - 1] + (io && io->resets && io->resets[r * T + i]);
        for (i = 0; i < T; i++)
            for (j = 0; j < T; j++)
                if (j >= len || seg[j] != seg[i] || (causal && j > i)) m->data[(r * T + i) * T + j] = SEQ__MEGA_HIDDEN;
    }
    return m;
}

/* The relative position bias (T,T): bias[i,j] = rel_pos[max_positions - 1 + j - i]. */
static seq_tensor *seq__mega_bias(seq_ctx *ctx, const seq_mega_block *l, int64_t T) {
    int64_t shape[2], i, j, P = l->cfg.max_positions;
    seq_tensor *ids, *table;
    shape[0] = shape[1] = T;
    ids = seq_tensor_new(ctx, SEQ_I32, 2, shape);
    if (!ids) return NULL;
    for (i = 0; i < T; i++)
        for (j = 0; j < T; j++) ids->idata[i * T + j] = (int32_t)(P - 1 + j - i);
    shape[0] = 2 * P - 1;
    shape[1] = 1;
    table = seq_reshape(ctx, l->rel_pos, 2, shape);
    shape[0] = T;
    shape[1] = T;
    return seq_reshape(ctx, seq_embedding(ctx, table, ids), 2, shape);
}

SEQDEF seq_tensor *seq_mega_block_forward(seq_ctx *ctx, const seq_mega_block *l, seq_tensor *x, seq_rnn_io *io) {
    static const char op[] = "seq_mega_block_forward";
    int64_t D, S, E, T;
    seq_tensor *xn, *v, *base, *u, *zr, *z, *r, *hx, *q, *k, *h, *y;
    if (!seq__ok(ctx, op, 1, &x)) return NULL;
    if (!l || !l->rel_pos) {
        seq__ctx_fail(ctx, SEQ_ERR_INVALID, op, "uninitialized block");
        return NULL;
    }
    D = l->cfg.ema.dim;
    S = l->cfg.zdim;
    E = l->cfg.hdim;
    if (!seq__layer_input_ok(ctx, op, x, D)) return NULL;
    T = x->shape[1];
    if (T > l->cfg.max_positions) {
        seq__ctx_fail(ctx, SEQ_ERR_RANGE, op, "T = %lld exceeds max_positions %lld", (long long)T,
                      (long long)l->cfg.max_positions);
        return NULL;
    }
    xn = l->cfg.prenorm ? seq_layernorm(ctx, x, l->norm_w, l->norm_b, l->cfg.eps) : x;
    v = seq_silu(ctx, seq_linear(ctx, xn, l->v_w, l->v_b));                                   /* (B,T,E) */
    base = seq_linear(ctx, seq_mega_ema_forward(ctx, &l->move, xn, io), l->mx_w, l->mx_b); /* (B,T,2D+S+E) */
    u = seq_sigmoid(ctx, seq_slice(ctx, base, -1, 0, D));
    zr = seq_silu(ctx, seq_slice(ctx, base, -1, D, D + S + E));
    hx = seq_slice(ctx, base, -1, D + S + E, 2 * D + S + E);
    z = seq_slice(ctx, zr, -1, 0, S);
    r = seq_slice(ctx, zr, -1, S, S + E);
    q = seq_scale(ctx, seq_add(ctx, seq_mul(ctx, z, seq__mega_row(ctx, l->gamma, 0)), seq__mega_row(ctx, l->beta, 0)),
                  1.0f / sqrtf((float)S));
    k = seq_add(ctx, seq_mul(ctx, z, seq__mega_row(ctx, l->gamma, 1)), seq__mega_row(ctx, l->beta, 1));
    h = seq_add(ctx, seq_add(ctx, seq_matmul(ctx, q, k, 0, 1), seq__mega_bias(ctx, l, T)),
                seq__mega_mask(ctx, x->shape[0], T, l->cfg.causal, io)); /* (B,T,T) scores */
    h = seq_matmul(ctx, seq_softmax(ctx, h), v, 0, 0);                  /* (B,T,E) */
    h = seq_silu(ctx, seq_add(ctx, hx, seq_linear(ctx, seq_mul(ctx, h, r), l->h_w, l->h_b)));
    y = seq_add(ctx, x, seq_mul(ctx, u, seq_sub(ctx, h, x)));
    if (!l->cfg.prenorm) y = seq_layernorm(ctx, y, l->norm_w, l->norm_b, l->cfg.eps);
    return seq__zero_past_lengths(ctx, op, y, io ? io->lengths : NULL);
}

/* work: xn (B,D), mx (B,D), base (B,2D+S+E), q (B,S), h (B,E), scores (max_positions) */
static int64_t seq__mega_work(const seq_mega_block *l, int64_t B) {
    int64_t D = l->cfg.ema.dim, S = l->cfg.zdim, E = l->cfg.hdim;
    return B * (4 * D + 2 * S + 2 * E) + l->cfg.max_positions;
}

SEQDEF seq_status seq_mega_block_state_init(const seq_mega_block *l, seq_mega_block_state *st, int64_t batch) {
    static const char op[] = "seq_mega_block_state_init";
    int64_t P;
    seq_status s;
    if (!l || !st || !l->rel_pos) return seq__err(SEQ_ERR_INVALID, "%s: NULL or uninitialized block", op);
    memset(st, 0, sizeof *st);
    if (!l->cfg.causal) return seq__err(SEQ_ERR_UNSUPPORTED, "%s: a non-causal block cannot stream", op);
    s = seq_mega_ema_state_init(&l->move, &st->ema, batch);
    if (s != SEQ_OK) return s;
    P = l->cfg.max_positions;
    st->alloc_ud = l->move.alloc_ud;
    st->keys = (float *)SEQ_MALLOC(st->alloc_ud,
                                   (size_t)(batch * P * (l->cfg.zdim + l->cfg.hdim) + seq__mega_work(l, batch)) *
                                       sizeof(float));
    if (!st->keys) {
        seq_mega_ema_state_free(&st->ema);
        return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", op);
    }
    st->values = st->keys + batch * P * l->cfg.zdim;
    st->work = st->values + batch * P * l->cfg.hdim;
    st->batch = batch;
    return SEQ_OK;
}

SEQDEF void seq_mega_block_state_reset(seq_mega_block_state *st) {
    if (!st) return;
    seq_mega_ema_state_reset(&st->ema);
    st->pos = 0; /* the caches are written before they are read again */
}

SEQDEF void seq_mega_block_state_free(seq_mega_block_state *st) {
    if (!st) return;
    seq_mega_ema_state_free(&st->ema);
    SEQ_FREE(st->alloc_ud, st->keys);
    memset(st, 0, sizeof *st);
}

/* One step of the forward's graph, row by row: this step's key and value join the caches,
 * the query reads keys 0..pos with the bias of their distance. */
SEQDEF seq_status seq_mega_block_step(const seq_mega_block *l, seq_mega_block_state *st, const float *x_t, float *y_t) {
    static const char op[] = "seq_mega_block_step";
    int64_t B, D, S, E, P, F, pos, b, i, j;
    float *xn, *mx, *base, *q, *h, *sc;
    seq_status s;
    if (!l || !l->rel_pos || !st || !st->keys || !x_t || !y_t)
        return seq__err(SEQ_ERR_INVALID, "%s: NULL argument or state", op);
    B = st->batch;
    D = l->cfg.ema.dim;
    S = l->cfg.zdim;
    E = l->cfg.hdim;
    P = l->cfg.max_positions;
    F = 2 * D + S + E;
    pos = st->pos;
    if (pos >= P) return seq__err(SEQ_ERR_RANGE, "%s: the stream is at max_positions %lld: reset it", op, (long long)P);
    s = seq__step_finite(op, x_t, B * D);
    if (s != SEQ_OK) return s;
    xn = st->work;
    mx = xn + B * D;
    base = mx + B * D;
    q = base + B * F;
    h = q + B * S;
    sc = h + B * E;
    if (l->cfg.prenorm) seq__layernorm_rows(x_t, B, D, l->norm_w, l->norm_b, l->cfg.eps, xn);
    else memcpy(xn, x_t, (size_t)(B * D) * sizeof(float));
    seq__linear_rows(xn, B, l->v_w, l->v_b, st->values + pos * E, P * E); /* v straight into the cache */
    s = seq_mega_ema_step(&l->move, &st->ema, xn, mx);
    if (s != SEQ_OK) return s;
    seq__linear_rows(mx, B, l->mx_w, l->mx_b, base, F);
    for (b = 0; b < B; b++) {
        float *v = st->values + (b * P + pos) * E, *key = st->keys + (b * P + pos) * S, *zr = base + b * F + D;
        float *qb = q + b * S, *hb = h + b * E, top = -INFINITY;
        double total = 0.0;
        for (i = 0; i < E; i++) v[i] *= seq__sigmoidf(v[i]);
        for (i = 0; i < S + E; i++) zr[i] *= seq__sigmoidf(zr[i]);
        for (i = 0; i < S; i++) {
            qb[i] = (zr[i] * l->gamma->data[i] + l->beta->data[i]) * (1.0f / sqrtf((float)S));
            key[i] = zr[i] * l->gamma->data[S + i] + l->beta->data[S + i];
        }
        for (j = 0; j <= pos; j++) {
            const float *kj = st->keys + (b * P + j) * S;
            double dot = 0.0;
            for (i = 0; i < S; i++) dot += (double)qb[i] * kj[i];
            sc[j] = (float)dot + l->rel_pos->data[P - 1 + j - pos];
            top = fmaxf(top, sc[j]);
        }
        for (j = 0; j <= pos; j++) total += sc[j] = expf(sc[j] - top);
        memset(hb, 0, (size_t)E * sizeof(float));
        for (j = 0; j <= pos; j++)
            for (i = 0; i < E; i++) hb[i] += (float)(sc[j] / total) * st->values[(b * P + j) * E + i];
        for (i = 0; i < E; i++) hb[i] *= zr[S + i]; /* h * r */
    }
    seq__linear_rows(h, B, l->h_w, l->h_b, mx, D); /* mx is spent: h_proj(h r) goes there */
    for (b = 0; b < B; b++)
        for (i = 0; i < D; i++) {
            float u = seq__sigmoidf(base[b * F + i]), o = base[b * F + D + S + E + i] + mx[b * D + i];
            o *= seq__sigmoidf(o);
            y_t[b * D + i] = x_t[b * D + i] + u * (o - x_t[b * D + i]);
        }
    if (!l->cfg.prenorm) seq__layernorm_rows(y_t, B, D, l->norm_w, l->norm_b, l->cfg.eps, y_t);
    st->pos = pos + 1;
    return SEQ_OK;
}

#ifdef __cplusplus
}
#endif
#endif /* SEQ_IMPLEMENTATION_DONE */
#endif /* SEQ_IMPLEMENTATION */
