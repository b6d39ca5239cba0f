/* seq_mpi.h — data-parallel training and distributed environments over MPI.
 *
 * stb-style, on top of seq.h: include it anywhere for the declarations; in exactly one
 * C or C++ file
 *     #define SEQ_MPI_IMPLEMENTATION
 *     #include "seq_mpi.h"
 * (seq.h's own implementation still needs SEQ_IMPLEMENTATION in one file.)
 *
 * Two builds of one API:
 *     -DSEQ_USE_MPI, compiled with mpicc     ranks talk through MPI (Open MPI, MPICH)
 *     without it, any C99 / C++ compiler     one rank, no MPI needed: the same training
 *                                            code runs serially, with identical results
 * so a program includes seq_mpi.h unconditionally and is built either way. With MPI,
 * seq_mpi_init initializes MPI unless the program already did (and seq_mpi_free then
 * finalizes it only if seq_mpi_init started it).
 *
 * Data-parallel training, the loop every rank runs (see examples/mpi_char_lm.c):
 *     seq_mpi m; seq_mpi_init(&m, seq_mpi_config_default());
 *     ... build P and the optimizer identically on every rank ...
 *     seq_mpi_broadcast_params(&m, P, 0);           rank 0's initial values everywhere
 *     for (step ...) {
 *         seq_mpi_shard(&m, B, &lo, &hi);            this rank's rows of the global batch
 *         loss = <mean loss over rows lo..hi>;      seq_backward(ctx, loss);
 *         seq_mpi_allreduce_grads(&m, P, (float)(hi - lo) / B);  the global batch's mean
 *         seq_clip_grad_norm(P, 1); seq_adamw_step(&opt, P, lr);  same on every rank
 *     }
 *     seq_mpi_checkpoint_save(&m, path, P, states, n);  rank 0 writes, atomically
 *
 * Gradients are averaged by one all-reduce over P->grad (the flat buffer), split into
 * buckets that are all in flight at once (cfg.bucket_floats). The optimizer then runs on
 * identical gradients, so the parameters stay identical on every rank without being
 * sent again; seq_mpi_check_params verifies that cheaply.
 *
 * Failure: the library never aborts. A failed MPI call or a collective that does not
 * finish within cfg.timeout_s (the watchdog: a rank that hangs or died unnoticed) returns
 * SEQ_ERR_IO naming the call; the communicator is then unusable and the caller should
 * exit non-zero (MPI_Abort under MPI). Open MPI's mpirun itself kills the remaining ranks
 * when one exits non-zero or dies (docs/scaling.md).
 *
 * Randomness: streams that must agree (data order) use the same seed on every rank;
 * streams that must differ (dropout, negatives, exploration) come from seq_mpi_rng_seed,
 * which gives rank r the seed's stream advanced r * per_rank jumps of 2^128 draws.
 *
 * Contents (declarations, then the implementation in the same order):
 *     1  communicator: init, sharding, per-rank random streams
 *     2  data parallel: broadcast, gradient all-reduce, consistency, checkpoints
 *     3  distributed vectorized environments (when seq_rl.h is included first)
 */
#ifndef SEQ_MPI_H
#define SEQ_MPI_H

#include "seq.h"
#ifdef SEQ_USE_MPI
#ifndef OMPI_SKIP_MPICXX /* the C API only: MPI-3 removed the C++ bindings */
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 1  communicator: init, sharding, per-rank random streams
 * =================================================================================== */

typedef struct seq_mpi_config {
    int64_t bucket_floats; /* gradient all-reduce bucket (1 << 20 floats = 4 MiB); <= 0: one */
    double timeout_s;      /* watchdog on every collective (0: wait forever) */
} seq_mpi_config;

typedef struct seq_mpi {
    int rank, size;
    seq_mpi_config cfg;
    double comm_seconds;   /* wall time inside collectives since init (what bench/mpi reports) */
    int64_t comm_bytes;    /* bytes this rank contributed to them */
#ifdef SEQ_USE_MPI
    MPI_Comm comm;         /* a duplicate of the caller's, with MPI_ERRORS_RETURN */
    int owns_mpi;          /* seq_mpi_init called MPI_Init: seq_mpi_free finalizes */
#endif
} seq_mpi;

SEQDEF seq_mpi_config seq_mpi_config_default(void);
/* Over MPI_COMM_WORLD (initializing MPI if needed); one rank without SEQ_USE_MPI. */
SEQDEF seq_status seq_mpi_init(seq_mpi *m, seq_mpi_config cfg);
#ifdef SEQ_USE_MPI
/* Over any communicator (duplicated, so seq's traffic never matches the caller's). MPI
 * must be initialized. MPI_COMM_SELF gives a one-rank run inside an MPI program. */
SEQDEF seq_status seq_mpi_init_comm(seq_mpi *m, MPI_Comm comm, seq_mpi_config cfg);
#endif
SEQDEF void seq_mpi_free(seq_mpi *m);
/* This rank's contiguous block [lo, hi) of n items; block sizes differ by at most one,
 * lower ranks take the larger ones. */
