"""The lane pipeline (``lane.py``, the only place where the stages are composed), occupant identification
and the passage result. Import :class:`LanePipeline` from :mod:`laneface.pipeline.lane`."""

from laneface.pipeline.identify import OccupantMatch, identify
from laneface.pipeline.result import OccupantResult, PassageResult

__all__ = ["OccupantMatch", "OccupantResult", "PassageResult", "identify"]
