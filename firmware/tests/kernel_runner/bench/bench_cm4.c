/*
 * bench_cm4.c - bare-metal support for kernel_bench on QEMU mps2-an386 (Cortex-M4).
 * Instructions: QEMU leaves the DWT counter at 0, so SysTick on the 25 MHz CPU clock is used;
 * with -icount shift=0 one tick is 40 instructions (resolution 40). Text and exit: semihosting.
 */
#include <stdint.h>

#include "bench_port.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CPACR (*(volatile uint32_t *)0xE000ED88u)
#define INSNS_PER_TICK 40u

void bench_main(void);
extern uint32_t __stack_top;

static uint32_t tick_last;
static uint64_t tick_total;

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

uint64_t bench_instructions(void)
{
    uint32_t now = 0x00FFFFFFu - (SYST_CVR & 0x00FFFFFFu);
    tick_total += (now - tick_last) & 0x00FFFFFFu; /* SysTick is 24 bits: read it often enough */
    tick_last = now;
    return tick_total * INSNS_PER_TICK;
}

void bench_puts(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void bench_exit(int code)
{
    /* SYS_EXIT takes the reason itself on 32-bit targets; any other reason means failure */
    semihost(0x18, (const void *)(uintptr_t)(code == 0 ? 0x20026u : 0x20023u));
    for (;;) {
    }
}

void *memset(void *dst, int c, unsigned int n)
{
    volatile uint8_t *p = dst; /* volatile: keep gcc from turning this loop into a memset call */
    while (n--)
        *p++ = (uint8_t)c;
    return dst;
}

void *memcpy(void *dst, const void *src, unsigned int n)
{
    volatile uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

static void reset(void)
{
    CPACR |= 0xFu << 20; /* the FPU is never used, but hard-float code may touch its registers */
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enable, CPU clock, no interrupt */
    tick_last = 0x00FFFFFFu - (SYST_CVR & 0x00FFFFFFu);
    bench_main();
    bench_exit(1);
}

__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {&__stack_top, (const void *)reset};
