/*
 * stm32_init.c - ea_hal_init for the STM32F405: emulator check, clocks, USART1, cycle counter.
 */
#include "ea_hal.h"
#include "cm4_port.h"
#include "stm32_port.h"

void ea_hal_init(void)
{
    uint32_t apb2_hz = 16000000u; /* HSI after reset */
    if (!cm4_detect_emulator())
        (void)stm32_clock_init(&apb2_hz);
    stm32_usart_init(apb2_hz);
    stm32_cycles_init();
}
