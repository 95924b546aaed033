/*
 * hf.c — transformers directories opened as model files and written whole; see hf.h.
 *
 * Writing a directory "whole or not at all": everything goes into a sibling temporary
 * directory DIR.tmp-XXXXXX (same file system, so renames are atomic), each file fsync'd, the
 * directory fsync'd, and then one rename puts it in place (rename(2) may replace an empty
 * directory). With --force over a model directory, renameat2(RENAME_EXCHANGE) swaps the two
 * directories in one step; where the file system cannot exchange, the old one is moved aside
 * first (DIR is then missing for an instant, never half-written). Only then are the old
 * directory's files removed — only names export itself writes, checked before anything moved.
 */
#include "pipeline/hf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/encode.h"
#include "models/hf.h"
#include "pipeline/cli.h"

// ---------------------------------------------------------------------------- open

/* The value of key @p key of object @p o as JSON text (malloc'd), or NULL when absent. */
static int member_text(const cJSON *o, const char *key, char **text) {
    *text = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!item) return 0;
    char *printed = cJSON_PrintUnformatted(item);
    *text = printed ? strdup(printed) : NULL;
    cJSON_free(printed);
    return *text ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

int hf_dir_open(ModelFile *mf, const char *dir, const Device *dev) {
    *mf = (ModelFile){0};
    mf->data = (DataSettings){EXAMPLE_DNA, DNA_SOFTMASK_UPPER, 0, AUDIO_CODES_MULAW8};
    char *longscan = NULL, *data = NULL, *labels = NULL, *where = NULL;
    cJSON *ls = NULL;
    mf->path = strdup(dir);
    size_t where_size = strlen(dir) + 64;
    where = malloc(where_size);
    if (!mf->path || !where) {
        free(where);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    int status = model_load_hf(&mf->model, dir, dev, &longscan);
    if (status < 0) goto fail;
    if (longscan) {
        ls = cJSON_Parse(longscan);
        if ((status = member_text(ls, "data", &data)) < 0 ||
            (status = member_text(ls, "labels", &labels)) < 0)
            goto fail;
    }
    if (data) {
        snprintf(where, where_size, "%s/config.json: key 'longscan.data'", dir);
        if ((status = checkpoint_data_from_json(&mf->data, data, where)) < 0) goto fail;
    }
    if (labels) {
        snprintf(where, where_size, "%s/config.json: key 'longscan.labels'", dir);
        if ((status = label_map_from_json(&mf->labels, labels, where)) < 0) goto fail;
    }
    const ModelConfig *cfg = model_config(mf->model);
    if (cfg->task == MODEL_TASK_CLASSIFY) {
        if (!mf->labels || label_map_count(mf->labels) != cfg->n_classes) {
            status = ls_error(LS_ERR_FORMAT, "%s/config.json: key 'longscan.labels' %s for %lld "
                              "classes", dir, mf->labels ? "holds another number of names"
                                                          : "missing", (long long)cfg->n_classes);
            goto fail;
        }
    }
    if (mf->data.kind == EXAMPLE_AUDIO && mf->data.audio_codes == AUDIO_CODES_NONE) {
        status = ls_error(LS_ERR_FORMAT, "%s/config.json: key 'longscan.data': audio_codes "
                          "\"none\" (float samples) cannot feed a token model", dir);
        goto fail;
    }
    /* every id the encoding produces must be in the vocabulary; more ids are fine */
    int64_t alphabet = mf->data.kind == EXAMPLE_AUDIO ? 256 : DNA_VOCAB;
    if (cfg->vocab < alphabet) {
        status = ls_error(LS_ERR_UNSUPPORTED, "%s/config.json: key 'vocab_size' is %lld, fewer "
                          "ids than longscan's %s (%s) needs", dir, (long long)cfg->vocab,
                          alphabet == 256 ? "8-bit audio codes" : "DNA alphabet",
                          alphabet == 256 ? "0..255" : "A C G T N = 0..4");
        goto fail;
    }
fail:
    cJSON_Delete(ls);
    free(longscan);
    free(data);
    free(labels);
    free(where);
    return status;
}

// ---------------------------------------------------------------------------- write

/* Names export writes, and so the only ones --force may replace. */
static int export_owned(const char *name) {
    return strcmp(name, "config.json") == 0 || strcmp(name, "generation_config.json") == 0 ||
           strcmp(name, "model.safetensors") == 0 ||
           strcmp(name, "model.safetensors.index.json") == 0 ||
           fnmatch("model-*-of-*.safetensors", name, 0) == 0 ||
           strcmp(name, "config.json.tmp") == 0 || strcmp(name, "model.safetensors.tmp") == 0;
}

/*
 * What is at @p dir: *state 0 nothing, 1 an empty directory, 2 a directory of files export
 * owns. Anything else is an error (not a directory; not empty without force; a foreign file).
 */
static int target_state(const char *dir, int force, int *state) {
    struct stat st;
    *state = 0;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) return 0;
        return ls_error(LS_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return ls_error(LS_ERR_USAGE, "%s: exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return ls_error(LS_ERR_IO, "%s: cannot read: %s", dir, strerror(errno));
    int status = 0, entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && status == 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        entries++;
        if (!force) {
            status = ls_error(LS_ERR_USAGE, "%s: directory not empty (give --force to replace "
                              "the model in it)", dir);
            break;
        }
        struct stat fst;
        int regular = fstatat(dirfd(d), e->d_name, &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(fst.st_mode);
        if (!regular || !export_owned(e->d_name))
            status = ls_error(LS_ERR_USAGE, "%s: holds '%s', which export does not write; "
                              "--force replaces only a model directory (move it away or choose "
                              "another directory)", dir, e->d_name);
    }
    closedir(d);
    if (status == 0) *state = entries ? 2 : 1;
    return status;
}

/* Remove the files export owns from @p dir, then the directory (best effort: cleanup). */
static void remove_model_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (export_owned(e->d_name)) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The directory holding @p path (malloc'd): "." for a bare name. */
static char *parent_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The "longscan" object of config.json: data settings, labels, version. */
static int longscan_object(const ModelFile *mf, char **json) {
    char *data = NULL, *labels = NULL;
    int status = checkpoint_data_to_json(&mf->data, &data);
    if (status < 0) return status;
    if (mf->labels && (status = label_map_to_json(mf->labels, &labels)) < 0) {
        free(data);
        return status;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *d = cJSON_Parse(data), *l = labels ? cJSON_Parse(labels) : NULL;
    int ok = o && d && (!labels || l);
    if (ok) {
        cJSON_AddItemToObject(o, "data", d), d = NULL;
        if (l) cJSON_AddItemToObject(o, "labels", l), l = NULL;
        ok = cJSON_AddStringToObject(o, "longscan_version", LONGSCAN_VERSION) != NULL;
    }
    char *printed = ok ? cJSON_PrintUnformatted(o) : NULL;
    *json = printed ? strdup(printed) : NULL;
    cJSON_free(printed);
    cJSON_Delete(o);
    cJSON_Delete(d);
    cJSON_Delete(l);
    free(data);
    free(labels);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

int hf_dir_write(const ModelFile *mf, const char *dir_arg, int force) {
    char *dir = NULL, *parent = NULL, *tmp = NULL, *old = NULL, *json = NULL;
    int made_tmp = 0, state = 0;
    int status = model_hf_check(model_config(mf->model));
    if (status < 0) {
        ls_error_prefix("%s", mf->path);
        return status;
    }
    /* "out/" and "out" are the same target; the sibling must not land inside it */
    size_t n = strlen(dir_arg);
    while (n > 1 && dir_arg[n - 1] == '/') n--;
    dir = strndup(dir_arg, n);
    if (!dir) return ls_error(LS_ERR_NOMEM, "out of memory");
    parent = parent_of(dir);
    tmp = malloc(n + 16);
    old = malloc(n + 16);
    if (!parent || !tmp || !old) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((status = target_state(dir, force, &state)) < 0) goto fail;
    if ((status = longscan_object(mf, &json)) < 0) goto fail;
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        status = ls_error(LS_ERR_IO, "%s: cannot create a temporary directory beside it: %s",
                          dir, strerror(errno));
        goto fail;
    }
    made_tmp = 1;
    if ((status = model_save_hf(mf->model, tmp, json)) < 0) goto fail;
    if (fsync_dir(tmp) != 0) {
        status = ls_error(LS_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (state < 2) { /* nothing there, or an empty directory: one rename */
        if (rename(tmp, dir) != 0) {
            status = ls_error(LS_ERR_IO, "%s: cannot rename %s to it: %s", dir, tmp,
                              strerror(errno));
            goto fail;
        }
        made_tmp = 0;
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        remove_model_dir(tmp); /* now the old model */
        made_tmp = 0;
    } else { /* no exchange on this file system: move the old one aside, then rename */
        snprintf(old, n + 16, "%s.old-XXXXXX", dir);
        if (!mkdtemp(old) || rename(dir, old) != 0 || rename(tmp, dir) != 0) {
            status = ls_error(LS_ERR_IO, "%s: cannot replace it with %s: %s", dir, tmp,
                              strerror(errno));
            if (access(dir, F_OK) != 0) rename(old, dir); /* put the old one back */
            rmdir(old);
            goto fail;
        }
        made_tmp = 0;
        remove_model_dir(old);
    }
    fsync_dir(parent); /* best effort: the rename reaches the disk */
fail:
    if (made_tmp) remove_model_dir(tmp);
    free(dir);
    free(parent);
    free(tmp);
    free(old);
    free(json);
    return status;
}
