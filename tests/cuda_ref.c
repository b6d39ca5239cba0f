/* seq.h and seq_quant.h for the CUDA runner, compiled as C99 by the host compiler: the
 * CPU references the kernels are compared against (and the public API seq_cuda.h uses). */
#include "seq_test.h"
#define SEQ_IMPLEMENTATION
#define SEQ_QUANT_IMPLEMENTATION
#include "../seq_quant.h"
