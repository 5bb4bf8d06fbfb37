/*
 * ea_policy.h - the model-switching policies, integer-exact.
 *
 * The Python twin (edgeadapt/policy/) makes the same decision on every frame given the same
 * integer outputs; docs/artifacts.md "## Policy config" defines the arithmetic. The float JSON
 * config is turned into the integer ea_policy_config_t on the host (baked in at export as
 * ea_policy_default, or sent over the link with `ea-policy`), so the device never uses float.
 */
#ifndef EA_POLICY_H
#define EA_POLICY_H

#include <stdint.h>

#define EA_POLICY_MAX_CH 8    /* outputs a temporal distance may weigh */
#define EA_POLICY_SMALL 0     /* model ids, as EA_MODEL_SMALL / EA_MODEL_BIG */
#define EA_POLICY_BIG 1
#define EA_POLICY_MAX_WEIGHT (1L << 27)  /* keeps the int64 distance free of overflow */
#define EA_POLICY_ONE_Q24 (1UL << 24)    /* p_big of an always-big random policy */
#define EA_POLICY_PART_MAX_CH 3          /* outputs a partition splits */
#define EA_POLICY_PART_MAX_CUTS 3        /* cut points per output: 4 bins, cell < 4^3 = 64 */

typedef enum {
    EA_POLICY_ALWAYS_SMALL = 0,
    EA_POLICY_ALWAYS_BIG = 1,
    EA_POLICY_RANDOM = 2,
    EA_POLICY_TEMPORAL = 3,
    EA_POLICY_AUX = 4,
    EA_POLICY_PARTITION = 5,
    EA_POLICY_NUM_KINDS = 6
} ea_policy_kind_t;

typedef struct {
    int32_t kind;                        /* ea_policy_kind_t */
    /* temporal: d = sum_c weight[c] * |out_c(t) - out_c(prev)| (int64), trigger when d > threshold */
    uint32_t num_channels;               /* outputs 0 .. num_channels-1 are weighed */
    int32_t weight[EA_POLICY_MAX_CH];    /* 0 .. EA_POLICY_MAX_WEIGHT */
    int64_t threshold;                   /* >= 0 */
    /* aux: trigger when out[aux_index] > aux_threshold (raw, in the aux output's FL) */
    uint32_t aux_index;
    int32_t aux_threshold;
    /* temporal and aux: after a trigger run big for the next k frames; rerun = 1 also re-runs
     * the triggering frame on big */
    uint32_t k;
    uint32_t rerun;
    /* random: xorshift32 from seed (non-zero); big when (r >> 8) < p_big (Q24, 0 .. 2^24) */
    uint32_t seed;
    uint32_t p_big;
    /* partition (output-based): after any run, bin_i = how many of part_cut[model][i][0..ncut-1]
     * the value out[part_channel[i]] (|value| if bit i of part_abs) exceeds; cell = sum bin_i 4^i;
     * the next frame runs big when bit `cell` of the 64-bit mask (hi:lo) is set. */
    uint32_t part_n;
    uint32_t part_channel[EA_POLICY_PART_MAX_CH];
    uint32_t part_abs;
    uint32_t part_ncut[EA_POLICY_PART_MAX_CH];
    int32_t part_cut[2][EA_POLICY_PART_MAX_CH][EA_POLICY_PART_MAX_CUTS]; /* [model][channel][cut], raw */
    uint32_t part_mask_lo;
    uint32_t part_mask_hi;
} ea_policy_config_t;

typedef struct {
    int32_t prev[EA_POLICY_MAX_CH];  /* the last small-model outputs */
    uint32_t have_prev;
    uint32_t big_left;               /* big frames still to run after a trigger */
    uint32_t rng;                    /* xorshift32 state */
    int32_t next_model;              /* the model the next run uses */
    uint32_t rerun;                  /* 1: the next run is the current frame again, on big */
} ea_policy_state_t;

/* The default baked in at export (export/<target>/ea_policy_default.c). */
extern const ea_policy_config_t ea_policy_default;

/* Start a sequence; returns the model for its first frame. */
int32_t ea_policy_reset(ea_policy_state_t *s, const ea_policy_config_t *c);
/* Feed the outputs of the run just made with model_used; returns the model for the next run.
 * s->rerun tells whether that run is the same frame again (temporal/aux with rerun = 1). */
int32_t ea_policy_decide(ea_policy_state_t *s, const ea_policy_config_t *c, int32_t model_used,
                         const int32_t *outputs);
/* The partition cell of the raw outputs of model (0 small, 1 big). */
uint32_t ea_policy_partition_cell(const ea_policy_config_t *c, int32_t model, const int32_t *outputs);
/* The temporal distance between two output vectors (exposed for tests and the profile). */
int64_t ea_policy_distance(const ea_policy_config_t *c, const int32_t *a, const int32_t *b);
/* One xorshift32 step. */
uint32_t ea_policy_xorshift32(uint32_t *state);

/* NULL when c is usable with a small model of num_outputs outputs, else a one-line reason. */
const char *ea_policy_check(const ea_policy_config_t *c, uint32_t num_outputs);
/* Policy names as in the JSON config ("temporal", "always-small", ...); NULL / -1 if unknown. */
const char *ea_policy_kind_name(int32_t kind);
int32_t ea_policy_kind_parse(const char *name);

#endif /* EA_POLICY_H */
