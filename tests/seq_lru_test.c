/* 14.7: StableSSM reparameterizations, Mega's damped EMA, the LRU and their blocks. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/lru_fixtures.h"

/* max |a - b| over n elements, relative to max(1, max |b|) */
static double rel_err(const float *a, const float *b, int64_t n) {
    double err = 0.0, mag = 1.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        mag = fmax(mag, fabs(b[i]));
    }
    return err / mag;
}

static void fill_normal(float *v, int64_t n, seq_rng *r, double std) {
    int64_t i;
    for (i = 0; i < n; i++) v[i] = (float)seq_rng_normal(r, 0.0, std);
}

/* --- StableSSM reparameterization ------------------------------------------------------- */

static void test_reparam_maps(void) {
    static const float ws[6] = {-3.0f, -0.7f, 0.0f, 0.4f, 1.3f, 4.0f};
    int k, i;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++)
        for (i = 0; i < 6; i++) {
            float w = ws[i], d, lo = (k == SEQ_REPARAM_BEST) ? -1.0f : 0.0f;
            float v = seq_reparam_value((seq_reparam_kind)k, w, &d);
            double h = 1e-3, num = ((double)seq_reparam_value((seq_reparam_kind)k, w + (float)h, NULL) -
                                    seq_reparam_value((seq_reparam_kind)k, w - (float)h, NULL)) / (2 * h);
            CHECK_MSG(v >= lo && v < 1.0f, "kind %d f(%g) = %g", k, (double)w, (double)v);
            CHECK_MSG(fabs(num - d) <= 1e-3 * fmax(1.0, fabs(num)), "kind %d f'(%g) = %g, numeric %g", k, (double)w,
                      (double)d, num);
        }
    /* the inverse lands back on lambda, for decays from fast to very slow */
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        static const float lams[4] = {0.05f, 0.5f, 0.9f, 0.999f};
        for (i = 0; i < 4; i++) {
            float w = seq_reparam_inverse((seq_reparam_kind)k, lams[i]);
            CHECK_NEAR(seq_reparam_value((seq_reparam_kind)k, w, NULL), lams[i], 1e-5);
        }
        CHECK(isnan(seq_reparam_inverse((seq_reparam_kind)k, 1.0f)));
        CHECK(isnan(seq_reparam_inverse((seq_reparam_kind)k, 0.0f)));
    }
    CHECK(seq_reparam_value(SEQ_REPARAM_EXP, 0.0f, NULL) == expf(-1.0f));
    CHECK(seq_reparam_value(SEQ_REPARAM_BEST, 0.0f, NULL) == -1.0f); /* the map's edge: |lambda| <= 1 */
    CHECK(seq_reparam_value(SEQ_REPARAM_SIGMOID, 0.0f, NULL) == 0.5f);
    {
        float d = 1.0f;
        /* saturated ends stay finite with zero slope */
        CHECK(seq_reparam_value(SEQ_REPARAM_EXP, 800.0f, &d) == 0.0f && d == 0.0f);
        CHECK(seq_reparam_value(SEQ_REPARAM_SIGMOID, -800.0f, &d) == 0.0f && d == 0.0f);
        CHECK(seq_reparam_value(SEQ_REPARAM_BEST, 1e30f, &d) == 1.0f && d == 0.0f);
        CHECK(isnan(seq_reparam_value(SEQ_REPARAM_KIND_COUNT, 0.0f, &d)) && isnan(d));
    }
}

typedef struct {
    seq_tensor *w;
    seq_reparam_kind kind;
    float wt[5];
} reparam_case;

static seq_tensor *reparam_loss(seq_ctx *ctx, void *ud) {
    reparam_case *c = (reparam_case *)ud;
    int64_t n = 5;
    return seq_mean(ctx, seq_mul(ctx, seq_reparam(ctx, c->w, c->kind), seq_tensor_wrap(ctx, c->wt, 1, &n)));
}

static void test_reparam_gradcheck(void) {
    int k;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_gradcheck_result res;
        reparam_case c;
        int64_t n = 5;
        seq_rng r;
        seq_rng_seed(&r, 3 + k);
        c.kind = (seq_reparam_kind)k;
        c.w = seq_params_add(P, "w", 1, &n, seq_init_uniform(-2.0f, 2.0f));
        fill_normal(c.wt, 5, &r, 1.0);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        CHECK(seq_gradcheck(ctx, P, reparam_loss, &c, 1e-3f, 1e-4f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0, "kind %d: %lld failed", k, (long long)res.failed);
        seq_ctx_reset(ctx);
        CHECK(seq_reparam(ctx, c.w, SEQ_REPARAM_KIND_COUNT) == NULL && seq_ctx_status(ctx) == SEQ_ERR_INVALID);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* --- shared: a layer's loss for gradchecks ------------------------------------------------ */

typedef seq_tensor *(*layer_forward_fn)(seq_ctx *ctx, const void *layer, seq_tensor *x, seq_rnn_io *io);

static seq_tensor *fwd_mega_ema(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_mega_ema_forward(ctx, (const seq_mega_ema *)l, x, io);
}
static seq_tensor *fwd_lru(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_lru_forward(ctx, (const seq_lru *)l, x, io);
}
static seq_tensor *fwd_lru_block(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_lru_block_forward(ctx, (const seq_lru_block *)l, x, io);
}
static seq_tensor *fwd_mega_block(seq_ctx *ctx, const void *l, seq_tensor *x, seq_rnn_io *io) {
    return seq_mega_block_forward(ctx, (const seq_mega_block *)l, x, io);
}

typedef struct {
    const void *layer;
    layer_forward_fn forward;
    seq_tensor *x, *h0;
    seq_rnn_io io;
    float wy[512], wh[512];
} layer_case;

/* loss = mean(y * wy) + mean(hn * wh): the output and the final state both carry gradient */
static seq_tensor *layer_loss(seq_ctx *ctx, void *ud) {
    layer_case *c = (layer_case *)ud;
    seq_tensor *y, *l;
    c->io.h0 = c->h0;
    y = c->forward(ctx, c->layer, c->x, &c->io);
    if (!y) return NULL;
    l = seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, c->wy, y->ndim, y->shape)));
    if (!c->io.hn) return l;
    return seq_add(ctx, l,
                   seq_mean(ctx, seq_mul(ctx, c->io.hn, seq_tensor_wrap(ctx, c->wh, c->io.hn->ndim, c->io.hn->shape))));
}

static void layer_case_setup(layer_case *c, seq_rng *r) {
    fill_normal(c->wy, 512, r, 1.0);
    fill_normal(c->wh, 512, r, 1.0);
}