SEQDEF void seq_mpi_shard(const seq_mpi *m, int64_t n, int64_t *lo, int64_t *hi);
/* Seeds r with seed, then jumps rank * per_rank times (per_rank >= 1): the rank's first
 * stream; it may jump per_rank - 1 more times for its own threads or envs. */
SEQDEF void seq_mpi_rng_seed(const seq_mpi *m, seq_rng *r, uint64_t seed, int64_t per_rank);

/* ===================================================================================
 * 2  data parallel: broadcast, gradient all-reduce, consistency, checkpoints
 * =================================================================================== */

/* Every rank must call these collectives in the same order. Each returns the same status
 * on every rank, except SEQ_ERR_IO (communication failed: stop). */

/* root's parameter values to every rank. SEQ_ERR_SHAPE when a rank registered other
 * parameters (names, shapes or order differ), before any value moves. */
SEQDEF seq_status seq_mpi_broadcast_params(seq_mpi *m, seq_params *P, int root);
/* P->grad = sum over ranks of weight_r * P->grad_r: with weight = local rows / global
 * rows and a per-rank mean loss, the gradient of the global batch's mean loss. */
SEQDEF seq_status seq_mpi_allreduce_grads(seq_mpi *m, seq_params *P, float weight);
/* x[0..n) summed over ranks in place (losses, counts, metrics). */
SEQDEF seq_status seq_mpi_allreduce_sum(seq_mpi *m, double *x, int64_t n);
/* SEQ_ERR_STATE when the parameter values differ between ranks (a 64-bit digest of
 * every bit compared), e.g. after a rank skipped a step another took. */
SEQDEF seq_status seq_mpi_check_params(seq_mpi *m, const seq_params *P);
/* seq_checkpoint_save by rank 0 alone (written under a temporary name and renamed, so a
 * crash leaves the previous checkpoint); every rank returns rank 0's status. */
SEQDEF seq_status seq_mpi_checkpoint_save(seq_mpi *m, const char *path, const seq_params *P,
                                          const seq_optim_state *const *states, int nstates);
/* seq_checkpoint_load on every rank (a filesystem every rank sees); when any rank fails,
 * every rank returns the first failure's status, message prefixed with its rank. */
SEQDEF seq_status seq_mpi_checkpoint_load(seq_mpi *m, const char *path, seq_params *P,
                                          seq_optim_state *const *states, int nstates);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_MPI_H */

/* ===================================================================================
 * 3  distributed vectorized environments (declared once seq_rl.h is included)
 * =================================================================================== */

#if defined(SEQ_RL_H) && !defined(SEQ_MPI_RL_DECLARED)
#define SEQ_MPI_RL_DECLARED
#ifdef __cplusplus
extern "C" {
#endif

/* n discrete-action envs spread over the ranks in contiguous blocks, one learner (root)
 * choosing every action: central inference as in SEED RL. Env i draws from the seed's
 * stream jumped i times, exactly as seq_rl_vec_env_init(proto, n, seed) on one machine,
 * so a distributed run reproduces a serial one step for step.
 *
 * On the root, dv.all is a seq_rl_vec_env of all n envs whose step hook (step_fn) runs
 * them on their ranks: any seq_rl.h agent trains on it as on a local vectorized env
 * (see examples/mpi_ppo.c):
 *
 *     seq_mpi_vec_env dv;                             (collective, every rank)
 *     seq_mpi_vec_env_init(&dv, &m, &proto, n, seed, 0, NULL);
 *     root:                                           every other rank:
 *     while (...) seq_rl_ac_iterate(ag, &dv.all);     seq_mpi_vec_env_serve(&dv);
 *     seq_mpi_vec_env_stop(&dv);                      (returns when the root stops)
 *     seq_mpi_vec_env_free(&dv);                      seq_mpi_vec_env_free(&dv);
 *
 * seq_rl_vec_env_step(&dv.all, actions) and seq_mpi_vec_env_step(&dv, actions) are the
 * same step: it scatters the actions and gathers each env's observation, final
 * observation, reward, termination, truncation and episode statistics to the root, in
 * one collective each way. dv.all's envs pointer is NULL (the envs live on their ranks),
 * and its hook points at dv: keep dv where init put it. On the other ranks dv.all is
 * empty (n = 0): agents refuse it. The root must stop even after a failed step, or the
 * serving ranks wait for it forever (unless cfg.timeout_s is set). */
typedef struct seq_mpi_vec_env {
    seq_mpi *m;
    int root;
    int64_t n, lo, hi;     /* envs in all; this rank's are [lo, hi) */
    seq_rl_vec_env local;  /* this rank's envs */
    seq_rl_vec_env all;    /* root: every env's outputs after the last step */
    int *counts, *displs;  /* per rank: 1 + envs (command, actions), then 2 + record * envs */
    int32_t *cmd, *mine;   /* root: every rank's command and actions; this rank's */
    double *out, *gathered; /* this rank's status, episodes and records; root: everyone's */
    void *alloc_ud;
} seq_mpi_vec_env;

/* Collective. n >= ranks; proto must have discrete actions (SEQ_ERR_UNSUPPORTED else). */
SEQDEF seq_status seq_mpi_vec_env_init(seq_mpi_vec_env *dv, seq_mpi *m, const seq_rl_env *proto, int64_t n,
                                       uint64_t seed, int root, void *alloc_ud);
SEQDEF void seq_mpi_vec_env_free(seq_mpi_vec_env *dv);
/* Root only: actions (n) for every env, checked before any env moves (SEQ_ERR_RANGE). */
SEQDEF seq_status seq_mpi_vec_env_step(seq_mpi_vec_env *dv, const int32_t *actions);
/* Root only: releases the serving ranks. */
SEQDEF seq_status seq_mpi_vec_env_stop(seq_mpi_vec_env *dv);
/* Every rank but the root: steps its envs on the root's command until it stops. */
SEQDEF seq_status seq_mpi_vec_env_serve(seq_mpi_vec_env *dv);

#ifdef __cplusplus
}
#endif
#endif /* SEQ_RL_H */

