"""The lane runner with fakes (cameras, processor, network): trigger -> spool -> outbox -> delivered, restart
after crashes at each step, duplicate triggers, failures kept on disk; frame rings, spool, trigger parsing
and the HTTP trigger."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from edgefakes import Clock
from PIL import Image

from laneface.api.schemas.passages import PassageCreate
from laneface.capture.passage import read_passage
from laneface.edge.cameras import BufferedFrame, CameraInfo, FrameRing
from laneface.edge.delivery import Deliverer
from laneface.edge.lane import JsonLinesSink
from laneface.edge.mapping import empty_passage_body, encode_body
from laneface.edge.outbox import Outbox, passage_key
from laneface.edge.runner import LaneRunner, LiveFactory, RunnerOptions
from laneface.edge.segment import Segment
from laneface.edge.spool import FAILED_DIR, Spool, SpooledPassage
from laneface.edge.triggers import Ack, HttpTriggerServer, TriggerEvent, parse_trigger
from laneface.errors import InputError, InvalidVideoError
from laneface.retry import Backoff

URL = "http://central.test"
KEY = "lane-key-0123456789abcdef"


def _jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (shade, shade, shade)).save(buf, "JPEG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- frame ring
def test_frame_ring_keeps_a_time_window_and_cuts_half_open_intervals() -> None:
    ring = FrameRing(keep_s=2.0)
    for i in range(40):
        ring.append(BufferedFrame(100.0 + 0.1 * i, b"j%d" % i))
    assert len(ring) == 21  # 101.9 - 2.0 <= t
    assert ring.latest() is not None and ring.last_t == pytest.approx(103.9)
    cut = ring.between(102.0, 102.5)
    assert [round(f.t, 1) for f in cut] == [102.1, 102.2, 102.3, 102.4, 102.5]
    assert ring.between(102.5, 102.6)[0].t == pytest.approx(102.6)  # consecutive cuts share no frame
    ring.append(BufferedFrame(50.0, b"late"))  # a clock step back is ignored
    assert ring.last_t == pytest.approx(103.9)


def test_frame_ring_wait() -> None:
    ring = FrameRing(keep_s=10.0)
    assert ring.wait_until(5.0, 0.01) is False
    threading.Timer(0.05, lambda: ring.append(BufferedFrame(5.0, b"x"))).start()
    assert ring.wait_until(5.0, 5.0) is True
    ring.close()
    assert ring.wait_until(100.0, 5.0) is True  # an ended camera does not make a cut wait


# ---------------------------------------------------------------------------------------------- triggers
def test_parse_trigger() -> None:
    assert parse_trigger("") == TriggerEvent()
    assert parse_trigger("\n").event == "end"
    t = parse_trigger('{"documents": ["DOC-1", "DOC-2"], "passage_id": "P-7", "direction": "outbound"}')
    assert t.documents == ["DOC-1", "DOC-2"] and t.passage_id == "P-7" and t.direction == "outbound"
    assert parse_trigger(b'{"event": "start"}').event == "start"
    for bad, message in [
        ("{", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"passage_id": "../x"}', "passage_id"),
        ('{"documents": "DOC-1"}', "documents"),
        ('{"direction": "up"}', "direction"),
        ('{"camera": "front"}', "camera"),
        ("x" * 70_000, "over the limit"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_trigger(bad)


# ---------------------------------------------------------------------------------------------- fakes
class FakeHub:
    """Two cameras with a frame every 0.1 s from t=1000 to t=1010."""

    def __init__(self) -> None:
        self.frames = {
            "front": [BufferedFrame(1000.0 + 0.1 * i, _jpeg(100)) for i in range(100)],
            "left": [BufferedFrame(1000.05 + 0.1 * i, _jpeg(150)) for i in range(100)],
        }
        self.started = self.stopped = False

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return (CameraInfo("front", "front", 10.0), CameraInfo("left", "left", 10.0))

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]:
        return {name: [f for f in frames if start < f.t <= end] for name, frames in self.frames.items()}

    def latest(self, camera: str) -> BufferedFrame | None:
        return self.frames[camera][-1]

    def status(self) -> dict[str, object]:
        return {"fake": True}


def fake_processor(spooled: SpooledPassage) -> bytes:
    passage = read_passage(spooled.directory) if spooled.has_frames else None
    body = empty_passage_body(spooled.passage_id, spooled.lane, spooled.direction, spooled.started_at)
    if passage is not None:
        frames = {c.name: len(list(c.path.iterdir())) for c in passage.cameras}
        body["timing_s"] = {k: float(v) for k, v in frames.items()}
    return encode_body(body)


class Central:
    """A fake service: stores bodies by (passage_id, lane), answers like the real one."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], bytes] = {}
        self.requests = 0
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            raise httpx.ConnectError("connection refused")
        body = PassageCreate.model_validate_json(request.content)
        key = (body.passage_id, body.lane)
        if key in self.stored:
            same = self.stored[key] == request.content
            return httpx.Response(200 if same else 409, json={"error": "idempotency_conflict", "message": "x"})
        self.stored[key] = request.content
        return httpx.Response(201, json={"crossing_id": len(self.stored)})


