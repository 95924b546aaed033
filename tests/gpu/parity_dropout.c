/*
 * parity_dropout.c — suite `dropout` of tests/gpu/test_gpu.c: kernels/dropout.h on the GPU
 * against the CPU specification, then the models' training step with dropout on both devices.
 *
 * Op: flat tensors (odd and vector-friendly widths, 1 to 1,000,000 elements), tiles of a
 * per-row walk (forward, reversed within each row's length, reversed per packed sequence by a
 * mirror map; several tiles, L not a multiple of the tile), in place as the models run it,
 * forward and backward, fp32, bf16 and fp32 → bf16 (the Transformer's gradient path). The mask
 * is one integer hash on both devices and the value one rounded multiply, so every case must be
 * bit-identical to the CPU (bf16: the CPU's fp32 result rounded once): the masks are equal
 * element for element, and the kept count is printed. Inputs are never 0, so a dropped element
 * (exactly 0) cannot hide a kept one.
 *
 * Models (dropout 0.3, the same seed and step on both devices): causal Mamba classifier and LM,
 * bidirectional Mamba with the reverse-complement head, Transformer, hybrid — several Mamba
 * tiles, two rows of different lengths. The GPU's training step (model_forward_backward) against
 * the CPU's model_forward(train) + model_loss + model_backward: logits, loss and every gradient
 * within model_gpu.c's tolerances (fp32: per tensor max|gpu − cpu| ≤ 1e-4·max|cpu|; bf16:
 * ‖gpu − cpu‖₂ ≤ 3e-2·‖cpu‖₂). Not vacuous: the same CPU step at the next step (another mask)
 * moves the gradients by more than 5 times the tolerance (measured on the CPU: 0.36-1.2
 * relative, max-norm, at the default seed). Then, on the GPU's own residual stream
 * after a training forward: every element the mask drops left it unchanged (BiMamba: both
 * directions together). Last, 20 AdamW steps with dropout: the GPU's loss curve within 1e-3 of
 * the CPU's (fp32) and 2 % (bf16), and two GPU runs give the same losses bit for bit.
 */
#include "kernels/dropout.h"
#include "kernels/glue.h"
#include "kernels/optim.h"
#include "models/model.h"
#include "models/model_internal.h"
#include "tests/gpu/parity_ops.h"

// ------------------------------------------------------------------------------ the op

// n values in ±[0.5, 2) (never 0), rounded to t.
static float *nonzero(GcRng *r, int64_t n, DType t) {
    float *x = gc_host(n);
    for (int64_t i = 0; x && i < n; i++) {
        float v = gc_uniform(r, 0.5f, 2.0f);
        v = gc_next(r) & 1 ? v : -v;
        x[i] = t == DTYPE_BF16 ? bf16_round(v) : v;
    }
    return x;
}

static int64_t kept_count(const float *y, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) k += y[i] != 0.0f;
    return k;
}

// A flat (rows, W) tensor: forward and backward, xt → yt (forward: x of xt into y of yt;
// backward: dy of yt into dx of xt), out of place and in place.
static void flat_case(int64_t rows, int64_t W, double p, DType xt, DType yt, uint64_t salt) {
    char po_case[160], what[220];
    snprintf(po_case, sizeof po_case, "dropout flat (%lld, %lld) p=%g x %s y %s", (long long)rows,
             (long long)W, p, dtype_name(xt), dtype_name(yt));
    const int64_t n = rows * W;
    if (!po_size_ok(n)) return;
    GcRng r = gc_rng(salt);
    float *x = nonzero(&r, n, xt), *dy = nonzero(&r, n, yt), *y = gc_host(n), *dx = gc_host(n);
    PoBuf bx = {0}, by = {0}, bdy = {0}, bdx = {0}, bin = {0};
    DropoutArgs a;
    dropout_args_init(&a, p, 1234 + salt, 77, 5, rows, W);
    a.x = x, a.y = y, a.dy = dy, a.dx = dx; // the CPU computes in fp32 on the rounded inputs
    PO_TRY(dropout_fwd_cpu(&a));
    PO_TRY(dropout_bwd_cpu(&a));
    po_round(y, n, yt);
    po_round(dx, n, xt);
    PO_TRY(po_in(&bx, x, n, xt));
    PO_TRY(po_out(&by, n, yt));
    PO_TRY(po_in(&bdy, dy, n, yt));
    PO_TRY(po_out(&bdx, n, xt));
    a.x_dtype = xt, a.y_dtype = yt;
    a.x = po_ptr(&bx), a.y = po_ptr(&by), a.dy = po_ptr(&bdy), a.dx = po_ptr(&bdx);
    PO_TRY(dropout_fwd_cuda(&a));
    PO_TRY(dropout_bwd_cuda(&a));
    if (xt == yt) { // in place: the forward over a copy of x
        PO_TRY(po_in(&bin, x, n, xt));
        a.x = a.y = po_ptr(&bin);
        PO_TRY(dropout_fwd_cuda(&a));
    }
    PO_TRY(device_cuda_sync());
    snprintf(what, sizeof what, "%s: forward, %lld of %lld kept", po_case,
             (long long)kept_count(y, n), (long long)n);
    po_check_exact(what, &by, y);
    snprintf(what, sizeof what, "%s: backward", po_case);
    po_check_exact(what, &bdx, dx);
    if (xt == yt) {
        snprintf(what, sizeof what, "%s: forward in place", po_case);
        po_check_exact(what, &bin, y);
    }
done:
    po_free(&bx), po_free(&by), po_free(&bdy), po_free(&bdx), po_free(&bin);
    free(x), free(dy), free(y), free(dx);
}

