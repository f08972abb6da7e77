// Where svcdup's state lives in the host registry: the one place these keys are spelled on
// the TypeScript side (the C side reads the same keys: native/host/host.h VM_KEY_FMT,
// native/hook/registry.c and scmclient.c). Pure.

/** The host's services, as the SCM keeps them. */
export const SERVICES_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';
/** The parent of svcdup's own key: undoing the first VM's key removes svcdup's key with it. */
export const SOFTWARE_KEY = 'HKLM\\SOFTWARE';
/** svcdup's own area of the host registry; nothing else of the host's is written. */
export const SVCDUP_KEY = `${SOFTWARE_KEY}\\svcdup`;
/** Every VM's key: its Policy value (read by svcdup-host) and its copies of service keys. */
export const VMS_KEY = `${SVCDUP_KEY}\\VMs`;
export const vmKey = (vm: string): string => `${VMS_KEY}\\${vm}`;
/** The VM's copies of service keys. */
export const vmServicesKey = (vm: string): string => `${vmKey(vm)}\\Services`;
/** The VM's copy of a service's key: what the service sees as Services\NAME inside the VM. */
export const vmServiceKey = (vm: string, service: string): string => `${vmServicesKey(vm)}\\${service}`;
/** The host's key of a service. */
export const serviceKey = (service: string): string => `${SERVICES_KEY}\\${service}`;
