/* ana-drv.sys: a minimal kernel driver that creates a named device and a DOS link to it.
 * Never loaded by the tests: it exists to be analyzed as a driver. */
#include <ntddk.h>
#include "ana_names.h"

static void NTAPI unload(PDRIVER_OBJECT driver)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, ANA_DOSDEVICE);
    IoDeleteSymbolicLink(&link);
    if (driver->DeviceObject) IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    RtlInitUnicodeString(&name, ANA_DEVICE);
    RtlInitUnicodeString(&link, ANA_DOSDEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->DriverUnload = unload;
    return STATUS_SUCCESS;
}