// Tiles of a (Be, L, W) tensor walked as the Mamba layers walk it: gather a tile (glue), drop
// it in place on each device, compare; every tile of the walk, forward and backward.
static void rows_case(int64_t Be, int64_t L, int64_t W, int64_t Tt, int mode, DType t,
                      uint64_t salt) {
    static const char *modes[3] = {"forward", "reversed", "packed reversed"};
    char po_case[200], what[260];
    snprintf(po_case, sizeof po_case, "dropout rows Be=%lld L=%lld W=%lld tile=%lld %s %s",
             (long long)Be, (long long)L, (long long)W, (long long)Tt, modes[mode],
             dtype_name(t));
    if (!po_size_ok(Be * L * W)) return;
    GcRng r = gc_rng(salt);
    int64_t len[4];
    for (int64_t b = 0; b < Be; b++)
        len[b] = b == 0 ? L : 1 + (int64_t)(gc_next(&r) % (uint64_t)L);
    const int reverse = mode > 0;
    int32_t *mirror = mode == 2 ? (int32_t *)malloc((size_t)(Be * L) * sizeof *mirror) : NULL;
    for (int64_t b = 0; mirror && b < Be; b++) {
        for (int64_t s = 0; s < L; s++) mirror[b * L + s] = (int32_t)s;
        for (int64_t a = 0; a < len[b];) {
            int64_t n = 1 + (int64_t)(gc_next(&r) % 12);
            if (a + n > len[b]) n = len[b] - a;
            for (int64_t s = a; s < a + n; s++) mirror[b * L + s] = (int32_t)(2 * a + n - 1 - s);
            a += n;
        }
    }
    const int64_t n = Be * L * W, nmax = Be * Tt * W;
    float *src = nonzero(&r, n, t), *tile = gc_host(nmax), *fwd = gc_host(nmax);
    PoBuf gsrc = {0}, glen = {0}, gmir = {0}, gtile = {0}, gback = {0};
    int64_t kept = 0, total = 0, bad_tiles = 0;
    PO_TRY(po_in(&gsrc, src, n, t));
    PO_TRY(po_raw(&glen, len, (size_t)Be * 8));
    if (mirror) PO_TRY(po_raw(&gmir, mirror, (size_t)(Be * L) * sizeof *mirror));
    PO_TRY(po_out(&gtile, nmax, t));
    PO_TRY(po_out(&gback, nmax, t));
    for (int64_t s0 = 0; s0 < L; s0 += Tt) {
        const int64_t nt = s0 + Tt <= L ? Tt : L - s0;
        DropoutArgs a;
        dropout_args_init(&a, 0.35, 99, 3, 8, Be, W);
        dropout_args_rows(&a, Be, L, s0, nt, len, mirror, reverse);
        PO_TRY(glue_rows_gather_cpu(tile, src, len, mirror, Be, L, W, s0, nt, reverse));
        a.x = tile, a.y = fwd;
        PO_TRY(dropout_fwd_cpu(&a));
        po_round(fwd, Be * nt * W, t);
        // the GPU: gather, then drop in place (forward), and the backward in place on a copy
        PO_TRY(glue_rows_gather_cuda(po_ptr(&gtile), t, po_ptr(&gsrc), t,
                                     (const int64_t *)glen.b.ptr,
                                     mirror ? (const int32_t *)gmir.b.ptr : NULL, Be, L, W, s0,
                                     nt, reverse, NULL));
        PO_TRY(glue_rows_gather_cuda(po_ptr(&gback), t, po_ptr(&gsrc), t,
                                     (const int64_t *)glen.b.ptr,
                                     mirror ? (const int32_t *)gmir.b.ptr : NULL, Be, L, W, s0,
                                     nt, reverse, NULL));
        a.lengths = (const int64_t *)glen.b.ptr;
        a.mirror = mirror ? (const int32_t *)gmir.b.ptr : NULL;
        a.x_dtype = a.y_dtype = t;
        a.x = a.y = po_ptr(&gtile);
        a.dy = a.dx = po_ptr(&gback);
        PO_TRY(dropout_fwd_cuda(&a));
        PO_TRY(dropout_bwd_cuda(&a));
        PO_TRY(device_cuda_sync());
        gtile.n = gback.n = Be * nt * W;
        float *g1 = po_get(&gtile), *g2 = po_get(&gback);
        if (!g1 || !g2) {
            free(g1), free(g2);
            PO_TRY(LS_ERR_CUDA);
        }
        if (memcmp(g1, fwd, (size_t)gtile.n * 4) != 0 || memcmp(g2, fwd, (size_t)gback.n * 4) != 0)
            bad_tiles++;
        kept += kept_count(fwd, gtile.n), total += gtile.n;
        free(g1), free(g2);
    }
    {
        char guard[128] = "";
        int gok = gc_buf_guards_ok(&gtile.b, guard, sizeof guard) == 0 &&
                  gc_buf_guards_ok(&gback.b, guard, sizeof guard) == 0;
        snprintf(what, sizeof what, "%s: every tile's forward and backward bit-identical to the "
                 "CPU (%lld of %lld kept, positions past the lengths 0)%s%s", po_case,
                 (long long)kept, (long long)total, gok ? "" : "; ", guard);
        gc_report(bad_tiles == 0 && gok, "%s%s", what, bad_tiles ? " — tiles differ" : "");
    }
done:
    po_free(&gsrc), po_free(&glen), po_free(&gmir), po_free(&gtile), po_free(&gback);
    free(mirror), free(src), free(tile), free(fwd);
}

