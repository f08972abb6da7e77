/* Code patching for every hook of svcdup-hook.dll, Detours-style, in one module (patch.c):
 * the ntdll syscall-stub layout check, the x86-64 length decoder for ordinary exports,
 * trampoline memory, and attach/commit transactions. No other file writes code.
 * Patching is not atomic: install while no other thread can run the target (loader time,
 * or a DLL load notification before the DLL's own init). */
#ifndef SVCDUP_PATCH_H
#define SVCDUP_PATCH_H
#include "nt.h"

/* Failure codes (every function below returns 0 or one of these; nothing is changed then). */
enum {
    PATCH_NO_EXPORT = -1,    /* the export is missing (or no target/detour given) */
    PATCH_UNKNOWN = -2,      /* bytes of a layout we do not understand: never patched on a guess */
    PATCH_NO_MEMORY = -3,    /* no memory for the trampoline */
    PATCH_NOT_WRITABLE = -4, /* the entry cannot be made writable */
    PATCH_REFUSED = -5,      /* SVCDUP_HOOK_FAIL names this export (a switch for tests) */
    PATCH_TOO_MANY = -6,     /* a transaction holds at most PATCH_MAX_OPS attaches */
};

/* The one install shape of every part: a table of the ntdll stubs it hooks, installed by
 * hook_table as one transaction (all written, or none), as Detours' DetourTransactionCommit
 * and Sandboxie's Key_Init do. The original of d_X is o_X: ntdll's export until installed,
 * then a callable copy of the untouched stub (or the previous part's detour, see below). */
typedef struct {
    const char *name; /* the ntdll export */
    void *detour;
    void **original;
    int optional; /* 1: skipped where ntdll lacks the export (Wine 8 lacks NtAlpc*, older ntdlls NtRenameKey) */
} hook_entry;
#define HOOK(x)                               \
    {                                         \
#x, (void *)d_##x, (void **)&o_##x, 0 \
    }
#define HOOK_OPT(x)                           \
    {                                         \
#x, (void *)d_##x, (void **)&o_##x, 1 \
    }
int hook_table(const hook_entry *t, int n);
#define HOOK_TABLE(t) hook_table((t), (int)(sizeof(t) / sizeof *(t)))

/* Hook ntdll!name (a one-entry table, for tests). On success *original is a callable copy of the untouched stub, or, when
 * another part hooked name already, that part's detour (the new one is called first).
 * Stubs are checked byte for byte against the Windows 10/11 and Wine 8 layouts. */
int hook_syscall(const char *name, void *detour, void **original);

/* A callable, un-hooked copy of ntdll!name's stub: the original if it is hooked already,
 * else a fresh copy (for code that must reach the system without the VM's renaming). */
void *syscall_original(const char *name);

/* Hook an ordinary function: its entry jumps to detour; *original runs the moved
 * instructions and continues in target. Entries with instructions the decoder does not
 * know or will not move (rip-relative operands, branches) are refused (PATCH_UNKNOWN). */
int hook_function(void *target, void *detour, void **original);

/* Replace a function outright: its entry becomes an absolute jump, the original is
 * never called again (so its bytes need not be understood). */
int hook_replace(void *target, void *detour);

/* Transactions: attach several hooks, then commit writes them all, or none when one
 * fails (the entries already written are restored). what names the hook in failures. */
#define PATCH_MAX_OPS 64
void patch_begin(void);
int patch_attach(void *target, void *detour, void **original, const char *what);
int patch_attach_replace(void *target, void *detour, const char *what);
int patch_attach_syscall(const char *name, void *detour, void **original);
int patch_commit(void);
void patch_abort(void);

/* An install session: between patch_hold and patch_release, the pages transactions make
 * writable stay writable and are restored once, at patch_release (which must come before
 * any code but the installer's runs: dllmain.c calls it before DllMain returns, whatever
 * the outcome). Outside a session each transaction restores its own pages. */
void patch_hold(void);
void patch_release(void);

/* The last failure, for the install report (dllmain.c): which export, and why. */
typedef struct {
    int code;        /* PATCH_*, or 0 for none */
    char what[64];   /* the export (or part) that failed */
    const char *why; /* a sentence, static */
} patch_failure;
const patch_failure *patch_last_failure(void);
void patch_clear_failure(void);
/* Record a failure that is not a patch's (e.g. "not Wine"); returns code. */
int patch_fail(const char *what, int code, const char *why);

/* The ntdll export, or NULL. */
void *ntdll_proc(const char *name);

/* Length of the x86-64 instruction at p if it can be moved verbatim, else 0
 * (exposed for native/tests/scmtest/hotpatch-test.c). */
int patch_insn_len(const unsigned char *p);
#endif
