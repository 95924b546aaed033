/*
 * labels.c — LabelMap and LabelTable of labels.h.
 *
 * Both index their names with htslib's khash (string keys pointing at strings the object
 * owns). The table keeps its entries in file order so "first unused entry" and duplicate
 * messages can name lines. File lookups (label_table_lookup_file) stat every entry once, on
 * first use, and binary-search (device, inode) pairs after that.
 * Tested by tests/unit/test_dataset.c.
 */
#include "io/labels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <htslib/khash.h>

#include "common/utf8.h"
#include "io/tsv_internal.h"

KHASH_MAP_INIT_STR(lbl, int64_t)

// ---------------------------------------------------------------------------- LabelMap

struct LabelMap {
    char       **names;   /* (count) id → name, owned */
    int32_t      count;
    int32_t      cap;
    khash_t(lbl) *index;  /* name → id; keys point into names[] */
};

int label_map_init(LabelMap **out) {
    *out = NULL;
    LabelMap *map = calloc(1, sizeof *map);
    if (!map) return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    map->index = kh_init(lbl);
    if (!map->index) {
        free(map);
        return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    }
    *out = map;
    return 0;
}

void label_map_free(LabelMap *map) {
    if (!map) return;
    for (int32_t i = 0; i < map->count; i++) free(map->names[i]);
    free(map->names);
    kh_destroy(lbl, map->index);
    free(map);
}

int32_t label_map_count(const LabelMap *map) { return map ? map->count : 0; }

const char *label_map_name(const LabelMap *map, int32_t id) {
    return map && id >= 0 && id < map->count ? map->names[id] : NULL;
}

int32_t label_map_find(const LabelMap *map, const char *name) {
    khint_t k = kh_get(lbl, map->index, name);
    return k == kh_end(map->index) ? -1 : (int32_t)kh_val(map->index, k);
}

int label_map_add(LabelMap *map, const char *name, int32_t *id) {
    if (!name || !*name) return ls_error(LS_ERR_RANGE, "label map: empty label name");
    int32_t have = label_map_find(map, name);
    if (have >= 0) {
        if (id) *id = have;
        return 0;
    }
    if (map->count == INT32_MAX) return ls_error(LS_ERR_RANGE, "label map: too many labels");
    if (map->count == map->cap) {
        int32_t cap = map->cap ? (map->cap > INT32_MAX / 2 ? INT32_MAX : map->cap * 2) : 16;
        char **names = realloc(map->names, (size_t)cap * sizeof *names);
        if (!names) return ls_error(LS_ERR_NOMEM, "label map: out of memory");
        map->names = names;
        map->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    int ret;
    khint_t k = kh_put(lbl, map->index, copy, &ret);
    if (ret < 0) {
        free(copy);
        return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    }
    kh_val(map->index, k) = map->count;
    map->names[map->count] = copy;
    if (id) *id = map->count;
    map->count++;
    return 0;
}

int label_map_copy(LabelMap **out, const LabelMap *src) {
    LabelMap *map = NULL;
    int status = label_map_init(&map);
    if (status < 0) return status;
    for (int32_t i = 0; i < src->count; i++) {
        status = label_map_add(map, src->names[i], NULL);
        if (status < 0) goto fail;
    }
    *out = map;
    return 0;
fail:
    label_map_free(map);
    *out = NULL;
    return status;
}

/* An integer label: optional '-', then digits only, fitting in long long. */
static int parse_integer_label(const char *s, long long *value) {
    const char *p = s + (*s == '-');
    if (!*p) return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    errno = 0;
    char *end;
    *value = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

typedef struct {
    const char *name;
    long long   value;
    int32_t     old_id;
} SortKey;

static int compare_numeric(const void *a, const void *b) {
    const SortKey *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return strcmp(x->name, y->name); /* "1" and "01": keep an order, still deterministic */
}

static int compare_bytes(const void *a, const void *b) {
    return strcmp(((const SortKey *)a)->name, ((const SortKey *)b)->name);
}

int label_map_sort(LabelMap *map, int32_t *old_to_new) {
    if (map->count == 0) return 0;
    SortKey *keys = malloc((size_t)map->count * sizeof *keys);
    char **names = malloc((size_t)map->count * sizeof *names);
    int status = 0;
    if (!keys || !names) {
        status = ls_error(LS_ERR_NOMEM, "label map: out of memory");
        goto fail;
    }
    int numeric = 1;
    for (int32_t i = 0; i < map->count; i++) {
        keys[i] = (SortKey){map->names[i], 0, i};
        if (numeric && !parse_integer_label(map->names[i], &keys[i].value)) numeric = 0;
    }
    qsort(keys, (size_t)map->count, sizeof *keys, numeric ? compare_numeric : compare_bytes);
    for (int32_t i = 0; i < map->count; i++) {
        names[i] = map->names[keys[i].old_id];
        if (old_to_new) old_to_new[keys[i].old_id] = i;
        khint_t k = kh_get(lbl, map->index, names[i]);
        kh_val(map->index, k) = i;
    }
    memcpy(map->names, names, (size_t)map->count * sizeof *names);
fail:
    free(keys);
    free(names);
    return status;
}

char *label_map_describe(const LabelMap *map, char *buf, size_t size) {
    if (size == 0) return buf;
    buf[0] = '\0';
    size_t used = 0;
    int32_t count = label_map_count(map);
    for (int32_t i = 0; i < count; i++) {
        const char *sep = i ? ", " : "";
        /* keep room for ", …" (5 bytes) after every name but the last */
        size_t reserve = i + 1 < count ? 5 : 0;
        if (used + strlen(sep) + strlen(map->names[i]) + reserve + 1 > size) {
            if (used + 6 <= size) snprintf(buf + used, size - used, "%s…", sep);
            break;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, map->names[i]);
    }
    return buf;
}

struct cJSON *label_map_to_cjson(const LabelMap *map) {
    cJSON *array = cJSON_CreateArray();
    if (!array) return NULL;
    for (int32_t i = 0; i < map->count; i++) {
        cJSON *item = cJSON_CreateString(map->names[i]);
        if (!item) {
            cJSON_Delete(array);
            return NULL;
        }
        cJSON_AddItemToArray(array, item);
    }
    return array;
}

int label_map_to_json(const LabelMap *map, char **json) {
    *json = NULL;
    cJSON *array = label_map_to_cjson(map);
    if (!array) return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    char *text = cJSON_PrintUnformatted(array);
    cJSON_Delete(array);
    if (!text) return ls_error(LS_ERR_NOMEM, "label map: out of memory");
    /* cJSON allocates with its own hooks (malloc by default); hand back a malloc'd copy so
     * the caller's free() is right whatever the hooks are */
    *json = strdup(text);
    cJSON_free(text);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "label map: out of memory");
}

int label_map_from_cjson(LabelMap **out, const struct cJSON *array, const char *where) {
    *out = NULL;
    if (!cJSON_IsArray(array))
        return ls_error(LS_ERR_FORMAT, "%s: labels must be a JSON array of strings", where);
    LabelMap *map = NULL;
    int status = label_map_init(&map);
    if (status < 0) return status;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        if (!cJSON_IsString(item) || !item->valuestring || !*item->valuestring) {
            status = ls_error(LS_ERR_FORMAT, "%s: label %d is not a non-empty string", where, i);
            goto fail;
        }
        if (label_map_find(map, item->valuestring) >= 0) {
            status = ls_error(LS_ERR_FORMAT, "%s: label '%s' appears twice", where,
                              item->valuestring);
            goto fail;
        }
        status = label_map_add(map, item->valuestring, NULL);
        if (status < 0) goto fail;
        i++;
    }
    *out = map;
    return 0;
fail:
    label_map_free(map);
    return status;
}

