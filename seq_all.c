/* Every seq implementation in one object file, for build systems that want one. */
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#define SEQ_RL_IMPLEMENTATION
#define SEQ_REC_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION /* one rank unless SEQ_USE_MPI (then compile with mpicc) */
#include "seq_quant.h"
#include "seq_rl.h"
#include "seq_rec.h"
#include "seq_mpi.h"
