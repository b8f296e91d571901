"""SamPredictor: the official segment_anything API over the C predictor."""

import ctypes

import numpy as np

from . import _lib
from ._arrays import address, owner, view
from .utils.transforms import ResizeLongestSide


def _float_points(a, what, last):
    a = np.asarray(a, dtype=np.float32)
    if a.ndim < 1 or a.shape[-1] != last:
        raise ValueError("%s must have %d values in its last dimension, got shape %s" % (what, last, a.shape))
    return np.ascontiguousarray(a)


class _Prompts:
    """A batch of prompts as the C API takes them; the arrays it points into live here."""

    def __init__(self, coords, labels, boxes, masks, batch):
        self.keep = []
        self.items = (_lib.Prompt * batch)()
        for b in range(batch):
            p = self.items[b]
            if coords is not None:
                c = np.ascontiguousarray(coords[b], dtype=np.float32)
                lab = np.ascontiguousarray(labels[b], dtype=np.int32)
                if c.shape[0] != lab.shape[0]:
                    raise ValueError("point_coords has %d points but point_labels %d labels" % (c.shape[0], lab.shape[0]))
                self.keep += [c, lab]
                p.n_points = c.shape[0]
                p.points = c.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                p.labels = lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int))
            if boxes is not None:
                p.has_box = 1
                for k in range(4):
                    p.box[k] = float(boxes[b][k])
            if masks is not None:
                m = np.ascontiguousarray(masks[b], dtype=np.float32)
                self.keep.append(m)
                p.mask_input = m.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


