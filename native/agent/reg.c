/*
 * reg.* ops: registry access for the control plane.
 *
 * Every key is opened with KEY_WOW64_64KEY so a 64-bit view is used even
 * if the agent is ever built 32-bit. Values travel as {name, type, data}
 * with data encoded by type (docs/agent-protocol.md); copyTree copies raw
 * bytes, so it is exact even for values the JSON form cannot express.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WOW64          KEY_WOW64_64KEY
#define MAX_VALUE_NAME 16384 /* 16383 chars + NUL: the registry's limit */
#define MAX_KEY_NAME   256   /* 255 chars + NUL */
#define MAX_DEPTH      512   /* the registry's nesting limit */

static const struct {
    const WCHAR *name;
    HKEY key;
} roots[] = {
    {L"HKLM", HKEY_LOCAL_MACHINE},  {L"HKEY_LOCAL_MACHINE", HKEY_LOCAL_MACHINE},
    {L"HKCU", HKEY_CURRENT_USER},   {L"HKEY_CURRENT_USER", HKEY_CURRENT_USER},
    {L"HKCR", HKEY_CLASSES_ROOT},   {L"HKEY_CLASSES_ROOT", HKEY_CLASSES_ROOT},
    {L"HKU", HKEY_USERS},           {L"HKEY_USERS", HKEY_USERS},
    {L"HKCC", HKEY_CURRENT_CONFIG}, {L"HKEY_CURRENT_CONFIG", HKEY_CURRENT_CONFIG},
};

static const struct {
    const char *name;
    DWORD type;
} types[] = {
    {"REG_NONE", REG_NONE},
    {"REG_SZ", REG_SZ},
    {"REG_EXPAND_SZ", REG_EXPAND_SZ},
    {"REG_BINARY", REG_BINARY},
    {"REG_DWORD", REG_DWORD},
    {"REG_DWORD_BIG_ENDIAN", REG_DWORD_BIG_ENDIAN},
    {"REG_LINK", REG_LINK},
    {"REG_MULTI_SZ", REG_MULTI_SZ},
    {"REG_RESOURCE_LIST", REG_RESOURCE_LIST},
    {"REG_FULL_RESOURCE_DESCRIPTOR", REG_FULL_RESOURCE_DESCRIPTOR},
    {"REG_RESOURCE_REQUIREMENTS_LIST", REG_RESOURCE_REQUIREMENTS_LIST},
    {"REG_QWORD", REG_QWORD},
};

/* A key path split into its root and the path below it. */
struct key_path {
    HKEY root;
    WCHAR *sub;  /* "" for the root itself */
    WCHAR *last; /* the last component (the root's name for a root) */
};

/* Parses ROOT\path from the named param. */
static DWORD parse_key(struct request *rq, const char *param, struct key_path *kp)
{
    WCHAR *s, *sep, *end;
    size_t i, len;
    DWORD err = param_wstr(rq, param, TRUE, FALSE, &s, &len);
    if (err) return err;

    sep = wcschr(s, L'\\');
    if (sep) *sep = 0;
    for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        if (!_wcsicmp(s, roots[i].name)) break;
    if (i == sizeof(roots) / sizeof(roots[0])) return invalid_param(rq, param);
    kp->root = roots[i].key;
    kp->last = s;
    kp->sub = sep ? sep + 1 : s + wcslen(s);
    /* tolerate doubled and trailing separators */
    while (*kp->sub == L'\\') kp->sub++;
    end = kp->sub + wcslen(kp->sub);
    while (end > kp->sub && end[-1] == L'\\') *--end = 0;
    if (*kp->sub) {
        WCHAR *slash = wcsrchr(kp->sub, L'\\');
        kp->last = slash ? slash + 1 : kp->sub;
    }
    return ERROR_SUCCESS;
}

static DWORD open_key(struct request *rq, const char *param, REGSAM access, HKEY *key, struct key_path *kp)
{
    struct key_path local;
    DWORD err;
    if (!kp) kp = &local;
    if ((err = parse_key(rq, param, kp))) return err;
    return (DWORD)RegOpenKeyExW(kp->root, kp->sub, 0, access | WOW64, key);
}

