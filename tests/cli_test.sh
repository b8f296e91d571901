#!/usr/bin/env bash
# The programs as a user meets them: help, version, exit codes (0 ok, 1 failure,
# 2 bad command line), one-line errors, and no output file left behind on failure.
set -u
BIN=$1
SRC=$2
GOLDEN=${SAMRT_GOLDEN_DIR:-$SRC/../shared/golden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

check() { # check NAME EXPECTED_STATUS EXPECTED_STDERR_SUBSTRING -- COMMAND...
    local name=$1 want=$2 text=$3
    shift 4
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ] || ! grep -qF -- "$text" "$T/err" "$T/out"; then
        echo "FAIL $name: status $got (want $want), output:"
        cat "$T/out" "$T/err" | head -5
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}
absent() { # absent NAME FILE
    if [ -e "$2" ]; then echo "FAIL $1: $2 was left behind"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
}

for tool in sam-run sam-convert sam-bench; do
    check "$tool --help" 0 "usage: $tool" -- "$BIN/$tool" --help
    check "$tool bad option" 2 "usage: $tool" -- "$BIN/$tool" --no-such-option
done
check "sam-run --version" 0 "sam-run 0." -- "$BIN/sam-run" --version
check "sam-run no model" 2 "--model is required" -- "$BIN/sam-run" --output y=$T/y.npy
check "sam-run no output" 2 "nothing to do" -- "$BIN/sam-run" --model m.samrt
check "sam-run bad threads" 2 "--threads needs an integer" -- "$BIN/sam-run" --model m --threads abc --output y=$T/y.npy
check "sam-run bad io" 2 "needs NAME=VALUE" -- "$BIN/sam-run" --model m --output y
check "sam-run missing model" 1 "cannot open model" -- "$BIN/sam-run" --model "$T/missing.samrt" --output y=$T/y.npy
absent "sam-run missing model" "$T/y.npy"
printf 'not a blob at all, but long enough to have a header......................' >"$T/junk.samrt"
check "sam-run junk model" 1 "not a sam-rt weight blob" -- "$BIN/sam-run" --model "$T/junk.samrt" --output y=$T/y.npy
check "sam-convert nothing" 2 "give a checkpoint" -- "$BIN/sam-convert"
check "sam-convert bad variant" 2 "unknown variant 'vit_x'" -- "$BIN/sam-convert" --random vit_x -o "$T/r.samrt"
absent "sam-convert bad variant" "$T/r.samrt"
echo "hello" >"$T/text.pth"
check "sam-convert not a zip" 1 "not a zip archive" -- "$BIN/sam-convert" -q "$T/text.pth" -o "$T/t.samrt"
absent "sam-convert not a zip" "$T/t.samrt"
check "sam-convert seed" 2 "--seed needs" -- "$BIN/sam-convert" --random vit_b --seed -3 -o "$T/r.samrt"

