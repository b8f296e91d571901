/* sam-bench: encoder speed as a ratio to the OpenBLAS sgemm rate measured in the same
 * run, so figures compare across machines and loads; then the decoder per prompt, or a
 * whole automatic mask generation. */
#include <cblas.h>
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-bench [--model MODEL | --variant VARIANT] [options]\n"
            "\n"
            "Times the image encoder and reports its GFLOP/s against the OpenBLAS sgemm rate\n"
            "measured in the same run (all cores, square product), then the prompt encoder and\n"
            "mask decoder per prompt (alone and in a batch of 64). Without --model a random-weight\n"
            "blob of the variant (default vit_b) is generated once in $TMPDIR (or /tmp) and reused.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE     weight blob to benchmark\n"
            "      --variant NAME   random-weight variant when no --model: vit_b, vit_l, vit_h, or SAM 2.1's\n"
            "                       hiera_t, hiera_s, hiera_b+, hiera_l\n"
            "  -c, --config FILE    variant config (default: from the model)\n"
            "  -r, --runs N         timed encoder runs after one warm-up (default 2; best is reported)\n"
            "  -t, --threads N      worker threads (default: one per CPU)\n"
            "      --sgemm-size N   side of the reference sgemm (default 4096)\n"
            "      --profile        per-op-type breakdown of the timed runs\n"
            "      --no-encoder     only the decoder figures (on a synthetic embedding)\n"
            "      --auto IMG       instead: automatic mask generation of IMG with default options,\n"
            "                       timed as encoder, decoder and postprocessing\n"
            "      --dtype bf16|q8  the model re-stored at that precision (made once in $TMPDIR)\n"
            "                       against the f32 model, in this run: encoder, decoder (and with\n"
            "                       --auto, the whole generation) for both and their ratio, sizes,\n"
            "                       peak RSS, and the accuracy of its embedding, masks and IoU\n"
            "      --image IMG      the image of --dtype's accuracy figures (default: synthetic)\n"
            "  -h, --help           this help\n");
}

/* OpenBLAS on every core, threaded its own way (it is the OpenMP build the library
 * links): the reference rate the encoder is measured against. */
