# VM integration test programs (test/vm*.test.ts), one concern each.
VT_SRC := $(wildcard tests/vmtest/vt-*.c)
VT_EXE := $(patsubst tests/vmtest/%.c,$(OUT)/%.exe,$(VT_SRC))
TEST_TARGETS += $(VT_EXE)

$(OUT)/vt-%.exe: tests/vmtest/vt-%.c tests/timing.h | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lntdll $(VT_LIBS_$*)
VT_LIBS_rpc := -lrpcrt4
