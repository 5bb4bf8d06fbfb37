/*
 * ea_avg_pool_s8 - average pooling and global average pooling, docs/fixed-point.md section 4.4.
 *
 * Every window has N = kernel_h * kernel_w terms (padding counts as zeros, count_include_pad=1);
 * global average pooling is the single window in_h x in_w.
 *   sum = sum of the window (int32, |sum| <= 255 N); out = act(sat(rshift_round(sum * M, shift)))
 *   with M = floor(2^16 / N + 1/2) and shift = 16 + FL_in - FL_out in [1, 30].
 *   input   int8 or uint8 (in_type) [in_h][in_w][channels]
 *   output  int8 or uint8 (out_type) [out_h][out_w][channels]; box split by ea_split_box
 *           (a global pool's one pixel is split over channels)
 *   scratch none
 */
#include "ea_kernel_checks.h"

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

ea_status_t ea_avg_pool_s8(const ea_ctx_t *ctx, const ea_avg_pool_params_t *p, const int8_t *input,
                           int8_t *output)
{
    int32_t y, x, ky, kx, c;
    ea_box_t b;
    EA_CHECK_ARGS(ea_avg_pool_check(p));
    {
        const ea_window_t *win = &p->win;
        const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->channels;
        const int32_t out_h = ea_out_dim(in_h, win->kernel_h, win->stride_h, win->pad_top, win->pad_bottom);
        const int32_t out_w = ea_out_dim(in_w, win->kernel_w, win->stride_w, win->pad_left, win->pad_right);
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        const ea_dtype_t in_type = p->in_type;
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
                /* channel-outer: no per-channel int32 accumulator array, hence no scratch */
                for (c = b.c0; c < b.c1; c++) {
                    int32_t sum = 0;
                    for (ky = ky_lo; ky < ky_hi; ky++) {
                        const int8_t *v = input + ((iy0 + ky) * in_w + ix0 + kx_lo) * ch + c;
                        for (kx = kx_lo; kx < kx_hi; kx++, v += ch)
                            sum += ea_get(v, in_type);
                    }
                    ea_put(o + c, ea_requant(sum * p->multiplier, p->shift, clamp));
                }
            }
        }
    }
    return EA_OK;
}
