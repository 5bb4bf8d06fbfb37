/*
 * ea_max_pool_s8 - max pooling, docs/fixed-point.md section 4.3.
 *
 * Padded positions are never selected; the output keeps the input's FL and type (no requantization).
 *   input   int8 or uint8 (type) [in_h][in_w][channels]
 *   output  the same type, [out_h][out_w][channels], out_h = ea_out_dim(in_h, kernel_h, stride_h, pads);
 *           box (rows, columns or channels) split by ea_split_box
 *   scratch none
 */
#include "ea_kernel_checks.h"

static ea_status_t ea_max_pool_check(const ea_max_pool_params_t *p)
{
    if (p == NULL || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || !ea_dtype_valid(p->type))
        return EA_ERR_ARG;
    return ea_window_check(&p->win, p->in_h, p->in_w);
}

ea_status_t ea_max_pool_s8(const ea_ctx_t *ctx, const ea_max_pool_params_t *p, const int8_t *input,
                           int8_t *output)
{
    int32_t y, x, ky, kx;
    ea_box_t b;
    EA_CHECK_ARGS(ea_max_pool_check(p));
    {
        const ea_window_t *win = &p->win;
        const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->channels;
        const int32_t out_h = ea_out_dim(in_h, win->kernel_h, win->stride_h, win->pad_top, win->pad_bottom);
        const int32_t out_w = ea_out_dim(in_w, win->kernel_w, win->stride_w, win->pad_left, win->pad_right);
        const ea_dtype_t t = p->type;
        b = ea_split_box(ctx, out_h, out_w, ch, EA_SPLIT_ROWS | EA_SPLIT_COLS | EA_SPLIT_CHANNELS, 0);
        for (y = b.y0; y < b.y1; y++) {
            const int32_t iy0 = y * win->stride_h - win->pad_top;
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
            const int32_t ky_hi = in_h - iy0 < win->kernel_h ? in_h - iy0 : win->kernel_h;
            for (x = b.x0; x < b.x1; x++) {
                const int32_t ix0 = x * win->stride_w - win->pad_left;
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
                const int32_t kx_hi = in_w - ix0 < win->kernel_w ? in_w - ix0 : win->kernel_w;
                int8_t *o = output + (y * out_w + x) * ch + b.c0;
                /* the lowest code is the identity of max; a window wholly in padding keeps it */
                ea_fill_s8(o, t == EA_UINT8 ? 0 : -128, b.c1 - b.c0);
                for (ky = ky_lo; ky < ky_hi; ky++) {
                    const int8_t *v = input + ((iy0 + ky) * in_w + ix0 + kx_lo) * ch + b.c0;
                    for (kx = kx_lo; kx < kx_hi; kx++, v += ch)
                        ea_max_into(o, v, b.c1 - b.c0, t);
                }
            }
        }
    }
    return EA_OK;
}
