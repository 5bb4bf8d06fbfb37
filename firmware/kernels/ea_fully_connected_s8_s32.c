/*
 * ea_fully_connected_s8_s32 - fully connected last layer emitting raw int32 accumulators
 * (docs/fixed-point.md sections 1.2 and 4.2): out[c] = bias[c] + sum_i x[i] * w[c][i], no shift,
 * no activation; the host dequantizes with 2^-(FL_in + FL_w[c]).
 *
 *   input   int8 or uint8 (in_type) [in_features]
 *   weights int8 [out_features][in_features] (8-bit), or packed rows (4-bit, 2-bit)
 *   bias    int32 [out_features], or NULL
 *   output  int32 [out_features], |out| < 2^30 by the accumulator bound; channels split by ea_split
 *   scratch none (weights, packed or not, are read in place)
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
        ea_split(p->out_features, ctx, &c0, &c1);
        for (c = c0; c < c1; c++) {
            const int8_t *w = weights + c * row_bytes;
            output[c] = ea_dot_weights(input, p->in_type, w, p->weight_bits, k, bias != NULL ? bias[c] : 0);
        }
    }
    return EA_OK;
}
