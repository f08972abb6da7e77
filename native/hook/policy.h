/* Per-VM policy, parsed once (policy.c) into one structure that every part reads: which
   names are shared with the host (open), denied (closed), kept private, or copy-on-write,
   and the VM's network identity (net lines). */
#ifndef SVCDUP_POLICY_H
#define SVCDUP_POLICY_H
#include "nt.h"

/* Kinds: objects, pipes, mailslots, ports (names.c), services (scmclient), files, keys
   (copy-on-write). A rule names one kind. */
enum { K_OBJECT = 1, K_PIPE = 2, K_MAILSLOT = 4, K_PORT = 8, K_SERVICE = 16, K_FILE = 32, K_KEY = 64 };
/* P_PRIVATE is a rule verdict only ("private"): the name is renamed even where a
   default would share it, e.g. epmapper in a VM that has its own RpcSs; policy_decide
   answers P_RENAME for it (for files and keys, P_PRIVATE: the VM starts
   with an empty view). P_COW ("cow"): writes land in the VM's private copy. */
enum { P_RENAME = 0, P_OPEN = 1, P_CLOSED = 2, P_PRIVATE = 3, P_COW = 4 };

/* The net lines (docs/network.md): "net address A", "net portmap tcp|udp PORT PORT2". */
#define POLICY_MAX_PORTMAPS 64
typedef struct {
    UCHAR type;
    USHORT from, to;
} policy_portmap; /* type 1 tcp, 2 udp; host-order ports */
typedef struct {
    int lines; /* how many net lines: 0 = the VM keeps the host's network */
    int have_addr;
    UCHAR addr[4]; /* the VM's own IPv4 address, when have_addr */
    int nmaps;
    policy_portmap maps[POLICY_MAX_PORTMAPS];
} policy_net;

/* Parse the VM's rules text (one rule a line: "open|closed|private|cow KIND PATTERN" with
   KIND objects|pipes|mailslots|ports|services|files|keys, "net ..." lines, "#" comment
   lines) and the built-in defaults (policy-defaults.txt). Returns the number of rules, or
   -(line number) of the first bad line; policy_error() then says what is wrong. */
int policy_load(const WCHAR *text);
const char *policy_error(void);
/* Decide for a name as the VM sees it (the part after the namespace root; a service name).
   Precedence: closed, then private, then cow, then open (the VM's rules), then the
   defaults; no rule: P_RENAME. */
int policy_decide(int kind, const WCHAR *name, USHORT chars);
/* This process's own service control pipe (direct.c): open to it alone, never inherited. */
void policy_open_own_pipe(const WCHAR *name);
/* The VM's network identity. */
const policy_net *policy_network(void);
/* Is there a rule of this verdict for this kind? */
int policy_has(int kind, int verdict);
/* Case-insensitive glob with * and ?. */
int glob_match(const WCHAR *pat, const WCHAR *s, USHORT chars);
#endif
