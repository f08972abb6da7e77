/* Code patching: the one place svcdup-hook.dll writes code (see patch.h).
 *
 * Three kinds of patch, all Detours-style (the entry becomes a jump to the detour):
 *
 * 1. ntdll syscall stubs (hook_syscall), checked byte for byte (Wine 8.0 and Windows 10/11):
 *      4c 8b d1             mov r10, rcx
 *      b8 NN NN NN NN       mov eax, <syscall number>
 *      f6 04 25 08 03 fe 7f 01   test byte [0x7ffe0308], 1   (KUSER_SHARED_DATA)
 *      75 03                jne +3
 *      0f 05 c3             syscall ; ret
 *    then Windows:          cd 2e c3              int 2e ; ret                 (24 bytes)
 *    or Wine 8:             eb 01 c3 ff 14 25 00 10 fe 7f c3
 *                           jmp +1; ret; call [0x7ffe1000]; ret              (32 bytes)
 *    Every operand is absolute or relative to the stub itself, so a verbatim copy anywhere
 *    is a working trampoline; the entry becomes the 14-byte `jmp [rip+0]; dq detour`.
 *    Anything else is refused, not guessed at.
 *
 * 2. ordinary exports whose original is still called (hook_function): the entry becomes
 *    `jmp rel32` (5 bytes) to a relay `jmp [rip+0]; dq detour` placed within +-2 GB of it;
 *    when no memory can be had that near, the entry becomes the 14-byte absolute jump
 *    itself. The whole instructions the jump overwrites are copied to a trampoline followed
 *    by an absolute jump back to the first instruction not copied. Only instructions that
 *    mean the same at any address are copied: the decoder below knows the x86-64 forms
 *    compilers put in prologues (push/pop, mov/lea/arithmetic with register or
 *    [base+index*s+disp] operands, immediates, SSE moves of xmm saves, multi-byte nops,
 *    Wine's DECLSPEC_HOTPATCH `lea rsp,[rsp+0]`, MSVC's `mov [rsp+8],rbx` and `mov r11,rsp`),
 *    and refuses the rest: rip-relative operands (e.g. MSVC's
 *    `mov rax,[rip+__security_cookie]`), every branch, call and return, 67h address size,
 *    3-byte opcode maps, VEX/EVEX. Entries that are import thunks (`jmp [rip+x]`) or jumps
 *    (`jmp rel32`) are followed to the code they reach, up to 4 times. A branch elsewhere in
 *    the function back into the overwritten bytes would land on int3 padding (no compiler
 *    emits one into a prologue this short).
 *
 * 3. functions replaced outright (hook_replace): the entry becomes the absolute jump; the
 *    original is never called, so nothing is decoded or copied.
 *
 * Every patch is prepared first (trampoline filled, jump bytes built) and written at commit,
 * so a transaction of several is all or none. */
#include "patch.h"
#include <string.h>

NTSYSAPI NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE, PVOID, int, PVOID, SIZE_T, SIZE_T *);
NTSYSAPI NTSTATUS NTAPI NtFlushInstructionCache(HANDLE, PVOID, SIZE_T);
NTSYSAPI NTSTATUS NTAPI RtlQueryEnvironmentVariable_U(PWSTR, PUNICODE_STRING, PUNICODE_STRING);

/* ---- failures ---- */
static patch_failure last;

const patch_failure *patch_last_failure(void) { return &last; }
void patch_clear_failure(void) { memset(&last, 0, sizeof last); }

static const char *why_of(int code)
{
    switch (code) {
    case PATCH_NO_EXPORT: return "the export is missing";
    case PATCH_UNKNOWN: return "its entry is not code of a layout svcdup knows how to patch";
    case PATCH_NO_MEMORY: return "no memory for the trampoline";
    case PATCH_NOT_WRITABLE: return "its entry cannot be made writable";
    case PATCH_REFUSED: return "refused: SVCDUP_HOOK_FAIL names it (a switch for tests)";
    case PATCH_TOO_MANY: return "too many hooks in one transaction";
    default: return "failed";
    }
}

int patch_fail(const char *what, int code, const char *why)
{
    size_t n = what ? strlen(what) : 0;
    if (n >= sizeof last.what) n = sizeof last.what - 1;
    last.code = code;
    memcpy(last.what, what ? what : "", n);
    last.what[n] = 0;
    last.why = why ? why : why_of(code);
    return code;
}

