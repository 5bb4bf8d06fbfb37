/*
 * ea_kernel_checks.h - private to firmware/kernels/: the argument checks every kernel runs once per
 * call (O(C_out) at most, negligible next to the arithmetic).
 */
#ifndef EA_KERNEL_CHECKS_H
#define EA_KERNEL_CHECKS_H

#include "ea_fixedpoint.h"
#include "ea_kernels.h"

/* Argument checks run unless EA_KERNELS_NO_CHECKS is defined (then a bad call is undefined). */
#ifdef EA_KERNELS_NO_CHECKS
#define EA_CHECK_ARGS(expr) ((void)sizeof(expr)) /* not evaluated; keeps the checker "used" */
#else
#define EA_CHECK_ARGS(expr)                                                                            \
    do {                                                                                               \
        ea_status_t ea_check_status_ = (expr);                                                         \
        if (ea_check_status_ != EA_OK)                                                                 \
            return ea_check_status_;                                                                   \
    } while (0)
#endif

static inline ea_status_t ea_window_check(const ea_window_t *w, int32_t in_h, int32_t in_w)
{
    if (w->kernel_h < 1 || w->kernel_w < 1 || w->stride_h < 1 || w->stride_w < 1)
        return EA_ERR_ARG;
    if (w->pad_top < 0 || w->pad_left < 0 || w->pad_bottom < 0 || w->pad_right < 0)
        return EA_ERR_ARG;
    if (in_h + w->pad_top + w->pad_bottom < w->kernel_h || in_w + w->pad_left + w->pad_right < w->kernel_w)
        return EA_ERR_ARG;
    return EA_OK;
}

static inline ea_status_t ea_shifts_check(const int8_t *shift, int32_t n)
{
    int32_t i;
    if (shift == NULL)
        return EA_ERR_ARG;
    for (i = 0; i < n; i++)
        if (!ea_shift_valid(shift[i]))
            return EA_ERR_ARG;
    return EA_OK;
}

#endif /* EA_KERNEL_CHECKS_H */
