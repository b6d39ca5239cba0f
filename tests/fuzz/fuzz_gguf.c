/* libFuzzer harness: GGUF from memory, every key/value read as each type, every tensor
 * dequantized (and a wrong-size read refused). */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#define SEQ_QUANT_IMPLEMENTATION
#include "../../seq_quant.h"
#include "fuzz.h"

#define FUZZ_MAX_NUMEL (1 << 16) /* tensors larger than this are validated, not decoded */
#define FUZZ_MAX_ARRAY 64        /* array elements read per key */

static void read_kvs(const seq_gguf *g) {
    int64_t i, j, n = seq_gguf_kv_count(g);
    for (i = 0; i < n; i++) {
        int64_t len = seq_gguf_kv_type(g, i) == SEQ_GGUF_ARRAY ? seq_gguf_kv_array_len(g, i) : 1, iv;
        double fv;
        const char *key = seq_gguf_kv_key(g, i);
        if (!key || seq_gguf_find_kv(g, key) < 0) abort();
        seq_gguf_kv_array_type(g, i);
        for (j = 0; j < len && j < FUZZ_MAX_ARRAY; j++) {
            seq_gguf_kv_int(g, i, j, &iv);
            seq_gguf_kv_float(g, i, j, &fv);
            seq_gguf_kv_str(g, i, j);
        }
        if (seq_gguf_kv_int(g, i, len, &iv) == SEQ_OK) abort(); /* one past the end */
    }
}

static void read_tensors(const seq_gguf *g) {
    int64_t i, d, n = seq_gguf_tensor_count(g);
    for (i = 0; i < n; i++) {
        const seq_gguf_tensor *t = seq_gguf_tensor_at(g, i);
        int64_t numel = 1;
        float *dst;
        if (!t || seq_gguf_find_tensor(g, t->name) != t) abort();
        for (d = 0; d < t->ndim && numel <= FUZZ_MAX_NUMEL; d++) numel *= t->shape[d];
        if (numel > FUZZ_MAX_NUMEL) continue;
        dst = (float *)malloc(((size_t)numel + 1) * sizeof(float));
        if (!dst) continue;
        seq_gguf_read_f32(g, t->name, dst, numel);
        if (seq_gguf_read_f32(g, t->name, dst, numel + 1) == SEQ_OK) abort();
        free(dst);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    seq_gguf *g = seq_gguf_open_memory(data, size, NULL);
    if (!g) return 0;
    seq_gguf_version(g);
    seq_gguf_alignment(g);
    read_kvs(g);
    read_tensors(g);
    seq_gguf_close(g);
    return 0;
}
