/*
 * comm.h — the communicator of data-parallel training (issue 17): rank, size, a sum
 * all-reduce of a float buffer on the model's device, broadcast, barrier, and a small sum of
 * host doubles (the step's loss and control values). Two backends behind one object:
 *
 *   COMM_BACKEND_CPU   processes on one host sharing a memory region (CommShared): an
 *                      anonymous mapping made before fork (`train --cpu-ranks N`), or a file
 *                      in a folder every rank sees (`mpirun ... --device cpu --rendezvous
 *                      DIR`). The sum is computed in rank order, ((x0 + x1) + x2) + ..., each
 *                      element by one rank, and copied to all: every rank gets the same bits,
 *                      and a run is reproducible whatever the timing.
 *   COMM_BACKEND_NCCL  NCCL on the GPUs, loaded with dlopen at run time (so the binary builds
 *                      and runs without it): $LS_NCCL_LIBRARY, else "libnccl.so.2" through the
 *                      loader's path (LD_LIBRARY_PATH, the system's libraries), else the
 *                      nvidia-nccl wheel that PyTorch installs (site-packages/nvidia/nccl/lib).
 *                      NCCL_NVLS_ENABLE=0 is set before NCCL initialises: NVLink multicast
 *                      stays off (it can take a shared host's GPUs out of service). Collectives
 *                      run on a communication stream of the comm's own; comm_allreduce_start
 *                      orders them after the work queued so far on the calling thread's
 *                      stream (where the model computes), so a bucket of gradients is reduced
 *                      while the backward goes on with earlier layers.
 *
 * Every rank must call the collectives in the same order with the same sizes. A failure of
 * one rank (its process exited) makes the others' CPU collectives return LS_ERR_IO
 * instead of waiting for ever (the launcher or the failing rank marks the region); NCCL ranks
 * are ended by their launcher (`--gpus`) or by mpirun.
 *
 * Tested by tests/unit/test_comm.c (CPU backend: 1, 2, 3 and 4 forked ranks; sums against a
 * serial sum in rank order, bit for bit; sizes across the chunk size; broadcast; barrier;
 * all-gather and neighbour shifts; a rank that dies) and, end to end, tests/cli/test_dp.sh
 * and tests/cli/test_sp.sh; NCCL by bench/gpu_dp.sh and bench/gpu_sp.sh.
 */
#ifndef LS_COMM_H
#define LS_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    COMM_BACKEND_CPU  = 0,
    COMM_BACKEND_NCCL = 1,
} CommBackend;

typedef struct Comm Comm;

/** The memory the CPU ranks share (and the launcher's error slots, one per rank). */
typedef struct CommShared CommShared;

/** Most host doubles one comm_allreduce_host() sums. */
#define COMM_HOST_MAX 16

/** Floats each rank stages per round of the CPU all-reduce (larger buffers go in rounds). */
#define COMM_CPU_CHUNK (1 << 20)

/** NCCL's unique id (ncclUniqueId: 128 opaque bytes made by rank 0, given to every rank). */
typedef struct {
    char bytes[128];
} CommId;

// ---------------------------------------------------------------------------- shared region

/**
 * An anonymous shared mapping for @p size ranks, made by the launcher BEFORE it forks them.
 * @return 0 and *out (unmap with comm_shared_free() in each process), LS_ERR_NOMEM.
 */
int comm_shared_create(CommShared **out, int size) LS_RESULT_USED;

/**
 * The same region as a file @p path in a folder every rank sees (mpirun on one host): rank 0
 * creates it (refusing one that exists: a previous run's, to be removed) and the others wait
 * up to @p timeout_s seconds for it to be ready. @return 0 and *out, LS_ERR_IO (the message
 * names the file), LS_ERR_USAGE (a region made for another size).
 */
int comm_shared_open_file(CommShared **out, const char *path, int rank, int size,
                          double timeout_s) LS_RESULT_USED;

/** Mark the region failed: every waiting and later collective returns LS_ERR_IO naming
 *  @p rank. Safe from the launcher while ranks run. */
void comm_shared_abort(CommShared *sh, int rank);

/** Unmap (in each process); NULL is a no-op. The file of comm_shared_open_file stays. */
void comm_shared_free(CommShared *sh);

/** Record rank @p rank's error line and exit status for the launcher (one line, cut at 1 KB);
 *  @p secondary: the rank failed because another one did (comm_aborted()). */
void comm_shared_set_error(CommShared *sh, int rank, int exit_status, int secondary,
                           const char *line);

/** Rank @p rank's recorded error line, or NULL; *exit_status and *secondary as recorded. */
const char *comm_shared_error(const CommShared *sh, int rank, int *exit_status,
                              int *secondary);

// ---------------------------------------------------------------------------- communicator

/**
 * Rank @p rank of @p size on the CPU, over @p sh (made for @p size ranks).
 * @return 0 and *out (free with comm_free()), LS_ERR_NOMEM, LS_ERR_USAGE (rank or size).
 */
int comm_init_cpu(Comm **out, CommShared *sh, int rank, int size) LS_RESULT_USED;

/**
 * Load NCCL (see the file comment). @return 0 and the version (e.g. 22105 for 2.21.5) in
 * *version when not NULL; LS_ERR_UNSUPPORTED with one line saying where it looked.
 */
