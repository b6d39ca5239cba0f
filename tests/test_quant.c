/* Runner for seq_quant.h: every suite, then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#include "../seq_quant.h"

int main(void) {
    seq_tests_quant_formats();
    seq_tests_quant_kernels();
    seq_tests_quant_gguf();
    seq_tests_quant_algos();
    seq_tests_quant_layers();
    return seq_test_summary();
}
