/*
 * svcdup-agent: what the op handlers share.
 *
 * A handler gets the request, writes its result value into rq->out and
 * returns ERROR_SUCCESS, or returns a Win32 error code (the partial output
 * is then discarded and main.c writes the error response). Anything
 * allocated with rq_alloc lives until the request is answered.
 */
#ifndef SVCDUP_AGENT_H
#define SVCDUP_AGENT_H

#include <windows.h>
#include "json.h"

#define SVCDUP_AGENT_VERSION "0.1.0"

struct arena_block;

struct request {
    const char *op;
    const json_value *params; /* always an object (maybe empty) */
    json_writer *out;
    char detail[512]; /* appended to the error message, e.g. the bad param */
    struct arena_block *arena;
    SC_HANDLE close_after; /* closed once the reply is written (scm.c: a call into the SCM off the reply's path) */
};

typedef DWORD (*op_handler)(struct request *rq);

/* main.c: request-scoped memory and parameter helpers */
void *rq_alloc(struct request *rq, size_t size);
/* UTF-8 -> UTF-16, NUL-terminated; *len (optional) gets the length in units. */
WCHAR *rq_wstr(struct request *rq, const char *utf8, size_t bytes, size_t *len);
/* TRUE when the param is given and not null (null means "absent"). */
BOOL param_present(struct request *rq, const char *name);
/* Sets the detail to "param NAME" and returns ERROR_INVALID_PARAMETER. */
DWORD invalid_param(struct request *rq, const char *name);
/* The reply of an op that returns nothing: {} when err is 0. Returns err. */
DWORD reply_empty(struct request *rq, DWORD err);
/* A string param as UTF-16. Absent/null and optional: *out = NULL, success.
 * Names cannot contain NUL (W APIs stop there), so NUL is rejected unless
 * allow_nul; *len gets the length when given. */
DWORD param_wstr(struct request *rq, const char *name, BOOL required, BOOL allow_nul, WCHAR **out, size_t *len);
/* An integral number param in [min, max]; absent and optional: *out = dflt. */
DWORD param_int(struct request *rq, const char *name, BOOL required, double min, double max, double dflt, double *out);
/* An array of strings as UTF-16 (no NULs). Absent: *out = NULL, *count = 0. */
DWORD param_wstr_array(struct request *rq, const char *name, WCHAR ***out, size_t *count);

/* Writes a NUL-terminated (or counted, when len != (size_t)-1) UTF-16 string. */
void out_wstr(json_writer *w, const WCHAR *s, size_t len);
void out_key_wstr(json_writer *w, const char *key, const WCHAR *s);
void out_key_uint(json_writer *w, const char *key, unsigned long long v);

/* error.c */
void write_error(json_writer *w, const char *op, DWORD code, const char *detail);

/* the ops */
DWORD op_reg_query(struct request *rq);
DWORD op_reg_get(struct request *rq);
DWORD op_reg_set(struct request *rq);
DWORD op_reg_create_key(struct request *rq);
DWORD op_reg_delete_value(struct request *rq);
DWORD op_reg_delete_key(struct request *rq);
DWORD op_reg_copy_tree(struct request *rq);
DWORD op_reg_export(struct request *rq);

DWORD op_scm_list(struct request *rq);
DWORD op_scm_config(struct request *rq);
DWORD op_scm_create(struct request *rq);
DWORD op_scm_change(struct request *rq);
DWORD op_scm_start(struct request *rq);
DWORD op_scm_control(struct request *rq);
DWORD op_scm_status(struct request *rq);
DWORD op_scm_wait(struct request *rq);
DWORD op_scm_delete(struct request *rq);
DWORD op_scm_failure(struct request *rq);
DWORD op_pipe_wait(struct request *rq);

DWORD op_proc_list(struct request *rq);
DWORD op_proc_kill(struct request *rq);
DWORD op_ping(struct request *rq);

/* stats.c */
DWORD op_job_stats(struct request *rq);

#endif
