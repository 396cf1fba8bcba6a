"""Grader accuracy on a labelled validation set: how often a grader passes a wrong answer
(false pass) or fails a right one (false fail), per category, grader and half.

The set is `validation/*.yaml` beside the cases: per case, answers written the way models
answer (`<think>` blocks, markdown, other phrasings) labelled correct, and wrong answers a
careless grader would pass (hedges, negated mentions, the right keywords around the wrong
conclusion). Each case's own reference and wrong answers count too.

Two halves, so a grader is measured on answers it was not tuned on: an answer belongs to the
held-out half when the first byte of sha256("<case id>\\n<answer>") is odd, to the development
half when it is even (`half_of`); each case's own reference and wrong answers are development
answers (the graders' specs are written beside them). A file or an entry may set `half` (and
`source`, who wrote the answers) explicitly: answers written by someone who never saw the
graders are held out by nature (`half: heldout`). Graders are tuned on the development half
only, and `bench validate` lists the misgraded answers of that half only; the benchmark card
publishes the held-out figures.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hubkit.config import read_yaml, validate

HERE = Path(__file__).parent / "validation"
ACCURACY = HERE / "accuracy.json"  # the last full run, for the benchmark card; a test keeps it current
JUDGE_ACCURACY = HERE / "judge-accuracy.json"  # `bench validate --judge --write`: the judge's figures and identity
GOAL = 0.05  # at most this share of false passes and of false fails per category and half
HALVES = ("dev", "heldout")
Half = Literal["dev", "heldout"]


def half_of(case_id: str, answer: str) -> Half:
    """The half a labelled answer falls in, by a hash of its case and text (stable, documented)."""
    return "heldout" if hashlib.sha256(f"{case_id}\n{answer}".encode()).digest()[0] % 2 else "dev"


class Labelled(BaseModel):
    """One case's labelled answers (a file may hold several entries for one case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case: str
    correct: list[str] = Field(default_factory=list)
    wrong: list[str] = Field(default_factory=list)
    half: Half | None = None  # default: the file's, else by half_of()
    source: str | None = None  # who wrote them; default: the file's, else "hubkit"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    half: Half | None = None
    source: str | None = None
    answers: list[Labelled]


@dataclass(frozen=True)
class Answer:
    case: str
    text: str
    correct: bool
    half: Half
    source: str


@dataclass
class Tally:
    right: int = 0  # labelled correct
    false_fail: int = 0
    wrong: int = 0  # labelled wrong
    false_pass: int = 0
    misgraded: list[str] = field(default_factory=list)  # development half only

    @property
    def rates(self) -> tuple[float, float]:
        return self.false_pass / max(self.wrong, 1), self.false_fail / max(self.right, 1)


def load_set(folder: Path = HERE) -> list[Answer]:
    """Every labelled answer of the folder's files, with its half and source."""
    from hubkit.bench.cases import load_cases
    from hubkit.errors import ConfigError

    known = {c.id for c in load_cases()}
    out: list[Answer] = []
    problems = []
    for path in sorted(folder.glob("*.yaml")):
        data, root = read_yaml(path)
        f = validate(_File, data, path, root)
        for item in f.answers:
            if item.case not in known:
                problems.append(f"{path}: unknown case {item.case!r}")
                continue
            half, source = item.half or f.half, item.source or f.source or "hubkit"
            for texts, ok in ((item.correct, True), (item.wrong, False)):
                out += [Answer(item.case, t, ok, half or half_of(item.case, t), source) for t in texts]
    if problems:
        raise ConfigError(problems)
    return out


def answers(folder: Path = HERE) -> list[Answer]:
    """The labelled set with each case's own reference and wrong answers (development half)."""
    from hubkit.bench.cases import load_cases

    own = []
    for c in load_cases():
        own.append(Answer(c.id, c.reference, True, "dev", "case"))
        own += [Answer(c.id, w, False, "dev", "case") for w in c.wrong]
    return own + load_set(folder)


