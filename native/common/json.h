/*
 * A small JSON reader and writer for the svcdup native parts.
 *
 * The reader builds a tree (json_parse / json_free). Strings are stored as
 * UTF-8; \u escapes, including surrogate pairs, are decoded. A lone
 * surrogate escape (which Windows names can contain, and JSON.stringify
 * emits as "\udXXX") is kept as its 3-byte WTF-8 form, so that
 * json_utf8_to_utf16 restores exactly the original UTF-16.
 *
 * The writer appends to a growable buffer and inserts commas itself.
 * json_string16 writes UTF-16 text (the W APIs' strings) as JSON.
 *
 * Plain C, no Windows headers: reusable by every native component.
 */
#ifndef SVCDUP_JSON_H
#define SVCDUP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;

struct json_value {
    json_type type;
    int boolean;        /* JSON_BOOL */
    double number;      /* JSON_NUMBER */
    char *str;          /* JSON_STRING: UTF-8, NUL-terminated; JSON_NUMBER: the token text */
    size_t len;         /* JSON_STRING: byte length (may contain NUL) */
    size_t count;       /* JSON_ARRAY / JSON_OBJECT: number of items */
    json_value **items; /* JSON_ARRAY / JSON_OBJECT: the values */
    char **keys;        /* JSON_OBJECT: the keys (UTF-8) */
};

/* Parses exactly one JSON value (surrounding whitespace allowed).
 * Returns NULL on error with *error set to a static description. */
json_value *json_parse(const char *text, size_t len, const char **error);
void json_free(json_value *v);

/* Object member by key, or NULL (also when obj is not an object). */
const json_value *json_get(const json_value *obj, const char *key);

/* Converts UTF-8 (WTF-8 tolerated) to UTF-16. out may be NULL to measure.
 * Returns the number of UTF-16 units (without terminator); out gets a
 * terminating 0 when out_cap allows. Invalid bytes become U+FFFD. */
size_t json_utf8_to_utf16(const char *s, size_t len, uint16_t *out, size_t out_cap);

/* Output buffer. On allocation failure `failed` is set and writes stop. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed;
    int need_comma;
} json_writer;

void json_writer_init(json_writer *w);
void json_writer_free(json_writer *w);
void json_writer_reset(json_writer *w);

void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *utf8, size_t len);
void json_cstring(json_writer *w, const char *utf8);
void json_string16(json_writer *w, const uint16_t *s, size_t len);
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
void json_bool(json_writer *w, int v);
void json_null(json_writer *w);
/* Writes an already-encoded JSON value (e.g. a number token) verbatim. */
void json_raw_value(json_writer *w, const char *text, size_t len);
/* Appends bytes with no comma logic (used to splice whole documents). */
void json_append(json_writer *w, const char *text, size_t len);

#endif
