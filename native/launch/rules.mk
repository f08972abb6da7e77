# svcdup-run.exe: launcher, process lister and trace listener for VMs (docs/vm.md).
TARGETS += $(OUT)/svcdup-run.exe

$(OUT)/svcdup-run.exe: launch/svcdup-run.c hook/trace.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ launch/svcdup-run.c $(LDFLAGS) -lntdll
