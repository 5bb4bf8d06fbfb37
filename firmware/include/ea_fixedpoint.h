/*
 * ea_fixedpoint.h - the integer arithmetic of docs/fixed-point.md as static inline helpers shared by
 * the kernels: the rounding shift, saturation, fused activations and packed-weight unpacking.
 *
 * C99, integer only. No libc: the kernels must build freestanding (no string.h on every target).
 */
#ifndef EA_FIXEDPOINT_H
#define EA_FIXEDPOINT_H

#include "ea_types.h"

/* rshift_round floors with `>>` on negative int32 values, and the packed-weight readers convert
 * uint32 bit patterns to int32. C99 leaves both implementation-defined; gcc and clang shift
 * arithmetically and convert modulo 2^32 on every target we build for. Refuse to build otherwise. */
typedef char ea_requires_arithmetic_right_shift[((-5) >> 1) == -3 ? 1 : -1];
typedef char ea_requires_modular_int32_conversion[(int32_t)0xFFFFFFF0u == -16 ? 1 : -1];

/* Requantization shifts the quantizer may emit (docs/fixed-point.md section 3). */
#define EA_SHIFT_MIN (-8)
#define EA_SHIFT_MAX 30

/* Closed range [lo, hi] an output is clamped to: sat to its type ([-128, 127] int8, [0, 255]
 * uint8) followed by the fused activation. act(sat(v)) == clamp(v, lo, hi) because every
 * activation bound lies inside the type's range. */
typedef struct {
    int32_t lo;
    int32_t hi;
} ea_clamp_t;

static inline int32_t ea_sat8(int32_t v)
{
    return v < -128 ? -128 : (v > 127 ? 127 : v);
}

static inline int ea_dtype_valid(ea_dtype_t t)
{
    return t == EA_INT8 || t == EA_UINT8;
}

/* The smallest and largest code of an activation type. */
static inline int32_t ea_dtype_lo(ea_dtype_t t)
{
    return t == EA_UINT8 ? 0 : -128;
}

static inline int32_t ea_dtype_hi(ea_dtype_t t)
{
    return t == EA_UINT8 ? 255 : 127;
}

/* R6 of section 4.1: the code of 6.0 in format fl_out, within [0, hi] (hi: 127 int8, 255 uint8). */
static inline int32_t ea_relu6_limit(int32_t fl_out, int32_t hi)
{
    int32_t r6;
    if (fl_out >= 6) /* 6 * 64 > 255 already; also keeps the shift below from overflowing */
        return hi;
    if (fl_out >= 0)
        r6 = 6 << fl_out;
    else if (fl_out <= -4) /* rshift_round(6, s) = (6 + 2^(s-1)) >> s = 0 for s >= 4 */
        r6 = 0;
    else
        r6 = (6 + (1 << (-fl_out - 1))) >> -fl_out;
    return r6 < hi ? r6 : hi;
}

static inline int ea_act_valid(ea_act_t act)
{
    return act == EA_ACT_NONE || act == EA_ACT_RELU || act == EA_ACT_RELU6;
}

static inline ea_clamp_t ea_act_clamp(ea_act_t act, int32_t fl_out, ea_dtype_t out_type)
{
    ea_clamp_t c;
    c.lo = ea_dtype_lo(out_type);
    c.hi = ea_dtype_hi(out_type);
    if (act == EA_ACT_RELU) {
        c.lo = 0;
    } else if (act == EA_ACT_RELU6) {
        c.lo = 0;
        c.hi = ea_relu6_limit(fl_out, c.hi);
    }
    return c;
}

/* The value of the activation byte at p: int8 or uint8 as its tensor's type says. */
static inline int32_t ea_get(const int8_t *p, ea_dtype_t t)
{
    return t == EA_UINT8 ? (int32_t)(*(const uint8_t *)p) : (int32_t)*p;
}

/* Store v, already within its type's range, as one activation byte: the uint8 conversion is
 * defined for every int32 (modulo 256), and int8_t is two's complement, so -1 reads back as -1. */
