/* What the per-process memories of absent names (files_cache.c, reg_cache.c) share: names
   hashed and compared with ASCII case folded, as Wine's lookups fold it; other characters
   compared as they are (a spelling that differs there only misses, never matches wrongly).
   And the clock their entries expire by. */
#ifndef SVCDUP_NAMEFOLD_H
#define SVCDUP_NAMEFOLD_H
#include "nt.h"

NTSYSAPI NTSTATUS NTAPI NtQuerySystemTime(LARGE_INTEGER *);

static inline WCHAR fold(WCHAR c) { return c >= L'a' && c <= L'z' ? c - 32 : c; }

/* FNV-1a over folded characters, continued from h */
static inline ULONG hash_on(ULONG h, const WCHAR *p, USHORT n)
{
    USHORT i;
    for (i = 0; i < n; i++) h = (h ^ fold(p[i])) * 16777619u;
    return h;
}
#define HASH0         2166136261u
#define hash_of(p, n) hash_on(HASH0, p, n)

static inline int same(const WCHAR *a, const WCHAR *b, USHORT n)
{
    USHORT i;
    for (i = 0; i < n; i++)
        if (fold(a[i]) != fold(b[i])) return 0;
    return 1;
}

static inline LONGLONG now(void)
{
    LARGE_INTEGER t;
    NtQuerySystemTime(&t);
    return t.QuadPart;
}
#endif
