/* seq_cuda.h -- seq on one NVIDIA GPU: a device runtime (context, stream, cuBLAS handle,
 * memory arena, explicit transfers) and the kernels seq.h's ops will dispatch to, each
 * usable on its own through a plain C API on device buffers.
 *
 * stb-style on top of seq.h and seq_quant.h: include it anywhere (C or C++) for the
 * declarations; in exactly one .cu file compiled by nvcc write
 *     #define SEQ_CUDA_IMPLEMENTATION
 *     #include "seq_cuda.h"
 * and link -lcublas -lcudart. seq.h's and seq_quant.h's implementations live in another
 * TU, as usual (this one uses only their public API and block layouts).
 *
 * Conventions. Every pointer a kernel takes is device memory (seq_cuda_alloc, the arena
 * or any cudaMalloc'd block); matrices are row-major and contiguous unless a leading
 * dimension says otherwise. Every call queues work on the context's stream and returns
 * at once: argument errors (NULL, negative sizes, bad options) come back as
 * SEQ_ERR_INVALID before CUDA is touched; launch failures come back from the call; what
 * the device finds while running (an id out of range, a non-finite gradient, a fault)
 * comes back from the next seq_cuda_sync(). Backward kernels ACCUMULATE into gradients
 * (g += ...), as seq.h's tape does: zero them first for a fresh gradient. Nothing prints,
 * exits or aborts; every failure is a seq_status with seq_last_error() naming the
 * function and, for CUDA failures, CUDA's own message. CUDA errors map to:
 *   no device or driver           SEQ_ERR_UNSUPPORTED
 *   device out of memory          SEQ_ERR_NOMEM
 *   anything else CUDA/cuBLAS     SEQ_ERR_IO (the device refused the request)
 * docs/cuda.md lists what exists, the tolerances, and what has not yet run on a GPU. */
#ifndef SEQ_CUDA_H
#define SEQ_CUDA_H

#include "seq_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  runtime: context, arena, buffers, transfers
 * =================================================================================== */

/* How seq_cuda_sgemm multiplies f32 matrices: exact f32, or on tensor cores with the
 * inputs rounded to TF32 (10-bit mantissa) or BF16 (7-bit), accumulating in f32. */
typedef enum seq_cuda_math {
    SEQ_CUDA_MATH_FP32 = 0,
    SEQ_CUDA_MATH_TF32 = 1,
    SEQ_CUDA_MATH_BF16 = 2,
    SEQ_CUDA_MATH_COUNT = 3
} seq_cuda_math;

/* One device, one stream, one cuBLAS handle. CUDA types are held as void * so C programs
 * include this without the CUDA headers. The arena is one device block handed out by a
 * bump pointer for a step's temporaries and reset between steps (as seq_ctx's arena). */
typedef struct seq_cuda_ctx {
    int device;
    void *stream;         /* cudaStream_t */
    void *cublas;         /* cublasHandle_t; NULL until seq_cuda_ctx_init succeeds */
    int math;             /* a seq_cuda_math: the GEMMs' mode, SEQ_CUDA_MATH_FP32 after init
                           * (an int: C++ may not hold a value outside the enum's range) */
    unsigned char *arena; /* device memory */
    size_t arena_cap, arena_used, arena_peak;
    void *report;         /* device-side error report (what kernels found), read at sync */
} seq_cuda_ctx;

/* Devices this process can use: 0 when there is none or no driver (never an error). */
SEQDEF int seq_cuda_device_count(void);
/* Opens device `device` with an arena of arena_bytes (0: none). No device or no driver is
 * SEQ_ERR_UNSUPPORTED, device outside [0, count) SEQ_ERR_RANGE; on failure *ctx is
 * zeroed and owns nothing. */
SEQDEF seq_status seq_cuda_ctx_init(seq_cuda_ctx *ctx, int device, size_t arena_bytes);
/* Waits for queued work, then frees everything ctx owns (not seq_cuda_alloc'd buffers). */
SEQDEF void seq_cuda_ctx_free(seq_cuda_ctx *ctx);
/* Waits for the stream; returns the first error queued work met (and clears it). */
SEQDEF seq_status seq_cuda_sync(seq_cuda_ctx *ctx);
SEQDEF seq_status seq_cuda_set_math(seq_cuda_ctx *ctx, seq_cuda_math math);

/* Arena: 256-byte aligned blocks valid until the next reset. NULL with seq_last_error()
 * set when the arena cannot hold the request (SEQ_ERR_NOMEM). bytes == 0 gives NULL
 * without an error. Reset only after the kernels reading the blocks were queued: the
 * stream orders them before later kernels that reuse the memory. */
SEQDEF void *seq_cuda_arena_alloc(seq_cuda_ctx *ctx, size_t bytes);
SEQDEF void seq_cuda_arena_reset(seq_cuda_ctx *ctx);

/* Long-lived device buffers (parameters, optimizer state). *ptr is NULL for 0 bytes.
 * seq_cuda_free waits for the stream first (queued kernels may still use the buffer). */
SEQDEF seq_status seq_cuda_alloc(seq_cuda_ctx *ctx, void **ptr, size_t bytes);
SEQDEF seq_status seq_cuda_free(seq_cuda_ctx *ctx, void *ptr);
/* bytes = 0 on the whole buffer: cudaMemsetAsync. */
SEQDEF seq_status seq_cuda_zero(seq_cuda_ctx *ctx, void *dev, size_t bytes);

/* Copies queued on the stream: the host buffer must stay valid (and, for a download, is
 * filled) only once seq_cuda_sync() returned. */
SEQDEF seq_status seq_cuda_upload(seq_cuda_ctx *ctx, void *dev_dst, const void *host_src, size_t bytes);
SEQDEF seq_status seq_cuda_download(seq_cuda_ctx *ctx, void *host_dst, const void *dev_src, size_t bytes);
/* The download followed by seq_cuda_sync(). */
SEQDEF seq_status seq_cuda_download_sync(seq_cuda_ctx *ctx, void *host_dst, const void *dev_src, size_t bytes);

/* ===================================================================================
 * 2  GEMM through cuBLAS
 * =================================================================================== */

/* C (M,N) = alpha op(A) op(B) + beta C, row-major, with exactly seq_sgemm's arguments and
 * rules (beta == 0 never reads C; lda >= cols of the stored A, and so on), in ctx->math.
 * Sizes above INT_MAX are SEQ_ERR_UNSUPPORTED (cuBLAS takes int). */
SEQDEF seq_status seq_cuda_sgemm(seq_cuda_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                                 float *C, int64_t ldc);
/* batch products of the same shape in one cuBLAS call (attention's per-head products):
 * C_i = alpha op(A_i) op(B_i) + beta C_i with X_i = X + i strideX. Strides >= 0 (0 shares
 * one matrix across the batch); batch >= 0. */
SEQDEF seq_status seq_cuda_sgemm_batched(seq_cuda_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K,
                                         float alpha, const float *A, int64_t lda, int64_t strideA, const float *B,
                                         int64_t ldb, int64_t strideB, float beta, float *C, int64_t ldc,
                                         int64_t strideC, int64_t batch);

/* ===================================================================================
 * 3  elementwise, activations, softmax, attention, norms, embedding, cross-entropy,
 *    optimizers (AdamW, SGD, Lion)
 *    Sizes are int64_t; an element count above INT32_MAX * 64 is refused.
 * =================================================================================== */

typedef enum seq_cuda_binary {
    SEQ_CUDA_ADD = 0,
    SEQ_CUDA_MUL = 1,
    SEQ_CUDA_BINARY_COUNT = 2
} seq_cuda_binary;

/* y (rows,cols) = a op b, b either (rows,cols) or, when b_row, one row (cols) broadcast
 * over the rows. y may be a (in place). */
SEQDEF seq_status seq_cuda_binary_fwd(seq_cuda_ctx *ctx, seq_cuda_binary op, int64_t rows, int64_t cols,
                                      const float *a, const float *b, int b_row, float *y);
/* ga += dy/da gy, gb += dy/db gy (summed over rows when b_row); ga or gb may be NULL. */
SEQDEF seq_status seq_cuda_binary_bwd(seq_cuda_ctx *ctx, seq_cuda_binary op, int64_t rows, int64_t cols,
                                      const float *a, const float *b, int b_row, const float *gy, float *ga,
                                      float *gb);

/* As seq.h's ops of the same names; gelu_tanh is GELU's tanh approximation. */
typedef enum seq_cuda_act {
    SEQ_CUDA_RELU = 0,
    SEQ_CUDA_GELU_TANH = 1,
    SEQ_CUDA_SILU = 2,
    SEQ_CUDA_SIGMOID = 3,
    SEQ_CUDA_TANH = 4,
    SEQ_CUDA_ACT_COUNT = 5
} seq_cuda_act;

/* y (n) = f(x); y may be x. */
SEQDEF seq_status seq_cuda_act_fwd(seq_cuda_ctx *ctx, seq_cuda_act act, int64_t n, const float *x, float *y);
/* gx += f'(x) gy (from the input x, so the forward output need not be kept). */
SEQDEF seq_status seq_cuda_act_bwd(seq_cuda_ctx *ctx, seq_cuda_act act, int64_t n, const float *x, const float *gy,
                                   float *gx);

/* Row-wise over (rows,cols): y = softmax(x) or log_softmax(x), max-subtracted. The
 * backwards take the forward's output y: softmax gx += y (gy - sum(gy y)); log-softmax
 * gx += gy - exp(y) sum(gy). cols >= 1 when rows >= 1. */
SEQDEF seq_status seq_cuda_softmax(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *x, float *y);
SEQDEF seq_status seq_cuda_log_softmax(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *x, float *y);
SEQDEF seq_status seq_cuda_softmax_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *y,
                                       const float *gy, float *gx);
SEQDEF seq_status seq_cuda_log_softmax_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *y,
                                           const float *gy, float *gx);

/* Scaled dot-product attention as seq_attention: q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,Dv)
 * -> y (B,H,Tq,Dv) = softmax(q k^T scale, hidden keys excluded) v, as two strided-batched
 * GEMMs around a masked row softmax. probs (B,H,Tq,Tk) receives the probabilities, which
 * the backward takes. mask is seq.h's struct (NULL: none; scale 0 is 1/sqrt(D)) with its
 * key_lengths (B) and key_padding (B x Tk) arrays in DEVICE memory, read by the queued
 * kernels. A query with every key hidden outputs zeros and passes back zero gradient; a
 * key length outside [0,Tk] is SEQ_ERR_RANGE at the next sync. Tk, D, Dv >= 1. The GEMMs
 * run in ctx->math. */
SEQDEF seq_status seq_cuda_attention(seq_cuda_ctx *ctx, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                     int64_t Dv, const float *q, const float *k, const float *v,
                                     const seq_attention_mask *mask, float *probs, float *y);
/* gq, gk, gv (any may be NULL) += the gradients for gy, from the forward's probs. Uses
 * B H Tq Tk floats of the arena. */
SEQDEF seq_status seq_cuda_attention_bwd(seq_cuda_ctx *ctx, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                         int64_t Dv, const float *q, const float *k, const float *v,
                                         const seq_attention_mask *mask, const float *probs, const float *gy,
                                         float *gq, float *gk, float *gv);

/* LayerNorm over the last dim C of x (rows,C): y = (x - mean) rstd w + b, rstd =
 * 1/sqrt(var + eps), as seq_layernorm; RMSNorm is mean = 0, var = mean(x^2). w, b may be
 * NULL (1 and 0). stats (rows,2) receives (mean, rstd) per row for the backward (NULL
 * when no backward follows). eps finite and >= 0. */
SEQDEF seq_status seq_cuda_layernorm(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                     const float *b, float eps, float *y, float *stats);
SEQDEF seq_status seq_cuda_rmsnorm(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                   float eps, float *y, float *stats);
/* From the forward's x and stats: gx += ..., gw += sum_rows gy xhat, gb += sum_rows gy
 * (any of gx, gw, gb may be NULL; gb only for layernorm). */
