/* Named shared memory test: "writer NAME SECONDS" creates Global\NAME and writes
   its pid there; "reader NAME" opens it and prints "writer pid=N". */
#include <windows.h>
#include <stdio.h>

int wmain(int argc, WCHAR **argv)
{
    WCHAR name[300];
    HANDLE h;
    DWORD *v;
    if (argc < 3) return 2;
    swprintf(name, 300, L"Global\\%ls", argv[2]);
    if (!wcscmp(argv[1], L"writer") && argc >= 4) {
        h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, name);
        if (!h) {
            printf("error %lu\n", GetLastError());
            return 1;
        }
        v = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 4096);
        *v = GetCurrentProcessId();
        printf("writing pid=%lu\n", *v);
        fflush(stdout);
        Sleep(_wtoi(argv[3]) * 1000);
        return 0;
    }
    h = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    if (!h) {
        printf("error %lu\n", GetLastError());
        return 1;
    }
    v = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 4096);
    printf("writer pid=%lu\n", *v);
    return 0;
}
