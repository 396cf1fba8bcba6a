"""The offline kit: what the demo needs to run with no network, and tests use too.

A tiny random Qwen3 causal LM and a Qwen-style tokenizer, built in seconds (the demo's base,
`base_fixture`), and the scripted OpenAI-compatible teacher (`hubkit.offline.teacher`, a
teacher's `backend: scripted`). Nothing here touches the network: the tokenizer is a
byte-level BPE trained on a built-in corpus.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]  # ordinary added tokens, as in Qwen3 (kept by decode)

# Qwen3-Thinking style: the generation prompt opens a <think> block; reasoning of the final
# assistant turn is kept (as in training data), earlier turns keep only their answer.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' %}"
    "{%- set content = message.content %}"
    "{%- set reasoning = message.reasoning_content | default('', true) %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.last and reasoning %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning + '\\n</think>\\n\\n'"
    " + content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
)

_CORPUS = [
    "Let me think step by step. First, separate the constraints; then check each case.",
    "The answer is 42 because 6 times 7 equals 42. Therefore the result is \\boxed{42}.",
    "SELECT name, COUNT(*) FROM orders JOIN users ON orders.user_id = users.id GROUP BY name;",
    "def fix(xs):\n    return sorted(set(xs))\n\nassert fix([3, 1, 3]) == [1, 3]",
    "Plan: move A to B, then B to C. The schedule is optimal with cost 7.",
    "Causal reasoning: the rain caused the flood, which closed the road, delaying the truck.",
    "Write a poem of four lines where each line starts with the letters of CODE.",
    "Ethics: weigh the duty to inform against the harm of disclosure; recommend consent.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Wait, no. Let me re-check: 17 is prime, 21 = 3 * 7 is not. So the count is 4.",
    "user assistant system think answer question reasoning model distilled merged",
]


@lru_cache(maxsize=4)
def _tokenizer_json(vocab_size: int) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    tok.add_tokens(THINK_TOKENS)
    return tok.to_str()


def tiny_tokenizer(vocab_size: int = 400):
    """A Qwen-style fast tokenizer (ChatML + <think>), trained offline and deterministic."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json(vocab_size)),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
    )


def tiny_qwen3_config(
    vocab_size: int,
    *,
    layers: int = 4,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    heads: int = 4,
    kv_heads: int = 2,
    tie_word_embeddings: bool = True,
    **extra: Any,
):
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden_size // heads,
        max_position_embeddings=1024,
        tie_word_embeddings=tie_word_embeddings,  # Qwen3-4B ties them: no lm_head tensor
        **extra,
    )


def tiny_qwen3(seed: int = 0, *, dtype: str = "bfloat16", tokenizer=None, **config: Any):
    """A random Qwen3ForCausalLM; the same seed and config give bit-identical weights."""
    import torch
    from transformers import Qwen3ForCausalLM

    tokenizer = tokenizer or tiny_tokenizer()
    cfg = tiny_qwen3_config(
        len(tokenizer),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **config,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(getattr(torch, dtype)).eval()


def save_tiny_qwen3(path: Path | str, seed: int = 0, *, dtype: str = "bfloat16", **config: Any) -> Path:
    """Write model + tokenizer with `save_pretrained`; loads back with the Auto classes."""
    from transformers.utils import logging

    logging.disable_progress_bar()  # a fixture of a few KB needs no progress bar
    path = Path(path)
    tokenizer = tiny_tokenizer()
    model = tiny_qwen3(seed, dtype=dtype, tokenizer=tokenizer, **config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
