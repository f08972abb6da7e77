# Network test programs (test/net*.test.ts, bench/network.ts; docs/network.md).
NT_SRC := $(wildcard tests/nettest/nt-*.c)
NT_EXE := $(patsubst tests/nettest/%.c,$(OUT)/%.exe,$(NT_SRC))
TEST_TARGETS += $(NT_EXE)

$(OUT)/nt-%.exe: tests/nettest/nt-%.c tests/nettest/nt.h tests/timing.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lws2_32 $(NT_LIBS_$*)
NT_LIBS_httpsrv := -lhttpapi
