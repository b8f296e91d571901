"""The model registry of segment_anything: sam_model_registry["vit_b"](checkpoint=PATH).

PATH is an official checkpoint (.pth, converted once by the C converter and cached in
$XDG_CACHE_HOME/samrt, reused while the checkpoint is unchanged) or a sam-rt blob
(.samrt)."""

import ctypes
import hashlib
import os
import warnings
from functools import partial

from . import _lib


class _ImageEncoder:
    def __init__(self, img_size):
        self.img_size = img_size


class Sam:
    """A loaded model (weights mmapped read-only). Any number of predictors, in any
    threads, may share one. Runs on the CPU: .to() and .eval() are accepted and do
    nothing."""

    mask_threshold = 0.0
    image_format = "RGB"

    def __init__(self, path, config=None):
        self._handle = ctypes.c_void_p()
        params = _lib.ModelParams(config.encode() if config else None, None, 0)
        _lib.call(_lib.sam_model_open, os.fsencode(path), ctypes.byref(params), ctypes.byref(self._handle))
        self.path = str(path)
        self.family = _lib.sam_model_family(self._handle).decode()
        self.variant = _lib.sam_model_variant(self._handle).decode()
        self.image_encoder = _ImageEncoder(_lib.lib.sam_model_image_size(self._handle))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.sam_model_free(self._handle)
            self._handle = None

    @property
    def device(self):
        return "cpu"

    def _warn_cpu(self, what):
        if not Sam._warned:
            warnings.warn("samrt runs on the CPU: %s is accepted and does nothing" % what, stacklevel=3)
            Sam._warned = True

    _warned = False

    def to(self, *args, **kwargs):
        device = kwargs.get("device", args[0] if args else "cpu")
        if str(device) != "cpu":
            self._warn_cpu(".to(%r)" % (str(device),))
        return self

    def eval(self):
        return self

    def __repr__(self):
        return "samrt.Sam(%s %s, %r)" % (self.family, self.variant, self.path)


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "samrt")


def converted_blob(checkpoint):
    """The blob of an official checkpoint, converted on first use into the cache folder
    ($XDG_CACHE_HOME/samrt) under a name keyed by the checkpoint's path, size and time, so
    that it is reused while the checkpoint is unchanged. A `<stem>.samrt` beside the
    checkpoint (sam-convert's) is used instead when it is newer; nothing is written there."""
    checkpoint = os.path.abspath(checkpoint)
    st = os.stat(checkpoint)
    stem = os.path.splitext(checkpoint)[0]
    beside = stem + ".samrt"
    if os.path.exists(beside) and os.stat(beside).st_mtime_ns >= st.st_mtime_ns:
        return beside
    key = hashlib.sha1(("%s|%d|%d" % (checkpoint, st.st_size, st.st_mtime_ns)).encode()).hexdigest()[:16]
    cached = os.path.join(_cache_dir(), "%s-%s.samrt" % (os.path.basename(stem), key))
    if not os.path.exists(cached):
        os.makedirs(_cache_dir(), exist_ok=True)
        info = _lib.ConvertInfo()
        _lib.call(_lib.sam_convert_checkpoint, os.fsencode(checkpoint), os.fsencode(cached), None, ctypes.byref(info))
    return cached


def load_model(checkpoint=None, variant=None, config=None):
    """A model from a checkpoint or blob; when `variant` is given the file must be one."""
    if checkpoint is None:
        raise ValueError("samrt needs a checkpoint: it runs the official weights (converted), it cannot train new ones")
    path = os.fspath(checkpoint)
    blob = path if path.endswith(".samrt") else converted_blob(path)
    model = Sam(blob, config)
    if variant is not None and model.variant != variant:
        raise ValueError("%s is a %s model, not %s (its family: %s)" % (path, model.variant, variant, model.family))
    return model


build_sam_vit_h = partial(load_model, variant="vit_h")
build_sam_vit_l = partial(load_model, variant="vit_l")
build_sam_vit_b = partial(load_model, variant="vit_b")
build_sam = build_sam_vit_h

sam_model_registry = {
    "default": build_sam_vit_h,
    "vit_h": build_sam_vit_h,
    "vit_l": build_sam_vit_l,
    "vit_b": build_sam_vit_b,
    # a model of another size than the official three (the converter names it custom)
    "custom": partial(load_model, variant="custom"),
}
