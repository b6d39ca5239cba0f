/* seq_quant.h — number formats, quantizers, quantized kernels and GGUF for seq models.
 *
 * stb-style, on top of seq.h: include it anywhere for the declarations; in exactly one
 * C or C++ file
 *     #define SEQ_QUANT_IMPLEMENTATION
 *     #include "seq_quant.h"
 * (seq.h's own implementation still needs SEQ_IMPLEMENTATION in one file.)
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  integer grids: scale/zero-point, int8 and int4
 *     2  format traits: one table row per block format
 *     3  ggml blocks: Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q6_K IQ4_NL
 *     4  float formats: NF4, FP8 E4M3/E5M2, FP4 E2M1, OCP MX, ExMy
 *     5  quantized kernels: matrix-vector and matrix-matrix products
 *     6  GGUF files
 *     7  round-to-nearest: clipping search, stochastic rounding
 *     8  incoherence processing: fast Walsh-Hadamard transform
 *     9  GPTQ
 *    10  HAWQ: Hessian trace and top eigenvalue, bit allocation
 *    11  QTIP: bitshift trellis codes
 *    12  QAT: fake quantization with the straight-through estimator
 *
 * Bit-exact ports of ggml's reference quantizers need every float multiply and add done
 * separately: compile the implementation with -ffp-contract=off (GCC contracts to FMA
 * under -march=native and ignores the STDC FP_CONTRACT pragma).
 */
#ifndef SEQ_QUANT_H
#define SEQ_QUANT_H

#include "seq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  integer grids: scale/zero-point, int8 and int4
 * =================================================================================== */

/* A uniform integer grid: q = clamp(round_half_even(x / scale) + zero, qmin, qmax) and
 * x ≈ (q - zero) * scale. Symmetric grids have zero = 0 and qmin = -qmax. Every integer
 * quantizer in this header (RTN, GPTQ, HAWQ, QAT) rounds through one of these. */
typedef struct seq_quant_grid {
    float scale;
    int32_t zero;
    int32_t qmin, qmax;
} seq_quant_grid;

/* The grid of `bits` (2..8) that maps [lo, hi] (lo <= 0 <= hi after widening to include
 * 0) onto the integers: asymmetric uses every level, symmetric uses ±max(|lo|,|hi|).
 * A zero range gives scale 1 so that quantization is exact. Non-finite bounds or bits out
 * of range: SEQ_ERR_INVALID. */
SEQDEF seq_status seq_quant_grid_fit(seq_quant_grid *g, int bits, int symmetric, float lo, float hi);
SEQDEF int32_t seq_quant_grid_q(const seq_quant_grid *g, float x);
SEQDEF float seq_quant_grid_dq(const seq_quant_grid *g, int32_t q);

/* ===================================================================================
 * 2  format traits: one table row per block format
 * =================================================================================== */

/* ===================================================================================
 * 3  ggml blocks: Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q6_K IQ4_NL
 * =================================================================================== */

/* ===================================================================================
 * 4  float formats: NF4, FP8 E4M3/E5M2, FP4 E2M1, OCP MX, ExMy
 * =================================================================================== */

/* ===================================================================================
 * 5  quantized kernels: matrix-vector and matrix-matrix products
 * =================================================================================== */

/* ===================================================================================
 * 6  GGUF files
 * =================================================================================== */

/* ===================================================================================
 * 7  round-to-nearest: clipping search, stochastic rounding
 * =================================================================================== */

/* How a grid's range [lo, hi] is chosen from the values it covers. */
typedef enum seq_quant_clip {
    SEQ_QUANT_CLIP_MINMAX,     /* the full range: nothing clips */
    SEQ_QUANT_CLIP_PERCENTILE, /* the `percentile` quantiles (two-sided; of |x| when symmetric) */
    SEQ_QUANT_CLIP_MSE,        /* min-max shrunk by the factor that minimizes the squared error */
    SEQ_QUANT_CLIP_COUNT
} seq_quant_clip;

/* Which entries of a (rows, cols) weight share one grid; rows are output channels. */
typedef enum seq_quant_gran {
    SEQ_QUANT_PER_TENSOR,
    SEQ_QUANT_PER_CHANNEL, /* one grid per row */
    SEQ_QUANT_PER_GROUP,   /* one grid per group_size consecutive columns of a row */
    SEQ_QUANT_GRAN_COUNT
} seq_quant_gran;

typedef struct seq_quant_rtn_config {
    int bits;               /* 2..8 */
    int symmetric;          /* 1: zero = 0, levels -qmax..qmax */
    seq_quant_gran gran;
    int64_t group_size;     /* PER_GROUP: columns per grid; must divide cols */
    seq_quant_clip clip;
    float percentile;       /* PERCENTILE: in [0.5, 1], e.g. 0.999 */
    int mse_grid;           /* MSE: shrink factors 1 - max_shrink * i / mse_grid, i < mse_grid */
    float mse_max_shrink;   /* MSE: in (0, 1) */
    int stochastic;         /* 1: round up with probability frac(x/scale) (needs an rng) */
} seq_quant_rtn_config;

/* bits, asymmetric, per channel, min-max; MSE search over 100 factors down to 0.2. */
SEQDEF seq_quant_rtn_config seq_quant_rtn_config_default(int bits);

/* A quantized (rows, cols) weight: one code per entry and the grids they index.
 * Entry (r, c) dequantizes to seq_quant_grid_dq(grid, codes[r*cols+c] + grid->qmin). */
typedef struct seq_quant_weight {
    int64_t rows, cols;
    int bits;
    seq_quant_gran gran;
    int64_t group_size;     /* columns per grid in a row (cols unless PER_GROUP) */
    int64_t ngrids;         /* 1, rows, or rows * cols / group_size, row-major */
    uint8_t *codes;         /* (rows, cols): q - qmin in 0 .. 2^bits - 1 */
    seq_quant_grid *grids;
    void *alloc_ud;
} seq_quant_weight;

/* Allocates codes and grids for cfg's bits and granularity (contents unset). */
SEQDEF seq_status seq_quant_weight_init(seq_quant_weight *w, int64_t rows, int64_t cols,
                                        const seq_quant_rtn_config *cfg, void *alloc_ud);
SEQDEF void seq_quant_weight_free(seq_quant_weight *w);
SEQDEF seq_quant_grid *seq_quant_weight_grid(const seq_quant_weight *w, int64_t row, int64_t col);
/* out (rows, cols) = the dequantized weight. */
SEQDEF void seq_quant_weight_dequantize(const seq_quant_weight *w, float *out);

/* The grid for n values x under cfg's bits, symmetry and clipping (granularity is the
 * caller's: x is whatever shares the grid). alloc_ud serves the percentile's sort. */
SEQDEF seq_status seq_quant_grid_search(seq_quant_grid *g, const float *x, int64_t n,
                                        const seq_quant_rtn_config *cfg, void *alloc_ud);
/* Stochastic rounding: floor(x/scale + u) + zero with u ~ U[0,1) from rng, clamped, so
 * E[dq(q)] = x for x inside the grid's range. */
SEQDEF int32_t seq_quant_grid_q_stochastic(const seq_quant_grid *g, float x, seq_rng *rng);
/* Round-to-nearest (or stochastic, cfg->stochastic with rng) of W (rows, cols) into out,
 * which this initializes (free it with seq_quant_weight_free). Non-finite W: SEQ_ERR_NUMERIC. */
SEQDEF seq_status seq_quant_rtn(seq_quant_weight *out, const float *W, int64_t rows, int64_t cols,
                                const seq_quant_rtn_config *cfg, seq_rng *rng, void *alloc_ud);

/* ===================================================================================
 * 8  incoherence processing: fast Walsh-Hadamard transform
 * =================================================================================== */

/* An orthogonal n x n Hadamard transform H / sqrt(n) with H = H_k (x) H_{2^m}, n = k 2^m:
 * H_{2^m} is Sylvester's (the fast Walsh-Hadamard transform, O(n log n)); H_k is 1 or a
 * Paley matrix: k = q+1 for a prime q = 3 mod 4 (12, 20, 24, 32...) or k = 2(q+1) for a
 * prime q = 1 mod 4 (12, 28, 36, ...), as QuIP# uses 12, 20 and 28. The smallest such k
 * that divides n (k <= SEQ_QUANT_HADAMARD_MAX_K) is picked; other n: SEQ_ERR_UNSUPPORTED. */
#define SEQ_QUANT_HADAMARD_MAX_K 256
typedef struct seq_quant_hadamard {
    int64_t n, k, m;   /* n = k * m, m a power of two */
    float *hk;         /* (k, k) entries +-1; NULL when k == 1 */
    void *alloc_ud;
} seq_quant_hadamard;

SEQDEF seq_status seq_quant_hadamard_init(seq_quant_hadamard *h, int64_t n, void *alloc_ud);
SEQDEF void seq_quant_hadamard_free(seq_quant_hadamard *h);
/* Each of the count rows of x (count, n), in place: x <- H x / sqrt(n), or with transpose
 * x <- H^T x / sqrt(n), the inverse (Paley matrices of the first kind are not symmetric). */
SEQDEF void seq_quant_hadamard_apply(const seq_quant_hadamard *h, float *x, int64_t count, int transpose);
/* The unnormalized in-place Walsh-Hadamard transform of x (n), n a power of two. */
SEQDEF void seq_quant_fwht(float *x, int64_t n);

/* Two-sided incoherence (QuIP#): W~ = U W V^T with U = H_rows S_r, V = H_cols S_c and S
 * random +-1 diagonals. Outliers spread over every entry, so W~ is close to Gaussian and
 * quantizes with less error; the layer stays exact because y = W x = U^T (W~ (V x)). */
typedef struct seq_quant_incoherence {
    seq_quant_hadamard hr, hc;
    float *sr, *sc;    /* (rows), (cols) random signs */
    void *alloc_ud;
} seq_quant_incoherence;

SEQDEF seq_status seq_quant_incoherence_init(seq_quant_incoherence *ip, int64_t rows, int64_t cols, seq_rng *rng,
                                             void *alloc_ud);
