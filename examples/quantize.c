/* Quantize a safetensors model to GGUF:
 *     quantize [model.safetensors] [--type q4_K] [--out model.gguf] [--quiet]
 * Every matrix whose rows are whole blocks of the format is quantized; vectors (biases) and
 * odd sizes stay f32, as llama.cpp keeps them; the file is written as GGUF v3, read back and checked. Prints each tensor's
 * RMSE and SNR, the file sizes, and how far a quantized matrix-vector product (the
 * integer kernel) lands from the f32 one. With no model it first builds and saves a small
 * one (an embedding and two linear layers) so that `make demo` runs with no arguments.
 * --quiet prints one line; the exit status is 0 only when every SNR and the kernel's
 * error are within the format's expected range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#include "../seq_quant.h"

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (f) fclose(f);
    return n;
}

/* The demo model: Gaussian-initialized weights as a trained one would roughly look. */
static int make_demo_model(const char *path) {
    int64_t s_emb[2] = {512, 256}, s_fc1[2] = {1024, 256}, s_b1[1] = {1024}, s_fc2[2] = {512, 1024};
    seq_params *P = seq_params_init(NULL);
    seq_rng rng;
    seq_status s;
    seq_rng_seed(&rng, 42);
    seq_params_add(P, "emb.weight", 2, s_emb, seq_init_normal(0.0f, 1.0f));
    seq_params_add(P, "fc1.weight", 2, s_fc1, seq_init_kaiming_normal(0.0f));
    seq_params_add(P, "fc1.bias", 1, s_b1, seq_init_uniform(-0.1f, 0.1f));
    seq_params_add(P, "fc2.weight", 2, s_fc2, seq_init_kaiming_normal(0.0f));
    s = seq_params_alloc(P, &rng);
    if (s == SEQ_OK) s = seq_safetensors_save(P, path);
    seq_params_free(P);
    return s == SEQ_OK;
}

/* The smallest SNR (dB) each format should reach on Gaussian weights. */
static double min_snr(seq_quant_type t) {
    const seq_quant_traits *tr = seq_quant_type_traits(t);
    double bits = 8.0 * (double)tr->block_bytes / (double)tr->block;
    return bits >= 8.0 ? 24.0 : bits >= 6.0 ? 28.0 : bits >= 5.0 ? 20.0 : 16.0;
}

