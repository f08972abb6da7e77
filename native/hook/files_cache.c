/* Paths the VM's area does not hold: a per-process memory of canonical VM paths with no
   private copy and no whiteout, so a read of an unchanged host file goes to the host without
   the two area lookups it would otherwise pay on every open (docs/state.md, "What an open
   costs"). And folders the area does not have: once the area's lookup of a path fails for want
   of its folder (STATUS_OBJECT_PATH_NOT_FOUND), every other path in that folder is absent too,
   its whiteouts included (a whiteout lives beside the name it hides), so the first open of each
   of them skips the failed lookup (about 50 us under Wine) as well.
   Exact for the VM's own changes: every change a VM process makes to the area (a copy-up, a
   new file or folder, a whiteout, a rename or link into it) bumps files_gen in the VM's shared
   section (trace.h) once made, and an entry (path or folder) counts only while files_gen still
   holds the value read before its lookups. svcdup's own writes into a running VM's area from
   outside (the snapshot of a second duplicate's folders) show within FC_TTL_100NS. Bounded:
   FC_SLOTS + FC_DIRS fixed slots, a path of more than FC_CHARS characters is not remembered, no
   heap. No isolation rule rests on it: a stale entry can only send a read to the host's file,
   which the VM may read anyway (the policy verdict and the spelling checks are decided on every
   call).
   The path slots also hint which spelling opens a private copy (files_cache_get): a hint
   only, a wrong one costs one failed open. */
#include "files.h"
#include "hook.h"
#include "namefold.h"
#include "trace.h"

NTSYSAPI void NTAPI RtlAcquireSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockShared(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

#define FC_SLOTS     128
#define FC_DIRS      32 /* the folders a process reads from at a time: few (its own, system32, ...) */
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
static fc_slot dirs[FC_DIRS]; /* kind FC_ABSENT: the area has no such folder */
static RTL_SRWLOCK lock;

LONG files_cache_gen(void)
{
    volatile LONG *g = trace_files_gen();
    return g ? *g & 0x7fffffff : -1; /* -1: no counter, nothing remembered */
}

/* The length of vp's folder when it may stand for its folder in dirs[] (0: not), and, through
   *h_dir / *h, the hashes of that folder and of vp from one pass. Not the drive's root itself;
   not a leaf with '/' or ':' in it, which Wine may read as more than one component (or a
   stream) and then answer "path not found" of a folder the area has. */
static USHORT dir_of(const wpath *vp, ULONG *h_dir, ULONG *h)
{
    USHORT l = files_leaf(vp->p, vp->n), c = l ? l - 1 : 0, i, d = l >= 7 && l < vp->n ? c : 0;
    for (i = l; d && i < vp->n; i++)
        if (vp->p[i] == L'/' || vp->p[i] == L':') d = 0;
    *h_dir = hash_of(vp->p, c);
    *h = hash_on(*h_dir, vp->p + c, vp->n - c);
    return d;
}

/* an absence still true: the same name, put at gen, younger than FC_TTL_100NS */
static int fresh(const fc_slot *s, const WCHAR *p, USHORT n, ULONG h, LONG gen)
{
    LONGLONG age;
    return s->kind == FC_ABSENT && gen >= 0 && s->n == n && s->hash == h && s->gen == gen && same(s->p, p, n) &&
           (age = now() - s->at) >= 0 && age < FC_TTL_100NS; /* a clock set back ends the entry too */
}

/* What the memory says of a path, from one look at its slot and its folder's: FC_ABSENT (the
   area holds it not, or not its folder, still true for gen), FC_UNIX / FC_NOUNIX (which
   spelling opens its private copy; matched with its case exactly, since the unix spelling finds
   only the case on disk), or 0. */
int files_cache_get(const wpath *vp, LONG gen)
{
    fc_slot *s;
    ULONG h, hd;
    USHORT d;
    int r = 0;
    if (vp->n > FC_CHARS) return FC_NOUNIX; /* not remembered: not tried */
    d = dir_of(vp, &hd, &h);
    s = &slots[h % FC_SLOTS];
    RtlAcquireSRWLockShared(&lock);
    if (fresh(s, vp->p, vp->n, h, gen))
        r = FC_ABSENT;
    else if (d && fresh(&dirs[hd % FC_DIRS], vp->p, d, hd, gen))
        r = FC_ABSENT; /* a folder the area has not: nothing in it, no whiteout either */
    else if ((s->kind == FC_UNIX || s->kind == FC_NOUNIX) && s->n == vp->n && s->hash == h && !memcmp(s->p, vp->p, vp->n * sizeof(WCHAR)))
        r = s->kind;
    RtlReleaseSRWLockShared(&lock);
    return r;
}

int files_cache_absent(const wpath *vp, LONG gen) { return files_cache_get(vp, gen) == FC_ABSENT; }

static void put_absent(fc_slot *s, const WCHAR *p, USHORT n, ULONG h, LONG gen, LONGLONG at)
{
    s->gen = gen;
    s->hash = h;
    s->at = at;
    s->n = n;
    s->kind = FC_ABSENT;
    memcpy(s->p, p, n * sizeof(WCHAR));
}

void files_cache_put(const wpath *vp, LONG gen, int no_folder)
{
    ULONG h, hd;
    USHORT d;
    LONGLONG at;
    if (gen < 0 || vp->n > FC_CHARS) return;
    d = dir_of(vp, &hd, &h);
    at = now();
    RtlAcquireSRWLockExclusive(&lock);
    put_absent(&slots[h % FC_SLOTS], vp->p, vp->n, h, gen, at);
    if (no_folder && d) put_absent(&dirs[hd % FC_DIRS], vp->p, d, hd, gen, at);
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
