"""``python -m laneface``: the ``laneface`` command, for child processes started with this interpreter."""

from __future__ import annotations

if __name__ == "__main__":
    from laneface.cli.app import main

    main()
