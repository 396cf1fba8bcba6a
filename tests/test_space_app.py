"""The Space's own modules (spaces/compare), run here as the Space runs them: arena scoring,
the board read from a real local hub, and the engines with real models and a real server."""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """arena, board and engines imported from the app folder laid out as hubkit builds it."""
    import shutil

    from hubkit.artifacts.space import SHARED

    folder = tmp_path_factory.mktemp("space") / "app"
    shutil.copytree(ROOT / "spaces" / "compare", folder)
    for name, src in SHARED.items():
        shutil.copy2(src, folder / name)
    sys.path.insert(0, str(folder))
    import arena
    import board
    import engines

    yield SimpleNamespace(arena=arena, board=board, engines=engines)
    sys.path.remove(str(folder))
    for name in ("arena", "board", "engines", "reasoning"):
        sys.modules.pop(name, None)


def vote(a, b, choice, id_=None):
    return {"id": id_ or f"{random.random()}", "models": [a, b], "vote": choice}


# -- arena ------------------------------------------------------------------------------------


def test_bradley_terry_recovers_known_strengths_with_intervals_around_them(space):
    rng = random.Random(1)
    strength = {"x": 4.0, "y": 2.0, "z": 1.0}
    votes = []
    for i in range(600):
        a, b = rng.sample(list(strength), 2)
        pa = strength[a] / (strength[a] + strength[b])
        votes.append(vote(a, b, "a" if rng.random() < pa else "b", str(i)))
    rows = space.arena.scoreboard(votes, ["z", "y", "x"], rounds=60)
    assert [r["model"] for r in rows] == ["x", "y", "z"]
    for r in rows:
        assert r["low"] <= r["score"] <= r["high"] and r["votes"] == sum(r["model"] in v["models"] for v in votes)
    # 4:1 in strength is 400*log10(4) ~ 241 points; the estimate lands near it.
    assert 180 < rows[0]["score"] - rows[2]["score"] < 300


def test_an_undefeated_model_stays_finite_and_an_unseen_one_sits_between(space):
    votes = [vote("x", "y", "a", str(i)) for i in range(30)]
    scores = space.arena.bradley_terry(votes, ["x", "y", "z"])
    assert all(abs(s) < 1e4 for s in scores.values())
    assert scores["x"] > scores["z"] > scores["y"]


def test_a_replayed_vote_counts_once_and_malformed_votes_do_not_count(space):
    honest = [vote("x", "y", "a", "1"), vote("x", "y", "b", "2"), vote("y", "x", "tie", "3")]
    replayed = honest + [vote("y", "x", "a", "2")] * 50  # one battle id sent fifty times
    junk = [vote("x", "y", "maybe"), vote("x", "x", "a"), vote("x", "w", "a"), {"id": "j", "models": ["x", "y"]}]
    base = space.arena.scoreboard(honest, ["x", "y"], rounds=20)
    assert space.arena.scoreboard(honest + junk, ["x", "y"], rounds=20) == base
    fooled = space.arena.scoreboard(replayed, ["x", "y"], rounds=20)
    assert {r["model"]: r["votes"] for r in fooled} == {"x": 3, "y": 3}
    assert abs(fooled[0]["score"] - fooled[1]["score"]) < 150  # not fifty wins for y


def test_ties_and_both_bad_are_half_a_win_each_way(space):
    votes = [vote("x", "y", v, str(i)) for i, v in enumerate(["tie", "both_bad"] * 10)]
    scores = space.arena.bradley_terry(votes, ["x", "y"])
    assert scores["x"] == pytest.approx(scores["y"]) == pytest.approx(1000.0)


def test_rate_limit_is_per_key_and_window(space):
    limit = space.arena.RateLimit(2, 0.3)
    assert [limit.allow("s1") for _ in range(3)] == [True, True, False]
    assert limit.allow("s2")
    time.sleep(0.35)
    assert limit.allow("s1")


def test_votes_survive_a_restart_whatever_the_answers_hold(space, hub_endpoint, tmp_path):
    """Answers hold any text a model writes, U+2028 and U+0085 included: a restarted Space reads
    every vote back from the dataset exactly."""
    hub = hub_endpoint
    log = space.arena.VoteLog("ns/votes", tmp_path / "v1", 60, hub.token)
    odd = ["line\u2028separator", "next\x85line", "para\u2029graph", "tab\tand \u00e9"]
    sent = [{**vote("x", "y", "a", str(i)), "answers": [text, text[::-1]]} for i, text in enumerate(odd)]
    for v in sent:
        log.add(v)
    log.scheduler.trigger().result()  # what the scheduler does every `every_minutes`
    restarted = space.arena.VoteLog("ns/votes", tmp_path / "v2", 60, hub.token)
    assert restarted.problem is None and restarted.votes == sent
    for s in (log.scheduler, restarted.scheduler):
        s.stop()


