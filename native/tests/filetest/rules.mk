# svcdup-ft: one file operation per run, for the copy-on-write file tests (test/files-wine.test.ts).
TEST_TARGETS += $(OUT)/svcdup-ft.exe

$(OUT)/svcdup-ft.exe: tests/filetest/ft.c tests/filetest/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/filetest/ft.c $(LDFLAGS)
