/*
 * ea_m4_core.h - private to firmware/kernels/arm/: the SIMD building blocks of the Cortex-M4
 * drop-in kernels (static inline, not a kernel).
 *
 * - Dot products over 8-bit weights with SMLAD: 4 MACs per two instructions. Activations and
 *   weights are widened on the fly, 4 bytes at a time, into halfword pairs (b0, b2) and (b1, b3)
 *   (SXTB16 / UXTB16, the second after a rotate by 8), so the pair order of both operands
 *   matches and no scratch is needed. Blocked 2 pixels x 2 output channels: every activation word
 *   and every weight word loaded is used twice.
 * - A per-output epilogue with the requantization of docs/fixed-point.md section 3 reduced to add,
 *   arithmetic shift and clamp for the shifts >= 0 every exported layer uses (a negative shift
 *   takes ea_requant's exact path).
 * - The im2col row loop over pixel pairs shared by ea_conv2d_s8 and ea_conv2d_maxpool_s8.
 * Every function is instantiated per activation type (int8: SXTB16, uint8: UXTB16), so each
 * inner loop is compiled for one type.
 */
#ifndef EA_M4_CORE_H
#define EA_M4_CORE_H

#include "../ea_conv_core.h"
#include "ea_simd.h"

/* How an output is saturated: ea_act_clamp's [lo, hi] is one of [-128, 127] (int8, no
 * activation), [0, 255], [0, 127] or [0, R6 < 255]: ssat / usat (+ a min for relu6). Every
 * kernel picks its kind once per call and runs the instantiation for it. */
typedef enum { EA_M4_S8, EA_M4_U8, EA_M4_U7, EA_M4_HI } ea_m4_sat_t;

static inline ea_m4_sat_t ea_m4_sat_kind(ea_clamp_t c)
{
    if (c.lo < 0)
        return EA_M4_S8; /* lo = -128 only for int8 output without activation: hi = 127 */
    return c.hi == 255 ? EA_M4_U8 : (c.hi == 127 ? EA_M4_U7 : EA_M4_HI);
}

#define EA_M4_SAT_S8(v, hi) EA_SSAT8(v)
#define EA_M4_SAT_U8(v, hi) EA_USAT8(v)
#define EA_M4_SAT_U7(v, hi) EA_USAT7(v)
#define EA_M4_SAT_HI(v, hi) ea_m4_min(EA_USAT8(v), (hi))

