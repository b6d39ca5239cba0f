/* Section 14.6: the selective scan, SSD, and the Mamba and Mamba-2 blocks. Gradient checks
 * take every input as a parameter and the loss mean(y * wy) + mean(hn * wh) [+ mean(cn *
 * wc)] for fixed random weights, so every output element and both final states matter. */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/mamba_fixtures.h"

/* --- helpers ------------------------------------------------------------------------- */

enum { MAXW = 4096 }; /* fixed loss weights per output, enough for every case here */

static float loss_w[3][MAXW];

static void fill_normal(float *a, int64_t n, uint64_t seed) {
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < n; i++) a[i] = (float)seq_rng_normal(&r, 0.0, 1.0);
}

static void fill_loss_weights(uint64_t seed) {
    int k;
    for (k = 0; k < 3; k++) fill_normal(loss_w[k], MAXW, seed + (uint64_t)k);
}

/* mean(t * loss_w[k]) added to l (NULL t adds nothing) */
static seq_tensor *add_weighted(seq_ctx *ctx, seq_tensor *l, seq_tensor *t, int k) {
    seq_tensor *m;
    if (!t) return l;
    m = seq_mean(ctx, seq_mul(ctx, t, seq_tensor_wrap(ctx, loss_w[k], t->ndim, t->shape)));
    return l ? seq_add(ctx, l, m) : m;
}

/* The loss over a forward's outputs: y, io->hn, io->cn (NULL only where the layer has none). */
static seq_tensor *outputs_loss(seq_ctx *ctx, seq_tensor *y, const seq_rnn_io *io) {
    if (!y) return NULL;
    CHECK(io->hn != NULL);
    return add_weighted(ctx, add_weighted(ctx, add_weighted(ctx, NULL, y, 0), io->hn, 1), io->cn, 2);
}

/* Allocates P (with rng seed), lets init fill special values, and checks the gradient of
 * fn with respect to every element of P. */
static void run_gradcheck(seq_params *P, seq_loss_fn fn, void *ud, void (*init)(void *ud, seq_rng *r), float atol,
                          float rtol, const char *what) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_gradcheck_result res;
    seq_status st;
    seq_rng r;
    seq_rng_seed(&r, 7);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    if (init) init(ud, &r);
    st = seq_gradcheck(ctx, P, fn, ud, 1e-3f, atol, rtol, &res);
    CHECK_MSG(st == SEQ_OK && res.failed == 0 && res.checked == P->numel,
              "%s: status %d checked %lld of %lld, failed %lld, worst %s[%lld] abs %g (%s)", what, (int)st,
              (long long)res.checked, (long long)P->numel, (long long)res.failed,
              res.worst_param ? res.worst_param : "-", (long long)res.worst_index, res.max_abs_err, seq_ctx_error(ctx));
    seq_ctx_free(ctx);
}

