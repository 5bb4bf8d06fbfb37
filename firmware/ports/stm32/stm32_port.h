/*
 * stm32_port.h - what the STM32F405 board files tell each other.
 */
#ifndef STM32_PORT_H
#define STM32_PORT_H

#include <stdint.h>

#define STM32_SYSCLK_HZ 168000000u

#ifndef EA_UART_BAUD
#define EA_UART_BAUD 115200u
#endif

/* Configure the PLL (silicon only); returns SYSCLK in Hz and sets the APB2 clock. */
uint32_t stm32_clock_init(uint32_t *apb2_hz);
void stm32_usart_init(uint32_t apb2_hz);
void stm32_cycles_init(void);

#endif /* STM32_PORT_H */