static inline void ea_put(int8_t *p, int32_t v)
{
    *(uint8_t *)p = (uint8_t)v;
}

static inline int ea_shift_valid(int32_t s)
{
    return s >= EA_SHIFT_MIN && s <= EA_SHIFT_MAX;
}

/* act(sat(rshift_round(v, s))) for s in [EA_SHIFT_MIN, EA_SHIFT_MAX] (section 3), as a value in
 * [c.lo, c.hi]; store it with ea_put.
 * s > 0 stays in int32: the accumulator bound |v| < 2^30 keeps v + 2^(s-1) from overflowing.
 * s < 0 multiplies in int64 (a left shift of a negative value would be undefined in C). */
static inline int32_t ea_requant(int32_t v, int32_t s, ea_clamp_t c)
{
    if (s > 0) {
        v = (v + ((int32_t)1 << (s - 1))) >> s;
    } else if (s < 0) {
        int64_t wide = (int64_t)v * ((int64_t)1 << -s);
        if (wide < c.lo)
            return c.lo;
        if (wide > c.hi)
            return c.hi;
        return (int32_t)wide;
    }
    return v < c.lo ? c.lo : (v > c.hi ? c.hi : v);
}

/* v * 2^s for 0 <= s <= 16 without shifting a negative value (undefined in C99). */
static inline int32_t ea_scale_pow2(int32_t v, int32_t s)
{
    return v * ((int32_t)1 << s);
}

/* ---------------------------------------------------------------- packed weights (section 2) */

static inline int ea_weight_bits_valid(int32_t bits)
{
    return bits == 8 || bits == 4 || bits == 2;
}

/* Bytes of one packed output-channel row of n weights: every row starts on a byte boundary. */
static inline int32_t ea_packed_row_bytes(int32_t n, int32_t bits)
{
    return (n * bits + 7) / 8;
}

/* Sign-extend the `bits`-wide two's complement field at bit `pos` of v: move it to the top,
 * then shift it back arithmetically (one sbfx on Cortex-M4). */
#define EA_FIELD(v, pos, bits) ((int32_t)((uint32_t)(v) << (32 - (pos) - (bits))) >> (32 - (bits)))

/*
 * The dot products acc + sum_i x[i] * w[i] of n activations of type XT with one weight row, for
 * int8 (ea_dot_s8, ea_dot_s8_w4, ea_dot_s8_w2) and uint8 activations (ea_dot_u8, ea_dot_u8_w4,
 * ea_dot_u8_w2, section 1.3). One body per weight width, instantiated per activation type so each
 * inner loop is compiled for its type (a per-element type test would cost the hot loop).
 *   ea_dot_<t>:    int8 weights w[i].
 *   ea_dot_<t>_w4: a packed 4-bit row: element i in the low (even i) or high (odd i) nibble of
 *                  byte i/2.
 *   ea_dot_<t>_w2: a packed 2-bit row: element i in bits [(i % 4) * 2, +2) of byte i/4.
 */
