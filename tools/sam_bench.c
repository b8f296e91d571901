/* sam-bench: encoder speed as a ratio to the OpenBLAS sgemm rate measured in the same
 * run, so figures compare across machines and loads. */
#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../converter/convert.h"
#include "../ops/gemm.h"
#include "amg_predictors.h"
#include "predictor.h"
#include "tool_common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-bench [--model MODEL | --variant vit_b|vit_l|vit_h] [options]\n"
            "\n"
            "Times the image encoder and reports its GFLOP/s against the OpenBLAS sgemm rate\n"
            "measured in the same run (all cores, square product), then the prompt encoder and\n"
            "mask decoder per prompt (alone and in a batch of 64). Without --model a random-weight\n"
            "blob of the variant (default vit_b) is generated once in $TMPDIR (or /tmp) and reused.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE     weight blob to benchmark\n"
            "      --variant NAME   random-weight variant when no --model (vit_b, vit_l, vit_h)\n"
            "  -c, --config FILE    variant config (default: from the model)\n"
            "  -r, --runs N         timed encoder runs after one warm-up (default 2; best is reported)\n"
            "  -t, --threads N      worker threads (default: one per CPU)\n"
            "      --sgemm-size N   side of the reference sgemm (default 4096)\n"
            "      --profile        per-op-type breakdown of the timed runs\n"
            "      --no-encoder     only the decoder figures (on a synthetic embedding)\n"
            "      --auto IMG       instead: automatic mask generation of IMG with default options,\n"
            "                       timed as encoder, decoder and postprocessing\n"
            "  -h, --help           this help\n");
}

static double sgemm_gflops(int n, int threads)
{
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)), *c = malloc((size_t)n * n * sizeof(float));
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) {
            a[i] = (float)(i % 7) * 0.1f;
            b[i] = (float)(i % 5) * 0.1f;
        }
        sam_blas_set_threads(threads);
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * n * (double)n * n / (now() - t0) * 1e-9;
            if (g > best) best = g;
        }
        sam_blas_set_threads(1);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static int bench_encoder(const char *model_path, const char *config_path, int n_threads, int runs, int sgemm_n, int profile)
{
    sam_error err = {0};
    double sgemm = sgemm_gflops(sgemm_n, n_threads);
    sam_model *model = NULL;
    sam_graph *graph = NULL;
    sam_session *sess = NULL;
    sam_config *cfg = calloc(1, sizeof *cfg);
    float *image = NULL;
    int rc = 1;
    if (!cfg) goto fail_oom;
    if (tool_load_graph(model_path, config_path, NULL, "image_encoder", NULL, &model, cfg, &graph, &err)) goto fail;
    sam_session_options so = {.n_threads = n_threads};
    if (sam_session_create(graph, &so, &sess, &err)) goto fail;
    const sam_tensor *in = &graph->tensors[graph->inputs[0]];
    int64_t n = sam_numel(in);
    image = malloc((size_t)n * sizeof(float));
    if (!image) goto fail_oom;
    for (int64_t i = 0; i < n; i++) image[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    if (sam_session_set_input(sess, in->name, image, in->ndim, in->shape, &err)) goto fail;
    fprintf(stderr, "sam-bench: encoder warm-up run...\n");
    if (sam_session_run(sess, &err)) goto fail;
    sess->profile = profile;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        if (sam_session_run(sess, &err)) goto fail;
        if (sess->run_seconds < best) best = sess->run_seconds;
    }
    double flops = sam_graph_flops(graph), gflops = flops / best * 1e-9;
    size_t weights = 0;
    for (int i = 0; i < model->n_weights; i++) weights += model->weights[i].nbytes;
    printf("model            %s (%s)\n", model_path, cfg->variant);
    printf("threads          %d\n", n_threads);
    printf("sgemm            %.1f GFLOP/s (OpenBLAS, %dx%d, %d threads)\n", sgemm, sgemm_n, sgemm_n, n_threads);
    printf("encoder          %.3f s (best of %d), %.1f GFLOP, %.1f GFLOP/s\n", best, runs, flops * 1e-9, gflops);
    printf("encoder/sgemm    %.2f\n", gflops / sgemm);
    printf("weights          %.1f MiB (mmapped)\n", (double)weights / (1 << 20));
    printf("activation arena %.1f MiB (no reuse would need %.1f MiB)\n", (double)sess->plan.arena_size / (1 << 20), (double)sess->plan.naive_size / (1 << 20));
    printf("peak RSS         %.1f MiB\n", (double)tool_peak_rss() / (1 << 20));
    if (profile) sam_session_print_profile(sess, stdout);
    rc = 0;
    goto done;
fail_oom:
    sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
fail:
    tool_error("sam-bench", &err);
done:
    free(image);
    sam_session_free(sess);
    sam_graph_free(graph);
    sam_model_close(model);
    free(cfg);
    return rc;
}

