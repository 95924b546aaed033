/*
 * detect.h — what kind of input a path holds (sequences, audio or a checkpoint), decided from
 * its first bytes, so commands and datasets can take any input without a --type flag.
 */
#ifndef LS_DETECT_H
#define LS_DETECT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    INPUT_KIND_AUTO = 0,   /* not decided yet: input_detect() decides */
    INPUT_KIND_SEQ,        /* FASTA/FASTQ (plain, gzip, bgzip), SAM/BAM/CRAM, or unknown */
    INPUT_KIND_AUDIO,      /* RIFF/RF64 WAV, FLAC, OGG, AIFF, AU, CAF, W64, WavPack */
    INPUT_KIND_CHECKPOINT, /* safetensors: u64 header length then '{' */
} InputKind;

/**
 * Decide @p path's kind from its first 16 bytes. "-" (stdin) cannot be peeked at without
 * consuming it and is reported as INPUT_KIND_SEQ. Anything not recognised as audio or a
 * checkpoint is INPUT_KIND_SEQ: the sequence reader then names the format problem.
 * @return 0; LS_ERR_IO (missing, unreadable, a directory) or LS_ERR_FORMAT (empty file),
 *         message naming the file.
 */
int input_detect(const char *path, InputKind *kind) LS_RESULT_USED;

/** "sequence", "audio", "checkpoint" ("auto" for INPUT_KIND_AUTO). */
const char *input_kind_name(InputKind kind);

#ifdef __cplusplus
}
#endif
#endif
