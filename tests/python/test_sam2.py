"""samrt.sam2 against ../shared/golden/sam2_tiny, written as a script for the official
`sam2` package is, with only the imports changed: every prompt case and the two-image
batch case (masks, IoU, low-res logits within the golden tolerances), the features, the
SAM 2 oracle generator runs, the builder's checks and bad inputs.

Environment: SAMRT_GOLDEN_DIR (default ../shared/golden), SAMRT_SOURCE_DIR."""

import json
import os
import sys
import tempfile
import unittest
import warnings

import numpy as np

SOURCE = os.environ.get("SAMRT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.environ.get("SAMRT_GOLDEN_DIR", os.path.join(SOURCE, "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="samrt-sam2-")
os.environ["XDG_CACHE_HOME"] = os.path.join(TMP, "cache")

# the changed lines: `from sam2.` -> `from samrt.sam2.`
from samrt.sam2.build_sam import build_sam2  # noqa: E402
from samrt.sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402
from samrt.sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator  # noqa: E402
import samrt  # noqa: E402
from samrt.testing import Oracle  # noqa: E402
from amg_match import match  # noqa: E402

SET = os.path.join(GOLDEN, "sam2_tiny")
CHECKPOINT = os.path.join(SET, "sam2.1_tiny_seed0.pt")
# the golden model is smaller than any official one: its sam-rt config names its sizes
CONFIG = os.path.join(SOURCE, "graphs", "configs", "sam2_tiny.yaml")
HAVE_GOLDEN = os.path.exists(CHECKPOINT)
LOGITS_TOL, IOU_TOL, MASK_FRACTION, FEATURE_TOL = 1e-2, 1e-3, 0.999, 1e-3  # sam2_tiny's README, "Parity"


def golden(name):
    return np.load(os.path.join(SET, name))


def manifest():
    with open(os.path.join(SET, "manifest.json")) as f:
        return json.load(f)


