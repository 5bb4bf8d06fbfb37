/*
 * ea_resize_nearest_s8 - nearest-neighbour upsampling by integer factors, docs/fixed-point.md 4.9.
 *
 * out[y][x][c] = in[y / scale_h][x / scale_w][c] (integer division); FL and type unchanged, the
 * bytes are copied whatever their type.
 *   input   int8 or uint8 [in_h][in_w][channels]
 *   output  [in_h * scale_h][in_w * scale_w][channels]; output rows split by ea_split(out_h)
 *   scratch none
 */
#include "ea_kernel_checks.h"

ea_status_t ea_resize_nearest_s8(const ea_ctx_t *ctx, const ea_resize_params_t *p, const int8_t *input,
                                 int8_t *output)
{
    int32_t y0, y1, y, x, c;
    EA_CHECK_ARGS((p == NULL || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->scale_h < 1 || p->scale_w < 1)
                      ? EA_ERR_ARG : EA_OK);
    {
        const int32_t ch = p->channels, out_w = p->in_w * p->scale_w;
        ea_split(p->in_h * p->scale_h, ctx, &y0, &y1);
        for (y = y0; y < y1; y++) {
            const int8_t *row = input + (y / p->scale_h) * p->in_w * ch;
            int8_t *o = output + y * out_w * ch;
            for (x = 0; x < out_w; x++, o += ch) {
                const int8_t *v = row + (x / p->scale_w) * ch;
                for (c = 0; c < ch; c++)
                    o[c] = v[c];
            }
        }
    }
    return EA_OK;
}
