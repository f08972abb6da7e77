/* Network identity of a VM (docs/network.md): sockets and http.sys URLs.
 *
 * Wine 8's ws2_32 reaches its socket "driver" with NtDeviceIoControlFile on the
 * socket handle, one ioctl per call (include/wine/afd.h, dlls/ws2_32/socket.c):
 *   socket()/WSASocket   IOCTL_AFD_WINE_CREATE   in: {family, type, protocol, flags}
 *   bind                 IOCTL_AFD_BIND          in: {int unknown; sockaddr}  out: sockaddr
 *   connect/ConnectEx    IOCTL_AFD_WINE_CONNECT  in: {addr_len, synchronous} sockaddr [data]
 *   sendto/WSASendTo/... IOCTL_AFD_WINE_SENDMSG  in: {addr_ptr, addr_len, ...}
 *   accept               IOCTL_AFD_WINE_ACCEPT   out: the new socket's handle (ULONG)
 *   getsockname          IOCTL_AFD_GETSOCKNAME   out: sockaddr, io->Information = length
 *   getpeername          IOCTL_AFD_WINE_GETPEERNAME  likewise
 * and httpapi reaches http.sys with IOCTL_HTTP_ADD_URL / IOCTL_HTTP_REMOVE_URL on a
 * \Device\Http\ReqQueue handle (include/wine/http.h, dlls/httpapi/httpapi_main.c).
 * Hooking that one syscall covers every API above it (Winsock, WinHTTP server,
 * .NET, ...). These layouts are Wine's own: real Windows' AFD takes other ioctls
 * and structures, so on anything but Wine this part refuses to install and the
 * VM process fails to start rather than run with the host's network identity.
 *
 * Rules (lines of the VM's policy text, parsed by policy.c, see docs/network.md):
 *   net address 127.77.0.2          the VM's own IPv4 address (127.0.0.0/8, not 127.0.0.1)
 *   net portmap tcp|udp PORT PORT2  the VM's PORT is PORT2 on the host
 * Decisions, for IPv4 and IPv4-mapped IPv6 addresses (A = the VM's address):
 *   bind     0.0.0.0, 127.0.0.1, a host address -> A;  A -> A;  other 127.x.y.z -> denied
 *            (another VM's address); the port through the port map
 *   connect, sendto   127.0.0.1, 0.0.0.0, A -> A, port mapped; anything else untouched;
 *            except sendto from a socket bound to a fixed port (a server answering a
 *            client at 127.0.0.1:ephemeral), which is never redirected
 *   getsockname/getpeername  report the address and port the program asked for
 *   IPv6 ::, ::1 (no per-VM IPv6 address exists): port-mapped when the port is
 *            mapped, else refused (bind and connect) with a trace entry
 *   http.sys URL http://HOST:PORT/path -> http://A:PORT2/path (HOST any of +, *, a
 *            name, an address; PORT2 through the tcp port map)
 * Without an address only ports are mapped, and 127.x.y.z other than 127.0.0.1
 * still cannot be bound. A VM without net rules keeps the host's network and
 * this part installs nothing. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include "trace.h"
#include <stdio.h>
#include <wchar.h>

NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

/* ---- Wine's ioctls (include/wine/afd.h, include/wine/http.h of Wine 8.0) ---- */
#define CTL(dev, fn, method)       (((dev) << 16) | ((fn) << 2) | (method))
#define IOCTL_AFD_BIND             CTL(0x01, 0x800, 3)
#define IOCTL_AFD_LISTEN           CTL(0x01, 0x802, 3)
#define IOCTL_AFD_GETSOCKNAME      CTL(0x01, 0x80b, 3)
#define WINE_AFD(n)                CTL(0x12, (n), 0)
#define IOCTL_AFD_WINE_CREATE      WINE_AFD(200)
#define IOCTL_AFD_WINE_ACCEPT      WINE_AFD(201)
#define IOCTL_AFD_WINE_CONNECT     WINE_AFD(203)
#define IOCTL_AFD_WINE_SENDMSG     WINE_AFD(206)
#define IOCTL_AFD_WINE_GETPEERNAME WINE_AFD(216)
#define IOCTL_AFD_WINE_GET_INFO    WINE_AFD(218)
#define IOCTL_HTTP_ADD_URL         CTL(0x22, 0x800, 0)
#define IOCTL_HTTP_REMOVE_URL      CTL(0x22, 0x801, 0)

struct afd_create_params {
    int family, type, protocol;
    unsigned int flags;
};
struct afd_connect_params {
    int addr_len;
    int synchronous;
};
struct afd_sendmsg_params {
    ULONGLONG addr_ptr;
    unsigned int addr_len, ws_flags;
    int force_async;
    unsigned int count;
    ULONGLONG buffers_ptr;
};
struct afd_get_info_params {
    int family, type, protocol;
};

#define ST_SHARING_VIOLATION ((NTSTATUS)0xC0000043)
#define ST_PENDING           ((NTSTATUS)0x00000103)
#define W_AF_INET            2
#define W_AF_INET6           23
#define W_SOCK_STREAM        1
#define W_SOCK_DGRAM         2

/* Windows sockaddr_in / sockaddr_in6 (what ws2_32 hands to the ioctls). */
typedef struct {
    USHORT family;
    USHORT port; /* network order */
    union {
        struct {
            UCHAR a[4];
            UCHAR zero[8];
        } v4;
        struct {
            ULONG flow;
            UCHAR a[16];
            ULONG scope;
        } v6;
    } u;
} sa_t; /* 28 bytes: room for either */
#define SA4_LEN 16
#define SA6_LEN 28

