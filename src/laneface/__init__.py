"""laneface: capture, quality-check and match the faces of every vehicle occupant in a border lane."""

__version__ = "0.1.0"
