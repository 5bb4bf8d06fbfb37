/*
 * ea_fully_connected_s8_s32 - fully connected last layer emitting raw int32 accumulators
 * (docs/fixed-point.md sections 1.2 and 4.2): out[c] = bias[c] + sum_i x[i] * w[c][i], no shift,
 * no activation; the host dequantizes with 2^-(FL_in + FL_w[c]).
 *
 *   input   int8 or uint8 (in_type) [in_features]
 *   weights int8 [out_features][in_features] (8-bit), or packed rows (4-bit, 2-bit)
 *   bias    int32 [out_features], or NULL
 *   output  int32 [out_features], |out| < 2^30 by the accumulator bound; channels split by ea_split,
 *           or K with fewer outputs than cores and a barrier (ea_fc_core.h)
 *   scratch none on one core (weights, packed or not, are read in place); the K split's
 *           partial sums: ea_fully_connected_team_buffer_size
 */
#include "ea_fc_core.h"

int32_t ea_fully_connected_s8_s32_get_buffer_size(const ea_fc_params_t *p)
{
    (void)p;
    return 0;
}

ea_status_t ea_fully_connected_s8_s32(const ea_ctx_t *ctx, const ea_fc_params_t *p, const int8_t *input,
                                      const int8_t *weights, const int32_t *bias, int32_t *output)
{
    int32_t c0, c1, c;
    EA_CHECK_ARGS(ea_fc_check(p));
    {
        const int32_t k = p->in_features;
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
            output[c] = split_k ? ea_fc_team_sum(ctx, c, b)
                                : ea_dot_weights(input, p->in_type, weights + c * row_bytes, p->weight_bits, k, b);
        }
    }
    return EA_OK;
}
