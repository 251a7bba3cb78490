"""Who travels: LFW identities as occupants (a face image) with a travel document (another image).

Only identities with at least two images can be occupants, so that the document photo is a different
image of the same person than the face rendered in the vehicle. Distractor documents belong to other
identities that never travel. Document ids are ``DOC`` + the identity's index in the sorted LFW folder
list, so they are stable for a given LFW copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from laneface.errors import InvalidDatasetError

__all__ = ["MIN_TRAVELLERS", "Document", "LfwIndex", "Traveller", "TravellerPool"]

MIN_TRAVELLERS = 7  # a full vehicle of distinct people
CITIZENSHIPS = ("HOM", "HOM", "HOM", "NBR", "NBR", "FRA", "USA", "IND", "BRA")
DOC_TYPES = ("passport", "passport", "id_card")


@dataclass(frozen=True)
class Document:
    doc_id: str
    identity: str
    image: str  # relative to the LFW root
    doc_type: str
    citizenship: str


@dataclass(frozen=True)
class Traveller:
    identity: str
    face_image: str  # relative to the LFW root; never the document's image
    document: Document


class LfwIndex:
    """Identities (folder names) and their images under an LFW root, sorted."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InvalidDatasetError(f"LFW directory {root} does not exist (use --lfw-dir)")
        self.root = root
        self.images: dict[str, list[str]] = {}
        import os

        for name in sorted(os.listdir(root)):
            d = root / name
            if not d.is_dir():
                continue
            files = sorted(f"{name}/{f}" for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg", ".png")))
            if files:
                self.images[name] = files
        self.names = list(self.images)
        self.multi = [n for n in self.names if len(self.images[n]) >= 2]
        self._position = {n: i for i, n in enumerate(self.names)}
        if len(self.multi) < MIN_TRAVELLERS:
            raise InvalidDatasetError(
                f"{root} has {len(self.multi)} identities with >= 2 images; the simulator needs {MIN_TRAVELLERS}"
            )

    def doc_id(self, name: str) -> str:
        return f"DOC{self._position[name]:06d}"


class TravellerPool:
    """Hands out travellers in a seeded order; a traveller keeps the same face image and document."""

    def __init__(self, index: LfwIndex, rng: np.random.Generator) -> None:
        self.index = index
        self.rng = rng
        self.order: list[str] = []
        self.next = 0
        self.travellers: dict[str, Traveller] = {}
        self.used: list[str] = []  # identities that travelled, in order of first passage

    def _refill(self) -> None:
        self.order = [self.index.multi[int(i)] for i in self.rng.permutation(len(self.index.multi))]
        self.next = 0

    def peek(self, n: int) -> list[Traveller]:
        """The next ``n`` distinct travellers (call :meth:`take` with how many were used)."""
        if self.next + n > len(self.order):
            rest = self.order[self.next :]
            self._refill()
            self.order = rest + [p for p in self.order if p not in rest]
        return [self._traveller(name) for name in self.order[self.next : self.next + n]]

    def take(self, n: int) -> None:
        """Mark the first ``n`` peeked travellers as having travelled."""
        for name in self.order[self.next : self.next + n]:
            if name not in self.used:
                self.used.append(name)
        self.next += n

    def documents(self) -> list[Document]:
        """The documents of everybody who travelled."""
        return [self.travellers[n].document for n in self.used]

    def _traveller(self, name: str) -> Traveller:
        if name not in self.travellers:
            images = self.index.images[name]
            doc_i, face_i = self.rng.choice(len(images), size=2, replace=False)
            doc = Document(
                doc_id=self.index.doc_id(name),
                identity=name,
                image=images[int(doc_i)],
                doc_type=DOC_TYPES[int(self.rng.integers(0, len(DOC_TYPES)))],
                citizenship=CITIZENSHIPS[int(self.rng.integers(0, len(CITIZENSHIPS)))],
            )
            self.travellers[name] = Traveller(name, images[int(face_i)], doc)
        return self.travellers[name]

    def distractors(self, count: int) -> list[Document]:
        """Documents of ``count`` identities that never travel (fewer when LFW has no more)."""
        used = set(self.used)
        free = [n for n in self.index.names if n not in used]
        picked = [free[int(i)] for i in self.rng.permutation(len(free))[:count]]
        docs = []
        for name in sorted(picked):
            images = self.index.images[name]
            docs.append(
                Document(
                    doc_id=self.index.doc_id(name),
                    identity=name,
                    image=images[int(self.rng.integers(0, len(images)))],
                    doc_type=DOC_TYPES[int(self.rng.integers(0, len(DOC_TYPES)))],
                    citizenship=CITIZENSHIPS[int(self.rng.integers(0, len(CITIZENSHIPS)))],
                )
            )
        return docs
