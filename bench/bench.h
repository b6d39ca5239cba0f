/* Shared by the benchmarks: a clock, running a peer script, and making BLIS run the
 * kernels of this CPU. Include after defining _POSIX_C_SOURCE 200809L. */
#ifndef SEQ_BENCH_H
#define SEQ_BENCH_H
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Threads a run uses: OMP_NUM_THREADS in an OpenMP build (-fopenmp -DSEQ_USE_OPENMP),
 * else one; peers are told the same count. */
static __attribute__((unused)) int bench_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static __attribute__((unused)) double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Everything a peer command prints on stdout, NUL-terminated ("" if it cannot run). */
static __attribute__((unused)) void bench_peer_output(const char *cmd, char *buf, size_t cap) {
    size_t len = 0;
    FILE *p = popen(cmd, "r");
    if (p) {
        len = fread(buf, 1, cap - 1, p);
        pclose(p);
    }
    buf[len] = 0;
}

/* The number after `key ` in a peer's output, or -1. */
static __attribute__((unused)) double bench_peer_value(const char *out, const char *key) {
    const char *p = strstr(out, key);
    double v = -1.0;
    if (!p || sscanf(p + strlen(key), " %lf", &v) != 1) v = -1.0;
    return v;
}

static const char bench_blis_lib[] = "libblis.so.4";
typedef int (*bench_blis_query_fn)(void);
typedef const char *(*bench_blis_name_fn)(int);

/* Whether libblis would pick its portable 'generic' configuration by itself, asked in a
 * child process because BLIS fixes its choice (and reads BLIS_ARCH_TYPE) at the first
 * query. Symbols are looked up as data pointers and copied into function pointers: ISO C
 * has no conversion between the two, POSIX guarantees the representation. */
static __attribute__((unused)) int bench_blis_native_is_generic(void) {
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
        bench_blis_query_fn query;
        bench_blis_name_fn name;
        void *h = dlopen(bench_blis_lib, RTLD_NOW | RTLD_LOCAL), *q = h ? dlsym(h, "bli_arch_query_id") : NULL,
             *n = h ? dlsym(h, "bli_arch_string") : NULL;
        if (!q || !n) _exit(0);
        memcpy(&query, &q, sizeof q);
        memcpy(&name, &n, sizeof n);
        _exit(strcmp(name(query()), "generic") == 0);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

/* BLIS 0.9 picks kernels by CPUID and falls back to its portable 'generic' C code on a
 * CPU it does not know (as AMD family 0x1A, Zen 5). Comparing against that would flatter
 * seq, so this names the configuration for the instruction set the CPU has ('skx' for
 * AVX-512, 'haswell' for AVX2) in BLIS_ARCH_TYPE before BLIS's first call. A
 * BLIS_ARCH_TYPE set by the user is left alone. */
static __attribute__((unused)) void bench_blis_use_cpu_kernels(void) {
    const char *want = __builtin_cpu_supports("avx512f")                                   ? "skx"
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "haswell"
                                                                                         : NULL;
    void *h = dlopen(bench_blis_lib, RTLD_NOW | RTLD_LOCAL), *n = h ? dlsym(h, "bli_arch_string") : NULL;
    bench_blis_name_fn name;
    char id[16];
    int i;
    if (!n || !want || getenv("BLIS_ARCH_TYPE") || !bench_blis_native_is_generic()) return;
    memcpy(&name, &n, sizeof n);
    for (i = 0; strcmp(name(i), "generic") != 0; i++) /* 'generic' ends BLIS's table */
        if (strcmp(name(i), want) == 0) {
            snprintf(id, sizeof id, "%d", i);
            setenv("BLIS_ARCH_TYPE", id, 1);
            printf("  BLIS would run its 'generic' C code on this CPU; BLIS_ARCH_TYPE=%s selects '%s'\n", id, want);
            return;
        }
}
#endif