if [ -f "$GOLDEN/sam_tiny/sam_tiny_seed0.pth" ]; then
    G=$GOLDEN/sam_tiny
    check "convert golden" 0 "wrote" -- "$BIN/sam-convert" "$G/sam_tiny_seed0.pth" -o "$T/tiny.samrt"
    check "info" 0 "global_attn_indexes  [1, 3]" -- "$BIN/sam-convert" --info "$T/tiny.samrt"
    # weight precision: a bad spelling, a checkpoint and an f32 blob stored as bf16 / q8, and what is refused
    check "bad dtype" 2 "--dtype must be f32, bf16 or q8" -- "$BIN/sam-convert" "$G/sam_tiny_seed0.pth" --dtype fp16 -o "$T/x.samrt"
    absent "bad dtype" "$T/x.samrt"
    check "convert q8" 0 "q8 weights, 202 tensors" -- "$BIN/sam-convert" "$G/sam_tiny_seed0.pth" --dtype q8 -o "$T/tiny_q8.samrt"
    check "info q8" 0 "q8 weights, 270 tensors" -- "$BIN/sam-convert" --info "$T/tiny_q8.samrt"
    check "info q8 precision" 0 "precision            q8" -- "$BIN/sam-convert" --info "$T/tiny_q8.samrt"
    check "re-store bf16" 0 "bf16 weights" -- "$BIN/sam-convert" "$T/tiny.samrt" --dtype bf16 -o "$T/tiny_bf16.samrt"
    check "blob needs dtype" 2 "give --dtype bf16 or q8" -- "$BIN/sam-convert" "$T/tiny.samrt" -o "$T/x.samrt"
    check "re-store reduced" 1 "only an f32 blob" -- "$BIN/sam-convert" -q "$T/tiny_q8.samrt" --dtype bf16 -o "$T/x.samrt"
    absent "re-store reduced" "$T/x.samrt"
    check "q8 segment" 0 "IoU" -- "$BIN/sam-run" --model "$T/tiny_q8.samrt" --image "$GOLDEN/images/truck.jpg" --point 500,375 --json "$T/q8.json"
    check "bf16 profile" 0 "fused_linear" -- "$BIN/sam-run" --model "$T/tiny_bf16.samrt" --input image="$G/truck_input.npy" \
        --output image_embeddings="$T/emb_bf16.npy" --profile
    check "encoder run" 0 "ran in" -- "$BIN/sam-run" --model "$T/tiny.samrt" --input image="$G/truck_input.npy" \
        --output image_embeddings="$T/emb.npy" --output x.2="$T/x2.npy" --threads 2 --profile
    size=$(stat -c %s "$T/emb.npy" 2>/dev/null || echo 0)
    data=$((256 * 64 * 64 * 4)) # float32 1x256x64x64 after a header of at most 512 bytes
    [ "$size" -gt "$data" ] && [ "$size" -le $((data + 512)) ] && pass=$((pass + 1)) || { echo "FAIL embedding size $size"; fail=$((fail + 1)); }
    check "dump plan" 0 "memory plan of graph 'image_encoder'" -- "$BIN/sam-run" --model "$T/tiny.samrt" \
        --input image="$G/truck_input.npy" --output image_embeddings="$T/emb2.npy" --dump-plan
    check "wrong input shape" 1 "input 'image' must have shape [1, 3, 1024, 1024]" -- "$BIN/sam-run" --model "$T/tiny.samrt" \
        --input image="$G/truck_embedding.npy" --output image_embeddings="$T/e3.npy"
    absent "wrong input shape" "$T/e3.npy"
    check "missing input" 1 "needs input 'image'" -- "$BIN/sam-run" --model "$T/tiny.samrt" --output image_embeddings="$T/e3.npy"
    check "unknown tensor" 1 "no tensor named 'nope'" -- "$BIN/sam-run" --model "$T/tiny.samrt" \
        --input image="$G/truck_input.npy" --output image_embeddings="$T/e3.npy" --output nope="$T/e4.npy"
    absent "unknown tensor" "$T/e3.npy"
    check "wrong config" 1 "pick the matching --config" -- "$BIN/sam-run" --model "$T/tiny.samrt" --config "$SRC/graphs/configs/vit_b.yaml" \
        --input image="$G/truck_input.npy" --output image_embeddings="$T/e3.npy"
    # segmentation: bad prompts exit 2 with the argument named, and write nothing
    IMG=$GOLDEN/images/truck.jpg
    seg() { "$BIN/sam-run" --model "$T/tiny.samrt" --image "$IMG" --out "$T/seg" "$@"; }
    check "point not a number" 2 "--point '12,abc'" -- seg --point 12,abc
    check "point nan" 2 "--point 'nan,3'" -- seg --point nan,3
    check "point label" 2 "the label must be 1 (foreground) or 0" -- seg --point 10,10,5
    check "box order" 2 "x1 >= x0" -- seg --box 100,100,50,200
    check "point outside" 2 "outside the 1800x1200 image" -- seg --point 5000,10
    check "box outside" 2 "outside the 1800x1200 image" -- seg --box 10,10,1900,100
    check "mask shape" 2 "the mask input must be float32 1x256x256" -- seg --point 10,10 --mask-input "$G/truck_embedding.npy"
    printf '[{"points": [[1, 2]], "labels": [1]},\n {"box": [1, 2, 3]}]' >"$T/bad.json"
    check "prompts json" 2 "box must be a list of 4 numbers" -- seg --prompts "$T/bad.json"
    printf '[{"points": [[1, 2]] "labels": [1]}]' >"$T/syntax.json"
    check "prompts syntax" 2 "syntax.json:1:29: '}' expected near" -- seg --prompts "$T/syntax.json"
    check "no prompt" 2 "nothing to segment" -- seg
    check "no output" 2 "no output" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$IMG" --point 10,10
    check "not an image" 1 "not a JPEG or PNG image" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$T/text.pth" --point 10,10 --out "$T/seg"
    head -c 20000 "$IMG" >"$T/cut.jpg"
    check "truncated jpeg" 1 "truncated JPEG" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$T/cut.jpg" --point 10,10 --out "$T/seg"
    absent "bad prompts write nothing" "$T/seg"

    # a real run: masks, overlay, JSON, logits, masks array, and the embedding reused next time
    check "segment" 0 "IoU" -- seg --point 500,375 --box 425,600,700,875 --multimask --json "$T/r.json" \
        --save-logits "$T/l.npy" --save-masks "$T/m.npy" --embedding "$T/truck.emb"
    for f in seg/mask_0_0.png seg/mask_0_2.png seg/overlay.png seg/result.json r.json l.npy m.npy truck.emb; do
        [ -s "$T/$f" ] && pass=$((pass + 1)) || { echo "FAIL segment: $f missing"; fail=$((fail + 1)); }
    done
    grep -q '"iou": ' "$T/r.json" && grep -q '"file": "mask_0_1.png"' "$T/r.json" && pass=$((pass + 1)) || { echo "FAIL result json"; fail=$((fail + 1)); }
    # each mask's area and bbox in the JSON are those of its mask in --save-masks, the bbox
    # in the official [x, y, last column - x, last row - y] convention
    PY=${SAMRT_PYTHON:-python3}
    if "$PY" -c "import numpy" 2>/dev/null; then
        "$PY" - "$T/r.json" "$T/m.npy" <<'PY' && pass=$((pass + 1)) || { echo "FAIL json area and bbox"; fail=$((fail + 1)); }
