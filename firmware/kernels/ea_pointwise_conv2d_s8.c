/*
 * ea_pointwise_conv2d_s8 - 1x1 convolution fast path, docs/fixed-point.md section 4.1.
 *
 * Same arithmetic and results as ea_conv2d_s8 for kernel 1x1, no padding, groups 1 (any stride):
 * each output is one dot product of an input pixel's channels with a weight row, no bounds tests.
 *   input   int8 [in_h][in_w][in_c]                          values [-128, 127]
 *   weights int8 [out_c][in_c] (8-bit), or packed rows of in_c values (4-bit, 2-bit)
 *   bias    int32 [out_c], or NULL
 *   output  int8 [out_h][out_w][out_c], out_h = (in_h - 1) / stride_h + 1; rows split by ea_split
 *   scratch in_c bytes for 4/2-bit weights, else none
 */
#include "ea_conv_core.h"

int32_t ea_pointwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return ea_conv_weight_scratch(p);
}

static ea_status_t ea_pointwise_check(const ea_conv_params_t *p)
{
    ea_status_t st = ea_conv_check(p);
    if (st != EA_OK)
        return st;
    if (p->win.kernel_h != 1 || p->win.kernel_w != 1 || p->groups != 1 || p->win.pad_top != 0 ||
        p->win.pad_left != 0 || p->win.pad_bottom != 0 || p->win.pad_right != 0)
        return EA_ERR_ARG;
    return EA_OK;
}

ea_status_t ea_pointwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    int32_t y0, y1, c, y, x;
    EA_CHECK_ARGS(ea_pointwise_check(p));
    if (!ea_scratch_ok(ctx, ea_conv_weight_scratch(p)))
        return EA_ERR_BUFFER;

    ea_split(ea_conv_out_h(p), ctx, &y0, &y1);
    if (y0 < y1) {
        const int32_t in_c = p->in_c, out_c = p->out_c, out_w = ea_conv_out_w(p);
        const int32_t pixel_step = p->win.stride_w * in_c;
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out);
        int8_t *wbuf = ctx != NULL ? (int8_t *)ctx->buf : NULL;
        for (c = 0; c < out_c; c++) {
            const int8_t *w = ea_weight_row(weights, p->weight_bits, in_c, c, wbuf);
            const int32_t b = bias != NULL ? bias[c] : 0;
            const int32_t s = p->shift[c];
            int8_t *o = output + y0 * out_w * out_c + c;
            for (y = y0; y < y1; y++) {
                const int8_t *xp = input + y * p->win.stride_h * p->in_w * in_c;
                for (x = 0; x < out_w; x++, xp += pixel_step, o += out_c)
                    *o = ea_requant(ea_dot_s8(xp, w, in_c, b), s, clamp);
            }
        }
    }
    return EA_OK;
}
