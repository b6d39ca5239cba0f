#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
/* A character language model with any sequence layer of seq.h, on any text file.
 *   build/char_lm [FILE] [--layer lstm] [--steps N] [--hidden C] [--layers L] [--seq-len T]
 *                 [--batch B] [--lr LR] [--seed S] [--temp X] [--sample N]
 *                 [--save PATH] [--load PATH] [--quiet]
 * Trains on all of FILE but its last 10% (default: seq.h, so `make demo` runs it), with a
 * progress bar on stderr (step, loss, bits per character, tokens/s); then reports the
 * bits per character on that held-out tail against a unigram model of the training text,
 * saves a safetensors checkpoint (the layer and sizes in its metadata, so --load needs
 * only the path; --load --steps 0 just evaluates and samples) and samples text one
 * character at a time with the streaming step API: caller-owned state, no ctx per char.
 * Layers: rnn lstm gru slstm mlstm mingru minlstm linear_attn rebased deltanet
 * gated_deltanet deltaproduct s4d lssl h3 mamba mamba2 mega lru.
 * --quiet prints one result line; exit 0 only when the held-out bpc beats the unigram's
 * by a clear margin (at least 25% fewer bits). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define SEQ_IMPLEMENTATION
#include "../seq.h"
#include "layer_zoo.h"

enum { VOCAB = 256 }; /* bytes: any file, any checkpoint */
static const double LN2 = 0.69314718055994530942;

typedef struct options {
    const char *file, *save, *load, *layer;
    int64_t steps, hidden, seq_len, batch, sample;
    int layers, quiet;
    double lr, temp;
    uint64_t seed;
} options;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The whole file, or NULL with *n = 0. */
static unsigned char *read_file(const char *path, int64_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    *n = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = (unsigned char *)malloc((size_t)len)) != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len)
        *n = len;
    fclose(f);
    if (*n == 0) free(buf);
    return *n ? buf : NULL;
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->file = "seq.h";
    o->layer = "lstm";
    o->steps = -1; /* -1: the default, 0 with --load */
    o->hidden = 128;
    o->layers = 1;
    o->seq_len = 128;
    o->batch = 16;
    o->sample = 300;
    o->lr = 3e-3;
    o->temp = 0.8;
    o->seed = 42;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (a[0] != '-') { o->file = a; continue; }
        if (!v) return 0;
        i++;
        if (strcmp(a, "--layer") == 0) o->layer = v;
        else if (strcmp(a, "--steps") == 0) o->steps = atoll(v);
        else if (strcmp(a, "--hidden") == 0) o->hidden = atoll(v);
        else if (strcmp(a, "--layers") == 0) o->layers = atoi(v);
        else if (strcmp(a, "--seq-len") == 0) o->seq_len = atoll(v);
        else if (strcmp(a, "--batch") == 0) o->batch = atoll(v);
        else if (strcmp(a, "--lr") == 0) o->lr = atof(v);
        else if (strcmp(a, "--seed") == 0) o->seed = (uint64_t)atoll(v);
        else if (strcmp(a, "--temp") == 0) o->temp = atof(v);
        else if (strcmp(a, "--sample") == 0) o->sample = atoll(v);
        else if (strcmp(a, "--save") == 0) o->save = v;
        else if (strcmp(a, "--load") == 0) o->load = v;
        else return 0;
    }
    return o->hidden > 0 && o->seq_len > 0 && o->batch > 0 && o->sample >= 0 && o->lr > 0 && o->temp > 0;
}

/* The layer and sizes a checkpoint was trained with, from its metadata, into o. */
static int read_config(const char *path, options *o) {
    seq_safetensors *st = seq_safetensors_open(path, NULL);
    const char *layer, *hidden, *layers;
    static char layer_buf[32];
    int ok;
    if (!st) return 0;
    layer = seq_safetensors_meta(st, "layer");
    hidden = seq_safetensors_meta(st, "hidden");
    layers = seq_safetensors_meta(st, "layers");
    ok = layer && hidden && layers && strlen(layer) < sizeof layer_buf;
    if (ok) {
        strcpy(layer_buf, layer);
        o->layer = layer_buf;
        o->hidden = atoll(hidden);
        o->layers = atoi(layers);
    } else {
        seq_set_error(SEQ_ERR_FORMAT, "%s: no char_lm metadata (layer, hidden, layers)", path);
    }
    seq_safetensors_close(st);
    return ok;
}

/* Every parameter, with the model's configuration as metadata. */
static seq_status save_checkpoint(const char *path, const seq_params *P, const options *o) {
    seq_st_tensor_desc *d = (seq_st_tensor_desc *)malloc((size_t)P->count * sizeof *d);
    char hidden[24], layers[24];
    const char *meta[6];
    int64_t i;
    seq_status s;
    if (!d) return seq_set_error(SEQ_ERR_NOMEM, "save_checkpoint: out of memory");
    for (i = 0; i < P->count; i++) {
        d[i].name = P->items[i]->t.name;
        d[i].ndim = P->items[i]->t.ndim;
        d[i].shape = P->items[i]->t.shape;
        d[i].data = P->items[i]->t.data;
    }
    snprintf(hidden, sizeof hidden, "%lld", (long long)o->hidden);
    snprintf(layers, sizeof layers, "%d", o->layers);
    meta[0] = "layer", meta[1] = o->layer, meta[2] = "hidden", meta[3] = hidden, meta[4] = "layers", meta[5] = layers;
    s = seq_safetensors_write(path, d, P->count, meta, 3, SEQ_ST_F32);
    free(d);
    return s;
}

