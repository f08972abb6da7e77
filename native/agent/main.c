/*
 * svcdup-agent: the long-lived Windows-side agent.
 *
 * Reads one JSON request per line on stdin, answers one JSON line on
 * stdout, in order (docs/agent-protocol.md). Standard handles are used raw
 * (ReadFile/WriteFile), so there is no CRT text-mode translation and no
 * buffering to flush: each response is written out before the next read.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest request line kept; longer ones are drained and answered with an
 * error, so a runaway writer cannot exhaust memory. */
#define MAX_LINE (64u * 1024 * 1024)

static const struct {
    const char *name;
    op_handler handler;
} ops[] = {
    {"ping", op_ping},
    {"reg.query", op_reg_query},
    {"reg.get", op_reg_get},
    {"reg.set", op_reg_set},
    {"reg.createKey", op_reg_create_key},
    {"reg.deleteValue", op_reg_delete_value},
    {"reg.deleteKey", op_reg_delete_key},
    {"reg.copyTree", op_reg_copy_tree},
    {"reg.export", op_reg_export},
    {"scm.list", op_scm_list},
    {"scm.config", op_scm_config},
    {"scm.create", op_scm_create},
    {"scm.change", op_scm_change},
    {"scm.start", op_scm_start},
    {"scm.control", op_scm_control},
    {"scm.status", op_scm_status},
    {"scm.delete", op_scm_delete},
    {"proc.list", op_proc_list},
    {"proc.kill", op_proc_kill},
};

/* ------------------------------------------------------------ request memory */

struct arena_block {
    struct arena_block *next;
    /* payload follows, aligned by the union below */
    union {
        long long ll;
        double d;
        void *p;
    } align[];
};

void *rq_alloc(struct request *rq, size_t size)
{
    struct arena_block *b = malloc(sizeof(*b) + size);
    if (!b) return NULL;
    b->next = rq->arena;
    rq->arena = b;
    return b->align;
}

static void rq_free_all(struct request *rq)
{
    while (rq->arena) {
        struct arena_block *next = rq->arena->next;
        free(rq->arena);
        rq->arena = next;
    }
}

WCHAR *rq_wstr(struct request *rq, const char *utf8, size_t bytes, size_t *len)
{
    size_t n = json_utf8_to_utf16(utf8, bytes, NULL, 0);
    WCHAR *w = rq_alloc(rq, (n + 1) * sizeof(WCHAR));
    if (!w) return NULL;
    json_utf8_to_utf16(utf8, bytes, (uint16_t *)w, n + 1);
    if (len) *len = n;
    return w;
}

/* ------------------------------------------------------------ param helpers */

BOOL param_present(struct request *rq, const char *name)
{
    const json_value *v = json_get(rq->params, name);
    return v && v->type != JSON_NULL;
}

DWORD invalid_param(struct request *rq, const char *name)
{
    snprintf(rq->detail, sizeof(rq->detail), "param %s", name);
    return ERROR_INVALID_PARAMETER;
}

DWORD param_wstr(struct request *rq, const char *name, BOOL required, BOOL allow_nul, WCHAR **out, size_t *len)
{
    const json_value *v = json_get(rq->params, name);
    *out = NULL;
    if (len) *len = 0;
    if (!v || v->type == JSON_NULL) return required ? invalid_param(rq, name) : ERROR_SUCCESS;
    if (v->type != JSON_STRING) return invalid_param(rq, name);
    if (!allow_nul && memchr(v->str, 0, v->len)) return invalid_param(rq, name);
    if (!(*out = rq_wstr(rq, v->str, v->len, len))) return ERROR_NOT_ENOUGH_MEMORY;
    return ERROR_SUCCESS;
}

DWORD param_int(struct request *rq, const char *name, BOOL required, double min, double max, double dflt, double *out)
{
    const json_value *v = json_get(rq->params, name);
    *out = dflt;
    if (!v || v->type == JSON_NULL) return required ? invalid_param(rq, name) : ERROR_SUCCESS;
    if (v->type != JSON_NUMBER || v->number != (double)(long long)v->number || v->number < min || v->number > max)
        return invalid_param(rq, name);
    *out = v->number;
    return ERROR_SUCCESS;
}

