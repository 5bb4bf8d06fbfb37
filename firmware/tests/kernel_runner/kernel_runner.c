/*
 * kernel_runner - host test driver for the reference kernels (firmware/kernels/).
 *
 *   kernel_runner CASE...      runs each CASE file and writes CASE.out next to it
 *
 * A case file is text: the line "op <name>" and then records "<name> <count> <v1> ... <vcount>"
 * (whitespace-separated integers; int8 tensors as -128..127, packed weights as bytes 0..255).
 * Records per op (arrays of `count` values, scalars have count 1):
 *   conv2d, depthwise_conv2d, pointwise_conv2d: in_h in_w in_c out_c kernel[2] stride[2] pads[4] (top left bottom right)
 *                       groups weight_bits act fl_out shift[out_c] input weights [bias]
 *   conv2d_maxpool:     as conv2d plus pool_kernel[2] pool_stride[2] pool_pads[4]
 *   fully_connected, fully_connected_s32: in_features out_features weight_bits act fl_out
 *                       [shift] input weights [bias]
 *   max_pool:           in_h in_w channels kernel[2] stride[2] pads[4] input
 *   avg_pool:           as max_pool plus multiplier shift act fl_out
 *   add:                h w c fl_a fl_b fl_out act a b
 *   concat:             h w channels[n] fl_in[n] fl_out input0 .. input<n-1>
 *   dilated_conv2d:     as conv2d plus dilation[2]
 *   lut:                size table[256] input
 *   resize_nearest:     in_h in_w channels scale[2] input
 *   optional for all:   num_cores (default 1)
 *   optional types:     in_type out_type (conv, fc, avg_pool), type (max_pool),
 *                       a_type b_type out_type (add), in_type[n] out_type (concat); default 0
 * act: 0 none, 1 relu, 2 relu6. Types: 0 int8, 1 uint8 (tensors are bytes either way: uint8
 * values 0..255 or int8 values -128..127). A missing bias record passes NULL.
 *
 * The kernel is called once per core_id in 0..num_cores-1, each core with its own scratch buffer of
 * exactly *_get_buffer_size bytes followed by a canary, into output buffers pre-filled with two
 * different patterns: an output byte counts as written by a core when both runs agree on it. A
 * further call with one scratch byte too few must return EA_ERR_BUFFER and write nothing.
 * Last, a call with ctx == NULL must give the same output (or EA_ERR_BUFFER when scratch is needed).
 * With num_cores > 1 the team also runs at once, one thread per core sharing a barrier
 * (ctx.barrier), in one block of consecutive scratch slices of the kernel's scratch or its team
 * scratch (ea_fully_connected_team_buffer_size), whichever is larger, rounded up to 4: twice (two
 * fills, which must agree with each other and with the one-at-a-time output), and once with
 * slices one byte shorter than that need, which every core must refuse with EA_ERR_BUFFER,
 * writing nothing (or, for a kernel that needs no such scratch in a team, compute right).
 * CASE.out holds the records: status, short_buffer_status (1 when the kernel needs no scratch),
 * scratch, canary_ok, untouched_on_error, null_ctx_ok, output (bytes 0..255, merged over cores) and
 * writes (per output byte, how many cores wrote it); for a team also team_status, team_same,
 * team_canary_ok, team_short_status (1 when the team needs no scratch), team_short_ok and
 * team_scratch (the team scratch the kernel set's reference asks for).
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t under -std=c99 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ea_fixedpoint.h"
#include "ea_kernels.h"

#define MAX_RECORDS 64
#define MAX_INPUTS 16
#define CANARY_BYTES 32
#define CANARY 0xCD
#define MAX_TEAM 16

typedef struct {
    char name[32];
    long count;
    long *values;
} record_t;

typedef struct {
    char op[32];
    int num_records;
    record_t records[MAX_RECORDS];
    /* int8 copies of tensors, allocated at their exact size so sanitizers catch any overread */
    int8_t *tensors[MAX_RECORDS];
    int32_t *bias;
    int8_t *shift;
    int8_t *fl_in;
    uint8_t *in_types;
    int32_t *channels;
    const int8_t *inputs[MAX_INPUTS];
} case_t;

static void die(const char *path, const char *what, const char *name)
{
    fprintf(stderr, "kernel_runner: %s: %s %s\n", path, what, name ? name : "");
    exit(2);
}