typedef NTSTATUS(NTAPI *ioctl_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, ULONG, PVOID, ULONG, PVOID, ULONG);
static ioctl_fn o_NtDeviceIoControlFile;

/* ---- configuration ---- */
typedef struct {
    UCHAR type;
    USHORT from, to;
} portmap; /* host order ports */
#define MAX_MAPS 64
static portmap maps[MAX_MAPS];
static int nmaps;
static UCHAR my_addr[4];
static int have_addr;

static USHORT swap16(USHORT x) { return (USHORT)((x >> 8) | (x << 8)); }

static int map_port(int type, USHORT port, USHORT *out)
{
    int i;
    for (i = 0; i < nmaps; i++)
        if (maps[i].type == type && maps[i].from == port) {
            *out = maps[i].to;
            return 1;
        }
    return 0;
}

static int unmap_port(int type, USHORT port, USHORT *out)
{
    int i;
    for (i = 0; i < nmaps; i++)
        if ((!type || maps[i].type == type) && maps[i].to == port) {
            *out = maps[i].from;
            return 1;
        }
    return 0;
}

/* ---- per-socket memory: what the program asked for, what it got ---- */
typedef struct {
    HANDLE h;
    UCHAR type; /* W_SOCK_*, 0 unknown */
    UCHAR has_local, has_peer;
    sa_t req_local, eff_local, req_peer, eff_peer;
} sock_ent;
#define NSOCK 1024
#define PROBE 8
static sock_ent socks[NSOCK];
static RTL_SRWLOCK socks_lock;

static unsigned slot_of(HANDLE h) { return (unsigned)(((ULONG_PTR)h >> 2) % NSOCK); }

/* Find (or, with make, claim) the entry of h; called with the lock held. A full
   probe window evicts its first slot: this is a cache, missing entries only cost
   a query (type) or the stateless reverse mapping (names). */
static sock_ent *ent_get(HANDLE h, int make)
{
    unsigned s = slot_of(h), i;
    for (i = 0; i < PROBE; i++)
        if (socks[(s + i) % NSOCK].h == h) return &socks[(s + i) % NSOCK];
    if (!make) return NULL;
    for (i = 0; i < PROBE; i++)
        if (!socks[(s + i) % NSOCK].h) break;
    if (i == PROBE) i = 0;
    memset(&socks[(s + i) % NSOCK], 0, sizeof(sock_ent));
    socks[(s + i) % NSOCK].h = h;
    return &socks[(s + i) % NSOCK];
}

static void ent_reset(HANDLE h, int type)
{
    sock_ent *e;
    RtlAcquireSRWLockExclusive(&socks_lock);
    if ((e = ent_get(h, 1))) {
        memset(e, 0, sizeof *e);
        e->h = h;
        e->type = (UCHAR)type;
    }
    RtlReleaseSRWLockExclusive(&socks_lock);
}

static int sock_type(HANDLE h)
{
    sock_ent *e;
    int t = 0;
    struct afd_get_info_params info;
    IO_STATUS_BLOCK io;
    RtlAcquireSRWLockExclusive(&socks_lock);
    if ((e = ent_get(h, 0))) t = e->type;
    RtlReleaseSRWLockExclusive(&socks_lock);
    if (t) return t;
    if (o_NtDeviceIoControlFile(h, NULL, NULL, NULL, &io, IOCTL_AFD_WINE_GET_INFO, NULL, 0, &info, sizeof info) < 0) return 0;
    return info.type;
}

static void ent_note(HANDLE h, int peer, const sa_t *req, const sa_t *eff)
{
    sock_ent *e;
    RtlAcquireSRWLockExclusive(&socks_lock);
    if ((e = ent_get(h, 1))) {
        if (peer) {
            e->has_peer = 1;
            e->req_peer = *req;
            e->eff_peer = *eff;
        } else {
            e->has_local = 1;
            e->req_local = *req;
            e->eff_local = *eff;
        }
    }
    RtlReleaseSRWLockExclusive(&socks_lock);
}

/* ---- address classification ---- */
static const UCHAR v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The IPv4 address inside sa (plain or IPv4-mapped IPv6), or NULL. */
static UCHAR *v4_of(sa_t *sa, ULONG len)
{
    if (sa->family == W_AF_INET && len >= 8) return sa->u.v4.a;
    if (sa->family == W_AF_INET6 && len >= 24 && !memcmp(sa->u.v6.a, v4mapped_prefix, 12)) return sa->u.v6.a + 12;
    return NULL;
}

static int v6_is_any_or_loop(const sa_t *sa)
{
    static const UCHAR zero[16], loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return !memcmp(sa->u.v6.a, zero, 16) || !memcmp(sa->u.v6.a, loop, 16);
}

static int is_any4(const UCHAR *a) { return !a[0] && !a[1] && !a[2] && !a[3]; }
static int is_lo1(const UCHAR *a) { return a[0] == 127 && !a[1] && !a[2] && a[3] == 1; }
static int is_mine(const UCHAR *a) { return have_addr && !memcmp(a, my_addr, 4); }

/* Decide sa in place for a bind (connect = 0) or a connect/sendto (connect = 1).
   *why gets a reason for denials. */
