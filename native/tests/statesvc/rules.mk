# The stateful test service (issue 10): fixed files and keys it changes on every start,
# and a --report mode that prints what it sees, so tests read real observed state.
TEST_TARGETS += $(OUT)/svcdup-statesvc.exe

$(OUT)/svcdup-statesvc.exe: tests/statesvc/statesvc.c common/json.c common/json.h tests/statesvc/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ tests/statesvc/statesvc.c common/json.c $(LDFLAGS) -ladvapi32
