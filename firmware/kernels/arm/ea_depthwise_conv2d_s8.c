/*
 * ea_depthwise_conv2d_s8 (Cortex-M4 drop-in) - same name, arguments, results and scratch as
 * firmware/kernels/ea_depthwise_conv2d_s8.c (tap-major weights [kh][kw][out_c]).
 * Channel multiplier 1 with 8-bit weights: per output pixel, 4 channels at a time keep their
 * accumulators in registers over the whole window; one activation word and one weight word per
 * tap, widened to halfword pairs and multiplied with SMLABB / SMLATT. Other cases run the
 * reference row loop.
 *   scratch 4 * out_c bytes, 4-byte aligned (the reference loop's accumulators)
 */
#include "../ea_depthwise_core.h"
#include "ea_m4_core.h"

int32_t ea_depthwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return p->out_c * (int32_t)sizeof(int32_t);
}

/* acc[0..3] += the window sums of 4 adjacent channels: `rows` window rows of `cols` taps from x
 * (input, row stride row_step) and w (tap-major weights, row stride tap_row); both step ch bytes
 * per tap. The accumulators stay in registers. */
#define EA_M4_DW_TAP(T, xp, wp)                                                                           \
    do {                                                                                                  \
        const uint32_t v = ea_rd32(xp), k = ea_rd32(wp);                                                  \
        const uint32_t ve = EA_M4_EXT_##T(v), ke = ea_sxtb16(k);                                          \
        const uint32_t vo = EA_M4_EXTR_##T(v), ko = ea_sxtb16_ror8(k);                                    \
        a0 = ea_smlabb(ve, ke, a0);                                                                       \
        a2 = ea_smlatt(ve, ke, a2);                                                                       \
        a1 = ea_smlabb(vo, ko, a1);                                                                       \
        a3 = ea_smlatt(vo, ko, a3);                                                                       \
    } while (0)

#define EA_M4_DEFINE_DW4(T)                                                                               \
    static inline void ea_m4_dw4_##T(const int8_t *x, const int8_t *w, int32_t rows, int32_t cols,        \
                                     int32_t ch, int32_t row_step, int32_t tap_row, int32_t *acc)          \
    {                                                                                                     \
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                       \
        if (rows == 3 && cols == 3) { /* a whole 3x3 window: unrolled, one index for x and w */           \
            int32_t r;                                                                                    \
            for (r = 0; r < 3; r++, x += row_step, w += tap_row) {                                        \
                EA_M4_DW_TAP(T, x, w);                                                                    \
                EA_M4_DW_TAP(T, x + ch, w + ch);                                                          \
                EA_M4_DW_TAP(T, x + 2 * ch, w + 2 * ch);                                                  \
            }                                                                                             \
        } else {                                                                                          \
            const int32_t span = cols * ch;                                                               \
            for (; rows > 0; rows--, x += row_step, w += tap_row) {                                       \
                const int8_t *xp = x, *wp = w, *end = x + span;                                           \
                for (; xp < end; xp += ch, wp += ch)                                                      \
                    EA_M4_DW_TAP(T, xp, wp);                                                              \
            }                                                                                             \
        }                                                                                                 \
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;                                               \
    }