static inline int32_t ea_m4_min(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* 4 adjacent outputs v0..v3 (already shifted) of saturation kind K stored at o: the unsigned
 * kinds packed into one word (relu6's min for all 4 at once: USUB8 + SEL), int8 byte by byte. */
#define EA_M4_STORE4_S8(o, v0, v1, v2, v3, hi)                                                           \
    do {                                                                                                  \
        ea_put((o), EA_SSAT8(v0)), ea_put((o) + 1, EA_SSAT8(v1));                                        \
        ea_put((o) + 2, EA_SSAT8(v2)), ea_put((o) + 3, EA_SSAT8(v3));                                    \
    } while (0)
#define EA_M4_PACK4(SAT, v0, v1, v2, v3)                                                                  \
    ((uint32_t)SAT(v0) | (uint32_t)SAT(v1) << 8 | (uint32_t)SAT(v2) << 16 | (uint32_t)SAT(v3) << 24)
#define EA_M4_STORE4_U8(o, v0, v1, v2, v3, hi) ea_wr32((o), EA_M4_PACK4(EA_USAT8, v0, v1, v2, v3))
#define EA_M4_STORE4_U7(o, v0, v1, v2, v3, hi) ea_wr32((o), EA_M4_PACK4(EA_USAT7, v0, v1, v2, v3))
#define EA_M4_STORE4_HI(o, v0, v1, v2, v3, hi)                                                           \
    ea_wr32((o), ea_min4_u8(EA_M4_PACK4(EA_USAT8, v0, v1, v2, v3), (uint32_t)(hi) * 0x01010101u))

/* 2 adjacent outputs v0, v1 (already shifted) of kind K at o: relu6 below 255 packs them into
 * one halfword and takes both mins at once (USUB8 + SEL: 8 instructions instead of 12). */
#define EA_M4_STORE2_S8(o, v0, v1, hi) (ea_put((o), EA_SSAT8(v0)), ea_put((o) + 1, EA_SSAT8(v1)))
#define EA_M4_STORE2_U8(o, v0, v1, hi) (ea_put((o), EA_USAT8(v0)), ea_put((o) + 1, EA_USAT8(v1)))
#define EA_M4_STORE2_U7(o, v0, v1, hi) (ea_put((o), EA_USAT7(v0)), ea_put((o) + 1, EA_USAT7(v1)))
#define EA_M4_STORE2_HI(o, v0, v1, hi)                                                                    \
    ea_wr16((o), ea_min4_u8((uint32_t)EA_USAT8(v0) | (uint32_t)EA_USAT8(v1) << 8, (uint32_t)(hi) * 0x0101u))

/* act(sat(rshift_round(acc, s))) stored as one byte: add + asr + ssat/usat for s >= 0 (every
 * exported layer); a negative shift takes ea_requant's exact path. */
#define EA_M4_STORE(K, o, acc, s, clamp)                                                                  \
    do {                                                                                                  \
        const int32_t s_ = (s);                                                                           \
        if (s_ >= 0)                                                                                      \
            ea_put((o), EA_M4_SAT_##K(((acc) + ((int32_t)(1u << s_) >> 1)) >> s_, (clamp).hi));            \
        else                                                                                              \
            ea_put((o), ea_requant((acc), s_, (clamp)));                                                  \
    } while (0)

/* The general form, for the few stores outside the instantiated loops. */
static inline void ea_m4_store(int8_t *o, int32_t acc, int32_t s, ea_clamp_t c)
{
    if (s >= 0) {
        const int32_t v = (acc + ((int32_t)(1u << s) >> 1)) >> s;
        ea_put(o, v < c.lo ? c.lo : (v > c.hi ? c.hi : v));
    } else {
        ea_put(o, ea_requant(acc, s, c));
    }
}

#define EA_M4_EXT_s8(x) ea_sxtb16(x)
#define EA_M4_EXT_u8(x) ea_uxtb16(x)
#define EA_M4_EXTR_s8(x) ea_sxtb16_ror8(x) /* the odd bytes b1, b3 */
#define EA_M4_EXTR_u8(x) ea_uxtb16_ror8(x)

/*
 * The 2x2 main loop over n4 = n & ~3 activations as inline assembly (23 instructions per 16 MACs:
 * gcc 12 spills three registers of the same loop written with intrinsics, 25). EXT is sxtb16
 * (int8 activations) or uxtb16 (uint8); weights are always sxtb16. The loop end stays in memory:
 * the 4 accumulators, 4 pointers and 6 temporaries use all 14 allocatable registers. The
 * intrinsics version below is its C twin (EA_M4_NO_ASM selects it; both are tested on QEMU).
 */
#if EA_SIMD_ACLE && !defined(EA_M4_NO_ASM)
#define EA_M4_HAVE_ASM 1
#define EA_M4_DOT2X2_ASM(EXT)                                                                             \
    do {                                                                                                  \
        uint32_t t0, t1, t2, t3, t4, t5;                                                                  \
        __asm__ volatile("1:\n\t"                                                                         \
                         "ldr    %[t0], [%[xa]], #4\n\t"                                                  \
                         "ldr    %[t2], [%[xb]], #4\n\t"                                                  \
                         "ldr    %[t4], [%[wa]], #4\n\t"                                                  \
                         EXT "  %[t1], %[t0]\n\t"                                                         \
                         EXT "  %[t0], %[t0], ror #8\n\t"                                                 \
                         EXT "  %[t3], %[t2]\n\t"                                                         \
                         EXT "  %[t2], %[t2], ror #8\n\t"                                                 \
                         "sxtb16 %[t5], %[t4]\n\t"                                                        \
                         "sxtb16 %[t4], %[t4], ror #8\n\t"                                                \
                         "smlad  %[a0], %[t1], %[t5], %[a0]\n\t"                                          \
                         "smlad  %[a0], %[t0], %[t4], %[a0]\n\t"                                          \
                         "smlad  %[b0], %[t3], %[t5], %[b0]\n\t"                                          \
                         "smlad  %[b0], %[t2], %[t4], %[b0]\n\t"                                          \
                         "ldr    %[t4], [%[wb]], #4\n\t"                                                  \
                         "sxtb16 %[t5], %[t4]\n\t"                                                        \
                         "sxtb16 %[t4], %[t4], ror #8\n\t"                                                \
                         "smlad  %[a1], %[t1], %[t5], %[a1]\n\t"                                          \
                         "smlad  %[a1], %[t0], %[t4], %[a1]\n\t"                                          \
                         "smlad  %[b1], %[t3], %[t5], %[b1]\n\t"                                          \
                         "smlad  %[b1], %[t2], %[t4], %[b1]\n\t"                                          \
                         "ldr    %[t4], %[end]\n\t"                                                       \
                         "cmp    %[xa], %[t4]\n\t"                                                        \
                         "bcc    1b\n\t"                                                                  \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [xa] "+r"(xa),     \
                           [xb] "+r"(xb), [wa] "+r"(wa), [wb] "+r"(wb), [t0] "=&r"(t0), [t1] "=&r"(t1),   \
                           [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5)                  \
                         : [end] "m"(end)                                                                 \
                         : "cc", "memory");                                                               \
    } while (0)
#define EA_M4_ASM_s8 "sxtb16"
#define EA_M4_ASM_u8 "uxtb16"
#else
#define EA_M4_HAVE_ASM 0
#define EA_M4_DOT2X2_ASM(EXT) ((void)0)
#define EA_M4_ASM_s8 ""
#define EA_M4_ASM_u8 ""
#endif

/*
 * acc[0..3] += the dot products of n activations of pixels xa, xb with the 8-bit weight rows wa,
 * wb: acc[0] = xa.wa, acc[1] = xa.wb, acc[2] = xb.wa, acc[3] = xb.wb.
 * ea_m4_dot1x2_<t>: one pixel, two rows: acc[0] = x.wa, acc[1] = x.wb.
 */
#define EA_M4_DEFINE_DOTS(T, XT)                                                                          \
    static inline void ea_m4_dot2x2_##T(const int8_t *xa, const int8_t *xb, const int8_t *wa,              \
                                        const int8_t *wb, int32_t n, int32_t *acc)                         \
    {                                                                                                     \
        int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];                                       \
        const int8_t *end = xa + (n & ~3);                                                                \
        if (EA_M4_HAVE_ASM && xa < end)                                                                   \
            EA_M4_DOT2X2_ASM(EA_M4_ASM_##T);                                                              \
        while (xa < end) { /* the intrinsics twin (all of the loop without the assembly) */               \
            const uint32_t x = ea_rd32(xa), y = ea_rd32(xb);                                              \
            const uint32_t xe = EA_M4_EXT_##T(x), xo = EA_M4_EXTR_##T(x);                         \
            const uint32_t ye = EA_M4_EXT_##T(y), yo = EA_M4_EXTR_##T(y);                         \
            uint32_t w = ea_rd32(wa), we = ea_sxtb16(w), wo = ea_sxtb16_ror8(w);                      \
            a0 = ea_smlad(xe, we, a0);                                                                    \
            a0 = ea_smlad(xo, wo, a0);                                                                    \
            b0 = ea_smlad(ye, we, b0);                                                                    \
            b0 = ea_smlad(yo, wo, b0);                                                                    \
            w = ea_rd32(wb);                                                                              \
            we = ea_sxtb16(w);                                                                            \
            wo = ea_sxtb16_ror8(w);                                                                   \
            a1 = ea_smlad(xe, we, a1);                                                                    \
            a1 = ea_smlad(xo, wo, a1);                                                                    \
            b1 = ea_smlad(ye, we, b1);                                                                    \
            b1 = ea_smlad(yo, wo, b1);                                                                    \
            xa += 4, xb += 4, wa += 4, wb += 4;                                                           \
        }                                                                                                 \
        for (n &= 3; n > 0; n--) {                                                                        \
            const int32_t x = *(const XT *)xa++, y = *(const XT *)xb++, u = *wa++, v = *wb++;             \
            a0 += x * u, a1 += x * v, b0 += y * u, b1 += y * v;                                           \
        }                                                                                                 \
        acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;                                               \
    }                                                                                                     \
    static inline void ea_m4_dot1x2_##T(const int8_t *x, const int8_t *wa, const int8_t *wb, int32_t n,    \
                                        int32_t *acc)                                                      \
    {                                                                                                     \
        int32_t a0 = acc[0], a1 = acc[1];                                                                 \
        const int8_t *end = x + (n & ~3);                                                                 \
        while (x < end) {                                                                                 \
            const uint32_t v = ea_rd32(x), ve = EA_M4_EXT_##T(v), vo = EA_M4_EXTR_##T(v);          \
            uint32_t w = ea_rd32(wa);                                                                     \
            a0 = ea_smlad(ve, ea_sxtb16(w), a0);                                                          \
            a0 = ea_smlad(vo, ea_sxtb16_ror8(w), a0);                                                 \
            w = ea_rd32(wb);                                                                              \
            a1 = ea_smlad(ve, ea_sxtb16(w), a1);                                                          \
            a1 = ea_smlad(vo, ea_sxtb16_ror8(w), a1);                                                 \
            x += 4, wa += 4, wb += 4;                                                                     \
        }                                                                                                 \
        for (n &= 3; n > 0; n--) {                                                                        \
            const int32_t v = *(const XT *)x++;                                                           \
            a0 += v * *wa++, a1 += v * *wb++;                                                             \
        }                                                                                                 \
        acc[0] = a0, acc[1] = a1;                                                                         \
    }

EA_M4_DEFINE_DOTS(s8, int8_t)
EA_M4_DEFINE_DOTS(u8, uint8_t)

#include "ea_m4_pair.h"

/* q15 dot products of the Cin = 1 path: n (even) halfwords, 2 MACs per SMLAD with no widening
 * (both operands are stored widened). Same block as ea_m4_dot2x2_<t>. */
static inline void ea_m4_dot2x2_q15(const int8_t *xa, const int8_t *xb, const int8_t *wa, const int8_t *wb,
                                    int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    const int8_t *end = xa + 2 * n;
    while (xa < end) {
        const uint32_t x = ea_rd32(xa), y = ea_rd32(xb), u = ea_rd32(wa), v = ea_rd32(wb);
        a0 = ea_smlad(x, u, a0);
        a1 = ea_smlad(x, v, a1);
        b0 = ea_smlad(y, u, b0);
        b1 = ea_smlad(y, v, b1);
        xa += 4, xb += 4, wa += 4, wb += 4;
    }
    acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}

/*
 * Output pixels oa and ob (ob NULL: only oa; then xb must still be readable, e.g. xb = xa) for the
 * output channels [c_lo, c_hi): pixel activations xa, xb and weight rows of n values each,
 * `row` bytes from one weight row to the next. Channel pairs share one blocked dot product; an odd
 * last channel runs its row twice. One instantiation per dot product family and saturation kind.
 */
typedef void (*ea_m4_pixels_fn)(const int8_t *xa, const int8_t *xb, const int8_t *weights, int32_t row,
                                const int32_t *bias, const int8_t *shift, ea_clamp_t clamp, int32_t n,
                                int32_t c_lo, int32_t c_hi, int8_t *oa, int8_t *ob);

#define EA_M4_DEFINE_PIXELS(T, K)                                                                         \
    static inline void ea_m4_pixels2_##T##_##K(const int8_t *xa, const int8_t *xb, const int8_t *weights,  \
                                               int32_t row, const int32_t *bias, const int8_t *shift,      \
                                               ea_clamp_t clamp, int32_t n, int32_t c_lo, int32_t c_hi,    \
                                               int8_t *oa, int8_t *ob)                                     \
    {                                                                                                     \
        int32_t c, acc[4];                                                                                \
        const int8_t *w = weights + c_lo * row;                                                           \
        for (c = c_lo; c + 2 <= c_hi; c += 2, w += 2 * row) {                                             \
            acc[0] = acc[2] = bias != NULL ? bias[c] : 0;                                                 \
            acc[1] = acc[3] = bias != NULL ? bias[c + 1] : 0;                                             \
            ea_m4_dot2x2_##T(xa, xb, w, w + row, n, acc);                                                 \
            EA_M4_STORE(K, oa + c, acc[0], shift[c], clamp);                                              \
            EA_M4_STORE(K, oa + c + 1, acc[1], shift[c + 1], clamp);                                      \
            if (ob != NULL) {                                                                             \
                EA_M4_STORE(K, ob + c, acc[2], shift[c], clamp);                                          \
                EA_M4_STORE(K, ob + c + 1, acc[3], shift[c + 1], clamp);                                  \
            }                                                                                             \
        }                                                                                                 \
        if (c < c_hi) {                                                                                   \
            acc[0] = acc[1] = acc[2] = acc[3] = bias != NULL ? bias[c] : 0;                               \
            ea_m4_dot2x2_##T(xa, xb, w, w, n, acc);                                                       \
            EA_M4_STORE(K, oa + c, acc[0], shift[c], clamp);                                              \
            if (ob != NULL)                                                                               \
                EA_M4_STORE(K, ob + c, acc[2], shift[c], clamp);                                          \
        }                                                                                                 \
    }

