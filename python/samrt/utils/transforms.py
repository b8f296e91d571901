"""ResizeLongestSide as segment_anything.utils.transforms has it: the longest side to
target_length, coordinates and boxes scaled into that frame. apply_image uses the
library's PIL-exact bilinear resize."""

import ctypes
from copy import deepcopy

import numpy as np

from .. import _lib


class ResizeLongestSide:
    def __init__(self, target_length):
        self.target_length = target_length

    @staticmethod
    def get_preprocess_shape(oldh, oldw, long_side_length):
        scale = long_side_length * 1.0 / max(oldh, oldw)
        newh, neww = oldh * scale, oldw * scale
        return int(newh + 0.5), int(neww + 0.5)

    def apply_image(self, image):
        """An HxWx3 uint8 image resized so its longest side is target_length."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("apply_image takes an HxWx3 uint8 image")
        h, w = self.get_preprocess_shape(image.shape[0], image.shape[1], self.target_length)
        src = _lib.Image(image.shape[1], image.shape[0], image.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
        dst = _lib.Image()
        _lib.call(_lib.sam_image_resize, ctypes.byref(src), w, h, ctypes.byref(dst))
        try:
            return np.ctypeslib.as_array(dst.rgb, shape=(h, w, 3)).copy()
        finally:
            _lib.sam_image_free(ctypes.byref(dst))

    def apply_coords(self, coords, original_size):
        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(original_size[0], original_size[1], self.target_length)
        coords = deepcopy(coords).astype(float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes(self, boxes, original_size):
        boxes = self.apply_coords(boxes.reshape(-1, 2, 2), original_size)
        return boxes.reshape(-1, 4)

    def apply_coords_torch(self, coords, original_size):
        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(original_size[0], original_size[1], self.target_length)
        coords = deepcopy(coords).to(dtype=__import__("torch").float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes_torch(self, boxes, original_size):
        boxes = self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size)
        return boxes.reshape(-1, 4)
