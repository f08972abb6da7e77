# A COM local server (EXE server) and its client, for COM activation on the host and
# in a VM (docs/com.md, test/com.test.ts).
COMTEST_DEPS := comtest/comtest.h comtest/rules.mk

TARGETS += $(OUT)/svcdup-comserver.exe $(OUT)/svcdup-comclient.exe

$(OUT)/svcdup-comserver.exe: comtest/comserver.c $(COMTEST_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ comtest/comserver.c $(LDFLAGS) -lole32 -luuid

$(OUT)/svcdup-comclient.exe: comtest/comclient.c $(COMTEST_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ comtest/comclient.c $(LDFLAGS) -lole32 -luuid
