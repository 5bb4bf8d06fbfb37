/*
 * ea_kernels.h - the reference inference kernels (firmware/kernels/, one kernel per file).
 *
 * Arithmetic: docs/fixed-point.md, bit-identical to edgeadapt/quant/intops.py on every target.
 * Layouts:    activations HWC (element (y, x, c) at (y * W + x) * C + c), no batch, one byte each:
 *             int8 or uint8 as the tensor's ea_dtype_t says (section 1.3), always passed as
 *             `int8_t *` raw bytes; the params name the type of every input and output;
 *             convolution weights OHWI [C_out][K_h][K_w][C_in / groups] (the depthwise kernel:
 *             tap-major [K_h][K_w][C_out], see ea_depthwise_conv2d_s8);
 *             fully-connected weights [C_out][K], K in HWC flatten order;
 *             4- and 2-bit weights packed per output-channel row (section 2): row c starts at byte
 *             c * ceil(R * bits / 8), R = K_h * K_w * C_in / groups (or K); element i of a row in
 *             bits [(i % (8 / bits)) * bits, +bits) of byte i / (8 / bits), low bits first.
 *             Packed weights are passed as `const int8_t *` (raw bytes), like CMSIS-NN's s4 kernels.
 * Bias:       int32 [C_out] in the accumulator's format FL_in + FL_w[c]; NULL means all zero.
 * Shifts:     int8 per output channel, shift[c] = FL_in + FL_w[c] - FL_out in [-8, 30].
 * Bound:      the quantizer guarantees |bias[c]| + X * sum_i |w[c][i]| < 2^30 (int32 accumulators),
 *             X = 128 for an int8 input, 255 for a uint8 input.
 *
 * Execution:  every kernel takes `const ea_ctx_t *ctx` first (NULL = one core, no scratch). It computes
 *             only its share of the output given by ea_split_box / ea_split (rows, columns or
 *             channels, whichever splits most evenly; channels for fully connected, elements
 *             for add), so calling it once per core_id in 0..num_cores-1 writes every
 *             output element exactly once. Scratch: ctx->buf of ctx->buf_size bytes, one buffer per
 *             core, at least `<kernel>_get_buffer_size(params)` bytes (kernels without such a twin
 *             need none). Kernels never allocate, never use floating point, and never read or write
 *             outside the documented tensors.
 * Status:     EA_OK; EA_ERR_ARG for a parameter out of range (dims < 1, bad weight bits, groups that
 *             do not divide the channels, a window larger than the padded input, a shift outside its
 *             range, an unknown activation or type); EA_ERR_BUFFER when the scratch is too small. A failing
 *             call writes nothing. The checks are O(C_out); define EA_KERNELS_NO_CHECKS to drop them.
 */
#ifndef EA_KERNELS_H
#define EA_KERNELS_H

#include "ea_types.h"

/* A sliding window: convolution kernel extent or pooling window, with its stride and zero/ignored
 * padding. Output extent: floor((in + pad_a + pad_b - kernel) / stride) + 1 (see ea_out_dim in
 * ea_fixedpoint.h); the padded input must hold at least one window. */
typedef struct {
    int32_t kernel_h, kernel_w; /* >= 1 */
    int32_t stride_h, stride_w; /* >= 1 */
    int32_t pad_top, pad_left, pad_bottom, pad_right; /* >= 0 */
} ea_window_t;

/* Convolution, section 4.1: dense (groups = 1), grouped, depthwise (groups = in_c, channel
 * multiplier out_c / in_c >= 1 allowed) and pointwise (1x1).
 * Output: out_h x out_w x out_c with out_h = ea_out_dim(in_h, kernel_h, stride_h, pad_top, pad_bottom),
 * out_w likewise; out[y][x][c] = act(sat(rshift_round(acc, shift[c]))), sat to the output type. */
typedef struct {
    int32_t in_h, in_w, in_c; /* input tensor, >= 1 */
    int32_t out_c;            /* output channels, >= 1 */
    ea_window_t win;          /* kernel, stride, padding (padding contributes 0) */
    int32_t groups;           /* >= 1, divides in_c and out_c */
    int32_t weight_bits;      /* 8 (int8 OHWI), 4 or 2 (packed rows) */
    ea_act_t act;             /* fused activation */
    int32_t fl_out;           /* output FL; only EA_ACT_RELU6 reads it (its bound R6) */
    const int8_t *shift;      /* [out_c], each in [-8, 30] */
    ea_dtype_t in_type;       /* input int8 or uint8 (padding is 0 either way) */
    ea_dtype_t out_type;      /* output int8 or uint8 (sat to [-128, 127] or [0, 255]) */
} ea_conv_params_t;

/* Conv followed by its only consumer, a max pool: executed as one layer (section 4.3). The pool
 * slides over the conv output (conv_h x conv_w x out_c, type conv.out_type, which is also the
 * output's); padded positions are never selected. */
typedef struct {
    ea_conv_params_t conv;
    ea_window_t pool;
} ea_conv_maxpool_params_t;