static const char *g_path;

static record_t *find(case_t *cs, const char *name)
{
    int i;
    for (i = 0; i < cs->num_records; i++)
        if (strcmp(cs->records[i].name, name) == 0)
            return &cs->records[i];
    return NULL;
}

static record_t *need(case_t *cs, const char *name)
{
    record_t *r = find(cs, name);
    if (r == NULL)
        die(g_path, "missing record", name);
    return r;
}

static int32_t get(case_t *cs, const char *name, long index)
{
    record_t *r = need(cs, name);
    if (index >= r->count)
        die(g_path, "record too short:", name);
    return (int32_t)r->values[index];
}

/* An optional scalar record, or `fallback` when the case does not have it. */
static int32_t opt(case_t *cs, const char *name, int32_t fallback)
{
    return find(cs, name) ? get(cs, name, 0) : fallback;
}

static int8_t *tensor(case_t *cs, const char *name)
{
    record_t *r = need(cs, name);
    int idx = (int)(r - cs->records);
    long i;
    if (cs->tensors[idx] == NULL) {
        cs->tensors[idx] = malloc(r->count > 0 ? (size_t)r->count : 1);
        for (i = 0; i < r->count; i++)
            cs->tensors[idx][i] = (int8_t)(uint8_t)(r->values[i] & 0xFF);
    }
    return cs->tensors[idx];
}

static int32_t *int32_array(case_t *cs, const char *name)
{
    record_t *r = find(cs, name);
    int32_t *a;
    long i;
    if (r == NULL)
        return NULL;
    a = malloc(r->count > 0 ? (size_t)r->count * sizeof(int32_t) : 1);
    for (i = 0; i < r->count; i++)
        a[i] = (int32_t)r->values[i];
    return a;
}

static void read_case(const char *path, case_t *cs)
{
    FILE *f = fopen(path, "r");
    char name[32];
    memset(cs, 0, sizeof(*cs));
    if (f == NULL)
        die(path, "cannot open", NULL);
    if (fscanf(f, "%31s %31s", name, cs->op) != 2 || strcmp(name, "op") != 0)
        die(path, "first line must be: op <name>", NULL);
    while (fscanf(f, "%31s", name) == 1) {
        record_t *r;
        long i;
        if (cs->num_records == MAX_RECORDS)
            die(path, "too many records at", name);
        r = &cs->records[cs->num_records++];
        strcpy(r->name, name);
        if (fscanf(f, "%ld", &r->count) != 1 || r->count < 0)
            die(path, "bad count of", name);
        r->values = malloc(r->count > 0 ? (size_t)r->count * sizeof(long) : 1);
        for (i = 0; i < r->count; i++)
            if (fscanf(f, "%ld", &r->values[i]) != 1)
                die(path, "short record", name);
    }
    fclose(f);
}

static void free_case(case_t *cs)
{
    int i;
    for (i = 0; i < cs->num_records; i++) {
        free(cs->records[i].values);
        free(cs->tensors[i]);
    }
    free(cs->bias);
    free(cs->shift);
    free(cs->fl_in);
    free(cs->in_types);
    free(cs->channels);
}

static ea_window_t window(case_t *cs, const char *kernel, const char *stride, const char *pads)
{
    ea_window_t w;
    w.kernel_h = get(cs, kernel, 0);
    w.kernel_w = get(cs, kernel, 1);
    w.stride_h = get(cs, stride, 0);
    w.stride_w = get(cs, stride, 1);
    w.pad_top = get(cs, pads, 0);
    w.pad_left = get(cs, pads, 1);
    w.pad_bottom = get(cs, pads, 2);
    w.pad_right = get(cs, pads, 3);
    return w;
}

static int8_t *int8_array(case_t *cs, const char *name)
{
    record_t *r = find(cs, name);
    int8_t *a;
    long i;
    if (r == NULL)
        return NULL;
    a = malloc(r->count > 0 ? (size_t)r->count : 1);
    for (i = 0; i < r->count; i++)
        a[i] = (int8_t)r->values[i];
    return a;
}

/* ------------------------------------------------------------------ one kernel call per op */

