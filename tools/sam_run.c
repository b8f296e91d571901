/* sam-run: the main program. With --image it segments an image from prompts; with
 * --input/--output it runs any graph of a model on .npy tensors (the image encoder by
 * default), which is how graphs are debugged and checked. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ops/op.h"
#include "auto.h"
#include "segment.h"
#include "tool_common.h"

#define MAX_IO 32
#define SAM_LOW_RES 256 /* side of SAM's low-res mask logits */

typedef struct {
    char *name;
    const char *file;
} io_arg;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-run --model MODEL --image IMG [prompts] [outputs] [options]\n"
            "       sam-run --model MODEL --image IMG|DIR ... --auto [AMG options] (--out DIR | --json FILE)\n"
            "       sam-run --model MODEL [--graph FILE] --input NAME=FILE.npy ... --output NAME=FILE.npy ...\n"
            "\n"
            "Segment Anything on the CPU. The first form segments IMG (JPEG or PNG) from point and\n"
            "box prompts; the second segments everything (automatic mask generation); the third runs\n"
            "a graph of the model on .npy tensors (default: the image encoder, whose input is 'image'\n"
            "1x3x1024x1024 and output 'image_embeddings').\n"
            "\n"
            "prompts (coordinates in image pixels):\n"
            "  --point X,Y[,LABEL]      a point, label 1 foreground (default) or 0 background (repeatable)\n"
            "  --box X0,Y0,X1,Y1        a box\n"
            "  --mask-input FILE.npy    1x256x256 low-res logits of an earlier run (--save-logits)\n"
            "  --prompts FILE.json      several objects, decoded as one batch:\n"
            "                           [{\"points\": [[x,y],...], \"labels\": [...], \"box\": [x0,y0,x1,y1],\n"
            "                             \"mask_input\": \"file.npy\"}, ...] (all fields optional)\n"
            "  --multimask              3 masks per object (default 1)\n"
            "outputs:\n"
            "  --out DIR                one PNG per mask, overlay.png and result.json\n"
            "  --json FILE              the result JSON (per object and mask: iou, area, bbox, file)\n"
            "  --save-logits FILE.npy   low-res logits, objects x masks x 256 x 256 float32\n"
            "  --save-masks FILE.npy    masks at the image size, objects x masks x H x W uint8\n"
            "  --embedding FILE         reuse the image embedding from FILE when it was made for this\n"
            "                           image and model, else compute it and save it there\n"
            "  --input-size-percent P   segment a copy shrunk to P%% (masks still at the original size)\n"
            "automatic mask generation (--auto; options and defaults of SamAutomaticMaskGenerator):\n"
            "  --points-per-side N (32)  --points-per-batch N (64)  --pred-iou-thresh F (0.88)\n"
            "  --stability-score-thresh F (0.95)  --stability-score-offset F (1.0)\n"
            "  --box-nms-thresh F (0.7)  --crop-n-layers N (0)  --crop-nms-thresh F (0.7)\n"
            "  --crop-overlap-ratio F (0.3413)  --crop-n-points-downscale-factor N (1)\n"
            "  --min-mask-region-area N (0)  --output-mode binary_mask|uncompressed_rle|coco_rle\n"
            "  --point-grids FILE.json   your own normalized points, a list per crop layer\n"
            "  --image may repeat or name a directory; --out DIR then gets a folder per image with\n"
            "  N.png masks, metadata.csv, overlay.png and masks.json (RLE modes), as scripts/amg.py\n"
            "  --oracle                  use the golden data's synthetic mask predictor instead of a\n"
            "                            model (a test aid: checks the pipeline on any image)\n"
            "graph mode:\n"
            "  -g, --graph FILE         graph to run (default: the image encoder of the model's config)\n"
            "  -i, --input NAME=FILE    a graph input from a .npy file (repeatable)\n"
            "  -o, --output NAME=FILE   save any tensor after the run (repeatable)\n"
            "  -p, --param NAME=VALUE   set a graph parameter (e.g. batch=4 for the decoder graphs)\n"
            "      --dump-plan          print the memory plan (tensor offsets, sizes, lifetimes)\n"
            "      --reference          use the plain reference kernels (slow; for checking)\n"
            "      --trace FILE.json    write a Chrome trace of the run (one event per node and thread;\n"
            "                           open it in Perfetto or chrome://tracing)\n"
            "common:\n"
            "  -m, --model FILE         weight blob made by sam-convert (required)\n"
            "  -c, --config FILE        variant config (default: graphs/configs/<variant>.yaml)\n"
            "  -t, --threads N          worker threads (default: one per CPU)\n"
            "      --profile            time per op type and the slowest nodes, after the run\n"
            "      --no-fuse            run the graphs as written, without the fusion pass\n"
            "                           (also: environment SAMRT_NO_FUSE=1)\n"
            "  -h, --help               this help\n"
            "      --version            print the version\n"
            "Exit status: 0 success, 1 failure, 2 bad command line or prompts (nothing is written).\n");
}