/* Times n point prompts (one point each, on a grid over a 1800x1200 image), decoded
 * together; returns seconds per prompt, or a negative value on failure. */
static double time_points(sam_predictor *pred, int n, int multimask, int reps, sam_error *err)
{
    sam_prompt *q = calloc((size_t)n, sizeof *q);
    sam_prediction *out = calloc((size_t)n, sizeof *out);
    float *pts = malloc(sizeof(float) * 2 * (size_t)n);
    static const int one = 1;
    double best = -1;
    if (!q || !out || !pts) goto done;
    int side = 1;
    while (side * side < n) side++;
    for (int i = 0; i < n; i++) {
        pts[2 * i] = 1800.0f * (0.5f + (float)(i % side)) / (float)side;
        pts[2 * i + 1] = 1200.0f * (0.5f + (float)(i / side)) / (float)side;
        q[i] = (sam_prompt){.n_points = 1, .points = pts + 2 * i, .labels = &one};
    }
    for (int r = 0; r <= reps; r++) { /* the first call loads the graphs and caches the image side */
        double t0 = now();
        if (sam_predictor_predict(pred, q, n, multimask, out, err)) goto done;
        double t = (now() - t0) / n;
        for (int i = 0; i < n; i++) sam_prediction_free(&out[i]);
        if (r > 0 && (best < 0 || t < best)) best = t;
    }
done:
    free(q);
    free(out);
    free(pts);
    return best;
}

static int bench_decoder(const char *model_path, const char *config_path, int n_threads, int profile)
{
    sam_error err = {0};
    sam_predictor *pred = NULL;
    float *emb = NULL, *logits = NULL;
    uint8_t *mask = NULL;
    int rc = 1;
    if (sam_predictor_open(model_path, config_path, n_threads, &pred, &err)) goto fail;
    sam_predictor_set_profiling(pred, profile);
    int64_t numel;
    sam_predictor_embedding(pred, &numel);
    emb = malloc(sizeof(float) * (size_t)numel);
    logits = malloc(sizeof(float) * 1800 * 1200);
    mask = malloc(1800 * 1200);
    if (!emb || !logits || !mask) {
        sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < numel; i++) emb[i] = (float)((i * 2654435761u) % 2000) / 1000.0f - 1.0f;
    if (sam_predictor_set_embedding(pred, emb, numel, 1200, 1800, &err)) goto fail;
    double one = time_points(pred, 1, 1, 10, &err);
    if (one < 0) goto fail;
    double batch = time_points(pred, 64, 1, 2, &err);
    if (batch < 0) goto fail;
    int low = sam_predictor_low_res(pred);
    for (int i = 0; i < low * low; i++) emb[i] = (float)(i % 37) - 18.0f;
    double t0 = now();
    for (int r = 0; r < 3; r++)
        if (sam_predictor_upscale(pred, emb, NULL, mask, &err)) goto fail;
    double post = (now() - t0) / 3;
    printf("decoder          %.1f ms per prompt (one point, multimask; prompt encoder + mask decoder)\n", 1e3 * one);
    printf("decoder batch    %.1f ms per prompt (64 points, multimask, %.2f s in all)\n", 1e3 * batch, 64 * batch);
    printf("postprocess      %.1f ms per mask (256x256 logits to a 1800x1200 mask)\n", 1e3 * post);
    if (profile) sam_predictor_print_profile(pred, stdout);
    rc = 0;
    goto done;
fail:
    tool_error("sam-bench", &err);
done:
    free(emb);
    free(logits);
    free(mask);
    sam_predictor_close(pred);
    return rc;
}

