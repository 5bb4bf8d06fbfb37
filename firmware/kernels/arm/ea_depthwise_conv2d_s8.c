/*
 * ea_depthwise_conv2d_s8 (Cortex-M4 drop-in) - same name, arguments and results as
 * firmware/kernels/ea_depthwise_conv2d_s8.c (tap-major weights [kh][kw][out_c]).
 * Channel multiplier 1 with shifts 0..31: once per call, the box's weights (8, 4 or 2-bit) are
 * widened to q15 per group of 4 channels, tap after tap ((w0, w2), (w1, w3): the order SXTB16
 * gives the activations), and a table holds each group's start values (bias + rounding term) and
 * shifts. Per output pixel and group, the 4 accumulators stay in registers over the window: one
 * activation word widened in 2 instructions, one weight pair, SMLABB / SMLATT; a whole 3x3 window
 * is unrolled; the epilogue is asr + usat/ssat + strb. Channels past the last group of 4 run a
 * scalar loop; other cases run the reference row loop.
 *   scratch the larger of the reference loop's 4 * out_c bytes and, for multiplier 1, per group of 4 channels 8 * kh * kw bytes of q15 weights + a 32-byte table
 *           row; 4-byte aligned
 */
#include "../ea_depthwise_core.h"
#include "ea_m4_core.h"

/* The widened weights and the table of the SIMD path: bytes per group of 4 channels. */
static int32_t ea_m4_dw_group_bytes(const ea_conv_params_t *p)
{
    return 8 * p->win.kernel_h * p->win.kernel_w + 32;
}

static int ea_m4_dw_simd(const ea_conv_params_t *p)
{
    return p->out_c == p->in_c;
}

int32_t ea_depthwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p)
{
    const int32_t acc = p->out_c * (int32_t)sizeof(int32_t);
    const int32_t simd = ea_m4_dw_simd(p) ? (p->out_c >> 2) * ea_m4_dw_group_bytes(p) : 0;
    return acc > simd ? acc : simd;
}

/* The box's channels [c0, c1): per group of 4 from c0, q15 weights into wq ([group][tap][2
 * words]) and a table row into tab (start values of the 4 channels, then their shifts). 0 when a
 * shift of [c0, c1) is outside 0..31. */
static int ea_m4_dw_prepare(const ea_conv_params_t *p, const int8_t *weights, const int32_t *bias, int32_t c0,
                            int32_t c1, uint32_t *wq, int32_t *tab)
{
    const int32_t taps = p->win.kernel_h * p->win.kernel_w, ch = p->out_c, groups = (c1 - c0) >> 2;
    const int32_t bits = p->weight_bits, rb = ea_packed_row_bytes(ch, bits);
    int32_t g, t, j;
    for (j = c0; j < c1; j++)
        if (p->shift[j] < 0 || p->shift[j] > 31)
            return 0;
    for (g = 0; g < groups; g++, tab += 8) {
        const int32_t c = c0 + 4 * g;
        for (t = 0; t < taps; t++, wq += 2) {
            const int8_t *row = weights + t * rb; /* tap t's row of out_c weights, packed or not */
            const uint32_t w = bits == 8 ? ea_rd32(row + c)
                                         : (uint32_t)(uint8_t)ea_m4_weight_at(row, bits, c) |
                                               (uint32_t)(uint8_t)ea_m4_weight_at(row, bits, c + 1) << 8 |
                                               (uint32_t)(uint8_t)ea_m4_weight_at(row, bits, c + 2) << 16 |
                                               (uint32_t)(uint8_t)ea_m4_weight_at(row, bits, c + 3) << 24;
            wq[0] = ea_sxtb16(w), wq[1] = ea_sxtb16_ror8(w);
        }
        for (j = 0; j < 4; j++) {
            const int32_t s = p->shift[c + j];
            tab[j] = (int32_t)((uint32_t)(bias != NULL ? bias[c + j] : 0) + ((1u << s) >> 1));
            tab[4 + j] = s;
        }
    }
    return 1;
}