#define EA_M4_DEFINE_PIXELS_ALL(T)                                                                        \
    EA_M4_DEFINE_PIXELS(T, S8)                                                                            \
    EA_M4_DEFINE_PIXELS(T, U8)                                                                            \
    EA_M4_DEFINE_PIXELS(T, U7)                                                                            \
    EA_M4_DEFINE_PIXELS(T, HI)                                                                            \
    static inline ea_m4_pixels_fn ea_m4_pixels_##T(ea_m4_sat_t k)                                         \
    {                                                                                                     \
        return k == EA_M4_S8 ? ea_m4_pixels2_##T##_S8                                                     \
                             : (k == EA_M4_U8 ? ea_m4_pixels2_##T##_U8                                    \
                                              : (k == EA_M4_U7 ? ea_m4_pixels2_##T##_U7 : ea_m4_pixels2_##T##_HI)); \
    }

EA_M4_DEFINE_PIXELS_ALL(s8)
EA_M4_DEFINE_PIXELS_ALL(u8)
EA_M4_DEFINE_PIXELS_ALL(q15)

/* The pixel-pair function for 8-bit activations of type t and the clamp of this call. */
static inline ea_m4_pixels_fn ea_m4_pick(ea_dtype_t t, ea_clamp_t clamp)
{
    return t == EA_UINT8 ? ea_m4_pixels_u8(ea_m4_sat_kind(clamp)) : ea_m4_pixels_s8(ea_m4_sat_kind(clamp));
}

/* Word-at-a-time byte copy and zero fill (patches are short: no libc call). */
static inline void ea_m4_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4)
        ea_wr32(dst, ea_rd32(src));
    for (; n > 0; n--)
        *dst++ = *src++;
}

