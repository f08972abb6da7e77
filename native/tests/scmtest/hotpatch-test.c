/* svcdup-hotpatch-test.exe: checks native/hook/patch.c (the one patching module) on its own,
 * outside any VM.
 * Prints one line per check ("ok ..." / "FAIL ...") and exits with the number of failures.
 *  - the instruction decoder against hand-assembled prologue bytes (lengths, refusals)
 *  - hooking a function with Wine's DECLSPEC_HOTPATCH prologue and calling it through
 *    detour and trampoline
 *  - refusing a function whose entry it cannot move (bytes left untouched)
 *  - hooking the real sechost!OpenServiceW with a counting pass-through detour and
 *    calling it through advapi32
 *  - a transaction with one entry it must refuse writes nothing, and names the refused one
 *  - hooking a real ntdll syscall stub; syscall_original returns the un-hooked copy
 *  - replacing a function outright */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include "patch.h"

static int failures;
#define CHECK(cond, ...)     \
    do {                     \
        if (cond)            \
            printf("ok   "); \
        else {               \
            printf("FAIL "); \
            failures++;      \
        }                    \
        printf(__VA_ARGS__); \
        printf("\n");        \
    } while (0)

static const struct {
    const char *what;
    unsigned char bytes[16];
    int len;
} cases[] = {
    {"lea rsp,[rsp+0] (wine hotpatch)", {0x48, 0x8d, 0xa4, 0x24, 0, 0, 0, 0}, 8},
    {"push rbx", {0x53}, 1},
    {"push r14", {0x41, 0x56}, 2},
    {"sub rsp,0x180", {0x48, 0x81, 0xec, 0x80, 0x01, 0, 0}, 7},
    {"sub rsp,0x28", {0x48, 0x83, 0xec, 0x28}, 4},
    {"mov [rsp+8],rbx", {0x48, 0x89, 0x5c, 0x24, 0x08}, 5},
    {"mov r11,rsp", {0x4c, 0x8b, 0xdc}, 3},
    {"mov [rsp+0x190],rcx", {0x48, 0x89, 0x8c, 0x24, 0x90, 0x01, 0, 0}, 8},
    {"movaps [rsp+0x20],xmm6", {0x0f, 0x29, 0x74, 0x24, 0x20}, 5},
    {"nop word [rax+rax]", {0x66, 0x0f, 0x1f, 0x44, 0, 0}, 6},
    {"mov rax,imm64", {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 10},
    {"mov rax,gs:[0x30]", {0x65, 0x48, 0x8b, 0x04, 0x25, 0x30, 0, 0, 0}, 9},
    {"mov dword [rsp+0x20],1", {0xc7, 0x44, 0x24, 0x20, 1, 0, 0, 0}, 8},
    {"test cl,1", {0xf6, 0xc1, 0x01}, 3},
    {"xor eax,eax", {0x33, 0xc0}, 2},
    {"mov rbp,[r13+0]", {0x49, 0x8b, 0x6d, 0x00}, 4},
    {"mov rax,[rip+x] (refused)", {0x48, 0x8b, 0x05, 1, 2, 3, 4}, 0},
    {"lea rcx,[rip+x] (refused)", {0x48, 0x8d, 0x0d, 1, 2, 3, 4}, 0},
    {"jmp rel32 (refused)", {0xe9, 1, 2, 3, 4}, 0},
    {"call rel32 (refused)", {0xe8, 1, 2, 3, 4}, 0},
    {"jmp rel8 (refused)", {0xeb, 5}, 0},
    {"je rel8 (refused)", {0x74, 5}, 0},
    {"je rel32 (refused)", {0x0f, 0x84, 1, 2, 3, 4}, 0},
    {"call rax (refused)", {0xff, 0xd0}, 0},
    {"jmp [rip+x] (refused)", {0xff, 0x25, 1, 2, 3, 4}, 0},
    {"ret (refused)", {0xc3}, 0},
    {"int3 (refused)", {0xcc}, 0},
    {"addr32 prefix (refused)", {0x67, 0x8b, 0x00}, 0},
};

/* add(a, b) with Wine's hotpatch prologue; hand-assembled so the bytes are known. */
__asm__(".text\n.globl hp_add\nhp_add:\n"
        ".byte 0x48,0x8d,0xa4,0x24,0,0,0,0\n" /* lea rsp,[rsp+0] */
        "push %rbx\n"
        "mov %rcx,%rax\n"
        "add %rdx,%rax\n"
        "pop %rbx\n"
        "ret\n"
        /* an entry patch.c must refuse: a rip-relative load first */
        ".globl hp_riprel\nhp_riprel:\n"
        ".byte 0x48,0x8b,0x05,0,0,0,0\n" /* mov rax,[rip+0] */
        "ret\n"
        /* two more hookable functions for the transaction and replace checks */
        ".globl hp_one\nhp_one:\n"
        ".byte 0x48,0x8d,0xa4,0x24,0,0,0,0\n"
        "mov $1,%eax\n"
        "ret\n"
        ".globl hp_two\nhp_two:\n"
        ".byte 0x48,0x8d,0xa4,0x24,0,0,0,0\n"
        "mov $2,%eax\n"
        "ret\n");
LONGLONG hp_add(LONGLONG a, LONGLONG b);
int hp_one(void);
int hp_two(void);
static int d_seven(void) { return 7; }
static int (*o_one)(void);

typedef NTSTATUS(NTAPI *yield_fn)(void);
static yield_fn o_yield;
static int yield_calls;
static yield_fn o_yield2, o_yield3;
static int yield2_calls;
static NTSTATUS NTAPI d_yield2(void)
{
    yield2_calls++;
    return o_yield2();
}
static NTSTATUS NTAPI d_yield(void)
{
    yield_calls++;
    return o_yield();
}
LONGLONG hp_riprel(void);

static LONGLONG (*o_add)(LONGLONG, LONGLONG);
static LONGLONG d_add(LONGLONG a, LONGLONG b) { return o_add(a, b) * 10; }

static SC_HANDLE(WINAPI *o_open)(SC_HANDLE, const WCHAR *, DWORD);
static int open_calls;
static SC_HANDLE WINAPI d_open(SC_HANDLE m, const WCHAR *n, DWORD a)
{
    open_calls++;
    return o_open(m, n, a);
}

int wmain(void)
{
    size_t i;
    int r;
    unsigned char before[8];
    HMODULE sechost;
    SC_HANDLE scm, s;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = patch_insn_len(cases[i].bytes);
        CHECK(got == cases[i].len, "decode %s: %d (want %d)", cases[i].what, got, cases[i].len);
    }

    CHECK(hp_add(2, 3) == 5, "hp_add before hooking");
    r = hook_function((void *)hp_add, (void *)d_add, (void **)&o_add);
    CHECK(r == 0, "hook hp_add: %d", r);
    if (!r) {
        CHECK(((unsigned char *)hp_add)[0] == 0xe9 || ((unsigned char *)hp_add)[0] == 0xff, "entry is a jump now");
        CHECK(hp_add(2, 3) == 50, "hp_add(2,3) through the detour: %lld", (long long)hp_add(2, 3));
        CHECK(o_add(2, 3) == 5, "trampoline runs the original: %lld", (long long)o_add(2, 3));
    }

    memcpy(before, (void *)hp_riprel, sizeof before);
    r = hook_function((void *)hp_riprel, (void *)d_add, (void **)&o_add);
    CHECK(r == -2, "rip-relative entry refused: %d", r);
    CHECK(!memcmp(before, (void *)hp_riprel, sizeof before), "refused entry left untouched");

    sechost = LoadLibraryW(L"sechost.dll");
    r = hook_function((void *)GetProcAddress(sechost, "OpenServiceW"), (void *)d_open, (void **)&o_open);
    CHECK(r == 0, "hook sechost!OpenServiceW: %d", r);
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    s = scm ? OpenServiceW(scm, L"RpcSs", SERVICE_QUERY_STATUS) : NULL; /* advapi32's export */
    CHECK(s != NULL, "advapi32!OpenServiceW(RpcSs) works through the hook");
    CHECK(open_calls == 1, "the detour saw it: %d call(s)", open_calls);
    s = scm ? OpenServiceA(scm, "RpcSs", SERVICE_QUERY_STATUS) : NULL;
    CHECK(s != NULL, "OpenServiceA too (%d calls of W)", open_calls);

    /* a transaction: a good attach and a refused one commit nothing */
    memcpy(before, (void *)hp_one, sizeof before);
    patch_begin();
    r = patch_attach((void *)hp_one, (void *)d_seven, (void **)&o_one, "hp_one");
    CHECK(r == 0, "attach hp_one: %d", r);
    r = patch_attach((void *)hp_riprel, (void *)d_seven, (void **)&o_one, "hp_riprel");
    CHECK(r == PATCH_UNKNOWN, "attach hp_riprel refused: %d", r);
    r = patch_commit();
    CHECK(r == PATCH_UNKNOWN, "commit fails: %d", r);
    CHECK(!memcmp(before, (void *)hp_one, sizeof before) && hp_one() == 1, "nothing written: hp_one() = %d", hp_one());
    CHECK(!strcmp(patch_last_failure()->what, "hp_riprel"), "the failure names hp_riprel: %s (%s)", patch_last_failure()->what,
          patch_last_failure()->why);
    patch_begin();
    patch_attach((void *)hp_one, (void *)d_seven, (void **)&o_one, "hp_one");
    r = patch_commit();
    CHECK(r == 0 && hp_one() == 7 && o_one() == 1, "a good transaction: hp_one() = %d, original %d", hp_one(), o_one ? o_one() : -1);

    r = hook_replace((void *)hp_two, (void *)d_seven);
    CHECK(r == 0 && hp_two() == 7, "hp_two replaced: %d", hp_two());

    /* a real syscall stub */
    {
        void *copy = syscall_original("NtYieldExecution");
        CHECK(copy != NULL && ((yield_fn)copy)() >= 0, "a fresh copy of NtYieldExecution runs");
        r = hook_syscall("NtYieldExecution", (void *)d_yield, (void **)&o_yield);
        CHECK(r == 0, "hook NtYieldExecution: %d", r);
        SwitchToThread();
        ((yield_fn)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtYieldExecution"))();
        CHECK(yield_calls >= 1, "the detour saw it: %d call(s)", yield_calls);
        CHECK(syscall_original("NtYieldExecution") == (void *)o_yield, "syscall_original is the hook's original once hooked");
        /* a second part hooking the same call is chained in front: its original is the first detour */
        r = hook_syscall("NtYieldExecution", (void *)d_yield2, (void **)&o_yield2);
        CHECK(r == 0 && o_yield2 == d_yield, "hooking it twice chains the second detour in front: %d", r);
        yield_calls = 0;
        ((yield_fn)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtYieldExecution"))();
        CHECK(yield2_calls == 1 && yield_calls == 1, "both detours saw the call, the later first: %d %d", yield2_calls, yield_calls);
        CHECK(syscall_original("NtYieldExecution") == (void *)o_yield, "syscall_original is still the untouched stub's copy");
        r = hook_syscall("NtNoSuchCall", (void *)d_yield, (void **)&o_yield3);
        CHECK(r == PATCH_NO_EXPORT && !strcmp(patch_last_failure()->what, "NtNoSuchCall"), "a missing export: %d %s", r,
              patch_last_failure()->what);
    }

    printf("%d failure(s)\n", failures);
    return failures;
}
