#include "seq_test.h"
#include "../seq_quant.h"

void seq_tests_quant_algos(void) {}
