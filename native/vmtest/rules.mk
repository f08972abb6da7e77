# VM integration test programs (test/vm*.test.ts), one concern each.
VT_SRC := $(wildcard vmtest/vt-*.c)
VT_EXE := $(patsubst vmtest/%.c,$(OUT)/%.exe,$(VT_SRC))
TARGETS += $(VT_EXE)

$(OUT)/vt-%.exe: vmtest/vt-%.c | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lntdll $(VT_LIBS_$*)
VT_LIBS_rpc := -lrpcrt4
