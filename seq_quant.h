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

/* ===================================================================================
 * 8  incoherence processing: fast Walsh-Hadamard transform
 * =================================================================================== */

/* ===================================================================================
 * 9  GPTQ
 * =================================================================================== */

/* ===================================================================================
 * 10  HAWQ: Hessian trace and top eigenvalue, bit allocation
 * =================================================================================== */

/* ===================================================================================
 * 11  QTIP: bitshift trellis codes
 * =================================================================================== */

/* ===================================================================================
 * 12  QAT: fake quantization with the straight-through estimator
 * =================================================================================== */

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

/* ===================================================================================
 * 8  fast Walsh-Hadamard transform (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 9  GPTQ (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 10  HAWQ (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 11  QTIP (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 12  QAT (implementation)
 * =================================================================================== */

#endif /* SEQ_QUANT_IMPLEMENTATION_DONE */
#endif /* SEQ_QUANT_IMPLEMENTATION */
