/*
 * ea_m4_cin1.h - private to firmware/kernels/arm/ (included by ea_m4_core.h): the one-channel
 * first layer (a 3x3 or 5x5 window over the frame). The window is short, so the weights are
 * widened to q15 once per call and each pixel's patch once, both padded to an even count n1 of
 * halfwords with a zero (SMLAD takes pairs): 2 pixels x 2 channels cost 4 loads + 4 SMLAD per
 * word of the window, no widening in the loop. The common windows (3x3: 5 words, 5x5: 13) are
 * unrolled at compile time; the epilogue reads the channel-pair table of ea_m4_pair.h.
 *
 * Scratch, from the first word boundary: the two q15 patches (2 * n1 bytes each), the q15
 * weights (out_c rows of 2 * n1 bytes), the channel-pair table (16 bytes per pair).
 */
#ifndef EA_M4_CIN1_H
#define EA_M4_CIN1_H

static inline int32_t ea_m4_cin1_taps(const ea_conv_params_t *p)
{
    return (p->win.kernel_h * p->win.kernel_w + 1) & ~1;
}

/* Scratch of the Cin = 1 path (the layout above, + 3 bytes to reach a word boundary). */
static inline int32_t ea_m4_cin1_bytes(const ea_conv_params_t *p)
{
    return (4 + 2 * p->out_c) * ea_m4_cin1_taps(p) + 16 * (p->out_c >> 1) + 3;
}

static inline void ea_m4_put16(int8_t *dst, int32_t v)
{
    const int16_t h = (int16_t)v;
    __builtin_memcpy(dst, &h, 2);
}

/* Where the q15 weights start in the scratch of the Cin = 1 path. */
static inline int8_t *ea_m4_cin1_wq(const ea_conv_params_t *p, int8_t *scratch)
{
    return (int8_t *)(void *)ea_m4_align4(scratch) + 4 * ea_m4_cin1_taps(p);
}

/* The weight rows (8, 4 or 2-bit) widened to q15 rows of n1 halfwords (the pad is 0), into scratch. */
static inline void ea_m4_cin1_weights(const ea_conv_params_t *p, const int8_t *weights, int8_t *scratch)
{
    const int32_t k = p->win.kernel_h * p->win.kernel_w, n1 = ea_m4_cin1_taps(p);
    const int32_t rb = ea_packed_row_bytes(k, p->weight_bits);
    int8_t *wq = ea_m4_cin1_wq(p, scratch);
    int32_t c, i;
    for (c = 0; c < p->out_c; c++, weights += rb, wq += 2 * n1) {
        for (i = 0; i < k; i++)
            ea_m4_put16(wq + 2 * i, ea_m4_weight_at(weights, p->weight_bits, i));
        if (k < n1)
            ea_m4_put16(wq + 2 * k, 0);
    }
}

/* KW q15 values of row r (type XT) at patch: unrolled when KW is a constant. */
#define EA_M4_CIN1_ROW(XT, KW)                                                                            \
    do {                                                                                                  \
        int32_t kx_;                                                                                      \
        _Pragma("GCC unroll 5") for (kx_ = 0; kx_ < (KW); kx_++)                                          \
            ea_m4_put16(patch + 2 * kx_, ((const XT *)r)[kx_]);                                             \
    } while (0)

/* A window wholly inside the input: kh rows of KW values, no bounds checks. */
#define EA_M4_CIN1_INSIDE(XT, KW)                                                                         \
    do {                                                                                                  \
        for (ky = 0; ky < kh; ky++, r += in_w, patch += 2 * (KW))                                         \
            EA_M4_CIN1_ROW(XT, KW);                                                                       \
    } while (0)