static int bench_auto(const char *model_path, const char *config_path, int n_threads, const char *image, int profile)
{
    sam_error err = {0};
    sam_predictor *pred = NULL;
    sam_image img = {0};
    amg_result res = {0};
    int rc = 1;
    if (sam_image_load(image, &img, &err) || sam_predictor_open(model_path, config_path, n_threads, &pred, &err)) goto fail;
    sam_predictor_set_profiling(pred, profile);
    amg_predictor p;
    amg_model_predictor(pred, &p);
    amg_options o;
    amg_default_options(&o);
    o.threads = n_threads;
    double t0 = now();
    if (amg_generate(&p, &img, &o, &res, &err)) goto fail;
    double total = now() - t0;
    int prompts = o.points_per_side * o.points_per_side;
    printf("model            %s (%s)\n", model_path, sam_predictor_config(pred)->variant);
    printf("image            %s (%dx%d), default options: %d points, %d masks kept\n", image, img.width, img.height, prompts, res.n);
    printf("AMG total        %.2f s\n", total);
    printf("  encoder        %.2f s\n", res.seconds_encode);
    printf("  decoder        %.2f s (%.1f ms per point prompt, 3 masks each)\n", res.seconds_predict, 1e3 * res.seconds_predict / prompts);
    printf("  postprocess    %.2f s\n", res.seconds_postprocess);
    if (profile) sam_predictor_print_profile(pred, stdout);
    rc = 0;
    goto done;
fail:
    tool_error("sam-bench", &err);
done:
    amg_result_free(&res);
    sam_image_free(&img);
    sam_predictor_close(pred);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_VARIANT = 256, OPT_SGEMM, OPT_PROFILE, OPT_NO_ENCODER, OPT_AUTO };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"variant", required_argument, 0, OPT_VARIANT}, {"config", required_argument, 0, 'c'},
        {"runs", required_argument, 0, 'r'},  {"threads", required_argument, 0, 't'},         {"sgemm-size", required_argument, 0, OPT_SGEMM},
        {"profile", no_argument, 0, OPT_PROFILE}, {"no-encoder", no_argument, 0, OPT_NO_ENCODER},
        {"auto", required_argument, 0, OPT_AUTO},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *model_path = NULL, *variant = "vit_b", *config_path = NULL;
    long long runs = 2, threads = 0, sgemm_n = 4096;
    int profile = 0, encoder = 1, c;
    const char *auto_image = NULL;
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
        sam_hparams hp;
        if (sam_hparams_for_variant(variant, &hp, &err)) {
            fprintf(stderr, "sam-bench: --variant: %s\n", err.msg);
            return EXIT_USAGE;
        }
        const char *tmp = getenv("TMPDIR");
        snprintf(cached, sizeof cached, "%s/sam-rt-bench-%s-seed0.samrt", tmp && *tmp ? tmp : "/tmp", variant);
        if (access(cached, R_OK) != 0) {
            fprintf(stderr, "sam-bench: generating random-weight %s model %s\n", variant, cached);
            if (sam_write_random_model(&hp, 0, cached, tool_progress, "writing random weights", &err)) {
                tool_error("sam-bench", &err);
                return 1;
            }
        }
        model_path = cached;
    }

    int n_threads = threads ? (int)threads : sam_cpu_count();
    if (auto_image) return bench_auto(model_path, config_path, n_threads, auto_image, profile);
    int rc = encoder ? bench_encoder(model_path, config_path, n_threads, (int)runs, (int)sgemm_n, profile) : 0;
    if (rc == 0) rc = bench_decoder(model_path, config_path, n_threads, profile);
    return rc;
}
