#include "records.h"

#include <stdlib.h>

#include "json.h"
#include "tool_common.h"

uint64_t records_size_estimate(const sam_amg_result *r, int mode)
{
    uint64_t bytes = 2;
    for (int i = 0; i < r->n_masks; i++) {
        const sam_rle *s = &r->masks[i].segmentation;
        bytes += 200; /* area, bbox, scores, point, crop box */
        if (mode == OUTPUT_BINARY_MASK) bytes += (uint64_t)s->height * (uint64_t)s->width * 5;
        else bytes += (uint64_t)s->n_counts * (mode == OUTPUT_COCO_RLE ? 1 : 3);
    }
    return bytes;
}

sam_status records_check_size(const sam_amg_result *r, int mode, const char *what, sam_error *err)
{
    uint64_t bytes = records_size_estimate(r, mode);
    if (bytes <= RECORDS_MAX_BYTES) return SAM_OK;
    return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %d masks as %s would be %.1f GB of JSON (the limit is 1 GB); use --output-mode coco_rle (the default for JSON) or uncompressed_rle",
                     what, r->n_masks, mode == OUTPUT_BINARY_MASK ? "boolean arrays (binary_mask)" : "RLE", (double)bytes / 1e9);
}

static void write_segmentation(FILE *f, const sam_amg_mask *m, int mode, uint8_t *buf)
{
    const sam_rle *r = &m->segmentation;
    if (mode == OUTPUT_COCO_RLE) {
        char *s = sam_rle_to_coco(r);
        fprintf(f, "{\"size\": [%d, %d], \"counts\": ", r->height, r->width);
        tool_json_put_rle_counts(f, s ? s : "");
        fprintf(f, "}");
        free(s);
    } else if (mode == OUTPUT_UNCOMPRESSED_RLE) {
        fprintf(f, "{\"size\": [%d, %d], \"counts\": [", r->height, r->width);
        for (int i = 0; i < r->n_counts; i++) fprintf(f, "%s%u", i ? ", " : "", r->counts[i]);
        fprintf(f, "]}");
    } else {
        sam_rle_decode(r, buf);
        fputc('[', f);
        for (int y = 0; y < r->height; y++) {
            fputs(y ? ",\n [" : "[", f);
            for (int x = 0; x < r->width; x++) fputs(x ? (buf[(size_t)y * r->width + x] ? ",true" : ",false") : (buf[(size_t)y * r->width] ? "true" : "false"), f);
            fputc(']', f);
        }
        fputc(']', f);
    }
}

void records_write(FILE *f, const sam_amg_result *r, int mode, uint8_t *buf)
{
    fprintf(f, "[");
    for (int i = 0; i < r->n_masks; i++) {
        const sam_amg_mask *m = &r->masks[i];
        fprintf(f, "%s\n{\"segmentation\": ", i ? "," : "");
        write_segmentation(f, m, mode, buf);
        fprintf(f, ", \"area\": %lld, \"bbox\": [%d, %d, %d, %d], \"predicted_iou\": %.9g, \"point_coords\": [[%.10g, %.10g]], \"stability_score\": %.9g, \"crop_box\": [%d, %d, %d, %d]}",
                (long long)m->area, m->bbox[0], m->bbox[1], m->bbox[2], m->bbox[3], m->predicted_iou, m->point_coords[0], m->point_coords[1],
                m->stability_score, m->crop_box[0], m->crop_box[1], m->crop_box[2], m->crop_box[3]);
    }
    fprintf(f, "\n]\n");
}