int label_map_from_json(LabelMap **out, const char *json, const char *where) {
    *out = NULL;
    cJSON *root = cJSON_Parse(json);
    if (!root) return ls_error(LS_ERR_FORMAT, "%s: labels are not valid JSON", where);
    int status = label_map_from_cjson(out, root, where);
    cJSON_Delete(root);
    return status;
}

// ---------------------------------------------------------------------------- LabelTable

typedef struct {
    char   *name;
    char   *label;
    int64_t line;
    int     used;
} LabelEntry;

typedef struct {
    dev_t   dev;
    ino_t   ino;
    int64_t entry;
} FileKey;

struct LabelTable {
    char         *path;
    char         *dir;       /* folder of path, with a trailing '/', or "" */
    LabelEntry   *entries;   /* (count) in file order */
    int64_t       count;
    int64_t       cap;
    khash_t(lbl) *index;     /* name → entry */
    FileKey      *files;     /* (n_files) sorted by (dev, ino); built on first file lookup */
    int64_t       n_files;
    int           files_built;
};

void label_table_free(LabelTable *table) {
    if (!table) return;
    for (int64_t i = 0; i < table->count; i++) {
        free(table->entries[i].name);
        free(table->entries[i].label);
    }
    free(table->entries);
    if (table->index) kh_destroy(lbl, table->index);
    free(table->files);
    free(table->path);
    free(table->dir);
    free(table);
}

static int table_add(LabelTable *t, const char *name, const char *label, int64_t line) {
    if (t->count == t->cap) {
        int64_t cap = t->cap ? t->cap * 2 : 256;
        LabelEntry *e = realloc(t->entries, (size_t)cap * sizeof *e);
        if (!e) return ls_error(LS_ERR_NOMEM, "%s:%lld: out of memory", t->path, (long long)line);
        t->entries = e;
        t->cap = cap;
    }
    LabelEntry *e = &t->entries[t->count];
    e->name = strdup(name);
    e->label = strdup(label);
    e->line = line;
    e->used = 0;
    if (!e->name || !e->label) {
        free(e->name);
        free(e->label);
        return ls_error(LS_ERR_NOMEM, "%s:%lld: out of memory", t->path, (long long)line);
    }
    int ret;
    khint_t k = kh_put(lbl, t->index, e->name, &ret);
    if (ret < 0) {
        free(e->name);
        free(e->label);
        return ls_error(LS_ERR_NOMEM, "%s:%lld: out of memory", t->path, (long long)line);
    }
    kh_val(t->index, k) = t->count++;
    return 0;
}