#define EA_DEFINE_DOT_PRODUCTS(T, XT)                                                                   \
    static inline int32_t ea_dot_##T(const XT *x, const int8_t *w, int32_t n, int32_t acc)              \
    {                                                                                                   \
        int32_t i = 0;                                                                                  \
        for (; i + 4 <= n; i += 4) {                                                                    \
            acc += (int32_t)x[i] * w[i] + (int32_t)x[i + 1] * w[i + 1] + (int32_t)x[i + 2] * w[i + 2] + \
                   (int32_t)x[i + 3] * w[i + 3];                                                        \
        }                                                                                               \
        for (; i < n; i++)                                                                              \
            acc += (int32_t)x[i] * w[i];                                                                \
        return acc;                                                                                     \
    }                                                                                                   \
    static inline int32_t ea_dot_##T##_w4(const XT *x, const int8_t *packed, int32_t n, int32_t acc)    \
    {                                                                                                   \
        const uint8_t *w = (const uint8_t *)packed;                                                     \
        int32_t i = 0;                                                                                  \
        for (; i + 2 <= n; i += 2, w++)                                                                 \
            acc += (int32_t)x[i] * EA_FIELD(*w, 0, 4) + (int32_t)x[i + 1] * EA_FIELD(*w, 4, 4);         \
        if (i < n)                                                                                      \
            acc += (int32_t)x[i] * EA_FIELD(*w, 0, 4);                                                  \
        return acc;                                                                                     \
    }                                                                                                   \
    static inline int32_t ea_dot_##T##_w2(const XT *x, const int8_t *packed, int32_t n, int32_t acc)    \
    {                                                                                                   \
        const uint8_t *w = (const uint8_t *)packed;                                                     \
        int32_t i = 0;                                                                                  \
        for (; i + 4 <= n; i += 4, w++) {                                                               \
            const uint32_t b = *w;                                                                      \
            acc += (int32_t)x[i] * EA_FIELD(b, 0, 2) + (int32_t)x[i + 1] * EA_FIELD(b, 2, 2) +          \
                   (int32_t)x[i + 2] * EA_FIELD(b, 4, 2) + (int32_t)x[i + 3] * EA_FIELD(b, 6, 2);       \
        }                                                                                               \
        for (; i < n; i++)                                                                              \
            acc += (int32_t)x[i] * EA_FIELD(*w, (i & 3) * 2, 2);                                        \
        return acc;                                                                                     \
    }

EA_DEFINE_DOT_PRODUCTS(s8, int8_t)
EA_DEFINE_DOT_PRODUCTS(u8, uint8_t)

/* acc[0..3] += xa.wa, xa.wb, xb.wa, xb.wb over n activations of type XT and two 8-bit weight rows:
 * 2 pixels x 2 output channels per pass, so every value loaded feeds two multiply-accumulates
 * (half the loads per MAC of ea_dot_<t>; the portable kernels' blocking for ISAs without SIMD). */
#define EA_DEFINE_DOT2X2(T, XT)                                                                         \
    static inline void ea_dot2x2_##T(const XT *xa, const XT *xb, const int8_t *wa, const int8_t *wb,    \
                                     int32_t n, int32_t *acc)                                          \
    {                                                                                                   \
        int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3], i = 0;                              \
        for (; i + 2 <= n; i += 2) {                                                                    \
            const int32_t x0 = xa[i], x1 = xa[i + 1], y0 = xb[i], y1 = xb[i + 1];                       \
            const int32_t u0 = wa[i], u1 = wa[i + 1], v0 = wb[i], v1 = wb[i + 1];                       \
            a0 += x0 * u0 + x1 * u1;                                                                    \
            a1 += x0 * v0 + x1 * v1;                                                                    \
            b0 += y0 * u0 + y1 * u1;                                                                    \
            b1 += y0 * v0 + y1 * v1;                                                                    \
        }                                                                                               \
        if (i < n) {                                                                                    \
            const int32_t x = xa[i], y = xb[i], u = wa[i], v = wb[i];                                   \
            a0 += x * u, a1 += x * v, b0 += y * u, b1 += y * v;                                         \
        }                                                                                               \
        acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;                                             \
    }

EA_DEFINE_DOT2X2(s8, int8_t)
EA_DEFINE_DOT2X2(u8, uint8_t)

/* acc[0..7] += xa.w0 .. xa.w3, xb.w0 .. xb.w3 over n activations and four 8-bit weight rows at
 * w, w + n, w + 2n, w + 3n: 2 pixels x 4 channels per pass, 6 loads per 8 multiply-accumulates
 * (ea_dot2x2_<t>: 4 per 4), which RV32's 31 registers hold without spilling. */
