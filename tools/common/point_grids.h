/* --point-grids: the generator's own points, as SamAutomaticMaskGenerator's point_grids
 * argument takes them: a JSON list, one per crop layer, of [x, y] lists normalized to
 * [0, 1]. */
#ifndef SAMRT_POINT_GRIDS_H
#define SAMRT_POINT_GRIDS_H

#include <jansson.h>

#include "samrt.h"

#define POINT_GRIDS_MAX_LAYERS 8
#define POINT_GRIDS_MAX_POINTS (1 << 18)

typedef struct point_grids {
    int n;
    int sizes[POINT_GRIDS_MAX_LAYERS];
    double *grids[POINT_GRIDS_MAX_LAYERS]; /* x, y pairs */
} point_grids;

/* `what` names the source in messages ("--point-grids FILE"). On failure g is empty. */
sam_status point_grids_from_json(const json_t *root, const char *what, point_grids *g, sam_error *err);
sam_status point_grids_load(const char *path, point_grids *g, sam_error *err);
void point_grids_free(point_grids *g);

#endif
