#define _POSIX_C_SOURCE 200809L /* clock_gettime, setenv under -std=c99 */
/* Quantization algorithms of seq_quant.h on a trained char-LM (embedding -> LSTM -> head),
 * bits per character on held-out text for each way of quantizing its three weight
 * matrices (LSTM weight_ih, weight_hh, head):
 *   - RTN (min-max, MSE clipping) against GPTQ at 4 and 3 bits, calibrated on
 *     activations captured from the model's own forward;
 *   - 3 bits with two-sided Hadamard incoherence, and the 3-bit error on synthetic
 *     weights with outliers;
 *   - HAWQ-V2 bit allocation ({2,3,4,5,6,8} per layer, Hutchinson traces) against uniform
 *     3 bits at the same size; HAWQ-V1 top eigenvalues beside the traces;
 *   - 2 bits: RTN against Hadamard + QTIP (bitshift trellis, 1MAD and 3INST codes, Viterbi);
 *   - streaming inference with the weights kept quantized: seq_quant_rnn steps and a
 *     seq_quant_linear head in block formats, bits per character against the f32 step.
 * The text is README.md + the docs/ markdown files (the last 10% held out); training runs for
 * QUANT_ALGOS_SECONDS (default 60) on one core. The embedding stays in f32. */
#include <dirent.h>
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#include "../seq_quant.h"

/* NL matrices: the first NQ (weight_ih, weight_hh, head) multiply activations and get
 * GPTQ; HAWQ allocates bits over all NL, the embedding included. */
enum { V = 128, E = 32, H = 128, B = 16, T = 64, NQ = 3, NL = 4, NB = 6 /* bit widths HAWQ chooses from */ };

typedef struct model {
    seq_params *P;
    seq_tensor *emb, *head_w, *head_b;
    seq_lstm lstm;
    seq_tensor *w[NL]; /* the matrices to quantize: weight_ih, weight_hh, head, embedding */
    const char *name[NL];
} model;

typedef struct batch {
    int32_t ids[B * T], next[B * T];
    seq_tensor *h;    /* out: the LSTM's output (B,T,H) */
    seq_tensor *x;    /* out: the embedding's output (B,T,E) */
} batch;

static char *read_corpus(size_t *len) {
    static const char *docs = "docs";
    char *text = NULL, path[512];
    size_t n = 0;
    struct dirent *d;
    DIR *dir = opendir(docs);
    const char *files[64];
    char names[64][256];
    int nf = 0, i;
    files[nf++] = "README.md";
    while (dir && (d = readdir(dir)) && nf < 64) {
        size_t l = strlen(d->d_name);
        if (l > 3 && strcmp(d->d_name + l - 3, ".md") == 0 && l < 200) {
            snprintf(names[nf], sizeof names[nf], "%s/%s", docs, d->d_name);
            files[nf] = names[nf];
            nf++;
        }
    }
    if (dir) closedir(dir);
    for (i = 0; i < nf; i++) {
        FILE *f;
        long sz;
        snprintf(path, sizeof path, "%s", files[i]);
        f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = (char *)realloc(text, n + (size_t)sz);
        n += fread(text + n, 1, (size_t)sz, f);
        fclose(f);
    }
    *len = n;
    return text;
}

static void model_init(model *m, seq_rng *rng) {
    int64_t se[2] = {V, E}, sh[2] = {V, H}, sb[1] = {V};
    m->P = seq_params_init(NULL);
    m->emb = seq_params_add(m->P, "emb.weight", 2, se, seq_init_normal(0.0f, 1.0f));
    seq_rnn_init(&m->lstm, m->P, "lstm", seq_lstm_config_default(E, H));
    m->head_w = seq_params_add(m->P, "head.weight", 2, sh, seq_init_xavier_uniform(1.0f));
    m->head_b = seq_params_add(m->P, "head.bias", 1, sb, seq_init_zeros());
    seq_params_alloc(m->P, rng);
    m->w[0] = m->lstm.w_ih[0];
    m->w[1] = m->lstm.w_hh[0];
    m->w[2] = m->head_w;
    m->name[0] = "lstm.weight_ih";
    m->name[1] = "lstm.weight_hh";
    m->name[2] = "head.weight";
    m->w[3] = m->emb;
    m->name[3] = "emb.weight";
}

