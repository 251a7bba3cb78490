"""Enrolment with fakes: FTE recorded with its reason, re-enrolment replaces, duplicates flagged, resume
without duplicates, bad manifests, several faces."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from laneface.alignment import template
from laneface.embedding.base import template_crops
from laneface.errors import GalleryError, ManifestError
from laneface.gallery.enrol import (
    Enroller,
    EnrolOptions,
    RowOutcome,
    commonest_flags,
    commonest_reasons,
    holder_face,
)
from laneface.gallery.manifest import ManifestRow, read_manifest
from laneface.gallery.metadata import SCHEMA_VERSION
from laneface.gallery.store import Gallery, GalleryConfig
from laneface.quality.base import QualityReport
from laneface.quality.template import QUALITY_128
from laneface.types import FaceDetections, TemplateBatch

MODEL = "fake-embedder@v1"
MAGENTA = (255, 0, 255)
CYAN = (0, 255, 255)


class FakeDetector:
    """No face in a black image; two faces (one small) when the top-left pixel is magenta, two of similar
    size side by side when it is cyan; else one."""

    name = "fake-detector"

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        if image_rgb.max() == 0:
            return FaceDetections.empty(self.name)
        big = QUALITY_128.as_array().astype(np.float32) + 36  # face centred in a 200x200 image
        boxes = [[40, 40, 160, 160]]
        lms = [big]
        if tuple(image_rgb[0, 0]) == MAGENTA:
            small = (QUALITY_128.as_array() * 0.3 + 5).astype(np.float32)
            boxes.insert(0, [0, 0, 40, 40])  # the small one first: the largest must be chosen
            lms.insert(0, small)
        if tuple(image_rgb[0, 0]) == CYAN:  # two of a similar size, equally off-centre
            boxes = [[0, 50, 100, 150], [100, 50, 190, 140]]
            lms = [big - 50, big + 50]
        n = len(boxes)
        return FaceDetections(np.array(boxes, np.float32), np.stack(lms), np.full(n, 0.9, np.float32), self.name)


class FakeEmbedder:
    """Template from the crop's mean colour: same colour -> same template."""

    name = "fake-embedder"
    model_version = MODEL
    alignment = template("arcface_112")

    def crops(self, image_rgb: np.ndarray, detections: FaceDetections) -> list[np.ndarray]:
        return template_crops(image_rgb, detections, self.alignment)

    def embed(self, crops_rgb: Sequence[np.ndarray]) -> TemplateBatch:
        vecs = []
        for c in crops_rgb:
            r, g, b = c[40:70, 40:70].reshape(-1, 3).mean(axis=0) / 255.0
            v = np.array([r, g, b, 1 - r, 1 - g, 1 - b, 0.3, 0.3], np.float32)
            vecs.append(v / np.linalg.norm(v))
        return TemplateBatch(np.array(vecs, np.float32).reshape(-1, 8), MODEL)


class FakeQuality:
    """Fails a face when the image is dark (mean < 40)."""

    def __init__(self) -> None:
        self.calls = 0

    def assess(self, image_rgb: np.ndarray, detections: FaceDetections) -> list[QualityReport]:
        self.calls += 1
        dark = float(image_rgb[40:160, 40:160].mean()) < 40
        failed = ("exposure >= 40 (got 20)",) if dark else ()
        return [QualityReport({}, 60.0, "document", not dark, failed) for _ in range(len(detections))]


def _image(
    path: Path, colour: tuple[int, int, int], marker: bool = False, marker_colour: tuple[int, int, int] = MAGENTA
) -> str:
    a = np.zeros((200, 200, 3), np.uint8)
    a[:] = colour
    if marker:
        a[0, 0] = marker_colour
    Image.fromarray(a).save(path)
    return path.name


