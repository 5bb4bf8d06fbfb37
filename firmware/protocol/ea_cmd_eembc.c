/*
 * ea_cmd_eembc.c - the MLPerf Tiny / EEMBC verbs, with the replies the MLCommons runner expects.
 */
#include <string.h>

#include "ea_cmds.h"

#define EA_XSTR(x) #x
#define EA_STR(x) EA_XSTR(x)

int ea_frame_loaded;

static uint32_t db_expected;  /* bytes announced by `db load N` */
static uint32_t db_received;

int ea_cmd_name(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ea_put_line("m-name-dut-[edgeadapt-" EA_STR(EA_TARGET) "]");
    return EA_CMD_DONE;
}

int ea_cmd_profile(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ea_put_line("m-profile-[ULPMark for tinyML Firmware V0.0.1]");
    ea_put("m-model-[");
    for (int m = 0; m < EA_NUM_MODELS; m++) {
        if (m)
            ea_put_char('+');
        ea_put(ea_models[m].name);
    }
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
}

int ea_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (const ea_cmd_t *cmd = ea_commands; cmd->verb; cmd++) {
        ea_put("m-help-[");
        ea_put(cmd->help);
        ea_put_char(']');
        ea_put_eol();
    }
    return EA_CMD_DONE;
}

static void put_timestamp(void)
{
    ea_put("m-lap-us-");
    ea_put_us(ea_hal_cycles());
    ea_put_eol();
}

int ea_cmd_timestamp(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    put_timestamp();
    return EA_CMD_DONE;
}

/* `db <hex>`: the whole token is checked before a byte is stored. */
static int db_hex(const char *hex)
{
    uint32_t digits = 0;
    while (hex[digits])
        digits++;
    if (db_expected == 0) {
        ea_put_error("No load in progress (send db load N first)");
        return EA_CMD_DONE;
    }
    if (digits % 2u) {
        ea_put_error("Odd number of hex digits");
        return EA_CMD_DONE;
    }
    for (uint32_t i = 0; i < digits; i++)
        if (ea_hex_digit(hex[i]) < 0) {
            ea_put_error_arg("Bad hex digit", hex + i);
            return EA_CMD_DONE;
        }
    if (digits / 2u > db_expected - db_received) {
        ea_put("e-[Too many bytes: ");
        ea_put_u64(db_expected - db_received);
        ea_put(" left]");
        ea_put_eol();
        return EA_CMD_DONE;
    }
    ea_ldc_cancel();
    for (uint32_t i = 0; i < digits; i += 2u)
        ea_frame[db_received++] =
            (uint8_t)(ea_hex_digit(hex[i]) * 16 + ea_hex_digit(hex[i + 1u]));
    if (db_received == db_expected) {
        db_expected = 0;
        ea_frame_loaded = 1;
        ea_put_line("m-load-done");
    }
    return EA_CMD_DONE;
}

static void db_print(void)
{
    for (uint32_t i = 0; i < EA_FRAME_BYTES; i += 16u) {
        ea_put("m-buffer");
        for (uint32_t j = i; j < i + 16u && j < EA_FRAME_BYTES; j++) {
            ea_put_char('-');
            ea_put_hex8(ea_frame[j]);
        }
        ea_put_eol();
    }
}

int ea_cmd_db(int argc, char **argv)
{
    uint32_t n;
    if (argc == 2 && strcmp(argv[1], "print") == 0) {
        db_print();
        return EA_CMD_DONE;
    }
    if (argc == 3 && strcmp(argv[1], "load") == 0) {
        if (ea_parse_u32(argv[2], &n) || n == 0 || n > EA_FRAME_BYTES) {
            ea_put("e-[db load: byte count must be 1..");
            ea_put_u64(EA_FRAME_BYTES);
            ea_put_char(']');
            ea_put_eol();
            return EA_CMD_DONE;
        }
        db_expected = n;
        db_received = 0;
        ea_frame_loaded = 0;
        ea_put("m-[Expecting ");
        ea_put_u64(n);
        ea_put(" bytes]");
        ea_put_eol();
        return EA_CMD_DONE;
    }
    if (argc == 2)
        return db_hex(argv[1]);
    ea_put_error("Usage: db load N | db <hex> | db print");
    return EA_CMD_DONE;
}

/* Run one frame under the current selection; 0, or -1 after an error line. */
static int run_once(ea_step_t *step)
{
    int status = ea_app_step(ea_frame, step);
    if (status != 0) {
        ea_put("e-[Model run failed with status ");
        ea_put_i64(status);
        ea_put_char(']');
        ea_put_eol();
        return -1;
    }
    return 0;
}

int ea_cmd_infer(int argc, char **argv)
{
    uint32_t n, warmup = 10;  /* the EEMBC default when W is missing */
    ea_step_t step;
    if (argc < 2 || argc > 3 || ea_parse_u32(argv[1], &n) ||
        (argc == 3 && ea_parse_u32(argv[2], &warmup))) {
        ea_put_error("Usage: infer N [W]");
        return EA_CMD_DONE;
    }
    if (n == 0) {
        ea_put_error("Inference iterations must be >0");
        return EA_CMD_DONE;
    }
    if (!ea_frame_loaded) {
        ea_put_error("No frame loaded");
        return EA_CMD_DONE;
    }
    ea_put("m-warmup-start-");
    ea_put_u64(warmup);
    ea_put_eol();
    for (uint32_t i = 0; i < warmup; i++)
        if (run_once(&step))
            return EA_CMD_DONE;
    ea_put_line("m-warmup-done");
    ea_put("m-infer-start-");
    ea_put_u64(n);
    ea_put_eol();
    put_timestamp();
    for (uint32_t i = 0; i < n; i++)
        if (run_once(&step))
            return EA_CMD_DONE;
    put_timestamp();
    ea_put_line("m-infer-done");
    ea_put_results(&step);
    return EA_CMD_DONE;
}

void ea_put_results(const ea_step_t *step)
{
    const int8_t *fl = ea_models[step->out_model].output_fl;
    ea_put("m-results-[");
    for (uint32_t i = 0; i < step->num_outputs; i++) {
        if (i)
            ea_put_char(',');
        ea_put_fixed3(step->outputs[i], fl[i]);
    }
    ea_put_char(']');
    ea_put_eol();
}

int ea_cmd_results(int argc, char **argv)
{
    const ea_step_t *last = ea_app_last_step();
    (void)argc;
    (void)argv;
    if (!last) {
        ea_put_error("No results yet");
        return EA_CMD_DONE;
    }
    ea_put_results(last);
    return EA_CMD_DONE;
}
