/*
 * labels.h — class labels: the LabelMap (label names ↔ integer ids, saved in checkpoints) and
 * the LabelTable (a `name<TAB>label` file read for `--labels`).
 *
 * LabelMap ids. A map built from data assigns ids in sorted label order once all labels are
 * known (label_map_sort): numerically when every label is an integer ("2" < "10"), so digit
 * or 0/1 labels keep their own value as id; otherwise bytewise (strcmp) order. A map given
 * from outside (a trained model's, read from its checkpoint) is used as it is, and a label
 * it does not hold is then an error. JSON form: an array of the names, index = id,
 * e.g. ["ecoli","hpylori","saureus","vcholerae"].
 *
 * Label table file (`--labels`, `--valid-labels`): `name<TAB>label`, columns after the second
 * ignored, lines starting with '#' (header or comment) and blank lines skipped, CRLF
 * accepted. Each of these is an error naming the file and the line: fewer than two columns,
 * an empty name, an empty label, a name given twice, a name or label that is not valid UTF-8
 * (labels are saved in the model as JSON text). A file with no entries is an error.
 * The names are record names (FASTA/FASTQ/BAM) or, for whole-file examples (audio files,
 * one-sequence text files), file paths: as written, or relative to the table's own folder.
 *
 * Tested by tests/unit/test_dataset.c (fixtures in tests/data/dataset/).
 */
#ifndef LS_LABELS_H
#define LS_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

// ---------------------------------------------------------------------------- LabelMap

typedef struct LabelMap LabelMap;

/** An empty map. @return 0 or LS_ERR_NOMEM. Free with label_map_free(). */
int label_map_init(LabelMap **out) LS_RESULT_USED;

/** Free; NULL is a no-op. */
void label_map_free(LabelMap *map);

/** A copy of @p src (same ids). @return 0 or LS_ERR_NOMEM. Free with label_map_free(). */
int label_map_copy(LabelMap **out, const LabelMap *src) LS_RESULT_USED;

/** Number of labels; ids are 0 .. count-1. */
int32_t label_map_count(const LabelMap *map);

/** The name of @p id, or NULL when out of range. Owned by the map. */
const char *label_map_name(const LabelMap *map, int32_t id);

/** The id of @p name, or -1 when the map does not hold it. */
int32_t label_map_find(const LabelMap *map, const char *name);

/**
 * Add @p name if absent (next id) and give its id in *id (may be NULL).
 * @return 0; LS_ERR_RANGE for an empty name; LS_ERR_NOMEM.
 */
int label_map_add(LabelMap *map, const char *name, int32_t *id) LS_RESULT_USED;

/**
 * Renumber the ids in sorted label order (rule in the file comment).
 * @param old_to_new  NULL, or (count) receiving each old id's new id.
 * @return 0 or LS_ERR_NOMEM.
 */
int label_map_sort(LabelMap *map, int32_t *old_to_new) LS_RESULT_USED;

/**
 * "a, b, c" — the labels in id order, for messages; cut with ", …" to fit @p size bytes.
 * @return @p buf.
 */
char *label_map_describe(const LabelMap *map, char *buf, size_t size);

/** The JSON array of names (index = id), compact. @return 0 and *json (free()), or LS_ERR_NOMEM. */
int label_map_to_json(const LabelMap *map, char **json) LS_RESULT_USED;

/**
 * Parse a JSON array of label names (as written by label_map_to_json).
 * @param where  names the source in messages (e.g. "model.safetensors: metadata labels").
 * @return 0 and *out (free with label_map_free()); LS_ERR_FORMAT for bad JSON, a non-string
 *         or empty entry, or a duplicate name; LS_ERR_NOMEM.
 */
int label_map_from_json(LabelMap **out, const char *json, const char *where) LS_RESULT_USED;

/** The same as a cJSON array, for a caller building checkpoint metadata; NULL: out of memory. */
struct cJSON *label_map_to_cjson(const LabelMap *map);

/** From a cJSON array (see label_map_from_json). */
int label_map_from_cjson(LabelMap **out, const struct cJSON *array,
                         const char *where) LS_RESULT_USED;

// ---------------------------------------------------------------------------- LabelTable

typedef struct LabelTable LabelTable;

/**
 * Read a `name<TAB>label` file (rules in the file comment).
 * @return 0 and *out (free with label_table_free()); LS_ERR_IO (missing or unreadable),
 *         LS_ERR_FORMAT (message "<file>:<line>: <what>"), LS_ERR_NOMEM.
 */
int label_table_read(LabelTable **out, const char *path) LS_RESULT_USED;

/** Free; NULL is a no-op. */
void label_table_free(LabelTable *table);

/** The path the table was read from (owned by the table). */
const char *label_table_path(const LabelTable *table);

/** Number of entries. */
int64_t label_table_count(const LabelTable *table);

/**
 * The label of @p name, or NULL; marks the entry used.
 * @param line  may be NULL; receives the entry's 1-based line.
 */
const char *label_table_lookup(LabelTable *table, const char *name, int64_t *line);

/**
 * The label of the file at @p path: the entry whose name, taken relative to the table's folder
 * (or absolute), is the same file (compared by device and inode, so "./a.wav", "dir/../a.wav"
 * and symbolic links all match). NULL when none; marks the entry used.
 * @return the label, or NULL (also when @p path does not exist).
 */
const char *label_table_lookup_file(LabelTable *table, const char *path, int64_t *line);

/**
 * How many entries no lookup has used, with the first of them (by line) for a message.
 * @param first_name, first_line  may be NULL.
 */
int64_t label_table_unused(const LabelTable *table, const char **first_name,
                           int64_t *first_line);

#ifdef __cplusplus
}
#endif
#endif
