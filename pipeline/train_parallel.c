/*
 * train_parallel.c — launching data-parallel training (trainer.h "data parallel"; the step
 * itself is in trainer.c): `train --gpus N` and `train --cpu-ranks N` fork N ranks of this
 * process on this host; under Open MPI's `mpirun -np N longscan train ...` each process is a
 * rank already (OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK). Each rank makes its
 * communicator (kernels/comm.h) and runs trainer_run(). docs/parallel.md "Data parallel".
 *
 * Forked ranks. The launcher must not initialise CUDA itself (a forked child could not use
 * it): a probe child counts the GPUs and loads NCCL; then rank 0 makes NCCL's unique id and
 * hands it to the others through one pipe each. The launcher shares a memory region with the
 * ranks (the CPU backend's, and an error slot per rank): a rank that fails writes its error
 * line there instead of on stderr, the launcher marks the region failed (the CPU ranks' waits
 * end) and, after a grace period, kills the ranks still running (NCCL's waits do not end),
 * then prints one line: that of the lowest rank that failed on its own rather than because
 * another one did.
 *
 * mpirun. Nothing of MPI is linked. NCCL's unique id goes through a file in --rendezvous DIR
 * (a folder every rank sees), written by rank 0 (a temporary renamed into place) and polled
 * for by the others; on the CPU (--device cpu) the ranks share a region in a file there. The
 * files are named after Open MPI's job (PMIX_NAMESPACE or OMPI_MCA_ess_base_jobid) and
 * removed by rank 0 at the end of the run. Each rank prints its own error line; ranks
 * other than 0 stay silent when they stopped because another one failed.
 *
 * Tested by tests/cli/test_dp.sh (CPU ranks, forked and under a simulated mpirun
 * environment; the option errors); the GPU path by bench/gpu_dp.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "pipeline/trainer.h"

enum { MAX_RANKS = 1024, GRACE_S = 10 };

static const char *env_job_key(void) {
    const char *keys[] = {"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = getenv(keys[i]);
        if (v && *v) return v;
    }
    return "run";
}

static int env_int(const char *name, int *out) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < 0 || x > MAX_RANKS * 64)
        return ls_error(LS_ERR_USAGE, "environment %s=%s: not a rank number", name, v);
    *out = (int)x;
    return 1;
}

int train_parallel_wanted(const TrainOptions *opt) {
    return opt->gpus > 0 || opt->cpu_ranks > 0 || opt->rendezvous ||
           getenv("OMPI_COMM_WORLD_SIZE") != NULL;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One error line as the CLI prints it. */
static void error_line(char *buf, size_t size) {
    snprintf(buf, size, "longscan train: %s", ls_error_message());
}

static int exit_status_of(int code) {
    return (code == LS_ERR_USAGE || code == LS_ERR_NOT_READY) ? EXIT_USAGE : EXIT_FAILURE_;
}

// ---------------------------------------------------------------------------- the GPU probe

typedef struct {
    int  status, count, nccl_status, nccl_version;
    char message[512], nccl_message[512];
} Probe;

