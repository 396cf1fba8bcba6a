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
