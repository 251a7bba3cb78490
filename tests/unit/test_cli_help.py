"""`--help` works for the root and every command and sub-command of the `laneface` CLI.

Commands are discovered from the click command tree, so new commands are covered automatically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from laneface.cli.app import app


def _is_group(cmd: Any) -> bool:
    # recent typer versions vendor click (typer._click), so test for the group interface, not the click class
    return isinstance(getattr(cmd, "commands", None), dict)


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    if _is_group(cmd):
        for name, sub in sorted(cmd.commands.items()):
            if not getattr(sub, "hidden", False):
                yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(_walk(ROOT))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "120")


def test_discovery_finds_the_command_tree() -> None:
    assert _is_group(ROOT)
    for expected in [(), ("models",), ("models", "list"), ("models", "pull"), ("detect",)]:
        assert expected in COMMANDS, sorted(COMMANDS)
    assert len(COMMANDS) >= 6


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "<root>")
def test_help_works(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.strip()
    assert "Usage:" in out
    usage_line = next(line for line in out.splitlines() if "Usage:" in line)
    for part in path:
        assert part in usage_line, usage_line
    assert "Traceback" not in out


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "<root>")
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    cmd = COMMANDS[path]
    text = (cmd.help or cmd.short_help or "").strip()
    assert text, f"`laneface {' '.join(path)}` has no help text"
    result = CliRunner().invoke(app, [*path, "--help"])
    first_words = " ".join(text.split()[:3])
    assert first_words in " ".join(result.output.split()), result.output


@pytest.mark.parametrize(
    "path",
    [p for p, c in sorted(COMMANDS.items()) if _is_group(c)],
    ids=lambda p: " ".join(p) or "<root>",
)
def test_group_without_arguments_shows_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, list(path))
    assert "Usage:" in result.output
    assert result.exit_code in (0, 2)
