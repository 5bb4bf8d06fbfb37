/*
 * kernel_bench - runs every reference kernel once on a bare-metal emulated target and prints, per
 * call, the instructions it took and an FNV-1a checksum of its output:
 *
 *     layer <name> insns <n> macs <m> fnv <8 hex digits>
 *
 * All operands are deterministic formulas (below) that tests/test_kernels.py re-creates in numpy,
 * so the checksums prove the kernels bit-identical to edgeadapt.quant.intops on that target.
 *   activation bytes of layer `seed`: x[i] = (uint8)(i * 37 + seed * 11), read as int8 or uint8 as
 *   each call's in_type says (both types are exercised, docs/fixed-point.md section 1.3)
 *   weight bytes (packed or not): w[i] = (uint8)(i * 13 + 5 + seed)
 *   bias[c] = (c * 7919) % 2001 - 1000;  shift[c] = layer base + c % 4
 */
#include <stdint.h>

#include "bench_port.h"
#include "ea_kernels.h"

#define ACT_BYTES (24 * 40 * 32) /* the largest input below */
#define OUT_BYTES (24 * 40 * 32)
#define W_BYTES (64 * 3 * 3 * 64)

static int8_t src_a[ACT_BYTES];
static int8_t src_b[ACT_BYTES];
static int8_t dst[OUT_BYTES];
static int8_t weights[W_BYTES];
static int32_t bias[64];
static int8_t shift[64];
static int32_t scratch_words[2048]; /* int32 storage: the depthwise accumulators need alignment */

static void fill_act(int8_t *x, uint32_t n, uint32_t seed)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        x[i] = (int8_t)(uint8_t)(i * 37u + seed * 11u);
}

static void fill_params(uint32_t seed, int32_t shift_base)
{
    uint32_t i;
    for (i = 0; i < W_BYTES; i++)
        weights[i] = (int8_t)(uint8_t)(i * 13u + 5u + seed);
    for (i = 0; i < 64; i++) {
        bias[i] = (int32_t)((i * 7919u) % 2001u) - 1000;
        shift[i] = (int8_t)(shift_base + (int32_t)(i % 4u));
    }
}

