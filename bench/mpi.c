#define _POSIX_C_SOURCE 200809L /* popen, clock_gettime under -std=c99 */
/* Data-parallel scaling of seq_mpi.h: 1 rank against 2 on this machine, same global
 * batch (strong scaling), and the all-reduce's share of a training step.
 *   build/bench_mpi               runs `mpirun -np 1` and `-np 2` of build/bench_mpi_mpi
 *                                 (built by `make bench` when mpicc is installed) and
 *                                 prints the ratios; without it, one rank in-process
 *   mpirun -np N build/bench_mpi_mpi --worker   one measurement at N ranks
 * The model is a 2-layer LSTM language model (layer_zoo.h, d_model 256) on random bytes,
 * global batch 32 x 64, AdamW; a step is the shard's forward+backward, the gradient
 * all-reduce and the optimizer, each timed (max over ranks: a step waits for the slowest).
 * Then the all-reduce alone on buffers of 1, 4 and 16 MiB as bus bandwidth (NCCL-tests'
 * definition: bytes * 2(N-1)/N / time, what docs/scaling.md's model uses), and the
 * gradient all-reduce in one bucket against 64 Ki-float buckets. */
#include "bench.h"
#define SEQ_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include "../seq_mpi.h"
#include "../examples/layer_zoo.h"

enum { VOCAB = 256, T = 64, BATCH = 32, D_MODEL = 256, LAYERS = 2, WARMUP = 2, STEPS = 10 };

typedef struct step_times {
    double compute, allreduce, optim;
} step_times;

/* The largest x over ranks: each rank fills its slot of a zeroed vector and the sum
 * all-reduce gathers every slot everywhere. */
static double max_over_ranks(seq_mpi *m, double x) {
    double v[64] = {0}, best = 0;
    int r;
    if (m->size > 64) return x;
    v[m->rank] = x;
    seq_mpi_allreduce_sum(m, v, m->size);
    for (r = 0; r < m->size; r++) best = v[r] > best ? v[r] : best;
    return best;
}

/* Mean per-step times of STEPS data-parallel steps after WARMUP. */
static step_times train_steps(seq_mpi *m, int64_t *numel) {
    seq_params *P = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    zoo_model model;
    seq_adamw opt;
    seq_rng rng;
    step_times sum = {0, 0, 0};
    int32_t *ids = (int32_t *)malloc((size_t)(2 * BATCH * T) * sizeof(int32_t));
    int64_t lo, hi, i, shape[2];
    int s;
    seq_rng_seed(&rng, 1);
    if (!P || !ctx || !ids || zoo_model_init(&model, P, zoo_model_config_default(ZOO_LSTM, VOCAB, D_MODEL, LAYERS)) != SEQ_OK ||
        seq_params_alloc(P, &rng) != SEQ_OK || zoo_model_reset_parameters(&model, &rng) != SEQ_OK ||
        seq_adamw_init(&opt, P, seq_adamw_config_default()) != SEQ_OK || seq_mpi_broadcast_params(m, P, 0) != SEQ_OK) {
        fprintf(stderr, "bench_mpi: %s\n", seq_last_error());
        exit(1);
    }
    *numel = P->numel;
    seq_mpi_shard(m, BATCH, &lo, &hi);
    shape[0] = hi - lo, shape[1] = T;
    for (s = 0; s < WARMUP + STEPS; s++) {
        double t0, t1, t2, t3;
        seq_tensor *loss;
        for (i = 0; i < 2 * BATCH * T; i++) ids[i] = (int32_t)seq_rng_below(&rng, VOCAB);
        t0 = bench_now();
        seq_ctx_reset(ctx);
        loss = seq_cross_entropy(ctx, zoo_model_forward(ctx, &model, seq_tensor_wrap_i32(ctx, ids + lo * T, 2, shape)),
                                 seq_tensor_wrap_i32(ctx, ids + (BATCH + lo) * T, 2, shape), -1);
        seq_params_zero_grad(P);
        seq_backward(ctx, loss);
        t1 = bench_now();
        seq_mpi_allreduce_grads(m, P, (float)(hi - lo) / BATCH);
        t2 = bench_now();
        seq_adamw_step(&opt, P, 1e-3f);
        t3 = bench_now();
        if (s >= WARMUP) sum.compute += t1 - t0, sum.allreduce += t2 - t1, sum.optim += t3 - t2;
    }
    sum.compute /= STEPS, sum.allreduce /= STEPS, sum.optim /= STEPS;
    seq_adamw_free(&opt);
    seq_ctx_free(ctx);
    seq_params_free(P);
    free(ids);
    return sum;
}