static seq_mega_block_config small_mega_block(int64_t D, int causal) {
    seq_mega_block_config cfg = seq_mega_block_config_default(D);
    cfg.ema.ndim = 3;
    cfg.zdim = 3;
    cfg.hdim = 4;
    cfg.max_positions = 8;
    cfg.causal = causal;
    return cfg;
}

/* Mega's N(0, 0.02^2) weights leave the attention path too faint for a test to see: wider
 * projections, gamma and position bias make every path count. */
static void widen_mega_block(seq_mega_block *mb, seq_rng *r) {
    seq_tensor *ws[5];
    int i;
    ws[0] = mb->v_w;
    ws[1] = mb->mx_w;
    ws[2] = mb->h_w;
    ws[3] = mb->gamma;
    ws[4] = mb->rel_pos;
    for (i = 0; i < 5; i++) fill_normal(ws[i]->data, ws[i]->numel, r, i < 4 ? 0.7 : 0.5);
}

/* One gradcheck harness for every layer and block: setup registers the layer for a variant
 * (and its h0, of the layer's state shape) and points c at it; after the allocation, reset
 * draws the reference initialization. Odd variants add lengths and resets. Every element
 * of every parameter, x (2,4,2) and h0 is checked. */
typedef union {
    seq_mega_ema ema;
    seq_lru lru;
    seq_lru_block lru_block;
    seq_mega_block mega_block;
} any_layer;
typedef void (*layer_setup_fn)(seq_params *P, any_layer *L, layer_case *c, int variant);
typedef seq_status (*layer_reset_fn)(any_layer *L, seq_rng *r);

static void gradcheck_layer(const char *what, int nvariants, uint64_t seed, layer_setup_fn setup,
                            layer_reset_fn reset) {
    static const int32_t lengths[2] = {4, 3};
    static const uint8_t resets[8] = {0, 0, 1, 0, /* */ 0, 1, 0, 0};
    int variant;
    for (variant = 0; variant < nvariants; variant++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        seq_gradcheck_result res;
        int64_t sx[3] = {2, 4, 2};
        any_layer L;
        layer_case c;
        seq_rng r;
        memset(&c, 0, sizeof c);
        seq_rng_seed(&r, seed + (uint64_t)variant);
        setup(P, &L, &c, variant);
        c.x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
        CHECK(c.h0 && seq_params_alloc(P, &r) == SEQ_OK && reset(&L, &r) == SEQ_OK);
        layer_case_setup(&c, &r);
        if (variant % 2) {
            c.io.lengths = lengths;
            c.io.resets = resets;
        }
        CHECK(seq_gradcheck(ctx, P, layer_loss, &c, 1e-3f, 1e-3f, 1e-2f, &res) == SEQ_OK);
        CHECK_MSG(res.failed == 0 && res.checked == P->numel,
                  "%s variant %d: %lld of %lld failed, worst %s[%lld] abs %g", what, variant, (long long)res.failed,
                  (long long)res.checked, res.worst_param ? res.worst_param : "-", (long long)res.worst_index,
                  res.max_abs_err);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* h0 of shape (2, rows, cols), or (2, rows) when cols is 0 */
static seq_tensor *add_h0(seq_params *P, int64_t rows, int64_t cols) {
    int64_t s[3];
    s[0] = 2;
    s[1] = rows;
    s[2] = cols;
    return seq_params_add(P, "h0", cols ? 3 : 2, s, seq_init_normal(0, 1));
}

/* variants 0,1 unidirectional, 2,3 bidirectional */
static void setup_mega_ema(seq_params *P, any_layer *L, layer_case *c, int variant) {
    seq_mega_ema_config cfg = seq_mega_ema_config_default(2);
    cfg.ndim = 3;
    cfg.bidirectional = variant / 2;
    CHECK(seq_mega_ema_init(&L->ema, P, "ema", cfg) == SEQ_OK);
    c->h0 = add_h0(P, cfg.bidirectional ? 4 : 2, 3);
    c->layer = &L->ema;
    c->forward = fwd_mega_ema;
}
static seq_status reset_mega_ema(any_layer *L, seq_rng *r) { return seq_mega_ema_reset_parameters(&L->ema, r); }

/* variants in pairs: exp, best, sigmoid magnitude */
static seq_lru_config small_lru(int variant) {
    seq_lru_config cfg = seq_lru_config_default(2, 3);
    cfg.reparam = (seq_reparam_kind)(variant / 2 % SEQ_REPARAM_KIND_COUNT);
    cfg.r_min = 0.5f;
    cfg.r_max = 0.95f;
    return cfg;
}
static void setup_lru(seq_params *P, any_layer *L, layer_case *c, int variant) {
    CHECK(seq_lru_init(&L->lru, P, "lru", small_lru(variant)) == SEQ_OK);
    c->h0 = add_h0(P, 6, 0);
    c->layer = &L->lru;
    c->forward = fwd_lru;
}
static seq_status reset_lru(any_layer *L, seq_rng *r) { return seq_lru_reset_parameters(&L->lru, r); }

/* variants 0,1 post-norm, 2,3 pre-norm */
static void setup_lru_block(seq_params *P, any_layer *L, layer_case *c, int variant) {
    seq_lru_block_config cfg = seq_lru_block_config_default(2, 3);
    cfg.lru = small_lru(variant);
    cfg.prenorm = variant / 2;
    CHECK(seq_lru_block_init(&L->lru_block, P, "blk", cfg) == SEQ_OK);
    c->h0 = add_h0(P, 6, 0);
    c->layer = &L->lru_block;
    c->forward = fwd_lru_block;
}
static seq_status reset_lru_block(any_layer *L, seq_rng *r) { return seq_lru_block_reset_parameters(&L->lru_block, r); }

/* variants 0,1 causal, 2,3 not (the bidirectional EMA's state has 2D rows) */
static void setup_mega_block(seq_params *P, any_layer *L, layer_case *c, int variant) {
    CHECK(seq_mega_block_init(&L->mega_block, P, "blk", small_mega_block(2, variant < 2)) == SEQ_OK);
    c->h0 = add_h0(P, variant < 2 ? 2 : 4, 3);
    c->layer = &L->mega_block;
    c->forward = fwd_mega_block;
}
static seq_status reset_mega_block(any_layer *L, seq_rng *r) {
    seq_status s = seq_mega_block_reset_parameters(&L->mega_block, r);
    widen_mega_block(&L->mega_block, r);
    return s;
}

static void test_mega_ema_gradcheck(void) { gradcheck_layer("mega_ema", 4, 40, setup_mega_ema, reset_mega_ema); }
static void test_lru_gradcheck(void) { gradcheck_layer("lru", 6, 60, setup_lru, reset_lru); }
static void test_blocks_gradcheck(void) {
    gradcheck_layer("lru_block", 4, 80, setup_lru_block, reset_lru_block);
    gradcheck_layer("mega_block", 4, 84, setup_mega_block, reset_mega_block);
}

/* The layer's output for x (sx) with no graph recorded equals want to 1e-5 relative. */
static void check_output(const char *what, int k, layer_forward_fn fwd, const void *layer, float *x, const int64_t *sx,
                         const float *want) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *y;
    seq_ctx_set_grad(ctx, 0);
    y = fwd(ctx, layer, seq_tensor_wrap(ctx, x, 3, sx), NULL);
    CHECK(y != NULL);
    if (y) CHECK_MSG(rel_err(y->data, want, y->numel) < 1e-5, "%s %d: %g", what, k, rel_err(y->data, want, y->numel));
    seq_ctx_free(ctx);
}

/* --- every layer and block: streaming and pieces ---------------------------------------------- */

/* The step API of each layer behind one signature, for the harness below. */
typedef union {
    seq_rnn_state rnn;
    seq_mega_block_state mega;
} any_state;
typedef struct {
    seq_status (*init)(const void *l, any_state *st, int64_t batch);
    seq_status (*step)(const void *l, any_state *st, const float *x_t, float *y_t);
    void (*reset)(any_state *st);
    void (*release)(any_state *st);
    float *(*state)(any_state *st); /* the recurrent state, laid out as io->hn */
} stream_ops;
#define STREAM_OPS(name, layer_t, member)                                                                         \
    static seq_status name##_init_(const void *l, any_state *st, int64_t b) {                                     \
        return name##_state_init((const layer_t *)l, &st->member, b);                                             \
    }                                                                                                              \
    static seq_status name##_step_(const void *l, any_state *st, const float *x, float *y) {                      \
        return name##_step((const layer_t *)l, &st->member, x, y);                                                 \
    }                                                                                                              \
    static void name##_reset_(any_state *st) { name##_state_reset(&st->member); }                                 \
    static void name##_release_(any_state *st) { name##_state_free(&st->member); }
