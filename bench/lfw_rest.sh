#!/usr/bin/env bash
# One-fold (600 pairs) runs for the detector x embedder pairs too slow for full View-2 on this busy 2-core machine.
set -u
out=${1:-out/lfw}
shared=${SHARED:-../shared}
lfw=$shared/data/lfw/lfw-deepfunneled
fold1=$out/pairs_fold1.txt
mkdir -p "$out/fold1"
{ echo "1 300"; sed -n 2,601p "$shared/data/lfw/pairs.txt"; } > "$fold1"
run() { laneface --models-dir "$shared/models" eval lfw --lfw-dir "$lfw" --pairs "$fold1" -d "$1" -e "$2" --out "$out/fold1" > "$out/fold1/$1_$2.log" 2>&1; }
run dlib-cascade dlib-resnet
run dlib-hog dlib-resnet
run scrfd-500m dlib-resnet
run dlib-mmod mobilefacenet
run scrfd dlib-resnet
run dlib-mmod dlib-resnet
