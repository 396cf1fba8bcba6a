from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hubkit.offline import save_tiny_qwen3, tiny_qwen3, tiny_tokenizer


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_tiny_qwen3(tmp_path_factory.mktemp("tiny"), seed=5, layers=3)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = (_weights(tiny_qwen3(s, layers=2)) for s in (1, 1, 2))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["model.layers.0.mlp.up_proj.weight"], c["model.layers.0.mlp.up_proj.weight"])


def test_seeding_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_qwen3(9, layers=1)
    assert torch.equal(torch.rand(3), expected)


def test_tokenizer_is_deterministic_and_round_trips():
    t1, t2 = tiny_tokenizer(), tiny_tokenizer()
    assert t1.get_vocab() == t2.get_vocab()
    text = "Let me think: SELECT 42; <think>x</think> done"
    ids = t1(text)["input_ids"]
    assert t1.decode(ids) == text
    assert t1.convert_ids_to_tokens(t1("<think>")["input_ids"]) == ["<think>"]


def test_saved_fixture_loads_with_auto_classes_and_generates(saved):
    tok = AutoTokenizer.from_pretrained(saved)
    model = AutoModelForCausalLM.from_pretrained(saved)
    assert model.config.model_type == "qwen3"
    assert model.config.num_hidden_layers == 3
    assert model.dtype == torch.bfloat16
    msgs = [{"role": "user", "content": "What is 6*7?"}]
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=6, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 6 or tok.eos_token_id in out[0].tolist()
    reloaded = _weights(AutoModelForCausalLM.from_pretrained(saved))
    original = _weights(tiny_qwen3(5, layers=3))
    assert all(torch.equal(reloaded[k], original[k]) for k in original)


def test_tied_embeddings_like_qwen3_4b(saved):
    from safetensors import safe_open

    with safe_open(saved / "model.safetensors", "pt") as f:
        names = list(f.keys())
    assert "model.embed_tokens.weight" in names
    assert not any(n.startswith("lm_head") for n in names)
    untied = tiny_qwen3(0, layers=1, tie_word_embeddings=False)
    assert "lm_head.weight" in untied.state_dict()


def test_chat_template_handles_think_blocks(saved):
    tok = AutoTokenizer.from_pretrained(saved)
    convo = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nold reasoning\n</think>\n\nA1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2", "reasoning_content": "new reasoning"},
    ]
    text = tok.apply_chat_template(convo, tokenize=False)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert "old reasoning" not in text  # earlier turns keep only their answer
    assert "<|im_start|>assistant\nA1<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n<think>\nnew reasoning\n</think>\n\nA2<|im_end|>\n")
    prompt = tok.apply_chat_template(convo[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n<think>\n")
