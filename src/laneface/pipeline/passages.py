"""The one loop over recorded passages, shared by ``laneface run``, ``laneface bench lane`` and the lane edge.

A passage that cannot be read (:class:`~laneface.errors.InputError`: a broken ``passage.json``, an
undecodable video) gives an outcome with its error and the loop goes on; any other exception stops it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from laneface.capture.passage import passage_id_of
from laneface.errors import InputError

if TYPE_CHECKING:
    from laneface.pipeline.events import EventSink
    from laneface.pipeline.lane import LanePipeline, PromptFeed
    from laneface.pipeline.result import PassageLine, PassageResult

__all__ = ["ErrorLine", "PassageOutcome", "process_passages"]

logger = logging.getLogger(__name__)


class ErrorLine(TypedDict):
    """The ``laneface run`` line of a passage that could not be processed."""

    passage_id: str | None  # from passage.json when it can be read
    passage_dir: str
    error: str


@dataclass(frozen=True, eq=False)
class PassageOutcome:
    """One passage: its result, or the input error that stopped it; ``wall_s`` around reading and processing."""

    directory: Path
    result: PassageResult | None
    error: InputError | None
    wall_s: float

    def __post_init__(self) -> None:
        if (self.result is None) == (self.error is None):
            raise ValueError("a passage outcome holds either a result or an error")

    def unwrap(self) -> PassageResult:
        """The result; the input error is raised when the passage could not be processed."""
        if self.result is None:
            raise cast(InputError, self.error)
        return self.result

    @property
    def passage_id(self) -> str | None:
        return self.result.passage_id if self.result is not None else passage_id_of(self.directory)

    def as_json(self) -> PassageLine | ErrorLine:
        if self.result is not None:
            return self.result.as_json()
        return {"passage_id": self.passage_id, "passage_dir": str(self.directory), "error": str(self.error)}


def process_passages(
    pipeline: LanePipeline,
    directories: Iterable[Path],
    *,
    progress: Callable[[int, PassageOutcome], None] | None = None,
    events: EventSink | None = None,
    prompts: PromptFeed | None = None,
) -> Iterator[PassageOutcome]:
    """Process each passage directory in turn; ``progress(done, outcome)`` after each; ``events`` receives
    each passage's events (:mod:`laneface.pipeline.events`)."""
    for done, directory in enumerate(directories, start=1):
        t0 = time.perf_counter()
        result: PassageResult | None = None
        error: InputError | None = None
        try:
            result = pipeline.process(directory, events, prompts)
        except InputError as exc:
            error = exc
            logger.warning("passage %s: %s", directory, exc)
        outcome = PassageOutcome(Path(directory), result, error, time.perf_counter() - t0)
        if progress is not None:
            progress(done, outcome)
        yield outcome
