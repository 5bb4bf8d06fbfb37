/*
 * ea_fc_core.h - private to firmware/kernels/: checks and scratch size shared by the two fully
 * connected kernels (int8 and raw int32 output).
 */
#ifndef EA_FC_CORE_H
#define EA_FC_CORE_H

#include "ea_kernel_checks.h"

/* One unpacked weight row for 4/2-bit weights. */
static inline int32_t ea_fc_weight_scratch(const ea_fc_params_t *p)
{
    return p->weight_bits == 8 ? 0 : p->in_features;
}

static inline ea_status_t ea_fc_check(const ea_fc_params_t *p)
{
    if (p == NULL || p->in_features < 1 || p->out_features < 1 || !ea_weight_bits_valid(p->weight_bits))
        return EA_ERR_ARG;
    return EA_OK;
}

#endif /* EA_FC_CORE_H */