static int decide(sa_t *sa, ULONG len, int type, int connect, const WCHAR **why)
{
    UCHAR *a = v4_of(sa, len);
    USHORT port = swap16(sa->port), np;
    int v = V_PASS;
    *why = NULL;
    if (a) {
        if (!connect) {
            if (a[0] == 127 && !is_lo1(a) && !is_mine(a)) {
                *why = L"not this VM's address (127.x.y.z other than 127.0.0.1 belongs to another VM or to the host)";
                return V_DENIED;
            }
            if (!port && is_any4(a)) return V_PASS; /* an ephemeral wildcard bind (a client) stays routable */
            if (have_addr && !is_mine(a)) {
                memcpy(a, my_addr, 4);
                v = V_RENAMED;
            }
        } else {
            if (!(is_lo1(a) || is_any4(a) || is_mine(a))) return V_PASS;
            if (have_addr && !is_mine(a)) {
                memcpy(a, my_addr, 4);
                v = V_RENAMED;
            }
        }
    } else if (sa->family == W_AF_INET6 && len >= 24) {
        if (connect && !v6_is_any_or_loop(sa)) return V_PASS; /* IPv6 elsewhere */
        if (!port) return V_PASS;                             /* an ephemeral port carries no identity */
        if (map_port(type, port, &np)) {
            sa->port = swap16(np);
            return V_RENAMED;
        }
        if (!have_addr) return V_PASS;
        *why = L"IPv6: a VM has no IPv6 address of its own, so [::] and [::1] are the host's; use IPv4 or a port map";
        return V_DENIED;
    } else {
        return V_PASS; /* other families (AF_UNIX, IrDA, ...) are not network identity */
    }
    if (port && map_port(type, port, &np)) {
        sa->port = swap16(np);
        v = V_RENAMED;
    }
    return v;
}

/* ---- tracing ---- */
static int fmt_sa(WCHAR *o, int cap, const sa_t *sa)
{
    if (sa->family == W_AF_INET)
        return swprintf(o, cap, L"%u.%u.%u.%u:%u", sa->u.v4.a[0], sa->u.v4.a[1], sa->u.v4.a[2], sa->u.v4.a[3], swap16(sa->port));
    if (sa->family == W_AF_INET6) {
        const UCHAR *b = sa->u.v6.a;
        static const UCHAR zero[16];
        int n, i;
        if (!memcmp(b, v4mapped_prefix, 12))
            return swprintf(o, cap, L"[::ffff:%u.%u.%u.%u]:%u", b[12], b[13], b[14], b[15], swap16(sa->port));
        if (!memcmp(b, zero, 15) && b[15] <= 1) return swprintf(o, cap, L"[::%ls]:%u", b[15] ? L"1" : L"", swap16(sa->port));
        n = swprintf(o, cap, L"[");
        for (i = 0; i < 16; i += 2) n += swprintf(o + n, cap - n, i ? L":%x" : L"%x", (b[i] << 8) | b[i + 1]);
        return n + swprintf(o + n, cap - n, L"]:%u", swap16(sa->port));
    }
    return swprintf(o, cap, L"family %u", sa->family);
}

static void us_of(UNICODE_STRING *us, WCHAR *b, int n)
{
    us->Buffer = b;
    us->Length = us->MaximumLength = (USHORT)(n * sizeof(WCHAR));
}

/* "proto used" -> "proto effective" or a reason */
static void trace_net(const char *call, int type, const sa_t *used, const sa_t *eff, int v, const WCHAR *why)
{
    WCHAR u[96], e[320];
    UNICODE_STRING uu, ue;
    const WCHAR *proto = type == W_SOCK_STREAM ? L"tcp " : type == W_SOCK_DGRAM ? L"udp " : L"";
    int nu = swprintf(u, 16, L"%ls", proto), ne;
    nu += fmt_sa(u + nu, 96 - nu, used);
    if (why)
        ne = swprintf(e, 320, L"%ls", why);
    else {
        ne = swprintf(e, 16, L"%ls", proto);
        ne += fmt_sa(e + ne, 320 - ne, eff);
    }
    us_of(&uu, u, nu);
    us_of(&ue, e, ne);
    trace_decision(call, &uu, &ue, v == V_DENIED ? V_DENIED : V_RENAMED);
}

/* ---- interned destinations: sendmsg keeps the address pointer until the
   (possibly asynchronous) send completes, so rewritten destinations live forever.
   Only loopback/own destinations are rewritten: the set is bounded by ports. ---- */
typedef struct interned {
    struct interned *next;
    ULONG len;
    sa_t sa;
} interned;
static interned *interned_list;
static RTL_SRWLOCK interned_lock;

static const sa_t *intern(const sa_t *sa, ULONG len, int *fresh)
{
    interned *i;
    *fresh = 0;
    RtlAcquireSRWLockExclusive(&interned_lock);
    for (i = interned_list; i; i = i->next)
        if (i->len == len && !memcmp(&i->sa, sa, len)) break;
    if (!i && (i = hmalloc(sizeof *i))) {
        memset(i, 0, sizeof *i);
        i->len = len;
        memcpy(&i->sa, sa, len);
        i->next = interned_list;
        interned_list = i;
        *fresh = 1;
    }
    RtlReleaseSRWLockExclusive(&interned_lock);
    return i ? &i->sa : NULL;
}

