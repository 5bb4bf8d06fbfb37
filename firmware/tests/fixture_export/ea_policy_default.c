/*
 * ea_policy_default.c - TEST FIXTURE: the policy baked into the fixture export
 * (temporal, unit weights for outputs of FL 15/15/16/15, threshold 0.5, k = 2;
 * docs/artifacts.md).
 * The real file is written by `edgeadapt export` with edgeadapt.policy.to_c_initializer.
 */
#include "ea_policy.h"

const ea_policy_config_t ea_policy_default = {
    .kind = EA_POLICY_TEMPORAL,
    .num_channels = 4,
    .weight = {512, 512, 256, 512},
    .threshold = 8388608,
    .aux_index = 4,
    .aux_threshold = 0,
    .k = 2,
    .rerun = 0,
    .seed = 1,
    .p_big = 0,
};
