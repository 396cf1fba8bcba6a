"""What every grader returns (its own module, so graders need not import the package that dispatches to them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubkit.errors import HubkitError


@dataclass(frozen=True)
class Verdict:
    passed: bool
    grader: str  # which grader decided (e.g. "sql", "conclusion+keywords", "conclusion+judge:<model>")
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "grader": self.grader, "detail": self.detail}


class GraderUnavailable(HubkitError):
    """A grader that cannot run here (its sandbox cannot start or import what it needs): an
    evaluation error, never a failed sample."""
