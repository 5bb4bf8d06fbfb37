/*
 * ea_m4_eltwise.h - private to firmware/kernels/arm/: what the average pool and add drop-ins need
 * beyond ea_simd.h (static inline, not a kernel).
 *
 * - ea_sadd16_acc: two halfword adds in one instruction (SADD16), with its plain-C twin;
 * - ea_m4e_flip: a uint8 activation read as int8 after flipping its top bit (u = s + 128), so the
 *   add's one SXTB16 loop serves both activation types (128 per term added back in its rounding
 *   constant);
 * - the saturation kinds of an output clamp, each loop instantiated per kind (ssat / usat, and a
 *   min for relu6), as the other drop-ins do (their own copy lives in ea_m4_core.h).
 */
#ifndef EA_M4_ELTWISE_H
#define EA_M4_ELTWISE_H

#include "../ea_kernel_checks.h"
#include "ea_simd.h"

/* acc + x halfword by halfword, each modulo 2^16 (SADD16). One line of inline assembly with the
 * accumulator tied to the result: gcc 12's __sadd16 adds a register move per call in a loop. */
#if EA_SIMD_ACLE
static inline uint32_t ea_sadd16_acc(uint32_t acc, uint32_t x)
{
    __asm__("sadd16 %0, %0, %1" : "+r"(acc) : "r"(x));
    return acc;
}
#else
static inline uint32_t ea_sadd16_acc(uint32_t acc, uint32_t x)
{
    const uint32_t lo = (acc + x) & 0xFFFFu;
    const uint32_t hi = ((acc >> 16) + (x >> 16)) & 0xFFFFu;
    return lo | (hi << 16);
}
#endif

/* The low / high halfword of a pair, sign-extended (one sxth / asr). */
static inline int32_t ea_m4e_lo(uint32_t x)
{
    return (int32_t)(int16_t)(x & 0xFFFFu);
}

static inline int32_t ea_m4e_hi(uint32_t x)
{
    return (int32_t)x >> 16;
}

/* XORed into 4 activation bytes: uint8 codes become int8 codes 128 lower, int8 stay. */
static inline uint32_t ea_m4e_flip(ea_dtype_t t)
{
    return t == EA_UINT8 ? 0x80808080u : 0u;
}

/* The offset a flipped uint8 term lost (128), or 0 for int8. */
static inline int32_t ea_m4e_offset(ea_dtype_t t)
{
    return t == EA_UINT8 ? 128 : 0;
}

/* ea_act_clamp's [lo, hi] is one of [-128, 127] (int8, no activation), [0, 255], [0, 127] or
 * [0, R6 < 255]. */
typedef enum { EA_M4E_S8, EA_M4E_U8, EA_M4E_U7, EA_M4E_HI } ea_m4e_sat_t;

static inline ea_m4e_sat_t ea_m4e_sat_kind(ea_clamp_t c)
{
    if (c.lo < 0)
        return EA_M4E_S8;
    return c.hi == 255 ? EA_M4E_U8 : (c.hi == 127 ? EA_M4E_U7 : EA_M4E_HI);
}

static inline int32_t ea_m4e_min(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

#define EA_M4E_SAT_S8(v, hi) EA_SSAT8(v)
#define EA_M4E_SAT_U8(v, hi) EA_USAT8(v)
#define EA_M4E_SAT_U7(v, hi) EA_USAT7(v)
#define EA_M4E_SAT_HI(v, hi) ea_m4e_min(EA_USAT8(v), (hi))

#endif /* EA_M4_ELTWISE_H */
