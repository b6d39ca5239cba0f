#include "seq_test.h"
void seq_tests_seqops(void) {}
