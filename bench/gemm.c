/* seq_sgemm against its peers in one run, all on one thread: the own packed kernel
 * (or BLIS, when built with -DSEQ_USE_BLIS), BLIS and OpenBLAS loaded at run time with
 * dlopen (so the plain build needs neither at link time; a missing one is reported and
 * skipped), and the scalar reference for small sizes. Prints GFLOP/s (best of several
 * runs), own/BLIS and own/OpenBLAS per row, and geometric means of those ratios over
 * the square rows with n >= 256 and over the RNN rows (M x K times the transposed
 * (4K x K) weight, as seq_linear and the recurrent layers call it). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, setenv */
#include <math.h>
#include "bench.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

/* The BLIS typed API (trans_t is an enum, BLIS_TRANSPOSE = 8; dim_t, inc_t 64-bit) and CBLAS. */
typedef void (*bli_sgemm_fn)(unsigned, unsigned, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t,
                             float *, int64_t, int64_t, float *, float *, int64_t, int64_t);
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                               float *, int);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static const char openblas_lib[] = "libopenblas.so.0";

enum { OWN, BLIS, OPENBLAS, REF, NIMPL };
static const char *impl_name[NIMPL] = {"own", "BLIS", "OpenBLAS", "scalar"};

typedef struct {
    bli_sgemm_fn bli;
    cblas_sgemm_fn cblas;
} peers;

/* Symbols are looked up as data pointers, then copied into the function pointer type:
 * ISO C has no conversion between the two, POSIX guarantees the representation. */
static void *lib_open(const char *file, const char *sym, void *fn_out) {
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL), *p = h ? dlsym(h, sym) : NULL;
    if (!p) {
        printf("  %s: not available (%s)\n", file, h ? "no symbol" : dlerror());
        return NULL;
    }
    memcpy(fn_out, &p, sizeof p);
    return h;
}

static void *lib_sym(void *h, const char *sym) { return h ? dlsym(h, sym) : NULL; }

/* Peers run single-threaded: the environment is read when they initialize, and the
 * explicit setters cover a library that was initialized before. */
static peers load_peers(void) {
    peers p;
    void *hb, *ho, *s;
    memset(&p, 0, sizeof p);
    setenv("BLIS_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    hb = lib_open(bench_blis_lib, "bli_sgemm", &p.bli);
    ho = lib_open(openblas_lib, "cblas_sgemm", &p.cblas);
    bench_blis_use_cpu_kernels();
    if ((s = lib_sym(hb, "bli_thread_set_num_threads")) != NULL) {
        void (*set)(int64_t);
        memcpy(&set, &s, sizeof s);
        set(1);
    }
    if ((s = lib_sym(ho, "openblas_set_num_threads")) != NULL) {
        void (*set)(int);
        memcpy(&set, &s, sizeof s);
        set(1);
    }
    if ((s = lib_sym(hb, "bli_arch_query_id")) != NULL) {
        bench_blis_query_fn query;
        bench_blis_name_fn name;
        void *t = lib_sym(hb, "bli_arch_string");
        memcpy(&query, &s, sizeof s);
        memcpy(&name, &t, sizeof t);
        if (t) printf("  BLIS (%s) runs its '%s' configuration\n", bench_blis_lib, name(query()));
    }
    if ((s = lib_sym(ho, "openblas_get_corename")) != NULL) {
        char *(*core)(void);
        memcpy(&core, &s, sizeof s);
        printf("  OpenBLAS (%s) runs its '%s' kernels\n", openblas_lib, core());
    }
    return p;
}

static int have(const peers *p, int impl) {
    return impl == BLIS ? p->bli != NULL : impl == OPENBLAS ? p->cblas != NULL : 1;
}

/* C (M,N) = A (M,K) op(B), op(B) = B (K,N) or, with tB, B^T for B stored (N,K). */
static void run(const peers *p, int impl, int tB, int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                float *C) {
    float one = 1.0f, zero = 0.0f;
    int64_t ldb = tB ? K : N;
    switch (impl) {
    case OWN: seq_sgemm(0, tB, M, N, K, 1.0f, A, K, B, ldb, 0.0f, C, N); break;
    case BLIS: p->bli(0, tB ? 8u : 0u, M, N, K, &one, (float *)A, K, 1, (float *)B, ldb, 1, &zero, C, N, 1); break;
    case OPENBLAS:
        p->cblas(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, tB ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)M, (int)N, (int)K, 1.0f, A,
                 (int)K, B, (int)ldb, 0.0f, C, (int)N);
        break;
    default: seq_sgemm_ref(0, tB, M, N, K, 1.0f, A, K, B, ldb, 0.0f, C, N); break;
    }
}

/* GFLOP/s of each implementation (0: not run), best of repeated rounds in which every
 * implementation runs once, so that load from other processes hits all of them alike:
 * at least 5 rounds and 1 s, at most 60 rounds. */
