/* sam-convert: official SAM checkpoints (.pth) to sam-rt weight blobs, and
 * random-weight blobs of the official shapes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../converter/convert.h"
#include "tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-convert CHECKPOINT.pth -o OUT.samrt\n"
            "       sam-convert --random VARIANT [--seed N] -o OUT.samrt\n"
            "       sam-convert --info MODEL.samrt\n"
            "\n"
            "Converts an official Segment Anything checkpoint (sam_vit_b_01ec64.pth,\n"
            "sam_vit_l_0b3195.pth, sam_vit_h_4b8939.pth, or any SAM state_dict saved with\n"
            "torch.save) into sam-rt's mmap-able weight blob. The variant is detected from the\n"
            "tensor shapes. No Python is needed.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     where to write the blob (written whole or not at all)\n"
            "      --random VARIANT  write random weights with the shapes of vit_b, vit_l or vit_h\n"
            "                        (for benchmarks: its masks are meaningless)\n"
            "      --seed N          seed for --random (default 0)\n"
            "      --info MODEL      print a blob's variant, hyper-parameters and tensor count\n"
            "  -q, --quiet           no progress output\n"
            "  -h, --help            this help\n"
            "      --version         print the version\n");
}

static int info(const char *path)
{
    sam_error err = {0};
    sam_model *m;
    if (sam_model_open(path, &m, &err)) {
        tool_error("sam-convert", &err);
        return 1;
    }
    size_t bytes = 0;
    for (int i = 0; i < m->n_weights; i++) bytes += m->weights[i].nbytes;
    printf("%s: %d tensors, %.1f MiB of weights\n", path, m->n_weights, (double)bytes / (1 << 20));
    for (int i = 0; i < m->meta.count; i++) {
        char v[256];
        sam_value_format(&m->meta.values[i], v, sizeof v);
        printf("  %-20s %s\n", m->meta.names[i], v);
    }
    sam_model_close(m);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"random", required_argument, 0, 'r'}, {"seed", required_argument, 0, 's'},
        {"info", required_argument, 0, 'i'},   {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
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
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("sam-convert %s\n", SAMRT_VERSION); return 0;
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
        fprintf(stderr, "sam-convert: give a checkpoint or --random VARIANT, and -o OUT (see --help)\n");
        return EXIT_USAGE;
    }
    sam_error err = {0};
    sam_hparams hp;
    sam_status st;
    if (random_variant) {
        if (sam_hparams_for_variant(random_variant, &hp, &err)) {
            fprintf(stderr, "sam-convert: --random: %s\n", err.msg);
            return EXIT_USAGE;
        }
        st = sam_write_random_model(&hp, (uint64_t)seed, out, quiet ? NULL : tool_progress, "writing random weights", &err);
    } else {
        st = sam_convert_checkpoint(in, out, quiet ? NULL : tool_progress, "converting", &hp, &err);
    }
    if (st) {
        tool_error("sam-convert", &err);
        return 1;
    }
    if (!quiet) {
        fprintf(stderr, "wrote %s: %s (embed_dim %d, depth %d, heads %d)%s\n", out, hp.variant, hp.embed_dim, hp.depth, hp.num_heads,
                random_variant ? " with RANDOM weights: its masks are meaningless" : "");
    }
    return 0;
}