#ifdef SEQ_MPI_IMPLEMENTATION
#ifndef SEQ_MPI_IMPLEMENTATION_DONE
#define SEQ_MPI_IMPLEMENTATION_DONE

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================
 * 0  transport: the only code that differs between the MPI and the one-rank build
 * =================================================================================== */

typedef enum seq_mpi__type { SEQ_MPI__F32, SEQ_MPI__F64, SEQ_MPI__I32, SEQ_MPI__U64 } seq_mpi__type;

static size_t seq_mpi__size(seq_mpi__type t) {
    return t == SEQ_MPI__F32 || t == SEQ_MPI__I32 ? 4 : 8;
}

/* Collectives move at most this many elements per call (MPI counts are int). */
#define SEQ_MPI__MAX_COUNT ((int64_t)1 << 30)
/* Requests in flight at once; more buckets wait for the window. */
#define SEQ_MPI__WINDOW 16

#ifdef SEQ_USE_MPI
static MPI_Datatype seq_mpi__dtype(seq_mpi__type t) {
    switch (t) {
    case SEQ_MPI__F32: return MPI_FLOAT;
    case SEQ_MPI__F64: return MPI_DOUBLE;
    case SEQ_MPI__I32: return MPI_INT32_T;
    default: return MPI_UINT64_T;
    }
}

static seq_status seq_mpi__fail(const char *fn, const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = 0;
    return seq_set_error(SEQ_ERR_IO, "%s: %s failed: %s", fn, what, len ? msg : "unknown MPI error");
}

/* Completes the n requests a non-blocking `call` posted (rc: what posting returned),
 * polling so the watchdog can give up on a peer that never comes; the time waited counts
 * into m->comm_seconds. */
static seq_status seq_mpi__wait(seq_mpi *m, int rc, int n, MPI_Request *req, const char *fn, const char *call) {
    double t0 = MPI_Wtime();
    int done = 0, late = 0;
    if (rc == MPI_SUCCESS && m->cfg.timeout_s <= 0) rc = MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
    else
        while (rc == MPI_SUCCESS && !done && !late) {
            rc = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
            late = !done && MPI_Wtime() - t0 > m->cfg.timeout_s;
        }
    m->comm_seconds += MPI_Wtime() - t0;
    if (late && rc == MPI_SUCCESS)
        return seq_set_error(SEQ_ERR_IO, "%s: %s timed out after %.1f s: a rank is gone or stuck", fn, call,
                             m->cfg.timeout_s);
    return rc == MPI_SUCCESS ? SEQ_OK : seq_mpi__fail(fn, call, rc);
}
#endif

/* In-place sum over ranks of n elements, in buckets of `bucket` elements all in flight. */
static seq_status seq_mpi__allreduce(seq_mpi *m, void *buf, int64_t n, seq_mpi__type t, int64_t bucket,
                                     const char *fn) {
    seq_status s = SEQ_OK;
#ifdef SEQ_USE_MPI
    MPI_Request req[SEQ_MPI__WINDOW];
    int64_t off = 0;
    size_t es = seq_mpi__size(t);
    if (bucket <= 0 || bucket > SEQ_MPI__MAX_COUNT) bucket = SEQ_MPI__MAX_COUNT;
    while (off < n && s == SEQ_OK) {
        int k = 0, rc = MPI_SUCCESS;
        for (; k < SEQ_MPI__WINDOW && off < n && rc == MPI_SUCCESS; k++) {
            int64_t c = n - off < bucket ? n - off : bucket;
            rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * es, (int)c, seq_mpi__dtype(t), MPI_SUM,
                                m->comm, &req[k]);
            off += c;
        }
        s = seq_mpi__wait(m, rc, k, req, fn, "MPI_Iallreduce");
    }
#else
    (void)buf, (void)bucket, (void)fn;
#endif
    m->comm_bytes += n * (int64_t)seq_mpi__size(t);
    return s;
}

