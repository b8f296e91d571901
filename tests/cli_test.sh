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
check "sam-run no output" 2 "nothing to save" -- "$BIN/sam-run" --model m.samrt
check "sam-run bad threads" 2 "--threads needs an integer" -- "$BIN/sam-run" --model m --threads abc --output y=$T/y.npy
check "sam-run bad io" 2 "needs NAME=FILE.npy" -- "$BIN/sam-run" --model m --output y
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
    head -c 5000000 "$G/sam_tiny_seed0.pth" >"$T/cut.pth"
    check "truncated checkpoint" 1 "sam-convert:" -- "$BIN/sam-convert" -q "$T/cut.pth" -o "$T/cut.samrt"
    absent "truncated checkpoint" "$T/cut.samrt"
else
    echo "SKIP: $GOLDEN absent, end-to-end CLI checks not run"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
