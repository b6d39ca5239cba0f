/* Optimizers (section 11) and learning-rate schedules (section 12). */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/optim_fixtures.h"

/* --- the fixture problem (see tests/gen_optim_fixtures.py) ------------------------------ */

/* Tensors A (2,3), b (4), C (2,2,3), c (3), weight-decay multipliers 1, 0, 0.5, 0, holding
 * the fixture's starting weights. */
static seq_params *fix_params(void) {
    static const int64_t sA[2] = {2, 3}, sb[1] = {4}, sC[3] = {2, 2, 3}, sc[1] = {3};
    seq_params *P = seq_params_init(NULL);
    seq_params_add(P, "A", 2, sA, seq_init_zeros());
    seq_params_add(P, "b", 1, sb, seq_init_zeros());
    seq_params_add(P, "C", 3, sC, seq_init_zeros());
    seq_params_add(P, "c", 1, sc, seq_init_zeros());
    if (seq_params_alloc(P, NULL) != SEQ_OK) return P;
    seq_params_entry(P, "b")->decay = 0.0f;
    seq_params_entry(P, "C")->decay = 0.5f;
    seq_params_entry(P, "c")->decay = 0.0f;
    memcpy(P->data, optim_fix_w0, sizeof optim_fix_w0);
    return P;
}

/* g = curv * (w - target) + noise[t] at the current weights */
static void fix_grad(seq_params *P, int t) {
    int i;
    for (i = 0; i < OPTIM_FIX_N; i++)
        P->grad[i] = optim_fix_curv[i] * (P->data[i] - optim_fix_target[i]) + optim_fix_noise[t][i];
}

/* Any optimizer of the suite, behind one handle. SAM wraps `inner`. */
typedef enum { K_SGD, K_ADAMW, K_ADABELIEF, K_ADAFACTOR, K_ADEMAMIX, K_LION, K_FRUGAL, K_SAM } opt_kind;
typedef struct opt_box {
    opt_kind kind;
    union {
        seq_sgd sgd;
        seq_adamw adamw;
        seq_adabelief adabelief;
        seq_adafactor adafactor;
        seq_ademamix ademamix;
        seq_lion lion;
        seq_frugal frugal;
        seq_sam sam;
    } u;
    seq_sgd inner;
    seq_rng rng;
    seq_optim h;
} opt_box;

static void box_free(opt_box *b) {
    switch (b->kind) {
    case K_SGD: seq_sgd_free(&b->u.sgd); break;
    case K_ADAMW: seq_adamw_free(&b->u.adamw); break;
    case K_ADABELIEF: seq_adabelief_free(&b->u.adabelief); break;
    case K_ADAFACTOR: seq_adafactor_free(&b->u.adafactor); break;
    case K_ADEMAMIX: seq_ademamix_free(&b->u.ademamix); break;
    case K_LION: seq_lion_free(&b->u.lion); break;
    case K_FRUGAL: seq_frugal_free(&b->u.frugal); break;
    case K_SAM:
        seq_sam_free(&b->u.sam);
        seq_sgd_free(&b->inner);
        break;
    }
}

/* Put an optimizer of each kind in the box. */
static seq_status box_sgd(opt_box *b, const seq_params *P, seq_sgd_config c) {
    b->kind = K_SGD;
    b->h = seq_sgd_as_optim(&b->u.sgd);
    return seq_sgd_init(&b->u.sgd, P, c);
}
static seq_status box_adamw(opt_box *b, const seq_params *P, seq_adamw_config c) {
    b->kind = K_ADAMW;
    b->h = seq_adamw_as_optim(&b->u.adamw);
    return seq_adamw_init(&b->u.adamw, P, c);
}
static seq_status box_adabelief(opt_box *b, const seq_params *P, seq_adabelief_config c) {
    b->kind = K_ADABELIEF;
    b->h = seq_adabelief_as_optim(&b->u.adabelief);
    return seq_adabelief_init(&b->u.adabelief, P, c);
}
static seq_status box_adafactor(opt_box *b, const seq_params *P, seq_adafactor_config c) {
    b->kind = K_ADAFACTOR;
    b->h = seq_adafactor_as_optim(&b->u.adafactor);
    return seq_adafactor_init(&b->u.adafactor, P, c);
}