static seq_status seq_mpi__bcast(seq_mpi *m, void *buf, int64_t n, seq_mpi__type t, int root, const char *fn) {
    seq_status s = SEQ_OK;
#ifdef SEQ_USE_MPI
    int64_t off = 0;
    size_t es = seq_mpi__size(t);
    while (off < n && s == SEQ_OK) {
        int64_t c = n - off < SEQ_MPI__MAX_COUNT ? n - off : SEQ_MPI__MAX_COUNT;
        MPI_Request req;
        s = seq_mpi__wait(m, MPI_Ibcast((char *)buf + (size_t)off * es, (int)c, seq_mpi__dtype(t), root, m->comm, &req),
                          1, &req, fn, "MPI_Ibcast");
        off += c;
    }
#else
    (void)buf, (void)fn;
#endif
    m->comm_bytes += m->rank == root ? n * (int64_t)seq_mpi__size(t) : 0;
    return s;
}

/* Min and max of one u64 over ranks (layout hashes, digests): equal iff all agree. */
static seq_status seq_mpi__agree_u64(seq_mpi *m, uint64_t x, int *agree, const char *fn) {
    seq_status s = SEQ_OK;
#ifdef SEQ_USE_MPI
    uint64_t mm[2];
    MPI_Request req;
    mm[0] = x, mm[1] = ~x; /* max of ~x is ~(min of x): one MAX reduction gives both */
    s = seq_mpi__wait(m, MPI_Iallreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, m->comm, &req), 1, &req, fn,
                      "MPI_Iallreduce");
    *agree = mm[0] == ~mm[1];
#else
    (void)m, (void)x, (void)fn;
    *agree = 1;
#endif
    return s;
}

/* Every rank learns the worst status (lowest code, then lowest rank) and its message. */
static seq_status seq_mpi__agree_status(seq_mpi *m, seq_status local, const char *fn) {
    struct { int code, rank; } in, out;
    char msg[512];
    in.code = (int)local, in.rank = m->rank;
    out = in;
#ifdef SEQ_USE_MPI
    {
        MPI_Request req;
        seq_status s =
            seq_mpi__wait(m, MPI_Iallreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, m->comm, &req), 1, &req, fn, "MPI_Iallreduce");
        if (s != SEQ_OK) return s;
    }
#endif
    if (out.code == SEQ_OK) return SEQ_OK;
    snprintf(msg, sizeof msg, "%s", m->rank == out.rank ? seq_last_error() : "");
    if (seq_mpi__bcast(m, msg, (int64_t)sizeof msg / 4, SEQ_MPI__I32, out.rank, fn) != SEQ_OK) return seq_last_status();
    msg[sizeof msg - 1] = 0;
    return seq_set_error((seq_status)out.code, "%s: rank %d: %s", fn, out.rank, msg);
}

/* ===================================================================================
 * 1  communicator (implementation)
 * =================================================================================== */

SEQDEF seq_mpi_config seq_mpi_config_default(void) {
    seq_mpi_config c;
    c.bucket_floats = (int64_t)1 << 20;
    c.timeout_s = 0;
    return c;
}

static seq_status seq_mpi__check_config(seq_mpi_config cfg, const char *fn) {
    if (!(cfg.timeout_s >= 0)) return seq_set_error(SEQ_ERR_INVALID, "%s: timeout_s must be >= 0", fn);
    return SEQ_OK;
}

#ifdef SEQ_USE_MPI
SEQDEF seq_status seq_mpi_init_comm(seq_mpi *m, MPI_Comm comm, seq_mpi_config cfg) {
    const char *fn = "seq_mpi_init_comm";
    int inited = 0, rc;
    if (!m) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    memset(m, 0, sizeof *m);
    if (seq_mpi__check_config(cfg, fn) != SEQ_OK) return seq_last_status();
    MPI_Initialized(&inited);
    if (!inited) return seq_set_error(SEQ_ERR_STATE, "%s: MPI is not initialized", fn);
    rc = MPI_Comm_dup(comm, &m->comm);
    if (rc != MPI_SUCCESS) return seq_mpi__fail(fn, "MPI_Comm_dup", rc);
    /* errors come back as codes the library turns into seq_status, never an abort */
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    m->cfg = cfg;
    return SEQ_OK;
}
#endif

SEQDEF seq_status seq_mpi_init(seq_mpi *m, seq_mpi_config cfg) {
    const char *fn = "seq_mpi_init";
#ifdef SEQ_USE_MPI
    int inited = 0, owns = 0, rc;
    seq_status s;
    if (!m) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    if (seq_mpi__check_config(cfg, fn) != SEQ_OK) return seq_last_status();
    MPI_Initialized(&inited);
    if (!inited) {
        rc = MPI_Init(NULL, NULL);
        if (rc != MPI_SUCCESS) return seq_mpi__fail(fn, "MPI_Init", rc);
        owns = 1;
    }
    s = seq_mpi_init_comm(m, MPI_COMM_WORLD, cfg);
    m->owns_mpi = owns;
    return s;
#else
    if (!m) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    memset(m, 0, sizeof *m);
    if (seq_mpi__check_config(cfg, fn) != SEQ_OK) return seq_last_status();
    m->rank = 0, m->size = 1, m->cfg = cfg;
    return SEQ_OK;
#endif
}

