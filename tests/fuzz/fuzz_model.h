/* The small model behind the checkpoint and params seeds: shared by the harnesses that
 * load into it and by the seed generator that saves it. Needs seq.h included. */
#ifndef SEQ_FUZZ_MODEL_H
#define SEQ_FUZZ_MODEL_H
typedef struct fuzz_model {
    seq_params *P;
    seq_adamw opt;
} fuzz_model;

/* Parameters "w" (3,4) and "b" (4), an AdamW state that has taken one step. */
static inline seq_status fuzz_model_init(fuzz_model *fm) {
    int64_t ws[2] = {3, 4}, bs[1] = {4};
    seq_rng rng;
    seq_status s;
    seq_rng_seed(&rng, 7);
    memset(fm, 0, sizeof *fm);
    fm->P = seq_params_init(NULL);
    if (!fm->P) return SEQ_ERR_NOMEM;
    if (!seq_params_add(fm->P, "w", 2, ws, seq_init_normal(0.0f, 1.0f)) ||
        !seq_params_add(fm->P, "b", 1, bs, seq_init_constant(0.5f)))
        return seq_last_status();
    s = seq_params_alloc(fm->P, &rng);
    if (s == SEQ_OK) s = seq_adamw_init(&fm->opt, fm->P, seq_adamw_config_default());
    if (s == SEQ_OK) {
        int64_t i;
        for (i = 0; i < fm->P->numel; i++) fm->P->grad[i] = 0.01f * (float)(i + 1);
        s = seq_adamw_step(&fm->opt, fm->P, 1e-3f);
    }
    return s;
}

static inline void fuzz_model_free(fuzz_model *fm) {
    seq_adamw_free(&fm->opt);
    seq_params_free(fm->P);
}

#ifdef SEQ_RL_H
/* The PPO agent the agent seeds were saved from: its parameters' names and shapes are
 * what a load must match (CartPole-sized: 4 observations, 2 actions). */
static inline seq_rl_ac *fuzz_agent(void) {
    seq_rl_ac_config cfg = seq_rl_ac_config_default(SEQ_RL_PPO);
    cfg.hidden = 8;
    cfg.n_steps = 8;
    return seq_rl_ac_init(cfg, 4, 2, 1, 11, NULL);
}
#endif

#ifdef SEQ_REC_H
/* The SASRec model the rec-model seed was saved from (a load rebuilds any config). */
static inline seq_rec_model_config fuzz_rec_config(void) {
    seq_rec_model_config c = seq_rec_model_config_default(SEQ_REC_SASREC, 20);
    c.dim = 8;
    c.max_len = 5;
    c.n_layers = 1;
    c.batch = 4;
    return c;
}
#endif
#endif
