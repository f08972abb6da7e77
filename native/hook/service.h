/* service.c: the emulated service-side SCM API */
#ifndef SVCDUP_SERVICE_H
#define SVCDUP_SERVICE_H
/* Installs the emulation when svcdup-host started this process; returns 1 then, 0 when
   not started by svcdup-host, -1 when the exports cannot be replaced (patch_last_failure). */
int service_install(void);
#endif
