#!/usr/bin/env python3
"""Folder runs of sam-run --auto that survive being killed (tools/sam-run/dataset.c).

The generator runs on the golden data's synthetic mask predictor (--oracle), so the test
needs no model and takes seconds. It checks, against one uninterrupted run of a folder of
images (one of them broken):
  - a run killed with SIGKILL at random moments, several times, then resumed, ends with
    exactly the same files, byte for byte, no partial folder left, and one "done" line per
    image in manifest.jsonl (the broken image: "failed", and exit status 1);
  - three --shard K/3 processes at once into one folder give the same union, each image
    done by exactly one of them;
  - a resumed run over a complete folder does nothing; --overwrite redoes it identically;
  - --no-keep-going stops at the first failure.
"""
import hashlib, json, os, random, shutil, signal, subprocess, sys, tempfile, time

BIN = os.environ.get("SAMRT_BIN", "build/bin")
GOLDEN = os.environ.get("SAMRT_GOLDEN", os.path.join(os.path.dirname(__file__), "../../../shared/golden"))
RUN = [os.path.join(BIN, "sam-run"), "--oracle", "--auto", "--points-per-side", "12", "--threads", "2"]
failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failures += not ok


def make_images(d):
    from PIL import Image
    os.makedirs(d)
    sources = [os.path.join(GOLDEN, "images", n) for n in ("dog.jpg", "groceries.jpg", "truck.jpg")]
    k = 0
    for src in sources:
        im = Image.open(src).convert("RGB")
        for scale in (0.25, 0.4, 0.55, 0.7):
            im.resize((int(im.width * scale), int(im.height * scale))).save(os.path.join(d, "img%02d.%s" % (k, "png" if k % 2 else "jpg")))
            k += 1
    with open(os.path.join(d, "img99_broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not really a JPEG")
    return k


def tree(out):
    """{relative path: sha256} of every file but the manifest, and the leftovers (partials)"""
    files, stray = {}, []
    for root, dirs, names in os.walk(out):
        for n in dirs + names:
            if n.startswith(".") or ".old-" in n:
                stray.append(os.path.join(root, n))
        for n in names:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, out)
            if rel != "manifest.jsonl":
                files[rel] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return files, stray


def manifest(out):
    lines = [json.loads(l) for l in open(os.path.join(out, "manifest.jsonl")) if l.strip()]
    done = {}
    for l in lines:
        if l["status"] == "done":
            done[l["output"]] = done.get(l["output"], 0) + 1
    return lines, done


def main():
    if not os.path.isdir(os.path.join(GOLDEN, "images")):
        print("SKIPPED: no golden images at", GOLDEN)
        return 77
    tmp = tempfile.mkdtemp(prefix="samrt-dataset-")
    try:
        images = os.path.join(tmp, "images")
        n_good = make_images(images)
        stems = sorted(os.path.splitext(n)[0] for n in os.listdir(images) if "broken" not in n)

        ref = os.path.join(tmp, "ref")
        t0 = time.time()
        rc = subprocess.run(RUN + ["--image", images, "--out", ref], capture_output=True).returncode
        whole = time.time() - t0
        ref_files, _ = tree(ref)
        lines, done = manifest(ref)
        check(rc == 1, "an uninterrupted run with a broken image exits 1 (got %d) in %.1f s" % (rc, whole))
        check(sorted(done) == stems and all(v == 1 for v in done.values()), "its manifest has one done line per good image")
        check(any(l["status"] == "failed" and "broken" in l["output"] and l.get("error") for l in lines), "and the broken image failed, with its error")

        # killed at random moments, then resumed
        out = os.path.join(tmp, "killed")
        rnd = random.Random(int(os.environ.get("SAMRT_TEST_SEED", "1")))
        kills = 0
        for attempt in range(40):
            p = subprocess.Popen(RUN + ["--image", images, "--out", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                p.wait(timeout=rnd.uniform(0.05, whole / 3))
                break  # finished on its own
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
        rc = subprocess.run(RUN + ["--image", images, "--out", out], capture_output=True).returncode
        files, stray = tree(out)
        lines, done = manifest(out)
        check(kills >= 3, "the run was killed %d times before it could finish" % kills)
        check(rc == 1, "the resumed run exits 1 for the broken image (got %d)" % rc)
        check(files == ref_files, "killed + resumed: the same %d files, byte for byte, as the uninterrupted run (got %d)" % (len(ref_files), len(files)))
        check(not stray, "no partial folders left (%s)" % stray[:3])
        check(sorted(done) == stems and all(v == 1 for v in done.values()), "one done line per image in the manifest, none twice (%s)" %
              {k: v for k, v in done.items() if v != 1})

        # nothing left to do
        r = subprocess.run(RUN + ["--image", images, "--out", out], capture_output=True, text=True)
        check("0 done, %d already there" % n_good in r.stderr, "a run over a complete folder skips every image")
        check(manifest(out)[1] == done, "and adds no done lines")

        # --overwrite
        r = subprocess.run(RUN + ["--image", images, "--out", out, "--overwrite"], capture_output=True, text=True)
        check("%d done, 0 already there" % n_good in r.stderr and tree(out) == (ref_files, []), "--overwrite redoes every image, identically")

        # three shards at once into one folder
        sh = os.path.join(tmp, "shards")
        procs = [subprocess.Popen(RUN + ["--threads", "1", "--image", images, "--out", sh, "--shard", "%d/3" % k], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for k in range(3)]
        outs = [p.communicate()[1] for p in procs]
        files, stray = tree(sh)
        lines, done = manifest(sh)
        check(files == ref_files and not stray, "3 concurrent shards: their union is the single run's files")
        by_shard = {}
        for l in lines:
            if l["status"] == "done":
                by_shard.setdefault(l["output"], set()).add(l.get("shard"))
        check(sorted(done) == stems and all(len(s) == 1 for s in by_shard.values()) and len({s for v in by_shard.values() for s in v}) >= 2,
              "each image done once, by one shard, and the work split across shards")
        check(sum(p.returncode for p in procs) == 1, "only the shard with the broken image exits 1")

        # --no-keep-going stops at the first failure
        stop_in = os.path.join(tmp, "stop_images")
        os.makedirs(stop_in)
        shutil.copy(os.path.join(images, "img99_broken.jpg"), os.path.join(stop_in, "a_broken.jpg"))
        for n in ("img00.jpg", "img01.png"):
            shutil.copy(os.path.join(images, n), stop_in)
        stop = os.path.join(tmp, "stop")
        rc = subprocess.run(RUN + ["--image", stop_in, "--out", stop, "--no-keep-going"], capture_output=True).returncode
        lines, done = manifest(stop)
        check(rc == 1 and not done and [l["status"] for l in lines] == ["failed"], "--no-keep-going stops at the first failed image")

        # bad arguments
        for args, what in ((["--shard", "3/3"], "--shard K out of range"), (["--shard", "x"], "--shard not K/N"),
                           (["--resume", "--overwrite"], "--resume with --overwrite")):
            r = subprocess.run(RUN + ["--image", images, "--out", os.path.join(tmp, "never")] + args, capture_output=True, text=True)
            check(r.returncode == 2 and not os.path.exists(os.path.join(tmp, "never")), what + " is a usage error, nothing written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
