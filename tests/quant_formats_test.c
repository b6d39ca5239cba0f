#include "seq_test.h"
#include "../seq_quant.h"
#include "fixtures/quant_fixtures.h"

static float rd_f32(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Integer grids: 0 exact, the ends of the range reachable, half-way values to even,
 * NaN and out-of-range values clamped, bad arguments refused. */
static void test_grid(void) {
    seq_quant_grid g;
    CHECK(seq_quant_grid_fit(&g, 4, 0, -1.0f, 2.0f) == SEQ_OK);
    CHECK(g.qmin == 0 && g.qmax == 15);
    CHECK(seq_quant_grid_dq(&g, seq_quant_grid_q(&g, 0.0f)) == 0.0f);
    CHECK_NEAR(seq_quant_grid_dq(&g, seq_quant_grid_q(&g, 2.0f)), 2.0f, 0.2f / 2);
    CHECK(seq_quant_grid_q(&g, 100.0f) == 15 && seq_quant_grid_q(&g, -100.0f) == 0);
    CHECK(seq_quant_grid_q(&g, NAN) == 0);
    CHECK(seq_quant_grid_fit(&g, 8, 1, -3.0f, 1.27f) == SEQ_OK);
    CHECK(g.qmin == -127 && g.qmax == 127 && g.zero == 0);
    CHECK(seq_quant_grid_q(&g, -3.0f) == -127);
    CHECK(seq_quant_grid_fit(&g, 3, 1, 0.0f, 4.0f) == SEQ_OK); /* scale 4/3 */
    CHECK(seq_quant_grid_q(&g, 2.0f) == 2);                     /* 1.5 rounds to even */
    CHECK(seq_quant_grid_fit(&g, 8, 1, 0.0f, 0.0f) == SEQ_OK && g.scale == 1.0f);
    CHECK(seq_quant_grid_fit(&g, 1, 1, 0.0f, 1.0f) == SEQ_ERR_INVALID);
    CHECK(seq_quant_grid_fit(&g, 4, 0, 2.0f, 1.0f) == SEQ_ERR_INVALID);
    CHECK(seq_quant_grid_fit(&g, 4, 0, 0.0f, INFINITY) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "seq_quant_grid_fit") != NULL);
}

/* A reproducible Gaussian-ish test vector (sum of uniforms), with outliers. */
static void fill(float *x, int64_t n, uint64_t seed, float scale) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) x[i] = scale * (float)seq_rng_normal(&r, 0.0, 1.0);
}

/* int8/int4 tensors: every granularity and symmetry round-trips within half a step of
 * its grid, int4 packs value 2i in the low nibble, bad input is refused. */
static void test_int_tensors(void) {
    enum { R = 4, N = 64 };
    float w[R * N], back[R * N];
    uint8_t codes[R * N];
    seq_quant_grid grids[R * N / 16];
    int64_t groups[3] = {0, N, 16}, k;
    int bits, sym, gi;
    fill(w, R * N, 1, 1.0f);
    for (bits = 4; bits <= 8; bits += 4)
        for (sym = 0; sym <= 1; sym++)
            for (gi = 0; gi < 3; gi++) {
                seq_quant_int_config c;
                int64_t ng;
                float worst = 0.0f;
                c.bits = bits, c.symmetric = sym, c.group = groups[gi];
                ng = seq_quant_int_grid_count(c, R, N);
                CHECK(ng == (gi == 0 ? 1 : gi == 1 ? R : R * N / 16));
                CHECK(seq_quant_int_code_bytes(c, R, N) == (size_t)(bits == 8 ? R * N : R * N / 2));
                CHECK(seq_quant_int_quantize(c, w, R, N, codes, grids) == SEQ_OK);
                CHECK(seq_quant_int_dequantize(c, codes, grids, R, N, back) == SEQ_OK);
                for (k = 0; k < R * N; k++) {
                    float step = grids[ng == 1 ? 0 : k / (R * N / ng)].scale;
                    float err = fabsf(back[k] - w[k]) / step;
                    if (err > worst) worst = err;
                }
                CHECK_MSG(worst <= 0.5f + 1e-4f, "bits %d sym %d group %lld: %g steps", bits, sym, (long long)groups[gi], worst);
            }
    {
        seq_quant_int_config c;
        float two[2] = {-1.0f, 1.0f};
        c.bits = 4, c.symmetric = 1, c.group = 0;
        CHECK(seq_quant_int_quantize(c, two, 1, 2, codes, grids) == SEQ_OK);
        CHECK(codes[0] == 0x79); /* -7 low (0x9 two's complement), +7 high */
        w[5] = NAN;
        CHECK(seq_quant_int_quantize(c, w, R, N, codes, grids) == SEQ_ERR_NUMERIC);
        c.group = 7;
        CHECK(seq_quant_int_quantize(c, two, 1, 2, codes, grids) == SEQ_ERR_INVALID);
        c.group = 0, c.bits = 5;
        CHECK(seq_quant_int_quantize(c, two, 1, 2, codes, grids) == SEQ_ERR_INVALID);
        CHECK(strstr(seq_last_error(), "seq_quant_int_quantize") != NULL);
    }
}

