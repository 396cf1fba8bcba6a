"""Artifact dependencies: run order, fingerprints, and why an artifact is (not) up to date."""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from hubkit.artifacts.base import Artifact
from hubkit.config import Release
from hubkit.errors import UsageError
from hubkit.workspace import Workspace, fingerprint

UP_TO_DATE, STALE, NOT_BUILT = "up to date", "stale", "not built"


@dataclass(frozen=True)
class State:
    status: str
    reason: str = ""


class Graph:
    """The release's artifacts in dependency order, judged against a workspace: a command's plan.

    A command makes one and passes it down (build, cards, publish); "built" means up to date
    here and nowhere else. States are cached until `forget()` (after the workspace changed).
    """

    def __init__(self, release: Release, workspace: Workspace, artifacts: list[Artifact]):
        self.release = release
        self.workspace = workspace
        self.nodes = {a.name: a for a in artifacts}
        for a in self.nodes.values():
            for dep in a.inputs:
                if dep not in self.nodes:
                    raise UsageError(f"artifact {a.name!r} depends on unknown artifact {dep!r}")
        self.order = self._stable_order()
        self._keys: dict[str, str] = {}
        self._states: dict[str, State] = {}

    def _stable_order(self) -> list[str]:
        """Dependencies first; otherwise the order the config declares things in."""
        try:
            TopologicalSorter({n: a.inputs for n, a in self.nodes.items()}).prepare()
        except CycleError as exc:
            raise UsageError(f"dependency cycle: {' -> '.join(exc.args[1])}") from None
        order: list[str] = []

        def visit(name: str) -> None:
            if name not in order:
                for dep in self.nodes[name].inputs:
                    visit(dep)
                order.append(name)

        for name in self.nodes:
            visit(name)
        return order

    def key(self, name: str) -> str:
        """Fingerprint of what the config says this artifact should be (inputs included)."""
        if name not in self._keys:
            a = self.nodes[name]
            self._keys[name] = fingerprint(
                {"kind": a.kind, "spec": a.spec(), "inputs": {i: self.key(i) for i in a.inputs}}
            )
        return self._keys[name]

    def closure(self, targets: list[str] | None) -> list[str]:
        """`targets` and everything they depend on, in run order (all artifacts if None)."""
        if not targets:
            return list(self.order)
        unknown = [t for t in targets if t not in self.nodes]
        if unknown:
            known = ", ".join(self.order) or "none"
            raise UsageError(f"unknown artifact {unknown[0]!r} (known: {known})")
        wanted: set[str] = set()
        stack = list(targets)
        while stack:
            n = stack.pop()
            if n not in wanted:
                wanted.add(n)
                stack.extend(self.nodes[n].inputs)
        return [n for n in self.order if n in wanted]

    def built(self, name: str) -> bool:
        """Built means up to date: a manifest of an older config or input is not built."""
        return self.state(name).status == UP_TO_DATE

    def forget(self) -> None:
        """Drop cached states after the workspace changed."""
        self._states.clear()

    def state(self, name: str) -> State:
        if name not in self._states:
            self._states[name] = self._judge(name)
        return self._states[name]

    def _judge(self, name: str) -> State:
        a = self.nodes[name]
        manifest = self.workspace.manifest(name)
        if manifest is None:
            return State(NOT_BUILT)
        if manifest.get("spec_fingerprint") != fingerprint(a.spec()):
            return State(STALE, "config changed")
        recorded = manifest.get("inputs", {})
        for dep in a.inputs:
            dep_state = self.state(dep)
            if dep_state.status != UP_TO_DATE:
                return State(STALE, f"input {dep} is {dep_state.status}")
            dep_manifest = self.workspace.manifest(dep) or {}
            if recorded.get(dep) != dep_manifest.get("content"):
                return State(STALE, f"input {dep} was rebuilt")
        if set(recorded) != set(a.inputs):
            return State(STALE, "inputs changed")
        if manifest.get("fingerprint") != self.key(name):
            return State(STALE, "fingerprint changed")
        if bad := self.workspace.missing_files(name, manifest):
            more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
            return State(STALE, f"output files missing or changed: {', '.join(bad[:3])}{more}")
        return State(UP_TO_DATE)
