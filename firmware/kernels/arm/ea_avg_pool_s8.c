/*
 * ea_avg_pool_s8 (Cortex-M4 drop-in) - same name, arguments and results as
 * firmware/kernels/ea_avg_pool_s8.c (average and global average pooling, no scratch).
 *
 * 4 channels of a window position are one word: widened to halfword pairs (SXTB16 for int8,
 * UXTB16 for uint8) and summed with SADD16, so a window term costs 5 instructions per 4 channels
 * (+ the pointer step and loop test). A signed halfword holds 128 terms of either type exactly, so
 * the pair sums move to 32-bit sums every 128 terms (once per window for every pool but a large
 * global one).
 * The epilogue is mul + add + asr + ssat/usat + strb, the loop instantiated per saturation kind.
 * Channels past the last multiple of 4 take the reference loop.
 */
#include "ea_m4_eltwise.h"

#define EA_AVG_TERMS 128 /* window terms a halfword pair sum holds */

static ea_status_t ea_avg_pool_check(const ea_avg_pool_params_t *p)
{
    if (p == NULL || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || !ea_act_valid(p->act))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->in_type) || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    if (p->multiplier < 1 || p->multiplier > 65536 || p->shift < 1 || p->shift > 30)
        return EA_ERR_ARG;
    /* sum * M must fit int32: 255 * N * M stays near 2^24 for the M the spec defines. */
    if ((int64_t)255 * p->win.kernel_h * p->win.kernel_w * p->multiplier >= ((int64_t)1 << 30))
        return EA_ERR_ARG;
    return ea_window_check(&p->win, p->in_h, p->in_w);
}

/* One output pixel's window, clipped to the input: rows [ky_lo, ky_hi), columns [kx_lo, kx_hi). */
typedef struct {
    const int8_t *first; /* the window's first term inside the input, channel 0 */
    int32_t rows, cols, row_step, ch;
} ea_avg_window_t;

/* The 4 channel sums at w.first + c (c..c+3 inside the tensor) of int8 (SXTB16) or uint8 (UXTB16)
 * terms: 128 terms of either fit a signed halfword (|s| <= 128, u <= 255). */
