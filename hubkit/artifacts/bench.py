"""CMDR-Bench: the benchmark dataset (authored cases) and its evaluation of the release's models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubkit.artifacts.base import Artifact
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


def artifacts(release: Release) -> list[Artifact]:
    return [BenchArtifact(release.benchmark.name, release, section=release.benchmark)] if release.benchmark else []
