/*
 * ea_fc_core.h - private to firmware/kernels/: the argument checks shared by the two fully
 * connected kernels (int8 and raw int32 output).
 */
#ifndef EA_FC_CORE_H
#define EA_FC_CORE_H

#include "ea_kernel_checks.h"

static inline ea_status_t ea_fc_check(const ea_fc_params_t *p)
{
    if (p == NULL || p->in_features < 1 || p->out_features < 1 || !ea_weight_bits_valid(p->weight_bits))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->in_type))
        return EA_ERR_ARG;
    return EA_OK;
}

#endif /* EA_FC_CORE_H */