/* One constructor per fixture case, with the configuration the generator used. */
static seq_status mk_sgd(opt_box *b, const seq_params *P) {
    seq_sgd_config c = seq_sgd_config_default();
    c.weight_decay = 0.05f;
    return box_sgd(b, P, c);
}
static seq_status mk_sgd_momentum(opt_box *b, const seq_params *P) {
    seq_sgd_config c = seq_sgd_config_default();
    c.momentum = 0.9f;
    c.dampening = 0.2f;
    c.weight_decay = 0.05f;
    return box_sgd(b, P, c);
}
static seq_status mk_sgd_nesterov(opt_box *b, const seq_params *P) {
    seq_sgd_config c = seq_sgd_config_default();
    c.momentum = 0.8f;
    c.nesterov = 1;
    c.weight_decay = 0.05f;
    return box_sgd(b, P, c);
}
static seq_status mk_adamw_cfg(opt_box *b, const seq_params *P, float b1, float b2, int decoupled, int amsgrad) {
    seq_adamw_config c = seq_adamw_config_default();
    c.beta1 = b1;
    c.beta2 = b2;
    c.weight_decay = 0.1f;
    c.decoupled = decoupled;
    c.amsgrad = amsgrad;
    return box_adamw(b, P, c);
}
static seq_status mk_adam_l2(opt_box *b, const seq_params *P) { return mk_adamw_cfg(b, P, 0.9f, 0.99f, 0, 0); }
static seq_status mk_adamw(opt_box *b, const seq_params *P) { return mk_adamw_cfg(b, P, 0.9f, 0.999f, 1, 0); }
static seq_status mk_adamw_amsgrad(opt_box *b, const seq_params *P) { return mk_adamw_cfg(b, P, 0.8f, 0.9f, 1, 1); }
static seq_status mk_adabelief_cfg(opt_box *b, const seq_params *P, float b1, float b2, float eps, int decoupled) {
    seq_adabelief_config c = seq_adabelief_config_default();
    c.beta1 = b1;
    c.beta2 = b2;
    c.eps = eps;
    c.weight_decay = 0.1f;
    c.decoupled = decoupled;
    return box_adabelief(b, P, c);
}
static seq_status mk_adabelief(opt_box *b, const seq_params *P) {
    return mk_adabelief_cfg(b, P, 0.9f, 0.999f, 1e-16f, 1);
}
static seq_status mk_adabelief_l2(opt_box *b, const seq_params *P) {
    return mk_adabelief_cfg(b, P, 0.8f, 0.99f, 1e-8f, 0);
}
static seq_status mk_adafactor_relative(opt_box *b, const seq_params *P) {
    return box_adafactor(b, P, seq_adafactor_config_default());
}
static seq_status mk_adafactor_external(opt_box *b, const seq_params *P) {
    seq_adafactor_config c = seq_adafactor_config_default();
    c.beta1 = 0.9f;
    c.clip_threshold = 0.5f;
    c.weight_decay = 0.1f;
    c.relative_step = 0;
    c.scale_parameter = 0;
    return box_adafactor(b, P, c);
}
static seq_status mk_ademamix(opt_box *b, const seq_params *P) {
    seq_ademamix_config c = seq_ademamix_config_default();
    c.beta2 = 0.99f;
    c.beta3 = 0.999f;
    c.alpha = 3.0f;
    c.weight_decay = 0.1f;
    c.warmup = 6;
    b->kind = K_ADEMAMIX;
    b->h = seq_ademamix_as_optim(&b->u.ademamix);
    return seq_ademamix_init(&b->u.ademamix, P, c);
}
static seq_status mk_lion(opt_box *b, const seq_params *P) {
    seq_lion_config c = seq_lion_config_default();
    c.weight_decay = 0.1f;
    b->kind = K_LION;
    b->h = seq_lion_as_optim(&b->u.lion);
    return seq_lion_init(&b->u.lion, P, c);
}
static seq_status mk_frugal(opt_box *b, const seq_params *P) {
    seq_frugal_config c = seq_frugal_config_default();
    c.rho = 0.5f;
    c.period = 3;
    c.beta2 = 0.99f;
    c.weight_decay = 0.1f;
    c.rng = &b->rng;
    seq_rng_seed(&b->rng, 7);
    b->kind = K_FRUGAL;
    b->h = seq_frugal_as_optim(&b->u.frugal);
    return seq_frugal_init(&b->u.frugal, P, c);
}
static seq_status mk_sam_cfg(opt_box *b, const seq_params *P, float rho, int adaptive) {
    seq_sgd_config base = seq_sgd_config_default();
    seq_sam_config c = seq_sam_config_default();
    seq_status s;
    base.momentum = 0.9f;
    c.rho = rho;
    c.adaptive = adaptive;
    b->kind = K_SAM;
    s = seq_sgd_init(&b->inner, P, base);
    if (s == SEQ_OK) s = seq_sam_init(&b->u.sam, P, seq_sgd_as_optim(&b->inner), c);
    b->h = seq_sam_as_optim(&b->u.sam);
    return s;
}
static seq_status mk_sam(opt_box *b, const seq_params *P) { return mk_sam_cfg(b, P, 0.1f, 0); }
static seq_status mk_asam(opt_box *b, const seq_params *P) { return mk_sam_cfg(b, P, 0.5f, 1); }

typedef struct fix_case {
    const char *name;
    seq_status (*make)(opt_box *b, const seq_params *P);
    float lr;
    const float (*traj)[OPTIM_FIX_N];
} fix_case;

static const fix_case fix_cases[] = {
    {"sgd", mk_sgd, 0.1f, optim_fix_sgd},
    {"sgd_momentum", mk_sgd_momentum, 0.05f, optim_fix_sgd_momentum},
    {"sgd_nesterov", mk_sgd_nesterov, 0.05f, optim_fix_sgd_nesterov},
    {"adam_l2", mk_adam_l2, 0.05f, optim_fix_adam_l2},
    {"adamw", mk_adamw, 0.05f, optim_fix_adamw},
    {"adamw_amsgrad", mk_adamw_amsgrad, 0.05f, optim_fix_adamw_amsgrad},
    {"adabelief", mk_adabelief, 0.05f, optim_fix_adabelief},
    {"adabelief_l2", mk_adabelief_l2, 0.05f, optim_fix_adabelief_l2},
    {"adafactor_relative", mk_adafactor_relative, 0.0f, optim_fix_adafactor_relative},
    {"adafactor_external", mk_adafactor_external, 0.05f, optim_fix_adafactor_external},
    {"ademamix", mk_ademamix, 0.05f, optim_fix_ademamix},
    {"lion", mk_lion, 0.01f, optim_fix_lion},
    {"frugal", mk_frugal, 0.05f, optim_fix_frugal},
    {"sam", mk_sam, 0.05f, optim_fix_sam},
    {"asam", mk_asam, 0.05f, optim_fix_asam},
};
#define N_FIX_CASES ((int)(sizeof fix_cases / sizeof fix_cases[0]))

/* One training step of the fixture problem: SAM takes its two gradients. */
static seq_status fix_step(opt_box *b, seq_params *P, float lr, int t) {
    fix_grad(P, t);
    if (b->kind == K_SAM) {
        seq_status s = seq_sam_perturb(&b->u.sam, P);
        if (s != SEQ_OK) return s;
        fix_grad(P, t);
    }
    return b->h.step(b->h.self, P, lr);
}

static void test_reference_trajectories(void) {
    int c, t, i;
    long live = seq_test_live_blocks;
    for (c = 0; c < N_FIX_CASES; c++) {
        const fix_case *fc = &fix_cases[c];
        seq_params *P = fix_params();
        opt_box b;
        double worst = 0.0;
        int worst_t = -1, worst_i = -1;
        CHECK_MSG(fc->make(&b, P) == SEQ_OK, "%s: %s", fc->name, seq_last_error());
        for (t = 0; t < OPTIM_FIX_STEPS; t++) {
            CHECK_MSG(fix_step(&b, P, fc->lr * optim_fix_lr_scale[t], t) == SEQ_OK, "%s step %d: %s", fc->name, t,
                      seq_last_error());
            for (i = 0; i < OPTIM_FIX_N; i++) {
                double want = fc->traj[t][i], got = P->data[i];
                double err = fabs(got - want) / (fabs(want) > 1.0 ? fabs(want) : 1.0);
                if (err > worst) {
                    worst = err;
                    worst_t = t;
                    worst_i = i;
                }
            }
        }
        CHECK_MSG(worst <= 1e-5, "%s: error %g at step %d element %d (%.9g vs %.9g)", fc->name, worst, worst_t,
                  worst_i, worst_i >= 0 ? P->data[worst_i] : 0.0, worst_i >= 0 ? fc->traj[worst_t][worst_i] : 0.0);
        CHECK(b.h.st->step == OPTIM_FIX_STEPS);
        box_free(&b);
        seq_params_free(P);
    }
    CHECK(seq_test_live_blocks == live);
}