import json, sys
import numpy as np
masks = np.load(sys.argv[2])
for o, obj in enumerate(json.load(open(sys.argv[1]))["objects"]):
    for k, m in enumerate(obj["masks"]):
        ys, xs = np.nonzero(masks[o, k])
        want = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())] if len(xs) else [0, 0, 0, 0]
        assert m["area"] == len(xs) and m["bbox"] == want, (o, k, m["area"], len(xs), m["bbox"], want)
PY
    else
        echo "SKIP: no python3 with NumPy, the JSON's areas and boxes against --save-masks not checked"
    fi
    check "embedding reused" 0 "reused the image embedding" -- seg --point 500,375 --embedding "$T/truck.emb"
    check "input size percent" 0 "IoU" -- seg --point 500,375 --input-size-percent 50
    check "demo image" 0 "IoU" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$SRC/tools/demo/house.png" --box 110,125,370,445 --json "$T/h.json"
    # automatic mask generation: the oracle on a golden image, the tiny model end to end
    DOG=$GOLDEN/images/dog.jpg
    check "auto oracle" 0 "masks;" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --points-per-side 16 --out "$T/amg" --output-mode coco_rle
    n_png=$(ls "$T/amg" 2>/dev/null | grep -c '^[0-9]*\.png$')
    [ "$n_png" -eq 221 ] && pass=$((pass + 1)) || { echo "FAIL auto oracle: $n_png mask PNGs, the official run has 221"; fail=$((fail + 1)); }
    [ "$(wc -l <"$T/amg/metadata.csv")" -eq 222 ] && grep -q '"counts": "' "$T/amg/masks.json" && [ -s "$T/amg/overlay.png" ] &&
        pass=$((pass + 1)) || { echo "FAIL auto oracle outputs"; fail=$((fail + 1)); }
    check "auto tiny model" 0 "masks;" -- "$BIN/sam-run" --auto --model "$T/tiny.samrt" --image "$DOG" --points-per-side 4 \
        --pred-iou-thresh 0 --stability-score-thresh 0 --json "$T/amg.json" --output-mode uncompressed_rle
    grep -q '"stability_score"' "$T/amg.json" && pass=$((pass + 1)) || { echo "FAIL auto json"; fail=$((fail + 1)); }
    mkdir -p "$T/imgs" && cp "$DOG" "$T/imgs/a.jpg" && cp "$SRC/tools/demo/house.png" "$T/imgs/b.png"
    check "auto directory" 0 "b.png:" -- "$BIN/sam-run" --auto --oracle --image "$T/imgs" --points-per-side 4 --out "$T/multi"
    [ -f "$T/multi/a/metadata.csv" ] && [ -f "$T/multi/b/metadata.csv" ] && pass=$((pass + 1)) || { echo "FAIL a folder per image"; fail=$((fail + 1)); }
    check "prompts on a folder" 0 "2 done" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$T/imgs" --point 10,10 --out "$T/pfolder"
    [ -f "$T/pfolder/a/result.json" ] && [ -f "$T/pfolder/b/mask_0_0.png" ] && grep -q '"status":"done"' "$T/pfolder/manifest.jsonl" &&
        pass=$((pass + 1)) || { echo "FAIL prompts on a folder: a folder per image"; fail=$((fail + 1)); }
    check "prompts on a folder, one file" 2 "name one image's files" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$T/imgs" --point 10,10 \
        --json "$T/x.json"
    { printf '['; yes '{},' | head -c 30000000; printf '{}]'; } >"$T/many.json" # 10^7 objects: refused before jansson allocates 2 GB
    check "prompts: 10^7 objects" 2 "lists and objects accepted" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$DOG" --prompts "$T/many.json" --out "$T/x"
    printf '[[[0.5, 0.5], [0.25, 0.75]]]' >"$T/grid.json"
    check "point grids" 0 "masks;" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --point-grids "$T/grid.json" --json "$T/g.json"
    check "auto no image" 2 "--auto needs --image" -- "$BIN/sam-run" --auto --oracle --out "$T/x"
    check "auto bad mode" 2 "--output-mode must be" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --output-mode png --out "$T/x"
    check "auto bad number" 2 "--pred-iou-thresh needs a number" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --pred-iou-thresh 2 --out "$T/x"
    check "auto json many" 2 "--json writes one image" -- "$BIN/sam-run" --auto --oracle --image "$T/imgs" --json "$T/x.json"
    check "auto prompts" 2 "segments everything" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --point 1,1 --out "$T/x"
    check "amg option without auto" 2 "need --auto" -- "$BIN/sam-run" --model "$T/tiny.samrt" --image "$DOG" --point 1,1 --points-per-side 8 --out "$T/x"
    check "auto json default" 0 "masks;" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --points-per-side 4 --json "$T/rle.json"
    grep -q '"counts": "' "$T/rle.json" && pass=$((pass + 1)) || { echo "FAIL --json is COCO RLE by default"; fail=$((fail + 1)); }
    check "auto json too big" 1 "use --output-mode coco_rle" -- "$BIN/sam-run" --auto --oracle --image "$IMG" --json "$T/huge.json" \
        --output-mode binary_mask
    absent "a refused output" "$T/huge.json"
    check "crops keep no mask" 0 ": 0 masks;" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --crop-n-layers 1 --points-per-side 4 \
        --pred-iou-thresh 1 --stability-score-thresh 1 --json "$T/none.json"
    mkdir -p "$T/clash" && cp "$DOG" "$T/clash/a.jpg" && cp "$SRC/tools/demo/house.png" "$T/clash/a.png"
    check "folder name clash" 1 "would both write the folder 'a'" -- "$BIN/sam-run" --auto --oracle --image "$T/clash" --out "$T/x"
    check "shard of one image" 2 "are for folder runs" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --shard 0/2 --out "$T/x"
    printf '[[[1.5, 0.5]]]' >"$T/badgrid.json"
    check "bad point grids" 2 "in [0, 1]" -- "$BIN/sam-run" --auto --oracle --image "$DOG" --point-grids "$T/badgrid.json" --out "$T/x"
    absent "auto errors write nothing" "$T/x"
    head -c 5000000 "$G/sam_tiny_seed0.pth" >"$T/cut.pth"
    check "truncated checkpoint" 1 "sam-convert:" -- "$BIN/sam-convert" -q "$T/cut.pth" -o "$T/cut.samrt"
    absent "truncated checkpoint" "$T/cut.samrt"
