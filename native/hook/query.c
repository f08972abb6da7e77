/* Names the system reports back: a VM process asking an object (or a pipe) for
   its name sees the name it used, not the renamed one. The reported names are
   un-renamed in place; they only get shorter, so the caller's buffer fits. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "files.h"

typedef NTSTATUS(NTAPI *qo_fn)(HANDLE, OBJECT_INFORMATION_CLASS, PVOID, ULONG, PULONG);
typedef NTSTATUS(NTAPI *qf_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG);
qo_fn o_NtQueryObject = NtQueryObject; /* hook.h */
static qf_fn o_NtQueryInformationFile;

#define FileNameInformationClass 9

static NTSTATUS NTAPI d_NtQueryObject(HANDLE h, OBJECT_INFORMATION_CLASS cls, PVOID buf, ULONG len, PULONG ret)
{
    NTSTATUS st = o_NtQueryObject(h, cls, buf, len, ret);
    if (st >= 0 && cls == ObjectNameInformation && buf) {
        OBJ_NAME_INFO *ni = buf;
        if (ni->Name.Buffer && ni->Name.Length) ni->Name.Length = unrename(ni->Name.Buffer, ni->Name.Length);
        if (ni->Name.Buffer && ni->Name.Length) ni->Name.Length = registry_unname(ni->Name.Buffer, ni->Name.Length);
        /* a private copy answers with the VM's path (files_path.c) */
        if (ni->Name.Buffer && ni->Name.Length) ni->Name.Length = (USHORT)(files_unmap(ni->Name.Buffer, ni->Name.Length / 2, 1) * 2);
    }
    return st;
}

static NTSTATUS NTAPI d_NtQueryInformationFile(HANDLE h, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls)
{
    NTSTATUS st = o_NtQueryInformationFile(h, io, buf, len, cls);
    /* FILE_NAME_INFORMATION: a pipe reports \<pipe name>; a private copy its folder path,
       which maps back to the VM's (FileAllInformation holds one at offset 96) */
    if (st >= 0 && (cls == FileNameInformationClass || cls == 48 || cls == 18) && buf) {
        ULONG off = cls == 18 ? 96 : 0, *n = (ULONG *)((char *)buf + off);
        if (len >= off + 4 && *n <= len - off - 4) {
            ULONG nn = unrename((WCHAR *)(n + 1), (USHORT)*n);
            nn = files_unmap((WCHAR *)(n + 1), (USHORT)(nn / 2), 0) * 2;
            if (nn != *n && io) io->Information -= *n - nn;
            *n = nn;
        }
    }
    return st;
}

int query_install(void)
{
    static const hook_entry table[] = {HOOK(NtQueryObject), HOOK(NtQueryInformationFile)};
    return HOOK_TABLE(table);
}
