"""Layers only import downwards: no module of laneface imports (or starts by name) a package of a higher layer.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:``, relative ones. Packages
of one layer are independent of each other, so they may not import each other either.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "laneface"

# Lowest first. A name is a top-level module or package of laneface ("__init__" is the package itself); a name
# without a file (e.g. geometry on a branch that lacks it) is allowed, a file without a layer is not.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "__init__ errors types fsutil geometry plates progress",
        "config retry",
        "models imageio alignment",
        "capture detection embedding quality tracking",
        "selection",
        "gallery",
        "matching",
        "pipeline",
        "records",
        "sim",
        "edge evaluation",
        "dashboard",
        "api",
        "cli",
        "__main__",
    )
)
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}

# a string that names a module to run or import: "laneface.x.y", "laneface.x:attr", or code importing one
_MODULE_STRING = re.compile(r"laneface(?:\.\w+)+(?::\w+)?")
_CODE_IMPORT = re.compile(r"(?:from|import)\s+(laneface(?:\.\w+)+)")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    target: str
    how: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.how} {self.target}"


def unit_of(dotted: str) -> str:
    """The top-level module or package of laneface that ``dotted`` (``laneface...``) belongs to."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of bare string expressions (docstrings and the like): prose, not module names to start."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def imported_modules(module: str, source: str, *, is_package: bool = False) -> list[tuple[int, str, str]]:
    """(line, laneface module, how) for every import and every module-naming string in ``source``."""
    tree = ast.parse(source)
    found: list[tuple[int, str, str]] = []
    prose = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, "imports") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else (node.module or "")
            if base == "laneface":  # `from laneface import gallery` imports the package laneface.gallery
                found.extend(
                    (node.lineno, f"laneface.{a.name}" if a.name in LAYER_OF else base, "imports") for a in node.names
                )
            else:
                found.append((node.lineno, base, "imports"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            text = node.value.strip()
            if _MODULE_STRING.fullmatch(text):
                found.append((node.lineno, text.split(":")[0], "names"))
            found.extend((node.lineno, m, "names in code") for m in _CODE_IMPORT.findall(text))
    return [(line, target, how) for line, target, how in found if target.split(".")[0] == "laneface"]


def violations_in(module: str, source: str, *, is_package: bool = False) -> list[Violation]:
    """Imports of ``module`` that reach a package of a higher layer, or a peer package of its own layer."""
    own = unit_of(module)
    layer = LAYER_OF[own]
    out = []
    for line, target, how in imported_modules(module, source, is_package=is_package):
        other = unit_of(target)
        if other == own:
            continue
        if LAYER_OF.get(other, len(LAYERS)) >= layer:
            out.append(Violation(module, line, target, how))
    return out


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_every_module_has_a_layer() -> None:
    units = {unit_of(module) for module, _ in _modules()}
    assert len(units) > 20, f"no modules found under {SRC}"
    assert sorted(units - LAYER_OF.keys()) == [], "add these to a layer of LAYERS"


def test_layers_only_import_downwards() -> None:
    found = []
    for module, path in _modules():
        found.extend(violations_in(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"))
    assert [str(v) for v in found] == []


# the checker itself, on synthetic modules -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from laneface.evaluation.metrics import threshold_at_fmr\n",
        "import laneface.cli.app\n",
        "def f() -> None:\n    from laneface.cli.app import main\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from laneface.pipeline.lane import Lane\n",
        "from ..edge import delivery\n",
        "from laneface import evaluation\n",
        "SERVE = 'from laneface.cli.app import main; main()'\n",
        "import importlib\nimportlib.import_module('laneface.api.app')\n",
        "from laneface.detection.base import FaceDetector\n",  # a peer of the same layer as embedding
    ],
)
def test_the_checker_finds_an_upward_import(source: str) -> None:
    module = "laneface.embedding.example" if "detection" in source else "laneface.gallery.example"
    assert len(violations_in(module, source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "from laneface.errors import ConfigError\n",
        "from laneface.gallery.store import Gallery\n",
        "from . import store\nfrom .thresholds import ThresholdSet\n",
        '"""Uses :mod:`laneface.cli.app` in its documentation only."""\n',
        "import laneface\nfrom laneface import __version__\n",
        "import numpy as np\n",
    ],
)
def test_the_checker_accepts_downward_and_own_imports(source: str) -> None:
    assert violations_in("laneface.gallery.example", source) == []


def test_relative_imports_resolve_from_the_module_or_package() -> None:
    assert imported_modules("laneface.gallery.store", "from ..cli import app\n") == [(1, "laneface.cli", "imports")]
    assert imported_modules("laneface.gallery", "from .store import X\n", is_package=True) == [
        (1, "laneface.gallery.store", "imports")
    ]
