/*
 * ea_app.h - the application: the two models, the switching policy and the per-frame state.
 * The protocol commands (firmware/protocol/) and the host's batch mode call only this interface.
 * A single-model export (EA_NUM_MODELS 1, docs/decisions.md D18) has no policy: every step runs
 * model 0 (EA_MODEL_SINGLE) and the selection is always 0.
 */
#ifndef EA_APP_H
#define EA_APP_H

#include "ea_hal.h"
#include "ea_models.h"
#include "ea_policy.h"

#if EA_NUM_CORES > EA_PORT_NUM_CORES
#error "the export was generated for more cores than this port drives"
#endif

#ifndef EA_INPUT_C
#define EA_INPUT_C 1           /* exports before D18 read greyscale frames */
#endif
#define EA_FRAME_BYTES ((uint32_t)EA_INPUT_H * (uint32_t)EA_INPUT_W * (uint32_t)EA_INPUT_C)
#define EA_SINGLE (EA_NUM_MODELS == 1)  /* one model, no policy */
#define EA_RUN_BOTH 2          /* a frame run on small, then re-run on big (policy rerun) */
#define EA_SELECT_POLICY 2     /* selection: EA_MODEL_SMALL, EA_MODEL_BIG or the policy */
#define EA_PROFILE_MAX_LAYERS 128

/* The outcome of one frame. */
typedef struct {
    uint32_t frame;                   /* index in the sequence (since the last reset) */
    int32_t model;                    /* model(s) run: EA_MODEL_SMALL, EA_MODEL_BIG or EA_RUN_BOTH */
    int32_t out_model;                /* model whose outputs are below (big after a rerun) */
    int32_t next_model;               /* what the next frame will run */
    uint64_t cycles;                  /* ea_hal_cycles spent in the model run(s) */
    uint64_t policy_cycles;           /* ea_hal_cycles spent deciding */
    uint32_t num_outputs;
    int32_t outputs[EA_MAX_OUTPUTS];  /* raw int32, FL = ea_models[out_model].output_fl */
    uint64_t core_cycles[EA_PORT_NUM_CORES];  /* per core, summed over the layers */
} ea_step_t;

/* The per-layer profile of the most recent model run (filled by the ea_layer_done hook). */
typedef struct {
    int32_t model;
    uint32_t num_layers;
    uint64_t layer_cycles[EA_PROFILE_MAX_LAYERS];
    uint32_t layer_bytes[EA_PROFILE_MAX_LAYERS];
    uint64_t core_cycles[EA_PORT_NUM_CORES];
} ea_profile_t;

/* Receives every layer's output during a run (the host's --layers dump); NULL = none. */
typedef void (*ea_layer_sink_t)(int m, int layer, const int8_t *out, uint32_t bytes);

extern uint8_t ea_frame[EA_FRAME_BYTES];  /* the frame buffer the link loads */

int ea_app_main(void);                    /* HAL init, banner, serve the link until it closes */
/* Baked policy, selection = policy, sequence reset. NULL, or why the baked policy was refused
 * (the app then runs always-small). */
const char *ea_app_init(void);

/* Run model m on frame; cycles gets the ea_hal_cycles spent. Returns ea_model_run's status. */
int ea_app_run_model(int m, const uint8_t *frame, int32_t *outputs, uint64_t *cycles);
/* One frame of the sequence under the current selection; returns 0 or a model status. */
int ea_app_step(const uint8_t *frame, ea_step_t *step);
const ea_step_t *ea_app_last_step(void);  /* NULL before the first step */
uint32_t ea_app_frame_index(void);        /* the frame index the next step gets */

int ea_app_select(int selection);         /* 0 small, 1 big, EA_SELECT_POLICY (single: 0); -1 if invalid */
int ea_app_selection(void);
void ea_app_reset_sequence(void);         /* frame index 0, policy state reset */

const ea_policy_config_t *ea_app_policy(void);
/* Replace the policy (validated: NULL or the reason it was refused); resets the sequence.
 * A single-model export refuses every policy. */
const char *ea_app_set_policy(const ea_policy_config_t *config);
ea_policy_state_t *ea_app_policy_state(void);

const ea_profile_t *ea_app_profile(void);
void ea_app_set_layer_sink(ea_layer_sink_t sink);

#endif /* EA_APP_H */
