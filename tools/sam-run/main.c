/* sam-run: the main program. With --image it segments an image from prompts, with --auto
 * everything in it; with --input/--output it runs any graph of a model on .npy tensors
 * (the image encoder by default), which is how graphs are debugged and checked. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "modes.h"
#include "dataset.h"
#include "amg_options.h"
#include "tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-run --model MODEL --image IMG [prompts] [outputs] [options]\n"
            "       sam-run --model MODEL --image DIR ... [prompts] --out DIR [folder-run options]\n"
            "       sam-run --model MODEL --image IMG|DIR ... --auto [AMG options] (--out DIR | --json FILE)\n"
            "       sam-run --model MODEL [--graph FILE] --input NAME=FILE.npy ... --output NAME=FILE.npy ...\n"
            "\n"
            "Segment Anything (SAM and SAM 2) on the CPU. The first form segments IMG (JPEG or PNG)\n"
            "from point and box prompts; the second segments everything (automatic mask generation);\n"
            "the third runs a graph of the model on .npy tensors (default: the image encoder, whose\n"
            "input is 'image' 1x3x1024x1024 and output 'image_embeddings', or SAM 2's 'image_embed',\n"
            "'high_res_feat0' and 'high_res_feat1').\n"
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
            "automatic mask generation (--auto; the options and defaults of SamAutomaticMaskGenerator,\n"
            "or of SAM2AutomaticMaskGenerator for a SAM 2 model, where they differ in brackets):\n"
            "  --points-per-side N (32)  --points-per-batch N (64)  --pred-iou-thresh F (0.88) [0.8]\n"
            "  --stability-score-thresh F (0.95)  --stability-score-offset F (1.0)\n"
            "  --box-nms-thresh F (0.7)  --crop-n-layers N (0)  --crop-nms-thresh F (0.7)\n"
            "  --crop-overlap-ratio F (0.3413)  --crop-n-points-downscale-factor N (1)\n"
            "  --min-mask-region-area N (0)  --output-mode binary_mask|uncompressed_rle|coco_rle\n"
            "  --point-grids FILE.json   your own normalized points, a list per crop layer\n"
            "  SAM 2 only: --mask-threshold F (0.0)  --use-m2m | --no-use-m2m (off)\n"
            "  --multimask-output | --no-multimask-output (on); its --min-mask-region-area fills holes\n"
            "  and removes sprinkles on the low-res logits, as the official sam2._C extension does\n"
            "  --image may repeat or name a directory; --out DIR then gets a folder per image with\n"
            "  N.png masks, metadata.csv, overlay.png and masks.json (RLE modes), as scripts/amg.py.\n"
            "  --json FILE writes COCO RLE unless --output-mode says otherwise; an output over 1 GB\n"
            "  is refused before it is written\n"
            "folder runs (a directory or several --image, with --auto or with prompts, which then\n"
            "apply to every image; --out DIR gets a folder per image, each appearing whole or not at all):\n"
            "  --resume                 skip images whose folder is already in DIR (the default)\n"
            "  --overwrite              redo them\n"
            "  --keep-going             record a failed image in DIR/manifest.jsonl and go on (the\n"
            "                           default; exit status 1 at the end if any failed)\n"
            "  --no-keep-going          stop at the first failure\n"
            "  --shard K/N              only the K-th of N disjoint parts (0 <= K < N, by file name):\n"
            "                           N processes, e.g. a Slurm array or Kubernetes Indexed Job,\n"
            "                           share one DIR with no coordinator\n"
            "  --oracle [sam|sam2]       use the golden data's synthetic mask predictor (SAM's, or SAM 2's)\n"
            "                            instead of a model (a test aid: checks the pipeline on any image)\n"
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

static int parse_name_value(const char *arg, const char *flag, name_value *list, int *n)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "sam-run: %s needs NAME=VALUE, got '%s'\n", flag, arg);
        return 0;
    }
    if (*n >= RUN_MAX_IO) {
        fprintf(stderr, "sam-run: too many %s arguments (max %d)\n", flag, RUN_MAX_IO);
        return 0;
    }
    list[*n].name = strndup(arg, (size_t)(eq - arg));
    list[*n].value = eq + 1;
    if (!list[*n].name) return 0;
    (*n)++;
    return 1;
}

enum {
    OPT_PROFILE = 256, OPT_REFERENCE, OPT_DUMP_PLAN, OPT_VERSION, OPT_IMAGE, OPT_POINT, OPT_BOX, OPT_MASK_INPUT, OPT_PROMPTS,
    OPT_MULTIMASK, OPT_OUT, OPT_JSON, OPT_SAVE_LOGITS, OPT_SAVE_MASKS, OPT_EMBEDDING, OPT_PERCENT, OPT_NO_FUSE, OPT_TRACE,
    OPT_AUTO, OPT_ORACLE, OPT_PPS, OPT_PPB, OPT_IOU, OPT_STAB, OPT_STAB_OFF, OPT_BOX_NMS, OPT_CROP_LAYERS, OPT_CROP_NMS, OPT_CROP_OVERLAP,
    OPT_CROP_DOWN, OPT_MIN_AREA, OPT_OUTPUT_MODE, OPT_GRIDS, OPT_MASK_THRESH, OPT_M2M, OPT_NO_M2M, OPT_MULTI_OUT, OPT_NO_MULTI_OUT,
    OPT_RESUME, OPT_OVERWRITE, OPT_KEEP_GOING, OPT_NO_KEEP_GOING, OPT_SHARD
};

static const struct option long_options[] = {
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
    {"auto", no_argument, 0, OPT_AUTO},          {"oracle", optional_argument, 0, OPT_ORACLE},
    {"points-per-side", required_argument, 0, OPT_PPS}, {"points-per-batch", required_argument, 0, OPT_PPB},
    {"pred-iou-thresh", required_argument, 0, OPT_IOU}, {"stability-score-thresh", required_argument, 0, OPT_STAB},
    {"stability-score-offset", required_argument, 0, OPT_STAB_OFF}, {"box-nms-thresh", required_argument, 0, OPT_BOX_NMS},
    {"crop-n-layers", required_argument, 0, OPT_CROP_LAYERS}, {"crop-nms-thresh", required_argument, 0, OPT_CROP_NMS},
    {"crop-overlap-ratio", required_argument, 0, OPT_CROP_OVERLAP},
    {"crop-n-points-downscale-factor", required_argument, 0, OPT_CROP_DOWN},
    {"min-mask-region-area", required_argument, 0, OPT_MIN_AREA}, {"output-mode", required_argument, 0, OPT_OUTPUT_MODE},
    {"point-grids", required_argument, 0, OPT_GRIDS}, {"mask-threshold", required_argument, 0, OPT_MASK_THRESH},
    {"use-m2m", no_argument, 0, OPT_M2M},        {"no-use-m2m", no_argument, 0, OPT_NO_M2M},
    {"multimask-output", no_argument, 0, OPT_MULTI_OUT}, {"no-multimask-output", no_argument, 0, OPT_NO_MULTI_OUT},
    {"resume", no_argument, 0, OPT_RESUME},      {"overwrite", no_argument, 0, OPT_OVERWRITE},
    {"keep-going", no_argument, 0, OPT_KEEP_GOING}, {"no-keep-going", no_argument, 0, OPT_NO_KEEP_GOING},
    {"shard", required_argument, 0, OPT_SHARD},
    {0, 0, 0, 0}};

static const char *option_name(int c)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == c) return o->name;
    return "?";
}

/* A generator option from its flag (--points-per-side -> points_per_side) and value:
 * "--use-m2m"-style switches give `arg` NULL and mean true, "--no-..." false. */
