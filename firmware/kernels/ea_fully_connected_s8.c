/*
 * ea_fully_connected_s8 - fully connected layer with 8-bit output, docs/fixed-point.md section 4.2.
 *
 *   input   int8 or uint8 (in_type) [in_features] (an HWC tensor, already flat)
 *   weights int8 [out_features][in_features] (8-bit), or packed rows (4-bit [-8, 7], 2-bit [-2, 1])
 *   bias    int32 [out_features] (FL_in + FL_w[c]), or NULL
 *   output  int8 or uint8 (out_type) [out_features] = act(sat(rshift_round(acc, shift[c])));
 *           channels split by ea_split; with fewer outputs than cores and a barrier, K split
 *           (ea_fc_core.h)
 *   scratch none on one core (weights, packed or not, are read in place); the K split's
 *           partial sums: ea_fully_connected_team_buffer_size
 */
#include "ea_fc_core.h"

int32_t ea_fully_connected_s8_get_buffer_size(const ea_fc_params_t *p)
{
    (void)p;
    return 0;
}

static ea_status_t ea_fc_s8_check(const ea_fc_params_t *p)
{
    ea_status_t st = ea_fc_check(p);
    if (st != EA_OK)
        return st;
    if (!ea_act_valid(p->act) || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    return ea_shifts_check(p->shift, p->out_features);
}

ea_status_t ea_fully_connected_s8(const ea_ctx_t *ctx, const ea_fc_params_t *p, const int8_t *input,
                                  const int8_t *weights, const int32_t *bias, int8_t *output)
{
    int32_t c0, c1, c;
    EA_CHECK_ARGS(ea_fc_s8_check(p));
    {
        const int32_t k = p->in_features;
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        const int32_t row_bytes = ea_packed_row_bytes(k, p->weight_bits);
        const int split_k = ea_fc_splits_k(ctx, p);
        if (split_k) {
            ea_status_t st = ea_fc_team_scratch_check(ctx, p);
            if (st != EA_OK)
                return st;
            ea_fc_partials(ctx, p, input, weights);
        }
        ea_split(p->out_features, ctx, &c0, &c1);
        for (c = c0; c < c1; c++) {
            const int32_t b = bias != NULL ? bias[c] : 0;
            const int32_t acc = split_k ? ea_fc_team_sum(ctx, c, b)
                                        : ea_dot_weights(input, p->in_type, weights + c * row_bytes, p->weight_bits, k, b);
            ea_put(output + c, ea_requant(acc, p->shift[c], clamp));
        }
    }
    return EA_OK;
}
