# svcdup-hook.dll: injected into every VM process (docs/vm.md).
HOOK_SRC := $(wildcard hook/*.c) common/relay.c
HOOK_HDR := $(wildcard hook/*.h)
TARGETS += $(OUT)/svcdup-hook.dll

$(OUT)/svcdup-hook.dll: $(HOOK_SRC) $(HOOK_HDR) hook/hook.def | $(OUT)
	$(CC) $(CFLAGS) -shared -o $@ $(HOOK_SRC) hook/hook.def $(LDFLAGS) -lntdll