/* a0..a3 (channels 0, 1, 2, 3 of a group) += one tap: 4 activations at xp, q15 weights at wp. */
#define EA_M4_DW_TAP(T, xp, wp)                                                                           \
    do {                                                                                                  \
        const uint32_t v_ = ea_rd32(xp);                                                                  \
        const uint32_t ve_ = EA_M4_EXT_##T(v_), vo_ = EA_M4_EXTR_##T(v_);                                 \
        const uint32_t ke_ = (wp)[0], ko_ = (wp)[1];                                                      \
        a0 = ea_smlabb(ve_, ke_, a0);                                                                     \
        a2 = ea_smlatt(ve_, ke_, a2);                                                                     \
        a1 = ea_smlabb(vo_, ko_, a1);                                                                     \
        a3 = ea_smlatt(vo_, ko_, a3);                                                                     \
    } while (0)

/*
 * A whole 3x3 window for one group of 4 channels as inline assembly (8 instructions per tap;
 * gcc 12 interleaves the 9 taps of the intrinsics version and spills, about 1.5x as many):
 * r = the window's top-left activations, rs = the input row stride, wg = the group's q15 weights,
 * left on the next group's. EXT is uxtb16 (uint8 activations) or sxtb16 (int8). The intrinsics
 * taps are its C twin (EA_M4_NO_ASM selects them; both are tested on QEMU).
 */
#if EA_SIMD_ACLE && !defined(EA_M4_NO_ASM)
#define EA_M4_DW_ASM 1
#define EA_M4_DW_ASM_TAP(EXT, ADDR)                                                                       \
    "ldr    %[v], " ADDR "\n\t"                                                                           \
    "ldrd   %[ke], %[ko], [%[wg]], #8\n\t"                                                                \
    EXT "  %[ve], %[v]\n\t"                                                                              \
    EXT "  %[v], %[v], ror #8\n\t"                                                                       \
    "smlabb %[a0], %[ve], %[ke], %[a0]\n\t"                                                              \
    "smlatt %[a2], %[ve], %[ke], %[a2]\n\t"                                                              \
    "smlabb %[a1], %[v], %[ko], %[a1]\n\t"                                                               \
    "smlatt %[a3], %[v], %[ko], %[a3]\n\t"
#define EA_M4_DW_ASM_ROW(EXT)                                                                             \
    EA_M4_DW_ASM_TAP(EXT, "[%[r]]") EA_M4_DW_ASM_TAP(EXT, "[%[r], %[ch]]") EA_M4_DW_ASM_TAP(EXT, "[%[r], %[ch2]]")
#define EA_M4_DW_3X3_ASM(EXT, R, WG, RS, CH, CH2)                                                         \
    do {                                                                                                  \
        uint32_t v_, ve_, ke_, ko_;                                                                       \
        __asm__ volatile(EA_M4_DW_ASM_ROW(EXT) "add    %[r], %[r], %[rs]\n\t" EA_M4_DW_ASM_ROW(EXT)          \
                         "add    %[r], %[r], %[rs]\n\t" EA_M4_DW_ASM_ROW(EXT)                             \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [r] "+r"(R),       \
                           [wg] "+r"(WG), [v] "=&r"(v_), [ve] "=&r"(ve_), [ke] "=&r"(ke_), [ko] "=&r"(ko_) \
                         : [rs] "r"(RS), [ch] "r"(CH), [ch2] "r"(CH2)                                     \
                         : "memory");                                                                     \
    } while (0)
#define EA_M4_DW_EXT_s8 "sxtb16"
#define EA_M4_DW_EXT_u8 "uxtb16"
#else
#define EA_M4_DW_ASM 0
#define EA_M4_DW_3X3_ASM(EXT, R, WG, RS, CH, CH2) ((void)0)
#define EA_M4_DW_EXT_s8 ""
#define EA_M4_DW_EXT_u8 ""
#endif

