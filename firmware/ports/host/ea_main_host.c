/*
 * ea_main_host.c - the host program.
 *
 *   edgeadapt-host.elf                       serve the protocol on stdin/stdout
 *   edgeadapt-host.elf --serial tcp:H:P      serve it on a TCP server socket (one client)
 *   edgeadapt-host.elf --infer <0|1> <frames.u8> <out.i32> [--layers <dump.bin>]
 *       batch: run model 0 (small, or a single-model export's model) or 1 (big) on every
 *       H*W*C-byte frame of frames.u8; out.i32 gets
 *       num_outputs little-endian int32 per frame, dump.bin every layer's output bytes per frame
 *       (docs/hil-protocol.md, "Host batch mode"). Outputs are written atomically.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ea_app.h"
#include "ea_link_host.h"

static FILE *layer_dump;
static int layer_dump_failed;

static int fail(const char *what, const char *name)
{
    fprintf(stderr, "edgeadapt-host: error: %s%s%s\n", what, name ? ": " : "", name ? name : "");
    return 2;
}

static void dump_layer(int m, int layer, const int8_t *out, uint32_t bytes)
{
    (void)m;
    (void)layer;
    if (fwrite(out, 1, bytes, layer_dump) != bytes)
        layer_dump_failed = 1;
}

/* Open path.tmp for writing; the caller renames it over path once everything is written. */
static FILE *open_tmp(const char *path, char *tmp, size_t tmp_size)
{
    if ((size_t)snprintf(tmp, tmp_size, "%s.tmp", path) >= tmp_size)
        return 0;
    return fopen(tmp, "wb");
}

static int infer_batch(int m, const char *frames_path, const char *out_path, const char *dump_path)
{
    static uint8_t frame[EA_FRAME_BYTES];
    char out_tmp[4096], dump_tmp[4096];
    FILE *frames, *out;
    long size;
    uint64_t total_cycles = 0;
    uint32_t count = 0;
    int status = 0;

    frames = fopen(frames_path, "rb");
    if (!frames)
        return fail("cannot read frames file", frames_path);
    if (fseek(frames, 0, SEEK_END) != 0 || (size = ftell(frames)) < 0 || fseek(frames, 0, SEEK_SET) != 0) {
        fclose(frames);
        return fail("cannot size frames file", frames_path);
    }
    if (size == 0 || size % (long)EA_FRAME_BYTES) {
        fclose(frames);
        fprintf(stderr, "edgeadapt-host: error: %s: %ld bytes is not a whole number of %u-byte frames\n",
                frames_path, size, (unsigned)EA_FRAME_BYTES);
        return 2;
    }
    out = open_tmp(out_path, out_tmp, sizeof out_tmp);
    if (!out) {
        fclose(frames);
        return fail("cannot write outputs file", out_path);
    }
    if (dump_path) {
        layer_dump = open_tmp(dump_path, dump_tmp, sizeof dump_tmp);
        if (!layer_dump) {
            fclose(frames);
            fclose(out);
            remove(out_tmp);
            return fail("cannot write layer dump", dump_path);
        }
        ea_app_set_layer_sink(dump_layer);
    }
    while (fread(frame, 1, EA_FRAME_BYTES, frames) == EA_FRAME_BYTES) {
        int32_t outputs[EA_MAX_OUTPUTS];
        uint8_t le[4 * EA_MAX_OUTPUTS];
        uint64_t cycles;
        uint32_t n = ea_models[m].num_outputs;
        status = ea_app_run_model(m, frame, outputs, &cycles);
        if (status != 0) {
            fprintf(stderr, "edgeadapt-host: error: model %d failed with status %d on frame %u\n", m,
                    status, (unsigned)count);
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)outputs[i];
            le[4 * i] = (uint8_t)v;
            le[4 * i + 1] = (uint8_t)(v >> 8);
            le[4 * i + 2] = (uint8_t)(v >> 16);
            le[4 * i + 3] = (uint8_t)(v >> 24);
        }
        if (fwrite(le, 4, n, out) != n) {
            status = 1;
            fprintf(stderr, "edgeadapt-host: error: %s: write failed\n", out_path);
            break;
        }
        total_cycles += cycles;
        count++;
    }
    fclose(frames);
    ea_app_set_layer_sink(0);
    if (fclose(out) != 0)
        status = status ? status : 1;
    if (layer_dump && (fclose(layer_dump) != 0 || layer_dump_failed))
        status = status ? status : fail("layer dump write failed", dump_path);
    if (status != 0) {
        remove(out_tmp);
        if (dump_path)
            remove(dump_tmp);
        return 2;
    }
    if (rename(out_tmp, out_path) != 0 || (dump_path && rename(dump_tmp, dump_path) != 0))
        return fail("cannot rename outputs into place", out_path);
    printf("model %d (%s): %u frames, mean %llu ns per frame\n", m, ea_models[m].name,
           (unsigned)count, (unsigned long long)(total_cycles / count));
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: edgeadapt-host [--serial tcp:HOST:PORT]\n"
            "       edgeadapt-host --infer <0|1> <frames.u8> <out.i32> [--layers <dump.bin>]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return ea_app_main();
    if (strcmp(argv[1], "--serial") == 0 && argc == 3) {
        if (strcmp(argv[2], "stdio") != 0 && ea_link_open(argv[2]) != 0)
            return fail("cannot serve on", argv[2]);
        return ea_app_main();
    }
    if (strcmp(argv[1], "--infer") == 0 && (argc == 5 || (argc == 7 && strcmp(argv[5], "--layers") == 0))) {
        int m;
        if (strcmp(argv[2], "0") == 0)
            m = 0;
        else if (strcmp(argv[2], "1") == 0 && EA_NUM_MODELS == 2)
            m = 1;
        else
            return fail(EA_NUM_MODELS == 2 ? "model must be 0 (small) or 1 (big), got"
                                           : "model must be 0 (single-model export), got", argv[2]);
        ea_hal_init();
        ea_app_init();
        return infer_batch(m, argv[3], argv[4], argc == 7 ? argv[6] : 0);
    }
    return usage();
}
