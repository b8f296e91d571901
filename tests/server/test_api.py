"""sam-server's JSON API on loopback, with the golden tiny model: the golden prompt cases
through HTTP (decoded RLE masks >= 99.9% equal to the golden masks, IoU within 1e-3),
the earlier answer's logits as mask input, the generator as a job (progress, result,
cancel), a table of bad requests with their status codes, eviction, the upload limit,
and --token. Environment: SAMRT_BIN, SAMRT_SOURCE_DIR, SAMRT_GOLDEN_DIR."""

import json
import os
import shutil
import sys
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from server_util import GOLDEN, HAVE_GOLDEN, Server, converted_tiny, rle_mask, tmpdir, wait_for  # noqa: E402

IOU_TOL, MASK_FRACTION = 1e-3, 0.999  # golden/README.md, "What parity means"
TMP = tmpdir("samrt-server-")


def image_bytes(name):
    with open(os.path.join(GOLDEN, "images", name), "rb") as f:
        return f.read()


def manifest():
    with open(os.path.join(GOLDEN, "sam_tiny", "manifest.json")) as f:
        return json.load(f)


def case_body(c):
    """A golden case as the API's predict body."""
    if "batch_boxes" in c or "batch_points" in c:
        n = len(c.get("batch_boxes") or c.get("batch_points"))
        objects = []
        for i in range(n):
            o = {}
            if "batch_boxes" in c:
                o["box"] = c["batch_boxes"][i]
            if "batch_points" in c:
                o["points"], o["labels"] = c["batch_points"][i], c["batch_labels"][i]
            objects.append(o)
        return {"objects": objects, "multimask": c["multimask"]}
    body = {"multimask": c["multimask"]}
    if "points" in c:
        body["points"], body["labels"] = c["points"], c["labels"]
    if "box" in c:
        body["box"] = c["box"]
    return body


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent: the server's golden parity is NOT checked")
class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = converted_tiny(TMP)
        cls.server = Server(cls.model, "--max-images", "4", "--threads", "2")
        cls.ids = {}

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if rc != 0:
            print("".join(cls.server.log), file=sys.stderr)
        assert rc == 0, f"sam-server exited with {rc} on SIGTERM"

    def upload(self, name):
        if name not in self.ids:
            status, info = self.server.json("POST", "/api/images", image_bytes(name), {"Content-Type": "image/jpeg"})
            self.assertIn(status, (200, 201), info)
            self.ids[name] = info["id"]
        return self.ids[name]

    def test_health(self):
        status, h = self.server.json("GET", "/api/health")
        self.assertEqual(status, 200)
        self.assertEqual((h["status"], h["model"], h["family"], h["precision"]), ("ok", "tiny.samrt", "sam", "f32"))

    def test_upload_once(self):
        data = image_bytes("dog.jpg")
        status, first = self.server.json("POST", "/api/images", data)
        self.assertIn(status, (200, 201))
        status, again = self.server.json("POST", "/api/images", data)
        self.assertEqual(status, 200)
        self.assertEqual(again["id"], first["id"])
        self.assertTrue(again["cached"], "the same bytes were encoded twice")
        self.assertEqual((again["width"], again["height"]), (first["width"], first["height"]))
        status, info = self.server.json("GET", f"/api/images/{first['id']}")
        self.assertEqual((status, info["id"]), (200, first["id"]))

    def test_golden_cases(self):
        answers = {}
        for c in manifest()["cases"]:
            with self.subTest(case=c["name"]):
                image_id = self.upload(c["image"])
                body = case_body(c)
                if "mask_input_from" in c:  # the earlier case's best mask, by its logits id
                    body["mask_input"] = answers[c["mask_input_from"]]["logits_id"]
                status, answer = self.server.json("POST", f"/api/images/{image_id}/predict", body)
                self.assertEqual(status, 200, answer)
                answers[c["name"]] = answer
                want_masks = np.load(os.path.join(GOLDEN, "sam_tiny", c["masks_file"]))
                want_iou = np.load(os.path.join(GOLDEN, "sam_tiny", c["iou_file"]))
                objects = answer["objects"] if "objects" in answer else [answer]
                if want_masks.ndim == 3:
                    want_masks, want_iou = want_masks[None], want_iou[None]
                self.assertEqual(len(objects), want_masks.shape[0])
                worst = 1.0
                for o, wm, wi in zip(objects, want_masks, want_iou):
                    self.assertEqual(len(o["masks"]), wm.shape[0])
                    for m, w_mask, w_iou in zip(o["masks"], wm, wi):
                        got = rle_mask(m["counts"], *m["size"])
                        self.assertEqual(got.shape, w_mask.shape)
                        equal = float((got == (w_mask > 0)).mean())
                        worst = min(worst, equal)
                        self.assertGreaterEqual(equal, MASK_FRACTION, f"{c['name']}: {equal:.6f} of the pixels equal")
                        self.assertLess(abs(m["iou"] - float(w_iou)), IOU_TOL)
                        self.assertEqual(m["area"], int(got.sum()))
                        ys, xs = np.nonzero(got)
                        if len(xs):
                            self.assertEqual(m["bbox"], [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())])
                print(f"  {c['name']:26s} masks {100 * worst:.4f}% equal, server {answer['server_ms']:.1f} ms", file=sys.stderr)

    def test_png(self):
        c = next(c for c in manifest()["cases"] if c["name"] == "box")
        image_id = self.upload(c["image"])
        status, ctype, data, _ = self.server.request("POST", f"/api/images/{image_id}/predict?format=png", json.dumps(case_body(c)).encode())
        self.assertEqual((status, ctype), (200, "image/png"))
        path = os.path.join(TMP, "box.png")
        with open(path, "wb") as f:
            f.write(data)
        try:
            from PIL import Image
        except ImportError:
            self.skipTest("no PIL: the PNG's pixels are not read")
        got = np.array(Image.open(path)) > 127
        want = np.load(os.path.join(GOLDEN, "sam_tiny", c["masks_file"]))[0] > 0
        self.assertGreaterEqual(float((got == want).mean()), MASK_FRACTION)

    def test_generator_job(self):
        image_id = self.upload("dog.jpg")
        status, records = self.server.json("POST", f"/api/images/{image_id}/auto", {"points_per_side": 4, "pred_iou_thresh": 0,
                                                                                    "stability_score_thresh": 0})
        self.assertEqual(status, 200, records)
        self.assertIsInstance(records, list)
        self.assertGreater(len(records), 0)
        r = records[0]
        self.assertEqual(set(r), {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"})
        self.assertEqual(int(rle_mask(r["segmentation"]["counts"], *r["segmentation"]["size"]).sum()), r["area"])
        # as a job, with progress, then cancelled while it runs
        status, job = self.server.json("POST", f"/api/images/{image_id}/auto?async=1", {"points_per_side": 64, "points_per_batch": 16})
        self.assertEqual(status, 202, job)
        seen = []
        self.assertTrue(wait_for(lambda: seen.append(self.server.json("GET", f"/api/jobs/{job['job']}")[1]) or seen[-1]["points_done"] > 0, 120))
        self.assertEqual(seen[-1]["state"], "running")
        self.assertEqual(seen[-1]["points_total"], 64 * 64)
        status, _ = self.server.json("GET", f"/api/jobs/{job['job']}/result")
        self.assertEqual(status, 409)
        status, cancelled = self.server.json("DELETE", f"/api/jobs/{job['job']}")
        self.assertEqual((status, cancelled["state"]), (200, "cancelled"))
        self.assertLess(cancelled["points_done"], 64 * 64)
        # and one to the end, through the job's result
        status, job = self.server.json("POST", f"/api/images/{image_id}/auto?async=1", {"points_per_side": 4})
        self.assertTrue(wait_for(lambda: self.server.json("GET", f"/api/jobs/{job['job']}")[1]["state"] == "done", 120))
        status, result = self.server.json("GET", f"/api/jobs/{job['job']}/result")
        self.assertEqual(status, 200)
        self.assertIsInstance(result, list)

    def test_bad_requests(self):
        image_id = self.upload("truck.jpg")
        pred = f"/api/images/{image_id}/predict"
        table = [
            ("POST", pred, b"{not json", 400, "body:1:"),
            ("POST", pred, b"[1, 2]", 400, "expected a JSON object"),
            ("POST", pred, b"", 400, "needs a JSON body"),
            ("POST", pred, {}, 400, "needs points or a box"),
            ("POST", pred, {"points": [[500, 375]], "labels": [2]}, 400, "labels must be 1"),
            ("POST", pred, {"points": [[500, 375]], "labels": [1, 0]}, 400, "labels must be a list as long as points"),
            ("POST", pred, {"points": [[500]]}, 400, "a point must be a list of 2 numbers"),
            ("POST", pred, {"points": [[5000, 375]]}, 400, "outside the 1800x1200 image"),
            ("POST", pred, {"box": [700, 600, 425, 875]}, 400, "x1 >= x0"),
            ("POST", pred, {"box": [1, 2, 3]}, 400, "box must be a list of 4 numbers"),
            ("POST", pred, b'{"points": [[NaN, 1]]}', 400, "body:"),
            ("POST", pred, {"points": [[1, 1]], "multimask": "yes"}, 400, "multimask must be true or false"),
            ("POST", pred, {"points": [[1, 1]], "colour": 1}, 400, "unknown key 'colour'"),
            ("POST", pred, {"points": [[1, 1]], "mask_input": "nope"}, 404, "mask_input: no logits"),
            ("POST", pred, {"points": [[1, 1]], "mask_input": 3}, 400, "mask_input must be the logits_id"),
            ("POST", pred, {"objects": []}, 400, "objects must be a list"),
            ("POST", pred, {"objects": [{"box": [1, 1, 2, 2]}], "box": [1, 1, 2, 2]}, 400, "next to objects"),
            ("POST", pred, b'{"points": [[1, 1]], "points": [[2, 2]]}', 400, "duplicate"),
            ("POST", pred + "?format=gif", {"points": [[1, 1]]}, 400, "format:"),
            ("POST", f"/api/images/{image_id}/auto", {"points_per_side": 0}, 400, "points_per_side must be an integer in 1..1024"),
            ("POST", f"/api/images/{image_id}/auto", {"use_m2m": True}, 400, "use_m2m is an option of SAM 2's generator"),
            ("POST", f"/api/images/{image_id}/auto", {"nms": 1}, 400, "not an option"),
            ("POST", f"/api/images/{image_id}/auto", {"output_mode": "binary_mask"}, 400, "output_mode"),
            ("POST", "/api/images/0123456789abcdef0123456789abcdef/predict", {"points": [[1, 1]]}, 404, "no image"),
            ("POST", "/api/images/../../etc/passwd/predict", {"points": [[1, 1]]}, 404, "no such resource"),
            ("GET", "/api/jobs/ffffffffffffffff", None, 404, "no generator run"),
            ("GET", "/api/nothing", None, 404, "no such resource"),
            ("GET", pred, None, 405, "use POST"),
            ("PUT", "/api/images", b"x", 405, "POST"),
            ("POST", "/api/health", None, 405, "use GET"),
            ("POST", "/api/images", b"GIF89a....", 415, "JPEG or PNG"),
            ("POST", "/api/images", b"\xff\xd8\xff\xe0garbage", 400, "JPEG"),
            ("POST", "/api/images", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xff\xff\xff\xff\xff\xff\xff\x08\x02\0\0\0", 400, "PNG"),
        ]
        for method, path, body, want_status, want_text in table:
            with self.subTest(path=path, body=body):
                status, answer = self.server.json(method, path, body)
                self.assertEqual(status, want_status, answer)
                self.assertIn(want_text, answer["error"])
        status, h = self.server.json("GET", "/api/health")
        self.assertEqual(status, 200, "the server stopped answering after the bad requests")

    def test_delete(self):
        data = image_bytes("groceries.jpg")
        status, info = self.server.json("POST", "/api/images", data)
        self.assertIn(status, (200, 201))
        self.assertEqual(self.server.json("DELETE", f"/api/images/{info['id']}")[0], 200)
        self.assertEqual(self.server.json("POST", f"/api/images/{info['id']}/predict", {"points": [[1, 1]]})[0], 404)
        self.assertEqual(self.server.json("DELETE", f"/api/images/{info['id']}")[0], 404)
        self.ids.pop("groceries.jpg", None)

    def test_page(self):
        for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")):
            status, ctype, data, _ = self.server.request("GET", path)
            self.assertEqual(status, 200)
            self.assertTrue(ctype.startswith(kind), ctype)
            self.assertNotIn(b"http://", data.replace(b"http://127.0.0.1", b""), f"{path} loads something from the internet")


@unittest.skipUnless(HAVE_GOLDEN, "../shared/golden is absent")
class Limits(unittest.TestCase):
    def test_token_eviction_and_upload_limit(self):
        model = converted_tiny(TMP)
        s = Server(model, "--token", "s3cret", "--max-images", "1", "--max-upload-mb", "1")
        try:
            auth = {"Authorization": "Bearer s3cret"}
            self.assertEqual(s.json("GET", "/api/health")[0], 401)
            self.assertEqual(s.json("GET", "/api/health", headers={"Authorization": "Bearer wrong"})[0], 401)
            self.assertEqual(s.json("GET", "/api/health", headers={"Authorization": "s3cret"})[0], 401)
            self.assertEqual(s.json("POST", "/api/images", image_bytes("truck.jpg"))[0], 401)
            self.assertEqual(s.json("GET", "/api/health", headers=auth)[0], 200)
            self.assertEqual(s.request("GET", "/")[0], 200)  # the page itself is public; its API calls carry the token
            status, truck = s.json("POST", "/api/images", image_bytes("truck.jpg"), auth)
            self.assertEqual(status, 201)
            status, dog = s.json("POST", "/api/images", image_bytes("dog.jpg"), auth)
            self.assertEqual(status, 201)
            status, err = s.json("POST", f"/api/images/{truck['id']}/predict", {"points": [[500, 375]]}, auth)
            self.assertEqual(status, 404, "--max-images 1 kept two images")
            self.assertEqual(s.json("POST", f"/api/images/{dog['id']}/predict", {"points": [[10, 10]]}, auth)[0], 200)
            status, err = s.json("POST", "/api/images", os.urandom(3 << 20), auth)
            self.assertEqual(status, 413, err)
            self.assertEqual(s.json("GET", "/api/health", headers=auth)[0], 200)
        finally:
            self.assertEqual(s.stop(), 0)

    def test_command_line(self):
        import subprocess
        from server_util import BIN
        exe = os.path.join(BIN, "sam-server")
        for args, text in ((["--port", "x"], "--port needs"), ([], "--model is required"), (["--model", "/nonexistent.samrt"], "nonexistent"),
                           (["--model", converted_tiny(TMP), "--max-images", "0"], "--max-images needs"),
                           (["--model", converted_tiny(TMP), "--host", "256.1.1.1", "--port", "0"], "--host")):
            r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(text, r.stderr, args)
        r = subprocess.run([exe, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--max-upload-mb", r.stdout)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
