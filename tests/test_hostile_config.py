"""Hostile and broken input to the CLI: one line, a non-zero exit, never a traceback, never a secret.

A corpus of malformed configs (each with the line it must give), prompt files and `bench grade`
input, and hypothesis tests of the config loader and of `bench grade`'s stdin.
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubkit.config import MAX_YAML_BYTES, MAX_YAML_DEPTH, Filters
from hubkit.errors import ConfigError
from tests.conftest import ROOT, run_cli

KEY = "hf_AbCdEfGhIjKlMnOpQrStUvWx0123"  # a token where a variable name belongs


# Nine levels of ten aliases each: 10**9 values once expanded, a few hundred bytes as written.
LAUGHS = "        a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"        {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


def _yaml_text(demo_config, change):
    data = yaml.safe_load(demo_config.read_text())
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def _append(text):
    return lambda demo_config: demo_config.read_text() + text


def _edit(change):
    return lambda demo_config: _yaml_text(demo_config, change)


def _teacher(**fields):
    return _edit(lambda d: d["datasets"][0]["teacher"].update(fields))


CORPUS = {
    "20,000 nested lists": (lambda c: "version: " + "[" * 20_000 + "]" * 20_000 + "\n",
                            f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep"),
    "900 levels in extra_body": (lambda c: c.read_text().replace(
        "      model: scripted-teacher-a\n", "      model: scripted-teacher-a\n      extra_body: {a: "
        + "[" * 900 + "]" * 900 + "}\n"), "nested more than"),
    "recursive anchor in extra_body": (lambda c: c.read_text().replace(
        "      model: scripted-teacher-a\n", "      model: scripted-teacher-a\n      extra_body: &a {x: *a}\n"),
        "an alias refers to a node that contains it"),
    "billion laughs in extra_body": (lambda c: c.read_text().replace(
        "      model: scripted-teacher-a\n", "      model: scripted-teacher-a\n      extra_body:\n" + LAUGHS),
        "expands to more than 100000 values"),
    "50 MB under an unknown key": (_append("junk: [" + ",".join(["1"] * 25_000_000) + "]\n"),
                                   f"a YAML file here may have at most {MAX_YAML_BYTES}"),
    "version twice": (_append("version: 9.9.9\n"), "duplicate key 'version' (first on line"),
    "size twice": (lambda c: c.read_text().replace("    size: 8\n", "    size: 8\n    size: 800\n", 1),
                   "duplicate key 'size'"),
    "name with ..": (_edit(lambda d: d["merge"].update(name="tiny..slerp")),
                     "merge.name: not a name the Hub accepts (cannot have -- or .."),
    "name ending in -": (_edit(lambda d: d["merge"].update(name="tiny--slerp-")), "merge.name: not a name the Hub"),
    "name ending in .git": (_edit(lambda d: d["merge"].update(name="tiny-slerp.git")), "cannot end by '.git'"),
    "evaluate a path": (_edit(lambda d: d["benchmark"].update(evaluate=["../../etc"])),
                        "benchmark.evaluate[0]: '../../etc' is neither a model of this release"),
    "teacher key in api_key_env": (_teacher(api_key_env=KEY), "datasets[0].teacher.api_key_env: must name an"),
    "judge key in api_key_env": (_edit(lambda d: d["benchmark"].update(
        judge={"model": "j", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY})),
        "benchmark.judge.api_key_env: must name an environment variable"),
    "backend key in api_key_env": (_edit(lambda d: d["benchmark"].update(
        backend={"kind": "openai_compat", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY})),
        "benchmark.backend.api_key_env: must name"),
    "space backend key": (_edit(lambda d: d["space"].update(
        backend={"kind": "endpoint", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY})),
        "space.backend.api_key_env: must name"),
    "space secret value": (_edit(lambda d: d["space"].update(secrets={"HF_TOKEN": KEY})),
                           "space.secrets.HF_TOKEN: must name"),
    "sk- key": (_teacher(api_key_env="sk-proj-0123456789"), "must name an environment variable"),
    "not an identifier": (_teacher(api_key_env="MY KEY"), "letters, digits and _"),
    "empty file": (lambda c: "", "expected a mapping of release settings at the top level"),
    "a list": (lambda c: "[1, 2, 3]\n", "expected a mapping of release settings"),
    "not UTF-8": (lambda c: b"version: \xff\xfe\n", "cannot read: not UTF-8 text"),
    "tab indentation": (lambda c: "version: 0.1.0\n\tnamespace: x\n", "invalid YAML"),
    "benchmark cases": (_edit(lambda d: d["benchmark"].update(cases=90)),
                        "benchmark.cases: is 90, but CMDR-Bench has 100 cases"),
    "a key with a newline": (_edit(lambda d: d["datasets"][0].update({"size\n": 3})),
                             "datasets[0]['size\\n']: unknown key"),
    "seed questions not a mapping": ("seeds", "expected {domain: [seed question, ...]}"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_configs_are_one_line(demo_config, name):
    make, expected = CORPUS[name]
    if make == "seeds":
        (demo_config.parent / "prompts" / "seed-questions.yaml").write_text("- just\n- a list\n")
        text = demo_config.read_text()
    else:
        text = make(demo_config)
    if isinstance(text, bytes):
        demo_config.write_bytes(text)
    else:
        demo_config.write_text(text)
    r = run_cli("status", "-c", str(demo_config), "-w", str(demo_config.parent / "ws"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert expected in r.stderr, r.stderr
    assert KEY not in r.stdout + r.stderr and "sk-proj-0123456789" not in r.stderr


def test_a_config_that_is_a_symlink_loop_or_a_folder(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path, expected in ((loop, "cannot read: Too many levels of symbolic links"), (tmp_path, "cannot read: ")):
        r = run_cli("status", "-c", str(path))
        assert r.returncode == 2 and r.stderr.startswith(f"{path}: {expected}"), r.stderr
        assert len(r.stderr.splitlines()) == 1


def test_prompt_files_that_are_not_utf8_say_where(demo_config):
    prompts = demo_config.parent / "prompts" / "demo-technical.jsonl"
    prompts.write_bytes(prompts.read_bytes() + b'{"prompt": "caf\xe9 au lait"}\n')
    r = run_cli("build", "tiny-teacher-a-reasoning", "-c", str(demo_config), "-w", str(demo_config.parent / "ws"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    data = prompts.read_bytes()
    bad = data.index(b"caf\xe9") + 3
    line = len(data.splitlines())
    assert r.stderr == f"{prompts}:{line}: not valid UTF-8 (invalid continuation byte at byte {bad})\n"


def test_identical_prompts_without_ids_are_duplicates_not_an_error(demo_config):
    """README: duplicate prompts are filtered. The same question 10,000 times is one prompt."""
    from hubkit.distill import generate
    from hubkit.distill.prompts import load_file

    path = demo_config.parent / "prompts" / "same.jsonl"
    path.write_text('{"prompt": "What is the boiling point of water at sea level?"}\n' * 10_000)
    prompts = load_file(path)
    assert len(prompts) == 10_000 and len({p.id for p in prompts}) == 1
    kept, rejected, _ = generate.screen(prompts, Filters(), {})
    assert len(kept) == 1 and len(rejected) == 9_999 and "duplicate" in rejected[0]["reason"]
    path.write_text('{"id": "q1", "prompt": "one"}\n{"id": "q1", "prompt": "another"}\n')
    with pytest.raises(Exception, match="row 2: id 'q1' is already used by another prompt"):
        load_file(path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xfe not utf-8", "stdin: not UTF-8 text"),
        ("SELECT name FROM products WHERE price > 20;\udc80".encode("utf-8", "surrogatepass"), "stdin: not UTF-8"),
    ],
)
def test_bench_grade_refuses_stdin_that_is_not_utf8(data, expected):
    r = run_cli("bench", "grade", "sql-07", input_text=data)
    assert r.returncode == 2 and r.stderr.startswith(expected) and len(r.stderr.splitlines()) == 1, r.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_bench_grade_stdin_is_a_verdict_or_one_line(data):
    r = run_cli("bench", "grade", "sql-07", input_text=data)
    assert "Traceback" not in r.stderr
    if r.returncode == 0:
        assert json.loads(r.stdout)["case"] == "sql-07"
    else:
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(["version", "namespace", "datasets", "models", "merge", "benchmark", "space",
                                        "license", "language", "card_templates", "x"]), YAML_VALUES, max_size=6))
def test_the_config_loader_gives_a_release_or_config_errors(tmp_path_factory, data):
    from hubkit import pipeline

    path = tmp_path_factory.mktemp("c") / "release.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        pipeline.load(path)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(str(path)) and "\n" not in p for p in exc.problems)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300))
def test_the_config_loader_survives_any_text(tmp_path_factory, text):
    from hubkit import pipeline

    path = tmp_path_factory.mktemp("t") / "release.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        pipeline.load(path)
    except ConfigError as exc:
        assert all("\n" not in p for p in exc.problems)


def test_limits_are_stated_in_the_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{MAX_YAML_DEPTH} levels" in text and "1 MiB" in text and "100,000" in text
