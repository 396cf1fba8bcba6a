"""The jobs the CLI runs: status, build, release. Each reports progress through `report`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from hubkit.artifacts import Artifact, BuildContext
from hubkit.config import Release
from hubkit.errors import UsageError
from hubkit.graph import NOT_BUILT, STALE, UP_TO_DATE, Graph, State
from hubkit.workspace import Workspace, fingerprint

Report = Callable[[str], None]


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    state: State


def status(release: Release, workspace: Workspace, artifacts: list[Artifact] | None = None) -> list[Row]:
    graph = Graph(release, workspace, artifacts)
    return [Row(n, graph.nodes[n].kind, graph.state(n)) for n in graph.order]


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

    Outcomes: "built", "up to date". What this machine cannot build (`Artifact.check`) is
    refused before anything is built.
    """
    graph = Graph(release, workspace, artifacts)
    outcome: dict[str, str] = {}
    todo = graph.closure(targets)
    for name in todo:  # a bad recipe or a machine that cannot train fails now, not after an hour of data
        if force or graph.state(name).status in (NOT_BUILT, STALE):
            graph.nodes[name].check()
    for name in todo:
        art, st = graph.nodes[name], graph.state(name)
        if st.status == UP_TO_DATE and not force:
            report(f"{name}: up to date, nothing to do")
            outcome[name] = "up to date"
            continue
        why = "forced" if st.status == UP_TO_DATE else (st.reason or st.status)
        report(f"{name}: building ({why})")
        inputs = {dep: workspace.path(dep) for dep in art.inputs}
        with workspace.staging(name) as out:
            art.build(BuildContext(release, out, inputs, report, cache=workspace.root / ".journal" / name))
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
    counts = {k: list(outcome.values()).count(k) for k in ("built", "up to date")}
    report("summary: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["built"] == 0:
        report("nothing was rebuilt")
    return outcome


def train(release: Release, workspace: Workspace, name: str, *, force: bool = False, report: Report = print) -> str:
    """Build one distilled model whose dataset is built; every process of a launcher calls this.

    The main process (RANK 0) builds the artifact; the others only join the training, so
    `accelerate launch -m hubkit train MODEL` runs DDP/FSDP with the same code as one process.
    """
    graph = Graph(release, workspace)
    art = graph.nodes.get(name)
    if art is None or art.kind != "distill-model" or art.section.source != "train":
        known = ", ".join(m.name for m in release.models if m.source == "train") or "none"
        raise UsageError(f"{name!r} is not a distilled model to train in this config (trainable: {known})")
    for dep in art.inputs:
        if (st := graph.state(dep)).status != UP_TO_DATE:
            raise UsageError(f"{name}: its dataset {dep} is {st.status}; build it first: hubkit build {dep}")
    if graph.state(name).status == UP_TO_DATE and not force:
        report(f"{name}: up to date, nothing to do")
        return "up to date"
    if int(os.environ.get("RANK", "0")) == 0:
        build(release, workspace, [name], force=force, report=report)  # its inputs are up to date: only it builds
        return "built"
    from hubkit.train.sft import train as run

    art.check()
    run(art.job({d: workspace.path(d) for d in art.inputs}, workspace.root / ".journal" / name, lambda _: None))
    return "trained"


def release(
    release: Release,
    workspace: Workspace,
    *,
    hub: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    report: Report = print,
) -> dict[str, str]:
    """Build every stage (the evaluation included), render cards, publish.

    With no `hub`, publishing goes to a local Hub-compatible server started for the run,
    its data under `<workspace>/.hub` (the embedded offline default).
    """
    outcome = build(release, workspace, report=report)
    outcome["publish"] = publish(release, workspace, hub=hub, token=token, create_pr=create_pr, report=report)
    return outcome


def publish(
    release: Release,
    workspace: Workspace,
    *,
    hub: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    dry_run: bool = False,
    report: Report = print,
) -> str:
    from hubkit.hub.publish import publish_release

    cards(release, workspace, report=report, strict=True)
    if hub is not None:
        publish_release(release, workspace, hub, token, create_pr=create_pr, dry_run=dry_run, report=report)
        return f"published to {hub}"
    import secrets

    from hubkit.localhub.server import BackgroundHub

    root = workspace.root / ".hub"
    run_token = secrets.token_urlsafe(24)  # lives only for this run; never shown
    preview = "http://127.0.0.1:8808"  # where `hub serve` below will show it; repo lines link there
    with BackgroundHub(root, run_token) as local:
        report(f"publish: no --hub given; publishing to a local hub at {local.url} (data in {root})")
        publish_release(release, workspace, local.url, run_token, create_pr=create_pr,
                        dry_run=dry_run, report=report, browse=preview)  # fmt: skip
    report(
        f"preview it as the Hub will show it: HUBKIT_HUB_TOKEN=choose-one hubkit hub serve --root {root} "
        f"--port 8808 --open, then open {preview}/"
    )
    return f"published to the local hub in {root}"


def cards(release: Release, workspace: Workspace, *, report: Report = print, strict: bool = False) -> list[str]:
    """Render every built artifact's card, then lint them; returns the problems found.

    With `strict`, any problem stops here (so a broken card is never published).
    """
    from hubkit.cards.lint import lint_release
    from hubkit.cards.render import render_release
    from hubkit.errors import HubkitError

    written = render_release(release, workspace, report=report)
    nodes = Graph(release, workspace).nodes
    texts = {nodes[n].repo_id: (workspace.path(n) / "README.md").read_text() for n in written}
    # A link to an artifact that is not built yet is reported (render, `hubkit cards lint`) but does
    # not stop a publish: a release may publish its datasets before the GPU stages build the
    # models their cards link to. A link to no artifact of the release at all always stops it.
    problems = lint_release(release, texts, built=None if strict else set(texts))
    if strict and problems:
        more = f" (+{len(problems) - 1} more: hubkit cards lint)" if len(problems) > 1 else ""
        raise HubkitError(f"card problem: {problems[0]}{more}")
    return problems
