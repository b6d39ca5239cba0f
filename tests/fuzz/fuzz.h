/* Shared by the libFuzzer harnesses: the library built with the default allocator (so
 * ASan/LeakSanitizer see every block), and the input written to a private file for the
 * loaders that only take a path. */
#ifndef SEQ_FUZZ_H
#define SEQ_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /dev/shm keeps the file writes off the disk; one name per process, so parallel
 * fuzzing jobs (-jobs=N) never share a file. */
static inline const char *fuzz_path(const char *ext) {
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/seq_fuzz_%ld%s", dir, (long)getpid(), ext);
    return path;
}

/* Writes data[0..size) to fuzz_path(ext); NULL when the file cannot be written. */
static inline const char *fuzz_write(const uint8_t *data, size_t size, const char *ext) {
    const char *path = fuzz_path(ext);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    return fclose(f) == 0 ? path : NULL;
}

/* A reader over the input bytes that yields zeros once they run out, so every decision
 * of a structure-aware harness is a pure function of the input. */
typedef struct fuzz_bytes {
    const uint8_t *p;
    size_t n;
} fuzz_bytes;

static inline unsigned fuzz_u8(fuzz_bytes *b) {
    unsigned v = 0;
    if (b->n) {
        v = *b->p++;
        b->n--;
    }
    return v;
}
static inline unsigned fuzz_below(fuzz_bytes *b, unsigned n) { return n ? fuzz_u8(b) % n : 0; }
#endif
