/*
 * ea_cmd_layercrc.c - `ea-crc`: the CRC-32 of every layer's output of the last model run, so a
 * host can check a board's (or QEMU's) kernels against the integer reference layer by layer
 * without moving the activations over a slow link (docs/hil-protocol.md).
 *
 * Off by default: the CRC is computed in the layer sink while the model runs, after the layer's
 * count is taken (ea-layers stays exact) but inside the step's own count.
 */
#include <string.h>

#include "ea_cmds.h"

static int crc_on;
static int crc_model = -1;      /* model of the recorded run; -1: none since `ea-crc on` */
static uint32_t crc_layers;
static uint32_t crc_value[EA_PROFILE_MAX_LAYERS];
static uint32_t crc_bytes[EA_PROFILE_MAX_LAYERS];

static void crc_sink(int m, int layer, const int8_t *out, uint32_t bytes)
{
    if (layer < 0 || layer >= EA_PROFILE_MAX_LAYERS)
        return;
    if (layer == 0 || m != crc_model) /* a new run (a rerun step records its second model) */
        crc_layers = 0, crc_model = m;
    crc_value[layer] = ea_crc32(0, (const uint8_t *)out, bytes);
    crc_bytes[layer] = bytes;
    if ((uint32_t)layer + 1u > crc_layers)
        crc_layers = (uint32_t)layer + 1u;
}

static void put_state(void)
{
    ea_put(crc_on ? "m-crc-[on]" : "m-crc-[off]");
    ea_put_eol();
}

int ea_cmd_crc(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "off") == 0)) {
        crc_on = argv[1][1] == 'n';
        crc_model = -1;
        crc_layers = 0;
        ea_app_set_layer_sink(crc_on ? crc_sink : 0);
        put_state();
        return EA_CMD_DONE;
    }
    if (argc != 1) {
        ea_put_error("Usage: ea-crc [on|off]");
        return EA_CMD_DONE;
    }
    if (crc_model < 0) {
        ea_put_error(crc_on ? "ea-crc: no model run since ea-crc on" : "ea-crc: off (send ea-crc on, then run)");
        return EA_CMD_DONE;
    }
    ea_put("m-crc-[model=");
    ea_put_u64((uint64_t)crc_model);
    ea_put(",layers=");
    ea_put_u64(crc_layers);
    ea_put_char(']');
    ea_put_eol();
    for (uint32_t i = 0; i < crc_layers; i++) {
        ea_put("m-layer-crc-[i=");
        ea_put_u64(i);
        ea_put(",bytes=");
        ea_put_u64(crc_bytes[i]);
        ea_put(",crc=");
        ea_put_hex32(crc_value[i]);
        ea_put_char(']');
        ea_put_eol();
    }
    return EA_CMD_DONE;
}
