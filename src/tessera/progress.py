"""The progress-callback protocol: library loops report, the CLI draws.

Library code never prints (STYLE habit 8). A long loop takes an optional ``progress`` callable
and calls it as ``progress(stage, done, total)``; the CLI passes one that drives a Rich bar.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...
