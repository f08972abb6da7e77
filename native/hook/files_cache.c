/* Paths the VM's area does not hold: a per-process memory of canonical VM paths with no
   private copy and no whiteout, so a read of an unchanged host file goes to the host without
   the two area lookups it would otherwise pay on every open (docs/state.md, "What an open
   costs").
   Exact for the VM's own changes: every change a VM process makes to the area (a copy-up, a
   new file or folder, a whiteout, a rename or link into it) bumps files_gen in the VM's shared
   section (trace.h) once made, and an entry counts only while files_gen still holds the value
   read before its lookups. svcdup's own writes into a running VM's area from outside (the
   snapshot of a second duplicate's folders) show within FC_TTL_100NS. Bounded: FC_SLOTS fixed
   slots, a path of more than FC_CHARS characters is not remembered, no heap. No isolation
   rule rests on it: a stale entry can only send a read to the host's file, which the VM may
   read anyway (the policy verdict and the spelling checks are decided on every call).
   The same slots also hint which spelling opens a private copy (files_cache_get): a hint
   only, a wrong one costs one failed open. */
#include "files.h"
#include "hook.h"
#include "trace.h"

NTSYSAPI NTSTATUS NTAPI NtQuerySystemTime(LARGE_INTEGER *);
NTSYSAPI void NTAPI RtlAcquireSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

#define FC_SLOTS     128
#define FC_CHARS     260
#define FC_TTL_100NS (10000000LL) /* 1 s */

typedef struct {
    LONG gen;
    ULONG hash;
    LONGLONG at;
    USHORT n;
    USHORT kind; /* FC_*: what the entry says of its path */
    WCHAR p[FC_CHARS];
} fc_slot;

static fc_slot slots[FC_SLOTS];
static RTL_SRWLOCK lock;

static WCHAR fold(WCHAR c) { return c >= L'a' && c <= L'z' ? c - 32 : c; }

/* ASCII case folded, as the area's lookups fold it; other characters compared as they are
   (a spelling that differs there only misses) */
static ULONG hash_of(const WCHAR *p, USHORT n)
{
    ULONG h = 2166136261u;
    USHORT i;
    for (i = 0; i < n; i++) h = (h ^ fold(p[i])) * 16777619u;
    return h;
}

static int same(const WCHAR *a, const WCHAR *b, USHORT n)
{
    USHORT i;
    for (i = 0; i < n; i++)
        if (fold(a[i]) != fold(b[i])) return 0;
    return 1;
}

static LONGLONG now(void)
{
    LARGE_INTEGER t;
    NtQuerySystemTime(&t);
    return t.QuadPart;
}

LONG files_cache_gen(void)
{
    volatile LONG *g = trace_files_gen();
    return g ? *g & 0x7fffffff : -1; /* -1: no counter, nothing remembered */
}

/* What the memory says of a path, from one look at its slot: FC_ABSENT (the area holds it not,
   still true for gen), FC_UNIX / FC_NOUNIX (which spelling opens its private copy; matched with
   its case exactly, since the unix spelling finds only the case on disk), or 0. */
int files_cache_get(const wpath *vp, LONG gen)
{
    fc_slot *s;
    ULONG h;
    int r = 0;
    if (vp->n > FC_CHARS) return FC_NOUNIX; /* not remembered: not tried */
    h = hash_of(vp->p, vp->n);
    s = &slots[h % FC_SLOTS];
    RtlAcquireSRWLockShared(&lock);
    if (s->n == vp->n && s->hash == h) {
        if (s->kind == FC_ABSENT) {
            LONGLONG age;
            if (gen >= 0 && s->gen == gen && same(s->p, vp->p, vp->n) && (age = now() - s->at) >= 0 && age < FC_TTL_100NS)
                r = FC_ABSENT; /* a clock set back ends the entry too */
        } else if (s->kind && !memcmp(s->p, vp->p, vp->n * sizeof(WCHAR)))
            r = s->kind;
    }
    RtlReleaseSRWLockShared(&lock);
    return r;
}

int files_cache_absent(const wpath *vp, LONG gen) { return files_cache_get(vp, gen) == FC_ABSENT; }

void files_cache_put(const wpath *vp, LONG gen)
{
    fc_slot *s;
    ULONG h;
    if (gen < 0 || vp->n > FC_CHARS) return;
    h = hash_of(vp->p, vp->n);
    s = &slots[h % FC_SLOTS];
    RtlAcquireSRWLockExclusive(&lock);
    s->gen = gen;
    s->hash = h;
    s->at = now();
    s->n = vp->n;
    s->kind = FC_ABSENT;
    memcpy(s->p, vp->p, vp->n * sizeof(WCHAR));
    RtlReleaseSRWLockExclusive(&lock);
}

/* The spelling hint of files_cache_get: no counter and no expiry (a wrong one costs one failed
   open, then the \??\C: spelling decides). */
void files_cache_put_unix(const wpath *vp, int works)
{
    fc_slot *s;
    ULONG h;
    if (vp->n > FC_CHARS) return;
    h = hash_of(vp->p, vp->n);
    s = &slots[h % FC_SLOTS];
    RtlAcquireSRWLockExclusive(&lock);
    s->hash = h;
    s->n = vp->n;
    s->kind = works ? FC_UNIX : FC_NOUNIX;
    memcpy(s->p, vp->p, vp->n * sizeof(WCHAR));
    RtlReleaseSRWLockExclusive(&lock);
}

void files_cache_changed(void)
{
    volatile LONG *g = trace_files_gen();
    if (g) InterlockedIncrement(g);
}
