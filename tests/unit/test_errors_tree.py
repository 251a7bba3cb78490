"""The exception tree documented at the top of laneface.errors is the tree of classes defined there."""

from __future__ import annotations

import inspect
import re

import laneface.errors as errors
from laneface.errors import LanefaceError

_LINE = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )?(?P<name>[A-Z][A-Za-z]*Error)\b")


def _documented_tree() -> dict[str, str | None]:
    """``{class name: parent name}`` read from the ``::`` block of the module docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("::", 1)[1].strip("\n").split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for raw in block.splitlines():
        line = raw.removeprefix("    ")
        m = _LINE.match(line)
        assert m, f"unparsable tree line {raw!r}"
        depth = 0 if m.group("name") == "LanefaceError" else len(m.group("indent")) // 4 + 1
        del stack[depth:]
        assert m.group("name") not in parents, f"{m.group('name')} listed twice"
        parents[m.group("name")] = stack[-1] if stack else None
        stack.append(m.group("name"))
    return parents


def _defined_tree() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, cls in vars(errors).items():
        if inspect.isclass(cls) and issubclass(cls, LanefaceError) and cls.__module__ == errors.__name__:
            base = cls.__bases__[0]
            assert len(cls.__bases__) == 1, f"{name} has several bases"
            out[name] = None if cls is LanefaceError else base.__name__
    return out


def test_docstring_tree_matches_the_classes() -> None:
    assert _documented_tree() == _defined_tree()


def test_all_lists_every_error_class() -> None:
    assert sorted(errors.__all__) == sorted(_defined_tree())
    assert errors.__all__ == sorted(errors.__all__)


def test_all_is_pinned() -> None:
    assert errors.__all__ == [
        "BackendUnavailableError",
        "BiometricDataUnavailableError",
        "CalibrationRangeError",
        "ChecksumError",
        "ConfigError",
        "CorruptImageError",
        "DatabaseError",
        "DecryptionError",
        "DocumentNotFoundError",
        "EmptyImageError",
        "EncryptionError",
        "EnrolmentRejectedError",
        "FailureToEnrolError",
        "GalleryError",
        "GalleryUnavailableError",
        "IdempotencyConflictError",
        "ImageTooLargeError",
        "IndexStateError",
        "InputError",
        "InsecureConfigError",
        "InvalidDatasetError",
        "InvalidImageError",
        "InvalidPassageError",
        "InvalidResultsError",
        "InvalidTokenError",
        "InvalidVideoError",
        "LanefaceError",
        "ManifestError",
        "ModelDownloadError",
        "ModelError",
        "ModelNotFoundError",
        "ModelVersionMismatchError",
        "OutboxConflictError",
        "OutboxError",
        "RecordNotFoundError",
        "RecordsError",
        "ReviewConflictError",
        "ServiceStartError",
        "TruncatedVideoError",
        "UncalibratedModelError",
        "UnknownComponentError",
        "UnknownKeyError",
        "UnsupportedImageError",
    ]
