#!/usr/bin/env bash
# One-fold (600 pairs) runs for the detector x embedder pairs too slow for full View-2 on this busy 2-core machine.
#   bash bench/lfw_rest.sh [OUT] [DETECTOR:EMBEDDER ...]      (WORKERS=2 to use two processes)
set -u
out=${1:-out/lfw}
shift || true
shared=${SHARED:-../shared}
workers=${WORKERS:-1}
lfw=$shared/data/lfw/lfw-deepfunneled
fold1=$out/pairs_fold1.txt
mkdir -p "$out/fold1"
{ echo "1 300"; sed -n 2,601p "$shared/data/lfw/pairs.txt"; } > "$fold1"
run() {
  laneface --models-dir "$shared/models" eval lfw --lfw-dir "$lfw" --pairs "$fold1" -d "$1" -e "$2" \
    --workers "$workers" --out "$out/fold1" > "$out/fold1/$1_$2.log" 2>&1
}
stacks=("$@")
if [ ${#stacks[@]} -eq 0 ]; then
  stacks=(dlib-cascade:dlib-resnet dlib-hog:dlib-resnet scrfd-500m:dlib-resnet dlib-mmod:mobilefacenet
          scrfd:dlib-resnet dlib-mmod:dlib-resnet)
fi
for s in "${stacks[@]}"; do
  run "${s%%:*}" "${s#*:}"
done
