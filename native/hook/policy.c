/* Open/closed/private name lists with wildcards. Precedence: closed, then private
   (renamed even if open elsewhere, e.g. a default-open endpoint of a system service
   duplicated into the VM), then open (user rules, then the defaults); everything
   else is renamed. */
#include "policy.h"
#include "hook.h"
#include <wchar.h>

typedef struct { int verdict, kinds; const WCHAR *pat; } rule;

/* What every VM process needs from the host (docs/vm.md, "Default policy"). */
static const rule defaults[] = {
    {P_OPEN, K_PIPE, L"svcctl"},               /* SCM RPC (Windows and Wine) */
    {P_OPEN, K_PIPE, L"ntsvcs"},               /* SCM RPC, older alias */
    {P_OPEN, K_PIPE, L"net\\NtControlPipe*"},  /* SCM control pipes of services */
    {P_OPEN, K_PIPE, L"lsarpc"},
    {P_OPEN, K_PIPE, L"lsass"},
    {P_OPEN, K_PIPE, L"samr"},
    {P_OPEN, K_PIPE, L"epmapper"},             /* RpcSs endpoint mapper */
    {P_OPEN, K_PIPE, L"lrpc\\epmapper"},       /* ... over ncalrpc on Wine */
    {P_OPEN, K_PIPE, L"lrpc\\irot"},           /* RpcSs COM running object table */
    {P_OPEN, K_PIPE, L"lrpc\\irpcss"},         /* RpcSs COM activation */
    {P_OPEN, K_PIPE, L"plugplay"},             /* Wine's PlugPlay service */
    {P_OPEN, K_PORT, L"epmapper"},
    {P_OPEN, K_PORT, L"lsasspirpc"},
    {P_OPEN, K_PORT, L"ntsvcs"},
    {P_OPEN, K_OBJECT, L"__wine*"},           /* Wine's own system objects (__wine_SvcctlStarted, ...) */
};

static rule *rules;
static int nrules;

static int kind_of(const WCHAR *w, int n)
{
    if (n == 7 && !_wcsnicmp(w, L"objects", 7)) return K_OBJECT;
    if (n == 5 && !_wcsnicmp(w, L"pipes", 5)) return K_PIPE;
    if (n == 9 && !_wcsnicmp(w, L"mailslots", 9)) return K_MAILSLOT;
    if (n == 5 && !_wcsnicmp(w, L"ports", 5)) return K_PORT;
    if (n == 8 && !_wcsnicmp(w, L"services", 8)) return K_SERVICE;
    if (n == 5 && !_wcsnicmp(w, L"files", 5)) return K_FILE;
    return 0;
}

int policy_load(const WCHAR *text)
{
    const WCHAR *p = text;
    int line = 0, cap = 0;
    rules = NULL;
    nrules = 0;
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n'), *w1, *w2, *w3;
        int len = e ? (int)(e - p) : (int)wcslen(p), n1, n2, n3, v, k;
        WCHAR *pat;
        line++;
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L' ')) len--;
        w1 = p;
        if (len == 0 || *p == L'#') goto next;
        if (len > 4 && !wcsncmp(p, L"net ", 4)) goto next; /* network rules: net.c, docs/network.md */
        if (len > 6 && !wcsncmp(p, L"alias ", 6)) goto next; /* file path aliases: files_path.c */
        for (n1 = 0; n1 < len && w1[n1] != L' '; n1++);
        w2 = w1 + n1 + 1;
        for (n2 = 0; w2 + n2 < p + len && w2[n2] != L' '; n2++);
        w3 = w2 + n2 + 1;
        n3 = (int)(p + len - w3);
        if (n1 == 4 && !_wcsnicmp(w1, L"open", 4)) v = P_OPEN;
        else if (n1 == 6 && !_wcsnicmp(w1, L"closed", 6)) v = P_CLOSED;
        else if (n1 == 7 && !_wcsnicmp(w1, L"private", 7)) v = P_PRIVATE;
        else if (n1 == 3 && !_wcsnicmp(w1, L"cow", 3)) v = P_COW;
        else return -line;
        if (n3 <= 0 || !(k = kind_of(w2, n2))) return -line;
        if (nrules == cap) {
            rule *nr = hmalloc(sizeof(rule) * (cap = cap ? cap * 2 : 16));
            if (!nr) return -line;
            if (rules) { memcpy(nr, rules, sizeof(rule) * nrules); hfree(rules); }
            rules = nr;
        }
        pat = hmalloc((n3 + 1) * sizeof(WCHAR));
        if (!pat) return -line;
        memcpy(pat, w3, n3 * sizeof(WCHAR));
        pat[n3] = 0;
        rules[nrules].verdict = v;
        rules[nrules].kinds = k;
        rules[nrules].pat = pat;
        nrules++;
    next:
        p = e ? e + 1 : NULL;
    }
    return nrules;
}

NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR);
static WCHAR up(WCHAR c) { return c < 128 ? ((c >= L'a' && c <= L'z') ? c - 32 : c) : RtlUpcaseUnicodeChar(c); }

int glob_match(const WCHAR *pat, const WCHAR *s, USHORT n)
{
    /* iterative glob: remember the last star and retry from one char further */
    const WCHAR *star = NULL;
    USHORT i = 0, si = 0;
    while (i < n) {
        if (*pat == L'*') { star = ++pat; si = i; continue; }
        if (*pat && (*pat == L'?' || up(*pat) == up(s[i]))) { pat++; i++; continue; }
        if (!star) return 0;
        pat = star;
        i = ++si;
    }
    while (*pat == L'*') pat++;
    return !*pat;
}

int policy_decide(int kind, const WCHAR *name, USHORT n)
{
    int i, open = 0, private = 0, cow = 0;
    /* svcdup's own host objects (svcdup.pid.*, svcdup.vmctl.*) are never shared with a VM;
       the one exception is the relay pipe svcdup-host made for this very process
       (service.c), which must reach the host's svcdup-host. */
    if (n >= 7 && !_wcsnicmp(name, L"svcdup.", 7))
        return kind == K_PIPE && glob_match(L"svcdup.relay.*", name, n) ? P_OPEN : P_RENAME;
    for (i = 0; i < nrules; i++) {
        if (!(rules[i].kinds & kind) || !glob_match(rules[i].pat, name, n)) continue;
        if (rules[i].verdict == P_CLOSED) return P_CLOSED;
        if (rules[i].verdict == P_PRIVATE) private = 1;
        else if (rules[i].verdict == P_COW) cow = 1;
        else open = 1;
    }
    if (private) return kind == K_FILE ? P_PRIVATE : P_RENAME;
    if (cow) return P_COW;
    if (open) return P_OPEN;
    for (i = 0; i < (int)(sizeof defaults / sizeof *defaults); i++)
        if ((defaults[i].kinds & kind) && glob_match(defaults[i].pat, name, n)) return P_OPEN;
    return P_RENAME;
}
