/*
 * cm4_regs.h - the few Cortex-M4 core registers the ports touch (no CMSIS dependency),
 * shared by the STM32F405 and MPS2-AN386 boards.
 */
#ifndef CM4_REGS_H
#define CM4_REGS_H

#include <stdint.h>

#define CM4_REG(addr) (*(volatile uint32_t *)(addr))

/* System control block and debug. */
#define CM4_CPACR   CM4_REG(0xE000ED88u)  /* coprocessor access: FPU enable */
#define CM4_CFSR    CM4_REG(0xE000ED28u)  /* configurable fault status */
#define CM4_HFSR    CM4_REG(0xE000ED2Cu)
#define CM4_MMFAR   CM4_REG(0xE000ED34u)
#define CM4_BFAR    CM4_REG(0xE000ED38u)
#define CM4_DHCSR   CM4_REG(0xE000EDF0u)  /* bit 0: a debugger is attached */
#define CM4_DEMCR   CM4_REG(0xE000EDFCu)  /* bit 24 TRCENA: enables DWT */

/* Data watchpoint and trace unit: the cycle counter of real silicon. */
#define CM4_DWT_CTRL   CM4_REG(0xE0001000u)  /* bit 0 CYCCNTENA */
#define CM4_DWT_CYCCNT CM4_REG(0xE0001004u)
#define CM4_DWT_LAR    CM4_REG(0xE0001FB0u)  /* lock access (0xC5ACCE55 unlocks on some parts) */

/* SysTick: 24-bit down counter. */
#define CM4_SYST_CSR CM4_REG(0xE000E010u)   /* bit 0 ENABLE, bit 1 TICKINT, bit 2 CLKSOURCE=CPU */
#define CM4_SYST_RVR CM4_REG(0xE000E014u)
#define CM4_SYST_CVR CM4_REG(0xE000E018u)

#endif /* CM4_REGS_H */
