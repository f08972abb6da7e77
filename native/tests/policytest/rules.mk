# The hook's policy decisions against src/vm/policy.ts's (test/hook.test.ts).
TEST_TARGETS += $(OUT)/svcdup-policy-probe.exe

$(OUT)/svcdup-policy-probe.exe: tests/policytest/policy-probe.c tests/policytest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/policytest/policy-probe.c $(LDFLAGS) -ladvapi32
