/*
 * hal_selftest.c - a HAL conformance firmware that uses nothing but ea_hal.h, so it builds for
 * every port (ports/stm32/selftest/selftest.mk) and lets the tests check a port before the
 * application exists: boot banner, link in both directions, streaming a binary frame,
 * deterministic cycle counts, the per-core split of ea_hal_fork and its barrier.
 *
 * Commands (one byte, then arguments; every reply is one text line):
 *   'p'                      -> "pong"
 *   'f' len:u32le bytes      -> "frame n=<len> crc=<crc32 hex> cycles=<receive cycles>"
 *   'e' len:u32le bytes      -> the same bytes back (byte-exact echo), then nothing else
 *   'b' reps:u8              -> "bench sum=<hex> cycles=<c> cores=<n> core0=<c0> ..."
 *   'r'                      -> "barrier sum=<hex> cycles=<c> core0=<c0> ...": work split in two
 *                               stretches by ctx->barrier (a reduction across cores)
 *   'x'                      -> reads an unmapped address: the port's fault report and exit
 *   'q' code:u8              -> ea_hal_exit(code)
 *
 * EA_SELFTEST_FLASH_BALLAST / EA_SELFTEST_RAM_BALLAST (bytes) add a const / a zeroed array, so
 * the tests can check that the linker scripts refuse what does not fit the chip.
 */
#include <stdint.h>

#include "ea_hal.h"

#define FRAME_MAX 16384u
#define BENCH_ROWS 96
#define BENCH_COLS 1024

static uint8_t frame[FRAME_MAX];
static int8_t bench_w[BENCH_ROWS * 8];  /* expanded on the fly: keeps RAM small on the STM32 */
static int32_t bench_out[BENCH_ROWS];

#ifdef EA_SELFTEST_FLASH_BALLAST
const uint8_t selftest_flash_ballast[EA_SELFTEST_FLASH_BALLAST] = {1};
#endif
#ifdef EA_SELFTEST_RAM_BALLAST
uint8_t selftest_ram_ballast[EA_SELFTEST_RAM_BALLAST];
#endif

/* An address no port maps: Cortex-M external RAM window, below RAM on RISC-V virt. */
#if defined(__riscv)
#define UNMAPPED_ADDRESS 0x00080000u
#else
#define UNMAPPED_ADDRESS 0x60000000u
#endif

/* ---- output helpers (no printf: the HAL is all this firmware may rely on) ---- */
static char line[256];
static uint32_t line_len;

static void put_str(const char *s)
{
    while (*s && line_len < sizeof(line) - 2)
        line[line_len++] = *s++;
}

static void put_u64(uint64_t v)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n && line_len < sizeof(line) - 2)
        line[line_len++] = tmp[--n];
}

static void put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4)
        if (line_len < sizeof(line) - 2)
            line[line_len++] = digits[(v >> shift) & 0xFu];
}

static void end_line(void)
{
    line[line_len++] = '\n';
    ea_hal_write(line, line_len);
    line_len = 0;
}

static uint32_t get_u32le(void)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)(ea_hal_getc() & 0xFF) << (8 * i);
    return v;
}

/* CRC-32 (IEEE 802.3, reflected, as Python's zlib.crc32), computed after the receive. */
static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Receive len bytes into frame[]: the loop does nothing per byte but store it. */
static uint32_t receive(uint32_t len)
{
    uint32_t n = len < FRAME_MAX ? len : FRAME_MAX;
    for (uint32_t i = 0; i < n; i++)
        frame[i] = (uint8_t)ea_hal_getc();
    for (uint32_t i = n; i < len; i++) /* drain what does not fit */
        (void)ea_hal_getc();
    return n;
}

/* ---- the benchmark: an int8 matrix-vector product, rows split over the cores ---- */
static void bench_layer(const ea_ctx_t *ctx, void *arg)
{
    const int8_t *x = (const int8_t *)arg;
    int32_t start, end;
    ea_split(BENCH_ROWS, ctx, &start, &end);
    for (int32_t r = start; r < end; r++) {
        const int8_t *w = &bench_w[r * 8];
        int32_t acc = 0;
        for (int32_t i = 0; i < BENCH_COLS; i++)
            acc += (int32_t)x[i] * (int32_t)w[i & 7] * (int32_t)((i >> 3) - 64);
        bench_out[r] = acc;
    }
}

static void bench(uint32_t reps)
{
    uint32_t seed = 12345u;
    for (uint32_t i = 0; i < sizeof(bench_w); i++) {
        seed = seed * 1664525u + 1013904223u;
        bench_w[i] = (int8_t)(seed >> 24);
    }
    for (uint32_t i = 0; i < BENCH_COLS; i++) {
        seed = seed * 1664525u + 1013904223u;
        frame[i] = (uint8_t)(seed >> 24);
    }
    uint32_t ncores = ea_hal_num_cores();
    uint64_t core_total[8] = {0};
    uint64_t t0 = ea_hal_cycles();
    for (uint32_t r = 0; r < reps; r++) {
        ea_hal_fork(bench_layer, frame);
        for (uint32_t c = 0; c < ncores && c < 8; c++)
            core_total[c] += ea_hal_core_cycles(c);
    }
    uint64_t cycles = ea_hal_cycles() - t0;
    uint32_t sum = 0;
    for (int r = 0; r < BENCH_ROWS; r++)
        sum = sum * 31u + (uint32_t)bench_out[r];
    put_str("bench sum=");
    put_hex32(sum);
    put_str(" cycles=");
    put_u64(cycles);
    put_str(" cores=");
    put_u64(ncores);
    for (uint32_t c = 0; c < ncores && c < 8; c++) {
        put_str(" core");
        put_u64(c);
        put_str("=");
        put_u64(core_total[c]);
    }
    end_line();
}

