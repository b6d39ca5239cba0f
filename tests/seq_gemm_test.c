/* seq_sgemm (whichever backend this build compiled: blis, avx512, avx2 or scalar)
 * against its scalar reference twin seq_sgemm_ref. */
#include <float.h>
#include "seq_test.h"
#include "../seq.h"

static const int64_t sizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 65, 100, 129, 257};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

static void fill(seq_rng *rng, float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = (float)seq_rng_uniform(rng, -1.0, 1.0);
}

/* One product of stored A and B (rows padded by pad columns, so lda/ldb/ldc exceed the
 * row length as for submatrix views) checked element by element against the reference.
 * Bound: |err| <= c K u (|alpha| sum_k |a||b| + |beta c0|), the classic dot-product bound
 * with slack c for blocking and FMA. Padding must come back untouched; with beta == 0
 * the output C starts as NaN, which must not leak through. Returns 1 when all agree. */
static int product_case(seq_rng *rng, int tA, int tB, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                        int64_t pad, int packed) {
    int64_t arows = tA ? K : M, acols = tA ? M : K, brows = tB ? N : K, bcols = tB ? K : N;
    int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad, i, j, bad = 0;
    int64_t na = arows * lda, nb = brows * ldb, nc = M * ldc;
    float *A = (float *)malloc((size_t)(na + nb + 4 * nc) * sizeof(float));
    float *B = A + na, *C = B + nb, *R = C + nc, *C0 = R + nc, *S = C0 + nc;
    fill(rng, A, na);
    fill(rng, B, nb);
    fill(rng, C0, nc);
    if (beta == 0.0f)
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++) C0[i * ldc + j] = NAN;
    memcpy(C, C0, (size_t)nc * sizeof(float));
    memcpy(R, C0, (size_t)nc * sizeof(float));
    if (packed) { /* op(B) packed first, then multiplied (the panels are filled with garbage first) */
        seq_sgemm_packed p;
        int64_t nf = seq_sgemm_pack_floats(K, N);
        float *panels = nf > 0 ? (float *)malloc((size_t)nf * sizeof(float)) : NULL;
        for (i = 0; i < nf; i++) panels[i] = NAN;
        CHECK(seq_sgemm_pack(&p, tB, K, N, B, ldb, panels) == SEQ_OK);
        seq_sgemm_packed_mul(tA, M, alpha, A, lda, &p, beta, C, ldc);
        free(panels);
    } else {
        seq_sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    seq_sgemm_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    for (i = 0; i < na; i++) A[i] = fabsf(A[i]);
    for (i = 0; i < nb; i++) B[i] = fabsf(B[i]);
    seq_sgemm_ref(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, S, ldc); /* sum_k |a||b| */
    for (i = 0; i < M && bad < 3; i++)
        for (j = 0; j < ldc && bad < 3; j++) {
            int64_t e = i * ldc + j;
            double tol, err;
            if (j >= N) { /* padding between rows of C */
                if (memcmp(&C[e], &C0[e], sizeof(float)) != 0) {
                    CHECK_MSG(0, "tA=%d tB=%d M=%lld N=%lld K=%lld: padding C[%lld][%lld] written", tA, tB,
                              (long long)M, (long long)N, (long long)K, (long long)i, (long long)j);
                    bad++;
                }
                continue;
            }
            tol = 4.0 * (double)(K + 2) * FLT_EPSILON *
                      (fabs(alpha) * S[e] + (beta == 0.0f ? 0.0 : fabs(beta * C0[e]))) + 1e-30;
            err = fabs((double)C[e] - (double)R[e]);
            if (!(err <= tol)) {
                CHECK_MSG(0, "tA=%d tB=%d M=%lld N=%lld K=%lld alpha=%g beta=%g ld+%lld: C[%lld][%lld] = %.9g, ref %.9g",
                          tA, tB, (long long)M, (long long)N, (long long)K, alpha, beta, (long long)pad,
                          (long long)i, (long long)j, C[e], R[e]);
                bad++;
            }
        }
    free(A);
    return bad == 0;
}

static int gemm_case(seq_rng *rng, int tA, int tB, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     int64_t pad) {
    return product_case(rng, tA, tB, M, N, K, alpha, beta, pad, 0);
}

/* Every transpose combination over a grid of M x N with K cycling through the same
 * sizes, alpha/beta cycling through plain, accumulating, negative and beta = 0 (NaN C). */