else
    echo "SKIP: $GOLDEN absent, end-to-end CLI checks not run"
fi

if [ -f "$GOLDEN/sam2_tiny/sam2.1_tiny_seed0.pt" ]; then
    G2=$GOLDEN/sam2_tiny
    CFG2=$SRC/graphs/configs/sam2_tiny.yaml
    check "convert sam2" 0 "left out 47 tensors" -- "$BIN/sam-convert" "$G2/sam2.1_tiny_seed0.pt" -o "$T/t2.samrt"
    check "info sam2" 0 "version              2.1" -- "$BIN/sam-convert" --info "$T/t2.samrt"
    check "sam2 needs its config" 1 "which has no config of its own" -- "$BIN/sam-run" --model "$T/t2.samrt" --image "$GOLDEN/images/truck.jpg" --point 500,375 --json "$T/x.json"
    absent "sam2 needs its config" "$T/x.json"
    # a golden case through the command line: low-res logits and the embedding cache (three features)
    seg2() { "$BIN/sam-run" --model "$T/t2.samrt" --config "$CFG2" --image "$GOLDEN/images/truck.jpg" --point 500,375 "$@"; }
    check "sam2 segment" 0 "IoU 0.377" -- seg2 --save-logits "$T/s2.npy" --embedding "$T/t2.emb"
    check "sam2 logits" 0 "max abs" -- "$BIN/npy_close" "$T/s2.npy" "$G2/truck_point_single_low_res_logits.npy" 1e-2
    check "sam2 embedding reused" 0 "reused the image embedding" -- seg2 --save-logits "$T/s2b.npy" --embedding "$T/t2.emb"
    check "sam2 cached logits" 0 "max abs 0 " -- "$BIN/npy_close" "$T/s2b.npy" "$T/s2.npy" 0
    # SAM 2's generator on its oracle: the official mask counts
    count() { grep -o '"predicted_iou"' "$1" | wc -l; }
    amg2() { local want=$1 name=$2; shift 2
        check "$name" 0 "masks;" -- "$BIN/sam-run" --auto --oracle sam2 --json "$T/$name.json" --output-mode uncompressed_rle "$@"
        [ "$(count "$T/$name.json")" -eq "$want" ] && pass=$((pass + 1)) || { echo "FAIL $name: $(count "$T/$name.json") masks, official $want"; fail=$((fail + 1)); }
    }
    amg2 958 oracle2_dog --image "$GOLDEN/images/dog.jpg"
    amg2 196 oracle2_m2m --image "$GOLDEN/images/truck.jpg" --points-per-side 16 --use-m2m
    amg2 88 oracle2_single --image "$GOLDEN/images/groceries.jpg" --points-per-side 16 --points-per-batch 51 --no-multimask-output
    amg2 339 oracle2_minarea --image "$GOLDEN/images/dog.jpg" --points-per-side 12 --crop-n-layers 1 --crop-n-points-downscale-factor 2 \
        --min-mask-region-area 800
    amg2 151 oracle2_thresholds --image "$GOLDEN/images/groceries.jpg" --points-per-side 12 --pred-iou-thresh 0.86 \
        --stability-score-thresh 0.9 --stability-score-offset 2.0 --box-nms-thresh 0.5 --mask-threshold 1.0 --points-per-batch 20
    # SAM 2's own options are refused for SAM, and bad spellings
    check "m2m for sam" 2 "--use-m2m is an option of SAM 2's generator" -- "$BIN/sam-run" --auto --oracle --image "$GOLDEN/images/dog.jpg" --use-m2m --json "$T/x.json"
    check "no-m2m for sam" 2 "--no-use-m2m is an option" -- "$BIN/sam-run" --auto --oracle sam --image "$GOLDEN/images/dog.jpg" --no-use-m2m --json "$T/x.json"
    check "mask threshold for sam" 2 "--mask-threshold is an option" -- "$BIN/sam-run" --auto --oracle=sam --image "$GOLDEN/images/dog.jpg" --mask-threshold 0 --json "$T/x.json"
    check "oracle name" 2 "--oracle is 'sam'" -- "$BIN/sam-run" --auto --oracle=sam3 --image "$GOLDEN/images/dog.jpg" --json "$T/x.json"
    check "mask threshold number" 2 "--mask-threshold needs a number" -- "$BIN/sam-run" --auto --oracle sam2 --image "$GOLDEN/images/dog.jpg" --mask-threshold x --json "$T/x.json"
    absent "sam2 refusals write nothing" "$T/x.json"
else
    echo "SKIP: $GOLDEN/sam2_tiny absent, SAM 2 CLI checks not run"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
