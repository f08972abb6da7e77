/* Inline hooks on ordinary exported functions (not syscall stubs: see patch.h).
 *
 * hook_function(target, detour, &original): the entry of target becomes a jump to
 * detour; *original is a trampoline that runs the instructions the jump replaced
 * and continues in target, so the detour can call the real function.
 * Returns 0, or a negative reason (nothing is changed then):
 *   -1 no target / detour
 *   -2 the entry has an instruction hotpatch.c does not decode, or one it refuses
 *      to move (rip-relative operands, branches, calls, returns)
 *   -3 no memory for the trampoline
 *   -4 the entry cannot be made writable
 * Not for code that other threads may be executing while it is patched: install at
 * loader time (DllMain, or a DLL load notification before the DLL's own init). */
#ifndef SVCDUP_HOTPATCH_H
#define SVCDUP_HOTPATCH_H

int hook_function(void *target, void *detour, void **original);

/* Length of the x86-64 instruction at p if hotpatch.c can move it verbatim, else 0.
   Exposed for the unit-style self test (native/tests/scmtest). */
int hotpatch_insn_len(const unsigned char *p);
#endif
