/* Runner for seq.h: every suite, then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#include "../seq.h"

void seq_tests_reliability(void); /* tests/seq_reliability_test.c */

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
    seq_tests_reliability();
    return seq_test_summary();
}