SEQDEF void seq_quant_incoherence_free(seq_quant_incoherence *ip);
/* W (rows, cols) in place: W <- U W V^T (forward) or W <- U^T W V (inverse). */
SEQDEF seq_status seq_quant_incoherence_weight(const seq_quant_incoherence *ip, float *W, int inverse);
/* Inference with a transformed weight: x (batch, cols) <- V x before the product,
 * y (batch, rows) <- U^T y after it. */
SEQDEF void seq_quant_incoherence_input(const seq_quant_incoherence *ip, float *x, int64_t batch);
SEQDEF void seq_quant_incoherence_output(const seq_quant_incoherence *ip, float *y, int64_t batch);

/* ===================================================================================
 * 9  GPTQ
 * =================================================================================== */

/* GPTQ (Frantar et al. 2023): quantizes a (rows, cols) weight one column at a time and
 * moves each column's error onto the columns not yet quantized, weighted by the inverse
 * Hessian of the layer's output error, H = 2 X^T X / N over the N calibration inputs. */
typedef struct seq_quant_gptq {
    int64_t cols;      /* the layer's input size */
    double *xtx;       /* (cols, cols): sum over calibration rows of x x^T */
    int64_t nsamples;
    void *alloc_ud;
} seq_quant_gptq;

typedef struct seq_quant_gptq_config {
    seq_quant_rtn_config grid; /* bits, symmetry, granularity, clipping (not stochastic) */
    float percdamp;            /* damping lambda = percdamp * mean diag(H); 0.01 */
    int max_damp_tries;        /* lambda grows 10x after each failed Cholesky; 6 */
    int64_t block_size;        /* columns per lazy batch update; 128 */
    int act_order;             /* 1: columns by decreasing diag(H); groups then use static
                                  grids fitted to the original weight */
} seq_quant_gptq_config;

SEQDEF seq_quant_gptq_config seq_quant_gptq_config_default(int bits);
SEQDEF seq_status seq_quant_gptq_init(seq_quant_gptq *g, int64_t cols, void *alloc_ud);
SEQDEF void seq_quant_gptq_free(seq_quant_gptq *g);
/* Adds n calibration inputs X (n, cols) as the layer sees them (call once per batch). */
SEQDEF seq_status seq_quant_gptq_add_batch(seq_quant_gptq *g, const float *X, int64_t n);
/* Quantizes W (rows, cols) into out (initialized here) and, when W_dq is not NULL, writes
 * the dequantized weight (rows, cols). No calibration data: SEQ_ERR_STATE; a Hessian that
 * stays indefinite after every damping step: SEQ_ERR_NUMERIC. */
SEQDEF seq_status seq_quant_gptq_quantize(const seq_quant_gptq *g, const float *W, int64_t rows,
                                          const seq_quant_gptq_config *cfg, seq_quant_weight *out, float *W_dq);
/* The output error GPTQ minimizes, sum_r (W_r - Wq_r) (X^T X / N) (W_r - Wq_r)^T: the mean
 * over calibration inputs of |W x - Wq x|^2. */
SEQDEF double seq_quant_gptq_error(const seq_quant_gptq *g, const float *W, const float *Wq, int64_t rows);

/* ===================================================================================
 * 10  HAWQ: Hessian trace and top eigenvalue, bit allocation
 * =================================================================================== */

/* Hessian-vector products of a loss with respect to one parameter tensor w of P (the
 * Hessian block of that layer), by central differences of gradients:
 *     H v ~ (g(w + h v) - g(w - h v)) / (2h),   h = eps * max(|w|, 1) / |v|,
 * each gradient a fresh build() and seq_backward on ctx (reset here). seq.h's tape is not
 * differentiable itself (fused layers have hand-written BPTT backwards), so a difference
 * of two gradients is the Hessian product every seq model supports; its error is O(h^2)
 * for smooth losses. eps ~ 1e-3 suits f32. w's values are restored bit for bit; P's
 * gradients are left zeroed. */
SEQDEF seq_status seq_quant_hvp(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                const float *v, float eps, float *hv);
/* HAWQ-V2 (Dong et al. 2020): Hutchinson's estimate Tr(H) ~ mean of v^T H v over
 * nsamples Rademacher vectors v drawn from rng. */
SEQDEF seq_status seq_quant_hawq_trace(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                       int nsamples, float eps, seq_rng *rng, double *trace);
/* HAWQ (v1, Dong et al. 2019): the top eigenvalue of H by power iteration from a random
 * start; stops after iters products or when the estimate moves by less than tol relative. */
SEQDEF seq_status seq_quant_hawq_top_eigen(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                           int iters, float tol, float eps, seq_rng *rng, double *lambda);
/* Bit widths per layer under a size budget, exactly: choose c_l in 0..nbits-1 for each of
 * nlayers layers to minimize sum_l sensitivity[l] * sq_err[l*nbits + c_l] subject to
 * sum_l numel[l] * bits[c_l] <= budget_bits, where sensitivity = Tr(H_l) / numel[l] and
 * sq_err[l*nbits+c] = |Q_bits[c](W_l) - W_l|^2. Dynamic programming over the Pareto
 * frontier of (size, objective), layer by layer. No allocation fits: SEQ_ERR_RANGE. */
SEQDEF seq_status seq_quant_hawq_allocate(int nlayers, const int64_t *numel, const double *sensitivity, int nbits,
                                          const int *bits, const double *sq_err, int64_t budget_bits, void *alloc_ud,
                                          int *choice, double *objective);

/* ===================================================================================
 * 11  QTIP: bitshift trellis codes
 * =================================================================================== */

/* QTIP (Tseng et al. 2024) with L = 16 state bits, k bits per weight, V = 1. A sequence of
 * T weights is a bitstream; weight t reads the L-bit window that starts at bit t*k (most
 * significant bit first), so consecutive states overlap in L-k bits and each weight costs
 * k bits: a shift register that takes k new bits per step. The window is decoded by a
 * compute-based code, no codebook in memory. Plain streams hold L + (T-1) k bits;
 * tail-biting streams wrap around and hold exactly T k bits. Viterbi finds the stream
 * that minimizes the squared error of the whole sequence. */
#define SEQ_QUANT_QTIP_L 16

/* QTIP's 1MAD code: one multiply-add (x = 34038481 s + 76625530 mod 2^32), the sum of x's
 * four bytes (near Gaussian by the central limit theorem), centered and scaled to about
 * N(0, 1): (sum - 510) / 147.800537109375. */
SEQDEF float seq_quant_qtip_1mad(uint32_t state);
/* Bytes of one encoded sequence of T weights at k bits (1..8). */
SEQDEF size_t seq_quant_qtip_bytes(int64_t T, int k, int tail_biting);
/* Viterbi: encodes x (T) into bits (seq_quant_qtip_bytes) so that decoding gives the
 * closest sequence of 1MAD values. Tail-biting uses QTIP's two passes (the overlap bits
 * from an unconstrained pass over the sequence rotated by T/2, then a pass constrained to
 * them). Scratch from alloc_ud: 3 * 2^L + 2^(L-k) + T floats and T * (2^(L-k) + 2) bytes. */
SEQDEF seq_status seq_quant_qtip_encode(const float *x, int64_t T, int k, int tail_biting, uint8_t *bits,
                                        void *alloc_ud);
/* The dequantize kernel: out (T) = scale * 1MAD(window t). */
SEQDEF void seq_quant_qtip_decode(const uint8_t *bits, int64_t T, int k, int tail_biting, float scale, float *out);

/* A (rows, cols) weight coded as rows * cols / seq_len trellis sequences, after two-sided
 * Hadamard incoherence (which makes the entries near Gaussian, as the code expects) and one
 * per-tensor scale (the RMS of the transformed weight). */
typedef struct seq_quant_qtip {
    int64_t rows, cols, seq_len;
    int k, tail_biting;
    float scale;
    size_t seq_bytes;                 /* bytes per sequence */
    uint8_t *bits;                    /* (rows * cols / seq_len, seq_bytes) */
    seq_quant_incoherence ip;
    void *alloc_ud;
} seq_quant_qtip;

/* seq_len must divide cols and rows, cols need Hadamard sizes (section 8). */
SEQDEF seq_status seq_quant_qtip_quantize(seq_quant_qtip *q, const float *W, int64_t rows, int64_t cols, int k,
                                          int64_t seq_len, int tail_biting, seq_rng *rng, void *alloc_ud);
/* W (rows, cols) = the dequantized weight, incoherence undone. */
SEQDEF seq_status seq_quant_qtip_dequantize(const seq_quant_qtip *q, float *W);
SEQDEF void seq_quant_qtip_free(seq_quant_qtip *q);

/* ===================================================================================
 * 12  QAT: fake quantization with the straight-through estimator
 * =================================================================================== */

/* y = clamp(round(x / s), qmin, qmax) * s on the integer grid of `bits` (2..8): signed
 * symmetric -qmax..qmax, or unsigned 0..2^bits-1 (activations after a ReLU). s is one
 * scale (shape (1): per tensor) or one per row of x (shape (x->shape[0]): per channel);
 * every s must be positive and finite (SEQ_ERR_INVALID otherwise).
 * Backward: the straight-through estimator passes dy to dx where x/s lies inside
 * [qmin, qmax] and 0 where it clips. When s needs a gradient it is LSQ's (Esser et al.
 * 2020): ds = sum dy * (round(x/s) - x/s inside, qmin or qmax where clipped) * grad_scale,
 * grad_scale <= 0 meaning LSQ's 1 / sqrt(elements per scale * qmax). */
SEQDEF seq_tensor *seq_quant_fake_quant(seq_ctx *ctx, seq_tensor *x, seq_tensor *s, int bits, int is_unsigned,
                                        float grad_scale);
/* LSQ's initial scale for values x (n): 2 mean|x| / sqrt(qmax). */
SEQDEF float seq_quant_lsq_scale_init(const float *x, int64_t n, int bits, int is_unsigned);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_QUANT_H */

#ifdef SEQ_QUANT_IMPLEMENTATION
#ifndef SEQ_QUANT_IMPLEMENTATION_DONE
#define SEQ_QUANT_IMPLEMENTATION_DONE