STREAM_OPS(seq_mega_ema, seq_mega_ema, rnn)
STREAM_OPS(seq_lru, seq_lru, rnn)
STREAM_OPS(seq_lru_block, seq_lru_block, rnn)
STREAM_OPS(seq_mega_block, seq_mega_block, mega)
static float *rnn_state_h(any_state *st) { return st->rnn.h; }
static float *mega_block_state_h(any_state *st) { return st->mega.ema.h; }

/* A layer to test: its setup (gradcheck_layer's) and variant, and its step API if it streams. */
typedef struct {
    const char *what;
    layer_setup_fn setup;
    layer_reset_fn reset;
    int variant, dirs; /* dirs 2: a bidirectional state, forward rows then backward rows */
    int streams;       /* 0: state_init refuses (SEQ_ERR_UNSUPPORTED) */
    stream_ops ops;
} layer_kind;

#define MEGA_EMA_OPS {seq_mega_ema_init_, seq_mega_ema_step_, seq_mega_ema_reset_, seq_mega_ema_release_, rnn_state_h}
#define LRU_OPS {seq_lru_init_, seq_lru_step_, seq_lru_reset_, seq_lru_release_, rnn_state_h}
#define LRU_BLOCK_OPS                                                                                              \
    {seq_lru_block_init_, seq_lru_block_step_, seq_lru_block_reset_, seq_lru_block_release_, rnn_state_h}
#define MEGA_BLOCK_OPS                                                                                               \
    {seq_mega_block_init_, seq_mega_block_step_, seq_mega_block_reset_, seq_mega_block_release_, mega_block_state_h}
static const layer_kind layer_kinds[] = {
    {"mega_ema", setup_mega_ema, reset_mega_ema, 0, 1, 1, MEGA_EMA_OPS},
    {"mega_ema bidirectional", setup_mega_ema, reset_mega_ema, 2, 2, 0, MEGA_EMA_OPS},
    {"lru", setup_lru, reset_lru, 0, 1, 1, LRU_OPS},
    {"lru best", setup_lru, reset_lru, 2, 1, 1, LRU_OPS},
    {"lru_block", setup_lru_block, reset_lru_block, 0, 1, 1, LRU_BLOCK_OPS},
    {"lru_block prenorm", setup_lru_block, reset_lru_block, 2, 1, 1, LRU_BLOCK_OPS},
    {"mega_block", setup_mega_block, reset_mega_block, 0, 1, 1, MEGA_BLOCK_OPS},
    {"mega_block encoder", setup_mega_block, reset_mega_block, 2, 2, 0, MEGA_BLOCK_OPS}};
enum { NKINDS = sizeof layer_kinds / sizeof layer_kinds[0], KC = 2 /* the setups' channels */ };

/* Builds kind k's layer in P, allocated and initialized; c->layer, c->forward point at it. */
static void build_layer(const layer_kind *k, seq_params *P, any_layer *L, layer_case *c, seq_rng *r) {
    memset(c, 0, sizeof *c);
    k->setup(P, L, c, k->variant);
    CHECK(seq_params_alloc(P, r) == SEQ_OK && k->reset(L, r) == SEQ_OK);
}

/* Streaming step by step gives the sequence's output and final state, twice over with a
 * reset between. */
