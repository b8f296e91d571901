"""build_sam2(config_file, ckpt_path): an official SAM 2 / 2.1 checkpoint (.pt, converted
by the C converter on first use and cached as for SAM) or a sam-rt blob, checked against
the official config it is named with ("configs/sam2.1/sam2.1_hiera_t.yaml", ...)."""

import ctypes
import os
import warnings

from .. import _lib
from ..build_sam import Sam, _cache_dir, load_model

# the official configs' names -> sam-rt's variants (2.0 and 2.1 read images alike)
_SIZES = {"t": "hiera_t", "s": "hiera_s", "b+": "hiera_b+", "l": "hiera_l"}
CONFIG_VARIANTS = {"%s_hiera_%s" % (v, k): var for k, var in _SIZES.items() for v in ("sam2", "sam2.1")}


def _variant_of(config_file):
    """(variant, sam-rt config or None) for an official config name, or for the path of a
    sam-rt config (graphs/configs/*.yaml: a model of another size)."""
    name = os.path.basename(str(config_file))
    stem = name[:-5] if name.endswith(".yaml") else name
    if stem in CONFIG_VARIANTS:
        return CONFIG_VARIANTS[stem], None
    if os.path.isfile(str(config_file)):
        return None, os.fspath(config_file)
    raise ValueError("unknown SAM 2 config %r: expected one of the official configs (%s) or a sam-rt config file" % (
        config_file, ", ".join("configs/sam2.1/%s.yaml" % k for k in sorted(CONFIG_VARIANTS) if k.startswith("sam2.1"))))


def _random_blob(variant):
    path = os.path.join(_cache_dir(), "random-%s-seed0.samrt" % variant)
    if not os.path.exists(path):
        os.makedirs(_cache_dir(), exist_ok=True)
        info = _lib.ConvertInfo()
        _lib.call(_lib.sam_convert_random, variant.encode(), ctypes.c_uint64(0), os.fsencode(path), None, ctypes.byref(info))
    return path


def build_sam2(config_file, ckpt_path=None, device="cuda", mode="eval", hydra_overrides_extra=(), apply_postprocessing=True, **kwargs):
    """The model of `config_file` with the weights of `ckpt_path`; without a checkpoint,
    random weights of the official shapes (as the official builder leaves them; its masks
    mean nothing). A checkpoint of another variant or family raises ValueError naming both.
    Runs on the CPU: `device` is accepted (with a warning once when not "cpu")."""
    if mode != "eval":
        raise ValueError("samrt runs models for inference only (mode='eval'), not %r" % (mode,))
    if not apply_postprocessing:
        raise ValueError("apply_postprocessing=False is not supported: samrt's SAM 2 always uses the image predictor's settings "
                         "(dynamic multimask via stability)")
    if hydra_overrides_extra:
        raise ValueError("hydra overrides are not supported: sam-rt's configs are YAML files in its graphs/configs")
    variant, config = _variant_of(config_file)
    if ckpt_path is None:
        if variant is None:
            raise ValueError("a custom-size config needs a checkpoint")
        warnings.warn("build_sam2 without ckpt_path: random weights of %s (its masks mean nothing)" % variant, stacklevel=2)
        ckpt_path = _random_blob(variant)
    model = load_model(ckpt_path, variant=variant, config=config)
    if model.family != "sam2":
        raise ValueError("%s is a %s model (%s), not SAM 2's %s" % (ckpt_path, model.family, model.variant, config_file))
    model.to(device)
    return model


def build_sam2_video_predictor(*args, **kwargs):
    raise NotImplementedError("samrt runs SAM 2's image path only (SAM2ImagePredictor, SAM2AutomaticMaskGenerator), not video tracking")


__all__ = ["build_sam2", "build_sam2_video_predictor", "Sam"]
