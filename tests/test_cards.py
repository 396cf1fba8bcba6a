"""Cards: golden files of the demo, metadata round trips, numbers from data, lint."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml
from huggingface_hub import ModelCard

from hubkit import pipeline
from hubkit.bench.results import Count, ModelResults, Results, case_key, load_results
from hubkit.cards.lint import lint_card
from hubkit.cards.render import render_artifact
from hubkit.config import ChatEndpoint, load_release
from hubkit.errors import ConfigError, HubkitError
from hubkit.pipeline import plan
from hubkit.workspace import Workspace
from tests.conftest import CONFIGS, ROOT, copy_demo, copy_project, run_cli

GOLDEN = ROOT / "tests" / "golden"
CARDS = ["tiny-qwen3-a-distilled", "tiny-qwen3-b-distilled", "tiny-qwen3-slerp"]
CATS = ["Logic", "Math", "SQL"]


@pytest.fixture(scope="module")
def built(trained_demo, tmp_path_factory):
    """The trained demo (the session's shared build), copied: card tests render into it."""
    root = copy_demo(trained_demo, tmp_path_factory.mktemp("cards") / "demo")
    return root / "configs" / "demo.yaml", Workspace(root / "ws")


def render(built, name, results=None):
    config, ws = built
    rel = load_release(config)
    art = plan(rel, ws).nodes[name]
    return render_artifact(art, ws.path(name), rel, results)


def results_for(models, counts, claimed=None):
    return Results(
        benchmark="hubkit-demo/tiny-cmdr-bench", source="a test", categories=CATS,
        models=[ModelResults(model=m, categories={c: Count(passed=k, total=20) for c, k in zip(CATS, ks, strict=True)})
                for m, ks in zip(models, counts, strict=True)],
        claimed_overall=claimed or {},
    )  # fmt: skip


# What a training run measures on the machine it ran on; golden files hold a placeholder instead.
MACHINE_FACTS = re.compile(
    rb"^(\| (?:hardware|wall time|final train loss|final eval loss) \| ).*$|^(Libraries: ).*?(?=\. )", re.MULTILINE
)


def machine_neutral(text: bytes) -> bytes:
    return MACHINE_FACTS.sub(lambda m: (m.group(1) or m.group(2)) + b"<this machine>" + (b" |" if m.group(1) else b""),
                             text)  # fmt: skip


def stand_in(res: Results) -> Results:
    """The run's results with every sampled outcome replaced by a fixed pattern.

    What a trained student answers depends on floating point (instruction set, threads, load),
    so the golden cards are rendered from these instead: every case, model and category of the
    run, with outcomes that differ per model and category and reach both 0/N and N/N."""
    models = []
    for i, m in enumerate(res.models):
        cases = {key: [(j * (i + 2) + len(key)) % (i + 3) == 0] for j, key in enumerate(sorted(m.cases))}
        if i == 0:  # one model answers a whole category right, another gets one all wrong
            cases |= {k: [True] for k in cases if k.startswith(case_key(res.categories[0], ""))}
        if i == 1:
            cases |= {k: [False] for k in cases if k.startswith(case_key(res.categories[1], ""))}
        categories, truncated = {}, {}
        for n, cat in enumerate(res.categories):
            mine = [v for k, v in cases.items() if k.startswith(case_key(cat, ""))]
            categories[cat] = Count(passed=sum(map(sum, mine)), total=sum(map(len, mine)))
            truncated[cat] = (n + i) % 4
        models.append(m.model_copy(update={"cases": cases, "categories": categories, "truncated": truncated}))
    return res.model_copy(update={"models": models})


def test_demo_cards_match_golden_files_and_render_identically_twice(built):
    from hubkit.pipeline import results as load_release_results

    config, ws = built
    rel = load_release(config)
    first = pipeline.cards(rel, ws, report=lambda m: None)
    assert first == []  # lint-clean
    names = [*CARDS, "tiny-cmdr-bench"]
    texts = {n: (ws.path(n) / "README.md").read_bytes() for n in names}
    pipeline.cards(rel, ws, report=lambda m: None)
    assert {n: (ws.path(n) / "README.md").read_bytes() for n in names} == texts
    # The published cards are the templates rendered on the run's own results ...
    results, nodes = load_release_results(rel, ws), plan(rel, ws).nodes
    assert results is not None and len(results.models) == 3
    for n in names:
        assert render_artifact(nodes[n], ws.path(n), rel, results)["README.md"] == texts[n]
    # ... and byte for byte what the golden files hold once the sampled outcomes are fixed.
    fixed = stand_in(results)
    for n in names:
        text = machine_neutral(render_artifact(nodes[n], ws.path(n), rel, fixed)["README.md"])
        golden = GOLDEN / f"{n}.md"
        if os.environ.get("HUBKIT_UPDATE_GOLDEN"):
            golden.write_bytes(text)
        assert text == golden.read_bytes(), f"{n} differs from {golden} (HUBKIT_UPDATE_GOLDEN=1 to accept)"
    model_card = texts["tiny-qwen3-a-distilled"].decode()
    assert "Test fixture" not in model_card and "fine-tuned with lora (peft, float32)" in model_card
    assert "![Training loss](training/loss.png)" in model_card
    assert re.search(r"\| final train loss \| \d+\.\d{4} \|", model_card)  # a real number before masking


def test_the_golden_stand_in_keeps_the_shape_of_the_run_and_varies(built):
    from hubkit.pipeline import results as load_release_results

    config, ws = built
    real = load_release_results(load_release(config), ws)
    fixed = stand_in(real)
    for a, b in zip(real.models, fixed.models, strict=True):
        assert a.model == b.model and a.cases.keys() == b.cases.keys()
        assert {c: n.total for c, n in a.categories.items()} == {c: n.total for c, n in b.categories.items()}
    rates = {fixed.rate(m.model, c) for m in fixed.models for c in fixed.categories}
    assert {0.0, 100.0} <= rates and len(rates) >= 5


def test_metadata_round_trips_through_huggingface_hub(built):
    config, ws = built
    pipeline.cards(load_release(config), ws, report=lambda m: None)
    card = ModelCard.load(ws.path("tiny-qwen3-slerp") / "README.md")
    meta = card.data.to_dict()
    assert meta["base_model"] == ["hubkit-demo/tiny-qwen3-a-distilled", "hubkit-demo/tiny-qwen3-b-distilled"]
    assert meta["base_model_relation"] == "merge"
    assert meta["license"] == "apache-2.0" and meta["pipeline_tag"] == "text-generation"
    rel = load_release(config)
    art = plan(rel, ws).nodes["tiny-qwen3-slerp"]
    # The model-index is added from the evaluation's results; the rest is the artifact's own card data.
    assert meta.pop("model-index")[0]["name"] == "hubkit-demo/tiny-qwen3-slerp"
    assert art.card_data(art.card_context(ws.path("tiny-qwen3-slerp"))).to_dict() == meta
    distilled = ModelCard.load(ws.path("tiny-qwen3-a-distilled") / "README.md").data.to_dict()
    assert distilled["base_model_relation"] == "finetune"
    assert distilled["datasets"] == ["hubkit-demo/tiny-teacher-a-reasoning"]


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+\.\d+", text))


def test_every_benchmark_number_comes_from_the_results(built):
    models = ["hubkit-demo/tiny-qwen3-slerp", "hubkit-demo/tiny-qwen3-a-distilled"]
    a = results_for(models, [[18, 10, 15], [12, 10, 4]])
    b = results_for(models, [[7, 19, 3], [9, 1, 20]])
    cards = {}
    for key, res in (("a", a), ("b", b)):
        files = render(built, "tiny-qwen3-slerp", res)
        text = files["README.md"].decode()
        section = text[text.index("## Benchmark") : text.index("## Usage")]
        want = set()
        for m in models:
            want |= {f"{res.rate(m, c):.1f}" for c in CATS} | {f"{res.overall(m):.2f}"}
            want |= {f"{x:.1f}" for c in CATS for x in res.interval(m, c)} | {f"{x:.1f}" for x in res.interval(m)}
        want |= {f"{res.overall(models[0]) - res.overall(models[1]):+.2f}".lstrip("+-")}
        want |= {f"{res.p_value(models[0], models[1]):.3f}", "0.05"}
        assert numbers(section) <= want, numbers(section) - want
        assert {f"{res.rate(m, c):.1f}" for m in models for c in CATS} <= numbers(section)
        cards[key] = (files, section)
    assert numbers(cards["a"][1]) != numbers(cards["b"][1])
    assert cards["a"][0][".eval_results/cmdr_bench.yaml"] != cards["b"][0][".eval_results/cmdr_bench.yaml"]
    assert cards["a"][0]["benchmark/cmdr_bench.png"] != cards["b"][0]["benchmark/cmdr_bench.png"]


def test_eval_results_model_index_and_chart(built):
    from huggingface_hub._eval_results import parse_eval_result_entries

    models = ["hubkit-demo/tiny-qwen3-slerp", "hubkit-demo/tiny-qwen3-a-distilled"]
    res = results_for(models, [[18, 10, 15], [12, 10, 4]])
    files = render(built, "tiny-qwen3-slerp", res)
    entries = parse_eval_result_entries(yaml.safe_load(files[".eval_results/cmdr_bench.yaml"]))
    assert {e.task_id: e.value for e in entries} == {"logic": 90.0, "math": 50.0, "sql": 75.0, "overall": 71.67}

    assert {e.dataset_id for e in entries} == {"hubkit-demo/tiny-cmdr-bench"}
    assert files["benchmark/cmdr_bench.png"].startswith(b"\x89PNG")
    assert files["benchmark/cmdr_bench.png"] == render(built, "tiny-qwen3-slerp", res)["benchmark/cmdr_bench.png"]
    card = ModelCard(files["README.md"].decode())
    index = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert index["overall"] == 71.67 and index["SQL pass rate"] == 75.0
    assert "![CMDR-Bench pass rate per category](benchmark/cmdr_bench.png)" in files["README.md"].decode()


def test_claims_are_computed_and_say_what_is_not_significant(built):
    models = ["hubkit-demo/tiny-qwen3-slerp", "hubkit-demo/tiny-qwen3-a-distilled"]
    close = results_for(models, [[11, 10, 10], [10, 10, 10]], claimed={models[0]: 99.0})
    text = render(built, "tiny-qwen3-slerp", close)["README.md"].decode()
    assert "rank 1 of 2 evaluated models" in text
    assert "higher in 1 and lower in 0 of 3 categories (0 of the differences significant at p<0.05)" in text
    assert "not significant)" in text
    assert (
        "The source states an overall score of 99.00 for this model; the mean of its own category rates is 51.67."
        in text
    )
    tie = results_for(models, [[5, 5, 5], [5, 5, 5]])
    tied = render(built, "tiny-qwen3-slerp", tie)["README.md"].decode()
    assert "rank 1 (tied with 1 other) of 2 evaluated models" in tied
    far = results_for(models, [[20, 20, 20], [0, 0, 0]])
    assert "(p=0.000, significant)" in render(built, "tiny-qwen3-slerp", far)["README.md"].decode()


def test_the_seed_table_recomputes_the_overall_scores_loudly():
    res = load_results(CONFIGS / "bench" / "seed_results.yaml")
    merged, kimi = "khazarai/Qwen3-4B-Qwen3.6-plus-Reasoning-Slerp", "khazarai/Qwen3-4B-Kimi2.5-Reasoning-Distilled"
    assert round(res.overall(merged), 2) == 78.73 and res.claimed_overall[merged] == 77.18
    assert round(res.overall(kimi), 2) == 74.55 and res.claimed_overall[kimi] == 76.09
    assert round(res.overall("Qwen/Qwen3-4B-Thinking-2507"), 2) == res.claimed_overall["Qwen/Qwen3-4B-Thinking-2507"]
    assert res.rate(kimi, "Mathematical Reasoning") < 100  # the paper says all fine-tuned models reach 100%


def test_a_published_table_that_is_not_whole_counts_is_refused(tmp_path):
    data = yaml.safe_load((CONFIGS / "bench" / "seed_results.yaml").read_text())
    data["rates"]["Qwen/Qwen3-4B-Thinking-2507"]["Logical Reasoning"] = 60.5
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"Logical Reasoning: 60.5% is not a whole count out of 110"):
        load_results(path)


