/*
 * cuda_none.c — the `_cuda` symbols of a build without nvcc (or with CUDA=0). Each returns
 * LS_ERR_NO_CUDA so `--device cuda` fails with one clear line instead of a link error.
 * Must declare exactly what the kernels/cuda .cu files define.
 */
#include "kernels/attention.h"
#include "kernels/comm.h"
#include "kernels/device.h"
#include "kernels/scan.h"

static int no_cuda(void) {
    return ls_error(LS_ERR_NO_CUDA, "--device cuda: this longscan was built without CUDA "
                                    "(rebuild with nvcc on PATH, without CUDA=0)");
}

int device_cuda_built(void) { return 0; }
int device_cuda_count(int *count) {
    *count = 0;
    return no_cuda();
}
int device_cuda_describe(int ordinal, char *buf, size_t size) {
    (void)ordinal;
    if (size) buf[0] = '\0';
    return no_cuda();
}
int device_cuda_alloc(void **ptr, size_t bytes, const char *lower_hint) {
    (void)bytes;
    (void)lower_hint;
    *ptr = NULL;
    return no_cuda();
}
void device_cuda_free(void *ptr) { (void)ptr; }
int device_cuda_set(int ordinal) {
    (void)ordinal;
    return no_cuda();
}
void device_cuda_memory(size_t *in_use, size_t *peak) {
    if (in_use) *in_use = 0;
    if (peak) *peak = 0;
}
void device_cuda_memory_reset_peak(void) {}
int device_cuda_timer_init(DeviceTimer **timer) {
    *timer = NULL;
    return no_cuda();
}
int device_cuda_timer_start(DeviceTimer *timer, void *stream) {
    (void)timer, (void)stream;
    return no_cuda();
}
int device_cuda_timer_stop(DeviceTimer *timer, void *stream, float *ms) {
    (void)timer, (void)stream;
    *ms = 0.0f;
    return no_cuda();
}
void device_cuda_timer_free(DeviceTimer *timer) { (void)timer; }
int device_cuda_events_init(DeviceEvents **events, int capacity) {
    (void)capacity;
    *events = NULL;
    return no_cuda();
}
int device_cuda_events_record(DeviceEvents *events, int index) {
    (void)events, (void)index;
    return no_cuda();
}
int device_cuda_events_elapsed(DeviceEvents *events, int from, int to, float *ms) {
    (void)events, (void)from, (void)to;
    *ms = 0.0f;
    return no_cuda();
}
void device_cuda_events_free(DeviceEvents *events) { (void)events; }
int device_cuda_copy(void *dst, const void *src, size_t bytes, DeviceCopy dir) {
    (void)dst, (void)src, (void)bytes, (void)dir;
    return no_cuda();
}
int device_cuda_memset(void *ptr, int byte_value, size_t bytes) {
    (void)ptr, (void)byte_value, (void)bytes;
    return no_cuda();
}
int device_cuda_sync(void) { return no_cuda(); }
int device_cuda_graph_begin(void) { return no_cuda(); }
int device_cuda_graph_end(void **graph) {
    *graph = NULL;
    return no_cuda();
}
int device_cuda_graph_launch(void *graph) {
    (void)graph;
    return no_cuda();
}
void device_cuda_graph_free(void *graph) { (void)graph; }
void device_cuda_release(void) {}
const char *device_build_info(void) { return "CPU only (built without CUDA)"; }

// attention.h
int attention_cuda_supported(const AttentionShape *s) {
    (void)s;
    return no_cuda();
}
int attention_fwd_cuda(float *out, float *lse, const float *q, const float *k, const float *v,
                       const AttentionShape *s) {
    (void)out, (void)lse, (void)q, (void)k, (void)v, (void)s;
    return no_cuda();
}
int attention_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, const float *out, const float *lse,
                       const AttentionShape *s) {
    (void)dq, (void)dk, (void)dv, (void)dout, (void)q, (void)k, (void)v, (void)out, (void)lse;
    (void)s;
    return no_cuda();
}
int attention_rope_fwd_cuda(float *out, const float *x, const RopeShape *s) {
    (void)out, (void)x, (void)s;
    return no_cuda();
}
int attention_rope_bwd_cuda(float *dx, const float *dout, const RopeShape *s) {
    (void)dx, (void)dout, (void)s;
    return no_cuda();
}

// ----------------------------------------------------------------------------- ops
// The kernels/cuda op files' symbols; the arguments are ignored.

#include "kernels/act.h"
#include "kernels/conv.h"
#include "kernels/embedding.h"
#include "kernels/loss.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"

