"""The `hubkit` command line: parse, call one function, print. Heavy imports stay inside."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hubkit.config import DEFAULT_CONFIG
from hubkit.errors import HubkitError, UsageError

app = typer.Typer(
    name="hubkit",
    help="Release a reasoning-model family to the Hugging Face Hub from one config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Release config (YAML).")
WorkspaceOpt = typer.Option(Path(".hubkit"), "--workspace", "-w", help="Where artifacts are built.")

STATE_STYLE = {
    "up to date": "green",
    "stale": "yellow",
    "not built": "cyan",
}


def _console():
    from rich.console import Console

    return Console(soft_wrap=True)


def _reporter():
    console = _console()
    return lambda msg: console.print(msg, markup=False, highlight=False)


def _load(config: Path):
    from hubkit import pipeline

    return pipeline.load(config)


def _version(value: bool) -> None:
    if value:
        from hubkit import __version__

        print(f"hubkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Build, card and publish datasets, distilled models, a merge, a benchmark and a Space."""


HubOpt = typer.Option(
    None,
    "--hub",
    help="Hub endpoint, e.g. https://huggingface.co (default: a local hub for the run).",
)
EndpointOpt = typer.Option(
    "https://huggingface.co", "--hub", envvar="HF_ENDPOINT", help="Hub endpoint (env HF_ENDPOINT)."
)
JobsHubOpt = typer.Option(
    "https://huggingface.co", "--hub", envvar="HF_ENDPOINT",
    help="Hub that runs the artifacts placed on Jobs (compute.jobs), and prices them (env HF_ENDPOINT).",
)  # fmt: skip


@app.command()
def status(config: Path = ConfigOpt, workspace: Path = WorkspaceOpt, hub: str = JobsHubOpt) -> None:
    """List every artifact: up to date, stale (and why), or not built; and where it builds."""
    from rich.table import Table

    from hubkit import pipeline
    from hubkit.workspace import Workspace

    rows = pipeline.status(_load(config), Workspace(workspace), endpoint=hub)
    table = Table(title=f"{config} -> {workspace}")
    table.add_column("artifact", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("why", overflow="fold")
    table.add_column("builds", overflow="fold")
    for r in rows:
        style = STATE_STYLE.get(r.state.status, "")
        table.add_row(r.name, r.kind, f"[{style}]{r.state.status}[/]", r.state.reason, r.where)
    _console().print(table)


@app.command()
def build(
    artifacts: list[str] = typer.Argument(None, help="Artifacts to build (default: all); inputs come too."),
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
    hub: str = JobsHubOpt,
    here: bool = typer.Option(False, "--here", help="Build everything on this machine, Jobs placements too."),
) -> None:
    """Build artifacts into the workspace; anything up to date is skipped. Artifacts placed on Jobs
    build as Hugging Face Jobs: their inputs are staged on the Hub, the build waits and brings them back."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.build(_load(config), Workspace(workspace), artifacts or None, force=force, report=_reporter(),
                   endpoint=hub, here=here)  # fmt: skip


@app.command()
def train(
    model: str = typer.Argument(..., help="A distilled model of the config (its dataset must be built)."),
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    force: bool = typer.Option(False, "--force", help="Train even if up to date."),
) -> None:
    """Train one distilled model; also under `accelerate launch -m hubkit train` (DDP, FSDP)."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.train(_load(config), Workspace(workspace), model, force=force, report=_reporter())


CreatePrOpt = typer.Option(False, "--create-pr", help="Open pull requests instead of committing to main.")


@app.command()
def release(
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    hub: str = HubOpt,
    create_pr: bool = CreatePrOpt,
) -> None:
    """Build every stage, evaluate, render cards and publish (token: HF_TOKEN, hf login, or trusted publishing)."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.release(_load(config), Workspace(workspace), hub=hub, create_pr=create_pr, report=_reporter())


@app.command()
def plan(
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    hub: str = EndpointOpt,
    fmt: str = typer.Option("table", "--format", help="table, or markdown (for $GITHUB_STEP_SUMMARY)."),
) -> None:
    """Show what publishing would change per repo: create, add/update/delete files, tag."""
    from rich.table import Table

    from hubkit import pipeline
    from hubkit.hub.auth import Credentials
    from hubkit.hub.plan import markdown, plan_release
    from hubkit.repos import human_bytes
    from hubkit.workspace import Workspace

    if fmt not in ("table", "markdown"):
        raise UsageError(f"--format {fmt!r}: expected table or markdown")
    plans = plan_release(pipeline.plan(_load(config), Workspace(workspace)), Credentials(hub), report=_reporter())
    if fmt == "markdown":
        print(markdown(plans, hub), end="")
        return
    table = Table(title=f"plan: {config} -> {hub}")
    for col in ("repo", "action", "add", "update", "delete", "upload", "tag"):
        table.add_column(col, overflow="fold")
    for p in plans:
        counts = (str(len(p.add)), str(len(p.update)), str(len(p.delete)))
        tag = f"{p.tag} {p.tag_action}" if p.tag else ""
        table.add_row(f"{p.repo_type}:{p.repo_id}", p.action, *counts, human_bytes(p.upload_bytes), tag)
    _console().print(table)


@app.command()
def publish(
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    hub: str = EndpointOpt,
    create_pr: bool = CreatePrOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
) -> None:
    """Publish built artifacts: one commit per repo, tag v{version}; unchanged repos are skipped."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.publish(_load(config), Workspace(workspace), hub=hub, create_pr=create_pr,
                     dry_run=dry_run, report=_reporter())  # fmt: skip


