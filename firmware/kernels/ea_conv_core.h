/*
 * ea_conv_core.h - private to firmware/kernels/: the checks and geometry shared by the convolution
 * kernels, and the im2col row loop of ea_conv2d_s8 and ea_conv2d_maxpool_s8 (static inline
 * functions, not a kernel).
 */
#ifndef EA_CONV_CORE_H
#define EA_CONV_CORE_H

#include "ea_fixedpoint.h"
#include "ea_kernel_checks.h"
#include "ea_kernels.h"

/* R, the weights per output channel (0 for groups < 1, so buffer-size queries never divide by 0). */
static inline int32_t ea_conv_row_len(const ea_conv_params_t *p)
{
    return p->groups < 1 ? 0 : p->win.kernel_h * p->win.kernel_w * (p->in_c / p->groups);
}

static inline int32_t ea_conv_out_h(const ea_conv_params_t *p)
{
    return ea_out_dim(p->in_h, p->win.kernel_h, p->win.stride_h, p->win.pad_top, p->win.pad_bottom);
}

static inline int32_t ea_conv_out_w(const ea_conv_params_t *p)
{
    return ea_out_dim(p->in_w, p->win.kernel_w, p->win.stride_w, p->win.pad_left, p->win.pad_right);
}

/* Scratch for one im2col patch: the input window of one output pixel, kh * kw * in_c bytes. */
static inline int32_t ea_conv_patch_bytes(const ea_conv_params_t *p)
{
    return ea_conv_row_len(p) * p->groups;
}

/* The scratch of ea_conv2d_s8: the im2col patches of two output pixels (8-bit weights compute
 * output pixels in pairs), 2 * kh * kw * in_c bytes. */
static inline int32_t ea_conv_scratch_bytes(const ea_conv_params_t *p)
{
    return 2 * ea_conv_patch_bytes(p);
}

/* The conv row buffer of ea_conv2d_maxpool_s8: conv_w * out_c bytes, rounded up to 4 so that the
 * patches after it stay aligned. */
static inline int32_t ea_conv_pool_row_bytes(const ea_conv_params_t *p)
{
    return (ea_conv_out_w(p) * p->out_c + 3) & ~3;
}

static inline ea_status_t ea_conv_check(const ea_conv_params_t *p)
{
    ea_status_t st;
    if (p == NULL || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1)
        return EA_ERR_ARG;
    if (p->in_c % p->groups != 0 || p->out_c % p->groups != 0)
        return EA_ERR_ARG;
    if (!ea_weight_bits_valid(p->weight_bits) || !ea_act_valid(p->act))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->in_type) || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    st = ea_window_check(&p->win, p->in_h, p->in_w);
    if (st != EA_OK)
        return st;
    return ea_shifts_check(p->shift, p->out_c);
}

/*
 * Gather the input window of the output pixel whose window starts at (iy0, ix0) into `patch`,
 * grouped as [group][ky][kx][i] so that each group's part lines up with the OHWI weight rows;
 * positions in the padding are zero (they contribute 0 to the sum). Bytes are copied as they
 * are: the patch has the input's type, and the zero byte is 0 in int8 and uint8 alike.
 */
static inline void ea_conv_gather(const ea_conv_params_t *p, const int8_t *input, int32_t iy0, int32_t ix0,
                                  int8_t *patch)
{
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w, in_c = p->in_c, groups = p->groups;
    const int32_t cin_g = in_c / groups, row_len = ea_conv_row_len(p);
    int32_t ky, kx, g;
    if (groups == 1 && ix0 >= 0 && ix0 + kw <= p->in_w) { /* whole window rows: one run each */
        for (ky = 0; ky < kh; ky++, patch += kw * in_c) {
            const int32_t iy = iy0 + ky;
            if (iy < 0 || iy >= p->in_h)
                ea_fill_s8(patch, 0, kw * in_c);
            else
                ea_copy_s8(patch, input + (iy * p->in_w + ix0) * in_c, kw * in_c);
        }
        return;
    }
    for (ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky;
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = ix0 + kx;
            int8_t *dst = patch + (ky * kw + kx) * cin_g;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                for (g = 0; g < groups; g++)
                    ea_fill_s8(dst + g * row_len, 0, cin_g);
            } else if (groups == 1) {
                ea_copy_s8(dst, input + (iy * p->in_w + ix) * in_c, in_c);
            } else if (cin_g == 1) { /* depthwise: scatter the pixel's channels one per group */
                const int8_t *src = input + (iy * p->in_w + ix) * in_c;
                for (g = 0; g < groups; g++, dst += row_len)
                    *dst = src[g];
            } else {
                const int8_t *src = input + (iy * p->in_w + ix) * in_c;
                for (g = 0; g < groups; g++, src += cin_g)
                    ea_copy_s8(dst + g * row_len, src, cin_g);
            }
        }
    }
}

