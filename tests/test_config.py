from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hubkit.config import load_release
from hubkit.errors import ConfigError
from tests.conftest import CONFIGS


def _edit(path: Path, fn) -> Path:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_release(path)
    assert exc.value.exit_code == 2
    return exc.value.problems


def test_release_config_reproduces_the_seed_family():
    rel = load_release(CONFIGS / "release.yaml")
    assert rel.namespace == "khazarai"
    assert [d.name for d in rel.datasets] == [
        "kimi-2.5-high-reasoning-250x",
        "qwen3.6-plus-high-reasoning-500x",
    ]
    assert [d.size for d in rel.datasets] == [250, 500]
    assert {m.base_model for m in rel.models} == {"Qwen/Qwen3-4B-Thinking-2507"}
    assert {(m.train.method, m.train.framework, m.train.precision) for m in rel.models} == {
        ("qlora", "unsloth", "bfloat16")
    }
    assert rel.merge.name == "Qwen3-4B-Qwen3.6-plus-Reasoning-Slerp"
    assert rel.benchmark.name == "Multi-Domain-Reasoning-Benchmark"
    assert rel.benchmark.cases == 100
    assert rel.license == "apache-2.0"
    assert rel.repo_id(rel.models[0].name) == "khazarai/Qwen3-4B-Kimi2.5-Reasoning-Distilled"


def test_demo_has_the_same_shape_and_trains_offline():
    rel, demo = load_release(CONFIGS / "release.yaml"), load_release(CONFIGS / "demo.yaml")
    for key in ("datasets", "models"):
        assert len(getattr(rel, key)) == len(getattr(demo, key))
    assert all(m.base_fixture and m.train.framework == "peft" for m in demo.models)
    assert [m.train.method for m in demo.models] == ["lora", "qlora"]  # QLoRA trains on CPU too
    assert all(m.train.method == "qlora" and m.base_fixture is None for m in rel.models)
    assert all(x is not None for x in (demo.merge, demo.benchmark, demo.space))


def test_missing_field_names_file_path_and_line(demo_config):
    _edit(demo_config, lambda d: d["models"][1].pop("base_model"))
    (problem,) = _problems(demo_config)
    assert problem.startswith(f"{demo_config}: models[1].base_model: field required (line ")
    line = int(problem.rsplit("line ", 1)[1].rstrip(")"))
    assert "tiny-qwen3-b-distilled" in demo_config.read_text().splitlines()[line - 1]


def test_every_problem_is_reported_one_per_line(demo_config):
    def breaks(d):
        d["models"][0]["bse_model"] = d["models"][0].pop("base_model")
        d["datasets"][1]["size"] = -3
        d["license"] = ["not", "a", "string"]

    problems = _problems(_edit(demo_config, breaks))
    text = "\n".join(problems)
    assert "models[0].bse_model: unknown key" in text
    assert "models[0].base_model: field required" in text
    assert "datasets[1].size: input should be greater than 0" in text
    assert "license: input should be a valid string" in text
    assert all("\n" not in p for p in problems)


def test_cross_references_are_checked(demo_config):
    def breaks(d):
        d["models"][0]["dataset"] = "nope"
        d["space"]["models"].append("not-a-model")
        d["models"][1]["name"] = d["models"][0]["name"]

    text = "\n".join(_problems(_edit(demo_config, breaks)))
    assert "models[0].dataset: unknown dataset 'nope'" in text
    assert "space.models[3]: 'not-a-model' is neither a model of this release" in text
    assert "models[1].name: duplicate artifact name 'tiny-qwen3-a-distilled'" in text


def test_missing_referenced_file(demo_config):
    (demo_config.parent / "merge" / "demo-slerp.yaml").unlink()
    (problem,) = _problems(demo_config)
    assert problem.startswith(f"{demo_config}: merge.config: file not found: ")


def test_invalid_yaml_gives_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1.0.0\nnamespace: x\nmodels: [a, b\nfoo: bar\n")
    (problem,) = _problems(bad)
    assert problem.startswith(f"{bad}:4:")
    assert "invalid YAML" in problem


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    bad = tmp_path / "r.yaml"
    bad.write_text(text)
    (problem,) = _problems(bad)
    assert problem == f"{bad}: expected a mapping of release settings at the top level"


def test_missing_config_file(tmp_path):
    assert _problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_test_hooks_are_not_in_the_users_schema(demo_config):
    """Tests get quick students by training one step, not through a `source: fixture` only tests need."""
    _edit(demo_config, lambda d: d["models"][0].update(source="fixture", fixture={"seed": 1}))
    problems = _problems(demo_config)
    assert [p.split(": ", 2)[1] for p in problems] == ["models[0].source", "models[0].fixture"]
    # `source` is a user's key (build here, or take it from the Hub at a commit): `fixture` is no value of it.
    assert "input should be 'build' or 'hub'" in problems[0] and "unknown key" in problems[1]


def test_training_needs_a_recipe(demo_config):
    _edit(demo_config, lambda d: d["models"][1]["train"].pop("config"))
    (problem,) = _problems(demo_config)
    assert "models[1]: training needs a recipe: set train.config" in problem
