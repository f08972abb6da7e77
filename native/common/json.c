/*
 * A small JSON reader and writer (see json.h). Hand-written on purpose:
 * the native parts take no third-party code.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any request; bounds the recursion on hostile input. */
#define JSON_MAX_DEPTH 256

/* ---------------------------------------------------------------- reader */

typedef struct {
    const char *p;
    const char *end;
    const char *error;
} parser;

static json_value *parse_value(parser *ps, int depth);

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static json_value *new_value(parser *ps, json_type type)
{
    json_value *v = calloc(1, sizeof(*v));
    if (!v)
        ps->error = "out of memory";
    else
        v->type = type;
    return v;
}

/* A growable byte string used while decoding a JSON string. */
typedef struct {
    char *s;
    size_t len, cap;
} bytes;

static int bytes_put(bytes *b, const char *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        char *s;
        while (cap < b->len + n + 1) cap *= 2;
        if (!(s = realloc(b->s, cap))) return 0;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, src, n);
    b->len += n;
    b->s[b->len] = 0;
    return 1;
}

/* Encodes one code point (or a lone surrogate, as WTF-8) into out. */
static size_t encode_utf8(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Parses a string token; ps->p is on the opening quote. */
static int parse_string_raw(parser *ps, char **out, size_t *out_len)
{
    bytes b = {0};
    ps->p++;
    for (;;) {
        const char *run = ps->p;
        char buf[4];
        uint32_t c, lo;

        /* copy plain runs in one go: long values are common (hex data) */
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) ps->p++;
        if (ps->p > run && !bytes_put(&b, run, (size_t)(ps->p - run))) goto oom;
        if (ps->p >= ps->end) {
            ps->error = "unterminated string";
            goto fail;
        }
        if (*ps->p == '"') break;
        if ((unsigned char)*ps->p < 0x20) {
            ps->error = "control character in string";
            goto fail;
        }

        /* backslash escape */
        if (ps->end - ps->p < 2) {
            ps->error = "unterminated string";
            goto fail;
        }
        ps->p++;
        switch (*ps->p++) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            if (ps->end - ps->p < 4 || !hex4(ps->p, &c)) {
                ps->error = "bad \\u escape";
                goto fail;
            }
            ps->p += 4;
            /* join a surrogate pair; a lone half is kept as is (WTF-8) */
            if (c >= 0xd800 && c <= 0xdbff && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' && hex4(ps->p + 2, &lo) &&
                lo >= 0xdc00 && lo <= 0xdfff) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                ps->p += 6;
            }
            break;
        default: ps->error = "bad escape"; goto fail;
        }
        if (!bytes_put(&b, buf, encode_utf8(c, buf))) goto oom;
    }
    ps->p++; /* closing quote */
    if (!b.s && !bytes_put(&b, "", 0)) goto oom;
    *out = b.s;
    *out_len = b.len;
    return 1;
oom:
    ps->error = "out of memory";
fail:
    free(b.s);
    return 0;
}

static json_value *parse_number(parser *ps)
{
    const char *start = ps->p;
    json_value *v;
    size_t n;

    /* strict JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') goto bad;
    if (*ps->p == '0')
        ps->p++;
    else
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') goto bad;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') goto bad;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (!(v = new_value(ps, JSON_NUMBER))) return NULL;
    n = (size_t)(ps->p - start);
    if (!(v->str = malloc(n + 1))) {
        free(v);
        ps->error = "out of memory";
        return NULL;
    }
    memcpy(v->str, start, n);
    v->str[n] = 0;
    v->len = n;
    v->number = strtod(v->str, NULL);
    return v;
bad:
    ps->error = "bad number";
    return NULL;
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) return 0;
    ps->p += n;
    return 1;
}

/* Adds item (and key, for objects) to a container. The capacity is implied
 * by the count (4, then doubling), so full means count is 0 or a power of
 * two of at least 4. */
static int container_add(parser *ps, json_value *c, char *key, json_value *item)
{
    if (c->count == 0 || (c->count >= 4 && (c->count & (c->count - 1)) == 0)) {
        size_t cap = c->count ? c->count * 2 : 4;
        json_value **items = realloc(c->items, cap * sizeof(*items));
        if (!items) goto oom;
        c->items = items;
        if (c->type == JSON_OBJECT) {
            char **keys = realloc(c->keys, cap * sizeof(*keys));
            if (!keys) goto oom;
            c->keys = keys;
        }
    }
    c->items[c->count] = item;
    if (c->type == JSON_OBJECT) c->keys[c->count] = key;
    c->count++;
    return 1;
oom:
    ps->error = "out of memory";
    return 0;
}

static json_value *parse_container(parser *ps, int depth, int is_object)
{
    json_value *c = new_value(ps, is_object ? JSON_OBJECT : JSON_ARRAY);
    char close = is_object ? '}' : ']';
    if (!c) return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return c;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len;
        json_value *item;

        skip_ws(ps);
        if (is_object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                ps->error = "expected a key";
                goto fail;
            }
            if (!parse_string_raw(ps, &key, &key_len)) goto fail;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                ps->error = "expected ':'";
                goto fail;
            }
            ps->p++;
        }
        if (!(item = parse_value(ps, depth + 1))) {
            free(key);
            goto fail;
        }
        if (!container_add(ps, c, key, item)) {
            free(key);
            json_free(item);
            goto fail;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return c;
        }
        ps->error = is_object ? "expected ',' or '}'" : "expected ',' or ']'";
        goto fail;
    }
