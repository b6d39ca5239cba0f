/* Reliability: allocation-failure injection over every k for four representative
 * workloads, a checkpoint writer killed mid-write, and the non-finite guards of the
 * entry point families not covered by their own suites (docs/reliability.md).
 *
 * The OOM workloads span all headers: the suite has its runner, tests/test_reliability.c,
 * which implements them all. */
#define _POSIX_C_SOURCE 200809L
#include "seq_test.h"
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../seq_quant.h"
#include "../seq_rl.h"
#include "../seq_rec.h"

/* ---- the OOM sweep ---------------------------------------------------------------------
 * SQLite-style: run the workload with allocation k failing, for k = 0, 1, 2 ... until a
 * run makes fewer than k+1 allocations (nothing was injected: it ran whole). Every run
 * must return SEQ_OK or SEQ_ERR_NOMEM and free everything it allocated. A workload that
 * fails after its objects exist retries the failed step without injection inside the
 * run, so "usable afterwards" is checked at every k too. */

typedef seq_status (*oom_workload)(void);

/* The number of injected failures the workload survived; -1 once a check failed. */
static long oom_sweep(const char *what, oom_workload run) {
    long k, live = seq_test_live_blocks;
    for (k = 0;; k++) {
        int injected, failed_before = seq_test_cur_failed;
        seq_status s;
        seq_test_fail_after(k);
        s = run();
        injected = seq_test_alloc_count > k;
        seq_test_fail_never();
        CHECK_MSG(s == SEQ_OK || s == SEQ_ERR_NOMEM, "%s, allocation %ld failing: %s (%s)", what, k,
                  seq_status_str(s), seq_last_error());
        CHECK_MSG(seq_test_live_blocks == live, "%s, allocation %ld failing: %ld blocks leaked", what, k,
                  seq_test_live_blocks - live);
        if (!injected) CHECK_MSG(s == SEQ_OK, "%s fails without injection: %s", what, seq_last_error());
        if (seq_test_cur_failed != failed_before) return -1;
        if (!injected) {
            printf("  OOM sweep: %s survives %ld injected failures\n", what, k);
            return k;
        }
    }
}

/* A step that failed on an injected allocation must succeed when memory is back. */
static seq_status retry_after_nomem(seq_status s, seq_status (*step)(void *), void *job) {
    if (s != SEQ_ERR_NOMEM) return s;
    seq_test_fail_never();
    CHECK_MSG(step(job) == SEQ_OK, "retry after SEQ_ERR_NOMEM: %s", seq_last_error());
    return s;
}

/* --- build + train one step of an LSTM sequence model ---------------------------------- */

typedef struct lstm_job {
    seq_params *P;
    seq_lstm lstm;
    seq_tensor *head; /* (2, 4) */
    seq_adamw opt;
    seq_ctx *ctx;
} lstm_job;

static seq_status lstm_step(void *ud) {
    lstm_job *j = (lstm_job *)ud;
    int64_t xs[3] = {2, 3, 3}, i;
    seq_tensor *x, *y, *out, *target, *loss;
    seq_status s;
    seq_ctx_reset(j->ctx);
    x = seq_tensor_new(j->ctx, SEQ_F32, 3, xs);
    xs[2] = 2;
    target = seq_tensor_new(j->ctx, SEQ_F32, 3, xs);
    if (x && target)
        for (i = 0; i < x->numel; i++) x->data[i] = 0.1f * (float)(i % 7) - 0.3f;
    y = seq_rnn_forward(j->ctx, &j->lstm, x, NULL);         /* (2,3,4) */
    out = seq_linear(j->ctx, y, j->head, NULL);               /* (2,3,2) */
    loss = seq_mse(j->ctx, out, target);
    if ((s = seq_ctx_status(j->ctx)) != SEQ_OK) return s;
    seq_params_zero_grad(j->P);
    if ((s = seq_backward(j->ctx, loss)) != SEQ_OK) return s;
    seq_clip_grad_norm(j->P, 1.0f);
    return seq_adamw_step(&j->opt, j->P, 1e-2f);
}

