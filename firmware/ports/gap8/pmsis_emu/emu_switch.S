/*
 * emu_switch.S - the one context switch of the cluster emulation (emu_cluster.c), so a core can
 * stop at pi_cl_team_barrier and the next core run on its own stack, as the cores would wait
 * for each other on the chip.
 *
 *   void emu_switch(void **save_sp, void *load_sp)
 *
 * pushes ra and s0-s11 (what the ILP32 calling convention says a callee keeps) on the running
 * stack, stores sp in *save_sp, then pops the same frame from load_sp and returns into it. A new
 * context is a frame whose ra is where it starts (emu_cluster.c builds it).
 */
    .section .text
    .globl emu_switch
    .align 2
emu_switch:
    addi sp, sp, -64
    sw ra, 0(sp)
    sw s0, 4(sp)
    sw s1, 8(sp)
    sw s2, 12(sp)
    sw s3, 16(sp)
    sw s4, 20(sp)
    sw s5, 24(sp)
    sw s6, 28(sp)
    sw s7, 32(sp)
    sw s8, 36(sp)
    sw s9, 40(sp)
    sw s10, 44(sp)
    sw s11, 48(sp)
    sw sp, 0(a0)
    mv sp, a1
    lw ra, 0(sp)
    lw s0, 4(sp)
    lw s1, 8(sp)
    lw s2, 12(sp)
    lw s3, 16(sp)
    lw s4, 20(sp)
    lw s5, 24(sp)
    lw s6, 28(sp)
    lw s7, 32(sp)
    lw s8, 36(sp)
    lw s9, 40(sp)
    lw s10, 44(sp)
    lw s11, 48(sp)
    addi sp, sp, 64
    ret
