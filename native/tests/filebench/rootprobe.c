/*
 * svcdup-rootprobe: does opening a file relative to a handle of a deep folder
 * (OBJECT_ATTRIBUTES.RootDirectory) cost less than opening it by its full NT path? (issue 25:
 * a VM-private copy lives six folders deeper than the host file.) Each SPEC is timed as
 * NtCreateFile(read) + NtReadFile 4 kB + NtClose, the specs alternating in one process so that
 * the machine's load falls on all of them alike:
 *   svcdup-rootprobe ROUNDS N SPEC...
 *   SPEC = NTPATH              opened by its absolute NT path (\??\C:\..., \??\unix\...)
 *        | ROOTNTPATH|RELNAME  ROOTNTPATH opened once (FILE_TRAVERSE | SYNCHRONIZE, a folder),
 *                              then RELNAME opened relative to that handle
 * Each round times N opens of each spec in turn; a spec's figure is the median over the rounds
 * of each round's median and 10th percentile. One JSON line: {"us":[...],"p10":[...]} in SPEC
 * order. Exit code 0, or 1 after {"error": NTSTATUS, "call": what} for the first failed call.
 */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <wchar.h>
#include "../timing.h"

NTSTATUS NTAPI NtReadFile(HANDLE, HANDLE, PVOID, PVOID, PIO_STATUS_BLOCK, PVOID, ULONG, PLARGE_INTEGER, PULONG);

#define MAX_SPECS 8

typedef struct {
    HANDLE root;
    UNICODE_STRING name;
} spec_t;

static NTSTATUS open_read_close(const spec_t *s)
{
    static char buf[4096];
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK io;
    HANDLE h;
    NTSTATUS st;
    InitializeObjectAttributes(&oa, (PUNICODE_STRING)&s->name, OBJ_CASE_INSENSITIVE, s->root, NULL);
    st = NtCreateFile(&h, GENERIC_READ | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                      FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
    if (st) return st;
    st = NtReadFile(h, NULL, NULL, NULL, &io, buf, sizeof buf, NULL, NULL);
    NtClose(h);
    return st;
}

static int failed(NTSTATUS st, const char *what, int spec)
{
    printf("{\"error\":\"0x%08lx\",\"call\":\"%s %d\"}\n", (unsigned long)st, what, spec);
    return 1;
}

int wmain(int argc, WCHAR **argv)
{
    int rounds = argc > 1 ? _wtoi(argv[1]) : 0, n = argc > 2 ? _wtoi(argv[2]) : 0, k = argc - 3, r, i, j;
    spec_t specs[MAX_SPECS];
    double *t, *med, *p10;
    if (rounds < 1 || n < 1 || k < 1 || k > MAX_SPECS) {
        fprintf(stderr, "usage: svcdup-rootprobe ROUNDS N SPEC... (SPEC: NTPATH or ROOTNTPATH|RELNAME, at most 8)\n");
        return 87;
    }
    for (j = 0; j < k; j++) {
        WCHAR *bar = wcschr(argv[3 + j], L'|');
        specs[j].root = NULL;
        if (bar) {
            UNICODE_STRING rn;
            OBJECT_ATTRIBUTES oa;
            IO_STATUS_BLOCK io;
            NTSTATUS st;
            *bar = 0;
            RtlInitUnicodeString(&rn, argv[3 + j]);
            InitializeObjectAttributes(&oa, &rn, OBJ_CASE_INSENSITIVE, NULL, NULL);
            st = NtOpenFile(&specs[j].root, FILE_TRAVERSE | SYNCHRONIZE, &oa, &io, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                            FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT);
            if (st) return failed(st, "NtOpenFile root of spec", j);
            RtlInitUnicodeString(&specs[j].name, bar + 1);
        } else
            RtlInitUnicodeString(&specs[j].name, argv[3 + j]);
    }
    t = malloc(sizeof *t * n);
    med = malloc(sizeof *med * rounds * k);
    p10 = malloc(sizeof *p10 * rounds * k);
    if (!t || !med || !p10) return 8;
    for (j = 0; j < k; j++) { /* warm each spec once: its first open is not what is compared */
        NTSTATUS st = open_read_close(&specs[j]);
        if (st) return failed(st, "open spec", j);
    }
    for (r = 0; r < rounds; r++)
        for (j = 0; j < k; j++) {
            for (i = 0; i < n; i++) {
                double s = now_us();
                NTSTATUS st = open_read_close(&specs[j]);
                if (st) return failed(st, "open spec", j);
                t[i] = now_us() - s;
            }
            med[j * rounds + r] = median(t, n); /* sorts t */
            p10[j * rounds + r] = t[n / 10];
        }
    printf("{\"us\":[");
    for (j = 0; j < k; j++) printf("%s%.2f", j ? "," : "", median(med + j * rounds, rounds));
    printf("],\"p10\":[");
    for (j = 0; j < k; j++) printf("%s%.2f", j ? "," : "", median(p10 + j * rounds, rounds));
    printf("]}\n");
    return 0;
}
