/*
 * batch.c — batch plans and padded batches of whole items (dataset.h).
 *
 * Plan. Items are copied, shuffled (Fisher–Yates from the caller's Rng), stably sorted by
 * length when bucketing (merge sort: equal lengths keep their shuffled order), cut greedily —
 * a batch takes the next item while rows + 1 <= batch_size and (rows + 1) × longest <=
 * max_tokens — and, when shuffling, the batch order is shuffled too. With bucketing the cut
 * runs over ascending lengths, so each batch's longest item is its last one and the padding is
 * what the length spread within a batch costs. The plan records real and padded token counts.
 *
 * Fill. Rows are copied (DNA tokens) or quantized (audio: µ-law or linear 8-bit codes, and the
 * float samples) into (B, L) buffers that only grow: once the largest batch has been seen, a
 * training loop allocates nothing more.
 *
 * Tested by tests/unit/test_dataset.c.
 */
#include "io/dataset.h"

#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------- plans

void batch_plan_free(BatchPlan *plan) {
    free(plan->items);
    free(plan->starts);
    memset(plan, 0, sizeof *plan);
}

/* Stable merge sort of items by length (bottom-up, with a scratch array). */
static void sort_by_length(DatasetItem *a, DatasetItem *tmp, int64_t n) {
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = a[j].length < a[i].length ? a[j++] : a[i++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
}

int batch_plan_make(BatchPlan *plan, const Dataset *ds, const DatasetItem *items, int64_t n,
                    const BatchPlanOptions *opt, Rng *rng) {
    memset(plan, 0, sizeof *plan);
    if (opt->batch_size < 1)
        return ls_error(LS_ERR_USAGE, "batch size %lld: must be >= 1", (long long)opt->batch_size);
    if (opt->max_tokens < 0)
        return ls_error(LS_ERR_USAGE, "tokens per batch %lld: must be >= 0 (0: no limit)",
                        (long long)opt->max_tokens);
    if (opt->shuffle && !rng)
        return ls_error(LS_ERR_USAGE, "batch plan: shuffling needs a random generator");
    if (opt->max_tokens > 0) {
        for (int64_t k = 0; k < n; k++) {
            if (items[k].length <= opt->max_tokens) continue;
            if (ds) {
                const Example *ex = dataset_example(ds, items[k].example);
                return ls_error(LS_ERR_RANGE, "%s: '%s' (%lld long) does not fit in a batch of "
                                "at most %lld tokens; raise the tokens per batch or use windows",
                                ex->source, ex->name, (long long)items[k].length,
                                (long long)opt->max_tokens);
            }
            return ls_error(LS_ERR_RANGE, "item %lld (%lld long) does not fit in a batch of at "
                            "most %lld tokens", (long long)k, (long long)items[k].length,
                            (long long)opt->max_tokens);
        }
    }
    int status = 0;
    DatasetItem *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    DatasetItem *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    int64_t *starts = malloc((size_t)(n + 1) * sizeof *starts);
    int64_t *perm = NULL;
    if (!order || !tmp || !starts) {
        status = ls_error(LS_ERR_NOMEM, "batch plan: out of memory");
        goto fail;
    }
    memcpy(order, items, (size_t)n * sizeof *order);
    if (opt->shuffle) {
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(rng, (uint64_t)i + 1);
            DatasetItem t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    if (opt->bucket) sort_by_length(order, tmp, n);

    /* greedy cut within both budgets */
    int64_t n_batches = 0, rows = 0, longest = 0;
    plan->real_tokens = plan->padded_tokens = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t len = order[k].length;
        int64_t new_longest = len > longest ? len : longest;
        int fits = rows > 0 && rows + 1 <= opt->batch_size &&
                   (opt->max_tokens == 0 || (rows + 1) * new_longest <= opt->max_tokens);
        if (rows > 0 && !fits) {
            plan->padded_tokens += rows * longest;
            rows = 0;
            longest = 0;
            new_longest = len;
        }
        if (rows == 0) starts[n_batches++] = k;
        rows++;
        longest = new_longest;
        plan->real_tokens += len;
    }
    if (rows > 0) plan->padded_tokens += rows * longest;
    starts[n_batches] = n;

    if (opt->shuffle && n_batches > 1) {
        /* shuffle whole batches: permute the spans and rebuild items in the new order */
        perm = malloc((size_t)n_batches * sizeof *perm);
        if (!perm) {
            status = ls_error(LS_ERR_NOMEM, "batch plan: out of memory");
            goto fail;
        }
        for (int64_t b = 0; b < n_batches; b++) perm[b] = b;
        rng_shuffle_int64(rng, perm, n_batches);
        int64_t *new_starts = malloc((size_t)(n_batches + 1) * sizeof *new_starts);
        if (!new_starts) {
            status = ls_error(LS_ERR_NOMEM, "batch plan: out of memory");
            goto fail;
        }
        int64_t at = 0;
        for (int64_t b = 0; b < n_batches; b++) {
            int64_t s = starts[perm[b]], e = starts[perm[b] + 1];
            new_starts[b] = at;
            memcpy(tmp + at, order + s, (size_t)(e - s) * sizeof *tmp);
            at += e - s;
        }
        new_starts[n_batches] = n;
        free(starts);
        starts = new_starts;
        DatasetItem *t = order;
        order = tmp;
        tmp = t;
    }
    plan->items = order;
    plan->n_items = n;
    plan->starts = starts;
    plan->n_batches = n_batches;
    free(tmp);
    free(perm);
    return 0;
fail:
    free(order);
    free(tmp);
    free(starts);
    free(perm);
    memset(plan, 0, sizeof *plan);
    return status;
}

// ---------------------------------------------------------------------------- batches

void batch_options_default(BatchOptions *opt) {
    opt->pad_token = -1;
    opt->audio_codes = AUDIO_CODES_MULAW8;
}

void batch_free(Batch *b) {
    free(b->lengths);
    free(b->labels);
    free(b->examples);
    free(b->offsets);
    free(b->tokens_buf);
    free(b->samples_buf);
    free(b->ids_buf);
    free(b->target_buf);
    free(b->answers_buf);
    memset(b, 0, sizeof *b);
}

/* Grow the buffers to @p rows rows and @p cells cells (never shrink). */
static int batch_reserve(Batch *b, int64_t rows, int64_t cells, int need_samples) {
    if (rows > b->rows_cap) {
        int64_t *lengths = realloc(b->lengths, (size_t)rows * sizeof *lengths);
        if (lengths) b->lengths = lengths;
        int32_t *labels = realloc(b->labels, (size_t)rows * sizeof *labels);
        if (labels) b->labels = labels;
        int64_t *examples = realloc(b->examples, (size_t)rows * sizeof *examples);
        if (examples) b->examples = examples;
        int64_t *offsets = realloc(b->offsets, (size_t)rows * sizeof *offsets);
        if (offsets) b->offsets = offsets;
        if (!lengths || !labels || !examples || !offsets)
            return ls_error(LS_ERR_NOMEM, "batch: out of memory for %lld rows", (long long)rows);
        b->rows_cap = rows;
    }
    int64_t want = cells > b->cells_cap ? cells : b->cells_cap;
    if (want < 1) want = 1;
    if (want > b->cells_cap || !b->tokens_buf) {
        uint8_t *t = realloc(b->tokens_buf, (size_t)want);
        if (!t) return ls_error(LS_ERR_NOMEM, "batch: out of memory for %lld tokens",
                                (long long)want);
        b->tokens_buf = t;
    }
    if ((need_samples || b->samples_buf) && (want > b->cells_cap || !b->samples_buf)) {
        float *s = realloc(b->samples_buf, (size_t)want * sizeof *s);
        if (!s) return ls_error(LS_ERR_NOMEM, "batch: out of memory for %lld samples",
                                (long long)want);
        b->samples_buf = s;
    }
    b->cells_cap = want;
    return 0;
}

/* Synthetic rows: ids and target generated from each example's task (io/synth.h), padded
 * with id 0 and target 0; no tokens, no samples. A window (an item that is not the whole
 * example) is cut from the whole example generated into a scratch row. */
static int batch_fill_synth(Batch *b, const Dataset *ds, const DatasetItem *items, int64_t n,
                            int64_t L) {
    int status = batch_reserve(b, n, 1, 0);
    if (status < 0) return status;
    if (n * L > b->synth_cap) {
        int32_t *ids = realloc(b->ids_buf, (size_t)(n * L) * sizeof *ids);
        if (ids) b->ids_buf = ids;
        uint8_t *target = ids ? realloc(b->target_buf, (size_t)(n * L)) : NULL;
        if (target) b->target_buf = target;
        int32_t *answers =
            target ? realloc(b->answers_buf, (size_t)(n * L) * sizeof *answers) : NULL;
        if (answers) b->answers_buf = answers;
        if (!ids || !target || !answers)
            return ls_error(LS_ERR_NOMEM, "batch: out of memory for %lld tokens",
                            (long long)(n * L));
        b->synth_cap = n * L;
    }
    b->B = n;
    b->L = L;
    b->tokens = NULL;
    b->samples = NULL;
    b->ids = b->ids_buf;
    b->target = b->target_buf;
    b->answers = b->answers_buf;
    for (int64_t r = 0; r < n; r++) {
        const DatasetItem *it = &items[r];
        const Example *ex = dataset_example(ds, it->example);
        int32_t *irow = b->ids + r * L; // (L)
        uint8_t *trow = b->target + r * L;
        int32_t *arow = b->answers + r * L;
        b->lengths[r] = it->length;
        b->labels[r] = ex->label;
        b->examples[r] = it->example;
        b->offsets[r] = it->offset;
        if (it->offset == 0 && it->length == ex->length) {
            status = synth_example(ex->synth, ex->synth_index, irow, trow, arow);
        } else { // rare (windows of synthetic examples): the whole example, then the window
            int32_t *whole = malloc((size_t)ex->length * 2 * sizeof *whole); // ids, answers
            uint8_t *wt = malloc((size_t)ex->length);
            status = whole && wt
                         ? synth_example(ex->synth, ex->synth_index, whole, wt, whole + ex->length)
                         : ls_error(LS_ERR_NOMEM, "batch: out of memory for %lld tokens",
                                    (long long)ex->length);
            if (status == 0) {
                memcpy(irow, whole + it->offset, (size_t)it->length * sizeof *irow);
                memcpy(trow, wt + it->offset, (size_t)it->length);
                memcpy(arow, whole + ex->length + it->offset, (size_t)it->length * sizeof *arow);
            }
            free(whole);
            free(wt);
        }
        if (status < 0) return status;
        memset(irow + it->length, 0, (size_t)(L - it->length) * sizeof *irow);
        memset(trow + it->length, 0, (size_t)(L - it->length));
        memset(arow + it->length, 0, (size_t)(L - it->length) * sizeof *arow);
    }
    return 0;
}

int batch_fill(Batch *b, const Dataset *ds, const DatasetItem *items, int64_t n,
               const BatchOptions *opt) {
    BatchOptions defaults;
    if (!opt) {
        batch_options_default(&defaults);
        opt = &defaults;
    }
    if (n < 1) return ls_error(LS_ERR_RANGE, "batch: no items");
    int64_t L = 0;
    for (int64_t r = 0; r < n; r++) {
        const DatasetItem *it = &items[r];
        if (it->example < 0 || it->example >= dataset_count(ds))
            return ls_error(LS_ERR_RANGE, "batch: item %lld names example %lld of %lld",
                            (long long)r, (long long)it->example, (long long)dataset_count(ds));
        const Example *ex = dataset_example(ds, it->example);
        if (it->offset < 0 || it->length < 0 || it->offset > ex->length ||
            it->length > ex->length - it->offset)
            return ls_error(LS_ERR_RANGE, "batch: window %lld+%lld lies outside '%s' (%lld long)",
                            (long long)it->offset, (long long)it->length, ex->name,
                            (long long)ex->length);
        if (it->length > L) L = it->length;
    }
    int audio = dataset_kind(ds) == EXAMPLE_AUDIO;
    if (dataset_kind(ds) == EXAMPLE_SYNTH) return batch_fill_synth(b, ds, items, n, L);
    int status = batch_reserve(b, n, n * L, audio);
    if (status < 0) return status;
    b->ids = NULL;
    b->target = NULL;
    b->answers = NULL;
    b->B = n;
    b->L = L;
    b->tokens = audio && opt->audio_codes == AUDIO_CODES_NONE ? NULL : b->tokens_buf;
    b->samples = audio ? b->samples_buf : NULL;
    uint8_t pad;
    if (opt->pad_token >= 0) pad = (uint8_t)opt->pad_token;
    else if (!audio) pad = DNA_N;
    else pad = opt->audio_codes == AUDIO_CODES_LINEAR8 ? (uint8_t)linear_encode(0.0f, 8)
                                                       : mulaw_encode(0.0f);
    for (int64_t r = 0; r < n; r++) {
        const DatasetItem *it = &items[r];
        const Example *ex = dataset_example(ds, it->example);
        b->lengths[r] = it->length;
        b->labels[r] = ex->label;
        b->examples[r] = it->example;
        b->offsets[r] = it->offset;
        uint8_t *trow = b->tokens_buf + r * L; // (L)
        if (!audio) {
            memcpy(trow, ex->tokens + it->offset, (size_t)it->length);
        } else {
            float *srow = b->samples + r * L; // (L)
            const float *src = ex->samples + it->offset;
            memcpy(srow, src, (size_t)it->length * sizeof *srow);
            memset(srow + it->length, 0, (size_t)(L - it->length) * sizeof *srow);
            if (opt->audio_codes == AUDIO_CODES_MULAW8)
                mulaw_encode_array(trow, src, it->length);
            else if (opt->audio_codes == AUDIO_CODES_LINEAR8)
                for (int64_t j = 0; j < it->length; j++)
                    trow[j] = (uint8_t)linear_encode(src[j], 8);
        }
        if (b->tokens) memset(trow + it->length, pad, (size_t)(L - it->length));
    }
    return 0;
}

// ---------------------------------------------------------------------------- packed batches

int batch_pack(PackedBatch *pk, const Batch *b, int64_t frame) {
    if (b->ids || b->target || b->answers)
        return ls_error(LS_ERR_UNSUPPORTED, "packing: synthetic batches (token ids, target "
                                            "masks) are not packed");
    const int64_t F = frame > 0 ? frame : 1, S = b->B;
    const int64_t P = (b->L + F - 1) / F; // positions per row
    if (S > pk->seq_cap) {
        int64_t *a[6] = {NULL};
        int32_t *lab = NULL;
        for (int i = 0; i < 6; i++) a[i] = malloc((size_t)S * sizeof(int64_t));
        lab = malloc((size_t)S * sizeof *lab);
        int ok = lab != NULL;
        for (int i = 0; i < 6; i++) ok = ok && a[i];
        if (!ok) {
            for (int i = 0; i < 6; i++) free(a[i]);
            free(lab);
            return ls_error(LS_ERR_NOMEM, "packing: out of memory for %lld sequences",
                            (long long)S);
        }
        free(pk->row_seqs), free(pk->seq_lengths), free(pk->order), free(pk->row_of);
        free(pk->at), free(pk->labels);
        pk->row_seqs = a[0], pk->seq_lengths = a[1], pk->order = a[2], pk->row_of = a[3];
        pk->at = a[4], pk->labels = lab;
        free(a[5]);
        pk->seq_cap = S;
    }
    // first-fit in batch order: row_of and at per padded row first, used[] as the fill
    int64_t *used = pk->order; // scratch until the order is written
    int64_t rows = 0;
    int64_t *row_of = pk->seq_lengths, *at = pk->at; // by padded row, reordered below
    for (int64_t i = 0; i < S; i++) {
        const int64_t np = (b->lengths[i] + F - 1) / F;
        int64_t r = 0;
        while (r < rows && used[r] + np > P) r++;
        if (r == rows) used[rows++] = 0;
        row_of[i] = r;
        at[i] = used[r];
        used[r] += np;
    }
    // packed order: row by row, within a row by position (= batch order, first-fit appends)
    for (int64_t r = 0; r < rows; r++) pk->row_seqs[r] = 0;
    for (int64_t i = 0; i < S; i++) pk->row_seqs[row_of[i]]++;
    int64_t *next = pk->row_of; // next free slot of each row in the packed order
    for (int64_t r = 0, k = 0; r < rows; r++) next[r] = k, k += pk->row_seqs[r];
    int64_t *slot_of = malloc((size_t)S * sizeof *slot_of);
    int64_t *tmp = malloc((size_t)S * 2 * sizeof *tmp);
    if (!slot_of || !tmp) {
        free(slot_of), free(tmp);
        return ls_error(LS_ERR_NOMEM, "packing: out of memory for %lld sequences", (long long)S);
    }
    for (int64_t i = 0; i < S; i++) slot_of[i] = next[row_of[i]]++;
    for (int64_t i = 0; i < S; i++) tmp[slot_of[i]] = row_of[i], tmp[S + slot_of[i]] = at[i];
    for (int64_t i = 0; i < S; i++) {
        const int64_t s = slot_of[i];
        pk->order[s] = i;
        pk->labels[s] = b->labels ? b->labels[i] : -1;
    }
    for (int64_t s = 0; s < S; s++) {
        pk->row_of[s] = tmp[s];
        pk->at[s] = tmp[S + s];
        pk->seq_lengths[s] = b->lengths[pk->order[s]];
    }
    free(slot_of), free(tmp);
    pk->B = rows;
    pk->L = P * F;
    pk->S = S;
    // the rows; padding is what the padded batch has past a row's end (never read)
    const int64_t cells = pk->B * pk->L;
    if (cells > pk->cells_cap || (b->tokens && !pk->tokens) || (b->samples && !pk->samples)) {
        free(pk->tokens), free(pk->samples);
        pk->tokens = malloc((size_t)cells);
        pk->samples = malloc((size_t)cells * sizeof *pk->samples);
        pk->cells_cap = pk->tokens && pk->samples ? cells : 0;
        if (!pk->cells_cap)
            return ls_error(LS_ERR_NOMEM, "packing: out of memory for %lld positions",
                            (long long)cells);
    }
    uint8_t pad = 0;
    for (int64_t i = 0; b->tokens && i < S; i++)
        if (b->lengths[i] < b->L) {
            pad = b->tokens[i * b->L + b->lengths[i]];
            break;
        }
    if (b->tokens) memset(pk->tokens, pad, (size_t)cells);
    if (b->samples) memset(pk->samples, 0, (size_t)cells * sizeof *pk->samples);
    for (int64_t s = 0; s < S; s++) {
        const int64_t i = pk->order[s], n = b->lengths[i];
        const int64_t off = pk->row_of[s] * pk->L + pk->at[s] * F;
        if (b->tokens) memcpy(pk->tokens + off, b->tokens + i * b->L, (size_t)n);
        if (b->samples)
            memcpy(pk->samples + off, b->samples + i * b->L, (size_t)n * sizeof *pk->samples);
    }
    return 0;
}

void packed_batch_free(PackedBatch *pk) {
    free(pk->row_seqs), free(pk->seq_lengths), free(pk->order), free(pk->row_of);
    free(pk->at), free(pk->labels), free(pk->tokens), free(pk->samples);
    memset(pk, 0, sizeof *pk);
}
