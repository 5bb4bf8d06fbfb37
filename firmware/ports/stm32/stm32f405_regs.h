/*
 * stm32f405_regs.h - the STM32F405 peripheral registers the port uses (RM0090 addresses).
 */
#ifndef STM32F405_REGS_H
#define STM32F405_REGS_H

#include "cm4_regs.h"

/* Reset and clock control. */
#define RCC_CR       CM4_REG(0x40023800u)
#define RCC_PLLCFGR  CM4_REG(0x40023804u)
#define RCC_CFGR     CM4_REG(0x40023808u)
#define RCC_AHB1ENR  CM4_REG(0x40023830u)
#define RCC_APB1ENR  CM4_REG(0x40023840u)
#define RCC_APB2ENR  CM4_REG(0x40023844u)
#define PWR_CR       CM4_REG(0x40007000u)
#define FLASH_ACR    CM4_REG(0x40023C00u)

/* GPIOA: USART1 on PA9 (TX) / PA10 (RX), alternate function 7. */
#define GPIOA_MODER  CM4_REG(0x40020000u)
#define GPIOA_AFRH   CM4_REG(0x40020024u)

/* USART1 (QEMU netduinoplus2: serial0). */
#define USART1_SR    CM4_REG(0x40011000u)
#define USART1_DR    CM4_REG(0x40011004u)
#define USART1_BRR   CM4_REG(0x40011008u)
#define USART1_CR1   CM4_REG(0x4001100Cu)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE  (1u << 7)
#define USART_CR1_RE  (1u << 2)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TE  (1u << 3)
#define USART_CR1_UE  (1u << 13)

/* TIM2: 32-bit general-purpose timer. */
#define TIM2_CR1     CM4_REG(0x40000000u)
#define TIM2_EGR     CM4_REG(0x40000014u)
#define TIM2_CNT     CM4_REG(0x40000024u)
#define TIM2_PSC     CM4_REG(0x40000028u)
#define TIM2_ARR     CM4_REG(0x4000002Cu)

#endif /* STM32F405_REGS_H */
