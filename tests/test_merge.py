"""Merges through mergekit, checked against an independent SLERP; lint of both V5 configs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hubkit import merge
from hubkit.errors import ConfigError, HubkitError
from hubkit.merge.lint import lint
from tests.conftest import CONFIGS, KIMI, QWEN, copy_demo, run_cli

GRADIENT = [0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1]


def slerp_reference(t: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SLERP of two whole tensors in float64, linear when (anti)collinear (|cos| > 0.9995)."""
    x, y = a.ravel(), b.ravel()
    dot = np.clip(np.dot(x / np.linalg.norm(x), y / np.linalg.norm(y)), -1, 1)
    if abs(dot) > 0.9995:
        return (1 - t) * a + t * b
    theta = np.arccos(dot)
    return (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)


def weights(folder) -> dict[str, torch.Tensor]:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


def write_config(tmp_path, t, name="m.yaml"):
    path = tmp_path / name
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "models": [{"model": KIMI}, {"model": QWEN}],
                "merge_method": "slerp",
                "base_model": KIMI,
                "parameters": {"t": t},
                "dtype": "bfloat16",
            }
        )
    )
    return path


def expected_t(name: str) -> float:
    """What the intended V5 config should give, derived here from its text, not from lint."""
    if ".layers." in name and ("self_attn" in name or ".mlp." in name):
        return GRADIENT[int(name.split(".layers.")[1].split(".")[0])]
    return 1.0


def assert_slerp(merged, a, b, t_of):
    assert merged.keys() == a.keys()
    for name, got in merged.items():
        t = t_of(name)
        ref = slerp_reference(t, a[name].double().numpy(), b[name].double().numpy())
        want = torch.from_numpy(ref).to(torch.bfloat16)
        assert got.dtype == torch.bfloat16
        if t in (0.0, 1.0):
            assert torch.equal(got, (a if t == 0 else b)[name]), name
        else:
            torch.testing.assert_close(got.float(), want.float(), rtol=8e-3, atol=1e-6, msg=name)


@pytest.mark.parametrize("t", [0, 0.5, 1])
def test_constant_t_matches_independent_slerp(tmp_path, tiny_pair, t):
    spec = merge.load(write_config(tmp_path, t), tiny_pair)
    merge.run(spec, tmp_path / "out")
    a, b = weights(tiny_pair[KIMI]), weights(tiny_pair[QWEN])
    assert_slerp(weights(tmp_path / "out"), a, b, lambda name: float(t))
    if t == 0.5:  # a real interpolation, not a copy of either side
        w = "model.layers.3.mlp.up_proj.weight"
        got = weights(tmp_path / "out")[w]
        assert not torch.equal(got, a[w]) and not torch.equal(got, b[w])


def test_intended_gradient_matches_independent_slerp(tmp_path, tiny_pair):
    spec = merge.load(CONFIGS / "merge" / "slerp-v5-intended.yaml", tiny_pair)
    merge.run(spec, tmp_path / "out", shard_size="100K")
    merged = weights(tmp_path / "out")
    assert len(list((tmp_path / "out").glob("*.safetensors"))) > 1  # sharded
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
    assert_slerp(merged, weights(tiny_pair[KIMI]), weights(tiny_pair[QWEN]), expected_t)


def test_seed_v5_config_is_a_copy_of_the_qwen_model(tmp_path, tiny_pair):
    spec = merge.load(CONFIGS / "merge" / "slerp-v5.yaml", tiny_pair)
    merge.run(spec, tmp_path / "out")
    merged, qwen = weights(tmp_path / "out"), weights(tiny_pair[QWEN])
    assert merged.keys() == qwen.keys()
    assert all(torch.equal(merged[k], qwen[k]) for k in qwen)


def test_lint_flags_the_seed_config(tiny_pair):
    report = lint(merge.load(CONFIGS / "merge" / "slerp-v5.yaml", tiny_pair))
    assert report.degenerate
    assert report.outcome == f"output identical to {QWEN} (every t = 1)"
    assert report.tied_embeddings
    status = {r.filter: (r.status, r.shadowed_by) for r in report.rules}
    assert status == {
        "embed_tokens": ("applies", None),
        "lm_head": ("matches no tensor", None),
        None: ("applies", None),
        "self": ("shadowed", 2),
    }
    self_rule = report.rules[3]
    assert self_rule.matches == {"attention": 9 * 6}  # q,k,v,o + q_norm,k_norm: never mlp
    assert "mlp" not in self_rule.matches
    assert len(report.problems) == 3
    assert {x.t for x in report.tensors} == {1.0}


