/*
 * emu_start.S - reset and trap entry of the GAP8 emulation on QEMU riscv32 virt (-bios none:
 * the hart starts in M mode at 0x80000000, where QEMU has loaded every section of the ELF).
 */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, _estack
    la t0, emu_trap_vector
    csrw mtvec, t0
    la tp, __tls_base            /* picolibc keeps errno in thread-local storage */

    la t0, __tbss_start          /* zero .tbss and .bss (word aligned by the linker script) */
    la t1, __tbss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  la t0, __bss_start
    la t1, __bss_end
3:  bgeu t0, t1, 4f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 3b

4:  call main
    call pmsis_exit              /* a0 = main's return value */

    .align 4
emu_trap_vector:
    la sp, _estack               /* the faulting stack may be the problem */
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call emu_trap
5:  j 5b
