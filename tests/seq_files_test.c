/* Section 13: f16/bf16 conversions, safetensors reading and writing, parameter files and
 * checkpoints. Temporary files are /tmp/seq_files_<pid>_*, all removed by the end. */
#define _POSIX_C_SOURCE 200809L /* getpid, mkdir, opendir */
#include "seq_test.h"
#include "../seq.h"
#include "fixtures/torch_safetensors.h"
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

/* ---- helpers ------------------------------------------------------------------------ */

static uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static float float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* A failed open returns only NULL: its message is in seq_last_error(), its status reaches
 * the log sink. */
static seq_status logged;
static void log_status(void *ud, seq_status s, const char *msg) {
    (void)ud;
    (void)msg;
    logged = s;
}

static void tmp_path(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/seq_files_%ld_%s", (long)getpid(), tag);
}

static int write_bytes(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}

/* The whole file in a malloc'd buffer (NULL if unreadable). */
static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static int same_file(const char *path, const unsigned char *want, size_t n) {
    size_t got_n = 0;
    unsigned char *got = read_bytes(path, &got_n);
    int same = got && got_n == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

/* Entries of /tmp whose name starts with prefix. */
static int count_in_tmp(const char *prefix) {
    DIR *d = opendir("/tmp");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

/* A file image: little-endian N, N bytes of JSON, then ndata bytes of data. */
static size_t assemble_n(unsigned char *out, const char *json, size_t n, size_t ndata) {
    size_t i;
    for (i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, json, n);
    for (i = 0; i < ndata; i++) out[8 + n + i] = (unsigned char)(i * 37 + 11);
    return 8 + n + ndata;
}

static size_t assemble(unsigned char *out, const char *json, size_t ndata) {
    return assemble_n(out, json, strlen(json), ndata);
}

static const char fixture_path[] = "tests/fixtures/torch.safetensors";

static int fixture_file_present(void) {
    FILE *f = fopen(fixture_path, "rb");
    int present = f != NULL;
    if (f) fclose(f);
    return present;
}

/* A tensor entry with its object left open (for extra fields): ENTRY("a", "F32", "2", "0,8") */
#define ENTRY(name, dtype, shape, offsets)                                                                        \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":[" shape "],\"data_offsets\":[" offsets "]"
#define A ENTRY("a", "F32", "2", "0,8")          /* a valid entry for 8 data bytes */
#define A_WITH(field) "{" A ",\"x\":" field "}}" /* and an ignored field */
#define A_NAMED(name) "{" ENTRY(name, "F32", "2", "0,8") "}}"
#define A_SHAPED(shape) "{" ENTRY("a", "F32", shape, "0,8") "}}"

/* a valid file: a F32 (2,), b F16 (2,), 12 data bytes */
static const char base_json[] = "{" A "}," ENTRY("b", "F16", "2", "8,12") "}}";

/* ---- 13a half precision ------------------------------------------------------------- */

static void test_f16_golden(void) {
    static const struct {
        float x;
        uint16_t h;
    } g[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {0.333333343f, 0x3555},
        {65504.0f, 0x7bff},
        {65519.99f, 0x7bff},
        {65520.0f, 0x7c00},
        {1e10f, 0x7c00},
        {-1e10f, 0xfc00},
        {6.103515625e-05f, 0x0400},           /* 2^-14, least normal */
        {5.9604644775390625e-08f, 0x0001},    /* 2^-24, least subnormal */
        {2.98023223876953125e-08f, 0x0000},   /* 2^-25: tie, to even zero */
        {2.98023259e-08f, 0x0001},            /* just above the tie */
        {8.94069671630859375e-08f, 0x0002},   /* 1.5 * 2^-24: tie, to even 2 */
        {1.490116119384765625e-07f, 0x0002},  /* 2.5 * 2^-24: tie, to even 2 */
        {6.0975551605224609375e-05f, 0x03ff}, /* largest subnormal */
        {6.1005353927612305e-05f, 0x0400},    /* tie above it rounds up into the normals */
        {1.00048828125f, 0x3c00},             /* 1 + 2^-11: tie, to even */
        {1.00146484375f, 0x3c02},             /* 1 + 3 * 2^-11: tie, to even */
        {1e-10f, 0x0000},
        {-1e-10f, 0x8000},
    };
    size_t i;
    for (i = 0; i < sizeof g / sizeof g[0]; i++) {
        uint16_t h = seq_f32_to_f16(g[i].x);
        CHECK_MSG(h == g[i].h, "%.9g -> 0x%04x, want 0x%04x", (double)g[i].x, h, g[i].h);
    }
    CHECK(seq_f32_to_f16(INFINITY) == 0x7c00 && seq_f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(seq_f32_to_f16(float_of(0x7fc00000u)) == 0x7e00);
    CHECK(seq_f32_to_f16(float_of(0xff800001u)) == 0xfe00); /* signaling, payload below f16's: still NaN */
    CHECK(seq_f32_to_f16(float_of(0x7f802000u)) == 0x7e01); /* payload's top bits kept, quieted */
    CHECK(seq_f16_to_f32(0x3c00) == 1.0f && seq_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(seq_f16_to_f32(0x0001) == 5.9604644775390625e-08f && bits_of(seq_f16_to_f32(0x8000)) == 0x80000000u);
    CHECK(bits_of(seq_f16_to_f32(0x7c01)) == 0x7fc02000u); /* signaling f16 NaN comes out quiet */
}

static void test_f16_exhaustive(void) {
    long bad = 0, first = -1;
    uint32_t h;
    for (h = 0; h < 65536; h++) {
        float f = seq_f16_to_f32((uint16_t)h);
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        uint16_t back = seq_f32_to_f16(f);
        int ok;
        if (e == 31 && m) {
            ok = isnan(f) && (bits_of(f) >> 31) == (h >> 15) && (bits_of(f) & 0x400000u) && back == (h | 0x200);
        } else {
            double mag = e == 31 ? INFINITY : e == 0 ? ldexp((double)m, -24) : ldexp(1024.0 + m, (int)e - 25);
            ok = bits_of(f) == bits_of((float)((h & 0x8000) ? -mag : mag)) && back == h;
        }
        if (!ok && bad++ == 0) first = (long)h;
    }
    CHECK_MSG(bad == 0, "%ld halves fail to round-trip, first 0x%04lx", bad, first);
    /* every midpoint between neighbouring finite halves (exact in f32) ties to the even
     * one, and one f32 step either side goes to the nearer */
    bad = 0;
    for (h = 0; h < 0x7bff; h++) {
        float lo = seq_f16_to_f32((uint16_t)h), hi = seq_f16_to_f32((uint16_t)(h + 1));
        float mid = (float)(((double)lo + (double)hi) / 2);
        uint32_t even = (h & 1) ? h + 1 : h, s;
        for (s = 0; s < 2; s++) {
            float sg = s ? -1.0f : 1.0f;
            uint32_t sb = s ? 0x8000u : 0u;
            if (seq_f32_to_f16(sg * mid) != (even | sb) ||
                seq_f32_to_f16(sg * nextafterf(mid, 0.0f)) != (h | sb) ||
                seq_f32_to_f16(sg * nextafterf(mid, INFINITY)) != ((h + 1) | sb))
                if (bad++ == 0) first = (long)h;
        }
    }
    CHECK_MSG(bad == 0, "%ld midpoints round wrong, first above 0x%04lx", bad, first);
}

#if defined(__F16C__)
/* The conversions agree bit for bit with the F16C instructions: all halves widened, and
 * a million random f32 bit patterns (NaNs included) narrowed. */
static void test_f16_vs_f16c(void) {
    seq_rng r;
    long bad = 0, i;
    uint32_t h;
    for (h = 0; h < 65536; h++)
        if (bits_of(seq_f16_to_f32((uint16_t)h)) != bits_of(_cvtsh_ss((unsigned short)h))) bad++;
    CHECK_MSG(bad == 0, "%ld halves widen unlike F16C", bad);
    seq_rng_seed(&r, 16);
    for (i = 0, bad = 0; i < (1L << 20); i++) {
        float x = float_of((uint32_t)seq_rng_u64(&r));
        if (seq_f32_to_f16(x) != _cvtss_sh(x, 0)) bad++;
    }
    CHECK_MSG(bad == 0, "%ld of 2^20 random floats narrow unlike F16C", bad);
}
#endif

static void test_bf16(void) {
    long bad = 0, first = -1;
    uint32_t h;
    CHECK(seq_f32_to_bf16(1.0f) == 0x3f80 && seq_f32_to_bf16(-2.0f) == 0xc000);
    CHECK(seq_f32_to_bf16(float_of(0x3f808000u)) == 0x3f80); /* tie, to even */
    CHECK(seq_f32_to_bf16(float_of(0x3f818000u)) == 0x3f82); /* tie, to even */
    CHECK(seq_f32_to_bf16(float_of(0x3f808001u)) == 0x3f81);
    CHECK(seq_f32_to_bf16(float_of(0x7f7fffffu)) == 0x7f80); /* FLT_MAX overflows to Inf */
    CHECK(seq_f32_to_bf16(float_of(0x7f7f7fffu)) == 0x7f7f);
    CHECK(seq_f32_to_bf16(float_of(0x00000001u)) == 0x0000 && seq_f32_to_bf16(float_of(0x00018000u)) == 0x0002);
    CHECK(seq_f32_to_bf16(INFINITY) == 0x7f80 && seq_f32_to_bf16(-INFINITY) == 0xff80);
    CHECK(seq_f32_to_bf16(float_of(0x7f800001u)) == 0x7fc0 && seq_f32_to_bf16(float_of(0xffffffffu)) == 0xffff);
    CHECK(bits_of(seq_bf16_to_f32(0x7f81)) == 0x7fc10000u);
    for (h = 0; h < 65536; h++) {
        float f = seq_bf16_to_f32((uint16_t)h);
        int nan = ((h >> 7) & 0xff) == 0xff && (h & 0x7f);
        int ok =
            nan ? isnan(f) && seq_f32_to_bf16(f) == (h | 0x40) : bits_of(f) == h << 16 && seq_f32_to_bf16(f) == h;
        if (!ok && bad++ == 0) first = (long)h;
    }
    CHECK_MSG(bad == 0, "%ld bf16 values fail to round-trip, first 0x%04lx", bad, first);
    for (h = 0, bad = 0; h < 0x7f7f; h++) {
        uint32_t mid = h << 16 | 0x8000u, even = (h & 1) ? h + 1 : h;
        if (seq_f32_to_bf16(float_of(mid)) != even || seq_f32_to_bf16(float_of(mid - 1)) != h ||
            seq_f32_to_bf16(float_of(mid + 1)) != h + 1 || seq_f32_to_bf16(-float_of(mid)) != (even | 0x8000u))
            if (bad++ == 0) first = (long)h;
    }
    CHECK_MSG(bad == 0, "%ld bf16 midpoints round wrong, first above 0x%04lx", bad, first);
}

/* ---- 13b safetensors: round trips ----------------------------------------------------- */

#define RT_N 5
static const char rt_odd_name[] = "odd \"name\" \\ with\nnewline\ttab, \xc3\xa9, \xe6\x97\xa5, \xf0\x9f\x98\x80";
static const float rt_w[6] = {1.0f, -2.5f, 3.14159274f, 1e5f, -0.0f, 1e-7f};
static const float rt_b[3] = {INFINITY, -INFINITY, 6.1e-5f};
static const float rt_s[1] = {42.0f};
static const float rt_odd[2] = {0.1f, -0.2f};

static void rt_descs(seq_st_tensor_desc *d) {
    static const int64_t sw[2] = {2, 3}, sb[1] = {3}, sz[2] = {0, 4}, sodd[1] = {2};
    d[0].name = "w", d[0].ndim = 2, d[0].shape = sw, d[0].data = rt_w;
    d[1].name = "b", d[1].ndim = 1, d[1].shape = sb, d[1].data = rt_b;
    d[2].name = "s", d[2].ndim = 0, d[2].shape = NULL, d[2].data = rt_s;
    d[3].name = "z", d[3].ndim = 2, d[3].shape = sz, d[3].data = NULL;
    d[4].name = rt_odd_name, d[4].ndim = 1, d[4].shape = sodd, d[4].data = rt_odd;
}

static float through(float x, seq_st_dtype dt) {
    return dt == SEQ_ST_F16    ? seq_f16_to_f32(seq_f32_to_f16(x))
           : dt == SEQ_ST_BF16 ? seq_bf16_to_f32(seq_f32_to_bf16(x))
                               : x;
}

/* Everything written by the round-trip tests reads back: names, dtype, shapes, values
 * (as the dtype rounds them), metadata. */
static void check_rt_reader(seq_safetensors *st, seq_st_dtype dt) {
    seq_st_tensor_desc d[RT_N];
    float got[8];
    int64_t i, k;
    int j;
    rt_descs(d);
    CHECK(seq_safetensors_count(st) == RT_N);
    for (i = 1; i < RT_N; i++)
        CHECK(strcmp(seq_safetensors_get(st, i - 1)->name, seq_safetensors_get(st, i)->name) < 0);
    CHECK(seq_safetensors_get(st, RT_N) == NULL && seq_safetensors_get(st, -1) == NULL);
    for (i = 0; i < RT_N; i++) {
        const seq_st_info *info = seq_safetensors_find(st, d[i].name);
        int64_t numel = 1;
        CHECK_MSG(info != NULL, "tensor %lld missing", (long long)i);
        if (!info) continue;
        for (j = 0; j < d[i].ndim; j++) numel *= d[i].shape[j];
        CHECK(strcmp(info->name, d[i].name) == 0 && info->dtype == dt && info->ndim == d[i].ndim);
        for (j = 0; j < d[i].ndim; j++) CHECK(info->shape[j] == d[i].shape[j]);
        CHECK(info->numel == numel && info->nbytes == (size_t)numel * seq_st_dtype_size(dt));
        CHECK(seq_safetensors_read_f32(st, d[i].name, got, numel) == SEQ_OK);
        for (k = 0; k < numel; k++)
            CHECK_MSG(bits_of(got[k]) == bits_of(through(d[i].data[k], dt)), "%s[%lld] = %.9g",
                      seq_st_dtype_name(dt), (long long)k, (double)got[k]);
    }
    CHECK(seq_safetensors_find(st, "nope") == NULL);
    CHECK(strcmp(seq_safetensors_meta(st, "format"), "pt") == 0);
    CHECK(strcmp(seq_safetensors_meta(st, "note"), "a \"quoted\"\nline \xc3\xa9") == 0);
    CHECK(seq_safetensors_meta(st, "absent") == NULL);
    CHECK(seq_safetensors_read_f32(st, "w", got, 5) == SEQ_ERR_SHAPE &&
          strstr(seq_last_error(), "'w' has 6 elements"));
    CHECK(seq_safetensors_read_f32(st, "nope", got, 1) == SEQ_ERR_INVALID &&
          strstr(seq_last_error(), "no tensor 'nope'"));
    CHECK(seq_safetensors_read_f32(st, "w", NULL, 6) == SEQ_ERR_INVALID);
}

static void test_st_roundtrip(void) {
    static const char *const meta[4] = {"format", "pt", "note", "a \"quoted\"\nline \xc3\xa9"};
    static const seq_st_dtype dts[3] = {SEQ_ST_F32, SEQ_ST_F16, SEQ_ST_BF16};
    seq_st_tensor_desc d[RT_N];
    char path[256];
    long live = seq_test_live_blocks;
    int t;
    rt_descs(d);
    tmp_path(path, sizeof path, "rt.safetensors");
    for (t = 0; t < 3; t++) {
        seq_safetensors *st;
        unsigned char *bytes;
        size_t n = 0;
        uint64_t hlen = 0;
        int i;
        CHECK(seq_safetensors_write(path, d, RT_N, meta, 2, dts[t]) == SEQ_OK);
        st = seq_safetensors_open(path, NULL);
        CHECK_MSG(st != NULL, "%s", seq_last_error());
        if (st) check_rt_reader(st, dts[t]);
        seq_safetensors_close(st);
        bytes = read_bytes(path, &n);
        CHECK(bytes && n > 8);
        if (!bytes) continue;
        for (i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
        CHECK((8 + hlen) % 8 == 0 && bytes[8 + hlen - 1] != '\0'); /* padded with spaces to 8 */
        st = seq_safetensors_open_memory(bytes, n, NULL);
        CHECK_MSG(st != NULL, "%s", seq_last_error());
        if (st) check_rt_reader(st, dts[t]);
        seq_safetensors_close(st);
        free(bytes);
    }
    /* no tensors at all: the header "{}" padded to 8 bytes, and nothing after it */
    CHECK(seq_safetensors_write(path, NULL, 0, NULL, 0, SEQ_ST_F32) == SEQ_OK);
    {
        static const unsigned char empty[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
        seq_safetensors *st = seq_safetensors_open(path, NULL);
        CHECK(same_file(path, empty, sizeof empty) && st && seq_safetensors_count(st) == 0);
        CHECK(seq_safetensors_get(st, 0) == NULL && seq_safetensors_find(st, "w") == NULL);
        seq_safetensors_close(st);
    }
    CHECK(seq_test_live_blocks == live);
    remove(path);
}

/* ---- 13b safetensors: the PyTorch-written fixture ------------------------------------ */

static void check_fixture(seq_safetensors *st) {
    size_t i;
    int j;
    float got[16];
    CHECK(seq_safetensors_count(st) == (int64_t)(sizeof fixture_torch_tensors / sizeof fixture_torch_tensors[0]));
    CHECK(strcmp(seq_safetensors_meta(st, "format"), "pt") == 0);
    for (i = 0; i < sizeof fixture_torch_tensors / sizeof fixture_torch_tensors[0]; i++) {
        const fixture_tensor *x = &fixture_torch_tensors[i];
        const seq_st_info *info = seq_safetensors_find(st, x->name);
        int64_t k;
        CHECK_MSG(info != NULL, "no %s", x->name);
        if (!info) continue;
        CHECK(strcmp(seq_st_dtype_name(info->dtype), x->dtype) == 0 && info->ndim == x->ndim &&
              info->numel == x->numel);
        for (j = 0; j < x->ndim; j++) CHECK(info->shape[j] == x->shape[j]);
        if (info->dtype == SEQ_ST_I64) {
            CHECK(seq_safetensors_read_f32(st, x->name, got, x->numel) == SEQ_ERR_UNSUPPORTED);
            CHECK(strstr(seq_last_error(), "'steps' is I64") != NULL);
            continue;
        }
        CHECK(seq_safetensors_read_f32(st, x->name, got, x->numel) == SEQ_OK);
        for (k = 0; k < x->numel; k++)
            CHECK_MSG(bits_of(got[k]) == bits_of(x->values[k]), "%s[%lld] = %.9g, torch says %.9g", x->name,
                      (long long)k, (double)got[k], (double)x->values[k]);
    }
}

static void test_torch_fixture_memory(void) {
    seq_safetensors *st = seq_safetensors_open_memory(fixture_torch_st, sizeof fixture_torch_st, NULL);
    CHECK_MSG(st != NULL, "%s", seq_last_error());
    if (st) check_fixture(st);
    seq_safetensors_close(st);
}

static void test_torch_fixture_file(void) {
    seq_safetensors *st;
    if (!fixture_file_present()) SKIP("tests/fixtures/torch.safetensors not found (run from the repository root)");
    CHECK(same_file(fixture_path, fixture_torch_st, sizeof fixture_torch_st)); /* the header embeds this file */
    st = seq_safetensors_open(fixture_path, NULL);
    CHECK_MSG(st != NULL, "%s", seq_last_error());
    if (st) check_fixture(st);
    seq_safetensors_close(st);
}

/* ---- 13b safetensors: malformed files -------------------------------------------------- */

static const struct bad_case {
    const char *json;
    size_t ndata;
    const char *msg; /* part of the message */
} bad_cases[] = {
    /* JSON syntax */
    {"{" A "}", 8, "expected ',' or '}'"},
    {"{" A, 8, "expected ',' or '}'"},
    {"{" A "},}", 8, "expected a string"},
    {"{" A "} \"b\":{}}", 8, "expected ',' or '}'"},
    {"{\"a\" {}}", 0, "expected ':'"},
    {"{'a':{}}", 0, "expected a string"},
    {"{a:1}", 0, "expected a string"},
    {A_SHAPED("2,"), 8, "must be a non-negative integer"},
    {"{" ENTRY("a", "F32", "2", "0,8}}"), 8, "expected ',' or ']'"},
    {"{\"a\":{\"dtype\":\"F\\x32\"}}", 0, "invalid escape"},
    {"{\"a\\u12\":{}}", 0, "4 hex digits"},
    {A_NAMED("a\tb"), 8, "control character 0x09"},
    {A_NAMED("\xff"), 8, "invalid UTF-8"},
    {A_NAMED("\xc0\xaf"), 8, "invalid UTF-8"},     /* overlong '/' */
    {A_NAMED("\xed\xa0\x80"), 8, "invalid UTF-8"}, /* a surrogate, encoded */
    {A_NAMED("\\ud800"), 8, "without its low half"},
    {A_NAMED("\\ud800\\u0041"), 8, "without its low half"},
    {A_NAMED("\\udc00"), 8, "lone low surrogate"},
    {A_NAMED("a\\u0000"), 8, "\\u0000"},
    {A_WITH("\"unterminated}}"), 8, "unterminated string"},
    {"{" A "}}x", 8, "data after the header object"},
    {" {" A "}}", 8, "starting with '{'"},
    {"", 0, "starting with '{'"},
    {"[]", 0, "starting with '{'"},
    {A_WITH("NaN"), 8, "expected a value"},
    {A_WITH("tru"), 8, "expected a value"},
    {A_WITH("-"), 8, "expected a value"},
    {A_WITH("1."), 8, "digits must follow '.'"},
    {A_WITH("1e+"), 8, "digits must follow the exponent"},
    {A_WITH("01"), 8, "leading zero"},
    {A_WITH("[1 2]"), 8, "expected ',' or ']'"},
    /* numbers where the format wants non-negative integers */
    {A_SHAPED("02"), 8, "leading zero"},
    {A_SHAPED("2.0"), 8, "must be an integer"},
    {A_SHAPED("2e0"), 8, "must be an integer"},
    {A_SHAPED("-2"), 8, "shape entry must be a non-negative integer"},
    {A_SHAPED("\"2\""), 8, "shape entry must be a non-negative integer"},
    {"{" ENTRY("a", "F32", "2", "0,99999999999999999999") "}}", 8, "data offset is too large"},
    {A_SHAPED("4294967296,4294967296,4294967296"), 8, "element count overflows"},
    {A_SHAPED("2305843009213693952"), 8, "size in bytes overflows"}, /* 2^61 floats */
    /* the schema */
    {"{\"a\":{\"dtype\":true,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype must be a string"},
    {"{" ENTRY("a", "F17", "2", "0,8") "}}", 8, "unknown dtype 'F17'"},
    {"{" ENTRY("a", "f32", "2", "0,8") "}}", 8, "unknown dtype 'f32'"},
    {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "has no dtype"},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "has no shape"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "has no data_offsets"},
    {"{" ENTRY("a", "F32", "2", "0,4,8") "}}", 8, "more than 2 entries"},
    {"{" ENTRY("a", "F32", "2", "8") "}}", 8, "needs 2 entries"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "expected an array"},
    {"{\"a\":[1]}", 0, "tensor 'a' must be an object"},
    {"{\"__metadata__\":\"x\"}", 0, "__metadata__ must be an object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' must be a string"},
    /* duplicate keys, in every kind of object */
    {"{" ENTRY("a", "F32", "1", "0,4") "}," ENTRY("a", "F32", "1", "4,8") "}}", 8, "key 'a' appears twice"},
    {"{" ENTRY("\\u0061", "F32", "1", "0,4") "}," ENTRY("a", "F32", "1", "4,8") "}}", 8, "key 'a' appears twice"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     "key 'dtype' appears twice"},
    {"{" A ",\"x\":1,\"x\":2}}", 8, "key 'x' appears twice"},
    {A_WITH("{\"y\":1,\"y\":2}"), 8, "key 'y' appears twice"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "key 'k' appears twice"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "key '__metadata__' appears twice"},
    /* where the bytes lie */
    {"{" A "}," ENTRY("b", "F16", "2", "4,8") "}}", 8, "overlaps 'a'"},
    {"{" A "}," ENTRY("b", "F16", "2", "10,14") "}}", 14, "hole of 2 bytes"},
    {"{" ENTRY("a", "F32", "2", "4,12") "}}", 12, "hole of 4 bytes"},
    {"{" A "}," ENTRY("b", "F16", "2", "12,8") "}}", 12, "end before they begin"},
    {A_SHAPED("3"), 8, "span 8 bytes, but 3 F32 elements take 12"},
    {"{" ENTRY("a", "F16", "2", "0,8") "}}", 8, "span 8 bytes, but 2 F16 elements take 4"},
    {"{" A "}}", 12, "cover 8 bytes but the data buffer holds 12"},
    {"{" A "}}", 6, "run past the 6-byte data buffer"},
    {"{}", 1, "cover 0 bytes but the data buffer holds 1"},
};

/* 70 nested arrays, then objects, inside an ignored field of a valid entry */
static void deep_json(char *buf, size_t cap, int objects) {
    size_t n;
    int i;
    n = (size_t)snprintf(buf, cap, "{" A ",\"x\":");
    for (i = 0; i < 70; i++) n += (size_t)snprintf(buf + n, cap - n, objects ? "{\"k\":" : "[");
    n += (size_t)snprintf(buf + n, cap - n, "1");
    for (i = 0; i < 70; i++) n += (size_t)snprintf(buf + n, cap - n, objects ? "}" : "]");
    snprintf(buf + n, cap - n, "}}");
}

/* The image must fail to open, from memory and from disk, with SEQ_ERR_FORMAT and msg. */
static void expect_format(const unsigned char *img, size_t n, const char *msg, const char *what) {
    char path[256];
    long live = seq_test_live_blocks;
    seq_params *P = seq_params_init(NULL);
    int64_t shape[1] = {2};
    seq_safetensors *st;
    tmp_path(path, sizeof path, "bad.safetensors");
    logged = SEQ_OK;
    st = seq_safetensors_open_memory(img, n, NULL);
    CHECK_MSG(st == NULL && logged == SEQ_ERR_FORMAT, "%s: opened from memory", what);
    CHECK_MSG(strstr(seq_last_error(), "seq_safetensors_open_memory: ") == seq_last_error() &&
                  strstr(seq_last_error(), msg) != NULL,
              "%s: message '%s' lacks '%s'", what, seq_last_error(), msg);
    seq_safetensors_close(st);
    CHECK(write_bytes(path, img, n));
    logged = SEQ_OK;
    st = seq_safetensors_open(path, NULL);
    CHECK_MSG(st == NULL && logged == SEQ_ERR_FORMAT && strstr(seq_last_error(), msg) != NULL, "%s: from disk: %s",
              what, seq_last_error());
    seq_safetensors_close(st);
    seq_params_add(P, "a", 1, shape, seq_init_constant(7.0f));
    seq_params_alloc(P, NULL);
    CHECK_MSG(seq_safetensors_load(P, path) == SEQ_ERR_FORMAT && P->data[0] == 7.0f && P->data[1] == 7.0f,
              "%s: seq_safetensors_load: %s", what, seq_last_error());
    seq_params_free(P);
    remove(path);
    CHECK(seq_test_live_blocks == live);
}

static void test_st_malformed(void) {
    unsigned char img[2048];
    char json[1024], what[64];
    size_t i, n;
    seq_set_log(log_status, NULL);
    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        snprintf(what, sizeof what, "case %d", (int)i);
        expect_format(img, assemble(img, bad_cases[i].json, bad_cases[i].ndata), bad_cases[i].msg, what);
    }
    strcpy(json, "{" A "}}\n");
    expect_format(img, assemble_n(img, json, strlen(json) + 1, 8), "data after the header object",
                  "NUL in the padding");
    deep_json(json, sizeof json, 0);
    expect_format(img, assemble(img, json, 8), "nested deeper than 64 levels", "deep arrays");
    deep_json(json, sizeof json, 1);
    expect_format(img, assemble(img, json, 8), "nested deeper than 64 levels", "deep objects");
    /* the header length itself */
    n = assemble(img, base_json, 12);
    img[0] = 0x01, img[1] = 0xe1, img[2] = 0xf5, img[3] = 0x05; /* 100,000,001 */
    expect_format(img, n, "header length 100000001 is over the format's limit", "huge header length");
    memset(img, 0xff, 8);
    expect_format(img, n, "is over the format's limit", "header length 2^64-1");
    n = assemble(img, base_json, 12);
    img[0] = (unsigned char)(img[0] + 13);
    expect_format(img, n, "runs past the end of the", "header length past EOF");
    expect_format(img, 7, "7 bytes are too few", "7-byte file");
    expect_format(img, 0, "0 bytes are too few", "empty file");
    seq_set_log(NULL, NULL);
}

/* Every strict prefix of a valid file is malformed; the whole of it opens. */
static void test_st_truncated(void) {
    unsigned char img[256];
    char what[64];
    size_t n = assemble(img, base_json, 12), k;
    seq_safetensors *st;
    seq_set_log(log_status, NULL);
    st = seq_safetensors_open_memory(img, n, NULL);
    CHECK_MSG(st != NULL, "%s", seq_last_error());
    seq_safetensors_close(st);
    for (k = 0; k < n; k++) {
        snprintf(what, sizeof what, "cut at %d of %d", (int)k, (int)n);
        expect_format(img, k,
                      k < 8                       ? "too few"
                      : k < 8 + strlen(base_json) ? "runs past the end"
                                                  : "data buffer",
                      what);
    }
    seq_set_log(NULL, NULL);
}

/* Random byte changes to a valid file: whatever opens reads without trouble, nothing
 * leaks, and no input crashes (the point under ASan). */
static void test_st_mutations(void) {
    unsigned char img[256], mut[256];
    float vals[64];
    size_t n = assemble(img, base_json, 12);
    long live = seq_test_live_blocks, opened = 0;
    seq_rng r;
    int i, j;
    seq_rng_seed(&r, 13);
    for (i = 0; i < 4000; i++) {
        seq_safetensors *st;
        memcpy(mut, img, n);
        for (j = 0; j < 1 + (int)seq_rng_below(&r, 3); j++) /* any byte, or one that matters to JSON */
            mut[seq_rng_below(&r, n)] = seq_rng_below(&r, 4) ? (unsigned char)seq_rng_below(&r, 256)
                                                             : (unsigned char)"{}[]\",:0\\"[seq_rng_below(&r, 9)];
        st = seq_safetensors_open_memory(mut, n, NULL);
        if (st) {
            int64_t k;
            opened++;
            for (k = 0; k < seq_safetensors_count(st); k++) {
                const seq_st_info *info = seq_safetensors_get(st, k);
                CHECK(info->offset + info->nbytes <= n && info->numel <= 64);
                if (info->numel <= 64) seq_safetensors_read_f32(st, info->name, vals, info->numel);
            }
        }
        seq_safetensors_close(st);
    }
    CHECK(opened > 0 && opened < 4000);
    CHECK(seq_test_live_blocks == live);
}

/* Header key order carries no meaning; offsets do. Unknown fields are ignored. */
static void test_st_layout_order(void) {
    static const char json[] = "{" ENTRY("b", "F16", "2", "0,4") ",\"extra\":[{\"x\":null},true]},"
                               "\"__metadata__\":{\"k\":\"v\"},"
                               ENTRY("e", "BF16", "0", "4,4") "},"
                               ENTRY("a", "F32", "2", "4,12") "}} \t\r\n";
    unsigned char img[512];
    size_t n = assemble(img, json, 12);
    seq_safetensors *st = seq_safetensors_open_memory(img, n, NULL);
    float v[2];
    CHECK_MSG(st != NULL, "%s", seq_last_error());
    if (!st) return;
    CHECK(seq_safetensors_count(st) == 3 && strcmp(seq_safetensors_meta(st, "k"), "v") == 0);
    CHECK(seq_safetensors_find(st, "a")->offset == 4 && seq_safetensors_find(st, "b")->offset == 0);
    CHECK(seq_safetensors_find(st, "e")->numel == 0 && seq_safetensors_read_f32(st, "e", NULL, 0) == SEQ_OK);
    CHECK(seq_safetensors_read_f32(st, "a", v, 2) == SEQ_OK);
    CHECK(bits_of(v[1]) == le32(img + n - 4)); /* a's bytes are the last 8 */
    seq_safetensors_close(st);
}

/* What strict JSON allows is accepted: whitespace anywhere, every escape, surrogate pairs,
 * any value (numbers with fractions and exponents too) in an ignored field. */
static void test_st_json_accepted(void) {
    static const char json[] = "{ \"caf\\u00e9 \\ud83d\\ude00 \\/\\b\\f\\n\\r\\t\\\"\\\\\" :\n{ \"dtype\" : \"F32\" ,"
                               " \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 8 ] , \"x\" : [ -1.5e+10 , 0 , 0.25E-3 ,"
                               " -0 , true , false , null , { } , [ ] , \"s\" , { \"k\" : [ { } ] } ] } }\r\n";
    unsigned char img[512];
    size_t n = assemble(img, json, 8);
    seq_safetensors *st = seq_safetensors_open_memory(img, n, NULL);
    CHECK_MSG(st != NULL, "%s", seq_last_error());
    if (!st) return;
    CHECK(seq_safetensors_count(st) == 1);
    CHECK(strcmp(seq_safetensors_get(st, 0)->name, "caf\xc3\xa9 \xf0\x9f\x98\x80 /\b\f\n\r\t\"\\") == 0);
    seq_safetensors_close(st);
}

static void test_st_bad_arguments(void) {
    float v[2];
    seq_set_log(log_status, NULL);
    logged = SEQ_OK;
    CHECK(seq_safetensors_open(NULL, NULL) == NULL && logged == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_open_memory(NULL, 16, NULL) == NULL && logged == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_open("/nonexistent/seq/x.safetensors", NULL) == NULL && logged == SEQ_ERR_IO);
    CHECK(strstr(seq_last_error(), "cannot open '/nonexistent/seq/x.safetensors'") != NULL);
    seq_set_log(NULL, NULL);
    seq_safetensors_close(NULL);
    CHECK(seq_safetensors_count(NULL) == 0 && seq_safetensors_get(NULL, 0) == NULL);
    CHECK(seq_safetensors_find(NULL, "a") == NULL && seq_safetensors_meta(NULL, "a") == NULL);
    CHECK(seq_safetensors_read_f32(NULL, "a", v, 2) == SEQ_ERR_INVALID);
    CHECK(strcmp(seq_st_dtype_name(SEQ_ST_BF16), "BF16") == 0 && seq_st_dtype_size(SEQ_ST_F64) == 8);
    CHECK(strcmp(seq_st_dtype_name(SEQ_ST_DTYPE_COUNT), "?") == 0 && seq_st_dtype_size((seq_st_dtype)-1) == 0);
}

/* ---- 13b safetensors: the writer refuses bad input and never leaves a partial file ---- */

static void test_st_writer_errors(void) {
    static const int64_t s2[1] = {2}, sneg[1] = {-1}, s5[5] = {1, 1, 1, 1, 2};
    static const float x[2] = {1.0f, 2.0f};
    static const char *const dup_meta[4] = {"k", "1", "k", "2"};
    static const char *const null_meta[2] = {"k", NULL};
    seq_st_tensor_desc d[2], good;
    char path[256], dir[256], prefix[128];
    unsigned char *before;
    size_t nbefore = 0;
    long live = seq_test_live_blocks;
    int k;
    seq_status s = SEQ_OK;
    tmp_path(path, sizeof path, "w.safetensors");
    good.name = "x", good.ndim = 1, good.shape = s2, good.data = x;
    CHECK(seq_safetensors_write(path, &good, 1, NULL, 0, SEQ_ST_F32) == SEQ_OK);
    before = read_bytes(path, &nbefore);
    d[0] = d[1] = good;
    d[1].name = "x";
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID &&
          strstr(seq_last_error(), "'x' appears twice"));
    CHECK(seq_safetensors_write(NULL, d, 1, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_write(path, d, -1, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_write(path, d, 1, NULL, 0, SEQ_ST_I64) == SEQ_ERR_UNSUPPORTED);
    d[1].name = "__metadata__";
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID &&
          strstr(seq_last_error(), "reserved"));
    d[1].name = "bad \xff utf8";
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID);
    d[1].name = NULL;
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID);
    d[1] = good, d[1].name = "y", d[1].shape = sneg;
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_SHAPE &&
          strstr(seq_last_error(), "'y' has a bad shape"));
    d[1].shape = s5, d[1].ndim = 5;
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_SHAPE);
    d[1] = good, d[1].name = "y", d[1].data = NULL;
    CHECK(seq_safetensors_write(path, d, 2, NULL, 0, SEQ_ST_F32) == SEQ_ERR_INVALID &&
          strstr(seq_last_error(), "NULL data"));
    CHECK(seq_safetensors_write(path, &good, 1, dup_meta, 2, SEQ_ST_F32) == SEQ_ERR_INVALID &&
          strstr(seq_last_error(), "metadata key 'k' appears twice"));
    CHECK(seq_safetensors_write(path, &good, 1, null_meta, 1, SEQ_ST_F32) == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_write(path, &good, 1, NULL, 1, SEQ_ST_F32) == SEQ_ERR_INVALID);
    CHECK(before && same_file(path, before, nbefore));
    /* out of memory at each allocation in turn: NOMEM, nothing leaked, old file intact */
    d[1] = good, d[1].name = "y";
    for (k = 0; k < 50; k++) {
        seq_test_fail_after(k);
        s = seq_safetensors_write(path, d, 2, dup_meta, 1, SEQ_ST_BF16);
        seq_test_fail_never();
        if (s == SEQ_OK) break;
        CHECK_MSG(s == SEQ_ERR_NOMEM && seq_test_live_blocks == live && same_file(path, before, nbefore),
                  "allocation %d: %s", k, seq_last_error());
    }
    CHECK(s == SEQ_OK && k > 0 && !same_file(path, before, nbefore));
    /* a directory that does not exist, and a rename that fails (the target is a
     * directory): SEQ_ERR_IO and no temporary file left behind */
    CHECK(seq_safetensors_write("/nonexistent/seq/x.safetensors", &good, 1, NULL, 0, SEQ_ST_F32) == SEQ_ERR_IO);
    tmp_path(dir, sizeof dir, "dir");
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(seq_safetensors_write(dir, &good, 1, NULL, 0, SEQ_ST_F32) == SEQ_ERR_IO &&
          strstr(seq_last_error(), "replacing"));
    snprintf(prefix, sizeof prefix, "seq_files_%ld_dir.tmp.", (long)getpid());
    CHECK(count_in_tmp(prefix) == 0);
    rmdir(dir);
    free(before);
    remove(path);
    CHECK(seq_test_live_blocks == live);
}