/* ---- Wine 8 UDP bind workaround ----
   Wine's server binds a UDP socket whose address is neither 127.0.0.1 nor an
   interface's to INADDR_ANY (server/sock.c bind_to_interface() returns "bound"
   when no interface has the address), so 127.77.0.2:P would really be 0.0.0.0:P
   and every VM would collide on P. For an AF_INET UDP socket bound to an address
   of 127/8 other than 127.0.0.1, the hook binds the socket's Unix fd itself
   (a Linux bind(2) issued from here: the code runs on Linux), then lets the
   server learn the address: its implicit bind on the first send fails with
   EINVAL on a bound fd but records the address with getsockname(2), so one
   empty send absorbs that failure. Wine-only by construction. */
typedef NTSTATUS(CDECL *h2fd_fn)(HANDLE, unsigned int, int *, unsigned int *);
static h2fd_fn wine_handle_to_fd;

static long linux_syscall3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
#define LINUX_BIND                    49
#define LINUX_CLOSE                   3
#define ST_ADDRESS_ALREADY_ASSOCIATED ((NTSTATUS)0xC0000328)
#define ST_INVALID_ADDRESS_COMPONENT  ((NTSTATUS)0xC0000207)

static NTSTATUS udp_unix_bind(HANDLE h, const sa_t *eff)
{
    struct {
        USHORT family, port;
        UCHAR a[4];
        UCHAR zero[8];
    } ux; /* Linux sockaddr_in */
    struct afd_sendmsg_params sp;
    IO_STATUS_BLOCK io;
    sa_t got;
    int fd = -1;
    long r;
    if (!wine_handle_to_fd || wine_handle_to_fd(h, 0, &fd, NULL) < 0 || fd < 0) return ST_NOT_SUPPORTED;
    memset(&ux, 0, sizeof ux);
    ux.family = 2; /* AF_INET on Linux too */
    ux.port = eff->port;
    memcpy(ux.a, eff->u.v4.a, 4);
    r = linux_syscall3(LINUX_BIND, fd, (long)(ULONG_PTR)&ux, sizeof ux);
    linux_syscall3(LINUX_CLOSE, fd, 0, 0);
    if (r == -98) return ST_SHARING_VIOLATION;          /* EADDRINUSE */
    if (r == -13) return ST_ACCESS_DENIED;              /* EACCES */
    if (r == -22) return ST_ADDRESS_ALREADY_ASSOCIATED; /* EINVAL: bound already */
    if (r == -99) return ST_INVALID_ADDRESS_COMPONENT;  /* EADDRNOTAVAIL */
    if (r < 0) return ST_NOT_SUPPORTED;
    memset(&sp, 0, sizeof sp);
    sp.addr_ptr = (ULONG_PTR)eff;
    sp.addr_len = SA4_LEN;
    o_NtDeviceIoControlFile(h, NULL, NULL, NULL, &io, IOCTL_AFD_WINE_SENDMSG, &sp, sizeof sp, NULL, 0);
    if (o_NtDeviceIoControlFile(h, NULL, NULL, NULL, &io, IOCTL_AFD_GETSOCKNAME, NULL, 0, &got, sizeof got) < 0 || got.port != eff->port ||
        memcmp(got.u.v4.a, eff->u.v4.a, 4))
        return ST_NOT_SUPPORTED; /* the server did not learn the address: do not pretend */
    return ST_SUCCESS;
}

/* ---- wildcard listeners ----
   A wildcard bind on an ephemeral port is left alone (a client must stay routable),
   and a fixed-port wildcard of a VM without an address keeps the host's addresses; but
   once such a socket listens, Linux gives it every connection to its port, whatever the
   destination: another VM's address, or 127.0.0.1 from the host. Before the listen the
   hook attaches a classic BPF socket filter to the socket's Unix fd (Linux runs a TCP
   listener's filter on every SYN and handshake ACK, tcp_v4_rcv -> tcp_filter), so the
   kernel drops what is not addressed to the VM: with an address, only IPv4 to that
   address; without one, nothing addressed to 127.x.y.z other than 127.0.0.1 (another
   VM's). The filter is locked (SO_LOCK_FILTER): ws2_32 has no call that reaches it.
   A port the VM's port map gives it is its own and gets no filter. Wine-only, like the
   UDP bind above; a filter that cannot be attached refuses the listen. */
#define LINUX_SETSOCKOPT   54
#define L_SOL_SOCKET       1
#define L_SO_ATTACH_FILTER 26
#define L_SO_LOCK_FILTER   44
#define SKF_NET_OFF        (-0x100000)

typedef struct {
    USHORT code;
    UCHAR jt, jf;
    ULONG k;
} bpf_insn; /* Linux struct sock_filter */
typedef struct {
    USHORT len;
    const bpf_insn *filter;
} bpf_prog;           /* Linux struct sock_fprog (x86_64 layout) */
#define BPF_LDB  0x30 /* BPF_LD|BPF_B|BPF_ABS */
#define BPF_LDW  0x20 /* BPF_LD|BPF_W|BPF_ABS */
#define BPF_ANDK 0x54 /* BPF_ALU|BPF_AND|BPF_K */
#define BPF_JEQK 0x15 /* BPF_JMP|BPF_JEQ|BPF_K */
#define BPF_RETK 0x06 /* BPF_RET|BPF_K */

static long linux_syscall5(long n, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return r;
}

