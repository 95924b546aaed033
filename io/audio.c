/*
 * audio.c — audio reader (libsndfile), mono mix-down, resampler (libsamplerate) and the
 * atomic writer declared in io/audio.h. The rules (mix-down, resampling length, truncation,
 * stdin, PCM16 scaling) are stated in audio.h and docs/encodings.md.
 *
 * Reading: a path is opened with open(2) first, so "missing", "directory" and "empty" get
 * errno-level messages before libsndfile guesses the format; regular files go to
 * sf_open_fd(). Anything not seekable (stdin as a pipe, /dev/fd/N, a FIFO) is read whole into
 * memory and decoded through libsndfile's virtual I/O, so every format works from a pipe.
 *
 * Truncation: libsndfile shortens a WAV/AIFF whose data chunk claims more bytes than the file
 * holds and logs "data : <claimed> (should be <present>)"; the reader takes the claimed frame
 * count from that log line, so reading stops with an error at the frame where data ended.
 * Formats that keep their header's frame count (FLAC) are caught when a read returns fewer
 * frames than declared. An Ogg file is complete when every logical stream in it has its
 * end-of-stream page (header flag 0x04, RFC 3533) and no page is cut short: at the end of the
 * data the reader walks the page headers of the bytes libsndfile read (audio_ogg_complete).
 * libsndfile's own "File ended unexpectedly" log line cannot decide it: 1.2.0 writes it for
 * complete files too (sox's, for one). Streaming placeholders (0xFFFFFFFF, 0x7FFFFFFF,
 * 0x7FFFF000 bytes) written by tools that cannot seek back are not truncation.
 *
 * Non-finite samples: a float or double file may hold NaN or ±Inf, which no model input can
 * carry; the reader refuses them at the frame where they occur (integer encodings cannot
 * hold them, so only FLOAT/DOUBLE data is checked).
 *
 * Speed: frames are read in blocks of ~32 K samples; PCM_16 files are read as shorts and
 * converted and mixed in one pass (the same floats libsndfile would give: s / 32768).
 *
 * Tested by tests/unit/test_audio.c (+ tests/data/audio/ fixtures) and fuzzed by
 * tests/fuzz/fuzz_audio.c.
 */
#include "io/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/hfile.h>

#include "common/atomic_file.h"

#include "common/log.h"

enum {
    AUDIO_BLOCK_SAMPLES = 32768,    /* samples (frames × channels) per libsndfile call */
    AUDIO_MAX_RATE      = 1000000,  /* Hz; anything above is an absurd request */
};

typedef struct {
    const unsigned char *data;
    sf_count_t size;
    sf_count_t pos;
} MemFile;

struct AudioReader {
    SNDFILE *sf;
    AudioInfo info;
    char *name;               /* for messages: the path, or "<stdin>" */
    int fd;                   /* our descriptor, or -1 */
    int data_fd;              /* the descriptor libsndfile reads (ours or 0), -1: memory */
    MemFile mem;              /* virtual I/O state when decoding from memory */
    unsigned char *owned;     /* bytes slurped from a pipe, freed on close */
    int64_t pos;              /* frames delivered so far */
    int64_t declared;         /* frames the header declares, -1 if it does not say */
    int pcm16;                /* read as shorts and convert ourselves */
    int ogg;
    int floating;             /* FLOAT/DOUBLE data: may hold NaN/Inf, checked on read */
    void *block;              /* interleaved scratch, AUDIO_BLOCK_SAMPLES floats */
    int64_t block_frames;
    int failed;               /* sticky read error: code, message */
    char *failed_msg;
};

// ---------------------------------------------------------------------------- names

typedef struct {
    int code;
    const char *name;
} FormatName;

/* Short names as in libsndfile's SF_FORMAT_* constants (and Python's soundfile). */
static const FormatName audio_major_names[] = {
    {SF_FORMAT_WAV, "WAV"},     {SF_FORMAT_AIFF, "AIFF"},   {SF_FORMAT_AU, "AU"},
    {SF_FORMAT_RAW, "RAW"},     {SF_FORMAT_PAF, "PAF"},     {SF_FORMAT_SVX, "SVX"},
    {SF_FORMAT_NIST, "NIST"},   {SF_FORMAT_VOC, "VOC"},     {SF_FORMAT_IRCAM, "IRCAM"},
    {SF_FORMAT_W64, "W64"},     {SF_FORMAT_MAT4, "MAT4"},   {SF_FORMAT_MAT5, "MAT5"},
    {SF_FORMAT_PVF, "PVF"},     {SF_FORMAT_XI, "XI"},       {SF_FORMAT_HTK, "HTK"},
    {SF_FORMAT_SDS, "SDS"},     {SF_FORMAT_AVR, "AVR"},     {SF_FORMAT_WAVEX, "WAVEX"},
    {SF_FORMAT_SD2, "SD2"},     {SF_FORMAT_FLAC, "FLAC"},   {SF_FORMAT_CAF, "CAF"},
    {SF_FORMAT_WVE, "WVE"},     {SF_FORMAT_OGG, "OGG"},     {SF_FORMAT_MPC2K, "MPC2K"},
    {SF_FORMAT_RF64, "RF64"},   {SF_FORMAT_MPEG, "MPEG"},
};