static void test_streaming(void) {
    enum { B = 2, T = 6 };
    int k;
    for (k = 0; k < NKINDS; k++) {
        const layer_kind *kind = &layer_kinds[k];
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[B * T * KC], xt[B * KC], yt[B * KC];
        int64_t sx[3] = {B, T, KC}, t, b;
        any_layer L;
        any_state st;
        layer_case c;
        seq_tensor *y;
        seq_rng r;
        double worst = 0.0;
        int pass;
        if (!kind->streams) {
            seq_params_free(P);
            seq_ctx_free(ctx);
            continue;
        }
        seq_rng_seed(&r, 90 + k);
        build_layer(kind, P, &L, &c, &r);
        fill_normal(x, B * T * KC, &r, 1.0);
        seq_ctx_set_grad(ctx, 0);
        y = c.forward(ctx, c.layer, seq_tensor_wrap(ctx, x, 3, sx), &c.io);
        CHECK(y != NULL && kind->ops.init(c.layer, &st, B) == SEQ_OK);
        for (pass = 0; pass < 2 && y; pass++) {
            for (t = 0; t < T; t++) {
                for (b = 0; b < B; b++) memcpy(xt + b * KC, x + (b * T + t) * KC, KC * sizeof(float));
                CHECK(kind->ops.step(c.layer, &st, xt, yt) == SEQ_OK);
                for (b = 0; b < B; b++) worst = fmax(worst, rel_err(yt + b * KC, y->data + (b * T + t) * KC, KC));
            }
            worst = fmax(worst, rel_err(kind->ops.state(&st), c.io.hn->data, c.io.hn->numel));
            kind->ops.reset(&st);
        }
        CHECK_MSG(worst < 1e-5, "%s: step vs sequence: %g", kind->what, worst);
        if (y) kind->ops.release(&st);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Segments and padded rows give what running each piece alone gives, final states
 * included: row 0 restarts at t = 4, row 1 has length 4. A bidirectional state's forward
 * rows end with the last segment, its backward rows with the first. Attention (Mega's
 * block) crosses neither a reset nor into padding. */
static void test_pieces_equal_whole(void) {
    enum { T = 7 };
    int k;
    for (k = 0; k < NKINDS; k++) {
        const layer_kind *kind = &layer_kinds[k];
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        float x[2 * T * KC];
        uint8_t resets[2 * T] = {0};
        int32_t lengths[2] = {T, 4};
        int64_t s_full[3] = {2, T, KC}, s4[3] = {1, 4, KC}, s3[3] = {1, 3, KC}, i, S;
        seq_rnn_io io[4];
        seq_tensor *y[4];
        any_layer L;
        layer_case c;
        seq_rng r;
        double worst = 0.0;
        seq_rng_seed(&r, 100 + k);
        build_layer(kind, P, &L, &c, &r);
        fill_normal(x, 2 * T * KC, &r, 1.0);
        resets[4] = 1;
        memset(io, 0, sizeof io);
        io[0].resets = resets;
        io[0].lengths = lengths;
        seq_ctx_set_grad(ctx, 0);
        y[0] = c.forward(ctx, c.layer, seq_tensor_wrap(ctx, x, 3, s_full), &io[0]);
        y[1] = c.forward(ctx, c.layer, seq_tensor_wrap(ctx, x, 3, s4), &io[1]);
        y[2] = c.forward(ctx, c.layer, seq_tensor_wrap(ctx, x + 4 * KC, 3, s3), &io[2]);
        y[3] = c.forward(ctx, c.layer, seq_tensor_wrap(ctx, x + T * KC, 3, s4), &io[3]);
        CHECK(y[0] && y[1] && y[2] && y[3]);
        if (y[0] && y[1] && y[2] && y[3]) {
            S = io[1].hn->numel / kind->dirs; /* one direction's state of one row */
            worst = fmax(worst, rel_err(y[0]->data, y[1]->data, 4 * KC));
            worst = fmax(worst, rel_err(y[0]->data + 4 * KC, y[2]->data, 3 * KC));
            worst = fmax(worst, rel_err(y[0]->data + T * KC, y[3]->data, 4 * KC));
            for (i = 4 * KC; i < T * KC; i++) worst = fmax(worst, fabs(y[0]->data[T * KC + i])); /* padding */
            worst = fmax(worst, rel_err(io[0].hn->data, io[2].hn->data, S));
            if (kind->dirs == 2) worst = fmax(worst, rel_err(io[0].hn->data + S, io[1].hn->data + S, S));
            worst = fmax(worst, rel_err(io[0].hn->data + S * kind->dirs, io[3].hn->data, S * kind->dirs));
        }
        CHECK_MSG(worst < 1e-6, "%s: pieces vs whole: %g", kind->what, worst);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* The same refusals from every forward: an uninitialized layer, T = 0, the wrong width,
 * an initial state of the wrong shape, a length past T, a non-finite input. */
static void test_forward_bad_input(void) {
    int k;
    for (k = 0; k < NKINDS; k++) {
        const layer_kind *kind = &layer_kinds[k];
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        int64_t sx[3] = {2, 4, KC}, s0[3] = {2, 0, KC}, swide[3] = {2, 4, KC + 1}, sh[2] = {2, 5};
        int32_t lengths[2] = {4, 5};
        any_layer L, fresh;
        layer_case c;
        seq_rnn_io io;
        seq_tensor *x;
        seq_rng r;
        seq_rng_seed(&r, 110 + k);
        build_layer(kind, P, &L, &c, &r);
        memset(&fresh, 0, sizeof fresh);
        CHECK(c.forward(ctx, &fresh, seq_tensor_new(ctx, SEQ_F32, 3, sx), NULL) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_INVALID, "%s: %s", kind->what, seq_ctx_error(ctx));
        seq_ctx_reset(ctx);
        CHECK(c.forward(ctx, c.layer, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_SHAPE, "%s: %s", kind->what, seq_ctx_error(ctx));
        seq_ctx_reset(ctx);
        CHECK(c.forward(ctx, c.layer, seq_tensor_new(ctx, SEQ_F32, 3, swide), NULL) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_SHAPE, "%s: %s", kind->what, seq_ctx_error(ctx));
        seq_ctx_reset(ctx);
        memset(&io, 0, sizeof io);
        io.h0 = seq_tensor_new(ctx, SEQ_F32, 2, sh);
        CHECK(c.forward(ctx, c.layer, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_SHAPE && strstr(seq_ctx_error(ctx), "h0"), "%s: %s", kind->what,
                  seq_ctx_error(ctx));
        seq_ctx_reset(ctx);
        memset(&io, 0, sizeof io);
        io.lengths = lengths;
        CHECK(c.forward(ctx, c.layer, seq_tensor_new(ctx, SEQ_F32, 3, sx), &io) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_RANGE, "%s: %s", kind->what, seq_ctx_error(ctx));
        seq_ctx_reset(ctx);
        x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
        x->data[5] = NAN;
        CHECK(c.forward(ctx, c.layer, x, NULL) == NULL);
        CHECK_MSG(seq_ctx_status(ctx) == SEQ_ERR_NUMERIC, "%s: %s", kind->what, seq_ctx_error(ctx));
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Every step API: a non-streaming layer refuses a state, batch 0 and NULL are invalid, a
 * non-finite input is SEQ_ERR_NUMERIC. */
static void test_streaming_bad_input(void) {
    int k;
    for (k = 0; k < NKINDS; k++) {
        const layer_kind *kind = &layer_kinds[k];
        seq_params *P = seq_params_init(NULL);
        float xt[KC] = {0.0f, INFINITY}, yt[KC];
        any_layer L;
        any_state st;
        layer_case c;
        seq_rng r;
        seq_rng_seed(&r, 120 + k);
        build_layer(kind, P, &L, &c, &r);
        if (!kind->streams) {
            CHECK_MSG(kind->ops.init(c.layer, &st, 1) == SEQ_ERR_UNSUPPORTED, "%s", kind->what);
        } else {
            CHECK_MSG(kind->ops.init(c.layer, &st, 0) == SEQ_ERR_INVALID, "%s", kind->what);
            CHECK(kind->ops.init(c.layer, &st, 1) == SEQ_OK);
            CHECK_MSG(kind->ops.step(c.layer, &st, xt, yt) == SEQ_ERR_NUMERIC, "%s", kind->what);
            CHECK_MSG(kind->ops.step(c.layer, &st, NULL, yt) == SEQ_ERR_INVALID, "%s", kind->what);
            kind->ops.release(&st);
        }
        seq_params_free(P);
    }
}

/* Configurations out of range, and a reset before the parameters exist. */
static void test_configs_rejected(void) {
    seq_params *P = seq_params_init(NULL);
    seq_mega_ema_config ecfg = seq_mega_ema_config_default(3);
    seq_lru_config lcfg = seq_lru_config_default(3, 4);
    seq_mega_block_config mcfg = small_mega_block(3, 1);
    seq_lru_block_config bcfg = seq_lru_block_config_default(3, 2);
    seq_mega_ema ema;
    seq_lru lru;
    seq_mega_block mb;
    seq_lru_block lb;
    seq_rng r;
    seq_rng_seed(&r, 2);
    ecfg.ndim = 0;
    CHECK(seq_mega_ema_init(&ema, P, "e", ecfg) == SEQ_ERR_INVALID);
    ecfg.ndim = 2;
    ecfg.bidirectional = 2;
    CHECK(seq_mega_ema_init(&ema, P, "e", ecfg) == SEQ_ERR_INVALID);
    lcfg.r_min = 0.9f;
    lcfg.r_max = 0.5f;
    CHECK(seq_lru_init(&lru, P, "l", lcfg) == SEQ_ERR_INVALID);
    lcfg = seq_lru_config_default(3, 4);
    lcfg.reparam = SEQ_REPARAM_KIND_COUNT;
    CHECK(seq_lru_init(&lru, P, "l", lcfg) == SEQ_ERR_INVALID);
    lcfg = seq_lru_config_default(3, 4);
    lcfg.max_phase = 0.0f;
    CHECK(seq_lru_init(&lru, P, "l", lcfg) == SEQ_ERR_INVALID);
    mcfg.zdim = 0;
    CHECK(seq_mega_block_init(&mb, P, "m", mcfg) == SEQ_ERR_INVALID);
    bcfg.prenorm = 2;
    CHECK(seq_lru_block_init(&lb, P, "b", bcfg) == SEQ_ERR_INVALID);
    CHECK(seq_mega_ema_init(&ema, P, "e", seq_mega_ema_config_default(3)) == SEQ_OK);
    CHECK(seq_lru_init(&lru, P, "l", seq_lru_config_default(3, 4)) == SEQ_OK);
    CHECK(seq_mega_ema_reset_parameters(&ema, &r) == SEQ_ERR_INVALID); /* not allocated yet */
    CHECK(seq_lru_reset_parameters(&lru, &r) == SEQ_ERR_INVALID);
    seq_params_free(P);
}

/* The bias table reaches max_positions: a longer sequence is refused, and so is a stream
 * step once the key/value cache is full, until a reset. */
static void test_mega_block_positions(void) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_block mb;
    seq_mega_block_state ms;
    int64_t s_long[3] = {1, 9, 1};
    float xt[1] = {0.5f}, yt[1];
    seq_rng r;
    int i;
    seq_rng_seed(&r, 4);
    CHECK(seq_mega_block_init(&mb, P, "m", small_mega_block(1, 1)) == SEQ_OK); /* max_positions 8 */
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_mega_block_forward(ctx, &mb, seq_tensor_new(ctx, SEQ_F32, 3, s_long), NULL) == NULL);
    CHECK(seq_ctx_status(ctx) == SEQ_ERR_RANGE && strstr(seq_ctx_error(ctx), "max_positions") != NULL);
    CHECK(seq_mega_block_state_init(&mb, &ms, 1) == SEQ_OK);
    for (i = 0; i < 8; i++) CHECK(seq_mega_block_step(&mb, &ms, xt, yt) == SEQ_OK);
    CHECK(seq_mega_block_step(&mb, &ms, xt, yt) == SEQ_ERR_RANGE);
    seq_mega_block_state_reset(&ms);
    CHECK(seq_mega_block_step(&mb, &ms, xt, yt) == SEQ_OK);
    seq_mega_block_state_free(&ms);
    seq_ctx_free(ctx);
    seq_params_free(P);
}

/* --- Mega EMA ------------------------------------------------------------------------------ */


/* Outputs, final state and every gradient equal fairseq's MultiHeadEMA (FFT form, and its
 * incremental step for the initial state) in PyTorch. */
static void check_mega_parity(int bidirectional, const float *const *prm, const float *const *grads, const float *x,
                              const float *x_grad, const float *y_want, const float *wy, const float *h0,
                              const float *h0_grad, const float *hn_want, const float *wh) {
    enum { NY = LRU_FX_B * LRU_FX_T * MEGA_FX_D, NS = LRU_FX_B * MEGA_FX_D * MEGA_FX_N };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mega_ema_config cfg = seq_mega_ema_config_default(MEGA_FX_D);
    seq_mega_ema l;
    seq_rnn_io io;
    seq_tensor *tx, *th0 = NULL, *y, *loss, *ps[5];
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, MEGA_FX_D}, sh[3] = {LRU_FX_B, MEGA_FX_D, MEGA_FX_N}, i;
    static float wys[NY], whs[NS];
    seq_rng r;
    int k;
    seq_rng_seed(&r, 1);
    cfg.ndim = MEGA_FX_N;
    cfg.bidirectional = bidirectional;
    CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
    tx = seq_params_add(P, "x", 3, sx, seq_init_zeros());
    if (h0) th0 = seq_params_add(P, "h0", 3, sh, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    ps[0] = l.delta;
    ps[1] = l.alpha;
    ps[2] = l.beta;
    ps[3] = l.gamma;
    ps[4] = l.omega;
    for (k = 0; k < 5; k++) memcpy(ps[k]->data, prm[k], (size_t)ps[k]->numel * sizeof(float));
    memcpy(tx->data, x, sizeof(float) * NY);
    if (th0) memcpy(th0->data, h0, sizeof(float) * NS);
    memset(&io, 0, sizeof io);
    io.h0 = th0;
    y = seq_mega_ema_forward(ctx, &l, tx, &io);
    CHECK(y != NULL);
    if (!y) goto done;
    for (i = 0; i < NY; i++) wys[i] = wy[i] * NY; /* the fixture's sum as a mean */
    loss = seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, y->shape)));
    if (hn_want) {
        for (i = 0; i < NS; i++) whs[i] = wh[i] * NS;
        loss = seq_add(ctx, loss, seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, whs, 3, io.hn->shape))));
        CHECK_MSG(rel_err(io.hn->data, hn_want, NS) < 1e-5, "hn differs by %g", rel_err(io.hn->data, hn_want, NS));
    }
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "bi %d: y differs by %g", bidirectional,
              rel_err(y->data, y_want, NY));
    for (k = 0; k < 5; k++)
        CHECK_MSG(rel_err(ps[k]->grad, grads[k], ps[k]->numel) < 1e-5, "bi %d: %s grad differs by %g", bidirectional,
                  ps[k]->name, rel_err(ps[k]->grad, grads[k], ps[k]->numel));
    CHECK_MSG(rel_err(tx->grad, x_grad, NY) < 1e-5, "x grad differs by %g", rel_err(tx->grad, x_grad, NY));
    if (th0)
        CHECK_MSG(rel_err(th0->grad, h0_grad, NS) < 1e-5, "h0 grad differs by %g", rel_err(th0->grad, h0_grad, NS));
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_mega_ema_pytorch_parity(void) {
    const float *uni[5] = {mega_uni_delta, mega_uni_alpha, mega_uni_beta, mega_uni_gamma, mega_uni_omega};
    const float *uni_g[5] = {mega_uni_delta_grad, mega_uni_alpha_grad, mega_uni_beta_grad, mega_uni_gamma_grad,
                             mega_uni_omega_grad};
    const float *bi[5] = {mega_bi_delta, mega_bi_alpha, mega_bi_beta, mega_bi_gamma, mega_bi_omega};
    const float *bi_g[5] = {mega_bi_delta_grad, mega_bi_alpha_grad, mega_bi_beta_grad, mega_bi_gamma_grad,
                            mega_bi_omega_grad};
    check_mega_parity(0, uni, uni_g, mega_uni_x, mega_uni_x_grad, mega_uni_y, mega_uni_wy, mega_uni_h0,
                      mega_uni_h0_grad, mega_uni_hn, mega_uni_wh);
    check_mega_parity(1, bi, bi_g, mega_bi_x, mega_bi_x_grad, mega_bi_y, mega_bi_wy, NULL, NULL, NULL, NULL);
}

