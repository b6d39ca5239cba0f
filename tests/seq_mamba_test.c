#include "seq_test.h"
void seq_tests_mamba(void) {}
