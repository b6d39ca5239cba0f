#include "seq_test.h"
#include "../seq_quant.h"

/* A byte builder for hand-made files. */
typedef struct fbuf {
    uint8_t b[4096];
    size_t n;
} fbuf;
static void le(fbuf *f, uint64_t v, int bytes) {
    int k;
    for (k = 0; k < bytes; k++) f->b[f->n++] = (uint8_t)(v >> (8 * k));
}
static void str(fbuf *f, const char *s) {
    le(f, strlen(s), 8);
    memcpy(f->b + f->n, s, strlen(s));
    f->n += strlen(s);
}

/* Every way a file can be wrong, each a variant of one small valid file (two metadata
 * entries, an f32 (2,32) tensor and a q8_0 (1,32) one); variant 0 is the valid file. */
enum {
    OK_FILE, BAD_MAGIC, BAD_VERSION, HUGE_NKV, HUGE_KEY, UNKNOWN_VTYPE, NESTED_ARRAY, HUGE_ARRAY, BAD_BOOL, DUP_KEY,
    EMPTY_KEY, ALIGN_ZERO, ALIGN_ODD, ALIGN_TYPE, HUGE_NT, EMPTY_NAME, LONG_NAME, NDIM_0, NDIM_5, DIM_0, DIM_OVERFLOW,
    RETIRED_TYPE, UNKNOWN_TYPE, PARTIAL_BLOCK, UNALIGNED_OFFSET, OFFSET_PAST_END, OVERLAP, DUP_NAME, SHORT_DATA,
    VARIANT_COUNT
};

static void mk(int v, fbuf *f) {
    int k;
    f->n = 0;
    le(f, v == BAD_MAGIC ? 0x46554748u : 0x46554747u, 4);
    le(f, v == BAD_VERSION ? 1 : 3, 4);
    le(f, v == HUGE_NT ? (uint64_t)1 << 40 : 2, 8);
    le(f, v == HUGE_NKV ? (uint64_t)1 << 40 : 3, 8);
    /* kv 0: general.alignment = 64 */
    str(f, v == DUP_KEY ? "a.list" : v == EMPTY_KEY ? "" : "general.alignment");
    if (v == ALIGN_TYPE) {
        le(f, 10, 4), le(f, 64, 8); /* u64 */
    } else {
        le(f, 4, 4), le(f, v == ALIGN_ZERO ? 0 : v == ALIGN_ODD ? 48 : 64, 4);
    }
    /* kv 1: a.list = [3 x i16] */
    if (v == HUGE_KEY) le(f, 1000000, 8);
    else str(f, "a.list");
    le(f, v == UNKNOWN_VTYPE ? 13 : 9, 4);
    le(f, v == NESTED_ARRAY ? 9 : 3, 4);
    le(f, v == HUGE_ARRAY ? (uint64_t)1 << 62 : 3, 8);
    for (k = 0; k < 3; k++) le(f, (uint64_t)(k - 1), 2);
    /* kv 2: a.flag = true */
    str(f, "a.flag");
    le(f, 7, 4), le(f, v == BAD_BOOL ? 7 : 1, 1);
    /* tensor 0: "w" f32, ne = (32, 2) */
    str(f, v == EMPTY_NAME ? "" : v == LONG_NAME ? "a_name_of_sixty_four_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" : "w");
    le(f, v == NDIM_0 ? 0 : v == NDIM_5 ? 5 : 2, 4);
    le(f, v == PARTIAL_BLOCK ? 33 : 32, 8);
    le(f, v == DIM_0 ? 0 : v == DIM_OVERFLOW ? (uint64_t)1 << 62 : 2, 8);
    if (v == NDIM_5) le(f, 1, 8), le(f, 1, 8), le(f, 1, 8);
    le(f, v == RETIRED_TYPE ? 4 : v == UNKNOWN_TYPE ? 99 : v == PARTIAL_BLOCK ? 8 : 0, 4);
    le(f, 0, 8);
    /* tensor 1: "b" q8_0, ne = (32) at 256 (the f32 tensor takes 256 bytes) */
    str(f, v == DUP_NAME ? "w" : "b");
    le(f, 1, 4), le(f, 32, 8), le(f, 8, 4);
    le(f, v == UNALIGNED_OFFSET ? 260 : v == OFFSET_PAST_END ? 1024 : v == OVERLAP ? 192 : 256, 8);
    while (f->n % 64) f->b[f->n++] = 0;
    for (k = 0; k < 64; k++) { /* w = 0, 1, ..., 63 */
        float x = (float)k;
        uint32_t u;
        memcpy(&u, &x, 4);
        le(f, u, 4);
    }
    le(f, 0x3c00, 2); /* b: d = 1, q = 0..31 */
    for (k = 0; k < 32; k++) le(f, (uint64_t)k, 1);
    if (v == SHORT_DATA) f->n -= 3;
}

