/* sam-rt: Segment Anything (SAM, SAM 2) on the CPU, from C.
 *
 * One header for everything a program needs: open a converted model, set an image,
 * segment it from points, boxes and earlier masks (what the official SamPredictor does),
 * or segment everything (SamAutomaticMaskGenerator). Example (the install test compiles
 * and runs this exact code):
 *
 * SAMRT_EXAMPLE_BEGIN
 * #include <samrt.h>
 * #include <stdio.h>
 *
 * int main(int argc, char **argv)
 * {
 *     if (argc < 3) return 2;
 *     sam_error err;
 *     sam_model *model = NULL;
 *     sam_predictor *pred = NULL;
 *     sam_prediction *out = NULL;
 *     sam_amg_result *all = NULL;
 *     sam_image image = {0};
 *     int rc = 1;
 *     if (sam_model_open(argv[1], NULL, &model, &err) || sam_predictor_create(model, NULL, &pred, &err) ||
 *         sam_image_load(argv[2], &image, &err) || sam_predictor_set_image(pred, &image, &err))
 *         goto fail;
 *
 *     // one object: a box, and a background click inside it
 *     float click[2] = {575, 750};
 *     int label = 0;
 *     sam_prompt prompt = {.n_points = 1, .points = click, .labels = &label, .has_box = 1, .box = {425, 600, 700, 875}};
 *     sam_predict_params pp = sam_predict_default_params();
 *     pp.multimask_output = 0;
 *     if (sam_predictor_predict(pred, &prompt, 1, &pp, &out, &err)) goto fail;
 *     printf("mask: IoU %.3f, area %lld\n", out->iou[0], (long long)sam_mask_stats(out->masks, out->height, out->width, NULL));
 *
 *     // everything, with the generator's default options
 *     sam_amg_params ap;
 *     if (sam_amg_default_params(sam_model_family(model), &ap, &err) || sam_amg_generate(pred, &image, &ap, &all, &err)) goto fail;
 *     printf("%d masks\n", all->n_masks);
 *     rc = 0;
 * fail:
 *     if (rc) fprintf(stderr, "error: %s\n", err.msg);
 *     sam_amg_result_free(all);
 *     sam_prediction_free(out);
 *     sam_image_free(&image);
 *     sam_predictor_free(pred);
 *     sam_model_free(model);
 *     return rc;
 * }
 * SAMRT_EXAMPLE_END
 *
 * Conventions. Every fallible call returns a sam_status (SAM_OK is 0) and, on failure,
 * fills the sam_error it is given (it may be NULL) with the code and a one-line message
 * naming the file, line, argument or tensor at fault. Nothing is printed and nothing
 * exits. Objects the library makes are freed by the matching *_free (which accept NULL).
 * Coordinates are pixels of the original image unless said otherwise. Parameter structs
 * come from *_default_params(); a NULL params pointer means the defaults.
 *
 * Threads. A model is read-only once open: any number of predictors, in any threads,
 * may share it. A predictor (and a session) is used by one thread at a time; it runs
 * its work on its own pool of n_threads threads. The library changes no process-wide
 * state (it links a single-threaded BLAS and does its own threading).
 *
 * Model families are data: the blob names its family ("sam", "sam2") and variant; the
 * variant's config (graphs/configs/<variant>.yaml, found in the installed data folder,
 * the source tree, or $SAMRT_GRAPH_DIR) says which graphs make the model and how it is
 * fed and read. */
#ifndef SAMRT_H
#define SAMRT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SAMRT_API __attribute__((visibility("default")))
#else
#define SAMRT_API
#endif

#define SAMRT_VERSION_MAJOR 0
#define SAMRT_VERSION_MINOR 2
#define SAMRT_VERSION_PATCH 0
#define SAMRT_VERSION "0.2.0"

/* The library's version at run time (it may differ from SAMRT_VERSION of the header a
 * program was compiled with). */
SAMRT_API const char *sam_version(void);

/* ---------------------------------------------------------------------------------
 * Status codes: one list gives the enum and the messages (as libuv does).
 * --------------------------------------------------------------------------------- */

