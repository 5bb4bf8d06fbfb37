/*
 * bench_rv32.c - bare-metal support for kernel_bench on QEMU virt (RV32IMC, machine mode), the
 * stand-in for GAP8's RISC-V cores. Instructions: the instret counter (exact with -icount).
 * Text and exit: RISC-V semihosting (the slli/ebreak/srai sequence).
 */
#include <stdint.h>

#include "bench_port.h"

void bench_main(void);

__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        "  la sp, __stack_top\n"
        "  call bench_main\n"
        "1: j 1b\n"
        ".text\n"
        ".balign 16\n"
        "semihost_trap:\n"
        ".option push\n"
        ".option norvc\n"
        "  slli x0, x0, 0x1f\n"
        "  ebreak\n"
        "  srai x0, x0, 7\n"
        ".option pop\n"
        "  ret\n");

static int semihost(int op, const void *arg)
{
    register int a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile("call semihost_trap" : "+r"(a0) : "r"(a1) : "ra", "memory");
    return a0;
}

uint64_t bench_instructions(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile("rdinstreth %0" : "=r"(hi));
        __asm__ volatile("rdinstret %0" : "=r"(lo));
        __asm__ volatile("rdinstreth %0" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

void bench_puts(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void bench_exit(int code)
{
    semihost(0x18, (const void *)(uintptr_t)(code == 0 ? 0x20026u : 0x20023u)); /* SYS_EXIT */
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
