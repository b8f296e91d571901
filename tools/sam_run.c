/* sam-run: runs a graph of a model on tensors from .npy files and saves the tensors asked
 * for. Without --graph the model's image encoder runs (found through its config). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool_common.h"

#define MAX_IO 32

typedef struct {
    char *name;
    const char *file;
} io_arg;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-run --model MODEL [--graph FILE] [--config FILE]\n"
            "               --input NAME=FILE.npy ... --output NAME=FILE.npy ...\n"
            "\n"
            "Runs a graph of a sam-rt model on tensors read from .npy files (float32, C order)\n"
            "and saves the named tensors, graph outputs or internal ones, as .npy.\n"
            "Example, the image encoder alone:\n"
            "  sam-run --model vit_b.samrt --input image=x.npy --output image_embeddings=e.npy\n"
            "\n"
            "options:\n"
            "  -m, --model FILE         weight blob made by sam-convert (required)\n"
            "  -g, --graph FILE         graph to run (default: the image encoder of the model's config)\n"
            "  -c, --config FILE        variant config (default: graphs/configs/<variant>.yaml)\n"
            "  -i, --input NAME=FILE    a graph input from a .npy file (repeatable)\n"
            "  -o, --output NAME=FILE   save a tensor after the run (repeatable)\n"
            "  -p, --param NAME=VALUE   set a graph parameter (e.g. batch=4 for the decoder graphs)\n"
            "  -t, --threads N          worker threads (default: one per CPU)\n"
            "      --profile            print per-op-type times after the run\n"
            "      --dump-plan          print the memory plan (tensor offsets, sizes, lifetimes)\n"
            "      --reference          use the plain reference kernels (slow; for checking)\n"
            "  -h, --help               this help\n"
            "      --version            print the version\n");
}

static int parse_io(const char *arg, const char *flag, io_arg *list, int *n)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "sam-run: %s needs NAME=FILE.npy, got '%s'\n", flag, arg);
        return 0;
    }
    if (*n >= MAX_IO) {
        fprintf(stderr, "sam-run: too many %s arguments (max %d)\n", flag, MAX_IO);
        return 0;
    }
    list[*n].name = strndup(arg, (size_t)(eq - arg));
    list[*n].file = eq + 1;
    if (!list[*n].name) return 0;
    (*n)++;
    return 1;
}

static void dump_plan(const sam_graph *g, const sam_plan *plan, FILE *f)
{
    fprintf(f, "memory plan of graph '%s': %d blocks, arena %.2f MiB (without reuse: %.2f MiB)\n", g->name, plan->n_blocks,
            (double)plan->arena_size / (1 << 20), (double)plan->naive_size / (1 << 20));
    fprintf(f, "%12s %12s %6s %6s  %s\n", "offset", "bytes", "first", "last", "tensor");
    for (int i = 0; i < plan->n_blocks; i++) {
        const sam_plan_block *b = &plan->blocks[i];
        char name[160];
        if (b->tensor >= 0) snprintf(name, sizeof name, "%s", g->tensors[b->tensor].name);
        else snprintf(name, sizeof name, "(workspace of node %d)", b->node);
        fprintf(f, "%12zu %12zu %6d %6d  %s\n", b->offset, b->size, b->first, b->last, name);
    }
}

int main(int argc, char **argv)
{
    enum { OPT_PROFILE = 256, OPT_REFERENCE, OPT_DUMP_PLAN, OPT_VERSION };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"graph", required_argument, 0, 'g'},   {"config", required_argument, 0, 'c'},
        {"input", required_argument, 0, 'i'},  {"output", required_argument, 0, 'o'},  {"threads", required_argument, 0, 't'},
        {"param", required_argument, 0, 'p'}, {"profile", no_argument, 0, OPT_PROFILE}, {"reference", no_argument, 0, OPT_REFERENCE},
        {"dump-plan", no_argument, 0, OPT_DUMP_PLAN}, {"help", no_argument, 0, 'h'},   {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0}};
    const char *model_path = NULL, *graph_path = NULL, *config_path = NULL;
    io_arg inputs[MAX_IO], outputs[MAX_IO], params[MAX_IO];
    int n_in = 0, n_out = 0, n_params = 0, c, rc = EXIT_USAGE;
    sam_session_options so = {0};
    int dump = 0;
    long long threads = 0;
    while ((c = getopt_long(argc, argv, "m:g:c:i:o:p:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'g': graph_path = optarg; break;
        case 'c': config_path = optarg; break;
        case 'i': if (!parse_io(optarg, "--input", inputs, &n_in)) goto out; break;
        case 'o': if (!parse_io(optarg, "--output", outputs, &n_out)) goto out; break;
        case 'p': if (!parse_io(optarg, "--param", params, &n_params)) goto out; break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &threads)) {
                fprintf(stderr, "sam-run: --threads needs an integer in 1..1024, got '%s'\n", optarg);
                goto out;
            }
            so.n_threads = (int)threads;
            break;
        case OPT_PROFILE: so.profile = 1; break;
        case OPT_REFERENCE: so.reference = 1; break;
        case OPT_DUMP_PLAN: dump = 1; break;
        case 'h': usage(stdout); rc = 0; goto out;
        case OPT_VERSION: printf("sam-run %s\n", SAMRT_VERSION); rc = 0; goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sam-run: unexpected argument '%s' (see --help)\n", argv[optind]);
        goto out;
    }
    if (!model_path) {
        fprintf(stderr, "sam-run: --model is required (see --help)\n");
        goto out;
    }
    if (n_out == 0) {
        fprintf(stderr, "sam-run: nothing to save: give --output NAME=FILE.npy\n");
        goto out;
    }

    rc = 1;
    sam_error err = {0};
    sam_model *model = NULL;
    sam_graph *graph = NULL;
    sam_session *sess = NULL;
    sam_config *cfg = calloc(1, sizeof *cfg);
    int written = 0;
    if (!cfg) {
        fprintf(stderr, "sam-run: out of memory\n");
        goto out;
    }
    sam_params *overrides = calloc(1, sizeof *overrides);
    for (int i = 0; overrides && i < n_params; i++) {
        sam_value v;
        if (sam_resolve_scalar(params[i].file, overrides, &v, &err) || sam_params_set(overrides, params[i].name, &v, &err)) {
            sam_fail_context(&err, "--param %s", params[i].name);
            free(overrides);
            goto fail;
        }
    }
    sam_status lst = overrides ? tool_load_graph(model_path, config_path, graph_path, "image_encoder", overrides, &model, cfg, &graph, &err)
                               : sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
    free(overrides);
    if (lst) goto fail;
    for (int i = 0; i < n_out; i++)
        if (sam_graph_keep(graph, outputs[i].name, &err)) goto fail;
    for (int k = 0; k < graph->n_inputs; k++) {
        const char *name = graph->tensors[graph->inputs[k]].name;
        int given = 0;
        for (int i = 0; i < n_in; i++) given |= strcmp(inputs[i].name, name) == 0;
        if (!given) {
            sam_fail(&err, SAM_ERR_INVALID_ARG, "graph '%s' needs input '%s': give --input %s=FILE.npy", graph->name, name, name);
            goto fail;
        }
    }
    if (sam_session_create(graph, &so, &sess, &err)) goto fail;
    if (dump) dump_plan(graph, &sess->plan, stdout);
    for (int i = 0; i < n_in; i++) {
        sam_array a;
        if (sam_npy_read(inputs[i].file, &a, &err)) goto fail;
        sam_status st = a.dtype == SAM_F32 ? sam_session_set_input(sess, inputs[i].name, a.data, a.ndim, a.shape, &err)
                                           : sam_fail(&err, SAM_ERR_INVALID_ARG, "%s: input must be float32", inputs[i].file);
        sam_array_free(&a);
        if (st) {
            sam_fail_context(&err, "--input %s=%s", inputs[i].name, inputs[i].file);
            goto fail;
        }
    }
    if (sam_session_run(sess, &err)) goto fail;
    for (int i = 0; i < n_out; i++) {
        const sam_tensor *t;
        if (sam_session_tensor(sess, outputs[i].name, &t, &err) ||
            sam_npy_write(outputs[i].file, SAM_F32, t->ndim, t->shape, t->data, &err))
            goto fail;
        written++;
    }
    fprintf(stderr, "sam-run: graph '%s' (%s) ran in %.3f s, %.1f GFLOP/s, activation arena %.1f MiB, peak RSS %.1f MiB\n", graph->name,
            cfg->variant, sess->run_seconds, sam_graph_flops(graph) / sess->run_seconds * 1e-9, (double)sess->plan.arena_size / (1 << 20),
            (double)tool_peak_rss() / (1 << 20));
    if (so.profile) sam_session_print_profile(sess, stderr);
    rc = 0;
    goto done;
fail:
    tool_error("sam-run", &err);
    for (int i = 0; i < written; i++) unlink(outputs[i].file); /* all outputs or none */
done:
    sam_session_free(sess);
    sam_graph_free(graph);
    sam_model_close(model);
    free(cfg);
out:
    for (int i = 0; i < n_in; i++) free(inputs[i].name);
    for (int i = 0; i < n_out; i++) free(outputs[i].name);
    for (int i = 0; i < n_params; i++) free(params[i].name);
    return rc;
}