/* The q15 patch of the output pixel whose window starts at (iy0, ix0): n1 halfwords. */
static inline void ea_m4_cin1_gather(const ea_conv_params_t *p, const int8_t *input, int32_t iy0, int32_t ix0,
                                     int8_t *patch)
{
    const int32_t kh = p->win.kernel_h, kw = p->win.kernel_w, in_w = p->in_w;
    const int unsigned_in = p->in_type == EA_UINT8;
    int32_t ky, kx;
    if (iy0 >= 0 && iy0 + kh <= p->in_h && ix0 >= 0 && ix0 + kw <= in_w) {
        const int8_t *r = input + iy0 * in_w + ix0;
        if (kw == 3 && unsigned_in)
            EA_M4_CIN1_INSIDE(uint8_t, 3);
        else if (kw == 3)
            EA_M4_CIN1_INSIDE(int8_t, 3);
        else if (kw == 5 && unsigned_in)
            EA_M4_CIN1_INSIDE(uint8_t, 5);
        else if (kw == 5)
            EA_M4_CIN1_INSIDE(int8_t, 5);
        else if (unsigned_in)
            EA_M4_CIN1_INSIDE(uint8_t, kw);
        else
            EA_M4_CIN1_INSIDE(int8_t, kw);
        if ((kh * kw) & 1)
            ea_m4_put16(patch, 0);
        return;
    }
    for (ky = 0; ky < kh; ky++, patch += 2 * kw) {
        const int32_t iy = iy0 + ky;
        const int8_t *row = input + iy * in_w + ix0;
        if (iy < 0 || iy >= p->in_h) {
            for (kx = 0; kx < kw; kx++)
                ea_m4_put16(patch + 2 * kx, 0);
        } else if (ix0 >= 0 && ix0 + kw <= in_w) {
            if (unsigned_in)
                for (kx = 0; kx < kw; kx++)
                    ea_m4_put16(patch + 2 * kx, ((const uint8_t *)row)[kx]);
            else
                for (kx = 0; kx < kw; kx++)
                    ea_m4_put16(patch + 2 * kx, row[kx]);
        } else {
            for (kx = 0; kx < kw; kx++) {
                const int32_t ix = ix0 + kx;
                ea_m4_put16(patch + 2 * kx, ix < 0 || ix >= in_w ? 0 : ea_get(row + kx, p->in_type));
            }
        }
    }
    if ((kh * kw) & 1)
        ea_m4_put16(patch, 0);
}

/* a0 += xa.wa, a1 += xa.wb, b0 += xb.wa, b1 += xb.wb over NW q15 words (unrolled when NW is a
 * constant). */
#define EA_M4_Q15_LOOP(NW)                                                                                \
    do {                                                                                                  \
        int32_t i_;                                                                                       \
        _Pragma("GCC unroll 13") for (i_ = 0; i_ < (NW); i_++)                                            \
        {                                                                                                 \
            const uint32_t x_ = xa[i_], y_ = xb[i_], u_ = wa[i_], v_ = wb[i_];                            \
            a0 = ea_smlad(x_, u_, a0), a1 = ea_smlad(x_, v_, a1);                                         \
            b0 = ea_smlad(y_, u_, b0), b1 = ea_smlad(y_, v_, b1);                                         \
        }                                                                                                 \
    } while (0)

/*
 * Output pixels oa and ob (or only oa: TWO 0) of `pairs` channel pairs from the q15 patches xa,
 * xb of nw words: q15 weight rows of nw words one after the other from w, the table of
 * ea_m4_pair_table. One instantiation per saturation kind K and pixel count.
 */
typedef void (*ea_m4_q15_fn)(const uint32_t *xa, const uint32_t *xb, int32_t nw, const uint32_t *w,
                             const int32_t *tab, int32_t pairs, int32_t hi, int8_t *oa, int8_t *ob);

