/*
 * emu_cluster.c - the GAP8 cluster, emulated on the one hart: a cluster task runs on core 0
 * (the master), and pi_cl_team_fork runs the entry on every core, one core after another, each
 * with its own core id and its own stack (the task's stack sizes, in L1 as the SDK puts them).
 * pi_cl_team_barrier switches to the next core (emu_switch.S); once every core has reached it,
 * they all go on. Every core keeps its own instruction clock, so its perf counters show what it
 * would have counted on the chip (at one instruction per cycle, a core waiting at a barrier
 * counts nothing, as its clock is gated); the FC's clock is advanced by the longest core of each
 * stretch between barriers only, as if the cores had run in parallel.
 */
#include <stdint.h>

#include "pmsis.h"
#include "emu_virt.h"

/* L1 kept for the cluster stacks: the master's and 7 slaves' (the task asks for the sizes; the
 * port's 2 KB + 7 x 1 KB fit exactly, a task asking for more stops the run with a message). */
#ifndef EMU_CLUSTER_STACK_POOL
#define EMU_CLUSTER_STACK_POOL 9216u
#endif
#define EMU_DEFAULT_STACK 1024u /* a task that names no stack size */
#define STACK_PAINT 0xA5A5A5A5u
#define STACK_GUARD_WORDS 16u /* the bottom words of each stack: overwritten = an overflow */

void emu_switch(void **save_sp, void *load_sp);

enum { CORE_RUNNING, CORE_AT_BARRIER, CORE_DONE };

typedef struct {
    void *sp;         /* saved context while the core does not run */
    uint32_t *bottom; /* lowest word of its stack */
    uint32_t words;   /* stack size in words */
    int state;
} emu_core_t;

static uint32_t stack_pool[EMU_CLUSTER_STACK_POOL / 4] __attribute__((section(".bss_l1"), aligned(16)));
static emu_core_t cores[ARCHI_CLUSTER_NB_PE];
static void *scheduler_sp;
static void (*team_entry)(void *arg);
static void *team_arg;
static uint32_t master_stack = EMU_DEFAULT_STACK, slave_stack = EMU_DEFAULT_STACK, stacks_laid = 0;

int emu_current_core = EMU_FC;
uint64_t emu_parallel_savings;

static uint64_t core_clock[ARCHI_CLUSTER_NB_PE]; /* own instructions, finished segments */
static uint64_t segment_start;                   /* instret when the current core resumed */
static int team_size;                            /* cores of the running fork, 0 outside */

/* The instruction clock of `core` (EMU_FC included), as read by pi_perf. */
uint64_t emu_core_clock(int core);
uint64_t emu_core_clock(int core)
{
    if (core == EMU_FC)
        return emu_instret() - emu_parallel_savings;
    uint64_t clock = core_clock[core];
    if (core == emu_current_core)
        clock += emu_instret() - segment_start;
    return clock;
}

static void switch_to(int core)
{
    uint64_t now = emu_instret();
    if (emu_current_core != EMU_FC)
        core_clock[emu_current_core] += now - segment_start;
    emu_current_core = core;
    segment_start = now;
}

void pi_cluster_conf_init(struct pi_cluster_conf *conf) { conf->id = 0; }

int pi_cluster_open(struct pi_device *device)
{
    (void)device;
    return 0;
}

int pi_cluster_close(struct pi_device *device)
{
    (void)device;
    return 0;
}

struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *arg),
                                        void *arg)
{
    task->entry = entry;
    task->arg = arg;
    task->stacks = 0;
    task->stack_size = 0;
    task->slave_stack_size = 0;
    task->nb_cores = 0;
    return task;
}

int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task)
{
    (void)device;
    if (emu_current_core != EMU_FC)
        emu_fatal("pi_cluster_send_task_to_cl called from the cluster");
    master_stack = task->stack_size ? task->stack_size : EMU_DEFAULT_STACK;
    slave_stack = task->slave_stack_size ? task->slave_stack_size : master_stack;
    switch_to(0);
    task->entry(task->arg);
    switch_to(EMU_FC);
    return 0;
}

/* Lay the n cores' stacks out in the pool (master first) and paint them, once per layout: the
 * paint is what an overflow overwrites. */
