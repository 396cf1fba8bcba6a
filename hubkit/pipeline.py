"""The jobs the CLI runs: status, build, release. Each reports progress through `report`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hubkit.artifacts import Artifact, BuildContext
from hubkit.config import Release
from hubkit.errors import NotAvailableError
from hubkit.graph import NOT_AVAILABLE, UP_TO_DATE, Graph, State
from hubkit.workspace import Workspace, fingerprint

Report = Callable[[str], None]

# Release stages after the artifact builds, in order; each later capability plugs in here.
RELEASE_STAGES: dict[str, Callable[[Release, Workspace, Report], None] | None] = {
    "evaluate": None,
    "render cards": None,
    "publish": None,
}


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    repo: str
    state: State


def status(
    release: Release, workspace: Workspace, artifacts: list[Artifact] | None = None
) -> list[Row]:
    graph = Graph(release, workspace, artifacts)
    return [
        Row(
            n,
            graph.nodes[n].kind,
            f"{graph.nodes[n].repo_type}:{graph.nodes[n].repo_id}",
            graph.state(n),
        )
        for n in graph.order
    ]


def build(
    release: Release,
    workspace: Workspace,
    targets: list[str] | None = None,
    *,
    force: bool = False,
    report: Report = print,
    artifacts: list[Artifact] | None = None,
) -> dict[str, str]:
    """Build `targets` (all if None) and their inputs; returns what happened to each artifact.

    Outcomes: "built", "up to date", "not available". Asking by name for an artifact that
    cannot be built raises NotAvailableError after the others are done.
    """
    graph = Graph(release, workspace, artifacts)
    outcome: dict[str, str] = {}
    for name in graph.closure(targets):
        art, st = graph.nodes[name], graph.state(name)
        if st.status == NOT_AVAILABLE:
            report(f"{name}: not available: {st.reason}")
            outcome[name] = "not available"
            continue
        if st.status == UP_TO_DATE and not force:
            report(f"{name}: up to date, nothing to do")
            outcome[name] = "up to date"
            continue
        why = "forced" if st.status == UP_TO_DATE else (st.reason or st.status)
        report(f"{name}: building ({why})")
        inputs = {dep: workspace.path(dep) for dep in art.inputs}
        with workspace.staging(name) as out:
            art.build(BuildContext(release, out, inputs, report))
            Workspace.write_manifest(
                out,
                {
                    "artifact": name,
                    "kind": art.kind,
                    "repo_id": art.repo_id,
                    "repo_type": art.repo_type,
                    "release_version": release.version,
                    "config": art.spec(),
                    "spec_fingerprint": fingerprint(art.spec()),
                    "fingerprint": graph.key(name),
                    "inputs": {d: (workspace.manifest(d) or {}).get("content") for d in art.inputs},
                },
            )
        graph.forget()
        outcome[name] = "built"
        report(f"{name}: built -> {workspace.path(name)}")
    missing = [t for t in (targets or []) if outcome.get(t) == "not available"]
    if missing:
        raise NotAvailableError(
            f"artifact {missing[0]!r} is not available: {graph.state(missing[0]).reason}"
        )
    counts = {k: list(outcome.values()).count(k) for k in ("built", "up to date", "not available")}
    report("summary: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["built"] == 0:
        report("nothing was rebuilt")
    return outcome


def release(release: Release, workspace: Workspace, *, report: Report = print) -> dict[str, str]:
    """Build every stage, then evaluate, render cards and publish (where implemented)."""
    outcome = build(release, workspace, report=report)
    for stage, run in RELEASE_STAGES.items():
        if run is None:
            report(f"{stage}: not available yet")
            outcome[stage] = "not available"
        else:
            run(release, workspace, report)
            outcome[stage] = "done"
    return outcome
