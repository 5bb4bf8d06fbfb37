/*
 * cm4_fork.c - ea_hal_fork on a single-core Cortex-M4: the one core computes every slice.
 */
#include "ea_hal.h"

static uint64_t last_fork_cycles;

void ea_hal_fork(void (*fn)(const ea_ctx_t *ctx, void *arg), void *arg)
{
    const ea_ctx_t ctx = {.core_id = 0, .num_cores = 1, .buf = 0, .buf_size = 0, .barrier = 0};
    uint64_t start = ea_hal_cycles();
    fn(&ctx, arg);
    last_fork_cycles = ea_hal_cycles() - start;
}

uint32_t ea_hal_num_cores(void) { return 1; }

uint64_t ea_hal_core_cycles(uint32_t core) { return core == 0 ? last_fork_cycles : 0; }
