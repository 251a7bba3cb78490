#!/usr/bin/env bash
# Issue 16 windshield figures (docs/benchmarks.md, "Real windshields (item 5)"): runs one after the other, niced, one thread.
# Usage: tools/bench16_windshield.sh SPECS_TOML OUT_DIR   (SPECS_TOML describes yunet-n until it is built in)
set -euo pipefail
specs=$1
out=$2
mkdir -p "$out"
lf() { nice -n 19 .venv/bin/laneface --models-dir ../shared/models --model-specs "$specs" bench windshield \
    --dir ../shared/data/windshield --localiser-cache "$out/localiser.svm" --json "$@"; }
run() { local name=$1; shift; echo "== $name: $*" >&2; lf "$@" > "$out/$name.json"; }
run loc_test -d yunet-n --upscale 3 --enhance --regions both --split test
run yn_x1 -d yunet-n
run yn_x3 -d yunet-n --upscale 3
run yn_x3_enh -d yunet-n --upscale 3 --enhance --save-found "$out/found_yn_x3_enh" --save-examples "$out/miss"
run yn_x5_enh -d yunet-n --upscale 5 --enhance --save-found "$out/found_yn_x5_enh"
run yn_x3_enh_s04 -d yunet-n --upscale 3 --enhance --score-threshold 0.4 --save-found "$out/found_yn_x3_s04"
run yn_x3_enh_s04_share -d yunet-n --upscale 3 --enhance --score-threshold 0.4 --max-face-share 0.3 --regions both \
    --save-found "$out/found_s04_share"
run yn_x3_enh_s04_share_test -d yunet-n --upscale 3 --enhance --score-threshold 0.4 --max-face-share 0.3 \
    --regions both --split test
run ys_x3 -d yunet --upscale 3
run ys_x3_enh -d yunet --upscale 3 --enhance
run ys_x5_enh -d yunet --upscale 5 --enhance
run loc_all -d yunet-n --upscale 3 --enhance --regions localised
run hog_x2_enh -d dlib-hog --upscale 2 --enhance --every 3
run hog_x4_enh -d dlib-hog --upscale 4 --enhance --every 3
run mmod_x2_enh -d dlib-mmod --upscale 2 --enhance --every 10 --save-found "$out/found_mmod"
.venv/bin/python tools/windshield_table.py "$out"/*.json