static inline void ea_m4_zero(int8_t *dst, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4)
        ea_wr32(dst, 0u);
    for (; n > 0; n--)
        *dst++ = 0;
}

/* The im2col patch [ky][kx][c] of the output pixel whose window starts at (iy0, ix0), groups 1:
 * a window row inside the input is one contiguous HWC run, copied at once. */
static inline void ea_m4_gather(const ea_conv_params_t *p, const int8_t *input, int32_t iy0, int32_t ix0,
                                int8_t *patch)
{
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w, in_c = p->in_c, run = kw * in_c;
    const int32_t full = ix0 >= 0 && ix0 + kw <= p->in_w;
    int32_t ky, kx;
    for (ky = 0; ky < kh; ky++, patch += run) {
        const int32_t iy = iy0 + ky;
        const int8_t *row = input + iy * p->in_w * in_c;
        if (iy < 0 || iy >= p->in_h) {
            ea_m4_zero(patch, run);
        } else if (full) {
            ea_m4_copy(patch, row + ix0 * in_c, run);
        } else {
            for (kx = 0; kx < kw; kx++) {
                const int32_t ix = ix0 + kx;
                if (ix < 0 || ix >= p->in_w)
                    ea_m4_zero(patch + kx * in_c, in_c);
                else
                    ea_m4_copy(patch + kx * in_c, row + ix * in_c, in_c);
            }
        }
    }
}