/* Mean cross-entropy (nats) of one batch; keeps the activations in bt. */
static seq_tensor *model_loss(seq_ctx *ctx, const model *m, batch *bt) {
    int64_t s[2] = {B, T};
    seq_tensor *x = seq_embedding(ctx, m->emb, seq_tensor_wrap_i32(ctx, bt->ids, 2, s));
    seq_tensor *h = seq_rnn_forward(ctx, &m->lstm, x, NULL);
    seq_tensor *logits = seq_linear(ctx, h, m->head_w, m->head_b);
    bt->x = x;
    bt->h = h;
    return seq_cross_entropy(ctx, logits, seq_tensor_wrap_i32(ctx, bt->next, 2, s), -1);
}

static void fill_batch(batch *bt, const uint8_t *text, size_t lo, size_t hi, seq_rng *rng) {
    int b, t;
    for (b = 0; b < B; b++) {
        size_t start = lo + (size_t)seq_rng_below(rng, (uint64_t)(hi - lo - T - 1));
        for (t = 0; t < T; t++) {
            bt->ids[b * T + t] = text[start + t] & 127;
            bt->next[b * T + t] = text[start + t + 1] & 127;
        }
    }
}

/* Bits per character over the held-out text in consecutive windows. */
static double model_bpc(seq_ctx *ctx, const model *m, const uint8_t *text, size_t lo, size_t hi) {
    batch bt;
    double nats = 0.0;
    int64_t n = 0;
    size_t pos = lo;
    seq_ctx_set_grad(ctx, 0);
    while (pos + (size_t)(B * T) + 1 <= hi) {
        int b, t;
        seq_tensor *loss;
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++) {
                bt.ids[b * T + t] = text[pos + (size_t)(b * T + t)] & 127;
                bt.next[b * T + t] = text[pos + (size_t)(b * T + t) + 1] & 127;
            }
        seq_ctx_reset(ctx);
        loss = model_loss(ctx, m, &bt);
        nats += loss->data[0];
        n++;
        pos += (size_t)(B * T);
    }
    seq_ctx_set_grad(ctx, 1);
    return nats / (double)n / log(2.0);
}

/* Bits per character of the held-out text streamed one character at a time through the
 * quantized step API: seq_quant_rnn (W_ih, W_hh in t) and a seq_quant_linear head, 16
 * streams over consecutive slices of the text, the state carried across each slice.
 * *bytes gets the quantized weights' size. */