/* The table: one row per type in enum order, sizes that agree with what the quantizers
 * write, ggml ids both ways, round trips within each format's resolution, errors. */
static void test_traits_table(void) {
    enum { N = 512 };
    static const char *names[SEQ_QUANT_TYPE_COUNT] = {"f32", "f16", "bf16", "q8_0", "q8_1", "q4_0", "q4_1", "q5_0",
                                                      "q4_K", "q6_K", "q8_K", "iq4_nl", "mxfp4", "nf4", "fp8_e4m3",
                                                      "fp8_e5m2", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3",
                                                      "mxfp6_e3m2", "mxint8"};
    /* relative RMS error bounds on N(0,1) data: about one step of each format */
    static const float tol[SEQ_QUANT_TYPE_COUNT] = {0, 1e-3f, 8e-3f, 1e-2f, 1e-2f, 0.15f, 0.12f, 0.07f, 0.1f, 0.03f,
                                                    1e-2f, 0.12f, 0.25f, 0.12f, 0.05f, 0.1f, 0.05f, 0.1f, 0.05f,
                                                    0.1f, 1e-2f};
    float x[N], back[N];
    uint8_t buf[N * 4 + 64];
    int t;
    fill(x, N, 2, 1.0f);
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        const seq_quant_traits *tr = seq_quant_type_traits((seq_quant_type)t);
        size_t rs = seq_quant_row_size((seq_quant_type)t, N);
        double num = 0.0, den = 0.0;
        int i;
        CHECK(tr && strcmp(tr->name, names[t]) == 0);
        CHECK(strcmp(seq_quant_type_name((seq_quant_type)t), names[t]) == 0);
        CHECK(rs == (size_t)(N / tr->block) * tr->block_bytes);
        if (tr->ggml_type >= 0) CHECK(seq_quant_type_from_ggml(tr->ggml_type) == (seq_quant_type)t);
        CHECK(tr->quantize && tr->dequantize && (tr->vec_dot == NULL) == (tr->vec_dot_ref == NULL));
        memset(buf, 0xA5, sizeof buf);
        CHECK(seq_quant_quantize((seq_quant_type)t, x, buf, 1, N) == SEQ_OK);
        for (i = (int)rs; i < (int)sizeof buf; i++) CHECK_MSG(buf[i] == 0xA5, "%s wrote past its row", names[t]);
        CHECK(seq_quant_dequantize((seq_quant_type)t, buf, back, 1, N) == SEQ_OK);
        for (i = 0; i < N; i++) num += ((double)back[i] - x[i]) * ((double)back[i] - x[i]), den += (double)x[i] * x[i];
        CHECK_MSG(sqrt(num / den) <= tol[t], "%s: relative RMS error %g", names[t], sqrt(num / den));
    }
    CHECK(seq_quant_type_traits(SEQ_QUANT_TYPE_COUNT) == NULL);
    CHECK(strcmp(seq_quant_type_name((seq_quant_type)-1), "?") == 0);
    CHECK(seq_quant_type_from_ggml(7) == SEQ_QUANT_TYPE_COUNT); /* q5_1: not here */
    CHECK(seq_quant_row_size(SEQ_QUANT_Q4_K, 300) == 0);
    CHECK(seq_quant_quantize(SEQ_QUANT_Q4_K, x, buf, 1, 300) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "256") != NULL);
    CHECK(seq_quant_dequantize(SEQ_QUANT_Q4_0, buf, back, 1, 33) == SEQ_ERR_INVALID);
    CHECK(seq_quant_quantize(SEQ_QUANT_TYPE_COUNT, x, buf, 1, 32) == SEQ_ERR_INVALID);
    x[40] = INFINITY;
    CHECK(seq_quant_quantize(SEQ_QUANT_Q4_0, x, buf, 1, 64) == SEQ_ERR_NUMERIC);
    CHECK(strstr(seq_last_error(), "col 40") != NULL);
    CHECK(seq_quant_quantize(SEQ_QUANT_F16, x, buf, 1, 64) == SEQ_OK); /* Inf is an f16 value */
    CHECK(buf[80] == 0x00 && buf[81] == 0x7c);
}

