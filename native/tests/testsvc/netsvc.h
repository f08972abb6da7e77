/* The test services' network side: TCP, UDP and HTTP Server API listeners whose replies
   carry the serving process's pid, so tests can tell which instance answered. */
#ifndef SVCDUP_NETSVC_H
#define SVCDUP_NETSVC_H
#include <windows.h>

/* Start the listeners asked for (NULL: not wanted). Returns 0, or the error of the first
   that failed (a WSA error for a bind, a Win32 error from the HTTP Server API). */
DWORD netsvc_start(const WCHAR *service, const WCHAR *tcp_port, const WCHAR *bind_addr, const WCHAR *udp_port, const WCHAR *http_url);
void netsvc_stop(void);
#endif