/* A NaN or Inf gradient leaves weights and state as they were, for every optimizer. */
static void test_nonfinite_gradient_changes_nothing(void) {
    static const float bad[2] = {NAN, INFINITY};
    int c, t, k;
    for (c = 0; c < N_FIX_CASES; c++) {
        const fix_case *fc = &fix_cases[c];
        seq_params *P = fix_params();
        opt_box b;
        float w[OPTIM_FIX_N], state[4 * OPTIM_FIX_N];
        size_t bytes;
        int64_t step;
        seq_rng rng;
        memset(&b, 0, sizeof b);
        fc->make(&b, P);
        for (t = 0; t < 3; t++) fix_step(&b, P, fc->lr, t);
        bytes = (size_t)b.h.st->numel * sizeof(float);
        CHECK(bytes <= sizeof state);
        for (k = 0; k < 2; k++) {
            fix_grad(P, 3);
            memcpy(w, P->data, sizeof w);
            if (bytes) memcpy(state, b.h.st->buf, bytes); /* SGD without momentum has none */
            step = b.h.st->step;
            rng = b.rng;
            P->grad[7 + 5 * k] = bad[k];
            if (b.kind == K_SAM) {
                CHECK_MSG(seq_sam_perturb(&b.u.sam, P) == SEQ_ERR_NUMERIC, "%s", fc->name);
            } else {
                CHECK_MSG(b.h.step(b.h.self, P, fc->lr) == SEQ_ERR_NUMERIC, "%s", fc->name);
                CHECK_MSG(strstr(seq_last_error(), "non-finite") != NULL, "%s: %s", fc->name, seq_last_error());
            }
            CHECK_MSG(memcmp(w, P->data, sizeof w) == 0, "%s: weights changed", fc->name);
            CHECK_MSG(!bytes || memcmp(state, b.h.st->buf, bytes) == 0, "%s: state changed", fc->name);
            CHECK_MSG(b.h.st->step == step, "%s: step count changed", fc->name);
            CHECK_MSG(memcmp(&rng, &b.rng, sizeof rng) == 0, "%s: rng advanced", fc->name); /* FRUGAL draws now */
        }
        box_free(&b);
        seq_params_free(P);
    }
}

/* SAM's second gradient non-finite: the weights go back to w and the base is untouched. */
static void test_sam_failed_second_step_restores(void) {
    seq_params *P = fix_params();
    opt_box b;
    float w[OPTIM_FIX_N], buf[OPTIM_FIX_N];
    int t;
    mk_sam(&b, P);
    for (t = 0; t < 2; t++) fix_step(&b, P, 0.05f, t);
    memcpy(w, P->data, sizeof w);
    memcpy(buf, b.inner.st.buf, sizeof buf);
    fix_grad(P, 2);
    CHECK(seq_sam_perturb(&b.u.sam, P) == SEQ_OK);
    CHECK(memcmp(w, P->data, sizeof w) != 0);
    CHECK(seq_sam_perturb(&b.u.sam, P) == SEQ_ERR_STATE); /* twice in a row */
    P->grad[0] = NAN;
    CHECK(seq_sam_step(&b.u.sam, P, 0.05f) == SEQ_ERR_NUMERIC);
    CHECK(memcmp(w, P->data, sizeof w) == 0);
    CHECK(memcmp(buf, b.inner.st.buf, sizeof buf) == 0);
    CHECK(b.u.sam.st.step == 2 && b.inner.st.step == 2);
    CHECK(seq_sam_step(&b.u.sam, P, 0.05f) == SEQ_ERR_STATE); /* no perturbation pending */
    box_free(&b);
    seq_params_free(P);
}

/* f(w) = h w^2 / 2 in one dimension, where SAM's step has a closed form. */
static void test_sam_analytic_step(void) {
    static const int64_t s1[1] = {1};
    seq_params *P = seq_params_init(NULL);
    seq_sgd sgd;
    seq_sam sam;
    seq_sam_config c = seq_sam_config_default();
    const float h = 3.0f, w0 = 2.0f, rho = 0.1f, lr = 0.1f;
    int adaptive;
    seq_params_add(P, "w", 1, s1, seq_init_zeros());
    seq_params_alloc(P, NULL);
    seq_sgd_init(&sgd, P, seq_sgd_config_default());
    for (adaptive = 0; adaptive < 2; adaptive++) {
        /* SAM: e = rho sign(g); ASAM: e = rho w^2 g / |w g| = rho |w| sign(g) */
        float e = adaptive ? rho * w0 : rho;
        c.rho = rho;
        c.adaptive = adaptive;
        CHECK(seq_sam_init(&sam, P, seq_sgd_as_optim(&sgd), c) == SEQ_OK);
        P->data[0] = w0;
        P->grad[0] = h * P->data[0];
        CHECK(seq_sam_perturb(&sam, P) == SEQ_OK);
        CHECK_NEAR(P->data[0], w0 + e, 1e-6);
        P->grad[0] = h * P->data[0];
        CHECK(seq_sam_step(&sam, P, lr) == SEQ_OK);
        CHECK_NEAR(P->data[0], w0 - lr * h * (w0 + e), 1e-6);
        seq_sam_free(&sam);
    }
    /* a zero gradient: no ascent direction, so no perturbation */
    CHECK(seq_sam_init(&sam, P, seq_sgd_as_optim(&sgd), c) == SEQ_OK);
    P->data[0] = w0;
    P->grad[0] = 0.0f;
    CHECK(seq_sam_perturb(&sam, P) == SEQ_OK && P->data[0] == w0);
    seq_sam_free(&sam);
    seq_sgd_free(&sgd);
    seq_params_free(P);
}

