/* LPC/ALPC ports, server and client side. Wine 8 implements none of these
   (NtCreatePort and friends return STATUS_NOT_IMPLEMENTED and ntdll has no
   NtAlpc* exports), so under Wine this only renames and traces; the ALPC hooks
   install where ntdll exports them (Windows). */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"

typedef NTSTATUS(NTAPI *create_fn)(HANDLE *, OBJECT_ATTRIBUTES *, ULONG_PTR, ULONG_PTR, ULONG_PTR);
typedef NTSTATUS(NTAPI *conn_fn)(HANDLE *, UNICODE_STRING *, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR,
                                 ULONG_PTR, ULONG_PTR);
static create_fn o_NtCreatePort, o_NtCreateWaitablePort, o_NtAlpcCreatePort;
static conn_fn o_NtConnectPort, o_NtSecureConnectPort, o_NtAlpcConnectPort;

static NTSTATUS port_create(create_fn orig, const char *call, HANDLE *h, OBJECT_ATTRIBUTES *oa, ULONG_PTR a3, ULONG_PTR a4, ULONG_PTR a5)
{
    renamed r;
    NTSTATUS st;
    int v = rename_object(K_PORT, oa, &r);
    if (v != V_PASS) trace_decision(call, oa->ObjectName, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    st = orig(h, v == V_RENAMED ? &r.oa : oa, a3, a4, a5);
    renamed_free(&r);
    return st;
}

static NTSTATUS port_connect(conn_fn orig, const char *call, HANDLE *h, UNICODE_STRING *name, ULONG_PTR a3, ULONG_PTR a4, ULONG_PTR a5,
                             ULONG_PTR a6, ULONG_PTR a7, ULONG_PTR a8, ULONG_PTR a9, ULONG_PTR a10, ULONG_PTR a11)
{
    OBJECT_ATTRIBUTES oa;
    renamed r;
    NTSTATUS st;
    int v;
    InitializeObjectAttributes(&oa, name, 0, NULL, NULL);
    v = rename_object(K_PORT, &oa, &r);
    if (v != V_PASS) trace_decision(call, name, v == V_RENAMED ? &r.us : NULL, v);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    st = orig(h, v == V_RENAMED ? &r.us : name, a3, a4, a5, a6, a7, a8, a9, a10, a11);
    renamed_free(&r);
    return st;
}

#define CREATE(name)                                                                                           \
    static NTSTATUS NTAPI d_##name(HANDLE *h, OBJECT_ATTRIBUTES *oa, ULONG_PTR a3, ULONG_PTR a4, ULONG_PTR a5) \
    {                                                                                                          \
        return port_create(o_##name, #name, h, oa, a3, a4, a5);                                                \
    }
#define CONNECT(name)                                                                                                                  \
    static NTSTATUS NTAPI d_##name(HANDLE *h, UNICODE_STRING *n, ULONG_PTR a3, ULONG_PTR a4, ULONG_PTR a5, ULONG_PTR a6, ULONG_PTR a7, \
                                   ULONG_PTR a8, ULONG_PTR a9, ULONG_PTR a10, ULONG_PTR a11)                                           \
    {                                                                                                                                  \
        return port_connect(o_##name, #name, h, n, a3, a4, a5, a6, a7, a8, a9, a10, a11);                                              \
    }
CREATE(NtCreatePort)
CREATE(NtCreateWaitablePort)
CREATE(NtAlpcCreatePort)
CONNECT(NtConnectPort)
CONNECT(NtSecureConnectPort)
CONNECT(NtAlpcConnectPort)

/* Wine 8 exports only NtCreatePort, NtConnectPort and NtSecureConnectPort; Windows has them all */
static const hook_entry table[] = {
    HOOK_OPT(NtCreatePort),  HOOK_OPT(NtCreateWaitablePort), HOOK_OPT(NtAlpcCreatePort),
    HOOK_OPT(NtConnectPort), HOOK_OPT(NtSecureConnectPort),  HOOK_OPT(NtAlpcConnectPort),
};
int ports_install(void) { return HOOK_TABLE(table); }
