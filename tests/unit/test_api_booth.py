"""The booth: lanes post their pipeline's events, officers read the vehicle at the booth (JSON and server-sent
events), its thumbnails (audited) and prompt its occupants; the prompt reaches the lane once."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from laneface.api.app import create_app
from laneface.api.booth import BoothHub, TooManySubscribersError
from laneface.api.schemas.booth import LaneEventIn
from laneface.config import PrivacySettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}


def _as(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


def _jpeg() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (24, 32), (120, 90, 70)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _settings(tmp_path: Path, *, shared: bool, key: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        privacy=PrivacySettings(encryption_key=key or generate_key()),
        service=ServiceSettings.model_validate(
            {**{f"{r}_keys": [k] for r, k in KEYS.items()}, "booth_shared": shared, "booth_poll_s": 0.05}
        ),
    )


@pytest.fixture(params=["memory", "shared"])
def client(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The service with the booth in its memory, and with the booth in the records database (replicas)."""
    with TestClient(create_app(_settings(tmp_path, shared=request.param == "shared"), run_scheduler=False)) as c:
        yield c


def _event(kind: str, t: float, passage: str = "P-1", **fields: Any) -> dict[str, Any]:
    return {"event": kind, "passage_id": passage, "lane": "L1", "t_s": t, "zone": "booth", **fields}


def _post(client: TestClient, *events: dict[str, Any], lane: str = "L1") -> Any:
    response = client.post(f"/v1/lanes/{lane}/events", json={"events": list(events)}, headers=_as("lane"))
    assert response.status_code == 200, response.text
    return response.json()


def _booth(client: TestClient, lane: str = "L1") -> Any:
    response = client.get(f"/v1/booth/{lane}", headers=_as("officer"))
    assert response.status_code == 200, response.text
    return response.json()


def test_events_build_the_booth_seat_by_seat(client: TestClient) -> None:
    assert _booth(client)["passage_id"] is None  # before the first vehicle: empty, not unknown
    captured = {"occupant": 1, "row": 1, "cameras": ["booth1"], "quality": 71.5, "captured_at_s": 12.0}
    _post(
        client,
        _event("occupant_captured", 12.0, capture_zone="booth", thumbnail_jpeg_b64=_jpeg(), **captured),
        _event("occupant_captured", 12.5, occupant=2, row=2, cameras=["booth2"], quality=55.0),
        _event("occupant_identified", 13.0, occupant=1, row=1, doc_id="DOC-1", score=0.61, mode="one_to_few"),
        _event("seat_missing", 13.0, seen_not_captured=[{"row": 3}], documents_unmatched=2),
        _event("prompt", 16.0, source="auto", missing=2),
    )
    booth = _booth(client)
    assert booth["passage_id"] == "P-1" and booth["zone"] == "booth" and booth["t_s"] == 16.0
    seats = {s["occupant"]: s for s in booth["seats"]}
    assert seats[1]["state"] == "identified" and seats[1]["doc_id"] == "DOC-1" and seats[1]["thumbnail"] is True
    assert seats[2]["state"] == "captured" and seats[2]["doc_id"] is None and seats[2]["thumbnail"] is False
    assert booth["seen_not_captured"] == [3] and booth["documents_unmatched"] == 2
    assert [(p["source"], p["at_s"], p["missing"]) for p in booth["prompts"]] == [("auto", 16.0, 2)]
    assert booth["complete"] is False
    _post(client, _event("passage_complete", 30.0, occupant_count=3, complete_capture=False, stop_to_complete_s=None))
    done = _booth(client)
    assert done["complete"] is True and done["occupant_count"] == 3 and done["complete_capture"] is False
    # the next vehicle replaces the last one
    _post(client, _event("seat_missing", 1.0, passage="P-2", seen_not_captured=[], documents_unmatched=1))
    following = _booth(client)
    assert following["passage_id"] == "P-2" and following["seats"] == [] and following["prompts"] == []
    assert following["seq"] > done["seq"]
    assert [b["lane"] for b in client.get("/v1/booth", headers=_as("officer")).json()] == ["L1"]


def test_thumbnails_are_read_by_officers_only_and_audited(client: TestClient) -> None:
    _post(client, _event("occupant_captured", 2.0, occupant=1, row=1, thumbnail_jpeg_b64=_jpeg()))
    response = client.get("/v1/booth/L1/thumbnails/1", headers=_as("officer"))
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8")
    assert client.get("/v1/booth/L1/thumbnails/2", headers=_as("officer")).status_code == 404
    assert client.get("/v1/booth/L1/thumbnails/1", headers=_as("auditor")).status_code == 403
    events = client.get("/v1/audit-events", params={"action": "biometric.read"}, headers=_as("auditor")).json()
    reads = [e for e in events["items"] if e.get("object_type") == "booth_occupant"]
    assert [e["object_id"] for e in reads] == ["L1/P-1/1"]