def test_users_can_bring_their_own_templates_and_missing_values_fail(tmp_path, built):
    config = copy_project(tmp_path) / "demo.yaml"
    mine = tmp_path / "my-cards"
    shutil.copytree(ROOT / "cards", mine)
    (mine / "model.md.j2").write_text("# {{ repo_id }} by my team\n\nBase: {{ base_model }}\n")
    data = yaml.safe_load(config.read_text())
    data["card_templates"] = "../my-cards"
    config.write_text(yaml.safe_dump(data))
    _, ws = built
    rel = load_release(config)
    art = plan(rel, ws).nodes["tiny-qwen3-a-distilled"]
    text = render_artifact(art, ws.path(art.name), rel, None)["README.md"].decode()
    assert text.endswith("# hubkit-demo/tiny-qwen3-a-distilled by my team\n\nBase: hubkit-testing/tiny-qwen3\n")
    (mine / "model.md.j2").write_text("# {{ repo_id }} {{ no_such_value }}\n")
    with pytest.raises(HubkitError, match=r"model\.md\.j2: 'no_such_value' is undefined"):
        render_artifact(art, ws.path(art.name), rel, None)


GOOD = """---
license: apache-2.0
pipeline_tag: text-generation
base_model: hubkit-demo/tiny-qwen3-a-distilled
datasets:
- org/data
---

# Title

Intro with a [link](https://huggingface.co/x) and an ![image](benchmark/chart.png).

## Section

Text.
"""


