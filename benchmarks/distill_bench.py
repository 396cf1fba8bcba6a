"""Teacher generation speed: client throughput against a 0.2 s server, and the journal's cost.

    python benchmarks/distill_bench.py [--requests 320]

Targets (issue #9): at 0.2 s latency and concurrency 16, throughput >= 0.9 x the ideal
16 / 0.2 s = 80 requests/s; journaled generation (journal + filters) vs bare client calls
on the same server, measured side by side (runs alternate, medians compared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubkit.config import ChatEndpoint, Filters, Sampling
from hubkit.distill.generate import generate
from hubkit.distill.prompts import Prompt
from hubkit.journal import Journal
from hubkit.llm import ChatRequest
from hubkit.llm.client import ChatClient

LATENCY, CONCURRENCY = 0.2, 16
SAMPLING = Sampling(max_new_tokens=400)


def prompts(n: int, tag: str) -> list[Prompt]:
    return [Prompt(f"{tag}-{i}", f"Run {tag}, question {i}: what is {i} + {2 * i}, and why?") for i in range(n)]


def bare(url: str, n: int, tag: str) -> float:
    client = ChatClient(ChatEndpoint(model="t", base_url=url, concurrency=CONCURRENCY))
    reqs = [ChatRequest(p.id, [{"role": "user", "content": p.text}], i, 0.6, 0.95, 400)
            for i, p in enumerate(prompts(n, tag))]  # fmt: skip
    start = time.perf_counter()
    client.map(reqs, lambda req, res: None)
    return time.perf_counter() - start


def journaled(url: str, n: int, tag: str) -> float:
    endpoint = ChatEndpoint(model="t", base_url=url, concurrency=CONCURRENCY)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(ChatClient(endpoint), endpoint, SAMPLING, prompts(n, tag), n, Filters(), Path(tmp),
                 where="bench", report=lambda _: None)  # fmt: skip
        return time.perf_counter() - start


def journal_append(n: int = 2000) -> float:
    row = {"key": "k" * 24, "prompt_id": "p-1", "seed": 1, "result": {"reasoning": "x " * 800, "content": "y " * 100}}
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.jsonl") as j:
        start = time.perf_counter()
        for _ in range(n):
            j.append(row)
        return (time.perf_counter() - start) / n


def teacher_process():
    import json
    import socket
    import subprocess

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "hubkit.offline.teacher", "--port", str(port), "--options",
           json.dumps({"latency": LATENCY})]  # fmt: skip
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            httpx.get(f"{url}/models", timeout=1)
            return url, proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("teacher did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=320)
    ap.add_argument("--runs", type=int, default=3)
    n = ap.parse_args().requests
    runs = ap.parse_args().runs
    ideal = CONCURRENCY / LATENCY
    # The teacher runs in its own process, as a remote one would: sharing this process's GIL
    # would charge the server's work to the client.
    url, proc = teacher_process()
    try:
        bare_t, journal_t = [], []
        for r in range(runs):
            bare_t.append(bare(url, n, f"b{r}"))
            journal_t.append(journaled(url, n, f"j{r}"))
    finally:
        proc.terminate()
    b, j = statistics.median(bare_t), statistics.median(journal_t)
    print(f"requests {n}, latency {LATENCY} s, concurrency {CONCURRENCY}: ideal {ideal:.0f} req/s")
    for label, med, times in (("bare client    ", b, bare_t), ("journaled build", j, journal_t)):
        print(f"{label}: {n / med:6.1f} req/s  ({n / med / ideal:.2f} x ideal; runs {[round(t, 2) for t in times]})")
    print(f"journaled / bare wall time: {j / b:.3f}")
    print(f"journal append + fsync: {journal_append() * 1e3:.2f} ms per row (~5 KB)")


if __name__ == "__main__":
    main()
