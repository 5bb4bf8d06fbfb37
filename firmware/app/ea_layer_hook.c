/*
 * ea_layer_hook.c - the runtime's ea_layer_done (declared by the generated ea_models.h).
 *
 * A plain strong definition rather than a weak default: the firmware always links this file, so
 * the generated models can call the hook unconditionally; whoever wants the layer outputs
 * registers a sink (ea_app_set_layer_sink) instead of overriding a symbol.
 */
#include "ea_profile.h"

static ea_profile_t profile;
static uint64_t last_stamp;
static uint64_t begin_stamp;
static ea_layer_sink_t sink;

void ea_profile_begin(int m)
{
    profile.model = m;
    profile.num_layers = 0;
    for (uint32_t c = 0; c < EA_PORT_NUM_CORES; c++)
        profile.core_cycles[c] = 0;
    begin_stamp = last_stamp = ea_hal_cycles();
}

void ea_profile_started_at(uint64_t t0)
{
    /* the first layer was stamped from ea_profile_begin's clock read, before the run's own t0:
     * counted from t0, every layer lies inside the run and their sum cannot exceed it */
    if (profile.num_layers > 0 && t0 > begin_stamp && profile.layer_cycles[0] >= t0 - begin_stamp)
        profile.layer_cycles[0] -= t0 - begin_stamp;
}

ea_profile_t *ea_profile_current(void)
{
    return &profile;
}

const ea_profile_t *ea_app_profile(void)
{
    return &profile;
}

void ea_app_set_layer_sink(ea_layer_sink_t fn)
{
    sink = fn;
}

ea_layer_sink_t ea_profile_sink(void)
{
    return sink;
}

void ea_layer_done(int m, int layer, const int8_t *out, uint32_t bytes)
{
    uint64_t now = ea_hal_cycles();
    uint32_t cores = ea_hal_num_cores();
    if (layer >= 0 && layer < EA_PROFILE_MAX_LAYERS) {
        profile.layer_cycles[layer] = now - last_stamp;
        profile.layer_bytes[layer] = bytes;
        if ((uint32_t)layer + 1u > profile.num_layers)
            profile.num_layers = (uint32_t)layer + 1u;
    }
    /* the port reports the cores of the fork that just ran this layer */
    for (uint32_t c = 0; c < cores && c < EA_PORT_NUM_CORES; c++)
        profile.core_cycles[c] += ea_hal_core_cycles(c);
    if (sink)
        sink(m, layer, out, bytes);
    last_stamp = ea_hal_cycles();  /* the sink's I/O is not the next layer's time */
}
