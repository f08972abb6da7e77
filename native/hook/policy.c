/* The VM's policy, parsed once at load into P, which names.c, scmclient and net.c read.
   Name rules: closed wins, then private (renamed even if open elsewhere, e.g. a
   default-open endpoint of a system service duplicated into the VM), then cow, then open;
   the built-in defaults (policy-defaults.txt, compiled in) are asked only when no rule of
   the VM matches; everything else is renamed. src/vm/policy.ts decides the same way. */
#include "policy.h"
#include "hook.h"
#include "policy-defaults.h" /* generated from policy-defaults.txt (rules.mk) */
#include <wchar.h>

typedef struct {
    int verdict, kinds;
    const WCHAR *pat;
} rule;
typedef struct {
    rule *rules;
    int count, cap;
} rule_list;

static struct {
    rule_list vm, defaults;
    policy_net net;
    const char *error;
} P;

/* Names svcdup keeps for itself in the host namespace (svcdup.pid.*, svcdup.vmctl.*). */
#define NAMESPACE_KINDS (K_OBJECT | K_PIPE | K_MAILSLOT | K_PORT)
#define STATE_KINDS     (K_FILE | K_KEY)

static int word_is(const WCHAR *w, int n, const WCHAR *s) { return n == (int)wcslen(s) && !_wcsnicmp(w, s, n); }

static int kind_of(const WCHAR *w, int n)
{
    if (word_is(w, n, L"objects")) return K_OBJECT;
    if (word_is(w, n, L"pipes")) return K_PIPE;
    if (word_is(w, n, L"mailslots")) return K_MAILSLOT;
    if (word_is(w, n, L"ports")) return K_PORT;
    if (word_is(w, n, L"services")) return K_SERVICE;
    if (word_is(w, n, L"files")) return K_FILE;
    if (word_is(w, n, L"keys")) return K_KEY;
    return 0;
}

static int verdict_of(const WCHAR *w, int n)
{
    if (word_is(w, n, L"open")) return P_OPEN;
    if (word_is(w, n, L"closed")) return P_CLOSED;
    if (word_is(w, n, L"private")) return P_PRIVATE;
    if (word_is(w, n, L"cow")) return P_COW;
    return -1;
}

static int add_rule(rule_list *l, int verdict, int kind, const WCHAR *pat, int n)
{
    WCHAR *copy;
    if (l->count == l->cap) {
        rule *nr = hmalloc(sizeof(rule) * (l->cap ? l->cap * 2 : 16));
        if (!nr) return 0;
        if (l->rules) {
            memcpy(nr, l->rules, sizeof(rule) * l->count);
            hfree(l->rules);
        }
        l->rules = nr;
        l->cap = l->cap ? l->cap * 2 : 16;
    }
    if (!(copy = hmalloc((n + 1) * sizeof(WCHAR)))) return 0;
    memcpy(copy, pat, n * sizeof(WCHAR));
    copy[n] = 0;
    l->rules[l->count].verdict = verdict;
    l->rules[l->count].kinds = kind;
    l->rules[l->count].pat = copy;
    l->count++;
    return 1;
}

/* ---- net lines ---- */
static int parse_ipv4(const WCHAR *s, int n, UCHAR *a)
{
    int i = 0, part = 0;
    for (; i < 4; i++) {
        int v = 0, d = 0;
        while (part < n && s[part] >= L'0' && s[part] <= L'9' && d < 3) {
            v = v * 10 + (s[part++] - L'0');
            d++;
        }
        if (!d || v > 255) return 0;
        a[i] = (UCHAR)v;
        if (i < 3) {
            if (part >= n || s[part] != L'.') return 0;
            part++;
        }
    }
    return part == n;
}

static int parse_port(const WCHAR *s, int n)
{
    int v = 0, i;
    if (n < 1 || n > 5) return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < L'0' || s[i] > L'9') return 0;
        v = v * 10 + (s[i] - L'0');
    }
    return v >= 1 && v <= 65535 ? v : 0;
}