int conv_cuda_supported(const ConvArgs *a, ConvOp op) {
    (void)a, (void)op;
    return no_cuda();
}
int conv_fwd_cuda(const ConvArgs *a) {
    (void)a;
    return no_cuda();
}
int conv_bwd_cuda(const ConvArgs *a) {
    (void)a;
    return no_cuda();
}
int conv_step_cuda(const ConvArgs *a) {
    (void)a;
    return no_cuda();
}

int matmul_fwd_cuda(float *y, const float *x, const float *w, const float *b, int64_t M,
                    int64_t K, int64_t N, int64_t ld_x, int64_t ld_y, const MatmulCuda *opt) {
    (void)y, (void)x, (void)w, (void)b, (void)M, (void)K, (void)N, (void)ld_x, (void)ld_y;
    (void)opt;
    return no_cuda();
}
int matmul_bwd_cuda(float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, int64_t M, int64_t K, int64_t N, int64_t ld_x, int64_t ld_y,
                    const MatmulCuda *opt) {
    (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)M, (void)K, (void)N;
    (void)ld_x, (void)ld_y, (void)opt;
    return no_cuda();
}

int norm_fwd_cuda(const NormArgs *a) {
    (void)a;
    return no_cuda();
}
int norm_bwd_cuda(const NormArgs *a) {
    (void)a;
    return no_cuda();
}

#define ACT_STUB_FWD(name)                                                                     \
    int name(float *y, const float *x, int64_t n, DType dtype, void *stream) {                 \
        (void)y, (void)x, (void)n, (void)dtype, (void)stream;                                  \
        return no_cuda();                                                                      \
    }
#define ACT_STUB_BWD(name)                                                                     \
    int name(float *dx, const float *dy, const float *x, int64_t n, DType dtype, void *stream) { \
        (void)dx, (void)dy, (void)x, (void)n, (void)dtype, (void)stream;                       \
        return no_cuda();                                                                      \
    }
ACT_STUB_FWD(act_silu_fwd_cuda)
ACT_STUB_BWD(act_silu_bwd_cuda)
ACT_STUB_FWD(act_softplus_fwd_cuda)
ACT_STUB_BWD(act_softplus_bwd_cuda)
ACT_STUB_FWD(act_gelu_fwd_cuda)
ACT_STUB_BWD(act_gelu_bwd_cuda)
int act_silu_gate_fwd_cuda(float *y, const float *x, const float *z, int64_t n, DType dtype,
                           void *stream) {
    (void)y, (void)x, (void)z, (void)n, (void)dtype, (void)stream;
    return no_cuda();
}
int act_silu_gate_bwd_cuda(float *dx, float *dz, const float *dy, const float *x,
                           const float *z, int64_t n, DType dtype, void *stream) {
    (void)dx, (void)dz, (void)dy, (void)x, (void)z, (void)n, (void)dtype, (void)stream;
    return no_cuda();
}

int embedding_fwd_cuda(float *out, const int32_t *ids, const float *table, int64_t M, int64_t V,
                       int64_t D, DType dtype, void *stream) {
    (void)out, (void)ids, (void)table, (void)M, (void)V, (void)D, (void)dtype, (void)stream;
    return no_cuda();
}
int embedding_bwd_cuda(float *dtable, const float *dout, const int32_t *ids, int64_t M,
                       int64_t V, int64_t D, DType dtype, void *stream) {
    (void)dtable, (void)dout, (void)ids, (void)M, (void)V, (void)D, (void)dtype, (void)stream;
    return no_cuda();
}

int loss_xent_cuda(double *mean_loss, float *row_loss, float *dlogits, const float *logits,
                   const int32_t *targets, const float *weights, int64_t M, int64_t V,
                   float grad_scale, DType dtype, void *stream) {
    (void)mean_loss, (void)row_loss, (void)dlogits, (void)logits, (void)targets, (void)weights;
    (void)M, (void)V, (void)grad_scale, (void)dtype, (void)stream;
    return no_cuda();
}

