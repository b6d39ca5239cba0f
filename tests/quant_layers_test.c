/* seq_quant.h section 13: quantized Linear, RNN and Mamba steps against seq.h's f32 ones. */
#include "seq_test.h"
#include "../seq_quant.h"

static void fill(float *x, int64_t n, float sd, uint64_t seed) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) x[i] = sd * (float)seq_rng_normal(&r, 0.0, 1.0);
}

/* |a - b| / |b| over n values. */
static double rel_err(const float *a, const float *b, int64_t n) {
    double e = 0.0, s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return sqrt(e / (s > 0.0 ? s : 1.0));
}

/* y (M, out) = x (M, in) W^T + b in double. */
static void dense_ref(const float *W, const float *b, const float *x, int64_t M, int64_t out, int64_t in, float *y) {
    int64_t r, j, k;
    for (r = 0; r < M; r++)
        for (j = 0; j < out; j++) {
            double s = b ? b[j] : 0.0;
            for (k = 0; k < in; k++) s += (double)W[j * in + k] * x[r * in + k];
            y[r * out + j] = (float)s;
        }
}

enum { LO = 24, LI = 256, LM = 3 };

/* Every type of the table: the product equals x Wq^T + b on the dequantized weight (to the
 * 8-bit rounding of the activations where an integer kernel runs, to float rounding where
 * the row is dequantized), so its distance from the f32 product is the weight's own
 * quantization error. */
static void test_linear_every_type(void) {
    float W[LO * LI], b[LO], x[LM * LI], Wd[LO * LI], y[LM * LO], yref[LM * LO], ydq[LM * LO];
    long live = seq_test_live_blocks;
    int t;
    fill(W, LO * LI, 0.1f, 1);
    fill(b, LO, 0.5f, 2);
    fill(x, LM * LI, 1.0f, 3);
    dense_ref(W, b, x, LM, LO, LI, yref);
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        const seq_quant_traits *tr = seq_quant_type_traits((seq_quant_type)t);
        seq_quant_linear q;
        double e_w, e_dq, e_f32;
        if (seq_quant_linear_init(&q, (seq_quant_type)t, W, b, LO, LI, NULL) != SEQ_OK) {
            CHECK_MSG(0, "%s: %s", tr->name, seq_last_error());
            continue;
        }
        CHECK(q.in_pad == LI && seq_quant_linear_bytes(&q) == LO * seq_quant_row_size((seq_quant_type)t, LI) + sizeof b);
        CHECK(seq_quant_dequantize((seq_quant_type)t, q.w, Wd, LO, LI) == SEQ_OK);
        e_w = rel_err(Wd, W, LO * LI);
        dense_ref(Wd, b, x, LM, LO, LI, ydq);
        CHECK(seq_quant_linear_forward(&q, x, LI, LM, y, NULL) == SEQ_OK);
        e_dq = rel_err(y, ydq, LM * LO);
        e_f32 = rel_err(y, yref, LM * LO);
        CHECK_MSG(e_dq <= (tr->vec_dot && tr->act_type != SEQ_QUANT_F32 ? 1e-2 : 1e-6), "%s: %g from the dequantized product",
                  tr->name, e_dq);
        CHECK_MSG(e_f32 <= 1.5 * e_w + e_dq + 1e-6, "%s: %g from f32, weight error %g", tr->name, e_f32, e_w);
        seq_quant_linear_free(&q);
    }
    CHECK(seq_test_live_blocks == live);
}

/* in = 100 is no whole number of blocks: the layer pads W and x with zeros, which gives
 * exactly the product of explicitly padded rows through seq_quant_matmul; a row stride
 * ldx > in reads the same values. */
static void test_linear_padding(void) {
    enum { O = 8, I = 100, M = 2, LD = 130 };
    static const seq_quant_type types[3] = {SEQ_QUANT_Q8_0, SEQ_QUANT_Q4_K, SEQ_QUANT_NF4};
    float W[O * I], x[M * LD], y[M * O], y2[M * O], *Wp, *xp;
    int k;
    int64_t r;
    fill(W, O * I, 0.2f, 4);
    fill(x, M * LD, 1.0f, 5);
    for (k = 0; k < 3; k++) {
        seq_quant_linear q;
        uint8_t *wq;
        int64_t P;
        CHECK(seq_quant_linear_init(&q, types[k], W, NULL, O, I, NULL) == SEQ_OK);
        P = q.in_pad;
        CHECK(P % seq_quant_type_traits(types[k])->block == 0 && P >= I && P - I < seq_quant_type_traits(types[k])->block);
        Wp = (float *)calloc((size_t)(O * P), sizeof(float));
        xp = (float *)calloc((size_t)(M * P), sizeof(float));
        wq = (uint8_t *)malloc(O * seq_quant_row_size(types[k], P));
        for (r = 0; r < O; r++) memcpy(Wp + r * P, W + r * I, I * sizeof(float));
        for (r = 0; r < M; r++) memcpy(xp + r * P, x + r * LD, I * sizeof(float));
        CHECK(seq_quant_quantize(types[k], Wp, wq, O, P) == SEQ_OK);
        CHECK(memcmp(wq, q.w, O * q.row_bytes) == 0);
        CHECK(seq_quant_matmul(types[k], wq, O, P, xp, M, y2, NULL) == SEQ_OK);
        CHECK(seq_quant_linear_forward(&q, x, LD, M, y, NULL) == SEQ_OK);
        CHECK(memcmp(y, y2, sizeof y) == 0);
        seq_quant_linear_free(&q);
        free(Wp);
        free(xp);
        free(wq);
    }
}