SEQDEF seq_status seq_cuda_layernorm_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                         const float *stats, const float *gy, float *gx, float *gw, float *gb);
SEQDEF seq_status seq_cuda_rmsnorm_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                       const float *stats, const float *gy, float *gx, float *gw);

/* y (n,D) = W[ids[i],:] for W (V,D) and int32 ids (n). An id outside [0,V) gives a zero
 * row and SEQ_ERR_RANGE (naming its position) from the next seq_cuda_sync(). */
SEQDEF seq_status seq_cuda_embedding(seq_cuda_ctx *ctx, int64_t V, int64_t D, const float *W, int64_t n,
                                     const int32_t *ids, float *y);
/* gW[ids[i],:] += gy[i,:] (atomic adds: the order of the sums is not fixed). */
SEQDEF seq_status seq_cuda_embedding_bwd(seq_cuda_ctx *ctx, int64_t V, int64_t D, int64_t n, const int32_t *ids,
                                         const float *gy, float *gW);

/* Cross-entropy of logits (rows,V) against int32 targets (rows): *loss (one device float)
 * = the mean over rows whose target is not ignore_index of lse(x) - x[t] (0 when every
 * row is ignored, as seq_cross_entropy); dlogits (NULL: none) += (softmax(x) - onehot(t))
 * / counted on counted rows. A target outside [0,V) that is not ignore_index is
 * SEQ_ERR_RANGE at the next sync. Uses rows * 8 + 256 bytes of the arena. */
SEQDEF seq_status seq_cuda_cross_entropy(seq_cuda_ctx *ctx, int64_t rows, int64_t V, const float *logits,
                                         const int32_t *targets, int32_t ignore_index, float *loss,
                                         float *dlogits);

/* One AdamW / Adam step (seq_adamw_step's update, torch.optim.AdamW's arithmetic) over n
 * flat floats: w -= lr wd_scale weight_decay w (decoupled; L2 on g otherwise), m, v
 * moments, bias corrections of step t (1-based), vmax when cfg->amsgrad (else NULL).
 * wd_scale is the tensor's decay multiplier (seq_param.decay): call once per group. As on
 * the CPU, a NaN or Inf gradient skips the whole call (nothing changes) and the next sync
 * returns SEQ_ERR_NUMERIC naming its index. */
SEQDEF seq_status seq_cuda_adamw_step(seq_cuda_ctx *ctx, const seq_adamw_config *cfg, int64_t t, float lr,
                                      float wd_scale, int64_t n, float *w, const float *g, float *m, float *v,
                                      float *vmax);
/* SGD as seq_sgd_step (torch.optim.SGD): coupled weight decay, momentum buf (NULL when
 * cfg->momentum is 0) started at the first gradient on step t = 1, dampening, Nesterov. */
SEQDEF seq_status seq_cuda_sgd_step(seq_cuda_ctx *ctx, const seq_sgd_config *cfg, int64_t t, float lr,
                                    float wd_scale, int64_t n, float *w, const float *g, float *buf);
/* Lion as seq_lion_step: w -= lr sign(beta1 m + (1-beta1) g), m = beta2 m + (1-beta2) g,
 * decoupled decay. Same skip rule. */
SEQDEF seq_status seq_cuda_lion_step(seq_cuda_ctx *ctx, const seq_lion_config *cfg, float lr, float wd_scale,
                                     int64_t n, float *w, const float *g, float *m);

/* ===================================================================================
 * 4  quantized GEMV
 * =================================================================================== */

/* y (rows) = W x for W rows x n in seq_quant.h's row layout of `type` (ggml blocks,
 * seq_quant_row_size(type, n) bytes a row) and f32 x (n): each block dequantized in
 * registers, one warp a row. Q8_0, Q4_0, Q4_K, MXFP4 and NF4 so far (others
 * SEQ_ERR_UNSUPPORTED); n a positive multiple of the format's block (32; 256 for Q4_K, 64
 * for NF4). */
SEQDEF seq_status seq_cuda_quant_gemv(seq_cuda_ctx *ctx, seq_quant_type type, int64_t rows, int64_t n,
                                      const void *W, const float *x, float *y);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_CUDA_H */

/* =================================================================================== */
#ifdef SEQ_CUDA_IMPLEMENTATION
#ifndef SEQ_CUDA_IMPLEMENTATION_DONE
#define SEQ_CUDA_IMPLEMENTATION_DONE

#ifndef __CUDACC__
#error "SEQ_CUDA_IMPLEMENTATION must be compiled by nvcc (a .cu file)"
#endif

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ----------------------------------------------------------------------------------
 * errors
 * ---------------------------------------------------------------------------------- */

static seq_status seq_cuda__status_of(cudaError_t e) {
    switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice: return SEQ_ERR_UNSUPPORTED;
    case cudaErrorMemoryAllocation: return SEQ_ERR_NOMEM;
    default: return SEQ_ERR_IO;
    }
}

/* SEQ_OK for cudaSuccess; otherwise the mapped status, "fn: what: CUDA's message". The
 * runtime also keeps a failed call's error as its "last error": it is cleared here, or
 * the next launch check would blame an innocent kernel for it. */
static seq_status seq_cuda__check(cudaError_t e, const char *fn, const char *what) {
    if (e == cudaSuccess) return SEQ_OK;
    cudaGetLastError();
    return seq_set_error(seq_cuda__status_of(e), "%s: %s: %s (%s)", fn, what, cudaGetErrorString(e),
                         cudaGetErrorName(e));
}

static seq_status seq_cuda__check_blas(cublasStatus_t e, const char *fn, const char *what) {
    if (e == CUBLAS_STATUS_SUCCESS) return SEQ_OK;
    return seq_set_error(e == CUBLAS_STATUS_ALLOC_FAILED ? SEQ_ERR_NOMEM : SEQ_ERR_IO, "%s: %s: %s", fn, what,
                         cublasGetStatusString(e));
}

/* After a kernel launch: a bad configuration or a sticky device fault shows here. */
static seq_status seq_cuda__launched(const char *fn) {
    return seq_cuda__check(cudaGetLastError(), fn, "kernel launch");
}

static seq_status seq_cuda__invalid(const char *fn, const char *why) {
    return seq_set_error(SEQ_ERR_INVALID, "%s: %s", fn, why);
}

/* What kernels found while running, in device memory, read back by seq_cuda_sync: the
 * first finder (atomicCAS on code) records the op and the position. */
enum { SEQ_CUDA__OP_NONE, SEQ_CUDA__OP_EMBEDDING, SEQ_CUDA__OP_EMBEDDING_BWD, SEQ_CUDA__OP_CROSS_ENTROPY,
       SEQ_CUDA__OP_ADAMW, SEQ_CUDA__OP_SGD, SEQ_CUDA__OP_LION, SEQ_CUDA__OP_ATTENTION };
typedef struct seq_cuda__report {
    int code;          /* seq_status, 0 when nothing was found */
    int op;            /* SEQ_CUDA__OP_* */
    long long pos;     /* flat index of the offending element */
    long long value;   /* the offending id, when there is one */
    int skip;          /* optimizers: this call's gradients are not all finite */
} seq_cuda__report;

static const char *seq_cuda__op_name(int op) {
    switch (op) {
    case SEQ_CUDA__OP_EMBEDDING: return "seq_cuda_embedding";
    case SEQ_CUDA__OP_EMBEDDING_BWD: return "seq_cuda_embedding_bwd";
    case SEQ_CUDA__OP_CROSS_ENTROPY: return "seq_cuda_cross_entropy";
    case SEQ_CUDA__OP_ADAMW: return "seq_cuda_adamw_step";
    case SEQ_CUDA__OP_SGD: return "seq_cuda_sgd_step";
    case SEQ_CUDA__OP_LION: return "seq_cuda_lion_step";
    case SEQ_CUDA__OP_ATTENTION: return "seq_cuda_attention";
    default: return "seq_cuda";
    }
}

__device__ static void seq_cuda__report_error(seq_cuda__report *r, int code, int op, long long pos, long long value) {
    if (atomicCAS(&r->code, 0, code) == 0) {
        r->op = op;
        r->pos = pos;
        r->value = value;
    }
}

/* ----------------------------------------------------------------------------------
 * argument checks, run before anything touches CUDA
 * ---------------------------------------------------------------------------------- */

/* NULL ctx: SEQ_ERR_INVALID. Checked first: every function names its own. */
static seq_status seq_cuda__ctx_given(const seq_cuda_ctx *ctx, const char *fn) {
    return ctx ? SEQ_OK : seq_cuda__invalid(fn, "NULL ctx");
}

/* After the arguments: a context never initialized (or freed) is SEQ_ERR_STATE. Makes
 * ctx's device current, so contexts on several devices can be used from one thread. */
static seq_status seq_cuda__ctx_ready(const seq_cuda_ctx *ctx, const char *fn) {
    if (!ctx) return seq_cuda__invalid(fn, "NULL ctx");
    if (!ctx->cublas) return seq_set_error(SEQ_ERR_STATE, "%s: ctx is not initialized (seq_cuda_ctx_init)", fn);
    return seq_cuda__check(cudaSetDevice(ctx->device), fn, "cudaSetDevice");
}

/* Largest element count a grid-stride launch takes here (indices stay in int64_t; the
 * bound only keeps grids and the int positions in reports honest). */
#define SEQ_CUDA__MAX_ELEMS ((int64_t)INT_MAX * 64)

/* A size in [0, max] and a pointer that is not NULL when the size is positive. */
static seq_status seq_cuda__sizes(const char *fn, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: negative size (%lld, %lld)", fn, (long long)rows, (long long)cols);
    if (cols > 0 && rows > SEQ_CUDA__MAX_ELEMS / cols)
        return seq_set_error(SEQ_ERR_INVALID, "%s: %lld x %lld elements is too many", fn, (long long)rows,
                             (long long)cols);
    return SEQ_OK;
}

static seq_status seq_cuda__ptr(const char *fn, const void *p, const char *name, int64_t count) {
    if (count > 0 && !p) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL %s", fn, name);
    return SEQ_OK;
}

/* ----------------------------------------------------------------------------------
 * launches
 * ---------------------------------------------------------------------------------- */

/* Math shared by kernels and host (the runner checks it against seq.h without a GPU). */
#define SEQ_CUDA__HD __host__ __device__
#define SEQ_CUDA__THREADS 256
#define SEQ_CUDA__STREAM(ctx) ((cudaStream_t)(ctx)->stream)

/* Blocks for a grid-stride loop over n items: enough to fill the device, never more
 * than the items need (kernels loop when n exceeds the grid). */
static unsigned seq_cuda__grid(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65535) b = 65535;
    return (unsigned)b;
}

