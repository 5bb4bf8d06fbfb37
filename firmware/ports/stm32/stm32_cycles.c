/*
 * stm32_cycles.c - ea_hal_cycles on the STM32F405.
 *
 * Silicon: the DWT cycle counter (CPU cycles at 168 MHz).
 * QEMU 7.2: DWT reads 0, so the port uses TIM2 instead. QEMU clocks the STM32F4 timers at
 * 1 GHz of virtual time and, with -icount shift=0, one guest instruction is exactly 1 ns of
 * virtual time: TIM2 then counts executed instructions, deterministically and with no
 * rounding (SysTick would count 0.168 per instruction). Both are 32-bit and extended to 64 bits
 * on read; no interrupt is used, so nothing perturbs a measured interval.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "stm32_port.h"
#include "stm32f405_regs.h"

static cm4_counter64_t counter;

static inline uint32_t read32(void)
{
    return cm4_on_emulator ? TIM2_CNT : cm4_dwt_read();
}

void stm32_cycles_init(void)
{
    if (cm4_on_emulator) {
        RCC_APB1ENR |= 1u << 0; /* TIM2 (ignored by QEMU, needed on silicon) */
        TIM2_PSC = 0;
        TIM2_ARR = 0xFFFFFFFFu;
        TIM2_EGR = 1u;          /* load PSC */
        TIM2_CR1 = 1u;          /* CEN, up-counting */
    }
    counter.last = read32();
    counter.high = 0;
}

uint64_t ea_hal_cycles(void) { return cm4_counter64_update(&counter, read32()); }
