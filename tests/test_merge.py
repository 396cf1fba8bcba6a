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

# A merge rebuilt over the session's trained demo: everything it stands on is reused.
ONLY_MERGE_BUILT = {
    "tiny-teacher-a-reasoning": "up to date",
    "tiny-teacher-b-reasoning": "up to date",
    "tiny-qwen3-a-distilled": "up to date",
    "tiny-qwen3-b-distilled": "up to date",
    "tiny-qwen3-slerp": "built",
}
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
    assert out == ONLY_MERGE_BUILT
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


# -- every mergekit method ------------------------------------------------------------------------
# Each merge is checked against an independent computation in float64 (or, where mergekit draws
# random numbers, against properties the method must have); each lint against the config's text.


@pytest.fixture(scope="module")
def trio(tiny_pair, tmp_path_factory) -> dict[str, object]:
    """The tiny pair and a third model of the same shape as the base the task-vector methods need."""
    from hubkit.offline import save_tiny_qwen3

    return {**tiny_pair, "base": save_tiny_qwen3(tmp_path_factory.mktemp("base") / "base", seed=3, layers=9)}


def write_merge(tmp_path, doc: dict, name: str = "m.yaml"):
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def merged_pair(tmp_path, tiny_pair, doc) -> tuple[dict, dict, dict]:
    """The two models' weights and those of their merge by `doc` (a mergekit config)."""
    merge.run(merge.load(write_merge(tmp_path, doc), tiny_pair), tmp_path / "out")
    return weights(tiny_pair[KIMI]), weights(tiny_pair[QWEN]), weights(tmp_path / "out")



def layer_t(name: str) -> float:
    """mergekit's position of a tensor in the depth gradient: layer i of 9 -> i/8; outside the layers 0."""
    return int(name.split(".layers.")[1].split(".")[0]) / 8 if ".layers." in name else 0.0


def f64(t: torch.Tensor) -> np.ndarray:
    return t.double().numpy()


def close(got: torch.Tensor, want: np.ndarray, name: str, rtol: float = 1e-2, atol: float = 1e-3) -> None:
    torch.testing.assert_close(got.float(), torch.from_numpy(want).float(), rtol=rtol, atol=atol, msg=name)


LINEAR = {
    "models": [
        {"model": KIMI, "parameters": {"weight": [0.8, 0.5]}},
        {"model": QWEN, "parameters": {"weight": [0.2, 0.5]}},
    ],
    "merge_method": "linear",
    "dtype": "bfloat16",
}


def test_linear_is_the_weighted_average(tmp_path, tiny_pair):
    a, b, merged = merged_pair(tmp_path, tiny_pair, LINEAR)
    assert merged.keys() == a.keys()
    for name, got in merged.items():
        t = layer_t(name)
        wa, wb = 0.8 + (0.5 - 0.8) * t, 0.2 + (0.5 - 0.2) * t  # the gradients, written out
        close(got, (wa * f64(a[name]) + wb * f64(b[name])) / (wa + wb), name)
    w = "model.layers.8.mlp.up_proj.weight"  # an even mix: neither input
    assert not torch.equal(merged[w], a[w]) and not torch.equal(merged[w], b[w])


def test_linear_lint_shows_the_effective_weights(tiny_pair, tmp_path):
    doc = {
        **LINEAR,
        "models": [{"model": KIMI, "parameters": {"weight": [3, 1]}}, {"model": QWEN, "parameters": {"weight": 1}}],
    }
    report = lint(merge.load(write_merge(tmp_path, doc), tiny_pair))
    assert report.kind == "interpolation" and report.ends is None and report.problems == []
    assert [t.title for t in report.tables] == [f"effective weight of {KIMI}", f"effective weight of {QWEN}"]
    for row in report.tables[0].rows:  # raw weights 3..1 against 1, normalized: 0.75 .. 0.5
        raw = 3 - 2 * int(row["layer"]) / 8
        assert float(row["attention"]) == pytest.approx(raw / (raw + 1), abs=1e-4)
    assert report.tables[1].outside == {"model.embed_tokens.weight": "0.25", "model.norm.weight": "0.25"}
    assert report.defaults == "normalize=true"
    assert report.pinned == KIMI  # the larger share of the embeddings


