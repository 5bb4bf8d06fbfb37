/*
 * emu_uart.c - pi_uart_* on the virt machine's 16550 (UART0).
 *
 * Built for streaming a 15,360-byte frame:
 * - the receive FIFO is on with a 14-byte trigger level, so QEMU hands the guest up to 14
 *   bytes per main-loop turn instead of one;
 * - with the FIFO empty the hart sleeps in WFI until the UART interrupt (FIFO at the trigger
 *   level, or the 4-character timeout for a tail) is pending at the PLIC. Interrupts stay
 *   globally off (mstatus.MIE = 0): the pending interrupt only ends the WFI. A polling hart
 *   contends with QEMU's I/O thread on every status read and keeps a host core busy;
 * - per byte the loop only tests LSR.DR and reads RBR.
 */
#include <stdint.h>

#include "pmsis.h"
#include "emu_virt.h"

void pi_uart_conf_init(struct pi_uart_conf *conf)
{
    conf->src_clock_Hz = 0;
    conf->baudrate_bps = 115200;
    conf->stop_bit_count = 1;
    conf->parity_mode = 0;
    conf->uart_id = 0;
    conf->enable_rx = 1;
    conf->enable_tx = 1;
}

int pi_uart_open(struct pi_device *device)
{
    const struct pi_uart_conf *conf = (const struct pi_uart_conf *)device->config;
    /* 1.8432 MHz reference clock / 16 / divisor = baud (QEMU only uses it for FIFO timeouts). */
    uint32_t divisor = conf && conf->baudrate_bps ? 115200u / conf->baudrate_bps : 1u;
    if (divisor == 0)
        divisor = 1;
    UART_IER = 0;
    UART_LCR = 0x80;                    /* DLAB */
    UART_DLL = (uint8_t)(divisor & 0xFFu);
    UART_DLM = (uint8_t)(divisor >> 8);
    UART_LCR = 0x03;                    /* 8N1 */
    UART_FCR = 0xC7;                    /* FIFO on, both cleared, RX trigger at 14 bytes */
    UART_MCR = 0x03;                    /* DTR, RTS; loopback off */
    UART_IER = UART_IER_RDI;
    PLIC_PRIORITY(UART_IRQ) = 1;
    PLIC_THRESHOLD = 0;
    PLIC_ENABLE0 = 1u << UART_IRQ;
    __asm volatile("csrs mie, %0" ::"r"(MIE_MEIE));
    return 0;
}

void pi_uart_close(struct pi_device *device) { (void)device; }

int pi_uart_write(struct pi_device *device, void *buffer, uint32_t size)
{
    const uint8_t *p = (const uint8_t *)buffer;
    (void)device;
    for (uint32_t i = 0; i < size; i++) {
        while (!(UART_LSR & UART_LSR_THRE)) {
        }
        UART_THR = p[i];
    }
    return 0;
}

/* Sleep until the UART interrupt is pending. Claiming and completing first re-arms the PLIC
 * gateway; data that arrived meanwhile is seen by the LSR test before the WFI. */
static void wait_for_uart(void)
{
    uint32_t source = PLIC_CLAIM;
    if (source)
        PLIC_CLAIM = source;
    if (!(UART_LSR & UART_LSR_DR))
        __asm volatile("wfi" ::: "memory");
}

int pi_uart_read(struct pi_device *device, void *buffer, uint32_t size)
{
    uint8_t *p = (uint8_t *)buffer;
    (void)device;
    for (uint32_t i = 0; i < size; i++) {
        while (!(UART_LSR & UART_LSR_DR))
            wait_for_uart();
        p[i] = UART_RBR;
    }
    return 0;
}

int pi_uart_write_byte(struct pi_device *device, uint8_t *byte)
{
    return pi_uart_write(device, byte, 1);
}

int pi_uart_read_byte(struct pi_device *device, uint8_t *byte)
{
    return pi_uart_read(device, byte, 1);
}
