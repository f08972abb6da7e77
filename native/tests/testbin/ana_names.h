/* The names the analyze test binaries hard-code. test/analyze.test.ts asserts each one is
 * found and classified; keep the two in step. */
#ifndef ANA_NAMES_H
#define ANA_NAMES_H

/* ana-svc.exe: an own-process executable with two services in one dispatch table */
#define ANA_SVC_ONE       L"SvcdupAnaOne"
#define ANA_SVC_TWO       L"SvcdupAnaTwo"
#define ANA_MUTEX         L"Global\\SvcdupAnaMutex"
#define ANA_MUTEX_A       "Global\\SvcdupAnaMutexA" /* ASCII, through CreateMutexA */
#define ANA_EVENT         L"Local\\SvcdupAnaEvent"
#define ANA_SECTION       L"Global\\SvcdupAnaSection"
#define ANA_PIPE          L"\\\\.\\pipe\\svcdup-ana-pipe"
#define ANA_MAILSLOT      L"\\\\.\\mailslot\\svcdup_ana_slot"
#define ANA_LRPC_PROTSEQ  L"ncalrpc"
#define ANA_LRPC_ENDPOINT L"svcdup-ana-lrpc"
#define ANA_TCP_PORT      47123
#define ANA_HTTP_URL      L"http://+:47124/svcdup-ana/"
#define ANA_REG_PARAMS    L"SYSTEM\\CurrentControlSet\\Services\\SvcdupAnaOne\\Parameters"
#define ANA_REG_STATE     L"SOFTWARE\\SvcdupAna\\State"
#define ANA_CLSID_STR     L"{5E3B1D2A-7C41-4F0E-9A61-2B8C0D4E6F71}"
#define ANA_REG_COM       L"Software\\Classes\\CLSID\\" ANA_CLSID_STR L"\\LocalServer32"
#define ANA_LOG_FILE      L"C:\\ProgramData\\SvcdupAna\\ana.log"
#define ANA_CLIENT_SVC    L"RpcSs" /* opened through the SCM as a client */

/* ana-svc.dll: a svchost service DLL */
#define ANA_DLL_MUTEX    L"Global\\SvcdupAnaDllMutex"
#define ANA_DLL_PIPE     L"\\\\.\\pipe\\svcdup-ana-dll"
#define ANA_NP_PROTSEQ   L"ncacn_np"
#define ANA_NP_ENDPOINT  L"\\pipe\\svcdup-ana-np"
#define ANA_TCP_PROTSEQ  L"ncacn_ip_tcp"
#define ANA_TCP_ENDPOINT L"47125"
#define ANA_DLL_SVC      L"SvcdupAnaDll"

/* ana-drv.sys: a kernel driver */
#define ANA_DEVICE    L"\\Device\\SvcdupAnaDev"
#define ANA_DOSDEVICE L"\\DosDevices\\SvcdupAnaDev"

#endif
