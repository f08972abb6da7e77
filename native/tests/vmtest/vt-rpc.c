/* RPC over ncalrpc with one fixed endpoint, without MIDL: a hand-built interface
   whose single procedure works on the raw RPC_MESSAGE (no NDR), answering with
   the server's pid. "server ENDPOINT SECONDS" / "client ENDPOINT". */
#include <windows.h>
#include <rpc.h>
#include <rpcdcep.h>
#include <stdio.h>

static const RPC_SYNTAX_IDENTIFIER if_id = {{0x5c3d1a7e, 0x2b4f, 0x4e1a, {0x9d, 0x61, 0x73, 0x76, 0x63, 0x64, 0x75, 0x70}}, {1, 0}};
static const RPC_SYNTAX_IDENTIFIER ndr = {{0x8a885d04, 0x1ceb, 0x11c9, {0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}}, {2, 0}};

static void __RPC_STUB who(PRPC_MESSAGE m)
{
    m->BufferLength = 4;
    if (I_RpcGetBuffer(m) == RPC_S_OK) *(DWORD *)m->Buffer = GetCurrentProcessId();
}
static RPC_DISPATCH_FUNCTION table[] = {who};
static RPC_DISPATCH_TABLE dispatch = {1, table, 0};

static int server(const WCHAR *ep, int seconds)
{
    static RPC_SERVER_INTERFACE sif;
    RPC_STATUS s;
    sif.Length = sizeof sif;
    sif.InterfaceId = if_id;
    sif.TransferSyntax = ndr;
    sif.DispatchTable = &dispatch;
    if ((s = RpcServerUseProtseqEpW((RPC_WSTR)L"ncalrpc", 10, (RPC_WSTR)ep, NULL))) {
        printf("error %ld\n", s);
        return 1;
    }
    if ((s = RpcServerRegisterIf(&sif, NULL, NULL))) {
        printf("error %ld\n", s);
        return 1;
    }
    if ((s = RpcServerListen(1, 10, TRUE))) {
        printf("error %ld\n", s);
        return 1;
    }
    printf("listening pid=%lu\n", GetCurrentProcessId());
    fflush(stdout);
    Sleep(seconds * 1000);
    return 0;
}

static int client(const WCHAR *ep)
{
    static RPC_CLIENT_INTERFACE cif;
    RPC_WSTR sb;
    RPC_BINDING_HANDLE b;
    RPC_MESSAGE m;
    RPC_STATUS s;
    cif.Length = sizeof cif;
    cif.InterfaceId = if_id;
    cif.TransferSyntax = ndr;
    if ((s = RpcStringBindingComposeW(NULL, (RPC_WSTR)L"ncalrpc", NULL, (RPC_WSTR)ep, NULL, &sb)) ||
        (s = RpcBindingFromStringBindingW(sb, &b))) {
        printf("error %ld\n", s);
        return 1;
    }
    memset(&m, 0, sizeof m);
    m.Handle = b;
    m.RpcInterfaceInformation = &cif;
    m.ProcNum = 0 | RPC_FLAGS_VALID_BIT;
    m.BufferLength = 4;
    if ((s = I_RpcGetBuffer(&m))) {
        printf("error %ld\n", s);
        return 1;
    }
    *(DWORD *)m.Buffer = 0;
    if ((s = I_RpcSendReceive(&m))) {
        printf("error %ld\n", s);
        return 1;
    }
    printf("server pid=%lu\n", *(DWORD *)m.Buffer);
    I_RpcFreeBuffer(&m);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    if (argc >= 4 && !wcscmp(argv[1], L"server")) return server(argv[2], _wtoi(argv[3]));
    if (argc >= 3 && !wcscmp(argv[1], L"client")) return client(argv[2]);
    return 2;
}
