#include "point_grids.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tool_common.h"

void point_grids_free(point_grids *g)
{
    for (int i = 0; i < g->n; i++) free(g->grids[i]);
    memset(g, 0, sizeof *g);
}

sam_status point_grids_from_json(const json_t *root, const char *what, point_grids *g, sam_error *err)
{
    memset(g, 0, sizeof *g);
    size_t n_layers = json_array_size(root);
    if (!json_is_array(root) || n_layers < 1 || n_layers > POINT_GRIDS_MAX_LAYERS)
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: expected a list (one per crop layer, at most %d) of lists of [x, y] in [0, 1]", what,
                         POINT_GRIDS_MAX_LAYERS);
    sam_status st = SAM_OK;
    for (size_t l = 0; l < n_layers && st == SAM_OK; l++) {
        const json_t *layer = json_array_get(root, l);
        size_t n = json_array_size(layer);
        if (!json_is_array(layer) || n < 1 || n > POINT_GRIDS_MAX_POINTS) {
            st = tool_fail(err, SAM_ERR_INVALID_ARG, "%s: layer %zu must be a list of 1 to 2^18 points", what, l);
            break;
        }
        if (!(g->grids[l] = malloc(sizeof(double) * 2 * n))) {
            st = tool_fail(err, SAM_ERR_NOMEM, "out of memory");
            break;
        }
        g->sizes[l] = (int)n;
        g->n = (int)l + 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *pt = json_array_get(layer, i);
            double x = -1, y = -1;
            int ok = json_is_array(pt) && json_array_size(pt) == 2 && tool_json_number(json_array_get(pt, 0), &x) && tool_json_number(json_array_get(pt, 1), &y);
            if (!ok || !(x >= 0 && x <= 1 && y >= 0 && y <= 1)) {
                st = tool_fail(err, SAM_ERR_INVALID_ARG, "%s: layer %zu, point %zu: a point must be [x, y] with both in [0, 1]", what, l, i);
                break;
            }
            g->grids[l][2 * i] = x;
            g->grids[l][2 * i + 1] = y;
        }
    }
    if (st) point_grids_free(g);
    return st;
}

sam_status point_grids_load(const char *path, point_grids *g, sam_error *err)
{
    json_t *root;
    char what[4200];
    snprintf(what, sizeof what, "--point-grids %s", path);
    memset(g, 0, sizeof *g);
    sam_status st = tool_json_load_file(path, &root, err);
    if (st) {
        char cause[sizeof err->msg];
        memcpy(cause, err->msg, sizeof cause);
        return tool_fail(err, st, "--point-grids: %s", cause);
    }
    st = point_grids_from_json(root, what, g, err);
    json_decref(root);
    return st;
}
