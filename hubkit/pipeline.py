"""The jobs the CLI runs: status, build, train, release, cards, publish, eval, and `work` (what a
Hugging Face Job runs). Each reports progress through `report`.

A command computes its plan once (`plan`: the release's artifacts judged against the
workspace) and passes it down: the build updates it, card rendering and publishing read it.
An artifact placed on Jobs (`compute.jobs`) builds there with the same code (`_build_one`, run by
`work` in the Job); the build here stages its inputs, waits and brings it back (hubkit/hub/jobs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hubkit.artifacts import Artifact, BuildContext, all_artifacts
from hubkit.bench.results import Results, load_results
from hubkit.config import Release, details_name
from hubkit.errors import HubkitError, UsageError
from hubkit.graph import NOT_BUILT, STALE, UP_TO_DATE, Graph, State
from hubkit.workspace import Workspace, fingerprint

Report = Callable[[str], None]


def load(path) -> Release:
    """The release config at `path`, checked whole: schema, references, and what every kind checks."""
    from hubkit.artifacts import config_checks
    from hubkit.config import load_release

    return load_release(path, checks=config_checks())


def plan(release: Release, workspace: Workspace, artifacts: list[Artifact] | None = None) -> Graph:
    """The command's one plan: every artifact of the release (or `artifacts`), judged against `workspace`."""
    return Graph(release, workspace, artifacts if artifacts is not None else all_artifacts(release))


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    state: State
    where: str = "here"  # or "Jobs <flavor>, timeout <t>, at most $<price x timeout>"


def status(release: Release, workspace: Workspace, artifacts: list[Artifact] | None = None,
           endpoint: str | None = None) -> list[Row]:  # fmt: skip
    """Every artifact's state and where it builds; prices of Jobs from `endpoint`'s /api/jobs/hardware."""
    graph = plan(release, workspace, artifacts)
    placed = [graph.nodes[n].jobs for n in graph.order if graph.nodes[n].jobs is not None]
    prices: dict[str, float] | str = {}
    if placed:
        from hubkit.hub import jobs

        endpoint = endpoint or jobs.default_endpoint()
        try:
            prices = jobs.prices(endpoint, jobs.jobs_token(placed[0].token_env))
        except Exception as exc:  # a status without prices is still a status
            from hubkit.hub.retry import first_line
            from hubkit.secrets import redact

            prices = f"price unknown: {endpoint}: {redact(first_line(exc))[:120]}"
    return [Row(n, graph.nodes[n].kind, graph.state(n), where(graph.nodes[n], prices)) for n in graph.order]


def where(art: Artifact, prices: dict[str, float] | str) -> str:
    """Where `art` builds, with a Job's price cap (price x timeout)."""
    j = art.jobs
    if j is None:
        return "here"
    place = f"Jobs {j.flavor}, timeout {j.timeout}"
    if isinstance(prices, str):
        return f"{place} ({prices})"
    if j.flavor not in prices:
        return f"{place} (no price for {j.flavor} on this hub)"
    cap = prices[j.flavor] * j.seconds
    return f"{place}, at most " + (f"${cap:,.2f}" if cap >= 0.01 else "$0.01")


def build(
    release: Release,
    workspace: Workspace,
    targets: list[str] | None = None,
    *,
    force: bool = False,
    report: Report = print,
    artifacts: list[Artifact] | None = None,
    graph: Graph | None = None,
    endpoint: str | None = None,
    here: bool = False,
) -> dict[str, str]:
    """Build `targets` (all if None) and their inputs; returns "built" or "up to date" per artifact.

    What this machine cannot build (`Artifact.check`) is refused before anything is built. An
    artifact placed on Jobs builds as a Job on `endpoint` (default HF_ENDPOINT), unless `here`.
    """
    from hubkit.train.launch import under_launcher

    if under_launcher():  # every process would build every artifact
        raise UsageError("under a multi-process launcher (accelerate launch, torchrun) use `hubkit train MODEL`")
    return _build(graph or plan(release, workspace, artifacts), targets, force=force, report=report,
                  endpoint=endpoint, here=here)  # fmt: skip


