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
 *    13  quantized layers: Linear, LSTM / GRU / Elman and Mamba steps
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

/* Whole int8/int4 tensors (rows, n): one grid per group of `group` consecutive values of a
 * row (group = n: per output channel; 0: one grid for the whole tensor). Codes are packed
 * row-major over the whole tensor: 8-bit codes one per byte (two's complement when
 * symmetric, 0..255 otherwise); 4-bit codes two per byte, value 2i in the low nibble of
 * byte i (two's complement -7..7 when symmetric, 0..15 otherwise). */
typedef struct seq_quant_int_config {
    int bits;      /* 8 or 4 */
    int symmetric; /* 1: zero point 0, q in [-qmax, qmax] */
    int64_t group; /* values per grid along a row; divides n; 0 = per tensor */
} seq_quant_int_config;

SEQDEF size_t seq_quant_int_code_bytes(seq_quant_int_config c, int64_t rows, int64_t n);
SEQDEF int64_t seq_quant_int_grid_count(seq_quant_int_config c, int64_t rows, int64_t n); /* -1: bad config */
/* Fits each group's min-max grid and rounds every value. Bad config or shapes:
 * SEQ_ERR_INVALID; a NaN or Inf weight: SEQ_ERR_NUMERIC (nothing is written). */
SEQDEF seq_status seq_quant_int_quantize(seq_quant_int_config c, const float *w, int64_t rows, int64_t n,
                                         uint8_t *codes, seq_quant_grid *grids);
SEQDEF seq_status seq_quant_int_dequantize(seq_quant_int_config c, const uint8_t *codes,
                                           const seq_quant_grid *grids, int64_t rows, int64_t n, float *w);

/* ===================================================================================
 * 2  format traits: one table row per block format
 * =================================================================================== */

/* Every storage format, one row of a const table each. A row of n values is n / block
 * blocks of block_bytes bytes; quantizing needs n to be a multiple of the block (there is
 * no padded path: pad the row yourself, the kernels need whole blocks anyway). */
typedef enum seq_quant_type {
    SEQ_QUANT_F32, SEQ_QUANT_F16, SEQ_QUANT_BF16,
    SEQ_QUANT_Q8_0, SEQ_QUANT_Q8_1, SEQ_QUANT_Q4_0, SEQ_QUANT_Q4_1, SEQ_QUANT_Q5_0, /* ggml, 32 per block */
    SEQ_QUANT_Q4_K, SEQ_QUANT_Q6_K, SEQ_QUANT_Q8_K,                                  /* ggml, 256 per block */
    SEQ_QUANT_IQ4_NL, SEQ_QUANT_MXFP4,                                               /* ggml, 32 per block */
    SEQ_QUANT_NF4,                                                  /* QLoRA, 64 per block */
    SEQ_QUANT_FP8_E4M3, SEQ_QUANT_FP8_E5M2,                         /* OCP FP8, saturating */
    SEQ_QUANT_MXFP8_E4M3, SEQ_QUANT_MXFP8_E5M2, SEQ_QUANT_MXFP6_E2M3, SEQ_QUANT_MXFP6_E3M2,
    SEQ_QUANT_MXINT8,                                               /* OCP MX, 32 per block */
    SEQ_QUANT_TYPE_COUNT
} seq_quant_type;

/* src holds n values (a whole number of blocks); dst receives n / block blocks. */
typedef void (*seq_quant_quantize_fn)(const float *src, void *dst, int64_t n);
typedef void (*seq_quant_dequantize_fn)(const void *src, float *dst, int64_t n);
/* Dot product of n values: w in the row's format, a in its act_type. */
typedef float (*seq_quant_vec_dot_fn)(int64_t n, const void *w, const void *a);

typedef struct seq_quant_traits {
    const char *name;                   /* "q4_0", ... as ggml names them */
    int64_t block;                      /* values per block */
    size_t block_bytes;
    int ggml_type;                      /* ggml_type id, -1 where ggml has none */
    int finite_only;                    /* NaN/Inf input is refused (SEQ_ERR_NUMERIC) */
    seq_quant_quantize_fn quantize;     /* the reference quantizer (bytes as ggml writes them) */
    seq_quant_dequantize_fn dequantize;
    seq_quant_type act_type;            /* what activations are quantized to for vec_dot */
    seq_quant_vec_dot_fn vec_dot;       /* fastest path of this build; NULL: no kernel */
    seq_quant_vec_dot_fn vec_dot_ref;   /* its scalar reference twin */
} seq_quant_traits;

SEQDEF const seq_quant_traits *seq_quant_type_traits(seq_quant_type t); /* NULL out of range */
SEQDEF const char *seq_quant_type_name(seq_quant_type t);             /* "?" out of range */
/* The type whose ggml_type id is g, SEQ_QUANT_TYPE_COUNT when none. */
SEQDEF seq_quant_type seq_quant_type_from_ggml(int g);
/* Bytes of a row of n values; 0 when n is not a positive multiple of the block. */
SEQDEF size_t seq_quant_row_size(seq_quant_type t, int64_t n);
/* rows x n floats <-> rows quantized rows. n not a multiple of the block, bad type or
 * NULL: SEQ_ERR_INVALID naming the block size; NaN/Inf into a finite_only format:
 * SEQ_ERR_NUMERIC naming the position (nothing is written). */
SEQDEF seq_status seq_quant_quantize(seq_quant_type t, const float *src, void *dst, int64_t rows, int64_t n);
SEQDEF seq_status seq_quant_dequantize(seq_quant_type t, const void *src, float *dst, int64_t rows, int64_t n);

/* ===================================================================================
 * 3  ggml blocks: Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q6_K IQ4_NL
 * =================================================================================== */

/* Block layouts, little-endian, exactly as ggml-common.h defines them (f16 scales as
 * uint16 bits; 4-bit values j and j+16 of a 32-block share byte j, low nibble first):
 *   q8_0   {f16 d; i8 qs[32]}                         x = d*q
 *   q8_1   {f16 d; f16 s; i8 qs[32]}                  x = d*q, s = d*sum(q)
 *   q4_0   {f16 d; u8 qs[16]}                         x = d*(q-8)
 *   q4_1   {f16 d; f16 m; u8 qs[16]}                  x = d*q + m
 *   q5_0   {f16 d; u8 qh[4]; u8 qs[16]}               x = d*(q-16), bit 4 of value j in qh bit j
 *   q4_K   {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}   8 sub-blocks of 32 with 6-bit
 *                                                     scale and min: x = d*sc*q - dmin*m
 *   q6_K   {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}  16 sub-blocks of 16: x = d*sc*(q-32)
 *   q8_K   {f32 d; i8 qs[256]; i16 bsums[16]}         activations for the K formats
 *   iq4_nl {f16 d; u8 qs[16]}                         x = d*kvalues_iq4nl[q]
 *   mxfp4  {u8 e; u8 qs[16]}                          x = 2^(e-127) * E2M1(q)
 * The quantizers follow ggml's quantize_row_*_ref operation for operation, so their bytes
 * match ggml's when both are built without FMA contraction (see the top of this file). */
