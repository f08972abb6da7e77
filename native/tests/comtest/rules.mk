# A COM local server (EXE server) and its client, for COM activation on the host and
# in a VM (docs/com.md, test/com.test.ts).
COMTEST_DEPS := tests/comtest/comtest.h tests/comtest/rules.mk

TEST_TARGETS += $(OUT)/svcdup-comserver.exe $(OUT)/svcdup-comclient.exe

$(OUT)/svcdup-comserver.exe: tests/comtest/comserver.c $(COMTEST_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/comtest/comserver.c $(LDFLAGS) -lole32 -luuid

$(OUT)/svcdup-comclient.exe: tests/comtest/comclient.c $(COMTEST_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/comtest/comclient.c $(LDFLAGS) -lole32 -luuid