def _wait(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.fixture
def central() -> Central:
    return Central()


@pytest.fixture
def make_runner(
    tmp_path: Path, central: Central
) -> Iterator[Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]]]:
    made: list[LaneRunner] = []

    def make(
        processor: Callable[[SpooledPassage], bytes] = fake_processor,
        clock: Clock | None = None,
        hub: FakeHub | None = None,
        live: LiveFactory | None = None,
    ) -> tuple[LaneRunner, list[Mapping[str, object]]]:
        events: list[Mapping[str, object]] = []
        outbox = Outbox(tmp_path / "outbox.db")
        deliverer = Deliverer(
            outbox,
            URL,
            KEY,
            backoff=Backoff(0.01, 2.0, 0.05, 0.0),
            transport=httpx.MockTransport(central),
            on_attempt=lambda a: events.append({"event": a.outcome, "key": a.key}),
        )
        runner = LaneRunner(
            lane="L1",
            direction="inbound",
            hub=hub or FakeHub(),
            spool=Spool(tmp_path / "spool"),
            outbox=outbox,
            deliverer=deliverer,
            processor=processor,
            options=RunnerOptions(max_passage_s=3.0, drain_s=5.0, retry_s=0.01),
            emit=events.append,
            clock=clock or Clock(1005.0),
            live=live,
        )
        made.append(runner)
        return runner, events

    yield make
    for r in made:
        if r.outbox._conn is not None:
            r.stop(drain=False)


def _kinds(events: list[Mapping[str, object]]) -> list[object]:
    return [e["event"] for e in events]


# ---------------------------------------------------------------------------------------------- runner
def test_trigger_spools_processes_stores_and_delivers(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central, tmp_path: Path
) -> None:
    clock = Clock(1005.0)
    runner, events = make_runner(clock=clock)
    runner.start()
    ack = runner.trigger(TriggerEvent(documents=["DOC-1"], passage_id="P-1"))
    assert ack.status == "spooled" and ack.passage_id == "P-1"
    clock.t = 1006.0
    ack2 = runner.trigger(TriggerEvent())
    assert ack2.status == "spooled" and ack2.passage_id is not None and ack2.passage_id.startswith("L1-")
    _wait(lambda: len(central.stored) == 2)
    runner.stop(drain=True)
    first = json.loads(central.stored[("P-1", "L1")])
    assert first["timing_s"] == {"front": 30.0, "left": 30.0}  # max_passage_s = 3 s of 10 fps
    second = json.loads(central.stored[(ack2.passage_id, "L1")])
    assert second["timing_s"] == {"front": 10.0, "left": 10.0}  # since the previous cut
    assert _kinds(events)[0] == "ready" and _kinds(events)[-1] == "stopped"
    assert _kinds(events).count("spooled") == 2 and _kinds(events).count("stored") == 2
    assert _kinds(events).count("delivered") == 2
    assert Spool(tmp_path / "spool").pending() == []
    with Outbox(tmp_path / "outbox.db") as box:
        assert box.counts() == {"pending": 0, "delivered": 2, "rejected": 0}