def test_lint_of_the_intended_config_is_clean_and_shows_the_gradient(tiny_pair):
    report = lint(merge.load(CONFIGS / "merge" / "slerp-v5-intended.yaml", tiny_pair))
    assert report.problems == [] and not report.degenerate
    rows = report.per_layer()
    assert [float(r["attention"]) for r in rows] == GRADIENT
    assert [float(r["mlp"]) for r in rows] == GRADIENT
    assert {r["norms"] for r in rows} == {"1"}
    assert report.outside_layers() == {"model.embed_tokens.weight": "1", "model.norm.weight": "1"}
    assert all(x.t == expected_t(x.name) for x in report.tensors)


def test_cli_lint_json_and_strict(tiny_pair):
    maps = [a for ref, p in tiny_pair.items() for a in ("--model", f"{ref}={p}")]
    seed = str(CONFIGS / "merge" / "slerp-v5.yaml")
    r = run_cli("merge", "lint", seed, *maps, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["degenerate"] is True and len(data["tensors"]) == 1 + 9 * 11 + 1
    assert run_cli("merge", "lint", seed, *maps, "--strict").returncode == 1
    human = run_cli("merge", "lint", seed, *maps)
    assert human.returncode == 0
    assert "shadowed" in human.stdout and "output identical to" in human.stdout
    intended = str(CONFIGS / "merge" / "slerp-v5-intended.yaml")
    assert run_cli("merge", "lint", intended, *maps, "--strict").returncode == 0


def test_cli_merge_run_and_refuses_a_non_empty_out(tmp_path, tiny_pair):
    maps = [a for ref, p in tiny_pair.items() for a in ("--model", f"{ref}={p}")]
    cfg = str(CONFIGS / "merge" / "slerp-v5-intended.yaml")
    r = run_cli("merge", "run", cfg, "--out", str(tmp_path / "o"), *maps)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "mergekit_config.yml").read_text() == (
        CONFIGS / "merge" / "slerp-v5-intended.yaml"
    ).read_text()
    r = run_cli("merge", "run", cfg, "--out", str(tmp_path / "o"), *maps)
    assert r.returncode == 2 and r.stderr == f"{tmp_path / 'o'}: output folder is not empty\n"


