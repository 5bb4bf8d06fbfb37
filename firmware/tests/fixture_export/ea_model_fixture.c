/*
 * ea_model_fixture.c - TEST FIXTURE, hand-written: two small CNNs implementing the ea_models.h
 * API with plain C loops (independent of firmware/kernels), following docs/fixed-point.md:
 *   small: conv3x3/2 1->4 relu, conv3x3/2 4->8 relu, global average pool, fc 8->5 (int32 raw)
 *   big:   conv3x3/2 1->8 relu, conv3x3/1 8->8 relu, conv3x3/2 8->8 relu, gap, fc 8->4 (raw)
 * Every layer runs through ea_hal_fork, split by output rows (convolutions) or channels, and
 * reports its output to ea_layer_done, as generated models do.
 */
#include "ea_hal.h"
#include "ea_models.h"

uint8_t ea_arena[EA_ARENA_BYTES];

static const int8_t small_w0[36] = {
    15, -4, 31, 22, 4, -3, 41, 31, 11, -7, -10, -7, -39, -21, -40, -15,
    -3, -8, 18, 9, 13, 20, 33, 26, 0, 6, 21, -6, -30, -18, -47, -5,
    -2, 4, -38, -7,
};

static const int8_t small_w1[288] = {
    25, 23, 6, 22, 18, -14, 11, -10, 3, -20, 26, -1, 17, 3, 6, -16,
    23, 24, -15, 25, -3, 1, -2, -1, 27, -11, -3, 4, 3, -3, 13, -10,
    3, -9, -10, -21, 16, -17, 17, -30, -15, 1, -11, 18, 5, 14, -5, 8,
    -24, -10, 10, 7, 18, -17, -16, -2, -8, -23, -19, -8, 0, 7, 9, -22,
    -15, -7, 8, -10, -10, 14, 14, -2, -9, 24, 25, 30, -11, 2, -6, 18,
    24, -15, -13, -8, -19, -10, 9, 26, -4, 3, -5, -14, -7, -1, -4, 25,
    10, 19, -3, 11, 14, 8, 23, 7, -7, -15, 0, 0, -12, -21, 7, 13,
    17, -13, 4, -23, 2, -16, -17, 21, -5, -18, 3, -15, -9, -7, 19, 15,
    -27, 8, 14, 5, -5, 18, 17, 11, -25, -22, -15, -26, 4, -21, -16, 11,
    20, -14, 13, -8, -4, 12, 18, 27, -9, -9, -14, -11, 20, -13, 19, 16,
    19, 21, -18, 19, -13, 16, -8, 15, 25, 1, -19, -12, -2, -18, -8, -16,
    -13, 21, 20, 24, 9, 16, -17, 7, -17, 11, -18, -1, -19, 0, -10, -13,
    16, -1, 10, -2, 15, -17, -5, 7, -2, -4, 8, 14, -22, -17, -20, -11,
    -5, -18, 18, -19, -8, -1, 13, -30, -14, 0, 22, -21, 28, -7, 27, 11,
    5, 21, -19, -8, 17, 8, 14, 10, 14, -18, 6, 0, -21, 11, 0, 14,
    -5, 21, 25, -11, -7, 17, -15, 29, 6, -17, -13, -10, -23, -3, -5, -8,
    7, -14, -1, 5, 3, 7, 15, -4, -14, -22, 25, -17, -17, -1, 3, 16,
    -13, 8, 21, -18, -21, 18, 3, -23, -7, -10, -17, -4, 10, 12, -16, -11,
};

static const int8_t small_fc[40] = {
    55, 59, -63, 20, -64, 63, 90, 88, -22, 21, 53, -50, -31, -90, 41, -59,
    -40, 6, 47, 56, 14, 24, 56, -46, 75, -27, 51, -16, -20, 61, 1, 25,
    73, -62, 13, 11, -18, -9, 38, 43,
};

static const int8_t big_w0[72] = {
    -2, -1, 36, 33, 35, 6, -2, 10, 34, -20, -13, -30, -31, -6, -6, 10,
    -37, -20, 31, 24, -7, 6, 14, 42, 31, 3, 6, -21, -14, -39, -6, -27,
    -29, -3, -13, 4, 49, -3, 37, -6, 21, 3, 18, 27, 6, -28, -31, -5,
    -13, -22, 1, -28, -35, 11, 40, 12, 33, 5, -17, 20, 23, 6, 26, -41,
    3, 1, 12, -37, -39, -18, -6, -25,
};

