/* sam-bench --dtype: a bf16 or q8 blob against the f32 blob it was made from, timed in
 * the same run and compared output for output. */
#include <cblas.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "tool_common.h"

/* $TMPDIR/<f32 blob's name>-<precision>.samrt, made from the f32 blob when absent. */
static int reduced_blob(const char *f32_path, sam_weight_precision p, char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    snprintf(base, sizeof base, "%s", f32_path);
    char *name = basename(base), *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".samrt") == 0) *dot = 0;
    snprintf(out, cap, "%s/%s-%s.samrt", tmp && *tmp ? tmp : "/tmp", name, sam_precision_name(p));
    if (access(out, R_OK) == 0) return 0;
    fprintf(stderr, "sam-bench: storing %s as %s in %s\n", f32_path, sam_precision_name(p), out);
    /* in a child, so that the f32 blob it reads whole is not in this process's peak RSS */
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("sam-bench: fork");
        return 1;
    }
    if (child == 0) {
        sam_convert_params cp = sam_convert_default_params();
        cp.precision = p;
        cp.progress = tool_progress;
        cp.progress_ctx = "converting";
        sam_error err = {0};
        if (sam_convert_blob(f32_path, &cp, out, NULL, &err)) {
            tool_error("sam-bench", &err);
            _exit(1);
        }
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    return 0;
}

/* 1800x1200 smooth colour fields with edges: something for masks to follow. */
static sam_status synthetic_image(sam_image *img, sam_error *err)
{
    int w = 1800, h = 1200;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            int cell = (x / 300 + y / 240) % 3;
            p[0] = (uint8_t)(cell == 0 ? 200 : 40 + x % 97);
            p[1] = (uint8_t)(cell == 1 ? 180 : 30 + y % 89);
            p[2] = (uint8_t)(cell == 2 ? 220 : (x + y) % 128);
        }
    sam_status st = sam_image_from_rgb(rgb, w, h, (size_t)w * 3, img, err);
    free(rgb);
    return st;
}

enum { GRID_SIDE = 4, GRID_POINTS = GRID_SIDE * GRID_SIDE };

typedef struct {
    double one, batch;   /* seconds per prompt */
    float *embedding;    /* the image's feature 0 */
    int64_t n_embedding;
    sam_prediction *grid; /* GRID_POINTS points on a grid, multimask, with masks */
} decoder_figures;

