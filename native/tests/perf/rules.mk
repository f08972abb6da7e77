# Programs bench/ measures against (never shipped).
NOCRT_FLAGS := -nostdlib -nostartfiles -ffreestanding -fno-builtin -fno-stack-protector -mno-stack-arg-probe
TEST_TARGETS += $(OUT)/svcdup-idle.exe $(OUT)/svcdup-idle-crt.exe

$(OUT)/svcdup-idle.exe: tests/perf/idle.c tests/perf/rules.mk | $(OUT)
	$(CC) $(CFLAGS) $(NOCRT_FLAGS) -Wl,-e,idle_entry -Wl,--stack,0x10000 -o $@ $< $(LDFLAGS) -lkernel32

$(OUT)/svcdup-idle-crt.exe: tests/perf/idle.c tests/perf/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -DWITH_CRT -o $@ $< $(LDFLAGS)