def _one_line_error(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


def test_missing_model_path(tmp_path, tiny_pair):
    with pytest.raises(ConfigError) as exc:
        merge.load(CONFIGS / "merge" / "slerp-v5.yaml", {KIMI: tiny_pair[KIMI]})
    msg = _one_line_error(exc)
    assert f"models[1].model: model '{QWEN}' not found (not a local model folder)" in msg
    with pytest.raises(ConfigError) as exc:
        merge.load(CONFIGS / "merge" / "slerp-v5.yaml", {KIMI: tiny_pair[KIMI], QWEN: tmp_path / "gone"})
    assert f"no config.json in {tmp_path / 'gone'}" in _one_line_error(exc)


def test_mismatched_architectures(tmp_path, tiny_pair):
    other = shutil.copytree(tiny_pair[QWEN], tmp_path / "llama")
    cfg = json.loads((other / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(HubkitError) as exc:
        merge.load(CONFIGS / "merge" / "slerp-v5.yaml", {KIMI: tiny_pair[KIMI], QWEN: other})
    assert "architectures differ" in _one_line_error(exc)


def test_mismatched_shapes(tmp_path, tiny_pair):
    from hubkit.offline import save_tiny_qwen3

    wide = save_tiny_qwen3(tmp_path / "wide", seed=3, layers=9, intermediate_size=96)
    with pytest.raises(HubkitError) as exc:
        merge.load(CONFIGS / "merge" / "slerp-v5.yaml", {KIMI: tiny_pair[KIMI], QWEN: wide})
    msg = _one_line_error(exc)
    assert "differ in shape of model.layers.0.mlp.down_proj.weight: [64, 128] vs [64, 96]" in msg


@pytest.mark.parametrize("t", [1.5, -0.1, [0, 0.5, 2]])
def test_t_outside_unit_interval(tmp_path, tiny_pair, t):
    with pytest.raises(ConfigError) as exc:
        merge.load(write_config(tmp_path, t), tiny_pair)
    assert "parameters.t: t=" in _one_line_error(exc) and "is outside [0, 1]" in str(exc.value)


def test_t_outside_unit_interval_in_a_rule(tmp_path, tiny_pair):
    with pytest.raises(ConfigError) as exc:
        merge.load(write_config(tmp_path, [{"filter": "mlp", "value": 3}, {"value": 0.5}]), tiny_pair)
    assert "parameters.t[0].value: t=3 is outside [0, 1] (line " in _one_line_error(exc)


def test_unknown_merge_method(tmp_path, tiny_pair):
    path = write_config(tmp_path, 0.5)
    path.write_text(path.read_text().replace("merge_method: slerp", "merge_method: slurp"))
    with pytest.raises(ConfigError) as exc:
        merge.load(path, tiny_pair)
    msg = _one_line_error(exc)
    assert "merge_method: unknown merge method 'slurp' (known: " in msg and "slerp" in msg


def test_cli_errors_are_one_line(tmp_path):
    r = run_cli("merge", "lint", str(CONFIGS / "merge" / "slerp-v5.yaml"))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 2  # one line per unresolved model
    assert "Traceback" not in r.stderr
    r = run_cli("merge", "lint", str(CONFIGS / "merge" / "slerp-v5.yaml"), "--model", "nonsense")
    assert r.returncode == 2 and r.stderr == "--model 'nonsense': expected REF=PATH\n"


def test_tokenizer_comes_from_the_pinned_model(tmp_path, tiny_pair):
    pair = {ref: shutil.copytree(p, tmp_path / p.name) for ref, p in tiny_pair.items()}
    (pair[QWEN] / "chat_template.jinja").write_text("{{ 'qwen-template' }}")
    (pair[KIMI] / "chat_template.jinja").write_text("{{ 'kimi-template' }}")
    said: list[str] = []
    for cfg, want in (("slerp-v5-intended.yaml", "qwen"), ("demo-slerp.yaml", None)):
        if want is None:  # t=0 on the embeddings pins the base model's vocabulary
            spec = merge.load(write_config(tmp_path, [{"filter": "embed", "value": 0}, {"value": 0.5}]), pair)
            want = "kimi"
        else:
            spec = merge.load(CONFIGS / "merge" / cfg, pair)
        out = tmp_path / f"out-{want}"
        merge.checked_run(spec, out, shard_size="5B", report=said.append)
        assert (out / "chat_template.jinja").read_text() == f"{{{{ '{want}-template' }}}}"
    assert any("tokenizer from " + QWEN in s for s in said)


def test_release_uses_the_intended_config_and_the_seed_one_is_kept():
    from hubkit.config import load_release

    rel = load_release(CONFIGS / "release.yaml")
    assert rel.merge.config.name == "slerp-v5-intended.yaml"
    assert "merge/slerp-v5.yaml" in (CONFIGS / "release.yaml").read_text()  # the one-line switch
    assert (CONFIGS / "merge" / "slerp-v5.yaml").is_file()


def test_demo_merge_artifact_builds_loads_and_has_card_inputs(trained_demo, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hubkit import pipeline
    from hubkit.config import load_release
    from hubkit.pipeline import plan
    from hubkit.workspace import Workspace

    demo = copy_demo(trained_demo, tmp_path / "demo")  # the trained students of the session's demo
    demo_config = demo / "configs" / "demo.yaml"
    rel, ws = load_release(demo_config), Workspace(demo / "ws")
    shutil.rmtree(ws.path("tiny-qwen3-slerp"))
    out = pipeline.build(rel, ws, ["tiny-qwen3-slerp"], report=lambda m: None)
    assert out == {
        "tiny-teacher-a-reasoning": "up to date",
        "tiny-teacher-b-reasoning": "up to date",
        "tiny-qwen3-a-distilled": "up to date",
        "tiny-qwen3-b-distilled": "up to date",
        "tiny-qwen3-slerp": "built",
    }
    folder = ws.path("tiny-qwen3-slerp")
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    enc = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)  # fmt: skip
    assert model.generate(**enc, max_new_tokens=3, do_sample=False).shape[0] == 1

    ctx = plan(rel, ws).nodes["tiny-qwen3-slerp"].card_context(folder)
    assert ctx["base_model"] == [
        "hubkit-demo/tiny-qwen3-a-distilled",
        "hubkit-demo/tiny-qwen3-b-distilled",
    ]
    assert ctx["base_model_relation"] == "merge"
    assert ctx["merge_config"] == (demo_config.parent / "merge" / "demo-slerp.yaml").read_text().strip()
    assert ctx["lint"]["degenerate"] is False and ctx["lint"]["problems"] == []
    assert [float(r["mlp"]) for r in ctx["lint"]["per_layer"]] == GRADIENT

    # Editing the merge config makes only the merge stale.
    cfg = demo_config.parent / "merge" / "demo-slerp.yaml"
    cfg.write_text(cfg.read_text().replace("- value: 1\n", "- value: 0.5\n"))
    states = {r.name: r.state.status for r in pipeline.status(load_release(demo_config), ws)}
    assert states["tiny-qwen3-slerp"] == "stale" and states["tiny-qwen3-a-distilled"] == "up to date"
