/*
 * ea_conv2d_s8 - convolution with 8-bit activations, docs/fixed-point.md section 4.1.
 *
 * Covers dense (groups = 1), grouped, depthwise (groups = in_c, channel multiplier out_c / in_c)
 * and any kernel size, stride and asymmetric padding; weights 8-bit or packed 4/2-bit.
 *   input   int8 or uint8 (in_type) [in_h][in_w][in_c]       values [-128, 127] or [0, 255]
 *   weights int8 [out_c][kh][kw][in_c / groups] (8-bit), or packed rows (4-bit [-8, 7], 2-bit [-2, 1])
 *   bias    int32 [out_c] (FL_in + FL_w[c]), or NULL
 *   output  int8 or uint8 (out_type) [out_h][out_w][out_c]; this core writes the share
 *           ea_split_box_pixels gives it (rows, columns, channels or a range of pixels, whichever
 *           leaves the busiest core the least work)
 *   scratch 2 * kh * kw * in_c bytes: the im2col patches of two output pixels (8-bit weights run
 *           2 pixels x 2 channels per dot product, ea_dot2x2_<t>)
 */
#include "ea_conv_core.h"

int32_t ea_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return ea_conv_scratch_bytes(p);
}

ea_status_t ea_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                         const int8_t *weights, const int32_t *bias, int8_t *output)
{
    ea_box_t b;
    int32_t q0, q1;
    EA_CHECK_ARGS(ea_conv_check(p));
    if (!ea_scratch_ok(ctx, ea_conv2d_s8_get_buffer_size(p)))
        return EA_ERR_BUFFER;

    /* rows, columns, channels or pixel ranges: a 6 x 10 output on 8 cores cuts its 60 pixels 7-8
     * per core instead of its 10 columns 1-2 */
    b = ea_split_box_pixels(ctx, ea_conv_out_h(p), ea_conv_out_w(p), p->out_c,
                            EA_SPLIT_ROWS | EA_SPLIT_COLS | EA_SPLIT_CHANNELS | EA_SPLIT_PIXELS, EA_IM2COL_PIXEL_COST,
                            &q0, &q1);
    if (!ea_box_empty(&b) && q0 < q1) /* ctx is non-NULL here: the patch needs scratch */
        ea_conv_pixels(p, input, weights, bias, &b, q0, q1, output + b.y0 * ea_conv_out_w(p) * p->out_c,
                       (int8_t *)ctx->buf);
    return EA_OK;
}
