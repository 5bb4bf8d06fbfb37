/*
 * ea_m4_pair.h - private to firmware/kernels/arm/ (included by ea_m4_core.h): dot products over
 * a pixel pair whose activations were widened to q15 once, reused by every output channel.
 *
 * The pair buffer holds the k activations of pixels a and b in groups of 4 words per 4 values:
 * (a0, a2), (a1, a3), (b0, b2), (b1, b3) as halfword pairs (the SXTB16 / UXTB16 order, so a
 * weight word widened the same way lines up), then the k % 4 last values as int32: 3 slots of a,
 * then 3 of b. Per 4 values and 2 output channels the loop does one LDM of the 4 words, 2 LDR +
 * 4 SXTB16 of the weights and 8 SMLAD: 15 instructions (+ 2 of loop) per 16 MACs, against 23 when
 * both operands are widened on the fly.
 *
 * The epilogue is the requantization of docs/fixed-point.md section 3 for shifts 0..31 (every
 * exported layer): the rounding term is folded into a per-channel start value (bias + 2^(s-1)),
 * so an output costs asr + usat/ssat + strb. A call with any other shift takes the general path.
 */
#ifndef EA_M4_PAIR_H
#define EA_M4_PAIR_H

/* Words of the pair buffer for k values. */
static inline int32_t ea_m4_pair_words(int32_t k)
{
    return 4 * (k >> 2) + 6;
}

/* Bytes of a pair-path scratch: the channel-pair table of out_c channels (4 words per pair),
 * one pair buffer for k values, and 3 bytes to align them to a word (LDM needs it). */
static inline int32_t ea_m4_pair_scratch_bytes(int32_t k, int32_t out_c)
{
    return 4 * (4 * (out_c >> 1) + ea_m4_pair_words(k)) + 3;
}

static inline uint32_t *ea_m4_align4(int8_t *p)
{
    return (uint32_t *)(void *)(p + ((4u - ((uintptr_t)p & 3u)) & 3u));
}

/* The channel-pair table of the channels [c_lo, c_lo + 2 * pairs): per pair c, c + 1 the start
 * values bias + round(shift) and the two shifts, so the epilogue reads one table row. Returns 0
 * when a shift is outside 0..31 (then the caller takes the general path). */
static inline int ea_m4_pair_table(const int32_t *bias, const int8_t *shift, int32_t c_lo, int32_t pairs,
                                   int32_t *tab)
{
    int32_t c, i;
    for (c = c_lo; pairs > 0; pairs--, tab += 4) {
        for (i = 0; i < 2; i++, c++) {
            const int32_t s = shift[c];
            if (s < 0 || s > 31)
                return 0;
            tab[i] = (int32_t)((uint32_t)(bias != NULL ? bias[c] : 0) + ((1u << s) >> 1));
            tab[2 + i] = s;
        }
    }
    return 1;
}

/* The k activations of pixels xa and xb (type T) into the pair buffer q. */
#define EA_M4_DEFINE_WIDEN(T, XT)                                                                         \
    static inline void ea_m4_widen2_##T(const int8_t *xa, const int8_t *xb, int32_t k, uint32_t *q)       \
    {                                                                                                     \
        int32_t g, i;                                                                                     \
        for (g = k >> 2; g > 0; g--, xa += 4, xb += 4, q += 4) {                                          \
            const uint32_t x = ea_rd32(xa), y = ea_rd32(xb);                                              \
            q[0] = EA_M4_EXT_##T(x), q[1] = EA_M4_EXTR_##T(x);                                            \
            q[2] = EA_M4_EXT_##T(y), q[3] = EA_M4_EXTR_##T(y);                                            \
        }                                                                                                 \
        for (i = 0; i < (k & 3); i++) {                                                                   \
            q[i] = (uint32_t)(int32_t)((const XT *)xa)[i];                                                \
            q[3 + i] = (uint32_t)(int32_t)((const XT *)xb)[i];                                            \
        }                                                                                                 \
    }