static int measure_decoder(const char *model_path, const char *config_path, int n_threads, const sam_image *img, decoder_figures *d, sam_error *err)
{
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    int rc = 1;
    memset(d, 0, sizeof *d);
    if (tool_open_predictor(model_path, config_path, n_threads, 0, 1, &model, &pred, err) || sam_predictor_set_image(pred, img, err)) goto done;
    sam_tensor_view f;
    if (sam_predictor_feature(pred, 0, &f, err)) goto done;
    d->n_embedding = 1;
    for (int k = 0; k < f.ndim; k++) d->n_embedding *= f.shape[k];
    if (!(d->embedding = malloc(sizeof(float) * (size_t)d->n_embedding))) {
        tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(d->embedding, f.data, sizeof(float) * (size_t)d->n_embedding);
    if ((d->one = bench_time_points(pred, 1, 10, err)) < 0 || (d->batch = bench_time_points(pred, 64, 2, err)) < 0) goto done;
    static const int one = 1;
    float pts[GRID_POINTS][2];
    sam_prompt q[GRID_POINTS];
    for (int i = 0; i < GRID_POINTS; i++) {
        pts[i][0] = (float)img->width * (0.5f + (float)(i % GRID_SIDE)) / GRID_SIDE;
        pts[i][1] = (float)img->height * (0.5f + (float)(i / GRID_SIDE)) / GRID_SIDE;
        q[i] = (sam_prompt){.n_points = 1, .points = pts[i], .labels = &one};
    }
    sam_predict_params pp = sam_predict_default_params();
    if (sam_predictor_predict(pred, q, GRID_POINTS, &pp, &d->grid, err)) goto done;
    rc = 0;
done:
    sam_predictor_free(pred);
    sam_model_free(model);
    return rc;
}

static void free_figures(decoder_figures *d)
{
    free(d->embedding);
    sam_prediction_free(d->grid);
}

int bench_precision(const char *f32_path, const char *config_path, sam_weight_precision p, int n_threads, int runs, int sgemm_n,
                    const char *image, const char *auto_image)
{
    char reduced[4200];
    if (reduced_blob(f32_path, p, reduced, sizeof reduced)) return 1;
    const char *pname = sam_precision_name(p);
    if (auto_image) {
        double t_reduced, t_f32;
        if (bench_auto(reduced, config_path, n_threads, auto_image, 0, &t_reduced) || bench_auto(f32_path, config_path, n_threads, auto_image, 0, &t_f32))
            return 1;
        printf("AMG %s/f32     %.2f s / %.2f s: %.2fx faster\n", pname, t_reduced, t_f32, t_f32 / t_reduced);
        return 0;
    }
    double sgemm = bench_sgemm_gflops(sgemm_n, n_threads);
    bench_encoder_result er, ef;
    /* the reduced model first, so that the peak RSS read after it is its own */
    if (bench_measure_encoder(reduced, config_path, n_threads, runs, 0, &er)) return 1;
    uint64_t rss_reduced = tool_peak_rss();
    if (er.precision != p) {
        fprintf(stderr, "sam-bench: %s holds %s weights, not %s\n", reduced, sam_precision_name(er.precision), pname);
        return 1;
    }
    if (bench_measure_encoder(f32_path, config_path, n_threads, runs, 0, &ef)) return 1;
    if (ef.precision != SAM_PRECISION_F32) {
        fprintf(stderr, "sam-bench: --dtype compares against an f32 model; %s holds %s weights\n", f32_path, sam_precision_name(ef.precision));
        return 1;
    }
    double gr = er.flops / er.seconds * 1e-9, gf = ef.flops / ef.seconds * 1e-9;
    /* bf16 and int8 products (vdpbf16ps, vpdpbusd) run at 2x and 4x the f32 FMA rate;
     * the portable path's products are f32, so its own limit is the sgemm rate */
    double peak = sgemm * (p == SAM_PRECISION_BF16 ? 2.0 : 4.0);
    printf("models           %s (%s weights) against %s (f32), %s %s\n", reduced, pname, f32_path, er.family, er.variant);
    printf("threads          %d\n", n_threads);
    printf("sgemm            %.1f GFLOP/s (OpenBLAS f32, %s kernels, %dx%d, %d threads)\n", sgemm, openblas_get_corename(), sgemm_n, sgemm_n,
           n_threads);
    printf("encoder %-5s    %.3f s (best of %d), %.1f GFLOP/s, %.2f of sgemm, %.2f of the %s peak (%.0f GFLOP/s: %.0fx sgemm)\n", pname, er.seconds,
           runs, gr, gr / sgemm, gr / peak, pname, peak, peak / sgemm);
    printf("products         %s\n", sam_precision_kernels(p));
    printf("encoder f32      %.3f s (best of %d), %.1f GFLOP/s, %.2f of sgemm\n", ef.seconds, runs, gf, gf / sgemm);
    printf("encoder speed-up %.2fx (%s over f32)\n", ef.seconds / er.seconds, pname);
    printf("weights          %.1f MiB %s, %.1f MiB f32 (%.2fx)\n", (double)er.weight_bytes / (1 << 20), pname, (double)ef.weight_bytes / (1 << 20),
           (double)er.weight_bytes / (double)ef.weight_bytes);
    printf("peak RSS %-5s   %.1f MiB (encoder run, before the f32 model was opened)\n", pname, (double)rss_reduced / (1 << 20));

    sam_error err = {0};
    sam_image img = {0};
    decoder_figures dr = {0}, df = {0};
    int rc = 1;
    if ((image ? sam_image_load(image, &img, &err) : synthetic_image(&img, &err)) ||
        measure_decoder(reduced, config_path, n_threads, &img, &dr, &err) || measure_decoder(f32_path, config_path, n_threads, &img, &df, &err)) {
        tool_error("sam-bench", &err);
        goto done;
    }
    printf("decoder          %.1f ms per prompt %s, %.1f ms f32 (%.2fx)\n", 1e3 * dr.one, pname, 1e3 * df.one, df.one / dr.one);
    printf("decoder batch    %.1f ms per prompt %s, %.1f ms f32 (%.2fx; 64 points)\n", 1e3 * dr.batch, pname, 1e3 * df.batch, df.batch / dr.batch);
    double num = 0, den = 0, iou = 0;
    for (int64_t i = 0; i < df.n_embedding && i < dr.n_embedding; i++) {
        num += ((double)dr.embedding[i] - df.embedding[i]) * ((double)dr.embedding[i] - df.embedding[i]);
        den += (double)df.embedding[i] * df.embedding[i];
    }
    int64_t masks = (int64_t)df.grid->n_objects * df.grid->n_masks, pixels = masks * df.grid->height * df.grid->width, equal = 0;
    for (int64_t i = 0; i < masks; i++) iou = fmax(iou, fabs(dr.grid->iou[i] - df.grid->iou[i]));
    for (int64_t i = 0; i < pixels; i++) equal += dr.grid->masks[i] == df.grid->masks[i];
    printf("accuracy         %s against f32 on %s: embedding relative L2 %.2e, masks %.3f%% equal, IoU max abs %.2e (%d points, 3 masks each)\n",
           pname, image ? image : "a synthetic 1800x1200 image", den > 0 ? sqrt(num / den) : 0.0, 100.0 * (double)equal / (double)pixels, iou,
           GRID_POINTS);
    rc = 0;
done:
    free_figures(&dr);
    free_figures(&df);
    sam_image_free(&img);
    return rc;
}