static const int8_t big_w1[576] = {
    -6, -14, 19, -2, -16, 22, -2, 15, -6, 9, -8, -6, 12, -1, -14, 11,
    -11, -12, 19, -1, -10, 6, 19, -12, -4, 19, -3, -8, 0, -10, 6, -12,
    -10, 3, 8, 3, 22, 3, 17, -3, -17, 20, -1, 6, -10, 18, -1, -8,
    14, -2, -5, 17, -10, 9, 16, -6, -10, -10, -4, -2, -17, 22, 21, -11,
    9, 15, 8, -16, 12, -9, -1, 5, 6, -1, -5, 7, 14, 5, 12, -21,
    -5, -12, 1, 8, 17, 0, 9, 8, 0, -13, -19, 9, 12, -6, -11, -12,
    5, 6, -3, 16, -23, -14, -16, 4, -20, -5, -18, -18, 7, 6, -10, 10,
    9, -9, 17, -3, 9, 17, -4, 8, -5, 14, -20, -10, 11, 7, -8, -4,
    -3, -7, -2, -21, -15, 16, 11, 11, -7, -1, -1, -14, -20, -1, -23, 16,
    0, 0, -8, -9, -2, 9, 13, -17, -10, -14, 10, 20, -4, 5, -17, 6,
    -8, -12, -12, 3, -20, 8, 3, 6, -5, -13, 1, 19, 8, 0, -20, 18,
    13, 6, 20, 8, -8, -12, -13, 12, 6, 11, 5, 11, 8, -6, -18, 8,
    20, 13, -16, -3, -13, 3, 20, 14, 3, -16, 0, 10, 18, 17, 10, -3,
    6, 4, 12, 20, -4, -13, -19, -5, 14, 8, -9, -10, -7, -19, -19, -2,
    -16, -13, 2, -9, -5, -4, 14, -2, -15, -10, -17, -3, 3, -14, 14, 4,
    16, -9, -13, 4, -3, -19, 17, 13, 15, 8, 9, 20, -4, -17, -10, 3,
    -2, 15, -19, 10, -4, 4, 9, -16, -10, -6, 2, -15, 18, -12, 10, -14,
    -14, -5, -19, -14, -9, 21, 10, -6, -7, -5, 11, 7, 20, 18, -14, 7,
    12, 3, 12, -4, 19, -12, -6, 2, -9, -12, 9, -20, -13, -4, 5, -6,
    6, 4, -11, 3, 3, 7, 15, 19, -14, -4, 13, -5, 18, -12, -1, -14,
    19, 2, -16, 1, 10, -14, 16, -9, -13, 12, -13, 8, -15, 17, 17, 4,
    8, 15, 15, 5, 7, 10, -1, 15, -1, 18, 12, -6, -10, -7, 18, 5,
    -20, 11, 8, 11, 2, -19, -2, -11, 14, -5, -8, -8, 14, 14, 5, 18,
    7, 0, 11, -17, 7, 11, -3, -1, -21, 17, -10, 8, -9, -4, 6, 5,
    10, -17, -13, 8, 13, 4, -3, -5, 10, -1, -17, -13, -10, -17, 12, 18,
    13, -20, 15, 9, -9, -12, -12, -17, -6, 3, -13, 12, -2, -3, -2, -1,
    9, -11, 6, -7, 2, 6, -17, 10, -20, -20, 4, -4, -12, -9, -20, -16,
    20, -9, 23, -4, -12, -6, -10, -11, 4, -16, -11, 18, -3, 21, 21, 15,
    12, -5, 13, -5, -17, 2, 5, 7, 0, -16, -13, 16, 11, 6, 3, 9,
    17, -5, 12, -8, -12, 1, -10, -7, -3, 22, 6, 16, -2, 8, -7, 5,
    -4, -9, 7, -13, -6, -2, -16, 2, -10, 20, 21, -2, 14, 4, 9, -4,
    -14, -14, 0, -4, 3, 11, 22, -4, 19, -21, 15, -7, -16, 13, -6, 10,
    -5, 9, 12, -10, 19, 12, 2, -18, 14, -19, 7, 5, -1, 6, 4, -17,
    -16, -10, -1, 15, -5, -13, 17, -15, 14, 16, 2, 10, -7, -20, 3, 19,
    -10, 3, 2, -13, -18, 3, -10, 2, 17, -16, -7, -6, -4, -13, -2, -21,
    9, 2, 6, 5, 1, 18, -18, -21, -4, -19, 10, -18, -9, 12, -9, 18,
};

