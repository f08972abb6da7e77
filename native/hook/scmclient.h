/* The client side of the SCM API inside a VM, shared by its parts (docs/scmclient.md):
 *   scmnames.c   what a service name means in this VM, svcdup's registry area, tracked handles
 *   scmquery.c   OpenService, GetServiceDisplayName/KeyName, EnumServicesStatusEx, QueryServiceConfig
 *   scmcreate.c  CreateService, ChangeServiceConfig(2), DeleteService
 *   scmclient.c  installing the hooks on sechost */
#ifndef SVCDUP_SCMCLIENT_H
#define SVCDUP_SCMCLIENT_H
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include "trace.h"

#define NAME_CHARS   257 /* service name limit 256 + NUL */
#define CREATED_MARK L"svcdup.CreatedInVm"

/* ---- originals (scmclient.c) ---- */
typedef SC_HANDLE(WINAPI *open_w_fn)(SC_HANDLE, const WCHAR *, DWORD);
typedef SC_HANDLE(WINAPI *create_w_fn)(SC_HANDLE, const WCHAR *, const WCHAR *, DWORD, DWORD, DWORD, DWORD, const WCHAR *, const WCHAR *,
                                       DWORD *, const WCHAR *, const WCHAR *, const WCHAR *);
typedef BOOL(WINAPI *enum_ex_w_fn)(SC_HANDLE, SC_ENUM_TYPE, DWORD, DWORD, BYTE *, DWORD, DWORD *, DWORD *, DWORD *, const WCHAR *);
typedef BOOL(WINAPI *name_w_fn)(SC_HANDLE, const WCHAR *, WCHAR *, DWORD *);
typedef BOOL(WINAPI *qconfig_w_fn)(SC_HANDLE, QUERY_SERVICE_CONFIGW *, DWORD, DWORD *);
typedef BOOL(WINAPI *handle_fn)(SC_HANDLE);
typedef BOOL(WINAPI *change_w_fn)(SC_HANDLE, DWORD, DWORD, DWORD, const WCHAR *, const WCHAR *, DWORD *, const WCHAR *, const WCHAR *,
                                  const WCHAR *, const WCHAR *);
typedef BOOL(WINAPI *change2_fn)(SC_HANDLE, DWORD, void *);
extern open_w_fn o_OpenServiceW;
extern create_w_fn o_CreateServiceW;
extern enum_ex_w_fn o_EnumServicesStatusExW;
extern name_w_fn o_GetServiceKeyNameW, o_GetServiceDisplayNameW;
extern qconfig_w_fn o_QueryServiceConfigW;
extern handle_fn o_DeleteService, o_CloseServiceHandle;
extern change_w_fn o_ChangeServiceConfigW;
extern change2_fn o_ChangeServiceConfig2W, o_ChangeServiceConfig2A;

/* ---- scmnames.c ---- */
/* svcdup's registry area, through un-hooked syscall stubs (the VM's registry view closes it) */
int svc_name_ok(const WCHAR *service);
int svc_key_name(const WCHAR *service, WCHAR *out, size_t chars);
NTSTATUS open_raw(const WCHAR *name, ACCESS_MASK access, HANDLE *h);
int vm_has(SC_HANDLE scm, const WCHAR *service);
int vm_created(const WCHAR *service);

/* what a name means in this VM */
enum { N_DUP, N_HOST, N_SHARED, N_DENIED };
size_t vm_len(void);
size_t own_dup(const WCHAR *s, size_t n);
size_t strip_display(const WCHAR *s, size_t n);
int classify(SC_HANDLE scm, const WCHAR *name, WCHAR *out);
void trace_svc(const char *call, const WCHAR *used, const WCHAR *eff, int verdict);

/* Rights a host service that is neither duplicated nor shared may not be opened with. */
#define WRITE_RIGHTS                                                                                                                     \
    (SERVICE_START | SERVICE_STOP | SERVICE_PAUSE_CONTINUE | SERVICE_USER_DEFINED_CONTROL | SERVICE_CHANGE_CONFIG | DELETE | WRITE_DAC | \
     WRITE_OWNER | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL | ACCESS_SYSTEM_SECURITY)
#define READ_RIGHTS (SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS | SERVICE_ENUMERATE_DEPENDENTS | SERVICE_INTERROGATE | READ_CONTROL)

/* handles with write rights to this VM's services */
#define TRACKED_RIGHTS (SERVICE_CHANGE_CONFIG | DELETE | GENERIC_WRITE | GENERIC_ALL | MAXIMUM_ALLOWED)
int handle_find(SC_HANDLE h, WCHAR *name, int take);
SC_HANDLE tracked_handle(SC_HANDLE h, DWORD access, const WCHAR *name);

WCHAR *to_wide(const char *s);
WCHAR *to_wide_multi(const char *s);

/* ---- the detours ---- */
SC_HANDLE WINAPI d_OpenServiceW(SC_HANDLE scm, const WCHAR *name, DWORD access);
SC_HANDLE WINAPI d_OpenServiceA(SC_HANDLE scm, const char *name, DWORD access);
BOOL WINAPI d_GetServiceDisplayNameW(SC_HANDLE scm, const WCHAR *name, WCHAR *buf, DWORD *size);
BOOL WINAPI d_GetServiceKeyNameW(SC_HANDLE scm, const WCHAR *display, WCHAR *buf, DWORD *size);
BOOL WINAPI d_EnumServicesStatusExW(SC_HANDLE scm, SC_ENUM_TYPE level, DWORD type, DWORD state, BYTE *buf, DWORD size, DWORD *needed,
                                    DWORD *returned, DWORD *resume, const WCHAR *group);
BOOL WINAPI d_QueryServiceConfigW(SC_HANDLE h, QUERY_SERVICE_CONFIGW *cfg, DWORD size, DWORD *needed);
SC_HANDLE WINAPI d_CreateServiceW(SC_HANDLE scm, const WCHAR *name, const WCHAR *display, DWORD access, DWORD type, DWORD start,
                                  DWORD errctl, const WCHAR *path, const WCHAR *group, DWORD *tag, const WCHAR *deps, const WCHAR *user,
                                  const WCHAR *password);
SC_HANDLE WINAPI d_CreateServiceA(SC_HANDLE scm, const char *name, const char *display, DWORD access, DWORD type, DWORD start, DWORD errctl,
                                  const char *path, const char *group, DWORD *tag, const char *deps, const char *user,
                                  const char *password);
BOOL WINAPI d_ChangeServiceConfigW(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const WCHAR *path, const WCHAR *group, DWORD *tag,
                                   const WCHAR *deps, const WCHAR *user, const WCHAR *password, const WCHAR *display);
BOOL WINAPI d_ChangeServiceConfigA(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const char *path, const char *group, DWORD *tag,
                                   const char *deps, const char *user, const char *password, const char *display);
BOOL WINAPI d_ChangeServiceConfig2W(SC_HANDLE h, DWORD level, void *info);
BOOL WINAPI d_ChangeServiceConfig2A(SC_HANDLE h, DWORD level, void *info);
BOOL WINAPI d_DeleteService(SC_HANDLE h);
BOOL WINAPI d_CloseServiceHandle(SC_HANDLE h);
#endif
