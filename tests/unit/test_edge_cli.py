"""`laneface lane`: --status on an outbox, configuration errors before any model is loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.edge.outbox import Outbox
from laneface.errors import ConfigError, OutboxError

TOML = """
lane = "L1"
direction = "outbound"
outbox = "outbox.db"
spool_dir = "spool"

[service]
url = "http://127.0.0.1:9"
api_key_env = "TEST_LANE_KEY_NOT_SET"

[[camera]]
name = "front"
url = "rtsp://127.0.0.1:9/x"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_") or key == "TEST_LANE_KEY_NOT_SET":
            monkeypatch.delenv(key)


def test_status_prints_the_outbox_counts(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(TOML)
    with Outbox(tmp_path / "outbox.db") as box:
        box.put("L1/a", b"{}")
        box.put("L1/b", b"{}")
        box.mark_rejected("L1/b", status=422, reason="422 validation_error: occupants")
        result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "lane", "--config", str(config), "--status"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["counts"] == {"pending": 1, "delivered": 0, "rejected": 1}
    assert status["rejected"] == [{"key": "L1/b", "reason": "422 validation_error: occupants"}]


def test_status_without_an_outbox(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(TOML)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "lane", "-c", str(config), "--status"])
    assert isinstance(result.exception, OutboxError)


def test_a_missing_api_key_fails_before_models_load(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(TOML)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "lane", "-c", str(config)])
    assert isinstance(result.exception, ConfigError)
    assert "TEST_LANE_KEY_NOT_SET" in str(result.exception)


def test_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(TOML.replace('direction = "outbound"', 'direction = "north"'))
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "lane", "-c", str(config)])
    assert isinstance(result.exception, ConfigError) and "direction" in str(result.exception)


@pytest.mark.parametrize("value", ["0.0", "0.9"])
def test_a_1_to_few_target_outside_its_range_is_refused(tmp_path: Path, value: str) -> None:
    from laneface.edge.config import load_lane_config

    config = tmp_path / "lane.toml"
    config.write_text(TOML)
    assert load_lane_config(config).pipeline.few_fmr == pytest.approx(1e-2)  # `laneface run`'s default
    config.write_text(TOML + f"\n[pipeline]\nfew_fmr = {value}\n")
    with pytest.raises(ConfigError, match="few_fmr"):
        load_lane_config(config)


def test_no_shots_per_track_is_refused_by_lane_toml_and_run(tmp_path: Path) -> None:
    from laneface.edge.config import load_lane_config

    config = tmp_path / "lane.toml"
    config.write_text(TOML + "\n[pipeline]\nshots_per_track = 1\n")
    assert load_lane_config(config).pipeline.shots_per_track == 1
    config.write_text(TOML + "\n[pipeline]\nshots_per_track = 0\n")
    with pytest.raises(ConfigError, match="shots_per_track"):
        load_lane_config(config)
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "run", str(tmp_path), "--out", str(out), "--shots-per-track", "0"]
    )
    assert result.exit_code == 2 and "shots-per-track" in result.output and not out.exists()
