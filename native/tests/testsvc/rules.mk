# Test services and a pipe client, used by integration tests and by the
# service-duplication work (see testsvc.c for what they do).
TESTSVC_DEPS := tests/testsvc/testsvc.c tests/testsvc/netsvc.c tests/testsvc/netsvc.h common/json.c common/json.h tests/testsvc/rules.mk

TEST_TARGETS += $(OUT)/svcdup-testsvc.exe $(OUT)/svcdup-testsvc-multi.exe $(OUT)/svcdup-pipecall.exe

$(OUT)/svcdup-testsvc.exe: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/testsvc/testsvc.c tests/testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi

$(OUT)/svcdup-testsvc-multi.exe: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -DMULTI -o $@ tests/testsvc/testsvc.c tests/testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi

$(OUT)/svcdup-pipecall.exe: tests/testsvc/pipecall.c tests/testsvc/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/testsvc/pipecall.c $(LDFLAGS)

TEST_TARGETS += $(OUT)/svcdup-testsvc.dll
$(OUT)/svcdup-testsvc.dll: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -DSERVICEDLL -shared -o $@ tests/testsvc/testsvc.c tests/testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi
