# STM32F405 (Cortex-M4F @168 MHz) port; runs on QEMU's netduinoplus2 (the same chip).
# `BOARD=mps2-an386` builds the same Cortex-M4 port for QEMU's MPS2-AN386 instead (4 MB code,
# 4 MB RAM) when a model pair does not fit the STM32; `TARGET=mps2` is a shorthand for it.
#
# Under QEMU the run is deterministic: `-icount shift=0` makes one instruction 1 ns of virtual
# time, and ea_hal_cycles() counts instructions (TIM2 here, SysTick on MPS2; docs/targets.md).
CROSS_COMPILE ?= arm-none-eabi-
CC   := $(CROSS_COMPILE)gcc
SIZE := $(CROSS_COMPILE)size
QEMU_ARM ?= qemu-system-arm

CM4_DIR  := ports/stm32
CM4_ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
CM4_SRCS := $(CM4_DIR)/cm4_startup.c $(CM4_DIR)/cm4_exit.c $(CM4_DIR)/cm4_fork.c

# The host link under QEMU: the terminal, or a TCP server socket the harness connects to.
# tcp:HOST:PORT becomes a server socket that waits for the client before the guest starts.
comma := ,
QEMU_SERIAL = $(if $(SERIAL),-serial $(SERIAL)$(if $(filter tcp:%,$(SERIAL)),$(comma)server=on$(comma)wait=on$(comma)nodelay=on),-serial stdio)

ifneq ($(filter mps2 mps2-an386,$(BOARD)),)
PORT_SRCS      := $(CM4_SRCS) ports/mps2/mps2_uart.c ports/mps2/mps2_cycles.c ports/mps2/mps2_init.c
PORT_LDSCRIPT  := ports/mps2/mps2_an386.ld
PORT_CPU_HZ    := 25000000
FLASH_BYTES    := 4194304
RAM_BYTES      := 4194304
QEMU_MACHINE   := mps2-an386
else
PORT_SRCS      := $(CM4_SRCS) $(CM4_DIR)/stm32_clock.c $(CM4_DIR)/stm32_usart.c \
                  $(CM4_DIR)/stm32_cycles.c $(CM4_DIR)/stm32_init.c
PORT_LDSCRIPT  := $(CM4_DIR)/stm32f405.ld
PORT_CPU_HZ    := 168000000
FLASH_BYTES    := 1048576
RAM_BYTES      := 131072
QEMU_MACHINE   := netduinoplus2
endif

PORT_CFLAGS    := $(CM4_ARCH) -I$(CM4_DIR) -fno-common
# newlib-nano supplies memcpy/memset and friends; there are no start files and no syscalls.
PORT_LDFLAGS    = $(CM4_ARCH) -nostartfiles --specs=nano.specs --specs=nosys.specs \
                  -L$(CM4_DIR) -T$(PORT_LDSCRIPT) -Wl,--gc-sections -Wl,--no-warn-rwx-segments \
                  -Wl,-Map,$(basename $(ELF)).map -lc -lgcc
PORT_NUM_CORES := 1
# the Cortex-M4 SIMD drop-ins of kernels/arm/ (KERNEL_ARCH= builds the reference kernels)
KERNEL_ARCH    ?= arm

RUN_CMD = $(QEMU_ARM) -M $(QEMU_MACHINE) -kernel $(ELF) \
          -semihosting-config enable=on,target=native -icount shift=0 \
          -display none -monitor none $(QEMU_SERIAL)
