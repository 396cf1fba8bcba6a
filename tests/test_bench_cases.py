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
    return {"path": len(g.get("edges", [])), "knapsack": len(g.get("items", []))}.get(g.get("verifier"), 0)


def test_difficulty_rises_with_level_where_it_is_countable():
    sizes = [_proxy(c) for c in load_cases() if c.category == "Constrained Creative Writing"]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


FREE_TEXT = ["Causal Reasoning (RAG)", "Scientific Explanation (RAG)", "Complex Scenario Analysis", "Ethical Dilemma"]


@pytest.mark.parametrize("category", FREE_TEXT)
def test_free_text_cases_grow_in_evidence_not_in_points(category):
    """Harder free-text cases give more evidence and distractors to read; they do not ask for more keywords."""
    from hubkit.bench.graders.conclusion import Spec

    cases = [c for c in load_cases() if c.category == category]
    words = [len(c.message().split()) for c in cases]
    assert words == sorted(words) and len(set(words)) == len(words), words
    specs = [Spec.model_validate(c.grader) for c in cases]
    assert all(1 <= (s.need or len(s.points)) <= 3 for s in specs)


@pytest.mark.parametrize("category", FREE_TEXT)
def test_free_text_prompts_state_the_conclusion_line_and_its_options(category):
    from hubkit.bench.graders.conclusion import Spec

    for case in (c for c in load_cases() if c.category == category):
        c = Spec.model_validate(case.grader).conclusion
        for option in c.options:
            assert f"`{c.label}: {option}`" in case.message(), (case.id, option)
        assert case.reference.rstrip().endswith(f"{c.label}: {c.answer}"), case.id


def test_a_comma_in_an_inline_mapping_is_a_load_error_not_a_stray_key(tmp_path):
    """scen-06 once had `{description: checks the checkout change first (recent, controllable)}`:
    YAML read it as two keys, and the exported spec carried `"controllable)": null`."""
    import shutil

    from hubkit.bench.cases import HERE
    from hubkit.errors import ConfigError

    for f in HERE.glob("*.yaml"):
        shutil.copy(f, tmp_path)
    text = (tmp_path / "scenario.yaml").read_text()
    import re

    flow = "        - {id: serve, point: serves (filter, tea), any: [tea]}\n"  # YAML reads a key 'tea)'
    broken, n = re.subn(r"        - id: serve\n          point: .*\n          any: .*\n", flow, text)
    assert n == 1
    (tmp_path / "scenario.yaml").write_text(broken)
    with pytest.raises(ConfigError, match=r"scen-01: points\.0\.tea\)"):
        load_cases.__wrapped__(tmp_path)


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
    assert row["id"] == "cau-01" and json.loads(row["grader"])["kind"] == "conclusion"
    assert row["message"].startswith("Context:\n")
    tasks = [t["id"] for t in yaml.safe_load((tmp_path / "eval.yaml").read_text())["tasks"]]
    assert tasks[0] == "overall" and len(tasks) == 11
