/*
 * ea_cmd_edgeadapt.c - edgeadapt's own verbs: device info, model selection, sequence steps,
 * per-layer profile and the binary frame load.
 */
#include <string.h>

#include "ea_cmds.h"

#define EA_XSTR(x) #x
#define EA_STR(x) EA_XSTR(x)

static const char *selection_name(int sel)
{
#if EA_SINGLE
    (void)sel;
    return "model";  /* a single-model export always runs model 0 */
#else
    return sel == EA_MODEL_SMALL ? "small" : sel == EA_MODEL_BIG ? "big" : "policy";
#endif
}

/* The selection a word names, or -1. */
static int parse_selection(const char *word)
{
#if EA_SINGLE
    return strcmp(word, "model") == 0 ? 0 : -1;
#else
    return strcmp(word, "small") == 0    ? EA_MODEL_SMALL
           : strcmp(word, "big") == 0    ? EA_MODEL_BIG
           : strcmp(word, "policy") == 0 ? EA_SELECT_POLICY
                                         : -1;
#endif
}

static void put_kv(const char *key, uint64_t v)
{
    ea_put(key);
    ea_put_char('=');
    ea_put_u64(v);
}

int ea_cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ea_put("m-info-[target=" EA_STR(EA_TARGET));
    put_kv(",cores", ea_hal_num_cores());
    put_kv(",hz", EA_PORT_CPU_HZ);
    put_kv(",height", EA_INPUT_H);
    put_kv(",width", EA_INPUT_W);
    put_kv(",channels", EA_INPUT_C);
    put_kv(",arena", EA_ARENA_BYTES);
    put_kv(",cmd", EA_CMD_SIZE);
    put_kv(",models", EA_NUM_MODELS);
    ea_put_char(']');
    ea_put_eol();
    for (int m = 0; m < EA_NUM_MODELS; m++) {
        const ea_model_info_t *info = &ea_models[m];
        put_kv("m-info-model-[id", (uint64_t)m);
        ea_put(",name=");
        ea_put(info->name);
        put_kv(",layers", info->num_layers);
        put_kv(",outputs", info->num_outputs);
        ea_put(",fl=");
        for (uint32_t i = 0; i < info->num_outputs; i++) {
            if (i)
                ea_put_char(':');
            ea_put_i64(info->output_fl[i]);
        }
        put_kv(",macs", info->macs);
        put_kv(",weights", info->weight_bytes);
        ea_put_char(']');
        ea_put_eol();
    }
    return EA_CMD_DONE;
}

int ea_cmd_select(int argc, char **argv)
{
    if (argc == 2) {
        int sel = parse_selection(argv[1]);
        if (sel < 0) {
            ea_put_error_arg(EA_SINGLE ? "ea-select: single-model export, expected model"
                                       : "ea-select: expected small, big or policy", argv[1]);
            return EA_CMD_DONE;
        }
        ea_app_select(sel);
    } else if (argc > 2) {
        ea_put_error(EA_SINGLE ? "Usage: ea-select [model]" : "Usage: ea-select [small|big|policy]");
        return EA_CMD_DONE;
    }
    ea_put("m-select-[");
    ea_put(selection_name(ea_app_selection()));
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
}

int ea_cmd_reset(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ea_app_reset_sequence();
    put_kv("m-reset-[next", (uint64_t)ea_app_policy_state()->next_model);
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
}

void ea_put_step(const ea_step_t *step)
{
    ea_put_crc_begin();  /* the fourth line checks the three: one reading is enough on a noisy link */
    put_kv("m-step-[frame", step->frame);
    put_kv(",model", (uint64_t)step->model);
    put_kv(",next", (uint64_t)step->next_model);
    put_kv(",cycles", step->cycles);
    put_kv(",policy_cycles", step->policy_cycles);
    ea_put_char(']');
    ea_put_eol();
    ea_put("m-outputs-[");
    for (uint32_t i = 0; i < step->num_outputs; i++) {
        if (i)
            ea_put_char(',');
        ea_put_i64(step->outputs[i]);
    }
    ea_put_char(']');
    ea_put_eol();
    ea_put("m-core-cycles-[");
    for (uint32_t c = 0; c < ea_hal_num_cores() && c < EA_PORT_NUM_CORES; c++) {
        if (c)
            ea_put_char(',');
        ea_put_u64(step->core_cycles[c]);
    }
    ea_put_char(']');
    ea_put_eol();
    uint32_t crc = ea_put_crc_end();
    ea_put("m-step-crc-[");
    ea_put_hex32(crc);
    ea_put_char(']');
    ea_put_eol();
}