static void test_linear_bad_input(void) {
    float W[4 * 32], b[4], x[32], y[4] = {7, 7, 7, 7};
    seq_quant_linear q;
    long live = seq_test_live_blocks;
    int k;
    seq_status s;
    fill(W, 4 * 32, 1.0f, 6);
    fill(b, 4, 1.0f, 7);
    fill(x, 32, 1.0f, 8);
    CHECK(seq_quant_linear_init(NULL, SEQ_QUANT_Q8_0, W, b, 4, 32, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_TYPE_COUNT, W, b, 4, 32, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_Q8_0, NULL, b, 4, 32, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_Q8_0, W, b, 4, 0, NULL) == SEQ_ERR_INVALID);
    W[37] = NAN;
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_Q8_0, W, b, 4, 32, NULL) == SEQ_ERR_NUMERIC);
    CHECK(strstr(seq_last_error(), "row 1 col 5") != NULL);
    W[37] = 0.5f;
    b[2] = INFINITY;
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_F16, W, b, 4, 32, NULL) == SEQ_ERR_NUMERIC);
    b[2] = 0.5f;
    CHECK(seq_quant_linear_init(&q, SEQ_QUANT_Q8_0, W, b, 4, 32, NULL) == SEQ_OK);
    x[3] = NAN;
    CHECK(seq_quant_linear_forward(&q, x, 32, 1, y, NULL) == SEQ_ERR_NUMERIC);
    CHECK(y[0] == 7.0f && y[3] == 7.0f); /* untouched */
    x[3] = 0.0f;
    CHECK(seq_quant_linear_forward(&q, x, 31, 1, y, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_linear_forward(&q, NULL, 32, 1, y, NULL) == SEQ_ERR_INVALID);
    seq_test_fail_after(0); /* the work buffer */
    s = seq_quant_linear_forward(&q, x, 32, 1, y, NULL);
    seq_test_fail_never();
    CHECK(s == SEQ_ERR_NOMEM);
    seq_quant_linear_free(&q);
    seq_quant_linear_free(&q); /* freeing twice is harmless */
    for (k = 0; k < 4; k++) {
        seq_test_fail_after(k);
        s = seq_quant_linear_init(&q, SEQ_QUANT_Q4_0, W, b, 4, 32, NULL);
        seq_test_fail_never();
        CHECK(s == (k < 3 ? SEQ_ERR_NOMEM : SEQ_OK));
        seq_quant_linear_free(&q);
    }
    CHECK(seq_test_live_blocks == live);
}