/* max |a - b| / max(max |b|, 1e-30): one relative error for a whole tensor */
static double rel_err(const float *a, const float *b, int64_t n) {
    double e = 0.0, m = 1e-30;
    int64_t i;
    for (i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return e / m;
}

/* A ctx tensor holding a copy of src. */
static seq_tensor *tensor_of(seq_ctx *ctx, int ndim, const int64_t *shape, const float *src) {
    seq_tensor *t = seq_tensor_new(ctx, SEQ_F32, ndim, shape);
    if (t) memcpy(t->data, src, (size_t)t->numel * sizeof(float));
    return t;
}

/* --- the selective scan ------------------------------------------------------------------ */

/* T crosses the backward's checkpoint interval, so recomputation from a checkpoint runs;
 * the wide case has two channel blocks, the second narrower. */
enum { SB = 2, ST = 21, SD = 3, SN = 2, WIDE_D = 66 };

typedef struct {
    seq_tensor *u, *delta, *A, *Bm, *Cm, *Dskip, *h0;
    seq_rnn_io io;
} sel_case;

static seq_tensor *sel_loss(seq_ctx *ctx, void *ud) {
    sel_case *c = (sel_case *)ud;
    seq_tensor *y;
    c->io.h0 = c->h0;
    y = seq_selective_scan(ctx, c->u, c->delta, c->A, c->Bm, c->Cm, c->Dskip, &c->io);
    return outputs_loss(ctx, y, &c->io);
}

/* B rows of T steps, D channels, N states. */
static void sel_setup(sel_case *c, seq_params *P, int with_state, int64_t B, int64_t T, int64_t D) {
    int64_t x3[3], a2[2] = {0, SN}, b3[3], d1[1], h3[3] = {0, 0, SN};
    x3[0] = b3[0] = h3[0] = B;
    x3[1] = b3[1] = T;
    x3[2] = a2[0] = d1[0] = h3[1] = D;
    b3[2] = SN;
    memset(c, 0, sizeof *c);
    c->u = seq_params_add(P, "u", 3, x3, seq_init_normal(0, 1));
    c->delta = seq_params_add(P, "delta", 3, x3, seq_init_uniform(0.05f, 0.6f));
    c->A = seq_params_add(P, "A", 2, a2, seq_init_uniform(-2.0f, -0.2f));
    c->Bm = seq_params_add(P, "Bm", 3, b3, seq_init_normal(0, 1));
    c->Cm = seq_params_add(P, "Cm", 3, b3, seq_init_normal(0, 1));
    c->Dskip = seq_params_add(P, "Dskip", 1, d1, seq_init_normal(0, 1));
    c->h0 = with_state ? seq_params_add(P, "h0", 3, h3, seq_init_normal(0, 1)) : NULL;
}

static void test_selective_scan_gradcheck(void) {
    static const int32_t lengths[SB] = {ST, 17};
    static uint8_t resets[SB * ST];
    int variant;
    resets[5] = 1;
    resets[ST + 0] = 1;
    resets[ST + 9] = 1;
    fill_loss_weights(3);
    for (variant = 0; variant < 3; variant++) {
        static const char *const what[3] = {"plain", "with h0, lengths, resets", "two blocks"};
        seq_params *P = seq_params_init(NULL);
        sel_case c;
        if (variant < 2) sel_setup(&c, P, variant, SB, ST, SD);
        else sel_setup(&c, P, 1, 1, ST, WIDE_D);
        if (variant == 1) {
            c.io.lengths = lengths;
            c.io.resets = resets;
        }
        run_gradcheck(P, sel_loss, &c, NULL, 1e-3f, 1e-2f, what[variant]);
        seq_params_free(P);
    }
}

/* The scan against a direct double-precision loop over its definition, with an initial
 * state, resets and a short row. */
static void test_selective_scan_reference(void) {
    enum { B = 2, T = 23, D = 70, N = 3 };
    static float u[B * T * D], dl[B * T * D], A[D * N], Bm[B * T * N], Cm[B * T * N], Ds[D], h0[B * D * N];
    static float want_y[B * T * D], want_h[B * D * N];
    int32_t lengths[B] = {T, 11};
    uint8_t resets[B * T] = {0};
    int64_t sx[3] = {B, T, D}, sa[2] = {D, N}, sb[3] = {B, T, N}, sd[1] = {D}, sh[3] = {B, D, N}, r, t, d, n, i;
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_rnn_io io;
    seq_tensor *y;
    fill_normal(u, B * T * D, 1);
    fill_normal(dl, B * T * D, 2);
    fill_normal(A, D * N, 3);
    fill_normal(Bm, B * T * N, 4);
    fill_normal(Cm, B * T * N, 5);
    fill_normal(Ds, D, 6);
    fill_normal(h0, B * D * N, 7);
    for (i = 0; i < B * T * D; i++) dl[i] = 0.05f + 0.2f * fabsf(dl[i]);
    for (i = 0; i < D * N; i++) A[i] = -0.1f - fabsf(A[i]);
    resets[7] = resets[T + 4] = 1;
    for (r = 0; r < B; r++)
        for (d = 0; d < D; d++) {
            double h[N];
            for (n = 0; n < N; n++) h[n] = h0[(r * D + d) * N + n];
            for (t = 0; t < lengths[r]; t++) {
                int64_t o = (r * T + t) * D + d;
                double acc = (double)Ds[d] * u[o];
                for (n = 0; n < N; n++) {
                    if (resets[r * T + t]) h[n] = 0.0;
                    h[n] = exp((double)dl[o] * A[d * N + n]) * h[n] + (double)dl[o] * u[o] * Bm[(r * T + t) * N + n];
                    acc += Cm[(r * T + t) * N + n] * h[n];
                }
                want_y[o] = (float)acc;
            }
            for (n = 0; n < N; n++) want_h[(r * D + d) * N + n] = (float)h[n];
        }
    memset(&io, 0, sizeof io);
    io.h0 = tensor_of(ctx, 3, sh, h0);
    io.lengths = lengths;
    io.resets = resets;
    y = seq_selective_scan(ctx, tensor_of(ctx, 3, sx, u), tensor_of(ctx, 3, sx, dl), tensor_of(ctx, 2, sa, A),
                           tensor_of(ctx, 3, sb, Bm), tensor_of(ctx, 3, sb, Cm), tensor_of(ctx, 1, sd, Ds), &io);
    CHECK(y != NULL && io.hn != NULL);
    if (y && io.hn) {
        CHECK_MSG(rel_err(y->data, want_y, B * T * D) < 1e-5, "y: %g", rel_err(y->data, want_y, B * T * D));
        CHECK_MSG(rel_err(io.hn->data, want_h, B * D * N) < 1e-5, "hn: %g", rel_err(io.hn->data, want_h, B * D * N));
    }
    seq_ctx_free(ctx);
}

/* --- SSD ------------------------------------------------------------------------------ */

enum { DB = 2, DT = 9, DH = 4, DP = 2, DG = 2, DN = 3 };

typedef struct {
    seq_tensor *x, *dt, *A, *Bm, *Cm, *Dskip, *h0;
    int64_t chunk;
    seq_rnn_io io;
} ssd_case;

static seq_tensor *ssd_loss(seq_ctx *ctx, void *ud) {
    ssd_case *c = (ssd_case *)ud;
    seq_tensor *y;
    c->io.h0 = c->h0;
    y = seq_ssd_scan(ctx, c->x, c->dt, c->A, c->Bm, c->Cm, c->Dskip, c->chunk, &c->io);
    return outputs_loss(ctx, y, &c->io);
}

static void test_ssd_gradcheck(void) {
    static const int32_t lengths[DB] = {DT, 6};
    static const uint8_t resets[DB * DT] = {0, 0, 0, 1, 0, 0, 0, 0, 0, /* */ 0, 0, 1, 0, 0, 0, 0, 0, 0};
    static const int64_t chunks[3] = {0, 2, 4};
    int variant;
    fill_loss_weights(5);
    for (variant = 0; variant < 6; variant++) {
        int64_t x4[4] = {DB, DT, DH, DP}, t3[3] = {DB, DT, DH}, h1[1] = {DH}, b4[4] = {DB, DT, DG, DN};
        int64_t s4[4] = {DB, DH, DP, DN};
        seq_params *P = seq_params_init(NULL);
        char what[64];
        ssd_case c;
        memset(&c, 0, sizeof c);
        c.chunk = chunks[variant % 3];
        c.x = seq_params_add(P, "x", 4, x4, seq_init_normal(0, 1));
        c.dt = seq_params_add(P, "dt", 3, t3, seq_init_uniform(0.05f, 0.6f));
        c.A = seq_params_add(P, "A", 1, h1, seq_init_uniform(-2.0f, -0.2f));
        c.Bm = seq_params_add(P, "Bm", 4, b4, seq_init_normal(0, 1));
        c.Cm = seq_params_add(P, "Cm", 4, b4, seq_init_normal(0, 1));
        c.Dskip = seq_params_add(P, "Dskip", 1, h1, seq_init_normal(0, 1));
        if (variant >= 3) {
            c.h0 = seq_params_add(P, "h0", 4, s4, seq_init_normal(0, 1));
            c.io.lengths = lengths;
            c.io.resets = resets;
        }
        snprintf(what, sizeof what, "chunk %lld%s", (long long)c.chunk, variant >= 3 ? ", h0, lengths, resets" : "");
        run_gradcheck(P, ssd_loss, &c, NULL, 1e-3f, 1e-2f, what);
        seq_params_free(P);
    }
}

/* The chunked algorithm gives the recurrence's y and hn to 1e-5 relative, for chunks that
 * divide T, do not, exceed it, and one step long; with h0, resets and short rows. */
static void test_ssd_chunked_equals_recurrence(void) {
    enum { B = 3, T = 37, H = 4, P = 3, G = 2, N = 5 };
    static float x[B * T * H * P], dt[B * T * H], A[H], Bm[B * T * G * N], Cm[B * T * G * N], Ds[H], h0[B * H * P * N];
    static const int64_t chunks[5] = {1, 4, 8, 37, 64};
    int32_t lengths[B] = {T, 20, 0};
    uint8_t resets[B * T] = {0};
    int64_t sx[4] = {B, T, H, P}, st[3] = {B, T, H}, sa[1] = {H}, sb[4] = {B, T, G, N}, sh[4] = {B, H, P, N}, i, k;
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *tx, *tdt, *tA, *tB, *tC, *tD, *th0, *ref;
    seq_rnn_io io, rio;
    fill_normal(x, B * T * H * P, 11);
    fill_normal(dt, B * T * H, 12);
    fill_normal(A, H, 13);
    fill_normal(Bm, B * T * G * N, 14);
    fill_normal(Cm, B * T * G * N, 15);
    fill_normal(Ds, H, 16);
    fill_normal(h0, B * H * P * N, 17);
    for (i = 0; i < B * T * H; i++) dt[i] = 0.02f + 0.3f * fabsf(dt[i]);
    for (i = 0; i < H; i++) A[i] = -0.2f - 2.0f * fabsf(A[i]);
    resets[9] = resets[10] = resets[30] = resets[T + 0] = resets[T + 13] = 1;
    seq_ctx_set_grad(ctx, 0);
    tx = tensor_of(ctx, 4, sx, x);
    tdt = tensor_of(ctx, 3, st, dt);
    tA = tensor_of(ctx, 1, sa, A);
    tB = tensor_of(ctx, 4, sb, Bm);
    tC = tensor_of(ctx, 4, sb, Cm);
    tD = tensor_of(ctx, 1, sa, Ds);
    th0 = tensor_of(ctx, 4, sh, h0);
    memset(&rio, 0, sizeof rio);
    rio.h0 = th0;
    rio.lengths = lengths;
    rio.resets = resets;
    io = rio;
    ref = seq_ssd_scan(ctx, tx, tdt, tA, tB, tC, tD, 0, &rio);
    CHECK(ref != NULL);
    for (k = 0; k < 5 && ref; k++) {
        seq_tensor *y = seq_ssd_scan(ctx, tx, tdt, tA, tB, tC, tD, chunks[k], &io);
        CHECK(y != NULL);
        if (!y) break;
        CHECK_MSG(rel_err(y->data, ref->data, y->numel) < 1e-5, "chunk %lld: y %g", (long long)chunks[k],
                  rel_err(y->data, ref->data, y->numel));
        CHECK_MSG(rel_err(io.hn->data, rio.hn->data, io.hn->numel) < 1e-5, "chunk %lld: hn %g", (long long)chunks[k],
                  rel_err(io.hn->data, rio.hn->data, io.hn->numel));
    }
    /* an empty row hands back its initial state */
    if (ref) CHECK(memcmp(rio.hn->data + 2 * H * P * N, h0 + 2 * H * P * N, H * P * N * sizeof(float)) == 0);
    seq_ctx_free(ctx);
}

/* With one channel per head and one group, SSD is the selective scan with A (D,N) holding
 * each channel's rate in every column. */
static void test_ssd_is_selective_scan(void) {
    enum { B = 2, T = 19, D = 4, N = 3 };
    static float u[B * T * D], dl[B * T * D], Ah[D], Afull[D * N], Bm[B * T * N], Cm[B * T * N], Ds[D];
    int64_t s3[3] = {B, T, D}, s4[4] = {B, T, D, 1}, sa[2] = {D, N}, sh[1] = {D}, sb3[3] = {B, T, N},
            sb4[4] = {B, T, 1, N}, i;
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *ya, *yb;
    fill_normal(u, B * T * D, 21);
    fill_normal(Bm, B * T * N, 22);
    fill_normal(Cm, B * T * N, 23);
    fill_normal(Ds, D, 24);
    fill_normal(dl, B * T * D, 25);
    fill_normal(Ah, D, 26);
    for (i = 0; i < B * T * D; i++) dl[i] = 0.05f + 0.3f * fabsf(dl[i]);
    for (i = 0; i < D; i++) Ah[i] = -0.3f - fabsf(Ah[i]);
    for (i = 0; i < D * N; i++) Afull[i] = Ah[i / N];
    seq_ctx_set_grad(ctx, 0);
    ya = seq_selective_scan(ctx, tensor_of(ctx, 3, s3, u), tensor_of(ctx, 3, s3, dl), tensor_of(ctx, 2, sa, Afull),
                            tensor_of(ctx, 3, sb3, Bm), tensor_of(ctx, 3, sb3, Cm), tensor_of(ctx, 1, sh, Ds), NULL);
    yb = seq_ssd_scan(ctx, tensor_of(ctx, 4, s4, u), tensor_of(ctx, 3, s3, dl), tensor_of(ctx, 1, sh, Ah),
                      tensor_of(ctx, 4, sb4, Bm), tensor_of(ctx, 4, sb4, Cm), tensor_of(ctx, 1, sh, Ds), 5, NULL);
    CHECK(ya && yb);
    if (ya && yb) CHECK_MSG(rel_err(yb->data, ya->data, ya->numel) < 1e-5, "%g", rel_err(yb->data, ya->data, ya->numel));
    seq_ctx_free(ctx);
}

/* --- the blocks ------------------------------------------------------------------------ */

/* Either block behind one interface, so each test below runs for both. */
typedef struct {
    int v2; /* 0: Mamba, 1: Mamba-2 */
    seq_mamba m;
    seq_mamba2 m2;
    seq_tensor *x, *h0, *c0;
    seq_rnn_io io;
    int64_t d_model, hdims, hs[3], conv_ch, conv_w; /* h0 is (B, hs...), c0 (B, conv_ch, conv_w) */
} block_case;

/* Small blocks with every optional part: biases, dt_rank 2; Mamba-2 with 2 groups of 2
 * heads and a chunk that does not divide T. */
static void block_init(block_case *c, int v2, seq_params *P, int64_t chunk) {
    memset(c, 0, sizeof *c);
    c->v2 = v2;
    c->d_model = 4;
    if (!v2) {
        seq_mamba_config cfg = seq_mamba_config_default(4);
        cfg.d_state = 3;
        cfg.d_conv = 3;
        cfg.dt_rank = 2;
        cfg.bias = 1;
        CHECK(seq_mamba_init(&c->m, P, "mamba", cfg) == SEQ_OK);
        c->hdims = 2;
        c->hs[0] = c->m.d_inner;
        c->hs[1] = cfg.d_state;
        c->conv_ch = c->m.d_inner;
    } else {
        seq_mamba2_config cfg = seq_mamba2_config_default(4);
        cfg.d_state = 3;
        cfg.d_conv = 3;
        cfg.headdim = 2;
        cfg.ngroups = 2;
        cfg.chunk = chunk;
        cfg.bias = 1;
        CHECK(seq_mamba2_init(&c->m2, P, "mamba2", cfg) == SEQ_OK);
        c->hdims = 3;
        c->hs[0] = c->m2.nheads;
        c->hs[1] = cfg.headdim;
        c->hs[2] = cfg.d_state;
        c->conv_ch = c->m2.conv_dim;
    }
    c->conv_w = 2;
}

static void block_init_ssm(void *ud, seq_rng *r) {
    block_case *c = (block_case *)ud;
    if (c->v2) CHECK(seq_mamba2_init_ssm(&c->m2, r) == SEQ_OK);
    else CHECK(seq_mamba_init_ssm(&c->m, r) == SEQ_OK);
}

static seq_tensor *block_forward(seq_ctx *ctx, block_case *c, seq_tensor *x, seq_rnn_io *io) {
    return c->v2 ? seq_mamba2_forward(ctx, &c->m2, x, io) : seq_mamba_forward(ctx, &c->m, x, io);
}

static seq_status block_state_init(block_case *c, seq_mamba_state *st, int64_t batch) {
    return c->v2 ? seq_mamba2_state_init(&c->m2, st, batch) : seq_mamba_state_init(&c->m, st, batch);
}

static seq_status block_step(block_case *c, seq_mamba_state *st, const float *x_t, float *y_t) {
    return c->v2 ? seq_mamba2_step(&c->m2, st, x_t, y_t) : seq_mamba_step(&c->m, st, x_t, y_t);
}

static int64_t block_h_numel(const block_case *c, int64_t B) {
    return B * c->hs[0] * c->hs[1] * (c->hdims > 2 ? c->hs[2] : 1);
}

/* Registers x (B,T,d_model), and h0, c0 when with_state, as parameters. */
static void block_inputs(block_case *c, seq_params *P, int64_t B, int64_t T, int with_state) {
    int64_t sx[3], sh[4], sc[3];
    sx[0] = sh[0] = sc[0] = B;
    sx[1] = T;
    sx[2] = c->d_model;
    memcpy(sh + 1, c->hs, 3 * sizeof(int64_t));
    sc[1] = c->conv_ch;
    sc[2] = c->conv_w;
    c->x = seq_params_add(P, "x", 3, sx, seq_init_normal(0, 1));
    if (!with_state) return;
    c->h0 = seq_params_add(P, "h0", (int)c->hdims + 1, sh, seq_init_normal(0, 1));
    c->c0 = seq_params_add(P, "c0", 3, sc, seq_init_normal(0, 1));
}

static seq_tensor *block_loss(seq_ctx *ctx, void *ud) {
    block_case *c = (block_case *)ud;
    c->io.h0 = c->h0;
    c->io.c0 = c->c0;
    return outputs_loss(ctx, block_forward(ctx, c, c->x, &c->io), &c->io);
}

static void test_block_gradcheck(void) {
    enum { B = 2, T = 5 };
    static const int32_t lengths[B] = {T, 3};
    static const uint8_t resets[B * T] = {0, 0, 1, 0, 0, /* */ 0, 1, 0, 0, 0};
    int variant;
    fill_loss_weights(9);
    for (variant = 0; variant < 6; variant++) {
        int v2 = variant >= 2, with_state = variant % 2;
        seq_params *P = seq_params_init(NULL);
        char what[64];
        block_case c;
        block_init(&c, v2, P, variant == 5 ? 0 : 2);
        block_inputs(&c, P, B, T, with_state);
        if (with_state) {
            c.io.lengths = lengths;
            c.io.resets = resets;
        }
        snprintf(what, sizeof what, "%s%s%s", v2 ? "mamba2" : "mamba", with_state ? ", h0, c0, lengths, resets" : "",
                 variant == 5 ? ", recurrent" : "");
        run_gradcheck(P, block_loss, &c, block_init_ssm, 2e-3f, 2e-2f, what);
        seq_params_free(P);
    }
}

/* The streaming step, started from the same states, gives the full-sequence output and
 * final states (the two layouts agree, so a forward's hn/cn can seed a stream). */
static void test_block_step_equals_forward(void) {
    enum { B = 2, T = 7 };
    int v2;
    for (v2 = 0; v2 < 2; v2++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        block_case c;
        seq_mamba_state st;
        seq_tensor *y;
        seq_rng r;
        float yt[B * 4], xt[B * 4];
        double worst = 0.0;
        int64_t t, b, i, nh, nc;
        block_init(&c, v2, P, 3);
        block_inputs(&c, P, B, T, 1);
        seq_rng_seed(&r, 5);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        block_init_ssm(&c, &r);
        seq_ctx_set_grad(ctx, 0);
        c.io.h0 = c.h0;
        c.io.c0 = c.c0;
        y = block_forward(ctx, &c, c.x, &c.io);
        CHECK(y != NULL && block_state_init(&c, &st, B) == SEQ_OK);
        if (!y || !st.conv) {
            seq_ctx_free(ctx);
            seq_params_free(P);
            continue;
        }
        nh = block_h_numel(&c, B);
        nc = B * c.conv_ch * c.conv_w;
        memcpy(st.ssm, c.h0->data, (size_t)nh * sizeof(float));
        memcpy(st.conv, c.c0->data, (size_t)nc * sizeof(float));
        for (t = 0; t < T; t++) {
            for (b = 0; b < B; b++) memcpy(xt + b * 4, c.x->data + (b * T + t) * 4, 4 * sizeof(float));
            CHECK(block_step(&c, &st, xt, yt) == SEQ_OK);
            for (b = 0; b < B; b++)
                for (i = 0; i < 4; i++) worst = fmax(worst, fabs(yt[b * 4 + i] - y->data[(b * T + t) * 4 + i]));
        }
        CHECK_MSG(worst < 1e-5, "%s: step vs forward %g", v2 ? "mamba2" : "mamba", worst);
        CHECK_MSG(rel_err(st.ssm, c.io.hn->data, nh) < 1e-5 && rel_err(st.conv, c.io.cn->data, nc) < 1e-6,
                  "final states: %g %g", rel_err(st.ssm, c.io.hn->data, nh), rel_err(st.conv, c.io.cn->data, nc));
        seq_mamba_state_reset(&st);
        CHECK(st.ssm[0] == 0.0f && st.conv[0] == 0.0f);
        if (v2) seq_mamba2_state_free(&st);
        else seq_mamba_state_free(&st);
        CHECK(st.conv == NULL);
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* A batch with a reset in row 0 and a short row 1 gives what running the pieces alone
 * gives: the segment after the reset starts from zeros, the short row's padding is 0 and
 * its final states are those after its last valid step. */
static void test_block_segments_equal_separate_runs(void) {
    enum { B = 2, T = 7, CUT = 3, LEN = 4 };
    int v2;
    for (v2 = 0; v2 < 2; v2++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        block_case c;
        int32_t lengths[B] = {T, LEN};
        uint8_t resets[B * T] = {0};
        int64_t s_seg[3] = {1, T - CUT, 4}, s_row[3] = {1, LEN, 4}, sh[4] = {1, 0, 0, 0}, sc[3] = {1, 0, 0};
        int64_t nh, nc;
        seq_rnn_io one;
        seq_tensor *y, *seg, *row, *row_hn, *row_cn;
        seq_rng r;
        double worst = 0.0;
        int64_t i;
        block_init(&c, v2, P, 2);
        block_inputs(&c, P, B, T, 1);
        seq_rng_seed(&r, 6);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        block_init_ssm(&c, &r);
        seq_ctx_set_grad(ctx, 0);
        nh = block_h_numel(&c, 1);
        nc = c.conv_ch * c.conv_w;
        memcpy(sh + 1, c.hs, 3 * sizeof(int64_t));
        sc[1] = c.conv_ch;
        sc[2] = c.conv_w;
        resets[CUT] = 1;
        c.io.h0 = c.h0;
        c.io.c0 = c.c0;
        c.io.lengths = lengths;
        c.io.resets = resets;
        y = block_forward(ctx, &c, c.x, &c.io);
        seg = block_forward(ctx, &c, seq_tensor_wrap(ctx, c.x->data + CUT * 4, 3, s_seg), NULL);
        memset(&one, 0, sizeof one);
        one.h0 = seq_tensor_wrap(ctx, c.h0->data + nh, (int)c.hdims + 1, sh);
        one.c0 = seq_tensor_wrap(ctx, c.c0->data + nc, 3, sc);
        row = block_forward(ctx, &c, seq_tensor_wrap(ctx, c.x->data + T * 4, 3, s_row), &one);
        row_hn = one.hn;
        row_cn = one.cn;
        CHECK(y && seg && row);
        if (y && seg && row) {
            for (i = 0; i < (T - CUT) * 4; i++) worst = fmax(worst, fabs(y->data[CUT * 4 + i] - seg->data[i]));
            for (i = 0; i < LEN * 4; i++) worst = fmax(worst, fabs(y->data[T * 4 + i] - row->data[i]));
            for (i = LEN * 4; i < T * 4; i++) worst = fmax(worst, fabs(y->data[T * 4 + i])); /* padding */
            for (i = 0; i < nh; i++) worst = fmax(worst, fabs(c.io.hn->data[nh + i] - row_hn->data[i]));
            for (i = 0; i < nc; i++) worst = fmax(worst, fabs(c.io.cn->data[nc + i] - row_cn->data[i]));
            CHECK_MSG(worst < 1e-6, "%s: %g", v2 ? "mamba2" : "mamba", worst);
        }
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Parameter names and shapes are mamba_ssm's; initial values follow it. */
static void test_block_init_values(void) {
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[3];
    } want[] = {{"m.in_proj.weight", 2, {1024, 256, 0}}, {"m.conv1d.weight", 3, {512, 1, 4}},
                {"m.conv1d.bias", 1, {512, 0, 0}},       {"m.x_proj.weight", 2, {48, 512, 0}},
                {"m.dt_proj.weight", 2, {512, 16, 0}},   {"m.dt_proj.bias", 1, {512, 0, 0}},
                {"m.A_log", 2, {512, 16, 0}},            {"m.D", 1, {512, 0, 0}},
                {"m.out_proj.weight", 2, {256, 512, 0}}, {"m2.in_proj.weight", 2, {1288, 256, 0}},
                {"m2.conv1d.weight", 3, {768, 1, 4}},    {"m2.conv1d.bias", 1, {768, 0, 0}},
                {"m2.dt_bias", 1, {8, 0, 0}},            {"m2.A_log", 1, {8, 0, 0}},
                {"m2.D", 1, {8, 0, 0}},                  {"m2.norm.weight", 1, {512, 0, 0}},
                {"m2.out_proj.weight", 2, {256, 512, 0}}};
    seq_params *P = seq_params_init(NULL);
    seq_mamba m;
    seq_mamba2 m2;
    seq_rng r;
    size_t k;
    int64_t i, bad = 0;
    seq_rng_seed(&r, 3);
    CHECK(seq_mamba_init(&m, P, "m", seq_mamba_config_default(256)) == SEQ_OK);
    CHECK(seq_mamba2_init(&m2, P, "m2", seq_mamba2_config_default(256)) == SEQ_OK);
    CHECK(seq_mamba_init_ssm(&m, &r) == SEQ_ERR_INVALID); /* before seq_params_alloc */
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_mamba_init_ssm(&m, &r) == SEQ_OK && seq_mamba2_init_ssm(&m2, &r) == SEQ_OK);
    CHECK(P->count == (int64_t)(sizeof want / sizeof want[0]) && m.dt_rank == 16 && m2.nheads == 8);
    for (k = 0; k < sizeof want / sizeof want[0]; k++) {
        seq_tensor *t = seq_params_find(P, want[k].name);
        int d, ok = t && t->ndim == want[k].ndim;
        for (d = 0; ok && d < want[k].ndim; d++) ok = t->shape[d] == want[k].shape[d];
        CHECK_MSG(ok, "%s", want[k].name);
    }
    for (i = 0; i < 512 * 16; i++) bad += m.A_log->data[i] != logf((float)(i % 16 + 1));
    for (i = 0; i < 512; i++) {
        float dt = logf(1.0f + expf(m.dt_proj_b->data[i]));
        bad += m.D->data[i] != 1.0f || !(dt >= 0.999e-3f && dt <= 0.1001f) || fabsf(m.proj.in_w->data[i]) > 0.0625f ||
               fabsf(m.dt_proj_w->data[i]) > 0.25f;
    }
    for (i = 0; i < 8; i++) {
        float dt = logf(1.0f + expf(m2.dt_bias->data[i])), A = -expf(m2.A_log->data[i]);
        bad += m2.D->data[i] != 1.0f || !(dt >= 0.999e-3f && dt <= 0.1001f) || !(A >= -16.0001f && A <= -0.9999f);
    }
    CHECK_MSG(bad == 0, "%lld values off", (long long)bad);
    CHECK(seq_params_entry(P, "m.A_log")->decay == 0.0f && seq_params_entry(P, "m.D")->decay == 0.0f &&
          seq_params_entry(P, "m2.dt_bias")->decay == 0.0f && seq_params_entry(P, "m.in_proj.weight")->decay == 1.0f);
    seq_params_free(P);
}

static void test_block_bad_config(void) {
    seq_params *P = seq_params_init(NULL);
    seq_mamba m;
    seq_mamba2 m2;
    seq_mamba_config c = seq_mamba_config_default(8);
    seq_mamba2_config c2 = seq_mamba2_config_default(8);
    char prefix[300];
    c.d_state = 0;
    CHECK(seq_mamba_init(&m, P, "a", c) == SEQ_ERR_INVALID);
    c = seq_mamba_config_default(8);
    c.dt_min = 0.5f; /* above dt_max */
    CHECK(seq_mamba_init(&m, P, "a", c) == SEQ_ERR_INVALID);
    c2.headdim = 5; /* does not divide d_inner = 16 */
    CHECK(seq_mamba2_init(&m2, P, "b", c2) == SEQ_ERR_INVALID);
    c2 = seq_mamba2_config_default(8);
    c2.headdim = 4;
    c2.ngroups = 3; /* does not divide 4 heads */
    CHECK(seq_mamba2_init(&m2, P, "b", c2) == SEQ_ERR_INVALID && strstr(seq_last_error(), "'b'") != NULL);
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = 0;
    CHECK(seq_mamba_init(&m, P, prefix, seq_mamba_config_default(8)) == SEQ_ERR_INVALID);
    CHECK(seq_mamba_init(NULL, P, "a", seq_mamba_config_default(8)) == SEQ_ERR_INVALID);
    seq_params_free(P);
}

/* Checks that call failed with the status and a message holding part, then resets ctx
 * for the next case. */
#define EXPECT_FAIL(ctx, call, status, part)                                                              \
    do {                                                                                               \
        CHECK((call) == NULL);                                                                         \
        CHECK_MSG(seq_ctx_status(ctx) == (status) && strstr(seq_ctx_error(ctx), part) != NULL, "%s", \
                  seq_ctx_error(ctx));                                                                 \
        seq_ctx_reset(ctx);                                                                            \
    } while (0)

static void test_scan_bad_input(void) {
    seq_ctx *ctx = seq_ctx_init(NULL);
    int64_t s3[3] = {2, 4, 3}, s0[3] = {2, 0, 3}, sa[2] = {3, 2}, sb[3] = {2, 4, 2}, sbad[3] = {2, 4, 5};
    int64_t sh[3] = {2, 3, 2}, shbad[3] = {2, 2, 3}, x4[4] = {2, 4, 3, 2}, dt3[3] = {2, 4, 3}, a1[1] = {3},
            b4[4] = {2, 4, 2, 2};
    int32_t too_long[2] = {4, 5};
    seq_rnn_io io;
#define T3(s) seq_tensor_new(ctx, SEQ_F32, 3, s)
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s3), T3(sbad), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL,
                                        NULL), SEQ_ERR_SHAPE, "delta");
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s0), T3(s0), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL,
                                        NULL), SEQ_ERR_SHAPE, "T>=1");
    memset(&io, 0, sizeof io);
    io.h0 = T3(shbad);
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s3), T3(s3), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL,
                                        &io), SEQ_ERR_SHAPE, "h0 (2,2,3)");
    io.h0 = NULL;
    io.c0 = T3(sh);
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s3), T3(s3), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL,
                                        &io), SEQ_ERR_INVALID, "c0");
    io.c0 = NULL;
    io.lengths = too_long;
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s3), T3(s3), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL,
                                        &io), SEQ_ERR_RANGE, "lengths[1]");
    {
        seq_tensor *u = T3(s3);
        u->data[7] = NAN;
        CHECK(seq_selective_scan(ctx, u, T3(s3), seq_tensor_new(ctx, SEQ_F32, 2, sa), T3(sb), T3(sb), NULL, NULL) == NULL);
        CHECK(seq_ctx_status(ctx) == SEQ_ERR_NUMERIC && strstr(seq_ctx_error(ctx), "u[7]") != NULL);
        seq_ctx_reset(ctx);
    }
    EXPECT_FAIL(ctx, seq_selective_scan(ctx, T3(s3), NULL, NULL, NULL, NULL, NULL, NULL), SEQ_ERR_INVALID, "NULL");
    EXPECT_FAIL(ctx, seq_ssd_scan(ctx, seq_tensor_new(ctx, SEQ_F32, 4, x4), T3(dt3), seq_tensor_new(ctx, SEQ_F32, 1, a1),
                                  seq_tensor_new(ctx, SEQ_F32, 4, b4), seq_tensor_new(ctx, SEQ_F32, 4, b4), NULL, 2, NULL),
                SEQ_ERR_SHAPE, "G | H"); /* 2 groups for 3 heads */
    b4[2] = 1;
    EXPECT_FAIL(ctx, seq_ssd_scan(ctx, seq_tensor_new(ctx, SEQ_F32, 4, x4), T3(dt3), seq_tensor_new(ctx, SEQ_F32, 1, a1),
                                  seq_tensor_new(ctx, SEQ_F32, 4, b4), seq_tensor_new(ctx, SEQ_F32, 4, b4), NULL, -1, NULL),
                SEQ_ERR_INVALID, "chunk");
    memset(&io, 0, sizeof io);
    io.h0 = T3(sh); /* (B,D,N) where SSD wants (B,H,P,N) */
    EXPECT_FAIL(ctx, seq_ssd_scan(ctx, seq_tensor_new(ctx, SEQ_F32, 4, x4), T3(dt3), seq_tensor_new(ctx, SEQ_F32, 1, a1),
                                  seq_tensor_new(ctx, SEQ_F32, 4, b4), seq_tensor_new(ctx, SEQ_F32, 4, b4), NULL, 2, &io),
                SEQ_ERR_SHAPE, "h0");