// ------------------------------------------------------------------------------ the models

static const Device pd_cpu = {DEVICE_CPU, 0}, pd_gpu = {DEVICE_CUDA, 0};
#define PD_P 0.3
#define PD_SEED 4242

typedef struct {
    ModelBatch b;
    uint8_t tokens[2 * 64];
    int64_t lengths[2];
    int32_t labels[2];
} PdBatch;

static void pd_batch(PdBatch *t, const ModelConfig *c, GcRng *r, int64_t L) {
    memset(t, 0, sizeof *t);
    t->lengths[0] = L, t->lengths[1] = L / 2 + (int64_t)(gc_next(r) % (uint64_t)(L / 2));
    for (int64_t i = 0; i < 2 * L; i++) t->tokens[i] = (uint8_t)(gc_next(r) % (uint64_t)c->vocab);
    for (int b = 0; b < 2; b++) t->labels[b] = (int32_t)(gc_next(r) % (uint64_t)c->n_classes);
    t->b = (ModelBatch){.B = 2, .L = L, .tokens = t->tokens, .lengths = t->lengths};
}

static ModelConfig pd_cfg(ModelArch arch, ModelTask task) {
    ModelConfig c;
    model_config_default(&c, arch, task);
    c.d_model = arch == MODEL_MAMBA || arch == MODEL_BIMAMBA ? 32 : 64; // attention: hd 32
    c.n_layers = 2;
    c.d_state = 8;
    c.n_heads = 2;
    c.n_classes = 3;
    c.vocab = task == MODEL_TASK_LM ? 7 : 5;
    c.window = 0;
    return c;
}

// Relative error: ∞-norm (fp32) or 2-norm (bf16), as model_gpu.c.
static double pd_rel(const float *got, const float *ref, int64_t n, int l2) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), r = fabs((double)ref[i]);
        if (!isfinite(got[i])) return INFINITY;
        if (l2) num += d * d, den += r * r;
        else num = d > num ? d : num, den = r > den ? r : den;
    }
    if (l2) num = sqrt(num), den = sqrt(den);
    return den > 0 ? num / den : num;
}

