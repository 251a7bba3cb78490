"""The shipped LFW errata name images that exist in ../shared's LFW."""

from __future__ import annotations

from tests.conftest import LFW_DIR, require_shared

from laneface.evaluation.lfw_embeddings import lfw_errata

require_shared()


def test_every_erratum_is_an_lfw_image() -> None:
    missing = [f for e in lfw_errata() for f in e.files if not (LFW_DIR / f).is_file()]
    assert missing == []
