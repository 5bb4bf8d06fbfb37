/*
 * ea_cmd_table.c - every verb the firmware answers (docs/hil-protocol.md).
 */
#include "ea_cmds.h"

const ea_cmd_t ea_commands[] = {
    /* MLPerf Tiny / EEMBC */
    {"name", ea_cmd_name, "name: device name"},
    {"profile", ea_cmd_profile, "profile: benchmark profile and model"},
    {"help", ea_cmd_help, "help: this list"},
    {"timestamp", ea_cmd_timestamp, "timestamp: print a timestamp"},
    {"db", ea_cmd_db, "db load N | db <hex> | db print: load the frame buffer"},
    {"infer", ea_cmd_infer, "infer N [W]: W warm-up and N timed runs on the frame buffer"},
    {"results", ea_cmd_results, "results: outputs of the last run"},
    /* edgeadapt */
    {"ea-info", ea_cmd_info, "ea-info: target, memories and models"},
    {"ea-select", ea_cmd_select, "ea-select [small|big|policy]: what a step runs"},
    {"ea-policy", ea_cmd_policy, "ea-policy [default | <kind> key=value...]: show or set the policy"},
    {"ea-reset", ea_cmd_reset, "ea-reset: restart the sequence (policy state, frame index)"},
    {"ea-step", ea_cmd_step, "ea-step [frame]: run the next frame of the sequence (or report frame again) and report it"},
    {"ea-layers", ea_cmd_layers, "ea-layers: per-layer cycles of the last model run"},
    {"ea-crc", ea_cmd_crc, "ea-crc [on|off]: CRC-32 of every layer's output of the last run"},
    {"ea-decide", ea_cmd_decide, "ea-decide <model> <o0,o1,...>: feed outputs to the policy"},
    {"ld", ea_cmd_ld, "ld <nbytes> <crc32hex>: binary load of the frame buffer"},
    {"ldc", ea_cmd_ldc, "ldc <nbytes> <crc32hex> <chunk> | ldc: chunked binary load, or its state"},
    {"ea-sync", ea_cmd_sync, "ea-sync <number>: echo the number (link resynchronization)"},
    {"ea-exit", ea_cmd_exit, "ea-exit [code]: end the program (QEMU exits)"},
    {0, 0, 0},
};