static void measure(const peers *p, const int *use, int tB, int64_t M, int64_t N, int64_t K, const float *A,
                    const float *B, float *C, double *gf) {
    double best[NIMPL], spent = 0.0;
    int r, impl;
    for (impl = 0; impl < NIMPL; impl++) best[impl] = 1e30;
    for (r = 0; r < 60 && (r < 5 || spent < 1.0); r++)
        for (impl = 0; impl < NIMPL; impl++) {
            double t;
            if (!use[impl]) continue;
            t = bench_now();
            run(p, impl, tB, M, N, K, A, B, C);
            t = bench_now() - t;
            spent += t;
            if (t < best[impl]) best[impl] = t;
        }
    for (impl = 0; impl < NIMPL; impl++)
        gf[impl] = use[impl] ? 2.0 * (double)M * (double)N * (double)K / best[impl] * 1e-9 : 0.0;
}

typedef struct {
    double logsum[2]; /* own/BLIS, own/OpenBLAS */
    int count[2];
} geomean;

/* A timing is only worth printing if the answers agree: each implementation's C is
 * compared with the own one (inputs in [-1,1], so |C| <= K bounds the scale). */
static void check(const peers *p, const int *use, int tB, int64_t M, int64_t N, int64_t K, const float *A,
                  const float *B, float *C, float *C2) {
    int64_t i;
    int impl;
    run(p, OWN, tB, M, N, K, A, B, C);
    for (impl = BLIS; impl < NIMPL; impl++) {
        double worst = 0.0;
        if (!use[impl]) continue;
        run(p, impl, tB, M, N, K, A, B, C2);
        for (i = 0; i < M * N; i++) worst = fmax(worst, fabs((double)C[i] - (double)C2[i]));
        if (!(worst <= 1e-5 * (double)K)) printf("  (%s differs from own by %g)\n", impl_name[impl], worst);
    }
}

static void row(const peers *p, const char *label, int tB, int64_t M, int64_t N, int64_t K, int with_ref,
                geomean *g) {
    float *A = (float *)malloc((size_t)(M * K + K * N + 2 * M * N) * sizeof(float)), *B = A + M * K, *C = B + K * N;
    double gf[NIMPL];
    int64_t i;
    int impl, use[NIMPL];
    seq_rng rng;
    seq_rng_seed(&rng, (uint64_t)(M * 31 + N * 7 + K));
    for (i = 0; i < M * K + K * N; i++) A[i] = (float)seq_rng_uniform(&rng, -1.0, 1.0);
    for (impl = 0; impl < NIMPL; impl++) use[impl] = have(p, impl) && (impl != REF || with_ref);
    check(p, use, tB, M, N, K, A, B, C, C + M * N);
    measure(p, use, tB, M, N, K, A, B, C, gf);
    printf("%-28s", label);
    for (impl = 0; impl < NIMPL; impl++) {
        if (gf[impl] > 0.0) printf(" %9.1f", gf[impl]);
        else printf(" %9s", "-");
    }
    for (impl = BLIS; impl <= OPENBLAS; impl++) {
        if (gf[impl] > 0.0) {
            printf(" %8.2fx", gf[OWN] / gf[impl]);
            if (g) {
                g->logsum[impl - BLIS] += log(gf[OWN] / gf[impl]);
                g->count[impl - BLIS]++;
            }
        } else {
            printf(" %9s", "-");
        }
    }
    printf("\n");
    fflush(stdout);
    free(A);
}

static void print_geomean(const char *what, const geomean *g) {
    printf("geometric mean of own/peer over %s:", what);
    if (g->count[0]) printf("  own/BLIS %.2fx", exp(g->logsum[0] / g->count[0]));
    if (g->count[1]) printf("  own/OpenBLAS %.2fx", exp(g->logsum[1] / g->count[1]));
    printf("\n");
}

int main(void) {
    static const int64_t square[] = {64, 128, 256, 512, 1024, 2048};
    static const int64_t rnn_m[] = {32, 64, 128, 256}, rnn_k[] = {256, 512, 1024};
    geomean gsq, grnn;
    peers p;
    char label[64];
    int i, j, impl;
    double t0 = bench_now();
    printf("bench/gemm: single-precision GEMM, GFLOP/s on 1 thread (best of >= 5 interleaved runs)\n");
    printf("  own = seq_sgemm, backend '%s'\n", seq_sgemm_backend());
    p = load_peers();
    memset(&gsq, 0, sizeof gsq);
    memset(&grnn, 0, sizeof grnn);
    printf("\n%-28s", "shape");
    for (impl = 0; impl < NIMPL; impl++) printf(" %9s", impl_name[impl]);
    printf(" %9s %9s\n", "own/BLIS", "own/OBLAS");
    for (i = 0; i < (int)(sizeof square / sizeof square[0]); i++) {
        int64_t n = square[i];
        snprintf(label, sizeof label, "square n=%lld", (long long)n);
        row(&p, label, 0, n, n, n, n <= 256, n >= 256 ? &gsq : NULL);
    }
    for (i = 0; i < 4; i++)
        for (j = 0; j < 3; j++) {
            int64_t M = rnn_m[i], K = rnn_k[j];
            snprintf(label, sizeof label, "rnn M=%lld K=%lld N=%lld", (long long)M, (long long)K, (long long)(4 * K));
            row(&p, label, 1, M, 4 * K, K, 0, &grnn);
        }
    printf("\n");
    print_geomean("square n >= 256", &gsq);
    print_geomean("RNN shapes", &grnn);
    printf("(%.0f s)\n", bench_now() - t0);
    return 0;
}