/* ---- 13c atomic replacement ------------------------------------------------------------- */

/* A commit replaces the file whole; a failed write or ok = 0 leaves the old one and no
 * temporary file; allocation failure and bad arguments are statuses. */
static void test_atomic_file(void) {
    char path[256], prefix[64];
    seq_atomic_file a;
    seq_status s;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "atomic");
    snprintf(prefix, sizeof prefix, "seq_files_%ld_atomic.tmp.", (long)getpid());
    CHECK(write_bytes(path, "old", 3));
    CHECK(seq_atomic_open(&a, "t", path, NULL) == SEQ_OK && a.f);
    CHECK(fwrite("partial", 1, 7, a.f) == 7);
    CHECK(count_in_tmp(prefix) == 1 && same_file(path, (const unsigned char *)"old", 3));
    CHECK(seq_atomic_commit(&a, "t", path, 0) == SEQ_ERR_IO && strstr(seq_last_error(), "t: writing"));
    CHECK(count_in_tmp(prefix) == 0 && same_file(path, (const unsigned char *)"old", 3) && !a.f && !a.tmp);
    CHECK(seq_atomic_open(&a, "t", path, NULL) == SEQ_OK);
    CHECK(fwrite("new!", 1, 4, a.f) == 4);
    CHECK(seq_atomic_commit(&a, "t", path, 1) == SEQ_OK);
    CHECK(count_in_tmp(prefix) == 0 && same_file(path, (const unsigned char *)"new!", 4));
    /* a stream error the caller did not notice still aborts the commit */
    CHECK(seq_atomic_open(&a, "t", path, NULL) == SEQ_OK);
    CHECK(fgetc(a.f) == EOF && ferror(a.f)); /* reading a write-only stream */
    CHECK(seq_atomic_commit(&a, "t", path, 1) == SEQ_ERR_IO);
    CHECK(count_in_tmp(prefix) == 0 && same_file(path, (const unsigned char *)"new!", 4));
    seq_test_fail_after(0);
    s = seq_atomic_open(&a, "t", path, NULL);
    seq_test_fail_never();
    CHECK(s == SEQ_ERR_NOMEM && strstr(seq_last_error(), "t: out of memory"));
    CHECK(seq_atomic_open(&a, "t", "/nonexistent/seq/x", NULL) == SEQ_ERR_IO);
    CHECK(seq_atomic_open(&a, "t", NULL, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_atomic_open(NULL, "t", path, NULL) == SEQ_ERR_INVALID);
    a.f = NULL;
    CHECK(seq_atomic_commit(&a, "t", path, 1) == SEQ_ERR_INVALID);
    remove(path);
    CHECK(seq_test_live_blocks == live);
}

