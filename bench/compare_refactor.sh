#!/usr/bin/env bash
# Accuracy figures of two checkouts on the same data (docs/benchmarks.md, "Structure refactor"):
#   bench/compare_refactor.sh OLD_SRC NEW_SRC OUT   (OLD_SRC/NEW_SRC: the src/ folder of each checkout)
# Runs with the current virtual environment's laneface; compare OUT/old and OUT/new with a JSON diff.
set -euo pipefail
OLD=$1 NEW=$2 OUT=$3
SHARED=${SHARED:-../shared}
M=(--models-dir "$SHARED/models")
LFW=$SHARED/data/lfw/lfw-deepfunneled
mkdir -p "$OUT"
(echo "1 50"; sed -n 2,51p "$SHARED/data/lfw/pairs.txt"; sed -n 302,351p "$SHARED/data/lfw/pairs.txt") >"$OUT/pairs100.txt"
for side in old new; do
  if [ $side = old ]; then SRC=$OLD; else SRC=$NEW; fi
  O=$OUT/$side; mkdir -p "$O"
  export PYTHONPATH=$SRC PYTHONHASHSEED=0
  laneface sim --out "$O/sim12" --passages 12 --seed 2026 --lfw-dir "$LFW" >"$O/sim.log" 2>&1
  for stack in "yunet mobilefacenet" "dlib-hog dlib-resnet"; do
    set -- $stack
    D=$O/data_$1
    laneface "${M[@]}" --data-dir "$D" gallery enroll "$OUT/old/sim12/manifest.csv" -p lenient -d "$1" -e "$2" --json >"$O/enroll_$1.json"
    laneface "${M[@]}" --data-dir "$D" bench lane "$OUT/old/sim12" -d "$1" -e "$2" --out "$O/lane_$1" --json >"$O/lane_$1.json"
  done
  laneface "${M[@]}" bench windshield --dir "$SHARED/data/windshield" -d yunet --json >"$O/ws_yunet.json"
  laneface "${M[@]}" bench windshield --dir "$SHARED/data/windshield" -d yunet --upscale 3 --json >"$O/ws_yunet_up3.json"
  laneface "${M[@]}" bench detect --lfw-dir "$LFW" --faces 20 --detectors yunet,yunet@2x640,dlib-hog --out "$O/detect" >"$O/detect.json"
  laneface bench gallery --size 20000 --dim 128 --json >"$O/gallery.json"
  laneface eval lfw --lfw-dir "$LFW" --pairs "$OUT/pairs100.txt" --out "$O/lfw" >"$O/lfw.json"
done