/* ---- the barrier: 8 slots, slot j works (j + 1) units, then, after ctx->barrier, every slot
 * reads all 8 first results and works (8 - j) units more. With a core per slot the stretches
 * are uneven in opposite ways: a barrier that waits makes the critical path the sum of both
 * stretches' longest (16 units), where one core's total is only 9; a barrier that did not wait
 * would let a slot read results not yet written (the sum tells). One core needs no barrier. ---- */
#define BARRIER_SLOTS 8
#define BARRIER_UNIT 2000u
static uint32_t barrier_first[BARRIER_SLOTS], barrier_out[BARRIER_SLOTS];

static uint32_t lcg_steps(uint32_t v, uint32_t steps)
{
    for (uint32_t i = 0; i < steps; i++)
        v = v * 1664525u + 1013904223u;
    return v;
}

static void barrier_layer(const ea_ctx_t *ctx, void *arg)
{
    int32_t start, end;
    (void)arg;
    ea_split(BARRIER_SLOTS, ctx, &start, &end);
    for (int32_t j = start; j < end; j++)
        barrier_first[j] = lcg_steps((uint32_t)j + 1u, (uint32_t)(j + 1) * BARRIER_UNIT);
    if (ctx->num_cores > 1 && ctx->barrier != 0)
        ctx->barrier();
    for (int32_t j = start; j < end; j++) {
        uint32_t all = 0;
        for (int32_t i = 0; i < BARRIER_SLOTS; i++)
            all = all * 31u + barrier_first[i];
        barrier_out[j] = lcg_steps(all + (uint32_t)j, (uint32_t)(BARRIER_SLOTS - j) * BARRIER_UNIT);
    }
}

static void barrier_test(void)
{
    uint32_t ncores = ea_hal_num_cores(), sum = 0;
    for (int j = 0; j < BARRIER_SLOTS; j++)
        barrier_first[j] = barrier_out[j] = 0;
    uint64_t t0 = ea_hal_cycles();
    ea_hal_fork(barrier_layer, 0);
    uint64_t cycles = ea_hal_cycles() - t0;
    for (int j = 0; j < BARRIER_SLOTS; j++)
        sum = sum * 31u + barrier_out[j];
    put_str("barrier sum=");
    put_hex32(sum);
    put_str(" cycles=");
    put_u64(cycles);
    for (uint32_t c = 0; c < ncores && c < 8; c++) {
        put_str(" core");
        put_u64(c);
        put_str("=");
        put_u64(ea_hal_core_cycles(c));
    }
    end_line();
}

int ea_app_main(void);

int ea_app_main(void)
{
    ea_hal_init();
#ifdef EA_SELFTEST_FLASH_BALLAST
    put_hex32(selftest_flash_ballast[frame[0]]);
#endif
#ifdef EA_SELFTEST_RAM_BALLAST
    put_hex32(selftest_ram_ballast[frame[0]]);
#endif
    put_str("EA-SELFTEST cores=");
    put_u64(ea_hal_num_cores());
    end_line();
    for (;;) {
        int cmd = ea_hal_getc();
        if (cmd == 'p') {
            put_str("pong");
            end_line();
        } else if (cmd == 'f') {
            uint32_t len = get_u32le();
            uint64_t t0 = ea_hal_cycles();
            uint32_t n = receive(len);
            uint64_t t1 = ea_hal_cycles();
            put_str("frame n=");
            put_u64(len);
            put_str(" crc=");
            put_hex32(crc32(frame, n));
            put_str(" cycles=");
            put_u64(t1 - t0);
            end_line();
        } else if (cmd == 'e') {
            uint32_t n = receive(get_u32le());
            ea_hal_write(frame, n);
        } else if (cmd == 'b') {
            bench((uint32_t)(ea_hal_getc() & 0xFF));
        } else if (cmd == 'r') {
            barrier_test();
        } else if (cmd == 'x') {
            put_str("faulting");
            end_line();
            put_hex32(*(volatile uint32_t *)UNMAPPED_ADDRESS);
            end_line();
        } else if (cmd == 'q') {
            ea_hal_exit(ea_hal_getc() & 0xFF);
        }
    }
}

/* Ports that own main() (EA_PORT_HAS_MAIN, docs/decisions.md D7) call ea_app_main themselves. */
#ifndef EA_PORT_HAS_MAIN
int main(void) { return ea_app_main(); }
#endif