/* SVCDUP_HOOK_FAIL=<export>: make that one hook fail, so that tests can run the real
   failure report (a VM process can only use it to stop its own children starting). */
static int refused(const char *what)
{
    static WCHAR value[64];
    static int read;
    int i;
    if (!read) {
        UNICODE_STRING n, v;
        read = 1;
        RtlInitUnicodeString(&n, L"SVCDUP_HOOK_FAIL");
        v.Buffer = value;
        v.Length = 0;
        v.MaximumLength = sizeof value - sizeof(WCHAR);
        if (RtlQueryEnvironmentVariable_U(NULL, &n, &v) < 0) v.Length = 0;
        value[v.Length / sizeof(WCHAR)] = 0;
    }
    if (!what || !value[0]) return 0;
    for (i = 0; what[i] && value[i] && (WCHAR)(unsigned char)what[i] == value[i]; i++)
        ;
    return !what[i] && !value[i];
}

/* ---- ntdll ---- */
static HMODULE ntdll_module(void)
{
    static HMODULE h;
    if (!h) {
        UNICODE_STRING n;
        RtlInitUnicodeString(&n, L"ntdll.dll");
        LdrGetDllHandle(NULL, 0, &n, &h);
    }
    return h;
}

void *ntdll_proc(const char *name)
{
    ANSI_STRING a;
    void *p = NULL;
    a.Buffer = (char *)name;
    a.Length = (USHORT)strlen(name);
    a.MaximumLength = a.Length + 1;
    if (LdrGetProcedureAddress(ntdll_module(), &a, 0, &p) < 0) return NULL;
    return p;
}

static const unsigned char stub_head[] = {0x4c, 0x8b, 0xd1, 0xb8};
static const unsigned char stub_mid[] = {0xf6, 0x04, 0x25, 0x08, 0x03, 0xfe, 0x7f, 0x01, 0x75, 0x03, 0x0f, 0x05, 0xc3};
static const unsigned char stub_tail_win[] = {0xcd, 0x2e, 0xc3};
static const unsigned char stub_tail_wine[] = {0xeb, 0x01, 0xc3, 0xff, 0x14, 0x25, 0x00, 0x10, 0xfe, 0x7f, 0xc3};

/* The stub's length if it has a known layout, else 0. */
static SIZE_T stub_len(const unsigned char *p)
{
    if (memcmp(p, stub_head, 4) || memcmp(p + 8, stub_mid, sizeof stub_mid)) return 0;
    if (!memcmp(p + 21, stub_tail_wine, sizeof stub_tail_wine)) return 32;
    if (!memcmp(p + 21, stub_tail_win, sizeof stub_tail_win)) return 24;
    return 0;
}

/* ---- the length decoder ---- */
/* ModRM (+SIB, displacement) length at p, or 0 for rip-relative. */
static int modrm_len(const unsigned char *p)
{
    int mod = p[0] >> 6, rm = p[0] & 7, n = 1;
    if (mod == 3) return 1;
    if (rm == 4) {
        n++;
        if (mod == 0 && (p[1] & 7) == 5) n += 4;
    } else if (mod == 0 && rm == 5) {
        return 0; /* [rip+disp32] */
    }
    if (mod == 1) n += 1;
    if (mod == 2) n += 4;
    return n;
}