# -- columns ----------------------------------------------------------------------------------


def test_a_column_splits_inline_reasoning_as_it_streams_and_counts_tokens(space):
    c = space.engines.Column("m", opened=True)
    for piece in ["Let me ", "think.", "\n</think>", "\n\nThe answer", " is 42."]:
        c.add(piece, tokens=2)
    assert c.parts() == ("Let me think.", "The answer is 42.", True)
    assert c.reasoning_tokens == 6 and c.tokens == 10  # the tokens before the first answer text
    c.finish, c.ended = "stop", time.monotonic()
    assert "6 reasoning + 4 answer tokens" in c.stats() and "TTFT" in c.stats()


def test_time_to_first_token_counts_a_token_whose_text_is_not_out_yet(space):
    c = space.engines.Column("m", opened=True)
    time.sleep(0.05)
    c.add("", tokens=1)  # a word is still forming: no text yet, but the model has answered
    first = c.first_token
    time.sleep(0.3)
    c.add("Hello ", tokens=1)
    assert first is not None and c.first_token == first and first - c.started < 0.2


def test_a_column_that_never_leaves_think_has_no_answer(space):
    c = space.engines.Column("m", opened=True)
    c.add("I keep thinking about </thin", tokens=5)  # a half tag is not a close
    c.finish = "length"
    reasoning, answer, closed = c.parts()
    assert answer == "" and not closed and reasoning.startswith("I keep")


def test_a_column_with_reasoning_sent_apart(space):
    c = space.engines.Column("m")
    c.add(reasoning="Because 6*7", tokens=1)
    assert c.parts()[1:] == ("", False)
    c.add("42", tokens=1)
    assert c.parts() == ("Because 6*7", "42", True) and c.reasoning_tokens == 1


# -- board ------------------------------------------------------------------------------------


ROWS = [
    {"model": f"ns/{m}", "case": cid, "category": cat, "level": lvl, "sample": 0, "prompt": prompt, "passed": ok,
     "grader": "numeric", "detail": detail, "reasoning": "r", "answer": ans, "closed": True, "finish_reason": "stop"}
    for cid, cat, lvl, prompt in [("mat-01", "Math", 1, "What is 2+2?"), ("mat-02", "Math", 2, "Sum of 1..10?"),
                                  ("log-01", "Logic", 1, "Who sits where?")]
    for m, ok, ans, detail in [("a", True, "4", "expected 4, got 4"),
                               ("b", False, "<script>alert(1)</script>", "got <img src=x onerror=alert(1)>")]
]  # fmt: skip


def test_cases_are_found_by_category_level_or_text_and_shown_escaped(space):
    b = space.board.Board(rows=ROWS, cases={"mat-01": {"reference": "4 <b>exactly</b>"}})
    assert b.models == ["ns/a", "ns/b"] and b.categories == ["Math", "Logic"]
    assert space.board.find_cases(b, "Math", 2) == ["mat-02"]
    assert space.board.find_cases(b, "Math", None) == ["mat-01", "mat-02"]
    assert space.board.find_cases(b, "Logic", 1, search="sum of") == ["mat-02"]  # search wins over the filters
    html = space.board.case_html(b, "mat-01")
    assert "<script>" not in html and "<img" not in html and "<b>exactly" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and html.count("class='case-model'") == 2
    assert "✅ pass" in html and "❌ fail" in html and "4 &lt;b&gt;exactly&lt;/b&gt;" in html
    assert "No case matches" in space.board.case_html(b, "nope")


def test_the_board_says_why_it_has_nothing_to_show(space, hub_endpoint, api):
    hub = hub_endpoint
    load = space.board.load_board
    assert "No evaluation is configured" in load(None, None).problem
    assert "No evaluation has been published yet" in load("ns/missing-details", None, hub.token).problem
    api.create_repo("ns/old-details", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="results.json", repo_id="ns/old-details", repo_type="dataset")
    assert "has no summary.json" in load("ns/old-details", None, hub.token).problem
    api.upload_file(path_or_fileobj=b'{"models": []}', path_in_repo="summary.json", repo_id="ns/old-details",
                    repo_type="dataset")  # fmt: skip
    assert "has no per-sample details" in load("ns/old-details", None, hub.token).problem
    # A hub that stops answering is not an old evaluation: the board says it could not read it.
    hub.stop()
    down = load("ns/old-details", None, hub.token).problem
    assert "could not be read" in down and "older hubkit" not in down
    assert space.board.benchmark_markdown(load(None, None)).startswith("_No evaluation")