/* The convolution form Mega's reference computes by FFT, here directly in double:
 *     y_t = silu(omega x_t + sum_{l<=t} k_l x_{t-l} [+ sum_{l>=0} k'_l x_{t+l}]),
 *     k_l = sum_n eta/sqrt(N) a beta q^l   (k' from the backward rows),
 * equals the recurrence to 1e-5 relative over a longer sequence. */
static void test_mega_ema_convolution_form(void) {
    enum { B = 2, T = 24, D = 3, N = 5 };
    int bidi;
    for (bidi = 0; bidi < 2; bidi++) {
        seq_params *P = seq_params_init(NULL);
        seq_mega_ema_config cfg = seq_mega_ema_config_default(D);
        seq_mega_ema l;
        float x[B * T * D], want[B * T * D];
        int64_t sx[3] = {B, T, D}, b, t, d, j, n, dir;
        seq_rng r;
        seq_rng_seed(&r, 9 + bidi);
        cfg.ndim = N;
        cfg.bidirectional = bidi;
        CHECK(seq_mega_ema_init(&l, P, "ema", cfg) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_mega_ema_reset_parameters(&l, &r) == SEQ_OK);
        fill_normal(x, B * T * D, &r, 1.0);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++)
                for (d = 0; d < D; d++) {
                    double e = (double)l.omega->data[d] * x[(b * T + t) * D + d];
                    for (dir = 0; dir <= bidi; dir++)
                        for (j = 0; j < T; j++) {
                            int64_t src = dir ? t + j : t - j, row = dir * D + d;
                            double k = 0.0;
                            if (src < 0 || src >= T) continue;
                            for (n = 0; n < N; n++) {
                                double a = 1.0 / (1.0 + exp(-(double)l.delta->data[row * N + n]));
                                double g = 1.0 / (1.0 + exp(-(double)l.alpha->data[row * N + n]));
                                k += l.gamma->data[row * N + n] / sqrt((double)N) * a * l.beta->data[row * N + n] *
                                     pow(1.0 - a * g, (double)j);
                            }
                            e += k * x[(b * T + src) * D + d];
                        }
                    want[(b * T + t) * D + d] = (float)(e / (1.0 + exp(-e)));
                }
        check_output("bidirectional", bidi, fwd_mega_ema, &l, x, sx, want);
        seq_params_free(P);
    }
}

