/* libFuzzer harness: every save format a user may load back. The first input byte picks
 * the loader (its low 7 bits modulo 12), the rest is the file:
 *     0 seq_rl_bandit_load   1 seq_rl_linear_load   2 seq_rl_gp_load
 *     3 seq_rl_ac_load       4 seq_rec_model_load   5 seq_safetensors_load (seq_params)
 *     6 seq_rl_replay_load (uniform)                7 seq_rl_replay_load (prioritized)
 *     8 seq_rl_tabular_load  9 seq_rl_dqn_load     10 seq_rl_grpo_load    11 seq_rl_jsrl_load
 * A load that succeeds must give an object that works: it makes a decision and takes
 * a reward, acts, scores, samples and reprioritizes, trains a step, or moves its
 * curriculum, without a sanitizer report; a load that fails must leave nothing to free
 * (bandits) or the target unchanged (every other loader: the objects of fuzz_model.h,
 * compared by a hash of their state). seq_rl container files get their checksum
 * recomputed (fuzz_reseal) unless the selector byte's top bit is set. */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#define SEQ_RL_IMPLEMENTATION
#include "../../seq_rl.h"
#define SEQ_REC_IMPLEMENTATION
#include "../../seq_rec.h"
#include "fuzz.h"
#include "fuzz_model.h"

#define FUZZ_MAX_WORK 4096 /* elements of caller buffers sized by a loaded object */
/* A file may ask for any number of propensity draws per decision (a config value the
 * user chose, honoured as saved): selects with more than this are skipped, else one
 * input could spend hours drawing. */
#define FUZZ_MAX_DRAWS 4096

static void use_bandit(const char *path) {
    seq_rl_bandit b;
    seq_rl_choice c;
    seq_rng rng;
    if (seq_rl_bandit_load(&b, path, NULL) != SEQ_OK) return;
    seq_rng_seed(&rng, 1);
    if (b.cfg.propensity_draws <= FUZZ_MAX_DRAWS && seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK) {
        seq_rl_bandit_update(&b, &c, 0.5);
        seq_rl_bandit_mean(&b, c.arm);
    }
    seq_rl_bandit_free(&b);
}

static void use_linear(const char *path) {
    seq_rl_linear b;
    seq_rl_choice c;
    seq_rng rng;
    double *x;
    int64_t i;
    if (seq_rl_linear_load(&b, path, NULL) != SEQ_OK) return;
    seq_rng_seed(&rng, 1);
    x = b.cfg.dim <= FUZZ_MAX_WORK && b.cfg.propensity_draws <= FUZZ_MAX_DRAWS ? (double *)malloc((size_t)b.cfg.dim * sizeof(double) + 1) : NULL;
    if (x) {
        for (i = 0; i < b.cfg.dim; i++) x[i] = 0.1 * (double)i;
        if (seq_rl_linear_select(&b, x, 0, &rng, &c) == SEQ_OK) seq_rl_linear_update(&b, x, &c, 1.0);
        free(x);
    }
    seq_rl_linear_free(&b);
}

static void use_gp(const char *path) {
    seq_rl_gp b;
    seq_rl_choice c;
    seq_rng rng;
    if (seq_rl_gp_load(&b, path, NULL) != SEQ_OK) return;
    seq_rng_seed(&rng, 1);
    if (b.cfg.propensity_draws <= FUZZ_MAX_DRAWS && seq_rl_gp_select(&b, &rng, &c) == SEQ_OK)
        seq_rl_gp_update(&b, &c, 0.25);
    seq_rl_gp_free(&b);
}

static void use_agent(const char *path) {
    static const float obs[4] = {0.01f, -0.02f, 0.03f, 0.0f};
    seq_rl_ac *ag = fuzz_agent();
    float before, prob;
    if (!ag) abort();
    before = ag->P->data[0];
    if (seq_rl_ac_load(ag, path) != SEQ_OK && ag->P->data[0] != before) abort();
    seq_rl_ac_act(ag, obs, NULL, &prob);
    seq_rl_ac_free(ag);
}

static void use_rec_model(const char *path) {
    seq_rec_model *m = seq_rec_model_load(path, NULL);
    int32_t *ids;
    float *out;
    if (!m) return;
    if (m->cfg.max_len <= FUZZ_MAX_WORK && m->cfg.dim <= FUZZ_MAX_WORK) {
        ids = (int32_t *)calloc((size_t)m->cfg.max_len, sizeof(int32_t));
        out = (float *)malloc((size_t)m->cfg.dim * sizeof(float));
        if (ids && out) {
            ids[m->cfg.max_len - 1] = 1;
            seq_rec_model_represent(m, ids, NULL, 1, out);
        }
        free(ids);
        free(out);
    }
    seq_rec_model_free(m);
}