static void test_gguf_hand_made(void) {
    fbuf f;
    seq_gguf *g;
    const seq_gguf_tensor *t;
    float w[64], b[32];
    int64_t x;
    int k;
    mk(OK_FILE, &f);
    g = seq_gguf_open_memory(f.b, f.n, NULL);
    CHECK_MSG(g != NULL, "%s", seq_last_error());
    if (!g) return;
    CHECK(seq_gguf_version(g) == 3 && seq_gguf_alignment(g) == 64 && seq_gguf_kv_count(g) == 3);
    CHECK(seq_gguf_find_kv(g, "a.list") == 1 && seq_gguf_kv_type(g, 1) == SEQ_GGUF_ARRAY);
    CHECK(seq_gguf_kv_array_type(g, 1) == SEQ_GGUF_I16 && seq_gguf_kv_array_len(g, 1) == 3);
    CHECK(seq_gguf_kv_int(g, 1, 0, &x) == SEQ_OK && x == -1);
    CHECK(seq_gguf_kv_int(g, 1, 2, &x) == SEQ_OK && x == 1);
    CHECK(seq_gguf_kv_int(g, 1, 3, &x) == SEQ_ERR_INVALID);
    CHECK(seq_gguf_kv_int(g, 2, 0, &x) == SEQ_OK && x == 1);
    CHECK(seq_gguf_kv_str(g, 2, 0) == NULL);
    CHECK(seq_gguf_tensor_count(g) == 2);
    t = seq_gguf_find_tensor(g, "w");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 32 && t->type == SEQ_QUANT_F32 && t->nbytes == 256);
    CHECK(seq_gguf_read_f32(g, "w", w, 64) == SEQ_OK);
    for (k = 0; k < 64; k++) CHECK(w[k] == (float)k);
    CHECK(seq_gguf_read_f32(g, "b", b, 32) == SEQ_OK && b[31] == 31.0f);
    CHECK(seq_gguf_read_f32(g, "b", b, 31) == SEQ_ERR_SHAPE);
    CHECK(seq_gguf_read_f32(g, "nope", b, 32) == SEQ_ERR_RANGE);
    seq_gguf_close(g);
}

/* The table of hostile files: each is refused with SEQ_ERR_FORMAT (never a crash, also
 * under ASan); then every truncation of the valid file, and random byte flips. */
static void test_gguf_hostile(void) {
    static const char *names[VARIANT_COUNT] = {
        "ok", "bad magic", "version 1", "2^40 kv", "key past end", "value type 13", "nested array", "2^62 elements",
        "bool 7", "duplicate key", "empty key", "alignment 0", "alignment 48", "alignment u64", "2^40 tensors",
        "empty name", "64-byte name", "0 dims", "5 dims", "dimension 0", "2^62 x 32 values", "retired type 4",
        "type 99", "33 values of q8_0", "offset 260", "offset past end", "overlap", "duplicate name", "short data"};
    fbuf f, ok;
    seq_rng r;
    size_t n;
    int v, k;
    for (v = 1; v < VARIANT_COUNT; v++) {
        seq_gguf *g;
        mk(v, &f);
        seq_clear_error();
        g = seq_gguf_open_memory(f.b, f.n, NULL);
        CHECK_MSG(g == NULL && seq_last_status() == SEQ_ERR_FORMAT, "%s: %s", names[v], seq_last_error());
        CHECK(strstr(seq_last_error(), "seq_gguf_open") != NULL);
        seq_gguf_close(g);
    }
    mk(OK_FILE, &ok);
    for (n = 0; n < ok.n; n++) {
        seq_gguf *g = seq_gguf_open_memory(ok.b, n, NULL);
        CHECK_MSG(g == NULL && seq_last_status() == SEQ_ERR_FORMAT, "prefix of %zu bytes", n);
        seq_gguf_close(g);
    }
    seq_rng_seed(&r, 7);
    for (k = 0; k < 2000; k++) { /* anything may come out, as long as nothing breaks */
        seq_gguf *g;
        f = ok;
        f.b[seq_rng_below(&r, f.n)] ^= (uint8_t)(1u << seq_rng_below(&r, 8));
        g = seq_gguf_open_memory(f.b, f.n, NULL);
        if (g) {
            float tmp[64];
            seq_gguf_read_f32(g, "w", tmp, 64);
        }
        seq_gguf_close(g);
    }
    CHECK(seq_test_live_blocks == 0);
}