def test_linear_lint_flags_a_copy_and_a_zero_sum(tiny_pair, tmp_path):
    copy = {
        **LINEAR,
        "models": [{"model": KIMI, "parameters": {"weight": 0}}, {"model": QWEN, "parameters": {"weight": 2}}],
    }
    report = lint(merge.load(write_merge(tmp_path, copy), tiny_pair))
    assert report.degenerate and report.outcome == f"output identical to {QWEN} (every other weight is 0)"
    zero = {
        **LINEAR,
        "models": [
            {"model": KIMI, "parameters": {"weight": [1, -1]}},
            {"model": QWEN, "parameters": {"weight": [-1, 1]}},
        ],
    }
    report = lint(merge.load(write_merge(tmp_path, zero), tiny_pair))
    assert report.problems == [
        "weights sum to 0 for 101 tensors (e.g. model.embed_tokens.weight): mergekit divides by 0 there (NaN weights)"
    ]


def ties_reference(base: np.ndarray, models: list[np.ndarray], w: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """TIES at density 1 (no trimming), normalized: the majority sign of the weighted task vectors,
    the weighted mean of the entries that agree with it; and where the sign is a tie (either is right)."""
    shape = (-1, *[1] * base.ndim)
    deltas = np.stack([m - base for m in models])
    total = (deltas * np.array(w).reshape(shape)).sum(0)
    agree = np.sign(deltas) == np.where(total >= 0, 1.0, -1.0)
    weight = (np.array(w).reshape(shape) * agree).sum(0)
    merged = base + (deltas * np.array(w).reshape(shape) * agree).sum(0) / np.where(weight == 0, 1, weight)
    return merged, (np.abs(total) < 1e-9) & (np.abs(deltas).sum(0) > 0)


def test_ties_matches_an_independent_ties(tmp_path, trio):
    doc = {
        "models": [{"model": KIMI, "parameters": {"weight": 0.6}}, {"model": QWEN, "parameters": {"weight": 0.4}}],
        "merge_method": "ties", "base_model": "base", "dtype": "float32",  # bfloat16 sums would flip near-ties
        "parameters": {"density": 1},
    }  # fmt: skip
    merge.run(merge.load(write_merge(tmp_path, doc), trio), tmp_path / "out")
    k, q, base, merged = (weights(p) for p in (trio[KIMI], trio[QWEN], trio["base"], tmp_path / "out"))
    assert merged.keys() == base.keys()
    for name, got in merged.items():
        want, tie = ties_reference(f64(base[name]), [f64(k[name]), f64(q[name])], [0.6, 0.4])
        assert tie.mean() < 1e-3, name
        close(got[~torch.from_numpy(tie)], want[~tie], name, rtol=1e-5, atol=1e-6)
    w = "model.layers.4.mlp.up_proj.weight"  # both task vectors count where they agree: none of the inputs
    assert all(not torch.equal(merged[w], x[w]) for x in (k, q, base))


DEMO = {"hubkit-demo/tiny-qwen3-a-distilled": KIMI, "hubkit-demo/tiny-qwen3-b-distilled": QWEN}


def demo_pair(tiny_pair) -> dict:
    """The demo configs' model names mapped to the tiny pair (student a: KIMI's folder, b: QWEN's)."""
    return {ref: tiny_pair[m] for ref, m in DEMO.items()}


def ties_density(name: str) -> float:
    """What demo-ties.yaml asks for, derived here from its text: attention 0.2 -> 0.8 with depth, MLP 0.5, else 1."""
    if "self_attn" in name:
        return 0.2 + (0.8 - 0.2) * layer_t(name)
    return 0.5 if ".mlp." in name else 1.0


def test_ties_keeps_the_largest_share_of_each_task_vector(tmp_path, tiny_pair):
    spec = merge.load(CONFIGS / "merge" / "demo-ties.yaml", demo_pair(tiny_pair))
    merge.run(spec, tmp_path / "out")
    a, b, merged = weights(tiny_pair[KIMI]), weights(tiny_pair[QWEN]), weights(tmp_path / "out")
    for name, got in merged.items():
        delta = (b[name] - a[name]).abs().float().flatten()  # in bfloat16, as mergekit computes it
        changed = (got != a[name]).flatten()
        density = ties_density(name)
        if density >= 1:  # nothing trimmed: b's whole task vector is added
            assert changed.sum() == (delta > 0).sum(), name
            continue
        share = max(1, int(density * delta.numel()))  # exactly the share asked for (of what differs at all)
        assert changed.sum() == min(share, (delta > 0).sum()), name
        if changed.any():  # ... and the largest entries
            assert delta[changed].min() >= delta[~changed].max(), name


def test_ties_lint_shows_each_parameter_per_group(tiny_pair):
    report = lint(merge.load(CONFIGS / "merge" / "demo-ties.yaml", demo_pair(tiny_pair)))
    b = "hubkit-demo/tiny-qwen3-b-distilled"
    assert report.kind == "parameters" and report.problems == [] and not report.degenerate
    assert report.outcome == f"adds the task vectors of {b} (each model minus {report.base}) to {report.base}"
    tables = {t.title: t for t in report.tables}
    assert set(tables) == {f"weight of {b}", f"density of {b}"}
    density = tables[f"density of {b}"]
    assert [float(r["attention"]) for r in density.rows] == pytest.approx(
        [ties_density(f"x.layers.{i}.self_attn") for i in range(9)]
    )
    assert {r["mlp"] for r in density.rows} == {"0.5"} and {r["norms"] for r in density.rows} == {"1"}
    assert density.outside == {"model.embed_tokens.weight": "1", "model.norm.weight": "1"}
    assert report.defaults == "int8_mask=false, normalize=true, rescale=false, lambda=1"
    q = next(x for x in report.tensors if x.name == "model.layers.3.self_attn.q_proj.weight")
    assert q.set_by[f"density[{b}]"] == "models[1].parameters.density #0 filter 'self_attn'"
    assert q.set_by["normalize"] == "default" and report.pinned == report.base


def test_lint_says_which_rules_never_apply_for_any_method(tmp_path, tiny_pair):
    """The wrong inputs that look right: a top-level value every model overrides, a shared parameter
    set per model (mergekit never reads it there), a filter for a tensor that does not exist."""
    doc = {
        "models": [{"model": KIMI},
                   {"model": QWEN, "parameters": {"weight": 1, "density": 0.5, "lambda": 2}}],
        "merge_method": "ties", "base_model": KIMI,
        "parameters": {"density": [{"filter": "lm_head", "value": 0.1}, {"value": 0.9}]},
    }  # fmt: skip
    report = lint(merge.load(write_merge(tmp_path, doc), tiny_pair))
    status = {r.label: r.status for r in report.rules}
    assert status == {
        "models[1].parameters.weight": "applies",
        "models[1].parameters.density": "applies",
        "models[1].parameters.lambda": "never read",
        "parameters.density #0 filter 'lm_head'": "matches no tensor",
        "parameters.density #1 catch-all": "shadowed",
    }
    assert report.problems == [
        "rule parameters.density #0 filter 'lm_head' never applies: matches no tensor "
        "(embeddings are tied: lm_head is embed_tokens, there is no lm_head tensor)",
        "rule parameters.density #1 catch-all never applies: shadowed by models[1].parameters.density",
        "rule models[1].parameters.lambda never applies: mergekit reads lambda once for all models, "
        "from the top-level, module or slice parameters",
    ]
    assert "lambda=1" in report.defaults  # what mergekit uses instead of the 2


def test_ties_with_nothing_to_add_is_a_copy_of_the_base(tmp_path, tiny_pair):
    doc = {"models": [{"model": KIMI}, {"model": QWEN, "parameters": {"weight": 1, "density": 0}}],
           "merge_method": "dare_ties", "base_model": KIMI}  # fmt: skip
    report = lint(merge.load(write_merge(tmp_path, doc), tiny_pair))
    assert report.degenerate and report.outcome == f"output identical to {KIMI} (every weight, density or lambda is 0)"


def test_dare_ties_drops_a_random_share_the_same_way_every_build(tmp_path, tiny_pair):
    doc = {"models": [{"model": KIMI}, {"model": QWEN, "parameters": {"weight": 1, "density": 0.5}}],
           "merge_method": "dare_ties", "base_model": KIMI, "dtype": "float32"}  # fmt: skip
    spec = merge.load(write_merge(tmp_path, doc), tiny_pair)
    import random

    before = torch.random.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist()
    first, second = merge.run(spec, tmp_path / "1"), merge.run(spec, tmp_path / "2")
    # mergekit seeds the process's generators; the merge hands them back as they were.
    after = torch.random.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist()
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]
    a, b, one, two = weights(tiny_pair[KIMI]), weights(tiny_pair[QWEN]), weights(first), weights(second)
    assert all(torch.equal(one[k], two[k]) for k in one)  # seeded: a rebuild is bit-identical
    w = "model.layers.2.mlp.up_proj.weight"
    kept = (one[w] != a[w].float()).float().mean().item()
    assert 0.45 < kept < 0.55  # about half of the entries of b's task vector
    delta, got = (b[w].float() - a[w].float()), one[w] - a[w].float()
    mask = got != 0
    # DARE rescales what it keeps so the task vector keeps its L1 norm.
    assert got[mask].abs().sum().item() == pytest.approx(delta.abs().sum().item(), rel=1e-3)


