/* Rights follow the verdict for the handle's whole life (docs/vm.md, "Threat model").
 * A decision taken at open (a host file or key read-only: reads go to the host) must hold for
 * what the handle is used for later. Two rules, both checked in the VM process:
 *  - no widening: a duplicate never holds a right its source lacks (NtDuplicateObject).
 *    Wine grants any access asked on a duplicate; Windows re-checks the object's DACL, which
 *    a host object may well grant. Checked by asking the system itself (a probe duplicate's
 *    granted access against the source's), so generic rights are mapped as the kernel maps them;
 *  - changes in place through a handle (security, EAs, reparse points here; values, deletion,
 *    renames and flushes of keys in registry.c; delete, rename and link of files in files.c)
 *    are decided again on the handle's real name at use time: a private copy, or a host
 *    object a policy rule opens, may change; a host object may not; a name that cannot be
 *    learnt may not. So a handle that reached the VM another way (inherited, duplicated in
 *    from outside) is held to the same verdict. */
#include "files.h"
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"
#include <wchar.h>

typedef struct {
    ULONG Attributes;
    ACCESS_MASK GrantedAccess;
    ULONG HandleCount, PointerCount, Reserved[10];
} BASIC_INFO;

static ACCESS_MASK granted(HANDLE h, int *ok)
{
    BASIC_INFO bi;
    *ok = o_NtQueryObject(h, (OBJECT_INFORMATION_CLASS)0 /* ObjectBasicInformation */, &bi, sizeof bi, NULL) >= 0;
    return *ok ? bi.GrantedAccess : 0;
}

/* Would duplicating sh (of process sp) with access a give rights sh does not have? 1 also when
   that cannot be learnt. Pseudo handles (the caller's own process and thread) are its own. */
int handles_dup_widens(HANDLE sp, HANDLE sh, ACCESS_MASK a, ULONG opt, int src_self)
{
    HANDLE src = sh, probe = NULL;
    ACCESS_MASK have, want;
    int ok1, ok2;
    if ((opt & DUPLICATE_SAME_ACCESS) || ((LONG_PTR)sh < 0 && (LONG_PTR)sh > -8)) return 0;
    if (!src_self && o_NtDuplicateObject(sp, sh, (HANDLE)-1, &src, 0, 0, DUPLICATE_SAME_ACCESS) < 0) return 1;
    have = granted(src, &ok1);
    if (o_NtDuplicateObject(sp, sh, (HANDLE)-1, &probe, a, 0, 0) < 0) {
        if (src != sh) o_NtClose(src);
        return 0; /* the system refuses it anyway: the real call will say so */
    }
    want = granted(probe, &ok2);
    o_NtClose(probe);
    if (src != sh) o_NtClose(src);
    return !ok1 || !ok2 || (want & ~have) != 0;
}

/* What kind of object is h? 'k' key, 'f' file, 0 anything else. */
static int kind_of(HANDLE h)
{
    union {
        UNICODE_STRING name; /* OBJECT_TYPE_INFORMATION starts with its TypeName */
        BYTE b[512];
    } t;
    if (o_NtQueryObject(h, (OBJECT_INFORMATION_CLASS)2 /* ObjectTypeInformation */, &t, sizeof t, NULL) < 0) return -1;
    if (t.name.Length == 6 && !_wcsnicmp(t.name.Buffer, L"Key", 3)) return 'k';
    if (t.name.Length == 8 && !_wcsnicmp(t.name.Buffer, L"File", 4)) return 'f';
    return 0;
}

static int may_change(HANDLE h, const char *call)
{
    int k = kind_of(h), ok = k == 'k' ? registry_may_change(h) : k == 'f' ? files_may_change(h) : k == 0;
    if (!ok) trace_decision(call, NULL, NULL, V_DENIED);
    return ok;
}

/* FSCTLs on a file that may not change (pipes.c asks, it hooks NtFsControlFile). Deny by default:
   pipe and mailslot controls act on the pipe a name rule already decided; of the file system's,
   only those that read pass; any other (reparse points, object ids, sparse, zeroing, compression,
   short names...) needs a handle whose verdict allows a change: a private copy or an open file. */
int handles_fsctl_refused(HANDLE h, ULONG code)
{
    ULONG dev = code >> 16, fn = (code >> 2) & 0xfff;
    if (!G.active || dev == 0x11 /* FILE_DEVICE_NAMED_PIPE */ || dev == 0x0c /* FILE_DEVICE_MAILSLOT */) return 0;
    /* a reparse point made in a VM (a junction, a symbolic link) leads wherever its data says, and
       what it leads to is never judged: the name rules see only the link's own name. Refused even
       on the VM's own copies (Windows; Wine 8 has no reparse points) */
    if (dev == 0x09 && (fn == 41 /* FSCTL_SET_REPARSE_POINT */ || fn == 259 /* FSCTL_SET_REPARSE_POINT_EX */)) {
        trace_decision("NtFsControlFile", NULL, NULL, V_DENIED);
        return 1;
    }
    if (dev == 0x09) /* FILE_DEVICE_FILE_SYSTEM */
        switch (fn) {
        case 10: /* FSCTL_IS_VOLUME_MOUNTED */
        case 11: /* FSCTL_IS_PATHNAME_VALID */
        case 15: /* FSCTL_GET_COMPRESSION */
        case 24: /* FSCTL_FILESYSTEM_GET_STATISTICS */
        case 25: /* FSCTL_GET_NTFS_VOLUME_DATA */
        case 28: /* FSCTL_GET_RETRIEVAL_POINTERS */
        case 39: /* FSCTL_GET_OBJECT_ID */
        case 42: /* FSCTL_GET_REPARSE_POINT */
        case 51: /* FSCTL_QUERY_ALLOCATED_RANGES */
        case 159: /* FSCTL_GET_INTEGRITY_INFORMATION */ return 0;
        }
    return !may_change(h, "NtFsControlFile");
}

typedef NTSTATUS(NTAPI *setsec_fn)(HANDLE, SECURITY_INFORMATION, PSECURITY_DESCRIPTOR);
typedef NTSTATUS(NTAPI *setea_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG);
static setsec_fn o_NtSetSecurityObject;
static setea_fn o_NtSetEaFile;

static NTSTATUS NTAPI d_NtSetSecurityObject(HANDLE h, SECURITY_INFORMATION si, PSECURITY_DESCRIPTOR sd)
{
    if (!may_change(h, "NtSetSecurityObject")) return ST_ACCESS_DENIED;
    return o_NtSetSecurityObject(h, si, sd);
}

static NTSTATUS NTAPI d_NtSetEaFile(HANDLE h, IO_STATUS_BLOCK *io, PVOID buf, ULONG len)
{
    if (!may_change(h, "NtSetEaFile")) return ST_ACCESS_DENIED;
    return o_NtSetEaFile(h, io, buf, len);
}

static const hook_entry table[] = {HOOK(NtSetSecurityObject), HOOK_OPT(NtSetEaFile)};
int handles_install(void) { return HOOK_TABLE(table); }
