"""Each grader passes a right answer, fails wrong ones, and never reads the reasoning."""

from __future__ import annotations

import pytest

from hubkit.bench.graders import grade

SCHEMA = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);
INSERT INTO users VALUES (1, 'ada'), (2, 'bob'), (3, 'cy');
INSERT INTO orders VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);
"""
REFERENCE = "SELECT u.name, SUM(o.total) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.name"
SQL = {"kind": "sql", "schema": SCHEMA, "reference": REFERENCE}


def test_sql_compares_result_sets_not_text():
    query = "SELECT name, SUM(total) FROM orders, users WHERE users.id = orders.user_id GROUP BY 1;"
    ok = f"Join and sum:\n```sql\n{query}\n```"
    assert grade(SQL, ok).passed
    assert not grade(
        SQL, "```sql\nSELECT name, COUNT(*) FROM users JOIN orders ON user_id = users.id GROUP BY 1\n```"
    ).passed
    assert not grade(SQL, "<think>```sql\n" + SQL["reference"] + "\n```</think>no idea").passed
    ordered = {**SQL, "reference": SQL["reference"] + " ORDER BY 2 DESC", "ordered": True}
    assert grade(ordered, f"```sql\n{ordered['reference']}\n```").passed
    assert not grade(ordered, "```sql\n" + SQL["reference"] + " ORDER BY 2 ASC\n```").passed


@pytest.mark.parametrize("evil", [
    "DELETE FROM users", "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA writable_schema = 1",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
])  # fmt: skip
def test_sql_answers_can_only_read_and_cannot_run_forever(evil):
    v = grade(SQL, f"```sql\n{evil}\n```")
    assert not v.passed and v.detail.startswith("query failed")


PY = {"kind": "python", "tests": "assert dedupe([3, 1, 3]) == [1, 3]\nassert dedupe([]) == []\n"}


def test_python_runs_hidden_tests_in_the_sandbox():
    fixed = "Fixed:\n```python\ndef dedupe(xs):\n    return sorted(set(xs))\n```"
    buggy = "```python\ndef dedupe(xs):\n    return list(set(xs))[::-1]\n```"
    assert grade(PY, fixed).passed
    v = grade(PY, buggy)
    assert not v.passed and "hidden tests failed" in v.detail
    assert not grade(PY, "no code here").passed
    v = grade({**PY, "timeout_s": 3, "cpu_s": 1}, "```python\ndef dedupe(xs):\n    while True: pass\n```\n")
    assert not v.passed


# Answers that stop the tests before they run, or return values that compare equal to anything:
# each one passed the hidden tests before the harness asked for proof and compared strictly.
EXPLOITS = {
    "sys.exit at import": "import sys\nsys.exit(0)\ndef dedupe(xs):\n    return xs",
    "os._exit at import": "import os\nos._exit(0)",
    "SystemExit at import": "raise SystemExit",
    "exit in the function": "def dedupe(xs):\n    raise SystemExit(0)",
    "os._exit in the function": "import os\ndef dedupe(xs):\n    os._exit(0)",
    "always-equal object": "class Any:\n    def __eq__(self, other):\n        return True\n"
                           "    def __ne__(self, other):\n        return False\n"
                           "def dedupe(xs):\n    return Any()",
    "always-equal list": "class L(list):\n    def __eq__(self, other):\n        return True\n"
                         "def dedupe(xs):\n    return L()",
    "forged proof": "import sys\nsys.audit('hubkit.done')\nprint('HUBKIT-DONE 0123')\nsys.exit(0)",
    "exit from atexit": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef dedupe(xs):\n    return None",
    # Looks for the nonce in every frame's locals and globals, then in objects the gc can see.
    "nonce hunt": "import sys, os, gc\nf = sys._getframe(0)\nwhile f is not None:\n"
                  "    for scope in (f.f_locals, f.f_globals):\n"
                  "        for v in list(scope.values()):\n"
                  "            if isinstance(v, str) and len(v) == 32:\n"
                  "                print('\\nHUBKIT-DONE ' + v, flush=True)\n"
                  "    f = f.f_back\n"
                  "try:\n    gc.get_objects()\nexcept PermissionError:\n    pass\nos._exit(0)",
}  # fmt: skip


@pytest.mark.parametrize("name", list(EXPLOITS))
def test_python_exploits_of_the_harness_fail(name):
    v = grade(PY, f"```python\n{EXPLOITS[name]}\n```")
    assert not v.passed, v.detail


def test_strict_comparison_keeps_what_a_correct_answer_returns():
    tests = "assert f() == [1, 2.0]\nassert f() != [1, 3]\nassert 2 in f()\nassert (1, 'a') in {(1, 'a'): 0}\n"
    assert grade({"kind": "python", "tests": tests}, "```python\ndef f():\n    return [1, 2]\n```").passed
    bools = {"kind": "python", "tests": "assert f() == 1\n"}
    assert not grade(bools, "```python\ndef f():\n    return True\n```").passed  # True is not 1


@pytest.mark.parametrize(("answer", "passed"), [
    ("So the probability is \\boxed{\\frac{3}{4}}.", True),
    ("Final answer: 0.75", True),
    ("\\boxed{3/4}", True),
    ("\\boxed{0.7}", False),
    ("<think>\\boxed{\\frac{3}{4}}</think> I think it is \\boxed{1/2}", False),
])  # fmt: skip
def test_math_uses_answer_equivalence(answer, passed):
    assert grade({"kind": "math", "answer": "\\frac{3}{4}"}, answer).passed is passed


def test_constraints_report_every_failed_check():
    spec = {
        "kind": "constraints",
        "checks": {"acrostic": "CODE", "lines": 4, "must_include": ["bug"], "forbid": ["very"]},
    }
    poem = "Catch the bug\nOne line at a time\nDebug the night\nEnd with a test"
    assert grade(spec, poem).passed
    v = grade(spec, poem.replace("Debug", "Very slowly debug"))
    assert not v.passed and v.detail == "failed: acrostic, forbid"


def test_verifiers_check_validity_and_optimality():
    logic = {"kind": "verifier", "verifier": "assignment", "variables": ["A", "B", "C"], "domain": [1, 2, 3],
             "constraints": ["len({A, B, C}) == 3", "A + 1 == B", "C < A"]}  # fmt: skip
    assert grade(logic, 'Final answer: {"A": 2, "B": 3, "C": 1}').passed
    assert not grade(logic, 'Final answer: {"A": 1, "B": 2, "C": 3}').passed
    assert not grade(logic, "A is 2").passed
    plan = {"kind": "verifier", "verifier": "path", "start": "S", "goal": "G", "optimal_cost": 4,
            "edges": [["S", "A", 1], ["A", "G", 3], ["S", "G", 5], ["S", "B", 2], ["B", "G", 4]]}  # fmt: skip
    assert grade(plan, '```json\n["S", "A", "G"]\n```').passed
    assert grade(plan, '```json\n["S", "G"]\n```').detail == "cost 5, optimal is 4"
    assert "no edge A->B" in grade(plan, '["S", "A", "B", "G"]').detail


def test_unknown_grader_kind():
    with pytest.raises(ValueError, match="unknown grader kind 'vibes'"):
        grade({"kind": "vibes"}, "x")


FRAC = {"kind": "math", "answer": "\\frac{11}{12}"}
PATH = {"kind": "verifier", "verifier": "path", "start": "A", "goal": "D", "optimal_cost": 4,
        "edges": [["A", "B", 2], ["A", "C", 7], ["A", "D", 7], ["B", "D", 2]]}  # fmt: skip


@pytest.mark.parametrize(("spec", "answer", "passed"), [
    # Hedges: the right answer offered beside a wrong one is not an answer.
    (FRAC, "\\boxed{\\frac{5}{6}} or \\boxed{\\frac{11}{12}}", False),
    (FRAC, "\\boxed{\\frac{11}{12}} (or maybe \\frac{5}{6})", False),
    (FRAC, "Final answer: either 5/6 or 11/12", False),
    (FRAC, "Final answer: 11/12 (or 5/6 if the second term is 1/12)", False),
    (PATH, 'Final answer: ["A", "B", "D"] or ["A", "D"]', False),
    (PATH, 'Final answer: ["A", "B", "D"], alternatively ["A", "D"]', False),
    # The same answer twice, an "or" that offers no value, the answer on the line after the marker.
    (FRAC, "3/4 + 1/6 = \\boxed{\\frac{11}{12}}. Check: 9/12 + 2/12 = \\boxed{11/12}", True),
    (FRAC, "Final answer: 11/12, in lowest terms or otherwise simplified", True),
    (FRAC, "**Final answer:**\n\\frac{11}{12}", True),
    (PATH, 'Final answer:\n```json\n["A", "B", "D"]\n```', True),
    # The final-answer line outranks an earlier fenced draft, in both directions.
    (PATH, '```json\n["A", "D"]\n```\nThat costs 7; B is cheaper.\nFinal answer: ["A", "B", "D"]', True),
    (PATH, '```json\n["A", "B", "D"]\n```\nHmm, the direct road.\nFinal answer: ["A", "D"]', False),
])  # fmt: skip
def test_hedges_fail_and_the_final_answer_is_what_is_graded(spec, answer, passed):
    v = grade(spec, answer)
    assert v.passed is passed, v.detail


def test_fence_labels_and_a_trailing_usage_example():
    fix = "def dedupe(xs):\n    return sorted(set(xs))"
    assert grade(PY, f"```python3\n{fix}\n```").passed
    assert grade(PY, f"```Python\n{fix}\n```").passed
    usage = f"Fixed:\n```python\n{fix}\n```\nExample usage:\n```python\nprint(dedupe([3, 1, 3]))\n```"
    assert grade(PY, usage).passed  # the example is not the fix
    from hubkit.bench.cases import case_by_id

    sql = case_by_id("sql-01")
    relabelled = sql.reference.replace("```sql", "```sqlite")
    assert relabelled != sql.reference and grade(sql.grader, relabelled).passed


@pytest.mark.parametrize(("name", "answer"), [
    ("special-cases the visible inputs", "def sum_to(n):\n    return {0: 0, 1: 1, 10: 55}.get(n, n * n)"),
    ("right values, wrong type", "def sum_to(n):\n    return n * (n + 1) / 2"),
    ("copies the reference out of the tests file",
     "src = open('hidden_tests.py').read()\nexec(src.split('_hubkit_ref = {}')[1].split('def _hubkit')[0])"),
])  # fmt: skip
def test_differential_tests_catch_answers_tuned_to_the_visible_checks(name, answer):
    from hubkit.bench.cases import case_by_id

    case = case_by_id("py-01")
    assert case.grader["differential"] and grade(case.grader, case.reference).passed
    v = grade(case.grader, f"```python\n{answer}\n```")
    assert not v.passed, v.detail


def test_sql_test_suite_separates_queries_right_only_on_the_case_data():
    from hubkit.bench.cases import case_by_id
    from hubkit.bench.graders.sql import generate
    from hubkit.bench.validate import load_set

    spec = case_by_id("sql-01").grader
    own_data_only = {k: v for k, v in spec.items() if k != "suite"}
    near_misses = [(a.case, a.text) for a in load_set() if a.case.startswith("sql-") and not a.correct]
    fooled = [a for c, a in near_misses if grade({**case_by_id(c).grader, "suite": None}, a).passed]
    assert len(near_misses) == 23 and len(fooled) >= 21  # the case's own rows cannot tell them apart...
    assert not any(grade(case_by_id(c).grader, a).passed for c, a in near_misses)  # ...the generated databases can
    assert grade(own_data_only, "```sql\nSELECT name FROM products WHERE price >= 20\n```").passed
    v = grade(spec, "```sql\nSELECT name FROM products WHERE price >= 20\n```")
    assert not v.passed and "test database" in v.detail

    tables = spec["suite"]["tables"]
    a, b = generate(tables, 7), generate(tables, 7)
    assert a == b and a != generate(tables, 8)  # seeded: every run grades on the same databases
    # `per` with rows [0, 3]: some categories have no products and some orders no items, so a query
    # that differs from the reference only there (sql-03, sql-09, sql-10) is told apart.
    dbs = [generate(tables, k) for k in range(101, 141)]
    assert any({r["category_id"] for r in db["products"]} != {r["id"] for r in db["categories"]} for db in dbs)
    assert any({r["order_id"] for r in db["order_items"]} != {r["id"] for r in db["orders"]} for db in dbs)
    assert len({r["name"] for r in a["customers"]}) == len(a["customers"])  # `pick`: names never repeat
    shuffled = {k: {**t, "columns": dict(reversed(t["columns"].items()))} for k, t in reversed(tables.items())}
    assert generate(shuffled, 7) == a  # the exported spec has its keys sorted: same databases


@pytest.mark.parametrize(("checks", "answer", "passed"), [
    ({"must_include": ["harbor"]}, "Boats rest in the harbour.", True),  # British spelling
    ({"must_include": ["rain"]}, "A rainy night.", True),  # an inflection
    ({"must_include": ["rain"]}, "The trains ran late.", False),  # only inside another word
    ({"must_include": ["shine"]}, "The sun was shining.", True),
    ({"must_include": ["shine"]}, "He hurt his shin.", False),  # a shorter word, not a form of it
    ({"forbid": ["the"]}, "They left at dawn.", True),  # "they" is not "the"
    ({"sentences": 1}, "Rain falls. Roofs shine.", False),
    ({"lines": 3}, "Here is the poem:\n\nOne line\nTwo lines\nThree lines", True),  # the introduction is not the poem
    ({"acrostic": "AB"}, "**A**pples\n**B**ears", True),  # markdown emphasis on the initials
    ({"json_keys": {"title": "string", "lines": "list[string]"}}, '```json\n{"title": "t", "lines": ["a"]}\n```', True),
    ({"json_keys": {"title": "string", "lines": "list[string]"}}, '{"title": "t", "lines": "a"}', False),
    ({"json_keys": {"title": "string", "lines": "list[string]"}}, '{"title": "t", "lines": ["a"], "x": 1}', False),
    ({"json_keys": {"title": "string", "lines": "list[string]"}}, "title: t, lines: a", False),
])  # fmt: skip
def test_writing_constraints_read_the_writing_not_the_keywords(checks, answer, passed):
    assert grade({"kind": "constraints", "checks": checks}, answer).passed is passed


@pytest.mark.parametrize(("answer", "passed"), [
    ("def pop_last(xs):\n    if not xs:\n        raise ValueError('empty')\n    return xs[-1]", True),
    ("def pop_last(xs):\n    return xs.pop()", False),  # right value, but empties the caller's list
    ("def pop_last(xs):\n    if not xs:\n        raise KeyError('empty')\n    return xs[-1]", False),  # wrong exception
    ("def pop_last(xs):\n    return xs[-1] if xs else None", False),  # returns where the reference raises
])  # fmt: skip
def test_differential_tests_compare_exceptions_and_argument_changes(answer, passed):
    reference = "```python\ndef pop_last(xs):\n    if not xs:\n        raise ValueError()\n    return xs[-1]\n```"
    spec = {"kind": "python", "tests": "assert pop_last([1, 2]) == 2\n", "reference": reference,
            "differential": {"function": "pop_last", "args": ["st.lists(st.integers(), max_size=3)"]}}  # fmt: skip
    v = grade(spec, f"```python\n{answer}\n```")
    assert v.passed is passed, v.detail


def test_knapsack_item_names_are_read_case_blind():
    from hubkit.bench.cases import case_by_id

    spec = case_by_id("plan-08").grader  # plan-08 once failed "Anchor" for "anchor"
    assert grade(spec, 'Final answer: ["Anchor", "Bell", "flute", "GLOBE", "harp"]').passed
    assert not grade(spec, 'Final answer: ["anchor", "Anchor", "flute", "globe", "harp"]').passed  # twice
    assert not grade(spec, 'Final answer: ["anchors", "bell", "flute", "globe", "harp"]').passed


def _labelled(case: str, correct: bool) -> list[str]:
    from hubkit.bench.validate import load_set

    return [a.text for a in load_set() if a.case == case and a.correct is correct]


def test_bench_validate_measures_both_halves_and_keeps_the_card_figures_current(tmp_path):
    from hubkit.bench.validate import HALVES, answers, coverage, half_of, load_set, run
    from hubkit.errors import ConfigError
    from tests.conftest import run_cli

    r = run_cli("bench", "validate", "--check")  # within the goal on both halves, and accuracy.json is current
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Mathematical" in r.stdout and "false pass" in r.stdout and "heldout" in r.stdout
    assert coverage()["math-01"][0] >= 3  # the reference plus labelled answers
    # The halves: a stable rule, and both cover every category.
    assert half_of("cau-01", "x") == half_of("cau-01", "x") == "dev"  # sha256("cau-01\nx")[0] is even
    assert {half_of("cau-01", str(i)) for i in range(8)} == set(HALVES)
    from hubkit.bench.cases import case_by_id

    cats = {h: {case_by_id(a.case).category for a in load_set() if a.half == h} for h in HALVES}
    assert cats["dev"] == cats["heldout"] and len(cats["dev"]) == 10
    assert all(a.half == "dev" for a in answers() if a.source == "case")  # the cases' own answers were seen

    # A mislabelled set is what a bad grader looks like from here: counted, over the goal; only the
    # development half's misgraded answers are listed.
    held = next(f"{i}" for i in range(9) if half_of("math-01", f"{i}") == "heldout")
    bad = f"answers:\n  - {{case: math-01, correct: ['0'], half: dev}}\n  - {{case: math-01, correct: ['{held}']}}\n"
    (tmp_path / "bad.yaml").write_text(bad)
    tallies = run(folder=tmp_path)
    d, h = tallies[("Mathematical Reasoning", "math", "dev")], tallies[("Mathematical Reasoning", "math", "heldout")]
    assert (h.right, h.false_fail, h.misgraded) == (1, 1, [])
    assert d.false_fail == 1 and [m.split(":")[1].strip() for m in d.misgraded] == ["false fail"]
    # A third source drops in without code changes: a file of held-out answers with its source.
    (tmp_path / "bad.yaml").write_text(
        "source: independent\nhalf: heldout\nanswers:\n  - {case: math-01, correct: ['391']}\n"
    )
    (a,) = load_set(tmp_path)
    assert (a.half, a.source, a.correct) == ("heldout", "independent", True)
    (tmp_path / "bad.yaml").write_text("answers:\n  - {case: math-99, correct: ['1']}\n")
    with pytest.raises(ConfigError, match="unknown case 'math-99'"):
        run(folder=tmp_path)
    (tmp_path / "bad.yaml").write_text("answers:\n  - {case: math-01, correct: ['1'], half: test}\n")
    with pytest.raises(ConfigError, match="half"):
        load_set(tmp_path)
