/* Shared by the CUDA runner's translation units: the nvcc ones (C++) and the C99 one. */
#ifndef SEQ_CUDA_TEST_H
#define SEQ_CUDA_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* seq_test.h declares the harness without extern "C": the harness is compiled as C. It
 * comes first, as in every runner (seq.h keeps the SEQ_MALLOC it defines). */
#ifdef __cplusplus
extern "C" {
#endif
#include "seq_test.h"
#ifdef __cplusplus
}
#endif
#include "../seq_cuda.h" /* the implementation too, where SEQ_CUDA_IMPLEMENTATION is defined */
#ifdef __cplusplus
extern "C" {
#endif

void seq_tests_cuda_runtime(void); /* tests/test_cuda.cu: no device needed */
void seq_tests_cuda_kernels(void); /* tests/cuda_kernels_test.cu: SKIP without a device */
void seq_tests_cuda_c(void);       /* tests/cuda_c_api.c: the declarations from C99 */
/* sizeof(seq_cuda_ctx) as the C compiler lays it out (the .cu compares it with its own) */
size_t seq_cuda_test_ctx_size_c(void);

/* One optimizer variant on both sides (tests/cuda_kernels_test.cu): the CPU optimizer on
 * P, and its config for the GPU step, whose state is laid out as the CPU's (moments as
 * slabs of n). */
enum { OPT_ADAMW, OPT_ADAM_L2, OPT_AMSGRAD, OPT_SGD, OPT_SGD_MOMENTUM, OPT_NESTEROV, OPT_LION, OPT_COUNT };
typedef struct opt_pair {
    int kind;
    seq_adamw adam;
    seq_adamw_config adam_cfg;
    seq_sgd sgd;
    seq_sgd_config sgd_cfg;
    seq_lion lion;
    seq_lion_config lion_cfg;
    seq_optim_state *st;
} opt_pair;
void opt_init(opt_pair *o, int kind, const seq_params *P);
seq_status opt_cpu_step(opt_pair *o, seq_params *P, float lr);
void opt_free(opt_pair *o);
#ifdef __cplusplus
}
#endif
#endif
