/*
 * comm.c — the communicator (comm.h): the CPU backend over a shared memory region and the
 * NCCL backend through dlopen. Tested by tests/unit/test_comm.c.
 *
 * CPU backend. The region holds a process-shared barrier (a robust mutex and a condition
 * variable, waited on in slices of 200 ms so that a failed run is noticed), one staging row of
 * COMM_CPU_CHUNK floats per rank and a result row. An all-reduce goes in rounds of at most a
 * chunk: every rank copies its part in (barrier), rank r sums the r-th of S slices of the
 * chunk over the ranks in rank order into the result (barrier), every rank copies the result
 * out (barrier, before the next round overwrites the rows). Each element is summed by one rank
 * in one fixed order, so the ranks get equal bits and a rerun the same bits. Three barriers a
 * round: a few microseconds each next to a chunk's memory traffic.
 *
 * NCCL backend. No NCCL header is needed: the handful of types (an opaque communicator, a
 * 128-byte unique id, int enums) are declared below with NCCL's values (nccl.h, stable since
 * 2.0) and the functions are looked up by name.
 */
#include "kernels/comm.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kernels/device.h"

// ---------------------------------------------------------------------------- the region

enum { COMM_MAGIC = 0x4c53434d, ERROR_LINE = 1024 };

typedef struct {
    int  set, exit_status, secondary;
    char line[ERROR_LINE];
} ErrorSlot;

/* The start of the mapping; the rows follow at the offsets it records. */
typedef struct {
    uint32_t        magic;      // written last by the creator: the region is ready
    int32_t         size;
    uint64_t        bytes;
    pthread_mutex_t mutex;
    pthread_cond_t  cond;
    int             arrived;    // ranks in the current barrier
    unsigned        generation; // barriers passed
    int             aborted, failed_rank;
    uint64_t        off_errors, off_host, off_stage, off_result;
} Region;

struct CommShared {
    Region *r;
    size_t  bytes;
};

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

static size_t region_layout(Region *r, int size) {
    size_t at = align64(sizeof(Region));
    r->off_errors = at;
    at = align64(at + (size_t)size * sizeof(ErrorSlot));
    r->off_host = at;
    at = align64(at + (size_t)size * COMM_HOST_MAX * sizeof(double));
    r->off_stage = at;
    at = align64(at + (size_t)size * COMM_CPU_CHUNK * sizeof(float));
    r->off_result = at;
    return align64(at + (size_t)COMM_CPU_CHUNK * sizeof(float));
}

static ErrorSlot *region_errors(const Region *r) {
    return (ErrorSlot *)((char *)r + r->off_errors);
}
static double *region_host(Region *r, int rank) {
    return (double *)((char *)r + r->off_host) + (size_t)rank * COMM_HOST_MAX;
}
static float *region_stage(Region *r, int rank) {
    return (float *)((char *)r + r->off_stage) + (size_t)rank * COMM_CPU_CHUNK;
}
static float *region_result(Region *r) { return (float *)((char *)r + r->off_result); }

static int region_init_sync(Region *r) {
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int rc = pthread_mutexattr_init(&ma);
    if (rc == 0) rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    /* robust: a rank that dies holding the lock does not block the others */
    if (rc == 0) rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (rc == 0) rc = pthread_mutex_init(&r->mutex, &ma);
    pthread_mutexattr_destroy(&ma);
    if (rc == 0) rc = pthread_condattr_init(&ca);
    if (rc == 0) rc = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : ls_error(LS_ERR_IO, "communicator: cannot make a process-shared "
                                  "barrier: %s", strerror(rc));
}

static void region_lock(Region *r) {
    if (pthread_mutex_lock(&r->mutex) == EOWNERDEAD) {
        /* its owner died inside the barrier's few lines: the run has failed */
        r->aborted = 1;
        pthread_mutex_consistent(&r->mutex);
    }
}

