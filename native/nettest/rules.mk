# Network test programs (test/net*.test.ts, bench/network.ts; docs/network.md).
NT_SRC := $(wildcard nettest/nt-*.c)
NT_EXE := $(patsubst nettest/%.c,$(OUT)/%.exe,$(NT_SRC))
TARGETS += $(NT_EXE)

$(OUT)/nt-%.exe: nettest/nt-%.c nettest/nt.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lws2_32 $(NT_LIBS_$*)
NT_LIBS_httpsrv := -lhttpapi
