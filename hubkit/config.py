"""The release config: pydantic models, YAML loading, one-line errors (file, key path, line)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from hubkit.errors import ConfigError

# Hub repo names: letters, digits, '-', '_', '.'; at most 96 characters.
RepoName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
HubId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
DEFAULT_CONFIG = Path("configs/release.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Teacher(_Strict):
    """A model that writes the reasoning traces of a distillation dataset."""

    model: str
    backend: Literal["openai_compat", "hf_inference", "local"] = "openai_compat"
    base_url: str | None = None
    # The *name* of the environment variable holding the key; the key never enters a config.
    api_key_env: str | None = None


class DistillDataset(_Strict):
    name: RepoName
    pretty_name: str | None = None
    teacher: Teacher
    domains: list[str] = Field(min_length=1)
    size: PositiveInt
    prompts: Path | None = None
    private: bool = False


class Fixture(_Strict):
    """A tiny random Qwen3 from `hubkit.testing`, standing in for a trained model offline."""

    seed: int = 0
    layers: PositiveInt = 4
    tie_word_embeddings: bool = True


class TrainSpec(_Strict):
    method: Literal["qlora", "lora"] = "qlora"
    framework: Literal["unsloth", "peft"] = "unsloth"
    precision: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    config: Path | None = None


class DistilledModel(_Strict):
    name: RepoName
    base_model: HubId
    dataset: str
    source: Literal["train", "fixture"] = "train"
    train: TrainSpec = TrainSpec()
    fixture: Fixture | None = None
    private: bool = False

    @model_validator(mode="after")
    def _fixture_iff_source(self) -> DistilledModel:
        if self.source == "fixture" and self.fixture is None:
            raise ValueError("source 'fixture' needs a 'fixture' section")
        if self.source != "fixture" and self.fixture is not None:
            raise ValueError("'fixture' is only allowed with source 'fixture'")
        return self


class Merge(_Strict):
    name: RepoName
    config: Path  # a mergekit YAML; its model references may be release model names
    shard_size: Annotated[str, Field(pattern=r"^\d+[KkMmBb]?$")] = "5B"
    private: bool = False


class Sampling(_Strict):
    temperature: Annotated[float, Field(ge=0)] = 0.6
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    max_new_tokens: PositiveInt = 4096
    seed: int = 0


class EvalBackend(_Strict):
    """Where answers come from: local transformers, an OpenAI-compatible endpoint, or vLLM."""

    kind: Literal["transformers", "openai_compat", "vllm"] = "transformers"
    base_url: str | None = None
    api_key_env: str | None = None  # the name of the variable holding the key, never the key
    batch_size: PositiveInt = 8


class JudgeSpec(_Strict):
    """An OpenAI-compatible model that grades rubric categories (scenario, ethics)."""

    base_url: str
    model: str
    api_key_env: str | None = None


class Benchmark(_Strict):
    name: RepoName
    pretty_name: str | None = None
    cases: PositiveInt = 100
    samples: PositiveInt = 1
    evaluate: list[str] = Field(default_factory=list)
    backend: EvalBackend = EvalBackend()
    sampling: Sampling = Sampling()
    judge: JudgeSpec | None = None  # without one, rubrics are graded deterministically
    # Results to put on the cards until hubkit's own evaluation has run: a results file or a
    # published table (e.g. bench/seed_results.yaml); cards name their source.
    results: Path | None = None


class Space(_Strict):
    name: RepoName
    title: str | None = None
    sdk: Literal["gradio"] = "gradio"
    models: list[str] = Field(min_length=1)
    app: Path = Path("../spaces/compare")  # the Space's source folder; relative to this config file
    max_new_tokens: PositiveInt = 1024


class Release(_Strict):
    """One model family: every artifact hubkit builds and publishes."""

    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$")]
    namespace: RepoName
    license: str = "apache-2.0"
    language: list[str] = Field(default_factory=lambda: ["en"])
    datasets: list[DistillDataset] = Field(default_factory=list)
    models: list[DistilledModel] = Field(default_factory=list)
    merge: Merge | None = None
    benchmark: Benchmark | None = None
    space: Space | None = None
    card_templates: Path = Path("../cards")  # Jinja templates; relative to this config file
    # Where the config came from; relative paths inside it resolve against this directory.
    source: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.source.parent / path

    def repo_id(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    def model_ref(self, ref: str) -> str:
        """A release model's name -> its repo id; a Hub id stays as it is."""
        return self.repo_id(ref) if ref in self.model_names() else ref

    def model_names(self) -> list[str]:
        names = [m.name for m in self.models]
        return [*names, self.merge.name] if self.merge else names


