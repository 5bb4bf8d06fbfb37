/*
 * cm4_port.h - what the Cortex-M4 common code (startup, exit, fork, cycle extension) and the
 * board files (stm32_*.c, ports/mps2/mps2_*.c) tell each other.
 */
#ifndef CM4_PORT_H
#define CM4_PORT_H

#include <stdint.h>

/* Set by cm4_detect_emulator(): 1 when the DWT cycle counter does not run, which is how QEMU
 * (7.2) behaves; real Cortex-M4 silicon always has a running DWT after TRCENA. The ports use it
 * to skip the clock tree (QEMU does not model RCC) and to choose the cycle source. */
extern int cm4_on_emulator;
int cm4_detect_emulator(void);

/* DWT cycle counter of real silicon (started by cm4_detect_emulator). */
static inline uint32_t cm4_dwt_read(void) { return *(volatile uint32_t *)0xE0001004u; }

/* 64-bit extension of a free-running 32-bit up-counter, done on every read (no interrupt, so
 * no handler instructions can land inside a measured interval). An interval between two reads
 * is exact while it is shorter than one counter period (2^32 cycles); a longer gap, which only
 * happens while the firmware idles for the host, loses whole periods (the count stays
 * monotonic). */
typedef struct {
    uint32_t last;
    uint32_t high;
} cm4_counter64_t;

static inline uint64_t cm4_counter64_update(cm4_counter64_t *c, uint32_t now)
{
    if (now < c->last)
        c->high++;
    c->last = now;
    return ((uint64_t)c->high << 32) | now;
}

/* Board hooks, implemented once per board. */
void cm4_board_fault_puts(const char *s); /* best-effort text output from a fault handler */

#endif /* CM4_PORT_H */