/* The outputs of box b (channel multiplier 1, 8-bit weights) into `out` (rows b->y0 onwards). */
#define EA_M4_DEFINE_DEPTHWISE(T, XT, K)                                                                  \
    static void ea_m4_depthwise_box_##T##_##K(const ea_conv_params_t *p, const int8_t *input,             \
                                              const int8_t *weights, const int32_t *bias, const ea_box_t *b, \
                                              int8_t *out, const uint32_t *wq, const int32_t *tab)        \
    {                                                                                                     \
        const ea_window_t *win = &p->win;                                                                 \
        const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->in_c, kh = win->kernel_h, kw = win->kernel_w; \
        const int32_t out_w = ea_conv_out_w(p), row_step = in_w * ch, ch2 = 2 * ch;                       \
        const int32_t c0 = b->c0, groups = (b->c1 - c0) >> 2, gw = 2 * kh * kw;                           \
        const int32_t bits = p->weight_bits, rb = ea_packed_row_bytes(ch, bits);                          \
        const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);                            \
        const int32_t hi = clamp.hi;                                                                      \
        int32_t y, x, ky, kx, c, g;                                                                       \
        (void)hi;                                                                                         \
        for (y = b->y0; y < b->y1; y++) {                                                                 \
            const int32_t iy0 = y * win->stride_h - win->pad_top;                                         \
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;                                                     \
            const int32_t ky_hi = in_h - iy0 < kh ? in_h - iy0 : kh;                                      \
            for (x = b->x0; x < b->x1; x++) {                                                             \
                int8_t *o = out + ((y - b->y0) * out_w + x) * ch + c0;                                    \
                const int32_t ix0 = x * win->stride_w - win->pad_left;                                    \
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;                                                 \
                const int32_t kx_hi = in_w - ix0 < kw ? in_w - ix0 : kw;                                  \
                const int32_t rows = ky_hi - ky_lo, cols = kx_hi - kx_lo;                                 \
                const int8_t *x0 = input + ((iy0 + ky_lo) * in_w + ix0 + kx_lo) * ch + c0;                \
                const uint32_t *wg = wq + 2 * (ky_lo * kw + kx_lo);                                       \
                const int32_t *tg = tab;                                                                  \
                if (rows == 3 && cols == 3 && kw == 3) { /* a whole 3x3 window, unrolled */               \
                    for (g = 0; g < groups; g++, x0 += 4, tg += 8, o += 4) {                              \
                        int32_t a0 = tg[0], a1 = tg[1], a2 = tg[2], a3 = tg[3];                           \
                        const int8_t *r = x0;                                                             \
                        if (EA_M4_DW_ASM) {                                                               \
                            EA_M4_DW_3X3_ASM(EA_M4_DW_EXT_##T, r, wg, row_step, ch, ch2);                 \
                        } else {                                                                          \
                            EA_M4_DW_TAP(T, r, wg);                                                       \
                            EA_M4_DW_TAP(T, r + ch, wg + 2);                                              \
                            EA_M4_DW_TAP(T, r + ch2, wg + 4);                                             \
                            r += row_step;                                                                \
                            EA_M4_DW_TAP(T, r, wg + 6);                                                   \
                            EA_M4_DW_TAP(T, r + ch, wg + 8);                                              \
                            EA_M4_DW_TAP(T, r + ch2, wg + 10);                                            \
                            r += row_step;                                                                \
                            EA_M4_DW_TAP(T, r, wg + 12);                                                  \
                            EA_M4_DW_TAP(T, r + ch, wg + 14);                                             \
                            EA_M4_DW_TAP(T, r + ch2, wg + 16);                                            \
                            wg += gw;                                                                     \
                        }                                                                                 \
                        EA_M4_STORE4_##K(o, a0 >> tg[4], a1 >> tg[5], a2 >> tg[6], a3 >> tg[7], hi);      \
                    }                                                                                     \
                } else { /* a clipped window (or another kernel size) */                                  \
                    for (g = 0; g < groups; g++, x0 += 4, wg += gw, tg += 8, o += 4) {                    \
                        int32_t a0 = tg[0], a1 = tg[1], a2 = tg[2], a3 = tg[3];                           \
                        const int8_t *r = x0;                                                             \
                        const uint32_t *wr = wg;                                                          \
                        for (ky = 0; ky < rows; ky++, r += row_step, wr += 2 * kw)                        \
                            for (kx = 0; kx < cols; kx++)                                                 \
                                EA_M4_DW_TAP(T, r + kx * ch, wr + 2 * kx);                                \
                        EA_M4_STORE4_##K(o, a0 >> tg[4], a1 >> tg[5], a2 >> tg[6], a3 >> tg[7], hi);      \
                    }                                                                                     \
                }                                                                                         \
                for (c = c0 + 4 * groups; c < b->c1; c++, o++) { /* the last channels, fewer than 4 */   \
                    int32_t a = bias != NULL ? bias[c] : 0;                                               \
                    const int8_t *xr = x0 - 4 * groups + (c - c0);                                        \
                    for (ky = 0; ky < rows; ky++, xr += row_step)                                         \
                        for (kx = 0; kx < cols; kx++)                                                     \
                            a += (int32_t)((const XT *)xr)[kx * ch] *                                     \
                                 ea_m4_weight_at(weights + ((ky_lo + ky) * kw + kx_lo + kx) * rb, bits, c); \
                    ea_put(o, EA_M4_SAT_##K((a + (int32_t)((1u << p->shift[c]) >> 1)) >> p->shift[c], hi)); \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

typedef void (*ea_m4_dw_fn)(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                            const int32_t *bias, const ea_box_t *b, int8_t *out, const uint32_t *wq,
                            const int32_t *tab);

/* One instantiation per activation type and saturation kind (ea_m4_core.h). */
#define EA_M4_DEFINE_DEPTHWISE_ALL(T, XT)                                                                 \
    EA_M4_DEFINE_DEPTHWISE(T, XT, S8)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, U8)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, U7)                                                                     \
    EA_M4_DEFINE_DEPTHWISE(T, XT, HI)                                                                     \
    static ea_m4_dw_fn ea_m4_depthwise_##T(ea_m4_sat_t k)                                                 \
    {                                                                                                     \
        return k == EA_M4_S8 ? ea_m4_depthwise_box_##T##_S8                                               \
                             : (k == EA_M4_U8 ? ea_m4_depthwise_box_##T##_U8                              \
                                              : (k == EA_M4_U7 ? ea_m4_depthwise_box_##T##_U7             \
                                                               : ea_m4_depthwise_box_##T##_HI));          \
    }

EA_M4_DEFINE_DEPTHWISE_ALL(s8, int8_t)
EA_M4_DEFINE_DEPTHWISE_ALL(u8, uint8_t)

ea_status_t ea_depthwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    ea_box_t b;
    EA_CHECK_ARGS(ea_depthwise_check(p));
    if (!ea_scratch_ok(ctx, ea_depthwise_conv2d_s8_get_buffer_size(p)) || ((uintptr_t)ctx->buf & 3u) != 0)
        return EA_ERR_BUFFER;
    b = ea_conv_split(p, ctx, 0);
    if (!ea_box_empty(&b)) {
        int8_t *out = output + b.y0 * ea_conv_out_w(p) * p->out_c;
        const int32_t groups = (b.c1 - b.c0) >> 2;
        uint32_t *wq = (uint32_t *)ctx->buf;
        int32_t *tab = (int32_t *)(void *)(wq + groups * 2 * p->win.kernel_h * p->win.kernel_w);
        if (ea_m4_dw_simd(p) && ea_m4_dw_prepare(p, weights, bias, b.c0, b.c1, wq, tab)) {
            const ea_m4_sat_t k = ea_m4_sat_kind(ea_act_clamp(p->act, p->fl_out, p->out_type));
            (p->in_type == EA_UINT8 ? ea_m4_depthwise_u8(k) : ea_m4_depthwise_s8(k))(p, input, weights, bias, &b, out,
                                                                                     wq, tab);
        } else {
            ea_depthwise_box(p, input, weights, bias, &b, out, (int32_t *)ctx->buf);
        }
    }
    return EA_OK;
}