static int is_map_target(int type, USHORT port)
{
    int i;
    for (i = 0; i < nmaps; i++)
        if (maps[i].type == type && maps[i].to == port) return 1;
    return 0;
}

/* 1 when the socket's bound address is a wildcard that is not the VM's by its port map */
static int needs_listen_filter(HANDLE h)
{
    sa_t sa;
    IO_STATUS_BLOCK io;
    static const UCHAR zero[16];
    UCHAR *a;
    memset(&sa, 0, sizeof sa);
    /* unknown (unbound: Wine refuses the listen, Linux would bind a wildcard): filter */
    if (o_NtDeviceIoControlFile(h, NULL, NULL, NULL, &io, IOCTL_AFD_GETSOCKNAME, NULL, 0, &sa, sizeof sa) < 0) return 1;
    if ((a = v4_of(&sa, (ULONG)io.Information)) ? !is_any4(a) : !(sa.family == W_AF_INET6 && !memcmp(sa.u.v6.a, zero, 16))) return 0;
    return !(sa.port && is_map_target(W_SOCK_STREAM, swap16(sa.port)));
}

static NTSTATUS listen_filter(HANDLE h)
{
    const ULONG mine = have_addr ? ((ULONG)my_addr[0] << 24) | ((ULONG)my_addr[1] << 16) | ((ULONG)my_addr[2] << 8) | my_addr[3] : 0;
    /* with an address: IPv4 to it passes, everything else (IPv6 included) is dropped */
    const bpf_insn own[] = {
        {BPF_LDB, 0, 0, SKF_NET_OFF}, {BPF_ANDK, 0, 0, 0xf0}, {BPF_JEQK, 0, 2, 0x40},       {BPF_LDW, 0, 0, SKF_NET_OFF + 16},
        {BPF_JEQK, 1, 0, mine},       {BPF_RETK, 0, 0, 0},    {BPF_RETK, 0, 0, 0xffffffff},
    };
    /* without: IPv4 to 127.x.y.z other than 127.0.0.1 is dropped, the rest passes */
    const bpf_insn shared[] = {
        {BPF_LDB, 0, 0, SKF_NET_OFF},      {BPF_ANDK, 0, 0, 0xf0},       {BPF_JEQK, 0, 5, 0x40},
        {BPF_LDW, 0, 0, SKF_NET_OFF + 16}, {BPF_JEQK, 3, 0, 0x7f000001}, {BPF_ANDK, 0, 0, 0xff000000},
        {BPF_JEQK, 0, 1, 0x7f000000},      {BPF_RETK, 0, 0, 0},          {BPF_RETK, 0, 0, 0xffffffff},
    };
    bpf_prog prog;
    int fd = -1, one = 1;
    long r;
    if (!wine_handle_to_fd || wine_handle_to_fd(h, 0, &fd, NULL) < 0 || fd < 0) return ST_ACCESS_DENIED;
    prog.len = have_addr ? sizeof own / sizeof own[0] : sizeof shared / sizeof shared[0];
    prog.filter = have_addr ? own : shared;
    r = linux_syscall5(LINUX_SETSOCKOPT, fd, L_SOL_SOCKET, L_SO_ATTACH_FILTER, (long)(ULONG_PTR)&prog, sizeof prog);
    if (!r) r = linux_syscall5(LINUX_SETSOCKOPT, fd, L_SOL_SOCKET, L_SO_LOCK_FILTER, (long)(ULONG_PTR)&one, sizeof one);
    linux_syscall3(LINUX_CLOSE, fd, 0, 0);
    return r ? ST_ACCESS_DENIED : ST_SUCCESS;
}

static NTSTATUS do_listen(HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, ULONG code, PVOID in, ULONG in_len, PVOID out,
                          ULONG out_len)
{
    if (needs_listen_filter(h)) {
        NTSTATUS st = listen_filter(h);
        WCHAR u[96], e[160];
        UNICODE_STRING uu, ue;
        sa_t sa;
        IO_STATUS_BLOCK qio;
        int n = 0;
        memset(&sa, 0, sizeof sa);
        if (o_NtDeviceIoControlFile(h, NULL, NULL, NULL, &qio, IOCTL_AFD_GETSOCKNAME, NULL, 0, &sa, sizeof sa) >= 0)
            n = fmt_sa(u, 96, &sa);
        else
            n = swprintf(u, 96, L"unbound");
        us_of(&uu, u, n);
        if (st) {
            us_of(&ue, e, swprintf(e, 160, L"a wildcard listener's filter could not be attached"));
            trace_decision("listen", &uu, &ue, V_DENIED);
            return st;
        }
        us_of(&ue, e, swprintf(e, 160, L"accepts only connections addressed to this VM"));
        trace_decision("listen", &uu, &ue, V_RENAMED);
    }
    return o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
}

/* ---- the socket calls ---- */
#define ORIG() o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, in, in_len, out, out_len)
#define ARGS   HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, ULONG code, PVOID in, ULONG in_len, PVOID out, ULONG out_len

/* The length the address of this family is decided and passed on with (longer input is
   cut: the system reads no further), or 0 when the family is refused or the input too short. */
static ULONG sa_len_for(USHORT family, ULONG len)
{
    if (family == W_AF_INET) return len >= 8 ? (len < SA4_LEN ? len : SA4_LEN) : 0;
    if (family == W_AF_INET6) return len >= 24 ? (len < SA6_LEN ? len : SA6_LEN) : 0;
    return 0;
}

