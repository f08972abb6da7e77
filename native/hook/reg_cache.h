/* reg_cache.c: a per-process memory of keys the VM's copy tree does not have. */
#ifndef SVCDUP_REG_CACHE_H
#define SVCDUP_REG_CACHE_H
#include "nt.h"

/* the VM's reg_gen, read before a walk whose answer is remembered; -1: none */
LONG reg_cache_gen(void);
/* 1: c[0..n), or an ancestor of it ending at or after `from`, is remembered missing for gen */
int reg_cache_absent(const WCHAR *c, USHORT n, USHORT from, LONG gen);
/* c[0..n) is missing from the copy tree, and the deepest copy above it has no marker */
void reg_cache_put(const WCHAR *c, USHORT n, LONG gen);
/* after any key created or deleted under the copy tree */
void reg_cache_changed(void);
#endif