# -- engines ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "inline"])
def test_an_endpoint_streams_every_column_at_once(space, field):
    from hubkit.offline.teacher import BackgroundTeacher, Options

    # Paced like a model (a piece every 20 ms), so both streams surely overlap on a busy machine.
    with BackgroundTeacher(Options(reasoning_field=field, latency=0.02, token_delay=0.02)) as teacher:
        engine = space.engines.EndpointEngine(teacher.url, None, {"ns/a": "teacher-a"})
        s = space.engines.Sampling(temperature=0.6, max_new_tokens=256)
        msgs = [{"role": "user", "content": "What is 6 times 7?"}]
        stream = space.engines.stream_columns(engine, ["ns/a", "ns/b"], msgs, s, threading.Event(), 0.01)
        snapshots = [[(c.tokens, c.done) for c in cols] for cols in stream]
    final = snapshots[-1]
    assert all(done for _, done in final)
    # Both columns were growing in the same snapshot before either finished: streamed together.
    assert any(all(n > 0 and not done for n, done in snap) for snap in snapshots)


def test_local_models_stream_together_stop_and_survive_a_killed_worker(space, tiny_pair):
    models = [str(p) for p in tiny_pair.values()]
    engine = space.engines.LocalEngine(models)
    msgs = [{"role": "user", "content": "What is 6 times 7?"}]
    try:
        engine.warm()  # as the app does at start-up: both workers load their model
        assert all(w.ready.wait(120) for w in engine.workers.values())
        s = space.engines.Sampling(temperature=0.7, max_new_tokens=96)
        cols = list(space.engines.stream_columns(engine, models, msgs, s, threading.Event()))[-1]
        assert all(c.finish in ("stop", "length") and c.tokens > 0 for c in cols)
        assert max(c.first_token for c in cols) < min(c.ended for c in cols)  # nobody waited for the other

        # Thinking budget: the template opens <think>; after 8 tokens hubkit closes it and the model answers.
        # Greedy: at temperature > 0 a random tiny model can close <think> by itself first (a flake seen in CI).
        budget = space.engines.Sampling(temperature=0, max_new_tokens=40, thinking_budget=8)
        c = list(space.engines.stream_columns(engine, models[:1], msgs, budget, threading.Event()))[-1][0]
        assert c.forced_close and c.parts()[2] and c.reasoning_tokens <= 12 and c.tokens > 8

        stop = threading.Event()
        long = space.engines.Sampling(temperature=0.7, max_new_tokens=4000)
        t0 = time.monotonic()
        for cols in space.engines.stream_columns(engine, models, msgs, long, stop):
            if all(c.tokens for c in cols):
                stop.set()
        assert [c.finish for c in cols] == ["cancelled", "cancelled"] and time.monotonic() - t0 < 30
        assert all(c.tokens < 4000 for c in cols)

        # kill -9 the worker mid-answer: that column reports it, the other finishes, the next ask restarts it.
        worker = engine.workers[models[0]]
        killed = False
        for cols in space.engines.stream_columns(engine, models, msgs, space.engines.Sampling(max_new_tokens=400),
                                                 threading.Event()):  # fmt: skip
            if not killed and cols[0].tokens:
                os.kill(worker.proc.pid, signal.SIGKILL)
                killed = True
        assert cols[0].finish == "error" and "exit code -9" in cols[0].error
        assert cols[1].finish in ("stop", "length")
        again = list(space.engines.stream_columns(engine, models[:1], msgs, s, threading.Event()))[-1][0]
        assert again.finish in ("stop", "length") and again.tokens > 0
    finally:
        for w in engine.workers.values():
            if w.proc and w.proc.poll() is None:
                w.proc.kill()


