"""The Python package against the golden data and the C tools.

The predictor cases are the official notebook's code (predictor_example.ipynb) with
only the import changed, on the golden tiny model: masks, IoU and low-res logits within
golden/README.md's tolerances. The generator is compared with sam-run --auto, record by
record, in every output mode, and with the official oracle runs. Then bad inputs, two
threads, the model registry and the ABI of the ctypes structs.

Environment: SAMRT_GOLDEN_DIR (default ../shared/golden), SAMRT_BIN (the built
programs), SAMRT_SOURCE_DIR."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings

import numpy as np

SOURCE = os.environ.get("SAMRT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.environ.get("SAMRT_GOLDEN_DIR", os.path.join(SOURCE, "..", "shared", "golden"))
BIN = os.environ.get("SAMRT_BIN", os.path.join(SOURCE, "build", "bin"))
TMP = tempfile.mkdtemp(prefix="samrt-python-")
os.environ["XDG_CACHE_HOME"] = os.path.join(TMP, "cache")  # converted checkpoints go here

from samrt import SamAutomaticMaskGenerator, SamPredictor, sam_model_registry  # noqa: E402  (the one changed line)
import samrt  # noqa: E402
from samrt.testing import Oracle  # noqa: E402
from amg_match import match  # noqa: E402

HAVE_GOLDEN = os.path.exists(os.path.join(GOLDEN, "sam_tiny", "sam_tiny_seed0.pth"))
CHECKPOINT = os.path.join(GOLDEN, "sam_tiny", "sam_tiny_seed0.pth")
LOGITS_TOL, IOU_TOL, MASK_FRACTION = 1e-2, 1e-3, 0.999  # golden/README.md, "What parity means"
try:
    import torch
except ImportError:
    torch = None


def golden(name):
    return np.load(os.path.join(GOLDEN, "sam_tiny", name))


def manifest():
    with open(os.path.join(GOLDEN, "sam_tiny", "manifest.json")) as f:
        return json.load(f)


def image(name):
    return samrt.load_image(os.path.join(GOLDEN, "images", name))


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent: golden parity NOT checked")
class NotebookPredictor(unittest.TestCase):
    """predictor_example.ipynb, case by case, as a user runs it."""

    @classmethod
    def setUpClass(cls):
        model_type = "custom"  # the notebook says "vit_h"; the golden model is a small one
        device = "cuda"
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            sam = sam_model_registry[model_type](checkpoint=CHECKPOINT)
            sam.to(device=device)
        cls.sam = sam
        cls.predictor = SamPredictor(sam)
        cls.current = None
        cls.cases = {c["name"]: c for c in manifest()["cases"]}
        cls.logits = {}  # each case's returned low-res logits, for the cases that feed them back

    def use_image(self, name):
        if self.current != name:
            self.image = image(name)
            self.predictor.set_image(self.image)
            type(self).current = name
            type(self).image = self.image

    def check(self, case, masks, scores, logits):
        c = self.cases[case]
        want_masks = golden(c["masks_file"]).astype(bool)
        want_iou = golden(c["iou_file"])
        want_logits = golden(c["low_res_logits_file"])
        self.assertEqual(masks.shape, want_masks.shape, case)
        self.assertEqual(masks.dtype, np.bool_)
        self.assertEqual(scores.dtype, np.float32)
        self.assertEqual(logits.dtype, np.float32)
        equal = (np.asarray(masks) == want_masks).mean()
        diou = np.abs(np.asarray(scores) - want_iou).max()
        dlog = np.abs(np.asarray(logits) - want_logits).max()
        print("  %-26s masks %.4f%% equal, IoU within %.2g, logits within %.2g" % (case, 100 * equal, diou, dlog), file=sys.stderr)
        self.assertGreaterEqual(equal, MASK_FRACTION, case)
        self.assertLessEqual(diou, IOU_TOL, case)
        self.assertLessEqual(dlog, LOGITS_TOL, case)

    def test_01_point_then_mask_input(self):
        self.use_image("truck.jpg")
        input_point = np.array([[500, 375]])
        input_label = np.array([1])
        masks, scores, logits = self.predictor.predict(point_coords=input_point, point_labels=input_label, multimask_output=True)
        self.check("point_multimask", masks, scores, logits)
        input_point = np.array([[500, 375], [1125, 625]])
        for case, input_label in (("two_points_mask_input", np.array([1, 1])), ("fg_bg_points_mask_input", np.array([1, 0]))):
            mask_input = logits[np.argmax(scores), :, :]  # Choose the model's best mask
            masks, s, lg = self.predictor.predict(point_coords=input_point, point_labels=input_label, mask_input=mask_input[None, :, :],
                                                  multimask_output=False)
            self.check(case, masks, s, lg)

    def test_02_boxes(self):
        self.use_image("truck.jpg")
        input_box = np.array([425, 600, 700, 875])
        masks, scores, logits = self.predictor.predict(point_coords=None, point_labels=None, box=input_box[None, :], multimask_output=False)
        self.check("box", masks, scores, logits)
        masks, scores, logits = self.predictor.predict(point_coords=None, point_labels=None, box=input_box, multimask_output=True)
        self.check("box_multimask", masks, scores, logits)
        input_point = np.array([[575, 750]])
        input_label = np.array([0])
        masks, scores, logits = self.predictor.predict(point_coords=input_point, point_labels=input_label, box=input_box, multimask_output=False)
        self.check("box_and_bg_point", masks, scores, logits)

    def batch(self, case, boxes=None, points=None, labels=None):
        """The notebook's batched prompts: predict_torch on the resized frame when torch
        is there, else predict_batch in image pixels (the same numbers)."""
        if torch is not None:
            tb = tp = tl = None
            if boxes is not None:
                tb = self.predictor.transform.apply_boxes_torch(torch.tensor(boxes), self.image.shape[:2])
            if points is not None:
                tp = self.predictor.transform.apply_coords_torch(torch.tensor(points), self.image.shape[:2])
                tl = torch.tensor(labels)
            masks, scores, logits = self.predictor.predict_torch(point_coords=tp, point_labels=tl, boxes=tb, multimask_output=False)
            self.assertTrue(isinstance(masks, torch.Tensor) and masks.dtype == torch.bool)
            masks, scores, logits = masks.numpy(), scores.numpy(), logits.numpy()
        else:
            masks, scores, logits = self.predictor.predict_batch(point_coords=points, point_labels=labels, boxes=boxes, multimask_output=False)
        self.check(case, masks, scores, logits)

    def test_03_batches(self):
        self.use_image("truck.jpg")
        c = self.cases
        self.batch("batched_boxes", boxes=np.array(c["batched_boxes"]["batch_boxes"]))
        self.batch("batched_points", points=np.array(c["batched_points"]["batch_points"]), labels=np.array(c["batched_points"]["batch_labels"]))
        bp = c["batched_boxes_and_points"]
        self.batch("batched_boxes_and_points", boxes=np.array(bp["batch_boxes"]), points=np.array(bp["batch_points"]), labels=np.array(bp["batch_labels"]))

    def test_04_other_images(self):
        self.use_image("groceries.jpg")
        masks, scores, logits = self.predictor.predict(point_coords=np.array([[400, 250]]), point_labels=np.array([1]), multimask_output=True)
        self.check("groceries_point_multimask", masks, scores, logits)
        self.batch("groceries_batched_boxes", boxes=np.array(self.cases["groceries_batched_boxes"]["batch_boxes"]))
        self.use_image("dog.jpg")
        c = self.cases["dog_three_points"]
        masks, scores, logits = self.predictor.predict(point_coords=np.array(c["points"]), point_labels=np.array(c["labels"]), multimask_output=True)
        self.check("dog_three_points", masks, scores, logits)

    def test_05_api_surface(self):
        self.use_image("truck.jpg")
        p = self.predictor
        self.assertTrue(p.is_image_set)
        self.assertEqual(p.original_size, (1200, 1800))
        self.assertEqual(p.input_size, (683, 1024))
        self.assertEqual(p.model.mask_threshold, 0.0)
        pts = p.transform.apply_coords(np.array([[500.0, 375.0]]), p.original_size)
        self.assertAlmostEqual(pts[0, 0], 500 * 1024 / 1800)
        self.assertEqual(p.transform.apply_boxes(np.array([[0, 0, 1800, 1200]]), p.original_size).shape, (1, 4))
        resized = p.transform.apply_image(self.image)
        self.assertTrue(np.array_equal(resized, golden("truck_resized_u8.npy")))
        emb = p.get_image_embedding()
        self.assertEqual((emb.shape, emb.dtype), ((1, 256, 64, 64), np.float32))
        self.assertLessEqual(np.abs(emb - golden("truck_embedding.npy")).max(), 1e-3)
        logits, _, _ = p.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]), return_logits=True)
        self.assertEqual(logits.dtype, np.float32)
        masks, _, _ = p.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]))
        self.assertTrue(np.array_equal(logits > 0, masks))
        # the embedding is the C predictor's, bit for bit: sam-run's feature cache of the same image
        cache = os.path.join(TMP, "truck.features")
        subprocess.run([os.path.join(BIN, "sam-run"), "--model", self.sam.path, "--image", os.path.join(GOLDEN, "images", "truck.jpg"),
                        "--point", "500,375", "--json", os.path.join(TMP, "r.json"), "--embedding", cache], check=True, capture_output=True)
        with open(cache, "rb") as f:
            raw = f.read()
        self.assertEqual(raw[:8], b"SAMRTFT1")
        data = np.frombuffer(raw[-256 * 64 * 64 * 4:], dtype=np.float32).reshape(1, 256, 64, 64)
        self.assertTrue(np.array_equal(data, emb))
        # features out and back in: the same predictions
        q = SamPredictor(self.sam)
        q.set_features(p.features(), p.original_size)
        a = p.predict(point_coords=np.array([[900, 600]]), point_labels=np.array([1]))
        b = q.predict(point_coords=np.array([[900, 600]]), point_labels=np.array([1]))
        self.assertTrue(np.array_equal(a[2], b[2]))
        p.reset_image()
        self.assertFalse(p.is_image_set)
        with self.assertRaises(RuntimeError):
            p.predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))
        type(self).current = None

    @unittest.skipIf(torch is not None, "torch is installed")
    def test_06_predict_torch_without_torch(self):
        with self.assertRaisesRegex(ImportError, "predict_batch"):
            self.predictor.predict_torch(None, None, None)


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent: generator parity NOT checked")
class Generator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sam = sam_model_registry["custom"](checkpoint=CHECKPOINT)

    def test_matches_sam_run(self):
        """The same records as sam-run --auto, in every output mode."""
        dog = os.path.join(GOLDEN, "images", "dog.jpg")
        options = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=1)
        for mode in ("binary_mask", "uncompressed_rle", "coco_rle"):
            out = os.path.join(TMP, "auto-%s.json" % mode)
            subprocess.run([os.path.join(BIN, "sam-run"), "--auto", "--model", self.sam.path, "--image", dog, "--points-per-side", "4",
                            "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "--crop-n-layers", "1", "--output-mode", mode,
                            "--json", out], check=True, capture_output=True)
            with open(out) as f:
                want = json.load(f)
            got = SamAutomaticMaskGenerator(self.sam, output_mode=mode, **options).generate(image("dog.jpg"))
            self.assertGreater(len(got), 0)
            self.assertEqual(len(got), len(want), mode)
            for g, w in zip(got, want):
                seg = g["segmentation"]
                if mode == "binary_mask":
                    self.assertEqual((seg.dtype, seg.shape), (np.bool_, (534, 800)))
                    self.assertTrue(np.array_equal(seg, np.array(w["segmentation"])))
                else:
                    self.assertEqual(seg, w["segmentation"])
                    self.assertIsInstance(seg["counts"], str if mode == "coco_rle" else list)
                for k in ("area", "bbox", "crop_box"):
                    self.assertEqual(g[k], w[k], k)
                self.assertIsInstance(g["area"], int)
                for k in ("predicted_iou", "stability_score"):
                    self.assertAlmostEqual(g[k], w[k], places=6)
                self.assertAlmostEqual(g["point_coords"][0][0], w["point_coords"][0][0], places=6)
            print("  sam-run --auto and Python agree on %d records (%s)" % (len(got), mode), file=sys.stderr)

    def test_oracle_runs(self):
        """The official generator's oracle runs of golden/README.md, through Python."""
        for run in manifest()["amg_oracle"]:
            params = dict(run["params"])
            params.pop("output_mode", None)
            records = SamAutomaticMaskGenerator(Oracle("sam"), output_mode="uncompressed_rle", **params).generate(image(run["image"]))
            with open(os.path.join(GOLDEN, "sam_tiny", run["output_file"])) as f:
                want = json.load(f)
            matched = match(records, want)
            print("  %-34s %d masks (official %d), %d matched" % (run["name"], len(records), len(want), matched), file=sys.stderr)
            self.assertLessEqual(abs(len(records) - len(want)), 0.01 * len(want))
            self.assertGreaterEqual(matched, 0.99 * len(want))

    def test_point_grids(self):
        grid = np.array([[0.25, 0.25], [0.5, 0.5], [0.75, 0.6]])
        records = SamAutomaticMaskGenerator(Oracle("sam"), points_per_side=None, point_grids=[grid], output_mode="coco_rle").generate(image("dog.jpg"))
        self.assertTrue(all(r["point_coords"][0][0] in (200.0, 400.0, 600.0) for r in records))


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent")
class Errors(unittest.TestCase):
    """Bad inputs raise exceptions carrying the library's message; nothing crashes."""

    @classmethod
    def setUpClass(cls):
        cls.sam = sam_model_registry["custom"](checkpoint=CHECKPOINT)
        cls.p = SamPredictor(cls.sam)
        cls.p.set_image(image("dog.jpg"))

    def test_table(self):
        p, fg = self.p, np.array([1])
        cases = [
            (lambda: p.predict(point_coords=np.array([[np.nan, 3]]), point_labels=fg), ValueError, "not a finite number"),
            (lambda: p.predict(point_coords=np.array([[1, 3]]), point_labels=np.array([5])), ValueError, "label 5"),
            (lambda: p.predict(point_coords=np.array([[1, 3]])), ValueError, "point_labels must be supplied"),
            (lambda: p.predict(point_coords=np.array([[1, 3, 4]]), point_labels=fg), ValueError, "2 values"),
            (lambda: p.predict(point_coords=np.array([[1, 3], [4, 5]]), point_labels=fg), ValueError, "2 points but point_labels 1"),
            (lambda: p.predict(box=np.array([100, 100, 50, 200])), ValueError, "x1 >= x0"),
            (lambda: p.predict(box=np.array([1, 2, 3])), ValueError, "4 values"),
            (lambda: p.predict(), ValueError, "point_coords or a box"),
            (lambda: p.predict(point_coords=np.array([[1, 3]]), point_labels=fg, mask_input=np.zeros((1, 64, 64))), ValueError, "1x256x256"),
            (lambda: p.predict(point_coords=np.array([[1, 3]]), point_labels=fg, mask_input=np.full((1, 256, 256), np.inf)), ValueError, "mask input"),
            (lambda: p.predict_batch(point_coords=np.zeros((2, 1, 2)), point_labels=np.ones((3, 1))), ValueError, "BxN"),
            (lambda: p.predict_batch(point_coords=np.zeros((2, 1, 2)), point_labels=np.ones((2, 1)), boxes=np.zeros((3, 4))), ValueError, "3 boxes"),
            (lambda: p.set_image(np.zeros((10, 10), np.uint8)), ValueError, "HxWx3 uint8"),
            (lambda: p.set_image(np.zeros((10, 10, 3), np.float32)), ValueError, "HxWx3 uint8"),
            (lambda: p.set_image(np.zeros((10, 10, 3), np.uint8), image_format="HSV"), ValueError, "image_format"),
            (lambda: p.set_features({"nope": np.zeros(3)}, (10, 10)), LookupError, "no feature 'nope'"),
            (lambda: sam_model_registry["vit_b"](checkpoint=self.sam.path), ValueError, "custom model, not vit_b"),
            (lambda: sam_model_registry["vit_b"](checkpoint=os.path.join(TMP, "missing.pth")), OSError, "missing.pth"),
            (lambda: sam_model_registry["vit_b"](), ValueError, "needs a checkpoint"),
            (lambda: SamAutomaticMaskGenerator(self.sam, output_mode="png"), ValueError, "output_mode"),
            (lambda: SamAutomaticMaskGenerator(self.sam, points_per_side=None), ValueError, "Exactly one"),
            (lambda: SamAutomaticMaskGenerator(self.sam, crop_n_layers=9).generate(image("dog.jpg")), ValueError, "crop_n_layers"),
            (lambda: SamAutomaticMaskGenerator(self.sam).generate(np.zeros((5, 5))), ValueError, "HxWx3 uint8"),
            (lambda: samrt.load_image(os.path.join(TMP, "none.jpg")), OSError, "cannot open image"),
        ]
        corrupt = os.path.join(TMP, "corrupt.pth")
        with open(CHECKPOINT, "rb") as f, open(corrupt, "wb") as g:
            g.write(f.read()[:3000000])
        cases.append((lambda: sam_model_registry["custom"](checkpoint=corrupt), ValueError, "corrupt.pth"))
        for i, (fn, kind, text) in enumerate(cases):
            with self.assertRaises(kind, msg="case %d" % i) as cm:
                fn()
            self.assertIn(text, str(cm.exception), "case %d" % i)
            if isinstance(cm.exception, samrt.SamError):
                self.assertTrue(cm.exception.status.startswith("ERR_"))
        print("  %d bad inputs raised their exceptions" % len(cases), file=sys.stderr)

    def test_cpu_warning_once(self):
        samrt.Sam._warned = False
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            self.sam.to(device="cuda")
            self.sam.to("cuda:1")
            self.assertIs(self.sam.eval(), self.sam)
        self.assertEqual(len(w), 1)
        self.assertIn("CPU", str(w[0].message))

    def test_conversion_is_cached(self):
        converted_blob = sys.modules["samrt.build_sam"].converted_blob  # (samrt.build_sam is the function, as in segment_anything)
        a = converted_blob(CHECKPOINT)
        mtime = os.stat(a).st_mtime_ns
        b = converted_blob(CHECKPOINT)
        self.assertEqual(a, b)
        self.assertEqual(os.stat(b).st_mtime_ns, mtime)
        self.assertTrue(a.startswith(os.environ["XDG_CACHE_HOME"]))  # nothing is written beside the checkpoint


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent")
class Threads(unittest.TestCase):
    def test_two_predictors_two_threads(self):
        sam = sam_model_registry["custom"](checkpoint=CHECKPOINT)
        case = {c["name"]: c for c in manifest()["cases"]}["box_and_bg_point"]
        truck = image("truck.jpg")
        results = [None, None]

        def run(i):
            p = SamPredictor(sam)
            p.set_image(truck)
            results[i] = p.predict(point_coords=np.array(case["points"]), point_labels=np.array(case["labels"]), box=np.array(case["box"]),
                                   multimask_output=False)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for masks, iou, logits in results:
            self.assertGreaterEqual((masks == golden(case["masks_file"]).astype(bool)).mean(), MASK_FRACTION)
            self.assertLessEqual(np.abs(iou - golden(case["iou_file"])).max(), IOU_TOL)
        self.assertTrue(np.array_equal(results[0][2], results[1][2]))


class Abi(unittest.TestCase):
    """The ctypes structs have the C layout: sizes and field offsets as the compiler says."""

    def test_struct_layout(self):
        if not shutil.which("cc"):
            self.skipTest("no C compiler")
        from samrt import _lib
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <samrt.h>", "int main(void) {"]
        for cname, cls in _lib.STRUCTS.items():
            lines.append('printf("%s %%zu\\n", sizeof(%s));' % (cname, cname))
            for field, _ in cls._fields_:
                lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (cname, field, cname, field))
        lines.append("return 0; }")
        src, exe = os.path.join(TMP, "abi.c"), os.path.join(TMP, "abi")
        with open(src, "w") as f:
            f.write("\n".join(lines))
        subprocess.run(["cc", "-I", os.path.join(SOURCE, "include"), src, "-o", exe], check=True)
        layout = dict(line.split() for line in subprocess.run([exe], check=True, capture_output=True, text=True).stdout.splitlines())
        for cname, cls in _lib.STRUCTS.items():
            self.assertEqual(ctypes.sizeof(cls), int(layout[cname]), cname)
            for field, _ in cls._fields_:
                self.assertEqual(getattr(cls, field).offset, int(layout["%s.%s" % (cname, field)]), "%s.%s" % (cname, field))


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
