"""Capture: frames of lane cameras (:class:`FrameSource`, :class:`Frame`) and the passage reader."""

from laneface.capture.frames import Frame, FrameFolderSource, FrameSource, VideoFileSource, open_frame_source
from laneface.capture.passage import CameraSpec, Passage, passage_id_of, read_passage

__all__ = [
    "CameraSpec",
    "Frame",
    "FrameFolderSource",
    "FrameSource",
    "Passage",
    "VideoFileSource",
    "open_frame_source",
    "passage_id_of",
    "read_passage",
]