/* True when the SIMD paths handle p: one group (grouped convolutions run the reference). 4/2-bit
 * weights are unpacked to int8 rows a block of channels at a time (ea_m4_unpack_rows). */
static inline int ea_m4_dense_ok(const ea_conv_params_t *p)
{
    return p->groups == 1;
}

/* Bytes of unpacked int8 rows kept at once for 4/2-bit weights: the block is the largest even
 * number of rows of k values within this budget (2 at least, out_c rounded up to even at most). */
#define EA_M4_UNPACK_BUDGET 4096

static inline int32_t ea_m4_block_rows(int32_t k, int32_t out_c)
{
    const int32_t fit = k > 0 ? (EA_M4_UNPACK_BUDGET / k) & ~1 : 2, most = (out_c + 1) & ~1;
    return fit < 2 ? 2 : (fit > most ? most : fit);
}

/* Scratch for the unpacked rows of a layer with `bits`-wide weights (none for 8-bit). */
static inline int32_t ea_m4_unpack_bytes(int32_t bits, int32_t k, int32_t out_c)
{
    return bits == 8 ? 0 : ea_m4_block_rows(k, out_c) * k;
}

/* Weight i of a row of 8/4/2-bit weights (docs/fixed-point.md section 2). */
static inline int32_t ea_m4_weight_at(const int8_t *row, int32_t bits, int32_t i)
{
    const uint8_t *w = (const uint8_t *)row;
    if (bits == 8)
        return row[i];
    if (bits == 4)
        return EA_FIELD(w[i >> 1], (i & 1) * 4, 4);
    return EA_FIELD(w[i >> 2], (i & 3) * 2, 2);
}