def _sub(old, new):
    return lambda t: t.replace(old, new)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t, None),
        (_sub("license: apache-2.0", "license: apache2"), "repo/x: license: 'apache2' is not a Hub license id"),
        (_sub("pipeline_tag: text-generation", "pipeline_tag: chat"), "repo/x: pipeline_tag: 'chat' is not"),
        (_sub("- org/data", "- not a repo"), "repo/x: datasets: 'not a repo' is neither a repo"),
        (_sub("base_model: hubkit-demo/tiny-qwen3-a-distilled", "base_model: [bad"), "front matter: invalid YAML"),
        (_sub("Text.\n", ""), "repo/x: section 'Section': empty"),
        (lambda t: t + "\n{{ forgotten }}\n", "repo/x: body line"),
        (_sub("https://huggingface.co/x", "http://example.com"), "'http://example.com' is neither https nor relative"),
        (_sub("(benchmark/chart.png)", "(/etc/chart.png)"), "link '/etc/chart.png' is absolute"),
        (lambda t: t.split("---\n", 2)[2], "repo/x: front matter: missing"),
    ],
)
def test_lint_catches_each_problem(change, expected):
    rel = load_release(CONFIGS / "demo.yaml")
    problems = lint_card("repo/x", change(GOOD), rel, {"hubkit-demo/tiny-qwen3-a-distilled"})
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_cli_cards_render_and_lint(fixture_demo, tmp_path):
    demo = copy_demo(fixture_demo, tmp_path / "demo")  # the card commands are the subject; golden cards are trained
    config, ws = str(demo / "configs" / "demo.yaml"), str(demo / "ws")
    r = run_cli("cards", "lint", "-c", config, "-w", ws)
    assert r.returncode == 1 and "README.md: not rendered (run hubkit cards render)" in r.stdout
    r = run_cli("cards", "render", "-c", config, "-w", ws)
    evaluated = "tiny-qwen3-slerp: card rendered (.eval_results/cmdr_bench.yaml, README.md, benchmark/cmdr_bench.png)"
    assert r.returncode == 0 and evaluated in r.stdout
    r = run_cli("cards", "lint", "-c", config, "-w", ws)
    assert r.returncode == 0 and r.stdout.strip() == "8 cards, no problems"
    card = demo / "ws" / "tiny-qwen3-slerp" / "README.md"
    card.write_text(card.read_text().replace("license: apache-2.0", "license: apache"))
    r = run_cli("cards", "lint", "-c", config, "-w", ws)
    assert r.returncode == 1 and r.stdout == "hubkit-demo/tiny-qwen3-slerp: license: 'apache' is not a Hub license id\n"


