/* seq_mpi.h data parallel: sharding, random streams, broadcast, the gradient all-reduce
 * against a one-rank run of the same global batch, checkpoints, bad input. */
#include "mpi_test.h"

/* --- a small character model: embedding -> LSTM -> linear, cross-entropy ------------- */
enum { V = 11, C = 8, H = 16, T = 6 };

typedef struct model {
    seq_params *P;
    seq_tensor *emb, *head_w, *head_b;
    seq_rnn lstm;
    seq_adamw opt;
    seq_ctx *ctx;
} model;

static int model_init(model *md, uint64_t seed, int64_t extra) {
    int64_t se[2] = {V, C}, sw[2] = {V, H}, sb[1] = {V + extra};
    seq_rng rng;
    seq_rng_seed(&rng, seed);
    md->P = seq_params_init(NULL);
    md->ctx = seq_ctx_init(NULL);
    md->emb = seq_params_add(md->P, "emb", 2, se, seq_init_normal(0, 1));
    seq_rnn_init(&md->lstm, md->P, "lstm", seq_lstm_config_default(C, H));
    md->head_w = seq_params_add(md->P, "head.weight", 2, sw, seq_init_xavier_uniform(1));
    md->head_b = seq_params_add(md->P, "head.bias", 1, sb, seq_init_zeros());
    return seq_params_alloc(md->P, &rng) == SEQ_OK && seq_adamw_init(&md->opt, md->P, seq_adamw_config_default()) == SEQ_OK;
}

static void model_free(model *md) {
    seq_adamw_free(&md->opt);
    seq_ctx_free(md->ctx);
    seq_params_free(md->P);
}

/* Mean loss over rows [lo,hi) of the global batch ids (B,T+1): gradients into P->grad. */
static seq_status model_backward(model *md, int32_t *ids, int64_t lo, int64_t hi) {
    int64_t n = hi - lo, sx[2] = {n, T}, t, i;
    int32_t *x = (int32_t *)seq_ctx_alloc(md->ctx, (size_t)(2 * n * T) * sizeof(int32_t)), *y = x + n * T;
    seq_tensor *h, *loss;
    for (i = 0; i < n; i++)
        for (t = 0; t < T; t++) x[i * T + t] = ids[(lo + i) * (T + 1) + t], y[i * T + t] = ids[(lo + i) * (T + 1) + t + 1];
    h = seq_rnn_forward(md->ctx, &md->lstm, seq_embedding(md->ctx, md->emb, seq_tensor_wrap_i32(md->ctx, x, 2, sx)), NULL);
    loss = seq_cross_entropy(md->ctx, seq_linear(md->ctx, h, md->head_w, md->head_b), seq_tensor_wrap_i32(md->ctx, y, 2, sx), -1);
    if (seq_ctx_status(md->ctx) != SEQ_OK) return seq_ctx_status(md->ctx);
    seq_params_zero_grad(md->P);
    return seq_backward(md->ctx, loss);
}

/* steps of data-parallel AdamW on global batches of B rows drawn from a shared stream. */
static seq_status train(seq_mpi *m, model *md, int64_t B, int steps) {
    int32_t ids[64 * (T + 1)];
    int64_t lo, hi, i;
    int s;
    seq_rng data;
    seq_status st = seq_mpi_broadcast_params(m, md->P, 0);
    seq_rng_seed(&data, 7); /* the same data order on every rank */
    for (s = 0; s < steps && st == SEQ_OK; s++) {
        for (i = 0; i < B * (T + 1); i++) ids[i] = (int32_t)seq_rng_below(&data, V);
        seq_ctx_reset(md->ctx);
        seq_mpi_shard(m, B, &lo, &hi);
        st = model_backward(md, ids, lo, hi);
        if (st == SEQ_OK) st = seq_mpi_allreduce_grads(m, md->P, (float)(hi - lo) / (float)B);
        seq_clip_grad_norm(md->P, 1.0f);
        if (st == SEQ_OK) st = seq_adamw_step(&md->opt, md->P, 1e-2f);
    }
    return st;
}