static void test_gemm_matches_reference(void) {
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.0f}, {2.5f, 0.0f}, {0.75f, -1.0f}};
    seq_rng rng;
    int t, im, in, cases = 0, ok = 0;
    seq_rng_seed(&rng, 1);
    for (t = 0; t < 4; t++)
        for (im = 0; im < NSIZES; im++)
            for (in = 0; in < NSIZES; in++) {
                int c = cases++, ik = (im + 2 * in + t) % NSIZES;
                ok += gemm_case(&rng, t & 1, t >> 1, sizes[im], sizes[in], sizes[ik], ab[c % 5][0], ab[c % 5][1],
                                (c / 5) % 3 * 2);
            }
    CHECK_MSG(ok == cases, "%d of %d products disagree", cases - ok, cases);
}

/* Sizes past one KC slice of K and one NC block of N, so that beta is applied once and
 * later slices accumulate, and the column blocks meet correctly. */
static void test_gemm_multiple_blocks(void) {
    seq_rng rng;
    int t;
    seq_rng_seed(&rng, 2);
    for (t = 0; t < 4; t++) CHECK(gemm_case(&rng, t & 1, t >> 1, 29, 1100, 601, 0.5f, t % 2 ? 0.0f : -1.5f, 3));
}

/* Few rows of op(A) (the recurrent step of an RNN at small batch) take the unpacked path:
 * M = 1..8 (both sides of its bound) against every transpose, N and K odd and even, below
 * and past a vector, a column block, a KC slice; alpha/beta including beta == 0. */
static void test_gemm_few_rows(void) {
    static const int64_t nk[] = {1, 3, 16, 17, 33, 64, 127, 130, 300};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.0f}, {0.75f, -1.0f}};
    seq_rng rng;
    int t, cases = 0, ok = 0;
    int64_t M, in;
    seq_rng_seed(&rng, 4);
    for (t = 0; t < 4; t++)
        for (M = 1; M <= 8; M++)
            for (in = 0; in < 9; in++) {
                int c = cases++;
                ok += gemm_case(&rng, t & 1, t >> 1, M, nk[in], nk[(in + M + t) % 9], ab[c % 4][0], ab[c % 4][1],
                                c % 3);
            }
    CHECK_MSG(ok == cases, "%d of %d products disagree", cases - ok, cases);
}

/* A packed op(B) gives the product of seq_sgemm: one and many rows of A (the unpacked
 * and the blocked path), past a KC slice and an NC block, all transposes. */
static void test_gemm_packed_b(void) {
    static const int64_t mnk[][3] = {{1, 70, 33}, {3, 1030, 300}, {5, 17, 9}, {32, 1024, 256}, {29, 1100, 601},
                                     {100, 65, 257}};
    seq_rng rng;
    int t, c;
    seq_sgemm_packed p;
    float B[4];
    seq_rng_seed(&rng, 5);
    for (c = 0; c < 6; c++)
        for (t = 0; t < 4; t++)
            CHECK_MSG(product_case(&rng, t & 1, t >> 1, mnk[c][0], mnk[c][1], mnk[c][2], c % 2 ? 0.5f : 1.0f,
                                   t % 2 ? 0.0f : 1.5f, t, 1),
                      "case %d, transposes %d", c, t);
    CHECK(seq_sgemm_pack(&p, 0, 2, 2, B, 1, B) == SEQ_ERR_INVALID); /* ldb < N */
    CHECK(strstr(seq_last_error(), "seq_sgemm_pack") != NULL);
    CHECK(seq_sgemm_pack(&p, 0, -1, 2, B, 2, B) == SEQ_ERR_INVALID);
    CHECK(seq_sgemm_pack(NULL, 0, 2, 2, B, 2, B) == SEQ_ERR_INVALID);
}

/* K == 0 and alpha == 0 leave C = beta C without reading A or B (BLAS semantics). */
static void test_gemm_scales_c_only(void) {
    float A[6], B[6], C[6];
    int i;
    for (i = 0; i < 6; i++) {
        A[i] = B[i] = NAN;
        C[i] = (float)i;
    }
    seq_sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3);
    for (i = 0; i < 6; i++) CHECK(C[i] == 2.0f * (float)i);
    seq_sgemm(1, 1, 2, 3, 3, 0.0f, A, 2, B, 3, 0.5f, C, 3);
    for (i = 0; i < 6; i++) CHECK(C[i] == (float)i);
    for (i = 0; i < 6; i++) C[i] = NAN;
    seq_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3);
    for (i = 0; i < 6; i++) CHECK(C[i] == 0.0f);
}

