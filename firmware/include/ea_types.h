/*
 * ea_types.h - types shared by kernels, generated models, the runtime and the ports.
 * C99, no dynamic memory.
 */
#ifndef EA_TYPES_H
#define EA_TYPES_H

#include <stdint.h>
#include <stddef.h>

/* Per-call execution context, the analogue of CMSIS-NN's cmsis_nn_context:
 * which slice of the work this core computes, and its caller-owned scratch buffer. */
typedef struct {
    int32_t core_id;   /* 0 .. num_cores-1 */
    int32_t num_cores; /* >= 1 */
    void *buf;         /* this core's scratch slice, sized by the kernel's *_get_buffer_size twin;
                        * may be NULL if 0. The team's slices are consecutive, buf_size bytes apart
                        * in core order (core i's at buf + (i - core_id) * buf_size: ea_team_slice) */
    int32_t buf_size;
    /* Returns once every core of the team has called it (the port's team barrier, e.g.
     * pi_cl_team_barrier); NULL when the cores do not run at the same time (one core, or a caller
     * that runs them one after another). Only a kernel that reduces across cores calls it. */
    void (*barrier)(void);
} ea_ctx_t;

/* Core i's scratch slice of the team (see ea_ctx_t.buf). */
static inline void *ea_team_slice(const ea_ctx_t *ctx, int32_t i)
{
    return (uint8_t *)ctx->buf + (i - ctx->core_id) * ctx->buf_size;
}

/* Kernel status codes. */
typedef enum {
    EA_OK = 0,
    EA_ERR_ARG = -1,     /* a parameter is out of range (checked in debug builds) */
    EA_ERR_BUFFER = -2,  /* scratch buffer too small */
} ea_status_t;

/* Fused activations, docs/fixed-point.md section 4.1. */
typedef enum { EA_ACT_NONE = 0, EA_ACT_RELU = 1, EA_ACT_RELU6 = 2 } ea_act_t;

/* How an activation tensor's bytes are read, docs/fixed-point.md section 1.3: int8 codes
 * [-128, 127], or uint8 codes [0, 255] for a tensor that cannot be negative (after a ReLU).
 * Kernels take every activation as `int8_t *` raw bytes plus this flag; 0 is int8, so a params
 * struct that does not set it keeps the int8 behaviour. */
typedef enum { EA_INT8 = 0, EA_UINT8 = 1 } ea_dtype_t;

/* Split n items into num_cores contiguous chunks as even as possible (sizes differ by at most
 * one); this core gets [*start, *end) = [n * id / cores, n * (id + 1) / cores). The same
 * instructions on every core (no branch on the id), in int32: n * cores stays far below 2^31
 * for any tensor (n <= 2^27 items with up to 16 cores). */
static inline void ea_split(int32_t n, const ea_ctx_t *ctx, int32_t *start, int32_t *end)
{
    int32_t cores = ctx ? ctx->num_cores : 1;
    int32_t id = ctx ? ctx->core_id : 0;
    if (cores < 1 || id < 0 || id >= cores) { /* not a valid core: no share */
        *start = *end = 0;
        return;
    }
    *start = n * id / cores;
    *end = n * (id + 1) / cores;
}

/* This core's share of an h x w x c output: rows [y0, y1), columns [x0, x1), channels [c0, c1). */
typedef struct {
    int32_t y0, y1, x0, x1, c0, c1;
} ea_box_t;

/* Dimensions a kernel lets ea_split_box cut (bit mask). */
#define EA_SPLIT_ROWS 1u
#define EA_SPLIT_COLS 2u
#define EA_SPLIT_CHANNELS 4u
/* The h * w output pixels in row-major order, all channels each: a core's share may start and
 * end inside a row (ea_split_box_pixels; only a kernel that walks a pixel range offers it). */
#define EA_SPLIT_PIXELS 8u