/* ---- 13c parameters --------------------------------------------------------------------- */

/* Registers enc.w (3,4), enc.b (4), head (2,2,2) (or the `swap`ped shape (4,3) for enc.w)
 * and allocates them with values from seed. */
static seq_params *make_params(uint64_t seed, int swap, const char *extra) {
    seq_params *P = seq_params_init(NULL);
    int64_t sw[2] = {3, 4}, sb[1] = {4}, sh[3] = {2, 2, 2};
    seq_rng r;
    if (swap) sw[0] = 4, sw[1] = 3;
    seq_rng_seed(&r, seed);
    seq_params_add(P, "enc.w", 2, sw, seq_init_normal(0, 1));
    seq_params_add(P, "enc.b", 1, sb, seq_init_normal(0, 1));
    seq_params_add(P, "head", 3, sh, seq_init_normal(0, 1));
    if (extra) seq_params_add(P, extra, 1, sb, seq_init_normal(0, 1));
    seq_params_alloc(P, &r);
    return P;
}

static int same_data(const seq_params *a, const seq_params *b) {
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0;
}

static void test_params_save_load(void) {
    char path[256];
    seq_params *P, *Q, *R, *snap;
    long live = seq_test_live_blocks;
    int k;
    seq_status s = SEQ_OK;
    tmp_path(path, sizeof path, "params.safetensors");
    P = make_params(1, 0, "extra");
    Q = make_params(2, 0, NULL);
    CHECK(seq_safetensors_save(P, path) == SEQ_OK);
    CHECK(seq_safetensors_load(Q, path) == SEQ_OK); /* "extra" is in the file, not in Q: ignored */
    CHECK(memcmp(Q->data, P->data, (size_t)Q->numel * sizeof(float)) == 0);
    seq_params_free(Q);
    /* a parameter the file lacks, and one of another shape: errors naming them, Q untouched */
    Q = make_params(3, 0, "missing");
    snap = make_params(3, 0, "missing");
    CHECK(seq_safetensors_load(Q, path) == SEQ_ERR_FORMAT && strstr(seq_last_error(), "no tensor 'missing'"));
    CHECK(same_data(Q, snap));
    seq_params_free(Q);
    seq_params_free(snap);
    Q = make_params(4, 1, NULL);
    snap = make_params(4, 1, NULL);
    CHECK(seq_safetensors_load(Q, path) == SEQ_ERR_SHAPE);
    CHECK_MSG(strstr(seq_last_error(), "'enc.w' is (3, 4) in the file but (4, 3) in the parameters"), "%s",
              seq_last_error());
    CHECK(same_data(Q, snap));
    seq_params_free(Q);
    /* out of memory at each allocation in turn */
    Q = make_params(5, 0, NULL);
    R = make_params(5, 0, NULL);
    for (k = 0; k < 50; k++) {
        seq_test_fail_after(k);
        s = seq_safetensors_load(Q, path);
        seq_test_fail_never();
        if (s == SEQ_OK) break;
        CHECK_MSG(s == SEQ_ERR_NOMEM && same_data(Q, R), "allocation %d: %s", k, seq_last_error());
    }
    CHECK(s == SEQ_OK && k > 0 && memcmp(Q->data, P->data, (size_t)Q->numel * sizeof(float)) == 0);
    seq_params_free(R);
    /* bad arguments */
    R = seq_params_init(NULL);
    CHECK(seq_safetensors_save(R, path) == SEQ_ERR_INVALID && seq_safetensors_load(R, path) == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_save(NULL, path) == SEQ_ERR_INVALID && seq_safetensors_load(Q, NULL) == SEQ_ERR_INVALID);
    CHECK(seq_safetensors_load(Q, "/nonexistent/seq/p.safetensors") == SEQ_ERR_IO);
    CHECK(strstr(seq_last_error(), "seq_safetensors_load: cannot open") == seq_last_error());
    seq_params_free(R);
    seq_params_free(Q);
    seq_params_free(snap);
    seq_params_free(P);
    remove(path);
    CHECK(seq_test_live_blocks == live);
}

