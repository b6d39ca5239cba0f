#include "seq_test.h"
void seq_tests_lru(void) {}
