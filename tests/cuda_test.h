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
#ifdef __cplusplus
}
#endif
#endif