def test_every_token_is_reported_when_made_and_control_tokens_are_not_text(space, tiny_pair, tmp_path):
    """Tokens are reported as they are made, text or not (the text streamer holds a word back
    until it ends); the chat template's control tokens never reach the page."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # A tiny model that writes control tokens often, on any machine: their (tied) embeddings scaled
    # up make their logits stand out: several in every hundred tokens.
    src = str(tiny_pair[next(iter(tiny_pair))])
    chatty, tok = AutoModelForCausalLM.from_pretrained(src), AutoTokenizer.from_pretrained(src)
    with torch.no_grad():
        for t in tok.added_tokens_decoder.values():
            if t.special:
                chatty.model.embed_tokens.weight[tok.convert_tokens_to_ids(t.content)] *= 4
    chatty.save_pretrained(tmp_path / "chatty")
    tok.save_pretrained(tmp_path / "chatty")
    model, tokenizer = space.engines.load(str(tmp_path / "chatty"))
    msgs = [{"role": "user", "content": "What is 6 times 7?"}]
    s = space.engines.Sampling(temperature=0.7, top_p=0.95, max_new_tokens=96)
    torch.manual_seed(0)
    events = list(space.engines.generate(model, tokenizer, msgs, s, cancelled=lambda: False))
    deltas = [e for e in events if e["event"] == "delta"]
    made = events[-1]["tokens"]
    assert events[-1]["event"] == "done" and made > 8
    assert [e["tokens"] for e in deltas if e["tokens"]] == [1] * made  # one report per token, as it is made
    text = "".join(e["text"] for e in deltas)
    controls = [t.content for t in tokenizer.added_tokens_decoder.values() if t.special]
    assert text.strip() and not [c for c in controls if c in text]
    # The same generation, raw: the model did write control tokens (<|im_start|>), so the filter had work.
    prompt = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    out = model.generate(**ids, max_new_tokens=96, do_sample=True, temperature=0.7, top_p=0.95)
    raw = tokenizer.decode(out[0, ids["input_ids"].shape[1] :])
    assert any(c in raw for c in controls), raw


FAKE_SPACES = """
import pickle
calls = []

def GPU(duration=60):
    def wrap(fn):
        pickle.dumps(fn)  # ZeroGPU runs the function in a worker process: it must pickle by reference
        def call(*args, **kwargs):
            pickle.dumps((args, kwargs))  # and so must its arguments
            calls.append(args[0])
            return fn(*args, **kwargs)
        return call
    return wrap
"""


def test_on_zerogpu_each_generation_goes_through_spaces_gpu_and_stop_ends_it(space, tiny_pair, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    """ZeroGPU hardware is not here: a stand-in `spaces` package checks what ZeroGPU needs (a module-level
    function and arguments that pickle); the engine, the models and the generation are real."""
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    models = [str(p) for p in tiny_pair.values()]
    engine = space.engines.make_engine({"backend": {"kind": "local"}}, models)
    assert type(engine).__name__ == "ZeroGpuEngine"
    msgs = [{"role": "user", "content": "What is 6 times 7?"}]
    s = space.engines.Sampling(temperature=0.7, max_new_tokens=48)
    cols = list(space.engines.stream_columns(engine, models, msgs, s, threading.Event()))[-1]
    assert all(c.finish in ("stop", "length") and c.tokens > 0 and c.first_token for c in cols)
    assert sorted(sys.modules["spaces"].calls) == sorted(models)

    # Stop ends the generation itself (its thread), not only the column.
    before = threading.active_count()
    stop = threading.Event()
    long = space.engines.Sampling(temperature=0.7, max_new_tokens=4000)
    for cols in space.engines.stream_columns(engine, models[:1], msgs, long, stop):
        if cols[0].tokens:
            stop.set()
    assert cols[0].finish == "cancelled"
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before, threading.enumerate()


def test_coalesced_deltas_keep_every_character_token_and_the_forced_close(space):
    events = [{"event": "start", "opened": True}]
    events += [{"event": "delta", "text": f"t{i} ", "tokens": 1} for i in range(50)]
    events += [{"event": "delta", "text": "\n</think>\n\n", "tokens": 0, "forced": True}]
    events += [{"event": "delta", "text": "a", "tokens": 1}, {"event": "done", "finish": "stop"}]
    out = list(space.engines.coalesce(iter(events), interval=10.0))  # nothing flushes on time here
    assert [e["event"] for e in out] == ["start", "delta", "delta", "delta", "done"]
    assert out[1]["text"] == "".join(f"t{i} " for i in range(50)) and out[1]["tokens"] == 50
    assert out[2].get("forced") and out[3] == {"event": "delta", "text": "a", "tokens": 1}
    assert len(list(space.engines.coalesce(iter(events), interval=0.0))) == len(events)


def test_a_model_that_cannot_load_is_an_error_in_its_column_not_a_hang(space, tmp_path):
    engine = space.engines.LocalEngine([str(tmp_path / "no-such-model")])
    s = space.engines.Sampling(max_new_tokens=8)
    t0 = time.monotonic()
    (col,) = list(space.engines.stream_columns(engine, list(engine.workers), [{"role": "user", "content": "hi"}], s,
                                               threading.Event()))[-1]  # fmt: skip
    assert col.finish == "error" and "stopped (exit code 1" in col.error and time.monotonic() - t0 < 120