/* The outputs of box b for channel multiplier 1 and 8-bit weights, into `out` (rows b->y0 onwards). */
#define EA_M4_DEFINE_DEPTHWISE(T, XT, K)                                                                  \
    static void ea_m4_depthwise_box_##T##_##K(const ea_conv_params_t *p, const int8_t *input,                  \
                                         const int8_t *weights, const int32_t *bias, const ea_box_t *b,    \
                                         int8_t *out)                                                      \
    {                                                                                                     \
        const ea_window_t *win = &p->win;                                                                 \
        const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->in_c, kw = win->kernel_w;                  \
        const int32_t out_w = ea_conv_out_w(p), row_step = in_w * ch, tap_row = kw * ch;                  \
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);                            \
        int32_t y, x, ky, kx, c;                                                                          \
        for (y = b->y0; y < b->y1; y++) {                                                                 \
            const int32_t iy0 = y * win->stride_h - win->pad_top;                                         \
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;                                                     \
            const int32_t ky_hi = in_h - iy0 < win->kernel_h ? in_h - iy0 : win->kernel_h;                \
            for (x = b->x0; x < b->x1; x++) {                                                             \
                int8_t *o = out + ((y - b->y0) * out_w + x) * ch;                                         \
                const int32_t ix0 = x * win->stride_w - win->pad_left;                                    \
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;                                                 \
                const int32_t kx_hi = in_w - ix0 < kw ? in_w - ix0 : kw;                                  \
                const int32_t rows = ky_hi - ky_lo, cols = kx_hi - kx_lo;                                 \
                const int8_t *x0 = input + ((iy0 + ky_lo) * in_w + ix0 + kx_lo) * ch;                     \
                const int8_t *w0 = weights + (ky_lo * kw + kx_lo) * ch;                                   \
                for (c = b->c0; c + 4 <= b->c1; c += 4) {                                                 \
                    int32_t acc[4] = {0, 0, 0, 0};                                                        \
                    if (bias != NULL)                                                                     \
                        acc[0] = bias[c], acc[1] = bias[c + 1], acc[2] = bias[c + 2], acc[3] = bias[c + 3]; \
                    ea_m4_dw4_##T(x0 + c, w0 + c, rows, cols, ch, row_step, tap_row, acc);                 \
                    EA_M4_STORE(K, o + c, acc[0], p->shift[c], clamp);                                    \
                    EA_M4_STORE(K, o + c + 1, acc[1], p->shift[c + 1], clamp);                            \
                    EA_M4_STORE(K, o + c + 2, acc[2], p->shift[c + 2], clamp);                            \
                    EA_M4_STORE(K, o + c + 3, acc[3], p->shift[c + 3], clamp);                            \
                }                                                                                         \
                for (; c < b->c1; c++) { /* the last channels of the box, fewer than 4 */                 \
                    int32_t a = bias != NULL ? bias[c] : 0;                                               \
                    const int8_t *xr = x0 + c, *wr = w0 + c;                                              \
                    for (ky = 0; ky < rows; ky++, xr += row_step, wr += tap_row)                          \
                        for (kx = 0; kx < cols; kx++)                                                     \
                            a += (int32_t)((const XT *)xr)[kx * ch] * wr[kx * ch];                        \
                    EA_M4_STORE(K, o + c, a, p->shift[c], clamp);                                         \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

EA_M4_DEFINE_DW4(s8)
EA_M4_DEFINE_DW4(u8)

typedef void (*ea_m4_dw_fn)(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                            const int32_t *bias, const ea_box_t *b, int8_t *out);

/* One instantiation per activation type and saturation kind (ea_m4_core.h). */
#define EA_M4_DEFINE_DEPTHWISE_ALL(T, XT)                                                                 \
    EA_M4_DEFINE_DEPTHWISE(T, XT, S8)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, U8)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, U7)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, HI)                                                                     \
    static ea_m4_dw_fn ea_m4_depthwise_##T(ea_m4_sat_t k)                                                 \
    {                                                                                                     \
        return k == EA_M4_S8 ? ea_m4_depthwise_box_##T##_S8                                               \
                             : (k == EA_M4_U8 ? ea_m4_depthwise_box_##T##_U8                              \
                                              : (k == EA_M4_U7 ? ea_m4_depthwise_box_##T##_U7              \
                                                               : ea_m4_depthwise_box_##T##_HI));          \
    }

EA_M4_DEFINE_DEPTHWISE_ALL(s8, int8_t)
EA_M4_DEFINE_DEPTHWISE_ALL(u8, uint8_t)

ea_status_t ea_depthwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    ea_box_t b;
    EA_CHECK_ARGS(ea_depthwise_check(p));
    if (!ea_scratch_ok(ctx, ea_depthwise_conv2d_s8_get_buffer_size(p)) || ((uintptr_t)ctx->buf & 3u) != 0)
        return EA_ERR_BUFFER;
    b = ea_conv_split(p, ctx, 0);
    if (!ea_box_empty(&b)) {
        int8_t *out = output + b.y0 * ea_conv_out_w(p) * p->out_c;
        if (p->out_c != p->in_c || p->weight_bits != 8)
            ea_depthwise_box(p, input, weights, bias, &b, out, (int32_t *)ctx->buf);
        else {
            const ea_m4_sat_t k = ea_m4_sat_kind(ea_act_clamp(p->act, p->fl_out, p->out_type));
            (p->in_type == EA_UINT8 ? ea_m4_depthwise_u8(k) : ea_m4_depthwise_s8(k))(p, input, weights, bias, &b, out);
        }
    }
    return EA_OK;
}
