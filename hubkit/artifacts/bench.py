"""CMDR-Bench: the benchmark dataset (authored cases) and its evaluation of the release's models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, size_category
from hubkit.config import Benchmark, Release


@dataclass
class BenchArtifact(Artifact):
    kind = "benchmark"
    repo_type = "dataset"
    section: Benchmark | None = None

    def spec(self) -> dict[str, Any]:
        return {"benchmark": self.section.model_dump(mode="json")}

    def unavailable(self) -> str | None:
        return "CMDR-Bench cases and graders are not implemented yet"

    def card_context(self, path: Path) -> dict[str, Any]:
        b = self.section
        return {
            **super().card_context(path),
            "pretty_name": b.pretty_name or b.name,
            "cases": str(b.cases),
            "samples": str(b.samples),
            "evaluated": [self.release.model_ref(r) for r in b.evaluate],
        }

    def card_files(self, ctx: dict[str, Any]) -> dict[str, bytes]:
        """The Hub's benchmark registration: a task per category plus `overall`."""
        import yaml

        from hubkit.bench import CATEGORIES, task_id

        doc = {
            "name": ctx["pretty_name"],
            "description": f"{self.section.cases} reasoning cases in {len(CATEGORIES)} categories, levels 1-10, "
            "graded pass/fail; overall is the mean of the category pass rates.",
            "evaluation_framework": "hubkit",
            "tasks": [{"id": t, "config": "default", "split": "test"}
                      for t in ["overall", *(task_id(c) for c in CATEGORIES)]],
        }  # fmt: skip
        return {"eval.yaml": yaml.safe_dump(doc, sort_keys=False).encode()}

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