/* Sum or max over a warp; the butterfly leaves the result in every lane. */
__device__ static float seq_cuda__warp_sum(float v) {
    int o;
    for (o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ static float seq_cuda__warp_max(float v) {
    int o;
    for (o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Block-wide sum or max, every thread gets the result. blockDim.x a multiple of 32 and
 * at most 1024; `sh` holds 32 floats. The leading __syncthreads lets a caller reuse sh
 * for consecutive reductions. */
__device__ static float seq_cuda__block_reduce(float v, float *sh, int is_max) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = is_max ? seq_cuda__warp_max(v) : seq_cuda__warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < nwarps ? sh[lane] : (is_max ? -INFINITY : 0.0f);
    return is_max ? seq_cuda__warp_max(v) : seq_cuda__warp_sum(v);
}

/* Column sums of a per-element term over the rows of (rows,cols) arrays, into gradients
 * of a row (a bias, a norm's weight). A block of 32 x 32 threads takes 32 columns at a
 * time: thread (c, r) sums rows r, r+32, ... of column c (each warp reads 32 neighbouring
 * floats of one row), then the 32 partials of a column are added in a fixed order, so
 * the result does not depend on scheduling. The term:
 *   COL_SUM   out0 += Σ gy
 *   COL_MUL   out0 += Σ gy a
 *   COL_NORM  out0 += Σ gy xhat, out1 += Σ gy   (xhat = (a - mean_r) rstd_r; either may be NULL) */
enum { SEQ_CUDA__COL_SUM, SEQ_CUDA__COL_MUL, SEQ_CUDA__COL_NORM };

__global__ static void seq_cuda__colsum_k(int mode, int64_t rows, int64_t cols, const float *a, const float *stats,
                                          const float *gy, float *out0, float *out1) {
    __shared__ float p0[32][33], p1[32][33]; /* 33: no bank conflicts reading a column */
    int tc = threadIdx.x, tr = threadIdx.y;
    for (int64_t base = (int64_t)blockIdx.x * 32; base < cols; base += (int64_t)gridDim.x * 32) {
        int64_t j = base + tc;
        float s0 = 0.0f, s1 = 0.0f;
        if (j < cols)
            for (int64_t r = tr; r < rows; r += 32) {
                float g = gy[r * cols + j];
                if (mode == SEQ_CUDA__COL_SUM) s0 += g;
                else if (mode == SEQ_CUDA__COL_MUL) s0 += g * a[r * cols + j];
                else {
                    s0 += g * (a[r * cols + j] - stats[2 * r]) * stats[2 * r + 1];
                    s1 += g;
                }
            }
        p0[tr][tc] = s0;
        p1[tr][tc] = s1;
        __syncthreads();
        if (tr == 0 && j < cols) {
            float t0 = 0.0f, t1 = 0.0f;
            for (int k = 0; k < 32; k++) {
                t0 += p0[k][tc];
                t1 += p1[k][tc];
            }
            if (out0) out0[j] += t0;
            if (out1) out1[j] += t1;
        }
        __syncthreads(); /* the partials are read before the next tile overwrites them */
    }
}

static seq_status seq_cuda__colsums(seq_cuda_ctx *ctx, const char *fn, int mode, int64_t rows, int64_t cols,
                                    const float *a, const float *stats, const float *gy, float *out0, float *out1) {
    dim3 threads(32, 32);
    seq_cuda__colsum_k<<<seq_cuda__grid(cols, 32), threads, 0, SEQ_CUDA__STREAM(ctx)>>>(mode, rows, cols, a, stats, gy,
                                                                                       out0, out1);
    return seq_cuda__launched(fn);
}

/* ----------------------------------------------------------------------------------
 * runtime
 * ---------------------------------------------------------------------------------- */

SEQDEF int seq_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* not sticky, but leave no error behind for the next launch check */
        return 0;
    }
    return n;
}

SEQDEF seq_status seq_cuda_ctx_init(seq_cuda_ctx *ctx, int device, size_t arena_bytes) {
    static const char fn[] = "seq_cuda_ctx_init";
    cudaStream_t stream = NULL;
    cublasHandle_t blas = NULL;
    seq_status s;
    int n = 0;
    cudaError_t e;
    if (!ctx) return seq_cuda__invalid(fn, "NULL ctx");
    memset(ctx, 0, sizeof *ctx);
    e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: no CUDA device: %s", fn,
                             e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
    }
    if (device < 0 || device >= n)
        return seq_set_error(SEQ_ERR_RANGE, "%s: device %d outside [0, %d)", fn, device, n);
    ctx->device = device;
    s = seq_cuda__check(cudaSetDevice(device), fn, "cudaSetDevice");
    if (s == SEQ_OK) s = seq_cuda__check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), fn, "stream");
    ctx->stream = stream;
    if (s == SEQ_OK) s = seq_cuda__check_blas(cublasCreate(&blas), fn, "cublasCreate");
    ctx->cublas = blas;
    if (s == SEQ_OK) s = seq_cuda__check_blas(cublasSetStream(blas, stream), fn, "cublasSetStream");
    if (s == SEQ_OK) s = seq_cuda__check(cudaMalloc(&ctx->report, sizeof(seq_cuda__report)), fn, "report block");
    /* on ctx's stream: a non-blocking stream is not ordered after the legacy default one */
    if (s == SEQ_OK)
        s = seq_cuda__check(cudaMemsetAsync(ctx->report, 0, sizeof(seq_cuda__report), stream), fn, "report block");
    if (s == SEQ_OK && arena_bytes > 0) {
        s = seq_cuda__check(cudaMalloc((void **)&ctx->arena, arena_bytes), fn, "arena");
        if (s == SEQ_OK) ctx->arena_cap = arena_bytes;
    }
    if (s != SEQ_OK) {
        seq_cuda_ctx_free(ctx); /* keeps seq_last_error(): free reports nothing */
        return s;
    }
    return SEQ_OK;
}

SEQDEF void seq_cuda_ctx_free(seq_cuda_ctx *ctx) {
    if (!ctx) return;
    if (ctx->cublas) cudaSetDevice(ctx->device);
    if (ctx->stream) cudaStreamSynchronize(SEQ_CUDA__STREAM(ctx));
    if (ctx->cublas) cublasDestroy((cublasHandle_t)ctx->cublas);
    if (ctx->arena) cudaFree(ctx->arena);
    if (ctx->report) cudaFree(ctx->report);
    if (ctx->stream) cudaStreamDestroy(SEQ_CUDA__STREAM(ctx));
    cudaGetLastError();
    memset(ctx, 0, sizeof *ctx);
}

SEQDEF seq_status seq_cuda_sync(seq_cuda_ctx *ctx) {
    static const char fn[] = "seq_cuda_sync";
    seq_cuda__report r;
    seq_status s = seq_cuda__ctx_ready(ctx, fn);
    /* the report is copied after the queued work, on the same stream */
    if (s == SEQ_OK)
        s = seq_cuda__check(cudaMemcpyAsync(&r, ctx->report, sizeof r, cudaMemcpyDeviceToHost, SEQ_CUDA__STREAM(ctx)),
                            fn, "queued work failed");
    if (s == SEQ_OK) s = seq_cuda__check(cudaStreamSynchronize(SEQ_CUDA__STREAM(ctx)), fn, "queued work failed");
    if (s != SEQ_OK || r.code == 0) return s;
    s = seq_cuda__check(cudaMemsetAsync(ctx->report, 0, sizeof r, SEQ_CUDA__STREAM(ctx)), fn, "report");
    if (s != SEQ_OK) return s;
    if (r.code == SEQ_ERR_NUMERIC)
        return seq_set_error((seq_status)r.code, "%s: gradient %lld is not finite: the step was skipped",
                             seq_cuda__op_name(r.op), r.pos);
    if (r.op == SEQ_CUDA__OP_ATTENTION)
        return seq_set_error((seq_status)r.code, "%s: key_lengths[%lld] = %lld is outside [0, Tk]",
                             seq_cuda__op_name(r.op), r.pos, r.value);
    return seq_set_error((seq_status)r.code, "%s: id %lld at position %lld is out of range", seq_cuda__op_name(r.op),
                         r.value, r.pos);
}

SEQDEF seq_status seq_cuda_set_math(seq_cuda_ctx *ctx, seq_cuda_math math) {
    static const char fn[] = "seq_cuda_set_math";
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s != SEQ_OK) return s;
    if ((int)math < 0 || math >= SEQ_CUDA_MATH_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "%s: math mode %d outside [0, %d)", fn, (int)math,
                             (int)SEQ_CUDA_MATH_COUNT);
    ctx->math = (int)math;
    return SEQ_OK;
}

#define SEQ_CUDA__ALIGN ((size_t)256)

SEQDEF void *seq_cuda_arena_alloc(seq_cuda_ctx *ctx, size_t bytes) {
    static const char fn[] = "seq_cuda_arena_alloc";
    size_t at, room;
    if (!ctx) {
        seq_cuda__invalid(fn, "NULL ctx");
        return NULL;
    }
    if (bytes == 0) return NULL;
    at = (ctx->arena_used + SEQ_CUDA__ALIGN - 1) & ~(SEQ_CUDA__ALIGN - 1);
    room = at <= ctx->arena_cap ? ctx->arena_cap - at : 0;
    if (bytes > room) {
        seq_set_error(SEQ_ERR_NOMEM, "%s: %zu bytes do not fit (arena of %zu, %zu in use)", fn, bytes,
                      ctx->arena_cap, ctx->arena_used);
        return NULL;
    }
    ctx->arena_used = at + bytes;
    if (ctx->arena_used > ctx->arena_peak) ctx->arena_peak = ctx->arena_used;
    return ctx->arena + at;
}

SEQDEF void seq_cuda_arena_reset(seq_cuda_ctx *ctx) {
    if (ctx) ctx->arena_used = 0;
}

SEQDEF seq_status seq_cuda_alloc(seq_cuda_ctx *ctx, void **ptr, size_t bytes) {
    static const char fn[] = "seq_cuda_alloc";
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK && !ptr) s = seq_cuda__invalid(fn, "NULL ptr");
    if (s != SEQ_OK) return s;
    *ptr = NULL;
    if ((s = seq_cuda__ctx_ready(ctx, fn)) != SEQ_OK || bytes == 0) return s;
    return seq_cuda__check(cudaMalloc(ptr, bytes), fn, "cudaMalloc");
}

SEQDEF seq_status seq_cuda_free(seq_cuda_ctx *ctx, void *ptr) {
    static const char fn[] = "seq_cuda_free";
    seq_status s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || !ptr) return s;
    /* kernels queued on the stream may still read ptr */
    s = seq_cuda__check(cudaStreamSynchronize(SEQ_CUDA__STREAM(ctx)), fn, "queued work failed");
    return s == SEQ_OK ? seq_cuda__check(cudaFree(ptr), fn, "cudaFree") : s;
}

SEQDEF seq_status seq_cuda_zero(seq_cuda_ctx *ctx, void *dev, size_t bytes) {
    static const char fn[] = "seq_cuda_zero";
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, dev, "buffer", (int64_t)(bytes > 0));
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || bytes == 0) return s;
    return seq_cuda__check(cudaMemsetAsync(dev, 0, bytes, SEQ_CUDA__STREAM(ctx)), fn, "cudaMemsetAsync");
}

static seq_status seq_cuda__copy(seq_cuda_ctx *ctx, const char *fn, void *dst, const void *src, size_t bytes,
                                 cudaMemcpyKind kind) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, dst, "destination", (int64_t)(bytes > 0));
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, src, "source", (int64_t)(bytes > 0));
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || bytes == 0) return s;
    return seq_cuda__check(cudaMemcpyAsync(dst, src, bytes, kind, SEQ_CUDA__STREAM(ctx)), fn, "cudaMemcpyAsync");
}

SEQDEF seq_status seq_cuda_upload(seq_cuda_ctx *ctx, void *dev_dst, const void *host_src, size_t bytes) {
    return seq_cuda__copy(ctx, "seq_cuda_upload", dev_dst, host_src, bytes, cudaMemcpyHostToDevice);
}

SEQDEF seq_status seq_cuda_download(seq_cuda_ctx *ctx, void *host_dst, const void *dev_src, size_t bytes) {
    return seq_cuda__copy(ctx, "seq_cuda_download", host_dst, dev_src, bytes, cudaMemcpyDeviceToHost);
}

SEQDEF seq_status seq_cuda_download_sync(seq_cuda_ctx *ctx, void *host_dst, const void *dev_src, size_t bytes) {
    seq_status s = seq_cuda__copy(ctx, "seq_cuda_download_sync", host_dst, dev_src, bytes, cudaMemcpyDeviceToHost);
    return s == SEQ_OK ? seq_cuda_sync(ctx) : s;
}

