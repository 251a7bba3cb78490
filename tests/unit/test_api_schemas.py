"""Passage schema: the lane contract, validation limits, conversion to the domain value, body hash."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from laneface.api.schemas.passages import PassageCreate
from laneface.errors import InputError


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "passage_id": "2026-05-01T10:00:00Z-L1-0001",
        "lane": "L1",
        "direction": "inbound",
        "started_at": "2026-05-01T12:00:00+02:00",
        "occupant_count": 2,
        "complete_capture": True,
        "timing_s": {"capture": 1.2, "match": 0.1},
        "occupants": [
            {
                "occupant_id": "o1",
                "row": 0,
                "quality": 71.5,
                "quality_passed": True,
                "match": {"doc_id": "P123", "score": 0.71, "decision": "match"},
                "model_version": "dlib-resnet@1",
                "best_shot_jpeg_b64": base64.b64encode(b"\xff\xd8\xffjpeg").decode(),
            },
            {
                "occupant_id": "o2",
                "row": 1,
                "quality": 10.0,
                "quality_passed": False,
                "match": {"doc_id": None, "score": None, "decision": "not_captured"},
                "model_version": "dlib-resnet@1",
            },
        ],
    }
    body.update(over)
    return body


def test_lane_contract_converts_to_a_submission() -> None:
    sub = PassageCreate.model_validate(_body()).to_submission()
    assert sub.started_at == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert sub.occupants[0].image_jpeg == b"\xff\xd8\xffjpeg"
    assert sub.occupants[0].decision == "match" and sub.occupants[1].image_jpeg is None
    assert sub.timing_s == {"capture": 1.2, "match": 0.1}


def test_same_instant_in_another_offset_has_the_same_body_hash() -> None:
    a = PassageCreate.model_validate(_body()).to_submission()
    b = PassageCreate.model_validate(_body(started_at="2026-05-01T10:00:00Z")).to_submission()
    c = PassageCreate.model_validate(_body(occupant_count=3)).to_submission()
    assert a.body_sha256() == b.body_sha256() != c.body_sha256()


def test_multipart_files_win_over_base64() -> None:
    sub = PassageCreate.model_validate(_body()).to_submission(images={"o2": b"\xff\xd8\xffother"})
    assert sub.occupants[1].image_jpeg == b"\xff\xd8\xffother"


@pytest.mark.parametrize(
    "over",
    [
        {"direction": "sideways"},
        {"started_at": "2026-05-01T10:00:00"},  # no offset
        {"started_at": "0001-01-01T00:00:00+01:00"},
        {"lane": "../etc"},
        {"lane": "L\x001"},
        {"passage_id": ""},
        {"occupant_count": -1},
        {"timing_s": float("nan")},
        {"occupants": [_body()["occupants"][0], _body()["occupants"][0]]},
    ],
    ids=lambda o: next(iter(o)),
)
def test_invalid_passages_are_refused(over: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PassageCreate.model_validate(_body(**over))


def test_match_needs_a_doc_id_and_quality_is_bounded() -> None:
    occ = dict(_body()["occupants"][0])
    with pytest.raises(ValidationError, match="doc_id"):
        PassageCreate.model_validate(_body(occupants=[{**occ, "match": {"decision": "match"}}]))
    with pytest.raises(ValidationError):
        PassageCreate.model_validate(_body(occupants=[{**occ, "quality": 101}]))


def test_image_urls_are_not_images() -> None:
    occ = {**_body()["occupants"][0], "best_shot_jpeg_b64": "https://example.org/face.jpg"}
    with pytest.raises(InputError, match="base64"):
        PassageCreate.model_validate(_body(occupants=[occ])).to_submission()


def test_unknown_fields_from_newer_lanes_are_ignored() -> None:
    p = PassageCreate.model_validate(_body(pipeline_version="2.0"))
    assert not hasattr(p, "pipeline_version")
