#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "yaml_file.h"

static sam_status at(sam_error *err, const char *path, const yaml_node_t *n, const char *what, const char *detail)
{
    return sam_fail(err, SAM_ERR_FORMAT, "%s:%zu:%zu: %s%s%s", path, n->start_mark.line + 1, n->start_mark.column + 1, what,
                    detail ? " " : "", detail ? detail : "");
}

static sam_status parse_param(yaml_document_t *doc, const char *path, const char *key, const yaml_node_t *v, sam_params *p, sam_error *err)
{
    if (v->type == YAML_SCALAR_NODE) {
        sam_value val;
        if (sam_resolve_scalar((const char *)v->data.scalar.value, p, &val, err)) return at(err, path, v, "bad parameter value:", err->msg);
        return sam_params_set(p, key, &val, err);
    }
    if (v->type != YAML_SEQUENCE_NODE) return at(err, path, v, "a parameter must be a number, a string or a list of integers", NULL);
    int64_t items[SAM_VALUE_LIST_MAX];
    int n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(doc, *it);
        sam_value val;
        if (n >= SAM_VALUE_LIST_MAX) return at(err, path, v, "list too long", NULL);
        if (e->type != YAML_SCALAR_NODE || sam_resolve_scalar((const char *)e->data.scalar.value, p, &val, err) || val.type != SAM_VAL_INT)
            return at(err, path, e, "expected an integer in the list", NULL);
        items[n++] = val.i;
    }
    return sam_params_set_list(p, key, items, n, err);
}

static sam_status parse_config(yaml_document_t *doc, const char *path, sam_config *cfg, sam_error *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE) return sam_fail(err, SAM_ERR_FORMAT, "%s: a config must be a mapping with variant, graphs and params", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        if (strcmp(key, "variant") == 0 && v->type == YAML_SCALAR_NODE) {
            snprintf(cfg->variant, sizeof cfg->variant, "%s", (const char *)v->data.scalar.value);
        } else if ((strcmp(key, "graphs") == 0 || strcmp(key, "params") == 0) && v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *gk = yaml_document_get_node(doc, q->key), *gv = yaml_document_get_node(doc, q->value);
                if (gk->type != YAML_SCALAR_NODE) return at(err, path, gk, "keys must be scalars", NULL);
                const char *name = (const char *)gk->data.scalar.value;
                if (key[0] == 'p') {
                    sam_status st = parse_param(doc, path, name, gv, &cfg->params, err);
                    if (st) return st;
                    continue;
                }
                if (gv->type != YAML_SCALAR_NODE) return at(err, path, gv, "a graph must be a file name", NULL);
                if (cfg->n_graphs >= SAM_CONFIG_MAX_GRAPHS) return at(err, path, gk, "too many graphs", NULL);
                const char *file = (const char *)gv->data.scalar.value;
                snprintf(cfg->graph_names[cfg->n_graphs], sizeof cfg->graph_names[0], "%s", name);
                snprintf(cfg->graph_paths[cfg->n_graphs], sizeof cfg->graph_paths[0], "%s%s", file[0] == '/' ? "" : dir, file);
                cfg->n_graphs++;
            }
        } else {
            return at(err, path, k, "unknown or malformed key in config:", key);
        }
    }
    if (!cfg->variant[0]) return sam_fail(err, SAM_ERR_FORMAT, "%s: the config does not name its 'variant'", path);
    return SAM_OK;
}

sam_status sam_config_load(const char *path, sam_config *cfg, sam_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    yaml_document_t doc;
    sam_status st = sam_yaml_load_file(path, "config", &doc, err);
    if (st) return st;
    st = parse_config(&doc, path, cfg, err);
    yaml_document_delete(&doc);
    return st;
}

const char *sam_config_graph(const sam_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_graphs; i++)
        if (strcmp(cfg->graph_names[i], name) == 0) return cfg->graph_paths[i];
    return NULL;
}

sam_status sam_config_for_model(const sam_model *model, const char *path, const char *graph_dir, sam_config *cfg, sam_error *err)
{
    const sam_value *variant = sam_params_get(&model->meta, "variant");
    sam_status st;
    char guess[4096];
    if (!path && variant && variant->type == SAM_VAL_STR) {
        snprintf(guess, sizeof guess, "%s/configs/%s.yaml", graph_dir, variant->s);
        if (access(guess, R_OK) == 0) path = guess;
    }
    if (path) {
        if ((st = sam_config_load(path, cfg, err))) return st;
    } else {
        memset(cfg, 0, sizeof *cfg);
        snprintf(cfg->variant, sizeof cfg->variant, "%s", variant && variant->type == SAM_VAL_STR ? variant->s : "custom");
        static const char *const graphs[] = {"image_encoder", "prompt_encoder", "mask_decoder"};
        for (size_t i = 0; i < sizeof graphs / sizeof *graphs; i++) {
            snprintf(cfg->graph_names[i], sizeof cfg->graph_names[i], "%s", graphs[i]);
            snprintf(cfg->graph_paths[i], sizeof cfg->graph_paths[i], "%s/%s.yaml", graph_dir, graphs[i]);
            cfg->n_graphs++;
        }
    }
    for (int i = 0; i < model->meta.count; i++) {
        const char *key = model->meta.names[i];
        if (strcmp(key, "variant") == 0) continue;
        const sam_value *mine = sam_params_get(&cfg->params, key);
        if (mine && !sam_value_equal(mine, &model->meta.values[i])) {
            char a[128], b[128];
            sam_value_format(mine, a, sizeof a);
            sam_value_format(&model->meta.values[i], b, sizeof b);
            return sam_fail(err, SAM_ERR_INVALID_ARG, "config %s gives %s = %s, but model %s has %s = %s (a %s model): pick the matching --config",
                            path ? path : "(built in)", key, a, model->path, key, b, variant ? variant->s : "?");
        }
        if (!mine && (st = sam_params_set(&cfg->params, key, &model->meta.values[i], err))) return st;
    }
    return SAM_OK;
}