static void trace_family(const char *call, USHORT family)
{
    WCHAR b[48];
    UNICODE_STRING us;
    us_of(&us, b, swprintf(b, 48, L"family %u", family));
    trace_decision(call, &us, NULL, V_DENIED);
}

static NTSTATUS do_bind(ARGS)
{
    struct {
        int unknown;
        sa_t sa;
    } p;
    ULONG alen;
    sa_t used;
    const WCHAR *why;
    int type, v;
    NTSTATUS st;
    if (!in || in_len < 4 + 2) return ORIG(); /* no address at all: the call fails by itself */
    alen = in_len - 4;
    /* every length is decided and rewritten: the address is cut to its family's size, and a
       family that carries no address of ours is refused (docs/network.md, "Families") */
    if (!(alen = sa_len_for(((const sa_t *)((const char *)in + 4))->family, alen))) {
        trace_family("bind", ((const sa_t *)((const char *)in + 4))->family);
        return ST_ACCESS_DENIED;
    }
    in_len = 4 + alen;
    memset(&p, 0, sizeof p);
    memcpy(&p, in, in_len);
    in = &p;
    used = p.sa;
    type = sock_type(h);
    v = decide(&p.sa, alen, type, 0, &why);
    if (v == V_PASS) {
        /* remembered too: a socket bound to a fixed port is a server (do_sendmsg) */
        if ((st = ORIG()) >= 0) ent_note(h, 0, &used, &used);
        return st;
    }
    trace_net("bind", type, &used, &p.sa, v, why);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    if (type == W_SOCK_DGRAM && p.sa.family == W_AF_INET && p.sa.u.v4.a[0] == 127 && !is_lo1(p.sa.u.v4.a)) {
        st = udp_unix_bind(h, &p.sa);
        if (io) {
            io->Status = st;
            io->Information = st ? 0 : alen;
        }
        if (!st && out && out_len >= alen) memcpy(out, &p.sa, alen);
    } else
        st = o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, &p, in_len, out, out_len);
    if (st >= 0) {
        ent_note(h, 0, &used, &p.sa);
        /* the bound address ws2_32 receives back: the one it asked for */
        if (out && out_len >= alen && st != ST_PENDING) {
            sa_t *r = out;
            if (!used.port) used.port = r->port;
            memcpy(out, &used, alen);
        }
    } else if (st == ST_SHARING_VIOLATION || st == ST_ACCESS_DENIED) {
        WCHAR why2[300], a[64];
        fmt_sa(a, 64, &p.sa);
        swprintf(why2, 300,
                 L"%ls is in use. On Linux (so under Wine) a host listener on 0.0.0.0:%u blocks every "
                 L"127.x.y.z:%u: bind the host instance to 127.0.0.1, or give this VM a port map",
                 a, swap16(p.sa.port), swap16(p.sa.port));
        trace_net("bind failed", type, &used, NULL, V_DENIED, why2);
    }
    return st;
}

static NTSTATUS do_connect(ARGS)
{
    const struct afd_connect_params *cp = in;
    char stackbuf[sizeof(struct afd_connect_params) + sizeof(sa_t) + 64], *buf;
    sa_t sa, used;
    const WCHAR *why;
    ULONG alen;
    int type, v;
    NTSTATUS st;
    if (!in || in_len < sizeof *cp + 2 || cp->addr_len < 2 || (ULONG)cp->addr_len > in_len - sizeof *cp) return ORIG();
    if (((const sa_t *)(cp + 1))->family == 0) return ORIG(); /* AF_UNSPEC: dissolves a UDP association */
    if (!(alen = sa_len_for(((const sa_t *)(cp + 1))->family, cp->addr_len))) {
        trace_family("connect", ((const sa_t *)(cp + 1))->family);
        return ST_ACCESS_DENIED;
    }
    memset(&sa, 0, sizeof sa);
    memcpy(&sa, cp + 1, alen);
    used = sa;
    /* cheap pre-check before asking the socket's type: most connects go elsewhere */
    {
        UCHAR *a = v4_of(&sa, alen);
        if (a ? !(is_lo1(a) || is_any4(a) || is_mine(a)) : !(sa.family == W_AF_INET6 && v6_is_any_or_loop(&sa))) return ORIG();
    }
    type = sock_type(h);
    v = decide(&sa, alen, type, 1, &why);
    if (v == V_PASS) return ORIG();
    trace_net("connect", type, &used, &sa, v, why);
    if (v == V_DENIED) return ST_ACCESS_DENIED;
    {
        /* the request again, its address cut to alen: params | address | data (ConnectEx) */
        ULONG data = in_len - sizeof *cp - cp->addr_len, nlen = sizeof *cp + alen + data;
        buf = nlen <= sizeof stackbuf ? stackbuf : hmalloc(nlen);
        if (!buf) return ST_NO_MEMORY;
        memcpy(buf, in, sizeof *cp);
        ((struct afd_connect_params *)buf)->addr_len = (int)alen;
        memcpy(buf + sizeof *cp, &sa, alen);
        memcpy(buf + sizeof *cp + alen, (const char *)(cp + 1) + cp->addr_len, data);
        in_len = nlen;
    }
    /* the input is copied into the request before the call returns, even for ConnectEx */
    st = o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, buf, in_len, out, out_len);
    if (buf != stackbuf) hfree(buf);
    if (st >= 0) ent_note(h, 1, &used, &sa);
    return st;
}