cards_app = typer.Typer(help="Model, dataset and Space cards from the templates in cards/.")
app.add_typer(cards_app, name="cards")


@cards_app.command("render")
def cards_render(config: Path = ConfigOpt, workspace: Path = WorkspaceOpt) -> None:
    """Write each built artifact's README.md (and chart, eval results) into the workspace."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    report = _reporter()
    for p in pipeline.cards(_load(config), Workspace(workspace), report=report):
        report(f"problem: {p}")


@cards_app.command("lint")
def cards_lint(config: Path = ConfigOpt, workspace: Path = WorkspaceOpt) -> None:
    """Check rendered cards offline; exit 1 on any problem, each as `repo: field: problem`."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    checked, problems = pipeline.lint_cards(_load(config), Workspace(workspace))
    for p in problems:
        print(p)
    if problems:
        raise typer.Exit(1)
    print(f"{checked} cards, no problems")


bench_app = typer.Typer(help="CMDR-Bench: check the cases, grade an answer, export the dataset.")
app.add_typer(bench_app, name="bench")


@bench_app.command("selfcheck")
def bench_selfcheck(verbose: bool = typer.Option(False, "--verbose", "-v", help="A line per case.")) -> None:
    """Prove every case sound: its reference passes, its wrong answers fail, its puzzle data is right."""
    from hubkit.bench.cases import load_cases
    from hubkit.bench.selfcheck import selfcheck

    cases = load_cases()
    problems = selfcheck(cases, report=_reporter() if verbose else lambda m: None)
    for p in problems:
        print(p)
    if problems:
        raise typer.Exit(1)
    from hubkit.bench.sandbox import describe

    print(f"{len(cases)} cases: every reference passes, every wrong answer fails (python sandbox: {describe()})")


@bench_app.command("validate")
def bench_validate(
    judge: bool = typer.Option(False, "--judge", help="Free-text points read by the config's benchmark.judge."),
    config: Path = ConfigOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every misgraded development answer."),
    write: bool = typer.Option(False, "--write", help="Record the figures for the benchmark card."),
    check: bool = typer.Option(False, "--check", help="Fail if the recorded figures differ from this run."),
) -> None:
    """Grader accuracy on the labelled answers, development and held-out halves: false-pass and false-fail rates."""
    from hubkit.bench.validate import main

    endpoint = None
    if judge:
        bench = _load(config).benchmark
        if bench is None or bench.judge is None:
            raise UsageError(f"{config}: benchmark.judge is not set; --judge grades with it")
        endpoint = bench.judge
    if code := main(endpoint, verbose=verbose, write=write, check=check):
        raise typer.Exit(code)