#include <math.h>
#include <string.h>

/* ===================================================================================
 * 1  integer grids (implementation)
 * =================================================================================== */

SEQDEF seq_status seq_quant_grid_fit(seq_quant_grid *g, int bits, int symmetric, float lo, float hi) {
    float range;
    if (!g || bits < 2 || bits > 8 || !isfinite(lo) || !isfinite(hi) || lo > hi) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_grid_fit: need 2..8 bits and finite lo <= hi");
    }
    /* 0 must be exactly representable: padding and ReLU zeros stay zeros */
    if (lo > 0.0f) lo = 0.0f;
    if (hi < 0.0f) hi = 0.0f;
    if (symmetric) {
        float m = fabsf(lo) > hi ? fabsf(lo) : hi;
        g->qmax = (1 << (bits - 1)) - 1;
        g->qmin = -g->qmax;
        g->zero = 0;
        g->scale = m > 0.0f ? m / (float)g->qmax : 1.0f;
        return SEQ_OK;
    }
    g->qmin = 0;
    g->qmax = (1 << bits) - 1;
    range = hi - lo;
    g->scale = range > 0.0f ? range / (float)g->qmax : 1.0f;
    g->zero = (int32_t)nearbyintf(-lo / g->scale);
    if (g->zero > g->qmax) g->zero = g->qmax;
    return SEQ_OK;
}

SEQDEF int32_t seq_quant_grid_q(const seq_quant_grid *g, float x) {
    float r = nearbyintf(x / g->scale) + (float)g->zero; /* default rounding: half to even */
    if (!(r >= (float)g->qmin)) return g->qmin;           /* NaN goes to qmin, never UB */
    if (r > (float)g->qmax) return g->qmax;
    return (int32_t)r;
}

SEQDEF float seq_quant_grid_dq(const seq_quant_grid *g, int32_t q) { return (float)(q - g->zero) * g->scale; }

/* ===================================================================================
 * 2  format traits (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 3  ggml blocks (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 4  float formats (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 5  quantized kernels (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 6  GGUF files (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 7  round-to-nearest (implementation)
 * =================================================================================== */

#include <stdlib.h>

/* The implementation may be compiled alone (without seq.h's): same default allocator. */
#if !defined(SEQ_MALLOC) && !defined(SEQ_REALLOC) && !defined(SEQ_FREE)
#define SEQ_MALLOC(ud, sz) ((void)(ud), malloc(sz))
#define SEQ_REALLOC(ud, p, sz) ((void)(ud), realloc((p), (sz)))
#define SEQ_FREE(ud, p) ((void)(ud), free(p))
#endif

SEQDEF seq_quant_rtn_config seq_quant_rtn_config_default(int bits) {
    seq_quant_rtn_config c;
    memset(&c, 0, sizeof c);
    c.bits = bits;
    c.gran = SEQ_QUANT_PER_CHANNEL;
    c.group_size = 128;
    c.clip = SEQ_QUANT_CLIP_MINMAX;
    c.percentile = 0.999f;
    c.mse_grid = 100;
    c.mse_max_shrink = 0.8f;
    return c;
}

static int seq_quant__all_finite(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Checks the fields of cfg that fitting one grid relies on. */
static seq_status seq_quant__check_grid(const char *fn, const seq_quant_rtn_config *cfg) {
    if (!cfg || cfg->bits < 2 || cfg->bits > 8 || (int)cfg->gran < 0 || cfg->gran >= SEQ_QUANT_GRAN_COUNT ||
        (int)cfg->clip < 0 || cfg->clip >= SEQ_QUANT_CLIP_COUNT)
        return seq_set_error(SEQ_ERR_INVALID, "%s: need 2..8 bits, a granularity and a clipping method", fn);
    if (cfg->clip == SEQ_QUANT_CLIP_PERCENTILE && !(cfg->percentile >= 0.5f && cfg->percentile <= 1.0f))
        return seq_set_error(SEQ_ERR_INVALID, "%s: percentile %g outside [0.5, 1]", fn, (double)cfg->percentile);
    if (cfg->clip == SEQ_QUANT_CLIP_MSE &&
        (cfg->mse_grid < 1 || !(cfg->mse_max_shrink > 0.0f && cfg->mse_max_shrink < 1.0f)))
        return seq_set_error(SEQ_ERR_INVALID, "%s: MSE search needs mse_grid >= 1 and mse_max_shrink in (0,1)", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_weight_init(seq_quant_weight *w, int64_t rows, int64_t cols,
                                        const seq_quant_rtn_config *cfg, void *alloc_ud) {
    seq_status st;
    if (!w) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_weight_init: NULL weight");
    memset(w, 0, sizeof *w);
    st = seq_quant__check_grid("seq_quant_weight_init", cfg);
    if (st != SEQ_OK) return st;
    if (rows < 1 || cols < 1)
        return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_weight_init: empty weight (%lld, %lld)", (long long)rows,
                             (long long)cols);
    if (cfg->gran == SEQ_QUANT_PER_GROUP && (cfg->group_size < 1 || cols % cfg->group_size != 0))
        return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_weight_init: group size %lld does not divide %lld columns",
                             (long long)cfg->group_size, (long long)cols);
    w->rows = rows;
    w->cols = cols;
    w->bits = cfg->bits;
    w->gran = cfg->gran;
    w->group_size = cfg->gran == SEQ_QUANT_PER_GROUP ? cfg->group_size : cols;
    w->ngrids = cfg->gran == SEQ_QUANT_PER_TENSOR ? 1 : rows * (cols / w->group_size);
    w->alloc_ud = alloc_ud;
    w->codes = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)(rows * cols));
    w->grids = (seq_quant_grid *)SEQ_MALLOC(alloc_ud, (size_t)w->ngrids * sizeof(seq_quant_grid));
    if (!w->codes || !w->grids) {
        seq_quant_weight_free(w);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_weight_init: out of memory");
    }
    return SEQ_OK;
}

SEQDEF void seq_quant_weight_free(seq_quant_weight *w) {
    if (!w) return;
    if (w->codes) SEQ_FREE(w->alloc_ud, w->codes);
    if (w->grids) SEQ_FREE(w->alloc_ud, w->grids);
    memset(w, 0, sizeof *w); /* an empty weight: dequantizes to nothing */
}

SEQDEF seq_quant_grid *seq_quant_weight_grid(const seq_quant_weight *w, int64_t row, int64_t col) {
    if (w->gran == SEQ_QUANT_PER_TENSOR) return w->grids;
    return w->grids + row * (w->cols / w->group_size) + col / w->group_size;
}

SEQDEF void seq_quant_weight_dequantize(const seq_quant_weight *w, float *out) {
    int64_t r, c;
    for (r = 0; r < w->rows; r++)
        for (c = 0; c < w->cols; c++) {
            const seq_quant_grid *g = seq_quant_weight_grid(w, r, c);
            out[r * w->cols + c] = seq_quant_grid_dq(g, (int32_t)w->codes[r * w->cols + c] + g->qmin);
        }
}

static int seq_quant__cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The p-quantile of sorted s (n), linearly interpolated between order statistics. */
static float seq_quant__quantile(const float *s, int64_t n, double p) {
    double pos = p * (double)(n - 1);
    int64_t i = (int64_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? (float)((1.0 - f) * s[i] + f * s[i + 1]) : s[n - 1];
}

static double seq_quant__grid_sq_err(const seq_quant_grid *g, const float *x, int64_t n) {
    double e = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double d = (double)seq_quant_grid_dq(g, seq_quant_grid_q(g, x[i])) - (double)x[i];
        e += d * d;
    }
    return e;
}

