#define _GNU_SOURCE /* dladdr */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "yaml_file.h"

enum { MAX_BASE_DEPTH = 4 };

static const char *const sections[] = {"input", "features", "prompts", "output", "amg", NULL};

static sam_status at(sam_error *err, const char *path, const yaml_node_t *n, const char *what, const char *detail)
{
    return sam_fail(err, SAM_ERR_FORMAT, "%s:%zu:%zu: %s%s%s", path, n->start_mark.line + 1, n->start_mark.column + 1, what, detail ? " " : "",
                    detail ? detail : "");
}

static const char *scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static sam_status parse_param(yaml_document_t *doc, const char *path, const char *key, const yaml_node_t *v, sam_params *p, sam_error *err)
{
    if (v->type == YAML_SCALAR_NODE) {
        sam_value val;
        if (sam_resolve_scalar(scalar(v), p, &val, err)) {
            char cause[sizeof err->msg];
            memcpy(cause, err->msg, sizeof cause);
            return at(err, path, v, "bad parameter value:", cause);
        }
        return sam_params_set(p, key, &val, err);
    }
    if (v->type != YAML_SEQUENCE_NODE) return at(err, path, v, "a parameter must be a number, a string or a list of integers", NULL);
    int64_t items[SAM_VALUE_LIST_MAX];
    int n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(doc, *it);
        sam_value val;
        if (n >= SAM_VALUE_LIST_MAX) return at(err, path, v, "list too long", NULL);
        if (!e || e->type != YAML_SCALAR_NODE || sam_resolve_scalar(scalar(e), p, &val, err) || val.type != SAM_VAL_INT)
            return at(err, path, e ? e : v, "expected an integer in the list", NULL);
        items[n++] = val.i;
    }
    return sam_params_set_list(p, key, items, n, err);
}

/* A section's entry, kept as written: its $(...) may need parameters a derived config
 * or the blob gives later. */
static sam_status add_entry(sam_config *cfg, yaml_document_t *doc, const char *path, const char *section, const yaml_node_t *k,
                            const yaml_node_t *v, sam_error *err)
{
    char key[SAM_PARAM_NAME_MAX];
    if (!scalar(k) || snprintf(key, sizeof key, "%s.%s", section, scalar(k)) >= (int)sizeof key) return at(err, path, k, "bad key in section", section);
    sam_config_entry *e = NULL;
    for (int i = 0; i < cfg->n_entries; i++)
        if (strcmp(cfg->entries[i].key, key) == 0) e = &cfg->entries[i];
    if (!e) {
        if (cfg->n_entries >= SAM_CONFIG_MAX_ENTRIES) return at(err, path, k, "too many entries in the config's sections", NULL);
        e = &cfg->entries[cfg->n_entries++];
    }
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->line = (int)v->start_mark.line + 1;
    if (v->type == YAML_SCALAR_NODE) {
        if (strlen(scalar(v)) >= sizeof e->raw) return at(err, path, v, "value too long", NULL);
        snprintf(e->raw, sizeof e->raw, "%s", scalar(v));
        return SAM_OK;
    }
    if (v->type != YAML_SEQUENCE_NODE) return at(err, path, v, "a section entry must be a scalar or a list of scalars", NULL);
    e->is_list = 1;
    size_t used = 0;
    int count = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (!item || !scalar(item)) return at(err, path, item ? item : v, "expected a scalar in the list", NULL);
        size_t n = strlen(scalar(item));
        if (++count > SAM_VALUE_LIST_MAX || used + n + 2 > sizeof e->raw) return at(err, path, v, "list too long", NULL);
        if (used) e->raw[used++] = '\x1f';
        memcpy(e->raw + used, scalar(item), n);
        used += n;
        e->raw[used] = 0;
    }
    return SAM_OK;
}

static sam_status load(const char *path, sam_config *cfg, int depth, sam_error *err);

static sam_status parse_config(yaml_document_t *doc, const char *path, sam_config *cfg, int depth, sam_error *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE) return sam_fail(err, SAM_ERR_FORMAT, "%s: a config must be a mapping (family, variant, graphs, params, ...)", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    /* the base first, wherever it is written, so that this file overrides it */
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
        if (!k || !v || !scalar(k) || strcmp(scalar(k), "base") != 0) continue;
        if (!scalar(v)) return at(err, path, v, "'base' must be a file name", NULL);
        if (depth >= MAX_BASE_DEPTH) return at(err, path, v, "configs extend each other too deeply", NULL);
        char base[8192];
        snprintf(base, sizeof base, "%s%s", scalar(v)[0] == '/' ? "" : dir, scalar(v));
        sam_status st = load(base, cfg, depth + 1, err);
        if (st) return sam_fail_context(err, "%s:%zu: base", path, v->start_mark.line + 1);
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
        if (!k || !v) return sam_fail(err, SAM_ERR_FORMAT, "%s: malformed mapping", path);
        const char *key = scalar(k) ? scalar(k) : "";
        int section = -1;
        for (int i = 0; sections[i]; i++)
            if (strcmp(key, sections[i]) == 0) section = i;
        if (strcmp(key, "base") == 0) continue;
        if ((strcmp(key, "variant") == 0 || strcmp(key, "family") == 0) && scalar(v)) {
            if (key[0] == 'v') snprintf(cfg->variant, sizeof cfg->variant, "%s", scalar(v));
            else snprintf(cfg->family, sizeof cfg->family, "%s", scalar(v));
        } else if ((strcmp(key, "graphs") == 0 || strcmp(key, "params") == 0 || section >= 0) && v->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *gk = yaml_document_get_node(doc, q->key), *gv = yaml_document_get_node(doc, q->value);
                if (!gk || !gv || !scalar(gk)) return at(err, path, gk ? gk : v, "keys must be scalars", NULL);
                sam_status st;
                if (section >= 0) {
                    if ((st = add_entry(cfg, doc, path, key, gk, gv, err))) return st;
                    continue;
                }
                if (key[0] == 'p') {
                    if ((st = parse_param(doc, path, scalar(gk), gv, &cfg->params, err))) return st;
                    continue;
                }
                if (!scalar(gv)) return at(err, path, gv, "a graph must be a file name", NULL);
                int slot = cfg->n_graphs;
                for (int i = 0; i < cfg->n_graphs; i++)
                    if (strcmp(cfg->graph_names[i], scalar(gk)) == 0) slot = i; /* a derived config replaces a graph */
                if (slot >= SAM_CONFIG_MAX_GRAPHS) return at(err, path, gk, "too many graphs", NULL);
                const char *file = scalar(gv);
                snprintf(cfg->graph_names[slot], sizeof cfg->graph_names[0], "%s", scalar(gk));
                snprintf(cfg->graph_paths[slot], sizeof cfg->graph_paths[0], "%s%s", file[0] == '/' ? "" : dir, file);
                if (slot == cfg->n_graphs) cfg->n_graphs++;
            }
        } else {
            return at(err, path, k, "unknown or malformed key in config (expected base, family, variant, graphs, params, input, features, prompts, output, amg):",
                      key);
        }
    }
    return SAM_OK;
}

