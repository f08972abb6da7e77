/* The escape suite's second probe (test/escape.test.ts): changes made through handles and calls
 * outside the name rules. The principle under test: a handle got the legitimate way (read-only
 * on a host object) cannot be used for a change, whatever route widens it; the test judges
 * each attempt from outside (the file's bytes from Linux, `reg query` on the host, dosdevices).
 *   esc-change FILE   the attempts of FILE, one a line, tab-separated: CLASS OP ARGS...
 * Each prints {"class","op","args","status","dup","note"}: status of the change (or of the
 * open, for opens), dup the status of the widening duplicate (0 when it gave more rights).
 * Ops:
 *   fwiden NTPATH KIND [all|generic|max]   KIND: delete|write|truncate|rename|link|security|ea|
 *                   reparse|basic|dispex|renameex|linkex|alloc|section|objectid|unreparse|
 *                   shortname|validdata|casesens|bypasslink|bypassrename|sparse|zero
 *   kwiden NTKEY KIND [all|generic|max]    KIND: setvalue|deletevalue|deletekey|rename|flush|
 *                   security|setinfo|inherit
 *   (the widening duplicate asks for every right by name (all, the default), GENERIC_ALL or
 *   MAXIMUM_ALLOWED)
 *   hive unload|save|restore|load|replace NTKEY [WIN32FILE]
 *   device NTPATH [mountmgr]      open a device read/write; mountmgr: define drive q: to /tmp
 *   read NTPATH                   open and read: note holds the first bytes
 *   byid DIR-NTPATH FILEID        FILE_OPEN_BY_FILE_ID relative to DIR; note holds the bytes
 *   longlink NTHOSTFILE           hard link to a host file under a folder with a very long name,
 *                                 then a write through the link
 *   attr NTPATH / fattr NTPATH    NtQueryAttributesFile / NtQueryFullAttributesFile: the status
 *   list NTDIR NAME [SIBLING]     the folder's listing: note "NAME:yes|no SIBLING:yes|no"
 *   listmask NTDIR NAME           the folder's listing asked with NAME as the mask: note as list's
 *   watch NTDIR 0|1               NtNotifyChangeDirectoryFile (1: the tree): 0x103 (pending) when
 *                                 the watch was set */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <wchar.h>
#include "esc-json.h"

typedef NTSTATUS(NTAPI *create_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, LARGE_INTEGER *, ULONG, ULONG, ULONG,
                                   ULONG, PVOID, ULONG);
typedef NTSTATUS(NTAPI *open3_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *dup_fn)(HANDLE, HANDLE, HANDLE, HANDLE *, ACCESS_MASK, ULONG, ULONG);
typedef NTSTATUS(NTAPI *setinfo_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG);
typedef NTSTATUS(NTAPI *rw_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, LARGE_INTEGER *, ULONG *);
typedef NTSTATUS(NTAPI *setsec_fn)(HANDLE, SECURITY_INFORMATION, PSECURITY_DESCRIPTOR);
typedef NTSTATUS(NTAPI *setea_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG);
typedef NTSTATUS(NTAPI *fsctl_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, ULONG, PVOID, ULONG, PVOID, ULONG);
typedef NTSTATUS(NTAPI *setval_fn)(HANDLE, UNICODE_STRING *, ULONG, ULONG, const void *, ULONG);
typedef NTSTATUS(NTAPI *h1_fn)(HANDLE);
typedef NTSTATUS(NTAPI *hu_fn)(HANDLE, UNICODE_STRING *);
typedef NTSTATUS(NTAPI *oa1_fn)(OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *oa2_fn)(OBJECT_ATTRIBUTES *, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *hh_fn)(HANDLE, HANDLE);
typedef NTSTATUS(NTAPI *hhu_fn)(HANDLE, HANDLE, ULONG);
typedef NTSTATUS(NTAPI *oahoa_fn)(OBJECT_ATTRIBUTES *, HANDLE, OBJECT_ATTRIBUTES *);

