"""Test-time augmentation views: fixed, shape-preserving, and an unknown option is a specific error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.embedding.augment import AUGMENTATIONS, ChipView, augmentation, view, views
from laneface.errors import UnknownComponentError


def _crop(seed: int = 0, h: int = 150, w: int = 150) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_options_and_their_views() -> None:
    assert augmentation("") == (ChipView(),)
    assert augmentation("flip") == (ChipView(), ChipView(mirror=True))
    tta = augmentation("tta")
    assert len(tta) == len(set(tta)) == 4
    assert ChipView() in tta and ChipView(mirror=True) in tta
    assert {v.angle_deg for v in tta} == {0.0, 3.0, -3.0}


@pytest.mark.parametrize("option", sorted(k for k in AUGMENTATIONS if k))
def test_every_option_is_closed_under_mirroring(option: str) -> None:
    vs = augmentation(option)
    c = _crop(7, 150, 150)
    m = np.ascontiguousarray(c[:, ::-1])
    # the views of the mirrored crop are the views of the crop (each once), so the summed template is the same
    seen_c = sorted(view(c, v).tobytes() for v in vs)
    seen_m = sorted(view(m, v).tobytes() for v in vs)
    for a, b in zip(seen_c, seen_m, strict=True):
        diff = np.abs(np.frombuffer(a, np.uint8).astype(int) - np.frombuffer(b, np.uint8).astype(int))
        assert diff.mean() < 0.05 and diff.max() <= 1  # interpolation rounding only


def test_unknown_option_names_the_known_ones() -> None:
    with pytest.raises(UnknownComponentError, match=r"\+jitter.*\+flip, \+tta"):
        augmentation("jitter")


def test_identity_view_is_the_crop_and_mirror_is_left_right() -> None:
    c = _crop()
    np.testing.assert_array_equal(view(c, ChipView()), c)
    np.testing.assert_array_equal(view(c, ChipView(mirror=True)), c[:, ::-1])
    assert view(c, ChipView(mirror=True)).flags.c_contiguous


def test_rotation_turns_about_the_centre_counter_clockwise() -> None:
    c = np.zeros((151, 151, 3), np.uint8)
    c[75, 75] = 255  # the centre stays
    c[75, 140] = 200  # a point right of the centre goes up (counter-clockwise, image y down)
    r = view(c, ChipView(angle_deg=3.0))
    assert r[75, 75].max() > 100
    ys, xs = np.nonzero(r[..., 0] > 20)
    right = xs > 100
    assert ys[right].mean() < 75 - 2  # 65 px * sin(3 deg) = 3.4 px up


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(8, 160),
    w=st.integers(8, 160),
    angle=st.floats(-10, 10, allow_nan=False),
    mirror=st.booleans(),
)
def test_views_keep_shape_and_dtype_and_are_deterministic(
    seed: int, h: int, w: int, angle: float, mirror: bool
) -> None:
    c = _crop(seed, h, w)
    v = ChipView(angle, mirror)
    a, b = view(c, v), view(c, v)
    assert a.shape == c.shape and a.dtype == np.uint8 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)


def test_views_groups_by_view_in_crop_order() -> None:
    crops = [_crop(1), _crop(2), _crop(3)]
    out = views(crops, AUGMENTATIONS["flip"])
    assert len(out) == 2 and all(len(x) == 3 for x in out)
    for i, c in enumerate(crops):
        np.testing.assert_array_equal(out[0][i], c)
        np.testing.assert_array_equal(out[1][i], c[:, ::-1])