int comm_shared_create(CommShared **out, int size) {
    *out = NULL;
    if (size < 1) return ls_error(LS_ERR_USAGE, "communicator: %d ranks", size);
    Region probe = {0};
    size_t bytes = region_layout(&probe, size);
    void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return ls_error(LS_ERR_NOMEM, "communicator: cannot map %zu bytes of shared memory: %s",
                        bytes, strerror(errno));
    Region *r = map;
    *r = probe;
    r->size = size;
    r->bytes = bytes;
    r->failed_rank = -1;
    int status = region_init_sync(r);
    CommShared *sh = status == 0 ? malloc(sizeof *sh) : NULL;
    if (!sh) {
        munmap(map, bytes);
        return status < 0 ? status : ls_error(LS_ERR_NOMEM, "out of memory");
    }
    r->magic = COMM_MAGIC;
    *sh = (CommShared){r, bytes};
    *out = sh;
    return 0;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int comm_shared_open_file(CommShared **out, const char *path, int rank, int size,
                          double timeout_s) {
    *out = NULL;
    Region probe = {0};
    const size_t bytes = region_layout(&probe, size);
    int fd = -1;
    void *map = MAP_FAILED;
    int status = 0;
    if (rank == 0) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            return ls_error(LS_ERR_IO, "%s: cannot create the ranks' shared region: %s%s", path,
                            strerror(errno), errno == EEXIST ? " (left by an earlier run? remove "
                            "it)" : "");
        if (ftruncate(fd, (off_t)bytes) != 0) {
            status = ls_error(LS_ERR_IO, "%s: cannot size it to %zu bytes: %s", path, bytes,
                              strerror(errno));
            goto fail;
        }
        map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            status = ls_error(LS_ERR_IO, "%s: cannot map it: %s", path, strerror(errno));
            goto fail;
        }
        Region *r = map;
        *r = probe;
        r->size = size;
        r->bytes = bytes;
        r->failed_rank = -1;
        if ((status = region_init_sync(r)) < 0) goto fail;
        __atomic_store_n(&r->magic, (uint32_t)COMM_MAGIC, __ATOMIC_RELEASE);
    } else {
        const double t0 = mono_s();
        for (;;) {
            struct stat st;
            if (fd < 0) fd = open(path, O_RDWR);
            if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(Region)) {
                if ((size_t)st.st_size != bytes) {
                    status = ls_error(LS_ERR_USAGE, "%s: made for another number of ranks (%lld "
                                      "bytes, %d ranks need %zu)", path, (long long)st.st_size,
                                      size, bytes);
                    goto fail;
                }
                if (map == MAP_FAILED)
                    map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (map == MAP_FAILED) {
                    status = ls_error(LS_ERR_IO, "%s: cannot map it: %s", path, strerror(errno));
                    goto fail;
                }
                if (__atomic_load_n(&((Region *)map)->magic, __ATOMIC_ACQUIRE) == COMM_MAGIC)
                    break;
            }
            if (mono_s() - t0 > timeout_s) {
                status = ls_error(LS_ERR_IO, "%s: rank %d waited %.0f s for rank 0 to create it",
                                  path, rank, timeout_s);
                goto fail;
            }
            usleep(20000);
        }
    }
    close(fd);
    fd = -1;
    CommShared *sh = malloc(sizeof *sh);
    if (!sh) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *sh = (CommShared){map, bytes};
    *out = sh;
    return 0;
fail:
    if (map != MAP_FAILED) munmap(map, bytes);
    if (fd >= 0) close(fd);
    return status;
}

void comm_shared_abort(CommShared *sh, int rank) {
    if (!sh) return;
    Region *r = sh->r;
    region_lock(r);
    if (!r->aborted) r->failed_rank = rank;
    r->aborted = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mutex);
}

void comm_shared_free(CommShared *sh) {
    if (!sh) return;
    munmap(sh->r, sh->bytes);
    free(sh);
}

void comm_shared_set_error(CommShared *sh, int rank, int exit_status, int secondary,
                           const char *line) {
    if (!sh || rank < 0 || rank >= sh->r->size) return;
    ErrorSlot *e = &region_errors(sh->r)[rank];
    snprintf(e->line, sizeof e->line, "%s", line ? line : "");
    char *nl = strchr(e->line, '\n');
    if (nl) *nl = '\0';
    e->exit_status = exit_status;
    e->secondary = secondary;
    e->set = 1;
}