/* Bad arguments leave C as it was and name seq_sgemm in seq_last_error(); empty
 * products are not errors even with NULL matrices. */
static void test_gemm_bad_input(void) {
    float A[12], B[12], C[12];
    int i, k;
    struct {
        int64_t M, N, K, lda, ldb, ldc;
        int nullA, nullB, nullC;
    } bad[] = {
        {-1, 3, 4, 4, 3, 3, 0, 0, 0}, {3, -1, 4, 4, 3, 3, 0, 0, 0}, {3, 3, -2, 4, 3, 3, 0, 0, 0},
        {3, 3, 4, 3, 3, 3, 0, 0, 0},  {3, 3, 4, 4, 2, 3, 0, 0, 0},  {3, 3, 4, 4, 3, 2, 0, 0, 0},
        {3, 3, 4, 4, 3, 3, 1, 0, 0},  {3, 3, 4, 4, 3, 3, 0, 1, 0},  {3, 3, 4, 4, 3, 3, 0, 0, 1},
    };
    for (i = 0; i < 12; i++) A[i] = B[i] = 1.0f;
    for (k = 0; k < (int)(sizeof bad / sizeof bad[0]); k++) {
        for (i = 0; i < 12; i++) C[i] = -7.0f;
        seq_clear_error();
        seq_sgemm(0, 0, bad[k].M, bad[k].N, bad[k].K, 1.0f, bad[k].nullA ? NULL : A, bad[k].lda,
                  bad[k].nullB ? NULL : B, bad[k].ldb, 0.0f, bad[k].nullC ? NULL : C, bad[k].ldc);
        CHECK_MSG(strstr(seq_last_error(), "seq_sgemm") != NULL, "case %d: error '%s'", k, seq_last_error());
        for (i = 0; i < 12; i++) CHECK_MSG(C[i] == -7.0f, "case %d touched C[%d]", k, i);
    }
    /* transposed A (K x M) needs lda >= M, not K */
    seq_clear_error();
    seq_sgemm(1, 0, 2, 3, 4, 1.0f, A, 2, B, 3, 0.0f, C, 3);
    CHECK(seq_last_error()[0] == 0);
    seq_sgemm(1, 0, 3, 3, 4, 1.0f, A, 2, B, 3, 0.0f, C, 3);
    CHECK(strstr(seq_last_error(), "lda") != NULL);
    seq_clear_error();
    seq_sgemm(0, 0, 0, 3, 4, 1.0f, NULL, 0, NULL, 0, 0.0f, NULL, 0);
    seq_sgemm(0, 0, 3, 0, 4, 1.0f, NULL, 0, NULL, 0, 0.0f, NULL, 0);
    CHECK(seq_last_error()[0] == 0);
}

/* With the pack buffer's allocation failing, the result is still right (reference
 * fallback) and nothing leaks; the own kernel allocates exactly once for this size. */
static void test_gemm_out_of_memory(void) {
    seq_rng rng;
    long live = seq_test_live_blocks;
    int own = strcmp(seq_sgemm_backend(), "blis") != 0;
    seq_rng_seed(&rng, 3);
    seq_test_fail_after(0);
    CHECK(gemm_case(&rng, 0, 1, 40, 300, 70, 1.0f, 0.0f, 0));
    CHECK(seq_test_alloc_count == (own ? 1 : 0));
    seq_test_fail_never();
    CHECK(gemm_case(&rng, 1, 0, 40, 300, 70, 1.0f, 1.0f, 0));
    CHECK(seq_test_live_blocks == live);
}

static void test_gemm_backend_name(void) {
    const char *b = seq_sgemm_backend();
    CHECK(!strcmp(b, "blis") || !strcmp(b, "avx512") || !strcmp(b, "avx2") || !strcmp(b, "scalar"));
#if defined(SEQ_USE_BLIS)
    CHECK(!strcmp(b, "blis"));
#elif defined(SEQ_NO_SIMD)
    CHECK(!strcmp(b, "scalar"));
#elif defined(__AVX512F__)
    CHECK(!strcmp(b, "avx512"));
#endif
}

void seq_tests_gemm(void) {
    RUN(test_gemm_matches_reference);
    RUN(test_gemm_multiple_blocks);
    RUN(test_gemm_few_rows);
    RUN(test_gemm_packed_b);
    RUN(test_gemm_scales_c_only);
    RUN(test_gemm_bad_input);
    RUN(test_gemm_out_of_memory);
    RUN(test_gemm_backend_name);
}