/* Bits per character of a unigram model of train (add-one smoothed) on test. */
static double unigram_bpc(const unsigned char *train, int64_t ntrain, const unsigned char *test, int64_t ntest) {
    double count[VOCAB], nll = 0.0;
    int64_t i;
    for (i = 0; i < VOCAB; i++) count[i] = 1.0;
    for (i = 0; i < ntrain; i++) count[train[i]] += 1.0;
    for (i = 0; i < ntest; i++) nll -= log(count[test[i]] / (double)(ntrain + VOCAB));
    return nll / (double)ntest / LN2;
}

/* Bits per character of the model on text[0..n): consecutive windows of T characters,
 * batch rows at a time, each character predicted from those before it in its window. */
static double model_bpc(seq_ctx *ctx, const zoo_model *m, const unsigned char *text, int64_t n, int64_t T,
                        int64_t batch) {
    int64_t windows = (n - 1) / T, w, b, t, shape[2], counted = 0;
    int32_t *ids = (int32_t *)malloc((size_t)(batch * T) * sizeof(int32_t));
    int32_t *next = (int32_t *)malloc((size_t)(batch * T) * sizeof(int32_t));
    double nll = 0.0;
    seq_ctx_set_grad(ctx, 0);
    for (w = 0; w < windows && ids && next; w += batch) {
        int64_t rows = windows - w < batch ? windows - w : batch;
        seq_tensor *loss;
        shape[0] = rows;
        shape[1] = T;
        for (b = 0; b < rows; b++)
            for (t = 0; t < T; t++) {
                ids[b * T + t] = text[(w + b) * T + t];
                next[b * T + t] = text[(w + b) * T + t + 1];
            }
        seq_ctx_reset(ctx);
        loss = seq_cross_entropy(ctx, zoo_model_forward(ctx, m, seq_tensor_wrap_i32(ctx, ids, 2, shape)),
                                 seq_tensor_wrap_i32(ctx, next, 2, shape), -1);
        if (!loss) break;
        nll += (double)loss->data[0] * (double)(rows * T);
        counted += rows * T;
    }
    seq_ctx_set_grad(ctx, 1);
    free(ids);
    free(next);
    return counted ? nll / (double)counted / LN2 : NAN;
}

static void progress(int64_t step, int64_t steps, double loss, double tok_s) {
    enum { W = 30 };
    int i, fill = (int)(W * (step + 1) / steps);
    fputs("\r[", stderr);
    for (i = 0; i < W; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  loss %.3f  bpc %.3f  %.1fk tok/s ", (long long)(step + 1), (long long)steps, loss,
            loss / LN2, tok_s * 1e-3);
    if (step + 1 == steps) fputc('\n', stderr);
}

/* Streams the model over `prompt`, then draws n characters at temperature temp into out
 * (NUL-terminated): one zoo_model_step per character, on a state made once. */
static seq_status sample(const zoo_model *m, const unsigned char *prompt, int64_t np, int64_t n, double temp,
                         seq_rng *rng, char *out) {
    zoo_model_state st;
    float logits[VOCAB];
    double w[VOCAB];
    int32_t tok = prompt[0];
    int64_t i, v;
    seq_status s = zoo_model_state_init(m, &st, 1);
    if (s != SEQ_OK) return s;
    for (i = 1; i < np + n; i++) {
        if ((s = zoo_model_step(m, &st, &tok, logits)) != SEQ_OK) break;
        if (i < np) {
            tok = prompt[i];
            continue;
        }
        {
            float mx = logits[0];
            for (v = 1; v < VOCAB; v++) mx = logits[v] > mx ? logits[v] : mx;
            for (v = 0; v < VOCAB; v++) w[v] = exp((double)(logits[v] - mx) / temp);
        }
        tok = (int32_t)seq_rng_categorical(rng, w, VOCAB);
        out[i - np] = (char)tok;
    }
    out[s == SEQ_OK ? n : 0] = 0;
    zoo_model_state_free(m, &st);
    return s;
}

