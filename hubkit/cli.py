"""The `hubkit` command line: parse, call one function, print. Heavy imports stay inside."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hubkit.errors import HubkitError

app = typer.Typer(
    name="hubkit",
    help="Release a reasoning-model family to the Hugging Face Hub from one config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = typer.Option(
    Path("configs/release.yaml"), "--config", "-c", help="Release config (YAML)."
)
WorkspaceOpt = typer.Option(Path(".hubkit"), "--workspace", "-w", help="Where artifacts are built.")

STATE_STYLE = {
    "up to date": "green",
    "stale": "yellow",
    "not built": "cyan",
    "not available": "dim",
}


def _console():
    from rich.console import Console

    return Console(soft_wrap=True)


def _reporter():
    console = _console()
    return lambda msg: console.print(msg, markup=False, highlight=False)


def _load(config: Path):
    from hubkit.config import load_release

    return load_release(config)


def _version(value: bool) -> None:
    if value:
        from hubkit import __version__

        print(f"hubkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Build, card and publish datasets, distilled models, a merge, a benchmark and a Space."""


@app.command()
def status(config: Path = ConfigOpt, workspace: Path = WorkspaceOpt) -> None:
    """List every artifact: up to date, stale (and why), not built, or not available yet."""
    from rich.table import Table

    from hubkit import pipeline
    from hubkit.workspace import Workspace

    rows = pipeline.status(_load(config), Workspace(workspace))
    table = Table(title=f"{config} -> {workspace}")
    table.add_column("artifact", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("why", overflow="fold")
    for r in rows:
        style = STATE_STYLE.get(r.state.status, "")
        table.add_row(r.name, r.kind, f"[{style}]{r.state.status}[/]", r.state.reason)
    _console().print(table)


@app.command()
def build(
    artifacts: list[str] = typer.Argument(
        None, help="Artifacts to build (default: all); inputs come too."
    ),
    config: Path = ConfigOpt,
    workspace: Path = WorkspaceOpt,
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
) -> None:
    """Build artifacts into the workspace; anything up to date is skipped."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.build(
        _load(config), Workspace(workspace), artifacts or None, force=force, report=_reporter()
    )


@app.command()
def release(config: Path = ConfigOpt, workspace: Path = WorkspaceOpt) -> None:
    """Build every stage, evaluate, render cards and publish."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace

    pipeline.release(_load(config), Workspace(workspace), report=_reporter())


merge_app = typer.Typer(help="mergekit merges: lint the effective t of every tensor, run a merge.")
app.add_typer(merge_app, name="merge")
ModelOpt = typer.Option(
    None, "--model", "-m", help="REF=PATH: a local folder for a model reference."
)
ReleaseOpt = typer.Option(None, "--config", "-c", help="Release config: resolve its built models.")


def _merge_spec(merge_config: Path, models: list[str] | None, config: Path | None, workspace: Path):
    from hubkit import merge
    from hubkit.artifacts.merge import built_models
    from hubkit.errors import UsageError
    from hubkit.workspace import Workspace

    mapping = built_models(_load(config), Workspace(workspace)) if config else {}
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
    merge_config: Path = typer.Argument(
        ..., help="A mergekit YAML (e.g. configs/merge/slerp-v5.yaml)."
    ),
    models: list[str] = ModelOpt,
    config: Path = ReleaseOpt,
    workspace: Path = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 if a rule never applies or the merge is degenerate."
    ),
) -> None:
    """Show which rule sets t for every tensor, rules that never apply, and the outcome."""
    import json

    from rich.table import Table

    from hubkit.merge.lint import lint

    report = lint(_merge_spec(merge_config, models, config, workspace))
    if as_json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        console = _console()
        tied = "tied (no lm_head tensor)" if report.tied_embeddings else "untied"
        console.print(
            f"{report.config}: {report.method}, {report.layers} layers, "
            f"{len(report.tensors)} tensors, embeddings {tied}\n"
            f"  t=0: {report.base}\n  t=1: {report.other}",
            markup=False, highlight=False,
        )  # fmt: skip
        rules = Table(title="rules for t (first match wins)", title_justify="left")
        for col in ("rule", "value", "matches", "decides", "status"):
            rules.add_column(col, overflow="fold")
        for r in report.rules:
            fmt = lambda d: ", ".join(f"{g} {n}" for g, n in d.items()) or "nothing"  # noqa: E731
            status = r.status if r.status == "applies" else f"[red]{r.status}[/]"
            rules.add_row(r.label, str(r.value), fmt(r.matches), fmt(r.applied), status)
        console.print(rules)
        layers = Table(title="effective t per layer", title_justify="left")
        for col in ("layers", "attention", "mlp", "norms"):
            layers.add_column(col)
        for span, vals in _runs(report.per_layer()):
            layers.add_row(span, vals["attention"], vals["mlp"], vals["norms"])
        console.print(layers)
        outside = ", ".join(f"{n} t={t}" for n, t in report.outside_layers().items())
        console.print(f"outside the layers: {outside}", markup=False, highlight=False)
        console.print(f"outcome: {report.outcome}", markup=False, highlight=False)
        for p in report.problems:
            console.print(f"problem: {p}", markup=False, highlight=False, style="red")
    if strict and report.problems:
        raise typer.Exit(1)


@merge_app.command("run")
def merge_run(
    merge_config: Path = typer.Argument(..., help="A mergekit YAML."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder (must not exist or be empty)."
    ),
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
    report = merge.checked_run(spec, out, shard_size=shard_size, report=_reporter())
    _reporter()(f"merged -> {out}: {report.outcome}")


def main() -> None:
    try:
        app()
    except HubkitError as err:
        # One line per problem, nothing else: no traceback for a user's mistake.
        sys.stderr.write(f"{err}\n")
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