class SamPredictor:
    """Sets an image once (encoder), then predicts masks from prompts in milliseconds, as
    segment_anything.SamPredictor does; masks come back at the original image size."""

    def __init__(self, sam_model, n_threads=0):
        self.model = sam_model
        self._handle = ctypes.c_void_p()
        params = _lib.PredictorParams(n_threads, 1, 0)
        _lib.call(_lib.sam_predictor_create, sam_model._handle, ctypes.byref(params), ctypes.byref(self._handle))
        self.transform = ResizeLongestSide(sam_model.image_encoder.img_size)
        self.low_res = _lib.sam_predictor_low_res(self._handle)
        # SAM 2's predictor sets these; SAM's uses the model's threshold and no cleanup
        self.mask_threshold = sam_model.mask_threshold
        self.max_hole_area = self.max_sprinkle_area = 0

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.sam_predictor_free(self._handle)
            self._handle = None

    # ---- the image ----

    def set_image(self, image, image_format="RGB"):
        """Calculates the image embedding of an HxWx3 uint8 image (RGB, or BGR when said)."""
        if image_format not in ("RGB", "BGR"):
            raise ValueError("image_format must be 'RGB' or 'BGR', got %r" % (image_format,))
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("the image must be an HxWx3 uint8 array, got %s %s" % (image.dtype, image.shape))
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        # pixels must be 3 contiguous bytes; rows may be strided (a crop of a larger array)
        if image.strides[2] != 1 or image.strides[1] != 3 or image.strides[0] < 3 * image.shape[1]:
            image = np.ascontiguousarray(image)
        _lib.call(_lib.sam_predictor_set_image_rgb, self._handle, image.ctypes.data, image.shape[1], image.shape[0], image.strides[0])

    def set_torch_image(self, transformed_image, original_image_size):
        raise NotImplementedError("samrt preprocesses the image itself: call set_image with the HxWx3 uint8 image")

    def reset_image(self):
        _lib.sam_predictor_reset_image(self._handle)

    @property
    def is_image_set(self):
        return bool(_lib.sam_predictor_is_image_set(self._handle))

    def _require_image(self):
        if not self.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")

    @property
    def original_size(self):
        h, w = ctypes.c_int(), ctypes.c_int()
        _lib.sam_predictor_original_size(self._handle, ctypes.byref(h), ctypes.byref(w))
        return (h.value, w.value) if self.is_image_set else None

    @property
    def input_size(self):
        h, w = ctypes.c_int(), ctypes.c_int()
        _lib.sam_predictor_input_size(self._handle, ctypes.byref(h), ctypes.byref(w))
        return (h.value, w.value) if self.is_image_set else None

    @property
    def device(self):
        return "cpu"

    def features(self):
        """Every feature the decoder reads, name -> array (copies)."""
        self._require_image()
        out = {}
        for i in range(_lib.sam_predictor_n_features(self._handle)):
            v = _lib.TensorView()
            _lib.call(_lib.sam_predictor_feature, self._handle, i, ctypes.byref(v))
            shape = tuple(v.shape[d] for d in range(v.ndim))
            out[v.name.decode()] = np.ctypeslib.as_array(v.data, shape=shape).copy()
        return out

    def set_features(self, features, original_size):
        """Sets features of an image of original_size (h, w), e.g. from features()."""
        views = (_lib.TensorView * len(features))()
        keep = []
        for i, (name, arr) in enumerate(features.items()):
            a = np.ascontiguousarray(arr, dtype=np.float32)
            keep.append((name.encode(), a))
            views[i].name = keep[-1][0]
            views[i].ndim = a.ndim
            for d in range(a.ndim):
                views[i].shape[d] = a.shape[d]
            views[i].data = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        _lib.call(_lib.sam_predictor_set_features, self._handle, views, len(features), int(original_size[0]), int(original_size[1]))

    def get_image_embedding(self):
        """The image embedding, 1x256x64x64 float32."""
        return next(iter(self.features().values()))

    # ---- prediction ----

    def _predict(self, coords, labels, boxes, masks, batch, multimask_output, return_logits, frame):
        self._require_image()
        prompts = _Prompts(coords, labels, boxes, masks, batch)
        params = _lib.PredictParams(int(bool(multimask_output)), int(bool(return_logits)), float(self.mask_threshold), 0, 0, 0, frame,
                                    int(self.max_hole_area), int(self.max_sprinkle_area))
        out = ctypes.POINTER(_lib.Prediction)()
        _lib.call(_lib.sam_predictor_predict, self._handle, prompts.items, batch, ctypes.byref(params), ctypes.byref(out))
        r = out.contents
        keep = owner(out, _lib.sam_prediction_free)
        B, C, H, W, L = r.n_objects, r.n_masks, r.height, r.width, r.low_res
        if return_logits:
            masks = view(address(r.logits), (B, C, H, W), np.float32, keep)
        else:
            masks = view(address(r.masks), (B, C, H, W), np.uint8, keep).view(np.bool_)
        iou = view(address(r.iou), (B, C), np.float32, keep)
        low_res = view(address(r.low_res_logits), (B, C, L, L), np.float32, keep)
        return masks, iou, low_res

    def _check_mask_input(self, mask_input, batch):
        m = np.asarray(mask_input, dtype=np.float32)
        if m.size != batch * self.low_res * self.low_res:
            raise ValueError("mask_input must be %sx1x%dx%d low-res logits, got shape %s" % (
                "" if batch == 1 else "%d" % batch, self.low_res, self.low_res, m.shape))
        return m.reshape(batch, self.low_res, self.low_res)

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True, return_logits=False):
        """One object's masks (CxHxW bool, or float logits), IoU predictions (C) and low-res
        logits (Cx256x256), from points in image pixels (Nx2, labels N: 1 foreground, 0
        background), a box (x0, y0, x1, y1) and/or an earlier low-res mask (1x256x256)."""
        self._require_image()
        coords = labels = boxes = masks = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be supplied if point_coords is supplied.")
            coords = _float_points(point_coords, "point_coords", 2).reshape(1, -1, 2)
            labels = np.asarray(point_labels).reshape(1, -1)
        if box is not None:
            boxes = _float_points(box, "box", 4).reshape(1, 4)
        if mask_input is not None:
            masks = self._check_mask_input(mask_input, 1)
        if coords is None and boxes is None:
            raise ValueError("predict needs point_coords or a box")
        m, iou, low = self._predict(coords, labels, boxes, masks, 1, multimask_output, return_logits, _lib.COORDS_IMAGE)
        return m[0], iou[0], low[0]

    def predict_batch(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True, return_logits=False):
        """predict_torch's batch in original-image pixels, with NumPy arrays: B objects of
        point_coords BxNx2 and point_labels BxN, boxes Bx4, mask_input Bx1x256x256;
        returns masks BxCxHxW, IoU BxC, low-res logits BxCx256x256."""
        return self._batch(point_coords, point_labels, boxes, mask_input, multimask_output, return_logits, _lib.COORDS_IMAGE)

    def _batch(self, point_coords, point_labels, boxes, mask_input, multimask_output, return_logits, frame):
        self._require_image()
        batch = None
        coords = labels = bx = masks = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be supplied if point_coords is supplied.")
            coords = _float_points(point_coords, "point_coords", 2)
            if coords.ndim != 3:
                raise ValueError("point_coords must be BxNx2, got shape %s" % (coords.shape,))
            labels = np.asarray(point_labels)
            if labels.shape != coords.shape[:2]:
                raise ValueError("point_labels must be BxN = %s, got shape %s" % (coords.shape[:2], labels.shape))
            batch = coords.shape[0]
        if boxes is not None:
            bx = _float_points(boxes, "boxes", 4).reshape(-1, 4)
            if batch is not None and bx.shape[0] != batch:
                raise ValueError("%d boxes for %d sets of points" % (bx.shape[0], batch))
            batch = bx.shape[0]
        if batch is None:
            raise ValueError("the batch needs point_coords or boxes")
        if mask_input is not None:
            masks = self._check_mask_input(mask_input, batch)
        return self._predict(coords, labels, bx, masks, batch, multimask_output, return_logits, frame)

    def predict_torch(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True, return_logits=False):
        """The official batch call on torch tensors, with coordinates in the resized frame
        (as transform.apply_coords_torch / apply_boxes_torch give them); returns torch
        tensors BxCxHxW, BxC and BxCx256x256."""
        try:
            import torch
        except ImportError as e:
            raise ImportError("predict_torch takes and returns torch tensors, and torch is not installed: use predict_batch with NumPy arrays") from e

        def arr(t):
            return None if t is None else t.detach().cpu().numpy()

        m, iou, low = self._batch(arr(point_coords), arr(point_labels), arr(boxes), arr(mask_input), multimask_output, return_logits,
                                  _lib.COORDS_INPUT)
        return torch.from_numpy(np.array(m)), torch.from_numpy(np.array(iou)), torch.from_numpy(np.array(low))