static int parse_io(const char *arg, const char *flag, io_arg *list, int *n)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "sam-run: %s needs NAME=VALUE, got '%s'\n", flag, arg);
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

static const char *option_name(const struct option *opts, int c)
{
    for (; opts->name; opts++)
        if (opts->val == c) return opts->name;
    return "?";
}

static void dump_plan(const sam_graph *g, const sam_plan *plan, FILE *f)
{
    fprintf(f, "memory plan of graph '%s': %d blocks, %d outputs written in place, arena %.2f MiB (without reuse: %.2f MiB)\n", g->name, plan->n_blocks, plan->n_inplace,
            (double)plan->arena_size / (1 << 20), (double)plan->naive_size / (1 << 20));
    fprintf(f, "nodes in execution order:\n");
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        fprintf(f, "%5d  %-20s -> %s%s\n", i, sam_op_get(nd->op)->name, g->tensors[nd->out].name,
                g->tensors[nd->out].kind == SAM_TENSOR_VIEW ? " (view)" : g->tensors[nd->out].invariant ? " (cached across runs)" : "");
    }
    fprintf(f, "blocks (lifetimes in node indices):\n%12s %12s %6s %6s  %s\n", "offset", "bytes", "first", "last", "tensor");
    for (int i = 0; i < plan->n_blocks; i++) {
        const sam_plan_block *b = &plan->blocks[i];
        char name[160];
        if (b->tensor >= 0) snprintf(name, sizeof name, "%s", g->tensors[b->tensor].name);
        else snprintf(name, sizeof name, "(%s of node %d)", b->cache ? "cache" : "workspace", b->node);
        fprintf(f, "%12zu %12zu %6d %6d  %s\n", b->offset, b->size, b->first, b->last, name);
    }
}

typedef struct {
    const char *model, *config, *graph;
    io_arg *inputs, *outputs, *params;
    int n_in, n_out, n_params, dump;
    const char *trace;
    sam_session_options so;
} graph_job;

