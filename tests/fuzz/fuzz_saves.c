/* libFuzzer harness: every save format a user may load back. The first input byte picks
 * the loader, the rest is the file:
 *     0 seq_rl_bandit_load   1 seq_rl_linear_load   2 seq_rl_gp_load
 *     3 seq_rl_ac_load       4 seq_rec_model_load   5 seq_safetensors_load (seq_params)
 * A load that succeeds must give an object that works: it makes a decision and takes
 * a reward, acts, or scores, without a sanitizer report; a load that fails must leave
 * nothing to free (bandits) or the target unchanged (agents, params). */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#define SEQ_RL_IMPLEMENTATION
#include "../../seq_rl.h"
#define SEQ_REC_IMPLEMENTATION
#include "../../seq_rec.h"
#include "fuzz.h"
#include "fuzz_model.h"

#define FUZZ_MAX_WORK 4096 /* elements of caller buffers sized by a loaded object */

static void use_bandit(const char *path) {
    seq_rl_bandit b;
    seq_rl_choice c;
    seq_rng rng;
    if (seq_rl_bandit_load(&b, path, NULL) != SEQ_OK) return;
    seq_rng_seed(&rng, 1);
    if (seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK) {
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
    x = b.cfg.dim <= FUZZ_MAX_WORK ? (double *)malloc((size_t)b.cfg.dim * sizeof(double) + 1) : NULL;
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
    if (seq_rl_gp_select(&b, &rng, &c) == SEQ_OK) seq_rl_gp_update(&b, &c, 0.25);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static void (*const use[6])(const char *) = {use_bandit, use_linear, use_gp, use_agent, use_rec_model, use_params};
    const char *path;
    if (size < 1) return 0;
    path = fuzz_write(data + 1, size - 1, ".bin");
    if (!path) return 0;
    use[data[0] % 6](path);
    remove(path);
    return 0;
}
