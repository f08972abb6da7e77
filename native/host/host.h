/* svcdup-host: state shared by its parts. */
#ifndef SVCDUP_HOST_H
#define SVCDUP_HOST_H
#include <windows.h>

/* Where dup keeps the VM's copy of a service's key (and svcdup-host reads it). */
#define VM_KEY_PREFIX L"SOFTWARE\\svcdup\\VMs\\"

#define HOST_CONNECT_TIMEOUT_MS 30000 /* for the image to open the relay pipe */
#define HOST_CONTROL_TIMEOUT_MS 30000 /* for the image's handler to answer a control */
#define HOST_EXIT_GRACE_MS      10000 /* for the image to exit once the relay is closed */

struct host {
    WCHAR vm[64];
    WCHAR service[257];
    WCHAR scm_name[330];
    SERVICE_STATUS_HANDLE status_handle;
    SERVICE_STATUS status; /* the last status reported to the SCM */
    CRITICAL_SECTION lock; /* guards status and writes to the pipe */
    HANDLE relay_pipe;     /* created before the image starts (host_prepare) */
    DWORD launch_error;    /* of that and of starting the image */
    HANDLE pipe;           /* to the service in the VM, once connected */
    HANDLE child;          /* the real image's process */
    DWORD child_pid;
    HANDLE reply_event; /* set when a RELAY_CONTROL_REPLY arrives */
    DWORD reply;
    DWORD image_accepts;       /* the controls the image itself accepts */
    volatile LONG forced_stop; /* STOP ended an image that does not accept it */
    BOOL restricted_token;     /* --restricted-token: the image gets DISABLE_MAX_PRIVILEGE */
};
extern struct host H;

/* main.c: the program (crt.c's entry point calls it) */
int host_main(int argc, WCHAR **argv);

/* crt.c: the few C-runtime pieces svcdup-host uses (it links no C runtime) */
BOOL str_eq(const WCHAR *a, const WCHAR *b);
WCHAR *str_join(WCHAR *dst, DWORD cap, ...); /* NULL-terminated list of strings */
WCHAR *str_dec(WCHAR *buf, DWORD v);         /* buf: 11 chars */
void err_write(const WCHAR *first, ...);     /* NULL-terminated; to stderr as UTF-8 */

/* service.c */
void host_prepare(void);
void WINAPI host_service_main(DWORD argc, WCHAR **argv);
void host_report(DWORD state, DWORD win32_exit, DWORD service_exit, DWORD wait_hint);
BOOL host_control_local(DWORD control, DWORD *result);
BOOL host_send_start(DWORD argc, WCHAR **argv);
BOOL host_relay_status(const SERVICE_STATUS *s, SERVICE_STATUS *final);
void host_report_end(const SERVICE_STATUS *final);

/* scmpipe.c: under Wine, the SCM's control pipe spoken on this one thread, until the
   service has stopped: NO_ERROR. ERROR_CALL_NOT_IMPLEMENTED: not Wine, nothing done
   (StartServiceCtrlDispatcher is the way); another error: as StartServiceCtrlDispatcher's. */
DWORD host_scmpipe_run(void);

/* launch.c: start the real image suspended in the VM with the hook, pipe name in its
   environment; returns a Win32 error. */
DWORD host_launch(const WCHAR *pipe_name);

/* imports.c: advapi32's functions, loaded after the image is created (Win32 errors) */
DWORD host_load_registry(void); /* RegGetValueW only */
DWORD host_load_advapi(void);

/* token.c: --restricted-token's primary token for the image; returns a Win32 error. */
DWORD host_restricted_token(HANDLE *out);
#endif