SEQDEF void seq_mpi_free(seq_mpi *m) {
    if (!m) return;
#ifdef SEQ_USE_MPI
    if (m->comm != MPI_COMM_NULL && m->size > 0) MPI_Comm_free(&m->comm);
    if (m->owns_mpi) MPI_Finalize();
#endif
    memset(m, 0, sizeof *m);
}

SEQDEF void seq_mpi_shard(const seq_mpi *m, int64_t n, int64_t *lo, int64_t *hi) {
    int64_t q, r;
    if (n < 0) n = 0;
    q = n / m->size, r = n % m->size;
    *lo = m->rank * q + (m->rank < r ? m->rank : r);
    *hi = *lo + q + (m->rank < r ? 1 : 0);
}

SEQDEF void seq_mpi_rng_seed(const seq_mpi *m, seq_rng *r, uint64_t seed, int64_t per_rank) {
    int64_t k, jumps = (int64_t)m->rank * (per_rank > 1 ? per_rank : 1);
    seq_rng_seed(r, seed);
    for (k = 0; k < jumps; k++) seq_rng_jump(r);
}

/* ===================================================================================
 * 2  data parallel (implementation)
 * =================================================================================== */

static uint64_t seq_mpi__fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* Names, shapes and order of P's tensors. */
static uint64_t seq_mpi__layout(const seq_params *P) {
    uint64_t h = seq_mpi__fnv(14695981039346656037ULL, &P->count, sizeof P->count);
    int64_t i;
    for (i = 0; i < P->count; i++) {
        const seq_tensor *t = &P->items[i]->t;
        h = seq_mpi__fnv(h, t->name, strlen(t->name) + 1);
        h = seq_mpi__fnv(h, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
    }
    return h;
}

static seq_status seq_mpi__check_args(const seq_mpi *m, const seq_params *P, const char *fn) {
    if (!m || !P || m->size < 1) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized argument", fn);
    if (!P->allocated) return seq_set_error(SEQ_ERR_STATE, "%s: parameters not allocated (seq_params_alloc)", fn);
    return SEQ_OK;
}

SEQDEF seq_status seq_mpi_broadcast_params(seq_mpi *m, seq_params *P, int root) {
    const char *fn = "seq_mpi_broadcast_params";
    int same = 0;
    seq_status s = seq_mpi__check_args(m, P, fn);
    if (s != SEQ_OK) return s;
    if (root < 0 || root >= m->size)
        return seq_set_error(SEQ_ERR_INVALID, "%s: root %d outside [0,%d)", fn, root, m->size);
    s = seq_mpi__agree_u64(m, seq_mpi__layout(P), &same, fn);
    if (s != SEQ_OK) return s;
    if (!same) return seq_set_error(SEQ_ERR_SHAPE, "%s: ranks registered different parameters", fn);
    return seq_mpi__bcast(m, P->data, P->numel, SEQ_MPI__F32, root, fn);
}

SEQDEF seq_status seq_mpi_allreduce_grads(seq_mpi *m, seq_params *P, float weight) {
    const char *fn = "seq_mpi_allreduce_grads";
    int64_t i;
    seq_status s = seq_mpi__check_args(m, P, fn);
    if (s != SEQ_OK) return s;
    /* a rank refusing alone would leave the others waiting: NaN weights go through and
     * the optimizer refuses the NaN gradient on every rank alike */
    if (weight != 1.0f)
        for (i = 0; i < P->numel; i++) P->grad[i] *= weight;
    return seq_mpi__allreduce(m, P->grad, P->numel, SEQ_MPI__F32, m->cfg.bucket_floats, fn);
}

SEQDEF seq_status seq_mpi_allreduce_sum(seq_mpi *m, double *x, int64_t n) {
    const char *fn = "seq_mpi_allreduce_sum";
    if (!m || m->size < 1 || (!x && n > 0) || n < 0)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized argument, or n < 0", fn);
    return seq_mpi__allreduce(m, x, n, SEQ_MPI__F64, 0, fn);
}

SEQDEF seq_status seq_mpi_check_params(seq_mpi *m, const seq_params *P) {
    const char *fn = "seq_mpi_check_params";
    int same = 0;
    uint64_t h;
    seq_status s = seq_mpi__check_args(m, P, fn);
    if (s != SEQ_OK) return s;
    h = seq_mpi__fnv(seq_mpi__layout(P), P->data, (size_t)P->numel * sizeof(float));
    s = seq_mpi__agree_u64(m, h, &same, fn);
    if (s != SEQ_OK) return s;
    return same ? SEQ_OK : seq_set_error(SEQ_ERR_STATE, "%s: parameter values differ between ranks", fn);
}

SEQDEF seq_status seq_mpi_checkpoint_save(seq_mpi *m, const char *path, const seq_params *P,
                                          const seq_optim_state *const *states, int nstates) {
    const char *fn = "seq_mpi_checkpoint_save";
    seq_status s = seq_mpi__check_args(m, P, fn);
    if (s != SEQ_OK) return s;
    if (m->rank == 0) s = seq_checkpoint_save(path, P, states, nstates);
    return seq_mpi__agree_status(m, s, fn);
}

SEQDEF seq_status seq_mpi_checkpoint_load(seq_mpi *m, const char *path, seq_params *P,
                                          seq_optim_state *const *states, int nstates) {
    const char *fn = "seq_mpi_checkpoint_load";
    seq_status s = seq_mpi__check_args(m, P, fn);
    if (s != SEQ_OK) return s;
    return seq_mpi__agree_status(m, seq_checkpoint_load(path, P, states, nstates), fn);
}

#ifdef __cplusplus
}
#endif

