/* The SCM client filter (scmclient.c) hooks sechost.dll's exports; a second copy of the
 * DLL loaded from another path (issue 11, class 8) would talk to the SCM unfiltered. So no
 * image other than one named sechost.dll (which scmclient.c hooks when it loads, wherever
 * it comes from) may bring its own code for the SCM client API into a VM process: such a
 * mapping is undone and fails with STATUS_ACCESS_DENIED. Forwarders (advapi32's entries)
 * are not code and pass. A hand-written svcctl RPC client is not stopped by this: see
 * docs/vm.md, "Threat model". */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"
#include <string.h>
#include <wchar.h>

typedef NTSTATUS(NTAPI *map_fn)(HANDLE, HANDLE, PVOID *, ULONG_PTR, SIZE_T, LARGE_INTEGER *, SIZE_T *, DWORD, ULONG, ULONG);
typedef NTSTATUS(NTAPI *qvm_fn)(HANDLE, PVOID, ULONG, PVOID, SIZE_T, SIZE_T *);
static map_fn o_NtMapViewOfSection;
static qvm_fn qvm;

static const char *const scm_api[] = {"OpenSCManagerW", "OpenSCManagerA", "OpenServiceW",   "OpenServiceA",
                                      "CreateServiceW", "CreateServiceA", "ControlService", "StartServiceW"};

/* Does the image at base carry code (not a forwarder) for the SCM client API? */
static int has_scm_code(const unsigned char *base, SIZE_T region)
{
    const IMAGE_DOS_HEADER *dos = (const void *)base;
    const IMAGE_NT_HEADERS64 *nt;
    const IMAGE_EXPORT_DIRECTORY *ex;
    ULONG size, rva, esz, i, k;
    const ULONG *names, *funcs;
    const USHORT *ords;
    if (region < 0x200 || dos->e_magic != IMAGE_DOS_SIGNATURE || dos->e_lfanew <= 0 || dos->e_lfanew > 0x1000) return 0;
    nt = (const void *)(base + dos->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE || nt->OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC) return 0;
    size = nt->OptionalHeader.SizeOfImage;
    rva = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].VirtualAddress;
    esz = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].Size;
    if (!rva || rva >= size || esz > size - rva || esz < sizeof *ex) return 0;
    ex = (const void *)(base + rva);
    if (ex->NumberOfNames > 65536 || ex->AddressOfNames >= size || ex->AddressOfNameOrdinals >= size || ex->AddressOfFunctions >= size ||
        (SIZE_T)ex->NumberOfNames * 4 > size - ex->AddressOfNames || (SIZE_T)ex->NumberOfNames * 2 > size - ex->AddressOfNameOrdinals ||
        (SIZE_T)ex->NumberOfFunctions * 4 > size - ex->AddressOfFunctions)
        return 0;
    names = (const void *)(base + ex->AddressOfNames);
    ords = (const void *)(base + ex->AddressOfNameOrdinals);
    funcs = (const void *)(base + ex->AddressOfFunctions);
    for (i = 0; i < ex->NumberOfNames; i++) {
        const char *nm;
        if (names[i] >= size - 32) continue;
        nm = (const char *)base + names[i];
        for (k = 0; k < ARRAYSIZE(scm_api); k++) {
            size_t l = strlen(scm_api[k]);
            if (strncmp(nm, scm_api[k], l) || nm[l]) continue;
            if (ords[i] >= ex->NumberOfFunctions) continue;
            if (funcs[ords[i]] >= rva && funcs[ords[i]] < rva + esz) continue; /* a forwarder */
            return 1;
        }
    }
    return 0;
}

/* Is the file mapped at base named sechost.dll? */
static int named_sechost(PVOID base)
{
    union {
        UNICODE_STRING us;
        WCHAR w[600];
    } b;
    SIZE_T ret;
    USHORT n, i;
    if (!qvm || qvm(GetCurrentProcess(), base, 2 /* MemoryMappedFilenameInformation */, &b, sizeof b, &ret) < 0) return 0;
    n = b.us.Length / sizeof(WCHAR);
    for (i = n; i && b.us.Buffer[i - 1] != L'\\' && b.us.Buffer[i - 1] != L'/'; i--)
        ;
    /* advapi32's SCM entries are Wine's -import stubs: code that only jumps to sechost's, which
       scmclient.c hooks, so a copy of it brings no unfiltered client */
    return (n - i == 11 && !_wcsnicmp(b.us.Buffer + i, L"sechost.dll", 11)) ||
           (n - i == 12 && !_wcsnicmp(b.us.Buffer + i, L"advapi32.dll", 12));
}

static NTSTATUS NTAPI d_NtMapViewOfSection(HANDLE s, HANDLE p, PVOID *base, ULONG_PTR zb, SIZE_T commit, LARGE_INTEGER *off, SIZE_T *vsize,
                                           DWORD inherit, ULONG type, ULONG prot)
{
    NTSTATUS st = o_NtMapViewOfSection(s, p, base, zb, commit, off, vsize, inherit, type, prot);
    MEMORY_BASIC_INFORMATION mbi;
    SIZE_T ret;
    if (st < 0 || !G.active || p != GetCurrentProcess() || !base || !*base || !qvm) return st;
    if (qvm(GetCurrentProcess(), *base, 0 /* MemoryBasicInformation */, &mbi, sizeof mbi, &ret) < 0 || mbi.Type != MEM_IMAGE) return st;
    if (!has_scm_code(*base, mbi.RegionSize) || named_sechost(*base)) return st;
    {
        UNICODE_STRING used;
        RtlInitUnicodeString(&used, L"image with its own SCM client code");
        trace_decision("NtMapViewOfSection", &used, NULL, V_DENIED);
    }
    NtUnmapViewOfSection(GetCurrentProcess(), *base);
    *base = NULL;
    return ST_ACCESS_DENIED;
}

int modguard_install(void)
{
    qvm = ntdll_proc("NtQueryVirtualMemory");
    static const hook_entry table[] = {HOOK(NtMapViewOfSection)};
    return HOOK_TABLE(table);
}