/* ggml blocks byte for byte against the golden bytes of tests/gen_quant_fixtures.py. */
static void check_golden(seq_quant_type t, const unsigned char *want, size_t len) {
    uint8_t got[QUANT_FIX_N * 2];
    size_t i;
    CHECK(seq_quant_row_size(t, QUANT_FIX_N) == len);
    CHECK(seq_quant_quantize(t, quant_fix_x, got, 1, QUANT_FIX_N) == SEQ_OK);
    for (i = 0; i < len; i++) {
        if (got[i] != want[i]) {
            CHECK_MSG(0, "%s: byte %zu (block %zu) is %u, ggml's is %u", seq_quant_type_name(t), i,
                      i / seq_quant_type_traits(t)->block_bytes, got[i], want[i]);
            break;
        }
    }
}

static void test_ggml_golden(void) {
    check_golden(SEQ_QUANT_Q8_0, quant_fix_q8_0, sizeof quant_fix_q8_0);
    check_golden(SEQ_QUANT_Q4_0, quant_fix_q4_0, sizeof quant_fix_q4_0);
    check_golden(SEQ_QUANT_Q4_1, quant_fix_q4_1, sizeof quant_fix_q4_1);
    check_golden(SEQ_QUANT_Q5_0, quant_fix_q5_0, sizeof quant_fix_q5_0);
    check_golden(SEQ_QUANT_Q4_K, quant_fix_q4_K, sizeof quant_fix_q4_K);
    check_golden(SEQ_QUANT_Q6_K, quant_fix_q6_K, sizeof quant_fix_q6_K);
    check_golden(SEQ_QUANT_IQ4_NL, quant_fix_iq4_nl, sizeof quant_fix_iq4_nl);
    check_golden(SEQ_QUANT_MXFP4, quant_fix_mxfp4, sizeof quant_fix_mxfp4);
}

/* Small blocks worked out by hand from ggml's definitions. */
static void test_ggml_by_hand(void) {
    float x[32];
    uint8_t b[34];
    int j;
    /* q4_0: max magnitude -8 -> d = 1; q = trunc(x + 8.5) capped at 15 */
    for (j = 0; j < 32; j++) x[j] = (float)(j % 16) - 8.0f;
    x[31] = 7.4f;
    seq_quant_quantize_q4_0(x, b, 32);
    CHECK(b[0] == 0x00 && b[1] == 0x3c); /* f16 1.0 */
    for (j = 0; j < 15; j++) CHECK(b[2 + j] == (uint8_t)(j | (j << 4)));
    CHECK(b[17] == 0xff);
    /* q8_0: max 127 -> d = 1; 2.5 rounds away from zero to 3, -0.5 to -1 */
    memset(x, 0, sizeof x);
    x[0] = 127.0f, x[1] = 2.5f, x[2] = -0.5f;
    seq_quant_quantize_q8_0(x, b, 32);
    CHECK(b[0] == 0x00 && b[1] == 0x3c && b[2] == 127 && b[3] == 3 && (int8_t)b[4] == -1 && b[5] == 0);
    /* mxfp4: max 6 -> e = floor(log2 6) - 2 + 127 = 127, unit 2^-1: 6 is code 7, -0.5 code 9;
     * 0.75 sits between 0.5 and 1.0 and goes to the first, code 1 (ggml's order) */
    x[0] = 6.0f, x[1] = -0.5f, x[2] = 0.75f;
    seq_quant_quantize_mxfp4(x, b, 32);
    CHECK(b[0] == 127 && b[1] == 7 && b[2] == 9 && b[3] == 1);
}