EA_M4_DEFINE_WIDEN(s8, int8_t)
EA_M4_DEFINE_WIDEN(u8, uint8_t)

/*
 * The 2x2 loop over the g groups of 4 of a pair buffer as inline assembly: LDM needs its
 * registers in ascending order, so the 4 activation words are pinned to r2..r5 (local register
 * variables, GCC's documented way to place asm operands); the other 10 operands take the rest.
 * The intrinsics loop below is its C twin (EA_M4_NO_ASM selects it; both are tested on QEMU).
 */
#if EA_SIMD_ACLE && !defined(EA_M4_NO_ASM)
#define EA_M4_PAIR_ASM 1
#define EA_M4_PAIR_LOOP(Q, E, WA, WB, A0, A1, B0, B1)                                                     \
    do {                                                                                                  \
        register uint32_t ae_ __asm__("r2");                                                              \
        register uint32_t ao_ __asm__("r3");                                                              \
        register uint32_t be_ __asm__("r4");                                                              \
        register uint32_t bo_ __asm__("r5");                                                              \
        uint32_t w_, t_;                                                                                  \
        __asm__ volatile("1:\n\t"                                                                         \
                         "ldmia  %[q]!, {%[ae], %[ao], %[be], %[bo]}\n\t"                                 \
                         "ldr    %[w], [%[wa]], #4\n\t"                                                   \
                         "sxtb16 %[t], %[w]\n\t"                                                          \
                         "sxtb16 %[w], %[w], ror #8\n\t"                                                  \
                         "smlad  %[a0], %[ae], %[t], %[a0]\n\t"                                           \
                         "smlad  %[a0], %[ao], %[w], %[a0]\n\t"                                           \
                         "smlad  %[b0], %[be], %[t], %[b0]\n\t"                                           \
                         "smlad  %[b0], %[bo], %[w], %[b0]\n\t"                                           \
                         "ldr    %[w], [%[wb]], #4\n\t"                                                   \
                         "sxtb16 %[t], %[w]\n\t"                                                          \
                         "sxtb16 %[w], %[w], ror #8\n\t"                                                  \
                         "smlad  %[a1], %[ae], %[t], %[a1]\n\t"                                           \
                         "smlad  %[a1], %[ao], %[w], %[a1]\n\t"                                           \
                         "smlad  %[b1], %[be], %[t], %[b1]\n\t"                                           \
                         "smlad  %[b1], %[bo], %[w], %[b1]\n\t"                                           \
                         "cmp    %[q], %[end]\n\t"                                                        \
                         "bne    1b\n\t"                                                                  \
                         : [a0] "+r"(A0), [a1] "+r"(A1), [b0] "+r"(B0), [b1] "+r"(B1), [q] "+r"(Q),       \
                           [wa] "+r"(WA), [wb] "+r"(WB), [ae] "=&r"(ae_), [ao] "=&r"(ao_),                \
                           [be] "=&r"(be_), [bo] "=&r"(bo_), [w] "=&r"(w_), [t] "=&r"(t_)                 \
                         : [end] "r"(E)                                                                   \
                         : "cc", "memory");                                                               \
    } while (0)
#else
#define EA_M4_PAIR_ASM 0
#define EA_M4_PAIR_LOOP(q, end, wa, wb, a0, a1, b0, b1) ((void)0)
#endif

/*
 * Output pixels oa and ob (or only oa: TWO 0) of `pairs` channel pairs from the pair buffer q of
 * k values: weight rows of k 8-bit values, one after the other from w (the first pair's first
 * row), the table of ea_m4_pair_table. One instantiation per saturation kind K (ea_m4_core.h)
 * and pixel count.
 */
typedef void (*ea_m4_pair_fn)(const uint32_t *q, int32_t k, const int8_t *w, const int32_t *tab, int32_t pairs,
                              int32_t hi, int8_t *oa, int8_t *ob);

