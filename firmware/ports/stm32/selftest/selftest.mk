# Builds the HAL self-test firmware for any port through the port.mk contract, without the
# application or an export (used by tests/test_ports_qemu.py):
#   make -C firmware -f ports/stm32/selftest/selftest.mk TARGET=stm32|mps2|gap8 [BUILD=dir] [run]
TARGET ?= stm32
BUILD  ?= ../build/selftest-$(TARGET)
SERIAL ?=
BUILD_DIR := $(abspath $(BUILD))
ELF       := $(BUILD_DIR)/selftest-$(TARGET).elf

include ports/$(TARGET)/port.mk

SELFTEST_SRCS := ports/stm32/selftest/hal_selftest.c $(PORT_SRCS)
CFLAGS_ALL := -std=c99 -O2 -g -Wall -Wextra -Werror -ffunction-sections -fdata-sections \
              -Iinclude -DEA_PORT_NUM_CORES=$(PORT_NUM_CORES) $(PORT_CFLAGS) $(CFLAGS)

.PHONY: all run size
all: $(ELF)

$(ELF): $(SELFTEST_SRCS) $(wildcard include/*.h ports/$(TARGET)/*.h ports/$(TARGET)/*/*.h ports/stm32/*.h)
	@mkdir -p $(BUILD_DIR)
	$(CC) $(CFLAGS_ALL) $(SELFTEST_SRCS) $(PORT_LDFLAGS) -o $@

run: $(ELF)
	$(RUN_CMD)

size: $(ELF)
	$(SIZE) $(ELF)
