"""SAM2AutomaticMaskGenerator: the official SAM 2 generator's options, defaults and records,
over the C generator."""

from ..automatic_mask_generator import _Generator


class SAM2AutomaticMaskGenerator(_Generator):
    """Segments everything in an image by prompting a grid of points, as
    sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator does. min_mask_region_area
    removes small holes and sprinkles on the low-res logits, as the official code does
    when its sam2._C extension is present (an official CPU-only install skips it)."""

    _family = "sam2"

    def __init__(self, model, points_per_side=32, points_per_batch=64, pred_iou_thresh=0.8, stability_score_thresh=0.95,
                 stability_score_offset=1.0, mask_threshold=0.0, box_nms_thresh=0.7, crop_n_layers=0, crop_nms_thresh=0.7,
                 crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=1, point_grids=None, min_mask_region_area=0,
                 output_mode="binary_mask", use_m2m=False, multimask_output=True, **kwargs):
        options = dict(points_per_batch=int(points_per_batch), pred_iou_thresh=float(pred_iou_thresh),
                       stability_score_thresh=float(stability_score_thresh), stability_score_offset=float(stability_score_offset),
                       mask_threshold=float(mask_threshold), box_nms_thresh=float(box_nms_thresh), crop_n_layers=int(crop_n_layers),
                       crop_nms_thresh=float(crop_nms_thresh), crop_overlap_ratio=float(crop_overlap_ratio),
                       crop_n_points_downscale_factor=int(crop_n_points_downscale_factor), min_mask_region_area=int(min_mask_region_area),
                       use_m2m=int(bool(use_m2m)), multimask_output=int(bool(multimask_output)))
        super().__init__(model, points_per_side, point_grids, output_mode, options)
        for name, value in dict(points_per_batch=points_per_batch, pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh,
                                stability_score_offset=stability_score_offset, mask_threshold=mask_threshold, box_nms_thresh=box_nms_thresh,
                                crop_n_layers=crop_n_layers, crop_nms_thresh=crop_nms_thresh, crop_overlap_ratio=crop_overlap_ratio,
                                crop_n_points_downscale_factor=crop_n_points_downscale_factor, min_mask_region_area=min_mask_region_area,
                                use_m2m=use_m2m, multimask_output=multimask_output).items():
            setattr(self, name, value)
