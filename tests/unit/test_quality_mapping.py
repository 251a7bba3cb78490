"""SigmoidMapping: range, monotonicity, two-sided form, parameter checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.quality import SigmoidMapping, load_mappings

finite = st.floats(-1e6, 1e6, allow_nan=False)
widths = st.one_of(st.floats(0.001, 100.0), st.floats(-100.0, -0.001))


@given(x0=finite, w=widths, h=st.floats(0, 3), a=st.floats(-1, 1), s=st.floats(-2, 2), raw=finite)
@settings(max_examples=200, deadline=None)
def test_scalar_is_an_integer_between_0_and_100(x0: float, w: float, h: float, a: float, s: float, raw: float) -> None:
    value = SigmoidMapping(x0=x0, w=w, h=h, a=a, s=s)(raw)
    assert 0.0 <= value <= 100.0
    assert value == int(value)


@given(x0=st.floats(-100, 100), w=st.floats(0.01, 50), r1=st.floats(-1e3, 1e3), r2=st.floats(-1e3, 1e3))
@settings(max_examples=200, deadline=None)
def test_monotone_in_the_direction_of_w(x0: float, w: float, r1: float, r2: float) -> None:
    lo, hi = min(r1, r2), max(r1, r2)
    rising, falling = SigmoidMapping(x0=x0, w=w), SigmoidMapping(x0=x0, w=-w)
    assert rising(lo) <= rising(hi)
    assert falling(lo) >= falling(hi)


@given(center=st.floats(-10, 10), d=st.floats(0, 100))
@settings(max_examples=100, deadline=None)
def test_two_sided_mapping_is_symmetric_and_peaks_at_center(center: float, d: float) -> None:
    m = SigmoidMapping(x0=20.0, w=-5.0, center=center)
    assert m(center + d) == m(center - d)
    assert m(center) >= m(center + d)


def test_known_values() -> None:
    m = SigmoidMapping(x0=30.0, w=6.0)
    assert m(30.0) == 50.0
    assert m(1e9) == 100.0 and m(-1e9) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{"x0": 1.0, "w": 0.0}, {"x0": float("nan"), "w": 1.0}, {"x0": 1.0, "w": float("inf")}],
)
def test_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SigmoidMapping(**kwargs)


@pytest.mark.parametrize(
    "table", [{"x0": 1.0}, {"x0": 1.0, "w": 1.0, "k": 2.0}, {"x0": "a", "w": 1.0}, {"x0": True, "w": 1}]
)
def test_from_dict_rejects_bad_tables(table: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SigmoidMapping.from_dict(table)  # type: ignore[arg-type]


def test_every_builtin_measure_has_a_shipped_mapping() -> None:
    from laneface.quality import default_measures

    mappings = load_mappings()
    assert {m.name for m in default_measures()} <= set(mappings)