/* Everything a call needs, built once per case. */
typedef struct {
    ea_conv_params_t conv;
    ea_conv_maxpool_params_t conv_pool;
    ea_fc_params_t fc;
    ea_max_pool_params_t max_pool;
    ea_avg_pool_params_t avg_pool;
    ea_add_params_t add;
    ea_concat_params_t concat;
    ea_lut_params_t lut;
    ea_dilated_conv_params_t dilated;
    ea_resize_params_t resize;
    int32_t scratch;
    int32_t team_need; /* extra per-core scratch of a team with a barrier (the FC K split), 0 if none */
    long out_bytes;
} call_t;

static ea_conv_params_t conv_params(case_t *cs)
{
    ea_conv_params_t p;
    p.in_h = get(cs, "in_h", 0);
    p.in_w = get(cs, "in_w", 0);
    p.in_c = get(cs, "in_c", 0);
    p.out_c = get(cs, "out_c", 0);
    p.win = window(cs, "kernel", "stride", "pads");
    p.groups = get(cs, "groups", 0);
    p.weight_bits = get(cs, "weight_bits", 0);
    p.act = (ea_act_t)get(cs, "act", 0);
    p.fl_out = get(cs, "fl_out", 0);
    cs->shift = int8_array(cs, "shift");
    p.shift = cs->shift;
    p.in_type = (ea_dtype_t)opt(cs, "in_type", 0);
    p.out_type = (ea_dtype_t)opt(cs, "out_type", 0);
    cs->bias = int32_array(cs, "bias");
    return p;
}