@bench_app.command("grade")
def bench_grade(
    case_id: str = typer.Argument(..., help="e.g. sql-07"),
    opened: bool = typer.Option(False, "--opened", help="The prompt opened <think> (the text starts inside it)."),
) -> None:
    """Grade a response read from stdin; print a JSON verdict. Output cut inside its reasoning fails."""
    import json

    from hubkit.bench.cases import case_by_id
    from hubkit.bench.graders import grade_result
    from hubkit.llm.client import make_result

    case = case_by_id(case_id)
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"stdin: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    verdict = grade_result(case.grader, make_result(None, text, None, None, 0.0, opened))
    print(json.dumps({"case": case.id, **verdict.to_json()}))


@bench_app.command("export")
def bench_export(out: Path = typer.Option(..., "--out", "-o", help="Folder for data/*.parquet and eval.yaml.")) -> None:
    """Write CMDR-Bench in the Hub dataset layout."""
    from hubkit.bench.export import export

    cases = export(out)
    print(f"{len(cases)} cases -> {out}")


eval_app = typer.Typer(help="Evaluate models on CMDR-Bench; `hubkit eval report` shows the results.",
                       invoke_without_command=True)  # fmt: skip
app.add_typer(eval_app, name="eval")


@eval_app.callback()
def eval_main(
    ctx: typer.Context,
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date (journaled samples are reused)."),
) -> None:
    """Build the evaluation artifact (and what it needs), then print its report; resumes where a run stopped."""
    if ctx.invoked_subcommand:
        return
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    print(pipeline.evaluate(_load(config), Workspace(workspace), force=force, report=_reporter()))


@eval_app.command("report")
def eval_report(
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    results: Path = typer.Option(None, "--results", help="A results file or published table (e.g. the seed's)."),
) -> None:
    """The table with 95% intervals, pairwise tests, and the source's claims checked."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    print(pipeline.eval_report(_load(config), Workspace(workspace), results), end="")


hub_app = typer.Typer(help="The local Hub-compatible server.")
app.add_typer(hub_app, name="hub")


@hub_app.command("serve")
def hub_serve(
    root: Path = typer.Option(..., "--root", help="Where repos are stored."),
    port: int = typer.Option(8808, "--port"),
    host: str = typer.Option("127.0.0.1", "--host"),
    token: str = typer.Option(..., "--token", envvar="HUBKIT_HUB_TOKEN", help="Write token (env HUBKIT_HUB_TOKEN)."),
    trust: Path = typer.Option(None, "--trust", help="Trusted publishers: OIDC issuers and rules (YAML)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the preview (the index page) in a browser."),
) -> None:
    """Serve a local Hub (huggingface_hub, datasets and transformers work against it)."""
    from hubkit.localhub.server import check_serve_args, serve
    from hubkit.localhub.trust import load_trust

    check_serve_args(root, token, host, port)
    trusted = load_trust(trust) if trust else None
    url = f"http://{host}:{port}"
    print(f"local hub: {url}  (data in {root})", flush=True)
    print(f"clients: HF_ENDPOINT={url} HF_HUB_DISABLE_XET=1  (this hub speaks LFS, not Xet)", flush=True)
    if trusted:
        rules = ", ".join(f"{r.claims} -> {r.namespaces}" for r in trusted.config.publishers)
        print(f"trusted publishing: POST {url}/oauth/token; publishers: {rules}", flush=True)
    print(f"preview: {url}/ (repo pages at the Hub's URLs: {url}/NAMESPACE/NAME)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(f"{url}/",)).start()
    serve(root, token, host=host, port=port, trust=trusted)


jobs_app = typer.Typer(help="Hugging Face Jobs: where artifacts placed on Jobs (compute.jobs) build.")
app.add_typer(jobs_app, name="jobs")
NamespaceOpt = typer.Option(None, "--namespace", help="Whose Jobs (default: the token's user).")
TokenEnvOpt = typer.Option("HF_JOBS_TOKEN", "--token-env", help="Variable holding the Jobs token (else HF_TOKEN).")


@jobs_app.command("list")
def jobs_list(
    namespace: str = NamespaceOpt,
    hub: str = EndpointOpt,
    token_env: str = TokenEnvOpt,
    all_jobs: bool = typer.Option(False, "--all", help="Also Jobs hubkit did not start."),
) -> None:
    """The Jobs of a namespace that build hubkit artifacts: id, artifact, stage, flavor, URL."""
    from rich.table import Table

    from hubkit.hub import jobs

    table = Table(title=f"Jobs on {hub}")
    for col in ("id", "artifact", "stage", "flavor", "created", "url"):
        table.add_column(col, overflow="fold")
    for j in jobs.client(hub, token_env).list_jobs(namespace=namespace):
        artifact = (j.labels or {}).get(jobs.ARTIFACT_LABEL)
        if artifact or all_jobs:
            created = j.created_at.strftime("%Y-%m-%d %H:%M") if j.created_at else ""
            table.add_row(j.id, artifact or "", j.status.stage, str(j.flavor), created, j.url)
    _console().print(table)


@jobs_app.command("logs")
def jobs_logs(
    job_id: str = typer.Argument(..., help="The Job's id."),
    namespace: str = NamespaceOpt,
    hub: str = EndpointOpt,
    token_env: str = TokenEnvOpt,
    follow: bool = typer.Option(False, "--follow", "-f", help="Until the Job ends."),
) -> None:
    """A Job's log lines."""
    from hubkit.hub import jobs
    from hubkit.secrets import redact

    for line in jobs.client(hub, token_env).fetch_job_logs(job_id=job_id, namespace=namespace, follow=follow):
        print(redact(line), flush=True)


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str = typer.Argument(..., help="The Job's id (a build prints it)."),
    namespace: str = NamespaceOpt,
    hub: str = EndpointOpt,
    token_env: str = TokenEnvOpt,
) -> None:
    """Cancel a Job (a build that was interrupted leaves its Job running)."""
    from hubkit.hub import jobs

    api = jobs.client(hub, token_env)
    api.cancel_job(job_id=job_id, namespace=namespace)
    info = api.inspect_job(job_id=job_id, namespace=namespace)
    print(f"job {job_id}: {info.status.stage}  {info.url}")


