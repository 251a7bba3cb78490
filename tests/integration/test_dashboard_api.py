"""The officer dashboard's endpoints on SQLite and PostgreSQL: the review queue, capture by seat row, review
statistics with false-match reviews; and the dashboard files themselves (security headers, no schema entry)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from dashboard_seed import HEADERS, enrol, face_jpeg, occupant, passage, post_passage, review, service_settings
from fastapi.testclient import TestClient
from galleryfakes import InMemoryGallery

from laneface.api.app import create_app
from laneface.dashboard import CONTENT_SECURITY_POLICY
from laneface.records.clock import ManualClock

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
OFFICER, AUDITOR, LANE = HEADERS["officer"], HEADERS["auditor"], HEADERS["lane"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def client(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(
        service_settings(tmp_path, database_url),
        gallery=InMemoryGallery(),
        clock=clock,
        run_scheduler=False,
    )
    with TestClient(app) as c:
        yield c


def _pks(client: TestClient, crossing_id: int) -> dict[str, int]:
    crossing = client.get(f"/v1/crossings/{crossing_id}", headers=OFFICER).json()
    return {o["occupant_id"]: o["id"] for o in crossing["occupants"]}


def _queue(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/review-queue", headers=OFFICER, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_review_queue_lists_unreviewed_no_match_and_not_captured(client: TestClient) -> None:
    first = post_passage(
        client,
        passage(
            "p1",
            "L1",
            T0,
            [
                occupant("o1", 1, "match", doc="D1", score=0.8, image=face_jpeg(1)),
                occupant("o2", 2, "no_match", doc="D2", score=0.31, image=face_jpeg(2)),
                occupant("o3", 3, "not_captured", quality=12.0),
            ],
        ),
    )
    post_passage(
        client, passage("p2", "L2", T0 + timedelta(minutes=5), [occupant("o1", 1, "no_match", image=face_jpeg(3))])
    )
    queue = _queue(client)
    items = queue["items"]
    assert queue["total"] == 3
    assert [(i["passage_id"], i["occupant_id"]) for i in items] == [("p2", "o1"), ("p1", "o2"), ("p1", "o3")]
    p1_o2, p1_o3 = items[1], items[2]
    assert (p1_o2["decision"], p1_o2["doc_id"], p1_o2["score"], p1_o2["has_face_image"]) == (
        "no_match",
        "D2",
        0.31,
        True,
    )
    assert (p1_o3["decision"], p1_o3["has_face_image"], p1_o3["row"], p1_o3["lane"]) == ("not_captured", False, 3, "L1")
    assert p1_o2["crossing_id"] == first["crossing_id"]

    assert _queue(client, lane="L1")["total"] == 2
    assert _queue(client, decision="not_captured")["total"] == 1
    assert _queue(client, decision=["no_match", "not_captured"], lane="L2")["total"] == 1
    page = _queue(client, limit=1, offset=1)
    assert page["total"] == 3 and [i["occupant_id"] for i in page["items"]] == ["o2"]

    review(client, _pks(client, first["crossing_id"])["o2"], "referred")
    assert _queue(client)["total"] == 2
    assert all(i["occupant_id"] != "o2" or i["passage_id"] != "p1" for i in _queue(client)["items"])


def test_review_queue_is_for_officers(client: TestClient) -> None:
    assert client.get("/v1/review-queue").status_code == 401
    assert client.get("/v1/review-queue", headers={"X-API-Key": "x" * 40}).status_code == 401
    assert client.get("/v1/review-queue", headers=LANE).status_code == 403
    assert client.get("/v1/review-queue", headers=AUDITOR).status_code == 403
    assert client.get("/v1/review-queue", headers=OFFICER, params={"decision": "match"}).status_code == 422
    assert client.get("/v1/review-queue", headers=OFFICER, params={"lane": "bad lane"}).status_code == 422


def test_capture_by_row_per_day(client: TestClient) -> None:
    day2 = T0 + timedelta(days=1)
    post_passage(
        client,
        passage(
            "a",
            "L1",
            T0,
            [occupant("o1", 1, "match", doc="D1"), occupant("o2", 2, "not_captured"), occupant("o3", None, "no_match")],
        ),
    )
    post_passage(client, passage("b", "L2", T0 + timedelta(hours=3), [occupant("o1", 1, "not_captured")]))
    post_passage(
        client, passage("c", "L1", day2, [occupant("o1", 2, "no_match"), occupant("o2", 2, "match", doc="D9")])
    )
    post_passage(client, passage("old", "L1", T0 - timedelta(days=40), [occupant("o1", 1, "match", doc="D1")]))

    r = client.get(
        "/v1/stats/capture-by-row", headers=AUDITOR, params={"until": (day2 + timedelta(days=1)).isoformat()}
    )
    assert r.status_code == 200, r.text
    rows = [(x["day"], x["row"], x["occupants"], x["captured"], x["capture_rate"]) for x in r.json()["rows"]]
    assert rows == [
        ("2026-05-01", 1, 2, 1, 0.5),
        ("2026-05-01", 2, 1, 0, 0.0),
        ("2026-05-01", None, 1, 1, 1.0),
        ("2026-05-02", 2, 2, 2, 1.0),
    ]
    since = datetime(2026, 5, 2, tzinfo=UTC).isoformat()
    r = client.get(
        "/v1/stats/capture-by-row", headers=OFFICER, params={"since": since, "until": "2026-05-03T00:00:00Z"}
    )
    assert [x["day"] for x in r.json()["rows"]] == ["2026-05-02"]


@pytest.mark.parametrize("path", ["/v1/stats/capture-by-row", "/v1/stats/reviews"])
def test_stats_windows_are_checked(client: TestClient, path: str) -> None:
    empty = {"since": "2026-05-02T00:00:00Z", "until": "2026-05-01T00:00:00Z"}
    assert client.get(path, headers=OFFICER, params=empty).status_code == 422
    wide = {"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    r = client.get(path, headers=OFFICER, params=wide)
    assert r.status_code == 422 and "366" in r.json()["message"]
    assert client.get(path, headers=OFFICER, params={"since": "2026-05-01T00:00:00"}).status_code == 422  # naive
    assert client.get(path, headers=LANE).status_code == 403
    assert client.get(path, headers=HEADERS["admin"]).status_code == 200


def test_review_stats_count_false_match_reviews(client: TestClient, clock: ManualClock) -> None:
    for doc, ref in (("D1", "T1"), ("D2", "T2"), ("D3", "T3")):
        enrol(client, doc, "FRA", ref)
    crossing = post_passage(
        client,
        passage(
            "p1",
            "L1",
            T0,
            [
                occupant("m1", 1, "match", doc="D1", score=0.7),
                occupant("m2", 1, "match", doc="D2", score=0.6),
                occupant("m3", 2, "match", doc="D3", score=0.55),
                occupant("n1", 2, "no_match", doc="D1", score=0.2),
            ],
        ),
    )["crossing_id"]
    pk = _pks(client, crossing)
    clock.set(T0 + timedelta(hours=1))
    review(client, pk["m1"], "rejected")  # overturns the match
    review(client, pk["m2"], "confirmed")  # agrees with the lane
    review(client, pk["n1"], "confirmed", "D1")  # confirms a no_match: not a false match
    clock.set(T0 + timedelta(days=1, hours=2))
    review(client, pk["m3"], "confirmed", "D2")  # another document than the lane's: overturns
    review(client, pk["m2"], "referred")  # referral overturns nothing

    r = client.get("/v1/stats/reviews", headers=OFFICER, params={"until": "2026-05-03T00:00:00Z"})
    assert r.status_code == 200, r.text
    days = {d["day"]: d for d in r.json()["days"]}
    assert days["2026-05-01"] == {
        "day": "2026-05-01",
        "reviews": 3,
        "confirmed": 2,
        "rejected": 1,
        "referred": 0,
        "match_reviews": 2,
        "false_match_reviews": 1,
    }
    second = days["2026-05-02"]
    assert (second["reviews"], second["referred"], second["match_reviews"], second["false_match_reviews"]) == (
        2,
        1,
        2,
        1,
    )
    assert list(days) == ["2026-05-01", "2026-05-02"]
    # the overturned match no longer confirms a movement; the confirmed one does (per-day confirmations)
    stats = client.get(
        "/v1/stats", headers=OFFICER, params={"since": "2026-05-01T00:00:00Z", "until": "2026-05-02T00:00:00Z"}
    )
    assert stats.json()["rows"][0]["confirmations"] == 3  # m2 (auto), m3 (officer, D2), n1 (officer)


def test_dashboard_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"].endswith("/dashboard/")
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    for src in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        asset = client.get(f"/dashboard/{src}")
        assert asset.status_code == 200, src
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    js = client.get("/dashboard/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    for name in ("missing.js", "..%2Frecords.db", "%2e%2e", "routes.py", "__init__.py"):
        assert client.get(f"/dashboard/{name}").status_code == 404, name
    assert client.get("/dashboard/static/app.js").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]
    assert {"/v1/review-queue", "/v1/stats/capture-by-row", "/v1/stats/reviews"} <= set(paths)


def test_dashboard_scripts_never_write_html() -> None:
    static = files("laneface.dashboard").joinpath("static")
    scripts = [p for p in static.iterdir() if p.name.endswith(".js")]
    assert len(scripts) >= 5
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*[\"'`]"
    )
    for script in scripts:
        assert not forbidden.search(script.read_text(encoding="utf-8")), script.name
    html = static.joinpath("index.html").read_text(encoding="utf-8")
    assert "<script>" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
