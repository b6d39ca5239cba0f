#include "seq_test.h"
#include "../seq_rl.h"

void seq_tests_rl_bandits(void) {}
void seq_tests_rl_ope(void) {}