/* ----------------------------------------------------------------------------------
 * GEMM
 * ---------------------------------------------------------------------------------- */

static const cublasComputeType_t seq_cuda__compute[SEQ_CUDA_MATH_COUNT] = {
    CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_16BF};

/* seq_sgemm's argument rules, and what cuBLAS can take. stride (batched only, else NULL)
 * holds strideA, strideB, strideC. SEQ_OK with *empty set when there is nothing to
 * compute (M or N or batch 0). */
static seq_status seq_cuda__gemm_args(seq_cuda_ctx *ctx, const char *fn, int transA, int transB, int64_t M,
                                      int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                                      int64_t ldb, const float *C, int64_t ldc, const int64_t *stride, int64_t batch,
                                      int *empty) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    *empty = 0;
    if (s != SEQ_OK) return s;
    if (M < 0 || N < 0 || K < 0 || batch < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: negative size M=%lld N=%lld K=%lld batch=%lld", fn, (long long)M,
                             (long long)N, (long long)K, (long long)batch);
    if (M == 0 || N == 0 || batch == 0) {
        *empty = 1;
        return seq_cuda__ctx_ready(ctx, fn);
    }
    /* BLAS rules as seq_sgemm: alpha == 0 or K == 0 never reads A or B */
    if (!C || (alpha != 0.0f && K > 0 && (!A || !B))) return seq_cuda__invalid(fn, "NULL matrix");
    if (lda < (transA ? M : K) || ldb < (transB ? K : N) || ldc < N || lda < 1 || ldb < 1)
        return seq_set_error(SEQ_ERR_INVALID, "%s: leading dimension shorter than a row (lda=%lld ldb=%lld ldc=%lld)",
                             fn, (long long)lda, (long long)ldb, (long long)ldc);
    if (stride && (stride[0] < 0 || stride[1] < 0 || stride[2] < 0))
        return seq_set_error(SEQ_ERR_INVALID, "%s: negative stride", fn);
    /* the outputs must not overlap: C_i's last row ends before C_{i+1} starts */
    if (stride && batch > 1 && stride[2] < (M - 1) * ldc + N)
        return seq_set_error(SEQ_ERR_INVALID, "%s: strideC = %lld makes the outputs overlap", fn, (long long)stride[2]);
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX || batch > INT_MAX)
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: sizes above INT_MAX (cuBLAS takes int)", fn);
    if (ctx->math < 0 || ctx->math >= SEQ_CUDA_MATH_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "%s: ctx->math = %d is no seq_cuda_math", fn, ctx->math);
    return seq_cuda__ctx_ready(ctx, fn);
}

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major
 * matrix read column-major is its transpose: so cuBLAS gets B first, the same transpose
 * flags, m = N, n = M (in both calls below). */
SEQDEF seq_status seq_cuda_sgemm(seq_cuda_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                                 float *C, int64_t ldc) {
    static const char fn[] = "seq_cuda_sgemm";
    int empty;
    seq_status s = seq_cuda__gemm_args(ctx, fn, transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, NULL, 1, &empty);
    if (s != SEQ_OK || empty) return s;
    return seq_cuda__check_blas(
        cublasGemmEx((cublasHandle_t)ctx->cublas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                     (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F, (int)ldb, A, CUDA_R_32F, (int)lda, &beta, C,
                     CUDA_R_32F, (int)ldc, seq_cuda__compute[ctx->math], CUBLAS_GEMM_DEFAULT),
        fn, "cublasGemmEx");
}

SEQDEF seq_status seq_cuda_sgemm_batched(seq_cuda_ctx *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K,
                                         float alpha, const float *A, int64_t lda, int64_t strideA, const float *B,
                                         int64_t ldb, int64_t strideB, float beta, float *C, int64_t ldc,
                                         int64_t strideC, int64_t batch) {
    static const char fn[] = "seq_cuda_sgemm_batched";
    int64_t stride[3];
    int empty;
    seq_status s;
    stride[0] = strideA;
    stride[1] = strideB;
    stride[2] = strideC;
    s = seq_cuda__gemm_args(ctx, fn, transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, stride, batch, &empty);
    if (s != SEQ_OK || empty) return s;
    return seq_cuda__check_blas(
        cublasGemmStridedBatchedEx((cublasHandle_t)ctx->cublas, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F,
                                   (int)ldb, (long long)strideB, A, CUDA_R_32F, (int)lda, (long long)strideA, &beta, C,
                                   CUDA_R_32F, (int)ldc, (long long)strideC, (int)batch, seq_cuda__compute[ctx->math],
                                   CUBLAS_GEMM_DEFAULT),
        fn, "cublasGemmStridedBatchedEx");
}

/* ----------------------------------------------------------------------------------
 * elementwise
 * ---------------------------------------------------------------------------------- */

#define SEQ_CUDA__FOR(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ static void seq_cuda__binary_fwd_k(int op, int64_t n, int64_t cols, const float *a, const float *b,
                                              int b_row, float *y) {
    SEQ_CUDA__FOR(i, n) {
        float bv = b[b_row ? i % cols : i];
        y[i] = op == SEQ_CUDA_ADD ? a[i] + bv : a[i] * bv;
    }
}

/* ga += gy (add) or gy b (mul); gb (not broadcast) += gy or gy a. */
__global__ static void seq_cuda__binary_bwd_k(int op, int64_t n, int64_t cols, const float *a, const float *b,
                                              int b_row, const float *gy, float *ga, float *gb) {
    SEQ_CUDA__FOR(i, n) {
        if (ga) ga[i] += op == SEQ_CUDA_ADD ? gy[i] : gy[i] * b[b_row ? i % cols : i];
        if (gb && !b_row) gb[i] += op == SEQ_CUDA_ADD ? gy[i] : gy[i] * a[i];
    }
}

/* Everything both directions check: ctx, sizes, op, b_row, and a, b and the third array
 * of rows x cols (y forward, gy backward) given. */
static seq_status seq_cuda__binary_args(seq_cuda_ctx *ctx, const char *fn, seq_cuda_binary op, int64_t rows,
                                        int64_t cols, const float *a, const float *b, int b_row, const float *c,
                                        const char *cname) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, rows, cols);
    if (s == SEQ_OK && ((int)op < 0 || op >= SEQ_CUDA_BINARY_COUNT))
        s = seq_set_error(SEQ_ERR_INVALID, "%s: op %d outside [0, %d)", fn, (int)op, (int)SEQ_CUDA_BINARY_COUNT);
    if (s == SEQ_OK && b_row != 0 && b_row != 1) s = seq_cuda__invalid(fn, "b_row must be 0 or 1");
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, a, "a", rows * cols);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, b, "b", rows * cols);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, c, cname, rows * cols);
    return s == SEQ_OK ? seq_cuda__ctx_ready(ctx, fn) : s;
}

SEQDEF seq_status seq_cuda_binary_fwd(seq_cuda_ctx *ctx, seq_cuda_binary op, int64_t rows, int64_t cols,
                                      const float *a, const float *b, int b_row, float *y) {
    static const char fn[] = "seq_cuda_binary_fwd";
    int64_t n = rows * cols;
    seq_status s = seq_cuda__binary_args(ctx, fn, op, rows, cols, a, b, b_row, y, "y");
    if (s != SEQ_OK || n == 0) return s;
    seq_cuda__binary_fwd_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        (int)op, n, cols, a, b, b_row, y);
    return seq_cuda__launched(fn);
}

SEQDEF seq_status seq_cuda_binary_bwd(seq_cuda_ctx *ctx, seq_cuda_binary op, int64_t rows, int64_t cols,
                                      const float *a, const float *b, int b_row, const float *gy, float *ga,
                                      float *gb) {
    static const char fn[] = "seq_cuda_binary_bwd";
    int64_t n = rows * cols;
    seq_status s = seq_cuda__binary_args(ctx, fn, op, rows, cols, a, b, b_row, gy, "gy");
    if (s != SEQ_OK || n == 0) return s;
    if (ga || (gb && !b_row)) {
        seq_cuda__binary_bwd_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0,
                                 SEQ_CUDA__STREAM(ctx)>>>((int)op, n, cols, a, b, b_row, gy, ga, gb);
        if ((s = seq_cuda__launched(fn)) != SEQ_OK) return s;
    }
    if (gb && b_row) {
        s = seq_cuda__colsums(ctx, fn, op == SEQ_CUDA_ADD ? SEQ_CUDA__COL_SUM : SEQ_CUDA__COL_MUL, rows, cols, a, NULL,
                              gy, gb, NULL);
    }
    return s;
}

/* ----------------------------------------------------------------------------------
 * activations: the formulas of seq.h's unary ops (sigmoid from exp(-|x|), so neither
 * branch overflows; GELU's tanh form with k = sqrt(2/pi), c = 0.044715)
 * ---------------------------------------------------------------------------------- */

#define SEQ_CUDA__GELU_K 0.7978845608028654f
#define SEQ_CUDA__GELU_C 0.044715f

SEQ_CUDA__HD static float seq_cuda__sigmoid(float x) {
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

SEQ_CUDA__HD static float seq_cuda__act(int act, float x) {
    switch (act) {
    case SEQ_CUDA_RELU: return x > 0.0f ? x : 0.0f;
    case SEQ_CUDA_GELU_TANH: return 0.5f * x * (1.0f + tanhf(SEQ_CUDA__GELU_K * (x + SEQ_CUDA__GELU_C * x * x * x)));
    case SEQ_CUDA_SILU: return x * seq_cuda__sigmoid(x);
    case SEQ_CUDA_SIGMOID: return seq_cuda__sigmoid(x);
    default: return tanhf(x);
    }
}

SEQ_CUDA__HD static float seq_cuda__act_grad(int act, float x) {
    float t, s;
    switch (act) {
    case SEQ_CUDA_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case SEQ_CUDA_GELU_TANH: /* d/dx 0.5 x (1 + t), t = tanh(k (x + c x^3)) */
        t = tanhf(SEQ_CUDA__GELU_K * (x + SEQ_CUDA__GELU_C * x * x * x));
        return 0.5f * (1.0f + t) +
               0.5f * x * (1.0f - t * t) * SEQ_CUDA__GELU_K * (1.0f + 3.0f * SEQ_CUDA__GELU_C * x * x);
    case SEQ_CUDA_SILU: s = seq_cuda__sigmoid(x); return s * (1.0f + x * (1.0f - s));
    case SEQ_CUDA_SIGMOID: s = seq_cuda__sigmoid(x); return s * (1.0f - s);
    default: t = tanhf(x); return 1.0f - t * t;
    }
}

__global__ static void seq_cuda__act_fwd_k(int act, int64_t n, const float *x, float *y) {
    SEQ_CUDA__FOR(i, n) y[i] = seq_cuda__act(act, x[i]);
}

__global__ static void seq_cuda__act_bwd_k(int act, int64_t n, const float *x, const float *gy, float *gx) {
    SEQ_CUDA__FOR(i, n) gx[i] += gy[i] * seq_cuda__act_grad(act, x[i]);
}

/* x and the other array of n floats (y, or gy) given; act in range. */
static seq_status seq_cuda__act_args(seq_cuda_ctx *ctx, const char *fn, seq_cuda_act act, int64_t n,
                                     const float *x, const float *p2, const char *p2name) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK && ((int)act < 0 || act >= SEQ_CUDA_ACT_COUNT))
        s = seq_set_error(SEQ_ERR_INVALID, "%s: activation %d outside [0, %d)", fn, (int)act, (int)SEQ_CUDA_ACT_COUNT);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, n, 1);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, x, "x", n);
    return s == SEQ_OK ? seq_cuda__ptr(fn, p2, p2name, n) : s;
}