@pytest.mark.parametrize(
    ("name", "loader", "expect"),
    [
        (
            "tiny-teacher-a-reasoning",
            "DatasetCard",
            {"task_categories": ["text-generation"], "size_categories": ["n<1K"]},
        ),
        ("tiny-cmdr-bench", "DatasetCard", {"pretty_name": "tiny-cmdr-bench"}),
        ("tiny-qwen3-compare", "SpaceCard", {"sdk": "gradio", "app_file": "app.py"}),
    ],
)
def test_dataset_benchmark_and_space_cards_round_trip_and_lint_clean(tmp_path, name, loader, expect):
    import huggingface_hub

    from hubkit.artifacts import all_artifacts

    rel = load_release(CONFIGS / "demo.yaml")
    art = next(a for a in all_artifacts(rel) if a.name == name)
    folder = tmp_path
    if name == "tiny-teacher-a-reasoning":  # its card reads what generation measured
        ws = Workspace(tmp_path / "ws")
        pipeline.build(rel, ws, [name], report=lambda _: None)
        folder = ws.path(name)
    text = render_artifact(art, folder, rel, None)["README.md"].decode()
    meta = getattr(huggingface_hub, loader)(text).data.to_dict()
    assert meta == art.card_data(art.card_context(folder)).to_dict()
    assert expect.items() <= meta.items()
    assert lint_card(art.repo_id, text, rel, {a.repo_id for a in all_artifacts(rel)}) == []
    if name == "tiny-qwen3-compare":
        assert meta["models"] == [f"hubkit-demo/{m}" for m in CARDS]
        assert meta["datasets"] == ["hubkit-demo/tiny-cmdr-bench"]
    if name == "tiny-teacher-a-reasoning":
        assert meta["configs"] == [
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"},
                                                      {"split": "rejected", "path": "data/rejected-*"}]}
        ]  # fmt: skip


