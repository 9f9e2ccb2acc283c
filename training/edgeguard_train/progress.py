"""A dependency-free progress bar on stderr (tqdm is optional, never required), and the stages' summary line."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    """``with Progress("label", total) as p: p.update()`` draws a bar when stderr is a terminal, nothing otherwise."""

    def __init__(self, label: str, total: Optional[int] = None, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._enabled = hasattr(stream, "isatty") and stream.isatty()
        self._start = time.monotonic()
        self._last_draw = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._enabled and (now - self._last_draw >= 0.1 or self.done == self.total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            width = 30
            filled = min(width, self.done * width // self.total)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            line = (f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                    f"{100.0 * self.done / self.total:5.1f}% {rate:7.1f}/s ETA {eta:5.0f}s")
        else:
            line = f"\r{self.label} {self.done} {rate:7.1f}/s"
        self._stream.write(line)
        self._stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


def summary(stage: str, **fields: object) -> str:
    """The one-line summary every stage prints last, e.g. ``augment: written=120 skipped=30 seconds=12.5``."""
    parts = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
    return f"{stage}: {parts}"
