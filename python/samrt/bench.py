"""python3 -m samrt.bench [--variant vit_b|...|hiera_t|...] [--model M.samrt] [--image IMG] [--official SRC] [--threads N]

What the Python layer costs over the C calls it makes, in one run: set_image through
SamPredictor (SAM2ImagePredictor for SAM 2's hiera_* variants) against
sam_predictor_set_image_rgb called directly, and predict() of one click against
sam_predictor_predict. With --official (the segment_anything or sam2 source folder, and
torch importable) the same script is timed on the official package with random weights
of the same size: the speed-up a user gets by changing the import."""

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import samrt
from samrt import _lib


def best(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def random_model(variant):
    path = os.path.join(os.environ.get("TMPDIR", tempfile.gettempdir()), "sam-rt-bench-%s-seed0.samrt" % variant)
    if not os.path.exists(path):
        print("generating random-weight %s model %s" % (variant, path), file=sys.stderr)
        info = _lib.ConvertInfo()
        _lib.call(_lib.lib.sam_convert_random, variant.encode(), ctypes.c_uint64(0), path.encode(), None, ctypes.byref(info))
    return path


def synthetic_image(h, w):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255 // w), (y * 255 // h), ((x + y) % 256)], axis=-1).astype(np.uint8)


def bench_samrt(model_path, image, threads, reps):
    sam = samrt.load_model(model_path)
    if sam.family == "sam2":
        from samrt.sam2.sam2_image_predictor import SAM2ImagePredictor
        front = SAM2ImagePredictor(sam, n_threads=threads)
        pred = front._p  # the SamPredictor it runs on: the C handle, and the wrapper timed below
    else:
        front = pred = samrt.SamPredictor(sam, n_threads=threads)
    h, w = image.shape[:2]
    # the C calls alone, through the same handle, alternating with the Python calls so
    # that the machine's drift affects both alike
    c_set, py_set = float("inf"), float("inf")
    for _ in range(reps):
        c_set = min(c_set, best(lambda: _lib.call(_lib.sam_predictor_set_image_rgb, pred._handle, image.ctypes.data, w, h, image.strides[0]), 1))
        py_set = min(py_set, best(lambda: front.set_image(image), 1))
    point, label = np.array([[w // 2, h // 2]]), np.array([1])
    pts = np.ascontiguousarray(point, dtype=np.float32)
    lab = np.ascontiguousarray(label, dtype=np.int32)
    prompt = _lib.Prompt(1, pts.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), 0)
    params = _lib.PredictParams(1, 0, 0.0, 0, 0, 0, _lib.COORDS_IMAGE)

    def c_predict():
        out = ctypes.POINTER(_lib.Prediction)()
        _lib.call(_lib.sam_predictor_predict, pred._handle, ctypes.byref(prompt), 1, ctypes.byref(params), ctypes.byref(out))
        _lib.sam_prediction_free(out)

    c_predict()  # the decoder's image side is computed once per image
    c_pred, py_pred = float("inf"), float("inf")
    for _ in range(25 * reps):
        c_pred = min(c_pred, best(c_predict, 1))
        py_pred = min(py_pred, best(lambda: front.predict(point_coords=point, point_labels=label, multimask_output=True), 1))
    # the wrapper alone: the time a Python call spends outside the library calls it makes
    # (a VM's run-to-run noise exceeds the overhead itself)
    wrapper_set = outside_library(lambda: front.set_image(image), 1)
    wrapper_pred = outside_library(lambda: front.predict(point_coords=point, point_labels=label, multimask_output=True), 30)
    return c_set, py_set, c_pred, py_pred, wrapper_set, wrapper_pred


def outside_library(fn, reps):
    """Mean seconds per call of fn spent outside the predictor's library calls (freeing its
    result included)."""
    from samrt import predictor as _predictor

    class _Timed:
        inside = 0.0

        def call(self, fn, *args):
            t0 = time.perf_counter()
            try:
                _lib.call(fn, *args)
            finally:
                _Timed.inside += time.perf_counter() - t0

        def __getattr__(self, name):
            return getattr(_lib, name)

    real = _predictor._lib
    _predictor._lib = _Timed()
    try:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        total = time.perf_counter() - t0
    finally:
        _predictor._lib = real
    return (total - _Timed.inside) / reps


def bench_official(src, variant, image, threads, reps):
    import torch
    torch.set_num_threads(threads)
    if variant.startswith("hiera_"):
        from samrt.sam2 import official
        pred = official.predictor(src, "configs/sam2.1/sam2.1_%s.yaml" % variant)  # random weights, as for SAM
    else:
        sys.path.insert(0, src)
        from segment_anything import SamPredictor, sam_model_registry  # noqa: E402
        sam = sam_model_registry[variant](checkpoint=None)  # random weights: the speed does not depend on them
        sam.eval()
        pred = SamPredictor(sam)
    with torch.no_grad():
        t_set = best(lambda: pred.set_image(image), reps)
        point, label = np.array([[image.shape[1] // 2, image.shape[0] // 2]]), np.array([1])
        pred.predict(point_coords=point, point_labels=label)
        t_pred = best(lambda: pred.predict(point_coords=point, point_labels=label, multimask_output=True), 3 * reps)
    return t_set, t_pred


def peak_rss_mb(pid="self"):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a .samrt blob (default: a random-weight vit_b made once in $TMPDIR)")
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--image", help="JPEG or PNG (default: a synthetic 1800x1200 image)")
    ap.add_argument("--official", help="the segment_anything (or, for hiera_*, sam2) source folder, to time the official package too")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only-official", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    image = samrt.load_image(a.image) if a.image else synthetic_image(1200, 1800)
    if a.only_official:  # in a process of its own, for its peak memory
        t_set, t_pred = bench_official(a.official, a.variant, image, a.threads, a.reps)
        print("%.6f %.6f %.1f" % (t_set, t_pred, peak_rss_mb()))
        return
    model = a.model or random_model(a.variant)
    c_set, py_set, c_pred, py_pred, wrapper_set, wrapper_pred = bench_samrt(model, image, a.threads, a.reps)
    print("samrt %s, %d threads, %dx%d image, model %s" % (samrt.__version__, a.threads, image.shape[1], image.shape[0], model))
    print("set_image   C %.3f s   Python %.3f s   (difference %+.1f%%, within this machine's noise); the wrapper alone %.1f us = %.4f%%" % (
        c_set, py_set, 100 * (py_set - c_set) / c_set, 1e6 * wrapper_set, 100 * wrapper_set / c_set))
    print("predict     C %.2f ms  Python %.2f ms  (difference %+.3f ms); the wrapper alone %.3f ms (one click, 3 masks at the image size)" % (
        1e3 * c_pred, 1e3 * py_pred, 1e3 * (py_pred - c_pred), 1e3 * wrapper_pred))
    print("peak RSS    %.0f MB" % peak_rss_mb())
    if a.official:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("official    skipped: torch is not importable")
            return
        out = subprocess.run([sys.executable, "-m", "samrt.bench", "--only-official", "--official", a.official, "--variant", a.variant,
                              "--threads", str(a.threads), "--reps", str(a.reps)] + (["--image", a.image] if a.image else []),
                             check=True, capture_output=True, text=True).stdout.split()
        o_set, o_pred, o_rss = float(out[0]), float(out[1]), float(out[2])
        print("official    set_image %.2f s, predict %.1f ms, peak RSS %.0f MB (%s on torch %s, random %s weights)" % (
            o_set, 1e3 * o_pred, o_rss, "sam2" if a.variant.startswith("hiera_") else "segment_anything", __import__("torch").__version__, a.variant))
        print("speed-up    set_image %.1fx, predict %.1fx" % (o_set / py_set, o_pred / py_pred))


if __name__ == "__main__":
    main()
