/* The few NT native declarations the hook needs that mingw's winternl.h lacks.
   Only ntdll is used at run time: the hook must work before kernel32 is fully
   initialised in a fresh child, and must not call anything it hooks. */
#ifndef SVCDUP_NT_H
#define SVCDUP_NT_H
#include <windows.h>
#include <winternl.h>

#ifndef NT_SUCCESS
#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#endif
#define ST_SUCCESS              ((NTSTATUS)0x00000000)
#define ST_ACCESS_DENIED        ((NTSTATUS)0xC0000022)
#define ST_NO_MEMORY            ((NTSTATUS)0xC0000017)
#define ST_OBJECT_NAME_INVALID  ((NTSTATUS)0xC0000033)
#define ST_NOT_SUPPORTED        ((NTSTATUS)0xC00000BB)
#define ST_INFO_LENGTH_MISMATCH ((NTSTATUS)0xC0000004)
#define ST_BUFFER_OVERFLOW      ((NTSTATUS)0x80000005)

#define FSCTL_PIPE_WAIT_CODE         0x00110018
#define THREAD_FLAG_CREATE_SUSPENDED 0x1
#define LDR_ADDREF_PIN               0x1

typedef struct {
    LARGE_INTEGER Timeout;
    ULONG NameLength; /* bytes */
    BOOLEAN TimeoutSpecified;
    WCHAR Name[1];
} PIPE_WAIT_BUF;

typedef struct {
    UNICODE_STRING Name;
} OBJ_NAME_INFO;

/* ntdll exports we call directly (never hooked ones: those go through the saved originals). */
NTSYSAPI NTSTATUS NTAPI NtAllocateVirtualMemory(HANDLE, PVOID *, ULONG_PTR, SIZE_T *, ULONG, ULONG);
NTSYSAPI NTSTATUS NTAPI NtFreeVirtualMemory(HANDLE, PVOID *, SIZE_T *, ULONG);
NTSYSAPI NTSTATUS NTAPI NtProtectVirtualMemory(HANDLE, PVOID *, SIZE_T *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtReadVirtualMemory(HANDLE, const void *, void *, SIZE_T, SIZE_T *);
NTSYSAPI NTSTATUS NTAPI NtWriteVirtualMemory(HANDLE, void *, const void *, SIZE_T, SIZE_T *);
NTSYSAPI NTSTATUS NTAPI NtMapViewOfSection(HANDLE, HANDLE, PVOID *, ULONG_PTR, SIZE_T, LARGE_INTEGER *, SIZE_T *, DWORD, ULONG, ULONG);
NTSYSAPI NTSTATUS NTAPI NtUnmapViewOfSection(HANDLE, PVOID);
NTSYSAPI NTSTATUS NTAPI NtDuplicateObject(HANDLE, HANDLE, HANDLE, PHANDLE, ACCESS_MASK, ULONG, ULONG);
NTSYSAPI NTSTATUS NTAPI NtResumeThread(HANDLE, PULONG);
NTSYSAPI NTSTATUS NTAPI NtTerminateProcess(HANDLE, NTSTATUS);
NTSYSAPI NTSTATUS NTAPI NtQueryInformationThread(HANDLE, THREADINFOCLASS, PVOID, ULONG, PULONG);
NTSYSAPI NTSTATUS NTAPI NtQuerySystemTime(LARGE_INTEGER *);
NTSYSAPI NTSTATUS NTAPI LdrAddRefDll(ULONG, HMODULE);
NTSYSAPI NTSTATUS NTAPI LdrGetDllHandle(LPCWSTR, ULONG, const UNICODE_STRING *, HMODULE *);
NTSYSAPI NTSTATUS NTAPI LdrGetProcedureAddress(HMODULE, const ANSI_STRING *, ULONG, PVOID *);

typedef struct {
    NTSTATUS ExitStatus;
    PVOID TebBaseAddress;
    CLIENT_ID ClientId;
    ULONG_PTR AffinityMask;
    LONG Priority;
    LONG BasePriority;
} THREAD_BASIC_INFO;

#endif