static int pd_model(Model **m, const ModelConfig *c, const Device *dev, DType act) {
    int status = model_init(m, c, dev, 31);
    if (status == 0 && dev->kind == DEVICE_CUDA) status = model_set_precision(*m, act);
    if (status == 0) status = model_set_tile_rows(*m, 2 * 16); // several Mamba tiles
    if (status == 0) status = model_set_dropout(*m, PD_P, PD_SEED);
    return status;
}

// CPU: the training forward + loss + backward at @p step; logits and grads out.
static int pd_cpu_step(Model *m, PdBatch *t, int64_t step, float *logits, float *dl, int64_t nl,
                       float *grads, double *loss) {
    model_set_dropout_step(m, step);
    memset(dl, 0, (size_t)nl * 4);
    int status = model_zero_grads(m);
    if (status == 0) status = model_forward(m, &t->b, logits, 1);
    if (status == 0) status = model_loss(m, &t->b, logits, t->labels, loss, NULL, dl, 1.0f);
    if (status == 0) status = model_backward(m, &t->b, dl);
    if (status == 0) status = model_buffer_read(m, MODEL_BUF_GRADS, grads);
    return status;
}

// On the GPU's residual stream after a training forward: dropped elements left it unchanged.
static void pd_residual_check(Model *gpu, const char *name, const char *prec, int64_t step) {
    const Plan *pl = &gpu->plan;
    const int64_t Be = pl->Be, L = pl->L, D = gpu->D, MD = Be * L * D;
    const int nl = (int)gpu->cfg.n_layers;
    float *R = gc_host((nl + 1) * MD);
    int64_t *len = (int64_t *)malloc((size_t)Be * sizeof *len);
    int status = R && len ? 0 : ls_error(LS_ERR_NOMEM, "residual check");
    if (status == 0)
        status = device_cuda_copy(R, pl->R, (size_t)((nl + 1) * MD) * 4, DEVICE_COPY_D2H);
    if (status == 0) status = device_cuda_copy(len, pl->len, (size_t)Be * 8, DEVICE_COPY_D2H);
    if (status < 0) {
        gc_report(0, "dropout model %s %s: residual stream: %s", name, prec, ls_error_message());
        free(R), free(len);
        return;
    }
    const uint32_t threshold = dropout_threshold(PD_P);
    int64_t dropped = 0, moved_dropped = 0, checked_layers = 0;
    for (int i = 0; i < nl; i++) {
        if (gpu->cfg.arch != MODEL_MAMBA && gpu->cfg.arch != MODEL_BIMAMBA) break; // one site
        const float *R0 = R + i * MD, *R1 = R0 + MD;
        const uint64_t key = dropout_key(PD_SEED, (uint64_t)step, 2u * (uint32_t)i);
        for (int64_t b = 0; b < Be; b++)
            for (int64_t pos = 0; pos < len[b]; pos++)
                for (int64_t d = 0; d < D; d++) {
                    const int64_t g = (b * L + pos) * D + d;
                    if (dropout_bits(key, (uint64_t)g) >= threshold) continue;
                    dropped++;
                    moved_dropped += R1[g] != R0[g];
                }
        checked_layers++;
    }
    if (checked_layers)
        gc_report(moved_dropped == 0 && dropped > 0, "dropout model %s %s: on the GPU's residual "
                  "stream, the %lld elements the mask drops (every layer) left it unchanged "
                  "(%lld moved)", name, prec, (long long)dropped, (long long)moved_dropped);
    free(R), free(len);
}

