/*
 * ea_parse.c - strict number parsing for command arguments: the whole token must be a number
 * in range, otherwise the command is refused (never silently truncated).
 */
#include "ea_proto.h"

int ea_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unsigned decimal up to limit. */
static int parse_u64(const char *s, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        uint64_t d;
        if (*s < '0' || *s > '9')
            return -1;
        d = (uint64_t)(*s - '0');
        if (v > (limit - d) / 10u)
            return -1;
        v = v * 10u + d;
    }
    *out = v;
    return 0;
}

int ea_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (parse_u64(s, 0xffffffffu, &v))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int ea_parse_i64(const char *s, int64_t *out)
{
    uint64_t v;
    int neg = *s == '-';
    if (parse_u64(s + neg, neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1u, &v))
        return -1;
    *out = neg ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
    return 0;
}

int ea_parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    if (ea_parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

int ea_parse_hex32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s; s++, n++) {
        int d = ea_hex_digit(*s);
        if (d < 0 || n == 8)
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}
