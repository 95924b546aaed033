/*
 * test_gpu.c — GPU checks run on the lent GPU machine (`make test-gpu`, or bench/gpu.sh), TAP
 * output. Parity cases per op join this file (one table per op, STYLE rule 33) as the CUDA
 * kernels land; for now it checks the CUDA runtime services of kernels/device.h: device
 * discovery, checked allocation, and that an impossible allocation is a clear out-of-memory
 * error (bytes asked, bytes free, what to lower) rather than a crash.
 */
#include <stdio.h>
#include <string.h>

#include "kernels/device.h"

static int n_run, n_failed;

static void report(int ok, const char *what, const char *detail) {
    n_run++;
    if (!ok) n_failed++;
    printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", n_run, what, detail ? ": " : "",
           detail ? detail : "");
}

int main(void) {
    printf("1..5\n");
    int count = 0;
    int status = device_cuda_count(&count);
    report(status == 0 && count >= 1, "at least one CUDA device", status ? ls_error_message() : NULL);
    if (status != 0 || count < 1) {
        for (int i = 0; i < 4; i++) report(0, "skipped: no device", NULL);
        return 1;
    }
    char description[256];
    status = device_cuda_describe(0, description, sizeof description);
    report(status == 0 && strstr(description, "sm_") != NULL, "describe device 0", description);

    void *ptr = NULL;
    status = device_cuda_alloc(&ptr, (size_t)1 << 20, NULL);
    report(status == 0 && ptr != NULL, "allocate 1 MiB", status ? ls_error_message() : NULL);
    device_cuda_free(ptr);

    status = device_cuda_alloc(&ptr, (size_t)1 << 50, "lower --seq-len");
    report(status == LS_ERR_CUDA_OOM && strstr(ls_error_message(), "lower --seq-len") &&
               strstr(ls_error_message(), "GiB free"),
           "1 PiB allocation is a clear out-of-memory error", ls_error_message());

    status = device_cuda_alloc(&ptr, (size_t)1 << 20, NULL);
    report(status == 0, "allocation works again after an out-of-memory error",
           status ? ls_error_message() : NULL);
    device_cuda_free(ptr);
    printf("# %s\n", device_build_info());
    return n_failed != 0;
}
