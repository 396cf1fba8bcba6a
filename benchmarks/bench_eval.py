"""CMDR-Bench speed: grading throughput, and the runner's overhead over bare generation.

    python benchmarks/bench_eval.py

Targets (issue #5): grading 100 cases x 11 samples of reference answers in <= 60 s on this
2-core machine; runner overhead over bare backend generation on the tiny model <= 5%
(bare and runner runs alternate, medians compared).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubkit.bench.cases import load_cases
from hubkit.bench.graders import grade
from hubkit.bench.runner import EvalJob, TransformersBackend, run
from hubkit.config import Sampling
from hubkit.offline import save_tiny_qwen3


def grading(samples: int = 11) -> None:
    cases = load_cases()
    t = time.perf_counter()
    passed = sum(grade(c.grader, c.reference).passed for c in cases for _ in range(samples))
    took = time.perf_counter() - t
    print(f"grading {len(cases)} cases x {samples} reference answers: {took:.1f} s (target <= 60 s), "
          f"{passed}/{len(cases) * samples} passed")  # fmt: skip


def overhead(repeats: int = 3) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    backend = TransformersBackend(str(save_tiny_qwen3(work / "m", seed=1, layers=4)))
    cases = load_cases()
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=32, seed=0)
    bare, runner = [], []
    for i in range(repeats):
        t = time.perf_counter()
        for start in range(0, len(cases), 25):
            batch = cases[start : start + 25]
            backend.generate([c.message() for c in batch], sampling, [sampling.seed + start] * len(batch))
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        run(EvalJob("bench/tiny", "x", work / f"run-{i}.jsonl"), backend, cases, 1, sampling, 25)
        runner.append(time.perf_counter() - t)
    b, r = statistics.median(bare), statistics.median(runner)
    print(f"100 cases on the tiny model, {repeats} runs each (median): bare generate {b:.2f} s,")
    print(f"  runner (generate + grade + JSONL) {r:.2f} s, overhead {100 * (r / b - 1):+.1f}% (target <= 5%)")


def concurrent_endpoint(latency: float = 0.2) -> None:
    """100 cases against an OpenAI-compatible server answering in `latency` s: sequential would take 100 x latency."""
    from hubkit.bench.runner import OpenAICompatBackend
    from hubkit.config import EvalBackend
    from hubkit.offline.teacher import BackgroundTeacher, Options

    cases = load_cases()
    refs = {c.message(): c.reference for c in cases}
    sampling = Sampling(temperature=0.6, top_p=0.95, max_new_tokens=4096, seed=0)
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    with BackgroundTeacher(Options(answers=refs, latency=latency)) as server:
        backend = OpenAICompatBackend("served", EvalBackend(kind="openai_compat", base_url=server.url, concurrency=16))
        t = time.perf_counter()
        run(EvalJob("bench/served", "served", work / "served.jsonl"), backend, cases, 1, sampling, 100)
        took = time.perf_counter() - t
    print(f"100 cases at {latency} s latency, concurrency 16 (generate + grade): {took:.1f} s "
          f"vs {100 * latency:.0f} s sequential ({took / (100 * latency):.2f} of it)")


if __name__ == "__main__":
    grading()
    overhead()
    concurrent_endpoint()
