/* Per-VM policy: which names are shared with the host (open) or denied (closed). */
#ifndef SVCDUP_POLICY_H
#define SVCDUP_POLICY_H
#include "nt.h"

enum { K_OBJECT = 1, K_PIPE = 2, K_MAILSLOT = 4, K_PORT = 8, K_SERVICE = 16 /* read by scmclient.c */, K_FILE = 32 /* files.c */ };
/* P_PRIVATE is a rule verdict only ("private"): the name is renamed even where a
   default would share it, e.g. epmapper in a VM that has its own RpcSs. */
enum { P_RENAME = 0, P_OPEN = 1, P_CLOSED = 2, P_PRIVATE = 3, P_COW = 4 /* files: the default */ };

/* Load rules text: one rule a line, "open|closed|private objects|pipes|mailslots|ports PATTERN".
   Returns the number of rules, or -(line number) of the first bad line. */
int policy_load(const WCHAR *text);
/* Decide for a name as the VM sees it (the part after the namespace root). */
int policy_decide(int kind, const WCHAR *name, USHORT chars);
/* Case-insensitive glob with * and ?. */
int glob_match(const WCHAR *pat, const WCHAR *s, USHORT chars);
#endif