const char *comm_shared_error(const CommShared *sh, int rank, int *exit_status,
                              int *secondary) {
    if (!sh || rank < 0 || rank >= sh->r->size) return NULL;
    const ErrorSlot *e = &region_errors(sh->r)[rank];
    if (!e->set) return NULL;
    if (exit_status) *exit_status = e->exit_status;
    if (secondary) *secondary = e->secondary;
    return e->line;
}

// ---------------------------------------------------------------------------- NCCL, loaded

typedef int   NcclResult;   // ncclResult_t: 0 = ncclSuccess
typedef void *NcclComm;     // ncclComm_t
enum { NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8, NCCL_SUM = 0 };

static struct {
    int   tried, ok, version;
    void *lib;
    char  where[512];       // what was tried, for the error line
    NcclResult (*get_version)(int *);
    NcclResult (*get_unique_id)(CommId *);
    NcclResult (*comm_init_rank)(NcclComm *, int, CommId, int);
    NcclResult (*comm_destroy)(NcclComm);
    NcclResult (*comm_abort)(NcclComm);
    NcclResult (*all_reduce)(const void *, void *, size_t, int, int, NcclComm, void *);
    NcclResult (*broadcast)(const void *, void *, size_t, int, int, NcclComm, void *);
    /* sequence parallel only (NCCL >= 2.7): looked up, not required, so that data parallel
     * still runs on an older NCCL; a call without them says so */
    NcclResult (*all_gather)(const void *, void *, size_t, int, NcclComm, void *);
    NcclResult (*send)(const void *, size_t, int, int, NcclComm, void *);
    NcclResult (*recv)(void *, size_t, int, int, NcclComm, void *);
    NcclResult (*group_start)(void);
    NcclResult (*group_end)(void);
    const char *(*error_string)(NcclResult);
} nccl;

static void *nccl_try(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) ls_log_debug("NCCL: loaded %s", path);
    return h;
}

/* The nvidia-nccl wheel PyTorch installs: site-packages/nvidia/nccl/lib/libnccl.so.2 of a
 * virtual environment, the user's or the system's Pythons. */
static void *nccl_try_wheels(void) {
    static const char *const patterns[] = {
        "%s/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2", // $VIRTUAL_ENV
        "%s/.local/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2", // $HOME
        "/usr/local/lib/python3*/dist-packages/nvidia/nccl/lib/libnccl.so.2",
        "/usr/local/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2",
        "/usr/lib/python3/dist-packages/nvidia/nccl/lib/libnccl.so.2",
        "/opt/conda/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2",
    };
    const char *venv = getenv("VIRTUAL_ENV"), *home = getenv("HOME");
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        const char *base = i == 0 ? venv : i == 1 ? home : "";
        if (!base) continue;
        char pattern[512];
        snprintf(pattern, sizeof pattern, patterns[i], base);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) != 0) continue;
        void *h = NULL;
        for (size_t k = g.gl_pathc; k-- > 0 && !h;) h = nccl_try(g.gl_pathv[k]); // newest first
        globfree(&g);
        if (h) return h;
    }
    return NULL;
}

#define NCCL_SYM(field, name)                                                                  \
    do {                                                                                       \
        *(void **)&nccl.field = dlsym(nccl.lib, name);                                         \
        if (!nccl.field) missing = name;                                                       \
    } while (0)

