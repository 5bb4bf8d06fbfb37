/*
 * ea_lut_s8 - an elementwise function as a 256-entry lookup table, docs/fixed-point.md section 4.8.
 *
 * Sigmoid, tanh, hard-swish, hard-sigmoid, leaky ReLU and clip with any bounds: the quantizer
 * samples the function once on the 256 input codes and stores the output codes (the table is part
 * of the model, like weights), so the kernel is one indexed load per element.
 *   input   int8 or uint8 [size] (any layout: the op is elementwise); element i reads
 *           table[(uint8_t)input[i]], the code's 8 bits
 *   output  int8 or uint8 [size], the table's bytes; elements split by ea_split(size)
 *   scratch none
 */
#include "ea_kernel_checks.h"

ea_status_t ea_lut_s8(const ea_ctx_t *ctx, const ea_lut_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i0, i1, i;
    EA_CHECK_ARGS((p == NULL || p->size < 1 || p->table == NULL) ? EA_ERR_ARG : EA_OK);
    ea_split(p->size, ctx, &i0, &i1);
    {
        const int8_t *table = p->table;
        for (i = i0; i < i1; i++)
            output[i] = table[(uint8_t)input[i]];
    }
    return EA_OK;
}
