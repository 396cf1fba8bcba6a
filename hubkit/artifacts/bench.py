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

        cases = export(ctx.out, self.section.pretty_name or self.name)  # its count was checked at load
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
            **grading_context(b.judge),
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


def grading_context(judge=None) -> dict[str, Any]:
    """Per category: its grader, levels, an example, and the grader's measured accuracy on the
    held-out labelled answers (hubkit/bench/validate.py: `card`)."""
    from hubkit.bench.cases import load_cases
    from hubkit.bench.validate import card

    cases, acc = load_cases(), card(judge)
    rows = []
    for cat in CATEGORIES:
        mine = [c for c in cases if c.category == cat]
        example = min(mine, key=lambda c: c.level)
        rows.append({
            "category": cat, "cases": str(len(mine)), "example_id": example.id, "example": _one_line(example.task),
            "levels": f"{min(c.level for c in mine)}-{max(c.level for c in mine)}", **acc["rows"][cat],
        })  # fmt: skip
    return {"grading": rows, "accuracy_current": acc["current"], "accuracy_goal": acc["goal"],
            "over_goal": acc["over_goal"], "not_measured": acc["not_measured"],
            "judge": judge.model if judge is not None else None}  # fmt: skip


def problems(release: Release) -> list[tuple[tuple, str]]:
    """Checked when the config is loaded: `benchmark.cases` is what CMDR-Bench has."""
    from hubkit.bench.cases import load_cases

    b = release.benchmark
    if b is not None and b.cases != (n := len(load_cases())):
        return [(("benchmark", "cases"), f"is {b.cases}, but CMDR-Bench has {n} cases")]
    return []
