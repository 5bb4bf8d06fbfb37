/*
 * ea_proto.c - the framing state machine and the command dispatch.
 *
 * Text mode collects bytes up to '%'. Whitespace before a command is skipped (so blank lines and
 * the newlines of a recovery flush cost nothing); a command longer than EA_CMD_SIZE or holding a
 * byte that is neither printable ASCII nor whitespace is refused as a whole once its '%' arrives.
 * Binary mode (entered by `ld`) takes an exact byte count, whatever the bytes are, then returns
 * to text mode. Record mode (a line starting with EA_LDC_MARK) unstuffs bytes up to '%' into the
 * record buffer: since '%' never occurs inside a stuffed record, a dropped or corrupted byte spoils
 * one record and never the framing. Nothing here can block except ea_hal_getc, and no input can
 * overflow a buffer.
 */
#include <string.h>

#include "ea_hal.h"
#include "ea_proto.h"

static char line[EA_CMD_SIZE + 1];
static uint32_t line_len;
static int line_too_long;
static int line_bad_byte = -1;  /* the first unacceptable byte, or -1 */

static struct {
    int active;     /* inside a chunk record (EA_LDC_MARK seen, '%' not yet) */
    int escaped;    /* the previous byte was EA_LDC_ESC */
    int status;     /* EA_LDC_RECORD_* */
    uint32_t len;
    uint8_t body[EA_LDC_RECORD_MAX];
} record;

static struct {
    uint8_t *dst;
    uint32_t left;
    uint32_t crc;
    uint32_t expected_crc;
    ea_binary_done_fn done;
} binary;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void ea_proto_banner(void)
{
    ea_put_line("m-timestamp-mode-performance");
    ea_put_line("m-init-done");
    ea_put_line("m-ready");
}

void ea_proto_expect_binary(uint8_t *dst, uint32_t n, uint32_t crc, ea_binary_done_fn done)
{
    binary.dst = dst;
    binary.left = n;
    binary.crc = 0;
    binary.expected_crc = crc;
    binary.done = done;
}

/* Split line into argv on spaces and tabs; returns argc, or -1 if there are too many. */
static int tokenize(char *s, char **argv)
{
    int argc = 0;
    while (*s) {
        while (is_space(*s))
            *s++ = '\0';
        if (!*s)
            break;
        if (argc == EA_CMD_MAX_ARGS)
            return -1;
        argv[argc++] = s;
        while (*s && !is_space(*s))
            s++;
    }
    return argc;
}

/* Run one complete command; returns EA_CMD_PENDING if it awaits binary bytes. */
static int dispatch(void)
{
    char *argv[EA_CMD_MAX_ARGS];
    int argc;
    if (line_too_long) {
        ea_put_error("Command too long");
        return EA_CMD_DONE;
    }
    if (line_bad_byte >= 0) {
        ea_put("e-[Bad byte 0x");
        ea_put_hex8((uint8_t)line_bad_byte);
        ea_put(" in command]");
        ea_put_eol();
        return EA_CMD_DONE;
    }
    line[line_len] = '\0';
    argc = tokenize(line, argv);
    if (argc < 0) {
        ea_put_error("Too many arguments");
        return EA_CMD_DONE;
    }
    for (const ea_cmd_t *cmd = ea_commands; cmd->verb; cmd++)
        if (strcmp(cmd->verb, argv[0]) == 0)
            return cmd->fn(argc, argv);
    ea_put_error_arg("Unknown command", argv[0]);
    return EA_CMD_DONE;
}

static void reset_line(void)
{
    line_len = 0;
    line_too_long = 0;
    line_bad_byte = -1;
}

static void binary_byte(uint8_t c)
{
    *binary.dst++ = c;
    binary.crc = ea_crc32(binary.crc, &c, 1);
    if (--binary.left == 0) {
        int ok = binary.crc == binary.expected_crc;
        if (ok) {
            ea_put_line("m-load-done");
        } else {
            ea_put("e-[CRC mismatch: got ");
            ea_put_hex32(binary.crc);
            ea_put(", expected ");
            ea_put_hex32(binary.expected_crc);
            ea_put_char(']');
            ea_put_eol();
        }
        if (binary.done)
            binary.done(ok, binary.crc);
        ea_put_line("m-ready");
    }
}

static void record_byte(uint8_t c)
{
    if (c == '%') {
        int status = record.status;
        if (status == EA_LDC_RECORD_OK && record.escaped)
            status = EA_LDC_RECORD_BAD_ESCAPE;
        record.active = 0;
        ea_proto_record(record.body, record.len, status);
        ea_put_line("m-ready");
        return;
    }
    if (record.escaped) {
        record.escaped = 0;
        c ^= 0x20u;
    } else if (c == EA_LDC_ESC) {
        record.escaped = 1;
        return;
    }
    if (record.len < EA_LDC_RECORD_MAX)
        record.body[record.len++] = c;
    else if (record.status == EA_LDC_RECORD_OK)
        record.status = EA_LDC_RECORD_TOO_LONG;
}

void ea_proto_feed(uint8_t c)
{
    if (binary.left) {
        binary_byte(c);
        return;
    }
    if (record.active) {
        record_byte(c);
        return;
    }
    if (c == EA_LDC_MARK && line_len == 0 && !line_too_long) {
        record.active = 1;
        record.escaped = 0;
        record.status = EA_LDC_RECORD_OK;
        record.len = 0;
        return;
    }
    if (c == '%') {
        if (line_len == 0 && !line_too_long && line_bad_byte < 0)
            return;  /* blank command: no reply (see docs/hil-protocol.md, recovery) */
        if (dispatch() == EA_CMD_DONE || binary.left == 0)
            ea_put_line("m-ready");
        reset_line();
        return;
    }
    if (line_len == 0 && is_space((char)c))
        return;
    if (line_bad_byte < 0 && !is_space((char)c) && (c < 0x20 || c > 0x7e))
        line_bad_byte = c;
    if (line_len < EA_CMD_SIZE)
        line[line_len++] = (char)c;
    else
        line_too_long = 1;
}

void ea_proto_serve(void)
{
    for (;;) {
        int c = ea_hal_getc();
        if (c < 0)
            return;  /* the link closed (host port only) */
        ea_proto_feed((uint8_t)c);
    }
}