fail:
    json_free(c);
    return NULL;
}

static json_value *parse_value(parser *ps, int depth)
{
    json_value *v;

    if (depth > JSON_MAX_DEPTH) {
        ps->error = "nested too deeply";
        return NULL;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        ps->error = "unexpected end of input";
        return NULL;
    }
    switch (*ps->p) {
    case '{': return parse_container(ps, depth, 1);
    case '[': return parse_container(ps, depth, 0);
    case '"':
        if (!(v = new_value(ps, JSON_STRING))) return NULL;
        if (!parse_string_raw(ps, &v->str, &v->len)) {
            free(v);
            return NULL;
        }
        return v;
    case 't':
    case 'f':
        if (literal(ps, "true")) {
            if ((v = new_value(ps, JSON_BOOL))) v->boolean = 1;
            return v;
        }
        if (literal(ps, "false")) return new_value(ps, JSON_BOOL);
        break;
    case 'n':
        if (literal(ps, "null")) return new_value(ps, JSON_NULL);
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps);
        break;
    }
    ps->error = "unexpected character";
    return NULL;
}

json_value *json_parse(const char *text, size_t len, const char **error)
{
    parser ps = {text, text + len, NULL};
    json_value *v = parse_value(&ps, 0);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            json_free(v);
            v = NULL;
            ps.error = "trailing characters after the value";
        }
    }
    if (error) *error = v ? NULL : ps.error;
    return v;
}

void json_free(json_value *v)
{
    size_t i;
    if (!v) return;
    for (i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const json_value *json_get(const json_value *obj, const char *key)
{
    size_t i;
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    /* the last duplicate wins, as in JavaScript */
    for (i = obj->count; i-- > 0;)
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

size_t json_utf8_to_utf16(const char *str, size_t len, uint16_t *out, size_t out_cap)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    size_t n = 0;

#define PUT(u)                                          \
    do {                                                \
        if (out && n < out_cap) out[n] = (uint16_t)(u); \
        n++;                                            \
    } while (0)
#define CONT(i) (s + (i) < end && (s[i] & 0xc0) == 0x80)
    while (s < end) {
        uint32_t c = s[0];
        if (c < 0x80) {
            PUT(c);
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf && CONT(1)) {
            PUT(((c & 0x1f) << 6) | (s[1] & 0x3f));
            s += 2;
            continue;
        }
        /* three bytes; surrogates (ED A0..BF) are accepted: WTF-8 */
        if (c >= 0xe0 && c <= 0xef && CONT(1) && CONT(2) && !(c == 0xe0 && s[1] < 0xa0)) {
            PUT(((c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f));
            s += 3;
            continue;
        }
        if (c >= 0xf0 && c <= 0xf4 && CONT(1) && CONT(2) && CONT(3) && !(c == 0xf0 && s[1] < 0x90) && !(c == 0xf4 && s[1] > 0x8f)) {
            uint32_t cp = ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) | ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
            cp -= 0x10000;
            PUT(0xd800 + (cp >> 10));
            PUT(0xdc00 + (cp & 0x3ff));
            s += 4;
            continue;
        }
        PUT(0xfffd);
        s++;
    }
#undef CONT
#undef PUT
    if (out && n < out_cap) out[n] = 0;
    return n;
}

/* ---------------------------------------------------------------- writer */

void json_writer_init(json_writer *w) { memset(w, 0, sizeof(*w)); }

void json_writer_free(json_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof(*w));
}

void json_writer_reset(json_writer *w)
{
    w->len = 0;
    w->failed = 0;
    w->need_comma = 0;
}

void json_append(json_writer *w, const char *text, size_t n)
{
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        char *d;
        while (cap < w->len + n + 1) cap *= 2;
        if (!(d = realloc(w->data, cap))) {
            w->failed = 1;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, text, n);
    w->len += n;
    w->data[w->len] = 0;
}

/* Every value and key goes through here: a comma is due after any
 * completed value, never right after '{', '[' or a key. */
static void before_value(json_writer *w)
{
    if (w->need_comma) json_append(w, ",", 1);
    w->need_comma = 0;
}

/* An object or array opens as a value does; once closed it is a completed value. */
static void open_container(json_writer *w, const char *bracket)
{
    before_value(w);
    json_append(w, bracket, 1);
}

static void close_container(json_writer *w, const char *bracket)
{
    json_append(w, bracket, 1);
    w->need_comma = 1;
}

void json_begin_object(json_writer *w) { open_container(w, "{"); }
void json_end_object(json_writer *w) { close_container(w, "}"); }
void json_begin_array(json_writer *w) { open_container(w, "["); }
void json_end_array(json_writer *w) { close_container(w, "]"); }

void json_key(json_writer *w, const char *key)
{
    json_cstring(w, key);
    json_append(w, ":", 1);
    w->need_comma = 0;
}

static void put_escape(json_writer *w, uint32_t u)
{
    char buf[8];
    snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)u);
    json_append(w, buf, 6);
}

