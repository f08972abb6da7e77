# svcdup-host.exe: the ImagePath of every duplicate (SCM side of the relay).
# No C runtime (crt.c has the entry point): only kernel32 and ntdll are imported
# (advapi32 is loaded once the image is created, imports.c), and a small stack reserve
# (docs/dup.md, "Performance"). Sections aligned to
# pages in the file too: then Wine maps the image from the file, shared by every
# duplicate's svcdup-host, instead of copying it into private memory of each.
HOST_SRC := $(wildcard host/*.c) common/relay.c
HOST_FLAGS := -nostdlib -nostartfiles -ffreestanding -fno-builtin -fno-stack-protector -Wl,-e,host_entry -Wl,--stack,0x40000 -Wl,--file-alignment,0x1000
TARGETS += $(OUT)/svcdup-host.exe

$(OUT)/svcdup-host.exe: $(HOST_SRC) $(wildcard host/*.h) common/relay.h host/rules.mk | $(OUT)
	$(CC) $(CFLAGS) $(HOST_FLAGS) -Ihost -o $@ $(HOST_SRC) $(LDFLAGS) -lkernel32 -lntdll -lgcc
