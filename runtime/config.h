/* A model's config (graphs/configs/<name>.yaml): its family and variant, the graphs that
 * make it, the parameters those graphs read, and the sections that say how the model is
 * fed and read (input, features, prompts, output, amg), which the task layer interprets.
 * A config may extend another (`base: sam.yaml`): the family's file holds what its
 * variants share, a variant's file its hyper-parameters. */
#ifndef SAMRT_CONFIG_H
#define SAMRT_CONFIG_H

#include "params.h"

#define SAM_CONFIG_MAX_GRAPHS 8
#define SAM_CONFIG_MAX_ENTRIES 64

/* A section entry as written (resolved against the final parameters later). */
typedef struct sam_config_entry {
    char key[SAM_PARAM_NAME_MAX]; /* "section.name" */
    char raw[SAM_VALUE_STR_MAX];  /* the scalar, or list items separated by '\x1f' */
    int is_list, line;
} sam_config_entry;

typedef struct sam_config {
    char family[32];
    char variant[SAM_VALUE_STR_MAX];
    char path[4096]; /* the file loaded (the most derived one), for messages */
    int n_graphs;
    char graph_names[SAM_CONFIG_MAX_GRAPHS][64];
    char graph_paths[SAM_CONFIG_MAX_GRAPHS][4096]; /* resolved against the folder of the file naming them */
    sam_params params;
    int n_entries;
    sam_config_entry entries[SAM_CONFIG_MAX_ENTRIES];
    sam_params task; /* the sections, resolved by sam_config_resolve */
} sam_config;

sam_status sam_config_load(const char *path, sam_config *cfg, sam_error *err);
/* Resolves the sections' $(...) against the parameters (call once they are complete). */
sam_status sam_config_resolve(sam_config *cfg, sam_error *err);

/* Path of the named graph (e.g. "image_encoder"), or NULL. */
const char *sam_config_graph(const sam_config *cfg, const char *name);

/* Where graphs/ is: $SAMRT_GRAPH_DIR, else share/sam-rt/graphs beside the library (or the
 * program it is linked into), else the source tree the library was built from, else the
 * install prefix it was configured for. NULL when none has configs/. */
const char *sam_default_graph_dir(void);

#endif
