"""Constrained field types shared by the schemas. Every string that reaches the database is bounded and
free of control characters; every number is finite and within the range of the database columns."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from laneface.errors import InputError

__all__ = [
    "MAX_DB_INT",
    "Citizenship",
    "DbId",
    "DocId",
    "DocType",
    "FiniteFloat",
    "Ident",
    "Instant",
    "LongIdent",
    "PlainText",
    "decode_b64",
]

MAX_DB_INT = 2**31 - 1
_IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"

Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_IDENT)]
LongIdent = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_IDENT)]
DocId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_IDENT)]
DocType = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Citizenship = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
# strict: a JSON number (integers too), never a boolean or a numeric string
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9, strict=True)]
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


def _no_control(value: str) -> str:
    if any((ord(c) < 32 and c not in "\t\n") or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


PlainText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_control)]


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("date-time out of range") from None
    if not 1970 <= utc.year <= 2200:
        raise ValueError("date-time must lie between 1970 and 2200")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An ISO 8601 date-time with a zone offset, normalised to UTC."""


def decode_b64(text: str, *, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64") from None
