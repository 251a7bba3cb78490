"""Store-and-forward between a lane process and the central service, both real processes: ``laneface serve``
(SQLite records database) and the lane runner of ``laneface lane`` (``edge_lane_proc.py``: synthetic camera
and processor, everything else real). Proven here, counting in the service's database:

- ``kill -9`` of the lane process, several times while it delivers a backlog: no record lost, none twice;
- the lane killed after the service stored a record but before the lane marked it delivered: the replay is
  answered 200 (idempotent), not stored again;
- an outage of the service (process killed) for ``LANEFACE_TEST_OUTAGE_S`` seconds (default 60) while the
  lane keeps producing, with a ``kill -9`` of the lane in the middle of it: everything arrives once after.

Figures (records sent, stored, duplicates, replays, outage and recovery times) are attached to the test
report (``user_properties``) and appended as JSON lines to ``$LANEFACE_EDGE_FIGURES`` when it is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serveproc import ServeProcess, clean_env, record_figures, wait_for

from laneface.edge.outbox import Outbox, read_summary
from laneface.records.crypto import generate_key

HERE = Path(__file__).resolve().parent
LANE_PROC = HERE / "edge_lane_proc.py"
KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}
OUTAGE_S = float(os.environ.get("LANEFACE_TEST_OUTAGE_S", "60"))
LANE = "L7"

pytestmark = pytest.mark.timeout(900)


class Central(ServeProcess):
    """The service on a SQLite database of its data directory."""

    def __init__(self, directory: Path) -> None:
        self.db = directory / "records.db"
        env = {
            "LANEFACE_RECORDS__DATABASE_URL": f"sqlite:///{self.db}",
            "LANEFACE_PRIVACY__ENCRYPTION_KEY": generate_key(),
        }
        super().__init__(directory, KEYS, env)

    def passages(self) -> list[str]:
        """passage_id of every crossing of the lane (read-only, straight from the database)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return [r[0] for r in conn.execute("SELECT passage_id FROM crossings WHERE lane = ?", (LANE,))]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        finally:
            conn.close()

    def occupants(self) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM occupants").fetchone()[0])
        finally:
            conn.close()