int main(int argc, char **argv) {
    const char *in = NULL, *out = "build/quantize_demo.gguf", *tname = "q4_K", *demo = "build/quantize_demo.safetensors";
    seq_quant_type t = SEQ_QUANT_TYPE_COUNT;
    seq_safetensors *st;
    seq_gguf_writer *w;
    seq_gguf *g;
    double worst_snr = 1e9, kernel_err = 0.0;
    int quiet = 0, ok = 1, k;
    int64_t i, nq = 0;
    for (k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[k], "--type") == 0 && k + 1 < argc) tname = argv[++k];
        else if (strcmp(argv[k], "--out") == 0 && k + 1 < argc) out = argv[++k];
        else in = argv[k];
    }
    for (k = 0; k < SEQ_QUANT_TYPE_COUNT; k++)
        if (strcmp(seq_quant_type_name((seq_quant_type)k), tname) == 0) t = (seq_quant_type)k;
    if (t == SEQ_QUANT_TYPE_COUNT || seq_quant_type_traits(t)->ggml_type < 0) {
        fprintf(stderr, "quantize: '%s' is not a format GGUF can hold (q8_0 q4_0 q4_1 q5_0 q4_K q6_K iq4_nl mxfp4 f16 bf16)\n", tname);
        return 2;
    }
    if (!in) {
        if (!make_demo_model(demo)) {
            fprintf(stderr, "quantize: cannot build the demo model: %s\n", seq_last_error());
            return 1;
        }
        in = demo;
    }
    if (!(st = seq_safetensors_open(in, NULL)) || !(w = seq_gguf_writer_init(NULL))) {
        fprintf(stderr, "quantize: %s\n", seq_last_error());
        return 1;
    }
    {
        const char *arch = "seq", *src = in;
        seq_gguf_writer_kv(w, "general.architecture", SEQ_GGUF_STRING, &arch);
        seq_gguf_writer_kv(w, "seq.source", SEQ_GGUF_STRING, &src);
        seq_gguf_writer_kv(w, "seq.quant_type", SEQ_GGUF_STRING, &tname);
    }
    if (!quiet) printf("%-12s %-14s %-8s %10s %9s\n", "tensor", "shape", "format", "RMSE", "SNR dB");
    for (i = 0; ok && i < seq_safetensors_count(st); i++) {
        const seq_st_info *info = seq_safetensors_get(st, i);
        int64_t cols = info->ndim ? info->shape[info->ndim - 1] : 1, n = info->numel, j;
        int fits = info->ndim >= 2 && info->ndim <= 4 && seq_quant_row_size(t, cols) > 0;
        seq_quant_type tt = fits ? t : SEQ_QUANT_F32;
        float *x = (float *)malloc(sizeof(float) * (size_t)n), *back = (float *)malloc(sizeof(float) * (size_t)n);
        uint8_t *q = (uint8_t *)malloc(seq_quant_row_size(tt, cols) * (size_t)(n / cols));
        double se = 0.0, ss = 0.0, snr;
        char shape[32];
        ok = x && back && q && seq_safetensors_read_f32(st, info->name, x, n) == SEQ_OK &&
             seq_quant_quantize(tt, x, q, n / cols, cols) == SEQ_OK && seq_quant_dequantize(tt, q, back, n / cols, cols) == SEQ_OK &&
             seq_gguf_writer_tensor(w, info->name, tt, info->ndim ? info->ndim : 1, info->ndim ? info->shape : &n, x) == SEQ_OK;
        for (j = 0; ok && j < n; j++) se += ((double)back[j] - x[j]) * ((double)back[j] - x[j]), ss += (double)x[j] * x[j];
        snr = se > 0.0 ? 10.0 * log10(ss / se) : 999.0;
        if (fits) {
            nq++;
            if (snr < worst_snr) worst_snr = snr;
        }
        /* the integer kernel on the first quantized matrix, against f32 on the originals */
        if (ok && fits && info->ndim == 2 && kernel_err == 0.0 && seq_quant_type_traits(tt)->vec_dot) {
            float *v = (float *)malloc(sizeof(float) * (size_t)cols), *yq = (float *)malloc(sizeof(float) * (size_t)(n / cols));
            double num = 0.0, den = 0.0;
            int64_t r, c;
            for (c = 0; c < cols; c++) v[c] = sinf(0.37f * (float)c);
            ok = seq_quant_matvec(tt, q, n / cols, cols, v, yq, NULL) == SEQ_OK;
            for (r = 0; ok && r < n / cols; r++) {
                double yf = 0.0;
                for (c = 0; c < cols; c++) yf += (double)x[r * cols + c] * v[c];
                num += (yq[r] - yf) * (yq[r] - yf), den += yf * yf;
            }
            kernel_err = sqrt(num / den);
            free(v);
            free(yq);
        }
        snprintf(shape, sizeof shape, "%lld x %lld", (long long)(n / cols), (long long)cols);
        if (!quiet) printf("%-12s %-14s %-8s %10.5f %9.2f\n", info->name, shape, seq_quant_type_name(tt), sqrt(se / (double)n), snr);
        free(x);
        free(back);
        free(q);
    }
    if (ok) ok = seq_gguf_writer_write(w, out) == SEQ_OK;
    seq_gguf_writer_free(w);
    /* read the file back: every tensor as written */
    g = ok ? seq_gguf_open(out, NULL) : NULL;
    ok = g && seq_gguf_tensor_count(g) == seq_safetensors_count(st);
    seq_gguf_close(g);
    seq_safetensors_close(st);
    if (!ok) {
        fprintf(stderr, "quantize: %s\n", seq_last_error());
        return 1;
    }
    ok = nq > 0 && worst_snr >= min_snr(t) && kernel_err < 0.25;
    printf("%s: %s %.2f MB -> %s %.2f MB (%s), %lld tensors quantized, worst SNR %.1f dB, kernel matvec rel. error %.4f%s\n",
           ok ? "ok" : "FAILED", in, file_size(in) / 1048576.0, out, file_size(out) / 1048576.0, tname, (long long)nq,
           worst_snr, kernel_err, ok ? "" : " (outside the expected range)");
    return ok ? 0 : 1;
}
