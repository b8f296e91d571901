"""ctypes bindings of include/samrt.h: finding libsamrt, the C structs, the function
prototypes, and C errors as Python exceptions. Everything else in the package is
written on top of this module.

ctypes (not a CPython extension) because the package then installs without a
compiler, works with any Python 3 that has NumPy, and releases the GIL during every
call into the library, so that threads segment concurrently."""

import ctypes
import ctypes.util
import os

# ---- where the library is -------------------------------------------------------


def _candidates():
    env = os.environ.get("SAMRT_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "lib", "libsamrt.so")  # bundled by `pip install ./python`
    yield os.path.join(here, "..", "..", "build", "lib", "libsamrt.so")  # a source tree's build/
    found = ctypes.util.find_library("samrt")
    if found:
        yield found
    yield "libsamrt.so"


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "samrt: cannot load libsamrt.so; build it (cmake -S . -B build && cmake --build build), "
        "install it, or point SAMRT_LIBRARY at it. Tried: " + "; ".join(tried))


lib, library_path = _load()

# ---- errors ---------------------------------------------------------------------

STATUS = ["OK", "ERR_NOMEM", "ERR_IO", "ERR_FORMAT", "ERR_UNSUPPORTED", "ERR_INVALID_ARG", "ERR_SHAPE",
          "ERR_NOT_FOUND", "ERR_GRAPH", "ERR_OVERFLOW", "ERR_CANCELLED"]


