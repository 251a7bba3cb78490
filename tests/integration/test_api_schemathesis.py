"""Schema-driven tests (schemathesis) on SQLite and PostgreSQL: for every operation, generated requests sent
with a valid key of a role the operation admits never get a 5xx; request bodies that break the schema (negative
data: wrong types, missing fields...) are refused with a 4xx, never stored.

Bounded: 15 examples per operation and generation mode (positive and negative), no per-example deadline (the
machine may be loaded) but a timeout per request and for the whole module.

The app runs in a real uvicorn server on a loopback port in a thread (one event loop for the app and its
lifespan); requests carry a timeout so a hung request fails the test instead of hanging the run.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from galleryfakes import InMemoryGallery
from hypothesis import HealthCheck, settings
from live_server import serve
from schemathesis.checks import negative_data_rejection, not_a_server_error

from laneface.api.app import create_app
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}
ROLE_OF_PREFIX = [
    ("/v1/passages", "lane"),
    ("/v1/lanes", "lane"),
    ("/v1/audit-events", "auditor"),
    ("/v1/gallery", "admin"),
    ("/v1/retention", "admin"),
    ("/v1/travellers/{traveller_ref}/opt-out", "admin"),
    ("/v1/", "officer"),
    ("/healthz", "officer"),
]


# negative data is checked on JSON request bodies only: query, path and form parameters arrive as text and keep
# pydantic's lax parsing (a date-time query parameter also takes a Unix time, a form boolean "1")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

pytestmark = pytest.mark.timeout(600)


def _role_for(path: str) -> str:
    return next(role for prefix, role in ROLE_OF_PREFIX if path.startswith(prefix))


@pytest.fixture(scope="module")
def api_schema(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    settings = Settings(
        data_dir=tmp,
        records=RecordsSettings(database_url=module_database_url),
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings(
            lane_keys=[KEYS["lane"]],
            officer_keys=[KEYS["officer"]],
            auditor_keys=[KEYS["auditor"]],
            admin_keys=["sha256:" + hashlib.sha256(KEYS["admin"].encode()).hexdigest()],
        ),
    )
    app = create_app(settings, gallery=InMemoryGallery(), run_scheduler=False)
    with serve(app) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


# the booth's server-sent events stream stays open for max_s seconds (up to an hour): tested in test_api_booth
@schema.exclude(path_regex=r"/stream$").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case: Any) -> None:
    key = KEYS[_role_for(case.path)]
    checks = [not_a_server_error]
    if case.method.upper() in BODY_METHODS and case.media_type == "application/json":
        checks.append(negative_data_rejection)
    case.call_and_validate(headers={"X-API-Key": key}, checks=checks, timeout=60)