/* --- LRU ------------------------------------------------------------------------------------ */


/* Outputs, final state and every gradient equal the paper's LRU written in PyTorch with
 * complex tensors, for the exp magnitude and for StableSSM's "best" one. */
static void check_lru_parity(seq_reparam_kind kind, const float *const *prm, const float *const *grads,
                             const float *y_want, const float *hn_want, const float *wy, const float *wh) {
    enum { NY = LRU_FX_B * LRU_FX_T * LRU_FX_H, NS = LRU_FX_B * 2 * LRU_FX_N };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_lru_config cfg = seq_lru_config_default(LRU_FX_H, LRU_FX_N);
    seq_lru l;
    seq_rnn_io io;
    seq_tensor *ts[10], *y, *loss;
    int64_t su[3] = {LRU_FX_B, LRU_FX_T, LRU_FX_H}, sh[2] = {LRU_FX_B, 2 * LRU_FX_N}, i;
    static float wys[NY], whs[NS];
    seq_rng r;
    int k;
    seq_rng_seed(&r, 1);
    cfg.reparam = kind;
    CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
    ts[8] = seq_params_add(P, "u", 3, su, seq_init_zeros());
    ts[9] = seq_params_add(P, "h0", 2, sh, seq_init_zeros());
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    ts[0] = l.nu_log;
    ts[1] = l.theta_log;
    ts[2] = l.gamma_log;
    ts[3] = l.B_re;
    ts[4] = l.B_im;
    ts[5] = l.C_re;
    ts[6] = l.C_im;
    ts[7] = l.D;
    for (k = 0; k < 10; k++) memcpy(ts[k]->data, prm[k], (size_t)ts[k]->numel * sizeof(float));
    memset(&io, 0, sizeof io);
    io.h0 = ts[9];
    y = seq_lru_forward(ctx, &l, ts[8], &io);
    CHECK(y != NULL);
    if (!y) goto done;
    for (i = 0; i < NY; i++) wys[i] = wy[i] * NY;
    for (i = 0; i < NS; i++) whs[i] = wh[i] * NS;
    loss = seq_add(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, y->shape))),
                   seq_mean(ctx, seq_mul(ctx, io.hn, seq_tensor_wrap(ctx, whs, 2, io.hn->shape))));
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "kind %d: y differs by %g", (int)kind, rel_err(y->data, y_want, NY));
    CHECK_MSG(rel_err(io.hn->data, hn_want, NS) < 1e-5, "kind %d: hn differs by %g", (int)kind,
              rel_err(io.hn->data, hn_want, NS));
    for (k = 0; k < 10; k++)
        CHECK_MSG(rel_err(ts[k]->grad, grads[k], ts[k]->numel) < 1e-5, "kind %d: %s grad differs by %g", (int)kind,
                  ts[k]->name, rel_err(ts[k]->grad, grads[k], ts[k]->numel));
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