class SamError(Exception):
    """An error of the sam-rt library: `status` is its code's name, str() its message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class SamValueError(SamError, ValueError):
    """A bad argument, shape or prompt, or a file whose content is wrong."""


class SamIOError(SamError, OSError):
    """A file that cannot be opened, read or written."""


class SamLookupError(SamError, LookupError):
    """Something named that is not there: a feature, a config, a model family."""


class SamMemoryError(SamError, MemoryError):
    """Out of memory."""


class SamCancelled(SamError):
    """A long run stopped by its progress callback."""


def _exception_for(code, message):
    name = STATUS[code] if 0 <= code < len(STATUS) else "ERR_%d" % code
    if name == "ERR_NOMEM":
        return SamMemoryError(name, message)
    if name == "ERR_IO":
        return SamIOError(name, message)
    if name == "ERR_NOT_FOUND":
        return SamLookupError(name, message)
    if name == "ERR_CANCELLED":
        return SamCancelled(name, message)
    return SamValueError(name, message)


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


def call(fn, *args):
    """Calls a library function that ends in a sam_error *; raises on failure."""
    err = Error()
    code = fn(*args, ctypes.byref(err))
    if code != 0:
        raise _exception_for(code, err.msg.decode("utf-8", "replace"))


# ---- structs (as laid out in samrt.h; tests/python checks them against the compiler) ----

c_int, c_int64, c_uint64, c_float, c_double, c_size_t = ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_float, ctypes.c_double, ctypes.c_size_t
c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p
P = ctypes.POINTER
MAX_DIMS = 6


class Image(ctypes.Structure):
    _fields_ = [("width", c_int), ("height", c_int), ("rgb", P(ctypes.c_uint8))]


class Rle(ctypes.Structure):
    _fields_ = [("height", c_int), ("width", c_int), ("n_counts", c_int), ("counts", P(ctypes.c_uint32))]


class ModelParams(ctypes.Structure):
    _fields_ = [("config_path", c_char_p), ("graph_dir", c_char_p), ("blob_only", c_int)]


PROGRESS_BYTES = ctypes.CFUNCTYPE(None, c_void_p, c_uint64, c_uint64)


class ConvertParams(ctypes.Structure):
    _fields_ = [("progress", PROGRESS_BYTES), ("progress_ctx", c_void_p), ("precision", c_int)]


class ConvertInfo(ctypes.Structure):
    _fields_ = [("family", ctypes.c_char * 16), ("variant", ctypes.c_char * 32), ("n_tensors", c_int), ("bytes", c_int64),
                ("skipped_tensors", c_int), ("version", ctypes.c_char * 8), ("precision", c_int)]


class TensorView(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("ndim", c_int), ("shape", c_int64 * MAX_DIMS), ("data", P(c_float))]


class PredictorParams(ctypes.Structure):
    _fields_ = [("n_threads", c_int), ("fuse", c_int), ("profile", c_int)]


class Prompt(ctypes.Structure):
    _fields_ = [("n_points", c_int), ("points", P(c_float)), ("labels", P(c_int)), ("has_box", c_int), ("box", c_float * 4),
                ("mask_input", P(c_float))]


COORDS_IMAGE, COORDS_INPUT, COORDS_NORMALIZED = 0, 1, 2


class PredictParams(ctypes.Structure):
    _fields_ = [("multimask_output", c_int), ("return_logits", c_int), ("mask_threshold", c_float), ("output_height", c_int),
                ("output_width", c_int), ("skip_masks", c_int), ("coords", c_int), ("max_hole_area", c_int), ("max_sprinkle_area", c_int),
                ("output_rle", c_int)]


class Prediction(ctypes.Structure):
    _fields_ = [("n_objects", c_int), ("n_masks", c_int), ("height", c_int), ("width", c_int), ("low_res", c_int),
                ("masks", P(ctypes.c_uint8)), ("logits", P(c_float)), ("iou", P(c_float)), ("low_res_logits", P(c_float)),
                ("object_scores", P(c_float)), ("rles", P(Rle)), ("areas", P(c_int64)), ("boxes", P(c_int))]


PROGRESS_POINTS = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_int, c_int)


class AmgParams(ctypes.Structure):
    _fields_ = [("points_per_side", c_int), ("points_per_batch", c_int), ("pred_iou_thresh", c_double),
                ("stability_score_thresh", c_double), ("stability_score_offset", c_double), ("mask_threshold", c_double),
                ("box_nms_thresh", c_double), ("crop_n_layers", c_int), ("crop_nms_thresh", c_double),
                ("crop_overlap_ratio", c_double), ("crop_n_points_downscale_factor", c_int), ("min_mask_region_area", c_int),
                ("multimask_output", c_int), ("use_m2m", c_int), ("n_point_grids", c_int), ("point_grid_sizes", P(c_int)),
                ("point_grids", P(P(c_double))), ("n_threads", c_int), ("progress", PROGRESS_POINTS), ("progress_ctx", c_void_p)]


class AmgMask(ctypes.Structure):
    _fields_ = [("segmentation", Rle), ("area", c_int64), ("bbox", c_int * 4), ("predicted_iou", c_float), ("stability_score", c_float),
                ("point_coords", c_double * 2), ("crop_box", c_int * 4)]


class AmgResult(ctypes.Structure):
    _fields_ = [("n_masks", c_int), ("masks", P(AmgMask)), ("seconds_encode", c_double), ("seconds_decode", c_double),
                ("seconds_postprocess", c_double)]


class MaskSource(ctypes.Structure):
    _fields_ = [("family", c_char_p), ("model", c_void_p), ("ctx", c_void_p), ("set_image", c_void_p), ("decode", c_void_p)]


# ---- prototypes -------------------------------------------------------------------

E = P(Error)


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


sam_version = _proto("sam_version", c_char_p)
sam_image_load = _proto("sam_image_load", c_int, c_char_p, P(Image), E)
sam_image_resize = _proto("sam_image_resize", c_int, P(Image), c_int, c_int, P(Image), E)
sam_image_free = _proto("sam_image_free", None, P(Image))
sam_rle_to_coco = _proto("sam_rle_to_coco", c_void_p, P(Rle))
sam_rle_decode = _proto("sam_rle_decode", None, P(Rle), c_void_p)
libc_free = ctypes.CDLL(None).free
libc_free.argtypes = [c_void_p]
libc_free.restype = None

sam_model_open = _proto("sam_model_open", c_int, c_char_p, P(ModelParams), P(c_void_p), E)
sam_model_free = _proto("sam_model_free", None, c_void_p)
sam_model_family = _proto("sam_model_family", c_char_p, c_void_p)
sam_model_variant = _proto("sam_model_variant", c_char_p, c_void_p)
sam_convert_checkpoint = _proto("sam_convert_checkpoint", c_int, c_char_p, c_char_p, P(ConvertParams), P(ConvertInfo), E)

sam_predictor_create = _proto("sam_predictor_create", c_int, c_void_p, P(PredictorParams), P(c_void_p), E)
sam_predictor_free = _proto("sam_predictor_free", None, c_void_p)
sam_predictor_set_image_rgb = _proto("sam_predictor_set_image_rgb", c_int, c_void_p, c_void_p, c_int, c_int, c_size_t, E)
sam_predictor_reset_image = _proto("sam_predictor_reset_image", None, c_void_p)
sam_predictor_is_image_set = _proto("sam_predictor_is_image_set", c_int, c_void_p)
sam_predictor_original_size = _proto("sam_predictor_original_size", None, c_void_p, P(c_int), P(c_int))
sam_predictor_input_size = _proto("sam_predictor_input_size", None, c_void_p, P(c_int), P(c_int))
sam_predictor_low_res = _proto("sam_predictor_low_res", c_int, c_void_p)
sam_predictor_n_features = _proto("sam_predictor_n_features", c_int, c_void_p)
sam_predictor_feature = _proto("sam_predictor_feature", c_int, c_void_p, c_int, P(TensorView), E)
sam_predictor_set_features = _proto("sam_predictor_set_features", c_int, c_void_p, P(TensorView), c_int, c_int, c_int, E)
sam_predictor_predict = _proto("sam_predictor_predict", c_int, c_void_p, P(Prompt), c_int, P(PredictParams), P(P(Prediction)), E)
sam_prediction_free = _proto("sam_prediction_free", None, P(Prediction))
sam_predictor_mask_source = _proto("sam_predictor_mask_source", None, c_void_p, P(MaskSource))

sam_amg_default_params = _proto("sam_amg_default_params", c_int, c_char_p, P(AmgParams), E)
sam_amg_generate_with = _proto("sam_amg_generate_with", c_int, P(MaskSource), P(Image), P(AmgParams), P(P(AmgResult)), E)
sam_amg_result_free = _proto("sam_amg_result_free", None, P(AmgResult))
sam_oracle_create = _proto("sam_oracle_create", c_int, c_char_p, P(MaskSource), E)
sam_oracle_free = _proto("sam_oracle_free", None, P(MaskSource))

STRUCTS = {"sam_error": Error, "sam_image": Image, "sam_rle": Rle, "sam_model_params": ModelParams, "sam_convert_params": ConvertParams,
           "sam_convert_info": ConvertInfo, "sam_tensor_view": TensorView, "sam_predictor_params": PredictorParams, "sam_prompt": Prompt,
           "sam_predict_params": PredictParams, "sam_prediction": Prediction, "sam_amg_params": AmgParams, "sam_amg_mask": AmgMask,
           "sam_amg_result": AmgResult, "sam_mask_source": MaskSource}


def version():
    return sam_version().decode()
