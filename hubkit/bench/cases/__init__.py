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
        if g.get("kind") == "conclusion":  # its schema checks its phrases (and that the answer is an option)
            from hubkit.bench.graders.conclusion import Spec

            Spec.model_validate(g)
        groups = [g.get("checks", {}).get("must_include", []), g.get("checks", {}).get("forbid", [])]
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


def _one_line(exc: ValueError) -> str:
    """A validation error as one line: where in the grader spec, and what."""
    from pydantic import ValidationError

    while isinstance(exc, ValidationError) and exc.errors():
        e = exc.errors()[0]
        inner = (e.get("ctx") or {}).get("error")
        if isinstance(inner, ValidationError):  # the grader's own schema, raised inside the case's
            exc = inner
            continue
        where = ".".join(str(p) for p in e["loc"])
        return f"{where}: {e['msg']}" if where else e["msg"]
    return str(exc).splitlines()[-1]


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
                grader = {**f.grader, **c.grader}
                task = c.prompt.strip()
                if grader.get("kind") == "conclusion":  # the line to finish with, from the grader's own spec
                    from hubkit.bench.graders.conclusion import instruction

                    task = f"{task}\n\n{instruction(grader)}"
                prompt = f"{f.preamble.strip()}\n\n{task}" if f.preamble else task
                if grader.get("differential"):  # generated inputs are compared with the reference fix
                    grader["reference"] = c.reference
                fields = {**c.model_dump(), "prompt": prompt, "task": task, "category": f.category,
                          "grader": grader}  # fmt: skip
                cases.append(Case(**fields))
            except ValueError as exc:
                problems.append(f"{path}: {c.id}: {_one_line(exc)}")
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


def grader_kinds(category: str, judge_model: str | None = None) -> str:
    """The grader(s) behind a category's pass rate as cards name them, e.g. "sql" or
    "conclusion + points (keywords)" ("(judge: <model>)" when a judge reads the points)."""
    from hubkit.bench.graders import label

    kinds = {c.grader["kind"] for c in load_cases() if c.category == category}
    return ", ".join(sorted(label(k, judge_model) for k in kinds)) or "unknown"


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
