"""Distillation training: SFT on reasoning traces with TRL + PEFT (LoRA, QLoRA; Unsloth on CUDA).

`recipe` reads and checks the YAML recipe, `examples` turns dataset rows into prompt/completion
tokens, `sft` runs the trainer (checkpoints, resume, several processes) and merges the adapter.
Nothing here imports the artifact graph.
"""

import logging

# Importing peft imports bitsandbytes, whose CPU backend warns on import that the optional
# `kernels` package (a faster 4-bit matmul fetched from the Hub) is missing, then falls back to
# its own library. Set before anything here imports peft: a notice, never a problem, on any run.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
