/* Named pipes and mailslots: creation, opening in every spelling, and the wait
   path of WaitNamedPipe/CallNamedPipe (FSCTL_PIPE_WAIT names the pipe in its
   input buffer, relative to the pipe root handle). On Wine, ncalrpc is a named
   pipe \\.\pipe\lrpc\<endpoint>, so RPC over ncalrpc is covered here too. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"
#include "files.h"

typedef NTSTATUS(NTAPI *file14)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR,
                                ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);
static file14 o_NtCreateNamedPipeFile, o_NtCreateMailslotFile, o_NtOpenFile;
create_file_fn o_NtCreateFile = NtCreateFile; /* files.h */

static NTSTATUS file_call(file14 orig, const char *call, HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a4, ULONG_PTR a5,
                          ULONG_PTR a6, ULONG_PTR a7, ULONG_PTR a8, ULONG_PTR a9, ULONG_PTR a10, ULONG_PTR a11, ULONG_PTR a12,
                          ULONG_PTR a13, ULONG_PTR a14)
{
    renamed r;
    int root, v = rename_file(oa, &r, &root), is_file;
    NTSTATUS st;
    OBJECT_ATTRIBUTES *foa;
    if (v != V_PASS) trace_decision(call, oa->ObjectName, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    /* the SCM's own pipe: only sechost's client, filtered by scmclient.c, opens it (svcctl.c) */
    if (v == V_OPEN && r.scm_pipe && !svcctl_may_open(call, orig == o_NtCreateNamedPipeFile)) return ST_ACCESS_DENIED;
    /* every other file path: the VM's copy-on-write view (files.c), decided on the name the
       isolation layer resolved (\??\GLOBALROOT\??\C:\x arrives as \??\C:\x) */
    is_file = !root && (v == V_PASS || (v == V_RENAMED && !r.kind));
    foa = v == V_RENAMED ? &r.oa : oa;
    if (is_file && orig == (file14)(void *)o_NtCreateFile &&
        files_open(1, h, a, foa, (IO_STATUS_BLOCK *)a4, (LARGE_INTEGER *)a5, (ULONG)a6, (ULONG)a7, (ULONG)a8, (ULONG)a9, (PVOID)a10,
                   (ULONG)a11, &st)) {
        renamed_free(&r);
        return st;
    }
    /* NtOpenFile has 6 arguments (handle, access, oa, io, share, options): the slots past
       them are the caller's stack, whose garbage once read as options made Wine's loader
       copy up and then fail to open every DLL svchost loads (exit 1067) */
    if (is_file && orig == o_NtOpenFile &&
        files_open(0, h, a, foa, (IO_STATUS_BLOCK *)a4, NULL, 0, (ULONG)a5, FILE_OPEN, (ULONG)a6, NULL, 0, &st)) {
        renamed_free(&r);
        return st;
    }
    st = orig(h, a, v == V_RENAMED ? &r.oa : oa, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14);
    renamed_free(&r);
    if (st >= 0 && h && v == V_OPEN && r.scm_pipe && svcctl_note(*h)) {
        o_NtClose(*h); /* never an unguarded handle on it */
        return ST_ACCESS_DENIED;
    }
    /* a handle on the pipe/mailslot root: later names relative to it are pipe names;
       any other new handle may reuse the value of a closed root */
    if (st >= 0 && h) {
        if (root)
            roots_note(*h, root);
        else
            roots_forget(*h);
    }
    return st;
}

#define FILE_HOOK(name)                                                                                                                  \
    static NTSTATUS NTAPI d_##name(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a4, ULONG_PTR a5, ULONG_PTR a6,            \
                                   ULONG_PTR a7, ULONG_PTR a8, ULONG_PTR a9, ULONG_PTR a10, ULONG_PTR a11, ULONG_PTR a12, ULONG_PTR a13, \
                                   ULONG_PTR a14)                                                                                        \
    {                                                                                                                                    \
        return file_call((file14)(void *)o_##name, #name, h, a, oa, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14);                    \
    }
FILE_HOOK(NtCreateNamedPipeFile)
FILE_HOOK(NtCreateMailslotFile)
FILE_HOOK(NtCreateFile)
FILE_HOOK(NtOpenFile)

typedef NTSTATUS(NTAPI *fsctl_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, ULONG, PVOID, ULONG, PVOID, ULONG);
static fsctl_fn o_NtFsControlFile;

static NTSTATUS NTAPI d_NtFsControlFile(HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, ULONG code, PVOID in, ULONG in_len,
                                        PVOID out, ULONG out_len)
{
    PIPE_WAIT_BUF *w = in, *nw;
    UNICODE_STRING used;
    renamed r;
    ULONG nlen;
    NTSTATUS st;
    int v;

    if (svcctl_refused(h, "NtFsControlFile")) return ST_ACCESS_DENIED; /* FSCTL_PIPE_TRANSCEIVE and the rest (svcctl.c) */
    if (handles_fsctl_refused(h, code)) return ST_ACCESS_DENIED;       /* reparse points, object ids of host files */
    if (code != FSCTL_PIPE_WAIT_CODE || !G.active || !in || in_len < offsetof(PIPE_WAIT_BUF, Name) ||
        w->NameLength > in_len - offsetof(PIPE_WAIT_BUF, Name))
        return o_NtFsControlFile(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    used.Buffer = w->Name;
    used.Length = used.MaximumLength = (USHORT)w->NameLength;
    v = rename_pipe_name(w->Name, (USHORT)(w->NameLength / sizeof(WCHAR)), &r);
    if (v != V_PASS) trace_decision("NtFsControlFile(FSCTL_PIPE_WAIT)", &used, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    if (v != V_RENAMED) return o_NtFsControlFile(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    nlen = offsetof(PIPE_WAIT_BUF, Name) + r.us.Length;
    if (!(nw = hmalloc(nlen))) {
        renamed_free(&r);
        return ST_NO_MEMORY;
    }
    memcpy(nw, w, offsetof(PIPE_WAIT_BUF, Name));
    nw->NameLength = r.us.Length;
    memcpy(nw->Name, r.us.Buffer, r.us.Length);
    st = o_NtFsControlFile(h, ev, apc, ctx, io, code, nw, nlen, out, out_len);
    hfree(nw);
    renamed_free(&r);
    return st;
}

int pipes_install(void)
{
    static const hook_entry table[] = {
        HOOK(NtCreateNamedPipeFile), HOOK(NtCreateMailslotFile), HOOK(NtCreateFile), HOOK(NtOpenFile), HOOK(NtFsControlFile),
    };
    if (HOOK_TABLE(table)) return -1;
    if (svcctl_install() || pipedir_install()) return -1;
    return 0;
}
