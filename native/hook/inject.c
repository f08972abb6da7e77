/* Child injection by import-table rewriting, as Detours does it: in the
 * suspended child, a new import directory lists this DLL first, then the
 * image's own imports. The loader then maps us before any code of the image
 * runs, on Windows and Wine alike; no remote thread in a half-born process.
 * Our import is by ordinal 1 (svcdup_hook_anchor), named by full path. */
#include "hook.h"
#include <string.h>

#define RD(addr, var) (NtReadVirtualMemory(process, (const void *)(addr), &(var), sizeof(var), NULL) >= 0)

static int own_path(char *buf, DWORD size)
{
    DWORD n = GetModuleFileNameA(G.self, buf, size);
    return n > 0 && n < size;
}

static PVOID alloc_near(HANDLE process, ULONG_PTR base, ULONG image_size, SIZE_T size)
{
    /* Import RVAs are 32-bit: the block must sit above the image, within reach. */
    ULONG_PTR a = (base + image_size + 0xffff) & ~(ULONG_PTR)0xffff;
    for (; a < base + 0x7fff0000u; a += 0x10000) {
        PVOID p = (PVOID)a;
        SIZE_T s = size;
        if (NtAllocateVirtualMemory(process, &p, 0, &s, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) >= 0) return p;
    }
    return NULL;
}

static NTSTATUS add_import(HANDLE process)
{
    PROCESS_BASIC_INFORMATION pbi;
    ULONG_PTR base;
    IMAGE_DOS_HEADER dos;
    IMAGE_NT_HEADERS64 nt;
    IMAGE_DATA_DIRECTORY *dirs;
    IMAGE_IMPORT_DESCRIPTOR d, *descs;
    char path[MAX_PATH];
    DWORD n = 0, i;
    SIZE_T name_len, size;
    unsigned char *blk, *remote;
    ULONG_PTR dir_addr;
    PVOID pa;
    SIZE_T ps;
    ULONG old, dummy;
    NTSTATUS st;

    if (!own_path(path, sizeof path)) return ST_NOT_SUPPORTED;
    if ((st = NtQueryInformationProcess(process, ProcessBasicInformation, &pbi, sizeof pbi, NULL)) < 0) return st;
    if (!RD((char *)pbi.PebBaseAddress + 0x10, base) || !base) return ST_NOT_SUPPORTED;
    if (!RD(base, dos) || dos.e_magic != IMAGE_DOS_SIGNATURE) return ST_NOT_SUPPORTED;
    if (!RD(base + dos.e_lfanew, nt) || nt.Signature != IMAGE_NT_SIGNATURE) return ST_NOT_SUPPORTED;
    /* A 32-bit child would need a 32-bit hook, which we do not build: refuse. */
    if (nt.FileHeader.Machine != IMAGE_FILE_MACHINE_AMD64 || nt.OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC)
        return ST_NOT_SUPPORTED;
    dirs = nt.OptionalHeader.DataDirectory;

    if (dirs[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress) {
        for (;; n++) {
            if (!RD(base + dirs[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress + n * sizeof d, d)) return ST_NOT_SUPPORTED;
            if (!d.Name && !d.FirstThunk) break;
            if (n > 4096) return ST_NOT_SUPPORTED;
        }
    }
    name_len = strlen(path) + 1;
    /* layout: descriptors[n + 2] | lookup[2] | iat[2] | dll name */
    size = (n + 2) * sizeof d + 4 * sizeof(ULONGLONG) + name_len;
    if (!(blk = hmalloc(size))) return ST_NO_MEMORY;
    memset(blk, 0, size);
    if (!(remote = alloc_near(process, base, nt.OptionalHeader.SizeOfImage, size))) {
        hfree(blk);
        return ST_NO_MEMORY;
    }
    descs = (IMAGE_IMPORT_DESCRIPTOR *)blk;
    for (i = 0; i < n; i++)
        if (!RD(base + dirs[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress + i * sizeof d, descs[i + 1])) {
            hfree(blk);
            return ST_NOT_SUPPORTED;
        }
    {
        ULONGLONG *lookup = (ULONGLONG *)(blk + (n + 2) * sizeof d);
        ULONG rva = (ULONG)((ULONG_PTR)remote - base);
        lookup[0] = IMAGE_ORDINAL_FLAG64 | 1;
        lookup[2] = IMAGE_ORDINAL_FLAG64 | 1;
        memcpy(lookup + 4, path, name_len);
        descs[0].OriginalFirstThunk = rva + (n + 2) * sizeof d;
        descs[0].FirstThunk = rva + (n + 2) * sizeof d + 2 * sizeof(ULONGLONG);
        descs[0].Name = rva + (n + 2) * sizeof d + 4 * sizeof(ULONGLONG);
        st = NtWriteVirtualMemory(process, remote, blk, size, NULL);
        hfree(blk);
        if (st < 0) return st;

        dir_addr = base + dos.e_lfanew + offsetof(IMAGE_NT_HEADERS64, OptionalHeader.DataDirectory);
        pa = (PVOID)dir_addr;
        ps = sizeof(IMAGE_DATA_DIRECTORY) * IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
        if ((st = NtProtectVirtualMemory(process, &pa, &ps, PAGE_READWRITE, &old)) < 0) return st;
        dirs[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress = rva;
        dirs[IMAGE_DIRECTORY_ENTRY_IMPORT].Size = (n + 2) * sizeof d;
        /* bound imports would let the loader skip ours */
        dirs[IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT].VirtualAddress = 0;
        dirs[IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT].Size = 0;
        st = NtWriteVirtualMemory(process, (PVOID)dir_addr, dirs, sizeof(IMAGE_DATA_DIRECTORY) * IMAGE_NUMBEROF_DIRECTORY_ENTRIES, NULL);
        pa = (PVOID)dir_addr;
        ps = sizeof(IMAGE_DATA_DIRECTORY) * IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
        NtProtectVirtualMemory(process, &pa, &ps, old, &dummy);
    }
    return st;
}

NTSTATUS inject_child(HANDLE process, DWORD pid, const vm_config *cfg)
{
    NTSTATUS st = add_import(process);
    if (st < 0) return st;
    if ((st = membership_join(process, pid, cfg->vm)) < 0) return st;
    return config_publish(process, pid, cfg) ? ST_ACCESS_DENIED : ST_SUCCESS;
}