def test_start_event_marks_the_passage_start(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    clock = Clock(1002.0)
    runner, _ = make_runner(clock=clock)
    runner.start()
    assert runner.trigger(TriggerEvent(event="start")).status == "started"
    clock.t = 1004.0
    runner.trigger(TriggerEvent(passage_id="P-2"))
    _wait(lambda: len(central.stored) == 1)
    runner.stop(drain=True)
    assert json.loads(central.stored[("P-2", "L1")])["timing_s"] == {"front": 20.0, "left": 20.0}


def test_duplicate_triggers_are_not_cut_twice(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    runner, _ = make_runner()
    runner.start()
    assert runner.trigger(TriggerEvent(passage_id="P-3")).status == "spooled"
    assert runner.trigger(TriggerEvent(passage_id="P-3")).status == "duplicate"  # spooled or stored
    _wait(lambda: len(central.stored) == 1)
    assert runner.trigger(TriggerEvent(passage_id="P-3")).status == "duplicate"  # delivered
    runner.stop(drain=True)
    assert central.requests == 1


def test_triggers_are_refused_once_the_lane_stops(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]],
) -> None:
    runner, events = make_runner()
    runner.start()
    runner.stop(drain=False)
    assert runner.trigger(TriggerEvent(passage_id="P-late")).status == "refused"
    assert runner.cut_segment(Segment(1001.0, 1002.0)).status == "refused"
    assert _kinds(events)[-2:] == ["refused", "refused"]