#undef T3
    seq_ctx_free(ctx);
}

static void test_block_bad_input(void) {
    int v2;
    for (v2 = 0; v2 < 2; v2++) {
        seq_params *P = seq_params_init(NULL);
        seq_ctx *ctx = seq_ctx_init(NULL);
        block_case c;
        seq_mamba_state st;
        seq_rng r;
        int64_t sx[3] = {2, 3, 4}, s0[3] = {2, 0, 4}, sbad[3] = {2, 3, 5}, sh[4] = {2, 0, 0, 0}, sc[3] = {2, 0, 0};
        int32_t too_long[2] = {3, 4};
        float xt[8] = {0}, yt[8];
        seq_tensor *x;
        block_init(&c, v2, P, 2);
        seq_rng_seed(&r, 1);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        memcpy(sh + 1, c.hs, 3 * sizeof(int64_t));
        sc[1] = c.conv_ch;
        sc[2] = c.conv_w;
        EXPECT_FAIL(ctx, block_forward(ctx, &c, seq_tensor_new(ctx, SEQ_F32, 3, s0), NULL), SEQ_ERR_SHAPE, "T>=1");
        EXPECT_FAIL(ctx, block_forward(ctx, &c, seq_tensor_new(ctx, SEQ_F32, 3, sbad), NULL), SEQ_ERR_SHAPE, "x must be");
        memset(&c.io, 0, sizeof c.io);
        sh[1]++;
        c.io.h0 = seq_tensor_new(ctx, SEQ_F32, (int)c.hdims + 1, sh);
        EXPECT_FAIL(ctx, block_forward(ctx, &c, seq_tensor_new(ctx, SEQ_F32, 3, sx), &c.io), SEQ_ERR_SHAPE, "h0");
        c.io.h0 = NULL;
        sc[2]++;
        c.io.c0 = seq_tensor_new(ctx, SEQ_F32, 3, sc);
        EXPECT_FAIL(ctx, block_forward(ctx, &c, seq_tensor_new(ctx, SEQ_F32, 3, sx), &c.io), SEQ_ERR_SHAPE, "c0");
        c.io.c0 = NULL;
        c.io.lengths = too_long;
        EXPECT_FAIL(ctx, block_forward(ctx, &c, seq_tensor_new(ctx, SEQ_F32, 3, sx), &c.io), SEQ_ERR_RANGE, "lengths");
        x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
        x->data[5] = NAN;
        CHECK(block_forward(ctx, &c, x, NULL) == NULL && seq_ctx_status(ctx) == SEQ_ERR_NUMERIC);
        seq_ctx_reset(ctx);
        x = seq_tensor_new(ctx, SEQ_F32, 3, sx);
        EXPECT_FAIL(ctx, v2 ? seq_mamba2_forward(ctx, NULL, x, NULL) : seq_mamba_forward(ctx, NULL, x, NULL),
                    SEQ_ERR_INVALID, "NULL layer");
        CHECK(block_state_init(&c, &st, 0) == SEQ_ERR_INVALID);
        CHECK(block_state_init(&c, &st, 2) == SEQ_OK);
        xt[3] = INFINITY;
        CHECK(block_step(&c, &st, xt, yt) == SEQ_ERR_NUMERIC);
        CHECK(block_step(&c, &st, NULL, yt) == SEQ_ERR_INVALID);
        seq_mamba_state_free(&st);
        CHECK(block_step(&c, &st, xt, yt) == SEQ_ERR_INVALID); /* freed */
        seq_ctx_free(ctx);
        seq_params_free(P);
    }
}