def model_stock_reference(base: np.ndarray, models: list[np.ndarray]) -> np.ndarray:
    """Model Stock (whole tensor): t = N cos / (1 + (N-1) cos) toward the average of the models."""
    w0 = base.ravel()
    offsets = [m.ravel() - w0 for m in models]
    norms = np.linalg.norm(offsets[0]) * np.linalg.norm(offsets[1])
    cos = np.clip(np.dot(offsets[0], offsets[1]) / max(norms, 1e-6), -1, 1)
    n = len(models)
    t = 0.0 if abs(1 + (n - 1) * cos) < 1e-6 else n * cos / (1 + (n - 1) * cos)
    return t * sum(models) / n + (1 - t) * base


def test_model_stock_matches_an_independent_model_stock(tmp_path, trio):
    doc = {"models": [{"model": KIMI}, {"model": QWEN}], "merge_method": "model_stock", "base_model": "base",
           "dtype": "float32"}  # fmt: skip
    spec = merge.load(write_merge(tmp_path, doc), trio)
    merge.run(spec, tmp_path / "out")
    k, q, base, merged = (weights(p) for p in (trio[KIMI], trio[QWEN], trio["base"], tmp_path / "out"))
    for name, got in merged.items():
        close(got, model_stock_reference(f64(base[name]), [f64(k[name]), f64(q[name])]), name, rtol=1e-5, atol=1e-6)
    report = lint(spec)
    assert report.outcome.startswith(f"moves base toward the average of {KIMI}, {QWEN} by a ratio")
    assert report.rules == [] and report.tables == [] and report.problems == []
    assert report.defaults == "filter_wise=false" and report.pinned == "base"


