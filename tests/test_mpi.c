/* Runner for seq_mpi.h. Built twice: with -DSEQ_USE_MPI by mpicc and run under
 *     mpirun -np 1|2 build/test_mpi
 * and without MPI (build/test_mpi_serial, one rank, part of every `make test`). A test
 * counts as passed when it passed on every rank; rank 0 prints the summary.
 *     build/test_mpi --stuck   rank 1 never joins: rank 0's watchdog fails the all-reduce
 *     build/test_mpi --die     rank 1 is killed mid-training: the job must end, not hang
 * (tests/mpi_run.sh runs both under a timeout and checks that mpirun fails). */
#include "mpi_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include "../seq.h"
#include "../seq_rl.h"
#include "../seq_mpi.h"

#include <signal.h>
#include <unistd.h>

seq_mpi mpi_world;
void seq_tests_mpi_ppo(void); /* tests/mpi_ppo_test.c: agents on distributed envs */

seq_status mpi_test_self(seq_mpi *m) {
#ifdef SEQ_USE_MPI
    return seq_mpi_init_comm(m, MPI_COMM_SELF, seq_mpi_config_default());
#else
    return seq_mpi_init(m, seq_mpi_config_default());
#endif
}

/* The failure drills: a rank that stalls, a rank that dies, in the middle of training. */
static int drill(const char *mode) {
    seq_mpi_config c = seq_mpi_config_default();
    seq_rng rng;
    seq_params *P;
    int64_t shape[1] = {1000};
    int step;
    seq_status s = SEQ_OK;
    c.timeout_s = strcmp(mode, "--stuck") == 0 ? 2.0 : 0.0;
    seq_mpi_free(&mpi_world);
    if (seq_mpi_init(&mpi_world, c) != SEQ_OK || mpi_world.size < 2) return 2;
    seq_rng_seed(&rng, 1);
    P = seq_params_init(NULL);
    seq_params_add(P, "w", 1, shape, seq_init_normal(0, 1));
    seq_params_alloc(P, &rng);
    for (step = 0; step < 50 && s == SEQ_OK; step++) {
        if (step == 5 && mpi_world.rank == 1) {
            if (c.timeout_s > 0) sleep(60);   /* alive but never joins */
            else raise(SIGKILL);              /* gone without a word */
        }
        s = seq_mpi_allreduce_grads(&mpi_world, P, 0.5f);
    }
    printf("rank %d: step %d: %s\n", mpi_world.rank, step, s == SEQ_OK ? "all steps done" : seq_last_error());
    fflush(stdout);
#ifdef SEQ_USE_MPI
    if (s != SEQ_OK) MPI_Abort(MPI_COMM_WORLD, 3); /* what a training program does on SEQ_ERR_IO */
#endif
    seq_params_free(P);
    seq_mpi_free(&mpi_world);
    return s == SEQ_OK ? 0 : 3;
}

int main(int argc, char **argv) {
    int rc;
    if (argc > 1) return drill(argv[1]);
    if (seq_mpi_init(&mpi_world, seq_mpi_config_default()) != SEQ_OK) {
        printf("seq_mpi_init: %s\n", seq_last_error());
        return 1;
    }
    seq_tests_mpi_train();
    seq_tests_mpi_env();
    seq_tests_mpi_ppo();
    if (mpi_world.rank == 0) rc = seq_test_summary();
    else rc = seq_test_nfailed ? 1 : 0;
    seq_mpi_free(&mpi_world);
    return rc;
}