static seq_status lstm_workload(void) {
    int64_t hs[2] = {2, 4};
    lstm_job j;
    seq_rng rng;
    seq_status s = SEQ_OK;
    memset(&j, 0, sizeof j);
    seq_rng_seed(&rng, 1);
    j.P = seq_params_init(NULL);
    if (!j.P) return seq_last_status();
    if ((s = seq_rnn_init(&j.lstm, j.P, "lstm", seq_lstm_config_default(3, 4))) == SEQ_OK &&
        !(j.head = seq_params_add(j.P, "head", 2, hs, seq_init_xavier_uniform(1.0f))))
        s = seq_last_status();
    if (s == SEQ_OK) s = seq_params_alloc(j.P, &rng);
    if (s == SEQ_OK) s = seq_adamw_init(&j.opt, j.P, seq_adamw_config_default());
    if (s == SEQ_OK && !(j.ctx = seq_ctx_init(NULL))) s = seq_last_status();
    if (s == SEQ_OK) s = retry_after_nomem(lstm_step(&j), lstm_step, &j);
    if (s == SEQ_OK) CHECK(seq_all_finite(j.P->data, j.P->numel));
    seq_ctx_free(j.ctx);
    seq_adamw_free(&j.opt);
    seq_params_free(j.P);
    return s;
}

/* --- open a GGUF file and dequantize every tensor --------------------------------------- */

static const char *const gguf_path = "build/seq_reliability.gguf";

static seq_status gguf_workload(void) {
    seq_gguf *g = seq_gguf_open(gguf_path, NULL);
    float dst[4 * 64];
    int64_t i, n;
    seq_status s = SEQ_OK;
    if (!g) return seq_last_status();
    n = seq_gguf_tensor_count(g);
    for (i = 0; i < n && s == SEQ_OK; i++) {
        const seq_gguf_tensor *t = seq_gguf_tensor_at(g, i);
        s = seq_gguf_read_f32(g, t->name, dst, t->shape[0] * t->shape[1]);
    }
    seq_gguf_close(g);
    return s;
}

static int write_gguf_fixture(void) {
    static const seq_quant_type types[3] = {SEQ_QUANT_Q4_0, SEQ_QUANT_Q8_0, SEQ_QUANT_F32};
    static const char *const names[3] = {"a.q4_0", "b.q8_0", "c.f32"};
    int64_t shape[2] = {4, 64};
    float x[4 * 64];
    seq_gguf_writer *w = seq_gguf_writer_init(NULL);
    int i, ok = w != NULL;
    const char *arch = "seq";
    for (i = 0; i < 4 * 64; i++) x[i] = 0.01f * (float)(i % 50) - 0.2f;
    for (i = 0; i < 3 && ok; i++) ok = seq_gguf_writer_tensor(w, names[i], types[i], 2, shape, x) == SEQ_OK;
    ok = ok && seq_gguf_writer_kv(w, "general.architecture", SEQ_GGUF_STRING, &arch) == SEQ_OK;
    ok = ok && seq_gguf_writer_write(w, gguf_path) == SEQ_OK;
    seq_gguf_writer_free(w);
    return ok;
}

/* --- one SASRec training batch --------------------------------------------------------- */

typedef struct sasrec_job {
    seq_rec_data d;
    seq_rec_split split;
    seq_rec_sampler neg;
    seq_rec_batcher it;
    seq_rec_model *m;
} sasrec_job;

static seq_status sasrec_step(void *ud) {
    sasrec_job *j = (sasrec_job *)ud;
    float loss = 0.0f;
    seq_status s = seq_rec_model_train_epoch(j->m, &j->it, NULL, NULL, &loss);
    if (s == SEQ_OK) CHECK(isfinite(loss));
    return s;
}

