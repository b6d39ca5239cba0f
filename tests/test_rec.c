/* Runner for seq_rec.h: every suite, then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_rec.h"

int main(void) {
    seq_tests_rec_data();
    seq_tests_rec_metrics();
    seq_tests_rec_models();
    return seq_test_summary();
}