@jobs_app.command("hardware")
def jobs_hardware(hub: str = EndpointOpt) -> None:
    """The flavors a Job can run on, and their prices."""
    from rich.table import Table

    from hubkit.hub.auth import hf_api

    table = Table(title=f"Jobs hardware on {hub}")
    for col in ("flavor", "name", "cpu", "ram", "accelerator", "USD/hour"):
        table.add_column(col)
    for h in hf_api(hub, None).list_jobs_hardware():
        gpu = f"{h.accelerator.quantity}x {h.accelerator.model} ({h.accelerator.vram})" if h.accelerator else ""
        per_hour = h.unit_cost_usd * {"second": 3600, "minute": 60, "hour": 1}.get(h.unit_label, 60)
        table.add_row(h.name, h.pretty_name, h.cpu, h.ram, gpu, f"{per_hour:.2f}")
    _console().print(table)


@jobs_app.command("work", hidden=True)
def jobs_work(
    hub: str = typer.Option(..., "--hub", help="The Hub the runner staged on."),
    repo: str = typer.Option(..., "--repo", help="TYPE:NAMESPACE/NAME of the artifact's repo."),
    revision: str = typer.Option(..., "--revision", help="The commit the runner staged the Job's plan at."),
) -> None:
    """What a Hugging Face Job runs: build the one artifact staged at REVISION, commit its output."""
    from hubkit import pipeline

    pipeline.work(hub, repo, revision, report=_reporter())


merge_app = typer.Typer(help="mergekit merges (any mergekit method): lint what every tensor gets, run a merge.")
app.add_typer(merge_app, name="merge")
ModelOpt = typer.Option(None, "--model", "-m", help="REF=PATH: a local folder for a model reference.")
ReleaseOpt = typer.Option(None, "--config", "-c", help="Release config: resolve its built models.")


def _merge_spec(merge_config: Path, models: list[str] | None, config: Path | None, workspace: Path):
    from hubkit import merge, pipeline
    from hubkit.errors import UsageError
    from hubkit.workspace import Workspace

    mapping = pipeline.built_models(_load(config), Workspace(workspace)) if config else {}
    for item in models or []:
        ref, sep, path = item.partition("=")
        if not (sep and ref and path):
            raise UsageError(f"--model {item!r}: expected REF=PATH")
        mapping[ref] = Path(path)
    return merge.load(merge_config, mapping)


