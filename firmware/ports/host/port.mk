# Host port: the firmware as a native program. The link is stdin/stdout, or a TCP server socket
# with SERIAL=tcp:127.0.0.1:PORT; cycles are nanoseconds of CLOCK_MONOTONIC.
CC             := $(CROSS_COMPILE)gcc
SIZE           := $(CROSS_COMPILE)size
PORT_CFLAGS    := -DEA_PORT_HAS_MAIN
PORT_LDFLAGS   :=
PORT_SRCS      := ports/host/ea_hal_host.c ports/host/ea_link_host.c ports/host/ea_main_host.c
# ea_hal_fork emulates any number of cores by running them one after the other.
PORT_NUM_CORES := 8
PORT_CPU_HZ    := 1000000000
FLASH_BYTES    := 0
RAM_BYTES      := 0
RUN_CMD         = $(ELF)$(if $(SERIAL), --serial $(SERIAL))
