/* Listings of object directories: in a namespace root (\BaseNamedObjects,
 * \Sessions\N\BaseNamedObjects, \RPC Control) a VM process sees its own names, without
 * their prefix, the Global/Local/Session links, and what its policy opens; never the host's
 * or another VM's names. Other directories (\, \Device, \Sessions) list as they are. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include <wchar.h>

typedef struct {
    UNICODE_STRING Name, TypeName;
} dir_entry;
typedef NTSTATUS(NTAPI *qdir_fn)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN, ULONG *, ULONG *);
static qdir_fn o_NtQueryDirectoryObject;
#define ST_NO_MORE_ENTRIES ((NTSTATUS)0x8000001A)
#define ST_MORE_ENTRIES    ((NTSTATUS)0x00000105)

/* Keep this entry? Its name loses the VM's prefix when kept. */
static int keep(dir_entry *e, int kind)
{
    const WCHAR *s = e->Name.Buffer;
    USHORT n = e->Name.Length / sizeof(WCHAR);
    if (!s) return 0;
    if (n >= G.prefix_chars && !_wcsnicmp(s, G.prefix, G.prefix_chars)) {
        e->Name.Length = unrename(e->Name.Buffer, e->Name.Length);
        return 1;
    }
    if (kind == K_OBJECT &&
        ((n == 6 && !_wcsnicmp(s, L"Global", 6)) || (n == 5 && !_wcsnicmp(s, L"Local", 5)) || (n == 7 && !_wcsnicmp(s, L"Session", 7))))
        return 1;
    if (n >= 7 && !_wcsnicmp(s, L"svcdup.", 7)) return 0;
    return policy_decide(kind, s, n) == P_OPEN;
}

static void wipe(dir_entry *e)
{
    if (e->Name.Buffer) memset(e->Name.Buffer, 0, e->Name.Length);
    if (e->TypeName.Buffer) memset(e->TypeName.Buffer, 0, e->TypeName.Length);
    memset(e, 0, sizeof *e);
}

static NTSTATUS NTAPI d_NtQueryDirectoryObject(HANDLE h, PVOID buf, ULONG len, BOOLEAN single, BOOLEAN restart, ULONG *ctx, ULONG *ret)
{
    NTSTATUS st;
    int kind;
    if (!G.active || !buf || !root_is_namespace(h, &kind)) return o_NtQueryDirectoryObject(h, buf, len, single, restart, ctx, ret);
    if (single) {
        /* skip entries until one is the VM's */
        for (;;) {
            st = o_NtQueryDirectoryObject(h, buf, len, TRUE, restart, ctx, ret);
            restart = FALSE;
            if (st < 0 || st == ST_NO_MORE_ENTRIES) return st;
            if (keep(buf, kind)) return st;
            wipe(buf);
        }
    }
    st = o_NtQueryDirectoryObject(h, buf, len, FALSE, restart, ctx, ret);
    if (st >= 0 && st != ST_NO_MORE_ENTRIES) {
        dir_entry *e = buf, *o = buf;
        int kept = 0;
        for (; (unsigned char *)(e + 1) <= (unsigned char *)buf + len && e->Name.Buffer; e++) {
            if (keep(e, kind)) {
                if (o != e) *o = *e;
                o++;
                kept++;
            } else
                wipe(e);
        }
        for (; o < e; o++) memset(o, 0, sizeof *o);
        if (!kept && st == ST_SUCCESS) st = ST_NO_MORE_ENTRIES;
    }
    return st;
}

static const hook_entry table[] = {HOOK_OPT(NtQueryDirectoryObject)};
int dirs_install(void) { return HOOK_TABLE(table); }
