/*
 * ea_conv2d_s8 (Cortex-M4 drop-in) - same name, arguments and results as the reference kernel
 * firmware/kernels/ea_conv2d_s8.c. Dense convolutions run the pixel-pair path of ea_m4_core.h
 * (4/2-bit weights unpacked to int8 a block of rows at a time); grouped convolutions run the
 * reference row loop; a one-channel input (the first layer) keeps its short windows and weights
 * widened to q15 (ea_m4_cin1.h).
 *   scratch ea_m4_conv_scratch_bytes: the im2col patches of two output pixels, the unpacked rows
 *           and the pair path's table and buffer (for in_c = 1: two q15 patches, the q15 weights
 *           and the table)
 */
#include "ea_m4_core.h"

int32_t ea_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return ea_m4_conv_scratch_bytes(p);
}

ea_status_t ea_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                         const int8_t *weights, const int32_t *bias, int8_t *output)
{
    ea_box_t b;
    EA_CHECK_ARGS(ea_conv_check(p));
    if (!ea_scratch_ok(ctx, ea_conv2d_s8_get_buffer_size(p)))
        return EA_ERR_BUFFER;

    b = ea_conv_split(p, ctx, EA_IM2COL_PIXEL_COST);
    if (!ea_box_empty(&b)) {
        int8_t *out = output + b.y0 * ea_conv_out_w(p) * p->out_c;
        if (ea_m4_dense_ok(p))
            ea_m4_conv_box(p, input, weights, bias, &b, out, (int8_t *)ctx->buf, 0);
        else
            ea_conv_box(p, input, weights, bias, &b, out, (int8_t *)ctx->buf);
    }
    return EA_OK;
}
