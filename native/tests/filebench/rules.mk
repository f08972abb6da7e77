# svcdup-fbench: file operations timed in-process, on the host and in a VM (bench/files.ts).
TEST_TARGETS += $(OUT)/svcdup-fbench.exe

$(OUT)/svcdup-fbench.exe: tests/filebench/fbench.c tests/filebench/rules.mk tests/timing.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/filebench/fbench.c $(LDFLAGS)

# svcdup-rootprobe: open by full NT path against open relative to a root folder's handle (issue 25).
TEST_TARGETS += $(OUT)/svcdup-rootprobe.exe

$(OUT)/svcdup-rootprobe.exe: tests/filebench/rootprobe.c tests/filebench/rules.mk tests/timing.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/filebench/rootprobe.c $(LDFLAGS) -lntdll
