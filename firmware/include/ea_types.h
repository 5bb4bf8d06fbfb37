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
    void *buf;         /* scratch, sized by the kernel's *_get_buffer_size twin; may be NULL if 0 */
    int32_t buf_size;
} ea_ctx_t;

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

/* Split n items into num_cores contiguous chunks; this core gets [*start, *end). */
static inline void ea_split(int32_t n, const ea_ctx_t *ctx, int32_t *start, int32_t *end)
{
    int32_t cores = ctx ? ctx->num_cores : 1;
    int32_t id = ctx ? ctx->core_id : 0;
    int32_t chunk = (n + cores - 1) / cores;
    int32_t s = id * chunk;
    int32_t e = s + chunk;
    *start = s < n ? s : n;
    *end = e < n ? e : n;
}

#endif /* EA_TYPES_H */
