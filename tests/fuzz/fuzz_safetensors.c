/* libFuzzer harness: safetensors from memory (every tensor read, every dtype the reader
 * widens, a wrong-size read) and seq_checkpoint_load from a file into a small model
 * with an AdamW state, which must leave them unchanged unless it succeeds. */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#include "fuzz.h"

/* Reads at most this many elements per tensor, so a valid header naming a huge tensor
 * costs no time: the bounds checks it exercises are the same. */
#define FUZZ_MAX_NUMEL (1 << 16)

static void read_all(seq_safetensors *st) {
    int64_t i, n = seq_safetensors_count(st);
    for (i = 0; i < n; i++) {
        const seq_st_info *info = seq_safetensors_get(st, i);
        float *dst;
        if (!info || seq_safetensors_find(st, info->name) != info) abort();
        if (info->numel > FUZZ_MAX_NUMEL) continue;
        dst = (float *)malloc(((size_t)info->numel + 1) * sizeof(float));
        if (!dst) continue;
        seq_safetensors_read_f32(st, info->name, dst, info->numel);
        if (seq_safetensors_read_f32(st, info->name, dst, info->numel + 1) == SEQ_OK) abort();
        free(dst);
    }
    seq_safetensors_meta(st, "format");
}

/* The small model the checkpoint seeds (tests/fuzz/gen_seeds.c) were saved from. */
#include "fuzz_model.h"

static void load_checkpoint(const uint8_t *data, size_t size) {
    fuzz_model fm;
    const seq_optim_state *states[1];
    float before;
    const char *path;
    if (fuzz_model_init(&fm) != SEQ_OK) abort();
    path = fuzz_write(data, size, ".safetensors");
    states[0] = &fm.opt.st;
    before = fm.P->data[0];
    if (path && seq_checkpoint_load(path, fm.P, (seq_optim_state *const *)states, 1) != SEQ_OK &&
        (fm.P->data[0] != before || fm.opt.st.step != 1))
        abort(); /* a failed load changed the model */
    if (path) remove(path);
    fuzz_model_free(&fm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    seq_safetensors *st = seq_safetensors_open_memory(data, size, NULL);
    if (st) {
        read_all(st);
        seq_safetensors_close(st);
    }
    load_checkpoint(data, size);
    return 0;
}