/* Writer -> file -> reader: every value type, arrays, quantized tensors bit for bit. */
static void test_gguf_round_trip(void) {
    const char *path = "build/test_quant_rt.gguf", *strs[2] = {"hello", ""}, *s = "text";
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -300;
    uint32_t u32 = 4000000000u;
    int32_t i32 = -2000000000;
    float f32 = 1.5f, fa[3] = {0.25f, -1.0f, 3.0f}, w[4 * 64], back[4 * 64], q[4 * 64];
    int bl = 1;
    uint64_t u64 = 1ull << 40;
    int64_t i64 = -(1ll << 40), x, shape[2] = {4, 64};
    double f64 = -2.25, d;
    uint8_t qb[4 * 72];
    seq_gguf_writer *wr = seq_gguf_writer_init(NULL);
    seq_gguf *g;
    int k;
    for (k = 0; k < 4 * 64; k++) w[k] = sinf((float)k);
    CHECK(seq_gguf_writer_kv(wr, "u8", SEQ_GGUF_U8, &u8) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "i8", SEQ_GGUF_I8, &i8) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "u16", SEQ_GGUF_U16, &u16) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "i16", SEQ_GGUF_I16, &i16) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "u32", SEQ_GGUF_U32, &u32) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "i32", SEQ_GGUF_I32, &i32) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "f32", SEQ_GGUF_F32, &f32) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "bool", SEQ_GGUF_BOOL, &bl) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "str", SEQ_GGUF_STRING, &s) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "u64", SEQ_GGUF_U64, &u64) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "i64", SEQ_GGUF_I64, &i64) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "f64", SEQ_GGUF_F64, &f64) == SEQ_OK);
    CHECK(seq_gguf_writer_kv_array(wr, "strs", SEQ_GGUF_STRING, strs, 2) == SEQ_OK);
    CHECK(seq_gguf_writer_kv_array(wr, "fa", SEQ_GGUF_F32, fa, 3) == SEQ_OK);
    CHECK(seq_gguf_writer_kv(wr, "u8", SEQ_GGUF_U8, &u8) == SEQ_ERR_INVALID);          /* twice */
    CHECK(seq_gguf_writer_kv(wr, "arr", SEQ_GGUF_ARRAY, &u8) == SEQ_ERR_INVALID);
    CHECK(seq_gguf_writer_tensor(wr, "w.q4_K", SEQ_QUANT_Q4_K, 2, shape, w) == SEQ_ERR_SHAPE); /* 64 < 256 */
    CHECK(seq_gguf_writer_tensor(wr, "w.q4_0", SEQ_QUANT_Q4_0, 2, shape, w) == SEQ_OK);
    CHECK(seq_gguf_writer_tensor(wr, "w.f16", SEQ_QUANT_F16, 2, shape, w) == SEQ_OK);
    CHECK(seq_gguf_writer_tensor(wr, "w.nf4", SEQ_QUANT_NF4, 2, shape, w) == SEQ_ERR_INVALID); /* no ggml id */
    CHECK(seq_gguf_writer_tensor(wr, "w.q4_0", SEQ_QUANT_Q8_0, 2, shape, w) == SEQ_ERR_INVALID);
    CHECK(seq_gguf_writer_write(wr, path) == SEQ_OK);
    seq_gguf_writer_free(wr);
    g = seq_gguf_open(path, NULL);
    CHECK_MSG(g != NULL, "%s", seq_last_error());
    if (!g) return;
    CHECK(seq_gguf_kv_count(g) == 14 && seq_gguf_tensor_count(g) == 2);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "u8"), 0, &x) == SEQ_OK && x == 200);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "i8"), 0, &x) == SEQ_OK && x == -5);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "u16"), 0, &x) == SEQ_OK && x == 60000);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "i16"), 0, &x) == SEQ_OK && x == -300);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "u32"), 0, &x) == SEQ_OK && x == 4000000000ll);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "i32"), 0, &x) == SEQ_OK && x == -2000000000ll);
    CHECK(seq_gguf_kv_float(g, seq_gguf_find_kv(g, "f32"), 0, &d) == SEQ_OK && d == 1.5);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "bool"), 0, &x) == SEQ_OK && x == 1);
    CHECK(strcmp(seq_gguf_kv_str(g, seq_gguf_find_kv(g, "str"), 0), "text") == 0);
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "u64"), 0, &x) == SEQ_OK && x == (1ll << 40));
    CHECK(seq_gguf_kv_int(g, seq_gguf_find_kv(g, "i64"), 0, &x) == SEQ_OK && x == -(1ll << 40));
    CHECK(seq_gguf_kv_float(g, seq_gguf_find_kv(g, "f64"), 0, &d) == SEQ_OK && d == -2.25);
    CHECK(seq_gguf_kv_float(g, seq_gguf_find_kv(g, "u8"), 0, &d) == SEQ_ERR_INVALID);
    CHECK(seq_gguf_kv_array_len(g, seq_gguf_find_kv(g, "strs")) == 2);
    CHECK(strcmp(seq_gguf_kv_str(g, seq_gguf_find_kv(g, "strs"), 0), "hello") == 0);
    CHECK(strcmp(seq_gguf_kv_str(g, seq_gguf_find_kv(g, "strs"), 1), "") == 0);
    CHECK(seq_gguf_kv_float(g, seq_gguf_find_kv(g, "fa"), 2, &d) == SEQ_OK && d == 3.0);
    CHECK(seq_gguf_read_f32(g, "w.q4_0", back, 4 * 64) == SEQ_OK);
    seq_quant_quantize(SEQ_QUANT_Q4_0, w, qb, 4, 64);
    seq_quant_dequantize(SEQ_QUANT_Q4_0, qb, q, 4, 64);
    for (k = 0; k < 4 * 64; k++) CHECK(back[k] == q[k]);
    CHECK(memcmp(seq_gguf_find_tensor(g, "w.q4_0")->data, qb, 4 * 18 * 2) == 0);
    CHECK(seq_gguf_find_tensor(g, "w.q4_0")->offset % 32 == 0 && seq_gguf_find_tensor(g, "w.f16")->offset % 32 == 0);
    seq_gguf_close(g);
    CHECK(seq_gguf_open("build/no/such.gguf", NULL) == NULL && seq_last_status() == SEQ_ERR_IO);
    remove(path);
}

