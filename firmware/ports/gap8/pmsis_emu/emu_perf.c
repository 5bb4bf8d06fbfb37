/*
 * emu_perf.c - pi_perf_* of the emulation: per-core counters on the instruction clocks of
 * emu_cluster.c. PI_PERF_CYCLES and PI_PERF_ACTIVE_CYCLES read the core's clock (on the FC the
 * parallel-adjusted one), PI_PERF_INSTR the instructions the core itself retired; the other
 * events are not modelled and read 0.
 */
#include <stdint.h>

#include "pmsis.h"
#include "emu_virt.h"

uint64_t emu_core_clock(int core);

typedef struct {
    uint64_t time_acc, instr_acc;     /* totals of finished start..stop spans */
    uint64_t time_start, instr_start; /* values at pi_perf_start */
    int running;
} perf_state_t;

static perf_state_t perf[ARCHI_CLUSTER_NB_PE + 1];

static uint64_t instr_clock(int core)
{
    return core == EMU_FC ? emu_instret() : emu_core_clock(core);
}

void pi_perf_conf(unsigned events) { (void)events; }

void pi_perf_reset(void)
{
    perf_state_t *p = &perf[emu_current_core];
    p->time_acc = p->instr_acc = 0;
    p->time_start = emu_core_clock(emu_current_core);
    p->instr_start = instr_clock(emu_current_core);
}

void pi_perf_start(void)
{
    perf_state_t *p = &perf[emu_current_core];
    p->time_start = emu_core_clock(emu_current_core);
    p->instr_start = instr_clock(emu_current_core);
    p->running = 1;
}

void pi_perf_stop(void)
{
    perf_state_t *p = &perf[emu_current_core];
    if (!p->running)
        return;
    p->time_acc += emu_core_clock(emu_current_core) - p->time_start;
    p->instr_acc += instr_clock(emu_current_core) - p->instr_start;
    p->running = 0;
}

unsigned int pi_perf_read(int id)
{
    const perf_state_t *p = &perf[emu_current_core];
    uint64_t time = p->time_acc, instr = p->instr_acc;
    if (p->running) {
        time += emu_core_clock(emu_current_core) - p->time_start;
        instr += instr_clock(emu_current_core) - p->instr_start;
    }
    if (id == PI_PERF_CYCLES || id == PI_PERF_ACTIVE_CYCLES)
        return (unsigned int)time;
    if (id == PI_PERF_INSTR)
        return (unsigned int)instr;
    return 0;
}
