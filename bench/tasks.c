#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* Synthetic capability tasks: what each sequence layer of seq.h can learn.
 *   selective copying  (Mamba, Gu & Dao 2023, sec. 4.1.1): 16 data tokens scattered among
 *                      blanks in a region (256 in the paper), then 16 markers; at the markers
 *                      the model outputs the data tokens in order: content-dependent selection.
 *   induction heads    (H3, Fu et al. 2023; Mamba): random tokens, a special token followed by
 *                      a target somewhere, the special token again at the end: recall the target.
 *   parity, Z5 sums    (DeltaProduct, Siems et al. 2025; Grazzi et al. 2025): the running parity
 *                      of bits and the running sum mod 5, scored at every position; tested at
 *                      the train length and 2x, 4x longer (state tracking that must extrapolate).
 * Every layer runs in the same model (examples/layer_zoo.h: embedding, pre-norm residual
 * blocks of mixer + MLP, head), trained with AdamW on fresh random batches, and is scored
 * on 512 fresh sequences per length: token accuracy on the scored positions.
 *   build/bench_tasks            every layer on shorter tasks (selective copying over 64
 *                                positions, induction at 64, parity and Z5 trained at 32
 *                                and tested at 32, 64, 128): about 20 minutes on one core
 *   build/bench_tasks --full     the papers' lengths: selective copying over 256 positions,
 *                                induction at 128, state tracking trained at 64 and tested
 *                                at 64, 128, 256 (hours for every layer; pick with --layer)
 *   build/bench_tasks --quick    a smoke run (4 layers, 100 steps; 275 s on a busy machine)
 *   --task NAME[,NAME]  --layer NAME[,NAME] (or all)  --steps N  --seed S
 *   --cooldown F       the fraction of steps the WSD schedule spends decaying (0.2)
 *   --checkpoint PATH  save the run (parameters, AdamW state, step, rng) to PATH every
 *                      100 steps, and resume from it when it exists: one task and layer
 * Before training it checks the generators and that every layer's streaming step API gives
 * the logits of its full-sequence forward; it exits non-zero when a check fails or when
 * Mamba, in a --full run, stays below 95% on selective copying. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"
#include "../examples/layer_zoo.h"

/* --- the tasks ---------------------------------------------------------------------- */

enum { SC_DATA = 16, SC_BLANK = 0, SC_MARKER = 1, SC_VOCAB = 16, IH_VOCAB = 16, IH_SPECIAL = 0 };

/* One row of length T: ids (T) and targets (T), -1 where a position is not scored. */
typedef void (*task_gen_fn)(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets);

/* T - 16 positions with 16 data tokens (values 2..15) at distinct random positions, blanks
 * elsewhere, then 16 markers whose targets are the data tokens in order. */
static void gen_selective_copy(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets) {
    const int64_t L = T - SC_DATA;
    int64_t t, placed = 0;
    for (t = 0; t < T; t++) {
        ids[t] = t < L ? SC_BLANK : SC_MARKER;
        targets[t] = -1;
    }
    /* selection sampling: each position keeps a data token with probability need / left,
     * which gives 16 uniformly chosen positions in order */
    for (t = 0; t < L; t++)
        if (seq_rng_below(rng, (uint64_t)(L - t)) < (uint64_t)(SC_DATA - placed)) {
            ids[t] = 2 + (int32_t)seq_rng_below(rng, SC_VOCAB - 2);
            targets[L + placed++] = ids[t];
        }
}

/* Tokens 1..15; the special token 0 at a random p <= T-3 followed by the target, and again
 * at T-1, where the target is scored. */
static void gen_induction(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets) {
    int64_t t, p = (int64_t)seq_rng_below(rng, (uint64_t)(T - 2));
    for (t = 0; t < T; t++) {
        ids[t] = 1 + (int32_t)seq_rng_below(rng, IH_VOCAB - 1);
        targets[t] = -1;
    }
    ids[p] = IH_SPECIAL;
    ids[T - 1] = IH_SPECIAL;
    targets[T - 1] = ids[p + 1];
}

