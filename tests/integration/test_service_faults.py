"""Faults under load: simulated lanes keep posting while the database and the service process are restarted.

The service runs as in production (``laneface serve`` in its own process, :class:`ServiceProcess`); the lanes are
the ones of ``laneface bench service``, each retrying an unacknowledged post with the same body. Afterwards every
acknowledged passage is in the database exactly once, the service is healthy again, and the lanes saw only
retryable failures (503 from the service, refused or cut connections), never a 500.

PostgreSQL: the test starts its own throwaway cluster (``initdb``/``pg_ctl``) so that it can take it down
(``pg_ctl stop -m immediate``, as in a crash: open connections die mid-transaction) and bring it back. Without
PostgreSQL binaries the test is skipped, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pgcluster import PgCluster, pg_bin_dir

from laneface.evaluation.bench_service import ServiceCredentials, ServiceProcess, check_store
from laneface.evaluation.service_load import LaneLoad, LoadResult, PassageMaker, run_lanes

pytestmark = pytest.mark.timeout(300)

RETRYABLE = {"http_503", "connect", "disconnect", "timeout"}
INTERNALS = ("traceback", "psycopg", "sqlalchemy", "sqlite", "postgres", "operationalerror", "password")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        if _ci():
            pytest.fail("CI is set but no PostgreSQL binaries (initdb, pg_ctl) were found")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    cluster = PgCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


class Lanes:
    """``run_lanes`` in a background thread."""

    def __init__(self, service: ServiceProcess, load: LaneLoad) -> None:
        self.result: LoadResult | None = None
        self.thread = threading.Thread(target=self._run, args=(service, load), daemon=True)
        self.thread.start()

    def _run(self, service: ServiceProcess, load: LaneLoad) -> None:
        self.result = run_lanes(service.base_url, service.credentials.lane_keys, load)

    def join(self) -> LoadResult:
        self.thread.join(timeout=180)
        assert self.result is not None, "the lanes did not finish"
        return self.result


def _load(seconds: float) -> LaneLoad:
    return LaneLoad(
        lanes=4,
        duration_s=seconds,
        rate_per_lane_hz=4.0,
        max_occupants=4,
        timeout_s=5.0,
        backoff_initial_s=0.05,
        backoff_max_s=1.0,
        drain_s=60.0,
        seed=7,
    )


def _post_one(service: ServiceProcess, seq: int) -> httpx.Response:
    maker = PassageMaker(1, max_occupants=2, run_id=f"probe{seq}")
    _, body, _, _ = maker.body("PROBE", seq, random.Random(seq))
    headers = {"X-API-Key": service.credentials.lane_keys[0], "Content-Type": "application/json"}
    return httpx.post(f"{service.base_url}/v1/passages", content=body, headers=headers, timeout=30)


def _assert_only_retryable(result: LoadResult) -> None:
    unexpected = {kind: n for kind, n in result.errors.items() if kind not in RETRYABLE}
    assert not unexpected, f"non-retryable failures {unexpected}: {result.error_samples}"
    for text in result.error_samples.get("http_503", ()):
        body = json.loads(text)
        assert body["error"] in ("database_unavailable", "unavailable"), text
        assert not any(word in text.lower() for word in INTERNALS), text
    assert result.unacknowledged == 0
    assert result.given_up == 0


def _assert_stored_once(url: str, result: LoadResult) -> None:
    check = check_store(url, result)
    assert check.acknowledged > 20
    assert check.lost == 0, check
    assert check.duplicates == 0, check
    assert check.mismatched == 0, check


def test_postgres_and_service_restart_under_load(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database("laneface_fault")
    service = ServiceProcess(tmp_path / "service", ServiceCredentials.generate(4), database_url=url)
    service.start()
    try:
        lanes = Lanes(service, _load(20.0))
        time.sleep(3.0)
        pg_cluster.stop("immediate")  # crash-like: open connections die, some mid-transaction
        time.sleep(2.0)
        down = _post_one(service, 1)
        assert down.status_code == 503, down.text
        assert down.json()["error"] == "database_unavailable"
        assert not any(word in down.text.lower() for word in INTERNALS), down.text
        pg_cluster.start()
        pg_cluster.wait_ready()
        time.sleep(3.0)
        service.kill()  # crash of the service process, requests in flight
        time.sleep(1.0)
        service.start()
        result = lanes.join()
        assert service.healthy()
        assert _post_one(service, 2).status_code == 201  # the database is back for the service too
    finally:
        service.stop()
    _assert_only_retryable(result)
    assert result.errors.get("http_503", 0) > 0, "the database outage was not seen by the lanes"
    assert result.errors.get("connect", 0) + result.errors.get("disconnect", 0) > 0
    _assert_stored_once(url, result)


def test_sqlite_service_restart_under_load(tmp_path: Path) -> None:
    data = tmp_path / "service"
    service = ServiceProcess(data, ServiceCredentials.generate(4))
    service.start()
    try:
        lanes = Lanes(service, _load(12.0))
        for _ in range(2):
            time.sleep(3.0)
            service.kill()
            time.sleep(0.5)
            service.start()
        result = lanes.join()
        assert service.healthy()
    finally:
        service.stop()
    _assert_only_retryable(result)
    assert result.errors.get("connect", 0) + result.errors.get("disconnect", 0) > 0
    _assert_stored_once(f"sqlite:///{data / 'records.db'}", result)