/* words of one line; -1 when there are more than max */
static int split(const WCHAR *p, int len, const WCHAR **w, int *wn, int max)
{
    int k = 0, i = 0;
    while (i < len && k < max) {
        while (i < len && (p[i] == L' ' || p[i] == L'\t')) i++;
        if (i >= len) break;
        w[k] = p + i;
        while (i < len && p[i] != L' ' && p[i] != L'\t') i++;
        wn[k] = (int)(p + i - w[k]);
        k++;
    }
    while (i < len && (p[i] == L' ' || p[i] == L'\t')) i++;
    return i < len ? -1 : k;
}

static const char *net_line(const WCHAR *p, int len)
{
    policy_net *n = &P.net;
    const WCHAR *w[6];
    int wn[6], k = split(p, len, w, wn, 6), i;
    n->lines++;
    if (k == 3 && word_is(w[1], wn[1], L"address")) {
        UCHAR *a = n->addr;
        if (n->have_addr) return "a second net address";
        if (!parse_ipv4(w[2], wn[2], a)) return "net address: not an IPv4 address";
        if (a[0] != 127 || (!a[1] && !a[2] && (a[3] == 0 || a[3] == 1)) || a[3] == 255 ||
            (a[1] == 12 && a[2] == 34 && a[3] == 56)) /* Wine's magic loopback = 0.0.0.0 */
            return "net address: must be in 127.0.0.0/8, not 127.0.0.0, 127.0.0.1, x.x.x.255 or 127.12.34.56";
        n->have_addr = 1;
        return NULL;
    }
    if (k == 5 && word_is(w[1], wn[1], L"portmap")) {
        int t = word_is(w[2], wn[2], L"tcp") ? 1 : word_is(w[2], wn[2], L"udp") ? 2 : 0;
        int from = parse_port(w[3], wn[3]), to = parse_port(w[4], wn[4]);
        if (!t || !from || !to) return "net portmap: tcp|udp PORT PORT2, ports 1 to 65535";
        if (n->nmaps == POLICY_MAX_PORTMAPS) return "net portmap: too many";
        for (i = 0; i < n->nmaps; i++)
            if (n->maps[i].type == t && (n->maps[i].from == from || n->maps[i].to == to)) return "net portmap: a port mapped twice";
        n->maps[n->nmaps].type = (UCHAR)t;
        n->maps[n->nmaps].from = (USHORT)from;
        n->maps[n->nmaps].to = (USHORT)to;
        n->nmaps++;
        return NULL;
    }
    return "not a net rule (net address A, net portmap tcp|udp PORT PORT2)";
}

/* ---- the text ---- */
static int parse(rule_list *l, const WCHAR *text, int allow_net)
{
    const WCHAR *p = text;
    int line = 0;
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n'), *w1 = p, *w2, *w3;
        int len = e ? (int)(e - p) : (int)wcslen(p), n1, n2, n3, v, k;
        line++;
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L' ')) len--;
        if (len == 0 || *p == L'#') goto next;
        if (len > 4 && !wcsncmp(p, L"net ", 4)) {
            if (!allow_net) {
                P.error = "net lines are not for the defaults";
                return -line;
            }
            if ((P.error = net_line(p, len))) return -line;
            goto next;
        }
        if (len > 6 && !wcsncmp(p, L"alias ", 6)) goto next;       /* file path aliases: files_path.c */
        if (len > 10 && !wcsncmp(p, L"own files ", 10)) goto next; /* svcdup's own folders: files_own.c */
        for (n1 = 0; n1 < len && w1[n1] != L' '; n1++)
            ;
        w2 = w1 + n1 + 1;
        for (n2 = 0; w2 + n2 < p + len && w2[n2] != L' '; n2++)
            ;
        w3 = w2 + n2 + 1;
        n3 = (int)(p + len - w3);
        if ((v = verdict_of(w1, n1)) < 0) {
            P.error = "the verdict is not open, closed, private or cow";
            return -line;
        }
        if (n1 >= len || !(k = kind_of(w2, n2))) {
            P.error = "the kind is not objects, pipes, mailslots, ports, services, files or keys";
            return -line;
        }
        if (n3 <= 0) {
            P.error = "no pattern";
            return -line;
        }
        if (!add_rule(l, v, k, w3, n3)) {
            P.error = "out of memory";
            return -line;
        }
    next:
        p = e ? e + 1 : NULL;
    }
    return l->count;
}