def _build(graph: Graph, targets: list[str] | None, *, force: bool, report: Report, endpoint: str | None = None,
           here: bool = False) -> dict[str, str]:  # fmt: skip
    workspace = graph.workspace
    outcome: dict[str, str] = {}
    todo = graph.closure(targets)
    remote = {n for n in todo if graph.nodes[n].jobs is not None and not here}
    for name in todo:  # a bad recipe or a machine that cannot train fails now, not after an hour of data
        if force or graph.state(name).status in (NOT_BUILT, STALE):
            if name in remote:
                from hubkit.hub import jobs

                jobs.check(graph, name, endpoint or jobs.default_endpoint())
            else:
                graph.nodes[name].check()
    for name in todo:
        st = graph.state(name)
        if st.status == UP_TO_DATE and not force:
            report(f"{name}: up to date, nothing to do")
            outcome[name] = "up to date"
            continue
        why = "forced" if st.status == UP_TO_DATE else (st.reason or st.status)
        if name in remote:
            from hubkit.hub import jobs

            report(f"{name}: building as a Hugging Face Job ({why})")
            jobs.build(graph, name, endpoint, report, force=force)
        else:
            report(f"{name}: building ({why})")
            _build_one(graph, name, report)
        graph.forget()
        outcome[name] = "built"
        report(f"{name}: built -> {workspace.path(name)}")
    counts = {k: list(outcome.values()).count(k) for k in ("built", "up to date")}
    report("summary: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["built"] == 0:
        report("nothing was rebuilt")
    return outcome


def _build_one(graph: Graph, name: str, report: Report) -> None:
    """Build one artifact from the inputs in the workspace, here: its folder and manifest."""
    release, workspace, art = graph.release, graph.workspace, graph.nodes[name]
    contents = {dep: workspace.manifest(dep)["content"] for dep in art.inputs}
    with workspace.staging(name) as out:
        ctx = BuildContext(release, out, {dep: workspace.path(dep) for dep in art.inputs}, report,
                           cache=workspace.journal(name), contents=contents)  # fmt: skip
        art.build(ctx)
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
                "inputs": contents,
            },
        )


def work(endpoint: str, repo: str, revision: str, *, report: Report = print) -> str:
    """What a Hugging Face Job runs (`hubkit jobs work`): the plan the runner staged at `revision` of
    `repo` ("model:ns/name"), its inputs pulled and checked, the artifact built here with the same
    code as everywhere, its output and manifest committed to the staging branch. Returns that commit."""
    from hubkit import secrets
    from hubkit.hub import jobs
    from hubkit.hub.auth import hf_api

    repo_type, _, repo_id = repo.partition(":")
    if repo_type not in ("model", "dataset") or "/" not in repo_id:
        raise UsageError(f"--repo {repo!r}: expected model:NAMESPACE/NAME or dataset:NAMESPACE/NAME")
    root = Path.cwd()  # the Job's scratch folder
    api = hf_api(endpoint, secrets.from_env("HF_TOKEN"))
    job = jobs.fetch_plan(api, repo_type, repo_id, revision, root / "given")
    release = load(root / "given" / jobs.JOB_FOLDER / "project" / job["config"])
    graph = plan(release, Workspace(root / "workspace"))
    name = job["artifact"]
    if name not in graph.nodes or graph.key(name) != job["key"]:
        raise HubkitError(f"{name}: this hubkit plans another fingerprint than the build that started this Job "
                          f"({job['key'][:12]}): the Job's hubkit is not the runner's")  # fmt: skip
    for dep, pin in job["inputs"].items():
        report(f"{name}: input {dep} from {pin['repo_id']}@{pin['revision'][:12]}")
        manifest = jobs.pull(api, pin["repo_type"], pin["repo_id"], pin["revision"], graph.workspace.path(dep))
        if manifest.get("content") != pin["content"]:
            raise HubkitError(f"{name}: input {dep} at {pin['revision'][:12]} is not the content the runner staged")
    graph.nodes[name].check()
    report(f"{name}: building")
    _build_one(graph, name, report)
    out = job["output"]
    sha = jobs.push(api, out["repo_type"], out["repo_id"], graph.workspace.path(name), graph.workspace.manifest(name),
                    out["branch"], f"hubkit: {name} built by a Job", delete_job=True)  # fmt: skip
    report(f"{name}: built; output committed to {out['repo_id']}@{out['branch']} ({sha[:12]})")
    return sha