int patch_insn_len(const unsigned char *p)
{
    const unsigned char *s = p;
    int rex_w = 0, opsize16 = 0, m, imm = 0;
    unsigned char op;

    for (;; p++) { /* legacy prefixes */
        if (*p == 0x66)
            opsize16 = 1;
        else if (*p == 0xf2 || *p == 0xf3 || *p == 0x64 || *p == 0x65 || *p == 0x2e || *p == 0x3e)
            ;
        else
            break;
        if (p - s > 4) return 0;
    }
    if ((*p & 0xf0) == 0x40) rex_w = (*p++ & 8) != 0;
    op = *p++;
    if (op == 0x0f) {
        op = *p++;
        if (op == 0x1f || op == 0x18 || (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) || (op >= 0x40 && op <= 0x4f) ||
            (op >= 0x50 && op <= 0x6f) || (op >= 0x74 && op <= 0x7f) || (op >= 0x90 && op <= 0x9f) || op == 0xaf || op == 0xb6 ||
            op == 0xb7 || op == 0xbe || op == 0xbf || op == 0xd6 || op == 0xef || op == 0xd4 || op == 0xfb) {
            imm = 0;
        } else if ((op >= 0x70 && op <= 0x73) || op == 0xc6) {
            imm = 1;
        } else {
            return 0; /* jcc rel32, syscall, 3-byte maps, anything else */
        }
        if (!(m = modrm_len(p))) return 0;
        return (int)(p - s) + m + imm;
    }
    if (op >= 0x50 && op <= 0x5f) return (int)(p - s);                 /* push/pop reg */
    if (op == 0x90 || (op >= 0x91 && op <= 0x99)) return (int)(p - s); /* nop, xchg, cdqe, cqo */
    if (op >= 0xb0 && op <= 0xb7) return (int)(p - s) + 1;             /* mov r8, imm8 */
    if (op >= 0xb8 && op <= 0xbf) return (int)(p - s) + (rex_w ? 8 : opsize16 ? 2 : 4);
    if (op == 0x6a) return (int)(p - s) + 1;
    if (op == 0x68) return (int)(p - s) + (opsize16 ? 2 : 4);
    if (op == 0xa8) return (int)(p - s) + 1;
    if (op == 0xa9) return (int)(p - s) + (opsize16 ? 2 : 4);
    if (op < 0x40 && (op & 7) < 6 && op != 0x0f) { /* add/or/adc/sbb/and/sub/xor/cmp */
        if ((op & 7) == 4) return (int)(p - s) + 1;
        if ((op & 7) == 5) return (int)(p - s) + (opsize16 ? 2 : 4);
        if (!(m = modrm_len(p))) return 0;
        return (int)(p - s) + m;
    }
    switch (op) {
    case 0x63:
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x88:
    case 0x89:
    case 0x8a:
    case 0x8b:
    case 0x8d:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: imm = 0; break;
    case 0x80:
    case 0x83:
    case 0x6b:
    case 0xc0:
    case 0xc1:
    case 0xc6: imm = 1; break;
    case 0x81:
    case 0x69:
    case 0xc7: imm = opsize16 ? 2 : 4; break;
    case 0xf6:
    case 0xf7:
        if (((*p >> 3) & 7) < 2) imm = op == 0xf6 ? 1 : (opsize16 ? 2 : 4); /* test r/m, imm */
        break;
    case 0xff: {
        int reg = (*p >> 3) & 7;
        if (reg >= 2 && reg <= 5) return 0; /* call/jmp indirect */
        break;
    }
    default: return 0; /* branches, ret, int3, string ops, ... */
    }
    if (!(m = modrm_len(p))) return 0;
    return (int)(p - s) + m + imm;
}

/* ---- trampoline memory: pools, each reachable by rel32 from the code it serves ---- */
#define SLOT 64
#define POOL 0x10000 /* the allocation granularity: a smaller pool would waste the rest */
typedef struct {
    unsigned char *base;
    SIZE_T used;
} pool;
static pool pools[16];
static int npools;

static int reachable(const void *a, const void *b)
{
    LONG_PTR d = (const unsigned char *)a - (const unsigned char *)b;
    return d > -0x70000000LL && d < 0x70000000LL;
}

static unsigned char *alloc_at(ULONG_PTR want)
{
    PVOID base = (PVOID)want;
    SIZE_T size = POOL;
    if (NtAllocateVirtualMemory(GetCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE, PAGE_EXECUTE_READWRITE) < 0) return NULL;
    return base;
}

/* A free 64 KB-aligned spot within 1 GB of target, found by walking the address space. */
static unsigned char *alloc_near(const unsigned char *target)
{
    ULONG_PTR lo = (ULONG_PTR)target > 0x40000000 ? (ULONG_PTR)target - 0x40000000 : 0x10000;
    ULONG_PTR hi = (ULONG_PTR)target + 0x40000000, a = lo;
    MEMORY_BASIC_INFORMATION mbi;
    SIZE_T ret;
    while (a < hi) {
        if (NtQueryVirtualMemory(GetCurrentProcess(), (PVOID)a, 0 /* MemoryBasicInformation */, &mbi, sizeof mbi, &ret) < 0) break;
        if (mbi.State == MEM_FREE) {
            ULONG_PTR c = ((ULONG_PTR)mbi.BaseAddress + 0xffff) & ~(ULONG_PTR)0xffff;
            unsigned char *p;
            if (c + POOL <= (ULONG_PTR)mbi.BaseAddress + mbi.RegionSize && (p = alloc_at(c))) return p;
        }
        if ((ULONG_PTR)mbi.BaseAddress + mbi.RegionSize <= a) break;
        a = (ULONG_PTR)mbi.BaseAddress + mbi.RegionSize;
    }
    return NULL;
}

