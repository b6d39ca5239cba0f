/* GRPO with a verifiable reward: a small GRU learns to write a digit string backwards,
 * from nothing but a checker's verdict on its own sampled answers.
 *
 *     ./build/grpo_digits [--task reverse|sort|copy|sum] [--digits N] [--len L]
 *                         [--iters K] [--seed S] [--quiet]
 *
 * Each iteration draws 16 prompts, samples 8 answers to each, scores them (1 if exactly
 * right, else half the fraction of right digits), standardizes the scores within each
 * prompt's group and takes 4 clipped policy-gradient steps with a k3 KL penalty to the
 * initial policy: DeepSeekMath's GRPO, no value network. It prints the greedy solve rate
 * on held-out prompts as it learns and a few answers at the end; with --quiet only the
 * final rate, exiting 0 when at least 90% of the prompts are solved. */
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#include "../seq_rl.h"

#include <stdlib.h>
#include <string.h>

static void print_digits(const int32_t *d, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) printf("%d", (int)d[i]);
}

int main(int argc, char **argv) {
    static const char *names[SEQ_RL_SEQ_TASK_KIND_COUNT] = {"copy", "reverse", "sort", "sum"};
    seq_rl_seq_task_kind kind = SEQ_RL_TASK_REVERSE;
    int64_t digits = 6, len = 4, iters = 600, it, k;
    uint64_t seed = 1;
    int quiet = 0, i;
    seq_rl_seq_task task;
    seq_rl_grpo_config cfg = seq_rl_grpo_config_default();
    seq_rl_grpo *g;
    seq_rng eval;
    double rate = 0;
    for (i = 1; i < argc; i++) {
        int known = 0;
        if (!strcmp(argv[i], "--quiet")) quiet = 1, known = 1;
        else if (!strcmp(argv[i], "--digits") && i + 1 < argc) digits = strtoll(argv[++i], NULL, 10), known = 1;
        else if (!strcmp(argv[i], "--len") && i + 1 < argc) len = strtoll(argv[++i], NULL, 10), known = 1;
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = strtoll(argv[++i], NULL, 10), known = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10), known = 1;
        else if (!strcmp(argv[i], "--task") && i + 1 < argc) {
            for (k = 0; k < SEQ_RL_SEQ_TASK_KIND_COUNT; k++)
                if (!strcmp(argv[i + 1], names[k])) kind = (seq_rl_seq_task_kind)k, known = 1;
            i++;
        }
        if (!known) {
            fprintf(stderr, "usage: %s [--task reverse|sort|copy|sum] [--digits N] [--len L] [--iters K] [--seed S] [--quiet]\n",
                    argv[0]);
            return 2;
        }
    }
    if (seq_rl_seq_task_builtin(&task, kind, digits, len, 1) != SEQ_OK || !(g = seq_rl_grpo_init(cfg, &task, seed, NULL))) {
        fprintf(stderr, "setup failed: %s\n", seq_last_error());
        return 2;
    }
    seq_rng_seed(&eval, seed + 1000);
    if (!quiet)
        printf("GRPO: %s %lld digits in [0,%lld), GRU %lld, %lld prompts x %lld answers per iteration\n", names[kind],
               (long long)len, (long long)digits, (long long)cfg.hidden, (long long)cfg.prompts, (long long)cfg.group);
    for (it = 0; it <= iters; it++) {
        if (it % 50 == 0 || it == iters) {
            rate = seq_rl_grpo_solve_rate(g, 500, &eval);
            if (!quiet)
                printf("iteration %4lld: greedy solve rate %5.1f%%  (batch mean reward %.3f, KL to the start %.3f)\n",
                       (long long)it, 100 * rate, g->mean_reward, g->last.ref_kl);
            if (rate >= 0.99) break;
        }
        if (it < iters && seq_rl_grpo_iterate(g) != SEQ_OK) {
            fprintf(stderr, "training failed: %s\n", seq_last_error());
            return 1;
        }
    }
    if (!quiet) { /* a few held-out prompts and the greedy answers */
        int32_t prompt[SEQ_RL_TASK_MAX_LEN], answer[SEQ_RL_TASK_MAX_LEN];
        for (k = 0; k < 5; k++) {
            task.sample(&task, &eval, prompt);
            if (seq_rl_grpo_answer(g, prompt, 1, NULL, answer) != SEQ_OK) break;
            printf("  ");
            print_digits(prompt, task.prompt_len);
            printf(" -> ");
            print_digits(answer, task.answer_len);
            printf("  %s\n", task.reward(&task, prompt, answer) >= 1.0 ? "right" : "wrong");
        }
    }
    printf("%s: greedy solve rate %.1f%% after %lld iterations\n", names[kind], 100 * rate, (long long)g->iterations);
    seq_rl_grpo_free(g);
    return rate >= 0.9 ? 0 : 1;
}
