/*
 * cm4_startup.c - vector table, reset handler and fault report for the Cortex-M4 boards.
 *
 * The reset handler picks the stack, copies .data from flash, zeroes .bss, enables the FPU (the
 * hard-float ABI needs it even though the inference path has no float), runs the application's
 * main() and ends with ea_hal_exit(main's return value). Interrupts are masked (PRIMASK, set by
 * the UART init): the UART's RX interrupt only wakes the core from WFI, no handler ever runs.
 */
#include <stdint.h>

#include "ea_hal.h"
#include "cm4_port.h"
#include "cm4_regs.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
void cm4_reset_c(void);
int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void Fault_Handler(void);
void cm4_fault_report(const uint32_t *frame, uint32_t exception);

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

/* The 16 system exceptions; no peripheral handler ever runs (PRIMASK), so none follow. */
__attribute__((section(".isr_vector"), used)) void (*const cm4_vectors[16])(void) = {
    (void (*)(void))&_estack,
    Reset_Handler,
    NMI_Handler,
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    SVC_Handler,
    Default_Handler, /* DebugMon */
    0,
    PendSV_Handler,
    SysTick_Handler,
};

/*
 * The stack pointer is chosen before anything touches memory: on silicon it is the top of
 * _estack (CCM on the STM32F405), under QEMU the top of _estack_emulator (the board script says
 * where; QEMU's netduinoplus2 has no CCM). The test is the DWT cycle counter, which runs on
 * every Cortex-M4 chip and reads 0 in QEMU 7.2; it uses registers only.
 */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile(
        "ldr r0, =0xE000EDFC\n\t"   /* DEMCR |= TRCENA */
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #0x01000000\n\t"
        "str r1, [r0]\n\t"
        "ldr r0, =0xE0001000\n\t"   /* DWT_CTRL |= CYCCNTENA */
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #1\n\t"
        "str r1, [r0]\n\t"
        "ldr r1, [r0, #4]\n\t"      /* two CYCCNT reads a few cycles apart */
        "nop\n\tnop\n\tnop\n\tnop\n\t"
        "ldr r2, [r0, #4]\n\t"
        "ldr r3, =_estack\n\t"
        "cmp r1, r2\n\t"
        "it eq\n\t"
        "ldreq r3, =_estack_emulator\n\t"
        "mov sp, r3\n\t"
        "b cm4_reset_c\n\t"
        ".ltorg\n\t");
}

/* Loops written out by hand: no libc call may run before .data and .bss exist. */
__attribute__((optimize("no-tree-loop-distribute-patterns"), noreturn, used))
void cm4_reset_c(void)
{
    const uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    CM4_CPACR |= 0xFu << 20; /* CP10 and CP11 full access */
    __asm volatile("dsb\n\tisb" ::: "memory");
    ea_hal_exit(main());
    for (;;) {
    }
}

void Default_Handler(void)
{
    cm4_board_fault_puts("\r\nEA FAULT: unexpected interrupt\r\n");
    ea_hal_exit(127);
}

/* Hand the stacked frame (r0-r3, r12, lr, pc, xpsr) and the exception number to C. */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mrs r1, ipsr\n\t"
        "b cm4_fault_report\n\t");
}

static char *put_hex(char *p, const char *label, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    while (*label)
        *p++ = *label++;
    for (int shift = 28; shift >= 0; shift -= 4)
        *p++ = digits[(value >> shift) & 0xFu];
    return p;
}

/* One line a human or the harness can read, then exit with 128 + the exception number. */
void cm4_fault_report(const uint32_t *frame, uint32_t exception)
{
    char line[128];
    char *p = line;
    p = put_hex(p, "\r\nEA FAULT exc=", exception & 0x1FFu);
    p = put_hex(p, " pc=", frame[6]);
    p = put_hex(p, " lr=", frame[5]);
    p = put_hex(p, " cfsr=", CM4_CFSR);
    p = put_hex(p, " bfar=", CM4_BFAR);
    *p++ = '\r';
    *p++ = '\n';
    *p = '\0';
    cm4_board_fault_puts(line);
    ea_hal_exit(128 + (int)(exception & 0x7Fu));
}
