#!/usr/bin/env bash
# A blob written back as a PyTorch checkpoint and converted again must give the same
# tensors: with plain storages, and with transposed (strided) tensors and weight/bias
# pairs sharing a storage at an offset. Runs on a random vit_b (detected as vit_b) and,
# when present, on the golden checkpoint's conversion.
set -eu
BIN=$1
SRC=$2
GOLDEN=${SAMRT_GOLDEN_DIR:-$SRC/../shared/golden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN/sam-convert" -q --random vit_b --seed 3 -o "$T/a.samrt"
for mode in plain --views; do
    "$BIN/make_checkpoint" "$T/a.samrt" "$T/b.pth" sam_vit_b_random ${mode/plain/}
    "$BIN/sam-convert" "$T/b.pth" -o "$T/c.samrt" 2>"$T/log"
    grep -q "vit_b" "$T/log" || { echo "variant not detected as vit_b:"; cat "$T/log"; exit 1; }
    "$BIN/sam-convert" --info "$T/a.samrt" | tail -n +2 >"$T/a.info"
    "$BIN/sam-convert" --info "$T/c.samrt" | tail -n +2 | grep -v random_seed >"$T/c.info"
    grep -v random_seed "$T/a.info" | diff - "$T/c.info"
    "$BIN/blob_diff" "$T/a.samrt" "$T/c.samrt" || { echo "FAIL: tensors differ after the $mode round trip"; exit 1; }
    echo "ok: vit_b round trip ($mode)"
done

if [ -f "$GOLDEN/sam_tiny/sam_tiny_seed0.pth" ]; then
    "$BIN/sam-convert" -q "$GOLDEN/sam_tiny/sam_tiny_seed0.pth" -o "$T/g.samrt"
    "$BIN/make_checkpoint" "$T/g.samrt" "$T/g.pth" some_other_name --views
    "$BIN/sam-convert" -q "$T/g.pth" -o "$T/g2.samrt"
    "$BIN/blob_diff" "$T/g.samrt" "$T/g2.samrt" || { echo "FAIL: golden tensors differ after the round trip"; exit 1; }
    echo "ok: golden checkpoint round trip (--views)"
fi
echo "checkpoint_roundtrip: passed"