/* OCP FP8: the max and NaN encodings, saturation, ties to even, subnormals; every code
 * round-trips; ExMy agrees with seq.h's f16 and bf16 converters. */
static void test_fp8(void) {
    seq_quant_fp_format e4 = seq_quant_fp_e4m3(), e5 = seq_quant_fp_e5m2();
    int c, nan4 = 0, nan5 = 0;
    CHECK(seq_quant_fp_max(e4) == 448.0f && seq_quant_fp_max(e5) == 57344.0f);
    CHECK(seq_quant_fp_max(seq_quant_fp_e2m1()) == 6.0f && seq_quant_fp_max(seq_quant_fp_e2m3()) == 7.5f &&
          seq_quant_fp_max(seq_quant_fp_e3m2()) == 28.0f);
    CHECK(seq_quant_fp_encode(e4, 448.0f, 0) == 0x7e && seq_quant_fp_encode(e4, -448.0f, 0) == 0xfe);
    CHECK(seq_quant_fp_encode(e4, 464.0f, 0) == 0x7e); /* tie between 448 and 480: even */
    CHECK(seq_quant_fp_encode(e4, 465.0f, 0) == 0x7f && seq_quant_fp_encode(e4, 465.0f, 1) == 0x7e);
    CHECK(seq_quant_fp_encode(e4, INFINITY, 0) == 0x7f && seq_quant_fp_encode(e4, -INFINITY, 1) == 0xfe);
    CHECK(seq_quant_fp_encode(e4, NAN, 1) == 0x7f && seq_quant_fp_encode(e4, -NAN, 0) == 0xff);
    CHECK(seq_quant_fp_encode(e4, ldexpf(1.0f, -9), 0) == 0x01);        /* least subnormal */
    CHECK(seq_quant_fp_encode(e4, ldexpf(1.0f, -10), 0) == 0x00);       /* tie with 0: even */
    CHECK(seq_quant_fp_encode(e4, ldexpf(1.5f, -10), 0) == 0x01);
    CHECK(seq_quant_fp_encode(e4, ldexpf(1.0f, -6), 0) == 0x08);        /* least normal */
    CHECK(seq_quant_fp_encode(e4, -0.0f, 0) == 0x80);
    CHECK(seq_quant_fp_encode(e5, 57344.0f, 0) == 0x7b);
    CHECK(seq_quant_fp_encode(e5, 61440.0f, 0) == 0x7c && seq_quant_fp_encode(e5, 61440.0f, 1) == 0x7b);
    CHECK(seq_quant_fp_encode(e5, -INFINITY, 0) == 0xfc && seq_quant_fp_encode(e5, INFINITY, 1) == 0x7b);
    CHECK(seq_quant_fp_decode(e5, 0x7c) == INFINITY && isnan(seq_quant_fp_decode(e5, 0x7d)));
    CHECK(seq_quant_fp_encode(e5, ldexpf(1.0f, -16), 0) == 0x01);
    for (c = 0; c < 256; c++) {
        float v4 = seq_quant_fp_decode(e4, (uint32_t)c), v5 = seq_quant_fp_decode(e5, (uint32_t)c);
        if (isnan(v4)) nan4++;
        else CHECK_MSG(seq_quant_fp_encode(e4, v4, 0) == (uint32_t)c, "e4m3 code %d", c);
        if (isnan(v5)) nan5++;
        else CHECK_MSG(seq_quant_fp_encode(e5, v5, 0) == (uint32_t)c, "e5m2 code %d", c);
    }
    CHECK(nan4 == 2 && nan5 == 6);
    for (c = 0; c < 64; c++) {
        float v = seq_quant_fp_decode(seq_quant_fp_e3m2(), (uint32_t)c);
        CHECK(seq_quant_fp_encode(seq_quant_fp_e3m2(), v, 0) == (uint32_t)c);
    }
    {
        seq_quant_fp_format h, bf;
        seq_rng r;
        int i;
        h.ebits = 5, h.mbits = 10, h.bias = 15, h.special = SEQ_QUANT_FP_IEEE;
        bf.ebits = 8, bf.mbits = 7, bf.bias = 127, bf.special = SEQ_QUANT_FP_IEEE;
        CHECK(seq_quant_fp_valid(h) && seq_quant_fp_valid(bf));
        seq_rng_seed(&r, 3);
        for (i = 0; i < 4000; i++) {
            float v = ldexpf((float)seq_rng_uniform(&r, -2.0, 2.0), (int)seq_rng_below(&r, 80) - 40);
            CHECK_MSG(seq_quant_fp_encode(h, v, 0) == seq_f32_to_f16(v), "f16 of %g", v);
            CHECK_MSG(seq_quant_fp_encode(bf, v, 0) == seq_f32_to_bf16(v), "bf16 of %g", v);
        }
        CHECK(seq_quant_fp_encode(h, 65520.0f, 0) == 0x7c00 && seq_quant_fp_encode(h, 65519.0f, 0) == 0x7bff);
    }
    {
        float in[3] = {1.0f, NAN, 2.0f}, out[3];
        uint8_t q[3];
        seq_quant_fp_format bad = e4;
        CHECK(seq_quant_fp_quantize(e4, 0, in, q, 3) == SEQ_OK && q[1] == 0x7f);
        CHECK(seq_quant_fp_dequantize(e4, q, out, 3) == SEQ_OK && out[0] == 1.0f && isnan(out[1]));
        CHECK(seq_quant_fp_quantize(seq_quant_fp_e2m1(), 1, in, q, 3) == SEQ_ERR_NUMERIC);
        bad.ebits = 9;
        CHECK(seq_quant_fp_quantize(bad, 0, in, q, 3) == SEQ_ERR_INVALID);
    }
}

