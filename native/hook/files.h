/* Per-VM copy-on-write view of the file system (docs/state.md).
   A VM path is canonical "\??\X:\a\b" (drive letter upper case, no "." or ".."
   components, no doubled or trailing backslash); its private counterpart is
   <area>\X\a\b where <area> is \??\C:\ProgramData\svcdup\VMs\<vm>\files.
   A deleted host entry leaves a whiteout <area>\X\a\.svcdup-wh.b. */
#ifndef SVCDUP_FILES_H
#define SVCDUP_FILES_H
#include "nt.h"
#include <wchar.h>

#define FILES_AREA_FMT L"\\??\\C:\\ProgramData\\svcdup\\VMs\\%ls\\files"
#define FILES_HOME     L"\\??\\C:\\ProgramData\\svcdup"
#define WH_PREFIX      L".svcdup-wh."
#define TMP_PREFIX     L".svcdup-tmp."
#define OWN_PREFIX     L".svcdup-"

enum { F_PASS = 0, F_VM = 1, F_DENY = 2, F_BAD = 3 };

/* _wcsnicmp's answer without its cost: Wine's msvcrt looks the thread's locale up for every
   character (about 1 us per open's prefix tests). ASCII is folded here; from the first other
   character on, _wcsnicmp compares the rest, so the answer is always _wcsnicmp's own. */
static inline int files_wcsnicmp(const WCHAR *a, const WCHAR *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        WCHAR x = a[i], y = b[i];
        if ((x | y) >= 0x80) return _wcsnicmp(a + i, b + i, n - i);
        if (x >= L'A' && x <= L'Z') x += 32;
        if (y >= L'A' && y <= L'Z') y += 32;
        if (x != y) return (int)x - (int)y;
        if (!x) break;
    }
    return 0;
}

/* A growable wide path; short ones stay on the stack. */
typedef struct {
    WCHAR *p;
    USHORT n; /* chars */
    USHORT cap;
    WCHAR stack[300];
} wpath;
void wp_init(wpath *w);
void wp_free(wpath *w);
int wp_set(wpath *w, const WCHAR *s, USHORT n);
int wp_add(wpath *w, const WCHAR *s, USHORT n);
void wp_us(wpath *w, UNICODE_STRING *us);

/* files_path.c */
int files_path_init(void);
/* Resolve a name (and its RootDirectory) to the canonical VM path.
   F_PASS: not a file on a drive (device, pipe, UNC, ...); F_VM: *out is set;
   F_DENY: names svcdup's own folders; F_BAD: a malformed path. */
int files_resolve(const OBJECT_ATTRIBUTES *oa, wpath *out);
int files_resolve_name(HANDLE root, const WCHAR *s, USHORT n, wpath *out);
/* The VM path a handle stands for (its private copy mapped back), 0 if none. */
int files_handle_path(HANDLE h, wpath *out);
int files_handle_private(HANDLE h);                        /* files.c: is it a private copy? */
int files_is_area_name(const wpath *raw);                  /* is a raw name in this VM's area? */
int files_handle_path_ex(HANDLE h, wpath *out, int *priv); /* files_handle_path + files_handle_private, one name query */
int files_handle_resolve(HANDLE h, wpath *out);            /* F_* of a handle's name; a name that cannot be learnt is F_DENY */
int files_handle_name(HANDLE h, wpath *out);               /* its raw name, any length; 0 when it cannot be had */
/* handles.c's question for a handle-taking change (security, EAs, reparse points): may it act? */
int files_may_change(HANDLE h);
/* devices.c: a name that is not a drive path (after files_resolve): may a VM open it? */
int devices_allowed(const wpath *name);
/* Policy verdict for a VM path: P_COW, P_OPEN, P_CLOSED or P_PRIVATE (policy.h). */
int files_verdict(const wpath *vp);
/* <area>\X\rest for a VM path; whiteout and temp names of its leaf. */
int files_private(const wpath *vp, wpath *out);
/* the same private path by its unix spelling under Wine (fewer components for wineserver's
   realpath); 0 when there is none or the name is not one to spell so: use files_private's */
