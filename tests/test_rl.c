/* Runner for seq_rl.h: every suite, then the `N passed, N failed` line. */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

int main(void) {
    seq_tests_rl_bandits();
    seq_tests_rl_ope();
    seq_tests_rl_envs();
    seq_tests_rl_agents();
    seq_tests_rl_value();
    return seq_test_summary();
}
