/*
 * ea_fc_core.h - private to firmware/kernels/: what the two fully connected kernels (int8 and raw
 * int32 output) share: the argument checks and the split over the input dimension K.
 *
 * A layer with fewer outputs than cores (a pose head's 4-6 outputs on GAP8's 8 cores) would leave
 * cores idle if split over its outputs. Such a team splits K instead: every core writes the int32
 * partial sums of all outputs over its K slice into its scratch slice, waits at the barrier, and
 * core j then adds the team's partials of the outputs ea_split gives it (at most one each), bias
 * first. Integer addition is associative and no partial or running sum exceeds the whole dot
 * product's bound (|acc| < 2^30, docs/fixed-point.md 1.2), so the result is bit-identical to one
 * core's. Without a barrier (cores run one after another) the outputs are split as before.
 */
#ifndef EA_FC_CORE_H
#define EA_FC_CORE_H

#include "ea_kernel_checks.h"

/* K slices start at whole bytes of the weight row: every input of 8-bit weights, every 2nd of
 * 4-bit and every 4th of 2-bit ones (a 24-input layer still gives 8 cores 3 inputs each). */
static inline int32_t ea_fc_k_grain(int32_t bits)
{
    return 8 / bits;
}

static inline ea_status_t ea_fc_check(const ea_fc_params_t *p)
{
    if (p == NULL || p->in_features < 1 || p->out_features < 1 || !ea_weight_bits_valid(p->weight_bits))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->in_type))
        return EA_ERR_ARG;
    return EA_OK;
}

/* True when this team splits K (ea_fully_connected_team_buffer_size says the scratch). */
static inline int ea_fc_splits_k(const ea_ctx_t *ctx, const ea_fc_params_t *p)
{
    return ctx != NULL && ctx->barrier != NULL && p->out_features < ctx->num_cores;
}

/* The K split's scratch: a 4-byte aligned slice of one int32 per output, slices 4-byte strided. */
static inline ea_status_t ea_fc_team_scratch_check(const ea_ctx_t *ctx, const ea_fc_params_t *p)
{
    if (!ea_scratch_ok(ctx, ea_fully_connected_team_buffer_size(p, ctx->num_cores)))
        return EA_ERR_BUFFER;
    if (((uintptr_t)ctx->buf & 3u) != 0 || (ctx->buf_size & 3) != 0)
        return EA_ERR_BUFFER;
    return EA_OK;
}

/* Phase 1 and the barrier: this core's partial sums of every output over its K slice. */
static inline void ea_fc_partials(const ea_ctx_t *ctx, const ea_fc_params_t *p, const int8_t *input,
                                  const int8_t *weights)
{
    const int32_t k = p->in_features, bits = p->weight_bits;
    const int32_t row_bytes = ea_packed_row_bytes(k, bits);
    int32_t *mine = (int32_t *)ctx->buf;
    const int32_t grain = ea_fc_k_grain(bits);
    int32_t g0, g1, k0, k1, c;
    ea_split((k + grain - 1) / grain, ctx, &g0, &g1);
    k0 = g0 * grain;
    k1 = g1 * grain < k ? g1 * grain : k;
    for (c = 0; c < p->out_features; c++)
        mine[c] = k1 > k0 ? ea_dot_weights(input + k0, p->in_type, weights + c * row_bytes + k0 * bits / 8, bits,
                                           k1 - k0, 0)
                          : 0;
    ctx->barrier();
}

/* Phase 2: bias + the team's partial sums of output c. */
static inline int32_t ea_fc_team_sum(const ea_ctx_t *ctx, int32_t c, int32_t bias)
{
    int32_t acc = bias, i;
    for (i = 0; i < ctx->num_cores; i++)
        acc += ((const int32_t *)ea_team_slice(ctx, i))[c];
    return acc;
}

#endif /* EA_FC_CORE_H */