/* Rows [c_lo, c_hi) of packed 4/2-bit weights (rows of k values, ea_packed_row_bytes apart; docs/
 * fixed-point.md section 2) as int8 rows of k bytes at dst: once per block of rows, then every
 * pixel pair of the box runs the 8-bit loops on them. */
static inline void ea_m4_unpack_rows(const int8_t *packed, int32_t bits, int32_t k, int32_t c_lo, int32_t c_hi,
                                     int8_t *dst)
{
    const int32_t rb = ea_packed_row_bytes(k, bits);
    int32_t c, i;
    for (c = c_lo; c < c_hi; c++, dst += k) {
        const uint8_t *w = (const uint8_t *)packed + c * rb;
        if (bits == 4) {
            for (i = 0; i + 2 <= k; i += 2, w++) {
                dst[i] = (int8_t)EA_FIELD(*w, 0, 4);
                dst[i + 1] = (int8_t)EA_FIELD(*w, 4, 4);
            }
            if (i < k)
                dst[i] = (int8_t)EA_FIELD(*w, 0, 4);
        } else {
            for (i = 0; i < k; i++)
                dst[i] = (int8_t)EA_FIELD(w[i >> 2], (i & 3) * 2, 2);
        }
    }
}

/* ---- the pixel-pair path of ea_m4_pair.h for one call's channel range */

typedef struct {
    int32_t *tab;   /* ea_m4_pair_table of the range's channel pairs */
    uint32_t *q;    /* the pair buffer */
    int32_t pairs;  /* channel pairs of the range (an odd last channel runs `pixels`) */
    int unsigned_in;
    ea_m4_pair_fn two, one;
    ea_m4_pixels_fn pixels;
} ea_m4_pair_plan_t;

/* The plan for k 8-bit activations of type t and the output channels [c_lo, c_hi) in scratch
 * (ea_m4_pair_scratch_bytes); 0 when a shift rules the path out. */
static inline int ea_m4_pair_plan(ea_m4_pair_plan_t *pl, int8_t *scratch, int32_t k, const int32_t *bias,
                                  const int8_t *shift, ea_clamp_t clamp, ea_dtype_t t, int32_t c_lo, int32_t c_hi)
{
    const ea_m4_sat_t kind = ea_m4_sat_kind(clamp);
    pl->tab = (int32_t *)(void *)ea_m4_align4(scratch);
    pl->pairs = (c_hi - c_lo) >> 1;
    pl->q = (uint32_t *)(void *)(pl->tab + 4 * pl->pairs);
    pl->unsigned_in = t == EA_UINT8;
    pl->two = ea_m4_pair_pick(kind, 1);
    pl->one = ea_m4_pair_pick(kind, 0);
    pl->pixels = ea_m4_pick(t, clamp);
    (void)k;
    return ea_m4_pair_table(bias, shift, c_lo, pl->pairs, pl->tab);
}