def run(judge=None, folder: Path = HERE, kinds: set[str] | None = None) -> dict[tuple[str, str, str], Tally]:
    """(category, grader, half) -> tally over every labelled answer, the cases' own included
    (only the cases of these grader kinds, if given). Free-text graders are named by how they
    read the points (keywords or the judge)."""
    from hubkit.bench.cases import load_cases
    from hubkit.bench.graders import grade, label

    cases = {c.id: c for c in load_cases()}
    tallies: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    for a in answers(folder):
        case = cases[a.case]
        if kinds is not None and case.grader["kind"] not in kinds:
            continue
        t = tallies[(case.category, label(case.grader["kind"], judge.model if judge else None), a.half)]
        v = grade(case.grader, a.text, judge=judge, prompt=case.message())
        if a.correct:
            t.right += 1
            t.false_fail += not v.passed
        else:
            t.wrong += 1
            t.false_pass += v.passed
        if v.passed != a.correct and a.half == "dev":
            what = "false fail" if a.correct else "false pass"
            t.misgraded.append(f"{a.case}: {what}: {v.detail[:100]} <- {a.text[:80]!r}")
    return dict(sorted(tallies.items()))


def coverage(folder: Path = HERE) -> dict[str, tuple[int, int]]:
    """Case id -> (correct, wrong) labelled answers, the case's own reference and wrongs included."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in answers(folder):
        out[a.case][0 if a.correct else 1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def measured_on() -> dict:
    """What grader accuracy depends on: the graders' version, the cases, the labelled answers."""
    from hubkit.bench.cases import cases_fingerprint
    from hubkit.bench.graders import VERSION
    from hubkit.workspace import file_sha256, fingerprint

    labelled = fingerprint({p.name: file_sha256(p) for p in sorted(HERE.glob("*.yaml"))})
    return {"graders": VERSION, "cases": cases_fingerprint(), "labelled": labelled}


def record(tallies: dict[tuple[str, str, str], Tally]) -> dict:
    """What the benchmark card publishes: per category, grader and half, the counts, and what they were measured on."""
    rows = [{"category": cat, "grader": kind, "half": half, "correct": t.right, "false_fail": t.false_fail,
             "wrong": t.wrong, "false_pass": t.false_pass}
            for (cat, kind, half), t in sorted(tallies.items())]  # fmt: skip
    return {**measured_on(), "rows": rows}


def recorded() -> dict | None:
    return json.loads(ACCURACY.read_text()) if ACCURACY.exists() else None


def _print_table(tallies: dict[tuple[str, str, str], Tally]) -> list[tuple[str, str, str]]:
    """The table of both halves; returns the (category, grader, half) rows over the goal."""
    from rich.console import Console
    from rich.table import Table

    table = Table("category", "grader", "half", "correct", "false fail", "wrong", "false pass")
    over = []
    for (cat, kind, half), t in tallies.items():
        fp, ff = t.rates
        table.add_row(cat, kind, half, str(t.right), f"{t.false_fail} ({100 * ff:.1f}%)", str(t.wrong),
                      f"{t.false_pass} ({100 * fp:.1f}%)")  # fmt: skip
        if fp > GOAL or ff > GOAL:
            over.append((cat, kind, half))
    Console(soft_wrap=True).print(table)
    return over


