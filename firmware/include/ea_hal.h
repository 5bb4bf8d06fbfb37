/*
 * ea_hal.h - the per-board hardware abstraction layer (the "th_" layer of MLPerf Tiny).
 * Porting edgeadapt to a new board means implementing exactly these functions in
 * firmware/ports/<board>/; the protocol core, policy, runtime and kernels never touch hardware.
 */
#ifndef EA_HAL_H
#define EA_HAL_H

#include "ea_types.h"

void ea_hal_init(void);                        /* clocks, UART, cycle counter */
int ea_hal_getc(void);                         /* blocking read of one byte from the host link */
void ea_hal_write(const void *buf, uint32_t n); /* write bytes to the host link */
uint64_t ea_hal_cycles(void);                  /* free-running cycle counter; under QEMU -icount
                                                  it counts instructions (see docs/targets.md) */
void ea_hal_exit(int code);                    /* semihosting / test finisher under QEMU */

/* Run fn(ctx, arg) on every compute core (one call with core_id 0 of 1 on single-core boards;
 * pi_cl_team_fork over the cluster on GAP8). Returns when all cores are done. */
void ea_hal_fork(void (*fn)(const ea_ctx_t *ctx, void *arg), void *arg);
uint32_t ea_hal_num_cores(void);
/* Cycles spent by `core` in the most recent ea_hal_fork (0 when the port cannot tell). */
uint64_t ea_hal_core_cycles(uint32_t core);

#endif /* EA_HAL_H */