static void use_params(const char *path) {
    fuzz_model fm;
    float before;
    if (fuzz_model_init(&fm) != SEQ_OK) abort();
    before = fm.P->data[0];
    if (seq_safetensors_load(fm.P, path) != SEQ_OK && fm.P->data[0] != before) abort();
    fuzz_model_free(&fm);
}

/* FNV-1a over n bytes, chained through h: a fingerprint of an object's state. */
static uint64_t fuzz_hash(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211u;
    return h;
}
#define FUZZ_HASH0 14695981039346656037u

static uint64_t replay_hash(const seq_rl_replay *rb) {
    int64_t C = rb->cfg.capacity, D = rb->cfg.obs_dim;
    uint64_t h = fuzz_hash(FUZZ_HASH0, &rb->size, sizeof rb->size);
    h = fuzz_hash(h, &rb->next, sizeof rb->next);
    h = fuzz_hash(h, &rb->max_priority, sizeof rb->max_priority);
    h = fuzz_hash(h, rb->obs, (size_t)(2 * C * D) * sizeof(float));
    h = fuzz_hash(h, rb->rewards, (size_t)C * sizeof(float));
    h = fuzz_hash(h, rb->actions, (size_t)C * sizeof(int32_t));
    h = fuzz_hash(h, rb->terminated, (size_t)C);
    return rb->sum_tree ? fuzz_hash(h, rb->sum_tree, (size_t)(4 * rb->leaves) * sizeof(double)) : h;
}

/* Samples a batch, reprioritizes it by made-up TD errors, pushes one transition and
 * samples again. */
static void use_replay(const char *path, int prioritized) {
    static const float obs[3] = {0.5f, -1.0f, 2.0f};
    seq_rl_replay rb;
    seq_rl_batch b;
    seq_rng rng;
    float td[4];
    uint64_t before;
    int64_t j;
    if (fuzz_replay(&rb, prioritized) != SEQ_OK || seq_rl_batch_init(&b, 4, 3, NULL) != SEQ_OK) abort();
    seq_rng_seed(&rng, 3);
    before = replay_hash(&rb);
    if (seq_rl_replay_load(&rb, path) != SEQ_OK && replay_hash(&rb) != before) abort();
    if (seq_rl_replay_sample(&rb, 4, 0.4, &rng, &b) == SEQ_OK) {
        for (j = 0; j < b.n; j++) td[j] = 0.25f * (float)j - b.rewards[j];
        seq_rl_replay_update(&rb, b.idx, td, b.n);
    }
    if (seq_rl_replay_push(&rb, obs, 1, 1.0f, obs, 0) != SEQ_OK) abort();
    if (seq_rl_replay_sample(&rb, 4, 1.0, &rng, &b) != SEQ_OK) abort();
    seq_rl_batch_free(&b);
    seq_rl_replay_free(&rb);
}
static void use_replay_uniform(const char *path) { use_replay(path, 0); }
static void use_replay_prioritized(const char *path) { use_replay(path, 1); }

static uint64_t tabular_hash(const seq_rl_tabular *t) {
    int64_t n = t->n_states * t->n_actions;
    uint64_t h = fuzz_hash(FUZZ_HASH0, &t->cfg.alpha, sizeof t->cfg.alpha);
    h = fuzz_hash(h, &t->cfg.epsilon, sizeof t->cfg.epsilon);
    h = fuzz_hash(h, &t->cfg.q_init, sizeof t->cfg.q_init);
    h = fuzz_hash(h, &t->updates, sizeof t->updates);
    return fuzz_hash(h, t->q, (size_t)(2 * n) * sizeof(double)); /* the table and its traces */
}

/* Acts in every state, greedily and exploring, and learns one step. */
static void use_tabular(const char *path) {
    seq_rl_tabular t;
    seq_rng rng;
    uint64_t before;
    int64_t s, a = 0;
    if (fuzz_tabular(&t) != SEQ_OK) abort();
    seq_rng_seed(&rng, 4);
    before = tabular_hash(&t);
    if (seq_rl_tabular_load(&t, path) != SEQ_OK && tabular_hash(&t) != before) abort();
    for (s = 0; s < t.n_states; s++) {
        double p;
        if (seq_rl_tabular_act(&t, s, NULL, &p) < 0 || (a = seq_rl_tabular_act(&t, s, &rng, &p)) < 0) abort();
        seq_rl_tabular_value(&t, s);
    }
    seq_rl_tabular_update(&t, 0, a, 1.0, 1, a, 0);
    seq_rl_tabular_end_episode(&t);
    seq_rl_tabular_free(&t);
}

static uint64_t dqn_hash(const seq_rl_dqn *ag) {
    uint64_t h = fuzz_hash(FUZZ_HASH0, ag->rng.s, sizeof ag->rng.s);
    h = fuzz_hash(h, &ag->steps, sizeof ag->steps);
    h = fuzz_hash(h, ag->recent, sizeof ag->recent);
    h = fuzz_hash(h, ag->P->data, (size_t)ag->P->numel * sizeof(float));
    h = fuzz_hash(h, ag->T->data, (size_t)ag->T->numel * sizeof(float));
    return fuzz_hash(h, ag->opt.st.buf, (size_t)ag->opt.st.numel * sizeof(float));
}

