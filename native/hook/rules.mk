# svcdup-hook.dll: injected into every VM process (docs/vm.md).
HOOK_SRC := $(wildcard hook/*.c) common/relay.c
HOOK_HDR := $(wildcard hook/*.h) common/ntkey.h
HOOK_GEN := $(OUT)/gen/policy-defaults.h
TARGETS += $(OUT)/svcdup-hook.dll

# the default policy: one data file, read by src/vm/policy.ts too
$(HOOK_GEN): hook/policy-defaults.txt hook/gen-defaults.mjs
	@mkdir -p $(dir $@)
	node hook/gen-defaults.mjs hook/policy-defaults.txt $@

# Sections page-aligned in the file: Wine then maps the DLL's code from the file, shared
# by every VM process, instead of copying it into each process's private memory.
$(OUT)/svcdup-hook.dll: $(HOOK_SRC) $(HOOK_HDR) $(HOOK_GEN) hook/hook.def hook/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -I$(OUT)/gen -shared -Wl,--file-alignment,0x1000 -o $@ $(HOOK_SRC) hook/hook.def $(LDFLAGS) -lntdll
