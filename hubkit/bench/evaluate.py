"""The release's evaluate stage: every model of `benchmark.evaluate` on CMDR-Bench.

Per-sample records go to `<workspace>/.eval/<model>-<setup>.jsonl`; the aggregate to
`<workspace>/.eval/results.json`, which cards use while its setup fingerprints match.
"""

from __future__ import annotations

import json
from pathlib import Path

from hubkit.bench.cases import cases_fingerprint, load_cases
from hubkit.bench.results import Results
from hubkit.config import Release
from hubkit.errors import HubkitError, UsageError
from hubkit.workspace import Workspace, fingerprint

RESULTS = "results.json"


def _folder(workspace: Workspace) -> Path:
    return workspace.root / ".eval"


def jobs(release: Release, workspace: Workspace, models: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(repo id, what to load, setup fingerprint) for each model to evaluate."""
    from hubkit.graph import UP_TO_DATE, Graph

    bench = release.benchmark
    if bench is None:
        raise UsageError(f"{release.source}: no benchmark section to evaluate with")
    refs = models or bench.evaluate
    if not refs:
        raise UsageError(f"{release.source}: benchmark.evaluate lists no models")
    graph = Graph(release, workspace)
    cases_sha = cases_fingerprint()
    setup = {
        "cases": cases_sha, "sampling": bench.sampling.model_dump(), "backend": bench.backend.kind,
        "judge": bench.judge.model_dump() if bench.judge else None,
    }  # fmt: skip
    out = []
    for ref in refs:
        name = ref.removeprefix(f"{release.namespace}/")
        if name in graph.nodes and graph.nodes[name].repo_type == "model":
            state = graph.state(name)
            if state.status != UP_TO_DATE:
                raise UsageError(f"model {name} is {state.status}; build it first (hubkit build {name})")
            content = workspace.manifest(name)["content"]
            out.append((release.repo_id(name), str(workspace.path(name)), fingerprint({**setup, "model": content})))
        elif "/" in ref:
            out.append((ref, ref, fingerprint({**setup, "model": ref})))
        else:
            raise UsageError(f"{ref!r} is neither a model of this release nor a Hub id")
    return out


def evaluate(release: Release, workspace: Workspace, *, models: list[str] | None = None,
             samples: int | None = None, report=print) -> Results:  # fmt: skip
    from rich.progress import Progress

    from hubkit.bench.runner import EvalJob, make_backend, results_from_jsonl, run

    bench = release.benchmark
    todo = jobs(release, workspace, models)
    cases = load_cases()
    if len(cases) != bench.cases:
        raise HubkitError(f"benchmark.cases is {bench.cases}, but CMDR-Bench has {len(cases)} cases")
    n = samples or bench.samples
    judge = None
    if bench.judge:
        from hubkit.bench.graders.rubric import Judge

        judge = Judge(bench.judge)
    files, prints = {}, {}
    with Progress(transient=True) as bar:
        for repo_id, source, fp in todo:
            job = EvalJob(repo_id, source, _folder(workspace) / f"{repo_id.replace('/', '--')}-{fp[:12]}.jsonl")
            task = bar.add_task(repo_id, total=len(cases) * n)

            def backend(source=source):
                return make_backend(bench.backend, source)

            def progress(done, total, task=task):
                bar.update(task, completed=done)

            new = run(job, backend, cases, n, bench.sampling, bench.backend.batch_size, progress=progress, judge=judge)
            report(f"evaluate: {repo_id}: {new} new samples, {len(cases) * n - new} already done ({job.out.name})")
            files[repo_id], prints[repo_id] = job.out, fp
    source = f"hubkit eval ({bench.backend.kind}, {n} sample(s) per case, " + \
             ", ".join(f"{k}={v}" for k, v in bench.sampling.model_dump().items()) + ")"  # fmt: skip
    results = results_from_jsonl(files, release.repo_id(bench.name), source, prints)
    (_folder(workspace) / RESULTS).write_text(results.model_dump_json(indent=1))
    return results


def stored_results(release: Release, workspace: Workspace) -> Results | None:
    """The last evaluation's results if they still match the release's models and setup."""
    path = _folder(workspace) / RESULTS
    if not path.exists() or release.benchmark is None:
        return None
    results = Results.model_validate(json.loads(path.read_text()))
    try:
        current = {repo: fp for repo, _, fp in jobs(release, workspace)}
    except HubkitError:
        return None
    return results if results.fingerprints == current else None
