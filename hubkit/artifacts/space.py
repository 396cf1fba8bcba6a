"""The Gradio Space that puts the release's models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubkit.artifacts.base import Artifact
from hubkit.config import Release, Space


@dataclass
class SpaceArtifact(Artifact):
    kind = "space"
    repo_type = "space"
    section: Space | None = None

    def spec(self) -> dict[str, Any]:
        return {"space": self.section.model_dump(mode="json")}

    def unavailable(self) -> str | None:
        return "the comparison Space is not implemented yet"


def artifacts(release: Release) -> list[Artifact]:
    return [SpaceArtifact(release.space.name, release, section=release.space)] if release.space else []