/* f16 and bf16 rows (seq.h's converters) at their edges, through the traits table. */
static void test_half_edges(void) {
    float x[8] = {65504.0f, 65520.0f, 5.9604645e-08f /* 2^-24 */, 2.9802322e-08f /* 2^-25: tie -> 0 */, -0.0f, NAN,
                  1.00390625f /* 1 + 2^-8: bf16 tie -> even */, 1.01171875f /* 1 + 3*2^-8: tie -> up */};
    uint8_t b[16];
    float y[8];
    CHECK(seq_quant_quantize(SEQ_QUANT_F16, x, b, 1, 8) == SEQ_OK);
    CHECK(b[0] == 0xff && b[1] == 0x7b && b[2] == 0x00 && b[3] == 0x7c && b[4] == 0x01 && b[5] == 0x00);
    CHECK(b[6] == 0x00 && b[7] == 0x00 && b[8] == 0x00 && b[9] == 0x80 && (b[11] & 0x7e) == 0x7e);
    CHECK(seq_quant_dequantize(SEQ_QUANT_F16, b, y, 1, 8) == SEQ_OK && y[0] == 65504.0f && isinf(y[1]) && isnan(y[5]));
    CHECK(seq_quant_quantize(SEQ_QUANT_BF16, x, b, 1, 8) == SEQ_OK);
    CHECK(b[12] == 0x80 && b[13] == 0x3f && b[14] == 0x82 && b[15] == 0x3f);
    CHECK(seq_quant_dequantize(SEQ_QUANT_BF16, b, y, 1, 8) == SEQ_OK && y[6] == 1.0f && y[7] == 1.015625f && isnan(y[5]));
}

