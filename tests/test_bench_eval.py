"""The runner with real backends (tiny transformers model, a local OpenAI-compatible server),
resumability, the evaluate stage, and the report's verdicts on the seed's claims."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import yaml

from hubkit import pipeline
from hubkit.bench.cases import load_cases
from hubkit.bench.report import render
from hubkit.bench.results import load_results
from hubkit.bench.runner import EvalJob, OpenAICompatBackend, TransformersBackend, results_from_jsonl, run
from hubkit.config import EvalBackend, Sampling, load_release
from hubkit.llm import derive_seed
from hubkit.offline import save_tiny_qwen3
from hubkit.workspace import Workspace
from tests.conftest import CONFIGS, copy_demo, run_cli

SAMPLING = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=8, seed=3)
SOME = [c for c in load_cases() if c.level <= 2][:6]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return TransformersBackend(str(save_tiny_qwen3(tmp_path_factory.mktemp("m"), seed=1, layers=2)))


class Crash(Exception):
    pass


class CrashAfter:
    """The real backend, but the process 'dies' when the given batch starts."""

    def __init__(self, inner, batches):
        self.inner, self.left, self.name = inner, batches, inner.name

    def generate(self, messages, sampling, seed):
        if self.left == 0:
            raise Crash
        self.left -= 1
        return self.inner.generate(messages, sampling, seed)


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_everything_and_resumes_after_a_crash_without_losing_or_repeating(tiny, tmp_path):
    job = EvalJob("org/tiny", "x", tmp_path / "r.jsonl")
    with pytest.raises(Crash):
        run(job, CrashAfter(tiny, 2), SOME, samples=2, sampling=SAMPLING, batch_size=4)
    assert len(rows(job.out)) == 8  # the two completed batches survived
    with job.out.open("a") as f:
        f.write('{"model": "org/tiny", "case": "tor')  # a torn line, as a kill mid-write leaves
    new = run(job, tiny, SOME, samples=2, sampling=SAMPLING, batch_size=4)
    assert new == 4
    done = rows(job.out)  # every line parses: the torn one was cut before appending
    assert sorted((r["case"], r["sample"]) for r in done) == sorted((c.id, s) for c in SOME for s in range(2))
    r = done[0]
    assert r["sampling"] == SAMPLING.model_dump() and r["backend"].startswith("transformers:")
    assert {"seed", "batch_size", "prompt", "reasoning", "answer", "finish_reason", "completion_tokens", "passed",
            "grader", "detail", "category", "level"} <= r.keys()  # fmt: skip
    assert run(job, tiny, SOME, samples=2, sampling=SAMPLING, batch_size=4) == 0


def test_same_seed_same_answers(tiny, tmp_path):
    a, b = (EvalJob("org/t", "x", tmp_path / f"{k}.jsonl") for k in "ab")
    for job in (a, b):
        run(job, tiny, SOME[:4], samples=1, sampling=SAMPLING, batch_size=4)
    assert [(r["reasoning"], r["answer"]) for r in rows(a.out)] == [(r["reasoning"], r["answer"]) for r in rows(b.out)]


def test_openai_compatible_endpoint_and_paired_results(tmp_path):
    by_message = {c.message(): c.reference for c in SOME}
    seen = []

    class Model(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            text = by_message[body["messages"][0]["content"]]
            out = json.dumps({"choices": [{"message": {"content": text, "reasoning_content": "hmm"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = HTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        backend = OpenAICompatBackend("judge-free-model", EvalBackend(kind="openai_compat", base_url=url))
        job = EvalJob("org/api", "api", tmp_path / "api.jsonl")
        run(job, backend, SOME, samples=1, sampling=SAMPLING, batch_size=3)
    finally:
        server.shutdown()
    assert all(r["passed"] for r in rows(job.out)) and rows(job.out)[0]["reasoning"] == "hmm"
    first = next(b for b in seen if b["messages"][0]["content"] == SOME[0].message())
    assert first["temperature"] == 0.7 and first["max_tokens"] == 8
    assert first["seed"] == derive_seed(3, SOME[0].id, 0)  # from (case, sample), not from the batch
    with pytest.raises(Exception, match="incomplete evaluation"):
        results_from_jsonl({"org/api": job.out}, "org/bench", "test", {})  # only 6 of 100 cases


def test_the_evaluation_is_an_artifact_that_reruns_only_a_rebuilt_model(fixture_demo, tmp_path):
    import pyarrow.parquet as pq

    from hubkit.pipeline import plan
    from hubkit.pipeline import results as load_release_results

    # A model changed by its fixture seed: no training needed to show it.
    assert "evaluate: hubkit-demo/tiny-qwen3-slerp: 100 new samples, 0 already done" in (
        fixture_demo / "build.log").read_text()  # fmt: skip
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    demo_config, ws = demo / "configs" / "demo.yaml", Workspace(demo / "ws")
    rel = load_release(demo_config)
    said = []
    folder = ws.path("tiny-cmdr-bench-details")
    res = load_release_results(rel, ws)
    assert [m.model for m in res.models] == [f"hubkit-demo/{m}" for m in rel.benchmark.evaluate]
    assert all(sum(c.total for c in m.categories.values()) == 100 and len(m.cases) == 100 for m in res.models)
    details = pq.read_table(next((folder / "data").glob("details-*.parquet"))).to_pylist()
    assert (
        len(details) == 300
        and {"reasoning", "answer", "finish_reason", "passed", "grader", "seed"} <= details[0].keys()
    )
    pipeline.cards(rel, ws, report=lambda m: None)
    card = (ws.path("tiny-qwen3-slerp") / "README.md").read_text()
    assert "## Benchmark: CMDR-Bench" in card and "hubkit eval (transformers" in card
    assert "### Answers cut by the token limit" in card

    data = yaml.safe_load(demo_config.read_text())
    data["models"][0]["base_fixture"]["seed"] = 11
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    rel2 = load_release(demo_config)
    state = plan(rel2, ws).state("tiny-cmdr-bench-details")
    assert (state.status, state.reason) == ("stale", "input tiny-qwen3-a-distilled is stale")
    assert load_release_results(rel2, ws) is None  # cards never show numbers of other models
    said.clear()
    pipeline.build(rel2, ws, report=said.append)
    log = "\n".join(said)
    assert "evaluate: hubkit-demo/tiny-qwen3-a-distilled: 100 new samples, 0 already done" in log
    assert "evaluate: hubkit-demo/tiny-qwen3-b-distilled: 0 new samples, 100 already done" in log


def test_report_checks_the_seed_claims():
    text = render(load_results(CONFIGS / "bench" / "seed_results.yaml"))
    assert "! Qwen3-4B-Qwen3.6-plus-Reasoning-Slerp: the source states 77.18; its own table gives 78.73" in text
    assert "[contradicted by the data] All three fine-tuned models reach 100% in Mathematical Reasoning" in text
    assert "[contradicted by the data] Merged beats both distilled models in Python Code Analysis" in text
    assert "[direction right, not significant] Merged is best overall" in text
    assert "~ Qwen3-4B-Qwen3.6-plus-Reasoning-Distilled vs Qwen3-4B-Qwen3.6-plus-Reasoning-Slerp" in text
    assert "[supported]" not in text  # with 10 cases per category, none of its comparisons is significant


def test_cli_eval_and_report(fixture_demo, tmp_path):
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    demo_config, ws = demo / "configs" / "demo.yaml", str(demo / "ws")
    r = run_cli("eval", "-c", str(demo_config), "-w", ws)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "tiny-cmdr-bench-details: up to date" in r.stdout and "overall (mean of categories)" in r.stdout
    r = run_cli("eval", "report", "-c", str(demo_config), "--results", str(CONFIGS / "bench" / "seed_results.yaml"))
    assert r.returncode == 0 and "claims of the source" in r.stdout
    data = yaml.safe_load(demo_config.read_text())
    data["benchmark"]["evaluate"] = []
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("eval", "-c", str(demo_config), "-w", ws)
    assert r.returncode == 2 and "benchmark.evaluate lists no models to evaluate" in r.stderr


@pytest.mark.parametrize("field", ["reasoning_content", "inline"])
def test_references_served_over_http_pass_and_the_same_cut_inside_reasoning_fail(tmp_path, field):
    from hubkit.bench import CATEGORIES
    from hubkit.offline.teacher import BackgroundTeacher, Options

    cases = load_cases()
    refs = {c.message(): c.reference for c in cases}
    sampling = Sampling(temperature=0.6, top_p=0.95, max_new_tokens=4096, seed=0)
    out = {}
    for label, truncate in (("full", 0.0), ("cut", 1.0)):
        with BackgroundTeacher(Options(answers=refs, reasoning_field=field, truncate_rate=truncate, latency=0.2)) as t:
            backend = OpenAICompatBackend("served", EvalBackend(kind="openai_compat", base_url=t.url, concurrency=16))
            job = EvalJob("org/served", "served", tmp_path / f"{label}.jsonl")
            run(job, backend, cases, samples=1, sampling=sampling, batch_size=100)
            in_flight = httpx.get(t.url.removesuffix("/v1") + "/stats").json()["max_in_flight"]
        assert in_flight == 16  # 100 cases at 0.2 s: concurrent, not one after another
        out[label] = results_from_jsonl({"org/served": job.out}, "org/bench", "test", {}).models[0]
    assert all(c.passed == c.total == 10 for c in out["full"].categories.values())
    assert out["full"].truncated == dict.fromkeys(CATEGORIES, 0)
    assert all(c.passed == 0 for c in out["cut"].categories.values())  # the trace mentions the answer: no matter
    assert out["cut"].truncated == dict.fromkeys(CATEGORIES, 10)
    row = rows(tmp_path / "cut.jsonl")[0]
    assert row["grader"] == "no-answer" and row["answer"] == "" and row["reasoning"] and not row["closed"]


def test_a_trace_that_mentions_the_answer_is_not_an_answer():
    from hubkit.bench.graders import grade_result
    from hubkit.llm.client import make_result

    case = next(c for c in load_cases() if c.id == "math-01")
    cut = make_result(None, f"I think it is {case.reference}. Let me double-check", "length", None, 0, opened=True)
    assert not grade_result(case.grader, cut).passed
    done = make_result(None, f"I think so.\n</think>\n\n{case.reference}", "stop", None, 0, opened=True)
    assert grade_result(case.grader, done).passed


def test_bench_grade_knows_when_the_prompt_opened_think():
    case = next(c for c in load_cases() if c.id == "math-01")
    r = run_cli("bench", "grade", "math-01", "--opened", input_text=f"so it is {case.reference}")
    assert r.returncode == 0 and json.loads(r.stdout)["passed"] is False
    r = run_cli("bench", "grade", "math-01", "--opened", input_text=f"so\n</think>\n{case.reference}")
    assert json.loads(r.stdout)["passed"] is True
    r = run_cli("bench", "grade", "math-01", input_text=case.reference)
    assert json.loads(r.stdout)["passed"] is True


def test_transformers_results_are_typed_and_cut_reasoning_has_no_answer(tmp_path):
    from hubkit.bench.runner import opens_thinking

    backend = TransformersBackend(str(save_tiny_qwen3(tmp_path / "m", seed=5, layers=2)))
    assert backend.opened and opens_thinking(backend.tok)
    # Six tokens of a random 400-token model: closing </think> in time is a 1-in-70 event per
    # answer, so among eight answers some are cut inside their reasoning whatever the machine.
    questions = ["What is 2 + 2?", "Name a colour.", "Is 7 prime?", "Sort 3, 1, 2.", "Spell cat.", "Why?", "Hi", "x"]
    results = backend.generate(questions, Sampling(max_new_tokens=6, seed=1), list(range(8)))
    # Cut inside the reasoning: every token it made is reasoning (no </think> among them).
    cut = [r for r in results if r.finish_reason == "length" and r.reasoning_tokens == r.completion_tokens]
    assert cut, [(r.finish_reason, r.reasoning, r.content) for r in results]
    for r in results:
        assert r.completion_tokens <= 6
    for r in cut:
        assert not r.closed and r.content == "" and r.reasoning


def test_an_answer_depends_on_its_own_seed_not_on_its_batch(tiny):
    """Each row samples from its (case, sample) seed, as published per sample: the same answer
    alone, in a batch, or in another order (prompts of other lengths pad it differently)."""
    s = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=12, seed=0)
    questions = ["What is 2 + 2?", "Name a colour please", "Is 7 prime?", "Spell the word cat"]
    seeds = [100, 101, 102, 103]
    alone = [tiny.generate([q], s, [seed])[0] for q, seed in zip(questions, seeds, strict=True)]
    batched = tiny.generate(questions, s, seeds)
    reordered = tiny.generate(questions[::-1], s, seeds[::-1])[::-1]
    assert [r.reasoning for r in alone] == [r.reasoning for r in batched] == [r.reasoning for r in reordered]
    assert len({r.reasoning for r in batched}) == 4  # the rows really were sampled apart
    other = tiny.generate(questions[:1], s, [999])[0]
    assert other.reasoning != alone[0].reasoning  # and the seed decides
@pytest.mark.parametrize("samples", [1, 11])
def test_a_model_that_answers_every_case_right_scores_100_with_a_chart(tmp_path, samples):
    """References served by the scripted teacher through the OpenAI-compatible backend: 100% in
    every category, intervals ending at 100, a chart and a card table, at 1 and at 11 samples."""
    from hubkit.bench import CATEGORIES
    from hubkit.bench.evaluate import Target, evaluate
    from hubkit.cards.render import results_context
    from hubkit.charts import grouped_bars
    from hubkit.config import Benchmark
    from hubkit.offline.teacher import BackgroundTeacher, Options

    cases = load_cases() if samples == 1 else [c for c in load_cases() if c.level == 1]  # 11 x 10 cases: N/N = 11/11
    with BackgroundTeacher(Options(answers={c.message(): c.reference for c in cases})) as t:
        backend = EvalBackend(kind="openai_compat", base_url=t.url, concurrency=16, batch_size=100)
        if samples == 1:  # the whole evaluation stage: graders checked first, then every case asked once
            bench = Benchmark(name="bench", samples=1, backend=backend, sampling=Sampling(max_new_tokens=4096))
            said = []
            res, _ = evaluate(bench, "org/bench", [Target("org/perfect", "perfect", "perfect")], tmp_path, said.append)
            assert said[0].startswith("evaluate: graders ready (conclusion, constraints, math, python, sql, verifier")
        else:
            job = EvalJob("org/perfect", "perfect", tmp_path / "perfect.jsonl")
            run(job, OpenAICompatBackend("perfect", backend), cases, samples=samples,
                sampling=Sampling(max_new_tokens=4096), batch_size=100)  # fmt: skip
            res = results_from_jsonl({"org/perfect": job.out}, "org/bench", "test", {})
    n = len(cases) * samples // len(CATEGORIES)
    assert all(c.passed == c.total == n for c in res.models[0].categories.values())
    assert res.overall("org/perfect") == 100.0 and res.interval("org/perfect")[1] == 100.0
    assert all(res.interval("org/perfect", cat)[1] == 100.0 for cat in CATEGORIES)
    assert grouped_bars(res).startswith(b"\x89PNG")
    table = results_context(res, "org/perfect")
    assert all(row["cells"][0].startswith("100.0 (") and row["cells"][0].endswith("-100.0)") for row in table["rows"])
    if samples == 1:  # the card names the grader behind each number
        causal = next(r for r in table["rows"] if r["category"] == "Causal Reasoning (RAG)")
        assert causal["grader"] == "conclusion + points (keywords)"


def test_a_grader_that_cannot_run_stops_the_evaluation_before_any_model_is_asked(tmp_path, monkeypatch):
    import shutil

    from hubkit.bench import sandbox
    from hubkit.bench.evaluate import Target, evaluate
    from hubkit.bench.graders import GraderUnavailable
    from hubkit.config import Benchmark
    from hubkit.offline.teacher import BackgroundTeacher

    monkeypatch.setattr(sandbox, "_LAUNCHER", ([shutil.which("false")], []))  # a sandbox that cannot start
    with BackgroundTeacher() as t:
        bench = Benchmark(name="bench", backend=EvalBackend(kind="openai_compat", base_url=t.url))
        with pytest.raises(GraderUnavailable, match="python grader: the sandbox did not start"):
            evaluate(bench, "org/bench", [Target("org/m", "m", "m")], tmp_path, lambda m: None)
        assert httpx.get(t.url.removesuffix("/v1") + "/stats").json()["requests"] == 0
    assert not list(tmp_path.glob("*.jsonl"))  # no sample was journaled as failed
    r = run_cli("bench", "selfcheck")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "python grader" in r.stderr, r.stderr
