/*
 * ea_fixedpoint.h - the integer arithmetic of docs/fixed-point.md as static inline helpers shared by
 * the kernels: the rounding shift, saturation, fused activations and packed-weight unpacking.
 *
 * C99, integer only. No libc: the kernels must build freestanding (no string.h on every target).
 */
#ifndef EA_FIXEDPOINT_H
#define EA_FIXEDPOINT_H

#include "ea_types.h"

/* rshift_round floors with `>>` on negative int32 values. C99 leaves that implementation-defined;
 * gcc and clang shift arithmetically on every target we build for. Refuse to build otherwise. */
typedef char ea_requires_arithmetic_right_shift[((-5) >> 1) == -3 ? 1 : -1];

/* Requantization shifts the quantizer may emit (docs/fixed-point.md section 3). */
#define EA_SHIFT_MIN (-8)
#define EA_SHIFT_MAX 30

/* Closed int8 range [lo, hi] an output is clamped to: sat8 followed by the fused activation.
 * act(sat8(v)) == clamp(v, lo, hi) because every activation bound lies inside [-128, 127]. */
typedef struct {
    int32_t lo;
    int32_t hi;
} ea_clamp_t;

static inline int32_t ea_sat8(int32_t v)
{
    return v < -128 ? -128 : (v > 127 ? 127 : v);
}

/* R6 of section 4.1: the int8 code of 6.0 in format fl_out, within [0, 127]. */
static inline int32_t ea_relu6_limit(int32_t fl_out)
{
    if (fl_out >= 5) /* 6 * 32 > 127 already; also keeps the shift below from overflowing */
        return 127;
    if (fl_out >= 0)
        return 6 << fl_out;
    if (fl_out <= -4) /* rshift_round(6, s) = (6 + 2^(s-1)) >> s = 0 for s >= 4 */
        return 0;
    return (6 + (1 << (-fl_out - 1))) >> -fl_out;
}

static inline int ea_act_valid(ea_act_t act)
{
    return act == EA_ACT_NONE || act == EA_ACT_RELU || act == EA_ACT_RELU6;
}

static inline ea_clamp_t ea_act_clamp(ea_act_t act, int32_t fl_out)
{
    ea_clamp_t c = {-128, 127};
    if (act == EA_ACT_RELU) {
        c.lo = 0;
    } else if (act == EA_ACT_RELU6) {
        c.lo = 0;
        c.hi = ea_relu6_limit(fl_out);
    }
    return c;
}

static inline int ea_shift_valid(int32_t s)
{
    return s >= EA_SHIFT_MIN && s <= EA_SHIFT_MAX;
}

/* act(sat8(rshift_round(v, s))) for s in [EA_SHIFT_MIN, EA_SHIFT_MAX] (section 3).
 * s > 0 stays in int32: the accumulator bound |v| < 2^30 keeps v + 2^(s-1) from overflowing.
 * s < 0 multiplies in int64 (a left shift of a negative value would be undefined in C). */
static inline int8_t ea_requant(int32_t v, int32_t s, ea_clamp_t c)
{
    if (s > 0) {
        v = (v + ((int32_t)1 << (s - 1))) >> s;
    } else if (s < 0) {
        int64_t wide = (int64_t)v * ((int64_t)1 << -s);
        if (wide < c.lo)
            return (int8_t)c.lo;
        if (wide > c.hi)
            return (int8_t)c.hi;
        return (int8_t)wide;
    }
    return (int8_t)(v < c.lo ? c.lo : (v > c.hi ? c.hi : v));
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

/* Unpack one row of n packed weights into int8: element i sits in bits [(i % (8/bits)) * bits, +bits)
 * of byte i / (8/bits), first element in the low bits, two's complement in its field. */
static inline void ea_unpack_row(const int8_t *packed, int32_t bits, int32_t n, int8_t *dst)
{
    const uint8_t *src = (const uint8_t *)packed;
    int32_t i = 0;
    if (bits == 4) {
        for (; i + 2 <= n; i += 2, src++) {
            dst[i] = (int8_t)((int32_t)((*src & 0x0Fu) ^ 0x08u) - 8);
            dst[i + 1] = (int8_t)((int32_t)((*src >> 4) ^ 0x08u) - 8);
        }
        if (i < n)
            dst[i] = (int8_t)((int32_t)((*src & 0x0Fu) ^ 0x08u) - 8);
    } else if (bits == 2) {
        for (; i < n; i++) {
            uint32_t field = ((uint32_t)src[i >> 2] >> ((i & 3) * 2)) & 0x03u;
            dst[i] = (int8_t)((int32_t)(field ^ 0x02u) - 2);
        }
    } else {
        for (; i < n; i++)
            dst[i] = packed[i];
    }
}

/* Row c of a weight tensor with rows of n values, as int8: in place for 8-bit weights, otherwise
 * unpacked into `scratch` (n bytes). */
static inline const int8_t *ea_weight_row(const int8_t *weights, int32_t bits, int32_t n, int32_t c,
                                          int8_t *scratch)
{
    if (bits == 8)
        return weights + c * n;
    ea_unpack_row(weights + c * ea_packed_row_bytes(n, bits), bits, n, scratch);
    return scratch;
}

/* acc + sum_i a[i] * b[i]. */
static inline int32_t ea_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        acc += (int32_t)a[i] * b[i] + (int32_t)a[i + 1] * b[i + 1] + (int32_t)a[i + 2] * b[i + 2] +
               (int32_t)a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        acc += (int32_t)a[i] * b[i];
    return acc;
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

/* Portable int8 fill (no string.h in freestanding builds). */
static inline void ea_fill_s8(int8_t *dst, int8_t value, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        dst[i] = value;
}

#endif /* EA_FIXEDPOINT_H */
