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

/* --- 13c parameters and checkpoints ---------------------------------------------------- */

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

/* ===================================================================================
 * 12 learning-rate schedules
 * =================================================================================== */

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

/* A new file next to path, opened exclusively ("x": never one that exists) under a
 * random suffix; its name goes to *tmp. */
static seq_status seq__st_create(const char *fn, void *ud, const char *path, FILE **f, char **tmp) {
    size_t cap = strlen(path) + 32;
    char *name = (char *)SEQ_MALLOC(ud, cap);
    seq_rng r;
    int attempt;
    if (!name) return seq__err(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    /* addresses differ between runs (ASLR); the exclusive open makes a clash harmless */
    seq_rng_seed(&r, (uint64_t)(uintptr_t)&r ^ ((uint64_t)(uintptr_t)name << 20));
    for (attempt = 0; attempt < 16; attempt++) {
        snprintf(name, cap, "%s.tmp.%016llx", path, (unsigned long long)seq_rng_u64(&r));
        *f = fopen(name, "wbx");
        if (*f) {
            *tmp = name;
            return SEQ_OK;
        }
    }
    SEQ_FREE(ud, name);
    return seq__err(SEQ_ERR_IO, "%s: cannot create a file next to '%s'", fn, path);
}

static seq_status seq__st_write(const char *fn, void *ud, const char *path, const seq_st_tensor_desc *t, int64_t n,
                                const char *const *kv, int64_t n_meta, seq_st_dtype dt) {
    seq__sink o;
    unsigned char len8[8];
    size_t hlen;
    FILE *f = NULL;
    char *tmp = NULL;
    int64_t i;
    int k, ok;
    seq_status s = seq__st_check_write(fn, ud, path, t, n, kv, n_meta, dt);
    if (s != SEQ_OK) return s;
    o.f = NULL;
    o.n = 0;
    seq__st_header(&o, t, n, kv, n_meta, dt);
    hlen = (o.n + 7) / 8 * 8; /* padded with spaces so the data starts 8-byte aligned */
    if (hlen > SEQ__ST_MAX_HEADER)
        return seq__err(SEQ_ERR_INVALID, "%s: a %zu-byte header is over the format's limit", fn, hlen);
    if ((s = seq__st_create(fn, ud, path, &f, &tmp)) != SEQ_OK) return s;
    for (k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    fwrite(len8, 1, 8, f);
    o.f = f;
    o.n = 0;
    seq__st_header(&o, t, n, kv, n_meta, dt);
    while (o.n < hlen) seq__put(&o, " ", 1);
    for (i = 0; i < n; i++) seq__st_put_data(f, t[i].data, seq__numel(t[i].ndim, t[i].shape), dt);
    ok = !ferror(f);
    ok = fclose(f) == 0 && ok; /* fclose flushes: a full disk shows here at the latest */
    if (ok && rename(tmp, path) == 0) {
        s = SEQ_OK;
    } else {
        remove(tmp);
        s = seq__err(SEQ_ERR_IO, "%s: %s '%s' failed", fn, ok ? "replacing" : "writing", path);
    }
    SEQ_FREE(ud, tmp);
    return s;
}

SEQDEF seq_status seq_safetensors_write(const char *path, const seq_st_tensor_desc *tensors, int64_t n,
                                        const char *const *meta_kv, int64_t n_meta, seq_st_dtype out_dtype) {
    return seq__st_write("seq_safetensors_write", NULL, path, tensors, n, meta_kv, n_meta, out_dtype);
}

/* --- 13c parameters and checkpoints ------------------------------------------------------ */

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

#ifdef __cplusplus
}
#endif
#endif /* SEQ_IMPLEMENTATION_DONE */
#endif /* SEQ_IMPLEMENTATION */