/* ExMy bias search: small weights want a larger bias than the default. */
static void test_fp_bias_search(void) {
    float x[256];
    int bias = 0;
    double mse = -1.0, mse_default = 0.0;
    int i;
    seq_quant_fp_format f = seq_quant_fp_e4m3();
    fill(x, 256, 4, 1e-3f);
    CHECK(seq_quant_fp_search_bias(4, 3, SEQ_QUANT_FP_FN, x, 256, &bias, &mse) == SEQ_OK);
    for (i = 0; i < 256; i++) {
        double d = (double)seq_quant_fp_decode(f, seq_quant_fp_encode(f, x[i], 1)) - x[i];
        mse_default += d * d / 256.0;
    }
    CHECK(bias > 7 && mse >= 0.0 && mse < 0.01 * mse_default);
    x[3] = NAN;
    CHECK(seq_quant_fp_search_bias(4, 3, SEQ_QUANT_FP_FN, x, 256, &bias, &mse) == SEQ_ERR_NUMERIC);
}

/* OCP MX: the shared scale, saturation, NaN propagation, zero blocks, the three nibble
 * orders, FP6 bit packing, and ggml's mxfp4 agreeing with the generic quantizer. */
static void test_mx(void) {
    float x[64], y[64];
    uint8_t s[2], e[64], e2[64];
    int j;
    for (j = 0; j < 32; j++) x[j] = 0.25f * (float)(j - 16);
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP8_E4M3, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e) == SEQ_OK);
    CHECK(s[0] == 127 - 1 - 8 + 1 + 2); /* floor(log2 4) - emax 8 = -6 */
    CHECK(seq_quant_mx_dequantize(SEQ_QUANT_MX_FP8_E4M3, SEQ_QUANT_NIBBLE_LOW_FIRST, s, e, 32, y) == SEQ_OK);
    for (j = 0; j < 32; j++) CHECK(y[j] == x[j]); /* quarters are exact */
    /* saturation: 15.9 with E2M1 (max 6): X = 2^(3-2), 7.95 clamps to 6 */
    memset(x, 0, sizeof x);
    x[0] = 15.9f, x[1] = -1.0f;
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e) == SEQ_OK);
    CHECK(s[0] == 128 && e[0] == (0x07 | (0x09 << 4))); /* 6, then -0.5 (subnormal) */
    seq_quant_mx_dequantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_LOW_FIRST, s, e, 32, y);
    CHECK(y[0] == 12.0f && y[1] == -1.0f);
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_HIGH_FIRST, x, 32, s, e2) == SEQ_OK);
    CHECK(e2[0] == (0x09 | (0x07 << 4)));
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_SPLIT_HALVES, x, 32, s, e2) == SEQ_OK);
    CHECK(e2[0] == 0x07 && e2[1] == 0x09);
    /* NaN or Inf anywhere: NaN scale, the block decodes to NaN; zero block: scale 0 */
    x[32 + 5] = NAN;
    for (j = 0; j < 32; j++) x[32 + j] += 1.0f;
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_INT8, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 64, s, e) == SEQ_OK);
    CHECK(s[1] == 255);
    seq_quant_mx_dequantize(SEQ_QUANT_MX_INT8, SEQ_QUANT_NIBBLE_LOW_FIRST, s, e, 64, y);
    for (j = 32; j < 64; j++) CHECK(isnan(y[j]));
    x[37] = INFINITY;
    seq_quant_mx_quantize(SEQ_QUANT_MX_FP8_E5M2, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 64, s, e);
    CHECK(s[1] == 255 && isnan(seq_quant_e8m0_to_f32(s[1])));
    memset(x, 0, sizeof x);
    seq_quant_mx_quantize(SEQ_QUANT_MX_FP6_E2M3, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e);
    CHECK(s[0] == 0 && e[0] == 0);
    /* MXINT8: 1.0 -> scale 2^0, element 64 (6 fraction bits) */
    x[0] = 1.0f, x[1] = -0.5f;
    seq_quant_mx_quantize(SEQ_QUANT_MX_INT8, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e);
    CHECK(s[0] == 127 && e[0] == 64 && (int8_t)e[1] == -32);
    /* FP6 E3M2: element 1's code sits in bits 6..11 */
    x[0] = 0.0f, x[1] = 28.0f;
    seq_quant_mx_quantize(SEQ_QUANT_MX_FP6_E3M2, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e);
    CHECK(s[0] == 127 && e[0] == ((0x1f << 6) & 0xff) && (e[1] & 0x0f) == (0x1f >> 2));
    seq_quant_mx_dequantize(SEQ_QUANT_MX_FP6_E3M2, SEQ_QUANT_NIBBLE_LOW_FIRST, s, e, 32, y);
    CHECK(y[1] == 28.0f && y[0] == 0.0f);
    /* ggml's mxfp4 row decodes like the generic MXFP4 on data without ties (bytes differ
     * only where a tiny negative value becomes -0 here and +0 in ggml) */
    {
        uint8_t row[17 * 16], sc[16], el[16 * 16];
        float a[512], g[512];
        CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_SPLIT_HALVES, quant_fix_x, 512, sc, el) == SEQ_OK);
        seq_quant_mx_dequantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_SPLIT_HALVES, sc, el, 512, g);
        seq_quant_quantize_mxfp4(quant_fix_x, row, 512);
        seq_quant_dequantize_mxfp4(row, a, 512);
        for (j = 0; j < 512; j++) CHECK_MSG(a[j] == g[j], "value %d: %g vs %g", j, a[j], g[j]);
    }
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_FP4_E2M1, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 31, s, e) == SEQ_ERR_INVALID);
    CHECK(seq_quant_mx_quantize(SEQ_QUANT_MX_ELEM_COUNT, SEQ_QUANT_NIBBLE_LOW_FIRST, x, 32, s, e) == SEQ_ERR_INVALID);
}

