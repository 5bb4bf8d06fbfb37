/*
 * ea_conv2d_maxpool_s8 (Cortex-M4 drop-in) - same name, arguments, results and scratch as
 * firmware/kernels/ea_conv2d_maxpool_s8.c: per pooled output row, the conv rows under the pool
 * window are computed one at a time into scratch (with 8-bit weights and one group by the SIMD
 * pixel-pair loop of ea_m4_core.h, which also serves the one-channel first layer: a window row
 * of the frame is one contiguous run) and max-reduced into the output row 4 bytes at a time.
 *   scratch one conv row (conv_w * out_c bytes, rounded up to 4) + the drop-in ea_conv2d_s8's scratch
 */
#include "ea_m4_core.h"

int32_t ea_conv2d_maxpool_s8_get_buffer_size(const ea_conv_maxpool_params_t *p)
{
    return ea_conv_pool_row_bytes(&p->conv) + ea_m4_conv_scratch_bytes(&p->conv);
}

static ea_status_t ea_conv_maxpool_check(const ea_conv_maxpool_params_t *p)
{
    ea_status_t st;
    if (p == NULL)
        return EA_ERR_ARG;
    st = ea_conv_check(&p->conv);
    if (st != EA_OK)
        return st;
    return ea_window_check(&p->pool, ea_conv_out_h(&p->conv), ea_conv_out_w(&p->conv));
}

ea_status_t ea_conv2d_maxpool_s8(const ea_ctx_t *ctx, const ea_conv_maxpool_params_t *p,
                                 const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output)
{
    int32_t py, px, ky, kx;
    ea_box_t b;
    EA_CHECK_ARGS(ea_conv_maxpool_check(p));
    if (!ea_scratch_ok(ctx, ea_conv2d_maxpool_s8_get_buffer_size(p)))
        return EA_ERR_BUFFER;
    {
        const ea_conv_params_t *conv = &p->conv;
        const ea_window_t *pool = &p->pool;
        const int32_t conv_h = ea_conv_out_h(conv), conv_w = ea_conv_out_w(conv);
        const int32_t pool_h = ea_out_dim(conv_h, pool->kernel_h, pool->stride_h, pool->pad_top, pool->pad_bottom);
        const int32_t pool_w = ea_out_dim(conv_w, pool->kernel_w, pool->stride_w, pool->pad_left, pool->pad_right);
        const int32_t out_c = conv->out_c;
        const ea_dtype_t t = conv->out_type;
        const int simd = ea_m4_dense_ok(conv);
        int8_t *row = (int8_t *)ctx->buf; /* ctx is non-NULL: the scratch check passed with > 0 bytes */
        int8_t *patches = row + ea_conv_pool_row_bytes(conv);

        int32_t nc;
        /* pooled rows or channels: a column split would recompute the conv columns pools share */
        b = ea_split_box(ctx, pool_h, pool_w, out_c, EA_SPLIT_ROWS | EA_SPLIT_CHANNELS, EA_IM2COL_PIXEL_COST);
        nc = b.c1 - b.c0;
        if (simd && ea_m4_cin1(conv)) /* the q15 weights once per call, not per conv row */
            ea_m4_cin1_weights(conv, weights, patches);
        for (py = b.y0; py < b.y1; py++) {
            int8_t *out_row = output + py * pool_w * out_c + b.c0;
            const int32_t cy0 = py * pool->stride_h - pool->pad_top;
            /* the type's lowest code is the identity of max: skipped padding never wins */
            if (nc == out_c)
                ea_m4_fill(out_row, t == EA_UINT8 ? 0 : -128, pool_w * out_c);
            else
                for (px = 0; px < pool_w; px++)
                    ea_m4_fill(out_row + px * out_c, t == EA_UINT8 ? 0 : -128, nc);
            for (ky = 0; ky < pool->kernel_h; ky++) {
                const int32_t cy = cy0 + ky;
                ea_box_t conv_row;
                if (cy < 0 || cy >= conv_h)
                    continue;
                conv_row.y0 = cy, conv_row.y1 = cy + 1, conv_row.x0 = 0, conv_row.x1 = conv_w;
                conv_row.c0 = b.c0, conv_row.c1 = b.c1;
                if (simd)
                    ea_m4_conv_box(conv, input, weights, bias, &conv_row, row, patches, 1);
                else
                    ea_conv_box(conv, input, weights, bias, &conv_row, row, patches);
                for (px = 0; px < pool_w; px++) {
                    const int32_t cx0 = px * pool->stride_w - pool->pad_left;
                    const int32_t kx_lo = cx0 < 0 ? -cx0 : 0;
                    const int32_t kx_hi = conv_w - cx0 < pool->kernel_w ? conv_w - cx0 : pool->kernel_w;
                    for (kx = kx_lo; kx < kx_hi; kx++)
                        ea_m4_max_into(out_row + px * out_c, row + (cx0 + kx) * out_c + b.c0, nc, t);
                }
            }
        }
    }
    return EA_OK;
}