def train(release: Release, workspace: Workspace, name: str, *, force: bool = False, report: Report = print) -> str:
    """Build one distilled model whose dataset is built; every process of a launcher calls this.

    The main process builds the artifact; the others only join the training, so
    `accelerate launch -m hubkit train MODEL` runs DDP/FSDP with the same code as one process.
    """
    from hubkit.train.launch import is_main_process

    graph = plan(release, workspace)
    art = graph.nodes.get(name)
    if art is None or art.kind != "distill-model":
        known = ", ".join(m.name for m in release.models) or "none"
        raise UsageError(f"{name!r} is not a distilled model to train in this config (trainable: {known})")
    for dep in art.inputs:
        if (st := graph.state(dep)).status != UP_TO_DATE:
            raise UsageError(f"{name}: its dataset {dep} is {st.status}; build it first: hubkit build {dep}")
    if graph.built(name) and not force:
        report(f"{name}: up to date, nothing to do")
        return "up to date"
    if is_main_process():
        _build(graph, [name], force=force, report=report, here=True)  # its inputs are up to date: only it builds
        return "built"
    from hubkit.train.sft import train as run

    art.check()
    run(art.job({d: workspace.path(d) for d in art.inputs}, {d: workspace.manifest(d)["content"] for d in art.inputs},
                workspace.journal(name), lambda _: None))  # fmt: skip
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
    its data under `<workspace>/.hub` (the embedded offline default). Artifacts placed on Jobs
    build as Jobs on `hub` (with no `hub`, on HF_ENDPOINT).
    """
    graph = plan(release, workspace)
    outcome = build(release, workspace, report=report, graph=graph, endpoint=hub)
    outcome["publish"] = publish(release, workspace, hub=hub, token=token, create_pr=create_pr, report=report,
                                 graph=graph)  # fmt: skip
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
    graph: Graph | None = None,
) -> str:
    from hubkit.hub.publish import publish_release

    graph = graph or plan(release, workspace)
    cards(release, workspace, report=report, strict=True, graph=graph)
    if hub is not None:
        publish_release(graph, hub, token, create_pr=create_pr, dry_run=dry_run, report=report)
        return f"published to {hub}"
    import secrets

    from hubkit.localhub.server import BackgroundHub

    root = workspace.hub_root
    run_token = secrets.token_urlsafe(24)  # lives only for this run; never shown
    preview = "http://127.0.0.1:8808"  # where `hub serve` below will show it; repo lines link there
    with BackgroundHub(root, run_token) as local:
        report(f"publish: no --hub given; publishing to a local hub at {local.url} (data in {root})")
        publish_release(graph, local.url, run_token, create_pr=create_pr, dry_run=dry_run, report=report,
                        browse=preview)  # fmt: skip
    report(
        f"preview it as the Hub will show it: HUBKIT_HUB_TOKEN=choose-one hubkit hub serve --root {root} "
        f"--port 8808 --open, then open {preview}/"
    )
    return f"published to the local hub in {root}"


def results(release: Release, workspace: Workspace | None = None, graph: Graph | None = None) -> Results | None:
    """hubkit's own evaluation when it is up to date, else the configured results file, else None."""
    bench = release.benchmark
    if workspace is not None and bench is not None and bench.evaluate:
        from hubkit.artifacts.evaluation import RESULTS

        graph = graph or plan(release, workspace)
        if graph.built(name := details_name(bench)):
            return Results.model_validate_json((workspace.path(name) / RESULTS).read_text())
    if bench is None or bench.results is None:
        return None
    return load_results(release.resolve(bench.results))