SEQDEF seq_status seq_quant_grid_search(seq_quant_grid *g, const float *x, int64_t n,
                                        const seq_quant_rtn_config *cfg, void *alloc_ud) {
    float lo, hi;
    int64_t i;
    seq_status st = seq_quant__check_grid("seq_quant_grid_search", cfg);
    if (st != SEQ_OK) return st;
    if (!g || !x || n < 1) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_grid_search: NULL argument or no values");
    if (!seq_quant__all_finite(x, n)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_grid_search: non-finite value");
    lo = hi = x[0];
    for (i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (cfg->clip == SEQ_QUANT_CLIP_PERCENTILE) {
        float *s = (float *)SEQ_MALLOC(alloc_ud, (size_t)n * sizeof(float));
        if (!s) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_grid_search: out of memory");
        for (i = 0; i < n; i++) s[i] = cfg->symmetric ? fabsf(x[i]) : x[i];
        qsort(s, (size_t)n, sizeof(float), seq_quant__cmp_float);
        hi = seq_quant__quantile(s, n, cfg->percentile);
        lo = cfg->symmetric ? -hi : seq_quant__quantile(s, n, 1.0 - cfg->percentile);
        SEQ_FREE(alloc_ud, s);
    }
    st = seq_quant_grid_fit(g, cfg->bits, cfg->symmetric, lo, hi);
    if (st == SEQ_OK && cfg->clip == SEQ_QUANT_CLIP_MSE) {
        double best = seq_quant__grid_sq_err(g, x, n);
        int k;
        for (k = 1; k < cfg->mse_grid; k++) {
            float p = 1.0f - cfg->mse_max_shrink * (float)k / (float)cfg->mse_grid;
            seq_quant_grid t;
            double e;
            seq_quant_grid_fit(&t, cfg->bits, cfg->symmetric, p * lo, p * hi);
            e = seq_quant__grid_sq_err(&t, x, n);
            if (e < best) {
                best = e;
                *g = t;
            }
        }
    }
    return st;
}

SEQDEF int32_t seq_quant_grid_q_stochastic(const seq_quant_grid *g, float x, seq_rng *rng) {
    float r = floorf(x / g->scale + seq_rng_float(rng)) + (float)g->zero;
    if (!(r >= (float)g->qmin)) return g->qmin;
    if (r > (float)g->qmax) return g->qmax;
    return (int32_t)r;
}

/* Fits w's grids to W: one per tensor, row or group, each searched on the values it covers. */
static seq_status seq_quant__fit_grids(seq_quant_weight *w, const float *W, const seq_quant_rtn_config *cfg) {
    int64_t r, c;
    if (w->gran == SEQ_QUANT_PER_TENSOR) return seq_quant_grid_search(w->grids, W, w->rows * w->cols, cfg, w->alloc_ud);
    for (r = 0; r < w->rows; r++)
        for (c = 0; c < w->cols; c += w->group_size) {
            seq_status st = seq_quant_grid_search(seq_quant_weight_grid(w, r, c), W + r * w->cols + c, w->group_size,
                                                  cfg, w->alloc_ud);
            if (st != SEQ_OK) return st;
        }
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_rtn(seq_quant_weight *out, const float *W, int64_t rows, int64_t cols,
                                const seq_quant_rtn_config *cfg, seq_rng *rng, void *alloc_ud) {
    int64_t r, c;
    seq_status st;
    if (!out || !W) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_rtn: NULL argument");
    if (cfg && cfg->stochastic && !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_rtn: stochastic rounding needs an rng");
    st = seq_quant_weight_init(out, rows, cols, cfg, alloc_ud);
    if (st != SEQ_OK) return st;
    if (!seq_quant__all_finite(W, rows * cols)) {
        seq_quant_weight_free(out);
        return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_rtn: W has a non-finite value");
    }
    st = seq_quant__fit_grids(out, W, cfg);
    if (st != SEQ_OK) {
        seq_quant_weight_free(out);
        return st;
    }
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) {
            const seq_quant_grid *g = seq_quant_weight_grid(out, r, c);
            float x = W[r * cols + c];
            int32_t q = cfg->stochastic ? seq_quant_grid_q_stochastic(g, x, rng) : seq_quant_grid_q(g, x);
            out->codes[r * cols + c] = (uint8_t)(q - g->qmin);
        }
    return SEQ_OK;
}

/* ===================================================================================
 * 8  fast Walsh-Hadamard transform (implementation)
 * =================================================================================== */

static int seq_quant__is_prime(int64_t q) {
    int64_t d;
    if (q < 2) return 0;
    for (d = 2; d * d <= q; d++)
        if (q % d == 0) return 0;
    return 1;
}

/* 1: Paley I order (k-1 a prime = 3 mod 4), 2: Paley II order (k/2-1 a prime = 1 mod 4), 0: neither. */
static int seq_quant__paley_kind(int64_t k) {
    if (seq_quant__is_prime(k - 1) && (k - 1) % 4 == 3) return 1;
    if (k % 2 == 0 && seq_quant__is_prime(k / 2 - 1) && (k / 2 - 1) % 4 == 1) return 2;
    return 0;
}

/* Legendre symbol of a mod the prime q: 0, +1 for a square, -1 otherwise. */
static int seq_quant__chi(int64_t a, int64_t q) {
    int64_t x;
    a = ((a % q) + q) % q;
    if (a == 0) return 0;
    for (x = 1; x < q; x++)
        if (x * x % q == a) return 1;
    return -1;
}

/* The conference-matrix core of both constructions, order q+1: c(0,0) = 0, c(0,j) = 1,
 * c(i,0) = -1 (Paley I, skew) or 1 (Paley II, symmetric), c(i,j) = chi(j - i). */
static int seq_quant__conference(int64_t i, int64_t j, int64_t q, int skew) {
    if (i == 0) return j == 0 ? 0 : 1;
    if (j == 0) return skew ? -1 : 1;
    return seq_quant__chi(j - i, q);
}

/* hk (k, k) = Paley I: I + C (C skew), or Paley II: C (x) [1 1; 1 -1] + I (x) [1 -1; -1 -1]. */
static void seq_quant__paley(float *hk, int64_t k, int kind) {
    int64_t i, j;
    if (kind == 1) {
        for (i = 0; i < k; i++)
            for (j = 0; j < k; j++) hk[i * k + j] = (float)((i == j) + seq_quant__conference(i, j, k - 1, 1));
        return;
    }
    for (i = 0; i < k; i++)
        for (j = 0; j < k; j++) {
            int64_t bi = i / 2, bj = j / 2, ei = i % 2, ej = j % 2;
            int c = seq_quant__conference(bi, bj, k / 2 - 1, 0);
            /* c = 0 exactly on the block diagonal, where the identity term takes over */
            hk[i * k + j] = bi == bj ? (ei == 0 && ej == 0 ? 1.0f : -1.0f) : (float)(ei == 1 && ej == 1 ? -c : c);
        }
}

SEQDEF seq_status seq_quant_hadamard_init(seq_quant_hadamard *h, int64_t n, void *alloc_ud) {
    int64_t m;
    if (!h) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hadamard_init: NULL argument");
    memset(h, 0, sizeof *h);
    if (n < 1) return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_hadamard_init: size %lld < 1", (long long)n);
    for (m = 1; n % (m * 2) == 0; m *= 2) {
    }
    for (; m >= 1; m /= 2) { /* the largest power of two first: the smallest k */
        int64_t k = n / m;
        int kind = k == 1 ? 0 : k <= SEQ_QUANT_HADAMARD_MAX_K ? seq_quant__paley_kind(k) : 0;
        if (k != 1 && kind == 0) continue;
        h->n = n;
        h->k = k;
        h->m = m;
        h->alloc_ud = alloc_ud;
        if (k > 1) {
            h->hk = (float *)SEQ_MALLOC(alloc_ud, (size_t)(k * k) * sizeof(float));
            if (!h->hk) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hadamard_init: out of memory");
            seq_quant__paley(h->hk, k, kind);
        }
        return SEQ_OK;
    }
    return seq_set_error(SEQ_ERR_UNSUPPORTED, "seq_quant_hadamard_init: no Hadamard matrix of order %lld = k 2^m with k a Paley order <= %d",
                         (long long)n, SEQ_QUANT_HADAMARD_MAX_K);
}

SEQDEF void seq_quant_hadamard_free(seq_quant_hadamard *h) {
    if (h && h->hk) SEQ_FREE(h->alloc_ud, h->hk);
    if (h) h->hk = NULL;
}

static void seq_quant__fwht_strided(float *x, int64_t n, int64_t stride) {
    int64_t len, i, j;
    for (len = 1; len < n; len *= 2)
        for (i = 0; i < n; i += 2 * len)
            for (j = i; j < i + len; j++) {
                float a = x[j * stride], b = x[(j + len) * stride];
                x[j * stride] = a + b;
                x[(j + len) * stride] = a - b;
            }
}

SEQDEF void seq_quant_fwht(float *x, int64_t n) { seq_quant__fwht_strided(x, n, 1); }

/* count vectors of x, vector v's element i at x[v * vstride + i * istride]: rows when
 * (vstride, istride) = (n, 1), columns of an (n, width) matrix when (1, width). Index
 * i = a m + b: H_{2^m} runs over b for each a, H_k over a for each b (they commute). */
static void seq_quant__hadamard(const seq_quant_hadamard *h, float *x, int64_t count, int64_t vstride, int64_t istride,
                                int transpose) {
    float tmp[SEQ_QUANT_HADAMARD_MAX_K];
    float norm = (float)(1.0 / sqrt((double)h->n));
    int64_t v, a, b, j;
    for (v = 0; v < count; v++) {
        float *p = x + v * vstride;
        for (a = 0; a < h->k; a++) seq_quant__fwht_strided(p + a * h->m * istride, h->m, istride);
        if (!h->hk) {
            for (b = 0; b < h->n; b++) p[b * istride] *= norm;
            continue;
        }
        for (b = 0; b < h->m; b++) {
            for (a = 0; a < h->k; a++) tmp[a] = p[(a * h->m + b) * istride];
            for (a = 0; a < h->k; a++) {
                float s = 0.0f;
                for (j = 0; j < h->k; j++) s += (transpose ? h->hk[j * h->k + a] : h->hk[a * h->k + j]) * tmp[j];
                p[(a * h->m + b) * istride] = s * norm;
            }
        }
    }
}

SEQDEF void seq_quant_hadamard_apply(const seq_quant_hadamard *h, float *x, int64_t count, int transpose) {
    seq_quant__hadamard(h, x, count, h->n, 1, transpose);
}

/* v (n) = independent random signs, +-1 with probability 1/2 each. */
static void seq_quant__rademacher(float *v, int64_t n, seq_rng *rng) {
    int64_t i;
    for (i = 0; i < n; i++) v[i] = (seq_rng_u64(rng) >> 63) ? -1.0f : 1.0f;
}

SEQDEF seq_status seq_quant_incoherence_init(seq_quant_incoherence *ip, int64_t rows, int64_t cols, seq_rng *rng,
                                             void *alloc_ud) {
    seq_status st;
    if (!ip || !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_incoherence_init: NULL argument");
    memset(ip, 0, sizeof *ip);
    ip->alloc_ud = alloc_ud;
    st = seq_quant_hadamard_init(&ip->hr, rows, alloc_ud);
    if (st == SEQ_OK) st = seq_quant_hadamard_init(&ip->hc, cols, alloc_ud);
    if (st != SEQ_OK) {
        seq_quant_incoherence_free(ip);
        return st;
    }
    ip->sr = (float *)SEQ_MALLOC(alloc_ud, (size_t)rows * sizeof(float));
    ip->sc = (float *)SEQ_MALLOC(alloc_ud, (size_t)cols * sizeof(float));
    if (!ip->sr || !ip->sc) {
        seq_quant_incoherence_free(ip);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_incoherence_init: out of memory");
    }
    seq_quant__rademacher(ip->sr, rows, rng);
    seq_quant__rademacher(ip->sc, cols, rng);
    return SEQ_OK;
}

SEQDEF void seq_quant_incoherence_free(seq_quant_incoherence *ip) {
    if (!ip) return;
    seq_quant_hadamard_free(&ip->hr);
    seq_quant_hadamard_free(&ip->hc);
    if (ip->sr) SEQ_FREE(ip->alloc_ud, ip->sr);
    if (ip->sc) SEQ_FREE(ip->alloc_ud, ip->sc);
    ip->sr = ip->sc = NULL;
}

/* x (count, n): column j scaled by s[j]. */
static void seq_quant__scale_cols(float *x, int64_t count, int64_t n, const float *s) {
    int64_t i, j;
    for (i = 0; i < count; i++)
        for (j = 0; j < n; j++) x[i * n + j] *= s[j];
}

/* x (count, n): row i scaled by s[i]. */
static void seq_quant__scale_each_row(float *x, int64_t count, int64_t n, const float *s) {
    int64_t i, j;
    for (i = 0; i < count; i++)
        for (j = 0; j < n; j++) x[i * n + j] *= s[i];
}

SEQDEF seq_status seq_quant_incoherence_weight(const seq_quant_incoherence *ip, float *W, int inverse) {
    int64_t rows, cols;
    if (!ip || !W || !ip->sr) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_incoherence_weight: NULL argument");
    rows = ip->hr.n;
    cols = ip->hc.n;
    if (!inverse) { /* W V^T row by row (V w = H_c S_c w), then U (.) column by column */
        seq_quant_incoherence_input(ip, W, rows);
        seq_quant__scale_each_row(W, rows, cols, ip->sr);
        seq_quant__hadamard(&ip->hr, W, cols, 1, cols, 0);
        return SEQ_OK;
    }
    seq_quant__hadamard(&ip->hr, W, cols, 1, cols, 1); /* U^T (.) = S_r H_r^T (.) by columns */
    seq_quant__scale_each_row(W, rows, cols, ip->sr);
    seq_quant__hadamard(&ip->hc, W, rows, cols, 1, 1); /* (.) V = rows through S_c H_c^T */
    seq_quant__scale_cols(W, rows, cols, ip->sc);
    return SEQ_OK;
}

SEQDEF void seq_quant_incoherence_input(const seq_quant_incoherence *ip, float *x, int64_t batch) {
    seq_quant__scale_cols(x, batch, ip->hc.n, ip->sc);
    seq_quant__hadamard(&ip->hc, x, batch, ip->hc.n, 1, 0);
}

SEQDEF void seq_quant_incoherence_output(const seq_quant_incoherence *ip, float *y, int64_t batch) {
    seq_quant__hadamard(&ip->hr, y, batch, ip->hr.n, 1, 1);
    seq_quant__scale_cols(y, batch, ip->hr.n, ip->sr);
}

/* ===================================================================================
 * 9  GPTQ (implementation)
 * =================================================================================== */

SEQDEF seq_quant_gptq_config seq_quant_gptq_config_default(int bits) {
    seq_quant_gptq_config c;
    c.grid = seq_quant_rtn_config_default(bits);
    c.percdamp = 0.01f;
    c.max_damp_tries = 6;
    c.block_size = 128;
    c.act_order = 0;
    return c;
}

SEQDEF seq_status seq_quant_gptq_init(seq_quant_gptq *g, int64_t cols, void *alloc_ud) {
    if (!g) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_gptq_init: NULL argument");
    memset(g, 0, sizeof *g);
    if (cols < 1) return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_gptq_init: %lld columns", (long long)cols);
    g->xtx = (double *)SEQ_MALLOC(alloc_ud, (size_t)(cols * cols) * sizeof(double));
    if (!g->xtx) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_gptq_init: out of memory");
    memset(g->xtx, 0, (size_t)(cols * cols) * sizeof(double));
    g->cols = cols;
    g->alloc_ud = alloc_ud;
    return SEQ_OK;
}

SEQDEF void seq_quant_gptq_free(seq_quant_gptq *g) {
    if (g && g->xtx) SEQ_FREE(g->alloc_ud, g->xtx);
    if (g) g->xtx = NULL;
}

SEQDEF seq_status seq_quant_gptq_add_batch(seq_quant_gptq *g, const float *X, int64_t n) {
    int64_t s, i, j, c;
    if (!g || !g->xtx || (!X && n > 0) || n < 0)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_gptq_add_batch: NULL argument or negative count");
    c = g->cols;
    if (!seq_quant__all_finite(X, n * c)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_gptq_add_batch: non-finite input");
    for (s = 0; s < n; s++) { /* upper triangle, mirrored below once per batch */
        const float *x = X + s * c;
        for (i = 0; i < c; i++) {
            double xi = x[i];
            if (xi == 0.0) continue;
            for (j = i; j < c; j++) g->xtx[i * c + j] += xi * (double)x[j];
        }
    }
    for (i = 0; i < c; i++)
        for (j = 0; j < i; j++) g->xtx[i * c + j] = g->xtx[j * c + i];
    g->nsamples += n;
    return SEQ_OK;
}

/* In place: A (n, n) symmetric -> its lower Cholesky factor L (A = L L^T), upper part
 * zeroed. 0 when A is not (numerically) positive definite. */
static int seq_quant__cholesky(double *A, int64_t n) {
    int64_t i, j, k;
    for (j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0.0) || !isfinite(d)) return 0;
        d = sqrt(d);
        A[j * n + j] = d;
        for (i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / d;
        }
        for (i = 0; i < j; i++) A[i * n + j] = 0.0;
    }
    return 1;
}

/* U (n, n) upper with U^T U = (Hp + lambda I)^-1, via L = chol(Hp + lambda I),
 * A^-1 = L^-T L^-1 and a second Cholesky; L and Ai are (n, n) scratch. 0 on failure. */
static int seq_quant__inverse_cholesky_upper(const double *Hp, int64_t n, double lambda, double *L, double *Ai, float *U) {
    int64_t i, j, k;
    memcpy(L, Hp, (size_t)(n * n) * sizeof(double));
    for (i = 0; i < n; i++) L[i * n + i] += lambda;
    if (!seq_quant__cholesky(L, n)) return 0;
    for (j = 0; j < n; j++) { /* L^-1 by forward substitution, column j into Ai's column j */
        for (i = 0; i < n; i++) {
            double s = i == j ? 1.0 : 0.0;
            for (k = j; k < i; k++) s -= L[i * n + k] * Ai[k * n + j];
            Ai[i * n + j] = i < j ? 0.0 : s / L[i * n + i];
        }
    }
    for (i = 0; i < n; i++) /* A^-1 = (L^-1)^T L^-1, into L */
        for (j = 0; j <= i; j++) {
            double s = 0.0;
            for (k = i; k < n; k++) s += Ai[k * n + i] * Ai[k * n + j];
            L[i * n + j] = L[j * n + i] = s;
        }
    if (!seq_quant__cholesky(L, n)) return 0;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) U[i * n + j] = (float)L[j * n + i];
    return 1;
}

SEQDEF seq_status seq_quant_gptq_quantize(const seq_quant_gptq *g, const float *W, int64_t rows,
                                          const seq_quant_gptq_config *cfg, seq_quant_weight *out, float *W_dq) {
    int64_t n, i, j, r, i1, bs;
    double *H, *L, *Ai, lambda = 0.0;
    float *U, *Wk, *E;
    int64_t *perm;
    int lazy_groups, ok = 0, t;
    seq_status st;
    size_t nd, bytes;
    unsigned char *mem;
    if (!g || !g->xtx || !W || !cfg || !out) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_gptq_quantize: NULL argument");
    if (cfg->grid.stochastic || !(cfg->percdamp >= 0.0f) || cfg->block_size < 1 || cfg->max_damp_tries < 1)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_gptq_quantize: need deterministic rounding, percdamp >= 0, "
                                              "block_size >= 1 and max_damp_tries >= 1");
    if (g->nsamples < 1) return seq_set_error(SEQ_ERR_STATE, "seq_quant_gptq_quantize: no calibration data added");
    n = g->cols;
    st = seq_quant_weight_init(out, rows, n, &cfg->grid, g->alloc_ud);
    if (st != SEQ_OK) return st;
    if (!seq_quant__all_finite(W, rows * n)) {
        seq_quant_weight_free(out);
        return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_gptq_quantize: W has a non-finite value");
    }
    bs = cfg->block_size < n ? cfg->block_size : n;
    nd = (size_t)(n * n);
    bytes = 3 * nd * sizeof(double) + (size_t)n * sizeof(int64_t) + (nd + (size_t)(rows * n) + (size_t)(rows * bs)) * sizeof(float);
    mem = (unsigned char *)SEQ_MALLOC(g->alloc_ud, bytes);
    if (!mem) {
        seq_quant_weight_free(out);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_gptq_quantize: out of memory");
    }
    H = (double *)mem;
    L = H + nd;
    Ai = L + nd;
    perm = (int64_t *)(Ai + nd);
    U = (float *)(perm + n);
    Wk = U + nd;
    E = Wk + rows * n;

    /* Grids come from the whole weight up front, except groups in natural order: GPTQ
     * fits those when it reaches them, on weights that already absorbed earlier errors. */
    lazy_groups = cfg->grid.gran == SEQ_QUANT_PER_GROUP && !cfg->act_order;
    if (!lazy_groups) st = seq_quant__fit_grids(out, W, &cfg->grid);

    /* H = 2 X^T X / N (into L for now); an input that was always 0 gets H_ii = 1 and
     * weights 0 below (they never mattered), which keeps H invertible */
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) L[i * n + j] = 2.0 * g->xtx[i * n + j] / (double)g->nsamples;
    for (i = 0; i < n; i++) {
        if (L[i * n + i] == 0.0) L[i * n + i] = 1.0;
        lambda += L[i * n + i] / (double)n;
    }
    lambda *= cfg->percdamp;
    /* act-order: the columns with the largest Hessian diagonal first, while many columns
     * remain to absorb their error (insertion sort: stable, ties keep their order) */
    for (i = 0; i < n; i++) {
        for (j = i; cfg->act_order && j > 0 && L[perm[j - 1] * n + perm[j - 1]] < L[i * n + i]; j--) perm[j] = perm[j - 1];
        perm[j] = i;
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) H[i * n + j] = L[perm[i] * n + perm[j]];
    for (r = 0; r < rows; r++)
        for (j = 0; j < n; j++) Wk[r * n + j] = g->xtx[perm[j] * n + perm[j]] == 0.0 ? 0.0f : W[r * n + perm[j]];

    /* damping that escalates: an indefinite H (too few samples, collinear inputs) gets
     * 10x more until both Cholesky factorizations succeed */
    for (t = 0; st == SEQ_OK && t < cfg->max_damp_tries && !ok; t++) {
        ok = seq_quant__inverse_cholesky_upper(H, n, lambda, L, Ai, U);
        lambda = lambda > 0.0 ? 10.0 * lambda : 1e-6 * (1.0 + fabs(H[0]));
    }
    if (st == SEQ_OK && !ok)
        st = seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_gptq_quantize: H + lambda I is not positive definite after %d "
                                            "damping steps", cfg->max_damp_tries);

    /* Column j: quantize, then spread its error e = (w - q) / U_jj over the later columns
     * of the block right away (w_c -= e U_jc) and over the columns after the block in one
     * GEMM per block (the lazy batch update). Wk keeps the dequantized values. */
    for (i1 = 0; st == SEQ_OK && i1 < n; i1 += bs) {
        int64_t i2 = i1 + bs < n ? i1 + bs : n, c;
        for (j = i1; j < i2 && st == SEQ_OK; j++) {
            int64_t oj = perm[j];
            float d = U[j * n + j];
            for (r = 0; lazy_groups && oj % out->group_size == 0 && r < rows && st == SEQ_OK; r++)
                st = seq_quant_grid_search(seq_quant_weight_grid(out, r, oj), Wk + r * n + j, out->group_size, &cfg->grid,
                                           g->alloc_ud);
            for (r = 0; r < rows; r++) {
                const seq_quant_grid *gr = seq_quant_weight_grid(out, r, oj);
                float w = Wk[r * n + j], e;
                int32_t q = seq_quant_grid_q(gr, w);
                out->codes[r * n + oj] = (uint8_t)(q - gr->qmin);
                Wk[r * n + j] = seq_quant_grid_dq(gr, q);
                e = (w - Wk[r * n + j]) / d;
                E[r * bs + (j - i1)] = e;
                for (c = j + 1; c < i2; c++) Wk[r * n + c] -= e * U[j * n + c];
            }
        }
        if (i2 < n) seq_sgemm(0, 0, rows, n - i2, i2 - i1, -1.0f, E, bs, U + i1 * n + i2, n, 1.0f, Wk + i2, n);
    }
    if (st == SEQ_OK && W_dq)
        for (r = 0; r < rows; r++)
            for (j = 0; j < n; j++) W_dq[r * n + perm[j]] = Wk[r * n + j];
    SEQ_FREE(g->alloc_ud, mem);
    if (st != SEQ_OK) seq_quant_weight_free(out);
    return st;
}

