/*
 * ea_add_s8 (Cortex-M4 drop-in) - same name, arguments and results as firmware/kernels/ea_add_s8.c.
 *
 * 4 elements per pass: one word of a and one of b, widened to halfword pairs (SXTB16, uint8
 * inputs top-bit flipped first), then per element v = a * 2^(align_a - s') + b * 2^(align_b - s')
 * + r as two SMLABB/SMLATT, and asr + ssat/usat + strb (the loop instantiated per saturation
 * kind). The rounding term r = 2^(s-1) also carries the 128 per term a flipped uint8 input lost;
 * a negative shift s is folded into the powers (s' = min(s, 0), exact), so every call with
 * alignments + left shift <= 14 (the powers fit a signed halfword) takes this path, and the rest
 * the reference loop.
 */
#include "ea_m4_eltwise.h"

static ea_status_t ea_add_check(const ea_add_params_t *p)
{
    int32_t f, lo;
    if (p == NULL || p->h < 1 || p->w < 1 || p->c < 1 || !ea_act_valid(p->act))
        return EA_ERR_ARG;
    if (!ea_dtype_valid(p->a_type) || !ea_dtype_valid(p->b_type) || !ea_dtype_valid(p->out_type))
        return EA_ERR_ARG;
    f = p->fl_a > p->fl_b ? p->fl_a : p->fl_b;
    lo = p->fl_a < p->fl_b ? p->fl_a : p->fl_b;
    if (f - lo > 16 || !ea_shift_valid(f - p->fl_out))
        return EA_ERR_ARG;
    return EA_OK;
}

/* The SIMD loop's constants: both powers in both halfwords, the XOR masks, rounding + offsets. */
typedef struct {
    uint32_t ka, kb, flip_a, flip_b;
    int32_t round, shift, hi;
} ea_add_plan_t;

#define EA_ADD_DEFINE_RUN(K)                                                                              \
    static void ea_add_run_##K(const ea_add_plan_t *pl, const int8_t *a, const int8_t *b, int8_t *o,       \
                               int32_t n4)                                                                \
    {                                                                                                     \
        const uint32_t ka = pl->ka, kb = pl->kb, fa = pl->flip_a, fb = pl->flip_b;                        \
        const int32_t r = pl->round, s = pl->shift, hi = pl->hi;                                          \
        int32_t i;                                                                                        \
        (void)hi;                                                                                         \
        for (i = 0; i < n4; i += 4) {                                                                     \
            const uint32_t wa = ea_rd32(a + i) ^ fa, wb = ea_rd32(b + i) ^ fb;                            \
            const uint32_t ae = ea_sxtb16(wa), ao = ea_sxtb16_ror8(wa);                                   \
            const uint32_t be = ea_sxtb16(wb), bo = ea_sxtb16_ror8(wb);                                   \
            ea_put(o + i, EA_M4E_SAT_##K(ea_smlabb(ae, ka, ea_smlabb(be, kb, r)) >> s, hi));              \
            ea_put(o + i + 1, EA_M4E_SAT_##K(ea_smlabb(ao, ka, ea_smlabb(bo, kb, r)) >> s, hi));          \
            ea_put(o + i + 2, EA_M4E_SAT_##K(ea_smlatt(ae, ka, ea_smlatt(be, kb, r)) >> s, hi));          \
            ea_put(o + i + 3, EA_M4E_SAT_##K(ea_smlatt(ao, ka, ea_smlatt(bo, kb, r)) >> s, hi));          \
        }                                                                                                 \
    }

EA_ADD_DEFINE_RUN(S8)
EA_ADD_DEFINE_RUN(U8)
EA_ADD_DEFINE_RUN(U7)
EA_ADD_DEFINE_RUN(HI)

ea_status_t ea_add_s8(const ea_ctx_t *ctx, const ea_add_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *output)
{
    int32_t i0, i1, i;
    EA_CHECK_ARGS(ea_add_check(p));
    {
        const int32_t f = p->fl_a > p->fl_b ? p->fl_a : p->fl_b;
        const int32_t align_a = f - p->fl_a, align_b = f - p->fl_b, shift = f - p->fl_out;
        const int32_t left = shift < 0 ? -shift : 0;
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
        int32_t n4 = 0;
        ea_split(p->h * p->w * p->c, ctx, &i0, &i1); /* elementwise: split the elements evenly */
        if ((align_a > align_b ? align_a : align_b) + left <= 14) {
            const int32_t pa = (int32_t)1 << (align_a + left), pb = (int32_t)1 << (align_b + left);
            ea_add_plan_t pl;
            pl.ka = (uint32_t)pa * 0x10001u;
            pl.kb = (uint32_t)pb * 0x10001u;
            pl.flip_a = ea_m4e_flip(p->a_type);
            pl.flip_b = ea_m4e_flip(p->b_type);
            pl.shift = shift > 0 ? shift : 0;
            pl.round = (shift > 0 ? (int32_t)1 << (shift - 1) : 0) + ea_m4e_offset(p->a_type) * pa +
                       ea_m4e_offset(p->b_type) * pb;
            pl.hi = clamp.hi;
            n4 = (i1 - i0) & ~3;
            switch (ea_m4e_sat_kind(clamp)) {
            case EA_M4E_S8: ea_add_run_S8(&pl, a + i0, b + i0, output + i0, n4); break;
            case EA_M4E_U8: ea_add_run_U8(&pl, a + i0, b + i0, output + i0, n4); break;
            case EA_M4E_U7: ea_add_run_U7(&pl, a + i0, b + i0, output + i0, n4); break;
            default: ea_add_run_HI(&pl, a + i0, b + i0, output + i0, n4); break;
            }
        }
        for (i = i0 + n4; i < i1; i++) { /* the tail, or every element when the powers are too large */
            const int32_t v = ea_scale_pow2(ea_get(a + i, p->a_type), align_a) +
                              ea_scale_pow2(ea_get(b + i, p->b_type), align_b);
            ea_put(output + i, ea_requant(v, shift, clamp));
        }
    }
    return EA_OK;
}
