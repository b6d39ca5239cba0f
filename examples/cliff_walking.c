/* Cliff walking (Sutton & Barto, example 6.6) with tabular SARSA and Q-learning: the
 * same epsilon-greedy exploration, two answers. Q-learning learns the shortest path
 * along the cliff edge and keeps falling off while it explores; SARSA learns the value
 * of what it actually does, walks further from the edge, and earns more online. Prints
 * both greedy paths on the map and the mean return of the last 400 training episodes.
 *
 *     ./build/cliff_walking [--episodes N] [--seed S] [--quiet]
 *
 * With --quiet it prints one line and exits 0 when the classic contrast shows: the
 * Q-learning path is the optimal 13 steps, and SARSA's online return is the higher. */
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

#include <stdlib.h>
#include <string.h>

#define W 12
#define H 4

static const char *map = "............\n"
                         "............\n"
                         "............\n"
                         "SXXXXXXXXXXG";

/* Trains one agent; returns the mean return of the episodes after the first 200 and
 * draws its greedy path into path (H x W cells, '*' where it walks); *len gets the path's
 * length (negative when it does not reach G in 100 steps). */
static double train(seq_rl_td_algo algo, int episodes, uint64_t seed, char *path, int *len) {
    seq_rl_env e;
    seq_rl_gridworld_config gc = seq_rl_gridworld_config_default();
    seq_rl_tabular t;
    seq_rl_tabular_config c = seq_rl_tabular_config_default(algo);
    seq_rl_step st;
    seq_rng rng;
    double ret, online = 0;
    int ep, n = 0;
    gc.step_reward = -1, gc.pit_reward = -100, gc.goal_reward = -1, gc.max_steps = 200;
    c.alpha = 0.5, c.gamma = 1.0, c.epsilon = 0.1;
    if (seq_rl_gridworld_init(&e, map, gc, seed) != SEQ_OK || seq_rl_tabular_init(&t, c, W * H, 4, NULL) != SEQ_OK) {
        fprintf(stderr, "setup failed: %s\n", seq_last_error());
        exit(1);
    }
    seq_rng_seed(&rng, seed);
    for (ep = 0; ep < episodes; ep++) {
        seq_rl_tabular_episode(&t, &e, &rng, &ret);
        if (ep >= 200) online += ret / (double)(episodes - 200);
    }
    for (n = 0; n < H * W; n++) path[n] = e.grid[n];
    seq_rl_env_reset(&e, NULL);
    n = 0;
    do {
        seq_rl_env_step(&e, seq_rl_tabular_act(&t, seq_rl_env_state_id(&e), NULL, NULL), NULL, &st);
        if (e.grid[seq_rl_env_state_id(&e)] == '.') path[seq_rl_env_state_id(&e)] = '*';
        n++;
    } while (!st.terminated && n < 100);
    *len = st.terminated && e.grid[seq_rl_env_state_id(&e)] == 'G' ? n : -n;
    seq_rl_tabular_free(&t);
    return online;
}

static void show(const char *name, const char *path, int len, double online) {
    int r;
    printf("%s: greedy path %d steps, mean online return %.1f\n", name, len, online);
    for (r = 0; r < H; r++) printf("    %.*s\n", W, path + r * W);
}

int main(int argc, char **argv) {
    int episodes = 600, quiet = 0, i, len_q, len_s, good;
    uint64_t seed = 1;
    char path_q[H * W], path_s[H * W];
    double online_q, online_s;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--episodes") && i + 1 < argc) episodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--episodes N] [--seed S] [--quiet]\n", argv[0]);
            return 2;
        }
    }
    if (episodes <= 200) {
        fprintf(stderr, "--episodes must exceed 200 (the first 200 are not averaged)\n");
        return 2;
    }
    online_q = train(SEQ_RL_Q_LEARNING, episodes, seed, path_q, &len_q);
    online_s = train(SEQ_RL_SARSA, episodes, seed, path_s, &len_s);
    good = len_q == 13 && online_s > online_q;
    if (quiet) {
        printf("cliff walking: Q-learning path %d steps, online return %.1f; SARSA %.1f: %s\n", len_q, online_q, online_s,
               good ? "the classic contrast" : "NOT the expected contrast");
        return good ? 0 : 1;
    }
    printf("Cliff walking, epsilon-greedy (0.1), alpha 0.5, %d episodes; X: the cliff (-100, episode over)\n\n", episodes);
    show("Q-learning", path_q, len_q, online_q);
    show("SARSA", path_s, len_s, online_s);
    printf("\nQ-learning finds the optimal path along the edge but pays for its exploration there;\n"
           "SARSA learns the value of the policy it follows and keeps its distance.\n");
    return 0;
}
