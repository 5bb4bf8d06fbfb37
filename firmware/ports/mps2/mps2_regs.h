/*
 * mps2_regs.h - CMSDK APB UART0 of the MPS2 AN386 image (QEMU serial0) and the board clock.
 */
#ifndef MPS2_REGS_H
#define MPS2_REGS_H

#include "cm4_regs.h"

#define UART0_DATA    CM4_REG(0x40004000u)
#define UART0_STATE   CM4_REG(0x40004004u)  /* bit 0 TX full, bit 1 RX full */
#define UART0_CTRL    CM4_REG(0x40004008u)  /* bit 0 TX enable, bit 1 RX enable */
#define UART0_INTCLEAR CM4_REG(0x4000400Cu) /* write 1 to clear */
#define UART0_BAUDDIV CM4_REG(0x40004010u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TX_EN    (1u << 0)
#define UART_CTRL_RX_EN    (1u << 1)
#define UART_CTRL_RX_INTEN (1u << 3)
#define UART_INT_RX        (1u << 1)

#define MPS2_CPU_HZ 25000000u

#ifndef EA_UART_BAUD
#define EA_UART_BAUD 115200u
#endif

void mps2_uart_init(void);
void mps2_cycles_init(void);

#endif /* MPS2_REGS_H */