/* A SLOT-byte trampoline slot, near target when possible (*is_near says); anywhere for
   target NULL (stub copies work at any address, and need no walk of the address space).
   Slots live as long as the process: hooks are never removed. */
static unsigned char *slot_for(const unsigned char *target, int *is_near)
{
    int i;
    unsigned char *p;
    for (i = 0; i < npools; i++)
        if (pools[i].used + SLOT <= POOL && (!target || reachable(pools[i].base, target))) {
            *is_near = 1;
            pools[i].used += SLOT;
            return pools[i].base + pools[i].used - SLOT;
        }
    if (npools == (int)(sizeof pools / sizeof *pools)) return NULL;
    p = target ? alloc_near(target) : NULL;
    *is_near = p != NULL;
    if (!p && !(p = alloc_at(0))) return NULL;
    pools[npools].base = p;
    pools[npools].used = SLOT;
    npools++;
    return p;
}

static void abs_jmp(unsigned char *at, const void *to)
{
    static const unsigned char op[6] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp [rip+0] */
    memcpy(at, op, 6);
    memcpy(at + 6, &to, 8);
}

/* Bytes of whole instructions covering at least need bytes, or 0. */
static int steal(const unsigned char *code, int need)
{
    int n = 0, l;
    while (n < need) {
        if (!(l = patch_insn_len(code + n))) return 0;
        n += l;
    }
    return n;
}

static unsigned char *follow(unsigned char *p)
{
    int i;
    for (i = 0; i < 4; i++) {
        if (p[0] == 0xff && p[1] == 0x25)
            p = *(unsigned char **)(p + 6 + *(LONG *)(p + 2));
        else if (p[0] == 0x48 && p[1] == 0xff && p[2] == 0x25)
            p = *(unsigned char **)(p + 7 + *(LONG *)(p + 3));
        else if (p[0] == 0xe9)
            p = p + 5 + *(LONG *)(p + 1);
        else
            break;
    }
    return p;
}

/* ---- prepared patches ---- */
typedef struct {
    unsigned char *code; /* the entry written at commit */
    unsigned char bytes[32], saved[32];
    int n;
    void **original; /* gets tramp at commit (NULL: replaced outright) */
    void *tramp;
    int syscall; /* 1: a stub; 2: a stub hooked already, the detour put in front (chained) */
    void *detour;
} op;

/* Syscall stubs hooked so far, for syscall_original. */
static struct {
    const unsigned char *stub;
    void *tramp;
    void *detour; /* the first one called: what a later hook of the stub calls as its original */
} hooked[256];
static int nhooked;

static int prep_syscall(op *o, const char *name, void *detour, void **original)
{
    unsigned char *stub = ntdll_proc(name), *slot;
    SIZE_T len;
    int near_;
    if (refused(name)) return patch_fail(name, PATCH_REFUSED, NULL);
    if (!stub) return patch_fail(name, PATCH_NO_EXPORT, NULL);
    for (len = 0; (int)len < nhooked; len++)
        if (hooked[len].stub == stub) { /* two parts hook one call: the new detour in front, the previous one its original */
            memset(o, 0, sizeof *o);
            o->code = stub;
            abs_jmp(o->bytes, detour);
            o->n = 14;
            o->original = original;
            o->tramp = hooked[len].detour;
            o->syscall = 2;
            o->detour = detour;
            return 0;
        }
    if (!(len = stub_len(stub)))
        return patch_fail(name, PATCH_UNKNOWN, "its bytes are not a syscall stub of a known layout (or it is hooked already)");
    if (!(slot = slot_for(NULL, &near_))) return patch_fail(name, PATCH_NO_MEMORY, NULL);
    memcpy(slot, stub, len);
    NtFlushInstructionCache(GetCurrentProcess(), slot, len);
    memset(o, 0, sizeof *o);
    o->code = stub;
    abs_jmp(o->bytes, detour);
    o->n = 14; /* the stub is 32-byte aligned and 24 or 32 long: 14 bytes fit in it */
    o->original = original;
    o->tramp = slot;
    o->syscall = 1;
    o->detour = detour;
    return 0;
}