/* PyTorch's tensors load into parameters of the same names, F16 and BF16 widened. */
static void test_params_from_torch(void) {
    static const int64_t sw[2] = {3, 4}, sb[1] = {3}, s8[1] = {8}, s23[2] = {2, 3}, s3[1] = {3}, s22[2] = {2, 2};
    seq_params *P;
    int64_t i;
    if (!fixture_file_present()) SKIP("tests/fixtures/torch.safetensors not found (run from the repository root)");
    P = seq_params_init(NULL);
    seq_params_add(P, "linear.weight", 2, sw, seq_init_zeros());
    seq_params_add(P, "linear.bias", 1, sb, seq_init_zeros());
    seq_params_add(P, "half", 1, s8, seq_init_zeros());
    seq_params_add(P, "brain", 2, s23, seq_init_zeros());
    seq_params_add(P, "scalar", 0, s3, seq_init_zeros()); /* 0 dimensions: the shape is not read */
    seq_params_alloc(P, NULL);
    CHECK_MSG(seq_safetensors_load(P, fixture_path) == SEQ_OK, "%s", seq_last_error());
    for (i = 0; i < P->count; i++) {
        const seq_tensor *t = &P->items[i]->t;
        const fixture_tensor *x = NULL;
        size_t j;
        int64_t k;
        for (j = 0; j < sizeof fixture_torch_tensors / sizeof fixture_torch_tensors[0]; j++)
            if (strcmp(fixture_torch_tensors[j].name, t->name) == 0) x = &fixture_torch_tensors[j];
        CHECK(x && x->numel == t->numel);
        for (k = 0; x && k < t->numel; k++) CHECK(bits_of(t->data[k]) == bits_of(x->values[k]));
    }
    seq_params_free(P);
    P = seq_params_init(NULL);
    seq_params_add(P, "steps", 1, s3, seq_init_zeros());
    seq_params_alloc(P, NULL);
    CHECK(seq_safetensors_load(P, fixture_path) == SEQ_ERR_UNSUPPORTED && strstr(seq_last_error(), "I64"));
    seq_params_free(P);
    P = seq_params_init(NULL);
    seq_params_add(P, "deep", 2, s22, seq_init_zeros());
    seq_params_alloc(P, NULL);
    CHECK(seq_safetensors_load(P, fixture_path) == SEQ_ERR_UNSUPPORTED &&
          strstr(seq_last_error(), "'deep' has 5 dimensions"));
    seq_params_free(P);
}

