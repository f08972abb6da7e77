# Test services and a pipe client, used by integration tests and by the
# service-duplication work (see testsvc.c for what they do).
TESTSVC_DEPS := testsvc/testsvc.c testsvc/netsvc.c testsvc/netsvc.h common/json.c common/json.h testsvc/rules.mk

TARGETS += $(OUT)/svcdup-testsvc.exe $(OUT)/svcdup-testsvc-multi.exe $(OUT)/svcdup-pipecall.exe

$(OUT)/svcdup-testsvc.exe: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -o $@ testsvc/testsvc.c testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi

$(OUT)/svcdup-testsvc-multi.exe: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -DMULTI -o $@ testsvc/testsvc.c testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi

$(OUT)/svcdup-pipecall.exe: testsvc/pipecall.c testsvc/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ testsvc/pipecall.c $(LDFLAGS)

TARGETS += $(OUT)/svcdup-testsvc.dll
$(OUT)/svcdup-testsvc.dll: $(TESTSVC_DEPS) | $(OUT)
	$(CC) $(CFLAGS) -DSERVICEDLL -shared -o $@ testsvc/testsvc.c testsvc/netsvc.c common/json.c $(LDFLAGS) -ladvapi32 -lws2_32 -lhttpapi