static const FormatName audio_subtype_names[] = {
    {SF_FORMAT_PCM_S8, "PCM_S8"},       {SF_FORMAT_PCM_16, "PCM_16"},
    {SF_FORMAT_PCM_24, "PCM_24"},       {SF_FORMAT_PCM_32, "PCM_32"},
    {SF_FORMAT_PCM_U8, "PCM_U8"},       {SF_FORMAT_FLOAT, "FLOAT"},
    {SF_FORMAT_DOUBLE, "DOUBLE"},       {SF_FORMAT_ULAW, "ULAW"},
    {SF_FORMAT_ALAW, "ALAW"},           {SF_FORMAT_IMA_ADPCM, "IMA_ADPCM"},
    {SF_FORMAT_MS_ADPCM, "MS_ADPCM"},   {SF_FORMAT_GSM610, "GSM610"},
    {SF_FORMAT_VOX_ADPCM, "VOX_ADPCM"}, {SF_FORMAT_NMS_ADPCM_16, "NMS_ADPCM_16"},
    {SF_FORMAT_NMS_ADPCM_24, "NMS_ADPCM_24"}, {SF_FORMAT_NMS_ADPCM_32, "NMS_ADPCM_32"},
    {SF_FORMAT_G721_32, "G721_32"},     {SF_FORMAT_G723_24, "G723_24"},
    {SF_FORMAT_G723_40, "G723_40"},     {SF_FORMAT_DWVW_12, "DWVW_12"},
    {SF_FORMAT_DWVW_16, "DWVW_16"},     {SF_FORMAT_DWVW_24, "DWVW_24"},
    {SF_FORMAT_DWVW_N, "DWVW_N"},       {SF_FORMAT_DPCM_8, "DPCM_8"},
    {SF_FORMAT_DPCM_16, "DPCM_16"},     {SF_FORMAT_VORBIS, "VORBIS"},
    {SF_FORMAT_OPUS, "OPUS"},           {SF_FORMAT_ALAC_16, "ALAC_16"},
    {SF_FORMAT_ALAC_20, "ALAC_20"},     {SF_FORMAT_ALAC_24, "ALAC_24"},
    {SF_FORMAT_ALAC_32, "ALAC_32"},     {SF_FORMAT_MPEG_LAYER_I, "MPEG_LAYER_I"},
    {SF_FORMAT_MPEG_LAYER_II, "MPEG_LAYER_II"}, {SF_FORMAT_MPEG_LAYER_III, "MPEG_LAYER_III"},
};

static void audio_format_name(char *dst, size_t size, int code, const FormatName *table,
                              size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (table[i].code == code) {
            snprintf(dst, size, "%s", table[i].name);
            return;
        }
    }
    snprintf(dst, size, "0x%x", (unsigned)code);
}

/* Bytes per frame of an uncompressed subtype, 0 when the size per frame is not fixed. */
static int64_t audio_bytes_per_sample(int subtype) {
    switch (subtype) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: case SF_FORMAT_ULAW: case SF_FORMAT_ALAW:
        return 1;
    case SF_FORMAT_PCM_16: return 2;
    case SF_FORMAT_PCM_24: return 3;
    case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: return 4;
    case SF_FORMAT_DOUBLE: return 8;
    default: return 0;
    }
}

// ---------------------------------------------------------------------------- virtual I/O

static sf_count_t mem_get_filelen(void *user) { return ((MemFile *)user)->size; }

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user) {
    MemFile *m = user;
    sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
    m->pos = base + offset; /* past the end is allowed, as with lseek; reads return 0 */
    return m->pos;
}

