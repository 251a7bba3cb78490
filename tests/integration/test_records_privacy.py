"""Retention and key rotation on SQLite and PostgreSQL, with a controllable clock: citizens' images are gone
12 hours after capture, others after their rule, opted-out never kept; `laneface purge --now` and
`laneface keys rotate` work from the command line."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from laneface.cli.records import keys_app, ledger_app, purge_command
from laneface.config import PrivacySettings, RecordsSettings, RetentionRule, ServiceSettings, Settings, load_settings
from laneface.errors import UnknownKeyError
from laneface.records.audit import SYSTEM, Actor, AuditFilter
from laneface.records.clock import ManualClock
from laneface.records.crypto import BlobCipher, generate_key, parse_key
from laneface.records.domain import CrossingFilter, OccupantSubmission, PassageSubmission
from laneface.records.service import RecordsService
from laneface.records.tables import BiometricBlob

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LANE = Actor("lane-key-1", "lane")
ADMIN = Actor("admin-key-1", "admin")
OFFICER = Actor("officer-key-1", "officer")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def _occupant(oid: str, doc: str | None) -> OccupantSubmission:
    return OccupantSubmission(
        occupant_id=oid,
        row=0,
        quality=80.0,
        quality_passed=True,
        decision="match" if doc else "no_match",
        doc_id=doc,
        score=0.9 if doc else 0.1,
        model_version="m@1",
        image_jpeg=_jpeg(),
        template=b"\x00\x00\x80?" * 8,
    )


def _passage(pid: str, *occupants: OccupantSubmission) -> PassageSubmission:
    return PassageSubmission(pid, "L1", "inbound", T0, len(occupants), True, occupants)


def _settings(database_url: str, tmp_path: Path, key: str, **privacy: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        records=RecordsSettings(database_url=database_url),
        privacy=PrivacySettings.model_validate({"encryption_key": key, "home_country": "UTO", **privacy}),
        service=ServiceSettings(),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def records(database_url: str, tmp_path: Path, clock: ManualClock, key: str) -> Iterator[RecordsService]:
    service = RecordsService.open(_settings(database_url, tmp_path, key), BlobCipher(parse_key(key)), clock)
    service.prepare_schema()
    for doc, citizenship in (("C1", "UTO"), ("F1", "FRA")):
        service.enroll_document(
            doc_id=doc, doc_type="passport", citizenship=citizenship, traveller_ref=None, opt_out=None, actor=ADMIN
        )
    service.submit_passage(
        _passage("p1", _occupant("citizen", "C1"), _occupant("foreigner", "F1"), _occupant("unknown", None)), LANE
    )
    yield service
    service.close()


def _remaining(records: RecordsService) -> dict[str, set[str]]:
    """occupant_id -> kinds of biometric blobs still stored."""
    (crossing,) = records.crossings(CrossingFilter())
    out: dict[str, set[str]] = {}
    for o in crossing.occupants:
        out[o.occupant_id] = {k for k, has in (("face_image", o.has_face_image), ("template", o.has_template)) if has}
    return out


def test_citizens_images_are_deleted_at_12_hours_others_at_30_days(records: RecordsService) -> None:
    both = {"face_image", "template"}
    report = records.purge(now=T0 + timedelta(hours=11, minutes=59, seconds=59))
    assert report.total == 0
    assert _remaining(records) == {"citizen": both, "foreigner": both, "unknown": both}
    report = records.purge(now=T0 + timedelta(hours=12))
    assert report.expired == {"face_image/citizen": 1, "template/citizen": 1}
    assert _remaining(records) == {"citizen": set(), "foreigner": both, "unknown": both}
    assert records.purge(now=T0 + timedelta(days=29, hours=23)).total == 0
    report = records.purge(now=T0 + timedelta(days=30))
    assert report.expired == {"face_image/*": 2, "template/*": 2}
    assert _remaining(records) == {"citizen": set(), "foreigner": set(), "unknown": set()}
    events = records.audit_events(AuditFilter(action="retention.purge"))
    assert [json.loads(e.details_json)["expired"] for e in events][1] == {
        "face_image/citizen": 1,
        "template/citizen": 1,
    }
    assert all(e.actor == SYSTEM.name for e in events)


def test_a_horizon_deletes_what_expires_before_the_next_run(records: RecordsService) -> None:
    records.purge(now=T0 + timedelta(hours=11, minutes=55), horizon=timedelta(minutes=5))
    assert _remaining(records)["citizen"] == set()


def test_administrator_rules_override_the_configuration(records: RecordsService) -> None:
    rules, source = records.set_retention_rules(
        [RetentionRule(kind="face_image", citizenship="FRA", max_age_hours=1)], ADMIN
    )
    assert source == "administrator" and len(rules) == 1
    records.purge(now=T0 + timedelta(hours=1))
    remaining = _remaining(records)
    assert remaining["foreigner"] == {"template"}  # no template rule any more: kept
    assert remaining["citizen"] == {"face_image", "template"}
    _, source = records.set_retention_rules(None, ADMIN)
    assert source == "configuration"
    assert [e.action for e in records.audit_events(AuditFilter(action="retention.update"))] == ["retention.update"] * 2


def test_opted_out_traveller_biometrics_are_purged_at_any_age(records: RecordsService) -> None:
    records.enroll_document(
        doc_id="F1", doc_type="passport", citizenship="FRA", traveller_ref=None, opt_out=True, actor=ADMIN
    )
    report = records.purge(now=T0)
    assert report.opted_out == 2
    assert _remaining(records)["foreigner"] == set()


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, data_dir: Path = typer.Option(...)) -> None:  # noqa: B008
        ctx.obj = load_settings(data_dir=data_dir)

    app.command("purge")(purge_command)
    app.add_typer(keys_app, name="keys")
    app.add_typer(ledger_app, name="ledger")
    return app


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, key: str) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("LANEFACE_") and name != "LANEFACE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LANEFACE_RECORDS__DATABASE_URL", database_url)
    monkeypatch.setenv("LANEFACE_PRIVACY__ENCRYPTION_KEY", key)
    monkeypatch.setenv("LANEFACE_PRIVACY__HOME_COUNTRY", "UTO")
    return monkeypatch


def test_purge_command_with_now(records: RecordsService, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runner, app = CliRunner(), _cli()
    base = ["--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*base, "purge", "--now", (T0 + timedelta(hours=11)).isoformat()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 0
    result = runner.invoke(app, [*base, "purge", "--now", "2026-05-01T20:00:00Z"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["expired"] == {"face_image/citizen": 1, "template/citizen": 1}
    assert _remaining(records)["citizen"] == set()
    result = runner.invoke(app, [*base, "purge", "--now", "2026-05-01T20:00:00"])
    assert result.exit_code != 0  # no offset: refused


def test_ledger_commands(records: RecordsService, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runner, app, base = CliRunner(), _cli(), ["--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*base, "ledger", "history", "F1"])
    assert result.exit_code == 0, result.output
    assert [e["movement"] for e in json.loads(result.output)["entries"]] == ["arrival"]
    result = runner.invoke(app, [*base, "ledger", "stays", "F1", "--at", "2026-09-01T00:00:00Z"])
    assert json.loads(result.output)["overstaying"] is True
    result = runner.invoke(
        app,
        [
            *base,
            "ledger",
            "stats",
            "--since",
            "2026-05-01T00:00:00Z",
            "--until",
            "2026-05-02T00:00:00Z",
            "--by",
            "citizenship",
        ],
    )
    assert {r["citizenship"]: r["confirmations"] for r in json.loads(result.output)} == {
        "FRA": 1,
        "UTO": 1,
        "unknown": 0,
    }


def test_key_rotation_re_encrypts_everything(
    records: RecordsService, env: pytest.MonkeyPatch, tmp_path: Path, database_url: str, key: str, clock: ManualClock
) -> None:
    runner, app, base = CliRunner(), _cli(), ["--data-dir", str(tmp_path)]
    new_file = tmp_path / "new.key"
    result = runner.invoke(app, [*base, "keys", "generate", "--out", str(new_file)])
    assert result.exit_code == 0, result.output
    assert oct(new_file.stat().st_mode & 0o777) == "0o600"
    assert runner.invoke(app, [*base, "keys", "generate", "--out", str(new_file)]).exit_code != 0  # never overwrites
    result = runner.invoke(app, [*base, "keys", "rotate", "--new-key-file", str(new_file)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["re_encrypted"] == 6 and report["remaining_other_keys"] == 0
    new_key = new_file.read_text().strip()
    with records.sessions() as s:
        assert s.scalars(select(BiometricBlob.key_id).distinct()).all() == [report["new_key_id"]]
    occupant_pk = records.crossings(CrossingFilter())[0].occupants[0].id
    # the new key alone reads everything; the old key alone reads nothing
    rotated = RecordsService.open(_settings(database_url, tmp_path, new_key), BlobCipher(parse_key(new_key)), clock)
    try:
        data, _ = rotated.read_face_image(occupant_pk, OFFICER)
        assert data == _jpeg()
    finally:
        rotated.close()
    with pytest.raises(UnknownKeyError):
        records.read_face_image(occupant_pk, OFFICER)
    (event,) = records.audit_events(AuditFilter(action="key.rotate"))
    assert json.loads(event.details_json)["re_encrypted"] == 6
    with records.sessions() as s:
        assert s.scalar(select(func.count()).select_from(BiometricBlob)) == 6