static void model_case(const char *name, ModelConfig cfg, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    Model *cpu = NULL, *gpu = NULL;
    PdBatch t;
    GcRng r = gc_rng(salt);
    pd_batch(&t, &cfg, &r, 37);
    float *lc = NULL, *lg = NULL, *dl = NULL, *gcpu = NULL, *gnext = NULL, *ggpu = NULL;
    const int64_t step = 11;
    int status = pd_model(&cpu, &cfg, &pd_cpu, DTYPE_F32);
    if (status == 0) status = pd_model(&gpu, &cfg, &pd_gpu, act);
    if (status < 0) goto fail;
    {
        const ParamTable *tab = model_param_table(cpu);
        const int64_t P = tab->total;
        const int64_t nl = model_output_rows(cpu, &t.b) *
                           (cfg.task == MODEL_TASK_LM ? cfg.vocab : cfg.n_classes);
        lc = gc_host(nl), lg = gc_host(nl), dl = gc_host(nl);
        gcpu = gc_host(P), gnext = gc_host(P), ggpu = gc_host(P);
        double loss_c = 0, loss_n = 0, loss_g = 0;
        if ((status = pd_cpu_step(cpu, &t, step + 1, lc, dl, nl, gnext, &loss_n)) < 0 ||
            (status = pd_cpu_step(cpu, &t, step, lc, dl, nl, gcpu, &loss_c)) < 0)
            goto fail;
        const int l2 = act != DTYPE_F32;
        const double tol = l2 ? 3e-2 : 1e-4;
        // the GPU's training forward (logits back on the host), then its training step
        model_set_dropout_step(gpu, step);
        if ((status = model_forward(gpu, &t.b, lg, 1)) < 0) goto fail;
        double e = pd_rel(lg, lc, nl, l2);
        gc_report(e <= tol, "dropout model %s %s: training-forward logits rel. error %.3g "
                  "(<= %.0e)", name, prec, e, tol);
        pd_residual_check(gpu, name, prec, step);
        if ((status = model_zero_grads(gpu)) < 0 ||
            (status = model_forward_backward(gpu, &t.b, t.labels, 1.0f, &loss_g)) < 0 ||
            (status = model_buffer_read(gpu, MODEL_BUF_GRADS, ggpu)) < 0)
            goto fail;
        e = fabs(loss_g - loss_c) / fabs(loss_c);
        gc_report(e <= tol, "dropout model %s %s: loss %.6f vs CPU %.6f (rel. %.3g)", name, prec,
                  loss_g, loss_c, e);
        double worst = 0, other = INFINITY;
        const char *worst_name = "-";
        for (int i = 0; i < tab->n; i++) {
            const ParamEntry *pe = &tab->entries[i];
            double ei = pd_rel(ggpu + pe->offset, gcpu + pe->offset, pe->numel, l2);
            if (!(ei <= worst)) worst = ei, worst_name = pe->name;
        }
        // another mask (the next step) against this one, over all gradients
        other = pd_rel(gnext, gcpu, P, l2);
        gc_report(worst <= tol && other > 5 * tol, "dropout model %s %s: every gradient "
                  "(%d tensors) within %.0e of the CPU's, worst %s %.3g; the next step's mask "
                  "moves them %.3g", name, prec, tab->n, tol, worst_name, worst, other);
    }
    goto done;
fail:
    gc_report(0, "dropout model %s %s: %s", name, prec, ls_error_message());
done:
    model_free(cpu);
    model_free(gpu);
    free(lc), free(lg), free(dl), free(gcpu), free(gnext), free(ggpu);
}

#define PD_STEPS 20

static int pd_train(Model *m, PdBatch *batches, int nb, double *losses) {
    const AdamWConfig adamw = {0.9, 0.999, 1e-8, 0.01};
    for (int s = 0; s < PD_STEPS; s++) {
        PdBatch *t = &batches[s % nb];
        double norm = 0;
        model_set_dropout_step(m, s + 1);
        int status = model_zero_grads(m);
        if (status == 0)
            status = model_forward_backward(m, &t->b, t->labels, 1.0f, &losses[s]);
        if (status == 0) status = model_grad_norm(m, &norm);
        if (status < 0) return status;
        const double lr = optim_lr_schedule(s + 1, 3, PD_STEPS, 3e-3, 3e-4);
        if ((status = model_adamw_step(m, &adamw, s + 1, lr, optim_clip_scale(norm, 1.0))) < 0)
            return status;
    }
    return 0;
}