def test_officer_prompts_reach_the_lane_once_and_are_listed_and_audited(client: TestClient) -> None:
    _post(client, _event("seat_missing", 5.0, seen_not_captured=[{"row": 2}], documents_unmatched=1))
    given = client.post("/v1/booth/L1/prompts", json={"message": "remove_sunglasses"}, headers=_as("officer"))
    assert given.status_code == 201, given.text
    prompt = given.json()
    assert prompt["passage_id"] == "P-1" and prompt["message"] == "remove_sunglasses" and prompt["text"]
    assert [(p["source"], p["message"]) for p in _booth(client)["prompts"]] == [("officer", "remove_sunglasses")]
    handed = _post(client, _event("seat_missing", 6.0, seen_not_captured=[], documents_unmatched=1))["prompts"]
    assert [p["prompt_id"] for p in handed] == [prompt["prompt_id"]]
    assert _post(client, _event("seat_missing", 7.0, seen_not_captured=[], documents_unmatched=0))["prompts"] == []
    events = client.get("/v1/audit-events", params={"action": "booth.prompt"}, headers=_as("auditor")).json()
    assert [e["object_id"] for e in events["items"]] == ["L1/P-1"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"events": [_event("occupant_captured", 1.0, occupant=1, thumbnail_jpeg_b64="not base64!")]}, 422),
        ({"events": [_event("occupant_captured", 1.0, occupant=1, thumbnail_jpeg_b64="aGVsbG8=")]}, 422),  # no JPEG
        ({"events": [{**_event("seat_missing", 1.0), "lane": "L2"}]}, 422),  # another lane's event
        ({"events": [_event("teleported", 1.0)]}, 422),
        ({"events": [_event("seat_missing", -1.0)]}, 422),
    ],
)
def test_bad_events_are_refused_and_change_nothing(client: TestClient, body: dict[str, Any], status: int) -> None:
    before = _booth(client)
    response = client.post("/v1/lanes/L1/events", json=body, headers=_as("lane"))
    assert response.status_code == status, response.text
    assert _booth(client) == before


def test_roles(client: TestClient) -> None:
    event = {"events": [_event("seat_missing", 1.0)]}
    assert client.post("/v1/lanes/L1/events", json=event, headers=_as("officer")).status_code == 403
    assert client.get("/v1/booth/L1", headers=_as("lane")).status_code == 403
    assert client.post("/v1/booth/L1/prompts", json={}, headers=_as("lane")).status_code == 403
    assert client.get("/v1/booth/L1").status_code == 401


