#include "overlay.h"

#include "tool_common.h"

#include <string.h>

void overlay_color(int i, uint8_t rgb[3])
{
    /* golden-angle hues at full saturation: neighbours differ, any count works */
    double h = (i * 0.618033988749895);
    h -= (int)h;
    double r = 0, g = 0, b = 0, x = h * 6;
    int sector = (int)x;
    double f = x - sector;
    switch (sector % 6) {
    case 0: r = 1, g = f, b = 0; break;
    case 1: r = 1 - f, g = 1, b = 0; break;
    case 2: r = 0, g = 1, b = f; break;
    case 3: r = 0, g = 1 - f, b = 1; break;
    case 4: r = f, g = 0, b = 1; break;
    default: r = 1, g = 0, b = 1 - f; break;
    }
    rgb[0] = (uint8_t)(40 + 215 * r);
    rgb[1] = (uint8_t)(40 + 215 * g);
    rgb[2] = (uint8_t)(40 + 215 * b);
}

void overlay_add_mask(uint8_t *out, int w, int h, const uint8_t *mask, int color)
{
    uint8_t c[3];
    overlay_color(color, c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!mask[i]) continue;
            int edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - (size_t)w] || !mask[i + (size_t)w];
            for (int k = 0; k < 3; k++) out[i * 3 + k] = edge ? c[k] : (uint8_t)((out[i * 3 + k] + c[k]) / 2);
        }
}

static void put(uint8_t *out, int w, int h, int x, int y, const uint8_t c[3])
{
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    memcpy(out + ((size_t)y * w + x) * 3, c, 3);
}

static void disc(uint8_t *out, int w, int h, int cx, int cy, int r, const uint8_t c[3])
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r) put(out, w, h, cx + dx, cy + dy, c);
}

void overlay_prompts(uint8_t *out, int w, int h, const sam_prompt *prompts, int n)
{
    static const uint8_t white[3] = {255, 255, 255}, green[3] = {40, 220, 60}, red[3] = {230, 40, 40};
    int r = (w > h ? w : h) / 150 + 3, t = r / 3 + 1;
    for (int i = 0; i < n; i++) {
        const sam_prompt *q = &prompts[i];
        if (q->has_box) {
            uint8_t c[3];
            overlay_color(i, c);
            int x0 = (int)q->box[0], y0 = (int)q->box[1], x1 = (int)q->box[2], y1 = (int)q->box[3];
            for (int k = -t; k <= t; k++) {
                for (int x = x0 - t; x <= x1 + t; x++) {
                    put(out, w, h, x, y0 + k, k == -t || k == t ? white : c);
                    put(out, w, h, x, y1 + k, k == -t || k == t ? white : c);
                }
                for (int y = y0 - t; y <= y1 + t; y++) {
                    put(out, w, h, x0 + k, y, k == -t || k == t ? white : c);
                    put(out, w, h, x1 + k, y, k == -t || k == t ? white : c);
                }
            }
        }
        for (int k = 0; k < q->n_points; k++) {
            int x = (int)q->points[2 * k], y = (int)q->points[2 * k + 1];
            disc(out, w, h, x, y, r + 2, white);
            disc(out, w, h, x, y, r, q->labels[k] ? green : red);
        }
    }
}
