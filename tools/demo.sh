#!/usr/bin/env bash
# The main job for a newcomer: install the build's packages, build, get a model, and
# segment the example image tools/demo/house.png with a point (on the ball) and a box
# (around the house), writing masks, an overlay and JSON to out/demo/.
# Put an official checkpoint (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or
# sam_vit_h_4b8939.pth) in models/ to use real weights; otherwise a random-weight vit_b
# is made and the masks are meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
mkdir -p models out/demo

ckpt=$(ls models/sam_vit_*.pth 2>/dev/null | head -n 1 || true)
if [ -n "$ckpt" ]; then
    model=models/$(basename "$ckpt" .pth).samrt
    [ -f "$model" ] || ./build/bin/sam-convert "$ckpt" -o "$model"
else
    model=models/random_vit_b.samrt
    echo "######################################################################"
    echo "# No official checkpoint in models/: using RANDOM vit_b weights.      #"
    echo "# The masks below are MEANINGLESS. Download sam_vit_b_01ec64.pth from #"
    echo "# the segment-anything README into models/ for real results.          #"
    echo "######################################################################"
    [ -f "$model" ] || ./build/bin/sam-convert --random vit_b -o "$model"
fi

# object 0: a click on the ball; object 1: a box around the house
cat >out/demo_prompts.json <<'JSON'
[{"points": [[560, 470]], "labels": [1]},
 {"box": [110, 125, 370, 445]}]
JSON
./build/bin/sam-run --model "$model" --image tools/demo/house.png --prompts out/demo_prompts.json \
    --multimask --out out/demo --embedding out/demo/house.embedding
echo "wrote out/demo/overlay.png, out/demo/mask_*.png and out/demo/result.json"