def test_model_stock_needs_two_models_besides_the_base(tmp_path, tiny_pair):
    doc = {"models": [{"model": KIMI}, {"model": QWEN}], "merge_method": "model_stock", "base_model": KIMI}
    with pytest.raises(ConfigError) as exc:
        merge.load(write_merge(tmp_path, doc), tiny_pair)
    assert _one_line_error(exc).endswith("mergekit refuses this merge: Merge method requires at least 3 inputs for "
                                         "default.slices[0]; got 2")  # fmt: skip


def test_nuslerp_matches_an_independent_slerp_with_t_from_the_weights(tmp_path, tiny_pair):
    doc = {"models": [{"model": KIMI, "parameters": {"weight": 1}}, {"model": QWEN, "parameters": {"weight": 3}}],
           "merge_method": "nuslerp", "dtype": "float32"}  # fmt: skip
    a, b, merged = merged_pair(tmp_path, tiny_pair, doc)
    for name, got in merged.items():  # t = 3 / (1 + 3), each tensor flattened (nuslerp_flatten)
        close(got, slerp_reference(0.75, f64(a[name]), f64(b[name])), name, rtol=1e-4, atol=1e-6)
    report = lint(merge.load(tmp_path / "m.yaml", tiny_pair))
    assert report.ends == [KIMI, QWEN] and {x.t for x in report.tensors} == {0.75}
    assert report.outcome == f"interpolates {KIMI} (t=0) -> {QWEN} (t=1); t in [0.75, 0.75]"


