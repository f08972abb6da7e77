/*
 * svcdup-fbench: file operations timed in-process with QueryPerformanceCounter, for
 * bench/files.ts, which runs it on the host and in a VM in the same run. One JSON line.
 *   open PATH N          N x (CreateFile for reading + ReadFile 4 KB + CloseHandle): {"us": median,
 *                        "p10": 10th percentile}
 *   list DIR N           N x a FindFirstFile/FindNextFile listing of DIR: {"us": median, "entries": n}
 *   firsts DIR N         the first open of each of DIR\f<i>.txt, i < N, one each (CreateFile for
 *                        reading + CloseHandle): {"us": median, "p10": 10th percentile, "total": sum}
 *   append PATH          one CreateFile(FILE_APPEND_DATA) + 1-byte write + close (in a VM the
 *                        open copies the host file up): {"us": time}
 *   change DIR K         K changes to DIR's e<i>.txt files: K/2 appended to, K/4 deleted, K/4
 *                        new n<i>.txt: {"changed": K}
 *   touch DIR COUNT MS   opens DIR\f<i>.txt for appending, i < COUNT, then sleeps MS so that
 *                        the caller can read the process's memory: {"touched": n}
 * Exit code 0, or the Win32 error of the first failed call.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include "../timing.h"

static int fail(const char *what)
{
    DWORD e = GetLastError();
    printf("{\"error\":%lu,\"call\":\"%s\"}\n", e, what);
    return e ? (int)e : 1;
}

/* One CreateFile(FILE_APPEND_DATA) + a 1-byte write + close: 0, or fail()'s code. */
static int append_byte(const WCHAR *path, DWORD disposition)
{
    DWORD put;
    HANDLE h = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ, NULL, disposition, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) return fail("CreateFile");
    if (!WriteFile(h, "+", 1, &put, NULL)) return fail("WriteFile");
    CloseHandle(h);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    const WCHAR *op = argc > 1 ? argv[1] : L"";
    const WCHAR *a = argc > 2 ? argv[2] : L"";
    int n = argc > 3 ? _wtoi(argv[3]) : 1, i;
    static char buf[4096];
    double *t;
    if (n < 1) n = 1;
    if (!(t = malloc(sizeof *t * n))) return 8;
    if (!wcscmp(op, L"open")) {
        for (i = 0; i < n; i++) {
            double s = now_us();
            DWORD got;
            HANDLE h = CreateFileW(a, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
            if (h == INVALID_HANDLE_VALUE) return fail("CreateFile");
            if (!ReadFile(h, buf, sizeof buf, &got, NULL)) return fail("ReadFile");
            CloseHandle(h);
            t[i] = now_us() - s;
        }
        /* the 10th percentile too: on a loaded machine, the opens no other process delayed. Read
           after median() has sorted t (as one printf argument it could be read first, unsorted) */
        double med = median(t, n);
        printf("{\"us\":%.2f,\"p10\":%.2f}\n", med, t[n / 10]);
        return 0;
    }
    if (!wcscmp(op, L"firsts")) {
        WCHAR p[MAX_PATH * 2];
        double total = 0, med;
        for (i = 0; i < n; i++) {
            double s;
            HANDLE h;
            swprintf(p, MAX_PATH * 2, L"%ls\\f%d.txt", a, i);
            s = now_us();
            h = CreateFileW(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
            if (h == INVALID_HANDLE_VALUE) return fail("CreateFile");
            CloseHandle(h);
            total += t[i] = now_us() - s;
        }
        med = median(t, n); /* sorts t: p10 read after */
        printf("{\"us\":%.2f,\"p10\":%.2f,\"total\":%.1f}\n", med, t[n / 10], total);
        return 0;
    }
    if (!wcscmp(op, L"list")) {
        WCHAR pat[MAX_PATH * 2];
        int entries = 0;
        swprintf(pat, MAX_PATH * 2, L"%ls\\*", a);
        for (i = 0; i < n; i++) {
            WIN32_FIND_DATAW fd;
            double s = now_us();
            HANDLE f = FindFirstFileW(pat, &fd);
            if (f == INVALID_HANDLE_VALUE) return fail("FindFirstFile");
            entries = 1;
            while (FindNextFileW(f, &fd)) entries++;
            FindClose(f);
            t[i] = now_us() - s;
        }
        printf("{\"us\":%.2f,\"entries\":%d}\n", median(t, n), entries);
        return 0;
    }
    if (!wcscmp(op, L"append")) {
        double s = now_us();
        int e = append_byte(a, OPEN_EXISTING);
        if (e) return e;
        printf("{\"us\":%.2f}\n", now_us() - s);
        return 0;
    }
    if (!wcscmp(op, L"change")) {
        WCHAR p[MAX_PATH * 2];
        for (i = 0; i < n; i++) {
            if (i < n / 2 || i >= n / 2 + n / 4) {
                BOOL fresh = i >= n / 2 + n / 4;
                int e;
                swprintf(p, MAX_PATH * 2, fresh ? L"%ls\\n%04d.txt" : L"%ls\\e%04d.txt", a, i);
                if ((e = append_byte(p, fresh ? CREATE_NEW : OPEN_EXISTING))) return e;
            } else {
                swprintf(p, MAX_PATH * 2, L"%ls\\e%04d.txt", a, i);
                if (!DeleteFileW(p)) return fail("DeleteFile");
            }
        }
        printf("{\"changed\":%d}\n", n);
        return 0;
    }
    if (!wcscmp(op, L"touch")) {
        WCHAR p[MAX_PATH * 2];
        for (i = 0; i < n; i++) {
            int e;
            swprintf(p, MAX_PATH * 2, L"%ls\\f%d.txt", a, i);
            if ((e = append_byte(p, OPEN_EXISTING))) return e;
        }
        Sleep(argc > 4 ? (DWORD)_wtoi(argv[4]) : 0);
        printf("{\"touched\":%d}\n", n);
        return 0;
    }
    fprintf(stderr, "usage: svcdup-fbench open|firsts|list|append|change|touch ...\n");
    return 87;
}
