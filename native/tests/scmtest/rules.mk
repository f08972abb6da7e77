# Client-side SCM test programs (test/scmclient.test.ts, docs/scmclient.md).
TEST_TARGETS += $(OUT)/svcdup-scmclient.exe $(OUT)/svcdup-scmclient-dyn.exe $(OUT)/svcdup-hotpatch-test.exe

$(OUT)/svcdup-scmclient.exe: tests/scmtest/scmclient.c tests/scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/scmtest/scmclient.c $(LDFLAGS) -ladvapi32

# the same client without an advapi32 import: sechost is loaded after the hook is in
$(OUT)/svcdup-scmclient-dyn.exe: tests/scmtest/scmclient.c tests/scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -DDYNAMIC -o $@ tests/scmtest/scmclient.c $(LDFLAGS)

# the patching module on its own (native/hook/patch.c)
$(OUT)/svcdup-hotpatch-test.exe: tests/scmtest/hotpatch-test.c hook/patch.c hook/patch.h tests/scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -Ihook -o $@ tests/scmtest/hotpatch-test.c hook/patch.c $(LDFLAGS) -lntdll