/* ---- 13c checkpoints ---------------------------------------------------------------------- */

#define NP 24 /* floats in make_params's parameters */

typedef struct ckpt_fixture {
    seq_params *P;
    float m[2 * NP], e[NP];
    seq_optim_state adamw, ema;
    seq_optim_state *states[2];
} ckpt_fixture;

/* P as make_params(seed); an "adamw" state of 2 * numel floats, an "ema" one of numel. */
static void ckpt_init(ckpt_fixture *c, uint64_t seed) {
    int i;
    c->P = make_params(seed, 0, NULL);
    for (i = 0; i < 2 * NP; i++) c->m[i] = (float)(seed * 1000 + (uint64_t)i);
    for (i = 0; i < NP; i++) c->e[i] = -(float)(seed * 1000 + (uint64_t)i);
    memset(&c->adamw, 0, sizeof c->adamw);
    memset(&c->ema, 0, sizeof c->ema);
    c->adamw.kind = "adamw", c->adamw.buf = c->m, c->adamw.numel = 2 * c->P->numel,
    c->adamw.step = (int64_t)seed * 10 + 7;
    c->ema.kind = "ema", c->ema.buf = c->e, c->ema.numel = c->P->numel, c->ema.step = (int64_t)seed;
    c->states[0] = &c->adamw;
    c->states[1] = &c->ema;
}

