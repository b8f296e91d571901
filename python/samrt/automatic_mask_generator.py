"""SamAutomaticMaskGenerator: the official generator's options, defaults and records, over
the C generator."""

import ctypes

import numpy as np

from . import _lib
from .predictor import SamPredictor

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


def _records(result, output_mode, box_type=int):
    """The official list of dicts from a sam_amg_result (SAM 2's give boxes as floats)."""
    r = result.contents
    out = []
    for i in range(r.n_masks):
        m = r.masks[i]
        rle = m.segmentation
        h, w = rle.height, rle.width
        if output_mode == "coco_rle":
            s = _lib.sam_rle_to_coco(ctypes.byref(rle))
            if not s:
                raise MemoryError("out of memory encoding a mask")
            try:
                seg = {"size": [h, w], "counts": ctypes.string_at(s).decode("ascii")}
            finally:
                _lib.libc_free(s)
        elif output_mode == "uncompressed_rle":
            seg = {"size": [h, w], "counts": [int(c) for c in rle.counts[:rle.n_counts]]}
        else:
            mask = np.empty((h, w), dtype=np.uint8)
            _lib.sam_rle_decode(ctypes.byref(rle), mask.ctypes.data)
            seg = mask.view(np.bool_)
        out.append({
            "segmentation": seg,
            "area": int(m.area),
            "bbox": [box_type(v) for v in m.bbox],
            "predicted_iou": float(m.predicted_iou),
            "point_coords": [[float(m.point_coords[0]), float(m.point_coords[1])]],
            "stability_score": float(m.stability_score),
            "crop_box": [box_type(v) for v in m.crop_box],
        })
    return out


class _Generator:
    """What SAM's and SAM 2's generators share: options into sam_amg_params, and the run."""

    _family = "sam"

    def __init__(self, model, points_per_side, point_grids, output_mode, options, n_threads=0):
        if (points_per_side is None) == (point_grids is None):
            raise ValueError("Exactly one of points_per_side or point_grid must be provided.")
        if output_mode not in OUTPUT_MODES:
            raise ValueError("Unknown output_mode %r (binary_mask, uncompressed_rle or coco_rle)." % (output_mode,))
        self.model = model
        self.output_mode = output_mode
        self.params = _lib.AmgParams()
        family = getattr(model, "family", self._family)
        _lib.call(_lib.sam_amg_default_params, family.encode(), ctypes.byref(self.params))
        for name, value in options.items():
            setattr(self.params, name, value)
        self.params.n_threads = n_threads
        self._grids = []
        if point_grids is not None:
            self.params.points_per_side = 0
            grids = [np.ascontiguousarray(g, dtype=np.float64).reshape(-1, 2) for g in point_grids]
            self._grids = grids
            self._sizes = (ctypes.c_int * len(grids))(*[g.shape[0] for g in grids])
            self._ptrs = (ctypes.POINTER(ctypes.c_double) * len(grids))(*[g.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for g in grids])
            self.params.n_point_grids = len(grids)
            self.params.point_grid_sizes = self._sizes
            self.params.point_grids = self._ptrs
        else:
            self.params.points_per_side = int(points_per_side)
        if hasattr(model, "_mask_source"):  # the golden oracle (samrt.testing), a test aid
            self.predictor = None
            self._source = model._mask_source()
        else:
            self.predictor = SamPredictor(model, n_threads=n_threads)
            self._source = _lib.MaskSource()
            _lib.sam_predictor_mask_source(self.predictor._handle, ctypes.byref(self._source))

    def generate(self, image):
        """The masks of the whole image (HxWx3 uint8), as a list of records."""
        image = np.ascontiguousarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("the image must be an HxWx3 uint8 array, got %s %s" % (image.dtype, image.shape))
        img = _lib.Image(image.shape[1], image.shape[0], image.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
        result = ctypes.POINTER(_lib.AmgResult)()
        _lib.call(_lib.sam_amg_generate_with, ctypes.byref(self._source), ctypes.byref(img), ctypes.byref(self.params), ctypes.byref(result))
        try:
            self.last_timing = (result.contents.seconds_encode, result.contents.seconds_decode, result.contents.seconds_postprocess)
            return _records(result, self.output_mode, float if self._family == "sam2" else int)
        finally:
            _lib.sam_amg_result_free(result)


class SamAutomaticMaskGenerator(_Generator):
    """Segments everything in an image by prompting a grid of points, as
    segment_anything.SamAutomaticMaskGenerator does."""

    def __init__(self, model, points_per_side=32, points_per_batch=64, pred_iou_thresh=0.88, stability_score_thresh=0.95,
                 stability_score_offset=1.0, box_nms_thresh=0.7, crop_n_layers=0, crop_nms_thresh=0.7, crop_overlap_ratio=512 / 1500,
                 crop_n_points_downscale_factor=1, point_grids=None, min_mask_region_area=0, output_mode="binary_mask"):
        options = dict(points_per_batch=int(points_per_batch), pred_iou_thresh=float(pred_iou_thresh),
                       stability_score_thresh=float(stability_score_thresh), stability_score_offset=float(stability_score_offset),
                       box_nms_thresh=float(box_nms_thresh), crop_n_layers=int(crop_n_layers), crop_nms_thresh=float(crop_nms_thresh),
                       crop_overlap_ratio=float(crop_overlap_ratio), crop_n_points_downscale_factor=int(crop_n_points_downscale_factor),
                       min_mask_region_area=int(min_mask_region_area))
        super().__init__(model, points_per_side, point_grids, output_mode, options)
        self.points_per_batch, self.pred_iou_thresh, self.stability_score_thresh = points_per_batch, pred_iou_thresh, stability_score_thresh
        self.stability_score_offset, self.box_nms_thresh, self.crop_n_layers = stability_score_offset, box_nms_thresh, crop_n_layers
        self.crop_nms_thresh, self.crop_overlap_ratio = crop_nms_thresh, crop_overlap_ratio
        self.crop_n_points_downscale_factor, self.min_mask_region_area = crop_n_points_downscale_factor, min_mask_region_area
