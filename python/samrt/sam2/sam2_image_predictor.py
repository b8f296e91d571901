"""SAM2ImagePredictor: the official sam2 image predictor's API over the C predictor."""

import numpy as np

from ..predictor import SamPredictor, _float_points
from .. import _lib


def _as_rgb(image):
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise NotImplementedError("Image format not supported")
    return image


class SAM2ImagePredictor:
    """Sets an image once (the Hiera encoder), then predicts masks from prompts, as
    sam2.sam2_image_predictor.SAM2ImagePredictor does: masks (float32 0/1, or logits),
    IoU predictions and the clamped low-res logits, at the original image size."""

    def __init__(self, sam_model, mask_threshold=0.0, max_hole_area=0.0, max_sprinkle_area=0.0, n_threads=0, **kwargs):
        self.model = sam_model
        self._p = SamPredictor(sam_model, n_threads=n_threads)
        self._p.mask_threshold = self.mask_threshold = float(mask_threshold)
        self._p.max_hole_area = int(max_hole_area)
        self._p.max_sprinkle_area = int(max_sprinkle_area)
        self._batch = None  # set_image_batch: per image (features, original size)
        self._orig_hw = None

    @property
    def device(self):
        return "cpu"

    @property
    def _is_image_set(self):
        return self._batch is not None or self._p.is_image_set

    @property
    def _is_batch(self):
        return self._batch is not None

    def set_image(self, image):
        """Calculates the features of an HxWx3 uint8 RGB image (ndarray or PIL image)."""
        self.reset_predictor()
        image = _as_rgb(image)
        self._p.set_image(image)
        self._orig_hw = [image.shape[:2]]

    def set_image_batch(self, image_list):
        """Calculates the features of several images, for predict_batch."""
        self.reset_predictor()
        if not isinstance(image_list, list):
            raise ValueError("set_image_batch takes a list of HxWx3 uint8 RGB images")
        batch = []
        for image in image_list:
            if not isinstance(image, np.ndarray):
                raise ValueError("Images are expected to be an np.ndarray in RGB format, and of shape HWC")
            self._p.set_image(image)
            batch.append((self._p.features(), image.shape[:2]))
        self._batch = batch
        self._orig_hw = [hw for _, hw in batch]

    def reset_predictor(self):
        self._p.reset_image()
        self._batch = None
        self._orig_hw = None

    def get_image_embedding(self):
        """The image embedding, 1x256x64x64 float32."""
        if not self._is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) to generate an embedding.")
        return self._features["image_embed"]

    @property
    def _features(self):
        if self._batch is not None:
            f = [feats for feats, _ in self._batch]
            return {"image_embed": np.concatenate([x["image_embed"] for x in f]),
                    "high_res_feats": [np.concatenate([x["high_res_feat%d" % k] for x in f]) for k in range(2)]}
        if not self._p.is_image_set:
            return None
        f = self._p.features()
        return {"image_embed": f["image_embed"], "high_res_feats": [f["high_res_feat0"], f["high_res_feat1"]]}

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True, return_logits=False,
                normalize_coords=True):
        """Masks CxHxW (float32; BxCxHxW for B boxes or BxNx2 points), IoU predictions C
        and low-res logits Cx256x256 (clamped to +-32) for prompts in image pixels (with
        normalize_coords=False: in fractions of the width and height)."""
        if not self._p.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        return self._predict(point_coords, point_labels, box, mask_input, multimask_output, return_logits, normalize_coords)

    def _predict(self, point_coords, point_labels, box, mask_input, multimask_output, return_logits, normalize_coords):
        coords = labels = boxes = masks = None
        batch = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be supplied if point_coords is supplied.")
            coords = _float_points(point_coords, "point_coords", 2)
            labels = np.asarray(point_labels)
            if coords.ndim == 2:
                coords, labels = coords[None], labels.reshape(1, -1)
            if coords.ndim != 3 or labels.shape != coords.shape[:2]:
                raise ValueError("point_coords must be Nx2 or BxNx2 and point_labels N or BxN, got %s and %s" % (coords.shape, labels.shape))
            batch = coords.shape[0]
        if box is not None:
            boxes = _float_points(box, "box", 4).reshape(-1, 4)
            if batch is not None and boxes.shape[0] != batch:
                if boxes.shape[0] != 1:
                    raise ValueError("%d boxes for %d sets of points" % (boxes.shape[0], batch))
                boxes = np.repeat(boxes, batch, axis=0)
            batch = boxes.shape[0]
        if batch is None:
            raise ValueError("predict needs point_coords or a box")
        if mask_input is not None:
            m = np.asarray(mask_input, dtype=np.float32)
            if m.ndim == 3:
                m = m[None]
            masks = self._p._check_mask_input(m if m.shape[0] == batch else np.repeat(m, batch, axis=0), batch)
        frame = _lib.COORDS_IMAGE if normalize_coords else _lib.COORDS_NORMALIZED
        m, iou, low = self._p._predict(coords, labels, boxes, masks, batch, multimask_output, return_logits, frame)
        m = m if return_logits else m.astype(np.float32)
        if batch == 1:
            return m[0], iou[0], low[0]
        return m, iou, low

    def predict_batch(self, point_coords_batch=None, point_labels_batch=None, box_batch=None, mask_input_batch=None, multimask_output=True,
                      return_logits=False, normalize_coords=True):
        """predict() for each image of set_image_batch: lists of masks, IoUs and low-res logits."""
        if self._batch is None:
            raise RuntimeError("An image must be set with .set_image_batch(...) before mask prediction.")
        out = ([], [], [])
        for i, (features, hw) in enumerate(self._batch):
            self._p.set_features(features, hw)
            pick = lambda lst: None if lst is None else lst[i]  # noqa: E731
            r = self._predict(pick(point_coords_batch), pick(point_labels_batch), pick(box_batch), pick(mask_input_batch), multimask_output,
                              return_logits, normalize_coords)
            for k in range(3):
                out[k].append(r[k])
        return out