/*
 * Output pixels oa and ob (ob NULL: only oa, and xb may be xa) for channels [c0, c1): activations
 * xa, xb of n values of type t, 8-bit weight rows of n bytes, blocked 2 pixels x 4 channels
 * (ea_dot2x4_<t>), the last 1-3 channels 2 x 2 (ea_dot2x2_<t>; an odd last channel runs its row
 * twice). On RV32 the 2 x 4 block takes 6 % off a 3x3x32 convolution against 2 x 2 alone.
 */
static inline void ea_pixels2(const int8_t *xa, const int8_t *xb, ea_dtype_t t, const int8_t *weights,
                              const int32_t *bias, const int8_t *shift, ea_clamp_t clamp, int32_t n, int32_t c0,
                              int32_t c1, int8_t *oa, int8_t *ob)
{
    int32_t c = c0, acc[8];
    for (; c + 4 <= c1; c += 4) { /* 2 pixels x 4 channels */
        int32_t j;
        for (j = 0; j < 4; j++)
            acc[j] = acc[4 + j] = bias != NULL ? bias[c + j] : 0;
        if (t == EA_UINT8)
            ea_dot2x4_u8((const uint8_t *)xa, (const uint8_t *)xb, weights + c * n, n, acc);
        else
            ea_dot2x4_s8(xa, xb, weights + c * n, n, acc);
        for (j = 0; j < 4; j++) {
            ea_put(oa + c + j, ea_requant(acc[j], shift[c + j], clamp));
            if (ob != NULL)
                ea_put(ob + c + j, ea_requant(acc[4 + j], shift[c + j], clamp));
        }
    }
    for (; c < c1; c += 2) { /* the last 1-3 channels in pairs */
        const int32_t d = c + 1 < c1 ? c + 1 : c;
        acc[0] = acc[2] = bias != NULL ? bias[c] : 0;
        acc[1] = acc[3] = bias != NULL ? bias[d] : 0;
        if (t == EA_UINT8)
            ea_dot2x2_u8((const uint8_t *)xa, (const uint8_t *)xb, weights + c * n, weights + d * n, n, acc);
        else
            ea_dot2x2_s8(xa, xb, weights + c * n, weights + d * n, n, acc);
        ea_put(oa + c, ea_requant(acc[0], shift[c], clamp));
        ea_put(oa + d, ea_requant(acc[1], shift[d], clamp));
        if (ob != NULL) {
            ea_put(ob + c, ea_requant(acc[2], shift[c], clamp));
            ea_put(ob + d, ea_requant(acc[3], shift[d], clamp));
        }
    }
}

/* Pixel q of box b in row-major order within the box: its row y (absolute) and column x. */
static inline void ea_box_pixel(const ea_box_t *b, int32_t q, int32_t *y, int32_t *x)
{
    const int32_t bw = b->x1 - b->x0;
    *y = b->y0 + q / bw;
    *x = b->x0 + q % bw;
}

/* Output pixel (y, x), channels [c0, c1), at `o`, one channel at a time (any weight width or
 * groups): the window gathered into `patch`, then each channel one dot product with its weight
 * row, read in place even when packed. */