static HMODULE nt;
#define NTF(type, name)    ((type)(void *)GetProcAddress(nt, name))
#define ST_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002)
#define ST_NO_EXPORT       ((NTSTATUS)0xC0000139) /* STATUS_ENTRYPOINT_NOT_FOUND: ntdll lacks the call */

static void oa_set(OBJECT_ATTRIBUTES *oa, UNICODE_STRING *us, const WCHAR *s, HANDLE root)
{
    RtlInitUnicodeString(us, s);
    InitializeObjectAttributes(oa, us, OBJ_CASE_INSENSITIVE, root, NULL);
}

static NTSTATUS open_file(const WCHAR *path, HANDLE root, ACCESS_MASK a, ULONG disp, ULONG opts, HANDLE *h)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    IO_STATUS_BLOCK io;
    oa_set(&oa, &us, path, root);
    return NTF(create_fn, "NtCreateFile")(h, a | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                          disp, opts | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
}

/* the widening: a read-only handle duplicated with every right; the original when refused */
static const WCHAR *widen_mode = L"all";
static HANDLE widen(HANDLE h, ACCESS_MASK all, NTSTATUS *dst)
{
    if (!wcscmp(widen_mode, L"generic")) all = GENERIC_ALL;
    if (!wcscmp(widen_mode, L"max")) all = MAXIMUM_ALLOWED;
    HANDLE w = NULL;
    *dst = NTF(dup_fn, "NtDuplicateObject")((HANDLE)-1, h, (HANDLE)-1, &w, all, 0, 0);
    return *dst >= 0 ? w : h;
}

static void report(WCHAR **f, int n, NTSTATUS st, NTSTATUS dst, const char *note)
{
    report_head(f, n);
    printf(",\"status\":\"0x%08lx\",\"dup\":\"0x%08lx\"", (unsigned long)st, (unsigned long)dst);
    if (note) {
        printf(",\"note\":\"");
        for (; *note; note++) putchar(*note >= 0x20 && *note < 0x7f && *note != '"' && *note != '\\' ? *note : '.');
        putchar('"');
    }
    printf("}\n");
    fflush(stdout);
}

static NTSTATUS set_info(HANDLE h, void *buf, ULONG len, ULONG cls)
{
    IO_STATUS_BLOCK io;
    return NTF(setinfo_fn, "NtSetInformationFile")(h, &io, buf, len, cls);
}

static NTSTATUS name_info(HANDLE h, const WCHAR *target, HANDLE root, ULONG cls)
{
    struct {
        ULONG flags;
        HANDLE root;
        ULONG len;
        WCHAR name[1024];
    } ri;
    memset(&ri, 0, sizeof ri);
    ri.flags = 1; /* replace if exists */
    ri.root = root;
    ri.len = (ULONG)wcslen(target) * 2;
    wcscpy(ri.name, target);
    return set_info(h, &ri, (ULONG)(offsetof(FILE_RENAME_INFORMATION, FileName) + ri.len), cls);
}

static NTSTATUS write_at0(HANDLE h, const char *s)
{
    IO_STATUS_BLOCK io;
    LARGE_INTEGER off;
    off.QuadPart = 0;
    return NTF(rw_fn, "NtWriteFile")(h, NULL, NULL, NULL, &io, (PVOID)s, (ULONG)strlen(s), &off, NULL);
}

static NTSTATUS null_dacl(HANDLE h)
{
    SECURITY_DESCRIPTOR sd;
    InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
    SetSecurityDescriptorDacl(&sd, TRUE, NULL, FALSE);
    return NTF(setsec_fn, "NtSetSecurityObject")(h, DACL_SECURITY_INFORMATION, &sd);
}

