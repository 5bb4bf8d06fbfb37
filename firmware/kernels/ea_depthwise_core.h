/*
 * ea_depthwise_core.h - private to firmware/kernels/: the row loop of the reference depthwise
 * kernel (ea_depthwise_conv2d_s8.c), also the fallback of its Cortex-M4 drop-in for the cases
 * without a SIMD path (static inline functions, not a kernel).
 */
#ifndef EA_DEPTHWISE_CORE_H
#define EA_DEPTHWISE_CORE_H

#include "ea_conv_core.h"

static inline ea_status_t ea_depthwise_check(const ea_conv_params_t *p)
{
    ea_status_t st = ea_conv_check(p);
    if (st != EA_OK)
        return st;
    return p->groups == p->in_c ? EA_OK : EA_ERR_ARG;
}

/* acc[c - c0] += x[c / m] * w[pos][c] for output channels c in [c0, c1): the taps of one window
 * position. Weights are tap-major (ea_kernels.h): the row of tap `pos` holds out_c weights. */
static inline void ea_depthwise_tap(const int8_t *x, const int8_t *weights, int32_t pos, const ea_conv_params_t *p,
                                    int32_t c0, int32_t c1, int32_t *acc)
{
    const int32_t m = p->out_c / p->in_c, bits = p->weight_bits;
    const int8_t *w = weights + pos * ea_packed_row_bytes(p->out_c, bits);
    int32_t c;
    if (m == 1 && bits == 8 && p->in_type == EA_UINT8) {
        const uint8_t *xu = (const uint8_t *)x;
        for (c = c0; c < c1; c++)
            acc[c - c0] += (int32_t)xu[c] * w[c];
    } else if (m == 1 && bits == 8) {
        for (c = c0; c < c1; c++)
            acc[c - c0] += (int32_t)x[c] * w[c];
    } else {
        const uint8_t *wu = (const uint8_t *)w;
        const int32_t per_byte = 8 / bits;
        for (c = c0; c < c1; c++)
            acc[c - c0] += ea_get(x + c / m, p->in_type) * EA_FIELD(wu[c / per_byte], (c % per_byte) * bits, bits);
    }
}

/* The outputs of box b, written into `out` (holding rows b->y0 onwards, as ea_conv_box);
 * acc: b->c1 - b->c0 int32 accumulators. */
static inline void ea_depthwise_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                    const int32_t *bias, const ea_box_t *b, int8_t *out, int32_t *acc)
{
    const ea_window_t *win = &p->win;
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int32_t out_w = ea_conv_out_w(p), c0 = b->c0, c1 = b->c1;
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    int32_t y, x, ky, kx, c;
    for (y = b->y0; y < b->y1; y++) {
        const int32_t iy0 = y * win->stride_h - win->pad_top;
        const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
        const int32_t ky_hi = in_h - iy0 < win->kernel_h ? in_h - iy0 : win->kernel_h;
        for (x = b->x0; x < b->x1; x++) {
            const int32_t ix0 = x * win->stride_w - win->pad_left;
            const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
            const int32_t kx_hi = in_w - ix0 < win->kernel_w ? in_w - ix0 : win->kernel_w;
            int8_t *o = out + ((y - b->y0) * out_w + x) * out_c;
            for (c = c0; c < c1; c++)
                acc[c - c0] = bias != NULL ? bias[c] : 0;
            for (ky = ky_lo; ky < ky_hi; ky++)
                for (kx = kx_lo; kx < kx_hi; kx++)
                    ea_depthwise_tap(input + ((iy0 + ky) * in_w + ix0 + kx) * in_c, weights,
                                     ky * win->kernel_w + kx, p, c0, c1, acc);
            for (c = c0; c < c1; c++)
                ea_put(o + c, ea_requant(acc[c - c0], p->shift[c], clamp));
        }
    }
}

#endif /* EA_DEPTHWISE_CORE_H */
