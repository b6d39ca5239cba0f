/* A small test harness: a test is a function; CHECKs inside it count failures and
 * print where; RUN() counts the test as passed when none of its checks failed.
 * The runner ends with `N passed, N failed` and exits non-zero on any failure. */
#ifndef SEQ_TEST_H
#define SEQ_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int seq_test_npassed, seq_test_nfailed, seq_test_cur_failed;
extern const char *seq_test_cur_name;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("FAIL %s (%s:%d): %s\n", seq_test_cur_name, __FILE__, __LINE__, #cond);   \
            seq_test_cur_failed++;                                                           \
        }                                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("FAIL %s (%s:%d): %s: ", seq_test_cur_name, __FILE__, __LINE__, #cond);   \
            printf(__VA_ARGS__);                                                             \
            printf("\n");                                                                    \
            seq_test_cur_failed++;                                                           \
        }                                                                                    \
    } while (0)

/* |a-b| <= tol * max(1,|a|,|b|): relative for large values, absolute near zero. */
#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        double a_ = (double)(a), b_ = (double)(b), m_ = fabs(a_) > fabs(b_) ? fabs(a_) : fabs(b_); \
        if (!(fabs(a_ - b_) <= (tol) * (m_ > 1.0 ? m_ : 1.0))) {                             \
            printf("FAIL %s (%s:%d): %s = %.9g vs %s = %.9g (tol %g)\n", seq_test_cur_name,  \
                   __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol));                       \
            seq_test_cur_failed++;                                                           \
        }                                                                                    \
    } while (0)

#define RUN(fn)                                                                              \
    do {                                                                                     \
        seq_test_cur_name = #fn;                                                             \
        seq_test_cur_failed = 0;                                                             \
        fn();                                                                                \
        if (seq_test_cur_failed) seq_test_nfailed++;                                         \
        else seq_test_npassed++;                                                             \
    } while (0)

#define SKIP(why)                                                                            \
    do {                                                                                     \
        printf("SKIP %s: %s\n", seq_test_cur_name, why);                                     \
        return;                                                                              \
    } while (0)

/* The allocator every test binary builds seq with: counts live blocks so a test can
 * assert nothing leaked, and fails the k-th allocation on request (OOM injection). */
void *seq_test_malloc(void *ud, size_t sz);
void *seq_test_realloc(void *ud, void *p, size_t sz);
void seq_test_free(void *ud, void *p);
extern long seq_test_live_blocks;   /* allocations not yet freed */
extern long seq_test_fail_at;       /* fail the allocation with this index (0 = next); -1 never */
extern long seq_test_alloc_count;   /* allocations since the last seq_test_fail_after() */
void seq_test_fail_after(long k);   /* arm: the k-th allocation from now on fails */
void seq_test_fail_never(void);
int seq_test_summary(void);         /* prints `N passed, N failed`; the runner's exit code */

#define SEQ_MALLOC(ud, sz) seq_test_malloc((ud), (sz))
#define SEQ_REALLOC(ud, p, sz) seq_test_realloc((ud), (p), (sz))
#define SEQ_FREE(ud, p) seq_test_free((ud), (p))

/* Per-area test suites, each in its own file, called by the runner's main. */
void seq_tests_core(void);
void seq_tests_gemm(void);
void seq_tests_ops(void);
void seq_tests_seqops(void);
void seq_tests_losses(void);
void seq_tests_optim(void);
void seq_tests_files(void);
void seq_tests_layers(void);
void seq_tests_xlstm(void);
void seq_tests_delta(void);
void seq_tests_s4(void);
void seq_tests_mamba(void);
void seq_tests_lru(void);

/* seq_quant.h runner (tests/test_quant.c) */
void seq_tests_quant_formats(void);
void seq_tests_quant_kernels(void);
void seq_tests_quant_gguf(void);
void seq_tests_quant_algos(void);
void seq_tests_quant_layers(void);
/* seq_rl.h runner (tests/test_rl.c) */
void seq_tests_rl_bandits(void);
void seq_tests_rl_ope(void);
void seq_tests_rl_envs(void);
void seq_tests_rl_agents(void);
void seq_tests_rl_value(void);
/* seq_rec.h runner (tests/test_rec.c) */
void seq_tests_rec_data(void);
void seq_tests_rec_metrics(void);
void seq_tests_rec_models(void);
/* reliability runner (tests/test_reliability.c) */
void seq_tests_reliability(void);
#endif