static int run_graph(const graph_job *j)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_graph *graph = NULL;
    sam_session *sess = NULL;
    sam_config *cfg = calloc(1, sizeof *cfg);
    sam_params *overrides = calloc(1, sizeof *overrides);
    int written = 0, rc = 1;
    if (!cfg || !overrides) {
        sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < j->n_params; i++) {
        sam_value v;
        if (sam_resolve_scalar(j->params[i].file, overrides, &v, &err) || sam_params_set(overrides, j->params[i].name, &v, &err)) {
            sam_fail_context(&err, "--param %s", j->params[i].name);
            goto fail;
        }
    }
    if (tool_load_graph(j->model, j->config, j->graph, "image_encoder", overrides, &model, cfg, &graph, &err)) goto fail;
    for (int i = 0; i < j->n_out; i++)
        if (sam_graph_keep(graph, j->outputs[i].name, &err)) goto fail;
    for (int k = 0; k < graph->n_inputs; k++) {
        const char *name = graph->tensors[graph->inputs[k]].name;
        int given = 0;
        for (int i = 0; i < j->n_in; i++) given |= strcmp(j->inputs[i].name, name) == 0;
        if (!given) {
            sam_fail(&err, SAM_ERR_INVALID_ARG, "graph '%s' needs input '%s': give --input %s=FILE.npy", graph->name, name, name);
            goto fail;
        }
    }
    if (sam_session_create(graph, &j->so, &sess, &err)) goto fail;
    if (j->dump) dump_plan(graph, &sess->plan, stdout);
    for (int i = 0; i < j->n_in; i++) {
        sam_array a;
        if (sam_npy_read(j->inputs[i].file, &a, &err)) goto fail;
        sam_status st = a.dtype == SAM_F32 ? sam_session_set_input(sess, j->inputs[i].name, a.data, a.ndim, a.shape, &err)
                                           : sam_fail(&err, SAM_ERR_INVALID_ARG, "%s: input must be float32", j->inputs[i].file);
        sam_array_free(&a);
        if (st) {
            sam_fail_context(&err, "--input %s=%s", j->inputs[i].name, j->inputs[i].file);
            goto fail;
        }
    }
    if (sam_session_run(sess, &err)) goto fail;
    for (int i = 0; i < j->n_out; i++) {
        const sam_tensor *t;
        if (sam_session_tensor(sess, j->outputs[i].name, &t, &err) || sam_npy_write(j->outputs[i].file, SAM_F32, t->ndim, t->shape, t->data, &err)) goto fail;
        written++;
    }
    fprintf(stderr, "sam-run: graph '%s' (%s) ran in %.3f s, %.1f GFLOP/s, activation arena %.1f MiB, peak RSS %.1f MiB\n", graph->name, cfg->variant,
            sess->run_seconds, sam_graph_flops(graph) / sess->run_seconds * 1e-9, (double)sess->plan.arena_size / (1 << 20),
            (double)tool_peak_rss() / (1 << 20));
    if (j->so.profile) {
        if (sess->fusion.nodes_before != sess->fusion.nodes_after) fprintf(stderr, "fusion: %d nodes -> %d\n", sess->fusion.nodes_before, sess->fusion.nodes_after);
        for (int p = 0; sam_fusion_pattern_name(p); p++)
            if (sess->fusion.applied[p]) fprintf(stderr, "  %3d x %s\n", sess->fusion.applied[p], sam_fusion_pattern_name(p));
        sam_session_print_profile(sess, stderr);
    }
    if (j->trace) {
        FILE *tf = fopen(j->trace, "w");
        if (!tf) {
            sam_fail(&err, SAM_ERR_IO, "cannot write --trace '%s'", j->trace);
            goto fail;
        }
        sam_session_write_trace(sess, tf);
        if (fclose(tf) != 0) {
            sam_fail(&err, SAM_ERR_IO, "cannot write --trace '%s'", j->trace);
            goto fail;
        }
        fprintf(stderr, "sam-run: wrote the trace to %s\n", j->trace);
    }
    rc = 0;
    goto done;
fail:
    tool_error("sam-run", &err);
    for (int i = 0; i < written; i++) unlink(j->outputs[i].file); /* all outputs or none */
done:
    sam_session_free(sess);
    sam_graph_free(graph);
    sam_model_close(model);
    free(cfg);
    free(overrides);
    return rc;
}