SEQDEF double seq_quant_gptq_error(const seq_quant_gptq *g, const float *W, const float *Wq, int64_t rows) {
    int64_t r, i, j, n = g->cols;
    double total = 0.0;
    for (r = 0; r < rows; r++)
        for (i = 0; i < n; i++) {
            double di = (double)W[r * n + i] - (double)Wq[r * n + i], s = 0.0;
            if (di == 0.0) continue;
            for (j = 0; j < n; j++) s += g->xtx[i * n + j] * ((double)W[r * n + j] - (double)Wq[r * n + j]);
            total += di * s;
        }
    return g->nsamples > 0 ? total / (double)g->nsamples : 0.0;
}

/* ===================================================================================
 * 10  HAWQ (implementation)
 * =================================================================================== */

/* g (w->numel) = d loss / d w at w's current values. */
static seq_status seq_quant__grad_of(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w, float *g) {
    seq_tensor *loss;
    seq_ctx_reset(ctx);
    loss = build(ctx, ud);
    if (!loss || seq_ctx_status(ctx) != SEQ_OK)
        return seq_set_error(seq_ctx_status(ctx) != SEQ_OK ? seq_ctx_status(ctx) : SEQ_ERR_INVALID,
                             "seq_quant_hvp: building the loss failed: %s", seq_ctx_error(ctx));
    seq_params_zero_grad(P);
    if (seq_backward(ctx, loss) != SEQ_OK) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hvp: backward failed: %s", seq_ctx_error(ctx));
    memcpy(g, w->grad, (size_t)w->numel * sizeof(float));
    return SEQ_OK;
}