/* Every allocation that can fail in a forward with backward, and in a state, fails
 * cleanly: a status, no crash, nothing leaked. */
static void test_block_out_of_memory(void) {
    int v2;
    for (v2 = 0; v2 < 2; v2++) {
        seq_params *P = seq_params_init(NULL);
        block_case c;
        seq_rng r;
        long k, live;
        int done = 0;
        block_init(&c, v2, P, 2);
        block_inputs(&c, P, 2, 5, 1);
        seq_rng_seed(&r, 1);
        CHECK(seq_params_alloc(P, &r) == SEQ_OK);
        live = seq_test_live_blocks;
        for (k = 0; k < 50 && !done; k++) {
            seq_ctx *ctx;
            seq_mamba_state st;
            seq_tensor *loss;
            seq_status s;
            seq_test_fail_after(k);
            ctx = seq_ctx_init(NULL);
            if (!ctx) continue;
            loss = block_loss(ctx, &c);
            s = seq_ctx_status(ctx);
            if (s == SEQ_OK) s = seq_backward(ctx, loss);
            CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
            if (s == SEQ_OK) s = block_state_init(&c, &st, 2);
            if (s == SEQ_OK) {
                seq_mamba_state_free(&st);
                done = 1;
            }
            CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
            seq_ctx_free(ctx);
        }
        seq_test_fail_never();
        CHECK(done && seq_test_live_blocks == live);
        seq_params_free(P);
    }
}

