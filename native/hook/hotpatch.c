/* Inline hooks on exported functions, Detours-style, for code we must still call.
 *
 * The entry of the target becomes `jmp rel32` (5 bytes) to a relay `jmp [rip+0]; dq detour`
 * placed within +-2 GB of it; when no memory can be had that near, the entry becomes the
 * 14-byte `jmp [rip+0]; dq detour` itself. The whole instructions the jump overwrites
 * are copied to a trampoline followed by an absolute jump back to the first instruction
 * not copied: *original points at it.
 *
 * Only instructions that mean the same at any address are copied. The decoder below
 * knows the x86-64 forms compilers put in prologues (push/pop, mov/lea/arithmetic with
 * register or [base+index*s+disp] operands, immediates, SSE moves of xmm saves,
 * multi-byte nops, Wine's DECLSPEC_HOTPATCH `lea rsp,[rsp+0]`, MSVC's `mov [rsp+8],rbx`
 * and `mov r11,rsp`), and refuses the rest: rip-relative operands (e.g. MSVC's
 * `mov rax,[rip+__security_cookie]`), every branch, call and return, 67h address
 * size, 3-byte opcode maps, VEX/EVEX. A refused entry is not hooked (the caller decides
 * whether that is fatal). Entries that are import thunks (`jmp [rip+x]`) or jumps
 * (`jmp rel32`) are followed to the code they reach, up to 4 times.
 * Limits: a branch elsewhere in the function back into the overwritten bytes would land
 * on int3 padding (no compiler emits one into a prologue this short); patching is not
 * atomic, so install while no other thread can run the target (see hotpatch.h). */
#include "hotpatch.h"
#include "nt.h"
#include <string.h>

NTSYSAPI NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE, PVOID, int, PVOID, SIZE_T, SIZE_T *);
NTSYSAPI NTSTATUS NTAPI NtFlushInstructionCache(HANDLE, PVOID, SIZE_T);

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

int hotpatch_insn_len(const unsigned char *p)
{
    const unsigned char *s = p;
    int rex_w = 0, opsize16 = 0, m, imm = 0;
    unsigned char op;

    for (;; p++) { /* legacy prefixes */
        if (*p == 0x66) opsize16 = 1;
        else if (*p == 0xf2 || *p == 0xf3 || *p == 0x64 || *p == 0x65 || *p == 0x2e || *p == 0x3e) ;
        else break;
        if (p - s > 4) return 0;
    }
    if ((*p & 0xf0) == 0x40) rex_w = (*p++ & 8) != 0;
    op = *p++;
    if (op == 0x0f) {
        op = *p++;
        if (op == 0x1f || op == 0x18 || (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
            (op >= 0x40 && op <= 0x4f) || (op >= 0x50 && op <= 0x6f) || (op >= 0x74 && op <= 0x7f) ||
            (op >= 0x90 && op <= 0x9f) || op == 0xaf || op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf ||
            op == 0xd6 || op == 0xef || op == 0xd4 || op == 0xfb) {
            imm = 0;
        } else if ((op >= 0x70 && op <= 0x73) || op == 0xc6) {
            imm = 1;
        } else {
            return 0; /* jcc rel32, syscall, 3-byte maps, anything else */
        }
        if (!(m = modrm_len(p))) return 0;
        return (int)(p - s) + m + imm;
    }
    if (op >= 0x50 && op <= 0x5f) return (int)(p - s);          /* push/pop reg */
    if (op == 0x90 || (op >= 0x91 && op <= 0x99)) return (int)(p - s); /* nop, xchg, cdqe, cqo */
    if (op >= 0xb0 && op <= 0xb7) return (int)(p - s) + 1;      /* mov r8, imm8 */
    if (op >= 0xb8 && op <= 0xbf) return (int)(p - s) + (rex_w ? 8 : opsize16 ? 2 : 4);
    if (op == 0x6a) return (int)(p - s) + 1;
    if (op == 0x68) return (int)(p - s) + (opsize16 ? 2 : 4);
    if (op == 0xa8) return (int)(p - s) + 1;
    if (op == 0xa9) return (int)(p - s) + (opsize16 ? 2 : 4);
    if (op < 0x40 && (op & 7) < 6 && op != 0x0f) {               /* add/or/adc/sbb/and/sub/xor/cmp */
        if ((op & 7) == 4) return (int)(p - s) + 1;
        if ((op & 7) == 5) return (int)(p - s) + (opsize16 ? 2 : 4);
        if (!(m = modrm_len(p))) return 0;
        return (int)(p - s) + m;
    }
    switch (op) {
    case 0x63: case 0x84: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8a: case 0x8b:
    case 0x8d: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        imm = 0;
        break;
    case 0x80: case 0x83: case 0x6b: case 0xc0: case 0xc1: case 0xc6:
        imm = 1;
        break;
    case 0x81: case 0x69: case 0xc7:
        imm = opsize16 ? 2 : 4;
        break;
    case 0xf6: case 0xf7:
        if (((*p >> 3) & 7) < 2) imm = op == 0xf6 ? 1 : (opsize16 ? 2 : 4); /* test r/m, imm */
        break;
    case 0xff: {
        int reg = (*p >> 3) & 7;
        if (reg >= 2 && reg <= 5) return 0; /* call/jmp indirect */
        break;
    }
    default:
        return 0; /* branches, ret, int3, string ops, ... */
    }
    if (!(m = modrm_len(p))) return 0;
    return (int)(p - s) + m + imm;
}

/* Trampoline memory: small pools, each reachable by rel32 from the code it serves. */
#define SLOT 64
#define POOL 4096
typedef struct { unsigned char *base; SIZE_T used; } pool;
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
    if (NtAllocateVirtualMemory(GetCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE, PAGE_EXECUTE_READWRITE) < 0)
        return NULL;
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
        if (NtQueryVirtualMemory(GetCurrentProcess(), (PVOID)a, 0 /* MemoryBasicInformation */, &mbi, sizeof mbi, &ret) < 0)
            break;
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

static unsigned char *slot_for(const unsigned char *target, int *is_near)
{
    int i;
    unsigned char *p;
    for (i = 0; i < npools; i++)
        if (pools[i].used + SLOT <= POOL && reachable(pools[i].base, target)) {
            *is_near = 1;
            pools[i].used += SLOT;
            return pools[i].base + pools[i].used - SLOT;
        }
    if (npools == (int)(sizeof pools / sizeof *pools)) return NULL;
    p = alloc_near(target);
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
        if (!(l = hotpatch_insn_len(code + n))) return 0;
        n += l;
    }
    return n;
}

