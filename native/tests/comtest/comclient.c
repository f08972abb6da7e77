/*
 * svcdup-comclient [--hold SEC]: activates the test class CLSID_SvcdupComTest
 * (comtest.h) with CoCreateInstance(CLSCTX_LOCAL_SERVER), reads the server's pid
 * through the object's IStream and prints {"serverPid":N,"clientPid":M}.
 * --hold keeps the object (and so the server) for SEC seconds before releasing it.
 * On failure prints {"error":"...","hr":"0x..."} to stderr and exits 2.
 */
#define COBJMACROS
#include <windows.h>
#include <objbase.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include "comtest.h"

static int fail(const char *what, HRESULT hr)
{
    fprintf(stderr, "{\"error\":\"%s\",\"hr\":\"0x%08lx\"}\n", what, (unsigned long)hr);
    return 2;
}

int wmain(int argc, WCHAR **argv)
{
    char text[32];
    ULONG got = 0;
    DWORD hold = 0;
    IStream *stream;
    HRESULT hr;
    int i;

    for (i = 1; i < argc; i++)
        if (!wcscmp(argv[i], L"--hold") && i + 1 < argc) hold = wcstoul(argv[++i], NULL, 10) * 1000;

    if (FAILED(hr = CoInitializeEx(NULL, COINIT_MULTITHREADED))) return fail("CoInitializeEx", hr);
    hr = CoCreateInstance(&CLSID_SvcdupComTest, NULL, CLSCTX_LOCAL_SERVER, &IID_IStream, (void **)&stream);
    if (FAILED(hr)) return fail("CoCreateInstance", hr);
    hr = IStream_Read(stream, text, sizeof text - 1, &got);
    if (FAILED(hr) || !got) return fail("IStream::Read", FAILED(hr) ? hr : E_UNEXPECTED);
    text[got] = 0;
    if (hold) Sleep(hold);
    IStream_Release(stream);
    CoUninitialize();
    printf("{\"serverPid\":%lu,\"clientPid\":%lu}\n", strtoul(text, NULL, 10), GetCurrentProcessId());
    fflush(stdout);
    return 0;
}
