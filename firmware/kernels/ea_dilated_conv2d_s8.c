/*
 * ea_dilated_conv2d_s8 - convolution with spaced (dilated) taps, docs/fixed-point.md section 4.1.
 *
 * As ea_conv2d_s8 (any groups, 8/4/2-bit weights, int8/uint8 in and out) but tap (ky, kx) of the
 * output pixel (y, x) reads input row y * stride_h - pad_top + ky * dilation_h and column
 * x * stride_w - pad_left + kx * dilation_w; the window's extent is (kernel - 1) * dilation + 1.
 *   input   int8 or uint8 [in_h][in_w][in_c]
 *   weights OHWI [out_c][kh][kw][in_c / groups] (8-bit), or packed rows
 *   bias    int32 [out_c] or NULL
 *   output  [out_h][out_w][out_c], out_h = ea_out_dim(in_h, (kh - 1) * dh + 1, stride_h, pads);
 *           rows split by ea_split(out_h)
 *   scratch kh * kw * in_c bytes: the gathered taps of one output pixel
 */
#include "ea_conv_core.h"

/* The conv params with the window's kernel replaced by the dilated extent: what the geometry and
 * the window check are about. */
static ea_conv_params_t ea_dilated_extent(const ea_dilated_conv_params_t *p)
{
    ea_conv_params_t e = p->conv;
    e.win.kernel_h = (p->conv.win.kernel_h - 1) * p->dilation_h + 1;
    e.win.kernel_w = (p->conv.win.kernel_w - 1) * p->dilation_w + 1;
    return e;
}

static ea_status_t ea_dilated_check(const ea_dilated_conv_params_t *p)
{
    ea_conv_params_t e;
    if (p == NULL || p->dilation_h < 1 || p->dilation_w < 1 || p->conv.win.kernel_h < 1 || p->conv.win.kernel_w < 1)
        return EA_ERR_ARG;
    e = ea_dilated_extent(p);
    return ea_conv_check(&e);
}

int32_t ea_dilated_conv2d_s8_get_buffer_size(const ea_dilated_conv_params_t *p)
{
    return ea_conv_patch_bytes(&p->conv);
}

/* The taps of one output pixel, grouped [group][ky][kx][i] like the OHWI weight rows; taps in the
 * padding are zero. */
static void ea_dilated_gather(const ea_dilated_conv_params_t *p, const int8_t *input, int32_t iy0, int32_t ix0,
                              int8_t *patch)
{
    const ea_conv_params_t *c = &p->conv;
    const int32_t kh = c->win.kernel_h, kw = c->win.kernel_w, in_c = c->in_c, groups = c->groups;
    const int32_t cin_g = in_c / groups, row_len = ea_conv_row_len(c);
    int32_t ky, kx, g;
    for (ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            int8_t *dst = patch + (ky * kw + kx) * cin_g;
            if (iy < 0 || iy >= c->in_h || ix < 0 || ix >= c->in_w) {
                for (g = 0; g < groups; g++)
                    ea_fill_s8(dst + g * row_len, 0, cin_g);
            } else {
                const int8_t *src = input + (iy * c->in_w + ix) * in_c;
                for (g = 0; g < groups; g++)
                    ea_copy_s8(dst + g * row_len, src + g * cin_g, cin_g);
            }
        }
    }
}

ea_status_t ea_dilated_conv2d_s8(const ea_ctx_t *ctx, const ea_dilated_conv_params_t *p, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output)
{
    int32_t y0, y1, y, x, g, j;
    EA_CHECK_ARGS(ea_dilated_check(p));
    if (!ea_scratch_ok(ctx, ea_conv_patch_bytes(&p->conv)))
        return EA_ERR_BUFFER;
    {
        const ea_conv_params_t *c = &p->conv;
        const ea_conv_params_t e = ea_dilated_extent(p);
        const int32_t out_w = ea_conv_out_w(&e), groups = c->groups, bits = c->weight_bits;
        const int32_t cout_g = c->out_c / groups, row_len = ea_conv_row_len(c);
        const int32_t row_bytes = ea_packed_row_bytes(row_len, bits);
        const ea_clamp_t clamp = ea_act_clamp(c->act, c->fl_out, c->out_type);
        int8_t *patch = ctx != NULL ? (int8_t *)ctx->buf : NULL;
        ea_split(ea_conv_out_h(&e), ctx, &y0, &y1);
        for (y = y0; y < y1; y++) {
            int8_t *out = output + y * out_w * c->out_c;
            for (x = 0; x < out_w; x++) {
                const int8_t *w = weights;
                int32_t ch = 0;
                ea_dilated_gather(p, input, y * c->win.stride_h - c->win.pad_top, x * c->win.stride_w - c->win.pad_left,
                                  patch);
                for (g = 0; g < groups; g++) {
                    const int8_t *x_g = patch + g * row_len;
                    for (j = 0; j < cout_g; j++, ch++, w += row_bytes) {
                        const int32_t acc = ea_dot_weights(x_g, c->in_type, w, bits, row_len, bias != NULL ? bias[ch] : 0);
                        ea_put(out++, ea_requant(acc, c->shift[ch], clamp));
                    }
                }
            }
        }
    }
    return EA_OK;
}