static const int8_t big_w2[576] = {
    -3, 14, 12, -7, 19, 14, -18, -14, -12, -17, -11, 13, -15, 20, 1, 0,
    6, 20, 21, -15, 14, -16, 16, -11, -3, 18, 8, -14, -15, -14, 3, -13,
    -12, -16, 9, -2, 22, -13, -12, 18, 9, 14, 20, -16, 12, 12, 11, -11,
    6, 6, 15, -9, -6, 6, -7, 13, 22, 18, -9, -6, -5, -15, 0, 14,
    1, 7, -17, 10, 5, -17, 18, 20, 10, -18, -21, -3, -1, -13, 2, -8,
    7, -20, -13, -2, 12, -9, 18, 4, -4, -8, 7, -8, -7, 10, 19, -19,
    -21, -15, 4, 17, -18, -21, 6, -6, -10, -5, 6, 17, 10, 6, -5, -18,
    7, -19, -11, 17, 15, 17, 8, 1, 16, -15, 10, 6, -9, -10, -19, 4,
    -1, -17, -1, 14, 0, 6, -3, 4, 19, 17, -15, -2, 9, -17, 1, 6,
    17, -9, 4, 15, 8, 11, -11, -9, -12, 14, 25, 9, 16, -1, -14, -10,
    -9, -9, -12, 8, 7, 19, 1, -8, -12, -14, -10, -10, -8, 9, -13, 22,
    -11, -2, 23, 3, 3, -14, 13, 16, -8, 20, 13, 16, 6, 9, 1, 15,
    12, -8, 14, -9, 26, -11, 16, -7, 14, -13, -4, -3, -3, -3, -2, -9,
    8, -12, 0, 10, -14, -8, 14, -13, 2, -20, -1, 0, 3, -7, 0, -10,
    8, 3, -14, -23, -15, 15, -4, 10, -6, 0, 6, 10, 3, 16, 10, -7,
    -8, -13, -18, 10, 1, -22, -5, 10, 2, -19, -16, -4, 6, -21, 17, 2,
    14, 16, 1, -3, -14, -16, -4, -17, -8, 5, -21, -2, 12, 12, 16, -2,
    5, 4, -14, 0, 4, 16, 1, 1, 5, -1, -16, 4, -10, -1, -11, -9,
    3, 5, -5, -9, 19, -7, 12, 22, -4, 4, 5, -9, 22, -18, 11, -5,
    -18, 4, -6, -3, 9, 2, 3, -16, 10, 13, 17, 11, 7, -17, -9, -3,
    -18, 13, 5, 18, -7, 1, -15, 19, 4, 0, -1, -8, -7, 2, 5, 22,
    -5, -8, 12, 19, -17, -13, 20, -12, -13, -12, 5, 22, 3, 11, 10, -11,
    5, 1, -9, 9, 9, 20, -16, -10, 12, 19, 18, 18, -15, 17, 1, 15,
    0, -19, -7, -12, -14, -15, -9, 7, -13, 13, 6, -1, -17, -14, -2, -15,
    -5, 1, -2, 20, -16, 20, -18, -15, 17, -13, -18, -2, -15, -12, -17, 12,
    11, 19, 10, -8, 12, -14, 3, -20, -5, -11, -1, -16, -14, -1, -3, 4,
    18, 17, -4, -15, 14, -19, 1, -7, -16, 20, -2, 12, -14, 9, -16, 12,
    10, -2, -11, 20, 14, -18, 5, -18, 9, -4, 19, 5, -8, 16, 2, 7,
    18, -18, 13, -9, -1, 20, 19, -19, 14, 11, -12, 7, 19, 10, 9, 15,
    15, 10, -11, 12, -13, 1, -4, -18, -7, 15, -13, -8, 6, 20, 3, 15,
    5, -20, -20, -13, 5, -3, 2, 10, -11, -5, 15, -1, -8, 18, 4, -19,
    7, 20, -11, 19, -14, -6, -17, 12, -10, -7, 3, -11, 19, -2, -15, 9,
    -1, -4, -17, 0, -8, -6, 9, 5, 17, -8, -9, 11, 14, 2, -5, 19,
    15, -18, -17, -16, 15, 15, 19, 8, -17, 6, 17, 14, -5, -11, -15, -14,
    4, -15, 16, -12, -9, 5, -3, -6, 0, -1, -15, -1, 13, -9, 0, 9,
    -12, -13, 3, -20, 0, -7, -5, -5, -19, 19, 10, -4, -7, -2, -18, -18,
};

