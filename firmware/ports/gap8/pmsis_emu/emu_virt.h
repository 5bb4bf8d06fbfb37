/*
 * emu_virt.h - QEMU riscv32 `virt` devices and CSRs the PMSIS emulation uses (internal).
 */
#ifndef PMSIS_EMU_VIRT_H
#define PMSIS_EMU_VIRT_H

#include <stdint.h>

#define VIRT_REG8(addr) (*(volatile uint8_t *)(addr))
#define VIRT_REG32(addr) (*(volatile uint32_t *)(addr))

/* ns16550a UART0, byte registers. */
#define UART_BASE 0x10000000u
#define UART_RBR VIRT_REG8(UART_BASE + 0)  /* read: receive buffer */
#define UART_THR VIRT_REG8(UART_BASE + 0)  /* write: transmit holding */
#define UART_IER VIRT_REG8(UART_BASE + 1)
#define UART_FCR VIRT_REG8(UART_BASE + 2)  /* write: FIFO control */
#define UART_LCR VIRT_REG8(UART_BASE + 3)
#define UART_MCR VIRT_REG8(UART_BASE + 4)
#define UART_LSR VIRT_REG8(UART_BASE + 5)
#define UART_DLL VIRT_REG8(UART_BASE + 0)  /* with LCR.DLAB */
#define UART_DLM VIRT_REG8(UART_BASE + 1)
#define UART_IER_RDI (1u << 0)  /* received data available / character timeout */
#define UART_LSR_DR (1u << 0)
#define UART_LSR_THRE (1u << 5)

/* PLIC, hart 0 M-mode context; the UART is interrupt source 10. */
#define PLIC_BASE 0x0C000000u
#define PLIC_PRIORITY(src) VIRT_REG32(PLIC_BASE + 4u * (src))
#define PLIC_ENABLE0 VIRT_REG32(PLIC_BASE + 0x2000u)
#define PLIC_THRESHOLD VIRT_REG32(PLIC_BASE + 0x200000u)
#define PLIC_CLAIM VIRT_REG32(PLIC_BASE + 0x200004u)
#define UART_IRQ 10u
#define MIE_MEIE (1u << 11)

/* SiFive test finisher: ends QEMU with an exit status. */
#define VIRT_FINISHER VIRT_REG32(0x00100000u)

/* 64-bit retired-instruction counter of this hart (M mode). */
static inline uint64_t emu_instret(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm volatile("csrr %0, minstreth" : "=r"(hi));
        __asm volatile("csrr %0, minstret" : "=r"(lo));
        __asm volatile("csrr %0, minstreth" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

void emu_puts(const char *s);
void emu_fatal(const char *what) __attribute__((noreturn));

/* Instructions the FC does not count: every fork costs it its critical path only (emu_cluster.c). */
extern uint64_t emu_parallel_savings;
/* The core whose counters pi_perf_* use: 0..7 cluster cores, EMU_FC for the FC. */
#define EMU_FC ARCHI_CLUSTER_NB_PE
extern int emu_current_core;

#endif /* PMSIS_EMU_VIRT_H */