static NTSTATUS fwiden(const WCHAR *path, const WCHAR *kind, NTSTATUS *dst)
{
    HANDLE h, w;
    NTSTATUS st = open_file(path, NULL, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN, 0, &h);
    WCHAR target[1100];
    if (st < 0) return st;
    w = widen(h,
              DELETE | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | WRITE_DAC | WRITE_OWNER | SYNCHRONIZE,
              dst);
    if (!wcscmp(kind, L"delete")) {
        BOOLEAN del = TRUE;
        st = set_info(w, &del, sizeof del, 13 /* FileDispositionInformation */);
    } else if (!wcscmp(kind, L"write"))
        st = write_at0(w, "ESCAPED");
    else if (!wcscmp(kind, L"truncate")) {
        LARGE_INTEGER eof;
        eof.QuadPart = 0;
        st = set_info(w, &eof, sizeof eof, 20 /* FileEndOfFileInformation */);
    } else if (!wcscmp(kind, L"rename") || !wcscmp(kind, L"link")) {
        _snwprintf(target, 1100, L"%ls.%ls", path, kind);
        st = name_info(w, target, NULL, kind[0] == L'r' ? 10 : 11);
        if (st >= 0 && kind[0] == L'l') { /* then write through the link */
            HANDLE l;
            if ((st = open_file(target, NULL, FILE_WRITE_DATA, FILE_OPEN, 0, &l)) >= 0) {
                st = write_at0(l, "ESCAPED");
                CloseHandle(l);
            }
        }
    } else if (!wcscmp(kind, L"security"))
        st = null_dacl(w);
    else if (!wcscmp(kind, L"ea")) {
        struct {
            ULONG next;
            UCHAR flags, namelen;
            USHORT vallen;
            char name[8];
        } ea = {0, 0, 3, 4, "ESC\0ESC"};
        IO_STATUS_BLOCK io;
        setea_fn f = NTF(setea_fn, "NtSetEaFile");
        st = f ? f(w, &io, &ea, sizeof ea) : ST_NO_EXPORT;
    } else if (!wcscmp(kind, L"reparse") || !wcscmp(kind, L"unreparse") || !wcscmp(kind, L"objectid")) {
        BYTE buf[64] = {0};
        IO_STATUS_BLOCK io;
        ULONG code = kind[0] == L'r' ? 0x000900A4 : kind[0] == L'u' ? 0x000900AC : 0x00090098; /* SET/DELETE_REPARSE_POINT, SET_OBJECT_ID */
        *(ULONG *)buf = 0x80000017; /* a tag; the data does not matter: the call must not reach the file */
        st = NTF(fsctl_fn, "NtFsControlFile")(w, NULL, NULL, NULL, &io, code, buf, kind[0] == L'o' ? 64 : 16, NULL, 0);
    } else if (!wcscmp(kind, L"basic")) { /* times to 1 Jan 1990 and the read-only attribute */
        FILE_BASIC_INFORMATION bi;
        memset(&bi, 0, sizeof bi);
        bi.LastWriteTime.QuadPart = bi.LastAccessTime.QuadPart = 0x01b5b3c2a2b1c000LL;
        bi.FileAttributes = FILE_ATTRIBUTE_READONLY;
        st = set_info(w, &bi, sizeof bi, 4 /* FileBasicInformation */);
    } else if (!wcscmp(kind, L"dispex")) {
        ULONG fl = 0x1 | 0x2; /* FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS */
        st = set_info(w, &fl, sizeof fl, 64 /* FileDispositionInformationEx */);
    } else if (!wcscmp(kind, L"renameex") || !wcscmp(kind, L"linkex")) {
        _snwprintf(target, 1100, L"%ls.%ls", path, kind);
        st = name_info(w, target, NULL, kind[0] == L'r' ? 65 : 72); /* FileRenameInformationEx, FileLinkInformationEx */
    } else if (!wcscmp(kind, L"shortname")) {                       /* FileShortNameInformation: the 8.3 name of the host file */
        struct {
            ULONG len;
            WCHAR name[12];
        } sn = {18, L"ESCAPE~1.TXT"};
        st = set_info(w, &sn, sizeof sn, 40);
    } else if (!wcscmp(kind, L"validdata")) { /* FileValidDataLengthInformation */
        LARGE_INTEGER v;
        v.QuadPart = 1;
        st = set_info(w, &v, sizeof v, 39);
    } else if (!wcscmp(kind, L"casesens")) { /* FileCaseSensitiveInformation (FILE_CS_FLAG_CASE_SENSITIVE_DIR) */
        ULONG fl = 1;
        st = set_info(w, &fl, sizeof fl, 71);
    } else if (!wcscmp(kind, L"bypasslink") || !wcscmp(kind, L"bypassrename")) {
        _snwprintf(target, 1100, L"%ls.%ls", path, kind);
        st = name_info(w, target, NULL, kind[6] == L'l' ? 56 : 57);  /* File{Link,Rename}InformationBypassAccessCheck */
    } else if (!wcscmp(kind, L"sparse") || !wcscmp(kind, L"zero")) { /* FSCTL_SET_SPARSE; FSCTL_SET_ZERO_DATA over the whole file */
        LARGE_INTEGER z[2];
        IO_STATUS_BLOCK io;
        z[0].QuadPart = 0;
        z[1].QuadPart = 4096;
        st = kind[0] == L's' ? NTF(fsctl_fn, "NtFsControlFile")(w, NULL, NULL, NULL, &io, 0x000900C4, NULL, 0, NULL, 0)
                             : NTF(fsctl_fn, "NtFsControlFile")(w, NULL, NULL, NULL, &io, 0x000980C8, z, sizeof z, NULL, 0);
    } else if (!wcscmp(kind, L"alloc")) {
        LARGE_INTEGER sz;
        sz.QuadPart = 0; /* below the end of file: the file is cut */
        st = set_info(w, &sz, sizeof sz, 19 /* FileAllocationInformation */);
    } else if (!wcscmp(kind, L"section")) { /* a writable shared view of the file, written through */
        typedef NTSTATUS(NTAPI * sec_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE);
        typedef NTSTATUS(NTAPI * map_fn)(HANDLE, HANDLE, PVOID *, ULONG_PTR, SIZE_T, LARGE_INTEGER *, SIZE_T *, ULONG, ULONG, ULONG);
        HANDLE sec;
        PVOID base = NULL;
        SIZE_T size = 0;
        if ((st = NTF(sec_fn, "NtCreateSection")(&sec, SECTION_ALL_ACCESS, NULL, NULL, PAGE_READWRITE, SEC_COMMIT, w)) >= 0) {
            if ((st = NTF(map_fn, "NtMapViewOfSection")(sec, (HANDLE)-1, &base, 0, 0, NULL, &size, 1, 0, PAGE_READWRITE)) >= 0) {
                memcpy(base, "ESC", 3);
                NTF(hh_fn, "NtUnmapViewOfSection")((HANDLE)-1, base);
            }
            CloseHandle(sec);
        }
    } else
        st = ST_NOT_IMPLEMENTED;
    if (w != h) CloseHandle(w);
    CloseHandle(h);
    return st;
}

