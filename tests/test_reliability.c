/* Runner for the reliability suite (tests/reliability_test.c), whose workloads span
 * every header: then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#include "../seq_quant.h"
#include "../seq_rl.h"
#include "../seq_rec.h"

int main(void) {
    seq_tests_reliability();
    return seq_test_summary();
}