/* A seq_rnn of `kind` (I inputs, H units, L layers) with PyTorch's initialization. */
static seq_params *make_rnn(seq_rnn *l, seq_rnn_kind kind, int64_t I, int64_t H, int L, uint64_t seed) {
    seq_params *P = seq_params_init(NULL);
    seq_rnn_config cfg = seq_rnn_config_default(kind, I, H);
    seq_rng r;
    cfg.num_layers = L;
    seq_rng_seed(&r, seed);
    CHECK(seq_rnn_init(l, P, "rnn", cfg) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    return P;
}

enum { RB = 2, RT = 16 };

/* T steps of random inputs through seq_rnn_step and seq_quant_rnn_step of type t; the
 * largest |y - y_f32| over every step, and the states compared in their shared layout. */
static double rnn_gap(const seq_rnn *l, seq_quant_type t, double *state_gap) {
    int64_t I = l->cfg.input_size, H = l->cfg.hidden_size, n = l->cfg.num_layers * RB * H, i;
    seq_quant_rnn q;
    seq_rnn_state st;
    seq_quant_rnn_state qs;
    float *x = (float *)malloc(sizeof(float) * RB * I), y[RB * 64], yq[RB * 64];
    double gap = 0.0;
    int s;
    CHECK(seq_quant_rnn_init(&q, l, t, NULL) == SEQ_OK);
    CHECK(seq_rnn_state_init(l, &st, RB) == SEQ_OK);
    CHECK(seq_quant_rnn_state_init(&q, &qs, RB) == SEQ_OK);
    for (s = 0; s < RT; s++) {
        fill(x, RB * I, 1.0f, 100 + (uint64_t)s);
        CHECK(seq_rnn_step(l, &st, x, y) == SEQ_OK);
        CHECK(seq_quant_rnn_step(&q, &qs, x, yq) == SEQ_OK);
        for (i = 0; i < RB * H; i++) gap = fmax(gap, fabs((double)y[i] - yq[i]));
    }
    *state_gap = 0.0;
    for (i = 0; i < n; i++) {
        *state_gap = fmax(*state_gap, fabs((double)st.h[i] - qs.h[i]));
        if (st.c) *state_gap = fmax(*state_gap, fabs((double)st.c[i] - qs.c[i]));
    }
    seq_quant_rnn_state_free(&qs);
    seq_rnn_state_free(&st);
    seq_quant_rnn_free(&q);
    free(x);
    return gap;
}

/* f32 weights reproduce seq_rnn_step to float rounding (the cell math is the same, the
 * products summed in another order); Q8_0 stays close over 16 steps, Q4_0 within a bound. */
static void test_rnn_steps(void) {
    static const seq_rnn_kind kinds[4] = {SEQ_RNN_LSTM, SEQ_RNN_GRU, SEQ_RNN_TANH, SEQ_RNN_RELU};
    static const char *names[4] = {"lstm", "gru", "tanh", "relu"};
    long live = seq_test_live_blocks;
    int k;
    for (k = 0; k < 4; k++) {
        seq_rnn l;
        seq_params *P = make_rnn(&l, kinds[k], 40, 64, k == 0 ? 2 : 1, 11 + (uint64_t)k);
        double sg, g32 = rnn_gap(&l, SEQ_QUANT_F32, &sg), g8, g4;
        CHECK_MSG(g32 <= 2e-6 && sg <= 2e-6, "%s f32: %g (state %g)", names[k], g32, sg);
        g8 = rnn_gap(&l, SEQ_QUANT_Q8_0, &sg);
        CHECK_MSG(g8 <= 0.03, "%s q8_0: %g", names[k], g8);
        g4 = rnn_gap(&l, SEQ_QUANT_Q4_0, &sg);
        CHECK_MSG(g4 <= 0.25 && g4 > g8, "%s q4_0: %g (q8_0 %g)", names[k], g4, g8);
        seq_params_free(P);
    }
    CHECK(seq_test_live_blocks == live);
}

static void test_rnn_bad_input(void) {
    seq_rnn l, bi;
    seq_params *P = make_rnn(&l, SEQ_RNN_LSTM, 32, 32, 1, 21), *P2 = seq_params_init(NULL);
    seq_rnn_config cfg = seq_lstm_config_default(32, 32);
    seq_quant_rnn q;
    seq_quant_rnn_state qs;
    float x[32], y[32], h[32];
    long live;
    seq_status s;
    int k;
    seq_rng r;
    seq_rng_seed(&r, 3);
    cfg.bidirectional = 1;
    CHECK(seq_rnn_init(&bi, P2, "bi", cfg) == SEQ_OK && seq_params_alloc(P2, &r) == SEQ_OK);
    live = seq_test_live_blocks;
    CHECK(seq_quant_rnn_init(&q, &bi, SEQ_QUANT_Q8_0, NULL) == SEQ_ERR_UNSUPPORTED);
    CHECK(seq_quant_rnn_init(&q, NULL, SEQ_QUANT_Q8_0, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_rnn_state_init(&q, &qs, 1) == SEQ_ERR_INVALID); /* q was left empty */
    CHECK(seq_quant_rnn_init(&q, &l, SEQ_QUANT_Q8_0, NULL) == SEQ_OK);
    CHECK(seq_quant_rnn_state_init(&q, &qs, 0) == SEQ_ERR_INVALID);
    CHECK(seq_quant_rnn_state_init(&q, &qs, 1) == SEQ_OK);
    fill(x, 32, 1.0f, 9);
    CHECK(seq_quant_rnn_step(&q, &qs, x, y) == SEQ_OK);
    memcpy(h, qs.h, sizeof h);
    x[5] = INFINITY;
    CHECK(seq_quant_rnn_step(&q, &qs, x, y) == SEQ_ERR_NUMERIC);
    CHECK(memcmp(h, qs.h, sizeof h) == 0);
    CHECK(seq_quant_rnn_step(&q, NULL, x, y) == SEQ_ERR_INVALID);
    seq_quant_rnn_state_free(&qs);
    seq_quant_rnn_free(&q);
    for (k = 0; k < 8; k++) { /* out of memory at each allocation: a status, no leak */
        seq_test_fail_after(k);
        s = seq_quant_rnn_init(&q, &l, SEQ_QUANT_Q4_K, NULL);
        if (s == SEQ_OK) s = seq_quant_rnn_state_init(&q, &qs, 2);
        seq_test_fail_never();
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        seq_quant_rnn_state_free(&qs);
        seq_quant_rnn_free(&q);
    }
    CHECK(s == SEQ_OK);
    CHECK(seq_test_live_blocks == live);
    seq_params_free(P);
    seq_params_free(P2);
}

/* A Mamba block of d_model 32: dt_rank 2, so dt_proj runs the padded path. */
static double mamba_gap(const seq_mamba *m, seq_quant_type t) {
    enum { B = 2, D = 32, T = 12 };
    seq_quant_mamba q;
    seq_mamba_state st;
    seq_quant_mamba_state qs;
    float x[B * D], y[B * D], yq[B * D];
    double gap = 0.0, scale = 0.0;
    int s, i;
    CHECK(seq_quant_mamba_init(&q, m, t, NULL) == SEQ_OK);
    CHECK(seq_mamba_state_init(m, &st, B) == SEQ_OK);
    CHECK(seq_quant_mamba_state_init(&q, &qs, B) == SEQ_OK);
    for (s = 0; s < T; s++) {
        fill(x, B * D, 1.0f, 200 + (uint64_t)s);
        CHECK(seq_mamba_step(m, &st, x, y) == SEQ_OK);
        CHECK(seq_quant_mamba_step(&q, &qs, x, yq) == SEQ_OK);
        for (i = 0; i < B * D; i++) {
            gap = fmax(gap, fabs((double)y[i] - yq[i]));
            scale = fmax(scale, fabs((double)y[i]));
        }
    }
    seq_quant_mamba_state_free(&qs);
    seq_mamba_state_free(&st);
    seq_quant_mamba_free(&q);
    return gap / scale;
}

static void test_mamba_steps(void) {
    seq_params *P = seq_params_init(NULL);
    seq_mamba m;
    seq_quant_mamba q;
    seq_quant_mamba_state qs;
    seq_rng r;
    long live;
    double g32, g8, g4;
    size_t f32_bytes;
    float x[32], y[32];
    seq_status s;
    int k;
    seq_rng_seed(&r, 31);
    CHECK(seq_mamba_init(&m, P, "mamba", seq_mamba_config_default(32)) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mamba_init_ssm(&m, &r) == SEQ_OK);
    live = seq_test_live_blocks;
    g32 = mamba_gap(&m, SEQ_QUANT_F32);
    g8 = mamba_gap(&m, SEQ_QUANT_Q8_0);
    g4 = mamba_gap(&m, SEQ_QUANT_Q4_0);
    CHECK_MSG(g32 <= 2e-6, "f32: %g", g32);
    CHECK_MSG(g8 <= 0.03, "q8_0: %g", g8);
    CHECK_MSG(g4 <= 0.2 && g4 > g8, "q4_0: %g (q8_0 %g)", g4, g8);
    CHECK(seq_quant_mamba_init(&q, NULL, SEQ_QUANT_Q8_0, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_quant_mamba_init(&q, &m, SEQ_QUANT_F32, NULL) == SEQ_OK);
    f32_bytes = seq_quant_mamba_bytes(&q);
    seq_quant_mamba_free(&q);
    CHECK(seq_quant_mamba_init(&q, &m, SEQ_QUANT_Q8_0, NULL) == SEQ_OK);
    CHECK(seq_quant_mamba_bytes(&q) < f32_bytes / 2);
    CHECK(seq_quant_mamba_state_init(&q, &qs, 1) == SEQ_OK);
    fill(x, 32, 1.0f, 5);
    x[0] = NAN;
    CHECK(seq_quant_mamba_step(&q, &qs, x, y) == SEQ_ERR_NUMERIC);
    seq_quant_mamba_state_free(&qs);
    seq_quant_mamba_free(&q);
    for (k = 0; k < 16; k++) {
        seq_test_fail_after(k);
        s = seq_quant_mamba_init(&q, &m, SEQ_QUANT_Q4_0, NULL);
        if (s == SEQ_OK) s = seq_quant_mamba_state_init(&q, &qs, 1);
        seq_test_fail_never();
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        seq_quant_mamba_state_free(&qs);
        seq_quant_mamba_free(&q);
    }
    CHECK(s == SEQ_OK);
    CHECK(seq_test_live_blocks == live);
    seq_params_free(P);
}

void seq_tests_quant_layers(void);
void seq_tests_quant_layers(void) {
    RUN(test_linear_every_type);
    RUN(test_linear_padding);
    RUN(test_linear_bad_input);
    RUN(test_rnn_steps);
    RUN(test_rnn_bad_input);
    RUN(test_mamba_steps);
}
