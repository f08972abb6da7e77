/* Syscall stub patching.
 *
 * x86-64 ntdll syscall stubs, checked byte for byte (Wine 8.0 and Windows 10/11):
 *   4c 8b d1             mov r10, rcx
 *   b8 NN NN NN NN       mov eax, <syscall number>
 *   f6 04 25 08 03 fe 7f 01   test byte [0x7ffe0308], 1   (KUSER_SHARED_DATA)
 *   75 03                jne +3
 *   0f 05 c3             syscall ; ret
 * then Windows:          cd 2e c3              int 2e ; ret                 (24 bytes)
 * or Wine 8:             eb 01 c3 ff 14 25 00 10 fe 7f c3
 *                        jmp +1; ret; call [0x7ffe1000]; ret              (32 bytes)
 * Every operand is absolute or relative to the stub itself, so a verbatim copy
 * anywhere is a working trampoline. Anything else is refused, not guessed at. */
#include "patch.h"
#include <string.h>

static const unsigned char head[] = {0x4c, 0x8b, 0xd1, 0xb8};
static const unsigned char mid[] = {0xf6, 0x04, 0x25, 0x08, 0x03, 0xfe, 0x7f, 0x01, 0x75, 0x03, 0x0f, 0x05, 0xc3};
static const unsigned char tail_win[] = {0xcd, 0x2e, 0xc3};
static const unsigned char tail_wine[] = {0xeb, 0x01, 0xc3, 0xff, 0x14, 0x25, 0x00, 0x10, 0xfe, 0x7f, 0xc3};

#define SLOT 32
static unsigned char *tramp_page; /* bump-allocated, never freed: hooks live as long as the process */
static SIZE_T tramp_used, tramp_size;

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

static SIZE_T stub_len(const unsigned char *p)
{
    if (memcmp(p, head, 4) || memcmp(p + 8, mid, sizeof mid)) return 0;
    if (!memcmp(p + 21, tail_wine, sizeof tail_wine)) return 32;
    if (!memcmp(p + 21, tail_win, sizeof tail_win)) return 24;
    return 0;
}

static int set_prot(void *addr, SIZE_T len, ULONG prot, ULONG *old)
{
    PVOID a = addr;
    SIZE_T l = len;
    return NtProtectVirtualMemory(GetCurrentProcess(), &a, &l, prot, old) < 0 ? -1 : 0;
}

int hook_syscall(const char *name, void *detour, void **original)
{
    unsigned char *stub = ntdll_proc(name), *tr;
    unsigned char jmp[14] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp [rip+0]; dq detour */
    SIZE_T len;
    ULONG old, dummy;

    if (!stub) return -1;
    if (!(len = stub_len(stub))) return -2;
    if (!tramp_page || tramp_used + SLOT > tramp_size) {
        PVOID base = NULL;
        SIZE_T size = 4096;
        if (NtAllocateVirtualMemory(GetCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE,
                                    PAGE_EXECUTE_READWRITE) < 0)
            return -3;
        tramp_page = base;
        tramp_size = size;
        tramp_used = 0;
    }
    tr = tramp_page + tramp_used;
    memcpy(tr, stub, len);
    tramp_used += SLOT;
    *original = tr;

    memcpy(jmp + 6, &detour, 8);
    if (set_prot(stub, sizeof jmp, PAGE_EXECUTE_READWRITE, &old)) return -4;
    /* The process is single-threaded while the hook installs (loader time), so a
       plain copy is enough; the stub is 32-byte aligned and 14 bytes fit in it. */
    memcpy(stub, jmp, sizeof jmp);
    set_prot(stub, sizeof jmp, old, &dummy);
    return 0;
}