/* Running sum mod m of tokens 0..m-1, scored at every position. */
static void gen_running_mod(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets, int32_t m) {
    int64_t t;
    int32_t acc = 0;
    for (t = 0; t < T; t++) {
        ids[t] = (int32_t)seq_rng_below(rng, (uint64_t)m);
        acc = (acc + ids[t]) % m;
        targets[t] = acc;
    }
}
static void gen_parity(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets) {
    gen_running_mod(rng, T, ids, targets, 2);
}
static void gen_mod5(seq_rng *rng, int64_t T, int32_t *ids, int32_t *targets) {
    gen_running_mod(rng, T, ids, targets, 5);
}

typedef struct task {
    const char *name;
    task_gen_fn gen;
    int64_t vocab;
    int64_t train_len, test_lens[3]; /* test lengths: 0 ends the list */
    int64_t batch, steps;
} task;

/* Every layer runs in the same 2-block model of width 64, AdamW at this peak rate. */
enum { N_TASKS = 4, D_MODEL = 64, N_LAYERS = 2 };
static const float PEAK_LR = 3e-3f;

/* The default run: every layer on shorter versions of the tasks (~20 min on one core). */
static const task default_tasks[N_TASKS] = {
    {"selective_copy", gen_selective_copy, SC_VOCAB, 64 + SC_DATA, {64 + SC_DATA, 0, 0}, 32, 400},
    {"induction", gen_induction, IH_VOCAB, 64, {64, 0, 0}, 32, 400},
    {"parity", gen_parity, 2, 32, {32, 64, 128}, 32, 300},
    {"mod5", gen_mod5, 5, 32, {32, 64, 128}, 32, 300},
};
/* --full: the papers' lengths (selective copying over 256 positions), hours for every layer. */
static const task full_tasks[N_TASKS] = {
    {"selective_copy", gen_selective_copy, SC_VOCAB, 256 + SC_DATA, {256 + SC_DATA, 0, 0}, 32, 3000},
    {"induction", gen_induction, IH_VOCAB, 128, {128, 0, 0}, 32, 1500},
    {"parity", gen_parity, 2, 64, {64, 128, 256}, 32, 600},
    {"mod5", gen_mod5, 5, 64, {64, 128, 256}, 32, 600},
};

/* --- training and scoring ----------------------------------------------------------- */

/* How to train: steps, seed, the WSD cooldown fraction, and a checkpoint path (or NULL). */
typedef struct run_opts {
    int64_t steps;
    uint64_t seed;
    float cooldown;
    const char *ckpt;
} run_opts;

typedef struct result {
    double acc[3];
    double seconds, final_loss;
    int64_t steps;
    int ok; /* trained without an error */
} result;

static void make_batch(const task *tk, seq_rng *rng, int64_t B, int64_t T, int32_t *ids, int32_t *targets) {
    int64_t b;
    for (b = 0; b < B; b++) tk->gen(rng, T, ids + b * T, targets + b * T);
}

