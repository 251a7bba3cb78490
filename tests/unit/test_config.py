"""Settings from the environment and CLI overrides (laneface.config.load_settings)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from laneface.config import default_data_dir, load_settings
from laneface.errors import ConfigError, LanefaceError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


def test_defaults_without_environment() -> None:
    s = load_settings()
    assert s.detection.upscale == 1.0
    assert s.models.models_dir is None
    assert s.models.base_url is None
    assert s.models.verify_checksums is True
    assert s.data_dir == default_data_dir()
    assert s.log_level == "WARNING"


def test_nested_env_var_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEFACE_DETECTION__UPSCALE", "2")
    monkeypatch.setenv("LANEFACE_EMBEDDING__BATCH_SIZE", "7")
    monkeypatch.setenv("LANEFACE_MODELS__VERIFY_CHECKSUMS", "false")
    s = load_settings()
    assert s.detection.upscale == 2.0
    assert s.embedding.batch_size == 7
    assert s.models.verify_checksums is False


def test_short_models_dir_env_var_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_MODELS_DIR", str(tmp_path / "short"))
    assert load_settings().models.models_dir == tmp_path / "short"


def test_long_models_dir_env_var_is_read_and_wins_over_short(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_MODELS__MODELS_DIR", str(tmp_path / "long"))
    assert load_settings().models.models_dir == tmp_path / "long"
    monkeypatch.setenv("LANEFACE_MODELS_DIR", str(tmp_path / "short"))
    assert load_settings().models.models_dir == tmp_path / "long"


def test_data_dir_and_base_url_env_vars(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANEFACE_MODELS__BASE_URL", "https://mirror.example/models")
    s = load_settings()
    assert s.data_dir == tmp_path / "data"
    assert s.models.base_url == "https://mirror.example/models"


def test_overrides_beat_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_DETECTION__UPSCALE", "2")
    monkeypatch.setenv("LANEFACE_MODELS_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("LANEFACE_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("LANEFACE_LOG_LEVEL", "ERROR")
    s = load_settings(
        detection__upscale=3.0,
        models__models_dir=tmp_path / "cli",
        data_dir=tmp_path / "cli-data",
        log_level="INFO",
    )
    assert s.detection.upscale == 3.0
    assert s.models.models_dir == tmp_path / "cli"
    assert s.data_dir == tmp_path / "cli-data"
    assert s.log_level == "INFO"


def test_override_beats_long_env_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_MODELS__MODELS_DIR", str(tmp_path / "env"))
    assert load_settings(models__models_dir=tmp_path / "cli").models.models_dir == tmp_path / "cli"


def test_none_overrides_keep_env_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEFACE_DETECTION__UPSCALE", "2")
    monkeypatch.setenv("LANEFACE_MODELS_DIR", str(tmp_path / "env"))
    s = load_settings(detection__upscale=None, models__models_dir=None, data_dir=None, log_level=None)
    assert s.detection.upscale == 2.0
    assert s.models.models_dir == tmp_path / "env"


def test_override_keeps_other_env_values_of_the_same_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEFACE_DETECTION__UPSCALE", "2")
    monkeypatch.setenv("LANEFACE_DETECTION__TILE_SIZE", "640")
    s = load_settings(detection__num_threads=4)
    assert s.detection.upscale == 2.0
    assert s.detection.tile_size == 640
    assert s.detection.num_threads == 4


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"detection__upscale": 100}, "detection.upscale"),
        ({"detection__upscale": "lots"}, "detection.upscale"),
        ({"detection__tile_overlap": 0.95}, "detection.tile_overlap"),
        ({"models__base_url": "ftp://x"}, "models.base_url"),
        ({"embedding__batch_size": 0}, "embedding.batch_size"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_invalid_override_names_the_setting(overrides: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    assert name in str(info.value)
    assert isinstance(info.value, LanefaceError)


@pytest.mark.parametrize(
    ("var", "value", "name"),
    [
        ("LANEFACE_DETECTION__UPSCALE", "100", "detection.upscale"),
        ("LANEFACE_MODELS__BASE_URL", "ftp://x", "models.base_url"),
        ("LANEFACE_DETECTION__NUM_THREADS", "0", "detection.num_threads"),
    ],
)
def test_invalid_env_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, var: str, value: str, name: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in str(info.value)


def test_base_url_accepts_http_and_https() -> None:
    assert load_settings(models__base_url="http://127.0.0.1:8000/m").models.base_url == "http://127.0.0.1:8000/m"
    assert load_settings(models__base_url="https://x/m").models.base_url == "https://x/m"