int main(int argc, char **argv) {
    options o;
    unsigned char *text;
    int64_t n, ntrain, ntest, step, b, t, shape[2], kind;
    int32_t *ids = NULL, *next = NULL;
    seq_params *P = NULL;
    seq_ctx *ctx = NULL;
    seq_adamw opt;
    zoo_model m;
    seq_rng rng;
    double t0, train_s = 0.0, loss_avg = 0.0, bpc, uni;
    char *out = NULL;
    int rc = 1, show = 0;

    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: char_lm [FILE] [--layer NAME] [--steps N] [--hidden C] [--layers L] [--seq-len T]\n"
                        "               [--batch B] [--lr LR] [--seed S] [--temp X] [--sample N] [--save PATH]\n"
                        "               [--load PATH] [--quiet]\n");
        return 2;
    }
    if (o.load && !read_config(o.load, &o)) {
        fprintf(stderr, "char_lm: %s\n", seq_last_error());
        return 1;
    }
    if (o.steps < 0) o.steps = o.load ? 0 : 300;
    if ((kind = zoo_kind_from_name(o.layer)) < 0) {
        fprintf(stderr, "char_lm: unknown layer '%s'\n", o.layer);
        return 2;
    }
    text = read_file(o.file, &n);
    ntest = n / 10;
    ntrain = n - ntest;
    if (!text || ntest < o.seq_len + 1 || ntrain < o.seq_len + 1) {
        fprintf(stderr, "char_lm: %s: %s\n", o.file, text ? "too short for --seq-len" : "cannot read it");
        free(text);
        return 1;
    }
    seq_rng_seed(&rng, o.seed);
    P = seq_params_init(NULL);
    ctx = seq_ctx_init(NULL);
    ids = (int32_t *)malloc((size_t)(o.batch * o.seq_len) * sizeof(int32_t));
    next = (int32_t *)malloc((size_t)(o.batch * o.seq_len) * sizeof(int32_t));
    out = (char *)malloc((size_t)o.sample + 1);
    if (!P || !ctx || !ids || !next || !out ||
        zoo_model_init(&m, P, zoo_model_config_default((zoo_kind)kind, VOCAB, o.hidden, o.layers)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK || zoo_model_reset_parameters(&m, &rng) != SEQ_OK ||
        (o.load && seq_safetensors_load(P, o.load) != SEQ_OK) ||
        seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK) {
        fprintf(stderr, "char_lm: %s\n", seq_last_error());
        goto done;
    }
    show = !o.quiet;
    if (show)
        printf("char_lm: %s, %lld train + %lld held-out bytes; %s x %d, hidden %lld, %lld parameters\n", o.file,
               (long long)ntrain, (long long)ntest, o.layer, o.layers, (long long)o.hidden, (long long)P->numel);

    shape[0] = o.batch;
    shape[1] = o.seq_len;
    t0 = now();
    for (step = 0; step < o.steps; step++) {
        seq_tensor *loss;
        for (b = 0; b < o.batch; b++) { /* a random window of the training part per row */
            int64_t at = (int64_t)seq_rng_below(&rng, (uint64_t)(ntrain - o.seq_len));
            for (t = 0; t < o.seq_len; t++) {
                ids[b * o.seq_len + t] = text[at + t];
                next[b * o.seq_len + t] = text[at + t + 1];
            }
        }
        seq_ctx_reset(ctx);
        loss = seq_cross_entropy(ctx, zoo_model_forward(ctx, &m, seq_tensor_wrap_i32(ctx, ids, 2, shape)),
                                 seq_tensor_wrap_i32(ctx, next, 2, shape), -1);
        if (seq_ctx_status(ctx) != SEQ_OK) {
            fprintf(stderr, "char_lm: %s\n", seq_ctx_error(ctx));
            goto freeopt;
        }
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        seq_clip_grad_norm(P, 1.0f);
        seq_adamw_step(&opt, P, seq_lr_cosine(step, o.steps, (float)o.lr, 0.1f * (float)o.lr, o.steps / 20));
        loss_avg = step == 0 ? loss->data[0] : 0.95 * loss_avg + 0.05 * loss->data[0];
        train_s = now() - t0;
        if (show && (step % 5 == 4 || step + 1 == o.steps))
            progress(step, o.steps, loss_avg, (double)((step + 1) * o.batch * o.seq_len) / train_s);
    }

    bpc = model_bpc(ctx, &m, text + ntrain, ntest, o.seq_len, 32);
    uni = unigram_bpc(text, ntrain, text + ntrain, ntest);
    if (o.save && save_checkpoint(o.save, P, &o) != SEQ_OK) {
        fprintf(stderr, "char_lm: %s\n", seq_last_error());
        goto freeopt;
    }
    if (show) {
        if (o.save) printf("saved %s\n", o.save);
        if (sample(&m, text + ntrain, o.seq_len, o.sample, o.temp, &rng, out) != SEQ_OK) {
            fprintf(stderr, "char_lm: sampling: %s\n", seq_last_error());
            goto freeopt;
        }
        printf("--- sample (temperature %.2f, after %lld held-out characters) ---\n%s\n---\n", o.temp,
               (long long)o.seq_len, out);
    }
    printf("char_lm: %s x %d, hidden %lld: held-out %.3f bits/char (unigram %.3f), %lld steps in %.1f s\n", o.layer,
           o.layers, (long long)o.hidden, bpc, uni, (long long)o.steps, train_s);
    rc = bpc <= 0.75 * uni ? 0 : 1;
freeopt:
    seq_adamw_free(&opt);
done:
    free(out);
    free(ids);
    free(next);
    free(text);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return rc;
}