/* Fully connected, section 4.2: in_features activations (an HWC tensor is already flat) -> out_features. */
typedef struct {
    int32_t in_features;  /* K >= 1 */
    int32_t out_features; /* C_out >= 1 */
    int32_t weight_bits;  /* 8, 4 or 2 */
    ea_act_t act;         /* 8-bit output only */
    int32_t fl_out;       /* 8-bit output only (relu6 bound) */
    const int8_t *shift;  /* [out_features] in [-8, 30]; 8-bit output only (the s32 variant ignores it) */
    ea_dtype_t in_type;   /* input int8 or uint8 */
    ea_dtype_t out_type;  /* 8-bit output int8 or uint8 (the s32 variant ignores it) */
} ea_fc_params_t;

/* Max pool, section 4.3: output FL and type = input FL and type, no requantization. */
typedef struct {
    int32_t in_h, in_w, channels; /* >= 1 */
    ea_window_t win;
    ea_dtype_t type; /* input and output int8 or uint8 */
} ea_max_pool_params_t;

/* Average pool, section 4.4: every window has N = kernel_h * kernel_w terms (padding counts as
 * zeros, ONNX count_include_pad=1); global average pooling is the window in_h x in_w.
 * out = act(sat(rshift_round(sum * multiplier, shift))), sat to the output type. */
typedef struct {
    int32_t in_h, in_w, channels; /* >= 1 */
    ea_window_t win;
    int32_t multiplier; /* M = floor(2^16 / N + 1/2), in [1, 65536] (intops.avgpool_multiplier) */
    int32_t shift;      /* 16 + FL_in - FL_out, in [1, 30] */
    ea_act_t act;
    int32_t fl_out; /* relu6 bound */
    ea_dtype_t in_type, out_type;
} ea_avg_pool_params_t;

/* Residual add, section 4.5: two h x w x c tensors in formats fl_a, fl_b -> fl_out.
 * With F = max(fl_a, fl_b): F - min(fl_a, fl_b) <= 16 and F - fl_out in [-8, 30]. */
typedef struct {
    int32_t h, w, c; /* >= 1 */
    int32_t fl_a, fl_b, fl_out;
    ea_act_t act;
    ea_dtype_t a_type, b_type, out_type;
} ea_add_params_t;

/* Concatenation along channels, section 4.6: input i is h x w x channels[i] in format fl_in[i]
 * and type in_type[i]; each is requantized to fl_out (fl_in[i] - fl_out in [-8, 30]) and the
 * output type, and placed in input order. */
typedef struct {
    int32_t h, w;            /* >= 1 */
    int32_t num_inputs;      /* >= 1 */
    const int32_t *channels; /* [num_inputs], each >= 1 */
    const int8_t *fl_in;     /* [num_inputs] */
    int32_t fl_out;
    const uint8_t *in_type;  /* [num_inputs] ea_dtype_t values; NULL: every input int8 */
    ea_dtype_t out_type;
} ea_concat_params_t;

/* ---------------------------------------------------------------- convolution */

/* General convolution. Per output pixel the input window is gathered (im2col) into scratch, then
 * each output channel is one dot product with its weight row (packed rows are read in place).
 * Scratch: 2 * kernel_h * kernel_w * in_c bytes (two patches: 8-bit weights compute output
 * pixels in pairs). Splits its output box (ea_split_box). A drop-in may ask for another scratch
 * size through its *_get_buffer_size (the Cortex-M4 one-channel path does). */
int32_t ea_conv2d_s8_get_buffer_size(const ea_conv_params_t *p);
ea_status_t ea_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                         const int8_t *weights, const int32_t *bias, int8_t *output);

/* Depthwise fast path: requires groups == in_c (channel multiplier out_c / in_c >= 1). Same results
 * as ea_conv2d_s8 given the same weights in its own layout: tap-major [kh][kw][out_c] (8-bit), or
 * one packed row of out_c values per tap (4/2-bit), so that one window position reads every
 * channel's weight contiguously; the channel loop is innermost over int32 accumulators in scratch.
 * Scratch: 4 * out_c bytes, 4-byte aligned (EA_ERR_BUFFER otherwise). Splits output rows. */
int32_t ea_depthwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p);
ea_status_t ea_depthwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output);

/* 1x1 fast path: requires kernel 1x1, no padding, groups 1 (any stride). Same results as
 * ea_conv2d_s8; no scratch (the twin returns 0). Splits output rows. */
int32_t ea_pointwise_conv2d_s8_get_buffer_size(const ea_conv_params_t *p);
ea_status_t ea_pointwise_conv2d_s8(const ea_ctx_t *ctx, const ea_conv_params_t *p, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output);

/* Fused conv + max pool: never materializes the conv output. Per pooled output row it computes
 * the conv rows under the pool window one at a time into scratch and max-reduces them into the
 * output. Scratch: conv_w * out_c bytes (one conv row, rounded up to 4) + ea_conv2d_s8's.
 * Output: pool_h x pool_w x out_c. Splits pooled output rows. */