def test_stream_sends_the_booth_then_ends_after_max_s(client: TestClient) -> None:
    _post(client, _event("occupant_captured", 2.0, occupant=1, row=1))
    with client.stream("GET", "/v1/booth/L1/stream", params={"max_s": 1}, headers=_as("officer")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    blocks = [b for b in text.split("\n\n") if b.strip()]
    first = dict(line.split(": ", 1) for line in blocks[0].splitlines())
    assert first["event"] == "booth"
    booth = json.loads(first["data"])
    assert booth["lane"] == "L1" and [s["occupant"] for s in booth["seats"]] == [1] and first["id"] == str(booth["seq"])


def _events(*kinds: tuple[str, int], lane: str = "L1") -> list[LaneEventIn]:
    return [LaneEventIn.model_validate({**_event(k, 1.0, occupant=n), "lane": lane}) for k, n in kinds]


def test_hub_signals_each_subscriber_and_bounds_them() -> None:
    async def scenario() -> None:
        hub = BoothHub(max_subscribers=2)
        first, second = hub.subscribe("L1"), hub.subscribe("L1")
        with pytest.raises(TooManySubscribersError):
            hub.subscribe("L1")
        hub.publish("L1", _events(("occupant_captured", 1)))
        hub.publish("L1", _events(("occupant_captured", 2)))  # coalesced: the subscriber reads the newest state
        assert first.qsize() == 1 and second.qsize() == 1
        assert await first.get() == 1 and hub.snapshot("L1").seq == 2
        hub.unsubscribe("L1", first)
        hub.subscribe("L1")  # room again

    asyncio.run(scenario())


def test_hub_forgets_the_stalest_unwatched_lane() -> None:
    hub = BoothHub(max_lanes=2)

    async def watch() -> None:
        hub.subscribe("A")

    asyncio.run(watch())
    for lane in ("B", "C"):
        hub.publish(lane, _events(("occupant_captured", 1), lane=lane))
    assert sorted(b.lane for b in hub.lanes()) == ["A", "C"]


def _passage(prompts: list[dict[str, Any]] | None = None, passage_id: str = "P-9") -> dict[str, Any]:
    body: dict[str, Any] = {
        "passage_id": passage_id,
        "lane": "L1",
        "direction": "inbound",
        "started_at": "2026-12-05T10:00:00Z",
        "occupant_count": 0,
        "complete_capture": False,
        "occupants": [],
    }
    if prompts is not None:
        body["prompts"] = prompts
    return body


def test_prompts_are_recorded_with_the_passage(client: TestClient) -> None:
    prompts = [
        {"source": "auto", "at_s": 26.0, "missing": 2},
        {"source": "officer", "at_s": 31.5, "message": "remove_sunglasses"},
    ]
    created = client.post("/v1/passages", json=_passage(prompts), headers=_as("lane"))
    assert created.status_code == 201, created.text
    crossing = client.get(f"/v1/crossings/{created.json()['crossing_id']}", headers=_as("officer")).json()
    assert crossing["prompts"] == [
        {"source": "auto", "at_s": 26.0, "missing": 2, "message": None},
        {"source": "officer", "at_s": 31.5, "missing": None, "message": "remove_sunglasses"},
    ]
    replay = client.post("/v1/passages", json=_passage(prompts), headers=_as("lane"))
    assert replay.status_code == 200
    changed = client.post("/v1/passages", json=_passage(prompts[:1]), headers=_as("lane"))
    assert changed.status_code == 409, "prompts are part of the record"
    plain = client.post("/v1/passages", json=_passage(None, "P-10"), headers=_as("lane"))
    assert client.get(f"/v1/crossings/{plain.json()['crossing_id']}", headers=_as("officer")).json()["prompts"] == []
    bad = _passage([{"source": "someone", "at_s": 1.0}], "P-11")
    assert client.post("/v1/passages", json=bad, headers=_as("lane")).status_code == 422


def test_a_body_without_prompts_keeps_its_hash() -> None:
    import hashlib
    from datetime import UTC, datetime

    from laneface.records.domain import PassagePrompt, PassageSubmission

    at = datetime(2026, 1, 1, tzinfo=UTC)
    base = PassageSubmission("P", "L", "inbound", at, 0, False, ())
    before = {  # the hashed document as it was before prompts existed
        "passage_id": "P",
        "lane": "L",
        "direction": "inbound",
        "started_at": at.isoformat(),
        "occupant_count": 0,
        "complete_capture": False,
        "timing_s": None,
        "occupants": [],
    }
    assert base.body_sha256() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    with_prompt = PassageSubmission("P", "L", "inbound", at, 0, False, (), prompts=(PassagePrompt("auto", 1.0, 1),))
    assert with_prompt.body_sha256() != base.body_sha256()


def test_two_replicas_on_one_database_show_one_booth(tmp_path: Path) -> None:
    """A lane posts to one replica, the officer watches and prompts through the other; the state is sealed."""
    import threading

    from sqlalchemy import create_engine, text

    key = generate_key()
    a_app = create_app(_settings(tmp_path, shared=True, key=key), run_scheduler=False)
    b_app = create_app(_settings(tmp_path, shared=True, key=key), run_scheduler=False)
    with TestClient(a_app) as a, TestClient(b_app) as b:
        captured = {"occupant": 1, "row": 1, "cameras": ["booth1"], "quality": 70.0, "captured_at_s": 3.0}
        _post(a, _event("occupant_captured", 3.0, thumbnail_jpeg_b64=_jpeg(), **captured))
        _post(a, _event("occupant_identified", 3.5, occupant=1, row=1, doc_id="DOC-SECRET-7", score=0.7))
        seen = _booth(b)
        assert seen["passage_id"] == "P-1" and seen["seats"][0]["doc_id"] == "DOC-SECRET-7"
        assert [x["lane"] for x in b.get("/v1/booth", headers=_as("officer")).json()] == ["L1"]
        assert b.get("/v1/booth/L1/thumbnails/1", headers=_as("officer")).content.startswith(b"\xff\xd8")
        given = b.post("/v1/booth/L1/prompts", json={"message": "look_at_camera"}, headers=_as("officer")).json()
        handed = _post(a, _event("seat_missing", 4.0, seen_not_captured=[], documents_unmatched=0))["prompts"]
        assert [p["prompt_id"] for p in handed] == [given["prompt_id"]], "handed once, by the other replica"
        assert _post(b, _event("seat_missing", 4.5, seen_not_captured=[], documents_unmatched=0))["prompts"] == []

        # a stream opened on b sees what the lane posts to a
        def later() -> None:
            import time

            time.sleep(0.3)
            _post(a, _event("occupant_captured", 5.0, occupant=2, row=2, cameras=["booth2"], quality=60.0))

        poster = threading.Thread(target=later)
        poster.start()
        with b.stream("GET", "/v1/booth/L1/stream", params={"max_s": 1.5}, headers=_as("officer")) as response:
            text_ = "".join(response.iter_text())
        poster.join()
        booths = [json.loads(line[6:]) for line in text_.splitlines() if line.startswith("data: ")]
        assert len(booths) >= 2 and [s["occupant"] for s in booths[-1]["seats"]] == [1, 2]
        assert [x["seq"] for x in booths] == sorted({x["seq"] for x in booths})
    engine = create_engine(f"sqlite:///{tmp_path / 'records.db'}")
    with engine.connect() as conn:
        (state,) = conn.execute(text("SELECT state FROM booth_lanes WHERE lane = 'L1'")).one()
    engine.dispose()
    assert b"DOC-SECRET-7" not in state and b"\xff\xd8\xff" not in state, "sealed like every biometric blob"


@pytest.mark.parametrize("shared", [False, True])
def test_a_lane_idle_for_booth_keep_s_loses_its_vehicle_and_thumbnails(tmp_path: Path, shared: bool) -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 12, 6, 22, 0, tzinfo=UTC)]
    settings = _settings(tmp_path, shared=shared)
    app = create_app(settings, clock=lambda: now[0], run_scheduler=False)
    keep_s = settings.service.booth_keep_s
    with TestClient(app) as client:
        _post(client, _event("occupant_captured", 2.0, occupant=1, row=1, thumbnail_jpeg_b64=_jpeg()))
        _post(client, _event("occupant_captured", 2.0, occupant=1, row=1, lane="L2"), lane="L2")
        hub = app.state.booth
        now[0] += timedelta(seconds=keep_s - 60)
        _post(client, _event("occupant_captured", 3.0, occupant=2, row=2, lane="L2"), lane="L2")  # L2 changed since
        given = client.post("/v1/booth/L1/prompts", json={"message": "look_at_camera"}, headers=_as("officer"))
        now[0] += timedelta(seconds=90)
        assert hub.expire(now[0], keep_s) == []  # L1 posted to keep_s + 30 s ago, but the prompt changed it since
        now[0] += timedelta(seconds=keep_s)
        before = _booth(client)["seq"]
        assert sorted(hub.expire(now[0], keep_s)) == ["L1", "L2"]
        cleared = _booth(client)
        assert cleared["passage_id"] is None and cleared["seats"] == [] and cleared["seq"] > before
        assert client.get("/v1/booth/L1/thumbnails/1", headers=_as("officer")).status_code == 404
        assert hub.expire(now[0], keep_s) == []  # nothing left to clear
        handed = _post(client, _event("seat_missing", 1.0, passage="P-2", seen_not_captured=[], documents_unmatched=0))
        assert [p["prompt_id"] for p in handed["prompts"]] == [given.json()["prompt_id"]], "a waiting prompt stays"