def _runs(rows: list[dict[str, str]]) -> list[tuple[str, dict[str, str]]]:
    """Consecutive layers with the same values, folded into one row ("0-35")."""
    out: list[tuple[str, dict[str, str]]] = []
    start = 0
    for i, row in enumerate(rows):
        vals = {k: v for k, v in row.items() if k != "layer"}
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if nxt is None or {k: v for k, v in nxt.items() if k != "layer"} != vals:
            out.append((str(i) if start == i else f"{start}-{i}", vals))
            start = i + 1
    return out


@merge_app.command("lint")
def merge_lint(
    merge_config: Path = typer.Argument(..., help="A mergekit YAML (e.g. configs/merge/slerp-v5.yaml)."),
    models: list[str] = ModelOpt,
    config: Path = ReleaseOpt,
    workspace: Path = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if a rule never applies or the merge is degenerate."),
) -> None:
    """Show what mergekit's plan gives each tensor (t, weights, parameters), which rule set it, what never applies."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from hubkit.merge.lint import lint

    report = lint(_merge_spec(merge_config, models, config, workspace))
    if as_json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        console = _console()
        say = lambda text, **kw: console.print(text, markup=False, highlight=False, **kw)  # noqa: E731
        tied = "tied (no lm_head tensor)" if report.tied_embeddings else "untied"
        if report.ends:
            who = f"  t=0: {report.ends[0]}\n  t=1: {report.ends[1]}"
        else:
            who = (f"  base: {report.base}\n" if report.base else "") + f"  models: {', '.join(report.models)}"
        say(f"{report.config}: {report.method}, {report.layers} layers, "
            f"{len(report.tensors)} tensors, embeddings {tied}\n{who}")  # fmt: skip
        if report.rules:
            lists = {r.where for r in report.rules}
            only = next(iter(lists)) if len(lists) == 1 else ""
            title = (
                f"rules for {only.removeprefix('parameters.')} (first match wins)"
                if only.startswith("parameters.") and only.count(".") == 1
                else "rules (first match wins in a list; a model's or slice's own list before the top-level one)"
            )
            rules = Table(title=title, title_justify="left")
            for col in ("rule", "value", "matches", "decides", "status"):
                rules.add_column(col, overflow="fold")
            for r in report.rules:
                fmt = lambda d: ", ".join(f"{g} {n}" for g, n in d.items()) or "nothing"  # noqa: E731
                status = r.status if r.status == "applies" else f"[red]{r.status}[/]"
                rules.add_row(escape(r.label), escape(str(r.value)), fmt(r.matches), fmt(r.applied), status)
            console.print(rules)
        for table in report.tables:
            layers = Table(title=escape(f"{table.title} per layer"), title_justify="left")
            for col in ("layers", "attention", "mlp", "norms"):
                layers.add_column(col)
            for span, vals in _runs(table.rows):
                layers.add_row(span, *(escape(vals[g]) for g in ("attention", "mlp", "norms")))
            console.print(layers)
            outside = ", ".join(f"{n} {table.symbol}={v}" for n, v in table.outside.items())
            say(f"outside the layers: {outside}")
        if report.defaults:
            say(f"at mergekit's defaults: {report.defaults}")
        say(f"outcome: {report.outcome}")
        for p in report.problems:
            say(f"problem: {p}", style="red")
    if strict and report.problems:
        raise typer.Exit(1)


@merge_app.command("run")
def merge_run(
    merge_config: Path = typer.Argument(..., help="A mergekit YAML."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (must not exist or be empty)."),
    models: list[str] = ModelOpt,
    config: Path = ReleaseOpt,
    workspace: Path = WorkspaceOpt,
    shard_size: str = typer.Option("5B", help="Parameters per output shard (mergekit's K/M/B)."),
) -> None:
    """Run one merge directly with mergekit (the tokenizer follows the pinned vocabulary)."""
    from hubkit import merge
    from hubkit.errors import UsageError

    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: output folder is not empty")
    spec = _merge_spec(merge_config, models, config, workspace)
    say = _reporter()
    report = merge.checked_run(spec, out, shard_size=shard_size, report=say)
    say(f"merged -> {out}: {report.outcome}")


def main() -> None:
    try:
        app()
    except HubkitError as err:
        # One line per problem, nothing else: no traceback for a user's mistake.
        from hubkit.secrets import redact

        sys.stderr.write(redact(f"{err}\n"))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
