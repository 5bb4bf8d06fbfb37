/*
 * ea_pointwise_conv2d_s8 - 1x1 convolution fast path, docs/fixed-point.md section 4.1.
 *
 * Same arithmetic and results as ea_conv2d_s8 for kernel 1x1, no padding, groups 1 (any stride):
 * each output is one dot product of an input pixel's channels with a weight row, no bounds tests.
 *   input   int8 or uint8 (in_type) [in_h][in_w][in_c]
 *   weights int8 [out_c][in_c] (8-bit), or packed rows of in_c values (4-bit, 2-bit)
 *   bias    int32 [out_c], or NULL
 *   output  int8 or uint8 (out_type) [out_h][out_w][out_c], out_h = (in_h - 1) / stride_h + 1; box split by
 *           ea_conv_split
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
    ea_box_t b;
    EA_CHECK_ARGS(ea_pointwise_check(p));

    b = ea_conv_split(p, ctx, 0);
    if (!ea_box_empty(&b))
        ea_pointwise_box(p, input, weights, bias, &b, output + b.y0 * ea_conv_out_w(p) * p->out_c);
    return EA_OK;
}