class LaneProcess:
    """The lane process: triggers on stdin, events read from stdout in a thread."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acked: set[str] = set()
        self.stored: set[str] = set()
        self.replays = 0
        self.lock = threading.Lock()

    def start(self, *args: str) -> None:
        env = clean_env() | {"LANE7_KEY": KEYS["lane"]}
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(LANE_PROC), str(self.config), *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                bufsize=1,
            )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        ready = self.next_event("ready", 60)
        assert ready["lane"] == LANE

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            with self.lock:
                if event["event"] in ("spooled", "duplicate"):
                    self.acked.add(event["passage_id"])
                elif event["event"] == "stored":
                    self.stored.add(event["passage_id"])
                elif event["event"] == "delivered" and event["status"] == 200:
                    self.replays += 1
            self.events.put(event)

    def acked_now(self) -> set[str]:
        with self.lock:
            return set(self.acked)

    def stored_now(self) -> set[str]:
        with self.lock:
            return set(self.stored)

    def next_event(self, kind: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} event from the lane within {timeout_s} s")
            with contextlib.suppress(queue.Empty):
                event = self.events.get(timeout=left)
                if event["event"] == kind:
                    return event

    def send(self, passage_ids: list[str]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        for pid in passage_ids:
            self.proc.stdin.write(json.dumps({"passage_id": pid, "documents": []}) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL
        self.proc = None

    def wait_exit(self, timeout_s: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout_s)
        self.proc = None
        return code

    def close(self) -> int:
        """Close stdin: the lane drains and exits."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        return self.wait_exit(60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def _lane_toml(tmp: Path, url: str, *, backoff_max_s: float = 2.0) -> Path:
    path = tmp / "lane.toml"
    path.write_text(
        f"""
lane = "{LANE}"
direction = "inbound"
outbox = "state/outbox.db"
spool_dir = "state/spool"

[service]
url = "{url}"
api_key_env = "LANE7_KEY"
timeout_s = 5

[delivery]
backoff_initial_s = 0.2
backoff_max_s = {backoff_max_s}
drain_s = 30

[[camera]]
name = "front"
url = "rtsp://synthetic.invalid/front"
fps = 10
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    c = Central(tmp_path / "central")
    yield c
    c.kill()


@pytest.fixture
def lane(tmp_path: Path, central: Central) -> Iterator[LaneProcess]:
    directory = tmp_path / "lane"
    directory.mkdir()
    lp = LaneProcess(_lane_toml(directory, central.url), tmp_path / "lane.log")
    yield lp
    lp.stop()


def _ids(n: int, prefix: str = "P") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


def _record(request: pytest.FixtureRequest, figures: dict[str, object]) -> None:
    record_figures(request.node.name, request.node.user_properties, figures)


def _outbox_of(lane: LaneProcess) -> Path:
    return lane.config.parent / "state" / "outbox.db"


def _check_exactly_once(central: Central, expected: list[str]) -> dict[str, int]:
    stored = central.passages()
    duplicates = len(stored) - len(set(stored))
    assert duplicates == 0
    assert sorted(stored) == sorted(expected), f"missing {sorted(set(expected) - set(stored))[:10]}"
    assert central.occupants() == len(expected)  # one occupant per synthetic record, none stored twice
    return {"stored": len(stored), "duplicates": duplicates}


def test_kill_9_mid_delivery_loses_and_duplicates_nothing(
    central: Central, lane: LaneProcess, request: pytest.FixtureRequest
) -> None:
    n = 200
    central.start()
    lane.start()
    expected = _ids(n)
    lane.send(expected)
    kills = []
    for share in (0.15, 0.4, 0.65, 0.85):
        wait_for(
            lambda s=share: (
                (len(central.passages()) >= s * n and read_summary(_outbox_of(lane)).counts["pending"] > 0)
                or len(central.passages()) >= n
            ),
            120,
            f"{share:.0%} of the records at the service and some pending at the lane",
            poll_s=0.01,
        )
        lane.kill()
        at_service = set(central.passages())
        with Outbox(_outbox_of(lane)) as box:  # the lane is dead: its outbox can be opened
            counts = box.counts()
            in_doubt = [r.key for r in box.records("pending") if r.key.split("/", 1)[1] in at_service]
        # in doubt: stored by the service, still pending at the lane (killed between the answer and the mark)
        spooled = sum(1 for p in (_outbox_of(lane).parent / "spool").iterdir() if p.name[:1].isdigit())
        kills.append({"service": len(at_service), "outbox": counts, "in_doubt": len(in_doubt), "spooled": spooled})
        lane.start()
        acked = lane.acked_now()
        # triggers never acknowledged (lost in the pipe), and a few acknowledged ones again (duplicates)
        lane.send([pid for pid in expected if pid not in acked] + expected[:3])
    wait_for(lambda: len(central.passages()) >= n, 120, "every record at the service")
    wait_for(lambda: read_summary(_outbox_of(lane)).counts["delivered"] == n, 60, "the outbox to mark all delivered")
    assert lane.close() == 0
    result = _check_exactly_once(central, expected)
    summary = read_summary(_outbox_of(lane))
    assert summary.counts == {"pending": 0, "delivered": n, "rejected": 0}
    # the kills land while records are being delivered (a share could in theory finish before the poll sees it)
    assert sum(k["outbox"]["pending"] > 0 for k in kills) >= 3, kills
    assert lane.replays >= sum(k["in_doubt"] for k in kills)  # every record in doubt was answered 200
    _record(request, {"sent": n, **result, "kills": len(kills), "replays_200": lane.replays, "at_kills": kills})


def test_lane_killed_after_the_service_stored_before_marking_delivered(
    central: Central, lane: LaneProcess, request: pytest.FixtureRequest
) -> None:
    central.start()
    lane.start("--die-after-responses", "5")
    expected = _ids(10, "R")
    lane.send(expected)
    assert lane.wait_exit(60) == -signal.SIGKILL
    assert len(central.passages()) == 5  # deliveries are sequential: it died right after the 5th answer
    with Outbox(_outbox_of(lane)) as box:
        assert box.counts()["delivered"] == 4
        in_doubt = [r for r in box.records("pending") if r.key.split("/", 1)[1] in central.passages()]
    assert len(in_doubt) == 1  # stored by the service, pending at the lane
    key = in_doubt[0].key
    lane.start()
    acked = lane.acked_now()
    lane.send([pid for pid in expected if pid not in acked])
    wait_for(lambda: read_summary(_outbox_of(lane)).counts["delivered"] == 10, 60, "all delivered")
    assert lane.close() == 0
    with Outbox(_outbox_of(lane)) as box:
        record = box.get(key)
    assert record is not None and record.state == "delivered" and record.last_status == 200  # replay, not new
    result = _check_exactly_once(central, expected)
    _record(request, {"sent": 10, **result, "in_doubt_key": key, "replay_status": record.last_status})


def test_service_outage_loses_and_duplicates_nothing(
    central: Central, lane: LaneProcess, request: pytest.FixtureRequest
) -> None:
    central.start()
    lane.start()
    before = _ids(20, "A")
    lane.send(before)
    wait_for(lambda: len(central.passages()) == 20, 60, "the first records")
    central.kill()
    outage_start = time.monotonic()
    during = _ids(60, "B")
    lane_killed = False
    for i, pid in enumerate(during):  # the lane keeps producing through the outage
        lane.send([pid])
        if not lane_killed and i == len(during) // 2:
            wait_for(lambda n=20 + i: len(lane.stored_now()) >= n, 30, "records stored before the kill")
            lane.kill()  # and dies in the middle of it: the outbox keeps what it holds
            lane.start()
            acked = lane.acked_now()
            lane.send([p for p in during[: i + 1] if p not in acked])
            lane_killed = True
        time.sleep(max(0.0, outage_start + OUTAGE_S * (i + 1) / (len(during) + 1) - time.monotonic()))
    wait_for(lambda: {*before, *during} <= lane.acked_now(), 30, "every trigger acknowledged")
    wait_for(lambda: read_summary(_outbox_of(lane)).counts["pending"] >= 60, 30, "the outbox to hold the backlog")
    time.sleep(max(0.0, outage_start + OUTAGE_S - time.monotonic()))
    assert len(central.passages()) == 20
    summary_in_outage = read_summary(_outbox_of(lane))
    outage_s = time.monotonic() - outage_start
    central.start()
    recovery_s = wait_for(
        lambda: read_summary(_outbox_of(lane)).counts["delivered"] == 80, 120, "delivery after the outage"
    )
    assert lane.close() == 0
    result = _check_exactly_once(central, before + during)
    assert read_summary(_outbox_of(lane)).counts == {"pending": 0, "delivered": 80, "rejected": 0}
    _record(
        request,
        {
            "sent": 80,
            **result,
            "outage_s": round(outage_s, 1),
            "pending_during_outage": summary_in_outage.counts["pending"],
            "oldest_pending_age_s": summary_in_outage.oldest_pending_age_s,
            "recovery_s": round(recovery_s, 1),
            "lane_killed_during_outage": lane_killed,
        },
    )
