/*
 * test_comm.c — the CPU backend of the communicator (kernels/comm.h) with real processes:
 * S ∈ {1, 2, 3, 4} ranks forked over one shared region. Each rank fills buffers from its rank
 * and a seed and sums them; the parent checks every rank's result against the serial sum in
 * rank order, x0 + x1 + ... (float, left to right), BIT FOR BIT: the backend promises that
 * order, so there is no tolerance to choose. Sizes 1, 7, a chunk exactly and 2.5 chunks (the
 * rounds of COMM_CPU_CHUNK), the host doubles, broadcast from a rank that is not 0, a barrier
 * that releases no one early, and a rank that exits while the others wait in a collective
 * (they must return an error naming it, not hang). The all-gather and the neighbour shifts of
 * sequence parallel: every slot and every received buffer checked exactly (a copy), the
 * buffers a rank must not receive untouched, at 1, 7 and 2.5 chunks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/comm.h"

static float value(int rank, int64_t i, int round) {
    uint64_t z = (uint64_t)rank * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull ^
                 (uint64_t)round * 0x94D049BB133111EBull;
    z ^= z >> 31;
    z *= 0xD6E8FEB86659FD93ull;
    z ^= z >> 32;
    return (float)((double)(z >> 11) * 0x1.0p-53 * 2.0 - 1.0) * (float)(1 + (i % 5));
}

static const int64_t sizes[] = {1, 7, COMM_CPU_CHUNK, COMM_CPU_CHUNK * 5 / 2};
enum { N_SIZES = 4 };

/* Rank work: every size, then host doubles, broadcast, barrier; results into out (shared). */
static int rank_work(CommShared *sh, int rank, int S, float *out, double *host_out) {
    Comm *c = NULL;
    if (comm_init_cpu(&c, sh, rank, S) < 0) return 1;
    int64_t at = 0;
    for (int k = 0; k < N_SIZES; k++) {
        float *buf = malloc((size_t)sizes[k] * sizeof *buf);
        for (int64_t i = 0; i < sizes[k]; i++) buf[i] = value(rank, i, k);
        if (comm_allreduce(c, buf, sizes[k]) < 0) return 2;
        if (rank == S - 1) memcpy(out + at, buf, (size_t)sizes[k] * sizeof *buf);
        /* every rank must hold the same bits as the last one */
        if (comm_barrier(c) < 0) return 3;
        for (int64_t i = 0; i < sizes[k]; i++)
            if (memcmp(&buf[i], &out[at + i], sizeof *buf) != 0) return 4;
        if (comm_barrier(c) < 0) return 5;
        at += sizes[k];
        free(buf);
    }
    double h[3] = {rank + 0.5, -rank, 1e-3 * rank};
    if (comm_allreduce_host(c, h, 3) < 0) return 6;
    memcpy(host_out + 3 * rank, h, sizeof h);
    float b[5] = {0};
    const int root = S - 1;
    if (rank == root)
        for (int i = 0; i < 5; i++) b[i] = (float)(i + 1) * 1.5f;
    if (comm_broadcast(c, b, 5, root) < 0) return 7;
    for (int i = 0; i < 5; i++)
        if (b[i] != (float)(i + 1) * 1.5f) return 8;
    comm_free(c, 0);
    return 0;
}