static unsigned char *follow(unsigned char *p)
{
    int i;
    for (i = 0; i < 4; i++) {
        if (p[0] == 0xff && p[1] == 0x25) p = *(unsigned char **)(p + 6 + *(LONG *)(p + 2));
        else if (p[0] == 0x48 && p[1] == 0xff && p[2] == 0x25) p = *(unsigned char **)(p + 7 + *(LONG *)(p + 3));
        else if (p[0] == 0xe9) p = p + 5 + *(LONG *)(p + 1);
        else break;
    }
    return p;
}

int hook_function(void *target, void *detour, void **original)
{
    unsigned char *code, *slot, patch[32];
    int is_near = 0, n;
    PVOID a;
    SIZE_T l;
    ULONG old, dummy;

    if (!target || !detour || !original) return -1;
    code = follow(target);
    /* decide on the jump size before taking memory: the near one needs 5 bytes */
    if (!(n = steal(code, 5))) return -2;
    if (!(slot = slot_for(code, &is_near))) return -3;
    if (!is_near && !(n = steal(code, 14))) return -2; /* the slot stays unused: rare, harmless */

    abs_jmp(slot, detour);                  /* relay: slot[0..13] */
    memcpy(slot + 16, code, n);             /* trampoline: the moved instructions, */
    abs_jmp(slot + 16 + n, code + n);       /* then back into the function */
    NtFlushInstructionCache(GetCurrentProcess(), slot, SLOT);

    memset(patch, 0xcc, sizeof patch);
    if (is_near) {
        LONG rel = (LONG)(slot - (code + 5));
        patch[0] = 0xe9;
        memcpy(patch + 1, &rel, 4);
    } else {
        abs_jmp(patch, detour);
    }
    a = code;
    l = n;
    if (NtProtectVirtualMemory(GetCurrentProcess(), &a, &l, PAGE_EXECUTE_READWRITE, &old) < 0) return -4;
    *original = slot + 16;
    memcpy(code, patch, n);
    a = code;
    l = n;
    NtProtectVirtualMemory(GetCurrentProcess(), &a, &l, old, &dummy);
    NtFlushInstructionCache(GetCurrentProcess(), code, n);
    return 0;
}