static void prepare(case_t *cs, call_t *call)
{
    const char *op = cs->op;
    memset(call, 0, sizeof(*call));
    if (strcmp(op, "conv2d") == 0 || strcmp(op, "depthwise_conv2d") == 0 || strcmp(op, "pointwise_conv2d") == 0) {
        ea_conv_params_t *p = &call->conv;
        *p = conv_params(cs);
        if (op[0] == 'c')
            call->scratch = ea_conv2d_s8_get_buffer_size(p);
        else if (op[0] == 'd')
            call->scratch = ea_depthwise_conv2d_s8_get_buffer_size(p);
        else
            call->scratch = ea_pointwise_conv2d_s8_get_buffer_size(p);
        call->out_bytes = (long)ea_out_dim(p->in_h, p->win.kernel_h, p->win.stride_h, p->win.pad_top, p->win.pad_bottom) *
                          ea_out_dim(p->in_w, p->win.kernel_w, p->win.stride_w, p->win.pad_left, p->win.pad_right) *
                          p->out_c;
    } else if (strcmp(op, "conv2d_maxpool") == 0) {
        ea_conv_maxpool_params_t *p = &call->conv_pool;
        const ea_window_t *cw = &p->conv.win, *pw = &p->pool;
        int32_t ch, cwd;
        p->conv = conv_params(cs);
        p->pool = window(cs, "pool_kernel", "pool_stride", "pool_pads");
        ch = ea_out_dim(p->conv.in_h, cw->kernel_h, cw->stride_h, cw->pad_top, cw->pad_bottom);
        cwd = ea_out_dim(p->conv.in_w, cw->kernel_w, cw->stride_w, cw->pad_left, cw->pad_right);
        call->scratch = ea_conv2d_maxpool_s8_get_buffer_size(p);
        call->out_bytes = (long)ea_out_dim(ch, pw->kernel_h, pw->stride_h, pw->pad_top, pw->pad_bottom) *
                          ea_out_dim(cwd, pw->kernel_w, pw->stride_w, pw->pad_left, pw->pad_right) * p->conv.out_c;
    } else if (strcmp(op, "fully_connected") == 0 || strcmp(op, "fully_connected_s32") == 0) {
        ea_fc_params_t *p = &call->fc;
        int s32 = strcmp(op, "fully_connected_s32") == 0;
        p->in_features = get(cs, "in_features", 0);
        p->out_features = get(cs, "out_features", 0);
        p->weight_bits = get(cs, "weight_bits", 0);
        p->act = (ea_act_t)get(cs, "act", 0);
        p->fl_out = get(cs, "fl_out", 0);
        cs->shift = int8_array(cs, "shift");
        p->shift = cs->shift;
        p->in_type = (ea_dtype_t)opt(cs, "in_type", 0);
        p->out_type = (ea_dtype_t)opt(cs, "out_type", 0);
        cs->bias = int32_array(cs, "bias");
        call->scratch = s32 ? ea_fully_connected_s8_s32_get_buffer_size(p) : ea_fully_connected_s8_get_buffer_size(p);
        call->out_bytes = (long)p->out_features * (s32 ? 4 : 1);
        call->team_need = ea_fully_connected_team_buffer_size(p, opt(cs, "num_cores", 1));
    } else if (strcmp(op, "max_pool") == 0 || strcmp(op, "avg_pool") == 0) {
        ea_window_t w = window(cs, "kernel", "stride", "pads");
        int32_t in_h = get(cs, "in_h", 0), in_w = get(cs, "in_w", 0), ch = get(cs, "channels", 0);
        call->out_bytes = (long)ea_out_dim(in_h, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom) *
                          ea_out_dim(in_w, w.kernel_w, w.stride_w, w.pad_left, w.pad_right) * ch;
        if (op[0] == 'm') {
            call->max_pool.in_h = in_h;
            call->max_pool.in_w = in_w;
            call->max_pool.channels = ch;
            call->max_pool.win = w;
            call->max_pool.type = (ea_dtype_t)opt(cs, "type", 0);
        } else {
            ea_avg_pool_params_t *p = &call->avg_pool;
            p->in_h = in_h;
            p->in_w = in_w;
            p->channels = ch;
            p->win = w;
            p->multiplier = get(cs, "multiplier", 0);
            p->shift = get(cs, "shift", 0);
            p->act = (ea_act_t)get(cs, "act", 0);
            p->fl_out = get(cs, "fl_out", 0);
            p->in_type = (ea_dtype_t)opt(cs, "in_type", 0);
            p->out_type = (ea_dtype_t)opt(cs, "out_type", 0);
        }
    } else if (strcmp(op, "add") == 0) {
        ea_add_params_t *p = &call->add;
        p->h = get(cs, "h", 0);
        p->w = get(cs, "w", 0);
        p->c = get(cs, "c", 0);
        p->fl_a = get(cs, "fl_a", 0);
        p->fl_b = get(cs, "fl_b", 0);
        p->fl_out = get(cs, "fl_out", 0);
        p->act = (ea_act_t)get(cs, "act", 0);
        p->a_type = (ea_dtype_t)opt(cs, "a_type", 0);
        p->b_type = (ea_dtype_t)opt(cs, "b_type", 0);
        p->out_type = (ea_dtype_t)opt(cs, "out_type", 0);
        call->out_bytes = (long)p->h * p->w * p->c;
    } else if (strcmp(op, "concat") == 0) {
        ea_concat_params_t *p = &call->concat;
        long i, total = 0;
        char name[32];
        p->h = get(cs, "h", 0);
        p->w = get(cs, "w", 0);
        p->num_inputs = (int32_t)need(cs, "channels")->count;
        if (p->num_inputs > MAX_INPUTS)
            die(g_path, "too many concat inputs", NULL);
        cs->channels = int32_array(cs, "channels");
        cs->fl_in = int8_array(cs, "fl_in");
        p->channels = cs->channels;
        p->fl_in = cs->fl_in;
        p->fl_out = get(cs, "fl_out", 0);
        p->out_type = (ea_dtype_t)opt(cs, "out_type", 0);
        if (find(cs, "in_type") != NULL) {
            record_t *r = need(cs, "in_type");
            cs->in_types = malloc(r->count > 0 ? (size_t)r->count : 1);
            for (i = 0; i < r->count; i++)
                cs->in_types[i] = (uint8_t)r->values[i];
            if (r->count < p->num_inputs)
                die(g_path, "record too short:", "in_type");
        }
        p->in_type = cs->in_types;
        for (i = 0; i < p->num_inputs; i++) {
            sprintf(name, "input%ld", i);
            cs->inputs[i] = tensor(cs, name);
            total += p->channels[i];
        }
        call->out_bytes = (long)p->h * p->w * total;
    } else if (strcmp(op, "dilated_conv2d") == 0) {
        ea_dilated_conv_params_t *p = &call->dilated;
        int32_t kh_e, kw_e;
        p->conv = conv_params(cs);
        p->dilation_h = get(cs, "dilation", 0);
        p->dilation_w = get(cs, "dilation", 1);
        call->scratch = ea_dilated_conv2d_s8_get_buffer_size(p);
        kh_e = (p->conv.win.kernel_h - 1) * p->dilation_h + 1;
        kw_e = (p->conv.win.kernel_w - 1) * p->dilation_w + 1;
        call->out_bytes = (long)ea_out_dim(p->conv.in_h, kh_e, p->conv.win.stride_h, p->conv.win.pad_top, p->conv.win.pad_bottom) *
                          ea_out_dim(p->conv.in_w, kw_e, p->conv.win.stride_w, p->conv.win.pad_left, p->conv.win.pad_right) *
                          p->conv.out_c;
    } else if (strcmp(op, "lut") == 0) {
        call->lut.size = get(cs, "size", 0);
        if (need(cs, "table")->count != 256)
            die(g_path, "a lookup table has 256 entries:", "table");
        cs->shift = int8_array(cs, "table"); /* int8 storage, freed with the case */
        call->lut.table = cs->shift;
        call->out_bytes = call->lut.size;
    } else if (strcmp(op, "resize_nearest") == 0) {
        ea_resize_params_t *p = &call->resize;
        p->in_h = get(cs, "in_h", 0);
        p->in_w = get(cs, "in_w", 0);
        p->channels = get(cs, "channels", 0);
        p->scale_h = get(cs, "scale", 0);
        p->scale_w = get(cs, "scale", 1);
        call->out_bytes = (long)p->in_h * p->scale_h * p->in_w * p->scale_w * p->channels;
    } else {
        die(g_path, "unknown op", op);
    }
}

