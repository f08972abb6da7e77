# Registry probe for the VM's copy-on-write registry (test/regcow.test.ts, docs/state.md).
TEST_TARGETS += $(OUT)/svcdup-regprobe.exe

$(OUT)/svcdup-regprobe.exe: tests/regtest/regprobe.c tests/regtest/rules.mk common/ntkey.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/regtest/regprobe.c $(LDFLAGS) -ladvapi32 -lntdll
