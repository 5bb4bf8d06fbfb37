/*
 * ea_depthwise_conv2d_s8 - depthwise convolution, docs/fixed-point.md section 4.1 with
 * groups = in_c and a channel multiplier m = out_c / in_c >= 1 (output channel c reads input
 * channel c / m). Same results as ea_conv2d_s8 with groups = in_c; faster because the loop over
 * channels is innermost, so one window position updates every channel's accumulator at once.
 *   input   int8 or uint8 (in_type) [in_h][in_w][in_c]
 *   weights tap-major int8 [kh][kw][out_c] (8-bit), or one packed row of out_c values per tap
 *           (4-bit, 2-bit): the weight of channel c at tap (ky, kx) is element c of row ky * kw + kx
 *   bias    int32 [out_c], or NULL
 *   output  int8 or uint8 (out_type) [out_h][out_w][out_c]; box split by ea_conv_split
 *   scratch out_c int32 accumulators: 4 * out_c bytes, 4-byte aligned
 */
#include "ea_depthwise_core.h"

int32_t ea_depthwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return p->out_c * (int32_t)sizeof(int32_t);
}

ea_status_t ea_depthwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    ea_box_t b;
    EA_CHECK_ARGS(ea_depthwise_check(p));
    if (!ea_scratch_ok(ctx, ea_depthwise_conv2d_s8_get_buffer_size(p)) || ((uintptr_t)ctx->buf & 3u) != 0)
        return EA_ERR_BUFFER;
    b = ea_conv_split(p, ctx, 0);
    if (!ea_box_empty(&b))
        ea_depthwise_box(p, input, weights, bias, &b, output + b.y0 * ea_conv_out_w(p) * p->out_c,
                         (int32_t *)ctx->buf);
    return EA_OK;
}