/* `ea-step` runs the next frame. `ea-step N` is the same for frame index N, and repeatable: if
 * frame N is the last one run, its report is printed again and nothing runs, so a host that lost
 * the reply can ask again without advancing the sequence; any other N is refused. */
int ea_cmd_step(int argc, char **argv)
{
    ea_step_t step;
    int status;
    uint32_t want = 0;
    if (argc > 2 || (argc == 2 && ea_parse_u32(argv[1], &want))) {
        ea_put_error("Usage: ea-step [frame]");
        return EA_CMD_DONE;
    }
    if (argc == 2) {
        const ea_step_t *last = ea_app_last_step();
        uint32_t next = ea_app_frame_index();
        if (last && next > 0 && want == next - 1u && last->frame == want) {
            ea_put_step(last);
            return EA_CMD_DONE;
        }
        if (want != next) {
            ea_put("e-[ea-step: frame ");
            ea_put_u64(want);
            ea_put(" is not next (next is ");
            ea_put_u64(next);
            ea_put("), nothing run]");
            ea_put_eol();
            return EA_CMD_DONE;
        }
    }
    if (!ea_frame_loaded) {
        ea_put_error("No frame loaded");
        return EA_CMD_DONE;
    }
    status = ea_app_step(ea_frame, &step);
    if (status != 0) {
        ea_put("e-[Model run failed with status ");
        ea_put_i64(status);
        ea_put_char(']');
        ea_put_eol();
        return EA_CMD_DONE;
    }
    ea_put_step(&step);
    return EA_CMD_DONE;
}

int ea_cmd_layers(int argc, char **argv)
{
    const ea_profile_t *prof = ea_app_profile();
    (void)argc;
    (void)argv;
    if (!ea_app_last_step()) {
        ea_put_error("No run yet");
        return EA_CMD_DONE;
    }
    put_kv("m-layers-[model", (uint64_t)prof->model);
    put_kv(",layers", prof->num_layers);
    ea_put_char(']');
    ea_put_eol();
    for (uint32_t i = 0; i < prof->num_layers; i++) {
        put_kv("m-layer-[i", i);
        put_kv(",cycles", prof->layer_cycles[i]);
        put_kv(",bytes", prof->layer_bytes[i]);
        ea_put_char(']');
        ea_put_eol();
    }
    return EA_CMD_DONE;
}

static void ld_done(int crc_ok, uint32_t crc)
{
    (void)crc;
    ea_frame_loaded = crc_ok;
}

int ea_cmd_ld(int argc, char **argv)
{
    uint32_t n, crc;
    if (argc != 3 || ea_parse_u32(argv[1], &n) || ea_parse_hex32(argv[2], &crc)) {
        ea_put_error("Usage: ld <nbytes> <crc32hex>");
        return EA_CMD_DONE;
    }
    if (n == 0 || n > EA_FRAME_BYTES) {
        ea_put("e-[ld: byte count must be 1..");
        ea_put_u64(EA_FRAME_BYTES);
        ea_put_char(']');
        ea_put_eol();
        return EA_CMD_DONE;
    }
    ea_frame_loaded = 0;
    ea_ldc_cancel();
    ea_proto_expect_binary(ea_frame, n, crc, ld_done);
    put_kv("m-ld-ready-[bytes", n);
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_PENDING;
}

/* `ea-sync N` echoes N and changes nothing: the host's resynchronization marker (the first reply
 * that carries the host's fresh number marks where the stream is clean again). */
int ea_cmd_sync(int argc, char **argv)
{
    uint32_t n;
    if (argc != 2 || ea_parse_u32(argv[1], &n)) {
        ea_put_error("Usage: ea-sync <number>");
        return EA_CMD_DONE;
    }
    put_kv("m-sync-[n", n);
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
}

/* Ends the program through the HAL (semihosting or the test finisher under QEMU), so a client can
 * stop an emulated board cleanly. The reply comes first: nothing follows ea_hal_exit. */
int ea_cmd_exit(int argc, char **argv)
{
    uint32_t code = 0;
    if (argc > 2 || (argc == 2 && (ea_parse_u32(argv[1], &code) || code > 255u))) {
        ea_put_error("Usage: ea-exit [code 0..255]");
        return EA_CMD_DONE;
    }
    put_kv("m-exit-[code", code);
    ea_put_char(']');
    ea_put_eol();
    ea_put_line("m-ready");
    ea_hal_exit((int)code);
    return EA_CMD_DONE;  /* not reached: ea_hal_exit does not return on any port */
}
