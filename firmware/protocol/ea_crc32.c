/*
 * ea_crc32.c - CRC-32 (IEEE 802.3, reflected, as zlib.crc32) of binary loads. Bitwise: no table
 * in flash, and a 15 KiB frame costs well under a millisecond even on the slowest target.
 */
#include "ea_proto.h"

uint32_t ea_crc32(uint32_t crc, const uint8_t *data, uint32_t n)
{
    uint32_t c = ~crc;
    for (uint32_t i = 0; i < n; i++) {
        c ^= data[i];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}
