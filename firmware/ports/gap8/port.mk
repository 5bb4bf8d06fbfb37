# GAP8 port: the HAL (ea_hal_gap8.c) is written against PMSIS. This port.mk builds it without
# the GAP SDK: riscv64-unknown-elf-gcc for RV32IMC, our PMSIS emulation layer (pmsis_emu/) and
# QEMU's riscv32 `virt` machine (docs/targets.md says what that models and what it does not).
# With the GAP SDK installed, build for gvsoc or the board with ports/gap8/sdk/Makefile instead.
#
# -misa-spec=2.2 keeps CSR instructions inside the base ISA (GCC 12 would otherwise want
# _zicsr) and selects the rv32im/ilp32 libraries; picolibc supplies memcpy and friends (its
# specs file is in PORT_CFLAGS only: the Makefile links with the compile flags too).
CROSS_COMPILE ?= riscv64-unknown-elf-
CC   := $(CROSS_COMPILE)gcc
SIZE := $(CROSS_COMPILE)size
QEMU_RISCV32 ?= qemu-system-riscv32

GAP8_DIR  := ports/gap8
GAP8_ARCH := -march=rv32imc -mabi=ilp32 -misa-spec=2.2 -mcmodel=medany

PORT_CFLAGS    := $(GAP8_ARCH) --specs=picolibc.specs -I$(GAP8_DIR) -I$(GAP8_DIR)/pmsis_emu \
                  -DEA_PORT_HAS_MAIN -fno-common
PORT_LDFLAGS    = $(GAP8_ARCH) -nostartfiles \
                  -T$(GAP8_DIR)/pmsis_emu/gap8_emu.ld -Wl,--gc-sections -Wl,--no-warn-rwx-segments \
                  -Wl,-Map,$(basename $(ELF)).map
PORT_SRCS      := $(GAP8_DIR)/ea_hal_gap8.c $(GAP8_DIR)/ea_main_gap8.c \
                  $(GAP8_DIR)/pmsis_emu/emu_start.S $(GAP8_DIR)/pmsis_emu/emu_system.c \
                  $(GAP8_DIR)/pmsis_emu/emu_uart.c $(GAP8_DIR)/pmsis_emu/emu_cluster.c \
                  $(GAP8_DIR)/pmsis_emu/emu_perf.c $(GAP8_DIR)/pmsis_emu/emu_switch.S
PORT_NUM_CORES := 8
# ea_hal_cycles() counts cluster-clock cycles (instructions at 1 IPC under the emulation);
# 170 MHz is the cluster clock of the max-performance operating point (hil/targets/gap8.toml).
PORT_CPU_HZ    := 170000000
# Everything runs from L2: the linker script enforces 512 KB for text + data + bss + FC stack,
# and `make size` compares data + bss with it as well.
FLASH_BYTES    := 524288
RAM_BYTES      := 524288

comma := ,
QEMU_SERIAL = $(if $(SERIAL),-serial $(SERIAL)$(if $(filter tcp:%,$(SERIAL)),$(comma)server=on$(comma)wait=on$(comma)nodelay=on),-serial stdio)

RUN_CMD = $(QEMU_RISCV32) -M virt -bios none -kernel $(ELF) -icount shift=0 \
          -display none -monitor none $(QEMU_SERIAL)