static sam_status load(const char *path, sam_config *cfg, int depth, sam_error *err)
{
    yaml_document_t doc;
    sam_status st = sam_yaml_load_file(path, "config", &doc, err);
    if (st) return st;
    st = parse_config(&doc, path, cfg, depth, err);
    yaml_document_delete(&doc);
    return st;
}

sam_status sam_config_load(const char *path, sam_config *cfg, sam_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    sam_status st = load(path, cfg, 0, err);
    if (st) return st;
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    if (!cfg->family[0]) return sam_fail(err, SAM_ERR_FORMAT, "%s: the config (or its base) does not name its 'family'", path);
    return SAM_OK;
}

sam_status sam_config_resolve(sam_config *cfg, sam_error *err)
{
    memset(&cfg->task, 0, sizeof cfg->task);
    for (int i = 0; i < cfg->n_entries; i++) {
        const sam_config_entry *e = &cfg->entries[i];
        sam_value v;
        sam_status st;
        if (!e->is_list) {
            if (sam_resolve_scalar(e->raw, &cfg->params, &v, err) || sam_params_set(&cfg->task, e->key, &v, err))
                return sam_fail_context(err, "%s:%d: %s", cfg->path, e->line, e->key);
            continue;
        }
        if (!e->raw[0]) { /* [] */
            if ((st = sam_params_set_list(&cfg->task, e->key, NULL, 0, err))) return st;
            continue;
        }
        /* a list of numbers: integers when every item is one, else reals */
        double reals[SAM_VALUE_LIST_MAX];
        int64_t ints[SAM_VALUE_LIST_MAX];
        int n = 0, all_int = 1;
        char item[SAM_VALUE_STR_MAX];
        for (const char *s = e->raw;;) {
            const char *sep = strchr(s, '\x1f');
            size_t len = sep ? (size_t)(sep - s) : strlen(s);
            snprintf(item, sizeof item, "%.*s", (int)len, s);
            if (sam_resolve_scalar(item, &cfg->params, &v, err)) return sam_fail_context(err, "%s:%d: %s", cfg->path, e->line, e->key);
            if (!sam_value_as_double(&v, &reals[n])) return sam_fail(err, SAM_ERR_FORMAT, "%s:%d: %s: list items must be numbers", cfg->path, e->line, e->key);
            all_int &= v.type == SAM_VAL_INT;
            ints[n++] = v.i;
            if (!sep) break;
            s = sep + 1;
        }
        st = all_int ? sam_params_set_list(&cfg->task, e->key, ints, n, err) : sam_params_set_reals(&cfg->task, e->key, reals, n, err);
        if (st) return st;
    }
    return SAM_OK;
}

const char *sam_config_graph(const sam_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_graphs; i++)
        if (strcmp(cfg->graph_names[i], name) == 0) return cfg->graph_paths[i];
    return NULL;
}

static int has_configs(const char *dir)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/configs", dir);
    return access(probe, R_OK | X_OK) == 0;
}

const char *sam_default_graph_dir(void)
{
    static char beside[PATH_MAX];
    const char *env = getenv("SAMRT_GRAPH_DIR");
    if (env && *env) return env;
    /* the shared library's own file, or the program the static library is linked into */
    char self[PATH_MAX] = "";
    Dl_info info;
    if (dladdr((void *)sam_default_graph_dir, &info) && info.dli_fname && strchr(info.dli_fname, '/'))
        snprintf(self, sizeof self, "%s", info.dli_fname);
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = 0;
        }
        char *slash = strrchr(self, '/');
        if (!slash) continue;
        *slash = 0;
        snprintf(beside, sizeof beside, "%s/../share/sam-rt/graphs", self);
        if (has_configs(beside)) return beside;
    }
#ifdef SAMRT_SOURCE_GRAPH_DIR
    if (has_configs(SAMRT_SOURCE_GRAPH_DIR)) return SAMRT_SOURCE_GRAPH_DIR;
#endif
#ifdef SAMRT_INSTALL_GRAPH_DIR
    if (has_configs(SAMRT_INSTALL_GRAPH_DIR)) return SAMRT_INSTALL_GRAPH_DIR;
#endif
    return NULL;
}
