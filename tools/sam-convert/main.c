/* sam-convert: official SAM and SAM 2 checkpoints (.pth, .pt) to sam-rt weight blobs,
 * and random-weight blobs of the official shapes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-convert CHECKPOINT -o OUT.samrt [--dtype f32|bf16|q8]\n"
            "       sam-convert MODEL.samrt --dtype bf16|q8 -o OUT.samrt\n"
            "       sam-convert --random VARIANT [--seed N] [--dtype ...] -o OUT.samrt\n"
            "       sam-convert --info MODEL.samrt\n"
            "\n"
            "Converts an official Segment Anything checkpoint (sam_vit_b_01ec64.pth,\n"
            "sam_vit_l_0b3195.pth, sam_vit_h_4b8939.pth, or any SAM state_dict saved with\n"
            "torch.save) or SAM 2 / 2.1 checkpoint (sam2_hiera_tiny.pt ... sam2.1_hiera_large.pt)\n"
            "into sam-rt's mmap-able weight blob. Family, variant and version are detected from\n"
            "the tensor names and shapes; SAM 2's video-only tensors are left out. No Python is\n"
            "needed.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     where to write the blob (written whole or not at all)\n"
            "      --dtype D         how to store the weights of linear layers and convolutions:\n"
            "                        f32 (default, exact), bf16 (half the size) or q8 (int8 with a\n"
            "                        scale per output channel, about a quarter); norms, biases,\n"
            "                        positional tables and the prompt encoder stay f32. Given an\n"
            "                        f32 .samrt instead of a checkpoint, re-stores that blob\n"
            "      --random VARIANT  write random weights with the shapes of vit_b, vit_l, vit_h,\n"
            "                        hiera_t, hiera_s, hiera_b+ or hiera_l (SAM 2.1)\n"
            "                        (for benchmarks: its masks are meaningless)\n"
            "      --seed N          seed for --random (default 0)\n"
            "      --info MODEL      print a blob's family, variant, version, precision,\n"
            "                        hyper-parameters, tensor count and size\n"
            "  -q, --quiet           no progress output\n"
            "  -h, --help            this help\n"
            "      --version         print the version\n");
}

static int info(const char *path)
{
    sam_error err = {0};
    sam_model *m;
    sam_model_params mp = sam_model_default_params();
    mp.blob_only = 1;
    if (sam_model_open(path, &mp, &m, &err)) {
        tool_error("sam-convert", &err);
        return 1;
    }
    printf("%s: %s %s, %s weights, %d tensors, %.1f MiB of weights\n", path, sam_model_family(m), sam_model_variant(m),
           sam_precision_name(sam_model_precision(m)), sam_model_n_tensors(m), (double)sam_model_weight_bytes(m) / (1 << 20));
    const char *name;
    char v[256];
    for (int i = 0; sam_model_meta(m, i, &name, v, sizeof v); i++) printf("  %-20s %s\n", name, v);
    sam_model_free(m);
    return 0;
}

/* A sam-rt blob rather than a checkpoint (a zip archive): by its magic. */
static int is_blob(const char *path)
{
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, "SAMRTWB", 8) == 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"random", required_argument, 0, 'r'}, {"seed", required_argument, 0, 's'},
        {"info", required_argument, 0, 'i'},   {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {"dtype", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    sam_weight_precision precision = SAM_PRECISION_F32;
    int dtype_given = 0;
    const char *out = NULL, *random_variant = NULL, *info_path = NULL;
    long long seed = 0;
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'r': random_variant = optarg; break;
        case 's':
            if (!tool_parse_int(optarg, 0, INT64_MAX, &seed)) {
                fprintf(stderr, "sam-convert: --seed needs a non-negative integer, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'i': info_path = optarg; break;
        case 'd':
            if (sam_precision_parse(optarg, &precision)) {
                fprintf(stderr, "sam-convert: --dtype must be f32, bf16 or q8, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            dtype_given = 1;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("sam-convert %s\n", sam_version()); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (info_path) return info(info_path);
    const char *in = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc) {
        fprintf(stderr, "sam-convert: unexpected argument '%s'\n", argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (!out || (!in && !random_variant) || (in && random_variant)) {
        fprintf(stderr, "sam-convert: give a checkpoint (or an f32 blob with --dtype) or --random VARIANT, and -o OUT (see --help)\n");
        return EXIT_USAGE;
    }
    sam_error err = {0};
    sam_convert_params cp = sam_convert_default_params();
    if (!quiet) {
        cp.progress = tool_progress;
        cp.progress_ctx = random_variant ? "writing random weights" : "converting";
    }
    cp.precision = precision;
    int from_blob = in && is_blob(in);
    if (from_blob && !dtype_given) {
        fprintf(stderr, "sam-convert: %s is already a sam-rt blob; give --dtype bf16 or q8 to re-store it\n", in);
        return EXIT_USAGE;
    }
    sam_convert_info ci;
    sam_status st = random_variant ? sam_convert_random(random_variant, (uint64_t)seed, out, &cp, &ci, &err)
                    : from_blob    ? sam_convert_blob(in, &cp, out, &ci, &err)
                                   : sam_convert_checkpoint(in, out, &cp, &ci, &err);
    if (st) {
        tool_error("sam-convert", &err);
        return random_variant && st == SAM_ERR_NOT_FOUND ? EXIT_USAGE : 1;
    }
    if (!quiet) {
        fprintf(stderr, "wrote %s: %s%s%s %s, %s weights, %d tensors, %.1f MiB%s\n", out, ci.family, ci.version[0] ? " " : "", ci.version, ci.variant,
                sam_precision_name(ci.precision), ci.n_tensors, (double)ci.bytes / (1 << 20), random_variant ? " of RANDOM weights: its masks are meaningless" : "");
        if (ci.skipped_tensors) fprintf(stderr, "left out %d tensors the image path does not read (video tracking)\n", ci.skipped_tensors);
    }
    return 0;
}
