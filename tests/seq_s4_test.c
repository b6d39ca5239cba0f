#include "seq_test.h"
void seq_tests_s4(void) {}
