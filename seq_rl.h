/* seq_rl.h — bandits, off-policy evaluation, environments and RL agents.
 *
 * stb-style, on top of seq.h: include it anywhere for the declarations; in exactly one
 * C or C++ file
 *     #define SEQ_RL_IMPLEMENTATION
 *     #include "seq_rl.h"
 * (seq.h's own implementation still needs SEQ_IMPLEMENTATION in one file.)
 *
 * Every stochastic call takes an explicit seq_rng; every object saves and loads; every
 * policy reports the probability of the action it chose, so its logs can be evaluated
 * off-policy later. Bandit statistics are kept in double.
 *
 * The environments reproduce Gymnasium's float64 dynamics step for step: compile the
 * implementation with -ffp-contract=off (GCC contracts to FMA under -march=native).
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  save files: the container every seq_rl object saves into
 *     2  multi-armed bandits
 *     3  contextual and Bayesian-optimization bandits: LinUCB, LinTS, SquareCB, GP-UCB
 *     4  off-policy evaluation
 *     5  environments: CartPole, MountainCar, Acrobot, Pendulum, gridworld, vectorized
 *     6  replay buffers: uniform and prioritized (sum tree)
 *     7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 *     8  policy and value networks, DQN
 *     9  policy-gradient agents: REINFORCE, A2C, PPO, GRPO
 *    10  recurrent policies and the Jump-Start wrapper
 */
#ifndef SEQ_RL_H
#define SEQ_RL_H

#include "seq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  save files: the container every seq_rl object saves into
 * =================================================================================== */

/* ===================================================================================
 * 2  multi-armed bandits
 * =================================================================================== */

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits: LinUCB, LinTS, SquareCB, GP-UCB
 * =================================================================================== */

/* ===================================================================================
 * 4  off-policy evaluation
 * =================================================================================== */

/* ===================================================================================
 * 5  environments: CartPole, MountainCar, Acrobot, Pendulum, gridworld, vectorized
 * =================================================================================== */

/* ===================================================================================
 * 6  replay buffers: uniform and prioritized (sum tree)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents: Q-learning, SARSA, Expected SARSA, TD(lambda)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN
 * =================================================================================== */

/* ===================================================================================
 * 9  policy-gradient agents: REINFORCE, A2C, PPO, GRPO
 * =================================================================================== */

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper
 * =================================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* SEQ_RL_H */

#ifdef SEQ_RL_IMPLEMENTATION
#ifndef SEQ_RL_IMPLEMENTATION_DONE
#define SEQ_RL_IMPLEMENTATION_DONE

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ===================================================================================
 * 1  save files (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 2  multi-armed bandits (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 3  contextual and Bayesian-optimization bandits (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 4  off-policy evaluation (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 5  environments (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 6  replay buffers (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 7  tabular agents (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 8  policy and value networks, DQN (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 9  policy-gradient agents (implementation)
 * =================================================================================== */

/* ===================================================================================
 * 10  recurrent policies and the Jump-Start wrapper (implementation)
 * =================================================================================== */

#endif /* SEQ_RL_IMPLEMENTATION_DONE */
#endif /* SEQ_RL_IMPLEMENTATION */
