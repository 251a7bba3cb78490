"""The simulated lanes of `laneface bench service`: realistic bodies, retries with the same body until acknowledged,
error counting, latency summaries, and the database check (lost, duplicated, mismatched records)."""

from __future__ import annotations

import base64
import io
import random
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from PIL import Image

from laneface.api.schemas.passages import PassageCreate
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.errors import ConfigError
from laneface.evaluation.bench_service import ServiceCredentials, StoreCheck, check_store, summarize
from laneface.evaluation.service_load import (
    PASSAGES_PATH,
    Ack,
    LaneLoad,
    LoadResult,
    PassageMaker,
    run_lanes,
    summarize_latencies,
)
from laneface.records.audit import Actor
from laneface.records.crypto import BlobCipher, generate_key, parse_key
from laneface.records.service import RecordsService


def test_bodies_are_valid_passages_with_small_jpegs() -> None:
    maker = PassageMaker(3, max_occupants=7, templates=True)
    rnd = random.Random(0)
    occupants = Counter()
    for seq in range(60):
        passage_id, body, n, images = maker.body("BL001", seq, rnd)
        parsed = PassageCreate.model_validate_json(body)
        assert parsed.passage_id == passage_id and parsed.lane == "BL001"
        assert 1 <= n <= 7 and len(parsed.occupants) == n == parsed.occupant_count
        assert images == sum(o.best_shot_jpeg_b64 is not None for o in parsed.occupants)
        assert parsed.complete_capture == (images == n)
        occupants[n] += 1
        for o in parsed.occupants:
            if o.best_shot_jpeg_b64 is not None:
                jpeg = base64.b64decode(o.best_shot_jpeg_b64)
                assert 5_000 <= len(jpeg) <= 15_000
                assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
                assert o.template_b64 is not None and len(base64.b64decode(o.template_b64)) == 512 * 4
    assert len(occupants) >= 5  # 1 to 7 occupants, spread


def test_lane_load_refuses_bad_settings() -> None:
    with pytest.raises(ConfigError):
        LaneLoad(lanes=0)
    with pytest.raises(ConfigError):
        LaneLoad(rate_per_lane_hz=0.0)
    with pytest.raises(ConfigError):
        LaneLoad(max_occupants=0)
    with pytest.raises(ConfigError):
        LaneLoad(duration_s=5.0, warmup_s=5.0)
    with pytest.raises(ConfigError, match="backoff_initial_s"):
        LaneLoad(backoff_initial_s=3.0, backoff_max_s=2.0)


def test_latency_summary() -> None:
    summary = summarize_latencies([float(v) for v in range(1, 101)])
    assert summary.count == 100 and summary.max_ms == 100.0
    assert summary.p50_ms == pytest.approx(50.5) and summary.p99_ms == pytest.approx(99.01)
    assert summarize_latencies([]).p99_ms is None


def test_summary_leaves_the_warm_up_and_the_drain_out_of_rate_and_latency() -> None:
    load = LaneLoad(lanes=2, duration_s=4.0, warmup_s=1.0, rate_per_lane_hz=1.0)
    acks = tuple(
        Ack(f"P{k}", "BL000", 2, 1, 201, 1, post_ms=10.0 * (k + 1), ack_ms=10.0 * (k + 1), acked_at_s=t)
        for k, t in enumerate((0.2, 0.9, 1.0, 2.5, 4.0, 4.6))  # two in the warm-up, one after the end
    )
    result = LoadResult(load, "run", 4.0, 5.0, acks, {}, {}, 0, 0, 0, 0)
    assert [a.passage_id for a in result.measured] == ["P2", "P3", "P4"] and result.measured_s == 3.0
    records = StoreCheck(6, 6, 0, 0, 0, 0)
    report = summarize(result, records, database="sqlite", service_cpu_s=None, load_before=None, load_after=None)
    assert report.passages_acked == 6  # every acknowledgement is checked against the database
    assert report.post_latency.count == 3 and report.post_latency.max_ms == 50.0
    assert report.passages_per_s == 1.0 and report.occupants_per_s == 2.0
    assert report.offered_passages_per_s == 2.0 and report.sustained is False  # 1 of 2 per second


