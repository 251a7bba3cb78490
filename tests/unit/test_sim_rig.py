"""The rig planner on a tiny fake LFW: every zone planned, rigs by cost, resolution, the recommendation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.test_sim_render import make_fake_lfw
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.sim.rig import RESOLUTIONS, plan_scenario
from laneface.sim.scenario import parse_scenario

SHORT = {"inbound_share": 0.5, "inbound": {"approach_s": [1.0, 1.5], "dwell_s": [4.0, 5.0], "booth_fps": 1}}


@pytest.fixture(scope="module")
def lfw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_lfw(tmp_path_factory.mktemp("lfw"))


def test_every_zone_is_planned_cheapest_first(lfw: Path) -> None:
    plans = plan_scenario(parse_scenario(SHORT), lfw, 4, 1, target=0.5)
    assert {p.zone for p in plans} <= {"approach", "booth", "drive-through"} and plans
    for plan in plans:
        costs = [(o.cameras, o.pixels_per_s) for o in plan.options]
        assert costs == sorted(costs)
        assert {o.resolution for o in plan.options} == set(RESOLUTIONS)
        for o in plan.options:
            assert 0.0 <= o.ceiling <= 1.0 and 0.0 <= o.occupants <= 1.0
            assert o.pixels_per_s == o.cameras * o.resolution[0] * o.resolution[1] * o.fps
        if plan.recommended is not None:
            assert plan.recommended.ceiling >= 0.5
            assert all(o.ceiling < 0.5 for o in plan.options[: plan.options.index(plan.recommended)])
        else:
            assert all(o.ceiling < 0.5 for o in plan.options)
        # the same cameras at a higher resolution never see less
        by_rig: dict[tuple[str, ...], list[float]] = {}
        for o in sorted(plan.options, key=lambda o: o.resolution):
            by_rig.setdefault(o.placements, []).append(o.occupants)
        assert all(v == sorted(v) for v in by_rig.values())


def test_booth_rigs_add_rows_and_never_lose_what_the_approach_had(lfw: Path) -> None:
    scenario = parse_scenario({**SHORT, "inbound_share": 1.0})
    plans = {p.zone: p for p in plan_scenario(scenario, lfw, 3, 2, target=1.0)}
    booth = plans["booth"]
    rows = {o.placements: o.occupants for o in booth.options if o.resolution == RESOLUTIONS[0]}
    for placements, share in rows.items():
        if len(placements) > 1:
            assert share >= rows[placements[:-1]], "another row's camera adds, never removes"
    assert min(o.occupants for o in booth.options) >= 0.0


def test_cli_rig_and_sim_still_renders(lfw: Path, tmp_path: Path) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text(
        "inbound_share = 0.5\n[inbound]\napproach_s = [1.0, 1.0]\ndwell_s = [3.0, 3.0]\nbooth_fps = 1\n", "utf-8"
    )
    runner = CliRunner()
    res = runner.invoke(
        app, ["sim", "rig", "--scenario", str(scen), "--passages", "2", "--lfw-dir", str(lfw), "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["target"] == 0.9 and data["zones"] and all(z["options"] for z in data["zones"])
    res = runner.invoke(app, ["sim", "--passages", "1", "--lfw-dir", str(lfw)])
    assert res.exit_code != 0 and "--out" in res.output
    res = runner.invoke(app, ["sim", "--out", str(tmp_path / "o"), "--passages", "1", "--lfw-dir", str(lfw), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "manifest.csv").is_file()
