"""Tracking: faces over the frames of one camera, tracks of every camera into occupants, seat rows."""

from laneface.geometry import iou_matrix
from laneface.tracking.assignment import max_weight_assignment
from laneface.tracking.association import AssociationConfig, TrackSummary, associate
from laneface.tracking.rows import RowModel, Side, estimate_rows, estimate_sides
from laneface.tracking.tracker import FaceTrack, FaceTracker, TrackerConfig, TrackPoint

__all__ = [
    "AssociationConfig",
    "FaceTrack",
    "FaceTracker",
    "RowModel",
    "Side",
    "TrackPoint",
    "TrackSummary",
    "TrackerConfig",
    "associate",
    "estimate_rows",
    "estimate_sides",
    "iou_matrix",
    "max_weight_assignment",
]
