# svcdup-watch.exe: one per host, outside every VM: reports STOPPED for a direct duplicate's
# image that ends without saying so (docs/dup.md, "A dead direct image"). Started by a
# direct image's hook when it is not running.
TARGETS += $(OUT)/svcdup-watch.exe

$(OUT)/svcdup-watch.exe: watch/svcdup-watch.c watch/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -o $@ watch/svcdup-watch.c $(LDFLAGS) -ladvapi32