static const int8_t big_fc[32] = {
    50, 24, -38, 76, -79, -65, -46, -49, -85, -87, -49, 15, -65, 63, -46, 54,
    60, -17, -89, 52, 85, -22, 0, 3, 40, 73, -71, 54, 78, 47, -68, -19,
};

static const int8_t small_fc_fl[5] = {7, 7, 8, 7, 6};
static const int8_t big_fc_fl[4] = {7, 7, 8, 7};
/* output FL = FL of the pooled features + FL of the fc weights (docs/fixed-point.md section 1.2) */
static const int8_t small_out_fl[5] = {15, 15, 16, 15, 14};
static const int8_t big_out_fl[4] = {16, 16, 17, 16};

const ea_model_info_t ea_models[EA_NUM_MODELS] = {
    {"fixture-small", 4, 5, small_out_fl, 48 * 80 * 4 * 9 + 24 * 40 * 8 * 36 + 24 * 40 * 8 + 40,
     sizeof small_w0 + sizeof small_w1 + sizeof small_fc},
    {"fixture-big", 5, 4, big_out_fl,
     48 * 80 * 8 * 9 + 48 * 80 * 8 * 72 + 24 * 40 * 8 * 72 + 24 * 40 * 8 + 32,
     sizeof big_w0 + sizeof big_w1 + sizeof big_w2 + sizeof big_fc},
};

/* docs/fixed-point.md section 3 */
static int32_t rshift_round(int32_t v, int32_t s)
{
    return s > 0 ? (int32_t)(((int64_t)v + ((int64_t)1 << (s - 1))) >> s) : v;
}

static int8_t sat8_relu(int32_t v)
{
    return (int8_t)(v < 0 ? 0 : v > 127 ? 127 : v);
}

/* 3x3 convolution, padding 1, weights OHWI, zero bias, ReLU. in_frame: the input is the uint8
 * frame (q = p - 128, FL 8) instead of an int8 tensor. */
typedef struct {
    const void *in;
    int in_frame;
    int8_t *out;
    const int8_t *w;
    int32_t h, w_in, cin, cout, stride, shift;
} conv_arg_t;

static int32_t conv_input(const conv_arg_t *a, int32_t y, int32_t x, int32_t i)
{
    int32_t idx = (y * a->w_in + x) * a->cin + i;
    if (a->in_frame)
        return (int32_t)((const uint8_t *)a->in)[idx] - 128;
    return ((const int8_t *)a->in)[idx];
}

static void conv3x3(const ea_ctx_t *ctx, void *arg)
{
    const conv_arg_t *a = (const conv_arg_t *)arg;
    int32_t h_out = (a->h - 1) / a->stride + 1, w_out = (a->w_in - 1) / a->stride + 1;
    int32_t y0, y1;
    ea_split(h_out, ctx, &y0, &y1);
    for (int32_t y = y0; y < y1; y++)
        for (int32_t x = 0; x < w_out; x++)
            for (int32_t c = 0; c < a->cout; c++) {
                int32_t acc = 0;
                for (int32_t ky = 0; ky < 3; ky++)
                    for (int32_t kx = 0; kx < 3; kx++) {
                        int32_t iy = y * a->stride + ky - 1, ix = x * a->stride + kx - 1;
                        if (iy < 0 || iy >= a->h || ix < 0 || ix >= a->w_in)
                            continue;
                        for (int32_t i = 0; i < a->cin; i++)
                            acc += conv_input(a, iy, ix, i) * a->w[((c * 3 + ky) * 3 + kx) * a->cin + i];
                    }
                a->out[(y * w_out + x) * a->cout + c] = sat8_relu(rshift_round(acc, a->shift));
            }
}