static NTSTATUS open_key(const WCHAR *path, ACCESS_MASK a, HANDLE *h)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    oa_set(&oa, &us, path, NULL);
    return NTF(open3_fn, "NtOpenKey")(h, a, &oa);
}

static NTSTATUS kwiden(const WCHAR *path, const WCHAR *kind, NTSTATUS *dst)
{
    HANDLE h, w;
    UNICODE_STRING v;
    NTSTATUS st = open_key(path, KEY_READ, &h);
    if (st < 0) return st;
    if (!wcscmp(kind, L"inherit")) { /* a handle made inheritable, then a child's NtSetValueKey through it: the child is in the VM too */
        *dst = 0;
        CloseHandle(h);
        return ST_NOT_IMPLEMENTED;
    }
    w = widen(h, KEY_ALL_ACCESS | DELETE, dst);
    RtlInitUnicodeString(&v, L"EscValue");
    if (!wcscmp(kind, L"setvalue"))
        st = NTF(setval_fn, "NtSetValueKey")(w, &v, 0, REG_SZ, L"ESCAPED", 16);
    else if (!wcscmp(kind, L"deletevalue")) {
        RtlInitUnicodeString(&v, L"Keep");
        st = NTF(hu_fn, "NtDeleteValueKey")(w, &v);
    } else if (!wcscmp(kind, L"deletekey"))
        st = NTF(h1_fn, "NtDeleteKey")(w);
    else if (!wcscmp(kind, L"rename")) {
        hu_fn f = NTF(hu_fn, "NtRenameKey");
        RtlInitUnicodeString(&v, L"EscRenamed");
        st = f ? f(w, &v) : ST_NO_EXPORT;
    } else if (!wcscmp(kind, L"flush"))
        st = NTF(h1_fn, "NtFlushKey")(w);
    else if (!wcscmp(kind, L"security"))
        st = null_dacl(w);
    else if (!wcscmp(kind, L"setinfo")) { /* KeyWriteTimeInformation */
        typedef NTSTATUS(NTAPI * setki_fn)(HANDLE, ULONG, PVOID, ULONG);
        LARGE_INTEGER t;
        t.QuadPart = 0x01b5b3c2a2b1c000LL;
        st = NTF(setki_fn, "NtSetInformationKey")(w, 0, &t, sizeof t);
    } else
        st = ST_NOT_IMPLEMENTED;
    if (w != h) CloseHandle(w);
    CloseHandle(h);
    return st;
}

