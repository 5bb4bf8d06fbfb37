/*
 * pmsis.h - the subset of the GAP SDK's PMSIS API that edgeadapt's GAP8 port uses, implemented
 * for QEMU's riscv32 `virt` machine (docs/targets.md, "GAP8 emulation").
 *
 * With the GAP SDK installed, ports/gap8/ea_hal_gap8.c compiles against the SDK's own pmsis.h
 * instead; this header keeps the SDK's names, types and calling conventions so the HAL source is
 * the same in both builds. What is emulated:
 *   - the fabric controller (FC) is hart 0; the cluster's 8 cores are run one after another on
 *     the same hart by pi_cl_team_fork, each with its own core id, its own perf counters and its
 *     own stack (the task's sizes, in L1); pi_cl_team_barrier switches to the next core until
 *     every core has reached it;
 *   - pi_perf counters count retired instructions (minstret under -icount shift=0), not cycles;
 *     on the FC, PI_PERF_CYCLES advances as if the cores of every fork had run in parallel
 *     (each stretch between barriers costs its longest core), PI_PERF_INSTR counts everything
 *     the hart retired;
 *   - the UART is the virt machine's 16550; pmsis_exit ends QEMU through the test finisher.
 * Not emulated: L1/L2 access timing, DMA, Xpulp instructions, the event unit (a barrier costs the
 * emulation's context switch, not the chip's hardware barrier).
 */
#ifndef PMSIS_EMU_PMSIS_H
#define PMSIS_EMU_PMSIS_H

#include <stddef.h>
#include <stdint.h>

#define PMSIS_EMU 1
#define ARCHI_CLUSTER_NB_PE 8   /* GAP8 cluster cores */
#define ARCHI_FC_CID 32         /* cluster id the FC reports */

/* Memory placement attributes (section names as in the GAP SDK). */
#define PI_L2 __attribute__((section(".l2_data")))
#define PI_CL_L1 __attribute__((section(".data_l1")))
#define PI_L1 PI_CL_L1
#define PI_FC_L1 __attribute__((section(".data_fc")))

/* ---- devices ---- */
struct pi_device {
    void *api;
    void *config;
    void *data;
};
typedef struct pi_device pi_device_t;

void pi_open_from_conf(struct pi_device *device, void *conf);

/* ---- system ---- */
int pmsis_kickoff(void *arg);   /* runs ((void (*)(void))arg)() as the main task */
void pmsis_exit(int err) __attribute__((noreturn));

/* ---- cluster ---- */
struct pi_cluster_conf {
    int id;
};

struct pi_cluster_task {
    void (*entry)(void *arg);
    void *arg;
    void *stacks;
    uint32_t stack_size;
    uint32_t slave_stack_size;
    int nb_cores;
};

void pi_cluster_conf_init(struct pi_cluster_conf *conf);
int pi_cluster_open(struct pi_device *device);
int pi_cluster_close(struct pi_device *device);
struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *arg),
                                        void *arg);
int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task);

void pi_cl_team_fork(int nb_cores, void (*entry)(void *arg), void *arg);
void pi_cl_team_barrier(void);
int pi_cl_team_nb_cores(void);
static inline void pi_cl_team_critical_enter(void) {}
static inline void pi_cl_team_critical_exit(void) {}

int pi_core_id(void);
int pi_cluster_id(void);
static inline int pi_nb_cluster_cores(void) { return ARCHI_CLUSTER_NB_PE; }
static inline int pi_is_fc(void) { return pi_cluster_id() == ARCHI_FC_CID; }

/* ---- performance counters (event numbers as on GAP8) ---- */
typedef enum {
    PI_PERF_ACTIVE_CYCLES = 0,
    PI_PERF_INSTR = 1,
    PI_PERF_LD_STALL = 2,
    PI_PERF_JR_STALL = 3,
    PI_PERF_IMISS = 4,
    PI_PERF_LD = 5,
    PI_PERF_ST = 6,
    PI_PERF_JUMP = 7,
    PI_PERF_BRANCH = 8,
    PI_PERF_BTAKEN = 9,
    PI_PERF_RVC = 10,
    PI_PERF_LD_EXT = 11,
    PI_PERF_ST_EXT = 12,
    PI_PERF_LD_EXT_CYC = 13,
    PI_PERF_ST_EXT_CYC = 14,
    PI_PERF_TCDM_CONT = 15,
    PI_PERF_CYCLES = 17,
} pi_perf_event_e;

void pi_perf_conf(unsigned events);
void pi_perf_reset(void);
void pi_perf_start(void);
void pi_perf_stop(void);
unsigned int pi_perf_read(int id);

/* ---- UART ---- */
struct pi_uart_conf {
    uint32_t src_clock_Hz;
    uint32_t baudrate_bps;
    uint32_t stop_bit_count;
    uint8_t parity_mode;
    uint8_t uart_id;
    uint8_t enable_rx;
    uint8_t enable_tx;
};

void pi_uart_conf_init(struct pi_uart_conf *conf);
int pi_uart_open(struct pi_device *device);
void pi_uart_close(struct pi_device *device);
int pi_uart_write(struct pi_device *device, void *buffer, uint32_t size);
int pi_uart_read(struct pi_device *device, void *buffer, uint32_t size);
int pi_uart_write_byte(struct pi_device *device, uint8_t *byte);
int pi_uart_read_byte(struct pi_device *device, uint8_t *byte);

#endif /* PMSIS_EMU_PMSIS_H */