SEQDEF seq_status seq_cuda_act_fwd(seq_cuda_ctx *ctx, seq_cuda_act act, int64_t n, const float *x, float *y) {
    static const char fn[] = "seq_cuda_act_fwd";
    seq_status s = seq_cuda__act_args(ctx, fn, act, n, x, y, "y");
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || n == 0) return s;
    seq_cuda__act_fwd_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        (int)act, n, x, y);
    return seq_cuda__launched(fn);
}

SEQDEF seq_status seq_cuda_act_bwd(seq_cuda_ctx *ctx, seq_cuda_act act, int64_t n, const float *x, const float *gy,
                                   float *gx) {
    static const char fn[] = "seq_cuda_act_bwd";
    seq_status s = seq_cuda__act_args(ctx, fn, act, n, x, gy, "gy");
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, gx, "gx", n);
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || n == 0) return s;
    seq_cuda__act_bwd_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        (int)act, n, x, gy, gx);
    return seq_cuda__launched(fn);
}

/* ----------------------------------------------------------------------------------
 * row kernels: one block of SEQ_CUDA__THREADS per row, strided over the columns
 * ---------------------------------------------------------------------------------- */

/* Attention's mask on rows of scores laid out (B,H,Tq) x Tk: row r is query i = r % Tq of
 * batch b = r / (H Tq). Key j is hidden when causal and j > i + Tk - Tq (aligned at the
 * end, as seq_attention), when j >= lens[b], or when pad[b Tk + j] != 0. active = 0 is
 * no mask (plain softmax). */
typedef struct seq_cuda__mask {
    int active, causal;
    int64_t H, Tq, Tk;
    const int32_t *lens;
    const uint8_t *pad;
} seq_cuda__mask;

SEQ_CUDA__HD static int seq_cuda__hidden(const seq_cuda__mask *m, int64_t r, int64_t j) {
    int64_t i, b;
    if (!m->active) return 0;
    i = r % m->Tq;
    b = r / (m->H * m->Tq);
    return (m->causal && j > i + m->Tk - m->Tq) || (m->lens && j >= m->lens[b]) || (m->pad && m->pad[b * m->Tk + j]);
}

/* y = softmax or log_softmax of each row: max first, so exp never overflows. Hidden keys
 * get probability 0; a row with every key hidden is all zeros (not NaN), as on the CPU. */
__global__ static void seq_cuda__softmax_k(int64_t cols, const float *x, float *y, int log_form, seq_cuda__mask m,
                                           seq_cuda__report *rep) {
    __shared__ float sh[32];
    int64_t r = blockIdx.x;
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float mx = -INFINITY, sum = 0.0f;
    if (m.lens && threadIdx.x == 0 && r % (m.H * m.Tq) == 0) { /* the first row of batch b checks its length */
        int64_t b = r / (m.H * m.Tq);
        if (m.lens[b] < 0 || m.lens[b] > m.Tk) seq_cuda__report_error(rep, SEQ_ERR_RANGE, SEQ_CUDA__OP_ATTENTION, b, m.lens[b]);
    }
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        if (!seq_cuda__hidden(&m, r, j)) mx = fmaxf(mx, xr[j]);
    mx = seq_cuda__block_reduce(mx, sh, 1);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        if (!seq_cuda__hidden(&m, r, j)) sum += expf(xr[j] - mx);
    sum = seq_cuda__block_reduce(sum, sh, 0);
    if (log_form) {
        float lse = mx + logf(sum);
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - lse;
    } else {
        float inv = sum > 0.0f ? 1.0f / sum : 0.0f; /* sum is 0 only when every key is hidden */
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
            yr[j] = seq_cuda__hidden(&m, r, j) ? 0.0f : expf(xr[j] - mx) * inv;
    }
}

/* softmax: gx (+)= y (gy - sum(gy y)); log-softmax: gx (+)= gy - exp(y) sum(gy). With
 * accumulate = 0 gx is overwritten, and may then be gy (each element is read by the
 * thread that writes it, after the reduction). */
__global__ static void seq_cuda__softmax_bwd_k(int64_t cols, const float *y, const float *gy, float *gx,
                                               int log_form, int accumulate) {
    __shared__ float sh[32];
    int64_t off = (int64_t)blockIdx.x * cols;
    float dot = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dot += log_form ? gy[off + j] : gy[off + j] * y[off + j];
    dot = seq_cuda__block_reduce(dot, sh, 0);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        float d = log_form ? gy[off + j] - expf(y[off + j]) * dot : y[off + j] * (gy[off + j] - dot);
        gx[off + j] = accumulate ? gx[off + j] + d : d;
    }
}

/* Rows go to gridDim.x, which takes up to 2^31 - 1. */
static seq_status seq_cuda__rows_args(seq_cuda_ctx *ctx, const char *fn, int64_t rows, int64_t cols) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, rows, cols);
    if (s == SEQ_OK && rows > 0 && cols == 0) s = seq_cuda__invalid(fn, "rows of 0 columns");
    if (s == SEQ_OK && rows > INT_MAX) s = seq_set_error(SEQ_ERR_INVALID, "%s: more than INT_MAX rows", fn);
    return s;
}

static seq_status seq_cuda__softmax_fwd(seq_cuda_ctx *ctx, const char *fn, int64_t rows, int64_t cols,
                                        const float *x, float *y, int log_form) {
    seq_status s = seq_cuda__rows_args(ctx, fn, rows, cols);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, x, "x", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, y, "y", rows);
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || rows == 0) return s;
    seq_cuda__mask none;
    memset(&none, 0, sizeof none);
    seq_cuda__softmax_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(cols, x, y, log_form, none,
                                                                                        NULL);
    return seq_cuda__launched(fn);
}

static seq_status seq_cuda__softmax_back(seq_cuda_ctx *ctx, const char *fn, int64_t rows, int64_t cols,
                                         const float *y, const float *gy, float *gx, int log_form) {
    seq_status s = seq_cuda__rows_args(ctx, fn, rows, cols);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, y, "y", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, gy, "gy", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, gx, "gx", rows);
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || rows == 0) return s;
    seq_cuda__softmax_bwd_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(cols, y, gy, gx,
                                                                                            log_form, 1);
    return seq_cuda__launched(fn);
}

SEQDEF seq_status seq_cuda_softmax(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *x, float *y) {
    return seq_cuda__softmax_fwd(ctx, "seq_cuda_softmax", rows, cols, x, y, 0);
}
SEQDEF seq_status seq_cuda_log_softmax(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *x, float *y) {
    return seq_cuda__softmax_fwd(ctx, "seq_cuda_log_softmax", rows, cols, x, y, 1);
}
SEQDEF seq_status seq_cuda_softmax_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *y,
                                       const float *gy, float *gx) {
    return seq_cuda__softmax_back(ctx, "seq_cuda_softmax_bwd", rows, cols, y, gy, gx, 0);
}
SEQDEF seq_status seq_cuda_log_softmax_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t cols, const float *y,
                                           const float *gy, float *gx) {
    return seq_cuda__softmax_back(ctx, "seq_cuda_log_softmax_bwd", rows, cols, y, gy, gx, 1);
}

/* ----------------------------------------------------------------------------------
 * attention, per (b,h) pair as one batch entry of the strided GEMMs:
 *   forward   P = softmax_masked(scale q k^T)     (Tq,Tk)
 *             y = P v                             (Tq,Dv)
 *   backward  gv += P^T gy                        (Tk,Dv)
 *             dS = P (gy v^T - rowsum(P gy v^T))  (Tq,Tk), in the arena
 *             gq += scale dS k,  gk += scale dS^T q
 * ---------------------------------------------------------------------------------- */

/* Sizes, pointers (q, k, v, probs and the direction's own: y forward, gy backward), the
 * scale, and the mask turned into the kernel's form. */
static seq_status seq_cuda__attention_args(seq_cuda_ctx *ctx, const char *fn, int64_t B, int64_t H, int64_t Tq,
                                           int64_t Tk, int64_t D, int64_t Dv, const float *q, const float *k,
                                           const float *v, const seq_attention_mask *mask, const float *probs,
                                           const float *own, const char *own_name, float *scale, seq_cuda__mask *m) {
    /* every array is (B H) x (Tq or Tk) x (Tk, D or Dv): bound the largest */
    int64_t rows = Tq > Tk ? Tq : Tk, cols = Tk > D ? Tk : D;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (Dv > cols) cols = Dv;
    if (s == SEQ_OK && (B < 0 || H < 0 || Tq < 0 || Tk < 1 || D < 1 || Dv < 1))
        s = seq_set_error(SEQ_ERR_INVALID, "%s: sizes B=%lld H=%lld Tq=%lld Tk=%lld D=%lld Dv=%lld (Tk, D, Dv >= 1)", fn,
                          (long long)B, (long long)H, (long long)Tq, (long long)Tk, (long long)D, (long long)Dv);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, B, H);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, rows, cols);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, B * H, rows * cols);
    if (s == SEQ_OK && B * H * Tq > INT_MAX) s = seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: B H Tq above INT_MAX", fn);
    if (s == SEQ_OK && B * H * Tq > 0 && (!q || !k || !v || !probs)) s = seq_cuda__invalid(fn, "NULL q, k, v or probs");
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, own, own_name, B * H * Tq);
    if (s == SEQ_OK && mask && !(isfinite(mask->scale))) s = seq_cuda__invalid(fn, "non-finite scale");
    if (s != SEQ_OK) return s;
    *scale = mask && mask->scale != 0.0f ? mask->scale : (float)(1.0 / sqrt((double)D));
    memset(m, 0, sizeof *m);
    m->active = 1;
    m->causal = mask && mask->causal;
    m->H = H;
    m->Tq = Tq;
    m->Tk = Tk;
    m->lens = mask ? mask->key_lengths : NULL;
    m->pad = mask ? mask->key_padding : NULL;
    return seq_cuda__ctx_ready(ctx, fn);
}

SEQDEF seq_status seq_cuda_attention(seq_cuda_ctx *ctx, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                     int64_t Dv, const float *q, const float *k, const float *v,
                                     const seq_attention_mask *mask, float *probs, float *y) {
    static const char fn[] = "seq_cuda_attention";
    int64_t bh = B * H;
    float scale;
    seq_cuda__mask m;
    seq_status s = seq_cuda__attention_args(ctx, fn, B, H, Tq, Tk, D, Dv, q, k, v, mask, probs, y, "y", &scale, &m);
    if (s != SEQ_OK || bh * Tq == 0) return s;
    s = seq_cuda_sgemm_batched(ctx, 0, 1, Tq, Tk, D, scale, q, D, Tq * D, k, D, Tk * D, 0.0f, probs, Tk, Tq * Tk, bh);
    if (s != SEQ_OK) return s;
    seq_cuda__softmax_k<<<(unsigned)(bh * Tq), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        Tk, probs, probs, 0, m, (seq_cuda__report *)ctx->report);
    if ((s = seq_cuda__launched(fn)) != SEQ_OK) return s;
    return seq_cuda_sgemm_batched(ctx, 0, 0, Tq, Dv, Tk, 1.0f, probs, Tk, Tq * Tk, v, Dv, Tk * Dv, 0.0f, y, Dv, Tq * Dv,
                                  bh);
}