int comm_nccl_load(int *version) {
    if (!nccl.tried) {
        nccl.tried = 1;
        const char *explicit_path = getenv("LS_NCCL_LIBRARY");
        if (explicit_path && *explicit_path) {
            nccl.lib = nccl_try(explicit_path);
            snprintf(nccl.where, sizeof nccl.where, "LS_NCCL_LIBRARY=%s: %s", explicit_path,
                     nccl.lib ? "" : dlerror());
        } else {
            nccl.lib = nccl_try("libnccl.so.2");
            if (!nccl.lib) nccl.lib = nccl_try_wheels();
            snprintf(nccl.where, sizeof nccl.where, "looked for libnccl.so.2 in "
                     "LD_LIBRARY_PATH, the system's libraries and PyTorch's nvidia-nccl wheel");
        }
        const char *missing = NULL;
        if (nccl.lib) {
            NCCL_SYM(get_version, "ncclGetVersion");
            NCCL_SYM(get_unique_id, "ncclGetUniqueId");
            NCCL_SYM(comm_init_rank, "ncclCommInitRank");
            NCCL_SYM(comm_destroy, "ncclCommDestroy");
            NCCL_SYM(comm_abort, "ncclCommAbort");
            NCCL_SYM(all_reduce, "ncclAllReduce");
            NCCL_SYM(broadcast, "ncclBroadcast");
            NCCL_SYM(error_string, "ncclGetErrorString");
            *(void **)&nccl.all_gather = dlsym(nccl.lib, "ncclAllGather");
            *(void **)&nccl.send = dlsym(nccl.lib, "ncclSend");
            *(void **)&nccl.recv = dlsym(nccl.lib, "ncclRecv");
            *(void **)&nccl.group_start = dlsym(nccl.lib, "ncclGroupStart");
            *(void **)&nccl.group_end = dlsym(nccl.lib, "ncclGroupEnd");
            if (missing) {
                snprintf(nccl.where, sizeof nccl.where, "the NCCL library found has no %s",
                         missing);
            } else {
                nccl.ok = 1;
                nccl.get_version(&nccl.version);
            }
        }
    }
    if (!nccl.ok)
        return ls_error(LS_ERR_UNSUPPORTED, "NCCL is needed for training on several GPUs and "
                        "was not found (%s); install it (Debian: libnccl2; or pip install "
                        "nvidia-nccl-cu12) or set LS_NCCL_LIBRARY=/path/to/libnccl.so.2",
                        nccl.where);
    if (version) *version = nccl.version;
    return 0;
}

static int nccl_fail(const char *what, NcclResult rc) {
    return ls_error(LS_ERR_CUDA, "NCCL: %s failed: %s (rerun with NCCL_DEBUG=WARN for NCCL's "
                    "own reason)", what, nccl.error_string ? nccl.error_string(rc) : "?");
}

int comm_nccl_unique_id(CommId *id) {
    int status = comm_nccl_load(NULL);
    if (status < 0) return status;
    NcclResult rc = nccl.get_unique_id(id);
    return rc == 0 ? 0 : nccl_fail("ncclGetUniqueId", rc);
}

// ---------------------------------------------------------------------------- the communicator

struct Comm {
    CommBackend backend;
    int         rank, size, aborted;
    /* CPU */
    CommShared *sh;
    /* NCCL */
    NcclComm    nc;
    void       *stream;          // the communication stream
    void       *ev_compute;      // recorded on the caller's stream before a collective
    void       *ev_comm;         // recorded on the communication stream for the caller to wait
    double     *dev_host;        // COMM_HOST_MAX doubles on the device (host sums)
    int         pending;         // collectives started and not yet waited for
};

int comm_aborted(const Comm *c) { return c && c->aborted; }
int comm_rank(const Comm *c) { return c->rank; }
int comm_size(const Comm *c) { return c->size; }
CommBackend comm_backend(const Comm *c) { return c->backend; }

int comm_init_cpu(Comm **out, CommShared *sh, int rank, int size) {
    *out = NULL;
    if (!sh || size < 1 || sh->r->size != size || rank < 0 || rank >= size)
        return ls_error(LS_ERR_USAGE, "communicator: rank %d of %d does not fit the shared "
                        "region (%d ranks)", rank, size, sh ? sh->r->size : 0);
    Comm *c = calloc(1, sizeof *c);
    if (!c) return ls_error(LS_ERR_NOMEM, "out of memory");
    *c = (Comm){.backend = COMM_BACKEND_CPU, .rank = rank, .size = size, .sh = sh};
    *out = c;
    return 0;
}