static double seq_quant__dot(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

SEQDEF seq_status seq_quant_hvp(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                const float *v, float eps, float *hv) {
    int64_t n, i;
    double vnorm, h;
    float *w0, *gp;
    seq_status st;
    if (!ctx || !P || !build || !w || !v || !hv || !w->grad || !w->data)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hvp: NULL argument, or w is not an allocated parameter");
    if (!(eps > 0.0f) || !isfinite(eps)) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hvp: eps must be positive");
    n = w->numel;
    vnorm = sqrt(seq_quant__dot(v, v, n));
    if (!isfinite(vnorm)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_hvp: v is not finite");
    if (vnorm == 0.0) {
        memset(hv, 0, (size_t)n * sizeof(float));
        return SEQ_OK;
    }
    h = sqrt(seq_quant__dot(w->data, w->data, n));
    h = (double)eps * (h > 1.0 ? h : 1.0) / vnorm;
    w0 = (float *)SEQ_MALLOC(P->alloc_ud, 2 * (size_t)n * sizeof(float));
    if (!w0) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hvp: out of memory");
    gp = w0 + n;
    memcpy(w0, w->data, (size_t)n * sizeof(float));
    for (i = 0; i < n; i++) w->data[i] = (float)(w0[i] + h * v[i]);
    st = seq_quant__grad_of(ctx, P, build, ud, w, gp);
    for (i = 0; i < n; i++) w->data[i] = (float)(w0[i] - h * v[i]);
    if (st == SEQ_OK) st = seq_quant__grad_of(ctx, P, build, ud, w, hv);
    memcpy(w->data, w0, (size_t)n * sizeof(float));
    seq_params_zero_grad(P);
    seq_ctx_reset(ctx);
    for (i = 0; st == SEQ_OK && i < n; i++) hv[i] = (float)(((double)gp[i] - (double)hv[i]) / (2.0 * h));
    SEQ_FREE(P->alloc_ud, w0);
    return st;
}

SEQDEF seq_status seq_quant_hawq_trace(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                       int nsamples, float eps, seq_rng *rng, double *trace) {
    int64_t n;
    int s;
    float *v;
    double acc = 0.0;
    seq_status st = SEQ_OK;
    if (!w || !rng || !trace || nsamples < 1 || !P)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hawq_trace: NULL argument or nsamples < 1");
    n = w->numel;
    v = (float *)SEQ_MALLOC(P->alloc_ud, 2 * (size_t)n * sizeof(float));
    if (!v) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hawq_trace: out of memory");
    for (s = 0; s < nsamples && st == SEQ_OK; s++) {
        seq_quant__rademacher(v, n, rng);
        st = seq_quant_hvp(ctx, P, build, ud, w, v, eps, v + n);
        acc += seq_quant__dot(v, v + n, n);
    }
    *trace = acc / (double)nsamples;
    SEQ_FREE(P->alloc_ud, v);
    return st;
}

SEQDEF seq_status seq_quant_hawq_top_eigen(seq_ctx *ctx, seq_params *P, seq_loss_fn build, void *ud, seq_tensor *w,
                                           int iters, float tol, float eps, seq_rng *rng, double *lambda) {
    int64_t n, i;
    int it;
    float *v, *hv;
    double norm, prev = 0.0;
    seq_status st = SEQ_OK;
    if (!w || !rng || !lambda || iters < 1 || !P)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hawq_top_eigen: NULL argument or iters < 1");
    n = w->numel;
    v = (float *)SEQ_MALLOC(P->alloc_ud, 2 * (size_t)n * sizeof(float));
    if (!v) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hawq_top_eigen: out of memory");
    hv = v + n;
    for (i = 0; i < n; i++) v[i] = (float)seq_rng_normal(rng, 0.0, 1.0);
    norm = sqrt(seq_quant__dot(v, v, n));
    for (i = 0; i < n; i++) v[i] = (float)(v[i] / norm);
    *lambda = 0.0;
    for (it = 0; it < iters; it++) {
        st = seq_quant_hvp(ctx, P, build, ud, w, v, eps, hv);
        if (st != SEQ_OK) break;
        *lambda = seq_quant__dot(v, hv, n); /* the Rayleigh quotient of the unit vector v */
        norm = sqrt(seq_quant__dot(hv, hv, n));
        if (norm == 0.0 || (it > 0 && fabs(*lambda - prev) <= (double)tol * fabs(*lambda))) break;
        prev = *lambda;
        for (i = 0; i < n; i++) v[i] = (float)(hv[i] / norm);
    }
    SEQ_FREE(P->alloc_ud, v);
    return st;
}

/* One point of the Pareto frontier after some layers: total bits, objective, and how
 * it was reached (index of the previous layer's point, the choice made here). */
typedef struct seq_quant__alloc_pt {
    int64_t size;
    double obj;
    int64_t parent;
    int pick;
} seq_quant__alloc_pt;

static int seq_quant__cmp_alloc_pt(const void *a, const void *b) {
    const seq_quant__alloc_pt *x = (const seq_quant__alloc_pt *)a, *y = (const seq_quant__alloc_pt *)b;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return (x->obj > y->obj) - (x->obj < y->obj);
}

SEQDEF seq_status seq_quant_hawq_allocate(int nlayers, const int64_t *numel, const double *sensitivity, int nbits,
                                          const int *bits, const double *sq_err, int64_t budget_bits, void *alloc_ud,
                                          int *choice, double *objective) {
    seq_quant__alloc_pt *pts = NULL, *cand = NULL, *grown;
    int64_t npts = 1, prev_begin = 0, prev_end = 1, best, ncand, i, cap = 1;
    int l, c;
    seq_status st = SEQ_OK;
    if (nlayers < 1 || nbits < 1 || !numel || !sensitivity || !bits || !sq_err || !choice)
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hawq_allocate: NULL argument or no layers/choices");
    for (l = 0; l < nlayers; l++) {
        if (numel[l] < 1 || !isfinite(sensitivity[l]))
            return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hawq_allocate: layer %d: numel %lld, sensitivity %g", l,
                                 (long long)numel[l], sensitivity[l]);
        for (c = 0; c < nbits; c++)
            if (!isfinite(sq_err[l * nbits + c]) || bits[c] < 1)
                return seq_set_error(SEQ_ERR_INVALID, "seq_quant_hawq_allocate: layer %d choice %d: bits %d, error %g", l, c,
                                     bits[c], sq_err[l * nbits + c]);
    }
    pts = (seq_quant__alloc_pt *)SEQ_MALLOC(alloc_ud, sizeof *pts);
    if (!pts) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hawq_allocate: out of memory");
    pts[0].size = 0;
    pts[0].obj = 0.0;
    pts[0].parent = -1;
    pts[0].pick = -1;
    for (l = 0; l < nlayers && st == SEQ_OK; l++) {
        ncand = 0;
        cand = (seq_quant__alloc_pt *)SEQ_MALLOC(alloc_ud, (size_t)((prev_end - prev_begin) * nbits) * sizeof *cand);
        if (!cand) {
            st = seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hawq_allocate: out of memory");
            break;
        }
        for (i = prev_begin; i < prev_end; i++)
            for (c = 0; c < nbits; c++) {
                seq_quant__alloc_pt p;
                p.size = pts[i].size + numel[l] * bits[c];
                p.obj = pts[i].obj + sensitivity[l] * sq_err[l * nbits + c];
                p.parent = i;
                p.pick = c;
                if (p.size <= budget_bits) cand[ncand++] = p;
            }
        if (ncand == 0) {
            st = seq_set_error(SEQ_ERR_RANGE, "seq_quant_hawq_allocate: %lld bits cannot hold the layers at the smallest width",
                               (long long)budget_bits);
            break;
        }
        /* keep a point only when it beats every smaller one: the frontier */
        qsort(cand, (size_t)ncand, sizeof *cand, seq_quant__cmp_alloc_pt);
        if (npts + ncand > cap) {
            cap = 2 * (npts + ncand);
            grown = (seq_quant__alloc_pt *)SEQ_REALLOC(alloc_ud, pts, (size_t)cap * sizeof *pts);
            if (!grown) {
                st = seq_set_error(SEQ_ERR_NOMEM, "seq_quant_hawq_allocate: out of memory");
                break;
            }
            pts = grown;
        }
        prev_begin = npts;
        for (i = 0; i < ncand; i++)
            if (npts == prev_begin || cand[i].obj < pts[npts - 1].obj) pts[npts++] = cand[i];
        prev_end = npts;
        SEQ_FREE(alloc_ud, cand);
        cand = NULL;
    }
    if (cand) SEQ_FREE(alloc_ud, cand);
    if (st == SEQ_OK) {
        best = prev_end - 1; /* objectives fall along the frontier: the largest fitting size wins */
        if (objective) *objective = pts[best].obj;
        for (l = nlayers - 1; l >= 0; l--) {
            choice[l] = pts[best].pick;
            best = pts[best].parent;
        }
    }
    SEQ_FREE(alloc_ud, pts);
    return st;
}

/* ===================================================================================
 * 11  QTIP (implementation)
 * =================================================================================== */

SEQDEF float seq_quant_qtip_1mad(uint32_t state) {
    uint32_t x = state * 34038481u + 76625530u; /* wraps mod 2^32 */
    int32_t s = (int32_t)((x & 255u) + ((x >> 8) & 255u) + ((x >> 16) & 255u) + (x >> 24));
    return (float)(s - 510) / 147.800537109375f;
}

/* Stream length in bits: plain streams store the first state whole. */
static int64_t seq_quant__qtip_nbits(int64_t T, int k, int tail_biting) {
    return tail_biting ? T * k : SEQ_QUANT_QTIP_L + (T - 1) * k;
}

SEQDEF size_t seq_quant_qtip_bytes(int64_t T, int k, int tail_biting) {
    return T < 1 ? 0 : (size_t)((seq_quant__qtip_nbits(T, k, tail_biting) + 7) / 8);
}

/* Bits [pos, pos + count) of the stream (nbits long, wrapping), most significant first. */
static uint32_t seq_quant__qtip_read(const uint8_t *bits, int64_t nbits, int64_t pos, int count) {
    uint32_t v = 0;
    int i;
    for (i = 0; i < count; i++) {
        int64_t p = (pos + i) % nbits;
        v = (v << 1) | (uint32_t)((bits[p >> 3] >> (7 - (p & 7))) & 1);
    }
    return v;
}

static void seq_quant__qtip_write(uint8_t *bits, int64_t nbits, int64_t pos, int count, uint32_t v) {
    int i;
    for (i = 0; i < count; i++) {
        int64_t p = (pos + i) % nbits;
        uint8_t m = (uint8_t)(1u << (7 - (p & 7)));
        if ((v >> (count - 1 - i)) & 1u) bits[p >> 3] |= m;
        else bits[p >> 3] &= (uint8_t)~m;
    }
}

SEQDEF void seq_quant_qtip_decode(const uint8_t *bits, int64_t T, int k, int tail_biting, float scale, float *out) {
    int64_t nbits = seq_quant__qtip_nbits(T, k, tail_biting), t;
    uint32_t s = seq_quant__qtip_read(bits, nbits, 0, SEQ_QUANT_QTIP_L), mask = (1u << SEQ_QUANT_QTIP_L) - 1u;
    for (t = 0; t < T; t++) {
        if (t > 0) s = ((s << k) | seq_quant__qtip_read(bits, nbits, t * k + SEQ_QUANT_QTIP_L - k, k)) & mask;
        out[t] = scale * seq_quant_qtip_1mad(s);
    }
}

/* Scratch of one Viterbi run: the code of every state, two cost rows, the best
 * predecessor cost of each of the 2^(L-k) overlap classes, and per step the best
 * predecessor's top k bits for each class. */
typedef struct seq_quant__trellis {
    float *code, *cost, *next, *m;
    uint8_t *back;  /* (T, 2^(L-k)) */
    uint16_t *path; /* (T) */
    float *xrot;    /* (T) */
} seq_quant__trellis;

/* The state sequence that minimizes sum_t (x_t - code(s_t))^2 among shift-register paths
 * s_t = (s_{t-1} << k | u_t) mod 2^L, into tr->path. overlap >= 0 restricts the paths to
 * those whose first state's top L-k bits and last state's low L-k bits both equal it (a
 * tail-biting stream). The predecessors of (a << k | u) are (a | h << (L-k)) for every h,
 * independent of u: one min per class a serves its 2^k successors, O(2^L) per step, and
 * the min runs over 2^k contiguous slices of the cost row (it vectorizes). */
static void seq_quant__viterbi(seq_quant__trellis *tr, const float *x, int64_t T, int k, int32_t overlap) {
    const int64_t S = (int64_t)1 << SEQ_QUANT_QTIP_L, A = S >> k, K = (int64_t)1 << k;
    const int sh = SEQ_QUANT_QTIP_L - k;
    int64_t s, a, h, t, best = -1;
    float *tmp;
    for (s = 0; s < S; s++) {
        float d = x[0] - tr->code[s];
        tr->cost[s] = overlap < 0 || (s >> k) == overlap ? d * d : INFINITY;
    }
    for (t = 1; t < T; t++) {
        uint8_t *back = tr->back + t * A;
        for (a = 0; a < A; a++) {
            tr->m[a] = tr->cost[a];
            back[a] = 0;
        }
        for (h = 1; h < K; h++) {
            const float *c = tr->cost + h * A;
            for (a = 0; a < A; a++) {
                int better = c[a] < tr->m[a];
                tr->m[a] = better ? c[a] : tr->m[a];
                back[a] = better ? (uint8_t)h : back[a];
            }
        }
        for (s = 0; s < S; s++) {
            float d = x[t] - tr->code[s];
            tr->next[s] = tr->m[s >> k] + d * d;
        }
        tmp = tr->cost;
        tr->cost = tr->next;
        tr->next = tmp;
    }
    for (s = 0; s < S; s++)
        if ((overlap < 0 || (s & (A - 1)) == overlap) && (best < 0 || tr->cost[s] < tr->cost[best])) best = s;
    tr->path[T - 1] = (uint16_t)best;
    for (t = T - 1; t > 0; t--) {
        a = tr->path[t] >> k;
        tr->path[t - 1] = (uint16_t)(a | ((int64_t)tr->back[t * A + a] << sh));
    }
}

static void seq_quant__trellis_free(seq_quant__trellis *tr, void *alloc_ud) {
    if (tr->code) SEQ_FREE(alloc_ud, tr->code);
    memset(tr, 0, sizeof *tr);
}

/* One block for every buffer, sized for sequences of T at k bits. */
static seq_status seq_quant__trellis_init(seq_quant__trellis *tr, int64_t T, int k, void *alloc_ud) {
    const int64_t S = (int64_t)1 << SEQ_QUANT_QTIP_L, A = S >> k;
    int64_t s;
    size_t bytes = (3 * (size_t)S + (size_t)(A + T)) * sizeof(float) + (size_t)T * sizeof(uint16_t) + (size_t)(T * A);
    memset(tr, 0, sizeof *tr);
    tr->code = (float *)SEQ_MALLOC(alloc_ud, bytes);
    if (!tr->code) return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_qtip_encode: out of memory");
    tr->cost = tr->code + S;
    tr->next = tr->cost + S;
    tr->m = tr->next + S;
    tr->xrot = tr->m + A;
    tr->path = (uint16_t *)(tr->xrot + T);
    tr->back = (uint8_t *)(tr->path + T);
    for (s = 0; s < S; s++) tr->code[s] = seq_quant_qtip_1mad((uint32_t)s);
    return SEQ_OK;
}

static seq_status seq_quant__qtip_check(const char *fn, int64_t T, int k, int tail_biting) {
    if (k < 1 || k > 8 || T < 1)
        return seq_set_error(SEQ_ERR_INVALID, "%s: need 1..8 bits per weight and T >= 1 (k %d, T %lld)", fn, k, (long long)T);
    if (tail_biting && T * k < SEQ_QUANT_QTIP_L)
        return seq_set_error(SEQ_ERR_SHAPE, "%s: a tail-biting stream of %lld bits is shorter than one state (%d bits)", fn,
                             (long long)(T * k), SEQ_QUANT_QTIP_L);
    return SEQ_OK;
}

/* Viterbi for one sequence with tr's scratch, written to bits. */
static void seq_quant__qtip_encode_with(seq_quant__trellis *tr, const float *x, int64_t T, int k, int tail_biting,
                                        uint8_t *bits) {
    int64_t nbits = seq_quant__qtip_nbits(T, k, tail_biting), t, half = T / 2;
    int32_t overlap = -1;
    if (tail_biting) { /* original position 0 sits at T - half of the rotated sequence */
        for (t = 0; t < T; t++) tr->xrot[t] = x[(t + half) % T];
        seq_quant__viterbi(tr, tr->xrot, T, k, -1);
        overlap = (int32_t)(tr->path[(T - half) % T] >> k);
    }
    seq_quant__viterbi(tr, x, T, k, overlap);
    memset(bits, 0, seq_quant_qtip_bytes(T, k, tail_biting));
    seq_quant__qtip_write(bits, nbits, 0, SEQ_QUANT_QTIP_L, tr->path[0]);
    for (t = 1; t < T; t++)
        seq_quant__qtip_write(bits, nbits, t * k + SEQ_QUANT_QTIP_L - k, k, tr->path[t] & ((1u << k) - 1u));
}

SEQDEF seq_status seq_quant_qtip_encode(const float *x, int64_t T, int k, int tail_biting, uint8_t *bits,
                                        void *alloc_ud) {
    seq_quant__trellis tr;
    seq_status st = seq_quant__qtip_check("seq_quant_qtip_encode", T, k, tail_biting);
    if (st != SEQ_OK) return st;
    if (!x || !bits) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_encode: NULL argument");
    if (!seq_quant__all_finite(x, T)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_qtip_encode: non-finite value");
    st = seq_quant__trellis_init(&tr, T, k, alloc_ud);
    if (st != SEQ_OK) return st;
    seq_quant__qtip_encode_with(&tr, x, T, k, tail_biting, bits);
    seq_quant__trellis_free(&tr, alloc_ud);
    return SEQ_OK;
}

SEQDEF void seq_quant_qtip_free(seq_quant_qtip *q) {
    if (!q) return;
    if (q->bits) SEQ_FREE(q->alloc_ud, q->bits);
    q->bits = NULL;
    seq_quant_incoherence_free(&q->ip);
}

SEQDEF seq_status seq_quant_qtip_quantize(seq_quant_qtip *q, const float *W, int64_t rows, int64_t cols, int k,
                                          int64_t seq_len, int tail_biting, seq_rng *rng, void *alloc_ud) {
    seq_quant__trellis tr;
    float *Wt;
    int64_t i, nseq;
    double ss = 0.0;
    seq_status st;
    if (!q || !W || !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_quantize: NULL argument");
    memset(q, 0, sizeof *q);
    st = seq_quant__qtip_check("seq_quant_qtip_quantize", seq_len, k, tail_biting);
    if (st != SEQ_OK) return st;
    if (rows < 1 || cols < 1 || cols % seq_len != 0)
        return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_qtip_quantize: seq_len %lld does not divide %lld columns",
                             (long long)seq_len, (long long)cols);
    if (!seq_quant__all_finite(W, rows * cols)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_qtip_quantize: non-finite W");
    q->rows = rows;
    q->cols = cols;
    q->seq_len = seq_len;
    q->k = k;
    q->tail_biting = tail_biting;
    q->alloc_ud = alloc_ud;
    q->seq_bytes = seq_quant_qtip_bytes(seq_len, k, tail_biting);
    nseq = rows * cols / seq_len;
    st = seq_quant_incoherence_init(&q->ip, rows, cols, rng, alloc_ud);
    if (st != SEQ_OK) return st;
    q->bits = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)nseq * q->seq_bytes);
    Wt = (float *)SEQ_MALLOC(alloc_ud, (size_t)(rows * cols) * sizeof(float));
    st = q->bits && Wt ? seq_quant__trellis_init(&tr, seq_len, k, alloc_ud)
                       : seq_set_error(SEQ_ERR_NOMEM, "seq_quant_qtip_quantize: out of memory");
    if (st == SEQ_OK) {
        memcpy(Wt, W, (size_t)(rows * cols) * sizeof(float));
        seq_quant_incoherence_weight(&q->ip, Wt, 0);
        for (i = 0; i < rows * cols; i++) ss += (double)Wt[i] * (double)Wt[i];
        q->scale = ss > 0.0 ? (float)sqrt(ss / (double)(rows * cols)) : 1.0f; /* the code is about N(0, 1) */
        for (i = 0; i < rows * cols; i++) Wt[i] /= q->scale;
        for (i = 0; i < nseq; i++)
            seq_quant__qtip_encode_with(&tr, Wt + i * seq_len, seq_len, k, tail_biting, q->bits + (size_t)i * q->seq_bytes);
        seq_quant__trellis_free(&tr, alloc_ud);
    }
    if (Wt) SEQ_FREE(alloc_ud, Wt);
    if (st != SEQ_OK) seq_quant_qtip_free(q);
    return st;
}

SEQDEF seq_status seq_quant_qtip_dequantize(const seq_quant_qtip *q, float *W) {
    int64_t i, nseq;
    if (!q || !q->bits || !W) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_dequantize: NULL argument");
    nseq = q->rows * q->cols / q->seq_len;
    for (i = 0; i < nseq; i++)
        seq_quant_qtip_decode(q->bits + (size_t)i * q->seq_bytes, q->seq_len, q->k, q->tail_biting, q->scale,
                              W + i * q->seq_len);
    return seq_quant_incoherence_weight(&q->ip, W, 1);
}

/* ===================================================================================
 * 12  QAT (implementation)
 * =================================================================================== */

typedef struct seq_quant__fake {
    int32_t qmin, qmax;
    int64_t per_scale; /* elements sharing one scale */
    float grad_scale;
} seq_quant__fake;

static seq_quant_grid seq_quant__fake_grid(const seq_quant__fake *f, float scale) {
    seq_quant_grid g;
    g.scale = scale;
    g.zero = 0;
    g.qmin = f->qmin;
    g.qmax = f->qmax;
    return g;
}

static void seq_quant__fake_backward(seq_ctx *ctx, seq_tensor *out, seq_tensor *const *in, void *data) {
    const seq_quant__fake *f = (const seq_quant__fake *)data;
    float *gx = seq_op_grad(ctx, in[0]), *gs = seq_op_grad(ctx, in[1]);
    int64_t i;
    for (i = 0; i < out->numel; i++) {
        int64_t c = in[1]->numel == 1 ? 0 : i / f->per_scale;
        seq_quant_grid g = seq_quant__fake_grid(f, in[1]->data[c]);
        float dy = out->grad[i], v = in[0]->data[i] / g.scale, ds;
        if (v < (float)f->qmin) ds = (float)f->qmin;
        else if (v > (float)f->qmax) ds = (float)f->qmax;
        else {
            ds = (float)seq_quant_grid_q(&g, in[0]->data[i]) - v;
            if (gx) gx[i] += dy; /* straight through, inside the range only */
        }
        if (gs) gs[c] += dy * ds * f->grad_scale;
    }
}

SEQDEF seq_tensor *seq_quant_fake_quant(seq_ctx *ctx, seq_tensor *x, seq_tensor *s, int bits, int is_unsigned,
                                        float grad_scale) {
    static const char *op = "seq_quant_fake_quant";
    seq_tensor *in[2], *y;
    seq_quant__fake *f;
    int64_t i;
    in[0] = x;
    in[1] = s;
    if (!ctx || seq_ctx_status(ctx) != SEQ_OK) return NULL;
    if (!x || !s || x->dtype != SEQ_F32 || s->dtype != SEQ_F32 || bits < 2 || bits > 8) {
        seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "need f32 x and scale and 2..8 bits (bits %d)", bits);
        return NULL;
    }
    if (s->numel != 1 && (x->ndim < 1 || s->numel != x->shape[0])) {
        seq_ctx_fail(ctx, SEQ_ERR_SHAPE, op, "%lld scales: need 1 or one per row (%lld)", (long long)s->numel,
                     (long long)(x->ndim ? x->shape[0] : 0));
        return NULL;
    }
    for (i = 0; i < s->numel; i++)
        if (!(s->data[i] > 0.0f) || !isfinite(s->data[i])) {
            seq_ctx_fail(ctx, SEQ_ERR_INVALID, op, "scale[%lld] = %g is not positive and finite", (long long)i,
                         (double)s->data[i]);
            return NULL;
        }
    y = seq_op_output(ctx, op, x->ndim, x->shape, 2, in);
    f = (seq_quant__fake *)seq_ctx_alloc(ctx, sizeof *f);
    if (!y || !f) return NULL;
    f->qmax = is_unsigned ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
    f->qmin = is_unsigned ? 0 : -f->qmax;
    f->per_scale = x->numel / s->numel;
    f->grad_scale = grad_scale > 0.0f ? grad_scale : (float)(1.0 / sqrt((double)f->per_scale * (double)f->qmax));
    for (i = 0; i < x->numel; i++) {
        seq_quant_grid g = seq_quant__fake_grid(f, s->data[s->numel == 1 ? 0 : i / f->per_scale]);
        y->data[i] = seq_quant_grid_dq(&g, seq_quant_grid_q(&g, x->data[i]));
    }
    seq_op_record(ctx, op, y, seq_quant__fake_backward, 2, in, f);
    return y;
}

SEQDEF float seq_quant_lsq_scale_init(const float *x, int64_t n, int bits, int is_unsigned) {
    double m = 0.0;
    int64_t i;
    int qmax = is_unsigned ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
    for (i = 0; i < n; i++) m += fabs((double)x[i]);
    m = n > 0 ? m / (double)n : 0.0;
    return m > 0.0 ? (float)(2.0 * m / sqrt((double)qmax)) : 1.0f;
}

#endif /* SEQ_QUANT_IMPLEMENTATION_DONE */
#endif /* SEQ_QUANT_IMPLEMENTATION */
