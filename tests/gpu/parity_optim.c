/*
 * parity_optim.c — AdamW and the global gradient norm (kernels/optim.h) on the GPU against the
 * CPU specification: a table of 70 tensors (more than one launch's OPTIM_CUDA_BATCH), gaps
 * between them that must stay untouched, empty tensors, sizes from 1 to 1,000,003, decay on and
 * off, three steps (t = 1, 2, 7) with grad_scale 1 and 0.7. The step must be bit-identical to
 * the CPU (same float operations in the same order, IEEE sqrt and division); the norm agrees
 * to 1e-12 relative (double sums in two fixed orders) and is the same bits on a second run.
 * Also: a non-finite grad_scale is LS_ERR_RANGE and nothing is updated.
 */
#include "kernels/optim.h"
#include "tests/gpu/parity_ops.h"

#define OPT_TENSORS 70

void gpu_parity_optim(void) {
    char po_case[] = "optim";
    GcRng r = gc_rng(900);
    OptimTensor tab[OPT_TENSORS];
    int64_t end = 0;
    int short_run = !po_size_ok(PO_SHORT_MAX + 1);
    for (int i = 0; i < OPT_TENSORS; i++) {
        int64_t numel = i == 5 ? 0 : i == 40 ? (short_run ? 50003 : 1000003)
                                            : 1 + (int64_t)(gc_next(&r) % 5000);
        tab[i].offset = end + (int64_t)(gc_next(&r) % 70); // gaps of 0..69 elements
        tab[i].numel = numel;
        tab[i].decay = (int)(gc_next(&r) % 2);
        end = tab[i].offset + numel;
    }
    const int64_t n = end + 13;
    float *p = po_rand(&r, n, -1, 1, DTYPE_F32), *g = po_rand(&r, n, -0.1f, 0.1f, DTYPE_F32);
    float *m = po_rand(&r, n, -0.01f, 0.01f, DTYPE_F32), *v = po_rand(&r, n, 0, 1e-4f, DTYPE_F32);
    PoBuf gp = {0}, gg = {0}, gm = {0}, gv = {0};
    AdamWConfig cfg = {0.9, 0.999, 1e-8, 0.1};
    const int64_t steps[3] = {1, 2, 7};
    const float scales[3] = {1.0f, 0.7f, 0.7f};
    PO_TRY(po_in(&gp, p, n, DTYPE_F32));
    PO_TRY(po_in(&gg, g, n, DTYPE_F32));
    PO_TRY(po_in(&gm, m, n, DTYPE_F32));
    PO_TRY(po_in(&gv, v, n, DTYPE_F32));
    for (int s = 0; s < 3; s++) {
        double lr = optim_lr_schedule(steps[s], 2, 10, 1e-3, 1e-4);
        PO_TRY(optim_adamw_step_cpu(p, m, v, g, tab, OPT_TENSORS, &cfg, steps[s], lr, scales[s]));
        PO_TRY(optim_adamw_step_cuda(po_ptr(&gp), po_ptr(&gm), po_ptr(&gv), po_ptr(&gg), tab,
                                     OPT_TENSORS, &cfg, steps[s], lr, scales[s], NULL));
    }
    PO_TRY(device_cuda_sync());
    po_check_exact("optim AdamW 3 steps, 70 tensors: params (gaps untouched)", &gp, p);
    po_check_exact("optim AdamW 3 steps, 70 tensors: m", &gm, m);
    po_check_exact("optim AdamW 3 steps, 70 tensors: v", &gv, v);

    double cpu_norm = 0, gpu_norm[2] = {0, 0};
    PO_TRY(optim_grad_norm_cpu(&cpu_norm, g, tab, OPT_TENSORS));
    for (int k = 0; k < 2; k++)
        PO_TRY(optim_grad_norm_cuda(&gpu_norm[k], po_ptr(&gg), tab, OPT_TENSORS, NULL));
    double rel = fabs(gpu_norm[0] - cpu_norm) / cpu_norm;
    gc_report(rel <= 1e-12, "optim grad norm %.17g vs CPU %.17g (rel %.2g <= 1e-12)", gpu_norm[0],
              cpu_norm, rel);
    gc_report(!memcmp(&gpu_norm[0], &gpu_norm[1], 8), "optim grad norm: same bits twice");

    int rc = optim_adamw_step_cuda(po_ptr(&gp), po_ptr(&gm), po_ptr(&gv), po_ptr(&gg), tab,
                                   OPT_TENSORS, &cfg, 8, 1e-3, NAN, NULL);
    gc_report(rc == LS_ERR_RANGE, "optim refuses a NaN grad_scale: %s", ls_error_message());
    po_check_exact("optim params unchanged after the refused step", &gp, p);
    OptimTensor bad[2] = {{100, 10, 0}, {50, 10, 0}};
    rc = optim_grad_norm_cuda(&cpu_norm, po_ptr(&gg), bad, 2, NULL);
    gc_report(rc == LS_ERR_USAGE && strstr(ls_error_message(), "tensor 1"),
              "optim refuses an unordered table: %s", ls_error_message());
done:
    po_free(&gp), po_free(&gg), po_free(&gm), po_free(&gv);
    free(p), free(g), free(m), free(v);
}