PASSTHROUGH = {  # a splice: KIMI's lower layers under QWEN's upper ones
    "slices": [
        {"sources": [{"model": KIMI, "layer_range": [0, 5]}]},
        {"sources": [{"model": QWEN, "layer_range": [5, 9]}],
         "parameters": {"scale": [{"filter": "o_proj", "value": 0}, {"filter": "lm_head", "value": 2}]}},
    ],
    "merge_method": "passthrough",
    "dtype": "bfloat16",
}  # fmt: skip


def test_passthrough_takes_each_layer_from_the_slice_that_names_it(tmp_path, tiny_pair):
    a, b, merged = merged_pair(tmp_path, tiny_pair, PASSTHROUGH)
    assert merged.keys() == a.keys()
    for name, got in merged.items():
        if ".layers." not in name:
            src = a if "embed_tokens" in name else b  # the first slice's embeddings, the last slice's final norm
            assert torch.equal(got, src[name]), name
            continue
        upper = int(name.split(".layers.")[1].split(".")[0]) >= 5
        want = (b if upper else a)[name]
        assert torch.equal(got, torch.zeros_like(want) if upper and "o_proj" in name else want), name


def test_passthrough_lint_shows_the_splice_and_what_never_applies(tmp_path, tiny_pair):
    doc = {**PASSTHROUGH, "slices": [*PASSTHROUGH["slices"], {"sources": [{"model": QWEN, "layer_range": [3, 3]}]}]}
    report = lint(merge.load(write_merge(tmp_path, doc), tiny_pair))
    assert report.layers == 9 and not report.degenerate
    assert report.outcome == f"stacks 9 layers: {KIMI} layers 0-4, {QWEN} layers 5-8 (scaled where set)"
    assert report.problems == [
        "rule slices[1].parameters.scale #1 filter 'lm_head' never applies: matches no tensor "
        "(embeddings are tied: lm_head is embed_tokens, there is no lm_head tensor)",
        f"slice slices[2] never applies: its layer_range makes no layer ({QWEN} [3, 3])",
    ]
    (scale,) = report.tables
    assert scale.title == f"scale of {QWEN}"
    assert [r["attention"] for r in scale.rows] == ["-"] * 5 + ["none/0"] * 4  # layers 5-8 come from QWEN
    assert report.defaults == f"scale[{KIMI}]=none"


def test_a_stack_transformers_cannot_save_is_refused_before_any_weight_is_read(tmp_path, tiny_pair):
    doc = {**PASSTHROUGH, "slices": [{"sources": [{"model": KIMI, "layer_range": [0, 5]}]},
                                     {"sources": [{"model": QWEN, "layer_range": [4, 9]}]}]}  # fmt: skip
    with pytest.raises(ConfigError) as exc:
        merge.load(write_merge(tmp_path, doc), tiny_pair)
    assert _one_line_error(exc).endswith(
        "mergekit refuses this merge: the output's config.json would be invalid: "
        "`num_hidden_layers` (10) must be equal to the number of `layer_types` (9)"
    )
    doc["slices"][1]["sources"][0]["layer_range"] = [6, 10]  # 9 layers in all, but QWEN has no layer 9
    with pytest.raises(ConfigError) as exc:
        merge.load(write_merge(tmp_path, doc), tiny_pair)
    assert f"{QWEN} has no tensor model.layers.9." in _one_line_error(exc)


def test_passthrough_of_one_model_is_a_copy(tmp_path, tiny_pair):
    report = lint(
        merge.load(write_merge(tmp_path, {"models": [{"model": KIMI}], "merge_method": "passthrough"}), tiny_pair)
    )
    assert report.degenerate and report.outcome == f"output identical to {KIMI} (passthrough of one model, no scale)"


