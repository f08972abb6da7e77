/* Framing for the relay pipe (relay.h): header and body go in one write, so that a
   message-mode read returns exactly one message. Both ends open the pipe overlapped
   (one thread reads while another writes, which a synchronous handle serializes),
   so every call here waits on its own event. */
#include "relay.h"

BOOL relay_io(HANDLE pipe, BOOL write, void *buf, DWORD size, DWORD *done)
{
    OVERLAPPED ov = {0};
    BOOL ok;

    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ov.hEvent) return FALSE;
    ok = write ? WriteFile(pipe, buf, size, NULL, &ov) : ReadFile(pipe, buf, size, NULL, &ov);
    if (ok || GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(pipe, &ov, done, TRUE);
    CloseHandle(ov.hEvent);
    return ok;
}

BOOL relay_write(HANDLE pipe, DWORD type, const void *body, DWORD size)
{
    BYTE buf[sizeof(relay_header) + 512];
    BYTE *msg = buf;
    DWORD total = sizeof(relay_header) + size, done = 0;
    BOOL ok;

    if (size > RELAY_MAX_MESSAGE) return FALSE;
    if (total > sizeof buf && !(msg = HeapAlloc(GetProcessHeap(), 0, total))) return FALSE;
    ((relay_header *)msg)->type = type;
    ((relay_header *)msg)->size = size;
    if (size) memcpy(msg + sizeof(relay_header), body, size);
    ok = relay_io(pipe, TRUE, msg, total, &done) && done == total;
    if (msg != buf) HeapFree(GetProcessHeap(), 0, msg);
    return ok;
}

BOOL relay_read(HANDLE pipe, BYTE *buf, DWORD *type, BYTE **body, DWORD *size)
{
    DWORD got = 0;

    return relay_io(pipe, FALSE, buf, RELAY_BUF_SIZE, &got) && relay_parse(buf, got, type, body, size);
}

BOOL relay_parse(BYTE *buf, DWORD got, DWORD *type, BYTE **body, DWORD *size)
{
    relay_header *h = (relay_header *)buf;

    if (got < sizeof(relay_header) || h->size != got - sizeof(relay_header)) return FALSE;
    *type = h->type;
    *size = h->size;
    *body = buf + sizeof(relay_header);
    return TRUE;
}
