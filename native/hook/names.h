/* Renaming: which names a VM process uses are namespaced, and how they are spelled. */
#ifndef SVCDUP_NAMES_H
#define SVCDUP_NAMES_H
#include "nt.h"
#include "policy.h"

enum { V_PASS, V_RENAMED, V_OPEN, V_DENIED, V_JOINED };

typedef struct {
    int verdict;
    int kind;             /* K_* of the name, once known */
    OBJECT_ATTRIBUTES oa; /* the attributes to pass on when V_RENAMED */
    UNICODE_STRING us;    /* the effective name when V_RENAMED */
    int scm_pipe;         /* V_OPEN of the SCM's own pipe, svcctl (svcctl.c guards it) */
    WCHAR *heap;
    WCHAR stack[264];
} renamed;

/* Named kernel objects and ports (kind K_OBJECT or K_PORT). */
int rename_object(int kind, const OBJECT_ATTRIBUTES *in, renamed *r);
/* File opens: renames pipe and mailslot paths, passes everything else.
   *is_root is set when the path names the pipe/mailslot root itself. */
int rename_file(const OBJECT_ATTRIBUTES *in, renamed *r, int *root_kind);
/* A bare pipe name (FSCTL_PIPE_WAIT buffer, relative to the pipe root). */
int rename_pipe_name(const WCHAR *name, USHORT chars, renamed *r);
/* A symbolic link's target made in a VM: renamed into the VM, or denied (names.c). */
int rename_link_target(const UNICODE_STRING *target, renamed *r);
/* The originals resolution uses to follow links (set once hooked). */
void names_init_links(void *open_link, void *open_dir);
void renamed_free(renamed *r);
/* Is h a handle on a namespace root directory (names.c)? */
int root_is_namespace(HANDLE h, int *kind);
/* Strip this VM's prefix from a name the system reports; returns new length in bytes. */
USHORT unrename(WCHAR *s, USHORT bytes);

/* Root directory handles: what they name, cached until closed. */
void roots_note(HANDLE h, int kind);
void roots_forget(HANDLE h);
int roots_kind(HANDLE h);
#endif