/* Reddi et al. (2018): f_t(x) = C x when t mod 3 == 1, else -x, on [-1,1]. The optimum is
 * -1; Adam with beta1 = 0, beta2 = 1/(1+C^2) drifts to +1, AMSGrad does not. */
static double amsgrad_counterexample(int amsgrad) {
    static const int64_t s1[1] = {1};
    const float C = 3.0f;
    seq_params *P = seq_params_init(NULL);
    seq_adamw opt;
    seq_adamw_config c = seq_adamw_config_default();
    double tail = 0.0;
    int t, steps = 3000;
    seq_params_add(P, "x", 1, s1, seq_init_zeros());
    seq_params_alloc(P, NULL);
    c.beta1 = 0.0f;
    c.beta2 = 1.0f / (1.0f + C * C);
    c.weight_decay = 0.0f;
    c.amsgrad = amsgrad;
    seq_adamw_init(&opt, P, c);
    for (t = 1; t <= steps; t++) {
        P->grad[0] = t % 3 == 1 ? C : -1.0f;
        seq_adamw_step(&opt, P, 0.5f / sqrtf((float)t));
        P->data[0] = P->data[0] > 1.0f ? 1.0f : (P->data[0] < -1.0f ? -1.0f : P->data[0]);
        if (t > steps - 300) tail += P->data[0] / 300.0;
    }
    seq_adamw_free(&opt);
    seq_params_free(P);
    return tail;
}

static void test_amsgrad_counterexample(void) {
    double adam = amsgrad_counterexample(0), ams = amsgrad_counterexample(1);
    CHECK_MSG(adam > 0.9, "Adam should drift to +1, mean of the last steps %g", adam);
    CHECK_MSG(ams < -0.9, "AMSGrad should reach -1, mean of the last steps %g", ams);
}

/* The documented state sizes, Adafactor's factored one above all. */
static void test_state_layouts(void) {
    seq_params *P = fix_params();
    const int64_t n = OPTIM_FIX_N;
    opt_box b;
    seq_adafactor af;
    seq_adafactor_config ac = seq_adafactor_config_default();
    mk_sgd(&b, P);
    CHECK(b.u.sgd.st.numel == 0 && strcmp(b.u.sgd.st.kind, "sgd") == 0);
    box_free(&b);
    mk_sgd_momentum(&b, P);
    CHECK(b.u.sgd.st.numel == n);
    box_free(&b);
    mk_adamw(&b, P);
    CHECK(b.u.adamw.st.numel == 2 * n);
    box_free(&b);
    mk_adamw_amsgrad(&b, P);
    CHECK(b.u.adamw.st.numel == 3 * n);
    box_free(&b);
    mk_ademamix(&b, P);
    CHECK(b.u.ademamix.st.numel == 3 * n);
    box_free(&b);
    /* A (2,3): 2+3; b (4): 4; C (2,2,3): 2*(2+3); c (3): 3 */
    CHECK(seq_adafactor_init(&af, P, ac) == SEQ_OK && af.st.numel == 22);
    seq_adafactor_free(&af);
    ac.beta1 = 0.5f;
    CHECK(seq_adafactor_init(&af, P, ac) == SEQ_OK && af.st.numel == 22 + n);
    seq_adafactor_free(&af);
    /* FRUGAL: 2 flags per tensor, m and v for the 2 largest tensors (C 12 + A 6) */
    mk_frugal(&b, P);
    CHECK(b.u.frugal.st.numel == 2 * 4 + 2 * 18 && b.u.frugal.active == 2);
    box_free(&b);
    seq_params_free(P);
}

/* FRUGAL against its definition on tensors of 8 sizes, k = 3 of them state-full, with a
 * constant gradient: after s steps in the set a tensor's m is (1 - beta1^s) g at its
 * packed place; outside the set it moves by -lr sign(g). */
static void test_frugal_blocks(void) {
    seq_params *P = seq_params_init(NULL);
    seq_frugal o;
    seq_frugal_config c = seq_frugal_config_default();
    seq_rng rng;
    int64_t shape[1], i, p, stay[8] = {0}, picked[8] = {0};
    int step, ok_m = 1, ok_sign = 1, ok_count = 1, ok_period = 1;
    float prev_flags[8] = {0};
    const float lr = 0.01f;
    char name[8];
    for (p = 0; p < 8; p++) {
        shape[0] = (p * 5) % 8 + 1; /* sizes 1..8 in shuffled order */
        snprintf(name, sizeof name, "t%d", (int)p);
        seq_params_add(P, name, 1, shape, seq_init_zeros());
    }
    seq_params_alloc(P, NULL);
    for (i = 0; i < P->numel; i++) P->grad[i] = (i % 3 - 1.2f) * (float)(i + 1);
    seq_rng_seed(&rng, 99);
    c.rho = 0.375f; /* 3 of 8 */
    c.period = 2;
    c.rng = &rng;
    CHECK(seq_frugal_init(&o, P, c) == SEQ_OK && o.active == 3);
    CHECK(o.st.numel == 2 * 8 + 2 * (8 + 7 + 6));
    for (step = 0; step < 60; step++) {
        float *flag = o.st.buf, *steps = flag + 8, *m = steps + 8;
        float w[64];
        int64_t at = 0, count = 0;
        memcpy(w, P->data, (size_t)P->numel * sizeof(float));
        CHECK(seq_frugal_step(&o, P, lr) == SEQ_OK);
        for (p = 0; p < 8; p++) {
            const seq_param *e = P->items[p];
            if (step % 2 == 1 && flag[p] != prev_flags[p]) ok_period = 0; /* the set holds for a period */
            prev_flags[p] = flag[p];
            if (flag[p] == 0.0f) {
                stay[p] = 0;
                for (i = e->offset; i < e->offset + e->t.numel; i++)
                    if (P->data[i] != w[i] - lr * (P->grad[i] > 0 ? 1.0f : -1.0f)) ok_sign = 0;
                continue;
            }
            count++;
            picked[p] = 1;
            stay[p]++;
            if (steps[p] != (float)stay[p]) ok_m = 0;
            for (i = 0; i < e->t.numel; i++, at++) {
                double want = (1.0 - pow(c.beta1, (double)stay[p])) * P->grad[e->offset + i];
                if (fabs(m[at] - want) > 1e-5 * (1.0 + fabs(want))) ok_m = 0;
            }
        }
        if (count != 3) ok_count = 0;
    }
    CHECK_MSG(ok_count, "exactly 3 of 8 tensors must be state-full at every step");
    CHECK_MSG(ok_period, "the state-full set must change only at period boundaries");
    CHECK_MSG(ok_m, "moments of tensors that stay must be kept, of tensors that enter reset");
    CHECK_MSG(ok_sign, "tensors outside the set take signSGD steps");
    for (p = 0; p < 8; p++) CHECK_MSG(picked[p], "tensor %d never drawn in 30 draws", (int)p);
    seq_frugal_free(&o);
    seq_params_free(P);
}