/* Right and scored counts of argmax(logits) (N,V) against targets (N), -1 unscored. */
static void count_correct(const float *logits, const int32_t *tg, int64_t N, int64_t V, int64_t *right,
                          int64_t *scored) {
    int64_t i, v;
    for (i = 0; i < N; i++) {
        const float *row = logits + i * V;
        int64_t best = 0;
        if (tg[i] < 0) continue;
        for (v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        *right += best == tg[i];
        ++*scored;
    }
}

/* Token accuracy of m on n fresh rows of length T, in batches of 64. */
static double evaluate(seq_ctx *ctx, const zoo_model *m, const task *tk, seq_rng *rng, int64_t T, int64_t n) {
    enum { EB = 64 };
    int32_t *ids = (int32_t *)malloc((size_t)(EB * T) * sizeof(int32_t));
    int32_t *tg = (int32_t *)malloc((size_t)(EB * T) * sizeof(int32_t));
    int64_t shape[2], done, right = 0, scored = 0;
    shape[0] = EB;
    shape[1] = T;
    seq_ctx_set_grad(ctx, 0);
    for (done = 0; done < n && ids && tg; done += EB) {
        seq_tensor *logits;
        seq_ctx_reset(ctx);
        make_batch(tk, rng, EB, T, ids, tg);
        logits = zoo_model_forward(ctx, m, seq_tensor_wrap_i32(ctx, ids, 2, shape));
        if (!logits) break;
        count_correct(logits->data, tg, EB * T, tk->vocab, &right, &scored);
    }
    seq_ctx_set_grad(ctx, 1);
    free(ids);
    free(tg);
    return scored ? (double)right / (double)scored : 0.0;
}

/* The run's position beside its checkpoint: PATH.step holds the next step, the rng, the
 * smoothed loss and the seconds trained so far (seq_checkpoint_save stores parameters
 * and optimizer state). */
static int save_run(const char *path, const seq_params *P, seq_adamw *opt, int64_t step, const seq_rng *rng,
                    double loss_avg, double seconds) {
    const seq_optim_state *st = &opt->st;
    char side[1024];
    FILE *f;
    snprintf(side, sizeof side, "%s.step", path);
    if (seq_checkpoint_save(path, P, &st, 1) != SEQ_OK || !(f = fopen(side, "w"))) return 0;
    fprintf(f, "%lld %llu %llu %llu %llu %.9g %.1f\n", (long long)step, (unsigned long long)rng->s[0],
            (unsigned long long)rng->s[1], (unsigned long long)rng->s[2], (unsigned long long)rng->s[3], loss_avg,
            seconds);
    return fclose(f) == 0;
}

/* Resumes from path when its files exist: 1 resumed, 0 nothing to resume, -1 unreadable. */
static int load_run(const char *path, seq_params *P, seq_adamw *opt, int64_t *step, seq_rng *rng, double *loss_avg,
                    double *seconds) {
    seq_optim_state *st = &opt->st;
    char side[1024];
    long long s;
    unsigned long long r[4];
    int k, n;
    FILE *f;
    snprintf(side, sizeof side, "%s.step", path);
    if (!(f = fopen(side, "r"))) return 0;
    n = fscanf(f, "%lld %llu %llu %llu %llu %lf %lf", &s, &r[0], &r[1], &r[2], &r[3], loss_avg, seconds);
    fclose(f);
    if (n != 7 || s < 0 || seq_checkpoint_load(path, P, &st, 1) != SEQ_OK) return -1;
    *step = s;
    for (k = 0; k < 4; k++) rng->s[k] = (uint64_t)r[k];
    return 1;
}

static result train(const task *tk, zoo_kind kind, run_opts o) {
    const int64_t B = tk->batch, T = tk->train_len;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    int32_t *ids = (int32_t *)malloc((size_t)(B * T) * sizeof(int32_t));
    int32_t *tg = (int32_t *)malloc((size_t)(B * T) * sizeof(int32_t));
    int64_t shape[2], step = 0, j, right = 0, scored = 0, steps = o.steps;
    zoo_model m;
    seq_adamw opt;
    seq_rng rng;
    double t0 = bench_now(), loss_avg = 0.0, before = 0.0; /* before: seconds of the run before a resume */
    result r;
    memset(&r, 0, sizeof r);
    shape[0] = B;
    shape[1] = T;
    seq_rng_seed(&rng, o.seed);
    if (!P || !ctx || !ids || !tg ||
        zoo_model_init(&m, P, zoo_model_config_default(kind, tk->vocab, D_MODEL, N_LAYERS)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK || zoo_model_reset_parameters(&m, &rng) != SEQ_OK ||
        seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK) {
        fprintf(stderr, "  %s/%s: %s\n", tk->name, zoo_names[kind], seq_last_error());
        goto done;
    }
    if (o.ckpt) {
        int got = load_run(o.ckpt, P, &opt, &step, &rng, &loss_avg, &before);
        if (got < 0) {
            fprintf(stderr, "  %s/%s: cannot resume from %s: %s\n", tk->name, zoo_names[kind], o.ckpt, seq_last_error());
            goto freeopt;
        }
        if (got) fprintf(stderr, "    resumed from %s at step %lld\n", o.ckpt, (long long)step);
    }
    for (; step < steps; step++) {
        seq_tensor *loss, *logits;
        seq_ctx_reset(ctx);
        make_batch(tk, &rng, B, T, ids, tg);
        logits = zoo_model_forward(ctx, &m, seq_tensor_wrap_i32(ctx, ids, 2, shape));
        loss = seq_cross_entropy(ctx, logits, seq_tensor_wrap_i32(ctx, tg, 2, shape), -1);
        if (seq_ctx_status(ctx) != SEQ_OK) {
            fprintf(stderr, "  %s/%s: %s\n", tk->name, zoo_names[kind], seq_ctx_error(ctx));
            goto freeopt;
        }
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        seq_clip_grad_norm(P, 1.0f);
        /* a non-finite gradient is refused by the step: that batch is skipped */
        seq_adamw_step(&opt, P, seq_lr_wsd(step, steps, PEAK_LR, 0.05f, o.cooldown));
        loss_avg = step == 0 ? loss->data[0] : 0.98 * loss_avg + 0.02 * loss->data[0];
        count_correct(logits->data, tg, B * T, tk->vocab, &right, &scored);
        if ((step + 1) % 100 == 0) { /* progress on stderr: smoothed loss, accuracy on the last 100 batches */
            fprintf(stderr, "    %s/%s step %lld loss %.3f train acc %.1f%% %.0f s\n", tk->name, zoo_names[kind],
                    (long long)step + 1, loss_avg, 100.0 * right / (scored ? scored : 1), before + bench_now() - t0);
            right = scored = 0;
            if (o.ckpt && !save_run(o.ckpt, P, &opt, step + 1, &rng, loss_avg, before + bench_now() - t0))
                fprintf(stderr, "  %s/%s: checkpoint %s not written: %s\n", tk->name, zoo_names[kind], o.ckpt,
                        seq_last_error());
        }
    }
    r.seconds = before + bench_now() - t0;
    r.final_loss = loss_avg;
    r.steps = steps;
    for (j = 0; j < 3 && tk->test_lens[j]; j++) r.acc[j] = evaluate(ctx, &m, tk, &rng, tk->test_lens[j], 512);
    r.ok = 1;
freeopt:
    seq_adamw_free(&opt);
done:
    free(ids);
    free(tg);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return r;
}

/* --- checks: generators, and the step API against the forward ------------------------ */

static int check_generators(void) {
    seq_rng rng;
    int32_t ids[272], tg[272];
    int64_t t, i, data = 0, special = 0, bad = 0;
    seq_rng_seed(&rng, 7);
    for (i = 0; i < 200; i++) {
        int64_t k = 0;
        gen_selective_copy(&rng, 272, ids, tg);
        for (t = 0; t < 256; t++)
            if (ids[t] != SC_BLANK) bad += ids[t] < 2 || ids[t] >= SC_VOCAB || ids[t] != tg[256 + k++];
        data += k;
        for (t = 256; t < 272; t++) bad += ids[t] != SC_MARKER;
        gen_induction(&rng, 64, ids, tg);
        for (t = 0; t < 64; t++) special += ids[t] == IH_SPECIAL;
        for (t = 0; t < 62; t++) bad += ids[t] == IH_SPECIAL && tg[63] != ids[t + 1];
        bad += tg[62] != -1 || ids[63] != IH_SPECIAL;
        gen_parity(&rng, 64, ids, tg);
        for (t = 0, k = 0; t < 64; t++) bad += tg[t] != (k += ids[t]) % 2;
    }
    bad += data != 200 * SC_DATA || special != 200 * 2;
    printf("  generators: %s\n", bad ? "FAILED" : "ok (selective copy: 16 data tokens in order; induction: one "
                                                  "special pair; parity: running xor)");
    return bad == 0;
}

/* Max |forward - step| over the logits of a short random sequence, for an untrained model. */
static double step_vs_forward(zoo_kind kind) {
    enum { B = 2, T = 12, V = 7 };
    int32_t ids[B * T], tok[B];
    float lstep[B * V];
    int64_t shape[2], t, b, v;
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_tensor *logits = NULL;
    zoo_model m;
    zoo_model_state st;
    seq_rng rng;
    double worst = -1.0;
    shape[0] = B;
    shape[1] = T;
    seq_rng_seed(&rng, 3);
    for (t = 0; t < B * T; t++) ids[t] = (int32_t)seq_rng_below(&rng, V);
    if (zoo_model_init(&m, P, zoo_model_config_default(kind, V, 32, 2)) == SEQ_OK && seq_params_alloc(P, &rng) == SEQ_OK &&
        zoo_model_reset_parameters(&m, &rng) == SEQ_OK)
        logits = zoo_model_forward(ctx, &m, seq_tensor_wrap_i32(ctx, ids, 2, shape));
    if (logits && zoo_model_state_init(&m, &st, B) == SEQ_OK) {
        worst = 0.0;
        for (t = 0; t < T && worst >= 0.0; t++) {
            for (b = 0; b < B; b++) tok[b] = ids[b * T + t];
            if (zoo_model_step(&m, &st, tok, lstep) != SEQ_OK) worst = -1.0;
            for (b = 0; b < B && worst >= 0.0; b++)
                for (v = 0; v < V; v++)
                    worst = fmax(worst, fabs((double)lstep[b * V + v] - logits->data[(b * T + t) * V + v]));
        }
        zoo_model_state_free(&m, &st);
    }
    seq_ctx_free(ctx);
    seq_params_free(P);
    return worst;
}

/* --- driver ------------------------------------------------------------------------- */

/* Whether `name` is in the comma-separated list (NULL or "all": everything is). */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    const char *p = list;
    if (!list || strcmp(list, "all") == 0) return 1;
    while ((p = strstr(p, name)) != NULL) {
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
        p += n;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const zoo_kind quick_layers[] = {ZOO_LSTM, ZOO_MAMBA, ZOO_DELTANET, ZOO_DELTAPRODUCT};
    const char *task_list = NULL, *layer_list = NULL;
    run_opts o;
    int quick = 0, full = 0, i, k, j, failed = 0, mamba_sc = -1;
    static result res[N_TASKS][ZOO_KIND_COUNT];
    static int ran[N_TASKS][ZOO_KIND_COUNT];
    task tasks[N_TASKS];
    double t_all = bench_now();
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.cooldown = 0.2f;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--full") == 0) full = 1;
        else if (strcmp(argv[i], "--task") == 0 && i + 1 < argc) task_list = argv[++i];
        else if (strcmp(argv[i], "--layer") == 0 && i + 1 < argc) layer_list = argv[++i];
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) o.steps = atoll(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) o.seed = (uint64_t)atoll(argv[++i]);
        else if (strcmp(argv[i], "--cooldown") == 0 && i + 1 < argc) o.cooldown = (float)atof(argv[++i]);
        else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) o.ckpt = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--quick | --full] [--task a,b] [--layer a,b] [--steps N] [--seed S] [--cooldown F] "
                    "[--checkpoint PATH]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!(o.cooldown >= 0.0f && o.cooldown <= 1.0f) ||
        (o.ckpt && (!task_list || !layer_list || strchr(task_list, ',') || strchr(layer_list, ',') ||
                    strcmp(layer_list, "all") == 0))) {
        fprintf(stderr, "%s: --cooldown takes a fraction in [0,1]; --checkpoint one --task and one --layer\n", argv[0]);
        return 2;
    }
    memcpy(tasks, full ? full_tasks : default_tasks, sizeof tasks);
    if (quick) /* the default tasks, few steps: a smoke run */
        for (i = 0; i < N_TASKS; i++) {
            tasks[i].steps = 100;
            tasks[i].batch = 16;
        }

    printf("bench/tasks: synthetic capability tasks, %s run, sgemm backend %s\nchecks\n", quick ? "quick" : full ? "full" : "default",
           seq_sgemm_backend());
    failed += !check_generators();
    for (k = 0; k < ZOO_KIND_COUNT; k++) {
        double d = step_vs_forward((zoo_kind)k);
        int ok = d >= 0.0 && d < 1e-3;
        printf("  step API = forward, %-15s max |diff| %.2e  %s\n", zoo_names[k], d, ok ? "ok" : "FAILED");
        failed += !ok;
    }

    for (i = 0; i < N_TASKS; i++) {
        const task *tk = &tasks[i];
        if (!listed(task_list, tk->name)) continue;
        printf("%s: train length %lld, batch %lld, d_model %d, %d layers\n", tk->name, (long long)tk->train_len,
               (long long)tk->batch, D_MODEL, N_LAYERS);
        for (k = 0; k < ZOO_KIND_COUNT; k++) {
            int in_quick = 0;
            for (j = 0; j < (int)(sizeof quick_layers / sizeof quick_layers[0]); j++) in_quick |= (int)quick_layers[j] == k;
            if (!listed(layer_list, zoo_names[k]) || (quick && !layer_list && !in_quick)) continue;
            {
                run_opts ro = o;
                ro.steps = o.steps ? o.steps : tk->steps;
                res[i][k] = train(tk, (zoo_kind)k, ro);
            }
            ran[i][k] = 1;
            failed += !res[i][k].ok;
            printf("  %-15s", zoo_names[k]);
            for (j = 0; j < 3 && tk->test_lens[j]; j++)
                printf("  acc@%-4lld %6.1f%%", (long long)tk->test_lens[j], 100.0 * res[i][k].acc[j]);
            printf("  loss %.3f  %lld steps  %6.1f s\n", res[i][k].final_loss, (long long)res[i][k].steps,
                   res[i][k].seconds);
            fflush(stdout);
        }
    }

    /* the table: one row per layer, one column per task and test length */
    printf("\naccuracy (%%) per task and test length; train length in brackets\n%-15s", "layer");
    for (i = 0; i < N_TASKS; i++)
        for (j = 0; j < 3 && tasks[i].test_lens[j]; j++) {
            char head[40];
            snprintf(head, sizeof head, "%.6s@%lld", tasks[i].name, (long long)tasks[i].test_lens[j]);
            if (listed(task_list, tasks[i].name)) printf(" %13s", head);
        }
    printf(" %9s\n", "seconds");
    for (k = 0; k < ZOO_KIND_COUNT; k++) {
        double secs = 0.0;
        int any = 0;
        for (i = 0; i < N_TASKS; i++) any |= ran[i][k];
        if (!any) continue;
        printf("%-15s", zoo_names[k]);
        for (i = 0; i < N_TASKS; i++) {
            if (!listed(task_list, tasks[i].name)) continue;
            for (j = 0; j < 3 && tasks[i].test_lens[j]; j++)
                if (ran[i][k]) printf(" %13.1f", 100.0 * res[i][k].acc[j]);
                else printf(" %13s", "-");
            secs += res[i][k].seconds;
        }
        printf(" %9.1f\n", secs);
    }
    if (ran[0][ZOO_MAMBA]) mamba_sc = res[0][ZOO_MAMBA].acc[0] >= 0.95;
    printf("mamba selective copying @%lld: %s\n", (long long)tasks[0].test_lens[0],
           mamba_sc < 0 ? "not run" : mamba_sc ? ">= 95%: solved" : "below 95%");
    printf("total %.1f s\n", bench_now() - t_all);
    if (full && mamba_sc == 0) failed++;
    return failed ? 1 : 0;
}