#define EA_AVG_DEFINE_SUM4(T, EXT, EXTR)                                                                  \
    static void ea_avg_sum4_##T(const ea_avg_window_t *w, int32_t c, int32_t *t)                          \
    {                                                                                                     \
        const int32_t step = w->ch;                                                                       \
        int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, pending = 0, ky;                                          \
        uint32_t se = 0, so = 0; /* (c, c+2) and (c+1, c+3) */                                            \
        for (ky = 0; ky < w->rows; ky++) {                                                                \
            const int8_t *v = w->first + ky * w->row_step + c;                                            \
            int32_t n = w->cols;                                                                          \
            while (n > 0) {                                                                               \
                int32_t m = EA_AVG_TERMS - pending;                                                       \
                const int8_t *end;                                                                        \
                if (m > n)                                                                                \
                    m = n;                                                                                \
                for (end = v + m * step; v != end; v += step) {                                           \
                    const uint32_t x = ea_rd32(v);                                                        \
                    se = ea_sadd16_acc(se, EXT(x));                                                       \
                    so = ea_sadd16_acc(so, EXTR(x));                                                      \
                }                                                                                         \
                n -= m;                                                                                   \
                pending += m;                                                                             \
                if (pending == EA_AVG_TERMS) {                                                            \
                    t0 += ea_m4e_lo(se), t1 += ea_m4e_lo(so), t2 += ea_m4e_hi(se), t3 += ea_m4e_hi(so);   \
                    se = so = 0, pending = 0;                                                             \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        t[0] = t0 + ea_m4e_lo(se), t[1] = t1 + ea_m4e_lo(so);                                             \
        t[2] = t2 + ea_m4e_hi(se), t[3] = t3 + ea_m4e_hi(so);                                             \
    }

EA_AVG_DEFINE_SUM4(s8, ea_sxtb16, ea_sxtb16_ror8)
EA_AVG_DEFINE_SUM4(u8, ea_uxtb16, ea_uxtb16_ror8)

/* The window sum of channel c the reference way (the channels past the last multiple of 4). */
static inline int32_t ea_avg_sum1(const ea_avg_window_t *w, int32_t c, ea_dtype_t t)
{
    int32_t sum = 0, ky, kx;
    for (ky = 0; ky < w->rows; ky++) {
        const int8_t *v = w->first + ky * w->row_step + c;
        for (kx = 0; kx < w->cols; kx++, v += w->ch)
            sum += ea_get(v, t);
    }
    return sum;
}

#define EA_AVG_DEFINE_PIXEL(K)                                                                            \
    static void ea_avg_pixel_##K(const ea_avg_pool_params_t *p, const ea_avg_window_t *w, int32_t c0,     \
                                 int32_t c1, int8_t *o, int32_t hi)                                        \
    {                                                                                                     \
        const int32_t mul = p->multiplier, s = p->shift, r = (int32_t)1 << (p->shift - 1);                \
        const int u8 = p->in_type == EA_UINT8;                                                            \
        int32_t c = c0, t[4], j;                                                                          \
        (void)hi;                                                                                         \
        for (; c + 4 <= c1; c += 4) {                                                                     \
            if (u8)                                                                                       \
                ea_avg_sum4_u8(w, c, t);                                                                  \
            else                                                                                          \
                ea_avg_sum4_s8(w, c, t);                                                                  \
            for (j = 0; j < 4; j++)                                                                       \
                ea_put(o + c + j, EA_M4E_SAT_##K((t[j] * mul + r) >> s, hi));                             \
        }                                                                                                 \
        for (; c < c1; c++)                                                                               \
            ea_put(o + c, EA_M4E_SAT_##K((ea_avg_sum1(w, c, p->in_type) * mul + r) >> s, hi));            \
    }

EA_AVG_DEFINE_PIXEL(S8)
EA_AVG_DEFINE_PIXEL(U8)
EA_AVG_DEFINE_PIXEL(U7)
EA_AVG_DEFINE_PIXEL(HI)

ea_status_t ea_avg_pool_s8(const ea_ctx_t *ctx, const ea_avg_pool_params_t *p, const int8_t *input,
                           int8_t *output)
{
    int32_t y, x;
    ea_box_t b;
    EA_CHECK_ARGS(ea_avg_pool_check(p));
    {
        const ea_window_t *win = &p->win;
        const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->channels;
        const int32_t out_h = ea_out_dim(in_h, win->kernel_h, win->stride_h, win->pad_top, win->pad_bottom);
        const int32_t out_w = ea_out_dim(in_w, win->kernel_w, win->stride_w, win->pad_left, win->pad_right);
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        const ea_m4e_sat_t kind = ea_m4e_sat_kind(clamp);
        ea_avg_window_t w;
        w.row_step = in_w * ch;
        w.ch = ch;
        b = ea_split_box(ctx, out_h, out_w, ch, EA_SPLIT_ROWS | EA_SPLIT_COLS | EA_SPLIT_CHANNELS, 0);
        for (y = b.y0; y < b.y1; y++) {
            const int32_t iy0 = y * win->stride_h - win->pad_top;
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
            const int32_t ky_hi = in_h - iy0 < win->kernel_h ? in_h - iy0 : win->kernel_h;
            for (x = b.x0; x < b.x1; x++) {
                const int32_t ix0 = x * win->stride_w - win->pad_left;
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
                const int32_t kx_hi = in_w - ix0 < win->kernel_w ? in_w - ix0 : win->kernel_w;
                int8_t *o = output + (y * out_w + x) * ch;
                /* a window wholly in padding has no term: rows or cols 0, sums 0 (as the reference) */
                w.rows = ky_hi > ky_lo ? ky_hi - ky_lo : 0;
                w.cols = kx_hi > kx_lo ? kx_hi - kx_lo : 0;
                w.first = w.rows && w.cols ? input + ((iy0 + ky_lo) * in_w + ix0 + kx_lo) * ch : input;
                switch (kind) {
                case EA_M4E_S8: ea_avg_pixel_S8(p, &w, b.c0, b.c1, o, clamp.hi); break;
                case EA_M4E_U8: ea_avg_pixel_U8(p, &w, b.c0, b.c1, o, clamp.hi); break;
                case EA_M4E_U7: ea_avg_pixel_U7(p, &w, b.c0, b.c1, o, clamp.hi); break;
                default: ea_avg_pixel_HI(p, &w, b.c0, b.c1, o, clamp.hi); break;
                }
            }
        }
    }
    return EA_OK;
}
