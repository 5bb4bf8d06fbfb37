/*
 * mps2_init.c - ea_hal_init for MPS2-AN386: emulator check, UART0, cycle counter.
 */
#include "ea_hal.h"
#include "cm4_port.h"
#include "mps2_regs.h"

void ea_hal_init(void)
{
    (void)cm4_detect_emulator();
    mps2_uart_init();
    mps2_cycles_init();
}