int main(int argc, char **argv)
{
    enum {
        OPT_PROFILE = 256, OPT_REFERENCE, OPT_DUMP_PLAN, OPT_VERSION, OPT_IMAGE, OPT_POINT, OPT_BOX, OPT_MASK_INPUT, OPT_PROMPTS,
        OPT_MULTIMASK, OPT_OUT, OPT_JSON, OPT_SAVE_LOGITS, OPT_SAVE_MASKS, OPT_EMBEDDING, OPT_PERCENT, OPT_NO_FUSE, OPT_TRACE,
        OPT_AUTO, OPT_ORACLE, OPT_PPS, OPT_PPB, OPT_IOU, OPT_STAB, OPT_STAB_OFF, OPT_BOX_NMS, OPT_CROP_LAYERS, OPT_CROP_NMS, OPT_CROP_OVERLAP,
        OPT_CROP_DOWN, OPT_MIN_AREA, OPT_OUTPUT_MODE, OPT_GRIDS
    };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},        {"graph", required_argument, 0, 'g'},
        {"config", required_argument, 0, 'c'},       {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},       {"param", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'},      {"profile", no_argument, 0, OPT_PROFILE},
        {"reference", no_argument, 0, OPT_REFERENCE}, {"dump-plan", no_argument, 0, OPT_DUMP_PLAN},
        {"help", no_argument, 0, 'h'},               {"version", no_argument, 0, OPT_VERSION},
        {"image", required_argument, 0, OPT_IMAGE},  {"point", required_argument, 0, OPT_POINT},
        {"box", required_argument, 0, OPT_BOX},      {"mask-input", required_argument, 0, OPT_MASK_INPUT},
        {"prompts", required_argument, 0, OPT_PROMPTS}, {"multimask", no_argument, 0, OPT_MULTIMASK},
        {"out", required_argument, 0, OPT_OUT},      {"json", required_argument, 0, OPT_JSON},
        {"save-logits", required_argument, 0, OPT_SAVE_LOGITS}, {"save-masks", required_argument, 0, OPT_SAVE_MASKS},
        {"embedding", required_argument, 0, OPT_EMBEDDING}, {"input-size-percent", required_argument, 0, OPT_PERCENT},
        {"no-fuse", no_argument, 0, OPT_NO_FUSE},    {"trace", required_argument, 0, OPT_TRACE},
        {"auto", no_argument, 0, OPT_AUTO},          {"oracle", no_argument, 0, OPT_ORACLE},
        {"points-per-side", required_argument, 0, OPT_PPS}, {"points-per-batch", required_argument, 0, OPT_PPB},
        {"pred-iou-thresh", required_argument, 0, OPT_IOU}, {"stability-score-thresh", required_argument, 0, OPT_STAB},
        {"stability-score-offset", required_argument, 0, OPT_STAB_OFF}, {"box-nms-thresh", required_argument, 0, OPT_BOX_NMS},
        {"crop-n-layers", required_argument, 0, OPT_CROP_LAYERS}, {"crop-nms-thresh", required_argument, 0, OPT_CROP_NMS},
        {"crop-overlap-ratio", required_argument, 0, OPT_CROP_OVERLAP},
        {"crop-n-points-downscale-factor", required_argument, 0, OPT_CROP_DOWN},
        {"min-mask-region-area", required_argument, 0, OPT_MIN_AREA}, {"output-mode", required_argument, 0, OPT_OUTPUT_MODE},
        {"point-grids", required_argument, 0, OPT_GRIDS},
        {0, 0, 0, 0}};
    io_arg inputs[MAX_IO], outputs[MAX_IO], params[MAX_IO];
    graph_job gj = {.inputs = inputs, .outputs = outputs, .params = params};
    prompt_set prompts = {0};
    segment_options so = {.prompts = &prompts, .input_percent = 100};
    const char *prompts_file = NULL, *mask_input = NULL;
    const char *images[MAX_IO];
    int c, rc = EXIT_USAGE, cli_prompt = 0, n_images = 0, amg_flag = 0;
    auto_options ao = {.output_mode = OUTPUT_BINARY_MASK};
    amg_default_options(&ao.amg);
    long long threads = 0;
    sam_error err = {0};
    while ((c = getopt_long(argc, argv, "m:g:c:i:o:p:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': so.model = gj.model = optarg; break;
        case 'g': gj.graph = optarg; break;
        case 'c': so.config = gj.config = optarg; break;
        case 'i': if (!parse_io(optarg, "--input", inputs, &gj.n_in)) goto out; break;
        case 'o': if (!parse_io(optarg, "--output", outputs, &gj.n_out)) goto out; break;
        case 'p': if (!parse_io(optarg, "--param", params, &gj.n_params)) goto out; break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &threads)) {
                fprintf(stderr, "sam-run: --threads needs an integer in 1..1024, got '%s'\n", optarg);
                goto out;
            }
            so.threads = gj.so.n_threads = (int)threads;
            break;
        case OPT_PROFILE: gj.so.profile = so.profile = 1; break;
        case OPT_NO_FUSE: gj.so.no_fuse = so.no_fuse = 1; break;
        case OPT_TRACE: gj.trace = optarg; gj.so.trace = 1; break;
        case OPT_REFERENCE: gj.so.reference = 1; break;
        case OPT_DUMP_PLAN: gj.dump = 1; break;
        case 'h': usage(stdout); rc = 0; goto out;
        case OPT_VERSION: printf("sam-run %s\n", SAMRT_VERSION); rc = 0; goto out;
        case OPT_IMAGE:
            if (n_images >= MAX_IO) {
                fprintf(stderr, "sam-run: too many --image arguments (max %d; give a directory)\n", MAX_IO);
                goto out;
            }
            images[n_images++] = so.image = optarg;
            break;
        case OPT_AUTO: ao.images = images; amg_flag |= 1; break;
        case OPT_ORACLE: ao.oracle = 1; break;
        case OPT_PPS: case OPT_PPB: case OPT_CROP_LAYERS: case OPT_CROP_DOWN: case OPT_MIN_AREA: {
            long long v;
            long long hi = c == OPT_CROP_LAYERS ? 4 : c == OPT_MIN_AREA ? 1LL << 30 : 4096;
            if (!tool_parse_int(optarg, c == OPT_CROP_LAYERS || c == OPT_MIN_AREA ? 0 : 1, hi, &v)) {
                fprintf(stderr, "sam-run: --%s needs an integer in %d..%lld, got '%s'\n", option_name(opts, c), c == OPT_CROP_LAYERS || c == OPT_MIN_AREA ? 0 : 1, hi, optarg);
                goto out;
            }
            int *field = c == OPT_PPS ? &ao.amg.points_per_side : c == OPT_PPB ? &ao.amg.points_per_batch : c == OPT_CROP_LAYERS ? &ao.amg.crop_n_layers
                       : c == OPT_CROP_DOWN ? &ao.amg.crop_n_points_downscale_factor : &ao.amg.min_mask_region_area;
            *field = (int)v;
            amg_flag |= 2;
            break;
        }
        case OPT_IOU: case OPT_STAB: case OPT_STAB_OFF: case OPT_BOX_NMS: case OPT_CROP_NMS: case OPT_CROP_OVERLAP: {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || !(v >= 0 && v <= (c == OPT_STAB_OFF ? 1e6 : 1))) {
                fprintf(stderr, "sam-run: --%s needs a number in 0..%s, got '%s'\n", option_name(opts, c), c == OPT_STAB_OFF ? "1e6" : "1", optarg);
                goto out;
            }
            double *field = c == OPT_IOU ? &ao.amg.pred_iou_thresh : c == OPT_STAB ? &ao.amg.stability_score_thresh : c == OPT_STAB_OFF ? &ao.amg.stability_score_offset
                          : c == OPT_BOX_NMS ? &ao.amg.box_nms_thresh : c == OPT_CROP_NMS ? &ao.amg.crop_nms_thresh : &ao.amg.crop_overlap_ratio;
            *field = v;
            amg_flag |= 2;
            break;
        }
        case OPT_OUTPUT_MODE:
            if (!strcmp(optarg, "binary_mask")) ao.output_mode = OUTPUT_BINARY_MASK;
            else if (!strcmp(optarg, "uncompressed_rle")) ao.output_mode = OUTPUT_UNCOMPRESSED_RLE;
            else if (!strcmp(optarg, "coco_rle")) ao.output_mode = OUTPUT_COCO_RLE;
            else {
                fprintf(stderr, "sam-run: --output-mode must be binary_mask, uncompressed_rle or coco_rle, got '%s'\n", optarg);
                goto out;
            }
            amg_flag |= 2;
            break;
        case OPT_GRIDS: ao.point_grids = optarg; amg_flag |= 2; break;
        case OPT_POINT: cli_prompt = 1; if (prompt_add_point(&prompts, optarg, &err)) goto bad_prompt; break;
        case OPT_BOX: cli_prompt = 1; if (prompt_set_box(&prompts, optarg, &err)) goto bad_prompt; break;
        case OPT_MASK_INPUT: cli_prompt = 1; mask_input = optarg; break;
        case OPT_PROMPTS: prompts_file = optarg; break;
        case OPT_MULTIMASK: so.multimask = 1; break;
        case OPT_OUT: so.out_dir = optarg; break;
        case OPT_JSON: so.json_path = optarg; break;
        case OPT_SAVE_LOGITS: so.save_logits = optarg; break;
        case OPT_SAVE_MASKS: so.save_masks = optarg; break;
        case OPT_EMBEDDING: so.embedding = optarg; break;
        case OPT_PERCENT: {
            char *end;
            so.input_percent = strtod(optarg, &end);
            if (*end || !(so.input_percent > 0 && so.input_percent <= 100)) {
                fprintf(stderr, "sam-run: --input-size-percent needs a number in (0, 100], got '%s'\n", optarg);
                goto out;
            }
            break;
        }
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sam-run: unexpected argument '%s' (see --help)\n", argv[optind]);
        goto out;
    }
    if (!so.model && !ao.oracle) {
        fprintf(stderr, "sam-run: --model is required (see --help)\n");
        goto out;
    }
    if ((amg_flag & 2 || ao.oracle) && !(amg_flag & 1)) {
        fprintf(stderr, "sam-run: automatic mask generation options need --auto\n");
        goto out;
    }
    if (amg_flag & 1) {
        if (!n_images) {
            fprintf(stderr, "sam-run: --auto needs --image IMG (repeatable) or a directory\n");
            goto out;
        }
        if (cli_prompt || prompts_file || so.multimask || so.save_logits || so.save_masks || so.embedding || gj.n_in || gj.n_out) {
            fprintf(stderr, "sam-run: --auto segments everything: prompts, --save-logits/--save-masks/--embedding and graph options do not apply\n");
            goto out;
        }
        if (!so.out_dir && !so.json_path) {
            fprintf(stderr, "sam-run: no output: give --out DIR or --json FILE\n");
            goto out;
        }
        ao.model = so.model;
        ao.config = so.config;
        ao.n_images = n_images;
        ao.out_dir = so.out_dir;
        ao.json_path = so.json_path;
        ao.threads = so.threads;
        ao.profile = so.profile;
        ao.no_fuse = so.no_fuse;
        rc = auto_run(&ao);
        goto out;
    }
    if (n_images > 1) {
        fprintf(stderr, "sam-run: several --image are for --auto; prompts segment one image\n");
        goto out;
    }
    if (so.image) {
        if (gj.n_in || gj.n_out || gj.graph || gj.n_params) {
            fprintf(stderr, "sam-run: --image segments with prompts; --input/--output/--graph/--param run a graph: use one or the other\n");
            goto out;
        }
        if (prompts_file && cli_prompt) {
            fprintf(stderr, "sam-run: --prompts cannot be combined with --point/--box/--mask-input\n");
            goto out;
        }
        if (mask_input && prompt_set_mask_input(&prompts, mask_input, SAM_LOW_RES, &err)) goto bad_prompt;
        if (prompts_file && prompt_load_json(&prompts, prompts_file, SAM_LOW_RES, &err)) goto bad_prompt;
        if (prompts.n == 0 || (!prompts.prompts[0].n_points && !prompts.prompts[0].has_box)) {
            fprintf(stderr, "sam-run: nothing to segment: give --point, --box or --prompts\n");
            goto out;
        }
        if (!so.out_dir && !so.json_path && !so.save_logits && !so.save_masks) {
            fprintf(stderr, "sam-run: no output: give --out DIR, --json FILE, --save-logits or --save-masks\n");
            goto out;
        }
        rc = segment_run(&so);
        goto out;
    }
    if (cli_prompt || prompts_file || so.out_dir || so.json_path || so.save_logits || so.save_masks || so.embedding || so.multimask) {
        fprintf(stderr, "sam-run: prompts and segmentation outputs need --image\n");
        goto out;
    }
    if (gj.n_out == 0) {
        fprintf(stderr, "sam-run: nothing to do: give --image with prompts, or --output NAME=FILE.npy to run a graph\n");
        goto out;
    }
    rc = run_graph(&gj);
    goto out;
bad_prompt:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    rc = EXIT_USAGE;
out:
    prompt_set_free(&prompts);
    for (int i = 0; i < gj.n_in; i++) free(inputs[i].name);
    for (int i = 0; i < gj.n_out; i++) free(outputs[i].name);
    for (int i = 0; i < gj.n_params; i++) free(params[i].name);
    return rc;
}
