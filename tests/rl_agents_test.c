#include "seq_test.h"
#include "../seq_rl.h"

void seq_tests_rl_envs(void) {}
void seq_tests_rl_agents(void) {}
