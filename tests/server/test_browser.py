"""sam-server's page in a real browser: Debian's chromium, driven by npm's playwright-core
(tests/browser/drive.js), opens truck.jpg, clicks the golden point, waits for the mask,
exports it as PNG and as COCO JSON, and undoes the click. The exported PNG must match
the golden mask (>= 99.9% of the pixels); the screenshot stays in the build folder
(server_artifacts/page.png). Environment: SAMRT_BIN, SAMRT_SOURCE_DIR, SAMRT_GOLDEN_DIR,
SAMRT_ARTIFACTS (where the screenshot goes)."""

import json
import os
import shutil
import subprocess
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from server_util import GOLDEN, HAVE_GOLDEN, SOURCE, Server, converted_tiny, rle_mask, tmpdir  # noqa: E402

ARTIFACTS = os.environ.get("SAMRT_ARTIFACTS", tmpdir("samrt-browser-"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_BROWSER = os.path.exists(CHROMIUM) and shutil.which("node") and shutil.which("npm")


def playwright_dir():
    """tests/browser's package, installed (npm ci, from its lock file) beside the artifacts."""
    work = os.path.join(ARTIFACTS, "browser")
    os.makedirs(work, exist_ok=True)
    for f in ("package.json", "package-lock.json", "drive.js"):
        shutil.copy(os.path.join(SOURCE, "tests", "browser", f), work)
    if not os.path.exists(os.path.join(work, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=work, check=True, timeout=600)
    return work


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent: the page is NOT checked")
@unittest.skipUnless(HAVE_BROWSER, "no chromium/node/npm (tools/install-deps.sh --browser): the page is NOT checked in a browser")
class Page(unittest.TestCase):
    def test_click_to_segment(self):
        from PIL import Image
        work = playwright_dir()
        tmp = tmpdir("samrt-browser-model-")
        server = Server(converted_tiny(tmp))
        try:
            c = next(c for c in json.load(open(os.path.join(GOLDEN, "sam_tiny", "manifest.json")))["cases"] if c["name"] == "point_multimask")
            x, y = c["points"][0]
            r = subprocess.run(["node", "drive.js", f"http://127.0.0.1:{server.port}/", os.path.join(GOLDEN, "images", c["image"]), str(x), str(y),
                                ARTIFACTS], cwd=work, capture_output=True, text=True, timeout=600, env={**os.environ, "CHROMIUM": CHROMIUM})
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            report = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"  page: {report['status']!r}, click to mask {report['click_ms']} ms; screenshot {ARTIFACTS}/page.png", file=sys.stderr)
            self.assertEqual(report["errors"], [])
            self.assertEqual(report["points"], [{"x": x, "y": y, "label": 1}])
            want_iou = np.load(os.path.join(GOLDEN, "sam_tiny", c["iou_file"]))
            want = np.load(os.path.join(GOLDEN, "sam_tiny", c["masks_file"]))[int(np.argmax(want_iou))] > 0
            got = np.array(Image.open(os.path.join(ARTIFACTS, "mask.png")).convert("L")) > 127
            self.assertEqual(got.shape, want.shape)
            equal = float((got == want).mean())
            print(f"  exported mask: {100 * equal:.4f}% of the pixels equal to the golden best mask", file=sys.stderr)
            self.assertGreaterEqual(equal, 0.999)
            coco = json.load(open(os.path.join(ARTIFACTS, "coco.json")))
            seg = coco["annotations"][0]["segmentation"]
            self.assertTrue((rle_mask(seg["counts"], *seg["size"]) > 0).__eq__(got).all(), "the COCO JSON's mask is not the PNG's")
            self.assertEqual((coco["images"][0]["width"], coco["images"][0]["height"]), (1800, 1200))
            self.assertEqual(report["after_undo"], {"points": 0, "answer": None})
            self.assertTrue(os.path.getsize(os.path.join(ARTIFACTS, "page.png")) > 10000)
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if not HAVE_BROWSER or not HAVE_GOLDEN:
        print("SKIPPED: " + ("no chromium/node/npm (tools/install-deps.sh --browser)" if HAVE_GOLDEN else "no ../shared/golden")
              + ": the page is NOT checked in a browser")
        sys.exit(77)
    unittest.main(verbosity=2)