def image(name):
    return samrt.load_image(os.path.join(GOLDEN, "images", name))


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden/sam2_tiny is absent: SAM 2 parity NOT checked")
class ImagePredictor(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            cls.model = build_sam2(CONFIG, CHECKPOINT, device="cuda")
        cls.predictor = SAM2ImagePredictor(cls.model)
        cls.current = None

    def use_image(self, name):
        if type(self).current != name:
            self.predictor.set_image(image(name))
            type(self).current = name

    def check(self, name, files, masks, ious, low):
        want_masks, want_iou, want_low = golden(files["masks_file"]), golden(files["iou_file"]), golden(files["low_res_logits_file"])
        self.assertEqual(masks.dtype, np.float32)  # SAM2ImagePredictor returns float masks
        self.assertEqual(masks.shape, want_masks.shape, name)
        self.assertEqual(ious.shape, want_iou.shape, name)
        self.assertEqual(low.shape, want_low.shape, name)
        equal = (masks == want_masks).mean()
        diou, dlow = np.abs(ious - want_iou).max(), np.abs(low - want_low).max()
        print("  %-26s masks %.4f%% equal, IoU within %.2g, logits within %.2g" % (name, 100 * equal, diou, dlow), file=sys.stderr)
        self.assertGreaterEqual(equal, MASK_FRACTION, name)
        self.assertLessEqual(diou, IOU_TOL, name)
        self.assertLessEqual(dlow, LOGITS_TOL, name)

    def test_cases(self):
        for c in manifest()["cases"]:
            self.use_image(c["image"])
            kw = dict(multimask_output=c["multimask"])
            if "batch_points" in c or "batch_boxes" in c:
                if "batch_points" in c:
                    kw.update(point_coords=np.array(c["batch_points"]), point_labels=np.array(c["batch_labels"]))
                if "batch_boxes" in c:
                    kw["box"] = np.array(c["batch_boxes"])
            else:
                if "points" in c:
                    kw.update(point_coords=np.array(c["points"]), point_labels=np.array(c["labels"]))
                if "box" in c:
                    kw["box"] = np.array(c["box"])
                if "mask_input_file" in c:
                    kw["mask_input"] = golden(c["mask_input_file"])
            masks, ious, low = self.predictor.predict(**kw)
            self.check(c["name"], c, masks, ious, low)

    def test_normalized_coords(self):
        self.use_image("truck.jpg")
        a = self.predictor.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]))
        b = self.predictor.predict(point_coords=np.array([[500 / 1800, 375 / 1200]]), point_labels=np.array([1]), normalize_coords=False)
        self.assertLessEqual(np.abs(a[2] - b[2]).max(), 1e-4)

    def test_image_batch(self):
        c = manifest()["image_batch_cases"][0]
        predictor = SAM2ImagePredictor(self.model)
        predictor.set_image_batch([image(n) for n in c["images"]])
        points = [np.array(p["points"]) if "points" in p else None for p in c["prompts"]]
        labels = [np.array(p["labels"]) if "labels" in p else None for p in c["prompts"]]
        boxes = [np.array(p["box"]) if "box" in p else None for p in c["prompts"]]
        masks, ious, low = predictor.predict_batch(points, labels, boxes, multimask_output=c["multimask"])
        for i, files in enumerate(c["per_image"]):
            self.check("image_batch img%d" % i, files, masks[i], ious[i], low[i])
        self.assertEqual(predictor._features["image_embed"].shape, (2, 256, 64, 64))

    def test_features(self):
        self.use_image("dog.jpg")
        emb = self.predictor.get_image_embedding()
        want = golden("dog_image_embed.npy")
        self.assertEqual(emb.shape, want.shape)
        self.assertLessEqual(np.abs(emb - want).max(), FEATURE_TOL)
        f = self.predictor._features
        self.assertEqual([x.shape for x in f["high_res_feats"]], [(1, 32, 256, 256), (1, 64, 128, 128)])

    def test_holes_and_sprinkles(self):
        """max_hole_area / max_sprinkle_area change the masks, not the returned logits."""
        self.use_image("truck.jpg")
        plain = self.predictor.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]), multimask_output=False)
        p = SAM2ImagePredictor(self.model, max_hole_area=256 * 256, max_sprinkle_area=0)
        p.set_image(image("truck.jpg"))
        filled = p.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]), multimask_output=False)
        np.testing.assert_array_equal(plain[2], filled[2])
        self.assertTrue((filled[0] >= plain[0]).all())   # holes only ever become mask
        self.assertGreater(filled[0].sum(), plain[0].sum())


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden/sam2_tiny is absent")
class Generator(unittest.TestCase):
    def test_oracle_runs(self):
        """The official SAM 2 generator's oracle runs; an 'absent' run is the official code
        without its sam2._C extension, which skips min_mask_region_area."""
        for run in manifest()["amg_oracle"]:
            params = dict(run["params"])
            params.pop("output_mode", None)
            if run["sam2_C"] == "absent":
                params.pop("min_mask_region_area", None)
            records = SAM2AutomaticMaskGenerator(Oracle("sam2"), output_mode="uncompressed_rle", **params).generate(image(run["image"]))
            with open(os.path.join(SET, run["output_file"])) as f:
                want = json.load(f)
            self.assertEqual(type(records[0]["bbox"][0]), type(want[0]["bbox"][0]))  # floats, as SAM 2 gives them
            matched = match(records, want)
            print("  %-34s %d masks (official %d), %d matched" % (run["name"], len(records), len(want), matched), file=sys.stderr)
            self.assertLessEqual(abs(len(records) - len(want)), 0.01 * len(want))
            self.assertGreaterEqual(matched, 0.99 * len(want))

    def test_defaults(self):
        g = SAM2AutomaticMaskGenerator(Oracle("sam2"))
        self.assertEqual((g.pred_iou_thresh, g.mask_threshold, g.use_m2m, g.multimask_output), (0.8, 0.0, False, True))
        self.assertAlmostEqual(g.params.pred_iou_thresh, 0.8)


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent")
class Builder(unittest.TestCase):
    def test_checks(self):
        with self.assertRaisesRegex(ValueError, "hiera_t"):  # the tiny model is not hiera_t
            build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", CHECKPOINT)
        with self.assertRaisesRegex(ValueError, "vit_b|custom"):  # a SAM checkpoint for a SAM 2 config
            build_sam2("configs/sam2/sam2_hiera_s.yaml", os.path.join(GOLDEN, "sam_tiny", "sam_tiny_seed0.pth"))
        with self.assertRaisesRegex(ValueError, "unknown SAM 2 config"):
            build_sam2("configs/sam2.1/sam2.1_hiera_xl.yaml", CHECKPOINT)
        with self.assertRaisesRegex(ValueError, "apply_postprocessing"):
            build_sam2(CONFIG, CHECKPOINT, apply_postprocessing=False)
        with self.assertRaises(NotImplementedError):
            from samrt.sam2.build_sam import build_sam2_video_predictor
            build_sam2_video_predictor(CONFIG, CHECKPOINT)

    def test_bad_inputs(self):
        p = SAM2ImagePredictor(build_sam2(CONFIG, CHECKPOINT, device="cpu"))
        with self.assertRaisesRegex(RuntimeError, "set_image"):
            p.predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))
        p.set_image(image("dog.jpg"))
        bad = [
            (dict(point_coords=np.array([[1, 1]])), ValueError, "point_labels"),
            (dict(point_coords=np.array([[np.nan, 1]]), point_labels=np.array([1])), ValueError, "finite"),
            (dict(point_coords=np.array([[1, 1]]), point_labels=np.array([7])), ValueError, "label 7"),
            (dict(box=np.array([5, 5, 1, 1])), ValueError, "x1 >= x0"),
            (dict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]), mask_input=np.zeros((1, 64, 64))), ValueError, "256x256"),
            (dict(), ValueError, "point_coords or a box"),
        ]
        for kw, exc, text in bad:
            with self.assertRaisesRegex(exc, text):
                p.predict(**kw)
        with self.assertRaises(NotImplementedError):
            p.set_image("not an image")


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        import shutil
        shutil.rmtree(TMP, ignore_errors=True)
