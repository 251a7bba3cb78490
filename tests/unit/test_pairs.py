"""Tests of laneface.evaluation.pairs (LFW View-2 pairs files)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from laneface.errors import InvalidDatasetError
from laneface.evaluation.lfw import evaluate_lfw_templates
from laneface.evaluation.pairs import Pair, PairsFile, lfw_image_path, parse_pairs

LFW_DIR = Path("/work/shared/data/lfw")
REAL_PAIRS = LFW_DIR / "pairs.txt"

VALID = """2\t2
Alice\t1\t2
Bob 3 4
Alice\t1\tBob\t2
Carol 1   Dave 12
Eve 1 3
Frank 2 5
Eve 2 Frank 1
Gina 4 Hank 7
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_valid_file(tmp_path: Path) -> None:
    parsed = parse_pairs(_write(tmp_path, VALID))
    assert parsed.folds == 2
    assert parsed.per_fold == 2
    assert len(parsed.pairs) == 8
    assert parsed.pairs[0] == Pair("Alice", 1, "Alice", 2, mated=True, fold=0)
    assert parsed.pairs[1] == Pair("Bob", 3, "Bob", 4, mated=True, fold=0)
    assert parsed.pairs[2] == Pair("Alice", 1, "Bob", 2, mated=False, fold=0)
    assert parsed.pairs[3] == Pair("Carol", 1, "Dave", 12, mated=False, fold=0)
    assert parsed.pairs[4] == Pair("Eve", 1, "Eve", 3, mated=True, fold=1)
    assert parsed.pairs[7] == Pair("Gina", 4, "Hank", 7, mated=False, fold=1)
    assert [p.mated for p in parsed.pairs] == [True, True, False, False] * 2


def test_parse_accepts_str_path_crlf_and_trailing_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("\n", "\r\n") + "\r\n\r\n")
    assert parse_pairs(str(path)) == parse_pairs(_write(tmp_path, VALID))


def test_parse_one_fold_subset(tmp_path: Path) -> None:
    mated = [f"Person_{i} 1 2" for i in range(50)]
    non_mated = [f"Person_{i} 1 Other_{i} 3" for i in range(50)]
    parsed = parse_pairs(_write(tmp_path, "\n".join(["1 50", *mated, *non_mated]) + "\n"))
    assert (parsed.folds, parsed.per_fold, len(parsed.pairs)) == (1, 50, 100)
    assert {p.fold for p in parsed.pairs} == {0}
    assert sum(p.mated for p in parsed.pairs) == 50


def _replace_line(number: int, new: str) -> str:
    lines = VALID.splitlines()
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty"),
        (_replace_line(1, "2"), 1, "header"),
        (_replace_line(1, "2 2 2"), 1, "header"),
        (_replace_line(1, "two 2"), 1, "header"),
        (_replace_line(1, "0 2"), 1, "1 or more"),
        (_replace_line(2, "Alice 1 2 3"), 2, "3 fields"),
        (_replace_line(4, "Alice 1 2"), 4, "4 fields"),
        (_replace_line(3, "Bob x 4"), 3, "not an integer"),
        (_replace_line(5, "Carol 1 Dave 1.5"), 5, "not an integer"),
        (_replace_line(6, "Eve 0 3"), 6, "1 or more"),
        (_replace_line(6, "../etc 1 3"), 6, "not a valid person name"),
        (_replace_line(6, ""), 6, "3 fields"),
        ("\n".join(VALID.splitlines()[:-1]) + "\n", 9, "ends after 7 pairs"),
        (VALID + "Ivan 1 2\n", 10, "more lines"),
    ],
)
def test_parse_malformed(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidDatasetError, match=message) as info:
        parse_pairs(path)
    assert f"{path}:{line}:" in str(info.value)


def test_parse_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(InvalidDatasetError, match=re.escape(str(missing))):
        parse_pairs(missing)


def test_parse_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_bytes(b"1 1\n\xff\xfe 1 2\nA 1 B 2\n")
    with pytest.raises(InvalidDatasetError, match="cannot read"):
        parse_pairs(path)


def test_lfw_image_path() -> None:
    root = Path("/data/lfw")
    assert lfw_image_path(root, "Abel_Pacheco", 1) == root / "Abel_Pacheco" / "Abel_Pacheco_0001.jpg"
    assert lfw_image_path(root, "George_W_Bush", 530) == root / "George_W_Bush" / "George_W_Bush_0530.jpg"


@pytest.mark.parametrize(("name", "index"), [("..", 1), ("a/b", 1), ("", 1), ("Alice", 0)])
def test_lfw_image_path_rejects_bad_input(name: str, index: int) -> None:
    with pytest.raises(InvalidDatasetError):
        lfw_image_path(Path("/data/lfw"), name, index)


