/* The test class shared by svcdup-comserver.exe and svcdup-comclient.exe (docs/com.md). */
#ifndef SVCDUP_COMTEST_H
#define SVCDUP_COMTEST_H
#include <windows.h>

/* {5C0D5D0B-C0DE-4E57-9A11-53564344A001}: svcdup's COM local-server test class */
static const CLSID CLSID_SvcdupComTest = {0x5c0d5d0b, 0xc0de, 0x4e57, {0x9a, 0x11, 0x53, 0x56, 0x43, 0x44, 0xa0, 0x01}};
#define CLSID_SVCDUP_COMTEST_STR L"{5C0D5D0B-C0DE-4E57-9A11-53564344A001}"

#endif