SEQDEF seq_status seq_cuda_attention_bwd(seq_cuda_ctx *ctx, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                                         int64_t Dv, const float *q, const float *k, const float *v,
                                         const seq_attention_mask *mask, const float *probs, const float *gy,
                                         float *gq, float *gk, float *gv) {
    static const char fn[] = "seq_cuda_attention_bwd";
    int64_t bh = B * H;
    float scale, *dS;
    seq_cuda__mask m;
    seq_status s = seq_cuda__attention_args(ctx, fn, B, H, Tq, Tk, D, Dv, q, k, v, mask, probs, gy, "gy", &scale, &m);
    if (s != SEQ_OK || bh * Tq == 0) return s;
    if (gv) {
        s = seq_cuda_sgemm_batched(ctx, 1, 0, Tk, Dv, Tq, 1.0f, probs, Tk, Tq * Tk, gy, Dv, Tq * Dv, 1.0f, gv, Dv,
                                   Tk * Dv, bh);
        if (s != SEQ_OK) return s;
    }
    if (!gq && !gk) return SEQ_OK;
    dS = (float *)seq_cuda_arena_alloc(ctx, (size_t)(bh * Tq * Tk) * sizeof(float));
    if (!dS) return seq_set_error(SEQ_ERR_NOMEM, "%s: the arena cannot hold %lld floats of scores", fn,
                                  (long long)(bh * Tq * Tk));
    s = seq_cuda_sgemm_batched(ctx, 0, 1, Tq, Tk, Dv, 1.0f, gy, Dv, Tq * Dv, v, Dv, Tk * Dv, 0.0f, dS, Tk, Tq * Tk, bh);
    if (s != SEQ_OK) return s;
    /* in place: hidden keys have P = 0 and so dS = 0 */
    seq_cuda__softmax_bwd_k<<<(unsigned)(bh * Tq), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(Tk, probs, dS, dS, 0,
                                                                                                 0);
    if ((s = seq_cuda__launched(fn)) != SEQ_OK) return s;
    if (gq) {
        s = seq_cuda_sgemm_batched(ctx, 0, 0, Tq, D, Tk, scale, dS, Tk, Tq * Tk, k, D, Tk * D, 1.0f, gq, D, Tq * D, bh);
        if (s != SEQ_OK) return s;
    }
    if (gk) s = seq_cuda_sgemm_batched(ctx, 1, 0, Tk, D, Tq, scale, dS, Tk, Tq * Tk, q, D, Tq * D, 1.0f, gk, D, Tk * D, bh);
    return s;
}

/* ----------------------------------------------------------------------------------
 * LayerNorm / RMSNorm (center = 0): statistics in two passes over the row (mean, then
 * the mean of squared deviations), so a large mean does not cancel the variance.
 * ---------------------------------------------------------------------------------- */

__global__ static void seq_cuda__norm_k(int64_t C, const float *x, const float *w, const float *b, float eps,
                                        float *y, float *stats, int center) {
    __shared__ float sh[32];
    const float *xr = x + (int64_t)blockIdx.x * C;
    float *yr = y + (int64_t)blockIdx.x * C;
    float mean = 0.0f, var = 0.0f, rstd;
    if (center) {
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) mean += xr[j];
        mean = seq_cuda__block_reduce(mean, sh, 0) / (float)C;
    }
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) var += (xr[j] - mean) * (xr[j] - mean);
    var = seq_cuda__block_reduce(var, sh, 0) / (float)C;
    rstd = rsqrtf(var + eps);
    if (stats && threadIdx.x == 0) {
        stats[2 * (int64_t)blockIdx.x] = mean;
        stats[2 * (int64_t)blockIdx.x + 1] = rstd;
    }
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float xh = (xr[j] - mean) * rstd;
        yr[j] = (w ? xh * w[j] : xh) + (b ? b[j] : 0.0f);
    }
}

/* gx += rstd (d - mean(d) - xhat mean(d xhat)), d = gy w (mean(d) only when centered). */
__global__ static void seq_cuda__norm_bwd_k(int64_t C, const float *x, const float *w, const float *stats,
                                            const float *gy, float *gx, int center) {
    __shared__ float sh[32];
    int64_t off = (int64_t)blockIdx.x * C;
    float mean = stats[2 * (int64_t)blockIdx.x], rstd = stats[2 * (int64_t)blockIdx.x + 1], sd = 0.0f, sdx = 0.0f;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float d = w ? gy[off + j] * w[j] : gy[off + j];
        sd += d;
        sdx += d * (x[off + j] - mean) * rstd;
    }
    sd = center ? seq_cuda__block_reduce(sd, sh, 0) / (float)C : 0.0f;
    sdx = seq_cuda__block_reduce(sdx, sh, 0) / (float)C;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        float d = w ? gy[off + j] * w[j] : gy[off + j];
        gx[off + j] += rstd * (d - sd - (x[off + j] - mean) * rstd * sdx);
    }
}

static seq_status seq_cuda__norm(seq_cuda_ctx *ctx, const char *fn, int64_t rows, int64_t C, const float *x,
                                 const float *w, const float *b, float eps, float *y, float *stats, int center) {
    seq_status s = seq_cuda__rows_args(ctx, fn, rows, C);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, x, "x", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, y, "y", rows);
    if (s == SEQ_OK && !(eps >= 0.0f && isfinite(eps)))
        s = seq_set_error(SEQ_ERR_INVALID, "%s: eps must be finite and >= 0, got %g", fn, (double)eps);
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || rows == 0) return s;
    seq_cuda__norm_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(C, x, w, b, eps, y, stats,
                                                                                     center);
    return seq_cuda__launched(fn);
}

static seq_status seq_cuda__norm_back(seq_cuda_ctx *ctx, const char *fn, int64_t rows, int64_t C, const float *x,
                                      const float *w, const float *stats, const float *gy, float *gx, float *gw,
                                      float *gb, int center) {
    seq_status s = seq_cuda__rows_args(ctx, fn, rows, C);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, x, "x", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, stats, "stats", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, gy, "gy", rows);
    if (s == SEQ_OK && gw && !w) s = seq_cuda__invalid(fn, "gw without w");
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || rows == 0) return s;
    if (gx) {
        seq_cuda__norm_bwd_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(C, x, w, stats, gy, gx,
                                                                                             center);
        if ((s = seq_cuda__launched(fn)) != SEQ_OK) return s;
    }
    if (gw || gb) {
        s = seq_cuda__colsums(ctx, fn, SEQ_CUDA__COL_NORM, rows, C, x, stats, gy, gw, gb);
    }
    return s;
}

SEQDEF seq_status seq_cuda_layernorm(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                     const float *b, float eps, float *y, float *stats) {
    return seq_cuda__norm(ctx, "seq_cuda_layernorm", rows, C, x, w, b, eps, y, stats, 1);
}
SEQDEF seq_status seq_cuda_rmsnorm(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                   float eps, float *y, float *stats) {
    return seq_cuda__norm(ctx, "seq_cuda_rmsnorm", rows, C, x, w, NULL, eps, y, stats, 0);
}
SEQDEF seq_status seq_cuda_layernorm_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                         const float *stats, const float *gy, float *gx, float *gw, float *gb) {
    return seq_cuda__norm_back(ctx, "seq_cuda_layernorm_bwd", rows, C, x, w, stats, gy, gx, gw, gb, 1);
}
SEQDEF seq_status seq_cuda_rmsnorm_bwd(seq_cuda_ctx *ctx, int64_t rows, int64_t C, const float *x, const float *w,
                                       const float *stats, const float *gy, float *gx, float *gw) {
    return seq_cuda__norm_back(ctx, "seq_cuda_rmsnorm_bwd", rows, C, x, w, stats, gy, gx, gw, NULL, 0);
}

/* ----------------------------------------------------------------------------------
 * embedding: a thread per element of y (n,D); element (i,j) reads row ids[i]
 * ---------------------------------------------------------------------------------- */

__global__ static void seq_cuda__embedding_k(int64_t V, int64_t D, const float *W, int64_t n, const int32_t *ids,
                                             float *y, seq_cuda__report *rep) {
    SEQ_CUDA__FOR(e, n * D) {
        int64_t i = e / D, j = e - i * D;
        int32_t id = ids[i];
        if (id >= 0 && id < V) y[e] = W[(int64_t)id * D + j];
        else {
            y[e] = 0.0f;
            if (j == 0) seq_cuda__report_error(rep, SEQ_ERR_RANGE, SEQ_CUDA__OP_EMBEDDING, i, id);
        }
    }
}

__global__ static void seq_cuda__embedding_bwd_k(int64_t V, int64_t D, int64_t n, const int32_t *ids,
                                                 const float *gy, float *gW, seq_cuda__report *rep) {
    SEQ_CUDA__FOR(e, n * D) {
        int64_t i = e / D, j = e - i * D;
        int32_t id = ids[i];
        if (id >= 0 && id < V) atomicAdd(gW + (int64_t)id * D + j, gy[e]);
        else if (j == 0) seq_cuda__report_error(rep, SEQ_ERR_RANGE, SEQ_CUDA__OP_EMBEDDING_BWD, i, id);
    }
}

static seq_status seq_cuda__embedding_args(seq_cuda_ctx *ctx, const char *fn, int64_t V, int64_t D, int64_t n,
                                           const float *W, const int32_t *ids, const float *y) {
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, V, D);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, n, D);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, W, "W", n * D > 0 ? V * D : 0);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, ids, "ids", n);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, y, "y", n * D);
    return s == SEQ_OK ? seq_cuda__ctx_ready(ctx, fn) : s;
}

SEQDEF seq_status seq_cuda_embedding(seq_cuda_ctx *ctx, int64_t V, int64_t D, const float *W, int64_t n,
                                     const int32_t *ids, float *y) {
    static const char fn[] = "seq_cuda_embedding";
    seq_status s = seq_cuda__embedding_args(ctx, fn, V, D, n, W, ids, y);
    if (s != SEQ_OK || n * D == 0) return s;
    seq_cuda__embedding_k<<<seq_cuda__grid(n * D, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        V, D, W, n, ids, y, (seq_cuda__report *)ctx->report);
    return seq_cuda__launched(fn);
}

SEQDEF seq_status seq_cuda_embedding_bwd(seq_cuda_ctx *ctx, int64_t V, int64_t D, int64_t n, const int32_t *ids,
                                         const float *gy, float *gW) {
    static const char fn[] = "seq_cuda_embedding_bwd";
    seq_status s = seq_cuda__embedding_args(ctx, fn, V, D, n, gW, ids, gy);
    if (s != SEQ_OK || n * D == 0) return s;
    seq_cuda__embedding_bwd_k<<<seq_cuda__grid(n * D, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0,
                                SEQ_CUDA__STREAM(ctx)>>>(V, D, n, ids, gy, gW, (seq_cuda__report *)ctx->report);
    return seq_cuda__launched(fn);
}

/* ----------------------------------------------------------------------------------
 * cross-entropy: (1) a block per row: lse and the row's loss; (2) one block sums the
 * losses and counts the rows in a fixed order; (3) a block per row: the gradient,
 * scaled by 1/count read from device memory (no round trip to the host). A row's loss
 * lse - x[t] is >= 0 even in f32 (lse >= max >= x[t]), so -1 marks a row not counted;
 * a NaN logit still makes a NaN loss, as on the CPU.
 * ---------------------------------------------------------------------------------- */

#define SEQ_CUDA__NOT_COUNTED (-1.0f)

__global__ static void seq_cuda__ce_rows_k(int64_t V, const float *x, const int32_t *t, int32_t ignore, float *lse,
                                           float *row_loss, seq_cuda__report *rep) {
    __shared__ float sh[32];
    int64_t r = blockIdx.x;
    const float *xr = x + r * V;
    int32_t tr = t[r];
    float mx = -INFINITY, sum = 0.0f, l;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, xr[j]);
    mx = seq_cuda__block_reduce(mx, sh, 1);
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) sum += expf(xr[j] - mx);
    sum = seq_cuda__block_reduce(sum, sh, 0);
    if (threadIdx.x != 0) return;
    l = mx + logf(sum);
    lse[r] = l;
    if (tr == ignore) row_loss[r] = SEQ_CUDA__NOT_COUNTED;
    else if (tr < 0 || tr >= V) {
        row_loss[r] = SEQ_CUDA__NOT_COUNTED;
        seq_cuda__report_error(rep, SEQ_ERR_RANGE, SEQ_CUDA__OP_CROSS_ENTROPY, r, tr);
    } else row_loss[r] = l - xr[tr];
}

