/* Shared by the seq_mpi.h suites: the world every rank runs the tests in. Every test is
 * collective: all ranks run it, and it passes only where it passed on every rank. */
#ifndef SEQ_MPI_TEST_H
#define SEQ_MPI_TEST_H
#include "seq_test.h"
#include "../seq_rl.h"
#include "../seq_mpi.h"

extern seq_mpi mpi_world;
/* A one-rank communicator inside the same program: the serial reference run. */
seq_status mpi_test_self(seq_mpi *m);

/* A failure on any rank fails the test everywhere. */
#define MPI_RUN(fn)                                                                          \
    do {                                                                                     \
        double f_;                                                                           \
        RUN(fn);                                                                             \
        f_ = seq_test_cur_failed ? 1.0 : 0.0;                                                \
        seq_mpi_allreduce_sum(&mpi_world, &f_, 1);                                           \
        if (f_ > 0 && !seq_test_cur_failed) seq_test_npassed--, seq_test_nfailed++;          \
    } while (0)

void seq_tests_mpi_train(void);
void seq_tests_mpi_env(void);
#endif