/* ===================================================================================
 * 3  distributed vectorized environments (implementation)
 * =================================================================================== */

#ifdef SEQ_RL_H
#ifdef __cplusplus
extern "C" {
#endif

/* The two transports only the environments use (section 0 has the rest). */
/* root's send[displs[r] .. + counts[r]) to rank r's recv (counts[rank] ints). */
static seq_status seq_mpi__scatter_i32(seq_mpi *m, const int32_t *send, const int *counts, const int *displs,
                                       int32_t *recv, int root, const char *fn) {
#ifdef SEQ_USE_MPI
    MPI_Request req;
    return seq_mpi__wait(m, MPI_Iscatterv(send, counts, displs, MPI_INT32_T, recv, counts[m->rank], MPI_INT32_T, root,
                                          m->comm, &req), 1, &req, fn, "MPI_Iscatterv");
#else
    (void)m, (void)root, (void)fn;
    memcpy(recv, send + displs[0], (size_t)counts[0] * sizeof *recv);
    return SEQ_OK;
#endif
}

/* Rank r's send (counts[r] doubles) to root's recv[displs[r] ..). */
static seq_status seq_mpi__gather_f64(seq_mpi *m, const double *send, const int *counts, const int *displs,
                                      double *recv, int root, const char *fn) {
    m->comm_bytes += counts[m->rank] * (int64_t)sizeof *send;
#ifdef SEQ_USE_MPI
    {
        MPI_Request req;
        return seq_mpi__wait(m, MPI_Igatherv(send, counts[m->rank], MPI_DOUBLE, recv, counts, displs, MPI_DOUBLE, root,
                                             m->comm, &req), 1, &req, fn, "MPI_Igatherv");
    }
#else
    (void)root, (void)fn;
    memcpy(recv + displs[0], send, (size_t)counts[0] * sizeof *recv);
    return SEQ_OK;
#endif
}

/* Doubles per env record: obs, final obs (obs_dim each), reward, terminated, truncated,
 * done return, done length, running return, running length. */
static int64_t seq_mpi__vec_record(int obs_dim) {
    return 2 * (int64_t)obs_dim + 7;
}

SEQDEF void seq_mpi_vec_env_free(seq_mpi_vec_env *dv) {
    if (!dv) return;
    seq_rl_vec_env_free(&dv->local);
    seq_rl_vec_env_free(&dv->all);
    SEQ_FREE(dv->alloc_ud, dv->counts);
    SEQ_FREE(dv->alloc_ud, dv->cmd);
    SEQ_FREE(dv->alloc_ud, dv->out);
    memset(dv, 0, sizeof *dv);
}

/* Sends this rank's status and records to the root; the root unpacks everyone's into
 * dv->all and returns the worst status, the other ranks their own. */
static seq_status seq_mpi__vec_exchange(seq_mpi_vec_env *dv, seq_status local, const char *fn) {
    const seq_rl_vec_env *v = &dv->local;
    seq_rl_vec_env *a = &dv->all;
    int64_t R = seq_mpi__vec_record(v->obs_dim), D = v->obs_dim, i, r;
    int size = dv->m->size;
    seq_status s, worst = local;
    dv->out[0] = (double)local, dv->out[1] = (double)v->episodes;
    for (i = 0; i < v->n; i++) {
        double *p = dv->out + 2 + i * R;
        int64_t k;
        for (k = 0; k < D; k++) p[k] = v->obs[i * D + k], p[D + k] = v->final_obs[i * D + k];
        p += 2 * D;
        p[0] = v->rewards[i], p[1] = v->terminated[i], p[2] = v->truncated[i], p[3] = v->done_return[i];
        p[4] = (double)v->done_length[i], p[5] = v->ep_return[i], p[6] = (double)v->ep_length[i];
    }
    s = seq_mpi__gather_f64(dv->m, dv->out, dv->counts + size, dv->displs + size, dv->gathered, dv->root, fn);
    if (s != SEQ_OK || dv->m->rank != dv->root) return s != SEQ_OK ? s : local;
    a->episodes = 0;
    for (r = 0, i = 0; r < size; r++) {
        const double *h = dv->gathered + dv->displs[size + r];
        int64_t j, nr = (dv->counts[size + r] - 2) / R;
        if ((seq_status)(int)h[0] < worst) worst = (seq_status)(int)h[0];
        a->episodes += (int64_t)h[1];
        for (j = 0; j < nr; j++, i++) {
            const double *p = h + 2 + j * R;
            int64_t k;
            for (k = 0; k < D; k++) a->obs[i * D + k] = (float)p[k], a->final_obs[i * D + k] = (float)p[D + k];
            p += 2 * D;
            a->rewards[i] = (float)p[0], a->terminated[i] = (uint8_t)p[1], a->truncated[i] = (uint8_t)p[2];
            a->done_return[i] = p[3], a->done_length[i] = (int64_t)p[4];
            a->ep_return[i] = p[5], a->ep_length[i] = (int64_t)p[6];
        }
    }
    return worst == SEQ_OK ? SEQ_OK : seq_set_error(worst, "%s: a rank's envs refused the step", fn);
}

/* Env j of this rank starts from the seed's stream jumped lo + j times, as env lo + j of
 * seq_rl_vec_env_init(proto, n, seed) does. */
static void seq_mpi__vec_reseed(seq_mpi_vec_env *dv, uint64_t seed) {
    seq_rl_vec_env *v = &dv->local;
    seq_rng r;
    int64_t i;
    seq_rng_seed(&r, seed);
    for (i = 0; i < dv->lo; i++) seq_rng_jump(&r);
    for (i = 0; i < v->n; i++) {
        v->envs[i].rng = r;
        seq_rng_jump(&r);
        seq_rl_env_reset(&v->envs[i], v->obs + i * v->obs_dim);
    }
    memcpy(v->final_obs, v->obs, (size_t)(v->n * v->obs_dim) * sizeof(float));
}

/* dv->all's step hook: the root's distributed step. */
static seq_status seq_mpi__vec_step_hook(void *dv, const int32_t *actions) {
    return seq_mpi_vec_env_step((seq_mpi_vec_env *)dv, actions);
}

/* The root's dv->all: the arrays of a seq_rl_vec_env of n envs, without the envs, stepped
 * through the hook. */
static int seq_mpi__vec_alloc_all(seq_mpi_vec_env *dv, const seq_rl_env *proto) {
    seq_rl_vec_env *a = &dv->all;
    void *ud = dv->alloc_ud;
    size_t n = (size_t)dv->n, no = n * (size_t)proto->obs_dim * sizeof(float);
    a->alloc_ud = ud;
    a->step_fn = seq_mpi__vec_step_hook, a->step_ud = dv;
    a->n = dv->n, a->obs_dim = proto->obs_dim, a->n_actions = proto->n_actions, a->act_dim = proto->act_dim;
    a->obs = (float *)SEQ_MALLOC(ud, no);
    a->final_obs = (float *)SEQ_MALLOC(ud, no);
    a->rewards = (float *)SEQ_MALLOC(ud, n * sizeof(float));
    a->terminated = (uint8_t *)SEQ_MALLOC(ud, n);
    a->truncated = (uint8_t *)SEQ_MALLOC(ud, n);
    a->ep_return = (double *)SEQ_MALLOC(ud, n * sizeof(double));
    a->ep_length = (int64_t *)SEQ_MALLOC(ud, n * sizeof(int64_t));
    a->done_return = (double *)SEQ_MALLOC(ud, n * sizeof(double));
    a->done_length = (int64_t *)SEQ_MALLOC(ud, n * sizeof(int64_t));
    return a->obs && a->final_obs && a->rewards && a->terminated && a->truncated && a->ep_return && a->ep_length &&
           a->done_return && a->done_length;
}

SEQDEF seq_status seq_mpi_vec_env_init(seq_mpi_vec_env *dv, seq_mpi *m, const seq_rl_env *proto, int64_t n,
                                       uint64_t seed, int root, void *alloc_ud) {
    const char *fn = "seq_mpi_vec_env_init";
    seq_status s;
    int64_t R = seq_mpi__vec_record(proto ? proto->obs_dim : 0), r, local_n;
    int size, is_root, ok;
    if (!dv) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument", fn);
    memset(dv, 0, sizeof *dv);
    if (!m || !proto || m->size < 1 || root < 0 || root >= m->size || n < m->size || n > INT_MAX / 64)
        return seq_set_error(SEQ_ERR_INVALID, "%s: NULL argument, root outside [0,ranks) or n outside [ranks,2^25)", fn);
    if (proto->n_actions < 1)
        return seq_set_error(SEQ_ERR_UNSUPPORTED, "%s: continuous-action envs are not distributed yet", fn);
    size = m->size, is_root = m->rank == root;
    dv->m = m, dv->root = root, dv->n = n, dv->alloc_ud = alloc_ud;
    seq_mpi_shard(m, n, &dv->lo, &dv->hi);
    local_n = dv->hi - dv->lo;
    s = seq_rl_vec_env_init(&dv->local, proto, local_n, seed, alloc_ud);
    if (s == SEQ_OK) {
        seq_mpi__vec_reseed(dv, seed);
        dv->counts = (int *)SEQ_MALLOC(alloc_ud, 4 * (size_t)size * sizeof(int));
        dv->cmd = (int32_t *)SEQ_MALLOC(alloc_ud, (size_t)(1 + local_n + (is_root ? size + n : 0)) * sizeof(int32_t));
        dv->out = (double *)SEQ_MALLOC(alloc_ud, (size_t)(2 + R * local_n + (is_root ? 2 * size + R * n : 0)) *
                                                     sizeof(double));
        ok = dv->counts && dv->cmd && dv->out && (!is_root || seq_mpi__vec_alloc_all(dv, proto));
        if (!ok) s = seq_set_error(SEQ_ERR_NOMEM, "%s: out of memory for %lld envs", fn, (long long)n);
    }
    s = seq_mpi__agree_status(m, s, fn); /* one rank out of memory stops them all */
    if (s != SEQ_OK) {
        seq_mpi_vec_env_free(dv);
        return s;
    }
    dv->displs = dv->counts + 2 * size;
    dv->mine = dv->cmd + (is_root ? size + n : 0);
    dv->gathered = dv->out + 2 + R * local_n;
    for (r = 0; r < size; r++) {
        seq_mpi q = *m;
        int64_t lo, hi;
        q.rank = (int)r;
        seq_mpi_shard(&q, n, &lo, &hi);
        dv->counts[r] = (int)(1 + hi - lo);
        dv->counts[size + r] = (int)(2 + R * (hi - lo));
        dv->displs[r] = (int)(lo + r);
        dv->displs[size + r] = (int)(2 * r + R * lo);
    }
    s = seq_mpi__vec_exchange(dv, SEQ_OK, fn); /* the root sees every first observation */
    if (s != SEQ_OK) seq_mpi_vec_env_free(dv);
    return s;
}

/* The root's command (1 step, 0 stop) and actions to every rank. */
static seq_status seq_mpi__vec_command(seq_mpi_vec_env *dv, int32_t c, const int32_t *actions, const char *fn) {
    int size = dv->m->size, r;
    for (r = 0; r < size; r++) {
        int32_t *p = dv->cmd + dv->displs[r];
        p[0] = c;
        if (actions) memcpy(p + 1, actions + dv->displs[r] - r, (size_t)(dv->counts[r] - 1) * sizeof *p);
    }
    return seq_mpi__scatter_i32(dv->m, dv->cmd, dv->counts, dv->displs, dv->mine, dv->root, fn);
}

/* This rank's part of a step whose command it received. */
static seq_status seq_mpi__vec_local_step(seq_mpi_vec_env *dv, const char *fn) {
    return seq_mpi__vec_exchange(dv, seq_rl_vec_env_step(&dv->local, dv->mine + 1), fn);
}

SEQDEF seq_status seq_mpi_vec_env_step(seq_mpi_vec_env *dv, const int32_t *actions) {
    const char *fn = "seq_mpi_vec_env_step";
    int64_t i;
    seq_status s;
    if (!dv || !dv->m || !actions) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized argument", fn);
    if (dv->m->rank != dv->root) return seq_set_error(SEQ_ERR_STATE, "%s: only the root steps (others serve)", fn);
    for (i = 0; i < dv->n; i++) /* checked here so that no env moves when one is wrong */
        if (actions[i] < 0 || actions[i] >= dv->all.n_actions)
            return seq_set_error(SEQ_ERR_RANGE, "%s: actions[%lld] = %d outside [0,%d)", fn, (long long)i,
                                 (int)actions[i], dv->all.n_actions);
    s = seq_mpi__vec_command(dv, 1, actions, fn);
    return s != SEQ_OK ? s : seq_mpi__vec_local_step(dv, fn);
}

SEQDEF seq_status seq_mpi_vec_env_stop(seq_mpi_vec_env *dv) {
    const char *fn = "seq_mpi_vec_env_stop";
    if (!dv || !dv->m) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized argument", fn);
    if (dv->m->rank != dv->root) return seq_set_error(SEQ_ERR_STATE, "%s: only the root stops", fn);
    return seq_mpi__vec_command(dv, 0, NULL, fn);
}

SEQDEF seq_status seq_mpi_vec_env_serve(seq_mpi_vec_env *dv) {
    const char *fn = "seq_mpi_vec_env_serve";
    seq_status s;
    if (!dv || !dv->m) return seq_set_error(SEQ_ERR_INVALID, "%s: NULL or uninitialized argument", fn);
    if (dv->m->rank == dv->root) return seq_set_error(SEQ_ERR_STATE, "%s: the root steps, it does not serve", fn);
    for (;;) {
        s = seq_mpi__scatter_i32(dv->m, NULL, dv->counts, dv->displs, dv->mine, dv->root, fn);
        if (s != SEQ_OK || dv->mine[0] == 0) return s;
        s = seq_mpi__vec_local_step(dv, fn);
        /* a refused local step was reported to the root, which decides; transport
         * failures end the service */
        if (s == SEQ_ERR_IO) return s;
    }
}

#ifdef __cplusplus
}
#endif
#endif /* SEQ_RL_H */
#endif /* SEQ_MPI_IMPLEMENTATION_DONE */
#endif /* SEQ_MPI_IMPLEMENTATION */