int label_table_read(LabelTable **out, const char *path) {
    *out = NULL;
    TsvReader r = {0};
    LabelTable *t = calloc(1, sizeof *t);
    int status = 0;
    if (!t || !(t->path = strdup(path)) || !(t->index = kh_init(lbl))) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    t->dir = strndup(path, dir_len);
    if (!t->dir) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    status = tsv_open(&r, path);
    if (status < 0) goto fail;
    while ((status = tsv_next(&r)) > 0) {
        if (r.comment) continue;
        long long line = (long long)r.line_no;
        if (r.n_fields < 2) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: expected name<TAB>label, found one "
                              "column (is the file tab-separated?)", path, line);
            goto fail;
        }
        const char *name = r.fields[0], *label = r.fields[1];
        if (!*name) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: empty name in column 1", path, line);
            goto fail;
        }
        if (!*label) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: empty label for '%s'", path, line, name);
            goto fail;
        }
        /* labels are saved in the model as JSON text, names match UTF-8 record names: a
         * byte that is not UTF-8 is refused here rather than when saving after the run */
        for (int col = 0; col < 2; col++) {
            const char *text = r.fields[col];
            size_t bad = utf8_check(text, strlen(text));
            if (bad == SIZE_MAX) continue;
            char shown[160];
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: %s '%s' is not valid UTF-8 (byte 0x%02x "
                              "at offset %zu); names and labels are saved as UTF-8 text", path,
                              line, col ? "label" : "name", utf8_escape(shown, sizeof shown, text),
                              (unsigned char)text[bad], bad);
            goto fail;
        }
        khint_t k = kh_get(lbl, t->index, name);
        if (k != kh_end(t->index)) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: duplicate name '%s' (first on line %lld)",
                              path, line, name,
                              (long long)t->entries[kh_val(t->index, k)].line);
            goto fail;
        }
        status = table_add(t, name, label, r.line_no);
        if (status < 0) goto fail;
    }
    if (status < 0) goto fail;
    if (t->count == 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: no name<TAB>label lines (only comments or blank "
                          "lines)", path);
        goto fail;
    }
    tsv_close(&r);
    *out = t;
    return 0;
fail:
    tsv_close(&r);
    label_table_free(t);
    return status;
}

const char *label_table_path(const LabelTable *table) { return table->path; }
int64_t label_table_count(const LabelTable *table) { return table->count; }

const char *label_table_lookup(LabelTable *table, const char *name, int64_t *line) {
    khint_t k = kh_get(lbl, table->index, name);
    if (k == kh_end(table->index)) return NULL;
    LabelEntry *e = &table->entries[kh_val(table->index, k)];
    e->used = 1;
    if (line) *line = e->line;
    return e->label;
}

static int compare_file_keys(const void *a, const void *b) {
    const FileKey *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* stat every entry's name as a path (relative names taken from the table's folder). */
static int table_build_files(LabelTable *t) {
    t->files_built = 1;
    t->files = malloc((size_t)(t->count ? t->count : 1) * sizeof *t->files);
    if (!t->files) return -1;
    size_t dir_len = strlen(t->dir);
    char *buf = NULL;
    size_t buf_cap = 0;
    for (int64_t i = 0; i < t->count; i++) {
        const char *name = t->entries[i].name;
        const char *full = name;
        if (name[0] != '/' && dir_len) {
            size_t need = dir_len + strlen(name) + 1;
            if (need > buf_cap) {
                char *b = realloc(buf, need);
                if (!b) break;
                buf = b;
                buf_cap = need;
            }
            memcpy(buf, t->dir, dir_len);
            strcpy(buf + dir_len, name);
            full = buf;
        }
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            t->files[t->n_files++] = (FileKey){st.st_dev, st.st_ino, i};
    }
    free(buf);
    qsort(t->files, (size_t)t->n_files, sizeof *t->files, compare_file_keys);
    return 0;
}

const char *label_table_lookup_file(LabelTable *table, const char *path, int64_t *line) {
    if (!table->files_built && table_build_files(table) < 0) return NULL;
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    FileKey key = {st.st_dev, st.st_ino, -1};
    /* lower bound of (dev, ino): the first entry naming that file */
    int64_t lo = 0, hi = table->n_files;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (compare_file_keys(&table->files[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == table->n_files || table->files[lo].dev != key.dev || table->files[lo].ino != key.ino)
        return NULL;
    LabelEntry *e = &table->entries[table->files[lo].entry];
    e->used = 1;
    if (line) *line = e->line;
    return e->label;
}

int64_t label_table_unused(const LabelTable *table, const char **first_name,
                           int64_t *first_line) {
    int64_t n = 0;
    if (first_name) *first_name = NULL;
    if (first_line) *first_line = 0;
    for (int64_t i = 0; i < table->count; i++) {
        if (table->entries[i].used) continue;
        if (n == 0) {
            if (first_name) *first_name = table->entries[i].name;
            if (first_line) *first_line = table->entries[i].line;
        }
        n++;
    }
    return n;
}