#define EA_M4_DEFINE_PAIR(K, TWO)                                                                         \
    static void ea_m4_pair_##K##_##TWO(const uint32_t *q, int32_t k, const int8_t *w, const int32_t *tab,  \
                                       int32_t pairs, int32_t hi, int8_t *oa, int8_t *ob)                  \
    {                                                                                                     \
        const int32_t tail = k & 3;                                                                       \
        const uint32_t *qend = q + 4 * (k >> 2);                                                          \
        const int32_t *ta = (const int32_t *)(const void *)qend;                                          \
        (void)hi, (void)ob;                                                                               \
        for (; pairs > 0; pairs--, tab += 4, oa += 2) {                                                   \
            const int8_t *wa = w, *wb = w + k;                                                            \
            const uint32_t *qp = q;                                                                       \
            int32_t a0 = tab[0], a1 = tab[1], b0 = a0, b1 = a1, i;                                        \
            if (EA_M4_PAIR_ASM && qp < qend) {                                                            \
                EA_M4_PAIR_LOOP(qp, qend, wa, wb, a0, a1, b0, b1);                                        \
            } else {                                                                                      \
                for (; qp < qend; qp += 4) { /* the intrinsics twin */                                    \
                    uint32_t x = ea_rd32(wa), we = ea_sxtb16(x), wo = ea_sxtb16_ror8(x);                  \
                    a0 = ea_smlad(qp[0], we, a0), a0 = ea_smlad(qp[1], wo, a0);                           \
                    b0 = ea_smlad(qp[2], we, b0), b0 = ea_smlad(qp[3], wo, b0);                           \
                    x = ea_rd32(wb), we = ea_sxtb16(x), wo = ea_sxtb16_ror8(x);                           \
                    a1 = ea_smlad(qp[0], we, a1), a1 = ea_smlad(qp[1], wo, a1);                           \
                    b1 = ea_smlad(qp[2], we, b1), b1 = ea_smlad(qp[3], wo, b1);                           \
                    wa += 4, wb += 4;                                                                     \
                }                                                                                         \
            }                                                                                             \
            for (i = 0; i < tail; i++) {                                                                  \
                a0 += ta[i] * wa[i], a1 += ta[i] * wb[i];                                                 \
                b0 += ta[3 + i] * wa[i], b1 += ta[3 + i] * wb[i];                                         \
            }                                                                                             \
            w = wb + tail; /* the next pair's first row follows this pair's second */                     \
            EA_M4_STORE2_##K(oa, a0 >> tab[2], a1 >> tab[3], hi);                                         \
            if (TWO) {                                                                                    \
                EA_M4_STORE2_##K(ob, b0 >> tab[2], b1 >> tab[3], hi);                                     \
                ob += 2;                                                                                  \
            }                                                                                             \
        }                                                                                                 \
    }

#define EA_M4_DEFINE_PAIR_KIND(K)                                                                         \
    EA_M4_DEFINE_PAIR(K, 1)                                                                               \
    EA_M4_DEFINE_PAIR(K, 0)

EA_M4_DEFINE_PAIR_KIND(S8)
EA_M4_DEFINE_PAIR_KIND(U8)
EA_M4_DEFINE_PAIR_KIND(U7)
EA_M4_DEFINE_PAIR_KIND(HI)

/* The pair function for saturation kind k, two pixels or one. */
static inline ea_m4_pair_fn ea_m4_pair_pick(ea_m4_sat_t k, int two)
{
    if (two)
        return k == EA_M4_S8 ? ea_m4_pair_S8_1 : (k == EA_M4_U8 ? ea_m4_pair_U8_1 : (k == EA_M4_U7 ? ea_m4_pair_U7_1 : ea_m4_pair_HI_1));
    return k == EA_M4_S8 ? ea_m4_pair_S8_0 : (k == EA_M4_U8 ? ea_m4_pair_U8_0 : (k == EA_M4_U7 ? ea_m4_pair_U7_0 : ea_m4_pair_HI_0));
}

#endif /* EA_M4_PAIR_H */
