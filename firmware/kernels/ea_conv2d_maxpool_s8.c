/*
 * ea_conv2d_maxpool_s8 - a convolution whose only consumer is a max pool, as one layer
 * (docs/fixed-point.md sections 4.1 and 4.3). Bit-identical to ea_conv2d_s8 then ea_max_pool_s8:
 * requantization and activation are monotonic, so pooling the requantized rows is exact.
 *
 * The conv output (conv_h x conv_w x out_c) is never stored. For each pooled output row this core
 * owns, the conv rows under the pool window are computed one at a time into scratch and
 * max-reduced straight into the output row. Overlapping pool windows (stride < kernel) recompute
 * the shared conv rows: a factor kernel_h / stride_h more conv work in exchange for one row of RAM.
 *   input   int8 or uint8 (conv.in_type) [in_h][in_w][in_c]
 *   weights int8 OHWI (8-bit) or packed rows (4/2-bit), as ea_conv2d_s8
 *   bias    int32 [out_c], or NULL
 *   output  int8 or uint8 (conv.out_type) [pool_h][pool_w][out_c]; pooled rows or channels
 *           split by ea_split_box
 *   scratch one conv row (conv_w * out_c bytes, rounded up to 4) + ea_conv2d_s8's scratch (two
 *           im2col patches)
 */
#include "ea_conv_core.h"

int32_t ea_conv2d_maxpool_s8_get_buffer_size(const ea_conv_maxpool_params_t *p)
{
    return ea_conv_pool_row_bytes(&p->conv) + ea_conv_scratch_bytes(&p->conv);
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

/* out[c] = max(out[c], row[c]) over the columns of one pooled pixel's window; both hold values
 * of type t, channels [c0, c1). */
static void ea_pool_columns(const int8_t *row, int32_t conv_w, int32_t channels, const ea_window_t *pool,
                            int32_t px, int32_t c0, int32_t c1, ea_dtype_t t, int8_t *out)
{
    const int32_t cx0 = px * pool->stride_w - pool->pad_left;
    const int32_t kx_lo = cx0 < 0 ? -cx0 : 0;
    const int32_t kx_hi = conv_w - cx0 < pool->kernel_w ? conv_w - cx0 : pool->kernel_w;
    int32_t kx;
    for (kx = kx_lo; kx < kx_hi; kx++)
        ea_max_into(out + c0, row + (cx0 + kx) * channels + c0, c1 - c0, t);
}

ea_status_t ea_conv2d_maxpool_s8(const ea_ctx_t *ctx, const ea_conv_maxpool_params_t *p,
                                 const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output)
{
    int32_t py, px, ky;
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
        int8_t *row = (int8_t *)ctx->buf; /* ctx is non-NULL: the scratch check passed with > 0 bytes */
        int8_t *patch = row + ea_conv_pool_row_bytes(conv);

        /* pooled rows or channels: a column split would recompute the conv columns pools share */
        b = ea_split_box(ctx, pool_h, pool_w, out_c, EA_SPLIT_ROWS | EA_SPLIT_CHANNELS, EA_IM2COL_PIXEL_COST);
        for (py = b.y0; py < b.y1; py++) {
            int8_t *out_row = output + py * pool_w * out_c;
            const int32_t cy0 = py * pool->stride_h - pool->pad_top;
            /* the type's lowest code (-128 int8, 0 uint8) is the identity of max: padded
             * positions, which are skipped, can never change the result (intops pads with it). */
            for (px = 0; px < pool_w; px++)
                ea_fill_s8(out_row + px * out_c + b.c0, conv->out_type == EA_UINT8 ? 0 : -128, b.c1 - b.c0);
            for (ky = 0; ky < pool->kernel_h; ky++) {
                const int32_t cy = cy0 + ky;
                ea_box_t conv_row;
                if (cy < 0 || cy >= conv_h)
                    continue;
                conv_row.y0 = cy, conv_row.y1 = cy + 1, conv_row.x0 = 0, conv_row.x1 = conv_w;
                conv_row.c0 = b.c0, conv_row.c1 = b.c1;
                ea_conv_box(conv, input, weights, bias, &conv_row, row, patch);
                for (px = 0; px < pool_w; px++)
                    ea_pool_columns(row, conv_w, out_c, pool, px, b.c0, b.c1, conv->out_type, out_row + px * out_c);
            }
        }
    }
    return EA_OK;
}