int32_t ea_conv2d_maxpool_s8_get_buffer_size(const ea_conv_maxpool_params_t *p);
ea_status_t ea_conv2d_maxpool_s8(const ea_ctx_t *ctx, const ea_conv_maxpool_params_t *p,
                                 const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output);

/* ---------------------------------------------------------------- fully connected */

/* int8 output. No scratch on one core (the twin returns 0; kept so faster drop-ins may ask for
 * some). Splits output channels; a team with a barrier (ctx->barrier) and more cores than outputs
 * splits the input dimension K instead and reduces the partial sums across cores, with the
 * scratch of ea_fully_connected_team_buffer_size per core (a too small one is EA_ERR_BUFFER). */
int32_t ea_fully_connected_s8_get_buffer_size(const ea_fc_params_t *p);
ea_status_t ea_fully_connected_s8(const ea_ctx_t *ctx, const ea_fc_params_t *p, const int8_t *input,
                                  const int8_t *weights, const int32_t *bias, int8_t *output);

/* Last layer: raw int32 accumulators out[c] = bias[c] + sum_i x[i] * w[c][i] (no shift, no act).
 * Scratch and split as ea_fully_connected_s8. */
int32_t ea_fully_connected_s8_s32_get_buffer_size(const ea_fc_params_t *p);
ea_status_t ea_fully_connected_s8_s32(const ea_ctx_t *ctx, const ea_fc_params_t *p, const int8_t *input,
                                      const int8_t *weights, const int32_t *bias, int32_t *output);

/* Per-core scratch of either fully connected kernel run by a team of num_cores cores that share a
 * barrier: one int32 partial sum per output when it splits K (out_features < num_cores), else 0.
 * Mirrored by edgeadapt.codegen.kernels (the planner reserves it for multi-core targets). */
static inline int32_t ea_fully_connected_team_buffer_size(const ea_fc_params_t *p, int32_t num_cores)
{
    return p != NULL && p->out_features < num_cores ? 4 * p->out_features : 0;
}

/* ---------------------------------------------------------------- pooling, add, concat (no scratch) */

/* Splits output rows. */
ea_status_t ea_max_pool_s8(const ea_ctx_t *ctx, const ea_max_pool_params_t *p, const int8_t *input,
                           int8_t *output);

/* Splits output rows (a global pool has one row: core 0 computes it). */
ea_status_t ea_avg_pool_s8(const ea_ctx_t *ctx, const ea_avg_pool_params_t *p, const int8_t *input,
                           int8_t *output);

/* Splits rows. output may alias a or b (elementwise). */
ea_status_t ea_add_s8(const ea_ctx_t *ctx, const ea_add_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *output);

/* inputs[i] is input i. Splits rows. */
ea_status_t ea_concat_s8(const ea_ctx_t *ctx, const ea_concat_params_t *p, const int8_t *const *inputs,
                         int8_t *output);

/* Dilated convolution, section 4.1 with taps spaced dilation_h rows / dilation_w columns apart:
 * the window of output (y, x) reads input (y * stride_h - pad_top + ky * dilation_h, ...), so the
 * kernel's extent is (kernel_h - 1) * dilation_h + 1 (which out_h and the window check use). Any
 * groups, weight bits and types as ea_conv2d_s8. Scratch: the patch, kernel_h * kernel_w * in_c
 * bytes. Splits output rows. */
typedef struct {
    ea_conv_params_t conv;
    int32_t dilation_h, dilation_w; /* >= 1 */
} ea_dilated_conv_params_t;

int32_t ea_dilated_conv2d_s8_get_buffer_size(const ea_dilated_conv_params_t *p);
ea_status_t ea_dilated_conv2d_s8(const ea_ctx_t *ctx, const ea_dilated_conv_params_t *p, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output);

/* Elementwise lookup table, section 4.8: output[i] = table[(uint8_t)input[i]] for size elements;
 * the table holds the 256 output codes (int8 or uint8 bytes) the quantizer computed. No scratch.
 * Splits elements. */
typedef struct {
    int32_t size;          /* elements, >= 1 */
    const int8_t *table;   /* [256] */
} ea_lut_params_t;

ea_status_t ea_lut_s8(const ea_ctx_t *ctx, const ea_lut_params_t *p, const int8_t *input, int8_t *output);

/* Nearest-neighbour resize by integer factors, section 4.9: out[y][x] = in[y / scale_h][x / scale_w]
 * (any 8-bit type, FL unchanged). No scratch. Splits output rows. */
typedef struct {
    int32_t in_h, in_w, channels; /* >= 1 */
    int32_t scale_h, scale_w;     /* >= 1 */
} ea_resize_params_t;

ea_status_t ea_resize_nearest_s8(const ea_ctx_t *ctx, const ea_resize_params_t *p, const int8_t *input,
                                 int8_t *output);

#endif /* EA_KERNELS_H */
