/* A variant's config: its name, the graphs that make the model, and the parameters
 * those graphs read (graphs/configs/vit_b.yaml and friends). */
#ifndef SAMRT_CONFIG_H
#define SAMRT_CONFIG_H

#include "model.h"
#include "params.h"

#define SAM_CONFIG_MAX_GRAPHS 8

typedef struct sam_config {
    char variant[SAM_VALUE_STR_MAX];
    int n_graphs;
    char graph_names[SAM_CONFIG_MAX_GRAPHS][64];
    char graph_paths[SAM_CONFIG_MAX_GRAPHS][4096]; /* resolved against the config's folder */
    sam_params params;
} sam_config;

sam_status sam_config_load(const char *path, sam_config *cfg, sam_error *err);

/* The config for a model: `path` if given, else <graph_dir>/configs/<variant>.yaml, else
 * one made from the blob's own hyper-parameters with the graphs in graph_dir. Checks
 * that config and blob agree on every parameter both give, then adds the blob's. */
sam_status sam_config_for_model(const sam_model *model, const char *path, const char *graph_dir, sam_config *cfg,
                                sam_error *err);

/* Path of the named graph (e.g. "image_encoder"), or NULL. */
const char *sam_config_graph(const sam_config *cfg, const char *name);

#endif