#define SAM_STATUS_LIST(X)                                              \
    X(OK, "success")                                                    \
    X(ERR_NOMEM, "out of memory")                                       \
    X(ERR_IO, "input/output error")                                     \
    X(ERR_FORMAT, "malformed file")                                     \
    X(ERR_UNSUPPORTED, "unsupported content")                           \
    X(ERR_INVALID_ARG, "invalid argument")                              \
    X(ERR_SHAPE, "shape mismatch")                                      \
    X(ERR_NOT_FOUND, "not found")                                       \
    X(ERR_GRAPH, "invalid graph")                                       \
    X(ERR_OVERFLOW, "size overflow")                                    \
    X(ERR_CANCELLED, "cancelled")

typedef enum {
#define SAM_STATUS_ENUM(name, msg) SAM_##name,
    SAM_STATUS_LIST(SAM_STATUS_ENUM)
#undef SAM_STATUS_ENUM
    SAM_STATUS_COUNT
} sam_status;

typedef struct sam_error {
    sam_status code;
    char msg[512];
} sam_error;

/* "out of memory", "malformed file", ... */
SAMRT_API const char *sam_status_str(sam_status code);

/* Writes `size` bytes to path, whole or not at all (a temporary file renamed into place):
 * how the library writes every file, for programs' own outputs too. */
SAMRT_API sam_status sam_file_write(const char *path, const void *data, size_t size, sam_error *err);

/* ---------------------------------------------------------------------------------
 * Images: 8-bit RGB, row-major, HxWx3.
 * --------------------------------------------------------------------------------- */

typedef struct sam_image {
    int width, height;
    uint8_t *rgb; /* height * width * 3 bytes, no row padding */
} sam_image;

/* JPEG (EXIF orientation applied, as viewers show the picture) or PNG (gray, RGB,
 * RGBA, palette, 16-bit: all become 8-bit RGB; alpha is dropped). Images over 32768
 * pixels a side or 2^28 pixels are refused. */
SAMRT_API sam_status sam_image_load(const char *path, sam_image *out, sam_error *err);
/* The same from bytes in memory; `name` is used in messages. */
SAMRT_API sam_status sam_image_decode(const void *data, size_t size, const char *name, sam_image *out, sam_error *err);
/* A copy of width x height RGB pixels with rows `stride` bytes apart (0: 3 * width). */
SAMRT_API sam_status sam_image_from_rgb(const uint8_t *rgb, int width, int height, size_t stride, sam_image *out, sam_error *err);
/* PIL's Image.resize(BILINEAR) of 8-bit RGB (antialiased when shrinking), bit-exact. */
SAMRT_API sam_status sam_image_resize(const sam_image *in, int width, int height, sam_image *out, sam_error *err);
SAMRT_API void sam_image_free(sam_image *image);
/* PNG of 1 (gray) or 3 (RGB) channels; the file appears whole or not at all. */
SAMRT_API sam_status sam_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels, sam_error *err);
/* The same into memory: *out (malloc'd, free() it) of *size bytes. */
SAMRT_API sam_status sam_png_encode(int width, int height, int channels, const uint8_t *pixels, void **out, size_t *size, sam_error *err);

/* ---------------------------------------------------------------------------------
 * Masks and their run-length encoding (COCO's: column-major runs starting with zeros).
 * --------------------------------------------------------------------------------- */

typedef struct sam_rle {
    int height, width;
    int n_counts;
    uint32_t *counts; /* alternating runs of 0s and 1s down the columns, the first of 0s */
} sam_rle;

/* From a row-major height x width mask (non-zero = in the mask). */
SAMRT_API sam_status sam_rle_encode(const uint8_t *mask, int height, int width, sam_rle *out, sam_error *err);
/* Into a row-major height x width 0/1 mask. */
SAMRT_API void sam_rle_decode(const sam_rle *rle, uint8_t *mask);
SAMRT_API int64_t sam_rle_area(const sam_rle *rle);
/* COCO's compressed counts string (pycocotools' rleToString); free() it. NULL when out of memory. */
SAMRT_API char *sam_rle_to_coco(const sam_rle *rle);
/* The inverse (rleFrString); a malformed string is SAM_ERR_FORMAT. */
SAMRT_API sam_status sam_rle_from_coco(const char *counts, int height, int width, sam_rle *out, sam_error *err);
SAMRT_API void sam_rle_free(sam_rle *rle);
/* The pixels set in a row-major mask, and (box non-NULL) the columns and rows of its
 * first and last pixels: x0, y0, x1, y1 (all 0 when it is empty). */
