/*
 * cm4_exit.c - ea_hal_exit and emulator detection for the Cortex-M4 boards.
 *
 * Under QEMU (always started with -semihosting-config enable=on) the exit is the semihosting
 * call SYS_EXIT_EXTENDED, which makes QEMU exit with `code` as its status. On silicon a BKPT
 * without a debugger would fault, so there we only use it when a debugger is attached and
 * otherwise park the core.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "cm4_regs.h"

int cm4_on_emulator;

int cm4_detect_emulator(void)
{
    CM4_DEMCR |= 1u << 24;      /* TRCENA */
    CM4_DWT_LAR = 0xC5ACCE55u;  /* unlock where a lock exists */
    CM4_DWT_CYCCNT = 0;
    CM4_DWT_CTRL |= 1u;         /* CYCCNTENA */
    for (volatile int i = 0; i < 8; i++) {
    }
    cm4_on_emulator = CM4_DWT_CYCCNT == 0;
    return cm4_on_emulator;
}

static void semihost_exit(int code)
{
    /* ADP_Stopped_ApplicationExit and the status, read by SYS_EXIT_EXTENDED (0x20). */
    uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm("r0") = 0x20u;
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

void ea_hal_exit(int code)
{
    if (cm4_on_emulator || (CM4_DHCSR & 1u))
        semihost_exit(code);
    for (;;)
        __asm volatile("wfi");
}
