"""The Benchmark and Cases tabs: the release's published evaluation, read by repo id.

The evaluation details dataset (hubkit's evaluation artifact) holds `summary.json` (the
table with 95% intervals, truncation and claims, formatted by hubkit itself), the chart and
one row per model answer; the benchmark dataset adds each case's reference answer.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUMMARY, CHART = "summary.json", "benchmark/cmdr_bench.png"


@dataclass
class Board:
    problem: str | None = None  # why there is nothing to show
    summary: dict[str, Any] = field(default_factory=dict)
    chart: str | None = None
    rows: list[dict] = field(default_factory=list)  # one per model answer
    cases: dict[str, dict] = field(default_factory=dict)  # case id -> benchmark row

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r["model"] for r in self.rows))

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(r["category"] for r in self.rows))


def _parquet_rows(repo_id: str, files: list[str], token: str | None) -> list[dict]:
    import pyarrow.parquet as pq
    from huggingface_hub import hf_hub_download

    out = []
    for f in files:
        out += pq.read_table(hf_hub_download(repo_id, f, repo_type="dataset", token=token)).to_pylist()
    return out


def load_board(details: str | None, benchmark: str | None, token: str | None = None) -> Board:
    """Everything the tabs show; a Board with `problem` set when no evaluation can be read."""
    if not details:
        return Board(problem="No evaluation is configured for this release; the comparison still works.")
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        files = HfApi(token=token).list_repo_files(details, repo_type="dataset")
        if SUMMARY not in files:  # from the listing: a failed download must not read as a missing file
            return Board(problem=f"{details} has no {SUMMARY}: it was published by an older hubkit.")
        summary = hf_hub_download(details, SUMMARY, repo_type="dataset", token=token)
        board = Board(summary=json.loads(Path(summary).read_text()))
        if CHART in files:
            board.chart = hf_hub_download(details, CHART, repo_type="dataset", token=token)
        board.rows = _parquet_rows(details, sorted(f for f in files if f.endswith(".parquet")), token)
        if not board.rows:  # the tabs need both: a table without its answers explains nothing
            return Board(problem=f"{details} has no per-sample details (parquet files): it is incomplete.")
        if benchmark:
            bench_files = HfApi(token=token).list_repo_files(benchmark, repo_type="dataset")
            parquet = sorted(f for f in bench_files if f.endswith(".parquet"))
            board.cases = {r["id"]: r for r in _parquet_rows(benchmark, parquet, token)}
        return board
    except RepositoryNotFoundError:
        return Board(problem=f"No evaluation has been published yet ({details} is not on the Hub).")
    except Exception as exc:  # a tab that cannot load says why; the rest of the Space works
        return Board(problem=f"The evaluation in {details} could not be read: {type(exc).__name__}: {str(exc)[:200]}")


def benchmark_markdown(board: Board) -> str:
    """The CMDR-Bench table with 95% intervals, overall scores, truncation and claims."""
    if board.problem:
        return f"_{board.problem}_"
    s = board.summary
    short = [m.split("/")[-1] for m in s["models"]]
    head = "| Category | Graded by | " + " | ".join(short) + " |\n|---|---|" + "---|" * len(short) + "\n"
    body = "".join(f"| {r['category']} | {r.get('grader', '')} | " + " | ".join(r["cells"]) + " |\n" for r in s["rows"])
    body += "| **Overall** | | " + " | ".join(s["overall"]) + " |\n"
    out = [
        f"### {s['benchmark']}",
        f"Pass rate in % with its 95% interval; {s['n']} evaluations per category. "
        f"Overall: {s['overall_definition']}. Source: {s['source']}.",
        head + body,
    ]
    if s.get("truncation"):
        t = "| Category | " + " | ".join(short) + " |\n|---|" + "---|" * len(short) + "\n"
        t += "".join(f"| {r['category']} | " + " | ".join(r["cells"]) + " |\n" for r in s["truncation"])
        out += ["#### Answers cut by the token limit", t]
    if s.get("claims"):
        out += ["#### What the data supports", "\n".join(f"- {c}" for c in s["claims"])]
    return "\n\n".join(out)


def find_cases(board: Board, category: str | None, level: int | None, search: str = "") -> list[str]:
    """Case ids matching a category and level, or containing the search text (id or prompt)."""
    seen: dict[str, None] = {}
    needle = search.strip().lower()
    for r in board.rows:
        if needle:
            if needle in r["case"].lower() or needle in (r["prompt"] or "").lower():
                seen[r["case"]] = None
        elif (category is None or r["category"] == category) and (level is None or r["level"] == level):
            seen[r["case"]] = None
    return list(seen)


def _block(title: str, text: str | None, open_: bool = False) -> str:
    body = html.escape(text or "(none)")
    pre = f"<pre style='white-space:pre-wrap'>{body}</pre>"
    return f"<details{' open' if open_ else ''}><summary>{title}</summary>{pre}</details>"


def case_html(board: Board, case_id: str | None) -> str:
    """One case: the question, the reference, and each model's reasoning, answer and verdict."""
    if board.problem:
        return f"<p><em>{html.escape(board.problem)}</em></p>"
    rows = [r for r in board.rows if r["case"] == case_id]
    if not rows:
        return "<p><em>No case matches.</em></p>"
    first, ref = rows[0], board.cases.get(case_id, {})
    parts = [
        f"<h3>{html.escape(case_id)} · {html.escape(first['category'])} · level {first['level']}</h3>",
        f"<pre class='case-prompt' style='white-space:pre-wrap'>{html.escape(first['prompt'] or '')}</pre>",
        f"<p><strong>Reference:</strong> {html.escape(ref.get('reference') or '(not in the benchmark dataset)')}</p>",
        "<div class='case-models' style='display:flex;gap:1em;flex-wrap:wrap'>",
    ]
    for r in rows:
        verdict = "✅ pass" if r["passed"] else "❌ fail"
        sample = f" (sample {r['sample']})" if any(x["sample"] for x in rows) else ""
        parts.append(
            "<div class='case-model' style='flex:1;min-width:16em'>"
            f"<h4>{html.escape(r['model'].split('/')[-1])}{sample}</h4>"
            f"<p class='verdict'><strong>{verdict}</strong> · grader <code>{html.escape(r['grader'] or '')}</code>"
            f" · finish <code>{html.escape(r['finish_reason'] or '')}</code></p>"
            f"<p class='detail'>{html.escape(r['detail'] or '')}</p>"
            + _block("Reasoning", r["reasoning"])
            + _block("Answer", r["answer"] if r["closed"] else "(no answer: the model never left its reasoning)", True)
            + "</div>"
        )
    parts.append("</div>")
    return "\n".join(parts)