def test_benchmark_eval_yaml_registers_the_tasks_the_models_report(tmp_path):
    from huggingface_hub._eval_results import parse_eval_result_entries

    from hubkit.bench import CATEGORIES
    from hubkit.bench.export import export
    from hubkit.cards.render import eval_results_yaml

    export(tmp_path, "CMDR-Bench")
    doc = yaml.safe_load((tmp_path / "eval.yaml").read_text())
    tasks = [t["id"] for t in doc["tasks"]]
    assert tasks[0] == "overall" and len(tasks) == 11
    assert "python_code_analysis_debugging" in tasks and "causal_reasoning_rag" in tasks
    seed = load_results(CONFIGS / "bench" / "seed_results.yaml")
    assert list(seed.categories) == list(CATEGORIES)
    reported = parse_eval_result_entries(yaml.safe_load(eval_results_yaml(seed, seed.models[0].model)))
    assert sorted(e.task_id for e in reported) == sorted(tasks)


def test_the_benchmark_card_publishes_grader_accuracy_and_the_leaderboard(tmp_path, monkeypatch):
    import json

    from hubkit.artifacts import all_artifacts
    from hubkit.bench import validate

    rel = load_release(CONFIGS / "demo.yaml")
    art = next(a for a in all_artifacts(rel) if a.name == "tiny-cmdr-bench")
    models = ["hubkit-demo/tiny-qwen3-a-distilled", "hubkit-demo/tiny-qwen3-slerp"]
    res = results_for(models, [[12, 10, 4], [18, 10, 15]])
    text = render_artifact(art, tmp_path, rel, res)["README.md"].decode()
    rows = {(r["category"], r["half"]): r for r in validate.recorded()["rows"]}
    sql = rows[("SQL Query Generation", "heldout")]  # the card publishes the held-out half
    assert f"| SQL Query Generation | sql | {sql['correct'] + sql['wrong']} |" in text
    causal = rows[("Causal Reasoning (RAG)", "heldout")]
    share = f"{100 * causal['false_pass'] / causal['wrong']:.1f}% ({causal['false_pass']}/{causal['wrong']})"
    n = causal["correct"] + causal["wrong"]
    assert f"| Causal Reasoning (RAG) | conclusion + points (keywords) | {n} | {share} |" in text
    # With a judge configured, the free-text categories are named by it, unmeasured until it is.
    judged = rel.model_copy(update={"benchmark": rel.benchmark.model_copy(update={"judge": ChatEndpoint(
        model="judge-m", base_url="http://127.0.0.1:9/v1")})})  # fmt: skip
    art_j = next(a for a in all_artifacts(judged) if a.name == "tiny-cmdr-bench")
    text_j = render_artifact(art_j, tmp_path, judged, res)["README.md"].decode()
    assert "| Ethical Dilemma | conclusion + points (judge: judge-m) | not measured |" in text_j
    assert "hubkit bench validate --judge --write" in text_j and "| SQL Query Generation | sql |" in text_j
    assert "| `sql-01`: List the names of all products that cost more than 20. |" in text
    board = text[text.index("## Leaderboard") :]
    assert board.index("tiny-qwen3-slerp") < board.index("tiny-qwen3-a-distilled")  # ranked by overall
    lo, hi = res.interval(models[1])
    assert f"| {res.overall(models[1]):.2f} | {lo:.1f}-{hi:.1f} |" in board
    assert "No evaluation of this version" in render_artifact(art, tmp_path, rel, None)["README.md"].decode()

    # Figures measured on other cases or graders are not published as this version's.
    stale = tmp_path / "accuracy.json"
    stale.write_text(json.dumps({**validate.recorded(), "cases": "0" * 64}))
    monkeypatch.setattr(validate, "ACCURACY", stale)
    text = render_artifact(art, tmp_path, rel, res)["README.md"].decode()
    assert "Not measured for this version" in text and "False pass" not in text


def test_intervals_hold_the_rate_and_charts_draw_at_0_of_n_and_n_of_n():
    from hubkit.bench.results import wilson
    from hubkit.charts import grouped_bars

    for n in range(1, 201):
        for k in range(n + 1):
            lo, hi = wilson(k, n)
            assert 0.0 <= lo <= 100 * k / n <= hi <= 100.0, (k, n, lo, hi)
        assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 100.0
    for n in (1, 10, 11, 200):  # a model that answers every case right, one that answers none
        res = Results(benchmark="org/bench", source="a test", categories=CATS, models=[
            ModelResults(model=m, categories={c: Count(passed=k, total=n) for c in CATS})
            for m, k in (("org/all", n), ("org/none", 0))])  # fmt: skip
        assert res.rate("org/all", "SQL") == 100.0 and grouped_bars(res).startswith(b"\x89PNG")