double bench_sgemm_gflops(int n, int threads)
{
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)), *c = malloc((size_t)n * n * sizeof(float));
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) {
            a[i] = (float)(i % 7) * 0.1f;
            b[i] = (float)(i % 5) * 0.1f;
        }
        int saved = omp_get_max_threads();
        omp_set_num_threads(threads);
        for (int rep = 0; rep < 3; rep++) {
            double t0 = tool_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * n * (double)n * n / (tool_now() - t0) * 1e-9;
            if (g > best) best = g;
        }
        omp_set_num_threads(saved);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int bench_measure_encoder(const char *model_path, const char *config_path, int n_threads, int runs, int profile, bench_encoder_result *r)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_graph *graph = NULL;
    sam_session *sess = NULL;
    float *image = NULL;
    int rc = 1;
    memset(r, 0, sizeof *r);
    sam_model_params mp = sam_model_default_params();
    mp.config_path = config_path;
    if (sam_model_open(model_path, &mp, &model, &err) || sam_graph_load(model, "image_encoder", NULL, &graph, &err)) goto fail;
    sam_session_params sp = sam_session_default_params();
    sp.n_threads = n_threads;
    if (sam_session_create(graph, &sp, &sess, &err)) goto fail;
    sam_tensor_view in;
    sam_graph_input(graph, 0, &in);
    int64_t n = 1;
    for (int d = 0; d < in.ndim; d++) n *= in.shape[d];
    if (!(image = malloc((size_t)n * sizeof(float)))) {
        tool_fail(&err, SAM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) image[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    if (sam_session_set_input(sess, in.name, image, in.ndim, in.shape, &err)) goto fail;
    fprintf(stderr, "sam-bench: %s: encoder warm-up run...\n", model_path);
    if (sam_session_run(sess, &err)) goto fail;
    if (profile) { /* a session of its own, so that the warm-up is not in the tables */
        sam_session_free(sess);
        sp.profile = 1;
        if (sam_session_create(graph, &sp, &sess, &err) || sam_session_set_input(sess, in.name, image, in.ndim, in.shape, &err) ||
            sam_session_run(sess, &err))
            goto fail;
    }
    r->seconds = 1e30;
    for (int k = 0; k < runs; k++) {
        if (sam_session_run(sess, &err)) goto fail;
        if (sam_session_last_run_seconds(sess) < r->seconds) r->seconds = sam_session_last_run_seconds(sess);
    }
    r->flops = sam_graph_flops(graph);
    r->weight_bytes = sam_model_weight_bytes(model);
    r->arena_bytes = sam_session_arena_bytes(sess);
    r->precision = sam_model_precision(model);
    snprintf(r->family, sizeof r->family, "%s", sam_model_family(model));
    snprintf(r->variant, sizeof r->variant, "%s", sam_model_variant(model));
    if (profile) sam_session_print_profile(sess, stdout);
    rc = 0;
    goto done;
fail:
    tool_error("sam-bench", &err);
done:
    free(image);
    sam_session_free(sess);
    sam_graph_free(graph);
    sam_model_free(model);
    return rc;
}

static int bench_encoder(const char *model_path, const char *config_path, int n_threads, int runs, int sgemm_n, int profile)
{
    double sgemm = bench_sgemm_gflops(sgemm_n, n_threads);
    bench_encoder_result r;
    if (bench_measure_encoder(model_path, config_path, n_threads, runs, profile, &r)) return 1;
    double gflops = r.flops / r.seconds * 1e-9;
    printf("model            %s (%s %s, %s weights)\n", model_path, r.family, r.variant, sam_precision_name(r.precision));
    printf("threads          %d\n", n_threads);
    printf("sgemm            %.1f GFLOP/s (OpenBLAS %s kernels, %dx%d, %d threads)\n", sgemm, openblas_get_corename(), sgemm_n, sgemm_n,
           n_threads);
    printf("products         %s\n", sam_precision_kernels(r.precision));
    printf("encoder          %.3f s (best of %d), %.1f GFLOP, %.1f GFLOP/s\n", r.seconds, runs, r.flops * 1e-9, gflops);
    printf("encoder/sgemm    %.2f\n", gflops / sgemm);
    printf("weights          %.1f MiB (mmapped)\n", (double)r.weight_bytes / (1 << 20));
    printf("activation arena %.1f MiB\n", (double)r.arena_bytes / (1 << 20));
    printf("peak RSS         %.1f MiB\n", (double)tool_peak_rss() / (1 << 20));
    return 0;
}

/* Times n point prompts (one point each, on a grid over a 1800x1200 image), decoded
 * together; returns seconds per prompt, or a negative value on failure. */
double bench_time_points(sam_predictor *pred, int n, int reps, sam_error *err)
{
    sam_prompt *q = calloc((size_t)n, sizeof *q);
    float *pts = malloc(sizeof(float) * 2 * (size_t)n);
    static const int one = 1;
    double best = -1;
    if (!q || !pts) goto done;
    int side = 1;
    while (side * side < n) side++;
    for (int i = 0; i < n; i++) {
        pts[2 * i] = 1800.0f * (0.5f + (float)(i % side)) / (float)side;
        pts[2 * i + 1] = 1200.0f * (0.5f + (float)(i / side)) / (float)side;
        q[i] = (sam_prompt){.n_points = 1, .points = pts + 2 * i, .labels = &one};
    }
    sam_predict_params pp = sam_predict_default_params();
    pp.skip_masks = 1; /* the decoder alone; the upscaling is timed apart */
    for (int r = 0; r <= reps; r++) { /* the first call loads the graphs and caches the image side */
        sam_prediction *out;
        double t0 = tool_now();
        if (sam_predictor_predict(pred, q, n, &pp, &out, err)) goto done;
        double t = (tool_now() - t0) / n;
        sam_prediction_free(out);
        if (r > 0 && (best < 0 || t < best)) best = t;
    }
done:
    free(q);
    free(pts);
    return best;
}

/* Best of 4 predicts of one prompt, seconds (negative on failure); with encode, each
 * dense mask is also measured and RLE-encoded, as a server did with them. */
static double time_click(sam_predictor *pred, const sam_prompt *q, const sam_predict_params *pp, int encode, sam_error *err)
{
    double best = -1;
    for (int r = 0; r < 4; r++) {
        sam_prediction *out;
        double t0 = tool_now();
        if (sam_predictor_predict(pred, q, 1, pp, &out, err)) return -1;
        for (int m = 0; encode && m < out->n_masks; m++) {
            const uint8_t *mask = out->masks + (size_t)m * out->height * out->width;
            int box[4];
            sam_rle rle;
            sam_mask_stats(mask, out->height, out->width, box);
            if (sam_rle_encode(mask, out->height, out->width, &rle, err)) {
                sam_prediction_free(out);
                return -1;
            }
            sam_rle_free(&rle);
        }
        double t = tool_now() - t0;
        sam_prediction_free(out);
        if (best < 0 || t < best) best = t;
    }
    return best;
}

static int bench_decoder(const char *model_path, const char *config_path, int n_threads, int profile)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    float *data[8] = {0};
    int rc = 1;
    if (tool_open_predictor(model_path, config_path, n_threads, profile, 1, &model, &pred, &err)) goto fail;
    sam_tensor_view f[8];
    int nf = sam_predictor_n_features(pred);
    for (int i = 0; i < nf && i < 8; i++) { /* synthetic features of a 1800x1200 image */
        if (sam_predictor_feature(pred, i, &f[i], &err)) goto fail;
        int64_t n = 1;
        for (int d = 0; d < f[i].ndim; d++) n *= f[i].shape[d];
        if (!(data[i] = malloc(sizeof(float) * (size_t)n))) {
            tool_fail(&err, SAM_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int64_t k = 0; k < n; k++) data[i][k] = (float)((k * 2654435761u) % 2000) / 1000.0f - 1.0f;
        f[i].data = data[i];
    }
    if (sam_predictor_set_features(pred, f, nf, 1200, 1800, &err)) goto fail;
    double one = bench_time_points(pred, 1, 10, &err);
    if (one < 0) goto fail;
    double batch = bench_time_points(pred, 64, 2, &err);
    if (batch < 0) goto fail;
    /* the upscaling of one prompt's three masks to the image; a click answered as RLE,
     * through dense masks encoded after (sam-server until output_rle) and straight from
     * the logits */
    static const int label = 1;
    float pt[2] = {900, 600};
    sam_prompt q = {.n_points = 1, .points = pt, .labels = &label};
    sam_predict_params pp = sam_predict_default_params();
    double with_masks = time_click(pred, &q, &pp, 0, &err), dense_rle = time_click(pred, &q, &pp, 1, &err);
    pp.output_rle = 1;
    double with_rle = time_click(pred, &q, &pp, 0, &err);
    if (with_masks < 0 || dense_rle < 0 || with_rle < 0) goto fail;
    printf("decoder          %.1f ms per prompt (one point, multimask; prompt encoder + mask decoder)\n", 1e3 * one);
    printf("decoder batch    %.1f ms per prompt (64 points, multimask, %.2f s in all)\n", 1e3 * batch, 64 * batch);
    printf("postprocess      %.1f ms per mask (256x256 logits to a 1800x1200 mask)\n", 1e3 * (with_masks - one) / 3);
    printf("click as RLE     %.1f ms (decoder, 3 masks straight to RLE with areas and boxes, as sam-server answers); %.1f ms through dense "
           "masks encoded after (%.2fx)\n",
           1e3 * with_rle, 1e3 * dense_rle, dense_rle / with_rle);
    if (profile) sam_predictor_print_profile(pred, stdout);
    rc = 0;
    goto done;
fail:
    tool_error("sam-bench", &err);
done:
    for (int i = 0; i < 8; i++) free(data[i]);
    sam_predictor_free(pred);
    sam_model_free(model);
    return rc;
}

int bench_auto(const char *model_path, const char *config_path, int n_threads, const char *image, int profile, double *seconds)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    sam_image img = {0};
    sam_amg_result *res = NULL;
    int rc = 1;
    sam_amg_params o;
    if (sam_image_load(image, &img, &err) || tool_open_predictor(model_path, config_path, n_threads, profile, 1, &model, &pred, &err) ||
        sam_amg_default_params(sam_model_family(model), &o, &err))
        goto fail;
    o.n_threads = n_threads;
    double t0 = tool_now();
    if (sam_amg_generate(pred, &img, &o, &res, &err)) goto fail;
    double total = tool_now() - t0;
    if (seconds) *seconds = total;
    int prompts = o.points_per_side * o.points_per_side;
    printf("model            %s (%s %s, %s weights)\n", model_path, sam_model_family(model), sam_model_variant(model),
           sam_precision_name(sam_model_precision(model)));
    printf("image            %s (%dx%d), default options: %d points, %d masks kept\n", image, img.width, img.height, prompts, res->n_masks);
    printf("AMG total        %.2f s\n", total);
    printf("  encoder        %.2f s\n", res->seconds_encode);
    printf("  decoder        %.2f s (%.1f ms per point prompt, 3 masks each)\n", res->seconds_decode, 1e3 * res->seconds_decode / prompts);
    printf("  postprocess    %.2f s\n", res->seconds_postprocess);
    printf("peak RSS         %.1f MiB\n", (double)tool_peak_rss() / (1 << 20));
    if (profile) sam_predictor_print_profile(pred, stdout);
    rc = 0;
    goto done;
fail:
    tool_error("sam-bench", &err);
done:
    sam_amg_result_free(res);
    sam_image_free(&img);
    sam_predictor_free(pred);
    sam_model_free(model);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_VARIANT = 256, OPT_SGEMM, OPT_PROFILE, OPT_NO_ENCODER, OPT_AUTO, OPT_DTYPE, OPT_IMAGE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"variant", required_argument, 0, OPT_VARIANT}, {"config", required_argument, 0, 'c'},
        {"runs", required_argument, 0, 'r'},  {"threads", required_argument, 0, 't'},         {"sgemm-size", required_argument, 0, OPT_SGEMM},
        {"profile", no_argument, 0, OPT_PROFILE}, {"no-encoder", no_argument, 0, OPT_NO_ENCODER},
        {"auto", required_argument, 0, OPT_AUTO}, {"dtype", required_argument, 0, OPT_DTYPE}, {"image", required_argument, 0, OPT_IMAGE},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *model_path = NULL, *variant = "vit_b", *config_path = NULL;
    long long runs = 2, threads = 0, sgemm_n = 4096;
    int profile = 0, encoder = 1, c;
    const char *auto_image = NULL, *image = NULL;
    sam_weight_precision precision = SAM_PRECISION_F32;
    while ((c = getopt_long(argc, argv, "m:c:r:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case OPT_VARIANT: variant = optarg; break;
        case 'c': config_path = optarg; break;
        case 'r':
            if (!tool_parse_int(optarg, 1, 1000, &runs)) { fprintf(stderr, "sam-bench: --runs needs 1..1000\n"); return EXIT_USAGE; }
            break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &threads)) { fprintf(stderr, "sam-bench: --threads needs 1..1024\n"); return EXIT_USAGE; }
            break;
        case OPT_SGEMM:
            if (!tool_parse_int(optarg, 64, 16384, &sgemm_n)) { fprintf(stderr, "sam-bench: --sgemm-size needs 64..16384\n"); return EXIT_USAGE; }
            break;
        case OPT_PROFILE: profile = 1; break;
        case OPT_NO_ENCODER: encoder = 0; break;
        case OPT_AUTO: auto_image = optarg; break;
        case OPT_IMAGE: image = optarg; break;
        case OPT_DTYPE:
            if (sam_precision_parse(optarg, &precision) || precision == SAM_PRECISION_F32) {
                fprintf(stderr, "sam-bench: --dtype needs bf16 or q8 (compared with the f32 model), got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sam-bench: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    sam_error err = {0};
    char cached[4096];
    if (!model_path) {
        const char *tmp = getenv("TMPDIR");
        snprintf(cached, sizeof cached, "%s/sam-rt-bench-%s-seed0.samrt", tmp && *tmp ? tmp : "/tmp", variant);
        if (access(cached, R_OK) != 0) {
            fprintf(stderr, "sam-bench: generating random-weight %s model %s\n", variant, cached);
            sam_convert_params cp = sam_convert_default_params();
            cp.progress = tool_progress;
            cp.progress_ctx = "writing random weights";
            sam_status st = sam_convert_random(variant, 0, cached, &cp, NULL, &err);
            if (st) {
                tool_error("sam-bench", &err);
                return st == SAM_ERR_NOT_FOUND ? EXIT_USAGE : 1;
            }
        }
        model_path = cached;
    }
    int n_threads = threads ? (int)threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if (precision != SAM_PRECISION_F32) return bench_precision(model_path, config_path, precision, n_threads, (int)runs, (int)sgemm_n, image, auto_image);
    if (image) {
        fprintf(stderr, "sam-bench: --image goes with --dtype\n");
        return EXIT_USAGE;
    }
    if (auto_image) return bench_auto(model_path, config_path, n_threads, auto_image, profile, NULL);
    int rc = encoder ? bench_encoder(model_path, config_path, n_threads, (int)runs, (int)sgemm_n, profile) : 0;
    if (rc == 0) rc = bench_decoder(model_path, config_path, n_threads, profile);
    return rc;
}