/* --- weight EMA -------------------------------------------------------------------------- */

static void test_ema_batch_scaling(void) {
    static const int64_t s3[1] = {3};
    seq_params *P = seq_params_init(NULL);
    seq_ema e1, e4;
    seq_ema_config c = seq_ema_config_default();
    float w0[3] = {1.0f, -2.0f, 0.5f};
    const float w1[3] = {3.0f, 0.0f, -1.0f};
    int i, k;
    seq_params_add(P, "w", 1, s3, seq_init_zeros());
    seq_params_alloc(P, NULL);
    memcpy(P->data, w0, sizeof w0);
    c.decay = 0.9f;
    CHECK(seq_ema_init(&e1, P, c) == SEQ_OK);
    c.kappa = 4.0f;
    CHECK(seq_ema_init(&e4, P, c) == SEQ_OK);
    memcpy(P->data, w1, sizeof w1);
    /* one update at a 4x batch covers the samples of four at the reference batch */
    for (k = 0; k < 4; k++) CHECK(seq_ema_update(&e1, P) == SEQ_OK);
    CHECK(seq_ema_update(&e4, P) == SEQ_OK);
    for (i = 0; i < 3; i++) {
        double r4 = pow(0.9, 4.0);
        CHECK_NEAR(e4.st.buf[i], r4 * w0[i] + (1.0 - r4) * w1[i], 1e-6);
        CHECK_NEAR(e4.st.buf[i], e1.st.buf[i], 1e-6);
    }
    CHECK(e1.st.step == 4 && e4.st.step == 1);
    /* a NaN weight is refused and leaves the average as it was */
    memcpy(w0, e4.st.buf, sizeof w0);
    P->data[1] = NAN;
    CHECK(seq_ema_update(&e4, P) == SEQ_ERR_NUMERIC && e4.st.step == 1);
    CHECK(memcmp(w0, e4.st.buf, sizeof w0) == 0);
    seq_ema_free(&e1);
    seq_ema_free(&e4);
    seq_params_free(P);
}

static void test_ema_power_gamma(void) {
    double g05 = seq_ema_power_gamma(0.05), g10 = seq_ema_power_gamma(0.10), s;
    const double sig[4] = {0.01, 0.05, 0.10, 0.25};
    int i;
    /* EDM2 keeps its two snapshot EMAs at gamma 16.97 and 6.94 for sigma_rel 0.05 and 0.10 */
    CHECK_NEAR(g05, 16.97, 1e-3);
    CHECK_NEAR(g10, 6.94, 1e-3);
    for (i = 0; i < 4; i++) {
        double g = seq_ema_power_gamma(sig[i]);
        s = sig[i] * sig[i] * (g + 2) * (g + 2) * (g + 3);
        CHECK_NEAR(s, g + 1, 1e-9);
        CHECK(g > -0.382); /* the larger root, on the falling side of sigma_rel(gamma) */
    }
    CHECK(isnan(seq_ema_power_gamma(0.0)) && isnan(seq_ema_power_gamma(-0.1)));
    CHECK(isnan(seq_ema_power_gamma(0.31)) && isnan(seq_ema_power_gamma(NAN)));
    CHECK(!isnan(seq_ema_power_gamma(0.3)));
}

/* The power EMA weights the past like tau^gamma: over w_t = t its average is
 * (gamma+1)/(gamma+2) t. The first update takes the weights as they are. */
static void test_ema_power_average(void) {
    static const int64_t s1[1] = {1};
    seq_params *P = seq_params_init(NULL);
    seq_ema e;
    seq_ema_config c = seq_ema_config_default();
    int t;
    double g;
    seq_params_add(P, "w", 1, s1, seq_init_zeros());
    seq_params_alloc(P, NULL);
    c.mode = SEQ_EMA_POWER;
    c.sigma_rel = 0.10f;
    CHECK(seq_ema_init(&e, P, c) == SEQ_OK);
    g = e.gamma;
    for (t = 1; t <= 2000; t++) {
        P->data[0] = (float)t;
        seq_ema_update(&e, P);
        if (t == 1) CHECK(e.st.buf[0] == 1.0f);
    }
    CHECK_NEAR(e.st.buf[0] / 2000.0, (g + 1) / (g + 2), 1e-3);
    seq_ema_free(&e);
    seq_params_free(P);
}

static void test_ema_swap_and_switch(void) {
    static const int64_t s2[1] = {2};
    seq_params *P = seq_params_init(NULL);
    seq_ema e;
    seq_ema_config c = seq_ema_config_default();
    seq_params_add(P, "w", 1, s2, seq_init_zeros());
    seq_params_alloc(P, NULL);
    c.decay = 0.5f;
    P->data[0] = 2.0f;
    P->data[1] = 4.0f;
    CHECK(seq_ema_init(&e, P, c) == SEQ_OK);
    P->data[0] = 4.0f;
    P->data[1] = 0.0f;
    CHECK(seq_ema_update(&e, P) == SEQ_OK); /* shadow (3, 2) */
    CHECK(seq_ema_swap(&e, P) == SEQ_OK);
    CHECK(P->data[0] == 3.0f && P->data[1] == 2.0f && e.st.buf[0] == 4.0f);
    CHECK(seq_ema_update(&e, P) == SEQ_ERR_STATE);
    CHECK(seq_ema_copy_to(&e, P) == SEQ_ERR_STATE);
    CHECK(seq_ema_swap(&e, P) == SEQ_OK);
    CHECK(P->data[0] == 4.0f && P->data[1] == 0.0f);
    /* Switch EMA: at an epoch end the model continues from the average */
    CHECK(seq_ema_copy_to(&e, P) == SEQ_OK);
    CHECK(P->data[0] == 3.0f && P->data[1] == 2.0f && e.st.buf[0] == 3.0f);
    seq_ema_free(&e);
    seq_params_free(P);
}

