/*
 * ea_policy.c - the switching state machine (docs/artifacts.md "## Policy config").
 * Integer only: the same decisions as edgeadapt/policy/engine.py, frame for frame.
 */
#include "ea_policy.h"

uint32_t ea_policy_xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static int32_t random_draw(ea_policy_state_t *s, const ea_policy_config_t *c)
{
    uint32_t r = ea_policy_xorshift32(&s->rng);
    return (r >> 8) < c->p_big ? EA_POLICY_BIG : EA_POLICY_SMALL;
}

int64_t ea_policy_distance(const ea_policy_config_t *c, const int32_t *a, const int32_t *b)
{
    int64_t d = 0;
    for (uint32_t i = 0; i < c->num_channels && i < EA_POLICY_MAX_CH; i++) {
        int64_t delta = (int64_t)a[i] - (int64_t)b[i];
        d += (int64_t)c->weight[i] * (delta < 0 ? -delta : delta);
    }
    return d;
}

uint32_t ea_policy_partition_cell(const ea_policy_config_t *c, int32_t model, const int32_t *outputs)
{
    uint32_t cell = 0, radix = 1;
    const int32_t m = model == EA_POLICY_BIG ? 1 : 0;
    for (uint32_t i = 0; i < c->part_n && i < EA_POLICY_PART_MAX_CH; i++) {
        int64_t v = outputs[c->part_channel[i]];
        uint32_t bin = 0;
        if ((c->part_abs >> i) & 1u)
            v = v < 0 ? -v : v; /* int64: |INT32_MIN| does not overflow */
        for (uint32_t j = 0; j < c->part_ncut[i] && j < EA_POLICY_PART_MAX_CUTS; j++)
            bin += v > (int64_t)c->part_cut[m][i][j];
        cell += bin * radix;
        radix *= 4u;
    }
    return cell;
}

int32_t ea_policy_reset(ea_policy_state_t *s, const ea_policy_config_t *c)
{
    for (uint32_t i = 0; i < EA_POLICY_MAX_CH; i++)
        s->prev[i] = 0;
    s->have_prev = 0;
    s->big_left = 0;
    s->rng = c->seed ? c->seed : 1u;
    s->rerun = 0;
    switch (c->kind) {
    case EA_POLICY_ALWAYS_BIG:
        s->next_model = EA_POLICY_BIG;
        break;
    case EA_POLICY_RANDOM:
        s->next_model = random_draw(s, c);
        break;
    default:
        s->next_model = EA_POLICY_SMALL;
        break;
    }
    return s->next_model;
}

/* Has the small model's output just asked for the big one? Updates the temporal memory. */
static int small_triggers(ea_policy_state_t *s, const ea_policy_config_t *c, const int32_t *out)
{
    int trigger = 0;
    if (c->kind == EA_POLICY_TEMPORAL) {
        trigger = s->have_prev && ea_policy_distance(c, out, s->prev) > c->threshold;
        for (uint32_t i = 0; i < c->num_channels && i < EA_POLICY_MAX_CH; i++)
            s->prev[i] = out[i];
        s->have_prev = 1;
    } else if (c->kind == EA_POLICY_AUX) {
        trigger = out[c->aux_index] > c->aux_threshold;
    }
    return trigger;
}

int32_t ea_policy_decide(ea_policy_state_t *s, const ea_policy_config_t *c, int32_t model_used,
                         const int32_t *outputs)
{
    s->rerun = 0;
    switch (c->kind) {
    case EA_POLICY_ALWAYS_SMALL:
        s->next_model = EA_POLICY_SMALL;
        return s->next_model;
    case EA_POLICY_ALWAYS_BIG:
        s->next_model = EA_POLICY_BIG;
        return s->next_model;
    case EA_POLICY_RANDOM:
        s->next_model = random_draw(s, c);
        return s->next_model;
    case EA_POLICY_PARTITION: {
        /* output-based: the output of whichever model just ran picks the next frame's model */
        uint32_t cell = ea_policy_partition_cell(c, model_used, outputs);
        uint32_t word = cell < 32u ? c->part_mask_lo : c->part_mask_hi;
        s->next_model = ((word >> (cell & 31u)) & 1u) ? EA_POLICY_BIG : EA_POLICY_SMALL;
        return s->next_model;
    }
    default:
        break;
    }
    /* temporal and aux: proactive swap to big for k frames after a trigger */
    if (model_used == EA_POLICY_SMALL && small_triggers(s, c, outputs)) {
        s->big_left = c->k;
        if (c->rerun) {
            s->rerun = 1;
            s->next_model = EA_POLICY_BIG;
            return s->next_model;
        }
    }
    if (s->big_left > 0) {
        s->big_left--;
        s->next_model = EA_POLICY_BIG;
    } else {
        s->next_model = EA_POLICY_SMALL;
    }
    return s->next_model;
}
