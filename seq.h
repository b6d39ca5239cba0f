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

/* C (m x n) = alpha T + beta C, T NULL meaning zero; beta == 0 never reads C. */
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
    if (rs == 1) { /* rows of the panel are contiguous in src: copy them as they are */
        for (k = 0; k < kc; k++) {
            memcpy(dst + k * R, src + k * ks, (size_t)n * sizeof(float));
            memset(dst + k * R + n, 0, (size_t)(R - n) * sizeof(float));
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

/* The blocked product with pack buffers bp (kc x nc, NR-padded, shared) and ap (kc x mcb
 * per thread). beta applies on the first K slice only; later slices accumulate. */
static void seq__gemm_blocked(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *bp,
                              float *ap, int64_t mcb) {
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
                SEQ__GEMM_OMP(omp for)
                for (jr = 0; jr < nc; jr += SEQ__NR)
                    seq__gemm_pack(bp + jr * kc, B + pc * bks + (jc + jr) * bcs, bcs, bks,
                                   (int)seq__gemm_min(nc - jr, SEQ__NR), kc, SEQ__NR);
                SEQ__GEMM_OMP(omp for)
                for (ic = 0; ic < M; ic += mcb) {
                    int64_t mc = seq__gemm_min(M - ic, mcb);
                    for (ir = 0; ir < mc; ir += SEQ__MR)
                        seq__gemm_pack(myap + ir * kc, A + (ic + ir) * ars + pc * aks, ars, aks,
                                       (int)seq__gemm_min(mc - ir, SEQ__MR), kc, SEQ__MR);
                    for (jr = 0; jr < nc; jr += SEQ__NR)
                        for (ir = 0; ir < mc; ir += SEQ__MR)
                            seq__gemm_micro(kc, myap + ir * kc, bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc,
                                            alpha, beta_k, (int)seq__gemm_min(mc - ir, SEQ__MR),
                                            (int)seq__gemm_min(nc - jr, SEQ__NR));
                }
            }
        }
    }
}

/* Pack buffers sized to the problem: on the stack when small, else one allocation
 * (negligible next to the O(MNK) work); without memory, the reference still answers. */
#define SEQ__GEMM_STACK_FLOATS 8192
static void seq__gemm_own(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                          int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    float stack[SEQ__GEMM_STACK_FLOATS + 16], *heap = NULL, *buf;
    int64_t kc = seq__gemm_min(K, SEQ__KC), nc = seq__gemm_min(N, SEQ__NC), mcb = seq__gemm_mc(M);
    size_t bfloats = (size_t)(kc * ((nc + SEQ__NR - 1) / SEQ__NR * SEQ__NR));
    size_t floats = bfloats + (size_t)(kc * mcb) * (size_t)SEQ__GEMM_THREADS();
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
    seq__gemm_blocked(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, buf, buf + bfloats, mcb);
    SEQ_FREE(NULL, heap);
}
#endif /* !SEQ_USE_BLIS */

SEQDEF void seq_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    if (!seq__gemm_args_ok(transA, transB, M, N, K, A, lda, B, ldb, C, ldc) || M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) { /* op(A) op(B) contributes nothing; A and B are not read */
        seq__gemm_update(C, ldc, NULL, 0, M, N, 0.0f, beta);
        return;
    }
#ifdef SEQ_USE_BLIS
    /* BLIS takes a row and a column stride per matrix, so row-major needs no trick */
    bli_sgemm(SEQ__BLIS_TRANS(transA), SEQ__BLIS_TRANS(transB), M, N, K, &alpha, (float *)A, lda, 1, (float *)B,
              ldb, 1, &beta, C, ldc, 1);
#else
    seq__gemm_own(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
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