/* --- bad input ------------------------------------------------------------------------- */

/* Each optimizer's init refuses NULLs, unallocated params, bad configs, and fails cleanly
 * when memory runs out. */
static void test_init_bad_input(void) {
    static const int64_t s2[1] = {2};
    seq_params *P = fix_params(), *U = seq_params_init(NULL);
    seq_sgd sgd;
    seq_sgd_config sc = seq_sgd_config_default();
    seq_adamw aw;
    seq_adamw_config ac = seq_adamw_config_default();
    seq_adabelief ab;
    seq_adabelief_config bc = seq_adabelief_config_default();
    seq_adafactor af;
    seq_adafactor_config fc = seq_adafactor_config_default();
    seq_ademamix am;
    seq_ademamix_config mc = seq_ademamix_config_default();
    seq_lion li;
    seq_lion_config lc = seq_lion_config_default();
    seq_frugal fr;
    seq_frugal_config rc = seq_frugal_config_default();
    seq_sam sam;
    seq_sam_config pc = seq_sam_config_default();
    seq_ema em;
    seq_ema_config ec = seq_ema_config_default();
    seq_rng rng;
    long live;
    seq_params_add(U, "w", 1, s2, seq_init_zeros()); /* registered, never allocated */
    seq_rng_seed(&rng, 1);

    CHECK(seq_adamw_init(NULL, P, ac) == SEQ_ERR_INVALID);
    CHECK(seq_adamw_init(&aw, NULL, ac) == SEQ_ERR_INVALID);
    CHECK(seq_adamw_init(&aw, U, ac) == SEQ_ERR_STATE);
    CHECK(strstr(seq_last_error(), "seq_adamw_init") != NULL);
    seq_adamw_free(&aw); /* a failed init leaves a freeable object */
    ac.beta2 = 1.0f;
    CHECK(seq_adamw_init(&aw, P, ac) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "beta2") != NULL);
    ac.beta2 = 0.999f;
    ac.eps = NAN;
    CHECK(seq_adamw_init(&aw, P, ac) == SEQ_ERR_INVALID);
    ac.eps = 1e-8f;
    ac.weight_decay = -0.1f;
    CHECK(seq_adamw_init(&aw, P, ac) == SEQ_ERR_INVALID);

    CHECK(seq_sgd_init(&sgd, U, sc) == SEQ_ERR_STATE);
    sc.nesterov = 1;
    CHECK(seq_sgd_init(&sgd, P, sc) == SEQ_ERR_INVALID); /* nesterov without momentum */
    sc.momentum = 0.9f;
    sc.dampening = 0.1f;
    CHECK(seq_sgd_init(&sgd, P, sc) == SEQ_ERR_INVALID); /* nor with dampening */
    sc.nesterov = 0;
    sc.momentum = -0.5f;
    CHECK(seq_sgd_init(&sgd, P, sc) == SEQ_ERR_INVALID);

    bc.beta1 = -0.1f;
    CHECK(seq_adabelief_init(&ab, P, bc) == SEQ_ERR_INVALID);
    CHECK(seq_adabelief_init(&ab, NULL, seq_adabelief_config_default()) == SEQ_ERR_INVALID);

    fc.clip_threshold = 0.0f;
    CHECK(seq_adafactor_init(&af, P, fc) == SEQ_ERR_INVALID);
    fc.clip_threshold = 1.0f;
    fc.decay_rate = -0.8f;
    CHECK(seq_adafactor_init(&af, P, fc) == SEQ_ERR_INVALID);
    CHECK(seq_adafactor_init(&af, U, seq_adafactor_config_default()) == SEQ_ERR_STATE);

    mc.beta3 = 1.5f;
    CHECK(seq_ademamix_init(&am, P, mc) == SEQ_ERR_INVALID);
    mc.beta3 = 0.5f;
    mc.warmup = 10; /* the beta3 warmup rises from beta1 = 0.9: beta3 below it is refused */
    CHECK(seq_ademamix_init(&am, P, mc) == SEQ_ERR_INVALID);
    mc.warmup = -1;
    mc.beta3 = 0.9999f;
    CHECK(seq_ademamix_init(&am, P, mc) == SEQ_ERR_INVALID);

    lc.beta1 = 1.0f;
    CHECK(seq_lion_init(&li, P, lc) == SEQ_ERR_INVALID);
    CHECK(seq_lion_init(&li, U, seq_lion_config_default()) == SEQ_ERR_STATE);

    CHECK(seq_frugal_init(&fr, P, rc) == SEQ_ERR_INVALID); /* no rng */
    CHECK(strstr(seq_last_error(), "rng") != NULL);
    rc.rng = &rng;
    rc.rho = 1.5f;
    CHECK(seq_frugal_init(&fr, P, rc) == SEQ_ERR_INVALID);
    rc.rho = 0.5f;
    rc.period = 0;
    CHECK(seq_frugal_init(&fr, P, rc) == SEQ_ERR_INVALID);

    CHECK(seq_sam_init(&sam, P, seq_sgd_as_optim(NULL), pc) == SEQ_ERR_INVALID);
    pc.rho = -1.0f;
    CHECK(seq_sgd_init(&sgd, P, seq_sgd_config_default()) == SEQ_OK);
    CHECK(seq_sam_init(&sam, P, seq_sgd_as_optim(&sgd), pc) == SEQ_ERR_INVALID);

    ec.decay = 1.0f;
    CHECK(seq_ema_init(&em, P, ec) == SEQ_ERR_INVALID);
    ec.decay = 0.99f;
    ec.kappa = 0.0f;
    CHECK(seq_ema_init(&em, P, ec) == SEQ_ERR_INVALID);
    ec.kappa = 1.0f;
    ec.mode = SEQ_EMA_POWER;
    ec.sigma_rel = 0.5f;
    CHECK(seq_ema_init(&em, P, ec) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "sigma_rel") != NULL);
    ec.mode = (seq_ema_mode)7;
    CHECK(seq_ema_init(&em, P, ec) == SEQ_ERR_INVALID);
    CHECK(seq_ema_init(&em, U, seq_ema_config_default()) == SEQ_ERR_STATE);

    /* out of memory: a status, nothing leaked */
    live = seq_test_live_blocks;
    seq_test_fail_after(0);
    CHECK(seq_adamw_init(&aw, P, seq_adamw_config_default()) == SEQ_ERR_NOMEM);
    seq_test_fail_after(0);
    CHECK(seq_adafactor_init(&af, P, seq_adafactor_config_default()) == SEQ_ERR_NOMEM);
    seq_test_fail_after(0);
    rc.period = 5;
    CHECK(seq_frugal_init(&fr, P, rc) == SEQ_ERR_NOMEM);
    seq_test_fail_after(0);
    CHECK(seq_ema_init(&em, P, seq_ema_config_default()) == SEQ_ERR_NOMEM);
    seq_test_fail_after(0);
    CHECK(seq_sam_init(&sam, P, seq_sgd_as_optim(&sgd), seq_sam_config_default()) == SEQ_ERR_NOMEM);
    seq_test_fail_never();
    CHECK(seq_test_live_blocks == live);
    seq_adamw_free(&aw);
    seq_adafactor_free(&af);
    seq_frugal_free(&fr);
    seq_ema_free(&em);
    seq_sam_free(&sam);
    seq_sgd_free(&sgd);
    seq_params_free(U);
    seq_params_free(P);
}

