"""CMDR-Bench: the benchmark dataset (authored cases) and its evaluation of the release's models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, size_category
from hubkit.bench import CATEGORIES
from hubkit.bench import VERSION as BENCH_VERSION
from hubkit.config import Benchmark, Release


@dataclass
class BenchArtifact(Artifact):
    kind = "benchmark"
    repo_type = "dataset"
    section: Benchmark | None = None

    def spec(self) -> dict[str, Any]:
        from hubkit.bench.cases import cases_fingerprint

        # Only what decides the dataset: how models are evaluated belongs to the evaluation artifact.
        return {"benchmark": self.section.model_dump(mode="json", include={"name", "pretty_name", "cases"}),
                "cases_sha256": cases_fingerprint()}  # fmt: skip

    def build(self, ctx: BuildContext) -> None:
        from hubkit.bench.export import export
        cases = export(ctx.out, self.section.pretty_name or self.name)
        ctx.report(f"{self.name}: exported {len(cases)} cases (parquet, eval.yaml)")

    def card_context(self, path: Path) -> dict[str, Any]:
        from hubkit.bench.cases import level_range

        b = self.section
        return {
            **super().card_context(path),
            "pretty_name": b.pretty_name or b.name,
            "version": str(BENCH_VERSION),
            "cases": str(b.cases),
            "categories": str(len(CATEGORIES)),
            "levels": "{} to {}".format(*level_range()),
            "samples": str(b.samples),
            "evaluated": [self.release.model_ref(r) for r in b.evaluate],
            **grading_context(),
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import DatasetCardData

        rel = self.release
        return DatasetCardData(
            license=rel.license, language=rel.language, pretty_name=ctx["pretty_name"],
            task_categories=["text-generation", "question-answering"],
            size_categories=[size_category(self.section.cases)],
            tags=["benchmark", "reasoning", "evaluation", "hubkit"],
            configs=[{"config_name": "default", "data_files": [{"split": "test", "path": "data/test-*"}]}],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    return [BenchArtifact(release.benchmark.name, release, section=release.benchmark)] if release.benchmark else []


def _one_line(text: str, limit: int = 160) -> str:
    """A prompt as a table cell: code blocks elided, one line, pipes escaped, cut at a word."""
    text = " ".join(re.sub(r"```.*?```", "(code)", text, flags=re.S).split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return text.replace("|", "\\|")


def _rate(bad: int, total: int) -> str:
    return f"{100 * bad / total:.1f}% ({bad}/{total})" if total else "n/a"


def grading_context() -> dict[str, Any]:
    """Per category: its grader, levels, an example, and the grader's measured accuracy on the
    labelled answers (`hubkit bench validate --write`), if it was measured on these cases."""
    from hubkit.bench.cases import grader_kinds, load_cases
    from hubkit.bench.validate import GOAL, measured_on, recorded

    cases = load_cases()
    measured, now = recorded(), measured_on()
    current = measured is not None and {k: measured.get(k) for k in now} == now
    accuracy = {(r["category"], r["grader"]): r for r in measured["rows"]} if current else {}
    rows, over = [], []
    for cat in CATEGORIES:
        mine = [c for c in cases if c.category == cat]
        example = min(mine, key=lambda c: c.level)
        acc = [accuracy[(cat, k)] for k in grader_kinds(cat).split(", ") if (cat, k) in accuracy]
        fp, wrong = sum(a["false_pass"] for a in acc), sum(a["wrong"] for a in acc)
        ff, right = sum(a["false_fail"] for a in acc), sum(a["correct"] for a in acc)
        rows.append({
            "category": cat, "grader": grader_kinds(cat), "cases": str(len(mine)),
            "levels": f"{min(c.level for c in mine)}-{max(c.level for c in mine)}",
            "example_id": example.id, "example": _one_line(example.task),
            "false_pass": _rate(fp, wrong), "false_fail": _rate(ff, right), "labelled": str(wrong + right),
        })  # fmt: skip
        if any(a["false_pass"] > GOAL * a["wrong"] or a["false_fail"] > GOAL * a["correct"] for a in acc):
            over.append(cat)
    return {"grading": rows, "accuracy_current": current, "accuracy_goal": f"{100 * GOAL:.0f}%", "over_goal": over}


def problems(release: Release) -> list[tuple[tuple, str]]:
    """Checked when the config is loaded: `benchmark.cases` is what CMDR-Bench has."""
    from hubkit.bench.cases import load_cases

    b = release.benchmark
    if b is not None and b.cases != (n := len(load_cases())):
        return [(("benchmark", "cases"), f"is {b.cases}, but CMDR-Bench has {n} cases")]
    return []