/* max |a-b| / max |b| over every parameter */
static double rel_diff(const seq_params *a, const seq_params *b) {
    double d = 0, s = 0;
    int64_t i;
    for (i = 0; i < b->numel; i++) {
        double e = fabs((double)a->data[i] - b->data[i]);
        d = e > d ? e : d, s = fabs(b->data[i]) > s ? fabs(b->data[i]) : s;
    }
    return d / s;
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_shard(void) {
    seq_mpi q = mpi_world;
    int64_t n, size, r, lo, hi;
    for (size = 1; size <= 5; size++)
        for (n = 0; n <= 12; n++) {
            int64_t next = 0;
            q.size = (int)size;
            for (r = 0; r < size; r++) {
                q.rank = (int)r;
                seq_mpi_shard(&q, n, &lo, &hi);
                CHECK(lo == next && hi >= lo && hi - lo <= n / size + 1 && hi - lo >= n / size);
                next = hi;
            }
            CHECK(next == n);
        }
}

static void test_rng_streams(void) {
    seq_rng a, b;
    int64_t k;
    seq_mpi_rng_seed(&mpi_world, &a, 99, 3);
    seq_rng_seed(&b, 99);
    for (k = 0; k < 3 * mpi_world.rank; k++) seq_rng_jump(&b);
    CHECK(seq_rng_u64(&a) == seq_rng_u64(&b));
    /* the ranks' streams differ from one another */
    {
        double x = (double)(seq_rng_u64(&a) >> 11), sum = x;
        seq_mpi_allreduce_sum(&mpi_world, &sum, 1);
        CHECK(mpi_world.size == 1 || sum != x * mpi_world.size);
    }
}

/* The acceptance test: N ranks, each on its shard, reach the parameters of one rank on
 * the whole global batch (here in the same process, over a one-rank communicator). */
static void check_matches_serial(int64_t B, int64_t bucket) {
    seq_mpi self;
    model dp, ref;
    double d;
    mpi_world.cfg.bucket_floats = bucket;
    CHECK(mpi_test_self(&self) == SEQ_OK);
    /* rank-dependent init: the broadcast makes rank 0's values everyone's */
    CHECK(model_init(&dp, 1000 + (uint64_t)mpi_world.rank, 0) && model_init(&ref, 1000, 0));
    CHECK(train(&mpi_world, &dp, B, 12) == SEQ_OK);
    CHECK(train(&self, &ref, B, 12) == SEQ_OK);
    d = rel_diff(dp.P, ref.P);
    CHECK_MSG(d <= 1e-6, "B %lld bucket %lld: relative difference %.3g", (long long)B, (long long)bucket, d);
    CHECK(seq_mpi_check_params(&mpi_world, dp.P) == SEQ_OK);
    CHECK(dp.opt.st.step == 12);
    model_free(&dp);
    model_free(&ref);
    seq_mpi_free(&self);
    mpi_world.cfg = seq_mpi_config_default();
}

static void test_matches_serial(void) { check_matches_serial(8, (int64_t)1 << 20); }
/* 7 rows: shards of 4 and 3 weighted by their share */
static void test_matches_serial_uneven(void) { check_matches_serial(7, (int64_t)1 << 20); }
/* buckets of 100 floats: more than the 16 requests in flight at once */
static void test_matches_serial_buckets(void) { check_matches_serial(8, 100); }

static void test_broadcast_and_check(void) {
    model md;
    CHECK(model_init(&md, 5 + (uint64_t)mpi_world.rank, 0));
    CHECK(seq_mpi_check_params(&mpi_world, md.P) == (mpi_world.size > 1 ? SEQ_ERR_STATE : SEQ_OK));
    CHECK(seq_mpi_broadcast_params(&mpi_world, md.P, mpi_world.size - 1) == SEQ_OK);
    CHECK(seq_mpi_check_params(&mpi_world, md.P) == SEQ_OK);
    CHECK(mpi_world.comm_bytes > 0 || mpi_world.size == 1);
    model_free(&md);
}

static void test_layout_mismatch(void) {
    model md;
    /* the last rank registers a larger head bias: nothing moves, every rank refuses */
    CHECK(model_init(&md, 5, mpi_world.rank == mpi_world.size - 1 && mpi_world.size > 1));
    CHECK(seq_mpi_broadcast_params(&mpi_world, md.P, 0) == (mpi_world.size > 1 ? SEQ_ERR_SHAPE : SEQ_OK));
    model_free(&md);
}

static void test_allreduce_sum(void) {
    double x[3];
    x[0] = mpi_world.rank + 1, x[1] = 1, x[2] = -0.5;
    CHECK(seq_mpi_allreduce_sum(&mpi_world, x, 3) == SEQ_OK);
    CHECK(x[0] == mpi_world.size * (mpi_world.size + 1) / 2.0 && x[1] == mpi_world.size && x[2] == -0.5 * mpi_world.size);
    CHECK(seq_mpi_allreduce_sum(&mpi_world, x, 0) == SEQ_OK);
}

/* A NaN gradient on one rank reaches every rank, so every optimizer refuses the step. */
static void test_nan_gradient_everywhere(void) {
    model md;
    float before;
    CHECK(model_init(&md, 5, 0));
    seq_params_zero_grad(md.P);
    if (mpi_world.rank == mpi_world.size - 1) md.P->grad[3] = NAN;
    CHECK(seq_mpi_allreduce_grads(&mpi_world, md.P, 1.0f) == SEQ_OK);
    CHECK(isnan(md.P->grad[3]));
    before = md.P->data[0];
    CHECK(seq_adamw_step(&md.opt, md.P, 1e-2f) == SEQ_ERR_NUMERIC);
    CHECK(md.P->data[0] == before);
    model_free(&md);
}

static void test_checkpoint(void) {
    const char *path = "build/test_mpi_ckpt.safetensors";
    model a, b;
    seq_optim_state *sa[1], *sb[1];
    seq_status s;
    CHECK(model_init(&a, 3, 0) && model_init(&b, 4, 0));
    CHECK(train(&mpi_world, &a, 8, 3) == SEQ_OK);
    sa[0] = &a.opt.st, sb[0] = &b.opt.st;
    CHECK(seq_mpi_checkpoint_save(&mpi_world, path, a.P, (const seq_optim_state *const *)sa, 1) == SEQ_OK);
    CHECK(seq_mpi_checkpoint_load(&mpi_world, path, b.P, sb, 1) == SEQ_OK);
    CHECK(memcmp(a.P->data, b.P->data, (size_t)a.P->numel * sizeof(float)) == 0);
    CHECK(b.opt.st.step == 3 && memcmp(a.opt.st.buf, b.opt.st.buf, (size_t)a.opt.st.numel * sizeof(float)) == 0);
    /* one rank cannot read: every rank fails alike, told which rank */
    s = seq_mpi_checkpoint_load(&mpi_world, mpi_world.rank == mpi_world.size - 1 ? "build/no/such.safetensors" : path,
                                b.P, sb, 1);
    CHECK(s == SEQ_ERR_IO);
    CHECK_MSG(strstr(seq_last_error(), "seq_mpi_checkpoint_load: rank") != NULL, "%s", seq_last_error());
    /* rank 0 cannot write: every rank hears of it */
    CHECK(seq_mpi_checkpoint_save(&mpi_world, "build/no/such/dir/x.safetensors", a.P,
                                  (const seq_optim_state *const *)sa, 1) == SEQ_ERR_IO);
    if (mpi_world.rank == 0) remove(path);
    model_free(&a);
    model_free(&b);
}

static void test_bad_input(void) {
    seq_mpi m;
    seq_mpi_config c = seq_mpi_config_default();
    seq_params *P = seq_params_init(NULL);
    int64_t shape[1] = {4};
    double x = 0;
    seq_rng rng;
    c.timeout_s = -1;
    CHECK(seq_mpi_init(NULL, seq_mpi_config_default()) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_init(&m, c) == SEQ_ERR_INVALID);
    c.timeout_s = NAN;
    CHECK(seq_mpi_init(&m, c) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_broadcast_params(NULL, P, 0) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_allreduce_grads(&mpi_world, NULL, 1) == SEQ_ERR_INVALID);
    seq_params_add(P, "w", 1, shape, seq_init_zeros());
    CHECK(seq_mpi_allreduce_grads(&mpi_world, P, 1) == SEQ_ERR_STATE); /* not allocated */
    CHECK(seq_mpi_check_params(&mpi_world, P) == SEQ_ERR_STATE);
    seq_rng_seed(&rng, 1);
    CHECK(seq_params_alloc(P, &rng) == SEQ_OK);
    CHECK(seq_mpi_broadcast_params(&mpi_world, P, mpi_world.size) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_broadcast_params(&mpi_world, P, -1) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_allreduce_sum(&mpi_world, NULL, 2) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_allreduce_sum(&mpi_world, &x, -1) == SEQ_ERR_INVALID);
    CHECK(seq_mpi_checkpoint_save(&mpi_world, NULL, NULL, NULL, 0) == SEQ_ERR_INVALID);
    seq_mpi_free(NULL);
    seq_params_free(P);
}

void seq_tests_mpi_train(void) {
    MPI_RUN(test_shard);
    MPI_RUN(test_rng_streams);
    MPI_RUN(test_matches_serial);
    MPI_RUN(test_matches_serial_uneven);
    MPI_RUN(test_matches_serial_buckets);
    MPI_RUN(test_broadcast_and_check);
    MPI_RUN(test_layout_mismatch);
    MPI_RUN(test_allreduce_sum);
    MPI_RUN(test_nan_gradient_everywhere);
    MPI_RUN(test_checkpoint);
    MPI_RUN(test_bad_input);
}
