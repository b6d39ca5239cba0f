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
 * has it as its first member `st`, so checkpoints save any of them the same way. */
typedef struct seq_optim_state {
    const char *kind;   /* "adamw", "lion", "ema", ...: recorded in checkpoints */
    float *buf;
    int64_t numel;      /* floats in buf */
    int64_t step;       /* updates taken */
    void *alloc_ud;
} seq_optim_state;

/* ===================================================================================
 * 12 learning-rate schedules
 * =================================================================================== */

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
        for (j = 0; j < Tk; j++) {
            row[j] = j < end && !(pad && pad[j]) ? expf(row[j] - mx) : 0.0f;
            sum += row[j];
        }
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
    P = (float *)seq_ctx_alloc(ctx, (size_t)(slabs * Tq * Tk) * sizeof(float) + 1);
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

/* ===================================================================================
 * 12 learning-rate schedules
 * =================================================================================== */

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