SEQDEF void seq_quant_quantize_q8_0(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q8_1(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q4_0(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q4_1(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q5_0(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q4_K(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q6_K(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_q8_K(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_iq4_nl(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_mxfp4(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q8_0(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q8_1(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q4_0(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q4_1(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q5_0(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q4_K(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q6_K(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_q8_K(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_iq4_nl(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxfp4(const void *src, float *dst, int64_t n);

/* ===================================================================================
 * 4  float formats: NF4, FP8 E4M3/E5M2, FP4 E2M1, OCP MX, ExMy
 * =================================================================================== */

/* --- 4a ExMy: a sign, e exponent bits, m mantissa bits and an exponent bias -----------
 * Values are (-1)^s 2^(E-bias) (1 + M/2^m) for E > 0 and (-1)^s 2^(1-bias) M/2^m for
 * E = 0. What the all-ones exponent means is the format's `special`:
 *   IEEE    it holds Inf (M = 0) and NaN (M != 0), as f16 and OCP E5M2;
 *   FN      only all-ones E and M is NaN, the rest of that binade is finite (OCP E4M3);
 *   FINITE  no Inf, no NaN (OCP FP6 E2M3/E3M2, FP4 E2M1).
 * Encoding rounds to nearest, ties to even. Out of range values (and Inf) become the
 * largest finite value when saturating; otherwise Inf where the format has one, else NaN,
 * else (FINITE) the largest finite value anyway. NaN encodes as NaN (sign kept); a
 * FINITE format has none, so encode gives 0 and the array functions SEQ_ERR_NUMERIC. */
typedef enum seq_quant_fp_special { SEQ_QUANT_FP_IEEE, SEQ_QUANT_FP_FN, SEQ_QUANT_FP_FINITE, SEQ_QUANT_FP_SPECIAL_COUNT } seq_quant_fp_special;

typedef struct seq_quant_fp_format {
    int ebits, mbits; /* 1..8 and 0..10, ebits + mbits <= 15 */
    int bias;
    seq_quant_fp_special special;
} seq_quant_fp_format;

SEQDEF seq_quant_fp_format seq_quant_fp_e4m3(void); /* OCP FP8 E4M3: bias 7, FN, max 448 */
SEQDEF seq_quant_fp_format seq_quant_fp_e5m2(void); /* OCP FP8 E5M2: bias 15, IEEE, max 57344 */
SEQDEF seq_quant_fp_format seq_quant_fp_e2m3(void); /* OCP FP6: bias 1, max 7.5 */
SEQDEF seq_quant_fp_format seq_quant_fp_e3m2(void); /* OCP FP6: bias 3, max 28 */
SEQDEF seq_quant_fp_format seq_quant_fp_e2m1(void); /* OCP FP4: bias 1, max 6 */
SEQDEF int seq_quant_fp_valid(seq_quant_fp_format f);
SEQDEF float seq_quant_fp_max(seq_quant_fp_format f); /* largest finite value */
/* One value <-> its code (1 + ebits + mbits low bits; the sign is the top one). */
SEQDEF uint32_t seq_quant_fp_encode(seq_quant_fp_format f, float x, int saturate);
SEQDEF float seq_quant_fp_decode(seq_quant_fp_format f, uint32_t code);
/* n values to codes of 1 + ebits + mbits <= 8 bits, one per byte, and back. */
SEQDEF seq_status seq_quant_fp_quantize(seq_quant_fp_format f, int saturate, const float *src, uint8_t *dst, int64_t n);
SEQDEF seq_status seq_quant_fp_dequantize(seq_quant_fp_format f, const uint8_t *src, float *dst, int64_t n);
/* The bias that gives the least squared error on x (the ExMy grid round trip, saturating),
 * searched over every integer bias whose largest value lies within 2^-8..2^8 times max|x|
 * ("FP8: the power of the exponent", LLM-FP4's per-tensor bias search). *bias gets it,
 * *mse (may be NULL) its mean squared error. Non-finite x: SEQ_ERR_NUMERIC. */
SEQDEF seq_status seq_quant_fp_search_bias(int ebits, int mbits, seq_quant_fp_special special, const float *x,
                                           int64_t n, int *bias, double *mse);

/* --- 4b OCP FP8 rows (block 1) ------------------------------------------------------------ */
SEQDEF void seq_quant_quantize_fp8_e4m3(const float *src, void *dst, int64_t n); /* saturating */
SEQDEF void seq_quant_quantize_fp8_e5m2(const float *src, void *dst, int64_t n); /* saturating */
SEQDEF void seq_quant_dequantize_fp8_e4m3(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_fp8_e5m2(const void *src, float *dst, int64_t n);

/* --- 4c OCP MX: blocks of 32 values sharing an E8M0 scale 2^(e-127) (e = 255: NaN) -------
 * Quantizing a block: e = floor(log2(max|x|)) - emax(element) clamped to [0, 254]; each
 * x / 2^(e-127) is rounded to the element format (ties to even) with saturation. A block
 * holding a NaN or an Inf gets the NaN scale: it decodes to 32 NaN. A zero block gets
 * e = 0. Where the element has 4 bits, `order` says how two share a byte. */
typedef enum seq_quant_mx_elem {
    SEQ_QUANT_MX_FP8_E4M3, SEQ_QUANT_MX_FP8_E5M2, SEQ_QUANT_MX_FP6_E2M3, SEQ_QUANT_MX_FP6_E3M2,
    SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_MX_INT8, SEQ_QUANT_MX_ELEM_COUNT
} seq_quant_mx_elem;

typedef enum seq_quant_nibble_order {
    SEQ_QUANT_NIBBLE_LOW_FIRST,   /* values 2i, 2i+1 in the low, high nibble of byte i */
    SEQ_QUANT_NIBBLE_HIGH_FIRST,  /* value 2i in the high nibble (bitsandbytes) */
    SEQ_QUANT_NIBBLE_SPLIT_HALVES, /* values j and j+16 of a block in byte j (ggml) */
    SEQ_QUANT_NIBBLE_ORDER_COUNT
} seq_quant_nibble_order;

/* Bytes the elements of one 32-block take: 32 (8-bit), 24 (6-bit, LSB-first bit stream),
 * 16 (4-bit); 0 out of range. */
SEQDEF size_t seq_quant_mx_elem_bytes(seq_quant_mx_elem e);
/* n (a multiple of 32) values -> n/32 scales and n/32 element blocks, and back. */
SEQDEF seq_status seq_quant_mx_quantize(seq_quant_mx_elem e, seq_quant_nibble_order order, const float *src,
                                        int64_t n, uint8_t *scales, uint8_t *elems);
SEQDEF seq_status seq_quant_mx_dequantize(seq_quant_mx_elem e, seq_quant_nibble_order order, const uint8_t *scales,
                                          const uint8_t *elems, int64_t n, float *dst);
SEQDEF float seq_quant_e8m0_to_f32(uint8_t e); /* 2^(e-127), NaN for 255 */
/* The MX rows of the traits table: {u8 e; elements} per 32 values, 4-bit low first. */
SEQDEF void seq_quant_quantize_mxfp8_e4m3(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_mxfp8_e5m2(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_mxfp6_e2m3(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_mxfp6_e3m2(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_quantize_mxint8(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxfp8_e4m3(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxfp8_e5m2(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxfp6_e2m3(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxfp6_e3m2(const void *src, float *dst, int64_t n);
SEQDEF void seq_quant_dequantize_mxint8(const void *src, float *dst, int64_t n);

/* --- 4d NF4 (QLoRA): 16 values, the quantiles of N(0,1) scaled to [-1,1], exact 0 --------
 * Row blocks of 64: {f32 absmax; u8 qs[32]}, value 2i in the high nibble of byte i as
 * bitsandbytes packs them; x = absmax * seq_quant_nf4_values()[q], q the nearest code (ties to the
 * smaller, as bitsandbytes' decision tree). */
SEQDEF const float *seq_quant_nf4_values(void); /* the 16 values, ascending */
SEQDEF void seq_quant_quantize_nf4(const float *src, void *dst, int64_t n);
SEQDEF void seq_quant_dequantize_nf4(const void *src, float *dst, int64_t n);
/* Double quantization of the absmax scales (QLoRA section 3): subtract their mean and
 * store them as FP8 E4M3 codes in groups of 256 sharing one f32 scale (group max / 448),
 * which saves 32 - 8 - 32/256 bits per 64 weights. codes holds nscale bytes, gscale
 * ceil(nscale/256) floats. Non-finite or negative absmax: SEQ_ERR_NUMERIC. */
SEQDEF seq_status seq_quant_nf4_double_quant(const float *absmax, int64_t nscale, uint8_t *codes, float *gscale,
                                             float *mean);
SEQDEF seq_status seq_quant_nf4_double_dequant(const uint8_t *codes, const float *gscale, float mean,
                                               int64_t nscale, float *absmax);

/* ===================================================================================
 * 5  quantized kernels: matrix-vector and matrix-matrix products
 * =================================================================================== */

/* Y (batch, rows) = X (batch, n) W^T for W (rows, n) stored row by row in format t (a
 * PyTorch Linear weight, quantized). Each row of X is first quantized to t's act_type
 * (8-bit blocks: q8_0, q8_1 or q8_K), then every block's dot product runs on integers
 * and is scaled once. Paths: AVX-512 VNNI (256-bit), AVX2, and the scalar twin
 * (SEQ_NO_SIMD) which the tests compare them against. NF4's table enters the integer dot
 * as round(127*v): its values are off by at most 0.4% of absmax, below the 8-bit rounding
 * of the activations. n not a multiple of t's block: SEQ_ERR_INVALID; a format without a
 * kernel: SEQ_ERR_UNSUPPORTED; a NaN or Inf in X: SEQ_ERR_NUMERIC (Y untouched); no
 * memory for the quantized activations: SEQ_ERR_NOMEM. */
SEQDEF seq_status seq_quant_matmul(seq_quant_type t, const void *W, int64_t rows, int64_t n, const float *X,
                                   int64_t batch, float *Y, void *alloc_ud);
SEQDEF seq_status seq_quant_matvec(seq_quant_type t, const void *W, int64_t rows, int64_t n, const float *x,
                                   float *y, void *alloc_ud);
/* The same with int8 weights, one symmetric grid per row (seq_quant_int_quantize with
 * bits 8, symmetric, group n); n a multiple of 32. A grid with zero != 0: SEQ_ERR_INVALID. */
SEQDEF seq_status seq_quant_matmul_i8(const uint8_t *W, const seq_quant_grid *grids, int64_t rows, int64_t n,
                                      const float *X, int64_t batch, float *Y, void *alloc_ud);
/* The dot of an int8 row with q8_0 activations (per-row scale not applied): the kernel
 * seq_quant_matmul_i8 runs, or its scalar reference twin when reference is nonzero. */
SEQDEF seq_quant_vec_dot_fn seq_quant_i8_vec_dot(int reference);
/* Which path this build runs: "avx512vnni", "avx2" or "scalar". */
SEQDEF const char *seq_quant_kernel_path(void);

/* ===================================================================================
 * 6  GGUF files
 * =================================================================================== */

/* GGUF v3 (llama.cpp's model files), little-endian:
 *     "GGUF" u32 version, u64 n_tensors, u64 n_kv
 *     n_kv x   {string key, u32 value type, value}      string = u64 length + bytes
 *     n_tensors x {string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset}
 *     padding to `general.alignment` (u32, default 32), then the data section; each
 *     tensor's bytes at its offset from the data start, offsets multiples of alignment.
 * ne[0] is the innermost dimension (the row length); this API speaks PyTorch order:
 * shape[ndim-1] = ne[0]. Opening validates every field before using it (sizes against
 * the bytes left, types, names, dimensions, alignment, tensor ranges inside the data and
 * disjoint); anything off is SEQ_ERR_FORMAT with a message naming the field. */
typedef enum seq_gguf_type {
    SEQ_GGUF_U8, SEQ_GGUF_I8, SEQ_GGUF_U16, SEQ_GGUF_I16, SEQ_GGUF_U32, SEQ_GGUF_I32, SEQ_GGUF_F32, SEQ_GGUF_BOOL,
    SEQ_GGUF_STRING, SEQ_GGUF_ARRAY, SEQ_GGUF_U64, SEQ_GGUF_I64, SEQ_GGUF_F64, SEQ_GGUF_TYPE_COUNT
} seq_gguf_type;

typedef struct seq_gguf seq_gguf;

typedef struct seq_gguf_tensor {
    const char *name;
    int ndim;                    /* 1..4 */
    int64_t shape[4];            /* PyTorch order, outermost first */
    int ggml_type;
    seq_quant_type type;         /* SEQ_QUANT_TYPE_COUNT: a ggml type this header cannot decode */
    uint64_t offset;             /* from the start of the data section */
    size_t nbytes;
    const void *data;            /* inside the reader's buffer */
} seq_gguf_tensor;

/* Reads the whole file into memory and validates it; NULL with seq_last_error() on
 * failure. The memory variant borrows buf, which must outlive the reader. */
SEQDEF seq_gguf *seq_gguf_open(const char *path, void *alloc_ud);
SEQDEF seq_gguf *seq_gguf_open_memory(const void *buf, size_t len, void *alloc_ud);
SEQDEF void seq_gguf_close(seq_gguf *g);
SEQDEF uint32_t seq_gguf_version(const seq_gguf *g);
SEQDEF uint32_t seq_gguf_alignment(const seq_gguf *g);
/* Metadata, in file order. A key's index or -1; out-of-range i gives NULL / COUNT / 0. */
SEQDEF int64_t seq_gguf_kv_count(const seq_gguf *g);
SEQDEF int64_t seq_gguf_find_kv(const seq_gguf *g, const char *key);
SEQDEF const char *seq_gguf_kv_key(const seq_gguf *g, int64_t i);
SEQDEF seq_gguf_type seq_gguf_kv_type(const seq_gguf *g, int64_t i);
SEQDEF seq_gguf_type seq_gguf_kv_array_type(const seq_gguf *g, int64_t i); /* element type of an array */
SEQDEF int64_t seq_gguf_kv_array_len(const seq_gguf *g, int64_t i);
/* Value j of kv i (j = 0 for a scalar, the element for an array) as an integer (any
 * integer type or bool), a double (f32, f64) or a NUL-terminated string; a value of
 * another type or j out of range: SEQ_ERR_INVALID (and NULL for strings). */
SEQDEF seq_status seq_gguf_kv_int(const seq_gguf *g, int64_t i, int64_t j, int64_t *out);
SEQDEF seq_status seq_gguf_kv_float(const seq_gguf *g, int64_t i, int64_t j, double *out);
SEQDEF const char *seq_gguf_kv_str(const seq_gguf *g, int64_t i, int64_t j);
/* Tensors, in file order. */
SEQDEF int64_t seq_gguf_tensor_count(const seq_gguf *g);
SEQDEF const seq_gguf_tensor *seq_gguf_tensor_at(const seq_gguf *g, int64_t i);
SEQDEF const seq_gguf_tensor *seq_gguf_find_tensor(const seq_gguf *g, const char *name);
/* Tensor `name` dequantized into dst of exactly its element count. Missing: SEQ_ERR_RANGE;
 * other count: SEQ_ERR_SHAPE; a type seq_quant.h cannot decode: SEQ_ERR_UNSUPPORTED. */
SEQDEF seq_status seq_gguf_read_f32(const seq_gguf *g, const char *name, float *dst, int64_t numel);

/* Writing: collect metadata and tensors, then write the file at once, replacing path
 * atomically and durably (seq_atomic_open/commit: a failure or a crash leaves any
 * previous file intact). */
typedef struct seq_gguf_writer seq_gguf_writer;

SEQDEF seq_gguf_writer *seq_gguf_writer_init(void *alloc_ud);
SEQDEF void seq_gguf_writer_free(seq_gguf_writer *w);
/* One scalar: value points to the C type of `type` (uint8_t .. double; int for BOOL;
 * for STRING a const char * variable holding the string: pass &str, not str). Keys are unique, non-empty, NUL-free. */
SEQDEF seq_status seq_gguf_writer_kv(seq_gguf_writer *w, const char *key, seq_gguf_type type, const void *value);
/* An array of n elements of `type` (not ARRAY): values points to n C values, or n
 * const char * for STRING. */
SEQDEF seq_status seq_gguf_writer_kv_array(seq_gguf_writer *w, const char *key, seq_gguf_type type,
                                           const void *values, int64_t n);
/* A tensor of shape (PyTorch order, 1..4 dims, last dim a multiple of t's block) from
 * f32 values, quantized now to t (a type with a ggml id). Names: unique, 1..63 bytes. */
SEQDEF seq_status seq_gguf_writer_tensor(seq_gguf_writer *w, const char *name, seq_quant_type t, int ndim,
                                         const int64_t *shape, const float *data);
SEQDEF seq_status seq_gguf_writer_write(const seq_gguf_writer *w, const char *path);
/* Every parameter of P: matrices whose rows are whole blocks of t are stored in t, the
 * rest (vectors such as biases, odd sizes) in f32 as llama.cpp keeps them; plus n_meta string pairs meta_kv[2i] -> meta_kv[2i+1]
 * and "general.architecture" = "seq", "seq.quant_type" = t's name. */
SEQDEF seq_status seq_gguf_save_params(const seq_params *P, const char *path, seq_quant_type t,
                                       const char *const *meta_kv, int64_t n_meta);

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

/* A quantized (rows, cols) weight: one `bits`-bit code per entry, packed row-major as a
 * least-significant-bit-first stream (4-bit codes two per byte as the int4 tensors of
 * section 1), and the grids they index. Entry (r, c) dequantizes to
 * seq_quant_grid_dq(grid, seq_quant_weight_code(w, r, c) + grid->qmin). */
typedef struct seq_quant_weight {
    int64_t rows, cols;
    int bits;
    seq_quant_gran gran;
    int64_t group_size;     /* columns per grid in a row (cols unless PER_GROUP) */
    int64_t ngrids;         /* 1, rows, or rows * cols / group_size, row-major */
    uint8_t *codes;         /* ceil(rows * cols * bits / 8) bytes: q - qmin in 0 .. 2^bits - 1 */
    seq_quant_grid *grids;
    void *alloc_ud;
} seq_quant_weight;

/* Allocates codes and grids for cfg's bits and granularity (contents unset). */
SEQDEF seq_status seq_quant_weight_init(seq_quant_weight *w, int64_t rows, int64_t cols,
                                        const seq_quant_rtn_config *cfg, void *alloc_ud);
SEQDEF void seq_quant_weight_free(seq_quant_weight *w);
SEQDEF seq_quant_grid *seq_quant_weight_grid(const seq_quant_weight *w, int64_t row, int64_t col);
SEQDEF uint32_t seq_quant_weight_code(const seq_quant_weight *w, int64_t row, int64_t col); /* q - qmin */
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

/* The compute-based codes: a state's value from a few integer and float instructions.
 *   1MAD   one multiply-add (x = 34038481 s + 76625530 mod 2^32), the sum of x's four
 *          bytes (near Gaussian by the central limit theorem), centered and scaled to about
 *          N(0, 1): (sum - 510) / 147.800537109375.
 *   3INST  a multiply-add (x = 89226354 s + 64248484 mod 2^32), a mask and xor
 *          (x & 0x8FFF8FFF) ^ 0x3B603B60 that keep each 16-bit half's sign, mantissa and
 *          two low exponent bits and fix the rest (so each half is an f16 of magnitude in
 *          [1/8, 2)), then the f16 sum of the two halves: three instructions on a GPU
 *          (IMAD, LOP3, HADD2), a symmetric, roughly bell-shaped value of RMS about 1.24. */
typedef enum seq_quant_qtip_code { SEQ_QUANT_QTIP_1MAD, SEQ_QUANT_QTIP_3INST, SEQ_QUANT_QTIP_CODE_COUNT } seq_quant_qtip_code;

SEQDEF float seq_quant_qtip_1mad(uint32_t state);
SEQDEF float seq_quant_qtip_3inst(uint32_t state);
/* The value of `state` under `code`; NaN for a code out of range. */
SEQDEF float seq_quant_qtip_value(seq_quant_qtip_code code, uint32_t state);
/* Bytes of one encoded sequence of T weights at k bits (1..8). */
SEQDEF size_t seq_quant_qtip_bytes(int64_t T, int k, int tail_biting);
/* Viterbi: encodes x (T) into bits (seq_quant_qtip_bytes) so that decoding gives the
 * closest sequence of code values (x is matched to the code's raw values: scale it first).
 * Tail-biting uses QTIP's two passes (the overlap bits from an unconstrained pass over the
 * sequence rotated by T/2, then a pass constrained to them). Scratch from alloc_ud:
 * 3 * 2^L + 2^(L-k) + T floats and T * (2^(L-k) + 2) bytes. */
SEQDEF seq_status seq_quant_qtip_encode(seq_quant_qtip_code code, const float *x, int64_t T, int k, int tail_biting,
                                        uint8_t *bits, void *alloc_ud);
/* The dequantize kernel: out (T) = scale * code(window t). Bad code, k or T: SEQ_ERR_INVALID. */
SEQDEF seq_status seq_quant_qtip_decode(seq_quant_qtip_code code, const uint8_t *bits, int64_t T, int k,
                                        int tail_biting, float scale, float *out);

/* A (rows, cols) weight coded as rows * cols / seq_len trellis sequences, after two-sided
 * Hadamard incoherence (which makes the entries near Gaussian, as the codes expect) and one
 * per-tensor scale (the RMS of the transformed weight over the RMS of the code's values). */
typedef struct seq_quant_qtip {
    int64_t rows, cols, seq_len;
    seq_quant_qtip_code code;
    int k, tail_biting;
    float scale;
    size_t seq_bytes;                 /* bytes per sequence */
    uint8_t *bits;                    /* (rows * cols / seq_len, seq_bytes) */
    seq_quant_incoherence ip;
    void *alloc_ud;
} seq_quant_qtip;

/* seq_len must divide cols and rows, cols need Hadamard sizes (section 8). */
SEQDEF seq_status seq_quant_qtip_quantize(seq_quant_qtip *q, const float *W, int64_t rows, int64_t cols,
                                          seq_quant_qtip_code code, int k, int64_t seq_len, int tail_biting, seq_rng *rng,
                                          void *alloc_ud);
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

/* ===================================================================================
 * 13  quantized layers: Linear, LSTM / GRU / Elman and Mamba steps
 * =================================================================================== */

/* A Linear layer whose weight stays quantized: y = x W^T + b with W (out, in) stored row by
 * row in any type of the traits table. The product runs through the type's integer kernel
 * (activations quantized to 8 bits on the fly, section 5); a type without one (q8_1, q8_K,
 * FP8, the MX rows) dequantizes one weight row at a time into the work buffer and takes an
 * f32 dot, so its weight still never exists whole in f32. SEQ_QUANT_F32 keeps W exact: the
 * reference that every other type is measured against.
 * Padding: `in` need not be a whole number of blocks. Weight rows are padded with zeros to
 * in_pad, the next multiple of the block, and every activation row likewise, which leaves
 * each product unchanged (Mamba's dt_proj has dt_rank = d_model/16 inputs, an RNN's W_ih
 * the embedding width). The padding costs (in_pad - in) / in of the weight's bytes. */
typedef struct seq_quant_linear {
    seq_quant_type type;
    int64_t out, in, in_pad;
    size_t row_bytes;  /* seq_quant_row_size(type, in_pad) */
    uint8_t *w;        /* (out, row_bytes) */
    float *b;          /* (out) or NULL */
    void *alloc_ud;
} seq_quant_linear;

/* Quantizes W (out, in) and copies b (may be NULL). NULL W, sizes < 1 or a bad type:
 * SEQ_ERR_INVALID; NaN/Inf in W or b: SEQ_ERR_NUMERIC; no memory: SEQ_ERR_NOMEM. */
SEQDEF seq_status seq_quant_linear_init(seq_quant_linear *q, seq_quant_type t, const float *W, const float *b,
                                        int64_t out, int64_t in, void *alloc_ud);
SEQDEF void seq_quant_linear_free(seq_quant_linear *q);
/* Bytes the layer holds (weight rows and bias). */
SEQDEF size_t seq_quant_linear_bytes(const seq_quant_linear *q);
/* Bytes of the work buffer a forward of M rows needs. */
SEQDEF size_t seq_quant_linear_work_bytes(const seq_quant_linear *q, int64_t M);
/* y (M, out) = x (M, in; rows ldx >= in floats apart) W^T + b. work: at least
 * seq_quant_linear_work_bytes(q, M) bytes (aligned for floats), or NULL to allocate them
 * from q's allocator for this call only. NaN/Inf in x: SEQ_ERR_NUMERIC, y untouched. */
SEQDEF seq_status seq_quant_linear_forward(const seq_quant_linear *q, const float *x, int64_t ldx, int64_t M, float *y,
                                           void *work);

/* A trained seq_rnn (seq.h 14.2: LSTM, GRU, tanh or ReLU Elman; unidirectional, any number
 * of layers) for streaming inference with W_ih and W_hh quantized: each step computes the
 * pre-activations W_ih x + b_ih and W_hh h + b_hh with two quantized products, then
 * PyTorch's gate math in f32 (LSTM i,f,g,o: c = f c + i g, h = o tanh c; GRU r,z,n with
 * n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h = (1 - z) n + z h). The layer's tensors
 * are copied: the seq_rnn and its params may be freed after init. */
typedef struct seq_quant_rnn {
    seq_rnn_config cfg;
    seq_quant_linear ih[SEQ_RNN_MAX_LAYERS], hh[SEQ_RNN_MAX_LAYERS];
    void *alloc_ud;
} seq_quant_rnn;

/* Bidirectional: SEQ_ERR_UNSUPPORTED (a step cannot see the future). */
SEQDEF seq_status seq_quant_rnn_init(seq_quant_rnn *q, const seq_rnn *l, seq_quant_type t, void *alloc_ud);
SEQDEF void seq_quant_rnn_free(seq_quant_rnn *q);
SEQDEF size_t seq_quant_rnn_bytes(const seq_quant_rnn *q);

/* Caller-owned streaming state: h and c laid out as seq_rnn_state's, so states move
 * between the f32 and the quantized layer with one memcpy. No allocation per step. */
typedef struct seq_quant_rnn_state {
    int64_t batch;
    float *h, *c;  /* (L,B,H); c only for LSTM */
    float *pre;    /* (2,B,G*H): input- and hidden-side pre-activations of one layer */
    void *work;    /* the products' work buffer */
    void *alloc_ud;
} seq_quant_rnn_state;

SEQDEF seq_status seq_quant_rnn_state_init(const seq_quant_rnn *q, seq_quant_rnn_state *st, int64_t batch);
SEQDEF void seq_quant_rnn_state_reset(seq_quant_rnn_state *st); /* back to zeros (a new sequence) */
SEQDEF void seq_quant_rnn_state_free(seq_quant_rnn_state *st);
/* x_t (B,I) -> y_t (B,H), the last layer's h, advancing the state one step. NaN/Inf in
 * x_t: SEQ_ERR_NUMERIC with the state untouched. */
SEQDEF seq_status seq_quant_rnn_step(const seq_quant_rnn *q, seq_quant_rnn_state *st, const float *x_t, float *y_t);

/* A trained seq_mamba (seq.h 14.6) whose step keeps in_proj, x_proj, dt_proj and out_proj
 * quantized; the depthwise convolution (d_conv taps a channel), the selective scan and
 * the gates run in f32 on copies of conv1d, A = -exp(A_log) and D, as seq_mamba_step. */
typedef struct seq_quant_mamba {
    int64_t d_model, d_inner, d_state, d_conv, dt_rank;
    seq_quant_linear in_proj, x_proj, dt_proj, out_proj;
    float *conv_w;  /* (d_inner, d_conv) */
    float *conv_b;  /* (d_inner) or NULL */
    float *A;       /* (d_inner, d_state) = -exp(A_log) */
    float *D;       /* (d_inner) */
    void *alloc_ud;
} seq_quant_mamba;

SEQDEF seq_status seq_quant_mamba_init(seq_quant_mamba *q, const seq_mamba *l, seq_quant_type t, void *alloc_ud);
SEQDEF void seq_quant_mamba_free(seq_quant_mamba *q);
SEQDEF size_t seq_quant_mamba_bytes(const seq_quant_mamba *q);

/* Streaming state, laid out as seq_mamba_state's conv and ssm. */
typedef struct seq_quant_mamba_state {
    int64_t batch;
    float *conv;  /* (B, d_inner, d_conv-1): the convolution's last inputs, oldest first */
    float *ssm;   /* (B, d_inner, d_state) */
    float *act;   /* one step's activations */
    void *work;   /* the products' work buffer */
    void *alloc_ud;
} seq_quant_mamba_state;

SEQDEF seq_status seq_quant_mamba_state_init(const seq_quant_mamba *q, seq_quant_mamba_state *st, int64_t batch);
SEQDEF void seq_quant_mamba_state_reset(seq_quant_mamba_state *st);
SEQDEF void seq_quant_mamba_state_free(seq_quant_mamba_state *st);
/* x_t (B,d_model) -> y_t (B,d_model), advancing the state one step. */
SEQDEF seq_status seq_quant_mamba_step(const seq_quant_mamba *q, seq_quant_mamba_state *st, const float *x_t,
                                       float *y_t);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_QUANT_H */

#ifdef SEQ_QUANT_IMPLEMENTATION
#ifndef SEQ_QUANT_IMPLEMENTATION_DONE
#define SEQ_QUANT_IMPLEMENTATION_DONE

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Helpers every section shares. */

/* Index of the first NaN or Inf of x (n), -1 when all are finite. */
static int64_t seq_quant__first_nonfinite(const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

/* The smallest and largest of x (n >= 1). */
static void seq_quant__minmax(const float *x, int64_t n, float *lo, float *hi) {
    int64_t i;
    *lo = *hi = x[0];
    for (i = 1; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

/* Code k of a stream of `bits`-bit codes (1..8), least significant bit first: 8-bit codes
 * are bytes, 4-bit code 2i the low nibble of byte i. put leaves the other codes alone. */
static void seq_quant__code_put(uint8_t *codes, int bits, int64_t k, uint32_t q) {
    int64_t pos = k * bits;
    int i;
    for (i = 0; i < bits; i++, pos++) {
        uint8_t m = (uint8_t)(1u << (pos & 7));
        if ((q >> i) & 1u) codes[pos >> 3] |= m;
        else codes[pos >> 3] &= (uint8_t)~m;
    }
}
static uint32_t seq_quant__code_get(const uint8_t *codes, int bits, int64_t k) {
    int64_t pos = k * bits;
    uint32_t q = 0;
    int i;
    for (i = 0; i < bits; i++, pos++) q |= (uint32_t)((codes[pos >> 3] >> (pos & 7)) & 1) << i;
    return q;
}
static size_t seq_quant__code_bytes(int bits, int64_t count) { return (size_t)((count * bits + 7) / 8); }

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

static int seq_quant__int_config_ok(seq_quant_int_config c, int64_t rows, int64_t n) {
    return (c.bits == 4 || c.bits == 8) && rows >= 0 && n > 0 && c.group >= 0 && (c.group == 0 || n % c.group == 0);
}

SEQDEF size_t seq_quant_int_code_bytes(seq_quant_int_config c, int64_t rows, int64_t n) {
    if (!seq_quant__int_config_ok(c, rows, n)) return 0;
    return seq_quant__code_bytes(c.bits, rows * n);
}

SEQDEF int64_t seq_quant_int_grid_count(seq_quant_int_config c, int64_t rows, int64_t n) {
    if (!seq_quant__int_config_ok(c, rows, n)) return -1;
    return c.group == 0 ? 1 : rows * (n / c.group);
}

/* The group's values are contiguous: a group never crosses a row, and per tensor is one
 * group of rows * n. */
static int64_t seq_quant__int_group_len(seq_quant_int_config c, int64_t rows, int64_t n) {
    return c.group == 0 ? rows * n : c.group;
}

/* Symmetric codes are two's complement in `bits` bits. */
static int32_t seq_quant__int_get(const uint8_t *codes, int bits, int symmetric, int64_t k) {
    int32_t v = (int32_t)seq_quant__code_get(codes, bits, k), sign = 1 << (bits - 1);
    return symmetric ? (v ^ sign) - sign : v;
}

SEQDEF seq_status seq_quant_int_quantize(seq_quant_int_config c, const float *w, int64_t rows, int64_t n,
                                         uint8_t *codes, seq_quant_grid *grids) {
    int64_t len, g, k, total;
    if (!w || !codes || !grids || !seq_quant__int_config_ok(c, rows, n)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_int_quantize: need 4 or 8 bits, n > 0 and a group dividing n");
    }
    total = rows * n;
    if ((k = seq_quant__first_nonfinite(w, total)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_int_quantize: weight %lld is not finite", (long long)k);
    len = seq_quant__int_group_len(c, rows, n);
    for (g = 0; g * len < total; g++) {
        const float *x = w + g * len;
        float lo, hi;
        seq_quant__minmax(x, len, &lo, &hi);
        seq_quant_grid_fit(&grids[g], c.bits, c.symmetric, lo, hi);
        for (k = 0; k < len; k++)
            seq_quant__code_put(codes, c.bits, g * len + k, (uint32_t)seq_quant_grid_q(&grids[g], x[k]));
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_int_dequantize(seq_quant_int_config c, const uint8_t *codes,
                                           const seq_quant_grid *grids, int64_t rows, int64_t n, float *w) {
    int64_t len, k, total;
    if (!w || !codes || !grids || !seq_quant__int_config_ok(c, rows, n)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_int_dequantize: need 4 or 8 bits, n > 0 and a group dividing n");
    }
    total = rows * n;
    len = seq_quant__int_group_len(c, rows, n);
    for (k = 0; k < total; k++) w[k] = seq_quant_grid_dq(&grids[k / len], seq_quant__int_get(codes, c.bits, c.symmetric, k));
    return SEQ_OK;
}

/* ===================================================================================
 * 2  format traits (implementation)
 * =================================================================================== */

/* Little-endian fields of blocks and files, byte by byte so the host's order never matters. */
static uint16_t seq_quant__rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void seq_quant__wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}
static uint32_t seq_quant__rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void seq_quant__wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)((v >> 8) & 0xff);
    p[2] = (uint8_t)((v >> 16) & 0xff);
    p[3] = (uint8_t)(v >> 24);
}
static float seq_quant__rdf32(const uint8_t *p) {
    uint32_t u = seq_quant__rd32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static void seq_quant__wrf32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    seq_quant__wr32(p, u);
}
static float seq_quant__rdh(const uint8_t *p) { return seq_f16_to_f32(seq_quant__rd16(p)); }
static void seq_quant__wrh(uint8_t *p, float f) { seq_quant__wr16(p, seq_f32_to_f16(f)); }

/* f32, f16 and bf16 rows (block 1), with a plain dot against f32 activations. */
static void seq_quant__quantize_f32(const float *src, void *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) seq_quant__wrf32((uint8_t *)dst + 4 * i, src[i]);
}
static void seq_quant__dequantize_f32(const void *src, float *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = seq_quant__rdf32((const uint8_t *)src + 4 * i);
}
static void seq_quant__quantize_f16(const float *src, void *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) seq_quant__wr16((uint8_t *)dst + 2 * i, seq_f32_to_f16(src[i]));
}
static void seq_quant__dequantize_f16(const void *src, float *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = seq_f16_to_f32(seq_quant__rd16((const uint8_t *)src + 2 * i));
}
static void seq_quant__quantize_bf16(const float *src, void *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) seq_quant__wr16((uint8_t *)dst + 2 * i, seq_f32_to_bf16(src[i]));
}
static void seq_quant__dequantize_bf16(const void *src, float *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = seq_bf16_to_f32(seq_quant__rd16((const uint8_t *)src + 2 * i));
}

/* The kernels of section 5, named here for the table. */
static float seq_quant__dot_f32(int64_t n, const void *w, const void *a);
static float seq_quant__dot_f16(int64_t n, const void *w, const void *a);
static float seq_quant__dot_bf16(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q8_0_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_0_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_1_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q5_0_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_K_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q6_K_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_iq4_nl_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_mxfp4_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_nf4_ref(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q8_0(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_0(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_1(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q5_0(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q4_K(int64_t n, const void *w, const void *a);
static float seq_quant__dot_q6_K(int64_t n, const void *w, const void *a);
static float seq_quant__dot_iq4_nl(int64_t n, const void *w, const void *a);
static float seq_quant__dot_mxfp4(int64_t n, const void *w, const void *a);
static float seq_quant__dot_nf4(int64_t n, const void *w, const void *a);

/* One row per seq_quant_type, in enum order (checked by the tests). */
static const seq_quant_traits seq_quant__traits[SEQ_QUANT_TYPE_COUNT] = {
    {"f32", 1, 4, 0, 0, seq_quant__quantize_f32, seq_quant__dequantize_f32, SEQ_QUANT_F32, seq_quant__dot_f32,
     seq_quant__dot_f32},
    {"f16", 1, 2, 1, 0, seq_quant__quantize_f16, seq_quant__dequantize_f16, SEQ_QUANT_F32, seq_quant__dot_f16,
     seq_quant__dot_f16},
    {"bf16", 1, 2, 30, 0, seq_quant__quantize_bf16, seq_quant__dequantize_bf16, SEQ_QUANT_F32, seq_quant__dot_bf16,
     seq_quant__dot_bf16},
    {"q8_0", 32, 34, 8, 1, seq_quant_quantize_q8_0, seq_quant_dequantize_q8_0, SEQ_QUANT_Q8_0, seq_quant__dot_q8_0,
     seq_quant__dot_q8_0_ref},
    {"q8_1", 32, 36, 9, 1, seq_quant_quantize_q8_1, seq_quant_dequantize_q8_1, SEQ_QUANT_Q8_1, NULL, NULL},
    {"q4_0", 32, 18, 2, 1, seq_quant_quantize_q4_0, seq_quant_dequantize_q4_0, SEQ_QUANT_Q8_0, seq_quant__dot_q4_0,
     seq_quant__dot_q4_0_ref},
    {"q4_1", 32, 20, 3, 1, seq_quant_quantize_q4_1, seq_quant_dequantize_q4_1, SEQ_QUANT_Q8_1, seq_quant__dot_q4_1,
     seq_quant__dot_q4_1_ref},
    {"q5_0", 32, 22, 6, 1, seq_quant_quantize_q5_0, seq_quant_dequantize_q5_0, SEQ_QUANT_Q8_0, seq_quant__dot_q5_0,
     seq_quant__dot_q5_0_ref},
    {"q4_K", 256, 144, 12, 1, seq_quant_quantize_q4_K, seq_quant_dequantize_q4_K, SEQ_QUANT_Q8_K, seq_quant__dot_q4_K,
     seq_quant__dot_q4_K_ref},
    {"q6_K", 256, 210, 14, 1, seq_quant_quantize_q6_K, seq_quant_dequantize_q6_K, SEQ_QUANT_Q8_K, seq_quant__dot_q6_K,
     seq_quant__dot_q6_K_ref},
    {"q8_K", 256, 292, 15, 1, seq_quant_quantize_q8_K, seq_quant_dequantize_q8_K, SEQ_QUANT_Q8_K, NULL, NULL},
    {"iq4_nl", 32, 18, 20, 1, seq_quant_quantize_iq4_nl, seq_quant_dequantize_iq4_nl, SEQ_QUANT_Q8_0,
     seq_quant__dot_iq4_nl, seq_quant__dot_iq4_nl_ref},
    {"mxfp4", 32, 17, 39, 1, seq_quant_quantize_mxfp4, seq_quant_dequantize_mxfp4, SEQ_QUANT_Q8_0,
     seq_quant__dot_mxfp4, seq_quant__dot_mxfp4_ref},
    {"nf4", 64, 36, -1, 1, seq_quant_quantize_nf4, seq_quant_dequantize_nf4, SEQ_QUANT_Q8_0, seq_quant__dot_nf4,
     seq_quant__dot_nf4_ref},
    {"fp8_e4m3", 1, 1, -1, 0, seq_quant_quantize_fp8_e4m3, seq_quant_dequantize_fp8_e4m3, SEQ_QUANT_FP8_E4M3, NULL,
     NULL},
    {"fp8_e5m2", 1, 1, -1, 0, seq_quant_quantize_fp8_e5m2, seq_quant_dequantize_fp8_e5m2, SEQ_QUANT_FP8_E5M2, NULL,
     NULL},
    {"mxfp8_e4m3", 32, 33, -1, 0, seq_quant_quantize_mxfp8_e4m3, seq_quant_dequantize_mxfp8_e4m3,
     SEQ_QUANT_MXFP8_E4M3, NULL, NULL},
    {"mxfp8_e5m2", 32, 33, -1, 0, seq_quant_quantize_mxfp8_e5m2, seq_quant_dequantize_mxfp8_e5m2,
     SEQ_QUANT_MXFP8_E5M2, NULL, NULL},
    {"mxfp6_e2m3", 32, 25, -1, 0, seq_quant_quantize_mxfp6_e2m3, seq_quant_dequantize_mxfp6_e2m3,
     SEQ_QUANT_MXFP6_E2M3, NULL, NULL},
    {"mxfp6_e3m2", 32, 25, -1, 0, seq_quant_quantize_mxfp6_e3m2, seq_quant_dequantize_mxfp6_e3m2,
     SEQ_QUANT_MXFP6_E3M2, NULL, NULL},
    {"mxint8", 32, 33, -1, 0, seq_quant_quantize_mxint8, seq_quant_dequantize_mxint8, SEQ_QUANT_MXINT8, NULL, NULL},
};

SEQDEF const seq_quant_traits *seq_quant_type_traits(seq_quant_type t) {
    return (int)t >= 0 && t < SEQ_QUANT_TYPE_COUNT ? &seq_quant__traits[t] : NULL;
}

SEQDEF const char *seq_quant_type_name(seq_quant_type t) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    return tr ? tr->name : "?";
}

SEQDEF seq_quant_type seq_quant_type_from_ggml(int g) {
    int t;
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++)
        if (g >= 0 && seq_quant__traits[t].ggml_type == g) return (seq_quant_type)t;
    return SEQ_QUANT_TYPE_COUNT;
}

SEQDEF size_t seq_quant_row_size(seq_quant_type t, int64_t n) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    if (!tr || n <= 0 || n % tr->block != 0) return 0;
    return (size_t)(n / tr->block) * tr->block_bytes;
}

/* The checks both directions share; names the caller in the message. */
static seq_status seq_quant__check_rows(const char *fn, seq_quant_type t, const void *src, const void *dst,
                                        int64_t rows, int64_t n) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    if (!tr) return seq_set_error(SEQ_ERR_INVALID, "%s: unknown type %d", fn, (int)t);
    if (!src || !dst || rows < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL buffer or negative rows", fn);
    if (n <= 0 || n % tr->block != 0) {
        return seq_set_error(SEQ_ERR_INVALID, "%s: %s rows hold whole blocks of %lld values, got n = %lld", fn,
                             tr->name, (long long)tr->block, (long long)n);
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_quantize(seq_quant_type t, const float *src, void *dst, int64_t rows, int64_t n) {
    seq_status s = seq_quant__check_rows("seq_quant_quantize", t, src, dst, rows, n);
    const seq_quant_traits *tr;
    int64_t r, i;
    if (s != SEQ_OK) return s;
    tr = seq_quant_type_traits(t);
    if (tr->finite_only && (i = seq_quant__first_nonfinite(src, rows * n)) >= 0) {
        return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_quantize: %s needs finite values; row %lld col %lld is not",
                             tr->name, (long long)(i / n), (long long)(i % n));
    }
    for (r = 0; r < rows; r++) tr->quantize(src + r * n, (uint8_t *)dst + (size_t)r * seq_quant_row_size(t, n), n);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_dequantize(seq_quant_type t, const void *src, float *dst, int64_t rows, int64_t n) {
    seq_status s = seq_quant__check_rows("seq_quant_dequantize", t, src, dst, rows, n);
    int64_t r;
    if (s != SEQ_OK) return s;
    for (r = 0; r < rows; r++) {
        seq_quant_type_traits(t)->dequantize((const uint8_t *)src + (size_t)r * seq_quant_row_size(t, n), dst + r * n, n);
    }
    return SEQ_OK;
}

/* ===================================================================================
 * 3  ggml blocks (implementation)
 * =================================================================================== */

/* ggml's helpers, reproduced in their arithmetic: nearest_int rounds half to even (its
 * 1.5*2^23 trick, valid below 2^22 where ggml asserts; clamped here so that no input can
 * make the conversion undefined), casts to int8_t truncate toward zero. */
static int seq_quant__nearest(float x) {
    if (!(x > -4194303.0f)) return x != x ? 0 : -4194303;
    if (x > 4194303.0f) return 4194303;
    return (int)nearbyintf(x);
}
static int seq_quant__trunc(float x) { /* (int8_t)x for the in-range values ggml produces */
    if (!(x > -128.0f)) return x != x ? 0 : -128;
    if (x > 127.0f) return 127;
    return (int)x;
}
static int seq_quant__round_away(float x) { /* (int8_t)roundf(x) */
    return seq_quant__trunc(roundf(x));
}
#define SEQ_QUANT__MIN(a, b) ((a) < (b) ? (a) : (b))
#define SEQ_QUANT__MAX(a, b) ((a) > (b) ? (a) : (b))
#define SEQ_QUANT__EPS 1e-15f /* ggml's GROUP_MAX_EPS: a group below it is all zero */

/* The element of largest magnitude (the first one on ties) and that magnitude. */
static float seq_quant__absmax(const float *x, int n, float *signed_max) {
    float amax = 0.0f, max = 0.0f;
    int j;
    for (j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (signed_max) *signed_max = max;
    return amax;
}

/* --- q8_0, q8_1: d = max|x| / 127, q = round(x / d) (half away from zero) --------------- */
static float seq_quant__q8_block(const float *x, int8_t *q, int *sum) {
    float amax = 0.0f, d, id;
    int j, s = 0;
    for (j = 0; j < 32; j++) amax = SEQ_QUANT__MAX(amax, fabsf(x[j]));
    d = amax / 127.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    for (j = 0; j < 32; j++) {
        q[j] = (int8_t)seq_quant__round_away(x[j] * id);
        s += q[j];
    }
    if (sum) *sum = s;
    return d;
}

SEQDEF void seq_quant_quantize_q8_0(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n / 32; i++, b += 34) seq_quant__wrh(b, seq_quant__q8_block(src + 32 * i, (int8_t *)(b + 2), NULL));
}

/* q8_0 and q8_1 blocks: an f16 d first, the 32 int8 values at the end. */
static void seq_quant__dequant_q8(const uint8_t *b, size_t bytes, float *dst, int64_t n) {
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += bytes) {
        float d = seq_quant__rdh(b);
        for (j = 0; j < 32; j++) dst[32 * i + j] = (float)(int8_t)b[bytes - 32 + (size_t)j] * d;
    }
}

SEQDEF void seq_quant_dequantize_q8_0(const void *src, float *dst, int64_t n) { seq_quant__dequant_q8((const uint8_t *)src, 34, dst, n); }

SEQDEF void seq_quant_quantize_q8_1(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int sum;
    for (i = 0; i < n / 32; i++, b += 36) {
        float d = seq_quant__q8_block(src + 32 * i, (int8_t *)(b + 4), &sum);
        seq_quant__wrh(b, d);
        seq_quant__wrh(b + 2, (float)sum * d);
    }
}

SEQDEF void seq_quant_dequantize_q8_1(const void *src, float *dst, int64_t n) { seq_quant__dequant_q8((const uint8_t *)src, 36, dst, n); }

/* --- q4_0, q5_0: d = (signed max) / -2^(bits-1), so the largest magnitude lands on the
 * one level that has no positive twin; q = trunc(x/d + 2^(bits-1) + 0.5) ------------------ */
SEQDEF void seq_quant_quantize_q4_0(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 18) {
        const float *x = src + 32 * i;
        float max, d, id;
        seq_quant__absmax(x, 32, &max);
        d = max / -8.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        seq_quant__wrh(b, d);
        for (j = 0; j < 16; j++) {
            int q0 = SEQ_QUANT__MIN(15, seq_quant__trunc(x[j] * id + 8.5f));
            int q1 = SEQ_QUANT__MIN(15, seq_quant__trunc(x[j + 16] * id + 8.5f));
            b[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

SEQDEF void seq_quant_dequantize_q4_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 18) {
        float d = seq_quant__rdh(b);
        for (j = 0; j < 16; j++) {
            dst[32 * i + j] = (float)((b[2 + j] & 0xf) - 8) * d;
            dst[32 * i + j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
    }
}

SEQDEF void seq_quant_quantize_q5_0(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 22) {
        const float *x = src + 32 * i;
        float max, d, id;
        uint32_t qh = 0;
        seq_quant__absmax(x, 32, &max);
        d = max / -16.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        seq_quant__wrh(b, d);
        for (j = 0; j < 16; j++) {
            int q0 = SEQ_QUANT__MIN(31, seq_quant__trunc(x[j] * id + 16.5f));
            int q1 = SEQ_QUANT__MIN(31, seq_quant__trunc(x[j + 16] * id + 16.5f));
            b[6 + j] = (uint8_t)((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        seq_quant__wr32(b + 2, qh);
    }
}

SEQDEF void seq_quant_dequantize_q5_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 22) {
        float d = seq_quant__rdh(b);
        uint32_t qh = seq_quant__rd32(b + 2);
        for (j = 0; j < 16; j++) {
            int q0 = (b[6 + j] & 0xf) | (int)(((qh >> j) & 1) << 4);
            int q1 = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[32 * i + j] = (float)(q0 - 16) * d;
            dst[32 * i + j + 16] = (float)(q1 - 16) * d;
        }
    }
}

/* --- q4_1: min-max, d = (max - min) / 15, q = trunc((x - min)/d + 0.5) ---------------------- */
SEQDEF void seq_quant_quantize_q4_1(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 20) {
        const float *x = src + 32 * i;
        float min = x[0], max = x[0], d, id;
        for (j = 1; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        d = (max - min) / 15.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        seq_quant__wrh(b, d);
        seq_quant__wrh(b + 2, min);
        for (j = 0; j < 16; j++) {
            int q0 = SEQ_QUANT__MIN(15, seq_quant__trunc((x[j] - min) * id + 0.5f));
            int q1 = SEQ_QUANT__MIN(15, seq_quant__trunc((x[j + 16] - min) * id + 0.5f));
            b[4 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

SEQDEF void seq_quant_dequantize_q4_1(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 20) {
        float d = seq_quant__rdh(b), m = seq_quant__rdh(b + 2);
        for (j = 0; j < 16; j++) {
            dst[32 * i + j] = (float)(b[4 + j] & 0xf) * d + m;
            dst[32 * i + j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
    }
}

/* --- q4_K ----------------------------------------------------------------------------------
 * Each sub-block of 32 gets a scale and a min from ggml's make_qkx2_quants: a weighted
 * least-squares fit of (scale, min) over 21 trial grids, weights av|x| + |x|; the 8 scales
 * and 8 mins are then quantized to 6 bits against the super-block's d and dmin, and the
 * values requantized with the rounded scales. */
static float seq_quant__fit_scale_min(const float *x, const float *w, uint8_t *L, float *the_min) {
    const int nmax = 15, nstep = 20;
    const float rmin = -1.0f, rdelta = 0.1f;
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0], iscale, scale, best_error = 0.0f;
    int i, is;
    for (i = 1; i < 32; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0.0f) min = 0.0f;
    if (max == min) {
        memset(L, 0, 32);
        *the_min = -min;
        return 0.0f;
    }
    iscale = (float)nmax / (max - min);
    scale = 1.0f / iscale;
    for (i = 0; i < 32; i++) {
        float diff;
        L[i] = (uint8_t)SEQ_QUANT__MAX(0, SEQ_QUANT__MIN(nmax, seq_quant__nearest(iscale * (x[i] - min))));
        diff = scale * (float)L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (is = 0; is <= nstep; is++) {
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f, D;
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        for (i = 0; i < 32; i++) {
            int l = SEQ_QUANT__MAX(0, SEQ_QUANT__MIN(nmax, seq_quant__nearest(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            float cur_error = 0.0f;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            for (i = 0; i < 32; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                cur_error += w[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, 32);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Sub-block j's 6-bit scale and min out of q4_K's 12 packed bytes: 0-3 hold the scales of
 * sub-blocks 0-3, 4-7 their mins, 8-11 the low 4 bits of both for 4-7, whose top 2 bits
 * ride in the spare top bits of bytes 0-7. */
static void seq_quant__scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

SEQDEF void seq_quant_quantize_q4_K(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j, l;
    for (i = 0; i < n / 256; i++, b += 144) {
        const float *x = src + 256 * i;
        uint8_t L[256], *sc = b + 4, *q = b + 16;
        float weights[32], mins[8], scales[8], max_scale = 0.0f, max_min = 0.0f, inv_scale, inv_min, d, dmin;
        for (j = 0; j < 8; j++) {
            float sum_x2 = 0.0f, av_x;
            for (l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            av_x = sqrtf(sum_x2 / 32.0f);
            for (l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = seq_quant__fit_scale_min(x + 32 * j, weights, L + 32 * j, &mins[j]);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
        inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
        for (j = 0; j < 8; j++) {
            int ls = SEQ_QUANT__MIN(63, seq_quant__nearest(inv_scale * scales[j]) & 0xff);
            int lm = SEQ_QUANT__MIN(63, seq_quant__nearest(inv_min * mins[j]) & 0xff);
            if (j < 4) {
                sc[j] = (uint8_t)ls;
                sc[j + 4] = (uint8_t)lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        seq_quant__wrh(b, max_scale / 63.0f);
        seq_quant__wrh(b + 2, max_min / 63.0f);
        d = seq_quant__rdh(b);
        dmin = seq_quant__rdh(b + 2);
        for (j = 0; j < 8; j++) {
            int s, m;
            float dj, mj;
            seq_quant__scale_min_k4(j, sc, &s, &m);
            dj = d * (float)s;
            if (dj == 0.0f) continue;
            mj = dmin * (float)m;
            for (l = 0; l < 32; l++) {
                L[32 * j + l] = (uint8_t)SEQ_QUANT__MAX(0, SEQ_QUANT__MIN(15, seq_quant__nearest((x[32 * j + l] + mj) / dj)));
            }
        }
        for (j = 0; j < 256; j += 64, q += 32)
            for (l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

SEQDEF void seq_quant_dequantize_q4_K(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j, l;
    for (i = 0; i < n / 256; i++, b += 144) {
        float d = seq_quant__rdh(b), dmin = seq_quant__rdh(b + 2), *y = dst + 256 * i;
        const uint8_t *q = b + 16;
        for (j = 0; j < 8; j += 2, q += 32) {
            int s0, m0, s1, m1;
            float d0, n0, d1, n1;
            seq_quant__scale_min_k4(j, b + 4, &s0, &m0);
            seq_quant__scale_min_k4(j + 1, b + 4, &s1, &m1);
            d0 = d * (float)s0, n0 = dmin * (float)m0, d1 = d * (float)s1, n1 = dmin * (float)m1;
            for (l = 0; l < 32; l++) y[32 * j + l] = d0 * (float)(q[l] & 0xf) - n0;
            for (l = 0; l < 32; l++) y[32 * j + 32 + l] = d1 * (float)(q[l] >> 4) - n1;
        }
    }
}

/* --- q6_K -----------------------------------------------------------------------------------
 * Each sub-block of 16 gets a scale from ggml's make_qx_quants (weights x^2, 19 trial
 * grids around max|x|/32); the 16 scales become int8 against d = max scale / -128, and
 * the values are requantized to 6 bits with the rounded scales. */
/* One trial grid of make_qx_quants: the levels of x * iscale in [-32, 31] (written to L
 * when given, offset by 32) and the weighted sums Σ w x l and Σ w l², w = x². */
static void seq_quant__qx_trial(const float *x, float iscale, int8_t *L, float *sumlx, float *suml2) {
    const int nmax = 32;
    int i;
    *sumlx = *suml2 = 0.0f;
    for (i = 0; i < 16; i++) {
        int l = SEQ_QUANT__MAX(-nmax, SEQ_QUANT__MIN(nmax - 1, seq_quant__nearest(iscale * x[i])));
        float w = x[i] * x[i];
        if (L) L[i] = (int8_t)(l + nmax);
        *sumlx += w * x[i] * (float)l;
        *suml2 += w * (float)l * (float)l;
    }
}

static float seq_quant__fit_scale_sym(const float *x, int8_t *L) {
    const int nmax = 32;
    float max, amax = seq_quant__absmax(x, 16, &max), iscale, sumlx, suml2, scale, best;
    int is;
    if (amax < SEQ_QUANT__EPS) {
        memset(L, 0, 16);
        return 0.0f;
    }
    seq_quant__qx_trial(x, (float)-nmax / max, L, &sumlx, &suml2);
    scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    best = scale * sumlx;
    for (is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        seq_quant__qx_trial(x, iscale, NULL, &sumlx, &suml2);
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            seq_quant__qx_trial(x, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* q6_K keeps each 6-bit value's low 4 bits in ql and top 2 in qh; per 128 values, value
 * l + 32k (k = 0..3) sits in ql[l + 32(k&1)] (nibble k>>1) and qh[l] (bits 2k, 2k+1). */
SEQDEF void seq_quant_quantize_q6_K(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j, l;
    for (i = 0; i < n / 256; i++, b += 210) {
        const float *x = src + 256 * i;
        int8_t L[256], *sc = (int8_t *)(b + 192);
        uint8_t *ql = b, *qh = b + 128;
        float scales[16], max_scale = 0.0f, max_abs_scale = 0.0f, iscale, d;
        for (j = 0; j < 16; j++) {
            scales[j] = seq_quant__fit_scale_sym(x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (max_abs_scale < SEQ_QUANT__EPS) {
            memset(b, 0, 210);
            continue;
        }
        iscale = -128.0f / max_scale;
        seq_quant__wrh(b + 208, 1.0f / iscale);
        d = seq_quant__rdh(b + 208);
        for (j = 0; j < 16; j++) sc[j] = (int8_t)SEQ_QUANT__MIN(127, seq_quant__nearest(iscale * scales[j]));
        for (j = 0; j < 16; j++) {
            float dj = d * (float)sc[j];
            if (dj == 0.0f) continue;
            for (l = 0; l < 16; l++) {
                L[16 * j + l] = (int8_t)(SEQ_QUANT__MAX(-32, SEQ_QUANT__MIN(31, seq_quant__nearest(x[16 * j + l] / dj))) + 32);
            }
        }
        for (j = 0; j < 256; j += 128, ql += 64, qh += 32) {
            for (l = 0; l < 32; l++) {
                const int8_t *v = L + j + l;
                ql[l] = (uint8_t)((v[0] & 0xf) | ((v[64] & 0xf) << 4));
                ql[l + 32] = (uint8_t)((v[32] & 0xf) | ((v[96] & 0xf) << 4));
                qh[l] = (uint8_t)((v[0] >> 4) | ((v[32] >> 4) << 2) | ((v[64] >> 4) << 4) | ((v[96] >> 4) << 6));
            }
        }
    }
}

/* The 6-bit value (0..63) at position p (0..255) of a q6_K block. */
static int seq_quant__q6_value(const uint8_t *b, int p) {
    int h = p / 128, k = (p % 128) / 32, l = p % 32;
    int lo = (b[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xf;
    int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    return lo | (hi << 4);
}

SEQDEF void seq_quant_dequantize_q6_K(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int p;
    for (i = 0; i < n / 256; i++, b += 210) {
        float d = seq_quant__rdh(b + 208);
        for (p = 0; p < 256; p++) dst[256 * i + p] = d * (float)(int8_t)b[192 + p / 16] * (float)(seq_quant__q6_value(b, p) - 32);
    }
}

/* --- q8_K: d = max / -127 (signed), 16 partial sums of 16 for the K-format kernels ------- */
SEQDEF void seq_quant_quantize_q8_K(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j, l;
    for (i = 0; i < n / 256; i++, b += 292) {
        const float *x = src + 256 * i;
        int8_t *q = (int8_t *)(b + 4);
        float max, amax = seq_quant__absmax(x, 256, &max), iscale;
        memset(b, 0, 292);
        if (amax == 0.0f) continue;
        iscale = -127.0f / max;
        for (j = 0; j < 256; j++) q[j] = (int8_t)SEQ_QUANT__MIN(127, seq_quant__nearest(iscale * x[j]));
        for (j = 0; j < 16; j++) {
            int sum = 0;
            for (l = 0; l < 16; l++) sum += q[16 * j + l];
            seq_quant__wr16(b + 260 + 2 * j, (uint16_t)(sum & 0xffff));
        }
        seq_quant__wrf32(b, 1.0f / iscale);
    }
}

SEQDEF void seq_quant_dequantize_q8_K(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, b += 292) {
        float d = seq_quant__rdf32(b);
        for (j = 0; j < 256; j++) dst[256 * i + j] = d * (float)(int8_t)b[4 + j];
    }
}

/* --- iq4_nl: 16 non-uniform int8 levels, one f16 scale per 32 ---------------------------
 * ggml's quantize_row_iq4_nl_ref (its impl with ntry = -1): levels from d = max/-127,
 * then d refit by weighted least squares (weights x^2), without requantizing. */
static const int8_t seq_quant__iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                   1,    13,   25,  38,  53,  69,  89,  113};

/* Index of the level nearest x among n sorted levels (n a power of 2); a tie goes up.
 * Both sides doubled so that the comparison is exact. */
static int seq_quant__nearest_level(const int8_t *v, int n, float x) {
    float x2 = x + x;
    int idx = 0, step;
    for (step = n >> 1; step > 0; step >>= 1)
        if (x2 >= (float)(v[idx + step - 1] + v[idx + step])) idx += step;
    return idx;
}

SEQDEF void seq_quant_quantize_iq4_nl(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, b += 18) {
        const float *x = src + 32 * i;
        uint8_t L[32];
        float max, amax = seq_quant__absmax(x, 32, &max), d = 0.0f, id, sumqx = 0.0f, sumq2 = 0.0f;
        memset(L, 0, sizeof L); /* a zero block: d = 0, ggml leaves these nibbles unspecified */
        if (amax >= SEQ_QUANT__EPS) {
            d = max / (float)seq_quant__iq4nl_values[0];
            id = 1.0f / d;
            for (j = 0; j < 32; j++) {
                float q, w = x[j] * x[j];
                L[j] = (uint8_t)seq_quant__nearest_level(seq_quant__iq4nl_values, 16, id * x[j]);
                q = (float)seq_quant__iq4nl_values[L[j]];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            d = sumqx / sumq2;
        }
        seq_quant__wrh(b, d);
        for (j = 0; j < 16; j++) b[2 + j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* 4-bit lookup blocks laid out as ggml's (value j low, j+16 high nibble of byte j). */
static void seq_quant__lut4_dequant(const uint8_t *qs, const int8_t *lut, float d, float *y) {
    int j;
    for (j = 0; j < 16; j++) {
        y[j] = (float)lut[qs[j] & 0xf] * d;
        y[j + 16] = (float)lut[qs[j] >> 4] * d;
    }
}

SEQDEF void seq_quant_dequantize_iq4_nl(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    for (i = 0; i < n / 32; i++, b += 18) seq_quant__lut4_dequant(b + 2, seq_quant__iq4nl_values, seq_quant__rdh(b), dst + 32 * i);
}

/* --- mxfp4 as ggml stores it: E2M1 codes (values doubled to be integers) with an E8M0
 * exponent e, x = code value * 2^(e-128); e = floor(log2 max|x|) - 2 + 127 and each value
 * takes the nearest level, the first in code order on ties (ggml's best_index_mxfp4). ---- */
static const int8_t seq_quant__mxfp4_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* 2^(e-128): half of E8M0's 2^(e-127), the doubled levels' unit; NaN for e = 255. Built
 * from bits: the kernels call it once per block. */
static float seq_quant__e8m0_half(uint8_t e) {
    uint32_t u = e == 255 ? 0x7fc00000u : e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

SEQDEF void seq_quant_quantize_mxfp4(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j, k;
    for (i = 0; i < n / 32; i++, b += 17) {
        const float *x = src + 32 * i;
        float amax = seq_quant__absmax(x, 32, NULL), d, e_f;
        e_f = amax > 0.0f ? floorf(log2f(amax)) - 2.0f + 127.0f : 0.0f;
        b[0] = (uint8_t)(e_f < 0.0f ? 0 : e_f > 254.0f ? 254 : (int)e_f);
        d = seq_quant__e8m0_half(b[0]);
        for (j = 0; j < 32; j++) {
            int best = 0;
            float best_err = fabsf((float)seq_quant__mxfp4_values[0] * d - x[j]);
            for (k = 1; k < 16; k++) {
                float err = fabsf((float)seq_quant__mxfp4_values[k] * d - x[j]);
                if (err < best_err) best = k, best_err = err;
            }
            if (j < 16) b[1 + j] = (uint8_t)best;
            else b[1 + j - 16] |= (uint8_t)(best << 4);
        }
    }
}

SEQDEF void seq_quant_dequantize_mxfp4(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    for (i = 0; i < n / 32; i++, b += 17) seq_quant__lut4_dequant(b + 1, seq_quant__mxfp4_values, seq_quant__e8m0_half(b[0]), dst + 32 * i);
}

/* ===================================================================================
 * 4  float formats (implementation)
 * =================================================================================== */

/* --- 4a ExMy ------------------------------------------------------------------------------- */
SEQDEF seq_quant_fp_format seq_quant_fp_e4m3(void) {
    seq_quant_fp_format f;
    f.ebits = 4, f.mbits = 3, f.bias = 7, f.special = SEQ_QUANT_FP_FN;
    return f;
}
SEQDEF seq_quant_fp_format seq_quant_fp_e5m2(void) {
    seq_quant_fp_format f;
    f.ebits = 5, f.mbits = 2, f.bias = 15, f.special = SEQ_QUANT_FP_IEEE;
    return f;
}
static seq_quant_fp_format seq_quant__fp_finite(int ebits, int mbits, int bias) {
    seq_quant_fp_format f;
    f.ebits = ebits, f.mbits = mbits, f.bias = bias, f.special = SEQ_QUANT_FP_FINITE;
    return f;
}
SEQDEF seq_quant_fp_format seq_quant_fp_e2m3(void) { return seq_quant__fp_finite(2, 3, 1); }
SEQDEF seq_quant_fp_format seq_quant_fp_e3m2(void) { return seq_quant__fp_finite(3, 2, 3); }
SEQDEF seq_quant_fp_format seq_quant_fp_e2m1(void) { return seq_quant__fp_finite(2, 1, 1); }

SEQDEF int seq_quant_fp_valid(seq_quant_fp_format f) {
    /* IEEE needs a finite binade below the reserved one and a mantissa for its NaN, FN a
     * finite value beside its NaN; the bias keeps every value inside f32's range */
    return f.ebits >= 1 && f.ebits <= 8 && f.mbits >= 0 && f.mbits <= 10 && f.ebits + f.mbits <= 15 &&
           (int)f.special >= 0 && f.special < SEQ_QUANT_FP_SPECIAL_COUNT &&
           !(f.special == SEQ_QUANT_FP_IEEE && (f.ebits < 2 || f.mbits < 1)) &&
           !(f.special == SEQ_QUANT_FP_FN && f.mbits < 1) &&
           (1 << f.ebits) - 1 - (f.special == SEQ_QUANT_FP_IEEE) - f.bias <= 127 && f.bias + f.mbits - 1 <= 149;
}

/* Largest finite exponent field and mantissa. */
static void seq_quant__fp_top(seq_quant_fp_format f, int *efield, int *mant) {
    int eall = (1 << f.ebits) - 1, mall = (1 << f.mbits) - 1;
    *efield = f.special == SEQ_QUANT_FP_IEEE ? eall - 1 : eall;
    *mant = f.special == SEQ_QUANT_FP_FN ? mall - 1 : mall;
}

SEQDEF float seq_quant_fp_max(seq_quant_fp_format f) {
    int e, m;
    seq_quant__fp_top(f, &e, &m);
    return ldexpf((float)((1 << f.mbits) + m), e - f.bias - f.mbits);
}

SEQDEF uint32_t seq_quant_fp_encode(seq_quant_fp_format f, float x, int saturate) {
    uint32_t sign = signbit(x) ? 1u << (f.ebits + f.mbits) : 0u, eall = (1u << f.ebits) - 1u;
    int etop, mtop, ex, e, emin = 1 - f.bias;
    float a = fabsf(x), r;
    uint32_t nan = f.special == SEQ_QUANT_FP_IEEE ? (eall << f.mbits) | (1u << (f.mbits - 1))
                                                   : (eall << f.mbits) | ((1u << f.mbits) - 1u);
    seq_quant__fp_top(f, &etop, &mtop);
    if (x != x) return f.special == SEQ_QUANT_FP_FINITE ? 0u : sign | nan;
    if (a == 0.0f) return sign;
    if (a <= FLT_MAX) {
        /* count quanta of the binade (or of the subnormal range), ties to even */
        int efield;
        uint32_t mant;
        frexpf(a, &ex);
        e = SEQ_QUANT__MAX(ex - 1, emin);
        r = nearbyintf(ldexpf(a, f.mbits - e));
        if (r >= (float)(2 << f.mbits)) r = (float)(1 << f.mbits), e++; /* rounded up a binade */
        efield = r < (float)(1 << f.mbits) ? 0 : e + f.bias;          /* below 2^m: subnormal */
        mant = (uint32_t)r - (efield ? (1u << f.mbits) : 0u);
        if (efield < etop || (efield == etop && (int)mant <= mtop)) return sign | ((uint32_t)efield << f.mbits) | mant;
    }
    /* beyond the largest finite value (or Inf) */
    if (saturate || f.special == SEQ_QUANT_FP_FINITE) return sign | ((uint32_t)etop << f.mbits) | (uint32_t)mtop;
    return f.special == SEQ_QUANT_FP_IEEE ? sign | (eall << f.mbits) : sign | nan;
}

SEQDEF float seq_quant_fp_decode(seq_quant_fp_format f, uint32_t code) {
    uint32_t eall = (1u << f.ebits) - 1u, mall = (1u << f.mbits) - 1u;
    uint32_t efield = (code >> f.mbits) & eall, mant = code & mall;
    float sign = (code >> (f.ebits + f.mbits)) & 1u ? -1.0f : 1.0f;
    if (efield == eall && f.special == SEQ_QUANT_FP_IEEE) return mant ? NAN : sign * INFINITY;
    if (efield == eall && mant == mall && f.special == SEQ_QUANT_FP_FN) return NAN;
    if (efield == 0) return sign * ldexpf((float)mant, 1 - f.bias - f.mbits);
    return sign * ldexpf((float)((1u << f.mbits) | mant), (int)efield - f.bias - f.mbits);
}

static seq_status seq_quant__fp_check(const char *fn, seq_quant_fp_format f, const void *src, const void *dst,
                                      int64_t n) {
    if (!seq_quant_fp_valid(f) || f.ebits + f.mbits > 7) {
        return seq_set_error(SEQ_ERR_INVALID, "%s: not a valid ExMy format of at most 8 bits", fn);
    }
    if (!src || !dst || n < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL buffer or negative n", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_fp_quantize(seq_quant_fp_format f, int saturate, const float *src, uint8_t *dst, int64_t n) {
    seq_status s = seq_quant__fp_check("seq_quant_fp_quantize", f, src, dst, n);
    int64_t i;
    if (s != SEQ_OK) return s;
    if (f.special == SEQ_QUANT_FP_FINITE) {
        for (i = 0; i < n; i++) {
            if (src[i] != src[i]) {
                return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_fp_quantize: value %lld is NaN and E%dM%d has no NaN",
                                     (long long)i, f.ebits, f.mbits);
            }
        }
    }
    for (i = 0; i < n; i++) dst[i] = (uint8_t)seq_quant_fp_encode(f, src[i], saturate);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_fp_dequantize(seq_quant_fp_format f, const uint8_t *src, float *dst, int64_t n) {
    seq_status s = seq_quant__fp_check("seq_quant_fp_dequantize", f, src, dst, n);
    int64_t i;
    if (s != SEQ_OK) return s;
    for (i = 0; i < n; i++) dst[i] = seq_quant_fp_decode(f, src[i]);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_fp_search_bias(int ebits, int mbits, seq_quant_fp_special special, const float *x,
                                           int64_t n, int *bias, double *mse) {
    seq_quant_fp_format f;
    float amax = 0.0f;
    double best = -1.0;
    int b, b0, ex;
    int64_t i;
    f.ebits = ebits, f.mbits = mbits, f.bias = (1 << (ebits > 0 ? ebits - 1 : 0)) - 1, f.special = special;
    if (!x || !bias || n <= 0 || !seq_quant_fp_valid(f)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_fp_search_bias: need a valid ExMy format and n > 0 values");
    }
    if ((i = seq_quant__first_nonfinite(x, n)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_fp_search_bias: value %lld is not finite", (long long)i);
    for (i = 0; i < n; i++) amax = SEQ_QUANT__MAX(amax, fabsf(x[i]));
    *bias = f.bias;
    if (mse) *mse = 0.0;
    if (amax == 0.0f) return SEQ_OK;
    /* the bias that puts the format's max at amax, then 8 binades either side */
    frexpf(amax / seq_quant_fp_max(f), &ex);
    b0 = f.bias - ex;
    for (b = b0 - 8; b <= b0 + 8; b++) {
        double err = 0.0;
        f.bias = b;
        if (!seq_quant_fp_valid(f)) continue;
        for (i = 0; i < n; i++) {
            double d = (double)seq_quant_fp_decode(f, seq_quant_fp_encode(f, x[i], 1)) - (double)x[i];
            err += d * d;
        }
        if (best < 0.0 || err < best) best = err, *bias = b;
    }
    if (mse) *mse = best / (double)n;
    return SEQ_OK;
}

/* --- 4b OCP FP8 rows ------------------------------------------------------------------------ */
static void seq_quant__fp_row(seq_quant_fp_format f, const float *src, void *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)seq_quant_fp_encode(f, src[i], 1);
}
static void seq_quant__fp_unrow(seq_quant_fp_format f, const void *src, float *dst, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = seq_quant_fp_decode(f, ((const uint8_t *)src)[i]);
}
SEQDEF void seq_quant_quantize_fp8_e4m3(const float *src, void *dst, int64_t n) { seq_quant__fp_row(seq_quant_fp_e4m3(), src, dst, n); }
SEQDEF void seq_quant_quantize_fp8_e5m2(const float *src, void *dst, int64_t n) { seq_quant__fp_row(seq_quant_fp_e5m2(), src, dst, n); }
SEQDEF void seq_quant_dequantize_fp8_e4m3(const void *src, float *dst, int64_t n) { seq_quant__fp_unrow(seq_quant_fp_e4m3(), src, dst, n); }
SEQDEF void seq_quant_dequantize_fp8_e5m2(const void *src, float *dst, int64_t n) { seq_quant__fp_unrow(seq_quant_fp_e5m2(), src, dst, n); }

/* --- 4c OCP MX ------------------------------------------------------------------------------ */
typedef struct seq_quant__mx_info {
    int bits; /* per element */
    int emax; /* exponent of the element format's largest binade */
    int is_int;
    int ebits, mbits, bias;
} seq_quant__mx_info;

static const seq_quant__mx_info seq_quant__mx[SEQ_QUANT_MX_ELEM_COUNT] = {
    {8, 8, 0, 4, 3, 7}, {8, 15, 0, 5, 2, 15}, {6, 2, 0, 2, 3, 1}, {6, 4, 0, 3, 2, 3}, {4, 2, 0, 2, 1, 1}, {8, 0, 1, 0, 0, 0},
};

static seq_quant_fp_format seq_quant__mx_format(seq_quant_mx_elem e) {
    const seq_quant__mx_info *m = &seq_quant__mx[e];
    seq_quant_fp_format f;
    f.ebits = m->ebits, f.mbits = m->mbits, f.bias = m->bias;
    f.special = e == SEQ_QUANT_MX_FP8_E4M3 ? SEQ_QUANT_FP_FN : e == SEQ_QUANT_MX_FP8_E5M2 ? SEQ_QUANT_FP_IEEE : SEQ_QUANT_FP_FINITE;
    return f;
}

SEQDEF size_t seq_quant_mx_elem_bytes(seq_quant_mx_elem e) {
    return (int)e >= 0 && e < SEQ_QUANT_MX_ELEM_COUNT ? (size_t)(32 * seq_quant__mx[e].bits / 8) : 0;
}

SEQDEF float seq_quant_e8m0_to_f32(uint8_t e) { return e == 255 ? NAN : ldexpf(1.0f, (int)e - 127); }

/* Element i's code into / out of a block: whole bytes, a 6-bit LSB-first stream, or
 * nibbles in the given order. */
static void seq_quant__mx_put(uint8_t *p, int bits, seq_quant_nibble_order order, int i, uint32_t code) {
    if (bits == 8) {
        p[i] = (uint8_t)code;
    } else if (bits == 6) {
        int bit = 6 * i, k;
        for (k = 0; k < 6; k++, bit++) {
            if ((code >> k) & 1u) p[bit >> 3] |= (uint8_t)(1u << (bit & 7));
            else p[bit >> 3] &= (uint8_t)~(1u << (bit & 7));
        }
    } else {
        int byte = order == SEQ_QUANT_NIBBLE_SPLIT_HALVES ? i % 16 : i / 2;
        int high = order == SEQ_QUANT_NIBBLE_SPLIT_HALVES ? i >= 16 : (i & 1) == (order == SEQ_QUANT_NIBBLE_LOW_FIRST);
        p[byte] = high ? (uint8_t)((p[byte] & 0x0f) | (code << 4)) : (uint8_t)((p[byte] & 0xf0) | (code & 0xf));
    }
}

static uint32_t seq_quant__mx_get(const uint8_t *p, int bits, seq_quant_nibble_order order, int i) {
    if (bits == 8) return p[i];
    if (bits == 6) {
        int bit = 6 * i;
        uint32_t two = (uint32_t)p[bit >> 3] | ((bit >> 3) + 1 < 24 ? (uint32_t)p[(bit >> 3) + 1] << 8 : 0u);
        return (two >> (bit & 7)) & 63u;
    } else {
        int byte = order == SEQ_QUANT_NIBBLE_SPLIT_HALVES ? i % 16 : i / 2;
        int high = order == SEQ_QUANT_NIBBLE_SPLIT_HALVES ? i >= 16 : (i & 1) == (order == SEQ_QUANT_NIBBLE_LOW_FIRST);
        return high ? (uint32_t)(p[byte] >> 4) : (uint32_t)(p[byte] & 0xf);
    }
}

/* One block of 32: its E8M0 scale and element codes. */
static uint8_t seq_quant__mx_block(seq_quant_mx_elem e, seq_quant_nibble_order order, const float *x, uint8_t *elems) {
    const seq_quant__mx_info *m = &seq_quant__mx[e];
    seq_quant_fp_format f = seq_quant__mx_format(e);
    float amax = 0.0f;
    int j, ex, scale;
    for (j = 0; j < 32; j++) {
        if (!isfinite(x[j])) {
            memset(elems, 0, seq_quant_mx_elem_bytes(e));
            return 255;
        }
        amax = SEQ_QUANT__MAX(amax, fabsf(x[j]));
    }
    if (amax == 0.0f) {
        memset(elems, 0, seq_quant_mx_elem_bytes(e));
        return 0;
    }
    frexpf(amax, &ex); /* floor(log2 amax) = ex - 1 */
    scale = SEQ_QUANT__MAX(0, SEQ_QUANT__MIN(254, ex - 1 - m->emax + 127));
    for (j = 0; j < 32; j++) {
        float v = ldexpf(x[j], 127 - scale);
        uint32_t code;
        if (m->is_int) { /* two's complement with 6 fraction bits, symmetric ±127 */
            code = (uint32_t)(uint8_t)(int8_t)SEQ_QUANT__MAX(-127.0f, SEQ_QUANT__MIN(127.0f, nearbyintf(v * 64.0f)));
        } else {
            code = seq_quant_fp_encode(f, v, 1);
        }
        seq_quant__mx_put(elems, m->bits, order, j, code);
    }
    return (uint8_t)scale;
}

static void seq_quant__mx_unblock(seq_quant_mx_elem e, seq_quant_nibble_order order, uint8_t scale,
                                  const uint8_t *elems, float *y) {
    const seq_quant__mx_info *m = &seq_quant__mx[e];
    seq_quant_fp_format f = seq_quant__mx_format(e);
    float X = seq_quant_e8m0_to_f32(scale);
    int j;
    for (j = 0; j < 32; j++) {
        uint32_t code = seq_quant__mx_get(elems, m->bits, order, j);
        float v = m->is_int ? (float)(int8_t)(uint8_t)code / 64.0f : seq_quant_fp_decode(f, code);
        y[j] = v * X;
    }
}

static seq_status seq_quant__mx_check(const char *fn, seq_quant_mx_elem e, seq_quant_nibble_order order,
                                      const void *a, const void *b, const void *c, int64_t n) {
    if ((int)e < 0 || e >= SEQ_QUANT_MX_ELEM_COUNT || (int)order < 0 || order >= SEQ_QUANT_NIBBLE_ORDER_COUNT) {
        return seq_set_error(SEQ_ERR_INVALID, "%s: unknown element type or nibble order", fn);
    }
    if (!a || !b || !c || n < 0 || n % 32 != 0) {
        return seq_set_error(SEQ_ERR_INVALID, "%s: MX blocks hold 32 values, got n = %lld (or a NULL buffer)", fn,
                             (long long)n);
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_mx_quantize(seq_quant_mx_elem e, seq_quant_nibble_order order, const float *src,
                                        int64_t n, uint8_t *scales, uint8_t *elems) {
    seq_status s = seq_quant__mx_check("seq_quant_mx_quantize", e, order, src, scales, elems, n);
    int64_t i;
    if (s != SEQ_OK) return s;
    for (i = 0; i < n / 32; i++) scales[i] = seq_quant__mx_block(e, order, src + 32 * i, elems + (size_t)i * seq_quant_mx_elem_bytes(e));
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_mx_dequantize(seq_quant_mx_elem e, seq_quant_nibble_order order, const uint8_t *scales,
                                          const uint8_t *elems, int64_t n, float *dst) {
    seq_status s = seq_quant__mx_check("seq_quant_mx_dequantize", e, order, scales, elems, dst, n);
    int64_t i;
    if (s != SEQ_OK) return s;
    for (i = 0; i < n / 32; i++) seq_quant__mx_unblock(e, order, scales[i], elems + (size_t)i * seq_quant_mx_elem_bytes(e), dst + 32 * i);
    return SEQ_OK;
}

/* Table rows: {u8 e; elements} per 32. */
static void seq_quant__mx_row(seq_quant_mx_elem e, const float *src, void *dst, int64_t n) {
    size_t bb = 1 + seq_quant_mx_elem_bytes(e);
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    for (i = 0; i < n / 32; i++, b += bb) b[0] = seq_quant__mx_block(e, SEQ_QUANT_NIBBLE_LOW_FIRST, src + 32 * i, b + 1);
}
static void seq_quant__mx_unrow(seq_quant_mx_elem e, const void *src, float *dst, int64_t n) {
    size_t bb = 1 + seq_quant_mx_elem_bytes(e);
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    for (i = 0; i < n / 32; i++, b += bb) seq_quant__mx_unblock(e, SEQ_QUANT_NIBBLE_LOW_FIRST, b[0], b + 1, dst + 32 * i);
}
SEQDEF void seq_quant_quantize_mxfp8_e4m3(const float *src, void *dst, int64_t n) { seq_quant__mx_row(SEQ_QUANT_MX_FP8_E4M3, src, dst, n); }
SEQDEF void seq_quant_quantize_mxfp8_e5m2(const float *src, void *dst, int64_t n) { seq_quant__mx_row(SEQ_QUANT_MX_FP8_E5M2, src, dst, n); }
SEQDEF void seq_quant_quantize_mxfp6_e2m3(const float *src, void *dst, int64_t n) { seq_quant__mx_row(SEQ_QUANT_MX_FP6_E2M3, src, dst, n); }
SEQDEF void seq_quant_quantize_mxfp6_e3m2(const float *src, void *dst, int64_t n) { seq_quant__mx_row(SEQ_QUANT_MX_FP6_E3M2, src, dst, n); }
SEQDEF void seq_quant_quantize_mxint8(const float *src, void *dst, int64_t n) { seq_quant__mx_row(SEQ_QUANT_MX_INT8, src, dst, n); }
SEQDEF void seq_quant_dequantize_mxfp8_e4m3(const void *src, float *dst, int64_t n) { seq_quant__mx_unrow(SEQ_QUANT_MX_FP8_E4M3, src, dst, n); }
SEQDEF void seq_quant_dequantize_mxfp8_e5m2(const void *src, float *dst, int64_t n) { seq_quant__mx_unrow(SEQ_QUANT_MX_FP8_E5M2, src, dst, n); }
SEQDEF void seq_quant_dequantize_mxfp6_e2m3(const void *src, float *dst, int64_t n) { seq_quant__mx_unrow(SEQ_QUANT_MX_FP6_E2M3, src, dst, n); }
SEQDEF void seq_quant_dequantize_mxfp6_e3m2(const void *src, float *dst, int64_t n) { seq_quant__mx_unrow(SEQ_QUANT_MX_FP6_E3M2, src, dst, n); }
SEQDEF void seq_quant_dequantize_mxint8(const void *src, float *dst, int64_t n) { seq_quant__mx_unrow(SEQ_QUANT_MX_INT8, src, dst, n); }

/* --- 4d NF4 ---------------------------------------------------------------------------------
 * The values as bitsandbytes tabulates them (QLoRA appendix E). */
static const float seq_quant__nf4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
    -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
    0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

SEQDEF const float *seq_quant_nf4_values(void) { return seq_quant__nf4; }

/* The code of x in [-1, 1]: how many midpoints lie strictly below it. */
static int seq_quant__nf4_code(float x) {
    int q = 0, k;
    for (k = 0; k < 15; k++) q += x > 0.5f * (seq_quant__nf4[k] + seq_quant__nf4[k + 1]);
    return q;
}

SEQDEF void seq_quant_quantize_nf4(const float *src, void *dst, int64_t n) {
    uint8_t *b = (uint8_t *)dst;
    int64_t i;
    int j;
    for (i = 0; i < n / 64; i++, b += 36) {
        const float *x = src + 64 * i;
        float amax = seq_quant__absmax(x, 64, NULL), inv = amax > 0.0f ? 1.0f / amax : 0.0f;
        seq_quant__wrf32(b, amax);
        for (j = 0; j < 32; j++) b[4 + j] = (uint8_t)((seq_quant__nf4_code(x[2 * j] * inv) << 4) | seq_quant__nf4_code(x[2 * j + 1] * inv));
    }
}

SEQDEF void seq_quant_dequantize_nf4(const void *src, float *dst, int64_t n) {
    const uint8_t *b = (const uint8_t *)src;
    int64_t i;
    int j;
    for (i = 0; i < n / 64; i++, b += 36) {
        float amax = seq_quant__rdf32(b);
        for (j = 0; j < 32; j++) {
            dst[64 * i + 2 * j] = seq_quant__nf4[b[4 + j] >> 4] * amax;
            dst[64 * i + 2 * j + 1] = seq_quant__nf4[b[4 + j] & 0xf] * amax;
        }
    }
}

SEQDEF seq_status seq_quant_nf4_double_quant(const float *absmax, int64_t nscale, uint8_t *codes, float *gscale,
                                             float *mean) {
    seq_quant_fp_format f = seq_quant_fp_e4m3();
    double sum = 0.0;
    int64_t i, g;
    if (!absmax || !codes || !gscale || !mean || nscale <= 0) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_nf4_double_quant: NULL buffer or no scales");
    }
    for (i = 0; i < nscale; i++) {
        if (!isfinite(absmax[i]) || absmax[i] < 0.0f) {
            return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_nf4_double_quant: absmax %lld is negative or not finite",
                                 (long long)i);
        }
        sum += absmax[i];
    }
    *mean = (float)(sum / (double)nscale);
    for (g = 0; g * 256 < nscale; g++) {
        int64_t lo = g * 256, hi = SEQ_QUANT__MIN(nscale, lo + 256);
        float gmax = 0.0f, inv;
        for (i = lo; i < hi; i++) gmax = SEQ_QUANT__MAX(gmax, fabsf(absmax[i] - *mean));
        gscale[g] = gmax / seq_quant_fp_max(f);
        inv = gscale[g] > 0.0f ? 1.0f / gscale[g] : 0.0f;
        for (i = lo; i < hi; i++) codes[i] = (uint8_t)seq_quant_fp_encode(f, (absmax[i] - *mean) * inv, 1);
    }
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_nf4_double_dequant(const uint8_t *codes, const float *gscale, float mean,
                                               int64_t nscale, float *absmax) {
    seq_quant_fp_format f = seq_quant_fp_e4m3();
    int64_t i;
    if (!codes || !gscale || !absmax || nscale <= 0) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_nf4_double_dequant: NULL buffer or no scales");
    }
    for (i = 0; i < nscale; i++) absmax[i] = seq_quant_fp_decode(f, codes[i]) * gscale[i / 256] + mean;
    return SEQ_OK;
}

/* ===================================================================================
 * 5  quantized kernels (implementation)
 * =================================================================================== */

#if !defined(SEQ_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SEQ_QUANT__AVX2 1
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define SEQ_QUANT__VNNI 1
#endif
#endif

/* NF4's values as int8 for the integer dot: round(127 v). */
static const int8_t seq_quant__nf4_i8[16] = {-127, -88, -67, -50, -36, -23, -12, 0, 10, 20, 31, 43, 56, 71, 92, 127};

/* --- scalar reference twins: each block's integer dot, then its scales ------------------- */
static float seq_quant__dot_f32(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n; i++) s += seq_quant__rdf32(x + 4 * i) * seq_quant__rdf32(y + 4 * i);
    return s;
}
static float seq_quant__dot_f16(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n; i++) s += seq_quant__rdh(x + 2 * i) * seq_quant__rdf32(y + 4 * i);
    return s;
}
static float seq_quant__dot_bf16(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n; i++) s += seq_bf16_to_f32(seq_quant__rd16(x + 2 * i)) * seq_quant__rdf32(y + 4 * i);
    return s;
}

/* Σ w[j] a[j] over 32 int8 pairs. */
static int32_t seq_quant__isum32(const int8_t *w, const int8_t *a) {
    int32_t s = 0;
    int j;
    for (j = 0; j < 32; j++) s += (int32_t)w[j] * a[j];
    return s;
}

/* A 4-bit ggml block (j low, j+16 high nibble of byte j) through a lookup, as int8. */
static void seq_quant__unpack4(const uint8_t *qs, const int8_t *lut, int8_t *v) {
    int j;
    for (j = 0; j < 16; j++) {
        v[j] = lut[qs[j] & 0xf];
        v[j + 16] = lut[qs[j] >> 4];
    }
}

static const int8_t seq_quant__q4_0_values[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

static float seq_quant__dot_q8_0_ref(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n / 32; i++, x += 34, y += 34)
        s += (float)seq_quant__isum32((const int8_t *)(x + 2), (const int8_t *)(y + 2)) * (seq_quant__rdh(x) * seq_quant__rdh(y));
    return s;
}

/* q4_0, iq4_nl, mxfp4: a 16-entry table and one scale per block, against q8_0. */
static float seq_quant__dot_lut4_ref(int64_t n, const uint8_t *x, size_t bytes, const int8_t *lut, int e8m0,
                                     const uint8_t *y) {
    int8_t v[32];
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n / 32; i++, x += bytes, y += 34) {
        float d = e8m0 ? seq_quant__e8m0_half(x[0]) : seq_quant__rdh(x);
        seq_quant__unpack4(x + bytes - 16, lut, v);
        s += (float)seq_quant__isum32(v, (const int8_t *)(y + 2)) * (d * seq_quant__rdh(y));
    }
    return s;
}
static float seq_quant__dot_q4_0_ref(int64_t n, const void *w, const void *a) {
    return seq_quant__dot_lut4_ref(n, (const uint8_t *)w, 18, seq_quant__q4_0_values, 0, (const uint8_t *)a);
}
static float seq_quant__dot_iq4_nl_ref(int64_t n, const void *w, const void *a) {
    return seq_quant__dot_lut4_ref(n, (const uint8_t *)w, 18, seq_quant__iq4nl_values, 0, (const uint8_t *)a);
}
static float seq_quant__dot_mxfp4_ref(int64_t n, const void *w, const void *a) {
    return seq_quant__dot_lut4_ref(n, (const uint8_t *)w, 17, seq_quant__mxfp4_values, 1, (const uint8_t *)a);
}

/* q4_1 against q8_1: Σ (d q + m) a = d da Σ q qa + m (da Σ qa), the last factor being q8_1's s. */
static float seq_quant__dot_q4_1_ref(int64_t n, const void *w, const void *a) {
    static const int8_t id[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    int8_t v[32];
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n / 32; i++, x += 20, y += 36) {
        seq_quant__unpack4(x + 4, id, v);
        s += (float)seq_quant__isum32(v, (const int8_t *)(y + 4)) * (seq_quant__rdh(x) * seq_quant__rdh(y)) +
             seq_quant__rdh(x + 2) * seq_quant__rdh(y + 2);
    }
    return s;
}

static float seq_quant__dot_q5_0_ref(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    int8_t v[32];
    float s = 0.0f;
    int64_t i;
    int j;
    for (i = 0; i < n / 32; i++, x += 22, y += 34) {
        uint32_t qh = seq_quant__rd32(x + 2);
        for (j = 0; j < 16; j++) {
            v[j] = (int8_t)(((x[6 + j] & 0xf) | (int)(((qh >> j) & 1) << 4)) - 16);
            v[j + 16] = (int8_t)(((x[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        s += (float)seq_quant__isum32(v, (const int8_t *)(y + 2)) * (seq_quant__rdh(x) * seq_quant__rdh(y));
    }
    return s;
}

/* q8_K's partial sum of 16 values. */
static int32_t seq_quant__bsum(const uint8_t *y, int k) { return (int32_t)(int16_t)seq_quant__rd16(y + 260 + 2 * k); }

/* q4_K against q8_K: d da Σ_j sc_j Σ q a - dmin da Σ_j m_j Σ a. */
static float seq_quant__dot_q4_K_ref(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    int j, l;
    for (i = 0; i < n / 256; i++, x += 144, y += 292) {
        float da = seq_quant__rdf32(y);
        int32_t isum = 0, msum = 0;
        for (j = 0; j < 8; j++) {
            const uint8_t *q = x + 16 + 32 * (j / 2);
            const int8_t *ya = (const int8_t *)(y + 4 + 32 * j);
            int sc, m;
            int32_t t = 0;
            seq_quant__scale_min_k4(j, x + 4, &sc, &m);
            for (l = 0; l < 32; l++) t += (int32_t)((q[l] >> (4 * (j & 1))) & 0xf) * ya[l];
            isum += sc * t;
            msum += m * (seq_quant__bsum(y, 2 * j) + seq_quant__bsum(y, 2 * j + 1));
        }
        s += seq_quant__rdh(x) * da * (float)isum - seq_quant__rdh(x + 2) * da * (float)msum;
    }
    return s;
}

/* q6_K against q8_K: d da Σ_k sc_k (Σ q a - 32 Σ a) over the 16 sub-blocks. */
static float seq_quant__dot_q6_K_ref(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    int p;
    for (i = 0; i < n / 256; i++, x += 210, y += 292) {
        int32_t isum = 0;
        for (p = 0; p < 256; p++) isum += (int32_t)(int8_t)x[192 + p / 16] * seq_quant__q6_value(x, p) * ((const int8_t *)(y + 4))[p];
        for (p = 0; p < 16; p++) isum -= 32 * (int32_t)(int8_t)x[192 + p] * seq_quant__bsum(y, p);
        s += seq_quant__rdh(x + 208) * seq_quant__rdf32(y) * (float)isum;
    }
    return s;
}

/* NF4 (64 per block, value 2i high nibble) against two q8_0 blocks. */
static float seq_quant__dot_nf4_ref(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    int8_t v[64];
    float s = 0.0f;
    int64_t i;
    int j, h;
    for (i = 0; i < n / 64; i++, x += 36) {
        float d = seq_quant__rdf32(x) / 127.0f;
        for (j = 0; j < 32; j++) {
            v[2 * j] = seq_quant__nf4_i8[x[4 + j] >> 4];
            v[2 * j + 1] = seq_quant__nf4_i8[x[4 + j] & 0xf];
        }
        for (h = 0; h < 2; h++, y += 34) s += (float)seq_quant__isum32(v + 32 * h, (const int8_t *)(y + 2)) * (d * seq_quant__rdh(y));
    }
    return s;
}

/* int8 rows against q8_0 (the per-row scale is applied by the caller). */
static float seq_quant__dot_i8_ref(int64_t n, const void *w, const void *a) {
    const int8_t *x = (const int8_t *)w;
    const uint8_t *y = (const uint8_t *)a;
    float s = 0.0f;
    int64_t i;
    for (i = 0; i < n / 32; i++, y += 34) s += (float)seq_quant__isum32(x + 32 * i, (const int8_t *)(y + 2)) * seq_quant__rdh(y);
    return s;
}

#ifdef SEQ_QUANT__AVX2
/* --- SIMD: 32 int8 pairs per 256-bit register ----------------------------------------------
 * u8 x s8 products summed by fours into 8 int32 lanes: one VNNI instruction, or AVX2's
 * maddubs (pairs to int16, which cannot saturate here: |u| <= 128, |s| <= 127) + madd. */
static __m256i seq_quant__dp_us(__m256i acc, __m256i u, __m256i s) {
#ifdef SEQ_QUANT__VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}
/* s8 x s8: move x's sign onto y so that x can enter as unsigned. */
static __m256i seq_quant__dp_ss(__m256i acc, __m256i x, __m256i y) {
    return seq_quant__dp_us(acc, _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}
static float seq_quant__hsum(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}
/* A block's f16 scale: one instruction with F16C (exact, as seq_f16_to_f32). */
static float seq_quant__h(const uint8_t *p) {
#ifdef __F16C__
    return _cvtsh_ss(seq_quant__rd16(p));
#else
    return seq_quant__rdh(p);
#endif
}
static __m256i seq_quant__load(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }
/* The 32 nibbles of a ggml 4-bit block, in value order: low nibbles, then high. The 16
 * bytes are loaded into both halves and only the upper half shifted, which keeps the
 * unpacking off the shuffle port. */
static __m256i seq_quant__nibbles(const uint8_t *qs) {
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)qs));
    return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}
static __m256i seq_quant__lut(const int8_t *lut) { return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)lut)); }

/* acc + scale * Σ x y over one block of 32 int8 pairs (y: a q8_0 block). */
static __m256 seq_quant__block_ss(__m256 acc, __m256i x, const uint8_t *y, __m256 scale) {
    __m256i p = seq_quant__dp_ss(_mm256_setzero_si256(), x, seq_quant__load(y + 2));
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc);
}

/* The f16 values at p + k stride (k = 0..3) as 4 floats: one conversion for four blocks,
 * which matters because per-block scalar conversions cost as much as the integer dot. */
static __m128 seq_quant__h4(const uint8_t *p, size_t stride) {
#ifdef __F16C__
    uint64_t u = (uint64_t)seq_quant__rd16(p) | ((uint64_t)seq_quant__rd16(p + stride) << 16) |
                 ((uint64_t)seq_quant__rd16(p + 2 * stride) << 32) | ((uint64_t)seq_quant__rd16(p + 3 * stride) << 48);
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)u));
#else
    return _mm_setr_ps(seq_quant__rdh(p), seq_quant__rdh(p + stride), seq_quant__rdh(p + 2 * stride), seq_quant__rdh(p + 3 * stride));
#endif
}
static __m256 seq_quant__lane(__m128 v, int k) { return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(k)); }

/* The blocks of a 32-block format against q8_0, four at a time into four accumulators (one
 * alone would wait on every fmadd). VALUES(x) is a block's 32 int8 values, SCALE(x) its
 * scale, SCALE4(x, stride) the scales of four blocks. */
#define SEQ_QUANT__DOT4(bytes, VALUES, SCALE, SCALE4)                                             \
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;                               \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                   \
    int64_t i, nb = n / 32;                                                                       \
    for (i = 0; i + 4 <= nb; i += 4, x += 4 * (bytes), y += 4 * 34) {                             \
        __m128 s4 = _mm_mul_ps(SCALE4(x, (bytes)), seq_quant__h4(y, 34));                         \
        a0 = seq_quant__block_ss(a0, VALUES(x), y, seq_quant__lane(s4, 0));                       \
        a1 = seq_quant__block_ss(a1, VALUES(x + (bytes)), y + 34, seq_quant__lane(s4, 1));        \
        a2 = seq_quant__block_ss(a2, VALUES(x + 2 * (bytes)), y + 68, seq_quant__lane(s4, 2));    \
        a3 = seq_quant__block_ss(a3, VALUES(x + 3 * (bytes)), y + 102, seq_quant__lane(s4, 3));   \
    }                                                                                             \
    for (; i < nb; i++, x += (bytes), y += 34)                                                    \
        a0 = seq_quant__block_ss(a0, VALUES(x), y, _mm256_set1_ps(SCALE(x) * seq_quant__h(y)));   \
    return seq_quant__hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)))

static float seq_quant__hsum4(const __m256 *acc) {
    return seq_quant__hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

#define SEQ_QUANT__Q8_VALUES(x) seq_quant__load((x) + 2)
#define SEQ_QUANT__F16_SCALE(x) seq_quant__h(x)
#define SEQ_QUANT__F16_SCALE4(x, stride) seq_quant__h4((x), (stride))
#define SEQ_QUANT__E8M0_SCALE(x) seq_quant__e8m0_half((x)[0])
#define SEQ_QUANT__E8M0_SCALE4(x, stride)                                                          \
    _mm_setr_ps(seq_quant__e8m0_half((x)[0]), seq_quant__e8m0_half((x)[stride]),                   \
                seq_quant__e8m0_half((x)[2 * (stride)]), seq_quant__e8m0_half((x)[3 * (stride)]))
#define SEQ_QUANT__LUT4_VALUES(x) _mm256_shuffle_epi8(lut, seq_quant__nibbles((x) + 2))
#define SEQ_QUANT__MXFP4_VALUES(x) _mm256_shuffle_epi8(lut, seq_quant__nibbles((x) + 1))

static float seq_quant__dot_q8_0(int64_t n, const void *w, const void *a) {
    SEQ_QUANT__DOT4(34, SEQ_QUANT__Q8_VALUES, SEQ_QUANT__F16_SCALE, SEQ_QUANT__F16_SCALE4);
}
#ifdef SEQ_QUANT__VNNI
/* q4_0 two blocks to a 512-bit register. Σ (q - 8) y = dpbusd(q, y) - dpbusd(8, y) takes no
 * table lookup and no sign moves: at 18 bytes a block q4_0 is bound by instructions rather
 * than memory, and this form reads weights at about the bandwidth probe's rate where the
 * 256-bit one reached two thirds of it (docs/quant.md). GCC 12's unmasked AVX-512
 * intrinsics trip -Wmaybe-uninitialized in C++ (their pass-through source is left
 * undefined), so these use the zero-masked forms with every lane set. */
static __m512i seq_quant__join(__m256i lo, __m256i hi) { /* [lo, hi] */
    __m512i l = _mm512_maskz_inserti64x4((__mmask8)0xff, _mm512_setzero_si512(), lo, 0);
    return _mm512_maskz_inserti64x4((__mmask8)0xff, l, hi, 1);
}
static __m512 seq_quant__q4_0_pair(__m512 acc, const uint8_t *x, const uint8_t *y, __m128 s4, int k) {
    const __m512i zero = _mm512_setzero_si512();
    __m256i x0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(x + 2)));
    __m256i x1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(x + 20)));
    __m512i q = seq_quant__join(x0, x1); /* as in seq_quant__nibbles, twice */
    __m512i yy = seq_quant__join(seq_quant__load(y + 2), seq_quant__load(y + 36));
    __m512i p;
    __m512 scale;
    q = _mm512_maskz_srlv_epi64((__mmask8)0xff, q, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    q = _mm512_and_si512(q, _mm512_set1_epi8(0x0f));
    p = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, q, yy), _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(8), yy));
    scale = _mm512_maskz_broadcast_f32x4((__mmask16)0xffff, s4); /* the scales of blocks k, k + 1 */
    scale = _mm512_maskz_permutexvar_ps((__mmask16)0xffff, _mm512_setr_epi32(k, k, k, k, k, k, k, k, k + 1, k + 1, k + 1,
                                                                             k + 1, k + 1, k + 1, k + 1, k + 1), scale);
    return _mm512_fmadd_ps(scale, _mm512_maskz_cvtepi32_ps((__mmask16)0xffff, p), acc);
}
/* Eight blocks a step into four accumulators; the last few blocks take the 256-bit path. */
static float seq_quant__dot_q4_0(int64_t n, const void *w, const void *a) {
    const __m256i lut = seq_quant__lut(seq_quant__q4_0_values);
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 tail = _mm256_setzero_ps();
    int64_t i, nb = n / 32;
    for (i = 0; i + 8 <= nb; i += 8, x += 8 * 18, y += 8 * 34) {
        __m128 s0 = _mm_mul_ps(seq_quant__h4(x, 18), seq_quant__h4(y, 34));
        __m128 s1 = _mm_mul_ps(seq_quant__h4(x + 72, 18), seq_quant__h4(y + 136, 34));
        a0 = seq_quant__q4_0_pair(a0, x, y, s0, 0);
        a1 = seq_quant__q4_0_pair(a1, x + 36, y + 68, s0, 2);
        a2 = seq_quant__q4_0_pair(a2, x + 72, y + 136, s1, 0);
        a3 = seq_quant__q4_0_pair(a3, x + 108, y + 204, s1, 2);
    }
    for (; i < nb; i++, x += 18, y += 34)
        tail = seq_quant__block_ss(tail, SEQ_QUANT__LUT4_VALUES(x), y,
                                   _mm256_set1_ps(seq_quant__h(x) * seq_quant__h(y)));
    a0 = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    tail = _mm256_add_ps(tail, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd((__mmask8)0xf, _mm512_castps_pd(a0), 0)));
    tail = _mm256_add_ps(tail, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd((__mmask8)0xf, _mm512_castps_pd(a0), 1)));
    return seq_quant__hsum(tail);
}
#else
static float seq_quant__dot_q4_0(int64_t n, const void *w, const void *a) {
    const __m256i lut = seq_quant__lut(seq_quant__q4_0_values);
    SEQ_QUANT__DOT4(18, SEQ_QUANT__LUT4_VALUES, SEQ_QUANT__F16_SCALE, SEQ_QUANT__F16_SCALE4);
}
#endif
static float seq_quant__dot_iq4_nl(int64_t n, const void *w, const void *a) {
    const __m256i lut = seq_quant__lut(seq_quant__iq4nl_values);
    SEQ_QUANT__DOT4(18, SEQ_QUANT__LUT4_VALUES, SEQ_QUANT__F16_SCALE, SEQ_QUANT__F16_SCALE4);
}
static float seq_quant__dot_mxfp4(int64_t n, const void *w, const void *a) {
    const __m256i lut = seq_quant__lut(seq_quant__mxfp4_values);
    SEQ_QUANT__DOT4(17, SEQ_QUANT__MXFP4_VALUES, SEQ_QUANT__E8M0_SCALE, SEQ_QUANT__E8M0_SCALE4);
}

/* q4_1: the min term is m * (q8_1's s), one scalar product per block. */
static float seq_quant__dot_q4_1(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    __m256 acc[4];
    float mins = 0.0f;
    int64_t i;
    acc[0] = acc[1] = acc[2] = acc[3] = _mm256_setzero_ps();
    for (i = 0; i < n / 32; i++, x += 20, y += 36) {
        __m256i p = seq_quant__dp_us(_mm256_setzero_si256(), seq_quant__nibbles(x + 4), seq_quant__load(y + 4));
        acc[i & 3] = _mm256_fmadd_ps(_mm256_set1_ps(seq_quant__h(x) * seq_quant__h(y)), _mm256_cvtepi32_ps(p), acc[i & 3]);
        mins += seq_quant__h(x + 2) * seq_quant__h(y + 2);
    }
    return seq_quant__hsum4(acc) + mins;
}

/* q5_0's 32 values minus 16: the nibbles, plus 16 where bit j of qh is set (byte j of
 * the spread mask is 0xff then). */
static __m256i seq_quant__q5_0_values(const uint8_t *x) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                            3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi32((int)seq_quant__rd32(x + 2)), spread);
    __m256i q = _mm256_or_si256(seq_quant__nibbles(x + 6),
                                _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit), bit), _mm256_set1_epi8(0x10)));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}
static float seq_quant__dot_q5_0(int64_t n, const void *w, const void *a) {
    SEQ_QUANT__DOT4(22, seq_quant__q5_0_values, SEQ_QUANT__F16_SCALE, SEQ_QUANT__F16_SCALE4);
}

static float seq_quant__dot_q4_K(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    int64_t i;
    int j;
    for (i = 0; i < n / 256; i++, x += 144, y += 292) {
        float da = seq_quant__rdf32(y);
        __m256i isum = _mm256_setzero_si256();
        int32_t msum = 0;
        for (j = 0; j < 8; j += 2) {
            __m256i raw = seq_quant__load(x + 16 + 16 * j);
            __m256i p0 = seq_quant__dp_us(_mm256_setzero_si256(), _mm256_and_si256(raw, m4), seq_quant__load(y + 4 + 32 * j));
            __m256i p1 = seq_quant__dp_us(_mm256_setzero_si256(), _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                                          seq_quant__load(y + 36 + 32 * j));
            int s0, m0, s1, m1;
            seq_quant__scale_min_k4(j, x + 4, &s0, &m0);
            seq_quant__scale_min_k4(j + 1, x + 4, &s1, &m1);
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(_mm256_mullo_epi32(p0, _mm256_set1_epi32(s0)),
                                                           _mm256_mullo_epi32(p1, _mm256_set1_epi32(s1))));
            msum += m0 * (seq_quant__bsum(y, 2 * j) + seq_quant__bsum(y, 2 * j + 1)) +
                    m1 * (seq_quant__bsum(y, 2 * j + 2) + seq_quant__bsum(y, 2 * j + 3));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(seq_quant__h(x) * da), _mm256_cvtepi32_ps(isum), acc);
        mins += seq_quant__h(x + 2) * da * (float)msum;
    }
    return seq_quant__hsum(acc) - mins;
}

static float seq_quant__dot_q6_K(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    __m256 acc = _mm256_setzero_ps();
    int64_t i;
    int h, k, p;
    for (i = 0; i < n / 256; i++, x += 210, y += 292) {
        const int8_t *sc = (const int8_t *)(x + 192);
        __m256i isum = _mm256_setzero_si256();
        int32_t corr = 0;
        for (h = 0; h < 2; h++) {
            __m256i qh = seq_quant__load(x + 128 + 32 * h);
            for (k = 0; k < 4; k++) {
                __m256i lo = seq_quant__load(x + 64 * h + 32 * (k & 1));
                __m256i q = _mm256_and_si256(k >> 1 ? _mm256_srli_epi16(lo, 4) : lo, _mm256_set1_epi8(0x0f));
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
                int s = 8 * h + 2 * k; /* the two sub-blocks of 16 these 32 values span */
                q = _mm256_or_si256(q, _mm256_slli_epi16(hi, 4));
                isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(seq_quant__dp_us(_mm256_setzero_si256(), q, seq_quant__load(y + 4 + 128 * h + 32 * k)),
                                                                 _mm256_setr_epi32(sc[s], sc[s], sc[s], sc[s], sc[s + 1], sc[s + 1], sc[s + 1], sc[s + 1])));
            }
        }
        for (p = 0; p < 16; p++) corr += 32 * sc[p] * seq_quant__bsum(y, p);
        isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(corr, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(seq_quant__h(x + 208) * seq_quant__rdf32(y)), _mm256_cvtepi32_ps(isum), acc);
    }
    return seq_quant__hsum(acc);
}

static float seq_quant__dot_nf4(int64_t n, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w, *y = (const uint8_t *)a;
    const __m256i lut = seq_quant__lut(seq_quant__nf4_i8);
    __m256 accs[4];
    int64_t i;
    int h;
    accs[0] = accs[1] = accs[2] = accs[3] = _mm256_setzero_ps();
    for (i = 0; i < n / 64; i++, x += 36) {
        float d = seq_quant__rdf32(x) / 127.0f;
        for (h = 0; h < 2; h++, y += 34) {
            __m256 *acc = &accs[2 * (i & 1) + h];
            /* byte b -> 16-bit lane (b >> 4) | (b & 15) << 8: value 2i (high nibble) first */
            __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + 4 + 16 * h)));
            __m256i codes = _mm256_or_si256(_mm256_srli_epi16(b, 4), _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x0f)), 8));
            __m256i p = seq_quant__dp_ss(_mm256_setzero_si256(), _mm256_shuffle_epi8(lut, codes), seq_quant__load(y + 2));
            *acc = _mm256_fmadd_ps(_mm256_set1_ps(d * seq_quant__h(y)), _mm256_cvtepi32_ps(p), *acc);
        }
    }
    return seq_quant__hsum4(accs);
}

/* int8 rows: no weight scale per block (the row's comes after). */
#define SEQ_QUANT__ONE(x) 1.0f
#define SEQ_QUANT__ONE4(x, stride) _mm_set1_ps(1.0f)
static float seq_quant__dot_i8(int64_t n, const void *w, const void *a) {
    SEQ_QUANT__DOT4(32, seq_quant__load, SEQ_QUANT__ONE, SEQ_QUANT__ONE4);
}
#else
/* No SIMD in this build: the kernels are their reference twins. */
static float seq_quant__dot_q8_0(int64_t n, const void *w, const void *a) { return seq_quant__dot_q8_0_ref(n, w, a); }
static float seq_quant__dot_q4_0(int64_t n, const void *w, const void *a) { return seq_quant__dot_q4_0_ref(n, w, a); }
static float seq_quant__dot_q4_1(int64_t n, const void *w, const void *a) { return seq_quant__dot_q4_1_ref(n, w, a); }
static float seq_quant__dot_q5_0(int64_t n, const void *w, const void *a) { return seq_quant__dot_q5_0_ref(n, w, a); }
static float seq_quant__dot_q4_K(int64_t n, const void *w, const void *a) { return seq_quant__dot_q4_K_ref(n, w, a); }
static float seq_quant__dot_q6_K(int64_t n, const void *w, const void *a) { return seq_quant__dot_q6_K_ref(n, w, a); }
static float seq_quant__dot_iq4_nl(int64_t n, const void *w, const void *a) { return seq_quant__dot_iq4_nl_ref(n, w, a); }
static float seq_quant__dot_mxfp4(int64_t n, const void *w, const void *a) { return seq_quant__dot_mxfp4_ref(n, w, a); }
static float seq_quant__dot_nf4(int64_t n, const void *w, const void *a) { return seq_quant__dot_nf4_ref(n, w, a); }
static float seq_quant__dot_i8(int64_t n, const void *w, const void *a) { return seq_quant__dot_i8_ref(n, w, a); }
#endif

SEQDEF seq_quant_vec_dot_fn seq_quant_i8_vec_dot(int reference) { return reference ? seq_quant__dot_i8_ref : seq_quant__dot_i8; }

SEQDEF const char *seq_quant_kernel_path(void) {
#if defined(SEQ_QUANT__VNNI)
    return "avx512vnni";
#elif defined(SEQ_QUANT__AVX2)
    return "avx2";
#else
    return "scalar";
#endif
}

/* Y (batch, rows) = one dot per (row of W, row of A), A the activations already in the
 * kernel's format (arow bytes a row); grids, when given, scale each W row (int8 per channel). */
static void seq_quant__products(seq_quant_vec_dot_fn dot, const uint8_t *W, size_t wrow, const seq_quant_grid *grids,
                                int64_t rows, int64_t n, const uint8_t *A, size_t arow, int64_t batch, float *Y) {
    int64_t r, b;
#ifdef SEQ_USE_OPENMP
#pragma omp parallel for private(b)
#endif
    for (r = 0; r < rows; r++) {
        float scale = grids ? grids[r].scale : 1.0f;
        for (b = 0; b < batch; b++) Y[b * rows + r] = scale * dot(n, W + (size_t)r * wrow, A + (size_t)b * arow);
    }
}

/* Quantize each row of X to `act`, then the products. */
static seq_status seq_quant__matmul(const char *fn, seq_quant_vec_dot_fn dot, const uint8_t *W, size_t wrow,
                                   const seq_quant_grid *grids, seq_quant_type act, int64_t rows, int64_t n,
                                   const float *X, int64_t batch, float *Y, void *alloc_ud) {
    const seq_quant_traits *at = &seq_quant__traits[act];
    size_t arow = seq_quant_row_size(act, n);
    uint8_t *A;
    int64_t r, b;
    if (!X || !Y || rows < 0 || batch < 0) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL buffer or negative size", fn);
    if ((r = seq_quant__first_nonfinite(X, batch * n)) >= 0) {
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: activation row %lld col %lld is not finite", fn, (long long)(r / n),
                             (long long)(r % n));
    }
    A = (uint8_t *)SEQ_MALLOC(alloc_ud, arow * (size_t)(batch > 0 ? batch : 1));
    if (!A) return seq_set_error(SEQ_ERR_NOMEM, "%s: no memory for %lld quantized activation rows", fn, (long long)batch);
    for (b = 0; b < batch; b++) at->quantize(X + b * n, A + (size_t)b * arow, n);
    seq_quant__products(dot, W, wrow, grids, rows, n, A, arow, batch, Y);
    SEQ_FREE(alloc_ud, A);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_matmul(seq_quant_type t, const void *W, int64_t rows, int64_t n, const float *X,
                                   int64_t batch, float *Y, void *alloc_ud) {
    seq_status s = seq_quant__check_rows("seq_quant_matmul", t, W, X, rows, n);
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    if (s != SEQ_OK) return s;
    if (!tr->vec_dot) return seq_set_error(SEQ_ERR_UNSUPPORTED, "seq_quant_matmul: %s has no dot-product kernel", tr->name);
    return seq_quant__matmul("seq_quant_matmul", tr->vec_dot, (const uint8_t *)W, seq_quant_row_size(t, n), NULL,
                             tr->act_type, rows, n, X, batch, Y, alloc_ud);
}

SEQDEF seq_status seq_quant_matvec(seq_quant_type t, const void *W, int64_t rows, int64_t n, const float *x,
                                   float *y, void *alloc_ud) {
    return seq_quant_matmul(t, W, rows, n, x, 1, y, alloc_ud);
}

SEQDEF seq_status seq_quant_matmul_i8(const uint8_t *W, const seq_quant_grid *grids, int64_t rows, int64_t n,
                                      const float *X, int64_t batch, float *Y, void *alloc_ud) {
    int64_t r;
    if (!W || !grids || rows < 0 || n <= 0 || n % 32 != 0) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_quant_matmul_i8: need W, grids and n a positive multiple of 32, got %lld",
                             (long long)n);
    }
    for (r = 0; r < rows; r++) {
        if (grids[r].zero != 0) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_matmul_i8: row %lld's grid is not symmetric", (long long)r);
    }
    return seq_quant__matmul("seq_quant_matmul_i8", seq_quant__dot_i8, W, (size_t)n, grids, SEQ_QUANT_Q8_0, rows, n, X,
                             batch, Y, alloc_ud);
}

/* ===================================================================================
 * 6  GGUF files (implementation)
 * =================================================================================== */

#include <stdio.h>

/* Block size and bytes of every type id ggml has defined (0: an id ggml retired), so that
 * tensors of types this header cannot decode are still validated. */
static const int16_t seq_gguf__ggml_sizes[40][2] = {
    {1, 4},    {1, 2},    {32, 18},  {32, 20},  {0, 0},    {0, 0},    {32, 22},  {32, 24},  {32, 34},  {32, 36},
    {256, 84}, {256, 110}, {256, 144}, {256, 176}, {256, 210}, {256, 292}, {256, 66}, {256, 74}, {256, 98}, {256, 50},
    {32, 18},  {256, 110}, {256, 82}, {256, 136}, {1, 1},    {1, 2},    {1, 4},    {1, 8},    {1, 8},    {256, 56},
    {1, 2},    {0, 0},    {0, 0},    {0, 0},    {256, 54}, {256, 66}, {0, 0},    {0, 0},    {0, 0},    {32, 17},
};
/* Bytes of a scalar value type; 0 for STRING and ARRAY. */
static const uint8_t seq_gguf__type_size[SEQ_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define SEQ_GGUF__NAME_MAX 64 /* ggml's GGML_MAX_NAME, terminator included */

typedef struct seq_gguf__kv {
    char *key;
    seq_gguf_type type, atype; /* atype: the element type of an array, else = type */
    uint64_t n;                /* 1 for a scalar */
    const uint8_t *raw;        /* the first numeric element in the file */
    char **strs;               /* NUL-terminated copies of the string(s) */
} seq_gguf__kv;

struct seq_gguf {
    void *alloc_ud;
    uint8_t *owned; /* the file's bytes when read from a path */
    uint32_t version, alignment;
    seq_gguf__kv *kv;
    int64_t nkv;
    seq_gguf_tensor *t;
    int64_t nt;
};

/* A bounds-checked reader over the file's bytes. */
typedef struct seq_gguf__cur {
    const uint8_t *p;
    size_t left;
} seq_gguf__cur;

static const uint8_t *seq_gguf__take(seq_gguf__cur *c, uint64_t n) {
    const uint8_t *p = c->p;
    if (n > c->left) return NULL;
    c->p += n;
    c->left -= (size_t)n;
    return p;
}
static int seq_gguf__u32(seq_gguf__cur *c, uint32_t *v) {
    const uint8_t *p = seq_gguf__take(c, 4);
    if (p) *v = seq_quant__rd32(p);
    return p != NULL;
}
static int seq_gguf__u64(seq_gguf__cur *c, uint64_t *v) {
    const uint8_t *p = seq_gguf__take(c, 8);
    if (p) *v = (uint64_t)seq_quant__rd32(p) | ((uint64_t)seq_quant__rd32(p + 4) << 32);
    return p != NULL;
}
/* A string, copied with a terminator; NULL when truncated or out of memory (*oom says). */
static char *seq_gguf__str(seq_gguf__cur *c, void *ud, int *oom, uint64_t *len) {
    uint64_t n;
    const uint8_t *s;
    char *out;
    if (!seq_gguf__u64(c, &n) || !(s = seq_gguf__take(c, n))) return NULL;
    out = (char *)SEQ_MALLOC(ud, (size_t)n + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    memcpy(out, s, (size_t)n);
    out[n] = 0;
    if (len) *len = n;
    return out;
}

SEQDEF void seq_gguf_close(seq_gguf *g) {
    int64_t i;
    uint64_t j;
    if (!g) return;
    for (i = 0; i < g->nkv; i++) {
        SEQ_FREE(g->alloc_ud, g->kv[i].key);
        if (g->kv[i].strs) {
            for (j = 0; j < g->kv[i].n; j++) SEQ_FREE(g->alloc_ud, g->kv[i].strs[j]);
            SEQ_FREE(g->alloc_ud, g->kv[i].strs);
        }
    }
    for (i = 0; i < g->nt; i++) SEQ_FREE(g->alloc_ud, (char *)g->t[i].name);
    SEQ_FREE(g->alloc_ud, g->kv);
    SEQ_FREE(g->alloc_ud, g->t);
    SEQ_FREE(g->alloc_ud, g->owned);
    SEQ_FREE(g->alloc_ud, g);
}

static int seq_gguf__cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static int seq_gguf__cmp_tensor(const void *a, const void *b) {
    const seq_gguf_tensor *x = *(const seq_gguf_tensor *const *)a, *y = *(const seq_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* One metadata value of type kv->type at the cursor. Returns 0 (and sets the error) when
 * the value is malformed or memory runs out. */
static int seq_gguf__value(seq_gguf *g, seq_gguf__cur *c, seq_gguf__kv *kv) {
    uint32_t at;
    uint64_t j;
    int oom = 0;
    kv->atype = kv->type, kv->n = 1;
    if (kv->type == SEQ_GGUF_ARRAY) {
        if (!seq_gguf__u32(c, &at) || !seq_gguf__u64(c, &kv->n)) goto truncated;
        if (at >= SEQ_GGUF_TYPE_COUNT || at == SEQ_GGUF_ARRAY) {
            seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s': array of type %u (nested arrays unsupported)", kv->key, at);
            return 0;
        }
        kv->atype = (seq_gguf_type)at;
    }
    if (kv->atype != SEQ_GGUF_STRING) {
        size_t sz = seq_gguf__type_size[kv->atype];
        if (kv->n > c->left / sz || !(kv->raw = seq_gguf__take(c, kv->n * sz))) goto truncated;
        if (kv->atype == SEQ_GGUF_BOOL) {
            for (j = 0; j < kv->n; j++) {
                if (kv->raw[j] > 1) {
                    seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s': bool value %u", kv->key, kv->raw[j]);
                    return 0;
                }
            }
        }
        return 1;
    }
    if (kv->n > c->left / 8) goto truncated; /* each string takes 8 bytes at least */
    kv->strs = (char **)SEQ_MALLOC(g->alloc_ud, sizeof(char *) * (size_t)(kv->n ? kv->n : 1));
    if (!kv->strs) goto nomem;
    memset(kv->strs, 0, sizeof(char *) * (size_t)(kv->n ? kv->n : 1));
    for (j = 0; j < kv->n; j++) {
        if (!(kv->strs[j] = seq_gguf__str(c, g->alloc_ud, &oom, NULL))) {
            kv->n = j; /* what close must free */
            if (oom) goto nomem;
            goto truncated;
        }
    }
    return 1;
truncated:
    seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s': value runs past the end of the file", kv->key);
    return 0;
nomem:
    seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory for key '%s'", kv->key);
    return 0;
}

/* The metadata section; alignment from general.alignment. */
static int seq_gguf__read_kv(seq_gguf *g, seq_gguf__cur *c, uint64_t nkv) {
    uint64_t i;
    void **keys;
    int ok = 1, oom = 0;
    if (nkv > c->left / 12) { /* key length, type: 12 bytes at least */
        seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: %llu metadata entries cannot fit in the file", (unsigned long long)nkv);
        return 0;
    }
    g->kv = (seq_gguf__kv *)SEQ_MALLOC(g->alloc_ud, sizeof(seq_gguf__kv) * (size_t)(nkv ? nkv : 1));
    if (!g->kv) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory for the metadata"), 0;
    for (i = 0; i < nkv; i++) {
        seq_gguf__kv *kv = &g->kv[i];
        uint64_t klen = 0;
        uint32_t type;
        memset(kv, 0, sizeof *kv);
        if (!(kv->key = seq_gguf__str(c, g->alloc_ud, &oom, &klen))) {
            if (oom) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory for a key"), 0;
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key %llu runs past the end of the file", (unsigned long long)i), 0;
        }
        g->nkv++;
        if (klen == 0 || strlen(kv->key) != klen) {
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key %llu is empty or holds a NUL byte", (unsigned long long)i), 0;
        }
        if (!seq_gguf__u32(c, &type)) return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s': no value type", kv->key), 0;
        if (type >= SEQ_GGUF_TYPE_COUNT) {
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s': unknown value type %u", kv->key, type), 0;
        }
        kv->type = (seq_gguf_type)type;
        if (!seq_gguf__value(g, c, kv)) return 0;
    }
    keys = (void **)SEQ_MALLOC(g->alloc_ud, sizeof(void *) * (size_t)(nkv ? nkv : 1));
    if (!keys) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory to check the keys"), 0;
    for (i = 0; i < nkv; i++) keys[i] = g->kv[i].key;
    qsort(keys, (size_t)nkv, sizeof(void *), seq_gguf__cmp_str);
    for (i = 1; i < nkv && ok; i++) {
        if (strcmp((const char *)keys[i - 1], (const char *)keys[i]) == 0) {
            ok = 0;
            seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: key '%s' appears twice", (const char *)keys[i]);
        }
    }
    SEQ_FREE(g->alloc_ud, keys);
    if (!ok) return 0;
    g->alignment = 32;
    i = (uint64_t)seq_gguf_find_kv(g, "general.alignment");
    if ((int64_t)i >= 0) {
        seq_gguf__kv *kv = &g->kv[i];
        uint32_t a = kv->type == SEQ_GGUF_U32 ? seq_quant__rd32(kv->raw) : 0;
        if (a == 0 || (a & (a - 1)) != 0) {
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: general.alignment must be a u32 power of two"), 0;
        }
        g->alignment = a;
    }
    return 1;
}

/* One tensor info: name, dimensions, type, offset. */
static int seq_gguf__read_tensor(seq_gguf *g, seq_gguf__cur *c, seq_gguf_tensor *t, uint64_t i) {
    uint64_t len = 0, ne[4], numel = 1, off;
    uint32_t nd, type;
    int oom = 0, d;
    char *name = seq_gguf__str(c, g->alloc_ud, &oom, &len);
    if (!name) {
        if (oom) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory for a tensor name"), 0;
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor %llu's name runs past the end", (unsigned long long)i), 0;
    }
    t->name = name;
    g->nt++;
    if (len == 0 || len >= SEQ_GGUF__NAME_MAX || strlen(name) != len) {
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor %llu's name is empty, over 63 bytes or holds NUL",
                             (unsigned long long)i), 0;
    }
    if (!seq_gguf__u32(c, &nd)) return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': truncated", name), 0;
    if (nd < 1 || nd > 4) return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s' has %u dimensions", name, nd), 0;
    for (d = 0; d < (int)nd; d++) {
        if (!seq_gguf__u64(c, &ne[d])) return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': truncated", name), 0;
        if (ne[d] < 1 || ne[d] > (uint64_t)INT64_MAX / numel) {
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': dimension %d is %llu", name, d,
                                 (unsigned long long)ne[d]), 0;
        }
        numel *= ne[d];
        t->shape[nd - 1 - (uint32_t)d] = (int64_t)ne[d];
    }
    t->ndim = (int)nd;
    if (!seq_gguf__u32(c, &type) || !seq_gguf__u64(c, &off)) {
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': truncated", name), 0;
    }
    if (type >= 40 || seq_gguf__ggml_sizes[type][0] == 0) {
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': unknown ggml type %u", name, type), 0;
    }
    if (ne[0] % (uint64_t)seq_gguf__ggml_sizes[type][0] != 0) {
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': rows of %llu values are not whole blocks of %d",
                             name, (unsigned long long)ne[0], seq_gguf__ggml_sizes[type][0]), 0;
    }
    if (numel / (uint64_t)seq_gguf__ggml_sizes[type][0] > (uint64_t)SIZE_MAX / (uint64_t)seq_gguf__ggml_sizes[type][1]) {
        return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s' is too large", name), 0;
    }
    t->ggml_type = (int)type;
    t->type = seq_quant_type_from_ggml((int)type);
    t->offset = off;
    t->nbytes = (size_t)(numel / (uint64_t)seq_gguf__ggml_sizes[type][0]) * (size_t)seq_gguf__ggml_sizes[type][1];
    return 1;
}

/* Tensor ranges: aligned, inside the data section, pairwise disjoint, names unique. */
static int seq_gguf__check_tensors(seq_gguf *g, const uint8_t *data, size_t data_len) {
    void **by;
    int64_t i;
    int ok = 1;
    for (i = 0; i < g->nt; i++) {
        seq_gguf_tensor *t = &g->t[i];
        if (t->offset % g->alignment != 0 || t->offset > data_len || t->nbytes > data_len - (size_t)t->offset) {
            return seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor '%s': offset %llu (+%zu bytes) unaligned or past the data",
                                 t->name, (unsigned long long)t->offset, t->nbytes), 0;
        }
        t->data = data + t->offset;
    }
    by = (void **)SEQ_MALLOC(g->alloc_ud, sizeof(void *) * (size_t)(g->nt > 0 ? g->nt : 1));
    if (!by) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory to check the tensors"), 0;
    for (i = 0; i < g->nt; i++) by[i] = &g->t[i];
    qsort(by, (size_t)g->nt, sizeof(void *), seq_gguf__cmp_tensor);
    for (i = 1; i < g->nt && ok; i++) {
        const seq_gguf_tensor *a = (const seq_gguf_tensor *)by[i - 1], *b = (const seq_gguf_tensor *)by[i];
        if (a->offset + a->nbytes > b->offset) {
            ok = 0;
            seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensors '%s' and '%s' overlap", a->name, b->name);
        }
    }
    for (i = 0; i < g->nt; i++) by[i] = (void *)g->t[i].name;
    qsort(by, (size_t)g->nt, sizeof(void *), seq_gguf__cmp_str);
    for (i = 1; i < g->nt && ok; i++) {
        if (strcmp((const char *)by[i - 1], (const char *)by[i]) == 0) {
            ok = 0;
            seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: tensor name '%s' appears twice", (const char *)by[i]);
        }
    }
    SEQ_FREE(g->alloc_ud, by);
    return ok;
}

static seq_gguf *seq_gguf__parse(const uint8_t *buf, size_t len, uint8_t *owned, void *alloc_ud) {
    seq_gguf *g = (seq_gguf *)SEQ_MALLOC(alloc_ud, sizeof(seq_gguf));
    seq_gguf__cur c;
    uint64_t nt, nkv, i;
    size_t header, data_at;
    if (!g) {
        SEQ_FREE(alloc_ud, owned);
        seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory");
        return NULL;
    }
    memset(g, 0, sizeof *g);
    g->alloc_ud = alloc_ud, g->owned = owned;
    c.p = buf, c.left = len;
    if (len < 24 || seq_quant__rd32(buf) != 0x46554747u) {
        seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: no GGUF magic (or under 24 bytes)");
        goto fail;
    }
    seq_gguf__take(&c, 4);
    seq_gguf__u32(&c, &g->version);
    seq_gguf__u64(&c, &nt);
    seq_gguf__u64(&c, &nkv);
    if (g->version != 2 && g->version != 3) {
        seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: version %u (this reads 2 and 3)", g->version);
        goto fail;
    }
    if (!seq_gguf__read_kv(g, &c, nkv)) goto fail;
    if (nt > c.left / 24) { /* name length, dims, type, offset: 24 bytes at least */
        seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: %llu tensors cannot fit in the file", (unsigned long long)nt);
        goto fail;
    }
    g->t = (seq_gguf_tensor *)SEQ_MALLOC(alloc_ud, sizeof(seq_gguf_tensor) * (size_t)(nt ? nt : 1));
    if (!g->t) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_open: no memory for the tensor infos");
        goto fail;
    }
    memset(g->t, 0, sizeof(seq_gguf_tensor) * (size_t)(nt ? nt : 1));
    for (i = 0; i < nt; i++)
        if (!seq_gguf__read_tensor(g, &c, &g->t[i], i)) goto fail;
    header = len - c.left;
    data_at = (header + g->alignment - 1) / g->alignment * g->alignment;
    if (data_at > len && nt > 0) {
        seq_set_error(SEQ_ERR_FORMAT, "seq_gguf_open: the file ends before its data section");
        goto fail;
    }
    if (nt > 0 && !seq_gguf__check_tensors(g, buf + data_at, len - data_at)) goto fail;
    return g;
fail:
    seq_gguf_close(g);
    return NULL;
}

SEQDEF seq_gguf *seq_gguf_open_memory(const void *buf, size_t len, void *alloc_ud) {
    if (!buf) {
        seq_set_error(SEQ_ERR_INVALID, "seq_gguf_open_memory: NULL buffer");
        return NULL;
    }
    return seq_gguf__parse((const uint8_t *)buf, len, NULL, alloc_ud);
}

SEQDEF seq_gguf *seq_gguf_open(const char *path, void *alloc_ud) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    uint8_t *buf = NULL;
    long size;
    if (!f) {
        seq_set_error(SEQ_ERR_IO, "seq_gguf_open: cannot open '%s'", path ? path : "(null)");
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        seq_set_error(SEQ_ERR_IO, "seq_gguf_open: cannot size '%s'", path);
        return NULL;
    }
    buf = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        SEQ_FREE(alloc_ud, buf);
        seq_set_error(buf ? SEQ_ERR_IO : SEQ_ERR_NOMEM, "seq_gguf_open: cannot read '%s'", path);
        return NULL;
    }
    fclose(f);
    return seq_gguf__parse(buf, (size_t)size, buf, alloc_ud);
}

SEQDEF uint32_t seq_gguf_version(const seq_gguf *g) { return g ? g->version : 0; }
SEQDEF uint32_t seq_gguf_alignment(const seq_gguf *g) { return g ? g->alignment : 0; }
SEQDEF int64_t seq_gguf_kv_count(const seq_gguf *g) { return g ? g->nkv : 0; }

SEQDEF int64_t seq_gguf_find_kv(const seq_gguf *g, const char *key) {
    int64_t i;
    for (i = 0; g && key && i < g->nkv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

static const seq_gguf__kv *seq_gguf__kv_at(const seq_gguf *g, int64_t i) { return g && i >= 0 && i < g->nkv ? &g->kv[i] : NULL; }
SEQDEF const char *seq_gguf_kv_key(const seq_gguf *g, int64_t i) {
    const seq_gguf__kv *kv = seq_gguf__kv_at(g, i);
    return kv ? kv->key : NULL;
}
SEQDEF seq_gguf_type seq_gguf_kv_type(const seq_gguf *g, int64_t i) {
    const seq_gguf__kv *kv = seq_gguf__kv_at(g, i);
    return kv ? kv->type : SEQ_GGUF_TYPE_COUNT;
}
SEQDEF seq_gguf_type seq_gguf_kv_array_type(const seq_gguf *g, int64_t i) {
    const seq_gguf__kv *kv = seq_gguf__kv_at(g, i);
    return kv && kv->type == SEQ_GGUF_ARRAY ? kv->atype : SEQ_GGUF_TYPE_COUNT;
}
SEQDEF int64_t seq_gguf_kv_array_len(const seq_gguf *g, int64_t i) {
    const seq_gguf__kv *kv = seq_gguf__kv_at(g, i);
    return kv && kv->type == SEQ_GGUF_ARRAY ? (int64_t)kv->n : 0;
}

/* Element j of kv i when its type is one of `want` (a bit set of types), else NULL. */
static const seq_gguf__kv *seq_gguf__elem(const seq_gguf *g, int64_t i, int64_t j, unsigned want, const char *fn) {
    const seq_gguf__kv *kv = seq_gguf__kv_at(g, i);
    if (!kv || j < 0 || (uint64_t)j >= kv->n || !((want >> kv->atype) & 1u)) {
        seq_set_error(SEQ_ERR_INVALID, "%s: no such value, or not of the asked kind", fn);
        return NULL;
    }
    return kv;
}

SEQDEF seq_status seq_gguf_kv_int(const seq_gguf *g, int64_t i, int64_t j, int64_t *out) {
    const unsigned ints = (1u << SEQ_GGUF_U8) | (1u << SEQ_GGUF_I8) | (1u << SEQ_GGUF_U16) | (1u << SEQ_GGUF_I16) |
                          (1u << SEQ_GGUF_U32) | (1u << SEQ_GGUF_I32) | (1u << SEQ_GGUF_BOOL) | (1u << SEQ_GGUF_U64) |
                          (1u << SEQ_GGUF_I64);
    const seq_gguf__kv *kv = seq_gguf__elem(g, i, j, ints, "seq_gguf_kv_int");
    size_t sz;
    const uint8_t *p;
    uint64_t u;
    int k, is_signed;
    if (!kv || !out) return kv ? seq_set_error(SEQ_ERR_INVALID, "seq_gguf_kv_int: NULL out") : SEQ_ERR_INVALID;
    sz = seq_gguf__type_size[kv->atype];
    p = kv->raw + (size_t)j * sz;
    for (u = 0, k = (int)sz - 1; k >= 0; k--) u = (u << 8) | p[k];
    is_signed = kv->atype == SEQ_GGUF_I8 || kv->atype == SEQ_GGUF_I16 || kv->atype == SEQ_GGUF_I32 || kv->atype == SEQ_GGUF_I64;
    if (is_signed && sz < 8 && (u >> (8 * sz - 1)) & 1u) u |= ~(uint64_t)0 << (8 * sz); /* sign-extend */
    if (!is_signed && u > (uint64_t)INT64_MAX) return seq_set_error(SEQ_ERR_RANGE, "seq_gguf_kv_int: value exceeds int64");
    memcpy(out, &u, 8);
    return SEQ_OK;
}

SEQDEF seq_status seq_gguf_kv_float(const seq_gguf *g, int64_t i, int64_t j, double *out) {
    const seq_gguf__kv *kv = seq_gguf__elem(g, i, j, (1u << SEQ_GGUF_F32) | (1u << SEQ_GGUF_F64), "seq_gguf_kv_float");
    if (!kv || !out) return kv ? seq_set_error(SEQ_ERR_INVALID, "seq_gguf_kv_float: NULL out") : SEQ_ERR_INVALID;
    if (kv->atype == SEQ_GGUF_F32) {
        *out = seq_quant__rdf32(kv->raw + 4 * j);
    } else {
        uint64_t u = (uint64_t)seq_quant__rd32(kv->raw + 8 * j) | ((uint64_t)seq_quant__rd32(kv->raw + 8 * j + 4) << 32);
        memcpy(out, &u, 8);
    }
    return SEQ_OK;
}

SEQDEF const char *seq_gguf_kv_str(const seq_gguf *g, int64_t i, int64_t j) {
    const seq_gguf__kv *kv = seq_gguf__elem(g, i, j, 1u << SEQ_GGUF_STRING, "seq_gguf_kv_str");
    return kv ? kv->strs[j] : NULL;
}

SEQDEF int64_t seq_gguf_tensor_count(const seq_gguf *g) { return g ? g->nt : 0; }
SEQDEF const seq_gguf_tensor *seq_gguf_tensor_at(const seq_gguf *g, int64_t i) { return g && i >= 0 && i < g->nt ? &g->t[i] : NULL; }
SEQDEF const seq_gguf_tensor *seq_gguf_find_tensor(const seq_gguf *g, const char *name) {
    int64_t i;
    for (i = 0; g && name && i < g->nt; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

SEQDEF seq_status seq_gguf_read_f32(const seq_gguf *g, const char *name, float *dst, int64_t numel) {
    const seq_gguf_tensor *t = seq_gguf_find_tensor(g, name);
    int64_t have = 1, d;
    if (!t || !dst) return seq_set_error(SEQ_ERR_RANGE, "seq_gguf_read_f32: no tensor '%s'", name ? name : "(null)");
    for (d = 0; d < t->ndim; d++) have *= t->shape[d];
    if (have != numel) {
        return seq_set_error(SEQ_ERR_SHAPE, "seq_gguf_read_f32: '%s' holds %lld values, not %lld", name, (long long)have,
                             (long long)numel);
    }
    if (t->type == SEQ_QUANT_TYPE_COUNT) {
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "seq_gguf_read_f32: '%s' is ggml type %d, which seq_quant.h cannot decode",
                             name, t->ggml_type);
    }
    return seq_quant_dequantize(t->type, t->data, dst, numel / t->shape[t->ndim - 1], t->shape[t->ndim - 1]);
}

/* --- writing ------------------------------------------------------------------------------- */

/* A growable byte buffer; `failed` sticks after the first allocation failure. */
typedef struct seq_gguf__buf {
    void *ud;
    uint8_t *p;
    size_t len, cap;
    int failed;
} seq_gguf__buf;

static void seq_gguf__put(seq_gguf__buf *b, const void *src, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *p;
        while (cap < b->len + n) cap *= 2;
        p = (uint8_t *)SEQ_REALLOC(b->ud, b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void seq_gguf__put_le(seq_gguf__buf *b, uint64_t v, int bytes) {
    uint8_t le[8];
    int k;
    for (k = 0; k < bytes; k++) le[k] = (uint8_t)((v >> (8 * k)) & 0xff);
    seq_gguf__put(b, le, (size_t)bytes);
}
static void seq_gguf__put_str(seq_gguf__buf *b, const char *s) {
    seq_gguf__put_le(b, (uint64_t)strlen(s), 8);
    seq_gguf__put(b, s, strlen(s));
}
/* One C value of a scalar type, little-endian whatever the host. */
static void seq_gguf__put_value(seq_gguf__buf *b, seq_gguf_type type, const void *v) {
    int sz = seq_gguf__type_size[type];
    uint64_t u = 0;
    if (type == SEQ_GGUF_STRING) {
        seq_gguf__put_str(b, *(const char *const *)v);
        return;
    }
    if (type == SEQ_GGUF_BOOL) {
        u = *(const int *)v != 0;
    } else if (sz == 1) {
        u = *(const uint8_t *)v;
    } else if (sz == 2) {
        uint16_t x;
        memcpy(&x, v, 2);
        u = x;
    } else if (sz == 4) {
        uint32_t x;
        memcpy(&x, v, 4);
        u = x;
    } else {
        memcpy(&u, v, 8);
    }
    seq_gguf__put_le(b, u, sz);
}

typedef struct seq_gguf__wtensor {
    char name[SEQ_GGUF__NAME_MAX];
    int ndim, ggml_type;
    int64_t shape[4];
    uint8_t *data;
    size_t nbytes;
} seq_gguf__wtensor;

struct seq_gguf_writer {
    void *alloc_ud;
    seq_gguf__buf kv;   /* the serialized metadata entries, back to back */
    int64_t nkv;
    seq_gguf__buf keys; /* every key, NUL-terminated, for the uniqueness check */
    seq_gguf__wtensor *t;
    int64_t nt, tcap;
};

SEQDEF seq_gguf_writer *seq_gguf_writer_init(void *alloc_ud) {
    seq_gguf_writer *w = (seq_gguf_writer *)SEQ_MALLOC(alloc_ud, sizeof(seq_gguf_writer));
    if (!w) {
        seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_writer_init: no memory");
        return NULL;
    }
    memset(w, 0, sizeof *w);
    w->alloc_ud = w->kv.ud = w->keys.ud = alloc_ud;
    return w;
}

SEQDEF void seq_gguf_writer_free(seq_gguf_writer *w) {
    int64_t i;
    if (!w) return;
    for (i = 0; i < w->nt; i++) SEQ_FREE(w->alloc_ud, w->t[i].data);
    SEQ_FREE(w->alloc_ud, w->t);
    SEQ_FREE(w->alloc_ud, w->kv.p);
    SEQ_FREE(w->alloc_ud, w->keys.p);
    SEQ_FREE(w->alloc_ud, w);
}

/* A key may be added when it is non-empty and new. */
static seq_status seq_gguf__new_key(seq_gguf_writer *w, const char *key, const char *fn) {
    size_t at = 0;
    if (!w || !key || !*key) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL writer or empty key", fn);
    while (at < w->keys.len) {
        if (strcmp((const char *)w->keys.p + at, key) == 0) return seq_set_error(SEQ_ERR_INVALID, "%s: key '%s' already set", fn, key);
        at += strlen((const char *)w->keys.p + at) + 1;
    }
    return SEQ_OK;
}

/* Appends the entry the caller serialized into w->kv (from `mark` on) and its key, or
 * rolls both back when memory ran out. */
static seq_status seq_gguf__commit_kv(seq_gguf_writer *w, const char *key, size_t mark, const char *fn) {
    seq_gguf__put(&w->keys, key, strlen(key) + 1);
    if (w->kv.failed || w->keys.failed) {
        w->kv.len = mark, w->kv.failed = 0, w->keys.failed = 0;
        return seq_set_error(SEQ_ERR_NOMEM, "%s: no memory for key '%s'", fn, key);
    }
    w->nkv++;
    return SEQ_OK;
}

SEQDEF seq_status seq_gguf_writer_kv(seq_gguf_writer *w, const char *key, seq_gguf_type type, const void *value) {
    seq_status s = seq_gguf__new_key(w, key, "seq_gguf_writer_kv");
    size_t mark;
    if (s != SEQ_OK) return s;
    if ((int)type < 0 || type >= SEQ_GGUF_TYPE_COUNT || type == SEQ_GGUF_ARRAY || !value ||
        (type == SEQ_GGUF_STRING && !*(const char *const *)value)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_kv: '%s': bad type or NULL value", key);
    }
    mark = w->kv.len;
    seq_gguf__put_str(&w->kv, key);
    seq_gguf__put_le(&w->kv, (uint64_t)type, 4);
    seq_gguf__put_value(&w->kv, type, value);
    return seq_gguf__commit_kv(w, key, mark, "seq_gguf_writer_kv");
}

SEQDEF seq_status seq_gguf_writer_kv_array(seq_gguf_writer *w, const char *key, seq_gguf_type type,
                                           const void *values, int64_t n) {
    seq_status s = seq_gguf__new_key(w, key, "seq_gguf_writer_kv_array");
    size_t mark, stride;
    int64_t j;
    if (s != SEQ_OK) return s;
    if ((int)type < 0 || type >= SEQ_GGUF_TYPE_COUNT || type == SEQ_GGUF_ARRAY || n < 0 || (n > 0 && !values)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_kv_array: '%s': bad element type, count or values", key);
    }
    stride = type == SEQ_GGUF_STRING ? sizeof(const char *) : type == SEQ_GGUF_BOOL ? sizeof(int) : seq_gguf__type_size[type];
    for (j = 0; type == SEQ_GGUF_STRING && j < n; j++) {
        if (!((const char *const *)values)[j]) return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_kv_array: '%s': NULL string", key);
    }
    mark = w->kv.len;
    seq_gguf__put_str(&w->kv, key);
    seq_gguf__put_le(&w->kv, (uint64_t)SEQ_GGUF_ARRAY, 4);
    seq_gguf__put_le(&w->kv, (uint64_t)type, 4);
    seq_gguf__put_le(&w->kv, (uint64_t)n, 8);
    for (j = 0; j < n; j++) seq_gguf__put_value(&w->kv, type, (const uint8_t *)values + (size_t)j * stride);
    return seq_gguf__commit_kv(w, key, mark, "seq_gguf_writer_kv_array");
}

SEQDEF seq_status seq_gguf_writer_tensor(seq_gguf_writer *w, const char *name, seq_quant_type t, int ndim,
                                         const int64_t *shape, const float *data) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    seq_gguf__wtensor *wt;
    int64_t i, rows = 1, cols;
    seq_status s;
    if (!w || !name || !shape || !data || ndim < 1 || ndim > 4 || !tr || tr->ggml_type < 0) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_tensor: need 1..4 dims, data and a type ggml knows");
    }
    if (!*name || strlen(name) >= SEQ_GGUF__NAME_MAX) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_tensor: name must be 1..63 bytes");
    }
    for (i = 0; i < w->nt; i++)
        if (strcmp(w->t[i].name, name) == 0) return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_writer_tensor: '%s' twice", name);
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 1) return seq_set_error(SEQ_ERR_SHAPE, "seq_gguf_writer_tensor: '%s': dimension %lld < 1", name, (long long)i);
        if (i < ndim - 1) rows *= shape[i];
    }
    cols = shape[ndim - 1];
    if (w->nt == w->tcap) {
        int64_t cap = w->tcap ? 2 * w->tcap : 8;
        seq_gguf__wtensor *p = (seq_gguf__wtensor *)SEQ_REALLOC(w->alloc_ud, w->t, sizeof(seq_gguf__wtensor) * (size_t)cap);
        if (!p) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_writer_tensor: no memory");
        w->t = p, w->tcap = cap;
    }
    wt = &w->t[w->nt];
    memset(wt, 0, sizeof *wt);
    wt->nbytes = seq_quant_row_size(t, cols) * (size_t)rows;
    if (wt->nbytes == 0) {
        return seq_set_error(SEQ_ERR_SHAPE, "seq_gguf_writer_tensor: '%s': rows of %lld are not whole %s blocks of %lld", name,
                             (long long)cols, tr->name, (long long)tr->block);
    }
    wt->data = (uint8_t *)SEQ_MALLOC(w->alloc_ud, wt->nbytes);
    if (!wt->data) return seq_set_error(SEQ_ERR_NOMEM, "seq_gguf_writer_tensor: no memory for '%s'", name);
    s = seq_quant_quantize(t, data, wt->data, rows, cols);
    if (s != SEQ_OK) {
        SEQ_FREE(w->alloc_ud, wt->data);
        return s;
    }
    strcpy(wt->name, name);
    wt->ndim = ndim, wt->ggml_type = tr->ggml_type;
    memcpy(wt->shape, shape, sizeof(int64_t) * (size_t)ndim);
    w->nt++;
    return SEQ_OK;
}

SEQDEF seq_status seq_gguf_writer_write(const seq_gguf_writer *w, const char *path) {
    static const char fn[] = "seq_gguf_writer_write";
    static const uint8_t zeros[32] = {0};
    seq_gguf__buf h;
    seq_atomic_file a;
    uint64_t off = 0;
    int64_t i, d;
    int ok;
    seq_status s;
    if (!w || !path) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL writer or path", fn);
    memset(&h, 0, sizeof h);
    h.ud = w->alloc_ud;
    seq_gguf__put_le(&h, 0x46554747u, 4);
    seq_gguf__put_le(&h, 3, 4);
    seq_gguf__put_le(&h, (uint64_t)w->nt, 8);
    seq_gguf__put_le(&h, (uint64_t)w->nkv, 8);
    seq_gguf__put(&h, w->kv.p, w->kv.len);
    for (i = 0; i < w->nt; i++) {
        seq_gguf__put_str(&h, w->t[i].name);
        seq_gguf__put_le(&h, (uint64_t)w->t[i].ndim, 4);
        for (d = w->t[i].ndim - 1; d >= 0; d--) seq_gguf__put_le(&h, (uint64_t)w->t[i].shape[d], 8);
        seq_gguf__put_le(&h, (uint64_t)w->t[i].ggml_type, 4);
        seq_gguf__put_le(&h, off, 8);
        off += (w->t[i].nbytes + 31) / 32 * 32;
    }
    seq_gguf__put(&h, zeros, (32 - h.len % 32) % 32);
    if (h.failed) {
        SEQ_FREE(w->alloc_ud, h.p);
        return seq_set_error(SEQ_ERR_NOMEM, "%s: no memory for the header", fn);
    }
    if ((s = seq_atomic_open(&a, fn, path, w->alloc_ud)) == SEQ_OK) {
        ok = fwrite(h.p, 1, h.len, a.f) == h.len;
        for (i = 0; ok && i < w->nt; i++) {
            ok = fwrite(w->t[i].data, 1, w->t[i].nbytes, a.f) == w->t[i].nbytes &&
                 fwrite(zeros, 1, (32 - w->t[i].nbytes % 32) % 32, a.f) == (32 - w->t[i].nbytes % 32) % 32;
        }
        s = seq_atomic_commit(&a, fn, path, ok);
    }
    SEQ_FREE(w->alloc_ud, h.p);
    return s;
}

SEQDEF seq_status seq_gguf_save_params(const seq_params *P, const char *path, seq_quant_type t,
                                       const char *const *meta_kv, int64_t n_meta) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    seq_gguf_writer *w;
    seq_status s = SEQ_OK;
    const char *tname = tr ? tr->name : NULL, *arch = "seq";
    int64_t i;
    if (!P || !P->allocated || !path || !tr || tr->ggml_type < 0 || n_meta < 0 || (n_meta > 0 && !meta_kv)) {
        return seq_set_error(SEQ_ERR_INVALID, "seq_gguf_save_params: need allocated params, a path and a type ggml knows");
    }
    if (!(w = seq_gguf_writer_init(P->alloc_ud))) return SEQ_ERR_NOMEM;
    s = seq_gguf_writer_kv(w, "general.architecture", SEQ_GGUF_STRING, &arch);
    if (s == SEQ_OK) s = seq_gguf_writer_kv(w, "seq.quant_type", SEQ_GGUF_STRING, &tname);
    for (i = 0; s == SEQ_OK && i < n_meta; i++) s = seq_gguf_writer_kv(w, meta_kv[2 * i], SEQ_GGUF_STRING, &meta_kv[2 * i + 1]);
    for (i = 0; s == SEQ_OK && i < P->count; i++) {
        const seq_tensor *x = &P->items[i]->t;
        int64_t one = 1;
        int fits = x->ndim >= 2 && x->shape[x->ndim - 1] % tr->block == 0;
        s = seq_gguf_writer_tensor(w, x->name, fits ? t : SEQ_QUANT_F32, x->ndim ? x->ndim : 1, x->ndim ? x->shape : &one, x->data);
    }
    if (s == SEQ_OK) s = seq_gguf_writer_write(w, path);
    seq_gguf_writer_free(w);
    return s;
}

/* ===================================================================================
 * 7  round-to-nearest (implementation)
 * =================================================================================== */

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
    w->codes = (uint8_t *)SEQ_MALLOC(alloc_ud, seq_quant__code_bytes(cfg->bits, rows * cols));
    w->grids = (seq_quant_grid *)SEQ_MALLOC(alloc_ud, (size_t)w->ngrids * sizeof(seq_quant_grid));
    if (!w->codes || !w->grids) {
        seq_quant_weight_free(w);
        return seq_set_error(SEQ_ERR_NOMEM, "seq_quant_weight_init: out of memory");
    }
    memset(w->codes, 0, seq_quant__code_bytes(cfg->bits, rows * cols)); /* the last byte's spare bits */
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

SEQDEF uint32_t seq_quant_weight_code(const seq_quant_weight *w, int64_t row, int64_t col) {
    return seq_quant__code_get(w->codes, w->bits, row * w->cols + col);
}

/* Entry (r, c) <- code q (a grid level, qmin..qmax). */
static void seq_quant__weight_put(seq_quant_weight *w, int64_t r, int64_t c, const seq_quant_grid *g, int32_t q) {
    seq_quant__code_put(w->codes, w->bits, r * w->cols + c, (uint32_t)(q - g->qmin));
}

SEQDEF void seq_quant_weight_dequantize(const seq_quant_weight *w, float *out) {
    int64_t r, c;
    for (r = 0; r < w->rows; r++)
        for (c = 0; c < w->cols; c++) {
            const seq_quant_grid *g = seq_quant_weight_grid(w, r, c);
            out[r * w->cols + c] = seq_quant_grid_dq(g, (int32_t)seq_quant_weight_code(w, r, c) + g->qmin);
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
    if (!seq_all_finite(x, n)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_grid_search: non-finite value");
    seq_quant__minmax(x, n, &lo, &hi);
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
    if (!seq_all_finite(W, rows * cols)) {
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
            seq_quant__weight_put(out, r, c, g, q);
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
    if (!seq_all_finite(X, n * c)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_gptq_add_batch: non-finite input");
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
    if (!seq_all_finite(W, rows * n)) {
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
                seq_quant__weight_put(out, r, oj, gr, q);
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

SEQDEF float seq_quant_qtip_3inst(uint32_t state) {
    uint32_t x = ((state * 89226354u + 64248484u) & 0x8FFF8FFFu) ^ 0x3B603B60u;
    /* both halves are f16 of magnitude in [1/8, 2): their f32 sum is exact, and rounding it
     * to f16 is the GPU's half-precision add */
    float sum = seq_f16_to_f32((uint16_t)(x & 0xffffu)) + seq_f16_to_f32((uint16_t)(x >> 16));
    return seq_f16_to_f32(seq_f32_to_f16(sum));
}

static float (*const seq_quant__qtip_codes[SEQ_QUANT_QTIP_CODE_COUNT])(uint32_t) = {seq_quant_qtip_1mad,
                                                                                    seq_quant_qtip_3inst};

SEQDEF float seq_quant_qtip_value(seq_quant_qtip_code code, uint32_t state) {
    return (int)code >= 0 && code < SEQ_QUANT_QTIP_CODE_COUNT ? seq_quant__qtip_codes[code](state) : NAN;
}

/* Stream length in bits: plain streams store the first state whole. */
static int64_t seq_quant__qtip_nbits(int64_t T, int k, int tail_biting) {
    return tail_biting ? T * k : SEQ_QUANT_QTIP_L + (T - 1) * k;
}

SEQDEF size_t seq_quant_qtip_bytes(int64_t T, int k, int tail_biting) {
    return T < 1 ? 0 : (size_t)((seq_quant__qtip_nbits(T, k, tail_biting) + 7) / 8);
}

/* Bits [pos, pos + count) of the stream (nbits long, wrapping), most significant first;
 * count <= 16. Inside the stream the window lies in at most three bytes. */
static uint32_t seq_quant__qtip_read(const uint8_t *bits, int64_t nbits, int64_t pos, int count) {
    uint32_t v = 0;
    int64_t end;
    int i;
    pos %= nbits;
    end = pos + count - 1;
    if (end < nbits) {
        for (i = (int)(pos >> 3); i <= (int)(end >> 3); i++) v = (v << 8) | bits[i];
        return (v >> (7 - (end & 7))) & ((1u << count) - 1u);
    }
    for (i = 0; i < count; i++) { /* the tail-biting wrap, bit by bit */
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

static seq_status seq_quant__qtip_check(const char *fn, seq_quant_qtip_code code, int64_t T, int k, int tail_biting) {
    if ((int)code < 0 || code >= SEQ_QUANT_QTIP_CODE_COUNT || k < 1 || k > 8 || T < 1)
        return seq_set_error(SEQ_ERR_INVALID, "%s: need a code, 1..8 bits per weight and T >= 1 (code %d, k %d, T %lld)",
                             fn, (int)code, k, (long long)T);
    if (tail_biting && T * k < SEQ_QUANT_QTIP_L)
        return seq_set_error(SEQ_ERR_SHAPE, "%s: a tail-biting stream of %lld bits is shorter than one state (%d bits)", fn,
                             (long long)(T * k), SEQ_QUANT_QTIP_L);
    return SEQ_OK;
}

SEQDEF seq_status seq_quant_qtip_decode(seq_quant_qtip_code code, const uint8_t *bits, int64_t T, int k,
                                        int tail_biting, float scale, float *out) {
    seq_status st = seq_quant__qtip_check("seq_quant_qtip_decode", code, T, k, tail_biting);
    int64_t nbits, t;
    uint32_t s, mask = (1u << SEQ_QUANT_QTIP_L) - 1u;
    float (*value)(uint32_t);
    if (st != SEQ_OK) return st;
    if (!bits || !out) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_decode: NULL argument");
    nbits = seq_quant__qtip_nbits(T, k, tail_biting);
    value = seq_quant__qtip_codes[code];
    s = seq_quant__qtip_read(bits, nbits, 0, SEQ_QUANT_QTIP_L);
    for (t = 0; t < T; t++) {
        if (t > 0) s = ((s << k) | seq_quant__qtip_read(bits, nbits, t * k + SEQ_QUANT_QTIP_L - k, k)) & mask;
        out[t] = scale * value(s);
    }
    return SEQ_OK;
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

/* One block for every buffer, sized for sequences of T at k bits; the code's value of
 * every state. */
static seq_status seq_quant__trellis_init(seq_quant__trellis *tr, seq_quant_qtip_code code, int64_t T, int k,
                                          void *alloc_ud) {
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
    for (s = 0; s < S; s++) tr->code[s] = seq_quant__qtip_codes[code]((uint32_t)s);
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

SEQDEF seq_status seq_quant_qtip_encode(seq_quant_qtip_code code, const float *x, int64_t T, int k, int tail_biting,
                                        uint8_t *bits, void *alloc_ud) {
    seq_quant__trellis tr;
    seq_status st = seq_quant__qtip_check("seq_quant_qtip_encode", code, T, k, tail_biting);
    if (st != SEQ_OK) return st;
    if (!x || !bits) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_encode: NULL argument");
    if (!seq_all_finite(x, T)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_qtip_encode: non-finite value");
    st = seq_quant__trellis_init(&tr, code, T, k, alloc_ud);
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

SEQDEF seq_status seq_quant_qtip_quantize(seq_quant_qtip *q, const float *W, int64_t rows, int64_t cols,
                                          seq_quant_qtip_code code, int k, int64_t seq_len, int tail_biting, seq_rng *rng,
                                          void *alloc_ud) {
    seq_quant__trellis tr;
    float *Wt;
    int64_t i, nseq;
    double ss = 0.0, sc = 0.0;
    seq_status st;
    if (!q || !W || !rng) return seq_set_error(SEQ_ERR_INVALID, "seq_quant_qtip_quantize: NULL argument");
    memset(q, 0, sizeof *q);
    st = seq_quant__qtip_check("seq_quant_qtip_quantize", code, seq_len, k, tail_biting);
    if (st != SEQ_OK) return st;
    if (rows < 1 || cols < 1 || cols % seq_len != 0)
        return seq_set_error(SEQ_ERR_SHAPE, "seq_quant_qtip_quantize: seq_len %lld does not divide %lld columns",
                             (long long)seq_len, (long long)cols);
    if (!seq_all_finite(W, rows * cols)) return seq_set_error(SEQ_ERR_NUMERIC, "seq_quant_qtip_quantize: non-finite W");
    q->rows = rows;
    q->cols = cols;
    q->seq_len = seq_len;
    q->code = code;
    q->k = k;
    q->tail_biting = tail_biting;
    q->alloc_ud = alloc_ud;
    q->seq_bytes = seq_quant_qtip_bytes(seq_len, k, tail_biting);
    nseq = rows * cols / seq_len;
    st = seq_quant_incoherence_init(&q->ip, rows, cols, rng, alloc_ud);
    if (st != SEQ_OK) return st;
    q->bits = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)nseq * q->seq_bytes);
    Wt = (float *)SEQ_MALLOC(alloc_ud, (size_t)(rows * cols) * sizeof(float));
    st = q->bits && Wt ? seq_quant__trellis_init(&tr, code, seq_len, k, alloc_ud)
                       : seq_set_error(SEQ_ERR_NOMEM, "seq_quant_qtip_quantize: out of memory");
    if (st == SEQ_OK) {
        memcpy(Wt, W, (size_t)(rows * cols) * sizeof(float));
        seq_quant_incoherence_weight(&q->ip, Wt, 0);
        for (i = 0; i < rows * cols; i++) ss += (double)Wt[i] * (double)Wt[i];
        for (i = 0; i < (int64_t)1 << SEQ_QUANT_QTIP_L; i++) sc += (double)tr.code[i] * (double)tr.code[i];
        /* the weight's RMS onto the code's: both near Gaussian, their spreads matched */
        q->scale = ss > 0.0 ? (float)sqrt(ss / (double)(rows * cols) / (sc / (double)((int64_t)1 << SEQ_QUANT_QTIP_L))) : 1.0f;
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
        seq_quant_qtip_decode(q->code, q->bits + (size_t)i * q->seq_bytes, q->seq_len, q->k, q->tail_biting, q->scale,
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

/* ===================================================================================
 * 13  quantized layers (implementation)
 * =================================================================================== */

SEQDEF void seq_quant_linear_free(seq_quant_linear *q) {
    if (!q) return;
    if (q->w) SEQ_FREE(q->alloc_ud, q->w);
    if (q->b) SEQ_FREE(q->alloc_ud, q->b);
    memset(q, 0, sizeof *q);
}

SEQDEF seq_status seq_quant_linear_init(seq_quant_linear *q, seq_quant_type t, const float *W, const float *b,
                                        int64_t out, int64_t in, void *alloc_ud) {
    static const char fn[] = "seq_quant_linear_init";
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    float *row;
    int64_t r, i;
    if (!q) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL layer", fn);
    memset(q, 0, sizeof *q);
    if (!tr || !W || out < 1 || in < 1)
        return seq_set_error(SEQ_ERR_INVALID, "%s: need a type, W and out, in >= 1 (type %d, out %lld, in %lld)", fn, (int)t,
                             (long long)out, (long long)in);
    if ((i = seq_quant__first_nonfinite(W, out * in)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: W row %lld col %lld is not finite", fn, (long long)(i / in),
                             (long long)(i % in));
    if (b && (i = seq_quant__first_nonfinite(b, out)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: bias %lld is not finite", fn, (long long)i);
    q->type = t;
    q->out = out;
    q->in = in;
    q->in_pad = (in + tr->block - 1) / tr->block * tr->block;
    q->row_bytes = seq_quant_row_size(t, q->in_pad);
    q->alloc_ud = alloc_ud;
    q->w = (uint8_t *)SEQ_MALLOC(alloc_ud, (size_t)out * q->row_bytes);
    q->b = b ? (float *)SEQ_MALLOC(alloc_ud, (size_t)out * sizeof(float)) : NULL;
    row = (float *)SEQ_MALLOC(alloc_ud, (size_t)q->in_pad * sizeof(float));
    if (!q->w || (b && !q->b) || !row) {
        if (row) SEQ_FREE(alloc_ud, row);
        seq_quant_linear_free(q);
        return seq_set_error(SEQ_ERR_NOMEM, "%s: no memory for a (%lld, %lld) %s weight", fn, (long long)out,
                             (long long)in, tr->name);
    }
    memset(row + in, 0, (size_t)(q->in_pad - in) * sizeof(float));
    for (r = 0; r < out; r++) {
        memcpy(row, W + r * in, (size_t)in * sizeof(float));
        tr->quantize(row, q->w + (size_t)r * q->row_bytes, q->in_pad);
    }
    if (b) memcpy(q->b, b, (size_t)out * sizeof(float));
    SEQ_FREE(alloc_ud, row);
    return SEQ_OK;
}

SEQDEF size_t seq_quant_linear_bytes(const seq_quant_linear *q) {
    if (!q || !q->w) return 0;
    return (size_t)q->out * q->row_bytes + (q->b ? (size_t)q->out * sizeof(float) : 0);
}

/* work: the padded activation rows (M, in_pad) and one dequantized weight row (in_pad) in
 * f32, then the activations in the kernel's format (none without a kernel). */
SEQDEF size_t seq_quant_linear_work_bytes(const seq_quant_linear *q, int64_t M) {
    const seq_quant_traits *tr;
    if (!q || !q->w || M < 0) return 0;
    tr = &seq_quant__traits[q->type];
    return (size_t)((M + 1) * q->in_pad) * sizeof(float) +
           (tr->vec_dot ? (size_t)M * seq_quant_row_size(tr->act_type, q->in_pad) : 0);
}

SEQDEF seq_status seq_quant_linear_forward(const seq_quant_linear *q, const float *x, int64_t ldx, int64_t M, float *y,
                                           void *work) {
    static const char fn[] = "seq_quant_linear_forward";
    const seq_quant_traits *tr;
    int64_t r, j, P;
    float *xp, *wrow;
    void *own = NULL;
    if (!q || !q->w || !x || !y || M < 0 || ldx < q->in)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument, M < 0 or row stride below %lld", fn,
                             (long long)(q ? q->in : 0));
    for (r = 0; r < M; r++)
        if ((j = seq_quant__first_nonfinite(x + r * ldx, q->in)) >= 0)
            return seq_set_error(SEQ_ERR_NUMERIC, "%s: x row %lld col %lld is not finite", fn, (long long)r, (long long)j);
    if (!work && !(work = own = SEQ_MALLOC(q->alloc_ud, seq_quant_linear_work_bytes(q, M))))
        return seq_set_error(SEQ_ERR_NOMEM, "%s: no memory for the work buffer of %lld rows", fn, (long long)M);
    tr = &seq_quant__traits[q->type];
    P = q->in_pad;
    xp = (float *)work;
    wrow = xp + M * P;
    for (r = 0; r < M; r++) {
        memcpy(xp + r * P, x + r * ldx, (size_t)q->in * sizeof(float));
        memset(xp + r * P + q->in, 0, (size_t)(P - q->in) * sizeof(float));
    }
    if (tr->vec_dot) {
        const seq_quant_traits *at = &seq_quant__traits[tr->act_type];
        size_t arow = seq_quant_row_size(tr->act_type, P);
        uint8_t *A = (uint8_t *)(wrow + P);
        for (r = 0; r < M; r++) at->quantize(xp + r * P, A + (size_t)r * arow, P);
        seq_quant__products(tr->vec_dot, q->w, q->row_bytes, NULL, q->out, P, A, arow, M, y);
    } else {
        for (j = 0; j < q->out; j++) {
            tr->dequantize(q->w + (size_t)j * q->row_bytes, wrow, P);
            for (r = 0; r < M; r++) y[r * q->out + j] = (float)seq_quant__dot(wrow, xp + r * P, P);
        }
    }
    if (q->b)
        for (r = 0; r < M; r++)
            for (j = 0; j < q->out; j++) y[r * q->out + j] += q->b[j];
    if (own) SEQ_FREE(q->alloc_ud, own);
    return SEQ_OK;
}

/* The larger of the work buffers of n layers for M rows. */
static size_t seq_quant__max_work(const seq_quant_linear *const *l, int n, int64_t M) {
    size_t m = 0, w;
    int i;
    for (i = 0; i < n; i++)
        if ((w = seq_quant_linear_work_bytes(l[i], M)) > m) m = w;
    return m;
}

static float seq_quant__sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static float seq_quant__silu(float x) { return x * seq_quant__sigmoid(x); }
static float seq_quant__softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

static int64_t seq_quant__rnn_gates(seq_rnn_kind k) { return k == SEQ_RNN_LSTM ? 4 : k == SEQ_RNN_GRU ? 3 : 1; }

/* One cell step of one row, in place on h and c (H each): xp = W_ih x + b_ih and
 * hp = W_hh h + b_hh (G*H each, gates in PyTorch's order). */
static void seq_quant__rnn_cell(seq_rnn_kind kind, int64_t H, const float *xp, const float *hp, float *h, float *c) {
    int64_t j;
    for (j = 0; j < H; j++) {
        if (kind == SEQ_RNN_LSTM) {
            float i = seq_quant__sigmoid(xp[j] + hp[j]), f = seq_quant__sigmoid(xp[H + j] + hp[H + j]);
            float g = tanhf(xp[2 * H + j] + hp[2 * H + j]), o = seq_quant__sigmoid(xp[3 * H + j] + hp[3 * H + j]);
            c[j] = f * c[j] + i * g;
            h[j] = o * tanhf(c[j]);
        } else if (kind == SEQ_RNN_GRU) { /* b_hn sits inside the reset product */
            float r = seq_quant__sigmoid(xp[j] + hp[j]), z = seq_quant__sigmoid(xp[H + j] + hp[H + j]);
            float n = tanhf(xp[2 * H + j] + r * hp[2 * H + j]);
            h[j] = (1.0f - z) * n + z * h[j];
        } else {
            float a = xp[j] + hp[j];
            h[j] = kind == SEQ_RNN_TANH ? tanhf(a) : a > 0.0f ? a : 0.0f;
        }
    }
}

SEQDEF void seq_quant_rnn_free(seq_quant_rnn *q) {
    int k;
    if (!q) return;
    for (k = 0; k < SEQ_RNN_MAX_LAYERS; k++) {
        seq_quant_linear_free(&q->ih[k]);
        seq_quant_linear_free(&q->hh[k]);
    }
    memset(q, 0, sizeof *q);
}

SEQDEF seq_status seq_quant_rnn_init(seq_quant_rnn *q, const seq_rnn *l, seq_quant_type t, void *alloc_ud) {
    static const char fn[] = "seq_quant_rnn_init";
    seq_status s = SEQ_OK;
    int k;
    if (!q) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL layer", fn);
    memset(q, 0, sizeof *q);
    if (!l || !l->w_ih[0] || !l->w_ih[0]->data)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL seq_rnn, or its parameters are not allocated", fn);
    if (l->cfg.bidirectional) return seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: a bidirectional layer cannot stream", fn);
    q->cfg = l->cfg;
    q->alloc_ud = alloc_ud;
    for (k = 0; k < l->cfg.num_layers && s == SEQ_OK; k++) {
        const seq_tensor *wi = l->w_ih[2 * k], *wh = l->w_hh[2 * k], *bi = l->b_ih[2 * k], *bh = l->b_hh[2 * k];
        s = seq_quant_linear_init(&q->ih[k], t, wi->data, bi ? bi->data : NULL, wi->shape[0], wi->shape[1], alloc_ud);
        if (s == SEQ_OK)
            s = seq_quant_linear_init(&q->hh[k], t, wh->data, bh ? bh->data : NULL, wh->shape[0], wh->shape[1], alloc_ud);
    }
    if (s != SEQ_OK) seq_quant_rnn_free(q);
    return s;
}

SEQDEF size_t seq_quant_rnn_bytes(const seq_quant_rnn *q) {
    size_t n = 0;
    int k;
    for (k = 0; q && k < q->cfg.num_layers; k++) n += seq_quant_linear_bytes(&q->ih[k]) + seq_quant_linear_bytes(&q->hh[k]);
    return n;
}

SEQDEF seq_status seq_quant_rnn_state_init(const seq_quant_rnn *q, seq_quant_rnn_state *st, int64_t batch) {
    static const char fn[] = "seq_quant_rnn_state_init";
    const seq_quant_linear *lin[2 * SEQ_RNN_MAX_LAYERS];
    int64_t H, n, nc, npre;
    size_t work;
    int k;
    if (!st) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL state", fn);
    memset(st, 0, sizeof *st);
    if (!q || !q->ih[0].w) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized layer", fn);
    if (batch < 1) return seq_set_error(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
    for (k = 0; k < q->cfg.num_layers; k++) {
        lin[2 * k] = &q->ih[k];
        lin[2 * k + 1] = &q->hh[k];
    }
    H = q->cfg.hidden_size;
    n = q->cfg.num_layers * batch * H;
    nc = q->cfg.kind == SEQ_RNN_LSTM ? n : 0;
    npre = 2 * batch * seq_quant__rnn_gates(q->cfg.kind) * H;
    work = seq_quant__max_work(lin, 2 * q->cfg.num_layers, batch);
    st->alloc_ud = q->alloc_ud;
    st->h = (float *)SEQ_MALLOC(st->alloc_ud, (size_t)(n + nc + npre) * sizeof(float) + work);
    if (!st->h) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    st->c = nc ? st->h + n : NULL;
    st->pre = st->h + n + nc;
    st->work = st->pre + npre;
    st->batch = batch;
    seq_quant_rnn_state_reset(st);
    return SEQ_OK;
}

SEQDEF void seq_quant_rnn_state_reset(seq_quant_rnn_state *st) {
    if (st && st->h) memset(st->h, 0, (size_t)(st->pre - st->h) * sizeof(float));
}

SEQDEF void seq_quant_rnn_state_free(seq_quant_rnn_state *st) {
    if (!st) return;
    if (st->h) SEQ_FREE(st->alloc_ud, st->h);
    memset(st, 0, sizeof *st);
}

SEQDEF seq_status seq_quant_rnn_step(const seq_quant_rnn *q, seq_quant_rnn_state *st, const float *x_t, float *y_t) {
    static const char fn[] = "seq_quant_rnn_step";
    int64_t B, H, GH, I, k, r, i;
    seq_status s = SEQ_OK;
    if (!q || !q->ih[0].w || !st || !st->h || !x_t || !y_t)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument, layer or state", fn);
    B = st->batch;
    H = q->cfg.hidden_size;
    GH = seq_quant__rnn_gates(q->cfg.kind) * H;
    I = q->cfg.input_size;
    if ((i = seq_quant__first_nonfinite(x_t, B * I)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", fn, (long long)i);
    for (k = 0; k < q->cfg.num_layers && s == SEQ_OK; k++) {
        float *h = st->h + k * B * H, *c = st->c ? st->c + k * B * H : NULL, *xp = st->pre, *hp = xp + B * GH;
        s = seq_quant_linear_forward(&q->ih[k], k == 0 ? x_t : h - B * H, k == 0 ? I : H, B, xp, st->work);
        if (s == SEQ_OK) s = seq_quant_linear_forward(&q->hh[k], h, H, B, hp, st->work);
        for (r = 0; r < B && s == SEQ_OK; r++)
            seq_quant__rnn_cell(q->cfg.kind, H, xp + r * GH, hp + r * GH, h + r * H, c ? c + r * H : NULL);
    }
    if (s == SEQ_OK) memcpy(y_t, st->h + (q->cfg.num_layers - 1) * B * H, (size_t)(B * H) * sizeof(float));
    return s;
}

SEQDEF void seq_quant_mamba_free(seq_quant_mamba *q) {
    if (!q) return;
    seq_quant_linear_free(&q->in_proj);
    seq_quant_linear_free(&q->x_proj);
    seq_quant_linear_free(&q->dt_proj);
    seq_quant_linear_free(&q->out_proj);
    if (q->conv_w) SEQ_FREE(q->alloc_ud, q->conv_w);
    memset(q, 0, sizeof *q);
}

SEQDEF seq_status seq_quant_mamba_init(seq_quant_mamba *q, const seq_mamba *l, seq_quant_type t, void *alloc_ud) {
    static const char fn[] = "seq_quant_mamba_init";
    const seq_mamba_proj *p;
    int64_t Di, N, K, R, i;
    seq_status s;
    if (!q) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL layer", fn);
    memset(q, 0, sizeof *q);
    if (!l || !l->proj.in_w || !l->proj.in_w->data)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL seq_mamba, or its parameters are not allocated", fn);
    p = &l->proj;
    q->d_model = l->cfg.d_model;
    q->d_inner = Di = l->d_inner;
    q->d_state = N = l->cfg.d_state;
    q->d_conv = K = l->cfg.d_conv;
    q->dt_rank = R = l->dt_rank;
    q->alloc_ud = alloc_ud;
    s = seq_quant_linear_init(&q->in_proj, t, p->in_w->data, p->in_b ? p->in_b->data : NULL, 2 * Di, q->d_model, alloc_ud);
    if (s == SEQ_OK) s = seq_quant_linear_init(&q->x_proj, t, l->x_proj_w->data, NULL, R + 2 * N, Di, alloc_ud);
    if (s == SEQ_OK) s = seq_quant_linear_init(&q->dt_proj, t, l->dt_proj_w->data, l->dt_proj_b->data, Di, R, alloc_ud);
    if (s == SEQ_OK)
        s = seq_quant_linear_init(&q->out_proj, t, p->out_w->data, p->out_b ? p->out_b->data : NULL, q->d_model, Di,
                                  alloc_ud);
    /* conv_w (Di,K), A (Di,N), D (Di), conv_b (Di) */
    if (s == SEQ_OK &&
        !(q->conv_w = (float *)SEQ_MALLOC(alloc_ud, (size_t)(Di * (K + N + 1 + (p->conv_b ? 1 : 0))) * sizeof(float))))
        s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    if (s != SEQ_OK) {
        seq_quant_mamba_free(q);
        return s;
    }
    q->A = q->conv_w + Di * K;
    q->D = q->A + Di * N;
    q->conv_b = p->conv_b ? q->D + Di : NULL;
    memcpy(q->conv_w, p->conv_w->data, (size_t)(Di * K) * sizeof(float));
    for (i = 0; i < Di * N; i++) q->A[i] = -expf(l->A_log->data[i]);
    memcpy(q->D, l->D->data, (size_t)Di * sizeof(float));
    if (q->conv_b) memcpy(q->conv_b, p->conv_b->data, (size_t)Di * sizeof(float));
    return SEQ_OK;
}

SEQDEF size_t seq_quant_mamba_bytes(const seq_quant_mamba *q) {
    if (!q || !q->conv_w) return 0;
    return seq_quant_linear_bytes(&q->in_proj) + seq_quant_linear_bytes(&q->x_proj) + seq_quant_linear_bytes(&q->dt_proj) +
           seq_quant_linear_bytes(&q->out_proj) +
           (size_t)(q->d_inner * (q->d_conv + q->d_state + 1 + (q->conv_b ? 1 : 0))) * sizeof(float);
}

/* act: xz (B,2Di), u (B,Di), xdbl (B,R+2N), delta (B,Di), y (B,Di) */
SEQDEF seq_status seq_quant_mamba_state_init(const seq_quant_mamba *q, seq_quant_mamba_state *st, int64_t batch) {
    static const char fn[] = "seq_quant_mamba_state_init";
    const seq_quant_linear *lin[4];
    int64_t nconv, nssm, nact;
    size_t work;
    if (!st) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL state", fn);
    memset(st, 0, sizeof *st);
    if (!q || !q->conv_w) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized layer", fn);
    if (batch < 1) return seq_set_error(SEQ_ERR_INVALID, "%s: batch %lld < 1", fn, (long long)batch);
    lin[0] = &q->in_proj;
    lin[1] = &q->x_proj;
    lin[2] = &q->dt_proj;
    lin[3] = &q->out_proj;
    nconv = batch * q->d_inner * (q->d_conv - 1);
    nssm = batch * q->d_inner * q->d_state;
    nact = batch * (5 * q->d_inner + q->dt_rank + 2 * q->d_state);
    work = seq_quant__max_work(lin, 4, batch);
    st->alloc_ud = q->alloc_ud;
    st->conv = (float *)SEQ_MALLOC(st->alloc_ud, (size_t)(nconv + nssm + nact) * sizeof(float) + work);
    if (!st->conv) return seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory", fn);
    st->ssm = st->conv + nconv;
    st->act = st->ssm + nssm;
    st->work = st->act + nact;
    st->batch = batch;
    seq_quant_mamba_state_reset(st);
    return SEQ_OK;
}

SEQDEF void seq_quant_mamba_state_reset(seq_quant_mamba_state *st) {
    if (st && st->conv) memset(st->conv, 0, (size_t)(st->act - st->conv) * sizeof(float));
}

SEQDEF void seq_quant_mamba_state_free(seq_quant_mamba_state *st) {
    if (!st) return;
    if (st->conv) SEQ_FREE(st->alloc_ud, st->conv);
    memset(st, 0, sizeof *st);
}

SEQDEF seq_status seq_quant_mamba_step(const seq_quant_mamba *q, seq_quant_mamba_state *st, const float *x_t,
                                       float *y_t) {
    static const char fn[] = "seq_quant_mamba_step";
    int64_t B, Di, N, K, R, XD, r, d, j, n;
    float *xz, *u, *xdbl, *dl, *y;
    seq_status s;
    if (!q || !q->conv_w || !st || !st->conv || !x_t || !y_t)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument, layer or state", fn);
    B = st->batch;
    Di = q->d_inner;
    N = q->d_state;
    K = q->d_conv;
    R = q->dt_rank;
    XD = R + 2 * N;
    xz = st->act;
    u = xz + B * 2 * Di;
    xdbl = u + B * Di;
    dl = xdbl + B * XD;
    y = dl + B * Di;
    if ((j = seq_quant__first_nonfinite(x_t, B * q->d_model)) >= 0)
        return seq_set_error(SEQ_ERR_NUMERIC, "%s: x_t[%lld] is not finite", fn, (long long)j);
    if ((s = seq_quant_linear_forward(&q->in_proj, x_t, q->d_model, B, xz, st->work)) != SEQ_OK) return s;
    for (r = 0; r < B; r++) /* u = silu(causal depthwise conv of xi), the window advancing */
        for (d = 0; d < Di; d++) {
            const float *w = q->conv_w + d * K;
            float *win = st->conv + (r * Di + d) * (K - 1), xi = xz[r * 2 * Di + d], acc = q->conv_b ? q->conv_b[d] : 0.0f;
            for (j = 0; j < K - 1; j++) acc += w[j] * win[j];
            acc += w[K - 1] * xi;
            for (j = 0; j + 1 < K - 1; j++) win[j] = win[j + 1];
            if (K > 1) win[K - 2] = xi;
            u[r * Di + d] = seq_quant__silu(acc);
        }
    if ((s = seq_quant_linear_forward(&q->x_proj, u, Di, B, xdbl, st->work)) != SEQ_OK) return s;
    if ((s = seq_quant_linear_forward(&q->dt_proj, xdbl, XD, B, dl, st->work)) != SEQ_OK) return s;
    for (r = 0; r < B; r++) /* the selective scan's step, D's skip and the silu(z) gate */
        for (d = 0; d < Di; d++) {
            int64_t i = r * Di + d;
            const float *Bt = xdbl + r * XD + R, *Ct = Bt + N, *A = q->A + d * N;
            float *h = st->ssm + i * N, dt = seq_quant__softplus(dl[i]), acc = 0.0f;
            for (n = 0; n < N; n++) {
                h[n] = expf(dt * A[n]) * h[n] + dt * u[i] * Bt[n];
                acc += Ct[n] * h[n];
            }
            y[i] = (acc + q->D[d] * u[i]) * seq_quant__silu(xz[r * 2 * Di + Di + d]);
        }
    return seq_quant_linear_forward(&q->out_proj, y, Di, B, y_t, st->work);
}

#endif /* SEQ_QUANT_IMPLEMENTATION_DONE */
#endif /* SEQ_QUANT_IMPLEMENTATION */
