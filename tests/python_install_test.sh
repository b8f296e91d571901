#!/usr/bin/env bash
# The Python package installed for good: a virtual environment (with the system's NumPy),
# `pip install --no-build-isolation ./python` with no network, then samrt imported from
# elsewhere: it must use the library and graphs the package carries, and segment.
set -u
PYTHON=$1
BUILD=$2
SRC=$3
GOLDEN=${SAMRT_GOLDEN_DIR:-$SRC/../shared/golden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PYTHON" -m venv --system-site-packages "$T/venv" || exit 1
# from a copy, as pip leaves its build folders in the tree it installs from
mkdir "$T/src" && cp -r "$SRC/python" "$SRC/graphs" "$T/src/" || exit 1
SAMRT_BUILD_DIR=$BUILD PIP_NO_INDEX=1 "$T/venv/bin/pip" install --quiet --no-build-isolation "$T/src/python" || exit 1
cd "$T"
env -u SAMRT_LIBRARY -u PYTHONPATH -u SAMRT_GRAPH_DIR "$T/venv/bin/python" - "$GOLDEN" <<'PY' || exit 1
import os, sys
import numpy as np
import samrt
golden = sys.argv[1]
print("samrt", samrt.__version__, "from", samrt.library_path)
assert samrt.library_path.startswith(sys.prefix), "the installed package must load its own library, not " + samrt.library_path
ckpt = os.path.join(golden, "sam_tiny", "sam_tiny_seed0.pth")
if not os.path.exists(ckpt):
    print("SKIP: golden data absent; the installed package was imported but not run")
    sys.exit(0)
os.environ["XDG_CACHE_HOME"] = os.path.abspath("cache")
sam = samrt.sam_model_registry["custom"](checkpoint=ckpt)
p = samrt.SamPredictor(sam)
p.set_image(samrt.load_image(os.path.join(golden, "images", "truck.jpg")))
masks, iou, _ = p.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]))
want = np.load(os.path.join(golden, "sam_tiny", "point_multimask_masks.npy")).astype(bool)
print("installed package: masks %.4f%% equal to the golden ones" % (100 * (masks == want).mean()))
assert (masks == want).mean() >= 0.999
# SAM 2 through the installed package (its graphs include the golden model's config)
from samrt.sam2.build_sam import build_sam2
from samrt.sam2.sam2_image_predictor import SAM2ImagePredictor
cfg = os.path.join(os.path.dirname(samrt.__file__), "share", "sam-rt", "graphs", "configs", "sam2_tiny.yaml")
p2 = SAM2ImagePredictor(build_sam2(cfg, os.path.join(golden, "sam2_tiny", "sam2.1_tiny_seed0.pt"), device="cpu"))
p2.set_image(samrt.load_image(os.path.join(golden, "images", "truck.jpg")))
masks, iou, _ = p2.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]), multimask_output=False)
want = np.load(os.path.join(golden, "sam2_tiny", "truck_point_single_masks.npy"))
print("installed package, SAM 2: masks %.4f%% equal to the golden ones" % (100 * (masks == want).mean()))
assert (masks == want).mean() >= 0.999
PY
echo "python install: passed"