static sf_count_t mem_read(void *dst, sf_count_t count, void *user) {
    MemFile *m = user;
    if (count <= 0 || m->pos >= m->size) return 0;
    sf_count_t n = m->size - m->pos < count ? m->size - m->pos : count;
    memcpy(dst, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *src, sf_count_t count, void *user) {
    (void)src; (void)count; (void)user;
    return 0; /* read-only */
}

static sf_count_t mem_tell(void *user) { return ((MemFile *)user)->pos; }

// ---------------------------------------------------------------------------- open

/* Read all of @p fd (a pipe or other unseekable file) into a malloc'd buffer. */
static int audio_slurp(const char *name, int fd, unsigned char **out, size_t *size) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return ls_error(LS_ERR_NOMEM, "%s: out of memory reading input", name);
    for (;;) {
        if (n == cap) {
            unsigned char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return ls_error(LS_ERR_NOMEM, "%s: out of memory after %zu bytes of input",
                                name, n);
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return ls_error(LS_ERR_IO, "%s: read failed: %s", name, strerror(e));
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    *out = buf;
    *size = n;
    return 0;
}

/* Up to @p n bytes of the encoded input at byte @p offset (the file libsndfile reads, or the
 * memory it decodes). @return bytes read (fewer only at the end), or -1 on a read error. */
static ssize_t audio_input_pread(const AudioReader *r, void *dst, size_t n, int64_t offset) {
    if (r->data_fd < 0) {
        if (offset >= r->mem.size) return 0;
        size_t avail = (size_t)(r->mem.size - offset);
        if (n > avail) n = avail;
        memcpy(dst, r->mem.data + offset, n);
        return (ssize_t)n;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(r->data_fd, (char *)dst + done, n - done, (off_t)offset + done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/*
 * Whether the Ogg input is complete: walk the pages from the start (27-byte header: "OggS",
 * version, flags, granule, serial, sequence, CRC, segment count; then the segment table,
 * whose sum is the body length). Complete = every logical stream seen has a page flagged
 * end-of-stream (0x04), and no page runs past the end of the data. Bytes after the last page
 * that do not start "OggS" end the walk (trailing junk, which libogg skips as well).
 * @return 1 complete, 0 truncated, < 0 read error (message set).
 */
static int audio_ogg_complete(const AudioReader *r) {
    enum { MAX_STREAMS = 64 };
    uint32_t serials[MAX_STREAMS];
    int ended[MAX_STREAMS], n_streams = 0;
    unsigned char head[27 + 255];
    int64_t at = 0;
    for (;;) {
        ssize_t got = audio_input_pread(r, head, 27, at);
        if (got < 0) return ls_error(LS_ERR_IO, "%s: read failed: %s", r->name, strerror(errno));
        if (got < 27 || memcmp(head, "OggS", 4) != 0) {
            if (got > 0 && got < 27 && memcmp(head, "OggS", (size_t)(got < 4 ? got : 4)) == 0)
                return 0; /* a page header cut short */
            break;
        }
        int n_seg = head[26];
        got = audio_input_pread(r, head + 27, (size_t)n_seg, at + 27);
        if (got < 0) return ls_error(LS_ERR_IO, "%s: read failed: %s", r->name, strerror(errno));
        if (got < n_seg) return 0;
        int64_t body = 0;
        for (int i = 0; i < n_seg; i++) body += head[27 + i];
        int64_t next = at + 27 + n_seg + body;
        unsigned char probe;
        if (body > 0 && audio_input_pread(r, &probe, 1, next - 1) != 1) return 0; /* cut body */
        uint32_t serial = (uint32_t)head[14] | (uint32_t)head[15] << 8 |
                          (uint32_t)head[16] << 16 | (uint32_t)head[17] << 24;
        int k = 0;
        while (k < n_streams && serials[k] != serial) k++;
        if (k == n_streams && n_streams < MAX_STREAMS) {
            serials[n_streams] = serial;
            ended[n_streams++] = 0;
        }
        if (k < n_streams && (head[5] & 0x04)) ended[k] = 1;
        at = next;
    }
    if (n_streams == 0) return 0;
    for (int k = 0; k < n_streams; k++)
        if (!ended[k]) return 0;
    return 1;
}

/* Read all of stream @p hf into a malloc'd buffer, then close it. */
static int audio_slurp_hfile(const char *name, hFILE *hf, unsigned char **out, size_t *size) {
    size_t cap = 1 << 16, n = 0;
    int status = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) status = ls_error(LS_ERR_NOMEM, "%s: out of memory reading input", name);
    while (status == 0) {
        if (n == cap) {
            unsigned char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!grown) {
                status = ls_error(LS_ERR_NOMEM, "%s: out of memory after %zu bytes of input",
                                  name, n);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t got = hread(hf, buf + n, cap - n);
        if (got < 0) status = ls_error(LS_ERR_IO, "%s: read failed: %s", name, strerror(errno));
        if (got <= 0) break;
        n += (size_t)got;
    }
    if (hclose(hf) != 0 && status == 0)
        status = ls_error(LS_ERR_IO, "%s: read failed: %s", name, strerror(errno));
    if (status < 0) {
        free(buf);
        return status;
    }
    *out = buf;
    *size = n;
    return 0;
}

/* The declared frame count of a WAV/AIFF whose data chunk is longer than the file (see the
 * file-top comment), or -1 when libsndfile's log has no such line. */
static int64_t audio_declared_from_log(SNDFILE *sf, const SF_INFO *si) {
    char log[4096];
    int64_t bps = audio_bytes_per_sample(si->format & SF_FORMAT_SUBMASK);
    if (bps == 0 || si->channels <= 0) return -1;
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    for (const char *line = log; *line;) {
        long long claimed, present;
        const char *p = line;
        while (*p == ' ') p++;
        if (sscanf(p, "data : %lld (should be %lld)", &claimed, &present) == 2 ||
            sscanf(p, "SSND : %lld (should be %lld)", &claimed, &present) == 2) {
            if (claimed <= present) return -1;
            if (claimed == 0xFFFFFFFFLL || claimed == 0x7FFFFFFFLL || claimed == 0x7FFFF000LL)
                return -1; /* placeholder written by a streaming tool */
            return si->frames + (claimed - present) / (bps * si->channels);
        }
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return -1;
}

/* Finish an open: sf is open, fill the reader from it. Frees nothing on failure. */
static int audio_reader_setup(AudioReader *r, const SF_INFO *si) {
    int err = 0;
    if (si->channels < 1 || si->samplerate < 1)
        return ls_error(LS_ERR_FORMAT, "%s: invalid header: %d channels at %d Hz", r->name,
                        si->channels, si->samplerate);
    if (si->frames == 0 && (si->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG &&
        audio_ogg_complete(r) == 0)
        return ls_error(LS_ERR_FORMAT, "%s: frame 0: stream ends without its end-of-stream "
                        "page (truncated file?)", r->name);
    if (si->frames == 0)
        return ls_error(LS_ERR_FORMAT, "%s: no audio frames (empty data)", r->name);
    r->info.frames = si->frames == SF_COUNT_MAX ? -1 : (int64_t)si->frames;
    r->info.sample_rate = si->samplerate;
    r->info.channels = si->channels;
    audio_format_name(r->info.format, sizeof r->info.format, si->format & SF_FORMAT_TYPEMASK,
                      audio_major_names, sizeof audio_major_names / sizeof *audio_major_names);
    audio_format_name(r->info.subtype, sizeof r->info.subtype, si->format & SF_FORMAT_SUBMASK,
                      audio_subtype_names,
                      sizeof audio_subtype_names / sizeof *audio_subtype_names);
    r->declared = r->info.frames;
    int64_t claimed = audio_declared_from_log(r->sf, si);
    if (claimed > r->declared) r->declared = claimed;
    r->pcm16 = (si->format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16;
    r->ogg = (si->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG;
    r->floating = (si->format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT ||
                  (si->format & SF_FORMAT_SUBMASK) == SF_FORMAT_DOUBLE;
    r->block_frames = AUDIO_BLOCK_SAMPLES / si->channels;
    if (r->block_frames < 1) r->block_frames = 1;
    r->block = malloc((size_t)(r->block_frames * si->channels) * sizeof(float));
    if (!r->block) err = ls_error(LS_ERR_NOMEM, "%s: out of memory", r->name);
    return err;
}

static int audio_reader_new(AudioReader **out, const char *name) {
    AudioReader *r = calloc(1, sizeof *r);
    if (!r) return ls_error(LS_ERR_NOMEM, "%s: out of memory", name);
    r->fd = -1;
    r->data_fd = -1;
    r->name = strdup(name);
    if (!r->name) {
        free(r);
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", name);
    }
    *out = r;
    return 0;
}

static int audio_reader_open_sf_memory(AudioReader *r) {
    SF_VIRTUAL_IO vio = {mem_get_filelen, mem_seek, mem_read, mem_write, mem_tell};
    SF_INFO si = {0};
    if (r->mem.size == 0) return ls_error(LS_ERR_FORMAT, "%s: empty input", r->name);
    r->sf = sf_open_virtual(&vio, SFM_READ, &si, &r->mem);
    if (!r->sf)
        return ls_error(LS_ERR_FORMAT, "%s: cannot read audio: %s", r->name, sf_strerror(NULL));
    return audio_reader_setup(r, &si);
}

int audio_reader_open_memory(AudioReader **out, const char *name, const void *data,
                             size_t size) {
    AudioReader *r = NULL;
    *out = NULL;
    if (!name) name = "<memory>";
    int err = audio_reader_new(&r, name);
    if (err) return err;
    r->mem.data = data;
    r->mem.size = (sf_count_t)size;
    if (!data && size) err = ls_error(LS_ERR_USAGE, "%s: no data", name);
    if (!err) err = audio_reader_open_sf_memory(r);
    if (err) goto fail;
    *out = r;
    return 0;
fail:
    audio_reader_close(r);
    return err;
}

int audio_reader_open(AudioReader **out, const char *path) {
    AudioReader *r = NULL;
    int err = 0;
    *out = NULL;
    if (!path) return ls_error(LS_ERR_USAGE, "audio: no path given");
    int is_stdin = strcmp(path, "-") == 0;
    err = audio_reader_new(&r, is_stdin ? "<stdin>" : path);
    if (err) return err;

    int fd = 0;
    if (!is_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            err = ls_error(LS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        r->fd = fd;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = ls_error(LS_ERR_IO, "%s: cannot stat: %s", r->name, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        err = ls_error(LS_ERR_IO, "%s: is a directory, not an audio file", r->name);
        goto fail;
    }
    if (S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            err = ls_error(LS_ERR_FORMAT, "%s: empty file", r->name);
            goto fail;
        }
        SF_INFO si = {0};
        r->data_fd = fd;
        r->sf = sf_open_fd(fd, SFM_READ, &si, SF_FALSE);
        if (!r->sf) {
            err = ls_error(LS_ERR_FORMAT, "%s: cannot read audio: %s", r->name,
                           sf_strerror(NULL));
            goto fail;
        }
        err = audio_reader_setup(r, &si);
        if (err) goto fail;
    } else {
        /* pipe, FIFO, terminal, socket: libsndfile cannot seek in these, so decode a copy */
        size_t size = 0;
        err = audio_slurp(r->name, fd, &r->owned, &size);
        if (err) goto fail;
        r->mem.data = r->owned;
        r->mem.size = (sf_count_t)size;
        err = audio_reader_open_sf_memory(r);
        if (err) goto fail;
    }
    *out = r;
    return 0;
fail:
    audio_reader_close(r);
    return err;
}

int audio_reader_open_input(AudioReader **out, InputFile *in) {
    AudioReader *r = NULL;
    *out = NULL;
    if (!in) return ls_error(LS_ERR_USAGE, "audio: no input given");
    if (!input_is_stream(in)) return audio_reader_open(out, input_path(in));
    hFILE *hf = input_take_hfile(in);
    if (!hf) return ls_error_code();
    int err = audio_reader_new(&r, input_name(in));
    if (err) {
        hclose_abruptly(hf);
        return err;
    }
    size_t size = 0;
    err = audio_slurp_hfile(r->name, hf, &r->owned, &size);
    if (err) goto fail;
    r->mem.data = r->owned;
    r->mem.size = (sf_count_t)size;
    err = audio_reader_open_sf_memory(r);
    if (err) goto fail;
    *out = r;
    return 0;
fail:
    audio_reader_close(r);
    return err;
}

const AudioInfo *audio_reader_info(const AudioReader *reader) { return &reader->info; }

void audio_reader_close(AudioReader *reader) {
    if (!reader) return;
    if (reader->sf) sf_close(reader->sf);
    if (reader->fd >= 0) close(reader->fd);
    free(reader->owned);
    free(reader->block);
    free(reader->failed_msg);
    free(reader->name);
    free(reader);
}

// ---------------------------------------------------------------------------- read

/* A read returned fewer frames than asked: end of data, or an error. */
static int audio_reader_short_read(AudioReader *r, int64_t pos) {
    int e = sf_error(r->sf);
    if (e != SF_ERR_NO_ERROR)
        return ls_error(LS_ERR_FORMAT, "%s: frame %" PRId64 ": decode error: %s", r->name, pos,
                        sf_strerror(r->sf));
    if (r->declared >= 0 && pos < r->declared)
        return ls_error(LS_ERR_FORMAT,
                        "%s: frame %" PRId64 ": data ends here but the header declares %" PRId64
                        " frames (truncated file?)",
                        r->name, pos, r->declared);
    if (r->ogg) {
        int complete = audio_ogg_complete(r);
        if (complete < 0) return complete;
        if (!complete)
            return ls_error(LS_ERR_FORMAT,
                            "%s: frame %" PRId64 ": stream ends without its end-of-stream page "
                            "(truncated file?)",
                            r->name, pos);
    }
    if (pos == 0) return ls_error(LS_ERR_FORMAT, "%s: no audio frames", r->name);
    return 0;
}

static void audio_mix_float(float *restrict dst, const float *restrict src, int64_t frames,
                            int channels) {
    if (channels == 2) {
        for (int64_t i = 0; i < frames; i++) dst[i] = (src[2 * i] + src[2 * i + 1]) * 0.5f;
        return;
    }
    for (int64_t i = 0; i < frames; i++) {
        float sum = 0.0f;
        for (int c = 0; c < channels; c++) sum += src[i * channels + c];
        dst[i] = sum / (float)channels;
    }
}

/* Same values as audio_mix_float() on libsndfile's floats (s / 32768): the integer sum of
 * up to 256 shorts is exact in float, and one correctly rounded division gives the mean. */
static void audio_mix_short(float *restrict dst, const short *restrict src, int64_t frames,
                            int channels) {
    if (channels == 2) {
        for (int64_t i = 0; i < frames; i++)
            dst[i] = (float)(src[2 * i] + src[2 * i + 1]) * (1.0f / 65536.0f);
    } else if (channels <= 256) {
        float scale = 32768.0f * (float)channels;
        for (int64_t i = 0; i < frames; i++) {
            int32_t sum = 0;
            for (int c = 0; c < channels; c++) sum += src[i * channels + c];
            dst[i] = (float)sum / scale;
        }
    } else {
        for (int64_t i = 0; i < frames; i++) {
            float sum = 0.0f;
            for (int c = 0; c < channels; c++)
                sum += (float)src[i * channels + c] * (1.0f / 32768.0f);
            dst[i] = sum / (float)channels;
        }
    }
}

/* Find the first NaN/Inf among *n interleaved frames at @p x (just read, the first being
 * frame r->pos). If there is one, *n becomes the count of clean frames before it and the
 * error naming its frame is returned; else 0. */
static int audio_find_nonfinite(const AudioReader *r, const float *x, int64_t *n) {
    int ch = r->info.channels;
    for (int64_t i = 0; i < *n * ch; i++) {
        if (isfinite(x[i])) continue;
        int64_t frame = i / ch;
        *n = frame;
        return ls_error(LS_ERR_FORMAT, "%s: frame %" PRId64 ", channel %d: sample is %s "
                        "(audio samples must be finite numbers)", r->name, r->pos + frame,
                        (int)(i % ch) + 1, isnan(x[i]) ? "NaN" : x[i] > 0 ? "+Inf" : "-Inf");
    }
    return 0;
}

/* Read up to max_frames; mono != 0 mixes down into dst, else dst is interleaved. */
static int64_t audio_reader_read(AudioReader *r, float *dst, int64_t max_frames, int mono) {
    if (!r || max_frames < 0 || (!dst && max_frames > 0))
        return ls_error(LS_ERR_USAGE, "audio_reader_read: bad arguments");
    if (r->failed)
        return ls_error(r->failed, "%s", r->failed_msg ? r->failed_msg : r->name);
    int ch = r->info.channels;
    int64_t got = 0;
    while (got < max_frames) {
        int64_t want = max_frames - got, n;
        int bad = 0;
        if (!mono || ch == 1) {
            if (r->pcm16) {
                if (want > AUDIO_BLOCK_SAMPLES / ch) want = r->block_frames;
                n = sf_readf_short(r->sf, r->block, want);
                if (n > 0) {
                    const short *s = r->block;
                    float *d = dst + got * (mono ? 1 : ch);
                    for (int64_t i = 0; i < n * ch; i++) d[i] = (float)s[i] * (1.0f / 32768.0f);
                }
            } else {
                n = sf_readf_float(r->sf, dst + got * (mono ? 1 : ch), want);
                if (n > 0 && r->floating)
                    bad = audio_find_nonfinite(r, dst + got * (mono ? 1 : ch), &n);
            }
        } else {
            if (want > r->block_frames) want = r->block_frames;
            if (r->pcm16) {
                n = sf_readf_short(r->sf, r->block, want);
                if (n > 0) audio_mix_short(dst + got, r->block, n, ch);
            } else {
                n = sf_readf_float(r->sf, r->block, want);
                if (n > 0 && r->floating) bad = audio_find_nonfinite(r, r->block, &n);
                if (n > 0) audio_mix_float(dst + got, r->block, n, ch);
            }
        }
        if (n < 0) n = 0;
        got += n;
        r->pos += n;
        if (n < want || bad) {
            int err = bad ? bad : audio_reader_short_read(r, r->pos);
            if (err) {
                /* deliver the frames before the failure now, the error on the next call */
                r->failed = err;
                r->failed_msg = strdup(ls_error_message());
                if (got == 0) return err;
            }
            break;
        }
    }
    return got;
}

int64_t audio_reader_read_mono(AudioReader *reader, float *dst, int64_t max_frames) {
    return audio_reader_read(reader, dst, max_frames, 1);
}

int64_t audio_reader_read_interleaved(AudioReader *reader, float *dst, int64_t max_frames) {
    return audio_reader_read(reader, dst, max_frames, 0);
}

// ---------------------------------------------------------------------------- resample

static int audio_rate_check(const char *what, int rate) {
    if (rate < 1 || rate > AUDIO_MAX_RATE)
        return ls_error(LS_ERR_RANGE, "%s %d Hz is outside 1..%d Hz", what, rate,
                        AUDIO_MAX_RATE);
    return 0;
}

/* round(n · to / from), exactly, without overflow for any n < 2^62. */
static int64_t audio_resampled_length(int64_t n, int from, int to) {
    int64_t q = n / from, rem = n % from;
    return q * to + (2 * rem * (int64_t)to + from) / (2 * (int64_t)from);
}

int audio_resample(const float *in, int64_t n, int from_rate, int to_rate, float **out,
                   int64_t *n_out) {
    SRC_STATE *src = NULL;
    float *dst = NULL;
    int err = 0, serr = 0;
    *out = NULL;
    *n_out = 0;
    if ((err = audio_rate_check("resample: input rate", from_rate))) return err;
    if ((err = audio_rate_check("resample: output rate", to_rate))) return err;
    if (n < 0 || (n > 0 && !in)) return ls_error(LS_ERR_USAGE, "resample: bad input");
    double ratio = (double)to_rate / from_rate;
    if (ratio > 256.0 || ratio < 1.0 / 256.0)
        return ls_error(LS_ERR_RANGE,
                        "resample: %d Hz → %d Hz is a ratio beyond libsamplerate's 1/256..256",
                        from_rate, to_rate);
    int64_t want = audio_resampled_length(n, from_rate, to_rate);
    dst = malloc((size_t)(want > 0 ? want : 1) * sizeof(float));
    if (!dst) return ls_error(LS_ERR_NOMEM, "resample: out of memory for %" PRId64 " samples",
                              want);
    if (from_rate == to_rate) {
        if (n) memcpy(dst, in, (size_t)n * sizeof(float));
        *out = dst;
        *n_out = n;
        return 0;
    }
    src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &serr);
    if (!src) {
        err = ls_error(LS_ERR_NOMEM, "resample: %s", src_strerror(serr));
        goto fail;
    }
    /* Pass 1 feeds the whole signal; pass 2 feeds zeros with end_of_input set. libsamplerate
     * itself pads with zeros at end_of_input, so the zeros change no sample: they only let it
     * emit the last round(n·to/from) − floor-ish samples it would otherwise withhold. */
    static const float zeros[1024];
    int64_t done = 0;
    for (int pass = 0; pass < 2 && done < want; pass++) {
        SRC_DATA d = {0};
        d.data_in = pass == 0 ? in : zeros;
        d.input_frames = pass == 0 ? (long)n : (long)(sizeof zeros / sizeof *zeros);
        d.end_of_input = pass;
        d.src_ratio = ratio;
        for (;;) {
            d.data_out = dst + done;
            d.output_frames = (long)(want - done);
            if (d.output_frames == 0) break;
            if ((serr = src_process(src, &d)) != 0) {
                err = ls_error(LS_ERR_INTERNAL, "resample: %s", src_strerror(serr));
                goto fail;
            }
            done += d.output_frames_gen;
            d.data_in += d.input_frames_used;
            d.input_frames -= d.input_frames_used;
            if (d.output_frames_gen == 0 && (d.input_frames == 0 || pass == 1)) break;
        }
    }
    /* Never seen in practice (1024 zeros cover the filter for ratios down to 1/256). */
    for (int64_t i = done; i < want; i++) dst[i] = 0.0f;
    src_delete(src);
    *out = dst;
    *n_out = want;
    return 0;
fail:
    src_delete(src);
    free(dst);
    return err;
}

// ---------------------------------------------------------------------------- load

/* audio_load_mono() of the file open in @p r; closes @p r. */
static int audio_load_mono_reader(AudioReader *r, int target_rate, float **samples,
                                  int64_t *n, AudioInfo *info) {
    float *buf = NULL, *res = NULL;
    int64_t len = 0;
    int err = 0;
    /* Do not trust the header for the allocation: start at most 4 M frames and grow. */
    int64_t cap = r->info.frames > 0 && r->info.frames < (1 << 22) ? r->info.frames : 1 << 22;
    buf = malloc((size_t)cap * sizeof(float));
    if (!buf) {
        err = ls_error(LS_ERR_NOMEM, "%s: out of memory", r->name);
        goto fail;
    }
    for (;;) {
        if (len == cap) {
            float *grown = realloc(buf, (size_t)cap * 2 * sizeof(float));
            if (!grown) {
                err = ls_error(LS_ERR_NOMEM, "%s: out of memory after %" PRId64 " frames",
                               r->name, len);
                goto fail;
            }
            buf = grown;
            cap *= 2;
        }
        int64_t got = audio_reader_read_mono(r, buf + len, cap - len);
        if (got < 0) {
            err = (int)got;
            goto fail;
        }
        if (got == 0) break;
        len += got;
    }
    if (info) {
        *info = r->info;
        info->frames = len;
    }
    if (target_rate > 0 && target_rate != r->info.sample_rate) {
        int64_t n_res = 0;
        err = audio_resample(buf, len, r->info.sample_rate, target_rate, &res, &n_res);
        if (err) {
            ls_error_prefix("%s", r->name);
            goto fail;
        }
        free(buf);
        buf = res;
        len = n_res;
    } else if (len < cap) {
        float *shrunk = realloc(buf, (size_t)len * sizeof(float));
        if (shrunk) buf = shrunk;
    }
    audio_reader_close(r);
    *samples = buf;
    *n = len;
    return 0;
fail:
    audio_reader_close(r);
    free(buf);
    return err;
}

static int audio_target_rate_check(const char *name, int target_rate) {
    if (target_rate < 0 || target_rate > AUDIO_MAX_RATE)
        return ls_error(LS_ERR_RANGE, "%s: target rate %d Hz is outside 0 (native)..%d Hz",
                        name, target_rate, AUDIO_MAX_RATE);
    return 0;
}

int audio_load_mono(const char *path, int target_rate, float **samples, int64_t *n,
                    AudioInfo *info) {
    AudioReader *r = NULL;
    *samples = NULL;
    *n = 0;
    int err = audio_target_rate_check(path ? path : "audio", target_rate);
    if (!err) err = audio_reader_open(&r, path);
    if (err) return err;
    return audio_load_mono_reader(r, target_rate, samples, n, info);
}

int audio_load_mono_input(InputFile *in, int target_rate, float **samples, int64_t *n,
                          AudioInfo *info) {
    AudioReader *r = NULL;
    *samples = NULL;
    *n = 0;
    int err = audio_target_rate_check(in ? input_name(in) : "audio", target_rate);
    if (!err) err = audio_reader_open_input(&r, in);
    if (err) return err;
    return audio_load_mono_reader(r, target_rate, samples, n, info);
}

// ---------------------------------------------------------------------------- write

int audio_write_format_from_path(const char *path, AudioWriteFormat *format) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".wav") == 0) {
            *format = AUDIO_WRITE_WAV_PCM16;
            return 0;
        }
        if (strcasecmp(dot, ".flac") == 0) {
            *format = AUDIO_WRITE_FLAC_PCM16;
            return 0;
        }
        return ls_error(LS_ERR_UNSUPPORTED,
                        "%s: cannot write audio with extension \"%s\" (use .wav or .flac)", path,
                        dot);
    }
    return ls_error(LS_ERR_UNSUPPORTED,
                    "%s: no file extension to choose an audio format from (use .wav or .flac)",
                    path ? path : "(null)");
}

// ---------------------------------------------------------------------------- block writer

struct AudioWriter {
    AtomicFile file;
    SNDFILE *sf;
    char *path;
    int channels;
    AudioWriteFormat format;
    int64_t frames;  /* written so far */
    short *shorts;   /* PCM16 conversion block, AUDIO_BLOCK_SAMPLES */
};

int audio_writer_open(AudioWriter **out, const char *path, int channels, int sample_rate,
                      AudioWriteFormat format) {
    int err = 0;
    *out = NULL;
    if (!path) return ls_error(LS_ERR_USAGE, "audio_writer_open: no path");
    if (strcmp(path, "-") == 0)
        return ls_error(LS_ERR_UNSUPPORTED, "-: writing audio to stdout is not supported");
    if (channels < 1 || channels > 1024)
        return ls_error(LS_ERR_RANGE, "%s: %d channels is outside 1..1024", path, channels);
    if ((err = audio_rate_check("sample rate", sample_rate))) {
        ls_error_prefix("%s", path);
        return err;
    }
    SF_INFO si = {0};
    si.samplerate = sample_rate;
    si.channels = channels;
    switch (format) {
    case AUDIO_WRITE_WAV_PCM16: si.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16; break;
    case AUDIO_WRITE_WAV_FLOAT: si.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT; break;
    case AUDIO_WRITE_FLAC_PCM16: si.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    default: return ls_error(LS_ERR_USAGE, "%s: unknown audio write format %d", path, format);
    }
    if (!sf_format_check(&si))
        return ls_error(LS_ERR_RANGE, "%s: libsndfile cannot write %d channels at %d Hz in "
                        "this format", path, channels, sample_rate);
    AudioWriter *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path)) ||
        !(w->shorts = malloc(AUDIO_BLOCK_SAMPLES * sizeof(short)))) {
        if (w) free(w->path);
        free(w);
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    }
    w->file.fd = -1;
    w->channels = channels;
    w->format = format;
    if ((err = atomic_file_open(&w->file, path)) < 0) goto fail;
    w->sf = sf_open_fd(w->file.fd, SFM_WRITE, &si, SF_FALSE);
    if (!w->sf) {
        err = ls_error(LS_ERR_IO, "%s: cannot write audio: %s", path, sf_strerror(NULL));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    audio_writer_abort(w);
    return err;
}

int audio_writer_write(AudioWriter *w, const float *samples, int64_t frames) {
    if (w->format == AUDIO_WRITE_WAV_FLOAT) {
        sf_count_t n = sf_writef_float(w->sf, samples, frames);
        w->frames += n;
        if (n != frames)
            return ls_error(LS_ERR_IO, "%s: write failed after %" PRId64 " frames: %s", w->path,
                            w->frames, sf_strerror(w->sf));
        return 0;
    }
    const int64_t block = AUDIO_BLOCK_SAMPLES / w->channels; /* frames, >= 32 */
    for (int64_t f = 0; f < frames; f += block) {
        const int64_t nf = frames - f < block ? frames - f : block;
        const float *s = samples + f * w->channels;
        /* s = round(x · 32768) clipped to [-32768, 32767], NaN → 0: the exact inverse of the
         * reader's x = s / 32768, so a PCM16 file read and written back is unchanged. */
        for (int64_t i = 0; i < nf * w->channels; i++) {
            float v = s[i] * 32768.0f;
            v = v != v ? 0.0f : v < -32768.0f ? -32768.0f : v > 32767.0f ? 32767.0f : v;
            w->shorts[i] = (short)lrintf(v);
        }
        sf_count_t n = sf_writef_short(w->sf, w->shorts, nf);
        w->frames += n;
        if (n != nf)
            return ls_error(LS_ERR_IO, "%s: write failed after %" PRId64 " frames: %s", w->path,
                            w->frames, sf_strerror(w->sf));
    }
    return 0;
}

int audio_writer_commit(AudioWriter *w) {
    int err = 0;
    if (w->frames < 1) {
        err = ls_error(LS_ERR_RANGE, "%s: nothing to write (0 frames)", w->path);
        goto done;
    }
    int cerr = sf_close(w->sf);
    w->sf = NULL;
    if (cerr != 0) {
        err = ls_error(LS_ERR_IO, "%s: closing failed: %s", w->path, sf_error_number(cerr));
        goto done;
    }
    err = atomic_file_commit(&w->file); /* fsync, close, rename, folder fsync */
done:
    audio_writer_abort(w);
    return err;
}

void audio_writer_abort(AudioWriter *w) {
    if (!w) return;
    if (w->sf) sf_close(w->sf);
    atomic_file_abort(&w->file); /* removes the temporary unless committed */
    free(w->shorts);
    free(w->path);
    free(w);
}

// The whole-file writer is the block writer with one block: the same checks, the same PCM16
// rule, the same temporary-and-rename.
int audio_write(const char *path, const float *samples, int64_t frames, int channels,
                int sample_rate, AudioWriteFormat format) {
    if (path && strcmp(path, "-") != 0 && (frames < 1 || !samples))
        return ls_error(LS_ERR_RANGE, "%s: nothing to write (%" PRId64 " frames)", path, frames);
    AudioWriter *w = NULL;
    int err = audio_writer_open(&w, path, channels, sample_rate, format);
    if (err < 0) return err;
    if ((err = audio_writer_write(w, samples, frames)) < 0) {
        audio_writer_abort(w);
        return err;
    }
    return audio_writer_commit(w);
}