def test_auto_segment_cut(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    runner, _ = make_runner()
    runner.start()
    ack = runner.cut_segment(Segment(1001.0, 1002.0))
    _wait(lambda: len(central.stored) == 1)
    runner.stop(drain=True)
    assert json.loads(central.stored[(str(ack.passage_id), "L1")])["timing_s"] == {"front": 10.0, "left": 10.0}


def test_a_cut_without_frames_is_recorded_with_no_occupant(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    runner, _ = make_runner(clock=Clock(5000.0))  # long after the fake cameras' frames
    runner.start()
    runner.trigger(TriggerEvent(passage_id="P-empty"))
    _wait(lambda: len(central.stored) == 1)
    runner.stop(drain=True)
    body = json.loads(central.stored[("P-empty", "L1")])
    assert body["occupant_count"] == 0 and body["complete_capture"] is False


def test_spooled_passages_are_processed_after_a_restart(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central, tmp_path: Path
) -> None:
    # a lane that died after spooling (no processing, no delivery): only the spool exists
    spool = Spool(tmp_path / "spool")
    hub = FakeHub()
    for pid in ("P-a", "P-b"):
        spool.write(
            passage_id=pid,
            lane="L1",
            direction="inbound",
            started_at=__import__("datetime").datetime.now(),
            documents=[],
            cameras=hub.cameras,
            frames=hub.cut(1000.0, 1001.0, 0.0),
        )
    (tmp_path / "spool" / ".partial-00000000000000000001_P-c").mkdir()  # died while writing: never acked
    runner, events = make_runner()
    runner.start()
    assert events[0] == {
        "event": "ready",
        "lane": "L1",
        "spooled": 2,
        "outbox": {"pending": 0, "delivered": 0, "rejected": 0},
    }
    _wait(lambda: len(central.stored) == 2)
    runner.stop(drain=True)
    assert sorted(central.stored) == [("P-a", "L1"), ("P-b", "L1")]
    assert not any(p.name.startswith(".partial") for p in (tmp_path / "spool").iterdir())


def test_a_passage_stored_before_a_crash_is_not_processed_again(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    hub = FakeHub()
    spool.write(
        passage_id="P-x",
        lane="L1",
        direction="inbound",
        started_at=__import__("datetime").datetime.now(),
        documents=[],
        cameras=hub.cameras,
        frames=hub.cut(1000.0, 1001.0, 0.0),
    )
    with Outbox(tmp_path / "outbox.db") as box:  # the record was put, the spool entry not yet removed
        box.put(passage_key("P-x", "L1"), b'{"stored":"before the crash"}')
    calls = []

    def processor(sp: SpooledPassage) -> bytes:
        calls.append(sp.passage_id)
        return fake_processor(sp)

    runner, _ = make_runner(processor=processor)
    runner.start()
    _wait(lambda: not Spool(tmp_path / "spool").pending())
    runner.stop(drain=False)
    assert calls == []


def test_unprocessable_passages_are_kept_in_failed(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central, tmp_path: Path
) -> None:
    def processor(sp: SpooledPassage) -> bytes:
        if sp.passage_id == "P-bad":
            raise InvalidVideoError("camera front: cannot be decoded")
        if sp.passage_id == "P-bug":
            raise RuntimeError("a bug")
        return fake_processor(sp)

    runner, events = make_runner(processor=processor)
    runner.start()
    for pid in ("P-bad", "P-bug", "P-good"):
        runner.trigger(TriggerEvent(passage_id=pid))
    _wait(lambda: len(central.stored) == 1)
    runner.stop(drain=True)
    failed = sorted(p.name.split("_", 1)[1] for p in (tmp_path / "spool" / FAILED_DIR).iterdir())
    assert failed == ["P-bad", "P-bug"]
    reason = next((tmp_path / "spool" / FAILED_DIR).glob("*_P-bad")) / "reason.txt"
    assert "cannot be decoded" in reason.read_text()
    assert _kinds(events).count("failed") == 2


def test_outage_then_recovery_in_process(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central, tmp_path: Path
) -> None:
    central.down = True
    clock = Clock(1000.0)
    runner, events = make_runner(clock=clock)
    runner.start()
    for i in range(10):
        clock.t += 0.5
        runner.trigger(TriggerEvent(passage_id=f"P-{i}"))
    _wait(lambda: runner.outbox.counts()["pending"] == 10)
    _wait(lambda: "retry" in _kinds(events))
    central.down = False
    _wait(lambda: len(central.stored) == 10)
    runner.stop(drain=True)
    with Outbox(tmp_path / "outbox.db") as box:
        assert box.counts() == {"pending": 0, "delivered": 10, "rejected": 0}


def test_json_lines_sink() -> None:
    out = io.StringIO()
    JsonLinesSink(out)({"event": "x", "path": Path("/a")})
    assert json.loads(out.getvalue()) == {"event": "x", "path": "/a"}


# ---------------------------------------------------------------------------------------------- http
def test_http_trigger_server() -> None:
    seen: list[TriggerEvent] = []

    def handler(event: TriggerEvent) -> object:
        from laneface.edge.triggers import Ack

        seen.append(event)
        status = {"P-dup": "duplicate", "P-late": "refused"}.get(event.passage_id or "", "spooled")
        return Ack(event.passage_id or "P-new", status)  # type: ignore[arg-type]

    server = HttpTriggerServer("127.0.0.1", 0, handler, lambda: {"outbox": {"pending": 0}})  # type: ignore[arg-type]
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(timeout=10) as client:
            r = client.post(base + "/trigger", json={"documents": ["DOC-1"]})
            assert r.status_code == 201 and r.json() == {"passage_id": "P-new", "status": "spooled"}
            assert client.post(base + "/trigger", json={"passage_id": "P-dup"}).status_code == 200
            assert client.post(base + "/trigger", json={"passage_id": "P-late"}).status_code == 503
            bad = client.post(base + "/trigger", content=b'{"direction": "up"}')
            assert bad.status_code == 422 and "direction" in bad.json()["message"]
            assert client.post(base + "/trigger", content=b"x" * 70_000).status_code == 413
            assert client.get(base + "/status").json() == {"outbox": {"pending": 0}}
            assert client.get(base + "/healthz").status_code == 200
            assert client.get(base + "/nope").status_code == 404
            assert client.post(base + "/nope").status_code == 404
    finally:
        server.stop()
    assert [e.documents for e in seen] == [["DOC-1"], [], []]


# ---------------------------------------------------------------------------------------------- live passages
class BoothHub(FakeHub):
    """The fake cameras with zones: ``front`` films the approach, ``left`` the booth."""

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return (CameraInfo("front", "front", 10.0, "approach"), CameraInfo("left", "left", 10.0, "booth"))


class FakeLive:
    def __init__(self, passage_id: str, start_t: float, documents: Sequence[str], direction: str) -> None:
        self.passage_id, self.start_t, self.direction = passage_id, start_t, direction
        self.calls: list[tuple[str, float, list[str]]] = [("start", start_t, list(documents))]
        self.result: bytes | None = encode_body(
            {
                **empty_passage_body(passage_id, "L1", direction, datetime(2026, 12, 5, tzinfo=UTC)),
                "timing_s": {"live": 1.0},
            }
        )

    def stop(self, t: float, documents: Sequence[str]) -> None:
        self.calls.append(("stop", t, list(documents)))

    def end(self, t: float, documents: Sequence[str]) -> None:
        self.calls.append(("end", t, list(documents)))

    def body(self, timeout_s: float) -> bytes | None:
        return self.result

    def cancel(self) -> None:
        self.calls.append(("cancel", 0.0, []))


def _live_factory() -> tuple[list[FakeLive], Callable[[str, float, Sequence[str], str], FakeLive]]:
    """A live factory that keeps every live passage it makes, in order."""
    lives: list[FakeLive] = []

    def factory(passage_id: str, start_t: float, documents: Sequence[str], direction: str) -> FakeLive:
        lives.append(FakeLive(passage_id, start_t, documents, direction))
        return lives[-1]

    return lives, factory


def test_live_passages_follow_start_stop_end_and_give_the_record(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    lives, factory = _live_factory()
    clock = Clock(1001.0)
    runner, events = make_runner(clock=clock, hub=BoothHub(), live=factory)
    runner.start()
    started = runner.trigger(TriggerEvent(event="start", passage_id="P-LIVE"))
    assert started.status == "started" and started.passage_id == "P-LIVE"
    clock.t = 1002.0
    assert runner.trigger(TriggerEvent(event="stop", documents=["D-1"])) == Ack("P-LIVE", "stopped")
    clock.t = 1003.0
    assert runner.trigger(TriggerEvent(documents=["D-2"])) == Ack("P-LIVE", "spooled")
    _wait(lambda: len(central.stored) == 1)
    assert json.loads(central.stored[("P-LIVE", "L1")])["timing_s"] == {"live": 1.0}, "the live result is the record"
    assert lives[0].calls == [("start", 1001.0, []), ("stop", 1002.0, ["D-1"]), ("end", 1003.0, ["D-1", "D-2"])]
    assert "stopped_at_booth" in _kinds(events)

    # no live result: the spooled copy is processed, its booth camera cut from the stop on
    clock.t = 1004.0
    runner.trigger(TriggerEvent(event="start"))
    lives[-1].result = None
    generated = lives[-1].passage_id
    assert generated.startswith("L1-")
    clock.t = 1005.0
    runner.trigger(TriggerEvent(event="stop"))
    clock.t = 1006.0
    assert runner.trigger(TriggerEvent()).passage_id == generated
    _wait(lambda: len(central.stored) == 2)
    runner.stop(drain=True)
    assert json.loads(central.stored[(generated, "L1")])["timing_s"] == {"front": 20.0, "left": 10.0}


def test_a_start_without_an_end_cancels_the_live_passage(
    make_runner: Callable[..., tuple[LaneRunner, list[Mapping[str, object]]]], central: Central
) -> None:
    lives, factory = _live_factory()
    clock = Clock(1001.0)
    runner, _ = make_runner(clock=clock, live=factory)
    runner.start()
    runner.trigger(TriggerEvent(event="start", passage_id="P-A"))
    runner.trigger(TriggerEvent(event="start", passage_id="P-B"))
    assert lives[0].calls[-1][0] == "cancel"
    clock.t = 1002.0
    runner.trigger(TriggerEvent(passage_id="P-OTHER"))  # the end names another passage: processed from the spool
    assert lives[1].calls[-1][0] == "cancel"
    _wait(lambda: len(central.stored) == 1)
    runner.stop(drain=True)
    assert "live" not in json.loads(central.stored[("P-OTHER", "L1")])["timing_s"]
