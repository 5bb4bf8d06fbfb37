/*
 * stm32_usart.c - the host link on USART1 (PA9/PA10, 8N1).
 *
 * The receive path is built for streaming a 15,360-byte frame. ea_hal_getc sleeps in WFI until
 * RXNE is set and then only reads DR. The RXNE interrupt is enabled in the USART and the NVIC
 * but masked by PRIMASK, so no handler ever runs: the pending interrupt merely wakes the core.
 * Under QEMU this matters: a core that polls the status register contends with the emulator's
 * I/O thread on every poll, and a 15,360-byte frame then took 0.82-0.87 s instead of 0.19-0.27 s
 * (docs/targets.md); the sleeping core also leaves the host CPU idle between frames.
 * On silicon at 115200 baud a byte arrives every ~87 us, far slower than the wake-up.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "stm32_port.h"
#include "stm32f405_regs.h"

#define USART1_IRQ 37u
#define NVIC_ISER(n) CM4_REG(0xE000E100u + 4u * (n))
#define NVIC_ICPR(n) CM4_REG(0xE000E280u + 4u * (n))

void stm32_usart_init(uint32_t apb2_hz)
{
    RCC_AHB1ENR |= 1u << 0;  /* GPIOA */
    RCC_APB2ENR |= 1u << 4;  /* USART1 */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);   /* PA9, PA10: alternate */
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);      /* AF7 = USART1 */
    USART1_BRR = (apb2_hz + EA_UART_BAUD / 2u) / EA_UART_BAUD;      /* oversampling by 16 */
    __asm volatile("cpsid i" ::: "memory");  /* interrupts only wake the core, never run */
    /* QEMU drops bytes that arrive before RE is set: the host waits for the first output. */
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    NVIC_ISER(USART1_IRQ / 32u) = 1u << (USART1_IRQ % 32u);
}

int ea_hal_getc(void)
{
    while (!(USART1_SR & USART_SR_RXNE))
        __asm volatile("wfi" ::: "memory");
    int c = (int)(USART1_DR & 0xFFu);
    /* Reading DR dropped the request; clear the latched pending bit so the next WFI sleeps.
     * A byte that lands in between is seen by the RXNE test above before any WFI. */
    NVIC_ICPR(USART1_IRQ / 32u) = 1u << (USART1_IRQ % 32u);
    return c;
}

void ea_hal_write(const void *buf, uint32_t n)
{
    const uint8_t *p = (const uint8_t *)buf;
    for (uint32_t i = 0; i < n; i++) {
        while (!(USART1_SR & USART_SR_TXE)) {
        }
        USART1_DR = p[i];
    }
}

void cm4_board_fault_puts(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    ea_hal_write(s, n);
}
