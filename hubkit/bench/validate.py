"""Grader accuracy on a labelled validation set: how often a grader passes a wrong answer
(false pass) or fails a right one (false fail), per category and grader.

The set is `validation/*.yaml` beside the cases: per case, answers written the way models
answer (`<think>` blocks, markdown, other phrasings) labelled correct, and wrong answers a
careless grader would pass (hedges, negated mentions, the right number with the wrong
conclusion). Each case's own reference and wrong answers count too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hubkit.config import read_yaml, validate

HERE = Path(__file__).parent / "validation"
ACCURACY = HERE / "accuracy.json"  # the last full run, for the benchmark card; a test keeps it current
GOAL = 0.05  # at most this share of false passes and of false fails per category
# Graders that only look for the rubric's points in the text: a list of keywords with the wrong
# decision passes them. Their rates are measured and published, but the goal binds the judge
# (`--judge`) for these categories, not the keyword fallback.
NEEDS_JUDGE = {"rubric"}


class Labelled(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case: str
    correct: list[str] = Field(default_factory=list)
    wrong: list[str] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[Labelled]


@dataclass
class Tally:
    right: int = 0  # labelled correct
    false_fail: int = 0
    wrong: int = 0  # labelled wrong
    false_pass: int = 0
    misgraded: list[str] = field(default_factory=list)

    @property
    def rates(self) -> tuple[float, float]:
        return self.false_pass / max(self.wrong, 1), self.false_fail / max(self.right, 1)


def load_set(folder: Path = HERE) -> dict[str, Labelled]:
    """Labelled answers by case id (files may split a case's answers; they are joined)."""
    from hubkit.bench.cases import load_cases
    from hubkit.errors import ConfigError

    known = {c.id for c in load_cases()}
    out: dict[str, Labelled] = {}
    problems = []
    for path in sorted(folder.glob("*.yaml")):
        data, root = read_yaml(path)
        for item in validate(_File, data, path, root).answers:
            if item.case not in known:
                problems.append(f"{path}: unknown case {item.case!r}")
                continue
            old = out.get(item.case, Labelled(case=item.case))
            out[item.case] = Labelled(case=item.case, correct=[*old.correct, *item.correct],
                                      wrong=[*old.wrong, *item.wrong])  # fmt: skip
    if problems:
        raise ConfigError(problems)
    return out


def run(judge=None, folder: Path = HERE, kinds: set[str] | None = None) -> dict[tuple[str, str], Tally]:
    """(category, grader kind) -> tally over every labelled answer, the cases' own included
    (only the cases of these grader kinds, if given)."""
    from hubkit.bench.cases import load_cases
    from hubkit.bench.graders import grade

    labelled = load_set(folder)
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for case in load_cases():
        if kinds is not None and case.grader["kind"] not in kinds:
            continue
        extra = labelled.get(case.id, Labelled(case=case.id))
        kind = case.grader["kind"] if not (judge and case.grader["kind"] == "rubric") else f"judge:{judge.model}"
        t = tallies[(case.category, kind)]
        for text, ok in [(case.reference, True), *((a, True) for a in extra.correct),
                         *((a, False) for a in [*case.wrong, *extra.wrong])]:  # fmt: skip
            v = grade(case.grader, text, judge=judge, prompt=case.message())
            if ok:
                t.right += 1
                t.false_fail += not v.passed
            else:
                t.wrong += 1
                t.false_pass += v.passed
            if v.passed != ok:
                label = "false fail" if ok else "false pass"
                t.misgraded.append(f"{case.id}: {label}: {v.detail[:100]} <- {text[:80]!r}")
    return dict(tallies)


def coverage(folder: Path = HERE) -> dict[str, tuple[int, int]]:
    """Case id -> (correct, wrong) labelled answers, the case's own reference and wrongs included."""
    from hubkit.bench.cases import load_cases

    labelled = load_set(folder)
    out = {}
    for c in load_cases():
        extra = labelled.get(c.id, Labelled(case=c.id))
        out[c.id] = (1 + len(extra.correct), len(c.wrong) + len(extra.wrong))
    return out


def measured_on() -> dict:
    """What grader accuracy depends on: the graders' version, the cases, the labelled answers."""
    from hubkit.bench.cases import cases_fingerprint
    from hubkit.bench.graders import VERSION
    from hubkit.workspace import file_sha256, fingerprint

    labelled = fingerprint({p.name: file_sha256(p) for p in sorted(HERE.glob("*.yaml"))})
    return {"graders": VERSION, "cases": cases_fingerprint(), "labelled": labelled}


def record(tallies: dict[tuple[str, str], Tally]) -> dict:
    """What the benchmark card publishes: per category and grader, the counts, with what they were measured on."""
    rows = [{"category": cat, "grader": kind, "correct": t.right, "false_fail": t.false_fail, "wrong": t.wrong,
             "false_pass": t.false_pass} for (cat, kind), t in sorted(tallies.items())]  # fmt: skip
    return {**measured_on(), "rows": rows}


def recorded() -> dict | None:
    import json

    return json.loads(ACCURACY.read_text()) if ACCURACY.exists() else None
