"""The records service on SQLite and PostgreSQL: idempotent passages, opt-out, ledger, reviews, stays,
statistics, audited biometric reads, encryption at rest."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.errors import (
    BiometricDataUnavailableError,
    IdempotencyConflictError,
    InputError,
    RecordNotFoundError,
    ReviewConflictError,
    UnknownKeyError,
)
from laneface.records.audit import Actor, AuditFilter
from laneface.records.clock import ManualClock
from laneface.records.crypto import BlobCipher, generate_key, parse_key
from laneface.records.domain import CrossingFilter, OccupantSubmission, PassageSubmission
from laneface.records.service import RecordsService
from laneface.records.tables import BiometricBlob, LedgerEntry

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LANE = Actor("lane-key-1", "lane")
OFFICER = Actor("officer-key-1", "officer")
ADMIN = Actor("admin-key-1", "admin")


def jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 64), (seed % 256, 90, 60)).save(buf, "JPEG")
    return buf.getvalue()


def occupant(
    oid: str,
    *,
    doc: str | None = None,
    decision: str = "match",
    image: bytes | None = None,
    template: bytes | None = None,
) -> OccupantSubmission:
    return OccupantSubmission(
        occupant_id=oid,
        row=0,
        quality=70.0,
        quality_passed=decision != "not_captured",
        decision=decision,  # type: ignore[arg-type]
        doc_id=doc,
        score=0.8 if doc else None,
        model_version="m@1",
        image_jpeg=image,
        template=template,
    )


def passage(
    pid: str, *occupants: OccupantSubmission, lane: str = "L1", direction: str = "inbound", at: datetime = T0
) -> PassageSubmission:
    return PassageSubmission(
        passage_id=pid,
        lane=lane,
        direction=direction,  # type: ignore[arg-type]
        started_at=at,
        occupant_count=len(occupants),
        complete_capture=True,
        occupants=occupants,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def key() -> str:
    return generate_key()


def open_service(database_url: str, tmp_path: Path, clock: ManualClock, key: str, **records: object) -> RecordsService:
    settings = Settings(
        data_dir=tmp_path,
        records=RecordsSettings.model_validate({"database_url": database_url, **records}),
        privacy=PrivacySettings(encryption_key=key, home_country="UTO"),
        service=ServiceSettings(),
    )
    service = RecordsService.open(settings, BlobCipher(parse_key(key)), clock)
    service.prepare_schema()
    return service


@pytest.fixture
def records(database_url: str, tmp_path: Path, clock: ManualClock, key: str) -> Iterator[RecordsService]:
    service = open_service(database_url, tmp_path, clock, key, admission_days={"visa": 10})
    yield service
    service.close()


def enrol(
    records: RecordsService,
    doc: str,
    citizenship: str,
    *,
    doc_type: str = "passport",
    opt_out: bool | None = None,
    ref: str | None = None,
) -> None:
    records.enroll_document(
        doc_id=doc, doc_type=doc_type, citizenship=citizenship, traveller_ref=ref, opt_out=opt_out, actor=ADMIN
    )


def blob_count(records: RecordsService) -> int:
    with records.sessions() as s:
        return s.scalar(select(func.count()).select_from(BiometricBlob)) or 0


def test_passage_post_is_idempotent(records: RecordsService) -> None:
    p = passage("p1", occupant("o1", doc="D1", image=jpeg()))
    first, created = records.submit_passage(p, LANE)
    again, created_again = records.submit_passage(p, LANE)
    assert created and not created_again
    assert again == first
    changed = passage("p1", occupant("o1", doc="D1", image=jpeg(1)))
    with pytest.raises(IdempotencyConflictError):
        records.submit_passage(changed, LANE)
    other_lane, created = records.submit_passage(passage("p1", occupant("o1"), lane="L2"), LANE)
    assert created and other_lane.crossing_id != first.crossing_id
    assert len(records.crossings(CrossingFilter())) == 2


def test_images_are_encrypted_at_rest(records: RecordsService) -> None:
    image, template = jpeg(), bytes(range(64))
    records.submit_passage(passage("p1", occupant("o1", doc="D1", image=image, template=template)), LANE)
    with records.sessions() as s:
        blobs = s.scalars(select(BiometricBlob)).all()
    assert {b.kind for b in blobs} == {"face_image", "template"}
    for b in blobs:
        assert image[:32] not in b.ciphertext and template[:16] not in b.ciphertext
        assert b.key_id == records.cipher.current_key_id


def test_invalid_images_are_refused_before_storage(records: RecordsService) -> None:
    for bad in (b"", b"GIF89a....", b"\xff\xd8\xff" + b"\x00" * 20):
        with pytest.raises(InputError):
            records.submit_passage(passage("p-bad", occupant("o1", image=bad, decision="no_match")), LANE)
    with pytest.raises(InputError):
        records.submit_passage(passage("p-bad", occupant("o1", template=b"abc", decision="no_match")), LANE)
    assert records.crossings(CrossingFilter()) == []


def test_opted_out_travellers_images_are_never_stored(records: RecordsService) -> None:
    enrol(records, "D-OUT", "FRA", opt_out=True)
    enrol(records, "D-IN", "FRA")
    receipt, _ = records.submit_passage(
        passage(
            "p1",
            occupant("o1", doc="D-OUT", image=jpeg(), template=b"\0" * 16),
            occupant("o2", doc="D-IN", image=jpeg(2)),
        ),
        LANE,
    )
    assert receipt.images_withheld == 1
    (crossing,) = records.crossings(CrossingFilter())
    o1, o2 = crossing.occupants
    assert (o1.withheld_reason, o1.has_face_image, o1.has_template) == ("opted_out", False, False)
    assert o2.has_face_image
    assert blob_count(records) == 1


def test_opting_out_later_deletes_stored_images(records: RecordsService) -> None:
    enrol(records, "D1", "FRA", ref="T1")
    records.submit_passage(passage("p1", occupant("o1", doc="D1", image=jpeg())), LANE)
    assert blob_count(records) == 1
    assert records.set_opt_out("T1", True, ADMIN) == 1
    assert blob_count(records) == 0
    with pytest.raises(RecordNotFoundError):
        records.set_opt_out("nobody", True, ADMIN)


def test_face_image_reads_are_audited(records: RecordsService) -> None:
    image = jpeg()
    records.submit_passage(
        passage("p1", occupant("o1", doc="D1", image=image), occupant("o2", decision="not_captured")), LANE
    )
    o1, o2 = records.crossings(CrossingFilter())[0].occupants
    assert records.read_face_image(o1.id, OFFICER) == (image, "image/jpeg")
    with pytest.raises(BiometricDataUnavailableError):
        records.read_face_image(o2.id, OFFICER)
    reads = records.audit_events(AuditFilter(action="biometric.read"))
    assert [(e.actor, e.role, e.object_id, e.outcome) for e in reads] == [
        ("officer-key-1", "officer", str(o1.id), "ok"),
        ("officer-key-1", "officer", str(o2.id), "unavailable"),
    ]


def test_matches_on_enrolled_documents_are_confirmed_movements(records: RecordsService, clock: ManualClock) -> None:
    enrol(records, "V1", "FRA", doc_type="visa", ref="T1")
    records.submit_passage(passage("in", occupant("o", doc="V1", image=jpeg())), LANE)
    records.submit_passage(
        passage("out", occupant("o", doc="V1"), direction="outbound", at=T0 + timedelta(days=11)), LANE
    )
    history = records.document_history("V1")
    assert [(e.movement, e.source) for e in history.entries] == [("arrival", "automatic"), ("departure", "automatic")]
    stays = records.traveller_stays("T1")
    (stay,) = stays.stays
    assert (stay.days, stay.allowed_days, stay.overstay_days) == (12, 10, 2)
    assert not stays.in_country and not stays.citizen
    with pytest.raises(RecordNotFoundError):
        records.document_history("nope")


def test_citizens_have_no_admission_limit(records: RecordsService) -> None:
    enrol(records, "C1", "UTO", ref="citizen-1")
    records.submit_passage(passage("in", occupant("o", doc="C1")), LANE)
    stays = records.traveller_stays("citizen-1", T0 + timedelta(days=400))
    assert stays.citizen and stays.in_country and not stays.overstaying
    assert stays.stays[0].allowed_days is None


def test_officer_reviews_write_the_ledger(records: RecordsService) -> None:
    enrol(records, "D1", "FRA")
    records.submit_passage(passage("p1", occupant("o1", doc="D1", decision="no_match")), LANE)
    (occ,) = records.crossings(CrossingFilter())[0].occupants
    assert records.document_history("D1").entries == ()
    review = records.review(occ.id, decision="confirmed", doc_id=None, note="looked at the photo", actor=OFFICER)
    assert (review.decision, review.doc_id, review.officer) == ("confirmed", "D1", "officer-key-1")
    (entry,) = records.document_history("D1").entries
    assert entry.source == "officer" and entry.movement == "arrival"
    records.review(occ.id, decision="rejected", doc_id=None, note=None, actor=OFFICER)
    assert records.document_history("D1").entries == ()
    with pytest.raises(ReviewConflictError):
        records.review(occ.id, decision="confirmed", doc_id="UNKNOWN", note=None, actor=OFFICER)
    with pytest.raises(RecordNotFoundError):
        records.review(999_999, decision="referred", doc_id=None, note=None, actor=OFFICER)
    (crossing,) = records.crossings(CrossingFilter())
    assert [r.decision for r in crossing.occupants[0].reviews] == ["confirmed", "rejected"]


def test_statistics(records: RecordsService) -> None:
    enrol(records, "F1", "FRA")
    enrol(records, "U1", "UTO", doc_type="id_card")
    records.submit_passage(passage("a", occupant("1", doc="F1"), occupant("2", decision="not_captured")), LANE)
    records.submit_passage(passage("b", occupant("1", doc="U1"), lane="L2", at=T0 + timedelta(hours=1)), LANE)
    records.submit_passage(
        passage("c", occupant("1", decision="no_match"), direction="outbound", at=T0 + timedelta(days=1)), LANE
    )
    records.submit_passage(passage("empty", at=T0 + timedelta(days=1)), LANE)
    window = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(days=2)}
    (total,) = records.stats(**window, group_by=[])
    assert (total.passages, total.occupants, total.captured, total.confirmations) == (4, 4, 3, 2)
    assert total.capture_rate == pytest.approx(0.75)
    by_day = {r.group["day"]: r for r in records.stats(**window, group_by=["day"])}
    assert {d: r.passages for d, r in by_day.items()} == {"2026-05-01": 2, "2026-05-02": 2}
    by_cit = {r.group["citizenship"]: r for r in records.stats(**window, group_by=["citizenship"])}
    assert {c: r.occupants for c, r in by_cit.items()} == {"FRA": 1, "UTO": 1, "unknown": 2}
    by_lane_dir = {tuple(r.group.values()): r.passages for r in records.stats(**window, group_by=["lane", "direction"])}
    assert by_lane_dir == {("L1", "inbound"): 2, ("L1", "outbound"): 1, ("L2", "inbound"): 1}
    by_type = {r.group["doc_type"]: r.confirmations for r in records.stats(**window, group_by=["doc_type"])}
    assert by_type == {"passport": 1, "id_card": 1, "unknown": 0}
    with pytest.raises(InputError):
        records.stats(since=T0, until=T0 - timedelta(days=1), group_by=["day"])


def test_key_mismatch_fails_to_read(
    records: RecordsService, database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    records.submit_passage(passage("p1", occupant("o1", doc="D1", image=jpeg())), LANE)
    (occ,) = records.crossings(CrossingFilter())[0].occupants
    other = open_service(database_url, tmp_path, clock, generate_key())
    try:
        with pytest.raises(UnknownKeyError):
            other.read_face_image(occ.id, OFFICER)
    finally:
        other.close()
    (attempt,) = records.audit_events(AuditFilter(action="biometric.read"))
    assert attempt.outcome == "error" and "UnknownKeyError" in attempt.details_json


def test_ledger_entry_is_unique_per_occupant(records: RecordsService) -> None:
    enrol(records, "D1", "FRA")
    records.submit_passage(passage("p1", occupant("o1", doc="D1")), LANE)
    (occ,) = records.crossings(CrossingFilter())[0].occupants
    records.review(occ.id, decision="confirmed", doc_id="D1", note=None, actor=OFFICER)
    with records.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_a_re_enrolment_without_a_photo_keeps_only_the_gallerys_own_image(records: RecordsService) -> None:
    """The stored document photo stays beside the gallery's template only while it is the very image the
    gallery enrolled (same sha256); a re-enrolment from another image without a photo removes it, as does
    an enrolment that opts the traveller out."""
    import hashlib

    from laneface.records.documents import EnrolledDocument

    def has_photo(doc: str) -> bool:
        return bool(records.document_history(doc).document.has_photo)

    first = jpeg(1)
    records.enroll_document(
        doc_id="D1",
        doc_type="passport",
        citizenship="FRA",
        traveller_ref=None,
        opt_out=None,
        actor=ADMIN,
        photo=first,
    )
    assert has_photo("D1")
    same = EnrolledDocument("D1", "passport", "FRA", image_sha256=hashlib.sha256(first).hexdigest())
    assert records.record_enrolment(same, actor=ADMIN).has_photo  # a rerun over the same image keeps it
    assert has_photo("D1")
    other = EnrolledDocument("D1", "passport", "FRA", image_sha256=hashlib.sha256(jpeg(200)).hexdigest())
    assert not records.record_enrolment(other, actor=ADMIN).has_photo  # re-enrolled from another image
    assert not has_photo("D1")
    records.enroll_document(
        doc_id="D1",
        doc_type="passport",
        citizenship="FRA",
        traveller_ref=None,
        opt_out=None,
        actor=ADMIN,
        photo=first,
    )
    records.enroll_document(  # no image digest at all: the stored photo cannot be shown to be the gallery's
        doc_id="D1", doc_type="passport", citizenship="FRA", traveller_ref=None, opt_out=None, actor=ADMIN
    )
    assert not has_photo("D1")
    records.enroll_document(
        doc_id="D1",
        doc_type="passport",
        citizenship="FRA",
        traveller_ref=None,
        opt_out=None,
        actor=ADMIN,
        photo=first,
    )
    view = records.enroll_document(
        doc_id="D1",
        doc_type="passport",
        citizenship="FRA",
        traveller_ref=None,
        opt_out=True,
        actor=ADMIN,
        photo=first,
    )
    assert not view.has_photo and not has_photo("D1")