static void run_ranks(int S) {
    int64_t total = 0;
    for (int k = 0; k < N_SIZES; k++) total += sizes[k];
    float *out = mmap(NULL, (size_t)total * sizeof(float), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double *host = mmap(NULL, 3 * 4 * sizeof(double), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(out != MAP_FAILED && host != MAP_FAILED);
    CommShared *sh = NULL;
    assert_int_equal(comm_shared_create(&sh, S), 0);
    pid_t pids[4];
    for (int r = 0; r < S; r++) {
        fflush(stdout);
        pids[r] = fork();
        if (pids[r] == 0) _exit(rank_work(sh, r, S, out, host));
    }
    for (int r = 0; r < S; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%d ranks: rank %d ended with status %d (see rank_work's codes)", S, r,
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    /* the serial sum in rank order, bit for bit */
    int64_t at = 0;
    for (int k = 0; k < N_SIZES; k++) {
        for (int64_t i = 0; i < sizes[k]; i++) {
            float acc = value(0, i, k);
            for (int r = 1; r < S; r++) acc += value(r, i, k);
            if (memcmp(&acc, &out[at + i], sizeof acc) != 0)
                fail_msg("%d ranks, %lld floats: element %lld is %.9g, the sum in rank order "
                         "is %.9g", S, (long long)sizes[k], (long long)i, out[at + i], acc);
        }
        at += sizes[k];
    }
    double want[3] = {0, 0, 0};
    for (int r = 0; r < S; r++) want[0] += r + 0.5, want[1] += -r, want[2] += 1e-3 * r;
    for (int r = 0; r < S; r++)
        for (int i = 0; i < 3; i++)
            if (host[3 * r + i] != want[i])
                fail_msg("%d ranks: host value %d on rank %d is %.17g, expected %.17g", S, i, r,
                         host[3 * r + i], want[i]);
    comm_shared_free(sh);
    munmap(out, (size_t)total * sizeof(float));
    munmap(host, 3 * 4 * sizeof(double));
}

/* All-gather and shifts on rank @p rank of @p S; returns 0 or the code of the first wrong
 * value (each rank checks its own results: the expected values are known everywhere). */
static int rank_gather_shift(CommShared *sh, int rank, int S) {
    Comm *c = NULL;
    if (comm_init_cpu(&c, sh, rank, S) < 0) return 1;
    static const int64_t ns[] = {1, 7, COMM_CPU_CHUNK * 5 / 2};
    for (int k = 0; k < 3; k++) {
        const int64_t n = ns[k];
        float *buf = calloc((size_t)(S * n), sizeof *buf);
        float *send = malloc((size_t)n * sizeof *send), *recv = malloc((size_t)n * sizeof *recv);
        if (!buf || !send || !recv) return 2;
        for (int64_t i = 0; i < n; i++) buf[rank * n + i] = value(rank, i, 10 + k);
        if (comm_allgather(c, buf, n) < 0) return 3;
        for (int r = 0; r < S; r++)
            for (int64_t i = 0; i < n; i++)
                if (buf[r * n + i] != value(r, i, 10 + k)) return 4;
        for (int step = -1; step <= 1; step += 2) {
            for (int64_t i = 0; i < n; i++) send[i] = value(rank, i, 20 + k + step);
            for (int64_t i = 0; i < n; i++) recv[i] = -7.0f;
            if (comm_shift(c, send, recv, n, step) < 0) return 5;
            const int from = rank - step;
            for (int64_t i = 0; i < n; i++) {
                const float want = from >= 0 && from < S ? value(from, i, 20 + k + step) : -7.0f;
                if (recv[i] != want) return step > 0 ? 6 : 7;
            }
        }
        free(buf), free(send), free(recv);
    }
    if (comm_shift(c, NULL, NULL, 1, 2) != LS_ERR_USAGE) return 8;
    comm_free(c, 0);
    return 0;
}

static void run_gather_shift(int S) {
    CommShared *sh = NULL;
    assert_int_equal(comm_shared_create(&sh, S), 0);
    pid_t pids[4];
    for (int r = 0; r < S; r++) {
        fflush(stdout);
        pids[r] = fork();
        if (pids[r] == 0) _exit(rank_gather_shift(sh, r, S));
    }
    for (int r = 0; r < S; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("all-gather/shift, %d ranks: rank %d ended with status %d (3-5: a call "
                     "failed; 4: a gathered slot, 6: a right shift, 7: a left shift wrong)", S,
                     r, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    comm_shared_free(sh);
}

static void test_gather_shift(void **state) {
    (void)state;
    for (int S = 1; S <= 4; S++) run_gather_shift(S);
}

static void test_one_rank(void **state) { (void)state; run_ranks(1); }
static void test_two_ranks(void **state) { (void)state; run_ranks(2); }
static void test_three_ranks(void **state) { (void)state; run_ranks(3); }
static void test_four_ranks(void **state) { (void)state; run_ranks(4); }

/* Rank 1 exits without joining; the launcher marks the region; rank 0, waiting in an
 * all-reduce, must come back with an error that names rank 1 within a few seconds. */
static void test_failed_rank(void **state) {
    (void)state;
    CommShared *sh = NULL;
    assert_int_equal(comm_shared_create(&sh, 2), 0);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(stdout);
    pid_t p0 = fork();
    if (p0 == 0) {
        close(fd[0]);
        Comm *c = NULL;
        if (comm_init_cpu(&c, sh, 0, 2) < 0) _exit(10);
        float x[3] = {1, 2, 3};
        alarm(20); // a hang fails the test instead of blocking it
        int status = comm_allreduce(c, x, 3);
        const char *m = ls_error_message();
        ssize_t w = write(fd[1], m, strlen(m) + 1);
        (void)w;
        _exit(status < 0 && comm_aborted(c) ? 0 : 11);
    }
    close(fd[1]);
    pid_t p1 = fork();
    if (p1 == 0) _exit(1); // rank 1 fails at once
    int st;
    waitpid(p1, &st, 0);
    usleep(100000);
    comm_shared_abort(sh, 1);
    waitpid(p0, &st, 0);
    char msg[512] = "";
    ssize_t n = read(fd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fd[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("rank 0 did not return an error when rank 1 failed (status %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    if (!strstr(msg, "rank 1 failed")) fail_msg("rank 0's error names no rank: '%s'", msg);
    comm_shared_free(sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_rank),   cmocka_unit_test(test_two_ranks),
        cmocka_unit_test(test_three_ranks), cmocka_unit_test(test_four_ranks),
        cmocka_unit_test(test_failed_rank), cmocka_unit_test(test_gather_shift),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("comm", tests, NULL, NULL);
}
