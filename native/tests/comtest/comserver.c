/*
 * svcdup-comserver [--linger SEC] [--max SEC] [-Embedding]: a COM local server (EXE
 * server) for the test class CLSID_SvcdupComTest (comtest.h).
 *
 * Registers its class factory with CoRegisterClassObject(CLSCTX_LOCAL_SERVER,
 * REGCLS_MULTIPLEUSE) in the multithreaded apartment. Every object it makes implements
 * IStream, an interface whose proxy/stub Wine (ole32's PSFactoryBuffer,
 * {00000320-0000-0000-C000-000000000046}) and Windows ship, so no proxy DLL of ours is
 * needed: IStream::Read returns this server's process id as decimal text, so a client
 * learns which process its activation reached.
 *
 * Lifetime: stays while it has objects or server locks; exits when it has had none for
 * --linger seconds (default 20), and in any case after --max seconds (default 120), so
 * a test can never leave it behind for long. Exit code 0, or 1 if registration failed.
 * The client's combase starts it with " -Embedding" appended, which is accepted and ignored.
 */
#define COBJMACROS
#define CONST_VTABLE
#include <windows.h>
#include <objbase.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include "comtest.h"

static LONG objects, locks;
static volatile LONG64 last_activity;
static HANDLE changed;

static void touch(void)
{
    InterlockedExchange64(&last_activity, (LONG64)GetTickCount64());
    SetEvent(changed);
}

/* ---- the object: IStream whose Read returns the server's pid ---- */

typedef struct {
    IStream IStream_iface;
    LONG refs;
    ULONG pos;
    char text[24];
} pidstream;

static pidstream *impl(IStream *iface) { return CONTAINING_RECORD(iface, pidstream, IStream_iface); }

static HRESULT WINAPI s_QueryInterface(IStream *iface, REFIID riid, void **out)
{
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_ISequentialStream) || IsEqualIID(riid, &IID_IStream)) {
        *out = iface;
        IStream_AddRef(iface);
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI s_AddRef(IStream *iface) { return InterlockedIncrement(&impl(iface)->refs); }

static ULONG WINAPI s_Release(IStream *iface)
{
    pidstream *s = impl(iface);
    ULONG r = InterlockedDecrement(&s->refs);
    if (!r) {
        HeapFree(GetProcessHeap(), 0, s);
        InterlockedDecrement(&objects);
        touch();
    }
    return r;
}

static HRESULT WINAPI s_Read(IStream *iface, void *buf, ULONG cb, ULONG *read)
{
    pidstream *s = impl(iface);
    ULONG len = (ULONG)strlen(s->text), n = s->pos < len ? len - s->pos : 0;
    if (n > cb) n = cb;
    memcpy(buf, s->text + s->pos, n);
    s->pos += n;
    if (read) *read = n;
    touch();
    return n < cb ? S_FALSE : S_OK;
}

static HRESULT WINAPI s_Write(IStream *iface, const void *buf, ULONG cb, ULONG *written) { return STG_E_ACCESSDENIED; }

static HRESULT WINAPI s_Seek(IStream *iface, LARGE_INTEGER move, DWORD origin, ULARGE_INTEGER *newpos)
{
    pidstream *s = impl(iface);
    LONGLONG base = origin == STREAM_SEEK_SET ? 0 : origin == STREAM_SEEK_CUR ? s->pos : (LONGLONG)strlen(s->text);
    if (origin > STREAM_SEEK_END || base + move.QuadPart < 0) return STG_E_INVALIDFUNCTION;
    s->pos = (ULONG)(base + move.QuadPart);
    if (newpos) newpos->QuadPart = s->pos;
    return S_OK;
}

static HRESULT WINAPI s_SetSize(IStream *iface, ULARGE_INTEGER size) { return E_NOTIMPL; }
static HRESULT WINAPI s_CopyTo(IStream *iface, IStream *to, ULARGE_INTEGER cb, ULARGE_INTEGER *r, ULARGE_INTEGER *w) { return E_NOTIMPL; }
static HRESULT WINAPI s_Commit(IStream *iface, DWORD flags) { return S_OK; }
static HRESULT WINAPI s_Revert(IStream *iface) { return S_OK; }
static HRESULT WINAPI s_LockRegion(IStream *iface, ULARGE_INTEGER o, ULARGE_INTEGER cb, DWORD t) { return STG_E_INVALIDFUNCTION; }
static HRESULT WINAPI s_UnlockRegion(IStream *iface, ULARGE_INTEGER o, ULARGE_INTEGER cb, DWORD t) { return STG_E_INVALIDFUNCTION; }

static HRESULT WINAPI s_Stat(IStream *iface, STATSTG *st, DWORD flag)
{
    memset(st, 0, sizeof(*st));
    st->type = STGTY_STREAM;
    st->cbSize.QuadPart = strlen(impl(iface)->text);
    return S_OK;
}

static HRESULT WINAPI s_Clone(IStream *iface, IStream **out)
{
    *out = NULL;
    return E_NOTIMPL;
}

static const IStreamVtbl stream_vtbl = {
    s_QueryInterface, s_AddRef, s_Release, s_Read,       s_Write,        s_Seek, s_SetSize,
    s_CopyTo,         s_Commit, s_Revert,  s_LockRegion, s_UnlockRegion, s_Stat, s_Clone,
};

/* ---- the class factory (static: lives as long as the process) ---- */

static HRESULT WINAPI f_QueryInterface(IClassFactory *iface, REFIID riid, void **out)
{
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IClassFactory)) {
        *out = iface;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI f_AddRef(IClassFactory *iface) { return 2; }
static ULONG WINAPI f_Release(IClassFactory *iface) { return 1; }

static HRESULT WINAPI f_CreateInstance(IClassFactory *iface, IUnknown *outer, REFIID riid, void **out)
{
    pidstream *s;
    HRESULT hr;
    *out = NULL;
    if (outer) return CLASS_E_NOAGGREGATION;
    if (!(s = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(*s)))) return E_OUTOFMEMORY;
    s->IStream_iface.lpVtbl = &stream_vtbl;
    s->refs = 1;
    snprintf(s->text, sizeof s->text, "%lu", GetCurrentProcessId());
    InterlockedIncrement(&objects);
    touch();
    hr = IStream_QueryInterface(&s->IStream_iface, riid, out);
    IStream_Release(&s->IStream_iface);
    return hr;
}

