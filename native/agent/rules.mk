# svcdup-agent.exe: the long-lived JSON-lines agent (see docs/agent-protocol.md).
AGENT_SRC := $(sort $(wildcard agent/*.c)) common/json.c
AGENT_HDR := $(wildcard agent/*.h) common/json.h

TARGETS += $(OUT)/svcdup-agent.exe

$(OUT)/svcdup-agent.exe: $(AGENT_SRC) $(AGENT_HDR) agent/rules.mk | $(OUT)
	$(CC) $(CFLAGS) -Iagent -o $@ $(AGENT_SRC) $(LDFLAGS) -ladvapi32
