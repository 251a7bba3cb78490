"""The lane's side of the booth view: events posted in batches, prompts taken from the answers, thumbnails kept
off stdout, failures dropped without holding the lane up."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import httpx
import pytest

from laneface.edge.booth import BoothLink, OfficerPrompts, fan_out


class FakeService:
    def __init__(self, status: int = 200, prompts: list[dict[str, Any]] | None = None) -> None:
        self.status, self.prompts = status, list(prompts or [])
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        self.posted = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        self.keys.append(request.headers.get("x-api-key"))
        self.posted.set()
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "nope"})
        prompts, self.prompts = self.prompts, []
        return httpx.Response(200, json={"accepted": len(self.bodies[-1]["events"]), "prompts": prompts})


def _link(service: FakeService, prompts: OfficerPrompts, **kw: Any) -> BoothLink:
    return BoothLink("http://svc:8000/", "L1", "lane-key", prompts, transport=httpx.MockTransport(service), **kw)


def test_posts_batches_and_hands_prompts_to_the_pipeline_and_stdout() -> None:
    prompt = {
        "prompt_id": "ab",
        "lane": "L1",
        "passage_id": "P-1",
        "at": "2026-12-05T10:00:00Z",
        "message": "remove_sunglasses",
        "text": "Please remove sunglasses",
    }
    service, prompts, out = FakeService(prompts=[prompt]), OfficerPrompts(), []
    link = _link(service, prompts, emit=out.append, batch=2)
    events = [{"event": "seat_missing", "passage_id": "P-1", "t_s": float(i)} for i in range(3)]
    assert link.post(events[:2]) is True
    assert service.bodies[0] == {"events": events[:2]} and service.keys == ["lane-key"]
    assert prompts.take() == ["remove_sunglasses"] and prompts.take() == []
    assert out == [{"event": "officer_prompt", **prompt}]
    assert link.posted == 2 and link.dropped == 0
    assert "lane-key" not in repr(link)


def test_background_thread_sends_everything_queued_before_stop() -> None:
    service, prompts = FakeService(), OfficerPrompts()
    link = _link(service, prompts, batch=2, poll_s=30.0)
    link.start()
    for i in range(5):
        link({"event": "seat_missing", "passage_id": "P-1", "t_s": float(i)})
    link.stop()
    sent = [e["t_s"] for body in service.bodies for e in body["events"]]
    assert sent == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(len(body["events"]) <= 2 for body in service.bodies)


def test_idle_link_asks_for_prompts_with_an_empty_post() -> None:
    service, prompts = FakeService(prompts=[{"message": "look_at_camera"}]), OfficerPrompts()
    link = _link(service, prompts, poll_s=0.05)
    link.start()
    assert service.posted.wait(5.0)
    link.stop()
    assert service.bodies[0] == {"events": []}
    assert prompts.take() == ["look_at_camera"]


def test_full_queue_drops_the_oldest_events() -> None:
    link = _link(FakeService(), OfficerPrompts(), max_queue=2)
    for i in range(3):
        link({"t_s": float(i)})
    assert link.dropped == 1


@pytest.mark.parametrize("status", [422, 503])
def test_a_refused_post_is_dropped_and_logged_once(status: int, caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService(status=status)
    link = _link(service, OfficerPrompts())
    with caplog.at_level(logging.WARNING, logger="laneface.edge.booth"):
        assert link.post([{"t_s": 1.0}]) is False
        assert link.post([{"t_s": 2.0}]) is False
    assert len(service.bodies) == (2 if status == 422 else 4)  # a 4xx is not retried, a 5xx once
    assert link.dropped == 2
    assert len([r for r in caplog.records if "not delivered" in r.message]) == 1


def test_unreachable_service_does_not_raise() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    link = BoothLink("http://svc", "L1", "k", OfficerPrompts(), transport=httpx.MockTransport(refuse))
    assert link.post([{"t_s": 1.0}]) is False


def test_fan_out_keeps_thumbnails_off_stdout() -> None:
    linked: list[dict[str, Any]] = []
    printed: list[dict[str, Any]] = []
    sink = fan_out(linked.append, printed.append)
    sink({"event": "occupant_captured", "occupant": 1, "thumbnail_jpeg_b64": "/9j/"})
    assert linked == [{"event": "occupant_captured", "occupant": 1, "thumbnail_jpeg_b64": "/9j/"}]
    assert printed == [{"event": "occupant_captured", "occupant": 1}]
    only_stdout = fan_out(None, printed.append)
    only_stdout({"event": "seat_missing"})
    assert printed[-1] == {"event": "seat_missing"}
