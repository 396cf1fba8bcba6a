"""The merged model: a mergekit merge of the release's distilled models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from hubkit.artifacts.base import Artifact, file_digest
from hubkit.config import Merge, Release
from hubkit.errors import UsageError


def referenced_models(release: Release) -> list[str]:
    """Model references in the mergekit config, in order (base_model included once)."""
    path = release.resolve(release.merge.config)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    refs = [m["model"] for m in doc.get("models", []) if isinstance(m, dict) and "model" in m]
    if doc.get("base_model") and doc["base_model"] not in refs:
        refs.append(doc["base_model"])
    return refs


def release_model_name(release: Release, ref: str) -> str | None:
    """The release model a reference means (`name` or `namespace/name`), else None (a Hub id)."""
    names = {m.name for m in release.models}
    name = ref.removeprefix(f"{release.namespace}/")
    return name if name in names else None


@dataclass
class MergeArtifact(Artifact):
    kind = "merge"
    repo_type = "model"
    section: Merge | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "merge": self.section.model_dump(mode="json"),
            "config_sha256": file_digest(self.release, self.section.config),
        }

    def unavailable(self) -> str | None:
        return "the merge stage is not implemented yet"


def artifacts(release: Release) -> list[Artifact]:
    if release.merge is None:
        return []
    parents = [release_model_name(release, r) for r in referenced_models(release)]
    return [
        MergeArtifact(release.merge.name, release, tuple(p for p in parents if p), release.merge)
    ]
