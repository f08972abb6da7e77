/* service.c: the emulated service-side SCM API */
#ifndef SVCDUP_SERVICE_H
#define SVCDUP_SERVICE_H
/* Installs the emulation when svcdup-host started this process; returns 1 then, else 0. */
int service_install(void);
#endif
