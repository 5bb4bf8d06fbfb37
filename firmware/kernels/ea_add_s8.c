/*
 * ea_add_s8 - residual addition, docs/fixed-point.md section 4.5.
 *
 * With F = max(fl_a, fl_b): v = a * 2^(F - fl_a) + b * 2^(F - fl_b) (int32, |v| < 2^25),
 * out = act(sat(rshift_round(v, F - fl_out))).
 *   a, b    int8 or uint8 (a_type, b_type) [h][w][c]
 *   output  int8 or uint8 (out_type) [h][w][c], may alias a or b; elements split by ea_split
 *   scratch none
 */
#include "ea_kernel_checks.h"

static ea_status_t ea_add_check(const ea_add_params_t *p)
{
    int32_t f, lo;
    if (p == NULL || p->h < 1 || p->w < 1 || p->c < 1 || !ea_act_valid(p->act))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->a_type) || !ea_dtype_valid(p->b_type) || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    f = p->fl_a > p->fl_b ? p->fl_a : p->fl_b;
    lo = p->fl_a < p->fl_b ? p->fl_a : p->fl_b;
    if (f - lo > 16 || !ea_shift_valid(f - p->fl_out))
        return EA_ERR_ARG;
    return EA_OK;
}

ea_status_t ea_add_s8(const ea_ctx_t *ctx, const ea_add_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *output)
{
    int32_t i0, i1, i;
    EA_CHECK_ARGS(ea_add_check(p));
    {
        const int32_t f = p->fl_a > p->fl_b ? p->fl_a : p->fl_b;
        const int32_t align_a = f - p->fl_a, align_b = f - p->fl_b, shift = f - p->fl_out;
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        ea_split(p->h * p->w * p->c, ctx, &i0, &i1); /* elementwise: split the elements evenly */
        for (i = i0; i < i1; i++) {
            const int32_t v = ea_scale_pow2(ea_get(a + i, p->a_type), align_a) +
                              ea_scale_pow2(ea_get(b + i, p->b_type), align_b);
            ea_put(output + i, ea_requant(v, shift, clamp));
        }
    }
    return EA_OK;
}