def test_cli_lint_and_run_of_ties(tmp_path, tiny_pair):
    maps = [a for ref, p in demo_pair(tiny_pair).items() for a in ("--model", f"{ref}={p}")]
    cfg = str(CONFIGS / "merge" / "demo-ties.yaml")
    r = run_cli("merge", "lint", cfg, *maps)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "ties, 9 layers, 101 tensors" in out and "base: hubkit-demo/tiny-qwen3-a-distilled" in out
    assert "density of hubkit-demo/tiny-qwen3-b-distilled per layer" in out
    assert "models[1].parameters.density #0 filter 'self_attn'" in out
    assert "at mergekit's defaults: int8_mask=false, normalize=true, rescale=false, lambda=1" in out
    assert "problem:" not in out
    assert run_cli("merge", "lint", cfg, *maps, "--strict").returncode == 0
    data = json.loads(run_cli("merge", "lint", cfg, *maps, "--json").stdout)
    assert data["method"] == "ties" and data["kind"] == "parameters" and len(data["tensors"]) == 101
    r = run_cli("merge", "run", cfg, "--out", str(tmp_path / "o"), *maps)
    assert r.returncode == 0, r.stderr
    assert "merged -> " in r.stdout and "adds the task vectors of" in r.stdout


# -- malformed merge files: one line naming the file and the key, exit 2, never a traceback -------