static NTSTATUS hive(const WCHAR *op, const WCHAR *key, const WCHAR *file)
{
    OBJECT_ATTRIBUTES ko, fo;
    UNICODE_STRING ku, fu;
    HANDLE k = NULL, f = NULL;
    NTSTATUS st;
    oa_set(&ko, &ku, key, NULL);
    if (!wcscmp(op, L"unload")) {
        oa1_fn u = NTF(oa1_fn, "NtUnloadKey");
        return u ? u(&ko) : ST_NO_EXPORT;
    }
    if (file && (!wcscmp(op, L"load") || !wcscmp(op, L"replace"))) {
        oa_set(&fo, &fu, file, NULL);
        if (op[0] == L'l') return NTF(oa2_fn, "NtLoadKey")(&ko, &fo);
        return NTF(oahoa_fn, "NtReplaceKey")(&fo, NULL, &fo);
    }
    if ((st = open_key(key, KEY_READ, &k)) < 0) return st;
    if (!file) {
        CloseHandle(k);
        return ST_NOT_IMPLEMENTED;
    }
    if (!wcscmp(op, L"save")) {
        if ((st = open_file(file, NULL, GENERIC_WRITE, FILE_OVERWRITE_IF, FILE_NON_DIRECTORY_FILE, &f)) >= 0)
            st = NTF(hh_fn, "NtSaveKey")(k, f);
    } else if (!wcscmp(op, L"restore")) {
        if ((st = open_file(file, NULL, GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &f)) >= 0)
            st = NTF(hhu_fn, "NtRestoreKey")(k, f, 0);
    } else
        st = ST_NOT_IMPLEMENTED;
    if (f) CloseHandle(f);
    CloseHandle(k);
    return st;
}

/* Wine's mount manager: IOCTL_MOUNTMGR_DEFINE_UNIX_DRIVE (dlls/mountmgr.sys), struct mountmgr_unix_drive */
static NTSTATUS define_drive(HANDLE h)
{
    struct {
        ULONG size, type, fs_type;
        DWORD serial;
        ULONGLONG unix_dev;
        WCHAR letter;
        USHORT mount_point_offset, device_offset, label_offset;
        char path[8];
    } d;
    IO_STATUS_BLOCK io;
    memset(&d, 0, sizeof d);
    d.size = sizeof d;
    d.type = 3; /* DEVICE_HARDDISK_VOL */
    d.letter = L'q';
    d.mount_point_offset = (USHORT)offsetof(__typeof__(d), path);
    strcpy(d.path, "/tmp");
    return NTF(fsctl_fn, "NtDeviceIoControlFile")(h, NULL, NULL, NULL, &io, (0x6d << 16) | (3 << 14) | (32 << 2), &d, sizeof d, NULL, 0);
}

