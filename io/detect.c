/* detect.c — input kind from magic bytes; see detect.h. Tested by tests/unit/test_detect.c. */
#include "io/detect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int input_detect(const char *path, InputKind *kind) {
    *kind = INPUT_KIND_SEQ;
    if (strcmp(path, "-") == 0) return 0;
    struct stat st;
    if (stat(path, &st) != 0) return ls_error(LS_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return ls_error(LS_ERR_IO, "%s: is a directory", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ls_error(LS_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char head[16] = {0};
    ssize_t got = read(fd, head, sizeof head);
    int read_errno = errno;
    close(fd);
    if (got < 0) return ls_error(LS_ERR_IO, "%s: %s", path, strerror(read_errno));
    if (got == 0) return ls_error(LS_ERR_FORMAT, "%s: empty file", path);

    /* safetensors: little-endian u64 header length (< 2^40 in any sane file) then '{' */
    if (got >= 9 && head[8] == '{' && head[5] == 0 && head[6] == 0 && head[7] == 0) {
        *kind = INPUT_KIND_CHECKPOINT;
        return 0;
    }
    static const char *const audio_magic[] = {"RIFF", "RIFX", "RF64", "fLaC", "OggS",
                                              "FORM", ".snd", "riff", "caff", "wvpk"};
    for (size_t i = 0; i < sizeof audio_magic / sizeof audio_magic[0]; i++) {
        if (got >= 4 && memcmp(head, audio_magic[i], 4) == 0) {
            *kind = INPUT_KIND_AUDIO;
            return 0;
        }
    }
    return 0;
}

const char *input_kind_name(InputKind kind) {
    switch (kind) {
    case INPUT_KIND_SEQ:        return "sequence";
    case INPUT_KIND_AUDIO:      return "audio";
    case INPUT_KIND_CHECKPOINT: return "checkpoint";
    default:                    return "auto";
    }
}
