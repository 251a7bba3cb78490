"""`laneface run` results into the records: `run --post URL` through the lane edge's outbox (a fake service
behind httpx.MockTransport), `records import results.jsonl` into the data dir's database; the summary table,
best shots saved, exit status 1 when every passage failed."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from lanefakes import (
    MODEL,
    ColourDetector,
    ColourEmbedder,
    FakeFace,
    SizeQuality,
    gallery_with,
    write_passage,
    write_thresholds,
)
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.edge.delivery import Deliverer
from laneface.edge.mapping import encode_body, line_body, shot_file
from laneface.edge.outbox import read_summary
from laneface.edge.post import run_outbox_path
from laneface.errors import InvalidResultsError
from laneface.pipeline.lane import LanePipeline

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
DOCS = {"D-RED": RED, "D-GREEN": GREEN, "D-BLUE": BLUE}
URL = "http://records.test:8000"
KEY = secrets.token_urlsafe(32)


class FakeService:
    """POST /v1/passages as the records service answers it: 201 new, 200 same key and body, 409 another body;
    503 while down."""

    def __init__(self) -> None:
        self.up = True
        self.stored: dict[str, bytes] = {}
        self.statuses: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/passages" and request.headers["X-API-Key"] == KEY
        if not self.up:
            self.statuses.append(503)
            return httpx.Response(503, json={"error": "unavailable", "message": "down"})
        body = json.loads(request.content)
        key = f"{body['lane']}/{body['passage_id']}"
        assert request.headers["Idempotency-Key"] == key
        if key in self.stored:
            status = 200 if self.stored[key] == request.content else 409
        else:
            self.stored[key] = request.content
            status = 201
        self.statuses.append(status)
        return httpx.Response(status, json={"crossing_id": len(self.stored)})


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANEFACE_LANE_API_KEY", KEY)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()
    init = Deliverer.__init__

    def with_fake(self: Deliverer, *args: Any, **kw: Any) -> None:
        kw["transport"] = httpx.MockTransport(fake)
        init(self, *args, **kw)

    monkeypatch.setattr(Deliverer, "__init__", with_fake)
    return fake


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    data = tmp_path / "data"
    gallery_with(data, DOCS).close()
    write_thresholds(data)

    def fake_from_settings(cls: type[LanePipeline], settings: object, store: object, **kw: object) -> LanePipeline:
        from laneface.gallery.store import Gallery
        from laneface.matching import Matcher

        g = Gallery.open(data, MODEL, create=False)
        return LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), Matcher.for_gallery(g, data), gallery=g)

    monkeypatch.setattr(LanePipeline, "from_settings", classmethod(fake_from_settings))
    return data


def _car(directory: Path, passage_id: str, *, documents: tuple[str, ...] = ("D-RED", "D-GREEN")) -> Path:
    faces = [FakeFace(RED, 200, 40, 56, dx=1.0, grow=0.5), FakeFace(GREEN, 40, 40, 54, dx=1.0, grow=0.5)]
    return write_passage(directory, {"front": ("front", faces)}, documents=documents, passage_id=passage_id)


def _bad(directory: Path) -> Path:
    directory.mkdir()
    (directory / "passage.json").write_text('{"passage_id": "B-1", "lane": ', encoding="utf-8")
    return directory


@pytest.fixture
def passages(tmp_path: Path) -> list[Path]:
    return [_car(tmp_path / "p1", "G-1"), _bad(tmp_path / "bad"), _car(tmp_path / "p2", "G-2", documents=())]


def _run(data: Path, passages: list[Path], out: Path, *extra: str) -> Any:
    args = ["--data-dir", str(data), "run", *map(str, passages), "--out", str(out), *extra]
    return CliRunner().invoke(app, args)


def test_run_post_delivers_every_passage_with_its_best_shots_and_a_rerun_stores_nothing_twice(
    tmp_path: Path, data: Path, passages: list[Path], service: FakeService
) -> None:
    out = tmp_path / "results.jsonl"
    result = _run(data, passages, out, "--post", URL)
    assert result.exit_code == 0, (result.output, result.exception)
    assert sorted(service.stored) == ["L1/G-1", "L1/G-2"]
    body = json.loads(service.stored["L1/G-1"])
    assert body["occupant_count"] == 2 and all("best_shot_jpeg_b64" in o for o in body["occupants"])
    assert read_summary(run_outbox_path(data)).counts == {"pending": 0, "delivered": 2, "rejected": 0}
    assert "2 delivered" in result.stderr

    again = _run(data, passages, tmp_path / "again.jsonl", "--post", URL)
    assert again.exit_code == 0, (again.output, again.exception)
    assert 409 not in service.statuses, "a re-run must not post another body under the same key"
    assert sorted(service.stored) == ["L1/G-1", "L1/G-2"]
    assert "2 already there" in again.stderr


def test_run_post_keeps_the_records_while_the_service_is_down_and_flush_delivers_them(
    tmp_path: Path, data: Path, passages: list[Path], service: FakeService
) -> None:
    service.up = False
    result = _run(data, passages, tmp_path / "r.jsonl", "--post", URL, "--drain-s", "0.3")
    assert result.exit_code == 0, (result.output, result.exception)
    assert service.stored == {} and 503 in service.statuses
    assert read_summary(run_outbox_path(data)).counts["pending"] == 2
    assert "2 record(s) still pending" in result.stderr

    service.up = True
    flushed = CliRunner().invoke(app, ["--data-dir", str(data), "outbox", "flush", "--post", URL, "--drain-s", "20"])
    assert flushed.exit_code == 0, (flushed.output, flushed.exception)
    assert sorted(service.stored) == ["L1/G-1", "L1/G-2"]
    assert read_summary(run_outbox_path(data)).counts == {"pending": 0, "delivered": 2, "rejected": 0}


def test_run_post_needs_the_lane_key(tmp_path: Path, data: Path, passages: list[Path], service: FakeService) -> None:
    result = _run(data, passages, tmp_path / "r.jsonl", "--post", URL, "--api-key-env", "NO_SUCH_KEY_VAR")
    assert result.exit_code != 0 and "NO_SUCH_KEY_VAR" in str(result.exception)


def test_run_exits_1_when_every_passage_failed(tmp_path: Path, data: Path) -> None:
    result = _run(data, [_bad(tmp_path / "b1"), tmp_path / "nowhere"], tmp_path / "r.jsonl")
    assert result.exit_code == 1, (result.output, result.exception)
    assert "every passage failed" in result.stderr
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all("error" in x for x in lines)


def test_run_prints_a_summary_table_and_saves_best_shots(
    tmp_path: Path, data: Path, passages: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    shots = tmp_path / "shots"
    result = _run(data, passages, tmp_path / "r.jsonl", "--save-shots", str(shots), "--lane", "L7")
    assert result.exit_code == 0, (result.output, result.exception)
    progress = [r.getMessage() for r in caplog.records if r.name == "laneface.progress"]
    assert any(m.startswith("passages: 3/3 (100 %)") and "ETA" in m for m in progress), (
        "progress is logged without --verbose when stderr is not a terminal"
    )
    assert result.stdout == "", "stdout stays free for JSON lines"
    table = result.stderr
    for cell in ("passage", "captured", "identified", "G-1", "G-2", "2 match", "not valid JSON", "3 passages"):
        assert cell in table, table
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert lines[0]["lane"] == "L7"
    for occupant in (1, 2):
        jpeg = shot_file(shots, "L7", "G-1", occupant).read_bytes()
        assert jpeg.startswith(b"\xff\xd8\xff")


# ------------------------------------------------------------------------------------------ records import


def _crossings(data: Path) -> list[tuple[str, str, int]]:
    import sqlite3

    with sqlite3.connect(data / "records.db") as conn:
        return [
            (str(p), str(lane), int(n))
            for p, lane, n in conn.execute("SELECT passage_id, lane, occupant_count FROM crossings ORDER BY passage_id")
        ]


def _import(data: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--data-dir", str(data), "records", "import", *args, "--insecure-dev"])


def test_records_import_stores_each_passage_once_with_its_saved_best_shots(
    tmp_path: Path, data: Path, passages: list[Path]
) -> None:
    shots = tmp_path / "shots"
    out = tmp_path / "r.jsonl"
    assert _run(data, passages, out, "--save-shots", str(shots)).exit_code == 0
    first = _import(data, str(out), "--shots", str(shots), "--json")
    assert first.exit_code == 0, (first.output, first.exception)
    report = json.loads(first.stdout)
    assert report["imported"] == 2 and report["already"] == 0 and report["images"] == 4
    assert [f["line"] for f in report["failed"]] == [2] and "not valid JSON" in report["failed"][0]["error"]
    assert _crossings(data) == [("G-1", "L1", 2), ("G-2", "L1", 2)]

    second = _import(data, str(out), "--shots", str(shots))
    assert second.exit_code == 0, (second.output, second.exception)
    assert "0 crossings imported" in second.stderr and "2 already in the records" in second.stderr
    assert _crossings(data) == [("G-1", "L1", 2), ("G-2", "L1", 2)], "a second import inserts nothing"


def test_the_imported_body_is_the_body_run_post_sends(
    tmp_path: Path, data: Path, passages: list[Path], service: FakeService
) -> None:
    shots, out = tmp_path / "shots", tmp_path / "r.jsonl"
    assert _run(data, passages, out, "--save-shots", str(shots), "--post", URL).exit_code == 0
    line = json.loads(out.read_text().splitlines()[0])
    jpegs = {o["occupant_id"]: shot_file(shots, "L1", "G-1", o["occupant_id"]).read_bytes() for o in line["occupants"]}
    assert encode_body(line_body(line, jpegs)) == service.stored["L1/G-1"]
    posted = json.loads(service.stored["L1/G-1"])
    assert base64.b64decode(posted["occupants"][0]["best_shot_jpeg_b64"]) == jpegs[1]


@pytest.mark.parametrize(
    ("good_first", "text", "message"),
    [
        (False, '{"passage_id": "P", "lane": "L1"}\n', "line 1: not a `laneface run` line: missing"),
        (False, "\n[1, 2]\n", "line 2: must hold a JSON object"),
        (True, "{oops\n", "line 2: not a JSON object"),
    ],
)
def test_a_malformed_line_is_an_error_with_its_number_and_nothing_is_imported(
    tmp_path: Path, data: Path, passages: list[Path], good_first: bool, text: str, message: str
) -> None:
    out = tmp_path / "r.jsonl"
    assert _run(data, passages, out).exit_code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text((out.read_text().splitlines()[0] + "\n" if good_first else "") + text, encoding="utf-8")
    result = _import(data, str(bad))
    assert isinstance(result.exception, InvalidResultsError), result.output
    assert message in str(result.exception)
    assert not (data / "records.db").exists() or _crossings(data) == []


def test_store_results_puts_pipeline_results_in_the_records_once(tmp_path: Path, data: Path) -> None:
    from laneface.api.ingest import store_results
    from laneface.config import load_settings
    from laneface.records.service import RecordsService, build_cipher

    with LanePipeline.from_settings(None, None) as pipeline:  # type: ignore[arg-type]
        results = [pipeline.process(_car(tmp_path / "p1", "G-1")), pipeline.process(_car(tmp_path / "p2", "G-2"))]
    settings = load_settings(data_dir=data)
    records = RecordsService.open(settings, build_cipher(settings, dev_key=True))
    try:
        records.prepare_schema()
        first = store_results(records, results)
        second = store_results(records, results)
    finally:
        records.close()
    assert first.imported == ["L1/G-1", "L1/G-2"] and first.images == 4 and not first.conflicts
    assert second.imported == [] and second.already == ["L1/G-1", "L1/G-2"]
    assert _crossings(data) == [("G-1", "L1", 2), ("G-2", "L1", 2)]


def test_run_post_into_the_real_service_stores_one_crossing_per_passage(
    tmp_path: Path, data: Path, passages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records service's own app (in process): the body passes its schema, a re-run is no conflict."""
    from fastapi.testclient import TestClient

    from laneface.api.app import create_app
    from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
    from laneface.records.crypto import generate_key

    served = tmp_path / "service"
    settings = Settings(
        data_dir=served,
        records=RecordsSettings(database_url=f"sqlite:///{served / 'records.db'}"),
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings(lane_keys=[KEY], officer_keys=[secrets.token_urlsafe(32)]),
    )
    served.mkdir()
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        init = Deliverer.__init__

        def through_app(self: Deliverer, *args: Any, **kw: Any) -> None:
            kw["transport"] = client._transport
            init(self, *args, **kw)

        monkeypatch.setattr(Deliverer, "__init__", through_app)
        first = _run(data, passages, tmp_path / "a.jsonl", "--post", str(client.base_url))
        assert first.exit_code == 0, (first.output, first.exception)
        assert "2 delivered, 0 rejected" in first.stderr
        (data / "outbox" / "run.db").unlink()  # a fresh outbox: the same passages are sent again
        for suffix in ("-wal", "-shm"):
            (data / "outbox" / f"run.db{suffix}").unlink(missing_ok=True)
        again = _run(data, passages, tmp_path / "b.jsonl", "--post", str(client.base_url))
    assert _crossings(served) == [("G-1", "L1", 2), ("G-2", "L1", 2)]
    # processing again usually gives other timings, and the service refuses another body under the same key,
    # loudly; a passage whose rounded timings came out equal is an identical replay (200), stored once as well
    counts = re.search(r"'delivered': (\d+), 'rejected': (\d+)", again.stderr)
    assert counts is not None, again.stderr
    delivered, rejected = int(counts.group(1)), int(counts.group(2))
    assert delivered + rejected == 2
    if rejected:
        assert again.exit_code == 1 and f"rejected {rejected} record(s)" in again.stderr, again.stderr
    else:
        assert again.exit_code == 0, again.stderr


def test_an_unreadable_best_shot_refuses_its_passage_with_the_reason(
    tmp_path: Path, data: Path, passages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shots, out = tmp_path / "shots", tmp_path / "r.jsonl"
    assert _run(data, passages, out, "--save-shots", str(shots)).exit_code == 0
    locked = shot_file(shots, "L1", "G-1", 1)
    assert locked.is_file()
    read_bytes = Path.read_bytes

    def guarded(self: Path) -> bytes:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    result = _import(data, str(out), "--shots", str(shots), "--json")
    assert result.exit_code == 1, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["imported"] == 1
    assert [(r["passage_id"], r["lane"]) for r in report["refused"]] == [("G-1", "L1")]
    assert "cannot be read (PermissionError" in report["refused"][0]["error"]
    assert _crossings(data) == [("G-2", "L1", 2)]
