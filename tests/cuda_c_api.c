/* seq_cuda.h's declarations from a C99 program (the kernels are linked from the nvcc TU):
 * the header needs no CUDA header and no C++, and its calls work from C. */
#include "cuda_test.h"

size_t seq_cuda_test_ctx_size_c(void) { return sizeof(seq_cuda_ctx); }

static void test_c_calls(void) {
    seq_cuda_ctx ctx;
    float x[4] = {0, 0, 0, 0};
    memset(&ctx, 0, sizeof ctx);
    CHECK(seq_cuda_device_count() >= 0);
    CHECK(seq_cuda_ctx_init(NULL, 0, 0) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_softmax(NULL, 1, 4, x, x) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "seq_cuda_softmax") != NULL);
    /* an uninitialized context is refused once the arguments are fine */
    CHECK(seq_cuda_act_fwd(&ctx, SEQ_CUDA_SILU, 4, x, x) == SEQ_ERR_STATE);
    CHECK(seq_cuda_act_fwd(&ctx, SEQ_CUDA_ACT_COUNT, 4, x, x) == SEQ_ERR_INVALID);
    CHECK(seq_cuda_set_math(&ctx, SEQ_CUDA_MATH_TF32) == SEQ_OK && ctx.math == SEQ_CUDA_MATH_TF32);
}

void seq_tests_cuda_c(void) { RUN(test_c_calls); }
