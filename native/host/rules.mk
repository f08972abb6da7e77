# svcdup-host.exe: the ImagePath of every duplicate (SCM side of the relay).
HOST_SRC := $(wildcard host/*.c) common/relay.c
TARGETS += $(OUT)/svcdup-host.exe

$(OUT)/svcdup-host.exe: $(HOST_SRC) $(wildcard host/*.h) common/relay.h | $(OUT)
	$(CC) $(CFLAGS) -Ihost -o $@ $(HOST_SRC) $(LDFLAGS) -ladvapi32