DWORD param_wstr_array(struct request *rq, const char *name, WCHAR ***out, size_t *count)
{
    const json_value *v = json_get(rq->params, name);
    size_t i;
    *out = NULL;
    *count = 0;
    if (!v || v->type == JSON_NULL) return ERROR_SUCCESS;
    if (v->type != JSON_ARRAY) return invalid_param(rq, name);
    if (!(*out = rq_alloc(rq, (v->count + 1) * sizeof(WCHAR *)))) return ERROR_NOT_ENOUGH_MEMORY;
    for (i = 0; i < v->count; i++) {
        const json_value *s = v->items[i];
        if (s->type != JSON_STRING || memchr(s->str, 0, s->len)) return invalid_param(rq, name);
        if (!((*out)[i] = rq_wstr(rq, s->str, s->len, NULL))) return ERROR_NOT_ENOUGH_MEMORY;
    }
    (*out)[v->count] = NULL;
    *count = v->count;
    return ERROR_SUCCESS;
}

/* ------------------------------------------------------------ output helpers */

void out_wstr(json_writer *w, const WCHAR *s, size_t len)
{
    if (!s) s = L"";
    if (len == (size_t)-1) len = wcslen(s);
    json_string16(w, (const uint16_t *)s, len);
}

void out_key_wstr(json_writer *w, const char *key, const WCHAR *s)
{
    json_key(w, key);
    out_wstr(w, s, (size_t)-1);
}

void out_key_uint(json_writer *w, const char *key, unsigned long long v)
{
    json_key(w, key);
    json_uint(w, v);
}

/* ------------------------------------------------------------ the loop */

static HANDLE std_out;
static json_writer resp, result; /* reused between requests */

/* Writes all of buf; a broken stdout means nobody listens any more. */
static void write_all(const char *buf, size_t len)
{
    while (len) {
        DWORD chunk = len > (1u << 30) ? (1u << 30) : (DWORD)len, done = 0;
        if (!WriteFile(std_out, buf, chunk, &done, NULL) || !done) ExitProcess(1);
        buf += done;
        len -= done;
    }
}

/* Echoes the request id: numbers verbatim, strings as strings, else null. */
static void write_id(json_writer *w, const json_value *id)
{
    json_key(w, "id");
    if (id && id->type == JSON_NUMBER)
        json_raw_value(w, id->str, id->len);
    else if (id && id->type == JSON_STRING)
        json_string(w, id->str, id->len);
    else
        json_null(w);
}

static void respond_error(json_writer *w, const json_value *id, const char *op, DWORD code, const char *detail)
{
    json_writer_reset(w);
    json_begin_object(w);
    write_id(w, id);
    json_key(w, "ok");
    json_bool(w, 0);
    json_key(w, "error");
    write_error(w, op, code, detail);
    json_end_object(w);
    json_append(w, "\n", 1);
    if (w->failed) /* out of memory even for the error: a fixed line */
    {
        static const char msg[] = "{\"id\":null,\"ok\":false,\"error\":{\"op\":\"parse\",\"code\":8,"
                                  "\"message\":\"Not enough memory resources are available to process this command.\"}}\n";
        write_all(msg, sizeof(msg) - 1);
        return;
    }
    write_all(w->data, w->len);
}