/* loss = sum / count over counted rows (0 when none); count to *count for the backward. */
__global__ static void seq_cuda__ce_mean_k(int64_t rows, const float *row_loss, float *loss, float *count) {
    __shared__ float sh[32];
    float s = 0.0f, c = 0.0f;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
        if (row_loss[r] != SEQ_CUDA__NOT_COUNTED) {
            s += row_loss[r];
            c += 1.0f;
        }
    s = seq_cuda__block_reduce(s, sh, 0);
    c = seq_cuda__block_reduce(c, sh, 0);
    if (threadIdx.x == 0) {
        *loss = c > 0.0f ? s / c : 0.0f;
        *count = c;
    }
}

__global__ static void seq_cuda__ce_grad_k(int64_t V, const float *x, const int32_t *t, const float *lse,
                                           const float *row_loss, const float *count, float *gx) {
    int64_t r = blockIdx.x;
    float scale, l;
    if (row_loss[r] == SEQ_CUDA__NOT_COUNTED) return; /* ignored or out of range: no gradient */
    scale = 1.0f / *count;
    l = lse[r];
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
        gx[r * V + j] += scale * (expf(x[r * V + j] - l) - (j == t[r] ? 1.0f : 0.0f));
}

SEQDEF seq_status seq_cuda_cross_entropy(seq_cuda_ctx *ctx, int64_t rows, int64_t V, const float *logits,
                                         const int32_t *targets, int32_t ignore_index, float *loss,
                                         float *dlogits) {
    static const char fn[] = "seq_cuda_cross_entropy";
    float *scratch;
    seq_status s = seq_cuda__rows_args(ctx, fn, rows, V);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, logits, "logits", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, targets, "targets", rows);
    if (s == SEQ_OK) s = seq_cuda__ptr(fn, loss, "loss", 1);
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK) return s;
    if (rows == 0) return seq_cuda__check(cudaMemsetAsync(loss, 0, sizeof(float), SEQ_CUDA__STREAM(ctx)), fn, "loss");
    /* lse (rows), row losses (rows), the count (1) */
    scratch = (float *)seq_cuda_arena_alloc(ctx, (size_t)(2 * rows + 1) * sizeof(float));
    if (!scratch) return seq_set_error(SEQ_ERR_NOMEM, "%s: the arena cannot hold %lld floats of scratch", fn,
                                       (long long)(2 * rows + 1));
    seq_cuda__ce_rows_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        V, logits, targets, ignore_index, scratch, scratch + rows, (seq_cuda__report *)ctx->report);
    if ((s = seq_cuda__launched(fn)) != SEQ_OK) return s;
    seq_cuda__ce_mean_k<<<1, 1024, 0, SEQ_CUDA__STREAM(ctx)>>>(rows, scratch + rows, loss, scratch + 2 * rows);
    if ((s = seq_cuda__launched(fn)) != SEQ_OK || !dlogits) return s;
    seq_cuda__ce_grad_k<<<(unsigned)rows, SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        V, logits, targets, scratch, scratch + rows, scratch + 2 * rows, dlogits);
    return seq_cuda__launched(fn);
}

/* ----------------------------------------------------------------------------------
 * optimizers, each one update kernel over flat buffers. As on the CPU, a non-finite
 * gradient skips the whole step: (1) skip is cleared, (2) a scan of g sets it (and
 * reports the index), (3) the update returns at once when it is set. The stream orders
 * the three; no round trip to the host.
 * ---------------------------------------------------------------------------------- */

__global__ static void seq_cuda__finite_k(int64_t n, const float *g, seq_cuda__report *rep, int op) {
    SEQ_CUDA__FOR(i, n) {
        if (!isfinite(g[i])) {
            rep->skip = 1;
            seq_cuda__report_error(rep, SEQ_ERR_NUMERIC, op, i, 0);
        }
    }
}

/* The checks every step shares (w, g and the first state buffer s0 given, lr and
 * wd_scale finite and >= 0), then (1) and (2) above queued. *run is 0 when there is
 * nothing to update. */
static seq_status seq_cuda__optim_begin(seq_cuda_ctx *ctx, const char *fn, int op, const void *cfg, float lr,
                                        float wd_scale, int64_t n, const float *w, const float *g, const float *s0,
                                        int *run) {
    seq_cuda__report *rep;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    *run = 0;
    if (s == SEQ_OK && !cfg) s = seq_cuda__invalid(fn, "NULL cfg");
    if (s == SEQ_OK && !(lr >= 0.0f && isfinite(lr)))
        s = seq_set_error(SEQ_ERR_INVALID, "%s: lr must be finite and >= 0, got %g", fn, (double)lr);
    if (s == SEQ_OK && !(wd_scale >= 0.0f && isfinite(wd_scale)))
        s = seq_cuda__invalid(fn, "wd_scale must be finite and >= 0");
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, n, 1);
    if (s == SEQ_OK && n > 0 && (!w || !g || !s0)) s = seq_cuda__invalid(fn, "NULL w, g or state");
    if (s == SEQ_OK) s = seq_cuda__ctx_ready(ctx, fn);
    if (s != SEQ_OK || n == 0) return s;
    rep = (seq_cuda__report *)ctx->report;
    s = seq_cuda__check(cudaMemsetAsync(&rep->skip, 0, sizeof rep->skip, SEQ_CUDA__STREAM(ctx)), fn, "skip flag");
    if (s != SEQ_OK) return s;
    seq_cuda__finite_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(n, g, rep,
                                                                                                           op);
    s = seq_cuda__launched(fn);
    *run = s == SEQ_OK;
    return s;
}

/* Adam's and Lion's betas, as seq.h's inits check them. */
static seq_status seq_cuda__betas(const char *fn, float b1, float b2) {
    if (b1 >= 0.0f && b1 < 1.0f && b2 >= 0.0f && b2 < 1.0f) return SEQ_OK;
    return seq_set_error(SEQ_ERR_INVALID, "%s: betas must be in [0,1), got %g, %g", fn, (double)b1, (double)b2);
}

/* One step's constants for any of the three optimizers, built on the host (bias
 * corrections in double, as seq.h does), and the update of one element, which the kernel
 * runs on the device and the runner checks against seq.h's optimizers on the host. */
enum { SEQ_CUDA__ADAMW, SEQ_CUDA__SGD, SEQ_CUDA__LION };
typedef struct seq_cuda__opt_k {
    int kind;
    float lr, b1, b2, eps;
    float step_size, bc2_sqrt;  /* AdamW: lr / (1 - beta1^t), sqrt(1 - beta2^t) */
    float wd, shrink;           /* weight decay (times wd_scale) and 1 - lr wd */
    int decoupled;              /* AdamW: decay by shrink (else L2 on g) */
    float momentum, dampening;  /* SGD */
    int nesterov, first;        /* SGD: first is step 1, where buf starts at d */
} seq_cuda__opt_k;

static seq_cuda__opt_k seq_cuda__opt_base(int kind, float lr, float wd) {
    seq_cuda__opt_k k;
    memset(&k, 0, sizeof k);
    k.kind = kind;
    k.lr = lr;
    k.wd = wd;
    k.shrink = 1.0f - lr * wd;
    return k;
}

static seq_cuda__opt_k seq_cuda__adamw_consts(const seq_adamw_config *c, int64_t t, float lr, float wd_scale) {
    seq_cuda__opt_k k = seq_cuda__opt_base(SEQ_CUDA__ADAMW, lr, c->weight_decay * wd_scale);
    k.b1 = c->beta1;
    k.b2 = c->beta2;
    k.eps = c->eps;
    k.step_size = (float)(lr / (1.0 - pow(c->beta1, (double)t)));
    k.bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)t));
    k.decoupled = c->decoupled != 0;
    return k;
}

static seq_cuda__opt_k seq_cuda__sgd_consts(const seq_sgd_config *c, int64_t t, float lr, float wd_scale) {
    seq_cuda__opt_k k = seq_cuda__opt_base(SEQ_CUDA__SGD, lr, c->weight_decay * wd_scale);
    k.momentum = c->momentum;
    k.dampening = c->dampening;
    k.nesterov = c->nesterov != 0;
    k.first = t == 1;
    return k;
}

static seq_cuda__opt_k seq_cuda__lion_consts(const seq_lion_config *c, float lr, float wd_scale) {
    seq_cuda__opt_k k = seq_cuda__opt_base(SEQ_CUDA__LION, lr, c->weight_decay * wd_scale);
    k.b1 = c->beta1;
    k.b2 = c->beta2;
    return k;
}

/* s0, s1, s2: AdamW's m, v, vmax (NULL without AMSGrad); SGD's buf (NULL without
 * momentum); Lion's m.
 *   AdamW  w = w shrink (or g += wd w), m, v moments, w -= step_size m / (sqrt(v)/bc2_sqrt + eps)
 *   SGD    d = g + wd w; buf = d (first) or momentum buf + (1 - dampening) d;
 *          d = buf, or d + momentum buf (Nesterov); w -= lr d
 *   Lion   w = w shrink - lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g */
SEQ_CUDA__HD static void seq_cuda__opt_elem(const seq_cuda__opt_k *k, float g, float *w, float *s0, float *s1,
                                            float *s2) {
    if (k->kind == SEQ_CUDA__ADAMW) {
        float wi = *w, vv;
        if (k->decoupled) wi *= k->shrink;
        else g += k->wd * wi;
        *s0 = k->b1 * *s0 + (1.0f - k->b1) * g;
        *s1 = k->b2 * *s1 + (1.0f - k->b2) * g * g;
        vv = *s1;
        if (s2) {
            vv = fmaxf(*s2, vv);
            *s2 = vv;
        }
        *w = wi - k->step_size * *s0 / (sqrtf(vv) / k->bc2_sqrt + k->eps);
    } else if (k->kind == SEQ_CUDA__SGD) {
        float d = g + k->wd * *w;
        if (s0) {
            *s0 = k->first ? d : k->momentum * *s0 + (1.0f - k->dampening) * d;
            d = k->nesterov ? d + k->momentum * *s0 : *s0;
        }
        *w -= k->lr * d;
    } else {
        float u = k->b1 * *s0 + (1.0f - k->b1) * g;
        *w = *w * k->shrink - k->lr * (float)((u > 0.0f) - (u < 0.0f));
        *s0 = k->b2 * *s0 + (1.0f - k->b2) * g;
    }
}

__global__ static void seq_cuda__opt_step_k(seq_cuda__opt_k k, int64_t n, float *w, const float *g, float *s0,
                                             float *s1, float *s2, const seq_cuda__report *rep) {
    if (rep->skip) return;
    SEQ_CUDA__FOR(i, n) seq_cuda__opt_elem(&k, g[i], w + i, s0 ? s0 + i : NULL, s1 ? s1 + i : NULL, s2 ? s2 + i : NULL);
}

static seq_status seq_cuda__opt_launch(seq_cuda_ctx *ctx, const char *fn, seq_cuda__opt_k k, int64_t n, float *w,
                                       const float *g, float *s0, float *s1, float *s2) {
    seq_cuda__opt_step_k<<<seq_cuda__grid(n, SEQ_CUDA__THREADS), SEQ_CUDA__THREADS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        k, n, w, g, s0, s1, s2, (const seq_cuda__report *)ctx->report);
    return seq_cuda__launched(fn);
}

