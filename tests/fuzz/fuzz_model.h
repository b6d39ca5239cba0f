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

/* The small objects behind the other seq_rl seeds; a load must match their sizes. */
static inline seq_status fuzz_replay(seq_rl_replay *rb, int prioritized) {
    seq_rl_replay_config c = seq_rl_replay_config_default(6, 3, 2); /* capacity 6: leaves padded to 8 */
    c.prioritized = prioritized;
    return seq_rl_replay_init(rb, c, NULL);
}

static inline seq_status fuzz_tabular(seq_rl_tabular *t) { /* traces too: SARSA(lambda) */
    return seq_rl_tabular_init(t, seq_rl_tabular_config_default(SEQ_RL_SARSA_LAMBDA), 5, 3, NULL);
}

static inline seq_rl_dqn *fuzz_dqn(void) { /* trains from the 4th observed step on */
    seq_rl_dqn_config cfg = seq_rl_dqn_config_default();
    cfg.n_hidden = 1, cfg.hidden[0] = 8;
    cfg.buffer_size = 16, cfg.batch_size = 4, cfg.learning_starts = 3, cfg.train_freq = 1, cfg.target_freq = 2;
    cfg.total_steps = 100;
    return seq_rl_dqn_init(cfg, 4, 2, 13, NULL);
}

static inline seq_rl_grpo *fuzz_grpo(void) { /* copy 2 digits of 3, 2 prompts x 2 answers */
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_seq_task task;
    if (seq_rl_seq_task_builtin(&task, SEQ_RL_TASK_COPY, 3, 2, 1) != SEQ_OK) return NULL;
    cfg.hidden = 8, cfg.prompts = 2, cfg.group = 2, cfg.epochs = 1;
    return seq_rl_grpo_init(cfg, &task, 17, NULL);
}

static inline int64_t fuzz_guide(void *ud, const float *obs, int64_t env) {
    (void)ud, (void)obs;
    return env % 2;
}

static inline seq_status fuzz_jsrl(seq_rl_jsrl *j) {
    seq_rl_jsrl_config cfg = seq_rl_jsrl_config_default(12, 1.0);
    cfg.stages = 4, cfg.window = 3;
    return seq_rl_jsrl_init(j, cfg, fuzz_guide, NULL);
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
