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

/* act(sat(rshift_round(acc, s))) stored as one byte: add + asr + clamp for s >= 0. */
static inline void ea_m4_store(int8_t *o, int32_t acc, int32_t s, ea_clamp_t c)
{
    int32_t v;
    if (s >= 0) {
        v = (acc + ((int32_t)(1u << s) >> 1)) >> s;
        v = v < c.lo ? c.lo : v;
        v = v > c.hi ? c.hi : v;
    } else {
        v = ea_requant(acc, s, c);
    }
    ea_put(o, v);
}

#define EA_M4_EXT_s8(x) ea_sxtb16(x)
#define EA_M4_EXT_u8(x) ea_uxtb16(x)
#define EA_M4_EXTR_s8(x) ea_sxtb16_ror8(x) /* the odd bytes b1, b3 */
#define EA_M4_EXTR_u8(x) ea_uxtb16_ror8(x)

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
        while (xa < end) {                                                                                \
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

/*
 * Output pixels oa and ob (ob NULL: only oa) for the output channels [c0, c1): pixel activations
 * xa, xb of n values each (an im2col patch, or an input pixel for 1x1), 8-bit weight rows of n
 * bytes. Channels go in pairs; an odd last channel repeats its row.
 */
#define EA_M4_DEFINE_PIXELS(T)                                                                            \
    static inline void ea_m4_pixels2_##T(const int8_t *xa, const int8_t *xb, const int8_t *weights,       \
                                         const int32_t *bias, const int8_t *shift, ea_clamp_t clamp,       \
                                         int32_t n, int32_t c_lo, int32_t c_hi, int8_t *oa, int8_t *ob)    \
    {                                                                                                     \
        int32_t c;                                                                                        \
        for (c = c_lo; c < c_hi; c += 2) {                                                                \
            const int32_t c1 = c + 1 < c_hi ? c + 1 : c;                                                  \
            const int32_t b0 = bias != NULL ? bias[c] : 0, b1 = bias != NULL ? bias[c1] : 0;              \
            int32_t acc[4];                                                                               \
            acc[0] = b0, acc[1] = b1, acc[2] = b0, acc[3] = b1;                                           \
            if (ob != NULL) {                                                                             \
                ea_m4_dot2x2_##T(xa, xb, weights + c * n, weights + c1 * n, n, acc);                      \
                ea_m4_store(ob + c, acc[2], shift[c], clamp);                                             \
                if (c1 != c)                                                                              \
                    ea_m4_store(ob + c1, acc[3], shift[c1], clamp);                                       \
            } else {                                                                                      \
                ea_m4_dot1x2_##T(xa, weights + c * n, weights + c1 * n, n, acc);                          \
            }                                                                                             \
            ea_m4_store(oa + c, acc[0], shift[c], clamp);                                                 \
            if (c1 != c)                                                                                  \
                ea_m4_store(oa + c1, acc[1], shift[c1], clamp);                                           \
        }                                                                                                 \
    }

EA_M4_DEFINE_PIXELS(s8)
EA_M4_DEFINE_PIXELS(u8)

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

/* True when the SIMD paths handle p: 8-bit weights, one group (the others run the reference). */
static inline int ea_m4_dense_ok(const ea_conv_params_t *p)
{
    return p->weight_bits == 8 && p->groups == 1;
}

/*
 * The outputs of box b of a dense convolution with 8-bit weights, written into `out` (rows b->y0
 * onwards, as ea_conv_box): the box's pixels in pairs (a pair may span two rows), each gathered
 * into its own patch (patches: 2 * kh * kw * in_c bytes), then every channel pair of the pixel
 * pair in one blocked dot product.
 */
static inline void ea_m4_conv_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                  const int32_t *bias, const ea_box_t *b, int8_t *out, int8_t *patches)
{
    const int32_t out_w = ea_conv_out_w(p), out_c = p->out_c, n = ea_conv_row_len(p);
    const int32_t bw = b->x1 - b->x0, end = (b->y1 - b->y0) * bw;
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    int8_t *pb = patches + n;
    int32_t q;
    for (q = 0; q < end; q += 2) {
        const int32_t ya = q / bw, xa = b->x0 + q - ya * bw;
        int8_t *oa = out + (ya * out_w + xa) * out_c, *ob = NULL;
        ea_m4_gather(p, input, (b->y0 + ya) * p->win.stride_h - p->win.pad_top,
                     xa * p->win.stride_w - p->win.pad_left, patches);
        if (q + 1 < end) {
            const int32_t yb = xa + 1 < b->x1 ? ya : ya + 1, xb = xa + 1 < b->x1 ? xa + 1 : b->x0;
            ea_m4_gather(p, input, (b->y0 + yb) * p->win.stride_h - p->win.pad_top,
                         xb * p->win.stride_w - p->win.pad_left, pb);
            ob = out + (yb * out_w + xb) * out_c;
        }
        if (p->in_type == EA_UINT8)
            ea_m4_pixels2_u8(patches, pb, weights, bias, p->shift, clamp, n, b->c0, b->c1, oa, ob);
        else
            ea_m4_pixels2_s8(patches, pb, weights, bias, p->shift, clamp, n, b->c0, b->c1, oa, ob);
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
