# The escape suite's probe (test/escape.test.ts): attempts to reach objects held by the host
# and by another VM, one JSON line per attempt; also the holder those attempts aim at.
TEST_TARGETS += $(OUT)/esc-probe.exe

$(OUT)/esc-probe.exe: tests/escape/esc-probe.c tests/escape/esc-json.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lntdll -lws2_32 -ladvapi32 -lrpcrt4

# changes through handles and calls outside the name rules (handle rights, hives, devices, paths)
TEST_TARGETS += $(OUT)/esc-change.exe

$(OUT)/esc-change.exe: tests/escape/esc-change.c tests/escape/esc-json.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lntdll -ladvapi32
