"""ServiceGallery: the GalleryAdmin of the service over the real Gallery and Enroller (fakes for the models)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.unit.test_gallery_enrol import MODEL, FakeDetector, FakeEmbedder, FakeQuality

from laneface.api.gallery import GalleryAdmin
from laneface.api.gallery_service import ServiceGallery
from laneface.errors import EnrolmentRejectedError, InputError
from laneface.gallery.enrol import Enroller, EnrolOptions, Policy
from laneface.gallery.store import Gallery, GalleryConfig


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def made(tmp_path: Path) -> list[Enroller]:
    return []


def _service(tmp_path: Path, made: list[Enroller], policy: Policy = "strict") -> ServiceGallery:
    def make() -> Enroller:
        gallery = Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact"))
        options = EnrolOptions(profile="document", policy=policy, drop_on_failure=False)
        enroller = Enroller(gallery, FakeDetector(), FakeEmbedder(), FakeQuality(), options)
        made.append(enroller)
        return enroller

    return ServiceGallery(make)


def test_enrol_remove_and_info_through_the_admin_protocol(tmp_path: Path, made: list[Enroller]) -> None:
    service = _service(tmp_path, made)
    assert isinstance(service, GalleryAdmin)
    assert made == []  # nothing is built before the first call
    service.enroll("P1", _png((200, 120, 90)), "passport", "FRA")
    service.enroll("P2", _png((90, 200, 120)), "visa", "UTO")
    info = service.info()
    assert (info.documents, info.model_version) == (2, MODEL)
    assert len(made) == 1  # built once
    doc = made[0].gallery.document("P1")
    assert doc is not None and (doc.doc_type, doc.citizenship, doc.image) == ("passport", "FRA", "upload")
    assert service.remove("P1") is True
    assert service.remove("P1") is False
    assert service.info().documents == 1
    service.close()
    reopened = Gallery.open(tmp_path, MODEL)  # every accepted write was made durable
    try:
        assert len(reopened) == 1 and reopened.document("P2") is not None
    finally:
        reopened.close()


def test_a_photo_that_fails_to_enrol_is_rejected_with_its_reason_and_recorded(
    tmp_path: Path, made: list[Enroller]
) -> None:
    service = _service(tmp_path, made)
    service.enroll("P1", _png((200, 120, 90)), "passport", "FRA")
    with pytest.raises(EnrolmentRejectedError, match=r"no face.*enrolled photo is kept") as err:
        service.enroll("P1", _png((0, 0, 0)), "passport", "FRA")
    assert isinstance(err.value, InputError)  # HTTP 422
    with pytest.raises(EnrolmentRejectedError, match="quality"):
        service.enroll("P2", _png((20, 20, 20)), "passport", "FRA")
    # the same failing upload again is still a rejection, not a silent success
    with pytest.raises(EnrolmentRejectedError, match="failed before"):
        service.enroll("P2", _png((20, 20, 20)), "passport", "FRA")
    with pytest.raises(EnrolmentRejectedError, match="unreadable"):
        service.enroll("P3", b"not an image", "passport", "FRA")
    gallery = made[0].gallery
    assert {f.doc_id for f in gallery.failures()} == {"P2", "P3"}
    assert gallery.document("P1") is not None  # a rejected upload does not lose the enrolled template
    service.close()


def test_a_reupload_of_the_enrolled_photo_goes_through_the_same_policy_as_a_new_id(
    tmp_path: Path, made: list[Enroller]
) -> None:
    dark = _png((20, 20, 20))
    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact")) as g:  # enrolled without a check
        no_gate = Enroller(g, FakeDetector(), FakeEmbedder(), None, EnrolOptions(profile="none"))
        assert no_gate.enrol_bytes("P1", dark, image="upload").status == "enrolled"
    service = _service(tmp_path, made)  # the service's strict document gate
    with pytest.raises(EnrolmentRejectedError, match="quality") as new_id:
        service.enroll("P2", dark, "passport", "FRA")
    with pytest.raises(EnrolmentRejectedError, match="quality") as same_id:
        service.enroll("P1", dark, "passport", "FRA")
    assert "enrolled photo is kept" in str(same_id.value) and "quality" in str(new_id.value)
    assert made[0].gallery.document("P1") is not None  # a rejected upload keeps the template
    service.close()


def test_the_default_policy_enrols_an_upload_with_its_quality_flags(tmp_path: Path, made: list[Enroller]) -> None:
    service = _service(tmp_path, made, policy="flag")
    assert service.enroll("P1", _png((20, 20, 20)), "passport", "FRA") == ("exposure >= 40 (got 20)",)
    assert service.info().documents == 1
    # the very photo again: nothing changes, the stored flags come back
    assert service.enroll("P1", _png((20, 20, 20)), "passport", "FRA") == ("exposure >= 40 (got 20)",)
    assert service.enroll("P1", _png((200, 120, 90)), "passport", "FRA") == ()  # replaced by a better photo
    assert service.info().documents == 1
    with pytest.raises(EnrolmentRejectedError, match="no face"):
        service.enroll("P2", _png((0, 0, 0)), "passport", "FRA")
    service.close()


def test_concurrent_enrolments_are_serialised(tmp_path: Path, made: list[Enroller]) -> None:
    service = _service(tmp_path, made)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            service.enroll(f"D{i}", _png((40 + 10 * i, 200 - 10 * i, 90)), "passport", "FRA")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(made) == 1 and service.info().documents == 8
    service.close()