static inline void ea_conv_pixel(const ea_conv_params_t *p, ea_dtype_t in_type, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, ea_clamp_t clamp, int32_t y, int32_t x,
                                 int32_t c0, int32_t c1, int8_t *o, int8_t *patch)
{
    const int32_t cout_g = p->out_c / p->groups, bits = p->weight_bits;
    const int32_t row_len = ea_conv_row_len(p);
    const int32_t row_bytes = ea_packed_row_bytes(row_len, bits);
    const int8_t *x_g;
    int32_t left, c;
    ea_conv_gather(p, input, y * p->win.stride_h - p->win.pad_top, x * p->win.stride_w - p->win.pad_left, patch);
    x_g = patch + (c0 / cout_g) * row_len; /* the group of channel c */
    left = cout_g - c0 % cout_g;            /* channels left in it */
    for (c = c0; c < c1; c++) {
        const int32_t acc = ea_dot_weights(x_g, in_type, weights + c * row_bytes, bits, row_len,
                                           bias != NULL ? bias[c] : 0);
        ea_put(o + c, ea_requant(acc, p->shift[c], clamp));
        if (--left == 0)
            x_g += row_len, left = cout_g;
    }
}

/*
 * Pixels [q0, q1) of box b (row-major within the box; all of it is [0, rows * columns)), channels
 * [b->c0, b->c1), of the convolution, written HWC into `out`, which holds output rows b->y0
 * onwards (pixel (y, x) at ((y - b->y0) * out_w + x) * out_c). With 8-bit weights and one group the
 * pixels go in pairs, both windows gathered into `patch` (2 * ea_conv_row_len bytes) and blocked
 * 2 pixels x 2 channels; otherwise one pixel at a time (ea_conv_pixel).
 */
static inline void ea_conv_pixels_typed(const ea_conv_params_t *p, ea_dtype_t in_type, const int8_t *input,
                                        const int8_t *weights, const int32_t *bias, const ea_box_t *b, int32_t q0,
                                        int32_t q1, int8_t *out, int8_t *patch)
{
    const int32_t out_w = ea_conv_out_w(p), out_c = p->out_c;
    const int32_t row_len = ea_conv_row_len(p);
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    int32_t y, x, q;

    if (p->weight_bits == 8 && p->groups == 1) {
        int32_t y2, x2;
        for (q = q0; q < q1; q += 2) {
            int8_t *ob = NULL;
            ea_box_pixel(b, q, &y, &x);
            ea_conv_gather(p, input, y * p->win.stride_h - p->win.pad_top, x * p->win.stride_w - p->win.pad_left,
                           patch);
            if (q + 1 < q1) {
                ea_box_pixel(b, q + 1, &y2, &x2);
                ea_conv_gather(p, input, y2 * p->win.stride_h - p->win.pad_top,
                               x2 * p->win.stride_w - p->win.pad_left, patch + row_len);
                ob = out + ((y2 - b->y0) * out_w + x2) * out_c;
            }
            ea_pixels2(patch, ob != NULL ? patch + row_len : patch, in_type, weights, bias, p->shift, clamp, row_len,
                       b->c0, b->c1, out + ((y - b->y0) * out_w + x) * out_c, ob);
        }
        return;
    }
    for (q = q0; q < q1; q++) {
        ea_box_pixel(b, q, &y, &x);
        ea_conv_pixel(p, in_type, input, weights, bias, clamp, y, x, b->c0, b->c1,
                      out + ((y - b->y0) * out_w + x) * out_c, patch);
    }
}

/* The outputs of the whole box b (rows, columns, channels), as ea_conv_pixels_typed. */
static inline void ea_conv_box_typed(const ea_conv_params_t *p, ea_dtype_t in_type, const int8_t *input,
                                     const int8_t *weights, const int32_t *bias, const ea_box_t *b, int8_t *out,
                                     int8_t *patch)
{
    ea_conv_pixels_typed(p, in_type, input, weights, bias, b, 0, (b->y1 - b->y0) * (b->x1 - b->x0), out, patch);
}