static NTSTATUS read_some(HANDLE h, char *out, ULONG cap)
{
    IO_STATUS_BLOCK io;
    LARGE_INTEGER off;
    NTSTATUS st;
    off.QuadPart = 0;
    st = NTF(rw_fn, "NtReadFile")(h, NULL, NULL, NULL, &io, out, cap - 1, &off, NULL);
    out[st >= 0 ? io.Information : 0] = 0;
    return st;
}

/* Is NAME (and SIBLING) in DIR's listing, the whole of it or asked with NAME as the mask? */
static NTSTATUS list_dir(const WCHAR *dir, const WCHAR *name, const WCHAR *sib, int masked, char *note)
{
    static BYTE buf[64 * 1024];
    HANDLE d;
    IO_STATUS_BLOCK io;
    UNICODE_STRING m;
    NTSTATUS st;
    int has = 0, has_sib = 0;
    BOOLEAN first = TRUE;
    typedef NTSTATUS(NTAPI * qdir_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN, UNICODE_STRING *,
                                      BOOLEAN);
    if ((st = open_file(dir, NULL, FILE_LIST_DIRECTORY, FILE_OPEN, FILE_DIRECTORY_FILE, &d)) < 0) return st;
    RtlInitUnicodeString(&m, name);
    for (;;) {
        ULONG off = 0;
        st = NTF(qdir_fn, "NtQueryDirectoryFile")(d, NULL, NULL, NULL, &io, buf, sizeof buf, 12 /* FileNamesInformation */, FALSE,
                                                  masked && first ? &m : NULL, first);
        first = FALSE;
        if (st < 0 || st == (NTSTATUS)0x80000006 /* no more files */) break;
        for (;;) {
            ULONG *e = (ULONG *)(buf + off), len = e[2] / 2;
            const WCHAR *nm = (const WCHAR *)(e + 3);
            if (len == wcslen(name) && !_wcsnicmp(nm, name, len)) has = 1;
            if (sib && len == wcslen(sib) && !_wcsnicmp(nm, sib, len)) has_sib = 1;
            if (!e[0]) break;
            off += e[0];
        }
    }
    CloseHandle(d);
    sprintf(note, "NAME:%s SIBLING:%s", has ? "yes" : "no", has_sib ? "yes" : "no");
    return st == (NTSTATUS)0x80000006 || st == (NTSTATUS)0xC000000F /* no such file: the mask matched nothing */ ? 0 : st;
}

/* A change notification on DIR (tree: its whole tree): the status of the call, pending when set. */
static NTSTATUS watch_dir(const WCHAR *dir, BOOLEAN tree)
{
    typedef NTSTATUS(NTAPI * notify_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN);
    static BYTE buf[4096];
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    IO_STATUS_BLOCK io;
    HANDLE d, ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    NTSTATUS st;
    oa_set(&oa, &us, dir, NULL);
    /* asynchronous: the watch stays pending instead of blocking */
    if ((st = NTF(create_fn, "NtCreateFile")(&d, FILE_LIST_DIRECTORY, &oa, &io, NULL, 0,
                                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN, FILE_DIRECTORY_FILE, NULL,
                                             0)) >= 0) {
        st = NTF(notify_fn, "NtNotifyChangeDirectoryFile")(d, ev, NULL, NULL, &io, buf, sizeof buf,
                                                           0x1f /* names, attributes, size, write */, tree);
        CancelIo(d);
        CloseHandle(d);
    }
    CloseHandle(ev);
    return st;
}