static ea_status_t call_kernel(case_t *cs, const call_t *call, const ea_ctx_t *ctx, void *out)
{
    const char *op = cs->op;
    if (strcmp(op, "conv2d") == 0)
        return ea_conv2d_s8(ctx, &call->conv, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "depthwise_conv2d") == 0)
        return ea_depthwise_conv2d_s8(ctx, &call->conv, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "pointwise_conv2d") == 0)
        return ea_pointwise_conv2d_s8(ctx, &call->conv, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "conv2d_maxpool") == 0)
        return ea_conv2d_maxpool_s8(ctx, &call->conv_pool, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "fully_connected") == 0)
        return ea_fully_connected_s8(ctx, &call->fc, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "fully_connected_s32") == 0)
        return ea_fully_connected_s8_s32(ctx, &call->fc, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "max_pool") == 0)
        return ea_max_pool_s8(ctx, &call->max_pool, tensor(cs, "input"), out);
    if (strcmp(op, "avg_pool") == 0)
        return ea_avg_pool_s8(ctx, &call->avg_pool, tensor(cs, "input"), out);
    if (strcmp(op, "add") == 0)
        return ea_add_s8(ctx, &call->add, tensor(cs, "a"), tensor(cs, "b"), out);
    if (strcmp(op, "dilated_conv2d") == 0)
        return ea_dilated_conv2d_s8(ctx, &call->dilated, tensor(cs, "input"), tensor(cs, "weights"), cs->bias, out);
    if (strcmp(op, "lut") == 0)
        return ea_lut_s8(ctx, &call->lut, tensor(cs, "input"), out);
    if (strcmp(op, "resize_nearest") == 0)
        return ea_resize_nearest_s8(ctx, &call->resize, tensor(cs, "input"), out);
    return ea_concat_s8(ctx, &call->concat, cs->inputs, out);
}

/* ------------------------------------------------------------------ the multi-core harness */

/* Run one core with `scratch` bytes of scratch into `out` pre-filled with `fill`; *canary_ok
 * is cleared when the kernel wrote past its scratch. */
static ea_status_t run_core(case_t *cs, const call_t *call, int32_t core, int32_t cores, int32_t scratch,
                            uint8_t fill, uint8_t *out, int *canary_ok)
{
    ea_ctx_t ctx;
    uint8_t *buf = malloc((size_t)scratch + CANARY_BYTES);
    ea_status_t st;
    int i;
    memset(buf, 0x77, (size_t)scratch);
    memset(buf + scratch, CANARY, CANARY_BYTES);
    memset(out, fill, (size_t)call->out_bytes);
    ctx.core_id = core;
    ctx.num_cores = cores;
    ctx.buf = scratch > 0 ? buf : NULL;
    ctx.buf_size = scratch;
    ctx.barrier = NULL; /* the cores run one after another */
    st = call_kernel(cs, call, &ctx, out);
    for (i = 0; i < CANARY_BYTES; i++)
        if (buf[scratch + i] != CANARY)
            *canary_ok = 0;
    free(buf);
    return st;
}


