"""Validation profiles: the shipped ones, user overrides, requirement semantics, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from laneface.errors import ConfigError
from laneface.quality import MeasureResult, Profile, Requirement, load_profiles, load_quality_config


def _ok(name: str, raw: float, scalar: float | None = None) -> MeasureResult:
    return MeasureResult(name, raw, scalar, "ok")


def _req(profile: Profile, measure: str) -> Requirement:
    return next(r for r in profile.requirements if r.measure == measure)


def test_shipped_profiles_hold_the_documented_limits() -> None:
    profiles = load_profiles()
    assert {"document", "vehicle", "lenient"} <= set(profiles)
    doc = profiles["document"]
    assert _req(doc, "inter_eye_distance").min == 90
    assert (_req(doc, "yaw").min, _req(doc, "yaw").max) == (-5, 5)
    assert (_req(doc, "pitch").min, _req(doc, "pitch").max) == (-5, 5)
    assert (_req(doc, "roll").min, _req(doc, "roll").max) == (-8, 8)
    vehicle = profiles["vehicle"]
    assert _req(vehicle, "inter_eye_distance").min == 20
    assert _req(vehicle, "yaw").max == 30
    assert all(p.description for p in profiles.values())


def test_requirement_text_and_bounds_are_inclusive() -> None:
    req = Requirement("inter_eye_distance", min=90)
    assert req.check(_ok("inter_eye_distance", 90.0)) is None
    assert req.check(_ok("inter_eye_distance", 41.23)) == "inter_eye_distance >= 90 (got 41.2)"
    both = Requirement("yaw", min=-5, max=5)
    assert both.check(_ok("yaw", 5.0)) is None and both.check(_ok("yaw", -5.0)) is None
    assert both.check(_ok("yaw", 12.34)) == "-5 <= yaw <= 5 (got 12.3)"
    assert Requirement("blockiness", max=1.35).check(_ok("blockiness", 1.5)) == "blockiness <= 1.35 (got 1.5)"
    on_scalar = Requirement("sharpness", on="scalar", min=50)
    assert on_scalar.check(_ok("sharpness", 0.1, 20.0)) == "sharpness scalar >= 50 (got 20.0)"


def test_failure_to_assess_or_missing_measure_does_not_meet_a_requirement() -> None:
    req = Requirement("yaw", min=-5, max=5)
    failed = req.check(MeasureResult.failure("yaw", "landmarks are degenerate"))
    assert failed is not None and "failure to assess" in failed and "degenerate" in failed
    assert req.check(None) is not None
    assert Requirement("yaw", on="scalar", min=50).check(_ok("yaw", 0.0)) is not None


def test_profile_lists_every_failed_requirement_in_order() -> None:
    profile = Profile("p", (Requirement("a", min=1), Requirement("b", max=1), Requirement("c", min=0)))
    failed = profile.evaluate({"a": _ok("a", 0.0), "b": _ok("b", 2.0), "c": _ok("c", 0.0)})
    assert [f.split()[0] for f in failed] == ["a", "b"]


def test_user_file_replaces_adds_and_extends(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text(
        """
[mappings.sharpness]
x0 = 0.3

[profiles.vehicle]
description = "stricter lane"
[profiles.vehicle.requirements]
inter_eye_distance = { min = 30 }

[profiles.night]
extends = "lenient"
[profiles.night.requirements]
inter_eye_distance = { min = 16 }
under_exposure = [{ max = 0.5 }, { on = "scalar", min = 10 }]
""",
        encoding="utf-8",
    )
    config = load_quality_config(user)
    assert config.profiles["vehicle"].requirements == (Requirement("inter_eye_distance", min=30),)
    night = config.profiles["night"]
    assert _req(night, "inter_eye_distance").min == 16
    assert _req(night, "yaw").max == 45  # from lenient
    assert sum(r.measure == "under_exposure" for r in night.requirements) == 2
    assert "document" in config.profiles
    assert config.mappings["sharpness"].x0 == 0.3
    assert config.mappings["sharpness"].w == load_quality_config().mappings["sharpness"].w


@pytest.mark.parametrize(
    "text",
    [
        "not = [toml",
        "[profile.x]\nrequirements = {}",
        "[profiles.x]\nfoo = 1\n[profiles.x.requirements]\nyaw = { max = 1 }",
        "[profiles.x.requirements]\nyaw = { mni = 1 }",
        "[profiles.x.requirements]\nyaw = { min = 5, max = 1 }",
        "[profiles.x.requirements]\nyaw = { min = 'five' }",
        "[profiles.x.requirements]\nyaw = { on = 'both', min = 1 }",
        "[profiles.x.requirements]\nyaw = {}",
        "[profiles.x.requirements]\nyaw = 5",
        "[profiles.x]\ndescription = 'empty'",
        "[profiles.x]\nextends = 'nope'\n[profiles.x.requirements]\nyaw = { max = 1 }",
        "[mappings.yaw]\nw = 0",
        "[mappings.new]\nx0 = 1",
        "mappings = 3",
    ],
)
def test_malformed_user_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    user = tmp_path / "bad.toml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_profiles(user)


def test_missing_user_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profiles(tmp_path / "absent.toml")


def test_unknown_profile_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="known: document, lenient, vehicle"):
        load_quality_config().profile("passport")
