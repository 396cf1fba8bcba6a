"""Artifact kinds. Adding a kind is adding a module with `artifacts(release)` to KINDS."""

from __future__ import annotations

from hubkit.artifacts import bench, distill_data, distill_model, evaluation, merge, space
from hubkit.artifacts.base import Artifact, BuildContext
from hubkit.config import Release

KINDS = (distill_data, distill_model, merge, bench, evaluation, space)


def all_artifacts(release: Release) -> list[Artifact]:
    return [a for kind in KINDS for a in kind.artifacts(release)]


def config_checks() -> list:
    """What each kind checks of a release when it is loaded (config.load_release's `checks`)."""
    return [kind.problems for kind in KINDS if hasattr(kind, "problems")]


__all__ = ["KINDS", "Artifact", "BuildContext", "all_artifacts", "config_checks"]