def render_cards(graph: Graph, report: Report = print) -> dict[str, list[str]]:
    """Write the card of every built artifact into its folder; returns its files by artifact."""
    from hubkit.cards.render import render_artifact
    from hubkit.workspace import file_sha256

    ws = graph.workspace
    found = results(graph.release, ws, graph)
    written: dict[str, list[str]] = {}
    for name in graph.order:
        if not graph.built(name):
            continue
        folder = ws.path(name)
        files = render_artifact(graph.nodes[name], folder, graph.release, found)
        manifest = ws.manifest(name)
        for old in manifest.get("card_files", {}):
            if old not in files:
                (folder / old).unlink(missing_ok=True)
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        manifest["card_files"] = {
            path: {"size": len(data), "sha256": file_sha256(folder / path)} for path, data in sorted(files.items())
        }
        Workspace.save_manifest(folder, manifest)
        written[name] = sorted(files)
        report(f"{name}: card rendered ({', '.join(sorted(files))})")
    return written


def cards(release: Release, workspace: Workspace, *, report: Report = print, strict: bool = False,
          graph: Graph | None = None) -> list[str]:  # fmt: skip
    """Render every built artifact's card, then lint them; returns the problems found.

    With `strict`, any problem stops here (so a broken card is never published).
    """
    from hubkit.cards.lint import lint_release

    graph = graph or plan(release, workspace)
    written = render_cards(graph, report)
    texts = {graph.nodes[n].repo_id: (workspace.path(n) / "README.md").read_text() for n in written}
    # A link to an artifact that is not built yet is reported (render, `hubkit cards lint`) but does
    # not stop a publish: a release may publish its datasets before the GPU stages build the
    # models their cards link to. A link to no artifact of the release at all always stops it.
    problems = lint_release(release, texts, built=None if strict else set(texts))
    if strict and problems:
        more = f" (+{len(problems) - 1} more: hubkit cards lint)" if len(problems) > 1 else ""
        raise HubkitError(f"card problem: {problems[0]}{more}")
    return problems


def lint_cards(release: Release, workspace: Workspace) -> tuple[int, list[str]]:
    """(cards checked, problems) of the cards already rendered for every built artifact."""
    from hubkit.cards.lint import lint_release

    graph = plan(release, workspace)
    texts, problems = {}, []
    for name in graph.order:
        if not graph.built(name):
            continue
        card, repo_id = workspace.path(name) / "README.md", graph.nodes[name].repo_id
        if card.is_file():
            texts[repo_id] = card.read_text()
        else:
            problems.append(f"{repo_id}: README.md: not rendered (run hubkit cards render)")
    return len(texts), problems + lint_release(release, texts, built=set(texts))


def built_models(release: Release, workspace: Workspace) -> dict[str, Path]:
    """References a merge config may use (model names and repo ids) -> folders of the built models."""
    from hubkit.artifacts.merge import local_models

    graph = plan(release, workspace)
    return local_models(release, {m.name: workspace.path(m.name) for m in release.models if graph.built(m.name)})


def evaluate(release: Release, workspace: Workspace, *, force: bool = False, report: Report = print) -> str:
    """Build the evaluation (and what it needs); returns its report."""
    from hubkit.bench.report import render

    bench = release.benchmark
    if bench is None or not bench.evaluate:
        raise UsageError(f"{release.source}: benchmark.evaluate lists no models to evaluate")
    graph = plan(release, workspace)
    build(release, workspace, [details_name(bench)], force=force, report=report, graph=graph)
    return render(results(release, workspace, graph))


def eval_report(release: Release, workspace: Workspace, results_file=None) -> str:
    """The report of a results file, or of the release's own results."""
    from hubkit.bench.report import render

    found = load_results(results_file) if results_file else results(release, workspace)
    if found is None:
        raise UsageError("no results: run hubkit eval, or pass --results FILE")
    return render(found)