/* Every step refuses NULLs, a bad lr, other params (even of the same size), and an
 * optimizer that was never initialized. */
static void test_step_bad_input(void) {
    static const int64_t s25[1] = {25}, s5x5[2] = {5, 5};
    seq_params *P = fix_params(), *flat = seq_params_init(NULL), *square = seq_params_init(NULL);
    seq_params *unalloc = seq_params_init(NULL);
    int c;
    seq_params_add(flat, "w", 1, s25, seq_init_zeros());
    seq_params_add(square, "w", 2, s5x5, seq_init_zeros());
    seq_params_add(unalloc, "w", 1, s25, seq_init_zeros());
    seq_params_alloc(flat, NULL);
    seq_params_alloc(square, NULL);
    for (c = 0; c < N_FIX_CASES; c++) {
        const fix_case *fc = &fix_cases[c];
        opt_box b;
        fc->make(&b, P);
        fix_grad(P, 0);
        CHECK_MSG(b.h.step(b.h.self, NULL, 0.1f) == SEQ_ERR_INVALID, "%s", fc->name);
        CHECK_MSG(b.h.step(NULL, P, 0.1f) == SEQ_ERR_INVALID, "%s", fc->name);
        CHECK_MSG(b.h.step(b.h.self, unalloc, 0.1f) == SEQ_ERR_STATE, "%s", fc->name);
        CHECK_MSG(b.h.step(b.h.self, flat, 0.1f) == SEQ_ERR_SHAPE, "%s", fc->name);
        CHECK_MSG(b.h.step(b.h.self, square, 0.1f) == SEQ_ERR_SHAPE, "%s", fc->name);
        if (b.kind != K_SAM) { /* SAM refuses before reading lr: no perturbation pending */
            CHECK_MSG(b.h.step(b.h.self, P, -0.1f) == SEQ_ERR_INVALID, "%s", fc->name);
            CHECK_MSG(b.h.step(b.h.self, P, NAN) == SEQ_ERR_INVALID, "%s", fc->name);
            CHECK_MSG(b.h.step(b.h.self, P, INFINITY) == SEQ_ERR_INVALID, "%s", fc->name);
            CHECK_MSG(strstr(seq_last_error(), "lr") != NULL, "%s: %s", fc->name, seq_last_error());
        }
        CHECK_MSG(b.h.st->step == 0, "%s: a refused step counted", fc->name);
        box_free(&b);
        memset(&b, 0, sizeof b);
        fc->make(&b, P);
        box_free(&b); /* freed: the object reads as never initialized */
        CHECK_MSG(b.h.step(b.h.self, P, 0.1f) == SEQ_ERR_STATE, "%s", fc->name);
    }
    { /* cfg edits that would change the state's layout */
        opt_box b;
        mk_sgd(&b, P);
        b.u.sgd.cfg.momentum = 0.5f;
        CHECK(seq_sgd_step(&b.u.sgd, P, 0.1f) == SEQ_ERR_STATE && strstr(seq_last_error(), "momentum"));
        box_free(&b);
        mk_adamw(&b, P);
        b.u.adamw.cfg.amsgrad = 1;
        CHECK(seq_adamw_step(&b.u.adamw, P, 0.1f) == SEQ_ERR_STATE && strstr(seq_last_error(), "amsgrad"));
        box_free(&b);
        mk_adafactor_relative(&b, P);
        b.u.adafactor.cfg.beta1 = 0.9f;
        CHECK(seq_adafactor_step(&b.u.adafactor, P, 0.0f) == SEQ_ERR_STATE);
        b.u.adafactor.cfg.beta1 = 0.0f;
        b.u.adafactor.cfg.clip_threshold = 2.0f; /* tuning the rest is fine */
        CHECK(seq_adafactor_step(&b.u.adafactor, P, 0.0f) == SEQ_OK);
        box_free(&b);
    }
    {
        seq_ema e;
        seq_sam s;
        seq_sgd sgd;
        seq_ema_init(&e, P, seq_ema_config_default());
        CHECK(seq_ema_update(&e, flat) == SEQ_ERR_SHAPE && seq_ema_swap(&e, NULL) == SEQ_ERR_INVALID);
        CHECK(seq_ema_copy_to(NULL, P) == SEQ_ERR_INVALID && seq_ema_update(&e, unalloc) == SEQ_ERR_STATE);
        seq_ema_free(&e);
        seq_sgd_init(&sgd, P, seq_sgd_config_default());
        seq_sam_init(&s, P, seq_sgd_as_optim(&sgd), seq_sam_config_default());
        CHECK(seq_sam_perturb(&s, flat) == SEQ_ERR_SHAPE && seq_sam_perturb(NULL, P) == SEQ_ERR_INVALID);
        seq_sam_free(&s);
        seq_sgd_free(&sgd);
    }
    seq_params_free(unalloc);
    seq_params_free(square);
    seq_params_free(flat);
    seq_params_free(P);
}

/* --- learning-rate schedules --------------------------------------------------------- */