#define LRU_FX_LIST(tag, suffix)                                                                                   \
    {tag##_nu_log##suffix, tag##_theta_log##suffix, tag##_gamma_log##suffix, tag##_B_re##suffix, tag##_B_im##suffix, \
     tag##_C_re##suffix,   tag##_C_im##suffix,      tag##_D##suffix,         tag##_u##suffix,    tag##_h0##suffix}

static void test_lru_pytorch_parity(void) {
    const float *pe[10] = LRU_FX_LIST(lru_exp, ), *ge[10] = LRU_FX_LIST(lru_exp, _grad);
    const float *pb[10] = LRU_FX_LIST(lru_best, ), *gb[10] = LRU_FX_LIST(lru_best, _grad);
    check_lru_parity(SEQ_REPARAM_EXP, pe, ge, lru_exp_y, lru_exp_hn, lru_exp_wy, lru_exp_wh);
    check_lru_parity(SEQ_REPARAM_BEST, pb, gb, lru_best_y, lru_best_hn, lru_best_wy, lru_best_wh);
}

/* The LRU's convolution form in double, y_t = Re(sum_{s<=t} C diag(lambda^(t-s)) gamma B
 * u_s) + D u_t with lambda^j by repeated complex products, equals the scan to 1e-5. */
static void test_lru_convolution_form(void) {
    enum { B = 2, T = 20, H = 3, N = 4 };
    int k;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_lru_config cfg = seq_lru_config_default(H, N);
        seq_lru l;
        float u[B * T * H], want[B * T * H];
        int64_t su[3] = {B, T, H}, b, t, s, n, i, j;
        seq_rng r;
        seq_rng_seed(&r, 31 + k);
        cfg.reparam = (seq_reparam_kind)k;
        cfg.r_min = 0.8f;
        CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_lru_reset_parameters(&l, &r) == SEQ_OK);
        fill_normal(u, B * T * H, &r, 1.0);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++)
                for (i = 0; i < H; i++) {
                    double acc = (double)l.D->data[i] * u[(b * T + t) * H + i];
                    for (n = 0; n < N; n++) {
                        double m = seq_reparam_value(cfg.reparam, l.nu_log->data[n], NULL);
                        double ph = exp(l.theta_log->data[n]);
                        double lr = m * cos(ph), li = m * sin(ph), pr = 1.0, pi = 0.0, g = exp(l.gamma_log->data[n]);
                        for (s = t; s >= 0; s--) { /* (pr, pi) = lambda^(t-s) */
                            double br = 0.0, bi = 0.0, xr, xi, tmp;
                            for (j = 0; j < H; j++) {
                                br += g * l.B_re->data[n * H + j] * u[(b * T + s) * H + j];
                                bi += g * l.B_im->data[n * H + j] * u[(b * T + s) * H + j];
                            }
                            xr = pr * br - pi * bi;
                            xi = pr * bi + pi * br;
                            acc += l.C_re->data[i * N + n] * xr - l.C_im->data[i * N + n] * xi;
                            tmp = pr * lr - pi * li;
                            pi = pr * li + pi * lr;
                            pr = tmp;
                        }
                    }
                    want[(b * T + t) * H + i] = (float)acc;
                }
        check_output("kind", k, fwd_lru, &l, u, su, want);
        seq_params_free(P);
    }
}

/* The ring initialization: |lambda| on [r_min, r_max], phases in [0, max_phase], gamma the
 * normalizer sqrt(1 - |lambda|^2), whichever map holds the magnitude. */
static void test_lru_ring_init(void) {
    int k;
    for (k = 0; k < SEQ_REPARAM_KIND_COUNT; k++) {
        seq_params *P = seq_params_init(NULL);
        seq_lru_config cfg = seq_lru_config_default(4, 64);
        seq_lru l;
        seq_rng r;
        int64_t i;
        int ok = 1;
        double mean_r2 = 0.0;
        seq_rng_seed(&r, 77);
        cfg.r_min = 0.4f;
        cfg.r_max = 0.9f;
        cfg.max_phase = 3.14f;
        cfg.reparam = (seq_reparam_kind)k;
        CHECK(seq_lru_init(&l, P, "lru", cfg) == SEQ_OK);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        /* the stand-ins already sit on the ring */
        ok &= fabsf(seq_reparam_value(cfg.reparam, l.nu_log->data[0], NULL) - sqrtf(0.5f * (0.16f + 0.81f))) < 1e-5f;
        CHECK(seq_lru_reset_parameters(&l, &r) == SEQ_OK);
        for (i = 0; i < 64; i++) {
            float m = seq_reparam_value(cfg.reparam, l.nu_log->data[i], NULL), ph = expf(l.theta_log->data[i]);
            ok &= m >= 0.4f - 1e-6f && m <= 0.9f + 1e-6f && ph >= 0.0f && ph <= 3.14f + 1e-5f;
            ok &= fabsf(expf(l.gamma_log->data[i]) - sqrtf(1.0f - m * m)) < 1e-5f;
            mean_r2 += (double)m * m / 64.0;
        }
        CHECK_MSG(ok, "kind %d", k);
        CHECK_NEAR(mean_r2, 0.5 * (0.16 + 0.81), 0.06); /* |lambda|^2 uniform on the ring */
        seq_params_free(P);
    }
}

/* --- blocks --------------------------------------------------------------------------------- */