SAMRT_API int64_t sam_mask_stats(const uint8_t *mask, int height, int width, int box[4]);

/* How the weights of linear layers and (transposed) convolutions are stored: f32; bf16;
 * or q8, int8 with an f32 scale per output channel. Norms, biases, positional tables,
 * embeddings and the prompt encoder stay f32. The kernels follow the blob: bf16 rounds
 * activations to bf16 for its products, q8 quantizes each activation row to int8. */
typedef enum { SAM_PRECISION_F32 = 0, SAM_PRECISION_BF16 = 1, SAM_PRECISION_Q8 = 2 } sam_weight_precision;

/* "f32", "bf16", "q8" */
SAMRT_API const char *sam_precision_name(sam_weight_precision p);
/* Parses one of those spellings; 0 on success, -1 otherwise. */
SAMRT_API int sam_precision_parse(const char *s, sam_weight_precision *out);
/* Which kernels run the products of weights stored at precision p on this CPU (for
 * benchmarks and bug reports). */
SAMRT_API const char *sam_precision_kernels(sam_weight_precision p);

/* ---------------------------------------------------------------------------------
 * Models: a weight blob made by sam-convert (mmapped, read-only) and its config.
 * --------------------------------------------------------------------------------- */

typedef struct sam_model sam_model;

typedef struct sam_model_params {
    const char *config_path; /* a variant config instead of the one the blob names, or NULL */
    const char *graph_dir;   /* where graphs/ and graphs/configs/ are, or NULL to search */
    int blob_only;           /* open only the weights (for inspecting a blob without its graphs) */
} sam_model_params;

SAMRT_API sam_model_params sam_model_default_params(void);
SAMRT_API sam_status sam_model_open(const char *path, const sam_model_params *params, sam_model **out, sam_error *err);
SAMRT_API void sam_model_free(sam_model *model);
/* "sam" or "sam2" (blobs that record none are "sam"), the variant ("vit_b", ...). */
SAMRT_API const char *sam_model_family(const sam_model *model);
SAMRT_API const char *sam_model_variant(const sam_model *model);
SAMRT_API const char *sam_model_path(const sam_model *model);
/* The side of the model's square input frame (1024), or 0 for a blob opened without its config. */
SAMRT_API int sam_model_image_size(const sam_model *model);
SAMRT_API int sam_model_n_tensors(const sam_model *model);
SAMRT_API int64_t sam_model_weight_bytes(const sam_model *model);
/* How the blob stores its weights (f32 for blobs that record none). */
SAMRT_API sam_weight_precision sam_model_precision(const sam_model *model);
/* The blob's metadata (family, variant, hyper-parameters): entry i as name and value
 * text; returns 0 past the last entry. */
SAMRT_API int sam_model_meta(const sam_model *model, int i, const char **name, char *value, size_t cap);

/* ---------------------------------------------------------------------------------
 * Converting official checkpoints (torch.save zip archives; no Python needed).
 * --------------------------------------------------------------------------------- */

typedef struct sam_convert_params {
    void (*progress)(void *ctx, uint64_t done_bytes, uint64_t total_bytes); /* or NULL */
    void *progress_ctx;
    sam_weight_precision precision; /* default f32 */
} sam_convert_params;

typedef struct sam_convert_info {
    char family[16], variant[32];
    int n_tensors;
    int64_t bytes;
    int skipped_tensors; /* tensors of the checkpoint the image path does not read */
    char version[8];     /* SAM 2's "2.0" or "2.1"; "" for SAM */
    sam_weight_precision precision;
} sam_convert_info;

SAMRT_API sam_convert_params sam_convert_default_params(void);
/* Detects family and variant from the tensor names and shapes, checks every tensor and
 * writes the blob under a temporary name, renamed into place when complete. */
SAMRT_API sam_status sam_convert_checkpoint(const char *checkpoint_path, const char *out_path, const sam_convert_params *params,
                                            sam_convert_info *info, sam_error *err);
/* A blob of the official shapes of `variant` ("vit_b", "vit_l", "vit_h", or SAM 2.1's
 * "hiera_t", "hiera_s", "hiera_b+", "hiera_l") filled with seeded random values, for
 * benchmarks (its masks mean nothing). */