static int prep_function(op *o, void *target, void *detour, void **original, const char *what)
{
    unsigned char *code, *slot;
    int is_near = 0, n;
    if (refused(what)) return patch_fail(what, PATCH_REFUSED, NULL);
    if (!target || !detour || !original) return patch_fail(what, PATCH_NO_EXPORT, NULL);
    code = follow(target);
    /* decide on the jump size before taking memory: the near one needs 5 bytes */
    if (!(n = steal(code, 5)))
        return patch_fail(what, PATCH_UNKNOWN, "its entry has an instruction the length decoder does not know or will not move");
    if (!(slot = slot_for(code, &is_near))) return patch_fail(what, PATCH_NO_MEMORY, NULL);
    if (!is_near && !(n = steal(code, 14))) /* the slot stays unused: rare, harmless */
        return patch_fail(what, PATCH_UNKNOWN, "its entry has an instruction the length decoder does not know or will not move");

    abs_jmp(slot, detour);            /* relay: slot[0..13] */
    memcpy(slot + 16, code, n);       /* trampoline: the moved instructions, */
    abs_jmp(slot + 16 + n, code + n); /* then back into the function */
    NtFlushInstructionCache(GetCurrentProcess(), slot, SLOT);

    memset(o, 0, sizeof *o);
    memset(o->bytes, 0xcc, sizeof o->bytes);
    if (is_near) {
        LONG rel = (LONG)(slot - (code + 5));
        o->bytes[0] = 0xe9;
        memcpy(o->bytes + 1, &rel, 4);
    } else {
        abs_jmp(o->bytes, detour);
    }
    o->code = code;
    o->n = n;
    o->original = original;
    o->tramp = slot + 16;
    return 0;
}

static int prep_replace(op *o, void *target, void *detour, const char *what)
{
    if (refused(what)) return patch_fail(what, PATCH_REFUSED, NULL);
    if (!target || !detour) return patch_fail(what, PATCH_NO_EXPORT, NULL);
    memset(o, 0, sizeof *o);
    o->code = target;
    abs_jmp(o->bytes, detour);
    o->n = 14;
    return 0;
}

static int protect(void *addr, SIZE_T len, ULONG prot, ULONG *old)
{
    PVOID a = addr;
    SIZE_T l = len;
    return NtProtectVirtualMemory(GetCurrentProcess(), &a, &l, prot, old) < 0 ? -1 : 0;
}

/* Write every prepared patch, or none: a failure restores the entries already written.
   Each page is made writable once per transaction and restored once: a part's stubs share a
   few pages of ntdll, and two protection changes and a cache flush per stub (each a trip
   through Wine's virtual memory lock) were most of what installing ~180 hooks cost in every
   new VM process. */
#define PAGE_OF(p) ((ULONG_PTR)(p) & ~(ULONG_PTR)0xfff)
typedef struct {
    ULONG_PTR page;
    ULONG old;
} page_prot;

#define HELD_MAX 256
static int page_writable(page_prot *pages, int *np, ULONG_PTR page, int cap)
{
    int j;
    for (j = 0; j < *np; j++)
        if (pages[j].page == page) return 0;
    if (*np == cap || protect((void *)page, 0x1000, PAGE_EXECUTE_READWRITE, &pages[*np].old)) return -1;
    pages[(*np)++].page = page;
    return 0;
}

static void pages_restore(page_prot *pages, int np)
{
    ULONG dummy;
    int j;
    for (j = 0; j < np; j++) {
        protect((void *)pages[j].page, 0x1000, pages[j].old, &dummy);
        NtFlushInstructionCache(GetCurrentProcess(), (void *)pages[j].page, 0x1000);
    }
}

/* An install session (patch_hold .. patch_release): the pages every part's transaction made
   writable stay so until the session ends, restored once. The ~15 parts patch stubs on the
   same few pages of ntdll, and each part's own protection changes (two per page, each a trip
   through Wine's virtual memory lock) were ~56 calls and 0.5-1 ms of every VM process's start. */
static page_prot held[HELD_MAX];
static int nheld, holding;

void patch_hold(void)
{
    holding = 1;
    nheld = 0;
}

void patch_release(void)
{
    pages_restore(held, nheld);
    nheld = 0;
    holding = 0;
}