/* One PyTorch block fixture: parameters by name, then y and every gradient at 1e-5. */
static void check_block_parity(const char *what, seq_params *P, const void *layer, layer_forward_fn fwd,
                               const lru_fx_param *fx, size_t nfx, const float *x, const float *x_grad,
                               const float *y_want, const float *wy) {
    enum { NY = LRU_FX_B * LRU_FX_T * 3 };
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, 3}, i;
    static float wys[NY];
    seq_tensor *tx = seq_params_find(P, "x"), *y;
    size_t k;
    CHECK_MSG(P->count == (int64_t)nfx + 1, "%s: %lld parameters, the reference has %d", what, (long long)P->count,
              (int)nfx); /* the same parameter set */
    for (k = 0; k < nfx; k++) {
        seq_tensor *w = seq_params_find(P, fx[k].name);
        CHECK_MSG(w != NULL, "%s: missing %s", what, fx[k].name);
        if (w) memcpy(w->data, fx[k].value, (size_t)w->numel * sizeof(float));
    }
    memcpy(tx->data, x, sizeof(float) * NY);
    seq_params_zero_grad(P);
    y = fwd(ctx, layer, seq_params_find(P, "x"), NULL);
    CHECK(y != NULL && y->numel == NY);
    if (y) {
        for (i = 0; i < NY; i++) wys[i] = wy[i] * NY;
        CHECK(seq_backward(ctx, seq_mean(ctx, seq_mul(ctx, y, seq_tensor_wrap(ctx, wys, 3, sx)))) == SEQ_OK);
        CHECK_MSG(rel_err(y->data, y_want, NY) < 1e-5, "%s: y differs by %g", what, rel_err(y->data, y_want, NY));
        for (k = 0; k < nfx; k++) {
            seq_tensor *w = seq_params_find(P, fx[k].name);
            if (w)
                CHECK_MSG(rel_err(w->grad, fx[k].grad, w->numel) < 1e-5, "%s: %s grad differs by %g", what, w->name,
                          rel_err(w->grad, fx[k].grad, w->numel));
        }
        CHECK_MSG(rel_err(tx->grad, x_grad, NY) < 1e-5, "%s: x grad differs by %g", what,
                  rel_err(tx->grad, x_grad, NY));
    }
    seq_ctx_free(ctx);
}

/* minimal-LRU's SequenceLayer and fairseq's MovingAverageGatedAttention, in PyTorch. */
static void test_blocks_pytorch_parity(void) {
    int64_t sx[3] = {LRU_FX_B, LRU_FX_T, 3};
    seq_rng r;
    seq_rng_seed(&r, 1);
    {
        seq_params *P = seq_params_init(NULL);
        seq_lru_block l;
        CHECK(seq_lru_block_init(&l, P, "blk", seq_lru_block_config_default(LRU_FX_H, LRU_FX_N)) == SEQ_OK);
        CHECK(seq_params_add(P, "x", 3, sx, seq_init_zeros()) != NULL && seq_params_alloc(P, &r) == SEQ_OK);
        check_block_parity("lru_block", P, &l, fwd_lru_block, lru_block_params,
                           sizeof lru_block_params / sizeof lru_block_params[0], lru_block_x, lru_block_x_grad,
                           lru_block_y, lru_block_wy);
        seq_params_free(P);
    }
    {
        seq_params *P = seq_params_init(NULL);
        seq_mega_block_config cfg = seq_mega_block_config_default(MEGA_FX_D);
        seq_mega_block l;
        cfg.ema.ndim = MEGA_FX_N;
        cfg.zdim = MEGA_FX_Z;
        cfg.hdim = MEGA_FX_E;
        cfg.max_positions = MEGA_FX_P;
        CHECK(seq_mega_block_init(&l, P, "blk", cfg) == SEQ_OK);
        CHECK(seq_params_add(P, "x", 3, sx, seq_init_zeros()) != NULL && seq_params_alloc(P, &r) == SEQ_OK);
        check_block_parity("mega_block", P, &l, fwd_mega_block, mega_block_params,
                           sizeof mega_block_params / sizeof mega_block_params[0], mega_block_x, mega_block_x_grad,
                           mega_block_y, mega_block_wy);
        seq_params_free(P);
    }
}

/* Allocation failures anywhere in a forward, backward or state init: a status, never a
 * crash, and nothing leaks. */
static void test_out_of_memory(void) {
    long live = seq_test_live_blocks;
    seq_params *P = seq_params_init(NULL);
    seq_mega_ema ema;
    seq_lru lru;
    seq_lru_block lb;
    seq_mega_block mb;
    seq_rnn_state rs;
    seq_mega_block_state ms;
    int64_t sx[3] = {2, 3, 2};
    float x[12];
    seq_rng r;
    int which;
    long k;
    seq_rng_seed(&r, 6);
    fill_normal(x, 12, &r, 1.0);
    CHECK(seq_mega_ema_init(&ema, P, "ema", seq_mega_ema_config_default(2)) == SEQ_OK);
    CHECK(seq_lru_init(&lru, P, "lru", seq_lru_config_default(2, 3)) == SEQ_OK);
    CHECK(seq_lru_block_init(&lb, P, "lb", seq_lru_block_config_default(2, 3)) == SEQ_OK);
    CHECK(seq_mega_block_init(&mb, P, "mb", small_mega_block(2, 1)) == SEQ_OK);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    for (which = 0; which < 4; which++) {
        static const layer_forward_fn fwd[4] = {fwd_mega_ema, fwd_lru, fwd_lru_block, fwd_mega_block};
        const void *layer[4];
        layer[0] = &ema;
        layer[1] = &lru;
        layer[2] = &lb;
        layer[3] = &mb;
        for (k = 0; k < 4; k++) {
            seq_ctx *ctx = seq_ctx_init(NULL);
            seq_tensor *in = seq_tensor_wrap(ctx, x, 3, sx), *y;
            seq_status st;
            seq_test_fail_after(k);
            y = fwd[which](ctx, layer[which], in, NULL);
            st = seq_backward(ctx, y ? seq_mean(ctx, y) : NULL);
            seq_test_fail_never();
            CHECK_MSG(st == SEQ_OK || seq_ctx_status(ctx) == SEQ_ERR_NOMEM, "layer %d, failure %ld: %s", which, k,
                      seq_ctx_error(ctx));
            seq_ctx_free(ctx);
        }
    }
    for (k = 0; k < 2; k++) {
        seq_test_fail_after(k);
        CHECK(seq_mega_block_state_init(&mb, &ms, 2) == SEQ_ERR_NOMEM);
        seq_test_fail_never();
    }
    seq_test_fail_after(0);
    CHECK(seq_lru_state_init(&lru, &rs, 2) == SEQ_ERR_NOMEM);
    seq_test_fail_after(0);
    CHECK(seq_mega_ema_state_init(&ema, &rs, 2) == SEQ_ERR_NOMEM);
    seq_test_fail_never();
    seq_params_free(P);
    CHECK(seq_test_live_blocks == live);
}

void seq_tests_lru(void) {
    RUN(test_reparam_maps);
    RUN(test_reparam_gradcheck);
    RUN(test_mega_ema_gradcheck);
    RUN(test_mega_ema_pytorch_parity);
    RUN(test_mega_ema_convolution_form);
    RUN(test_lru_gradcheck);
    RUN(test_lru_pytorch_parity);
    RUN(test_lru_convolution_form);
    RUN(test_lru_ring_init);
    RUN(test_blocks_gradcheck);
    RUN(test_blocks_pytorch_parity);
    RUN(test_streaming);
    RUN(test_pieces_equal_whole);
    RUN(test_forward_bad_input);
    RUN(test_streaming_bad_input);
    RUN(test_configs_rejected);
    RUN(test_mega_block_positions);
    RUN(test_out_of_memory);
}