static int parse_amg_option(run_options *o, int c, const char *arg)
{
    const char *flag = option_name(c);
    int negated = strncmp(flag, "no-", 3) == 0;
    char keyword[64];
    snprintf(keyword, sizeof keyword, "%s", negated ? flag + 3 : flag);
    for (char *k = keyword; *k; k++)
        if (*k == '-') *k = '_';
    const amg_option *opt = amg_option_find(keyword);
    double v = 0;
    char range[64];
    if (opt && opt->kind == AMG_OPTION_BOOL) return amg_option_store(&o->amg, opt, !negated);
    if (!opt || !tool_parse_double(arg, opt->lo, opt->hi, &v) || !amg_option_store(&o->amg, opt, v)) {
        fprintf(stderr, "sam-run: --%s needs %s, got '%s'\n", flag, opt ? amg_option_describe(opt, range, sizeof range) : "?", arg);
        return 0;
    }
    return 1;
}

static void free_options(run_options *o)
{
    prompt_set_free(&o->prompts);
    for (int i = 0; i < o->n_inputs; i++) free(o->inputs[i].name);
    for (int i = 0; i < o->n_outputs; i++) free(o->outputs[i].name);
    for (int i = 0; i < o->n_params; i++) free(o->params[i].name);
}

/* Which job the arguments ask for, with the checks that need all of them; returns the
 * exit status when the command line is wrong, else -1. */