#define EA_DEFINE_DOT2X4(T, XT)                                                                         \
    static inline void ea_dot2x4_##T(const XT *xa, const XT *xb, const int8_t *w, int32_t n, int32_t *acc) \
    {                                                                                                   \
        const int8_t *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;                                     \
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                     \
        int32_t b0 = acc[4], b1 = acc[5], b2 = acc[6], b3 = acc[7], i;                                  \
        for (i = 0; i + 2 <= n; i += 2) {                                                               \
            const int32_t x = xa[i], y = xb[i], x1 = xa[i + 1], y1 = xb[i + 1];                         \
            int32_t u = w[i], v = w[i + 1];                                                             \
            a0 += x * u + x1 * v, b0 += y * u + y1 * v;                                                 \
            u = w1[i], v = w1[i + 1];                                                                   \
            a1 += x * u + x1 * v, b1 += y * u + y1 * v;                                                 \
            u = w2[i], v = w2[i + 1];                                                                   \
            a2 += x * u + x1 * v, b2 += y * u + y1 * v;                                                 \
            u = w3[i], v = w3[i + 1];                                                                   \
            a3 += x * u + x1 * v, b3 += y * u + y1 * v;                                                 \
        }                                                                                               \
        if (i < n) {                                                                                    \
            const int32_t x = xa[i], y = xb[i];                                                         \
            a0 += x * w[i], a1 += x * w1[i], a2 += x * w2[i], a3 += x * w3[i];                          \
            b0 += y * w[i], b1 += y * w1[i], b2 += y * w2[i], b3 += y * w3[i];                          \
        }                                                                                               \
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;                                             \
        acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;                                             \
    }

EA_DEFINE_DOT2X4(s8, int8_t)
EA_DEFINE_DOT2X4(u8, uint8_t)

/* acc + x . row for n activations of type in_type and one weight row stored at `bits` (8, 4 or
 * 2), read in place. */
static inline int32_t ea_dot_weights(const int8_t *x, ea_dtype_t in_type, const int8_t *row, int32_t bits,
                                     int32_t n, int32_t acc)
{
    if (in_type == EA_UINT8) {
        const uint8_t *xu = (const uint8_t *)x;
        if (bits == 4)
            return ea_dot_u8_w4(xu, row, n, acc);
        if (bits == 2)
            return ea_dot_u8_w2(xu, row, n, acc);
        return ea_dot_u8(xu, row, n, acc);
    }
    if (bits == 4)
        return ea_dot_s8_w4(x, row, n, acc);
    if (bits == 2)
        return ea_dot_s8_w2(x, row, n, acc);
    return ea_dot_s8(x, row, n, acc);
}

/* ---------------------------------------------------------------- scratch and geometry */

/* True when this core's scratch buffer holds `need` bytes (need <= 0: no scratch required). */
static inline int ea_scratch_ok(const ea_ctx_t *ctx, int32_t need)
{
    return need <= 0 || (ctx != NULL && ctx->buf != NULL && ctx->buf_size >= need);
}

/* Output extent of a window sliding over `in` padded by pad_a + pad_b: floor((in + pads - k) / s) + 1.
 * Returns 0 when the window does not fit (C division truncates, so that case is caught first) or
 * the stride is not positive, so size queries on bad parameters stay defined. */
static inline int32_t ea_out_dim(int32_t in, int32_t k, int32_t stride, int32_t pad_a, int32_t pad_b)
{
    int32_t span = in + pad_a + pad_b - k;
    return span < 0 || stride < 1 ? 0 : span / stride + 1;
}

/* Portable int8 fill and copy (no string.h in freestanding builds). */
static inline void ea_fill_s8(int8_t *dst, int8_t value, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        dst[i] = value;
}

/* out[c] = max(out[c], v[c]) for n channels, compared as the activation type t says (as uint8,
 * 200 beats 100): the max pool step of ea_max_pool_s8 and ea_conv2d_maxpool_s8. */
static inline void ea_max_into(int8_t *out, const int8_t *v, int32_t n, ea_dtype_t t)
{
    int32_t c;
    if (t == EA_UINT8) {
        const uint8_t *vu = (const uint8_t *)v;
        uint8_t *ou = (uint8_t *)out;
        for (c = 0; c < n; c++)
            if (vu[c] > ou[c])
                ou[c] = vu[c];
    } else {
        for (c = 0; c < n; c++)
            if (v[c] > out[c])
                out[c] = v[c];
    }
}

static inline void ea_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        dst[i] = src[i];
}

#endif /* EA_FIXEDPOINT_H */