static HRESULT WINAPI f_LockServer(IClassFactory *iface, BOOL lock)
{
    if (lock)
        InterlockedIncrement(&locks);
    else
        InterlockedDecrement(&locks);
    touch();
    return S_OK;
}

static const IClassFactoryVtbl factory_vtbl = {f_QueryInterface, f_AddRef, f_Release, f_CreateInstance, f_LockServer};
static IClassFactory factory = {&factory_vtbl};

int wmain(int argc, WCHAR **argv)
{
    ULONGLONG linger = 20000, max = 120000, start;
    DWORD cookie;
    HRESULT hr;
    int i;

    for (i = 1; i < argc; i++) {
        if (!wcscmp(argv[i], L"--linger") && i + 1 < argc)
            linger = wcstoul(argv[++i], NULL, 10) * 1000ull;
        else if (!wcscmp(argv[i], L"--max") && i + 1 < argc)
            max = wcstoul(argv[++i], NULL, 10) * 1000ull;
        /* -Embedding, /Embedding and anything else: ignored */
    }
    changed = CreateEventW(NULL, FALSE, FALSE, NULL);
    start = GetTickCount64();
    last_activity = (LONG64)start;

    if (FAILED(hr = CoInitializeEx(NULL, COINIT_MULTITHREADED))) {
        fprintf(stderr, "CoInitializeEx: 0x%08lx\n", hr);
        return 1;
    }
    hr = CoRegisterClassObject(&CLSID_SvcdupComTest, (IUnknown *)&factory, CLSCTX_LOCAL_SERVER, REGCLS_MULTIPLEUSE, &cookie);
    if (FAILED(hr)) {
        fprintf(stderr, "CoRegisterClassObject: 0x%08lx\n", hr);
        CoUninitialize();
        return 1;
    }
    for (;;) {
        ULONGLONG now;
        WaitForSingleObject(changed, 250);
        now = GetTickCount64();
        if (now - start >= max) break;
        if (!objects && !locks && now - (ULONGLONG)last_activity >= linger) break;
    }
    CoRevokeClassObject(cookie);
    CoUninitialize();
    return 0;
}
