/*
 * ea_hal_gap8.c - the edgeadapt HAL on GAP8, written against PMSIS only, so the same file builds
 * with the GAP SDK (gvsoc or the board) and with our emulation layer (pmsis_emu/, QEMU).
 *
 * - Host link: pi_uart on UART0 (115200 8N1 unless EA_UART_BAUD says otherwise).
 * - ea_hal_fork: the FC sends one cluster task whose master forks the layer over the team with
 *   pi_cl_team_fork; each core reads its own ctx.core_id and computes its slice of the rows.
 *   Each core measures its slice with its own perf counter (PI_PERF_ACTIVE_CYCLES: the chip has
 *   one counter per core) for ea_hal_core_cycles.
 * - ea_hal_cycles: the FC's PI_PERF_CYCLES, 32 bits extended to 64 on read.
 */
#include <stdint.h>

#include "pmsis.h"
#include "ea_hal.h"

#ifndef EA_PORT_NUM_CORES
#define EA_PORT_NUM_CORES 8
#endif
#ifndef EA_UART_BAUD
#define EA_UART_BAUD 115200u
#endif
/* Cluster stacks (bytes): the master runs the layer's slice like every other core. */
#ifndef EA_GAP8_MASTER_STACK
#define EA_GAP8_MASTER_STACK 2048u
#endif
#ifndef EA_GAP8_SLAVE_STACK
#define EA_GAP8_SLAVE_STACK 1024u
#endif

typedef struct {
    void (*fn)(const ea_ctx_t *ctx, void *arg);
    void *arg;
} fork_job_t;

static struct pi_device uart_dev;
static struct pi_device cluster_dev;
static struct pi_uart_conf uart_conf;
static struct pi_cluster_conf cluster_conf;
static uint32_t core_cycles[EA_PORT_NUM_CORES];
static uint32_t cycles_last, cycles_high;

void ea_hal_init(void)
{
    pi_uart_conf_init(&uart_conf);
    uart_conf.baudrate_bps = EA_UART_BAUD;
    uart_conf.enable_rx = 1;
    uart_conf.enable_tx = 1;
    pi_open_from_conf(&uart_dev, &uart_conf);
    if (pi_uart_open(&uart_dev))
        pmsis_exit(-1);

    pi_cluster_conf_init(&cluster_conf);
    cluster_conf.id = 0;
    pi_open_from_conf(&cluster_dev, &cluster_conf);
    if (pi_cluster_open(&cluster_dev))
        pmsis_exit(-2);

    pi_perf_conf(1u << PI_PERF_CYCLES);
    pi_perf_reset();
    pi_perf_start();
    cycles_last = pi_perf_read(PI_PERF_CYCLES);
    cycles_high = 0;
}

int ea_hal_getc(void)
{
    uint8_t byte;
    pi_uart_read_byte(&uart_dev, &byte);
    return byte;
}

void ea_hal_write(const void *buf, uint32_t n)
{
    if (n)
        pi_uart_write(&uart_dev, (void *)buf, n);
}

uint64_t ea_hal_cycles(void)
{
    uint32_t now = pi_perf_read(PI_PERF_CYCLES);
    if (now < cycles_last)
        cycles_high++;
    cycles_last = now;
    return ((uint64_t)cycles_high << 32) | now;
}

void ea_hal_exit(int code) { pmsis_exit(code); }

/* Runs on every core of the team. */
static void core_entry(void *arg)
{
    const fork_job_t *job = (const fork_job_t *)arg;
    const ea_ctx_t ctx = {
        .core_id = pi_core_id(),
        .num_cores = pi_cl_team_nb_cores(),
        .buf = 0,
        .buf_size = 0,
        .barrier = pi_cl_team_barrier, /* the fully connected K split reduces across cores */
    };
    pi_perf_conf(1u << PI_PERF_ACTIVE_CYCLES);
    pi_perf_reset();
    pi_perf_start();
    job->fn(&ctx, job->arg);
    pi_perf_stop();
    if (ctx.core_id < EA_PORT_NUM_CORES)
        core_cycles[ctx.core_id] = pi_perf_read(PI_PERF_ACTIVE_CYCLES);
}

/* The cluster task: its master forks the layer over the team. */
static void cluster_entry(void *arg) { pi_cl_team_fork(EA_PORT_NUM_CORES, core_entry, arg); }

void ea_hal_fork(void (*fn)(const ea_ctx_t *ctx, void *arg), void *arg)
{
    fork_job_t job = {fn, arg};
    struct pi_cluster_task task;
    pi_cluster_task(&task, cluster_entry, &job);
    task.stack_size = EA_GAP8_MASTER_STACK;
    task.slave_stack_size = EA_GAP8_SLAVE_STACK;
    pi_cluster_send_task_to_cl(&cluster_dev, &task);
}

uint32_t ea_hal_num_cores(void) { return EA_PORT_NUM_CORES; }

uint64_t ea_hal_core_cycles(uint32_t core)
{
    return core < EA_PORT_NUM_CORES ? core_cycles[core] : 0;
}