SAMRT_API sam_status sam_convert_random(const char *variant, uint64_t seed, const char *out_path, const sam_convert_params *params,
                                        sam_convert_info *info, sam_error *err);
/* Re-stores an f32 blob at params->precision (the metadata carried over). */
SAMRT_API sam_status sam_convert_blob(const char *blob_path, const sam_convert_params *params, const char *out_path, sam_convert_info *info,
                                      sam_error *err);

/* ---------------------------------------------------------------------------------
 * Tensors crossing the API: a read-only view (data is owned by the library and valid
 * until the object it came from changes), or a description of the caller's data.
 * --------------------------------------------------------------------------------- */

#define SAM_TENSOR_MAX_DIMS 6

typedef struct sam_tensor_view {
    const char *name;
    int ndim;
    int64_t shape[SAM_TENSOR_MAX_DIMS];
    const float *data;
} sam_tensor_view;

/* ---------------------------------------------------------------------------------
 * The predictor (SamPredictor / SAM2ImagePredictor): set an image once, then segment
 * it from prompts in milliseconds.
 * --------------------------------------------------------------------------------- */

typedef struct sam_predictor sam_predictor;

typedef struct sam_predictor_params {
    int n_threads; /* 0: one per CPU */
    int fuse;      /* 1: the fusion pass rewrites the graphs (default; SAMRT_NO_FUSE=1 turns it off) */
    int profile;   /* time every node of every run (see sam_predictor_print_profile) */
} sam_predictor_params;

SAMRT_API sam_predictor_params sam_predictor_default_params(void);
/* The model must outlive the predictor. */
SAMRT_API sam_status sam_predictor_create(const sam_model *model, const sam_predictor_params *params, sam_predictor **out,
                                          sam_error *err);
SAMRT_API void sam_predictor_free(sam_predictor *pred);

/* Preprocesses the image as the official code does (resize, normalize, pad, as the
 * model's config says) and runs the image encoder. */
SAMRT_API sam_status sam_predictor_set_image(sam_predictor *pred, const sam_image *image, sam_error *err);
/* The same from the caller's pixels: width x height RGB, rows `stride` bytes apart (0: 3 * width). */
SAMRT_API sam_status sam_predictor_set_image_rgb(sam_predictor *pred, const uint8_t *rgb, int width, int height, size_t stride, sam_error *err);
SAMRT_API sam_status sam_predictor_set_image_file(sam_predictor *pred, const char *path, sam_error *err);
/* The embedding cache: when cache_path holds the features of this image for this model
 * they are loaded (*reused = 1), else the encoder runs and they are saved there. */
SAMRT_API sam_status sam_predictor_set_image_cached(sam_predictor *pred, const sam_image *image, const char *cache_path, int *reused,
                                                    sam_error *err);
SAMRT_API void sam_predictor_reset_image(sam_predictor *pred);
SAMRT_API int sam_predictor_is_image_set(const sam_predictor *pred);
/* The image's size, and the size of the image inside the model's input frame. */
SAMRT_API void sam_predictor_original_size(const sam_predictor *pred, int *height, int *width);
SAMRT_API void sam_predictor_input_size(const sam_predictor *pred, int *height, int *width);
/* The side of the low-res logits the model outputs and takes as mask inputs (256). */
SAMRT_API int sam_predictor_low_res(const sam_predictor *pred);
/* Seconds the encoder took for the current image (0 when its features were set). */
SAMRT_API double sam_predictor_encoder_seconds(const sam_predictor *pred);

/* The image features the decoder reads (SAM: "image_embeddings" 1x256x64x64; SAM 2:
 * "image_embed" and the two high-res features), in the config's order. The views name
 * and shape each feature; their data is NULL until an image is set. */
SAMRT_API int sam_predictor_n_features(const sam_predictor *pred);
SAMRT_API sam_status sam_predictor_feature(const sam_predictor *pred, int i, sam_tensor_view *out, sam_error *err);
/* Sets every feature (names and shapes as above, any order) for an image of the given
 * size: what get/set_image_embedding round trips do. */
SAMRT_API sam_status sam_predictor_set_features(sam_predictor *pred, const sam_tensor_view *features, int n, int orig_height,
                                                int orig_width, sam_error *err);
/* The features of the current image in a file (atomically written), and back. */
SAMRT_API sam_status sam_predictor_save_features(const sam_predictor *pred, const char *path, sam_error *err);
SAMRT_API sam_status sam_predictor_load_features(sam_predictor *pred, const char *path, sam_error *err);

