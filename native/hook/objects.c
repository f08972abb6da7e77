/* Named kernel objects: every NtCreateX/NtOpenX of a named object type gets its
   name renamed into the VM (or shared, or denied) before the syscall. All these
   calls take the OBJECT_ATTRIBUTES third, so one generic detour shape serves. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"

typedef NTSTATUS(NTAPI *obj_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);

/* Shared by every object and port detour: rename, trace, call, remember roots. */
NTSTATUS obj_call(obj_fn orig, const char *call, int kind, HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a4, ULONG_PTR a5,
                  ULONG_PTR a6, ULONG_PTR a7)
{
    renamed r;
    NTSTATUS st;
    int v = rename_object(kind, oa, &r);
    if (v != V_PASS) trace_decision(call, oa->ObjectName, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    st = orig(h, a, v == V_RENAMED ? &r.oa : oa, a4, a5, a6, a7);
    renamed_free(&r);
    /* a new handle may reuse the value of a closed root: its cached name is stale */
    if (st >= 0 && h) roots_forget(*h);
    return st;
}

/* The detour of a call whose original o_<name> is declared elsewhere (hook.h: the hook's own uses) */
#define OBJ_DETOUR(name, kind)                                                                                                \
    static NTSTATUS NTAPI d_##name(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a4, ULONG_PTR a5, ULONG_PTR a6, \
                                   ULONG_PTR a7)                                                                              \
    {                                                                                                                         \
        return obj_call((obj_fn)(void *)o_##name, #name, kind, h, a, oa, a4, a5, a6, a7);                                     \
    }
#define OBJ_HOOK(name, kind) \
    static obj_fn o_##name;  \
    OBJ_DETOUR(name, kind)

/* Extra argument slots beyond a call's arity are read from the caller's stack
   home area and passed along unused: harmless on x64, where args 5+ live there. */
OBJ_HOOK(NtCreateMutant, K_OBJECT)
OBJ_HOOK(NtOpenMutant, K_OBJECT)
OBJ_HOOK(NtCreateEvent, K_OBJECT)
OBJ_HOOK(NtOpenEvent, K_OBJECT)
OBJ_HOOK(NtCreateSemaphore, K_OBJECT)
OBJ_HOOK(NtOpenSemaphore, K_OBJECT)
OBJ_DETOUR(NtCreateSection, K_OBJECT)
OBJ_DETOUR(NtOpenSection, K_OBJECT)
OBJ_HOOK(NtCreateTimer, K_OBJECT)
OBJ_HOOK(NtOpenTimer, K_OBJECT)
OBJ_HOOK(NtCreateDebugObject, K_OBJECT)
OBJ_HOOK(NtCreateEventPair, K_OBJECT)
OBJ_HOOK(NtOpenEventPair, K_OBJECT)
OBJ_HOOK(NtCreateSectionEx, K_OBJECT)
OBJ_HOOK(NtCreateDirectoryObjectEx, K_OBJECT)
OBJ_HOOK(NtOpenPartition, K_OBJECT)
OBJ_HOOK(NtOpenSession, K_OBJECT)
OBJ_HOOK(NtCreateTransaction, K_OBJECT)
OBJ_HOOK(NtOpenTransaction, K_OBJECT)
OBJ_HOOK(NtCreateTransactionManager, K_OBJECT)
OBJ_HOOK(NtOpenTransactionManager, K_OBJECT)
OBJ_HOOK(NtCreateRegistryTransaction, K_OBJECT)
OBJ_HOOK(NtOpenRegistryTransaction, K_OBJECT)
OBJ_HOOK(NtCreateWaitCompletionPacket, K_OBJECT)
OBJ_HOOK(NtCreateCpuPartition, K_OBJECT)

/* NtCreatePartition(parent, &h, access, oa, ...): the attributes come fourth. */
typedef NTSTATUS(NTAPI *part_fn)(HANDLE, HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG_PTR, ULONG_PTR);
static part_fn o_NtCreatePartition;
static NTSTATUS NTAPI d_NtCreatePartition(HANDLE parent, HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a5, ULONG_PTR a6)
{
    renamed r;
    NTSTATUS st;
    int v = rename_object(K_OBJECT, oa, &r);
    if (v != V_PASS) trace_decision("NtCreatePartition", oa->ObjectName, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    st = o_NtCreatePartition(parent, h, a, v == V_RENAMED ? &r.oa : oa, a5, a6);
    renamed_free(&r);
    return st;
}

/* Links made in a VM: the name is renamed like any object's, and so is the target
   (rename_link_target), so a link cannot lead out of the VM. */
typedef NTSTATUS(NTAPI *mklink_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, UNICODE_STRING *);
static mklink_fn o_NtCreateSymbolicLinkObject;
static NTSTATUS NTAPI d_NtCreateSymbolicLinkObject(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, UNICODE_STRING *target)
{
    renamed r, t;
    NTSTATUS st;
    int v = rename_object(K_OBJECT, oa, &r), vt;
    if (v != V_PASS) trace_decision("NtCreateSymbolicLinkObject", oa ? oa->ObjectName : NULL, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    vt = rename_link_target(target, &t);
    if (vt != V_PASS) trace_decision("NtCreateSymbolicLinkObject(target)", target, vt == V_RENAMED ? &t.us : NULL, vt);
    if (vt == V_DENIED) {
        renamed_free(&r);
        return ST_ACCESS_DENIED;
    }
    st = o_NtCreateSymbolicLinkObject(h, a, v == V_RENAMED ? &r.oa : oa, vt == V_RENAMED ? &t.us : target);
    renamed_free(&r);
    renamed_free(&t);
    if (st >= 0 && h) roots_forget(*h);
    return st;
}

/* A handle closed by NtDuplicateObject(DUPLICATE_CLOSE_SOURCE) is closed as surely as by
   NtClose: forget what it named, and what a handle duplicated in here used to name. */
dup_fn o_NtDuplicateObject = NtDuplicateObject; /* hook.h */
static int is_self(HANDLE process)
{
    PROCESS_BASIC_INFORMATION pbi;
    if (process == (HANDLE)-1) return 1;
    return NtQueryInformationProcess(process, ProcessBasicInformation, &pbi, sizeof pbi, NULL) >= 0 && (DWORD)pbi.UniqueProcessId == G.pid;
}
static NTSTATUS NTAPI d_NtDuplicateObject(HANDLE sp, HANDLE sh, HANDLE tp, HANDLE *th, ACCESS_MASK a, ULONG attr, ULONG opt)
{
    NTSTATUS st;
    int src_self = is_self(sp), dst_self = tp && is_self(tp), scm = svcctl_dup_refused(sp, sh, tp, attr, src_self, dst_self);
    if (scm < 0) return ST_ACCESS_DENIED; /* the SCM's pipe stays in this process (svcctl.c) */
    if (G.active && handles_dup_widens(sp, sh, a, opt, src_self)) {
        trace_decision("NtDuplicateObject", NULL, NULL, V_DENIED); /* rights only narrow (handles.c) */
        return ST_ACCESS_DENIED;
    }
    if ((opt & DUPLICATE_CLOSE_SOURCE) && src_self) roots_forget(sh);
    st = o_NtDuplicateObject(sp, sh, tp, th, a, attr, opt);
    if (st >= 0 && th && dst_self) roots_forget(*th);
    if (st >= 0 && scm > 0 && svcctl_dup_done(sh, th && tp ? *th : NULL, opt)) st = ST_ACCESS_DENIED;
    return st;
}
OBJ_HOOK(NtOpenSymbolicLinkObject, K_OBJECT)
OBJ_DETOUR(NtCreateJobObject, K_OBJECT)
OBJ_DETOUR(NtOpenJobObject, K_OBJECT)
OBJ_HOOK(NtCreateKeyedEvent, K_OBJECT)
OBJ_HOOK(NtOpenKeyedEvent, K_OBJECT)
OBJ_HOOK(NtCreateIoCompletion, K_OBJECT)
OBJ_HOOK(NtOpenIoCompletion, K_OBJECT)
OBJ_HOOK(NtCreateDirectoryObject, K_OBJECT)
OBJ_HOOK(NtOpenDirectoryObject, K_OBJECT)

/* Shared with the rest of the hook (hook.h): ntdll's exports until installed. */
section_create_fn o_NtCreateSection = NtCreateSection;
fn_open o_NtOpenSection = NtOpenSection;
fn_open o_NtOpenJobObject = NtOpenJobObject;
job_create_fn o_NtCreateJobObject = NtCreateJobObject;

/* optional: what Wine 8's ntdll (or an older Windows) does not export */
static const hook_entry table[] = {
    HOOK(NtCreateMutant),
    HOOK(NtOpenMutant),
    HOOK(NtCreateEvent),
    HOOK(NtOpenEvent),
    HOOK(NtCreateSemaphore),
    HOOK(NtOpenSemaphore),
    HOOK(NtCreateSection),
    HOOK(NtOpenSection),
    HOOK(NtCreateTimer),
    HOOK(NtOpenTimer),
    HOOK(NtCreateSymbolicLinkObject),
    HOOK(NtOpenSymbolicLinkObject),
    HOOK_OPT(NtCreateDebugObject),
    HOOK_OPT(NtCreateEventPair),
    HOOK_OPT(NtOpenEventPair),
    HOOK_OPT(NtCreateSectionEx),
    HOOK_OPT(NtCreateDirectoryObjectEx),
    HOOK_OPT(NtCreatePartition),
    HOOK_OPT(NtOpenPartition),
    HOOK_OPT(NtOpenSession),
    HOOK_OPT(NtCreateTransaction),
    HOOK_OPT(NtOpenTransaction),
    HOOK_OPT(NtCreateTransactionManager),
    HOOK_OPT(NtOpenTransactionManager),
    HOOK_OPT(NtCreateRegistryTransaction),
    HOOK_OPT(NtOpenRegistryTransaction),
    HOOK_OPT(NtCreateWaitCompletionPacket),
    HOOK_OPT(NtCreateCpuPartition),
    HOOK(NtDuplicateObject),
    HOOK(NtCreateJobObject),
    HOOK(NtOpenJobObject),
    HOOK(NtCreateKeyedEvent),
    HOOK(NtOpenKeyedEvent),
    HOOK(NtCreateIoCompletion),
    HOOK(NtOpenIoCompletion),
    HOOK(NtCreateDirectoryObject),
    HOOK(NtOpenDirectoryObject),
};

int objects_install(void)
{
    if (HOOK_TABLE(table)) return -1;
    names_init_links(o_NtOpenSymbolicLinkObject, o_NtOpenDirectoryObject);
    return 0;
}