/* Handles one request line; returns FALSE when the agent should exit. */
static BOOL handle_line(const char *line, size_t len)
{
    const char *perr = NULL;
    json_value *req;
    const json_value *id = NULL, *op, *params;
    struct request rq;
    static const json_value empty = {JSON_OBJECT, 0, 0, NULL, 0, 0, NULL, NULL};
    BOOL keep_running = TRUE;
    DWORD code;
    size_t i;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    if (!len) return TRUE; /* blank lines are not requests */

    if (!(req = json_parse(line, len, &perr))) {
        respond_error(&resp, NULL, "parse", ERROR_INVALID_DATA, perr);
        return TRUE;
    }
    if (req->type != JSON_OBJECT) {
        respond_error(&resp, NULL, "parse", ERROR_INVALID_DATA, "request is not an object");
        goto done;
    }
    id = json_get(req, "id");
    op = json_get(req, "op");
    if (!op || op->type != JSON_STRING) {
        respond_error(&resp, id, "parse", ERROR_INVALID_DATA, "missing op");
        goto done;
    }
    params = json_get(req, "params");
    if (params && params->type == JSON_NULL) params = NULL;
    if (params && params->type != JSON_OBJECT) {
        respond_error(&resp, id, op->str, ERROR_INVALID_PARAMETER, "params is not an object");
        goto done;
    }

    memset(&rq, 0, sizeof(rq));
    rq.op = op->str;
    rq.params = params ? params : &empty;
    rq.out = &result;
    json_writer_reset(&result);

    if (!strcmp(op->str, "exit")) {
        json_begin_object(&result);
        json_end_object(&result);
        code = ERROR_SUCCESS;
        keep_running = FALSE;
    } else {
        for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (!strcmp(op->str, ops[i].name)) break;
        if (i == sizeof(ops) / sizeof(ops[0])) {
            code = ERROR_NOT_SUPPORTED;
            snprintf(rq.detail, sizeof(rq.detail), "unknown op");
        } else
            code = ops[i].handler(&rq);
    }
    if (!code && result.failed) code = ERROR_NOT_ENOUGH_MEMORY;

    if (code)
        respond_error(&resp, id, op->str, code, rq.detail[0] ? rq.detail : NULL);
    else {
        json_writer_reset(&resp);
        json_begin_object(&resp);
        write_id(&resp, id);
        json_key(&resp, "ok");
        json_bool(&resp, 1);
        json_key(&resp, "result");
        if (result.len)
            json_raw_value(&resp, result.data, result.len);
        else
            json_raw_value(&resp, "{}", 2);
        json_end_object(&resp);
        json_append(&resp, "\n", 1);
        if (resp.failed)
            respond_error(&resp, id, op->str, ERROR_NOT_ENOUGH_MEMORY, NULL);
        else
            write_all(resp.data, resp.len);
    }
    rq_free_all(&rq);
    /* do not keep a huge export's buffers around between requests */
    if (result.cap > (1u << 20)) json_writer_free(&result);
    if (resp.cap > (1u << 20)) json_writer_free(&resp);
done:
    json_free(req);
    return keep_running;
}

int wmain(int argc, WCHAR **argv)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    static char chunk[64 * 1024];
    char *line = NULL;
    size_t line_len = 0, line_cap = 0;
    BOOL too_long = FALSE;

    /* never block on a dialog box: nobody is there to click it */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    std_out = GetStdHandle(STD_OUTPUT_HANDLE);

    for (;;) {
        DWORD got = 0;
        const char *p, *end, *nl;

        /* EOF and a broken pipe both end the session */
        if (!ReadFile(in, chunk, sizeof(chunk), &got, NULL) || !got) {
            if (line_len && !too_long) handle_line(line, line_len);
            break;
        }
        for (p = chunk, end = chunk + got; p < end; p = nl + 1) {
            size_t seg;
            nl = memchr(p, '\n', (size_t)(end - p));
            seg = (size_t)((nl ? nl : end) - p);
            if (!too_long && line_len + seg > MAX_LINE) {
                too_long = TRUE;
                free(line);
                line = NULL;
                line_len = line_cap = 0;
            }
            if (!too_long && seg) {
                if (line_len + seg > line_cap) {
                    size_t cap = line_cap ? line_cap : 4096;
                    char *bigger;
                    while (cap < line_len + seg) cap *= 2;
                    if (!(bigger = realloc(line, cap))) {
                        too_long = TRUE; /* treated like an overlong line */
                        free(line);
                        line = NULL;
                        line_len = line_cap = 0;
                    } else {
                        line = bigger;
                        line_cap = cap;
                    }
                }
                if (!too_long) {
                    memcpy(line + line_len, p, seg);
                    line_len += seg;
                }
            }
            if (!nl) break;
            if (too_long) {
                respond_error(&resp, NULL, "parse", ERROR_INVALID_DATA, "request line too long");
                too_long = FALSE;
            } else if (!handle_line(line, line_len))
                goto out;
            line_len = 0;
            /* give back the memory of an unusually long line */
            if (line_cap > (1u << 20)) {
                free(line);
                line = NULL;
                line_cap = 0;
            }
        }
    }
out:
    free(line);
    return 0;
}