/* The team run: all cores at once, one thread each, sharing a barrier, as on a multi-core chip.
 * The scratch is one block of consecutive per-core slices (ea_ctx_t.buf) followed by a canary. */
static pthread_barrier_t g_team_barrier;

static void team_barrier(void) { pthread_barrier_wait(&g_team_barrier); }

typedef struct {
    case_t *cs;
    const call_t *call;
    ea_ctx_t ctx;
    uint8_t *out;
    ea_status_t status;
} team_core_t;

static void *team_core(void *arg)
{
    team_core_t *t = (team_core_t *)arg;
    t->status = call_kernel(t->cs, t->call, &t->ctx, t->out);
    return NULL;
}

/* Run the team with `slice` bytes of scratch per core into `out` pre-filled with `fill`; returns
 * the first failing core's status (every core must agree). */
static ea_status_t run_team(case_t *cs, const call_t *call, int32_t cores, int32_t slice, uint8_t fill,
                            uint8_t *out, int *canary_ok)
{
    team_core_t team[MAX_TEAM];
    pthread_t threads[MAX_TEAM];
    const size_t total = (size_t)slice * (size_t)cores;
    uint8_t *buf = malloc(total + CANARY_BYTES);
    ea_status_t st = EA_OK;
    int32_t core;
    size_t i;
    if (cores > MAX_TEAM)
        die(g_path, "num_cores above", "MAX_TEAM");
    memset(buf, 0x77, total);
    memset(buf + total, CANARY, CANARY_BYTES);
    memset(out, fill, (size_t)call->out_bytes);
    pthread_barrier_init(&g_team_barrier, NULL, (unsigned)cores);
    for (core = 0; core < cores; core++) {
        team[core].cs = cs;
        team[core].call = call;
        team[core].out = out;
        team[core].ctx.core_id = core;
        team[core].ctx.num_cores = cores;
        team[core].ctx.buf = slice > 0 ? buf + (size_t)core * (size_t)slice : NULL;
        team[core].ctx.buf_size = slice;
        team[core].ctx.barrier = team_barrier;
        if (pthread_create(&threads[core], NULL, team_core, &team[core]) != 0)
            die(g_path, "cannot start", "a core thread");
    }
    for (core = 0; core < cores; core++) {
        pthread_join(threads[core], NULL);
        if (team[core].status != EA_OK && st == EA_OK)
            st = team[core].status;
        if (team[core].status != team[0].status)
            st = EA_ERR_ARG; /* cores disagreeing on a refusal would deadlock at a barrier */
    }
    pthread_barrier_destroy(&g_team_barrier);
    for (i = 0; i < CANARY_BYTES; i++)
        if (buf[total + i] != CANARY)
            *canary_ok = 0;
    free(buf);
    return st;
}