def _manifest(
    path: Path, rows: list[tuple[str, str]], header: str = "doc_id,image,doc_type,citizenship,expiry"
) -> Path:
    lines = [header] + [f"{d},{img},P,XYZ,2031-01-01" for d, img in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    g = Gallery.open(tmp_path / "data", MODEL, config=GalleryConfig(backend="faiss"))
    yield g
    g.close()


def _enroller(gallery: Gallery, quality: FakeQuality | None = None, **opts: object) -> Enroller:
    options = EnrolOptions(duplicate_threshold=0.999, **opts)  # type: ignore[arg-type]
    return Enroller(gallery, FakeDetector(), FakeEmbedder(), quality if quality is not None else FakeQuality(), options)


def test_enrols_every_good_row_and_records_each_failure_with_its_reason(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    rows = [
        ("A1", _image(d / "a.png", (200, 120, 90))),
        ("B2", _image(d / "b.png", (0, 0, 0))),  # no face
        ("C3", _image(d / "c.png", (25, 25, 25))),  # dark: enrolled, with a quality flag
        ("D4", "missing.png"),
        ("E5", "corrupt.jpg"),
        ("F6", _image(d / "f.png", (90, 200, 120))),
    ]
    report = _enroller(gallery).enrol_manifest(_manifest(d / "m.csv", rows))
    assert (report.rows, report.enrolled, report.failed, report.invalid, report.flagged) == (6, 3, 3, 0, 1)
    assert len(gallery) == 3
    reasons = {f.doc_id: f.reason for f in gallery.failures()}
    assert reasons["B2"] == "no face"
    assert "not found" in reasons["D4"]
    assert reasons["E5"].startswith("unreadable image")
    assert {o.doc_id for o in report.details if o.status == "failed"} == {"B2", "D4", "E5"}
    dark = gallery.document("C3")
    assert dark is not None and dark.quality_flags == ("exposure >= 40 (got 20)",)
    assert dark.policy == "flag:document"
    assert [o.quality_flags for o in report.details if o.doc_id == "C3"] == [("exposure >= 40 (got 20)",)]
    assert [d.doc_id for d in gallery.flagged_documents()] == ["C3"]
    doc = gallery.document("A1")
    assert doc is not None and doc.doc_type == "P" and doc.citizenship == "XYZ"
    assert dict(doc.attributes) == {"expiry": "2031-01-01"} and len(doc.image_sha256) == 64
    assert gallery.search(gallery.template("A1"), 1)[0].doc_id == "A1"


def test_reenrolling_a_doc_id_replaces_its_template(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    _enroller(gallery).enrol_manifest(_manifest(d / "1.csv", [("A1", _image(d / "a.png", (200, 120, 90)))]))
    old = gallery.template("A1").vector.copy()
    report = _enroller(gallery).enrol_manifest(_manifest(d / "2.csv", [("A1", _image(d / "a2.png", (30, 90, 220)))]))
    assert (report.replaced, report.enrolled) == (1, 0)
    assert len(gallery) == 1
    new = gallery.template("A1").vector
    assert not np.allclose(old, new)
    hits = gallery.search(gallery.template("A1"), 5)
    assert [h.doc_id for h in hits] == ["A1"] and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_a_failed_reenrolment_removes_the_old_template_and_records_why(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    _enroller(gallery).enrol_manifest(_manifest(d / "1.csv", [("A1", _image(d / "a.png", (200, 120, 90)))]))
    report = _enroller(gallery).enrol_manifest(_manifest(d / "2.csv", [("A1", _image(d / "a2.png", (0, 0, 0)))]))
    assert report.failed == 1 and len(gallery) == 0
    failure = gallery.failure("A1")
    assert failure is not None and failure.reason == "no face"


def test_a_face_matching_another_document_is_flagged(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    rows = [
        ("A1", _image(d / "a.png", (200, 120, 90))),
        ("B2", _image(d / "b.png", (30, 90, 220))),
        ("C3", _image(d / "c.png", (200, 120, 90))),  # same face as A1
    ]
    report = _enroller(gallery).enrol_manifest(_manifest(d / "m.csv", rows))
    assert report.enrolled == 3 and report.duplicates == 1
    (flag,) = gallery.duplicate_flags()
    assert (flag.doc_id, flag.other_doc_id) == ("C3", "A1") and flag.score >= flag.threshold == 0.999
    assert [o.doc_id for o in report.details if o.duplicates] == ["C3"]
    # re-enrolling C3 from another photo clears the flag
    _enroller(gallery).enrol_manifest(_manifest(d / "n.csv", [("C3", _image(d / "c2.png", (10, 220, 10)))]))
    assert gallery.duplicate_flags() == []


def test_no_duplicate_check_without_a_threshold(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    rows = [("A1", _image(d / "a.png", (200, 120, 90))), ("C3", _image(d / "c.png", (200, 120, 90)))]
    enroller = Enroller(gallery, FakeDetector(), FakeEmbedder(), FakeQuality(), EnrolOptions(duplicate_threshold=None))
    assert enroller.enrol_manifest(_manifest(d / "m.csv", rows)).duplicates == 0


def test_an_interrupted_job_resumes_without_duplicates(tmp_path: Path) -> None:
    d = tmp_path
    colours = [(20 + 20 * i, 200 - 15 * i, 60 + 10 * i) for i in range(8)]
    rows = [(f"D{i}", _image(d / f"{i}.png", c)) for i, c in enumerate(colours)]
    manifest = _manifest(d / "m.csv", rows)

    def interrupted() -> Iterator[ManifestRow]:
        for i, row in enumerate(read_manifest(manifest)):
            if i == 5:
                raise KeyboardInterrupt
            yield row

    g = Gallery.open(d / "data", MODEL, config=GalleryConfig(checkpoint_every=2))
    with pytest.raises(KeyboardInterrupt):
        _enroller(g).enrol_rows(interrupted())
    g.close()
    quality = FakeQuality()
    with Gallery.open(d / "data", MODEL) as g2:
        assert len(g2) == 5
        report = _enroller(g2, quality).enrol_manifest(manifest)
        assert (report.skipped, report.enrolled, report.failed) == (5, 3, 0)
        assert quality.calls == 3  # skipped rows are not processed again
        assert len(g2) == 8
        hits = g2.search(g2.template("D7"), 20)
        assert sorted(h.doc_id for h in hits) == [f"D{i}" for i in range(8)]


def test_a_crash_between_metadata_and_index_is_repaired_on_open(tmp_path: Path) -> None:
    d = tmp_path
    g = Gallery.open(d / "data", MODEL)
    _enroller(g).enrol_manifest(_manifest(d / "m.csv", [("A1", _image(d / "a.png", (200, 120, 90)))]))
    index = g._index
    assert index is not None

    def boom(ids: object, vectors: object) -> None:
        raise RuntimeError("power cut")

    index.add = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        _enroller(g).enrol_manifest(_manifest(d / "n.csv", [("B2", _image(d / "b.png", (30, 90, 220)))]))
    g._meta.close()  # the process dies: no flush
    with Gallery.open(d / "data", MODEL) as g2:
        assert len(g2) == 2
        assert g2.search(g2.template("B2"), 1)[0].doc_id == "B2"


def test_a_rerun_skips_a_failure_on_the_same_image_unless_asked(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    manifest = _manifest(d / "m.csv", [("B2", _image(d / "b.png", (0, 0, 0)))])
    assert _enroller(gallery).enrol_manifest(manifest).failed == 1
    again = _enroller(gallery).enrol_manifest(manifest)
    assert again.skipped == 1 and again.failed == 0
    assert _enroller(gallery, retry_failures=True).enrol_manifest(manifest).failed == 1


def test_several_faces_use_the_largest_and_say_so_or_fail_when_asked(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    img = _image(d / "two.png", (200, 120, 90), marker=True)
    report = _enroller(gallery).enrol_manifest(_manifest(d / "m.csv", [("A1", img)]))
    assert report.enrolled == 1
    doc = gallery.document("A1")
    assert doc is not None and doc.note == "2 faces; the largest was used"
    assert report.details[0].note == doc.note
    strict = _enroller(gallery, multiple_faces="fail", retry_failures=True)
    report = strict.enrol_manifest(_manifest(d / "n.csv", [("B2", img)]))
    assert report.failed == 1 and report.details[0].reason == "2 faces, exactly one expected"


def test_without_a_quality_gate_dark_faces_enrol(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    enroller = Enroller(gallery, FakeDetector(), FakeEmbedder(), None, EnrolOptions(profile="none"))
    assert enroller.enrol_manifest(_manifest(d / "m.csv", [("C3", _image(d / "c.png", (25, 25, 25)))])).enrolled == 1


def test_a_manifest_without_a_required_column_is_refused_before_anything(tmp_path: Path, gallery: Gallery) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,image,doc_type\nA1,a.png,P\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="citizenship"):
        _enroller(gallery).enrol_manifest(bad)
    assert len(gallery) == 0 and gallery.failures() == []
    with pytest.raises(ManifestError, match="not found"):
        _enroller(gallery).enrol_manifest(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ManifestError, match="empty"):
        _enroller(gallery).enrol_manifest(empty)


def test_unusable_rows_are_reported_and_recorded_not_dropped(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    a = _image(d / "a.png", (200, 120, 90))
    text = (
        "\ufeffcitizenship,doc_type,image,doc_id\n"  # BOM, other column order
        f"XYZ,P,{a},A1\n"
        "XYZ,P,,B2\n"  # no image
        f"XYZ,P,{a},\n"  # no doc_id
        f"XYZ,P,{a},C3,extra\n"  # too many fields
        "\n"
    )
    (d / "m.csv").write_text(text, encoding="utf-8")
    report = _enroller(gallery).enrol_manifest(d / "m.csv")
    assert (report.rows, report.enrolled, report.invalid) == (4, 1, 3)
    invalid = {o.line: o.reason for o in report.details if o.status == "invalid"}
    assert invalid == {
        3: "line 3 has no image path",
        4: "line 4 has no doc_id",
        5: "line 5 has 5 fields, the header has 4",
    }
    assert {f.doc_id for f in gallery.failures()} == {"B2", "C3"}


def test_images_are_resolved_against_the_manifest_folder(tmp_path: Path, gallery: Gallery) -> None:
    sub = tmp_path / "batch" / "photos"
    sub.mkdir(parents=True)
    _image(sub / "a.png", (200, 120, 90))
    manifest = _manifest(tmp_path / "batch" / "m.csv", [("A1", "photos/a.png")])
    assert _enroller(gallery).enrol_manifest(manifest).enrolled == 1


def test_a_malformed_line_never_drops_an_enrolled_template(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    a = _image(d / "a.png", (200, 120, 90))
    _enroller(gallery).enrol_manifest(_manifest(d / "1.csv", [("A1", a)]))
    (d / "2.csv").write_text(f"doc_id,image,doc_type,citizenship\nA1,{a},P,XYZ,oops\n", encoding="utf-8")
    report = _enroller(gallery).enrol_manifest(d / "2.csv")
    assert report.invalid == 1 and len(gallery) == 1 and gallery.failure("A1") is None


def test_strict_keeps_the_gate_a_requirement_not_met_is_a_failure_to_enrol(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    rows = [("A1", _image(d / "a.png", (200, 120, 90))), ("C3", _image(d / "c.png", (25, 25, 25)))]
    report = _enroller(gallery, policy="strict").enrol_manifest(_manifest(d / "m.csv", rows))
    assert (report.enrolled, report.failed, report.flagged, report.policy) == (1, 1, 0, "strict")
    failure = gallery.failure("C3")
    assert failure is not None and failure.reason == "quality (document): exposure >= 40 (got 20)"
    assert failure.policy == "strict:document"
    assert gallery.document("A1") is not None and gallery.document("A1").quality_flags == ()  # type: ignore[union-attr]


def test_several_faces_of_similar_size_are_a_failure_to_enrol(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    rows = [
        ("G1", _image(d / "group.png", (200, 120, 90), marker=True, marker_colour=CYAN)),
        ("H2", _image(d / "ghost.png", (90, 200, 120), marker=True)),  # a second face a third the size: used
    ]
    report = _enroller(gallery).enrol_manifest(_manifest(d / "m.csv", rows))
    assert (report.enrolled, report.failed) == (1, 1)
    failure = gallery.failure("G1")
    assert failure is not None and failure.reason.startswith("2 faces of similar size, none clearly central")
    assert gallery.document("H2") is not None
    loose = _enroller(gallery, similar_face_ratio=0.95, retry_failures=True)
    assert loose.enrol_manifest(_manifest(d / "n.csv", rows[:1])).enrolled == 1


def test_a_failure_is_decided_again_under_another_policy_not_skipped(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    manifest = _manifest(d / "m.csv", [("C3", _image(d / "c.png", (25, 25, 25)))])
    gate = Enroller(gallery, FakeDetector(), FakeEmbedder(), FakeQuality(), EnrolOptions(policy="strict"))
    assert gate.enrol_manifest(manifest).failed == 1
    assert gate.enrol_manifest(manifest).skipped == 1  # same image, same policy: already decided
    no_gate = Enroller(gallery, FakeDetector(), FakeEmbedder(), None, EnrolOptions(profile="none"))
    report = no_gate.enrol_manifest(manifest)
    assert (report.enrolled, report.skipped) == (1, 0)
    assert gallery.failure("C3") is None and gallery.document("C3").policy == "flag:none"  # type: ignore[union-attr]


def test_the_same_photo_under_another_policy_is_decided_again(tmp_path: Path, gallery: Gallery) -> None:
    d = tmp_path
    manifest = _manifest(d / "m.csv", [("C3", _image(d / "c.png", (25, 25, 25)))])
    no_gate = Enroller(gallery, FakeDetector(), FakeEmbedder(), None, EnrolOptions(profile="none"))
    assert no_gate.enrol_manifest(manifest).enrolled == 1
    assert gallery.document("C3").quality_flags == ()  # type: ignore[union-attr]
    report = _enroller(gallery).enrol_manifest(manifest)  # the document profile: now flagged
    assert (report.replaced, report.skipped, report.flagged) == (1, 0, 1)
    doc = gallery.document("C3")
    assert doc is not None and doc.quality_flags == ("exposure >= 40 (got 20)",) and doc.policy == "flag:document"
    assert "decided again under flag:document (was flag:none)" in doc.note
    assert _enroller(gallery).enrol_manifest(manifest).skipped == 1
    strict = _enroller(gallery, policy="strict").enrol_manifest(manifest)
    assert strict.failed == 1 and len(gallery) == 0  # the photo does not pass the gate asked for


def test_a_gallery_written_by_schema_1_opens_and_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "data" / "gallery" / MODEL
    root.mkdir(parents=True)
    vector = np.full(8, 1 / np.sqrt(8), "<f4").tobytes()
    with sqlite3.connect(root / "gallery.sqlite") as db:
        db.executescript(SCHEMA_1)
        db.executemany(
            "INSERT INTO gallery_meta VALUES (?, ?)",
            [("model_version", MODEL), ("backend", "exact"), ("schema_version", "1"), ("dim", "8")],
        )
        db.execute("INSERT INTO gallery_meta VALUES ('next_vec_id', '1')")
        db.execute(
            "INSERT INTO documents VALUES ('OLD1', 0, 'a.png', 'abc', 'P', 'XYZ', '{}', ?, 55.0, '', '2025-01-01')",
            (vector,),
        )
        db.execute("INSERT INTO enrolment_failures VALUES ('OLD2', 'b.png', 'def', 'no face', 'document', '2025')")
    with Gallery.open(tmp_path / "data", MODEL) as g:
        doc = g.document("OLD1")
        assert doc is not None and (doc.quality_flags, doc.policy, doc.quality_unified) == ((), "", 55.0)
        failure = g.failure("OLD2")
        assert failure is not None and (failure.reason, failure.policy) == ("no face", "")
        assert g.search(g.template("OLD1"), 1)[0].doc_id == "OLD1"
        _enroller(g).enrol_manifest(_manifest(tmp_path / "m.csv", [("C3", _image(tmp_path / "c.png", (25, 25, 25)))]))
        assert g.document("C3").quality_flags == ("exposure >= 40 (got 20)",)  # type: ignore[union-attr]
        assert g._meta.get_meta("schema_version") == SCHEMA_VERSION == "2"
    with sqlite3.connect(root / "gallery.sqlite") as db:
        db.execute("UPDATE gallery_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(GalleryError, match="schema '99'"):
        Gallery.open(tmp_path / "data", MODEL)


def test_commonest_reasons_and_flags_group_what_varies_per_photo() -> None:
    outcomes = [
        RowOutcome(2, "A", "failed", "no face"),
        RowOutcome(3, "B", "failed", "image 'x.png' not found"),
        RowOutcome(4, "C", "failed", "image 'y.png' not found"),
        RowOutcome(5, "D", "failed", "quality (document): inter_eye_distance >= 90 (got 41.2); yaw <= 5 (got 9)"),
        RowOutcome(6, "E", "failed", "quality (document): inter_eye_distance >= 90 (got 50.5)"),
        RowOutcome(7, "F", "invalid", "no face"),
        RowOutcome(10, "I", "failed", "2 faces of similar size, none clearly central (the second largest is 0.8)"),
        RowOutcome(11, "J", "failed", "6 faces of similar size, none clearly central (the second largest is 0.9)"),
        RowOutcome(
            8, "G", "enrolled", quality_flags=("inter_eye_distance >= 90 (got 41.2)", "sharpness >= 0.3 (got 0.1)")
        ),
        RowOutcome(9, "H", "enrolled", quality_flags=("inter_eye_distance >= 90 (got 70.0)",)),
    ]
    assert commonest_reasons(outcomes, 3) == [
        ("no face", 2),
        ("image '...' not found", 2),
        ("quality (document): inter_eye_distance >= 90", 2),
    ]
    assert ("N faces of similar size, none clearly central", 2) in commonest_reasons(outcomes)
    assert commonest_flags(outcomes) == [("inter_eye_distance >= 90", 2), ("sharpness >= 0.3", 1)]


SCHEMA_1 = """
CREATE TABLE gallery_meta ("key" VARCHAR NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key"));
CREATE TABLE documents (
    doc_id VARCHAR NOT NULL, vec_id INTEGER NOT NULL, image TEXT NOT NULL, image_sha256 VARCHAR NOT NULL,
    doc_type VARCHAR NOT NULL, citizenship VARCHAR NOT NULL, attributes TEXT NOT NULL, template BLOB NOT NULL,
    quality_unified FLOAT, note TEXT NOT NULL, enrolled_at VARCHAR NOT NULL, PRIMARY KEY (doc_id), UNIQUE (vec_id)
);
CREATE TABLE enrolment_failures (
    doc_id VARCHAR NOT NULL, image TEXT NOT NULL, image_sha256 VARCHAR NOT NULL, reason TEXT NOT NULL,
    profile VARCHAR NOT NULL, failed_at VARCHAR NOT NULL, PRIMARY KEY (doc_id)
);
CREATE TABLE duplicate_flags (
    id INTEGER NOT NULL, doc_id VARCHAR NOT NULL, other_doc_id VARCHAR NOT NULL, score FLOAT NOT NULL,
    threshold FLOAT NOT NULL, flagged_at VARCHAR NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_duplicate_flags_doc_id ON duplicate_flags (doc_id);
CREATE INDEX ix_duplicate_flags_other_doc_id ON duplicate_flags (other_doc_id);
"""


def test_the_holder_is_the_largest_face_or_the_clearly_central_one_of_similar_size() -> None:
    def dets(*boxes: list[float]) -> FaceDetections:
        n = len(boxes)
        lms = np.zeros((n, 5, 2), np.float32)
        return FaceDetections(np.array(boxes, np.float32), lms, np.full(n, 0.9, np.float32), "t")

    ghost = dets([150, 10, 190, 50], [50, 50, 150, 150])  # a small face in a corner: the largest
    assert holder_face(ghost, 200, 200) == 1
    bystander = dets([0, 0, 100, 100], [60, 60, 150, 150])  # similar size, the second one is centred
    assert holder_face(bystander, 200, 200) == 1
    row = dets([0, 50, 100, 150], [100, 55, 190, 145])  # two side by side: none is the subject
    assert holder_face(row, 200, 200) is None
    assert holder_face(row, 200, 200, similar_ratio=0.95) == 0  # the other is not "similar": the largest
    assert holder_face(FaceDetections.empty("t"), 200, 200) is None