/* Acts greedily and exploring, then observes enough transitions to train and move the
 * target network. */
static void use_dqn(const char *path) {
    static const float obs[4] = {0.01f, -0.02f, 0.03f, 0.0f}, next[4] = {0.02f, 0.0f, -0.01f, 0.05f};
    seq_rl_dqn *ag = fuzz_dqn();
    seq_rng rng;
    uint64_t before;
    double p;
    int k;
    if (!ag) abort();
    seq_rng_seed(&rng, 5);
    before = dqn_hash(ag);
    if (seq_rl_dqn_load(ag, path) != SEQ_OK && dqn_hash(ag) != before) abort();
    if (seq_rl_dqn_act(ag, obs, NULL, &p) < 0 || seq_rl_dqn_act(ag, obs, &rng, &p) < 0) abort();
    seq_rl_dqn_epsilon(ag);
    seq_rl_dqn_mean_return(ag);
    for (k = 0; k < 5; k++) seq_rl_dqn_observe(ag, obs, k % 2, 1.0f, next, k == 4);
    seq_rl_dqn_free(ag);
}

static uint64_t grpo_hash(const seq_rl_grpo *g) {
    uint64_t h = fuzz_hash(FUZZ_HASH0, g->rng.s, sizeof g->rng.s);
    h = fuzz_hash(h, &g->iterations, sizeof g->iterations);
    h = fuzz_hash(h, g->P->data, (size_t)g->P->numel * sizeof(float));
    h = fuzz_hash(h, g->P_ref->data, (size_t)g->P_ref->numel * sizeof(float));
    return fuzz_hash(h, g->opt.st.buf, (size_t)g->opt.st.numel * sizeof(float));
}

/* Answers greedily and sampling, then runs one training iteration. */
static void use_grpo(const char *path) {
    static const int32_t prompt[4] = {0, 1, 2, 2};
    seq_rl_grpo *g = fuzz_grpo();
    int32_t answer[4];
    seq_rng rng;
    uint64_t before;
    if (!g) abort();
    seq_rng_seed(&rng, 6);
    before = grpo_hash(g);
    if (seq_rl_grpo_load(g, path) != SEQ_OK && grpo_hash(g) != before) abort();
    seq_rl_grpo_answer(g, prompt, 2, NULL, answer);
    seq_rl_grpo_answer(g, prompt, 2, &rng, answer);
    seq_rl_grpo_iterate(g);
    seq_rl_grpo_free(g);
}

/* Asks when the guide acts and records episodes until the curriculum moves. */
static void use_jsrl(const char *path) {
    seq_rl_jsrl j, before;
    int k;
    if (fuzz_jsrl(&j) != SEQ_OK) abort();
    memcpy(&before, &j, sizeof j);
    if (seq_rl_jsrl_load(&j, path) != SEQ_OK && memcmp(&before, &j, sizeof j) != 0) abort();
    seq_rl_jsrl_guides(&j, 0);
    seq_rl_jsrl_guides(&j, j.h);
    for (k = 0; k < 2 * SEQ_RL_JSRL_MAX_WINDOW; k++) seq_rl_jsrl_episode(&j, 2.0);
}

/* The seq_rl container ends in a CRC-32 of everything before it: a mutated file would
 * almost never get past that check to the field parsers, so the harness re-seals it
 * (little-endian, as the writer puts it) unless the selector's top bit asks for the
 * bytes as they are. */
static void fuzz_reseal(uint8_t *file, size_t n) {
    uint32_t crc;
    int k;
    if (n < 4) return;
    crc = seq_rl_crc32(0, file, n - 4);
    for (k = 0; k < 4; k++) file[n - 4 + k] = (uint8_t)(crc >> (8 * k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static void (*const use[12])(const char *) = {use_bandit,  use_linear, use_gp,  use_agent,
                                                  use_rec_model, use_params, use_replay_uniform,
                                                  use_replay_prioritized, use_tabular, use_dqn,
                                                  use_grpo,    use_jsrl};
    static const uint8_t container[12] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1}; /* seq_rl_save files */
    const char *path;
    uint8_t *file;
    int sel;
    if (size < 1) return 0;
    sel = (data[0] & 0x7f) % 12;
    file = (uint8_t *)malloc(size);
    if (!file) return 0;
    memcpy(file, data + 1, size - 1);
    if (container[sel] && !(data[0] & 0x80)) fuzz_reseal(file, size - 1);
    path = fuzz_write(file, size - 1, ".bin");
    free(file);
    if (!path) return 0;
    use[sel](path);
    remove(path);
    return 0;
}