static int ckpt_same(const ckpt_fixture *a, const ckpt_fixture *b) {
    return same_data(a->P, b->P) && memcmp(a->m, b->m, sizeof a->m) == 0 && memcmp(a->e, b->e, sizeof a->e) == 0 &&
           a->adamw.step == b->adamw.step && a->ema.step == b->ema.step;
}

static void test_checkpoint(void) {
    char path[256], plain[256];
    ckpt_fixture a, b, snap;
    long live = seq_test_live_blocks;
    int k;
    seq_status s = SEQ_OK;
    tmp_path(path, sizeof path, "ckpt.safetensors");
    tmp_path(plain, sizeof plain, "plain.safetensors");
    ckpt_init(&a, 1);
    ckpt_init(&b, 2);
    CHECK(a.P->numel == NP);
    CHECK(seq_checkpoint_save(path, a.P, (const seq_optim_state *const *)a.states, 2) == SEQ_OK);
    CHECK_MSG(seq_checkpoint_load(path, b.P, b.states, 2) == SEQ_OK, "%s", seq_last_error());
    CHECK(ckpt_same(&a, &b) && b.adamw.step == 17 && b.ema.step == 1);
    CHECK(seq_safetensors_load(b.P, path) == SEQ_OK); /* a checkpoint is a parameter file too */
    seq_params_free(b.P);
    /* each mismatch: SEQ_ERR_FORMAT (SHAPE for the parameters), nothing changed */
    ckpt_init(&b, 3);
    ckpt_init(&snap, 3);
    b.adamw.kind = snap.adamw.kind = "lion";
    CHECK(seq_checkpoint_load(path, b.P, b.states, 2) == SEQ_ERR_FORMAT);
    CHECK_MSG(strstr(seq_last_error(), "state 0 is 'adamw' in the file but 'lion' here"), "%s", seq_last_error());
    CHECK(ckpt_same(&b, &snap));
    b.adamw.kind = snap.adamw.kind = "adamw";
    b.ema.numel = snap.ema.numel = NP - 1;
    CHECK(seq_checkpoint_load(path, b.P, b.states, 2) == SEQ_ERR_FORMAT &&
          strstr(seq_last_error(), "holds 24 floats"));
    CHECK(ckpt_same(&b, &snap));
    b.ema.numel = snap.ema.numel = NP;
    CHECK(seq_checkpoint_load(path, b.P, b.states, 1) == SEQ_ERR_FORMAT &&
          strstr(seq_last_error(), "holds 2 optimizer states"));
    CHECK(ckpt_same(&b, &snap));
    seq_params_free(b.P);
    seq_params_free(snap.P);
    /* parameters of another shape */
    ckpt_init(&b, 4);
    ckpt_init(&snap, 4);
    seq_params_free(b.P);
    seq_params_free(snap.P);
    b.P = make_params(4, 1, NULL);
    snap.P = make_params(4, 1, NULL);
    CHECK(seq_checkpoint_load(path, b.P, b.states, 2) == SEQ_ERR_SHAPE && ckpt_same(&b, &snap));
    seq_params_free(b.P);
    seq_params_free(snap.P);
    /* a plain parameter file is no checkpoint; a damaged step is caught */
    ckpt_init(&b, 5);
    ckpt_init(&snap, 5);
    CHECK(seq_safetensors_save(a.P, plain) == SEQ_OK);
    CHECK(seq_checkpoint_load(plain, b.P, b.states, 2) == SEQ_ERR_FORMAT &&
          strstr(seq_last_error(), "holds no optimizer"));
    CHECK(seq_checkpoint_load(plain, b.P, NULL, 0) == SEQ_ERR_FORMAT && ckpt_same(&b, &snap));
    {
        static const int64_t n2p[1] = {2 * NP};
        static const char *const meta[6] = {"__optim__.count",  "1", "__optim__.0.kind", "adamw",
                                            "__optim__.0.step", "-3"};
        seq_st_tensor_desc d[4];
        int64_t i;
        for (i = 0; i < 3; i++) {
            const seq_tensor *t = &a.P->items[i]->t;
            d[i].name = t->name, d[i].ndim = t->ndim, d[i].shape = t->shape, d[i].data = t->data;
        }
        d[3].name = "__optim__.0.adamw", d[3].ndim = 1, d[3].shape = n2p, d[3].data = a.m;
        CHECK(seq_safetensors_write(plain, d, 4, meta, 3, SEQ_ST_F32) == SEQ_OK);
        CHECK(seq_checkpoint_load(plain, b.P, b.states, 1) == SEQ_ERR_FORMAT &&
              strstr(seq_last_error(), "no valid step"));
        CHECK(ckpt_same(&b, &snap));
    }
    /* out of memory at each allocation in turn, on load and on save */
    for (k = 0; k < 50; k++) {
        seq_test_fail_after(k);
        s = seq_checkpoint_load(path, b.P, b.states, 2);
        seq_test_fail_never();
        if (s == SEQ_OK) break;
        CHECK_MSG(s == SEQ_ERR_NOMEM && ckpt_same(&b, &snap), "allocation %d: %s", k, seq_last_error());
    }
    CHECK(s == SEQ_OK && k > 0 && ckpt_same(&a, &b));
    for (k = 0; k < 50; k++) {
        seq_test_fail_after(k);
        s = seq_checkpoint_save(plain, a.P, (const seq_optim_state *const *)a.states, 2);
        seq_test_fail_never();
        if (s == SEQ_OK) break;
        CHECK_MSG(s == SEQ_ERR_NOMEM, "allocation %d: %s", k, seq_last_error());
    }
    CHECK(s == SEQ_OK && k > 0);
    /* bad states */
    b.adamw.kind = "a kind name that is much longer than sixty-four bytes, which checkpoints refuse";
    CHECK(seq_checkpoint_save(plain, b.P, (const seq_optim_state *const *)b.states, 2) == SEQ_ERR_INVALID);
    b.adamw.kind = NULL;
    CHECK(seq_checkpoint_save(plain, b.P, (const seq_optim_state *const *)b.states, 2) == SEQ_ERR_INVALID);
    CHECK(seq_checkpoint_load(path, b.P, b.states, 2) == SEQ_ERR_INVALID);
    CHECK(seq_checkpoint_save(plain, b.P, NULL, 2) == SEQ_ERR_INVALID &&
          seq_checkpoint_load(path, b.P, b.states, -1) == SEQ_ERR_INVALID);
    seq_params_free(a.P);
    seq_params_free(b.P);
    seq_params_free(snap.P);
    remove(path);
    remove(plain);
    CHECK(seq_test_live_blocks == live);
}

