"""Two replicas of the service on one records database: lanes deliver to either, and ``kill -9`` of one replica
while three lanes deliver loses nothing and stores nothing twice (each lane's outbox fails over to the other
replica; a post the dead replica stored before answering is replayed to the other and answered 200).

Both replicas are real ``laneface serve`` processes, each with its own data directory, on the same database:
PostgreSQL in CI (and SQLite, one file, on the same host). Figures (records, kill point, failover seconds,
replays) go to the test report and to ``$LANEFACE_EDGE_FIGURES`` when it is set. The booth view is shared
too (``service.booth_shared``): what a lane posts to one replica, an officer sees and answers on the other. So is
the gallery (``gallery.metadata_url = "records"``): a document enrolled through one replica is searched, flagged
as a duplicate and removed through the other, and a lane opening the gallery finds what either enrolled.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serveproc import ServeProcess, record_figures, wait_for
from sqlalchemy import create_engine, text

from laneface.edge.delivery import Attempt, Deliverer
from laneface.edge.outbox import Outbox
from laneface.records.crypto import generate_key
from laneface.retry import Backoff

SHARED = Path(__file__).resolve().parents[3] / "shared"
PHOTO = SHARED / "data" / "lfw" / "lfw-deepfunneled" / "George_W_Bush" / "George_W_Bush_0001.jpg"
KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}
LANES = ("OUT-1", "OUT-2", "OUT-3")
PER_LANE = 60

pytestmark = pytest.mark.timeout(600)


class Replica(ServeProcess):
    """``laneface serve`` with its own data directory, on the shared database, with the shared booth view."""

    def __init__(self, directory: Path, database_url: str, encryption_key: str) -> None:
        # one gallery: its metadata beside the records on PostgreSQL; with SQLite records, a file of its own
        self.gallery_url = (
            "records" if not database_url.startswith("sqlite") else f"sqlite:///{directory.parent}/gallery.db"
        )
        env = {
            "LANEFACE_RECORDS__DATABASE_URL": database_url,
            "LANEFACE_PRIVACY__ENCRYPTION_KEY": encryption_key,
            "LANEFACE_SERVICE__BOOTH_SHARED": "true",
            "LANEFACE_SERVICE__BOOTH_POLL_S": "0.1",
            "LANEFACE_GALLERY__METADATA_URL": self.gallery_url,
            "LANEFACE_MODELS__MODELS_DIR": str(SHARED / "models"),
            "LANEFACE_DETECTION__DETECTOR": "yunet",
            "LANEFACE_EMBEDDING__EMBEDDER": "sface",
        }
        super().__init__(directory, KEYS, env)


def _body(lane: str, n: int) -> bytes:
    body = {
        "passage_id": f"{lane}-{n:04d}",
        "lane": lane,
        "direction": "outbound",
        "started_at": f"2026-12-06T{8 + n // 60:02d}:{n % 60:02d}:00+00:00",
        "occupant_count": 1,
        "complete_capture": True,
        "occupants": [
            {
                "occupant_id": "1",
                "row": 1,
                "quality": 81.5,
                "quality_passed": True,
                "match": {"doc_id": None, "score": 0.41, "decision": "no_match", "threshold": 0.6},
                "model_version": "sface@2021dec",
            }
        ],
        "plate": {"text": f"R{n:03d} {lane[-1]}", "region": "BC", "confidence": 0.9},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    key = generate_key()
    a, b = Replica(tmp_path / "a", database_url, key), Replica(tmp_path / "b", database_url, key)
    try:
        a.start()  # the first one migrates the schema
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_killing_one_replica_under_load_loses_and_duplicates_nothing(
    replicas: tuple[Replica, Replica], database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    a, b = replicas
    engine = create_engine(database_url)

    def stored() -> dict[str, int]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT lane, COUNT(*), COUNT(DISTINCT passage_id) FROM crossings GROUP BY lane"))
            out = {}
            for lane, count, distinct in rows:
                assert count == distinct, f"lane {lane}: {count} crossings, {distinct} passages"
                out[str(lane)] = int(count)
            return out

    attempts: list[tuple[float, str, Attempt]] = []
    lock = threading.Lock()
    stop = threading.Event()
    boxes, deliverers, threads = [], [], []
    for k, lane in enumerate(LANES):
        box = Outbox(tmp_path / f"{lane}.db")
        urls = [a.url, b.url] if k % 2 == 0 else [b.url, a.url]  # lanes deliver to either replica

        def seen(attempt: Attempt, lane: str = lane) -> None:
            with lock:
                attempts.append((time.monotonic(), lane, attempt))

        d = Deliverer(box, urls, KEYS["lane"], backoff=Backoff(0.05, 2.0, 0.5, 0.2), timeout_s=5.0, on_attempt=seen)
        boxes.append(box)
        deliverers.append(d)
    try:
        for d in deliverers:
            threads.append(d.start(stop))

        def produce(box: Outbox, d: Deliverer, lane: str) -> None:
            for n in range(PER_LANE):
                box.put(f"{lane}/{lane}-{n:04d}", _body(lane, n))
                d.wake()
                time.sleep(0.01)

        producers = [
            threading.Thread(target=produce, args=(box, d, lane))
            for box, d, lane in zip(boxes, deliverers, LANES, strict=True)
        ]
        for p in producers:
            p.start()
        total = PER_LANE * len(LANES)
        wait_for(lambda: sum(stored().values()) >= total // 3, 120, "a third of the records stored")
        at_kill = sum(stored().values())
        killed_at = time.monotonic()
        a.kill()
        for p in producers:
            p.join(60)
        wait_for(lambda: all(box.counts()["delivered"] == PER_LANE for box in boxes), 180, "every record delivered")
        failover_s = min(
            (t - killed_at for t, _, x in attempts if t > killed_at and x.outcome == "delivered"), default=None
        )
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for d in deliverers:
            d.close()
    counts = [box.counts() for box in boxes]
    for box in boxes:
        box.close()
    assert counts == [{"pending": 0, "delivered": PER_LANE, "rejected": 0}] * len(LANES)
    assert stored() == dict.fromkeys(LANES, PER_LANE), "every record once, none twice"
    with engine.connect() as conn:
        occupants = conn.execute(text("SELECT COUNT(*) FROM occupants")).scalar_one()
        plates = conn.execute(text("SELECT COUNT(*) FROM crossings WHERE plate_key IS NOT NULL")).scalar_one()
    engine.dispose()
    assert occupants == PER_LANE * len(LANES) and plates == PER_LANE * len(LANES)
    assert b.proc is not None and b.proc.poll() is None, "the other replica served on"
    assert 0 < at_kill < total, "the kill came while records were being delivered"
    replays = sum(1 for _, _, x in attempts if x.status == 200)
    figures = {
        "backend": engine.dialect.name,
        "records": total,
        "stored_at_kill": at_kill,
        "failover_s": None if failover_s is None else round(failover_s, 3),
        "replays_200": replays,
        "retries": sum(1 for _, _, x in attempts if x.outcome == "retry"),
    }
    record_figures(request.node.name, request.node.user_properties, figures)


def test_the_booth_is_one_whichever_replica_a_lane_posts_to(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    lane, officer = {"X-API-Key": KEYS["lane"]}, {"X-API-Key": KEYS["officer"]}
    event = {"event": "occupant_captured", "passage_id": "P-9", "lane": "IN-4", "t_s": 2.0, "zone": "booth",
             "occupant": 1, "row": 1, "cameras": ["booth1"], "quality": 66.0}  # fmt: skip
    assert httpx.post(f"{a.url}/v1/lanes/IN-4/events", json={"events": [event]}, headers=lane).status_code == 200
    booth = httpx.get(f"{b.url}/v1/booth/IN-4", headers=officer).json()
    assert booth["passage_id"] == "P-9" and [s["occupant"] for s in booth["seats"]] == [1]
    given = httpx.post(f"{b.url}/v1/booth/IN-4/prompts", json={"message": "look_at_camera"}, headers=officer)
    assert given.status_code == 201
    missing = {**event, "event": "seat_missing", "t_s": 3.0, "seen_not_captured": [], "documents_unmatched": 0}
    answer = httpx.post(f"{a.url}/v1/lanes/IN-4/events", json={"events": [missing]}, headers=lane).json()
    assert [p["prompt_id"] for p in answer["prompts"]] == [given.json()["prompt_id"]]

    # concurrent posts of one lane to both replicas: every event applied, seq counts each post once
    def post(url: str, n: int) -> None:
        captured = {**event, "occupant": n, "t_s": 4.0 + n}
        assert httpx.post(f"{url}/v1/lanes/IN-4/events", json={"events": [captured]}, headers=lane).status_code == 200

    before = httpx.get(f"{a.url}/v1/booth/IN-4", headers=officer).json()["seq"]
    threads = [threading.Thread(target=post, args=(a.url if n % 2 else b.url, n)) for n in range(2, 22)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    after = httpx.get(f"{b.url}/v1/booth/IN-4", headers=officer).json()
    assert after["seq"] == before + 20 and [s["occupant"] for s in after["seats"]] == list(range(1, 22))


def test_one_gallery_whichever_replica_enrols(replicas: tuple[Replica, Replica], database_url: str) -> None:
    if not (SHARED / "models" / "sface").is_dir() or not PHOTO.is_file():
        pytest.skip(f"../shared not present at {SHARED}")
    from laneface.gallery.store import Gallery, GalleryConfig, list_galleries

    a, b = replicas
    admin = {"X-API-Key": KEYS["admin"]}
    photo = PHOTO.read_bytes()

    def enrol(replica: Replica, doc_id: str) -> None:
        files = {"photo": ("p.jpg", photo, "image/jpeg")}
        data = {"doc_id": doc_id, "doc_type": "passport", "citizenship": "USA"}
        r = httpx.post(f"{replica.url}/v1/gallery/documents", headers=admin, files=files, data=data, timeout=120)
        assert r.status_code == 201, r.text

    def size(replica: Replica) -> int:
        return int(httpx.get(f"{replica.url}/v1/gallery", headers=admin, timeout=60).json()["documents"])

    url = database_url if a.gallery_url == "records" else a.gallery_url
    enrol(a, "DOC-1")
    assert size(b) == 1
    enrol(b, "DOC-2")  # the same photo through the other replica: its duplicate check finds DOC-1
    assert size(a) == 2
    infos = list_galleries(Path("/nonexistent"), GalleryConfig(metadata_url=url))
    assert [(i.documents, i.duplicate_flags) for i in infos] == [(2, 1)]
    with Gallery.open(
        Path(a.directory) / "lane", infos[0].model_version, config=GalleryConfig(metadata_url=url)
    ) as lane:
        flags = lane.duplicate_flags("DOC-2")
        assert [(f.doc_id, f.other_doc_id) for f in flags] == [("DOC-2", "DOC-1")] and flags[0].score > 0.99
        probe = lane.template("DOC-1")
        assert {c.doc_id for c in lane.search(probe, 5)} == {"DOC-1", "DOC-2"}  # a lane's index takes in both
        assert httpx.delete(f"{b.url}/v1/gallery/documents/DOC-1", headers=admin).status_code == 204
        assert size(a) == 1
        assert [c.doc_id for c in lane.search(probe, 5)] == ["DOC-2"]
