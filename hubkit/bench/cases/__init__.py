"""CMDR-Bench cases: one YAML file per category in this folder (the reviewable source).

A file holds `category`, `grader` (defaults shared by its cases, e.g. an SQL schema) and
`cases`. Each case: id, level (1-10), prompt, optional context (RAG), grader (merged over
the defaults), reference (an answer that must pass) and wrong (answers that must fail).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubkit.bench import CATEGORIES
from hubkit.config import read_yaml, validate
from hubkit.errors import ConfigError

HERE = Path(__file__).parent


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z]+-\d{2}$")
    category: str
    level: int = Field(ge=1, le=10)
    prompt: str
    task: str = ""  # the prompt without its file's shared preamble (what a card shows as an example)
    context: str | None = None
    grader: dict[str, Any]
    reference: str
    wrong: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _phrases_are_strings(self) -> Case:
        """YAML 1.1 turns bare yes/no/22:00 into bools and ints; phrases must stay text."""
        g = self.grader
        rubric = g.get("items", []) if g.get("kind") == "rubric" else []
        groups = [it.get("any", []) for it in rubric] + list(g.get("required", []))
        groups += [
            g.get("forbidden", []),
            g.get("checks", {}).get("must_include", []),
            g.get("checks", {}).get("forbid", []),
        ]
        if bad := [p for group in groups for p in group if not isinstance(p, str)]:
            raise ValueError(f"grader phrases must be strings, got {bad!r} (quote them in YAML)")
        return self

    def message(self) -> str:
        """What the model is asked: the context (for RAG cases), then the task."""
        return f"Context:\n{self.context.strip()}\n\n{self.prompt.strip()}" if self.context else self.prompt.strip()


class _CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    level: int
    prompt: str
    context: str | None = None
    grader: dict[str, Any] = Field(default_factory=dict)
    reference: str
    wrong: list[str]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str
    preamble: str | None = None  # put before every prompt of the file (e.g. a database schema)
    grader: dict[str, Any]
    cases: list[_CaseIn]


@lru_cache(maxsize=1)
def load_cases(folder: Path = HERE) -> tuple[Case, ...]:
    """All cases, in category order then level; checked for completeness (10 x levels 1-10)."""
    cases: list[Case] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        data, root = read_yaml(path)
        f = validate(_File, data, path, root)
        if f.category not in CATEGORIES:
            problems.append(f"{path}: category: {f.category!r} is not a CMDR-Bench category")
        for c in f.cases:
            try:
                prompt = f"{f.preamble.strip()}\n\n{c.prompt.strip()}" if f.preamble else c.prompt
                grader = {**f.grader, **c.grader}
                if grader.get("differential"):  # generated inputs are compared with the reference fix
                    grader["reference"] = c.reference
                fields = {**c.model_dump(), "prompt": prompt, "task": c.prompt.strip(), "category": f.category,
                          "grader": grader}  # fmt: skip
                cases.append(Case(**fields))
            except ValueError as exc:
                problems.append(f"{path}: {c.id}: {str(exc).splitlines()[-1]}")
    ids = [c.id for c in cases]
    problems += [f"duplicate case id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for cat in CATEGORIES:
        levels = sorted(c.level for c in cases if c.category == cat)
        if levels != list(range(1, 11)):
            problems.append(f"{cat}: levels {levels}, expected one case per level 1-10")
    if problems:
        raise ConfigError(problems)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return tuple(sorted(cases, key=lambda c: (order[c.category], c.level)))


def grader_kinds(category: str) -> str:
    """The grader kind(s) behind a category's pass rate, e.g. "sql" or "facts"."""
    return ", ".join(sorted({c.grader["kind"] for c in load_cases() if c.category == category})) or "unknown"


def level_range() -> tuple[int, int]:
    """The lowest and highest difficulty level of the authored cases."""
    levels = [c.level for c in load_cases()]
    return min(levels), max(levels)


def cases_fingerprint(folder: Path = HERE) -> str:
    """Content hash of the case files: editing any case changes it."""
    from hubkit.workspace import file_sha256, fingerprint

    return fingerprint({p.name: file_sha256(p) for p in sorted(folder.glob("*.yaml"))})


def case_by_id(case_id: str) -> Case:
    for c in load_cases():
        if c.id == case_id:
            return c
    from hubkit.errors import UsageError

    raise UsageError(f"unknown case {case_id!r} (ids look like sql-01 ... eth-10)")