def main(judge_endpoint=None, *, verbose: bool = False, write: bool = False, check: bool = False,
         folder: Path = HERE) -> int:  # fmt: skip
    """`hubkit bench validate`: print both halves; the exit code (1 when the development half is
    over the goal or, with `check`, when accuracy.json is out of date). With a judge, only the free-text cases are
    graded (their points by the judge), and `write` records its figures in judge-accuracy.json."""
    from hubkit.errors import UsageError

    if judge_endpoint is not None and check:
        raise UsageError("--check keeps accuracy.json (the graders without a judge) current; run it without --judge")
    judge = None
    if judge_endpoint is not None:
        from hubkit.bench.graders.judge import Judge

        judge = Judge(judge_endpoint)
    tallies = run(judge=judge, folder=folder, kinds={"conclusion"} if judge else None)
    over = _print_table(tallies)
    for (cat, kind, _), t in tallies.items():
        if verbose or any(o[:2] == (cat, kind) for o in over):
            for line in t.misgraded:
                print(f"  {line}")
    heldout = sum(t.right + t.wrong for (_, _, h), t in tallies.items() if h == "heldout")
    print(f"misgraded answers are listed for the development half only ({heldout} held-out answers counted)")
    thin = [c for c, (ok, bad) in coverage(folder).items() if ok < 2 or bad < 2]
    if thin:
        print(f"{len(thin)} cases have fewer than 2 correct and 2 wrong labelled answers ({thin[0]} ...)")
    if write:
        from hubkit.bench.graders.judge import identity

        path, data = (JUDGE_ACCURACY, {"judge": identity(judge_endpoint), **record(tallies)}) if judge else \
            (ACCURACY, record(tallies))  # fmt: skip
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path.name}")
    elif check and recorded() != record(tallies):
        print(f"{ACCURACY.name} is out of date (cases, labelled answers or graders changed): "
              "run `hubkit bench validate --write`")  # fmt: skip
        return 1
    # Only the development half can fail the run: a check that failed on held-out figures would
    # invite tuning on them. Held-out figures over the goal are printed, and the card publishes them.
    for cat, kind, half in over:
        fp, ff = tallies[(cat, kind, half)].rates
        note = "" if half == "dev" else " (held out: published, not tuned on)"
        print(f"over the {100 * GOAL:.0f}% goal: {cat} ({kind}, {half}): false pass {100 * fp:.1f}%, "
              f"false fail {100 * ff:.1f}%{note}")
    return 1 if any(half == "dev" for *_, half in over) else 0


def _rate(bad: int, total: int) -> str:
    return f"{100 * bad / total:.1f}% ({bad}/{total})" if total else "n/a"


def card(judge_endpoint=None) -> dict:
    """What the benchmark card says of grader accuracy: per category, the held-out figures of the
    graders that produce its numbers (accuracy.json; with a judge configured, the free-text
    categories' figures come from judge-accuracy.json when it was measured with this judge)."""
    from hubkit.bench import CATEGORIES
    from hubkit.bench.cases import grader_kinds

    def heldout(data: dict | None) -> dict[tuple[str, str], dict] | None:
        if data is None or {k: data.get(k) for k in measured_on()} != measured_on():
            return None  # measured on other cases, graders or labelled answers
        return {(r["category"], r["grader"]): r for r in data["rows"] if r.get("half") == "heldout"}

    plain = heldout(recorded())
    judged = None
    if judge_endpoint is not None:
        from hubkit.bench.graders.judge import identity

        data = json.loads(JUDGE_ACCURACY.read_text()) if JUDGE_ACCURACY.exists() else None
        judged = heldout(data) if data and data.get("judge") == identity(judge_endpoint) else None
    rows, over, missing = {}, [], []
    model = judge_endpoint.model if judge_endpoint is not None else None
    for cat in CATEGORIES:
        label = grader_kinds(cat, model)
        source = judged if judge_endpoint is not None and label != grader_kinds(cat) else plain
        acc = [r for (c, k), r in (source or {}).items() if c == cat and k in label.split(", ")]
        if not acc:
            missing.append(cat)
        fp, wrong = sum(a["false_pass"] for a in acc), sum(a["wrong"] for a in acc)
        ff, right = sum(a["false_fail"] for a in acc), sum(a["correct"] for a in acc)
        rows[cat] = {"grader": label, "labelled": str(wrong + right) if acc else "not measured",
                     "false_pass": _rate(fp, wrong) if acc else "n/a",
                     "false_fail": _rate(ff, right) if acc else "n/a"}  # fmt: skip
        if acc and (fp > GOAL * wrong or ff > GOAL * right):
            over.append(cat)
    return {"rows": rows, "current": plain is not None, "goal": f"{100 * GOAL:.0f}%", "over_goal": over,
            "not_measured": missing}  # fmt: skip