static void attempt(WCHAR **f, int n)
{
    const WCHAR *op = f[1];
    NTSTATUS st = ST_NOT_IMPLEMENTED, dst = 0;
    HANDLE h = NULL, d = NULL;
    static char note[200];
    note[0] = 0;
    widen_mode = n >= 5 ? f[4] : L"all";
    if (!wcscmp(op, L"fwiden") && n >= 4)
        st = fwiden(f[2], f[3], &dst);
    else if (!wcscmp(op, L"kwiden") && n >= 4)
        st = kwiden(f[2], f[3], &dst);
    else if (!wcscmp(op, L"hive") && n >= 4)
        st = hive(f[2], f[3], n >= 5 ? f[4] : NULL);
    else if (!wcscmp(op, L"device") && n >= 3) {
        st = open_file(f[2], NULL, GENERIC_READ | GENERIC_WRITE, FILE_OPEN, 0, &h);
        if (st < 0) st = open_file(f[2], NULL, FILE_READ_ATTRIBUTES, FILE_OPEN, 0, &h);
        if (st >= 0 && n >= 4 && !wcscmp(f[3], L"mountmgr")) dst = define_drive(h);
    } else if (!wcscmp(op, L"read") && n >= 3) {
        if ((st = open_file(f[2], NULL, GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &h)) >= 0) st = read_some(h, note, 40);
    } else if (!wcscmp(op, L"byid") && n >= 4) {
        LONGLONG id = _wtoi64(f[3]);
        OBJECT_ATTRIBUTES oa;
        UNICODE_STRING us;
        IO_STATUS_BLOCK io;
        if ((st = open_file(f[2], NULL, FILE_LIST_DIRECTORY, FILE_OPEN, FILE_DIRECTORY_FILE, &d)) >= 0) {
            us.Buffer = (WCHAR *)&id;
            us.Length = us.MaximumLength = 8;
            InitializeObjectAttributes(&oa, &us, 0, d, NULL);
            st = NTF(create_fn, "NtCreateFile")(&h, GENERIC_READ | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                                FILE_OPEN, FILE_OPEN_BY_FILE_ID | FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE,
                                                NULL, 0);
            if (st >= 0) st = read_some(h, note, 40);
        }
    } else if (!wcscmp(op, L"longlink") && n >= 3) {
        /* C:\esc-long\<240 x's>\<240>\<240>: the area's name for it is over 700 characters */
        WCHAR dir[1024] = L"\\??\\C:\\esc-long", seg[242];
        HANDLE src;
        int i;
        wmemset(seg, L'x', 240);
        seg[240] = 0;
        CreateDirectoryW(L"\\\\?\\C:\\esc-long", NULL);
        for (i = 0; i < 3; i++) {
            wcscat(dir, L"\\");
            wcscat(dir, seg);
            CreateDirectoryW(dir, NULL); /* \??\ and \\?\ alike: the \??\ prefix is passed as is */
        }
        if ((st = open_file(dir, NULL, FILE_LIST_DIRECTORY, FILE_OPEN_IF, FILE_DIRECTORY_FILE, &d)) >= 0 &&
            (st = open_file(f[2], NULL, FILE_READ_ATTRIBUTES, FILE_OPEN, 0, &src)) >= 0) {
            dst = name_info(src, L"lnk", d, 11 /* FileLinkInformation */);
            CloseHandle(src);
            wcscat(dir, L"\\lnk");
            if ((st = open_file(dir, NULL, FILE_WRITE_DATA, FILE_OPEN, 0, &h)) >= 0) st = write_at0(h, "ESCAPED");
        }
    } else if (!wcscmp(op, L"names") && n >= 3) { /* diagnostics: what the system calls a file opened by PATH */
        if ((st = open_file(f[2], NULL, FILE_READ_ATTRIBUTES, FILE_OPEN, 0, &h)) >= 0) {
            static BYTE b[4096];
            IO_STATUS_BLOCK io;
            ULONG r;
            if (NtQueryObject(h, ObjectNameInformation, b, sizeof b - 2, &r) >= 0) {
                UNICODE_STRING *u = (UNICODE_STRING *)b;
                WideCharToMultiByte(CP_UTF8, 0, u->Buffer, u->Length / 2, note, 90, NULL, NULL);
                note[u->Length / 2 < 90 ? u->Length / 2 : 90] = 0;
            }
            strcat(note, " | ");
            if (NtQueryInformationFile(h, &io, b, sizeof b - 2, 9) >= 0) {
                ULONG l = *(ULONG *)b / 2, k = (ULONG)strlen(note);
                WideCharToMultiByte(CP_UTF8, 0, (WCHAR *)(b + 4), l, note + k, 90, NULL, NULL);
                note[k + (l < 90 ? l : 90)] = 0;
            }
        }
    } else if ((!wcscmp(op, L"attr") || !wcscmp(op, L"fattr")) && n >= 3) {
        static BYTE info[64];
        OBJECT_ATTRIBUTES oa;
        UNICODE_STRING us;
        oa_set(&oa, &us, f[2], NULL);
        st = NTF(oa2_fn, op[0] == L'a' ? "NtQueryAttributesFile" : "NtQueryFullAttributesFile")(&oa, (OBJECT_ATTRIBUTES *)info);
    } else if (!wcscmp(op, L"list") && n >= 4)
        st = list_dir(f[2], f[3], n >= 5 ? f[4] : NULL, 0, note);
    else if (!wcscmp(op, L"listmask") && n >= 4)
        st = list_dir(f[2], f[3], NULL, 1, note);
    else if (!wcscmp(op, L"watch") && n >= 4)
        st = watch_dir(f[2], f[3][0] == L'1');
    else if (!wcscmp(op, L"ktx") && n >= 3) { /* NtOpenKeyTransacted(KEY_ALL_ACCESS) then a value written through it */
        typedef NTSTATUS(NTAPI * otx_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, HANDLE);
        otx_fn o = NTF(otx_fn, "NtOpenKeyTransacted");
        OBJECT_ATTRIBUTES oa;
        UNICODE_STRING us, v;
        oa_set(&oa, &us, f[2], NULL);
        st = o ? o(&h, KEY_ALL_ACCESS, &oa, NULL) : ST_NO_EXPORT;
        if (st >= 0) {
            RtlInitUnicodeString(&v, L"Injected");
            st = NTF(setval_fn, "NtSetValueKey")(h, &v, 0, REG_SZ, L"x", 4);
        }
    } else if (!wcscmp(op, L"mksvc") && n >= 3) { /* create a service named NAME (then delete it): status is the Win32 error */
        SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE), sh;
        sh = scm ? CreateServiceW(scm, f[2], f[2], SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START,
                                  SERVICE_ERROR_IGNORE, L"C:\\windows\\system32\\cmd.exe", NULL, NULL, NULL, NULL, NULL)
                 : NULL;
        st = sh ? 0 : (NTSTATUS)(0xC0070000 | GetLastError());
        if (sh) {
            DeleteService(sh);
            CloseServiceHandle(sh);
        }
        if (scm) CloseServiceHandle(scm);
    } else
        strcpy(note, "bad attempt");
    report(f, n, st, dst, note[0] ? note : NULL);
    if (h) CloseHandle(h);
    if (d) CloseHandle(d);
}