static seq_status sasrec_workload(void) {
    /* 6 users, 10 items: one epoch is one batch of every user */
    static const int64_t off[7] = {0, 4, 7, 12, 15, 18, 22};
    static const int32_t items[22] = {1, 2, 3, 4, 2, 5, 6, 7, 8, 9, 10, 1, 3, 5, 7, 2, 4, 6, 8, 9, 10, 3};
    seq_rec_model_config cfg = seq_rec_model_config_default(SEQ_REC_SASREC, 10);
    sasrec_job j;
    seq_status s;
    cfg.dim = 8;
    cfg.max_len = 4;
    cfg.n_layers = 1;
    cfg.batch = 8;
    memset(&j, 0, sizeof j);
    s = seq_rec_data_from_sequences(&j.d, 6, 10, off, items, NULL, NULL);
    if (s == SEQ_OK) s = seq_rec_split_leave_one_out(&j.split, &j.d, NULL);
    if (s == SEQ_OK) s = seq_rec_sampler_init(&j.neg, &j.d, &j.split, SEQ_REC_NEG_UNIFORM, 0, NULL);
    if (s == SEQ_OK && !(j.m = seq_rec_model_init(cfg, NULL))) s = seq_last_status();
    if (s == SEQ_OK) s = seq_rec_batcher_init(&j.it, &j.d, &j.split, &j.neg, seq_rec_model_batch_config(j.m), NULL);
    if (s == SEQ_OK) s = retry_after_nomem(sasrec_step(&j), sasrec_step, &j);
    seq_rec_batcher_free(&j.it);
    seq_rec_model_free(j.m);
    seq_rec_sampler_free(&j.neg);
    seq_rec_split_free(&j.split);
    seq_rec_data_free(&j.d);
    return s;
}

/* --- one PPO iteration (rollout, GAE, clipped update) on CartPole ----------------------- */

typedef struct ppo_job {
    seq_rl_vec_env v;
    seq_rl_ac *ag;
} ppo_job;

static seq_status ppo_step(void *ud) {
    ppo_job *j = (ppo_job *)ud;
    return seq_rl_ac_iterate(j->ag, &j->v);
}

static seq_status ppo_workload(void) {
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    seq_rl_env proto;
    ppo_job j;
    seq_status s;
    int have_env;
    cfg.n_steps = 8;
    cfg.epochs = 2;
    cfg.minibatches = 2;
    cfg.hidden = 8;
    memset(&j, 0, sizeof j);
    s = seq_rl_env_init(&proto, SEQ_RL_ENV_CARTPOLE, 1);
    if (s == SEQ_OK) s = seq_rl_vec_env_init(&j.v, &proto, 2, 3, NULL);
    have_env = s == SEQ_OK;
    if (s == SEQ_OK && !(j.ag = seq_rl_ac_init(cfg, 4, 2, 2, 5, NULL))) s = seq_last_status();
    if (s == SEQ_OK) s = retry_after_nomem(ppo_step(&j), ppo_step, &j);
    seq_rl_ac_free(j.ag);
    if (have_env) seq_rl_vec_env_free(&j.v);
    return s;
}

static void test_oom_lstm_train_step(void) { CHECK(oom_sweep("LSTM build + train step", lstm_workload) > 0); }

static void test_oom_gguf_load(void) {
    CHECK(write_gguf_fixture());
    CHECK(oom_sweep("GGUF load", gguf_workload) > 0);
    remove(gguf_path);
}

static void test_oom_sasrec_batch(void) { CHECK(oom_sweep("SASRec batch", sasrec_workload) > 0); }

static void test_oom_ppo_update(void) { CHECK(oom_sweep("PPO update", ppo_workload) > 0); }

/* ---- a checkpoint writer killed mid-write --------------------------------------------- */

#define CKPT_DIR "build"
#define CKPT_NAME "seq_reliability_ckpt.safetensors"
static const char *const ckpt_dir = CKPT_DIR, *const ckpt_name = CKPT_NAME, *const ckpt_path = CKPT_DIR "/" CKPT_NAME;

/* A model big enough that its write takes a while (1 MiB of parameters plus 2 of AdamW
 * moments), every value derived from `value`. */
typedef struct ckpt_model {
    seq_params *P;
    seq_adamw opt;
} ckpt_model;