int files_private_unix(const wpath *vp, wpath *out);
int files_whiteout(const wpath *vp, wpath *out);
int files_temp(const wpath *vp, wpath *out);
/* Map a private (area) path in place back to the VM's path; returns new length in chars, or n if not in the area. */
USHORT files_unmap(WCHAR *s, USHORT n, int nt_form);
int files_is_own_name(const WCHAR *leaf, USHORT n);
USHORT files_leaf(const WCHAR *p, USHORT n); /* index of the last component */

/* files_own.c: svcdup's home on Linux and the prefix outside drive_c ("own files" lines) */
int files_own_init(void);
int files_is_own(const wpath *c);
int files_own_above(const wpath *dir, int tree);                    /* a closed folder's parent (tree: ancestor) */
int files_own_hides(const wpath *dir, const WCHAR *name, USHORT n); /* is dir\name a closed folder? */
/* files.c: is the file h names closed to a VM? */
int files_closed_handle(HANDLE h);

/* files.c */
/* pipes.c hooks NtCreateFile (names first, then files_open): its original */
typedef NTSTATUS(NTAPI *create_file_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, LARGE_INTEGER *, ULONG, ULONG, ULONG,
                                        ULONG, PVOID, ULONG);
extern create_file_fn o_NtCreateFile;
/* Called by pipes.c for every NtCreateFile/NtOpenFile it does not rename: 1 when handled (*st set). */
int files_open(int is_create, HANDLE *h, ACCESS_MASK access, OBJECT_ATTRIBUTES *oa, IO_STATUS_BLOCK *io, LARGE_INTEGER *alloc, ULONG attrs,
               ULONG share, ULONG disposition, ULONG options, PVOID ea, ULONG ealen, NTSTATUS *st);
NTSTATUS files_attr(const OBJECT_ATTRIBUTES *oa, ULONG *attrs);
int files_install(void);
void files_forget(HANDLE h);
/* state of a VM path: where it lives */
enum { S_NONE = 0, S_HOST = 1, S_PRIVATE = 2, S_WHITEOUT = 3 };
int files_state(const wpath *vp, int verdict, ULONG *attrs);
int files_mkparents(const wpath *vp, int verdict);
NTSTATUS files_copy_up(const wpath *vp, ULONG host_attrs);
NTSTATUS files_set_whiteout(const wpath *vp);
void files_clear_whiteout(const wpath *vp);

/* files_cache.c: paths the VM's area does not hold (no private copy, no whiteout) */
LONG files_cache_gen(void);                        /* read before the lookups whose answer is put */
int files_cache_absent(const wpath *vp, LONG gen); /* 1: remembered absent (or its folder) since gen */
/* no_folder: the area's lookup said STATUS_OBJECT_PATH_NOT_FOUND, so vp's folder is absent too */
void files_cache_put(const wpath *vp, LONG gen, int no_folder);
void files_cache_changed(void); /* after any change to the area */
/* and which spelling opened a path's private copy (files_private_unix's or not): both from one look */
enum { FC_ABSENT = 1, FC_UNIX = 2, FC_NOUNIX = 3 };
int files_cache_get(const wpath *vp, LONG gen); /* FC_* or 0 */
void files_cache_put_unix(const wpath *vp, int works);

/* files_dir.c */
int files_dir_install(void);
void files_dir_forget(HANDLE h);
/* does the merged directory hold anything besides . and ..? */
int files_dir_nonempty(const wpath *vp, int verdict);
/* the long name of an 8.3 short name comp in folder dirvp of the VM's view; 1 when found */
int files_long_name(wpath *dirvp, const WCHAR *comp, USHORT n, wpath *out);
#endif