#define EA_M4_DEFINE_Q15(K, TWO)                                                                          \
    static void ea_m4_q15_##K##_##TWO(const uint32_t *xa, const uint32_t *xb, int32_t nw, const uint32_t *w, \
                                      const int32_t *tab, int32_t pairs, int32_t hi, int8_t *oa, int8_t *ob) \
    {                                                                                                     \
        (void)hi, (void)ob;                                                                               \
        for (; pairs > 0; pairs--, tab += 4, oa += 2, w += 2 * nw) {                                      \
            const uint32_t *wa = w, *wb = w + nw;                                                         \
            int32_t a0 = tab[0], a1 = tab[1], b0 = a0, b1 = a1;                                           \
            if (nw == 5)                                                                                  \
                EA_M4_Q15_LOOP(5);                                                                        \
            else if (nw == 13)                                                                            \
                EA_M4_Q15_LOOP(13);                                                                       \
            else                                                                                          \
                EA_M4_Q15_LOOP(nw);                                                                       \
            ea_put(oa, EA_M4_SAT_##K(a0 >> tab[2], hi));                                                  \
            ea_put(oa + 1, EA_M4_SAT_##K(a1 >> tab[3], hi));                                              \
            if (TWO) {                                                                                    \
                ea_put(ob, EA_M4_SAT_##K(b0 >> tab[2], hi));                                              \
                ea_put(ob + 1, EA_M4_SAT_##K(b1 >> tab[3], hi));                                          \
                ob += 2;                                                                                  \
            }                                                                                             \
        }                                                                                                 \
    }

#define EA_M4_DEFINE_Q15_KIND(K)                                                                          \
    EA_M4_DEFINE_Q15(K, 1)                                                                                \
    EA_M4_DEFINE_Q15(K, 0)

EA_M4_DEFINE_Q15_KIND(S8)
EA_M4_DEFINE_Q15_KIND(U8)
EA_M4_DEFINE_Q15_KIND(U7)
EA_M4_DEFINE_Q15_KIND(HI)

static inline ea_m4_q15_fn ea_m4_q15_pick(ea_m4_sat_t k, int two)
{
    if (two)
        return k == EA_M4_S8 ? ea_m4_q15_S8_1 : (k == EA_M4_U8 ? ea_m4_q15_U8_1 : (k == EA_M4_U7 ? ea_m4_q15_U7_1 : ea_m4_q15_HI_1));
    return k == EA_M4_S8 ? ea_m4_q15_S8_0 : (k == EA_M4_U8 ? ea_m4_q15_U8_0 : (k == EA_M4_U7 ? ea_m4_q15_U7_0 : ea_m4_q15_HI_0));
}

/*
 * The outputs of box b of a one-channel convolution (8/4/2-bit weights) into `out` (rows b->y0
 * onwards): pixel pairs, each pixel's q15 patch gathered once, then every channel pair. The q15
 * weights are widened here unless wq_ready (ea_conv2d_maxpool_s8 widens them once per call).
 * A shift outside 0..31 in the box's channels takes the general epilogue (ea_m4_pixels2_q15_*).
 */
static inline void ea_m4_cin1_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                  const int32_t *bias, const ea_box_t *b, int8_t *out, int8_t *scratch,
                                  int wq_ready)
{
    const int32_t out_w = ea_conv_out_w(p), out_c = p->out_c, n1 = ea_m4_cin1_taps(p);
    const int32_t bw = b->x1 - b->x0, end = (b->y1 - b->y0) * bw, pairs = (b->c1 - b->c0) >> 1;
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    const ea_m4_sat_t kind = ea_m4_sat_kind(clamp);
    const ea_m4_pixels_fn pixels = ea_m4_pixels_q15(kind);
    const ea_m4_q15_fn two = ea_m4_q15_pick(kind, 1), one = ea_m4_q15_pick(kind, 0);
    int8_t *pa = (int8_t *)(void *)ea_m4_align4(scratch), *pb = pa + 2 * n1;
    int8_t *wq = ea_m4_cin1_wq(p, scratch);
    int32_t *tab = (int32_t *)(void *)(wq + 2 * n1 * out_c);
    const int fast = ea_m4_pair_table(bias, p->shift, b->c0, pairs, tab);
    const uint32_t *wc = (const uint32_t *)(const void *)(wq + 2 * n1 * b->c0);
    int32_t q;
    if (!wq_ready)
        ea_m4_cin1_weights(p, weights, scratch);
    for (q = 0; q < end; q += 2) {
        const int32_t ya = q / bw, xa = b->x0 + q - ya * bw;
        const int32_t iya = (b->y0 + ya) * p->win.stride_h - p->win.pad_top, ixa = xa * p->win.stride_w - p->win.pad_left;
        int8_t *oa = out + (ya * out_w + xa) * out_c, *ob = NULL;
        const int8_t *xb = pa;
        ea_m4_cin1_gather(p, input, iya, ixa, pa);
        if (q + 1 < end) {
            const int32_t yb = xa + 1 < b->x1 ? ya : ya + 1, xbx = xa + 1 < b->x1 ? xa + 1 : b->x0;
            const int32_t iyb = (b->y0 + yb) * p->win.stride_h - p->win.pad_top, ixb = xbx * p->win.stride_w - p->win.pad_left;
            ea_m4_cin1_gather(p, input, iyb, ixb, pb);
            ob = out + (yb * out_w + xbx) * out_c;
            xb = pb;
        }
        if (!fast) {
            pixels(pa, xb, wq, 2 * n1, bias, p->shift, clamp, n1, b->c0, b->c1, oa, ob);
            continue;
        }
        if (pairs > 0)
            (ob != NULL ? two : one)((const uint32_t *)(const void *)pa, (const uint32_t *)(const void *)xb,
                                     n1 >> 1, wc, tab, pairs, clamp.hi, oa + b->c0, ob != NULL ? ob + b->c0 : NULL);
        if ((b->c1 - b->c0) & 1)
            pixels(pa, xb, wq, 2 * n1, bias, p->shift, clamp, n1, b->c1 - 1, b->c1, oa, ob);
    }
}

#endif /* EA_M4_CIN1_H */
