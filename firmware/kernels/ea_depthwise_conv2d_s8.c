/*
 * ea_depthwise_conv2d_s8 - depthwise convolution, docs/fixed-point.md section 4.1 with
 * groups = in_c and a channel multiplier m = out_c / in_c >= 1 (output channel c reads input
 * channel c / m). Same results as ea_conv2d_s8 with groups = in_c; faster because the loop over
 * channels is innermost, so one window position updates every channel's accumulator at once.
 *   input   int8 or uint8 (in_type) [in_h][in_w][in_c]
 *   weights tap-major int8 [kh][kw][out_c] (8-bit), or one packed row of out_c values per tap
 *           (4-bit, 2-bit): the weight of channel c at tap (ky, kx) is element c of row ky * kw + kx
 *   bias    int32 [out_c], or NULL
 *   output  int8 or uint8 (out_type) [out_h][out_w][out_c]; rows split by ea_split(out_h)
 *   scratch out_c int32 accumulators: 4 * out_c bytes, 4-byte aligned
 */
#include "ea_conv_core.h"

int32_t ea_depthwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return p->out_c * (int32_t)sizeof(int32_t);
}

static ea_status_t ea_depthwise_check(const ea_conv_params_t *p)
{
    ea_status_t st = ea_conv_check(p);
    if (st != EA_OK)
        return st;
    return p->groups == p->in_c ? EA_OK : EA_ERR_ARG;
}

/* acc[c] += x[c / m] * w[pos][c] for every output channel: the taps of one window position.
 * Weights are tap-major (see the header): the row of tap `pos` holds out_c weights. */
static void ea_depthwise_tap(const int8_t *x, const int8_t *weights, int32_t pos, const ea_conv_params_t *p,
                             int32_t *acc)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, m = out_c / in_c, bits = p->weight_bits;
    const int8_t *w = weights + pos * ea_packed_row_bytes(out_c, bits);
    int32_t i, j, c;
    if (m == 1 && bits == 8 && p->in_type == EA_UINT8) {
        const uint8_t *xu = (const uint8_t *)x;
        for (i = 0; i < in_c; i++)
            acc[i] += (int32_t)xu[i] * w[i];
    } else if (m == 1 && bits == 8) {
        for (i = 0; i < in_c; i++)
            acc[i] += (int32_t)x[i] * w[i];
    } else {
        const uint8_t *wu = (const uint8_t *)w;
        const int32_t per_byte = 8 / bits;
        for (i = 0, c = 0; i < in_c; i++) {
            const int32_t xi = ea_get(x + i, p->in_type);
            for (j = 0; j < m; j++, c++)
                acc[c] += xi * EA_FIELD(wu[c / per_byte], (c % per_byte) * bits, bits);
        }
    }
}

ea_status_t ea_depthwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    int32_t y0, y1, y, x, ky, kx, c;
    EA_CHECK_ARGS(ea_depthwise_check(p));
    if (!ea_scratch_ok(ctx, ea_depthwise_conv2d_s8_get_buffer_size(p)) || ((uintptr_t)ctx->buf & 3u) != 0)
        return EA_ERR_BUFFER;
    {
        const ea_window_t *win = &p->win;
        const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
        const int32_t out_w = ea_conv_out_w(p);
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        int32_t *acc = (int32_t *)ctx->buf;
        int8_t *o;
        ea_split(ea_conv_out_h(p), ctx, &y0, &y1);
        o = output + y0 * out_w * out_c;
        for (y = y0; y < y1; y++) {
            const int32_t iy0 = y * win->stride_h - win->pad_top;
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
            const int32_t ky_hi = in_h - iy0 < win->kernel_h ? in_h - iy0 : win->kernel_h;
            for (x = 0; x < out_w; x++) {
                const int32_t ix0 = x * win->stride_w - win->pad_left;
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
                const int32_t kx_hi = in_w - ix0 < win->kernel_w ? in_w - ix0 : win->kernel_w;
                for (c = 0; c < out_c; c++)
                    acc[c] = bias != NULL ? bias[c] : 0;
                for (ky = ky_lo; ky < ky_hi; ky++)
                    for (kx = kx_lo; kx < kx_hi; kx++)
                        ea_depthwise_tap(input + ((iy0 + ky) * in_w + ix0 + kx) * in_c, weights,
                                         ky * win->kernel_w + kx, p, acc);
                for (c = 0; c < out_c; c++)
                    ea_put(o++, ea_requant(acc[c], p->shift[c], clamp));
            }
        }
    }
    return EA_OK;
}