static int apply(op *ops, int count, const char *const *names)
{
    page_prot own[2 * PATCH_MAX_OPS + 2]; /* a stub spans at most two pages */
    page_prot *pages = holding ? held : own;
    int i, own_n = 0, *np = holding ? &nheld : &own_n, cap = holding ? HELD_MAX : (int)ARRAYSIZE(own);
    for (i = 0; i < count; i++) {
        if (page_writable(pages, np, PAGE_OF(ops[i].code), cap) || page_writable(pages, np, PAGE_OF(ops[i].code + ops[i].n - 1), cap)) {
            patch_fail(names ? names[i] : NULL, PATCH_NOT_WRITABLE, NULL);
            while (--i >= 0) memcpy(ops[i].code, ops[i].saved, ops[i].n);
            if (!holding) pages_restore(pages, own_n);
            return PATCH_NOT_WRITABLE;
        }
        memcpy(ops[i].saved, ops[i].code, ops[i].n);
        /* the original must be callable before the entry leads to the detour */
        if (ops[i].original) *ops[i].original = ops[i].tramp;
        memcpy(ops[i].code, ops[i].bytes, ops[i].n);
    }
    if (!holding) pages_restore(pages, own_n);
    for (i = 0; i < count; i++) {
        int k;
        if (ops[i].syscall == 2)
            for (k = 0; k < nhooked; k++)
                if (hooked[k].stub == ops[i].code) hooked[k].detour = ops[i].detour;
        if (ops[i].syscall == 1 && nhooked < (int)(sizeof hooked / sizeof *hooked)) {
            hooked[nhooked].stub = ops[i].code;
            hooked[nhooked].tramp = ops[i].tramp;
            hooked[nhooked].detour = ops[i].detour;
            nhooked++;
        }
    }
    return 0;
}

/* ---- one patch at a time ---- */
int hook_syscall(const char *name, void *detour, void **original)
{
    op o;
    int r = prep_syscall(&o, name, detour, original);
    return r ? r : apply(&o, 1, &name);
}

void *syscall_original(const char *name)
{
    const unsigned char *stub = ntdll_proc(name);
    unsigned char *slot;
    SIZE_T len;
    int i, near_;
    if (!stub) return NULL;
    for (i = 0; i < nhooked; i++)
        if (hooked[i].stub == stub) return hooked[i].tramp;
    if (!(len = stub_len(stub)) || !(slot = slot_for(NULL, &near_))) return NULL;
    memcpy(slot, stub, len);
    NtFlushInstructionCache(GetCurrentProcess(), slot, len);
    return slot;
}

int hook_function(void *target, void *detour, void **original)
{
    op o;
    int r = prep_function(&o, target, detour, original, NULL);
    return r ? r : apply(&o, 1, NULL);
}

int hook_replace(void *target, void *detour)
{
    op o;
    int r = prep_replace(&o, target, detour, NULL);
    return r ? r : apply(&o, 1, NULL);
}

/* ---- transactions ---- */
static op tx[PATCH_MAX_OPS];
static const char *tx_names[PATCH_MAX_OPS];
static int ntx, tx_failed;

void patch_begin(void)
{
    ntx = 0;
    tx_failed = 0;
}
void patch_abort(void)
{
    ntx = 0;
    tx_failed = 0;
}

static int tx_add(int r, const char *what)
{
    if (r) {
        tx_failed = r;
        return r;
    }
    tx_names[ntx++] = what;
    return 0;
}

int patch_attach(void *target, void *detour, void **original, const char *what)
{
    if (tx_failed) return tx_failed;
    if (ntx == PATCH_MAX_OPS) return tx_failed = patch_fail(what, PATCH_TOO_MANY, NULL);
    return tx_add(prep_function(&tx[ntx], target, detour, original, what), what);
}

int patch_attach_replace(void *target, void *detour, const char *what)
{
    if (tx_failed) return tx_failed;
    if (ntx == PATCH_MAX_OPS) return tx_failed = patch_fail(what, PATCH_TOO_MANY, NULL);
    return tx_add(prep_replace(&tx[ntx], target, detour, what), what);
}

int patch_attach_syscall(const char *name, void *detour, void **original)
{
    if (tx_failed) return tx_failed;
    if (ntx == PATCH_MAX_OPS) return tx_failed = patch_fail(name, PATCH_TOO_MANY, NULL);
    return tx_add(prep_syscall(&tx[ntx], name, detour, original), name);
}

int hook_table(const hook_entry *t, int n)
{
    int i;
    patch_begin();
    for (i = 0; i < n; i++)
        if (!(t[i].optional && !ntdll_proc(t[i].name))) patch_attach_syscall(t[i].name, t[i].detour, t[i].original);
    return patch_commit();
}

int patch_commit(void)
{
    int r = tx_failed ? tx_failed : apply(tx, ntx, tx_names);
    patch_abort();
    return r;
}
