"""Administrators: the gallery, travellers' biometric opt-out, retention rules and the purge job.

Administrators never read images or templates: the enrolment photo goes to the gallery and (encrypted, for
officers' adjudication) to the records, and nothing biometric comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from laneface.api.deps import gallery_of, records_of, require
from laneface.api.errors import ERROR_RESPONSES, ErrorBody
from laneface.api.gallery import GalleryAdmin
from laneface.api.roles import Caller
from laneface.api.schemas.admin import (
    DocumentEnrolled,
    GalleryInfoPublic,
    OptOutResult,
    OptOutUpdate,
    PurgeReportPublic,
    RetentionPublic,
    RetentionRuleIn,
    RetentionUpdate,
)
from laneface.api.schemas.common import Citizenship, DocId, DocType, Ident
from laneface.records.service import RecordsService

__all__ = ["router"]

router = APIRouter(tags=["administrators"])
_ERRORS: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Conflicts with the stored traveller or document"},
    503: {"model": ErrorBody, "description": "No gallery configured"},
}
Admin = Annotated[Caller, Depends(require("admin"))]
Records = Annotated[RecordsService, Depends(records_of)]
Gallery = Annotated[GalleryAdmin, Depends(gallery_of)]


@router.get("/v1/gallery", responses=_ERRORS, summary="Gallery backend and size")
def gallery_info(_caller: Admin, gallery: Gallery) -> GalleryInfoPublic:
    return GalleryInfoPublic.model_validate(gallery.info())


@router.post("/v1/gallery/documents", status_code=201, responses=_ERRORS, summary="Enrol a document photo")
async def enroll_document(
    caller: Admin,
    records: Records,
    gallery: Gallery,
    doc_id: Annotated[DocId, Form()],
    doc_type: Annotated[DocType, Form()],
    citizenship: Annotated[Citizenship, Form()],
    photo: Annotated[UploadFile, File(description="Document photo bytes (JPEG or PNG).")],
    traveller_ref: Annotated[Ident | None, Form()] = None,
    opt_out: Annotated[bool | None, Form(description="The traveller refuses storage of lane images.")] = None,
) -> DocumentEnrolled:
    data = await photo.read()

    def enroll() -> Sequence[str] | None:
        return gallery.enroll(doc_id, data, doc_type, citizenship)

    view = await run_in_threadpool(
        lambda: records.enroll_document(
            doc_id=doc_id,
            doc_type=doc_type,
            citizenship=citizenship,
            traveller_ref=traveller_ref,
            opt_out=opt_out,
            actor=caller.actor,
            gallery_enroll=enroll,
            photo=data,
        )
    )
    return DocumentEnrolled(
        doc_id=view.doc_id,
        doc_type=view.doc_type,
        traveller_ref=view.traveller_ref,
        citizenship=view.citizenship,
        biometric_opt_out=view.biometric_opt_out,
        quality_flags=list(view.quality_flags),
        has_photo=view.has_photo,
    )


@router.delete("/v1/gallery/documents/{doc_id}", status_code=204, responses=_ERRORS, summary="Remove a document")
def remove_document(doc_id: Annotated[DocId, Path()], caller: Admin, records: Records, gallery: Gallery) -> Response:
    removed = gallery.remove(doc_id)
    records.remove_document(doc_id, actor=caller.actor, removed_from_gallery=removed)
    return Response(status_code=204)


@router.put("/v1/travellers/{traveller_ref}/opt-out", responses=_ERRORS, summary="Set a traveller's opt-out")
def set_opt_out(
    traveller_ref: Annotated[Ident, Path()], update: OptOutUpdate, caller: Admin, records: Records
) -> OptOutResult:
    deleted = records.set_opt_out(traveller_ref, update.opt_out, caller.actor)
    return OptOutResult(traveller_ref=traveller_ref, opt_out=update.opt_out, biometrics_deleted=deleted)


def _retention(records: RecordsService) -> RetentionPublic:
    rules, source = records.retention_rules()
    return RetentionPublic(
        source="administrator" if source == "administrator" else "configuration",
        home_country=records.settings.privacy.home_country,
        rules=[RetentionRuleIn.model_validate(r.model_dump()) for r in rules],
    )


@router.get("/v1/retention", responses=ERROR_RESPONSES, summary="Retention rules in force")
def get_retention(
    _caller: Annotated[Caller, Depends(require("admin", "auditor"))], records: Records
) -> RetentionPublic:
    return _retention(records)


@router.put("/v1/retention", responses=ERROR_RESPONSES, summary="Replace the retention rules")
def put_retention(update: RetentionUpdate, caller: Admin, records: Records) -> RetentionPublic:
    records.set_retention_rules([r.to_rule() for r in update.rules], caller.actor)
    return _retention(records)


@router.delete("/v1/retention", responses=ERROR_RESPONSES, summary="Go back to the configured retention rules")
def reset_retention(caller: Admin, records: Records) -> RetentionPublic:
    records.set_retention_rules(None, caller.actor)
    return _retention(records)


@router.post("/v1/retention/purge", responses=ERROR_RESPONSES, summary="Run the purge job now")
def run_purge(caller: Admin, records: Records) -> PurgeReportPublic:
    report = records.purge(actor=caller.actor)
    return PurgeReportPublic(now=report.now, opted_out=report.opted_out, expired=report.expired, total=report.total)
