# svcdup-fbench: file operations timed in-process, on the host and in a VM (bench/files.ts).
TEST_TARGETS += $(OUT)/svcdup-fbench.exe

$(OUT)/svcdup-fbench.exe: tests/filebench/fbench.c tests/filebench/rules.mk tests/timing.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/filebench/fbench.c $(LDFLAGS)
