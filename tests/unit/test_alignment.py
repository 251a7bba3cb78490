from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.alignment import ARCFACE_112, DLIB_150, align_face, apply_affine, similarity_transform, template
from laneface.errors import UnknownComponentError


def _similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


@given(
    scale=st.floats(0.2, 5.0),
    angle=st.floats(-math.pi, math.pi),
    tx=st.floats(-500, 500),
    ty=st.floats(-500, 500),
)
@settings(max_examples=100, deadline=None)
def test_similarity_transform_recovers_a_known_transform(scale: float, angle: float, tx: float, ty: float) -> None:
    src = ARCFACE_112.as_array()
    truth = _similarity(scale, angle, tx, ty)
    dst = apply_affine(truth, src)
    est = similarity_transform(src, dst)
    np.testing.assert_allclose(est, truth, atol=1e-6 * max(1.0, abs(tx), abs(ty)))


def test_similarity_never_reflects() -> None:
    src = ARCFACE_112.as_array()
    mirrored = src.copy()
    mirrored[:, 0] = -mirrored[:, 0]
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (np.zeros((5, 2)), ARCFACE_112.as_array()),
        (np.ones((3, 2)), np.ones((4, 2))),
        (np.full((5, 2), np.nan), ARCFACE_112.as_array()),
    ],
)
def test_similarity_rejects_bad_points(src: np.ndarray, dst: np.ndarray) -> None:
    with pytest.raises(ValueError):
        similarity_transform(src, dst)


def _draw_dots(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    img = np.zeros((*shape, 3), np.uint8)
    for i, (x, y) in enumerate(points):
        xi, yi = round(x), round(y)
        img[yi - 2 : yi + 3, xi - 2 : xi + 3] = (50 * (i + 1), 255, 0)
    return img


@pytest.mark.parametrize("tmpl", [ARCFACE_112, DLIB_150])
def test_align_face_puts_landmarks_on_the_template(tmpl) -> None:
    # landmarks of a face rotated by 30 degrees and scaled 3x, somewhere in a larger image
    truth = _similarity(3.0, math.radians(30), 250.0, 120.0)
    lms = apply_affine(truth, tmpl.as_array())
    img = _draw_dots((700, 700), lms)
    crop = align_face(img, lms, tmpl)
    assert crop.shape == (tmpl.size_wh[1], tmpl.size_wh[0], 3)
    assert crop.dtype == np.uint8
    for i, (x, y) in enumerate(tmpl.as_array()):
        r, g, _ = crop[round(y), round(x)]
        assert g > 150, f"landmark {i} not at its template place"
        assert abs(int(r) - 50 * (i + 1)) < 30


def test_align_face_rejects_wrong_inputs() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="landmarks"):
        align_face(img, np.array([[1, 1], [50, 1], [20, 40]]), ARCFACE_112)
    with pytest.raises(ValueError, match="uint8"):
        align_face(img.astype(np.float32), ARCFACE_112.as_array(), ARCFACE_112)


def test_template_lookup() -> None:
    assert template("arcface_112") is ARCFACE_112
    with pytest.raises(UnknownComponentError):
        template("nope")


def test_dlib_template_is_a_plausible_face() -> None:
    p = DLIB_150.as_array()
    assert p[0, 0] < p[2, 0] < p[1, 0]  # nose between the eyes
    assert p[0, 1] < p[2, 1] < p[3, 1]  # eyes above nose above mouth
    assert 40 < p[1, 0] - p[0, 0] < 70  # inter-eye distance in a 150 px chip
