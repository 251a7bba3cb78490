"""`laneface sim --history`: outbound passages get a plate read, RFID reads and a history written as `laneface
run` lines that seed the ledger, so that the ledger's candidate lists hold the departing vehicle's people."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from test_sim_render import make_fake_lfw

from laneface.api.ingest import import_results_file
from laneface.config import PrivacySettings, RecordsSettings, Settings
from laneface.errors import ConfigError
from laneface.pipeline.candidates import CandidateQuery
from laneface.plates import PlateRead, plate_key
from laneface.records.audit import Actor
from laneface.records.candidates import LedgerCandidates
from laneface.records.crypto import BlobCipher, generate_key, parse_key
from laneface.records.service import RecordsService
from laneface.sim.population import HISTORY_FILE, Population, plan_history
from laneface.sim.scenario import load_scenario, parse_scenario
from laneface.sim.writer import simulate

DEPARTURES = {"inbound_share": 0.0, "outbound": {"speed_kmh": [25.0, 30.0]}}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lfw = make_fake_lfw(tmp_path_factory.mktemp("lfw"), travellers=14)
    out = tmp_path_factory.mktemp("sim")
    mix = {"commuter_share": 0.6, "visitor_share": 0.4, "plate_read_share": 1.0, "misread_share": 0.0}
    simulate(out, 3, 7, lfw, scenario=parse_scenario({**DEPARTURES, "population": mix}), history=True)
    return out


def _passages(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/passage.json"))


def test_history_lines_are_confirmed_earlier_crossings_of_the_departing_people(sim: Path) -> None:
    lines = [json.loads(x) for x in (sim / HISTORY_FILE).read_text().splitlines()]
    assert lines and [x["started_at"] for x in lines] == sorted(x["started_at"] for x in lines)
    for d in _passages(sim):
        passage = json.loads((d / "passage.json").read_text())
        truth = json.loads((d / "ground_truth.json").read_text())
        pop = truth["population"]
        assert passage["direction"] == "outbound" and pop["vehicle"] in ("commuter", "visitor")
        assert plate_key(passage["plate"]["text"]) == plate_key(pop["plate"]), "read every plate, no misreads"
        mine = [x for x in lines if x["passage_id"].startswith(f"H-{passage['passage_id']}-")]
        assert all(x["started_at"] < passage["started_at"].replace("Z", "+00:00") for x in mine)
        with_plate = [x for x in mine if "plate" in x]
        assert with_plate and all(x["plate"]["text"] == pop["plate"] for x in with_plate)
        assert with_plate[-1]["direction"] == "inbound", "the vehicle's last crossing brought it in"
        docs = {o["occupant_id"]: o["doc_id"] for o in truth["occupants"]}
        seen = {o["match"]["doc_id"] for x in with_plate for o in x["occupants"]}
        regulars = {docs[int(k)] for k, v in pop["occupants"].items() if v == "regular" or v.startswith("visitor")}
        assert seen == regulars
        assert set(passage["documents"]) <= set(docs.values())


def test_the_history_seeds_the_ledger_and_the_lists_hold_the_vehicles_people(sim: Path, tmp_path: Path) -> None:
    key = generate_key()
    settings = Settings(
        data_dir=tmp_path,
        records=RecordsSettings(database_url=f"sqlite:///{tmp_path / 'r.db'}"),
        privacy=PrivacySettings(encryption_key=key),
    )
    records = RecordsService.open(settings, BlobCipher(parse_key(key)))
    records.prepare_schema()
    admin = Actor("admin", "admin")
    for row in (sim / "manifest.csv").read_text().splitlines()[1:]:
        doc_id, _, doc_type, citizenship, _ = row.split(",")
        records.enroll_document(
            doc_id=doc_id, doc_type=doc_type, citizenship=citizenship, traveller_ref=None, opt_out=None, actor=admin
        )
    report = import_results_file(records, sim / HISTORY_FILE)
    assert report.imported and not report.refused
    ledger = LedgerCandidates(records.sessions)
    for d in _passages(sim):
        passage = json.loads((d / "passage.json").read_text())
        truth = json.loads((d / "ground_truth.json").read_text())
        at = datetime.fromisoformat(passage["started_at"].replace("Z", "+00:00"))
        plate = PlateRead(**passage["plate"])
        lists = {
            c.stage: c for c in ledger.lists(CandidateQuery("L", "outbound", at, plate, ("vehicle", "open_stays")))
        }
        docs = {o["occupant_id"]: o["doc_id"] for o in truth["occupants"]}
        known = {
            docs[int(k)]
            for k, v in truth["population"]["occupants"].items()
            if v == "regular" or v.startswith("visitor")
        }
        assert known <= set(lists["vehicle"].doc_ids)
        assert known <= set(lists["open_stays"].doc_ids), "each of them is in the country until this departure"
    records.close()


def test_plans_are_deterministic_and_follow_the_mix(sim: Path) -> None:
    from laneface.sim.scene import sample_scene

    people = [(f"id{k}", f"id{k}/a.jpg", f"DOC{k:03d}") for k in range(7)]
    scene = sample_scene(np.random.default_rng(1), "p", people, started_at="2026-05-01T10:00:00Z", night=False,
                         inbound=False)  # fmt: skip
    a = plan_history(np.random.default_rng([3, 5]), scene, Population())
    b = plan_history(np.random.default_rng([3, 5]), scene, Population())
    assert a.truth == b.truth and a.crossings == b.crossings
    none = Population(commuter_share=0.0, visitor_share=0.0, elsewhere_share=0.0, plate_read_share=0.0, rfid_share=0.0)
    plan = plan_history(np.random.default_rng(0), scene, none)
    assert plan.crossings == () and plan.plate is None and plan.scene.documents == ()
    assert set(plan.truth["occupants"].values()) == {"unknown"}
    every = replace(none, rfid_share=1.0, commuter_share=1.0, regular_share=1.0, plate_read_share=1.0)
    plan = plan_history(np.random.default_rng(0), scene, every)
    assert set(plan.scene.documents) == {o.doc_id for o in scene.occupants}
    assert set(plan.truth["occupants"].values()) == {"regular"} and len(plan.crossings) >= 6


def test_the_population_is_a_scenario_section() -> None:
    assert load_scenario("departures").inbound_share == 0.0
    assert load_scenario("departures").population == Population()
    assert parse_scenario({"population": {"trips": [1, 3]}}).population.trips == (1, 3)
    for bad, where in (
        ({"population": {"commuter_share": 1.5}}, "commuter_share"),
        ({"population": {"trips": [0, 3]}}, "trips"),
        ({"population": {"colour": 1}}, "colour"),
        ({"population": {"commuter_share": 0.7, "visitor_share": 0.5}}, "at most 1"),
    ):
        with pytest.raises(ConfigError, match=where):
            parse_scenario(bad)