static void lay_stacks(int n)
{
    const uint32_t layout = master_stack ^ (slave_stack << 16) ^ ((uint32_t)n << 28);
    uint32_t used = 0, i;
    if (stacks_laid == layout)
        return;
    for (int core = 0; core < n; core++) {
        uint32_t bytes = ((core == 0 ? master_stack : slave_stack) + 15u) & ~15u;
        if (used + bytes > sizeof(stack_pool))
            emu_fatal("cluster stacks larger than EMU_CLUSTER_STACK_POOL");
        cores[core].bottom = stack_pool + used / 4;
        cores[core].words = bytes / 4;
        used += bytes;
    }
    for (i = 0; i < used / 4; i++)
        stack_pool[i] = STACK_PAINT;
    stacks_laid = layout;
}

static void check_stack(int core)
{
    for (uint32_t i = 0; i < STACK_GUARD_WORDS; i++)
        if (cores[core].bottom[i] != STACK_PAINT)
            emu_fatal("a cluster core overflowed its stack (task stack_size / slave_stack_size)");
}

/* Where a core's context starts: it runs the team's entry, then hands back for good. */
static void core_start(void)
{
    team_entry(team_arg);
    cores[emu_current_core].state = CORE_DONE;
    emu_switch(&cores[emu_current_core].sp, scheduler_sp);
    emu_fatal("a finished cluster core was resumed");
}

void pi_cl_team_fork(int nb_cores, void (*entry)(void *arg), void *arg)
{
    if (emu_current_core != 0 || team_size)
        emu_fatal("pi_cl_team_fork called outside the cluster master");
    int n = nb_cores <= 0 || nb_cores > ARCHI_CLUSTER_NB_PE ? ARCHI_CLUSTER_NB_PE : nb_cores;
    const uint64_t fork_start = emu_instret();
    uint64_t critical = 0; /* the longest core of every stretch, summed */
    lay_stacks(n);
    for (int core = 0; core < n; core++) {
        /* a fresh context: emu_switch's frame (13 saved registers, 64 bytes) with ra = core_start */
        uint32_t *frame = cores[core].bottom + cores[core].words - 16;
        for (int i = 0; i < 16; i++)
            frame[i] = 0;
        frame[0] = (uint32_t)(uintptr_t)core_start;
        cores[core].sp = frame;
        cores[core].state = CORE_RUNNING;
    }
    team_size = n;
    team_entry = entry;
    team_arg = arg;
    for (;;) { /* one stretch between barriers: run every core up to its next barrier or its end */
        uint64_t longest = 0;
        int waiting = 0;
        for (int core = 0; core < n; core++) {
            switch_to(core);
            const uint64_t start = segment_start;
            emu_switch(&scheduler_sp, cores[core].sp);
            const uint64_t spent = emu_instret() - start;
            if (spent > longest)
                longest = spent;
            check_stack(core);
            waiting += cores[core].state == CORE_AT_BARRIER;
        }
        critical += longest;
        if (waiting == 0)
            break;
        if (waiting != n) /* on the chip the waiting cores would hang */
            emu_fatal("pi_cl_team_barrier reached by some cores of the fork only");
        for (int core = 0; core < n; core++)
            cores[core].state = CORE_RUNNING;
    }
    switch_to(0);
    team_size = 0;
    /* The FC's clock advances by the critical path alone: the other cores' instructions ran in
     * parallel on the chip, and this scheduler's own (stack checks, switching between cores)
     * are the emulation's, not the chip's. */
    emu_parallel_savings += emu_instret() - fork_start - critical;
}

void pi_cl_team_barrier(void)
{
    if (team_size <= 1) /* outside a fork, or a team of one: nobody to wait for */
        return;
    cores[emu_current_core].state = CORE_AT_BARRIER;
    emu_switch(&cores[emu_current_core].sp, scheduler_sp);
}

int pi_cl_team_nb_cores(void) { return team_size ? team_size : ARCHI_CLUSTER_NB_PE; }

int pi_core_id(void) { return emu_current_core == EMU_FC ? 0 : emu_current_core; }

int pi_cluster_id(void) { return emu_current_core == EMU_FC ? ARCHI_FC_CID : 0; }