typedef float (*sched_fn)(int64_t step);
static float s_warm(int64_t s) { return seq_lr_linear_warmup(s, 10, 1.0f); }
static float s_cos(int64_t s) { return seq_lr_cosine(s, 100, 1.0f, 0.1f, 10); }
static float s_lin(int64_t s) { return seq_lr_linear_decay(s, 100, 1.0f, 0.1f, 10); }
static float s_wsd(int64_t s) { return seq_lr_wsd(s, 100, 1.0f, 0.1f, 0.2f); }
static float s_rex(int64_t s) { return seq_lr_rex(s, 100, 1.0f, 10); }
static float s_isqrt(int64_t s) { return seq_lr_inverse_sqrt(s, 10, 1.0f); }
static seq_lr_infinite_config inf_cfg(void) {
    seq_lr_infinite_config c;
    c.peak = 1.0f;
    c.constant = 0.3f;
    c.min_lr = 0.01f;
    c.warmup = 10;
    c.cooldown = 40;
    c.anneal_start = 100;
    c.anneal = 20;
    return c;
}
static float s_inf(int64_t s) { return seq_lr_infinite(s, inf_cfg()); }

/* Every schedule rises through warmup (steps 0..9), peaks at 1, never rises after, and
 * stays positive until its end. */
static void test_schedule_shapes(void) {
    static const sched_fn fns[] = {s_warm, s_cos, s_lin, s_wsd, s_rex, s_isqrt, s_inf};
    static const char *const names[] = {"warmup", "cosine", "linear", "wsd", "rex", "inverse_sqrt", "infinite"};
    int f;
    int64_t s;
    for (f = 0; f < 7; f++) {
        int rising = 1, falling = 1;
        for (s = 1; s < 10; s++) rising &= fns[f](s) > fns[f](s - 1);
        for (s = 11; s < 150; s++) falling &= fns[f](s) <= fns[f](s - 1);
        CHECK_MSG(rising, "%s must rise during warmup", names[f]);
        CHECK_MSG(falling, "%s must not rise after warmup", names[f]);
        CHECK_NEAR(fns[f](0), 0.1, 1e-6);
        CHECK_NEAR(fns[f](9), 1.0, 1e-6);
        CHECK_NEAR(fns[f](-5), 0.1, 1e-6); /* negative steps count as 0 */
        CHECK_MSG(fns[f](99) > 0.0f, "%s", names[f]);
    }
}

static void test_schedule_values(void) {
    seq_lr_infinite_config ic = inf_cfg();
    CHECK(seq_lr_constant(123, 0.25f) == 0.25f);
    CHECK(s_warm(10) == 1.0f && s_warm(100000) == 1.0f);
    /* cosine and linear: peak at the decay's start, halfway at its middle, min at total */
    CHECK_NEAR(s_cos(10), 1.0, 1e-6);
    CHECK_NEAR(s_cos(55), 0.55, 1e-6);
    CHECK_NEAR(s_cos(100), 0.1, 1e-6);
    CHECK_NEAR(s_cos(1000), 0.1, 1e-6);
    CHECK_NEAR(s_lin(32), 1.0 - 0.9 * 22.0 / 90.0, 1e-6);
    CHECK_NEAR(s_lin(100), 0.1, 1e-6);
    /* WSD: warmup 10, stable to step 79, linear to 0 over the last 20 */
    CHECK(s_wsd(10) == 1.0f && s_wsd(79) == 1.0f && s_wsd(80) == 1.0f);
    CHECK_NEAR(s_wsd(90), 0.5, 1e-6);
    CHECK_NEAR(s_wsd(99), 0.05, 1e-6);
    CHECK(s_wsd(100) == 0.0f && s_wsd(500) == 0.0f);
    CHECK(seq_lr_wsd(0, 100, 1.0f, 0.0f, 0.0f) == 1.0f && seq_lr_wsd(5, 100, 1.0f, NAN, 0.2f) == 1.0f);
    /* REX at half its decay: (1/2) / (3/4); and it stays above linear decay to 0 */
    CHECK_NEAR(s_rex(55), 2.0 / 3.0, 1e-6);
    CHECK(s_rex(100) == 0.0f);
    CHECK(s_rex(30) > seq_lr_linear_decay(30, 100, 1.0f, 0.0f, 10));
    /* inverse square root: peak * sqrt(10 / (step+1)) */
    CHECK_NEAR(s_isqrt(39), 0.5, 1e-6);
    CHECK_NEAR(seq_lr_inverse_sqrt(3, 0, 1.0f), 0.5, 1e-6);
    /* infinite: cooldown midpoint, constant, geometric anneal, floor; no anneal = constant */
    CHECK_NEAR(s_inf(30), 0.65, 1e-6);
    CHECK_NEAR(s_inf(50), 0.3, 1e-6);
    CHECK_NEAR(s_inf(99), 0.3, 1e-6);
    CHECK_NEAR(s_inf(110), 0.3 * sqrt(0.01 / 0.3), 1e-6);
    CHECK_NEAR(s_inf(120), 0.01, 1e-6);
    CHECK_NEAR(s_inf(100000), 0.01, 1e-6);
    ic.anneal_start = -1;
    CHECK_NEAR(seq_lr_infinite(1000000000, ic), 0.3, 1e-6);
    /* degenerate arguments stay finite */
    CHECK(isfinite(seq_lr_cosine(5, 0, 1.0f, 0.0f, 0)) && isfinite(seq_lr_rex(-3, 0, 1.0f, 0)));
    CHECK(isfinite(seq_lr_inverse_sqrt(-3, 0, 1.0f)) && isfinite(seq_lr_wsd(3, -10, 1.0f, 0.5f, 0.5f)));
}

void seq_tests_optim(void) {
    RUN(test_reference_trajectories);
    RUN(test_nonfinite_gradient_changes_nothing);
    RUN(test_sam_failed_second_step_restores);
    RUN(test_sam_analytic_step);
    RUN(test_amsgrad_counterexample);
    RUN(test_state_layouts);
    RUN(test_frugal_blocks);
    RUN(test_ema_batch_scaling);
    RUN(test_ema_power_gamma);
    RUN(test_ema_power_average);
    RUN(test_ema_swap_and_switch);
    RUN(test_init_bad_input);
    RUN(test_step_bad_input);
    RUN(test_schedule_shapes);
    RUN(test_schedule_values);
}