def _reference_problems(rel: Release) -> list[tuple[tuple, str]]:
    """Cross-references pydantic cannot see: names, links between sections, files on disk."""
    problems: list[tuple[tuple, str]] = []
    seen: dict[str, tuple] = {}
    named = [(("datasets", i, "name"), d.name) for i, d in enumerate(rel.datasets)]
    named += [(("models", i, "name"), m.name) for i, m in enumerate(rel.models)]
    for key in ("merge", "benchmark", "space"):
        if (section := getattr(rel, key)) is not None:
            named.append(((key, "name"), section.name))
    for loc, name in named:
        if name in seen:
            problems.append((loc, f"duplicate artifact name {name!r}"))
        seen[name] = loc

    datasets = {d.name for d in rel.datasets}
    for i, m in enumerate(rel.models):
        if m.dataset not in datasets:
            known = ", ".join(sorted(datasets)) or "none"
            problems.append((("models", i, "dataset"), f"unknown dataset {m.dataset!r} (known: {known})"))

    models = set(rel.model_names())
    refs = []
    if rel.benchmark:
        refs += [(("benchmark", "evaluate", i), r) for i, r in enumerate(rel.benchmark.evaluate)]
    if rel.space:
        refs += [(("space", "models", i), r) for i, r in enumerate(rel.space.models)]
    for loc, ref in refs:
        if ref not in models and "/" not in ref:
            known = ", ".join(sorted(models)) or "none"
            problems.append((loc, f"{ref!r} is neither a model of this release ({known}) nor a Hub id"))

    files = [(("datasets", i, "prompts"), d.prompts) for i, d in enumerate(rel.datasets)]
    files += [(("models", i, "train", "config"), m.train.config) for i, m in enumerate(rel.models)]
    if rel.merge:
        files.append((("merge", "config"), rel.merge.config))
    if rel.benchmark:
        files.append((("benchmark", "results"), rel.benchmark.results))
    for loc, path in files:
        if path is not None and not rel.resolve(path).is_file():
            problems.append((loc, f"file not found: {rel.resolve(path)}"))
    if rel.space and not (rel.resolve(rel.space.app) / "app.py").is_file():
        problems.append((("space", "app"), f"no app.py in {rel.resolve(rel.space.app)}"))
    if not rel.resolve(rel.card_templates).is_dir():
        problems.append((("card_templates",), f"folder not found: {rel.resolve(rel.card_templates)}"))
    return problems


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """Line (1-based) of the deepest YAML node on the key path `loc`."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def problem_at(shown: str, root: yaml.Node | None, loc: tuple, msg: str) -> str:
    line = _line_of(root, loc)
    where = f" (line {line})" if line else ""
    return f"{shown}: {format_loc(loc)}: {msg}{where}"


def _pydantic_message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def read_yaml(path: Path | str) -> tuple[Any, yaml.Node | None]:
    """Parsed YAML and its node tree (for line numbers); ConfigError if unreadable or invalid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc.__class__.__name__}"]) from None
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path}{where}: invalid YAML: {problem}"]) from None


def validate(model: type[BaseModel], data: Any, path: Path, root: yaml.Node | None):
    """`model.model_validate(data)`, its errors as `file: key.path: problem (line N)`."""
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([problem_at(str(path), root, e["loc"], _pydantic_message(e)) for e in exc.errors()]) from None


def load_release(path: Path | str = DEFAULT_CONFIG) -> Release:
    """Read and validate a release config; raise ConfigError with one line per problem."""
    path = Path(path)
    data, root = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of release settings at the top level"])
    rel = validate(Release, {**data, "source": path}, path, root)
    problems = _reference_problems(rel)
    if problems:
        raise ConfigError([problem_at(str(path), root, loc, msg) for loc, msg in problems])
    return rel
