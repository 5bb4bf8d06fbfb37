/*
 * mps2_uart.c - the host link on CMSDK UART0. As on the STM32 (stm32_usart.c), the receive
 * path sleeps in WFI until a byte is there: the RX interrupt only wakes the core (PRIMASK masks
 * it), and the loop does no per-byte work beyond reading DATA and clearing the two latches.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "mps2_regs.h"

#define UART0_RX_IRQ 0u
#define NVIC_ISER0 CM4_REG(0xE000E100u)
#define NVIC_ICPR0 CM4_REG(0xE000E280u)

void mps2_uart_init(void)
{
    UART0_BAUDDIV = MPS2_CPU_HZ / EA_UART_BAUD; /* >= 16 as the CMSDK UART requires */
    __asm volatile("cpsid i" ::: "memory");
    UART0_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INTEN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

int ea_hal_getc(void)
{
    while (!(UART0_STATE & UART_STATE_RXFULL))
        __asm volatile("wfi" ::: "memory");
    int c = (int)(UART0_DATA & 0xFFu);
    UART0_INTCLEAR = UART_INT_RX;     /* the RX interrupt status is write-1-to-clear */
    NVIC_ICPR0 = 1u << UART0_RX_IRQ;
    return c;
}

void ea_hal_write(const void *buf, uint32_t n)
{
    const uint8_t *p = (const uint8_t *)buf;
    for (uint32_t i = 0; i < n; i++) {
        while (UART0_STATE & UART_STATE_TXFULL) {
        }
        UART0_DATA = p[i];
    }
}

void cm4_board_fault_puts(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    ea_hal_write(s, n);
}
