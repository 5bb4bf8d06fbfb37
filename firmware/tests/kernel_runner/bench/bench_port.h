/*
 * bench_port.h - the three services kernel_bench.c needs from a bare-metal emulated board.
 * bench_cm4.c (QEMU mps2-an386) and bench_rv32.c (QEMU virt, RV32IMC) implement them.
 */
#ifndef BENCH_PORT_H
#define BENCH_PORT_H

#include <stdint.h>

uint64_t bench_instructions(void); /* instructions retired so far (QEMU -icount shift=0) */
void bench_puts(const char *s);    /* text to the host (semihosting) */
void bench_exit(int code);         /* end the emulation with an exit code */

#endif /* BENCH_PORT_H */