/* NF4: the QLoRA table, exact codes for table values, bitsandbytes' nibble order, and
 * double quantization of the scales. */
static void test_nf4(void) {
    const float *v = seq_quant_nf4_values();
    float x[128], y[128], absmax[600], back[600], gscale[3], mean;
    uint8_t b[72], codes[600];
    int j;
    CHECK(v[0] == -1.0f && v[7] == 0.0f && v[15] == 1.0f);
    CHECK_NEAR(v[8], 0.07958029955625534f, 1e-9f);
    CHECK_NEAR(v[1], -0.6961928009986877f, 1e-9f);
    for (j = 1; j < 16; j++) CHECK(v[j] > v[j - 1]);
    for (j = 0; j < 64; j++) x[j] = 3.0f * v[j % 16];
    seq_quant_quantize_nf4(x, b, 64);
    CHECK(rd_f32(b) == 3.0f);
    CHECK(b[4] == ((0 << 4) | 1) && b[5] == ((2 << 4) | 3)); /* value 2i high */
    seq_quant_dequantize_nf4(b, y, 64);
    for (j = 0; j < 64; j++) CHECK(y[j] == x[j]);
    fill(x, 128, 5, 1.0f);
    seq_quant_quantize_nf4(x, b, 128);
    seq_quant_dequantize_nf4(b, y, 128);
    for (j = 0; j < 128; j++) CHECK(fabsf(y[j] - x[j]) <= 0.17f * rd_f32(b + 36 * (j / 64)));
    fill(absmax, 600, 6, 0.1f);
    for (j = 0; j < 600; j++) absmax[j] = 1.0f + fabsf(absmax[j]);
    CHECK(seq_quant_nf4_double_quant(absmax, 600, codes, gscale, &mean) == SEQ_OK);
    CHECK(seq_quant_nf4_double_dequant(codes, gscale, mean, 600, back) == SEQ_OK);
    /* E4M3 keeps 3 mantissa bits: within 1/16 of the group max, 448 gscale */
    for (j = 0; j < 600; j++) CHECK(fabsf(back[j] - absmax[j]) <= 28.0f * gscale[j / 256]);
    absmax[9] = -1.0f;
    CHECK(seq_quant_nf4_double_quant(absmax, 600, codes, gscale, &mean) == SEQ_ERR_NUMERIC);
}

void seq_tests_quant_formats(void) {
    RUN(test_grid);
    RUN(test_int_tensors);
    RUN(test_traits_table);
    RUN(test_ggml_golden);
    RUN(test_ggml_by_hand);
    RUN(test_fp8);
    RUN(test_half_edges);
    RUN(test_fp_bias_search);
    RUN(test_mx);
    RUN(test_nf4);
}