int comm_init_nccl(Comm **out, const CommId *id, int rank, int size, int device) {
    *out = NULL;
    int status = comm_nccl_load(NULL);
    if (status < 0) return status;
    if ((status = device_cuda_set(device)) < 0) return status;
    Comm *c = calloc(1, sizeof *c);
    if (!c) return ls_error(LS_ERR_NOMEM, "out of memory");
    *c = (Comm){.backend = COMM_BACKEND_NCCL, .rank = rank, .size = size};
    /* never NVLink multicast (NVLS): it can take a shared host's GPUs out of service */
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    if ((status = comm_cuda_stream_create(&c->stream)) < 0 ||
        (status = comm_cuda_event_create(&c->ev_compute)) < 0 ||
        (status = comm_cuda_event_create(&c->ev_comm)) < 0 ||
        (status = device_cuda_alloc((void **)&c->dev_host, COMM_HOST_MAX * sizeof(double),
                                    "")) < 0)
        goto fail;
    NcclResult rc = nccl.comm_init_rank(&c->nc, size, *id, rank);
    if (rc != 0) {
        c->nc = NULL;
        status = nccl_fail("ncclCommInitRank", rc);
        ls_error_prefix("rank %d of %d on cuda:%d", rank, size, device);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    comm_free(c, 1);
    return status;
}

void comm_free(Comm *c, int failed) {
    if (!c) return;
    if (c->backend == COMM_BACKEND_CPU) {
        if (failed && !c->aborted) comm_shared_abort(c->sh, c->rank);
    } else {
        if (c->nc) (failed ? nccl.comm_abort : nccl.comm_destroy)(c->nc);
        comm_cuda_event_destroy(c->ev_compute);
        comm_cuda_event_destroy(c->ev_comm);
        comm_cuda_stream_destroy(c->stream);
        device_cuda_free(c->dev_host);
    }
    free(c);
}

// ---------------------------------------------------------------------------- CPU collectives

static int cpu_barrier(Comm *c) {
    Region *r = c->sh->r;
    region_lock(r);
    unsigned gen = r->generation;
    if (!r->aborted && ++r->arrived == r->size) {
        r->arrived = 0;
        r->generation++;
        pthread_cond_broadcast(&r->cond);
    }
    while (gen == r->generation && !r->aborted) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&r->cond, &r->mutex, &ts) == EOWNERDEAD) {
            r->aborted = 1;
            pthread_mutex_consistent(&r->mutex);
        }
    }
    int aborted = gen == r->generation && r->aborted, failed = r->failed_rank;
    pthread_mutex_unlock(&r->mutex);
    if (!aborted) return 0;
    c->aborted = 1;
    if (failed >= 0)
        return ls_error(LS_ERR_IO, "rank %d: stopped because rank %d failed", c->rank, failed);
    return ls_error(LS_ERR_IO, "rank %d: stopped because another rank failed", c->rank);
}

