/*
 * ea_m4_cin1.h - private to firmware/kernels/arm/ (included by ea_m4_core.h): the one-channel
 * first layer (a 3x3 or 5x5 window over the frame). The window is short, so the weights are
 * widened to q15 once per call and each pixel's patch once, both padded to an even count n1 of
 * halfwords with a zero (SMLAD takes pairs): 2 pixels x 2 channels cost 4 loads + 4 SMLAD per
 * word of the window, no widening in the loop. The common windows (3x3: 5 words, 5x5: 13) are
 * unrolled at compile time; the epilogue reads the channel-pair table of ea_m4_pair.h.
 *
 * Pixels run 4 at a time (each weight word loaded once for 4 patches: 6 loads + 8 SMLAD per
 * window word of 2 channels), the last 1-3 of a box in pairs.
 *
 * Scratch, from the first word boundary: four q15 patches (2 * n1 bytes each), the q15 weights
 * (out_c rows of 2 * n1 bytes), the channel-pair table (16 bytes per pair).
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
    return (8 + 2 * p->out_c) * ea_m4_cin1_taps(p) + 16 * (p->out_c >> 1) + 3;
}

static inline void ea_m4_put16(int8_t *dst, int32_t v)
{
    const int16_t h = (int16_t)v;
    __builtin_memcpy(dst, &h, 2);
}

/* Where the q15 weights start in the scratch of the Cin = 1 path. */
static inline int8_t *ea_m4_cin1_wq(const ea_conv_params_t *p, int8_t *scratch)
{
    return (int8_t *)(void *)ea_m4_align4(scratch) + 8 * ea_m4_cin1_taps(p);
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
            EA_M4_STORE2_##K(oa, a0 >> tab[2], a1 >> tab[3], hi);                                         \
            if (TWO) {                                                                                    \
                EA_M4_STORE2_##K(ob, b0 >> tab[2], b1 >> tab[3], hi);                                     \
                ob += 2;                                                                                  \
            }                                                                                             \
        }                                                                                                 \
    }

/* The 4-pixel loop: a* .. d* += the patches at x, x + NW, x + 2 NW, x + 3 NW against wa, wb. */
#define EA_M4_Q15_QUAD_LOOP(NW)                                                                           \
    do {                                                                                                  \
        int32_t i_;                                                                                       \
        _Pragma("GCC unroll 13") for (i_ = 0; i_ < (NW); i_++)                                            \
        {                                                                                                 \
            const uint32_t u_ = wa[i_], v_ = wb[i_];                                                      \
            uint32_t x_ = x[i_];                                                                          \
            a0 = ea_smlad(x_, u_, a0), a1 = ea_smlad(x_, v_, a1);                                         \
            x_ = x[(NW) + i_];                                                                            \
            b0 = ea_smlad(x_, u_, b0), b1 = ea_smlad(x_, v_, b1);                                         \
            x_ = x[2 * (NW) + i_];                                                                        \
            c0 = ea_smlad(x_, u_, c0), c1 = ea_smlad(x_, v_, c1);                                         \
            x_ = x[3 * (NW) + i_];                                                                        \
            d0 = ea_smlad(x_, u_, d0), d1 = ea_smlad(x_, v_, d1);                                         \
        }                                                                                                 \
    } while (0)

/* Output pixels o[0..3] of `pairs` channel pairs from the 4 q15 patches of nw words at x (one
 * after the other); weights and table as ea_m4_q15_*. */
typedef void (*ea_m4_q15x4_fn)(const uint32_t *x, int32_t nw, const uint32_t *w, const int32_t *tab,
                               int32_t pairs, int32_t hi, int8_t *const *o);

#define EA_M4_DEFINE_Q15X4(K)                                                                             \
    static void ea_m4_q15x4_##K(const uint32_t *x, int32_t nw, const uint32_t *w, const int32_t *tab,     \
                                int32_t pairs, int32_t hi, int8_t *const *o)                              \
    {                                                                                                     \
        int8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];                                            \
        (void)hi;                                                                                         \
        for (; pairs > 0; pairs--, tab += 4, w += 2 * nw, o0 += 2, o1 += 2, o2 += 2, o3 += 2) {           \
            const uint32_t *wa = w, *wb = w + nw;                                                         \
            int32_t a0 = tab[0], a1 = tab[1], b0 = a0, b1 = a1, c0 = a0, c1 = a1, d0 = a0, d1 = a1;       \
            int32_t s0, s1;                                                                               \
            if (nw == 5)                                                                                  \
                EA_M4_Q15_QUAD_LOOP(5);                                                                   \
            else if (nw == 13)                                                                            \
                EA_M4_Q15_QUAD_LOOP(13);                                                                  \
            else                                                                                          \
                EA_M4_Q15_QUAD_LOOP(nw);                                                                  \
            s0 = tab[2], s1 = tab[3];                                                                     \
            EA_M4_STORE2_##K(o0, a0 >> s0, a1 >> s1, hi);                                                 \
            EA_M4_STORE2_##K(o1, b0 >> s0, b1 >> s1, hi);                                                 \
            EA_M4_STORE2_##K(o2, c0 >> s0, c1 >> s1, hi);                                                 \
            EA_M4_STORE2_##K(o3, d0 >> s0, d1 >> s1, hi);                                                 \
        }                                                                                                 \
    }

#define EA_M4_DEFINE_Q15_KIND(K)                                                                          \
    EA_M4_DEFINE_Q15(K, 1)                                                                                \
    EA_M4_DEFINE_Q15(K, 0)                                                                                \
    EA_M4_DEFINE_Q15X4(K)

