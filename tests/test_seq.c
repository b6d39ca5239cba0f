/* Runner for seq.h: every suite, then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

int seq_test_npassed, seq_test_nfailed, seq_test_cur_failed;
const char *seq_test_cur_name = "";
long seq_test_live_blocks, seq_test_fail_at = -1, seq_test_alloc_count;

static int seq_test_should_fail(void) {
    long k = seq_test_alloc_count++;
    return seq_test_fail_at >= 0 && k == seq_test_fail_at;
}
void *seq_test_malloc(void *ud, size_t sz) {
    void *p;
    (void)ud;
    if (seq_test_should_fail()) return NULL;
    p = malloc(sz ? sz : 1);
    if (p) seq_test_live_blocks++;
    return p;
}
void *seq_test_realloc(void *ud, void *p, size_t sz) {
    void *q;
    (void)ud;
    if (seq_test_should_fail()) return NULL;
    q = realloc(p, sz ? sz : 1);
    if (q && !p) seq_test_live_blocks++;
    return q;
}
void seq_test_free(void *ud, void *p) {
    (void)ud;
    if (p) seq_test_live_blocks--;
    free(p);
}
void seq_test_fail_after(long k) {
    seq_test_alloc_count = 0;
    seq_test_fail_at = k;
}
void seq_test_fail_never(void) { seq_test_fail_at = -1; }

int main(void) {
    printf("seq %d.%d.%d, sgemm backend: %s\n", SEQ_VERSION_MAJOR, SEQ_VERSION_MINOR, SEQ_VERSION_PATCH,
           seq_sgemm_backend());
    seq_tests_core();
    seq_tests_gemm();
    seq_tests_ops();
    seq_tests_seqops();
    seq_tests_losses();
    seq_tests_optim();
    seq_tests_files();
    seq_tests_layers();
    seq_tests_xlstm();
    seq_tests_delta();
    seq_tests_s4();
    seq_tests_mamba();
    seq_tests_lru();
    printf("%d passed, %d failed\n", seq_test_npassed, seq_test_nfailed);
    return seq_test_nfailed ? 1 : 0;
}