@pytest.mark.shared
@pytest.mark.skipif(not REAL_PAIRS.exists(), reason=f"{REAL_PAIRS} not present")
def test_parse_real_lfw_pairs() -> None:
    parsed = parse_pairs(REAL_PAIRS)
    assert (parsed.folds, parsed.per_fold) == (10, 300)
    assert len(parsed.pairs) == 6000
    assert sum(p.mated for p in parsed.pairs) == 3000
    assert [sum(1 for p in parsed.pairs if p.fold == k) for k in range(10)] == [600] * 10
    assert parsed.pairs[0] == Pair("Abel_Pacheco", 1, "Abel_Pacheco", 4, mated=True, fold=0)
    images = LFW_DIR / "lfw-deepfunneled"
    if images.is_dir():
        for pair in parsed.pairs[:5] + parsed.pairs[-5:]:
            assert lfw_image_path(images, pair.name_a, pair.index_a).is_file()
            assert lfw_image_path(images, pair.name_b, pair.index_b).is_file()


def _templates(pairs: PairsFile, drop: str | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One template per identity (identical for one person, orthogonal across people); ``drop``: an FTA."""
    keys = sorted({(p.name_a, p.index_a) for p in pairs.pairs} | {(p.name_b, p.index_b) for p in pairs.pairs})
    people = sorted({k[0] for k in keys})
    files = [f"{n}/{n}_{i:04d}.jpg" for n, i in keys]
    vectors = np.zeros((len(keys), len(people)), np.float32)
    for row, (name, _) in enumerate(keys):
        vectors[row, people.index(name)] = 1.0
    acquired = np.array([f != drop for f in files])
    vectors[~acquired] = 0.0
    return files[::-1], vectors[::-1].copy(), acquired[::-1].copy()  # order of the cache does not matter


def test_lfw_protocol_on_precomputed_templates_counts_fta_as_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    files, vectors, acquired = _templates(parse_pairs(path))
    result, _ = evaluate_lfw_templates(
        tmp_path, path, files, vectors, acquired, detector="det", model_version="emb@v1+abc"
    )
    assert (result.accuracy_mean, result.fta_images, result.embedder, result.detector) == (1.0, 0, "emb", "det")
    files, vectors, acquired = _templates(parse_pairs(path), drop="Eve/Eve_0003.jpg")
    result, _ = evaluate_lfw_templates(tmp_path, path, files, vectors, acquired, detector="d", model_version="e@1")
    assert (result.fta_images, result.fta_pairs) == (1, 1)
    assert result.fold_accuracies[1] == pytest.approx(0.75)  # the mated pair with the FTA image is an error


def test_lfw_protocol_on_templates_refuses_missing_images(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    files, vectors, acquired = _templates(parse_pairs(path))
    with pytest.raises(InvalidDatasetError, match="no template"):
        evaluate_lfw_templates(tmp_path, path, files[1:], vectors[1:], acquired[1:], detector="d", model_version="e")


def test_eval_lfw_refuses_a_templates_file_that_is_not_a_cache(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from laneface.cli.app import app

    bad = tmp_path / "cache.npz"
    bad.write_bytes(b"not an npz archive")
    args = ["--data-dir", str(tmp_path), "eval", "lfw", "--lfw-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--pairs", str(_write(tmp_path, VALID)), "--templates", str(bad)])
    assert isinstance(result.exception, InvalidDatasetError)
    assert "not a template cache" in str(result.exception)


def test_lfw_protocol_needs_a_recipe_for_worker_processes(tmp_path: Path) -> None:
    from laneface.evaluation.lfw import evaluate_lfw

    path = _write(tmp_path, VALID)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        evaluate_lfw(tmp_path, path, object(), object(), workers=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="StackRecipe"):
        evaluate_lfw(tmp_path, path, object(), object(), workers=2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model_version", "embedder"),
    [("emb@v1+abc", "emb"), ("emb@v1+abc+tta", "emb+tta"), ("emb@v1+abc+flip", "emb+flip"), ("emb@v1+tta", "emb")],
)
def test_lfw_protocol_on_templates_names_the_augmentation(tmp_path: Path, model_version: str, embedder: str) -> None:
    path = _write(tmp_path, VALID)
    files, vectors, acquired = _templates(parse_pairs(path))
    result, _ = evaluate_lfw_templates(
        tmp_path, path, files, vectors, acquired, detector="d", model_version=model_version
    )
    assert result.embedder == embedder  # the result file is named after it