/* One PyTorch fixture (tests/gen_mamba_fixtures.py): a block with its parameters, inputs,
 * outputs and every gradient, computed in double from the same float values. */
typedef struct {
    const mamba_fx_param *params;
    size_t nparams;
    const float *x, *h0, *c0, *y, *hn, *cn, *wy, *wh, *wc, *x_grad, *h0_grad, *c0_grad;
} mamba_fixture;

#define MAMBA_FIXTURE(tag)                                                                                        \
    {tag##_fx_params, sizeof tag##_fx_params / sizeof tag##_fx_params[0], tag##_fx_x, tag##_fx_h0, tag##_fx_c0,  \
     tag##_fx_y, tag##_fx_hn, tag##_fx_cn, tag##_fx_wy, tag##_fx_wh, tag##_fx_wc, tag##_fx_x_grad,              \
     tag##_fx_h0_grad, tag##_fx_c0_grad}

/* Outputs, final states and the gradients of every parameter, x, h0 and c0 equal the
 * fixture's to 1e-5 relative (per tensor, against its largest entry). */
static void check_block_parity(int v2, const mamba_fixture *fx) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    block_case c;
    seq_tensor *y, *loss, *ins[3];
    const float *want[3];
    seq_rng r;
    size_t k;
    int64_t i;
    memset(&c, 0, sizeof c);
    c.v2 = v2;
    c.d_model = MAMBA_FX_D_MODEL;
    if (!v2) {
        seq_mamba_config cfg = seq_mamba_config_default(MAMBA_FX_D_MODEL);
        cfg.d_state = MAMBA_FX_D_STATE;
        cfg.expand = MAMBA_FX_EXPAND;
        cfg.d_conv = MAMBA_FX_D_CONV;
        CHECK(seq_mamba_init(&c.m, P, "mamba", cfg) == SEQ_OK);
        c.hdims = 2;
        c.hs[0] = c.m.d_inner;
        c.hs[1] = MAMBA_FX_D_STATE;
        c.conv_ch = c.m.d_inner;
    } else {
        seq_mamba2_config cfg = seq_mamba2_config_default(MAMBA_FX_D_MODEL);
        cfg.d_state = MAMBA_FX_D_STATE;
        cfg.expand = MAMBA_FX_EXPAND;
        cfg.d_conv = MAMBA_FX_D_CONV;
        cfg.headdim = MAMBA_FX_HEADDIM;
        cfg.ngroups = MAMBA_FX_NGROUPS;
        cfg.chunk = 4; /* does not divide T = 6 */
        CHECK(seq_mamba2_init(&c.m2, P, "mamba2", cfg) == SEQ_OK);
        c.hdims = 3;
        c.hs[0] = c.m2.nheads;
        c.hs[1] = MAMBA_FX_HEADDIM;
        c.hs[2] = MAMBA_FX_D_STATE;
        c.conv_ch = c.m2.conv_dim;
    }
    c.conv_w = MAMBA_FX_D_CONV - 1;
    block_inputs(&c, P, MAMBA_FX_B, MAMBA_FX_T, 1);
    seq_rng_seed(&r, 1);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(P->count == (int64_t)fx->nparams + 3); /* the same parameter set as mamba_ssm's module */
    for (k = 0; k < fx->nparams; k++) {
        seq_tensor *w = seq_params_find(P, fx->params[k].name);
        CHECK_MSG(w != NULL, "missing %s", fx->params[k].name);
        if (w) memcpy(w->data, fx->params[k].value, (size_t)w->numel * sizeof(float));
    }
    ins[0] = c.x;
    ins[1] = c.h0;
    ins[2] = c.c0;
    want[0] = fx->x;
    want[1] = fx->h0;
    want[2] = fx->c0;
    for (k = 0; k < 3; k++) memcpy(ins[k]->data, want[k], (size_t)ins[k]->numel * sizeof(float));
    c.io.h0 = c.h0;
    c.io.c0 = c.c0;
    y = block_forward(ctx, &c, c.x, &c.io);
    CHECK(y != NULL);
    if (!y) goto done;
    /* the fixture's loss is sum(y*wy) + ...: the mean of y * wy * numel is the same */
    for (i = 0; i < y->numel; i++) loss_w[0][i] = fx->wy[i] * (float)y->numel;
    for (i = 0; i < c.io.hn->numel; i++) loss_w[1][i] = fx->wh[i] * (float)c.io.hn->numel;
    for (i = 0; i < c.io.cn->numel; i++) loss_w[2][i] = fx->wc[i] * (float)c.io.cn->numel;
    loss = outputs_loss(ctx, y, &c.io);
    seq_params_zero_grad(P);
    CHECK(seq_backward(ctx, loss) == SEQ_OK);
    CHECK_MSG(rel_err(y->data, fx->y, y->numel) < 1e-5, "y %g", rel_err(y->data, fx->y, y->numel));
    CHECK_MSG(rel_err(c.io.hn->data, fx->hn, c.io.hn->numel) < 1e-5, "hn %g",
              rel_err(c.io.hn->data, fx->hn, c.io.hn->numel));
    CHECK_MSG(rel_err(c.io.cn->data, fx->cn, c.io.cn->numel) < 1e-5, "cn %g",
              rel_err(c.io.cn->data, fx->cn, c.io.cn->numel)); /* the in_proj outputs it keeps */
    for (k = 0; k < fx->nparams; k++) {
        seq_tensor *w = seq_params_find(P, fx->params[k].name);
        if (w) CHECK_MSG(rel_err(w->grad, fx->params[k].grad, w->numel) < 1e-5, "%s grad %g", w->name,
                         rel_err(w->grad, fx->params[k].grad, w->numel));
    }
    want[0] = fx->x_grad;
    want[1] = fx->h0_grad;
    want[2] = fx->c0_grad;
    for (k = 0; k < 3; k++)
        CHECK_MSG(rel_err(ins[k]->grad, want[k], ins[k]->numel) < 1e-5, "%s grad %g", ins[k]->name,
                  rel_err(ins[k]->grad, want[k], ins[k]->numel));
done:
    seq_ctx_free(ctx);
    seq_params_free(P);
}

static void test_block_pytorch_parity(void) {
    static const mamba_fixture fx[2] = {MAMBA_FIXTURE(mamba), MAMBA_FIXTURE(mamba2)};
    check_block_parity(0, &fx[0]);
    check_block_parity(1, &fx[1]);
}

void seq_tests_mamba(void) {
    RUN(test_selective_scan_gradcheck);
    RUN(test_selective_scan_reference);
    RUN(test_ssd_gradcheck);
    RUN(test_ssd_chunked_equals_recurrence);
    RUN(test_ssd_is_selective_scan);
    RUN(test_block_gradcheck);
    RUN(test_block_step_equals_forward);
    RUN(test_block_segments_equal_separate_runs);
    RUN(test_block_pytorch_parity);
    RUN(test_block_init_values);
    RUN(test_block_bad_config);
    RUN(test_scan_bad_input);
    RUN(test_block_bad_input);
    RUN(test_block_out_of_memory);
}
