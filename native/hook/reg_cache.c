/* Keys the VM's copy tree does not have: a per-process memory of copy names
   (...\VMs\<vm>\Cow\MACHINE\...) found missing by registry.c's lookup, so that a later lookup
   of that key or of any key below it skips the walk down the copy tree (an open and a close
   a component, each a wineserver round trip: a VM's registry read cost twice a native one;
   docs/state.md, "What a read costs").
   Exact for the VM's own changes: every key a VM process creates or deletes under the copy
   tree (a copy, a new key, a tombstone, a deletion) bumps reg_gen in the VM's shared section
   (trace.h) once made, and an entry counts only while reg_gen still holds the value read
   before the walk that found it. svcdup's own writes into a running VM's copies from outside
   show within RC_TTL_100NS. Bounded: RC_SLOTS fixed slots, a name of more than RC_CHARS
   characters is not remembered, no heap.
   What an entry stands for is the walk's whole answer, not only the missing key: registry.c
   puts one only when the deepest copy above the missing key carries no marker, and a missing
   key has no key below it, so no tombstone or opaque copy can hide under a remembered name
   (the policy, P_PRIVATE included, is decided on every call). No isolation rule rests on it:
   a stale entry can only send a read to the host's key, which a copy-on-write key lets the VM
   read anyway. */
#include "hook.h"
#include "namefold.h"
#include "reg_cache.h"
#include "trace.h"

NTSYSAPI void NTAPI RtlAcquireSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

#define RC_SLOTS     64 /* the missing subtrees a process reads under: few (SOFTWARE\X, SYSTEM\...) */
#define RC_CHARS     256
#define RC_TTL_100NS (10000000LL) /* 1 s */

typedef struct {
    LONG gen;
    ULONG hash;
    LONGLONG at;
    USHORT n;
    WCHAR p[RC_CHARS];
} rc_slot;

static rc_slot slots[RC_SLOTS];
static RTL_SRWLOCK lock;

LONG reg_cache_gen(void)
{
    volatile LONG *g = trace_reg_gen();
    return g ? *g & 0x7fffffff : -1; /* -1: no counter, nothing remembered */
}

int reg_cache_absent(const WCHAR *c, USHORT n, USHORT from, LONG gen)
{
    ULONG h = HASH0;
    USHORT i;
    LONGLONG t = 0;
    int r = 0;
    if (gen < 0) return 0;
    RtlAcquireSRWLockShared(&lock);
    /* every ancestor of c from `from` on, and c itself: one hash pass */
    for (i = 0; i < n && i <= RC_CHARS && !r; i++) {
        if (i >= from && (c[i] == L'\\' || i + 1 == n)) {
            USHORT len = c[i] == L'\\' ? i : n;
            ULONG hv = c[i] == L'\\' ? h : hash_on(h, c + i, 1);
            const rc_slot *s = &slots[hv % RC_SLOTS];
            if (s->n == len && s->hash == hv && s->gen == gen && same(s->p, c, len)) {
                if (!t) t = now();
                r = t - s->at >= 0 && t - s->at < RC_TTL_100NS; /* a clock set back ends the entry too */
            }
        }
        h = hash_on(h, c + i, 1);
    }
    RtlReleaseSRWLockShared(&lock);
    return r;
}

void reg_cache_put(const WCHAR *c, USHORT n, LONG gen)
{
    ULONG h;
    rc_slot *s;
    LONGLONG at;
    if (gen < 0 || !n || n > RC_CHARS) return;
    h = hash_of(c, n);
    at = now();
    s = &slots[h % RC_SLOTS];
    RtlAcquireSRWLockExclusive(&lock);
    s->gen = gen;
    s->hash = h;
    s->at = at;
    s->n = n;
    memcpy(s->p, c, n * sizeof(WCHAR));
    RtlReleaseSRWLockExclusive(&lock);
}

void reg_cache_changed(void)
{
    volatile LONG *g = trace_reg_gen();
    if (g) InterlockedIncrement(g);
}