static const char *type_name(DWORD type, char *buf, size_t size)
{
    size_t i;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == type) return types[i].name;
    /* types outside the list keep their number, and reg.set accepts it back */
    snprintf(buf, size, "REG_TYPE_%lu", type);
    return buf;
}

static BOOL parse_type(const char *s, DWORD *type)
{
    size_t i;
    char *end;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].name, s)) {
            *type = types[i].type;
            return TRUE;
        }
    if (!strncmp(s, "REG_TYPE_", 9) && s[9] >= '0' && s[9] <= '9') {
        unsigned long long v = strtoull(s + 9, &end, 10);
        if (!*end && v <= 0xffffffffull) {
            *type = (DWORD)v;
            return TRUE;
        }
    }
    return FALSE;
}

/* ------------------------------------------------------------ value encoding */

static void write_data(json_writer *w, DWORD type, const BYTE *data, DWORD size)
{
    const WCHAR *s = (const WCHAR *)data;
    size_t n = size / sizeof(WCHAR), i, start;
    BYTE b[8] = {0};
    static const char hex[] = "0123456789abcdef";

    switch (type) {
    case REG_SZ:
    case REG_EXPAND_SZ:
        /* exactly one terminating NUL is dropped: reg.set adds it back */
        if (n && !s[n - 1]) n--;
        out_wstr(w, s, n);
        return;
    case REG_LINK:
        /* link targets are stored without a terminator; keep all of it */
        out_wstr(w, s, n);
        return;
    case REG_MULTI_SZ:
        /* the inverse of reg.set: drop the list terminator, then every
         * string ends with NUL ("a\0b\0\0" -> [a,b], "\0" -> []) */
        if (n && !s[n - 1]) n--;
        json_begin_array(w);
        for (start = 0, i = 0; i < n; i++)
            if (!s[i]) {
                out_wstr(w, s + start, i - start);
                start = i + 1;
            }
        if (start < n) out_wstr(w, s + start, n - start); /* unterminated last string */
        json_end_array(w);
        return;
    case REG_DWORD:
    case REG_DWORD_BIG_ENDIAN:
        /* a malformed size is zero-padded/truncated: the type promises a number */
        memcpy(b, data, size < 4 ? size : 4);
        if (type == REG_DWORD)
            json_uint(w, (DWORD)b[0] | (DWORD)b[1] << 8 | (DWORD)b[2] << 16 | (DWORD)b[3] << 24);
        else
            json_uint(w, (DWORD)b[3] | (DWORD)b[2] << 8 | (DWORD)b[1] << 16 | (DWORD)b[0] << 24);
        return;
    case REG_QWORD: {
        char buf[32];
        unsigned long long q;
        memcpy(b, data, size < 8 ? size : 8);
        memcpy(&q, b, 8);
        snprintf(buf, sizeof(buf), "%llu", q);
        json_cstring(w, buf);
        return;
    }
    default: {
        /* hex, built in chunks so huge values need no huge temporary */
        char buf[512];
        DWORD k = 0, j;
        json_raw_value(w, "\"", 1);
        while (k < size) {
            for (j = 0; j < sizeof(buf) / 2 && k < size; j++, k++) {
                buf[2 * j] = hex[data[k] >> 4];
                buf[2 * j + 1] = hex[data[k] & 15];
            }
            json_append(w, buf, 2 * j);
        }
        json_append(w, "\"", 1);
        return;
    }
    }
}

