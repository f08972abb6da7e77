/*
 * svcdup-agent: the long-lived Windows-side agent.
 *
 * Reads one JSON request per line on stdin, answers one JSON line per
 * request on stdout, as each finishes (docs/agent-protocol.md): requests run
 * concurrently and replies carry the request's id. Standard handles are used
 * raw (ReadFile/WriteFile), so there is no CRT text-mode translation and no
 * buffering to flush.
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
    {"scm.wait", op_scm_wait},
    {"scm.delete", op_scm_delete},
    {"scm.failure", op_scm_failure},
    {"pipe.wait", op_pipe_wait},
    {"proc.list", op_proc_list},
    {"proc.kill", op_proc_kill},
    {"job.stats", op_job_stats},
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

DWORD reply_empty(struct request *rq, DWORD err)
{
    if (!err) {
        json_begin_object(rq->out);
        json_end_object(rq->out);
    }
    return err;
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

/* Requests run at once, each on a thread of the process's thread pool, at most
 * MAX_IN_FLIGHT of them: a StartService that waits seconds for a slow image must
 * not hold up the status polls and registry reads issued after it. Replies are
 * matched by id, so they go out in the order requests finish. Pool threads are
 * reused: under Wine a thread created per request cost more than most requests
 * (a ping 1.5-2.8 ms -> 0.3 ms, four at once 7-18 -> 1 ms, load 3-5). They get
 * the image's stack reserve (mingw's 2 MB; reg.export recurses once per key level). */
#define MAX_IN_FLIGHT 16

static HANDLE std_out;
static CRITICAL_SECTION out_lock; /* one reply line at a time on stdout */
static HANDLE slots;              /* semaphore: free request threads */

/* Writes a whole reply line; a broken stdout means nobody listens any more. */
static void write_all(const char *buf, size_t len)
{
    EnterCriticalSection(&out_lock);
    while (len) {
        DWORD chunk = len > (1u << 30) ? (1u << 30) : (DWORD)len, done = 0;
        if (!WriteFile(std_out, buf, chunk, &done, NULL) || !done) {
            /* say why on stderr: "exited (code 3)" alone explains nothing */
            static const char msg[] = "svcdup-agent: stdout is closed, exiting\n";
            DWORD ignored;
            WriteFile(GetStdHandle(STD_ERROR_HANDLE), msg, sizeof(msg) - 1, &ignored, NULL);
            ExitProcess(3);
        }
        buf += done;
        len -= done;
    }
    LeaveCriticalSection(&out_lock);
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

static void respond_error(const json_value *id, const char *op, DWORD code, const char *detail)
{
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    write_id(&w, id);
    json_key(&w, "ok");
    json_bool(&w, 0);
    json_key(&w, "error");
    write_error(&w, op, code, detail);
    json_end_object(&w);
    json_append(&w, "\n", 1);
    if (w.failed) /* out of memory even for the error: a fixed line */
    {
        static const char msg[] = "{\"id\":null,\"ok\":false,\"error\":{\"op\":\"parse\",\"code\":8,"
                                  "\"message\":\"Not enough memory resources are available to process this command.\"}}\n";
        write_all(msg, sizeof(msg) - 1);
    } else
        write_all(w.data, w.len);
    json_writer_free(&w);
}

/* Runs one parsed, well-formed request and writes its reply. */
static void run_request(const json_value *id, const char *opname, const json_value *params)
{
    static const json_value empty = {JSON_OBJECT, 0, 0, NULL, 0, 0, NULL, NULL};
    struct request rq;
    json_writer result, resp;
    DWORD code;
    size_t i;

    memset(&rq, 0, sizeof(rq));
    json_writer_init(&result);
    json_writer_init(&resp);
    rq.op = opname;
    rq.params = params ? params : &empty;
    rq.out = &result;

    if (!strcmp(opname, "exit")) {
        json_begin_object(&result);
        json_end_object(&result);
        code = ERROR_SUCCESS;
    } else {
        for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (!strcmp(opname, ops[i].name)) break;
        if (i == sizeof(ops) / sizeof(ops[0])) {
            code = ERROR_NOT_SUPPORTED;
            snprintf(rq.detail, sizeof(rq.detail), "unknown op");
        } else
            code = ops[i].handler(&rq);
    }
    if (!code && result.failed) code = ERROR_NOT_ENOUGH_MEMORY;

    if (code)
        respond_error(id, opname, code, rq.detail[0] ? rq.detail : NULL);
    else {
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
            respond_error(id, opname, ERROR_NOT_ENOUGH_MEMORY, NULL);
        else
            write_all(resp.data, resp.len);
    }
    if (rq.close_after) CloseServiceHandle(rq.close_after);
    rq_free_all(&rq);
    json_writer_free(&result);
    json_writer_free(&resp);
}

struct job {
    json_value *req;
    const json_value *id, *params;
    const char *op;
};

static void CALLBACK request_work(PTP_CALLBACK_INSTANCE inst, void *arg)
{
    struct job *j = arg;
    (void)inst;
    run_request(j->id, j->op, j->params);
    json_free(j->req);
    free(j);
    ReleaseSemaphore(slots, 1, NULL);
}

/* Waits until no request runs (every slot is free again), then frees the slots. */
static void drain(void)
{
    int i;
    for (i = 0; i < MAX_IN_FLIGHT; i++) WaitForSingleObject(slots, INFINITE);
    ReleaseSemaphore(slots, MAX_IN_FLIGHT, NULL);
}

/* Handles one request line; returns FALSE when the agent should exit. */
static BOOL handle_line(const char *line, size_t len)
{
    const char *perr = NULL;
    json_value *req;
    const json_value *id = NULL, *op, *params;
    struct job *j;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    if (!len) return TRUE; /* blank lines are not requests */

    if (!(req = json_parse(line, len, &perr))) {
        respond_error(NULL, "parse", ERROR_INVALID_DATA, perr);
        return TRUE;
    }
    if (req->type != JSON_OBJECT) {
        respond_error(NULL, "parse", ERROR_INVALID_DATA, "request is not an object");
        goto done;
    }
    id = json_get(req, "id");
    op = json_get(req, "op");
    if (!op || op->type != JSON_STRING) {
        respond_error(id, "parse", ERROR_INVALID_DATA, "missing op");
        goto done;
    }
    params = json_get(req, "params");
    if (params && params->type == JSON_NULL) params = NULL;
    if (params && params->type != JSON_OBJECT) {
        respond_error(id, op->str, ERROR_INVALID_PARAMETER, "params is not an object");
        goto done;
    }
    if (!strcmp(op->str, "exit")) {
        /* every earlier request is answered before the exit is */
        drain();
        run_request(id, op->str, params);
        json_free(req);
        return FALSE;
    }
    WaitForSingleObject(slots, INFINITE);
    if ((j = malloc(sizeof(*j)))) {
        j->req = req;
        j->id = id;
        j->op = op->str;
        j->params = params;
        if (TrySubmitThreadpoolCallback(request_work, j, NULL)) return TRUE;
        free(j);
    }
    /* no thread to be had: run it here, in order, as before */
    run_request(id, op->str, params);
    ReleaseSemaphore(slots, 1, NULL);
done:
    json_free(req);
    return TRUE;
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
    InitializeCriticalSection(&out_lock);
    slots = CreateSemaphoreW(NULL, MAX_IN_FLIGHT, MAX_IN_FLIGHT, NULL);
    if (!slots) return 1;

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
                respond_error(NULL, "parse", ERROR_INVALID_DATA, "request line too long");
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
    /* EOF: answer what is still running before going */
    drain();
out:
    free(line);
    return 0;
}
