/* Writes the fuzzers' seed corpora: tiny valid files made by the library's own writers,
 * one folder per harness under the folder given (tests/fuzz/corpus):
 *     cc -std=c99 -O1 -o gen_seeds tests/fuzz/gen_seeds.c -lm && ./gen_seeds tests/fuzz/corpus
 * Harnesses whose first input byte picks a loader or format get that byte prepended.
 * The files are committed; rerun after a format changes. */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#define SEQ_QUANT_IMPLEMENTATION
#include "../../seq_quant.h"
#define SEQ_RL_IMPLEMENTATION
#include "../../seq_rl.h"
#define SEQ_REC_IMPLEMENTATION
#include "../../seq_rec.h"
#include <sys/stat.h>
#include "fuzz.h"
#include "fuzz_model.h"

static const char *out_dir;
static int failures;

static void fail(const char *what) {
    fprintf(stderr, "gen_seeds: %s: %s\n", what, seq_last_error());
    failures++;
}

/* Copies file src to <out_dir>/<harness>/<name>, prefixed by the byte `sel` unless -1. */
static void emit(const char *harness, const char *name, int sel, const char *src) {
    char path[512];
    unsigned char buf[1 << 16];
    size_t n;
    FILE *in = fopen(src, "rb"), *out;
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    out = fopen(path, "wb");
    if (!in || !out) {
        fprintf(stderr, "gen_seeds: cannot copy %s to %s\n", src, path);
        failures++;
    } else {
        if (sel >= 0) fputc(sel, out);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
    remove(src);
}

static void emit_text(const char *harness, const char *name, int sel, const char *text) {
    const char *tmp = fuzz_write((const uint8_t *)text, strlen(text), ".txt");
    if (tmp) emit(harness, name, sel, tmp);
}

static void safetensors_seeds(void) {
    static const float w[6] = {1.0f, -2.0f, 0.5f, 3.25f, -0.125f, 1e-3f}, s = 7.0f;
    static const int64_t ws[2] = {2, 3};
    static const char *const meta[2] = {"format", "pt"};
    static const seq_st_dtype dts[3] = {SEQ_ST_F32, SEQ_ST_F16, SEQ_ST_BF16};
    static const char *const names[3] = {"f32.safetensors", "f16.safetensors", "bf16.safetensors"};
    seq_st_tensor_desc t[2];
    const seq_optim_state *states[1];
    fuzz_model fm;
    const char *tmp = fuzz_path(".safetensors");
    int i;
    t[0].name = "weight"; t[0].ndim = 2; t[0].shape = ws; t[0].data = w;
    t[1].name = "scalar"; t[1].ndim = 0; t[1].shape = NULL; t[1].data = &s;
    for (i = 0; i < 3; i++) {
        if (seq_safetensors_write(tmp, t, 2, meta, 1, dts[i]) != SEQ_OK) fail(names[i]);
        else emit("safetensors", names[i], -1, tmp);
    }
    if (fuzz_model_init(&fm) != SEQ_OK) fail("fuzz_model_init");
    states[0] = &fm.opt.st;
    if (seq_checkpoint_save(tmp, fm.P, states, 1) != SEQ_OK) fail("checkpoint");
    else emit("safetensors", "checkpoint.safetensors", -1, tmp);
    if (seq_safetensors_save(fm.P, tmp) != SEQ_OK) fail("params");
    else emit("saves", "params.safetensors", 5, tmp);
    fuzz_model_free(&fm);
}

/* One file per ggml type the writer knows, a (2, block) tensor each, plus key/values of
 * every scalar type and an array of strings in the first. */
static void gguf_seeds(void) {
    static const char *const strs[2] = {"a", "bc"};
    float x[2 * 256];
    const char *tmp = fuzz_path(".gguf");
    int t, i, first = 1;
    for (i = 0; i < 2 * 256; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (t = 0; t < SEQ_QUANT_TYPE_COUNT; t++) {
        seq_gguf_writer *w = seq_gguf_writer_init(NULL);
        int64_t shape[2];
        char name[64];
        shape[0] = 2;
        shape[1] = seq_quant_type_traits((seq_quant_type)t)->block;
        if (!w) { fail("seq_gguf_writer_init"); return; }
        if (seq_gguf_writer_tensor(w, "t", (seq_quant_type)t, 2, shape, x) != SEQ_OK) {
            seq_gguf_writer_free(w); /* a type without a ggml id: not a GGUF type */
            continue;
        }
        if (first) {
            uint8_t u8 = 7; int32_t i32 = -5; uint64_t u64 = 1u << 20; double f64 = 0.25; float f32 = 1.5f;
            int b = 1;
            const char *str = "seq";
            seq_gguf_writer_kv(w, "general.architecture", SEQ_GGUF_STRING, &str);
            seq_gguf_writer_kv(w, "k.u8", SEQ_GGUF_U8, &u8);
            seq_gguf_writer_kv(w, "k.i32", SEQ_GGUF_I32, &i32);
            seq_gguf_writer_kv(w, "k.u64", SEQ_GGUF_U64, &u64);
            seq_gguf_writer_kv(w, "k.f32", SEQ_GGUF_F32, &f32);
            seq_gguf_writer_kv(w, "k.f64", SEQ_GGUF_F64, &f64);
            seq_gguf_writer_kv(w, "k.bool", SEQ_GGUF_BOOL, &b);
            seq_gguf_writer_kv_array(w, "k.strs", SEQ_GGUF_STRING, strs, 2);
            seq_gguf_writer_kv_array(w, "k.i32s", SEQ_GGUF_I32, &i32, 1);
            first = 0;
        }
        snprintf(name, sizeof name, "%s.gguf", seq_quant_type_name((seq_quant_type)t));
        if (seq_gguf_writer_write(w, tmp) != SEQ_OK) fail(name);
        else emit("gguf", name, -1, tmp);
        seq_gguf_writer_free(w);
    }
}

/* Selector bytes as fuzz_rec_data.c reads them: format in bits 0-1, delimiter in 2-3
 * (tab , space ;), 16: no time column, 32: a rating column, 64: min_rating 3. */
static void rec_data_seeds(void) {
    emit_text("rec_data", "user_item.txt", SEQ_REC_FMT_USER_ITEM, "1 1\n1 2\n1 3\n2 2\n2 4\n3 1\n3 3\n3 4\n");
    emit_text("rec_data", "user_seq.txt", SEQ_REC_FMT_USER_SEQ, "1 1 2 3\n2 2 4 1\nalice 3 1 4\n");
    emit_text("rec_data", "recbole.inter", SEQ_REC_FMT_DELIMITED,
              "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t10\nu1\ti2\t5\nu2\ti1\t7\nu2\ti3\t8\n");
    emit_text("rec_data", "ratings.csv", SEQ_REC_FMT_DELIMITED | 4 | 16 | 32 | 64,
              "user_id,item_id,rating\n1,10,5\n1,11,2\n2,10,4\n2,12,3.5\n");
    emit_text("rec_data", "ratings.dat", SEQ_REC_FMT_MOVIELENS, "1::1193::5::978300760\n1::661::3::978302109\n"
              "2::1193::4::978298413\n2::914::3::978301968\n");
}

static void rl_seeds(void) {
    static const double points[6] = {0.0, 0.0, 0.5, 1.0, 1.0, 0.25};
    static const seq_rl_bandit_kind kinds[4] = {SEQ_RL_BANDIT_UCB1, SEQ_RL_BANDIT_THOMPSON_BETA,
                                                SEQ_RL_BANDIT_EXP3, SEQ_RL_BANDIT_SLIDING_WINDOW_UCB};
    const char *tmp = fuzz_path(".bin");
    seq_rng rng;
    seq_rl_choice c;
    seq_rl_ac *ag;
    int k, r;
    seq_rng_seed(&rng, 5);
    for (k = 0; k < 4; k++) {
        seq_rl_bandit_config cfg = seq_rl_bandit_config_default(kinds[k], 3);
        seq_rl_bandit b;
        char name[64];
        cfg.max_pending = 4;
        cfg.window = 8;
        if (seq_rl_bandit_init(&b, &cfg, NULL) != SEQ_OK) { fail("bandit"); continue; }
        for (r = 0; r < 5; r++)
            if (seq_rl_bandit_select(&b, &rng, &c) == SEQ_OK) seq_rl_bandit_update(&b, &c, 0.2 * r);
        snprintf(name, sizeof name, "bandit_%s.bin", seq_rl_bandit_kind_name(kinds[k]));
        if (seq_rl_bandit_save(&b, tmp) != SEQ_OK) fail(name);
        else emit("saves", name, 0, tmp);
        seq_rl_bandit_free(&b);
    }
    for (k = 0; k < SEQ_RL_LINEAR_KIND_COUNT; k++) {
        seq_rl_linear_config cfg = seq_rl_linear_config_default((seq_rl_linear_kind)k, 2, 3);
        seq_rl_linear b;
        double x[3] = {0.5, -1.0, 0.25};
        cfg.propensity_draws = 4;
        if (seq_rl_linear_init(&b, &cfg, NULL) != SEQ_OK) { fail("linear"); continue; }
        if (seq_rl_linear_select(&b, x, 0, &rng, &c) == SEQ_OK) seq_rl_linear_update(&b, x, &c, 1.0);
        if (seq_rl_linear_save(&b, tmp) != SEQ_OK) fail("linear save");
        else emit("saves", k ? "lints.bin" : "linucb.bin", 1, tmp);
        seq_rl_linear_free(&b);
    }
    for (k = 0; k < SEQ_RL_GP_KIND_COUNT; k++) {
        seq_rl_gp_config cfg = seq_rl_gp_config_default((seq_rl_gp_kind)k, 3, 2, points);
        seq_rl_gp b;
        cfg.propensity_draws = 4;
        if (seq_rl_gp_init(&b, &cfg, NULL) != SEQ_OK) { fail("gp"); continue; }
        if (seq_rl_gp_select(&b, &rng, &c) == SEQ_OK) seq_rl_gp_update(&b, &c, 0.5);
        if (seq_rl_gp_save(&b, tmp) != SEQ_OK) fail("gp save");
        else emit("saves", k ? "irgp_ucb.bin" : "gp_ucb.bin", 2, tmp);
        seq_rl_gp_free(&b);
    }
    ag = fuzz_agent();
    if (!ag || seq_rl_ac_save(ag, tmp) != SEQ_OK) fail("agent");
    else emit("saves", "ppo_agent.safetensors", 3, tmp);
    seq_rl_ac_free(ag);
}

/* The other seq_rl saves, each from its fuzz_model.h object after a little use so that
 * counters, priorities and traces are not all at their initial values. */
static void rl_state_seeds(void) {
    static const float obs[4] = {0.1f, -0.2f, 0.3f, 0.0f}, next[4] = {0.2f, 0.0f, -0.1f, 0.4f};
    const char *tmp = fuzz_path(".bin");
    seq_rl_tabular t;
    seq_rl_dqn *ag;
    seq_rl_grpo *g;
    seq_rl_jsrl j;
    int k;
    for (k = 0; k < 2; k++) {
        seq_rl_replay rb;
        int64_t idx[2] = {0, 2};
        float td[2] = {0.5f, -2.0f};
        int r;
        if (fuzz_replay(&rb, k) != SEQ_OK) { fail("replay"); continue; }
        for (r = 0; r < 4; r++) seq_rl_replay_push(&rb, obs, r % 2, 0.5f * (float)r, next, r == 3);
        seq_rl_replay_update(&rb, idx, td, 2);
        if (seq_rl_replay_save(&rb, tmp) != SEQ_OK) fail("replay save");
        else emit("saves", k ? "replay_prioritized.bin" : "replay_uniform.bin", 6 + k, tmp);
        seq_rl_replay_free(&rb);
    }
    if (fuzz_tabular(&t) != SEQ_OK) fail("tabular");
    else {
        seq_rl_tabular_update(&t, 0, 1, 1.0, 1, 2, 0);
        if (seq_rl_tabular_save(&t, tmp) != SEQ_OK) fail("tabular save");
        else emit("saves", "tabular.bin", 8, tmp);
        seq_rl_tabular_free(&t);
    }
    ag = fuzz_dqn();
    for (k = 0; ag && k < 5; k++) seq_rl_dqn_observe(ag, obs, k % 2, 1.0f, next, k == 4);
    if (!ag || seq_rl_dqn_save(ag, tmp) != SEQ_OK) fail("dqn");
    else emit("saves", "dqn.bin", 9, tmp);
    seq_rl_dqn_free(ag);
    g = fuzz_grpo();
    if (!g || seq_rl_grpo_iterate(g) != SEQ_OK || seq_rl_grpo_save(g, tmp) != SEQ_OK) fail("grpo");
    else emit("saves", "grpo.bin", 10, tmp);
    seq_rl_grpo_free(g);
    if (fuzz_jsrl(&j) != SEQ_OK) fail("jsrl");
    else {
        for (k = 0; k < 4; k++) seq_rl_jsrl_episode(&j, 2.0);
        if (seq_rl_jsrl_save(&j, tmp) != SEQ_OK) fail("jsrl save");
        else emit("saves", "jsrl.bin", 11, tmp);
    }
}

static void rec_model_seed(void) {
    seq_rec_model *m = seq_rec_model_init(fuzz_rec_config(), NULL);
    const char *tmp = fuzz_path(".safetensors");
    if (!m || seq_rec_model_save(m, tmp) != SEQ_OK) fail("rec model");
    else emit("saves", "sasrec.safetensors", 4, tmp);
    seq_rec_model_free(m);
}

/* Graph programs are any bytes: a few deterministic random ones of several lengths. */
static void graph_seeds(void) {
    seq_rng rng;
    int k, i;
    seq_rng_seed(&rng, 9);
    for (k = 0; k < 6; k++) {
        uint8_t prog[512];
        char name[32];
        int n = 32 << (k % 4);
        const char *tmp;
        for (i = 0; i < n; i++) prog[i] = (uint8_t)seq_rng_below(&rng, 256);
        snprintf(name, sizeof name, "prog%d.bin", k);
        tmp = fuzz_write(prog, (size_t)n, ".bin");
        if (tmp) emit("graph", name, -1, tmp);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    safetensors_seeds();
    gguf_seeds();
    rec_data_seeds();
    rl_seeds();
    rl_state_seeds();
    rec_model_seed();
    graph_seeds();
    return failures ? 1 : 0;
}
