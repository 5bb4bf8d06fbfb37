/*
 * ea_fully_connected_s8 (Cortex-M4 drop-in) - same name, arguments and results as
 * firmware/kernels/ea_fully_connected_s8.c: two output channels per SIMD pass over the input
 * (8-bit weights), add/asr/clamp epilogue; 4/2-bit weights run the reference dot products.
 */
#include "../ea_fc_core.h"
#include "ea_m4_core.h"

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
        const int32_t k = p->in_features, bits = p->weight_bits;
        const int32_t row_bytes = ea_packed_row_bytes(k, bits);
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        ea_split(p->out_features, ctx, &c0, &c1);
        for (c = c0; bits == 8 && c + 2 <= c1; c += 2) {
            int32_t acc[2];
            ea_m4_fc_pair(input, p->in_type, weights + c * k, weights + (c + 1) * k, k,
                          bias != NULL ? bias[c] : 0, bias != NULL ? bias[c + 1] : 0, acc);
            ea_m4_store(output + c, acc[0], p->shift[c], clamp);
            ea_m4_store(output + c + 1, acc[1], p->shift[c + 1], clamp);
        }
        for (; c < c1; c++) {
            const int32_t acc = ea_dot_weights(input, p->in_type, weights + c * row_bytes, bits, k,
                                               bias != NULL ? bias[c] : 0);
            ea_put(output + c, ea_requant(acc, p->shift[c], clamp));
        }
    }
    return EA_OK;
}