int wmain(int argc, WCHAR **argv)
{
    nt = GetModuleHandleW(L"ntdll.dll");
    {
        /* the hive calls need SeBackup/SeRestore enabled, which any process may do that holds them */
        typedef NTSTATUS(NTAPI * adj_fn)(ULONG, BOOLEAN, BOOLEAN, BOOLEAN *);
        BOOLEAN was;
        NTF(adj_fn, "RtlAdjustPrivilege")(17, TRUE, FALSE, &was);
        NTF(adj_fn, "RtlAdjustPrivilege")(18, TRUE, FALSE, &was);
    }
    if (argc >= 4 && !wcscmp(argv[1], L"mkpipe")) { /* mkpipe NAME SECONDS: a server instance of \\.\pipe\NAME, held */
        WCHAR path[300];
        HANDLE p;
        _snwprintf(path, 300, L"\\\\.\\pipe\\%ls", argv[2]);
        path[299] = 0;
        p = CreateNamedPipeW(path, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 512, 512, 0, NULL);
        printf("pipe %ls %s\n", argv[2], p == INVALID_HANDLE_VALUE ? "failed" : "ready");
        fflush(stdout);
        Sleep((DWORD)_wtoi(argv[3]) * 1000);
        return 0;
    }
    if (argc < 2 || run_attempts(argv[1], attempt)) {
        fprintf(stderr, "usage: esc-change FILE | mkpipe NAME SECONDS\n");
        return 2;
    }
    return 0;
}
