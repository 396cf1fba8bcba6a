"""Graders, one module per kind. Each exposes `grade(spec, response) -> Verdict`.

`response` is the model's raw output; graders strip the reasoning themselves (see
hubkit.bench.extract), so a `<think>` block can never be mistaken for an answer.
"""

from __future__ import annotations

from typing import Any

from hubkit.bench.graders.base import GraderUnavailable, Verdict

__all__ = ["KINDS", "NO_ANSWER", "VERSION", "GraderUnavailable", "Verdict", "grade", "grade_result", "label"]

NO_ANSWER = "no-answer"
# Part of every evaluation's fingerprint: bump it when a grader's verdicts change, so results
# graded the old way are never mixed with new ones. 2: proof-of-completion and strict
# comparisons for Python, the case's prompt sent to the judge. 3: SQL test databases, differential
# tests comparing exceptions and argument changes, the writing grader reading the writing,
# markdown-blind facts, lowest terms. 4: free-text cases graded by an exact conclusion line and
# required points (keywords with negation, unicode and synonyms, or a judge per point); item
# names of knapsack answers read case-blind; a grader that cannot run is an error, not a verdict.
# 5: a conclusion taken back after its line fails; a keyword list with longer items asserts
# nothing; distractor claims of six free-text cases. 6: jotted notes (short lines without verbs)
# assert nothing; distractor claims of five more cases, more phrasings of cau-08's same-age point.
# 7: an explanation that recommends another option fails; distractor claims of cau-07, sci-08, sci-10.
# 8: other options named in the answer's own words (`say`) fail it when recommended or blamed; an
# explanation that weighs the options as equal, a hedged line ("no, most likely") and an explanation
# of under six words fail; each case's natural misconceptions are contradictions; counterfactuals,
# supposed claims and the question restated assert nothing; accents folded; "close" reads "closing".
# 9: a sum written out wrong fails (graders/arithmetic.py), judge or not; short verbless sentences
# explain nothing; more recommending words and hedges; more misconceptions per case.
# 10: causes said to act together are blamed; 'not because X' and crossed table rows deny; a share of an
# amount is checked; a row of keywords with arrows states nothing; more hedges and misconceptions.
VERSION = 10


def grade_result(spec: dict[str, Any], result, judge=None, prompt: str = "") -> Verdict:
    """Grade a typed chat result: only its answer counts, and output cut inside its reasoning has none."""
    if not result.closed:
        why = "hit the token limit" if result.truncated else f"finish_reason {result.finish_reason}"
        return Verdict(False, NO_ANSWER, f"no answer: the output ended inside its reasoning ({why})")
    return grade(spec, result.content, judge=judge, prompt=prompt)


KINDS = ("conclusion", "constraints", "math", "python", "sql", "verifier")


def grade(spec: dict[str, Any], response: str, judge=None, prompt: str = "") -> Verdict:
    """Dispatch on `spec["kind"]`; a configured LLM `judge` decides the points of free-text
    (conclusion) cases, given the case's `prompt` (the message the model answered)."""
    from importlib import import_module

    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown grader kind {kind!r} (known: {', '.join(KINDS)})")
    module = import_module(f"hubkit.bench.graders.{'python_code' if kind == 'python' else kind}")
    if kind == "conclusion":
        return module.grade(spec, response, judge=judge, prompt=prompt)
    return module.grade(spec, response)


def label(kind: str, judge_model: str | None = None) -> str:
    """How cards name a grader kind (free-text cases say whether keywords or a judge read the points)."""
    if kind == "conclusion":
        from hubkit.bench.graders.conclusion import label as conclusion_label

        return conclusion_label(judge_model)
    return kind