static int ckpt_model_init(ckpt_model *m, float value) {
    int64_t shape[2] = {256, 1024}, i;
    memset(m, 0, sizeof *m);
    m->P = seq_params_init(NULL);
    if (!m->P || !seq_params_add(m->P, "w", 2, shape, seq_init_constant(value)) || seq_params_alloc(m->P, NULL) != SEQ_OK ||
        seq_adamw_init(&m->opt, m->P, seq_adamw_config_default()) != SEQ_OK)
        return 0;
    for (i = 0; i < m->opt.st.numel; i++) m->opt.st.buf[i] = value * 0.5f + (float)(i & 15);
    m->opt.st.step = (int64_t)(value * 10.0f);
    return 1;
}

static void ckpt_model_free(ckpt_model *m) {
    seq_adamw_free(&m->opt);
    seq_params_free(m->P);
}

static seq_status ckpt_save(const ckpt_model *m) {
    const seq_optim_state *st[1];
    st[0] = &m->opt.st;
    return seq_checkpoint_save(ckpt_path, m->P, st, 1);
}

/* The temporary file a writer of ckpt_path has open, if any: its path into buf. */
static int find_temp(char *buf, size_t cap, off_t *size) {
    DIR *dir = opendir(ckpt_dir);
    struct dirent *e;
    struct stat sb;
    size_t n = strlen(ckpt_name);
    int found = 0;
    if (!dir) return 0;
    while (!found && (e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, ckpt_name, n) != 0 || strncmp(e->d_name + n, ".tmp.", 5) != 0) continue;
        snprintf(buf, cap, "%s/%s", ckpt_dir, e->d_name);
        found = stat(buf, &sb) == 0;
        if (found) *size = sb.st_size;
    }
    closedir(dir);
    return found;
}

/* Loads ckpt_path into a fresh model and says whether it is bit-exactly `value`'s. */
static int ckpt_loads_as(float value, const char *path) {
    ckpt_model want, got;
    seq_optim_state *st[1];
    int same = 0;
    if (ckpt_model_init(&want, value) && ckpt_model_init(&got, 0.0f)) {
        st[0] = &got.opt.st;
        same = seq_checkpoint_load(path, got.P, st, 1) == SEQ_OK &&
               memcmp(want.P->data, got.P->data, (size_t)want.P->numel * sizeof(float)) == 0 &&
               memcmp(want.opt.st.buf, got.opt.st.buf, (size_t)want.opt.st.numel * sizeof(float)) == 0 &&
               got.opt.st.step == want.opt.st.step;
    }
    ckpt_model_free(&want);
    ckpt_model_free(&got);
    return same;
}

/* The previous checkpoint (value 1) is on disk; a child process saves value 2 over it
 * and is SIGKILLed as soon as its temporary file holds part of the data (10 s at most). The path must
 * still load bit-exactly as value 1, the partial temporary must be refused by the loader
 * (so it can never pass for a checkpoint), and the next save must succeed. */
static void test_checkpoint_killed_mid_write(void) {
    ckpt_model m, next;
    char tmp[512];
    int attempt, killed_mid_write = 0;
    if (!ckpt_model_init(&m, 1.0f) || ckpt_save(&m) != SEQ_OK || !ckpt_model_init(&next, 2.0f)) {
        CHECK_MSG(0, "first checkpoint: %s", seq_last_error());
        ckpt_model_free(&m);
        return;
    }
    for (attempt = 0; attempt < 5 && !killed_mid_write; attempt++) {
        off_t size = 0;
        int status, polls;
        struct timespec pause = {0, 100000};
        pid_t pid;
        fflush(stdout);
        /* the model is built before the fork: the child only writes (OpenMP is not fork-safe) */
        pid = fork();
        if (pid == 0)
            for (;;) ckpt_save(&next);
        CHECK(pid > 0);
        if (pid < 0) break;
        for (polls = 0; polls < 100000 && !(find_temp(tmp, sizeof tmp, &size) && size > 4096); polls++)
            nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (ckpt_loads_as(1.0f, ckpt_path)) {
            killed_mid_write = find_temp(tmp, sizeof tmp, &size);
            if (killed_mid_write) CHECK_MSG(!ckpt_loads_as(2.0f, tmp), "the partial %s loads", tmp);
        } else {
            /* the child completed a save before the kill: then the file is value 2, whole */
            CHECK_MSG(ckpt_loads_as(2.0f, ckpt_path), "attempt %d: %s is neither checkpoint", attempt, ckpt_path);
            CHECK(ckpt_save(&m) == SEQ_OK);
        }
        while (find_temp(tmp, sizeof tmp, &size)) remove(tmp);
    }
    CHECK_MSG(killed_mid_write, "no kill landed mid-write in %d attempts", attempt);
    CHECK(ckpt_save(&next) == SEQ_OK && ckpt_loads_as(2.0f, ckpt_path)); /* the next save works */
    ckpt_model_free(&m);
    ckpt_model_free(&next);
    remove(ckpt_path);
}

