/*
 * ea_models.h - TEST FIXTURE, hand-written: a stand-in for the generated export
 * (docs/decisions.md D6) so the firmware tests run before `edgeadapt export` exists.
 * Two tiny CNNs on the 160x96 frame with made-up weights; their outputs mean nothing.
 */
#ifndef EA_MODELS_H
#define EA_MODELS_H

#include "ea_types.h"

#define EA_MODEL_SMALL 0
#define EA_MODEL_BIG 1
#define EA_NUM_MODELS 2
#define EA_INPUT_H 96
#define EA_INPUT_W 160
#define EA_MAX_OUTPUTS 8
#define EA_ARENA_BYTES 61440
#ifndef EA_NUM_CORES
#define EA_NUM_CORES 1  /* -DEA_NUM_CORES=n checks the parallel split on the host */
#endif

typedef struct {
    const char *name;
    uint32_t num_layers;
    uint32_t num_outputs;
    const int8_t *output_fl;
    uint32_t macs;
    uint32_t weight_bytes;
} ea_model_info_t;

extern const ea_model_info_t ea_models[EA_NUM_MODELS];
extern uint8_t ea_arena[EA_ARENA_BYTES];
int ea_model_run(int m, const uint8_t *frame, int32_t *outputs);
void ea_layer_done(int m, int layer, const int8_t *out, uint32_t bytes);

#endif /* EA_MODELS_H */
