/*
 * ea_pointwise_conv2d_s8 - 1x1 convolution fast path, docs/fixed-point.md section 4.1.
 *
 * Same arithmetic and results as ea_conv2d_s8 for kernel 1x1, no padding, groups 1 (any stride):
 * each output is one dot product of an input pixel's channels with a weight row, no bounds tests.
 *   input   int8 or uint8 (in_type) [in_h][in_w][in_c]
 *   weights int8 [out_c][in_c] (8-bit), or packed rows of in_c values (4-bit, 2-bit)
 *   bias    int32 [out_c], or NULL
 *   output  int8 or uint8 (out_type) [out_h][out_w][out_c], out_h = (in_h - 1) / stride_h + 1; rows split by ea_split
 *   scratch none (weights, packed or not, are read in place)
 */
#include "ea_conv_core.h"

int32_t ea_pointwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    (void)p; /* an input pixel is already a contiguous patch */
    return 0;
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

    ea_split(ea_conv_out_h(p), ctx, &y0, &y1);
    if (y0 < y1) {
        const int32_t in_c = p->in_c, out_c = p->out_c, out_w = ea_conv_out_w(p);
        const int32_t bits = p->weight_bits, row_bytes = ea_packed_row_bytes(in_c, bits);
        const int32_t pixel_step = p->win.stride_w * in_c;
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        int8_t *o = output + y0 * out_w * out_c;
        for (y = y0; y < y1; y++) {
            const int8_t *xp = input + y * p->win.stride_h * p->in_w * in_c;
            for (x = 0; x < out_w; x++, xp += pixel_step) {
                const int8_t *w = weights;
                for (c = 0; c < out_c; c++, w += row_bytes) {
                    const int32_t acc = ea_dot_weights(xp, p->in_type, w, bits, in_c, bias != NULL ? bias[c] : 0);
                    ea_put(o++, ea_requant(acc, p->shift[c], clamp));
                }
            }
        }
    }
    return EA_OK;
}
