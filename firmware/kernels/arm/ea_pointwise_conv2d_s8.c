/*
 * ea_pointwise_conv2d_s8 (Cortex-M4 drop-in) - same name, arguments and results as
 * firmware/kernels/ea_pointwise_conv2d_s8.c. Every pair of output pixels is widened once into a
 * q15 pair buffer and runs every channel pair from it (ea_m4_pair.h); the pixels' channels are
 * read in place. 4/2-bit weights are unpacked to int8 rows a block of channels at a time
 * (ea_m4_unpack_rows), then run the same loops.
 *   scratch ea_m4_unpack_bytes (4/2-bit weights) + ea_m4_pair_scratch_bytes (the reference: none)
 */
#include "ea_m4_core.h"

int32_t ea_pointwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    return ea_m4_unpack_bytes(p->weight_bits, p->in_c, p->out_c) + ea_m4_pair_scratch_bytes(p->in_c, p->out_c);
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
    if (!ea_scratch_ok(ctx, ea_pointwise_conv2d_s8_get_buffer_size(p)))
        return EA_ERR_BUFFER;

    b = ea_conv_split(p, ctx, 0);
    if (!ea_box_empty(&b)) {
        const int32_t in_c = p->in_c, out_c = p->out_c, out_w = ea_conv_out_w(p), bits = p->weight_bits;
        const int32_t bw = b.x1 - b.x0, end = (b.y1 - b.y0) * bw;
        const int32_t block = bits == 8 ? b.c1 - b.c0 : ea_m4_block_rows(in_c, out_c);
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        int8_t *out = output + b.y0 * out_w * out_c;
        int8_t *rows = (int8_t *)ctx->buf; /* ctx is non-NULL: the scratch check passed with > 0 bytes */
        const ea_m4_pixels_fn pixels = ea_m4_pick(p->in_type, clamp);
        ea_m4_pair_plan_t plan;
        int32_t q, cb;
        const int pair = ea_m4_pair_plan(&plan, rows + ea_m4_unpack_bytes(bits, in_c, out_c), in_c, bias, p->shift,
                                         clamp, p->in_type, b.c0, b.c1);
        if (!pair && bits != 8) { /* a shift outside 0..31 with packed weights: the reference loop */
            ea_pointwise_box(p, input, weights, bias, &b, out);
            return EA_OK;
        }
        for (cb = b.c0; cb < b.c1; cb += block) { /* 8-bit weights: one block, read in place */
            const int32_t ce = cb + block < b.c1 ? cb + block : b.c1;
            const int8_t *w = weights + cb * in_c;
            if (bits != 8) {
                ea_m4_unpack_rows(weights, bits, in_c, cb, ce, rows);
                w = rows;
            }
            for (q = 0; q < end; q += 2) {
                const int32_t ya = q / bw, xa = b.x0 + q - ya * bw;
                const int32_t yb = xa + 1 < b.x1 ? ya : ya + 1, xb = xa + 1 < b.x1 ? xa + 1 : b.x0;
                const int8_t *pa = input + ((b.y0 + ya) * p->win.stride_h * p->in_w + xa * p->win.stride_w) * in_c;
                const int8_t *pb = pa;
                int8_t *oa = out + (ya * out_w + xa) * out_c, *ob = NULL;
                if (q + 1 < end) {
                    pb = input + ((b.y0 + yb) * p->win.stride_h * p->in_w + xb * p->win.stride_w) * in_c;
                    ob = out + (yb * out_w + xb) * out_c;
                }
                if (pair)
                    ea_m4_pair_run(&plan, pa, pb, in_c, w, bias, p->shift, clamp, b.c0, cb, ce, oa, ob);
                else /* 8-bit weights, a shift outside 0..31: the on-the-fly loop */
                    pixels(pa, pb, weights, in_c, bias, p->shift, clamp, in_c, b.c0, b.c1, oa, ob);
            }
        }
    }
    return EA_OK;
}
