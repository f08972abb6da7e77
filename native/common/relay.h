/* The private pipe between svcdup-host.exe (the duplicate, to the SCM) and the real
   service image running in the VM, whose service-side SCM calls the hook emulates.
   Message-mode pipe; every message is a relay_header followed by `size` bytes.

   host -> service: RELAY_START   (argc, then argc NUL-terminated UTF-16 strings)
                    RELAY_CONTROL (relay_control)
   service -> host: RELAY_STATUS  (SERVICE_STATUS)
                    RELAY_CONTROL_REPLY (DWORD result of the handler) */
#ifndef SVCDUP_RELAY_H
#define SVCDUP_RELAY_H
#include <windows.h>

#define RELAY_PIPE_ENV    L"SVCDUP_RELAY_PIPE" /* the pipe's full name */
#define RELAY_SERVICE_ENV L"SVCDUP_SERVICE"    /* the dispatch table entry to start */
#define RELAY_MAX_MESSAGE 65536

enum relay_type { RELAY_START = 1, RELAY_CONTROL = 2, RELAY_STATUS = 3, RELAY_CONTROL_REPLY = 4 };

typedef struct {
    DWORD type;
    DWORD size;
} relay_header;

typedef struct {
    DWORD control;
    DWORD event_type;
} relay_control;

/* One read or write on an overlapped handle, waited for on an event of its own. */
BOOL relay_io(HANDLE pipe, BOOL write, void *buf, DWORD size, DWORD *done);
/* One whole message; returns FALSE on a broken pipe or a malformed message. */
BOOL relay_write(HANDLE pipe, DWORD type, const void *body, DWORD size);
#define RELAY_BUF_SIZE (sizeof(relay_header) + RELAY_MAX_MESSAGE)
/* Reads one message into buf (RELAY_BUF_SIZE bytes); *body points into buf. */
BOOL relay_read(HANDLE pipe, BYTE *buf, DWORD *type, BYTE **body, DWORD *size);
/* The same for `got` bytes a read of its own put in buf. */
BOOL relay_parse(BYTE *buf, DWORD got, DWORD *type, BYTE **body, DWORD *size);
#endif