/* ---- non-finite guards -------------------------------------------------------------------
 * The families whose own suites do not feed them NaN/Inf (docs/reliability.md lists
 * every family and the test that covers it). */

/* seq_clip_grad_norm and seq_grad_norm report a non-finite norm and scale nothing, so
 * the optimizer step after them sees the bad gradient and refuses it. */
static void test_clip_grad_norm_nonfinite(void) {
    int64_t shape[1] = {4};
    seq_params *P = seq_params_init(NULL);
    seq_adamw opt;
    CHECK(P && seq_params_add(P, "w", 1, shape, seq_init_zeros()) && seq_params_alloc(P, NULL) == SEQ_OK);
    CHECK(seq_adamw_init(&opt, P, seq_adamw_config_default()) == SEQ_OK);
    P->grad[0] = 100.0f;
    P->grad[1] = NAN;
    CHECK(isnan(seq_clip_grad_norm(P, 1.0f)) && P->grad[0] == 100.0f && isnan(seq_grad_norm(P)));
    CHECK(seq_adamw_step(&opt, P, 1e-3f) == SEQ_ERR_NUMERIC && P->data[0] == 0.0f);
    P->grad[1] = -INFINITY;
    CHECK(isinf(seq_clip_grad_norm(P, 1.0f)) && P->grad[0] == 100.0f && isinf(seq_grad_norm(P)));
    P->grad[1] = 0.0f;
    CHECK(seq_clip_grad_norm(P, 1.0f) == 100.0f && P->grad[0] == 1.0f);
    seq_adamw_free(&opt);
    seq_params_free(P);
}

/* The training-loop pattern: a NaN gradient makes the step refuse, so the weight EMA
 * updated after it averages unchanged, finite weights and stays finite. */
static void test_ema_after_skipped_step(void) {
    int64_t shape[1] = {4};
    seq_params *P = seq_params_init(NULL);
    seq_adamw opt;
    seq_ema ema;
    int64_t i;
    CHECK(P && seq_params_add(P, "w", 1, shape, seq_init_constant(1.0f)) && seq_params_alloc(P, NULL) == SEQ_OK);
    CHECK(seq_adamw_init(&opt, P, seq_adamw_config_default()) == SEQ_OK);
    CHECK(seq_ema_init(&ema, P, seq_ema_config_default()) == SEQ_OK);
    for (i = 0; i < 4; i++) P->grad[i] = i == 2 ? NAN : 0.5f;
    CHECK(seq_adamw_step(&opt, P, 0.1f) == SEQ_ERR_NUMERIC);
    CHECK(seq_ema_update(&ema, P) == SEQ_OK);
    CHECK(seq_all_finite(ema.st.buf, 4) && ema.st.buf[2] == 1.0f);
    seq_ema_free(&ema);
    seq_adamw_free(&opt);
    seq_params_free(P);
}

void seq_tests_reliability(void) {
    RUN(test_oom_lstm_train_step);
    RUN(test_oom_gguf_load);
    RUN(test_oom_sasrec_batch);
    RUN(test_oom_ppo_update);
    RUN(test_checkpoint_killed_mid_write);
    RUN(test_clip_grad_norm_nonfinite);
    RUN(test_ema_after_skipped_step);
}