/* Out of memory at each allocation of open (from disk and from memory): NULL, the
 * status SEQ_ERR_NOMEM, nothing leaked; then it opens. */
static void test_st_open_oom(void) {
    char path[256];
    int from_disk, k;
    long live = seq_test_live_blocks;
    tmp_path(path, sizeof path, "oom.safetensors");
    CHECK(write_bytes(path, fixture_torch_st, sizeof fixture_torch_st));
    seq_set_log(log_status, NULL);
    for (from_disk = 0; from_disk < 2; from_disk++) {
        seq_safetensors *st = NULL;
        for (k = 0; k < 100 && !st; k++) {
            logged = SEQ_OK;
            seq_test_fail_after(k);
            st = from_disk ? seq_safetensors_open(path, NULL)
                           : seq_safetensors_open_memory(fixture_torch_st, sizeof fixture_torch_st, NULL);
            seq_test_fail_never();
            CHECK_MSG(st || (logged == SEQ_ERR_NOMEM && seq_test_live_blocks == live), "allocation %d: %s", k,
                      seq_last_error());
        }
        CHECK(st && k > 3);
        if (st) check_fixture(st);
        seq_safetensors_close(st);
    }
    seq_set_log(NULL, NULL);
    remove(path);
    CHECK(seq_test_live_blocks == live);
}

