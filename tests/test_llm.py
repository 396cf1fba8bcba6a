"""The one chat client against the scripted OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from hubkit.config import ChatEndpoint
from hubkit.errors import HubkitError, UsageError
from hubkit.llm import ChatRequest, derive_seed, split_reasoning
from hubkit.llm.client import ChatClient
from hubkit.offline.teacher import BackgroundTeacher, Options
from tests.conftest import NO_WAIT


def _requests(n: int, max_tokens: int = 400) -> list[ChatRequest]:
    return [
        ChatRequest(
            f"r{i}",
            [{"role": "user", "content": f"What is {i} + 7? Explain."}],
            derive_seed(0, i),
            0.6,
            0.95,
            max_tokens,
        )
        for i in range(n)
    ]


def _ask(url: str, reqs: list[ChatRequest], **endpoint) -> dict:
    out = {}
    client = ChatClient(ChatEndpoint(model="t", base_url=url, **endpoint), backoff=NO_WAIT)
    client.map(reqs, lambda r, res: out.__setitem__(r.key, res))
    return out


def _stats(server: BackgroundTeacher) -> dict:
    return httpx.get(server.url.removesuffix("/v1") + "/stats").json()


@pytest.mark.parametrize(
    ("text", "opened", "expected"),
    [
        ("<think>\nstep 1\n</think>\n\nAnswer: 4", False, ("step 1", "Answer: 4", True)),
        ("step 1\n</think>\n\nAnswer: 4", True, ("step 1", "Answer: 4", True)),
        # Cut inside the reasoning: a trace that mentions the answer is still no answer.
        ("<think>\nso the answer is 4, Answer: 4", False, ("so the answer is 4, Answer: 4", "", False)),
        ("so the answer is 4", True, ("so the answer is 4", "", False)),
        # The template pre-filled <think>; only the closing tag shows.
        ("the sum is 4\n</think>\nAnswer: 4", False, ("the sum is 4", "Answer: 4", True)),
        # A tag mentioned inside an answer is not reasoning.
        ("Use a <think> tag to open reasoning.", False, (None, "Use a <think> tag to open reasoning.", True)),
        ("Plain answer: 4", False, (None, "Plain answer: 4", True)),
    ],
)
def test_split_reasoning(text, opened, expected):
    assert split_reasoning(text, opened) == expected


def test_seeds_depend_on_what_is_asked_not_on_position():
    assert derive_seed(0, "case-1", 0) == derive_seed(0, "case-1", 0)
    assert len({derive_seed(0, "case-1", s) for s in range(50)}) == 50
    assert derive_seed(0, "case-1", 0) != derive_seed(1, "case-1", 0)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "inline"])
@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_and_answer_apart_in_every_form(field, stream):
    with BackgroundTeacher(Options(reasoning_field=field)) as server:
        res = _ask(server.url, _requests(3), stream=stream)
    for r in res.values():
        assert r.finish_reason == "stop" and r.closed
        assert r.reasoning.startswith("The question asks:") and "<think>" not in r.reasoning
        assert r.content.startswith("The result is \\boxed{") and "</think>" not in r.content
        assert r.completion_tokens == len(r.reasoning.split()) + len(r.content.split())
        assert r.reasoning_tokens == len(r.reasoning.split())
    assert "\\boxed{7}" in res["r0"].content and "\\boxed{9}" in res["r2"].content


@pytest.mark.parametrize("field", ["reasoning_content", "inline"])
@pytest.mark.parametrize("stream", [False, True])
def test_cut_off_reasoning_has_no_answer(field, stream):
    with BackgroundTeacher(Options(reasoning_field=field)) as server:
        res = _ask(server.url, _requests(2, max_tokens=5), stream=stream)
    for r in res.values():
        assert r.truncated and not r.closed and r.content == ""
        assert len(r.reasoning.split()) == 5


@pytest.mark.parametrize("stream", [False, True])
def test_faults_are_survived_and_nothing_is_lost_or_doubled(stream):
    faults = {"429": 0.15, "500": 0.15, "drop": 0.15}
    with BackgroundTeacher(Options()) as clean:
        want = _ask(clean.url, _requests(30), stream=stream)
    with BackgroundTeacher(Options(faults=faults, seed=3)) as flaky:
        got = _ask(flaky.url, _requests(30), stream=stream)
        stats = _stats(flaky)
    assert stats["requests"] > 30  # faults really happened
    assert sorted(stats["answered"].values()) == [1] * 30  # each question answered once
    assert {k: (r.reasoning, r.content) for k, r in got.items()} == {
        k: (r.reasoning, r.content) for k, r in want.items()
    }


def test_a_slow_answer_times_out_and_is_asked_again():
    with BackgroundTeacher(Options(faults={"slow": 0.5}, slow=3.0, seed=1)) as server:
        res = _ask(server.url, _requests(6), timeout=0.5)
        stats = _stats(server)
    assert len(res) == 6 and stats["requests"] > 6


def test_retry_after_is_honoured():
    import openai

    client = ChatClient(ChatEndpoint(model="t", base_url="http://127.0.0.1:9/v1"))
    req = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    resp = httpx.Response(429, headers={"Retry-After": "7"}, request=req)
    assert client._retry_wait(openai.RateLimitError("slow down", response=resp, body=None), 0) >= 7
    bad = httpx.Response(400, request=req)
    assert client._retry_wait(openai.BadRequestError("bad", response=bad, body=None), 0) is None


def test_concurrency_is_bounded():
    with BackgroundTeacher(Options(latency=0.25)) as server:
        _ask(server.url, _requests(40), concurrency=16)
        assert _stats(server)["max_in_flight"] == 16
    with BackgroundTeacher(Options(latency=0.25)) as server:
        _ask(server.url, _requests(12), concurrency=3)
        assert _stats(server)["max_in_flight"] == 3


def test_provider_switches_are_config():
    # Only streams, fixed temperature, extra_body: each a 400 until the config says so.
    opts = Options(only_stream=True, fixed_temperature=1.0)
    with BackgroundTeacher(opts) as server:
        with pytest.raises(HubkitError, match=r"HTTP 400: .*only supports stream=true"):
            _ask(server.url, _requests(1))
        with pytest.raises(HubkitError, match=r"HTTP 400: .*temperature"):
            _ask(server.url, _requests(1), stream=True)
        res = _ask(server.url, _requests(2), stream=True, temperature=1.0, extra_body={"enable_thinking": True})
        assert len(res) == 2
        assert _stats(server)["extra_body"] == {"enable_thinking": True}


def test_key_from_the_environment_and_never_in_errors(monkeypatch):
    secret = "sk-test-0123456789abcdef"
    with BackgroundTeacher(Options(api_key=secret)) as server:
        monkeypatch.setenv("TEACHER_KEY", secret)
        assert len(_ask(server.url, _requests(2), api_key_env="TEACHER_KEY")) == 2
        monkeypatch.setenv("TEACHER_KEY", "sk-wrong-0123456789abcdef")
        with pytest.raises(HubkitError) as err:
            _ask(server.url, _requests(1), api_key_env="TEACHER_KEY")
    msg = str(err.value)
    assert "\n" not in msg and "HTTP 401" in msg and server.url in msg and "check TEACHER_KEY" in msg
    assert "sk-" not in msg
    monkeypatch.delenv("TEACHER_KEY")
    with pytest.raises(UsageError, match="environment variable TEACHER_KEY is not set"):
        ChatClient(ChatEndpoint(model="t", base_url="http://127.0.0.1:9/v1", api_key_env="TEACHER_KEY"))


def test_a_dead_endpoint_is_one_line_after_retries():
    with pytest.raises(HubkitError) as err:
        _ask("http://127.0.0.1:9/v1", _requests(1), max_retries=1)
    assert "\n" not in str(err.value) and "gave up after 2 attempts" in str(err.value)


def test_requests_and_tokens_per_period_are_limited():
    import asyncio
    import time

    from hubkit.llm.client import _Window

    async def run(window: _Window, n: int, tokens: int = 0) -> float:
        start = time.monotonic()
        for _ in range(n):
            await window.acquire()
            window.spend(tokens)
        return time.monotonic() - start

    assert asyncio.run(run(_Window(rpm=3, tpm=None, period=0.5), 3)) < 0.2  # within the limit: no wait
    assert asyncio.run(run(_Window(rpm=3, tpm=None, period=0.5), 7)) >= 1.0  # 3 + 3 + 1: two full periods
    assert asyncio.run(run(_Window(rpm=None, tpm=100, period=0.5), 3, tokens=60)) >= 0.5  # 60 + 60 > 100


@pytest.mark.parametrize(
    ("text", "opened", "expected"),
    [
        ("<think>a</think>b</think>c", False, ("a</think>b", "c", True)),  # closed twice: the answer follows the last
        ("x <think>y", False, (None, "x <think>y", True)),  # a tag inside an answer is text
        ("x <think>y</think>z", False, ("x <think>y", "z", True)),  # a close ends whatever came before
        ("  \n<think>\nonly thinking", False, ("only thinking", "", False)),
        ("pre-filled</think>answer", True, ("pre-filled", "answer", True)),
        ("still thinking </think", True, ("still thinking </think", "", False)),
    ],
)
def test_one_splitter_for_graders_evaluation_space_and_training(text, opened, expected):
    """hubkit.llm.reasoning is the one rule: the graders' answer extraction is the same function."""
    from hubkit.bench.extract import strip_reasoning
    from hubkit.llm.reasoning import opens_thinking

    assert split_reasoning(text, opened) == expected
    if not opened:
        assert strip_reasoning(text) == expected[1]
    assert opens_thinking("<|im_start|>assistant\n<think>\n") and not opens_thinking("<|im_start|>assistant\n")
