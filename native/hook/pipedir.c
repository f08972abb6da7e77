/* Listings of the named-pipe root (FindFirstFile("\\.\pipe\*"): NtQueryDirectoryFile on a
 * handle of \Device\NamedPipe\ in any spelling, known by names.c's root cache) show a VM
 * process its own pipes, under the names it used (the VM prefix stripped), and the pipes its
 * policy opens; never the host's other pipes or another VM's. The VM's mask is applied here,
 * to the names the VM knows (the system is asked for everything). Unknown information
 * classes are refused on the pipe root rather than passed unfiltered.
 * Wine 8 lists no pipes at all (NtQueryDirectoryFile on the pipe root fails with
 * STATUS_BAD_DEVICE_TYPE for every process), so on Wine this filter only passes that
 * failure on; the filtering itself is for Windows and not run here (docs/vm.md). */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtSetEvent(HANDLE, LONG *);

typedef NTSTATUS(NTAPI *qdir_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN, UNICODE_STRING *, BOOLEAN);
static qdir_fn o_NtQueryDirectoryFile;

/* where FileNameLength and FileName are, per information class (0: not a listing we filter) */
static int name_offsets(ULONG cls, ULONG *len_at, ULONG *name_at)
{
    switch (cls) {
    case 1: *len_at = 60, *name_at = 64; return 1;   /* FileDirectoryInformation */
    case 2: *len_at = 60, *name_at = 68; return 1;   /* FileFullDirectoryInformation */
    case 3: *len_at = 60, *name_at = 94; return 1;   /* FileBothDirectoryInformation */
    case 12: *len_at = 8, *name_at = 12; return 1;   /* FileNamesInformation */
    case 37: *len_at = 60, *name_at = 104; return 1; /* FileIdBothDirectoryInformation */
    case 38: *len_at = 60, *name_at = 80; return 1;  /* FileIdFullDirectoryInformation */
    }
    return 0;
}

/* Keep an entry? Then its name is rewritten to the VM's spelling (shorter, in place). */
static int keep(WCHAR *name, ULONG *bytes, const UNICODE_STRING *mask)
{
    USHORT n = (USHORT)(*bytes / sizeof(WCHAR));
    int mine = n > G.prefix_chars && !_wcsnicmp(name, G.prefix, G.prefix_chars);
    if (mine) {
        memmove(name, name + G.prefix_chars, (n - G.prefix_chars) * sizeof(WCHAR));
        n -= G.prefix_chars;
    } else if (n >= 7 && !_wcsnicmp(name, L"svcdup.", 7))
        return 0; /* another VM's, or svcdup's own */
    else if (policy_decide(K_PIPE, name, n) != P_OPEN)
        return 0; /* the host's, not shared */
    if (mask && mask->Length) {
        WCHAR pat[260];
        USHORT m = mask->Length / sizeof(WCHAR);
        if (m >= 260) return 0;
        memcpy(pat, mask->Buffer, m * sizeof(WCHAR));
        pat[m] = 0;
        if (!glob_match(pat, name, n)) return 0;
    }
    *bytes = n * sizeof(WCHAR);
    return 1;
}

/* Drop what the VM may not see from one answer; returns the bytes kept (0: none left). */
static ULONG filter(PVOID buf, ULONG used, ULONG len_at, ULONG name_at, const UNICODE_STRING *mask)
{
    char *b = buf;
    ULONG at = 0, last = (ULONG)-1, next;
    for (;;) {
        ULONG *nlen = (ULONG *)(b + at + len_at);
        next = *(ULONG *)(b + at);
        if (at + name_at + *nlen > used) break;
        if (keep((WCHAR *)(b + at + name_at), nlen, mask)) {
            if (last != (ULONG)-1) *(ULONG *)(b + last) = at - last;
            last = at;
        }
        if (!next) break;
        at += next;
    }
    if (last == (ULONG)-1) return 0;
    *(ULONG *)(b + last) = 0;
    return used;
}

/* 1 when h is a pipe root and *st is the answer, 0 when h is not ours. */
static int pipedir_query(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls, BOOLEAN single,
                         UNICODE_STRING *mask, BOOLEAN restart, NTSTATUS *st)
{
    ULONG len_at, name_at, kept;
    int rounds = 0;
    if (!G.active || roots_kind(h) != K_PIPE) return 0;
    if (!name_offsets(cls, &len_at, &name_at)) {
        *st = (NTSTATUS)0xC0000003; /* STATUS_INVALID_INFO_CLASS: not passed unfiltered */
        return 1;
    }
    (void)apc;
    (void)ctx;
    do {
        /* synchronously (no APC: the answer is filtered before anyone sees it); all names, the VM's mask applied here */
        *st = o_NtQueryDirectoryFile(h, NULL, NULL, NULL, io, buf, len, cls, single, NULL, restart && rounds == 0);
        if (*st < 0 || *st == 0x103 /* pending */) break;
        kept = filter(buf, (ULONG)io->Information, len_at, name_at, mask);
        io->Information = kept;
    } while (!kept && ++rounds < 100000);
    if (*st >= 0 && !kept) *st = io->Status = (NTSTATUS)0x80000006; /* STATUS_NO_MORE_FILES */
    if (event) NtSetEvent(event, NULL);
    return 1;
}

static NTSTATUS NTAPI d_NtQueryDirectoryFile(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf, ULONG len,
                                             ULONG cls, BOOLEAN single, UNICODE_STRING *mask, BOOLEAN restart)
{
    NTSTATUS st;
    if (pipedir_query(h, event, apc, ctx, io, buf, len, cls, single, mask, restart, &st)) return st;
    return o_NtQueryDirectoryFile(h, event, apc, ctx, io, buf, len, cls, single, mask, restart);
}

int pipedir_install(void)
{
    /* files_dir.c (copy-on-write files) hooks the call too, in front of this one (patch.c
       chains them): it serves its own directory handles and passes the pipe root on here */
    static const hook_entry table[] = {HOOK(NtQueryDirectoryFile)};
    return HOOK_TABLE(table);
}
