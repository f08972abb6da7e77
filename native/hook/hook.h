/* State and helpers shared by the hook's parts. */
#ifndef SVCDUP_HOOK_H
#define SVCDUP_HOOK_H
#include "nt.h"

#define VM_NAME_MAX      32
#define CFG_MAGIC        0x31504456u /* "VDP1" */
#define CFG_SECTION_SIZE 0x10000

/* What a VM process learns about itself: published by its creator in the named
   section \BaseNamedObjects\svcdup.pid.<pid>, whose only handle is duplicated
   into the process itself, so it lives exactly as long as the process. */
typedef struct {
    DWORD magic;
    DWORD rules_chars; /* length of rules[], without the terminating 0 */
    WCHAR vm[VM_NAME_MAX + 1];
    WCHAR rules[1]; /* policy lines, see policy.c */
} vm_config;

typedef struct {
    int active; /* 0: loaded by the launcher, nothing hooked */
    DWORD pid;
    HMODULE self;
    vm_config *cfg;                /* private copy, immune to later tampering */
    WCHAR prefix[VM_NAME_MAX + 9]; /* "svcdup.<vm>." */
    USHORT prefix_chars;
} hook_state;
extern hook_state G;

/* Originals of hooked calls the hook itself needs, named o_<export> as every part names
   its originals: ntdll's export until the part that hooks it is installed, then the
   untouched stub's copy, so the hook's own calls never go through the VM's renaming. */