int policy_load(const WCHAR *text)
{
    int r;
    memset(&P, 0, sizeof P);
    if (parse(&P.defaults, policy_defaults_text, 0) < 0) {
        P.error = "the built-in defaults (policy-defaults.txt) do not parse";
        return -1;
    }
    r = parse(&P.vm, text, 1);
    return r;
}

const char *policy_error(void) { return P.error ? P.error : "no error"; }
const policy_net *policy_network(void) { return &P.net; }

NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR);
static WCHAR up(WCHAR c) { return c < 128 ? ((c >= L'a' && c <= L'z') ? c - 32 : c) : RtlUpcaseUnicodeChar(c); }

int glob_match(const WCHAR *pat, const WCHAR *s, USHORT n)
{
    /* iterative glob: remember the last star and retry from one char further */
    const WCHAR *star = NULL;
    USHORT i = 0, si = 0;
    while (i < n) {
        if (*pat == L'*') {
            star = ++pat;
            si = i;
            continue;
        }
        if (*pat && (*pat == L'?' || up(*pat) == up(s[i]))) {
            pat++;
            i++;
            continue;
        }
        if (!star) return 0;
        pat = star;
        i = ++si;
    }
    while (*pat == L'*') pat++;
    return !*pat;
}

/* The verdict of l's rules for the name, or -1 when none matches. */
static int decide_in(const rule_list *l, int kind, const WCHAR *name, USHORT n)
{
    /* files and keys: a private view starts empty, it is not a rename */
    int private_verdict = (kind & STATE_KINDS) ? P_PRIVATE : P_RENAME;
    int i, open = 0, private_ = 0, cow = 0;
    for (i = 0; i < l->count; i++) {
        if (!(l->rules[i].kinds & kind) || !glob_match(l->rules[i].pat, name, n)) continue;
        switch (l->rules[i].verdict) {
        case P_CLOSED: return P_CLOSED;
        case P_PRIVATE: private_ = 1; break;
        case P_COW: cow = 1; break;
        default: open = 1;
        }
    }
    if (private_) return private_verdict;
    if (cow) return P_COW;
    if (open) return P_OPEN;
    return -1;
}

static WCHAR own_pipe[40];
static USHORT own_pipe_n;
void policy_open_own_pipe(const WCHAR *name)
{
    own_pipe_n = (USHORT)wcslen(name);
    if (own_pipe_n >= ARRAYSIZE(own_pipe)) own_pipe_n = 0;
    memcpy(own_pipe, name, own_pipe_n * sizeof(WCHAR));
}

int policy_decide(int kind, const WCHAR *name, USHORT n)
{
    int v;
    /* the control pipe of the service this process is being started as (direct.c) */
    if (kind == K_PIPE && own_pipe_n && n == own_pipe_n && !_wcsnicmp(name, own_pipe, n)) return P_OPEN;
    /* svcdup's own host objects (svcdup.pid.*, svcdup.vmctl.*) are never shared with a VM;
       the one exception is the relay pipe svcdup-host made for this very process
       (service.c), which must reach the host's svcdup-host. */
    if ((kind & NAMESPACE_KINDS) && n >= 7 && !_wcsnicmp(name, L"svcdup.", 7))
        return kind == K_PIPE && glob_match(L"svcdup.relay.*", name, n) ? P_OPEN : P_RENAME;
    if ((v = decide_in(&P.vm, kind, name, n)) >= 0) return v;
    if ((v = decide_in(&P.defaults, kind, name, n)) >= 0) return v;
    return (kind & STATE_KINDS) ? P_COW : P_RENAME; /* files and keys: copy-on-write unless a rule says otherwise */
}

int policy_has(int kind, int verdict)
{
    int i;
    for (i = 0; i < P.vm.count; i++)
        if ((P.vm.rules[i].kinds & kind) && P.vm.rules[i].verdict == verdict) return 1;
    return 0;
}
