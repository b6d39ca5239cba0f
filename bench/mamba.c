#define _POSIX_C_SOURCE 200809L /* popen, setenv, clock_gettime under -std=c99 */
/* Mamba block forward and forward+backward, seq vs a plain-PyTorch reference
 * (bench/mamba_torch.py: selective_scan_ref's equations) in the same run, same threads:
 * d_model 256, d_state 16, expand 2, d_conv 4, (B=8, T=512). Targets (issue 3): seq forward
 * >= 10x the reference forward; seq forward+backward <= 3.5x seq's own forward. Built with
 * -fopenmp -DSEQ_USE_OPENMP, both sides run OMP_NUM_THREADS threads. The reference's
 * forward+backward (autograd through a 512-step Python loop) takes minutes and has no
 * target: `bench_mamba --torch-backward` times it too. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

static int threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int main(int argc, char **argv) {
    enum { B = 8, T = 512, DM = 256, REPS = 3 };
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_mamba m;
    seq_rng rng;
    int64_t xs[3], i;
    float *x = (float *)malloc((size_t)B * T * DM * sizeof(float));
    double fwd = 1e30, fb = 1e30, tf, tfb;
    static char out[1024], cmd[128];
    int r;
    xs[0] = B;
    xs[1] = T;
    xs[2] = DM;
    seq_rng_seed(&rng, 1);
    if (!x || seq_mamba_init(&m, P, "mamba", seq_mamba_config_default(DM)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK || seq_mamba_init_ssm(&m, &rng) != SEQ_OK) {
        fprintf(stderr, "bench/mamba: setup failed: %s\n", seq_last_error());
        return 1;
    }
    for (i = 0; i < (int64_t)B * T * DM; i++) x[i] = (float)seq_rng_normal(&rng, 0, 1);
    setenv("BLIS_NUM_THREADS", "1", 1);
    if (strcmp(seq_sgemm_backend(), "blis") == 0) bench_blis_use_cpu_kernels();
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/mamba_torch.py %d%s 2>/dev/null", threads(),
             argc > 1 && strcmp(argv[1], "--torch-backward") == 0 ? " --backward" : "");
    bench_peer_output(cmd, out, sizeof out);
    for (r = 0; r < REPS + 1; r++) { /* the first round warms up */
        double t0 = bench_now(), t1;
        seq_tensor *y;
        seq_ctx_reset(ctx);
        y = seq_mamba_forward(ctx, &m, seq_tensor_wrap(ctx, x, 3, xs), NULL);
        t1 = bench_now();
        seq_params_zero_grad(P);
        if (!y || seq_backward(ctx, seq_mean(ctx, y)) != SEQ_OK) {
            fprintf(stderr, "bench/mamba: %s\n", seq_last_error());
            return 1;
        }
        if (r > 0 && t1 - t0 < fwd) fwd = t1 - t0;
        if (r > 0 && bench_now() - t0 < fb) fb = bench_now() - t0;
    }
    fwd *= 1e3;
    fb *= 1e3;
    tf = bench_peer_value(out, "mamba_fwd");
    tfb = bench_peer_value(out, "mamba_fwd_bwd");
    printf("bench/mamba: block d_model %d, d_state 16, expand 2, (B=%d, T=%d), %d thread(s), sgemm backend %s\n", DM,
           B, T, threads(), seq_sgemm_backend());
    printf("%-22s %10s %10s %8s\n", "", "seq ms", "torch ms", "ratio");
    printf("%-22s %10.2f %10.2f %7.1fx   (target >= 10x)\n", "forward", fwd, tf, tf > 0 ? tf / fwd : 0.0);
    if (tfb > 0)
        printf("%-22s %10.2f %10.2f %7.1fx\n", "forward+backward", fb, tfb, tfb / fb);
    else
        printf("%-22s %10.2f %10s   (torch: pass --torch-backward, minutes)\n", "forward+backward", fb, "-");
    printf("seq forward+backward / seq forward: %.2f   (target <= 3.5)\n", fb / fwd);
    free(x);
    seq_ctx_free(ctx);
    seq_params_free(P);
    return 0;
}