static int cpu_allreduce(Comm *c, float *buf, int64_t n) {
    Region *r = c->sh->r;
    const int S = c->size;
    int status;
    for (int64_t off = 0; off < n; off += COMM_CPU_CHUNK) {
        const int64_t m = n - off < COMM_CPU_CHUNK ? n - off : COMM_CPU_CHUNK;
        memcpy(region_stage(r, c->rank), buf + off, (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
        const int64_t lo = m * c->rank / S, hi = m * (c->rank + 1) / S;
        float *res = region_result(r);
        for (int64_t i = lo; i < hi; i++) {
            float acc = region_stage(r, 0)[i];
            for (int k = 1; k < S; k++) acc += region_stage(r, k)[i]; // rank order
            res[i] = acc;
        }
        if ((status = cpu_barrier(c)) < 0) return status;
        memcpy(buf + off, res, (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
    }
    return 0;
}

static int cpu_broadcast(Comm *c, float *buf, int64_t n, int root) {
    Region *r = c->sh->r;
    int status;
    for (int64_t off = 0; off < n; off += COMM_CPU_CHUNK) {
        const int64_t m = n - off < COMM_CPU_CHUNK ? n - off : COMM_CPU_CHUNK;
        if (c->rank == root) memcpy(region_result(r), buf + off, (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
        if (c->rank != root) memcpy(buf + off, region_result(r), (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
    }
    return 0;
}

static int cpu_allreduce_host(Comm *c, double *x, int n) {
    Region *r = c->sh->r;
    memcpy(region_host(r, c->rank), x, (size_t)n * sizeof *x);
    int status = cpu_barrier(c);
    if (status < 0) return status;
    for (int i = 0; i < n; i++) {
        double acc = region_host(r, 0)[i];
        for (int k = 1; k < c->size; k++) acc += region_host(r, k)[i];
        x[i] = acc;
    }
    return cpu_barrier(c); // the rows are read before anyone writes them again
}

/* All-gather in place: each rank stages its slot (in rounds of a chunk), then copies every
 * other rank's stage into its slots. Two barriers a round: the stages are read before they
 * are written again. */
static int cpu_allgather(Comm *c, float *buf, int64_t n) {
    Region *r = c->sh->r;
    int status;
    for (int64_t off = 0; off < n; off += COMM_CPU_CHUNK) {
        const int64_t m = n - off < COMM_CPU_CHUNK ? n - off : COMM_CPU_CHUNK;
        memcpy(region_stage(r, c->rank), buf + (int64_t)c->rank * n + off,
               (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
        for (int k = 0; k < c->size; k++)
            if (k != c->rank)
                memcpy(buf + (int64_t)k * n + off, region_stage(r, k), (size_t)m * sizeof *buf);
        if ((status = cpu_barrier(c)) < 0) return status;
    }
    return 0;
}

/* Shift by step: stage send, then read the stage of rank − step into recv. */
static int cpu_shift(Comm *c, const float *send, float *recv, int64_t n, int step) {
    Region *r = c->sh->r;
    const int from = c->rank - step;
    int status;
    for (int64_t off = 0; off < n; off += COMM_CPU_CHUNK) {
        const int64_t m = n - off < COMM_CPU_CHUNK ? n - off : COMM_CPU_CHUNK;
        memcpy(region_stage(r, c->rank), send + off, (size_t)m * sizeof *send);
        if ((status = cpu_barrier(c)) < 0) return status;
        if (from >= 0 && from < c->size)
            memcpy(recv + off, region_stage(r, from), (size_t)m * sizeof *recv);
        if ((status = cpu_barrier(c)) < 0) return status;
    }
    return 0;
}

// ---------------------------------------------------------------------------- collectives

/* The communication stream starts after what the caller's stream has queued so far. */
static int nccl_follow_caller(Comm *c) {
    int status = comm_cuda_event_record(c->ev_compute, NULL);
    return status < 0 ? status : comm_cuda_stream_wait(c->stream, c->ev_compute);
}

int comm_allreduce_start(Comm *c, float *buf, int64_t n) {
    if (n <= 0) return 0;
    if (c->backend == COMM_BACKEND_CPU) return c->size == 1 ? 0 : cpu_allreduce(c, buf, n);
    int status = nccl_follow_caller(c);
    if (status < 0) return status;
    NcclResult rc = nccl.all_reduce(buf, buf, (size_t)n, NCCL_FLOAT32, NCCL_SUM, c->nc,
                                    c->stream);
    if (rc != 0) return nccl_fail("ncclAllReduce", rc);
    c->pending = 1;
    return 0;
}

int comm_allreduce_wait(Comm *c) {
    if (c->backend == COMM_BACKEND_CPU || !c->pending) return 0;
    int status = comm_cuda_event_record(c->ev_comm, c->stream);
    if (status == 0) status = comm_cuda_stream_wait(NULL, c->ev_comm);
    if (status == 0) c->pending = 0;
    return status;
}

int comm_allreduce(Comm *c, float *buf, int64_t n) {
    int status = comm_allreduce_start(c, buf, n);
    return status < 0 ? status : comm_allreduce_wait(c);
}

int comm_allreduce_host(Comm *c, double *x, int n) {
    if (n < 0 || n > COMM_HOST_MAX)
        return ls_error(LS_ERR_USAGE, "comm_allreduce_host: %d values, at most %d", n,
                        COMM_HOST_MAX);
    if (n == 0) return 0;
    if (c->backend == COMM_BACKEND_CPU) return c->size == 1 ? 0 : cpu_allreduce_host(c, x, n);
    int status = device_cuda_copy(c->dev_host, x, (size_t)n * sizeof *x, DEVICE_COPY_H2D);
    if (status == 0) status = nccl_follow_caller(c);
    if (status < 0) return status;
    NcclResult rc = nccl.all_reduce(c->dev_host, c->dev_host, (size_t)n, NCCL_FLOAT64, NCCL_SUM,
                                    c->nc, c->stream);
    if (rc != 0) return nccl_fail("ncclAllReduce", rc);
    if ((status = comm_cuda_stream_sync(c->stream)) < 0) return status;
    return device_cuda_copy(x, c->dev_host, (size_t)n * sizeof *x, DEVICE_COPY_D2H);
}

int comm_broadcast(Comm *c, float *buf, int64_t n, int root) {
    if (root < 0 || root >= c->size)
        return ls_error(LS_ERR_USAGE, "comm_broadcast: root %d of %d ranks", root, c->size);
    if (n <= 0 || c->size == 1) return 0;
    if (c->backend == COMM_BACKEND_CPU) return cpu_broadcast(c, buf, n, root);
    int status = nccl_follow_caller(c);
    if (status < 0) return status;
    NcclResult rc = nccl.broadcast(buf, buf, (size_t)n, NCCL_FLOAT32, root, c->nc, c->stream);
    if (rc != 0) return nccl_fail("ncclBroadcast", rc);
    return comm_cuda_stream_sync(c->stream);
}

int comm_barrier(Comm *c) {
    if (c->size == 1) return 0;
    if (c->backend == COMM_BACKEND_CPU) return cpu_barrier(c);
    double zero = 0;
    return comm_allreduce_host(c, &zero, 1);
}

/* The calling thread's stream waits for what the communication stream has queued. */
static int nccl_caller_follows(Comm *c) {
    int status = comm_cuda_event_record(c->ev_comm, c->stream);
    if (status == 0) status = comm_cuda_stream_wait(NULL, c->ev_comm);
    if (status == 0) c->pending = 0;
    return status;
}

static int nccl_need(const void *fn, const char *name) {
    if (fn) return 0;
    return ls_error(LS_ERR_UNSUPPORTED, "sequence parallel needs %s, which the NCCL library "
                    "loaded (version %d) lacks: NCCL 2.7 or later", name, nccl.version);
}

int comm_allgather(Comm *c, float *buf, int64_t n) {
    if (n <= 0 || c->size == 1) return 0;
    if (c->backend == COMM_BACKEND_CPU) return cpu_allgather(c, buf, n);
    int status = nccl_need((const void *)nccl.all_gather, "ncclAllGather");
    if (status == 0) status = nccl_follow_caller(c);
    if (status < 0) return status;
    /* in place: NCCL allows sendbuff == recvbuff + rank·sendcount */
    NcclResult rc = nccl.all_gather(buf + (int64_t)c->rank * n, buf, (size_t)n, NCCL_FLOAT32,
                                    c->nc, c->stream);
    if (rc != 0) return nccl_fail("ncclAllGather", rc);
    return nccl_caller_follows(c);
}

int comm_shift(Comm *c, const float *send, float *recv, int64_t n, int step) {
    if (step != 1 && step != -1)
        return ls_error(LS_ERR_USAGE, "comm_shift: step %d (must be 1 or -1)", step);
    if (n <= 0 || c->size == 1) return 0;
    if (c->backend == COMM_BACKEND_CPU) return cpu_shift(c, send, recv, n, step);
    int status = nccl_need((const void *)nccl.send, "ncclSend");
    if (status == 0) status = nccl_need((const void *)nccl.group_start, "ncclGroupStart");
    if (status == 0) status = nccl_follow_caller(c);
    if (status < 0) return status;
    const int to = c->rank + step, from = c->rank - step;
    NcclResult rc = nccl.group_start();
    if (rc != 0) return nccl_fail("ncclGroupStart", rc);
    if (to >= 0 && to < c->size)
        rc = nccl.send(send, (size_t)n, NCCL_FLOAT32, to, c->nc, c->stream);
    if (rc == 0 && from >= 0 && from < c->size)
        rc = nccl.recv(recv, (size_t)n, NCCL_FLOAT32, from, c->nc, c->stream);
    NcclResult rc_end = nccl.group_end();
    if (rc != 0) return nccl_fail("ncclSend/ncclRecv", rc);
    if (rc_end != 0) return nccl_fail("ncclGroupEnd", rc_end);
    return nccl_caller_follows(c);
}
