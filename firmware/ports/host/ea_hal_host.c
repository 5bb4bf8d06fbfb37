/*
 * ea_hal_host.c - ea_hal.h for a native program. Cycles are CLOCK_MONOTONIC nanoseconds
 * (PORT_CPU_HZ = 10^9); a multi-core export runs its cores one after the other, so the host
 * build checks the parallel split of the kernels, not their speed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <time.h>

#include "ea_hal.h"
#include "ea_link_host.h"
#include "ea_models.h"

static uint64_t core_cycles[EA_NUM_CORES];

void ea_hal_init(void)
{
}

int ea_hal_getc(void)
{
    return ea_link_getc();
}

void ea_hal_write(const void *buf, uint32_t n)
{
    ea_link_write(buf, n);
}

uint64_t ea_hal_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ea_hal_exit(int code)
{
    ea_link_flush();
    exit(code);
}

void ea_hal_fork(void (*fn)(const ea_ctx_t *ctx, void *arg), void *arg)
{
    /* The cores run one after another: no barrier (a kernel that would reduce across cores
     * splits its outputs instead). */
    for (int32_t core = 0; core < EA_NUM_CORES; core++) {
        ea_ctx_t ctx = {.core_id = core, .num_cores = EA_NUM_CORES, .buf = 0, .buf_size = 0, .barrier = 0};
        uint64_t t0 = ea_hal_cycles();
        fn(&ctx, arg);
        core_cycles[core] = ea_hal_cycles() - t0;
    }
}

uint32_t ea_hal_num_cores(void)
{
    return EA_NUM_CORES;
}

uint64_t ea_hal_core_cycles(uint32_t core)
{
    return core < EA_NUM_CORES ? core_cycles[core] : 0;
}
