"""The authored cases: complete, sound (selfcheck), gradable from the CLI, exported as a dataset."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hubkit.bench import CATEGORIES
from hubkit.bench.cases import load_cases
from hubkit.bench.selfcheck import data_problems, selfcheck
from tests.conftest import ROOT, run_cli


def test_ten_categories_times_levels_one_to_ten():
    cases = load_cases()
    assert len(cases) == 100
    for cat in CATEGORIES:
        assert sorted(c.level for c in cases if c.category == cat) == list(range(1, 11))
    assert len({c.id for c in cases}) == 100


def test_selfcheck_every_reference_passes_and_every_wrong_answer_fails():
    assert selfcheck(load_cases()) == []


def test_selfcheck_catches_broken_cases():
    case = next(c for c in load_cases() if c.id == "logic-06")
    loose = case.model_copy(update={"grader": {**case.grader, "constraints": case.grader["constraints"][:1]}})
    assert data_problems(loose) == ["logic-06: the puzzle has 3 solutions, not exactly one"]
    plan = next(c for c in load_cases() if c.id == "plan-03")
    wrong_opt = plan.model_copy(update={"grader": {**plan.grader, "optimal_cost": 13}})
    assert "the shortest route costs 12" in data_problems(wrong_opt)[0]
    swapped = plan.model_copy(update={"reference": plan.wrong[0], "wrong": [plan.reference]})
    assert selfcheck([swapped]) == [
        "plan-03: the reference answer fails its grader: cost 13, optimal is 12",
        "plan-03: wrong[0] passes its grader",
    ]


def _proxy(case) -> int:
    g = case.grader
    if g["kind"] == "constraints":
        return len(g["checks"])
    if g["kind"] == "rubric":
        return g["min_items"]
    return {"path": len(g.get("edges", [])), "knapsack": len(g.get("items", []))}.get(g.get("verifier"), 0)


@pytest.mark.parametrize("category", ["Constrained Creative Writing", "Complex Scenario Analysis", "Ethical Dilemma"])
def test_difficulty_rises_with_level_where_it_is_countable(category):
    sizes = [_proxy(c) for c in load_cases() if c.category == category]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


def test_planning_instances_grow_within_each_kind():
    plan = [c for c in load_cases() if c.category == "Planning & Optimization"]
    for kind in ("path", "knapsack"):
        sizes = [_proxy(c) for c in plan if c.grader["verifier"] == kind]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_cli_grade_reads_stdin_and_prints_a_json_verdict():
    answer = "<think>maybe 381</think>17 x 23 = \\boxed{391}"
    r = subprocess.run([sys.executable, "-m", "hubkit", "bench", "grade", "math-01"], input=answer,
                       capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"case": "math-01", "passed": True, "grader": "math", "detail": "equivalent to 391"}
    r = run_cli("bench", "grade", "nope-01")
    assert r.returncode == 2 and r.stderr.startswith("unknown case 'nope-01'")


def test_export_writes_a_typed_parquet_dataset_and_eval_yaml(tmp_path):
    import yaml
    from datasets import load_dataset

    r = run_cli("bench", "export", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    ds = load_dataset("parquet", data_files={"test": str(tmp_path / "data" / "*.parquet")}, split="test",
                      cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert ds.num_rows == 100
    assert ds.features["level"].dtype == "int8"
    row = ds[0]
    assert row["id"] == "cau-01" and json.loads(row["grader"])["kind"] == "facts"
    assert row["message"].startswith("Context:\n")
    tasks = [t["id"] for t in yaml.safe_load((tmp_path / "eval.yaml").read_text())["tasks"]]
    assert tasks[0] == "overall" and len(tasks) == 11