static double streaming_bpc(const model *m, seq_quant_type t, const uint8_t *text, size_t lo, size_t hi, size_t *bytes) {
    enum { S = 16 };
    seq_quant_rnn q;
    seq_quant_linear head;
    seq_quant_rnn_state st;
    float x[S * E], h[S * H], logits[S * V];
    size_t len = (hi - lo) / S, pos;
    double nats = 0.0;
    int64_t n = 0;
    void *work;
    int s, j;
    if (seq_quant_rnn_init(&q, &m->lstm, t, NULL) != SEQ_OK ||
        seq_quant_linear_init(&head, t, m->head_w->data, m->head_b->data, V, H, NULL) != SEQ_OK ||
        seq_quant_rnn_state_init(&q, &st, S) != SEQ_OK) {
        fprintf(stderr, "quant_algos: %s\n", seq_last_error());
        exit(1);
    }
    work = malloc(seq_quant_linear_work_bytes(&head, S));
    for (pos = 0; pos + 1 < len; pos++) {
        for (s = 0; s < S; s++) memcpy(x + s * E, m->emb->data + (text[lo + s * len + pos] & 127) * E, E * sizeof(float));
        seq_quant_rnn_step(&q, &st, x, h);
        seq_quant_linear_forward(&head, h, H, S, logits, work);
        for (s = 0; s < S; s++) {
            const float *z = logits + s * V;
            double mx = z[0], se = 0.0;
            for (j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
            for (j = 0; j < V; j++) se += exp(z[j] - mx);
            nats += mx + log(se) - z[text[lo + s * len + pos + 1] & 127];
            n++;
        }
    }
    *bytes = seq_quant_rnn_bytes(&q) + seq_quant_linear_bytes(&head);
    free(work);
    seq_quant_rnn_state_free(&st);
    seq_quant_linear_free(&head);
    seq_quant_rnn_free(&q);
    return nats / (double)n / log(2.0);
}

static void streaming_table(const model *m, const uint8_t *text, size_t lo, size_t hi) {
    static const seq_quant_type types[] = {SEQ_QUANT_F32, SEQ_QUANT_Q8_0, SEQ_QUANT_Q6_K, SEQ_QUANT_Q5_0, SEQ_QUANT_Q4_K,
                                           SEQ_QUANT_IQ4_NL, SEQ_QUANT_Q4_0, SEQ_QUANT_NF4, SEQ_QUANT_MXFP4};
    double f32 = 0.0;
    size_t k;
    printf("streaming steps with quantized weights (LSTM W_ih, W_hh and head; embedding f32)\n");
    printf("%-10s %10s %8s %8s %8s\n", "weights", "KB", "bpc", "vs f32", "s");
    for (k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t bytes;
        double t0 = bench_now(), bpc = streaming_bpc(m, types[k], text, lo, hi, &bytes);
        if (k == 0) f32 = bpc;
        printf("%-10s %10.1f %8.4f %+8.4f %8.2f\n", seq_quant_type_name(types[k]), (double)bytes / 1024.0, bpc, bpc - f32,
               bench_now() - t0);
    }
    printf("\n");
}

/* Layer inputs of calibration batches: rows of the matrix each weight multiplies. */
typedef struct calib {
    seq_quant_gptq g[NQ];
} calib;

static void calibrate(calib *c, seq_ctx *ctx, const model *m, const uint8_t *text, size_t hi, int nbatches,
                      seq_rng *rng) {
    static float prev[B * T * H];
    batch bt;
    int l, k, b, t;
    for (l = 0; l < NQ; l++) seq_quant_gptq_init(&c->g[l], m->w[l]->shape[1], NULL);
    seq_ctx_set_grad(ctx, 0);
    for (k = 0; k < nbatches; k++) {
        fill_batch(&bt, text, 0, hi, rng);
        seq_ctx_reset(ctx);
        model_loss(ctx, m, &bt);
        for (b = 0; b < B; b++) /* weight_hh multiplies h_{t-1} (zeros at t = 0) */
            for (t = 0; t < T; t++)
                for (l = 0; l < H; l++) prev[(b * T + t) * H + l] = t ? bt.h->data[(b * T + t - 1) * H + l] : 0.0f;
        seq_quant_gptq_add_batch(&c->g[0], bt.x->data, B * T);
        seq_quant_gptq_add_batch(&c->g[1], prev, B * T);
        seq_quant_gptq_add_batch(&c->g[2], bt.h->data, B * T);
    }
    seq_ctx_set_grad(ctx, 1);
}

typedef enum method { RTN_MINMAX, GPTQ_MINMAX, RTN_MSE, GPTQ_MSE, HADAMARD_RTN, QTIP, QTIP_3INST, METHOD_COUNT } method;

/* w <- its quantized version (dequantized in place), by method at bits. */
static void quantize_layer(float *w, int64_t rows, int64_t cols, method how, int bits, seq_quant_gptq *g, seq_rng *rng) {
    seq_quant_weight q;
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(bits);
    if (how != RTN_MINMAX && how != GPTQ_MINMAX) cfg.clip = SEQ_QUANT_CLIP_MSE;
    if (how == GPTQ_MINMAX || how == GPTQ_MSE) {
        seq_quant_gptq_config gc = seq_quant_gptq_config_default(bits);
        gc.grid = cfg;
        gc.act_order = 1;
        if (seq_quant_gptq_quantize(g, w, rows, &gc, &q, w) == SEQ_OK) seq_quant_weight_free(&q);
    } else if (how == QTIP || how == QTIP_3INST) {
        seq_quant_qtip qt;
        seq_quant_qtip_code code = how == QTIP ? SEQ_QUANT_QTIP_1MAD : SEQ_QUANT_QTIP_3INST;
        if (seq_quant_qtip_quantize(&qt, w, rows, cols, code, bits, 64, 1, rng, NULL) == SEQ_OK) {
            seq_quant_qtip_dequantize(&qt, w);
            seq_quant_qtip_free(&qt);
        }
    } else {
        seq_quant_incoherence ip;
        int had = how == HADAMARD_RTN && seq_quant_incoherence_init(&ip, rows, cols, rng, NULL) == SEQ_OK;
        if (had) seq_quant_incoherence_weight(&ip, w, 0);
        if (seq_quant_rtn(&q, w, rows, cols, &cfg, NULL, NULL) == SEQ_OK) {
            seq_quant_weight_dequantize(&q, w);
            seq_quant_weight_free(&q);
        }
        if (had) {
            seq_quant_incoherence_weight(&ip, w, 1);
            seq_quant_incoherence_free(&ip);
        }
    }
}

/* bpc with layer l quantized to bits[l] (32: kept in f32), then the f32 weights restored. */
static double quantized_bpc(seq_ctx *ctx, model *m, calib *c, method how, const int *bits, const uint8_t *text,
                            size_t lo, size_t hi, double *seconds) {
    float *saved = (float *)malloc((size_t)m->P->numel * sizeof(float));
    double bpc, t0 = bench_now();
    int l;
    seq_rng rng;
    seq_rng_seed(&rng, 77);
    memcpy(saved, m->P->data, (size_t)m->P->numel * sizeof(float));
    for (l = 0; l < NL; l++)
        if (bits[l] < 32)
            quantize_layer(m->w[l]->data, m->w[l]->shape[0], m->w[l]->shape[1], how, bits[l], l < NQ ? &c->g[l] : NULL, &rng);
    if (seconds) *seconds = bench_now() - t0;
    bpc = model_bpc(ctx, m, text, lo, hi);
    memcpy(m->P->data, saved, (size_t)m->P->numel * sizeof(float));
    free(saved);
    return bpc;
}

typedef struct hawq_case {
    model *m;
    batch bt;
} hawq_case;

static seq_tensor *hawq_loss(seq_ctx *ctx, void *ud) {
    hawq_case *h = (hawq_case *)ud;
    return model_loss(ctx, h->m, &h->bt);
}

/* Synthetic 3-bit case: Gaussian weights with 1% outliers (x20), relative squared error
 * of per-channel RTN with and without incoherence. */
static void outlier_case(void) {
    enum { R = 256, C = 256 };
    static float W[R * C], Q[R * C];
    seq_quant_rtn_config cfg = seq_quant_rtn_config_default(3);
    seq_quant_weight q;
    seq_quant_incoherence ip;
    seq_rng rng;
    double e[2], norm = 0.0;
    int had, i;
    seq_rng_seed(&rng, 5);
    for (i = 0; i < R * C; i++) {
        W[i] = (float)seq_rng_normal(&rng, 0, 1) * (seq_rng_double(&rng) < 0.01 ? 20.0f : 1.0f);
        norm += (double)W[i] * W[i];
    }
    seq_quant_incoherence_init(&ip, R, C, &rng, NULL);
    for (had = 0; had < 2; had++) {
        memcpy(Q, W, sizeof W);
        if (had) seq_quant_incoherence_weight(&ip, Q, 0);
        seq_quant_rtn(&q, Q, R, C, &cfg, NULL, NULL);
        seq_quant_weight_dequantize(&q, Q);
        seq_quant_weight_free(&q);
        if (had) seq_quant_incoherence_weight(&ip, Q, 1);
        e[had] = 0.0;
        for (i = 0; i < R * C; i++) e[had] += ((double)Q[i] - W[i]) * ((double)Q[i] - W[i]);
    }
    seq_quant_incoherence_free(&ip);
    printf("3-bit RTN per channel, 256x256 Gaussian + 1%% outliers x20: relative error %.4f plain, %.4f with Hadamard "
           "(%.2fx lower)\n", e[0] / norm, e[1] / norm, e[0] / e[1]);
}

int main(void) {
    static const int choice_bits[NB] = {2, 3, 4, 5, 6, 8};
    size_t len, split;
    uint8_t *text = (uint8_t *)read_corpus(&len);
    const char *env = getenv("QUANT_ALGOS_SECONDS");
    double budget_s = env ? atof(env) : 60.0, t0, fp_bpc, secs;
    model m;
    calib c;
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_adamw opt;
    seq_rng rng;
    int64_t step = 0, numel[NL], total = 0;
    int l, k, bits, uni[NL], alloc[NL];
    double sens[NL], sq_err[NL * NB], obj;
    hawq_case hc;

    if (!text || len < 10000) {
        fprintf(stderr, "quant_algos: run from the repository root (needs README.md and docs/*.md)\n");
        return 1;
    }
    split = len - len / 10;
    seq_rng_seed(&rng, 1);
    model_init(&m, &rng);
    seq_adamw_init(&opt, m.P, seq_adamw_config_default());
    printf("bench/quant_algos: char-LM emb %d -> LSTM %d -> head %d on %zu chars (%zu held out), %.0f s of training\n", E, H,
           V, len, len - split, budget_s);
    t0 = bench_now();
    while (bench_now() - t0 < budget_s) {
        batch bt;
        seq_tensor *loss;
        fill_batch(&bt, text, 0, split, &rng);
        seq_ctx_reset(ctx);
        loss = model_loss(ctx, &m, &bt);
        seq_params_zero_grad(m.P);
        seq_backward(ctx, loss);
        seq_clip_grad_norm(m.P, 1.0f);
        seq_adamw_step(&opt, m.P, 1e-2f * (float)(1.0 - 0.9 * (bench_now() - t0) / budget_s));
        step++;
    }
    fp_bpc = model_bpc(ctx, &m, text, split, len);
    printf("trained %lld steps; f32 held-out bpc %.4f\n\n", (long long)step, fp_bpc);
    streaming_table(&m, text, split, len);

    calibrate(&c, ctx, &m, text, split, 16, &rng);
    printf("%-40s %8s %8s %10s\n", "weight_ih, weight_hh, head", "bpc", "vs f32", "quant s");
    for (bits = 4; bits >= 2; bits--) {
        static const char *names[METHOD_COUNT] = {"RTN min-max", "GPTQ min-max", "RTN MSE-clip", "GPTQ MSE-clip",
                                                  "Hadamard + RTN MSE-clip", "Hadamard + QTIP 1MAD tail-biting",
                                                  "Hadamard + QTIP 3INST tail-biting"};
        for (l = 0; l < NL; l++) uni[l] = l < NQ ? bits : 32;
        for (k = 0; k < METHOD_COUNT; k++) {
            char label[64];
            double bpc;
            if ((k == QTIP || k == QTIP_3INST) != (bits == 2) && k != RTN_MINMAX && k != RTN_MSE)
                continue; /* QTIP: the 2-bit row */
            bpc = quantized_bpc(ctx, &m, &c, (method)k, uni, text, split, len, &secs);
            snprintf(label, sizeof label, "%d-bit %s", bits, names[k]);
            printf("%-40s %8.4f %+8.4f %10.2f\n", label, bpc, bpc - fp_bpc, secs);
        }
    }
    printf("\n");
    outlier_case();

    /* HAWQ-V2: per-layer Hessian traces of the training loss on a fixed batch */
    hc.m = &m;
    fill_batch(&hc.bt, text, 0, split, &rng);
    printf("\n%-16s %8s %12s %12s %12s\n", "layer", "numel", "Tr(H)/n", "top eig", "HVPs s");
    for (l = 0; l < NL; l++) {
        double tr = 0.0, lam = 0.0, ts = bench_now();
        numel[l] = m.w[l]->numel;
        total += numel[l];
        seq_quant_hawq_trace(ctx, m.P, hawq_loss, &hc, m.w[l], 16, 1e-3f, &rng, &tr);
        seq_quant_hawq_top_eigen(ctx, m.P, hawq_loss, &hc, m.w[l], 20, 1e-2f, 1e-3f, &rng, &lam);
        sens[l] = tr / (double)numel[l];
        printf("%-16s %8lld %12.4g %12.4g %12.2f\n", m.name[l], (long long)numel[l], sens[l], lam, bench_now() - ts);
        for (k = 0; k < NB; k++) {
            seq_quant_weight q;
            seq_quant_rtn_config cfg = seq_quant_rtn_config_default(choice_bits[k]);
            float *dq = (float *)malloc((size_t)numel[l] * sizeof(float));
            int64_t i;
            cfg.clip = SEQ_QUANT_CLIP_MSE;
            seq_quant_rtn(&q, m.w[l]->data, m.w[l]->shape[0], m.w[l]->shape[1], &cfg, NULL, NULL);
            seq_quant_weight_dequantize(&q, dq);
            sq_err[l * NB + k] = 0.0;
            for (i = 0; i < numel[l]; i++) sq_err[l * NB + k] += ((double)dq[i] - m.w[l]->data[i]) * ((double)dq[i] - m.w[l]->data[i]);
            seq_quant_weight_free(&q);
            free(dq);
        }
    }
    /* budgets of 2.5 .. 4 bits per weight: HAWQ's allocation against one that ignores the
     * Hessian (every sensitivity 1: plain weight MSE) at the same budget, and against
     * uniform bits where the budget allows them */
    printf("%-10s %-24s %-24s %s\n", "bits/wt", "HAWQ alloc -> bpc", "Hessian-blind -> bpc", "uniform RTN bpc");
    for (k = 5; k <= 8; k++) {
        int64_t budget = k * total / 2;
        double bpc[2];
        int pass, picks[2][NL];
        for (pass = 0; pass < 2; pass++) {
            double ones[NL] = {1.0, 1.0, 1.0, 1.0};
            if (seq_quant_hawq_allocate(NL, numel, pass ? ones : sens, NB, choice_bits, sq_err, budget, NULL, alloc, &obj) !=
                SEQ_OK) {
                printf("allocation failed: %s\n", seq_last_error());
                return 1;
            }
            for (l = 0; l < NL; l++) picks[pass][l] = choice_bits[alloc[l]];
            bpc[pass] = quantized_bpc(ctx, &m, &c, RTN_MSE, picks[pass], text, split, len, NULL);
        }
        printf("%-10.1f {%d,%d,%d,%d} -> %.4f       {%d,%d,%d,%d} -> %.4f       ", k / 2.0, picks[0][0], picks[0][1],
               picks[0][2], picks[0][3], bpc[0], picks[1][0], picks[1][1], picks[1][2], picks[1][3], bpc[1]);
        if (k % 2 == 0) {
            for (l = 0; l < NL; l++) uni[l] = k / 2;
            printf("%.4f\n", quantized_bpc(ctx, &m, &c, RTN_MSE, uni, text, split, len, NULL));
        } else
            printf("-\n");
    }
    for (l = 0; l < NQ; l++) seq_quant_gptq_free(&c.g[l]);
    seq_adamw_free(&opt);
    seq_ctx_free(ctx);
    seq_params_free(m.P);
    free(text);
    return 0;
}