static void run_case(const char *path)
{
    case_t cs;
    call_t call;
    char out_path[4096];
    FILE *f;
    uint8_t *merged, *pass_a, *pass_b;
    int *writes;
    int32_t cores, core;
    long i;
    int status = EA_OK, short_status = 1, canary_ok = 1, untouched = 1, null_ctx_ok = 0;
    int team_run = 0, team_status = EA_OK, team_same = 0, team_canary_ok = 1, team_short = 1, team_short_ok = 1;

    g_path = path;
    read_case(path, &cs);
    prepare(&cs, &call);
    cores = find(&cs, "num_cores") ? get(&cs, "num_cores", 0) : 1;
    merged = malloc((size_t)call.out_bytes + 1);
    pass_a = malloc((size_t)call.out_bytes + 1);
    pass_b = malloc((size_t)call.out_bytes + 1);
    writes = calloc((size_t)call.out_bytes + 1, sizeof(int));
    memset(merged, 0, (size_t)call.out_bytes);

    for (core = 0; core < cores && status == EA_OK; core++) {
        ea_status_t st_a = run_core(&cs, &call, core, cores, call.scratch, 0x5A, pass_a, &canary_ok);
        ea_status_t st_b = run_core(&cs, &call, core, cores, call.scratch, 0xA5, pass_b, &canary_ok);
        status = st_a != EA_OK ? st_a : st_b;
        for (i = 0; i < call.out_bytes; i++) {
            if (status != EA_OK) {
                if (pass_a[i] != 0x5A || pass_b[i] != 0xA5)
                    untouched = 0;
            } else if (pass_a[i] == pass_b[i]) {
                writes[i]++;
                merged[i] = pass_a[i];
            }
        }
    }
    if (status == EA_OK && call.scratch > 0) {
        short_status = run_core(&cs, &call, 0, 1, call.scratch - 1, 0x5A, pass_a, &canary_ok);
        for (i = 0; i < call.out_bytes; i++)
            if (pass_a[i] != 0x5A)
                untouched = 0;
    }
    if (status == EA_OK) {
        /* ctx == NULL means one core without scratch: same output, or refused when scratch is needed */
        ea_status_t st;
        memset(pass_b, 0xA5, (size_t)call.out_bytes);
        st = call_kernel(&cs, &call, NULL, pass_b);
        if (call.scratch > 0)
            null_ctx_ok = st == EA_ERR_BUFFER;
        else
            null_ctx_ok = st == EA_OK && memcmp(pass_b, merged, (size_t)call.out_bytes) == 0;
    }

    if (status == EA_OK && cores > 1) {
        /* the team run: every byte written (both fills agree), equal to the one-at-a-time output */
        const int32_t need = call.scratch > call.team_need ? call.scratch : call.team_need;
        const int32_t slice = (need + 3) & ~3;
        team_status = run_team(&cs, &call, cores, slice, 0x5A, pass_a, &team_canary_ok);
        if (team_status == EA_OK)
            team_status = run_team(&cs, &call, cores, slice, 0xA5, pass_b, &team_canary_ok);
        team_same = team_status == EA_OK && memcmp(pass_a, pass_b, (size_t)call.out_bytes) == 0 &&
                    memcmp(pass_a, merged, (size_t)call.out_bytes) == 0;
        if (need > 0) {
            /* refused without writing, or (a kernel that does not need that scratch in a team, like
             * the one-core Cortex-M4 drop-ins) the right output */
            team_short = run_team(&cs, &call, cores, need - 1, 0x5A, pass_a, &team_canary_ok);
            if (team_short == EA_OK)
                team_short_ok = memcmp(pass_a, merged, (size_t)call.out_bytes) == 0;
            else
                for (i = 0; i < call.out_bytes; i++)
                    if (pass_a[i] != 0x5A)
                        team_short_ok = 0;
        }
        team_run = 1;
    }

    snprintf(out_path, sizeof(out_path), "%s.out", path);
    f = fopen(out_path, "w");
    if (f == NULL)
        die(out_path, "cannot write", NULL);
    fprintf(f, "status 1 %d\nshort_buffer_status 1 %d\nscratch 1 %ld\ncanary_ok 1 %d\nuntouched_on_error 1 %d\n",
            status, short_status, (long)call.scratch, canary_ok, untouched);
    fprintf(f, "null_ctx_ok 1 %d\n", null_ctx_ok);
    if (team_run)
        fprintf(f, "team_status 1 %d\nteam_same 1 %d\nteam_canary_ok 1 %d\nteam_short_status 1 %d\nteam_short_ok 1 %d\n"
                "team_scratch 1 %ld\n", team_status, team_same, team_canary_ok, team_short, team_short_ok, (long)call.team_need);
    fprintf(f, "output %ld", call.out_bytes);
    for (i = 0; i < call.out_bytes; i++)
        fprintf(f, " %u", merged[i]);
    fprintf(f, "\nwrites %ld", call.out_bytes);
    for (i = 0; i < call.out_bytes; i++)
        fprintf(f, " %d", writes[i]);
    fprintf(f, "\n");
    fclose(f);
    free(merged);
    free(pass_a);
    free(pass_b);
    free(writes);
    free_case(&cs);
}

int main(int argc, char **argv)
{
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: kernel_runner CASE...\n");
        return 2;
    }
    for (i = 1; i < argc; i++)
        run_case(argv[i]);
    return 0;
}
