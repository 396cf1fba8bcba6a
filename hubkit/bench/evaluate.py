"""Evaluate models on CMDR-Bench: run each model's job (resumable), then aggregate.

Domain code only: the evaluation artifact (hubkit/artifacts/evaluation.py) decides which
models and where their journals live. Per-sample records go to one JSONL journal per model
and setup, named by a fingerprint of the model's content and the setup, so a crash loses
nothing and a rerun (or another model's rebuild) asks only what is missing. A configured
judge's verdicts go to a journal of their own beside them (cached by answer, point and judge).

Before any model is asked, every grader kind the cases use grades a reference answer
(`preflight`): a grader that cannot run here (a sandbox that cannot start, a judge that does
not answer) is an error before the run, never a column of failed samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hubkit.bench import CATEGORIES
from hubkit.bench.cases import Case, cases_fingerprint, grader_kinds, load_cases
from hubkit.bench.results import Results
from hubkit.config import Benchmark
from hubkit.errors import HubkitError
from hubkit.workspace import fingerprint


@dataclass(frozen=True)
class Target:
    repo_id: str  # what results are reported under
    source: str  # what the backend loads: a built folder or a Hub id
    content: str  # the model's content fingerprint (or its Hub id)


def setup(bench: Benchmark) -> dict:
    """Everything about the evaluation that decides its outcomes, except the model."""
    from hubkit.bench.graders import VERSION as GRADERS
    from hubkit.bench.graders.judge import identity

    return {
        "cases": cases_fingerprint(), "samples": bench.samples, "sampling": bench.sampling.model_dump(),
        "backend": bench.backend.kind, "batch_size": bench.backend.batch_size if bench.backend.kind == "transformers"
        else None, "judge": identity(bench.judge) if bench.judge else None, "graders": GRADERS,
    }  # fmt: skip


def preflight(cases: list[Case] | tuple[Case, ...], judge=None) -> list[str]:
    """Grade one reference answer per grader kind the cases use; raise if a grader cannot run
    or fails it. Returns the kinds checked."""
    from hubkit.bench.graders import grade

    first: dict[str, Case] = {}
    for c in sorted(cases, key=lambda c: c.level):
        first.setdefault(c.grader["kind"], c)
    for kind, case in sorted(first.items()):
        v = grade(case.grader, case.reference, judge=judge, prompt=case.message())  # GraderUnavailable propagates
        if not v.passed:
            raise HubkitError(
                f"grader {kind} fails the reference answer of {case.id} ({v.detail[:120]}); it cannot grade "
                "here: run `hubkit bench selfcheck` to see why"
            )
    return sorted(first)


def evaluate(bench: Benchmark, benchmark_repo: str, targets: list[Target], journals: Path,
             report=print) -> tuple[Results, dict[str, Path]]:  # fmt: skip
    """Generate and grade what is missing for every target: the aggregate (Results schema) and each journal."""
    from rich.progress import Progress

    from hubkit.bench.runner import EvalJob, make_backend, results_from_jsonl, run

    cases = load_cases()
    if len(cases) != bench.cases:
        raise HubkitError(f"benchmark.cases is {bench.cases}, but CMDR-Bench has {len(cases)} cases")
    judge = None
    if bench.judge:
        from hubkit.bench.graders.judge import Judge, identity

        judge = Judge(bench.judge, journal=journals / f"judge-{fingerprint(identity(bench.judge))[:12]}.jsonl")
    checked = preflight(cases, judge)
    report(f"evaluate: graders ready ({', '.join(checked)}: each passes a reference answer)")
    files, prints = {}, {}
    n = bench.samples
    with Progress(transient=True) as bar:
        for t in targets:
            fp = fingerprint({**setup(bench), "model": t.content})
            job = EvalJob(t.repo_id, t.source, journals / f"{t.repo_id.replace('/', '--')}-{fp[:12]}.jsonl")
            task = bar.add_task(t.repo_id, total=len(cases) * n)

            def backend(source=t.source):
                return make_backend(bench.backend, source)

            def progress(done, total, task=task):
                bar.update(task, completed=done)

            new = run(job, backend, cases, n, bench.sampling, bench.backend.batch_size, progress=progress, judge=judge)
            report(f"evaluate: {t.repo_id}: {new} new samples, {len(cases) * n - new} already done ({job.out.name})")
            files[t.repo_id], prints[t.repo_id] = job.out, fp
    source = f"hubkit eval ({bench.backend.kind}, {n} sample(s) per case, " + \
             ", ".join(f"{k}={v}" for k, v in bench.sampling.model_dump().items()) + ")"  # fmt: skip
    judge_model = bench.judge.model if bench.judge else None
    judged = {cat: grader_kinds(cat, judge_model) for cat in CATEGORIES}
    return results_from_jsonl(files, benchmark_repo, source, prints, judged), files