static void train_case(const char *name, ModelConfig cfg, DType act, uint64_t salt) {
    const char *prec = dtype_name(act);
    enum { NB = 3 };
    PdBatch batches[NB];
    GcRng r = gc_rng(salt);
    for (int i = 0; i < NB; i++) pd_batch(&batches[i], &cfg, &r, 48);
    double lc[PD_STEPS], lg[PD_STEPS], lg2[PD_STEPS];
    Model *cpu = NULL, *gpu = NULL, *gpu2 = NULL;
    int status = pd_model(&cpu, &cfg, &pd_cpu, DTYPE_F32);
    if (status == 0) status = pd_model(&gpu, &cfg, &pd_gpu, act);
    if (status == 0) status = pd_model(&gpu2, &cfg, &pd_gpu, act);
    if (status == 0) status = pd_train(cpu, batches, NB, lc);
    if (status == 0) status = pd_train(gpu, batches, NB, lg);
    if (status == 0) status = pd_train(gpu2, batches, NB, lg2);
    if (status < 0) {
        gc_report(0, "dropout train %s %s: %s", name, prec, ls_error_message());
        goto done;
    }
    {
        const double tol = act == DTYPE_F32 ? 1e-3 : 2e-2;
        double worst = 0;
        int at = 0;
        for (int s = 0; s < PD_STEPS; s++) {
            double e = fabs(lg[s] - lc[s]) / fmax(1.0, fabs(lc[s]));
            if (!(e <= worst)) worst = e, at = s;
        }
        gc_report(worst <= tol, "dropout train %s %s: %d-step loss curve within %.0e of the "
                  "CPU's fp32 (worst %.3g at step %d; last %.4f vs %.4f)", name, prec, PD_STEPS,
                  tol, worst, at + 1, lg[PD_STEPS - 1], lc[PD_STEPS - 1]);
        gc_report(memcmp(lg, lg2, sizeof lg) == 0, "dropout train %s %s: two GPU runs give the "
                  "same losses bit for bit", name, prec);
    }
done:
    model_free(cpu), model_free(gpu), model_free(gpu2);
}

void gpu_parity_dropout(void) {
    uint64_t salt = 9100;
    // the op: flat tensors
    static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {17, 33}, {1000, 256}, {3907, 256}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        flat_case(shapes[i][0], shapes[i][1], 0.3, DTYPE_F32, DTYPE_F32, salt++);
        flat_case(shapes[i][0], shapes[i][1], 0.3, DTYPE_BF16, DTYPE_BF16, salt++);
    }
    flat_case(1000, 256, 0.3, DTYPE_BF16, DTYPE_F32, salt++); // bf16 block, fp32 gradient
    flat_case(257, 64, 0.9, DTYPE_F32, DTYPE_F32, salt++);
    flat_case(257, 64, 0.0, DTYPE_F32, DTYPE_F32, salt++);
    // tiles of a per-row walk
    for (int mode = 0; mode < 3; mode++) {
        rows_case(3, 1000, 64, 128, mode, DTYPE_F32, salt++);
        rows_case(3, 1000, 33, 77, mode, DTYPE_F32, salt++);
        rows_case(2, 777, 64, 256, mode, DTYPE_BF16, salt++);
    }
    // the GPU refuses what the CPU refuses
    DropoutArgs a;
    dropout_args_init(&a, 1.0, 1, 1, 1, 2, 4);
    int rc = dropout_fwd_cuda(&a);
    gc_report(rc == LS_ERR_USAGE && strstr(ls_error_message(), "p = 1"),
              "dropout p = 1 is refused on the GPU: %s", ls_error_message());
    dropout_args_init(&a, 0.5, 1, 1, 1, 0, 4);
    rc = dropout_fwd_cuda(&a);
    gc_report(rc == 0, "dropout of 0 rows is a no-op (rc %d)", rc);

    // the models
    ModelConfig rc_cfg = pd_cfg(MODEL_BIMAMBA, MODEL_TASK_CLASSIFY);
    rc_cfg.rc_equivariant = 1;
    ModelConfig hy = pd_cfg(MODEL_HYBRID, MODEL_TASK_LM);
    hy.n_layers = 3;
    if (model_config_set_attn_every(&hy, 3) < 0) hy.n_layers = 0; // (reported at init)
    const struct {
        const char *name;
        ModelConfig cfg;
    } cases[] = {
        {"mamba classify", pd_cfg(MODEL_MAMBA, MODEL_TASK_CLASSIFY)},
        {"mamba lm", pd_cfg(MODEL_MAMBA, MODEL_TASK_LM)},
        {"bimamba rc classify", rc_cfg},
        {"transformer classify", pd_cfg(MODEL_TRANSFORMER, MODEL_TASK_CLASSIFY)},
        {"hybrid lm", hy},
    };
    const int n_cases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n_cases; i++) model_case(cases[i].name, cases[i].cfg, DTYPE_F32, salt++);
    for (int i = 0; i < n_cases; i++) model_case(cases[i].name, cases[i].cfg, DTYPE_BF16, salt++);
    train_case("bimamba rc classify", rc_cfg, DTYPE_F32, salt++);
    train_case("hybrid lm", hy, DTYPE_F32, salt++);
    train_case("bimamba rc classify", rc_cfg, DTYPE_BF16, salt++);
}