static NTSTATUS do_sendmsg(ARGS)
{
    const struct afd_sendmsg_params *sp = in;
    struct afd_sendmsg_params np;
    const sa_t *eff;
    sa_t sa;
    const WCHAR *why;
    UCHAR *a;
    int v, fresh;
    ULONG alen;
    if (!in || in_len < sizeof *sp || !sp->addr_ptr || sp->addr_len < 2) return ORIG();
    if (!(alen = sa_len_for(((const sa_t *)(ULONG_PTR)sp->addr_ptr)->family, sp->addr_len))) {
        trace_family("sendto", ((const sa_t *)(ULONG_PTR)sp->addr_ptr)->family);
        return ST_ACCESS_DENIED;
    }
    memset(&sa, 0, sizeof sa);
    memcpy(&sa, (void *)(ULONG_PTR)sp->addr_ptr, alen);
    a = v4_of(&sa, alen);
    if (a ? !(is_lo1(a) || is_any4(a) || is_mine(a)) : !(sa.family == W_AF_INET6 && v6_is_any_or_loop(&sa)))
        return ORIG(); /* the hot path of a UDP sender to elsewhere: no copy, no lock */
    {
        /* A socket bound to a fixed port is a server: what it sends to loopback is a
           reply to a client's own address (127.0.0.1:ephemeral), never redirected. */
        sock_ent *e;
        int server = 0;
        RtlAcquireSRWLockExclusive(&socks_lock);
        if ((e = ent_get(h, 0)) && e->has_local && e->req_local.port) server = 1;
        RtlReleaseSRWLockExclusive(&socks_lock);
        if (server) return ORIG();
    }
    {
        sa_t used = sa;
        v = decide(&sa, alen, W_SOCK_DGRAM, 1, &why);
        if (v == V_PASS) return ORIG();
        if (v == V_DENIED) {
            trace_net("sendto", W_SOCK_DGRAM, &used, NULL, v, why);
            return ST_ACCESS_DENIED;
        }
        if (!(eff = intern(&sa, alen, &fresh))) return ST_NO_MEMORY;
        if (fresh) trace_net("sendto", W_SOCK_DGRAM, &used, eff, v, NULL);
    }
    np = *sp;
    np.addr_ptr = (ULONG_PTR)eff;
    np.addr_len = alen;
    return o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, &np, sizeof np, out, out_len);
}

static int same_sa(const sa_t *x, const sa_t *y, ULONG len)
{
    if (x->family != y->family || x->port != y->port) return 0;
    if (x->family == W_AF_INET) return !memcmp(x->u.v4.a, y->u.v4.a, 4);
    return len >= 24 && !memcmp(x->u.v6.a, y->u.v6.a, 16);
}

/* getsockname / getpeername: give back what the program asked for */
static NTSTATUS do_name(ARGS, int peer)
{
    NTSTATUS st = ORIG();
    sa_t *r = out;
    sock_ent *e;
    int done = 0;
    ULONG len;
    if (st != ST_SUCCESS || !out || !io) return st;
    len = (ULONG)io->Information;
    if (len < 8 || len > out_len || len > sizeof(sa_t)) return st;
    RtlAcquireSRWLockExclusive(&socks_lock);
    if ((e = ent_get(h, 0))) {
        if (peer && e->has_peer && same_sa(r, &e->eff_peer, len)) {
            memcpy(r, &e->req_peer, len);
            done = 1;
        }
        if (!peer && e->has_local && same_sa(r, &e->eff_local, len)) {
            USHORT port = r->port;
            memcpy(r, &e->req_local, len);
            if (!r->port) r->port = port;
            done = 1;
        }
    }
    RtlReleaseSRWLockExclusive(&socks_lock);
    if (!done && !peer) {
        /* no record (e.g. an accepted socket): undo the port map on our own address */
        UCHAR *a = v4_of(r, len);
        USHORT p;
        if ((a ? (is_mine(a) || (!have_addr && (is_any4(a) || a[0] == 127)))
               : (r->family == W_AF_INET6 && len >= 24 && v6_is_any_or_loop(r))) &&
            unmap_port(0, swap16(r->port), &p))
            r->port = swap16(p);
    }
    return st;
}

/* ---- http.sys ---- */
/* Rewrite "http[s]://HOST:PORT/rest" for this VM into out; returns its length, 0 to pass. */
static int rewrite_url(const char *url, ULONG len, char *o, ULONG cap)
{
    const char *h, *e, *colon = NULL, *slash;
    unsigned port;
    USHORT np;
    char host[40];
    int n;
    if (len >= 8 && !memcmp(url, "https://", 8))
        h = url + 8;
    else if (len >= 7 && !memcmp(url, "http://", 7))
        h = url + 7;
    else
        return 0;
    e = url + len;
    if (*h == '[') {
        const char *rb = memchr(h, ']', e - h);
        if (!rb) return 0;
        colon = rb + 1;
    } else
        colon = memchr(h, ':', e - h);
    if (!colon || colon >= e || *colon != ':') return 0;
    slash = memchr(colon, '/', e - colon);
    if (!slash) return 0;
    port = (unsigned)atoi(colon + 1);
    if (!port || port > 65535) return 0;
    if (map_port(W_SOCK_STREAM, (USHORT)port, &np)) port = np;
    if (have_addr)
        snprintf(host, sizeof host, "%u.%u.%u.%u", my_addr[0], my_addr[1], my_addr[2], my_addr[3]);
    else
        snprintf(host, sizeof host, "%.*s", (int)(colon - h) < 39 ? (int)(colon - h) : 39, h);
    n = snprintf(o, cap, "%.*s%s:%u%.*s", (int)(h - url), url, host, port, (int)(e - slash), slash);
    if (n < 0 || (ULONG)n >= cap) return 0;
    return n;
}

