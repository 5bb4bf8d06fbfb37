/*
 * stm32_clock.c - the STM32F405 clock tree: 16 MHz HSI -> PLL -> 168 MHz SYSCLK,
 * APB2 (USART1) 84 MHz, APB1 42 MHz, 5 flash wait states (RM0090 table 10, 3.3 V).
 *
 * Every wait is bounded: if a ready flag never rises the core stays on HSI and the function
 * reports the clock it is really running at, so the UART baud rate stays right. QEMU does not
 * model RCC, so the port does not call this there.
 */
#include <stdint.h>

#include "stm32_port.h"
#include "stm32f405_regs.h"

#define HSI_HZ 16000000u
#define PLL_WAIT_LOOPS 200000u

static int wait_flag(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < PLL_WAIT_LOOPS; i++)
        if ((*reg & mask) == value)
            return 1;
    return 0;
}

uint32_t stm32_clock_init(uint32_t *apb2_hz)
{
    *apb2_hz = HSI_HZ;
    RCC_APB1ENR |= 1u << 28;        /* PWREN */
    PWR_CR |= 1u << 14;             /* VOS: scale 1 for 168 MHz */
    FLASH_ACR = 5u | (1u << 8) | (1u << 9) | (1u << 10); /* 5 WS, prefetch, I/D caches */
    RCC_CFGR = (RCC_CFGR & ~0xFCF0u) | (5u << 10) | (4u << 13); /* AHB /1, APB1 /4, APB2 /2 */
    /* PLLM 16, PLLN 336, PLLP /2, source HSI, PLLQ 7 (48 MHz for USB); bit 29 keeps its
     * reset value as RM0090 asks. */
    RCC_PLLCFGR = (1u << 29) | 16u | (336u << 6) | (0u << 16) | (0u << 22) | (7u << 24);
    RCC_CR |= 1u << 24;             /* PLLON */
    if (!wait_flag(&RCC_CR, 1u << 25, 1u << 25))
        return HSI_HZ;
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u; /* SW = PLL */
    if (!wait_flag(&RCC_CFGR, 3u << 2, 2u << 2))
        return HSI_HZ;
    *apb2_hz = STM32_SYSCLK_HZ / 2u;
    return STM32_SYSCLK_HZ;
}
