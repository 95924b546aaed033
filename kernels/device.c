/* device.c — backend-independent parts of device.h. */
#include "kernels/device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int device_parse(const char *text, Device *out) {
    if (strcmp(text, "cpu") == 0) {
        *out = (Device){DEVICE_CPU, 0};
        return 0;
    }
    if (strncmp(text, "cuda", 4) == 0 && (text[4] == '\0' || text[4] == ':')) {
        long ordinal = 0;
        if (text[4] == ':') {
            char *end;
            errno = 0;
            ordinal = strtol(text + 5, &end, 10);
            if (errno || end == text + 5 || *end || ordinal < 0 || ordinal > 1023)
                return ls_error(LS_ERR_USAGE, "--device %s: expected cuda:N with N >= 0", text);
        }
        *out = (Device){DEVICE_CUDA, (int)ordinal};
        return 0;
    }
    return ls_error(LS_ERR_USAGE, "--device %s: expected cpu, cuda or cuda:N", text);
}