static int is_http_queue(HANDLE h)
{
    union {
        OBJ_NAME_INFO ni;
        WCHAR b[160];
    } u;
    ULONG ret = 0;
    static const WCHAR dev[] = L"\\Device\\Http\\";
    if (o_NtQueryObject(h, ObjectNameInformation, &u, sizeof u, &ret) < 0 || !u.ni.Name.Buffer) return 0;
    return u.ni.Name.Length >= sizeof dev - 2 && !_wcsnicmp(u.ni.Name.Buffer, dev, (sizeof dev - 2) / 2);
}

static NTSTATUS do_http(ARGS)
{
    /* ADD_URL: {HTTP_URL_CONTEXT context; char url[]}; REMOVE_URL: char url[] (with NUL) */
    ULONG off = code == IOCTL_HTTP_ADD_URL ? 8 : 0, ulen, nlen;
    const char *url;
    char *nb;
    int n;
    NTSTATUS st;
    WCHAR wu[260], we[260];
    UNICODE_STRING uu, ue;
    if (!in || in_len <= off + 7) return ORIG();
    url = (const char *)in + off;
    if (memcmp(url, "http", 4) || !is_http_queue(h)) return ORIG();
    ulen = (ULONG)strnlen(url, in_len - off);
    nlen = off + ulen + 64;
    if (!(nb = hmalloc(nlen))) return ST_NO_MEMORY;
    memcpy(nb, in, off);
    n = rewrite_url(url, ulen, nb + off, nlen - off);
    if (!n) {
        hfree(nb);
        return ORIG();
    }
    us_of(&uu, wu, swprintf(wu, 260, L"%.*hs", (int)ulen, url));
    us_of(&ue, we, swprintf(we, 260, L"%hs", nb + off));
    trace_decision(code == IOCTL_HTTP_ADD_URL ? "HttpAddUrl" : "HttpRemoveUrl", &uu, &ue, V_RENAMED);
    /* http.sys copies the input into the IRP before the call returns */
    st = o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, nb, off + n + 1, out, out_len);
    hfree(nb);
    return st;
}

static NTSTATUS NTAPI d_NtDeviceIoControlFile(ARGS)
{
    NTSTATUS st;
    switch (code) {
    case IOCTL_AFD_WINE_SENDMSG: return do_sendmsg(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    case IOCTL_AFD_WINE_CONNECT: return do_connect(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    case IOCTL_AFD_BIND: return do_bind(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    case IOCTL_AFD_LISTEN: return do_listen(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    case IOCTL_AFD_GETSOCKNAME: return do_name(h, ev, apc, ctx, io, code, in, in_len, out, out_len, 0);
    case IOCTL_AFD_WINE_GETPEERNAME: return do_name(h, ev, apc, ctx, io, code, in, in_len, out, out_len, 1);
    case IOCTL_AFD_WINE_CREATE:
        st = ORIG();
        if (st == ST_SUCCESS && in && in_len >= sizeof(struct afd_create_params)) ent_reset(h, ((struct afd_create_params *)in)->type);
        return st;
    case IOCTL_AFD_WINE_ACCEPT:
        st = ORIG();
        if (st == ST_SUCCESS && out && out_len >= sizeof(ULONG)) ent_reset((HANDLE)(ULONG_PTR) * (ULONG *)out, W_SOCK_STREAM);
        return st;
    case IOCTL_HTTP_ADD_URL:
    case IOCTL_HTTP_REMOVE_URL: return do_http(h, ev, apc, ctx, io, code, in, in_len, out, out_len);
    default: return ORIG();
    }
}

int net_install(void)
{
    const policy_net *pn = policy_network(); /* the net lines, parsed (and checked) by policy.c */
    int i;
    if (!pn->lines) return 0; /* no network identity: the VM shares the host's */
    have_addr = pn->have_addr;
    memcpy(my_addr, pn->addr, 4);
    for (nmaps = 0, i = 0; i < pn->nmaps && i < MAX_MAPS; i++, nmaps++) {
        maps[i].type = pn->maps[i].type; /* 1 tcp, 2 udp: W_SOCK_STREAM, W_SOCK_DGRAM */
        maps[i].from = pn->maps[i].from;
        maps[i].to = pn->maps[i].to;
    }
    /* The ioctl layouts above are Wine's. Elsewhere, refuse rather than run a VM
       process with the host's network identity. */
    if (!ntdll_proc("wine_get_version"))
        return patch_fail("wine_get_version", PATCH_NO_EXPORT, "not Wine: the socket hooks read Wine's AFD ioctls"), -1;
    wine_handle_to_fd = (h2fd_fn)ntdll_proc("wine_server_handle_to_fd");
    static const hook_entry table[] = {HOOK(NtDeviceIoControlFile)};
    return HOOK_TABLE(table);
}
