/*
 * ea_concat_s8 - concatenation along channels, docs/fixed-point.md section 4.6.
 *
 * Input i is requantized to the output format, sat(rshift_round(x, fl_in[i] - fl_out)) with sat to
 * the output type, and the inputs are placed side by side in the channel dimension, in order.
 *   inputs[i] int8 or uint8 (in_type[i]; in_type NULL: all int8) [h][w][channels[i]]
 *   output    int8 or uint8 (out_type) [h][w][sum channels]; rows split by ea_split(h)
 *   scratch   none
 */
#include "ea_kernel_checks.h"

static ea_status_t ea_concat_check(const ea_concat_params_t *p, const int8_t *const *inputs)
{
    int32_t i;
    if (p == NULL || inputs == NULL || p->h < 1 || p->w < 1 || p->num_inputs < 1 || p->channels == NULL ||
        p->fl_in == NULL || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    for (i = 0; i < p->num_inputs; i++) {
        if (p->channels[i] < 1 || !ea_shift_valid(p->fl_in[i] - p->fl_out) || inputs[i] == NULL)
            return EA_ERR_ARG;
        if (p->in_type != NULL && !ea_dtype_valid((ea_dtype_t)p->in_type[i]))
            return EA_ERR_ARG;
    }
    return EA_OK;
}

ea_status_t ea_concat_s8(const ea_ctx_t *ctx, const ea_concat_params_t *p, const int8_t *const *inputs,
                         int8_t *output)
{
    int32_t y0, y1, i, c, pix;
    EA_CHECK_ARGS(ea_concat_check(p, inputs));
    {
        const ea_clamp_t clamp = ea_act_clamp(EA_ACT_NONE, p->fl_out, p->out_type);
        int32_t out_c = 0, first = 0;
        for (i = 0; i < p->num_inputs; i++)
            out_c += p->channels[i];
        ea_split(p->h, ctx, &y0, &y1);
        /* input by input: each source is read contiguously, its channels land at offset `first` */
        for (i = 0; i < p->num_inputs; first += p->channels[i], i++) {
            const int32_t ch = p->channels[i], shift = p->fl_in[i] - p->fl_out;
            const ea_dtype_t in_type = p->in_type != NULL ? (ea_dtype_t)p->in_type[i] : EA_INT8;
            const int8_t *src = inputs[i] + y0 * p->w * ch;
            int8_t *dst = output + y0 * p->w * out_c + first;
            for (pix = y0 * p->w; pix < y1 * p->w; pix++, src += ch, dst += out_c)
                for (c = 0; c < ch; c++)
                    ea_put(dst + c, ea_requant(ea_get(src + c, in_type), shift, clamp));
        }
    }
    return EA_OK;
}
