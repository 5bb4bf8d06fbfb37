/*
 * ea_fully_connected_s8_s32 (Cortex-M4 drop-in) - same name, arguments and results as
 * firmware/kernels/ea_fully_connected_s8_s32.c: raw int32 accumulators, two output channels per
 * SIMD pass over the input (8-bit weights); 4/2-bit weights run the reference dot products.
 */
#include "../ea_fc_core.h"
#include "ea_m4_core.h"

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
        const int32_t k = p->in_features, bits = p->weight_bits;
        const int32_t row_bytes = ea_packed_row_bytes(k, bits);
        ea_split(p->out_features, ctx, &c0, &c1);
        for (c = c0; bits == 8 && c + 2 <= c1; c += 2) {
            int32_t acc[2];
            ea_m4_fc_pair(input, p->in_type, weights + c * k, weights + (c + 1) * k, k,
                          bias != NULL ? bias[c] : 0, bias != NULL ? bias[c + 1] : 0, acc);
            output[c] = acc[0];
            output[c + 1] = acc[1];
        }
        for (; c < c1; c++)
            output[c] = ea_dot_weights(input, p->in_type, weights + c * row_bytes, bits, k, bias != NULL ? bias[c] : 0);
    }
    return EA_OK;
}
