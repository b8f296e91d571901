#!/usr/bin/env bash
# The main job for a newcomer: install, build, get a model, run the image encoder.
# Put an official checkpoint (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or
# sam_vit_h_4b8939.pth) in models/ to use real weights; otherwise a random-weight vit_b
# is made and the embedding is meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
mkdir -p models out

ckpt=$(ls models/sam_vit_*.pth 2>/dev/null | head -n 1 || true)
if [ -n "$ckpt" ]; then
    model=models/$(basename "$ckpt" .pth).samrt
    [ -f "$model" ] || ./build/bin/sam-convert "$ckpt" -o "$model"
else
    model=models/random_vit_b.samrt
    echo "##################################################################"
    echo "# No official checkpoint in models/: using RANDOM vit_b weights.  #"
    echo "# Every output below is MEANINGLESS. Download sam_vit_b_01ec64.pth #"
    echo "# into models/ (see README.md) for real results.                  #"
    echo "##################################################################"
    [ -f "$model" ] || ./build/bin/sam-convert --random vit_b -o "$model"
fi
./build/bin/sam-convert --info "$model"

golden=../shared/golden/sam_tiny/truck_input.npy
if [ -f "$golden" ]; then
    ./build/bin/sam-run --model "$model" --input image="$golden" --output image_embeddings=out/truck_embedding.npy --profile
    echo "wrote out/truck_embedding.npy (1x256x64x64)"
fi
./build/bin/sam-bench --model "$model" --runs 1
