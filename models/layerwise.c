/*
 * layerwise.c — one long sequence through a bidirectional Mamba (or any Mamba stack) layer by
 * layer, in segments, for sequences whose activations do not fit one pass (model.h,
 * model_layerwise_*).
 *
 * A bidirectional layer cannot stream: its reverse direction at position t depends on every
 * position after t. But it is a forward scan plus a backward scan, and each of those carries
 * a state from segment to segment. So the residual stream of a whole layer, (L, D) per
 * backbone row, is kept (host memory, or a temporary file when it is too large) and every
 * layer is one pass over the segments in order (forward direction) and one in reverse order
 * (reverse direction, each segment walked backwards, its state coming from the segment after
 * it), which is exactly the one-pass computation: the same ops, tiles and states.
 *
 * Stores: X (the layer's input, then its output) and Y (input + forward direction), each
 * (Be, L, D) floats, Be = 2 with the reverse-complement strand (its positions are its own:
 * strand position q holds comp(x[L−1−q])). Per layer i:
 *     forward, segments k = 0, 1, ...:   Y[k] = X[k] + fwd_i(norm(X))[k]   (fwd state carried)
 *     reverse, segments k = last, ..., 0: X[k] = Y[k] + rev_i(norm(X))[k]  (rev state carried)
 * X[k] is overwritten only once the reverse pass has read it, and no later segment of this
 * pass reads it. A one-direction (causal) stack needs only X. The head pools the final norm
 * of X over the segments (sum in double in position order, first and last rows), as one pass
 * does. Memory: the two stores (or the file), one segment's activations, the states.
 * The stores and the results (embed, logits) are host memory: every move between them and the
 * device is ops_to_device / ops_to_host / ops_download, never ops_copy (device to device).
 *
 * Tested by tests/unit/test_model.c (layerwise ≡ one pass: embeddings and logits of BiMamba
 * with and without rc, every pool, in memory and through the file).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "models/model_internal.h"

struct ModelLayerwise {
    Model *m;
    int64_t L, S, fed, Be, D;
    float *mem;          // (2, Be, L, D) when held in host memory, else NULL
    int fd;              // the temporary file (unlinked at once), or -1
    char *dir;           // its folder, for messages
    float *host;         // (Be, S, D) staging between the file and the device
    float *state[2];     // per direction (Be rows): conv (Be, E, K−1) then scan (Be, E, N)
    double *sum;         // (Be, D)
    float *first, *last, *pooled, *pooled_out; // (Be, D), (Be, D), (Be, D), (1, D)
    float *logits;       // (n_classes) on the device, classifiers; copied to the caller's host
};

static int64_t stores(const ModelLayerwise *lw) { return lw->m->ndir == 2 ? 2 : 1; }

// Element offset of (store, row b, position pos) in the stores.
static int64_t offset(const ModelLayerwise *lw, int which, int64_t b, int64_t pos) {
    return ((which * lw->Be + b) * lw->L + pos) * lw->D;
}

static int file_io(ModelLayerwise *lw, int write, float *buf, int64_t n_floats, int64_t off) {
    char *p = (char *)buf;
    size_t left = (size_t)n_floats * sizeof(float);
    off_t at = (off_t)off * (off_t)sizeof(float);
    while (left > 0) {
        ssize_t k = write ? pwrite(lw->fd, p, left, at) : pread(lw->fd, p, left, at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return ls_error(LS_ERR_IO, "%s: temporary file of the layer outputs: %s failed: %s",
                            lw->dir, write ? "write" : "read",
                            k < 0 ? strerror(errno) : "short read");
        p += k;
        left -= (size_t)k;
        at += k;
    }
    return 0;
}

// Segment [pos, pos + n) of every row of a store ↔ the plan buffer dst/src (Be, n, D).
static int store_read(ModelLayerwise *lw, int which, int64_t pos, int64_t n, float *dst) {
    const Device *dev = &lw->m->dev;
    for (int64_t b = 0; b < lw->Be; b++) {
        float *d = dst + b * n * lw->D;
        int status;
        if (lw->mem) {
            status = ops_to_device(dev, d, lw->mem + offset(lw, which, b, pos), n * lw->D);
        } else {
            status = file_io(lw, 0, lw->host, n * lw->D, offset(lw, which, b, pos));
            if (status == 0) status = ops_to_device(dev, d, lw->host, n * lw->D);
        }
        if (status < 0) return status;
    }
    return 0;
}

static int store_write_row(ModelLayerwise *lw, int which, int64_t b, int64_t pos, int64_t n,
                           const float *src) {
    const Device *dev = &lw->m->dev;
    if (lw->mem) return ops_to_host(dev, lw->mem + offset(lw, which, b, pos), src, n * lw->D);
    int status = ops_to_host(dev, lw->host, src, n * lw->D);
    return status == 0 ? file_io(lw, 1, lw->host, n * lw->D, offset(lw, which, b, pos)) : status;
}

static int store_write(ModelLayerwise *lw, int which, int64_t pos, int64_t n, const float *src) {
    for (int64_t b = 0; b < lw->Be; b++) {
        int status = store_write_row(lw, which, b, pos, n, src + b * n * lw->D);
        if (status < 0) return status;
    }
    return 0;
}

void model_layerwise_free(ModelLayerwise *lw) {
    if (!lw) return;
    const Device *dev = &lw->m->dev;
    if (lw->fd >= 0) close(lw->fd);
    free(lw->mem);
    free(lw->host);
    free(lw->dir);
    for (int d = 0; d < 2; d++) ops_free(dev, lw->state[d]);
    ops_free(dev, lw->sum);
    ops_free(dev, lw->first);
    ops_free(dev, lw->last);
    ops_free(dev, lw->pooled);
    ops_free(dev, lw->pooled_out);
    ops_free(dev, lw->logits);
    free(lw);
}

size_t model_layerwise_store_bytes(const Model *m, int64_t L) {
    return (size_t)((m->ndir == 2 ? 2 : 1) * m->rows_per_row * L * m->D) * sizeof(float);
}

int model_layerwise_begin(ModelLayerwise **out, Model *m, int64_t L,
                          const LayerwiseOptions *opt) {
    *out = NULL;
    const ModelConfig *c = &m->cfg;
    if (c->arch != MODEL_MAMBA && c->arch != MODEL_BIMAMBA)
        return ls_error(LS_ERR_UNSUPPORTED, "layer by layer: --arch %s has attention layers, "
                        "which need the whole sequence at once", model_arch_name(c->arch));
    if (c->input != MODEL_INPUT_TOKENS)
        return ls_error(LS_ERR_UNSUPPORTED, "layer by layer: the model reads waveform frames; "
                        "only token models run layer by layer");
    if (L < 1 || opt->segment < 1)
        return ls_error(LS_ERR_USAGE, "model_layerwise_begin: L = %lld, segment = %lld",
                        (long long)L, (long long)opt->segment);
    ModelLayerwise *lw = calloc(1, sizeof *lw);
    if (!lw) return ls_error(LS_ERR_NOMEM, "layer by layer: out of memory");
    lw->m = m;
    lw->L = L;
    lw->S = opt->segment < L ? opt->segment : L;
    lw->Be = m->rows_per_row;
    lw->D = m->D;
    lw->fd = -1;
    m->train_ready = 0;
    const size_t bytes = model_layerwise_store_bytes(m, L);
    const char *dir = opt->tmp_dir ? opt->tmp_dir : getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int status = 0;
    if (!(lw->dir = strdup(dir))) {
        status = ls_error(LS_ERR_NOMEM, "layer by layer: out of memory");
        goto fail;
    }
    if (bytes <= opt->host_bytes) {
        lw->mem = malloc(bytes);
        if (!lw->mem) {
            status = ls_error(LS_ERR_NOMEM, "layer by layer: out of memory for %.1f MiB of "
                              "layer outputs (lower --host-memory to use a temporary file)",
                              (double)bytes / 1048576.0);
            goto fail;
        }
    } else { // a file in dir, unlinked at once: nothing is left behind, whatever happens
        struct statvfs vfs;
        const int known = statvfs(dir, &vfs) == 0; // unknown: the writes will tell
        const double free_bytes = known ? (double)vfs.f_bavail * (double)vfs.f_frsize : 0;
        if (known && free_bytes < (double)bytes) {
            status = ls_error(LS_ERR_IO, "%s: the layer outputs need %.2f GiB of temporary "
                              "space, %.2f GiB are free there (give --tmp-dir elsewhere)", dir,
                              (double)bytes / 1073741824.0, free_bytes / 1073741824.0);
            goto fail;
        }
        size_t n = strlen(dir) + 32;
        char *path = malloc(n);
        if (!path) {
            status = ls_error(LS_ERR_NOMEM, "layer by layer: out of memory");
            goto fail;
        }
        snprintf(path, n, "%s/.longscan-layers-XXXXXX", dir);
        lw->fd = mkstemp(path);
        if (lw->fd < 0) status = ls_error(LS_ERR_IO, "%s: cannot create a temporary file for the "
                                          "layer outputs: %s", dir, strerror(errno));
        else unlink(path);
        free(path);
        if (status < 0) goto fail;
        lw->host = malloc((size_t)(lw->S * lw->D) * sizeof(float));
        if (!lw->host) {
            status = ls_error(LS_ERR_NOMEM, "layer by layer: out of memory");
            goto fail;
        }
    }
    const Device *dev = &m->dev;
    const size_t state = (size_t)(lw->Be * m->E * (m->K - 1 + m->N)) * sizeof(float);
    const size_t row = (size_t)(lw->Be * lw->D) * sizeof(float);
    for (int d = 0; d < 2 && status == 0; d++)
        status = ops_alloc(dev, (void **)&lw->state[d], state, "layer-by-layer state");
    if (status == 0) status = ops_alloc(dev, (void **)&lw->sum, 2 * row, "layer-by-layer pool");
    if (status == 0) status = ops_alloc(dev, (void **)&lw->first, row, "layer-by-layer pool");
    if (status == 0) status = ops_alloc(dev, (void **)&lw->last, row, "layer-by-layer pool");
    if (status == 0) status = ops_alloc(dev, (void **)&lw->pooled, row, "layer-by-layer pool");
    if (status == 0)
        status = ops_alloc(dev, (void **)&lw->pooled_out, row, "layer-by-layer pool");
    if (status == 0 && c->task == MODEL_TASK_CLASSIFY)
        status = ops_alloc(dev, (void **)&lw->logits, (size_t)c->n_classes * sizeof(float),
                           "layer-by-layer logits");
    if (status < 0) goto fail;
    *out = lw;
    return 0;
fail:
    model_layerwise_free(lw);
    return status;
}

int model_layerwise_on_disk(const ModelLayerwise *lw) { return lw->fd >= 0; }

// Plan one segment of n positions of the single sequence (every backbone row full).
static int plan_segment(ModelLayerwise *lw, int64_t n) {
    Model *m = lw->m;
    m->sel_rows = -1;
    int status = model_plan(m, 1, n, n, 0);
    if (status < 0) return status;
    ModelBatch mb = {.B = 1, .L = n};
    if ((status = model_batch_lengths(m, &mb)) < 0) return status;
    return mamba_prepare_A(m); // A lives in the arena, whose layout follows n
}

int model_layerwise_feed(ModelLayerwise *lw, const uint8_t *tokens, int64_t n) {
    Model *m = lw->m;
    if (n < 0 || lw->fed + n > lw->L)
        return ls_error(LS_ERR_USAGE, "model_layerwise_feed: %lld more tokens after %lld of "
                        "%lld", (long long)n, (long long)lw->fed, (long long)lw->L);
    for (int64_t at = 0; at < n;) {
        const int64_t k = n - at < lw->S ? n - at : lw->S;
        int status = plan_segment(lw, k);
        ModelBatch mb = {.B = 1, .L = k, .tokens = tokens + at};
        if (status == 0) status = model_input_fwd(m, &mb, m->plan.R); // (Be, k, D)
        // row 0 at its positions; the reverse-complement row (if any) at the strand's own
        if (status == 0) status = store_write_row(lw, 0, 0, lw->fed, k, m->plan.R);
        if (status == 0 && lw->Be == 2)
            status = store_write_row(lw, 0, 1, lw->L - lw->fed - k, k, m->plan.R + k * lw->D);
        if (status < 0) return status;
        lw->fed += k;
        at += k;
    }
    return 0;
}

int model_layerwise_finish(ModelLayerwise *lw, float *embed, float *logits) {
    Model *m = lw->m;
    const Device *dev = &m->dev;
    Plan *p = &m->plan;
    if (lw->fed != lw->L)
        return ls_error(LS_ERR_USAGE, "model_layerwise_finish: %lld of %lld tokens fed",
                        (long long)lw->fed, (long long)lw->L);
    const int64_t S = lw->S, nseg = (lw->L + S - 1) / S, Be = lw->Be, D = lw->D;
    const int64_t state_floats = Be * m->E * (m->K - 1 + m->N);
    const int two = stores(lw) == 2;
    int status = 0;
    for (int i = 0; i < m->cfg.n_layers && status == 0; i++) {
        status = ops_zero(dev, DTYPE_F32, lw->state[0], state_floats);
        for (int64_t k = 0; k < nseg && status == 0; k++) { // forward direction
            const int64_t a = k * S, n = a + S <= lw->L ? S : lw->L - a;
            status = plan_segment(lw, n);
            if (status == 0) status = store_read(lw, 0, a, n, p->R);
            if (status == 0) status = ops_copy(dev, p->aux, p->R, Be * n * D);
            if (status == 0) status = mamba_layer_fwd_dir(m, i, 0, p->R, p->aux, lw->state[0]);
            if (status == 0) status = store_write(lw, two ? 1 : 0, a, n, p->aux);
        }
        if (!two) continue;
        if (status == 0) status = ops_zero(dev, DTYPE_F32, lw->state[1], state_floats);
        for (int64_t k = nseg - 1; k >= 0 && status == 0; k--) { // reverse, last segment first
            const int64_t a = k * S, n = a + S <= lw->L ? S : lw->L - a;
            status = plan_segment(lw, n);
            if (status == 0) status = store_read(lw, 0, a, n, p->R);
            if (status == 0) status = store_read(lw, 1, a, n, p->aux);
            if (status == 0) status = mamba_layer_fwd_dir(m, i, 1, p->R, p->aux, lw->state[1]);
            if (status == 0) status = store_write(lw, 0, a, n, p->aux);
        }
    }
    // the head: final norm, pooled over every position as one pass pools
    if (status == 0) status = ops_zero(dev, DTYPE_F32, (float *)lw->sum, 2 * Be * D);
    for (int64_t k = 0; k < nseg && status == 0; k++) {
        const int64_t a = k * S, n = a + S <= lw->L ? S : lw->L - a;
        status = plan_segment(lw, n);
        if (status == 0) status = store_read(lw, 0, a, n, p->R);
        if (status == 0)
            status = ops_norm_fwd(dev, DTYPE_F32, m->cfg.norm == MODEL_NORM_LAYER, p->aux, p->mean_f,
                                  p->rstd_f, p->R, model_p(m, m->idx_norm_f_w),
                                  model_p(m, m->idx_norm_f_b), Be * n, D, m->cfg.norm_eps);
        if (status == 0) status = ops_sum_rows_acc(dev, lw->sum, p->aux, Be, n, D);
        if (status == 0 && k == 0)
            status = ops_copy_blocks(dev, DTYPE_F32, lw->first, D, 0, p->aux, n * D, 0, Be, 1, D);
        if (status == 0 && k == nseg - 1)
            status = ops_copy_blocks(dev, DTYPE_F32, lw->last, D, 0, p->aux + (n - 1) * D, n * D,
                                     0, Be, 1, D);
    }
    if (status < 0) return status;
    switch (m->cfg.pool) {
    case MODEL_POOL_LAST: status = ops_copy(dev, lw->pooled, lw->last, Be * D); break;
    case MODEL_POOL_FIRST: status = ops_copy(dev, lw->pooled, lw->first, Be * D); break;
    default: status = ops_mean_from_sum(dev, lw->pooled, lw->sum, Be * D, (double)lw->L);
    }
    float *pooled = lw->pooled;
    if (status == 0 && Be == 2) { // the two strands' vectors averaged, as one pass does
        status = ops_pair_mean_fwd(dev, lw->pooled_out, lw->pooled, 1, D);
        pooled = lw->pooled_out;
    }
    // embed and logits are the caller's host memory: downloaded, never a device-to-device
    // copy (on the GPU that is an invalid argument)
    if (status == 0 && embed) status = ops_download(dev, embed, pooled, (size_t)D * sizeof(float));
    if (status == 0 && logits) {
        if (m->cfg.task != MODEL_TASK_CLASSIFY)
            return ls_error(LS_ERR_USAGE, "model_layerwise_finish: logits of a classifier only");
        const int64_t C = m->cfg.n_classes;
        status = ops_matmul_fwd(dev, DTYPE_F32, lw->logits, pooled, model_p(m, m->idx_cls_w),
                                model_p(m, m->idx_cls_b), 1, D, C, D, C);
        if (status == 0)
            status = ops_download(dev, logits, lw->logits, (size_t)C * sizeof(float));
    }
    return status;
}
