/*
 * ea_proto.h - the frozen protocol core (docs/hil-protocol.md): framing, dispatch, replies.
 *
 * Commands are ASCII lines ending with '%' (MLPerf Tiny / EEMBC framing, at most EA_CMD_SIZE
 * characters); every non-blank command is answered by zero or more `m-...` / `e-[...]` lines and
 * then exactly one `m-ready`. A command may switch the core into binary mode for a fixed count of
 * raw bytes (`ld`); `m-ready` then follows the last byte. A line whose first non-blank byte is
 * EA_LDC_MARK is a chunk record of the chunked frame load (`ldc`): byte-stuffed binary up to the
 * next '%', handed to ea_proto_record and answered like a command.
 */
#ifndef EA_PROTO_H
#define EA_PROTO_H

#include <stdint.h>

#define EA_CMD_SIZE 80      /* longest command, as EE_CMD_SIZE */
#define EA_CMD_MAX_ARGS 12

/* Chunk records of `ldc` (docs/hil-protocol.md, "Chunked frame load"): EA_LDC_MARK, then the
 * record body byte-stuffed ('%' and EA_LDC_ESC are sent as EA_LDC_ESC, byte ^ 0x20), then '%'.
 * Body: payload (EA_LDC_CHUNK_MIN..EA_LDC_CHUNK_MAX bytes, shorter for the last chunk), CRC-32
 * (little-endian), chunk index as two bytes with bit 7 set (7 bits each, high part first). */
#define EA_LDC_MARK 0x01
#define EA_LDC_ESC 0x7D
#define EA_LDC_CHUNK_MIN 16u
#define EA_LDC_CHUNK_MAX 256u
#define EA_LDC_RECORD_MAX (EA_LDC_CHUNK_MAX + 6u)  /* unstuffed body bytes */
#define EA_LDC_RECORD_OK 0
#define EA_LDC_RECORD_TOO_LONG 1
#define EA_LDC_RECORD_BAD_ESCAPE 2

/* A command handler: argv[0] is the verb. Returns EA_CMD_DONE, or EA_CMD_PENDING after
 * ea_proto_expect_binary (the core then sends m-ready when the bytes are in). */
#define EA_CMD_DONE 0
#define EA_CMD_PENDING 1
typedef int (*ea_cmd_fn)(int argc, char **argv);
typedef struct {
    const char *verb;
    ea_cmd_fn fn;
    const char *help;
} ea_cmd_t;

extern const ea_cmd_t ea_commands[];  /* terminated by a NULL verb (ea_cmd_table.c) */

/* Called once the raw bytes of a binary load are in: crc_ok tells whether they matched. */
typedef void (*ea_binary_done_fn)(int crc_ok, uint32_t crc);

void ea_proto_banner(void);       /* the boot lines: m-timestamp-mode-performance, m-init-done */
void ea_proto_feed(uint8_t c);    /* one byte from the link */
void ea_proto_serve(void);        /* feed ea_hal_getc() bytes until the link closes */
void ea_proto_expect_binary(uint8_t *dst, uint32_t n, uint32_t crc, ea_binary_done_fn done);
/* A complete chunk record (unstuffed body, status EA_LDC_RECORD_*); prints its reply lines, the
 * core then sends m-ready (protocol/ea_cmd_ldc.c). */
void ea_proto_record(const uint8_t *body, uint32_t n, int status);

/* Replies (protocol/ea_print.c). Output is buffered per line; ea_put_eol ends a line. */
void ea_put(const char *s);
void ea_put_n(const char *s, uint32_t n);
void ea_put_char(char c);
void ea_put_u64(uint64_t v);
void ea_put_i64(int64_t v);
void ea_put_hex8(uint8_t v);
void ea_put_hex32(uint32_t v);
void ea_put_fixed3(int32_t q, int32_t fl);     /* q * 2^-fl, rounded to 3 decimals */
void ea_put_sanitized(const char *s, uint32_t n);  /* non-printable bytes as '?' */
void ea_put_eol(void);                           /* "\r\n" and flush */
/* CRC-32 of the bytes put between begin and end, '\r' left out (each line counts as text + '\n') */
void ea_put_crc_begin(void);
uint32_t ea_put_crc_end(void);
void ea_put_line(const char *s);                 /* s + eol */
void ea_put_error(const char *msg);              /* e-[msg] */
void ea_put_error_arg(const char *msg, const char *arg);  /* e-[msg: arg] */
void ea_put_us(uint64_t cycles);                 /* cycles as microseconds (EA_PORT_CPU_HZ) */

/* Parsing (protocol/ea_parse.c): 0 on success, -1 on a malformed or out-of-range value. */
int ea_parse_u32(const char *s, uint32_t *out);
int ea_parse_i32(const char *s, int32_t *out);
int ea_parse_i64(const char *s, int64_t *out);
int ea_parse_hex32(const char *s, uint32_t *out);
int ea_hex_digit(char c);         /* 0..15, or -1 */

uint32_t ea_crc32(uint32_t crc, const uint8_t *data, uint32_t n);  /* zlib's crc32 */

#endif /* EA_PROTO_H */
