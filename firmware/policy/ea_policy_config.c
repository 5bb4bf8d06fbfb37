/*
 * ea_policy_config.c - names and validation of policy configs (baked or received over the link).
 */
#include <string.h>

#include "ea_policy.h"

static const char *const kind_names[EA_POLICY_NUM_KINDS] = {
    "always-small", "always-big", "random", "temporal", "aux", "partition",
};

const char *ea_policy_kind_name(int32_t kind)
{
    if (kind < 0 || kind >= EA_POLICY_NUM_KINDS)
        return 0;
    return kind_names[kind];
}

int32_t ea_policy_kind_parse(const char *name)
{
    for (int32_t k = 0; k < EA_POLICY_NUM_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

const char *ea_policy_check(const ea_policy_config_t *c, uint32_t num_outputs)
{
    if (c->kind < 0 || c->kind >= EA_POLICY_NUM_KINDS)
        return "unknown policy kind";
    if (c->kind == EA_POLICY_TEMPORAL) {
        if (c->num_channels < 1 || c->num_channels > EA_POLICY_MAX_CH)
            return "temporal: channel count out of 1..8";
        if (c->num_channels > num_outputs)
            return "temporal: more channels than small-model outputs";
        for (uint32_t i = 0; i < c->num_channels; i++)
            if (c->weight[i] < 0 || c->weight[i] > EA_POLICY_MAX_WEIGHT)
                return "temporal: weight out of 0..2^27";
        if (c->threshold < 0)
            return "temporal: negative threshold";
    }
    if (c->kind == EA_POLICY_PARTITION) {
        if (c->part_n < 1 || c->part_n > EA_POLICY_PART_MAX_CH)
            return "partition: channel count out of 1..3";
        for (uint32_t i = 0; i < c->part_n; i++) {
            if (c->part_channel[i] >= 4u || c->part_channel[i] >= num_outputs)
                return "partition: a channel is not a pose output (0..3)";
            if (c->part_ncut[i] < 1 || c->part_ncut[i] > EA_POLICY_PART_MAX_CUTS)
                return "partition: cut count out of 1..3";
        }
    }
    if (c->kind == EA_POLICY_AUX && c->aux_index >= num_outputs)
        return "aux: aux output index beyond the small model's outputs";
    if (c->kind == EA_POLICY_RANDOM) {
        if (c->seed == 0)
            return "random: seed must be non-zero";
        if (c->p_big > EA_POLICY_ONE_Q24)
            return "random: p out of 0..2^24";
    }
    if (c->rerun > 1)
        return "rerun must be 0 or 1";
    return 0;
}