static void write_value(json_writer *w, const WCHAR *name, size_t name_len, DWORD type, const BYTE *data, DWORD size)
{
    char tbuf[32];
    json_begin_object(w);
    json_key(w, "name");
    out_wstr(w, name, name_len);
    json_key(w, "type");
    json_cstring(w, type_name(type, tbuf, sizeof(tbuf)));
    json_key(w, "data");
    write_data(w, type, data, size);
    json_end_object(w);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Encodes params.data for the given type into raw registry bytes. */
static DWORD encode_data(struct request *rq, DWORD type, BYTE **out, DWORD *size)
{
    const json_value *d = json_get(rq->params, "data");
    size_t i, len, total;
    WCHAR *s;
    BYTE *p;
    DWORD err;

    if (!d) return invalid_param(rq, "data");
    switch (type) {
    case REG_SZ:
    case REG_EXPAND_SZ:
    case REG_LINK:
        if ((err = param_wstr(rq, "data", TRUE, TRUE, &s, &len))) return err;
        *out = (BYTE *)s;
        *size = (DWORD)((len + (type != REG_LINK)) * sizeof(WCHAR)); /* links: no NUL */
        return ERROR_SUCCESS;
    case REG_MULTI_SZ: {
        WCHAR **items;
        size_t count;
        if (d->type != JSON_ARRAY) return invalid_param(rq, "data");
        if ((err = param_wstr_array(rq, "data", &items, &count))) return err;
        for (total = 1, i = 0; i < count; i++) total += wcslen(items[i]) + 1;
        if (!(s = rq_alloc(rq, total * sizeof(WCHAR)))) return ERROR_NOT_ENOUGH_MEMORY;
        for (len = 0, i = 0; i < count; i++) {
            wcscpy(s + len, items[i]);
            len += wcslen(items[i]) + 1;
        }
        s[len] = 0;
        *out = (BYTE *)s;
        *size = (DWORD)(total * sizeof(WCHAR));
        return ERROR_SUCCESS;
    }
    case REG_DWORD:
    case REG_DWORD_BIG_ENDIAN: {
        double v;
        DWORD u;
        /* negative numbers are accepted as their 32-bit two's complement */
        if ((err = param_int(rq, "data", TRUE, -2147483648.0, 4294967295.0, 0, &v))) return err;
        u = v < 0 ? (DWORD)(long long)v : (DWORD)v;
        if (!(p = rq_alloc(rq, 4))) return ERROR_NOT_ENOUGH_MEMORY;
        if (type == REG_DWORD_BIG_ENDIAN) u = (u >> 24) | ((u >> 8) & 0xff00) | ((u << 8) & 0xff0000) | (u << 24);
        memcpy(p, &u, 4);
        *out = p;
        *size = 4;
        return ERROR_SUCCESS;
    }
    case REG_QWORD: {
        unsigned long long q;
        if (d->type == JSON_STRING) {
            /* decimal, optionally negative (two's complement) */
            const char *t = d->str + (d->str[0] == '-');
            char *end;
            if (!*t || *t < '0' || *t > '9') return invalid_param(rq, "data");
            errno = 0;
            q = strtoull(t, &end, 10);
            if (*end || errno == ERANGE || (size_t)(end - d->str) != d->len) return invalid_param(rq, "data");
            if (d->str[0] == '-') q = (unsigned long long)(-(long long)q);
        } else {
            double v;
            if ((err = param_int(rq, "data", TRUE, -9007199254740992.0, 9007199254740992.0, 0, &v))) return err;
            q = (unsigned long long)(long long)v;
        }
        if (!(p = rq_alloc(rq, 8))) return ERROR_NOT_ENOUGH_MEMORY;
        memcpy(p, &q, 8);
        *out = p;
        *size = 8;
        return ERROR_SUCCESS;
    }
    default:
        if (d->type != JSON_STRING || d->len % 2) return invalid_param(rq, "data");
        if (!(p = rq_alloc(rq, d->len / 2 + 1))) return ERROR_NOT_ENOUGH_MEMORY;
        for (i = 0; i < d->len / 2; i++) {
            int hi = hex_digit(d->str[2 * i]), lo = hex_digit(d->str[2 * i + 1]);
            if (hi < 0 || lo < 0) return invalid_param(rq, "data");
            p[i] = (BYTE)(hi << 4 | lo);
        }
        *out = p;
        *size = (DWORD)(d->len / 2);
        return ERROR_SUCCESS;
    }
}

/* ------------------------------------------------------------ enumeration */

/* Buffers reused while walking a tree. */
struct walker {
    WCHAR name[MAX_VALUE_NAME];
    BYTE *data;
    DWORD data_cap;
    json_writer *out;
    char where[600]; /* UTF-8 path of the key that failed, for the detail */
};

/* Reads value #index into w->name / w->data; returns the RegEnumValueW code. */
static LSTATUS enum_value(HKEY key, DWORD index, struct walker *w, DWORD *name_len, DWORD *type, DWORD *size)
{
    /* never pass a NULL buffer: RegEnumValueW would then succeed without data */
    if (!w->data) {
        if (!(w->data = malloc(4096 + 2))) return ERROR_NOT_ENOUGH_MEMORY;
        w->data_cap = 4096;
    }
    for (;;) {
        LSTATUS r;
        *name_len = MAX_VALUE_NAME;
        *size = w->data_cap;
        r = RegEnumValueW(key, index, w->name, name_len, NULL, type, w->data, size);
        if (r != ERROR_MORE_DATA) return r;
        /* the data did not fit: grow to what the registry asked for */
        {
            DWORD cap = *size > w->data_cap ? *size : (w->data_cap ? w->data_cap * 2 : 4096);
            BYTE *bigger = realloc(w->data, cap + 2);
            if (!bigger) return ERROR_NOT_ENOUGH_MEMORY;
            w->data = bigger;
            w->data_cap = cap;
        }
    }
}

static DWORD write_values(HKEY key, struct walker *w)
{
    DWORD i, name_len, type, size;
    LSTATUS r;

    json_begin_array(w->out);
    for (i = 0;; i++) {
        r = enum_value(key, i, w, &name_len, &type, &size);
        if (r == ERROR_NO_MORE_ITEMS) break;
        if (r) return (DWORD)r;
        write_value(w->out, w->name, name_len, type, w->data, size);
    }
    json_end_array(w->out);
    return ERROR_SUCCESS;
}

/* Collects the subkey names (a snapshot: the caller may change the key). */
static DWORD list_subkeys(HKEY key, WCHAR ***names, DWORD *count)
{
    DWORD cap = 0, n = 0;
    WCHAR **list = NULL, buf[MAX_KEY_NAME];
    LSTATUS r;

    for (;;) {
        DWORD len = MAX_KEY_NAME;
        r = RegEnumKeyExW(key, n, buf, &len, NULL, NULL, NULL, NULL);
        if (r == ERROR_NO_MORE_ITEMS) break;
        if (r) goto fail;
        if (n == cap) {
            WCHAR **bigger = realloc(list, (cap = cap ? cap * 2 : 16) * sizeof(*list));
            if (!bigger) {
                r = ERROR_NOT_ENOUGH_MEMORY;
                goto fail;
            }
            list = bigger;
        }
        if (!(list[n] = malloc((len + 1) * sizeof(WCHAR)))) {
            r = ERROR_NOT_ENOUGH_MEMORY;
            goto fail;
        }
        memcpy(list[n], buf, (len + 1) * sizeof(WCHAR));
        n++;
    }
    *names = list;
    *count = n;
    return ERROR_SUCCESS;
fail:
    while (n) free(list[--n]);
    free(list);
    return (DWORD)r;
}

static void free_names(WCHAR **names, DWORD count)
{
    while (count) free(names[--count]);
    free(names);
}

/* Builds the path of the key that failed, for the error detail: each
 * level prepends its subkey's name while the error unwinds. */
static void note_failure(struct walker *w, const WCHAR *name)
{
    char part[MAX_KEY_NAME * 3 + 1], joined[sizeof(w->where)];
    if (!WideCharToMultiByte(CP_UTF8, 0, name, -1, part, sizeof(part), NULL, NULL)) return;
    snprintf(joined, sizeof(joined), "%s%s%s", part, w->where[0] ? "\\" : "", w->where);
    memcpy(w->where, joined, sizeof(joined));
}

/* ------------------------------------------------------------ ops */

/* A key's last write time (Wine and Windows update it on a value set or delete and on a
 * subkey's creation or deletion) as milliseconds since 1970, to a tenth of a microsecond:
 * vm commit compares a host key's with the VM's copy's to find conflicts. */
static void write_last_write(json_writer *w, HKEY key)
{
    FILETIME ft;
    ULONGLONG t, ms;
    char buf[40];
    int n;
    if (RegQueryInfoKeyW(key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &ft)) return;
    t = ((ULONGLONG)ft.dwHighDateTime << 32 | ft.dwLowDateTime);
    t = t > 116444736000000000ull ? t - 116444736000000000ull : 0; /* 1601 -> 1970, in 100 ns */
    ms = t / 10000;
    n = snprintf(buf, sizeof(buf), "%llu.%04u", ms, (unsigned)(t % 10000));
    json_key(w, "written");
    json_raw_value(w, buf, (size_t)n);
}

DWORD op_reg_query(struct request *rq)
{
    struct walker *w = calloc(1, sizeof(*w));
    WCHAR **names = NULL;
    DWORD count = 0, i, err;
    HKEY key;

    if (!w) return ERROR_NOT_ENOUGH_MEMORY;
    w->out = rq->out;
    if ((err = open_key(rq, "key", KEY_READ, &key, NULL))) goto done;
    json_begin_object(rq->out);
    write_last_write(rq->out, key);
    json_key(rq->out, "values");
    if (!(err = write_values(key, w)) && !(err = list_subkeys(key, &names, &count))) {
        json_key(rq->out, "subkeys");
        json_begin_array(rq->out);
        for (i = 0; i < count; i++) out_wstr(rq->out, names[i], (size_t)-1);
        json_end_array(rq->out);
        json_end_object(rq->out);
        free_names(names, count);
    }
    RegCloseKey(key);
done:
    free(w->data);
    free(w);
    return err;
}

DWORD op_reg_get(struct request *rq)
{
    WCHAR *name;
    BYTE *data = NULL;
    DWORD type, size = 0, err;
    HKEY key;

    if ((err = param_wstr(rq, "name", TRUE, FALSE, &name, NULL))) return err;
    if ((err = open_key(rq, "key", KEY_QUERY_VALUE, &key, NULL))) return err;
    for (;;) {
        BYTE *bigger;
        DWORD cap = size;
        err = (DWORD)RegQueryValueExW(key, name, NULL, &type, data, &size);
        if (err != ERROR_MORE_DATA && (err || data)) break;
        /* first call measures (data NULL); grow and read again on a race */
        if (size < cap) size = cap * 2;
        if (!(bigger = realloc(data, size + 2))) {
            err = ERROR_NOT_ENOUGH_MEMORY;
            break;
        }
        data = bigger;
    }
    if (!err) write_value(rq->out, name, wcslen(name), type, data, size);
    free(data);
    RegCloseKey(key);
    return err;
}

DWORD op_reg_set(struct request *rq)
{
    const json_value *t = json_get(rq->params, "type");
    struct key_path kp;
    WCHAR *name;
    BYTE *data = NULL;
    DWORD type, size = 0, err;
    HKEY key;

    if ((err = param_wstr(rq, "name", TRUE, FALSE, &name, NULL))) return err;
    if (!t || t->type != JSON_STRING || !parse_type(t->str, &type)) return invalid_param(rq, "type");
    if ((err = encode_data(rq, type, &data, &size))) return err;
    if ((err = parse_key(rq, "key", &kp))) return err;
    /* opened first, created only when missing: Wine 8 drops an existing key's class string
       (svcdup's markers) when RegCreateKeyEx opens it without one */
    err = (DWORD)RegOpenKeyExW(kp.root, kp.sub, 0, KEY_SET_VALUE | WOW64, &key);
    if (err == ERROR_FILE_NOT_FOUND)
        err = (DWORD)RegCreateKeyExW(kp.root, kp.sub, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_SET_VALUE | WOW64, NULL, &key, NULL);
    if (err) return err;
    err = (DWORD)RegSetValueExW(key, name, 0, type, data, size);
    RegCloseKey(key);
    return reply_empty(rq, err);
}

DWORD op_reg_create_key(struct request *rq)
{
    struct key_path kp;
    WCHAR *cls;
    DWORD disposition = 0, err;
    HKEY key;

    if ((err = parse_key(rq, "key", &kp))) return err;
    /* the class string (svcdup's copy-on-write markers) is given to a key this creates; an
       existing key is opened, not created: it keeps its own (see op_reg_set) */
    if ((err = param_wstr(rq, "class", FALSE, FALSE, &cls, NULL))) return err;
    err = (DWORD)RegOpenKeyExW(kp.root, kp.sub, 0, KEY_QUERY_VALUE | WOW64, &key);
    if (err == ERROR_FILE_NOT_FOUND) {
        /* the missing ancestors first, without the class (Wine gives it to every key it makes) */
        HKEY parent = kp.root;
        WCHAR *slash = wcsrchr(kp.sub, L'\\');
        const WCHAR *leaf = kp.sub;
        err = ERROR_SUCCESS;
        if (slash && cls && *cls) {
            *slash = 0;
            err =
                (DWORD)RegCreateKeyExW(kp.root, kp.sub, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_CREATE_SUB_KEY | WOW64, NULL, &parent, NULL);
            *slash = L'\\';
            leaf = slash + 1;
        }
        if (!err)
            err = (DWORD)RegCreateKeyExW(parent, leaf, 0, cls && *cls ? cls : NULL, REG_OPTION_NON_VOLATILE, KEY_QUERY_VALUE | WOW64, NULL,
                                         &key, &disposition);
        if (parent != kp.root) RegCloseKey(parent);
    }
    if (err) return err;
    RegCloseKey(key);
    json_begin_object(rq->out);
    json_key(rq->out, "created");
    json_bool(rq->out, disposition == REG_CREATED_NEW_KEY);
    json_end_object(rq->out);
    return ERROR_SUCCESS;
}

DWORD op_reg_delete_value(struct request *rq)
{
    WCHAR *name;
    DWORD err;
    HKEY key;

    if ((err = param_wstr(rq, "name", TRUE, FALSE, &name, NULL))) return err;
    if ((err = open_key(rq, "key", KEY_SET_VALUE, &key, NULL))) return err;
    err = (DWORD)RegDeleteValueW(key, name);
    RegCloseKey(key);
    return reply_empty(rq, err);
}

DWORD op_reg_delete_key(struct request *rq)
{
    struct key_path kp;
    DWORD err;
    HKEY key;

    if ((err = open_key(rq, "key", KEY_READ | KEY_SET_VALUE | DELETE, &key, &kp))) return err;
    if (!*kp.sub) {
        RegCloseKey(key);
        return invalid_param(rq, "key"); /* a root cannot be deleted */
    }
    /* empty it first (RegDeleteKeyEx only removes leaf keys), then the key */
    err = (DWORD)RegDeleteTreeW(key, NULL);
    RegCloseKey(key);
    if (!err) err = (DWORD)RegDeleteKeyExW(kp.root, kp.sub, WOW64, 0);
    return reply_empty(rq, err);
}

/* A key's class string (svcdup's copy-on-write markers live there, docs/state.md); "" when none. */
static void key_class(HKEY key, WCHAR *cls, DWORD chars)
{
    if (RegQueryInfoKeyW(key, cls, &chars, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)) cls[0] = 0;
}

static DWORD copy_tree(HKEY src, HKEY dst, struct walker *w, int depth)
{
    DWORD i, name_len, type, size, count, err;
    WCHAR **names;
    LSTATUS r;

    if (depth > MAX_DEPTH) return ERROR_CANTOPEN;
    for (i = 0;; i++) {
        r = enum_value(src, i, w, &name_len, &type, &size);
        if (r == ERROR_NO_MORE_ITEMS) break;
        if (r) return (DWORD)r;
        if ((r = RegSetValueExW(dst, w->name, 0, type, w->data, size))) return (DWORD)r;
    }
    if ((err = list_subkeys(src, &names, &count))) return err;
    for (i = 0; i < count && !err; i++) {
        HKEY s, d;
        WCHAR cls[256];
        if (!(err = (DWORD)RegOpenKeyExW(src, names[i], 0, KEY_READ | WOW64, &s))) {
            key_class(s, cls, 256);
            err = (DWORD)RegCreateKeyExW(dst, names[i], 0, cls[0] ? cls : NULL, REG_OPTION_NON_VOLATILE, KEY_ALL_ACCESS | WOW64, NULL, &d,
                                         NULL);
            if (!err) {
                err = copy_tree(s, d, w, depth + 1);
                RegCloseKey(d);
            }
            RegCloseKey(s);
        }
        if (err) note_failure(w, names[i]);
    }
    free_names(names, count);
    return err;
}

/* TRUE when b is a or lies below a (same root, case-insensitive path prefix). */
static BOOL is_within(const struct key_path *a, const struct key_path *b)
{
    size_t n = wcslen(a->sub);
    if (a->root != b->root) return FALSE;
    if (!n) return TRUE;
    if (wcslen(b->sub) < n || CompareStringOrdinal(a->sub, (int)n, b->sub, (int)n, TRUE) != CSTR_EQUAL) return FALSE;
    return b->sub[n] == 0 || b->sub[n] == L'\\';
}

DWORD op_reg_copy_tree(struct request *rq)
{
    struct key_path from, to;
    struct walker *w;
    DWORD err;
    HKEY src, dst;

    if ((err = open_key(rq, "from", KEY_READ, &src, &from))) return err;
    if ((err = parse_key(rq, "to", &to))) goto close_src;
    /* copying into itself would never end */
    if (is_within(&from, &to)) {
        err = invalid_param(rq, "to");
        goto close_src;
    }
    err = (DWORD)RegCreateKeyExW(to.root, to.sub, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_ALL_ACCESS | WOW64, NULL, &dst, NULL);
    if (err) goto close_src;
    if (!(w = calloc(1, sizeof(*w))))
        err = ERROR_NOT_ENOUGH_MEMORY;
    else {
        err = copy_tree(src, dst, w, 0);
        if (err && w->where[0]) snprintf(rq->detail, sizeof(rq->detail), "at subkey %s", w->where);
        free(w->data);
        free(w);
    }
    RegCloseKey(dst);
    reply_empty(rq, err);
close_src:
    RegCloseKey(src);
    return err;
}

static DWORD export_tree(HKEY key, const WCHAR *name, struct walker *w, int depth)
{
    WCHAR cls[256];
    DWORD count, i, err;
    WCHAR **names;

    if (depth > MAX_DEPTH) return ERROR_CANTOPEN;
    json_begin_object(w->out);
    json_key(w->out, "name");
    out_wstr(w->out, name, (size_t)-1);
    key_class(key, cls, 256);
    if (cls[0]) {
        json_key(w->out, "class");
        out_wstr(w->out, cls, (size_t)-1);
    }
    json_key(w->out, "values");
    if ((err = write_values(key, w))) return err;
    if ((err = list_subkeys(key, &names, &count))) return err;
    json_key(w->out, "subkeys");
    json_begin_array(w->out);
    for (i = 0; i < count && !err; i++) {
        HKEY sub;
        if (!(err = (DWORD)RegOpenKeyExW(key, names[i], 0, KEY_READ | WOW64, &sub))) {
            err = export_tree(sub, names[i], w, depth + 1);
            RegCloseKey(sub);
        }
        if (err) note_failure(w, names[i]);
    }
    free_names(names, count);
    if (err) return err;
    json_end_array(w->out);
    json_end_object(w->out);
    return ERROR_SUCCESS;
}

DWORD op_reg_export(struct request *rq)
{
    struct key_path kp;
    struct walker *w;
    DWORD err;
    HKEY key;

    if ((err = open_key(rq, "key", KEY_READ, &key, &kp))) return err;
    if (!(w = calloc(1, sizeof(*w))))
        err = ERROR_NOT_ENOUGH_MEMORY;
    else {
        w->out = rq->out;
        err = export_tree(key, kp.last, w, 0);
        if (err && w->where[0]) snprintf(rq->detail, sizeof(rq->detail), "at subkey %s", w->where);
        free(w->data);
        free(w);
    }
    RegCloseKey(key);
    return err;
}
