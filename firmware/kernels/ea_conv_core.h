/*
 * ea_conv_core.h - private to firmware/kernels/: parameter checks and the row loop shared by
 * ea_conv2d_s8 and ea_conv2d_maxpool_s8 (a header of static inline functions, not a kernel).
 */
#ifndef EA_CONV_CORE_H
#define EA_CONV_CORE_H

#include "ea_fixedpoint.h"
#include "ea_kernel_checks.h"
#include "ea_kernels.h"

/* R, the weights per output channel (0 for groups < 1, so buffer-size queries never divide by 0). */
static inline int32_t ea_conv_row_len(const ea_conv_params_t *p)
{
    return p->groups < 1 ? 0 : p->win.kernel_h * p->win.kernel_w * (p->in_c / p->groups);
}

static inline int32_t ea_conv_out_h(const ea_conv_params_t *p)
{
    return ea_out_dim(p->in_h, p->win.kernel_h, p->win.stride_h, p->win.pad_top, p->win.pad_bottom);
}

static inline int32_t ea_conv_out_w(const ea_conv_params_t *p)
{
    return ea_out_dim(p->in_w, p->win.kernel_w, p->win.stride_w, p->win.pad_left, p->win.pad_right);
}

/* Scratch for unpacking one weight row. */
static inline int32_t ea_conv_weight_scratch(const ea_conv_params_t *p)
{
    return p->weight_bits == 8 ? 0 : ea_conv_row_len(p);
}

static inline ea_status_t ea_conv_check(const ea_conv_params_t *p)
{
    ea_status_t st;
    if (p == NULL || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1)
        return EA_ERR_ARG;
    if (p->in_c % p->groups != 0 || p->out_c % p->groups != 0)
        return EA_ERR_ARG;
    if (!ea_weight_bits_valid(p->weight_bits) || !ea_act_valid(p->act))
        return EA_ERR_ARG;
    st = ea_window_check(&p->win, p->in_h, p->in_w);
    if (st != EA_OK)
        return st;
    return ea_shifts_check(p->shift, p->out_c);
}

/*
 * Output rows [y0, y1) of the convolution, all channels, written HWC to `out` (row y0 first).
 * Channel-outer so a packed weight row is unpacked once per call into `wbuf` (R bytes).
 * Only the in-bounds part of each window is visited: padding contributes 0.
 */
static inline void ea_conv_rows(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                const int32_t *bias, int32_t y0, int32_t y1, int8_t *out, int8_t *wbuf)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w;
    const int32_t sh = p->win.stride_h, sw = p->win.stride_w;
    const int32_t out_w = ea_conv_out_w(p);
    const int32_t cin_g = in_c / p->groups;
    const int32_t cout_g = out_c / p->groups;
    const int32_t row_len = ea_conv_row_len(p);
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out);
    int32_t c, y, x, ky, kx;

    for (c = 0; c < out_c; c++) {
        const int8_t *w = ea_weight_row(weights, p->weight_bits, row_len, c, wbuf);
        const int8_t *in_group = input + (c / cout_g) * cin_g; /* first input channel of c's group */
        const int32_t b = bias != NULL ? bias[c] : 0;
        const int32_t s = p->shift[c];
        int8_t *o = out + c;

        for (y = y0; y < y1; y++) {
            const int32_t iy0 = y * sh - p->win.pad_top;
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
            const int32_t ky_hi = in_h - iy0 < kh ? in_h - iy0 : kh;
            for (x = 0; x < out_w; x++, o += out_c) {
                const int32_t ix0 = x * sw - p->win.pad_left;
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
                const int32_t kx_hi = in_w - ix0 < kw ? in_w - ix0 : kw;
                int32_t acc = b;
                for (ky = ky_lo; ky < ky_hi; ky++) {
                    const int8_t *xp = in_group + ((iy0 + ky) * in_w + ix0 + kx_lo) * in_c;
                    const int8_t *wp = w + (ky * kw + kx_lo) * cin_g;
                    if (cin_g == 1) { /* depthwise: one tap per kernel position */
                        for (kx = kx_lo; kx < kx_hi; kx++, xp += in_c, wp++)
                            acc += (int32_t)*xp * *wp;
                    } else {
                        for (kx = kx_lo; kx < kx_hi; kx++, xp += in_c, wp += cin_g)
                            acc = ea_dot_s8(xp, wp, cin_g, acc);
                    }
                }
                *o = ea_requant(acc, s, clamp);
            }
        }
    }
}

#endif /* EA_CONV_CORE_H */
