"""Where this process stands under a launcher (`accelerate launch`, `torchrun`), decided here once.

Launchers set RANK and WORLD_SIZE for every process they start; a plain `hubkit` run has
neither and is the only, so the main, process.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def under_launcher() -> bool:
    return world_size() > 1
