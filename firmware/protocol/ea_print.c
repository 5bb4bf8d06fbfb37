/*
 * ea_print.c - reply formatting without printf: integers, hex and fixed-point decimals.
 * No float, so the same code serves the FPU-less GAP8.
 */
#include "ea_hal.h"
#include "ea_proto.h"

static char out_buf[96];
static uint32_t out_len;
static int crc_on;      /* a reply checksum is being accumulated (ea_put_crc_begin) */
static uint32_t crc_acc;

static void flush(void)
{
    if (out_len) {
        ea_hal_write(out_buf, out_len);
        out_len = 0;
    }
}

void ea_put_char(char c)
{
    if (out_len == sizeof out_buf)
        flush();
    out_buf[out_len++] = c;
    if (crc_on && c != '\r') {  /* lines as the host reads them: text + '\n' */
        uint8_t byte = (uint8_t)c;
        crc_acc = ea_crc32(crc_acc, &byte, 1);
    }
}

void ea_put_crc_begin(void)
{
    crc_on = 1;
    crc_acc = 0;
}

uint32_t ea_put_crc_end(void)
{
    crc_on = 0;
    return crc_acc;
}

void ea_put_n(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ea_put_char(s[i]);
}

void ea_put(const char *s)
{
    while (*s)
        ea_put_char(*s++);
}

void ea_put_eol(void)
{
    ea_put_char('\r');
    ea_put_char('\n');
    flush();
}

void ea_put_line(const char *s)
{
    ea_put(s);
    ea_put_eol();
}

void ea_put_u64(uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        ea_put_char(digits[--n]);
}

void ea_put_i64(int64_t v)
{
    if (v < 0) {
        ea_put_char('-');
        ea_put_u64((uint64_t)0 - (uint64_t)v);
    } else {
        ea_put_u64((uint64_t)v);
    }
}

void ea_put_hex8(uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    ea_put_char(hex[v >> 4]);
    ea_put_char(hex[v & 15u]);
}

void ea_put_hex32(uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        ea_put_hex8((uint8_t)(v >> shift));
}

void ea_put_fixed3(int32_t q, int32_t fl)
{
    /* |q| * 1000 * 2^-fl, rounded half up, in integers */
    uint64_t mag = q < 0 ? (uint64_t)0 - (uint64_t)(int64_t)q : (uint64_t)q;
    uint64_t milli;
    mag *= 1000u;
    if (fl > 0) {
        milli = fl >= 63 ? 0 : (mag + ((uint64_t)1 << (fl - 1))) >> fl;
    } else {
        int32_t up = -fl > 20 ? 20 : -fl;  /* beyond 2^20 the value is meaningless anyway */
        milli = mag << up;
    }
    if (q < 0 && milli)
        ea_put_char('-');
    ea_put_u64(milli / 1000u);
    ea_put_char('.');
    ea_put_char((char)('0' + (milli / 100u) % 10u));
    ea_put_char((char)('0' + (milli / 10u) % 10u));
    ea_put_char((char)('0' + milli % 10u));
}

void ea_put_sanitized(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char c = s[i];
        ea_put_char(c >= 0x20 && c < 0x7f && c != ']' ? c : '?');
    }
}

void ea_put_error(const char *msg)
{
    ea_put("e-[");
    ea_put(msg);
    ea_put_char(']');
    ea_put_eol();
}

void ea_put_error_arg(const char *msg, const char *arg)
{
    uint32_t n = 0;
    while (arg[n] && n < 40)
        n++;
    ea_put("e-[");
    ea_put(msg);
    ea_put(": ");
    ea_put_sanitized(arg, n);
    ea_put_char(']');
    ea_put_eol();
}

void ea_put_us(uint64_t cycles)
{
    /* split so that cycles * 10^6 cannot overflow */
    uint64_t hz = EA_PORT_CPU_HZ;
    uint64_t whole = cycles / hz;
    uint64_t rest = cycles % hz;
    ea_put_u64(whole * 1000000u + (rest * 1000000u) / hz);
}