int pool_fwd_cuda(float *out, const float *x, const int64_t *lengths, int64_t B, int64_t L,
                  int64_t D, PoolMode mode, DType dtype, void *stream) {
    (void)out, (void)x, (void)lengths, (void)B, (void)L, (void)D, (void)mode, (void)dtype;
    (void)stream;
    return no_cuda();
}
int pool_bwd_cuda(float *dx, const float *dout, const int64_t *lengths, int64_t B, int64_t L,
                  int64_t D, PoolMode mode, DType dtype, void *stream) {
    (void)dx, (void)dout, (void)lengths, (void)B, (void)L, (void)D, (void)mode, (void)dtype;
    (void)stream;
    return no_cuda();
}
int pool_fwd_packed_cuda(float *out, const float *x, const int64_t *starts,
                         const int64_t *lengths, int64_t S, int64_t L, int64_t D, PoolMode mode,
                         DType dtype, void *stream) {
    (void)out, (void)x, (void)starts, (void)lengths, (void)S, (void)L, (void)D, (void)mode;
    (void)dtype, (void)stream;
    return no_cuda();
}
int pool_bwd_packed_cuda(float *dx, const float *dout, const int64_t *starts,
                         const int64_t *lengths, int64_t S, int64_t L, int64_t D, PoolMode mode,
                         DType dtype, void *stream) {
    (void)dx, (void)dout, (void)starts, (void)lengths, (void)S, (void)L, (void)D, (void)mode;
    (void)dtype, (void)stream;
    return no_cuda();
}

int optim_adamw_step_cuda(float *params, float *m, float *v, const float *grads,
                          const OptimTensor *tensors, int64_t n_tensors, const AdamWConfig *cfg,
                          int64_t step, double lr, float grad_scale, void *stream) {
    (void)params, (void)m, (void)v, (void)grads, (void)tensors, (void)n_tensors, (void)cfg;
    (void)step, (void)lr, (void)grad_scale, (void)stream;
    return no_cuda();
}
int optim_grad_norm_cuda(double *norm, const float *grads, const OptimTensor *tensors,
                         int64_t n_tensors, void *stream) {
    (void)norm, (void)grads, (void)tensors, (void)n_tensors, (void)stream;
    return no_cuda();
}

// kernels/scan.h
int scan_cuda_supported(const ScanArgs *a, ScanOp op) {
    (void)a, (void)op;
    return no_cuda();
}
size_t scan_bwd_workspace_size_cuda(const ScanArgs *a) {
    (void)a;
    return 0;
}
int scan_fwd_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}
int scan_bwd_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}
int scan_step_cuda(const ScanArgs *a) {
    (void)a;
    return no_cuda();
}

// kernels/glue.h
#include "kernels/glue.h"

int glue_zero_cuda(void *x, size_t bytes, void *stream) {
    (void)x, (void)bytes, (void)stream;
    return no_cuda();
}
int glue_copy_cuda(void *dst, const void *src, size_t bytes, void *stream) {
    (void)dst, (void)src, (void)bytes, (void)stream;
    return no_cuda();
}
int glue_add_cuda(float *y, DType yt, const float *x, DType xt, int64_t n, void *stream) {
    (void)y, (void)yt, (void)x, (void)xt, (void)n, (void)stream;
    return no_cuda();
}
int glue_cast_cuda(float *y, DType yt, const float *x, int64_t n, void *stream) {
    (void)y, (void)yt, (void)x, (void)n, (void)stream;
    return no_cuda();
}
int glue_neg_exp_cuda(float *y, const float *x, int64_t n, void *stream) {
    (void)y, (void)x, (void)n, (void)stream;
    return no_cuda();
}
int glue_mul_acc_cuda(float *y, const float *a, const float *b, int64_t n, void *stream) {
    (void)y, (void)a, (void)b, (void)n, (void)stream;
    return no_cuda();
}
int glue_rows_gather_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                          const int64_t *lengths, const int32_t *mirror, int64_t Be, int64_t L,
                          int64_t W, int64_t s0, int64_t nt, int reverse, void *stream) {
    (void)dst, (void)dst_t, (void)src, (void)src_t, (void)lengths, (void)Be, (void)L, (void)W;
    (void)mirror;
    (void)s0, (void)nt, (void)reverse, (void)stream;
    return no_cuda();
}
int glue_rows_scatter_add_cuda(float *dst, DType dst_t, const float *src, DType src_t,
                               const int64_t *lengths, const int32_t *mirror, int64_t Be,
                               int64_t L, int64_t W, int64_t s0, int64_t nt, int reverse,
                               void *stream) {
    (void)dst, (void)dst_t, (void)src, (void)src_t, (void)lengths, (void)Be, (void)L, (void)W;
    (void)mirror;
    (void)s0, (void)nt, (void)reverse, (void)stream;
    return no_cuda();
}
int glue_rows_zero_tail_cuda(float *x, DType t, const int64_t *lengths, int64_t Be, int64_t L,
                             int64_t W, void *stream) {
    (void)x, (void)t, (void)lengths, (void)Be, (void)L, (void)W, (void)stream;
    return no_cuda();
}
int glue_pair_mean_fwd_cuda(float *out, const float *x, int64_t B, int64_t W, void *stream) {
    (void)out, (void)x, (void)B, (void)W, (void)stream;
    return no_cuda();
}
int glue_pair_mean_bwd_cuda(float *dx, const float *dout, int64_t B, int64_t W, void *stream) {
    (void)dx, (void)dout, (void)B, (void)W, (void)stream;
    return no_cuda();
}
int glue_tokens_to_ids_cuda(int32_t *ids, const uint8_t *tokens, const int64_t *lengths,
                            const int32_t *mirror, int64_t B, int64_t L, int rc, void *stream) {
    (void)mirror, (void)ids, (void)tokens, (void)lengths, (void)B, (void)L, (void)rc, (void)stream;
    return no_cuda();
}
int glue_ids_to_ids_cuda(int32_t *ids, const int32_t *src, const int64_t *lengths, int64_t B,
                         int64_t L, void *stream) {
    (void)ids, (void)src, (void)lengths, (void)B, (void)L, (void)stream;
    return no_cuda();
}
int glue_frames_cuda(float *frames, const float *samples, const int64_t *sample_lengths,
                     const int64_t *frame_end, int64_t B, int64_t L, int64_t F, int64_t Lt,
                     void *stream) {
    (void)frame_end, (void)frames, (void)samples, (void)sample_lengths, (void)B, (void)L;
    (void)F, (void)Lt;
    (void)stream;
    return no_cuda();
}
int glue_copy_blocks_cuda(float *dst, int64_t dst_sb, int64_t dst_sl, const float *src,
                          int64_t src_sb, int64_t src_sl, int64_t B, int64_t L, int64_t W,
                          DType t, void *stream) {
    (void)dst, (void)dst_sb, (void)dst_sl, (void)src, (void)src_sb, (void)src_sl, (void)B;
    (void)L, (void)W, (void)t, (void)stream;
    return no_cuda();
}
int glue_sum_rows_acc_cuda(double *acc, const float *x, int64_t B, int64_t L, int64_t W,
                           void *stream) {
    (void)acc, (void)x, (void)B, (void)L, (void)W, (void)stream;
    return no_cuda();
}
int glue_mean_from_sum_cuda(float *out, const double *acc, int64_t n, double count,
                            void *stream) {
    (void)out, (void)acc, (void)n, (void)count, (void)stream;
    return no_cuda();
}

