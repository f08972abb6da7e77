/* Decision tracing: a ring buffer in the per-VM section \BaseNamedObjects\svcdup.vmctl.<vm>.
   Writers (VM processes) touch it only while a listener has registered and keeps
   its heartbeat fresh, so an unobserved VM pays one memory read per decision. */
#ifndef SVCDUP_TRACE_H
#define SVCDUP_TRACE_H
#include "nt.h"

#define TRACE_SLOTS         1024
#define TRACE_SLOT_BYTES    1024
#define TRACE_TEXT_CHARS    ((TRACE_SLOT_BYTES - 8) / 2)
#define TRACE_HDR_BYTES     4096
#define TRACE_SECTION_BYTES (TRACE_HDR_BYTES + TRACE_SLOTS * TRACE_SLOT_BYTES)
#define TRACE_FAIL_CHARS    256
#define TRACE_STALE_100NS   (30000000LL) /* a listener silent for 3 s is gone */

typedef struct {
    volatile LONG listeners;
    LONG reserved;
    volatile LONGLONG heartbeat; /* system time (100 ns) of the listener's last beat */
    volatile LONGLONG head;      /* next sequence number to hand out */
    /* The last hook a process of this VM could not install, written whether or not anyone
       listens (svcdup-run reports it for the process it started, svcdup doctor uses that). */
    volatile LONG failed_pid; /* 0 while being written */
    LONG failed_reserved;
    WCHAR failed[TRACE_FAIL_CHARS]; /* "part: export: why" */
    /* Bumped after every change a VM process makes to the VM's file area (files_cache.c). */
    volatile LONG files_gen;
    /* Bumped after every key a VM process creates or deletes under the VM's registry copies
       (reg_cache.c); its own counter, so that file writes, far more frequent, leave the
       registry memory be. */
    volatile LONG reg_gen;
} trace_hdr;

typedef struct {
    volatile LONGLONG seq;        /* sequence + 1 once text is complete */
    WCHAR text[TRACE_TEXT_CHARS]; /* time \t pid \t call \t used \t effective \t verdict */
} trace_slot;

#define TRACE_SLOT(h, i) ((trace_slot *)((char *)(h) + TRACE_HDR_BYTES + ((i) % TRACE_SLOTS) * TRACE_SLOT_BYTES))

/* Open (create) the VM's trace section; used by the hook and the listener. */
trace_hdr *trace_map(const WCHAR *vm,
                     NTSTATUS(NTAPI *create)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE));
void trace_open(void);
/* This VM's files_gen in the shared header, NULL when the section could not be had. */
volatile LONG *trace_files_gen(void);
volatile LONG *trace_reg_gen(void); /* the same for reg_gen */
void trace_decision(const char *call, const UNICODE_STRING *used, const UNICODE_STRING *effective, int verdict);
/* A part of the hook that could not be installed: recorded in the header and traced
   (call "install", used "part: export", effective the reason, decision "failed"). */
void trace_failure(const char *part, const char *what, const char *why);
/* A call a VM process never makes: its detour traces the refusal and says access denied
   (keyguard.c, sysguard.c). The original is never called. */
#define REFUSE(x)                                         \
    static void *o_##x;                                   \
    static NTSTATUS NTAPI d_##x(void)                     \
    {                                                     \
        trace_decision(#x, NULL, NULL, 3 /* V_DENIED */); \
        return ST_ACCESS_DENIED;                          \
    }
#endif
