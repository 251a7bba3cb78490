"""A licence-plate read and the one key plates are compared by (passage.json, the records, the simulator).

Plate readers confuse characters that look alike (``O``/``0``/``D``/``Q``, ``I``/``1``/``L``, ``B``/``8``,
``S``/``5``, ``Z``/``2``, ``G``/``6``) and differ in spacing and dashes; :func:`plate_key` folds all of that,
so two reads of one plate that differ only so give the same key. A read whose ``confidence`` is below the
lane's minimum is kept in the record but not used to look a vehicle up.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["MAX_PLATE_CHARS", "PLATE_TEXT_PATTERN", "REGION_PATTERN", "PlateRead", "plate_key"]

MAX_PLATE_CHARS = 16
PLATE_TEXT_PATTERN = r"^[\x20-\x7e]{1,16}$"  # printable ASCII, as the service's schema takes it
REGION_PATTERN = r"^[A-Za-z0-9-]{1,8}$"
_FOLD = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2", "G": "6"})


def plate_key(text: str) -> str:
    """Upper case, letters and digits only, look-alike characters folded (``"abc-1O2"`` -> ``"A8C102"``)."""
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum()).translate(_FOLD)


@dataclass(frozen=True)
class PlateRead:
    """What a plate reader saw: ``text`` as read, ``region`` (state or province code, ``None`` when not read)
    and ``confidence`` in [0, 1]."""

    text: str
    region: str | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if not re.fullmatch(PLATE_TEXT_PATTERN, self.text) or not plate_key(self.text):
            raise ValueError(
                f"a plate has 1-{MAX_PLATE_CHARS} printable ASCII characters, a letter or digit among them: "
                f"{self.text!r}"
            )
        if not (isinstance(self.confidence, int | float) and math.isfinite(self.confidence)):
            raise ValueError(f"plate confidence must be a number in [0, 1], got {self.confidence!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"plate confidence must lie in [0, 1], got {self.confidence!r}")
        if self.region is not None and not re.fullmatch(REGION_PATTERN, self.region):
            raise ValueError(f"plate region must be a code of 1-8 letters, digits or '-', got {self.region!r}")

    @property
    def key(self) -> str:
        return plate_key(self.text)
