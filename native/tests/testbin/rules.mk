# Test binaries for `svcdup analyze`: each hard-codes known names (see test/analyze*.test.ts).
# Built into $(OUT)/testbin/ so they are never shipped with the package's native binaries.
TESTBIN_OUT := $(OUT)/testbin

TEST_TARGETS += $(TESTBIN_OUT)/ana-svc.exe $(TESTBIN_OUT)/ana-svc.dll $(TESTBIN_OUT)/ana-plain.exe $(TESTBIN_OUT)/ana-drv.sys

# A launcher service and the server program it starts (analyze follows the whole service).
TEST_TARGETS += $(TESTBIN_OUT)/ana-launch.exe $(TESTBIN_OUT)/ana-server.exe

$(TESTBIN_OUT)/ana-launch.exe: tests/testbin/ana_launch.c | $(TESTBIN_OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -ladvapi32

$(TESTBIN_OUT)/ana-server.exe: tests/testbin/ana_server.c | $(TESTBIN_OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lws2_32

$(TESTBIN_OUT):
	@mkdir -p $(TESTBIN_OUT)

$(TESTBIN_OUT)/ana-svc.exe: tests/testbin/ana_svc.c tests/testbin/ana_names.h | $(TESTBIN_OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lrpcrt4 -lhttpapi -lws2_32 -lole32 -ladvapi32

$(TESTBIN_OUT)/ana_svcdll.res.o: tests/testbin/ana_svcdll.rc tests/testbin/ana_svcdll.rgs | $(TESTBIN_OUT)
	$(WINDRES) --include-dir tests/testbin -i $< -o $@

$(TESTBIN_OUT)/ana-svc.dll: tests/testbin/ana_svcdll.c tests/testbin/ana_names.h $(TESTBIN_OUT)/ana_svcdll.res.o | $(TESTBIN_OUT)
	$(CC) $(CFLAGS) -shared -o $@ $< $(TESTBIN_OUT)/ana_svcdll.res.o $(LDFLAGS) -lrpcrt4 -ladvapi32

$(TESTBIN_OUT)/ana-plain.exe: tests/testbin/ana_plain.c | $(TESTBIN_OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -ladvapi32

# The same service executable as PE32 (x86), when the 32-bit cross compiler is installed:
# the analyzer reads PE32 too (strings and imports; call-site recovery is x64 only).
TESTBIN_CC32 := $(shell command -v i686-w64-mingw32-gcc 2>/dev/null)
ifneq ($(TESTBIN_CC32),)
TEST_TARGETS += $(TESTBIN_OUT)/ana-svc32.exe
$(TESTBIN_OUT)/ana-svc32.exe: tests/testbin/ana_svc.c tests/testbin/ana_names.h | $(TESTBIN_OUT)
	$(TESTBIN_CC32) $(CFLAGS) -o $@ $< $(LDFLAGS) -lrpcrt4 -lhttpapi -lws2_32 -lole32 -ladvapi32
endif

# A minimal kernel driver: native subsystem, imports from ntoskrnl.exe, creates a device.
# mingw-w64 keeps the DDK headers in include/ddk (Debian: /usr/share/mingw-w64/include/ddk).
TESTBIN_DDK := $(firstword $(wildcard /usr/share/mingw-w64/include/ddk /usr/x86_64-w64-mingw32/include/ddk \
	/usr/x86_64-w64-mingw32/sys-root/mingw/include/ddk))
$(TESTBIN_OUT)/ana-drv.sys: tests/testbin/ana_drv.c | $(TESTBIN_OUT)
	$(CC) -I$(TESTBIN_DDK) -O2 -Wall -Wno-unused-parameter -D_UNICODE -DUNICODE -o $@ $< -s -shared -nostdlib -nostartfiles \
		-Wl,--subsystem,native -Wl,--entry,DriverEntry -Wl,--image-base,0x10000 -lntoskrnl