/* A seq_params model: 2-D weights quantized, biases f32, metadata; allocation failures at
 * every step of writing and reading are clean errors without leaks. */
static void test_gguf_params(void) {
    const char *path = "build/test_quant_params.gguf", *meta[2] = {"seq.note", "tiny"};
    int64_t s2[2] = {8, 64}, s1[1] = {8};
    seq_params *P = seq_params_init(NULL);
    seq_rng r;
    seq_gguf *g;
    float back[8 * 64];
    long k;
    int done = 0;
    seq_rng_seed(&r, 1);
    seq_params_add(P, "fc.weight", 2, s2, seq_init_normal(0.0f, 1.0f));
    seq_params_add(P, "fc.bias", 1, s1, seq_init_normal(0.0f, 1.0f));
    CHECK(seq_params_alloc(P, &r) == SEQ_OK);
    CHECK(seq_gguf_save_params(P, path, SEQ_QUANT_Q8_0, meta, 1) == SEQ_OK);
    g = seq_gguf_open(path, NULL);
    CHECK(g != NULL);
    if (g) {
        CHECK(seq_gguf_find_tensor(g, "fc.weight")->type == SEQ_QUANT_Q8_0);
        CHECK(seq_gguf_find_tensor(g, "fc.bias")->type == SEQ_QUANT_F32);
        CHECK(strcmp(seq_gguf_kv_str(g, seq_gguf_find_kv(g, "seq.quant_type"), 0), "q8_0") == 0);
        CHECK(strcmp(seq_gguf_kv_str(g, seq_gguf_find_kv(g, "seq.note"), 0), "tiny") == 0);
        CHECK(seq_gguf_read_f32(g, "fc.weight", back, 8 * 64) == SEQ_OK);
        for (k = 0; k < 8 * 64; k++) CHECK(fabsf(back[k] - P->data[k]) <= 0.03f);
        CHECK(seq_gguf_read_f32(g, "fc.bias", back, 8) == SEQ_OK && memcmp(back, seq_params_find(P, "fc.bias")->data, 32) == 0);
        seq_gguf_close(g);
    }
    for (k = 0; !done && k < 200; k++) {
        seq_status s;
        seq_test_fail_after(k);
        s = seq_gguf_save_params(P, path, SEQ_QUANT_Q4_0, NULL, 0);
        g = s == SEQ_OK ? seq_gguf_open(path, NULL) : NULL;
        seq_test_fail_never();
        CHECK(s == SEQ_OK || s == SEQ_ERR_NOMEM);
        CHECK(g || s != SEQ_OK || seq_last_status() == SEQ_ERR_NOMEM);
        done = g != NULL;
        seq_gguf_close(g);
    }
    CHECK(done);
    CHECK(seq_gguf_save_params(P, path, SEQ_QUANT_NF4, NULL, 0) == SEQ_ERR_INVALID);
    seq_params_free(P);
    remove(path);
}

void seq_tests_quant_gguf(void) {
    RUN(test_gguf_hand_made);
    RUN(test_gguf_hostile);
    RUN(test_gguf_round_trip);
    RUN(test_gguf_params);
}
