"""Shared test fixtures. ../shared (beside the repo) holds data and models for integration tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_MODELS = SHARED / "models"
SAMPLES = SHARED / "data" / "samples"
LFW_DIR = SHARED / "data" / "lfw" / "lfw-deepfunneled"
LFW_PAIRS = SHARED / "data" / "lfw" / "pairs.txt"


def require_shared() -> None:
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"../shared not present at {SHARED}", allow_module_level=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