static int check_combination(run_options *o, int want_auto, int cli_prompt, const char *prompts_file, const char *mask_input, int amg_options)
{
    sam_error err = {0};
    if (!o->model && !o->oracle) {
        fprintf(stderr, "sam-run: --model is required (see --help)\n");
        return EXIT_USAGE;
    }
    if ((amg_options || o->oracle) && !want_auto) {
        fprintf(stderr, "sam-run: automatic mask generation options need --auto\n");
        return EXIT_USAGE;
    }
    if (want_auto) {
        if (!o->n_images) {
            fprintf(stderr, "sam-run: --auto needs --image IMG (repeatable) or a directory\n");
            return EXIT_USAGE;
        }
        if (cli_prompt || prompts_file || o->multimask || o->save_logits || o->save_masks || o->embedding || o->n_inputs || o->n_outputs) {
            fprintf(stderr, "sam-run: --auto segments everything: prompts, --save-logits/--save-masks/--embedding and graph options do not apply\n");
            return EXIT_USAGE;
        }
        if (!o->out_dir && !o->json_path) {
            fprintf(stderr, "sam-run: no output: give --out DIR or --json FILE\n");
            return EXIT_USAGE;
        }
        return -1;
    }
    if (o->n_images) {
        if (o->n_inputs || o->n_outputs || o->graph || o->n_params) {
            fprintf(stderr, "sam-run: --image segments with prompts; --input/--output/--graph/--param run a graph: use one or the other\n");
            return EXIT_USAGE;
        }
        if (prompts_file && cli_prompt) {
            fprintf(stderr, "sam-run: --prompts cannot be combined with --point/--box/--mask-input\n");
            return EXIT_USAGE;
        }
        if ((mask_input && prompt_set_mask_input(&o->prompts, mask_input, &err)) || (prompts_file && prompt_load_json(&o->prompts, prompts_file, &err))) {
            fprintf(stderr, "sam-run: %s\n", err.msg);
            return EXIT_USAGE;
        }
        if (o->prompts.n == 0 || (!o->prompts.prompts[0].n_points && !o->prompts.prompts[0].has_box)) {
            fprintf(stderr, "sam-run: nothing to segment: give --point, --box or --prompts\n");
            return EXIT_USAGE;
        }
        if (!o->out_dir && !o->json_path && !o->save_logits && !o->save_masks) {
            fprintf(stderr, "sam-run: no output: give --out DIR, --json FILE, --save-logits or --save-masks\n");
            return EXIT_USAGE;
        }
        return -1;
    }
    if (cli_prompt || prompts_file || o->out_dir || o->json_path || o->save_logits || o->save_masks || o->embedding || o->multimask) {
        fprintf(stderr, "sam-run: prompts and segmentation outputs need --image\n");
        return EXIT_USAGE;
    }
    if (o->n_outputs == 0) {
        fprintf(stderr, "sam-run: nothing to do: give --image with prompts, or --output NAME=FILE.npy to run a graph\n");
        return EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static run_options o;
    o.input_percent = 100;
    amg_options_unset(&o.amg);
    o.output_mode = -1;
    o.keep_going = 1;
    o.shard_n = 1;
    int resume = 0;
    const char *prompts_file = NULL, *mask_input = NULL;
    int c, rc = EXIT_USAGE, cli_prompt = 0, want_auto = 0, amg_options = 0;
    long long threads = 0;
    sam_error err = {0};
    while ((c = getopt_long(argc, argv, "m:g:c:i:o:p:t:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'g': o.graph = optarg; break;
        case 'c': o.config = optarg; break;
        case 'i': if (!parse_name_value(optarg, "--input", o.inputs, &o.n_inputs)) goto out; break;
        case 'o': if (!parse_name_value(optarg, "--output", o.outputs, &o.n_outputs)) goto out; break;
        case 'p': if (!parse_name_value(optarg, "--param", o.params, &o.n_params)) goto out; break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &threads)) {
                fprintf(stderr, "sam-run: --threads needs an integer in 1..1024, got '%s'\n", optarg);
                goto out;
            }
            o.threads = (int)threads;
            break;
        case OPT_PROFILE: o.profile = 1; break;
        case OPT_NO_FUSE: o.no_fuse = 1; break;
        case OPT_TRACE: o.trace = optarg; break;
        case OPT_REFERENCE: o.reference = 1; break;
        case OPT_DUMP_PLAN: o.dump_plan = 1; break;
        case 'h': usage(stdout); rc = 0; goto out;
        case OPT_VERSION: printf("sam-run %s\n", sam_version()); rc = 0; goto out;
        case OPT_IMAGE:
            if (o.n_images >= RUN_MAX_IO) {
                fprintf(stderr, "sam-run: too many --image arguments (max %d; give a directory)\n", RUN_MAX_IO);
                goto out;
            }
            o.images[o.n_images++] = optarg;
            break;
        case OPT_AUTO: want_auto = 1; break;
        case OPT_ORACLE: {
            /* --oracle, --oracle sam2, --oracle=sam2 */
            const char *which = optarg ? optarg : optind < argc && (!strcmp(argv[optind], "sam") || !strcmp(argv[optind], "sam2")) ? argv[optind++] : "sam";
            if (strcmp(which, "sam") && strcmp(which, "sam2")) {
                fprintf(stderr, "sam-run: --oracle is 'sam' (the default) or 'sam2', got '%s'\n", which);
                goto out;
            }
            o.oracle = which;
            break;
        }
        case OPT_MASK_THRESH: case OPT_M2M: case OPT_NO_M2M: case OPT_MULTI_OUT: case OPT_NO_MULTI_OUT:
        case OPT_PPS: case OPT_PPB: case OPT_CROP_LAYERS: case OPT_CROP_DOWN: case OPT_MIN_AREA:
        case OPT_IOU: case OPT_STAB: case OPT_STAB_OFF: case OPT_BOX_NMS: case OPT_CROP_NMS: case OPT_CROP_OVERLAP:
            if (!parse_amg_option(&o, c, optarg)) goto out;
            amg_options = 1;
            break;
        case OPT_OUTPUT_MODE:
            if (!strcmp(optarg, "binary_mask")) o.output_mode = OUTPUT_BINARY_MASK;
            else if (!strcmp(optarg, "uncompressed_rle")) o.output_mode = OUTPUT_UNCOMPRESSED_RLE;
            else if (!strcmp(optarg, "coco_rle")) o.output_mode = OUTPUT_COCO_RLE;
            else {
                fprintf(stderr, "sam-run: --output-mode must be binary_mask, uncompressed_rle or coco_rle, got '%s'\n", optarg);
                goto out;
            }
            amg_options = 1;
            break;
        case OPT_GRIDS: o.point_grids = optarg; amg_options = 1; break;
        case OPT_RESUME: resume = 1; break;
        case OPT_OVERWRITE: o.overwrite = 1; break;
        case OPT_KEEP_GOING: o.keep_going = 1; break;
        case OPT_NO_KEEP_GOING: o.keep_going = 0; break;
        case OPT_SHARD:
            if (!dataset_parse_shard(optarg, &o.shard_k, &o.shard_n)) {
                fprintf(stderr, "sam-run: --shard needs K/N with 0 <= K < N <= 1000000, got '%s'\n", optarg);
                goto out;
            }
            break;
        case OPT_POINT: cli_prompt = 1; if (prompt_add_point(&o.prompts, optarg, &err)) goto bad_prompt; break;
        case OPT_BOX: cli_prompt = 1; if (prompt_set_box(&o.prompts, optarg, &err)) goto bad_prompt; break;
        case OPT_MASK_INPUT: cli_prompt = 1; mask_input = optarg; break;
        case OPT_PROMPTS: prompts_file = optarg; break;
        case OPT_MULTIMASK: o.multimask = 1; break;
        case OPT_OUT: o.out_dir = optarg; break;
        case OPT_JSON: o.json_path = optarg; break;
        case OPT_SAVE_LOGITS: o.save_logits = optarg; break;
        case OPT_SAVE_MASKS: o.save_masks = optarg; break;
        case OPT_EMBEDDING: o.embedding = optarg; break;
        case OPT_PERCENT:
            if (!tool_parse_double(optarg, 1e-9, 100, &o.input_percent)) {
                fprintf(stderr, "sam-run: --input-size-percent needs a number in (0, 100], got '%s'\n", optarg);
                goto out;
            }
            break;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sam-run: unexpected argument '%s' (see --help)\n", argv[optind]);
        goto out;
    }
    if (resume && o.overwrite) {
        fprintf(stderr, "sam-run: --resume and --overwrite contradict each other\n");
        goto out;
    }
    if ((rc = check_combination(&o, want_auto, cli_prompt, prompts_file, mask_input, amg_options)) >= 0) goto out;
    rc = want_auto ? run_auto_mode(&o) : o.n_images ? run_segment_mode(&o) : run_graph_mode(&o);
    goto out;
bad_prompt:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    rc = EXIT_USAGE;
out:
    free_options(&o);
    return rc;
}
