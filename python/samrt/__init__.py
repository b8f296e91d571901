"""samrt: Segment Anything on the CPU, a drop-in for segment_anything.

    from samrt import sam_model_registry, SamPredictor, SamAutomaticMaskGenerator

is the only line a script written for segment_anything changes; the model, the
predictor and the generator run in sam-rt's C library (libsamrt)."""

import ctypes as _ctypes

import numpy as _np

from . import _lib
from ._lib import SamCancelled, SamError, SamIOError, SamLookupError, SamMemoryError, SamValueError
from .automatic_mask_generator import SamAutomaticMaskGenerator
from .build_sam import Sam, build_sam, build_sam_vit_b, build_sam_vit_h, build_sam_vit_l, load_model, sam_model_registry
from .predictor import SamPredictor

__version__ = _lib.version()
library_path = _lib.library_path


def load_image(path):
    """A JPEG or PNG as an HxWx3 uint8 RGB array (EXIF orientation applied), decoded by the
    library as sam-run does."""
    img = _lib.Image()
    _lib.call(_lib.sam_image_load, str(path).encode(), _ctypes.byref(img))
    try:
        return _np.ctypeslib.as_array(img.rgb, shape=(img.height, img.width, 3)).copy()
    finally:
        _lib.sam_image_free(_ctypes.byref(img))


__all__ = ["sam_model_registry", "build_sam", "build_sam_vit_h", "build_sam_vit_l", "build_sam_vit_b", "load_model", "Sam", "SamPredictor",
           "SamAutomaticMaskGenerator", "SamError", "SamValueError", "SamIOError", "SamLookupError", "SamMemoryError", "SamCancelled", "load_image"]
