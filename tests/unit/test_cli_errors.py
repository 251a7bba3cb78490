"""User input that breaks a rule ends in one ``error:`` line and exit status 2, not a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import laneface.detection.factory as detection_factory
import laneface.embedding.factory as embedding_factory
from laneface.cli.app import main
from laneface.errors import ConfigError
from laneface.evaluation.bench_quality import run_quality_bench


@pytest.fixture(autouse=True)
def _no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    # the options are checked before any model runs: no model file is needed
    monkeypatch.setattr(detection_factory, "build_detector", lambda *a, **k: object())
    monkeypatch.setattr(embedding_factory, "build_embedder", lambda *a, **k: object())


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--train-repeats", "0"], "train_repeats and test_repeats must be 1 or more"),
        (["--test-repeats", "0"], "train_repeats and test_repeats must be 1 or more"),
        (["--max-pairs", "0"], "max_pairs must be 1 or more"),
    ],
)
def test_bench_quality_bad_option_is_one_error_line(
    option: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["laneface", "--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path), "bench", "quality"]
    argv += ["--lfw-dir", str(tmp_path), "--pairs", str(tmp_path / "pairs.txt"), *option]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"


def test_run_quality_bench_refuses_bad_counts(tmp_path: Path) -> None:
    args: tuple[Any, ...] = (tmp_path, tmp_path / "pairs.txt", object(), object(), [], {})
    with pytest.raises(ConfigError, match="train_repeats and test_repeats"):
        run_quality_bench(*args, train_repeats=0)
    with pytest.raises(ConfigError, match="max_pairs"):
        run_quality_bench(*args, max_pairs=0)