/* One object's prompt. */
typedef struct sam_prompt {
    int n_points;
    const float *points; /* n_points x (x, y) */
    const int *labels;   /* n_points labels: 1 foreground, 0 background */
    int has_box;
    float box[4];            /* x0, y0, x1, y1 */
    const float *mask_input; /* low-res logits (low_res x low_res) of an earlier prediction, or NULL */
} sam_prompt;

/* Which frame prompt coordinates are in. */
typedef enum {
    SAM_COORDS_IMAGE = 0, /* original image pixels (predict()) */
    SAM_COORDS_INPUT,     /* pixels of the model's input frame (SamPredictor.predict_torch) */
    SAM_COORDS_NORMALIZED /* fractions of the image's width and height (SAM 2's normalize_coords=False) */
} sam_coord_frame;

typedef struct sam_predict_params {
    int multimask_output; /* 1: three masks per object; 0: one (default 1, as predict()) */
    int return_logits;    /* 1: `logits` at the output size instead of `masks` */
    float mask_threshold; /* masks are logits > this (the model's mask_threshold, 0) */
    int output_height, output_width; /* size of masks/logits; 0: the image's */
    int skip_masks;       /* 1: only low-res logits, IoU and object scores */
    sam_coord_frame coords;
    /* SAM2ImagePredictor's max_hole_area and max_sprinkle_area (default 0: off): before
     * the upscaling, 8-connected regions of the low-res logits at most this many pixels,
     * holes (<= mask_threshold) and sprinkles (> it), flip to mask_threshold -/+ 10, as the
     * official sam2._C extension does; the returned low-res logits stay as decoded */
    int max_hole_area, max_sprinkle_area;
    /* 1: the masks as RLE in `rles`, with `areas` and `boxes`, instead of `masks`: each
     * mask is upscaled column by column straight into its RLE (what a server sends), the
     * masks spread over the threads; never a dense mask. Not with return_logits. */
    int output_rle;
} sam_predict_params;

SAMRT_API sam_predict_params sam_predict_default_params(void);

typedef struct sam_prediction {
    int n_objects, n_masks; /* masks per object: 3 with multimask_output, else 1 */
    int height, width;      /* of masks and logits */
    int low_res;            /* side of the low-res logits (256) */
    uint8_t *masks;         /* n_objects x n_masks x height x width, 0/1 (NULL with return_logits or skip_masks) */
    float *logits;          /* the same, as logits (with return_logits only) */
    float *iou;             /* n_objects x n_masks predicted IoU */
    float *low_res_logits;  /* n_objects x n_masks x low_res x low_res, to feed back as mask_input */
    float *object_scores;   /* n_objects object-score logits, or NULL when the model has none (SAM) */
    sam_rle *rles;          /* with output_rle: n_objects x n_masks masks (else NULL) */
    int64_t *areas;         /* with output_rle: their pixel counts */
    int *boxes;             /* with output_rle: 4 per mask, x0, y0, x1, y1 of the first and last pixels (0s when empty) */
} sam_prediction;

/* Segments n objects at once (as predict_torch): prompts of the same shape are decoded
 * together. Fails when no image is set, or on a bad prompt (NaN, a label other than 0/1,
 * a reversed box, neither points nor a box), naming the prompt. */
SAMRT_API sam_status sam_predictor_predict(sam_predictor *pred, const sam_prompt *prompts, int n, const sam_predict_params *params,
                                           sam_prediction **out, sam_error *err);
SAMRT_API void sam_prediction_free(sam_prediction *prediction);
/* Per op type and slowest-node tables of every graph the predictor ran (profile = 1). */
SAMRT_API void sam_predictor_print_profile(const sam_predictor *pred, FILE *f);

/* ---------------------------------------------------------------------------------
 * Automatic mask generation (SamAutomaticMaskGenerator / SAM2AutomaticMaskGenerator).
 * --------------------------------------------------------------------------------- */