/* GPUs visible and NCCL, found by a child so that this process never touches CUDA. */
static int probe_gpus(Probe *p) {
    int fd[2];
    *p = (Probe){0};
    if (pipe(fd) != 0) return ls_error(LS_ERR_IO, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return ls_error(LS_ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        Probe q = {0};
        q.status = device_cuda_count(&q.count);
        if (q.status < 0) snprintf(q.message, sizeof q.message, "%s", ls_error_message());
        q.nccl_status = comm_nccl_load(&q.nccl_version);
        if (q.nccl_status < 0) snprintf(q.nccl_message, sizeof q.nccl_message, "%s",
                                        ls_error_message());
        ssize_t w = write(fd[1], &q, sizeof q);
        _exit(w == (ssize_t)sizeof q ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = 0, r;
    while (got < (ssize_t)sizeof *p && (r = read(fd[0], (char *)p + got, sizeof *p - got)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        got += r;
    }
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (got != (ssize_t)sizeof *p)
        return ls_error(LS_ERR_CUDA, "--gpus: the process counting the GPUs failed");
    return 0;
}

// ---------------------------------------------------------------------------- option checks

static int check_options(const TrainOptions *opt, int mpi) {
    const CommonOptions *c = &opt->common;
    if (opt->gpus > 0 && opt->cpu_ranks > 0)
        return ls_error(LS_ERR_USAGE, "--gpus and --cpu-ranks: give one of them");
    if (mpi && (opt->gpus > 0 || opt->cpu_ranks > 0))
        return ls_error(LS_ERR_USAGE, "--%s: under mpirun every process is one rank already; "
                        "leave it out (mpirun -np N sets the number of ranks)",
                        opt->gpus > 0 ? "gpus" : "cpu-ranks");
    if (!mpi && opt->rendezvous)
        return ls_error(LS_ERR_USAGE, "--rendezvous %s: only for ranks started by mpirun "
                        "(--gpus and --cpu-ranks meet through pipes)", opt->rendezvous);
    if (opt->gpus > 0 && !c->device_auto &&
        (c->device.kind != DEVICE_CUDA || c->device.ordinal != 0))
        return ls_error(LS_ERR_USAGE, "--gpus %d runs one process on each of cuda:0 .. "
                        "cuda:%d; %s", opt->gpus, opt->gpus - 1,
                        c->device.kind == DEVICE_CPU ? "on the CPU use --cpu-ranks N"
                        : "leave --device out (CUDA_VISIBLE_DEVICES chooses the GPUs)");
    const InputSpec *specs[2] = {&opt->train, &opt->valid};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < specs[s]->n_sources; i++)
            if (strcmp(specs[s]->sources[i], "-") == 0 ||
                strcmp(specs[s]->sources[i], "/dev/stdin") == 0)
                return ls_error(LS_ERR_USAGE, "--%s %s: every rank reads the data itself, and "
                                "standard input can be read once; give a file",
                                s ? "valid" : "data", specs[s]->sources[i]);
    if (opt->seq_parallel && c->seq_slices > 1)
        return ls_error(LS_ERR_USAGE, "--seq-slices %lld with --seq-parallel: the ranks are the "
                        "slices (one a rank); leave --seq-slices out", (long long)c->seq_slices);
    if (opt->cpu_ranks > 0 && !c->device_auto && c->device.kind != DEVICE_CPU)
        return ls_error(LS_ERR_USAGE, "--cpu-ranks %d runs on the CPU; with --device %s use "
                        "--gpus N", opt->cpu_ranks, "cuda");
    return 0;
}

static int check_batch(const TrainOptions *opt, int size) {
    if (size > 1 && !opt->seq_parallel && opt->batch_size % size != 0)
        return ls_error(LS_ERR_USAGE, "--batch-size %lld is the global batch, split evenly over "
                        "%d ranks: give a multiple of %d", (long long)opt->batch_size, size,
                        size);
    return 0;
}

// ---------------------------------------------------------------------------- a rank

/* This process as rank @p rank: settle its device, make its communicator, train.
 * @return 0, 130 or a negative LS_ERR_* (message set); *secondary: failed because another
 * rank did. */
static int rank_train(TrainOptions *opt, const char *argv_json, Comm **comm_out, int *secondary,
                      int rank, int size, CommShared *sh, const CommId *id) {
    int status;
    *secondary = 0;
    if (rank > 0 && opt->common.verbosity > 0) opt->common.verbosity = 0; // rank 0 reports
    cli_common_apply(&opt->common);
    if ((status = cli_resolve_device(&opt->common)) < 0) return status;
    Comm *comm = NULL;
    if (opt->common.device.kind == DEVICE_CPU) status = comm_init_cpu(&comm, sh, rank, size);
    else status = comm_init_nccl(&comm, id, rank, size, opt->common.device.ordinal);
    if (status < 0) return status;
    *comm_out = comm;
    opt->comm = comm;
    status = trainer_run(opt, argv_json);
    if (status < 0) *secondary = comm_aborted(comm);
    return status;
}

/* Read exactly @p n bytes (EOF early: 0). */
static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

// ---------------------------------------------------------------------------- forked ranks

static pid_t child_pids[MAX_RANKS];
static int   n_children;

static void forward_signal(int sig) {
    for (int i = 0; i < n_children; i++)
        if (child_pids[i] > 0) kill(child_pids[i], sig);
}

static int run_forked(TrainOptions *opt, const char *argv_json) {
    const int gpu = opt->gpus > 0, N = gpu ? opt->gpus : opt->cpu_ranks;
    CommShared *sh = NULL;
    int status, (*pipes)[2] = NULL;
    if ((status = check_batch(opt, N)) < 0) return cli_fail("train", status);
    if (gpu) {
        Probe p;
        if ((status = probe_gpus(&p)) < 0) return cli_fail("train", status);
        if (p.status == LS_ERR_NO_CUDA) { // "built without CUDA ..."
            ls_error(p.status, "--gpus %d: %s", N, p.message);
            return cli_fail("train", p.status);
        }
        if (p.status < 0) { /* the runtime's reason, without the call site (as --device) */
            const char *last = strrchr(p.message, ':');
            ls_error(LS_ERR_NO_CUDA, "--gpus %d: no GPU is visible (CUDA: %s); on the CPU use "
                     "--cpu-ranks N", N, last && last[1] ? last + 2 : p.message);
            return cli_fail("train", LS_ERR_NO_CUDA);
        }
        if (p.count < N) {
            status = ls_error(LS_ERR_USAGE, "--gpus %d: %s GPU%s visible%s", N,
                              p.count ? "only" : "no", p.count == 1 ? " is" : "s are",
                              p.count ? "" : " (use --cpu-ranks N on the CPU)");
            if (p.count) {
                char more[64];
                snprintf(more, sizeof more, " (%d: cuda:0 to cuda:%d)", p.count, p.count - 1);
                status = ls_error(LS_ERR_USAGE, "--gpus %d: only %d GPU%s visible%s", N,
                                  p.count, p.count == 1 ? " is" : "s are", p.count > 1 ? more : "");
            }
            return cli_fail("train", status);
        }
        if (p.nccl_status < 0) {
            ls_error(p.nccl_status, "--gpus %d: %s", N, p.nccl_message);
            return cli_fail("train", p.nccl_status);
        }
    } else {
        opt->common.device = (Device){DEVICE_CPU, 0};
        opt->common.device_auto = 0;
        /* the cores are shared: each rank gets its part (results do not depend on it) */
        int threads = opt->common.threads > 0 ? opt->common.threads
                                              : (int)sysconf(_SC_NPROCESSORS_ONLN);
        opt->common.threads = threads / N > 0 ? threads / N : 1;
    }
    if ((status = comm_shared_create(&sh, N)) < 0) return cli_fail("train", status);
    if (gpu && !(pipes = calloc((size_t)N, sizeof *pipes))) {
        comm_shared_free(sh);
        return cli_fail("train", ls_error(LS_ERR_NOMEM, "out of memory"));
    }
    for (int r = 1; gpu && r < N; r++) {
        if (pipe(pipes[r]) != 0) {
            comm_shared_free(sh);
            return cli_fail("train", ls_error(LS_ERR_IO, "pipe: %s", strerror(errno)));
        }
    }
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    fflush(stdout);
    fflush(stderr);
    n_children = 0;
    for (int r = 0; r < N; r++) {
        pid_t pid = fork();
        if (pid < 0) {
            status = ls_error(LS_ERR_IO, "fork of rank %d: %s", r, strerror(errno));
            comm_shared_abort(sh, -1);
            forward_signal(SIGKILL);
            break;
        }
        if (pid > 0) {
            child_pids[n_children++] = pid;
            continue;
        }
        /* rank r */
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        n_children = 0;
        CommId id = {{0}};
        int secondary = 0;
        Comm *comm = NULL;
        status = 0;
        if (gpu) {
            opt->common.device = (Device){DEVICE_CUDA, r};
            opt->common.device_auto = 0;
            for (int k = 1; k < N; k++) {
                close(pipes[k][r == 0 ? 0 : 1]);
                if (r != 0 && k != r) close(pipes[k][0]);
            }
            if (r == 0) {
                status = device_cuda_set(0);
                if (status == 0) status = comm_nccl_unique_id(&id);
                for (int k = 1; k < N && status == 0; k++)
                    if (write(pipes[k][1], &id, sizeof id) != (ssize_t)sizeof id)
                        status = ls_error(LS_ERR_IO, "handing NCCL's id to rank %d: %s", k,
                                          strerror(errno));
                for (int k = 1; k < N; k++) close(pipes[k][1]);
            } else if (!read_full(pipes[r][0], &id, sizeof id)) {
                status = ls_error(LS_ERR_IO, "rank %d: rank 0 failed before handing over "
                                  "NCCL's id", r);
                secondary = 1;
            }
        }
        if (status == 0)
            status = rank_train(opt, argv_json, &comm, &secondary, r, N, sh, &id);
        int code = status == 130 ? 130 : status < 0 ? exit_status_of(status) : 0;
        if (status < 0) {
            char line[1024];
            error_line(line, sizeof line);
            comm_shared_set_error(sh, r, code, secondary, line);
        }
        comm_free(comm, status < 0);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    for (int r = 1; gpu && r < N; r++) close(pipes[r][0]), close(pipes[r][1]);
    free(pipes);
    /* wait for the ranks; after the first failure, the others get GRACE_S seconds to end */
    int codes[MAX_RANKS], alive = n_children, first_fail = -1;
    for (int r = 0; r < N; r++) codes[r] = -1;
    double fail_at = 0;
    while (alive > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, first_fail >= 0 ? WNOHANG : 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pid == 0) {
            if (mono_s() - fail_at > GRACE_S) forward_signal(SIGKILL);
            usleep(50000);
            continue;
        }
        int r = 0;
        while (r < n_children && child_pids[r] != pid) r++;
        if (r == n_children) continue;
        child_pids[r] = 0;
        alive--;
        codes[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (codes[r] != 0 && codes[r] != 130 && first_fail < 0) {
            first_fail = r;
            fail_at = mono_s();
            comm_shared_abort(sh, r);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    int exit_code = 0;
    if (status < 0) {
        exit_code = cli_fail("train", status);
    } else if (first_fail >= 0) {
        /* one line: the lowest rank that failed on its own, else the first to fail */
        int pick = -1, code = 0, secondary = 0;
        for (int r = 0; r < N && pick < 0; r++)
            if (comm_shared_error(sh, r, &code, &secondary) && !secondary) pick = r;
        if (pick < 0 && comm_shared_error(sh, first_fail, &code, &secondary)) pick = first_fail;
        fflush(stdout);
        if (pick >= 0) {
            fprintf(stderr, "%s\n", comm_shared_error(sh, pick, &code, &secondary));
            exit_code = code;
        } else {
            fprintf(stderr, "longscan train: rank %d ended with %s %d\n", first_fail,
                    codes[first_fail] > 128 ? "signal" : "exit status",
                    codes[first_fail] > 128 ? codes[first_fail] - 128 : codes[first_fail]);
            exit_code = EXIT_FAILURE_;
        }
    } else {
        for (int r = 0; r < N; r++)
            if (codes[r] == 130) exit_code = 130;
    }
    comm_shared_free(sh);
    return exit_code;
}

// ---------------------------------------------------------------------------- mpirun

/* NCCL's unique id through a file in the rendezvous folder (rank 0 writes, others poll). */
static int mpi_exchange_id(const char *dir, int rank, CommId *id) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/longscan-%s.nccl-id", dir, env_job_key());
    if (rank == 0) {
        struct stat st;
        if (stat(path, &st) == 0)
            return ls_error(LS_ERR_IO, "%s: exists (left by an earlier run? remove it)", path);
        int status = comm_nccl_unique_id(id);
        if (status < 0) return status;
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return ls_error(LS_ERR_IO, "--rendezvous %s: cannot write %s: %s", dir, tmp,
                                    strerror(errno));
        ssize_t w = write(fd, id, sizeof *id);
        int ok = w == (ssize_t)sizeof *id && fsync(fd) == 0;
        close(fd);
        if (!ok || rename(tmp, path) != 0) {
            unlink(tmp);
            return ls_error(LS_ERR_IO, "--rendezvous %s: cannot write %s: %s", dir, path,
                            strerror(errno));
        }
        return 0;
    }
    const double t0 = mono_s();
    for (;;) {
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            int ok = read_full(fd, id, sizeof *id);
            close(fd);
            if (ok) return 0;
        }
        if (mono_s() - t0 > 300)
            return ls_error(LS_ERR_IO, "rank %d: waited 300 s for rank 0's %s", rank, path);
        usleep(50000);
    }
}

static int run_mpi(TrainOptions *opt, const char *argv_json) {
    int rank = 0, size = 1, local = 0, status;
    if ((status = env_int("OMPI_COMM_WORLD_RANK", &rank)) < 0 ||
        (status = env_int("OMPI_COMM_WORLD_SIZE", &size)) < 0 ||
        (status = env_int("OMPI_COMM_WORLD_LOCAL_RANK", &local)) < 0)
        return cli_fail("train", status);
    if (size < 1 || rank >= size)
        return cli_fail("train", ls_error(LS_ERR_USAGE, "environment: rank %d of %d ranks", rank,
                                          size));
    if ((status = check_batch(opt, size)) < 0) goto fail;
    if (!opt->rendezvous && size > 1) {
        status = ls_error(LS_ERR_USAGE, "under mpirun, give --rendezvous DIR: a folder every "
                          "rank sees, where rank 0 leaves what the others need to join");
        goto fail;
    }
    CommShared *sh = NULL;
    CommId id = {{0}};
    const int cpu = !opt->common.device_auto && opt->common.device.kind == DEVICE_CPU;
    char region[4096];
    snprintf(region, sizeof region, "%s/longscan-%s.cpu-region", opt->rendezvous ? opt->rendezvous
             : ".", env_job_key());
    if (cpu) {
        if (size > 1 && (status = comm_shared_open_file(&sh, region, rank, size, 300)) < 0)
            goto fail;
        if (size == 1 && (status = comm_shared_create(&sh, 1)) < 0) goto fail;
    } else {
        opt->common.device = (Device){DEVICE_CUDA, local};
        opt->common.device_auto = 0;
        if ((status = device_cuda_set(local)) < 0) goto fail;
        if (size == 1) status = comm_nccl_unique_id(&id);
        else status = mpi_exchange_id(opt->rendezvous, rank, &id);
        if (status < 0) goto fail;
    }
    Comm *comm = NULL;
    int secondary = 0;
    status = rank_train(opt, argv_json, &comm, &secondary, rank, size, sh, &id);
    comm_free(comm, status < 0);
    comm_shared_free(sh);
    if (rank == 0 && size > 1) { // every rank has joined by now (or the run failed)
        char path[4096];
        snprintf(path, sizeof path, "%s/longscan-%s.nccl-id", opt->rendezvous, env_job_key());
        if (!cpu) unlink(path);
        if (cpu) unlink(region);
    }
    if (status >= 0) return status;
    if (rank > 0 && secondary) return EXIT_FAILURE_; // rank 0 or the failing rank says why
fail:
    if (rank > 0) ls_error_prefix("rank %d", rank);
    return cli_fail("train", status);
}

int train_parallel_run(TrainOptions *opt, const char *argv_json) {
    const int mpi = getenv("OMPI_COMM_WORLD_SIZE") != NULL;
    int status = check_options(opt, mpi);
    if (status < 0) return cli_fail("train", status);
    return mpi ? run_mpi(opt, argv_json) : run_forked(opt, argv_json);
}