class FlakyService:
    """Refuses the first attempt of every passage (503 or a dropped connection), stores the second; records the
    bodies so that the test can check that a retry re-sends the same body."""

    def __init__(self, first: str) -> None:
        self.first = first
        self.lock = threading.Lock()
        self.bodies: dict[str, list[bytes]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == PASSAGES_PATH
        assert request.headers["X-API-Key"] in ("k1", "k2")
        passage_id = PassageCreate.model_validate_json(request.content).passage_id
        with self.lock:
            seen = self.bodies.setdefault(passage_id, [])
            seen.append(request.content)
            attempt = len(seen)
        if attempt == 1:
            if self.first == "connect":
                raise httpx.ConnectError("refused", request=request)
            if self.first == "422":
                return httpx.Response(422, json={"error": "validation_error", "message": "no"})
            return httpx.Response(503, json={"error": "database_unavailable", "message": "later"})
        return httpx.Response(201 if attempt == 2 else 200, json={"crossing_id": 1})


def _run(service: FlakyService, **kwargs: object) -> LoadResult:
    load = LaneLoad(
        lanes=2, duration_s=0.3, rate_per_lane_hz=None, backoff_initial_s=0.001, backoff_max_s=0.002, drain_s=5
    )
    return run_lanes("http://lanes.test", ["k1", "k2"], load, transport_factory=lambda: httpx.MockTransport(service))


@pytest.mark.parametrize(("first", "kind"), [("503", "http_503"), ("connect", "connect")])
def test_unacknowledged_posts_are_retried_with_the_same_body(first: str, kind: str) -> None:
    service = FlakyService(first)
    result = _run(service)
    assert result.passages_acked > 0  # as many as the machine manages in 0.3 s
    assert result.errors == {kind: result.passages_acked}
    assert result.retries == result.passages_acked
    assert result.unacknowledged == 0 and result.given_up == 0
    assert all(a.attempts == 2 and a.status == 201 for a in result.acks)
    assert all(len(set(bodies)) == 1 for bodies in service.bodies.values())
    assert {a.lane for a in result.acks} == {"BL000", "BL001"}
    assert result.error_samples.get(kind, ("",))[0] in ("", '{"error":"database_unavailable","message":"later"}')


def test_a_refused_body_is_given_up() -> None:
    result = _run(FlakyService("422"))
    assert result.passages_acked == 0
    assert result.given_up == result.errors["http_422"] > 0


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        records=RecordsSettings(),
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings(lane_keys=[]),
    )


def test_check_store_finds_lost_and_mismatched_records(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = parse_key(settings.privacy.encryption_key.get_secret_value())  # type: ignore[union-attr]
    records = RecordsService.open(settings, BlobCipher(key))
    records.prepare_schema()
    maker = PassageMaker(0, max_occupants=3, run_id="t1")
    rnd = random.Random(1)
    acks = []
    for seq in range(4):
        passage_id, body, n, images = maker.body("BL000", seq, rnd)
        if seq < 3:  # the fourth is acknowledged but never stored: lost
            records.submit_passage(PassageCreate.model_validate_json(body).to_submission(), Actor("lane", "lane"))
        wrong = 1 if seq == 2 else 0  # the third is stored with another occupant count than acknowledged
        acks.append(Ack(passage_id, "BL000", n + wrong, images, 201, 1, 5.0, 5.0, 0.1))
    records.close()
    load = LaneLoad(lanes=1, duration_s=1.0)
    result = LoadResult(load, "t1", 1.0, 1.0, tuple(acks), {}, {}, 0, 0, 0, 0)
    check = check_store(settings.database_url, result)
    assert (check.acknowledged, check.found, check.lost, check.mismatched, check.duplicates) == (4, 3, 1, 1, 0)
    assert not check.ok
    report = summarize(result, check, database="sqlite", service_cpu_s=2.0, load_before=0.1, load_after=0.2)
    assert report.passages_per_s == 4.0 and report.service_cpu_ms_per_passage == 500.0
    assert report.sustained is False  # records lost


def test_credentials_environment_has_a_key_per_lane() -> None:
    creds = ServiceCredentials.generate(3)
    env = creds.environment()
    assert len(set(creds.lane_keys)) == 3 and all(len(k) >= 32 for k in creds.lane_keys)
    assert "LANEFACE_PRIVACY__ENCRYPTION_KEY" in env and creds.encryption_key not in repr(creds)