/* Global average pool, FL unchanged: sat8(rshift_round(sum * M, 16)), M = round(2^16 / N). */
typedef struct {
    const int8_t *in;
    int8_t *out;
    int32_t n, channels;
} gap_arg_t;

static void gap(const ea_ctx_t *ctx, void *arg)
{
    const gap_arg_t *a = (const gap_arg_t *)arg;
    int32_t mult = (65536 + a->n / 2) / a->n, c0, c1;
    ea_split(a->channels, ctx, &c0, &c1);
    for (int32_t c = c0; c < c1; c++) {
        int32_t sum = 0;
        for (int32_t i = 0; i < a->n; i++)
            sum += a->in[i * a->channels + c];
        a->out[c] = sat8_relu(rshift_round(sum * mult, 16));
    }
}

/* Fully connected to raw int32 accumulators (docs/fixed-point.md section 4.2). */
typedef struct {
    const int8_t *in;
    int32_t *out;
    const int8_t *w;
    int32_t k, cout;
} fc_arg_t;

static void fc_raw(const ea_ctx_t *ctx, void *arg)
{
    const fc_arg_t *a = (const fc_arg_t *)arg;
    int32_t c0, c1;
    ea_split(a->cout, ctx, &c0, &c1);
    for (int32_t c = c0; c < c1; c++) {
        int32_t acc = 0;
        for (int32_t i = 0; i < a->k; i++)
            acc += a->in[i] * a->w[c * a->k + i];
        a->out[c] = acc;
    }
}

static void run_conv(int m, int layer, const void *in, int in_frame, int8_t *out, const int8_t *w,
                     int32_t h, int32_t w_in, int32_t cin, int32_t cout, int32_t stride, int32_t shift)
{
    conv_arg_t a = {in, in_frame, out, w, h, w_in, cin, cout, stride, shift};
    int32_t h_out = (h - 1) / stride + 1, w_out = (w_in - 1) / stride + 1;
    ea_hal_fork(conv3x3, &a);
    ea_layer_done(m, layer, out, (uint32_t)(h_out * w_out * cout));
}

static void run_head(int m, int layer, const int8_t *in, int32_t n, int8_t *pooled,
                     const int8_t *w, int32_t cout, int32_t *outputs)
{
    gap_arg_t g = {in, pooled, n, 8};
    fc_arg_t f = {pooled, outputs, w, 8, cout};
    ea_hal_fork(gap, &g);
    ea_layer_done(m, layer, pooled, 8);
    ea_hal_fork(fc_raw, &f);
    ea_layer_done(m, layer + 1, (const int8_t *)outputs, (uint32_t)(4 * cout));
}

int ea_model_run(int m, const uint8_t *frame, int32_t *outputs)
{
    int8_t *a0 = (int8_t *)ea_arena, *a1 = (int8_t *)ea_arena + 30720;
    (void)small_fc_fl;
    (void)big_fc_fl;
    if (m == EA_MODEL_SMALL) {
        /* FL: input 8, weights 7, activations 7 then 8 */
        run_conv(m, 0, frame, 1, a0, small_w0, 96, 160, 1, 4, 2, 8);
        run_conv(m, 1, a0, 0, a1, small_w1, 48, 80, 4, 8, 2, 6);
        run_head(m, 2, a1, 24 * 40, a0, small_fc, 5, outputs);
        return EA_OK;
    }
    if (m == EA_MODEL_BIG) {
        /* FL: input 8, weights 7, activations 7, 8, 9 */
        run_conv(m, 0, frame, 1, a0, big_w0, 96, 160, 1, 8, 2, 8);
        run_conv(m, 1, a0, 0, a1, big_w1, 48, 80, 8, 8, 1, 6);
        run_conv(m, 2, a1, 0, a0, big_w2, 48, 80, 8, 8, 2, 6);
        run_head(m, 3, a0, 24 * 40, a1, big_fc, 4, outputs);
        return EA_OK;
    }
    return EA_ERR_ARG;
}