static void test_no_temp_files_left(void) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "seq_files_%ld_", (long)getpid());
    CHECK_MSG(count_in_tmp(prefix) == 0, "files named /tmp/%s* remain", prefix);
}

/* Training resumed from a checkpoint follows the uninterrupted run exactly: parameters,
 * AdamW moments and the step count all come back. */
static seq_tensor *quad_loss(seq_ctx *ctx, seq_tensor *w) {
    seq_tensor *y = seq_add_scalar(ctx, w, -3.0f);
    return seq_mean(ctx, seq_mul(ctx, y, y));
}

static void adamw_steps(seq_params *P, seq_adamw *opt, seq_ctx *ctx, int n) {
    int i;
    for (i = 0; i < n; i++) {
        seq_ctx_reset(ctx);
        seq_params_zero_grad(P);
        CHECK(seq_backward(ctx, quad_loss(ctx, seq_params_find(P, "w"))) == SEQ_OK);
        CHECK(seq_adamw_step(opt, P, 0.1f) == SEQ_OK);
    }
}

static void test_checkpoint_resumes_adamw(void) {
    char path[256];
    int64_t shape[2] = {3, 4};
    seq_params *P = seq_params_init(NULL), *Q = seq_params_init(NULL);
    seq_ctx *ctx = seq_ctx_init(NULL);
    seq_adamw a, b;
    const seq_optim_state *saved[1];
    seq_optim_state *loaded[1];
    seq_rng r;
    int64_t i;
    int same = 1;
    tmp_path(path, sizeof path, "resume.safetensors");
    seq_rng_seed(&r, 5);
    CHECK(seq_params_add(P, "w", 2, shape, seq_init_normal(0, 1)) != NULL);
    CHECK(seq_params_add(Q, "w", 2, shape, seq_init_zeros()) != NULL);
    CHECK(seq_params_alloc(P, &r) == SEQ_OK && seq_params_alloc(Q, &r) == SEQ_OK);
    CHECK(seq_adamw_init(&a, P, seq_adamw_config_default()) == SEQ_OK);
    CHECK(seq_adamw_init(&b, Q, seq_adamw_config_default()) == SEQ_OK);
    adamw_steps(P, &a, ctx, 3);
    saved[0] = &a.st;
    CHECK(seq_checkpoint_save(path, P, saved, 1) == SEQ_OK);
    adamw_steps(P, &a, ctx, 4);
    loaded[0] = &b.st;
    CHECK(seq_checkpoint_load(path, Q, loaded, 1) == SEQ_OK);
    CHECK(b.st.step == 3);
    adamw_steps(Q, &b, ctx, 4);
    for (i = 0; i < P->numel; i++) same &= P->data[i] == Q->data[i];
    CHECK(same && a.st.step == b.st.step);
    remove(path);
    seq_adamw_free(&a);
    seq_adamw_free(&b);
    seq_ctx_free(ctx);
    seq_params_free(P);
    seq_params_free(Q);
}

void seq_tests_files(void) {
    RUN(test_f16_golden);
    RUN(test_f16_exhaustive);
#if defined(__F16C__)
    RUN(test_f16_vs_f16c);
#endif
    RUN(test_bf16);
    RUN(test_st_roundtrip);
    RUN(test_torch_fixture_memory);
    RUN(test_torch_fixture_file);
    RUN(test_st_malformed);
    RUN(test_st_truncated);
    RUN(test_st_mutations);
    RUN(test_st_layout_order);
    RUN(test_st_json_accepted);
    RUN(test_st_bad_arguments);
    RUN(test_st_writer_errors);
    RUN(test_atomic_file);
    RUN(test_params_save_load);
    RUN(test_params_from_torch);
    RUN(test_checkpoint);
    RUN(test_checkpoint_resumes_adamw);
    RUN(test_st_open_oom);
    RUN(test_no_temp_files_left);
}