// attention_kv.h
#include "kernels/attention_kv.h"
int attention_kv_fwd_cuda(float *out, const float *q, const float *k, const float *v,
                          const AttentionKvShape *s) {
    (void)out, (void)q, (void)k, (void)v, (void)s;
    return no_cuda();
}

// sample.h
#include "kernels/sample.h"
int sample_tokens_cuda(const SampleArgs *a) {
    (void)a;
    return no_cuda();
}
int embedding_fwd_cuda_trusted(float *out, const int32_t *ids, const float *table, int64_t M,
                               int64_t V, int64_t D, DType dtype, void *stream) {
    (void)out, (void)ids, (void)table, (void)M, (void)V, (void)D, (void)dtype, (void)stream;
    return no_cuda();
}

// gen_step.h
#include "kernels/gen_step.h"
int gen_step_cuda_supported(const GenStepLayer *a) {
    (void)a;
    return no_cuda();
}
int gen_step_prepare_cuda(const GenStepLayer *a) {
    (void)a;
    return no_cuda();
}
int gen_step_cuda(const GenStepLayer *layers, int n_layers, const GenStepHead *head) {
    (void)layers, (void)n_layers, (void)head;
    return no_cuda();
}

// dropout.h
#include "kernels/dropout.h"
int dropout_fwd_cuda(const DropoutArgs *a) {
    (void)a;
    return no_cuda();
}
int dropout_bwd_cuda(const DropoutArgs *a) {
    (void)a;
    return no_cuda();
}

// kernels/cuda/comm.cu: the NCCL communicator's stream and events
int comm_cuda_stream_create(void **stream) {
    *stream = NULL;
    return no_cuda();
}
void comm_cuda_stream_destroy(void *stream) { (void)stream; }
int comm_cuda_event_create(void **event) {
    *event = NULL;
    return no_cuda();
}
void comm_cuda_event_destroy(void *event) { (void)event; }
int comm_cuda_event_record(void *event, void *stream) {
    (void)event, (void)stream;
    return no_cuda();
}
int comm_cuda_stream_wait(void *stream, void *event) {
    (void)stream, (void)event;
    return no_cuda();
}
int comm_cuda_stream_sync(void *stream) {
    (void)stream;
    return no_cuda();
}
void *comm_cuda_thread_stream(void) { return NULL; }
