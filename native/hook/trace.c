/* Decision tracing (see trace.h). */
#include "trace.h"
#include "hook.h"
#include "names.h"
#include <stdio.h>
#include <wchar.h>

static trace_hdr *hdr;

trace_hdr *trace_map(const WCHAR *vm,
                     NTSTATUS(NTAPI *create)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE))
{
    WCHAR buf[80];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    LARGE_INTEGER size;
    HANDLE h;
    PVOID view = NULL;
    SIZE_T vsize = 0;
    int n = swprintf(buf, 80, L"\\BaseNamedObjects\\svcdup.vmctl.%ls", vm);
    us.Buffer = buf;
    us.Length = (USHORT)(n * sizeof(WCHAR));
    us.MaximumLength = us.Length;
    InitializeObjectAttributes(&oa, &us, OBJ_OPENIF, NULL, NULL);
    size.QuadPart = TRACE_SECTION_BYTES;
    if (create(&h, SECTION_ALL_ACCESS, &oa, &size, PAGE_READWRITE, SEC_COMMIT, NULL) < 0) return NULL;
    /* the handle stays open: the section lives while any VM process or listener does */
    if (NtMapViewOfSection(h, GetCurrentProcess(), &view, 0, 0, NULL, &vsize, 2, 0, PAGE_READWRITE) < 0) return NULL;
    return view;
}

void trace_open(void) { hdr = trace_map(G.cfg->vm, o_NtCreateSection); }
volatile LONG *trace_files_gen(void) { return hdr ? &hdr->files_gen : NULL; }
volatile LONG *trace_reg_gen(void) { return hdr ? &hdr->reg_gen : NULL; }

static int put(WCHAR *o, int at, const UNICODE_STRING *s)
{
    int n = s && s->Buffer ? s->Length / 2 : 0, i;
    if (at + n > TRACE_TEXT_CHARS - 40) n = TRACE_TEXT_CHARS - 40 - at;
    for (i = 0; i < n; i++) o[at + i] = (s->Buffer[i] == L'\t' || s->Buffer[i] == L'\n') ? L' ' : s->Buffer[i];
    return at + (n > 0 ? n : 0);
}

void trace_decision(const char *call, const UNICODE_STRING *used, const UNICODE_STRING *effective, int verdict)
{
    static const WCHAR *names[] = {L"pass", L"renamed", L"open", L"denied", L"joined", L"failed", L"?", L"?"};
    LARGE_INTEGER now;
    LONGLONG seq;
    trace_slot *slot;
    int at;

    if (!hdr || !hdr->listeners) return; /* the whole cost when nobody listens */
    NtQuerySystemTime(&now);
    if (now.QuadPart - hdr->heartbeat > TRACE_STALE_100NS) return;
    seq = InterlockedIncrement64(&hdr->head) - 1;
    slot = TRACE_SLOT(hdr, seq);
    slot->seq = 0;
    at = swprintf(slot->text, 64, L"%lld\t%lu\t%hs\t", now.QuadPart, (unsigned long)G.pid, call);
    at = put(slot->text, at, used);
    slot->text[at++] = L'\t';
    at = put(slot->text, at, effective ? effective : used);
    at += swprintf(slot->text + at, 16, L"\t%ls", names[verdict & 7]);
    slot->text[at] = 0;
    MemoryBarrier();
    slot->seq = seq + 1;
}

void trace_failure(const char *part, const char *what, const char *why)
{
    WCHAR used[128], eff[TRACE_FAIL_CHARS];
    UNICODE_STRING u, e;
    int n = swprintf(used, ARRAYSIZE(used), what && *what ? L"%hs: %hs" : L"%hs", part, what);
    swprintf(eff, ARRAYSIZE(eff), L"%hs", why ? why : "failed");
    if (hdr) {
        hdr->failed_pid = 0;
        MemoryBarrier();
        swprintf((WCHAR *)hdr->failed, TRACE_FAIL_CHARS, L"%ls: %ls", used, eff);
        MemoryBarrier();
        hdr->failed_pid = (LONG)G.pid;
    }
    u.Buffer = used;
    u.Length = u.MaximumLength = (USHORT)((n > 0 ? n : 0) * sizeof(WCHAR));
    RtlInitUnicodeString(&e, eff);
    trace_decision("install", &u, &e, 5 /* failed */);
}
