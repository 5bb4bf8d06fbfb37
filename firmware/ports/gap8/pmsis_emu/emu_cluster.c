/*
 * emu_cluster.c - the GAP8 cluster, emulated on the one hart: a cluster task runs on core 0
 * (the master), and pi_cl_team_fork runs the entry once per core, one core after another, each
 * with its own core id. Every core keeps its own instruction clock, so its perf counters show
 * what it would have counted on the chip (at one instruction per cycle); the FC's clock is
 * advanced by the longest core of each fork only, as if the cores had run in parallel.
 */
#include <stdint.h>

#include "pmsis.h"
#include "emu_virt.h"

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
    switch_to(0);
    task->entry(task->arg);
    switch_to(EMU_FC);
    return 0;
}

void pi_cl_team_fork(int nb_cores, void (*entry)(void *arg), void *arg)
{
    if (emu_current_core != 0 || team_size)
        emu_fatal("pi_cl_team_fork called outside the cluster master");
    int n = nb_cores <= 0 || nb_cores > ARCHI_CLUSTER_NB_PE ? ARCHI_CLUSTER_NB_PE : nb_cores;
    uint64_t longest = 0, total = 0;
    team_size = n;
    for (int core = 0; core < n; core++) {
        switch_to(core);
        uint64_t start = segment_start;
        entry(arg);
        uint64_t spent = emu_instret() - start;
        total += spent;
        if (spent > longest)
            longest = spent;
    }
    switch_to(0);
    team_size = 0;
    emu_parallel_savings += total - longest;
}

void pi_cl_team_barrier(void)
{
    if (team_size > 1)
        emu_fatal("pi_cl_team_barrier inside a multi-core fork (cores run one after another)");
}

int pi_cl_team_nb_cores(void) { return team_size ? team_size : ARCHI_CLUSTER_NB_PE; }

int pi_core_id(void) { return emu_current_core == EMU_FC ? 0 : emu_current_core; }

int pi_cluster_id(void) { return emu_current_core == EMU_FC ? ARCHI_FC_CID : 0; }
