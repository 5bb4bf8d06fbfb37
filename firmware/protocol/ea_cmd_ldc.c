/*
 * ea_cmd_ldc.c - the chunked binary frame load (docs/hil-protocol.md, "Chunked frame load").
 *
 * `ldc <nbytes> <crc32hex> <chunk>` opens a load of nbytes into the frame buffer, cut into chunks
 * of `chunk` bytes. Each chunk then comes as a record (EA_LDC_MARK ... '%', unstuffed by the
 * core) carrying its payload, a CRC-32 seeded with the frame's CRC and the chunk index; a good
 * record is stored and acknowledged with its CRC, any other is refused and changes nothing.
 * Chunks may come in any order and more than once. When the last missing chunk is in, the CRC of
 * the whole frame is checked: the frame is then loaded (m-load-done), or the chunks are all
 * marked missing again. A chunk of the loaded frame sent again is acknowledged again, with
 * m-load-done, and changes nothing. `ldc` without arguments reports the state of the load. `ld` and `db <hex>`
 * (the other writers of the frame buffer) end an open load; `db load N` does not (the host's
 * resynchronization sends it), it only clears the loaded flag as it always did.
 */
#include <string.h>

#include "ea_cmds.h"

#define LDC_MAX_CHUNKS ((EA_FRAME_BYTES + EA_LDC_CHUNK_MIN - 1u) / EA_LDC_CHUNK_MIN)

static struct {
    int active;         /* a load is open: records are taken */
    int complete;       /* the last load ended with the whole frame's CRC right */
    uint32_t bytes;
    uint32_t crc;       /* zlib crc32 of the whole frame */
    uint32_t chunk;
    uint32_t chunks;
    uint32_t left;      /* chunks not received yet */
    uint8_t have[(LDC_MAX_CHUNKS + 7u) / 8u];
} ldc;

void ea_ldc_cancel(void)
{
    ldc.active = 0;
    ldc.complete = 0;
}

static void put_state(void)
{
    ea_put("m-ldc-[crc=");
    ea_put_hex32(ldc.crc);
    ea_put(",left=");
    ea_put_u64(ldc.active ? ldc.left : 0u);
    ea_put(",loaded=");
    ea_put_u64((uint64_t)(ldc.complete && ea_frame_loaded));
    ea_put_char(']');
    ea_put_eol();
}

int ea_cmd_ldc(int argc, char **argv)
{
    uint32_t n, crc, chunk;
    if (argc == 1) {
        put_state();
        return EA_CMD_DONE;
    }
    if (argc != 4 || ea_parse_u32(argv[1], &n) || ea_parse_hex32(argv[2], &crc) ||
        ea_parse_u32(argv[3], &chunk)) {
        ea_put_error("Usage: ldc <nbytes> <crc32hex> <chunk> | ldc");
        return EA_CMD_DONE;
    }
    if (n == 0 || n > EA_FRAME_BYTES) {
        ea_put("e-[ldc: byte count must be 1..");
        ea_put_u64(EA_FRAME_BYTES);
        ea_put_char(']');
        ea_put_eol();
        return EA_CMD_DONE;
    }
    if (chunk < EA_LDC_CHUNK_MIN || chunk > EA_LDC_CHUNK_MAX) {
        ea_put("e-[ldc: chunk size must be ");
        ea_put_u64(EA_LDC_CHUNK_MIN);
        ea_put("..");
        ea_put_u64(EA_LDC_CHUNK_MAX);
        ea_put_char(']');
        ea_put_eol();
        return EA_CMD_DONE;
    }
    ea_frame_loaded = 0;
    ldc.active = 1;
    ldc.complete = 0;
    ldc.bytes = n;
    ldc.crc = crc;
    ldc.chunk = chunk;
    ldc.chunks = (n + chunk - 1u) / chunk;
    ldc.left = ldc.chunks;
    memset(ldc.have, 0, sizeof ldc.have);
    ea_put("m-ldc-ready-[");
    ea_put_hex32(crc);
    ea_put_char(']');
    ea_put_eol();
    return EA_CMD_DONE;
}

static void whole_frame_check(void)
{
    uint32_t got = ea_crc32(0, ea_frame, ldc.bytes);
    if (got == ldc.crc) {
        ldc.active = 0;
        ldc.complete = 1;
        ea_frame_loaded = 1;
        ea_put_line("m-load-done");
        return;
    }
    /* only a CRC-32 collision on a chunk gets here: start the frame over */
    ea_put("e-[CRC mismatch: got ");
    ea_put_hex32(got);
    ea_put(", expected ");
    ea_put_hex32(ldc.crc);
    ea_put_char(']');
    ea_put_eol();
    ldc.left = ldc.chunks;
    memset(ldc.have, 0, sizeof ldc.have);
}

void ea_proto_record(const uint8_t *body, uint32_t n, int status)
{
    uint32_t index, len, expect, crc, sent;
    if (status == EA_LDC_RECORD_TOO_LONG) {
        ea_put_error("ldc: record too long");
        return;
    }
    if (status != EA_LDC_RECORD_OK) {
        ea_put_error("ldc: bad escape in record");
        return;
    }
    if (!ldc.active && !(ldc.complete && ea_frame_loaded)) {
        ea_put_error("ldc: no load in progress (send ldc <nbytes> <crc32hex> <chunk> first)");
        return;
    }
    if (n < 7u) {
        ea_put_error("ldc: record too short");
        return;
    }
    if (!(body[n - 2u] & 0x80u) || !(body[n - 1u] & 0x80u)) {
        ea_put_error("ldc: bad chunk index");
        return;
    }
    index = ((uint32_t)(body[n - 2u] & 0x7Fu) << 7) | (uint32_t)(body[n - 1u] & 0x7Fu);
    if (index >= ldc.chunks) {
        ea_put_error("ldc: chunk index out of range");
        return;
    }
    len = n - 6u;
    expect = ldc.bytes - index * ldc.chunk;
    if (expect > ldc.chunk)
        expect = ldc.chunk;
    if (len != expect) {
        ea_put_error("ldc: wrong chunk length");
        return;
    }
    crc = ea_crc32(ea_crc32(ldc.crc, body, len), body + n - 2u, 2u);
    sent = (uint32_t)body[len] | (uint32_t)body[len + 1u] << 8 | (uint32_t)body[len + 2u] << 16 |
           (uint32_t)body[len + 3u] << 24;
    if (crc != sent) {
        ea_put_error("ldc: chunk CRC mismatch");
        return;
    }
    if (!ldc.active) {
        /* a chunk of the frame just loaded, sent again (the host missed the acknowledgement) */
        ea_put("m-ldc-ok-");
        ea_put_hex32(crc);
        ea_put_eol();
        ea_put_line("m-load-done");
        return;
    }
    memcpy(ea_frame + index * ldc.chunk, body, len);
    if (!(ldc.have[index / 8u] & (1u << (index % 8u)))) {
        ldc.have[index / 8u] |= (uint8_t)(1u << (index % 8u));
        ldc.left--;
    }
    ea_put("m-ldc-ok-");
    ea_put_hex32(crc);
    ea_put_eol();
    if (ldc.left == 0)
        whole_frame_check();
}