/* The dimension, among `dims`, to split a layer's h x w x c output over `cores`: first, one that
 * leaves no core with less than half the items of the busiest (an extent of at least `cores`);
 * among those (or among all if none), the one whose busiest core has the least work, a box of
 * h' x w' x c' outputs (or p' pixels of c) costing h' * w' * (c' + pixel_cost): pixel_cost is what
 * a kernel spends per output pixel whatever its channels (an im2col gather), in units of one
 * output channel's work. Ties go to rows, then columns, channels, pixels (locality). Returns 0
 * rows, 1 columns, 2 channels, 3 pixels. Mirrored by edgeadapt.codegen.kernels.split_dim. */
static inline int ea_split_dim(int32_t cores, int32_t h, int32_t w, int32_t c, unsigned dims, int32_t pixel_cost)
{
    const int32_t n[4] = {h, w, c, h * w};
    const int64_t hi_h = (h + cores - 1) / cores, hi_w = (w + cores - 1) / cores, hi_c = (c + cores - 1) / cores;
    const int64_t hi_p = ((int64_t)h * w + cores - 1) / cores;
    const int64_t cost[4] = {hi_h * w * (c + pixel_cost), h * hi_w * (c + pixel_cost),
                             (int64_t)h * w * (hi_c + pixel_cost), hi_p * (c + pixel_cost)};
    int best = -1, d;
    for (d = 0; d < 4; d++) {
        int better;
        if (!(dims & (1u << d)))
            continue;
        if (best < 0) {
            best = d;
            continue;
        }
        if ((n[d] >= cores) != (n[best] >= cores))
            better = n[d] >= cores;
        else
            better = cost[d] < cost[best];
        if (better)
            best = d;
    }
    return best < 0 ? 0 : best;
}

/* This core's share of an h x w x c output split along ea_split_dim's choice: the box of the rows,
 * columns and channels it touches, and the pixels [*q0, *q1) of that box (row-major within the
 * box) it computes: the whole box unless the cut is EA_SPLIT_PIXELS, whose box is the rows the
 * core's pixel range touches at full width. */
static inline ea_box_t ea_split_box_pixels(const ea_ctx_t *ctx, int32_t h, int32_t w, int32_t c, unsigned dims,
                                           int32_t pixel_cost, int32_t *q0, int32_t *q1)
{
    ea_box_t b;
    const int d = ea_split_dim(ctx ? ctx->num_cores : 1, h, w, c, dims, pixel_cost);
    b.y0 = 0, b.y1 = h, b.x0 = 0, b.x1 = w, b.c0 = 0, b.c1 = c;
    if (d == 0)
        ea_split(h, ctx, &b.y0, &b.y1);
    else if (d == 1)
        ea_split(w, ctx, &b.x0, &b.x1);
    else if (d == 2)
        ea_split(c, ctx, &b.c0, &b.c1);
    if (d == 3) {
        int32_t p0, p1;
        ea_split(h * w, ctx, &p0, &p1);
        b.y0 = p0 / w;
        b.y1 = p1 > p0 ? (p1 + w - 1) / w : b.y0;
        *q0 = p0 - b.y0 * w;
        *q1 = p1 - b.y0 * w;
    } else {
        *q0 = 0;
        *q1 = (b.y1 - b.y0) * (b.x1 - b.x0);
    }
    return b;
}

/* This core's box of an h x w x c output split along ea_split_dim's choice among rows, columns
 * and channels (`dims` without EA_SPLIT_PIXELS). */
static inline ea_box_t ea_split_box(const ea_ctx_t *ctx, int32_t h, int32_t w, int32_t c, unsigned dims,
                                    int32_t pixel_cost)
{
    int32_t q0, q1;
    return ea_split_box_pixels(ctx, h, w, c, dims & ~EA_SPLIT_PIXELS, pixel_cost, &q0, &q1);
}

static inline int ea_box_empty(const ea_box_t *b)
{
    return b->y0 >= b->y1 || b->x0 >= b->x1 || b->c0 >= b->c1;
}

#endif /* EA_TYPES_H */
