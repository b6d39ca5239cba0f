/* libFuzzer harness: seq_rec_load on every seq_rec_format. The first input byte picks
 * the format and the DELIMITED options, the rest is the file. A loaded data set must
 * hold its documented invariants, map its names both ways, and survive k-core
 * filtering and a leave-one-out split. */
#define SEQ_IMPLEMENTATION
#include "../../seq.h"
#define SEQ_REC_IMPLEMENTATION
#include "../../seq_rec.h"
#include "fuzz.h"

static void check_data(const seq_rec_data *d) {
    int64_t u, k;
    if (d->n_users < 1 || d->n_items < 1 || d->off[0] != 0 || d->off[d->n_users] != d->n_inter) abort();
    for (u = 0; u < d->n_users; u++) {
        const char *name = seq_rec_user_name(d, u);
        if (d->off[u + 1] <= d->off[u]) abort(); /* every user has an item */
        if (name && seq_rec_user_index(d, name) != u) abort();
    }
    for (k = 0; k < d->n_inter; k++)
        if (d->items[k] < 1 || d->items[k] > d->n_items) abort();
    for (k = 1; k <= d->n_items; k++) {
        const char *name = seq_rec_item_name(d, (int32_t)k);
        if (name && seq_rec_item_index(d, name) != k) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char delims[4] = {'\t', ',', ' ', ';'};
    seq_rec_load_options opt = seq_rec_load_options_default();
    seq_rec_data d;
    seq_rec_format fmt;
    const char *path;
    unsigned sel;
    if (size < 1) return 0;
    sel = data[0];
    fmt = (seq_rec_format)(sel % SEQ_REC_FMT_COUNT);
    opt.delimiter = delims[(sel >> 2) & 3];
    if (sel & 16) opt.time_col = NULL;
    if (sel & 32) opt.rating_col = "rating";
    if (sel & 64) opt.min_rating = 3.0;
    path = fuzz_write(data + 1, size - 1, ".txt");
    if (!path) return 0;
    if (seq_rec_load(&d, path, fmt, &opt, NULL) == SEQ_OK) {
        seq_rec_split split;
        check_data(&d);
        if (seq_rec_split_leave_one_out(&split, &d, NULL) == SEQ_OK) seq_rec_split_free(&split);
        if (seq_rec_kcore(&d, 2, 2) == SEQ_OK) check_data(&d);
    }
    seq_rec_data_free(&d);
    remove(path);
    return 0;
}
