#define _POSIX_C_SOURCE 200809L /* popen, setenv, clock_gettime under -std=c99 */
/* One AdamW training step of a 784-1024-1024-10 ReLU MLP with cross-entropy at batch
 * 256, one thread, seq vs PyTorch 1.13 CPU (bench/mlp_torch.py) in the same run.
 * The step is ~2.86 GFLOP of GEMM, so this measures how close seq gets to the GEMM peak. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

enum { B = 256, IN = 784, H = 1024, OUT = 10, WARMUP = 3, REPS = 20 };

int main(void) {
    static float x[B * IN];
    static int32_t y[B];
    int64_t s1[2] = {H, IN}, s2[2] = {H, H}, s3[2] = {OUT, H}, sh[1] = {H}, so[1] = {OUT};
    int64_t sx[2] = {B, IN}, sy[1] = {B}, i;
    const double flops = 3.0 * 2.0 * B * ((double)IN * H + (double)H * H + (double)H * OUT);
    seq_rng rng;
    seq_params *P;
    seq_tensor *w1, *b1, *w2, *b2, *w3, *b3;
    seq_adamw opt;
    seq_ctx *ctx;
    double best = 1e30, tms;
    static char out[256];
    int rep;

    setenv("BLIS_NUM_THREADS", "1", 1);
    if (strcmp(seq_sgemm_backend(), "blis") == 0) bench_blis_use_cpu_kernels();
    seq_rng_seed(&rng, 0);
    for (i = 0; i < B * IN; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    for (i = 0; i < B; i++) y[i] = (int32_t)seq_rng_below(&rng, OUT);
    P = seq_params_init(NULL);
    w1 = seq_params_add(P, "w1", 2, s1, seq_init_kaiming_uniform(2.236f));
    b1 = seq_params_add(P, "b1", 1, sh, seq_init_zeros());
    w2 = seq_params_add(P, "w2", 2, s2, seq_init_kaiming_uniform(2.236f));
    b2 = seq_params_add(P, "b2", 1, sh, seq_init_zeros());
    w3 = seq_params_add(P, "w3", 2, s3, seq_init_kaiming_uniform(2.236f));
    b3 = seq_params_add(P, "b3", 1, so, seq_init_zeros());
    ctx = seq_ctx_init(NULL);
    if (!ctx || seq_params_alloc(P, &rng) != SEQ_OK || seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK) {
        fprintf(stderr, "bench_mlp: %s\n", seq_last_error());
        return 1;
    }
    for (rep = 0; rep < WARMUP + REPS; rep++) {
        double t0 = bench_now(), dt;
        seq_tensor *h, *loss;
        seq_ctx_reset(ctx);
        h = seq_relu(ctx, seq_linear(ctx, seq_tensor_wrap(ctx, x, 2, sx), w1, b1));
        h = seq_relu(ctx, seq_linear(ctx, h, w2, b2));
        loss = seq_cross_entropy(ctx, seq_linear(ctx, h, w3, b3), seq_tensor_wrap_i32(ctx, y, 1, sy), -1);
        seq_params_zero_grad(P);
        if (seq_backward(ctx, loss) != SEQ_OK) {
            fprintf(stderr, "bench_mlp: %s\n", seq_ctx_error(ctx));
            return 1;
        }
        seq_adamw_step(&opt, P, 1e-3f);
        dt = bench_now() - t0;
        if (rep >= WARMUP && dt < best) best = dt;
    }
    bench_peer_output("/usr/bin/python3 bench/mlp_torch.py 2>/dev/null", out, sizeof out);
    tms = bench_peer_value(out, "torch_ms_per_step");
    printf("bench/mlp: AdamW step, B=%d, %d-%d-%d-%d ReLU MLP, 1 thread, %.2f GFLOP/step\n", B, IN, H, H, OUT,
           flops * 1e-9);
    printf("  seq (sgemm: %-6s)  %8.2f ms  %6.1f GFLOP/s\n", seq_sgemm_backend(), best * 1e3, flops / best * 1e-9);
    if (tms > 0) {
        printf("  PyTorch 1.13 CPU      %8.2f ms  %6.1f GFLOP/s\n", tms, flops / (tms * 1e-3) * 1e-9);
        printf("  ratio seq/PyTorch (speed): %.2fx\n", tms * 1e-3 / best);
    } else {
        printf("  PyTorch 1.13 CPU: not available (/usr/bin/python3 with torch)\n");
    }
    seq_adamw_free(&opt);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return 0;
}
