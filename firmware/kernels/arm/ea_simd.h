/*
 * ea_simd.h - private to firmware/kernels/arm/: the Cortex-M4 DSP instructions the drop-in kernels
 * use, as ACLE intrinsics when the compiler targets an Arm core with the DSP extension, and as
 * plain C twins with the same results everywhere else. The twins let the drop-ins build on the
 * host, where the randomized kernel tests run them under the sanitizers (tests/test_kernels.py);
 * the ACLE path runs under QEMU (kernel_bench, the firmware's per-layer validation).
 *
 * Values are uint32 words holding 4 bytes (b0 lowest) or 2 halfwords (h0 lowest).
 */
#ifndef EA_SIMD_H
#define EA_SIMD_H

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EA_SIMD_ACLE 1
#else
#define EA_SIMD_ACLE 0
#endif

/* 4 bytes at p, any alignment (the M4 loads unaligned words; gcc emits one ldr). */
static inline uint32_t ea_rd32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline void ea_wr32(void *p, uint32_t v)
{
    __builtin_memcpy(p, &v, 4);
}

static inline void ea_wr16(void *p, uint32_t v)
{
    const uint16_t h = (uint16_t)v;
    __builtin_memcpy(p, &h, 2);
}

/* Rotate right by 8: bytes b1, b3 move to the even positions (folded into sxtb16's ror #8). */
static inline uint32_t ea_ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}

#if EA_SIMD_ACLE

/* (b0, b2) sign-extended to two halfwords. */
static inline uint32_t ea_sxtb16(uint32_t x)
{
    return (uint32_t)__sxtb16((int8x4_t)x);
}

/* (b0, b2) zero-extended to two halfwords. */
static inline uint32_t ea_uxtb16(uint32_t x)
{
    return (uint32_t)__uxtb16((uint8x4_t)x);
}

/* (b1, b3) sign- / zero-extended: the rotate folded into the instruction (gcc 12 does not fold
 * ea_sxtb16(ea_ror8(x)) itself; ACLE has no rotated form). */
static inline uint32_t ea_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t ea_uxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + h0(a) * h0(b) + h1(a) * h1(b), halfwords signed, modulo 2^32. */
static inline int32_t ea_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}

/* acc + h0(a) * h0(b) and acc + h1(a) * h1(b). */
static inline int32_t ea_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t ea_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

/* Saturation to [-128, 127], [0, 255] and [0, 127]: one ssat / usat each. */
#define EA_SSAT8(v) __ssat((v), 8)
#define EA_USAT8(v) ((int32_t)__usat((v), 8))
#define EA_USAT7(v) ((int32_t)__usat((v), 7))

/* Bytewise max of 4 uint8 (usub8 sets the GE flags, sel picks) and of 4 int8 (ssub8). */
static inline uint32_t ea_max4_u8(uint32_t a, uint32_t b)
{
    (void)__usub8((uint8x4_t)a, (uint8x4_t)b);
    return (uint32_t)__sel((uint8x4_t)a, (uint8x4_t)b);
}

static inline uint32_t ea_max4_s8(uint32_t a, uint32_t b)
{
    (void)__ssub8((int8x4_t)a, (int8x4_t)b);
    return (uint32_t)__sel((uint8x4_t)a, (uint8x4_t)b);
}

/* Bytewise min of 4 uint8. */
static inline uint32_t ea_min4_u8(uint32_t a, uint32_t b)
{
    (void)__usub8((uint8x4_t)a, (uint8x4_t)b);
    return (uint32_t)__sel((uint8x4_t)b, (uint8x4_t)a);
}

#else /* the C twins */

static inline uint32_t ea_sxtb16(uint32_t x)
{
    const uint32_t lo = (uint32_t)(int32_t)(int8_t)(x & 0xFFu) & 0xFFFFu;
    const uint32_t hi = (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu) & 0xFFFFu;
    return lo | (hi << 16);
}

static inline uint32_t ea_uxtb16(uint32_t x)
{
    return x & 0x00FF00FFu;
}

static inline uint32_t ea_sxtb16_ror8(uint32_t x)
{
    return ea_sxtb16(ea_ror8(x));
}

static inline uint32_t ea_uxtb16_ror8(uint32_t x)
{
    return ea_uxtb16(ea_ror8(x));
}

static inline int32_t ea_h0(uint32_t x)
{
    return (int32_t)(int16_t)(x & 0xFFFFu);
}

static inline int32_t ea_h1(uint32_t x)
{
    return (int32_t)(int16_t)(x >> 16);
}

static inline int32_t ea_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    /* products of int16 fit int32; the sums wrap like the instruction (uint32 arithmetic) */
    return (int32_t)((uint32_t)acc + (uint32_t)(ea_h0(a) * ea_h0(b)) + (uint32_t)(ea_h1(a) * ea_h1(b)));
}

static inline int32_t ea_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(ea_h0(a) * ea_h0(b)));
}

static inline int32_t ea_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(ea_h1(a) * ea_h1(b)));
}

static inline int32_t ea_clamp_to(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#define EA_SSAT8(v) ea_clamp_to((v), -128, 127)
#define EA_USAT8(v) ea_clamp_to((v), 0, 255)
#define EA_USAT7(v) ea_clamp_to((v), 0, 127)

static inline uint32_t ea_max4_u8(uint32_t a, uint32_t b)
{
    uint32_t r = 0, i;
    for (i = 0; i < 32; i += 8) {
        const uint32_t x = (a >> i) & 0xFFu, y = (b >> i) & 0xFFu;
        r |= (x >= y ? x : y) << i;
    }
    return r;
}

static inline uint32_t ea_max4_s8(uint32_t a, uint32_t b)
{
    uint32_t r = 0, i;
    for (i = 0; i < 32; i += 8) {
        const int8_t x = (int8_t)((a >> i) & 0xFFu), y = (int8_t)((b >> i) & 0xFFu);
        r |= (uint32_t)(uint8_t)(x >= y ? x : y) << i;
    }
    return r;
}

static inline uint32_t ea_min4_u8(uint32_t a, uint32_t b)
{
    uint32_t r = 0, i;
    for (i = 0; i < 32; i += 8) {
        const uint32_t x = (a >> i) & 0xFFu, y = (b >> i) & 0xFFu;
        r |= (x >= y ? y : x) << i;
    }
    return r;
}

#endif /* EA_SIMD_ACLE */

#endif /* EA_SIMD_H */
