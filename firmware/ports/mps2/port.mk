# MPS2-AN386 (QEMU mps2-an386): the Cortex-M4 port with 4 MB for code and 4 MB of RAM, for model
# pairs that do not fit the STM32F405. Same as `TARGET=stm32 BOARD=mps2-an386`.
BOARD := mps2-an386
include ports/stm32/port.mk