int comm_nccl_load(int *version) LS_RESULT_USED;

/** Rank 0's NCCL unique id (loads NCCL). @return 0, LS_ERR_UNSUPPORTED, LS_ERR_CUDA. */
int comm_nccl_unique_id(CommId *id) LS_RESULT_USED;

/**
 * Rank @p rank of @p size through NCCL on CUDA device @p device (made current), all ranks
 * with the same @p id. Blocks until every rank has joined. @return 0 and *out (free with
 * comm_free()), LS_ERR_UNSUPPORTED (no NCCL), LS_ERR_CUDA (NCCL or the runtime failed: the
 * message has NCCL's reason), LS_ERR_NO_CUDA (a CPU-only build).
 */
int comm_init_nccl(Comm **out, const CommId *id, int rank, int size,
                   int device) LS_RESULT_USED;

/** Free; the CPU backend marks its region failed when @p failed is set (so the other ranks
 *  stop waiting). NULL is a no-op. */
void comm_free(Comm *c, int failed);

/** 1 when a collective of @p c failed because another rank had failed. */
int         comm_aborted(const Comm *c);
int         comm_rank(const Comm *c);
int         comm_size(const Comm *c);
CommBackend comm_backend(const Comm *c);

/**
 * In-place sum of @p n floats of @p buf over the ranks, @p buf on the comm's device (host
 * memory for the CPU backend, device memory for NCCL). CPU: done on return. NCCL: queued on
 * the communication stream after everything the calling thread queued so far; the calling
 * thread's stream waits for it at comm_allreduce_wait(). @return 0, LS_ERR_IO (another rank
 * failed), LS_ERR_CUDA.
 */
int comm_allreduce_start(Comm *c, float *buf, int64_t n) LS_RESULT_USED;

/** Make the calling thread's stream wait for every comm_allreduce_start() so far (CPU: 0). */
int comm_allreduce_wait(Comm *c) LS_RESULT_USED;

/** comm_allreduce_start + comm_allreduce_wait. */
int comm_allreduce(Comm *c, float *buf, int64_t n) LS_RESULT_USED;

/**
 * In-place sum of @p n <= COMM_HOST_MAX host doubles, in rank order; returns when done (the
 * NCCL backend stages them through device memory and waits). @return 0, LS_ERR_IO (another
 * rank failed), LS_ERR_CUDA, LS_ERR_USAGE (n too large).
 */
int comm_allreduce_host(Comm *c, double *x, int n) LS_RESULT_USED;

/** Rank @p root's @p n floats of @p buf (the comm's device) into every rank's @p buf; done on
 *  return. @return 0, LS_ERR_IO (another rank failed), LS_ERR_CUDA. */
int comm_broadcast(Comm *c, float *buf, int64_t n, int root) LS_RESULT_USED;

/** Wait until every rank has called it. @return 0, LS_ERR_IO (another rank failed),
 *  LS_ERR_CUDA. */
int comm_barrier(Comm *c) LS_RESULT_USED;

/**
 * In-place all-gather (sequence parallel, models/slice_exchange.h): @p buf holds size slots of
 * @p n floats on the comm's device, slot r at r·n; rank r contributes its slot r and, on
 * return, every slot holds its rank's values on every rank (a copy: the same bits
 * everywhere). NCCL: ncclAllGather on the communication stream, which the calling thread's
 * stream then waits for. @return 0, LS_ERR_IO (another rank failed), LS_ERR_CUDA.
 */
int comm_allgather(Comm *c, float *buf, int64_t n) LS_RESULT_USED;

/**
 * Neighbour shift: rank r's @p n floats at @p send go to rank r + @p step's @p recv
 * (@p step = +1: to the right, −1: to the left). The rank with no sender (rank 0 for +1,
 * the last for −1) leaves @p recv untouched; the rank with no receiver sends nothing. @p send
 * and @p recv must not overlap. NCCL: ncclSend / ncclRecv in one group. @return 0,
 * LS_ERR_IO, LS_ERR_CUDA, LS_ERR_USAGE (step not ±1).
 */
int comm_shift(Comm *c, const float *send, float *recv, int64_t n, int step) LS_RESULT_USED;

// ---------------------------------------------------------------------------- CUDA helpers

/* kernels/cuda/comm.cu (kernels/cuda_none.c without CUDA): the communication stream and the
 * events that order it against the calling thread's stream. Private to kernels/comm.c. */
int  comm_cuda_stream_create(void **stream) LS_RESULT_USED;
void comm_cuda_stream_destroy(void *stream);
int  comm_cuda_event_create(void **event) LS_RESULT_USED;
void comm_cuda_event_destroy(void *event);
/** Record @p event on @p stream (NULL: the calling thread's stream). */
int  comm_cuda_event_record(void *event, void *stream) LS_RESULT_USED;
/** Make @p stream (NULL: the calling thread's) wait for @p event. */
int  comm_cuda_stream_wait(void *stream, void *event) LS_RESULT_USED;
/** Wait on the host for @p stream (NULL: the calling thread's). */
int  comm_cuda_stream_sync(void *stream) LS_RESULT_USED;
/** The calling thread's own stream as a handle (cudaStreamPerThread), for NCCL. */
void *comm_cuda_thread_stream(void);

#ifdef __cplusplus
}
#endif
#endif
