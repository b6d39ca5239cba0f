/* The harness every runner links: counters and the OOM-injecting allocator that
 * tests/seq_test.h routes SEQ_MALLOC/SEQ_REALLOC/SEQ_FREE through. */
#include "seq_test.h"

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

int seq_test_summary(void) {
    printf("%d passed, %d failed\n", seq_test_npassed, seq_test_nfailed);
    return seq_test_nfailed ? 1 : 0;
}
