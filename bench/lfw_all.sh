#!/usr/bin/env bash
# Runs every detector x embedder pair on LFW View-2 (full 10 folds where CPU time allows, fold 1 otherwise).
# Usage: bash bench/lfw_all.sh OUT_DIR   (three jobs in parallel, one thread each)
set -u
out=${1:-out/lfw}
shared=${SHARED:-../shared}
lfw=$shared/data/lfw/lfw-deepfunneled
full=$shared/data/lfw/pairs.txt
fold1=$out/pairs_fold1.txt
mkdir -p "$out/full" "$out/fold1"
{ echo "1 300"; sed -n 2,601p "$full"; } > "$fold1"
run() { laneface --models-dir "$shared/models" eval lfw --lfw-dir "$lfw" --pairs "$2" -d "$3" -e "$4" --out "$out/$1" > "$out/$1/$3_$4.log" 2>&1; }
(
  run full "$full" yunet dlib-resnet
  run fold1 "$fold1" retinaface dlib-resnet
  run fold1 "$fold1" scrfd dlib-resnet
  run fold1 "$fold1" dlib-mmod dlib-resnet
) &
(
  run full "$full" yunet mobilefacenet
  run full "$full" dlib-hog mobilefacenet
  run full "$full" retinaface mobilefacenet
  run full "$full" scrfd-500m mobilefacenet
  run full "$full" scrfd mobilefacenet
  run full "$full" dlib-hog dlib-resnet
  run fold1 "$fold1" scrfd-500m dlib-resnet
  run fold1 "$fold1" dlib-mmod mobilefacenet
  run fold1 "$fold1" dlib-hog dlib-resnet
  run fold1 "$fold1" yunet dlib-resnet
  run fold1 "$fold1" dlib-cascade dlib-resnet
) &
(  # issue 16: SFace and YuNet-n
  run full "$full" yunet-n sface
  run full "$full" yunet-n sface+flip
  run full "$full" yunet sface
  run full "$full" dlib-hog sface
  run full "$full" yunet-n mobilefacenet
  run full "$full" yunet-n dlib-resnet
) &
wait