/* Seconds per all-reduce of n floats in buckets of `bucket`, best of 5. */
static double allreduce_s(seq_mpi *m, int64_t n, int64_t bucket) {
    seq_params *P = seq_params_init(NULL);
    seq_rng rng;
    double best = 1e30;
    int k;
    seq_rng_seed(&rng, 2);
    seq_params_add(P, "buf", 1, &n, seq_init_zeros());
    seq_params_alloc(P, &rng);
    m->cfg.bucket_floats = bucket;
    for (k = 0; k < 6; k++) {
        double t0 = bench_now(), t;
        seq_mpi_allreduce_grads(m, P, 1.0f);
        t = max_over_ranks(m, bench_now() - t0);
        if (k > 0 && t < best) best = t;
    }
    m->cfg = seq_mpi_config_default();
    seq_params_free(P);
    return best;
}

static int worker(void) {
    seq_mpi m;
    step_times st;
    int64_t numel, mib;
    double step;
    if (seq_mpi_init(&m, seq_mpi_config_default()) != SEQ_OK) {
        fprintf(stderr, "bench_mpi: %s\n", seq_last_error());
        return 1;
    }
    st = train_steps(&m, &numel);
    st.compute = max_over_ranks(&m, st.compute), st.allreduce = max_over_ranks(&m, st.allreduce);
    st.optim = max_over_ranks(&m, st.optim);
    step = st.compute + st.allreduce + st.optim;
    if (m.rank == 0)
        printf("ranks %d params %lld step_s %.6f compute_s %.6f allreduce_s %.6f optim_s %.6f\n", m.size,
               (long long)numel, step, st.compute, st.allreduce, st.optim);
    for (mib = 1; mib <= 16; mib *= 4) {
        int64_t n = mib << 18;
        double t = allreduce_s(&m, n, 0);
        if (m.rank == 0)
            printf("allreduce_%lldMiB_s %.6f busbw_GBps %.3f\n", (long long)mib, t,
                   m.size > 1 ? 4.0 * n * 2.0 * (m.size - 1) / m.size / t * 1e-9 : 0.0);
    }
    {
        double one = allreduce_s(&m, numel, 0), many = allreduce_s(&m, numel, 1 << 16);
        if (m.rank == 0) printf("grad_one_bucket_s %.6f grad_64Ki_buckets_s %.6f\n", one, many);
    }
    seq_mpi_free(&m);
    return 0;
}

/* One worker run under mpirun (its output into out), 0 when it did not run. */
static int run_ranks(int np, char *out, size_t cap) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe %s -np %d build/bench_mpi_mpi --worker 2>/dev/null",
             getuid() == 0 ? "--allow-run-as-root" : "", np);
    bench_peer_output(cmd, out, cap);
    return bench_peer_value(out, "step_s") > 0;
}

int main(int argc, char **argv) {
    static char one[4096], two[4096];
    double s1, s2, a1, a2, c1, c2;
    if (argc > 1 && strcmp(argv[1], "--worker") == 0) return worker();
    if (access("build/bench_mpi_mpi", X_OK) != 0 || !run_ranks(1, one, sizeof one) || !run_ranks(2, two, sizeof two)) {
        printf("bench_mpi: SKIP 1 vs 2 ranks (needs mpirun and build/bench_mpi_mpi: `make bench` builds it when mpicc "
               "is installed); one rank in-process:\n");
        fflush(stdout);
        return worker();
    }
    fputs(one, stdout);
    fputs(two, stdout);
    s1 = bench_peer_value(one, "step_s"), s2 = bench_peer_value(two, "step_s");
    a1 = bench_peer_value(one, "allreduce_s"), a2 = bench_peer_value(two, "allreduce_s");
    c1 = bench_peer_value(one, "compute_s"), c2 = bench_peer_value(two, "compute_s");
    printf("LSTM LM (%g parameters), global batch %d x %d:\n", bench_peer_value(one, "params"), BATCH, T);
    printf("  1 rank : %7.1f ms/step (forward+backward %7.1f, all-reduce %5.2f = %4.1f%% of the step)\n", 1e3 * s1,
           1e3 * c1, 1e3 * a1, 100 * a1 / s1);
    printf("  2 ranks: %7.1f ms/step (forward+backward %7.1f, all-reduce %5.2f = %4.1f%% of the step)\n", 1e3 * s2,
           1e3 * c2, 1e3 * a2, 100 * a2 / s2);
    printf("  speedup %.2fx, scaling efficiency %.0f%% (ideal 2x, 100%%); compute alone %.2fx\n", s1 / s2,
           100 * s1 / (2 * s2), c1 / c2);
    return 0;
}
