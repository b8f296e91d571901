"""Runs the official SAM 2 package (facebookresearch/sam2) from its source folder on
Debian's torch 1.13 / torchvision 0.14, for benchmarks against it.

The package needs hydra, omegaconf and iopath, which Debian lacks, and torch >= 2 and
torchvision >= 0.17. Without changing a file of it, this supplies what the image path
uses: the model built from the official YAML config (PyYAML, recursive `_target_`
instantiation, the image overrides build_sam2 adds), stand-ins for the unused imports,
torch's scaled_dot_product_attention as its math reference, and torchvision's Resize
with antialias on (its default since 0.17), as ../shared/golden/README.md describes."""

import importlib
import os
import sys
import types

# what build_sam2 adds for images (apply_postprocessing=True)
IMAGE_OVERRIDES = {
    "sam_mask_decoder_extra_args": {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    },
}


def _stub_modules():
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules.setdefault(name, m)
        return sys.modules[name]

    class _GlobalHydra:
        @staticmethod
        def instance():
            return types.SimpleNamespace(is_initialized=lambda: True)

    module("hydra", initialize_config_module=lambda *a, **k: None, compose=None)
    module("hydra.core")
    module("hydra.core.global_hydra", GlobalHydra=_GlobalHydra)
    module("hydra.utils", instantiate=None)
    module("omegaconf", OmegaConf=None)
    module("iopath")
    module("iopath.common")
    module("iopath.common.file_io", g_pathmgr=types.SimpleNamespace(open=open))
    module("tqdm", tqdm=lambda x, *a, **k: x)


def _patch_torch():
    import torch
    import torch.nn.functional as F
    import torchvision.transforms as T

    if not hasattr(F, "scaled_dot_product_attention"):
        def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
            s = q.shape[-1] ** -0.25
            return torch.softmax((q * s) @ (k * s).transpose(-2, -1), dim=-1) @ v
        F.scaled_dot_product_attention = sdpa

    resize_init = T.Resize.__init__

    def resize_antialias(self, size, interpolation=T.InterpolationMode.BILINEAR, max_size=None, antialias=True):
        resize_init(self, size, interpolation, max_size, antialias)
    T.Resize.__init__ = resize_antialias


def _instantiate(node):
    if isinstance(node, dict):
        args = {k: _instantiate(v) for k, v in node.items() if k != "_target_"}
        if "_target_" not in node:
            return args
        mod, _, name = node["_target_"].rpartition(".")
        return getattr(importlib.import_module(mod), name)(**args)
    if isinstance(node, list):
        return [_instantiate(v) for v in node]
    return node


def _float_strings(node):
    """OmegaConf reads 1e-6 as a float; PyYAML as a string."""
    if isinstance(node, dict):
        return {k: _float_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_float_strings(v) for v in node]
    if isinstance(node, str):
        try:
            return float(node) if any(c in node for c in "eE.") and not node.startswith("sam2") else node
        except ValueError:
            return node
    return node


def build(source, config="configs/sam2.1/sam2.1_hiera_t.yaml"):
    """The official SAM2Base for `config` (a name inside the package), random weights
    (the speed does not depend on them), in eval mode."""
    import yaml

    sys.path.insert(0, source)
    _stub_modules()
    _patch_torch()
    with open(os.path.join(source, "sam2", config)) as f:
        cfg = _float_strings(yaml.safe_load(f))["model"]
    for key, value in IMAGE_OVERRIDES.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    model = _instantiate(cfg)
    model.eval()
    return model


def predictor(source, config="configs/sam2.1/sam2.1_hiera_t.yaml"):
    model = build(source, config)
    from sam2.sam2_image_predictor import SAM2ImagePredictor  # importable once build set the path and stand-ins
    return SAM2ImagePredictor(model)