/* Escapes one ASCII character if JSON needs it; returns 1 if handled. */
static int put_ascii(json_writer *w, unsigned char c)
{
    switch (c) {
    case '"': json_append(w, "\\\"", 2); return 1;
    case '\\': json_append(w, "\\\\", 2); return 1;
    case '\n': json_append(w, "\\n", 2); return 1;
    case '\r': json_append(w, "\\r", 2); return 1;
    case '\t': json_append(w, "\\t", 2); return 1;
    case '\b': json_append(w, "\\b", 2); return 1;
    case '\f': json_append(w, "\\f", 2); return 1;
    }
    if (c < 0x20) {
        put_escape(w, c);
        return 1;
    }
    return 0;
}

void json_string(json_writer *w, const char *utf8, size_t len)
{
    const unsigned char *s = (const unsigned char *)utf8, *end = s + len, *run;

    before_value(w);
    json_append(w, "\"", 1);
    while (s < end) {
        run = s;
        while (s < end && *s >= 0x20 && *s != '"' && *s != '\\' && *s != 0xed) s++;
        json_append(w, (const char *)run, (size_t)(s - run));
        if (s >= end) break;
        if (*s == 0xed && end - s >= 3 && s[1] >= 0xa0 && s[1] <= 0xbf) {
            /* WTF-8 lone surrogate: only expressible as an escape */
            put_escape(w, 0xd000 | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f));
            s += 3;
        } else if (*s == 0xed)
            json_append(w, (const char *)s++, 1);
        else
            put_ascii(w, *s++);
    }
    json_append(w, "\"", 1);
    w->need_comma = 1;
}

void json_cstring(json_writer *w, const char *utf8) { json_string(w, utf8, strlen(utf8)); }

void json_string16(json_writer *w, const uint16_t *s, size_t len)
{
    size_t i;
    char buf[4];

    before_value(w);
    json_append(w, "\"", 1);
    for (i = 0; i < len; i++) {
        uint32_t c = s[i];
        if (c < 0x80) {
            if (!put_ascii(w, (unsigned char)c)) json_append(w, buf, encode_utf8(c, buf));
        } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00u);
            i++;
            json_append(w, buf, encode_utf8(c, buf));
        } else if (c >= 0xd800 && c <= 0xdfff)
            put_escape(w, c); /* lone surrogate: keep it, escaped */
        else
            json_append(w, buf, encode_utf8(c, buf));
    }
    json_append(w, "\"", 1);
    w->need_comma = 1;
}

void json_int(json_writer *w, int64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    json_raw_value(w, buf, (size_t)n);
}

void json_uint(json_writer *w, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    json_raw_value(w, buf, (size_t)n);
}

void json_bool(json_writer *w, int v)
{
    if (v)
        json_raw_value(w, "true", 4);
    else
        json_raw_value(w, "false", 5);
}

void json_null(json_writer *w) { json_raw_value(w, "null", 4); }

void json_raw_value(json_writer *w, const char *text, size_t len)
{
    before_value(w);
    json_append(w, text, len);
    w->need_comma = 1;
}