typedef struct sam_amg_params {
    int points_per_side;    /* 32; 0 when point_grids are given */
    int points_per_batch;   /* 64 */
    double pred_iou_thresh;  /* SAM 0.88, SAM 2 0.8 */
    double stability_score_thresh;  /* 0.95 */
    double stability_score_offset;  /* 1.0 */
    double mask_threshold;   /* 0.0 (SAM 2's option; SAM's model threshold) */
    double box_nms_thresh;   /* 0.7 */
    int crop_n_layers;       /* 0 */
    double crop_nms_thresh;  /* 0.7 */
    double crop_overlap_ratio; /* 512 / 1500 */
    int crop_n_points_downscale_factor; /* 1 */
    int min_mask_region_area; /* 0 */
    int multimask_output;   /* 1 (SAM 2's option; SAM always uses three masks) */
    int use_m2m;            /* 0 (SAM 2 only: a second pass with each mask as mask input) */
    /* your own normalized points instead of points_per_side: one grid per crop layer */
    int n_point_grids;
    const int *point_grid_sizes;      /* points in each grid */
    const double *const *point_grids; /* point_grid_sizes[i] x (x, y) in [0, 1] */
    int n_threads;          /* for the postprocessing (0: one per CPU) */
    /* called after every batch of points; a non-zero return cancels (SAM_ERR_CANCELLED) */
    int (*progress)(void *ctx, int points_done, int points_total, int crop, int n_crops);
    void *progress_ctx;
} sam_amg_params;

/* The generator's defaults for a family ("sam" or "sam2", from its config). */
SAMRT_API sam_status sam_amg_default_params(const char *family, sam_amg_params *out, sam_error *err);
/* 1 when the family's generator has the option, by its official keyword ("use_m2m",
 * "mask_threshold", "multimask_output" are SAM 2's only), else 0: for front ends that
 * refuse an option the model's generator does not have rather than ignore it. */
SAMRT_API int sam_amg_has_option(const char *family, const char *option);

typedef struct sam_amg_mask {
    sam_rle segmentation; /* the whole image */
    int64_t area;
    int bbox[4]; /* x, y, w, h (w, h as last - first, as the official records) */
    float predicted_iou, stability_score;
    double point_coords[2];
    int crop_box[4]; /* x, y, w, h */
} sam_amg_mask;

typedef struct sam_amg_result {
    int n_masks;
    sam_amg_mask *masks;
    double seconds_encode, seconds_decode, seconds_postprocess;
} sam_amg_result;

/* Segments everything in `image` with the predictor's model (its current image is
 * replaced by the image's crops). */
SAMRT_API sam_status sam_amg_generate(sam_predictor *pred, const sam_image *image, const sam_amg_params *params, sam_amg_result **out,
                                      sam_error *err);
SAMRT_API void sam_amg_result_free(sam_amg_result *result);

/* The generator takes its masks from any source behind this interface. The generator
 * calls set_image with each crop, then decode with batches of single-point prompts
 * (label 1) at (x, y) in the model's input frame of the crop, with low-res mask inputs
 * (n x L x L) for SAM 2's second pass or NULL; decode writes the low-res logits of every
 * mask token (n x T x L x L) and their predicted IoU (n x T). T and L are the family's
 * (SAM and SAM 2: 4 and 256); everything after (token choice, upscaling, filters) is the
 * generator's. */
typedef struct sam_mask_source {
    const char *family;     /* whose pre- and post-processing applies: "sam" or "sam2" */
    const sam_model *model; /* the model's config, or NULL for the family's */
    void *ctx;
    sam_status (*set_image)(void *ctx, const sam_image *crop, sam_error *err);
    sam_status (*decode)(void *ctx, int n, const double *points, const float *mask_input, float *logits, float *iou, sam_error *err);
} sam_mask_source;

/* The predictor as a mask source (what sam_amg_generate uses). */
SAMRT_API void sam_predictor_mask_source(sam_predictor *pred, sam_mask_source *out);
SAMRT_API sam_status sam_amg_generate_with(const sam_mask_source *source, const sam_image *image, const sam_amg_params *params,
                                           sam_amg_result **out, sam_error *err);
/* A test aid: the synthetic mask predictors of the golden data's README (a closed form
 * of the prompt point, no model), for "sam" or "sam2"; free with sam_oracle_free. */
SAMRT_API sam_status sam_oracle_create(const char *family, sam_mask_source *out, sam_error *err);
SAMRT_API void sam_oracle_free(sam_mask_source *source);

/* ---------------------------------------------------------------------------------
 * The graph runtime underneath, for running any graph of a model on tensors.
 * --------------------------------------------------------------------------------- */

