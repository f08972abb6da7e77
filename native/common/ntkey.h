/* The NtQueryKey / NtEnumerateKey / NtQueryValueKey information classes and layouts that
   mingw-w64's headers lack, for the hook's registry (hook/registry.c) and the registry probe
   (tests/regtest). Layouts as in the Windows DDK (KEY_*_INFORMATION). */
#ifndef SVCDUP_NTKEY_H
#define SVCDUP_NTKEY_H
#include <windows.h>

#define KeyBasicInformation     0
#define KeyNodeInformation      1
#define KeyFullInformation      2
#define KeyNameInformation      3
#define KeyCachedInformation    4
#define KeyValueFullInformation 1

typedef struct {
    LARGE_INTEGER t;
    ULONG title, name_len;
    WCHAR name[1];
} KBASIC;
typedef struct {
    LARGE_INTEGER t;
    ULONG title, class_off, class_len, name_len;
    WCHAR name[1];
} KNODE;
typedef struct {
    LARGE_INTEGER t;
    ULONG title, class_off, class_len, subkeys, max_name, max_class, values, max_vname, max_vdata;
    WCHAR cls[1];
} KFULL;
typedef struct {
    LARGE_INTEGER t;
    ULONG title, subkeys, max_name, values, max_vname, max_vdata, name_len;
} KCACHED;
typedef struct {
    ULONG title, type, data_off, data_len, name_len;
    WCHAR name[1];
} KVFULL;
typedef struct {
    ULONG title, type, len;
    BYTE data[1];
} KVPARTIAL;
#endif
