"""CMDR-Bench: the benchmark dataset (authored cases) and its evaluation of the release's models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, size_category
from hubkit.bench import CATEGORIES
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
        from hubkit.errors import HubkitError

        cases = export(ctx.out, self.section.pretty_name or self.name)
        if len(cases) != self.section.cases:
            raise HubkitError(f"benchmark.cases is {self.section.cases}, but CMDR-Bench has {len(cases)} cases")
        ctx.report(f"{self.name}: exported {len(cases)} cases (parquet, eval.yaml)")

    def card_context(self, path: Path) -> dict[str, Any]:
        from hubkit.bench.cases import level_range

        b = self.section
        return {
            **super().card_context(path),
            "pretty_name": b.pretty_name or b.name,
            "cases": str(b.cases),
            "categories": str(len(CATEGORIES)),
            "levels": "{} to {}".format(*level_range()),
            "samples": str(b.samples),
            "evaluated": [self.release.model_ref(r) for r in b.evaluate],
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
