"""Retention configuration: defaults (citizens 12 h), rule precedence, validation, env reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from laneface.config import PrivacySettings, RetentionRule, Settings, default_retention_rules, load_settings
from laneface.errors import ConfigError
from laneface.records.retention import resolve_rule


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


def test_default_citizen_face_images_kept_at_most_12_hours() -> None:
    rules = default_retention_rules()
    rule = resolve_rule(rules, "face_image", "UTO", home_country="UTO")
    assert rule is not None and rule.max_age_hours == 12.0
    assert PrivacySettings().retention == rules


def test_precedence_exact_code_then_citizen_then_any() -> None:
    rules = [
        RetentionRule(kind="face_image", citizenship="*", max_age_hours=100),
        RetentionRule(kind="face_image", citizenship="citizen", max_age_hours=12),
        RetentionRule(kind="face_image", citizenship="UTO", max_age_hours=1),
        RetentionRule(kind="template", citizenship="FRA", max_age_hours=5),
    ]
    assert resolve_rule(rules, "face_image", "UTO", "UTO").max_age_hours == 1  # type: ignore[union-attr]
    assert resolve_rule(rules, "face_image", "DEU", "XXA").max_age_hours == 100  # type: ignore[union-attr]
    assert resolve_rule(rules, "face_image", "XXA", "XXA").max_age_hours == 12  # type: ignore[union-attr]
    assert resolve_rule(rules, "face_image", None, "UTO").max_age_hours == 100  # type: ignore[union-attr]
    assert resolve_rule(rules, "template", "DEU", "UTO") is None


@pytest.mark.parametrize("citizenship", ["uto", "UT", "citizens", "", "**"])
def test_bad_citizenship_keys_are_refused(citizenship: str) -> None:
    with pytest.raises(ValidationError):
        RetentionRule(kind="face_image", citizenship=citizenship, max_age_hours=1)


def test_sections_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_RECORDS__DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("LANEFACE_PRIVACY__HOME_COUNTRY", "FRA")
    monkeypatch.setenv(
        "LANEFACE_PRIVACY__RETENTION", '[{"kind": "face_image", "citizenship": "citizen", "max_age_hours": 2}]'
    )
    monkeypatch.setenv("LANEFACE_SERVICE__OFFICER_KEYS", '["k1"]')
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.privacy.home_country == "FRA"
    assert settings.privacy.retention[0].max_age_hours == 2
    assert [k.get_secret_value() for k in settings.service.officer_keys] == ["k1"]


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).database_url == f"sqlite:///{tmp_path / 'records.db'}"


def test_invalid_environment_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_PRIVACY__HOME_COUNTRY", "france")
    with pytest.raises(ConfigError, match="home_country"):
        load_settings(data_dir=tmp_path)
