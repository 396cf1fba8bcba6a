"""Charts for cards: per-category grouped bars (Wilson 95% error bars), a dataset's token lengths,
loss curves. PNG bytes, identical for identical data (no timestamps or versions)."""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubkit.bench.results import Results


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    """PNG bytes of `fig`, closed; identical figures give identical bytes (no timestamps or versions)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def grouped_bars(results: Results, highlight: str | None = None) -> bytes:
    """PNG bytes of pass rates per category and model."""
    plt = _pyplot()
    cats = results.categories
    models = [m.model for m in results.models]
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(10, 1.3 * len(cats)), 6.5), dpi=100)
    for i, model in enumerate(models):
        rates = [results.rate(model, c) for c in cats]
        bounds = [results.interval(model, c) for c in cats]
        err = [[r - lo for r, (lo, _) in zip(rates, bounds, strict=True)],
               [hi - r for r, (_, hi) in zip(rates, bounds, strict=True)]]  # fmt: skip
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(cats))]
        ax.bar(xs, rates, width, yerr=err, capsize=2, label=model,
               edgecolor="black" if model == highlight else "none", linewidth=1.2)  # fmt: skip
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels([textwrap.fill(c, 14) for c in cats], fontsize=8)
    ax.set_ylabel("pass rate (%), 95% Wilson interval")
    ax.set_ylim(0, 105)
    ax.set_title(f"{results.benchmark}: pass rate per category")
    # Below the axes, so it never hides a bar.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def length_histogram(rows: list[dict[str, Any]]) -> bytes | None:
    """PNG bytes of reasoning and answer token lengths of dataset rows (None without token counts)."""
    pairs = [(r["reasoning_tokens"], r["completion_tokens"] - r["reasoning_tokens"]) for r in rows
             if r["reasoning_tokens"] is not None and r["completion_tokens"] is not None]  # fmt: skip
    if not pairs:
        return None
    fig, ax = _pyplot().subplots(figsize=(8, 4), dpi=100)
    ax.hist([p[0] for p in pairs], bins=30, alpha=0.7, label="reasoning")
    ax.hist([p[1] for p in pairs], bins=30, alpha=0.7, label="answer")
    ax.set_xlabel("tokens (as the teacher's API counted them)")
    ax.set_ylabel("rows")
    ax.set_title(f"Token lengths of {len(pairs)} accepted rows")
    ax.legend()
    fig.tight_layout()
    return _png(fig)


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, xlabel: str, ylabel: str) -> bytes:
    """PNG bytes of named (x, y) series; empty series are left out (e.g. no eval loss)."""
    fig, ax = _pyplot().subplots(figsize=(8, 4), dpi=100)
    for label, points in series.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if len(points) < 30 else None,
                    markersize=3, label=label)  # fmt: skip
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _png(fig)
