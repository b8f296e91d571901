/* Opening a model: the blob, then its config (the one given, else the variant's, else the
 * family's with the blob's hyper-parameters), checked against the blob. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph_load.h"
#include "model.h"

sam_model_params sam_model_default_params(void)
{
    return (sam_model_params){0};
}

/* Every parameter both give must agree; the blob's others complete the config. */
static sam_status merge_blob_params(const sam_model *m, sam_config *cfg, sam_error *err)
{
    if (strcmp(cfg->family, m->family) != 0)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "config %s is for family '%s', but model %s is a '%s' model (%s): pick the matching --config", cfg->path,
                        cfg->family, m->path, m->family, m->variant);
    for (int i = 0; i < m->meta.count; i++) {
        const char *key = m->meta.names[i];
        if (strcmp(key, "variant") == 0 || strcmp(key, "family") == 0 || strcmp(key, "random_seed") == 0) continue;
        const sam_value *mine = sam_params_get(&cfg->params, key);
        if (mine && !sam_value_equal(mine, &m->meta.values[i])) {
            char a[128], b[128];
            sam_value_format(mine, a, sizeof a);
            sam_value_format(&m->meta.values[i], b, sizeof b);
            return sam_fail(err, SAM_ERR_INVALID_ARG, "config %s gives %s = %s, but model %s has %s = %s (a %s model): pick the matching --config", cfg->path,
                            key, a, m->path, key, b, m->variant);
        }
        sam_status st;
        if (!mine && (st = sam_params_set(&cfg->params, key, &m->meta.values[i], err))) return st;
    }
    if (!cfg->variant[0] || strcmp(cfg->variant, "custom") == 0) snprintf(cfg->variant, sizeof cfg->variant, "%s", m->variant);
    return SAM_OK;
}

static sam_status find_config(sam_model *m, const sam_model_params *p, sam_config *cfg, sam_error *err)
{
    const char *path = p->config_path;
    char guess[8192];
    if (!path) {
        const char *dir = p->graph_dir ? p->graph_dir : sam_default_graph_dir();
        if (!dir)
            return sam_fail(err, SAM_ERR_NOT_FOUND,
                            "cannot find sam-rt's graphs (share/sam-rt/graphs beside the library, or the source tree): set SAMRT_GRAPH_DIR");
        snprintf(guess, sizeof guess, "%s/configs/%s.yaml", dir, m->variant);
        if (access(guess, R_OK) != 0) {
            snprintf(guess, sizeof guess, "%s/configs/%s.yaml", dir, m->family);
            m->family_config = 1;
        }
        if (access(guess, R_OK) != 0)
            return sam_fail(err, SAM_ERR_NOT_FOUND, "%s: no config for variant '%s' or family '%s' in %s/configs", m->path, m->variant, m->family, dir);
        path = guess;
    }
    sam_status st = sam_config_load(path, cfg, err);
    if (st == SAM_OK) st = merge_blob_params(m, cfg, err);
    if (st == SAM_OK) st = sam_config_resolve(cfg, err);
    return st;
}

sam_status sam_model_open(const char *path, const sam_model_params *params, sam_model **out, sam_error *err)
{
    *out = NULL;
    sam_model_params p = params ? *params : sam_model_default_params();
    sam_model *m;
    sam_status st = sam_model_open_blob(path, &m, err);
    if (st) return st;
    if (!p.blob_only) {
        if (!(m->config = calloc(1, sizeof *m->config))) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        else st = find_config(m, &p, m->config, err);
    }
    if (st) {
        sam_model_free(m);
        return st;
    }
    *out = m;
    return SAM_OK;
}

const char *sam_model_family(const sam_model *m)
{
    return m->family;
}

const char *sam_model_variant(const sam_model *m)
{
    return m->config ? m->config->variant : m->variant;
}

const char *sam_model_path(const sam_model *m)
{
    return m->path;
}

int sam_model_n_tensors(const sam_model *m)
{
    return m->n_weights;
}

int64_t sam_model_weight_bytes(const sam_model *m)
{
    int64_t bytes = 0;
    for (int i = 0; i < m->n_weights; i++) bytes += (int64_t)m->weights[i].nbytes;
    return bytes;
}

static const char *const precision_names[] = {"f32", "bf16", "q8"};

const char *sam_precision_name(sam_weight_precision p)
{
    return (unsigned)p < 3 ? precision_names[p] : "?";
}

int sam_precision_parse(const char *s, sam_weight_precision *out)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, precision_names[i]) == 0) {
            *out = (sam_weight_precision)i;
            return 0;
        }
    return -1;
}

sam_weight_precision sam_model_precision(const sam_model *m)
{
    const sam_value *v = sam_params_get(&m->meta, "precision");
    sam_weight_precision p = SAM_PRECISION_F32;
    if (v && v->type == SAM_VAL_STR) sam_precision_parse(v->s, &p);
    return p;
}

int sam_model_meta(const sam_model *m, int i, const char **name, char *value, size_t cap)
{
    if (i < 0 || i >= m->meta.count) return 0;
    *name = m->meta.names[i];
    if (value && cap) sam_value_format(&m->meta.values[i], value, (int)cap);
    return 1;
}

sam_status sam_model_load_graph(const sam_model *m, const char *name, const sam_params *overrides, sam_graph **out, sam_error *err)
{
    *out = NULL;
    if (!m->config) return sam_fail(err, SAM_ERR_INVALID_ARG, "model %s was opened without its config", m->path);
    const char *path = strchr(name, '/') || strstr(name, ".yaml") ? name : sam_config_graph(m->config, name);
    if (!path) return sam_fail(err, SAM_ERR_NOT_FOUND, "the config of variant '%s' (%s) names no '%s' graph", m->config->variant, m->config->path, name);
    sam_params *p = malloc(sizeof *p);
    if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    *p = m->config->params;
    sam_status st = SAM_OK;
    for (int i = 0; overrides && i < overrides->count && st == SAM_OK; i++) st = sam_params_set(p, overrides->names[i], &overrides->values[i], err);
    if (st == SAM_OK) st = sam_graph_load_file(path, p, m, out, err);
    free(p);
    /* a model of a size no config names, whose blob does not give every hyper-parameter
     * (SAM 2's heads and windows are not in its tensors' shapes) */
    if (st == SAM_ERR_GRAPH && m->family_config)
        sam_fail_context(err, "%s is a '%s' model of variant '%s', which has no config of its own: give it one (--config); with the family's %s",
                         m->path, m->family, m->variant, m->config->path);
    return st;
}

sam_status sam_graph_load(const sam_model *m, const char *graph, const char *const *params, sam_graph **out, sam_error *err)
{
    *out = NULL;
    sam_params *p = calloc(1, sizeof *p);
    if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    sam_status st = SAM_OK;
    for (int i = 0; params && params[i] && st == SAM_OK; i++) {
        const char *eq = strchr(params[i], '=');
        char name[SAM_PARAM_NAME_MAX];
        sam_value v;
        if (!eq || eq == params[i] || (size_t)(eq - params[i]) >= sizeof name) {
            st = sam_fail(err, SAM_ERR_INVALID_ARG, "graph parameter '%s' is not NAME=VALUE", params[i]);
            break;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - params[i]), params[i]);
        if ((st = sam_resolve_scalar(eq + 1, p, &v, err)) || (st = sam_params_set(p, name, &v, err))) sam_fail_context(err, "parameter %s", name);
    }
    if (st == SAM_OK) st = sam_model_load_graph(m, graph, p, out, err);
    free(p);
    return st;
}