/* Output pixels oa, ob (ob NULL: only oa) of the channels [c_lo, c_hi) (a block of the plan's
 * range, starting an even count of channels after its first, c_base) from the k activations at
 * xa, xb: widened once into the pair buffer, then every channel pair from it. w is the weight row
 * of channel c_lo, the others follow k bytes apart. */
static inline void ea_m4_pair_run(const ea_m4_pair_plan_t *pl, const int8_t *xa, const int8_t *xb, int32_t k,
                                  const int8_t *w, const int32_t *bias, const int8_t *shift, ea_clamp_t clamp,
                                  int32_t c_base, int32_t c_lo, int32_t c_hi, int8_t *oa, int8_t *ob)
{
    const int32_t pairs = (c_hi - c_lo) >> 1, last = c_hi - 1;
    const int32_t *tab = pl->tab + 4 * ((c_lo - c_base) >> 1);
    if (ob == NULL)
        xb = xa;
    if (pl->unsigned_in)
        ea_m4_widen2_u8(xa, xb, k, pl->q);
    else
        ea_m4_widen2_s8(xa, xb, k, pl->q);
    if (pairs > 0) {
        if (ob != NULL)
            pl->two(pl->q, k, w, tab, pairs, clamp.hi, oa + c_lo, ob + c_lo);
        else
            pl->one(pl->q, k, w, tab, pairs, clamp.hi, oa + c_lo, NULL);
    }
    if ((c_hi - c_lo) & 1) /* the odd last channel: the on-the-fly loop, as a one-channel range */
        pl->pixels(xa, xb, w + (last - c_lo) * k, k, bias != NULL ? bias + last : NULL, shift + last, clamp, k, 0, 1,
                   oa + last, ob != NULL ? ob + last : NULL);
}

/* True when the Cin = 1 path (ea_m4_cin1.h) runs p. */
static inline int ea_m4_cin1(const ea_conv_params_t *p)
{
    return p->in_c == 1 && p->groups == 1;
}

#include "ea_m4_cin1.h"

/* The drop-ins' ea_conv2d_s8 scratch: the Cin = 1 path's, or the reference's two patches and
 * the pair path's table and pair buffer (ea_m4_pair.h), with 4/2-bit weights also a block of
 * unpacked rows. */
static inline int32_t ea_m4_conv_scratch_bytes(const ea_conv_params_t *p)
{
    if (!ea_m4_dense_ok(p))
        return ea_conv_scratch_bytes(p);
    if (ea_m4_cin1(p))
        return ea_m4_cin1_bytes(p);
    return ea_conv_scratch_bytes(p) + ea_m4_unpack_bytes(p->weight_bits, ea_conv_row_len(p), p->out_c) +
           ea_m4_pair_scratch_bytes(ea_conv_row_len(p), p->out_c);
}

/*
 * The outputs of box b of a dense convolution (one group), written into `out` (rows b->y0
 * onwards, as ea_conv_box): the box's pixels in pairs (a pair may span two rows), each gathered
 * into its own patch, then every channel pair of the pixel pair from one pair buffer
 * (ea_m4_pair.h). 4/2-bit weights: per block of channels (ea_m4_block_rows) the rows are unpacked
 * once, then every pixel pair runs on them. A one-channel input takes ea_m4_cin1_box, whose q15
 * weights wq_ready says are already in scratch (ea_m4_cin1_weights).
 * scratch: ea_m4_conv_scratch_bytes (patches, unpacked rows, pair scratch).
 */
