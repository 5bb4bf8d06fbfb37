/*
 * emu_system.c - PMSIS system calls of the emulation: kickoff, exit (QEMU's test finisher),
 * device opening, console output and the trap report.
 */
#include <stdint.h>

#include "pmsis.h"
#include "emu_virt.h"

void emu_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval);

int pmsis_kickoff(void *arg)
{
    ((void (*)(void))arg)();
    return 0;
}

void pmsis_exit(int err)
{
    /* 0x5555 = pass (status 0); (code << 16) | 0x3333 = fail with that status. */
    uint32_t code = (uint32_t)err & 0xFFFFu;
    VIRT_FINISHER = code ? (code << 16) | 0x3333u : 0x5555u;
    for (;;)
        __asm volatile("wfi");
}

void pi_open_from_conf(struct pi_device *device, void *conf)
{
    device->api = 0;
    device->config = conf;
    device->data = 0;
}

void emu_puts(const char *s)
{
    for (; *s; s++) {
        while (!(UART_LSR & UART_LSR_THRE)) {
        }
        UART_THR = (uint8_t)*s;
    }
}

void emu_fatal(const char *what)
{
    emu_puts("\r\nEA FAULT pmsis_emu: ");
    emu_puts(what);
    emu_puts("\r\n");
    pmsis_exit(126);
}

static char *put_hex(char *p, const char *label, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    while (*label)
        *p++ = *label++;
    for (int shift = 28; shift >= 0; shift -= 4)
        *p++ = digits[(value >> shift) & 0xFu];
    return p;
}

/* Called by the trap vector (emu_start.S): one line, then exit with 128 + the cause. */
void emu_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    char line[96];
    char *p = line;
    p = put_hex(p, "\r\nEA FAULT mcause=", mcause);
    p = put_hex(p, " mepc=", mepc);
    p = put_hex(p, " mtval=", mtval);
    *p++ = '\r';
    *p++ = '\n';
    *p = '\0';
    emu_puts(line);
    pmsis_exit(128 + (int)(mcause & 0x7Fu));
}
