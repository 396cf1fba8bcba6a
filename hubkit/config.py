"""The release config: pydantic models, YAML loading, one-line errors (file, key path, line)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from hubkit.errors import ConfigError


def hub_id_problem(repo_id: str) -> str | None:
    """Why the Hub would refuse `repo_id` (huggingface_hub's own rule), or None."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        return "expected namespace/name"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        return str(exc).split(":")[0].rstrip(".").lower() if ":" in str(exc) else str(exc)
    return None


def _repo_name(name: str) -> str:
    if why := hub_id_problem(f"ns/{name}"):
        raise ValueError(f"not a name the Hub accepts ({why})")
    return name


def _hub_id(repo_id: str) -> str:
    if why := hub_id_problem(repo_id):
        raise ValueError(f"not a Hub repo id ({why})")
    return repo_id


# Names and ids as the Hub accepts them (letters, digits, '-', '_', '.'; no '--' or '..'; not
# ending in '.git'; at most 96 characters), checked by huggingface_hub's validate_repo_id.
RepoName = Annotated[str, AfterValidator(_repo_name)]
HubId = Annotated[str, AfterValidator(_hub_id)]
DEFAULT_CONFIG = Path("configs/release.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """USD per million tokens, for the cost shown while generating and on the card."""

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]


class Scripted(_Strict):
    """Behaviour of the offline scripted teacher server (`hubkit.offline.teacher`): demo and tests."""

    reasoning_field: Literal["reasoning_content", "reasoning", "inline"] = "reasoning_content"
    only_stream: bool = False
    refuse: list[str] = Field(default_factory=lambda: ["explosive", "malware"])
    truncate_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    latency: Annotated[float, Field(ge=0)] = 0.0


class ChatEndpoint(_Strict):
    """A chat model behind an OpenAI-compatible API: a teacher, the judge, an evaluated endpoint.

    Provider switches are data: `extra_body` is sent as is (e.g. DashScope's
    `{enable_thinking: true}`), `stream` for models that only stream, `temperature` for
    providers that fix it (it overrides the sampling's). `backend: scripted` starts the
    offline scripted server of `hubkit.offline` for the run and talks to it over HTTP.
    """

    model: str
    backend: Literal["openai_compat", "scripted"] = "openai_compat"
    base_url: str | None = None
    # The *name* of the environment variable holding the key; the key never enters a config.
    api_key_env: str | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    temperature: Annotated[float, Field(ge=0)] | None = None
    concurrency: PositiveInt = 16
    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None
    timeout: Annotated[float, Field(gt=0)] = 600.0
    max_retries: Annotated[int, Field(ge=0)] = 8
    price: Price | None = None
    scripted: Scripted | None = None  # only with backend 'scripted'

    @model_validator(mode="after")
    def _backend_fields(self) -> ChatEndpoint:
        if self.backend == "openai_compat" and not self.base_url:
            raise ValueError("backend 'openai_compat' needs a base_url")
        if self.backend != "scripted" and self.scripted is not None:
            raise ValueError("'scripted' is only allowed with backend 'scripted'")
        return self

    def identity(self) -> dict[str, Any]:
        """What decides the answers (fingerprinted); not how fast or how often they are asked for."""
        keep = {"model", "backend", "base_url", "extra_body", "stream", "temperature", "scripted"}
        return self.model_dump(mode="json", include=keep)


Teacher = ChatEndpoint  # the name the config's datasets[].teacher speaks of


class HubPrompts(_Strict):
    """Prompts from a Hub dataset, pinned to a revision so a rebuild asks the same questions."""

    hub: HubId
    revision: str
    split: str = "train"
    column: str = "prompt"


class Synthesis(_Strict):
    """The teacher writes prompts itself from a few seed questions per domain."""

    seeds: Path  # YAML {domain: [question, ...]}; relative to this config file
    per_domain: PositiveInt = 50  # questions asked for per domain, before filters
    template: Path | None = None  # Jinja; default hubkit/distill/synthesize.md.j2


class Filters(_Strict):
    """Which teacher answers are kept; every rejection keeps its reason."""

    refusals: bool = True
    near_duplicate: Annotated[float, Field(gt=0, le=1)] | None = 0.8  # MinHash Jaccard; None: exact only
    decontaminate: bool = True  # against CMDR-Bench's prompts
    contamination_ngram: Annotated[int, Field(ge=3, le=50)] = 8
    contamination_threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    verify: bool = True  # math-verify answers of prompts that carry a reference


class Fixture(_Strict):
    """A tiny random Qwen3 from `hubkit.offline`, made offline (the demo's base)."""

    seed: int = 0
    layers: PositiveInt = 4
    tie_word_embeddings: bool = True
    # Weight init std. A trainable demo base needs more than Qwen3's 0.02: with tied tiny embeddings
    # the logits cannot leave the uniform distribution whatever the layers learn.
    initializer_range: Annotated[float, Field(gt=0, le=2)] = 0.02


class TrainSpec(_Strict):
    """How a distilled model is trained; the recipe (hyper-parameters) is the YAML at `config`."""

    method: Literal["qlora", "lora"] = "qlora"
    framework: Literal["unsloth", "peft"] = "unsloth"
    precision: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    config: Path | None = None  # configs/train/*.yaml: `lora` (peft.LoraConfig) and `sft` (trl.SFTConfig)


# A Job's time limit as the Hub takes it: seconds, or a number with s, m, h or d ("6h").
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Duration = Annotated[str, Field(pattern=r"^\d+(\.\d+)?[smhd]?$")]
CommitSha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]


def duration_seconds(duration: str) -> int:
    """ "6h" -> 21600; "90" -> 90."""
    unit = duration[-1] if duration[-1] in _UNITS else "s"
    return int(float(duration.rstrip("smhd")) * _UNITS[unit])


class Jobs(_Strict):
    """Build this artifact as a Hugging Face Job instead of here: the same hubkit runs there on
    inputs pinned on the Hub and uploads its output to a staging branch, which the build brings back."""

    flavor: str  # the Job's hardware, e.g. a10g-large (huggingface_hub's JobHardware)
    timeout: Duration = "30m"  # the Hub stops the Job after this; the status shows price x timeout
    namespace: RepoName | None = None  # where the Job runs; default the release's namespace
    # An image with hubkit installed; default: the uv image, installing hubkit from this
    # checkout's repository at its commit (`uv run --with hubkit @ git+URL@COMMIT`).
    image: str | None = None
    # The variable holding the token that starts and watches Jobs (fallback: HF_TOKEN / the login
    # token); the Job gets it as its secret HF_TOKEN, to read its inputs and write its output.
    token_env: str = "HF_JOBS_TOKEN"

    @field_validator("flavor")
    @classmethod
    def _known_flavor(cls, value: str) -> str:
        from huggingface_hub import JobHardware

        known = [h.value for h in JobHardware]
        if value not in known:
            raise ValueError(f"unknown Jobs flavor {value!r}; one of {', '.join(known)}")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def seconds(self) -> int:
        return duration_seconds(self.timeout)


class Compute(_Strict):
    """Where an artifact builds: here (the default) or, with `jobs`, as a Hugging Face Job."""

    jobs: Jobs | None = None


class HubSource(_Strict):
    """`source: hub`: the artifact is taken from a Hub repo at a pinned commit instead of made here
    (a student trained earlier, what a Job built). Its other fields still describe it for its card."""

    source: Literal["build", "hub"] = "build"
    repo: HubId | None = None  # default: this release's own repo of that name
    revision: CommitSha | None = None  # the commit it is taken at (a 40-hex sha: pinned)

    @model_validator(mode="after")
    def _pinned(self):
        if self.source == "hub" and self.revision is None:
            raise ValueError("source 'hub' needs a revision: the commit sha (40 hex) it is taken at")
        if self.source == "build" and (self.repo is not None or self.revision is not None):
            raise ValueError("'repo' and 'revision' are only allowed with source 'hub'")
        return self


class DistilledModel(HubSource):
    name: RepoName
    base_model: HubId
    # The base's commit on the Hub; part of the fingerprint, so a new pin makes the model stale.
    base_revision: str = "main"
    # Instead of downloading `base_model`, make it offline as a tiny random Qwen3 (the demo).
    base_fixture: Fixture | None = None
    dataset: str
    train: TrainSpec = TrainSpec()
    publish_adapter: bool = False  # also publish the LoRA adapter, as its own repo <name>-adapter
    private: bool = False
    compute: Compute | None = None  # where it trains: here, or `{jobs: {flavor: a10g-large, timeout: 6h}}`

    @model_validator(mode="after")
    def _has_recipe(self) -> DistilledModel:
        if self.train.config is None:
            raise ValueError("training needs a recipe: set train.config (e.g. train/qwen3-4b-qlora.yaml)")
        if self.source == "hub" and self.publish_adapter:
            raise ValueError("publish_adapter needs the model trained here: its adapter is not in the published repo")
        if self.source == "hub" and self.compute is not None:
            raise ValueError("compute places a build; a model taken from the Hub (source 'hub') builds nowhere")
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


class DistillDataset(HubSource):
    name: RepoName
    pretty_name: str | None = None
    teacher: Teacher
    domains: list[str] = Field(min_length=1)
    size: PositiveInt  # accepted rows wanted; generation goes through the prompts until it has them
    prompts: Path | HubPrompts | None = None  # JSONL, CSV or parquet with a `prompt` column
    synthesize: Synthesis | None = None
    sampling: Sampling = Field(default_factory=lambda: Sampling(max_new_tokens=16384))
    filters: Filters = Filters()
    terms: str | None = None  # a note on the teacher provider's terms, for the card
    private: bool = False

    @model_validator(mode="after")
    def _has_prompts(self) -> DistillDataset:
        if self.prompts is None and self.synthesize is None:
            raise ValueError("needs 'prompts' (a file or a Hub dataset) or 'synthesize' (seed questions)")
        return self


class EvalBackend(_Strict):
    """Where answers come from: local transformers, an OpenAI-compatible endpoint, or vLLM."""

    kind: Literal["transformers", "openai_compat", "vllm"] = "transformers"
    base_url: str | None = None
    api_key_env: str | None = None  # the name of the variable holding the key, never the key
    batch_size: PositiveInt = 8
    concurrency: PositiveInt = 16  # requests in flight (openai_compat)

    def endpoint(self, model: str) -> ChatEndpoint:
        """The chat endpoint serving `model` (openai_compat backends)."""
        return ChatEndpoint(model=model, base_url=self.base_url, api_key_env=self.api_key_env,
                            concurrency=self.concurrency)  # fmt: skip


class Benchmark(_Strict):
    name: RepoName
    pretty_name: str | None = None
    cases: PositiveInt = 100
    samples: PositiveInt = 1
    evaluate: list[str] = Field(default_factory=list)
    backend: EvalBackend = EvalBackend()
    sampling: Sampling = Sampling()
    judge: ChatEndpoint | None = None  # without one, rubrics are graded deterministically
    # Results to put on the cards until hubkit's own evaluation has run: a results file or a
    # published table (e.g. bench/seed_results.yaml); cards name their source.
    results: Path | None = None
    compute: Compute | None = None  # where the evaluation runs: here, or `{jobs: {flavor: ..., timeout: ...}}`


def details_name(bench: Benchmark) -> str:
    """The evaluation's repo name: every graded sample of the benchmark's models."""
    return f"{bench.name}-details"


class SpaceBackend(_Strict):
    """Where the Space's models run: `local` (transformers in the Space; ZeroGPU when the
    hardware is) or an OpenAI-compatible `endpoint` (e.g. Inference Providers' router)."""

    kind: Literal["local", "endpoint"] = "local"
    base_url: str | None = None
    api_key_env: str | None = None  # the name of the Space secret holding the key
    served: dict[str, str] = Field(default_factory=dict)  # space model -> the endpoint's model name

    @model_validator(mode="after")
    def _endpoint_needs_url(self) -> SpaceBackend:
        if self.kind == "endpoint" and not self.base_url:
            raise ValueError("an endpoint backend needs base_url")
        return self


class SpaceLimits(_Strict):
    """What one visitor may ask of the Space; beyond it they get a friendly message."""

    max_prompt_chars: PositiveInt = 4000
    queue_size: PositiveInt = 16  # requests waiting, all visitors together
    concurrency: PositiveInt = 2  # comparisons generating at once
    requests_per_minute: PositiveInt = 6  # per visitor session
    votes_per_hour: PositiveInt = 60  # per visitor session


class Arena(_Strict):
    """Blind A/B votes, appended to a dataset repo of the release namespace by the Space itself."""

    votes: RepoName
    min_votes: PositiveInt = 30  # the scoreboard stays hidden below this
    every_minutes: Annotated[float, Field(gt=0)] = 5.0  # how often the Space commits new votes


class Space(_Strict):
    name: RepoName
    title: str | None = None
    sdk: Literal["gradio"] = "gradio"
    models: list[str] = Field(min_length=1)
    app: Path = Path("../spaces/compare")  # the Space's source folder; relative to this config file
    max_new_tokens: PositiveInt = 1024
    hardware: str | None = None  # suggested_hardware in the card, e.g. zero-a10g, cpu-basic
    backend: SpaceBackend = Field(default_factory=SpaceBackend)
    limits: SpaceLimits = Field(default_factory=SpaceLimits)
    arena: Arena | None = None
    # Space secrets set at publish: the secret's name -> the publishing job's environment variable
    # holding its value (e.g. HF_TOKEN: HUBKIT_SPACE_TOKEN, a token that may write the votes dataset).
    secrets: dict[str, str] = Field(default_factory=dict)

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:  # the values (variable names of the publisher) are checked with every api_key_env
            if not key.isidentifier():
                raise ValueError("a secret's name must be a variable name (name not shown)")
        return value

    @field_validator("hardware")
    @classmethod
    def _known_hardware(cls, value: str | None) -> str | None:
        from huggingface_hub import SpaceHardware

        known = [h.value for h in SpaceHardware]
        if value is not None and value not in known:
            raise ValueError(f"unknown Space hardware {value!r}; one of {', '.join(known)}")
        return value


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


# Where a variable name belongs, a value shaped like a key is refused (never echoed back): tokens
# of the Hub, OpenAI-style and GitHub keys by their prefixes, and any long mixed-case secret-looking word.
_KEY_PREFIXES = ("hf_", "sk-", "sk_", "ghp_", "gho_", "ghs_", "github_pat_", "xoxb-", "xoxp-", "AKIA", "AIza")


def variable_name_problem(value: str) -> str | None:
    """Why `value` cannot be the name of an environment variable (None if it can); never quotes it."""
    if value.startswith(_KEY_PREFIXES) or (
        len(value) >= 24 and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    ):
        return "must name an environment variable (e.g. MOONSHOT_API_KEY), not hold a key (value not shown)"
    if not value.isidentifier():
        return "must name an environment variable: letters, digits and _ (value not shown)"
    return None


def variable_names(rel: Release) -> list[tuple[tuple, str]]:
    """Every place the config names an environment variable, with its key path."""
    out = [(("datasets", i, "teacher", "api_key_env"), d.teacher.api_key_env) for i, d in enumerate(rel.datasets)]
    out += [(("models", i, "compute", "jobs", "token_env"), m.compute.jobs.token_env)
            for i, m in enumerate(rel.models) if m.compute and m.compute.jobs]  # fmt: skip
    if rel.benchmark:
        out.append((("benchmark", "backend", "api_key_env"), rel.benchmark.backend.api_key_env))
        if rel.benchmark.judge:
            out.append((("benchmark", "judge", "api_key_env"), rel.benchmark.judge.api_key_env))
        if rel.benchmark.compute and rel.benchmark.compute.jobs:
            out.append((("benchmark", "compute", "jobs", "token_env"), rel.benchmark.compute.jobs.token_env))
    if rel.space:
        out.append((("space", "backend", "api_key_env"), rel.space.backend.api_key_env))
        out += [(("space", "secrets", key), env) for key, env in rel.space.secrets.items()]
    return [(loc, value) for loc, value in out if value is not None]


def _reference_problems(rel: Release) -> list[tuple[tuple, str]]:
    """Cross-references pydantic cannot see: names, links between sections, files on disk."""
    problems: list[tuple[tuple, str]] = []
    seen: dict[str, tuple] = {}
    named = [(("datasets", i, "name"), d.name) for i, d in enumerate(rel.datasets)]
    named += [(("models", i, "name"), m.name) for i, m in enumerate(rel.models)]
    for key in ("merge", "benchmark", "space"):
        if (section := getattr(rel, key)) is not None:
            named.append(((key, "name"), section.name))
    if rel.space and rel.space.arena:
        named.append((("space", "arena", "votes"), rel.space.arena.votes))
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
    if rel.space:
        for key in rel.space.backend.served:
            if key not in rel.space.models:
                problems.append((("space", "backend", "served", key), "not one of space.models"))
    for loc, ref in refs:
        if ref not in models and hub_id_problem(ref):
            known = ", ".join(sorted(models)) or "none"
            problems.append((loc, f"{ref[:100]!r} is neither a model of this release ({known}) nor a Hub id"))

    files = [(("datasets", i, "prompts"), d.prompts) for i, d in enumerate(rel.datasets) if isinstance(d.prompts, Path)]
    for i, d in enumerate(rel.datasets):
        if d.synthesize:
            files.append((("datasets", i, "synthesize", "seeds"), d.synthesize.seeds))
            files.append((("datasets", i, "synthesize", "template"), d.synthesize.template))
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
    problems += [(loc, why) for loc, value in variable_names(rel) if (why := variable_name_problem(value))]
    return problems


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and (not part.isprintable() or part.strip() != part or not part):
            out += f"[{part!r}]"  # a key with a newline or blanks, quoted: the problem stays one line
        else:
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
    msg = "".join(c if c.isprintable() else repr(c)[1:-1] for c in msg)  # a message may quote the file
    return f"{shown}: {format_loc(loc)}: {msg}{where}"


def _pydantic_message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


# A release config (or a file it points to) is small: limits that keep a hostile or broken file
# from eating memory or time before it is refused.
MAX_YAML_BYTES = 1 << 20  # 1 MiB
MAX_YAML_DEPTH = 64  # nested mappings and lists
MAX_YAML_NODES = 100_000  # after aliases are expanded (a "billion laughs" file is refused)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice (the last would silently win)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class says so with its mark
                break
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:60]!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )  # fmt: skip
        return super().construct_mapping(node, deep=deep)


def _check_events(text: str) -> None:
    """Nesting deeper than MAX_YAML_DEPTH, found by PyYAML's parser (a state machine, not recursive)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(f"nested more than {MAX_YAML_DEPTH} levels deep") from _Mark(event.start_mark)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


class _Mark(Exception):
    def __init__(self, mark):
        self.problem_mark = mark


def _check_aliases(root: yaml.Node | None) -> None:
    """An alias that contains itself, or aliases that expand past MAX_YAML_NODES nodes."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise yaml.YAMLError("an alias refers to a node that contains it") from _Mark(node.start_mark)
        open_.add(key)
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])  # fmt: skip
        total = 1 + sum(size(c) for c in children)
        open_.discard(key)
        if total > MAX_YAML_NODES:
            raise yaml.YAMLError(f"expands to more than {MAX_YAML_NODES} values (aliases)") from _Mark(node.start_mark)
        sizes[key] = total
        return total

    if root is not None:
        size(root)