static void put_u32(uint32_t v, int hex)
{
    char buf[12];
    int i = 11, digits = 0;
    buf[i] = 0;
    do {
        uint32_t d = hex ? v & 15u : v % 10u;
        buf[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v = hex ? v >> 4 : v / 10u;
        digits++;
    } while (v != 0 || (hex && digits < 8));
    bench_puts(buf + i);
}

static void report(const char *name, uint64_t insns, uint32_t macs, const void *out, uint32_t bytes, int status)
{
    const uint8_t *p = (const uint8_t *)out;
    uint32_t h = 2166136261u, i;
    for (i = 0; i < bytes; i++)
        h = (h ^ p[i]) * 16777619u;
    bench_puts("layer ");
    bench_puts(name);
    bench_puts(" insns ");
    put_u32((uint32_t)insns, 0);
    bench_puts(" macs ");
    put_u32(macs, 0);
    bench_puts(" fnv ");
    put_u32(h, 1);
    bench_puts(status == EA_OK ? "\n" : " FAILED\n");
}

#define RUN(name, macs, out, bytes, call)                                                              \
    do {                                                                                               \
        uint64_t t0 = bench_instructions();                                                            \
        int st = (call);                                                                               \
        report(name, bench_instructions() - t0, macs, out, bytes, st);                                 \
    } while (0)

void bench_main(void)
{
    ea_ctx_t ctx;
    int32_t out32[4];
    ctx.core_id = 0;
    ctx.num_cores = 1;
    ctx.buf = scratch_words;
    ctx.buf_size = (int32_t)sizeof(scratch_words);
    ctx.barrier = NULL;

    { /* Frontnet's first layer, fused with its max pool */
        ea_conv_maxpool_params_t p = {{96, 160, 1, 32, {5, 5, 2, 2, 2, 2, 2, 2}, 1, 8, EA_ACT_RELU, 0, shift,
                                       EA_INT8, EA_UINT8},
                                      {2, 2, 2, 2, 0, 0, 0, 0}};
        fill_act(src_a, 96 * 160, 1);
        fill_params(1, 11);
        RUN("conv5x5s2_maxpool_w8", 48u * 80u * 32u * 25u, dst, 24u * 40u * 32u,
            ea_conv2d_maxpool_s8(&ctx, &p, src_a, weights, bias, dst));
    }
    { /* 3x3 stride 2, 4-bit weights */
        ea_conv_params_t p = {24, 40, 32, 32, {3, 3, 2, 2, 1, 1, 1, 1}, 1, 4, EA_ACT_RELU, 0, shift,
                              EA_UINT8, EA_UINT8};
        fill_act(src_a, 24 * 40 * 32, 2);
        fill_params(2, 8);
        RUN("conv3x3s2_w4", 12u * 20u * 32u * 288u, dst, 12u * 20u * 32u,
            ea_conv2d_s8(&ctx, &p, src_a, weights, bias, dst));
    }
    { /* depthwise 3x3, both kernels, relu6 */
        ea_conv_params_t p = {12, 20, 64, 64, {3, 3, 1, 1, 1, 1, 1, 1}, 64, 8, EA_ACT_RELU6, 4, shift,
                              EA_UINT8, EA_UINT8};
        fill_act(src_a, 12 * 20 * 64, 3);
        fill_params(3, 7);
        RUN("depthwise3x3_w8", 12u * 20u * 64u * 9u, dst, 12u * 20u * 64u,
            ea_depthwise_conv2d_s8(&ctx, &p, src_a, weights, bias, dst));
        RUN("depthwise3x3_w8_conv2d", 12u * 20u * 64u * 9u, dst, 12u * 20u * 64u,
            ea_conv2d_s8(&ctx, &p, src_a, weights, bias, dst));
    }
    { /* pointwise, 2-bit weights */
        ea_conv_params_t p = {12, 20, 64, 64, {1, 1, 1, 1, 0, 0, 0, 0}, 1, 2, EA_ACT_NONE, 0, shift,
                              EA_UINT8, EA_INT8};
        fill_act(src_a, 12 * 20 * 64, 4);
        fill_params(4, 4);
        RUN("pointwise_w2", 12u * 20u * 64u * 64u, dst, 12u * 20u * 64u,
            ea_pointwise_conv2d_s8(&ctx, &p, src_a, weights, bias, dst));
    }
    { /* 8-bit dense 3x3 (uint8 in), and odd shapes on the fast paths: 8-bit pointwise with 30 -> 7
       * channels (int8 in), depthwise with 30 channels, stride 2, asymmetric padding */
        ea_conv_params_t c3 = {24, 40, 32, 32, {3, 3, 1, 1, 1, 1, 1, 1}, 1, 8, EA_ACT_RELU, 0, shift,
                               EA_UINT8, EA_UINT8};
        ea_conv_params_t pw = {11, 13, 30, 7, {1, 1, 1, 1, 0, 0, 0, 0}, 1, 8, EA_ACT_NONE, 0, shift,
                               EA_INT8, EA_INT8};
        ea_conv_params_t dw = {11, 13, 30, 30, {3, 3, 2, 2, 0, 1, 2, 1}, 30, 8, EA_ACT_RELU6, 3, shift,
                               EA_INT8, EA_UINT8};
        fill_act(src_a, 24 * 40 * 32, 9);
        fill_params(9, 10);
        RUN("conv3x3s1_w8", 24u * 40u * 32u * 288u, dst, 24u * 40u * 32u,
            ea_conv2d_s8(&ctx, &c3, src_a, weights, bias, dst));
        fill_act(src_a, 11 * 13 * 30, 10);
        fill_params(10, 9);
        RUN("pointwise_odd_w8", 11u * 13u * 7u * 30u, dst, 11u * 13u * 7u,
            ea_pointwise_conv2d_s8(&ctx, &pw, src_a, weights, bias, dst));
        { /* the pair path's odd corners: 33 channels (one past a group of 4), 9 outputs (one
           * past a channel pair), 5 x 7 pixels (one past a pixel pair), relu6 at 96 (usat + min) */
            ea_conv_params_t pw6 = {9, 13, 33, 9, {1, 1, 2, 2, 0, 0, 0, 0}, 1, 8, EA_ACT_RELU6, 4, shift,
                                    EA_UINT8, EA_UINT8};
            fill_act(src_a, 9 * 13 * 33, 12);
            fill_params(12, 6);
            RUN("pointwise_relu6_s2_w8", 5u * 7u * 9u * 33u, dst, 5u * 7u * 9u,
                ea_pointwise_conv2d_s8(&ctx, &pw6, src_a, weights, bias, dst));
        }
        fill_act(src_a, 11 * 13 * 30, 11);
        fill_params(11, 5);
        RUN("depthwise_odd_s2_w8", 6u * 7u * 30u * 9u, dst, 6u * 7u * 30u,
            ea_depthwise_conv2d_s8(&ctx, &dw, src_a, weights, bias, dst));
    }
    { /* the last layer: raw int32 outputs */
        ea_fc_params_t p = {1920, 4, 8, EA_ACT_NONE, 0, shift, EA_UINT8, EA_INT8};
        fill_act(src_a, 1920, 5);
        fill_params(5, 0);
        RUN("fc_s32_w8", 1920u * 4u, out32, sizeof(out32),
            ea_fully_connected_s8_s32(&ctx, &p, src_a, weights, bias, out32));
    }
    { /* pooling */
        ea_max_pool_params_t mp = {24, 40, 32, {3, 3, 2, 2, 1, 1, 1, 1}, EA_UINT8};
        ea_avg_pool_params_t gap = {12, 20, 64, {12, 20, 1, 1, 0, 0, 0, 0}, 273, 17, EA_ACT_NONE, 0,
                                    EA_UINT8, EA_UINT8};
        fill_act(src_a, 24 * 40 * 32, 6);
        RUN("max_pool3x3s2", 0u, dst, 12u * 20u * 32u, ea_max_pool_s8(&ctx, &mp, src_a, dst));
        RUN("global_avg_pool", 0u, dst, 64u, ea_avg_pool_s8(&ctx, &gap, src_a, dst));
    }
    { /* residual add and concat */
        ea_add_params_t add = {12, 20, 64, 5, 3, 4, EA_ACT_RELU, EA_UINT8, EA_INT8, EA_UINT8};
        static const int32_t channels[2] = {32, 32};
        static const int8_t fl_in[2] = {6, 2};
        static const uint8_t in_type[2] = {EA_UINT8, EA_INT8};
        ea_concat_params_t cat = {12, 20, 2, channels, fl_in, 4, in_type, EA_INT8};
        const int8_t *inputs[2];
        inputs[0] = src_a;
        inputs[1] = src_b;
        fill_act(src_a, 12 * 20 * 64, 7);
        fill_act(src_b, 12 * 20 * 64, 8);
        RUN("add", 0u, dst, 12u * 20u * 64u, ea_add_s8(&ctx, &add, src_a, src_b, dst));
        RUN("concat", 0u, dst, 12u * 20u * 64u, ea_concat_s8(&ctx, &cat, inputs, dst));
    }
    bench_exit(0);
}
