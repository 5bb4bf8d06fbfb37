/*
 * mps2_cycles.c - ea_hal_cycles on MPS2-AN386.
 *
 * QEMU leaves the DWT counter at 0 on this board too, and its timers all run at the 25 MHz
 * board clock. The port therefore uses SysTick on the CPU clock: with -icount shift=0 one tick
 * is 40 ns = 40 instructions, so ea_hal_cycles() returns ticks * 40, an instruction count with
 * a resolution of 40. If a running DWT is found (an FPGA board) it is used as is.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "mps2_regs.h"

#define SYSTICK_MASK 0x00FFFFFFu
#define INSNS_PER_TICK (1000000000u / MPS2_CPU_HZ)  /* 1 ns per instruction under icount */

static cm4_counter64_t counter;
static uint32_t tick_last;   /* SysTick counts down: this is its last value as an up-count */
static uint64_t tick_total;

void mps2_cycles_init(void)
{
    if (cm4_on_emulator) {
        CM4_SYST_RVR = SYSTICK_MASK;
        CM4_SYST_CVR = 0;
        CM4_SYST_CSR = 5u;   /* ENABLE, CLKSOURCE = CPU, no interrupt */
        tick_last = SYSTICK_MASK - (CM4_SYST_CVR & SYSTICK_MASK);
        tick_total = 0;
    } else {
        counter.last = cm4_dwt_read();
        counter.high = 0;
    }
}

uint64_t ea_hal_cycles(void)
{
    if (!cm4_on_emulator)
        return cm4_counter64_update(&counter, cm4_dwt_read());
    uint32_t now = SYSTICK_MASK - (CM4_SYST_CVR & SYSTICK_MASK);
    tick_total += (now - tick_last) & SYSTICK_MASK;  /* modulo 2^24: one wrap at most */
    tick_last = now;
    return tick_total * INSNS_PER_TICK;
}
