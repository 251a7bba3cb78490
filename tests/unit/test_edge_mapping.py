"""PassageResult -> the service's PassageCreate body: validated by the service's own schema."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from PIL import Image

from laneface.api.schemas.passages import PassageCreate
from laneface.edge.mapping import empty_passage_body, encode_body, passage_body
from laneface.pipeline.identify import NOT_CAPTURED, OccupantMatch
from laneface.pipeline.result import OccupantResult, PassageResult
from laneface.quality.base import QualityReport
from laneface.selection import FaceCandidate, Shot
from laneface.types import FaceDetections


def _shot(shade: int = 120) -> Shot:
    patch = np.full((48, 40, 3), shade, np.uint8)
    face = FaceDetections(
        np.array([[5, 5, 35, 43]], np.float32),
        np.array([[[14, 20], [26, 20], [20, 27], [15, 34], [25, 34]]], np.float32),
        np.array([0.9], np.float32),
        "fake",
    )
    candidate = FaceCandidate("front", 1, 12, 1.2, patch, face, (100, 80), 0.8, (105.0, 85.0, 135.0, 123.0))
    return Shot(candidate, QualityReport({}, 81.25, "vehicle", True, ()))


def _result() -> PassageResult:
    occupants = (
        OccupantResult(
            1, 1, 81.25, True, OccupantMatch("match", "DOC-1", 0.61234, "one_to_few", 0.4), ("front",), 2, _shot()
        ),
        OccupantResult(2, None, 12.0, False, NOT_CAPTURED, ("left",), 1, _shot(30)),
        OccupantResult(3, 2, float("nan"), False, OccupantMatch("no_match", None, float("nan")), ("front",), 1, None),
    )
    return PassageResult(
        passage_id="L3-20260501T080000-abc123",
        lane="L3",
        direction="inbound",
        documents=("DOC-1",),
        occupants=occupants,
        timing_s=2.5,
        cpu_s=2.25,
        video_s=4.0,
        frames_processed=60,
        model_version="mobilefacenet@1",
        started_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
    )


def test_body_is_a_valid_passage_create() -> None:
    started = datetime(2026, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    body = passage_body(_result(), started)
    parsed = PassageCreate.model_validate_json(encode_body(body))
    assert parsed.passage_id == "L3-20260501T080000-abc123" and parsed.lane == "L3"
    assert parsed.started_at == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert parsed.occupant_count == 3 and parsed.complete_capture is False
    assert [o.occupant_id for o in parsed.occupants] == ["1", "2", "3"]
    first, second, third = parsed.occupants
    assert first.match.decision == "match" and first.match.doc_id == "DOC-1" and first.match.score == 0.6123
    assert first.model_version == "mobilefacenet@1" and first.quality == 81.25 and first.row == 1
    assert second.match.decision == "not_captured" and second.row is None
    assert third.quality == 0.0 and third.match.score is None  # NaN never reaches the body
    assert third.best_shot_jpeg_b64 is None
    # the lane's threshold goes with the score (the officer sees both); a match without one sends none
    assert first.match.threshold == 0.4 and third.match.threshold is None
    assert "threshold" not in body["occupants"][2]["match"]  # type: ignore[index]
    assert parsed.to_submission().occupants[0].threshold == 0.4
    assert parsed.timing_s == {"total": 2.5, "cpu": 2.25, "video": 4.0}
    submission = parsed.to_submission()
    image = submission.occupants[0].image_jpeg
    assert image is not None
    assert Image.open(io.BytesIO(image)).size == (40, 48)  # the shot's face patch


def test_without_images() -> None:
    body = passage_body(_result(), datetime(2026, 5, 1, tzinfo=UTC), images=False)
    occupants = body["occupants"]
    assert isinstance(occupants, list)
    assert all("best_shot_jpeg_b64" not in o for o in occupants)


def test_encoding_is_canonical_and_repeatable() -> None:
    started = datetime(2026, 5, 1, 8, 0)  # naive: taken as UTC
    a = encode_body(passage_body(_result(), started))
    b = encode_body(passage_body(_result(), started))
    assert a == b
    obj = json.loads(a)
    assert obj["started_at"] == "2026-05-01T08:00:00+00:00"
    assert list(obj) == sorted(obj)
    assert base64.b64decode(obj["occupants"][0]["best_shot_jpeg_b64"])[:2] == b"\xff\xd8"


def test_empty_passage_body() -> None:
    body = empty_passage_body("P-1", "L3", "outbound", datetime(2026, 5, 1, tzinfo=UTC))
    parsed = PassageCreate.model_validate(body)
    assert parsed.occupant_count == 0 and parsed.occupants == [] and parsed.complete_capture is False


def test_the_plate_and_the_deciding_stage_reach_the_service_and_bodies_without_them_keep_their_hash() -> None:
    from dataclasses import replace

    import pytest

    from laneface.plates import PlateRead

    plain = PassageCreate.model_validate_json(encode_body(passage_body(_result(), _result().started_at)))
    assert plain.plate is None and plain.to_submission().plate is None
    staged = OccupantMatch("match", "DOC-2", 0.5, "one_to_few", 0.45, stage="vehicle", list_size=3)
    occupants = (replace(_result().occupants[0], match=staged), *_result().occupants[1:])
    result = replace(_result(), occupants=occupants, plate=PlateRead("ABC 123", "ON", 0.9))
    body = passage_body(result, result.started_at)
    assert body["plate"] == {"text": "ABC 123", "region": "ON", "confidence": 0.9}
    submission = PassageCreate.model_validate_json(encode_body(body)).to_submission()
    assert submission.plate == PlateRead("ABC 123", "ON", 0.9)
    assert (submission.occupants[0].stage, submission.occupants[0].list_size) == ("vehicle", 3)
    assert submission.body_sha256() != replace(submission, plate=None).body_sha256()
    # a stage-less occupant fingerprints as before the stages existed
    assert "stage" not in plain.to_submission().occupants[0].fingerprint()
    for bad in ({"text": " - "}, {"text": "ABC", "confidence": 1.5}, {"text": "ABC", "region": "O N"}):
        with pytest.raises(ValueError):
            PassageCreate.model_validate_json(encode_body(body | {"plate": bad}))


def test_faces_left_out_as_printed_reach_the_service_and_other_bodies_keep_their_hash() -> None:
    from dataclasses import replace

    import pytest

    plain_body = passage_body(_result(), _result().started_at)
    assert "faces_not_counted" not in plain_body
    plain = PassageCreate.model_validate_json(encode_body(plain_body)).to_submission()
    assert plain.faces_not_counted == 0
    result = replace(_result(), faces_not_counted=2)
    body = passage_body(result, result.started_at)
    assert body["faces_not_counted"] == 2
    submission = PassageCreate.model_validate_json(encode_body(body)).to_submission()
    assert submission.faces_not_counted == 2
    assert submission.body_sha256() != plain.body_sha256()
    assert replace(submission, faces_not_counted=0).body_sha256() == plain.body_sha256(), "0 hashes as before"
    for bad in (-1, 2.5, "2"):
        with pytest.raises(ValueError):
            PassageCreate.model_validate_json(encode_body(body | {"faces_not_counted": bad}))