static inline void ea_m4_conv_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                  const int32_t *bias, const ea_box_t *b, int8_t *out, int8_t *scratch,
                                  int wq_ready)
{
    const int32_t out_w = ea_conv_out_w(p), out_c = p->out_c, bits = p->weight_bits;
    const int32_t bw = b->x1 - b->x0, end = (b->y1 - b->y0) * bw;
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    const int32_t n = ea_conv_row_len(p);
    const ea_m4_pixels_fn pixels = ea_m4_pick(p->in_type, clamp);
    int8_t *pa = scratch, *pb = scratch + n, *rows = scratch + 2 * n;
    const int32_t block = bits == 8 ? b->c1 - b->c0 : ea_m4_block_rows(n, out_c);
    ea_m4_pair_plan_t plan;
    int pair;
    int32_t q, cb;
    if (ea_m4_cin1(p)) {
        ea_m4_cin1_box(p, input, weights, bias, b, out, scratch, wq_ready);
        return;
    }
    pair = ea_m4_pair_plan(&plan, rows + ea_m4_unpack_bytes(bits, n, out_c), n, bias, p->shift, clamp,
                           p->in_type, b->c0, b->c1);
    if (!pair && bits != 8) { /* a shift outside 0..31 with packed weights: the reference loop */
        ea_conv_box(p, input, weights, bias, b, out, scratch);
        return;
    }
    for (cb = b->c0; cb < b->c1; cb += block) {
        const int32_t ce = cb + block < b->c1 ? cb + block : b->c1;
        const int8_t *w = weights + cb * n;
        if (bits != 8) {
            ea_m4_unpack_rows(weights, bits, n, cb, ce, rows);
            w = rows;
        }
        for (q = 0; q < end; q += 2) {
            const int32_t ya = q / bw, xa = b->x0 + q - ya * bw;
            const int32_t iya = (b->y0 + ya) * p->win.stride_h - p->win.pad_top, ixa = xa * p->win.stride_w - p->win.pad_left;
            int8_t *oa = out + (ya * out_w + xa) * out_c, *ob = NULL;
            const int8_t *xb = pa;
            ea_m4_gather(p, input, iya, ixa, pa);
            if (q + 1 < end) {
                const int32_t yb = xa + 1 < b->x1 ? ya : ya + 1, xbx = xa + 1 < b->x1 ? xa + 1 : b->x0;
                const int32_t iyb = (b->y0 + yb) * p->win.stride_h - p->win.pad_top, ixb = xbx * p->win.stride_w - p->win.pad_left;
                ea_m4_gather(p, input, iyb, ixb, pb);
                ob = out + (yb * out_w + xbx) * out_c;
                xb = pb;
            }
            if (pair)
                ea_m4_pair_run(&plan, pa, xb, n, w, bias, p->shift, clamp, b->c0, cb, ce, oa, ob);
            else /* 8-bit weights, a shift outside 0..31: the on-the-fly loop */
                pixels(pa, xb, weights, n, bias, p->shift, clamp, n, b->c0, b->c1, oa, ob);
        }
    }
}

/* acc[0] = ba + x.wa, acc[1] = bb + x.wb for k activations of type t and two 8-bit weight rows. */
static inline void ea_m4_fc_pair(const int8_t *x, ea_dtype_t t, const int8_t *wa, const int8_t *wb, int32_t k,
                                 int32_t ba, int32_t bb, int32_t *acc)
{
    acc[0] = ba, acc[1] = bb;
    if (t == EA_UINT8)
        ea_m4_dot1x2_u8(x, wa, wb, k, acc);
    else
        ea_m4_dot1x2_s8(x, wa, wb, k, acc);
}

/* out[c] = max(out[c], v[c]) for n channels of type t, 4 at a time (USUB8/SSUB8 + SEL). */
static inline void ea_m4_max_into(int8_t *out, const int8_t *v, int32_t n, ea_dtype_t t)
{
    int32_t i = 0;
    if (t == EA_UINT8) {
        for (; i + 4 <= n; i += 4)
            ea_wr32(out + i, ea_max4_u8(ea_rd32(out + i), ea_rd32(v + i)));
    } else {
        for (; i + 4 <= n; i += 4)
            ea_wr32(out + i, ea_max4_s8(ea_rd32(out + i), ea_rd32(v + i)));
    }
    if (i < n)
        ea_max_into(out + i, v + i, n - i, t);
}

/* Fill n bytes with `value`, a word at a time. */
static inline void ea_m4_fill(int8_t *dst, int8_t value, int32_t n)
{
    const uint32_t word = (uint32_t)(uint8_t)value * 0x01010101u;
    for (; n >= 4; n -= 4, dst += 4)
        ea_wr32(dst, word);
    for (; n > 0; n--)
        *dst++ = value;
}

#endif /* EA_M4_CORE_H */
