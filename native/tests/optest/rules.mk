# Programs the operations tests (test/ops.test.ts) run in VMs: allocate and report, spawn children, spin.
$(OUT)/op-probe.exe: tests/optest/op-probe.c | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpsapi
TEST_TARGETS += $(OUT)/op-probe.exe
