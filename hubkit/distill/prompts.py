"""Prompts for a distillation dataset: a local JSONL/CSV/parquet file or a pinned Hub dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.errors import UsageError

OPTIONAL = ("id", "domain", "reference")


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    domain: str | None = None
    reference: str | None = None
    source: str = "file"  # file | hub | synthesized


def prompt_id(text: str) -> str:
    return "p-" + hashlib.sha256(text.strip().encode()).hexdigest()[:12]


def _utf8(path: Path) -> None:
    """Text prompt files must be UTF-8: say where they are not (pyarrow would fail later, less clearly)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def _table(path: Path):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json", ".csv"):
            _utf8(path)
        if suffix in (".jsonl", ".json"):
            return pjson.read_json(path)
        if suffix == ".csv":
            return pcsv.read_csv(path)
        if suffix == ".parquet":
            return pq.read_table(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except (pa.ArrowInvalid, OSError) as exc:
        first = str(exc).splitlines()[0][:160]
        raise UsageError(f"{path}: cannot read prompts: {first}") from None
    raise UsageError(f"{path}: prompts must be .jsonl, .csv or .parquet (got {suffix or 'no suffix'})")


def _rows(
    columns: dict[str, list[Any]], column: str, where: str, source: str, default_domain: str | None
) -> list[Prompt]:
    if column not in columns:
        raise UsageError(f"{where}: no column {column!r} (columns: {', '.join(sorted(columns)) or 'none'})")
    texts = columns[column]
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"{where}: row {i + 1}: {column!r} is empty or not text")
        get = {k: (str(columns[k][i]) if k in columns and columns[k][i] is not None else None) for k in OPTIONAL}
        out.append(Prompt(id=get["id"] or prompt_id(text), text=text.strip(), domain=get["domain"] or default_domain,
                          reference=get["reference"], source=source))  # fmt: skip
    # The same prompt twice is a duplicate (the screen filters it, with its reason); one id for
    # two different prompts is a mistake in the file.
    seen: dict[str, str] = {}
    for i, p in enumerate(out):
        if seen.setdefault(p.id, p.text) != p.text:
            raise UsageError(f"{where}: row {i + 1}: id {p.id!r} is already used by another prompt")
    return out


def load_file(path: Path, column: str = "prompt") -> list[Prompt]:
    return _rows(_table(path).to_pydict(), column, str(path), "file", None)


def load_hub(repo: str, revision: str, split: str, column: str) -> list[Prompt]:
    """A Hub dataset at a pinned revision (through `datasets`, so HF_ENDPOINT applies)."""
    from datasets import load_dataset

    where = f"{repo}@{revision} split {split}"
    try:
        ds = load_dataset(repo, split=split, revision=revision)
    except Exception as exc:  # datasets raises many kinds; one line says which dataset failed
        raise UsageError(
            f"{where}: cannot load prompts: {exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}"
        ) from None
    return _rows(ds.to_dict(), column, where, "hub", None)