typedef NTSTATUS(NTAPI *fn_open)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *section_create_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE);
typedef NTSTATUS(NTAPI *job_create_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *key_create_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, UNICODE_STRING *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtCreateSection(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE);
NTSYSAPI NTSTATUS NTAPI NtOpenSection(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSYSAPI NTSTATUS NTAPI NtOpenJobObject(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSYSAPI NTSTATUS NTAPI NtCreateJobObject(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSYSAPI NTSTATUS NTAPI NtOpenProcess(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, CLIENT_ID *);
NTSYSAPI NTSTATUS NTAPI NtOpenKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSYSAPI NTSTATUS NTAPI NtCreateKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, UNICODE_STRING *, ULONG, ULONG *);
extern section_create_fn o_NtCreateSection;                                                       /* objects.c */
extern fn_open o_NtOpenSection, o_NtOpenJobObject;                                                /* objects.c */
extern job_create_fn o_NtCreateJobObject;                                                         /* objects.c */
extern NTSTATUS(NTAPI *o_NtQueryObject)(HANDLE, OBJECT_INFORMATION_CLASS, PVOID, ULONG, PULONG);  /* query.c */
extern NTSTATUS(NTAPI *o_NtClose)(HANDLE);                                                        /* process.c */
extern NTSTATUS(NTAPI *o_NtOpenProcess)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, CLIENT_ID *); /* process.c */
extern fn_open o_NtOpenKey;                                                                       /* registry.c */
extern key_create_fn o_NtCreateKey;                                                               /* registry.c */
typedef NTSTATUS(NTAPI *setvalue_fn)(HANDLE, UNICODE_STRING *, ULONG, ULONG, void *, ULONG);
NTSYSAPI NTSTATUS NTAPI NtSetValueKey(HANDLE, UNICODE_STRING *, ULONG, ULONG, void *, ULONG);
extern setvalue_fn o_NtSetValueKey; /* registry.c */
typedef NTSTATUS(NTAPI *dup_fn)(HANDLE, HANDLE, HANDLE, HANDLE *, ACCESS_MASK, ULONG, ULONG);
extern dup_fn o_NtDuplicateObject; /* objects.c */

/* config.c */
int config_publish(HANDLE process, DWORD pid, const vm_config *cfg);
vm_config *config_load(DWORD pid); /* heap copy, or NULL when pid is in no VM */
int pid_in_vm(DWORD pid, const WCHAR *vm);
SIZE_T config_size(const vm_config *cfg);
vm_config *config_make(const WCHAR *vm, const WCHAR *rules);
WCHAR *config_vm_policy(const WCHAR *vm);                    /* heap; "" when none, NULL when unreadable */
WCHAR *config_vm_value(const WCHAR *vm, const WCHAR *value); /* the same, for any value of the VM's key */
void config_vm_hold(const WCHAR *vm);                        /* the VM's key opened once for the reads until: */
void config_vm_release(void);

/* stdlog.c: a duplicate's stdout/stderr file (inheritable, appending), NULL when none */
HANDLE stdlog_open(const WCHAR *vm, const WCHAR *service);
void stdlog_crt(HANDLE log, int out, int err); /* a direct image's msvcrt stdout/stderr onto log (takes it) */

/* limits.c */
int limits_start(const WCHAR *vm);
NTSTATUS limits_apply(HANDLE job, const WCHAR *vm);
NTSTATUS limits_check(ULONG processes); /* the job's process count, the new one in it */

/* membership.c: VM membership is the job object svcdup.job.<vm> */
int membership_start(const WCHAR *vm);
int membership_has(DWORD pid);
NTSTATUS membership_join(HANDLE process, DWORD pid, const WCHAR *vm);
int pid_in_vm_job(DWORD pid, const WCHAR *vm);

/* direct.c: a direct duplicate's image takes its VM from its own marker: 1 done, 0 not one, -1 failed */
int direct_start(vm_config **out);

/* inject.c: make a suspended child load this DLL first, and give it its config. */
NTSTATUS inject_child(HANDLE process, DWORD pid, const vm_config *cfg);

/* heap */
void *hmalloc(SIZE_T n);
void hfree(void *p);

/* Each part's install: its table of hooks (patch.h's hook_table), 0 or -1 */
int objects_install(void);
int pipes_install(void);
int ports_install(void);
int query_install(void);
int process_install(void);
int registry_install(void);                                             /* registry.c: the VM's copy-on-write registry (docs/state.md) */
void registry_forget(HANDLE h);                                         /* registry.c: a handle closed */
USHORT registry_unname(WCHAR *s, USHORT bytes);                         /* registry.c: a key copy's name as the VM knows it */
int dirs_install(void);                                                 /* dirs.c: object directory listings filtered to the VM */
int modguard_install(void);                                             /* modguard.c: no second copy of the SCM client code in a VM */
int keyguard_refuse_create(const OBJECT_ATTRIBUTES *oa, ULONG options); /* keyguard.c: no registry links from a VM */
int service_install(void);                                              /* service.c: service-side SCM API for svcdup-host's images */
int net_install(void);       /* net.c: per-VM addresses, port maps, http.sys URLs (docs/network.md) */
int scmclient_install(void); /* scmclient.c: client-side SCM names (docs/design.md 10, 12) */
/* dllmain.c: name the part that could not be installed, with patch_last_failure()'s export and reason */
void hook_failed(const char *part);
int files_install(void); /* files.c: copy-on-write files (docs/state.md) */
/* svcctl.c: the SCM's pipe only through sechost (docs/vm.md, "Threat model") */
int svcctl_install(void);
int svcctl_may_open(const char *call, int create_instance);
int svcctl_note(HANDLE h);
void svcctl_forget(HANDLE h);
int svcctl_refused(HANDLE h, const char *call);
int svcctl_dup_refused(HANDLE sp, HANDLE sh, HANDLE tp, ULONG attr, int src_self, int dst_self);
int svcctl_dup_done(HANDLE sh, HANDLE th, ULONG opt);
/* handles.c: rights follow the verdict for the handle's whole life */
int handles_install(void);
int handles_dup_widens(HANDLE sp, HANDLE sh, ACCESS_MASK a, ULONG opt, int src_self);
int handles_fsctl_refused(HANDLE h, ULONG code);
int registry_may_change(HANDLE h); /* registry.c: may a change through this key handle act? */
int keyguard_install(void);        /* keyguard.c: the hive calls, refused */
int sysguard_install(void);        /* sysguard.c: machine-wide calls, refused */
/* pipedir.c: listings of the pipe root filtered to the VM */
int pipedir_install(void);
#endif
