# Client-side SCM test programs (test/scmclient.test.ts, docs/scmclient.md).
TARGETS += $(OUT)/svcdup-scmclient.exe $(OUT)/svcdup-scmclient-dyn.exe $(OUT)/svcdup-hotpatch-test.exe

$(OUT)/svcdup-scmclient.exe: scmtest/scmclient.c scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ scmtest/scmclient.c $(LDFLAGS) -ladvapi32

# the same client without an advapi32 import: sechost is loaded after the hook is in
$(OUT)/svcdup-scmclient-dyn.exe: scmtest/scmclient.c scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -DDYNAMIC -o $@ scmtest/scmclient.c $(LDFLAGS)

$(OUT)/svcdup-hotpatch-test.exe: scmtest/hotpatch-test.c hook/hotpatch.c hook/hotpatch.h scmtest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -Ihook -o $@ scmtest/hotpatch-test.c hook/hotpatch.c $(LDFLAGS) -lntdll