def read_yaml(path: Path | str) -> tuple[Any, yaml.Node | None]:
    """Parsed YAML and its node tree (for line numbers); ConfigError if unreadable, invalid, or
    over the limits above (size, depth, alias expansion, a key given twice)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError([f"{path}: {size} bytes; a YAML file here may have at most {MAX_YAML_BYTES}"])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except OSError as exc:  # a directory, no permission, a symlink loop, ...
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}"]) from None
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            _check_aliases(root)
            return (loader.construct_document(root) if root is not None else None), root
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc.__cause__, "problem_mark", None)
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


Check = Callable[["Release"], list[tuple[tuple, str]]]


def load_release(path: Path | str = DEFAULT_CONFIG, checks: Iterable[Check] = ()) -> Release:
    """Read and validate a release config; raise ConfigError with one line per problem.

    `checks` add what only the artifact kinds know (hubkit.pipeline.load passes every kind's):
    a whole release is checked when it is loaded, never half-way through a build.
    """
    path = Path(path)
    data, root = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of release settings at the top level"])
    rel = validate(Release, {**data, "source": path}, path, root)
    problems = _reference_problems(rel)
    if not problems:  # kinds' checks trust the references (files exist, names resolve)
        for check in checks:
            problems += check(rel)
    if problems:
        raise ConfigError([problem_at(str(path), root, loc, msg) for loc, msg in problems])
    return rel