EA_M4_DEFINE_Q15_KIND(S8)
EA_M4_DEFINE_Q15_KIND(U8)
EA_M4_DEFINE_Q15_KIND(U7)
EA_M4_DEFINE_Q15_KIND(HI)

static inline ea_m4_q15x4_fn ea_m4_q15x4_pick(ea_m4_sat_t k)
{
    return k == EA_M4_S8 ? ea_m4_q15x4_S8 : (k == EA_M4_U8 ? ea_m4_q15x4_U8 : (k == EA_M4_U7 ? ea_m4_q15x4_U7 : ea_m4_q15x4_HI));
}

static inline ea_m4_q15_fn ea_m4_q15_pick(ea_m4_sat_t k, int two)
{
    if (two)
        return k == EA_M4_S8 ? ea_m4_q15_S8_1 : (k == EA_M4_U8 ? ea_m4_q15_U8_1 : (k == EA_M4_U7 ? ea_m4_q15_U7_1 : ea_m4_q15_HI_1));
    return k == EA_M4_S8 ? ea_m4_q15_S8_0 : (k == EA_M4_U8 ? ea_m4_q15_U8_0 : (k == EA_M4_U7 ? ea_m4_q15_U7_0 : ea_m4_q15_HI_0));
}

/* Where pixel q (row-major within box b) of the output starts, and its window's top-left input
 * position (iy0, ix0). */
static inline int8_t *ea_m4_cin1_pixel(const ea_conv_params_t *p, const ea_box_t *b, int8_t *out, int32_t q,
                                       int32_t *iy0, int32_t *ix0)
{
    const int32_t bw = b->x1 - b->x0, y = q / bw, x = b->x0 + q - y * bw;
    *iy0 = (b->y0 + y) * p->win.stride_h - p->win.pad_top;
    *ix0 = x * p->win.stride_w - p->win.pad_left;
    return out + (y * ea_conv_out_w(p) + x) * p->out_c;
}

/*
 * The outputs of box b of a one-channel convolution (8/4/2-bit weights) into `out` (rows b->y0
 * onwards): pixels 4 at a time (the last 1-3 in pairs), each pixel's q15 patch gathered once,
 * then every channel pair. The q15 weights are widened here unless wq_ready
 * (ea_conv2d_maxpool_s8 widens them once per call). A shift outside 0..31 in the box's channels
 * takes the general epilogue (ea_m4_pixels2_q15_*), pixel pair by pixel pair.
 */
static inline void ea_m4_cin1_box(const ea_conv_params_t *p, const int8_t *input, const int8_t *weights,
                                  const int32_t *bias, const ea_box_t *b, int8_t *out, int8_t *scratch,
                                  int wq_ready)
{
    const int32_t out_c = p->out_c, n1 = ea_m4_cin1_taps(p), c0 = b->c0, c1 = b->c1, last = c1 - 1;
    const int32_t end = (b->y1 - b->y0) * (b->x1 - b->x0), pairs = (c1 - c0) >> 1;
    const ea_clamp_t clamp = ea_act_clamp(p->act, p->fl_out, p->out_type);
    const ea_m4_sat_t kind = ea_m4_sat_kind(clamp);
    const ea_m4_pixels_fn pixels = ea_m4_pixels_q15(kind);
    const ea_m4_q15_fn two = ea_m4_q15_pick(kind, 1), one = ea_m4_q15_pick(kind, 0);
    const ea_m4_q15x4_fn four = ea_m4_q15x4_pick(kind);
    int8_t *patch = (int8_t *)(void *)ea_m4_align4(scratch); /* 4 patches of 2 * n1 bytes */
    int8_t *wq = ea_m4_cin1_wq(p, scratch);
    int32_t *tab = (int32_t *)(void *)(wq + 2 * n1 * out_c);
    const int fast = ea_m4_pair_table(bias, p->shift, c0, pairs, tab);
    const uint32_t *wc = (const uint32_t *)(const void *)(wq + 2 * n1 * c0);
    const uint32_t *xq = (const uint32_t *)(const void *)patch;
    int8_t *o[4];
    int32_t q, j, iy0, ix0;
    if (!wq_ready)
        ea_m4_cin1_weights(p, weights, scratch);
    for (q = 0; q < end;) {
        const int32_t n = fast && q + 4 <= end ? 4 : (q + 2 <= end ? 2 : 1);
        for (j = 0; j < n; j++) {
            o[j] = ea_m4_cin1_pixel(p, b, out, q + j, &iy0, &ix0);
            ea_m4_cin1_gather(p, input, iy0, ix0, patch + 2 * n1 * j);
        }
        if (!fast) {
            pixels(patch, patch + 2 * n1 * (n - 1), wq, 2 * n1, bias, p->shift, clamp, n1, c0, c1, o[0],
                   n == 2 ? o[1] : NULL);
        } else {
            if (pairs > 0 && n == 4) {
                int8_t *oc[4];
                for (j = 0; j < 4; j++)
                    oc[j] = o[j] + c0;
                four(xq, n1 >> 1, wc, tab, pairs, clamp.hi, oc);
            } else if (pairs > 0) {
                (n == 2 ? two : one)(xq, xq + (n1 >> 1) * (n - 1), n1 >> 1, wc, tab, pairs, clamp.hi, o[0] + c0,
                                     n == 2 ? o[1] + c0 : NULL);
            }
            for (j = 0; (c1 - c0) & 1 && j < n; j += 2) /* the odd last channel, a pixel pair at a time */
                pixels(patch + 2 * n1 * j, patch + 2 * n1 * (j + 1 < n ? j + 1 : j), wq, 2 * n1, bias, p->shift,
                       clamp, n1, last, c1, o[j], j + 1 < n ? o[j + 1] : NULL);
        }
        q += n;
    }
}

#endif /* EA_M4_CIN1_H */