def test_the_service_clears_idle_booths_on_its_own(tmp_path: Path) -> None:
    import time

    settings = _settings(tmp_path, shared=False)
    settings = settings.model_copy(update={"service": settings.service.model_copy(update={"booth_keep_s": 0.2})})
    with TestClient(create_app(settings)) as client:  # with its scheduled jobs
        _post(client, _event("occupant_captured", 2.0, occupant=1, row=1, thumbnail_jpeg_b64=_jpeg()))
        assert _booth(client)["seats"] != []
        deadline = time.monotonic() + 5.0
        while _booth(client)["passage_id"] is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _booth(client)["passage_id"] is None


def test_printed_faces_left_out_are_kept_with_the_crossing(client: TestClient) -> None:
    body = _passage(None, "P-20") | {"faces_not_counted": 3}
    created = client.post("/v1/passages", json=body, headers=_as("lane"))
    assert created.status_code == 201, created.text
    crossing = client.get(f"/v1/crossings/{created.json()['crossing_id']}", headers=_as("officer")).json()
    assert crossing["faces_not_counted"] == 3
    assert client.post("/v1/passages", json=body | {"faces_not_counted": 1}, headers=_as("lane")).status_code == 409
    plain = client.post("/v1/passages", json=_passage(None, "P-21"), headers=_as("lane")).json()
    assert client.get(f"/v1/crossings/{plain['crossing_id']}", headers=_as("officer")).json()["faces_not_counted"] == 0