SEQDEF seq_status seq_cuda_adamw_step(seq_cuda_ctx *ctx, const seq_adamw_config *cfg, int64_t t, float lr,
                                      float wd_scale, int64_t n, float *w, const float *g, float *m, float *v,
                                      float *vmax) {
    static const char fn[] = "seq_cuda_adamw_step";
    int run;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK && cfg) s = seq_cuda__betas(fn, cfg->beta1, cfg->beta2);
    if (s == SEQ_OK && cfg && !(cfg->eps >= 0.0f && isfinite(cfg->eps) && cfg->weight_decay >= 0.0f &&
                                isfinite(cfg->weight_decay)))
        s = seq_cuda__invalid(fn, "eps and weight_decay must be finite and >= 0");
    if (s == SEQ_OK && t < 1) s = seq_set_error(SEQ_ERR_INVALID, "%s: step t is 1-based, got %lld", fn, (long long)t);
    if (s == SEQ_OK && n > 0 && cfg && (!v || (cfg->amsgrad && !vmax)))
        s = seq_cuda__invalid(fn, "NULL v, or amsgrad without vmax");
    if (s == SEQ_OK) s = seq_cuda__optim_begin(ctx, fn, SEQ_CUDA__OP_ADAMW, cfg, lr, wd_scale, n, w, g, m, &run);
    if (s != SEQ_OK || !run) return s;
    return seq_cuda__opt_launch(ctx, fn, seq_cuda__adamw_consts(cfg, t, lr, wd_scale), n, w, g, m, v,
                                cfg->amsgrad ? vmax : NULL);
}

SEQDEF seq_status seq_cuda_sgd_step(seq_cuda_ctx *ctx, const seq_sgd_config *cfg, int64_t t, float lr,
                                    float wd_scale, int64_t n, float *w, const float *g, float *buf) {
    static const char fn[] = "seq_cuda_sgd_step";
    int run, momentum;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK && cfg &&
        !(cfg->momentum >= 0.0f && isfinite(cfg->momentum) && cfg->dampening >= 0.0f && cfg->dampening <= 1.0f &&
          cfg->weight_decay >= 0.0f && isfinite(cfg->weight_decay)))
        s = seq_cuda__invalid(fn, "momentum and weight_decay must be finite and >= 0, dampening in [0,1]");
    if (s == SEQ_OK && cfg && cfg->nesterov && !(cfg->momentum > 0.0f && cfg->dampening == 0.0f))
        s = seq_cuda__invalid(fn, "nesterov needs momentum > 0 and dampening 0");
    if (s == SEQ_OK && t < 1) s = seq_set_error(SEQ_ERR_INVALID, "%s: step t is 1-based, got %lld", fn, (long long)t);
    momentum = cfg && cfg->momentum != 0.0f;
    if (s == SEQ_OK && n > 0 && momentum && !buf) s = seq_cuda__invalid(fn, "momentum needs buf");
    /* without momentum there is no state: g stands in for the state check */
    if (s == SEQ_OK) s = seq_cuda__optim_begin(ctx, fn, SEQ_CUDA__OP_SGD, cfg, lr, wd_scale, n, w, g, momentum ? buf : g,
                                              &run);
    if (s != SEQ_OK || !run) return s;
    return seq_cuda__opt_launch(ctx, fn, seq_cuda__sgd_consts(cfg, t, lr, wd_scale), n, w, g, momentum ? buf : NULL,
                                NULL, NULL);
}

SEQDEF seq_status seq_cuda_lion_step(seq_cuda_ctx *ctx, const seq_lion_config *cfg, float lr, float wd_scale,
                                     int64_t n, float *w, const float *g, float *m) {
    static const char fn[] = "seq_cuda_lion_step";
    int run;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK && cfg) s = seq_cuda__betas(fn, cfg->beta1, cfg->beta2);
    if (s == SEQ_OK && cfg && !(cfg->weight_decay >= 0.0f && isfinite(cfg->weight_decay)))
        s = seq_cuda__invalid(fn, "weight_decay must be finite and >= 0");
    if (s == SEQ_OK) s = seq_cuda__optim_begin(ctx, fn, SEQ_CUDA__OP_LION, cfg, lr, wd_scale, n, w, g, m, &run);
    if (s != SEQ_OK || !run) return s;
    return seq_cuda__opt_launch(ctx, fn, seq_cuda__lion_consts(cfg, lr, wd_scale), n, w, g, m, NULL, NULL);
}

/* ----------------------------------------------------------------------------------
 * quantized GEMV: a warp per row, walking the row 32 values at a time (a block of q8_0,
 * q4_0 or mxfp4, a sub-block of q4_K or nf4) with lane j on value j, so each step's loads are coalesced
 * (32 consecutive floats of x, 32 or 16 consecutive bytes of values, the scales at one
 * address for the whole warp). Bytes are read one at a time and f16 scales assembled
 * little-endian: rows need no alignment beyond a byte. Each lane sums its dequantized
 * values times x; the warp sum gives y.
 * ---------------------------------------------------------------------------------- */

#define SEQ_CUDA__GEMV_WARPS 4

SEQ_CUDA__HD static float seq_cuda__f16(const uint8_t *p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}

/* NF4's 16 levels (QLoRA's N(0,1) quantiles, as seq_quant_nf4_values()): constant memory
 * on the device, a plain table on the host. */
#define SEQ_CUDA__NF4_LEVELS                                                                                  \
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,          \
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,        \
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,               \
        0.7229568362236023f, 1.0f
static __constant__ float seq_cuda__nf4_dev[16] = {SEQ_CUDA__NF4_LEVELS};
static const float seq_cuda__nf4_host[16] = {SEQ_CUDA__NF4_LEVELS};

SEQ_CUDA__HD static float seq_cuda__f32_le(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* MXFP4's unit 2^(e-128) (E8M0's 2^(e-127) halved, for levels doubled to integers), from
 * its bits: subnormal for e < 2, NaN for e = 255. The doubled E2M1 level of code c:
 * magnitudes 0 1 2 3 4 6 8 12 are m for m < 2, else (2 + m%2) << (m/2 - 1); bit 3 the sign. */
SEQ_CUDA__HD static float seq_cuda__e8m0_half(uint8_t e) {
    uint32_t u = e == 255 ? 0x7fc00000u : e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
SEQ_CUDA__HD static float seq_cuda__e2m1x2(int c) {
    int m = c & 7, v = m < 2 ? m : (2 + (m & 1)) << ((m >> 1) - 1);
    return (float)(c & 8 ? -v : v);
}

/* Value 32 s + lane of a block, dequantized. Layouts (seq_quant.h sections 3 and 4):
 *   q8_0  {f16 d; i8 qs[32]}            d qs[lane]
 *   q4_0  {f16 d; u8 qs[16]}            d (nibble - 8); values j and j+16 share byte j,
 *                                       low nibble first
 *   mxfp4 {u8 e; u8 qs[16]}             2^(e-128) e2m1x2(nibble), nibbles as q4_0
 *   q4_K  {f16 d; f16 dmin; u8 sc[12]; u8 qs[128]}: sub-block s (of 8) is d sc_s q - dmin m_s;
 *         sub-blocks 2c and 2c+1 are the low and high nibbles of qs[32c .. 32c+31]; the
 *         6-bit sc_s, m_s: bytes 0-3 and 4-7 for s < 4, else the low 4 bits from bytes 8-11
 *         and the top 2 from the spare top bits of bytes 0-7
 *   nf4   {f32 absmax; u8 qs[32]} (64 values): absmax nf4[nibble], value 2i in the high
 *         nibble of byte i */
SEQ_CUDA__HD static float seq_cuda__quant_value(int type, const uint8_t *blk, int s, int lane) {
    if (type == SEQ_QUANT_Q8_0) return seq_cuda__f16(blk) * (float)(int8_t)blk[2 + lane];
    if (type == SEQ_QUANT_Q4_0)
        return seq_cuda__f16(blk) * (float)((lane < 16 ? blk[2 + lane] & 0xf : blk[2 + lane - 16] >> 4) - 8);
    if (type == SEQ_QUANT_MXFP4)
        return seq_cuda__e8m0_half(blk[0]) * seq_cuda__e2m1x2(lane < 16 ? blk[1 + lane] & 0xf : blk[1 + lane - 16] >> 4);
    if (type == SEQ_QUANT_NF4) {
#ifdef __CUDA_ARCH__
        const float *nf4 = seq_cuda__nf4_dev;
#else
        const float *nf4 = seq_cuda__nf4_host;
#endif
        int v = 32 * s + lane;
        uint8_t q = blk[4 + v / 2];
        return seq_cuda__f32_le(blk) * nf4[v & 1 ? q & 0xf : q >> 4];
    }
    {
        const uint8_t *sc = blk + 4;
        uint8_t q = blk[16 + 32 * (s >> 1) + lane];
        int scale, min;
        if (s < 4) {
            scale = sc[s] & 63;
            min = sc[s + 4] & 63;
        } else {
            scale = (sc[s + 4] & 0xf) | ((sc[s - 4] >> 6) << 4);
            min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
        }
        return seq_cuda__f16(blk) * (float)scale * (float)(s & 1 ? q >> 4 : q & 0xf) -
               seq_cuda__f16(blk + 2) * (float)min;
    }
}

/* nsub sub-blocks of 32 values in a block of block_bytes */
__global__ static void seq_cuda__gemv_k(int type, int64_t rows, int64_t nblocks, size_t block_bytes, int nsub,
                                        const uint8_t *W, const float *x, float *y) {
    int64_t row = (int64_t)blockIdx.x * SEQ_CUDA__GEMV_WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    float acc = 0.0f;
    if (row >= rows) return; /* a whole warp leaves together: the shuffle below stays full */
    const uint8_t *blk = W + (size_t)row * (size_t)nblocks * block_bytes;
    const float *xb = x;
    for (int64_t b = 0; b < nblocks; b++, blk += block_bytes)
        for (int s = 0; s < nsub; s++, xb += 32) acc += seq_cuda__quant_value(type, blk, s, lane) * xb[lane];
    acc = seq_cuda__warp_sum(acc);
    if (lane == 0) y[row] = acc;
}

SEQDEF seq_status seq_cuda_quant_gemv(seq_cuda_ctx *ctx, seq_quant_type type, int64_t rows, int64_t n,
                                      const void *W, const float *x, float *y) {
    static const char fn[] = "seq_cuda_quant_gemv";
    const seq_quant_traits *tr;
    int64_t grid;
    seq_status s = seq_cuda__ctx_given(ctx, fn);
    if (s == SEQ_OK) s = seq_cuda__sizes(fn, rows, n);
    if (s != SEQ_OK) return s;
    if (type != SEQ_QUANT_Q8_0 && type != SEQ_QUANT_Q4_0 && type != SEQ_QUANT_Q4_K && type != SEQ_QUANT_MXFP4 &&
        type != SEQ_QUANT_NF4)
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: no CUDA kernel for %s rows yet (q8_0, q4_0, q4_K, mxfp4, nf4)",
                             fn, seq_quant_type_name(type));
    tr = seq_quant_type_traits(type);
    if (n <= 0 || n % tr->block != 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: n = %lld is not a positive multiple of %s's block of %lld", fn,
                             (long long)n, tr->name, (long long)tr->block);
    if (rows > 0 && (!W || !x || !y)) return seq_cuda__invalid(fn, "NULL W, x or y");
    if ((s = seq_cuda__ctx_ready(ctx, fn)) != SEQ_OK || rows == 0) return s;
    grid = (rows + SEQ_CUDA__GEMV_WARPS - 1) / SEQ_CUDA__GEMV_WARPS;
    if (grid > INT_MAX) return seq_set_error(SEQ_ERR_INVALID, "%s: %lld rows are too many", fn, (long long)rows);
    seq_cuda__gemv_k<<<(unsigned)grid, 32 * SEQ_CUDA__GEMV_WARPS, 0, SEQ_CUDA__STREAM(ctx)>>>(
        (int)type, rows, n / tr->block, tr->block_bytes, (int)(tr->block / 32), (const uint8_t *)W, x, y);
    return seq_cuda__launched(fn);
}

#endif /* SEQ_CUDA_IMPLEMENTATION_DONE */
#endif /* SEQ_CUDA_IMPLEMENTATION */
