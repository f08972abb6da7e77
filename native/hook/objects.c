/* Named kernel objects: every NtCreateX/NtOpenX of a named object type gets its
   name renamed into the VM (or shared, or denied) before the syscall. All these
   calls take the OBJECT_ATTRIBUTES third, so one generic detour shape serves. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"

typedef NTSTATUS(NTAPI *obj_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);

/* Shared by every object and port detour: rename, trace, call, remember roots. */
NTSTATUS obj_call(obj_fn orig, const char *call, int kind, HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa,
                  ULONG_PTR a4, ULONG_PTR a5, ULONG_PTR a6, ULONG_PTR a7)
{
    renamed r;
    NTSTATUS st;
    int v = rename_object(kind, oa, &r);
    if (v != V_PASS) trace_decision(call, oa->ObjectName, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    st = orig(h, a, v == V_RENAMED ? &r.oa : oa, a4, a5, a6, a7);
    renamed_free(&r);
    return st;
}

#define OBJ_HOOK(name, kind)                                                                              \
    static obj_fn o_##name;                                                                               \
    static NTSTATUS NTAPI d_##name(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG_PTR a4,         \
                                   ULONG_PTR a5, ULONG_PTR a6, ULONG_PTR a7)                              \
    {                                                                                                     \
        return obj_call(o_##name, #name, kind, h, a, oa, a4, a5, a6, a7);                                 \
    }

/* Extra argument slots beyond a call's arity are read from the caller's stack
   home area and passed along unused: harmless on x64, where args 5+ live there. */
OBJ_HOOK(NtCreateMutant, K_OBJECT)
OBJ_HOOK(NtOpenMutant, K_OBJECT)
OBJ_HOOK(NtCreateEvent, K_OBJECT)
OBJ_HOOK(NtOpenEvent, K_OBJECT)
OBJ_HOOK(NtCreateSemaphore, K_OBJECT)
OBJ_HOOK(NtOpenSemaphore, K_OBJECT)
OBJ_HOOK(NtCreateSection, K_OBJECT)
OBJ_HOOK(NtOpenSection, K_OBJECT)
OBJ_HOOK(NtCreateTimer, K_OBJECT)
OBJ_HOOK(NtOpenTimer, K_OBJECT)
OBJ_HOOK(NtCreateSymbolicLinkObject, K_OBJECT)
OBJ_HOOK(NtOpenSymbolicLinkObject, K_OBJECT)
OBJ_HOOK(NtCreateJobObject, K_OBJECT)
OBJ_HOOK(NtOpenJobObject, K_OBJECT)
OBJ_HOOK(NtCreateKeyedEvent, K_OBJECT)
OBJ_HOOK(NtOpenKeyedEvent, K_OBJECT)
OBJ_HOOK(NtCreateIoCompletion, K_OBJECT)
OBJ_HOOK(NtOpenIoCompletion, K_OBJECT)
OBJ_HOOK(NtCreateDirectoryObject, K_OBJECT)
OBJ_HOOK(NtOpenDirectoryObject, K_OBJECT)

#define H(name)                                                           \
    do {                                                                  \
        int r_ = hook_syscall(#name, (void *)d_##name, (void **)&o_##name); \
        if (r_ == -1) break; /* not exported here (e.g. Wine lacks it) */  \
        if (r_) return -1;                                                \
    } while (0)

int objects_install(void)
{
    H(NtCreateMutant); H(NtOpenMutant);
    H(NtCreateEvent); H(NtOpenEvent);
    H(NtCreateSemaphore); H(NtOpenSemaphore);
    H(NtCreateSection); H(NtOpenSection);
    H(NtCreateTimer); H(NtOpenTimer);
    H(NtCreateSymbolicLinkObject); H(NtOpenSymbolicLinkObject);
    H(NtCreateJobObject); H(NtOpenJobObject);
    H(NtCreateKeyedEvent); H(NtOpenKeyedEvent);
    H(NtCreateIoCompletion); H(NtOpenIoCompletion);
    H(NtCreateDirectoryObject); H(NtOpenDirectoryObject);
    /* the hook's own host-namespace calls must bypass the renaming */
    if (o_NtCreateSection) real_NtCreateSection = (void *)o_NtCreateSection;
    if (o_NtOpenSection) real_NtOpenSection = (void *)o_NtOpenSection;
    return 0;
}