BASE_DOC = "models:\n  - model: a\n  - model: b\nmerge_method: slerp\nbase_model: a\n"
MALFORMED = [
    ("models: 5\nmerge_method: slerp\n", "models: expected a list (line 1)"),
    ("slices: [foo, bar]\nmerge_method: passthrough\n", "slices[0]: expected a mapping (also slices[1]) (line 1)"),
    ("slices: [{sources: 7}]\nmerge_method: passthrough\n", "slices[0].sources: expected a list (line 1)"),
    (
        "models:\n  - model: a\n  - model: a\nmerge_method: slerp\nbase_model: a\nparameters: {t: 0.5}\n",
        "models[1].model: model 'a' is listed twice (also models[0].model) (line 3)",
    ),
    (
        BASE_DOC + "parameters:\n  t:\n    - filter: mlp\n      value: []\n    - value: 0.5\n",
        "parameters.t[0].value: empty list: give a value, or a list of values for a gradient (line 9)",
    ),
    (BASE_DOC + "parameters: {t: []}\n", "parameters.t: empty list: give a value, or a list of values for a gradient"),
    (
        BASE_DOC + "parameters: {t: 0.5}\ndtype: float128\n",
        "dtype: unknown dtype 'float128' (mergekit knows: bfloat16, float16, float32, float64, int64) (line 7)",
    ),
    (BASE_DOC + "parameters: {t: 0.5}\nout_dtype: fp8\n", "out_dtype: unknown dtype 'fp8'"),
    (
        BASE_DOC.replace("slerp", "slurp") + "parameters: {t: 0.5}\n",
        "merge_method: unknown merge method 'slurp' (known: ",
    ),
    (
        BASE_DOC + "parameters:\n  t:\n    - filtr: mlp\n      value: 0.5\n",
        "parameters.t[0].filtr: unknown key (known here: value, filter) (line 8)",
    ),  # a typo: a catch-all
    (BASE_DOC + "parameters: {t: 0.5}\nparamters: {t: 1}\n", "paramters: unknown key (known here: "),
    (
        BASE_DOC + "parameters: {t: 0.5, densty: 0.5}\n",
        "parameters.densty: merge method 'slerp' has no parameter 'densty' (it has: t) (line 6)",
    ),
    (
        BASE_DOC.replace("slerp", "ties") + "parameters: {density: abc, weight: 1}\n",
        "parameters.density: density must be float, got 'abc' (line 6)",
    ),
    (BASE_DOC + "parameters: {t: {foo: 1}}\n", "parameters.t: invalid value {'foo': 1} (line 6)"),
    (
        "models:\n  - model: a+b+c\nmerge_method: linear\n",
        "models[0].model: invalid model reference: Can't parse a+b+c (line 2)",
    ),
    ("models:\n  - model: a\nmerge_method: [linear]\n", "merge_method: expected a string (line 3)"),
    ("merge_method: linear\n", "exactly one of 'models', 'slices', or 'modules' must be present"),
    ("- models: []\n", "expected a mapping at the top level"),
    ("models: [\n", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
def test_malformed_merge_file_is_one_line_exit_2(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = run_cli("merge", "lint", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"{path}") and expected in r.stderr, r.stderr


def test_an_unknown_method_is_one_line_at_load_and_the_rest_of_the_file_before_a_build(demo_config, tmp_path):
    cfg = demo_config.parent / "merge" / "demo-slerp.yaml"
    cfg.write_text(cfg.read_text().replace("merge_method: slerp", "merge_method: slurp"))
    for command in ("status", "build"):  # the config is refused when it is loaded, whatever the command
        r = run_cli(command, "-c", str(demo_config), "-w", str(tmp_path / "ws"))
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.splitlines() == [r.stderr.strip()]
        assert r.stderr.startswith(f"{demo_config}: merge.config: {cfg}: merge_method 'slurp' is not a mergekit method")
        assert "known: " in r.stderr and "ties" in r.stderr
    assert not (tmp_path / "ws").exists()
    cfg.write_text("models: 5\nmerge_method: slerp\n")  # mergekit would refuse it: checked before a build ...
    r = run_cli("status", "-c", str(demo_config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 0 and "tiny-qwen3-slerp" in r.stdout, r.stderr  # ... not by every status
    r = run_cli("build", "-c", str(demo_config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2 and r.stderr.startswith(f"{cfg}") and len(r.stderr.splitlines()) == 1, r.stderr
    assert not (tmp_path / "ws").exists()  # refused before anything was built


def test_the_methods_hubkit_knows_without_mergekit_are_mergekits():
    assert list(merge.METHODS) == merge.known_methods()


# -- the demo's two students, merged with other methods, as the release's merge artifact -----------


@pytest.mark.parametrize(("config", "method", "pretty"), [("demo-linear.yaml", "linear", "Linear"),
                                                          ("demo-ties.yaml", "ties", "TIES")])  # fmt: skip
def test_demo_students_merge_with_other_methods_and_the_card_names_it(trained_demo, tmp_path, config, method, pretty):
    import yaml
    from huggingface_hub import ModelCard

    from hubkit import pipeline
    from hubkit.cards.lint import lint_release
    from hubkit.cards.render import render_artifact
    from hubkit.config import load_release
    from hubkit.pipeline import plan
    from hubkit.workspace import Workspace

    demo = copy_demo(trained_demo, tmp_path / "demo")
    demo_config = demo / "configs" / "demo.yaml"
    data = yaml.safe_load(demo_config.read_text())
    data["merge"]["config"] = f"merge/{config}"
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    rel, ws = load_release(demo_config), Workspace(demo / "ws")
    out = pipeline.build(rel, ws, ["tiny-qwen3-slerp"], report=lambda m: None)
    assert out == ONLY_MERGE_BUILT
    folder = ws.path("tiny-qwen3-slerp")
    assert (folder / "mergekit_config.yml").read_text() == (demo / "configs" / "merge" / config).read_text()
    assert json.loads((folder / "merge_lint.json").read_text())["method"] == method

    art = plan(rel, ws).nodes["tiny-qwen3-slerp"]
    text = render_artifact(art, folder, rel, None)["README.md"].decode()
    card = ModelCard(text)
    assert card.data.tags == ["mergekit", "merge", method, "hubkit"]
    assert card.data.base_model == ["hubkit-demo/tiny-qwen3-a-distilled", "hubkit-demo/tiny-qwen3-b-distilled"]
    assert card.data.base_model_relation == "merge"
    assert f"A {pretty} merge of hubkit-demo/tiny-qwen3-a-distilled and hubkit-demo/tiny-qwen3-b-distilled" in text
    assert "slerp" not in text.lower().replace("tiny-qwen3-slerp", "")  # the method is named, not assumed
    if method == "linear":
        assert "## Effective weights per layer" in text and "### Effective weight of" in text
        assert "| 8 | 0.5 | 0.5 | 0.5 |" in text  # the even mix at the top
    else:
        assert "## Parameters per layer" in text and "### Density of hubkit-demo/tiny-qwen3-b-distilled" in text
        assert "| 8 | 0.8 | 0.5 | 1 |" in text and "normalize=true" in text
    assert lint_release(rel, {art.repo_id: text}) == []