typedef struct sam_graph sam_graph;
typedef struct sam_session sam_session;

/* `graph` names a graph of the model's config ("image_encoder", "prompt_encoder",
 * "mask_decoder") or is a YAML file. `params` are "name=value" overrides of the config's
 * parameters (the decoder graphs take batch, num_tokens, has_mask_input), NULL-terminated
 * or NULL. Errors in the file come as file:line:column. */
SAMRT_API sam_status sam_graph_load(const sam_model *model, const char *graph, const char *const *params, sam_graph **out, sam_error *err);
SAMRT_API void sam_graph_free(sam_graph *graph);
SAMRT_API const char *sam_graph_name(const sam_graph *graph);
SAMRT_API int sam_graph_n_inputs(const sam_graph *graph);
/* Input i's name and declared shape (data NULL). */
SAMRT_API void sam_graph_input(const sam_graph *graph, int i, sam_tensor_view *out);
/* Keeps a tensor (by name: graph outputs, or internal ones such as "x.3") readable after
 * runs of sessions created from now on. */
SAMRT_API sam_status sam_graph_keep(sam_graph *graph, const char *name, sam_error *err);
/* FLOPs of one run. */
SAMRT_API double sam_graph_flops(const sam_graph *graph);

typedef struct sam_session_params {
    int n_threads; /* 0: one per CPU */
    int fuse;      /* 1: rewrite the graph by the fusion patterns (default; SAMRT_NO_FUSE=1 turns it off) */
    int reference; /* 1: the plain reference kernels (slow; for checking) */
    int profile;   /* 1: time every node */
    int trace;     /* 1: record per-node, per-thread spans for sam_session_write_trace */
    size_t max_arena_bytes; /* refuse a graph whose activations need more (0: no limit) */
} sam_session_params;

SAMRT_API sam_session_params sam_session_default_params(void);
/* Plans memory for a private copy of the graph (which stays as loaded: sessions in
 * several threads may share one graph). */
SAMRT_API sam_status sam_session_create(const sam_graph *graph, const sam_session_params *params, sam_session **out, sam_error *err);
SAMRT_API void sam_session_free(sam_session *session);
/* Copies data into an input; the shape must be the declared one. */
SAMRT_API sam_status sam_session_set_input(sam_session *session, const char *name, const float *data, int ndim, const int64_t *shape,
                                           sam_error *err);
SAMRT_API sam_status sam_session_run(sam_session *session, sam_error *err);
/* A tensor after a run: outputs, inputs, weights, and tensors kept with sam_graph_keep. */
SAMRT_API sam_status sam_session_tensor(const sam_session *session, const char *name, sam_tensor_view *out, sam_error *err);
SAMRT_API double sam_session_last_run_seconds(const sam_session *session);
SAMRT_API size_t sam_session_arena_bytes(const sam_session *session);
/* Reports: per op type and slowest nodes (profile = 1), the fusions applied, the memory
 * plan, and a Chrome trace (trace = 1; open it in Perfetto or chrome://tracing). */
SAMRT_API void sam_session_print_profile(const sam_session *session, FILE *f);
SAMRT_API void sam_session_print_fusion(const sam_session *session, FILE *f);
SAMRT_API void sam_session_print_plan(const sam_session *session, FILE *f);
SAMRT_API sam_status sam_session_write_trace(const sam_session *session, const char *path, sam_error *err);

/* ---------------------------------------------------------------------------------
 * NumPy .npy files (float32 and uint8, C order): how tensors go in and out of programs.
 * --------------------------------------------------------------------------------- */

typedef enum { SAM_NPY_F32 = 0, SAM_NPY_U8 = 3 } sam_npy_dtype;

typedef struct sam_npy {
    sam_npy_dtype dtype;
    int ndim;
    int64_t shape[SAM_TENSOR_MAX_DIMS];
    void *data;
} sam_npy;

SAMRT_API sam_status sam_npy_load(const char *path, sam_npy *out, sam_error *err);
/* Written whole or not at all. */
SAMRT_API sam_status sam_npy_save(const char *path, sam_npy_dtype dtype, int ndim, const int64_t *shape, const void *data, sam_error *err);
SAMRT_API void sam_npy_free(sam_npy *array);

#ifdef __cplusplus
}
#endif

#endif