/* ea_conv_pixels_typed with the input type as a constant (see ea_conv_box). */
static inline void ea_conv_pixels(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                  const int32_t *bias, const ea_box_t *b, int32_t q0, int32_t q1, int8_t *out,
                                  int8_t *patch)
{
    if (p->in_type == EA_UINT8)
        ea_conv_pixels_typed(p, EA_UINT8, input, weights, bias, b, q0, q1, out, patch);
    else
        ea_conv_pixels_typed(p, EA_INT8, input, weights, bias, b, q0, q1, out, patch);
}

/* ea_conv_box_typed with the input type as a constant, so that each copy holds one dot-product
 * family (the hot loop of each stays as tight as a single-type kernel's). */
static inline void ea_conv_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                               const int32_t *bias, const ea_box_t *b, int8_t *out, int8_t *patch)
{
    if (p->in_type == EA_UINT8)
        ea_conv_box_typed(p, EA_UINT8, input, weights, bias, b, out, patch);
    else
        ea_conv_box_typed(p, EA_INT8, input, weights, bias, b, out, patch);
}

/* Work an im2col kernel spends per output pixel on its gather, in units of one output channel's
 * dot product (a few instructions per patch byte against a multiply-accumulate per byte and
 * channel): a channel split repeats the gather on every core. */
#define EA_IM2COL_PIXEL_COST 2

/* This core's box of a convolution's output (every dimension may be cut; ea_split_box). */
static inline ea_box_t ea_conv_split(const ea_conv_params_t *p, const ea_ctx_t *ctx, int32_t pixel_cost)
{
    return ea_split_box(ctx, ea_conv_out_h(p), ea_conv_out_w(p), p->out_c,
                        EA_SPLIT_ROWS | EA_SPLIT_COLS | EA_SPLIT_CHANNELS, pixel_cost);
}

/* The outputs of box b of a 1x1 convolution (no padding, groups 1, any stride), written into
 * `out` as ea_conv_box does: each output is one dot product of an input pixel's channels with a
 * weight row, read in place even when packed. */
static inline void ea_pointwise_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                    const int32_t *bias, const ea_box_t *b, int8_t *out)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, out_w = ea_conv_out_w(p);
    const int32_t bits = p->weight_bits, row_bytes = ea_packed_row_bytes(in_c, bits);
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    int32_t y, x, c;
    if (bits == 8) { /* pixel pairs, read in place */
        const int32_t end = (b->y1 - b->y0) * (b->x1 - b->x0);
        int32_t q, y2, x2;
        for (q = 0; q < end; q += 2) {
            const int8_t *xa, *xb;
            int8_t *ob = NULL;
            ea_box_pixel(b, q, &y, &x);
            xa = xb = input + (y * p->win.stride_h * p->in_w + x * p->win.stride_w) * in_c;
            if (q + 1 < end) {
                ea_box_pixel(b, q + 1, &y2, &x2);
                xb = input + (y2 * p->win.stride_h * p->in_w + x2 * p->win.stride_w) * in_c;
                ob = out + ((y2 - b->y0) * out_w + x2) * out_c;
            }
            ea_pixels2(xa, xb, p->in_type, weights, bias, p->shift, clamp, in_c, b->c0, b->c1,
                       out + ((y - b->y0) * out_w + x) * out_c, ob);
        }
        return;
    }
    for (y = b->y0; y < b->y1; y++) {
        for (x = b->x0; x < b->x1; x++) {
            const int8_t *xp = input + (y * p->win.stride_h * p->in_w + x * p->win.stride_w) * in_c;
            int8_t *o = out + ((y - b->y0) * out_w + x) * out_c;
            for (c = b->c0; c < b->c1; c++) {
                const int32_t acc = ea_dot_weights(xp, p->in_type, weights + c * row_bytes, bits, in_c,
                                                   bias != NULL ? bias[c] : 0);
                ea_put(o + c, ea_requant(acc, p->shift[c], clamp));
            }
        }
    }
}

#endif /* EA_CONV_CORE_H */
